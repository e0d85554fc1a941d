// SCOPES end to end: the operator's own scopes, roles and per-tool needs, against the
// built Worker. The agent platform's vocabulary (mcp:read < mcp:execute < mcp:manage, the
// last for administrators), an upstream MCP server behind the gateway whose own tool is
// mapped to mcp:execute, consent that leaves out what a person's roles do not allow, a
// refresh that narrows after `npm run user -- role remove`, a pre-registered client with
// one scope and its own lifetimes, a broken setting named by its path, the consent page
// in Chromium, and the Worker without SCOPES as it was.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { localState, startWorker } from "./helpers/worker.mjs";
import { runNode } from "./helpers/process.mjs";
import { Browser, authorizeUrl, createUser, formFields, fullFlow, pkcePair, publicClient, signIn, token } from "./helpers/oauth.mjs";
import { modernCall } from "./helpers/mcp.mjs";
import { recordingUpstream } from "./helpers/upstream.mjs";
import { verifyIssued } from "./helpers/jwt.mjs";
import { PersonProvider, connectSignedIn } from "./helpers/person-provider.mjs";
import { launchChromium, axeViolations, watchConsole } from "./helpers/chromium.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const AGENTS_URL = "https://agents.acme.test/mcp";
const WORDS = {
  "mcp:read": "See your agents and their past runs",
  "mcp:execute": "Start and stop runs of your agents",
  "mcp:manage": "Create, change and delete agents",
};
const AGENT_SCOPES = {
  scopes: [
    { name: "mcp:read", description: WORDS["mcp:read"], default: true },
    { name: "mcp:execute", description: WORDS["mcp:execute"], default: true, implies: ["mcp:read"] },
    { name: "mcp:manage", description: WORDS["mcp:manage"], roles: ["admin"], implies: ["mcp:execute"] },
  ],
  write: "mcp:execute",
  tools: { memory_delete: "mcp:manage" },
};
const ALL_THREE = "mcp:read mcp:execute mcp:manage";

let dir, w, agents, count = 0;
before(async () => {
  agents = recordingUpstream("agents");
  dir = await localState("scopes-roles-");
  w = await startWorker({
    persistTo: dir,
    bindings: {
      SCOPES: JSON.stringify(AGENT_SCOPES),
      // The upstream's own tool `lookup` is read-only, but the operator says running it
      // needs mcp:execute; its other tools follow the catalog's read and write scopes.
      UPSTREAMS: JSON.stringify([{ name: "agents", url: AGENTS_URL, scopes: { "look*": "mcp:execute" } }]),
    },
    outbound: (req) => (new URL(req.url).host === "agents.acme.test" ? agents.handle(req) : new Response("tests have no internet", { status: 502 })),
  });
});
after(async () => {
  await w?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------
// Helpers shared by the tests.

/** A new person on `on` (the shared Worker unless told), with `roles` given directly in D1. */
async function person(label, roles = [], on = w) {
  const p = await createUser(on.db, `${label}-${++count}@example.com`, `${label}-password-${count}`, label);
  for (const role of roles) {
    await on.db.prepare("INSERT INTO user_roles (user_id, role, source, created_at) VALUES (?1, ?2, 'operator', ?3)").bind(p.id, role, Math.floor(Date.now() / 1000)).run();
  }
  return p;
}

/** `npm run user` / `npm run client` against the shared Worker's local state. */
const cli = (script, ...args) => runNode(join(ROOT, "scripts", script), [...args, "--persist-to", dir], { cwd: ROOT, env: { CI: "true", WRANGLER_SEND_METRICS: "false" } });

/** Opens /authorize for `scope`, signs `user` in, and returns the consent page and its form. */
async function consent(user, client, scope, on = w) {
  const browser = new Browser();
  const { verifier, challenge } = pkcePair();
  const state = "st-" + ++count;
  const page = await browser.get(authorizeUrl(on.url, client, { challenge, scope, state }));
  assert.equal(page.status, 200, "the sign-in page");
  const signedIn = await signIn(on.url, browser, await page.text(), user);
  assert.equal(signedIn.status, 200, "the consent page");
  const html = await signedIn.text();
  const press = (action) => browser.post(on.url + "/authorize", { ...formFields(html), action });
  return { html, press, verifier, state, browser };
}

/** The items of each `<ul class="scopes">` on a page, in order. */
const scopeLists = (html) => [...html.matchAll(/<ul class="scopes">(.*?)<\/ul>/gs)].map((m) => [...m[1].matchAll(/<li>(.*?)<\/li>/g)].map((l) => l[1]));
const h1 = (html) => /<h1[^>]*>(.*?)<\/h1>/s.exec(html)?.[1];
const actions = (html) => [...html.matchAll(/<button type="submit" name="action" value="([^"]+)"[^>]*>([^<]*)<\/button>/g)].map((m) => `${m[1]}:${m[2]}`);

/** The whole flow for `user` asking `scope`; the token response, checked to be 200. */
async function tokensFor(user, scope, on = w) {
  const flow = await fullFlow(on.url, user, { scope });
  assert.equal(flow.status, 200, JSON.stringify(flow.tokens));
  return { ...flow.tokens, client: flow.client };
}

/** tools/call in the 2026-07-28 shape; the result (or the JSON-RPC error's response). */
async function call(accessToken, name, args = {}, on = w) {
  const res = await modernCall(on.url, accessToken, "tools/call", { name, arguments: args });
  assert.equal(res.status, 200, res.text);
  return res.json.result ?? res.json;
}

/**
 * A tools/call refused for want of scope, made twice with the same token: as ChatGPT's
 * connector sends it (User-Agent openai-mcp/...), answered by an isError result carrying
 * the challenge in _meta (ChatGPT asks for more access only from a tool result), and as
 * any other client sends it, answered by HTTP 403 insufficient_scope (Claude and the SDKs
 * step up only from that). Checks that both carry the same challenge; returns its
 * parameters, and the whole header as `challenge`.
 */
async function refusal(accessToken, name, args = {}, on = w) {
  const params = { name, arguments: args };
  const chatgpt = await modernCall(on.url, accessToken, "tools/call", params, { headers: { "User-Agent": "openai-mcp/1.0.0" } });
  assert.equal(chatgpt.status, 200, chatgpt.text);
  const result = chatgpt.json.result;
  assert.equal(result?.isError, true, chatgpt.text);
  const [header] = result._meta["mcp/www_authenticate"];
  assert.match(header, new RegExp(`^Bearer resource_metadata="${on.url.replace(/[.]/g, "\\.")}/\\.well-known/oauth-protected-resource/mcp"`));
  const found = Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  const http = await modernCall(on.url, accessToken, "tools/call", params);
  assert.equal(http.status, 403, http.text);
  assert.equal(http.headers.get("www-authenticate"), header, "the same challenge in both shapes");
  assert.deepEqual(http.json, { error: "insufficient_scope", error_description: found.error_description });
  return { ...found, challenge: header };
}

/** The claims of the user assertion on a request the upstream recorded (verified). */
async function assertionOf(request) {
  const { payload } = await verifyIssued(w, request.headers["mcp-user-assertion"], { audience: AGENTS_URL, typ: "user-assertion+jwt" });
  return payload;
}

/** A Worker started with `bindings`, given to `body`, then stopped. */
async function withWorker(bindings, body) {
  const other = await startWorker({ bindings });
  try {
    return await body(other);
  } finally {
    await other.stop();
  }
}

const claimsOf = async (accessToken, on = w) => (await verifyIssued(on, accessToken, { audience: on.url + "/mcp" })).payload;
const auditRows = async (event, userId, on = w) =>
  (await on.db.prepare("SELECT detail, client_id FROM audit_events WHERE event = ?1 AND user_id = ?2 ORDER BY id").bind(event, userId).all()).results;

// ---------------------------------------------------------------------------------------
// 1. The agent platform's vocabulary.

test("a person without admin asks for all three scopes: the page leaves out mcp:manage and the token holds read and execute", async () => {
  const ann = await person("ann");
  const client = await publicClient(w.url);
  const page = await consent(ann, client, ALL_THREE);
  assert.equal(h1(page.html), "Allow Test App to use your account?");
  assert.deepEqual(scopeLists(page.html), [[WORDS["mcp:read"], WORDS["mcp:execute"]], [WORDS["mcp:manage"]]]);
  assert.match(page.html, /Your account(&#39;|')s roles do not include the rest of what it asked for/);
  assert.deepEqual(actions(page.html), ["switch:Not you?", "deny:Deny", "approve:Approve"]);

  const res = await page.press("approve");
  assert.equal(res.status, 302, await res.clone().text());
  const code = new URL(res.headers.get("location")).searchParams.get("code");
  const t = await token(w.url, { grant_type: "authorization_code", code, code_verifier: page.verifier, client_id: client.client_id, redirect_uri: client.redirect_uris[0], resource: w.url + "/mcp" });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  assert.equal(t.body.scope, "mcp:read mcp:execute");
  const claims = await claimsOf(t.body.access_token);
  assert.equal(claims.scope, "mcp:read mcp:execute");
  assert.equal(claims.roles, undefined, "no roles claim for a person without roles");
  assert.deepEqual((await auditRows("consent_given", ann.id)).map((r) => r.detail), ["mcp:read mcp:execute (not allowed: mcp:manage)"]);
});

test("an admin gets all three, the token names the role, and only mcp:manage deletes", async () => {
  const ada = await person("ada", ["admin"]);
  const ann = await person("ann");
  const admin = await tokensFor(ada, ALL_THREE);
  assert.equal(admin.scope, ALL_THREE);
  assert.deepEqual((await claimsOf(admin.access_token)).roles, ["admin"]);
  const plain = await tokensFor(ann, ALL_THREE);
  assert.equal(plain.scope, "mcp:read mcp:execute");

  const { json } = await modernCall(w.url, plain.access_token, "tools/list");
  const byName = Object.fromEntries(json.result.tools.map((t) => [t.name, t]));
  for (const [tool, schemes] of [
    ["memory_delete", [{ type: "oauth2", scopes: ["mcp:manage"] }]],
    ["memory_store", [{ type: "oauth2", scopes: ["mcp:execute"] }]],
    ["search", [{ type: "oauth2", scopes: ["mcp:read"] }]],
    ["about", [{ type: "oauth2", scopes: ["mcp:read"] }]],
    ["agents_lookup", [{ type: "oauth2", scopes: ["mcp:execute"] }]],
    ["agents_report", [{ type: "oauth2", scopes: ["mcp:read"] }]],
    ["agents_create_ticket", [{ type: "oauth2", scopes: ["mcp:execute"] }]],
  ]) {
    assert.ok(byName[tool], `${tool} is listed: ${Object.keys(byName)}`);
    assert.deepEqual(byName[tool].securitySchemes, schemes, tool);
    assert.deepEqual(byName[tool]._meta.securitySchemes, schemes, tool);
  }

  // Read and execute: storing works (write is mcp:execute), deleting needs mcp:manage.
  const stored = await call(plain.access_token, "memory_store", { text: "Agent run notes" });
  assert.equal(stored.isError, false, JSON.stringify(stored));
  const id = stored.structuredContent.id;
  const refused = await refusal(plain.access_token, "memory_delete", { id });
  assert.equal(refused.error, "insufficient_scope");
  assert.equal(refused.scope, ALL_THREE);
  assert.equal(refused.error_description, "the memory_delete tool needs the mcp:manage scope");
  assert.equal((await call(plain.access_token, "fetch", { id })).isError, false, "the note is still there");
  // A scope implying another passes its checks: mcp:manage reads and stores too.
  assert.equal((await call(admin.access_token, "search", { query: "anything" })).isError, false);
  const own = await call(admin.access_token, "memory_store", { text: "Admin's note" });
  assert.equal((await call(admin.access_token, "memory_delete", { id: own.structuredContent.id })).isError, false);
});

test("an mcp:execute token reads through the implication, and an mcp:read token cannot store", async () => {
  const ann = await person("ann");
  const exec = await tokensFor(ann, "mcp:execute");
  assert.equal(exec.scope, "mcp:execute");
  assert.equal((await call(exec.access_token, "search", { query: "x" })).isError, false);
  assert.equal((await call(exec.access_token, "memory_list")).isError, false);
  const read = await tokensFor(ann, "mcp:read");
  const refused = await refusal(read.access_token, "memory_store", { text: "no" });
  assert.equal(refused.scope, "mcp:read mcp:execute");
  assert.equal(refused.error_description, "the memory_store tool needs the mcp:execute scope");
});

test("an upstream tool mapped to mcp:execute, called with an mcp:read token, never reaches the upstream", async () => {
  const ann = await person("ann");
  const read = await tokensFor(ann, "mcp:read");
  assert.equal(read.scope, "mcp:read");
  // The read-only tool the mapping does not name goes through with the same token.
  const report = await call(read.access_token, "agents_report", { steps: 1 });
  assert.equal(report.content[0].text, "report of 1 steps");
  const before = agents.requests.length;
  const refused = await refusal(read.access_token, "agents_lookup", { order: "7" });
  assert.equal(refused.error, "insufficient_scope");
  assert.equal(refused.scope, "mcp:read mcp:execute");
  assert.equal(refused.error_description, "the agents_lookup tool needs the mcp:execute scope");
  assert.equal(agents.requests.length, before, "nothing reached the upstream");
  assert.equal(agents.callsOf("lookup").filter((r) => r.body.params.arguments.order === "7").length, 0);

  // With read and execute it goes through, and the assertion names the scope, no roles.
  const plain = await tokensFor(ann, "mcp:read mcp:execute");
  const ok = await call(plain.access_token, "agents_lookup", { order: "8" });
  assert.equal(ok.content[0].text, "order 8: shipped");
  const [reached] = agents.callsOf("lookup").filter((r) => r.body.params.arguments.order === "8");
  const a = await assertionOf(reached);
  assert.equal(a.sub, ann.id);
  assert.equal(a.scope, (await claimsOf(plain.access_token)).scope);
  assert.deepEqual(a.scope.split(" ").filter((s) => s.startsWith("mcp:")), ["mcp:read", "mcp:execute"]);
  assert.equal(a.roles, undefined);
});

test("the SDK client signs an admin in, and the upstream's assertion carries the scope and roles [admin]", async () => {
  const ada = await person("ada", ["admin"]);
  // The 401 names the default scopes, which the SDK asks for (SEP-835); the admin's
  // console asks for all three instead, as an app built for administrators would.
  const challenge = (await modernCall(w.url, null, "tools/list")).headers.get("www-authenticate");
  assert.match(challenge, /scope="mcp:read mcp:execute"/);
  const provider = new PersonProvider(w.url, "http://127.0.0.1:33431/callback", ada, "Agent console");
  const original = provider.redirectToAuthorization.bind(provider);
  const asked = [];
  provider.redirectToAuthorization = (url) => {
    asked.push(url.searchParams.get("scope"));
    url.searchParams.set("scope", ALL_THREE);
    return original(url);
  };
  const client = await connectSignedIn(w.url, provider, "scopes-test");
  assert.deepEqual(asked, ["mcp:read mcp:execute"], "what the SDK asked for by itself");
  assert.deepEqual(provider.saved.scope.split(" ").filter((s) => s.startsWith("mcp:")), ["mcp:read", "mcp:execute", "mcp:manage"]);
  const claims = await claimsOf(provider.saved.access_token);
  assert.deepEqual(claims.roles, ["admin"]);

  const { tools } = await client.listTools();
  assert.deepEqual(tools.find((t) => t.name === "agents_lookup")._meta.securitySchemes, [{ type: "oauth2", scopes: ["mcp:execute"] }]);
  const result = await client.callTool({ name: "agents_lookup", arguments: { order: "A-1" } });
  assert.equal(result.content[0].text, "order A-1: shipped");
  const [reached] = agents.callsOf("lookup").filter((r) => r.body.params.arguments.order === "A-1");
  assert.ok(reached, "the call reached the upstream");
  assert.equal(reached.body.params.name, "lookup", "under its own name");
  const a = await assertionOf(reached);
  assert.equal(a.sub, ada.id);
  assert.equal(a.client_id, provider.info.client_id);
  assert.equal(a.scope, claims.scope);
  assert.deepEqual(a.roles, ["admin"]);

  const stored = await client.callTool({ name: "memory_store", arguments: { text: "Deploy the agent" } });
  const deleted = await client.callTool({ name: "memory_delete", arguments: { id: stored.structuredContent.id } });
  assert.equal(deleted.isError, false, JSON.stringify(deleted));
  await client.close();
});

test("one of several scopes and all of several: securitySchemes and the challenge say which", async () => {
  const scopes = {
    scopes: [{ name: "notes:read", description: "Read notes", default: true }, { name: "notes:write", description: "Write notes", default: true }],
    read: "notes:read",
    write: "notes:write",
    tools: { memory_list: { all_of: ["notes:read", "notes:write"] }, "sea*": { any_of: ["notes:write", "notes:read"] } },
  };
  await withWorker({ SCOPES: JSON.stringify(scopes) }, async (own) => {
    const hal = await person("hal", [], own);
    const t = await tokensFor(hal, "notes:read", own);
    assert.equal(t.scope, "notes:read");
    const { json } = await modernCall(own.url, t.access_token, "tools/list");
    const byName = Object.fromEntries(json.result.tools.map((tool) => [tool.name, tool.securitySchemes]));
    assert.deepEqual(byName.memory_list, [{ type: "oauth2", scopes: ["notes:read", "notes:write"] }]);
    assert.deepEqual(byName.search, [{ type: "oauth2", scopes: ["notes:write"] }, { type: "oauth2", scopes: ["notes:read"] }]);
    assert.deepEqual(byName.fetch, [{ type: "oauth2", scopes: ["notes:read"] }]);
    assert.deepEqual(byName.memory_store, [{ type: "oauth2", scopes: ["notes:write"] }]);
    assert.equal((await call(t.access_token, "search", { query: "x" }, own)).isError, false, "one of them is enough");
    const refused = await refusal(t.access_token, "memory_list", {}, own);
    assert.match(refused.challenge, /error="insufficient_scope", scope="notes:read notes:write", error_description="the memory_list tool needs the notes:read and notes:write scopes"/);
  });
});

// ---------------------------------------------------------------------------------------
// 2. Metadata.

test("metadata lists the declared scopes: the authorization server with the protocol ones, the resource without", async () => {
  const as = await (await fetch(w.url + "/.well-known/oauth-authorization-server")).json();
  assert.deepEqual(as.scopes_supported, ["mcp:read", "mcp:execute", "mcp:manage", "openid", "profile", "email", "offline_access"]);
  const prm = await (await fetch(w.url + "/.well-known/oauth-protected-resource/mcp")).json();
  assert.deepEqual(prm.scopes_supported, ["mcp:read", "mcp:execute", "mcp:manage"]);
});

// ---------------------------------------------------------------------------------------
// 3. Nothing usable.

test("a person without admin asking only mcp:manage can only return to the app, which gets access_denied", async () => {
  const ann = await person("ann");
  const client = await publicClient(w.url);
  for (const scope of ["mcp:manage", "mcp:manage offline_access"]) {
    const page = await consent(ann, client, scope);
    assert.equal(h1(page.html), "You cannot give Test App what it asks for", scope);
    assert.deepEqual(actions(page.html), ["switch:Not you?", "deny:Return to the app"], scope);
    assert.deepEqual(scopeLists(page.html)[0][0], WORDS["mcp:manage"], scope);
    assert.ok(!page.html.includes('value="approve"'), scope);
    const res = await page.press("deny");
    assert.equal(res.status, 302, scope);
    const back = new URL(res.headers.get("location"));
    assert.equal(back.origin + back.pathname, client.redirect_uris[0]);
    assert.equal(back.searchParams.get("error"), "access_denied", scope);
    assert.equal(back.searchParams.get("state"), page.state);
    assert.equal(back.searchParams.get("code"), null);
  }
  const denied = await auditRows("consent_denied", ann.id);
  assert.equal(denied.length, 2, JSON.stringify(denied));
  assert.ok(denied.every((r) => r.client_id === client.client_id));
  assert.equal((await auditRows("consent_given", ann.id)).length, 0);

  // An Approve posted anyway (the page offered none) is the same refusal, with the reason.
  const page = await consent(ann, client, "mcp:manage");
  const forced = await page.press("approve");
  assert.equal(forced.status, 302);
  assert.equal(new URL(forced.headers.get("location")).searchParams.get("error"), "access_denied");
  assert.equal((await auditRows("consent_denied", ann.id)).at(-1).detail, "not allowed by the person's roles: mcp:manage");
});

// ---------------------------------------------------------------------------------------
// 4. Refresh after a role is taken away (with the CLI).

test("after `npm run user -- role remove` a refresh narrows the grant, or fails when nothing is left", async () => {
  const cy = await person("cy");
  const added = await cli("user.mjs", "role", "add", cy.email, "admin");
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, new RegExp(`Gave ${cy.email} the role admin`));
  const listed = await cli("user.mjs", "role", "list", cy.email);
  assert.match(listed.stdout, new RegExp(`${cy.email}\\s+admin\\s+operator`));

  const wide = await tokensFor(cy, ALL_THREE + " offline_access");
  assert.equal(wide.scope, ALL_THREE + " offline_access");
  const onlyManage = await tokensFor(cy, "mcp:manage offline_access");
  assert.equal(onlyManage.scope, "mcp:manage offline_access");
  assert.deepEqual((await claimsOf(wide.access_token)).roles, ["admin"]);

  const removed = await cli("user.mjs", "role", "remove", cy.email, "admin");
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, new RegExp(`Took the role admin from ${cy.email}`));
  assert.match((await cli("user.mjs", "role", "list", cy.email)).stdout, /has no roles/);

  const narrowed = await token(w.url, { grant_type: "refresh_token", refresh_token: wide.refresh_token, client_id: wide.client.client_id });
  assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
  assert.equal(narrowed.body.scope, "mcp:read mcp:execute offline_access");
  const claims = await claimsOf(narrowed.body.access_token);
  assert.equal(claims.scope, "mcp:read mcp:execute offline_access");
  assert.equal(claims.roles, undefined);
  assert.equal((await refusal(narrowed.body.access_token, "memory_delete", { id: "x" })).error, "insufficient_scope");
  // The new refresh token is narrowed too: asking for mcp:manage back is refused, and the
  // role given back later does not widen the grant again (that needs a new consent).
  const again = await token(w.url, { grant_type: "refresh_token", refresh_token: narrowed.body.refresh_token, client_id: wide.client.client_id, scope: ALL_THREE });
  assert.equal(again.body.error, "invalid_scope", JSON.stringify(again.body));
  await w.db.prepare("INSERT INTO user_roles (user_id, role, source, created_at) VALUES (?1, 'admin', 'operator', 1)").bind(cy.id).run();
  const next = await token(w.url, { grant_type: "refresh_token", refresh_token: narrowed.body.refresh_token, client_id: wide.client.client_id });
  assert.equal(next.body.scope, "mcp:read mcp:execute offline_access", JSON.stringify(next.body));
  assert.deepEqual((await claimsOf(next.body.access_token)).roles, ["admin"], "the roles claim is the person's roles now");
  await w.db.prepare("DELETE FROM user_roles WHERE user_id = ?1").bind(cy.id).run();
  const rows = await auditRows("scope_narrowed", cy.id);
  assert.deepEqual(rows.map((r) => [r.detail, r.client_id]), [["mcp:manage", wide.client.client_id]], "one narrowing, audited once");
  assert.deepEqual((await auditRows("roles_changed", cy.id)).map((r) => r.detail), ["+admin by the operator", "-admin by the operator"]);

  const none = await token(w.url, { grant_type: "refresh_token", refresh_token: onlyManage.refresh_token, client_id: onlyManage.client.client_id });
  assert.equal(none.status, 400, JSON.stringify(none.body));
  assert.equal(none.body.error, "invalid_grant");
  assert.match(none.body.error_description, /roles, or this app's scope limit, no longer allow/);
});

// ---------------------------------------------------------------------------------------
// 5. A pre-registered client with one scope and its own lifetimes.

test("a client added with --scope mcp:read and its own lifetimes is granted at most mcp:read, for 120 s and 600 s", async () => {
  const redirect = "http://127.0.0.1:7788/cb";
  const added = await cli("client.mjs", "add", "--name", "Run viewer", "--redirect-uri", redirect, "--scope", "mcp:read", "--access-token-ttl", "120", "--refresh-token-ttl", "600");
  assert.equal(added.code, 0, added.stderr);
  const client = { client_id: /client_id:\s+(\S+)/.exec(added.stdout)[1], redirect_uris: [redirect] };
  const dee = await person("dee", ["admin"]);

  const page = await consent(dee, client, ALL_THREE);
  assert.deepEqual(scopeLists(page.html), [[WORDS["mcp:read"]]], "only what the client may get is offered");
  const res = await page.press("approve");
  const code = new URL(res.headers.get("location")).searchParams.get("code");
  const t = await token(w.url, { grant_type: "authorization_code", code, code_verifier: page.verifier, client_id: client.client_id, redirect_uri: redirect, resource: w.url + "/mcp" });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  assert.equal(t.body.scope, "mcp:read");
  assert.equal(t.body.expires_in, 120);
  const claims = await claimsOf(t.body.access_token);
  assert.equal(claims.exp - claims.iat, 120);
  const row = await w.db.prepare("SELECT issued_at, expires_at FROM refresh_tokens WHERE client_id = ?1").bind(client.client_id).first();
  assert.equal(row.expires_at - row.issued_at, 600);
  const refreshed = await token(w.url, { grant_type: "refresh_token", refresh_token: t.body.refresh_token, client_id: client.client_id });
  assert.equal(refreshed.body.expires_in, 120, JSON.stringify(refreshed.body));
  assert.equal(refreshed.body.scope, "mcp:read");

  // Nothing it may get left: invalid_scope, at the redirect URI for the signed-in person
  // (a page for anyone else, as for every other error of a valid client's request).
  const { challenge } = pkcePair();
  const asked = authorizeUrl(w.url, client, { challenge, scope: "mcp:execute", state: "s-1" });
  const anonymous = await new Browser().get(asked);
  assert.equal(anonymous.status, 400);
  assert.match(await anonymous.text(), /data-error="app_request"[\s\S]*may not be granted any of the scopes asked for/);
  const refused = await page.browser.get(asked);
  assert.equal(refused.status, 302, await refused.clone().text());
  const back = new URL(refused.headers.get("location"));
  assert.equal(back.origin + back.pathname, redirect);
  assert.equal(back.searchParams.get("error"), "invalid_scope");
  assert.equal(back.searchParams.get("state"), "s-1");
});

// ---------------------------------------------------------------------------------------
// 6. Bad configuration.

test("a broken SCOPES is a 503 JSON-RPC error at /mcp and the misconfigured page at /authorize, naming the setting", async () => {
  const ok = { name: "mcp:read", description: "Read", default: true };
  for (const [scopes, setting] of [
    [{ scopes: [ok, { name: "mcp:write", description: "Write", implies: ["mcp:admin"] }] }, "SCOPES.scopes[1].implies"],
    [{ scopes: [ok, { name: "mcp:write", description: "Write", roles: ["ops"] }] }, "SCOPES.scopes[1].roles"],
    [{ scopes: [ok, { name: "offline_access", description: "Again" }] }, "SCOPES.scopes[1].name"],
    [{ scopes: [ok, { name: "mcp write", description: "Space" }] }, "SCOPES.scopes[1].name"],
    [{ scopes: [ok, { name: "a", description: "A", implies: ["b"] }, { name: "b", description: "B", implies: ["a"] }] }, "SCOPES.scopes[1].implies"],
    [{ scopes: [ok], write: "mcp:read", tools: { "memory_*": "mcp:admin" } }, "SCOPES.tools.memory_*"],
    [{ scopes: [ok], write: "mcp:read", tool: {} }, "SCOPES.tool"],
  ]) {
    await withWorker({ SCOPES: JSON.stringify(scopes) }, async (bad) => {
      const label = `${setting}: ${JSON.stringify(scopes)}`;
      const res = await modernCall(bad.url, null, "tools/list");
      assert.equal(res.status, 503, label + " " + res.text);
      assert.equal(res.json.error.code, -32603, label);
      assert.equal(res.json.error.message, `Internal error: this server's configuration is not valid (${setting})`, label);
      const client = await publicClient(bad.url);
      const page = await fetch(authorizeUrl(bad.url, client, { challenge: pkcePair().challenge }), { redirect: "manual" });
      assert.equal(page.status, 503, label);
      const html = await page.text();
      assert.match(html, /<h1 data-error="misconfigured">This server is not set up correctly<\/h1>/, label);
      assert.match(html, /<summary>Technical details<\/summary><p>([^<]*)<\/p>/, label);
      assert.equal(/<summary>Technical details<\/summary><p>([^<]*)<\/p>/.exec(html)[1], setting.replaceAll("&", "&amp;"), label);
      assert.ok(bad.logs.some((l) => l.includes(setting)), `${label}: the log names it`);
      const as = await (await fetch(bad.url + "/.well-known/oauth-authorization-server")).json();
      assert.deepEqual(as.scopes_supported, ["openid", "profile", "email", "offline_access"], label);
    });
  }
});

test("an UPSTREAMS mapping to a scope SCOPES does not declare is a JSON-RPC error naming UPSTREAMS[0].scopes.<glob>", async () => {
  const upstreams = [{ name: "agents", url: AGENTS_URL, scopes: { "look*": "mcp:admin" } }];
  await withWorker({ SCOPES: JSON.stringify(AGENT_SCOPES), UPSTREAMS: JSON.stringify(upstreams) }, async (bad) => {
    const eve = await person("eve", [], bad);
    const t = await tokensFor(eve, undefined, bad);
    const res = await modernCall(bad.url, t.access_token, "tools/list");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.error?.code, -32603, res.text);
    assert.match(res.json.error.message, /UPSTREAMS\[0\]\.scopes\.look\*/);
    assert.ok(bad.logs.some((l) => l.includes("UPSTREAMS[0].scopes.look*")), "the log names it");
  });
});

// ---------------------------------------------------------------------------------------
// 7. The consent page in Chromium.

test("in Chromium, the consent page shows the operator's words for each scope and is axe-clean, light and dark", async () => {
  const APP = "https://app.example/callback";
  const client = await publicClient(w.url, APP, { client_name: "Agent Runner" });
  const fay = await person("fay");
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.route("https://app.example/**", (route) => route.fulfill({ status: 200, contentType: "text/plain", body: "the app" }));
    // Each step in its own tab: the tab that went back to the app may still be settling
    // there (Chromium retries the app's address, which the route above answers).
    const problems = [];
    let page;
    const open = async (scope) => {
      page = await context.newPage();
      const seen = watchConsole(page);
      problems.push(seen);
      const { verifier, challenge } = pkcePair();
      await page.goto(authorizeUrl(w.url, client, { challenge, scope }));
      return verifier;
    };
    const axe = async (name) => {
      assert.deepEqual(await axeViolations(page), [], `axe, light, ${name}`);
      await page.emulateMedia({ colorScheme: "dark" });
      assert.deepEqual(await axeViolations(page, ["color-contrast"]), [], `axe, dark, ${name}`);
      await page.emulateMedia({ colorScheme: "light" });
    };

    const verifier = await open(ALL_THREE);
    await page.getByLabel("Email", { exact: true }).fill(fay.email);
    await page.getByLabel("Password", { exact: true }).fill(fay.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Allow Agent Runner to use your account?" }).waitFor();
    const lists = await page.locator("ul.scopes").evaluateAll((uls) => uls.map((ul) => [...ul.querySelectorAll("li")].map((li) => li.textContent)));
    assert.deepEqual(lists, [[WORDS["mcp:read"], WORDS["mcp:execute"]], [WORDS["mcp:manage"]]]);
    assert.match(await page.locator("main").innerText(), /Your account's roles do not include the rest of what it asked for/);
    await axe("consent with a scope left out");
    const landing = page.waitForRequest((r) => r.url().startsWith(APP));
    await page.getByRole("button", { name: "Approve" }).click();
    const back = new URL((await landing).url());
    const t = await token(w.url, { grant_type: "authorization_code", code: back.searchParams.get("code"), code_verifier: verifier, client_id: client.client_id, redirect_uri: APP, resource: w.url + "/mcp" });
    assert.equal(t.body.scope, "mcp:read mcp:execute", JSON.stringify(t.body));

    // Nothing usable: the refusal page, with one button.
    await open("mcp:manage");
    await page.getByRole("heading", { level: 1, name: "You cannot give Agent Runner what it asks for" }).waitFor();
    assert.deepEqual(await page.locator("ul.scopes li").allTextContents(), [WORDS["mcp:manage"]]);
    assert.equal(await page.getByRole("button", { name: "Approve" }).count(), 0);
    await axe("nothing usable");
    const refused = page.waitForRequest((r) => r.url().startsWith(APP));
    await page.getByRole("button", { name: "Return to the app" }).click();
    assert.equal(new URL((await refused).url()).searchParams.get("error"), "access_denied");
    assert.deepEqual(problems.flat(), [], "console errors or CSP violations");
  } finally {
    await browser.close();
  }
});

// ---------------------------------------------------------------------------------------
// 8. Without SCOPES.

test("without SCOPES nothing changed: mcp:read and mcp:write, granted by default", async () => {
  await withWorker({}, async (plain) => {
    const gus = await person("gus", [], plain);
    const t = await tokensFor(gus, undefined, plain);
    assert.equal(t.scope, "mcp:read mcp:write offline_access");
    const as = await (await fetch(plain.url + "/.well-known/oauth-authorization-server")).json();
    assert.deepEqual(as.scopes_supported, ["mcp:read", "mcp:write", "openid", "profile", "email", "offline_access"]);
    const prm = await (await fetch(plain.url + "/.well-known/oauth-protected-resource/mcp")).json();
    assert.deepEqual(prm.scopes_supported, ["mcp:read", "mcp:write"]);
    const { json } = await modernCall(plain.url, t.access_token, "tools/list");
    const schemes = Object.fromEntries(json.result.tools.map((tool) => [tool.name, tool.securitySchemes[0].scopes.join()]));
    assert.deepEqual(schemes, { about: "mcp:read", fetch: "mcp:read", memory_delete: "mcp:write", memory_list: "mcp:read", memory_store: "mcp:write", search: "mcp:read" });
    const read = await tokensFor(gus, "mcp:read", plain);
    const refused = await refusal(read.access_token, "memory_store", { text: "x" }, plain);
    assert.match(refused.challenge, /error="insufficient_scope", scope="mcp:read mcp:write", error_description="the memory_store tool needs the mcp:write scope"/);
  });
});
