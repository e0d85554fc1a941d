// What the operator commands (user, client, token, audit) share: running SQL on the local
// or deployed D1 database and writing KV keys through wrangler, quoting values for SQL,
// parsing `<command> [positionals] [--flags]`, and printing tables.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CliError, argTokens, wrangler } from "./cloudflare.mjs";

// ---- arguments -----------------------------------------------------------------------

/** The options every command takes: which database, and where the local one lives. */
const TARGET_OPTIONS = { local: { type: "boolean" }, remote: { type: "boolean" }, "persist-to": { type: "string" } };

/**
 * Parses `argv` as `<command> [positionals...] [--flags]`, the command first. `commands`
 * maps each command to `{ positionals: [names], options: { name: util.parseArgs descriptor
 * ({ type: "string" }, with multiple: true for a list, or { type: "boolean" }) },
 * required: [flag names] }`; every command also takes --local, --remote and --persist-to.
 * Returns `{ command, args, opts, target }`, or `{ help: true }`.
 */
export function parseCommand(argv, commands, usage) {
  const usageError = (message) => new CliError(`${message}\n\n${usage}`, 2);
  if (argv.length === 0) throw usageError("No command given.");
  const [command, ...rest] = argv;
  if (["-h", "--help", "help"].includes(command) || rest.includes("-h") || rest.includes("--help")) return { help: true };
  const spec = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (!spec) throw usageError(`Unknown command: ${command}`);
  const options = { ...TARGET_OPTIONS, ...spec.options };
  // No short options are declared, so a single-dash argument never takes the next one as
  // its value: it is a positional, as typed ("-" and "-x" alike).
  const { values, tokens } = argTokens(rest, options);
  const args = [];
  const given = new Set();
  for (const { arg, inlineValue, value } of tokens) {
    if (!arg.startsWith("--")) {
      args.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (!Object.hasOwn(options, name)) throw usageError(`Unknown option for ${command}: --${name}`);
    if (options[name].type === "boolean") {
      if (inlineValue) throw usageError(`--${name} takes no value.`);
      continue;
    }
    if (value === undefined || value === "" || (!inlineValue && value.startsWith("--"))) throw usageError(`--${name} needs a value.`);
    if (!options[name].multiple && given.has(name)) throw usageError(`--${name} was given twice.`);
    given.add(name);
  }
  const opts = {};
  for (const name of Object.keys(options)) if (values[name] !== undefined) opts[name] = values[name];
  if (args.length !== spec.positionals.length) {
    throw usageError(
      spec.positionals.length
        ? `${command} needs ${spec.positionals.map((p) => `<${p}>`).join(" ")}.`
        : `${command} takes no arguments (got: ${args.join(" ")}).`,
    );
  }
  for (const required of spec.required ?? []) {
    if (opts[required] === undefined) throw usageError(`${command} needs --${required}.`);
  }
  if (opts.local && opts.remote) throw usageError("Give either --local or --remote, not both.");
  if (opts.remote && opts["persist-to"]) throw usageError("--persist-to only goes with --local.");
  const target = { remote: Boolean(opts.remote), persistTo: opts["persist-to"] ? resolve(process.cwd(), opts["persist-to"]) : null };
  return { command, args, opts, target };
}

// ---- values --------------------------------------------------------------------------

export function normalizeEmail(raw) {
  const email = String(raw).trim().toLowerCase();
  if (email.length === 0) throw new CliError("The email address is empty.");
  if (email.length > 254) throw new CliError("The email address is longer than 254 characters.");
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/u.test(email)) throw new CliError(`Not a valid email address (no spaces allowed): ${raw}`);
  const parts = email.split("@");
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new CliError(`Not a valid email address (it needs exactly one @ with text on both sides): ${raw}`);
  }
  return email;
}

export function sqlString(value) {
  const s = String(value);
  if (s.includes("\0")) throw new CliError("Values must not contain NUL characters.");
  return `'${s.replaceAll("'", "''")}'`;
}

export function sqlInt(value) {
  if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
  return String(value);
}

export const sqlValue = (v) => (v === null || v === undefined ? "NULL" : typeof v === "number" ? sqlInt(v) : sqlString(v));
export const now = () => Math.floor(Date.now() / 1000);

/** A Unix time as a UTC date and time, "-" for none. */
export function isoTime(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  return new Date(Number(seconds) * 1000).toISOString().slice(0, 16).replace("T", " ");
}

/** Prints rows (arrays of strings) under a header, in aligned columns. */
export function printTable(header, rows) {
  // Values can come from clients (names, ids): no control or text-direction characters
  // reach the operator's terminal.
  // eslint-disable-next-line no-control-regex
  const clean = (cell) => String(cell).replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, "?");
  const table = [header, ...rows].map((row) => row.map(clean));
  const widths = header.map((_, i) => Math.max(...table.map((row) => [...String(row[i])].length)));
  for (const row of table) {
    console.log(row.map((cell, i) => (i === row.length - 1 ? String(cell) : String(cell) + " ".repeat(widths[i] - [...String(cell)].length))).join("  "));
  }
}

/**
 * The statement that appends an operator's action to the audit log (see src/audit.rs);
 * `userSql` is an SQL expression for the user id (a subquery, or NULL); `onlyIf`, an SQL
 * condition, writes the row only when it holds (checked when the statement runs).
 */
export function auditSql(event, { userSql = "NULL", clientId = null, detail = null, onlyIf = null } = {}) {
  const values =
    `${sqlInt(now())}, ${sqlString(event)}, 'ok', ${userSql}, ${sqlValue(clientId)}, NULL, 'cli', ${sqlValue(detail === null ? null : String(detail).slice(0, 120))}`;
  return (
    "INSERT INTO audit_events (at, event, outcome, user_id, client_id, ip, request_id, detail) " +
    (onlyIf === null ? `VALUES (${values})` : `SELECT ${values} WHERE ${onlyIf}`)
  );
}

/**
 * The same, for an action on a person: one row for the user `column` = `value` names, and
 * none when there is no such user.
 */
export function auditUserSql(event, column, value, detail = null) {
  if (!["id", "email"].includes(column)) throw new Error(`not a users column: ${column}`);
  return (
    "INSERT INTO audit_events (at, event, outcome, user_id, client_id, ip, request_id, detail) " +
    `SELECT ${sqlInt(now())}, ${sqlString(event)}, 'ok', id, NULL, NULL, 'cli', ${sqlValue(detail)} FROM users WHERE ${column} = ${sqlString(value)}`
  );
}

// ---- wrangler ------------------------------------------------------------------------

function where(target) {
  const args = [target.remote ? "--remote" : "--local"];
  if (target.persistTo) args.push("--persist-to", target.persistTo);
  return args;
}

/** Runs SQL (one or more statements) and returns the result rows of each statement. */
export async function execute(target, sql) {
  const args = ["d1", "execute", "DB", ...where(target), ...(target.remote ? ["--yes"] : []), "--json", "--command", sql];
  const r = await wrangler(args);
  let parsed;
  try {
    const start = r.stdout.search(/^[[{]/m);
    parsed = start >= 0 ? JSON.parse(r.stdout.slice(start)) : undefined;
  } catch {
    parsed = undefined;
  }
  if (r.code !== 0) {
    const detail = parsed?.error?.text ?? parsed?.error?.message ?? (r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`);
    const failure = new CliError(`The database query failed: ${detail}`);
    failure.detail = detail;
    failure.stderr = r.stderr.trim();
    throw failure;
  }
  if (Array.isArray(parsed)) return parsed.map((x) => x.results ?? []);
  throw new CliError("The database query failed: wrangler printed no result.");
}

/** Writes KV entries (`{ key, value, expiration_ttl? }`) to OAUTH_KV in one bulk put. */
export async function kvPut(target, entries) {
  if (entries.length === 0) return;
  const dir = mkdtempSync(join(tmpdir(), "mcp-oauth-kv-"));
  try {
    const file = join(dir, "entries.json");
    writeFileSync(file, JSON.stringify(entries), { mode: 0o600 });
    const r = await wrangler(["kv", "bulk", "put", file, "--binding", "OAUTH_KV", ...where(target)]);
    if (r.code !== 0) throw new CliError(`Writing to KV failed: ${(r.stderr.trim() || r.stdout.trim()).split("\n").slice(-4).join("\n")}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Deletes one KV key from OAUTH_KV. */
export async function kvDelete(target, key) {
  const r = await wrangler(["kv", "key", "delete", key, "--binding", "OAUTH_KV", ...where(target)]);
  if (r.code !== 0) throw new CliError(`Deleting from KV failed: ${(r.stderr.trim() || r.stdout.trim()).split("\n").slice(-4).join("\n")}`);
}

/**
 * Writes the KV marks that stop revoked grants' access tokens at /mcp within a minute
 * (the Worker writes the same mark when it revokes a grant itself), then records them in
 * D1 (`grants.marked_at`). They live a day, the longest ACCESS_TOKEN_TTL allowed, plus the
 * Worker's clock margin. The grants are already revoked in D1: when KV refuses the write
 * (its daily write quota), /mcp reads the revocation from D1 until the Worker's daily
 * cron writes the marks, so this warns rather than fails. Returns whether they were written.
 */
export async function markGrantsRevoked(target, grantIds) {
  if (grantIds.length === 0) return true;
  try {
    await kvPut(target, grantIds.map((id) => ({ key: `revoked-grant:${id}`, value: "1", expiration_ttl: 86_400 + 120 })));
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    process.stderr.write(
      `Warning: ${e.message}\nThe revocation stands in D1, and /mcp reads it from there until the daily cron writes the KV marks.\n`,
    );
    return false;
  }
  await execute(target, `UPDATE grants SET marked_at = ${sqlInt(now())} WHERE id IN (${grantIds.map(sqlString).join(", ")})`);
  return true;
}

/** Prints a CliError's message (not a stack) and exits with its code. */
export function runCommand(main) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => {
      if (e instanceof CliError) {
        process.stderr.write(`${e.message.trimEnd()}\n`);
        if (e.stderr && e.stderr !== e.detail) process.stderr.write(`${e.stderr}\n`);
        process.exit(e.code);
      }
      process.stderr.write(`${e?.stack ?? e}\n`);
      process.exit(1);
    },
  );
}
