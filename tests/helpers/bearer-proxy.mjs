// A local HTTP proxy that adds `Authorization: Bearer <token>` to every request it
// forwards: for clients that cannot send a token themselves (the MCP conformance suite).
import http from "node:http";

export async function startBearerProxy(target, token) {
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (!["host", "connection", "content-length", "transfer-encoding"].includes(k)) headers[k] = v;
    }
    headers.authorization = "Bearer " + token;
    // The proxy stands in for the server: a page of its own origin is the server's own.
    if (headers.origin) {
      try {
        const o = new URL(headers.origin);
        if (["localhost", "127.0.0.1", "[::1]"].includes(o.hostname) && o.port === String(server.address().port)) {
          o.port = new URL(target).port;
          headers.origin = o.origin;
        }
      } catch {
        // not a URL: forwarded as is, and refused upstream
      }
    }
    const upstream = await fetch(target + req.url, {
      method: req.method,
      headers,
      body: ["GET", "HEAD"].includes(req.method) ? undefined : Buffer.concat(chunks),
    });
    const out = {};
    upstream.headers.forEach((v, k) => {
      if (!["content-length", "content-encoding", "transfer-encoding", "connection"].includes(k)) out[k] = v;
    });
    res.writeHead(upstream.status, out);
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, stop: () => new Promise((r) => server.close(r)) };
}
