//! The names of the rules, one spelling each (derived): what a finding lists in `rules`.

use serde::Serialize;

/// The rules a finding can match.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    strum::Display,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum RuleId {
    /// Seed 002: credentials unused for N days or more.
    UnusedCredentials,
    /// Seed 000: a never-used key created together with its console user.
    InitialSetupKey,
    /// The root user has an active access key (reported, never acted on).
    RootAccessKey,
}

impl RuleId {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}
