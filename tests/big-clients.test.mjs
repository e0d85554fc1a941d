// The redirect URIs the big clients use today (issue 32, part 4), registered the way they
// register and driven through a whole code flow against the built Worker: ChatGPT's two
// connector callbacks, Claude's on claude.ai and claude.com, and loopback callbacks on any
// port (RFC 8252 §7.3: Claude Code, Codex, mcp-remote and the SDKs pick a free port each
// time).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "./helpers/worker.mjs";
import { Browser, authorizeUrl, createUser, fullFlow, pkcePair, publicClient } from "./helpers/oauth.mjs";

let w, user;
before(async () => {
  w = await startWorker();
  user = await createUser(w.db, "connector@example.com", "correct-horse-connector");
});
after(async () => w?.stop());

const CALLBACKS = [
  ["ChatGPT's connector", "https://chatgpt.com/connector/oauth/x7Yq2LmN3pQr"],
  ["ChatGPT's connector platform", "https://chatgpt.com/connector_platform_oauth_redirect"],
  ["Claude on claude.ai", "https://claude.ai/api/mcp/auth_callback"],
  ["Claude on claude.com", "https://claude.com/api/mcp/auth_callback"],
];

for (const [who, uri] of CALLBACKS) {
  test(`${who}: registers ${uri} and completes a flow, the code sent back there`, async () => {
    const client = await publicClient(w.url, uri, { client_name: who });
    assert.deepEqual(client.redirect_uris, [uri]);
    const f = await fullFlow(w.url, user, { client });
    assert.equal(f.status, 200, JSON.stringify(f.tokens));
    assert.equal(f.redirect.origin + f.redirect.pathname, uri, "the code goes back to exactly that URI");
    assert.equal(f.redirect.searchParams.get("iss"), w.url);
    assert.ok(f.redirect.searchParams.get("state"));
    assert.ok(f.tokens.access_token && f.tokens.refresh_token, JSON.stringify(f.tokens));
  });
}

test("a loopback client may come back on any port, and nothing else may differ", async () => {
  for (const host of ["127.0.0.1", "localhost", "[::1]"]) {
    const registered = `http://${host}:33418/callback`;
    const client = await publicClient(w.url, registered, { client_name: `Loopback ${host}` });
    const other = `http://${host}:54321/callback`;
    const f = await fullFlow(w.url, user, { client, redirectUri: other });
    assert.equal(f.status, 200, `${host}: ${JSON.stringify(f.tokens)}`);
    assert.equal(f.redirect.origin + f.redirect.pathname, other, `${host}: back on the port it asked for`);
    // Another path, or a port on a host that is not loopback, is not the registered URI.
    const { challenge } = pkcePair();
    const wrongPath = await new Browser().get(authorizeUrl(w.url, client, { challenge, redirectUri: `http://${host}:54321/elsewhere` }));
    const html = await wrongPath.text();
    assert.equal(wrongPath.status, 400, `${host}: ${html.slice(0, 200)}`);
    assert.match(html, /data-error="unregistered_redirect"/);
  }
  // Registered without a port at all, it may come back on any port too.
  const bare = await publicClient(w.url, "http://127.0.0.1/callback", { client_name: "Loopback without a port" });
  const f = await fullFlow(w.url, user, { client: bare, redirectUri: "http://127.0.0.1:61000/callback" });
  assert.equal(f.status, 200, JSON.stringify(f.tokens));
  // A non-loopback https URI must match exactly: another port is refused.
  const hosted = await publicClient(w.url, "https://claude.ai/api/mcp/auth_callback", { client_name: "Exact" });
  const { challenge } = pkcePair();
  const res = await new Browser().get(authorizeUrl(w.url, hosted, { challenge, redirectUri: "https://claude.ai:8443/api/mcp/auth_callback" }));
  const html = await res.text();
  assert.equal(res.status, 400, html.slice(0, 200));
  assert.match(html, /data-error="unregistered_redirect"/);
});
