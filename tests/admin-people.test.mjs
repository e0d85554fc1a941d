// The console's People page over plain HTTP: search, disable and enable (which end the
// person's sessions, connections and tokens, as the command line does), roles given and
// taken, each audited naming the administrator; and every refusal: no admin role, a role
// this server does not know, the administrator's own account, a form without its token or
// from another site.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow, Browser, formFields, token } from "./helpers/oauth.mjs";
import { modernCall } from "./helpers/mcp.mjs";

const SCOPES = JSON.stringify({
  roles: ["ops"],
  scopes: [
    { name: "mcp:read", description: "Read", default: true },
    { name: "mcp:write", description: "Write", default: true },
  ],
});

let w, ann, bob;
before(async () => {
  w = await startWorker({ bindings: { SCOPES } });
  ann = await createUser(w.db, "ann@example.com", "ann-password-1", "Ann Admin");
  bob = await createUser(w.db, "bob@example.com", "bob-password-1", "Bob");
  await w.db.prepare("INSERT INTO user_roles (user_id, role, source, created_at) VALUES (?, 'admin', 'operator', 0)").bind(ann.id).run();
});
after(() => w?.stop());

/** A browser signed in at /admin as `who`, and the People page's first form fields. */
async function atConsole(who, q = "") {
  const browser = new Browser();
  const signin = await browser.get(w.url + "/admin");
  const res = await browser.post(w.url + "/admin", { ...formFields(await signin.text()), action: "signin", email: who.email, password: who.password });
  assert.equal(res.status, 303);
  const people = await browser.get(`${w.url}/admin/people?q=${encodeURIComponent(q)}`);
  return { browser, res: people, html: await people.text() };
}

/** The hidden fields of the form about `person` (its first form: disable or enable). */
function formFor(html, person) {
  const i = html.indexOf(`name="user_id" value="${person.id}"`);
  assert.ok(i > 0, `a form for ${person.email}`);
  const start = html.lastIndexOf("<form", i);
  return formFields(html.slice(start, html.indexOf("</form>", i)));
}

const peoplePage = async (browser, q) => (await browser.get(`${w.url}/admin/people?q=${encodeURIComponent(q)}`)).text();
const post = (browser, fields) => browser.post(w.url + "/admin/people", fields);
const audit = (event) => w.db.prepare("SELECT user_id, detail FROM audit_events WHERE event = ? ORDER BY id").bind(event).all().then((r) => r.results);

test("an administrator finds people by email or name", async () => {
  const { res, html } = await atConsole(ann, "bo");
  assert.equal(res.status, 200);
  assert.match(html, /<h1>People<\/h1>/);
  assert.match(html, /bob@example\.com/);
  assert.doesNotMatch(html, /<h2><a href="\/admin\/people\?id=[^"]+">ann@example\.com<\/a><\/h2>/, "the search leaves out who does not match");
  const all = await atConsole(ann);
  assert.match(all.html, /<h2><a href="\/admin\/people\?id=[^"]+">ann@example\.com<\/a><\/h2>[\s\S]*<dt>Roles<\/dt><dd>admin<\/dd>/);
  // A search is text, never a pattern: % matches nobody's email.
  const literal = await atConsole(ann, "%");
  assert.match(literal.html, /No one matches/);
});

test("disabling ends the person's sessions, connections and tokens at once; enabling lets them sign in again", async () => {
  const flow = await fullFlow(w.url, bob);
  assert.equal((await modernCall(w.url, flow.tokens.access_token, "tools/list")).status, 200);
  const { browser, html } = await atConsole(ann, "bob");
  const res = await post(browser, { ...formFor(html, bob), action: "disable" });
  const page = await res.text();
  assert.equal(res.status, 200, page.slice(0, 300));
  assert.match(page, /bob@example\.com is disabled: signed out everywhere, 1 app connection\(s\) ended/);
  assert.match(page, /Enable bob@example\.com/);
  const refused = await modernCall(w.url, flow.tokens.access_token, "tools/list");
  assert.equal(refused.status, 401, "the access token stops at once");
  const refresh = await token(w.url, { grant_type: "refresh_token", refresh_token: flow.tokens.refresh_token, client_id: flow.client.client_id });
  assert.equal(refresh.body.error, "invalid_grant");
  const rows = await audit("user_disabled");
  assert.deepEqual(rows.map((r) => [r.user_id, r.detail]), [[bob.id, "by ann@example.com"]]);
  // Disabled: no sign-in.
  const again = new Browser();
  const form = formFields(await (await again.get(w.url + "/account")).text());
  const denied = await again.post(w.url + "/account", { ...form, action: "signin", email: bob.email, password: bob.password });
  assert.notEqual(denied.status, 303);

  const enabled = await post(browser, { ...formFor(page, bob), action: "enable" });
  const enabledPage = await enabled.text();
  assert.match(enabledPage, /bob@example\.com can sign in again/);
  // A stale Enable for someone active changes nothing (it would end their sessions).
  const stale = await post(browser, { ...formFor(page, bob), action: "enable" });
  assert.match(await stale.text(), /bob@example\.com is not disabled; nothing was changed/);
  assert.equal((await audit("user_enabled")).length, 1);
  assert.equal((await audit("user_enabled")).at(-1).detail, "by ann@example.com");
  const back = await atConsole(bob);
  assert.equal(back.res.status, 403, "signed in again, though not an administrator");
});

test("roles are given and taken; only roles SCOPES knows; not one's own admin", async () => {
  const { browser, html } = await atConsole(ann, "bob");
  const bobForm = formFor(html, bob);
  const give = await post(browser, { ...bobForm, action: "role_add", role: "ops" });
  assert.match(await give.text(), /bob@example\.com has the role ops/);
  const unknown = await post(browser, { ...bobForm, action: "role_add", role: "boss" });
  assert.match(await unknown.text(), /boss(?:'|&#39;) is not a role this server knows/);
  // Taking any well-formed role is allowed, known or not.
  const takeUnknown = await post(browser, { ...bobForm, action: "role_remove", role: "boss" });
  assert.match(await takeUnknown.text(), /had no role boss given by the operator/);
  const rows = await w.db.prepare("SELECT role, source FROM user_roles WHERE user_id = ? ORDER BY role").bind(bob.id).all();
  assert.deepEqual(rows.results, [{ role: "ops", source: "operator" }]);
  assert.match((await audit("roles_changed")).at(-1).detail, /^\+ops by ann@example\.com$/);

  const annForm = formFor(await peoplePage(browser, "ann"), ann);
  const own = await post(browser, { ...annForm, action: "role_remove", role: "admin" });
  assert.match(await own.text(), /You cannot take your own administrator role here/);
  const self = await post(browser, { ...annForm, action: "disable" });
  assert.match(await self.text(), /You cannot disable yourself here/);

  // Bob made an administrator reaches the console; taken again, he does not.
  await post(browser, { ...bobForm, action: "role_add", role: "admin" });
  assert.equal((await atConsole(bob)).res.status, 200);
  const taken = await post(browser, { ...bobForm, action: "role_remove", role: "admin" });
  assert.match(await taken.text(), /no longer has the role admin/);
  const after = await atConsole(bob);
  assert.equal(after.res.status, 403);
  assert.match(after.html, /data-error="admin_only"/);
});

test("a form without its token, from another site, or from a person without the role changes nothing", async () => {
  const { browser, html } = await atConsole(ann, "bob");
  const fields = formFor(html, bob);
  const noToken = await post(browser, { ...fields, csrf_token: "", action: "disable" });
  assert.equal(noToken.status, 403);
  const crossSite = await fetch(w.url + "/admin/people", {
    method: "POST",
    headers: { cookie: browser.header(), "Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site" },
    body: new URLSearchParams({ ...fields, action: "disable" }).toString(),
    redirect: "manual",
  });
  assert.equal(crossSite.status, 403);
  assert.match(await crossSite.text(), /data-error="cross_site"/);
  const bobs = await atConsole(bob, "ann");
  assert.equal(bobs.res.status, 403);
  const tried = await post(bobs.browser, { ...fields, user_id: ann.id, action: "disable" });
  assert.equal(tried.status, 403);
  const annRow = await w.db.prepare("SELECT disabled_at FROM users WHERE id = ?").bind(ann.id).first();
  assert.equal(annRow.disabled_at, null);
  const bobRow = await w.db.prepare("SELECT disabled_at FROM users WHERE id = ?").bind(bob.id).first();
  assert.equal(bobRow.disabled_at, null);
});

test("the apps page lists every app with how it is known and used; only administrators see it", async () => {
  const flow = await fullFlow(w.url, ann);
  await w.db
    .prepare("INSERT INTO clients (client_id, metadata, created_at) VALUES (?, ?, ?)")
    .bind("pre-1", JSON.stringify({ client_id: "pre-1", redirect_uris: ["https://ops.example/cb"], client_name: "Ops <Board>", token_endpoint_auth_method: "client_secret_basic", grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], client_id_issued_at: 1, source: "preregistered" }), 1)
    .run();
  const { browser } = await atConsole(ann);
  const res = await browser.get(w.url + "/admin/apps");
  const html = await res.text();
  assert.equal(res.status, 200, html.slice(0, 300));
  assert.match(html, /<h1>Apps<\/h1>/);
  assert.match(html, /Dynamic registration is <strong>on<\/strong>/);
  const item = (id) => {
    const i = html.indexOf(`<code>${id}</code>`);
    assert.ok(i > 0, `the app ${id} is listed`);
    return html.slice(html.lastIndexOf("<li>", i), i);
  };
  const registered = item(flow.client.client_id);
  assert.match(registered, /dynamic registration/);
  assert.match(registered, /<dt>Sends people to<\/dt><dd>127\.0\.0\.1<\/dd>/);
  assert.match(registered, /<dt>Connected for<\/dt><dd>1 person<\/dd>/);
  assert.doesNotMatch(registered, /<dt>Last used<\/dt><dd>never/);
  const pre = item("pre-1");
  assert.match(pre, /<h2>Ops &lt;Board&gt;<\/h2>/, "names are escaped");
  assert.match(pre, /pre-registered by the operator/);
  assert.match(pre, /client_secret_basic/);
  assert.match(pre, /<dt>Connected for<\/dt><dd>0 people<\/dd>[\s\S]*<dt>Last used<\/dt><dd>never/);
  const bobs = await atConsole(bob);
  const denied = await bobs.browser.get(w.url + "/admin/apps");
  assert.equal(denied.status, 403);
  assert.doesNotMatch(await denied.text(), /pre-1/);
});
