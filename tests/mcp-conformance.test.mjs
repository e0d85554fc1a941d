// The MCP conformance suite (@modelcontextprotocol/conformance) against the built Worker,
// for every server scenario that applies to this server (the notes' tools and resources), in both eras. The suite
// cannot send a bearer token, so it talks to a local proxy that adds one (a real token
// from the real authorization-code flow). Known, explained exceptions are in
// conformance-baseline.yaml; the README lists the scenarios that do not apply and why.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow } from "./helpers/oauth.mjs";
import { startBearerProxy } from "./helpers/bearer-proxy.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const suite = path.join(root, "node_modules/@modelcontextprotocol/conformance/dist/index.js");
const baseline = path.join(root, "tests/conformance-baseline.yaml");

// [scenario, extra arguments]
const SCENARIOS = [
  ["server-initialize", []],
  ["server-session-lifecycle", []],
  ["ping", []],
  ["tools-list", []],
  ["tools-list", ["--spec-version", "2026-07-28"]],
  ["server-stateless", ["--spec-version", "2026-07-28"]],
  ["caching", []],
  ["sep-2164-resource-not-found", ["--spec-version", "2026-07-28"]],
  ["http-header-validation", ["--suite", "all"]],
  ["dns-rebinding-protection", []],
  ["server-sse-multiple-streams", []],
];

let w, proxy, out;
before(async () => {
  w = await startWorker();
  const alice = await createUser(w.db, "alice@example.com", "alice-password-1");
  const { tokens } = await fullFlow(w.url, alice);
  proxy = await startBearerProxy(w.url, tokens.access_token);
  out = mkdtempSync(path.join(tmpdir(), "mcp-conformance-"));
});
after(async () => {
  await proxy?.stop();
  await w?.stop();
  if (out) rmSync(out, { recursive: true, force: true });
});

/** Runs the suite without blocking this process (the Worker and the proxy live here). */
function run(args) {
  return new Promise((resolve) => {
    // The suite needs Node 22, which runs these tests.
    const child = spawn(process.execPath, [suite, "server", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code) => resolve({ code, output }));
  });
}

for (const [scenario, extra] of SCENARIOS) {
  test(`conformance: ${scenario} ${extra.join(" ")}`.trim(), async (t) => {
    const dir = mkdtempSync(path.join(out, "run-"));
    const { code, output } = await run(["--url", proxy.url + "/mcp", "--scenario", scenario, ...extra, "--expected-failures", baseline, "-o", dir]);
    const [runDir] = readdirSync(dir);
    assert.ok(runDir, `the suite wrote no results:\n${output.slice(-3000)}`);
    const checks = JSON.parse(readFileSync(path.join(dir, runDir, "checks.json"), "utf8"));
    const passed = checks.filter((c) => c.status === "SUCCESS").length;
    const failed = checks.filter((c) => c.status === "FAILURE").map((c) => `${c.id}: ${c.errorMessage ?? ""}`);
    t.diagnostic(`${passed}/${checks.length} checks passed; failures (baselined or not): ${failed.length}`);
    assert.ok(passed > 0, "at least one check ran and passed");
    assert.equal(code, 0, `unexpected failures:\n${failed.join("\n")}\n${output.slice(-2000)}`);
  });
}
