// Starts the built Worker (build/index.js + build/index_bg.wasm) in workerd through
// Miniflare's API, with fresh in-memory KV and D1 (migrations applied), listening on a
// port the OS chooses. Every test file starts its own, so tests never share state.
import { Miniflare } from "miniflare";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { runNode } from "./process.mjs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** A fresh Ed25519 signing key in the format the Worker reads: the seed, base64url. */
export function newSigningKey() {
  return generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }).d;
}

/** One RSA key per test process for RS256 ID tokens (making one takes a while). */
let rsaKey;
export function oidcSigningKey() {
  rsaKey ??= JSON.stringify(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }));
  return rsaKey;
}

/**
 * A new directory of wrangler's local state (`--persist-to`) with every migration applied
 * by wrangler itself: the operator commands and `startWorker({ persistTo })` then share it.
 */
export async function localState(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const wrangler = path.join(root, "node_modules", "wrangler", "bin", "wrangler.js");
  const m = await runNode(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", dir], { cwd: root, env: { CI: "true" } });
  if (m.code !== 0) throw new Error(`migrations failed:\n${m.stdout}\n${m.stderr}`);
  return dir;
}

/** The SQL statements of every migration, in order. */
export function migrationStatements() {
  const dir = path.join(root, "migrations");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) => splitSql(readFileSync(path.join(dir, f), "utf8")));
}

function splitSql(sql) {
  const withoutComments = sql
    .split("\n")
    .map((line) => line.replace(/--.*$/, ""))
    .join("\n");
  // Triggers hold semicolons inside BEGIN ... END; keep those together.
  const out = [];
  let current = "";
  for (const part of withoutComments.split(";")) {
    current += part;
    const open = /\bBEGIN\b/i.test(current) && !/\bEND\s*$/i.test(current.trim());
    if (open) {
      current += ";";
      continue;
    }
    if (current.trim()) out.push(current.trim());
    current = "";
  }
  return out;
}

/**
 * @param {object} [options]
 * @param {Record<string,string>} [options.bindings] vars and secrets; JWT_SIGNING_KEY
 *   defaults to a fresh key (pass null to leave it unset)
 * @param {boolean} [options.keepLogs] keep the Worker's log lines in `logs` (default true;
 *   the benchmark drops them)
 * @param {(req: Request) => Response|Promise<Response>} [options.outbound] answers the
 *   Worker's own outbound fetch calls (no internet in tests)
 * @param {Record<string,(req: Request) => Response|Promise<Response>>} [options.serviceBindings]
 *   service bindings (`[[services]]`) by name, each answered by a function in Node
 * @param {string} [options.persistTo] share KV and D1 with wrangler's `--local --persist-to`
 *   directory (the operator commands' local state) instead of fresh in-memory ones; its
 *   migrations must already be applied
 */
export async function startWorker({ bindings = {}, outbound, keepLogs = true, persistTo, serviceBindings } = {}) {
  const all = { JWT_SIGNING_KEY: newSigningKey(), OIDC_SIGNING_KEY: oidcSigningKey(), ...bindings };
  // The Worker's own log lines (console.log), for tests that follow a request id.
  const logs = [];
  for (const [k, v] of Object.entries(all)) if (v === null || v === undefined) delete all[k];
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    modules: true,
    scriptPath: path.join(root, "build/index.js"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-06-01",
    // As wrangler.toml sets it.
    compatibilityFlags: ["global_fetch_strictly_public"],
    // The placeholder ids of wrangler.toml, which wrangler's local state is keyed by.
    kvNamespaces: { OAUTH_KV: "00000000000000000000000000000000" },
    d1Databases: { DB: "00000000-0000-0000-0000-000000000000" },
    durableObjects: { SSE_SESSIONS: { className: "SseSession", useSQLite: true } },
    ...(persistTo ? { kvPersist: path.join(persistTo, "v3", "kv"), d1Persist: path.join(persistTo, "v3", "d1") } : {}),
    bindings: all,
    ...(serviceBindings ? { serviceBindings } : {}),
    outboundService:
      outbound ??
      (() => new Response("tests have no internet", { status: 502 })),
    handleStructuredLogs: ({ message }) => {
      if (keepLogs) logs.push(message);
    },
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const db = await mf.getD1Database("DB");
  if (!persistTo) for (const statement of migrationStatements()) await db.prepare(statement).run();
  return { url, mf, db, bindings: all, logs, stop: () => mf.dispose() };
}
