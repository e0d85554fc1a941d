//! The console's audit log view, without the platform: which rows a query asks for (person,
//! app, kind of event, days), one page of them at a time, and the downloads (CSV and JSON
//! lines). Pure, so every filter and every escape is tested natively.

use crate::util::time::day_start;
use serde::{Deserialize, Serialize};

/// Rows on one page of the console's audit log.
pub const PAGE: u64 = 50;
/// Rows in one download; the page says when a download was cut at this many.
pub const DOWNLOAD: u64 = 10_000;

/// What the operator asked for. Empty strings ask for no filter on that field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Filter {
    /// A person's email, lower-cased.
    pub person: String,
    /// An app's client ID, exactly.
    pub app: String,
    /// An event name from `audit::NAMES`.
    pub event: String,
    /// `YYYY-MM-DD` (UTC), inclusive, as typed; `from_secs`/`to_secs` are what they mean.
    pub from: String,
    pub to: String,
    pub from_secs: u64,
    /// The first second after the `to` day (exclusive); `u64::MAX` for none.
    pub to_secs: u64,
    /// Rows older than this row id (the next page); 0 for the newest.
    pub before: u64,
}

/// Why a query could not be read: the page shows it above the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl Filter {
    /// Reads the query string's pairs. Unknown keys are ignored (the form's button, a
    /// format); a value that cannot mean anything is an error naming it, never a guess.
    pub fn from_query(pairs: &[(String, String)]) -> Result<Filter, FilterError> {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map_or("", |(_, v)| v.trim())
        };
        let mut f = Filter {
            person: get("person").to_ascii_lowercase(),
            app: get("app").to_string(),
            event: get("event").to_string(),
            from: get("from").to_string(),
            to: get("to").to_string(),
            from_secs: 0,
            to_secs: u64::MAX,
            before: 0,
        };
        if f.person.chars().count() > 254 || f.person.chars().any(char::is_control) {
            return Err(FilterError("The person must be an email address.".into()));
        }
        if f.app.chars().count() > 2048 || f.app.chars().any(char::is_control) {
            return Err(FilterError("The app must be a client ID.".into()));
        }
        if !f.event.is_empty() && !crate::audit::NAMES.contains(&f.event.as_str()) {
            return Err(FilterError(format!(
                "'{}' is not a kind of event the log records.",
                crate::util::text::truncate(&f.event, 40)
            )));
        }
        if !f.from.is_empty() {
            f.from_secs = day_start(&f.from).ok_or_else(|| bad_day("From", &f.from))?;
        }
        if !f.to.is_empty() {
            f.to_secs = day_start(&f.to)
                .ok_or_else(|| bad_day("To", &f.to))?
                .saturating_add(86_400);
        }
        if f.from_secs >= f.to_secs {
            return Err(FilterError("The From day is after the To day.".into()));
        }
        let before = get("before");
        if !before.is_empty() {
            f.before = before
                .parse()
                .map_err(|_| FilterError("That page of the log does not exist.".into()))?;
        }
        Ok(f)
    }

    /// The query string of this filter (without `before` and `format`), for links.
    pub fn query(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("person", &self.person),
            ("app", &self.app),
            ("event", &self.event),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.is_empty() {
                out.append_pair(k, v);
            }
        }
        out.finish()
    }
}

fn bad_day(which: &str, raw: &str) -> FilterError {
    FilterError(format!(
        "{which} must be a day written YYYY-MM-DD; got '{}'.",
        crate::util::text::truncate(raw, 20)
    ))
}

/// One row as the console shows and downloads it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Row {
    pub id: u64,
    pub at: u64,
    pub event: String,
    pub outcome: String,
    pub email: Option<String>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub request_id: String,
    pub detail: Option<String>,
}

const COLUMNS: [&str; 9] = [
    "time",
    "event",
    "outcome",
    "email",
    "user_id",
    "client_id",
    "ip",
    "request_id",
    "detail",
];

/// A CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A field a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first)
/// gets a leading `'`: details and names come from people and apps.
fn csv_field(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// The rows as CSV with a header line, times in ISO 8601 UTC, lines ending CRLF.
pub fn csv(rows: &[Row]) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for r in rows {
        let time = crate::util::time::timestamp(r.at);
        let fields = [
            time.as_str(),
            &r.event,
            &r.outcome,
            r.email.as_deref().unwrap_or(""),
            r.user_id.as_deref().unwrap_or(""),
            r.client_id.as_deref().unwrap_or(""),
            r.ip.as_deref().unwrap_or(""),
            &r.request_id,
            r.detail.as_deref().unwrap_or(""),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The rows as JSON lines: one object per line, with `at` in Unix seconds and `time` in
/// ISO 8601 UTC.
pub fn json_lines(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let line = serde_json::json!({
            "time": crate::util::time::timestamp(r.at),
            "at": r.at,
            "event": r.event,
            "outcome": r.outcome,
            "email": r.email,
            "user_id": r.user_id,
            "client_id": r.client_id,
            "ip": r.ip,
            "request_id": r.request_id,
            "detail": r.detail,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn days_are_read_as_utc_days() {
        assert_eq!(day_start("1970-01-01"), Some(0));
        assert_eq!(day_start("2026-12-07"), Some(1_796_601_600));
        assert_eq!(day_start("2024-02-29"), Some(1_709_164_800));
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "1969-12-31",
            "2026-12-07T00",
            "+202-12-07",
            "",
            "２０２６-12-07",
        ] {
            assert_eq!(day_start(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_filter_reads_what_the_form_sends() {
        let f = Filter::from_query(&q(&[
            ("person", " Ada@Example.COM "),
            ("app", "abc"),
            ("event", "sign_in"),
            ("from", "2026-12-01"),
            ("to", "2026-12-01"),
            ("before", "77"),
        ]))
        .expect("reads");
        assert_eq!(f.person, "ada@example.com");
        assert_eq!(f.from_secs + 86_400, f.to_secs);
        assert_eq!(f.before, 77);
        assert_eq!(
            f.query(),
            "person=ada%40example.com&app=abc&event=sign_in&from=2026-12-01&to=2026-12-01"
        );
        let none = Filter::from_query(&[]).expect("reads");
        assert_eq!(
            (none.from_secs, none.to_secs, none.before),
            (0, u64::MAX, 0)
        );
        assert_eq!(none.query(), "");
    }

    #[test]
    fn a_filter_that_cannot_mean_anything_says_why() {
        for (pairs, says) in [
            (vec![("event", "drop_tables")], "not a kind of event"),
            (vec![("from", "yesterday")], "From must be a day"),
            (vec![("to", "2026-02-30")], "To must be a day"),
            (
                vec![("from", "2026-12-02"), ("to", "2026-12-01")],
                "after the To day",
            ),
            (vec![("before", "-1")], "does not exist"),
            (vec![("person", "a\nb")], "email address"),
        ] {
            let err = Filter::from_query(&q(&pairs)).expect_err("refused");
            assert!(err.0.contains(says), "{pairs:?}: {}", err.0);
        }
    }

    fn row(detail: &str) -> Row {
        Row {
            id: 1,
            at: 1_796_601_600,
            event: "token_created".into(),
            outcome: "ok".into(),
            email: Some("ada@example.com".into()),
            user_id: Some("u1".into()),
            client_id: None,
            ip: Some("203.0.113.0/24".into()),
            request_id: "r1".into(),
            detail: Some(detail.into()),
        }
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let out = csv(&[row("=HYPERLINK(\"x\"),1"), row("plain")]);
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(
            lines.first().copied(),
            Some("time,event,outcome,email,user_id,client_id,ip,request_id,detail")
        );
        assert_eq!(
            lines.get(1).copied(),
            Some(
                "2026-12-07T00:00:00Z,token_created,ok,ada@example.com,u1,,203.0.113.0/24,r1,\"'=HYPERLINK(\"\"x\"\"),1\""
            )
        );
        assert!(lines.get(2).is_some_and(|l| l.ends_with(",r1,plain")));
        assert_eq!(csv_field("-1"), "'-1");
        assert_eq!(csv_field("a\nb"), "\"a\nb\"");
    }

    #[test]
    fn json_lines_are_one_object_per_line() {
        let out = json_lines(&[row("a\nb"), row("c")]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        let first: serde_json::Value = serde_json::from_str(lines[0]).expect("json");
        assert_eq!(first["detail"], "a\nb");
        assert_eq!(first["time"], "2026-12-07T00:00:00Z");
        assert_eq!(first["client_id"], serde_json::Value::Null);
    }
}
