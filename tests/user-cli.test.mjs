// `npm run user` end to end: the CLI runs for real against a local D1 database in a
// temporary --persist-to directory, with passwords piped in on standard input.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { verifyPassword, PBKDF2_ITERATIONS } from "../scripts/lib/password.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "scripts", "user.mjs");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" };

const PASSWORD = "first-Pässword-😀-42";
const NEW_PASSWORD = "second password, longer";
const NAME = "Alice O'Brien; -- not SQL";

let dir;

function run(file, args, input = "") {
  const r = spawnSync(process.execPath, [file, ...args], { cwd: ROOT, env: ENV, input, encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI against the temporary database. */
const cli = (args, input = "") => run(CLI, [...args, "--persist-to", dir], input);

/** Runs SQL directly with wrangler and returns each statement's rows. */
function sql(query) {
  const r = run(WRANGLER, ["d1", "execute", "DB", "--local", "--persist-to", dir, "--json", "--command", query]);
  assert.equal(r.code, 0, `wrangler d1 execute failed:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.slice(r.stdout.search(/^[[{]/m))).map((s) => s.results);
}

const userRow = (email) => sql(`SELECT * FROM users WHERE email = '${email}'`)[0][0];
const stored = (row) => ({ hash: row.password_hash, salt: row.password_salt, iterations: row.iterations });

function filesUnder(d) {
  return readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "user-cli-"));
  const r = run(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", dir]);
  assert.equal(r.code, 0, `migrations failed:\n${r.stdout}\n${r.stderr}`);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("usage: --help prints it, an unknown command or flag prints it and exits 2", () => {
  const help = run(CLI, ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: npm run user -- <command>/);
  for (const cmd of ["add <email>", "list", "disable <email>", "enable <email>", "reset-password <email>", "seed-demo --local"]) {
    assert.ok(help.stdout.includes(cmd), cmd);
  }
  for (const args of [["frobnicate"], ["list", "--frob"], [], ["add"], ["list", "extra"]]) {
    const r = run(CLI, args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, /Usage: npm run user/);
  }
});

test("add stores a PBKDF2 hash that verifies, and the password nowhere else", () => {
  const r = cli(["add", "Alice@Example.com", "--name", NAME], `${PASSWORD}\nignored second line\n`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Created user alice@example\.com/);
  assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD));

  const row = userRow("alice@example.com");
  assert.equal(row.email, "alice@example.com");
  assert.equal(row.name, NAME);
  assert.equal(row.iterations, PBKDF2_ITERATIONS);
  assert.equal(row.disabled_at, null);
  assert.ok(Math.abs(row.created_at - Date.now() / 1000) < 120);
  assert.equal(Buffer.from(row.id, "base64url").length, 16);
  assert.equal(Buffer.from(row.password_salt, "base64url").length, 16);
  assert.equal(Buffer.from(row.password_hash, "base64url").length, 32);
  assert.ok(verifyPassword(PASSWORD, stored(row)));
  assert.ok(!verifyPassword(PASSWORD + "x", stored(row)));
  assert.ok(!verifyPassword("ignored second line", stored(row)));

  for (const value of Object.values(row)) assert.ok(!String(value).includes(PASSWORD));
  const files = filesUnder(dir).map((f) => [f, readFileSync(f)]);
  const needle = Buffer.from(PASSWORD, "utf8");
  for (const [f, bytes] of files) assert.equal(bytes.indexOf(needle), -1, `password found in ${f}`);
  // The scan does see what was stored (so the check above is meaningful).
  assert.ok(files.some(([, bytes]) => bytes.includes(Buffer.from(row.password_hash))));
});

test("a duplicate email (in any case) is refused", () => {
  const r = cli(["add", "ALICE@example.com"], "another-password-1\n");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already exists/);
});

test("passwords are refused on the command line; bad input is refused before any query", () => {
  for (const args of [
    ["add", "bob@example.com", "--password", "hunter2hunter2"],
    ["add", "bob@example.com", "--password=hunter2hunter2"],
    ["reset-password", "alice@example.com", "--password", "hunter2hunter2"],
  ]) {
    const r = cli(args, "hunter2hunter2\n");
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, /never accepted on the command line/);
    assert.ok(!r.stderr.includes("hunter2hunter2"));
  }
  const short = cli(["add", "bob@example.com"], "short\n");
  assert.equal(short.code, 1);
  assert.match(short.stderr, /at least 10 characters/);
  const none = cli(["add", "bob@example.com"], "");
  assert.equal(none.code, 1);
  assert.match(none.stderr, /No password given/);
  for (const email of ["bob example.com", "bob@@example.com", "@example.com", "bob@", "bob@example.com@x", `${"a".repeat(250)}@x.io`]) {
    const r = cli(["add", email], "long-enough-password\n");
    assert.equal(r.code, 1, email);
    assert.match(r.stderr, /email address/, email);
  }
});

test("list shows the user; disable and enable switch the status", () => {
  const today = new Date().toISOString().slice(0, 10);
  const line = (out) => out.split("\n").find((l) => l.startsWith("alice@example.com"));

  let r = cli(["list"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^EMAIL\s+NAME\s+CREATED\s+STATUS$/m);
  assert.ok(line(r.stdout).includes(NAME));
  assert.match(line(r.stdout), new RegExp(`${today}\\s+active$`));
  assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("alice@")).length, 1);

  // A live grant: disabling revokes it and writes the KV mark that /mcp checks.
  const [[{ id: aliceId }]] = sql(`SELECT id FROM users WHERE email = 'alice@example.com'`);
  sql(
    `INSERT INTO grants (id, user_id, client_id, scope, resource, redirect_uri, code_hash, created_at, last_used_at) ` +
      `VALUES ('grant-cli-1', '${aliceId}', 'c1', 'mcp:read', 'http://x/mcp', 'http://127.0.0.1/cb', 'h-cli-1', 1, 1)`,
  );
  r = cli(["disable", "Alice@example.com"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Disabled alice@example\.com/);
  assert.notEqual(sql(`SELECT revoked_at FROM grants WHERE id = 'grant-cli-1'`)[0][0].revoked_at, null);
  const mark = run(WRANGLER, ["kv", "key", "get", "revoked-grant:grant-cli-1", "--binding", "OAUTH_KV", "--local", "--persist-to", dir]);
  assert.equal(mark.code, 0, mark.stderr);
  assert.equal(mark.stdout.trim(), "1");
  r = cli(["list"]);
  assert.match(line(r.stdout), /\sdisabled$/);

  r = cli(["enable", "alice@example.com"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Enabled alice@example\.com/);
  assert.equal(userRow("alice@example.com").disabled_at, null);
  // Each of the operator's actions is in the audit log, against the account.
  const events = sql(`SELECT event, request_id FROM audit_events WHERE user_id = '${aliceId}' ORDER BY id`)[0];
  assert.deepEqual(events.map((e) => e.event), ["user_added", "user_disabled", "user_enabled"]);
  assert.ok(events.every((e) => e.request_id === "cli"));

  r = cli(["disable", "nobody@example.com"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /No user with the email nobody@example\.com/);
});

test("reset-password changes the hash and clears that account's failed sign-ins", () => {
  const before = userRow("alice@example.com");
  sql(
    "INSERT INTO login_failures (key, failures, first_at, locked_until) VALUES " +
      "('user:alice@example.com', 5, 1, 9999999999), ('user:other@example.com', 2, 1, NULL), ('ip:192.0.2.1', 3, 1, NULL)",
  );

  const r = cli(["reset-password", "ALICE@example.com"], `${NEW_PASSWORD}\n`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Changed the password of alice@example\.com/);

  const [[after], failures] = sql(
    "SELECT * FROM users WHERE email = 'alice@example.com'; SELECT key FROM login_failures ORDER BY key",
  );
  assert.equal(after.id, before.id);
  assert.notEqual(after.password_hash, before.password_hash);
  assert.notEqual(after.password_salt, before.password_salt);
  assert.ok(verifyPassword(NEW_PASSWORD, stored(after)));
  assert.ok(!verifyPassword(PASSWORD, stored(after)));
  assert.deepEqual(
    failures.map((f) => f.key),
    ["ip:192.0.2.1", "user:other@example.com"],
  );

  const missing = cli(["reset-password", "nobody@example.com"], `${NEW_PASSWORD}\n`);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No user with the email nobody@example\.com/);
});

test("seed-demo refuses without --local and is idempotent with it", () => {
  for (const args of [["seed-demo"], ["seed-demo", "--remote"]]) {
    const r = run(CLI, args);
    assert.equal(r.code, 1, args.join(" "));
    assert.match(r.stderr, /only runs with --local/);
  }
  const refused = run(CLI, ["seed-demo", "--remote", "--local"]);
  assert.equal(refused.code, 2);

  let r = cli(["seed-demo", "--local"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Created the demo user demo@example\.com/);
  r = cli(["seed-demo", "--local"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /already exists/);

  const rows = sql("SELECT * FROM users WHERE email = 'demo@example.com'")[0];
  assert.equal(rows.length, 1);
  assert.equal(rows[0].name, "Demo User");
  assert.ok(verifyPassword("correct-horse-demo", stored(rows[0])));
});
