//! Live IAM facts, as the adapters hand them over: an access key's ID, status and creation, and
//! why a call failed. Plain data; the SDK's shapes stay in [`crate::aws`].

use chrono::{DateTime, Utc};

/// An access key's status as IAM reports it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStatus {
    /// Usable for API calls.
    Active,
    /// Disabled; can be re-activated.
    Inactive,
    /// Any other status IAM reports (e.g. `Expired`), kept verbatim so it is never mistaken for
    /// one of the two above.
    Other(String),
}

impl KeyStatus {
    /// IAM's spelling (`Active`, `Inactive`, or the status verbatim).
    pub fn as_str(&self) -> &str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
            KeyStatus::Other(s) => s,
        }
    }
}

/// What `GetUser` says of a user: the console password's last use and the user's tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveUser {
    /// `None` when the password was never used (or not since IAM began tracking it).
    pub password_last_used: Option<DateTime<Utc>>,
    /// The user's tags as (key, value) pairs.
    pub tags: Vec<(String, String)>,
}

/// One access key of a user, from `ListAccessKeys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveKey {
    /// The access key ID (`AKIA…`).
    pub id: String,
    /// Its current status.
    pub status: KeyStatus,
    /// When it was created; matched against the report's `access_key_N_last_rotated`.
    pub created: Option<DateTime<Utc>>,
}

/// A failed IAM call.
///
/// `NoSuchEntity` is its own variant because callers treat it differently: the user, key or
/// password is already gone (deleted by someone else since the report was generated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamError {
    /// The user, key or login profile does not exist (any more).
    #[error("{operation}: {message} (NoSuchEntity)")]
    NoSuchEntity {
        /// The IAM call that failed.
        operation: &'static str,
        /// IAM's message, naming the missing entity.
        message: String,
    },
    /// Any other failure: a service error (with its code, e.g. `AccessDenied`), throttling that
    /// outlasted the retries, a timeout or an unreachable endpoint (no code; the message carries
    /// the root cause).
    #[error("{operation}: {message}{}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Other {
        /// The IAM call that failed.
        operation: &'static str,
        /// The service's error code, when IAM answered at all.
        code: Option<String>,
        /// The service's message, or the root cause when the request never got an answer.
        message: String,
    },
}

impl IamError {
    /// True when the entity the call was about does not exist.
    pub fn is_no_such_entity(&self) -> bool {
        matches!(self, Self::NoSuchEntity { .. })
    }

    /// A successful response that lacks something the caller relies on. Treated as a failure,
    /// not as "absent", so a malformed answer never lets an action through.
    pub fn malformed(operation: &'static str, what: &str) -> Self {
        Self::Other {
            operation,
            code: None,
            message: format!(
                "the response {what}; the IAM endpoint answered unexpectedly, retry the run"
            ),
        }
    }
}
