// GitHub as the sign-in tests play it. Tests cannot reach GitHub, so the Worker's `outbound`
// function hands this double every request for github.com and api.github.com (or a GitHub
// Enterprise host), and it answers with the request and response shapes GitHub documents
// for an OAuth app's web flow and the REST API:
//   - the authorize page: the test calls `authorize(location, login)` with the Worker's 303
//     to <github_url>/login/oauth/authorize; it checks the query as GitHub does and returns
//     the callback URL (redirect_uri?code=&state=) the person's browser is sent back to;
//   - POST /login/oauth/access_token: form fields client_id, client_secret, code,
//     redirect_uri, code_verifier; a code redeems once, within ten minutes, for the client
//     and redirect_uri it was issued to, and only with the verifier whose SHA-256 is the
//     code_challenge; failures are 200 with {"error": "bad_verification_code", ...} as
//     GitHub answers; JSON only when the request accepts it (GitHub's default is a form);
//   - GET /user, /user/emails with the person's token; GET /user/<numeric id> (the account's
//     current login) with any token; /orgs/<org>/members/<login> (204,
//     404, or 302 to public_members when the caller cannot see the org's members) and
//     /orgs/<org>/teams/<slug>/memberships/<login> (200 {state, role} or 404) with a token
//     of an org member (the membership token); no User-Agent → 403, as GitHub's API answers.
// Every request is kept in `requests`; `faults` makes one kind of call fail.
import { createHash, randomBytes } from "node:crypto";

const DOCS = "https://docs.github.com/rest";
const json = (body, status = 200, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json; charset=utf-8", ...headers } });
const notFound = () => json({ message: "Not Found", documentation_url: DOCS, status: "404" }, 404);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class GitHubDouble {
  /**
   * @param {object} o
   * @param {string} o.clientId the OAuth app's client id
   * @param {string} o.clientSecret its secret
   * @param {string} [o.membershipToken] a token of `bot`, a member of every org here
   * @param {string} [o.webUrl] github_url
   * @param {string} [o.apiUrl] github_api_url
   */
  constructor({ clientId, clientSecret, membershipToken, webUrl = "https://github.com", apiUrl = "https://api.github.com" }) {
    Object.assign(this, { clientId, clientSecret, membershipToken, webUrl, apiUrl });
    /** The OAuth app's registered callback URL; set once the Worker's origin is known. */
    this.callbackUrl = undefined;
    this.people = new Map(); // id -> person
    this.orgs = new Map(); // org -> Set of logins (members)
    this.publicMembers = new Map(); // org -> Set of logins who made membership public
    this.teams = new Map(); // "org/slug" -> Map login -> state ("active" | "pending")
    this.codes = new Map(); // code -> what it was issued for
    this.tokens = new Map(); // access token -> { personId, scope }
    /** Every request: { kind, method, url, headers, body, at }. */
    this.requests = [];
    /**
     * kind ("token", "user", "emails", "members", "teams") -> a fault: a status number (an
     * answer with that status), "unreachable" (the fetch fails), or { delayMs } (then the
     * normal answer).
     */
    this.faults = {};
    this.bot = "membership-bot";
    if (membershipToken) this.tokens.set(membershipToken, { personId: "bot", scope: "read:org" });
  }

  /** A GitHub account. `emails` as /user/emails lists them. */
  addPerson({ id, login, name = null, email, publicEmail = null, emails }) {
    const person = {
      id,
      login,
      name,
      publicEmail,
      emails: emails ?? [{ email, primary: true, verified: true, visibility: "private" }],
    };
    this.people.set(id, person);
    return person;
  }

  person(login) {
    return [...this.people.values()].find((p) => p.login === login);
  }

  /** The account keeps its id and changes its login, as a rename on GitHub does. */
  rename(oldLogin, newLogin) {
    const p = this.person(oldLogin);
    p.login = newLogin;
    for (const set of [...this.orgs.values(), ...this.publicMembers.values()]) {
      if (set.delete(oldLogin)) set.add(newLogin);
    }
    for (const m of this.teams.values()) {
      if (m.has(oldLogin)) {
        m.set(newLogin, m.get(oldLogin));
        m.delete(oldLogin);
      }
    }
  }

  addToOrg(org, login) {
    if (!this.orgs.has(org)) this.orgs.set(org, new Set());
    this.orgs.get(org).add(login);
  }

  removeFromOrg(org, login) {
    this.orgs.get(org)?.delete(login);
    this.publicMembers.get(org)?.delete(login);
    for (const [key, m] of this.teams) if (key.startsWith(org + "/")) m.delete(login);
  }

  /** Team membership; "pending" is an invitation not yet accepted. */
  addToTeam(org, slug, login, state = "active") {
    if (!this.orgs.has(org)) this.orgs.set(org, new Set());
    if (state === "active") this.orgs.get(org).add(login);
    const key = `${org}/${slug}`;
    if (!this.teams.has(key)) this.teams.set(key, new Map());
    this.teams.get(key).set(login, state);
  }

  /** Whether this double answers `url`. */
  handles(url) {
    return url.startsWith(this.webUrl + "/") || url.startsWith(this.apiUrl + "/");
  }

  /** Requests of one kind, in order. */
  calls(kind) {
    return this.requests.filter((r) => r.kind === kind);
  }

  /** Every access token this GitHub gave out (none may show up anywhere in the Worker). */
  issuedTokens() {
    return [...this.tokens.keys()];
  }

  /**
   * GitHub's authorize page, after `login` signed in there and authorized the app: checks
   * the query as GitHub does (an unknown client or a redirect_uri outside the registered
   * callback is an error page at GitHub, here an exception) and returns the URL the browser
   * is sent back to, with a new code and the state. `deny` sends ?error=access_denied.
   */
  authorize(location, login, { deny = false } = {}) {
    const u = new URL(location);
    if (u.origin + u.pathname !== this.webUrl + "/login/oauth/authorize") throw new Error("not GitHub's authorize URL: " + location);
    const q = u.searchParams;
    if (q.get("client_id") !== this.clientId) throw new Error("GitHub: unknown client_id " + q.get("client_id"));
    const redirectUri = q.get("redirect_uri") ?? this.callbackUrl;
    if (!this.callbackUrl || !withinCallback(redirectUri, this.callbackUrl)) {
      throw new Error(`GitHub: The redirect_uri MUST match the registered callback URL for this application (${redirectUri} vs ${this.callbackUrl})`);
    }
    const back = new URL(redirectUri);
    if (q.has("state")) back.searchParams.set("state", q.get("state"));
    if (deny) {
      back.searchParams.set("error", "access_denied");
      back.searchParams.set("error_description", "The user has denied your application access.");
      back.searchParams.set("error_uri", "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied");
      return back.toString();
    }
    const person = this.person(login);
    if (!person) throw new Error("no GitHub account " + login);
    const code = randomBytes(10).toString("hex");
    this.codes.set(code, {
      clientId: this.clientId,
      redirectUri: q.get("redirect_uri"),
      challenge: q.get("code_challenge"),
      method: q.get("code_challenge_method"),
      scope: (q.get("scope") ?? "").split(/[ ,]+/).filter(Boolean),
      personId: person.id,
      expires: Date.now() + 600_000,
      used: false,
    });
    back.searchParams.set("code", code);
    return back.toString();
  }

  /** The Worker's outbound request, answered as GitHub would. */
  async handle(req) {
    const url = new URL(req.url);
    const body = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
    const headers = Object.fromEntries(req.headers);
    const kind = this.kindOf(url);
    this.requests.push({ kind, method: req.method, url: req.url, headers, body, at: Date.now() });
    const fault = this.faults[kind];
    if (typeof fault === "number") return json({ message: "Server Error" }, fault);
    if (fault === "unreachable") throw new TypeError("fetch failed: connect ECONNREFUSED");
    if (fault && fault.delayMs) await sleep(fault.delayMs);
    if (kind === "token") return this.token(req.method, headers, body);
    if (kind === "authorize") return new Response("GitHub's sign-in page is a browser's", { status: 200, headers: { "Content-Type": "text/html" } });
    return this.api(kind, req.method, url, headers);
  }

  kindOf(url) {
    const web = this.webUrl.replace(/\/$/, "");
    const api = this.apiUrl.replace(/\/$/, "");
    const full = url.origin + url.pathname;
    if (full === web + "/login/oauth/access_token") return "token";
    if (full === web + "/login/oauth/authorize") return "authorize";
    if (!full.startsWith(api + "/")) return "other";
    const path = full.slice(api.length);
    if (path === "/user") return "user";
    if (path === "/user/emails") return "emails";
    if (/^\/user\/\d+$/.test(path)) return "user_by_id";
    if (/^\/orgs\/[^/]+\/members\/[^/]+$/.test(path)) return "members";
    if (/^\/orgs\/[^/]+\/public_members\/[^/]+$/.test(path)) return "public_members";
    if (/^\/orgs\/[^/]+\/teams\/[^/]+\/memberships\/[^/]+$/.test(path)) return "teams";
    return "api-other";
  }

  /** POST /login/oauth/access_token, as GitHub's web flow documents it. */
  token(method, headers, body) {
    if (method !== "POST") return new Response("Not Found", { status: 404 });
    const type = headers["content-type"] ?? "";
    let f;
    if (type.startsWith("application/json")) {
      try {
        f = new URLSearchParams(Object.entries(JSON.parse(body)));
      } catch {
        f = new URLSearchParams();
      }
    } else f = new URLSearchParams(body);
    const accept = headers["accept"] ?? "";
    const answer = (o) =>
      accept.includes("application/json")
        ? json(o)
        : new Response(new URLSearchParams(o).toString(), { status: 200, headers: { "Content-Type": "application/x-www-form-urlencoded; charset=utf-8" } });
    const error = (error, error_description, anchor) =>
      answer({ error, error_description, error_uri: `https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#${anchor}` });
    if (f.get("client_id") !== this.clientId || f.get("client_secret") !== this.clientSecret) {
      return error("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.", "incorrect-client-credentials");
    }
    const code = f.get("code") ?? "";
    const issued = this.codes.get(code);
    if (!issued || issued.used || issued.expires < Date.now() || issued.clientId !== f.get("client_id")) {
      return error("bad_verification_code", "The code passed is incorrect or expired.", "bad-verification-code");
    }
    if (f.has("redirect_uri") && issued.redirectUri && f.get("redirect_uri") !== issued.redirectUri) {
      return error("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.", "redirect-uri-mismatch");
    }
    if (issued.challenge) {
      const verifier = f.get("code_verifier") ?? "";
      const ok =
        issued.method === "S256" && /^[A-Za-z0-9._~-]{43,128}$/.test(verifier) && createHash("sha256").update(verifier).digest("base64url") === issued.challenge;
      if (!ok) return error("bad_verification_code", "The code_verifier does not match the code_challenge.", "bad-verification-code");
    }
    issued.used = true;
    const access = "gho_" + randomBytes(27).toString("base64url").replace(/[-_]/g, "x").slice(0, 36);
    this.tokens.set(access, { personId: issued.personId, scope: issued.scope });
    return answer({ access_token: access, token_type: "bearer", scope: issued.scope.join(",") });
  }

  /** Who a request's Authorization header is: a person, the bot, or undefined. */
  caller(headers) {
    const m = /^(?:bearer|token)\s+(\S+)$/i.exec(headers["authorization"] ?? "");
    return m ? this.tokens.get(m[1]) : undefined;
  }

  api(kind, method, url, headers) {
    if (!headers["user-agent"]) {
      return new Response(
        "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n",
        { status: 403, headers: { "Content-Type": "text/plain" } },
      );
    }
    if (method !== "GET") return notFound();
    const who = this.caller(headers);
    if (!who) return json({ message: "Bad credentials", documentation_url: DOCS, status: "401" }, 401);
    const parts = url.pathname.slice(new URL(this.apiUrl).pathname.replace(/\/$/, "").length).split("/").map(decodeURIComponent);
    const me = who.personId === "bot" ? undefined : this.people.get(who.personId);
    switch (kind) {
      case "user": {
        if (!me) return json({ login: this.bot, id: 1, type: "Bot", name: null, email: null });
        return json({
          login: me.login,
          id: me.id,
          node_id: "U_" + Buffer.from(String(me.id)).toString("base64url"),
          avatar_url: `https://avatars.githubusercontent.com/u/${me.id}?v=4`,
          html_url: `${this.webUrl}/${me.login}`,
          type: "User",
          site_admin: false,
          name: me.name,
          company: null,
          blog: "",
          location: null,
          email: me.publicEmail,
          bio: null,
          public_repos: 3,
          followers: 1,
          following: 0,
          created_at: "2015-03-01T10:00:00Z",
          updated_at: "2026-01-01T10:00:00Z",
        });
      }
      case "user_by_id": {
        // GET /user/{account_id}: the public profile of the account with that numeric id,
        // whatever its login is now.
        const p = this.people.get(Number(parts[2]));
        if (!p) return notFound();
        return json({ login: p.login, id: p.id, type: "User", site_admin: false, name: p.name, email: p.publicEmail, html_url: `${this.webUrl}/${p.login}` });
      }
      case "emails":
        // Needs the user:email scope; without it GitHub answers 404.
        if (!me || !who.scope.includes("user:email")) return notFound();
        return json(me.emails);
      case "members": {
        // /orgs/{org}/members/{username}: a caller who is not an org member sees only
        // public membership, through a redirect.
        const [, , org, , login] = parts;
        const members = this.orgs.get(org);
        const callerLogin = who.personId === "bot" ? this.bot : me?.login;
        const canSee = who.personId === "bot" ? members !== undefined : members?.has(callerLogin);
        if (!canSee) {
          return new Response(null, { status: 302, headers: { Location: `${this.apiUrl}/orgs/${org}/public_members/${login}` } });
        }
        return members.has(login)
          ? new Response(null, { status: 204 })
          : json({ message: "User does not exist or is not a member of the organization", documentation_url: DOCS, status: "404" }, 404);
      }
      case "public_members": {
        const [, , org, , login] = parts;
        return this.publicMembers.get(org)?.has(login) ? new Response(null, { status: 204 }) : notFound();
      }
      case "teams": {
        const [, , org, , slug, , login] = parts;
        if (who.personId !== "bot" && !this.orgs.get(org)?.has(me?.login)) return notFound();
        const state = this.teams.get(`${org}/${slug}`)?.get(login);
        if (!state) return notFound();
        return json({ url: `${this.apiUrl}/teams/1/memberships/${login}`, role: "member", state });
      }
      default:
        return notFound();
    }
  }
}

/** GitHub's rule for an OAuth app: same scheme, host and port, path the same or below. */
function withinCallback(uri, registered) {
  try {
    const a = new URL(uri);
    const b = new URL(registered);
    const base = b.pathname.replace(/\/$/, "");
    return a.protocol === b.protocol && a.host === b.host && (a.pathname === b.pathname || a.pathname.startsWith(base + "/"));
  } catch {
    return false;
  }
}
