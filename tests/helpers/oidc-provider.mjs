// A real OpenID provider for the sign-in tests: the `oidc-provider` package (a certified
// OpenID Connect implementation) on http://127.0.0.1:<port>, with its development login and
// consent pages (devInteractions: any login name, any password). The account a person signs
// in as is the login name typed on its login page; its claims (sub, email, email_verified,
// name, hd) are what the test put in `accounts` before.
//
// Two steps, because the Worker and the provider each need the other's URL: the server
// listens first, so its issuer is known before the Worker starts (the Worker's
// SIGNIN_PROVIDERS names it); `register(client)` then builds the provider with the client
// registered for the Worker (its redirect URI names the Worker's URL). Until then every
// request is answered 503.
import Provider from "oidc-provider";
import { createServer } from "node:http";
import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";

const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** A fresh signing key: { kid, alg, privateJwk, publicJwk, key }. */
export function newKey(alg = "RS256", kid = `${alg.toLowerCase()}-${randomBytes(4).toString("hex")}`) {
  const pair = alg === "ES256" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privateJwk = { ...pair.privateKey.export({ format: "jwk" }), kid, alg, use: "sig" };
  const publicJwk = { ...pair.publicKey.export({ format: "jwk" }), kid, alg, use: "sig" };
  return { kid, alg, privateJwk, publicJwk, key: pair.privateKey };
}

/** Signs a JWT with `key` (from newKey); the header gets the key's alg and kid unless given. */
export function signWithKey(payload, key, header = {}) {
  const head = { alg: key.alg, kid: key.kid, typ: "JWT", ...header };
  const input = `${b64url(head)}.${b64url(payload)}`;
  const privateKey = key.key ?? createPrivateKey({ key: key.privateJwk, format: "jwk" });
  const signature =
    head.alg === "ES256"
      ? sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" })
      : sign("sha256", Buffer.from(input), privateKey);
  return `${input}.${signature.toString("base64url")}`;
}

export const jwtParts = (jwt) => {
  const [h, p] = jwt.split(".");
  return { header: JSON.parse(Buffer.from(h, "base64url")), payload: JSON.parse(Buffer.from(p, "base64url")) };
};

/**
 * Listens on a port the OS chooses and returns at once; `register` builds the provider.
 * @param {object} [options]
 * @param {string[]} [options.authMethods] the token endpoint's client authentication
 *   methods, as its metadata lists them (default: basic and post)
 */
export async function startOidcProvider({ authMethods = ["client_secret_basic", "client_secret_post"] } = {}) {
  let handler = null;
  const server = createServer((req, res) => {
    if (handler) return handler(req, res);
    res.writeHead(503, { "content-type": "text/plain" }).end("not configured yet");
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  const port = server.address().port;
  const issuer = `http://127.0.0.1:${port}`;
  // The provider's signing keys: RSA (RS256) and EC P-256 (ES256), both in its JWKS.
  const rsa = newKey("RS256", "rsa-1");
  const ec = newKey("ES256", "ec-1");
  /** login name (= sub) → claims besides sub: { email, email_verified, name, hd } */
  const accounts = new Map();

  const op = {
    issuer,
    url: issuer,
    port,
    accounts,
    keys: { rsa, ec },
    provider: null,
    client: null,
    /** Adds (or replaces) an account; the person types `sub` as the login name. */
    account(sub, claims) {
      accounts.set(sub, claims);
      return { sub, ...claims };
    },
    /** Builds the provider with `client` registered; returns `op`. */
    register(client) {
      op.client = {
        token_endpoint_auth_method: "client_secret_basic",
        id_token_signed_response_alg: "RS256",
        grant_types: ["authorization_code"],
        response_types: ["code"],
        ...client,
      };
      const provider = new Provider(issuer, {
        clients: [op.client],
        jwks: { keys: [rsa.privateJwk, ec.privateJwk] },
        clientAuthMethods: authMethods,
        // The scope's claims go into the ID token (the Worker reads them there).
        conformIdTokenClaims: false,
        claims: {
          openid: ["sub", "hd"],
          email: ["email", "email_verified"],
          profile: ["name"],
        },
        scopes: ["openid", "email", "profile", "offline_access"],
        cookies: { keys: [randomBytes(16).toString("hex")] },
        ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
        features: { devInteractions: { enabled: true } },
        findAccount(_ctx, id) {
          const claims = accounts.get(id);
          if (!claims) return undefined;
          return {
            accountId: id,
            async claims() {
              const out = { sub: id };
              for (const [k, v] of Object.entries(claims)) if (v !== undefined) out[k] = v;
              return out;
            },
          };
        },
        // Quiet: its errors reach the Worker as OAuth errors, which the tests check.
        renderError(ctx, out) {
          ctx.type = "html";
          ctx.body = `<!doctype html><title>oops</title><h1>${out.error}</h1><p>${String(out.error_description ?? "").replace(/[<>&]/g, "")}</p>`;
        },
      });
      op.provider = provider;
      handler = provider.callback();
      return op;
    },
    /** Closes the server (the provider is then down: connections are refused). */
    stop() {
      handler = null;
      server.closeAllConnections?.();
      return new Promise((done) => server.close(() => done()));
    },
  };
  return op;
}

/** A port nothing listens on (it was free a moment ago). */
export async function unusedPort() {
  const s = createServer();
  await new Promise((done) => s.listen(0, "127.0.0.1", done));
  const { port } = s.address();
  await new Promise((done) => s.close(done));
  return port;
}
