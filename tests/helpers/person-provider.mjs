// The SDK's OAuthClientProvider with a person behind the browser: it registers, and when
// the SDK sends the person to /authorize, they sign in and approve as a person would; the
// redirect's code is kept for the test to finish the flow with.
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { approve, Browser } from "./oauth.mjs";

export class PersonProvider {
  constructor(base, redirectUrl, person, clientName) {
    this.base = base;
    this._redirectUrl = redirectUrl;
    this.person = person;
    this.clientName = clientName;
    this.browser = new Browser();
    this.info = undefined;
    this.saved = undefined;
    this.verifier = "";
    this.code = undefined;
    this.authorizationUrls = [];
    this.tokenHistory = [];
  }
  get redirectUrl() {
    return this._redirectUrl;
  }
  get clientMetadata() {
    return {
      client_name: this.clientName,
      redirect_uris: [this._redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens) {
    this.saved = tokens;
    this.tokenHistory.push(tokens);
  }
  saveCodeVerifier(v) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  /** The person's browser opens the URL, signs in, approves; the redirect carries the code. */
  async redirectToAuthorization(url) {
    this.authorizationUrls.push(url);
    const res = await approve(this.base, this.browser, url.toString(), this.person);
    assert.equal(res.status, 302, await res.text());
    const location = new URL(res.headers.get("location"));
    assert.equal(location.origin + location.pathname, this._redirectUrl);
    assert.equal(location.searchParams.get("iss"), this.base);
    assert.equal(location.searchParams.get("state"), url.searchParams.get("state"));
    this.code = location.searchParams.get("code");
  }
}

/**
 * The official SDK client signed in through `provider` and connected to `<base>/mcp`: the
 * first connect meets the 401 and runs the authorization flow, the second uses the code.
 */
export async function connectSignedIn(base, provider, name = "test") {
  const make = () => new StreamableHTTPClientTransport(new URL(base + "/mcp"), { authProvider: provider });
  try {
    await new Client({ name, version: "1" }).connect(make());
    throw new Error("the first connect was not asked to sign in");
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  const transport = make();
  await transport.finishAuth(provider.code);
  const client = new Client({ name, version: "1" });
  await client.connect(transport);
  return client;
}
