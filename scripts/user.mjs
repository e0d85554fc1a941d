#!/usr/bin/env node
// `npm run user -- <command>`: manage the people who can sign in, in the local D1 database
// (`npm run dev`'s, the default) or the deployed one (--remote). Every query goes through
// `wrangler d1 execute`; passwords are read from the terminal (or the first line of standard
// input), never from the command line, and only their PBKDF2 hashes reach the database.
import { resolve } from "node:path";
import { CliError, argTokens } from "./lib/cloudflare.mjs";
import { auditUserSql, execute, markGrantsRevoked, normalizeEmail, now, printTable, runCommand, sqlInt, sqlString, sqlValue } from "./lib/d1.mjs";
import { hashPassword, newUserId, validatePassword } from "./lib/password.mjs";
const DEMO = { email: "demo@example.com", name: "Demo User", password: "correct-horse-demo" };

const USAGE = `Usage: npm run user -- <command> [options]

Commands:
  add <email> [--name NAME]  create a user; the password is asked twice on a terminal,
                             else read from the first line of standard input
  list                       list the users: email, name, created, status
  disable <email>            stop a user from signing in: ends their sessions,
                             disconnects their apps, revokes their personal tokens
  enable <email>             let a disabled user sign in again (sessions from before
                             stay ended)
  reset-password <email>     set a new password (read as for add), clear the account's
                             failed sign-ins, and end everything the old password
                             could have given someone: every session, every connected
                             app, every personal access token
  role add <email> <role>    give a person a role (SCOPES: roles decide who may hold
                             the scopes that name them; admin is always known)
  role remove <email> <role> take a role the operator gave back (roles from a sign-in
                             provider follow the provider at the next sign-in)
  role list [<email>]        list roles: every person's, or one person's, with who gave them
  seed-demo --local          create the demo user ${DEMO.email} if absent (local only)

Options:
  --local                    the local database that \`npm run dev\` uses (the default)
  --remote                   the deployed D1 database
  --persist-to DIR           the local database's directory (only with --local)
  -h, --help                 show this help

Passwords are 10 to 200 characters and are never accepted on the command line.
`;

// "Now" in milliseconds by the database's clock, not this machine's: session cookies carry
// the Worker's time, and a laptop whose clock is slow must not let a cookie issued after
// it survive a reset (nor a fast one lock the person out).
const NOW_MS_SQL = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

const usageError = (message) => new CliError(`${message}\n\n${USAGE}`, 2);

// ---- arguments -----------------------------------------------------------------------

const COMMANDS = {
  add: { positionals: ["email"], flags: ["name"] },
  list: { positionals: [], flags: [] },
  disable: { positionals: ["email"], flags: [] },
  enable: { positionals: ["email"], flags: [] },
  "reset-password": { positionals: ["email"], flags: [] },
  "seed-demo": { positionals: [], flags: [] },
  role: { positionals: ["action", "email", "role"], flags: [] },
};

// Must match src/oauth/catalog.rs (is_role_name).
const ROLE = /^[A-Za-z0-9_.:-]{1,64}$/;

const OPTIONS = {
  help: { type: "boolean", short: "h", default: false },
  local: { type: "boolean", default: false },
  remote: { type: "boolean", default: false },
  "persist-to": { type: "string" },
  name: { type: "string" },
};

function parseArguments(argv) {
  const { values, positionals, tokens } = argTokens(argv, OPTIONS);
  for (const { kind, arg, inlineValue, value } of tokens) {
    if (kind !== "option") continue;
    // The option as typed, up to the "=" of a long option's value: parseArgs takes a group
    // such as "-hx" apart, and none is an option here.
    const eq = arg.indexOf("=");
    const flag = eq > 0 && arg.startsWith("--") ? arg.slice(0, eq) : arg;
    switch (flag) {
      case "-h":
      case "--help":
        break;
      case "--local":
      case "--remote":
        if (inlineValue) throw usageError(`${flag} takes no value.`);
        break;
      case "--persist-to":
      case "--name":
        if (value === undefined) throw usageError(`${flag} needs a value.`);
        break;
      case "-p":
      case "--password":
      case "--pass":
      case "--pw":
        throw new CliError(
          "Passwords are never accepted on the command line (they would end up in the shell history and the process list).\n" +
            "Run the command on a terminal to be asked for it, or pipe it in as the first line of standard input.",
          2,
        );
      default:
        throw usageError(`Unknown option: ${flag}`);
    }
  }
  const opts = {
    // "--help=anything" asks for the help too (parseArgs then keeps the text, not true).
    help: values.help !== false,
    local: values.local,
    remote: values.remote,
    persistTo: values["persist-to"] ?? null,
    name: values.name ?? null,
    nameGiven: values.name !== undefined,
  };
  return { opts, positionals };
}

// ---- validation ----------------------------------------------------------------------

function normalizeName(raw) {
  if (raw === null || raw === undefined) return null;
  const name = String(raw).trim();
  if (name === "") return null;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/u.test(name)) throw new CliError("The name must not contain control characters.");
  if ([...name].length > 200) throw new CliError("The name is longer than 200 characters.");
  return name;
}

// ---- password input --------------------------------------------------------------------

/** Reads one line from the terminal without echoing it. */
function readHidden(prompt) {
  const { stdin, stderr } = process;
  return new Promise((resolvePromise, reject) => {
    let value = "";
    stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    const finish = (fn) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write("\n");
      fn();
    };
    const onData = (chunk) => {
      if (chunk.startsWith("\u001b")) return; // arrow keys and other escape sequences
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return finish(() => resolvePromise(value));
        if (ch === "\u0003") return finish(() => reject(new CliError("Cancelled.", 130)));
        if (ch === "\u007f" || ch === "\b") value = [...value].slice(0, -1).join("");
        else if (ch === "\u0015") value = "";
        else if (ch >= " ") value += ch;
      }
    };
    stdin.on("data", onData);
    stdin.resume();
  });
}

/** Reads the first line of standard input (without its line ending). */
async function readFirstLine() {
  const chunks = [];
  let sawNewline = false;
  for await (const chunk of process.stdin) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    const nl = buf.indexOf(0x0a);
    if (nl >= 0) {
      chunks.push(buf.subarray(0, nl));
      sawNewline = true;
      break;
    }
    chunks.push(buf);
  }
  const line = Buffer.concat(chunks).toString("utf8").replace(/\r$/, "");
  if (!sawNewline && line === "") throw new CliError("No password given: pipe it in as the first line of standard input.");
  return line;
}

async function readNewPassword(forWhom) {
  let password;
  if (process.stdin.isTTY) {
    password = await readHidden(`New password for ${forWhom}: `);
    const problem = validatePassword(password);
    if (problem) throw new CliError(problem);
    const again = await readHidden("Repeat the password: ");
    if (again !== password) throw new CliError("The passwords do not match; nothing was changed.");
  } else {
    password = await readFirstLine();
  }
  const problem = validatePassword(password);
  if (problem) throw new CliError(problem);
  return password;
}

// ---- commands ------------------------------------------------------------------------

async function add(target, emailArg, opts) {
  const email = normalizeEmail(emailArg);
  const name = normalizeName(opts.name);
  const password = await readNewPassword(email);
  const { hash, salt, iterations } = hashPassword(password);
  const id = newUserId();
  const sql =
    "INSERT INTO users (id, email, name, password_hash, password_salt, iterations, created_at) VALUES (" +
    [id, email, name, hash, salt, iterations, now()].map(sqlValue).join(", ") +
    ") ON CONFLICT (email) DO NOTHING RETURNING id";
  const [rows] = await execute(target, sql + "; " + auditUserSql("user_added", "id", id));
  if (rows.length === 0) throw new CliError(`A user with the email ${email} already exists; nothing was changed.`);
  console.log(`Created user ${email}${name ? ` (${name})` : ""}, id ${id}.`);
}

function isoDate(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  return new Date(Number(seconds) * 1000).toISOString().slice(0, 10);
}

async function list(target) {
  const [rows] = await execute(
    target,
    "SELECT email, name, created_at, disabled_at FROM users ORDER BY created_at, email",
  );
  if (rows.length === 0) {
    console.log("No users yet. Add one with: npm run user -- add <email>");
    return;
  }
  // Names can come from sign-in providers: printTable keeps control characters out of the
  // operator's terminal.
  printTable(
    ["EMAIL", "NAME", "CREATED", "STATUS"],
    rows.map((r) => [r.email, r.name || "-", isoDate(r.created_at), r.disabled_at == null ? "active" : "disabled"]),
  );
  console.log(`${rows.length} user${rows.length === 1 ? "" : "s"}`);
}

async function setDisabled(target, emailArg, disable) {
  const email = normalizeEmail(emailArg);
  const where = `WHERE email = ${sqlString(email)}`;
  const [before] = await execute(
    target,
    `SELECT disabled_at FROM users ${where}; ` +
      // Both ways every session cookie issued so far ends: enabling an account after a
      // compromise must not bring back a session someone else held.
      `UPDATE users SET disabled_at = ${disable ? `COALESCE(disabled_at, ${sqlInt(now())})` : "NULL"}, ` +
      `sessions_after = MAX(sessions_after, ${NOW_MS_SQL}) ${where}; ` +
      auditUserSql(disable ? "user_disabled" : "user_enabled", "email", email) +
      // Both ways a one-time link to set a password (from the console) ends: a link that
      // leaked must not come back to life with enable.
      `; DELETE FROM password_links WHERE user_id IN (SELECT id FROM users ${where})` +
      // Disabling also revokes every grant, so the person's refresh tokens stop at once.
      (disable
        ? `; UPDATE grants SET revoked_at = ${sqlInt(now())}, revoked_ms = ${sqlInt(Date.now())} WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users ${where})` +
          `; UPDATE refresh_tokens SET revoked_at = ${sqlInt(now())} WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users ${where})` +
          // And every personal access token, for good: enabling the account again after a
          // compromise must not bring back a token someone else made.
          `; UPDATE personal_tokens SET revoked_at = ${sqlInt(now())} WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users ${where})`
        : ""),
  );
  if (before.length === 0) throw new CliError(`No user with the email ${email}.`);
  const wasDisabled = before[0].disabled_at != null;
  if (disable) {
    // Grants revoked within the longest access-token life may still have live tokens.
    const [grants] = await execute(
      target,
      `SELECT id FROM grants WHERE revoked_at >= ${sqlInt(now() - 86_400)} AND user_id IN (SELECT id FROM users ${where})`,
    );
    await markGrantsRevoked(target, grants.map((g) => g.id));
  }
  if (disable) {
    console.log(wasDisabled ? `${email} was already disabled.` : `Disabled ${email}: they can no longer sign in, their apps are disconnected and their personal access tokens revoked.`);
  } else {
    console.log(wasDisabled ? `Enabled ${email}: they can sign in again.` : `${email} was already active.`);
  }
}

async function resetPassword(target, emailArg) {
  const email = normalizeEmail(emailArg);
  const password = await readNewPassword(email);
  const { hash, salt, iterations } = hashPassword(password);
  const where = `WHERE email = ${sqlString(email)}`;
  const [updated, , , , tokens, , grants] = await execute(
    target,
    // A reset is how an account is recovered, so it ends whatever the old password gave
    // someone else: every session cookie, every personal token, every connected app (whose
    // refresh tokens stop at once, and access tokens at /mcp within a minute).
    `UPDATE users SET password_hash = ${sqlString(hash)}, password_salt = ${sqlString(salt)}, ` +
      `iterations = ${sqlInt(iterations)}, sessions_after = MAX(sessions_after, ${NOW_MS_SQL}) ${where} RETURNING id; ` +
      `DELETE FROM login_failures WHERE key = ${sqlString(`user:${email}`)}; ` +
      // A one-time link from the console, made before, must not override this password.
      `DELETE FROM password_links WHERE user_id IN (SELECT id FROM users ${where}); ` +
      `${auditUserSql("password_reset", "email", email)}; ` +
      `UPDATE personal_tokens SET revoked_at = ${sqlInt(now())} WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users ${where}) RETURNING id; ` +
      `UPDATE refresh_tokens SET revoked_at = ${sqlInt(now())} WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users ${where}); ` +
      `UPDATE grants SET revoked_at = ${sqlInt(now())}, revoked_ms = ${sqlInt(Date.now())} WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users ${where}) RETURNING id`,
  );
  if (updated.length === 0) throw new CliError(`No user with the email ${email}.`);
  await markGrantsRevoked(target, grants.map((g) => g.id));
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  console.log(
    `Changed the password of ${email}, cleared its failed sign-ins, signed it out everywhere, ` +
      `disconnected ${plural(grants.length, "app authorization")} and revoked ${plural(tokens.length, "personal access token")}.`,
  );
}

/** `role add|remove <email> <role>`, `role list [<email>]`: the operator's roles. */
async function role(target, [action, emailArg, roleArg]) {
  if (action === "list") {
    const filter = emailArg ? `WHERE u.email = ${sqlString(normalizeEmail(emailArg))} ` : "";
    const [rows] = await execute(
      target,
      "SELECT u.email, r.role, r.source FROM user_roles r JOIN users u ON u.id = r.user_id " +
        filter +
        "ORDER BY u.email, r.role, r.source",
    );
    if (rows.length === 0) {
      console.log(emailArg ? `${normalizeEmail(emailArg)} has no roles.` : "No one has a role yet. Give one with: npm run user -- role add <email> <role>");
      return;
    }
    printTable(["EMAIL", "ROLE", "GIVEN BY"], rows.map((r) => [r.email, r.role, r.source]));
    return;
  }
  const email = normalizeEmail(emailArg);
  const name = String(roleArg);
  if (!ROLE.test(name)) throw new CliError("A role is 1 to 64 letters, digits and _ . : -");
  const where = `WHERE email = ${sqlString(email)}`;
  const detail = `${action === "add" ? "+" : "-"}${name} by the operator`;
  const change =
    action === "add"
      ? `INSERT OR IGNORE INTO user_roles (user_id, role, source, created_at) SELECT id, ${sqlString(name)}, 'operator', ${sqlInt(now())} FROM users ${where} RETURNING role`
      : `DELETE FROM user_roles WHERE source = 'operator' AND role = ${sqlString(name)} AND user_id IN (SELECT id FROM users ${where}) RETURNING role`;
  const [found, changed] = await execute(
    target,
    `SELECT id FROM users ${where}; ${change}; ` +
      // Recorded only when something changed.
      `INSERT INTO audit_events (at, event, outcome, user_id, client_id, ip, request_id, detail) ` +
      `SELECT ${sqlInt(now())}, 'roles_changed', 'ok', id, NULL, NULL, 'cli', ${sqlString(detail)} FROM users ${where} AND changes() > 0`,
  );
  if (found.length === 0) throw new CliError(`No user with the email ${email}.`);
  if (action === "add") {
    console.log(changed.length ? `Gave ${email} the role ${name}. Their next token (a refresh, or a new connection) carries it.` : `${email} already has the role ${name}.`);
  } else {
    console.log(
      changed.length
        ? `Took the role ${name} from ${email}. Their apps get a narrower token at their next refresh (within the access-token lifetime).`
        : `${email} had no role ${name} given by the operator (a sign-in provider's roles follow that provider).`,
    );
  }
}

async function seedDemo(target, opts) {
  if (!opts.local || opts.remote) {
    throw new CliError(
      "seed-demo only runs with --local: the demo user, whose password is public, must never exist in a deployed database.",
    );
  }
  const { hash, salt, iterations } = hashPassword(DEMO.password);
  const sql =
    "INSERT INTO users (id, email, name, password_hash, password_salt, iterations, created_at) VALUES (" +
    [newUserId(), DEMO.email, DEMO.name, hash, salt, iterations, now()].map(sqlValue).join(", ") +
    ") ON CONFLICT (email) DO NOTHING RETURNING id";
  const [rows] = await execute(target, sql);
  if (rows.length > 0) {
    console.log(`Created the demo user ${DEMO.email} with the password ${DEMO.password} (local database only).`);
  } else {
    console.log(`The demo user ${DEMO.email} already exists (password ${DEMO.password} unless changed).`);
  }
}

// ---- main ----------------------------------------------------------------------------

async function main(argv) {
  const { opts, positionals } = parseArguments(argv);
  if (opts.help || positionals[0] === "help") {
    process.stdout.write(USAGE);
    return;
  }
  const [command, ...rest] = positionals;
  if (!command) throw usageError("No command given.");
  const spec = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!spec) throw usageError(`Unknown command: ${command}`);
  if (opts.nameGiven && !spec.flags.includes("name")) throw usageError(`--name only goes with add.`);
  if (command === "role") {
    // role add|remove <email> <role>, role list [<email>]
    const [action, ...args] = rest;
    const wanted = { add: 2, remove: 2, list: [0, 1] }[action];
    if (wanted === undefined) throw usageError("role needs add, remove or list.");
    const ok = Array.isArray(wanted) ? wanted.includes(args.length) : args.length === wanted;
    if (!ok) throw usageError(action === "list" ? "role list takes at most one <email>." : `role ${action} needs <email> <role>.`);
  } else if (rest.length !== spec.positionals.length) {
    throw usageError(
      spec.positionals.length
        ? `${command} needs exactly one <${spec.positionals[0]}>.`
        : `${command} takes no arguments (got: ${rest.join(" ")}).`,
    );
  }
  if (opts.local && opts.remote) throw usageError("Give either --local or --remote, not both.");
  if (opts.remote && opts.persistTo) throw usageError("--persist-to only goes with --local.");
  const target = { remote: opts.remote, persistTo: opts.persistTo ? resolve(process.cwd(), opts.persistTo) : null };

  switch (command) {
    case "add":
      return add(target, rest[0], opts);
    case "list":
      return list(target);
    case "disable":
      return setDisabled(target, rest[0], true);
    case "enable":
      return setDisabled(target, rest[0], false);
    case "reset-password":
      return resetPassword(target, rest[0]);
    case "seed-demo":
      return seedDemo(target, opts);
    case "role":
      return role(target, rest);
  }
}

runCommand(main);
