//! Why a sign-in through a provider did not finish. The edge renders each as an error
//! page (and records the provider's failures and refusals in the audit log).

use crate::signin::policy::Refusal;

#[derive(Debug)]
pub enum Failure {
    /// Unknown, used or expired state, or another browser's.
    Expired(String),
    /// The provider said no (`?error=`); its error code.
    Refused(String),
    /// The provider's answer could not be used or verified.
    Failed(String),
    /// The provider did not answer usefully in time.
    Unavailable(String),
    /// The person is who they say, and may not sign in (the user id when known).
    Denied(Refusal, Option<String>),
    /// The operator's password check says the email and password do not match.
    WrongPassword,
    Internal(String),
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Failure {
        Failure::Internal(e.0)
    }
}

impl Failure {
    /// The words for the log and the audit row.
    pub fn why(&self) -> String {
        match self {
            Failure::Expired(w)
            | Failure::Failed(w)
            | Failure::Unavailable(w)
            | Failure::Internal(w) => w.clone(),
            Failure::Refused(code) => format!("the provider answered {code}"),
            Failure::Denied(r, _) => r.why().to_string(),
            Failure::WrongPassword => "the email and password do not match".into(),
        }
    }
}
