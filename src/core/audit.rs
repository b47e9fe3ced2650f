//! The audit: the rules' findings with their totals, as a stable JSON document or a table.
//!
//! The JSON shape is documented in the README and is what the Lambda's result builds on; change it
//! only by adding fields.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::core::config::Policy;
use crate::core::finding::{Counts, Finding};
use crate::core::report::Record;
use crate::core::rules;

/// The findings for one report at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    pub as_of: DateTime<Utc>,
    pub policy: Policy,
    pub findings: Vec<Finding>,
    pub counts: Counts,
    /// `EXEMPT_USERS` patterns that name no user in the report (a typo must not pass silently).
    pub exempt_users_unmatched: Vec<String>,
    /// The report has no `<root_account>` row: AWS always writes one, so it did not come from
    /// AWS as it is (accepted, and said).
    pub no_root_row: bool,
    /// When `DISABLE_AFTER_DAYS` is looser than the CIS version's days, a line saying so.
    pub looser_than_cis: Option<String>,
}

impl Audit {
    /// Evaluates `records` under `policy` as of `now`.
    pub fn new(records: &[Record], policy: &Policy, now: DateTime<Utc>) -> Self {
        Audit::from_findings(rules::evaluate(records, policy, now), policy, now)
            .check_names(records)
    }

    /// Notes what the report itself says: the `EXEMPT_USERS` patterns that name no user of
    /// `records`, and a missing root row.
    pub fn check_names(mut self, records: &[Record]) -> Self {
        self.no_root_row = !records.iter().any(Record::is_root);
        self.exempt_users_unmatched = self.policy.exempt_users.unmatched(
            records
                .iter()
                .filter(|r| !r.is_root())
                .map(|r| r.user.as_str()),
        );
        self
    }

    /// Wraps findings that were already evaluated (and perhaps marked exempt by tag).
    pub fn from_findings(findings: Vec<Finding>, policy: &Policy, now: DateTime<Utc>) -> Self {
        Audit {
            as_of: now,
            policy: policy.clone(),
            counts: Counts::of(&findings),
            findings,
            exempt_users_unmatched: Vec::new(),
            no_root_row: false,
            looser_than_cis: policy.cis_version.looser(policy.disable_after_days),
        }
    }

    /// True when something needs fixing: a non-exempt finding that matched a rule.
    pub fn has_findings(&self) -> bool {
        self.findings.iter().any(Finding::actionable)
    }
}

/// Which section of a report a finding belongs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Enforce mode acts on it (in report mode: would act).
    Act,
    /// Not yet due; due within `WARN_DAYS`.
    Upcoming,
    /// Matched a rule; reported only (stale but not yet due, initial key in its grace period, or
    /// the action is switched off).
    Reported,
    /// An active root access key: reported, never acted on.
    Root,
    /// Exempt by name or tag.
    Exempt,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Verdict::Act,
        Verdict::Upcoming,
        Verdict::Reported,
        Verdict::Root,
        Verdict::Exempt,
    ];

    pub fn of(f: &Finding) -> Verdict {
        if f.exempt {
            Verdict::Exempt
        } else if f
            .rules
            .contains(&crate::core::finding::RuleId::RootAccessKey)
        {
            Verdict::Root
        } else if f.planned() {
            Verdict::Act
        } else if f.upcoming {
            Verdict::Upcoming
        } else {
            Verdict::Reported
        }
    }
}
