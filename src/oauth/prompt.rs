//! OpenID Connect's `prompt` and `max_age` at `/authorize` (Core §3.1.2.1): what they
//! ask, and whether a session's sign-in answers them or the person signs in again.

/// What `prompt` asks (OpenID Connect Core §3.1.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    /// No page at all: the answer is a code or an error (`login_required`, ...).
    pub none: bool,
    /// Sign in again even with a session (`login`, and `select_account`, which this
    /// server answers with its sign-in page).
    pub login: bool,
}

impl Prompt {
    pub(crate) fn parse(text: Option<&str>) -> Result<Prompt, String> {
        let mut p = Prompt::default();
        let mut words = 0;
        for word in text.unwrap_or("").split(' ').filter(|w| !w.is_empty()) {
            words += 1;
            match word {
                "none" => p.none = true,
                "login" | "select_account" => p.login = true,
                // Consent is asked every time already.
                "consent" => {}
                other => {
                    return Err(format!(
                        "prompt {} is not supported (none, login, consent, select_account)",
                        crate::util::text::truncate(other, 20)
                    ))
                }
            }
        }
        if p.none && words > 1 {
            return Err("prompt none cannot be combined with another value".into());
        }
        Ok(p)
    }
}

/// Whether a session whose sign-in was at `signed_in` (Unix seconds; 0 when unknown)
/// answers `prompt` and `max_age` at `now`: not with `prompt=login`, and not older than
/// `max_age`.
pub fn sign_in_answers(prompt: Prompt, max_age: Option<u64>, signed_in: u64, now: u64) -> bool {
    if prompt.login {
        return false;
    }
    match max_age {
        None => true,
        Some(max) => signed_in > 0 && now.saturating_sub(signed_in) <= max,
    }
}
