#!/usr/bin/env node
// `npm run setup:cloudflare -- --domain mcp.example.com`: everything a deployment needs,
// created once and reused after. Each step says what it did; a second run changes nothing.
import { dirname } from "node:path";
import {
  CliError, DeployConfig, DevVars, OIDC_KEY, PLACEHOLDER_D1_ID, PLACEHOLDER_KV_ID, SIGNING_KEY,
  configPath, jsonFrom, mustWrangler, newRsaKey, newSeed, parseFlags, run, secretNames, where, wrangler,
} from "./lib/cloudflare.mjs";

const USAGE = `Usage: npm run setup:cloudflare -- --domain <host> [options]

Prepares a Cloudflare deployment of this Worker on https://<host> (after \`npx wrangler login\`):
  1. the KV namespace and the D1 database (created, or reused when they exist),
  2. their ids, the custom-domain route and ISSUER in the deploy configuration,
  3. the D1 migrations, applied to the deployed database,
  4. an Ed25519 signing key, made on this machine and stored with \`wrangler secret put\`.
Running it again changes nothing.

Options:
  --domain <host>     the host name people will use, e.g. mcp.example.com (a zone on your
                      Cloudflare account must hold it)
  --config <file>     the deploy configuration (default: wrangler.toml)
  --change-domain     allow a --domain other than the one already configured (every
                      token issued for the old domain stops working)
  --local             rehearse offline: local D1, and the key in .dev.vars next to the
                      configuration; creates nothing on Cloudflare
  --persist-to <dir>  the local state directory (with --local)
  -h, --help          show this help
`;

/** A host name people can type: labels of letters, digits and hyphens, not an address. */
export function checkDomain(raw) {
  const domain = String(raw ?? "").trim().toLowerCase().replace(/\.$/, "");
  const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
  const labels = domain.split(".");
  if (
    !domain ||
    domain.length > 253 ||
    labels.length < 2 ||
    !labels.every((l) => label.test(l)) ||
    /^\d+$/.test(labels.at(-1))
  ) {
    throw new CliError(
      `"${raw}" is not a host name. Give the bare host, e.g. --domain mcp.example.com ` +
        `(no https://, no path, no port).`,
      2,
    );
  }
  return domain;
}

const say = (step, what) => console.log(`  ${step.padEnd(22)} ${what}`);

async function ensureLogin(cwd, file) {
  const r = await wrangler(["whoami", "--config", file], { cwd });
  if (r.code !== 0 || /not authenticated/i.test(r.stdout + r.stderr)) {
    throw new CliError("Wrangler is not logged in to Cloudflare: run `npx wrangler login`, then run this again.");
  }
}

async function ensureKv(config, cwd, file) {
  const current = config.get("kv_namespaces", "OAUTH_KV", "id");
  const title = `${config.top("name")}-OAUTH_KV`;
  const list = jsonFrom((await mustWrangler(["kv", "namespace", "list", "--config", file], "Listing KV namespaces", { cwd })).stdout);
  if (!Array.isArray(list)) throw new CliError("Could not read the KV namespace list from wrangler.");
  const known = list.find((n) => n.id === current) ?? list.find((n) => n.title === title);
  if (known) {
    config.set("kv_namespaces", "OAUTH_KV", "id", known.id);
    say("KV namespace", `reused ${known.title} (${known.id})`);
    return;
  }
  const r = await mustWrangler(["kv", "namespace", "create", title, "--config", file], "Creating the KV namespace", { cwd });
  const id = /\b([0-9a-f]{32})\b/.exec(r.stdout)?.[1];
  if (!id) throw new CliError(`wrangler created the KV namespace but printed no id:\n${r.stdout}`);
  config.set("kv_namespaces", "OAUTH_KV", "id", id);
  say("KV namespace", `created ${title} (${id})`);
}

async function ensureD1(config, cwd, file) {
  const name = config.get("d1_databases", "DB", "database_name");
  const current = config.get("d1_databases", "DB", "database_id");
  const list = jsonFrom((await mustWrangler(["d1", "list", "--json", "--config", file], "Listing D1 databases", { cwd })).stdout);
  if (!Array.isArray(list)) throw new CliError("Could not read the D1 database list from wrangler.");
  const known = list.find((d) => d.uuid === current) ?? list.find((d) => d.name === name);
  if (known) {
    config.set("d1_databases", "DB", "database_id", known.uuid);
    say("D1 database", `reused ${known.name} (${known.uuid})`);
    return;
  }
  const r = await mustWrangler(["d1", "create", name, "--config", file], "Creating the D1 database", { cwd });
  const id = /\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b/.exec(r.stdout)?.[1];
  if (!id) throw new CliError(`wrangler created the D1 database but printed no id:\n${r.stdout}`);
  config.set("d1_databases", "DB", "database_id", id);
  say("D1 database", `created ${name} (${id})`);
}

async function migrate(opts, cwd, file) {
  const r = await mustWrangler(
    ["d1", "migrations", "apply", "DB", ...where(opts), "--config", file],
    "Applying the D1 migrations",
    { cwd },
  );
  // wrangler lists the migrations it applies (twice: before and after), so count names.
  const applied = new Set(r.stdout.match(/\b\d{4}_[\w-]+\.sql\b/g) ?? []).size;
  say("D1 migrations", /No migrations to apply/i.test(r.stdout) ? "unchanged (all applied)" : `applied ${applied || "the pending"} migration(s)`);
}

/**
 * A key kept in a secret (locally, in .dev.vars), made once: `make` makes one, `label`
 * names it in the summary. An existing one is never replaced (that is key:rotate's job).
 */
async function ensureSecretKey(opts, cwd, file, { name, label, make }) {
  if (opts.local) {
    const vars = new DevVars(file);
    if (vars.get(name)) return say(label, `unchanged (${name} is in ${vars.path})`);
    vars.set(name, make());
    vars.save();
    return say(label, `created, in ${vars.path} (mode 600)`);
  }
  if ((await secretNames(file, cwd)).includes(name)) return say(label, `unchanged (the secret ${name} exists)`);
  // Made here and handed over on standard input: never an argument, a file or output.
  await mustWrangler(["secret", "put", name, "--config", file], `Storing the ${label}`, { cwd, input: make() });
  say(label, `created, stored as the secret ${name}`);
}

async function main(argv) {
  const opts = parseFlags(
    argv,
    {
      domain: { type: "string" },
      config: { type: "string" },
      local: { type: "boolean" },
      "persist-to": { type: "string" },
      "change-domain": { type: "boolean" },
    },
    USAGE,
  );
  if (opts.help) return console.log(USAGE);
  if (!opts.domain) throw new CliError(`--domain is required.\n\n${USAGE}`, 2);
  if (opts["persist-to"] && !opts.local) throw new CliError("--persist-to only goes with --local.", 2);
  const domain = checkDomain(opts.domain);
  const file = configPath(opts);
  const cwd = dirname(file);
  const config = new DeployConfig(file);
  const issuer = `https://${domain}`;
  const configured = config.var("ISSUER") ?? "";
  if (/^https:\/\//.test(configured) && configured !== issuer && !opts["change-domain"]) {
    throw new CliError(
      `${file} is already set up for ${configured}. Moving to ${issuer} ends every token issued ` +
        `there (their issuer and audience change); pass --change-domain to do it anyway.`,
    );
  }

  console.log(`Setting up ${issuer} ${opts.local ? "(local rehearsal: nothing is created on Cloudflare)" : "on Cloudflare"}`);
  if (!opts.local) {
    await ensureLogin(cwd, file);
    await ensureKv(config, cwd, file);
    await ensureD1(config, cwd, file);
  } else {
    say("KV namespace", `skipped (local); id ${config.get("kv_namespaces", "OAUTH_KV", "id")}`);
    say("D1 database", `skipped (local); id ${config.get("d1_databases", "DB", "database_id")}`);
  }
  config.setCustomDomain(domain);
  config.setVar("ISSUER", issuer);
  const changed = config.changed;
  config.save();
  say("configuration", changed ? `updated ${file}` : "unchanged");
  await migrate(opts, cwd, file);
  await ensureSecretKey(opts, cwd, file, { name: SIGNING_KEY, label: "signing key", make: newSeed });
  // The RS256 key of ID tokens (OpenID Connect), made once like the signing key.
  await ensureSecretKey(opts, cwd, file, { name: OIDC_KEY, label: "ID-token key", make: newRsaKey });

  const placeholders =
    config.get("kv_namespaces", "OAUTH_KV", "id") === PLACEHOLDER_KV_ID ||
    config.get("d1_databases", "DB", "database_id") === PLACEHOLDER_D1_ID;
  console.log(`
Next:
  1. npm run deploy${placeholders && opts.local ? "            (needs the real ids: run without --local first)" : ""}
  2. npm run user -- add you@example.com --remote
  3. In ChatGPT: Settings, Apps & Connectors, Advanced, turn on developer mode; then
     Create a connector with the URL ${issuer}/mcp and OAuth authentication.
     In Claude: Settings, Connectors, Add custom connector, ${issuer}/mcp.
`);
}

run(main);
