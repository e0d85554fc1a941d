// The authorization endpoint, which the provider leaves to the application: one page that
// names the app asking, where its tokens will go and the scopes, with a sign-in form for
// the one user. GET shows it (a consent handle bound to this browser); POST checks the
// password, approves and sends the browser back to the app with a code.
import { AuthorizationError } from "@cloudflare/workers-oauth-provider";

const DEFAULT_SCOPES = ["mcp:read", "mcp:write", "offline_access"];

const escape = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(details, handle, error) {
  const name = escape(details.clientName);
  const scopes = (details.scope.length ? details.scope : DEFAULT_SCOPES).map(escape).join(", ");
  return `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to allow ${name}</title>
<main>
<h1>Allow ${name} to use your notes?</h1>
<p>It asks for: ${scopes}. Access will be sent to <strong>${escape(details.redirectHost)}</strong>.</p>
${details.redirectIsLoopback ? "<p><strong>This sends access to an app on your computer.</strong></p>" : ""}
${error ? `<p role="alert">${escape(error)}</p>` : ""}
<form method="post">
<input type="hidden" name="handle" value="${escape(handle)}">
<label>Email <input type="email" name="email" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button name="decision" value="approve">Sign in and allow</button>
<button name="decision" value="deny" formnovalidate>Deny</button>
</form>
</main>
</html>`;
}

function html(body, headers = new Headers(), status = 200) {
  headers.set("Content-Type", "text/html; charset=utf-8");
  return new Response(body, { status, headers });
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function passwordMatches(env, email, password) {
  const enc = new TextEncoder();
  const given = enc.encode(await sha256Hex(password));
  const known = enc.encode(env.PEER_PASSWORD_SHA256);
  if (given.byteLength !== known.byteLength) return false;
  return crypto.subtle.timingSafeEqual(given, known) && email.trim().toLowerCase() === env.PEER_EMAIL.toLowerCase();
}

export async function authorize(request, env) {
  const oauth = env.OAUTH_PROVIDER;
  try {
    if (request.method === "GET") {
      const authRequest = await oauth.parseAuthRequest(request);
      const details = await oauth.describeConsent(authRequest);
      const consent = await oauth.beginConsent(authRequest);
      return html(page(details, consent.handle), consent.headers);
    }
    if (request.method !== "POST") return new Response("Method not allowed\n", { status: 405 });
    const form = await request.formData();
    const handle = String(form.get("handle") ?? "");
    if (form.get("decision") !== "approve") {
      const denied = await oauth.denyConsent(request, handle);
      return new Response(null, { status: 302, headers: denied.headers });
    }
    const email = String(form.get("email") ?? "");
    if (!(await passwordMatches(env, email, String(form.get("password") ?? "")))) {
      // The handle is not used up until approval, so the same page can be shown again.
      return html("<!doctype html><p>Wrong email or password. Go back and try again.</p>", new Headers(), 401);
    }
    const approved = await oauth.approveConsent(request, handle);
    const scope = approved.request.scope.length ? approved.request.scope : DEFAULT_SCOPES;
    const { redirectTo } = await oauth.completeAuthorization({
      request: approved.request,
      userId: "peer-user",
      metadata: {},
      scope,
      props: { userId: "peer-user", email: env.PEER_EMAIL },
      // The bench holds many codes and refresh chains of one user and client at once.
      revokeExistingGrants: false,
    });
    approved.headers.set("Location", redirectTo);
    return new Response(null, { status: 302, headers: approved.headers });
  } catch (error) {
    if (error instanceof AuthorizationError && error.redirectTo) return Response.redirect(error.redirectTo, 302);
    if (error instanceof AuthorizationError) {
      return new Response(escape(error.description) + "\n", { status: 400, headers: { "Content-Type": "text/plain; charset=utf-8" } });
    }
    throw error;
  }
}
