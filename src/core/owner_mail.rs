//! Owner mail: which credential's owner is due which notice, and where the address is.
//!
//! A credential's owner hears of it three times at most: when it enters the `WARN_DAYS` window
//! before its action ([`MailStage::Upcoming`]), the day before ([`MailStage::LastNotice`]), and
//! after the action ([`MailStage::Acted`]). With a journal each stage is sent once, whichever run
//! first finds it due (a skipped night does not lose it, a second run does not repeat it: the
//! journal's write-once record decides). Without a journal the stage is derived from the dates
//! alone: a notice goes out on the one nightly run whose day is the stage's first.

use chrono::{DateTime, Duration, Utc};

use crate::core::config::{Mode, Policy};
use crate::core::finding::{Credential, Finding};
pub use crate::core::journal::MailStage;

/// How stages are kept to one mail each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// The journal records each mail sent: any stage not yet sent may go out.
    Journal,
    /// No journal: only the run on the stage's first day sends it.
    Dates,
}

/// True when enforce mode will act on the credential when it falls due (the per-action switches
/// allow it; root keys never).
pub fn will_act(f: &Finding, policy: &Policy) -> bool {
    policy.mode == Mode::Enforce
        && !f.exempt
        && match f.credential {
            Credential::Password => policy.delete_passwords,
            Credential::AccessKey(_) => policy.disable_keys,
            Credential::RootAccessKey(_) => false,
        }
}

/// The warning due for a credential not yet acted on, if any.
pub fn warning_due(
    f: &Finding,
    policy: &Policy,
    now: DateTime<Utc>,
    dedup: Dedup,
) -> Option<MailStage> {
    if !will_act(f, policy) || f.disable_due {
        return None;
    }
    let left = f.disable_on? - now;
    let day = Duration::days(1);
    let warn = Duration::days(i64::from(policy.warn_days));
    if left <= Duration::zero() {
        return None;
    }
    if left <= day {
        return Some(MailStage::LastNotice);
    }
    let first_day = match dedup {
        Dedup::Journal => left <= warn,
        Dedup::Dates => left <= warn && left > warn - day,
    };
    first_day.then_some(MailStage::Upcoming)
}

/// The owner's address: the value of the tag `key` (compared without case), if it is one.
pub fn owner_address(tags: &[(String, String)], key: &str) -> Option<String> {
    tags.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| is_address(v))
}

/// A plain `local@domain.tld` address, as SES takes it (no display name, no spaces).
pub fn is_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 254
        && s.chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | ',' | ';' | '"'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::finding::Slot;

    fn finding(disable_on: &str) -> Finding {
        let mut f = Finding::blank(
            "alice",
            "arn:aws:iam::123456789012:user/alice",
            Credential::AccessKey(Slot::One),
        );
        f.disable_on = Some(disable_on.parse().expect("a time"));
        f
    }

    fn enforce() -> Policy {
        Policy {
            mode: Mode::Enforce,
            warn_days: 7,
            ..Policy::default()
        }
    }

    #[test]
    fn stages_by_time_left() {
        let now: DateTime<Utc> = "2026-12-01T02:00:00Z".parse().expect("a time");
        let p = enforce();
        let at = |s| warning_due(&finding(s), &p, now, Dedup::Journal);
        assert_eq!(at("2026-12-02T01:00:00Z"), Some(MailStage::LastNotice));
        assert_eq!(at("2026-12-05T02:00:00Z"), Some(MailStage::Upcoming));
        assert_eq!(at("2026-12-08T02:00:00Z"), Some(MailStage::Upcoming));
        assert_eq!(at("2026-12-09T02:00:00Z"), None);
        // Without a journal only the first day of a stage sends it.
        let dates = |s| warning_due(&finding(s), &p, now, Dedup::Dates);
        assert_eq!(dates("2026-12-08T01:00:00Z"), Some(MailStage::Upcoming));
        assert_eq!(dates("2026-12-05T02:00:00Z"), None);
        assert_eq!(dates("2026-12-02T01:00:00Z"), Some(MailStage::LastNotice));
        // Report mode, or a switch that keeps the action off: nothing will happen, no mail.
        let report = Policy::default();
        assert_eq!(
            warning_due(
                &finding("2026-12-05T02:00:00Z"),
                &report,
                now,
                Dedup::Journal
            ),
            None
        );
        let keep_keys = Policy {
            disable_keys: false,
            ..enforce()
        };
        assert_eq!(
            warning_due(
                &finding("2026-12-05T02:00:00Z"),
                &keep_keys,
                now,
                Dedup::Journal
            ),
            None
        );
    }

    #[test]
    fn addresses_from_the_tag_without_case() {
        let tags = vec![("Email".to_string(), " alice@example.com ".to_string())];
        assert_eq!(
            owner_address(&tags, "email"),
            Some("alice@example.com".into())
        );
        let bad = vec![("email".to_string(), "Alice <alice@example.com>".to_string())];
        assert_eq!(owner_address(&bad, "email"), None);
        assert!(!is_address("alice@localhost"));
        assert!(is_address("a.b+c@sub.example.org"));
    }
}
