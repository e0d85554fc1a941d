#!/usr/bin/env node
// `npm run audit -- [--user EMAIL] [--since 1d] [--event NAME] [--limit N] [--remote]`: the
// audit log for the operator, newest first, from the local D1 database (the default) or
// the deployed one. The Worker writes the rows; see "Audit log" in README.md.
import { CliError } from "./lib/cloudflare.mjs";
import { execute, isoTime, normalizeEmail, now, parseCommand, printTable, runCommand, sqlInt, sqlString } from "./lib/d1.mjs";

const USAGE = `Usage: npm run audit -- [options]

Shows the audit log, newest first (times in UTC).

Options:
  --user EMAIL          only this person's events
  --since DURATION      only events this recent: 30m, 12h, 1d, 7d ... (default 1d)
  --event NAME          only this event (sign_in_failed, refresh_reuse, token_used, ...)
  --limit N             at most N rows (default 100, at most 10000)
  --local               the local database that \`npm run dev\` uses (the default)
  --remote              the deployed D1 database
  --persist-to DIR      the local database's directory (only with --local)
`;

const COMMANDS = {
  show: {
    positionals: [],
    options: { user: { type: "string" }, since: { type: "string" }, event: { type: "string" }, limit: { type: "string" } },
  },
};

function seconds(raw) {
  const m = /^(\d{1,6})([mhd])$/.exec(String(raw).trim());
  if (!m) throw new CliError(`--since must be a number and a unit (m, h or d), such as 30m, 12h or 7d; got ${raw}.`);
  return Number(m[1]) * { m: 60, h: 3600, d: 86_400 }[m[2]];
}

async function show(target, opts) {
  const since = now() - seconds(opts.since ?? "1d");
  const limit = opts.limit === undefined ? 100 : Number(opts.limit);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) throw new CliError("--limit must be a whole number from 1 to 10000.");
  if (opts.event !== undefined && !/^[a-z_]{1,40}$/.test(opts.event)) throw new CliError(`Not an event name: ${opts.event}`);
  const where = [`a.at >= ${sqlInt(since)}`];
  if (opts.user !== undefined) where.push(`u.email = ${sqlString(normalizeEmail(opts.user))}`);
  if (opts.event !== undefined) where.push(`a.event = ${sqlString(opts.event)}`);
  const [rows] = await execute(
    target,
    "SELECT a.at, a.event, a.outcome, u.email, a.user_id, a.client_id, a.ip, a.request_id, a.detail " +
      `FROM audit_events a LEFT JOIN users u ON u.id = a.user_id WHERE ${where.join(" AND ")} ` +
      `ORDER BY a.at DESC, a.id DESC LIMIT ${sqlInt(limit)}`,
  );
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
