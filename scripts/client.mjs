#!/usr/bin/env node
// `npm run client -- <command>`: OAuth clients registered by the operator, for ChatGPT's
// "custom OAuth client" setting and people's own apps. Stored where dynamic registration
// stores clients: D1 first (the copy /token reads), then KV (the fast copy /authorize
// reads). A secret is printed once; only its SHA-256 is stored. `hosts` sets the rules for
// the hosts of client ID metadata documents that the console's Apps page sets too.
import { createHash, randomBytes } from "node:crypto";
import { CliError } from "./lib/cloudflare.mjs";
import {
  auditSql, execute, isoTime, kvDelete, kvPut, markGrantsRevoked, now, parseCommand, printTable, runCommand, sqlInt, sqlString,
} from "./lib/d1.mjs";

// The rules of src/oauth/client.rs, src/oauth/scope.rs and src/config.rs.
const MAX_REDIRECT_URIS = 10;
const MAX_URI_LEN = 2000;
const MAX_NAME_LEN = 120;
// RFC 6749 §3.3's scope-token: printable ASCII but space, '"' and '\'. Which scopes exist
// is the deployment's SCOPES setting; a scope it does not declare is never granted.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/;
// The bounds of ACCESS_TOKEN_TTL and REFRESH_TOKEN_TTL.
const ACCESS_TTL = [5, 86_400];
const REFRESH_TTL = [60, 365 * 86_400];
const FORBIDDEN_SCHEMES = ["javascript", "data", "file", "vbscript", "about", "blob", "ftp", "ws", "wss"];
const AUTH_METHODS = ["client_secret_basic", "client_secret_post"];

const USAGE = `Usage: npm run client -- <command> [options]

Commands:
  add --name NAME --redirect-uri URI [--redirect-uri URI2 ...] [--confidential]
      [--auth-method client_secret_basic|client_secret_post] [--scope "S1 S2"]
      [--access-token-ttl 15m] [--refresh-token-ttl 7d]
                        register a client; prints its client ID and, for a confidential
                        client, its secret (once). --scope limits what it is ever granted
                        (scopes of SCOPES, and openid profile email offline_access); the
                        lifetimes (seconds, or with s, m, h or d) replace ACCESS_TOKEN_TTL
                        and REFRESH_TOKEN_TTL for this client alone
  list [--all]          the pre-registered clients (--all: dynamically registered ones too)
  show <client_id>      a client's settings and how many people it is connected for
  rotate-secret <client_id>
                        a new secret for a confidential client; the old one stops at once
  remove <client_id>    delete a client and revoke every grant it holds

  hosts list            the rules for the hosts of client ID metadata documents (apps
                        whose client ID is an https URL of a document describing them)
  hosts allow <host>    use documents on this host (replaces a block of it)
  hosts block <host>    never use documents on this host (replaces an allow of it)
  hosts remove <host>   drop the host's rule
                        A blocked host's documents are never used. When any host is
                        allowed, only documents on allowed hosts are used. A rule covers
                        the host and its subdomains (block example.com: a.example.com
                        too). A host is a name such as chatgpt.com, without scheme, port
                        or path. The deployed Worker follows a change within a minute.
                        The console's Apps page shows and sets the same rules.

Options:
  --local               the local database and KV that \`npm run dev\` uses (the default)
  --remote              the deployed ones
  --persist-to DIR      the local state's directory (only with --local)
`;

const COMMANDS = {
  add: {
    positionals: [],
    options: {
      name: { type: "string" },
      "redirect-uri": { type: "string", multiple: true },
      confidential: { type: "boolean" },
      "auth-method": { type: "string" },
      scope: { type: "string" },
      "access-token-ttl": { type: "string" },
      "refresh-token-ttl": { type: "string" },
    },
    required: ["name", "redirect-uri"],
  },
  list: { positionals: [], options: { all: { type: "boolean" } } },
  show: { positionals: ["client_id"], options: {} },
  "rotate-secret": { positionals: ["client_id"], options: {} },
  remove: { positionals: ["client_id"], options: {} },
  "hosts list": { positionals: [], options: {} },
  "hosts allow": { positionals: ["host"], options: {} },
  "hosts block": { positionals: ["host"], options: {} },
  "hosts remove": { positionals: ["host"], options: {} },
};
const HOSTS_COMMANDS = ["list", "allow", "block", "remove"];

const isLoopback = (host) => host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "[::1]";

function checkRedirectUri(uri) {
  if (Buffer.byteLength(uri) > MAX_URI_LEN) throw new CliError(`The redirect URI is longer than ${MAX_URI_LEN} characters.`);
  if (uri.includes("*")) throw new CliError(`Wildcards are not allowed: ${uri}`);
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f-\u009f]/u.test(uri)) throw new CliError(`The redirect URI contains whitespace or control characters: ${uri}`);
  let url;
  try {
    url = new URL(uri);
  } catch {
    throw new CliError(`Not an absolute URI: ${uri}`);
  }
  if (uri.includes("#")) throw new CliError(`Fragments are not allowed: ${uri}`);
  if (url.username || url.password) throw new CliError(`User information is not allowed: ${uri}`);
  const scheme = url.protocol.slice(0, -1);
  if (scheme === "https" && !url.hostname) throw new CliError(`An https redirect URI needs a host: ${uri}`);
  if (scheme === "http" && !isLoopback(url.hostname)) {
    throw new CliError(`http is only allowed on a loopback host (127.0.0.1, [::1], localhost): ${uri}`);
  }
  if (FORBIDDEN_SCHEMES.includes(scheme)) throw new CliError(`The ${scheme} scheme is not allowed: ${uri}`);
  return uri;
}

function checkName(raw) {
  const name = String(raw).trim();
  if (!name) throw new CliError("Give the client a name: people see it on the consent page.");
  if ([...name].length > MAX_NAME_LEN) throw new CliError(`The name must be at most ${MAX_NAME_LEN} characters.`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/u.test(name)) {
    throw new CliError("The name must not contain control or text-direction characters.");
  }
  return name;
}

function checkScope(raw) {
  if (raw === undefined) return undefined;
  const words = [...new Set(String(raw).split(/\s+/).filter(Boolean))];
  const bad = words.find((w) => !SCOPE_TOKEN.test(w));
  if (bad) throw new CliError(`'${bad}' is not a scope: 1 to 64 printable characters without spaces, quotes or backslashes.`);
  if (words.length === 0) throw new CliError("--scope is empty.");
  return words.join(" ");
}

/** A lifetime: seconds, or a number with s, m, h or d; within the setting's bounds. */
function checkLifetime(flag, raw, [min, max]) {
  if (raw === undefined) return undefined;
  const m = /^(\d{1,9})([smhd]?)$/.exec(String(raw).trim());
  if (!m) throw new CliError(`${flag} must be a number of seconds, or a number with s, m, h or d (e.g. 15m, 7d).`);
  const seconds = Number(m[1]) * { "": 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2]];
  if (seconds < min || seconds > max) throw new CliError(`${flag} must be between ${min} and ${max} seconds.`);
  return seconds;
}

const newSecret = () => randomBytes(32).toString("base64url");
const hashOf = (secret) => createHash("sha256").update(secret).digest("base64url");
const checkId = (id) => {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(id)) throw new CliError(`Not a client ID of this server: ${id}`);
  return id;
};

/**
 * Writes the record to D1 (with its audit row), then calls `report` (so the credentials are
 * printed whatever happens next), then writes KV. D1 is what counts: /token reads only D1
 * and /authorize falls back to it, so a failed KV write is a warning, not a failure.
 */
async function save(target, record, insert, audit, report) {
  const json = JSON.stringify(record);
  const sql = insert
    ? `INSERT INTO clients (client_id, metadata, created_at) VALUES (${sqlString(record.client_id)}, ${sqlString(json)}, ${sqlInt(record.client_id_issued_at)}) RETURNING client_id`
    : `UPDATE clients SET metadata = ${sqlString(json)} WHERE client_id = ${sqlString(record.client_id)} RETURNING client_id`;
  const [rows] = await execute(target, `${sql}; ${audit}`);
  if (rows.length !== 1) throw new CliError(`No client with the ID ${record.client_id}.`);
  report();
  try {
    await kvPut(target, [{ key: `client:${record.client_id}`, value: json }]);
  } catch (e) {
    process.stderr.write(
      `Warning: the client is saved in D1 but its KV copy was not written (${e.message.split("\n")[0]}).\n` +
        "It works as it is (the Worker reads D1 when KV misses); run the command again later to refresh the fast copy.\n",
    );
  }
}

async function load(target, id) {
  const [rows] = await execute(target, `SELECT metadata, created_at FROM clients WHERE client_id = ${sqlString(checkId(id))}`);
  if (rows.length === 0) throw new CliError(`No client with the ID ${id}.`);
  return JSON.parse(rows[0].metadata);
}

async function add(target, opts) {
  const uris = opts["redirect-uri"].map(checkRedirectUri);
  if (uris.length > MAX_REDIRECT_URIS) throw new CliError(`At most ${MAX_REDIRECT_URIS} redirect URIs.`);
  if (new Set(uris).size !== uris.length) throw new CliError("A redirect URI is given twice.");
  const method = opts["auth-method"] ?? (opts.confidential ? "client_secret_basic" : "none");
  if (opts["auth-method"] && !opts.confidential) throw new CliError("--auth-method goes with --confidential.");
  if (opts.confidential && !AUTH_METHODS.includes(method)) throw new CliError(`--auth-method must be ${AUTH_METHODS.join(" or ")}.`);
  const secret = opts.confidential ? newSecret() : null;
  const record = {
    client_id: randomBytes(32).toString("base64url"),
    ...(secret ? { secret_hash: hashOf(secret) } : {}),
    redirect_uris: uris,
    client_name: checkName(opts.name),
    token_endpoint_auth_method: method,
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    ...(opts.scope !== undefined ? { scope: checkScope(opts.scope) } : {}),
    client_id_issued_at: now(),
    source: "preregistered",
  };
  const accessTtl = checkLifetime("--access-token-ttl", opts["access-token-ttl"], ACCESS_TTL);
  const refreshTtl = checkLifetime("--refresh-token-ttl", opts["refresh-token-ttl"], REFRESH_TTL);
  if (accessTtl !== undefined) record.access_token_ttl = accessTtl;
  if (refreshTtl !== undefined) record.refresh_token_ttl = refreshTtl;
  await save(target, record, true, auditSql("client_registered", { clientId: record.client_id, detail: record.client_name }), () => {
    console.log(`Registered "${record.client_name}" (${secret ? `confidential, ${method}` : "public, PKCE only"}).`);
    console.log(`client_id:     ${record.client_id}`);
    if (secret) {
      console.log(`client_secret: ${secret}`);
      console.log("Copy the secret now: only its hash is stored, and it will not be shown again.");
    }
  });
}

async function list(target, opts) {
  const [rows] = await execute(target, "SELECT client_id, metadata, created_at FROM clients ORDER BY created_at, client_id");
  const parsed = (r) => {
    try {
      return JSON.parse(r.metadata);
    } catch {
      return { client_id: r.client_id, client_name: "(unreadable record)", source: "unknown", token_endpoint_auth_method: "-", redirect_uris: [] };
    }
  };
  const clients = rows.map(parsed).filter((c) => opts.all || c.source === "preregistered");
  if (clients.length === 0) {
    console.log(opts.all ? "No clients yet." : "No pre-registered clients yet. Add one with: npm run client -- add --name NAME --redirect-uri URI");
    return;
  }
  printTable(
    ["CLIENT ID", "NAME", "KIND", "AUTH", "REDIRECT URIS", "CREATED"],
    clients.map((c) => [c.client_id, c.client_name ?? "-", c.source, c.token_endpoint_auth_method, c.redirect_uris.join(" "), isoTime(c.client_id_issued_at)]),
  );
}

async function show(target, id) {
  const c = await load(target, id);
  const [[counts]] = await execute(
    target,
    `SELECT COUNT(DISTINCT user_id) AS people, COUNT(*) AS grants FROM grants WHERE client_id = ${sqlString(id)} AND revoked_at IS NULL`,
  );
  const lines = [
    ["client_id", c.client_id],
    ["name", c.client_name ?? "-"],
    ["kind", c.source],
    ["authentication", c.token_endpoint_auth_method === "none" ? "none (public client, PKCE)" : `${c.token_endpoint_auth_method} (secret stored as its hash)`],
    ["redirect URIs", c.redirect_uris.join("\n               ")],
    ["scope", c.scope ?? "any this server grants"],
    ["access tokens", c.access_token_ttl ? `${c.access_token_ttl} s (its own)` : "ACCESS_TOKEN_TTL"],
    ["refresh tokens", c.refresh_token_ttl ? `${c.refresh_token_ttl} s (its own)` : "REFRESH_TOKEN_TTL"],
    ["created", `${isoTime(c.client_id_issued_at)} UTC`],
    ["connected for", `${counts.people} ${counts.people === 1 ? "person" : "people"} (${counts.grants} live grant${counts.grants === 1 ? "" : "s"})`],
  ];
  for (const [k, v] of lines) console.log(`${(k + ":").padEnd(15)}${v}`);
}

async function rotateSecret(target, id) {
  const c = await load(target, id);
  if (!c.secret_hash) throw new CliError(`${id} is a public client: it has no secret to rotate.`);
  const secret = newSecret();
  c.secret_hash = hashOf(secret);
  await save(target, c, false, auditSql("client_secret_rotated", { clientId: id, detail: c.client_name ?? null }), () => {
    console.log(`New secret for "${c.client_name ?? id}"; the old one is refused at /token from now on.`);
    console.log(`client_secret: ${secret}`);
    console.log("Copy it now: only its hash is stored, and it will not be shown again.");
  });
}

async function remove(target, id) {
  const c = await load(target, id);
  const at = now();
  // Revocation first, in D1, where it happens: it never depends on KV (whose daily write
  // quota may be spent). The KV marks are written next; grants whose marks are missing
  // are read from D1 at /mcp until the daily cron writes them.
  const [, revoked] = await execute(
    target,
    `UPDATE refresh_tokens SET revoked_at = ${sqlInt(at)} WHERE client_id = ${sqlString(id)} AND revoked_at IS NULL; ` +
      `UPDATE grants SET revoked_at = ${sqlInt(at)}, revoked_ms = ${sqlInt(Date.now())} WHERE client_id = ${sqlString(id)} AND revoked_at IS NULL RETURNING id`,
  );
  await markGrantsRevoked(target, revoked.map((g) => g.id));
  // The client's KV record before its D1 row: if KV refuses, its grants are revoked all
  // the same and the command can simply be run again.
  await kvDelete(target, `client:${id}`);
  await execute(target, `DELETE FROM clients WHERE client_id = ${sqlString(id)}; ` + auditSql("client_removed", { clientId: id, detail: c.client_name ?? null }));
  console.log(`Removed "${c.client_name ?? id}" and revoked its ${revoked.length} grant${revoked.length === 1 ? "" : "s"}: refresh tokens stop at once, access tokens within a minute.`);
}

// ---- hosts of client ID metadata documents (the console's Apps page sets them too) -----

// Rust's char::is_whitespace, which str::trim uses (String.prototype.trim differs: it
// takes U+FEFF and leaves U+0085).
const RUST_SPACE = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const RUST_TRIM = new RegExp(`^[${RUST_SPACE}]+|[${RUST_SPACE}]+$`, "gu");

/**
 * A host rule's host, read as the Worker reads it (`document_host` in
 * src/oauth/app_form.rs): trimmed, ASCII lower-cased, trailing dots dropped, at most 253
 * characters with at least one dot, labels of 1 to 63 letters, digits or hyphens that
 * neither start nor end with a hyphen.
 */
function documentHost(raw) {
  const trimmed = String(raw).replace(RUST_TRIM, "");
  const host = trimmed.replace(/\.+$/, "").replace(/[A-Z]+/g, (c) => c.toLowerCase());
  const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
  if (host.length > 0 && host.length <= 253 && host.includes(".") && host.split(".").every((l) => label.test(l))) return host;
  // eslint-disable-next-line no-control-regex
  const shown = [...trimmed].slice(0, 80).join("").replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, "?");
  throw new CliError(`'${shown}' is not a host name such as chatgpt.com (no scheme, port or path).`);
}

/** As `MAX_HOST_RULES` in src/store/d1_app_admin.rs. */
const MAX_HOST_RULES = 500;

async function hostsList(target) {
  const [rows] = await execute(target, "SELECT host, rule, created_at, created_by FROM document_hosts ORDER BY rule, host");
  if (rows.length === 0) {
    console.log("No host rules: documents on any host are used.");
    return;
  }
  printTable(
    ["HOST", "RULE", "SINCE", "BY"],
    rows.map((r) => [r.host, r.rule, isoTime(r.created_at), r.created_by]),
  );
}

/** `allow` or `block` a host (replacing its other rule), as the console's Apps page does. */
async function hostsSet(target, raw, rule) {
  const host = documentHost(raw);
  const words = rule === "allow" ? "allowed" : "blocked";
  // At most MAX_HOST_RULES rules (the Worker refuses every document past them), in one
  // statement so the console cannot race it: RETURNING says whether it was written.
  const [written] = await execute(
    target,
    "INSERT INTO document_hosts (host, rule, created_at, created_by) " +
      `SELECT ${sqlString(host)}, ${sqlString(rule)}, ${sqlInt(now())}, 'cli' ` +
      `WHERE EXISTS (SELECT 1 FROM document_hosts WHERE host = ${sqlString(host)}) OR (SELECT COUNT(*) FROM document_hosts) < ${MAX_HOST_RULES} ` +
      "ON CONFLICT(host) DO UPDATE SET rule = excluded.rule, created_at = excluded.created_at, created_by = excluded.created_by RETURNING host",
  );
  if (written.length === 0) {
    throw new CliError(`There are ${MAX_HOST_RULES} host rules already: remove one first (npm run client -- hosts list).`);
  }
  await execute(target, auditSql("document_host_changed", { detail: `${host} ${words} by cli` }));
  console.log(
    rule === "allow"
      ? `Documents on ${host} and its subdomains are allowed; while any host is allowed, documents on hosts not allowed are not used.`
      : `Documents on ${host} and its subdomains are blocked: they are never used.`,
  );
  console.log("The deployed Worker follows within a minute.");
}

async function hostsRemove(target, raw) {
  const host = documentHost(raw);
  // The audit row first, written only when there is a rule to remove.
  const [, removed] = await execute(
    target,
    auditSql("document_host_changed", {
      detail: `${host} rule removed by cli`,
      onlyIf: `EXISTS (SELECT 1 FROM document_hosts WHERE host = ${sqlString(host)})`,
    }) + `; DELETE FROM document_hosts WHERE host = ${sqlString(host)} RETURNING rule`,
  );
  if (removed.length === 0) {
    throw new CliError(`${host} has no rule to remove. See the rules with: npm run client -- hosts list`);
  }
  console.log(`${host} has no rule any more (it was ${removed[0].rule === "allow" ? "allowed" : "blocked"}). The deployed Worker follows within a minute.`);
}

/** `hosts <subcommand> ...` as the one command `hosts <subcommand>`. */
function hostsArgv(argv) {
  if (argv[0] !== "hosts") return argv;
  const [, sub, ...rest] = argv;
  if (HOSTS_COMMANDS.includes(sub)) return [`hosts ${sub}`, ...rest];
  if (argv.includes("-h") || argv.includes("--help")) return ["--help"];
  const what = sub === undefined || sub.startsWith("-") ? "hosts needs a command right after it:" : `Unknown hosts command: ${sub}; use`;
  throw new CliError(`${what} list, allow <host>, block <host> or remove <host>.\n\n${USAGE}`, 2);
}

async function main(argv) {
  const parsed = parseCommand(hostsArgv(argv), COMMANDS, USAGE);
  if (parsed.help) return process.stdout.write(USAGE);
  const { command, args, opts, target } = parsed;
  switch (command) {
    case "add":
      return add(target, opts);
    case "list":
      return list(target, opts);
    case "show":
      return show(target, args[0]);
    case "rotate-secret":
      return rotateSecret(target, args[0]);
    case "hosts list":
      return hostsList(target);
    case "hosts allow":
      return hostsSet(target, args[0], "allow");
    case "hosts block":
      return hostsSet(target, args[0], "block");
    case "hosts remove":
      return hostsRemove(target, args[0]);
    default:
      return remove(target, args[0]);
  }
}

runCommand(main);
