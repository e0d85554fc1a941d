// Signing in through the operator's own app (issue 18), end to end against the built Worker:
// the hand-off (Continue with <app> → the app's login page with mcp_request → the app's
// signed POST /signin/handoff → the person's browser at /signin/return), the password check
// (the sign-in form's email and password checked by the app's endpoint, signed), and
// LOCAL_PASSWORDS=off. The app is played here: its hand-off completion is a POST this test
// makes, and its password-check endpoint answers in the Worker's `outbound` function, which
// checks the Mcp-Signature over the raw body as the app would.
//
// Workers (one per group of settings):
//   hw  – LOCAL_PASSWORDS unset; hand-off "acme" (everyone), hand-off "acmeonly" (no allow,
//         link_by_email), password check "apppw"; a demo-style local user
//   pw  – LOCAL_PASSWORDS=off, password check "acmepw" (timeout_ms 3000), LOGIN_MAX_FAILURES=3
//   off – LOCAL_PASSWORDS=off, hand-off "acme" only; the same signing key as hw
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { newSigningKey, startWorker } from "./helpers/worker.mjs";
import { authorizeUrl, Browser, createUser, formFields, pkcePair, publicClient, token } from "./helpers/oauth.mjs";
import { initialize } from "./helpers/mcp.mjs";
import { verifyIssued } from "./helpers/jwt.mjs";

const ACME_SECRET = "acme-handoff-secret-" + randomBytes(12).toString("hex");
const ACME_ONLY_SECRET = "acme-only-secret-" + randomBytes(12).toString("hex");
const PW_SECRET = "acme-pw-secret-" + randomBytes(12).toString("hex");
const LOGIN_URL = "https://app.example.com/mcp-signin?from=mcp";
const CHECK_URL = "https://app.example.com/api/check-password";
const FAILED = "That email and password do not match an account.";
const UNAVAILABLE = "Sign-in is not available right now";
const DEMO = { email: "demo@example.com", password: "correct-horse-demo", name: "Demo User" };

// ---------------------------------------------------------------------------------------
// The operator's app: its accounts and its password-check endpoint.

/** email -> { password, user_id, name, refuse (status for a refusal) } */
const appAccounts = new Map();
/** Every call to the endpoint: { worker, headers, raw, body, signatureOk, at }. */
const appCalls = [];
/** How the endpoint misbehaves, by email: a status, "unreachable", "not-json" or { delayMs }. */
const appFaults = new Map();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The app's check of Mcp-Signature on a password check:
 * t=<unix seconds>,v2=<base64url HMAC-SHA256(secret, "<t>.password_check.<raw body>")>.
 */
function signatureOk(header, raw, secret) {
  const parts = Object.fromEntries(
    (header ?? "").split(",").map((p) => {
      const i = p.indexOf("=");
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()];
    }),
  );
  if (!/^\d+$/.test(parts.t ?? "") || !/^[A-Za-z0-9_-]{43}$/.test(parts.v2 ?? "")) return false;
  if (Math.abs(Date.now() / 1000 - Number(parts.t)) > 300) return false;
  const expected = createHmac("sha256", secret).update(`${parts.t}.password_check.${raw}`).digest();
  const got = Buffer.from(parts.v2, "base64url");
  return got.length === expected.length && timingSafeEqual(got, expected);
}

function appEndpoint(worker, secret) {
  return async (req) => {
    if (req.url !== CHECK_URL) return new Response("tests have no internet", { status: 502 });
    const raw = await req.text();
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    const call = { worker, method: req.method, headers: Object.fromEntries(req.headers), raw, body, signatureOk: signatureOk(req.headers.get("mcp-signature"), raw, secret), at: Date.now() };
    appCalls.push(call);
    const reply = (o, status = 200) => new Response(JSON.stringify(o), { status, headers: { "Content-Type": "application/json" } });
    if (!call.signatureOk || req.method !== "POST") return reply({ error: "invalid_signature" }, 401);
    const email = String(body?.email ?? "").toLowerCase();
    const fault = appFaults.get(email);
    if (typeof fault === "number") return reply({ error: "server_error" }, fault);
    if (fault === "unreachable") throw new TypeError("fetch failed: connect ECONNREFUSED");
    if (fault === "not-json") return new Response("<html>maintenance</html>", { status: 200, headers: { "Content-Type": "text/html" } });
    if (fault?.delayMs) await sleep(fault.delayMs);
    const account = appAccounts.get(email);
    if (!account || account.password !== body.password) return reply({ error: "invalid_credentials" }, account?.refuse ?? 401);
    return reply({ user_id: account.user_id, email, name: account.name });
  };
}

// ---------------------------------------------------------------------------------------

let hw, pw, off;
const sharedKey = newSigningKey();
before(async () => {
  [hw, pw, off] = await Promise.all([
    startWorker({
      bindings: {
        JWT_SIGNING_KEY: sharedKey,
        REGISTER_RATE_LIMIT: "100000",
        SIGNIN_PROVIDERS: JSON.stringify([
          { id: "acme", type: "handoff", name: "Acme", login_url: LOGIN_URL, shared_secret: { secret: "ACME_SECRET" }, allow: { everyone: true }, emails_verified: true },
          { id: "acmeonly", type: "handoff", name: "Acme Staff", login_url: "https://staff.example.com/login", shared_secret: { secret: "ACME_ONLY_SECRET" }, link_by_email: true },
          { id: "apppw", type: "password_check", name: "Acme accounts", url: CHECK_URL, shared_secret: { secret: "ACME_PW_SECRET" }, allow: { everyone: true }, emails_verified: true },
        ]),
        ACME_SECRET,
        ACME_ONLY_SECRET,
        ACME_PW_SECRET: PW_SECRET,
      },
      outbound: appEndpoint("hw", PW_SECRET),
    }),
    startWorker({
      bindings: {
        LOCAL_PASSWORDS: "off",
        LOGIN_MAX_FAILURES: "3",
        REGISTER_RATE_LIMIT: "100000",
        SIGNIN_PROVIDERS: JSON.stringify([
          { id: "acmepw", type: "password_check", name: "Acme accounts", url: CHECK_URL, shared_secret: { secret: "ACME_PW_SECRET" }, allow: { everyone: true }, emails_verified: true, timeout_ms: 3000 },
        ]),
        ACME_PW_SECRET: PW_SECRET,
      },
      outbound: appEndpoint("pw", PW_SECRET),
    }),
    startWorker({
      bindings: {
        JWT_SIGNING_KEY: sharedKey,
        REGISTER_RATE_LIMIT: "100000",
        LOCAL_PASSWORDS: "off",
        SIGNIN_PROVIDERS: JSON.stringify([
          { id: "acme", type: "handoff", name: "Acme", login_url: LOGIN_URL, shared_secret: { secret: "ACME_SECRET" }, allow: { everyone: true }, emails_verified: true },
        ]),
        ACME_SECRET,
      },
    }),
  ]);
  await createUser(hw.db, DEMO.email, DEMO.password, DEMO.name);
});
after(() => Promise.all([hw, pw, off].map((w) => w?.stop())));

// ---------------------------------------------------------------------------------------
// What the tests share.

let nextIp = 10;
/** A browser on its own network (CF-Connecting-IP), so lockouts of one test are not another's. */
class NetBrowser extends Browser {
  constructor() {
    super();
    this.ip = `198.51.100.${nextIp++}`;
  }
  async get(url) {
    const res = await fetch(url, { headers: { cookie: this.header(), "CF-Connecting-IP": this.ip }, redirect: "manual" });
    this.take(res);
    return res;
  }
  async post(url, fields) {
    const res = await fetch(url, {
      method: "POST",
      headers: { cookie: this.header(), "Content-Type": "application/x-www-form-urlencoded", "CF-Connecting-IP": this.ip },
      body: new URLSearchParams(fields).toString(),
      redirect: "manual",
    });
    this.take(res);
    return res;
  }
}

const unescape = (s) => s.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");

/** The hidden fields of the page's first form posting to `action` (and containing `needle`). */
function formAt(html, action, needle = "") {
  for (const m of html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/g)) {
    if (!new RegExp(`\\baction="${action.replace(/[/.]/g, "\\$&")}"`).test(m[0].slice(0, m[0].indexOf(">") + 1))) continue;
    if (needle && !m[0].includes(needle)) continue;
    const fields = {};
    for (const input of m[0].matchAll(/<input\b[^>]*>/g)) {
      const attr = (n) => new RegExp(`\\b${n}="([^"]*)"`).exec(input[0])?.[1];
      if (attr("type") === "hidden") fields[attr("name")] = unescape(attr("value") ?? "");
    }
    return { html: m[0], fields };
  }
  return undefined;
}

/** The provider buttons of the /signin/start form: [{ value, text }]. */
const providerButtons = (formHtml) =>
  [...formHtml.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/g)]
    .filter((b) => /\bname="provider"/.test(b[1]))
    .map((b) => ({ value: /\bvalue="([^"]*)"/.exec(b[1])?.[1], text: b[2].replace(/<[^>]+>/g, "").replace(/\s+/g, " ").trim() }));

const errorKind = (html) => /<h1\b[^>]*\bdata-error="([^"]+)"/.exec(html)?.[1];

async function assertErrorPage(res, kind, status) {
  const html = await res.text();
  assert.ok(res.status < 500, `a ${res.status} for ${kind}: ${html.slice(0, 300)}`);
  assert.equal(res.status, status, `status for ${kind}: ${html.slice(0, 600)}`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(errorKind(html), kind, html.slice(0, 600));
  assert.equal(res.headers.get("location"), null);
  return html;
}

function assertSameTarget(w, actual, expected) {
  const a = new URL(actual, w.url);
  const b = new URL(expected, w.url);
  assert.equal(a.origin, new URL(w.url).origin, actual);
  assert.equal(a.pathname, b.pathname);
  assert.deepEqual([...a.searchParams].sort(), [...b.searchParams].sort());
}

const one = (w, sql, ...binds) => w.db.prepare(sql).bind(...binds).first();
const all = async (w, sql, ...binds) => (await w.db.prepare(sql).bind(...binds).all()).results;

/** Every row of every D1 table and every KV entry, as text. */
async function storedText(w) {
  const tables = await all(w, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND substr(name, 1, 4) <> '_cf_'");
  const bytes = (k, v) => (Array.isArray(v) && v.every((x) => typeof x === "number") ? Buffer.from(v).toString("latin1") : v);
  let out = "";
  for (const { name } of tables) out += `${name}: ${JSON.stringify(await all(w, `SELECT * FROM "${name}"`), bytes)}\n`;
  const kv = await w.mf.getKVNamespace("OAUTH_KV");
  for (const { name } of (await kv.list()).keys) out += `kv ${name}: ${await kv.get(name)}\n`;
  return out;
}

/** The Mcp-Signature header the app sends with a hand-off (`purpose` signed too). */
function sign(secret, raw, t = Math.floor(Date.now() / 1000), purpose = "handoff") {
  return `t=${t},v2=${createHmac("sha256", secret).update(`${t}.${purpose}.${raw}`).digest("base64url")}`;
}

/** The app's server-to-server POST /signin/handoff. `signature: null` sends none. */
async function handoff(w, body, { secret = ACME_SECRET, t, signature } = {}) {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const headers = { "Content-Type": "application/json" };
  if (signature !== null) headers["Mcp-Signature"] = signature ?? sign(secret, raw, t);
  const res = await fetch(w.url + "/signin/handoff", { method: "POST", headers, body: raw });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** /authorize for a new app in `browser`, then Continue with `provider`: the 303 to the app's login page. */
async function startHandoff(w, browser = new NetBrowser(), provider = "acme") {
  const client = await publicClient(w.url);
  const pkce = pkcePair();
  const url = authorizeUrl(w.url, client, { challenge: pkce.challenge });
  const page = await browser.get(url);
  const html = await page.text();
  assert.equal(page.status, 200, html.slice(0, 300));
  const start = formAt(html, "/signin/start");
  assert.ok(start, "a form posting to /signin/start:\n" + html.slice(0, 1500));
  const go = await browser.post(w.url + "/signin/start", { ...start.fields, provider });
  assert.equal(go.status, 303, (await go.text()).slice(0, 600));
  const location = new URL(go.headers.get("location"));
  const mcpRequest = location.searchParams.get("mcp_request");
  assert.ok(mcpRequest, location.toString());
  return { browser, client, pkce, url, start, location, mcpRequest };
}

/** Consent page → Approve → /token: the tokens and the person they are for. */
async function approveAndRedeem(w, browser, consent, client, pkce) {
  const html = await consent.text();
  assert.equal(consent.status, 200, html.slice(0, 600));
  assert.match(html, /Allow Test App to use your account\?/);
  const approved = await browser.post(w.url + "/authorize", { ...formFields(html), action: "approve" });
  assert.equal(approved.status, 302, (await approved.text()).slice(0, 300));
  const redirect = new URL(approved.headers.get("location"));
  const t = await token(w.url, {
    grant_type: "authorization_code",
    code: redirect.searchParams.get("code"),
    code_verifier: pkce.verifier,
    client_id: client.client_id,
    redirect_uri: client.redirect_uris[0],
    resource: w.url + "/mcp",
  });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  const { sub } = (await verifyIssued(w, t.body.access_token, { audience: w.url + "/mcp" })).payload;
  return { consentHtml: html, tokens: t.body, sub };
}

/** The whole hand-off for `who` ({ user_id, email, name }), to the consent page. */
async function signInByHandoff(w, who, opts = {}) {
  const s = await startHandoff(w, opts.browser, opts.provider);
  const done = await handoff(w, { request: s.mcpRequest, ...who }, { secret: opts.secret });
  assert.equal(done.status, 200, done.text);
  const back = await s.browser.get(done.json.redirect_to);
  return { ...s, done, back };
}

const isConsent = (html) => /Allow Test App to use your account\?/.test(html);

// ---------------------------------------------------------------------------------------
// The hand-off.

test("hand-off: Continue with Acme → the app's login page → the app's signed hand-off → the same browser signs in, approves, and uses /mcp", async () => {
  const s = await startHandoff(hw);
  // The page and the 303.
  assert.equal(s.location.origin + s.location.pathname, "https://app.example.com/mcp-signin");
  assert.equal(s.location.searchParams.get("from"), "mcp", "login_url's own query is kept");
  assert.match(s.mcpRequest, /^[A-Za-z0-9_-]{22,}$/, "an opaque, unguessable request id");
  const page = await s.browser.get(s.url);
  const start = formAt(await page.text(), "/signin/start");
  const buttons = providerButtons(start.html);
  assert.deepEqual(buttons.find((b) => b.value === "acme"), { value: "acme", text: "Continue with Acme" });
  assert.deepEqual(buttons.find((b) => b.value === "acmeonly"), { value: "acmeonly", text: "Continue with Acme Staff" });

  // The app, after the person signed in there.
  const done = await handoff(hw, { request: s.mcpRequest, user_id: "acme-42", email: "Quinn@App.example", name: "Quinn" });
  assert.equal(done.status, 200, done.text);
  assert.match(done.headers.get("content-type") ?? "", /^application\/json/);
  const to = new URL(done.json.redirect_to);
  assert.equal(to.origin + to.pathname, hw.url + "/signin/return");
  const code = to.searchParams.get("code");
  assert.ok(code && code !== s.mcpRequest, "a one-time code, not the request id");

  // The person's browser, sent there by the app.
  const back = await s.browser.get(done.json.redirect_to);
  assert.equal(back.status, 303, (await back.clone().text()).slice(0, 600));
  assertSameTarget(hw, back.headers.get("location"), s.start.fields.return_to);
  assert.ok(s.browser.cookies.has("mcp-session"));
  const consent = await s.browser.get(new URL(back.headers.get("location"), hw.url).toString());
  const { consentHtml, tokens, sub } = await approveAndRedeem(hw, s.browser, consent, s.client, s.pkce);
  assert.match(consentHtml, /Signed in as <strong>quinn@app\.example<\/strong>/i, "the app's email, trusted");

  const user = await one(hw, "SELECT * FROM users WHERE id = ?", sub);
  assert.equal(user.email.toLowerCase(), "quinn@app.example");
  assert.equal(user.name, "Quinn");
  assert.equal(user.password_hash, "");
  const ids = await all(hw, "SELECT * FROM identities WHERE user_id = ?", sub);
  assert.equal(ids.length, 1);
  assert.equal(ids[0].provider, "app:acme");
  assert.equal(ids[0].subject, "acme-42");
  const signIn = await all(hw, "SELECT detail FROM audit_events WHERE event = 'sign_in' AND user_id = ?", sub);
  assert.deepEqual(signIn.map((r) => r.detail), ["provider acme"]);
  const session = await initialize(hw.url, tokens.access_token);
  assert.ok(session.result.serverInfo, "/mcp answers with the token");

  // The same app user again (a changed email at the app): the same person.
  const again = await signInByHandoff(hw, { user_id: "acme-42", email: "quinn.new@app.example", name: "Quinn" });
  assert.equal(again.back.status, 303);
  const consent2 = await again.browser.get(new URL(again.back.headers.get("location"), hw.url).toString());
  const second = await approveAndRedeem(hw, again.browser, consent2, again.client, again.pkce);
  assert.equal(second.sub, sub);
  assert.equal((await storedText(hw)).includes(ACME_SECRET), false, "the shared secret is never stored");
});

test("hand-off signature: wrong secret, none, malformed, over another body, stale or future is 401 invalid_signature; the request still works after", async () => {
  const s = await startHandoff(hw);
  const body = JSON.stringify({ request: s.mcpRequest, user_id: "acme-sig", email: "sig@app.example", name: "Sig" });
  const now = Math.floor(Date.now() / 1000);
  const good = sign(ACME_SECRET, body, now);
  const cases = [
    ["signed with another secret", sign("not-the-secret", body, now)],
    ["no header", null],
    ["an empty header", ""],
    ["no v2", `t=${now}`],
    ["no t", good.replace(/^t=\d+,/, "")],
    ["v2 of another body", sign(ACME_SECRET, body.replace("acme-sig", "acme-admin"), now)],
    ["a changed t with the old v2", good.replace(`t=${now}`, `t=${now - 1}`)],
    ["stale: t 10 minutes ago", sign(ACME_SECRET, body, now - 600)],
    ["in the future: t in 10 minutes", sign(ACME_SECRET, body, now + 600)],
    ["hex instead of base64url", `t=${now},v2=${createHmac("sha256", ACME_SECRET).update(`${now}.handoff.${body}`).digest("hex")}`],
    // The purpose is signed: a password check's signature (which this Worker sends, and an
    // attacker may capture) is never a hand-off's, even under one secret.
    ["signed as a password check", sign(ACME_SECRET, body, now, "password_check")],
    // v1 signed no purpose, so it is refused outright.
    ["a v1 signature (no purpose)", `t=${now},v1=${createHmac("sha256", ACME_SECRET).update(`${now}.${body}`).digest("base64url")}`],
  ];
  for (const [label, signature] of cases) {
    const res = await handoff(hw, body, { signature });
    assert.equal(res.status, 401, `${label}: ${res.text}`);
    assert.equal(res.json?.error, "invalid_signature", `${label}: ${res.text}`);
  }
  // Signed with the secret of another hand-off provider: not this request's app.
  const foreign = await handoff(hw, body, { signature: sign(ACME_ONLY_SECRET, body, now) });
  assert.ok([400, 401].includes(foreign.status), foreign.text);
  assert.ok(["invalid_signature", "invalid_grant"].includes(foreign.json?.error), foreign.text);
  // A tampered body under the good signature.
  const tampered = await handoff(hw, body.replace("acme-sig", "acme-admin"), { signature: good });
  assert.equal(tampered.status, 401, tampered.text);
  assert.equal(tampered.json?.error, "invalid_signature");

  const ok = await handoff(hw, body, { signature: good });
  assert.equal(ok.status, 200, ok.text);
  const back = await s.browser.get(ok.json.redirect_to);
  assert.equal(back.status, 303);
  assert.equal(await one(hw, "SELECT * FROM identities WHERE subject = 'acme-admin'"), null);
});

test("hand-off: a malformed body is 400 invalid_request; an unknown or reused request is 400 invalid_grant", async () => {
  const s = await startHandoff(hw);
  for (const [label, raw] of [
    ["not JSON", "request=" + s.mcpRequest],
    ["no user_id", JSON.stringify({ request: s.mcpRequest, email: "x@app.example" })],
    ["no request", JSON.stringify({ user_id: "acme-x", email: "x@app.example" })],
    ["an array", JSON.stringify([s.mcpRequest])],
  ]) {
    const res = await handoff(hw, raw);
    assert.equal(res.status, 400, `${label}: ${res.text}`);
    assert.equal(res.json?.error, "invalid_request", `${label}: ${res.text}`);
  }
  const unknown = await handoff(hw, { request: "A".repeat(43), user_id: "acme-x", email: "x@app.example", name: "X" });
  assert.equal(unknown.status, 400, unknown.text);
  assert.equal(unknown.json?.error, "invalid_grant");

  const who = { request: s.mcpRequest, user_id: "acme-reuse", email: "reuse@app.example", name: "Reuse" };
  const first = await handoff(hw, who);
  assert.equal(first.status, 200, first.text);
  const second = await handoff(hw, who);
  assert.equal(second.status, 400, second.text);
  assert.equal(second.json?.error, "invalid_grant");
  const other = await handoff(hw, { ...who, user_id: "acme-someone-else" });
  assert.equal(other.json?.error, "invalid_grant", "a completed request cannot be completed again for someone else");
  // A request of another hand-off provider, signed with the secret of this one.
  const staff = await startHandoff(hw, new NetBrowser(), "acmeonly");
  const cross = await handoff(hw, { request: staff.mcpRequest, user_id: "acme-x", email: "x@app.example", name: "X" }, { secret: ACME_SECRET });
  assert.ok([400, 401].includes(cross.status), cross.text);
  assert.ok(["invalid_signature", "invalid_grant"].includes(cross.json?.error), cross.text);
});

test("hand-off: the return code in another browser is signin_expired; twice is signin_expired", async () => {
  const s = await startHandoff(hw);
  const done = await handoff(hw, { request: s.mcpRequest, user_id: "acme-r1", email: "r1@app.example", name: "R1" });
  assert.equal(done.status, 200, done.text);
  const elsewhere = new NetBrowser();
  const stolen = await elsewhere.get(done.json.redirect_to);
  await assertErrorPage(stolen, "signin_expired", 400);
  assert.equal(elsewhere.cookies.has("mcp-session"), false);
  const page = await elsewhere.get(s.url);
  assert.equal(isConsent(await page.text()), false, "the other browser is not signed in");

  const t = await signInByHandoff(hw, { user_id: "acme-r2", email: "r2@app.example", name: "R2" });
  assert.equal(t.back.status, 303);
  const twice = await t.browser.get(t.done.json.redirect_to);
  await assertErrorPage(twice, "signin_expired", 400);
  const forged = await t.browser.get(hw.url + "/signin/return?code=" + "B".repeat(43));
  await assertErrorPage(forged, "signin_expired", 400);
});

test("login CSRF: a hand-off the attacker started and the victim completed at the app signs no one in", async () => {
  // The attacker opens Continue with Acme in their own browser and sends the victim the
  // app's login link (with the attacker's mcp_request).
  const attacker = new NetBrowser();
  const s = await startHandoff(hw, attacker);
  // The victim signs in at the app, which completes the hand-off as the victim and sends
  // the victim's browser to redirect_to.
  const done = await handoff(hw, { request: s.mcpRequest, user_id: "acme-victim", email: "victim@app.example", name: "Victim" });
  assert.equal(done.status, 200, done.text);
  const victim = new NetBrowser();
  const res = await victim.get(done.json.redirect_to);
  await assertErrorPage(res, "signin_expired", 400);
  assert.equal(victim.cookies.has("mcp-session"), false);

  // The attacker's browser never gets the return code; what it has (the request id) is no
  // code, and its pages stay signed out.
  const guess = await attacker.get(`${hw.url}/signin/return?code=${encodeURIComponent(s.mcpRequest)}`);
  await assertErrorPage(guess, "signin_expired", 400);
  assert.equal(attacker.cookies.has("mcp-session"), false);
  const page = await attacker.get(new URL(s.start.fields.return_to, hw.url).toString());
  const html = await page.text();
  assert.equal(page.status, 200);
  assert.equal(isConsent(html), false, "the attacker's browser is not signed in as the victim");
  assert.ok(formAt(html, "/signin/start"), "it still shows the sign-in page");
  const account = await attacker.get(hw.url + "/account");
  assert.doesNotMatch(await account.text(), /victim@app\.example/);
  const victimRow = await one(hw, "SELECT id FROM users WHERE email = ?", "victim@app.example");
  if (victimRow) {
    assert.equal((await all(hw, "SELECT * FROM audit_events WHERE event = 'sign_in' AND user_id = ?", victimRow.id)).length, 0, "no sign-in as the victim happened");
  }
});

test("hand-off without allow: only people already here; link_by_email links the local person with that email", async () => {
  const local = await createUser(hw.db, "staffer@acme.example", "staffer-password-1", "Staffer");
  // Without the app vouching for the address, nothing is linked.
  const unvouched = await signInByHandoff(hw, { user_id: "staff-6", email: "Staffer@acme.example", name: "Staffer" }, { provider: "acmeonly", secret: ACME_ONLY_SECRET });
  await assertErrorPage(unvouched.back, "email_unverified", 403);
  assert.equal(await one(hw, "SELECT * FROM identities WHERE subject = 'staff-6'"), null);
  const linked = await signInByHandoff(hw, { user_id: "staff-7", email: "Staffer@acme.example", email_verified: true, name: "Staffer" }, { provider: "acmeonly", secret: ACME_ONLY_SECRET });
  assert.equal(linked.back.status, 303, (await linked.back.clone().text()).slice(0, 400));
  const consent = await linked.browser.get(new URL(linked.back.headers.get("location"), hw.url).toString());
  const { sub } = await approveAndRedeem(hw, linked.browser, consent, linked.client, linked.pkce);
  assert.equal(sub, local.id, "linked to the person with that email");
  const row = await one(hw, "SELECT * FROM identities WHERE provider = 'app:acmeonly' AND subject = 'staff-7'");
  assert.equal(row?.user_id, local.id);

  const stranger = await signInByHandoff(hw, { user_id: "staff-8", email: "stranger@acme.example", email_verified: true, name: "Stranger" }, { provider: "acmeonly", secret: ACME_ONLY_SECRET });
  await assertErrorPage(stranger.back, "no_access", 403);
  assert.equal(stranger.browser.cookies.has("mcp-session"), false);
  assert.equal(await one(hw, "SELECT id FROM users WHERE email = ?", "stranger@acme.example"), null);
});

test("link_by_email joins only people the operator added, never a person another provider created", async () => {
  // A person created through the Acme hand-off (which vouches for every address) ...
  const first = await signInByHandoff(hw, { user_id: "acme-made", email: "made@acme.example", name: "Made" });
  assert.equal(first.back.status, 303, (await first.back.clone().text()).slice(0, 400));
  const made = await one(hw, "SELECT id, password_hash FROM users WHERE email = ?", "made@acme.example");
  assert.equal(made.password_hash, "");
  // ... is not joined by the staff hand-off's link_by_email, even with a vouched address.
  const s = await signInByHandoff(hw, { user_id: "staff-made", email: "made@acme.example", email_verified: true, name: "Made" }, { provider: "acmeonly", secret: ACME_ONLY_SECRET });
  await assertErrorPage(s.back, "account_exists", 403);
  assert.equal(await one(hw, "SELECT * FROM identities WHERE subject = 'staff-made'"), null);
});

test("hand-off with the email of a local person, not linked (link_by_email off): account_exists", async () => {
  const local = await createUser(hw.db, "taken@app.example", "taken-password-1", "Taken");
  const s = await signInByHandoff(hw, { user_id: "acme-taken", email: "taken@app.example", name: "Not Taken" });
  await assertErrorPage(s.back, "account_exists", 403);
  assert.equal(s.browser.cookies.has("mcp-session"), false);
  assert.equal(await one(hw, "SELECT * FROM identities WHERE subject = 'acme-taken'"), null);
  assert.equal((await one(hw, "SELECT COUNT(*) AS n FROM identities WHERE user_id = ?", local.id)).n, 0);
});

// ---------------------------------------------------------------------------------------
// The password check.

/** /authorize in a new browser, then the sign-in form with `email` and `password`. */
async function passwordSignIn(w, email, password, browser = new NetBrowser()) {
  const client = await publicClient(w.url);
  const pkce = pkcePair();
  const url = authorizeUrl(w.url, client, { challenge: pkce.challenge });
  const page = await browser.get(url);
  const html = await page.text();
  assert.equal(page.status, 200, html.slice(0, 300));
  const form = formAt(html, "/authorize", 'name="password"');
  assert.ok(form, "the sign-in form with a password field:\n" + html.slice(0, 1500));
  const res = await browser.post(w.url + "/authorize", { ...form.fields, email, password, action: "signin" });
  return { browser, client, pkce, url, res };
}

const callsFor = (worker, email) => appCalls.filter((c) => c.worker === worker && c.body?.email?.toLowerCase() === email);
const alerts = (html) => [...html.matchAll(/<p id="form-error"[^>]*role="alert"[^>]*>([^<]*)<\/p>/g)].map((m) => m[1]);

test("password check: the form's email and password go to the app, signed; its 200 signs the person in", async () => {
  const password = "pat-app-Password-" + randomBytes(6).toString("hex");
  appAccounts.set("pat@app.example", { password, user_id: "app-user-1", name: "Pat" });
  const s = await passwordSignIn(pw, "Pat@App.example", password);
  assert.equal(s.res.status, 303, (await s.res.clone().text()).slice(0, 600));
  assertSameTarget(pw, s.res.headers.get("location"), s.url.slice(pw.url.length));

  const [call] = callsFor("pw", "pat@app.example");
  assert.ok(call, "the endpoint was called");
  assert.equal(call.method, "POST");
  assert.match(call.headers["content-type"] ?? "", /^application\/json/);
  assert.ok(call.signatureOk, "Mcp-Signature verifies over the raw body: " + call.headers["mcp-signature"]);
  assert.match(call.headers["mcp-signature"], /^t=\d+,v2=[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(Object.keys(call.body).sort(), ["email", "password"]);
  assert.equal(call.body.password, password);

  const consent = await s.browser.get(new URL(s.res.headers.get("location"), pw.url).toString());
  const { consentHtml, tokens, sub } = await approveAndRedeem(pw, s.browser, consent, s.client, s.pkce);
  assert.ok(consentHtml.includes("Signed in as <strong>pat@app.example</strong>"));
  const user = await one(pw, "SELECT * FROM users WHERE id = ?", sub);
  assert.equal(user.email, "pat@app.example");
  assert.equal(user.name, "Pat");
  assert.equal(user.password_hash, "");
  const id = await one(pw, "SELECT * FROM identities WHERE user_id = ?", sub);
  assert.equal(id.provider, "app:acmepw");
  assert.equal(id.subject, "app-user-1");
  const rows = await all(pw, "SELECT detail FROM audit_events WHERE event = 'sign_in' AND user_id = ?", sub);
  assert.deepEqual(rows.map((r) => r.detail), ["provider acmepw"]);
  await initialize(pw.url, tokens.access_token);

  assert.equal(pw.logs.join("\n").includes(password), false, "the password is not in the Worker's log");
  const stored = await storedText(pw);
  assert.equal(stored.includes(password), false, "the password is not in D1 or KV");
  assert.equal(stored.includes(PW_SECRET), false);
});

for (const refuse of [401, 403, 404]) {
  test(`password check: the app's ${refuse} is the form's "do not match" (401), recorded as a failed sign-in`, async () => {
    const email = `refused-${refuse}@app.example`;
    const wrong = `wrong-Password-${refuse}-` + randomBytes(4).toString("hex");
    appAccounts.set(email, { password: "the-right-one-" + refuse, user_id: "app-r" + refuse, name: "R", refuse });
    const s = await passwordSignIn(pw, email, wrong);
    const html = await s.res.text();
    assert.equal(s.res.status, 401, html.slice(0, 600));
    assert.deepEqual(alerts(html), [FAILED]);
    assert.equal(s.browser.cookies.has("mcp-session"), false);
    assert.equal(callsFor("pw", email).length, 1);
    const failed = await all(pw, "SELECT detail FROM audit_events WHERE event = 'sign_in_failed' AND detail LIKE 'provider acmepw%'");
    assert.ok(failed.length >= 1, "sign_in_failed 'provider acmepw: ...'");
    assert.equal(await one(pw, "SELECT id FROM users WHERE email = ?", email), null);
    assert.equal(pw.logs.join("\n").includes(wrong), false, "the password is not in the log");
    assert.equal((await storedText(pw)).includes(wrong), false, "the password is not in D1");
  });
}

test("password check: refusals count toward the lockout; once locked the app is not asked (429), even with the right password", async () => {
  const email = "locked@app.example";
  appAccounts.set(email, { password: "locked-right-password", user_id: "app-locked", name: "L" });
  const browser = new NetBrowser();
  const statuses = [];
  for (let i = 0; i < 3; i++) {
    const s = await passwordSignIn(pw, email, "locked-wrong-" + i, browser);
    statuses.push(s.res.status);
    await s.res.text();
  }
  assert.deepEqual(statuses.slice(0, 2), [401, 401]);
  assert.ok([401, 429].includes(statuses[2]), String(statuses[2]));
  assert.equal(callsFor("pw", email).length, 3);
  // From another network too: the account is locked.
  for (const b of [browser, new NetBrowser()]) {
    const s = await passwordSignIn(pw, email, "locked-right-password", b);
    const html = await s.res.text();
    assert.equal(s.res.status, 429, html.slice(0, 600));
    assert.match(html, /Too many failed sign-in attempts/);
  }
  assert.equal(callsFor("pw", email).length, 3, "a locked account's password never leaves the Worker");
});

for (const [label, fault] of [
  ["answers 500", 500],
  ["answers 502", 502],
  ["answers 200 with no JSON", "not-json"],
  ["cannot be reached", "unreachable"],
  ["is slower than timeout_ms", { delayMs: 5000 }],
]) {
  test(`password check: the app ${label} → the form's "not available right now" (503)`, async () => {
    const email = `down-${label.replace(/\W+/g, "-").toLowerCase()}@app.example`;
    const password = "down-Password-" + randomBytes(4).toString("hex");
    appAccounts.set(email, { password, user_id: "app-down-" + label, name: "D" });
    appFaults.set(email, fault);
    const started = Date.now();
    const s = await passwordSignIn(pw, email, password);
    const took = Date.now() - started;
    const html = await s.res.text();
    assert.equal(s.res.status, 503, html.slice(0, 600));
    assert.ok(html.includes(UNAVAILABLE), html.slice(0, 600));
    assert.equal(s.browser.cookies.has("mcp-session"), false);
    assert.equal(await one(pw, "SELECT id FROM users WHERE email = ?", email), null);
    if (fault.delayMs) assert.ok(took < 4800, `answered after ${took} ms: timeout_ms is 3000`);
    assert.equal(pw.logs.join("\n").includes(password), false);
  });
}

test("LOCAL_PASSWORDS=off with a password check: a local person's own password no longer signs in; the app decides", async () => {
  const local = await createUser(pw.db, "local@app.example", "local-Password-123", "Local");
  const s = await passwordSignIn(pw, local.email, local.password);
  const html = await s.res.text();
  assert.equal(s.res.status, 401, html.slice(0, 600));
  assert.deepEqual(alerts(html), [FAILED]);
  assert.equal(s.browser.cookies.has("mcp-session"), false);
  assert.equal(callsFor("pw", local.email).length, 1, "the app was asked, not the local password");
  assert.equal((await all(pw, "SELECT * FROM audit_events WHERE event = 'sign_in' AND user_id = ?", local.id)).length, 0);
});

test("a password the app accepts for an email a local person has (not linked) is account_exists", async () => {
  await createUser(pw.db, "dup@app.example", "dup-local-Password-1", "Dup");
  appAccounts.set("dup@app.example", { password: "dup-app-Password-1", user_id: "app-dup", name: "Dup at the app" });
  const s = await passwordSignIn(pw, "dup@app.example", "dup-app-Password-1");
  // The password form stays, saying why (403), as "account exists" does for the providers.
  const html = await s.res.text();
  assert.equal(s.res.status, 403, html.slice(0, 600));
  const said = alerts(html);
  assert.equal(said.length, 1, JSON.stringify(said));
  assert.match(said[0], /An account with this email already exists here, and it is not linked/);
  assert.equal(s.browser.cookies.has("mcp-session"), false);
  assert.equal(await one(pw, "SELECT * FROM identities WHERE subject = 'app-dup'"), null);
});

test("with LOCAL_PASSWORDS unset and a password check, a local password is checked here; other emails go to the app", async () => {
  const before = appCalls.filter((c) => c.worker === "hw").length;
  const s = await passwordSignIn(hw, DEMO.email, DEMO.password);
  assert.equal(s.res.status, 303, (await s.res.clone().text()).slice(0, 600));
  assert.equal(appCalls.filter((c) => c.worker === "hw").length, before, "the demo user's password was not sent to the app");
  appAccounts.set("viaapp@app.example", { password: "via-app-Password-1", user_id: "app-via", name: "Via" });
  const v = await passwordSignIn(hw, "viaapp@app.example", "via-app-Password-1");
  assert.equal(v.res.status, 303, (await v.res.clone().text()).slice(0, 600));
  assert.equal(callsFor("hw", "viaapp@app.example").length, 1);
  assert.ok(callsFor("hw", "viaapp@app.example")[0].signatureOk);
  const row = await one(hw, "SELECT * FROM identities WHERE provider = 'app:apppw' AND subject = 'app-via'");
  assert.ok(row, "an identity for the app's user");
});

test("DESIGN.md's own password_check entry (no name) is a valid SIGNIN_PROVIDERS", async () => {
  // The other Workers here give their password check a name; this one is the design's
  // example as written.
  const w = await startWorker({
    bindings: {
      LOCAL_PASSWORDS: "off",
      SIGNIN_PROVIDERS: JSON.stringify([
        { id: "acmepw", type: "password_check", url: CHECK_URL, shared_secret: { secret: "ACME_PW_SECRET" }, allow: { everyone: true }, emails_verified: true, timeout_ms: 3000 },
      ]),
      ACME_PW_SECRET: PW_SECRET,
    },
    outbound: appEndpoint("design", PW_SECRET),
  });
  try {
    const html = await (await fetch(w.url + "/account")).text();
    assert.deepEqual(w.logs.filter((l) => /providers not configured/.test(l)), []);
    assert.match(html, /name="password"/, "the password form, for the password check");
  } finally {
    await w.stop();
  }
});

// ---------------------------------------------------------------------------------------
// LOCAL_PASSWORDS=off without a password check; and unset.

test("LOCAL_PASSWORDS=off: no password form on the sign-in pages, only Continue with Acme", async () => {
  const client = await publicClient(off.url);
  const { challenge } = pkcePair();
  for (const url of [authorizeUrl(off.url, client, { challenge }), off.url + "/account"]) {
    const res = await new NetBrowser().get(url);
    const html = await res.text();
    assert.equal(res.status, 200, html.slice(0, 300));
    assert.doesNotMatch(html, /name="password"/, url);
    assert.doesNotMatch(html, /<button[^>]*value="signin"/, url);
    const start = formAt(html, "/signin/start");
    assert.ok(start, url);
    assert.deepEqual(providerButtons(start.html).map((b) => b.text), ["Continue with Acme"]);
  }
});

test("LOCAL_PASSWORDS=off: a forged sign-in POST with a local person's right password and a valid CSRF token is refused", async () => {
  await createUser(hw.db, "forged@example.com", "forged-Password-1", "F");
  const local = await createUser(off.db, "forged@example.com", "forged-Password-1", "F");
  // A CSRF token for this browser's cookie, from `hw` (the same signing key, passwords on):
  // posted there it signs in, so it is a valid token and only LOCAL_PASSWORDS can refuse it.
  const cookie = randomBytes(32).toString("base64url");
  const tokenFor = async () => {
    const b = new NetBrowser();
    b.cookies.set("mcp-csrf", cookie);
    const html = await (await b.get(hw.url + "/account")).text();
    return formAt(html, "/account", 'name="password"').fields.csrf_token;
  };
  const csrf = await tokenFor();
  const control = new NetBrowser();
  control.cookies.set("mcp-csrf", cookie);
  const there = await control.post(hw.url + "/account", { csrf_token: csrf, action: "signin", email: local.email, password: local.password });
  assert.equal(there.status, 303, "the forged form is valid where local passwords are on");

  const victim = new NetBrowser();
  victim.cookies.set("mcp-csrf", cookie);
  const res = await victim.post(off.url + "/account", { csrf_token: csrf, action: "signin", email: local.email, password: local.password });
  const html = await res.text();
  assert.ok(res.status >= 400 && res.status < 500, `${res.status}: ${html.slice(0, 400)}`);
  assert.equal(res.headers.get("location"), null);
  assert.equal(victim.cookies.has("mcp-session"), false);
  const account = await (await victim.get(off.url + "/account")).text();
  assert.doesNotMatch(account, /forged@example\.com/);
  assert.equal((await all(off, "SELECT * FROM audit_events WHERE event = 'sign_in' AND user_id = ?", local.id)).length, 0);

  // The same at /authorize, with the token of the page's own form there (its Cancel
  // button), or failing that the request's fields and the page's other token.
  const client = await publicClient(off.url);
  const { challenge } = pkcePair();
  const b = new NetBrowser();
  const url = authorizeUrl(off.url, client, { challenge });
  const page = await (await b.get(url)).text();
  const own = formAt(page, "/authorize")?.fields ?? { ...Object.fromEntries(new URL(url).searchParams), csrf_token: formAt(page, "/signin/start").fields.csrf_token };
  const forged = await b.post(off.url + "/authorize", { ...own, action: "signin", email: local.email, password: local.password });
  const forgedHtml = await forged.text();
  assert.ok(forged.status >= 400 && forged.status < 500, `${forged.status}: ${forgedHtml.slice(0, 400)}`);
  assert.equal(forged.headers.get("location"), null);
  assert.equal(b.cookies.has("mcp-session"), false);
  assert.equal(isConsent(await (await b.get(url)).text()), false);
});

test("LOCAL_PASSWORDS=off: Continue with Acme still signs in", async () => {
  const s = await signInByHandoff(off, { user_id: "acme-off-1", email: "offsite@app.example", name: "Off" });
  assert.equal(s.back.status, 303, (await s.back.clone().text()).slice(0, 400));
  const consent = await s.browser.get(new URL(s.back.headers.get("location"), off.url).toString());
  const { sub } = await approveAndRedeem(off, s.browser, consent, s.client, s.pkce);
  assert.equal((await one(off, "SELECT email FROM users WHERE id = ?", sub)).email, "offsite@app.example");
});

test("LOCAL_PASSWORDS unset: the demo user signs in with a password on the page that also offers the providers", async () => {
  const s = await passwordSignIn(hw, DEMO.email, DEMO.password);
  assert.equal(s.res.status, 303, (await s.res.clone().text()).slice(0, 600));
  const consent = await s.browser.get(new URL(s.res.headers.get("location"), hw.url).toString());
  const { consentHtml, sub } = await approveAndRedeem(hw, s.browser, consent, s.client, s.pkce);
  assert.ok(consentHtml.includes(`Signed in as <strong>${DEMO.email}</strong>`));
  const rows = await all(hw, "SELECT detail FROM audit_events WHERE event = 'sign_in' AND user_id = ?", sub);
  assert.ok(rows.length >= 1 && rows.every((r) => r.detail === "password"), JSON.stringify(rows));
  const page = await (await new NetBrowser().get(s.url)).text();
  assert.ok(formAt(page, "/signin/start"), "the providers' form is on the same page");
});

test("no password the app checked is in any Worker's log or D1", async () => {
  const passwords = [...appCalls.map((c) => c.body?.password).filter(Boolean)];
  assert.ok(passwords.length >= 5, String(passwords.length));
  for (const w of [hw, pw, off]) {
    const logs = w.logs.join("\n");
    const stored = await storedText(w);
    for (const p of passwords) {
      assert.equal(logs.includes(p), false, "a password in the log");
      assert.equal(stored.includes(p), false, "a password in D1");
    }
  }
});
