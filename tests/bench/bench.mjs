// `npm run bench`: what each request costs in workerd, side by side with a no-op floor
// Worker and with the peer (tests/bench/peer: the same service written with
// @cloudflare/workers-oauth-provider and the MCP TypeScript SDK), all measured in the same
// run. scripts/bench.sh builds the Rust Workers first; the peer is bundled here, with esbuild.
//
// Each runs in workerd through Miniflare's API (no dev proxy, no inspector, logs dropped),
// on ports the OS chooses. State is prepared through the real endpoints; each scenario is
// driven by wrk at a fixed concurrency for a fixed time after a warm-up. CPU per request is
// the utime+stime of that Worker's workerd process over the run divided by its requests.
// For the token grants, each side also runs in a variant with its storage answered in
// memory (tests/bench/split), which measures its own CPU without the KV/D1 simulators.
// The table goes to tests/bench/RESULTS.md and to stdout. Not part of `npm test`.
//
// BENCH_ONLY=<regex> runs only the rows whose name matches (and what they need), and
// writes the table to tests/bench/.work/RESULTS.md instead, for shorter runs while working.
import { Miniflare } from "miniflare";
import { build } from "esbuild";
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import os from "node:os";
import path from "node:path";
import { startWorker, migrationStatements, newSigningKey } from "../helpers/worker.mjs";
import { createUser, publicClient, pkcePair, authorizeUrl, Browser, formFields, signIn, token } from "../helpers/oauth.mjs";
import { modernCall, MODERN, ACCEPT } from "../helpers/mcp.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const here = path.join(root, "tests/bench");
const work = path.join(here, ".work");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CONCURRENCY = 16;
const CLK_TCK = 100; // Linux's USER_HZ: /proc times are in hundredths of a second
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY, "i") : null;
const wanted = (name) => !ONLY || ONLY.test(name);
// The newest MCP version the SDK's transport accepts (it refuses 2026-07-28 with a 400);
// the peer's requests carry it, and are otherwise the same as ours.
const PEER_MCP_VERSION = "2025-11-25";
const PEER_USER = { email: "peer@example.com", password: "peer-password-1" };
const PEER_SCOPE = "mcp:read mcp:write offline_access";

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const log = (...a) => console.error("[bench]", ...a);

// --- processes ----------------------------------------------------------------------------

function workerdPids() {
  const pids = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm === "workerd" && ppid === process.pid) pids.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** utime+stime of a process (all its threads), in milliseconds. */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Starts `start()` and returns its result with the pid of the workerd it spawned. */
async function withPid(start) {
  const before = new Set(workerdPids());
  const t0 = performance.now();
  const instance = await start();
  const readyMs = performance.now() - t0;
  const pid = workerdPids().find((p) => !before.has(p));
  if (!pid) throw new Error("could not find the workerd process");
  // A start that times its own ready (Miniflare's ready, before the harness writes any
  // schema) says so; otherwise the whole start counts.
  return { ...instance, pid, readyMs: instance.readyMs ?? readyMs };
}

async function startFloor() {
  const t0 = performance.now();
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    modules: true,
    scriptPath: path.join(here, "floor/build/index.js"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-06-01",
    handleStructuredLogs: () => {},
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, mf, readyMs: performance.now() - t0, stop: () => mf.dispose() };
}

/** Bundles the peer as wrangler would (esbuild, ES module, not minified). */
async function buildPeer() {
  await build({
    entryPoints: [path.join(here, "peer/src/index.js")],
    outfile: path.join(here, "peer/build/index.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["browser", "module", "main"],
    target: "es2022",
    external: ["cloudflare:*"],
    logLevel: "warning",
  });
}

/** A port the OS says is free: the peer must know its origin when it starts. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The peer in workerd, with a fresh KV namespace and D1 database (its notes schema). */
async function startPeer({ inMemory = false } = {}) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const bundle = path.join(here, "peer/build/index.js");
  const mf = new Miniflare({
    host: "127.0.0.1",
    port,
    // The bundle is one module, given as it is: left to find its imports, Miniflare would
    // parse its megabyte in Node first, which is no part of workerd's start.
    ...(inMemory
      ? { modules: true, modulesRoot: here, scriptPath: path.join(here, "split/peer.mjs"), modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }] }
      : { modules: [{ type: "ESModule", path: bundle, contents: readFileSync(bundle, "utf8") }] }),
    compatibilityDate: "2026-06-01",
    kvNamespaces: { OAUTH_KV: "peer-oauth-kv" },
    d1Databases: { DB: "peer-notes" },
    bindings: {
      PUBLIC_ORIGIN: origin,
      PEER_EMAIL: PEER_USER.email,
      PEER_PASSWORD_SHA256: createHash("sha256").update(PEER_USER.password).digest("hex"),
    },
    outboundService: () => new Response("the bench has no internet", { status: 502 }),
    handleStructuredLogs: () => {},
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const readyMs = performance.now() - t0;
  if (url !== origin) throw new Error(`the peer listens at ${url}, not ${origin}`);
  const db = await mf.getD1Database("DB");
  for (const statement of readFileSync(path.join(here, "peer/schema.sql"), "utf8").split(/\n\s*\n/)) {
    const sql = statement.replace(/^--.*$/gm, "").trim();
    if (sql) await db.prepare(sql).run();
  }
  return { url, mf, db, readyMs, stop: () => mf.dispose() };
}

/**
 * This Worker in workerd with the options of tests/helpers/worker.mjs's startWorker, but
 * with another entry module (split/ours.mjs: its storage answered in memory) or without the
 * D1 migrations (for the cold start, which times Miniflare's ready alone).
 */
async function startOurs({ scriptPath = path.join(root, "build/index.js"), migrate = true } = {}) {
  const t0 = performance.now();
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    modules: true,
    modulesRoot: root,
    scriptPath,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2026-06-01",
    kvNamespaces: { OAUTH_KV: "00000000000000000000000000000000" },
    d1Databases: { DB: "00000000-0000-0000-0000-000000000000" },
    durableObjects: { SSE_SESSIONS: { className: "SseSession", useSQLite: true } },
    bindings: { JWT_SIGNING_KEY: newSigningKey() },
    outboundService: () => new Response("the bench has no internet", { status: 502 }),
    handleStructuredLogs: () => {},
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const readyMs = performance.now() - t0;
  const db = migrate ? await mf.getD1Database("DB") : null;
  if (migrate) for (const statement of migrationStatements()) await db.prepare(statement).run();
  return { url, mf, db, readyMs, stop: () => mf.dispose() };
}

const startOursInMemory = () => startOurs({ scriptPath: path.join(here, "split/ours.mjs") });

// --- wrk -----------------------------------------------------------------------------------

function luaString(s) {
  return "[==[" + s + "]==]";
}

/** A wrk script that sends one fixed request. */
function fixedScript(name, { method = "GET", path: p, headers = {}, body }) {
  // The path goes on wrk's command line: wrk sets wrk.path from the URL after a script's
  // top level has run, so a path set here would be overwritten.
  const lines = [`wrk.method = "${method}"`];
  for (const [k, v] of Object.entries(headers)) lines.push(`wrk.headers[ ${luaString(k)} ] = ${luaString(v)}`);
  if (body !== undefined) lines.push(`wrk.body = ${luaString(body)}`);
  // The first failure of each thread is printed, so an error column is explained.
  lines.push('local shown = false', 'function response(status, headers, body)', '  if status ~= 200 and not shown then shown = true; print("FAIL " .. status .. " " .. body:sub(1, 300)) end', "end");
  const file = path.join(work, name + ".lua");
  writeFileSync(file, lines.join("\n") + "\n");
  return { file, path: p };
}

/** Lua table fields for request headers. */
function luaHeaders(headers) {
  return Object.entries({ "Content-Type": "application/x-www-form-urlencoded", ...headers })
    .map(([k, v]) => `[ ${luaString(k)} ] = ${luaString(v)}`)
    .join(", ");
}

/** A wrk script where each thread (one connection each) follows its own refresh chain. */
function refreshScript(name, clientId, tokens, headers = {}) {
  const file = path.join(work, name + ".lua");
  writeFileSync(
    file,
    `local tokens = {${tokens.map(luaString).join(",")}}
local n = 0
function setup(thread) n = n + 1; thread:set("token", tokens[n]) end
function request()
  return wrk.format("POST", "/token", {${luaHeaders(headers)}},
    "grant_type=refresh_token&client_id=${clientId}&refresh_token=" .. token)
end
local shown = false
function response(status, headers, body)
  local t = body:match('"refresh_token":"([^"]+)"')
  if t then token = t end
  if status ~= 200 and not shown then shown = true; print("FAIL " .. status .. " " .. body:sub(1, 300)) end
end
`,
  );
  return { file, path: "/token" };
}

/** A wrk script where the threads share out prepared authorization codes. */
function codeScript(name, { clientId, verifier, redirectUri }, codes, headers = {}) {
  const file = path.join(work, name + ".lua");
  const redirect = encodeURIComponent(redirectUri);
  writeFileSync(
    file,
    `local codes = {${codes.map(luaString).join(",\n")}}
local n = 0
local threads = {}
function setup(thread) n = n + 1; thread:set("next", n); threads[n] = thread end
function request()
  local code = codes[next] or "exhausted"
  last = code
  next = next + ${CONCURRENCY}
  return wrk.format("POST", "/token", {${luaHeaders(headers)}},
    "grant_type=authorization_code&client_id=${clientId}&code_verifier=${verifier}&redirect_uri=${redirect}&code=" .. code)
end
local shown = false
function response(status, headers, body)
  if status ~= 200 and not shown then shown = true; print("FAIL " .. status .. " " .. body:sub(1, 300) .. " (code " .. last .. ")") end
  -- A connection that has used its share of the codes stops, rather than send bad ones.
  if codes[next] == nil then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local stopped = 0
  for _, t in ipairs(threads) do if codes[t:get("next")] == nil then stopped = stopped + 1 end end
  if stopped > 0 then print("STOPPED " .. stopped .. " connections ran out of codes") end
end
`,
  );
  return { file, path: "/token" };
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${out}`))));
  });
}

function parseDuration(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60000 }[m[2]];
}

function parseWrk(out) {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p50 = parseDuration(/\s50%\s+(\S+)/.exec(out)?.[1] ?? "");
  const p99 = parseDuration(/\s99%\s+(\S+)/.exec(out)?.[1] ?? "");
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { requests, rps, p50, p99, errors };
}

/** Sends `shape` once and checks the answer, so a scenario never measures an error page. */
async function probe(target, shape, expect) {
  const res = await fetch(target.url + shape.path, { method: shape.method ?? "GET", headers: shape.headers, body: shape.body });
  const text = await res.text();
  if (res.status !== 200 || !expect.test(text)) throw new Error(`probe of ${shape.path} got ${res.status}: ${text.slice(0, 300)}`);
  return text;
}

/** Warm up, then measure one scenario against one Worker. */
async function measure(target, script, warmupScript = script) {
  const wrkArgs = (s, seconds) => ["-t", String(CONCURRENCY), "-c", String(CONCURRENCY), "-d", `${seconds}s`, "--latency", "-s", s.file, target.url + s.path];
  if (WARMUP > 0) await run("wrk", wrkArgs(warmupScript, WARMUP));
  const before = cpuMs(target.pid);
  const out = await run("wrk", wrkArgs(script, SECONDS));
  const cpu = cpuMs(target.pid) - before;
  const r = parseWrk(out);
  writeFileSync(script.file.replace(/\.lua$/, ".out"), out);
  if (/\.lua: /.test(out)) throw new Error(`wrk could not run ${script.file}: ${out.split("\n")[0]}`);
  const failures = out.split("\n").filter((l) => l.startsWith("FAIL "));
  if (failures.length) log(`${script.path}: ${r.errors} errors, for example: ${failures[0]}`);
  const stopped = /^STOPPED (.*)$/m.exec(out);
  if (stopped) log(`${path.basename(script.file)}: ${stopped[1]} before the end`);
  return { ...r, cpuPerRequest: r.requests ? cpu / r.requests : NaN };
}

// --- preparing state through the real endpoints ------------------------------------------

const WORDS = (
  "budget meeting travel invoice garden recipe project launch review design draft report " +
  "client contract renewal deadline holiday flight hotel dinner birthday gift doctor dentist " +
  "insurance tax receipt password router backup server deploy incident postmortem roadmap " +
  "quarter sales hiring interview onboarding laptop monitor keyboard coffee tea lunch train " +
  "ticket museum concert book film podcast article idea sketch prototype feedback survey " +
  "customer support refund shipping warehouse inventory supplier order payment salary bonus"
).split(" ");

// Besides 40 common words, each note has one long-tail word `topicN` (N < 500): the kind
// of word people actually search their notes for. At 1,000 notes it is in 2 notes, at
// 10,000 in 20, so the rare-word rows show how search grows when matches grow with the
// data but stay few; the common-word rows ("budget meeting" is in about two thirds of
// all notes) are the worst case.
const RARE_QUERY = "topic123";

function noteText(i) {
  const words = [`topic${i % 500}`];
  let x = (i * 2654435761) >>> 0;
  for (let k = 0; k < 40; k++) {
    x = (x * 1103515245 + 12345) >>> 0;
    words.push(WORDS[x % WORDS.length]);
  }
  return words.join(" ");
}

async function inParallel(count, fn, width = CONCURRENCY) {
  let next = 0;
  const results = new Array(count);
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await fn(i);
      }
    }),
  );
  return results;
}

async function storeNotes(url, accessToken, from, to) {
  await inParallel(to - from, async (k) => {
    const i = from + k;
    const r = await modernCall(url, accessToken, "tools/call", { name: "memory_store", arguments: { title: `Note ${i}: ${WORDS[i % WORDS.length]}`, text: noteText(i), tags: ["bench"] } });
    if (r.status !== 200 || r.json?.result?.isError) throw new Error("memory_store failed: " + r.text);
  });
}

/** The consent form of one authorization request, signed in: codes for it are one POST each. */
async function consentForm(url, client, user) {
  const { verifier, challenge } = pkcePair();
  const browser = new Browser();
  const page = await browser.get(authorizeUrl(url, client, { challenge, state: "bench" }));
  const consent = await signIn(url, browser, await page.text(), user);
  const fields = formFields(await consent.text());
  return {
    verifier,
    async code() {
      const res = await browser.post(url + "/authorize", { ...fields, action: "approve" });
      const location = res.headers.get("location");
      if (res.status !== 302 || !location) throw new Error("approve failed: " + res.status);
      return new URL(location).searchParams.get("code");
    },
  };
}

/**
 * The peer's authorization page, signed in and approved once per code: its consent handle
 * works once, so each code is a GET and a POST of /authorize, as a browser would do them.
 */
function peerConsent(url, client) {
  const { verifier, challenge } = pkcePair();
  const start = authorizeUrl(url, client, { challenge, state: "bench", scope: PEER_SCOPE });
  return {
    verifier,
    async code() {
      const browser = new Browser();
      const page = await browser.get(start);
      const html = await page.text();
      if (page.status !== 200) throw new Error("peer authorize page: " + page.status + " " + html.slice(0, 300));
      const res = await browser.post(url + "/authorize", { ...formFields(html), email: PEER_USER.email, password: PEER_USER.password, decision: "approve" });
      const location = res.headers.get("location");
      if (res.status !== 302 || !location) throw new Error("peer approve failed: " + res.status + " " + (await res.text()).slice(0, 300));
      return new URL(location).searchParams.get("code");
    },
  };
}

async function refreshTokens(url, client, form, count) {
  return inParallel(count, async () => {
    const t = await token(url, { grant_type: "authorization_code", code: await form.code(), code_verifier: form.verifier, client_id: client.client_id, redirect_uri: client.redirect_uris[0], resource: url + "/mcp" });
    if (t.status !== 200) throw new Error("code exchange failed: " + JSON.stringify(t.body));
    return t.body;
  });
}

// --- the run -------------------------------------------------------------------------------

function mcpRequest(accessToken, method, params, version = MODERN) {
  const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { ...params, _meta: { "io.modelcontextprotocol/protocolVersion": version, "io.modelcontextprotocol/clientCapabilities": {} } } });
  const headers = { "Content-Type": "application/json", Accept: ACCEPT, Authorization: "Bearer " + accessToken, "MCP-Protocol-Version": version, "Mcp-Method": method };
  if (method === "tools/call") headers["Mcp-Name"] = params.name;
  return { method: "POST", path: "/mcp", headers, body };
}

async function coldStart(start, first = "/.well-known/jwks.json") {
  const t = await withPid(start);
  const t0 = performance.now();
  const res = await fetch(t.url + first);
  await res.arrayBuffer();
  const firstMs = performance.now() - t0;
  await t.stop();
  return { readyMs: t.readyMs, firstMs };
}

function sizes() {
  const wasm = readFileSync(path.join(root, "build/index_bg.wasm"));
  const js = readFileSync(path.join(root, "build/index.js"));
  const floorWasm = readFileSync(path.join(here, "floor/build/index_bg.wasm"));
  const peerJs = readFileSync(path.join(here, "peer/build/index.js"));
  // wrangler.toml without its [build] table: a dry run would otherwise run the custom build
  // (scripts/build.sh) again, over the Worker scripts/bench.sh has just built.
  const config = readFileSync(path.join(root, "wrangler.toml"), "utf8")
    .replace(/^\[build\]\n(?:(?!\[).*\n)*/m, "")
    .replace(/^(main|migrations_dir) = "(.*)"$/gm, (_, key, value) => `${key} = ${JSON.stringify(path.join(root, value))}`);
  if (/^\[build\]/m.test(config)) throw new Error("could not take [build] out of wrangler.toml");
  writeFileSync(path.join(work, "wrangler.toml"), config);
  const dry = execFileSync(process.execPath, [path.join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--config", path.join(work, "wrangler.toml")], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const upload = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(dry);
  return {
    wasmRaw: wasm.length,
    wasmGzip: gzipSync(wasm, { level: 9 }).length,
    jsRaw: js.length,
    floorWasmRaw: floorWasm.length,
    floorWasmGzip: gzipSync(floorWasm, { level: 9 }).length,
    peerJsRaw: peerJs.length,
    peerJsGzip: gzipSync(peerJs, { level: 9 }).length,
    uploadKiB: Number(upload?.[1]),
    uploadGzipKiB: Number(upload?.[2]),
  };
}

function version(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split("\n")[0].trim();
  } catch (e) {
    return (e.stdout || e.stderr || "").split("\n")[0].trim() || "unknown";
  }
}

/**
 * The token grants against one Worker: refresh chains (one per connection) and codes minted
 * beforehand. `headers` go with every measured request (the in-memory variants' switch).
 */
async function grants(t, client, form, { label, refresh: doRefresh, code: doCode, headers = {}, estimateRps = 1000, beforeMeasuring }) {
  const out = { refresh: null, exchange: null };
  if (doRefresh) {
    const chains = await refreshTokens(t.url, client, form, CONCURRENCY * 2);
    await beforeMeasuring?.();
    const ids = (list) => list.map((x) => x.refresh_token);
    out.refresh = await measure(
      t,
      refreshScript(`${label}-refresh`, client.client_id, ids(chains.slice(0, CONCURRENCY)), headers),
      refreshScript(`${label}-refresh-warm`, client.client_id, ids(chains.slice(CONCURRENCY)), headers),
    );
  } else {
    await beforeMeasuring?.();
  }
  if (doCode) {
    // Code exchanges run at up to about twice the refresh rate of the same Worker. Each
    // connection has its own share of the codes, and connections do not keep pace (one
    // has been seen to make twice the average): one that runs out stops (codeScript),
    // and the table shows the requests made, over the whole run.
    const rps = out.refresh?.rps ?? estimateRps;
    const needed = Math.ceil(rps * 2.5 * SECONDS) + 400;
    const warm = Math.ceil(rps * 2.5 * WARMUP) + 200;
    const t0 = performance.now();
    const codes = await inParallel(needed + warm, () => form.code());
    log(`${label}: minted ${needed + warm} authorization codes in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const info = { clientId: client.client_id, verifier: form.verifier, redirectUri: client.redirect_uris[0] };
    out.exchange = await measure(t, codeScript(`${label}-code`, info, codes.slice(0, needed), headers), codeScript(`${label}-code-warm`, info, codes.slice(needed), headers));
  }
  return out;
}

const NAMES = {
  metadata: "GET /.well-known/oauth-authorization-server",
  jwks: "GET /.well-known/jwks.json",
  list: "POST /mcp tools/list (bearer token)",
  about: "POST /mcp tools/call about (no storage)",
  search1k: "POST /mcp tools/call search, common words, 1,000 notes",
  rare1k: "POST /mcp tools/call search, a rare word, 1,000 notes",
  refresh: "POST /token refresh_token (rotation chain per connection)",
  code: "POST /token authorization_code exchange",
  search10k: "POST /mcp tools/call search, common words, 10,000 notes",
  rare10k: "POST /mcp tools/call search, a rare word, 10,000 notes",
  split: "token grants with storage in memory (the Worker's own CPU)",
  gwAbout: "POST /mcp tools/call about, with an upstream configured",
  gateway: "POST /mcp tools/call through the gateway (a trivial upstream tool)",
  size: "size and cold start",
};

/**
 * The gateway's upstream for the bench: a trivial MCP server at 2026-07-28 (stateless, so
 * no session round trips), answered in Node through a service binding. Node's time is
 * not in the measured workerd's CPU: the upstream's time is the upstream's.
 */
async function trivialUpstream(request) {
  const m = JSON.parse(await request.text());
  const answer = (result) => new Response(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: { ...result, resultType: "complete" } }), { headers: { "Content-Type": "application/json" } });
  if (m.method === "server/discover") return answer({ supportedVersions: ["2026-07-28"], capabilities: { tools: {} } });
  if (m.method === "tools/list") {
    return answer({ tools: [{ name: "echo", description: "Says what it was given.", inputSchema: { type: "object", properties: { text: { type: "string" } } }, annotations: { readOnlyHint: true } }] });
  }
  if (m.method === "tools/call") return answer({ content: [{ type: "text", text: String(m.params?.arguments?.text ?? "") }] });
  return new Response(JSON.stringify({ jsonrpc: "2.0", id: m.id, error: { code: -32601, message: "Method not found" } }), { headers: { "Content-Type": "application/json" } });
}

async function main() {
  if (ONLY) log(`only the rows matching ${ONLY}`);
  log("bundling the peer");
  await buildPeer();

  let size = null;
  let cold = null;
  if (wanted(NAMES.size)) {
    log("sizes and cold starts");
    size = sizes();
    cold = {
      worker: await coldStart(() => startOurs({ migrate: false })),
      floor: await coldStart(startFloor),
      // The peer has no JWKS: its first answer is its metadata.
      peer: await coldStart(() => startPeer(), "/.well-known/oauth-authorization-server"),
    };
  }

  log("starting the Workers");
  const w = await withPid(() => startWorker({ keepLogs: false }));
  const floor = await withPid(startFloor);
  const peer = await withPid(() => startPeer());
  const stops = [w, floor, peer];
  const rows = {};
  const floors = {};
  let split = null;
  try {
    log("preparing state through the endpoints");
    const user = await createUser(w.db, "bench@example.com", "bench-password-1");
    const client = await publicClient(w.url, "https://app.example/callback", { client_name: "Bench" });
    const form = await consentForm(w.url, client, user);
    const [first] = await refreshTokens(w.url, client, form, 1);
    const access = first.access_token;
    const peerClient = await publicClient(peer.url, "https://app.example/callback", { client_name: "Bench" });
    const peerForm = peerConsent(peer.url, peerClient);
    const [peerFirst] = await refreshTokens(peer.url, peerClient, peerForm, 1);
    const peerAccess = peerFirst.access_token;

    const floorFor = async (shape, script) => (floors[shape] ??= await measure(floor, script));
    const add = (key, shape, floorResult, ours, peerResult = null, peerNote = null) => {
      rows[key] = { name: NAMES[key], shape, ours, floor: floorResult, peer: peerResult, peerNote };
      const p = peerResult ? `, peer ${peerResult.cpuPerRequest.toFixed(3)}` : "";
      log(`${NAMES[key]}: ${ours.rps.toFixed(0)} req/s, ${ours.cpuPerRequest.toFixed(3)} ms CPU/req (floor ${floorResult.cpuPerRequest.toFixed(3)}${p})`);
    };

    const get = (p) => ({ path: p });
    const floorGet = () => floorFor("GET", fixedScript("floor-get", get("/.well-known/oauth-authorization-server")));
    if (wanted(NAMES.metadata)) {
      await probe(peer, get("/.well-known/oauth-authorization-server"), /"issuer"/);
      add("metadata", "GET", await floorGet(), await measure(w, fixedScript("metadata", get("/.well-known/oauth-authorization-server"))), await measure(peer, fixedScript("peer-metadata", get("/.well-known/oauth-authorization-server"))));
    }
    if (wanted(NAMES.jwks)) {
      await probe(w, get("/.well-known/jwks.json"), /"keys"/);
      const none = await fetch(peer.url + "/.well-known/jwks.json");
      await none.arrayBuffer();
      add("jwks", "GET", await floorGet(), await measure(w, fixedScript("jwks", get("/.well-known/jwks.json"))), null, `none (${none.status}): its access tokens are opaque, checked against KV`);
    }

    const listShape = mcpRequest(access, "tools/list", {});
    const floorMcp = () => floorFor("POST /mcp", fixedScript("floor-mcp", listShape));
    if (wanted(NAMES.list)) {
      await probe(w, listShape, /"memory_store"/);
      const peerList = mcpRequest(peerAccess, "tools/list", {}, PEER_MCP_VERSION);
      await probe(peer, peerList, /"memory_store"/);
      add("list", "POST /mcp", await floorMcp(), await measure(w, fixedScript("tools-list", listShape)), await measure(peer, fixedScript("peer-tools-list", peerList)));
    }
    // A tool call that touches no storage: what search costs beyond it is its D1 query, which
    // runs in this same workerd process here (SQLite) but outside the Worker on Cloudflare.
    if (wanted(NAMES.about)) {
      const aboutShape = mcpRequest(access, "tools/call", { name: "about", arguments: {} });
      await probe(w, aboutShape, /\\"signed_in\\":true|"signed_in":true/);
      const peerAbout = mcpRequest(peerAccess, "tools/call", { name: "about", arguments: {} }, PEER_MCP_VERSION);
      await probe(peer, peerAbout, /\\"signed_in\\":true|"signed_in":true/);
      add("about", "POST /mcp", await floorMcp(), await measure(w, fixedScript("about", aboutShape)), await measure(peer, fixedScript("peer-about", peerAbout)));
    }

    const searchShape = mcpRequest(access, "tools/call", { name: "search", arguments: { query: "budget meeting" } });
    const rareShape = mcpRequest(access, "tools/call", { name: "search", arguments: { query: RARE_QUERY } });
    const searchKeys = ["search1k", "rare1k", "search10k", "rare10k"].filter((k) => wanted(NAMES[k]));
    if (searchKeys.length) {
      log("storing 1,000 notes");
      await storeNotes(w.url, access, 0, 1000);
    }
    if (wanted(NAMES.search1k)) {
      log("search answers: " + (await probe(w, searchShape, /"isError":false|"results"/)).slice(0, 300));
      add("search1k", "POST /mcp", await floorMcp(), await measure(w, fixedScript("search", searchShape)));
    }
    if (wanted(NAMES.rare1k)) {
      log("rare-word search answers: " + (await probe(w, rareShape, /"isError":false|"results"/)).slice(0, 300));
      add("rare1k", "POST /mcp", await floorMcp(), await measure(w, fixedScript("search-rare", rareShape)));
    }

    const tokenShape = { method: "POST", path: "/token", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "grant_type=refresh_token&refresh_token=x&client_id=y" };
    const floorToken = () => floorFor("POST /token", fixedScript("floor-token", tokenShape));
    const which = { refresh: wanted(NAMES.refresh), code: wanted(NAMES.code) };
    if (which.refresh || which.code) {
      log("token grants");
      const ft = await floorToken();
      const ours = await grants(w, client, form, { label: "ours", ...which });
      const theirs = await grants(peer, peerClient, peerForm, { label: "peer", ...which });
      if (ours.refresh) add("refresh", "POST /token", ft, ours.refresh, theirs.refresh);
      if (ours.exchange) add("code", "POST /token", ft, ours.exchange, theirs.exchange);
    }
    if (wanted(NAMES.split)) {
      log("token grants with storage in memory");
      const ft = await floorToken();
      split = { ours: await splitGrants("ours-memory", startOursInMemory, async (t) => {
        const u = await createUser(t.db, "bench@example.com", "bench-password-1");
        const c = await publicClient(t.url, "https://app.example/callback", { client_name: "Bench" });
        return { client: c, form: await consentForm(t.url, c, u) };
      }), peer: await splitGrants("peer-memory", () => startPeer({ inMemory: true }), async (t) => {
        const c = await publicClient(t.url, "https://app.example/callback", { client_name: "Bench" });
        return { client: c, form: peerConsent(t.url, c) };
      }), floor: ft };
    }

    // The gateway: a second instance of this Worker with one upstream configured; the same
    // call to the built-in `about` on it is the comparison, so both pay what having
    // upstreams configured costs.
    if (wanted(NAMES.gateway) || wanted(NAMES.gwAbout)) {
      log("the gateway");
      const g = await withPid(() => startWorker({
        keepLogs: false,
        bindings: { UPSTREAMS: JSON.stringify([{ name: "up", service: "UP" }]) },
        serviceBindings: { UP: trivialUpstream },
      }));
      stops.push(g);
      const gUser = await createUser(g.db, "bench@example.com", "bench-password-1");
      const gClient = await publicClient(g.url, "https://app.example/callback", { client_name: "Bench" });
      const [gFirst] = await refreshTokens(g.url, gClient, await consentForm(g.url, gClient, gUser), 1);
      const viaGateway = mcpRequest(gFirst.access_token, "tools/call", { name: "up_echo", arguments: { text: "hello" } });
      const gAbout = mcpRequest(gFirst.access_token, "tools/call", { name: "about", arguments: {} });
      await probe(g, viaGateway, /"text":"hello"/);
      await probe(g, gAbout, /\\"signed_in\\":true|"signed_in":true/);
      add("gwAbout", "POST /mcp", await floorMcp(), await measure(g, fixedScript("gateway-about", gAbout)));
      add("gateway", "POST /mcp", await floorMcp(), await measure(g, fixedScript("gateway-call", viaGateway)));
    }

    if (searchKeys.some((k) => k.endsWith("10k"))) {
      log("storing 9,000 more notes");
      await storeNotes(w.url, access, 1000, 10000);
    }
    if (wanted(NAMES.search10k)) add("search10k", "POST /mcp", await floorMcp(), await measure(w, fixedScript("search-10k", searchShape)));
    if (wanted(NAMES.rare10k)) add("rare10k", "POST /mcp", await floorMcp(), await measure(w, fixedScript("search-rare-10k", rareShape)));

    const cpu = (k) => rows[k]?.ours.cpuPerRequest;
    const peerCpu = (k) => rows[k]?.peer?.cpuPerRequest;
    const mcpFloor = floors["POST /mcp"]?.cpuPerRequest;
    const tokenFloor = floors["POST /token"]?.cpuPerRequest;
    const own = (side, field) => split?.[side]?.[field]?.cpuPerRequest;
    // Every budget is a ratio measured in this one run (these machines are noisy); the
    // gateway's is the issue's own: CPU added to a call, in milliseconds.
    const budgets = [
      budget("tools/list CPU ≤ 1.3× floor", cpu("list") / mcpFloor, 1.3, "×"),
      budget("tools/list CPU ≤ 0.5× the peer", cpu("list") / peerCpu("list"), 0.5, "×"),
      budget("refresh grant, the Worker's own CPU ≤ 0.5× the peer's own", own("ours", "refresh") / own("peer", "refresh"), 0.5, "×"),
      budget("refresh grant, in total ≤ 4× floor", cpu("refresh") / tokenFloor, 4, "×"),
      budget("code exchange, the Worker's own CPU ≤ 0.5× the peer's own", own("ours", "exchange") / own("peer", "exchange"), 0.5, "×"),
      budget("code exchange, in total ≤ 4× floor", cpu("code") / tokenFloor, 4, "×"),
      budget("search (a rare word) at 10,000 notes CPU ≤ 3× floor", cpu("rare10k") / mcpFloor, 3, "×"),
      budget("search (a rare word) at 10,000 notes CPU ≤ 1.5× its cost at 1,000", cpu("rare10k") / cpu("rare1k"), 1.5, "×"),
      budget("search (common words, worst case) at 10,000 notes CPU ≤ 3× floor", cpu("search10k") / mcpFloor, 3, "×"),
      budget("search (common words, worst case) at 10,000 notes CPU ≤ 1.5× its cost at 1,000", cpu("search10k") / cpu("search1k"), 1.5, "×"),
      budget("a call through the gateway: CPU beyond the same Worker's about ≤ 0.5 ms", cpu("gateway") - cpu("gwAbout"), 0.5, " ms"),
      budget("cold start (workerd start to ready) ≤ 3× the floor's", cold ? cold.worker.readyMs / cold.floor.readyMs : NaN, 3, "×"),
      budget("upload ≤ 302 KiB gzipped (wrangler deploy --dry-run)", size ? size.uploadGzipKiB : NaN, 302, " KiB"),
    ].filter((b) => Number.isFinite(b.value));
    const report = render({ rows: Object.values(rows), floors, split, size, cold, budgets });
    writeFileSync(ONLY ? path.join(work, "RESULTS.md") : path.join(here, "RESULTS.md"), report);
    console.log(report);
    if (ONLY) log("a partial run: the table is in tests/bench/.work/RESULTS.md");
  } finally {
    for (const t of stops) await t.stop();
  }
}

/**
 * One side's grants with its storage in memory (split/): its own workerd, state prepared
 * through its endpoints with the real storage answering D1, then both grants measured
 * with the replaying storage. Returns the two results and what the replay did.
 */
async function splitGrants(label, start, prepare) {
  const t = await withPid(start);
  let calls = null;
  try {
    const { client, form } = await prepare(t);
    const result = await grants(t, client, form, {
      label,
      refresh: true,
      code: true,
      headers: { "X-Bench-Storage": "replay" },
      beforeMeasuring: async () => {
        // The answers to replay: a refresh (code exchanges are already recorded).
        const [one] = await refreshTokens(t.url, client, form, 1);
        const r = await token(t.url, { grant_type: "refresh_token", refresh_token: one.refresh_token, client_id: client.client_id });
        if (r.status !== 200) throw new Error(`${label}: the recorded refresh failed: ${JSON.stringify(r.body)}`);
        calls = await storageCalls(t, client, form);
      },
    });
    const stats = await (await fetch(t.url + "/__bench/stats")).json();
    log(`${label}: ${stats.replayed} answers replayed, ${stats.misses.length} statements missed${stats.misses.length ? ": " + stats.misses.join(" | ") : ""}`);
    if (stats.misses.length) throw new Error(`${label}: statements reached the database during a replayed run`);
    log(`${label}: refresh ${result.refresh.cpuPerRequest.toFixed(3)} ms, code ${result.exchange.cpuPerRequest.toFixed(3)} ms CPU/req`);
    return { ...result, stats, calls };
  } finally {
    await t.stop();
  }
}

/**
 * The storage calls of one replayed refresh and one replayed code exchange, counted by the
 * in-memory storage over a few sequential requests of each.
 */
async function storageCalls(t, client, form, n = 20) {
  const replay = { "X-Bench-Storage": "replay" };
  const snapshot = async () => (await (await fetch(t.url + "/__bench/stats")).json()).calls.replay;
  const perRequest = (before, after) =>
    Object.fromEntries(Object.entries(after).map(([op, v]) => [op, (v - (before[op] ?? 0)) / n]).filter(([, v]) => v > 0));
  let [{ refresh_token: refreshToken }] = await refreshTokens(t.url, client, form, 1);
  const codes = await inParallel(n, () => form.code());
  let before = await snapshot();
  for (let i = 0; i < n; i++) {
    const r = await token(t.url, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: client.client_id }, replay);
    if (r.status !== 200) throw new Error("a replayed refresh failed: " + JSON.stringify(r.body));
    refreshToken = r.body.refresh_token;
  }
  const refresh = perRequest(before, await snapshot());
  before = await snapshot();
  for (const code of codes) {
    const r = await token(t.url, { grant_type: "authorization_code", code, code_verifier: form.verifier, client_id: client.client_id, redirect_uri: client.redirect_uris[0] }, replay);
    if (r.status !== 200) throw new Error("a replayed code exchange failed: " + JSON.stringify(r.body));
  }
  return { refresh, exchange: perRequest(before, await snapshot()) };
}

function budget(name, value, limit, unit) {
  return { name, value, limit, unit, met: value <= limit };
}

const f = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");

function render({ rows, floors, split, size, cold, budgets }) {
  const cpus = os.cpus();
  const lines = [];
  lines.push("# Benchmark results", "");
  lines.push(`Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. Do not edit by hand.${ONLY ? ` A partial run: BENCH_ONLY=${process.env.BENCH_ONLY}.` : ""}`, "");
  lines.push("## Machine and versions", "");
  lines.push(`- ${cpus[0]?.model ?? "unknown CPU"}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}`);
  lines.push(`- Node ${process.versions.node}; workerd ${version(path.join(root, "node_modules/workerd/bin/workerd"), ["--version"])}; wrangler ${pkgVersion("wrangler")}; miniflare ${pkgVersion("miniflare")}`);
  lines.push(`- ${version("rustc", ["--version"])}; ${version("wrk", ["--version"])}`);
  lines.push(`- the peer: @cloudflare/workers-oauth-provider ${pkgVersion("@cloudflare/workers-oauth-provider")}, @modelcontextprotocol/sdk ${pkgVersion("@modelcontextprotocol/sdk")}, zod ${pkgVersion("zod")}, bundled with esbuild ${pkgVersion("esbuild")}`);
  lines.push("");
  lines.push("## How", "");
  lines.push(`\`npm run bench\` (BENCH_SECONDS=${SECONDS}, BENCH_WARMUP_SECONDS=${WARMUP}). Each row: \`wrk -t ${CONCURRENCY} -c ${CONCURRENCY} -d ${SECONDS}s --latency -s <script>\` after a ${WARMUP} s warm-up with the same script. CPU is the workerd process's utime+stime over the run divided by the requests; for this Worker and the peer that includes the local KV and D1 simulators (SQLite) running in the same process, so it is an upper bound on the CPU Cloudflare bills. The floor is a no-op Rust Worker (tests/bench/floor) built the same way, measured with the same request shape in the same run. "workerd start to ready" runs from creating the Miniflare instance to its ready promise; the D1 schema the harness then applies from Node, statement by statement (for this Worker, its migrations), is not counted.`);
  lines.push("");
  lines.push(`**The peer** (tests/bench/peer) is the same service as its users would write it with the TypeScript stack: \`@cloudflare/workers-oauth-provider\` (\`OAuthProvider\`, with dynamic registration at \`/register\` and its KV namespace) in front of the MCP SDK's \`McpServer\` over its Web-standard Streamable HTTP transport, stateless (a server and transport per request, JSON answers), with the same six tools (names, schemas and result shapes as ours; zod schemas, notes in D1) and a sign-in form for one user at \`/authorize\`. It is bundled by the bench with esbuild as wrangler would (not minified) and runs in the same Miniflare set-up, each Worker in its own workerd. Its state is prepared through its endpoints too: a client registered at \`/register\`, the \`/authorize\` form for each code, tokens from \`/token\`. The requests are the same except the MCP version: the SDK's transport answers 400 to \`2026-07-28\`, so the peer's carry \`${PEER_MCP_VERSION}\` (stateless, no initialize). \`completeAuthorization\` is called with \`revokeExistingGrants: false\`, since the bench holds many grants of one user and client at once. The peer has no JWKS (its tokens are opaque, looked up in KV). "× peer" is this Worker's CPU over the peer's.`);
  lines.push("");
  lines.push(`**The Worker's own CPU in the token grants** is measured by running each Worker a second time, in its own workerd, with its storage bindings answered in memory inside the isolate (tests/bench/split): KV is a Map behind the KV API; D1 statements pass through to the real database while state is prepared, and each answer is recorded by its SQL text; the measured requests (marked by a header) get the last recorded answer for their statement text, recorded from a real refresh and real code exchanges of the same shapes, so the Worker's code runs the same path with the same answers but no simulator work. A statement never recorded would go to the database and fail the run. The simulator's part is the difference between the two runs. The binding's own client code in the isolate (a few microseconds a call; on Cloudflare it is billed as the Worker's) is skipped too, so the Worker's own figures are slightly low and the simulator's slightly high, on both sides alike.`);
  lines.push("");
  lines.push("## Requests", "");
  lines.push("| scenario | req/s | p50 ms | p99 ms | CPU ms/req | floor CPU ms/req | CPU × floor | peer CPU ms/req | CPU × peer | errors¹ |");
  lines.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const [shape, r] of Object.entries(floors)) lines.push(`| floor, ${shape} | ${f(r.rps, 0)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.cpuPerRequest, 3)} | | | | | ${r.errors} |`);
  for (const r of rows) {
    const peerCpu = r.peer ? f(r.peer.cpuPerRequest, 3) : r.peerNote ?? "";
    const ratio = r.peer ? f(r.ours.cpuPerRequest / r.peer.cpuPerRequest) : "";
    lines.push(`| ${r.name} | ${f(r.ours.rps, 0)} | ${f(r.ours.p50)} | ${f(r.ours.p99)} | ${f(r.ours.cpuPerRequest, 3)} | ${f(r.floor.cpuPerRequest, 3)} | ${f(r.ours.cpuPerRequest / r.floor.cpuPerRequest)} | ${peerCpu} | ${ratio} | ${r.ours.errors} |`);
  }
  lines.push("", "¹ HTTP statuses of 400 and above plus wrk's socket errors (connect, read, write, timeout: wrk gives up on an answer after 2 s).");
  const peerRows = rows.filter((r) => r.peer);
  if (peerRows.length) {
    lines.push("", "The peer's rows in full:", "");
    lines.push("| scenario | req/s | p50 ms | p99 ms | CPU ms/req | CPU × floor | errors¹ |", "|---|---:|---:|---:|---:|---:|---:|");
    for (const r of peerRows) lines.push(`| ${r.name} | ${f(r.peer.rps, 0)} | ${f(r.peer.p50)} | ${f(r.peer.p99)} | ${f(r.peer.cpuPerRequest, 3)} | ${f(r.peer.cpuPerRequest / r.floor.cpuPerRequest)} | ${r.peer.errors} |`);
  }
  lines.push("");
  if (split) {
    const total = (key, side) => rows.find((r) => r.name === NAMES[key])?.[side]?.cpuPerRequest;
    lines.push("## Token grants: the Worker's own CPU and the simulator's", "");
    lines.push(`CPU ms per request. "In total" is the row above (real storage, simulator included); "own" is the same scenario with storage answered in memory; "simulator" is the difference. Floor: ${f(split.floor.cpuPerRequest, 3)} ms.`, "");
    lines.push("| grant | side | in total | own | simulator | own × floor | own req/s | errors¹ | storage calls per request |", "|---|---|---:|---:|---:|---:|---:|---:|---|");
    for (const [key, field] of [["refresh", "refresh"], ["code", "exchange"]]) {
      for (const side of ["ours", "peer"]) {
        const own = split[side][field];
        const all = total(key, side);
        const calls = Object.entries(split[side].calls?.[field] ?? {}).map(([op, n]) => `${Number(n.toFixed(2))} ${op}`).join(", ");
        lines.push(`| ${key === "refresh" ? "refresh_token" : "authorization_code"} | ${side === "ours" ? "this Worker" : "the peer"} | ${f(all, 3)} | ${f(own.cpuPerRequest, 3)} | ${f(all - own.cpuPerRequest, 3)} | ${f(own.cpuPerRequest / split.floor.cpuPerRequest)} | ${f(own.rps, 0)} | ${own.errors} | ${calls} |`);
      }
      lines.push(`| | own, this Worker × the peer | | ${f(split.ours[field].cpuPerRequest / split.peer[field].cpuPerRequest)} | | | | | |`);
    }
    lines.push("");
  }
  if (size) {
    lines.push("## Size and cold start", "");
    lines.push("| | this Worker | floor | peer |", "|---|---:|---:|---:|");
    lines.push(`| wasm, raw | ${kib(size.wasmRaw)} | ${kib(size.floorWasmRaw)} | |`);
    lines.push(`| wasm, gzip -9 | ${kib(size.wasmGzip)} | ${kib(size.floorWasmGzip)} | |`);
    lines.push(`| JavaScript bundle, raw / gzip -9 | ${kib(size.jsRaw)} / ${kib(gzipSync(readFileSync(path.join(root, "build/index.js")), { level: 9 }).length)} | | ${kib(size.peerJsRaw)} / ${kib(size.peerJsGzip)} |`);
    lines.push(`| upload (wrangler deploy --dry-run) | ${size.uploadKiB} KiB / gzip ${size.uploadGzipKiB} KiB | | |`);
    lines.push(`| workerd start to ready | ${f(cold.worker.readyMs, 0)} ms | ${f(cold.floor.readyMs, 0)} ms | ${f(cold.peer.readyMs, 0)} ms |`);
    lines.push(`| first answer after ready (JWKS; the peer: its metadata) | ${f(cold.worker.firstMs, 1)} ms | ${f(cold.floor.firstMs, 1)} ms | ${f(cold.peer.firstMs, 1)} ms |`);
    lines.push("");
  }
  if (budgets.length) {
    lines.push("## Budgets", "");
    lines.push("| budget | measured | met |", "|---|---:|:---:|");
    for (const b of budgets) lines.push(`| ${b.name} | ${f(b.value)}${b.unit} | ${b.met ? "yes" : "**no**"} |`);
    lines.push("");
  }
  return lines.join("\n");
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

function pkgVersion(name) {
  return JSON.parse(readFileSync(path.join(root, "node_modules", name, "package.json"))).version;
}

await main();
