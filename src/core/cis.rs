//! CIS AWS Foundations Benchmark versions: each finding's control IDs, and each version's days.
//!
//! The two rules are the same controls under different numbers in each version of the
//! benchmark; Security Hub maps them to its own controls (IAM.8 at 90 days, IAM.22 at 45 days,
//! IAM.4 for a root access key). `CIS_VERSION` chooses the version the findings are labelled
//! with, and (when set) the default number of days after which an unused credential is disabled.

use serde::{Deserialize, Serialize};

use crate::core::rule_id::RuleId;

/// A version of the CIS AWS Foundations Benchmark.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
pub enum CisVersion {
    #[serde(rename = "1.2.0")]
    #[strum(serialize = "1.2.0")]
    V1_2_0,
    #[serde(rename = "1.3.0")]
    #[strum(serialize = "1.3.0")]
    V1_3_0,
    #[serde(rename = "1.4.0")]
    #[strum(serialize = "1.4.0")]
    V1_4_0,
    #[serde(rename = "3.0.0")]
    #[strum(serialize = "3.0.0")]
    V3_0_0,
    #[serde(rename = "4.0.1")]
    #[strum(serialize = "4.0.1")]
    V4_0_1,
    #[serde(rename = "5.0.0")]
    #[strum(serialize = "5.0.0")]
    V5_0_0,
    #[serde(rename = "6.0.0")]
    #[strum(serialize = "6.0.0")]
    V6_0_0,
    #[serde(rename = "7.0.0")]
    #[strum(serialize = "7.0.0")]
    V7_0_0,
}

impl Default for CisVersion {
    /// 5.0.0: the newest version Security Hub supports.
    fn default() -> Self {
        CisVersion::V5_0_0
    }
}

impl CisVersion {
    /// Days after which the version says an unused credential is disabled.
    pub fn unused_days(self) -> u32 {
        match self {
            CisVersion::V1_2_0 | CisVersion::V1_3_0 => 90,
            _ => 45,
        }
    }

    /// The version's control ID for a rule; `None` where the version has none (the initial-setup
    /// key control was retired in 7.0.0).
    pub fn control(self, rule: RuleId) -> Option<&'static str> {
        use CisVersion::*;
        Some(match (rule, self) {
            (RuleId::UnusedCredentials, V1_2_0) => "1.3",
            (RuleId::UnusedCredentials, V1_3_0 | V1_4_0 | V3_0_0 | V4_0_1) => "1.12",
            (RuleId::UnusedCredentials, V5_0_0) => "1.11",
            (RuleId::UnusedCredentials, V6_0_0 | V7_0_0) => "2.11",
            (RuleId::InitialSetupKey, V1_2_0) => "1.21",
            (RuleId::InitialSetupKey, V1_3_0 | V1_4_0 | V3_0_0 | V4_0_1) => "1.11",
            (RuleId::InitialSetupKey, V5_0_0) => "1.10",
            (RuleId::InitialSetupKey, V6_0_0) => "2.10",
            (RuleId::InitialSetupKey, V7_0_0) => return None,
            (RuleId::RootAccessKey, V1_2_0) => "1.12",
            (RuleId::RootAccessKey, V1_3_0 | V1_4_0 | V3_0_0 | V4_0_1) => "1.4",
            (RuleId::RootAccessKey, V5_0_0) => "1.3",
            (RuleId::RootAccessKey, V6_0_0) => "2.3",
            (RuleId::RootAccessKey, V7_0_0) => "2.4",
        })
    }

    /// The Security Hub control for a rule under this version; `None` where it has none.
    pub fn security_hub_control(self, rule: RuleId) -> Option<&'static str> {
        match rule {
            RuleId::UnusedCredentials if self.unused_days() == 90 => Some("IAM.8"),
            RuleId::UnusedCredentials => Some("IAM.22"),
            RuleId::RootAccessKey => Some("IAM.4"),
            RuleId::InitialSetupKey => None,
        }
    }

    /// The controls a finding matching `rules` carries.
    pub fn controls(self, rules: &[RuleId]) -> Controls {
        Controls {
            cis_version: self,
            cis: rules.iter().filter_map(|r| self.control(*r)).collect(),
            security_hub: rules
                .iter()
                .filter_map(|r| self.security_hub_control(*r))
                .collect(),
        }
    }

    /// A line for the summary when `disable_after_days` is looser than the version's days.
    pub fn looser(self, disable_after_days: u32) -> Option<String> {
        (disable_after_days > self.unused_days()).then(|| {
            format!(
                "DISABLE_AFTER_DAYS ({disable_after_days}) is looser than CIS {self}'s {} days for unused credentials",
                self.unused_days()
            )
        })
    }
}

/// The benchmark controls a finding evidences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Controls {
    pub cis_version: CisVersion,
    /// The version's control IDs, one per rule that has one.
    pub cis: Vec<&'static str>,
    /// The matching Security Hub controls.
    pub security_hub: Vec<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn every_version_has_its_controls_and_days() {
        let table = [
            ("1.2.0", "1.3", Some("1.21"), "1.12", 90, "IAM.8"),
            ("1.3.0", "1.12", Some("1.11"), "1.4", 90, "IAM.8"),
            ("1.4.0", "1.12", Some("1.11"), "1.4", 45, "IAM.22"),
            ("3.0.0", "1.12", Some("1.11"), "1.4", 45, "IAM.22"),
            ("4.0.1", "1.12", Some("1.11"), "1.4", 45, "IAM.22"),
            ("5.0.0", "1.11", Some("1.10"), "1.3", 45, "IAM.22"),
            ("6.0.0", "2.11", Some("2.10"), "2.3", 45, "IAM.22"),
            ("7.0.0", "2.11", None, "2.4", 45, "IAM.22"),
        ];
        assert_eq!(CisVersion::iter().count(), table.len());
        for (v, unused, initial, root, days, hub) in table {
            let version: CisVersion = v.parse().unwrap();
            assert_eq!(version.to_string(), v);
            assert_eq!(
                version.control(RuleId::UnusedCredentials),
                Some(unused),
                "{v}"
            );
            assert_eq!(version.control(RuleId::InitialSetupKey), initial, "{v}");
            assert_eq!(version.control(RuleId::RootAccessKey), Some(root), "{v}");
            assert_eq!(version.unused_days(), days, "{v}");
            assert_eq!(
                version.security_hub_control(RuleId::UnusedCredentials),
                Some(hub)
            );
            assert_eq!(
                version.security_hub_control(RuleId::RootAccessKey),
                Some("IAM.4")
            );
        }
        assert_eq!(CisVersion::default().to_string(), "5.0.0");
        assert!("2.0.0".parse::<CisVersion>().is_err());
    }

    #[test]
    fn a_finding_with_both_rules_carries_both_controls() {
        let c = CisVersion::V5_0_0.controls(&[RuleId::UnusedCredentials, RuleId::InitialSetupKey]);
        assert_eq!(c.cis, ["1.11", "1.10"]);
        assert_eq!(c.security_hub, ["IAM.22"]);
        assert!(
            CisVersion::V7_0_0
                .controls(&[RuleId::InitialSetupKey])
                .cis
                .is_empty()
        );
    }

    #[test]
    fn looser_days_are_named_in_one_line() {
        assert!(CisVersion::V5_0_0.looser(45).is_none());
        let line = CisVersion::V5_0_0.looser(90).unwrap();
        assert!(
            line.contains("90") && line.contains("5.0.0") && line.contains("45"),
            "{line}"
        );
        assert!(CisVersion::V1_2_0.looser(90).is_none());
    }
}
