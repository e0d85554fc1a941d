// The operator console's first page, /admin, end to end against the built Worker: the
// sign-in form without a session, the 403 page for a person without the `admin` role (an
// expired provider role is no role; `npm run user -- role add` gives it), the overview's
// settings, keys, counts and charts against what the test made, the refusal of cross-site
// and CSRF-less posts, and Sign out. In headless Chromium, typed into and clicked as a
// person would (and once with the keyboard alone), each page is checked with axe-core in
// light and dark and for sideways scroll at 320 px; the README's picture of the overview
// is taken here, as tests/pages.test.mjs takes its own.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { startWorker, localState, newSigningKey } from "./helpers/worker.mjs";
import { runNode } from "./helpers/process.mjs";
import { createUser, publicClient, fullFlow, token, Browser, formFields } from "./helpers/oauth.mjs";
import { launchChromium, DEVICES, axeViolations, watchConsole } from "./helpers/chromium.mjs";
import { recordingUpstream } from "./helpers/upstream.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, "..");
const SHOTS = path.join(here, "screenshots");
const README_SHOTS = path.join(here, "readme-images");
const PROVIDERS = JSON.stringify([
  { id: "github", type: "github", client_id: "gh-client", client_secret: { secret: "GH_SECRET" }, allow: { everyone: true } },
  { id: "acme", type: "handoff", name: "Acme Workspace", login_url: "https://app.acme.example/mcp-signin", shared_secret: { secret: "ACME_SECRET" }, allow: { everyone: true } },
]);
const PROVIDER_SECRETS = { GH_SECRET: "s", ACME_SECRET: "a-shared-secret-of-at-least-32-characters" };
const now = () => Math.floor(Date.now() / 1000);

let dir, w, chromium, count = 0;
before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = await localState("admin-console-");
  w = await startWorker({ persistTo: dir, bindings: { PRODUCT_NAME: "Acme Notes", SIGNIN_PROVIDERS: PROVIDERS, ...PROVIDER_SECRETS } });
  chromium = await launchChromium();
});
after(async () => {
  await chromium?.close();
  await w?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A new person on `on`, with `roles` given by the operator directly in D1. */
async function person(label, roles = [], on = w) {
  const p = await createUser(on.db, `${label}-${++count}@example.com`, `${label}-password-${count}`);
  for (const role of roles) await giveRole(on, p, role);
  return p;
}
const giveRole = (on, p, role, source = "operator", expiresAt = null) =>
  on.db.prepare("INSERT INTO user_roles (user_id, role, source, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)").bind(p.id, role, source, now(), expiresAt).run();

/** `npm run user` against the shared Worker's local state. */
const cli = (...args) => runNode(path.join(ROOT, "scripts", "user.mjs"), [...args, "--persist-to", dir], { cwd: ROOT, env: { CI: "true", WRANGLER_SEND_METRICS: "false" } });

const h1 = (html) => /<h1[^>]*>(.*?)<\/h1>/s.exec(html)?.[1];
const dataError = (html) => /<h1 data-error="([^"]*)"/.exec(html)?.[1];
const unescape = (s) => s.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
/** One line of the Settings or Signing keys list: its value and whether it is a problem. */
function line(html, name) {
  const m = new RegExp(`<li( class="problem")?><strong>${name}</strong>: (.*?)</li>`).exec(html);
  assert.ok(m, `a line for ${name}`);
  return { problem: Boolean(m[1]), value: unescape(m[2]) };
}
const dd = (html, dt) => unescape(new RegExp(`<dt>${dt}</dt><dd>(.*?)</dd>`).exec(html)?.[1] ?? "");
const chartTitles = (html) => [...html.matchAll(/<title id="chart-\d">(.*?)<\/title>/g)].map((m) => unescape(m[1]));

/** The headers every page carries. */
function assertPageHeaders(res, why) {
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/, why);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /frame-ancestors 'none'/, why);
  assert.match(csp, /default-src 'none'/, why);
  assert.doesNotMatch(csp, /script-src/, `${why}: no script is allowed`);
  assert.equal(res.headers.get("cache-control"), "no-store", why);
  assert.equal(res.headers.get("x-frame-options"), "DENY", why);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff", why);
  assert.equal(res.headers.get("referrer-policy"), "no-referrer", why);
}

/** Signs `p` in with /admin's own form (as a browser without script); the page after the 303. */
async function consoleAs(on, p, browser = new Browser()) {
  const first = await browser.get(on.url + "/admin");
  const html = await first.text();
  assert.equal(first.status, 200);
  assert.equal(h1(html), "Sign in to the console");
  const res = await browser.post(on.url + "/admin", { ...formFields(html), email: p.email, password: p.password, action: "signin" });
  await res.text();
  assert.equal(res.status, 303, "signed in");
  assert.equal(res.headers.get("location"), "/admin");
  return { browser, ...(await again(on, browser)) };
}
async function again(on, browser) {
  const res = await browser.get(on.url + "/admin");
  return { res, status: res.status, html: await res.text() };
}

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
  assert.deepEqual(await axeViolations(page, ["color-contrast"]), [], `axe, dark, ${name} on ${device.name}`);
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
  for (const [label, text] of [["Email", p.email], ["Password", p.password]]) {
    await page.getByLabel(label, { exact: true }).click();
    await page.keyboard.type(text);
  }
  await page.getByRole("button", { name: "Sign in" }).click();
}

test("without a session /admin is the console's sign-in form, with the providers and every page header", async () => {
  const browser = new Browser();
  const res = await browser.get(w.url + "/admin");
  const html = await res.text();
  assert.equal(res.status, 200);
  assertPageHeaders(res, "the sign-in page");
  assert.equal(h1(html), "Sign in to the console");
  assert.match(html, /<form method="post" action="\/admin">/);
  assert.match(html, /<button type="submit" name="action" value="signin"[^>]*>Sign in<\/button>/);
  assert.match(formFields(html).csrf_token ?? "", /^.{20,}$/, "a CSRF token");
  assert.doesNotMatch(html, /Cancel and go back|Overview/);
  assert.match(html, /Continue with GitHub/);
  assert.match(html, /Continue with Acme Workspace/);
  assert.match(html, /<input type="hidden" name="return_to" value="\/admin">/, "a provider brings the person back to /admin");
  // A wrong password is the same page with its error, and no session.
  const admin = await person("admin", ["admin"]);
  const wrong = await browser.post(w.url + "/admin", { ...formFields(html), email: admin.email, password: "not-the-password", action: "signin" });
  const wrongHtml = await wrong.text();
  assert.equal(wrong.status, 401);
  assert.match(wrongHtml, /That email and password do not match an account/);
  assert.equal(h1((await again(w, browser)).html), "Sign in to the console");
});

for (const device of DEVICES) {
  test(`an administrator signs in with the form and sees the overview; Sign out ends it; anyone else gets 403 (${device.name})`, async () => {
    const admin = await person(`admin-${device.name}`, ["admin"]);
    const member = await person(`member-${device.name}`);
    const { context, page, problems } = await open(device);
    await page.goto(w.url + "/admin");
    await page.getByRole("heading", { level: 1, name: "Sign in to the console" }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Continue with GitHub" }).count(), 1);
    await inspect(page, "console-signin", device);
    await signInAs(page, admin);
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/admin");
    assert.ok((await page.locator("main").innerText()).includes(`Signed in as ${admin.email}, an administrator.`));
    for (const region of ["Settings", "Signing keys", "People, apps and connections", "Activity over the last week"]) {
      assert.equal(await page.getByRole("region", { name: region }).count(), 1, region);
    }
    const charts = page.getByRole("img", { name: /per hour over the last 7 days: \d+ in all/ });
    assert.equal(await charts.count(), 3);
    assert.match(await page.getByRole("listitem").filter({ hasText: "SIGNIN_PROVIDERS" }).innerText(), /github \(GitHub\), acme \(hand-off\)/);
    await inspect(page, "console-overview", device);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { level: 1, name: "Sign in to the console" }).waitFor();
    await page.goto(w.url + "/admin");
    await page.getByRole("heading", { level: 1, name: "Sign in to the console" }).waitFor();
    await signInAs(page, member);
    await page.getByRole("heading", { level: 1, name: "This page is for administrators" }).waitFor();
    assert.equal((await page.reload()).status(), 403);
    await inspect(page, "console-admin_only", device);
    assert.deepEqual(problems, [], "console errors or CSP violations");
    await context.close();
  });
}

test("with the keyboard alone: Tab to the fields, type, Enter; then Tab to Sign out and Enter", async () => {
  const admin = await person("keys", ["admin"]);
  const { context, page, problems } = await open(DEVICES[0]);
  await page.goto(w.url + "/admin");
  const tabTo = async (check, what) => {
    for (let i = 0; i < 25; i++) {
      const e = await page.evaluate(() => {
        const a = document.activeElement;
        return { id: a.id, tag: a.tagName, text: a.textContent.trim(), outline: getComputedStyle(a).outlineStyle };
      });
      if (check(e)) return assert.notEqual(e.outline, "none", `focus on ${what} is visible`);
      await page.keyboard.press("Tab");
    }
    assert.fail(`Tab never reached ${what}`);
  };
  await tabTo((e) => e.id === "email", "the email field");
  await page.keyboard.type(admin.email);
  await page.keyboard.press("Tab");
  await tabTo((e) => e.id === "password", "the password field");
  await page.keyboard.type(admin.password);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
  await tabTo((e) => e.tag === "BUTTON" && e.text === "Sign out", "Sign out");
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { level: 1, name: "Sign in to the console" }).waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});

test("without the admin role: the 403 admin_only page; an expired provider role is none; role add opens the console", async () => {
  const p = await person("member", ["editor"]);
  const s = await consoleAs(w, p);
  assert.equal(s.status, 403);
  assertPageHeaders(s.res, "the admin_only page");
  assert.equal(dataError(s.html), "admin_only");
  assert.equal(h1(s.html), "This page is for administrators");
  assert.match(s.html, /<a href="\/account">see your own account<\/a>/);
  assert.doesNotMatch(s.html, /Overview|csrf_token/);

  // A sign-in provider's admin, expired a minute ago, is no admin; one still valid is.
  await giveRole(w, p, "admin", "provider:acme", now() - 60);
  assert.equal(dataError((await again(w, s.browser)).html), "admin_only");
  const fresh = await person("provider-admin");
  await giveRole(w, fresh, "admin", "provider:acme", now() + 3600);
  assert.equal(h1((await consoleAs(w, fresh)).html), "Overview");

  const out = await cli("role", "add", p.email, "admin");
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /Gave .* the role admin/);
  const page = await again(w, s.browser);
  assert.equal(page.status, 200);
  assert.equal(h1(page.html), "Overview");
  assert.ok(page.html.includes(`Signed in as <strong>${p.email}</strong>, an administrator.`));

  // The role is read at every request, not kept in the session: taken away, the page is 403.
  await w.db.prepare("DELETE FROM user_roles WHERE user_id = ?1 AND role = 'admin'").bind(p.id).run();
  assert.equal((await again(w, s.browser)).status, 403);
});

test("cross-site and CSRF-less posts are refused and change nothing; Sign out ends the session", async () => {
  const admin = await person("csrf", ["admin"]);
  const s = await consoleAs(w, admin);
  assert.equal(h1(s.html), "Overview");
  const csrf = formFields(s.html).csrf_token;
  assert.ok(csrf);
  const post = (browser, fields, headers = {}) =>
    fetch(w.url + "/admin", { method: "POST", redirect: "manual", headers: { cookie: browser.header(), "Content-Type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(fields) });
  const refused = async (res, kind, why) => {
    const html = await res.text();
    assert.equal(res.status, 403, `${why}: ${res.status}`);
    assert.equal(dataError(html), kind, why);
    assert.equal(res.headers.get("location"), null, why);
    assert.deepEqual(res.headers.getSetCookie().filter((c) => /session=/.test(c)), [], `${why}: the session cookie is untouched`);
    assertPageHeaders(res, why);
  };
  const crossSite = [{ Origin: "https://evil.example" }, { Origin: "null" }, { "Sec-Fetch-Site": "cross-site" }, { "Sec-Fetch-Site": "same-site" }];
  for (const headers of crossSite) {
    await refused(await post(s.browser, { csrf_token: csrf, action: "signout" }, headers), "cross_site", `signout, ${JSON.stringify(headers)}`);
    const stranger = new Browser();
    const form = formFields(await (await stranger.get(w.url + "/admin")).text());
    await refused(await post(stranger, { ...form, email: admin.email, password: admin.password, action: "signin" }, headers), "cross_site", `signin, ${JSON.stringify(headers)}`);
  }
  await refused(await post(s.browser, { action: "signout" }), "expired", "signout without a token");
  await refused(await post(s.browser, { csrf_token: csrf.slice(0, -2) + (csrf.endsWith("AA") ? "BB" : "AA"), action: "signout" }), "expired", "signout with a bad token");
  const stranger = new Browser();
  await (await stranger.get(w.url + "/admin")).text();
  await refused(await post(stranger, { email: admin.email, password: admin.password, action: "signin" }), "expired", "signin without a token");
  assert.equal(h1((await again(w, stranger)).html), "Sign in to the console", "no session from a refused sign-in");
  assert.equal(h1((await again(w, s.browser)).html), "Overview", "still signed in after the refused posts");

  const out = await post(s.browser, { csrf_token: csrf, action: "signout" }, { Origin: w.url });
  assert.deepEqual([out.status, out.headers.get("location"), await out.text()], [303, "/admin", ""]);
  s.browser.take(out);
  assert.equal(h1((await again(w, s.browser)).html), "Sign in to the console");

  // Disabled, an administrator's session no longer opens the console.
  const leaving = await person("disabled-admin", ["admin"]);
  const other = await consoleAs(w, leaving);
  assert.equal(h1(other.html), "Overview");
  await w.db.prepare("UPDATE users SET disabled_at = ?1 WHERE id = ?2").bind(now(), leaving.id).run();
  assert.equal(h1((await again(w, other.browser)).html), "Sign in to the console");
});

test("the overview's counts, keys and charts match what was made, and the README's picture", async () => {
  const agents = recordingUpstream("agents");
  const o = await startWorker({
    bindings: { JWT_SIGNING_KEY_PREVIOUS: newSigningKey(), UPSTREAMS: JSON.stringify([{ name: "agents", url: "https://agents.acme.test/mcp" }]) },
    outbound: (req) => (new URL(req.url).host === "agents.acme.test" ? agents.handle(req) : new Response("tests have no internet", { status: 502 })),
  });
  try {
    // Far enough from the end of the hour that the page's week is the one computed here.
    const left = 3600 - (now() % 3600);
    if (left < 120) await new Promise((r) => setTimeout(r, (left + 2) * 1000));
    const since = (Math.floor(now() / 3600) - 167) * 3600;
    const admin = await createUser(o.db, "admin@example.com", "admin-password-1");
    await giveRole(o, admin, "admin");
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((n) => createUser(o.db, `${n}@example.com`, `${n}-password-1`)));
    await o.db.prepare("UPDATE users SET disabled_at = ?1 WHERE id = ?2").bind(now(), carol.id).run();
    // Three apps; alice's grant is live (and refreshed once), bob's is revoked.
    const live = await fullFlow(o.url, alice);
    assert.equal(live.status, 200, JSON.stringify(live.tokens));
    const refreshed = await token(o.url, { grant_type: "refresh_token", refresh_token: live.tokens.refresh_token, client_id: live.client.client_id });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const gone = await fullFlow(o.url, bob);
    assert.equal(gone.status, 200);
    const revoked = await fetch(o.url + "/revoke", { method: "POST", body: new URLSearchParams({ token: gone.tokens.refresh_token, client_id: gone.client.client_id }) });
    assert.equal(revoked.status, 200);
    await publicClient(o.url);

    // A week of activity, per hour (oldest first): office hours busier, the same every run.
    const week = { sign_in: Array(168).fill(0), grants: Array(168).fill(0), gateway_call: Array(168).fill(0) };
    const rows = [];
    const add = (i, event, n = 1) => {
      for (let k = 0; k < n; k++) rows.push([since + i * 3600 + 60 + k * 7, event]);
      const series = event === "code_redeemed" || event === "refresh" ? "grants" : event;
      if (week[series]) week[series][i] += n;
    };
    for (let i = 0; i < 167; i++) {
      const h = i % 24;
      if (h >= 8 && h < 18) add(i, "sign_in", 1 + (i % 3));
      if (h >= 9 && h < 17) add(i, i % 2 ? "refresh" : "code_redeemed", 1 + (i % 4));
      if (h >= 8 && h < 19) add(i, "gateway_call", 1 + ((i * 7) % 5));
      if (h === 12) add(i, "sign_in_failed", 4); // not a sign-in
    }
    rows.push([since, "sign_in"], [since - 1, "sign_in"], [now() - 8 * 86400, "gateway_call"], [now() + 7200, "refresh"]);
    week.sign_in[0] += 1; // the first second of the week counts; the second before it does not
    // What the test did itself, in this hour: three sign-ins (alice, bob, the admin below),
    // two codes redeemed and a refresh.
    week.sign_in[167] += 3;
    week.grants[167] += 3;
    await o.db.batch(rows.map(([at, event]) => o.db.prepare("INSERT INTO audit_events (at, event, outcome, request_id) VALUES (?1, ?2, 'ok', 'test')").bind(at, event)));

    const s = await consoleAs(o, admin);
    assert.equal(s.status, 200, s.html.slice(0, 300));
    assert.equal(dd(s.html, "People"), "4 (1 disabled)");
    assert.equal(dd(s.html, "Apps"), "3");
    assert.equal(dd(s.html, "Live connections"), "1");
    const sum = (a) => a.reduce((x, y) => x + y, 0);
    const title = (label, a) => `${label} per hour over the last 7 days: ${sum(a)} in all, at most ${Math.max(...a)} in one hour`;
    assert.deepEqual(chartTitles(s.html), [
      title("Sign-ins", week.sign_in),
      title("Token grants (new connections and refreshes)", week.grants),
      title("Tool calls through the gateway", week.gateway_call),
    ]);

    // The keys: the access token's kid, the previous one, the ID-token key, all in the JWKS.
    const kid = JSON.parse(Buffer.from(live.tokens.access_token.split(".")[0], "base64url")).kid;
    const jwks = (await (await fetch(o.url + "/.well-known/jwks.json")).json()).keys;
    const previousKid = jwks.find((k) => k.kty === "OKP" && k.kid !== kid)?.kid;
    const rsaKid = jwks.find((k) => k.kty === "RSA")?.kid;
    assert.ok(previousKid && rsaKid, JSON.stringify(jwks));
    // Each key with its age, counted from the first time the console saw it (today here).
    const seen = "\\(first seen \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC, today\\)";
    const access = line(s.html, "Access tokens");
    assert.equal(access.problem, false);
    assert.match(access.value, new RegExp(`^Ed25519, key ${kid} ${seen}; the previous key ${previousKid} ${seen} is still published \\(finish the rotation with npm run key:rotate -- --finish once its tokens have expired\\)$`));
    const idLine = line(s.html, "ID tokens");
    assert.equal(idLine.problem, false);
    assert.match(idLine.value, new RegExp(`^RS256, key ${rsaKid} ${seen}$`));
    // The upstream, asked for its tools as the administrator just now (client "console").
    const upstream = line(s.html, "agents");
    assert.equal(upstream.problem, false, upstream.value);
    assert.match(upstream.value, /^[1-9]\d* tool\(s\), (MCP 2026-07-28|MCP 2025 \(sessions\)|era not known yet), answered at \d{4}-\d\d-\d\d \d\d:\d\d UTC \(https:\/\/agents\.acme\.test\/mcp\)$/);
    assert.ok(agents.requests.some((r) => r.body?.method === "tools/list"), "the overview asked the upstream");
    assert.deepEqual(line(s.html, "SCOPES"), { problem: false, value: "not set: mcp:read and mcp:write" });
    assert.deepEqual(line(s.html, "UPSTREAMS"), { problem: false, value: "agents" });
    assert.deepEqual(line(s.html, "SIGNIN_PROVIDERS"), { problem: false, value: "none" });
    assert.deepEqual(line(s.html, "LOCAL_PASSWORDS"), { problem: false, value: "on" });
    assert.equal(line(s.html, "ACCESS_TOKEN_TTL").value, `${live.tokens.expires_in} s`);
    assert.doesNotMatch(s.html, /class="problem"/);

    // The README's picture, on a laptop, as any deployment shows it: this run's key ids
    // would change it on every run.
    const { context, page, problems } = await open(DEVICES[0]);
    await page.goto(o.url + "/admin");
    await signInAs(page, admin);
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    const signins = page.getByRole("img", { name: /^Sign-ins per hour/ });
    assert.match(await signins.getAttribute("aria-labelledby"), /^chart-0$/);
    assert.match(await page.locator("#chart-0").textContent(), new RegExp(`: ${sum(week.sign_in) + 1} in all`), "the browser's own sign-in counts too");
    await inspect(page, "console-overview-busy", DEVICES[0]);
    await page.locator(".settings li").evaluateAll((items, ids) => {
      for (const li of items) for (const [from, to] of ids) li.innerHTML = li.innerHTML.replaceAll(from, to);
    }, [[kid, "ed-2026-07"], [previousKid, "ed-2026-01"], [rsaKid, "rs-2026-01"]]);
    await page.screenshot({ path: path.join(README_SHOTS, "console-overview.png"), fullPage: true });
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await o.stop();
  }
});

test("broken settings: the overview still renders, with each mistake on its own problem line", async () => {
  const cases = [
    {
      // UPSTREAMS waits for SCOPES: while SCOPES is broken, its line says so.
      bindings: { SCOPES: "{not json", UPSTREAMS: JSON.stringify([{ name: "agents", url: "https://agents.acme.test/mcp" }]), SIGNIN_PROVIDERS: '[{"id":"x"}]', OIDC_SIGNING_KEY: null },
      problems: { SCOPES: /^SCOPES: not JSON/, UPSTREAMS: /^not read until SCOPES is fixed$/, SIGNIN_PROVIDERS: /^SIGNIN_PROVIDERS\[0\]\.type: is required$/, "ID tokens": /^OIDC_SIGNING_KEY is not set: ID tokens are EdDSA only/ },
    },
    { bindings: { UPSTREAMS: '[{"name":"agents"}]' }, problems: { UPSTREAMS: /^UPSTREAMS\[0\]\.url/ } },
  ];
  for (const [n, { bindings, problems: expected }] of cases.entries()) {
    const b = await startWorker({ bindings });
    try {
      const admin = await createUser(b.db, "admin@example.com", "admin-password-1");
      await giveRole(b, admin, "admin");
      const s = await consoleAs(b, admin);
      assert.equal(s.status, 200, s.html.slice(0, 400));
      assert.equal(h1(s.html), "Overview");
      for (const [name, words] of Object.entries(expected)) {
        const l = line(s.html, name);
        assert.ok(l.problem, `${name} is a problem line: ${l.value}`);
        assert.match(l.value, words, name);
      }
      assert.equal(s.html.match(/class="problem"/g).length, Object.keys(expected).length, "no other line is a problem");
      assert.equal(line(s.html, "LOCAL_PASSWORDS").problem, false);
      assert.equal(chartTitles(s.html).length, 3, "the rest of the page is there");
      if (n > 0) continue;
      // The problem lines pass axe in both themes too.
      const { context, page, problems } = await open(DEVICES[0]);
      await page.goto(b.url + "/admin");
      await signInAs(page, admin);
      await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
      assert.equal(await page.locator(".settings .problem").count(), 4);
      await inspect(page, "console-overview-problems", DEVICES[0]);
      assert.deepEqual(problems, []);
      await context.close();
    } finally {
      await b.stop();
    }
  }
});
