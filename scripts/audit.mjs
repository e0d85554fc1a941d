#!/usr/bin/env node
// `npm run audit -- [--user EMAIL] [--app CLIENT_ID] [--since 1d] [--event NAME] [--limit N]
// [--format table|csv|jsonl] [--remote]`: the audit log for the operator, newest first, from
// the local D1 database (the default) or the deployed one, as a table or as the console's
// downloads (CSV and JSON lines, see src/audit_export.rs). The Worker writes the rows; see
// "Audit log" in README.md.
import { CliError } from "./lib/cloudflare.mjs";
import { execute, isoTime, normalizeEmail, now, parseCommand, printTable, runCommand, sqlInt, sqlString } from "./lib/d1.mjs";

const USAGE = `Usage: npm run audit -- [options]

Shows the audit log, newest first (times in UTC).

Options:
  --user EMAIL          only this person's events
  --app CLIENT_ID       only this app's events (its client ID, exactly)
  --since DURATION      only events this recent: 30m, 12h, 1d, 7d ... (default 1d)
  --event NAME          only this event (sign_in_failed, refresh_reuse, token_used, ...)
  --limit N             at most N rows (default 100, at most 10000)
  --format FORMAT       table (the default), csv or jsonl, written to standard output
                        with nothing else: csv as the console's download (a header line,
                        CRLF line ends, RFC 4180 quoting, a ' before a cell that starts
                        with = + - @ tab or carriage return so spreadsheets do not run it);
                        jsonl one JSON object per line, time in ISO 8601 UTC and at in
                        Unix seconds, null for a missing value. For example:
                        npm run audit -- --since 90d --limit 10000 --format csv > audit.csv
  --local               the local database that \`npm run dev\` uses (the default)
  --remote              the deployed D1 database
  --persist-to DIR      the local database's directory (only with --local)
`;

const COMMANDS = {
  show: {
    positionals: [],
    options: {
      user: { type: "string" },
      app: { type: "string" },
      since: { type: "string" },
      event: { type: "string" },
      limit: { type: "string" },
      format: { type: "string" },
    },
  },
};

const FORMATS = ["table", "csv", "jsonl"];
// The columns of the console's downloads (src/audit_export.rs), in their order.
const COLUMNS = ["time", "event", "outcome", "email", "user_id", "client_id", "ip", "request_id", "detail"];

function seconds(raw) {
  const m = /^(\d{1,6})([mhd])$/.exec(String(raw).trim());
  if (!m) throw new CliError(`--since must be a number and a unit (m, h or d), such as 30m, 12h or 7d; got ${raw}.`);
  return Number(m[1]) * { m: 60, h: 3600, d: 86_400 }[m[2]];
}

/** A Unix time in ISO 8601 UTC to the second: 2026-12-07T00:00:00Z. */
const isoSeconds = (at) => new Date(Number(at) * 1000).toISOString().slice(0, 19) + "Z";

/**
 * A CSV field as the console writes it (`csv_field` in src/audit_export.rs): a leading '
 * when a spreadsheet would run it as a formula, then quoted (RFC 4180) when it holds a
 * comma, a quote or a line break.
 */
function csvField(value) {
  const text = value === null || value === undefined ? "" : String(value);
  const guarded = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[,"\n\r]/.test(guarded) ? `"${guarded.replaceAll('"', '""')}"` : guarded;
}

/** The rows as the console's downloads: CSV (header line, CRLF) or JSON lines. */
function exported(rows, format) {
  const record = (r) => ({
    time: isoSeconds(r.at),
    at: r.at,
    event: r.event,
    outcome: r.outcome,
    email: r.email ?? null,
    user_id: r.user_id ?? null,
    client_id: r.client_id ?? null,
    ip: r.ip ?? null,
    request_id: r.request_id,
    detail: r.detail ?? null,
  });
  if (format === "jsonl") return rows.map((r) => JSON.stringify(record(r)) + "\n").join("");
  const lines = [COLUMNS.join(","), ...rows.map(record).map((o) => COLUMNS.map((c) => csvField(o[c])).join(","))];
  return lines.map((l) => l + "\r\n").join("");
}

async function show(target, opts) {
  const format = opts.format ?? "table";
  if (!FORMATS.includes(format)) throw new CliError(`--format must be table, csv or jsonl; got ${format}.`);
  const since = now() - seconds(opts.since ?? "1d");
  const limit = opts.limit === undefined ? 100 : Number(opts.limit);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) throw new CliError("--limit must be a whole number from 1 to 10000.");
  if (opts.event !== undefined && !/^[a-z_]{1,40}$/.test(opts.event)) throw new CliError(`Not an event name: ${opts.event}`);
  // As the console reads its app filter: a client ID is at most 2048 characters, on one line.
  // eslint-disable-next-line no-control-regex
  if (opts.app !== undefined && ([...opts.app].length > 2048 || /[\u0000-\u001f\u007f-\u009f]/u.test(opts.app))) {
    throw new CliError("--app takes an app's client ID (at most 2048 characters, on one line): --format jsonl shows each event's in full.");
  }
  const where = [`a.at >= ${sqlInt(since)}`];
  if (opts.user !== undefined) where.push(`u.email = ${sqlString(normalizeEmail(opts.user))}`);
  if (opts.event !== undefined) where.push(`a.event = ${sqlString(opts.event)}`);
  if (opts.app !== undefined) where.push(`a.client_id = ${sqlString(opts.app)}`);
  const [rows] = await execute(
    target,
    "SELECT a.at, a.event, a.outcome, u.email, a.user_id, a.client_id, a.ip, a.request_id, a.detail " +
      `FROM audit_events a LEFT JOIN users u ON u.id = a.user_id WHERE ${where.join(" AND ")} ` +
      `ORDER BY a.at DESC, a.id DESC LIMIT ${sqlInt(limit)}`,
  );
  if (format !== "table") {
    // Nothing but the rows on standard output, so it can go straight to a file.
    await new Promise((done, fail) => process.stdout.write(exported(rows, format), (e) => (e ? fail(e) : done())));
    return;
  }
  if (rows.length === 0) {
    console.log("No events match.");
    return;
  }
  printTable(
    ["TIME", "EVENT", "OUTCOME", "USER", "CLIENT", "IP", "REQUEST", "DETAIL"],
    rows.map((r) => [
      isoTime(r.at), r.event, r.outcome, r.email ?? r.user_id ?? "-", r.client_id ? r.client_id.slice(0, 24) : "-", r.ip ?? "-", r.request_id, r.detail ?? "",
    ]),
  );
  console.log(`${rows.length} event${rows.length === 1 ? "" : "s"}`);
}

async function main(argv) {
  // No subcommand: every argument is an option of the one listing.
  const parsed = parseCommand(["show", ...argv], COMMANDS, USAGE);
  if (parsed.help) return process.stdout.write(USAGE);
  return show(parsed.target, parsed.opts);
}

runCommand(main);
