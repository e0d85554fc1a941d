//! The connector doctor: which of the steps a client takes to connect each recent attempt
//! reached, and where and why it stopped, in words an operator can act on. The protocol
//! rooms report steps (`Mark`) through their surroundings; the edge keeps them, bounded,
//! in D1 (`store::d1_doctor`); this file also reads them back into attempts for the
//! console. A mark never holds a token, code, password or secret: ids, a step, a cause.

use crate::encoding::{b64url, sha256};

/// The steps of a connection, in the order a client takes them. Discovery (the two
/// metadata documents) carries no client ID, so it is not recorded per app: an attempt
/// that reached `/authorize` with the right `resource` has read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Dynamic registration (RFC 7591).
    Register,
    /// The client ID metadata document fetched and checked.
    Document,
    Authorize,
    SignIn,
    Consent,
    /// The authorization code exchanged at `/token`.
    Token,
    /// A call to `/mcp` with the access token.
    Mcp,
    Refresh,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Step::Register,
        Step::Document,
        Step::Authorize,
        Step::SignIn,
        Step::Consent,
        Step::Token,
        Step::Mcp,
        Step::Refresh,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Register => "register",
            Step::Document => "document",
            Step::Authorize => "authorize",
            Step::SignIn => "sign_in",
            Step::Consent => "consent",
            Step::Token => "token",
            Step::Mcp => "mcp",
            Step::Refresh => "refresh",
        }
    }

    pub fn from_name(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.name() == name)
    }

    /// What the operator reads for the step.
    pub fn words(self) -> &'static str {
        match self {
            Step::Register => "Registration (/register)",
            Step::Document => "Client ID metadata document fetched",
            Step::Authorize => "Authorization request (/authorize)",
            Step::SignIn => "Sign-in",
            Step::Consent => "Consent",
            Step::Token => "Code exchanged for tokens (/token)",
            Step::Mcp => "MCP call (/mcp)",
            Step::Refresh => "Refresh (/token)",
        }
    }

    /// The steps' order as SQL, for a column named `col` (the console's list counts the
    /// stopped attempts by `summarise`'s rule in SQL).
    pub fn rank_sql(col: &str) -> String {
        let mut out = format!("CASE {col}");
        for (i, s) in Step::ALL.iter().enumerate() {
            out.push_str(&format!(" WHEN '{}' THEN {i}", s.name()));
        }
        out.push_str(" ELSE -1 END");
        out
    }

    /// Steps that belong to the app rather than to one attempt.
    pub fn of_the_app(self) -> bool {
        matches!(self, Step::Register | Step::Document)
    }
}

/// Which attempt a mark belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Known from the authorization request: `attempt_key` of the client and its PKCE
    /// challenge, which the code carries to `/token`.
    Key(String),
    /// The attempt that produced this grant (its `/token` mark), looked up where the mark
    /// is kept; a grant from before the doctor starts an attempt of its own.
    Grant(String),
    /// The app's own steps (registration, its document).
    App,
}

/// The attempt name of the app's own steps.
pub const APP: &str = "app";

/// The key of an authorization attempt: the client and its PKCE challenge (public values,
/// hashed so the column is short). Without a challenge, the redirect URI stands in.
pub fn attempt_key(client_id: &str, challenge_or_redirect: &str) -> String {
    let digest = sha256(format!("{client_id}\n{challenge_or_redirect}").as_bytes());
    b64url(digest.get(..12).unwrap_or(&digest))
}

/// One step reached, or where an attempt stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The app; empty when the request named no app this server knows (the cause says
    /// what it named).
    pub client_id: String,
    pub attempt: Attempt,
    pub step: Step,
    /// `None`: the step was reached. `Some`: it stopped here, and why.
    pub stopped: Option<String>,
    pub user_id: Option<String>,
    /// The grant `/token` made (on its mark), for the later steps' `Attempt::Grant`.
    pub grant_id: Option<String>,
    /// Whether the request proved something (a session, a code or refresh token this
    /// server issued, a signed access token): such marks are bounded by real use. Marks of
    /// requests anyone can send (an `/authorize` link, a wrong secret, a made-up code) are
    /// not, so they share a daily budget and quotas of their own.
    pub proven: bool,
}

impl Mark {
    pub fn reached(client_id: &str, attempt: Attempt, step: Step) -> Mark {
        Mark {
            client_id: client_id.to_string(),
            attempt,
            step,
            stopped: None,
            user_id: None,
            grant_id: None,
            proven: false,
        }
    }

    /// A mark of a request that proved something (see `proven`). Marks are unproven
    /// unless their call site says so: a new call site forgetting it costs budget, never
    /// an unbounded write.
    pub fn proven(mut self) -> Mark {
        self.proven = true;
        self
    }

    pub fn stopped(client_id: &str, attempt: Attempt, step: Step, cause: &str) -> Mark {
        Mark {
            stopped: Some(cut(cause)),
            ..Mark::reached(client_id, attempt, step)
        }
    }

    pub fn by(mut self, user_id: &str) -> Mark {
        self.user_id = Some(user_id.to_string());
        self
    }

    pub fn grant(mut self, grant_id: &str) -> Mark {
        self.grant_id = Some(grant_id.to_string());
        self
    }
}

/// Causes are kept to one line of at most 300 characters.
pub fn cut(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// How many attempts per app (and for requests naming no known app) are kept per day, and
/// how many marks one attempt keeps: a client retrying in a loop fills its own attempt,
/// not the table.
pub const ATTEMPTS_PER_APP: u64 = 50;
pub const MARKS_PER_ATTEMPT: u64 = 24;
/// How many marks of unproven requests the whole deployment keeps in a UTC day, and how
/// many one isolate writes in a minute: together they bound the D1 writes anyone without
/// credentials can cause through the doctor.
pub const UNPROVEN_PER_DAY: u64 = 5_000;
pub const UNPROVEN_PER_MINUTE: u64 = 60;
/// How far back the doctor looks.
pub const WINDOW_SECONDS: u64 = 86_400;

/// A mark as kept.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct Row {
    pub client_id: String,
    pub attempt: String,
    pub at: u64,
    pub step: String,
    pub cause: Option<String>,
    pub user_id: Option<String>,
    /// 1: of a request that proved something (see `Mark::proven`).
    #[serde(default = "one")]
    pub proven: u64,
}

fn one() -> u64 {
    1
}

/// One step of an attempt as the doctor shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    NotReached,
    /// Not recorded, but a later step could not have happened without it (a code exists,
    /// so the person signed in and approved).
    Passed,
    Reached(u64),
    Stopped(u64, String),
}

impl Step {
    /// Whether reaching `later` means this step was passed: every step up to `/token`
    /// comes before the next; the MCP calls and the refreshes each need the code exchange
    /// but not each other.
    fn needed_by(self, later: Step) -> bool {
        self < later && self <= Step::Token && !self.of_the_app()
    }
}

/// One attempt read back: when it began and ended, who, and each step's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub attempt: String,
    pub first: u64,
    pub last: u64,
    pub user_id: Option<String>,
    /// One entry per step of `Step::ALL` that is not the app's own.
    pub steps: Vec<(Step, Seen)>,
    /// Where it stopped and why, if its last word was a stop.
    pub stop: Option<(Step, String)>,
    /// Where its last mark is among the rows read (to order attempts ending together).
    pub last_index: usize,
}

/// Groups an app's rows (any order) into attempts, most recent first. A step's state is
/// its latest mark: a stop followed by a success of the same step (the person typed the
/// password again) reads as reached. The attempt stopped where its latest mark is a stop
/// and no later step was reached after it.
pub fn summarise(rows: &[Row]) -> Vec<Summary> {
    let mut rows: Vec<&Row> = rows.iter().filter(|r| r.attempt != APP).collect();
    // Stable: rows of the same second stay in the order they were kept.
    rows.sort_by_key(|r| r.at);
    let mut order: Vec<&str> = Vec::new();
    for r in &rows {
        if !order.contains(&r.attempt.as_str()) {
            order.push(&r.attempt);
        }
    }
    let mut out: Vec<Summary> = order
        .into_iter()
        .map(|attempt| {
            let mine: Vec<&&Row> = rows.iter().filter(|r| r.attempt == attempt).collect();
            // The app's own steps (registration, its document) only when this attempt
            // has a mark of them: a refused registration is an attempt of its own.
            let mut steps: Vec<(Step, Seen)> = Step::ALL
                .into_iter()
                .filter(|s| !s.of_the_app() || mine.iter().any(|r| r.step == s.name()))
                .map(|s| (s, Seen::NotReached))
                .collect();
            let mut stop = None;
            for r in &mine {
                let Some(step) = Step::from_name(&r.step) else {
                    continue;
                };
                let seen = match &r.cause {
                    Some(c) => Seen::Stopped(r.at, c.clone()),
                    None => Seen::Reached(r.at),
                };
                if let Some(slot) = steps.iter_mut().find(|(s, _)| *s == step) {
                    slot.1 = seen;
                }
                stop = match &r.cause {
                    Some(c) => Some((step, c.clone())),
                    // A success at or after the step that stopped clears the stop.
                    None if stop.as_ref().is_some_and(|(s, _)| step >= *s) => None,
                    None => stop,
                };
            }
            // Steps a later one needed were passed, recorded or not (a mark may be
            // missing: the unproven marks' budget, or a mark from before the doctor).
            // Only a proven mark says so: a made-up code proves no sign-in happened.
            let seen: Vec<Step> = mine
                .iter()
                .filter(|r| r.proven == 1)
                .filter_map(|r| Step::from_name(&r.step))
                .collect();
            for (step, v) in steps.iter_mut() {
                if *v == Seen::NotReached && seen.iter().any(|l| step.needed_by(*l)) {
                    *v = Seen::Passed;
                }
            }
            Summary {
                attempt: attempt.to_string(),
                first: mine.first().map_or(0, |r| r.at),
                last: mine.last().map_or(0, |r| r.at),
                last_index: rows.iter().rposition(|r| r.attempt == attempt).unwrap_or(0),
                user_id: mine.iter().rev().find_map(|r| r.user_id.clone()),
                steps,
                stop,
            }
        })
        .collect();
    // Newest first; of two that ended in the same second, the one whose last mark came
    // later (rows arrive in the order they were kept).
    out.sort_by_key(|a| std::cmp::Reverse((a.last, a.last_index)));
    out
}

/// The cause an operator reads for an `/authorize` error, by its OAuth code: what to look
/// at first, then the server's own description.
pub fn authorize_cause(code: &str, description: &str) -> String {
    let lead = match code {
        "invalid_target" => {
            "The resource did not match this server's MCP URL; check the URL the app was given"
        }
        "invalid_scope" => "A scope asked for is unknown here or not allowed for this app",
        "invalid_request" if description.contains("code_challenge") => {
            "PKCE missing or not S256; the app must send code_challenge with method S256"
        }
        "unsupported_response_type" => "The app asked for a response type other than code",
        "access_denied" => "Access was denied",
        "login_required" | "consent_required" | "interaction_required" => {
            "The app asked for no page (prompt=none) but a sign-in or consent was needed"
        }
        _ => "The authorization request was refused",
    };
    cut(&format!("{lead}: {description} ({code})"))
}

/// The cause an operator reads for a `/token` error.
pub fn token_cause(code: &str, description: &str) -> String {
    let lead = match code {
        "invalid_client" => {
            "The app's authentication failed (a wrong or old secret, or the wrong method)"
        }
        "invalid_target" => "The resource did not match the one the person allowed",
        "invalid_grant" if description.contains("code_verifier") => {
            "PKCE failed: the code_verifier does not match the challenge sent to /authorize"
        }
        "invalid_grant" if description.contains("redirect_uri") => {
            "The redirect URI at /token differs from the one at /authorize"
        }
        "invalid_grant" => "The code or refresh token was refused",
        "invalid_request" if description.contains("code_verifier") => {
            "PKCE missing: no code_verifier was sent"
        }
        _ => "The token request was refused",
    };
    cut(&format!("{lead}: {description} ({code})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(attempt: &str, at: u64, step: Step, cause: Option<&str>) -> Row {
        Row {
            client_id: "c".into(),
            attempt: attempt.into(),
            at,
            step: step.name().into(),
            cause: cause.map(str::to_string),
            user_id: (step >= Step::SignIn).then(|| "u1".to_string()),
            proven: 1,
        }
    }

    #[test]
    fn steps_have_names_both_ways() {
        for s in Step::ALL {
            assert_eq!(Step::from_name(s.name()), Some(s));
        }
        assert_eq!(Step::from_name("discovery"), None);
    }

    #[test]
    fn attempts_are_keyed_by_client_and_challenge() {
        let a = attempt_key("c", "challenge");
        assert_eq!(a.len(), 16);
        assert_eq!(a, attempt_key("c", "challenge"));
        assert_ne!(a, attempt_key("c2", "challenge"));
        assert_ne!(a, attempt_key("c", "challenge2"));
    }

    #[test]
    fn an_attempt_stops_at_its_last_stop() {
        let rows = vec![
            row("a", 10, Step::Authorize, None),
            row("a", 20, Step::SignIn, None),
            row("a", 30, Step::Consent, None),
            row("a", 40, Step::Token, Some("PKCE failed")),
            row(APP, 5, Step::Register, None),
        ];
        let s = summarise(&rows);
        assert_eq!(s.len(), 1);
        let a = &s[0];
        assert_eq!((a.first, a.last), (10, 40));
        assert_eq!(a.stop, Some((Step::Token, "PKCE failed".into())));
        assert_eq!(a.user_id.as_deref(), Some("u1"));
        assert_eq!(a.steps.len(), 6);
        assert_eq!(a.steps[0], (Step::Authorize, Seen::Reached(10)));
        assert_eq!(
            a.steps[3],
            (Step::Token, Seen::Stopped(40, "PKCE failed".into()))
        );
        assert_eq!(a.steps[4], (Step::Mcp, Seen::NotReached));
    }

    #[test]
    fn a_later_success_clears_a_stop_and_attempts_are_newest_first() {
        let rows = vec![
            row(
                "old",
                1,
                Step::Authorize,
                Some("redirect URI not registered"),
            ),
            row("new", 10, Step::Authorize, None),
            row("new", 11, Step::SignIn, Some("wrong password")),
            row("new", 12, Step::SignIn, None),
            row("new", 13, Step::Consent, None),
            row("new", 14, Step::Token, None),
            row("new", 15, Step::Mcp, None),
            row("new", 500, Step::Mcp, Some("access token expired")),
            row("new", 510, Step::Refresh, None),
        ];
        let s = summarise(&rows);
        assert_eq!(
            s.iter().map(|a| a.attempt.as_str()).collect::<Vec<_>>(),
            ["new", "old"]
        );
        assert_eq!(s[0].stop, None, "the refresh after the expiry recovered");
        assert_eq!(s[0].steps[1], (Step::SignIn, Seen::Reached(12)));
        assert_eq!(
            s[1].stop,
            Some((Step::Authorize, "redirect URI not registered".into()))
        );
        // An expiry with no refresh after it is where it stopped.
        let stuck = summarise(&rows[1..8]);
        assert_eq!(
            stuck[0].stop,
            Some((Step::Mcp, "access token expired".into()))
        );
    }

    #[test]
    fn steps_a_later_one_needed_read_as_passed() {
        // Only the code exchange was recorded: authorize, sign-in and consent were passed.
        let s = summarise(&[row("a", 40, Step::Token, Some("PKCE failed"))]);
        assert_eq!(s[0].steps[0], (Step::Authorize, Seen::Passed));
        assert_eq!(s[0].steps[2], (Step::Consent, Seen::Passed));
        assert_eq!(s[0].steps[4], (Step::Mcp, Seen::NotReached));
        // A refresh needs the code exchange, not an MCP call.
        let s = summarise(&[row("b", 50, Step::Refresh, None)]);
        assert_eq!(s[0].steps[3], (Step::Token, Seen::Passed));
        assert_eq!(s[0].steps[4], (Step::Mcp, Seen::NotReached));
        // A made-up code (an unproven mark) says nothing of the steps before it.
        let made_up = Row {
            proven: 0,
            ..row("c", 60, Step::Token, Some("not valid"))
        };
        assert_eq!(
            summarise(&[made_up])[0].steps[0],
            (Step::Authorize, Seen::NotReached)
        );
    }

    #[test]
    fn a_refused_registration_is_an_attempt_with_its_step() {
        let s = summarise(&[row("r", 5, Step::Register, Some("redirect URI refused"))]);
        assert_eq!(
            s[0].steps[0],
            (
                Step::Register,
                Seen::Stopped(5, "redirect URI refused".into())
            )
        );
        assert_eq!(s[0].steps.len(), 7);
        assert_eq!(
            s[0].stop,
            Some((Step::Register, "redirect URI refused".into()))
        );
        // Of two attempts ending in the same second, the later-kept one comes first.
        let s = summarise(&[
            row("x", 9, Step::Token, Some("no")),
            row("y", 9, Step::Token, None),
        ]);
        assert_eq!(s[0].attempt, "y");
        assert!(Step::rank_sql("s.step").contains("WHEN 'token' THEN 5"));
    }

    #[test]
    fn causes_lead_with_what_to_look_at() {
        let c = authorize_cause("invalid_target", "this server only issues tokens for X");
        assert!(c.starts_with("The resource did not match"), "{c}");
        assert!(c.ends_with("(invalid_target)"));
        assert!(
            authorize_cause("invalid_request", "code_challenge is required")
                .starts_with("PKCE missing")
        );
        assert!(token_cause(
            "invalid_grant",
            "code_verifier does not match the code_challenge"
        )
        .starts_with("PKCE failed"));
        assert!(
            token_cause("invalid_client", "client authentication failed")
                .starts_with("The app's authentication failed")
        );
        assert_eq!(cut(&"x\n".repeat(400)).len(), 300);
    }
}
