// Raw HTTP to /mcp, for the transport rules the SDK client never breaks on purpose.

export const MODERN = "2026-07-28";
export const ACCEPT = "application/json, text/event-stream";

/** POSTs a JSON-RPC body (object, array or raw string) to /mcp. */
export async function mcpPost(base, token, body, headers = {}) {
  const res = await fetch(base + "/mcp", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: ACCEPT,
      ...(token ? { Authorization: "Bearer " + token } : {}),
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A session-era initialize; returns the session id and the result. */
export async function initialize(base, token, protocolVersion = "2025-06-18") {
  const res = await mcpPost(base, token, {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion, capabilities: {}, clientInfo: { name: "raw-test", version: "1" } },
  });
  if (res.status !== 200) throw new Error(`initialize: ${res.status} ${res.text}`);
  return { sessionId: res.headers.get("mcp-session-id"), result: res.json.result, version: res.json.result.protocolVersion };
}

/** A session-era request inside a session. */
export function sessionCall(base, token, session, method, params = {}, id = 2) {
  return mcpPost(base, token, { jsonrpc: "2.0", id, method, params }, {
    "Mcp-Session-Id": session.sessionId,
    "MCP-Protocol-Version": session.version,
  });
}

/** A 2026-07-28 request with its _meta and the headers that must agree with it. */
export function modernCall(base, token, method, params = {}, { id = 1, headers = {}, meta = {} } = {}) {
  const body = {
    jsonrpc: "2.0",
    id,
    method,
    params: {
      ...params,
      _meta: {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        ...meta,
      },
    },
  };
  const name = method === "tools/call" || method === "prompts/get" ? params.name : method === "resources/read" ? params.uri : undefined;
  return mcpPost(base, token, body, {
    "MCP-Protocol-Version": MODERN,
    "Mcp-Method": method,
    ...(name !== undefined ? { "Mcp-Name": name } : {}),
    ...headers,
  });
}

/** The structured value of a successful tool result (its text item parsed). */
export function toolValue(result) {
  if (result.isError) throw new Error("tool error: " + JSON.stringify(result));
  return JSON.parse(result.content[0].text);
}
