//! Every per-isolate cache of the crate, each with its bound and its lifetime.
//!
//! One isolate serves many requests, so a `thread_local!` static outlives the request that
//! filled it: it must hold at most a known number of entries whatever requests send, and
//! trust each entry only as long as the fact it records stays true. The caches stay beside
//! the code that fills them; this table is where they are all seen at once, and the test
//! below fails when a `thread_local!` static is missing from it. An isolate can be evicted
//! at any time, so nothing here is the only copy of anything.
//!
//! `Memo::new(n)` (`store::memo`) holds at most `n` entries, each with a deadline: when it
//! is full, expired entries go first, then everything (forgetting only costs work).
//!
//! | Cache | Holds, and why | Bound | Lifetime | A stale entry grants no more because |
//! |---|---|---|---|---|
//! | `http::ctx::SETTINGS` | `Config` and the two key secrets, read from the environment once instead of some twenty calls into JavaScript per request | one value (`OnceCell`) | the isolate | vars and secrets cannot change under a running isolate: changing them deploys a new version, in new isolates |
//! | `oauth::keys::CACHE` | the parsed `KeySet`, with the text of the two secrets it came from | one value (an `Option`, replaced when the secrets differ) | while the secrets' text stays the same, so the isolate | it is only used for the exact secret text it was loaded from |
//! | `http::webcrypto::SIGNING` | WebCrypto private keys imported from a seed: importing costs more than signing | 4 (the literal in `remember`, the oldest going first); only the current and previous keys ever come | until pushed out, or the isolate ends | each is the very key it is looked up by, not a decision |
//! | `http::webcrypto::VERIFYING` | WebCrypto public keys imported from raw bytes, for the same reason | 4 (the same `remember`, the oldest going first); only this server's published keys ever come | until pushed out, or the isolate ends | each is the very key it is looked up by, not a decision |
//! | `http::webcrypto::RSA_SIGNING` | the imported RSA key of RS256 ID tokens, by `kid` | 4 keys, the oldest going first | the isolate | it is made from a secret, which cannot change under an isolate |
//! | `http::bearer::VERIFIED` | access tokens whose signature, issuer, audience and times checked out, by the SHA-256 of issuer, resource and token: Ed25519 verification is the costly part of `/mcp` | `Memo::new(1024)` | until the token's own `exp` | revocation is still checked on every request (`NOT_REVOKED`), and the key holds the issuer and resource it was checked for |
//! | `http::bearer::NOT_REVOKED` | grants a KV read found without a revocation mark | `Memo::new(4096)` | `NOT_REVOKED_MEMO_SECONDS` = 20 s; dropped at once when this isolate revokes the grant (`forget_not_revoked`) | with KV's edge cache of `REVOKED_CACHE_SECONDS` = 40 s, a revocation elsewhere holds within the promised minute |
//! | `http::bearer::UNMARKED` | D1's list of revoked grants whose KV mark was never written, and when it was read | one set: at most `MAX_UNMARKED` = 5,000 ids read from D1 (`store::d1_revocations`), plus the grants this isolate revoked since that read (`note_unmarked`), never more than `MAX_UNMARKED` in all | read again after `NOT_REVOKED_MEMO_SECONDS` = 20 s when next needed; the last list stands while D1 cannot be read | it only adds refusals to KV's answer, and a full list sends every grant to D1 |
//! | `http::bearer::REFUSED_TOKENS` | the SHA-256 of personal access tokens D1 refused, so a repeated bad token costs no D1 read | `Memo::new(1024)` | `REFUSED_MEMO_SECONDS` = 300 s | it only refuses, and a refused token never becomes valid: revoked and expired are final, tokens are made fresh |
//! | `http::doctor::WRITTEN` | the connector-doctor mark last written per app, attempt and step (its outcome), so a busy connection or a client retrying in a loop writes almost nothing | `Memo::new(2048)` (full: emptied, which only costs writes) | `THINNED_SECONDS` = 600 s for a grant's success (an `/mcp` call, a refresh), `REPEAT_SECONDS` = 60 s for anything else | it only skips writing the outcome the doctor already shows; a different outcome is always written |
//! | `http::cimd::FETCHES` | metadata-document fetches this minute, per client network and in all, and failures per URL (`oauth::client_document::Fetches`): counting must not cost a write | at most `MAX_TRACKED` = 4,096 networks and 4,096 failing URLs of at most 1,000 bytes (`http::cimd::resolve` refuses longer ones) | the current minute (`now / 60`): every count starts again at the next | it only refuses fetches |
//! | `http::client_keys::SETS` | `private_key_jwt` apps' JWK Sets fetched from their `jwks_uri`, by URL, with when each was fetched: a token request must not fetch them each time, and KV is not written for them | `Memo::new(256)`, each set at most 16 KiB and 20 keys | its `Cache-Control` (at least 60 s), else 300 s, at most 3,600 s; a missing `kid` fetches anew at most once a minute | a key removed from the set still verifies until then: the app's own cache lifetime, at most an hour |
//! | `http::doctor::UNPROVEN` | this isolate's count of unproven doctor marks in the current minute, and the UTC day it found the deployment's budget spent | one value | the minute, and the day | it only withholds marks: at most `UNPROVEN_PER_MINUTE` = 60 a minute per isolate, none after the day's `UNPROVEN_PER_DAY` = 5,000 |
//! | `http::cimd::HOST_RULES` | the operator's allowed and blocked hosts for client ID metadata documents (`document_hosts`), and when they were read | one value: at most 500 rules (`store::d1_app_admin::host_rules`) | `HOST_RULES_SECONDS` = 60 s; dropped at once when this isolate changes them | a rule changed in the console holds everywhere within a minute; while D1 cannot be read the last rules stand, and with none read no document is used |
//! | `http::ctx::CATALOG` | `SCOPES` parsed into the scope catalog, or why not (logged once) | one value (`OnceCell`) of at most 64 scopes and 256 mappings of each kind (`oauth::catalog`) | the isolate | it is made from a setting, which cannot change under an isolate |
//! | `http::gateway::UPSTREAMS` | `UPSTREAMS` parsed and checked against the bindings, or why not (logged once) | one value (`OnceCell`) of at most `MAX_UPSTREAMS` = 20 upstreams (`gateway::config`) | the isolate | it is made from settings and bindings, which cannot change under an isolate |
//! | `http::providers::PROVIDERS` | `SIGNIN_PROVIDERS` parsed, or why not (logged once) | one value (`OnceCell`) of at most `MAX_PROVIDERS` = 10 providers (`signin::config`) | the isolate | it is made from settings, which cannot change under an isolate |
//! | `http::mcp_call::SHAPES` | the sign-in challenge shape (`mcp::challenges`) of apps read by their redirect URIs, by client ID: a caller refused a tool again and again must not cost a client read each time | `Memo::new(1024)` | `SHAPE_SECONDS` = 300 s | it only picks the form of a refusal; both forms name the same scopes |
//! | `http::mcp_call::WARNED_PUBLIC` | whether the ignored `PUBLIC_TOOLS` names were logged | one `bool` | the isolate | it only silences a repeated log line |
//! | `http::mcp_answer::TOOLS_PAGES` | the first `tools/list` page as JSON text, per revision and public set: the same for every caller, and serializing it was most of the request | one per revision of `wire::version::ALL` (5) and public set (one, from the settings), so 5: the key space is the bound, no constant caps it | the isolate | it is built from compiled-in tools and settings only, never from a caller's token |
//! | `mcp::tools::INPUT_SCHEMAS` | each built-in tool's input schema, parsed once | one per tool of `TOOLS` (6): the key space is the bound | the isolate | it is parsed from text compiled into the Worker |
//! | `mcp::tools::ENTRIES` | every built-in tool's `tools/list` entry, per shape (structured output or not, public set) | 2 (two shapes times the one public set of the settings): the key space is the bound | the isolate | it is built from compiled-in tools and settings only |
//! | `gateway::sessions::SESSIONS` | upstream sessions, by upstream and caller (person, client, scope) | `MAX_SESSIONS` = 256, the oldest going first | until the upstream forgets it (a 404 reopens it) or any other failure drops it; no TTL | never shared between callers, and every request still carries that caller's freshly signed assertion |
//! | `gateway::sessions::ERAS` | whether each upstream speaks 2026-07-28 without a session, so `server/discover` is asked once | one per configured upstream name (`keep_era` replaces by name): at most `MAX_UPSTREAMS` = 20 | the isolate: never forgotten | it picks the protocol only; every request still carries the caller's assertion |
//! | `gateway::remembered::LISTS` | each upstream's raw lists (tools, resources, templates, prompts), by upstream, caller and method | `MAX_LISTS` = 512 lists and `MAX_CACHED_BYTES` = 8 MiB together, the oldest going first; a list over `MAX_LIST_BYTES` = 1 MiB is not kept | the upstream's `ttlMs`, at most `MAX_LIST_TTL_MS` = 3,600,000 ms, else `DEFAULT_LIST_TTL_MS` = 60,000 ms; dropped on the upstream's `list_changed` | it is kept per caller for as long as the upstream said, and calls still carry the caller's assertion for the upstream to judge |
//! | `gateway::remembered::DOWN` | upstreams whose list got no answer (a timeout, unreachable), and how they failed | one per configured upstream name: at most `MAX_UPSTREAMS` = 20 | `DOWN_FOR_MS` = 30,000 ms, or until a list comes back | it only withholds an upstream |
//! | `gateway::resources::LISTED` | the resource URIs each upstream listed last, shared by all callers, so a read of one while its upstream is down reports the outage | one set per configured upstream (at most 20) of at most `MAX_ITEMS` = 500 URIs (`gateway`) of at most `MAX_REMEMBERED_URI` = 1,024 bytes: about 10 MB at worst, outside `MAX_CACHED_BYTES` | until that upstream's next fetched `resources/list` replaces it; no TTL | it only picks which error a read gets (outage or not found), never where a read goes |
//! | `signin::providers::github::MEMBERS` | GitHub's answer whether a login is in the allowed orgs or teams, by provider and login: sign-ins and refreshes must not spend the membership token's rate limit | `Memo::new(1024)` | the provider's `membership_cache_seconds` (default 300, at most 3,600; 0 keeps nothing) | a person removed from the org keeps access at most that long, the delay the operator chose |
//! | `signin::providers::github::LOGINS` | the current login of a GitHub user id (or that it is gone), by provider and id | `Memo::new(1024)` | the provider's `membership_cache_seconds`, as `MEMBERS` | a renamed or deleted account is seen at most that late, the delay the operator chose |
//! | `signin::providers::openid::DISCOVERED` | each OpenID issuer's discovery document | `CACHED_PROVIDERS` = 10 (as `MAX_PROVIDERS`), the oldest goes first (`remember`) | `DISCOVERY_SECONDS` = 3,600 s | the document must name the configured issuer, and its endpoints are checked before it is kept |
//! | `signin::providers::openid::KEYSETS` | each provider's JWKS and when it was fetched, by JWKS URI | `CACHED_PROVIDERS` = 10, the oldest goes first (`remember`) | `JWKS_SECONDS` = 3,600 s; an unknown `kid` fetches it again, at most every `JWKS_REFETCH_SECONDS` = 60 s | a withdrawn key is trusted at most an hour, and every ID token still needs its nonce, audience and expiry |

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `dir`, at any depth.
    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// A file's module path as the table writes it: `http/bearer.rs` is `http::bearer`,
    /// `gateway/mod.rs` is `gateway`.
    fn module_path(src: &Path, file: &Path) -> String {
        let relative = file.strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
            parts.pop();
        }
        parts.join("::")
    }

    /// The names of the statics declared in the `thread_local!` blocks of `text`. Line
    /// comments are dropped first, so prose that mentions the macro, says "static" or holds
    /// a brace counts for nothing (this file's own prose included).
    fn thread_local_statics(text: &str) -> Vec<String> {
        let lines: Vec<&str> = text
            .lines()
            .map(|l| l.find("//").map_or(l, |at| &l[..at]))
            .collect();
        let code = lines.join("\n");
        let mut names = Vec::new();
        let mut rest = code.as_str();
        while let Some(at) = rest.find("thread_local!") {
            rest = rest[at + "thread_local!".len()..].trim_start();
            if !rest.starts_with('{') {
                continue;
            }
            let mut depth = 0;
            let mut end = rest.len();
            for (i, c) in rest.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => continue,
                }
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            let block = &rest[..end];
            for (at, _) in block.match_indices("static ") {
                // Neither the lifetime `'static` (a schema cache's key type has one) nor
                // the end of a longer word.
                let before = block[..at].chars().next_back();
                if before.is_some_and(|c| c == '\'' || c == '_' || c.is_alphanumeric()) {
                    continue;
                }
                let name: String = block[at + "static ".len()..]
                    .trim_start()
                    .chars()
                    .take_while(|c| *c == '_' || c.is_alphanumeric())
                    .collect();
                names.push(name);
            }
            rest = &rest[end..];
        }
        names
    }

    /// This file's table as trimmed cells, row by row, the header first.
    fn table() -> Vec<Vec<String>> {
        include_str!("isolate.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//! |"))
            .map(|row| {
                let row = row.trim_end();
                row.strip_suffix('|')
                    .unwrap_or(row)
                    .split('|')
                    .map(|cell| cell.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|cells| !cells.iter().all(|c| c.starts_with("---")))
            .collect()
    }

    #[test]
    fn every_per_isolate_cache_is_listed_here() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut declared = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            for name in thread_local_statics(&text) {
                declared.push(format!("{}::{name}", module_path(&src, file)));
            }
        }
        assert!(
            !declared.is_empty(),
            "no thread_local! static found under src/"
        );

        let cells = table();
        let (header, rows) = cells.split_first().expect("src/isolate.rs has its table");
        let listed: Vec<&str> = rows.iter().map(|r| r[0].trim_matches('`')).collect();
        let missing: Vec<&String> = declared
            .iter()
            .filter(|d| !listed.contains(&d.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "per-isolate caches missing from the table of src/isolate.rs (add a row with \
             their bound and lifetime): {missing:?}"
        );
        // A row for a cache that is gone would state a bound nobody keeps.
        let gone: Vec<&str> = listed
            .iter()
            .copied()
            .filter(|l| !declared.iter().any(|d| d == l))
            .collect();
        assert!(
            gone.is_empty(),
            "rows of src/isolate.rs for no cache: {gone:?}"
        );

        let bound = header
            .iter()
            .position(|c| c == "Bound")
            .expect("a Bound column");
        for row in rows {
            assert_eq!(row.len(), header.len(), "a stray or missing `|`: {row:?}");
            assert!(!row[bound].is_empty(), "{} states no bound", row[0]);
        }
    }
}
