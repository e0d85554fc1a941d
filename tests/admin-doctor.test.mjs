// The connector doctor, /admin/doctor, end to end against the built Worker: connections
// broken on purpose with real HTTP (and the official MCP SDK client) each show, on their
// app's page, the step they stopped at and a cause an operator can act on: a wrong
// `resource`, a redirect URI the app never registered, an unknown scope, a wrong password,
// Cancel at consent, a wrong PKCE verifier, a code that is not valid, a wrong client
// secret, a foreign Origin at /mcp, an unknown refresh token, an upstream that is down, an
// access token sent after it expired; a good connection reads "Connected" with every step
// reached; requests naming no known app (and refused registrations) are listed under their
// own entry; the list's counts agree with each app's page, and at most 50 attempts of an
// app are kept a day. The page never holds a code, a
// token, a PKCE verifier or a password; only administrators see it. In headless Chromium
// it passes axe in light and dark and fits 320 px; the README's picture is taken here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, publicClient, register, approve, fullFlow, codeFor, exchange, pkcePair, authorizeUrl, token, Browser, formFields } from "./helpers/oauth.mjs";
import { modernCall } from "./helpers/mcp.mjs";
import { PersonProvider, connectSignedIn } from "./helpers/person-provider.mjs";
import { launchChromium, DEVICES, axeViolations, watchConsole } from "./helpers/chromium.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(here, "screenshots");
const README_SHOTS = path.join(here, "readme-images");
const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** What `Step::words` in src/doctor.rs says for each step of an attempt. */
const STEP = {
  authorize: "Authorization request (/authorize)",
  sign_in: "Sign-in",
  consent: "Consent",
  token: "Code exchanged for tokens (/token)",
  mcp: "MCP call (/mcp)",
  refresh: "Refresh (/token)",
};
const STEPS = Object.values(STEP);
const UNKNOWN = "Requests that named no app known here";
/** The access token's lifetime on `g`, and the leeway the Worker allows past it. */
const TTL = 5;
const LEEWAY = 30;

/** An address on 127.0.0.1 where nothing listens: connections to it are refused. */
async function refusingAddress() {
  const server = http.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return `127.0.0.1:${port}`;
}

// `w`: the connections of every case but two. `g`: an upstream that cannot be reached
// (UPSTREAMS "flaky", through a service binding to a port nobody listens on, as
// tests/gateway-outage.test.mjs makes it) and access tokens that live 5 seconds.
let w, g, chromium, alice, admin, member, gAdmin, gAlice;
/** Everything secret the connections used: none may appear on the doctor's pages. */
const secrets = new Map();
const keep = (what, value) => {
  assert.ok(value && value.length >= 8, `${what} is a real value`);
  secrets.set(what, value);
};
/** The apps of each case, by a name for the test. */
const apps = {};
let expiring;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  [w, g] = await Promise.all([
    startWorker(),
    startWorker({
      bindings: { UPSTREAMS: JSON.stringify([{ name: "flaky", service: "FLAKY", timeout_ms: 400 }]), ACCESS_TOKEN_TTL: String(TTL) },
      serviceBindings: { FLAKY: { external: { address: await refusingAddress(), http: {} } } },
    }),
  ]);
  alice = await createUser(w.db, "alice@example.com", "alice-password-1", "Alice");
  admin = await createUser(w.db, "admin@example.com", "admin-password-1", "Ada Admin");
  member = await createUser(w.db, "member@example.com", "member-password-1");
  gAlice = await createUser(g.db, "alice@example.com", "alice-password-1", "Alice");
  gAdmin = await createUser(g.db, "admin@example.com", "admin-password-1", "Ada Admin");
  for (const [on, p] of [[w, admin], [g, gAdmin]]) {
    await on.db.prepare("INSERT INTO user_roles (user_id, role, source, created_at) VALUES (?1, 'admin', 'operator', ?2)").bind(p.id, now()).run();
  }
  for (const p of [alice, admin, member]) keep(`${p.email}'s password`, p.password);
  // The token that will expire, made first so that its wait overlaps the other tests: an
  // app connects and makes one MCP call at once, then (in the last test) comes back late.
  const client = await publicClient(g.url, "http://127.0.0.1:9999/callback", { client_name: "Late Larry" });
  const flow = await fullFlow(g.url, gAlice, { client });
  assert.equal(flow.status, 200, JSON.stringify(flow.tokens));
  assert.equal(flow.tokens.expires_in, TTL);
  assert.equal((await modernCall(g.url, flow.tokens.access_token, "tools/list")).status, 200);
  expiring = { flow, issued: now() };
  keep("the expiring access token", flow.tokens.access_token);
  keep("the expiring refresh token", flow.tokens.refresh_token);
  keep("the expiring code", flow.code);
  keep("the expiring verifier", flow.verifier);
  chromium = await launchChromium();
});
after(async () => {
  await chromium?.close();
  await w?.stop();
  await g?.stop();
});

const h1 = (html) => /<h1[^>]*>(.*?)<\/h1>/s.exec(html)?.[1];
const dataError = (html) => /<h1 data-error="([^"]*)"/.exec(html)?.[1];
const unescape = (s) => s.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");

/** A browser signed in at /admin on `on` as `who`. */
async function atConsole(on, who) {
  const browser = new Browser();
  const signin = await browser.get(on.url + "/admin");
  const res = await browser.post(on.url + "/admin", { ...formFields(await signin.text()), action: "signin", email: who.email, password: who.password });
  assert.equal(res.status, 303, `${who.email} signs in to the console`);
  await res.text();
  return browser;
}
const consoles = new Map();
const adminOf = async (on) => {
  if (!consoles.has(on)) consoles.set(on, await atConsole(on, on === w ? admin : gAdmin));
  return consoles.get(on);
};

/** GET /admin/doctor (the list), or one app's page when `app` is given (even ""). */
async function doctor(on, app) {
  const browser = await adminOf(on);
  const query = app === undefined ? "" : "?" + new URLSearchParams({ app }).toString();
  const res = await browser.get(`${on.url}/admin/doctor${query}`);
  const html = await res.text();
  assert.equal(res.status, 200, html.slice(0, 400));
  assert.equal(h1(html), "Connector doctor");
  assertNoSecrets(html, `/admin/doctor${query}`);
  return html;
}

function assertNoSecrets(html, where) {
  for (const [what, value] of secrets) assert.ok(!html.includes(value), `${where} holds ${what}`);
}

/** The apps listed on the doctor's first page. */
function listedApps(html) {
  const list = /<ul class="apps" role="list">(.*?)<\/ul>/s.exec(html)?.[1] ?? "";
  return [...list.matchAll(/<li>\s*<h2><a href="([^"]*)">(.*?)<\/a><\/h2>\s*<p>(\d+) attempt\(s\) in the last day(?:, <strong class="problem">(\d+) stopped<\/strong>)?; last <time datetime="[^"]+">[^<]+<\/time>\.<\/p>\s*<p class="meta"><code>(.*?)<\/code><\/p>\s*<\/li>/gs)].map((m) => ({
    href: unescape(m[1]),
    name: unescape(m[2]),
    attempts: Number(m[3]),
    stopped: Number(m[4] ?? 0),
    clientId: unescape(m[5]),
  }));
}

/** One app's page: its name, client ID, own steps and attempts (each with its steps). */
function appPage(html) {
  const name = /<h2>(.*?)<\/h2>\s*<p class="meta">Client ID <code>(.*?)<\/code><\/p>/s.exec(html);
  assert.ok(name, "an app's page names the app");
  const list = /<ol class="apps" role="list">(.*)<\/ol>\s*<p class="hint">/s.exec(html)?.[1] ?? "";
  const attempts = [...list.matchAll(/<li>\s*<h3>(.*?)<\/h3>\s*<p class="meta">(.*?)<\/p>\s*(?:<p class="error">(.*?)<\/p>)?\s*<ol class="steps">(.*?)<\/ol>\s*<\/li>/gs)].map((m) => ({
    heading: unescape(m[1]),
    meta: unescape(m[2].replace(/<[^>]+>/g, "")),
    cause: m[3] === undefined ? null : unescape(m[3]),
    steps: [...m[4].matchAll(/<li(?: class="(stop|not)")?>(.*?)<\/li>/g)].map((s) => ({ cls: s[1] ?? "", text: unescape(s[2]) })),
  }));
  const own = [...(/<ul class="settings" role="list">(.*?)<\/ul>/s.exec(html)?.[1] ?? "").matchAll(/<li[^>]*>(.*?)<\/li>/g)].map((m) => unescape(m[1].replace(/<[^>]+>/g, "")));
  return { name: unescape(name[1]), clientId: unescape(name[2]), attempts, own, none: /No connection attempt of this app in the last day\./.test(html) };
}

const TIME = "\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} UTC";
/**
 * Asserts each step of `attempt`: `states` maps a step's words to "reached", "not", or
 * the stop's cause (a RegExp or string it starts with); steps not named are "not". Where
 * the attempt stopped, the step says "stopped here at <time>" and the cause is said once,
 * above the steps (p.error); a stop that a later step got past keeps its cause on its
 * line: "stopped at <time>: <cause>".
 */
function assertSteps(attempt, states, why) {
  assert.deepEqual(attempt.steps.map((s) => s.text.split(": ")[0]), STEPS, `${why}: every step of an attempt, in order`);
  for (const [i, words] of STEPS.entries()) {
    const s = attempt.steps[i];
    const want = states[words] ?? "not";
    if (want === "reached" && words === STEP.authorize) {
      // The authorization request's mark is of a request anyone can send, so it shares a
      // per-minute allowance (src/doctor.rs UNPROVEN_PER_MINUTE): when this test file has
      // used it up, the step reads as passed, inferred from the proven steps after it.
      assert.equal(s.cls, "", `${why}: ${words}`);
      assert.match(s.text, new RegExp(`^${escapeRe(words)}: (reached at ${TIME}|passed \\(a later step needed it; not recorded\\))$`), `${why}: ${words} reached or passed`);
    } else if (want === "reached") {
      assert.equal(s.cls, "", `${why}: ${words}`);
      assert.match(s.text, new RegExp(`^${escapeRe(words)}: reached at ${TIME}$`), `${why}: ${words} reached`);
    } else if (want === "passed") {
      assert.equal(s.cls, "", `${why}: ${words}`);
      assert.equal(s.text, `${words}: passed (a later step needed it; not recorded)`, `${why}: ${words} passed`);
    } else if (want === "not") {
      assert.equal(s.cls, "not", `${why}: ${words}`);
      assert.equal(s.text, `${words}: not reached`, `${why}: ${words} not reached`);
    } else {
      assert.equal(s.cls, "stop", `${why}: ${words} is where it stopped`);
      let cause;
      if (attempt.heading === `Stopped at ${words}`) {
        assert.match(s.text, new RegExp(`^${escapeRe(words)}: stopped here at ${TIME}$`), `${why}: the step where it stopped`);
        cause = attempt.cause;
      } else {
        const m = new RegExp(`^${escapeRe(words)}: stopped at ${TIME}: (.*)$`, "s").exec(s.text);
        assert.ok(m, `${why}: a stop got past keeps its cause on its line: ${s.text}`);
        cause = m[1];
      }
      assert.ok(cause, `${why}: a cause for ${words}`);
      if (want instanceof RegExp) assert.match(cause, want, `${why}: the cause`);
      else assert.ok(cause.startsWith(want), `${why}: the cause: ${cause}`);
    }
  }
}
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The one attempt of `app`'s page that stopped (asserting there is exactly one). */
async function stoppedAttempt(on, app, step, why) {
  const page = appPage(await doctor(on, app));
  const stopped = page.attempts.filter((a) => a.heading.startsWith("Stopped at "));
  assert.equal(stopped.length, 1, `${why}: one stopped attempt: ${JSON.stringify(page.attempts, null, 1)}`);
  assert.equal(stopped[0].heading, `Stopped at ${step}`, why);
  assert.ok(stopped[0].cause, `${why}: a cause in p.error`);
  return { page, attempt: stopped[0] };
}

const authorizeSteps = (cause) => ({ [STEP.authorize]: cause });
const throughConsent = { [STEP.authorize]: "reached", [STEP.sign_in]: "reached", [STEP.consent]: "reached" };

test("a good connection with the MCP SDK client reads Connected, with authorize, sign-in, consent, token and the MCP call reached", async () => {
  const provider = new PersonProvider(w.url, "http://127.0.0.1:33418/callback", alice, "Good SDK App");
  const client = await connectSignedIn(w.url, provider, "doctor-test");
  const { tools } = await client.listTools();
  assert.ok(tools.some((t) => t.name === "search"));
  await client.close();
  apps.good = provider.info.client_id;
  keep("the SDK's access token", provider.saved.access_token);
  keep("the SDK's refresh token", provider.saved.refresh_token);
  keep("the SDK's PKCE verifier", provider.verifier);
  keep("the SDK's code", provider.code);

  const page = appPage(await doctor(w, apps.good));
  assert.equal(page.name, "Good SDK App");
  assert.equal(page.clientId, apps.good);
  assert.equal(page.attempts.length, 1, JSON.stringify(page.attempts, null, 1));
  const [a] = page.attempts;
  assert.equal(a.heading, "Connected");
  assert.equal(a.cause, null, "no cause for a connection that works");
  assert.match(a.meta, new RegExp(`^Began ${TIME}, last step ${TIME} · alice@example\\.com$`), "the person, by email");
  assertSteps(a, { ...throughConsent, [STEP.token]: "reached", [STEP.mcp]: "reached" }, "the good connection");
  assert.equal(page.own.length, 1);
  assert.match(page.own[0], new RegExp(`^Registration \\(/register\\): ${TIME}$`), "the app's registration");

  // A refresh is reached too, and it stays Connected.
  const refreshed = await token(w.url, { grant_type: "refresh_token", refresh_token: provider.saved.refresh_token, client_id: apps.good });
  assert.equal(refreshed.status, 200);
  keep("the refreshed access token", refreshed.body.access_token);
  keep("the refreshed refresh token", refreshed.body.refresh_token);
  const after = appPage(await doctor(w, apps.good));
  assert.equal(after.attempts.length, 1);
  assert.equal(after.attempts[0].heading, "Connected");
  assertSteps(after.attempts[0], { ...throughConsent, [STEP.token]: "reached", [STEP.mcp]: "reached", [STEP.refresh]: "reached" }, "after a refresh");
});

test("a wrong resource at /authorize stops at the authorization request: the resource did not match", async () => {
  const client = await publicClient(w.url, "http://127.0.0.1:9999/callback", { client_name: "Wrong Resource App" });
  apps.resource = client.client_id;
  const { challenge } = pkcePair();
  const res = await new Browser().get(authorizeUrl(w.url, client, { challenge, resource: "https://elsewhere.example/mcp" }));
  const html = await res.text();
  assert.equal(res.status, 400, html.slice(0, 300));
  const { attempt } = await stoppedAttempt(w, apps.resource, STEP.authorize, "wrong resource");
  assert.ok(attempt.cause.startsWith("The resource did not match this server's MCP URL"), attempt.cause);
  assert.ok(attempt.cause.endsWith("(invalid_target)"), attempt.cause);
  assertSteps(attempt, authorizeSteps("The resource did not match"), "wrong resource");
});

test("an unregistered redirect URI stops at the authorization request, naming the URI and the registered ones", async () => {
  const client = await publicClient(w.url, "http://127.0.0.1:9999/callback", { client_name: "Broken <Redirect> & Co" });
  apps.redirect = client.client_id;
  const asked = "http://127.0.0.1:9999/other?next=<b>x</b>";
  const res = await new Browser().get(authorizeUrl(w.url, client, { challenge: pkcePair().challenge, redirectUri: asked }));
  const html = await res.text();
  assert.equal(res.status, 400);
  assert.equal(dataError(html), "unregistered_redirect");
  const raw = await doctor(w, apps.redirect);
  assert.ok(raw.includes("<h2>Broken &lt;Redirect&gt; &amp; Co</h2>"), "the app's name is escaped");
  assert.ok(!raw.includes("<b>x</b>"), "the URI asked for is escaped");
  const { attempt } = await stoppedAttempt(w, apps.redirect, STEP.authorize, "unregistered redirect");
  assert.equal(attempt.cause, `The redirect URI ${asked} is not one the app registered (it registered: http://127.0.0.1:9999/callback)`);
  assertSteps(attempt, authorizeSteps("The redirect URI "), "unregistered redirect");
});

test("an unknown scope stops at the authorization request: a scope asked for is unknown here", async () => {
  const client = await publicClient(w.url, "http://127.0.0.1:9999/callback", { client_name: "Greedy Scopes App" });
  apps.scope = client.client_id;
  const res = await new Browser().get(authorizeUrl(w.url, client, { challenge: pkcePair().challenge, scope: "mcp:read nuclear:launch" }));
  await res.text();
  assert.equal(res.status, 400);
  const { attempt } = await stoppedAttempt(w, apps.scope, STEP.authorize, "unknown scope");
  assert.ok(attempt.cause.startsWith("A scope asked for is unknown here or not allowed for this app"), attempt.cause);
  assert.match(attempt.cause, /nuclear:launch/, "the cause names the scope");
  assert.ok(attempt.cause.endsWith("(invalid_scope)"), attempt.cause);
  assertSteps(attempt, authorizeSteps("A scope asked for is unknown here"), "unknown scope");
});

test("a wrong PKCE verifier stops at /token: PKCE failed; the same app's next attempt reads Connected", async () => {
  const client = await publicClient(w.url, "http://127.0.0.1:9999/callback", { client_name: "Acme Desktop" });
  apps.pkce = client.client_id;
  const got = await codeFor(w, alice, client);
  const wrongVerifier = pkcePair().verifier;
  keep("the code", got.code);
  keep("the right verifier", got.verifier);
  keep("the wrong verifier", wrongVerifier);
  const res = await exchange(w, client, { code: got.code, verifier: wrongVerifier });
  assert.equal(res.status, 400);
  assert.equal(res.body.error, "invalid_grant");
  const { attempt } = await stoppedAttempt(w, apps.pkce, STEP.token, "wrong verifier");
  assert.ok(attempt.cause.startsWith("PKCE failed: the code_verifier does not match the challenge sent to /authorize"), attempt.cause);
  assertSteps(attempt, { ...throughConsent, [STEP.token]: "PKCE failed" }, "wrong verifier");
  assert.match(attempt.meta, /· alice@example\.com$/);

  // The app fixes itself: a new attempt goes all the way; the stopped one stays listed.
  const good = await fullFlow(w.url, alice, { client });
  assert.equal(good.status, 200);
  for (const [what, v] of [["code", good.code], ["verifier", good.verifier], ["access token", good.tokens.access_token], ["refresh token", good.tokens.refresh_token]]) keep(`Acme's second ${what}`, v);
  assert.equal((await modernCall(w.url, good.tokens.access_token, "tools/list")).status, 200);
  const page = appPage(await doctor(w, apps.pkce));
  assert.deepEqual(page.attempts.map((a) => a.heading).sort(), ["Connected", `Stopped at ${STEP.token}`]);
});

test("a code that is not valid stops at /token, an attempt of its own", async () => {
  const client = await publicClient(w.url, "http://127.0.0.1:9999/callback", { client_name: "Stale Code App" });
  apps.code = client.client_id;
  const mangled = "mangled-authorization-code-" + "x".repeat(20);
  keep("a mangled code", mangled);
  const res = await exchange(w, client, { code: mangled, verifier: pkcePair().verifier });
  assert.equal(res.status, 400);
  assert.equal(res.body.error, "invalid_grant");
  const { attempt } = await stoppedAttempt(w, apps.code, STEP.token, "a code that is not valid");
  assert.ok(attempt.cause.startsWith("The authorization code is not valid"), attempt.cause);
  assertSteps(attempt, { [STEP.token]: "The authorization code is not valid" }, "a code that is not valid");
});

test("a wrong password stops at sign-in; signing in again and going on clears the stop", async () => {
  const client = await publicClient(w.url, "http://127.0.0.1:9999/callback", { client_name: "Typo App" });
  apps.signin = client.client_id;
  const { verifier, challenge } = pkcePair();
  keep("the sign-in attempt's verifier", verifier);
  keep("a wrong password", "alice-wrong-password-9");
  const browser = new Browser();
  const first = await browser.get(authorizeUrl(w.url, client, { challenge }));
  const form = formFields(await first.text());
  const failed = await browser.post(w.url + "/authorize", { ...form, email: alice.email, password: "alice-wrong-password-9", action: "signin" });
  const failedHtml = await failed.text();
  assert.equal(failed.status, 401);
  const { attempt } = await stoppedAttempt(w, apps.signin, STEP.sign_in, "a wrong password");
  assert.equal(attempt.cause, "The email or password was not right (or the account is disabled)");
  assertSteps(attempt, { [STEP.authorize]: "reached", [STEP.sign_in]: "The email or password was not right" }, "a wrong password");

  // The person types it right, allows the app, and the app exchanges the code.
  const again = await browser.post(w.url + "/authorize", { ...formFields(failedHtml), email: alice.email, password: alice.password, action: "signin" });
  assert.equal(again.status, 303);
  const consent = await browser.get(new URL(again.headers.get("location"), w.url).toString());
  const allowed = await browser.post(w.url + "/authorize", { ...formFields(await consent.text()), action: "approve" });
  assert.equal(allowed.status, 302);
  const code = new URL(allowed.headers.get("location")).searchParams.get("code");
  keep("the sign-in attempt's code", code);
  const page = appPage(await doctor(w, apps.signin));
  assert.equal(page.attempts.length, 1);
  assert.equal(page.attempts[0].heading, `Last reached: ${STEP.consent}`);
  assert.equal(page.attempts[0].cause, null, "no stop once the sign-in went through");
  assertSteps(page.attempts[0], throughConsent, "signed in the second time");
  const exchanged = await exchange(w, client, { code, verifier });
  assert.equal(exchanged.status, 200);
  keep("the sign-in attempt's access token", exchanged.body.access_token);
  keep("the sign-in attempt's refresh token", exchanged.body.refresh_token);
  assert.equal(appPage(await doctor(w, apps.signin)).attempts[0].heading, `Last reached: ${STEP.token}`);
});

let reload;
test("a wrong password, and the person gives up: stopped at sign-in, on the list and on the app's page", async () => {
  const client = await publicClient(w.url, "http://127.0.0.1:9999/callback", { client_name: "Reload App" });
  apps.reload = client.client_id;
  const url = authorizeUrl(w.url, client, { challenge: pkcePair().challenge });
  const browser = new Browser();
  const first = await browser.get(url);
  const failed = await browser.post(w.url + "/authorize", { ...formFields(await first.text()), email: alice.email, password: "alice-wrong-password-9", action: "signin" });
  await failed.text();
  assert.equal(failed.status, 401);
  reload = { url, browser, at: now() };
  await assertReloadStopped("after a wrong password");
});

/** The Reload App's attempt stopped at sign-in, on its page and counted so on the list. */
async function assertReloadStopped(why) {
  const { attempt } = await stoppedAttempt(w, apps.reload, STEP.sign_in, why);
  assert.equal(attempt.cause, "The email or password was not right (or the account is disabled)");
  assertSteps(attempt, { [STEP.authorize]: "reached", [STEP.sign_in]: "The email or password was not right" }, why);
  const entry = listedApps(await doctor(w)).find((a) => a.clientId === apps.reload);
  assert.ok(entry, "listed");
  // (Its attempts count is the list test's concern: the registration is counted there.)
  assert.equal(entry.stopped, 1, `${why}: the list's "stopped" for an attempt its page shows as stopped: ${JSON.stringify(entry)}`);
}

test("Cancel on the consent page stops at consent", async () => {
  const client = await publicClient(w.url, "http://127.0.0.1:9999/callback", { client_name: "Declined App" });
  apps.consent = client.client_id;
  const res = await approve(w.url, new Browser(), authorizeUrl(w.url, client, { challenge: pkcePair().challenge }), alice, "deny");
  assert.equal(res.status, 302);
  assert.equal(new URL(res.headers.get("location")).searchParams.get("error"), "access_denied");
  const { attempt } = await stoppedAttempt(w, apps.consent, STEP.consent, "Cancel");
  assert.equal(attempt.cause, "The person chose Cancel: they did not allow the app");
  assertSteps(attempt, { [STEP.authorize]: "reached", [STEP.sign_in]: "reached", [STEP.consent]: "The person chose Cancel" }, "Cancel");
});

test("a confidential app with a wrong secret stops at /token: its client secret is wrong", async () => {
  const reg = await register(w.url, { redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "client_secret_basic", client_name: "Secretive App" });
  assert.equal(reg.status, 201);
  apps.secret = reg.body.client_id;
  keep("the app's client secret", reg.body.client_secret);
  const got = await codeFor(w, alice, reg.body);
  keep("the secret app's code", got.code);
  keep("the secret app's verifier", got.verifier);
  const res = await token(w.url, { grant_type: "authorization_code", code: got.code, code_verifier: got.verifier, redirect_uri: "https://app.example/cb" }, { Authorization: "Basic " + Buffer.from(`${apps.secret}:not-the-secret`).toString("base64") });
  assert.equal(res.status, 401);
  assert.equal(res.body.error, "invalid_client");
  const { page, attempt } = await stoppedAttempt(w, apps.secret, STEP.token, "a wrong client secret");
  assert.equal(attempt.cause, "The app's client secret is wrong or missing: an old secret, or one copied wrongly (invalid_client)");
  assert.equal(attempt.steps.find((s) => s.cls === "stop")?.text.split(": ")[0], STEP.token);
  // The authorization it came from is its own attempt (the refusal comes before the code is read).
  assert.deepEqual(page.attempts.map((a) => a.heading).sort(), [`Last reached: ${STEP.consent}`, `Stopped at ${STEP.token}`]);
});

test("a call to /mcp from a web page's Origin stops at the MCP call, naming the origin", async () => {
  const flow = await fullFlow(w.url, alice, { client: await publicClient(w.url, "http://127.0.0.1:9999/callback", { client_name: "Web Page App" }) });
  apps.origin = flow.client.client_id;
  for (const v of [flow.code, flow.verifier, flow.tokens.access_token, flow.tokens.refresh_token]) keep(`the web page app's ${v.slice(0, 4)}`, v);
  const res = await modernCall(w.url, flow.tokens.access_token, "tools/list", {}, { headers: { Origin: "https://evil.example" } });
  assert.equal(res.status, 403);
  const { attempt } = await stoppedAttempt(w, apps.origin, STEP.mcp, "a foreign Origin");
  assert.ok(attempt.cause.startsWith("The request came from a web page at https://evil.example, which may not call /mcp"), attempt.cause);
  assert.match(attempt.cause, /MCP_ALLOWED_ORIGINS/);
  assertSteps(attempt, { ...throughConsent, [STEP.token]: "reached", [STEP.mcp]: "The request came from a web page" }, "a foreign Origin");
});

test("a refresh token this server does not know stops at the refresh", async () => {
  const client = await publicClient(w.url, "http://127.0.0.1:9999/callback", { client_name: "Forgetful App" });
  apps.refresh = client.client_id;
  const made = "made-up-refresh-token-" + "r".repeat(24);
  keep("a made-up refresh token", made);
  const res = await token(w.url, { grant_type: "refresh_token", refresh_token: made, client_id: client.client_id });
  assert.equal(res.status, 400);
  assert.equal(res.body.error, "invalid_grant");
  const { attempt } = await stoppedAttempt(w, apps.refresh, STEP.refresh, "an unknown refresh token");
  assert.ok(attempt.cause.startsWith("The refresh token is not known here"), attempt.cause);
  assertSteps(attempt, { [STEP.refresh]: "The refresh token is not known here" }, "an unknown refresh token");
});

test("a refused registration is listed under the requests that named no app, stopped at registration", async () => {
  const r = await register(g.url, { redirect_uris: ["ftp://files.example/cb"], token_endpoint_auth_method: "none", client_name: "FTP App" });
  assert.equal(r.status, 400);
  assert.equal(r.body.error, "invalid_redirect_uri");
  const unknown = listedApps(await doctor(g)).find((a) => a.name === UNKNOWN);
  assert.ok(unknown, "the unknown apps' entry");
  assert.equal(unknown.stopped, 1);
  const page = appPage(await doctor(g, ""));
  assert.equal(page.attempts.length, 1);
  const [a] = page.attempts;
  assert.equal(a.heading, "Stopped at Registration (/register)");
  assert.ok(a.cause.startsWith("Registration was refused: "), a.cause);
  assert.match(a.cause, /ftp:\/\/files\.example\/cb \(invalid_redirect_uri\)$/);
  // Where it stopped is among the attempt's steps, as for every other stop.
  assert.ok(
    a.steps.some((s) => s.cls === "stop" && s.text.startsWith("Registration (/register): stopped here at ")),
    `the step list shows the registration that stopped: ${JSON.stringify(a.steps.map((s) => s.text))}`,
  );
});

test("at most 50 attempts of one app are kept a day, as the page says", async () => {
  const client = await publicClient(g.url, "http://127.0.0.1:9999/callback", { client_name: "Retry Loop App" });
  // The refusals are marks of requests anyone can send: an isolate writes at most 60 of
  // them a minute (src/doctor.rs UNPROVEN_PER_MINUTE), so the 55 go in a fresh minute.
  await sleep((61 - (now() % 60)) * 1000);
  for (let i = 0; i < 55; i++) {
    const res = await fetch(authorizeUrl(g.url, client, { challenge: pkcePair().challenge, scope: "bogus:scope" }), { redirect: "manual" });
    await res.text();
    assert.equal(res.status, 400);
  }
  const html = await doctor(g);
  assert.match(html, /at most 50 per app/);
  const page = appPage(await doctor(g, client.client_id));
  const entry = listedApps(html).find((a) => a.clientId === client.client_id);
  assert.deepEqual(
    { listed: entry.attempts, stopped: entry.stopped, shown: page.attempts.length },
    { listed: 50, stopped: 50, shown: 50 },
    "50 attempts kept (the registration is not one of them), all stopped",
  );
});

test("an unknown client_id (and none) at /authorize is listed under the requests that named no app known here", async () => {
  const fake = { client_id: "no-such-app-7f3a", redirect_uris: ["http://127.0.0.1:9999/callback"] };
  const res = await new Browser().get(authorizeUrl(w.url, fake, { challenge: pkcePair().challenge }));
  const html = await res.text();
  assert.equal(res.status, 400);
  assert.equal(dataError(html), "unknown_client");
  const none = await new Browser().get(w.url + "/authorize?response_type=code&code_challenge_method=S256&code_challenge=" + pkcePair().challenge);
  await none.text();
  assert.equal(none.status, 400);

  const list = listedApps(await doctor(w));
  const unknown = list.find((a) => a.name === UNKNOWN);
  assert.ok(unknown, JSON.stringify(list, null, 1));
  assert.equal(unknown.href, "/admin/doctor?app=");
  assert.equal(unknown.clientId, "");
  assert.equal(unknown.stopped, 2);
  assert.ok(!list.some((a) => a.clientId === fake.client_id), "a made-up client ID gets no entry of its own");

  const page = appPage(await doctor(w, ""));
  assert.equal(page.name, UNKNOWN);
  assert.equal(page.clientId, "none");
  assert.equal(page.attempts.length, 2, JSON.stringify(page.attempts, null, 1));
  for (const a of page.attempts) assert.equal(a.heading, `Stopped at ${STEP.authorize}`);
  const causes = page.attempts.map((a) => a.cause).sort();
  assert.equal(causes[0], "/authorize was opened without a client_id");
  assert.ok(causes[1].startsWith("The client ID no-such-app-7f3a is not known here"), causes[1]);
  for (const a of page.attempts) assertSteps(a, authorizeSteps(a.cause), "an unknown app");
  // A client ID with no marks: its page says so.
  const quiet = appPage(await doctor(w, "never-seen-anywhere"));
  assert.equal(quiet.name, "An app no longer known");
  assert.ok(quiet.none);
});

test("the list names each app that tried, links its page, and counts its attempts and stops", async () => {
  // An app that registered and never came back.
  const quiet = await publicClient(w.url, "http://127.0.0.1:9999/callback", { client_name: "Registered Only" });
  apps.quiet = quiet.client_id;
  const html = await doctor(w);
  const list = listedApps(html);
  const entry = (id) => {
    const e = list.find((a) => a.clientId === id);
    assert.ok(e, `an entry for ${id}: ${JSON.stringify(list, null, 1)}`);
    assert.equal(e.href, `/admin/doctor?${new URLSearchParams({ app: id })}`);
    return e;
  };
  const names = { good: "Good SDK App", resource: "Wrong Resource App", redirect: "Broken <Redirect> & Co", scope: "Greedy Scopes App", pkce: "Acme Desktop", code: "Stale Code App", quiet: "Registered Only" };
  const stops = { good: 0, resource: 1, redirect: 1, scope: 1, pkce: 1, code: 1, quiet: 0 };
  for (const [key, name] of Object.entries(names)) {
    const e = entry(apps[key]);
    assert.equal(e.name, name, key);
    assert.equal(e.stopped, stops[key], `${key}: attempts that stopped`);
  }
  assert.ok(html.includes("Broken &lt;Redirect&gt; &amp; Co"));
  // The count on the list is the number of attempts the app's page shows (its
  // registration is not an attempt: the page leaves it out of the attempts).
  const counts = [];
  for (const key of Object.keys(names)) {
    const page = appPage(await doctor(w, apps[key]));
    counts.push([key, entry(apps[key]).attempts, page.attempts.length]);
  }
  assert.ok(appPage(await doctor(w, apps.quiet)).none, "the app that only registered has no attempt on its page");
  assert.deepEqual(
    counts.map(([key, listed]) => [key, listed]),
    counts.map(([key, , shown]) => [key, shown]),
    "attempt(s) in the last day on the list = the attempts on the app's page",
  );
});

test("no page of the doctor holds a code, a token, a PKCE verifier or a password, nor does its table", async () => {
  const pages = [await doctor(w), await doctor(w, "")];
  for (const id of Object.values(apps)) pages.push(await doctor(w, id));
  assert.ok(secrets.size >= 15, `${secrets.size} secrets checked`);
  for (const html of pages) assertNoSecrets(html, "a doctor page");
  for (const on of [w, g]) {
    const rows = JSON.stringify((await on.db.prepare("SELECT * FROM connection_steps").all()).results);
    for (const [what, value] of secrets) assert.ok(!rows.includes(value), `connection_steps holds ${what}`);
  }
});

test("without a session /admin/doctor is the sign-in form; without the admin role it is 403", async () => {
  const stranger = new Browser();
  for (const q of ["", `?app=${apps.pkce}`, "?app="]) {
    const res = await stranger.get(`${w.url}/admin/doctor${q}`);
    const html = await res.text();
    assert.equal(res.status, 200, q);
    assert.equal(h1(html), "Sign in to the console", q);
    assert.doesNotMatch(html, /Connector doctor|PKCE/, q);
  }
  const m = await atConsole(w, member);
  for (const q of ["", `?app=${apps.pkce}`, "?app="]) {
    const res = await m.get(`${w.url}/admin/doctor${q}`);
    const html = await res.text();
    assert.equal(res.status, 403, q);
    assert.equal(dataError(html), "admin_only", q);
    assert.ok(!html.includes(apps.pkce) && !html.includes("PKCE") && !html.includes("Acme Desktop"), q);
  }
});

test("an upstream that is down, met by the MCP SDK client, stops at the MCP call naming the upstream", async () => {
  const provider = new PersonProvider(g.url, "http://127.0.0.1:33419/callback", gAlice, "Gateway Client");
  const client = await connectSignedIn(g.url, provider, "doctor-outage");
  const result = await client.callTool({ name: "flaky_echo", arguments: { text: "hello" } });
  assert.equal(result.isError, true, JSON.stringify(result));
  assert.match(result.content[0].text, /The upstream 'flaky' cannot be reached\./);
  await client.close();
  keep("the gateway client's access token", provider.saved.access_token);
  keep("the gateway client's refresh token", provider.saved.refresh_token);
  keep("the gateway client's verifier", provider.verifier);
  const { attempt } = await stoppedAttempt(g, provider.info.client_id, STEP.mcp, "an upstream that is down");
  assert.match(attempt.cause, /The upstream 'flaky' (was down when one of its tools was called \(unreachable\)|was left out of a list)/, attempt.cause);
  assertSteps(attempt, { ...throughConsent, [STEP.token]: "reached", [STEP.mcp]: /The upstream 'flaky' (was down|was left out of a list)/ }, "an upstream that is down");
  const entry = listedApps(await doctor(g)).find((a) => a.clientId === provider.info.client_id);
  assert.equal(entry?.name, "Gateway Client");
  assert.equal(entry.stopped, 1);
});

/** A fresh browser profile on `device` whose console errors and CSP reports are kept. */
async function open(device) {
  const context = await chromium.newContext({ ...device.options });
  const page = await context.newPage();
  return { context, page, problems: watchConsole(page) };
}

/** axe in light and dark, one h1, no sideways scroll at 320 px, and a screenshot. */
async function inspect(page, name, device) {
  assert.deepEqual(await axeViolations(page), [], `axe, light, ${name} on ${device.name}`);
  await page.emulateMedia({ colorScheme: "dark" });
  assert.deepEqual(await axeViolations(page), [], `axe, dark, ${name} on ${device.name}`);
  await page.emulateMedia({ colorScheme: "light" });
  assert.equal(await page.locator("h1").count(), 1, `one h1 on ${name}`);
  await page.screenshot({ path: path.join(SHOTS, `${name}-${device.name}.png`), fullPage: true });
  const size = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 640 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 320, `${name} is ${width}px wide at 320 px`);
  await page.setViewportSize(size);
}

async function signInAs(page, p) {
  await page.goto(w.url + "/admin/doctor");
  await page.getByRole("heading", { level: 1, name: "Sign in to the console" }).waitFor();
  for (const [label, text] of [["Email", p.email], ["Password", p.password]]) {
    await page.getByLabel(label, { exact: true }).click();
    await page.keyboard.type(text);
  }
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
}

for (const device of DEVICES) {
  test(`in Chromium the doctor's pages pass axe in light and dark and fit 320 px (${device.name})`, async () => {
    const { context, page, problems } = await open(device);
    await signInAs(page, admin);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Doctor" }).click();
    await page.getByRole("heading", { level: 1, name: "Connector doctor" }).waitFor();
    assert.ok((await page.locator("ul.apps > li").count()) >= 8);
    await inspect(page, "console-doctor-apps", device);
    await page.getByRole("link", { name: "Acme Desktop" }).click();
    await page.getByRole("heading", { level: 2, name: "Acme Desktop" }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get("app"), apps.pkce);
    await page.getByRole("heading", { level: 3, name: `Stopped at ${STEP.token}` }).waitFor();
    assert.match(await page.locator("p.error").first().innerText(), /^PKCE failed/);
    await inspect(page, "console-doctor-app", device);
    await page.goto(w.url + "/admin/doctor?app=" + apps.redirect);
    await inspect(page, "console-doctor-redirect", device);
    await page.goto(w.url + "/admin/doctor?app=");
    await page.getByRole("heading", { level: 2, name: UNKNOWN }).waitFor();
    await inspect(page, "console-doctor-unknown", device);
    if (device === DEVICES[0]) {
      // The README's picture: this run's client ID and times would change it every run.
      await page.goto(w.url + "/admin/doctor?app=" + apps.pkce);
      await page.locator("main").evaluate((main, id) => {
        const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          n.textContent = n.textContent.replaceAll(id, "d2hhdC1hLWNsaWVudC1pZC1sb29rcy1saWtlLWhlcmU").replace(/\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/g, "2026-12-07 09:41 UTC");
        }
      }, apps.pkce);
      mkdirSync(README_SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(README_SHOTS, "console-doctor.png"), fullPage: true });
    }
    assert.deepEqual(problems, [], "console errors or CSP violations");
    await context.close();
  });
}

test("an access token sent after it expired stops at the MCP call: the access token expired; a refresh then recovers", async () => {
  // Past the token's lifetime and the Worker's leeway for clock skew.
  const wait = (expiring.issued + TTL + LEEWAY + 2 - now()) * 1000;
  if (wait > 0) await sleep(wait);
  const { flow } = expiring;
  const late = await modernCall(g.url, flow.tokens.access_token, "tools/list");
  assert.equal(late.status, 401, late.text);
  const { attempt } = await stoppedAttempt(g, flow.client.client_id, STEP.mcp, "an expired access token");
  // No changing number in the cause (the same cause is one row, moved): the row's time
  // says when.
  assert.match(attempt.cause, /^The access token had expired and the app sent it anyway instead of refreshing it/);
  assertSteps(attempt, { ...throughConsent, [STEP.token]: "reached", [STEP.mcp]: "The access token had expired" }, "an expired access token");
  // The app refreshes, as it should have: the attempt reads Connected again.
  const refreshed = await token(g.url, { grant_type: "refresh_token", refresh_token: flow.tokens.refresh_token, client_id: flow.client.client_id });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  keep("the late app's new access token", refreshed.body.access_token);
  keep("the late app's new refresh token", refreshed.body.refresh_token);
  const page = appPage(await doctor(g, flow.client.client_id));
  assert.equal(page.attempts.length, 1);
  assert.equal(page.attempts[0].heading, "Connected");
  assert.equal(page.attempts[0].cause, null);
  assertSteps(page.attempts[0], { ...throughConsent, [STEP.token]: "reached", [STEP.mcp]: "The access token had expired", [STEP.refresh]: "reached" }, "after the refresh");
});

test("a wrong password, then the sign-in page reloaded later: the list still counts the attempt as stopped, as its page shows it", async () => {
  // Over a minute later (a repeat of the same mark within a minute is not written again),
  // the person opens the app's authorization URL again, and gives up again.
  const wait = (reload.at + 62 - now()) * 1000;
  if (wait > 0) await sleep(wait);
  const again = await reload.browser.get(reload.url);
  await again.text();
  assert.equal(again.status, 200);
  await assertReloadStopped("after a reload a minute later");
});

// Last in the file: it spends the day's budget of unproven marks for this Worker's isolate.
test("marks of requests anyone can send: a repeat is one row, and past the day's budget none is kept, while proven marks still are", async () => {
  const client = await publicClient(w.url, "http://127.0.0.1:9999/callback", { client_name: "Budget App" });
  // The attempts' rows (the registration is the app's own, not an attempt).
  const rows = async () => (await w.db.prepare("SELECT step, cause, proven FROM connection_steps WHERE client_id = ? AND attempt <> 'app' ORDER BY id").bind(client.client_id).all()).results;
  const refuse = async (challenge) => {
    const res = await fetch(authorizeUrl(w.url, client, { challenge, scope: "bogus:scope" }), { redirect: "manual" });
    await res.text();
    assert.equal(res.status, 400);
  };
  // The same refusal of the same attempt twice, more than a minute apart in the isolate's
  // memory or not: one row, never moved (an unproven mark is never a write once there).
  const challenge = pkcePair().challenge;
  await refuse(challenge);
  const before = await w.db.prepare("SELECT COALESCE(MAX(n), 0) AS n FROM doctor_budget").first();
  await refuse(challenge);
  const after = await w.db.prepare("SELECT COALESCE(MAX(n), 0) AS n FROM doctor_budget").first();
  assert.deepEqual((await rows()).map((r) => [r.step, r.proven]), [["authorize", 0]]);
  assert.equal(after.n, before.n, "a repeat takes nothing from the budget");

  // Today's budget spent: a new refusal is not kept.
  const day = Math.floor(now() / 86_400);
  await w.db.prepare("INSERT INTO doctor_budget (day, n) VALUES (?1, 5000) ON CONFLICT(day) DO UPDATE SET n = 5000").bind(day).run();
  await refuse(pkcePair().challenge);
  await refuse(pkcePair().challenge);
  assert.equal((await rows()).length, 1, "unproven marks past the budget are dropped");
  assert.equal((await w.db.prepare("SELECT n FROM doctor_budget WHERE day = ?").bind(day).first()).n, 5000, "and the budget does not grow past it");

  // A proven mark is kept all the same: a code this server issued, exchanged with the
  // wrong verifier, stops at /token, and the steps before it read as passed or reached.
  const got = await codeFor(w, alice, client);
  const res = await exchange(w, client, { code: got.code, verifier: pkcePair().verifier });
  assert.equal(res.status, 400);
  const kept = await rows();
  assert.ok(kept.some((r) => r.step === "token" && r.proven === 1 && r.cause?.startsWith("PKCE failed")), JSON.stringify(kept));
  const page = appPage(await doctor(w, client.client_id));
  const attempt = page.attempts.find((a) => a.heading === `Stopped at ${STEP.token}`);
  assert.ok(attempt, JSON.stringify(page.attempts, null, 1));
  assert.ok(attempt.cause.startsWith("PKCE failed"), attempt.cause);
});
