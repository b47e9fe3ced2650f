//! What the rules produce: one finding per credential, with every reason and one planned action.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::core::cis::Controls;

/// Which access key slot of the report (`access_key_1_*` or `access_key_2_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    One,
    Two,
}

impl Slot {
    pub const BOTH: [Slot; 2] = [Slot::One, Slot::Two];

    /// 0 or 1, for indexing `Record::access_keys`.
    pub fn index(self) -> usize {
        match self {
            Slot::One => 0,
            Slot::Two => 1,
        }
    }

    /// 1 or 2, as in the report's column names.
    pub fn number(self) -> u8 {
        self.index() as u8 + 1
    }
}

/// The credential a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Credential {
    /// The console password (login profile).
    Password,
    /// An IAM user's access key.
    AccessKey(Slot),
    /// An access key of the root user.
    RootAccessKey(Slot),
}

impl Credential {
    /// The key slot, for access keys.
    pub fn slot(self) -> Option<Slot> {
        match self {
            Credential::Password => None,
            Credential::AccessKey(s) | Credential::RootAccessKey(s) => Some(s),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Credential::Password => "password",
            Credential::AccessKey(Slot::One) => "access_key_1",
            Credential::AccessKey(Slot::Two) => "access_key_2",
            Credential::RootAccessKey(_) => "root_access_key",
        }
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Credential {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::str::FromStr for Credential {
    type Err = String;
    fn from_str(v: &str) -> Result<Self, String> {
        Ok(match v {
            "password" => Credential::Password,
            "access_key_1" => Credential::AccessKey(Slot::One),
            "access_key_2" => Credential::AccessKey(Slot::Two),
            "root_access_key" => Credential::RootAccessKey(Slot::One),
            other => return Err(format!("`{other}` is not a credential")),
        })
    }
}

/// Read back from the journal: the spelling [`Credential::as_str`] writes.
impl<'de> Deserialize<'de> for Credential {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = String::deserialize(d)?;
        v.parse().map_err(serde::de::Error::custom)
    }
}

pub use crate::core::rule_id::RuleId;

/// What enforce mode would do with the credential. Ordered by strength: when two rules want
/// different actions on one key, the stronger wins (delete > deactivate > none).
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
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Action {
    None,
    DeactivateKey,
    DeleteKey,
    DeleteLoginProfile,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Why a credential is exempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Exemption {
    /// `EXEMPT_USERS` names the user (the pattern that matched).
    Name { pattern: String },
    /// The user carries the exemption tag with `true` or a date not yet past.
    Tag { key: String, value: String },
}

impl fmt::Display for Exemption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exemption::Name { pattern } => write!(f, "EXEMPT_USERS matches `{pattern}`"),
            Exemption::Tag { key, value } => write!(f, "tag {key}={value}"),
        }
    }
}

/// One credential that a rule matched, or that is about to be disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub user: String,
    pub arn: String,
    pub credential: Credential,
    /// Every rule matched, in a fixed order. Empty for a credential that is only upcoming.
    pub rules: Vec<RuleId>,
    /// The last sign of use, or when the credential was set if never used.
    pub last_activity: Option<DateTime<Utc>>,
    /// The report column `last_activity` came from.
    pub last_activity_source: Option<&'static str>,
    /// Whole days since `last_activity`.
    pub idle_days: Option<i64>,
    /// Unused for `STALE_AFTER_DAYS` or more.
    pub stale: bool,
    /// Past the point where enforce mode acts on it (exemptions aside).
    pub disable_due: bool,
    /// When enforce mode will act on it (or began to be able to), if it ever will.
    pub disable_on: Option<DateTime<Utc>>,
    /// Not yet due, but due within `WARN_DAYS`.
    pub upcoming: bool,
    pub exempt: bool,
    /// Why it is exempt, when it is.
    pub exemption: Option<Exemption>,
    /// An exemption tag whose value is neither `true` nor a date: reported, not honoured.
    pub invalid_exemption: Option<String>,
    /// What enforce mode does with it.
    pub action: Action,
    /// The key's creation time (`access_key_N_last_rotated`): how the live re-check finds its ID.
    pub key_created: Option<DateTime<Utc>>,
    /// Where the key was last used, when the report says, so its owner can find the workload.
    pub last_used_service: Option<String>,
    pub last_used_region: Option<String>,
    /// The access key's slot in the report (1 or 2), for keys: tells a root account's two keys
    /// apart.
    pub key_slot: Option<u8>,
    /// The benchmark controls the finding evidences (`CIS_VERSION`'s IDs, Security Hub's).
    pub controls: Controls,
    /// For a key this tool deactivated earlier and that is now due for deletion
    /// (`DELETE_DEACTIVATED_AFTER_DAYS`): when the journal says it was deactivated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deactivated_since: Option<DateTime<Utc>>,
}

impl Finding {
    /// A finding with no rule, no activity and no action yet: the base the rules fill in.
    pub fn blank(user: &str, arn: &str, credential: Credential) -> Finding {
        Finding {
            user: user.to_string(),
            arn: arn.to_string(),
            credential,
            rules: Vec::new(),
            last_activity: None,
            last_activity_source: None,
            idle_days: None,
            stale: false,
            disable_due: false,
            disable_on: None,
            upcoming: false,
            exempt: false,
            exemption: None,
            invalid_exemption: None,
            action: Action::None,
            key_created: None,
            last_used_service: None,
            last_used_region: None,
            key_slot: credential.slot().map(Slot::number),
            controls: crate::core::cis::CisVersion::default().controls(&[]),
            deactivated_since: None,
        }
    }
}

impl Finding {
    /// True when enforce mode plans an action for it.
    pub fn planned(&self) -> bool {
        self.action != Action::None
    }

    /// True when the finding is something to fix (a rule matched and it is not exempt).
    pub fn actionable(&self) -> bool {
        !self.rules.is_empty() && !self.exempt
    }
}

/// Totals over a list of findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub findings: usize,
    pub stale: usize,
    pub disable_due: usize,
    pub upcoming: usize,
    pub unused_credentials: usize,
    pub initial_setup_keys: usize,
    pub root_access_keys: usize,
    pub exempt: usize,
    pub invalid_exemptions: usize,
    pub actions_planned: usize,
}

impl Counts {
    pub fn of(findings: &[Finding]) -> Self {
        let n = |f: &dyn Fn(&Finding) -> bool| findings.iter().filter(|x| f(x)).count();
        Counts {
            findings: findings.len(),
            stale: n(&|f| f.stale),
            disable_due: n(&|f| f.disable_due),
            upcoming: n(&|f| f.upcoming),
            unused_credentials: n(&|f| f.rules.contains(&RuleId::UnusedCredentials)),
            initial_setup_keys: n(&|f| f.rules.contains(&RuleId::InitialSetupKey)),
            root_access_keys: n(&|f| f.rules.contains(&RuleId::RootAccessKey)),
            exempt: n(&|f| f.exempt),
            invalid_exemptions: n(&|f| f.invalid_exemption.is_some()),
            actions_planned: n(&|f| f.planned()),
        }
    }
}
