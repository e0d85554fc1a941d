//! Tests of `client_document`.

use super::*;

#[test]
fn only_public_https_urls_with_a_path_are_documents() {
    assert!(is_document_url("https://chatgpt.com/oauth/abc/client.json"));
    for bad in [
        "http://chatgpt.com/client.json",
        "https://chatgpt.com/",
        "https://u:p@chatgpt.com/c.json",
        "https://chatgpt.com/c.json#x",
        "https://127.0.0.1/c.json",
        "https://[::1]/c.json",
        "https://localhost/c.json",
        "https://intranet/c.json",
        "https://metadata.google.internal./c.json",
        "abc123",
        // A query makes a new URL (and a new cache entry) out of the same document.
        "https://chatgpt.com/c.json?x=1",
        "https://chatgpt.com/c.json?",
        // Names that spell private or loopback addresses for wildcard DNS services.
        "https://127.0.0.1.nip.io/c.json",
        "https://app.10.0.0.8.sslip.io/c.json",
        "https://192-168-1-1.sslip.io/c.json",
        "https://ip-10-1-2-3.example.com/c.json",
        "https://7f000001.nip.io/c.json",
        "https://a9fea9fe.nip.io/c.json",
        "https://--1.sslip.io/c.json",
        "https://fe80--1.sslip.io/c.json",
        "https://169.254.169.254.nip.io/c.json",
        "https://100.64.0.1.nip.io/c.json",
        "https://0.0.0.0.nip.io/c.json",
        "https://localtest.me.localtest.me/c.json",
        "https://x.lvh.me/c.json",
        "https://router.home.arpa/c.json",
        "https://nas.lan/c.json",
        "https://api.localhost/c.json",
        "https://app-7f000001.nip.io/c.json",
        "https://x-c0a80001-y.nip.io/c.json",
        "https://a.localhost.direct/c.json",
    ] {
        assert!(!is_document_url(bad), "{bad}");
    }
    for good in [
        "https://claude.ai/oauth/claude-code-client-metadata",
        "https://8.8.8.8.nip.io/c.json",
        "https://app-1-2.example.com/c.json",
        "https://cafe-babe.example.com/c.json",
        // Eight hex digits outside the wildcard DNS services are an ordinary name.
        "https://app-git-7f000001.vercel.app/c.json",
        "https://lim1-e2e9b82a.example/c.json",
    ] {
        assert!(is_document_url(good), "{good}");
    }
}

fn doc(text: &str, json: bool) -> Document {
    Document {
        text: text.to_string(),
        json,
    }
}

#[test]
fn only_a_json_document_sending_people_home_is_vouched_for() {
    let url = "https://app.example/client.json";
    let with = |redirects: &str, json| {
        let text = format!(r#"{{"client_id":"{url}","redirect_uris":[{redirects}]}}"#);
        parse_client(url, &doc(&text, json)).unwrap().source
    };
    let home = r#""https://app.example/cb""#;
    assert_eq!(with(home, true), ClientSource::MetadataDocument);
    assert_eq!(with(home, false), ClientSource::UnverifiedDocument);
    for (redirects, source) in [
        (
            r#""https://cb.app.example/x""#,
            ClientSource::MetadataDocument,
        ),
        (
            r#""https://app.example/a","https://evil.example/b""#,
            ClientSource::UnverifiedDocument,
        ),
        (
            r#""https://evil.example/cb""#,
            ClientSource::UnverifiedDocument,
        ),
        (
            r#""https://notapp.example/cb""#,
            ClientSource::UnverifiedDocument,
        ),
        (
            r#""http://127.0.0.1:9/cb""#,
            ClientSource::UnverifiedDocument,
        ),
    ] {
        assert_eq!(with(redirects, true), source, "{redirects}");
    }
    // A document on a subdomain vouches for its own domain, never a bare top-level name.
    assert!(redirects_stay_home(
        "https://cdn.app.example/c.json",
        &["https://app.example/cb".to_string()]
    ));
    assert!(!redirects_stay_home(
        "https://app.example/c.json",
        &["https://example/cb".to_string()]
    ));
    assert!(is_json_media_type("application/json; charset=utf-8"));
    assert!(is_json_media_type("Application/JSON"));
    assert!(!is_json_media_type("text/plain"));
    assert!(!is_json_media_type("application/jsonp"));
}

#[test]
fn cached_documents_keep_how_they_were_served() {
    for json in [true, false] {
        let d = Document::from_cache(&doc("{\"a\":1}\nx", json).cached()).unwrap();
        assert_eq!((d.text.as_str(), d.json), ("{\"a\":1}\nx", json));
    }
    // What an earlier version cached (the bare document) is fetched again.
    assert!(Document::from_cache("{\"client_id\":\"x\"}").is_none());
}

#[test]
fn cache_lifetimes_are_bounded() {
    assert_eq!(cache_seconds(Some("max-age=5".into())), Some(60));
    assert_eq!(
        cache_seconds(Some("public, max-age=3600".into())),
        Some(3600)
    );
    assert_eq!(cache_seconds(Some("max-age=99999999".into())), Some(86400));
    assert_eq!(cache_seconds(Some("no-store".into())), None);
    assert_eq!(cache_seconds(None), None);
}

#[test]
fn document_must_name_itself() {
    let url = "https://app.example/client.json";
    let ok = format!(r#"{{"client_id":"{url}","redirect_uris":["https://app.example/cb"]}}"#);
    assert_eq!(
        parse_client(url, &doc(&ok, true))
            .unwrap()
            .token_endpoint_auth_method,
        AuthMethod::None
    );
    let other =
        r#"{"client_id":"https://evil.example/c.json","redirect_uris":["https://app.example/cb"]}"#;
    assert!(parse_client(url, &doc(other, true)).is_err());
    let secret = format!(
        r#"{{"client_id":"{url}","redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_post"}}"#
    );
    assert!(parse_client(url, &doc(&secret, true)).is_err());
}

#[test]
fn fetches_are_counted_per_network_and_in_all_never_per_url() {
    let limits = Allowance {
        fetches_per_network_per_minute: 2,
        fetches_per_minute: 3,
        fills_per_network_per_hour: 1,
        fills_per_day: 1,
    };
    let mut f = Fetches::default();
    let now = 600;
    assert!(f.take("https://a.example/1", "n1", &limits, now).is_ok());
    assert!(f.take("https://a.example/2", "n1", &limits, now).is_ok());
    // A new URL is no new allowance for the same network...
    assert!(f.take("https://a.example/3", "n1", &limits, now).is_err());
    // ...another network has its own, until the total is spent.
    assert!(f.take("https://a.example/3", "n2", &limits, now).is_ok());
    assert!(f.take("https://a.example/4", "n3", &limits, now).is_err());
    // The next minute starts afresh.
    assert!(f
        .take("https://a.example/4", "n1", &limits, now + 60)
        .is_ok());
    // Failures of one URL stop its fetches for the minute, whoever asks.
    let roomy = Allowance {
        fetches_per_network_per_minute: 100,
        fetches_per_minute: 100,
        ..limits
    };
    let mut f = Fetches::default();
    for _ in 0..FAILURES_PER_MINUTE {
        assert!(f.take("https://down.example/c", "n1", &roomy, now).is_ok());
        f.failed("https://down.example/c");
    }
    assert!(f.take("https://down.example/c", "n9", &roomy, now).is_err());
    assert!(f.take("https://up.example/c", "n9", &roomy, now).is_ok());
    // Past MAX_TRACKED networks in a minute, a new one waits.
    let wide = Allowance {
        fetches_per_network_per_minute: 1,
        fetches_per_minute: u64::MAX,
        ..limits
    };
    let mut f = Fetches::default();
    for n in 0..MAX_TRACKED {
        assert!(f
            .take("https://a.example/c", &format!("n{n}"), &wide, now)
            .is_ok());
    }
    assert!(f
        .take("https://a.example/c", "one-more", &wide, now)
        .is_err());
}
