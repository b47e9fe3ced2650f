//! Property tests over arbitrary reports: the parser round-trips, the rules never plan an action
//! they must not, and time only makes credentials older.

use chrono::{DateTime, Duration, TimeZone, Utc};
use iam_sweeper::core::config::{ExemptUsers, Policy};
use iam_sweeper::core::finding::{Action, Credential};
use iam_sweeper::core::report::{self, AccessKeyColumns, CertColumns, ROOT_USER, Record};
use iam_sweeper::core::rules::evaluate;
use proptest::prelude::*;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// A timestamp within ~3 years of the base, sometimes with milliseconds, or no date.
fn date() -> impl Strategy<Value = Option<DateTime<Utc>>> {
    prop_oneof![
        1 => Just(None),
        3 => (-1000i64 * 86_400..100 * 86_400, prop_oneof![Just(0i64), 0i64..1000])
            .prop_map(|(s, ms)| Some(base() + Duration::seconds(s) + Duration::milliseconds(ms))),
    ]
}

fn flag() -> impl Strategy<Value = Option<bool>> {
    prop_oneof![Just(Some(true)), Just(Some(false)), Just(None)]
}

fn word() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[a-z0-9-]{1,12}")
}

fn key() -> impl Strategy<Value = AccessKeyColumns> {
    (flag(), date(), date(), word(), word()).prop_map(
        |(active, last_rotated, last_used_date, last_used_region, last_used_service)| {
            AccessKeyColumns {
                active,
                last_rotated,
                last_used_date,
                last_used_region,
                last_used_service,
            }
        },
    )
}

fn cert() -> impl Strategy<Value = CertColumns> {
    (flag(), date()).prop_map(|(active, last_rotated)| CertColumns {
        active,
        last_rotated,
    })
}

fn record(name: String) -> impl Strategy<Value = Record> {
    (
        date(),
        flag(),
        date(),
        date(),
        date(),
        flag(),
        key(),
        key(),
        cert(),
        cert(),
    )
        .prop_map(
            move |(created, pw, pw_used, pw_changed, pw_next, mfa, k1, k2, c1, c2)| Record {
                arn: format!("arn:aws:iam::123456789012:user/{name}"),
                user: name.clone(),
                user_creation_time: created,
                password_enabled: pw,
                password_last_used: pw_used,
                password_last_changed: pw_changed,
                password_next_rotation: pw_next,
                mfa_active: mfa,
                access_keys: [k1, k2],
                certs: [c1, c2],
            },
        )
}

/// Up to 12 users with distinct names, sometimes with the root row first.
fn records() -> impl Strategy<Value = Vec<Record>> {
    (
        any::<bool>(),
        prop::collection::btree_set("[a-z][a-z0-9+=,.@_-]{0,20}", 0..12),
    )
        .prop_flat_map(|(root, names)| {
            let mut names: Vec<String> = names.into_iter().collect();
            if root {
                names.insert(0, ROOT_USER.to_string());
            }
            names.into_iter().map(record).collect::<Vec<_>>()
        })
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        1u32..200,
        0u32..200,
        0u32..30,
        0u32..120,
        0u32..30,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(stale, extra, warn, window, grace, keys, pw, exempt_b)| Policy {
                stale_after_days: stale,
                disable_after_days: stale + extra,
                warn_days: warn,
                initial_key_window_seconds: window,
                initial_key_grace_days: grace,
                disable_keys: keys,
                delete_passwords: pw,
                exempt_users: ExemptUsers::parse(if exempt_b { "b*" } else { "" }).unwrap(),
                ..Policy::default()
            },
        )
}

fn now() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..400 * 86_400).prop_map(|s| base() + Duration::seconds(s))
}

proptest! {
    #[test]
    fn parse_of_render_is_identity(recs in records()) {
        let text = iam_sweeper::testing::report::render(&recs);
        prop_assert_eq!(report::parse(text.as_bytes()).unwrap(), recs);
    }

    #[test]
    fn no_action_for_root_exempt_or_inactive(recs in records(), p in policy(), now in now()) {
        for f in evaluate(&recs, &p, now) {
            let r = recs.iter().find(|r| r.user == f.user).unwrap();
            if r.is_root() || f.exempt || p.exempt_users.matching(&f.user).is_some() {
                prop_assert_eq!(f.action, Action::None, "{:?}", f);
            }
            match f.credential {
                Credential::AccessKey(s) => prop_assert!(r.access_keys[s.index()].is_active()),
                Credential::RootAccessKey(_) => prop_assert_eq!(f.action, Action::None),
                Credential::Password => prop_assert!(r.has_password()),
            }
        }
    }

    #[test]
    fn idle_days_never_decrease_as_now_grows(recs in records(), p in policy(), now in now(), later in 0i64..400 * 86_400) {
        let before = evaluate(&recs, &p, now);
        let after = evaluate(&recs, &p, now + Duration::seconds(later));
        for f in &before {
            let key = |g: &&iam_sweeper::core::finding::Finding| g.user == f.user && g.credential == f.credential && g.last_activity_source == f.last_activity_source;
            if let Some(g) = after.iter().find(key) {
                prop_assert!(g.idle_days >= f.idle_days);
                // Once stale or due, a credential stays so.
                prop_assert!(g.stale >= f.stale && g.disable_due >= f.disable_due);
            } else {
                // Only an upcoming-only finding can drop out... and only by becoming due, which keeps
                // it; so nothing may disappear.
                prop_assert!(false, "finding disappeared: {:?}", f);
            }
        }
    }
}
