//! Exemptions by tag: the pure half of reading `EXEMPT_TAG_KEY` from a user's tags.
//!
//! Name exemptions (`EXEMPT_USERS`) are applied by the rules themselves; tags need an IAM call, so
//! the Lambda fetches them for users with findings and hands them here. A tag value of `true`
//! exempts for good; a date `YYYY-MM-DD` exempts up to and including that day (UTC), so an
//! exemption can expire on its own. Anything else is reported as invalid and not honoured: a typo
//! must not silently protect a credential, nor silently fail to.

use chrono::NaiveDate;

use crate::finding::{Action, Exemption, Finding};

/// What one exemption tag value means on a given day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagValue {
    /// `true`: exempt with no end.
    Always,
    /// A date that is today or later: exempt until the end of that day.
    Until(NaiveDate),
    /// A date in the past: the exemption has expired.
    Expired(NaiveDate),
    /// Neither `true` nor a date.
    Invalid,
}

impl TagValue {
    /// Reads a tag value as of `today` (UTC).
    pub fn read(value: &str, today: NaiveDate) -> TagValue {
        let v = value.trim();
        if v.eq_ignore_ascii_case("true") {
            return TagValue::Always;
        }
        match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) if v.len() == 10 && d >= today => TagValue::Until(d),
            Ok(d) if v.len() == 10 => TagValue::Expired(d),
            _ => TagValue::Invalid,
        }
    }

    pub fn exempts(&self) -> bool {
        matches!(self, TagValue::Always | TagValue::Until(_))
    }
}

/// Applies the user's exemption tag value (if the user has the tag) to one finding. An exempt
/// finding keeps being reported but loses its action.
pub fn apply_tag(finding: &mut Finding, key: &str, value: Option<&str>, today: NaiveDate) {
    let Some(value) = value else {
        return;
    };
    match TagValue::read(value, today) {
        v if v.exempts() => {
            if !finding.exempt {
                finding.exempt = true;
                finding.exemption = Some(Exemption::Tag {
                    key: key.to_string(),
                    value: value.to_string(),
                });
            }
            finding.action = Action::None;
        }
        TagValue::Invalid => {
            finding.invalid_exemption = Some(format!(
                "tag {key}={value:?} is neither `true` nor a date YYYY-MM-DD; not honoured"
            ));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn true_in_any_case_exempts_for_good() {
        assert_eq!(TagValue::read("true", day("2026-01-01")), TagValue::Always);
        assert_eq!(TagValue::read("TRUE", day("2026-01-01")), TagValue::Always);
    }

    #[test]
    fn a_date_exempts_through_that_day() {
        let today = day("2026-11-23");
        assert!(TagValue::read("2026-11-23", today).exempts());
        assert!(TagValue::read("2027-01-01", today).exempts());
        assert_eq!(
            TagValue::read("2026-11-22", today),
            TagValue::Expired(day("2026-11-22"))
        );
        assert!(!TagValue::read("2026-11-22", today).exempts());
    }

    #[test]
    fn anything_else_is_invalid() {
        let today = day("2026-11-23");
        for v in [
            "yes",
            "1",
            "false",
            "",
            "2026-13-01",
            "2026-1-1",
            "27/11/2026",
        ] {
            assert_eq!(TagValue::read(v, today), TagValue::Invalid, "{v}");
        }
    }
}
