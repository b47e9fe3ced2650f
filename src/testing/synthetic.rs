//! Synthetic credential reports for tests, benchmarks and emulator seeding.
//!
//! The mix mirrors a large, untidy account: 10% of users hold an access key last used 100–300
//! days ago, 10% a console password unused for 120 days, 5% a never-used key created with the
//! user (an initial-setup key), and the rest are healthy (used within the last week). The output
//! is deterministic for a given `(users, now)`, so benchmark runs compare like with like.

use chrono::{DateTime, Duration, Utc};

use crate::core::report::{AccessKeyColumns, CertColumns, ROOT_USER, Record};

/// What a synthetic user was generated to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Key last used 100–300 days ago.
    StaleKey,
    /// Console password unused for 120 days.
    StalePassword,
    /// Never-used key created with the console user, 30 days ago.
    InitialSetupKey,
    /// Everything used within the last week.
    Healthy,
}

/// The kind of the `i`-th synthetic user (0-based): 10% / 10% / 5% / 75%, interleaved.
pub fn kind_of(i: usize) -> Kind {
    match i % 20 {
        0 | 1 => Kind::StaleKey,
        2 | 3 => Kind::StalePassword,
        4 => Kind::InitialSetupKey,
        _ => Kind::Healthy,
    }
}

/// The name of the `i`-th synthetic user.
pub fn user_name(i: usize) -> String {
    format!("user-{i:05}")
}

/// A report of `users` IAM users (plus the root row), as of `now`.
pub fn records(users: usize, now: DateTime<Utc>) -> Vec<Record> {
    let mut out = Vec::with_capacity(users + 1);
    out.push(root(now));
    for i in 0..users {
        out.push(user(i, now));
    }
    out
}

fn root(now: DateTime<Utc>) -> Record {
    Record {
        user: ROOT_USER.into(),
        arn: "arn:aws:iam::123456789012:root".into(),
        user_creation_time: Some(now - Duration::days(2000)),
        password_enabled: None,
        password_last_used: Some(now - Duration::days(3)),
        password_last_changed: None,
        password_next_rotation: None,
        mfa_active: Some(true),
        access_keys: Default::default(),
        certs: Default::default(),
    }
}

/// The `i`-th synthetic user.
pub fn user(i: usize, now: DateTime<Utc>) -> Record {
    let name = user_name(i);
    // Spread values deterministically so not every user looks the same.
    let spread = (i.wrapping_mul(7919) % 201) as i64;
    let created = now - Duration::days(400 + spread);
    let fresh = now - Duration::hours(1 + (i % 150) as i64);
    let mut r = Record {
        arn: format!("arn:aws:iam::123456789012:user/{name}"),
        user: name,
        user_creation_time: Some(created),
        password_enabled: Some(false),
        password_last_used: None,
        password_last_changed: None,
        password_next_rotation: None,
        mfa_active: Some(false),
        access_keys: [
            key(created + Duration::days(1), Some(fresh)),
            AccessKeyColumns::default(),
        ],
        certs: [CertColumns::default(), CertColumns::default()],
    };
    match kind_of(i) {
        Kind::StaleKey => {
            r.access_keys[0].last_used_date = Some(now - Duration::days(100 + spread % 201));
        }
        Kind::StalePassword => {
            r.password_enabled = Some(true);
            r.password_last_changed = Some(created);
            r.password_last_used = Some(now - Duration::days(120));
            r.access_keys[0] = AccessKeyColumns {
                active: Some(false),
                ..AccessKeyColumns::default()
            };
        }
        Kind::InitialSetupKey => {
            let setup = now - Duration::days(30);
            r.user_creation_time = Some(setup);
            r.password_enabled = Some(true);
            r.password_last_changed = Some(setup);
            r.password_last_used = Some(fresh);
            r.access_keys[0] = key(setup + Duration::seconds(2), None);
        }
        Kind::Healthy => {}
    }
    r
}

fn key(created: DateTime<Utc>, used: Option<DateTime<Utc>>) -> AccessKeyColumns {
    AccessKeyColumns {
        active: Some(true),
        last_rotated: Some(created),
        last_used_date: used,
        last_used_region: used.map(|_| "us-east-1".into()),
        last_used_service: used.map(|_| "s3".into()),
    }
}
