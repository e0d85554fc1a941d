#!/usr/bin/env node
// `npm run token -- <command>`: personal access tokens for Claude Code, Copilot, scripts
// and CI, in the local D1 database (the default) or the deployed one (--remote). The same
// rules as the account page: a token is printed once and only its SHA-256 is stored.
import { createHash, randomBytes } from "node:crypto";
import { CliError } from "./lib/cloudflare.mjs";
import { execute, isoTime, normalizeEmail, now, parseCommand, printTable, runCommand, sqlInt, sqlString, sqlValue } from "./lib/d1.mjs";

// Must match src/oauth/personal_token.rs.
const PREFIX = "mcp_pat_";
// The resource's scopes are the deployment's SCOPES (mcp:read and mcp:write without it);
// the protocol's own are never a personal token's.
const PROTOCOL_SCOPES = ["openid", "profile", "email", "offline_access"];
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/;
const EXPIRY_DAYS = [7, 30, 90];
const MAX_PER_USER = 50;
const MAX_NAME_CHARS = 100;

const USAGE = `Usage: npm run token -- <command> [options]

Commands:
  create --user EMAIL --name NAME --scope SCOPE [--scope SCOPE] [--expires 30d]
                        make a token and print it once; SCOPE is mcp:read or mcp:write
                        (or both, space separated); --expires is 7d, 30d (default), 90d
                        or never
  list [--user EMAIL]   the live tokens (never the tokens themselves): id, owner, name,
                        scopes, created, expires, last used
  revoke <id>           stop a token at once (ids are in the list)

Options:
  --local               the local database that \`npm run dev\` uses (the default)
  --remote              the deployed D1 database
  --persist-to DIR      the local database's directory (only with --local)
`;

const COMMANDS = {
  create: {
    positionals: [],
    options: { user: { type: "string" }, name: { type: "string" }, scope: { type: "string", multiple: true }, expires: { type: "string" } },
    required: ["user", "name", "scope"],
  },
  list: { positionals: [], options: { user: { type: "string" } } },
  revoke: { positionals: ["id"], options: {} },
};

function checkName(raw) {
  const name = String(raw).trim();
  if (!name) throw new CliError("Give the token a name, so you can tell it apart later.");
  if ([...name].length > MAX_NAME_CHARS) throw new CliError(`The name must be at most ${MAX_NAME_CHARS} characters.`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/u.test(name)) throw new CliError("The name must not contain control characters.");
  return name;
}

function checkScopes(values) {
  const words = values.flatMap((v) => v.split(/\s+/)).filter(Boolean);
  const bad = words.find((w) => !SCOPE_TOKEN.test(w) || PROTOCOL_SCOPES.includes(w));
  if (bad) throw new CliError(`'${bad}' is not a scope a personal token can have (give scopes of SCOPES; mcp:read and mcp:write without it).`);
  if (words.length === 0) throw new CliError("Give at least one --scope.");
  return [...new Set(words)].join(" ");
}

function expiresAt(raw, at) {
  const value = String(raw ?? "30d").trim().toLowerCase();
  if (value === "never" || value === "none") return null;
  const days = Number(value.replace(/d$/, ""));
  if (!EXPIRY_DAYS.includes(days)) throw new CliError("--expires must be 7d, 30d, 90d or never.");
  return at + days * 86_400;
}

async function create(target, opts) {
  const email = normalizeEmail(opts.user);
  const name = checkName(opts.name);
  const scope = checkScopes(opts.scope);
  const at = now();
  const expires = expiresAt(opts.expires, at);
  const token = PREFIX + randomBytes(32).toString("base64url");
  const hash = createHash("sha256").update(token).digest("base64url");
  const id = "pt_" + randomBytes(9).toString("base64url");
  const [users, inserted] = await execute(
    target,
    `SELECT id, disabled_at FROM users WHERE email = ${sqlString(email)}; ` +
      "INSERT INTO personal_tokens (id, user_id, name, token_hash, scope, created_at, expires_at) " +
      `SELECT ${sqlString(id)}, u.id, ${sqlString(name)}, ${sqlString(hash)}, ${sqlString(scope)}, ${sqlInt(at)}, ${sqlValue(expires)} ` +
      `FROM users u WHERE u.email = ${sqlString(email)} AND u.disabled_at IS NULL AND ` +
      `(SELECT COUNT(*) FROM personal_tokens WHERE user_id = u.id AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${sqlInt(at)})) < ${MAX_PER_USER} ` +
      "RETURNING id; " +
      // Only when the token was made: the row exists only then.
      "INSERT INTO audit_events (at, event, outcome, user_id, client_id, ip, request_id, detail) " +
      `SELECT ${sqlInt(at)}, 'token_created', 'ok', user_id, NULL, NULL, 'cli', name FROM personal_tokens WHERE id = ${sqlString(id)}`,
  );
  if (users.length === 0) throw new CliError(`No user with the email ${email}.`);
  if (users[0].disabled_at != null) throw new CliError(`${email} is disabled; enable the account first.`);
  if (inserted.length === 0) throw new CliError(`${email} already has ${MAX_PER_USER} live tokens; revoke one first.`);
  process.stderr.write(
    `Created the token "${name}" (${id}) for ${email}: ${scope}, ${expires ? `expires ${isoTime(expires)} UTC` : "never expires"}.\n` +
      "Copy it now; it is not stored and will not be shown again:\n",
  );
  // The token alone on standard output, so `npm run --silent token -- create ... > file` works.
  process.stdout.write(token + "\n");
}

async function list(target, opts) {
  const at = now();
  const filter = opts.user ? `AND u.email = ${sqlString(normalizeEmail(opts.user))}` : "";
  const [rows] = await execute(
    target,
    "SELECT t.id, u.email, t.name, t.scope, t.created_at, t.expires_at, t.last_used_at FROM personal_tokens t " +
      `JOIN users u ON u.id = t.user_id WHERE t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ${sqlInt(at)}) ${filter} ` +
      "ORDER BY u.email, t.created_at DESC",
  );
  if (rows.length === 0) {
    console.log("No live personal access tokens.");
    return;
  }
  printTable(
    ["ID", "USER", "NAME", "SCOPES", "CREATED", "EXPIRES", "LAST USED"],
    rows.map((r) => [r.id, r.email, r.name, r.scope, isoTime(r.created_at), r.expires_at == null ? "never" : isoTime(r.expires_at), isoTime(r.last_used_at)]),
  );
  console.log(`${rows.length} token${rows.length === 1 ? "" : "s"} (times in UTC)`);
}

async function revoke(target, id) {
  if (!/^pt_[A-Za-z0-9_-]{1,40}$/.test(id)) throw new CliError(`Not a token id: ${id} (ids look like pt_… and are in \`npm run token -- list\`).`);
  const at = now();
  const [rows] = await execute(
    target,
    `UPDATE personal_tokens SET revoked_at = ${sqlInt(at)} WHERE id = ${sqlString(id)} AND revoked_at IS NULL RETURNING name; ` +
      // Only when this revoked it: an earlier revocation has an earlier time (run twice in
      // the same second, the second run finds nothing to revoke and fails before logging).
      "INSERT INTO audit_events (at, event, outcome, user_id, client_id, ip, request_id, detail) " +
      `SELECT ${sqlInt(at)}, 'token_revoked', 'ok', user_id, NULL, NULL, 'cli', name FROM personal_tokens WHERE id = ${sqlString(id)} AND revoked_at = ${sqlInt(at)}`,
  );
  if (rows.length === 0) throw new CliError(`No live token with the id ${id}.`);
  console.log(`Revoked the token "${rows[0].name}" (${id}); it is refused from now on.`);
}

async function main(argv) {
  const parsed = parseCommand(argv, COMMANDS, USAGE);
  if (parsed.help) return process.stdout.write(USAGE);
  const { command, args, opts, target } = parsed;
  if (command === "create") return create(target, opts);
  if (command === "list") return list(target, opts);
  return revoke(target, args[0]);
}

runCommand(main);
