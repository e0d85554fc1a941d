#!/usr/bin/env node
// A stand-in for wrangler's remote-only commands (the Cloudflare API is out of reach in
// tests): it keeps an account's KV namespaces, D1 databases, applied migrations and
// secrets in a JSON file (REMOTE_WRANGLER_STATE), answers in wrangler's output formats,
// and records every call, with what arrived on standard input, for the assertions.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { randomBytes, randomUUID } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const file = process.env.REMOTE_WRANGLER_STATE;
const state = JSON.parse(readFileSync(file, "utf8"));
const argv = process.argv.slice(2);
const stdin = process.stdin.isTTY ? "" : readFileSync(0, "utf8");
state.calls.push({ argv, stdin });
const save = () => writeFileSync(file, JSON.stringify(state, null, 2));
const out = (s) => process.stdout.write(s + "\n");
const fail = (s) => {
  save();
  process.stderr.write(s + "\n");
  process.exit(1);
};
// The command words, without flags and the values of flags that take one.
const words = argv.filter((a, i) => !a.startsWith("-") && !["--format", "--config", "--persist-to"].includes(argv[i - 1]));
const cmd = words.slice(0, 3).join(" ");

if (!state.loggedIn && cmd !== "whoami") fail("✘ [ERROR] You are not authenticated. Please run `wrangler login`.");
switch (true) {
  case cmd === "whoami":
    if (!state.loggedIn) fail("You are not authenticated. Please run `wrangler login`.");
    out("👋 You are logged in with an OAuth Token, associated with the email test@example.com.");
    break;
  case cmd === "kv namespace list":
    out(JSON.stringify(state.kv, null, 2));
    break;
  case cmd.startsWith("kv namespace create"): {
    const title = argv[3];
    if (state.kv.some((n) => n.title === title)) fail(`A KV namespace with the title "${title}" already exists.`);
    const id = randomBytes(16).toString("hex");
    state.kv.push({ id, title, supports_url_encoding: true });
    out(`🌀 Creating namespace with title "${title}"\n✨ Success!\nTo access your new KV Namespace in your Worker, add the following snippet to your configuration file:\n[[kv_namespaces]]\nbinding = "${title}"\nid = "${id}"`);
    break;
  }
  case cmd === "d1 list":
    out(JSON.stringify(state.d1, null, 2));
    break;
  case cmd.startsWith("d1 create"): {
    const name = argv[2];
    const uuid = randomUUID();
    state.d1.push({ uuid, name, created_at: new Date().toISOString(), version: "production" });
    out(`✅ Successfully created DB '${name}' in region WEUR\nCreated your new D1 database.\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "${name}"\ndatabase_id = "${uuid}"`);
    break;
  }
  case cmd === "d1 migrations apply": {
    if (!argv.includes("--remote")) fail("the stand-in only answers --remote");
    const all = readdirSync(join(ROOT, "migrations")).filter((f) => f.endsWith(".sql")).sort();
    const pending = all.filter((m) => !state.migrations.includes(m));
    if (!pending.length) out("✅ No migrations to apply!");
    else {
      out(`Migrations to be applied:\n${pending.map((m) => `│ ${m} │`).join("\n")}`);
      state.migrations.push(...pending);
      out(pending.map((m) => `│ ${m} │ ✅ │`).join("\n"));
    }
    break;
  }
  case cmd === "secret list":
    if (state.secretListBroken) fail("✘ [ERROR] A request to the Cloudflare API failed. Internal error [code: 10000]");
    // wrangler 4.116's exact words for API error 10007 on `secret list`.
    if (state.noWorker) fail('✘ [ERROR] Worker "mcp-oauth-worker" not found.');
    out(JSON.stringify(Object.keys(state.secrets).map((name) => ({ name, type: "secret_text" }))));
    break;
  case cmd.startsWith("secret put"):
    delete state.noWorker; // wrangler creates a draft Worker to hold the first secret
    state.secrets[argv[2]] = stdin.trimEnd();
    out(`🌀 Creating the secret for the Worker "mcp-oauth-worker"\n✨ Success! Uploaded secret ${argv[2]}`);
    break;
  case cmd === "secret bulk": {
    // Every secret in one new version, from JSON on standard input; null deletes.
    delete state.noWorker;
    for (const [k, v] of Object.entries(JSON.parse(stdin))) {
      if (v === null) delete state.secrets[k];
      else state.secrets[k] = v;
    }
    out("✨ Success! Uploaded secrets");
    break;
  }
  case cmd.startsWith("secret delete"):
    if (!(argv[2] in state.secrets)) fail(`Secret not found [code: 10056]`);
    delete state.secrets[argv[2]];
    out(`✨ Success! Deleted secret ${argv[2]}`);
    break;
  case cmd === "deploy":
    state.deployed = (state.deployed ?? 0) + 1;
    out("Total Upload: 646.00 KiB / gzip: 261.00 KiB\nDeployed mcp-oauth-worker triggers");
    break;
  default:
    fail(`the stand-in does not know: wrangler ${argv.join(" ")}`);
}
save();
