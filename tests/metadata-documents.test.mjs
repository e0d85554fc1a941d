// Client ID metadata documents, end to end over real HTTP, by what the Worker fetches:
// a client_id with a query or a fragment, or a host name that spells a private or loopback
// address, is refused without any fetch; fetches are limited per client network and in
// total (METADATA_FETCHES_PER_MINUTE), KV cache fills per network and per day
// (METADATA_CACHE_FILLS_PER_DAY) while past the allowance a document is still used;
// CLIENT_METADATA_DOCUMENTS=off refuses them and the metadata says so; the pages say
// "verified by <host>" only for a JSON document whose redirect URIs stay on its host;
// a loopback redirect URI may change its port and nothing else; and an invalid request
// from a document client whose redirect URI is elsewhere is shown as a page before
// sign-in and redirected only after it (RFC 9700 §4.11.2); a document someone connected
// with (the copy kept in D1's client_documents when its code is redeemed) keeps working
// at /token and /authorize while its host fails, while one nobody connected with is 429
// temporarily_unavailable at /token (never invalid_client, which tells a client to forget itself) and
// unknown at /authorize, and one that answers 404 is invalid_client; and eight hex
// digits in a name spell an address only under the wildcard DNS services.
//
// One Worker per group of settings (started together in `before`), each with its own
// document server on `outbound` and its own list of the URLs it fetched:
//   main   – a high fetch allowance and registration limit
//   limits – METADATA_FETCHES_PER_MINUTE=3 (so 18 in total a minute)
//   fills  – METADATA_CACHE_FILLS_PER_DAY=2 (so 1 per network an hour)
//   off    – CLIENT_METADATA_DOCUMENTS=off
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, publicClient, pkcePair, Browser, authorizeUrl, signedInBrowser, codeFor, exchange, token } from "./helpers/oauth.mjs";

// ---------------------------------------------------------------------------------------
// The document server: any URL it is asked for answers with a valid document naming that
// URL (so a fetch the Worker should not have made would succeed and show), sending people
// back to `https://<its host>/cb`, as JSON with `Cache-Control: max-age=300`; unless the
// URL's path is one of these:
//   /plain.json     – the same, served as text/plain
//   /elsewhere.json – JSON, redirect URI https://elsewhere.example/cb
//   /nocache.json   – the same as any other, without Cache-Control (never cached in KV)
// A host in `failing` answers instead with the status given there (502, 404, ...), or,
// for "hang", not before the Worker's 3 s fetch timeout has passed.

const ELSEWHERE = "https://elsewhere.example/cb";

function documentServer() {
  const fetched = [];
  const failing = new Map();
  async function outbound(req) {
    fetched.push(req.url);
    const u = new URL(req.url);
    const failure = failing.get(u.host);
    if (failure === "hang") {
      await sleep(4500);
      return new Response("too late", { status: 502 });
    }
    if (failure) return new Response(`failing with ${failure}`, { status: failure, headers: { "Content-Type": "text/plain" } });
    const doc = (redirect) => ({
      client_id: req.url,
      client_name: "Doc App " + u.host,
      redirect_uris: [redirect],
      token_endpoint_auth_method: "none",
    });
    const headers = { "Content-Type": "application/json", "Cache-Control": "max-age=300" };
    if (u.pathname === "/plain.json") {
      return new Response(JSON.stringify(doc(`https://${u.host}/cb`)), { headers: { ...headers, "Content-Type": "text/plain" } });
    }
    if (u.pathname === "/elsewhere.json") return new Response(JSON.stringify(doc(ELSEWHERE)), { headers });
    if (u.pathname === "/nocache.json") return new Response(JSON.stringify(doc(`https://${u.host}/cb`)), { headers: { "Content-Type": "application/json" } });
    return new Response(JSON.stringify(doc(`https://${u.host}/cb`)), { headers });
  }
  /** How many times `url` was fetched. */
  const count = (url) => fetched.filter((f) => f === url).length;
  return { outbound, fetched, count, failing };
}

// ---------------------------------------------------------------------------------------

let main, limits, fills, off;
const docs = { main: documentServer(), limits: documentServer(), fills: documentServer(), off: documentServer() };
let alice;
before(async () => {
  [main, limits, fills, off] = await Promise.all([
    startWorker({ bindings: { REGISTER_RATE_LIMIT: "100000", METADATA_FETCHES_PER_MINUTE: "10000" }, outbound: docs.main.outbound }),
    startWorker({ bindings: { REGISTER_RATE_LIMIT: "100000", METADATA_FETCHES_PER_MINUTE: "3" }, outbound: docs.limits.outbound }),
    startWorker({ bindings: { REGISTER_RATE_LIMIT: "100000", METADATA_CACHE_FILLS_PER_DAY: "2" }, outbound: docs.fills.outbound }),
    startWorker({ bindings: { REGISTER_RATE_LIMIT: "100000", CLIENT_METADATA_DOCUMENTS: "off" }, outbound: docs.off.outbound }),
  ]);
  alice = await createUser(main.db, "alice@example.com", "alice-password-1", "Alice");
});
after(() => Promise.all([main, limits, fills, off].map((w) => w?.stop())));

// ---------------------------------------------------------------------------------------
// Small helpers.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits for the next minute when fewer than `margin` seconds of this one are left. */
async function awayFromMinuteEnd(margin = 15) {
  const seconds = new Date().getSeconds();
  if (seconds > 59 - margin) await sleep((61 - seconds) * 1000);
}

/** A unique name, so no two tests (or cases) share a document URL or its cache entry. */
const unique = (prefix) => `${prefix}-${randomBytes(4).toString("hex")}`;

/** An /authorize URL for the client `client_id` (a document URL) and `redirectUri`. */
function docAuthorizeUrl(w, client_id, redirectUri, { set = {}, state } = {}) {
  const u = new URL(authorizeUrl(w.url, { client_id, redirect_uris: [redirectUri] }, { challenge: pkcePair().challenge, state }));
  for (const [k, v] of Object.entries(set)) u.searchParams.set(k, v);
  return u.toString();
}

/** GET without following redirects, from the network `ip` (CF-Connecting-IP) if given, in `browser` if given. */
async function open(url, { ip, browser } = {}) {
  const headers = {};
  if (ip) headers["CF-Connecting-IP"] = ip;
  if (browser) headers.cookie = browser.header();
  const res = await fetch(url, { headers, redirect: "manual" });
  browser?.take(res);
  return res;
}

/** The HTML error page of `kind` (data-error): never a redirect. */
async function assertErrorPage(res, kind, status = 400, what = "") {
  const html = await res.text();
  assert.equal(res.status, status, `${what}: ${html.slice(0, 300)}`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/, what);
  assert.equal(res.headers.get("location"), null, what);
  assert.match(html, new RegExp(`data-error="${kind}"`), `${what}: ${html.slice(0, 300)}`);
  return html;
}

/** A 200 page at /authorize (sign-in or consent) for the app. */
async function assertAppPage(res, what = "") {
  const html = await res.text();
  assert.equal(res.status, 200, `${what}: ${html.slice(0, 300)}`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/, what);
  assert.doesNotMatch(html, /data-error=/, what);
  return html;
}

const badge = (html) => html.match(/<span class="badge">([^<]*)<\/span>/)?.[1];

// =======================================================================================
// 1. URLs that are not usable documents: refused without a fetch

test("1a a document client_id with a query or a fragment is an unknown client, and nothing is fetched", async () => {
  const before = docs.main.fetched.length;
  for (const client_id of [
    "https://app.example/c.json?x=1",
    "https://app.example/c.json?",
    "https://app.example/c.json#frag",
    "https://app.example/c.json#",
  ]) {
    await assertErrorPage(await open(docAuthorizeUrl(main, client_id, "https://app.example/cb")), "unknown_client", 400, client_id);
  }
  assert.deepEqual(docs.main.fetched.slice(before), [], "no document fetched");
  // The same document without the query is fetched and usable: the refusal was the query's.
  const plain = `https://${unique("q")}.example/c.json`;
  await assertAppPage(await open(docAuthorizeUrl(main, plain, plain.replace("/c.json", "/cb"))), plain);
  assert.equal(docs.main.count(plain), 1);
});

test("1b host names that spell private or loopback addresses are refused without a fetch; a public-looking one is fetched", async () => {
  const before = docs.main.fetched.length;
  for (const client_id of [
    "https://127.0.0.1.nip.io/c.json",
    "https://10-0-0-1.sslip.io/c.json",
    "https://7f000001.nip.io/c.json",
    "https://x.lvh.me/c.json",
    "https://api.localhost/c.json",
    "https://192-168-1-1.sslip.io/c.json",
    "https://169.254.169.254.nip.io/c.json",
    "https://app.10.0.0.8.sslip.io/c.json",
    "https://--1.sslip.io/c.json",
    "https://a.localtest.me/c.json",
    "https://127.0.0.1/c.json",
    "https://[::1]/c.json",
  ]) {
    const redirect = client_id.replace("/c.json", "/cb");
    await assertErrorPage(await open(docAuthorizeUrl(main, client_id, redirect)), "unknown_client", 400, client_id);
  }
  assert.deepEqual(docs.main.fetched.slice(before), [], "no document fetched");
  const publicName = "https://8.8.8.8.nip.io/c.json";
  const html = await assertAppPage(await open(docAuthorizeUrl(main, publicName, "https://8.8.8.8.nip.io/cb")), publicName);
  assert.match(html, /Doc App 8\.8\.8\.8\.nip\.io/);
  assert.equal(docs.main.count(publicName), 1, docs.main.fetched.join(" "));
});

// =======================================================================================
// 2. The fetch allowance: per client network and in total, per minute

test("2a METADATA_FETCHES_PER_MINUTE=3: a fourth new document from one network is refused unfetched; other networks fetch up to 18 in all", async () => {
  await awayFromMinuteEnd(20);
  const d = docs.limits;
  const url = (n) => `https://${unique("lim" + String(n).replace(/[^a-z0-9]/gi, ""))}.example/c.json`;
  const cb = (u) => u.replace("/c.json", "/cb");
  const get = (u, ip) => open(docAuthorizeUrl(limits, u, cb(u)), { ip });

  // Network 1: the Worker's own view of a request with no CF-Connecting-IP of ours.
  const first = [url(1), url(1), url(1)];
  for (const u of first) {
    await assertAppPage(await get(u), `network 1 fetch of ${u}`);
    assert.equal(d.count(u), 1, u);
  }
  const fourth = url(1);
  await assertErrorPage(await get(fourth), "app_unreachable", 503, "network 1, fourth document");
  assert.equal(d.count(fourth), 0, "the fourth document was fetched");
  // A document already cached needs no fetch, so it still works from the spent network.
  await assertAppPage(await get(first[0]), "network 1, cached document");
  assert.equal(d.count(first[0]), 1);

  // Another network gets its own three, starting with the URL network 1 was refused.
  await assertAppPage(await get(fourth, "203.0.113.2"), "network 2, first document");
  assert.equal(d.count(fourth), 1);
  for (let i = 0; i < 2; i++) {
    const u = url(2);
    await assertAppPage(await get(u, "203.0.113.2"), `network 2 fetch ${i + 2}`);
    assert.equal(d.count(u), 1);
  }
  const over = url(2);
  await assertErrorPage(await get(over, "203.0.113.2"), "app_unreachable", 503, "network 2, fourth document");
  assert.equal(d.count(over), 0);

  // Networks 3 to 6 (one of them IPv6): 6 × 3 = 18 fetches in all this minute.
  for (const ip of ["203.0.113.3", "2001:db8:5::1", "203.0.113.4", "198.51.100.6"]) {
    for (let i = 0; i < 3; i++) {
      const u = url(ip);
      await assertAppPage(await get(u, ip), `network ${ip} fetch ${i + 1}`);
      assert.equal(d.count(u), 1);
    }
    if (ip.includes(":")) {
      // One IPv6 /64 is one network: another address in it gets no allowance of its own
      // (while the total still has room).
      const sameSlash64 = url("v6");
      await assertErrorPage(await get(sameSlash64, "2001:db8:5::ffff"), "app_unreachable", 503, "same /64");
      assert.equal(d.count(sameSlash64), 0, "another address in a spent /64 fetched");
    }
  }
  // Network 7 has fetched nothing, but the total is spent.
  const past = url(7);
  await assertErrorPage(await get(past, "198.51.100.7"), "app_unreachable", 503, "network 7 past the total");
  assert.equal(d.count(past), 0, "fetched past the total");
  // Cached documents still work from there.
  await assertAppPage(await get(first[1], "198.51.100.7"), "network 7, cached document");
  assert.equal(d.count(first[1]), 1);
  assert.equal(new Set(d.fetched).size, d.fetched.length, "some document was fetched twice: " + d.fetched.join(" "));
  assert.equal(d.fetched.length, 18, d.fetched.join(" "));
});

// =======================================================================================
// 3. The cache-fill allowance

test("3a METADATA_CACHE_FILLS_PER_DAY=2: one fill per network an hour and two a day; past them documents work but are fetched on every use", async () => {
  await awayFromMinuteEnd(15);
  const d = docs.fills;
  const kv = await fills.mf.getKVNamespace("OAUTH_KV");
  const cached = async () => (await kv.list({ prefix: "cimd:" })).keys;
  assert.equal((await cached()).length, 0);
  const url = (n) => `https://${unique("fill" + n)}.example/c.json`;
  const use = async (u, ip, what) => assertAppPage(await open(docAuthorizeUrl(fills, u, u.replace("/c.json", "/cb")), { ip }), what);

  // Network A's first document is cached: the second use fetches nothing.
  const a1 = url("a1");
  await use(a1, "203.0.113.10", "A first document");
  await use(a1, "203.0.113.10", "A first document again");
  assert.equal(d.count(a1), 1, "A's first document was not cached");
  const keys = await cached();
  assert.equal(keys.length, 1, JSON.stringify(keys));
  // Kept for the document's max-age=300.
  const now = Date.now() / 1000;
  assert.ok(keys[0].expiration >= now + 240 && keys[0].expiration <= now + 360, JSON.stringify(keys[0]));

  // Network A's second document is past its hourly fill: used, not cached, fetched each time.
  const a2 = url("a2");
  for (let i = 1; i <= 3; i++) {
    await use(a2, "203.0.113.10", `A second document, use ${i}`);
    assert.equal(d.count(a2), i, "A's second document was cached past the network's allowance");
  }
  assert.equal((await cached()).length, 1);

  // Network B has its own fill: its document is cached (two fills today).
  const b1 = url("b1");
  await use(b1, "203.0.113.11", "B first document");
  await use(b1, "203.0.113.11", "B first document again");
  assert.equal(d.count(b1), 1, "B's document was not cached");
  assert.equal((await cached()).length, 2);

  // Network C has filled nothing, but the day's two fills are spent: used, not cached.
  const c1 = url("c1");
  await use(c1, "203.0.113.12", "C first document");
  await use(c1, "203.0.113.12", "C first document again");
  assert.equal(d.count(c1), 2, "C's document was cached past the daily allowance");
  assert.equal((await cached()).length, 2);

  // What was cached is still served from the cache, from any network.
  await use(a1, "203.0.113.12", "A's document from C");
  assert.equal(d.count(a1), 1);
});

// =======================================================================================
// 4. CLIENT_METADATA_DOCUMENTS=off

test("4a CLIENT_METADATA_DOCUMENTS=off: a document client_id is an unknown client, nothing is fetched, and the metadata says so", async () => {
  const u = `https://${unique("off")}.example/c.json`;
  await assertErrorPage(await open(docAuthorizeUrl(off, u, u.replace("/c.json", "/cb"))), "unknown_client", 400, u);
  assert.deepEqual(docs.off.fetched, []);
  const offMeta = await (await fetch(off.url + "/.well-known/oauth-authorization-server")).json();
  assert.equal(offMeta.client_id_metadata_document_supported, false);
  // On by default: the same request on another Worker fetches and shows the app.
  const onMeta = await (await fetch(main.url + "/.well-known/oauth-authorization-server")).json();
  assert.equal(onMeta.client_id_metadata_document_supported, true);
  await assertAppPage(await open(docAuthorizeUrl(main, u, u.replace("/c.json", "/cb"))), "on by default");
  assert.equal(docs.main.count(u), 1);
});

// =======================================================================================
// 5. Who vouches for the app's name

test("5a a JSON document sending people to its own host is 'verified by' that host on the sign-in and consent pages", async () => {
  const host = `${unique("vouched")}.example`;
  const u = `https://${host}/c.json`;
  const url = docAuthorizeUrl(main, u, `https://${host}/cb`);
  const signIn = await assertAppPage(await open(url), "sign-in page");
  assert.match(signIn, /name="password"/, "not the sign-in page");
  assert.equal(badge(signIn), `verified by ${host}`);
  assert.match(signIn, new RegExp(`<strong>Doc App ${host.replaceAll(".", "\\.")}</strong>`));
  assert.doesNotMatch(signIn, /name chosen by the app itself/);
  const browser = await signedInBrowser(main, alice);
  const consent = await assertAppPage(await open(url, { browser }), "consent page");
  assert.match(consent, /name="action" value="approve"/, "not the consent page");
  assert.equal(badge(consent), `verified by ${host}`);
  assert.doesNotMatch(consent, /name chosen by the app itself/);
  assert.match(consent, new RegExp(`sent back to <strong>${host.replaceAll(".", "\\.")}</strong>`));
});

test("5b the same document served as text/plain, or sending people to another host, is unverified and names the redirect host", async () => {
  const plainHost = `${unique("plain")}.example`;
  const awayHost = `${unique("away")}.example`;
  const browser = await signedInBrowser(main, alice);
  for (const [u, redirect, redirectHost] of [
    [`https://${plainHost}/plain.json`, `https://${plainHost}/cb`, plainHost],
    [`https://${awayHost}/elsewhere.json`, ELSEWHERE, "elsewhere.example"],
  ]) {
    const url = docAuthorizeUrl(main, u, redirect);
    const shownHost = new RegExp(`<strong>${redirectHost.replaceAll(".", "\\.")}</strong>`);
    const signIn = await assertAppPage(await open(url), `sign-in page for ${u}`);
    assert.match(signIn, /name="password"/, "not the sign-in page");
    assert.equal(badge(signIn), "name chosen by the app itself", u);
    assert.doesNotMatch(signIn, /verified by/, u);
    assert.match(signIn, shownHost, u);
    const consent = await assertAppPage(await open(url, { browser }), `consent page for ${u}`);
    assert.match(consent, /name="action" value="approve"/, "not the consent page");
    assert.equal(badge(consent), "name chosen by the app itself", u);
    assert.doesNotMatch(consent, /verified by/, u);
    assert.match(consent, shownHost, u);
    assert.ok(docs.main.count(u) >= 1, `${u} was never fetched`);
  }
});

// =======================================================================================
// 6. Loopback redirect URIs: the port may change, nothing else

test("6a a registered loopback redirect URI accepts another port, but not user information, a fragment or another host or path", async () => {
  const client = await publicClient(main.url); // registered: http://127.0.0.1:9999/callback
  assert.deepEqual(client.redirect_uris, ["http://127.0.0.1:9999/callback"]);
  const url = (redirectUri) => authorizeUrl(main.url, client, { challenge: pkcePair().challenge, redirectUri });
  const ok = await assertAppPage(await open(url("http://127.0.0.1:51234/callback")), "another port");
  assert.match(ok, /name="password"/);
  const browser = await signedInBrowser(main, alice);
  for (const redirectUri of [
    "http://u:p@127.0.0.1:51234/callback",
    "http://127.0.0.1:51234/callback#x",
    "http://u@127.0.0.1:9999/callback",
    "http://u:p@127.0.0.1:9999/callback",
    "http://127.0.0.1:9999/callback#x",
    "http://localhost:51234/callback",
    "http://127.0.0.1:51234/other",
    "https://127.0.0.1:51234/callback",
  ]) {
    // Signed out and signed in alike: a page, never a redirect.
    await assertErrorPage(await open(url(redirectUri)), "unregistered_redirect", 400, `signed out: ${redirectUri}`);
    await assertErrorPage(await open(url(redirectUri), { browser }), "unregistered_redirect", 400, `signed in: ${redirectUri}`);
  }
});

// =======================================================================================
// 7. RFC 9700 §4.11.2 for document clients

test("7a an invalid request from a document client is a page naming the app and its redirect host before sign-in, and the error redirect after", async () => {
  const vouchedUrl = `https://elsewhere.example/${unique("app")}.json`; // JSON, redirect home: vouched
  const unvouchedUrl = `https://${unique("bouncer")}.example/elsewhere.json`; // JSON, redirect away
  const browser = await signedInBrowser(main, alice);
  for (const [u, name] of [
    [vouchedUrl, "Doc App elsewhere.example"],
    [unvouchedUrl, `Doc App ${new URL(unvouchedUrl).host}`],
  ]) {
    // The document is usable: a valid request shows the app.
    await assertAppPage(await open(docAuthorizeUrl(main, u, ELSEWHERE)), `valid request for ${u}`);
    const state = "st-" + randomBytes(6).toString("hex");
    const bad = docAuthorizeUrl(main, u, ELSEWHERE, { state, set: { response_type: "x" } });
    const page = await assertErrorPage(await open(bad), "app_request", 400, `signed out: ${u}`);
    assert.match(page, new RegExp(`<strong>${name.replaceAll(".", "\\.")}</strong>`), u);
    assert.match(page, /<strong>elsewhere\.example<\/strong>/, u);
    assert.doesNotMatch(page, /href="https:\/\/elsewhere/, u);
    const res = await open(bad, { browser });
    await res.text();
    assert.equal(res.status, 302, `signed in: ${u}`);
    const loc = new URL(res.headers.get("location"));
    assert.equal(loc.origin + loc.pathname, ELSEWHERE);
    assert.equal(loc.searchParams.get("error"), "unsupported_response_type", loc.toString());
    assert.equal(loc.searchParams.get("state"), state);
    assert.equal(loc.searchParams.get("iss"), main.url);
    assert.equal(loc.searchParams.get("code"), null);
  }
});


// =======================================================================================
// 8. A document that cannot be fetched: the kept copy, 429 at /token, refused is refused

/** The copy of a document kept in D1 (client_documents), or null. */
const keptCopy = (w, url) => w.db.prepare("SELECT client_id, record, saved_at FROM client_documents WHERE client_id = ?").bind(url).first();

/** The KV cache entry of a document, or null. */
async function cachedDocument(w, url) {
  const kv = await w.mf.getKVNamespace("OAUTH_KV");
  return kv.get("cimd:" + createHash("sha256").update(url).digest("base64url"));
}

/** A 429 temporarily_unavailable from /token with a Retry-After of some seconds: never invalid_client. */
function assertSlowDown(r, what) {
  assert.equal(r.status, 429, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error, "temporarily_unavailable", `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.headers.get("www-authenticate"), null, what);
  const retryAfter = r.headers.get("retry-after");
  assert.ok(/^\d+$/.test(retryAfter ?? "") && Number(retryAfter) > 0 && Number(retryAfter) <= 3600, `${what}: Retry-After ${retryAfter}`);
}

function assertInvalidClient(r, what) {
  assert.equal(r.status, 401, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error, "invalid_client", `${what}: ${JSON.stringify(r.body)}`);
}

/** /token requests naming the document client `client_id`: a refresh and a code redemption, with made-up values. */
const tokenRequests = (client_id) => [
  ["refresh_token", { grant_type: "refresh_token", refresh_token: "made-up-" + randomBytes(8).toString("hex"), client_id }],
  [
    "authorization_code",
    {
      grant_type: "authorization_code",
      code: "made-up-" + randomBytes(8).toString("hex"),
      code_verifier: pkcePair().verifier,
      client_id,
      redirect_uri: new URL("/cb", client_id).toString(),
      resource: main.url + "/mcp",
    },
  ],
];

test("8a a document client someone connected with keeps working while its document cannot be fetched: the copy kept at code redemption stands in", async () => {
  const d = docs.main;
  const host = `${unique("kept")}.example`;
  const u = `https://${host}/nocache.json`;
  const client = { client_id: u, redirect_uris: [`https://${host}/cb`] };
  const kim = await createUser(main.db, `${unique("kim")}@example.com`, "kim-password-1", "Kim");

  // Approved in a browser: the app's pages fetched the document, nothing is kept yet.
  const c = await codeFor(main, kim, client);
  assert.ok(d.count(u) >= 1, "the document was fetched");
  assert.equal(await keptCopy(main, u), null, "a copy kept before any code was redeemed");
  const beforeRedeem = Math.floor(Date.now() / 1000);
  const t = await exchange(main, client, c);
  assert.equal(t.status, 200, JSON.stringify(t.body));
  assert.ok(t.body.refresh_token, JSON.stringify(t.body));
  // Served without Cache-Control: never in KV's cache, so everything below fetches it.
  assert.equal(await cachedDocument(main, u), null, "the document was cached in KV");
  const row = await keptCopy(main, u);
  assert.ok(row, "no client_documents row after the code was redeemed");
  const record = JSON.parse(row.record);
  assert.equal(record.client_id, u, row.record);
  assert.deepEqual(record.redirect_uris, client.redirect_uris, row.record);
  assert.ok(row.saved_at >= beforeRedeem - 1 && row.saved_at <= Date.now() / 1000 + 1, `saved_at ${row.saved_at}`);

  // The document's host fails (502, then a timeout): /token refreshes with the kept copy.
  let refreshToken = t.body.refresh_token;
  for (const failure of [502, "hang"]) {
    d.failing.set(host, failure);
    const fetchedBefore = d.count(u);
    const r = await token(main.url, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: u });
    assert.equal(r.status, 200, `refresh while the host answers ${failure}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.ok(r.body.access_token && r.body.refresh_token, JSON.stringify(r.body));
    assert.ok(d.count(u) > fetchedBefore, `the Worker did not try the document (${failure}): the copy must stand in for a failed fetch`);
    refreshToken = r.body.refresh_token;
  }
  // ... and /authorize still shows the app, as the document described it.
  d.failing.set(host, 502);
  const fetchedBefore = d.count(u);
  const page = await assertAppPage(await open(docAuthorizeUrl(main, u, `https://${host}/cb`)), "/authorize while the host answers 502");
  assert.match(page, new RegExp(`Doc App ${host.replaceAll(".", "\\.")}`));
  assert.equal(badge(page), `verified by ${host}`);
  assert.ok(d.count(u) > fetchedBefore, "the Worker did not try the document at /authorize");
  // A fresh approval still works end to end with the host down.
  const again = await exchange(main, client, await codeFor(main, kim, client));
  assert.equal(again.status, 200, JSON.stringify(again.body));

  // The copy stands in for a week from when it was kept, not longer: dated just inside
  // the week it still refreshes; just outside, /token says "later" (429), not "unknown".
  const WEEK = 7 * 86_400;
  const dateCopy = (savedAt) => main.db.prepare("UPDATE client_documents SET saved_at = ? WHERE client_id = ?").bind(savedAt, u).run();
  await dateCopy(Math.floor(Date.now() / 1000) - WEEK + 600);
  const inside = await token(main.url, { grant_type: "refresh_token", refresh_token: again.body.refresh_token, client_id: u });
  assert.equal(inside.status, 200, `a copy kept 6 days 23 h 50 min ago: ${JSON.stringify(inside.body)}`);
  await dateCopy(Math.floor(Date.now() / 1000) - WEEK - 600);
  assertSlowDown(
    await token(main.url, { grant_type: "refresh_token", refresh_token: inside.body.refresh_token, client_id: u }),
    "a copy kept a week and 10 minutes ago",
  );
  await assertErrorPage(await open(docAuthorizeUrl(main, u, `https://${host}/cb`)), "app_unreachable", 503, "/authorize with the copy a week old");
  d.failing.delete(host);
});

test("8b a failing document nobody connected with is 429 temporarily_unavailable at /token and 'could not be reached' at /authorize; one answering 404 is invalid_client and unknown", async () => {
  const d = docs.main;
  const busy502 = `${unique("busy")}.example`;
  const busySlow = `${unique("slow")}.example`;
  const gone = `${unique("gone")}.example`;
  d.failing.set(busy502, 502);
  d.failing.set(busySlow, "hang");
  d.failing.set(gone, 404);
  const urlOf = (host) => `https://${host}/c.json`;

  for (const host of [busy502, busySlow]) {
    const u = urlOf(host);
    for (const [grant, fields] of tokenRequests(u)) {
      const fetchedBefore = d.count(u);
      assertSlowDown(await token(main.url, fields), `${grant} naming ${u} (host answers ${d.failing.get(host)})`);
      assert.ok(d.count(u) > fetchedBefore, `${u} was not fetched: the 429 must be its host's`);
    }
    // Not "not known here": it could not be reached, and the person is told to try again.
    const page = await open(docAuthorizeUrl(main, u, `https://${host}/cb`));
    await assertErrorPage(page, "app_unreachable", 503, `/authorize for ${u}`);
    assert.equal(await keptCopy(main, u), null);
  }

  const u = urlOf(gone);
  for (const [grant, fields] of tokenRequests(u)) {
    const fetchedBefore = d.count(u);
    assertInvalidClient(await token(main.url, fields), `${grant} naming ${u} (host answers 404)`);
    assert.ok(d.count(u) > fetchedBefore, `${u} was not fetched`);
  }
  await assertErrorPage(await open(docAuthorizeUrl(main, u, `https://${gone}/cb`)), "unknown_client", 400, `/authorize for ${u}`);

  // Once the host answers again, the same client works: the 429 said "later", not "never".
  d.failing.delete(busy502);
  await assertAppPage(await open(docAuthorizeUrl(main, urlOf(busy502), `https://${busy502}/cb`)), "the recovered document");
  const r = await token(main.url, tokenRequests(urlOf(busy502))[0][1]);
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error, "invalid_grant", JSON.stringify(r.body));
  d.failing.delete(busySlow);
  d.failing.delete(gone);
});

test("8c eight hex digits in a name are an address only under the wildcard DNS services: fetched elsewhere, refused unfetched there", async () => {
  const d = docs.main;
  for (const u of [
    "https://app-git-7f000001.vercel.app/c.json",
    "https://preview-7f000001.example/c.json",
    "https://build-c0a80001-main.example/c.json",
    // Under nip.io, a hex form that spells a public address is a public name.
    "https://app-08080808.nip.io/c.json",
  ]) {
    const html = await assertAppPage(await open(docAuthorizeUrl(main, u, u.replace("/c.json", "/cb"))), u);
    assert.match(html, new RegExp(`Doc App ${new URL(u).host.replaceAll(".", "\\.")}`), u);
    assert.equal(d.count(u), 1, `${u} fetched ${d.count(u)} times`);
  }
  const before = d.fetched.length;
  for (const u of [
    "https://app-7f000001.nip.io/c.json",
    "https://x-c0a80001-y.nip.io/c.json",
    "https://app-0a000001.sslip.io/c.json",
    "https://preview-a9fea9fe.nip.io/c.json",
  ]) {
    await assertErrorPage(await open(docAuthorizeUrl(main, u, u.replace("/c.json", "/cb"))), "unknown_client", 400, u);
    // Refused, not busy: at /token the client is unknown.
    assertInvalidClient(await token(main.url, tokenRequests(u)[0][1]), `/token naming ${u}`);
  }
  assert.deepEqual(d.fetched.slice(before), [], "a name spelling a private address under a wildcard DNS service was fetched");
});
