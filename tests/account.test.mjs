// /account over plain HTTP: every bad form gets its page and changes nothing. (The flows a
// person clicks through are in tests/pages.test.mjs, in a real browser.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow, Browser, formFields, token } from "./helpers/oauth.mjs";

let w, ann;
before(async () => {
  w = await startWorker();
  ann = await createUser(w.db, "ann@example.com", "ann-password-1");
});
after(() => w?.stop());

/** A browser on the account page's sign-in form: its fields, with the CSRF token. */
async function signInForm(browser) {
  const page = await browser.get(w.url + "/account");
  const html = await page.text();
  assert.equal(page.status, 200);
  assert.match(html, /Sign in to see your connected apps/);
  return formFields(html);
}

async function signedIn() {
  const browser = new Browser();
  const fields = await signInForm(browser);
  const res = await browser.post(w.url + "/account", { ...fields, action: "signin", email: ann.email, password: ann.password });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/account");
  const page = await browser.get(w.url + "/account");
  const html = await page.text();
  assert.match(html, /<h1>Connected apps<\/h1>/);
  return { browser, fields: formFields(html) };
}

async function page(res, status, pattern) {
  const html = await res.text();
  assert.equal(res.status, status, html.slice(0, 300));
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(html, pattern);
  return html;
}

test("a POST without the CSRF token, or with another browser's, is the expired page", async () => {
  const { fields } = await signedIn();
  const noToken = await new Browser().post(w.url + "/account", { action: "signout" });
  await page(noToken, 403, /This page has expired/);
  const stranger = new Browser();
  await signInForm(stranger);
  const res = await stranger.post(w.url + "/account", { ...fields, action: "signin", email: ann.email, password: ann.password });
  await page(res, 403, /This page has expired/);
  assert.equal(res.headers.getSetCookie().filter((c) => /session=[^;]/.test(c)).length, 0, "no session from a forged form");
});

test("sign-in failures show the form again with one message", async () => {
  const browser = new Browser();
  const fields = await signInForm(browser);
  const wrong = await browser.post(w.url + "/account", { ...fields, action: "signin", email: ann.email, password: "nope-nope-nope" });
  await page(wrong, 401, /role="alert">That email and password do not match an account\./);
  const empty = await browser.post(w.url + "/account", { ...fields, action: "signin", email: "", password: "" });
  await page(empty, 400, /role="alert">Enter your email and password\./);
});

test("an unknown action is a 400 page; Disconnect needs a session and a client_id", async () => {
  const signedOut = new Browser();
  const outFields = await signInForm(signedOut);
  await page(await signedOut.post(w.url + "/account", { ...outFields, action: "bogus" }), 400, /The form was not sent correctly/);
  // Without a session, Disconnect is the sign-in form, not a change.
  await page(await signedOut.post(w.url + "/account", { ...outFields, action: "disconnect", client_id: "x" }), 200, /Sign in to see your connected apps/);
  const { browser, fields } = await signedIn();
  await page(await browser.post(w.url + "/account", { ...fields, action: "disconnect", client_id: "" }), 400, /The form was not sent correctly/);
});

test("Disconnect of one app leaves the person's other apps connected", async () => {
  const kept = await fullFlow(w.url, ann);
  const dropped = await fullFlow(w.url, ann);
  const { browser, fields } = await signedIn();
  const res = await browser.post(w.url + "/account", { ...fields, action: "disconnect", client_id: dropped.client.client_id });
  await page(res, 200, /is disconnected/);
  const refresh = (flow) => token(w.url, { grant_type: "refresh_token", refresh_token: flow.tokens.refresh_token, client_id: flow.client.client_id });
  assert.equal((await refresh(dropped)).body.error, "invalid_grant");
  assert.equal((await refresh(kept)).status, 200);
});

test("/account answers 405 with Allow to other methods", async () => {
  const res = await fetch(w.url + "/account", { method: "PUT" });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "GET, POST, HEAD");
});

test("personal tokens: bad forms are refused with a message, and no one revokes another's token", async () => {
  const { browser, fields } = await signedIn();
  const create = (extra) => browser.post(w.url + "/account", { ...fields, action: "create_token", token_password: ann.password, ...extra });
  await page(await create({ token_name: "x", token_expires: "30" }), 400, /role="alert">Choose at least one thing the token may do\./);
  await page(await create({ token_name: "x", token_scope: "mcp:read", token_expires: "365" }), 400, /role="alert">The expiry must be 7, 30 or 90 days, or never\./);
  await page(await create({ token_name: "x", token_scope: "offline_access", token_expires: "30" }), 400, /is not a scope a personal token can have/);
  const long = await page(await create({ token_name: "n".repeat(101), token_scope: "mcp:read", token_expires: "30" }), 400, /at most 100 characters/);
  assert.ok(!long.includes('value="' + "n".repeat(101)), "the refilled name is cut to the limit");
  // The password is asked again: a session alone cannot make a token.
  await page(await create({ token_name: "x", token_scope: "mcp:read", token_expires: "never", token_password: "" }), 400, /Enter your password to create a token/);
  await page(await create({ token_name: "x", token_scope: "mcp:read", token_expires: "never", token_password: "guess-guess-1" }), 400, /That password is not right/);
  assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM personal_tokens").first()).n, 0);

  // Without a session, Create is the sign-in form, not a token.
  const outsider = new Browser();
  const outFields = await signInForm(outsider);
  await page(await outsider.post(w.url + "/account", { ...outFields, action: "create_token", token_name: "x", token_scope: "mcp:read", token_expires: "7" }), 200, /Sign in to see your connected apps/);
  assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM personal_tokens").first()).n, 0);

  // Someone else's token id changes nothing.
  const other = await createUser(w.db, "other@example.com", "other-password-1");
  await w.db.prepare("INSERT INTO personal_tokens (id, user_id, name, token_hash, scope, created_at) VALUES ('pt_other', ?, 'theirs', 'h', 'mcp:read', 1)").bind(other.id).run();
  const res = await browser.post(w.url + "/account", { ...fields, action: "revoke_token", token_id: "pt_other" });
  const html = await page(res, 200, /Personal access tokens/);
  assert.doesNotMatch(html, /is revoked/);
  assert.equal((await w.db.prepare("SELECT revoked_at FROM personal_tokens WHERE id = 'pt_other'").first()).revoked_at, null);
});
