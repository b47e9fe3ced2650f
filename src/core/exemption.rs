//! Exemptions: by name (`EXEMPT_USERS`, names or globs) and by tag (`EXEMPT_TAG_KEY`).
//!
//! Name exemptions are applied by the rules as they evaluate; tags need an IAM call, so the run
//! reads them for the users that need them and hands them to [`apply_tag`]. A tag value of `true`
//! exempts for good; a date `YYYY-MM-DD` exempts up to and including that day (UTC), so an
//! exemption can expire on its own. Anything else is reported as invalid and not honoured: a typo
//! must not silently protect a credential, nor silently fail to.

use chrono::NaiveDate;
use glob::Pattern;
use serde::{Serialize, Serializer};

use crate::core::finding::{Action, Exemption, Finding};

/// `EXEMPT_USERS`: user names or globs, kept as written for reports and compiled for matching.
#[derive(Debug, Clone, Default)]
pub struct ExemptUsers {
    patterns: Vec<String>,
    compiled: Vec<Pattern>,
}

impl ExemptUsers {
    /// Compiles names or globs (`svc-*`, `break-glass`) separated by commas or whitespace: `*`,
    /// `?`, `[a-z]` and `[!a]`, as the `glob` crate reads them. A comma that belongs to a name
    /// (IAM names may hold one) is written `\,`.
    pub fn parse(list: &str) -> Result<Self, String> {
        let patterns = split_names(list);
        let compiled = patterns
            .iter()
            .map(|p| Pattern::new(p).map_err(|e| format!("`{p}` is not a valid glob: {}", e.msg)))
            .collect::<Result<_, _>>()?;
        Ok(ExemptUsers { patterns, compiled })
    }

    /// The first pattern naming `user`, if any. IAM user names are unique without regard to
    /// case, so the comparison ignores case.
    pub fn matching(&self, user: &str) -> Option<&str> {
        self.compiled
            .iter()
            .position(|g| g.matches_with(user, IGNORE_CASE))
            .map(|i| self.patterns[i].as_str())
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The patterns that name none of `users`: a typo must not pass silently.
    pub fn unmatched<'a>(&self, users: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut matched = vec![false; self.compiled.len()];
        for user in users {
            for (seen, g) in matched.iter_mut().zip(&self.compiled) {
                *seen |= g.matches_with(user, IGNORE_CASE);
            }
        }
        self.patterns
            .iter()
            .zip(matched)
            .filter(|(_, m)| !m)
            .map(|(p, _)| p.clone())
            .collect()
    }
}

/// Glob matching without regard to case (IAM names are case-insensitive).
const IGNORE_CASE: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: false,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

/// Splits a list on commas and whitespace, keeping `\,` as a comma inside a name.
fn split_names(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = list.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                current.push(',');
                chars.next();
            }
            ',' => out.push(std::mem::take(&mut current)),
            c if c.is_whitespace() => out.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    out.push(current);
    out.retain(|p| !p.is_empty());
    out
}

/// True when `key` is the exemption tag key: IAM tag keys are compared without regard to case.
pub fn is_exemption_key(key: &str, configured: &str) -> bool {
    key.to_lowercase() == configured.to_lowercase()
}

#[cfg(test)]
mod glob_tests {
    use super::ExemptUsers;

    fn matches(pattern: &str, user: &str) -> bool {
        ExemptUsers::parse(pattern)
            .unwrap()
            .matching(user)
            .is_some()
    }

    #[test]
    fn glob_syntax() {
        assert!(matches("svc-*", "svc-ci") && !matches("svc-*", "ci-svc"));
        assert!(matches("svc-?", "svc-a") && !matches("svc-?", "svc-ab"));
        assert!(matches("svc-[a-c]", "svc-b") && !matches("svc-[a-c]", "svc-d"));
        assert!(matches("svc-[!a]", "svc-b") && !matches("svc-[!a]", "svc-a"));
        assert!(matches("a[*]", "a*") && !matches("a[*]", "ab"));
        assert!(matches("*@example.com", "ops@example.com"));
        assert!(matches("break-glass", "break-glass") && !matches("break-glass", "break-glass-2"));
    }

    #[test]
    fn names_ignore_case_and_may_hold_an_escaped_comma() {
        assert!(matches("Break-Glass", "break-glass"));
        assert!(matches("SVC-*", "svc-ci"));
        let e = ExemptUsers::parse(r"a\,b, c d").unwrap();
        assert_eq!(e.patterns(), ["a,b", "c", "d"]);
        assert!(e.matching("A,B").is_some() && e.matching("a").is_none());
    }

    #[test]
    fn patterns_that_name_nobody_are_listed() {
        let e = ExemptUsers::parse("svc-*, brek-glass, Alice").unwrap();
        assert_eq!(
            e.unmatched(["svc-ci", "alice", "bob"]),
            vec!["brek-glass".to_string()]
        );
    }

    #[test]
    fn the_tag_key_ignores_case() {
        assert!(super::is_exemption_key(
            "IAM-Sweeper:Exempt",
            "iam-sweeper:exempt"
        ));
        assert!(!super::is_exemption_key(
            "iam-sweeper:exempt2",
            "iam-sweeper:exempt"
        ));
    }

    #[test]
    fn the_first_pattern_naming_the_user_is_reported() {
        let e = ExemptUsers::parse("break-glass, svc-*, svc-ci").unwrap();
        assert_eq!(e.matching("svc-ci"), Some("svc-*"));
        assert_eq!(e.patterns(), ["break-glass", "svc-*", "svc-ci"]);
    }

    #[test]
    fn invalid_globs_are_named() {
        for p in ["svc-[ab", "a***"] {
            let e = ExemptUsers::parse(&format!("ok, {p}")).unwrap_err();
            assert!(
                e.starts_with(&format!("`{p}` is not a valid glob: ")),
                "{e}"
            );
        }
    }
}

impl PartialEq for ExemptUsers {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

impl Serialize for ExemptUsers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.patterns.serialize(s)
    }
}

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

/// The value of the exemption tag among `tags` (key compared without regard to case).
pub fn tag_value<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(k, _)| is_exemption_key(k, key))
        .map(|(_, v)| v.as_str())
}

/// The exemption `tags` grant on `today`, if any (an invalid or expired value grants none).
pub fn by_tags(tags: &[(String, String)], key: &str, today: NaiveDate) -> Option<Exemption> {
    let value = tag_value(tags, key)?;
    TagValue::read(value, today)
        .exempts()
        .then(|| Exemption::Tag {
            key: key.to_string(),
            value: value.to_string(),
        })
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
