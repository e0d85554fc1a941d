// Sign-in through OpenID Connect providers, end to end against a real OpenID provider: the
// `oidc-provider` package on 127.0.0.1 (tests/helpers/oidc-provider.mjs), one instance per
// provider entry of SIGNIN_PROVIDERS, each with the Worker registered as a confidential
// client. The Worker's outbound fetches (discovery, JWKS, token endpoint) go through
// `outbound` below, which forwards them to the provider and can, per test, break them: a
// provider that answers 502 or too slowly, an ID token tampered with on its way back, a
// JWKS with a new key. The person's browser is either Node (fetch with a cookie jar per
// site: the Worker's and the provider's) or headless Chromium.
//
// The official MCP SDK client signs in this way and calls tools; the security rules of the
// callback (state, cookie, iss, the ID token's signature and claims) and of who may sign in
// (allow, email verification, link_by_email, disabled people) each have their own test,
// expecting the Worker's error page: its status and the `data-error` of its <h1>.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { SignJWT, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { startWorker } from "./helpers/worker.mjs";
import { Browser, createUser, formFields, pkcePair, authorizeUrl, publicClient, token } from "./helpers/oauth.mjs";
import { PersonProvider, connectSignedIn } from "./helpers/person-provider.mjs";
import { startOidcProvider, unusedPort, newKey } from "./helpers/oidc-provider.mjs";
import { flipSignatureBit, spliceJwt, unsignedJwt, verifyIssued } from "./helpers/jwt.mjs";
import { launchChromium, DEVICES, axeViolations, watchConsole } from "./helpers/chromium.mjs";

const APP = "https://app.example/callback";
const CONTACT = "it-help@example.com";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const uniq = (prefix) => `${prefix}-${randomBytes(4).toString("hex")}`;

// One OpenID provider per entry of SIGNIN_PROVIDERS (so each has its own issuer and its own
// identities): the entries' settings, less the issuer, client and secret the run fills in.
// `alg` and `authMethods` are the provider's side. The Worker takes at most 10 entries
// (these and "gone", a provider that is not running).
const ENTRIES = {
  corp: { name: "Acme SSO", allow: { everyone: true } },
  strict: { name: "Strict SSO", allow: { email_domains: ["example.com"], emails: ["Boss@Other.Example"], subjects: ["listed-subject-7"] } },
  hosted: { name: "Hosted SSO", allow: { hosted_domains: ["example.com"] } },
  linkoff: { name: "Link Off SSO", allow: { everyone: true }, link_by_email: false },
  // No `allow`: only people already here (mapped, or linked by their email).
  linkon: { name: "Link On SSO", link_by_email: true },
  es: { name: "EC SSO", allow: { everyone: true }, alg: "ES256" },
  post: { name: "Post SSO", allow: { everyone: true }, authMethods: ["client_secret_post"] },
  slow: { name: "Slow SSO", allow: { everyone: true }, timeout_ms: 500 },
  // Rotates its signing key in the last test (its JWKS is first fetched by an early one).
  rotate: { name: "Rotating SSO", allow: { everyone: true } },
};

let w, app, gone;
const ops = {};
const secrets = {};

// What `outbound` does besides forwarding, set by a test and cleared after it.
const taps = {
  /** { issuer, edit(idToken) → idToken or a promise of one }: rewrites the ID token of the token endpoint's answer */
  idToken: null,
  /** { issuer, path }: answers 502 for that provider (and path, when given) */
  down: null,
  /** { issuer, path, ms }: holds that provider's answer */
  delay: null,
  /** { issuer, keys }: public keys added to that provider's JWKS */
  jwksExtra: null,
};
/** Every outbound request: { method, url, headers, body }. */
const outboundLog = [];
const resetTaps = () => {
  for (const k of Object.keys(taps)) taps[k] = null;
};

async function outbound(req) {
  const url = new URL(req.url);
  const body = req.method === "GET" || req.method === "HEAD" ? undefined : Buffer.from(await req.arrayBuffer());
  const headers = new Headers(req.headers);
  for (const h of ["host", "content-length", "connection", "transfer-encoding", "accept-encoding"]) headers.delete(h);
  outboundLog.push({ method: req.method, url, headers: Object.fromEntries(headers), body: body?.toString() });
  if (url.hostname !== "127.0.0.1") return new Response("tests have no internet", { status: 502 });
  const matches = (tap) => tap && tap.issuer === url.origin && (!tap.path || tap.path === url.pathname);
  if (matches(taps.down)) return new Response("<h1>502 Bad Gateway</h1>", { status: 502, headers: { "content-type": "text/html" } });
  if (matches(taps.delay)) await sleep(taps.delay.ms);
  // A provider that is not listening: the fetch rejects, as the Worker's own would.
  const res = await fetch(url, { method: req.method, headers, body, redirect: "manual" });
  let payload = Buffer.from(await res.arrayBuffer());
  const out = new Headers(res.headers);
  for (const h of ["content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"]) out.delete(h);
  if (taps.idToken && taps.idToken.issuer === url.origin && url.pathname === "/token" && res.status === 200) {
    const json = JSON.parse(payload.toString());
    json.id_token = await taps.idToken.edit(json.id_token);
    payload = Buffer.from(JSON.stringify(json));
  }
  if (taps.jwksExtra && taps.jwksExtra.issuer === url.origin && url.pathname === "/jwks" && res.status === 200) {
    const json = JSON.parse(payload.toString());
    json.keys.push(...taps.jwksExtra.keys);
    payload = Buffer.from(JSON.stringify(json));
  }
  return new Response(res.status === 204 || res.status === 304 ? null : payload, { status: res.status, headers: out });
}

before(async () => {
  // The providers listen first, so their issuers are known when the Worker starts; each is
  // then built with the Worker's redirect URI.
  for (const [id, e] of Object.entries(ENTRIES)) ops[id] = await startOidcProvider({ authMethods: e.authMethods });
  gone = { issuer: `http://127.0.0.1:${await unusedPort()}` };
  const entries = Object.entries(ENTRIES).map(([id, { alg, authMethods, ...e }]) => {
    secrets[id] = randomBytes(24).toString("base64url");
    return { id, type: "oidc", issuer: ops[id].issuer, client_id: `mcp-${id}`, client_secret: { secret: `${id.toUpperCase()}_CLIENT_SECRET` }, ...e };
  });
  secrets.gone = randomBytes(24).toString("base64url");
  entries.push({ id: "gone", type: "oidc", name: "Gone SSO", issuer: gone.issuer, client_id: "mcp-gone", client_secret: { secret: "GONE_CLIENT_SECRET" }, allow: { everyone: true } });
  const bindings = {
    SIGNIN_PROVIDERS: JSON.stringify(entries),
    ACCESS_CONTACT: CONTACT,
    PRODUCT_NAME: "Acme Notes",
  };
  for (const [id, s] of Object.entries(secrets)) bindings[`${id.toUpperCase()}_CLIENT_SECRET`] = s;
  w = await startWorker({ bindings, outbound });
  for (const [id, e] of Object.entries(ENTRIES)) {
    ops[id].register({
      client_id: `mcp-${id}`,
      client_secret: secrets[id],
      redirect_uris: [`${w.url}/signin/callback/${id}`],
      token_endpoint_auth_method: e.authMethods?.[0] ?? "client_secret_basic",
      id_token_signed_response_alg: e.alg ?? "RS256",
    });
  }
  app = await publicClient(w.url, APP, { client_name: "Example Notes App" });
});
after(async () => {
  await w?.stop();
  for (const op of Object.values(ops)) await op.stop();
});

// ---------------------------------------------------------------------------------------
// The person, in Node: one cookie jar for the Worker's site, one for the provider's.

class Person {
  constructor() {
    this.worker = new Browser();
    this.idp = new Browser();
  }
}

const unescapeHtml = (s) => s.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
const attr = (tag, name) => {
  const m = tag.match(new RegExp(`\\s${name}="([^"]*)"`));
  return m ? unescapeHtml(m[1]) : undefined;
};

/** The sign-in page's provider form: its hidden fields and its buttons. */
function providerForm(html) {
  const form = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].find((f) => attr(f[1], "action") === "/signin/start");
  assert.ok(form, "the sign-in page has a form posting to /signin/start:\n" + html);
  assert.equal(attr(form[1], "method")?.toLowerCase(), "post");
  const fields = {};
  for (const [input] of form[2].matchAll(/<input\b[^>]*>/g)) if (attr(input, "type") === "hidden") fields[attr(input, "name")] = attr(input, "value") ?? "";
  const buttons = [...form[2].matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/g)].map((b) => ({
    name: attr(b[1], "name"),
    value: attr(b[1], "value"),
    text: unescapeHtml(b[2].replace(/<[^>]+>/g, "")).replace(/\s+/g, " ").trim(),
  }));
  return { fields, buttons };
}

/**
 * Opens `page` (a sign-in page) and presses "Continue with <name>": returns the provider's
 * authorization URL the Worker sent the browser to.
 */
async function startAt(person, id, page = "/account") {
  const res = await person.worker.get(w.url + page);
  const html = await res.text();
  assert.equal(res.status, 200, html);
  const { fields, buttons } = providerForm(html);
  assert.ok(fields.csrf_token, "the form has a csrf_token");
  assertSamePage(fields.return_to, page, "return_to is the page's own path and query");
  const button = buttons.find((b) => b.value === id);
  assert.ok(button, `a button for ${id}: ${JSON.stringify(buttons)}`);
  assert.equal(button.name, "provider");
  assert.equal(button.text, `Continue with ${ENTRIES[id]?.name ?? "Gone SSO"}`);
  const start = await person.worker.post(w.url + "/signin/start", { ...fields, provider: id });
  const text = await start.text();
  assert.equal(start.status, 303, text);
  return new URL(start.headers.get("location"), w.url);
}

/**
 * The person at the provider: signs in as `sub` on its login page and consents (or cancels
 * with `cancel`), following its redirects until it sends the browser back to the Worker;
 * returns that URL (the Worker's callback), without opening it.
 */
async function atProvider(person, authUrl, sub, { cancel = false } = {}) {
  let url = authUrl.toString();
  for (let i = 0; i < 12; i++) {
    const res = await person.idp.get(url);
    if (res.status >= 300 && res.status < 400) {
      await res.arrayBuffer();
      const next = new URL(res.headers.get("location"), url).toString();
      if (next.startsWith(w.url + "/")) return next;
      url = next;
      continue;
    }
    const html = await res.text();
    assert.equal(res.status, 200, `the provider's page ${url}: ${html.slice(0, 500)}`);
    if (cancel) {
      const abort = [...html.matchAll(/<a\b[^>]*>/g)].map(([a]) => attr(a, "href")).find((h) => h?.endsWith("/abort"));
      assert.ok(abort, "the provider's page has its Cancel link");
      url = new URL(abort, url).toString();
      continue;
    }
    const form = html.match(/<form\b([^>]*)>([\s\S]*?)<\/form>/);
    assert.ok(form, `a form on the provider's page: ${html.slice(0, 500)}`);
    const action = new URL(attr(form[1], "action"), url).toString();
    const prompt = attr(form[2].match(/<input[^>]*name="prompt"[^>]*>/)[0], "value");
    const sent = await person.idp.post(action, prompt === "login" ? { prompt, login: sub, password: "any password" } : { prompt });
    await sent.arrayBuffer();
    assert.ok(sent.status >= 300 && sent.status < 400, `the provider answered its ${prompt} form with ${sent.status}`);
    const next = new URL(sent.headers.get("location"), action).toString();
    if (next.startsWith(w.url + "/")) return next;
    url = next;
  }
  throw new Error("the provider never sent the browser back");
}

/** The whole sign-in from `page` through provider `id` as `sub`: the callback's answer. */
async function signInVia(id, sub, { page = "/account", person = new Person(), cancel = false } = {}) {
  const authUrl = await startAt(person, id, page);
  const callbackUrl = await atProvider(person, authUrl, sub, { cancel });
  const res = await person.worker.get(callbackUrl);
  return { res, text: await res.text(), callbackUrl, authUrl, person };
}

/** The Worker's HTML error page of `kind`, with `status`; returns its text. */
function assertErrorPage({ res, text }, status, kind) {
  assert.ok(res.status < 500, `never a 5xx: ${res.status} ${text}`);
  assert.equal(res.status, status, `${kind}: ${text}`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  const h1 = text.match(/<h1\b[^>]*>/);
  assert.ok(h1, "the page has an <h1>: " + text);
  assert.equal(attr(h1[0], "data-error"), kind, `data-error of ${h1[0]}`);
  return text;
}

/** Two paths with queries that name the same page: the same path and parameters. */
function assertSamePage(actual, expected, message) {
  const [a, b] = [new URL(actual, w.url), new URL(expected, w.url)];
  assert.equal(a.origin, w.url, message);
  assert.equal(a.pathname, b.pathname, message);
  const params = (u) => [...u.searchParams].map(([k, v]) => `${k}=${v}`).sort();
  assert.deepEqual(params(a), params(b), message);
}

/** A successful callback: a session cookie and a 303 back to `returnTo`. */
function assertSignedIn({ res, text }, returnTo = "/account") {
  assert.equal(res.status, 303, text);
  assertSamePage(res.headers.get("location"), returnTo, "back to the page the sign-in started on");
  assert.ok(res.headers.getSetCookie().length > 0, "a session cookie is set");
}

/** The account page opens signed in (the session works). */
async function assertAccountPage(person) {
  const res = await person.worker.get(w.url + "/account");
  const html = await res.text();
  assert.equal(res.status, 200);
  assert.match(html, /<h1[^>]*>Connected apps<\/h1>/, "signed in: the account page shows the connected apps");
}

const identity = (id, sub) => w.db.prepare("SELECT * FROM identities WHERE provider = ?1 AND subject = ?2").bind("oidc:" + ops[id].issuer, sub).first();
const userByEmail = (email) => w.db.prepare("SELECT * FROM users WHERE email = ?1").bind(email).first();
const audits = (event, userId) =>
  w.db
    .prepare(`SELECT * FROM audit_events WHERE event = ?1${userId ? " AND user_id = ?2" : ""} ORDER BY id`)
    .bind(...[event, userId].filter(Boolean))
    .all()
    .then((r) => r.results);

/** A new person at provider `id`: { sub, email, ... }. */
function account(id, claims = {}) {
  const sub = claims.sub ?? uniq("sub");
  const email = `${sub}@example.com`;
  const c = { email, email_verified: true, name: `Person ${sub}`, ...claims };
  delete c.sub;
  return ops[id].account(sub, c);
}

// Key rotation, in two parts: a sign-in now, so the Worker has the JWKS as it is; the last
// test of the file rotates the key. The Worker refetches a JWKS for an unknown kid at most
// once a minute per provider (so made-up kids cannot make it hammer the provider): the last
// test waits until a minute has passed since this fetch.
let rotateFetchedAt;
test("a sign-in through the provider that will rotate its key (the Worker fetches its JWKS)", async () => {
  const since = outboundLog.length;
  const who = account("rotate");
  assertSignedIn(await signInVia("rotate", who.sub));
  assert.ok(outboundLog.slice(since).some((r) => r.url.origin === ops.rotate.issuer && r.url.pathname === "/jwks"));
  rotateFetchedAt = Date.now();
});

// ---------------------------------------------------------------------------------------
// 1. The official MCP SDK client

/** The SDK's OAuth client with a person who signs in through provider `id` as `who`. */
class OidcPersonProvider extends PersonProvider {
  constructor(base, redirectUrl, id, who, clientName) {
    super(base, redirectUrl, null, clientName);
    this.providerId = id;
    this.who = who;
    this.person = new Person();
  }
  async redirectToAuthorization(url) {
    this.authorizationUrls.push(url);
    const page = url.pathname + url.search;
    this.providerRequest = await startAt(this.person, this.providerId, page);
    const callbackUrl = await atProvider(this.person, this.providerRequest, this.who.sub);
    const back = await this.person.worker.get(callbackUrl);
    assertSignedIn({ res: back, text: await back.text() }, page);
    const consent = await this.person.worker.get(new URL(back.headers.get("location"), this.base).toString());
    const html = await consent.text();
    assert.equal(consent.status, 200, html);
    const words = unescapeHtml(html.replace(/<[^>]+>/g, "")).replace(/\s+/g, " ");
    assert.ok(words.includes(`Signed in as ${this.who.email}`), "the consent page names the person signed in");
    const res = await this.person.worker.post(this.base + "/authorize", { ...formFields(html), action: "approve" });
    assert.equal(res.status, 302, await res.text());
    const location = new URL(res.headers.get("location"));
    assert.equal(location.origin + location.pathname, this.redirectUrl);
    assert.equal(location.searchParams.get("state"), url.searchParams.get("state"));
    this.code = location.searchParams.get("code");
  }
}

const toolValue = (result) => {
  assert.equal(result.isError, false, JSON.stringify(result));
  return JSON.parse(result.content[0].text);
};

test("the MCP SDK client signs in through the OpenID provider and calls tools", async () => {
  const who = account("corp", { name: "Olive Idp" });
  const since = outboundLog.length;
  const provider = new OidcPersonProvider(w.url, "http://127.0.0.1:33418/callback", "corp", who, "SDK via OIDC");
  const client = await connectSignedIn(w.url, provider, "oidc-test");

  // The authorization request the Worker sent the browser with.
  const auth = provider.providerRequest;
  const disc = await (await fetch(ops.corp.issuer + "/.well-known/openid-configuration")).json();
  assert.equal(auth.origin + auth.pathname, disc.authorization_endpoint);
  const q = auth.searchParams;
  assert.equal(q.get("response_type"), "code");
  assert.equal(q.get("client_id"), "mcp-corp");
  assert.equal(q.get("redirect_uri"), `${w.url}/signin/callback/corp`);
  assert.deepEqual(q.get("scope").split(" ").sort(), ["email", "openid", "profile"]);
  assert.ok(q.get("state")?.length >= 16, "a state");
  assert.ok(q.get("nonce")?.length >= 16, "a nonce");
  assert.match(q.get("code_challenge") ?? "", /^[A-Za-z0-9_-]{43}$/);
  assert.equal(q.get("code_challenge_method"), "S256");
  // The code exchange: client_secret_basic (the metadata lists it) with the PKCE verifier.
  const exchange = outboundLog.slice(since).find((r) => r.url.origin === ops.corp.issuer && r.url.pathname === "/token");
  assert.ok(exchange, "the Worker called the token endpoint");
  assert.equal(exchange.headers.authorization, "Basic " + Buffer.from(`mcp-corp:${secrets.corp}`).toString("base64"));
  const form = new URLSearchParams(exchange.body);
  assert.equal(form.get("grant_type"), "authorization_code");
  assert.equal(form.get("redirect_uri"), `${w.url}/signin/callback/corp`);
  assert.ok(form.get("code_verifier"), "the PKCE verifier is sent");
  assert.equal(form.get("client_secret"), null, "the secret is not in the body with Basic");

  // Tools work, as the new person.
  const stored = toolValue(await client.callTool({ name: "memory_store", arguments: { text: "Signed in through Acme SSO: okapi" } }));
  const found = toolValue(await client.callTool({ name: "search", arguments: { query: "okapi" } }));
  assert.equal(found.results[0].id, stored.id);
  assert.equal(toolValue(await client.callTool({ name: "about", arguments: {} })).signed_in, true);
  await client.close();

  // A person was made, with no local password, and the identity maps to them.
  const user = await userByEmail(who.email);
  assert.ok(user, "a users row for the new person");
  assert.equal(user.name, "Olive Idp");
  assert.equal(user.password_hash, "");
  const note = await w.db.prepare("SELECT user_id FROM notes WHERE id = ?1").bind(stored.id).first();
  assert.equal(note.user_id, user.id, "the note belongs to the new person");
  const ident = await identity("corp", who.sub);
  assert.ok(ident, "an identities row for oidc:<issuer> + sub");
  assert.equal(ident.user_id, user.id);
  assert.equal(ident.email, who.email);
  const signIns = await audits("sign_in", user.id);
  assert.ok(signIns.some((r) => r.detail === "provider corp" && r.outcome === "ok"), JSON.stringify(signIns));
  // The access token is the person's.
  assert.equal((await verifyIssued(w, provider.saved.access_token, { audience: w.url + "/mcp" })).payload.sub, user.id);
});

test("signing in again with the same identity is the same person, not a new one", async () => {
  const who = account("corp");
  assertSignedIn(await signInVia("corp", who.sub));
  const first = await userByEmail(who.email);
  const again = await signInVia("corp", who.sub);
  assertSignedIn(again);
  await assertAccountPage(again.person);
  const { n } = await w.db.prepare("SELECT count(*) AS n FROM users WHERE email = ?1").bind(who.email).first();
  assert.equal(n, 1);
  assert.equal((await identity("corp", who.sub)).user_id, first.id);
  assert.equal((await audits("sign_in", first.id)).filter((r) => r.detail === "provider corp").length, 2);
});

// ---------------------------------------------------------------------------------------
// 2. Headless Chromium

let chromium;
const chromiumBrowser = async () => (chromium ??= await launchChromium());
after(() => chromium?.close());

async function openChromium() {
  const context = await (await chromiumBrowser()).newContext(DEVICES[0].options);
  await context.route("https://app.example/**", (route) => route.fulfill({ status: 200, contentType: "text/plain", body: "the app" }));
  // The provider's development pages import a web font; nothing is fetched from the network.
  await context.route(/^https:\/\/fonts\./, (route) => route.fulfill({ status: 200, contentType: "text/css", body: "" }));
  const page = await context.newPage();
  const problems = watchConsole(page);
  const landed = [];
  page.on("request", (r) => {
    if (new URL(r.url()).hostname === "app.example" && r.isNavigationRequest() && r.redirectedFrom()) landed.push(new URL(r.url()));
  });
  // Only the Worker's pages are ours to judge.
  const ours = () => problems.filter((p) => p.includes(`(${w.url}`));
  return { context, page, landed, ours };
}

/** On the provider's own pages: types the login name and a password, then consents. */
async function providerPagesInChromium(page, sub) {
  const login = page.getByPlaceholder("Enter any login");
  await login.waitFor();
  assert.ok(page.url().startsWith(ops.corp.issuer + "/interaction/"), page.url());
  await login.click();
  await page.keyboard.type(sub);
  await page.getByPlaceholder("and password").click();
  await page.keyboard.type("any password");
  await page.getByRole("button", { name: "Sign-in", exact: true }).click();
  await page.getByRole("button", { name: "Continue", exact: true }).click();
}

test("Chromium: Continue with Acme SSO on the /authorize sign-in page, the provider's pages, then the consent page and the app", async () => {
  const who = account("corp", { name: "Chromium Person" });
  const { context, page, landed, ours } = await openChromium();
  const { verifier, challenge } = pkcePair();
  await page.goto(authorizeUrl(w.url, app, { challenge, state: "chromium-state" }));
  await page.getByRole("heading", { level: 1, name: "Sign in to continue to Example Notes App" }).waitFor();
  const button = page.getByRole("button", { name: "Continue with Acme SSO", exact: true });
  assert.equal(await button.count(), 1);
  assert.deepEqual(await axeViolations(page), [], "axe on the sign-in page with provider buttons");
  await button.click();
  await providerPagesInChromium(page, who.sub);
  await page.getByRole("heading", { level: 1, name: "Allow Example Notes App to use your account?" }).waitFor();
  assert.equal(new URL(page.url()).origin, w.url);
  assert.ok((await page.locator("main").innerText()).includes(`Signed in as ${who.email}`));
  await page.getByRole("button", { name: "Approve" }).click();
  for (let i = 0; i < 100 && !landed.length; i++) await sleep(50);
  assert.equal(landed.length, 1, "the browser was sent to the app");
  assert.equal(landed[0].searchParams.get("state"), "chromium-state");
  const t = await token(w.url, { grant_type: "authorization_code", code: landed[0].searchParams.get("code"), code_verifier: verifier, client_id: app.client_id, redirect_uri: APP, resource: w.url + "/mcp" });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  const user = await userByEmail(who.email);
  assert.ok(user);
  assert.equal((await verifyIssued(w, t.body.access_token, { audience: w.url + "/mcp" })).payload.sub, user.id);
  assert.deepEqual(ours(), [], "console errors on the Worker's pages");
  await context.close();
});

test("Chromium: from the account page through the provider back to the account page", async () => {
  const who = account("corp");
  const { context, page, ours } = await openChromium();
  await page.goto(w.url + "/account");
  await page.getByRole("heading", { level: 1, name: "Sign in to see your connected apps" }).waitFor();
  await page.getByRole("button", { name: "Continue with Acme SSO", exact: true }).click();
  await providerPagesInChromium(page, who.sub);
  await page.getByRole("heading", { level: 1, name: "Connected apps" }).waitFor();
  assert.equal(new URL(page.url()).origin + new URL(page.url()).pathname, w.url + "/account");
  assert.ok(await identity("corp", who.sub), "the identity is mapped");
  assert.deepEqual(ours(), [], "console errors on the Worker's pages");
  await context.close();
});

test("Chromium: Cancel on the provider's page shows the Worker's provider_refused page", async () => {
  const { context, page } = await openChromium();
  await page.goto(w.url + "/account");
  await page.getByRole("button", { name: "Continue with Acme SSO", exact: true }).click();
  await page.getByPlaceholder("Enter any login").waitFor();
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(w.url + "/signin/callback/corp")),
    page.getByRole("link", { name: "[ Cancel ]" }).click(),
  ]);
  assert.equal(response.status(), 400);
  const h1 = page.locator("h1");
  await h1.waitFor();
  assert.equal(await h1.getAttribute("data-error"), "provider_refused");
  // The provider's error code, in the page's technical details.
  assert.match(await page.locator("main details").textContent(), /access_denied/);
  assert.deepEqual(await axeViolations(page), [], "axe on the provider_refused page");
  await context.close();
});

// ---------------------------------------------------------------------------------------
// 3. The callback's security rules

test("a callback replayed (its state used once already) is signin_expired", async () => {
  const who = account("corp");
  const first = await signInVia("corp", who.sub);
  assertSignedIn(first);
  const again = await first.person.worker.get(first.callbackUrl);
  assertErrorPage({ res: again, text: await again.text() }, 400, "signin_expired");
});

test("a callback opened in another browser (no CSRF cookie of the start) is signin_expired", async () => {
  const who = account("corp");
  const person = new Person();
  const callbackUrl = await atProvider(person, await startAt(person, "corp"), who.sub);
  const other = new Browser();
  const res = await other.get(callbackUrl);
  assertErrorPage({ res, text: await res.text() }, 400, "signin_expired");
  assert.equal(await identity("corp", who.sub), null, "nobody signed in");
});

test("a pending sign-in lasts 10 minutes: an expired one is signin_expired", async () => {
  const who = account("corp");
  const person = new Person();
  const callbackUrl = await atProvider(person, await startAt(person, "corp"), who.sub);
  const { latest } = await w.db.prepare("SELECT max(expires_at) AS latest FROM signin_pending WHERE provider = 'corp'").first();
  assert.ok(Math.abs(latest - (now() + 600)) <= 10, `expires in ${latest - now()} s`);
  // Eleven minutes later (every corp sign-in still pending is moved back in time).
  await w.db.prepare("UPDATE signin_pending SET expires_at = expires_at - 660 WHERE provider = 'corp' AND expires_at > ?1").bind(now()).run();
  const res = await person.worker.get(callbackUrl);
  assertErrorPage({ res, text: await res.text() }, 400, "signin_expired");
  assert.equal(await identity("corp", who.sub), null);
});

test("a callback with a state the Worker never issued is signin_expired", async () => {
  const who = account("corp");
  const person = new Person();
  const callbackUrl = new URL(await atProvider(person, await startAt(person, "corp"), who.sub));
  callbackUrl.searchParams.set("state", randomBytes(32).toString("base64url"));
  const res = await person.worker.get(callbackUrl.toString());
  assertErrorPage({ res, text: await res.text() }, 400, "signin_expired");
  // Without any state at all, too.
  callbackUrl.searchParams.delete("state");
  const none = await person.worker.get(callbackUrl.toString());
  assert.ok(none.status === 400, `no state: ${none.status}`);
  assert.equal(await identity("corp", who.sub), null);
});

test("the provider answering ?error=access_denied is provider_refused, with the code shown", async () => {
  const who = account("corp");
  const r = await signInVia("corp", who.sub, { cancel: true });
  assert.equal(new URL(r.callbackUrl).searchParams.get("error"), "access_denied");
  const text = assertErrorPage(r, 400, "provider_refused");
  assert.match(text, /access_denied/);
});

test("a wrong RFC 9207 iss in the callback is provider_failed, and the code is not redeemed", async () => {
  const who = account("corp");
  const person = new Person();
  const callbackUrl = new URL(await atProvider(person, await startAt(person, "corp"), who.sub));
  assert.equal(callbackUrl.searchParams.get("iss"), ops.corp.issuer, "the provider sends iss");
  callbackUrl.searchParams.set("iss", ops.strict.issuer);
  const since = outboundLog.length;
  const res = await person.worker.get(callbackUrl.toString());
  assertErrorPage({ res, text: await res.text() }, 400, "provider_failed");
  assert.ok(!outboundLog.slice(since).some((r) => r.url.pathname === "/token"), "no code exchange after a wrong iss");
  assert.equal(await identity("corp", who.sub), null);
});

test("a callback without iss, when the metadata says the provider sends it, is provider_failed", async () => {
  const who = account("corp");
  const person = new Person();
  const callbackUrl = new URL(await atProvider(person, await startAt(person, "corp"), who.sub));
  callbackUrl.searchParams.delete("iss");
  const res = await person.worker.get(callbackUrl.toString());
  assertErrorPage({ res, text: await res.text() }, 400, "provider_failed");
  assert.equal(await identity("corp", who.sub), null);
});

test("a code the token endpoint refuses (invalid_grant) is provider_failed", async () => {
  const who = account("corp");
  const person = new Person();
  const callbackUrl = new URL(await atProvider(person, await startAt(person, "corp"), who.sub));
  callbackUrl.searchParams.set("code", randomBytes(32).toString("base64url"));
  const res = await person.worker.get(callbackUrl.toString());
  assertErrorPage({ res, text: await res.text() }, 400, "provider_failed");
  assert.equal(await identity("corp", who.sub), null);
});

// The ID token, changed on its way from the token endpoint to the Worker.
const now = () => Math.floor(Date.now() / 1000);
// `resign`: the claims, edited, signed again by jose with `key` (from newKey: its alg and kid).
const resign = (edit, key = () => ops.corp.keys.rsa, header = {}) => (jwt) => {
  const k = key();
  return new SignJWT(edit({ ...decodeJwt(jwt) }))
    .setProtectedHeader({ alg: k.alg, kid: k.kid, typ: "JWT", ...header })
    .sign(k.key);
};
const foreignSameKid = newKey("RS256", "rsa-1");
const foreignNewKid = newKey("RS256", "rsa-never-published");
const TAMPERS = [
  // Raw (tests/helpers/jwt.mjs): a bad signature, and a payload under the old signature.
  ["a byte of its signature flipped", (jwt) => flipSignatureBit(jwt)],
  ["a claim changed without signing again", (jwt) => spliceJwt(jwt, { payload: { ...decodeJwt(jwt), email: "mallory@example.com" } })],
  ["another nonce, signed by a key not in the JWKS (the provider's kid)", resign((c) => ({ ...c, nonce: "attacker-nonce" }), () => foreignSameKid)],
  ["signed by a key with a kid the JWKS never lists", resign((c) => c, () => foreignNewKid)],
  ["another nonce, signed by the provider's own key", resign((c) => ({ ...c, nonce: "another-sign-in-nonce" }))],
  ["no nonce, signed by the provider's own key", resign(({ nonce, ...c }) => c)],
  ["expired an hour ago", resign((c) => ({ ...c, iat: now() - 7200, exp: now() - 3600 }))],
  ["issued an hour in the future", resign((c) => ({ ...c, iat: now() + 3600, exp: now() + 7200 }))],
  ["for another audience", resign((c) => ({ ...c, aud: "someone-else" }))],
  ["for another authorized party (azp)", resign((c) => ({ ...c, aud: [c.aud, "someone-else"], azp: "someone-else" }))],
  ["from another issuer", resign((c) => ({ ...c, iss: ops.strict.issuer }))],
  // Raw (tests/helpers/jwt.mjs): jose's UnsecuredJWT would leave out the typ.
  ["unsigned (alg none)", (jwt) => unsignedJwt({ alg: "none", typ: "JWT" }, decodeJwt(jwt))],
  [
    "HS256 with the client secret as the key",
    (jwt) => new SignJWT(decodeJwt(jwt)).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(secrets.corp)),
  ],
];

for (const [label, edit] of TAMPERS) {
  test(`an ID token ${label} is provider_failed and signs nobody in`, async (t) => {
    t.after(resetTaps);
    const who = account("corp");
    taps.idToken = { issuer: ops.corp.issuer, edit };
    const r = await signInVia("corp", who.sub);
    assertErrorPage(r, 400, "provider_failed");
    assert.equal(await identity("corp", who.sub), null, "no identity mapped");
    assert.equal(await userByEmail(who.email), null, "no person made");
    assert.equal(await userByEmail("mallory@example.com"), null);
  });
}

test("the untampered token through the same proxy signs in (the tamper tests' control)", async (t) => {
  t.after(resetTaps);
  const who = account("corp");
  taps.idToken = { issuer: ops.corp.issuer, edit: resign((c) => c) };
  assertSignedIn(await signInVia("corp", who.sub));
  assert.ok(await identity("corp", who.sub));
});


// ---------------------------------------------------------------------------------------
// Who may sign in

test("a new person whose email the provider has not verified gets email_unverified", async () => {
  const who = account("corp", { email_verified: false });
  const r = await signInVia("corp", who.sub);
  assertErrorPage(r, 403, "email_unverified");
  assert.equal(await userByEmail(who.email), null, "no person made");
  assert.equal(await identity("corp", who.sub), null);
});

test("email_domains: another domain gets no_access (403) with ACCESS_CONTACT; the domain itself signs in", async () => {
  const outsider = account("strict", { email: `${uniq("out")}@other.org` });
  const r = await signInVia("strict", outsider.sub);
  const text = assertErrorPage(r, 403, "no_access");
  assert.ok(text.includes(CONTACT), "the page says whom to ask");
  assert.equal(await userByEmail(outsider.email), null);
  assert.equal(await identity("strict", outsider.sub), null);
  const failed = await audits("sign_in_failed");
  assert.ok(failed.some((row) => row.detail?.startsWith("provider strict: ")), JSON.stringify(failed.slice(-3)));

  // An unverified email of the domain does not count either.
  const unverified = account("strict", { email_verified: false });
  assert.equal((await signInVia("strict", unverified.sub)).res.status, 403);
  assert.equal(await identity("strict", unverified.sub), null);

  const insider = account("strict", { email: `${uniq("in")}@EXAMPLE.com` });
  const ok = await signInVia("strict", insider.sub);
  assertSignedIn(ok);
  await assertAccountPage(ok.person);
  assert.ok(await identity("strict", insider.sub));

  // allow is checked at every sign-in, also for an identity already mapped: the person's
  // email at the provider is now elsewhere.
  ops.strict.account(insider.sub, { ...ops.strict.accounts.get(insider.sub), email: `${insider.sub}@other.org` });
  assertErrorPage(await signInVia("strict", insider.sub), 403, "no_access");
});

test("hosted_domains: the ID token's hd claim decides, not the email", async () => {
  const member = account("hosted", { email: `${uniq("hd")}@gmail.example`, hd: "example.com" });
  assertSignedIn(await signInVia("hosted", member.sub));
  assert.ok(await identity("hosted", member.sub));

  const otherHd = account("hosted", { hd: "other.org" });
  assertErrorPage(await signInVia("hosted", otherHd.sub), 403, "no_access");
  assert.equal(await identity("hosted", otherHd.sub), null);

  const noHd = account("hosted"); // an example.com email, but no hd claim
  assertErrorPage(await signInVia("hosted", noHd.sub), 403, "no_access");
  assert.equal(await userByEmail(noHd.email), null);
});

test("emails (case-insensitive, verified only) and subjects admit exactly whom they name", async () => {
  const boss = account("strict", { email: "boss@other.example" });
  assertSignedIn(await signInVia("strict", boss.sub));
  assert.equal((await identity("strict", boss.sub)).user_id, (await userByEmail("boss@other.example")).id);

  const unverifiedBoss = account("strict", { email: "BOSS@other.example", email_verified: false });
  assert.equal((await signInVia("strict", unverifiedBoss.sub)).res.status, 403, "an unverified address matches no rule");
  assert.equal(await identity("strict", unverifiedBoss.sub), null);

  const listed = account("strict", { sub: "listed-subject-7", email: `${uniq("sub7")}@elsewhere.example` });
  assertSignedIn(await signInVia("strict", listed.sub));
  assert.ok(await identity("strict", "listed-subject-7"));

  const other = account("strict", { email: `${uniq("nobody")}@other.example` });
  assertErrorPage(await signInVia("strict", other.sub), 403, "no_access");
  assert.equal(await userByEmail(other.email), null);
});

test("a disabled person gets account_disabled, whatever the provider says", async () => {
  const who = account("corp");
  assertSignedIn(await signInVia("corp", who.sub));
  const user = await userByEmail(who.email);
  await w.db.prepare("UPDATE users SET disabled_at = ?1 WHERE id = ?2").bind(now(), user.id).run();
  const r = await signInVia("corp", who.sub);
  assertErrorPage(r, 403, "account_disabled");
  assert.ok(!r.res.headers.getSetCookie().some((c) => /session/i.test(c) && !/max-age=0/i.test(c)), "no session cookie");
  const page = await r.person.worker.get(w.url + "/account");
  assert.doesNotMatch(await page.text(), /<h1[^>]*>Connected apps</, "not signed in");
});

test("link_by_email off: the email of an existing password user is account_exists", async () => {
  const existing = await createUser(w.db, `${uniq("pw")}@example.com`, "existing-password-1", "Existing");
  const who = account("linkoff", { email: existing.email });
  const r = await signInVia("linkoff", who.sub);
  assertErrorPage(r, 403, "account_exists");
  assert.equal(await identity("linkoff", who.sub), null, "not linked");
  const { n } = await w.db.prepare("SELECT count(*) AS n FROM users WHERE email = ?1").bind(existing.email).first();
  assert.equal(n, 1, "no second person");
});

test("link_by_email on: a verified email of an existing person links the identity to them", async () => {
  const existing = await createUser(w.db, `${uniq("link")}@example.com`, "existing-password-1", "Linked Person");
  const who = account("linkon", { email: existing.email.toUpperCase() });
  const r = await signInVia("linkon", who.sub);
  assertSignedIn(r);
  await assertAccountPage(r.person);
  const ident = await identity("linkon", who.sub);
  assert.ok(ident, "linked");
  assert.equal(ident.user_id, existing.id, "the same person");
  const { n } = await w.db.prepare("SELECT count(*) AS n FROM users WHERE email = ?1").bind(existing.email).first();
  assert.equal(n, 1);
  assert.ok((await audits("sign_in", existing.id)).some((row) => row.detail === "provider linkon"));
  // Mapped now: a second sign-in is the same person.
  assertSignedIn(await signInVia("linkon", who.sub));
  assert.equal((await identity("linkon", who.sub)).user_id, existing.id);
});

test("link_by_email on without allow: an unverified email is not linked, and a stranger is not let in", async () => {
  const existing = await createUser(w.db, `${uniq("unv")}@example.com`, "existing-password-1");
  const unverified = account("linkon", { email: existing.email, email_verified: false });
  const refused = await signInVia("linkon", unverified.sub);
  // DESIGN.md's chain ends in "no access"; the Worker says "email not verified" when
  // verifying the address could link it. Either way: refused, 403, not linked.
  assert.equal(refused.res.status, 403, refused.text);
  assert.ok(["no_access", "email_unverified"].includes(attr(refused.text.match(/<h1\b[^>]*>/)[0], "data-error")));
  assert.equal(await identity("linkon", unverified.sub), null, "an unverified email never links");

  const stranger = account("linkon");
  const r = await signInVia("linkon", stranger.sub);
  assert.ok(assertErrorPage(r, 403, "no_access").includes(CONTACT));
  assert.equal(await userByEmail(stranger.email), null, "no allow: nobody new is made");
});

// ---------------------------------------------------------------------------------------
// A provider that is down, slow, or different

test("a token endpoint answering 502 is provider_unavailable", async (t) => {
  t.after(resetTaps);
  const who = account("corp");
  const person = new Person();
  const callbackUrl = await atProvider(person, await startAt(person, "corp"), who.sub);
  taps.down = { issuer: ops.corp.issuer, path: "/token" };
  const res = await person.worker.get(callbackUrl);
  assertErrorPage({ res, text: await res.text() }, 400, "provider_unavailable");
  assert.equal(await identity("corp", who.sub), null);
});

test("a provider that answers only 502 is provider_unavailable at the start", async (t) => {
  t.after(resetTaps);
  // The Worker may know the metadata already; then the start goes through and the
  // callback meets the 502. Either way: the provider_unavailable page, never a 5xx.
  taps.down = { issuer: ops.hosted.issuer };
  const person = new Person();
  const page = await person.worker.get(w.url + "/account");
  const { fields } = providerForm(await page.text());
  const start = await person.worker.post(w.url + "/signin/start", { ...fields, provider: "hosted" });
  const text = await start.text();
  if (start.status === 303) {
    // Metadata cached: the person signs in at the provider, the code exchange meets the 502.
    taps.down = null;
    const who = account("hosted", { hd: "example.com" });
    const callbackUrl = await atProvider(person, new URL(start.headers.get("location")), who.sub);
    taps.down = { issuer: ops.hosted.issuer };
    const res = await person.worker.get(callbackUrl);
    assertErrorPage({ res, text: await res.text() }, 400, "provider_unavailable");
  } else {
    assertErrorPage({ res: start, text }, 400, "provider_unavailable");
  }
});

test("a provider that is not running is provider_unavailable", async () => {
  const person = new Person();
  const page = await person.worker.get(w.url + "/account");
  const { fields, buttons } = providerForm(await page.text());
  assert.ok(buttons.some((b) => b.value === "gone" && b.text === "Continue with Gone SSO"));
  const start = await person.worker.post(w.url + "/signin/start", { ...fields, provider: "gone" });
  assertErrorPage({ res: start, text: await start.text() }, 400, "provider_unavailable");
});

test("a token endpoint slower than timeout_ms is provider_unavailable", async (t) => {
  t.after(resetTaps);
  const who = account("slow");
  const person = new Person();
  const callbackUrl = await atProvider(person, await startAt(person, "slow"), who.sub);
  taps.delay = { issuer: ops.slow.issuer, path: "/token", ms: 3000 };
  const started = Date.now();
  const res = await person.worker.get(callbackUrl);
  assertErrorPage({ res, text: await res.text() }, 400, "provider_unavailable");
  assert.ok(Date.now() - started < 2500, `gave up after ${Date.now() - started} ms (timeout_ms 500)`);
  assert.equal(await identity("slow", who.sub), null);
});

test("ES256 ID tokens (EC P-256 key beside the RSA one) sign in", async (t) => {
  t.after(resetTaps);
  const since = outboundLog.length;
  const seen = [];
  taps.idToken = { issuer: ops.es.issuer, edit: (jwt) => (seen.push(jwt), jwt) };
  const who = account("es");
  const r = await signInVia("es", who.sub);
  assert.equal(seen.length, 1);
  assert.deepEqual(decodeProtectedHeader(seen[0]), { alg: "ES256", kid: "ec-1" }, "the provider signed with its EC key");
  // The ID token the Worker accepted verifies against the provider's own JWKS, for the Worker.
  await jwtVerify(seen[0], createRemoteJWKSet(new URL(ops.es.issuer + "/jwks")), { issuer: ops.es.issuer, audience: "mcp-es", algorithms: ["ES256"] });
  assertSignedIn(r);
  await assertAccountPage(r.person);
  const ident = await identity("es", who.sub);
  assert.ok(ident);
  assert.equal(ident.user_id, (await userByEmail(who.email)).id);
  assert.ok(outboundLog.slice(since).some((x) => x.url.origin === ops.es.issuer && x.url.pathname === "/token"));
});

test("client_secret_post, when the metadata lists only that, signs in", async () => {
  const disc = await (await fetch(ops.post.issuer + "/.well-known/openid-configuration")).json();
  assert.deepEqual(disc.token_endpoint_auth_methods_supported, ["client_secret_post"]);
  const since = outboundLog.length;
  const who = account("post");
  const r = await signInVia("post", who.sub);
  assertSignedIn(r);
  assert.ok(await identity("post", who.sub));
  const exchange = outboundLog.slice(since).find((x) => x.url.origin === ops.post.issuer && x.url.pathname === "/token");
  assert.ok(exchange);
  assert.equal(exchange.headers.authorization, undefined, "no Basic header");
  const form = new URLSearchParams(exchange.body);
  assert.equal(form.get("client_id"), "mcp-post");
  assert.equal(form.get("client_secret"), secrets.post);
});

// ---------------------------------------------------------------------------------------
// The start form

test("POST /signin/start with an unknown provider or a foreign return_to is bad_form", async () => {
  const person = new Person();
  const page = await person.worker.get(w.url + "/account");
  const { fields } = providerForm(await page.text());
  const unknown = await person.worker.post(w.url + "/signin/start", { ...fields, provider: "nope" });
  assertErrorPage({ res: unknown, text: await unknown.text() }, 400, "bad_form");
  for (const returnTo of ["https://evil.example/account", "//evil.example/account"]) {
    const foreign = await person.worker.post(w.url + "/signin/start", { ...fields, return_to: returnTo, provider: "corp" });
    assertErrorPage({ res: foreign, text: await foreign.text() }, 400, "bad_form");
  }
});

test("a new signing key (a kid not seen before) is found by fetching the JWKS again", async (t) => {
  t.after(resetTaps);
  assert.ok(rotateFetchedAt, "the first part signed in");
  const wait = rotateFetchedAt + 61_000 - Date.now();
  if (wait > 0) await sleep(wait);
  // The provider rotates: a new key in its JWKS, and ID tokens signed with it.
  const rotated = newKey("ES256", "ec-rotated-2");
  taps.jwksExtra = { issuer: ops.rotate.issuer, keys: [rotated.publicJwk] };
  taps.idToken = { issuer: ops.rotate.issuer, edit: resign((c) => c, () => rotated) };
  const since = outboundLog.length;
  const who = account("rotate");
  assertSignedIn(await signInVia("rotate", who.sub));
  assert.ok(await identity("rotate", who.sub));
  assert.ok(outboundLog.slice(since).some((r) => r.url.origin === ops.rotate.issuer && r.url.pathname === "/jwks"), "the JWKS was fetched again");
});
