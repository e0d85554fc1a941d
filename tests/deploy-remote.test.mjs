// The remote paths of the deployment scripts, with a stand-in for wrangler's remote-only
// commands (tests/helpers/remote-wrangler.mjs: Cloudflare's API is out of reach here):
// create or reuse, ids written once, the key handed over on standard input only, a second
// run that changes nothing, deploy's refusal, and key:rotate --remote reading the live
// Worker's JWKS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startWorker } from "./helpers/worker.mjs";
import { runNode } from "./helpers/process.mjs";

// Every migration in the repository, in order: all of them must be applied.
const MIGRATIONS = readdirSync(new URL("../migrations/", import.meta.url)).filter((f) => f.endsWith(".sql")).sort();

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ORIGINAL = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
let dir, config, stateFile;

const state = () => JSON.parse(readFileSync(stateFile, "utf8"));
const account = (s) => writeFileSync(stateFile, JSON.stringify({ loggedIn: true, kv: [], d1: [], migrations: [], secrets: {}, calls: [], ...s }));

const script = (name, args) =>
  runNode(join(ROOT, "scripts", name), ["--config", config, ...args], {
    cwd: ROOT,
    env: { WRANGLER_BIN: join(ROOT, "tests/helpers/remote-wrangler.mjs"), REMOTE_WRANGLER_STATE: stateFile },
  });
const setup = () => script("setup-cloudflare.mjs", ["--domain", "mcp.example.com"]);
const publicX = (d) => createPublicKey(createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d, x: "" }, format: "jwk" })).export({ format: "jwk" }).x;

before(() => {
  mkdirSync(join(ROOT, "tests/.tmp"), { recursive: true });
  dir = mkdtempSync(join(ROOT, "tests/.tmp/remote-"));
  config = join(dir, "wrangler.toml");
  stateFile = join(dir, "account.json");
  writeFileSync(config, ORIGINAL);
});
after(() => dir && rmSync(dir, { recursive: true, force: true }));

test("not logged in: setup says to run wrangler login and changes nothing", async () => {
  account({ loggedIn: false });
  const r = await setup();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /npx wrangler login/);
  assert.deepEqual(state().calls.map((c) => c.argv[0]), ["whoami"]);
  assert.equal(readFileSync(config, "utf8"), ORIGINAL);
});

test("a new account: creates KV and D1, writes their ids, migrates, stores the key from stdin", async () => {
  account({ noWorker: true });
  const r = await setup();
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const s = state();
  assert.deepEqual(s.kv.map((n) => n.title), ["mcp-oauth-worker-OAUTH_KV"]);
  assert.deepEqual(s.d1.map((d) => d.name), ["mcp-oauth-worker"]);
  const text = readFileSync(config, "utf8");
  assert.match(text, new RegExp(`^id = "${s.kv[0].id}"$`, "m"));
  assert.match(text, new RegExp(`^database_id = "${s.d1[0].uuid}"$`, "m"));
  assert.match(text, /^routes = \[\{ pattern = "mcp\.example\.com", custom_domain = true \}\]$/m);
  assert.match(text, /^ISSUER = "https:\/\/mcp\.example\.com"$/m);
  assert.deepEqual(s.migrations, MIGRATIONS);
  const migrate = s.calls.find((c) => c.argv[1] === "migrations");
  assert.ok(migrate.argv.includes("--remote"));
  const key = s.secrets.JWT_SIGNING_KEY;
  assert.match(key, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(publicX(key), "the secret is a usable Ed25519 seed");
  for (const c of s.calls) assert.ok(!c.argv.join(" ").includes(key), "the key was an argument");
  assert.ok(!(r.stdout + r.stderr).includes(key), "the key was printed");
  assert.match(r.stdout, /KV namespace\s+created/);
  assert.match(r.stdout, /D1 database\s+created/);
});

test("a second run reuses everything and changes nothing", async () => {
  const before = readFileSync(config, "utf8");
  const s0 = state();
  writeFileSync(stateFile, JSON.stringify({ ...s0, calls: [] }));
  const r = await setup();
  assert.equal(r.code, 0, r.stderr);
  const s = state();
  assert.equal(readFileSync(config, "utf8"), before);
  assert.deepEqual([s.kv, s.d1, s.secrets, s.migrations], [s0.kv, s0.d1, s0.secrets, s0.migrations]);
  const writes = s.calls.filter((c) => ["create", "put", "delete"].includes(c.argv[2]) || c.argv[1] === "create" || c.argv[1] === "put");
  assert.deepEqual(writes, []);
  assert.match(r.stdout, /KV namespace\s+reused/);
  assert.match(r.stdout, /D1 database\s+reused/);
  assert.match(r.stdout, /configuration\s+unchanged/);
  assert.match(r.stdout, /D1 migrations\s+unchanged/);
  assert.match(r.stdout, /signing key\s+unchanged/);
});

test("when the secrets cannot be listed, setup stops rather than replace the key", async () => {
  const s0 = state();
  writeFileSync(stateFile, JSON.stringify({ ...s0, secretListBroken: true, calls: [] }));
  const r = await setup();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Could not list the Worker's secrets/);
  assert.deepEqual(state().secrets, s0.secrets);
  assert.ok(!state().calls.some((c) => c.argv[1] === "put"));
  writeFileSync(stateFile, JSON.stringify({ ...s0, calls: [] }));
});

test("a fresh clone on an account that has them: finds them by name and fills in the ids", async () => {
  const s0 = state();
  writeFileSync(config, ORIGINAL);
  const r = await setup();
  assert.equal(r.code, 0, r.stderr);
  const text = readFileSync(config, "utf8");
  assert.match(text, new RegExp(`^id = "${s0.kv[0].id}"$`, "m"));
  assert.match(text, new RegExp(`^database_id = "${s0.d1[0].uuid}"$`, "m"));
  assert.equal(state().kv.length, 1);
  assert.equal(state().d1.length, 1);
});

test("deploy: refuses without the key secret, deploys with it", async () => {
  const s = state();
  writeFileSync(stateFile, JSON.stringify({ ...s, secrets: {}, calls: [] }));
  const refused = await script("deploy.mjs", []);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /the secret JWT_SIGNING_KEY is not set on Cloudflare/);
  assert.equal(state().deployed, undefined);
  writeFileSync(stateFile, JSON.stringify({ ...s, calls: [] }));
  const ok = await script("deploy.mjs", []);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(state().deployed, 1);
  assert.match(ok.stdout, /MCP server URL: https:\/\/mcp\.example\.com\/mcp/);
});

test("key:rotate --remote keeps the deployed key's public half, then --finish drops it", async () => {
  const oldKey = state().secrets.JWT_SIGNING_KEY;
  const w = await startWorker({ bindings: { JWT_SIGNING_KEY: oldKey } });
  try {
    // The deployment is the Worker running here.
    writeFileSync(config, readFileSync(config, "utf8").replace('ISSUER = "https://mcp.example.com"', `ISSUER = "${w.url}"`));
    const r = await script("key-rotate.mjs", ["--remote"]);
    assert.equal(r.code, 0, r.stderr);
    const s = state();
    const previous = JSON.parse(s.secrets.JWT_SIGNING_KEY_PREVIOUS);
    assert.deepEqual(previous, { kty: "OKP", crv: "Ed25519", x: publicX(oldKey) });
    assert.notEqual(s.secrets.JWT_SIGNING_KEY, oldKey);
    const bulk = s.calls.filter((c) => c.argv[1] === "bulk");
    assert.equal(bulk.length, 1, "both keys change in one version");
    assert.ok(!bulk[0].argv.join(" ").includes(s.secrets.JWT_SIGNING_KEY), "the key was an argument");
    assert.ok(!(r.stdout + r.stderr).includes(s.secrets.JWT_SIGNING_KEY), "the key was printed");
  } finally {
    await w.stop();
  }
  const s = state();
  const both = await startWorker({ bindings: { JWT_SIGNING_KEY: s.secrets.JWT_SIGNING_KEY, JWT_SIGNING_KEY_PREVIOUS: s.secrets.JWT_SIGNING_KEY_PREVIOUS } });
  try {
    writeFileSync(config, readFileSync(config, "utf8").replace(/^ISSUER = ".*"$/m, `ISSUER = "${both.url}"`));
    const again = await script("key-rotate.mjs", ["--remote"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already in progress/);
    // The secrets say so even when the JWKS (an older version) still shows one key.
    const s1 = state();
    writeFileSync(stateFile, JSON.stringify({ ...s1, secrets: { ...s1.secrets } }));
    writeFileSync(config, readFileSync(config, "utf8").replace(/^ISSUER = ".*"$/m, `ISSUER = "http://127.0.0.1:9"`));
    const stale = await script("key-rotate.mjs", ["--remote"]);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /already in progress/);
  } finally {
    await both.stop();
  }
  const finish = await script("key-rotate.mjs", ["--remote", "--finish"]);
  assert.equal(finish.code, 0, finish.stderr);
  assert.equal(state().secrets.JWT_SIGNING_KEY_PREVIOUS, undefined);
  const twice = await script("key-rotate.mjs", ["--remote", "--finish"]);
  assert.equal(twice.code, 0, twice.stderr);
  assert.match(twice.stdout, /Nothing to finish/);
});

test("key:rotate --remote refuses an http ISSUER and a JWKS that is not this Worker's", async () => {
  const before = state().secrets;
  writeFileSync(config, readFileSync(config, "utf8").replace(/^ISSUER = ".*"$/m, 'ISSUER = "http://mcp.example.com"'));
  const http = await script("key-rotate.mjs", ["--remote"]);
  assert.equal(http.code, 1);
  assert.match(http.stderr, /not https:\/\/<your domain>/);
  // A server whose JWKS key does not match its kid.
  const w = await startWorker({
    outbound: undefined,
    bindings: { JWT_SIGNING_KEY: state().secrets.JWT_SIGNING_KEY },
  });
  const { createServer } = await import("node:http");
  const jwks = await (await fetch(w.url + "/.well-known/jwks.json")).json();
  await w.stop();
  jwks.keys[0].kid = "not-the-thumbprint";
  const server = createServer((_, res) => res.end(JSON.stringify(jwks))).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  try {
    writeFileSync(config, readFileSync(config, "utf8").replace(/^ISSUER = ".*"$/m, `ISSUER = "http://127.0.0.1:${server.address().port}"`));
    const wrong = await script("key-rotate.mjs", ["--remote"]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /does not publish one Ed25519 key of this Worker/);
  } finally {
    server.close();
  }
  assert.deepEqual(state().secrets, before, "nothing changed");
});
