// A small typed client for the OAuth flow, with named steps, used by the end-to-end tests.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { hashPassword, newUserId } from "../../scripts/lib/password.mjs";

export async function createUser(db, email, password, name = null) {
  const { hash, salt, iterations } = hashPassword(password);
  const id = newUserId();
  await db
    .prepare(
      "INSERT INTO users (id, email, name, password_hash, password_salt, iterations, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(id, email.toLowerCase(), name, hash, salt, iterations, Math.floor(Date.now() / 1000))
    .run();
  return { id, email, password, name };
}

export function pkcePair() {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  return { verifier, challenge };
}

export async function register(base, metadata) {
  const res = await fetch(base + "/register", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(metadata),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

export async function publicClient(base, redirectUri = "http://127.0.0.1:9999/callback", extra = {}) {
  const r = await register(base, {
    redirect_uris: [redirectUri],
    token_endpoint_auth_method: "none",
    client_name: "Test App",
    grant_types: ["authorization_code", "refresh_token"],
    ...extra,
  });
  if (r.status !== 201) throw new Error("registration failed: " + JSON.stringify(r.body));
  return r.body;
}

/** Cookie jar for one browser. */
export class Browser {
  constructor() {
    this.cookies = new Map();
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  take(res) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair.indexOf("=");
      const k = pair.slice(0, i);
      const v = pair.slice(i + 1);
      if (v === "" || /max-age=0/i.test(c)) this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
  }
  async get(url) {
    const res = await fetch(url, { headers: { cookie: this.header() }, redirect: "manual" });
    this.take(res);
    return res;
  }
  async post(url, fields) {
    const res = await fetch(url, {
      method: "POST",
      headers: { cookie: this.header(), "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
      redirect: "manual",
    });
    this.take(res);
    return res;
  }
}

/** The hidden fields and CSRF token of the consent page's form. */
export function formFields(html) {
  const fields = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[m[1]] = m[2].replaceAll("&amp;", "&").replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
  }
  return fields;
}

export function authorizeUrl(base, client, { challenge, redirectUri, state = "st-" + Date.now(), scope, resource } = {}) {
  const u = new URL(base + "/authorize");
  u.searchParams.set("response_type", "code");
  u.searchParams.set("client_id", client.client_id);
  u.searchParams.set("redirect_uri", redirectUri ?? client.redirect_uris[0]);
  u.searchParams.set("code_challenge", challenge);
  u.searchParams.set("code_challenge_method", "S256");
  u.searchParams.set("state", state);
  if (scope) u.searchParams.set("scope", scope);
  u.searchParams.set("resource", resource ?? base + "/mcp");
  return u.toString();
}

/**
 * Signs in on the sign-in page `html` of /authorize, as a person would with the form; on
 * success follows the 303 back to /authorize and returns the consent page's response.
 * A failed sign-in returns the sign-in page's response (401, 429, ...).
 */
export async function signIn(base, browser, html, user) {
  const res = await browser.post(base + "/authorize", { ...formFields(html), email: user.email, password: user.password, action: "signin" });
  if (res.status !== 303) return res;
  await res.text();
  return browser.get(new URL(res.headers.get("location"), base).toString());
}

/**
 * A browser in which `user` has signed in on the Worker `w` (through /authorize's own
 * sign-in page, for a throwaway client), for requests that behave differently once the
 * person is known.
 */
export async function signedInBrowser(w, user) {
  const browser = new Browser();
  const client = await publicClient(w.url);
  const page = await browser.get(authorizeUrl(w.url, client, { challenge: pkcePair().challenge }));
  const consent = await signIn(w.url, browser, await page.text(), user);
  assert.equal(consent.status, 200, "sign-in for signedInBrowser");
  await consent.text();
  return browser;
}

/** Opens /authorize, signs in if asked to, and presses `action` on the consent page. */
export async function approve(base, browser, url, user, action = "approve") {
  const page = await browser.get(url);
  if (page.status !== 200) throw new Error("authorize page: " + page.status + " " + (await page.text()));
  let html = await page.text();
  if (/name="password"/.test(html)) {
    const consent = await signIn(base, browser, html, user);
    if (consent.status !== 200) return consent;
    html = await consent.text();
  }
  return browser.post(base + "/authorize", { ...formFields(html), action });
}

/**
 * Signs in (if asked to) and approves in `browser` (new by default) for the Worker `w`;
 * returns the code, its verifier and the redirect.
 */
export async function codeFor(w, user, client, { scope, redirectUri, browser = new Browser() } = {}) {
  const { verifier, challenge } = pkcePair();
  const res = await approve(w.url, browser, authorizeUrl(w.url, client, { challenge, scope, redirectUri }), user);
  assert.equal(res.status, 302, await res.clone().text());
  const redirect = new URL(res.headers.get("location"));
  const code = redirect.searchParams.get("code");
  assert.ok(code, redirect.toString());
  return { code, verifier, redirect };
}

/** Redeems a code from `codeFor` at `/token` (with `extra` fields). */
export const exchange = (w, client, { code, verifier }, extra = {}) =>
  token(w.url, {
    grant_type: "authorization_code",
    code,
    code_verifier: verifier,
    client_id: client.client_id,
    redirect_uri: client.redirect_uris[0],
    resource: w.url + "/mcp",
    ...extra,
  });

export async function token(base, fields, headers = {}) {
  const res = await fetch(base + "/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** The whole flow for a public client: returns { client, tokens, code, redirect }. */
export async function fullFlow(base, user, { client, scope, redirectUri, resource = base + "/mcp" } = {}) {
  client ??= await publicClient(base);
  const { verifier, challenge } = pkcePair();
  const browser = new Browser();
  const res = await approve(base, browser, authorizeUrl(base, client, { challenge, scope, redirectUri, resource }), user);
  if (res.status !== 302) throw new Error("approve: " + res.status + " " + (await res.text()));
  const redirect = new URL(res.headers.get("location"));
  const code = redirect.searchParams.get("code");
  const t = await token(base, {
    grant_type: "authorization_code",
    code,
    code_verifier: verifier,
    client_id: client.client_id,
    redirect_uri: redirectUri ?? client.redirect_uris[0],
    resource,
  });
  return { client, tokens: t.body, status: t.status, code, verifier, redirect, browser };
}
