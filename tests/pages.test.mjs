// The pages a person sees, in a real headless Chromium against the built Worker: sign-in,
// consent, the error pages and the account page, typed into and clicked as a person would,
// on a laptop and on a phone. Every page is checked with axe-core (light and dark), for
// horizontal scroll at 320 px, for console errors and CSP violations, and photographed into
// tests/screenshots/ (git-ignored). The client's site is never loaded: the navigation to
// its redirect URI is intercepted and answered here.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, publicClient, pkcePair, authorizeUrl, token } from "./helpers/oauth.mjs";
import { modernCall, toolValue } from "./helpers/mcp.mjs";
import { launchChromium, DEVICES, axeViolations, watchConsole } from "./helpers/chromium.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(here, "screenshots");
const README_SHOTS = path.join(here, "readme-images");
const APP = "https://app.example/callback";

let w, browser, client;
// One person per screen, so each sees the app as new the first time.
const people = {};
before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  w = await startWorker({ bindings: { PRODUCT_NAME: "Acme Notes" } });
  for (const d of DEVICES) people[d.name] = await createUser(w.db, `${d.name}@example.com`, `${d.name}-password-1`);
  client = await publicClient(w.url, APP, { client_name: "Example Notes App" });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await w?.stop();
});

/** A fresh browser profile on `device`, with the app's site intercepted. */
async function open(device, { javaScriptEnabled = true } = {}) {
  const context = await browser.newContext({ ...device.options, javaScriptEnabled });
  // Chromium retries a navigation that failed to resolve; the retry is answered here so
  // the tab settles on a blank stand-in for the app. Nothing is fetched from the network.
  await context.route("https://app.example/**", (route) => route.fulfill({ status: 200, contentType: "text/plain", body: "the app" }));
  const page = await context.newPage();
  const problems = watchConsole(page);
  // The navigation that follows the Worker's redirect to the app (Playwright does not route
  // redirected requests, so it is recorded here, as the browser makes it).
  const landed = [];
  page.on("request", (r) => {
    if (new URL(r.url()).hostname === "app.example" && r.isNavigationRequest() && r.redirectedFrom()) {
      assert.equal(new URL(r.redirectedFrom().url()).pathname, "/authorize");
      landed.push(new URL(r.url()));
    }
  });
  return { context, page, landed, problems };
}

/**
 * Checks the page as it is now: axe in light and dark, no horizontal scroll at 320 px, and
 * a screenshot. `name` names the picture.
 */
async function inspect(page, name, device) {
  assert.deepEqual(await axeViolations(page), [], `axe, light, ${name} on ${device.name}`);
  await page.emulateMedia({ colorScheme: "dark" });
  assert.deepEqual(await axeViolations(page, ["color-contrast"]), [], `axe, dark, ${name} on ${device.name}`);
  await page.emulateMedia({ colorScheme: "light" });
  assert.equal(await page.locator("h1").count(), 1, `one h1 on ${name}`);
  await page.screenshot({ path: path.join(SHOTS, `${name}-${device.name}.png`), fullPage: true });
  const size = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 640 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `${name} scrolls sideways by ${overflow}px at 320 px`);
  await page.setViewportSize(size);
}

function startAuthorization(state = "st-" + Math.random().toString(36).slice(2)) {
  const { verifier, challenge } = pkcePair();
  return { url: authorizeUrl(w.url, client, { challenge, state }), verifier, state };
}

async function typeInto(page, label, text) {
  await page.getByLabel(label, { exact: true }).click();
  await page.keyboard.type(text);
}

async function signInAs(page, person) {
  await typeInto(page, "Email", person.email);
  await typeInto(page, "Password", person.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function waitForLanding(page, landed) {
  for (let i = 0; i < 100 && !(landed.length && new URL(page.url()).hostname === "app.example"); i++) await new Promise((r) => setTimeout(r, 50));
  await page.waitForLoadState();
  assert.equal(landed.length, 1, "the browser was sent to the app once");
  return landed[0];
}

function assertNoProblems(problems) {
  assert.deepEqual(problems, [], "console errors or CSP violations");
}

for (const device of DEVICES) {
  test(`sign in and approve: the browser reaches the app with code, state and iss (${device.name})`, async () => {
    const { context, page, landed, problems } = await open(device);
    const flow = startAuthorization();
    await page.goto(flow.url);
    // Which app is asking is on the page before a password is typed.
    await assert.doesNotReject(page.getByRole("heading", { level: 1, name: "Sign in to continue to Example Notes App" }).waitFor());
    const asking = page.getByRole("region", { name: "Which app is asking" });
    assert.match(await asking.innerText(), /Example Notes App\s+name chosen by the app itself/);
    assert.match(await asking.innerText(), /app\.example/);
    assert.equal(await page.getByLabel("Email", { exact: true }).getAttribute("autocomplete"), "username");
    assert.equal(await page.getByLabel("Password", { exact: true }).getAttribute("autocomplete"), "current-password");
    await inspect(page, "signin", device);
    if (device.name === "desktop") await page.screenshot({ path: path.join(README_SHOTS, "signin-desktop.png") });

    const person = people[device.name];
    await signInAs(page, person);
    await page.getByRole("heading", { level: 1, name: "Allow Example Notes App to use your account?" }).waitFor();
    const text = await page.locator("main").innerText();
    assert.match(text, /You have not approved this app before/);
    assert.match(text, /Read and search your notes/);
    assert.match(text, /Add and delete notes/);
    assert.match(text, /sent back to app\.example/);
    assert.ok(text.includes(`Signed in as ${person.email}`), text);
    assert.match(text, new RegExp(`Only for ${w.url.replace(/[.]/g, "\\.")}/mcp`));
    // No text field on the consent page, so no stray Enter can approve.
    assert.equal(await page.locator("input:not([type=hidden])").count(), 0);
    assert.equal(await page.getByRole("link", { name: "your connected apps page" }).getAttribute("href"), "/account");
    await inspect(page, "consent", device);
    if (device.name === "phone") {
      // The README's picture, as a deployment shows it: this run's port would change it
      // on every run.
      await page.locator(".resource code").evaluate((e) => (e.textContent = "https://mcp.example.com/mcp"));
      await page.screenshot({ path: path.join(README_SHOTS, "consent-phone.png"), scale: "css" });
    }

    await page.getByRole("button", { name: "Approve" }).click();
    const back = await waitForLanding(page, landed);
    assert.equal(back.origin + back.pathname, APP);
    assert.equal(back.searchParams.get("state"), flow.state);
    assert.equal(back.searchParams.get("iss"), w.url);
    const code = back.searchParams.get("code");
    assert.ok(code);
    const t = await token(w.url, { grant_type: "authorization_code", code, code_verifier: flow.verifier, client_id: client.client_id, redirect_uri: APP, resource: w.url + "/mcp" });
    assert.equal(t.status, 200, JSON.stringify(t.body));

    // The second time, the person is still signed in and the app is no longer new.
    const again = startAuthorization();
    await page.goto(again.url);
    await page.getByRole("heading", { level: 1, name: /^Allow Example Notes App/ }).waitFor();
    assert.doesNotMatch(await page.locator("main").innerText(), /not approved this app before/);
    assertNoProblems(problems);
    await context.close();
  });
}

/** Signs `person` in and approves in `page`; returns the tokens the app then gets. */
async function connect(page, landed, person) {
  const flow = startAuthorization();
  await page.goto(flow.url);
  await signInAs(page, person);
  await page.getByRole("button", { name: "Approve" }).click();
  const back = await waitForLanding(page, landed);
  landed.length = 0;
  const t = await token(w.url, { grant_type: "authorization_code", code: back.searchParams.get("code"), code_verifier: flow.verifier, client_id: client.client_id, redirect_uri: APP, resource: w.url + "/mcp" });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  return t.body;
}

test("Deny on the consent page, and Cancel on the sign-in page, send access_denied back to the app", async () => {
  const person = await createUser(w.db, "deny@example.com", "deny-password-1");
  const { context, page, landed, problems } = await open(DEVICES[0]);
  const flow = startAuthorization();
  await page.goto(flow.url);
  await page.getByRole("button", { name: "Cancel and go back" }).click();
  let back = await waitForLanding(page, landed);
  assert.equal(back.searchParams.get("error"), "access_denied");
  assert.equal(back.searchParams.get("state"), flow.state);
  assert.equal(back.searchParams.get("iss"), w.url);
  assert.equal(back.searchParams.get("code"), null);
  landed.length = 0;

  const second = startAuthorization();
  await page.goto(second.url);
  await signInAs(page, person);
  await page.getByRole("button", { name: "Deny" }).click();
  back = await waitForLanding(page, landed);
  assert.equal(back.searchParams.get("error"), "access_denied");
  assert.equal(back.searchParams.get("state"), second.state);
  assert.equal(back.searchParams.get("code"), null);
  assertNoProblems(problems);
  await context.close();
});

test("Not you? signs out and shows the sign-in page for the same request", async () => {
  const person = await createUser(w.db, "switch@example.com", "switch-password-1");
  const { context, page, problems } = await open(DEVICES[0]);
  const flow = startAuthorization();
  await page.goto(flow.url);
  await signInAs(page, person);
  await page.getByRole("button", { name: "Not you?" }).click();
  await page.getByRole("heading", { level: 1, name: "Sign in to continue to Example Notes App" }).waitFor();
  assert.equal(new URL(page.url()).searchParams.get("state"), flow.state);
  // Signed out: the account page (where the bare domain leads) asks for a password too.
  await page.goto(w.url + "/");
  await page.getByRole("heading", { level: 1, name: "Sign in to see your connected apps" }).waitFor();
  assertNoProblems(problems);
  await context.close();
});

for (const device of DEVICES) {
  test(`a wrong password shows one error, announced, and keeps the email (${device.name})`, async () => {
    const { context, page, problems } = await open(device);
    await page.goto(startAuthorization().url);
    await signInAs(page, { email: people[device.name].email, password: "not-the-password" });
    const alert = page.getByRole("alert");
    await alert.waitFor();
    assert.equal((await alert.innerText()).trim(), "That email and password do not match an account.");
    const email = page.getByLabel("Email", { exact: true });
    assert.equal(await email.inputValue(), people[device.name].email);
    assert.equal(await email.getAttribute("aria-describedby"), "form-error");
    assert.equal(await page.getByLabel("Password", { exact: true }).inputValue(), "");
    await inspect(page, "signin-error", device);
    assertNoProblems(problems);
    await context.close();
  });
}

test("after too many failures the lockout message says when to try again", async () => {
  const lock = await startWorker({ bindings: { LOGIN_MAX_FAILURES: "2", LOGIN_LOCKOUT_SECONDS: "600" } });
  try {
    const lou = await createUser(lock.db, "lou@example.com", "lou-password-1");
    const app = await publicClient(lock.url, APP, { client_name: "Example Notes App" });
    for (const device of DEVICES) {
      const { context, page, problems } = await open(device);
      const { challenge } = pkcePair();
      await page.goto(authorizeUrl(lock.url, app, { challenge }));
      await typeInto(page, "Email", lou.email);
      for (const password of ["wrong-1", "wrong-2", lou.password]) {
        // After a failure the email is kept and the password field has the focus.
        await typeInto(page, "Password", password);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByRole("alert").waitFor();
      }
      const message = (await page.getByRole("alert").innerText()).trim();
      assert.match(message, /^Too many failed sign-in attempts\. For your security, sign-in is paused: try again in (9|10) minutes\.$/);
      await inspect(page, "signin-locked", device);
      assertNoProblems(problems);
      await context.close();
    }
  } finally {
    await lock.stop();
  }
});

for (const device of DEVICES) {
  test(`each error page says what happened and what to do, with a reference in the log (${device.name})`, async () => {
    const { context, page, problems } = await open(device);
    const { challenge } = pkcePair();
    const base = new URL(authorizeUrl(w.url, client, { challenge }));
    const edited = (edit) => {
      const u = new URL(base);
      edit(u.searchParams);
      return u.toString();
    };
    const cases = [
      ["no_client_id", 400, "The app did not say who it is", edited((q) => q.delete("client_id"))],
      ["unknown_client", 400, "This app is not known here", edited((q) => q.set("client_id", "no-such-client"))],
      ["unregistered_redirect", 400, "This sign-in link cannot be used", edited((q) => q.set("redirect_uri", "https://evil.example/cb"))],
      ["bad_request", 400, "This sign-in link is not valid", edited((q) => q.append("state", "twice"))],
    ];
    for (const [kind, status, heading, url] of cases) {
      const res = await page.goto(url);
      assert.equal(res.status(), status, kind);
      await checkErrorPage(page, kind, heading);
      await inspect(page, "error-" + kind, device);
    }
    // A form whose CSRF cookie is gone (another browser session, or cleared) has expired.
    await page.goto(base.toString());
    await context.clearCookies();
    await signInAs(page, people[device.name]);
    await checkErrorPage(page, "expired", "This page has expired");
    await inspect(page, "error-expired", device);
    assertNoProblems(problems);
    await context.close();
  });
}

async function checkErrorPage(page, kind, heading) {
  await page.getByRole("heading", { level: 1, name: heading }).waitFor();
  const text = await page.locator("main").innerText();
  assert.match(text, /What you can do/, kind);
  const reference = (await page.locator(".reference code").innerText()).trim();
  assert.match(reference, /^[A-Za-z0-9_-]{8}$/, kind);
  assert.ok(w.logs.some((line) => line.includes(`[${reference}] error page: ${kind}`)), `log line for ${reference}: ${w.logs.slice(-5).join(" | ")}`);
  // Never a link to a URI from the request: the page links nowhere.
  assert.deepEqual(await page.locator("a[href]").evaluateAll((as) => as.map((a) => a.getAttribute("href"))), [], kind);
}

for (const device of DEVICES) {
  test(`the account page lists the app; Disconnect stops its refresh and access tokens (${device.name})`, async () => {
    const person = await createUser(w.db, `account-${device.name}@example.com`, "account-password-1");
    const { context, page, landed, problems } = await open(device);
    const tokens = await connect(page, landed, person);
    assert.equal((await modernCall(w.url, tokens.access_token, "tools/list")).status, 200);

    await page.goto(w.url + "/account");
    await page.getByRole("heading", { level: 1, name: "Connected apps" }).waitFor();
    const item = page.locator(".apps > li");
    assert.equal(await item.count(), 1);
    const text = await item.innerText();
    assert.match(text, /Example Notes App/);
    assert.match(text, /Sends you back to\s+app\.example/);
    assert.match(text, /Read and search your notes/);
    assert.match(text, /First approved\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    assert.match(text, /Last used\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    await inspect(page, "account", device);

    // A code the app was given but has not redeemed yet, when the person disconnects it.
    const pending = startAuthorization();
    await page.goto(pending.url);
    await page.getByRole("button", { name: "Approve" }).click();
    const late = (await waitForLanding(page, landed)).searchParams.get("code");
    landed.length = 0;
    await page.goto(w.url + "/account");

    await page.getByRole("button", { name: "Disconnect Example Notes App (app.example)" }).click();
    const status = page.getByRole("status");
    await status.waitFor();
    assert.match(await status.innerText(), /Example Notes App is disconnected/);
    assert.equal(await page.locator(".apps > li").count(), 0);
    assert.match(await page.locator("main").innerText(), /No apps are connected to your account/);
    await inspect(page, "account-disconnected", device);

    const refreshed = await token(w.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body.error, "invalid_grant");
    const redeemed = await token(w.url, { grant_type: "authorization_code", code: late, code_verifier: pending.verifier, client_id: client.client_id, redirect_uri: APP });
    assert.equal(redeemed.body.error, "invalid_grant", "a code issued before Disconnect is refused");
    const mcp = await modernCall(w.url, tokens.access_token, "tools/list");
    assert.equal(mcp.status, 401);
    assert.match(mcp.headers.get("www-authenticate") ?? "", /invalid_token/);

    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Sign in to see your connected apps" }).waitFor();
    await inspect(page, "account-signin", device);
    await signInAs(page, person);
    await page.getByRole("heading", { level: 1, name: "Connected apps" }).waitFor();
    assertNoProblems(problems);
    await context.close();
  });
}

for (const device of DEVICES) {
  test(`the account page makes a personal access token, shows it once, and revokes it (${device.name})`, async () => {
    const person = await createUser(w.db, `tokens-${device.name}@example.com`, "tokens-password-1");
    const { context, page, problems } = await open(device);
    await page.goto(w.url + "/account");
    await signInAs(page, person);
    const section = page.getByRole("region", { name: "Personal access tokens" });
    await section.waitFor();
    assert.match(await section.innerText(), /You have no personal access tokens/);

    // A name is required; the browser's own check stops an empty one, so try a blank one.
    await typeInto(page, "Name", "   ");
    await typeInto(page, "Your password", person.password);
    await page.getByRole("button", { name: "Create token" }).click();
    await page.getByRole("alert").waitFor();
    assert.match(await page.getByRole("alert").innerText(), /Give the token a name/);
    assert.equal(await page.getByLabel("Name", { exact: true }).getAttribute("aria-invalid"), "true");

    await page.getByLabel("Name", { exact: true }).fill("");
    await typeInto(page, "Name", "Claude Code");
    await page.getByLabel("Add and delete notes").check();
    await page.getByLabel("Expires").selectOption({ label: "in 90 days" });
    // A wrong password makes nothing and says so.
    await typeInto(page, "Your password", "not-my-password");
    await page.getByRole("button", { name: "Create token" }).click();
    await page.getByRole("alert").waitFor();
    assert.match(await page.getByRole("alert").innerText(), /That password is not right/);
    assert.match(await page.title(), /^Error: Connected apps/, "the title says the page reports a problem");
    assert.equal(await page.getByLabel("Name", { exact: true }).inputValue(), "Claude Code", "the name is kept");
    await page.getByLabel("Add and delete notes").check();
    await page.getByLabel("Expires").selectOption({ label: "in 90 days" });
    await typeInto(page, "Your password", person.password);
    await page.getByRole("button", { name: "Create token" }).click();
    const shown = page.getByLabel("Token", { exact: true });
    await shown.waitFor();
    const token = await shown.inputValue();
    assert.match(token, /^mcp_pat_[A-Za-z0-9_-]{43}$/);
    assert.match(await page.getByRole("status").first().innerText(), /will not be shown again/);
    await inspect(page, "account-token-created", device);

    // The token works at /mcp as a bearer token, with the scopes chosen.
    const stored = await modernCall(w.url, token, "tools/call", { name: "memory_store", arguments: { text: "from the token" } });
    assert.equal(stored.status, 200, stored.text);
    assert.equal(toolValue(stored.json.result).title, "from the token");

    // Shown once: a reload lists it by name, with its last use, and never the token again.
    await page.goto(w.url + "/account");
    const text = await section.innerText();
    assert.ok(!(await page.content()).includes(token));
    assert.match(text, /Claude Code/);
    assert.match(text, /Read and search your notes/);
    assert.match(text, /Add and delete notes/);
    assert.doesNotMatch(text.split("Last used")[1] ?? "", /^\s*Never/, "the use is shown");
    await inspect(page, "account-tokens", device);

    await page.getByRole("button", { name: "Revoke the token Claude Code" }).click();
    await page.getByText("The token “Claude Code” is revoked").waitFor();
    const activity = await page.getByRole("region", { name: "Recent activity" }).innerText();
    for (const what of ["Personal access token revoked", "Personal access token created", "Signed in"]) {
      assert.ok(activity.includes(what), `${what} in ${activity}`);
    }
    assert.match(await section.innerText(), /You have no personal access tokens/);
    const refused = await modernCall(w.url, token, "tools/list");
    assert.equal(refused.status, 401);
    assertNoProblems(problems);
    await context.close();
  });
}

test("the whole flow with the keyboard alone, focus always visible", async () => {
  const person = await createUser(w.db, "keys@example.com", "keys-password-1");
  const { context, page, landed, problems } = await open(DEVICES[0]);
  const flow = startAuthorization();
  await page.goto(flow.url);
  const focusOn = async (check, what) => {
    for (let i = 0; i < 25; i++) {
      const here = await page.evaluate(() => {
        const e = document.activeElement;
        const style = getComputedStyle(e);
        return { id: e.id, text: e.textContent.trim(), tag: e.tagName, outline: style.outlineStyle, width: parseFloat(style.outlineWidth) };
      });
      if (check(here)) {
        assert.notEqual(here.outline, "none", `focus on ${what} is visible`);
        assert.ok(here.width >= 2, `focus outline on ${what} is at least 2px`);
        return;
      }
      await page.keyboard.press("Tab");
    }
    assert.fail(`Tab never reached ${what}`);
  };
  await focusOn((e) => e.id === "email", "the email field");
  await page.keyboard.type(person.email);
  await page.keyboard.press("Tab");
  await focusOn((e) => e.id === "password", "the password field");
  await page.keyboard.type(person.password);
  await page.keyboard.press("Enter"); // Enter in the password field signs in, nothing more
  await page.getByRole("heading", { level: 1, name: /^Allow / }).waitFor();
  await focusOn((e) => e.tag === "BUTTON" && e.text === "Approve", "Approve");
  page.on("request", (r) => console.log("REQ", r.url()));
  page.on("requestfailed", (r) => console.log("FAILED", r.url(), r.failure()?.errorText));
  await page.keyboard.press("Enter");
  const back = await waitForLanding(page, landed);
  assert.ok(back.searchParams.get("code"));
  assert.equal(back.searchParams.get("state"), flow.state);
  assertNoProblems(problems);
  await context.close();
});

test("everything works with JavaScript turned off", async () => {
  const person = await createUser(w.db, "nojs@example.com", "nojs-password-1");
  const { context, page, landed, problems } = await open(DEVICES[0], { javaScriptEnabled: false });
  const tokens = await connect(page, landed, person);
  await page.goto(w.url + "/account");
  await page.getByRole("button", { name: "Disconnect Example Notes App" }).click();
  await page.getByRole("status").waitFor();
  const refreshed = await token(w.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
  assert.equal(refreshed.body.error, "invalid_grant");
  assertNoProblems(problems);
  await context.close();
});

test("the note page and its sign-in form pass the same checks", async () => {
  const person = await createUser(w.db, "notes@example.com", "notes-password-1");
  for (const device of DEVICES) {
    const { context, page, landed, problems } = await open(device);
    const tokens = await connect(page, landed, person);
    await context.clearCookies();
    const stored = await modernCall(w.url, tokens.access_token, "tools/call", { name: "memory_store", arguments: { title: "Trip plans", text: "Train at 9:40.\nBring the long charger.", tags: ["travel"] } });
    const note = toolValue(stored.json.result);
    await page.goto(note.url);
    await page.getByRole("heading", { level: 1, name: "Sign in to see this note" }).waitFor();
    await inspect(page, "note-signin", device);
    await signInAs(page, person);
    await page.getByRole("heading", { level: 1, name: "Trip plans" }).waitFor();
    await inspect(page, "note", device);
    await page.goto(w.url + "/notes/n_doesnotexist000");
    await checkErrorPage(page, "no_such_note", "No such note");
    await inspect(page, "error-no_such_note", device);
    assertNoProblems(problems);
    await context.close();
  }
});

// Sign-in providers: the same page with "Continue with" buttons, and without the password
// form when local passwords are off. The providers' own sites are never loaded.
const PROVIDERS = JSON.stringify([
  { id: "github", type: "github", client_id: "gh-client", client_secret: { secret: "GH_SECRET" }, allow: { everyone: true } },
  { id: "acme", type: "handoff", name: "Acme Workspace", login_url: "https://app.acme.example/mcp-signin", shared_secret: { secret: "ACME_SECRET" }, allow: { everyone: true } },
]);

for (const device of DEVICES) {
  test(`with sign-in providers the page offers Continue with beside the password form, and only the buttons when passwords are off (${device.name})`, async () => {
    for (const local of ["on", "off"]) {
      const pw = await startWorker({ bindings: { SIGNIN_PROVIDERS: PROVIDERS, GH_SECRET: "s", ACME_SECRET: "a-shared-secret-of-at-least-32-characters", LOCAL_PASSWORDS: local } });
      try {
        const app = await publicClient(pw.url, APP, { client_name: "Example Notes App" });
        const context = await browser.newContext({ ...device.options });
        const seen = [];
        for (const host of ["https://github.com/**", "https://app.acme.example/**"]) {
          await context.route(host, (route) => {
            seen.push(new URL(route.request().url()));
            return route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>provider</title><h1>provider</h1>" });
          });
        }
        const page = await context.newPage();
        const problems = watchConsole(page);
        const { challenge } = pkcePair();
        await page.goto(authorizeUrl(pw.url, app, { challenge }));
        const github = page.getByRole("button", { name: "Continue with GitHub" });
        await github.waitFor();
        assert.equal(await page.getByRole("button", { name: "Continue with Acme Workspace" }).count(), 1);
        assert.equal(await page.getByLabel("Password", { exact: true }).count(), local === "on" ? 1 : 0, `password field with LOCAL_PASSWORDS=${local}`);
        assert.equal(await page.getByRole("button", { name: "Cancel and go back" }).count(), 1, "Cancel stays for the app");
        await inspect(page, `signin-providers-${local}`, device);
        await github.click();
        await page.waitForURL((u) => u.hostname === "github.com");
        await page.waitForLoadState();
        assert.equal(seen.length, 1, "the browser went to GitHub");
        const q = seen[0].searchParams;
        assert.equal(seen[0].pathname, "/login/oauth/authorize");
        assert.equal(q.get("client_id"), "gh-client");
        assert.equal(q.get("redirect_uri"), `${pw.url}/signin/callback/github`);
        assert.equal(q.get("code_challenge_method"), "S256");
        assert.match(q.get("state"), /^[A-Za-z0-9_-]{43}$/);
        // Coming back with a state this browser never started is its own error page.
        const res = await page.goto(`${pw.url}/signin/callback/github?code=c&state=${"x".repeat(43)}`);
        assert.equal(res.status(), 400);
        assert.equal(await page.locator("h1").getAttribute("data-error"), "signin_expired");
        await page.getByRole("heading", { level: 1, name: "This sign-in has expired" }).waitFor();
        await inspect(page, "error-signin_expired", device);
        assertNoProblems(problems);
        await context.close();
      } finally {
        await pw.stop();
      }
    }
  });
}
