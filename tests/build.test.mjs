// scripts/build.sh (what `npm run dev`, `wrangler dev` and `npm test` build with) skips a
// build whose inputs are unchanged since the last one, and builds again when they are not:
// the stamp build/.inputs holds the hash of every input, and a build is skipped only when
// that hash, build/index.js and build/index_bg.wasm are all there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const build = (env = {}) => spawnSync("bash", ["scripts/build.sh"], { cwd: root, env: { ...process.env, ...env }, encoding: "utf8" });
const wasm = path.join(root, "build", "index_bg.wasm");
const stamp = path.join(root, "build", ".inputs");

test("an unchanged tree is not built again", () => {
  // `npm test` built the Worker just before the end-to-end tests.
  const before = statSync(wasm).mtimeMs;
  const r = build();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /nothing changed since the last build/);
  assert.equal(statSync(wasm).mtimeMs, before, "the wasm was not rewritten");
});

test("a build whose inputs differ from the stamp's builds again, and writes the stamp", () => {
  const hash = readFileSync(stamp, "utf8").trim();
  assert.match(hash, /^[0-9a-f]{64}$/);
  // As if a source file had changed since the last build.
  writeFileSync(stamp, "0".repeat(64) + "\n");
  const before = statSync(wasm).mtimeMs;
  const r = build();
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /nothing changed/);
  assert.ok(statSync(wasm).mtimeMs > before, "the wasm was built again");
  // The tree itself did not change, so the new stamp is the old one.
  assert.equal(readFileSync(stamp, "utf8").trim(), hash);
  const again = build();
  assert.match(again.stderr, /nothing changed since the last build/);
});
