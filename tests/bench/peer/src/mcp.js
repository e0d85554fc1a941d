// The MCP endpoint behind the provider: the official SDK's McpServer over its Web-standard
// Streamable HTTP transport, stateless (a server and a transport per request, no session),
// answering with one JSON body. The tools mirror ours in name, schema and result shape:
// about (no storage), search, fetch, memory_store, memory_list and memory_delete over notes
// in D1 with an FTS5 index (schema.sql).
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import * as z from "zod";

const NAME = "Peer notes";
const VERSION = "0.1.0";
const READ = "mcp:read";
const WRITE = "mcp:write";

const noteId = z.string().min(1).max(100).describe("The note's id.");
const readOnly = (title) => ({ title, readOnlyHint: true, openWorldHint: false });

const TOOLS = [
  ["search", "Search notes", READ],
  ["fetch", "Read a note", READ],
  ["memory_store", "Save a note", WRITE],
  ["memory_list", "List notes", READ],
  ["memory_delete", "Delete a note", WRITE],
  ["about", "About this server", READ],
];

function result(value) {
  return { content: [{ type: "text", text: JSON.stringify(value) }], structuredContent: value };
}

function refusal(message) {
  return { content: [{ type: "text", text: message }], isError: true };
}

/** Words as an FTS5 query that cannot be a syntax error: each quoted, as a prefix, any of them. */
function ftsQuery(text) {
  const words = [...new Set(text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean).map((w) => w.slice(0, 64)))].slice(0, 16);
  const long = words.filter((w) => w.length > 1);
  const chosen = long.length ? long : words;
  return chosen.length ? chosen.map((w) => `"${w}"*`).join(" OR ") : null;
}

const tagsOf = (row) => (row.tags ? row.tags.split(" ") : []);
const iso = (seconds) => new Date(seconds * 1000).toISOString();

function buildServer(env, auth, props, origin) {
  const server = new McpServer({ name: "peer-notes", title: NAME, version: VERSION });
  const user = props.userId;
  const url = (id) => `${origin}/notes/${encodeURIComponent(id)}`;
  const needs = (scope) => (auth.scope.includes(scope) ? null : refusal(`This needs the ${scope} scope. Reconnect and allow it.`));

  server.registerTool(
    "search",
    {
      title: "Search notes",
      description:
        "Search the user's saved notes by words in their title, text or tags. Returns up to 10 results (id, title, url), best match first; read one with fetch. An empty query returns the newest notes.",
      inputSchema: z.strictObject({ query: z.string().max(1000).describe("Words to look for.") }),
      outputSchema: { results: z.array(z.object({ id: z.string(), title: z.string(), url: z.string() })) },
      annotations: readOnly("Search notes"),
    },
    async ({ query }) => {
      const refused = needs(READ);
      if (refused) return refused;
      const q = ftsQuery(query);
      const rows = q
        ? await env.DB.prepare(
            "SELECT n.id, n.title FROM notes_fts JOIN notes n ON n.seq = notes_fts.rowid WHERE notes_fts MATCH ?1 AND n.user_id = ?2 ORDER BY bm25(notes_fts) LIMIT 10",
          )
            .bind(q, user)
            .all()
        : await env.DB.prepare("SELECT id, title FROM notes WHERE user_id = ?1 ORDER BY seq DESC LIMIT 10").bind(user).all();
      return result({ results: rows.results.map((r) => ({ id: r.id, title: r.title, url: url(r.id) })) });
    },
  );

  server.registerTool(
    "fetch",
    {
      title: "Read a note",
      description: "Read one of the user's notes in full by its id (from search or memory_list).",
      inputSchema: z.strictObject({ id: noteId }),
      outputSchema: {
        id: z.string(),
        title: z.string(),
        text: z.string(),
        url: z.string(),
        metadata: z.object({ tags: z.array(z.string()).optional(), created_at: z.string().optional(), updated_at: z.string().optional() }),
      },
      annotations: readOnly("Read a note"),
    },
    async ({ id }) => {
      const refused = needs(READ);
      if (refused) return refused;
      const row = await env.DB.prepare("SELECT * FROM notes WHERE id = ?1 AND user_id = ?2").bind(id, user).first();
      if (!row) return refusal(`There is no note ${id}. Use search or memory_list to find ids.`);
      return result({ id: row.id, title: row.title, text: row.text, url: url(row.id), metadata: { tags: tagsOf(row), created_at: iso(row.created_at), updated_at: iso(row.updated_at) } });
    },
  );

  server.registerTool(
    "memory_store",
    {
      title: "Save a note",
      description:
        "Save a note for the user so it can be found later with search. Give the text, and optionally a title (else the first line is used) and tags (letters, digits, '-' and '_'). Returns the new note's id.",
      inputSchema: z.strictObject({
        text: z.string().min(1).max(50000).describe("What to remember."),
        title: z.string().max(200).describe("A short title.").optional(),
        tags: z.array(z.string().min(1).max(32)).max(10).describe('Words to group notes by, e.g. ["work", "ideas"].').optional(),
      }),
      outputSchema: { id: z.string(), title: z.string(), url: z.string() },
      annotations: { title: "Save a note", readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ text, title, tags = [] }) => {
      const refused = needs(WRITE);
      if (refused) return refused;
      if (tags.some((t) => !/^[A-Za-z0-9_-]+$/.test(t))) return refusal("Tags may hold only letters, digits, '-' and '_'.");
      const id = crypto.randomUUID();
      const name = (title ?? "").trim() || text.trim().split("\n")[0].slice(0, 200);
      const now = Math.floor(Date.now() / 1000);
      await env.DB.prepare("INSERT INTO notes (id, user_id, title, text, tags, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)")
        .bind(id, user, name, text, tags.map((t) => t.toLowerCase()).join(" "), now)
        .run();
      return result({ id, title: name, url: url(id) });
    },
  );

  server.registerTool(
    "memory_list",
    {
      title: "List notes",
      description: "List the user's notes, newest first, 20 at a time, optionally only those with a tag. Pass nextCursor back as cursor for the next page.",
      inputSchema: z.strictObject({
        cursor: z.string().max(100).describe("nextCursor from the previous page.").optional(),
        tag: z.string().min(1).max(32).describe("Only notes with this tag.").optional(),
      }),
      outputSchema: {
        notes: z.array(z.object({ id: z.string(), title: z.string(), tags: z.array(z.string()), created_at: z.string(), url: z.string() })),
        nextCursor: z.string().optional(),
      },
      annotations: readOnly("List notes"),
    },
    async ({ cursor, tag }) => {
      const refused = needs(READ);
      if (refused) return refused;
      const before = cursor && /^\d+$/.test(cursor) ? Number(cursor) : Number.MAX_SAFE_INTEGER;
      const { results } = await env.DB.prepare(
        "SELECT seq, id, title, tags, created_at FROM notes WHERE user_id = ?1 AND seq < ?2 AND (?3 IS NULL OR (' ' || tags || ' ') LIKE ('% ' || ?3 || ' %')) ORDER BY seq DESC LIMIT 21",
      )
        .bind(user, before, tag?.toLowerCase() ?? null)
        .all();
      const page = results.slice(0, 20);
      const value = { notes: page.map((r) => ({ id: r.id, title: r.title, tags: tagsOf(r), created_at: iso(r.created_at), url: url(r.id) })) };
      if (results.length > 20) value.nextCursor = String(page[page.length - 1].seq);
      return result(value);
    },
  );

  server.registerTool(
    "memory_delete",
    {
      title: "Delete a note",
      description: "Delete one of the user's notes by its id. This cannot be undone.",
      inputSchema: z.strictObject({ id: noteId }),
      outputSchema: { id: z.string(), deleted: z.boolean() },
      annotations: { title: "Delete a note", readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ id }) => {
      const refused = needs(WRITE);
      if (refused) return refused;
      const { meta } = await env.DB.prepare("DELETE FROM notes WHERE id = ?1 AND user_id = ?2").bind(id, user).run();
      return result({ id, deleted: meta.changes > 0 });
    },
  );

  server.registerTool(
    "about",
    {
      title: "About this server",
      description: "Describe this notes server: its name and version, whether the user is signed in, and which tools work before signing in.",
      inputSchema: z.strictObject({}),
      outputSchema: {
        name: z.string(),
        version: z.string(),
        signed_in: z.boolean(),
        tools: z.array(z.object({ name: z.string(), title: z.string(), needs_sign_in: z.boolean(), scope: z.string() })),
      },
      annotations: readOnly("About this server"),
    },
    async () =>
      result({
        name: NAME,
        version: VERSION,
        signed_in: true,
        tools: TOOLS.map(([name, title, scope]) => ({ name, title, needs_sign_in: true, scope })),
      }),
  );

  return server;
}

/** The provider's apiHandler: only requests with a valid access token for /mcp get here. */
export async function handleMcp(request, env, ctx) {
  const server = buildServer(env, ctx.auth, ctx.props, new URL(request.url).origin);
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  return transport.handleRequest(request);
}
