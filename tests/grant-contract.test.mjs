// The grant contract (src/store/grants.rs, src/oauth/grant/) end to end: every test of the
// native suite src/oauth/grant/tests.rs, by the same name, run against the built Worker
// (D1 in workerd through Miniflare) over its public endpoints: /authorize and the consent
// page for a code, /token, /revoke, /introspect, and /mcp to see an access token work or
// be refused. Where the native test reaches into the store or its surroundings, this file
// does what a client or the operator can do instead:
//   - the store's single-use rules: concurrent requests (Promise.all) with one code or one
//     refresh token, then what D1 holds;
//   - the clock: AUTH_CODE_TTL and REFRESH_GRACE_SECONDS set small on the `short` Worker
//     (then a real wait); a refresh token's 30 days by moving its expiry back in D1;
//   - a disabled account or ended sessions: users.disabled_at / users.sessions_after in D1,
//     as `npm run user` sets them; GitHub membership: a GitHub double playing the org;
//   - a failing store: a D1 trigger that refuses the write;
//   - no signing key: the same deployment (persisted D1 and KV) restarted without its key.
//
// Workers, started together in `before`:
//   main  – defaults
//   short – AUTH_CODE_TTL=1, REFRESH_GRACE_SECONDS=1
//   gh    – a GitHub sign-in provider admitting members of the org "acme", asked at every
//           refresh (membership_cache_seconds 0)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { decodeJwt } from "jose";
import { localState, newSigningKey, startWorker } from "./helpers/worker.mjs";
import { codeFor, createUser, publicClient, register } from "./helpers/oauth.mjs";
import { verifyIssued } from "./helpers/jwt.mjs";
import { modernCall } from "./helpers/mcp.mjs";
import { GitHubDouble } from "./helpers/github-double.mjs";

const SCOPE = "mcp:read mcp:write";
const REDIRECT = "http://127.0.0.1:9999/callback";
const DAY = 86_400;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hash = (secret) => createHash("sha256").update(secret).digest("base64url");

const GH_SECRET = "gh-app-secret-" + randomBytes(12).toString("hex");
const GH_MEMBERSHIP = "ghp_membership" + randomBytes(12).toString("hex");
const github = new GitHubDouble({ clientId: "Iv1.contract0000000000", clientSecret: GH_SECRET, membershipToken: GH_MEMBERSHIP });
const GITHUB_PROVIDER = {
  id: "github",
  type: "github",
  client_id: "Iv1.contract0000000000",
  client_secret: { secret: "GITHUB_CLIENT_SECRET" },
  allow: { github_orgs: ["acme"] },
  membership_token: { secret: "GITHUB_MEMBERSHIP_TOKEN" },
  membership_cache_seconds: 0,
};

let main, short, gh;
let slowMembership = 0;
let alice;
before(async () => {
  const many = { REGISTER_RATE_LIMIT: "100000" };
  [main, short, gh] = await Promise.all([
    startWorker({ bindings: many }),
    startWorker({ bindings: { ...many, AUTH_CODE_TTL: "1", REFRESH_GRACE_SECONDS: "1" } }),
    startWorker({
      bindings: {
        ...many,
        SIGNIN_PROVIDERS: JSON.stringify([GITHUB_PROVIDER]),
        GITHUB_CLIENT_SECRET: GH_SECRET,
        GITHUB_MEMBERSHIP_TOKEN: GH_MEMBERSHIP,
      },
      outbound: async (req) => {
        // One membership question answered slowly, as GitHub can be (see the revocation
        // stamp test): the next one asked is held this long.
        if (slowMembership && req.url.includes("/members/")) {
          const ms = slowMembership;
          slowMembership = 0;
          await sleep(ms);
        }
        return github.handles(req.url) ? github.handle(req) : new Response("tests have no internet", { status: 502 });
      },
    }),
  ]);
  alice = await createUser(main.db, "alice@example.com", "alice-password-1", "Alice");
});
after(() => Promise.all([main, short, gh].map((w) => w?.stop())));

// ---------------------------------------------------------------------------------------
// The steps, by name. A client is what /register answered (with its secret, if any); each
// request authenticates as that client by the method it registered.

/** A client of `w`: "public" (refresh allowed), "once" (codes only), "basic" or "post". */
async function newClient(w, kind = "public") {
  if (kind === "public") return publicClient(w.url, REDIRECT);
  if (kind === "once") return publicClient(w.url, REDIRECT, { grant_types: ["authorization_code"] });
  const r = await register(w.url, {
    redirect_uris: [REDIRECT],
    token_endpoint_auth_method: kind === "basic" ? "client_secret_basic" : "client_secret_post",
    client_name: `Confidential (${kind})`,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.ok(r.body.client_secret, "a confidential client gets a secret");
  return r.body;
}

const basicAuth = (id, secret) => "Basic " + Buffer.from(`${id}:${secret}`).toString("base64");

/** How `client` authenticates: form fields and headers. */
function credentials(client) {
  switch (client.token_endpoint_auth_method) {
    case "client_secret_basic":
      return { fields: {}, headers: { Authorization: basicAuth(client.client_id, client.client_secret) } };
    case "client_secret_post":
      return { fields: { client_id: client.client_id, client_secret: client.client_secret }, headers: {} };
    default:
      return { fields: { client_id: client.client_id }, headers: {} };
  }
}

/** A form POST to `path`: { status, headers, text, body } (body: the JSON, if any). */
async function post(w, path, form, headers = {}) {
  const res = await fetch(w.url + path, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body: typeof form === "string" ? form : new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, body };
}

/** POST /token as `client`, with `fields`. */
const tokenAs = (w, client, fields) => {
  const c = credentials(client);
  return post(w, "/token", { ...fields, ...c.fields }, c.headers);
};

/** Redeems a code from `codeFor` as `client` (no redirect_uri or resource: both optional). */
const redeem = (w, client, { code, verifier }) => tokenAs(w, client, { grant_type: "authorization_code", code, code_verifier: verifier });

/**
 * Signs `user` in at /authorize, approves `client` on the consent page, and redeems the
 * code: { code, verifier, status, tokens } (tokens: the /token answer).
 */
async function connect(w, user, client, { scope = SCOPE } = {}) {
  const c = await codeFor(w, user, client, { scope });
  const r = await redeem(w, client, c);
  return { ...c, status: r.status, tokens: r.body };
}

/** Like connect(), and the code must have been redeemed. */
async function connected(w, user, client, options) {
  const c = await connect(w, user, client, options);
  assert.equal(c.status, 200, "code redemption: " + JSON.stringify(c.tokens));
  return c;
}

/** grant_type=refresh_token as `client` (`extra`: scope, ...). */
const refresh = (w, client, refreshToken, extra = {}) => tokenAs(w, client, { grant_type: "refresh_token", refresh_token: refreshToken, ...extra });

/** POST /revoke of `tokenValue` as `client`. */
const revoke = (w, client, tokenValue) => {
  const c = credentials(client);
  return post(w, "/revoke", { token: tokenValue, ...c.fields }, c.headers);
};

/** POST /introspect of `tokenValue` as `client`: the JSON answer (asserting 200). */
async function introspect(w, client, tokenValue) {
  const c = credentials(client);
  const r = await post(w, "/introspect", { token: tokenValue, ...c.fields }, c.headers);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

/** A person of the `gh` Worker who signs in with a password and whose GitHub identity
 * (`octo-<name>`, with this numeric id) is a member of the org "acme". */
async function githubMember(name, id) {
  const user = await createUser(gh.db, `${name}@example.com`, `${name}-password-123`);
  const person = github.addPerson({ id, login: `octo-${name}`, email: user.email });
  github.addToOrg("acme", person.login);
  const now = Math.floor(Date.now() / 1000);
  await gh.db
    .prepare("INSERT INTO identities (provider, subject, user_id, login, email, created_at, last_used_at) VALUES ('github:github.com', ?, ?, ?, ?, ?, ?)")
    .bind(String(person.id), user.id, person.login, user.email, now, now)
    .run();
  return { user, person };
}

/** An OAuth error answer: `status` (400 unless said) and `error`, nothing issued. */
function refused(r, error, why = "") {
  const status = error === "invalid_client" ? 401 : error === "server_error" ? 500 : 400;
  assert.equal(r.status, status, `${why} ${r.status} ${r.text}`);
  assert.equal(r.body?.error, error, `${why} ${r.text}`);
  assert.equal(r.body?.access_token, undefined, why);
  assert.equal(r.body?.refresh_token, undefined, why);
}

/** A successful /token answer. */
function issued(r, why = "") {
  assert.equal(r.status, 200, `${why} ${r.text}`);
  assert.ok(r.body.access_token, why);
  return r.body;
}

/** The access token is served at /mcp (tools/list). */
async function works(w, accessToken, why = "the access token at /mcp") {
  const res = await modernCall(w.url, accessToken, "tools/list");
  assert.equal(res.status, 200, `${why}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.ok(Array.isArray(res.json?.result?.tools), `${why}: ${res.text.slice(0, 300)}`);
}

/** /mcp refuses the access token (401 invalid_token) within the minute the contract allows. */
async function stopsWorking(w, accessToken, why = "the access token at /mcp") {
  const start = Date.now();
  let res;
  for (;;) {
    res = await modernCall(w.url, accessToken, "tools/list");
    if (res.status !== 200 || Date.now() - start > 60_000) break;
    await sleep(1000);
  }
  assert.equal(res.status, 401, `${why}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.equal(res.json?.error, "invalid_token", `${why}: ${res.text.slice(0, 300)}`);
}

const TOKEN_EVENTS = ["code_redeemed", "code_reuse", "refresh", "refresh_reuse", "revocation"];

/** The token endpoint's audit events for `user` and `client`, in order. */
async function events(w, user, client) {
  const rows = await w.db
    .prepare(`SELECT event FROM audit_events WHERE user_id = ? AND client_id = ? AND event IN (${TOKEN_EVENTS.map(() => "?").join(", ")}) ORDER BY id`)
    .bind(user.id, client.client_id, ...TOKEN_EVENTS)
    .all();
  return rows.results.map((r) => r.event);
}

/** The grants D1 holds for a code (by its hash): [{ id, revoked_at }]. */
const grantsOfCode = async (w, code) =>
  (await w.db.prepare("SELECT id, revoked_at FROM grants WHERE code_hash = ?").bind(hash(code)).all()).results;

/** The grant behind a refresh token. */
async function grantOf(w, refreshToken) {
  const row = await w.db.prepare("SELECT grant_id FROM refresh_tokens WHERE token_hash = ?").bind(hash(refreshToken)).first();
  assert.ok(row, "the refresh token's row");
  return row.grant_id;
}

// =======================================================================================

test("a code redeems once and its access token verifies", async () => {
  const app = await newClient(main);
  const first = (await connected(main, alice, app)).tokens;
  const { payload } = await verifyIssued(main, first.access_token, { audience: main.url + "/mcp" });
  assert.equal(payload.sub, alice.id);
  assert.equal(payload.client_id, app.client_id);
  await works(main, first.access_token);
  assert.equal(first.scope, SCOPE);
  assert.equal(first.expires_in, 3600);
  assert.equal(first.token_type, "Bearer");
  assert.ok(first.refresh_token, "a refresh token");
  assert.deepEqual(await events(main, alice, app), ["code_redeemed"]);
});

test("a replayed code revokes the grant it produced", async () => {
  const app = await newClient(main);
  const first = await connected(main, alice, app);
  refused(await redeem(main, app, first), "invalid_grant", "the code again");
  refused(await refresh(main, app, first.tokens.refresh_token), "invalid_grant", "the first redemption's refresh token");
  await stopsWorking(main, first.tokens.access_token, "the first redemption's access token");
  assert.deepEqual(await events(main, alice, app), ["code_redeemed", "code_reuse"]);
});

test("every code check runs before anything is written", async () => {
  const app = await newClient(main);
  const other = await newClient(main);
  const { code, verifier } = await codeFor(main, alice, app, { scope: SCOPE });
  const wrong = (fields) => post(main, "/token", { grant_type: "authorization_code", code, ...fields });
  refused(await wrong({ client_id: other.client_id, code_verifier: verifier }), "invalid_grant", "another client");
  refused(await wrong({ client_id: app.client_id }), "invalid_request", "no code_verifier");
  refused(await wrong({ client_id: app.client_id, code_verifier: "x".repeat(43) }), "invalid_grant", "a wrong code_verifier");
  refused(await wrong({ client_id: app.client_id, code_verifier: verifier, redirect_uri: "http://127.0.0.1:9999/other" }), "invalid_grant", "another redirect_uri");
  refused(await wrong({ client_id: app.client_id, code_verifier: verifier, resource: "https://elsewhere.example/mcp" }), "invalid_target", "another resource");
  const twice = new URLSearchParams([["grant_type", "authorization_code"], ["client_id", app.client_id], ["code", code], ["code", code], ["code_verifier", verifier]]);
  refused(await post(main, "/token", twice.toString()), "invalid_request", "the code twice");
  // None of those spent the code.
  assert.deepEqual(await grantsOfCode(main, code), [], "no grant written by a refused request");
  issued(await redeem(main, app, { code, verifier }), "the code, after all those");
});

test("an expired or forged code is invalid grant", async () => {
  const app = await newClient(short);
  const user = await createUser(short.db, "ed@example.com", "ed-password-123");
  const late = await codeFor(short, user, app, { scope: SCOPE });
  // AUTH_CODE_TTL=1: a code issued in second s is refused from second s + 2.
  await sleep(2100);
  refused(await redeem(short, app, late), "invalid_grant", "an expired code");
  assert.deepEqual(await grantsOfCode(short, late.code), []);
  refused(await redeem(short, app, { code: "not-a-code", verifier: late.verifier }), "invalid_grant", "not a code");
  // A real code with one character changed is refused; the same code unchanged is not.
  const fresh = await codeFor(short, user, app, { scope: SCOPE });
  const i = fresh.code.length >> 1;
  const forged = fresh.code.slice(0, i) + (fresh.code[i] === "A" ? "B" : "A") + fresh.code.slice(i + 1);
  refused(await redeem(short, app, { ...fresh, code: forged }), "invalid_grant", "a forged code");
  issued(await redeem(short, app, fresh), "the code as issued, at once");
});

test("a code is withdrawn by a disconnect a disabled account or ended sessions", async () => {
  // Disconnected after the code was issued: a grant of the same person and app revoked.
  const app = await newClient(main);
  const old = await connected(main, alice, app);
  const code = await codeFor(main, alice, app, { scope: SCOPE });
  await sleep(5);
  assert.equal((await revoke(main, app, old.tokens.refresh_token)).status, 200);
  refused(await redeem(main, app, code), "invalid_grant", "a code issued before the disconnect");
  assert.deepEqual(await grantsOfCode(main, code.code), []);
  // A new code, issued after the disconnect, works.
  await sleep(5);
  issued(await redeem(main, app, await codeFor(main, alice, app, { scope: SCOPE })), "a code issued after the disconnect");

  // A disabled account (`npm run user -- disable`).
  const bob = await createUser(main.db, "bob@example.com", "bob-password-123");
  const bobs = await codeFor(main, bob, app, { scope: SCOPE });
  await main.db.prepare("UPDATE users SET disabled_at = ? WHERE id = ?").bind(Math.floor(Date.now() / 1000), bob.id).run();
  refused(await redeem(main, app, bobs), "invalid_grant", "a disabled person's code");
  assert.deepEqual(await grantsOfCode(main, bobs.code), []);

  // Sessions ended after the code was issued (reset-password, "Sign out everywhere").
  const cat = await createUser(main.db, "cat@example.com", "cat-password-123");
  const cats = await codeFor(main, cat, app, { scope: SCOPE });
  await sleep(5);
  await main.db.prepare("UPDATE users SET sessions_after = ? WHERE id = ?").bind(Date.now(), cat.id).run();
  refused(await redeem(main, app, cats), "invalid_grant", "a code from before the sessions ended");
  assert.deepEqual(await grantsOfCode(main, cats.code), []);
});

test("a refresh rotates and a retry within grace gets the same successor", async () => {
  const app = await newClient(main);
  const old = (await connected(main, alice, app)).tokens.refresh_token;
  const next = issued(await refresh(main, app, old));
  const successor = next.refresh_token;
  assert.ok(successor);
  assert.notEqual(successor, old);
  await verifyIssued(main, next.access_token, { audience: main.url + "/mcp" });
  await works(main, next.access_token);
  // The response was lost: the same request again, within the grace period (60 s).
  const retry = issued(await refresh(main, app, old), "the retry");
  assert.equal(retry.refresh_token, successor);
  // One refresh recorded, not two.
  assert.deepEqual(await events(main, alice, app), ["code_redeemed", "refresh"]);
  // The successor works and rotates in turn.
  issued(await refresh(main, app, successor), "the successor");
});

test("reuse after grace revokes the family", async () => {
  const app = await newClient(short);
  const user = await createUser(short.db, "gus@example.com", "gus-password-123");
  const first = await connected(short, user, app);
  const old = first.tokens.refresh_token;
  const successor = issued(await refresh(short, app, old)).refresh_token;
  // Within REFRESH_GRACE_SECONDS=1 the old token is a retry: the same successor.
  assert.equal(issued(await refresh(short, app, old), "a retry within grace").refresh_token, successor);
  // Rotated in second s: from second s + 2 on, the grace is over.
  await sleep(2100);
  refused(await refresh(short, app, old), "invalid_grant", "the old token after grace");
  refused(await refresh(short, app, successor), "invalid_grant", "its successor, after the reuse");
  assert.equal((await events(short, user, app)).at(-1), "refresh_reuse");
});

test("reuse after the successor was used revokes the family even within grace", async () => {
  const app = await newClient(main);
  const old = (await connected(main, alice, app)).tokens.refresh_token;
  const successor = issued(await refresh(main, app, old)).refresh_token;
  const third = issued(await refresh(main, app, successor)).refresh_token;
  refused(await refresh(main, app, old), "invalid_grant", "the old token, its successor used");
  refused(await refresh(main, app, third), "invalid_grant", "the newest token of the family");
});

test("the store rotates for exactly one caller", async () => {
  const CALLERS = 4;
  // One refresh token, presented by several callers at once: one rotation, one successor.
  const app = await newClient(main);
  const old = (await connected(main, alice, app)).tokens.refresh_token;
  const grant = await grantOf(main, old);
  const answers = await Promise.all(Array.from({ length: CALLERS }, () => refresh(main, app, old)));
  for (const r of answers) issued(r, "a concurrent refresh within grace");
  const successors = new Set(answers.map((r) => r.body.refresh_token));
  assert.equal(successors.size, 1, "every caller gets the same successor");
  const [successor] = successors;
  assert.notEqual(successor, old);
  const family = await main.db.prepare("SELECT COUNT(*) AS n FROM refresh_tokens WHERE grant_id = ?").bind(grant).first();
  assert.equal(family.n, 2, "the family: the old token and one successor");
  assert.deepEqual(await events(main, alice, app), ["code_redeemed", "refresh"], "one rotation recorded");
  issued(await refresh(main, app, successor), "the family still works");

  // One code, redeemed by several callers at once: one grant; the others are replays,
  // which revoke it.
  const bea = await createUser(main.db, "bea@example.com", "bea-password-123");
  const code = await codeFor(main, bea, app, { scope: SCOPE });
  const redemptions = await Promise.all(Array.from({ length: CALLERS }, () => redeem(main, app, code)));
  const winners = redemptions.filter((r) => r.status === 200);
  assert.equal(winners.length, 1, `exactly one redemption: ${redemptions.map((r) => r.status).join(", ")}`);
  for (const r of redemptions.filter((r) => r.status !== 200)) refused(r, "invalid_grant", "a concurrent redemption");
  const grants = await grantsOfCode(main, code.code);
  assert.equal(grants.length, 1, "one grant for the code");
  assert.equal(grants[0].id, await grantOf(main, winners[0].body.refresh_token), "the winner's grant");
  assert.notEqual(grants[0].revoked_at, null, "revoked by the replays");
  refused(await refresh(main, app, winners[0].body.refresh_token), "invalid_grant", "the winner's refresh token");
});

test("a refresh may narrow the scope never widen it", async () => {
  const app = await newClient(main);
  const old = (await connected(main, alice, app)).tokens.refresh_token;
  const narrow = issued(await refresh(main, app, old, { scope: "mcp:read" }));
  assert.equal(narrow.scope, "mcp:read");
  assert.equal(decodeJwt(narrow.access_token).scope, "mcp:read");
  const next = narrow.refresh_token;
  refused(await refresh(main, app, next, { scope: "mcp:read email" }), "invalid_scope", "wider than the grant");
  // The grant keeps its scope: the next refresh may ask for all of it again.
  assert.equal(issued(await refresh(main, app, next)).scope, SCOPE);
});

test("a refresh token is bound to its client account lifetime and membership", async () => {
  const app = await newClient(gh);
  const other = await newClient(gh);
  const once = await newClient(gh, "once");
  // A person who signs in with a password and has a GitHub identity in the org "acme".
  const { user: dan, person } = await githubMember("dan", 7_340_001);
  const now = Math.floor(Date.now() / 1000);
  const old = (await connected(gh, dan, app)).tokens.refresh_token;

  refused(await refresh(gh, other, old), "invalid_grant", "another client");
  refused(await refresh(gh, once, old), "unauthorized_client", "a client without refresh");
  const asked = github.calls("members").length;
  github.removeFromOrg("acme", person.login);
  refused(await refresh(gh, app, old), "invalid_grant", "out of the org");
  assert.ok(github.calls("members").length > asked, "GitHub was asked at the refresh");
  github.addToOrg("acme", person.login);
  await gh.db.prepare("UPDATE users SET disabled_at = ? WHERE id = ?").bind(now, dan.id).run();
  refused(await refresh(gh, app, old), "invalid_grant", "a disabled account");
  await gh.db.prepare("UPDATE users SET disabled_at = NULL WHERE id = ?").bind(dan.id).run();
  // None of those refusals spent or revoked anything: back in the org and enabled, it works.
  const successor = issued(await refresh(gh, app, old), "the token, every binding met").refresh_token;
  // Its lifetime (REFRESH_TOKEN_TTL, 30 days): the successor's clock moved on 30 days and a
  // second, by moving its expiry back as much.
  await gh.db.prepare("UPDATE refresh_tokens SET expires_at = expires_at - ? WHERE token_hash = ?").bind(30 * DAY + 1, hash(successor)).run();
  refused(await refresh(gh, app, successor), "invalid_grant", "30 days and a second later");
});

test("a client without refresh gets no refresh token", async () => {
  const once = await newClient(main, "once");
  const { tokens } = await connected(main, alice, once);
  assert.equal(tokens.refresh_token, undefined);
  await works(main, tokens.access_token);
});

test("client authentication by the registered method only", async () => {
  const conf = await newClient(main, "basic");
  const app = await newClient(main);
  const { code, verifier } = await codeFor(main, alice, conf, { scope: SCOPE });
  const grant = { grant_type: "authorization_code", code, code_verifier: verifier };
  const withAuth = (extra, basic) => post(main, "/token", { ...grant, ...extra }, basic ? { Authorization: basic } : {});
  const { client_id, client_secret } = conf;
  refused(await withAuth({}, basicAuth(client_id, "wrong")), "invalid_client", "Basic, wrong secret");
  refused(await withAuth({ client_id, client_secret }), "invalid_client", "the secret in the form, registered for Basic");
  refused(await withAuth({ client_id }), "invalid_client", "no secret");
  refused(await withAuth({}, basicAuth("nobody", "x")), "invalid_client", "an unknown client");
  refused(await withAuth({ client_secret }, basicAuth(client_id, client_secret)), "invalid_request", "Basic and a form secret at once");
  issued(await withAuth({}, basicAuth(client_id, client_secret)), "Basic, the right secret");
  // A public client cannot present a secret it does not have.
  refused(
    await post(main, "/token", { grant_type: "authorization_code", client_id: app.client_id, client_secret: "x", code: "c" }),
    "invalid_client",
    "a public client with a secret",
  );
});

test("revocation revokes the family and says nothing about other tokens", async () => {
  const app = await newClient(main);
  const other = await newClient(main);
  const first = (await connected(main, alice, app)).tokens;
  // Another client's token, or a made-up one: the same empty success, nothing revoked.
  const foreign = await revoke(main, other, first.refresh_token);
  const madeUp = await revoke(main, app, "made-up");
  for (const r of [foreign, madeUp]) assert.deepEqual([r.status, r.text], [200, ""]);
  issued(await refresh(main, app, first.refresh_token), "the token after those");
  // The access token (of the rotated grant) revokes the whole grant.
  const fresh = issued(await refresh(main, app, first.refresh_token), "a retry within grace");
  const own = await revoke(main, app, fresh.access_token);
  assert.deepEqual([own.status, own.text], [200, ""]);
  refused(await refresh(main, app, fresh.refresh_token), "invalid_grant", "the family after revocation");
  await stopsWorking(main, fresh.access_token);
  assert.ok((await events(main, alice, app)).includes("revocation"));
  refused(await post(main, "/revoke", { client_id: app.client_id }), "invalid_request", "no token");
});

test("introspection answers confidential clients about their own tokens", async () => {
  const conf = await newClient(main, "post");
  const app = await newClient(main);
  const mine = (await connected(main, alice, conf)).tokens;
  const accessAnswer = await introspect(main, conf, mine.access_token);
  assert.equal(accessAnswer.active, true);
  assert.equal(accessAnswer.sub, alice.id);
  const r = await introspect(main, conf, mine.refresh_token);
  assert.deepEqual([r.active, r.token_type, r.sub], [true, "refresh_token", alice.id]);
  const publicAsks = await post(main, "/introspect", { token: mine.refresh_token, client_id: app.client_id });
  refused(publicAsks, "invalid_client", "a public client");
  assert.deepEqual(await introspect(main, conf, "made-up"), { active: false });
  const others = (await connected(main, alice, app)).tokens;
  assert.deepEqual(await introspect(main, conf, others.access_token), { active: false }, "another client's token");
  assert.equal((await revoke(main, conf, mine.refresh_token)).status, 200);
  assert.deepEqual(await introspect(main, conf, mine.refresh_token), { active: false }, "the revoked refresh token");
  assert.deepEqual(await introspect(main, conf, mine.access_token), { active: false }, "its grant's access token");
});

test("a storage failure is server error and issues nothing", async () => {
  const app = await newClient(main);
  const dee = await createUser(main.db, "dee@example.com", "dee-password-123");
  const code = await codeFor(main, dee, app, { scope: SCOPE });
  // D1 refuses to store grants while the trigger exists.
  await main.db.prepare("CREATE TRIGGER contract_storage_fails BEFORE INSERT ON grants BEGIN SELECT RAISE(ABORT, 'contract test: storage failing'); END").run();
  const logged = main.logs.length;
  let failed;
  try {
    failed = await redeem(main, app, code);
  } finally {
    await main.db.prepare("DROP TRIGGER contract_storage_fails").run();
  }
  refused(failed, "server_error", "a redemption while storage fails");
  const internal = main.logs.slice(logged).filter((l) => /internal error/.test(l));
  assert.equal(internal.length, 1, main.logs.slice(logged).join("\n"));
  assert.match(internal[0], /storage failing/);
  assert.deepEqual(await grantsOfCode(main, code.code), []);
  issued(await redeem(main, app, code), "the same code once storage works");
});

test("without a usable signing key nothing is issued", async () => {
  // One deployment's D1 and KV on disk, its Worker started with its key for the code, then
  // without it for the redemption, then with it again.
  const dir = await localState("grant-contract-");
  const key = newSigningKey();
  let w;
  try {
    w = await startWorker({ persistTo: dir, bindings: { JWT_SIGNING_KEY: key } });
    const eve = await createUser(w.db, "eve@example.com", "eve-password-123");
    const app = await newClient(w);
    const code = await codeFor(w, eve, app, { scope: SCOPE });
    await w.stop();
    w = undefined;

    w = await startWorker({ persistTo: dir, bindings: { JWT_SIGNING_KEY: null } });
    refused(await redeem(w, app, code), "server_error", "a good code, no signing key");
    assert.deepEqual(await grantsOfCode(w, code.code), [], "no grant written");
    await w.stop();
    w = undefined;

    w = await startWorker({ persistTo: dir, bindings: { JWT_SIGNING_KEY: key } });
    issued(await redeem(w, app, code), "the same code, the key back");
  } finally {
    await w?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a revocation is stamped when it happens not when its request began", async () => {
  // A reuse is answered first, before GitHub is asked anything: the family is revoked at
  // once, so a code the person approved before the reuse is withdrawn with it, and the
  // reuse does not wait for a slow membership answer. (That the revocation is stamped
  // with the time it happens, not the time its request began, is tested natively.)
  const app = await newClient(gh);
  const { user: eve } = await githubMember("eve", 7_340_002);
  const old = (await connected(gh, eve, app)).tokens.refresh_token;
  const successor = issued(await refresh(gh, app, old)).refresh_token;
  issued(await refresh(gh, app, successor), "the successor used: the old one is now reuse");
  const before = await codeFor(gh, eve, app, { scope: SCOPE });
  await sleep(5);
  slowMembership = 3_000;
  const started = Date.now();
  refused(await refresh(gh, app, old), "invalid_grant", "the reuse");
  assert.ok(Date.now() - started < 2_500, "the reuse was answered without waiting for GitHub");
  slowMembership = 0;
  refused(await redeem(gh, app, before), "invalid_grant", "a code issued before the reuse");
});

test("introspection calls a rotated refresh token or a disabled persons inactive", async () => {
  const conf = await newClient(main, "post");
  const frank = await createUser(main.db, "frank@example.com", "frank-password-1");
  const first = (await connected(main, frank, conf)).tokens.refresh_token;
  assert.equal((await introspect(main, conf, first)).active, true);
  const next = issued(await refresh(main, conf, first)).refresh_token;
  assert.deepEqual(await introspect(main, conf, first), { active: false }, "the rotated token");
  assert.equal((await introspect(main, conf, next)).active, true, "its successor");
  await main.db.prepare("UPDATE users SET disabled_at = ? WHERE id = ?").bind(Math.floor(Date.now() / 1000), frank.id).run();
  assert.deepEqual(await introspect(main, conf, next), { active: false }, "a disabled person's token");
});
