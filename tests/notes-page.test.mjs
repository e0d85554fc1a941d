// The page a note's `url` opens: only its owner sees it, after signing in on the page
// itself (or already signed in from /authorize); everything a note holds is escaped.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow, Browser, formFields } from "./helpers/oauth.mjs";
import { modernCall, toolValue } from "./helpers/mcp.mjs";

let w, alice, bob, note;
before(async () => {
  w = await startWorker();
  [alice, bob] = await Promise.all([
    createUser(w.db, "alice@example.com", "alice-password-1", "Alice"),
    createUser(w.db, "bob@example.com", "bob-password-12", "Bob"),
  ]);
  const { tokens } = await fullFlow(w.url, alice);
  const res = await modernCall(w.url, tokens.access_token, "tools/call", {
    name: "memory_store",
    arguments: { title: "<script>alert(1)</script> plans", text: "line one\n<img src=x onerror=alert(2)>", tags: ["q3"] },
  });
  note = toolValue(res.json.result);
});
after(() => w?.stop());

async function signIn(browser, url, person) {
  const page = await browser.get(url);
  assert.equal(page.status, 401);
  const html = await page.text();
  assert.match(html, /Sign in to see this note/);
  assert.match(html, /autocomplete="current-password"/);
  return browser.post(url, { ...formFields(html), email: person.email, password: person.password });
}

test("the owner signs in on the page and sees the note, escaped", async () => {
  assert.equal(note.url, `${w.url}/notes/${note.id}`);
  const browser = new Browser();
  const signed = await signIn(browser, note.url, alice);
  assert.equal(signed.status, 303);
  assert.equal(signed.headers.get("location"), `/notes/${note.id}`);
  const page = await browser.get(note.url);
  const html = await page.text();
  assert.equal(page.status, 200);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt; plans/);
  assert.match(html, /&lt;img src=x onerror=alert\(2\)&gt;/);
  assert.doesNotMatch(html, /<script>|<img src=x/);
  assert.match(page.headers.get("content-security-policy"), /default-src 'none'/);
  assert.equal(page.headers.get("cache-control"), "no-store");
});

test("another person sees 'no such note', the same as for an id that does not exist", async () => {
  const browser = new Browser();
  assert.equal((await signIn(browser, note.url, bob)).status, 303);
  const theirs = await browser.get(note.url);
  const missing = await browser.get(`${w.url}/notes/n_doesnotexist000`);
  const [a, b] = [await theirs.text(), await missing.text()];
  assert.equal(theirs.status, 404);
  assert.equal(missing.status, 404);
  const strip = (h) => h.replace(/<code>[^<]*<\/code>/, "");
  assert.equal(strip(a), strip(b));
  assert.doesNotMatch(a, /plans/);
});

test("a wrong password keeps the form with one message; a missing CSRF token is refused", async () => {
  const browser = new Browser();
  const bad = await signIn(browser, note.url, { email: alice.email, password: "wrong-password-9" });
  assert.equal(bad.status, 401);
  assert.match(await bad.text(), /That email and password do not match an account/);
  const forged = await new Browser().post(note.url, { email: alice.email, password: alice.password });
  assert.equal(forged.status, 403);
  assert.equal(forged.headers.get("set-cookie"), null);
  await forged.text();
});
