// Console invitations and resets, end to end against the built Worker: an administrator
// adds a person on /admin/people and gets a one-time link (<issuer>/welcome?token=...),
// shown once; the person opens it in headless Chromium, types a password twice and lands on
// /account signed in. The link works once, only the newest one works, never after it
// expires; bad passwords are 400 with an alert. A person's page (/admin/people?id=) lists
// their connected apps and personal tokens: Disconnect and Revoke stop them, and Reset ends
// a live session, a connected app's refresh token and a personal token, clears the
// password and gives a new link (the old password is refused, the new one works). Every
// change is refused after a sign-in older than ten minutes, without the CSRF token, from
// another site, and for a person without the admin role; an administrator cannot reset
// themselves. A person added in the console who signs in through an OpenID provider with
// link_by_email (the `oidc-provider` package, as in signin-oidc.test.mjs) is linked to
// that account. With LOCAL_PASSWORDS off there is no link. In Chromium: axe in light and
// dark, no sideways scroll at 320 px. The console never shows a password.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { startWorker } from "./helpers/worker.mjs";
import { Browser, createUser, formFields, fullFlow, publicClient, token } from "./helpers/oauth.mjs";
import { modernCall } from "./helpers/mcp.mjs";
import { startOidcProvider } from "./helpers/oidc-provider.mjs";
import { launchChromium, DEVICES, axeViolations, watchConsole } from "./helpers/chromium.mjs";
import { signedInAgo as ageSession } from "./helpers/session-age.mjs";

// ---------------------------------------------------------------------------------------
// The OpenID provider and the two Workers: `w` (passwords on, the provider "sso" with
// link_by_email and no `allow`: only people already here) and `off` (LOCAL_PASSWORDS off,
// the same provider). The tests try old and wrong passwords on purpose, all from
// 127.0.0.1: LOGIN_MAX_FAILURES is high so the address is never locked out.

const SSO_SECRET = randomBytes(24).toString("base64url");
const ADMIN_PASSWORD = "ann-password-1";

/** The Workers' outbound fetches: the provider on 127.0.0.1, nothing else. */
async function outbound(req) {
  const url = new URL(req.url);
  if (url.hostname !== "127.0.0.1") return new Response("tests have no internet", { status: 502 });
  const body = req.method === "GET" || req.method === "HEAD" ? undefined : Buffer.from(await req.arrayBuffer());
  const headers = new Headers(req.headers);
  for (const h of ["host", "content-length", "connection", "transfer-encoding", "accept-encoding"]) headers.delete(h);
  const res = await fetch(url, { method: req.method, headers, body, redirect: "manual" });
  const out = new Headers(res.headers);
  for (const h of ["content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"]) out.delete(h);
  const payload = Buffer.from(await res.arrayBuffer());
  return new Response(res.status === 204 || res.status === 304 ? null : payload, { status: res.status, headers: out });
}

let op, w, off, chromium, ann, bob;
before(async () => {
  op = await startOidcProvider();
  const providers = JSON.stringify([
    { id: "sso", type: "oidc", name: "Acme SSO", issuer: op.issuer, client_id: "mcp-sso", client_secret: { secret: "SSO_CLIENT_SECRET" }, link_by_email: true },
  ]);
  [w, off] = await Promise.all([
    startWorker({ bindings: { SIGNIN_PROVIDERS: providers, SSO_CLIENT_SECRET: SSO_SECRET, REGISTER_RATE_LIMIT: "100000", LOGIN_MAX_FAILURES: "1000" }, outbound }),
    startWorker({ bindings: { SIGNIN_PROVIDERS: providers, SSO_CLIENT_SECRET: SSO_SECRET, LOCAL_PASSWORDS: "off" }, outbound }),
  ]);
  op.register({
    client_id: "mcp-sso",
    client_secret: SSO_SECRET,
    redirect_uris: [`${w.url}/signin/callback/sso`, `${off.url}/signin/callback/sso`],
  });
  ann = await createUser(w.db, "ann@example.com", ADMIN_PASSWORD, "Ann Admin");
  bob = await createUser(w.db, "bob@example.com", "bob-password-1", "Bob");
  await giveAdmin(w, ann);
  chromium = await launchChromium();
});
after(async () => {
  await chromium?.close();
  await w?.stop();
  await off?.stop();
  await op?.stop();
});

// ---------------------------------------------------------------------------------------
// Small helpers.

let count = 0;
const email = (label) => `${label}-${++count}@example.com`;
const now = () => Math.floor(Date.now() / 1000);
const sha = (s) => createHash("sha256").update(s).digest("base64url");
const giveAdmin = (on, p) => on.db.prepare("INSERT INTO user_roles (user_id, role, source, created_at) VALUES (?, 'admin', 'operator', 0)").bind(p.id).run();
const unescape = (s) => s.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
const h1 = (html) => /<h1[^>]*>(.*?)<\/h1>/s.exec(html)?.[1];
const dataError = (html) => /<h1 data-error="([^"]*)"/.exec(html)?.[1];
const noticeOf = (html) => {
  const m = /<p class="notice" role="status">(.*?)<\/p>/s.exec(html);
  return m ? unescape(m[1]) : undefined;
};
const alertOf = (html) => {
  const m = /role="alert">(.*?)<\/p>/s.exec(html);
  return m ? unescape(m[1]) : undefined;
};
const linkOf = (html) => {
  const m = /<p class="secret">One-time link: <code>([^<]+)<\/code><\/p>/.exec(html);
  return m ? unescape(m[1]) : undefined;
};
const userByEmail = (on, e) => on.db.prepare("SELECT * FROM users WHERE email = ?").bind(e).first();
const userById = (on, id) => on.db.prepare("SELECT * FROM users WHERE id = ?").bind(id).first();
const linksOf = (on, id) => on.db.prepare("SELECT * FROM password_links WHERE user_id = ? ORDER BY created_at").bind(id).all().then((r) => r.results);
const audits = (on, event, userId) =>
  on.db.prepare("SELECT user_id, client_id, detail FROM audit_events WHERE event = ? AND user_id = ? ORDER BY id").bind(event, userId).all().then((r) => r.results);
const tokenOfLink = (link) => new URL(link).searchParams.get("token");
const refresh = (on, flow) => token(on.url, { grant_type: "refresh_token", refresh_token: flow.tokens.refresh_token, client_id: flow.client.client_id });
const useToken = (on, t) => modernCall(on.url, t, "tools/list");

/** The headers every page carries. */
function assertPageHeaders(res, why) {
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/, why);
  assert.match(res.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/, why);
  assert.equal(res.headers.get("cache-control"), "no-store", why);
  assert.equal(res.headers.get("referrer-policy"), "no-referrer", why);
}

/** A browser signed in at /admin as `who` (the console's own form), on the People page. */
async function atConsole(who, on = w) {
  const browser = new Browser();
  const signin = await browser.get(on.url + "/admin");
  const form = formFields(await signin.text());
  const res = await browser.post(on.url + "/admin", { csrf_token: form.csrf_token, action: "signin", email: who.email, password: who.password });
  await res.text();
  assert.equal(res.status, 303, "signed in at /admin");
  return consoleSession(on, browser, form.csrf_token);
}

/** The People page in `browser`, with its CSRF token (or `fallback` on a 403 page). */
async function consoleSession(on, browser, fallback) {
  const people = await browser.get(on.url + "/admin/people");
  const html = await people.text();
  return { on, browser, res: people, status: people.status, html, csrf: formFields(html).csrf_token ?? fallback };
}

/** Posts a form to /admin/people in `s`'s browser (with its CSRF token unless given). */
async function consolePost(s, fields, headers = {}) {
  const res = await fetch(s.on.url + "/admin/people", {
    method: "POST",
    redirect: "manual",
    headers: { cookie: s.browser.header(), "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams({ csrf_token: s.csrf, ...fields }).toString(),
  });
  s.browser.take(res);
  const html = await res.text();
  return { res, status: res.status, html, notice: noticeOf(html), alert: alertOf(html), link: linkOf(html) };
}

/** Adds a person with the People page's form: { id, email, link, out }. */
async function addPerson(s, address, name = "") {
  const out = await consolePost(s, { action: "add", email: address, name });
  assert.equal(out.status, 200, `add ${address}: ${out.alert ?? out.html.slice(0, 400)}`);
  const row = await userByEmail(s.on, address.trim().toLowerCase());
  assert.ok(row, `a users row for ${address}`);
  return { id: row.id, email: row.email, link: out.link, out };
}

/** A person's page in the console. */
async function personPage(s, id) {
  const res = await s.browser.get(`${s.on.url}/admin/people?id=${encodeURIComponent(id)}`);
  const html = await res.text();
  return { res, status: res.status, html, notice: noticeOf(html), alert: alertOf(html), link: linkOf(html) };
}

/** The fields of the form on `html` whose button has `action`, and `extra` hidden field = value. */
function formWith(html, action, match) {
  for (const m of html.matchAll(/<form[\s\S]*?<\/form>/g)) {
    if (!m[0].includes(`name="action" value="${action}"`)) continue;
    if (match && !m[0].includes(match)) continue;
    return { ...formFields(m[0]), action };
  }
  assert.fail(`no form with the action ${action}${match ? ` and ${match}` : ""} in ${html}`);
}

/**
 * Opens a /welcome link in `browser`: { res, status, html, fields }. A live link is
 * swapped at once for a cookie and a 303 to /welcome (so the token leaves the address
 * bar); that redirect is followed, as a browser does.
 */
async function openLink(link, browser = new Browser()) {
  let res = await browser.get(link);
  if (res.status === 303) {
    assert.equal(res.headers.get("location"), "/welcome", "a live link is swapped for /welcome");
    assert.ok(res.headers.getSetCookie().some((c) => /^mcp-welcome=[A-Za-z0-9_-]{43};/.test(c)), "the token goes to a cookie");
    await res.text();
    res = await browser.get(new URL(link).origin + "/welcome");
  }
  const html = await res.text();
  return { res, status: res.status, html, fields: formFields(html), browser };
}

/** Opens the link and sends the password (twice, or `again`): the POST's answer. */
async function setPassword(link, password, again = password, browser = new Browser()) {
  const page = await openLink(link, browser);
  assert.equal(page.status, 200, `the welcome page: ${page.html.slice(0, 300)}`);
  const res = await browser.post(new URL(link).origin + "/welcome", { ...page.fields, password, again });
  const html = await res.text();
  return { res, status: res.status, html, alert: alertOf(html), browser };
}

/** The "This link cannot be used" page. */
function assertLinkUsed(page, why) {
  assert.equal(page.status, 400, `${why}: ${page.status} ${page.html.slice(0, 300)}`);
  assert.equal(dataError(page.html), "link_used", `${why}: ${page.html.slice(0, 300)}`);
  assert.equal(h1(page.html).replace(/<[^>]+>/g, ""), "This link cannot be used", why);
  assert.doesNotMatch(page.html, /name="password"/, `${why}: no password form`);
}

/** A successful POST /welcome: 303 to /account with a session cookie. */
function assertPasswordSet(out, why) {
  assert.equal(out.status, 303, `${why}: ${out.status} ${out.html.slice(0, 400)}`);
  assert.equal(out.res.headers.get("location"), "/account", why);
  assert.ok(out.res.headers.getSetCookie().some((c) => /^mcp-session=[^;]+/.test(c)), `${why}: a session cookie`);
}

/** Signs in at /account with a password: { browser, res, status }. */
async function accountSignIn(on, address, password) {
  const browser = new Browser();
  const page = await browser.get(on.url + "/account");
  const form = formFields(await page.text());
  const res = await browser.post(on.url + "/account", { csrf_token: form.csrf_token, action: "signin", email: address, password });
  await res.text();
  return { browser, res, status: res.status };
}

/** Whether `browser` is signed in at /account (the account page, not its sign-in form). */
async function signedInAtAccount(on, browser) {
  const res = await browser.get(on.url + "/account");
  const html = await res.text();
  if (/<h1>Connected apps<\/h1>/.test(html)) return /Signed in as <strong>([^<]+)<\/strong>/.exec(html)?.[1] ?? true;
  assert.match(html, /Sign in to see your connected apps/, "either the account page or its sign-in form");
  return false;
}

/** Makes a personal token on /account in `browser` (signed in as `who`): { id, value }. */
async function makeToken(on, browser, who, name, scope = "mcp:read") {
  const page = await browser.get(on.url + "/account");
  const form = formFields(await page.text());
  const res = await browser.post(on.url + "/account", { csrf_token: form.csrf_token, action: "create_token", token_name: name, token_scope: scope, token_expires: "30", token_password: who.password });
  const html = await res.text();
  const value = /<input id="new-token" type="text" readonly spellcheck="false" autocomplete="off" value="([^"]+)">/.exec(html)?.[1];
  assert.ok(value, `a new token: ${alertOf(html) ?? html.slice(0, 300)}`);
  const row = await on.db.prepare("SELECT id FROM personal_tokens WHERE token_hash = ?").bind(sha(value)).first();
  return { id: row.id, value, name };
}

/** A completed OAuth flow for `who` with a new app named `name`. */
async function connect(on, who, name) {
  const client = await publicClient(on.url, "http://127.0.0.1:9999/callback", { client_name: name });
  const flow = await fullFlow(on.url, who, { client });
  assert.equal(flow.status, 200, JSON.stringify(flow.tokens));
  return flow;
}

/** Uses the access token at /mcp every second until it is refused or `withinMs` passed. */
async function pollUntilRefused(on, accessToken, withinMs) {
  const start = Date.now();
  for (;;) {
    const res = await useToken(on, accessToken);
    if (res.status !== 200 || Date.now() - start >= withinMs) return { res, seconds: (Date.now() - start) / 1000 };
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// A session signed in longer ago (tests/helpers/session-age.mjs).
/** Moves the sign-in time of `s`'s session back by `seconds`. */
const signedInAgo = (s, seconds) => ageSession(s.browser, s.on.bindings.JWT_SIGNING_KEY, seconds);

// ---------------------------------------------------------------------------------------
// The person at the OpenID provider (copies of signin-oidc.test.mjs's helpers): one cookie
// jar for the Worker's site, one for the provider's.

class Person {
  constructor() {
    this.worker = new Browser();
    this.idp = new Browser();
  }
}
const attr = (tag, name) => {
  const m = tag.match(new RegExp(`\\s${name}="([^"]*)"`));
  return m ? unescape(m[1]) : undefined;
};

/** Opens `page` on `on` and presses "Continue with Acme SSO": the provider's URL. */
async function startAt(on, person, page) {
  const res = await person.worker.get(on.url + page);
  const html = await res.text();
  assert.equal(res.status, 200, html.slice(0, 300));
  const form = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].find((f) => attr(f[1], "action") === "/signin/start");
  assert.ok(form, "the sign-in page has a form posting to /signin/start");
  const fields = {};
  for (const [input] of form[2].matchAll(/<input\b[^>]*>/g)) if (attr(input, "type") === "hidden") fields[attr(input, "name")] = attr(input, "value") ?? "";
  assert.match(form[2], /Continue with Acme SSO/);
  const start = await person.worker.post(on.url + "/signin/start", { ...fields, provider: "sso" });
  const text = await start.text();
  assert.equal(start.status, 303, text.slice(0, 300));
  return new URL(start.headers.get("location"), on.url);
}

/** Signs in at the provider as `sub` and consents: the Worker's callback URL. */
async function atProvider(on, person, authUrl, sub) {
  let url = authUrl.toString();
  for (let i = 0; i < 12; i++) {
    const res = await person.idp.get(url);
    if (res.status >= 300 && res.status < 400) {
      await res.arrayBuffer();
      const next = new URL(res.headers.get("location"), url).toString();
      if (next.startsWith(on.url + "/")) return next;
      url = next;
      continue;
    }
    const html = await res.text();
    assert.equal(res.status, 200, `the provider's page ${url}: ${html.slice(0, 500)}`);
    const form = html.match(/<form\b([^>]*)>([\s\S]*?)<\/form>/);
    assert.ok(form, `a form on the provider's page: ${html.slice(0, 500)}`);
    const action = new URL(attr(form[1], "action"), url).toString();
    const prompt = attr(form[2].match(/<input[^>]*name="prompt"[^>]*>/)[0], "value");
    const sent = await person.idp.post(action, prompt === "login" ? { prompt, login: sub, password: "any password" } : { prompt });
    await sent.arrayBuffer();
    assert.ok(sent.status >= 300 && sent.status < 400, `the provider answered its ${prompt} form with ${sent.status}`);
    const next = new URL(sent.headers.get("location"), action).toString();
    if (next.startsWith(on.url + "/")) return next;
    url = next;
  }
  throw new Error("the provider never sent the browser back");
}

/** The whole sign-in on `on` from `page` through "sso" as `sub`: the callback's answer. */
async function signInVia(on, sub, { page = "/account", person = new Person() } = {}) {
  const callbackUrl = await atProvider(on, person, await startAt(on, person, page), sub);
  const res = await person.worker.get(callbackUrl);
  return { res, status: res.status, html: await res.text(), person };
}
const identityOf = (on, sub) => on.db.prepare("SELECT * FROM identities WHERE provider = ? AND subject = ?").bind("oidc:" + op.issuer, sub).first();

// ---------------------------------------------------------------------------------------
// Headless Chromium.

async function openPage(device) {
  const context = await chromium.newContext({ ...device.options });
  const page = await context.newPage();
  return { context, page, problems: watchConsole(page) };
}

/**
 * axe in light and dark, one h1, no sideways scroll at 320 px. Each finding goes into
 * `found` (the test asserts it is empty at its end, so one finding does not hide the rest
 * of the flow).
 */
async function inspect(page, name, device, found) {
  const light = await axeViolations(page);
  if (light.length) found.push(`axe, light, ${name} on ${device.name}: ${light.join("; ")}`);
  await page.emulateMedia({ colorScheme: "dark" });
  const dark = await axeViolations(page, ["color-contrast"]);
  if (dark.length) found.push(`axe, dark, ${name} on ${device.name}: ${dark.join("; ")}`);
  await page.emulateMedia({ colorScheme: "light" });
  const h1s = await page.locator("h1").count();
  if (h1s !== 1) found.push(`${name} has ${h1s} h1`);
  const size = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 640 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 320) found.push(`${name} is ${width}px wide at 320 px on ${device.name}`);
  await page.setViewportSize(size);
}

async function typeInto(page, label, text) {
  await page.getByLabel(label, { exact: true }).click();
  await page.keyboard.type(text);
}

// =======================================================================================

test("an administrator adds a person: a notice and the one-time link, once; only its hash is kept, for 72 hours; the person's page", async () => {
  const s = await atConsole(ann);
  assert.equal(s.status, 200, s.html.slice(0, 300));
  assert.match(s.html, /<h2 id="add-person">Add a person<\/h2>/);
  assert.match(s.html, /You get a one-time link to send them/);
  const address = email("cora");
  const before = (await w.db.prepare("SELECT COUNT(*) AS n FROM users").first()).n;
  const out = await consolePost(s, { action: "add", email: `  ${address.toUpperCase()} `, name: "Cora <Invited>" });
  assert.equal(out.status, 200, out.alert ?? out.html.slice(0, 400));
  assertPageHeaders(out.res, "the People page after add");
  assert.equal(h1(out.html), "People");
  assert.match(out.notice ?? "", new RegExp(`^Added ${address.replace(/\./g, "\\.")}\\. Send them this link: it lets them choose their password, works once and for 72 hours\\.`));
  assert.ok(out.link, `the link is shown: ${out.html.slice(0, 600)}`);
  assert.match(out.link, new RegExp(`^${w.url.replace(/[.:/]/g, "\\$&")}/welcome\\?token=[A-Za-z0-9_-]{43}$`), out.link);
  assert.equal(out.alert, undefined);
  assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM users").first()).n, before + 1);

  // The person: lower-cased, the name kept as typed, no password, the operator's.
  const row = await userByEmail(w, address);
  assert.ok(row, "the person is stored with the email lower-cased and trimmed");
  assert.equal(row.name, "Cora <Invited>");
  assert.equal(row.password_hash, "");
  assert.equal(row.operator_added, 1);
  // Only the token's SHA-256 is stored, once, for 72 hours, naming the administrator.
  const links = await linksOf(w, row.id);
  assert.equal(links.length, 1);
  const tok = tokenOfLink(out.link);
  assert.equal(links[0].token_hash, sha(tok));
  assert.equal(links[0].purpose, "invite");
  assert.equal(links[0].expires_at - links[0].created_at, 72 * 3600);
  assert.equal(links[0].created_by, "ann@example.com");
  assert.equal(links[0].used_at, null);
  const dump = JSON.stringify((await w.db.prepare("SELECT * FROM password_links").all()).results) + JSON.stringify((await w.db.prepare("SELECT * FROM audit_events").all()).results);
  assert.ok(!dump.includes(tok), "the token itself is nowhere in D1");
  assert.ok(!w.logs.some((l) => l.includes(tok)), "nor in the Worker's log");
  assert.deepEqual((await audits(w, "user_added", row.id)).map((r) => r.detail), ["by ann@example.com"]);

  // The link is shown once: not on the People page again, nor on the person's page.
  const again = await s.browser.get(w.url + "/admin/people?q=" + encodeURIComponent(address));
  const list = await again.text();
  assert.ok(!list.includes(tok) && linkOf(list) === undefined, "the People page does not show the link again");
  assert.ok(list.includes(`<h2><a href="/admin/people?id=${row.id}">${address}</a></h2>`), `the email links to the person's page: ${list.slice(list.indexOf(address) - 200, list.indexOf(address) + 100)}`);
  const p = await personPage(s, row.id);
  assert.equal(p.status, 200, p.html.slice(0, 300));
  assertPageHeaders(p.res, "the person's page");
  assert.equal(h1(p.html), address);
  assert.ok(!p.html.includes(tok) && p.link === undefined, "the person's page does not show the link");
  assert.match(p.html, /<dt>Name<\/dt><dd>Cora &lt;Invited&gt;<\/dd>/, "the name, escaped");
  assert.match(p.html, /<dt>Password<\/dt><dd>none \(signs in through a link or a provider\)<\/dd>/);
  assert.match(p.html, /No connected app\./);
  assert.match(p.html, /No live personal token\./);
  assert.match(p.html, new RegExp(`<button type="submit" name="action" value="reset" class="danger">Reset ${address}</button>`));
  assert.match(p.html, new RegExp(`<button type="submit" name="action" value="link">Make a new link for ${address}</button>`));
  const reset = formWith(p.html, "reset");
  assert.equal(reset.user_id, row.id);
  assert.ok(reset.csrf_token, "the person's forms carry the CSRF token");

  // A taken email (in any case) and bad emails or names: 400 with the alert, nothing added.
  const bad = [
    [{ email: address.toUpperCase() }, `Someone with the email ${address} is here already.`],
    [{ email: "ann@example.com" }, "Someone with the email ann@example.com is here already."],
    [{ email: "not-an-email" }, /^Give an email address/],
    [{ email: "two words@example.com" }, /^Give an email address/],
    [{ email: "a@b@example.com" }, /^Give an email address/],
    [{ email: "@example.com" }, /^Give an email address/],
    [{ email: "" }, /^Give an email address/],
    [{ email: email("longname"), name: "n".repeat(121) }, "The name must be at most 120 characters, on one line."],
    [{ email: email("twolines"), name: "first\nsecond" }, "The name must be at most 120 characters, on one line."],
  ];
  const users = (await w.db.prepare("SELECT COUNT(*) AS n FROM users").first()).n;
  const linkCount = (await w.db.prepare("SELECT COUNT(*) AS n FROM password_links").first()).n;
  for (const [fields, says] of bad) {
    const r = await consolePost(s, { action: "add", name: "", ...fields });
    const why = `add ${JSON.stringify(fields)}`;
    assert.equal(r.status, 400, `${why}: ${r.status} ${r.notice}`);
    if (typeof says === "string") assert.equal(r.alert, says, why);
    else assert.match(r.alert ?? "", says, why);
    assert.match(r.html, /<p class="error" role="alert">/, why);
    assert.equal(r.link, undefined, why);
    assert.equal(r.notice, undefined, why);
  }
  assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM users").first()).n, users, "no one was added");
  assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM password_links").first()).n, linkCount, "no link was made");
  assert.equal((await linksOf(w, row.id))[0].token_hash, sha(tok), "a refused add of a taken email leaves its link alone");
});

for (const device of DEVICES) {
  test(`the person opens the link in a browser, types the password twice and lands on /account signed in (${device.name})`, async () => {
    const s = await atConsole(ann);
    const person = await addPerson(s, email(`invited-${device.name}`), "Invited Person");
    const password = `chosen-${randomBytes(6).toString("hex")}`;
    const found = [];
    const { context, page, problems } = await openPage(device);
    const res = await page.goto(person.link);
    assert.equal(res.status(), 200);
    await page.getByRole("heading", { level: 1, name: "Welcome: choose your password" }).waitFor();
    assert.ok((await page.locator("main").innerText()).includes(`For ${person.email}. This link works once`), await page.locator("main").innerText());
    await inspect(page, "welcome", device, found);
    // The hidden username field (for password managers) must stay hidden.
    const username = page.locator('input[name="username"]');
    if (await username.isVisible()) {
      const box = await username.boundingBox();
      found.push(`the hidden username field is visible on /welcome: ${Math.round(box.width)}x${Math.round(box.height)} px, showing "${await username.inputValue()}" (style.css input[type=text]{display:block} overrides the hidden attribute)`);
    }

    // Two different passwords: the same page, 400, with the alert; nothing is set.
    await typeInto(page, "New password (10 characters or more)", password);
    await typeInto(page, "The same password again", password + "x");
    await page.getByRole("button", { name: "Set the password and sign in" }).click();
    await page.getByRole("alert").waitFor();
    assert.equal(await page.getByRole("alert").innerText(), "The two passwords are not the same.");
    assert.equal(await page.getByLabel("The same password again").getAttribute("aria-invalid"), "true");
    assert.equal((await userById(w, person.id)).password_hash, "", "nothing set after the mismatch");
    await inspect(page, "welcome-mismatch", device, found);

    // The same password twice: signed in, on /account.
    await typeInto(page, "New password (10 characters or more)", password);
    await typeInto(page, "The same password again", password);
    await page.getByRole("button", { name: "Set the password and sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Connected apps" }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/account");
    assert.ok((await page.locator("main").innerText()).includes(`Signed in as ${person.email}.`));
    const cookies = await context.cookies(w.url);
    assert.ok(cookies.some((c) => c.name === "mcp-session" && c.httpOnly), "an HttpOnly session cookie");

    // Used: the same link again is "This link cannot be used", in this browser too.
    const second = await page.goto(person.link);
    assert.equal(second.status(), 400);
    await page.getByRole("heading", { level: 1, name: "This link cannot be used" }).waitFor();
    await inspect(page, "welcome-link_used", device, found);
    assert.deepEqual(problems, [], "console errors or CSP violations");
    await context.close();

    // The password signs them in at /account; the audit names the link; the console shows
    // the password as set and offers no new link.
    assert.equal((await accountSignIn(w, person.email, password)).status, 303, "the new password signs in");
    assert.equal((await accountSignIn(w, person.email, password + "x")).status, 401, "another does not");
    assert.deepEqual((await audits(w, "password_set", person.id)).map((r) => r.detail), ["through an invitation link"]);
    assert.ok((await linksOf(w, person.id))[0].used_at > 0, "the link is marked used");
    const p = await personPage(s, person.id);
    assert.match(p.html, /<dt>Password<\/dt><dd>set<\/dd>/);
    assert.doesNotMatch(p.html, /value="link"/, "no new link for someone with a password");
    assert.deepEqual(found, [], "axe, headings, width and the hidden field on /welcome");
  });
}

test("a link works once, only the newest works, never after it expires, never a wrong token", async () => {
  const s = await atConsole(ann);
  const dan = await addPerson(s, email("dan"));
  const first = dan.link;

  // A new link from the person's page replaces the first.
  const made = await consolePost(s, { ...formWith((await personPage(s, dan.id)).html, "link"), csrf_token: s.csrf });
  assert.equal(made.status, 200, made.alert ?? made.html.slice(0, 300));
  assert.equal(h1(made.html), dan.email, "the answer is the person's page");
  assert.equal(made.notice, `A new link for ${dan.email}: it works once, within 72 hours; older links no longer work.`);
  assert.ok(made.link && made.link !== first, `a different link: ${made.link}`);
  const second = made.link;
  assert.equal((await linksOf(w, dan.id)).length, 1, "one link per person");
  assertLinkUsed(await openLink(first), "the older link, opened");

  // A wrong, empty or overlong token.
  const t = tokenOfLink(second);
  const wrong = t.slice(0, -1) + (t.endsWith("A") ? "B" : "A");
  assertLinkUsed(await openLink(`${w.url}/welcome?token=${wrong}`), "a wrong token");
  assertLinkUsed(await openLink(`${w.url}/welcome`), "no token");
  assertLinkUsed(await openLink(`${w.url}/welcome?token=${"A".repeat(101)}`), "a 101-character token");

  // The newest link's form, posted with the older link's token: refused.
  const page = await openLink(second);
  assert.equal(page.status, 200, page.html.slice(0, 300));
  assertPageHeaders(page.res, "the welcome page");
  assert.equal(page.fields.token, undefined, "the form carries no token: the cookie holds it");
  assert.doesNotMatch(page.html, new RegExp(t), "the page never shows the token");
  // The older link opened in the same browser: refused, and the cookie stays the newest's.
  assertLinkUsed(await openLink(first, page.browser), "the older link, opened in the same browser");

  // Expired: refused both to open and to post (a page opened before it expired).
  await w.db.prepare("UPDATE password_links SET expires_at = ? WHERE user_id = ?").bind(now() - 1, dan.id).run();
  assertLinkUsed(await openLink(second), "an expired link");
  const late = await page.browser.post(w.url + "/welcome", { ...page.fields, password: "expired-link-pass", again: "expired-link-pass" });
  assertLinkUsed({ status: late.status, html: await late.text() }, "an expired link's form, posted");
  assert.equal((await userById(w, dan.id)).password_hash, "", "no password from an expired link");
  await w.db.prepare("UPDATE password_links SET expires_at = ? WHERE user_id = ?").bind(now() + 3600, dan.id).run();

  // A page opened, then a newer link made, then the page posted: refused.
  const opened = await openLink(second);
  assert.equal(opened.status, 200);
  const third = (await consolePost(s, { ...formWith((await personPage(s, dan.id)).html, "link"), csrf_token: s.csrf })).link;
  assert.ok(third && third !== second);
  const stale = await opened.browser.post(w.url + "/welcome", { ...opened.fields, password: "replaced-link-pass", again: "replaced-link-pass" });
  assertLinkUsed({ status: stale.status, html: await stale.text() }, "a replaced link's form, posted");
  assert.equal((await userById(w, dan.id)).password_hash, "", "no password from a replaced link");

  // The newest works, once: the same form posted twice, the second refused.
  const newest = await openLink(third);
  const fields = { ...newest.fields, password: "dans-new-password", again: "dans-new-password" };
  const used = await newest.browser.post(w.url + "/welcome", fields);
  assertPasswordSet({ res: used, status: used.status, html: await used.text() }, "the newest link");
  const twice = await new Browser().post(w.url + "/welcome", fields);
  // Another browser holds no link at all: "This link cannot be used", before its form's
  // token is even looked at.
  assertLinkUsed({ status: twice.status, html: await twice.text() }, "the form posted from another browser");
  const replay = await newest.browser.post(w.url + "/welcome", { ...fields, password: "second-use-password", again: "second-use-password" });
  assertLinkUsed({ status: replay.status, html: await replay.text() }, "the same link, posted a second time");
  assertLinkUsed(await openLink(third), "the same link, opened after use");
  assert.equal((await accountSignIn(w, dan.email, "dans-new-password")).status, 303, "the first use's password stands");
  assert.equal((await accountSignIn(w, dan.email, "second-use-password")).status, 401, "the second use changed nothing");

  // With a password, "Make a new link" is refused (a reset is the way).
  const refused = await consolePost(s, { action: "link", user_id: dan.id });
  assert.equal(refused.status, 400, refused.html.slice(0, 300));
  assert.equal(refused.alert, `${dan.email} has a password. To give them a new one, reset them: that also signs them out everywhere.`);
  assert.equal(refused.link, undefined);
});

test("bad passwords: too short, too long, not the same twice, missing: 400 with the alert; nothing set; the link still works", async () => {
  const s = await atConsole(ann);
  const eve = await addPerson(s, email("eve"));
  const cases = [
    ["123456789", "123456789", "The password must be at least 10 characters."],
    ["x".repeat(201), "x".repeat(201), "The password must be at most 200 characters."],
    ["eve-password-1", "eve-password-2", "The two passwords are not the same."],
    ["eve-password-1", "", "The two passwords are not the same."],
    ["", "", "The password must be at least 10 characters."],
  ];
  const browser = new Browser();
  for (const [password, again, says] of cases) {
    const out = await setPassword(eve.link, password, again, browser);
    const why = `${password.length} and ${again.length} characters`;
    assert.equal(out.status, 400, `${why}: ${out.status} ${out.html.slice(0, 300)}`);
    assert.equal(out.alert, says, why);
    assert.match(out.html, /<p id="form-error" class="error" role="alert">/, why);
    assert.match(out.html, /aria-invalid="true" aria-describedby="form-error"/, why);
    assert.equal(formFields(out.html).token, undefined, `${why}: the token stays in the cookie, not the form`);
    assert.doesNotMatch(out.html, new RegExp(tokenOfLink(eve.link)), `${why}: the page never shows the token`);
    assert.ok(!out.html.includes(`value="${password}"`) || password === "", `${why}: the password is not echoed back`);
    assert.deepEqual(out.res.headers.getSetCookie().filter((c) => /session=[^;]/.test(c)), [], `${why}: no session`);
  }
  assert.equal((await userById(w, eve.id)).password_hash, "", "nothing was set");
  assert.equal((await linksOf(w, eve.id))[0].used_at, null, "the link is unused");

  // Without the CSRF token, or from another site: refused, nothing set.
  const page = await openLink(eve.link, browser);
  const noCsrf = await browser.post(w.url + "/welcome", { ...page.fields, csrf_token: "", password: "eve-password-1", again: "eve-password-1" });
  assert.equal(noCsrf.status, 403);
  assert.equal(dataError(await noCsrf.text()), "expired");
  for (const headers of [{ Origin: "https://evil.example" }, { "Sec-Fetch-Site": "cross-site" }]) {
    const cross = await fetch(w.url + "/welcome", {
      method: "POST",
      redirect: "manual",
      headers: { cookie: browser.header(), "Content-Type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams({ ...page.fields, password: "eve-password-1", again: "eve-password-1" }),
    });
    assert.equal(cross.status, 403, JSON.stringify(headers));
    assert.equal(dataError(await cross.text()), "cross_site", JSON.stringify(headers));
  }
  assert.equal((await userById(w, eve.id)).password_hash, "", "nothing was set");

  // Ten characters are characters, not bytes; 200 is the most.
  const ten = "ñøé€😀ßäöüx"; // 10 characters, 21 UTF-8 bytes
  assert.equal([...ten].length, 10);
  const accepted = await setPassword(eve.link, ten, ten, browser);
  assertPasswordSet(accepted, "ten multibyte characters");
  assert.equal((await accountSignIn(w, eve.email, ten)).status, 303, "the multibyte password signs in");
  // The boundary at 200, through a reset link.
  const reset = await consolePost(s, { action: "reset", user_id: eve.id });
  assert.equal(reset.status, 200, reset.alert);
  assertPasswordSet(await setPassword(reset.link, "y".repeat(200)), "200 characters");
  assert.equal((await accountSignIn(w, eve.email, "y".repeat(200))).status, 303);
});

test("a reset ends a live session, the app's refresh token and a personal token; the new link works and the old password is refused", async () => {
  const s = await atConsole(ann);
  const erin = await createUser(w.db, email("erin"), "erin-old-password", "Erin");
  const session = await accountSignIn(w, erin.email, erin.password);
  assert.equal(session.status, 303);
  assert.equal(await signedInAtAccount(w, session.browser), erin.email);
  const flow = await connect(w, erin, "Erin's Notes App");
  assert.equal((await useToken(w, flow.tokens.access_token)).status, 200, "the app's access token works");
  const pat = await makeToken(w, session.browser, erin, "erin laptop");
  assert.equal((await useToken(w, pat.value)).status, 200, "the personal token works");
  // A second session, in another browser.
  const other = await accountSignIn(w, erin.email, erin.password);
  assert.equal(other.status, 303);

  // The person's page lists the app and the token, each with its button.
  const p = await personPage(s, erin.id);
  assert.equal(p.status, 200);
  assert.match(p.html, /<strong>Erin&#39;s Notes App<\/strong>|<strong>Erin's Notes App<\/strong>/);
  assert.match(p.html, /<button type="submit" name="action" value="disconnect" class="danger">Disconnect Erin(&#39;|')s Notes App<\/button>/);
  assert.match(p.html, /<strong>erin laptop<\/strong>/);
  assert.match(p.html, /<button type="submit" name="action" value="revoke_token" class="danger">Revoke erin laptop<\/button>/);
  assert.match(p.html, /<dt>Password<\/dt><dd>set<\/dd>/);
  assert.doesNotMatch(p.html, /value="link"/, "no new-link button for someone with a password");

  const out = await consolePost(s, { ...formWith(p.html, "reset"), csrf_token: s.csrf });
  assert.equal(out.status, 200, out.alert ?? out.html.slice(0, 300));
  assert.equal(h1(out.html), erin.email, "the answer is the person's page");
  assert.equal(
    out.notice,
    `${erin.email} is reset: signed out everywhere, 1 app connection(s) ended, personal tokens revoked, password cleared. Send them this link to choose a new password (once, within 72 hours).`,
  );
  assert.ok(out.link?.startsWith(`${w.url}/welcome?token=`), `a new link: ${out.link}`);

  // Everything of before has ended.
  assert.equal(await signedInAtAccount(w, session.browser), false, "the live session ended");
  assert.equal(await signedInAtAccount(w, other.browser), false, "every session ended");
  const refused = await refresh(w, flow);
  assert.equal(refused.body.error, "invalid_grant", JSON.stringify(refused.body));
  const patAfter = await useToken(w, pat.value);
  assert.equal(patAfter.status, 401, `the personal token: ${patAfter.text.slice(0, 200)}`);
  const { res: accessAfter, seconds } = await pollUntilRefused(w, flow.tokens.access_token, 65_000);
  assert.equal(accessAfter.status, 401, `the app's access token is refused (after ${seconds} s)`);
  assert.equal((await accountSignIn(w, erin.email, erin.password)).status, 401, "the old password is refused");
  const row = await userById(w, erin.id);
  assert.equal(row.password_hash, "");
  assert.equal(row.operator_added, 1, "still the operator's person (a provider may link to them)");
  assert.deepEqual((await audits(w, "password_reset", erin.id)).map((r) => r.detail), ["by ann@example.com"]);
  const link = (await linksOf(w, erin.id))[0];
  assert.equal(link.purpose, "reset");
  assert.equal(link.token_hash, sha(tokenOfLink(out.link)));

  // The person's page now: nothing connected, no password, a new link can be made.
  const after = await personPage(s, erin.id);
  assert.match(after.html, /No connected app\./);
  assert.match(after.html, /No live personal token\./);
  assert.match(after.html, /<dt>Password<\/dt><dd>none/);
  assert.match(after.html, /value="link">Make a new link for /);

  // The reset link: "Choose a new password"; it signs them in; the old password stays refused.
  const welcome = await openLink(out.link);
  assert.equal(welcome.status, 200);
  assert.equal(h1(welcome.html), "Choose a new password");
  assert.ok(welcome.html.includes(`For <strong>${erin.email}</strong>.`));
  const set = await setPassword(out.link, "erin-new-password", "erin-new-password", welcome.browser);
  assertPasswordSet(set, "the reset link");
  assert.equal(await signedInAtAccount(w, set.browser), erin.email, "signed in by the link");
  assert.equal((await accountSignIn(w, erin.email, erin.password)).status, 401, "the old password is still refused");
  assert.equal((await accountSignIn(w, erin.email, "erin-new-password")).status, 303, "the new password signs in");
  assert.equal((await refresh(w, flow)).body.error, "invalid_grant", "a new password does not bring the app back");
  assert.equal((await useToken(w, pat.value)).status, 401, "nor the token");

  // An administrator cannot reset themselves.
  const self = await consolePost(s, { action: "reset", user_id: ann.id });
  assert.equal(self.status, 400, self.html.slice(0, 300));
  assert.equal(self.alert, "You cannot reset yourself here: use Sign out everywhere on your account page.");
  assert.equal(self.link, undefined);
  assert.notEqual((await userById(w, ann.id)).password_hash, "", "the administrator's password is untouched");
  assert.equal((await consoleSession(w, s.browser)).status, 200, "and their session too");
  assert.equal((await audits(w, "password_reset", ann.id)).length, 0);
  // The audit row of the password set through the reset link.
  assert.deepEqual((await audits(w, "password_set", erin.id)).map((r) => r.detail), ["through a reset link"]);
});

test("Disconnect and Revoke on a person's page: the app's refresh and the token are refused; the others keep working", async () => {
  const s = await atConsole(ann);
  const fay = await createUser(w.db, email("fay"), "fay-password-1", "Fay");
  const session = await accountSignIn(w, fay.email, fay.password);
  const sync = await connect(w, fay, "Fay Sync");
  const reader = await connect(w, fay, "Fay Reader");
  const one = await makeToken(w, session.browser, fay, "fay one");
  const two = await makeToken(w, session.browser, fay, "fay two");
  for (const t of [one, two]) assert.equal((await useToken(w, t.value)).status, 200);

  const p = await personPage(s, fay.id);
  assert.match(p.html, /<strong>Fay Sync<\/strong>[\s\S]*<strong>Fay Reader<\/strong>|<strong>Fay Reader<\/strong>[\s\S]*<strong>Fay Sync<\/strong>/);
  const disconnect = formWith(p.html, "disconnect", `value="${sync.client.client_id}"`);
  assert.deepEqual(Object.keys(disconnect).sort(), ["action", "client_id", "csrf_token", "user_id"]);
  assert.equal(disconnect.user_id, fay.id);
  const out = await consolePost(s, disconnect);
  assert.equal(out.status, 200, out.alert ?? out.html.slice(0, 300));
  assert.equal(out.notice, `Disconnected the app for ${fay.email}: its refresh tokens stop at once, its access tokens within a minute.`);
  assert.doesNotMatch(out.html, /<strong>Fay Sync<\/strong>/, "the app is no longer listed");
  assert.match(out.html, /<strong>Fay Reader<\/strong>/);
  const syncRefresh = await refresh(w, sync);
  assert.equal(syncRefresh.body.error, "invalid_grant", JSON.stringify(syncRefresh.body));
  const readerRefresh = await refresh(w, reader);
  assert.equal(readerRefresh.status, 200, `the other app refreshes: ${JSON.stringify(readerRefresh.body)}`);
  const { res: syncAccess, seconds } = await pollUntilRefused(w, sync.tokens.access_token, 65_000);
  assert.equal(syncAccess.status, 401, `the disconnected app's access token is refused (after ${seconds} s)`);
  assert.deepEqual(await audits(w, "disconnect", fay.id), [{ user_id: fay.id, client_id: sync.client.client_id, detail: "by ann@example.com" }]);

  const revoke = formWith(out.html, "revoke_token", `value="${one.id}"`);
  const revoked = await consolePost(s, revoke);
  assert.equal(revoked.status, 200, revoked.alert ?? revoked.html.slice(0, 300));
  assert.equal(revoked.notice, `Revoked the personal token fay one of ${fay.email}.`);
  assert.doesNotMatch(revoked.html, /<strong>fay one<\/strong>/);
  assert.match(revoked.html, /<strong>fay two<\/strong>/);
  const oneAfter = await useToken(w, one.value);
  assert.equal(oneAfter.status, 401, oneAfter.text.slice(0, 200));
  assert.equal((await useToken(w, two.value)).status, 200, "the other token works");
  assert.deepEqual((await audits(w, "token_revoked", fay.id)).map((r) => r.detail), ["fay one by ann@example.com"]);
  // Pressed twice: said so, 400.
  const twice = await consolePost(s, revoke);
  assert.equal(twice.status, 400);
  assert.equal(twice.alert, "That token was revoked already.");

  // Another person's user_id with Fay's app or token changes nothing of Fay's.
  const crossed = await consolePost(s, { action: "disconnect", user_id: bob.id, client_id: reader.client.client_id });
  assert.equal(crossed.status, 200);
  assert.equal(h1(crossed.html), "bob@example.com");
  assert.equal((await refresh(w, { ...reader, tokens: readerRefresh.body })).status, 200, "Fay's other app still refreshes");
  const crossedToken = await consolePost(s, { action: "revoke_token", user_id: bob.id, token_id: two.id });
  assert.equal(crossedToken.status, 400);
  assert.equal((await useToken(w, two.value)).status, 200, "Fay's other token still works");
  // A person who does not exist.
  const nobody = await consolePost(s, { action: "disconnect", user_id: "no-such-person", client_id: reader.client.client_id });
  assert.equal(nobody.status, 400);
  assert.equal(dataError(nobody.html), "bad_form");

  // Neither signs the person out.
  assert.equal(await signedInAtAccount(w, session.browser), fay.email);
});

test("refusals: a sign-in older than ten minutes, no CSRF token, a cross-site post, a person without the role; nothing changes", async () => {
  const s = await atConsole(ann);
  const gus = await createUser(w.db, email("gus"), "gus-password-1", "Gus");
  const gusSession = await accountSignIn(w, gus.email, gus.password);
  const flow = await connect(w, gus, "Gus App");
  const pat = await makeToken(w, gusSession.browser, gus, "gus token");
  const hal = await addPerson(s, email("hal"));
  const newcomer = email("newcomer");
  const changes = [
    { action: "add", email: newcomer, name: "" },
    { action: "reset", user_id: gus.id },
    { action: "link", user_id: hal.id },
    { action: "disconnect", user_id: gus.id, client_id: flow.client.client_id },
    { action: "revoke_token", user_id: gus.id, token_id: pat.id },
  ];
  const state = async () => ({
    users: (await w.db.prepare("SELECT COUNT(*) AS n FROM users").first()).n,
    gus: (await userById(w, gus.id)).password_hash,
    halLinks: (await linksOf(w, hal.id)).map((l) => l.token_hash),
    grants: (await w.db.prepare("SELECT COUNT(*) AS n FROM grants WHERE user_id = ? AND revoked_at IS NULL").bind(gus.id).first()).n,
    tokens: (await w.db.prepare("SELECT COUNT(*) AS n FROM personal_tokens WHERE user_id = ? AND revoked_at IS NULL").bind(gus.id).first()).n,
  });
  const start = await state();
  assert.equal(start.grants, 1);
  assert.equal(start.tokens, 1);
  const unchanged = async (why) => assert.deepEqual(await state(), start, `${why}: something changed`);

  // A sign-in more than ten minutes ago: 403 with "sign in again"; looking is still fine.
  const stale = await atConsole(ann);
  signedInAgo(stale, 11 * 60);
  assert.equal((await personPage(stale, gus.id)).status, 200, "viewing a person with an older sign-in");
  for (const fields of changes) {
    const r = await consolePost(stale, fields);
    const why = `stale sign-in, ${fields.action}`;
    assert.equal(r.status, 403, `${why}: ${r.status} ${r.notice ?? r.html.slice(0, 300)}`);
    assert.match(r.alert ?? "", /sign in again/, `${why}: ${r.alert}`);
    assert.equal(r.notice, undefined, why);
    assert.equal(r.link, undefined, why);
    await unchanged(why);
  }
  // Nine minutes ago is recent enough.
  const recent = await atConsole(ann);
  signedInAgo(recent, 9 * 60);
  const fine = await consolePost(recent, { action: "link", user_id: hal.id });
  assert.equal(fine.status, 200, `a sign-in 9 minutes ago: ${fine.alert}`);
  assert.ok(fine.link);
  start.halLinks = (await linksOf(w, hal.id)).map((l) => l.token_hash);

  // No CSRF token, a broken one, or another browser's.
  const other = await atConsole(ann);
  for (const [csrf, why] of [["", "no token"], [s.csrf.slice(0, -2) + (s.csrf.endsWith("xx") ? "yy" : "xx"), "a broken token"], [other.csrf, "another browser's token"]]) {
    for (const fields of changes) {
      const r = await consolePost(s, { ...fields, csrf_token: csrf });
      assert.equal(r.status, 403, `${why}, ${fields.action}: ${r.status}`);
      assert.equal(dataError(r.html), "expired", `${why}, ${fields.action}`);
      await unchanged(`${why}, ${fields.action}`);
    }
  }
  const noField = await s.browser.post(w.url + "/admin/people", { action: "reset", user_id: gus.id });
  assert.equal(noField.status, 403);
  assert.equal(dataError(await noField.text()), "expired");

  // Cross-site posts.
  for (const headers of [{ Origin: "https://evil.example" }, { Origin: "null" }, { "Sec-Fetch-Site": "cross-site" }, { "Sec-Fetch-Site": "same-site" }]) {
    for (const fields of changes) {
      const r = await consolePost(s, fields, headers);
      const why = `${JSON.stringify(headers)}, ${fields.action}`;
      assert.equal(r.status, 403, why);
      assert.equal(dataError(r.html), "cross_site", why);
      await unchanged(why);
    }
  }

  // A person without the admin role: 403 to see a person's page and to change anything.
  const b = await atConsole(bob);
  assert.equal(b.status, 403);
  const bobView = await personPage(b, gus.id);
  assert.equal(bobView.status, 403);
  assert.equal(dataError(bobView.html), "admin_only");
  assert.ok(!bobView.html.includes(gus.email), "the 403 page names no one");
  for (const fields of changes) {
    const r = await consolePost(b, fields);
    assert.equal(r.status, 403, `bob, ${fields.action}`);
    assert.equal(dataError(r.html), "admin_only", `bob, ${fields.action}`);
    await unchanged(`bob, ${fields.action}`);
  }
  // Without a session: the console's sign-in form, no change.
  const stranger = new Browser();
  const strangerForm = formFields(await (await stranger.get(w.url + "/admin")).text());
  for (const fields of changes) {
    const r = await consolePost({ on: w, browser: stranger, csrf: strangerForm.csrf_token }, fields);
    assert.equal(h1(r.html), "Sign in to the console", `signed out, ${fields.action}`);
    await unchanged(`signed out, ${fields.action}`);
  }

  // Gus's app, token and session still work.
  assert.equal((await refresh(w, flow)).status, 200);
  assert.equal((await useToken(w, pat.value)).status, 200);
  assert.equal(await signedInAtAccount(w, gusSession.browser), gus.email);
});

test("a person added in the console who signs in through an OpenID provider with link_by_email is linked to that account; their invitation ends, and a reset's link then ends that session", async () => {
  const s = await atConsole(ann);
  const dora = await addPerson(s, email("dora"), "Dora");
  op.account("dora-sub", { email: dora.email.toUpperCase(), email_verified: true, name: "Dora at SSO" });
  const r = await signInVia(w, "dora-sub");
  assert.equal(r.status, 303, `the console-added person is let in, not refused: ${r.status} ${dataError(r.html)} ${r.html.slice(0, 300)}`);
  assert.equal(r.res.headers.get("location"), "/account");
  assert.equal(await signedInAtAccount(w, r.person.worker), dora.email);
  const ident = await identityOf(w, "dora-sub");
  assert.ok(ident, "an identity row");
  assert.equal(ident.user_id, dora.id, "linked to the console's person");
  assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM users WHERE email = ?").bind(dora.email).first()).n, 1, "no second person");
  assert.equal((await userById(w, dora.id)).password_hash, "", "no password from a provider sign-in");

  // Signing in through the provider ended the invitation: whoever holds it must not put
  // a password on an account in use.
  assertLinkUsed(await openLink(dora.link), "the invitation, after a provider sign-in");
  // No new link for someone who signs in through a provider: a reset is the way (it signs
  // them out everywhere); setting the password then ends the provider session too.
  const p = await personPage(s, dora.id);
  assert.match(p.html, /<dt>Password<\/dt><dd>none/);
  assert.doesNotMatch(p.html, /value="link"/, "no Make a new link button");
  const refused = await consolePost(s, { action: "link", user_id: dora.id, csrf_token: s.csrf });
  assert.equal(refused.status, 400);
  assert.match(refused.alert, /signs in through a sign-in provider\. To give them a password, reset them/);
  const made = await consolePost(s, { ...formWith(p.html, "reset"), csrf_token: s.csrf });
  assert.equal(made.status, 200, made.alert);
  assert.ok(made.link, "the reset gives a link");
  const set = await setPassword(made.link, "dora-password-1");
  assertPasswordSet(set, "dora's new link");
  assert.equal(await signedInAtAccount(w, set.browser), dora.email);
  assert.equal(await signedInAtAccount(w, r.person.worker), false, "setting the password ended the person's other session");
  // Both ways in work afterwards.
  assert.equal((await accountSignIn(w, dora.email, "dora-password-1")).status, 303);
  assert.equal((await signInVia(w, "dora-sub")).status, 303);

  // An unverified email never links to a console-added person.
  const ida = await addPerson(s, email("ida"));
  op.account("ida-sub", { email: ida.email, email_verified: false });
  const unverified = await signInVia(w, "ida-sub");
  assert.equal(unverified.status, 403, unverified.html.slice(0, 300));
  assert.ok(["no_access", "email_unverified"].includes(dataError(unverified.html)), dataError(unverified.html));
  assert.equal(await identityOf(w, "ida-sub"), null);

  // A person made with the command line (a password), reset in the console (no password
  // now), is still linked by email, not taken for a provider's person.
  const jo = await createUser(w.db, email("jo"), "jo-password-12", "Jo");
  const reset = await consolePost(s, { action: "reset", user_id: jo.id });
  assert.equal(reset.status, 200, reset.alert);
  op.account("jo-sub", { email: jo.email, email_verified: true });
  const joIn = await signInVia(w, "jo-sub");
  assert.equal(joIn.status, 303, `a reset person is linked, not refused: ${joIn.status} ${dataError(joIn.html)}`);
  assert.equal((await identityOf(w, "jo-sub"))?.user_id, jo.id);
});

test("with LOCAL_PASSWORDS off: no link, the notice says they sign in through a provider, /welcome is closed, and the provider links them", async () => {
  // The administrator signs in through the provider too (linked by email to their account).
  const kim = await createUser(off.db, "kim@example.com", "kim-password-1", "Kim");
  await giveAdmin(off, kim);
  op.account("kim-sub", { email: kim.email, email_verified: true });
  const signed = await signInVia(off, "kim-sub", { page: "/admin" });
  assert.equal(signed.status, 303, signed.html.slice(0, 300));
  const s = await consoleSession(off, signed.person.worker);
  assert.equal(s.status, 200, s.html.slice(0, 300));
  assert.match(s.html, /Passwords are off here: they sign in through a sign-in provider with this email\./);

  const lee = email("lee");
  const out = await consolePost(s, { action: "add", email: lee, name: "Lee" });
  assert.equal(out.status, 200, out.alert ?? out.html.slice(0, 300));
  assert.equal(out.notice, `Added ${lee}. Passwords are off here (LOCAL_PASSWORDS), so they sign in through a sign-in provider with this email, which links to this account.`);
  assert.equal(out.link, undefined);
  assert.doesNotMatch(out.html, /class="secret"|welcome\?token=/);
  const row = await userByEmail(off, lee);
  assert.equal((await linksOf(off, row.id)).length, 0, "no link is made");
  assert.deepEqual((await audits(off, "user_added", row.id)).map((r) => r.detail), ["by kim@example.com"]);

  const p = await personPage(s, row.id);
  assert.doesNotMatch(p.html, /value="link"/, "no Make a new link");
  assert.doesNotMatch(p.html, /one-time link/);
  const link = await consolePost(s, { action: "link", user_id: row.id });
  assert.equal(link.status, 400);
  assert.equal(link.alert, "Passwords are off here (LOCAL_PASSWORDS).");
  const reset = await consolePost(s, { ...formWith(p.html, "reset"), csrf_token: s.csrf });
  assert.equal(reset.status, 200, reset.alert);
  assert.match(reset.notice ?? "", /password cleared\. Passwords are off here: they sign in through a provider\.$/);
  assert.equal(reset.link, undefined);
  assert.equal((await linksOf(off, row.id)).length, 0);

  // /welcome is closed, whatever the token.
  assertLinkUsed(await openLink(`${off.url}/welcome?token=${randomBytes(32).toString("base64url")}`), "/welcome with passwords off");

  // Lee signs in through the provider: linked to the console's person.
  op.account("lee-sub", { email: lee, email_verified: true });
  const leeIn = await signInVia(off, "lee-sub");
  assert.equal(leeIn.status, 303, `${leeIn.status} ${dataError(leeIn.html)}`);
  assert.equal((await identityOf(off, "lee-sub"))?.user_id, row.id);
  assert.equal(await signedInAtAccount(off, leeIn.person.worker), lee);
});

for (const device of DEVICES) {
  test(`axe-clean in light and dark, no sideways scroll at 320 px: /admin/people with a new link, a person's page with apps and tokens, a reset (${device.name})`, async () => {
    // A person with two apps and a token, made over HTTP.
    const pia = await createUser(w.db, email(`pia-${device.name}`), "pia-password-1", "Pia With A Rather Long Name For A Narrow Screen");
    const piaSession = await accountSignIn(w, pia.email, pia.password);
    await connect(w, pia, "Pia's Very Long Application Name For Narrow Screens");
    await connect(w, pia, "Pia Reader");
    await makeToken(w, piaSession.browser, pia, "pia laptop token with a long name");

    const found = [];
    const { context, page, problems } = await openPage(device);
    await page.goto(w.url + "/admin");
    await typeInto(page, "Email", ann.email);
    await typeInto(page, "Password", ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    await page.getByRole("link", { name: "People", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "People" }).waitFor();
    await inspect(page, "admin-people", device, found);

    // Add a person with the form, as an administrator would.
    const address = email(`typed-${device.name}`);
    await typeInto(page, "Email", address);
    await typeInto(page, "Name (optional)", "Typed In");
    await page.getByRole("button", { name: "Add and make an invitation link" }).click();
    await page.getByRole("status").waitFor();
    assert.match(await page.getByRole("status").innerText(), new RegExp(`^Added ${address.replace(/\./g, "\\.")}\\.`));
    const shown = await page.locator("p.secret code").innerText();
    assert.match(shown, /\/welcome\?token=[A-Za-z0-9_-]{43}$/);
    assert.equal(await page.locator('input[type="password"]').count(), 0, "no password field in the console");
    await inspect(page, "admin-people-added", device, found);

    // Find them and open their page from their email.
    await typeInto(page, "Search by email or name", address);
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByRole("link", { name: address, exact: true }).click();
    await page.getByRole("heading", { level: 1, name: address }).waitFor();
    assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, `/admin/people?id=${(await userByEmail(w, address)).id}`);
    assert.equal(await page.getByRole("button", { name: `Make a new link for ${address}` }).count(), 1);
    await inspect(page, "admin-person-new", device, found);

    // A person with apps and tokens, then Reset pressed.
    await page.goto(`${w.url}/admin/people?id=${pia.id}`);
    await page.getByRole("heading", { level: 1, name: pia.email }).waitFor();
    assert.equal(await page.getByRole("button", { name: /^Disconnect / }).count(), 2);
    assert.equal(await page.getByRole("button", { name: "Revoke pia laptop token with a long name" }).count(), 1);
    await inspect(page, "admin-person", device, found);
    await page.getByRole("button", { name: `Reset ${pia.email}` }).click();
    await page.getByRole("status").waitFor();
    assert.match(await page.getByRole("status").innerText(), /is reset: signed out everywhere, 2 app connection\(s\) ended/);
    const resetLink = await page.locator("p.secret code").innerText();
    assert.match(resetLink, /\/welcome\?token=/);
    await inspect(page, "admin-person-reset", device, found);
    assert.deepEqual(problems, [], "console errors or CSP violations");
    await context.close();
    assert.equal(await signedInAtAccount(w, piaSession.browser), false, "the reset signed Pia out");

    // The reset link on the person's side: "Choose a new password", axe-clean.
    const person = await openPage(device);
    await person.page.goto(resetLink);
    await person.page.getByRole("heading", { level: 1, name: "Choose a new password" }).waitFor();
    await inspect(person.page, "welcome-reset", device, found);
    assert.deepEqual(person.problems, []);
    await person.context.close();
    assert.deepEqual(found, [], "axe, headings and width");
  });
}

test("the console never shows a password: not the person's, not the administrator's, not a hash", async () => {
  const s = await atConsole(ann);
  const quinn = await createUser(w.db, email("quinn"), "quinn-secret-password", "Quinn");
  const stored = await userById(w, quinn.id);
  const added = await addPerson(s, email("ray"));
  const chosen = "rays-chosen-password";
  assertPasswordSet(await setPassword(added.link, chosen), "ray's link");
  const rayRow = await userById(w, added.id);
  const pages = [
    ["the People page", s.html],
    ["the People page after add", added.out.html],
    ["Quinn's page", (await personPage(s, quinn.id)).html],
    ["Ray's page", (await personPage(s, added.id)).html],
    ["the People page, searched", await (await s.browser.get(w.url + "/admin/people?q=quinn")).text()],
    ["the reset answer", (await consolePost(s, { action: "reset", user_id: quinn.id })).html],
    ["the overview", await (await s.browser.get(w.url + "/admin")).text()],
  ];
  for (const [what, html] of pages) {
    for (const secret of [quinn.password, chosen, ADMIN_PASSWORD, stored.password_hash, stored.password_salt, rayRow.password_hash, rayRow.password_salt]) {
      assert.ok(!html.includes(secret), `${what} shows ${secret.slice(0, 6)}...`);
    }
    assert.doesNotMatch(html, /type="password"/, `${what} has a password field`);
    assert.doesNotMatch(html, /name="password"/, `${what} asks for a password`);
  }
  assert.ok(!w.logs.some((l) => l.includes(chosen) || l.includes(quinn.password)), "no password in the Worker's log");
  const detail = JSON.stringify((await w.db.prepare("SELECT detail FROM audit_events").all()).results);
  assert.ok(!detail.includes(chosen) && !detail.includes(quinn.password), "no password in the audit log");
});

test("a form shown for one link cannot set the password of another whose link this browser opened since", async () => {
  const s = await atConsole(ann);
  const gil = await addPerson(s, email("gil"));
  const hal = await addPerson(s, email("hal"));
  const browser = new Browser();
  // The form for Gil, then Hal's link opened in the same browser (a second tab, or a
  // page that sent this browser to a link of its own): the cookie now holds Hal's.
  const forGil = await openLink(gil.link, browser);
  assert.equal(forGil.status, 200);
  assert.ok(forGil.html.includes(`For <strong>${gil.email}</strong>.`));
  assert.equal((await openLink(hal.link, browser)).status, 200);
  const res = await browser.post(w.url + "/welcome", { ...forGil.fields, password: "meant-for-gil-1", again: "meant-for-gil-1" });
  const html = await res.text();
  assert.equal(res.status, 403, html.slice(0, 300));
  assert.equal(dataError(html), "expired", "the page is out of date, not a password set");
  assert.equal((await userById(w, gil.id)).password_hash, "", "Gil has no password");
  assert.equal((await userById(w, hal.id)).password_hash, "", "nor has Hal");
  // Hal's own form works.
  const forHal = await openLink(hal.link, browser);
  const set = await browser.post(w.url + "/welcome", { ...forHal.fields, password: "hal-password-1", again: "hal-password-1" });
  assertPasswordSet({ res: set, status: set.status, html: await set.text() }, "Hal's own form");
});
