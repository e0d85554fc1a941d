// The deployment scripts for real, offline: `npm run setup:cloudflare -- --local` against a
// copy of wrangler.toml with wrangler's local D1 and .dev.vars, `npm run deploy -- --local`
// (its checks, then `wrangler deploy --dry-run`), and `npm run key:rotate` end to end: a
// token signed before the rotation still verifies at /mcp, and not after --finish. The
// remote-only steps are the same wrangler commands with --remote (see tests/deploy-remote).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeProtectedHeader } from "jose";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow } from "./helpers/oauth.mjs";
import { modernCall } from "./helpers/mcp.mjs";
import { runNode } from "./helpers/process.mjs";
import { verifyIssued } from "./helpers/jwt.mjs";

// Every migration in the repository, in order: all of them must be applied.
const MIGRATIONS = readdirSync(new URL("../migrations/", import.meta.url)).filter((f) => f.endsWith(".sql")).sort();

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DOMAIN = "mcp.example.com";
const ISSUER = `https://${DOMAIN}`;
let dir, config, state, original;

const run = (file, args) => runNode(file, args, { cwd: ROOT, env: { WRANGLER_SEND_METRICS: "false", CI: "true" } });
const script = (name, args) => run(join(ROOT, "scripts", name), args);
const setup = (...args) => script("setup-cloudflare.mjs", ["--config", config, ...args]);
const deploy = (...args) => script("deploy.mjs", ["--config", config, ...args]);
const rotate = (...args) => script("key-rotate.mjs", ["--config", config, ...args]);
const devVarsPath = () => join(dir, ".dev.vars");

/** .dev.vars as wrangler reads it (KEY=value, KEY='literal'). */
function devVars() {
  const out = {};
  for (const line of readFileSync(devVarsPath(), "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].replace(/^'(.*)'$/, "$1");
  }
  return out;
}

before(() => {
  mkdirSync(join(ROOT, "tests/.tmp"), { recursive: true });
  dir = mkdtempSync(join(ROOT, "tests/.tmp/deploy-"));
  config = join(dir, "wrangler.toml");
  state = join(dir, "state");
  // The copy points back at the repository's build and migrations, and carries settings of
  // a person's own that the scripts must leave alone.
  original = readFileSync(join(ROOT, "wrangler.toml"), "utf8")
    .replace('main = "build/index.js"', `main = "${ROOT}/build/index.js"`)
    .replace('command = "bash scripts/build.sh"', `command = "bash ${ROOT}/scripts/build.sh"`)
    .replace('migrations_dir = "migrations"', `migrations_dir = "${ROOT}/migrations"`)
    .replace('ISSUER = ""', 'ISSUER = ""  # the public origin\n# my own comment\nPRODUCT_NAME = "Acme Notes"');
  writeFileSync(config, original);
});

after(() => dir && rmSync(dir, { recursive: true, force: true }));

test("setup:cloudflare --local: route, issuer, migrations and a key, leaving the rest alone", async () => {
  const r = await setup("--domain", DOMAIN, "--local", "--persist-to", state);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const text = readFileSync(config, "utf8");
  assert.match(text, /^routes = \[\{ pattern = "mcp\.example\.com", custom_domain = true \}\]$/m);
  assert.match(text, /^ISSUER = "https:\/\/mcp\.example\.com"  # the public origin$/m, "the end-of-line comment stays");
  // Every line of the original is still there but the one ISSUER line, in the same order.
  const kept = original.split("\n").filter((l) => !l.startsWith('ISSUER = ""'));
  const now = text.split("\n");
  let at = 0;
  for (const line of kept) {
    at = now.indexOf(line, at);
    assert.ok(at >= 0, `line lost or reordered: ${line}`);
  }
  // routes is a top-level key: before the first table.
  assert.ok(text.indexOf("routes =") < text.indexOf("[build]"));
  const key = devVars().JWT_SIGNING_KEY;
  assert.match(key, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(statSync(devVarsPath()).mode & 0o777, 0o600);
  assert.ok(!(r.stdout + r.stderr).includes(key), "the key was printed");
  assert.match(r.stdout, /D1 migrations\s+applied/);
  const q = await run(join(ROOT, "node_modules/wrangler/bin/wrangler.js"), [
    "d1", "execute", "DB", "--local", "--persist-to", state, "--config", config, "--json",
    "--command", "SELECT name FROM d1_migrations ORDER BY id",
  ]);
  assert.equal(q.code, 0, q.stderr);
  const names = JSON.parse(q.stdout.slice(q.stdout.search(/^\[/m)))[0].results.map((x) => x.name);
  assert.deepEqual(names, MIGRATIONS);
});

test("setup:cloudflare reads a key written as `export NAME=` (dotenv's other form) and keeps it", async () => {
  const original = readFileSync(devVarsPath(), "utf8");
  const key = devVars().JWT_SIGNING_KEY;
  writeFileSync(devVarsPath(), original.replace(/^JWT_SIGNING_KEY=/m, "export JWT_SIGNING_KEY = "), { mode: 0o600 });
  const r = await setup("--domain", DOMAIN, "--local", "--persist-to", state);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /signing key\s+unchanged/);
  assert.match(readFileSync(devVarsPath(), "utf8"), new RegExp(`export JWT_SIGNING_KEY = '${key}'`));
  writeFileSync(devVarsPath(), original, { mode: 0o600 });
});

test("setup:cloudflare a second time changes nothing", async () => {
  const before = [readFileSync(config, "utf8"), readFileSync(devVarsPath(), "utf8")];
  const r = await setup("--domain", DOMAIN, "--local", "--persist-to", state);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual([readFileSync(config, "utf8"), readFileSync(devVarsPath(), "utf8")], before);
  assert.match(r.stdout, /configuration\s+unchanged/);
  assert.match(r.stdout, /D1 migrations\s+unchanged/);
  assert.match(r.stdout, /signing key\s+unchanged/);
});

test("setup:cloudflare refuses what is not a host name, and changes nothing", async () => {
  const before = readFileSync(config, "utf8");
  for (const bad of ["https://mcp.example.com", "mcp", "-x.example.com", "1.2.3.4", "a..b.com", "mcp.example.com:443", "mcp.example.com/mcp"]) {
    const r = await setup("--domain", bad, "--local", "--persist-to", state);
    assert.equal(r.code, 2, bad);
    assert.match(r.stderr, /is not a host name/, bad);
  }
  const none = await setup("--local");
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--domain is required/);
  const unknown = await setup("--domain", DOMAIN, "--frobnicate");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown argument: --frobnicate/);
  assert.equal(readFileSync(config, "utf8"), before);
});

test("setup:cloudflare does not move to another domain unasked, nor replace routes of your own", async () => {
  const before = readFileSync(config, "utf8");
  const other = await setup("--domain", "other.example.com", "--local", "--persist-to", state);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /already set up for https:\/\/mcp\.example\.com.*--change-domain/s);
  assert.equal(readFileSync(config, "utf8"), before);

  const withConfig = (name, text) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return [file, () => script("setup-cloudflare.mjs", ["--config", file, "--domain", DOMAIN, "--local", "--persist-to", state])];
  };
  // A multi-line value at the top level: routes goes after it, before the first table.
  const [multi, setupMulti] = withConfig(
    "multi.toml",
    original.replace('compatibility_flags = ["global_fetch_strictly_public"]', 'compatibility_flags = [\n  "global_fetch_strictly_public",\n]'),
  );
  const r = await setupMulti();
  assert.equal(r.code, 0, r.stderr);
  const lines = readFileSync(multi, "utf8").split("\n");
  const routes = lines.findIndex((l) => l.startsWith("routes = "));
  assert.ok(routes > lines.indexOf("]") && routes < lines.indexOf("[build]"), lines.slice(0, 12).join("\n"));

  const own = original.replace('name = "mcp-oauth-worker"', 'name = "mcp-oauth-worker"\nroutes = [{ pattern = "example.com/api/*", zone_name = "example.com" }]');
  const [ownFile, setupOwn] = withConfig("own.toml", own);
  const refused = await setupOwn();
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /will not replace routes of your own/);
  assert.equal(readFileSync(ownFile, "utf8"), own);
});

test("deploy refuses until the bindings and the key are configured, then dry-runs", async () => {
  const placeholders = await deploy("--local");
  assert.equal(placeholders.code, 1);
  assert.match(placeholders.stderr, /KV namespace OAUTH_KV has no real id/);
  assert.match(placeholders.stderr, /D1 database DB has no real id/);
  assert.match(placeholders.stderr, /npm run setup:cloudflare/);
  // What setup writes after creating the resources on Cloudflare.
  writeFileSync(
    config,
    readFileSync(config, "utf8")
      .replace('id = "00000000000000000000000000000000"', 'id = "0123456789abcdef0123456789abcdef"')
      .replace('database_id = "00000000-0000-0000-0000-000000000000"', 'database_id = "01234567-89ab-cdef-0123-456789abcdef"'),
  );
  renameSync(devVarsPath(), devVarsPath() + ".away");
  const noKey = await deploy("--local");
  renameSync(devVarsPath() + ".away", devVarsPath());
  assert.equal(noKey.code, 1);
  assert.match(noKey.stderr, /JWT_SIGNING_KEY is not in \.dev\.vars/);
  assert.doesNotMatch(noKey.stderr, /no real id/);

  const ok = await deploy("--local");
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  const size = /Total Upload: .*/.exec(ok.stdout + ok.stderr)?.[0];
  assert.ok(size, "wrangler printed the upload size");
  console.log(`# wrangler deploy --dry-run of the configured Worker: ${size}`);
});

test("key:rotate: tokens signed before keep verifying; after --finish they do not", async () => {
  const startWith = () => startWorker({ bindings: { ...devVars(), ISSUER } });
  const bearer = async (w, token) => (await modernCall(w.url, token, "tools/list")).status;
  const published = async (w) => (await (await fetch(w.url + "/.well-known/jwks.json")).json()).keys;
  // The Ed25519 keys of access tokens; the RSA keys of ID tokens are checked apart.
  const jwks = async (w) => (await published(w)).filter((k) => k.kty === "OKP");
  const rsaKids = async (w) => (await published(w)).filter((k) => k.kty === "RSA").map((k) => k.n);
  const kidOf = (jwt) => decodeProtectedHeader(jwt).kid;
  const verifies = (w, token) => verifyIssued(w, token, { issuer: ISSUER, audience: ISSUER + "/mcp" });

  const w1 = await startWith();
  let oldToken;
  try {
    const alice = await createUser(w1.db, "alice@example.com", "alice-password-1");
    oldToken = (await fullFlow(w1.url, alice, { resource: ISSUER + "/mcp" })).tokens.access_token;
    assert.equal(await bearer(w1, oldToken), 200);
    await verifies(w1, oldToken);
  } finally {
    await w1.stop();
  }
  const oldKey = devVars().JWT_SIGNING_KEY;
  const oldOidc = devVars().OIDC_SIGNING_KEY;

  const r = await rotate();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Rotated/);
  assert.match(r.stdout, /Wait 61 minutes/);
  const rotated = devVars();
  assert.notEqual(rotated.JWT_SIGNING_KEY, oldKey);
  const previous = JSON.parse(rotated.JWT_SIGNING_KEY_PREVIOUS);
  assert.deepEqual(Object.keys(previous).sort(), ["crv", "kty", "x"], "only the public half is kept");
  assert.ok(!(r.stdout + r.stderr).includes(rotated.JWT_SIGNING_KEY));
  // The RS256 key of ID tokens turns with it; the old one's public half is kept.
  assert.ok(rotated.OIDC_SIGNING_KEY && rotated.OIDC_SIGNING_KEY !== oldOidc);
  assert.ok(JSON.parse(rotated.OIDC_SIGNING_KEY).d, "a private key is current");
  if (oldOidc) {
    assert.deepEqual(JSON.parse(rotated.OIDC_SIGNING_KEY_PREVIOUS), { kty: "RSA", n: JSON.parse(oldOidc).n, e: JSON.parse(oldOidc).e });
  }

  const w2 = await startWith();
  let newToken;
  try {
    const keys = await jwks(w2);
    assert.equal(keys.length, 2);
    assert.deepEqual(await rsaKids(w2), [JSON.parse(rotated.OIDC_SIGNING_KEY).n, ...(oldOidc ? [JSON.parse(oldOidc).n] : [])]);
    assert.equal(keys[1].kid, kidOf(oldToken), "the old key is published second");
    assert.equal(await bearer(w2, oldToken), 200, "a token signed before the rotation verifies");
    await verifies(w2, oldToken);
    const bob = await createUser(w2.db, "bob@example.com", "bob-password-12");
    newToken = (await fullFlow(w2.url, bob, { resource: ISSUER + "/mcp" })).tokens.access_token;
    assert.equal(kidOf(newToken), keys[0].kid, "new tokens are signed with the new key");
    await verifies(w2, newToken);
  } finally {
    await w2.stop();
  }

  const again = await rotate();
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already in progress/);

  const finish = await rotate("--finish");
  assert.equal(finish.code, 0, finish.stderr);
  assert.equal(devVars().JWT_SIGNING_KEY_PREVIOUS, undefined);
  assert.equal(devVars().OIDC_SIGNING_KEY_PREVIOUS, undefined);
  const w3 = await startWith();
  try {
    assert.equal((await jwks(w3)).length, 1);
    assert.equal((await rsaKids(w3)).length, 1);
    const refused = await modernCall(w3.url, oldToken, "tools/list");
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get("www-authenticate"), /invalid_token/);
    assert.equal(await bearer(w3, newToken), 200);
    await verifies(w3, newToken);
    await assert.rejects(verifies(w3, oldToken), { code: "ERR_JWKS_NO_MATCHING_KEY" }, "the old key is no longer published");
  } finally {
    await w3.stop();
  }
  const twice = await rotate("--finish");
  assert.equal(twice.code, 0);
  assert.match(twice.stdout, /Nothing to finish/);
});
