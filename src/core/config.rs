//! The policy, read from environment variables.
//!
//! Every variable is read and checked before anything else happens, and every problem is reported
//! at once: an operator fixing a deployment should not have to redeploy once per typo. An empty
//! value counts as unset, because CloudFormation passes empty strings for empty parameters.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::core::cis::CisVersion;
pub use crate::core::exemption::ExemptUsers;

/// What the run may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Mode {
    /// Evaluate and report only (the default).
    Report,
    /// Take the planned actions.
    Enforce,
}

/// What to do with an initial-setup key once its grace period is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::Display)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum InitialKeyAction {
    Delete,
    Deactivate,
}

/// The rules' settings: everything `rules::evaluate` needs besides the report and the time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub mode: Mode,
    pub stale_after_days: u32,
    pub disable_after_days: u32,
    pub warn_days: u32,
    pub initial_key_window_seconds: u32,
    pub initial_key_grace_days: u32,
    pub initial_key_action: InitialKeyAction,
    pub disable_keys: bool,
    pub delete_passwords: bool,
    pub exempt_users: ExemptUsers,
    pub exempt_tag_key: String,
    pub max_actions: u32,
    /// `CIS_VERSION`: the benchmark version findings are labelled with.
    pub cis_version: CisVersion,
}

impl Default for Policy {
    /// The documented defaults: report only, stale at 30 days, disabled at 90.
    fn default() -> Self {
        Policy {
            mode: Mode::Report,
            stale_after_days: 30,
            disable_after_days: 90,
            warn_days: 7,
            initial_key_window_seconds: 10,
            initial_key_grace_days: 7,
            initial_key_action: InitialKeyAction::Delete,
            disable_keys: true,
            delete_passwords: true,
            exempt_users: ExemptUsers::default(),
            exempt_tag_key: "iam-sweeper:exempt".into(),
            max_actions: 25,
            cis_version: CisVersion::default(),
        }
    }
}

/// How the Lambda runs: settings that do not change what the rules decide.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Runtime {
    /// `SNS_TOPIC_ARN`: where the summary goes; none means logs only.
    pub sns_topic_arn: Option<String>,
    /// `REPORT_WAIT_SECONDS`: how long to wait for the credential report.
    pub report_wait_seconds: u32,
    /// `CONCURRENCY`: live re-checks and actions in flight at once.
    pub concurrency: u32,
    /// `PAGED_READS`: read many users' tags and password use in account-wide pages
    /// (`GetAccountAuthorizationDetails`) instead of one call per user, when that
    /// takes fewer calls. Off by default: the role then needs only the per-user reads, and
    /// `GetAccountAuthorizationDetails` would also let the function read every policy document.
    pub paged_reads: bool,
    /// `SECURITY_HUB`: import every finding into Security Hub (the function's account and
    /// region) and close the ones this tool raised earlier that are fixed. Off by default.
    pub security_hub: bool,
    /// `JOURNAL_BUCKET` / `JOURNAL_PREFIX`: where the write-ahead journal goes; none means no
    /// journal (and no quarantine, no delete-after-deactivation).
    pub journal: Option<JournalPlace>,
    /// `QUARANTINE_DAYS`: above 0, a key due for deletion is deactivated instead and deleted on
    /// a later run once the journal shows this tool deactivated it that many days ago.
    pub quarantine_days: u32,
    /// `DELETE_DEACTIVATED_AFTER_DAYS`: keys this tool deactivated and that stayed inactive (and
    /// unused) that long are deleted. Unset: never.
    pub delete_deactivated_after_days: Option<u32>,
    /// `SENDER_EMAIL`: the verified SES identity owner mail comes from; none means no owner mail.
    pub sender_email: Option<String>,
    /// `OWNER_EMAIL_TAG`: the user tag holding the owner's address.
    pub owner_email_tag: String,
}

/// A journal's bucket and key prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalPlace {
    pub bucket: String,
    /// Ends with `/` unless empty.
    pub prefix: String,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            sns_topic_arn: None,
            report_wait_seconds: 120,
            concurrency: 8,
            paged_reads: false,
            security_hub: false,
            journal: None,
            quarantine_days: 0,
            delete_deactivated_after_days: None,
            sender_email: None,
            owner_email_tag: "email".into(),
        }
    }
}

/// Every environment variable the binary reads, for documentation and the template check.
pub const VARIABLES: [&str; 24] = [
    "MODE",
    "CIS_VERSION",
    "STALE_AFTER_DAYS",
    "DISABLE_AFTER_DAYS",
    "WARN_DAYS",
    "INITIAL_KEY_WINDOW_SECONDS",
    "INITIAL_KEY_GRACE_DAYS",
    "INITIAL_KEY_ACTION",
    "DISABLE_KEYS",
    "DELETE_PASSWORDS",
    "EXEMPT_USERS",
    "EXEMPT_TAG_KEY",
    "MAX_ACTIONS",
    "SNS_TOPIC_ARN",
    "REPORT_WAIT_SECONDS",
    "CONCURRENCY",
    "PAGED_READS",
    "SECURITY_HUB",
    "JOURNAL_BUCKET",
    "JOURNAL_PREFIX",
    "QUARANTINE_DAYS",
    "DELETE_DEACTIVATED_AFTER_DAYS",
    "SENDER_EMAIL",
    "OWNER_EMAIL_TAG",
];

/// One or more invalid settings, each with the variable and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration, nothing was done:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

/// One invalid variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub variable: &'static str,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

/// Upper bound for any day count: a century, far past any sensible threshold.
const MAX_DAYS: u32 = 36_500;

/// Reads the policy and runtime settings through `lookup` (normally `std::env::var`).
pub fn from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(Policy, Runtime), ConfigError> {
    let mut r = Reader {
        lookup: &lookup,
        problems: Vec::new(),
    };
    let d = Policy::default();
    let rt = Runtime::default();
    // A CIS version that is set also sets the days after which an unused credential is disabled
    // (an explicit DISABLE_AFTER_DAYS still wins); unset, the seed's 30 / 90 stand.
    let cis_version = r.cis_version("CIS_VERSION");
    let disable_default = match (r.get("CIS_VERSION"), cis_version) {
        (Some(_), v) => v.unused_days(),
        (None, _) => d.disable_after_days,
    };
    let stale_default = d.stale_after_days.min(disable_default);
    let policy = Policy {
        cis_version,
        mode: r.choice(
            "MODE",
            d.mode,
            &[("report", Mode::Report), ("enforce", Mode::Enforce)],
        ),
        stale_after_days: r.number("STALE_AFTER_DAYS", stale_default, 1, MAX_DAYS),
        disable_after_days: r.number("DISABLE_AFTER_DAYS", disable_default, 1, MAX_DAYS),
        warn_days: r.number("WARN_DAYS", d.warn_days, 0, MAX_DAYS),
        initial_key_window_seconds: r.number(
            "INITIAL_KEY_WINDOW_SECONDS",
            d.initial_key_window_seconds,
            0,
            86_400,
        ),
        initial_key_grace_days: r.number(
            "INITIAL_KEY_GRACE_DAYS",
            d.initial_key_grace_days,
            0,
            MAX_DAYS,
        ),
        initial_key_action: r.choice(
            "INITIAL_KEY_ACTION",
            d.initial_key_action,
            &[
                ("delete", InitialKeyAction::Delete),
                ("deactivate", InitialKeyAction::Deactivate),
            ],
        ),
        disable_keys: r.flag("DISABLE_KEYS", d.disable_keys),
        delete_passwords: r.flag("DELETE_PASSWORDS", d.delete_passwords),
        exempt_users: r.exempt_users("EXEMPT_USERS"),
        exempt_tag_key: r.tag_key("EXEMPT_TAG_KEY", &d.exempt_tag_key),
        max_actions: r.number("MAX_ACTIONS", d.max_actions, 0, 100_000),
    };
    let runtime = Runtime {
        sns_topic_arn: r.topic_arn("SNS_TOPIC_ARN"),
        report_wait_seconds: r.number("REPORT_WAIT_SECONDS", rt.report_wait_seconds, 1, 900),
        concurrency: r.number("CONCURRENCY", rt.concurrency, 1, 64),
        paged_reads: r.flag("PAGED_READS", rt.paged_reads),
        security_hub: r.flag("SECURITY_HUB", rt.security_hub),
        journal: r.journal("JOURNAL_BUCKET", "JOURNAL_PREFIX"),
        quarantine_days: r.number("QUARANTINE_DAYS", rt.quarantine_days, 0, MAX_DAYS),
        delete_deactivated_after_days: r
            .get("DELETE_DEACTIVATED_AFTER_DAYS")
            .map(|_| r.number("DELETE_DEACTIVATED_AFTER_DAYS", 0, 1, MAX_DAYS)),
        sender_email: r.email("SENDER_EMAIL"),
        owner_email_tag: r.tag_key("OWNER_EMAIL_TAG", &rt.owner_email_tag),
    };
    if runtime.journal.is_none() {
        // Both stages decide from the journal's record of what this tool deactivated: without a
        // journal they could only delete keys nobody can prove this tool disabled.
        if runtime.quarantine_days > 0 {
            r.problem(
                "QUARANTINE_DAYS",
                "needs JOURNAL_BUCKET: a quarantined key is deleted only when the journal shows this tool deactivated it",
            );
        }
        if runtime.delete_deactivated_after_days.is_some() {
            r.problem(
                "DELETE_DEACTIVATED_AFTER_DAYS",
                "needs JOURNAL_BUCKET: only keys the journal shows this tool deactivated are deleted",
            );
        }
    }
    if policy.disable_after_days < policy.stale_after_days {
        r.problem(
            "DISABLE_AFTER_DAYS",
            format!(
                "{} is less than STALE_AFTER_DAYS ({}); a credential must be reported stale before it is disabled",
                policy.disable_after_days, policy.stale_after_days
            ),
        );
    }
    if r.problems.is_empty() {
        Ok((policy, runtime))
    } else {
        Err(ConfigError {
            problems: r.problems,
        })
    }
}

struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn problem(&mut self, variable: &'static str, message: impl Into<String>) {
        self.problems.push(Problem {
            variable,
            message: message.into(),
        });
    }

    /// The trimmed value, or `None` when unset or empty.
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn number(&mut self, name: &'static str, default: u32, min: u32, max: u32) -> u32 {
        let Some(v) = self.get(name) else {
            return default;
        };
        match v.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                self.problem(
                    name,
                    format!("`{v}` is not a whole number from {min} to {max}"),
                );
                default
            }
        }
    }

    fn cis_version(&mut self, name: &'static str) -> CisVersion {
        let Some(v) = self.get(name) else {
            return CisVersion::default();
        };
        v.parse().unwrap_or_else(|_| {
            use strum::IntoEnumIterator;
            let known: Vec<String> = CisVersion::iter().map(|v| v.to_string()).collect();
            self.problem(name, format!("`{v}` is not one of: {}", known.join(", ")));
            CisVersion::default()
        })
    }

    fn flag(&mut self, name: &'static str, default: bool) -> bool {
        match self.get(name) {
            None => default,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                self.problem(name, format!("`{v}` is not true or false"));
                default
            }
        }
    }

    fn choice<T: Copy>(&mut self, name: &'static str, default: T, options: &[(&str, T)]) -> T {
        let Some(v) = self.get(name) else {
            return default;
        };
        if let Some((_, t)) = options.iter().find(|(k, _)| k.eq_ignore_ascii_case(&v)) {
            return *t;
        }
        let names: Vec<&str> = options.iter().map(|(k, _)| *k).collect();
        self.problem(name, format!("`{v}` is not one of: {}", names.join(", ")));
        default
    }

    fn exempt_users(&mut self, name: &'static str) -> ExemptUsers {
        let v = self.get(name).unwrap_or_default();
        ExemptUsers::parse(&v).unwrap_or_else(|e| {
            self.problem(name, e);
            ExemptUsers::default()
        })
    }

    fn tag_key(&mut self, name: &'static str, default: &str) -> String {
        let Some(v) = self.get(name) else {
            return default.to_string();
        };
        if v.chars().count() > 128 || v.to_ascii_lowercase().starts_with("aws:") {
            self.problem(name, format!("`{v}` is not a valid IAM tag key (at most 128 characters, not starting with aws:)"));
        }
        v
    }

    /// The journal's place: a bucket name as S3 accepts it, and a prefix that ends with `/`.
    fn journal(&mut self, bucket: &'static str, prefix: &'static str) -> Option<JournalPlace> {
        let p = self.get(prefix).unwrap_or_default();
        let name = self.get(bucket)?;
        let valid = (3..=63).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && name.as_bytes()[0].is_ascii_alphanumeric()
            && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
        if !valid {
            self.problem(
                bucket,
                format!("`{name}` is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)"),
            );
        }
        if p.starts_with('/') || p.contains("//") {
            self.problem(prefix, format!("`{p}` must not start with / or contain //"));
        }
        let prefix = if p.is_empty() || p.ends_with('/') {
            p
        } else {
            format!("{p}/")
        };
        Some(JournalPlace {
            bucket: name,
            prefix,
        })
    }

    /// An email address as SES takes it (a plain `local@domain`).
    fn email(&mut self, name: &'static str) -> Option<String> {
        let v = self.get(name)?;
        if !crate::core::owner_mail::is_address(&v) {
            self.problem(name, format!("`{v}` is not an email address"));
        }
        Some(v)
    }

    fn topic_arn(&mut self, name: &'static str) -> Option<String> {
        let v = self.get(name)?;
        let parts: Vec<&str> = v.split(':').collect();
        // Every part is checked: a topic ARN that only looks right here would fail at publish
        // time, after the actions were taken, and the email listing them would never be sent.
        let well_formed = parts.len() == 6
            && parts[0] == "arn"
            && !parts[1].is_empty()
            && parts[2] == "sns"
            && !parts[3].is_empty()
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && !parts[5].is_empty();
        if !well_formed {
            self.problem(
                name,
                format!("`{v}` is not an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:NAME)"),
            );
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<(Policy, Runtime), ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn a_cis_version_sets_the_disable_days_unless_they_are_given() {
        let (p, _) = read(&[]).unwrap();
        assert_eq!(
            (p.cis_version, p.stale_after_days, p.disable_after_days),
            (CisVersion::V5_0_0, 30, 90)
        );
        let (p, _) = read(&[("CIS_VERSION", "5.0.0")]).unwrap();
        assert_eq!((p.stale_after_days, p.disable_after_days), (30, 45));
        let (p, _) = read(&[("CIS_VERSION", "1.2.0")]).unwrap();
        assert_eq!(
            (p.cis_version, p.disable_after_days),
            (CisVersion::V1_2_0, 90)
        );
        let (p, _) = read(&[("CIS_VERSION", "6.0.0"), ("DISABLE_AFTER_DAYS", "60")]).unwrap();
        assert_eq!(
            (p.cis_version, p.disable_after_days),
            (CisVersion::V6_0_0, 60)
        );
        let e = read(&[("CIS_VERSION", "2.0")]).unwrap_err();
        assert_eq!(e.problems[0].variable, "CIS_VERSION");
    }

    #[test]
    fn defaults_match_the_rules() {
        let (p, rt) = read(&[]).unwrap();
        assert_eq!(p, Policy::default());
        assert_eq!(p.mode, Mode::Report);
        assert_eq!(
            (p.stale_after_days, p.disable_after_days, p.warn_days),
            (30, 90, 7)
        );
        assert_eq!(
            (p.initial_key_window_seconds, p.initial_key_grace_days),
            (10, 7)
        );
        assert_eq!(p.initial_key_action, InitialKeyAction::Delete);
        assert!(p.disable_keys && p.delete_passwords);
        assert_eq!(p.exempt_tag_key, "iam-sweeper:exempt");
        assert_eq!(p.max_actions, 25);
        assert_eq!(rt, Runtime::default());
    }

    #[test]
    fn reads_every_variable() {
        let (p, rt) = read(&[
            ("MODE", "enforce"),
            ("STALE_AFTER_DAYS", "45"),
            ("DISABLE_AFTER_DAYS", "45"),
            ("WARN_DAYS", "0"),
            ("INITIAL_KEY_WINDOW_SECONDS", "60"),
            ("INITIAL_KEY_GRACE_DAYS", "0"),
            ("INITIAL_KEY_ACTION", "deactivate"),
            ("DISABLE_KEYS", "FALSE"),
            ("DELETE_PASSWORDS", "false"),
            ("EXEMPT_USERS", "svc-*, break-glass"),
            ("EXEMPT_TAG_KEY", "keep"),
            ("MAX_ACTIONS", "3"),
            (
                "SNS_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:sweeper",
            ),
            ("REPORT_WAIT_SECONDS", "30"),
            ("CONCURRENCY", "2"),
            ("PAGED_READS", "true"),
            ("SECURITY_HUB", "TRUE"),
        ])
        .unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(
            (p.stale_after_days, p.disable_after_days, p.warn_days),
            (45, 45, 0)
        );
        assert_eq!(
            (p.initial_key_window_seconds, p.initial_key_grace_days),
            (60, 0)
        );
        assert_eq!(p.initial_key_action, InitialKeyAction::Deactivate);
        assert!(!p.disable_keys && !p.delete_passwords);
        assert_eq!(p.exempt_users.matching("svc-ci"), Some("svc-*"));
        assert_eq!(p.exempt_users.matching("break-glass"), Some("break-glass"));
        assert_eq!(p.exempt_users.matching("alice"), None);
        assert_eq!(p.exempt_tag_key, "keep");
        assert_eq!(p.max_actions, 3);
        assert_eq!(
            rt.sns_topic_arn.as_deref(),
            Some("arn:aws:sns:us-east-1:123456789012:sweeper")
        );
        assert_eq!((rt.report_wait_seconds, rt.concurrency), (30, 2));
        assert!(rt.paged_reads);
        assert!(rt.security_hub);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let (p, _) = read(&[
            ("MODE", ""),
            ("STALE_AFTER_DAYS", " "),
            ("EXEMPT_USERS", ""),
        ])
        .unwrap();
        assert_eq!(p, Policy::default());
    }

    #[test]
    fn every_bad_variable_is_listed_at_once() {
        let err = read(&[
            ("MODE", "enforcing"),
            ("STALE_AFTER_DAYS", "-1"),
            ("WARN_DAYS", "seven"),
            ("DISABLE_KEYS", "yes"),
            ("INITIAL_KEY_ACTION", "rotate"),
            ("EXEMPT_USERS", "svc-[ab"),
            ("SNS_TOPIC_ARN", "my-topic"),
            ("CONCURRENCY", "0"),
        ])
        .unwrap_err();
        let vars: Vec<&str> = err.problems.iter().map(|p| p.variable).collect();
        assert_eq!(
            vars,
            [
                "MODE",
                "STALE_AFTER_DAYS",
                "WARN_DAYS",
                "INITIAL_KEY_ACTION",
                "DISABLE_KEYS",
                "EXEMPT_USERS",
                "SNS_TOPIC_ARN",
                "CONCURRENCY"
            ]
        );
        let text = err.to_string();
        assert!(
            text.contains("MODE: `enforcing` is not one of: report, enforce"),
            "{text}"
        );
    }

    #[test]
    fn disable_threshold_below_stale_threshold_is_rejected() {
        let err = read(&[("STALE_AFTER_DAYS", "60"), ("DISABLE_AFTER_DAYS", "45")]).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert_eq!(err.problems[0].variable, "DISABLE_AFTER_DAYS");
    }
}
