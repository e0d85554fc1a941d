//! What every page of the operator console shares: the purpose its forms' CSRF tokens
//! are bound to, the rule that a change needs a recent sign-in, and the navigation. The
//! pages (`admin_*`) and the gate (`admin`) depend on this, never on each other's parts.

use crate::http::browser::{self, field};
use crate::http::{Ctx, Incoming};

/// What the console's CSRF tokens are bound to.
pub const PURPOSE: &str = "admin";
/// How recent the administrator's sign-in must be for a change.
pub const RECENT_SIGN_IN_SECONDS: u64 = 600;

/// Whether a sign-in at `signed_in` (0: unknown, a cookie from before it was written) is
/// recent enough at `now` for a change.
pub fn recent_enough(signed_in: u64, now: u64) -> bool {
    signed_in > 0 && now.saturating_sub(signed_in) <= RECENT_SIGN_IN_SECONDS
}

/// Whether a form post to the console carries this browser's token.
pub fn csrf_ok(ctx: &Ctx, req: &Incoming, form: &[(String, String)]) -> bool {
    browser::csrf_ok(ctx, req, PURPOSE, field(form, "csrf_token"))
}

/// The console's pages, in the order its navigation lists them.
const PAGES: [(&str, &str); 5] = [
    ("Overview", "/admin"),
    ("People", "/admin/people"),
    ("Apps", "/admin/apps"),
    ("Audit log", "/admin/audit"),
    ("Doctor", "/admin/doctor"),
];

/// The navigation at the top of every console page, `current` (a path of `PAGES`) marked
/// as the page shown rather than linked.
pub fn nav(current: &str) -> String {
    let items: Vec<String> = PAGES
        .iter()
        .map(|(name, path)| {
            if *path == current {
                format!("<a href=\"{path}\" aria-current=\"page\">{name}</a>")
            } else {
                format!("<a href=\"{path}\">{name}</a>")
            }
        })
        .collect();
    format!(
        "<nav aria-label=\"Console\" class=\"console\"><p>{}</p></nav>",
        items.join(" · ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_needs_a_sign_in_within_ten_minutes() {
        assert!(recent_enough(1_000, 1_000 + 600));
        assert!(!recent_enough(1_000, 1_000 + 601));
        assert!(
            !recent_enough(0, 100),
            "a sign-in of unknown time is not recent"
        );
    }
}
