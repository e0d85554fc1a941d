// Runs inside workerd, in the bench's "storage in memory" variants (ours.mjs, peer.mjs):
// the same Worker, handed an env whose storage bindings the harness answers in memory,
// so that a scenario measures the Worker's own CPU without the local KV and D1
// simulators (which run in the same workerd process and would otherwise be counted).
//
// - KV (OAUTH_KV) is a Map behind the KV API, for the whole life of the isolate: every
//   write the Worker makes is there for its later reads, as in a real namespace.
// - D1 (DB) passes every statement through to the real database and records each answer
//   by its SQL text (a batch by the texts of its statements). In a request that carries
//   `X-Bench-Storage: replay`, a statement is answered with the last recorded answer for
//   its text, without reaching the database. The bench records with requests of the very
//   shapes it then measures (a refresh, whose row is read before rotation; code exchanges),
//   so the Worker takes the same path as against the real database. A statement never
//   seen before still goes to the database and is counted as a miss.
//
// `GET /__bench/stats` reports what was replayed. Only the bench uses this.

const clone = (v) => (v === undefined ? undefined : structuredClone(v));
const now = () => Date.now() / 1000;

function expiryOf(options = {}) {
  if (options.expiration) return Number(options.expiration);
  if (options.expirationTtl) return now() + Number(options.expirationTtl);
  return undefined;
}

async function asStored(value) {
  if (typeof value === "string") return value;
  if (value instanceof ArrayBuffer) return value.slice(0);
  if (ArrayBuffer.isView(value)) return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
  if (value instanceof ReadableStream) return new Response(value).arrayBuffer();
  return String(value);
}

function asType(stored, type) {
  const text = () => (typeof stored === "string" ? stored : new TextDecoder().decode(stored));
  const bytes = () => (typeof stored === "string" ? new TextEncoder().encode(stored).buffer : stored.slice(0));
  switch (type ?? "text") {
    case "text":
      return text();
    case "json":
      return JSON.parse(text());
    case "arrayBuffer":
      return bytes();
    case "stream":
      return new Response(bytes()).body;
    default:
      throw new TypeError(`unknown KV type ${type}`);
  }
}

const stats = { recorded: 0, replayed: 0, misses: [], calls: { record: {}, replay: {} } };
const answers = new Map();

/** Counts one storage call, by mode: the bench reads the replayed ones per request. */
function count(replay, op, n = 1) {
  const calls = stats.calls[replay ? "replay" : "record"];
  calls[op] = (calls[op] ?? 0) + n;
}

// Named as the runtime's class is: the Rust `worker` crate checks the constructor's name.
// Each view counts its calls; all views share one set of entries.
export class KvNamespace {
  #entries;
  #replay;

  constructor(entries, replay) {
    this.#entries = entries;
    this.#replay = replay;
  }

  #live(key) {
    const e = this.#entries.get(key);
    if (e && e.expiration !== undefined && e.expiration <= now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  async get(key, options) {
    count(this.#replay, "KV get");
    const type = typeof options === "string" ? options : options?.type;
    if (Array.isArray(key)) return new Map(key.map((k) => [k, this.#live(k) ? asType(this.#live(k).value, type) : null]));
    const e = this.#live(key);
    return e ? asType(e.value, type) : null;
  }

  async getWithMetadata(key, options) {
    count(this.#replay, "KV get");
    const type = typeof options === "string" ? options : options?.type;
    const e = this.#live(key);
    return e ? { value: asType(e.value, type), metadata: clone(e.metadata) ?? null, cacheStatus: null } : { value: null, metadata: null, cacheStatus: null };
  }

  async put(key, value, options = {}) {
    count(this.#replay, "KV put");
    this.#entries.set(key, { value: await asStored(value), expiration: expiryOf(options), metadata: clone(options.metadata) });
  }

  async delete(key) {
    count(this.#replay, "KV delete");
    this.#entries.delete(key);
  }

  async list({ prefix = "", limit = 1000, cursor } = {}) {
    count(this.#replay, "KV list");
    const names = [...this.#entries.keys()].filter((k) => k.startsWith(prefix) && this.#live(k)).sort();
    const start = cursor ? Number(cursor) : 0;
    const page = names.slice(start, start + limit);
    const keys = page.map((name) => {
      const e = this.#entries.get(name);
      const key = { name };
      if (e.expiration !== undefined) key.expiration = Math.floor(e.expiration);
      if (e.metadata !== undefined) key.metadata = clone(e.metadata);
      return key;
    });
    const complete = start + limit >= names.length;
    return complete ? { keys, list_complete: true, cacheStatus: null } : { keys, list_complete: false, cursor: String(start + limit), cacheStatus: null };
  }
}

function miss(key) {
  if (stats.misses.length < 20) stats.misses.push(key.slice(0, 200));
  else stats.misses[19] = "…and more";
}

async function answer(replay, key, run) {
  count(replay, `D1 ${key.slice(0, key.indexOf(" "))}`);
  if (replay) {
    if (answers.has(key)) {
      stats.replayed++;
      return clone(answers.get(key));
    }
    miss(key);
  }
  const value = await run();
  answers.set(key, clone(value));
  stats.recorded++;
  return value;
}

class Statement {
  constructor(db, sql, args = []) {
    this.db = db;
    this.sql = sql;
    this.args = args;
  }
  bind(...args) {
    return new Statement(this.db, this.sql, args);
  }
  real() {
    const s = this.db.real.prepare(this.sql);
    return this.args.length ? s.bind(...this.args) : s;
  }
  first(column) {
    return answer(this.db.replay, `first ${column ?? ""} ${this.sql}`, () => this.real().first(column));
  }
  all() {
    return answer(this.db.replay, `all ${this.sql}`, () => this.real().all());
  }
  run() {
    return answer(this.db.replay, `run ${this.sql}`, () => this.real().run());
  }
  raw(options) {
    return answer(this.db.replay, `raw ${JSON.stringify(options ?? {})} ${this.sql}`, () => this.real().raw(options));
  }
}

// Named as the runtime's class is: the Rust `worker` crate checks the constructor's name.
export class D1Database {
  constructor(real, replay) {
    this.real = real;
    this.replay = replay;
  }
  prepare(sql) {
    return new Statement(this, sql);
  }
  batch(statements) {
    count(this.replay, "D1 statements in batches", statements.length);
    return answer(this.replay, `batch ${statements.map((s) => s.sql).join(" ;; ")}`, () => this.real.batch(statements.map((s) => s.real())));
  }
  exec(sql) {
    return answer(this.replay, `exec ${sql}`, () => this.real.exec(sql));
  }
}

// One set of KV entries per isolate, whatever env object a request comes with.
const entries = new Map();
const wrapped = new WeakMap();

/**
 * The env the Worker gets for `request`: the same bindings, with OAUTH_KV in memory and DB
 * recording, or replaying when the request carries `X-Bench-Storage: replay` (the bench's
 * measured requests do; the requests that prepare state do not).
 */
export function inMemory(env, request) {
  let pair = wrapped.get(env);
  if (!pair) {
    const make = (replay) => ({ ...env, OAUTH_KV: new KvNamespace(entries, replay), ...(env.DB ? { DB: new D1Database(env.DB, replay) } : {}) });
    pair = { record: make(false), replay: make(true) };
    wrapped.set(env, pair);
  }
  return request.headers.get("x-bench-storage") === "replay" ? pair.replay : pair.record;
}

/** `GET /__bench/stats`, or null for any other request. */
export function control(request) {
  return new URL(request.url).pathname === "/__bench/stats" ? Response.json(stats) : null;
}
