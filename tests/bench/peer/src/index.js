// The peer in `npm run bench`: what a person would write instead of this Worker, with the
// TypeScript stack: `@cloudflare/workers-oauth-provider` in front of an MCP endpoint built
// with the official MCP SDK (McpServer over its Web-standard Streamable HTTP transport),
// a sign-in form for one user, and notes tools of the same shape as ours in D1. A test
// dependency only: bench.mjs bundles it with esbuild and runs it in workerd; never shipped.
//
// Bindings: OAUTH_KV (the provider's storage), DB (the notes), PUBLIC_ORIGIN (the origin it
// is served at; the provider fixes its resource and issuer at construction, and the bench
// only knows its port at start), PEER_EMAIL and PEER_PASSWORD_SHA256 (the one user).
import { OAuthProvider } from "@cloudflare/workers-oauth-provider";
import { authorize } from "./login.js";
import { handleMcp } from "./mcp.js";

export const SCOPES = ["mcp:read", "mcp:write", "offline_access"];

let provider;

function providerFor(env) {
  // One per isolate, as a module-level `new OAuthProvider(...)` would be.
  provider ??= new OAuthProvider({
    apiRoute: "/mcp",
    apiHandler: { fetch: handleMcp },
    defaultHandler: {
      fetch(request, env) {
        const url = new URL(request.url);
        if (url.pathname === "/authorize") return authorize(request, env);
        if (url.pathname === "/") return new Response("A notes MCP server. Connect at /mcp.\n");
        return new Response("Not found\n", { status: 404 });
      },
    },
    authorizeEndpoint: "/authorize",
    tokenEndpoint: "/token",
    clientRegistrationEndpoint: "/register",
    scopesSupported: SCOPES,
    requiredScopes: ["mcp:read"],
    resourceMetadata: {
      resource: env.PUBLIC_ORIGIN + "/mcp",
      authorization_servers: [env.PUBLIC_ORIGIN],
    },
  });
  return provider;
}

export default {
  fetch(request, env, ctx) {
    return providerFor(env).fetch(request, env, ctx);
  },
};
