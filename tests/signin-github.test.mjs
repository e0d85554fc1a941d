// Signing in with GitHub (issue 18), end to end against the built Worker. GitHub cannot be
// reached from tests, so tests/helpers/github-double.mjs plays it in the Worker's
// `outbound` function with the request and response shapes GitHub documents, and checks
// what the Worker sends as GitHub would (client credentials, the code, redirect_uri, the
// PKCE verifier against the challenge of the authorize URL, Authorization and User-Agent on
// API calls). The person's browser is a cookie jar; GitHub's own sign-in page is the
// double's `authorize`, which sends the browser back to the Worker's callback.
//
// Two GitHub providers on one Worker:
//   github – github.com; admits members of the org "acme" or of the team "partners/platform"
//            (checked with the membership token), ACCESS_CONTACT on the no-access page
//   ghe    – a GitHub Enterprise host with its own API URL, everyone admitted,
//            timeout_ms 1000
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startWorker } from "./helpers/worker.mjs";
import { authorizeUrl, Browser, createUser, formFields, pkcePair, publicClient, token } from "./helpers/oauth.mjs";
import { GitHubDouble } from "./helpers/github-double.mjs";
import { verifyIssued } from "./helpers/jwt.mjs";

const CLIENT_ID = "Iv1.8a61f9b3a7aba766";
const CLIENT_SECRET = "gh-app-secret-" + randomBytes(12).toString("hex");
const MEMBERSHIP_TOKEN = "ghp_membership" + randomBytes(12).toString("hex");
const GHE_CLIENT_SECRET = "ghe-app-secret-" + randomBytes(12).toString("hex");
const CONTACT = "it-help@example.com";

const gh = new GitHubDouble({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, membershipToken: MEMBERSHIP_TOKEN });
const ghe = new GitHubDouble({
  clientId: "ghe-client",
  clientSecret: GHE_CLIENT_SECRET,
  webUrl: "https://github.example.com",
  apiUrl: "https://github.example.com/api/v3",
});
/** Outbound requests for anyone but the two GitHubs. */
const strays = [];

const PROVIDERS = [
  {
    id: "github",
    type: "github",
    client_id: CLIENT_ID,
    client_secret: { secret: "GITHUB_CLIENT_SECRET" },
    allow: { github_orgs: ["acme"], github_teams: ["partners/platform"] },
    membership_token: { secret: "GITHUB_MEMBERSHIP_TOKEN" },
    // Memberships change between the steps of these tests: GitHub is asked every time.
    membership_cache_seconds: 0,
  },
  {
    id: "ghe",
    type: "github",
    name: "Acme GitHub Enterprise",
    client_id: "ghe-client",
    client_secret: { secret: "GHE_CLIENT_SECRET" },
    github_url: "https://github.example.com",
    github_api_url: "https://github.example.com/api/v3",
    timeout_ms: 1000,
    allow: { everyone: true },
  },
];

let w;
before(async () => {
  w = await startWorker({
    bindings: {
      SIGNIN_PROVIDERS: JSON.stringify(PROVIDERS),
      GITHUB_CLIENT_SECRET: CLIENT_SECRET,
      GITHUB_MEMBERSHIP_TOKEN: MEMBERSHIP_TOKEN,
      GHE_CLIENT_SECRET,
      ACCESS_CONTACT: CONTACT,
      REGISTER_RATE_LIMIT: "100000",
    },
    outbound: (req) => {
      for (const d of [gh, ghe]) if (d.handles(req.url)) return d.handle(req);
      strays.push(req.url);
      return new Response("tests have no internet", { status: 502 });
    },
  });
  gh.callbackUrl = w.url + "/signin/callback/github";
  ghe.callbackUrl = w.url + "/signin/callback/ghe";
});
after(() => w?.stop());

// ---------------------------------------------------------------------------------------
// What the tests share.

/** Every answer the Worker gave in these tests (status, headers and body), to search for secrets. */
const answers = [];

/** A browser that also keeps every answer. */
class RecordingBrowser extends Browser {
  async get(url) {
    return keep(await super.get(url));
  }
  async post(url, fields) {
    return keep(await super.post(url, fields));
  }
}
async function keep(res) {
  const text = await res.clone().text();
  answers.push(`${res.status} ${JSON.stringify([...res.headers])}\n${text}`);
  return res;
}

/** The sign-in page's form to /signin/start: its hidden fields and its provider buttons. */
function startForm(html) {
  const m = /<form\b[^>]*\baction="\/signin\/start"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  assert.ok(m, "the sign-in page has a form posting to /signin/start:\n" + html.slice(0, 2000));
  const form = m[0];
  assert.match(form, /method="post"/i);
  const fields = {};
  for (const input of form.matchAll(/<input\b[^>]*>/g)) {
    const attr = (n) => new RegExp(`\\b${n}="([^"]*)"`).exec(input[0])?.[1];
    if (attr("type") === "hidden") fields[attr("name")] = unescape(attr("value") ?? "");
  }
  const providers = [...form.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/g)]
    .filter((b) => /\bname="provider"/.test(b[1]))
    .map((b) => ({ value: /\bvalue="([^"]*)"/.exec(b[1])?.[1], type: /\btype="([^"]*)"/.exec(b[1])?.[1], text: b[2].replace(/<[^>]+>/g, "").replace(/\s+/g, " ").trim() }));
  return { fields, providers };
}
const unescape = (s) => s.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");

/** The error page's kind: data-error on its <h1>. */
const errorKind = (html) => /<h1\b[^>]*\bdata-error="([^"]+)"/.exec(html)?.[1];

/** Checks an error page: HTML, its status, data-error, no redirect, never a 5xx. */
async function assertErrorPage(res, kind, status) {
  const html = await res.text();
  assert.ok(res.status < 500, `a ${res.status} for ${kind}: ${html.slice(0, 300)}`);
  assert.equal(res.status, status, `status for ${kind}: ${html.slice(0, 600)}`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(errorKind(html), kind, html.slice(0, 600));
  assert.equal(res.headers.get("location"), null);
  return html;
}

/** Same path and the same query parameters (in any order). */
function assertSameTarget(actual, expected) {
  const a = new URL(actual, w.url);
  const b = new URL(expected, w.url);
  assert.equal(a.origin, new URL(w.url).origin, actual);
  assert.equal(a.pathname, b.pathname);
  assert.deepEqual([...a.searchParams].sort(), [...b.searchParams].sort());
}

const one = (sql, ...binds) => w.db.prepare(sql).bind(...binds).first();
const all = async (sql, ...binds) => (await w.db.prepare(sql).bind(...binds).all()).results;

/** Every row of every D1 table and every KV entry, as text. */
async function storedText() {
  const tables = await all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND substr(name, 1, 4) <> '_cf_'");
  const bytes = (k, v) => (Array.isArray(v) && v.every((x) => typeof x === "number") ? Buffer.from(v).toString("latin1") : v instanceof ArrayBuffer ? Buffer.from(v).toString("latin1") : v);
  let out = "";
  for (const { name } of tables) out += `${name}: ${JSON.stringify(await all(`SELECT * FROM "${name}"`), bytes)}\n`;
  const kv = await w.mf.getKVNamespace("OAUTH_KV");
  for (const { name } of (await kv.list()).keys) out += `kv ${name}: ${await kv.get(name)}\n`;
  return out;
}

/**
 * From /authorize in `browser` to GitHub: the sign-in page, Continue with GitHub (the
 * form's POST to /signin/start), the 303 to GitHub, GitHub's page (the double's
 * `authorize` as `login`), and the browser back at the Worker's callback. Returns every step.
 */
async function githubSignIn(login, { browser = new RecordingBrowser(), client, double = gh, provider = "github", state, deny = false } = {}) {
  client ??= await publicClient(w.url);
  const pkce = pkcePair();
  const url = authorizeUrl(w.url, client, { challenge: pkce.challenge, ...(state ? { state } : {}) });
  const page = await browser.get(url);
  const html = await page.text();
  assert.equal(page.status, 200, html.slice(0, 300));
  const start = startForm(html);
  const go = await browser.post(w.url + "/signin/start", { ...start.fields, provider });
  assert.equal(go.status, 303, (await go.text()).slice(0, 600));
  const location = go.headers.get("location");
  const callback = double.authorize(location, login, { deny });
  const back = await browser.get(callback);
  return { browser, client, pkce, url, page, start, location, callback, back };
}

/** After a callback's 303: the page it leads to (the consent page for /authorize). */
async function follow(browser, res) {
  assert.equal(res.status, 303, (await res.clone().text()).slice(0, 600));
  return browser.get(new URL(res.headers.get("location"), w.url).toString());
}

/** Signs `login` in, approves, redeems the code: the tokens and who they are for. */
async function connectWithGitHub(login, opts = {}) {
  const flow = await githubSignIn(login, opts);
  const consent = await follow(flow.browser, flow.back);
  const html = await consent.text();
  assert.equal(consent.status, 200, html.slice(0, 600));
  assert.match(html, /Allow Test App to use your account\?/);
  const approved = await flow.browser.post(w.url + "/authorize", { ...formFields(html), action: "approve" });
  assert.equal(approved.status, 302, (await approved.text()).slice(0, 300));
  const redirect = new URL(approved.headers.get("location"));
  const t = await token(w.url, {
    grant_type: "authorization_code",
    code: redirect.searchParams.get("code"),
    code_verifier: flow.pkce.verifier,
    client_id: flow.client.client_id,
    redirect_uri: flow.client.redirect_uris[0],
    resource: w.url + "/mcp",
  });
  answers.push(JSON.stringify(t.body));
  assert.equal(t.status, 200, JSON.stringify(t.body));
  const { sub } = (await verifyIssued(w, t.body.access_token, { audience: w.url + "/mcp" })).payload;
  return { ...flow, consentHtml: html, redirect, tokens: t.body, sub };
}

const refresh = async (client, refreshToken) => {
  const r = await token(w.url, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: client.client_id });
  answers.push(JSON.stringify(r.body));
  return r;
};

let nextId = 5_820_000;
/** A GitHub account (in the org "acme" unless `org` is null). */
function person(login, { org = "acme", email = `${login}@mail.example`, ...rest } = {}) {
  const p = gh.addPerson({ id: ++nextId, login, name: `Name of ${login}`, email, ...rest });
  if (org) gh.addToOrg(org, login);
  return p;
}

// ---------------------------------------------------------------------------------------
// The page, and the whole sign-in.

test("the sign-in page has one form to /signin/start with csrf_token, return_to and a Continue with GitHub button", async () => {
  const client = await publicClient(w.url);
  const { challenge } = pkcePair();
  const url = authorizeUrl(w.url, client, { challenge });
  const res = await new RecordingBrowser().get(url);
  const html = await res.text();
  assert.equal(res.status, 200);
  assert.equal(html.match(/action="\/signin\/start"/g)?.length, 1, "one form");
  const { fields, providers } = startForm(html);
  assert.match(fields.csrf_token ?? "", /^[A-Za-z0-9_-]{20,}$/);
  assertSameTarget(fields.return_to, url.slice(w.url.length));
  assert.ok(fields.return_to.startsWith("/authorize?"), fields.return_to);
  const github = providers.find((p) => p.value === "github");
  assert.ok(github, JSON.stringify(providers));
  assert.equal(github.text, "Continue with GitHub");
  assert.equal(github.type, "submit");
  assert.ok(providers.some((p) => p.value === "ghe"), "one button per provider");
  // /account offers the same, returning there.
  const account = await new RecordingBrowser().get(w.url + "/account");
  const a = startForm(await account.text());
  assert.equal(a.fields.return_to, "/account");
  assert.ok(a.providers.some((p) => p.value === "github"));
});

test("a person signs in with GitHub from /authorize, approves, and the app's token works at /mcp", async () => {
  const alice = person("octo-alice", {
    emails: [
      { email: "old-alice@mail.example", primary: false, verified: true, visibility: null },
      { email: "alice@acme.example", primary: true, verified: true, visibility: "private" },
    ],
  });
  const before = gh.requests.length;
  const flow = await githubSignIn("octo-alice", { state: "app-state-1" });

  // The 303 to GitHub.
  const to = new URL(flow.location);
  assert.equal(to.origin + to.pathname, "https://github.com/login/oauth/authorize");
  const q = to.searchParams;
  assert.equal(q.get("client_id"), CLIENT_ID);
  assert.equal(q.get("redirect_uri"), w.url + "/signin/callback/github");
  assert.deepEqual((q.get("scope") ?? "").split(" ").sort(), ["read:user", "user:email"]);
  assert.match(q.get("state") ?? "", /^[A-Za-z0-9_-]{22,}$/, "an unguessable state");
  assert.notEqual(q.get("state"), "app-state-1", "not the app's state");
  assert.match(q.get("code_challenge") ?? "", /^[A-Za-z0-9_-]{43}$/);
  assert.equal(q.get("code_challenge_method"), "S256");
  assert.equal((await storedText()).includes(q.get("state")), false, "the state is stored only as a hash");

  // Back at the callback: a session and a 303 to the page the sign-in started from.
  assert.equal(flow.back.status, 303, await flow.back.clone().text());
  assertSameTarget(flow.back.headers.get("location"), flow.start.fields.return_to);
  assert.ok(flow.browser.cookies.has("mcp-session"), "a session cookie");

  // What GitHub saw, as GitHub checks it.
  const seen = gh.requests.slice(before);
  const [exchange] = seen.filter((r) => r.kind === "token");
  assert.equal(exchange.method, "POST");
  assert.match(exchange.headers["content-type"] ?? "", /^application\/x-www-form-urlencoded/);
  assert.match(exchange.headers["accept"] ?? "", /application\/json/);
  const form = new URLSearchParams(exchange.body);
  assert.equal(form.get("client_id"), CLIENT_ID);
  assert.equal(form.get("client_secret"), CLIENT_SECRET);
  assert.equal(form.get("code"), new URL(flow.callback).searchParams.get("code"));
  assert.equal(form.get("redirect_uri"), w.url + "/signin/callback/github");
  assert.equal(createHash("sha256").update(form.get("code_verifier") ?? "").digest("base64url"), q.get("code_challenge"));
  const ghToken = gh.issuedTokens().at(-1);
  assert.match(ghToken, /^gho_/);
  for (const kind of ["user", "emails"]) {
    const calls = seen.filter((r) => r.kind === kind);
    assert.equal(calls.length, 1, `one ${kind} call`);
    assert.equal(calls[0].method, "GET");
    assert.equal(calls[0].headers["authorization"], "Bearer " + ghToken);
    assert.ok(calls[0].headers["user-agent"], "GitHub's API requires a User-Agent");
  }
  const members = seen.filter((r) => r.kind === "members");
  assert.equal(members.length, 1);
  assert.equal(members[0].url, "https://api.github.com/orgs/acme/members/octo-alice");
  assert.equal(members[0].headers["authorization"], "Bearer " + MEMBERSHIP_TOKEN, "membership is asked with the membership token");
  assert.ok(members[0].headers["user-agent"]);
  assert.deepEqual(strays, []);

  // The consent page, as the new person; approve; the code; the tokens.
  const consent = await follow(flow.browser, flow.back);
  const html = await consent.text();
  assert.equal(consent.status, 200, html.slice(0, 600));
  assert.match(html, /Allow Test App to use your account\?/);
  assert.ok(html.includes("Signed in as <strong>alice@acme.example</strong>"), "the primary verified address");
  const approved = await flow.browser.post(w.url + "/authorize", { ...formFields(html), action: "approve" });
  assert.equal(approved.status, 302);
  const redirect = new URL(approved.headers.get("location"));
  assert.equal(redirect.searchParams.get("state"), "app-state-1");
  assert.equal(redirect.searchParams.get("iss"), w.url);
  const t = await token(w.url, {
    grant_type: "authorization_code",
    code: redirect.searchParams.get("code"),
    code_verifier: flow.pkce.verifier,
    client_id: flow.client.client_id,
    redirect_uri: flow.client.redirect_uris[0],
    resource: w.url + "/mcp",
  });
  answers.push(JSON.stringify(t.body));
  assert.equal(t.status, 200, JSON.stringify(t.body));

  // The person: a users row without a password, one identity keyed by the numeric id.
  const user = await one("SELECT * FROM users WHERE email = ?", "alice@acme.example");
  assert.ok(user, "a person was created");
  assert.equal(user.name, "Name of octo-alice");
  assert.equal(user.password_hash, "");
  assert.equal((await verifyIssued(w, t.body.access_token, { audience: w.url + "/mcp" })).payload.sub, user.id);
  const ids = await all("SELECT * FROM identities WHERE user_id = ?", user.id);
  assert.equal(ids.length, 1, JSON.stringify(ids));
  assert.equal(ids[0].provider, "github:github.com");
  assert.equal(ids[0].subject, String(alice.id));
  assert.equal(ids[0].login, "octo-alice");
  const signIns = await all("SELECT * FROM audit_events WHERE event = 'sign_in' AND user_id = ?", user.id);
  assert.equal(signIns.length, 1);
  assert.equal(signIns[0].detail, "provider github");
  assert.equal(signIns[0].outcome, "ok");

  // The app, with the MCP SDK's client and that token.
  const transport = new StreamableHTTPClientTransport(new URL(w.url + "/mcp"), {
    requestInit: { headers: { Authorization: "Bearer " + t.body.access_token } },
  });
  const mcp = new Client({ name: "github-signin-test", version: "1" });
  await mcp.connect(transport);
  const { tools } = await mcp.listTools();
  assert.ok(tools.some((x) => x.name === "memory_store"));
  const stored = await mcp.callTool({ name: "memory_store", arguments: { text: "Signed in through GitHub" } });
  answers.push(JSON.stringify(stored));
  assert.equal(stored.isError, false, JSON.stringify(stored));
  const note = await one("SELECT user_id FROM notes WHERE id = ?", stored.structuredContent.id);
  assert.equal(note.user_id, user.id);
  await mcp.close();

  // GitHub's token, the app secret and the membership token are nowhere.
  const stored_ = await storedText();
  const logs = w.logs.join("\n");
  for (const [name, secret] of [["the GitHub token", ghToken], ["the client secret", CLIENT_SECRET], ["the membership token", MEMBERSHIP_TOKEN]]) {
    assert.equal(stored_.includes(secret), false, `${name} in D1 or KV`);
    assert.equal(answers.some((a) => a.includes(secret)), false, `${name} in an answer of the Worker`);
    assert.equal(logs.includes(secret), false, `${name} in the Worker's log`);
  }
});

test("the identity is GitHub's numeric id: a renamed login is the same person, a new owner of the old login is not", async () => {
  const bob = person("octo-bob", { email: "bob@acme.example" });
  const first = await connectWithGitHub("octo-bob");
  gh.rename("octo-bob", "octo-robert");
  const second = await connectWithGitHub("octo-robert");
  assert.equal(second.sub, first.sub, "the same person after the rename");
  assert.ok(second.consentHtml.includes("Signed in as <strong>bob@acme.example</strong>"));
  const rows = await all("SELECT * FROM identities WHERE subject = ?", String(bob.id));
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.equal(rows[0].user_id, first.sub);
  assert.equal((await one("SELECT COUNT(*) AS n FROM users WHERE email = ?", "bob@acme.example")).n, 1);

  // Someone else registers the freed login on GitHub: another id, another person.
  const other = person("octo-bob", { email: "second-bob@acme.example" });
  const third = await connectWithGitHub("octo-bob");
  assert.notEqual(third.sub, first.sub, "a login is not an identity");
  assert.ok(third.consentHtml.includes("Signed in as <strong>second-bob@acme.example</strong>"));
  const theirs = await one("SELECT * FROM identities WHERE subject = ?", String(other.id));
  assert.equal(theirs.user_id, third.sub);
  assert.equal(theirs.provider, "github:github.com");
});

test("GitHub Enterprise: its own web and API URLs, and the identity keyed by its host", async () => {
  ghe.addPerson({ id: 77, login: "ent-user", name: "Enterprise User", email: "ent@corp.example" });
  const before = ghe.requests.length;
  const onGithubCom = gh.requests.length;
  const c = await connectWithGitHub("ent-user", { double: ghe, provider: "ghe" });
  const to = new URL(c.location);
  assert.equal(to.origin + to.pathname, "https://github.example.com/login/oauth/authorize");
  assert.equal(to.searchParams.get("redirect_uri"), w.url + "/signin/callback/ghe");
  const seen = ghe.requests.slice(before);
  assert.deepEqual(seen.map((r) => `${r.method} ${r.url}`).sort(), [
    "GET https://github.example.com/api/v3/user",
    "GET https://github.example.com/api/v3/user/emails",
    "POST https://github.example.com/login/oauth/access_token",
  ]);
  assert.equal(gh.requests.length, onGithubCom, "nothing of this sign-in went to github.com");
  const row = await one("SELECT * FROM identities WHERE user_id = ?", c.sub);
  assert.equal(row.provider, "github:github.example.com");
  assert.equal(row.subject, "77");
  const audit = await one("SELECT detail FROM audit_events WHERE event = 'sign_in' AND user_id = ?", c.sub);
  assert.equal(audit.detail, "provider ghe");
});

// ---------------------------------------------------------------------------------------
// Who may sign in.

test("someone in neither the org nor the team gets the no-access page with whom to ask; a pending team invitation is not membership", async () => {
  person("octo-outsider", { org: null, email: "outsider@mail.example" });
  const flow = await githubSignIn("octo-outsider");
  const html = await assertErrorPage(flow.back, "no_access", 403);
  assert.ok(html.includes(CONTACT), "ACCESS_CONTACT is on the page");
  assert.equal(flow.browser.cookies.has("mcp-session"), false);
  assert.equal(await one("SELECT id FROM users WHERE email = ?", "outsider@mail.example"), null);
  const rows = await all("SELECT * FROM audit_events WHERE event = 'sign_in_failed' AND detail LIKE 'provider github:%'");
  assert.ok(rows.length >= 1, "a sign_in_failed row 'provider github: ...'");

  person("octo-invited", { org: null, email: "invited@mail.example" });
  gh.addToTeam("partners", "platform", "octo-invited", "pending");
  gh.addToOrg("partners", "someone-else"); // the org exists; the invitee is not in it yet
  const invited = await githubSignIn("octo-invited");
  await assertErrorPage(invited.back, "no_access", 403);
  assert.equal(await one("SELECT id FROM users WHERE email = ?", "invited@mail.example"), null);
});

test("someone in the team partners/platform but not in the org acme is admitted", async () => {
  person("octo-partner", { org: null, email: "partner@partners.example" });
  gh.addToTeam("partners", "platform", "octo-partner", "active");
  const before = gh.requests.length;
  const c = await connectWithGitHub("octo-partner");
  assert.ok(c.consentHtml.includes("partner@partners.example"));
  const teams = gh.requests.slice(before).filter((r) => r.kind === "teams");
  assert.ok(teams.length >= 1, "the team membership was asked");
  assert.equal(teams[0].url, "https://api.github.com/orgs/partners/teams/platform/memberships/octo-partner");
  assert.equal(teams[0].headers["authorization"], "Bearer " + MEMBERSHIP_TOKEN);
});

test("a new person whose primary address is not verified gets email_unverified, and nothing is created", async () => {
  const carol = person("octo-carol", {
    publicEmail: "carol@acme.example",
    emails: [
      { email: "carol@acme.example", primary: true, verified: false, visibility: "public" },
      { email: "carol@other.example", primary: false, verified: true, visibility: null },
    ],
  });
  const flow = await githubSignIn("octo-carol");
  await assertErrorPage(flow.back, "email_unverified", 403);
  assert.equal(flow.browser.cookies.has("mcp-session"), false);
  for (const email of ["carol@acme.example", "carol@other.example"]) assert.equal(await one("SELECT id FROM users WHERE email = ?", email), null, email);
  assert.equal(await one("SELECT * FROM identities WHERE subject = ?", String(carol.id)), null);
});

test("a GitHub address that is a local account's, not linked, gets account_exists", async () => {
  const local = await createUser(w.db, "frank@acme.example", "frank-password-1", "Frank");
  const frank = person("octo-frank", { email: "frank@acme.example" });
  const flow = await githubSignIn("octo-frank");
  await assertErrorPage(flow.back, "account_exists", 403);
  assert.equal(flow.browser.cookies.has("mcp-session"), false);
  assert.equal(await one("SELECT * FROM identities WHERE subject = ?", String(frank.id)), null);
  assert.equal((await one("SELECT COUNT(*) AS n FROM identities WHERE user_id = ?", local.id)).n, 0);
});

test("a disabled person gets account_disabled whatever GitHub says", async () => {
  person("octo-erin", { email: "erin@acme.example" });
  const c = await connectWithGitHub("octo-erin");
  await w.db.prepare("UPDATE users SET disabled_at = ?1 WHERE id = ?2").bind(Math.floor(Date.now() / 1000), c.sub).run();
  const again = await githubSignIn("octo-erin");
  await assertErrorPage(again.back, "account_disabled", 403);
  assert.equal(again.browser.cookies.has("mcp-session"), false);
});

test("membership is checked again at refresh: out of the org, the refresh grant is invalid_grant and sign-in is refused", async () => {
  person("octo-dave", { email: "dave@acme.example" });
  const c = await connectWithGitHub("octo-dave");
  const before = gh.calls("members").length;
  const r1 = await refresh(c.client, c.tokens.refresh_token);
  assert.equal(r1.status, 200, JSON.stringify(r1.body));
  const checks = gh.calls("members").slice(before);
  assert.ok(checks.length >= 1, "the refresh asked GitHub again");
  assert.equal(checks[0].url, "https://api.github.com/orgs/acme/members/octo-dave");
  assert.equal(checks[0].headers["authorization"], "Bearer " + MEMBERSHIP_TOKEN);

  gh.removeFromOrg("acme", "octo-dave");
  const r2 = await refresh(c.client, r1.body.refresh_token);
  assert.equal(r2.status, 400, JSON.stringify(r2.body));
  assert.equal(r2.body.error, "invalid_grant");
  assert.equal(r2.body.access_token, undefined);

  // A person already here is still checked against `allow` at sign-in.
  const again = await githubSignIn("octo-dave");
  await assertErrorPage(again.back, "no_access", 403);
});

test("at refresh, a renamed member is asked about by the current login of the same account", async () => {
  const p = person("octo-rita", { email: "rita@acme.example" });
  const c = await connectWithGitHub("octo-rita");
  gh.rename("octo-rita", "octo-margarita");
  const before = gh.requests.length;
  const r1 = await refresh(c.client, c.tokens.refresh_token);
  assert.equal(r1.status, 200, JSON.stringify(r1.body));
  const asked = gh.requests.slice(before).filter((r) => r.kind === "members").map((r) => r.url);
  assert.deepEqual(asked, ["https://api.github.com/orgs/acme/members/octo-margarita"]);
  // Someone else now holding the old login, and in the org, does not keep the renamed
  // person in: out of the org, refused.
  person("octo-rita", { email: "new-rita@acme.example" });
  gh.removeFromOrg("acme", "octo-margarita");
  const r2 = await refresh(c.client, r1.body.refresh_token);
  assert.equal(r2.status, 400, JSON.stringify(r2.body));
  assert.equal(r2.body.error, "invalid_grant");
  assert.ok(p.id, "the same numeric id throughout");
});

// ---------------------------------------------------------------------------------------
// GitHub failing, and the callback misused.

test("a code GitHub refuses (bad_verification_code) is provider_failed", async () => {
  // The real state, with a code GitHub never issued: GitHub answers 200 {"error": ...}.
  const { browser, state } = await startOnly();
  const before = gh.calls("token").length;
  const bad = await browser.get(`${w.url}/signin/callback/github?code=0000deadbeef0000dead&state=${encodeURIComponent(state)}`);
  const html = await assertErrorPage(bad, "provider_failed", 400);
  const calls = gh.calls("token").slice(before);
  assert.equal(calls.length, 1, "the code was taken to GitHub once");
  assert.equal(new URLSearchParams(calls[0].body).get("code"), "0000deadbeef0000dead");
  assert.equal(gh.calls("user").filter((r) => r.at >= calls[0].at).length, 0, "no API call without a token");
  assert.equal(browser.cookies.has("mcp-session"), false);
  assert.doesNotMatch(html, /gho_/);
  const failed = await all("SELECT detail FROM audit_events WHERE event = 'sign_in_failed' AND detail LIKE 'provider github:%'");
  assert.ok(failed.length >= 1, "a sign_in_failed row 'provider github: ...'");
});

/** /authorize, then Continue with GitHub: the state of GitHub's authorize URL. */
async function startOnly(browser = new RecordingBrowser(), provider = "github") {
  const client = await publicClient(w.url);
  const { challenge } = pkcePair();
  const page = await browser.get(authorizeUrl(w.url, client, { challenge }));
  const start = startForm(await page.text());
  const go = await browser.post(w.url + "/signin/start", { ...start.fields, provider });
  assert.equal(go.status, 303);
  const location = go.headers.get("location");
  return { browser, location, state: new URL(location).searchParams.get("state"), start };
}

for (const [label, kind, fault] of [
  ["the token endpoint answers 502", "token", 502],
  ["GitHub cannot be reached", "token", "unreachable"],
  ["/user answers 500", "user", 500],
  ["/user/emails answers 503", "emails", 503],
  ["the org membership check answers 500", "members", 500],
]) {
  test(`provider_unavailable when ${label}`, async (t) => {
    const login = "octo-down-" + kind + "-" + String(fault);
    person(login, { email: `${login}@acme.example` });
    gh.faults[kind] = fault;
    t.after(() => delete gh.faults[kind]);
    const flow = await githubSignIn(login);
    await assertErrorPage(flow.back, "provider_unavailable", 400);
    assert.equal(flow.browser.cookies.has("mcp-session"), false);
    assert.equal(await one("SELECT id FROM users WHERE email = ?", `${login}@acme.example`), null);
  });
}

test("provider_unavailable when GitHub's API does not answer within timeout_ms", async (t) => {
  ghe.addPerson({ id: 78, login: "slow-user", email: "slow@corp.example" });
  ghe.faults.user = { delayMs: 8000 };
  t.after(() => delete ghe.faults.user);
  const { browser, location } = await startOnly(new RecordingBrowser(), "ghe");
  const callback = ghe.authorize(location, "slow-user");
  const started = Date.now();
  const res = await browser.get(callback);
  const took = Date.now() - started;
  await assertErrorPage(res, "provider_unavailable", 400);
  assert.ok(took < 4500, `answered after ${took} ms: timeout_ms is 1000`);
  assert.equal(await one("SELECT id FROM users WHERE email = ?", "slow@corp.example"), null);
});

test("the callback's state: reused, from another browser, or unknown is signin_expired", async () => {
  person("octo-hank", { email: "hank@acme.example" });
  const flow = await githubSignIn("octo-hank");
  assert.equal(flow.back.status, 303);
  // The same callback again, in the same browser.
  const tokenCalls = gh.calls("token").length;
  const again = await flow.browser.get(flow.callback);
  await assertErrorPage(again, "signin_expired", 400);
  assert.equal(gh.calls("token").length, tokenCalls, "a used state never reaches GitHub");

  // Started in one browser, GitHub's redirect opened in another (login CSRF).
  const { location } = await startOnly();
  const callback = gh.authorize(location, "octo-hank");
  const elsewhere = new RecordingBrowser();
  const stolen = await elsewhere.get(callback);
  await assertErrorPage(stolen, "signin_expired", 400);
  assert.equal(elsewhere.cookies.has("mcp-session"), false);

  // A state this Worker never issued.
  const { browser } = await startOnly();
  const unknown = await browser.get(`${w.url}/signin/callback/github?code=abc123&state=${"x".repeat(43)}`);
  await assertErrorPage(unknown, "signin_expired", 400);
  assert.equal(browser.cookies.has("mcp-session"), false);
});

test("?error=access_denied from GitHub is provider_refused, with the code in the details", async () => {
  person("octo-ivy", { email: "ivy@acme.example" });
  const tokenCalls = gh.calls("token").length;
  const flow = await githubSignIn("octo-ivy", { deny: true });
  assert.equal(new URL(flow.callback).searchParams.get("error"), "access_denied");
  const html = await assertErrorPage(flow.back, "provider_refused", 400);
  assert.match(html, /access_denied/);
  assert.equal(gh.calls("token").length, tokenCalls);
  assert.equal(flow.browser.cookies.has("mcp-session"), false);
});

test("/signin/start refuses an unknown provider, a return_to elsewhere, and a form without its CSRF token", async () => {
  const { browser, start } = await startOnly();
  const unknown = await browser.post(w.url + "/signin/start", { ...start.fields, provider: "gitlab" });
  await assertErrorPage(unknown, "bad_form", 400);
  for (const elsewhere of ["https://evil.example/authorize", "//evil.example/authorize", "/\\evil.example"]) {
    const res = await browser.post(w.url + "/signin/start", { ...start.fields, return_to: elsewhere, provider: "github" });
    await assertErrorPage(res, "bad_form", 400);
  }
  const noToken = await browser.post(w.url + "/signin/start", { return_to: start.fields.return_to, provider: "github" });
  assert.ok(noToken.status >= 400 && noToken.status < 500, String(noToken.status));
  assert.equal(noToken.headers.get("location"), null);
  const otherBrowser = await new RecordingBrowser().post(w.url + "/signin/start", { ...start.fields, provider: "github" });
  assert.ok(otherBrowser.status >= 400 && otherBrowser.status < 500, String(otherBrowser.status));
  assert.equal(otherBrowser.headers.get("location"), null);
});
