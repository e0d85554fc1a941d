#!/usr/bin/env node
// `npm run deploy`: checks that the deployment is configured (real KV and D1 ids, an https
// ISSUER, the signing key secret), then builds the release Worker and runs `wrangler deploy`.
import { dirname } from "node:path";
import {
  CliError, DeployConfig, DevVars, PLACEHOLDER_D1_ID, PLACEHOLDER_KV_ID, SIGNING_KEY,
  configPath, parseFlags, run, secretNames, wrangler,
} from "./lib/cloudflare.mjs";

const USAGE = `Usage: npm run deploy [-- options]

Builds the release Worker and deploys it with \`wrangler deploy\`, after checking that
\`npm run setup:cloudflare\` has configured the deployment.

Options:
  --config <file>  the deploy configuration (default: wrangler.toml)
  --dry-run        check and bundle, upload nothing (\`wrangler deploy --dry-run\`)
  --local          check the signing key in .dev.vars instead of Cloudflare's secrets,
                   and only dry-run (offline)
  -h, --help       show this help
`;

/** What is missing from the configuration, in words a person can act on. */
export function configProblems(config) {
  const problems = [];
  const kv = config.get("kv_namespaces", "OAUTH_KV", "id");
  if (!kv || kv === PLACEHOLDER_KV_ID) problems.push("the KV namespace OAUTH_KV has no real id");
  const d1 = config.get("d1_databases", "DB", "database_id");
  if (!d1 || d1 === PLACEHOLDER_D1_ID) problems.push("the D1 database DB has no real id");
  const issuer = config.var("ISSUER") ?? "";
  if (!/^https:\/\/[a-z0-9.-]+$/.test(issuer)) problems.push(`ISSUER is "${issuer}", not https://<your domain>`);
  return problems;
}

async function main(argv) {
  const opts = parseFlags(argv, { config: { type: "string" }, "dry-run": { type: "boolean" }, local: { type: "boolean" } }, USAGE);
  if (opts.help) return console.log(USAGE);
  const file = configPath(opts);
  const cwd = dirname(file);
  const config = new DeployConfig(file);
  const problems = configProblems(config);

  if (opts.local) {
    if (!new DevVars(file).get(SIGNING_KEY)) problems.push(`${SIGNING_KEY} is not in .dev.vars`);
  } else {
    if (!(await secretNames(file, cwd)).includes(SIGNING_KEY)) problems.push(`the secret ${SIGNING_KEY} is not set on Cloudflare`);
  }
  if (problems.length) {
    throw new CliError(
      `Not deploying, the deployment is not configured:\n  - ${problems.join("\n  - ")}\n` +
        `Run \`npm run setup:cloudflare -- --domain <your domain>\` first (see "Deploy" in README.md).`,
    );
  }
  const args = ["deploy", "--config", file];
  if (opts["dry-run"] || opts.local) args.push("--dry-run", "--outdir", `${cwd}/.wrangler/dry-run`);
  // wrangler runs the [build] command (the release build) before it bundles.
  const r = await wrangler(args, { cwd });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.code !== 0) throw new CliError("wrangler deploy failed (its message is above).");
  if (!args.includes("--dry-run")) {
    console.log(`\nDeployed. MCP server URL: ${config.var("ISSUER")}/mcp`);
  }
}

run(main);
