// The console's Apps page (/admin/apps) changing things, end to end against the built
// Worker: an administrator adds a pre-registered public app and the MCP SDK client (its
// OAuth provider given that client ID, so it does not register) connects with it and
// calls a tool; removing the app in the console revokes the connection (the refresh is
// refused, the access token is 401 at /mcp, /authorize shows the unknown-app page). A
// confidential app's secret is shown once, works with client_secret_basic, and a new
// secret refuses the old one. Limits (one scope, a 15-minute access token) show in the
// token response. Bad forms are 400 with their message; hosts of client ID metadata
// documents are blocked, allowed and forgotten (documents served by a local function on
// the Worker's outbound fetch, as in metadata-documents.test.mjs). Every refusal: a
// sign-in older than ten minutes, no CSRF token, a cross-site post, a person without the
// role. Every change is in the audit log naming the administrator. In headless Chromium:
// axe in light and dark, no sideways scroll at 320 px, and an app added with the keyboard.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { decodeJwt } from "jose";
import { startWorker } from "./helpers/worker.mjs";
import { approve, authorizeUrl, Browser, codeFor, createUser, exchange, formFields, fullFlow, pkcePair, token } from "./helpers/oauth.mjs";
import { modernCall } from "./helpers/mcp.mjs";
import { PersonProvider, connectSignedIn } from "./helpers/person-provider.mjs";
import { launchChromium, DEVICES, axeViolations, watchConsole } from "./helpers/chromium.mjs";
import { signedInAgo as ageSession } from "./helpers/session-age.mjs";

// ---------------------------------------------------------------------------------------
// The document server (a small copy of metadata-documents.test.mjs's): any URL answers
// with a valid document naming itself, sending people back to https://<its host>/cb.

function documentServer() {
  const fetched = [];
  async function outbound(req) {
    fetched.push(req.url);
    const u = new URL(req.url);
    const doc = { client_id: req.url, client_name: "Doc App " + u.host, redirect_uris: [`https://${u.host}/cb`], token_endpoint_auth_method: "none" };
    return new Response(JSON.stringify(doc), { headers: { "Content-Type": "application/json", "Cache-Control": "max-age=300" } });
  }
  const count = (url) => fetched.filter((f) => f === url).length;
  return { outbound, fetched, count };
}

const docs = documentServer();
let w, chromium, ann, bob, carol;
before(async () => {
  w = await startWorker({ bindings: { REGISTER_RATE_LIMIT: "100000", METADATA_FETCHES_PER_MINUTE: "10000" }, outbound: docs.outbound });
  ann = await createUser(w.db, "ann@example.com", "ann-password-1", "Ann Admin");
  bob = await createUser(w.db, "bob@example.com", "bob-password-1", "Bob");
  carol = await createUser(w.db, "carol@example.com", "carol-password-1", "Carol");
  await w.db.prepare("INSERT INTO user_roles (user_id, role, source, created_at) VALUES (?, 'admin', 'operator', 0)").bind(ann.id).run();
  chromium = await launchChromium();
});
after(async () => {
  await chromium?.close();
  await w?.stop();
});

// ---------------------------------------------------------------------------------------
// Small helpers.

const unique = (prefix) => `${prefix}-${randomBytes(4).toString("hex")}`;
const unescape = (s) => s.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
const h1 = (html) => /<h1[^>]*>(.*?)<\/h1>/s.exec(html)?.[1];
const dataError = (html) => /<h1 data-error="([^"]*)"/.exec(html)?.[1];
const noticeOf = (html) => {
  const m = /<p class="notice" role="status">(.*?)<\/p>/s.exec(html);
  return m ? unescape(m[1]) : undefined;
};
const alertOf = (html) => {
  const m = /<p class="error" role="alert">(.*?)<\/p>/s.exec(html);
  return m ? unescape(m[1]) : undefined;
};
const secretOf = (html) => /<p class="secret">Client secret: <code>([^<]+)<\/code><\/p>/.exec(html)?.[1];
const clientCount = async () => (await w.db.prepare("SELECT COUNT(*) AS n FROM clients").first()).n;
const auditOf = (clientId) =>
  w.db.prepare("SELECT event, detail, request_id FROM audit_events WHERE client_id = ? ORDER BY id").bind(clientId).all().then((r) => r.results);
const storedClient = async (id) => {
  const row = await w.db.prepare("SELECT metadata FROM clients WHERE client_id = ?").bind(id).first();
  return row ? { raw: row.metadata, ...JSON.parse(row.metadata) } : null;
};
const basic = (id, secret) => ({ Authorization: "Basic " + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64") });

/** A browser signed in at /admin as `who` (the console's own form), on the Apps page. */
async function atApps(who) {
  const browser = new Browser();
  const signin = await browser.get(w.url + "/admin");
  const form = formFields(await signin.text());
  const res = await browser.post(w.url + "/admin", { ...form, action: "signin", email: who.email, password: who.password });
  await res.text();
  assert.equal(res.status, 303, "signed in");
  const apps = await browser.get(w.url + "/admin/apps");
  const html = await apps.text();
  // A person without the role has no token on the 403 page: the sign-in form's, bound to
  // the same CSRF cookie and purpose, stands in (so their refusal is the role's).
  return { browser, res: apps, status: apps.status, html, csrf: formFields(html).csrf_token ?? form.csrf_token };
}

/** Posts a form to /admin/apps in `s`'s browser (with its CSRF token unless given). */
async function appsPost(s, fields) {
  const res = await s.browser.post(w.url + "/admin/apps", { csrf_token: s.csrf, ...fields });
  const html = await res.text();
  return { res, status: res.status, html, notice: noticeOf(html), alert: alertOf(html), secret: secretOf(html) };
}

/** Adds an app with the form; its client ID from the notice. */
async function create(s, fields) {
  const out = await appsPost(s, { action: "create", auth: "none", scope: "", access_ttl: "", refresh_ttl: "", ...fields });
  assert.equal(out.status, 200, `create ${JSON.stringify(fields)}: ${out.alert ?? out.html.slice(0, 400)}`);
  const id = /Its client ID is ([A-Za-z0-9_-]+)/.exec(out.notice ?? "")?.[1];
  assert.ok(id, `a client ID in the notice: ${out.notice}`);
  return { ...out, client_id: id };
}

/** The <li> of the app `id` on the Apps page `html`. */
function appItem(html, id) {
  const i = html.indexOf(`<code>${id}</code>`);
  assert.ok(i > 0, `the app ${id} is listed`);
  return html.slice(html.lastIndexOf("<li>", i), html.indexOf("</li>", i) + 5);
}

/** The fields of the form of `item` whose button has `action` (with that action). */
function formWith(item, action) {
  for (const m of item.matchAll(/<form[\s\S]*?<\/form>/g)) {
    if (m[0].includes(`name="action" value="${action}"`)) return { ...formFields(m[0]), action };
  }
  assert.fail(`no form with the action ${action} in ${item}`);
}

const dd = (item, dt) => unescape(new RegExp(`<dt>${dt}</dt><dd>(.*?)</dd>`).exec(item)?.[1] ?? "");

/** Sign-in and consent as `who`, then the code at /token with `headers` and `fields`. */
async function codeFlow(clientId, redirectUri, who, { headers = {}, fields = {}, scope } = {}) {
  const { verifier, challenge } = pkcePair();
  const res = await approve(w.url, new Browser(), authorizeUrl(w.url, { client_id: clientId, redirect_uris: [redirectUri] }, { challenge, scope }), who);
  assert.equal(res.status, 302, `approve: ${res.status} ${(await res.text()).slice(0, 300)}`);
  const code = new URL(res.headers.get("location")).searchParams.get("code");
  return token(w.url, { grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: redirectUri, resource: w.url + "/mcp", ...fields }, headers);
}

/** GET without following redirects. */
const open = async (url) => {
  const res = await fetch(url, { redirect: "manual" });
  return { res, status: res.status, html: await res.text() };
};

/** An /authorize URL for the client `clientId` sending people to `redirectUri`. */
const authorizeFor = (clientId, redirectUri) => authorizeUrl(w.url, { client_id: clientId, redirect_uris: [redirectUri] }, { challenge: pkcePair().challenge });

/** The unknown-app page: 400, HTML, never a redirect. */
function assertUnknownApp(page, what) {
  assert.equal(page.status, 400, `${what}: ${page.status} ${page.html.slice(0, 300)}`);
  assert.equal(page.res.headers.get("location"), null, what);
  assert.equal(dataError(page.html), "unknown_client", `${what}: ${page.html.slice(0, 300)}`);
}

/** An app's page at /authorize (the sign-in form), not an error. */
function assertAppPage(page, what) {
  assert.equal(page.status, 200, `${what}: ${page.status} ${page.html.slice(0, 300)}`);
  assert.equal(dataError(page.html), undefined, what);
  assert.match(page.html, /name="password"/, `${what}: the sign-in form`);
}

function assertInvalidClient(r, what) {
  assert.equal(r.status, 401, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error, "invalid_client", `${what}: ${JSON.stringify(r.body)}`);
}

// ---------------------------------------------------------------------------------------
// A session signed in longer ago (tests/helpers/session-age.mjs).

/** Moves the sign-in time of `browser`'s session back by `seconds`. */
const signedInAgo = (browser, seconds) => ageSession(browser, w.bindings.JWT_SIGNING_KEY, seconds);

// =======================================================================================

test("an administrator adds a public app; the MCP SDK client connects with that client ID and calls a tool; removing the app ends it", async () => {
  const redirect = "http://127.0.0.1:33501/callback";
  const s = await atApps(ann);
  assert.equal(s.status, 200, s.html.slice(0, 300));
  assert.equal(h1(s.html), "Apps");
  const before = await clientCount();
  const made = await create(s, { name: "Desk Assistant", redirect_uris: `${redirect}\r\nhttps://desk.example/cb\r\n` });
  assert.equal(made.notice, `Added Desk Assistant. Its client ID is ${made.client_id} (a public app: PKCE, no secret).`);
  assert.equal(made.secret, undefined, "no secret for a public app");
  assert.equal(made.alert, undefined);
  const id = made.client_id;
  const stored = await storedClient(id);
  assert.equal(stored.source, "preregistered");
  assert.equal(stored.token_endpoint_auth_method, "none");
  assert.deepEqual(stored.redirect_uris, [redirect, "https://desk.example/cb"]);
  assert.equal(stored.secret_hash ?? null, null);
  const item = appItem(made.html, id);
  assert.match(item, /<h2>Desk Assistant<\/h2>/);
  assert.equal(dd(item, "Known by"), "pre-registered by the operator");
  assert.equal(dd(item, "Sends people to"), "127.0.0.1, desk.example");
  assert.equal(dd(item, "Authenticates"), "none");
  assert.equal(dd(item, "Connected for"), "0 people");
  assert.doesNotMatch(item, /value="rotate"/, "a public app has no secret to replace");

  // The SDK client, given the client ID, as a pre-registered client: it never registers.
  const provider = new PersonProvider(w.url, redirect, carol, "Desk Assistant");
  provider.saveClientInformation({ client_id: id });
  const client = await connectSignedIn(w.url, provider, "desk-assistant");
  assert.equal(provider.info.client_id, id);
  assert.equal(provider.authorizationUrls[0].searchParams.get("client_id"), id);
  assert.equal(await clientCount(), before + 1, "the SDK registered a client of its own");
  assert.ok(provider.saved.access_token && provider.saved.refresh_token, JSON.stringify(provider.saved));
  const stored1 = await client.callTool({ name: "memory_store", arguments: { text: "Desk assistant's note about the quarterly plan" } });
  assert.equal(stored1.isError ?? false, false, JSON.stringify(stored1));
  const found = await client.callTool({ name: "search", arguments: { query: "quarterly plan" } });
  assert.equal(JSON.parse(found.content[0].text).results[0].id, JSON.parse(stored1.content[0].text).id);
  const { access_token: access, refresh_token: refresh } = provider.saved;
  assert.equal((await modernCall(w.url, access, "tools/list")).status, 200);

  const listed = await s.browser.get(w.url + "/admin/apps").then((r) => r.text());
  assert.equal(dd(appItem(listed, id), "Connected for"), "1 person");

  // Removed in the console.
  const removed = await appsPost(s, formWith(appItem(listed, id), "remove"));
  assert.equal(removed.status, 200, removed.alert ?? removed.html.slice(0, 300));
  assert.equal(removed.notice, "Removed the app and revoked its 1 connection(s): refresh tokens stop at once, access tokens within a minute.");
  assert.ok(!removed.html.includes(`<code>${id}</code>`), "the app is still listed");
  assert.equal(await storedClient(id), null);
  const grants = (await w.db.prepare("SELECT revoked_at FROM grants WHERE client_id = ?").bind(id).all()).results;
  assert.ok(grants.length > 0 && grants.every((g) => g.revoked_at !== null), JSON.stringify(grants));

  // The refresh is refused; the access token stops at /mcp; the SDK client cannot go on.
  const r = await token(w.url, { grant_type: "refresh_token", refresh_token: refresh, client_id: id });
  assert.ok(["invalid_grant", "invalid_client"].includes(r.body.error), `refresh after removal: ${r.status} ${JSON.stringify(r.body)}`);
  assert.ok(r.status === 400 || r.status === 401, `${r.status}`);
  const mcp = await modernCall(w.url, access, "tools/list");
  assert.equal(mcp.status, 401, `the access token at /mcp after removal: ${mcp.status} ${mcp.text.slice(0, 200)}`);
  await assert.rejects(client.callTool({ name: "search", arguments: { query: "quarterly" } }), "the SDK client still calls tools");
  // /authorize shows the unknown-app page; /token does not know it.
  assertUnknownApp(await open(authorizeFor(id, redirect)), "/authorize for a removed app");
  const { verifier } = pkcePair();
  assertInvalidClient(
    await token(w.url, { grant_type: "authorization_code", code: "made-up", code_verifier: verifier, client_id: id, redirect_uri: redirect, resource: w.url + "/mcp" }),
    "/token naming a removed app",
  );
  await client.close().catch(() => {});

  const logged = await auditOf(id);
  const mine = logged.filter((e) => e.event.startsWith("client_"));
  assert.deepEqual(mine.map((e) => [e.event, e.detail]), [
    ["client_registered", "Desk Assistant by ann@example.com"],
    ["client_removed", "by ann@example.com"],
  ]);
});

test("a confidential app: its secret is shown once, works with client_secret_basic; a new secret refuses the old one", async () => {
  const redirect = "https://ops.example/cb";
  const s = await atApps(ann);
  const made = await create(s, { name: "Ops Board", redirect_uris: redirect, auth: "client_secret_basic" });
  const id = made.client_id;
  assert.equal(made.notice, `Added Ops Board. Its client ID is ${id}. Copy its secret now: only its hash is kept, and it is not shown again.`);
  const secret = made.secret;
  assert.match(secret ?? "", /^[A-Za-z0-9_-]{32,}$/, `the secret paragraph: ${made.html.match(/<p class="secret">.*?<\/p>/s)?.[0]}`);
  const stored = await storedClient(id);
  assert.equal(stored.token_endpoint_auth_method, "client_secret_basic");
  assert.ok(stored.secret_hash, "a secret hash is kept");
  assert.ok(!stored.raw.includes(secret), "the secret itself is stored");
  const again = await s.browser.get(w.url + "/admin/apps").then((r) => r.text());
  assert.ok(!again.includes(secret), "the secret is shown again");
  assert.doesNotMatch(again, /class="secret"/);
  const item = appItem(again, id);
  assert.equal(dd(item, "Authenticates"), "client_secret_basic");
  assert.match(item, /<button type="submit" name="action" value="rotate">Give Ops Board a new secret<\/button>/);

  const t = await codeFlow(id, redirect, carol, { headers: basic(id, secret) });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  assert.ok(t.body.refresh_token);
  const page = await open(authorizeFor(id, redirect));
  assert.match(page.html, /verified by this server(&#39;|')s operator/);
  assertInvalidClient(await codeFlow(id, redirect, carol, { fields: { client_id: id } }), "no secret");
  assertInvalidClient(await codeFlow(id, redirect, carol, { headers: basic(id, "not-the-secret") }), "a wrong secret");
  assertInvalidClient(await codeFlow(id, redirect, carol, { fields: { client_id: id, client_secret: secret } }), "the secret in the form (the app uses Basic)");

  // A new secret.
  const rotated = await appsPost(s, formWith(item, "rotate"));
  assert.equal(rotated.status, 200, rotated.alert ?? rotated.html.slice(0, 300));
  assert.equal(rotated.notice, "Ops Board has a new secret; the old one is refused at /token from now on. Copy it now: it is not shown again.");
  const secret2 = rotated.secret;
  assert.match(secret2 ?? "", /^[A-Za-z0-9_-]{32,}$/);
  assert.notEqual(secret2, secret);
  const old = await token(w.url, { grant_type: "refresh_token", refresh_token: t.body.refresh_token }, basic(id, secret));
  assertInvalidClient(old, "refresh with the old secret");
  const fresh = await token(w.url, { grant_type: "refresh_token", refresh_token: t.body.refresh_token }, basic(id, secret2));
  assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
  const t2 = await codeFlow(id, redirect, carol, { headers: basic(id, secret2) });
  assert.equal(t2.status, 200, JSON.stringify(t2.body));

  // A public app has no secret to replace; an app that is not pre-registered has none here.
  const pub = await create(s, { name: "Public Pal", redirect_uris: "http://127.0.0.1:33502/cb" });
  const noSecret = await appsPost(s, { action: "rotate", client_id: pub.client_id });
  assert.equal(noSecret.status, 400);
  assert.equal(noSecret.alert, "A public app has no secret to replace.");
  const dynamic = await fullFlow(w.url, carol);
  const notOwn = await appsPost(s, { action: "rotate", client_id: dynamic.client.client_id });
  assert.equal(notOwn.status, 400);
  assert.equal(notOwn.alert, "Only the operator's own (pre-registered) apps have limits and secrets set here.");
  const gone = await appsPost(s, { action: "rotate", client_id: "no-such-app" });
  assert.equal(gone.status, 400);
  assert.equal(gone.alert, "That app is not registered here any more.");

  // In the audit log, and on the console's audit page for the app.
  const logged = (await auditOf(id)).filter((e) => e.event.startsWith("client_"));
  assert.deepEqual(logged.map((e) => [e.event, e.detail]), [
    ["client_registered", "Ops Board by ann@example.com"],
    ["client_secret_rotated", "Ops Board by ann@example.com"],
  ]);
  const jsonl = await s.browser.get(`${w.url}/admin/audit?app=${encodeURIComponent(id)}&format=jsonl`).then((r) => r.text());
  const lines = jsonl.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  for (const event of ["client_registered", "client_secret_rotated"]) {
    const row = lines.find((l) => l.event === event);
    assert.ok(row, `${event} on /admin/audit?app=: ${jsonl.slice(0, 500)}`);
    assert.equal(row.detail, "Ops Board by ann@example.com");
    assert.equal(row.client_id, id);
  }
  const auditPage = await s.browser.get(`${w.url}/admin/audit?app=${encodeURIComponent(id)}`).then((r) => r.text());
  assert.match(auditPage, /<code>client_secret_rotated<\/code>[^\n]*Ops Board by ann@example\.com/);
});

test("limits: one scope and a 15-minute access token show in the token response; bad limits are refused", async () => {
  const redirect = "http://127.0.0.1:33503/cb";
  const s = await atApps(ann);
  const made = await create(s, { name: "Reader", redirect_uris: redirect });
  const id = made.client_id;
  const unlimited = await codeFlow(id, redirect, carol, { fields: { client_id: id } });
  assert.equal(unlimited.status, 200, JSON.stringify(unlimited.body));
  assert.equal(unlimited.body.scope, "mcp:read mcp:write offline_access");
  assert.equal(unlimited.body.expires_in, 3600);

  const limited = await appsPost(s, { ...formWith(appItem(made.html, id), "limit"), scope: "mcp:read", access_ttl: "15m", refresh_ttl: "" });
  assert.equal(limited.status, 200, limited.alert ?? limited.html.slice(0, 300));
  assert.equal(limited.notice, "Reader's limits are saved: new authorizations and the next refresh follow them.");
  const item = appItem(limited.html, id);
  assert.match(item, /name="scope" type="text" maxlength="1000" value="mcp:read"/);
  assert.match(item, /name="access_ttl" type="text" maxlength="12" value="900"/);
  assert.match(item, /name="refresh_ttl" type="text" maxlength="12" value=""/);
  const stored = await storedClient(id);
  assert.equal(stored.scope, "mcp:read");
  assert.equal(stored.access_token_ttl, 900);

  const t = await codeFlow(id, redirect, carol, { fields: { client_id: id } });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  assert.equal(t.body.scope, "mcp:read");
  assert.equal(t.body.expires_in, 900);
  const claims = decodeJwt(t.body.access_token);
  assert.equal(claims.exp - claims.iat, 900);
  assert.equal(claims.scope, "mcp:read");
  // Asking only for a scope outside the limit gets nothing: before sign-in, the page about
  // the app's unusable request (an invalid_scope redirect only after sign-in).
  const outside = await open(authorizeUrl(w.url, { client_id: id, redirect_uris: [redirect] }, { challenge: pkcePair().challenge, scope: "mcp:write" }));
  assert.equal(outside.status, 400, "a scope outside the limit was offered");
  assert.equal(dataError(outside.html), "app_request");

  // Bad limits change nothing.
  for (const [fields, says] of [
    [{ scope: "mcp:read files:write" }, "'files:write' is not a scope this server knows (SCOPES names them)."],
    [{ access_ttl: "2w" }, "The access-token lifetime must be a number of seconds, or a number with s, m, h or d (15m, 7d)."],
    [{ access_ttl: "2d" }, "The access-token lifetime must be between 5 and 86400 seconds."],
    [{ refresh_ttl: "59" }, "The refresh-token lifetime must be between 60 and 31536000 seconds."],
  ]) {
    const bad = await appsPost(s, { action: "limit", client_id: id, scope: "mcp:read", access_ttl: "900", refresh_ttl: "", ...fields });
    assert.equal(bad.status, 400, JSON.stringify(fields));
    assert.equal(bad.alert, says, JSON.stringify(fields));
    assert.equal(bad.notice, undefined);
  }
  const still = await storedClient(id);
  assert.equal(still.scope, "mcp:read");
  assert.equal(still.access_token_ttl, 900);
  assert.equal(still.refresh_token_ttl ?? null, null);
  // Only pre-registered apps have limits set here.
  const dynamic = await fullFlow(w.url, carol);
  const notOwn = await appsPost(s, { action: "limit", client_id: dynamic.client.client_id, scope: "mcp:read", access_ttl: "", refresh_ttl: "" });
  assert.equal(notOwn.status, 400);
  assert.equal(notOwn.alert, "Only the operator's own (pre-registered) apps have limits and secrets set here.");
  assert.doesNotMatch(appItem(notOwn.html, dynamic.client.client_id), /value="limit"/, "a limits form for a registered app");

  // Limits given when the app is added.
  const withLimits = await create(s, { name: "Writer", redirect_uris: "http://127.0.0.1:33504/cb", scope: "mcp:write mcp:read mcp:write", access_ttl: "300", refresh_ttl: "7d" });
  const w2 = await storedClient(withLimits.client_id);
  assert.deepEqual([w2.scope, w2.access_token_ttl, w2.refresh_token_ttl], ["mcp:write mcp:read", 300, 604800]);

  const logged = (await auditOf(id)).filter((e) => e.event.startsWith("client_"));
  assert.deepEqual(logged.map((e) => [e.event, e.detail]), [
    ["client_registered", "Reader by ann@example.com"],
    ["client_changed", "limits: scope mcp:read, access 900s, refresh default by ann@example.com"],
  ]);
});

test("bad forms are a 400 page with the message, and add nothing", async () => {
  const s = await atApps(ann);
  const clientsBefore = await clientCount();
  const registeredBefore = (await w.db.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE event = 'client_registered'").first()).n;
  const good = { action: "create", name: "Fine App", redirect_uris: "https://fine.example/cb", auth: "none", scope: "", access_ttl: "", refresh_ttl: "" };
  for (const [fields, says] of [
    [{ name: "" }, "Give the app a name: people see it on the consent page."],
    [{ name: "   " }, "Give the app a name: people see it on the consent page."],
    [{ redirect_uris: "http://app.example/cb" }, "Redirect URI: http is only allowed on a loopback host (127.0.0.1, [::1], localhost): http://app.example/cb"],
    [{ redirect_uris: "" }, "Give at least one redirect URI, one per line."],
    [{ redirect_uris: "https://fine.example/cb\nhttps://fine.example/cb" }, "The redirect URI https://fine.example/cb is given twice."],
    [{ scope: "mcp:read files:write" }, "'files:write' is not a scope this server knows (SCOPES names them)."],
    [{ access_ttl: "2w" }, "The access-token lifetime must be a number of seconds, or a number with s, m, h or d (15m, 7d)."],
    [{ refresh_ttl: "2w" }, "The refresh-token lifetime must be a number of seconds, or a number with s, m, h or d (15m, 7d)."],
    [{ access_ttl: "4" }, "The access-token lifetime must be between 5 and 86400 seconds."],
    [{ auth: "private_key_jwt" }, "Choose how the app authenticates."],
    [{ name: "Evil\u202eApp" }, "The name must not contain control or text-direction characters."],
  ]) {
    const why = JSON.stringify(fields);
    const bad = await appsPost(s, { ...good, ...fields });
    assert.equal(bad.status, 400, `${why}: ${bad.status}`);
    assert.equal(bad.alert, says, why);
    assert.equal(bad.notice, undefined, why);
    assert.equal(bad.secret, undefined, why);
    assert.equal(h1(bad.html), "Apps", why);
    assert.match(bad.html, /<button type="submit" name="action" value="create">Add the app<\/button>/, `${why}: the form is there to try again`);
  }
  assert.equal(await clientCount(), clientsBefore, "a bad form added an app");
  const registeredAfter = (await w.db.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE event = 'client_registered'").first()).n;
  assert.equal(registeredAfter, registeredBefore);
  // An action the page does not have.
  const unknown = await appsPost(s, { action: "drop" });
  assert.equal(unknown.status, 400);
  assert.notEqual(dataError(unknown.html), undefined, unknown.html.slice(0, 300));
});

test("hosts of metadata documents: a blocked host's documents are not known at /authorize or /token; an allowed host makes the others unknown; rules are forgotten", async () => {
  const s = await atApps(ann);
  const parent = `${unique("docs")}.example`;
  const host = `app.${parent}`;
  const docUrl = `https://${host}/c.json`;
  const cb = `https://${host}/cb`;
  const client = { client_id: docUrl, redirect_uris: [cb] };
  // Connected with, while there are no rules.
  assert.match(s.html, /No rules: documents on any host are used\./);
  assertAppPage(await open(authorizeFor(docUrl, cb)), "a document before any rule");
  const t = await exchange(w, client, await codeFor(w, carol, client));
  assert.equal(t.status, 200, JSON.stringify(t.body));
  const page = await s.browser.get(w.url + "/admin/apps").then((r) => r.text());
  const item = appItem(page, docUrl);
  assert.equal(dd(item, "Known by"), "a client ID metadata document its host vouches for");
  assert.match(item, new RegExp(`<button type="submit" name="action" value="host_block" class="danger">Block ${host.replaceAll(".", "\\.")}</button>`));
  assert.doesNotMatch(item, /value="limit"|value="rotate"/);

  // Blocked with the app's own button.
  const blocked = await appsPost(s, formWith(item, "host_block"));
  assert.equal(blocked.status, 200, blocked.alert ?? blocked.html.slice(0, 300));
  assert.equal(blocked.notice, `Documents on ${host} are blocked; every location follows within a minute.`);
  const rule = new RegExp(`<li><strong>Blocked</strong> ${host.replaceAll(".", "\\.")} <span class="meta">since [^<]+ by ann@example\\.com</span>`);
  assert.match(blocked.html, rule);
  assert.match(blocked.html, new RegExp(`value="host_forget" class="link">Remove the rule for ${host.replaceAll(".", "\\.")}</button>`));
  assert.doesNotMatch(blocked.html, /No rules: documents on any host are used/);
  const fetchedBefore = docs.fetched.length;
  assertUnknownApp(await open(authorizeFor(docUrl, cb)), "/authorize for a document on a blocked host");
  assertInvalidClient(await token(w.url, { grant_type: "refresh_token", refresh_token: t.body.refresh_token, client_id: docUrl }), "a refresh for a document on a blocked host");
  // Its subdomains too; its parent and other hosts are not blocked.
  const sub = `https://x.${host}/c.json`;
  assertUnknownApp(await open(authorizeFor(sub, `https://x.${host}/cb`)), "a subdomain of a blocked host");
  assertInvalidClient(await token(w.url, { grant_type: "refresh_token", refresh_token: "made-up-" + randomBytes(8).toString("hex"), client_id: sub }), "/token naming a subdomain of a blocked host");
  assert.deepEqual(docs.fetched.slice(fetchedBefore), [], "a document on a blocked host was fetched");
  assertAppPage(await open(authorizeFor(`https://${parent}/c.json`, `https://${parent}/cb`)), "the blocked host's parent");
  const other = `${unique("other")}.example`;
  assertAppPage(await open(authorizeFor(`https://${other}/c.json`, `https://${other}/cb`)), "another host");

  // Forgotten: the app works again, its grant was never revoked.
  const forgot = await appsPost(s, { action: "host_forget", host });
  assert.equal(forgot.status, 200, forgot.alert ?? forgot.html.slice(0, 300));
  assert.equal(forgot.notice, `${host} has no rule any more.`);
  assert.match(forgot.html, /No rules: documents on any host are used\./);
  assertAppPage(await open(authorizeFor(docUrl, cb)), "a document after its host's rule was removed");
  const back = await token(w.url, { grant_type: "refresh_token", refresh_token: t.body.refresh_token, client_id: docUrl });
  assert.equal(back.status, 200, `a refresh after the rule was removed: ${JSON.stringify(back.body)}`);

  // An allowed host (typed in any case, with a trailing dot): documents elsewhere are unknown.
  const allowedHost = `${unique("trusted")}.example`;
  const allowed = await appsPost(s, { action: "host_allow", host: `  ${allowedHost.toUpperCase()}. ` });
  assert.equal(allowed.status, 200, allowed.alert ?? allowed.html.slice(0, 300));
  assert.equal(allowed.notice, `Documents on ${allowedHost} are allowed; every location follows within a minute.`);
  assert.match(allowed.html, new RegExp(`<li><strong>Allowed</strong> ${allowedHost.replaceAll(".", "\\.")} <span class="meta">`));
  assertAppPage(await open(authorizeFor(`https://${allowedHost}/c.json`, `https://${allowedHost}/cb`)), "a document on the allowed host");
  assertAppPage(await open(authorizeFor(`https://eu.${allowedHost}/c.json`, `https://eu.${allowedHost}/cb`)), "a document on a subdomain of the allowed host");
  assertUnknownApp(await open(authorizeFor(docUrl, cb)), "a document on a host not allowed");
  assertInvalidClient(await token(w.url, { grant_type: "refresh_token", refresh_token: back.body.refresh_token, client_id: docUrl }), "a refresh for a document on a host not allowed");
  // Blocking the same host replaces its rule; a blocked subdomain of an allowed host is blocked.
  const both = await appsPost(s, { action: "host_block", host: `bad.${allowedHost}` });
  assert.equal(both.status, 200);
  assertUnknownApp(await open(authorizeFor(`https://bad.${allowedHost}/c.json`, `https://bad.${allowedHost}/cb`)), "a blocked subdomain of an allowed host");
  const replaced = await appsPost(s, { action: "host_block", host: allowedHost });
  assert.equal(replaced.status, 200);
  const rules = (await w.db.prepare("SELECT host, rule, created_by FROM document_hosts ORDER BY host").all()).results;
  assert.deepEqual(rules, [
    { host: `bad.${allowedHost}`, rule: "block", created_by: "ann@example.com" },
    { host: allowedHost, rule: "block", created_by: "ann@example.com" },
  ]);
  assert.doesNotMatch(replaced.html, /<strong>Allowed<\/strong>/);
  for (const h of [allowedHost, `bad.${allowedHost}`]) assert.equal((await appsPost(s, { action: "host_forget", host: h })).status, 200);
  assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM document_hosts").first()).n, 0);
  assertAppPage(await open(authorizeFor(docUrl, cb)), "a document once every rule is gone");

  // Values that are not host names.
  for (const bad of ["https://a.example", "a.example:443", "a.example/x", "localhost", "", "-a.example", "a..example", "a b.example"]) {
    const r = await appsPost(s, { action: "host_block", host: bad });
    assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.status}`);
    assert.equal(r.alert, `'${bad.trim()}' is not a host name such as chatgpt.com (no scheme, port or path).`, JSON.stringify(bad));
  }
  assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM document_hosts").first()).n, 0, "a bad host value made a rule");

  // Removing a document app: its connection is revoked, and it may connect again.
  const listed = await s.browser.get(w.url + "/admin/apps").then((r) => r.text());
  const removed = await appsPost(s, formWith(appItem(listed, docUrl), "remove"));
  assert.equal(removed.status, 200, removed.alert ?? removed.html.slice(0, 300));
  assert.match(removed.notice, /^Removed the app and revoked its 1 connection\(s\).* An app known by its metadata document can connect again unless its host is blocked below\.$/);
  const after = await token(w.url, { grant_type: "refresh_token", refresh_token: back.body.refresh_token, client_id: docUrl });
  assert.equal(after.body.error, "invalid_grant", JSON.stringify(after.body));
  assertAppPage(await open(authorizeFor(docUrl, cb)), "a removed document app connects again");
  assert.deepEqual((await auditOf(docUrl)).filter((e) => e.event === "client_removed").map((e) => e.detail), ["by ann@example.com"]);
});

test("host rule changes are in the audit log, naming the administrator, as the page's hint says", async () => {
  // templates/admin-apps.html: "Changes here need a sign-in within the last ten minutes
  // and are in the audit log."
  const s = await atApps(ann);
  const host = `${unique("audited")}.example`;
  const last = (await w.db.prepare("SELECT COALESCE(MAX(id), 0) AS id FROM audit_events").first()).id;
  assert.equal((await appsPost(s, { action: "host_block", host })).status, 200);
  assert.equal((await appsPost(s, { action: "host_forget", host })).status, 200);
  const rows = (await w.db.prepare("SELECT event, detail FROM audit_events WHERE id > ? ORDER BY id").bind(last).all()).results;
  const mentions = rows.filter((r) => (r.detail ?? "").includes(host));
  assert.ok(mentions.length >= 2 && mentions.every((r) => r.detail.includes("by ann@example.com")), `audit rows after blocking and forgetting ${host}: ${JSON.stringify(rows)}`);
});

test("refusals: a sign-in older than ten minutes, no CSRF token, a cross-site post, a person without the role; nothing changes", async () => {
  const s = await atApps(ann);
  const target = await create(s, { name: "Keep Me", redirect_uris: "https://keep.example/cb", auth: "client_secret_post" });
  const clientsBefore = await clientCount();
  const auditBefore = (await w.db.prepare("SELECT COALESCE(MAX(id), 0) AS id FROM audit_events").first()).id;
  const changes = [
    { action: "create", name: "Should Not Exist", redirect_uris: "https://nope.example/cb", auth: "none" },
    { action: "limit", client_id: target.client_id, scope: "mcp:read", access_ttl: "60", refresh_ttl: "" },
    { action: "rotate", client_id: target.client_id },
    { action: "remove", client_id: target.client_id },
    { action: "host_block", host: "refused.example" },
  ];
  const secretHash = (await storedClient(target.client_id)).secret_hash;
  const unchanged = async (why) => {
    assert.equal(await clientCount(), clientsBefore, `${why}: the clients changed`);
    const kept = await storedClient(target.client_id);
    assert.ok(kept, `${why}: the app was removed`);
    assert.equal(kept.secret_hash, secretHash, `${why}: the secret changed`);
    assert.equal(kept.scope ?? null, null, `${why}: the limits changed`);
    assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM document_hosts").first()).n, 0, `${why}: a host rule was made`);
  };

  // A sign-in more than ten minutes ago: the page, 403, with "sign in again"; viewing is fine.
  const stale = await atApps(ann);
  signedInAgo(stale.browser, 11 * 60);
  const view = await stale.browser.get(w.url + "/admin/apps");
  assert.equal(view.status, 200, "viewing with an older sign-in");
  await view.text();
  for (const fields of changes) {
    const r = await appsPost(stale, fields);
    const why = `stale sign-in, ${fields.action}`;
    assert.equal(r.status, 403, `${why}: ${r.status} ${r.html.slice(0, 300)}`);
    assert.match(r.alert ?? "", /sign in again/, `${why}: ${r.alert}`);
    assert.equal(r.notice, undefined, why);
    assert.equal(r.secret, undefined, why);
    await unchanged(why);
  }
  // Nine minutes ago is recent enough (checked with a change that alters nothing shared).
  const recent = await atApps(ann);
  signedInAgo(recent.browser, 9 * 60);
  const fine = await appsPost(recent, { action: "host_forget", host: "nothing-here.example" });
  // Accepted as recent: the answer is about the rule (there is none), not the sign-in.
  assert.equal(fine.status, 400, `a sign-in 9 minutes ago: ${fine.alert}`);
  assert.match(fine.alert ?? "", /has no rule to remove/);

  // No CSRF token, or another browser's.
  const other = await atApps(ann);
  for (const [csrf, why] of [["", "no token"], [other.csrf.slice(0, -2) + "xx", "a broken token"]]) {
    for (const fields of changes) {
      const r = await appsPost(s, { ...fields, csrf_token: csrf });
      assert.equal(r.status, 403, `${why}, ${fields.action}: ${r.status}`);
      assert.equal(dataError(r.html), "expired", `${why}, ${fields.action}`);
      await unchanged(`${why}, ${fields.action}`);
    }
  }
  const noField = await s.browser.post(w.url + "/admin/apps", { action: "remove", client_id: target.client_id });
  assert.equal(noField.status, 403);
  assert.equal(dataError(await noField.text()), "expired");

  // Cross-site posts.
  for (const headers of [{ Origin: "https://evil.example" }, { Origin: "null" }, { "Sec-Fetch-Site": "cross-site" }, { "Sec-Fetch-Site": "same-site" }]) {
    for (const fields of changes) {
      const res = await fetch(w.url + "/admin/apps", {
        method: "POST",
        redirect: "manual",
        headers: { cookie: s.browser.header(), "Content-Type": "application/x-www-form-urlencoded", ...headers },
        body: new URLSearchParams({ csrf_token: s.csrf, ...fields }),
      });
      const html = await res.text();
      const why = `${JSON.stringify(headers)}, ${fields.action}`;
      assert.equal(res.status, 403, why);
      assert.equal(dataError(html), "cross_site", why);
      await unchanged(why);
    }
  }

  // A person without the admin role: 403 to see and to change.
  const b = await atApps(bob);
  assert.equal(b.status, 403);
  assert.equal(dataError(b.html), "admin_only");
  assert.ok(!b.html.includes(target.client_id), "the 403 page lists apps");
  for (const fields of changes) {
    const r = await appsPost(b, fields);
    assert.equal(r.status, 403, `bob, ${fields.action}`);
    assert.equal(dataError(r.html), "admin_only", `bob, ${fields.action}`);
    await unchanged(`bob, ${fields.action}`);
  }
  // Not signed in at all: the console's sign-in form, nothing changed.
  const nobody = new Browser();
  const form = formFields(await (await nobody.get(w.url + "/admin/apps")).text());
  const anon = await nobody.post(w.url + "/admin/apps", { ...form, action: "remove", client_id: target.client_id });
  assert.equal(h1(await anon.text()), "Sign in to the console");
  await unchanged("signed out");

  assert.equal((await storedClient(target.client_id)).secret_hash, secretHash, "the secret changed");
  const newAudit = (await w.db.prepare("SELECT event FROM audit_events WHERE id > ? AND event LIKE 'client_%'").bind(auditBefore).all()).results;
  assert.deepEqual(newAudit, [], "a refused change was audited as done");
});

// ---------------------------------------------------------------------------------------
// In headless Chromium.

async function openPage(device) {
  const context = await chromium.newContext({ ...device.options });
  const page = await context.newPage();
  return { context, page, problems: watchConsole(page) };
}

async function signInAs(page, p) {
  await page.goto(w.url + "/admin");
  for (const [label, text] of [["Email", p.email], ["Password", p.password]]) {
    await page.getByLabel(label, { exact: true }).click();
    await page.keyboard.type(text);
  }
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
}

/** axe in light and dark, one h1, no sideways scroll at 320 px. */
async function inspect(page, name, device) {
  assert.deepEqual(await axeViolations(page), [], `axe, light, ${name} on ${device.name}`);
  await page.emulateMedia({ colorScheme: "dark" });
  assert.deepEqual(await axeViolations(page, ["color-contrast"]), [], `axe, dark, ${name} on ${device.name}`);
  await page.emulateMedia({ colorScheme: "light" });
  assert.equal(await page.locator("h1").count(), 1, `one h1 on ${name}`);
  const size = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 640 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 320, `${name} is ${width}px wide at 320 px on ${device.name}`);
  await page.setViewportSize(size);
}

for (const device of DEVICES) {
  test(`the Apps page is axe-clean in light and dark and fits 320 px, with apps, a rule, a notice, a secret and an alert (${device.name})`, async () => {
    // Something of every kind on the page: a long name, a confidential app, a document app, a rule.
    const s = await atApps(ann);
    await create(s, { name: "A rather long application name that wraps on a small phone screen", redirect_uris: "https://averyveryveryverylongsubdomainname.for-wrapping.example/oauth/callback/path", auth: "client_secret_basic", scope: "mcp:read", access_ttl: "1h" });
    const host = `${unique("page")}.example`;
    const doc = { client_id: `https://${host}/c.json`, redirect_uris: [`https://${host}/cb`] };
    assert.equal((await exchange(w, doc, await codeFor(w, carol, doc))).status, 200);
    assert.equal((await appsPost(s, { action: "host_block", host: `${unique("blocked")}.example` })).status, 200);

    const { context, page, problems } = await openPage(device);
    await signInAs(page, ann);
    const res = await page.goto(w.url + "/admin/apps");
    assert.equal(res.status(), 200);
    await page.getByRole("heading", { level: 1, name: "Apps" }).waitFor();
    assert.equal(await page.getByRole("region", { name: "Add an app" }).count(), 1);
    assert.equal(await page.getByRole("region", { name: "Hosts of client ID metadata documents" }).count(), 1);
    await inspect(page, "admin-apps", device);

    // A secret shown (with a notice), then a refusal's alert.
    await page.getByLabel("Name people see on the consent page").fill("Axe Check");
    await page.getByLabel("Redirect URIs, one per line").fill("https://axe.example/cb");
    await page.getByLabel("How it authenticates at /token").selectOption("client_secret_post");
    await page.getByRole("button", { name: "Add the app" }).click();
    await page.getByRole("status").filter({ hasText: "Added Axe Check" }).waitFor();
    assert.equal(await page.locator("p.secret code").count(), 1);
    await inspect(page, "admin-apps-secret", device);
    await page.getByLabel("Host", { exact: true }).fill("https://not-a-host.example/");
    await page.getByRole("button", { name: "Block", exact: true }).click();
    await page.getByRole("alert").waitFor();
    assert.match(await page.getByRole("alert").innerText(), /is not a host name such as chatgpt\.com/);
    await inspect(page, "admin-apps-alert", device);

    for (const h of (await w.db.prepare("SELECT host FROM document_hosts").all()).results) await appsPost(s, { action: "host_forget", host: h.host });
    assert.deepEqual(problems, [], "console errors or CSP violations");
    await context.close();
  });
}

test("an app added with the keyboard alone: Tab to each field, type, choose with the arrow keys, Enter on Add the app", async () => {
  const { context, page, problems } = await openPage(DEVICES[0]);
  await signInAs(page, ann);
  await page.goto(w.url + "/admin/apps");
  await page.getByRole("heading", { level: 1, name: "Apps" }).waitFor();
  const active = () =>
    page.evaluate(() => {
      const a = document.activeElement;
      return { id: a.id, tag: a.tagName, text: a.textContent.trim(), value: a.value, outline: getComputedStyle(a).outlineStyle };
    });
  const tabTo = async (check, what) => {
    for (let i = 0; i < 400; i++) {
      const e = await active();
      if (check(e)) return assert.notEqual(e.outline, "none", `focus on ${what} is visible`);
      await page.keyboard.press("Tab");
    }
    assert.fail(`Tab never reached ${what}`);
  };
  const name = `Keyboard App ${randomBytes(2).toString("hex")}`;
  await tabTo((e) => e.id === "new-name", "the name field");
  await page.keyboard.type(name);
  await page.keyboard.press("Tab");
  await tabTo((e) => e.id === "new-uris", "the redirect URIs");
  await page.keyboard.type("http://127.0.0.1:33505/cb");
  await page.keyboard.press("Enter");
  await page.keyboard.type("https://keys.example/cb");
  await page.keyboard.press("Tab");
  await tabTo((e) => e.id === "new-auth", "how it authenticates");
  await page.keyboard.press("ArrowDown");
  assert.equal((await active()).value, "client_secret_basic", "the arrow key chose the next option");
  await page.keyboard.press("Tab");
  await tabTo((e) => e.id === "new-scope", "the scopes");
  await page.keyboard.type("mcp:read");
  await page.keyboard.press("Tab");
  await tabTo((e) => e.id === "new-access", "the access-token lifetime");
  await page.keyboard.type("1h");
  await page.keyboard.press("Tab");
  await tabTo((e) => e.id === "new-refresh", "the refresh-token lifetime");
  await page.keyboard.press("Tab");
  await tabTo((e) => e.tag === "BUTTON" && e.text === "Add the app", "Add the app");
  await page.keyboard.press("Enter");
  const status = page.getByRole("status").filter({ hasText: `Added ${name}.` });
  await status.waitFor();
  const id = /Its client ID is ([A-Za-z0-9_-]+)/.exec(await status.innerText())?.[1];
  assert.ok(id);
  const secret = await page.locator("p.secret code").innerText();
  assert.match(secret, /^[A-Za-z0-9_-]{32,}$/);
  const stored = await storedClient(id);
  assert.equal(stored.client_name, name);
  assert.deepEqual(stored.redirect_uris, ["http://127.0.0.1:33505/cb", "https://keys.example/cb"]);
  assert.equal(stored.token_endpoint_auth_method, "client_secret_basic");
  assert.equal(stored.scope, "mcp:read");
  assert.equal(stored.access_token_ttl, 3600);
  assert.equal(stored.refresh_token_ttl ?? null, null);
  // The secret typed into nothing but read off the page works.
  const t = await codeFlow(id, "https://keys.example/cb", carol, { headers: basic(id, secret) });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  assert.equal(t.body.scope, "mcp:read");
  assert.equal(t.body.expires_in, 3600);
  assert.deepEqual(problems, []);
  await context.close();
});
