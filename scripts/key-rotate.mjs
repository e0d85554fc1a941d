#!/usr/bin/env node
// `npm run key:rotate -- [--remote] [--finish]`: replaces the access-token signing key while
// tokens signed with the old one keep verifying until they expire.
//
// Cloudflare never gives a secret's value back, so the old key is kept by its public half:
// the rotation reads it from the deployment's JWKS (locally, from .dev.vars), stores it as
// JWT_SIGNING_KEY_PREVIOUS (a public JWK, which the Worker verifies with but cannot sign
// with), and only then replaces JWT_SIGNING_KEY with a key made on this machine.
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import {
  CliError, DeployConfig, DevVars, OIDC_KEY, OIDC_PREVIOUS_KEY, PREVIOUS_KEY, SIGNING_KEY,
  configPath, mustWrangler, newRsaKey, newSeed, parseFlags, publicJwkOfSeed, publicRsaJwk, run, secretNames,
} from "./lib/cloudflare.mjs";

const USAGE = `Usage: npm run key:rotate -- [--remote] [--finish] [--config <file>]

Without --finish: the current signing key becomes the previous key (still verified, never
used to sign) and a new key becomes current. Tokens signed before keep working until they
expire. Sessions on the sign-in pages and authorization codes in flight end.

With --finish: drops the previous key. Run it once every token signed with it has expired:
ACCESS_TOKEN_TTL (3,600 seconds unless set) plus a minute, after the rotation.

Options:
  --remote         the deployed Worker's secrets (default: .dev.vars, for npm run dev)
  --finish         drop the previous key
  --config <file>  the deploy configuration (default: wrangler.toml)
  -h, --help       show this help
`;

const ttlOf = (config) => {
  const ttl = Number(config.var("ACCESS_TOKEN_TTL") || 3600);
  return Number.isFinite(ttl) && ttl > 0 ? ttl : 3600;
};

function local(opts, file, config) {
  const vars = new DevVars(file);
  const current = vars.get(SIGNING_KEY);
  if (!current) throw new CliError(`${SIGNING_KEY} is not in ${vars.path}: run \`npm run dev\` once first.`);
  if (opts.finish) {
    if (!vars.get(PREVIOUS_KEY)) return console.log(`Nothing to finish: ${vars.path} has no ${PREVIOUS_KEY}.`);
    vars.delete(PREVIOUS_KEY);
    vars.delete(OIDC_PREVIOUS_KEY);
    vars.save();
    return console.log(`Dropped ${PREVIOUS_KEY} from ${vars.path}; tokens signed with it no longer verify.`);
  }
  if (vars.get(PREVIOUS_KEY)) throw inProgress(config);
  vars.set(PREVIOUS_KEY, JSON.stringify(publicJwkOfSeed(current)));
  vars.set(SIGNING_KEY, newSeed());
  // The ID-token key turns with it: the old one's public half stays published.
  const oidc = vars.get(OIDC_KEY);
  if (oidc) vars.set(OIDC_PREVIOUS_KEY, JSON.stringify(publicRsaJwk(oidc)));
  vars.set(OIDC_KEY, newRsaKey());
  vars.save();
  done(config, "restart `npm run dev` to use it", "npm run key:rotate -- --finish");
}

const inProgress = (config) =>
  new CliError(
    `A rotation is already in progress (${PREVIOUS_KEY} is set). Wait until tokens signed with ` +
      `the previous key have expired (${ttlOf(config)} s after that rotation), run ` +
      `\`npm run key:rotate -- --finish\`, then rotate again.`,
  );

function done(config, how, finish) {
  const minutes = Math.ceil(ttlOf(config) / 60) + 1;
  console.log(`Rotated: a new signing key is current (${how}); the previous one still verifies.
Wait ${minutes} minutes (ACCESS_TOKEN_TTL plus a minute), then run: ${finish}`);
}

/** The deployment's current public key, from its JWKS: https only (http for loopback). */
async function deployedKey(issuer, config) {
  let url;
  try {
    url = new URL(`${issuer}/.well-known/jwks.json`);
  } catch {
    url = null;
  }
  const loopback = url && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (!url || !(url.protocol === "https:" || (url.protocol === "http:" && loopback)) || !/^https?:\/\/[^/]+$/.test(issuer)) {
    throw new CliError(`ISSUER in the configuration is "${issuer}", not https://<your domain>: run \`npm run setup:cloudflare\` first.`);
  }
  let jwks;
  try {
    const res = await fetch(url, { redirect: "error", signal: AbortSignal.timeout(10_000), headers: { accept: "application/json" } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    jwks = await res.json();
  } catch (e) {
    throw new CliError(`Could not read ${url} (${e.message}); is the Worker deployed there?`);
  }
  const all = Array.isArray(jwks?.keys) ? jwks.keys : [];
  // The RSA keys of ID tokens are published beside the Ed25519 ones: each kind on its own.
  const keys = all.filter((k) => k?.kty !== "RSA");
  if (keys.length > 1) throw inProgress(config);
  const [k] = keys;
  const x = typeof k?.x === "string" ? Buffer.from(k.x, "base64url") : null;
  // The kid is the key's RFC 7638 thumbprint: a key that does not match it is not ours.
  const thumbprint = x && createHash("sha256").update(JSON.stringify({ crv: "Ed25519", kty: "OKP", x: k.x })).digest("base64url");
  if (k?.kty !== "OKP" || k?.crv !== "Ed25519" || x?.length !== 32 || k.kid !== thumbprint) {
    throw new CliError(`${url} does not publish one Ed25519 key of this Worker; nothing was changed.`);
  }
  const rsa = all.find((r) => r?.kty === "RSA" && typeof r.n === "string" && typeof r.e === "string");
  return { ed25519: { kty: "OKP", crv: "Ed25519", x: k.x }, rsa: rsa ? { kty: "RSA", n: rsa.n, e: rsa.e } : null };
}

async function remote(opts, file, config) {
  const cwd = dirname(file);
  const names = await secretNames(file, cwd);
  if (opts.finish) {
    const previous = [PREVIOUS_KEY, OIDC_PREVIOUS_KEY].filter((n) => names.includes(n));
    if (previous.length === 0) return console.log(`Nothing to finish: the Worker has no secret ${PREVIOUS_KEY}.`);
    // Each one that is there, so a finish that failed half-way can simply be run again.
    for (const name of previous) await mustWrangler(["secret", "delete", name, "--config", file], `Dropping ${name}`, { cwd });
    return console.log(`Dropped the secret${previous.length > 1 ? "s" : ""} ${previous.join(" and ")}; tokens signed with ${previous.length > 1 ? "them" : "it"} no longer verify.`);
  }
  // The secrets, not the JWKS (which an older version may still serve), say whether a
  // rotation is under way.
  if (names.includes(PREVIOUS_KEY)) throw inProgress(config);
  if (!names.includes(SIGNING_KEY)) throw new CliError(`The Worker has no ${SIGNING_KEY}: run \`npm run setup:cloudflare\` first.`);
  const previous = await deployedKey(config.var("ISSUER") ?? "", config);
  // Every secret in one new version, so no version ever has a new key without the old.
  const secrets = JSON.stringify({
    [PREVIOUS_KEY]: JSON.stringify(previous.ed25519),
    [SIGNING_KEY]: newSeed(),
    ...(previous.rsa ? { [OIDC_PREVIOUS_KEY]: JSON.stringify(previous.rsa) } : {}),
    [OIDC_KEY]: newRsaKey(),
  });
  await mustWrangler(["secret", "bulk", "--config", file], "Storing the keys", { cwd, input: secrets });
  done(config, "Cloudflare deploys a secret change at once", "npm run key:rotate -- --remote --finish");
}

async function main(argv) {
  const opts = parseFlags(
    argv,
    { remote: { type: "boolean" }, local: { type: "boolean" }, finish: { type: "boolean" }, config: { type: "string" } },
    USAGE,
  );
  if (opts.help) return console.log(USAGE);
  if (opts.remote && opts.local) throw new CliError("Give --remote or --local, not both.", 2);
  const file = configPath(opts);
  const config = new DeployConfig(file);
  return opts.remote ? remote(opts, file, config) : local(opts, file, config);
}

run(main);
