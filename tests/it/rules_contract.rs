//! The rule contract, paragraph by paragraph: each test fails if its paragraph is implemented
//! wrongly. Records are built in code so each test shows exactly the dates it depends on.

use chrono::{DateTime, Duration, Utc};
use iam_sweeper::core::config::{self, ExemptUsers, InitialKeyAction, Mode, Policy};
use iam_sweeper::core::exemption;
use iam_sweeper::core::finding::{Action, Credential, Exemption, Finding, RuleId, Slot};
use iam_sweeper::core::report::{self, AccessKeyColumns, Record};
use iam_sweeper::core::rules::evaluate;

fn now() -> DateTime<Utc> {
    t("2026-06-30T12:00:00Z")
}

fn t(s: &str) -> DateTime<Utc> {
    report::parse_timestamp(s).unwrap()
}

fn ago(d: Duration) -> DateTime<Utc> {
    now() - d
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

/// A user with no password and no keys, created long ago.
fn user(name: &str) -> Record {
    Record {
        user: name.into(),
        arn: format!("arn:aws:iam::123456789012:user/{name}"),
        user_creation_time: Some(ago(days(1000))),
        password_enabled: Some(false),
        password_last_used: None,
        password_last_changed: None,
        password_next_rotation: None,
        mfa_active: Some(false),
        access_keys: Default::default(),
        certs: Default::default(),
    }
}

fn with_password(
    mut r: Record,
    used: Option<DateTime<Utc>>,
    changed: Option<DateTime<Utc>>,
) -> Record {
    r.password_enabled = Some(true);
    r.password_last_used = used;
    r.password_last_changed = changed;
    r
}

fn with_key(
    mut r: Record,
    slot: Slot,
    created: Option<DateTime<Utc>>,
    used: Option<DateTime<Utc>>,
) -> Record {
    r.access_keys[slot.index()] = AccessKeyColumns {
        active: Some(true),
        last_rotated: created,
        last_used_date: used,
        last_used_region: used.map(|_| "us-east-1".into()),
        last_used_service: used.map(|_| "s3".into()),
    };
    r
}

fn one(records: &[Record], policy: &Policy) -> Option<Finding> {
    let mut f = evaluate(records, policy, now());
    assert!(f.len() <= 1, "expected at most one finding, got {f:#?}");
    f.pop()
}

fn key1(used: Duration) -> Record {
    with_key(user("k"), Slot::One, Some(ago(days(500))), Some(ago(used)))
}

fn policy() -> Policy {
    Policy::default()
}

// --- Evaluation time: "unused for N days or more" means now - last_activity >= N * 24h ---

#[test]
fn stale_at_exactly_n_days_not_one_minute_before() {
    assert!(one(&[key1(days(30) - Duration::minutes(1))], &policy()).is_none());
    let f = one(&[key1(days(30))], &policy()).unwrap();
    assert!(f.stale);
    assert_eq!(f.rules, [RuleId::UnusedCredentials]);
    assert_eq!(f.idle_days, Some(30));
}

#[test]
fn disable_due_at_exactly_disable_after_days() {
    let before = one(&[key1(days(90) - Duration::seconds(1))], &policy()).unwrap();
    assert!(before.stale && !before.disable_due);
    assert_eq!(before.action, Action::None);
    let at = one(&[key1(days(90))], &policy()).unwrap();
    assert!(at.disable_due);
    assert_eq!(at.action, Action::DeactivateKey);
    assert_eq!(at.disable_on, Some(now()));
}

#[test]
fn idle_days_are_whole_days() {
    let f = one(&[key1(days(45) + Duration::hours(23))], &policy()).unwrap();
    assert_eq!(f.idle_days, Some(45));
}

// --- Password: last used when a date, else last changed, else user creation (CIS) ---

#[test]
fn password_aged_from_last_use_then_last_change() {
    // Last signed in 200 days ago, reset yesterday: a reset does not restart the clock.
    let r = with_password(user("p"), Some(ago(days(200))), Some(ago(days(1))));
    let f = one(&[r], &policy()).unwrap();
    assert_eq!(f.last_activity_source, Some("password_last_used"));
    assert_eq!(f.idle_days, Some(200));
    assert_eq!(f.action, Action::DeleteLoginProfile);

    let r = with_password(user("p"), Some(ago(days(95))), Some(ago(days(300))));
    let f = one(&[r], &policy()).unwrap();
    assert_eq!(f.credential, Credential::Password);
    assert_eq!(f.last_activity_source, Some("password_last_used"));
    assert_eq!(f.idle_days, Some(95));
    assert_eq!(f.action, Action::DeleteLoginProfile);

    // Used 10 days ago, changed 95 days ago: judged by the use, not stale.
    let r = with_password(user("p"), Some(ago(days(10))), Some(ago(days(95))));
    assert!(one(&[r], &policy()).is_none());

    // Never used: aged from when it was set.
    let r = with_password(user("p"), None, Some(ago(days(95))));
    let f = one(&[r], &policy()).unwrap();
    assert_eq!(f.last_activity_source, Some("password_last_changed"));
    assert_eq!(f.idle_days, Some(95));
    let r = with_password(user("p"), None, Some(ago(days(1))));
    assert!(one(&[r], &policy()).is_none(), "set yesterday, never used");
}

#[test]
fn never_used_password_with_no_dates_is_aged_from_user_creation() {
    let r = with_password(user("p"), None, None);
    let f = one(&[r], &policy()).unwrap();
    assert_eq!(f.last_activity_source, Some("user_creation_time"));
    assert_eq!(f.idle_days, Some(1000));
}

#[test]
fn password_only_considered_when_enabled() {
    let mut r = user("p");
    r.password_last_used = Some(ago(days(400)));
    assert!(one(&[r], &policy()).is_none());
}

// --- Access keys: active only; last used, else created, else user creation ---

#[test]
fn inactive_keys_are_ignored() {
    let mut r = key1(days(400));
    r.access_keys[0].active = Some(false);
    assert!(one(&[r], &policy()).is_none());
}

#[test]
fn never_used_key_is_aged_from_its_creation() {
    let r = with_key(user("k"), Slot::Two, Some(ago(days(40))), None);
    let f = one(&[r], &policy()).unwrap();
    assert_eq!(f.credential, Credential::AccessKey(Slot::Two));
    assert_eq!(f.last_activity_source, Some("access_key_2_last_rotated"));
    assert_eq!(f.idle_days, Some(40));
    assert_eq!(f.action, Action::None);

    let fresh = with_key(user("k"), Slot::One, Some(ago(days(3))), None);
    assert!(
        one(&[fresh], &policy()).is_none(),
        "a week-old unused key is not stale"
    );
}

#[test]
fn key_with_no_dates_is_aged_from_user_creation() {
    let r = with_key(user("k"), Slot::One, None, None);
    let f = one(&[r], &policy()).unwrap();
    assert_eq!(f.last_activity_source, Some("user_creation_time"));
}

#[test]
fn each_key_slot_is_its_own_finding() {
    let r = with_key(
        key1(days(100)),
        Slot::Two,
        Some(ago(days(200))),
        Some(ago(days(120))),
    );
    let f = evaluate(&[r], &policy(), now());
    let creds: Vec<Credential> = f.iter().map(|f| f.credential).collect();
    assert_eq!(
        creds,
        [
            Credential::AccessKey(Slot::One),
            Credential::AccessKey(Slot::Two)
        ]
    );
    assert_eq!(f[1].last_used_service.as_deref(), Some("s3"));
}

// --- Thresholds ---

#[test]
fn stale_threshold_is_configurable() {
    let p = Policy {
        stale_after_days: 45,
        ..policy()
    };
    assert!(one(&[key1(days(44))], &p).is_none());
    assert!(one(&[key1(days(45))], &p).unwrap().stale);
}

#[test]
fn disable_after_days_below_stale_after_days_is_rejected() {
    let err = config::from_lookup(|k| match k {
        "STALE_AFTER_DAYS" => Some("30".into()),
        "DISABLE_AFTER_DAYS" => Some("29".into()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(err.problems[0].variable, "DISABLE_AFTER_DAYS");
}

#[test]
fn upcoming_within_warn_days_with_the_date() {
    // 85 days idle: disabled at 90, which is within 7 days.
    let f = one(&[key1(days(85))], &policy()).unwrap();
    assert!(f.upcoming && f.stale && !f.disable_due);
    assert_eq!(f.disable_on, Some(now() + days(5)));
    // 82 days idle: 8 days away, not upcoming.
    let f = one(&[key1(days(82))], &policy()).unwrap();
    assert!(!f.upcoming);
    // Upcoming is listed even when not yet stale.
    let p = Policy {
        stale_after_days: 90,
        ..policy()
    };
    let f = one(&[key1(days(86))], &p).unwrap();
    assert!(f.upcoming && !f.stale && f.rules.is_empty());
}

// --- initial-setup-key ---

fn setup_user(key_after: Duration, key_used: Option<DateTime<Utc>>, age: Duration) -> Record {
    let created = ago(age);
    let r = with_password(user("setup"), None, Some(created));
    let mut r = with_key(r, Slot::One, Some(created + key_after), key_used);
    r.user_creation_time = Some(created);
    r
}

fn initial_key(f: &[Finding]) -> Option<&Finding> {
    f.iter()
        .find(|f| f.rules.contains(&RuleId::InitialSetupKey))
}

#[test]
fn initial_setup_key_within_window_matches_and_one_second_more_does_not() {
    let r = setup_user(Duration::seconds(10), None, days(2));
    let f = evaluate(&[r], &policy(), now());
    let k = initial_key(&f).expect("10 s after the user is at setup");
    assert_eq!(k.credential, Credential::AccessKey(Slot::One));
    let r = setup_user(Duration::seconds(11), None, days(2));
    assert!(initial_key(&evaluate(&[r], &policy(), now())).is_none());
    // A key created before the user (clock rounding) counts by absolute difference.
    let r = setup_user(Duration::seconds(-5), None, days(2));
    assert!(initial_key(&evaluate(&[r], &policy(), now())).is_some());
}

#[test]
fn initial_setup_key_needs_a_console_password() {
    let mut r = setup_user(Duration::seconds(1), None, days(2));
    r.password_enabled = Some(false);
    assert!(evaluate(&[r], &policy(), now()).is_empty());
}

#[test]
fn initial_setup_key_must_never_have_been_used() {
    let r = setup_user(Duration::seconds(1), Some(ago(days(1))), days(2));
    assert!(evaluate(&[r], &policy(), now()).is_empty());
}

#[test]
fn initial_setup_key_active_or_inactive() {
    // CIS: a never-used key made at setup should be deleted, whatever its status.
    let mut r = setup_user(Duration::seconds(1), None, days(200));
    r.access_keys[0].active = Some(false);
    let f = evaluate(&[r.clone()], &policy(), now());
    let k = initial_key(&f).expect("an inactive initial-setup key is a finding");
    assert_eq!(
        k.rules,
        [RuleId::InitialSetupKey],
        "an inactive key is not 'unused'"
    );
    assert_eq!(k.action, Action::DeleteKey);
    // Deactivating a key already inactive is nothing to do.
    let p = Policy {
        initial_key_action: InitialKeyAction::Deactivate,
        ..policy()
    };
    let f = evaluate(&[r], &p, now());
    assert_eq!(initial_key(&f).unwrap().action, Action::None);
}

#[test]
fn initial_setup_key_reported_at_once_acted_on_after_grace() {
    let young = setup_user(Duration::seconds(1), None, days(7) - Duration::seconds(1));
    let f = evaluate(&[young], &policy(), now());
    let k = initial_key(&f).unwrap();
    assert_eq!(k.action, Action::None);
    assert!(k.upcoming);
    let old = setup_user(Duration::seconds(1), None, days(7) + Duration::seconds(1));
    let f = evaluate(&[old], &policy(), now());
    assert_eq!(initial_key(&f).unwrap().action, Action::DeleteKey);
}

#[test]
fn initial_key_action_and_window_are_configurable() {
    let p = Policy {
        initial_key_action: InitialKeyAction::Deactivate,
        initial_key_window_seconds: 60,
        initial_key_grace_days: 0,
        ..policy()
    };
    let r = setup_user(Duration::seconds(59), None, Duration::hours(1));
    let f = evaluate(&[r], &p, now());
    assert_eq!(initial_key(&f).unwrap().action, Action::DeactivateKey);
}

// --- One credential, one decision ---

#[test]
fn both_rules_one_finding_strongest_action() {
    let r = setup_user(Duration::seconds(2), None, days(200));
    let f: Vec<Finding> = evaluate(&[r], &policy(), now())
        .into_iter()
        .filter(|f| f.credential == Credential::AccessKey(Slot::One))
        .collect();
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].rules,
        [RuleId::UnusedCredentials, RuleId::InitialSetupKey]
    );
    assert_eq!(f[0].action, Action::DeleteKey, "delete beats deactivate");
}

#[test]
fn root_is_reported_never_acted_on() {
    let mut root = with_key(
        user(report::ROOT_USER),
        Slot::One,
        Some(ago(days(900))),
        Some(ago(days(400))),
    );
    root.password_enabled = None;
    root.password_last_used = Some(ago(days(400)));
    let f = evaluate(&[root.clone()], &policy(), now());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].credential, Credential::RootAccessKey(Slot::One));
    assert_eq!(f[0].rules, [RuleId::RootAccessKey]);
    assert_eq!(f[0].action, Action::None);
    root.access_keys[0].active = Some(false);
    assert!(evaluate(&[root], &policy(), now()).is_empty());
}

// --- Exemptions ---

#[test]
fn exempt_by_name_or_glob_still_reported_never_acted_on() {
    let p = Policy {
        exempt_users: ExemptUsers::parse("svc-*,break-glass").unwrap(),
        ..policy()
    };
    for name in ["svc-ci", "break-glass"] {
        let mut r = key1(days(400));
        r.user = name.into();
        let f = one(&[r], &p).unwrap();
        assert!(f.exempt && f.stale && f.disable_due, "{name}");
        assert_eq!(f.action, Action::None);
        assert!(matches!(f.exemption, Some(Exemption::Name { .. })));
    }
    let mut r = key1(days(400));
    r.user = "break-glass-2".into();
    assert!(!one(&[r], &p).unwrap().exempt);
}

#[test]
fn exempt_by_tag_true_or_future_date_expired_or_invalid_not_honoured() {
    let today = now().date_naive();
    let cases = [
        ("true", true, false),
        ("2026-06-30", true, false),
        ("2027-01-01", true, false),
        ("2026-06-29", false, false),
        ("forever", false, true),
    ];
    for (value, exempt, invalid) in cases {
        let mut f = one(&[key1(days(400))], &policy()).unwrap();
        exemption::apply_tag(&mut f, "iam-sweeper:exempt", Some(value), today);
        assert_eq!(f.exempt, exempt, "{value}");
        assert_eq!(f.invalid_exemption.is_some(), invalid, "{value}");
        let want = if exempt {
            Action::None
        } else {
            Action::DeactivateKey
        };
        assert_eq!(f.action, want, "{value}");
    }
}

// --- Enforcement switches ---

#[test]
fn per_action_switches_turn_actions_off() {
    let p = Policy {
        disable_keys: false,
        delete_passwords: false,
        ..policy()
    };
    let r = with_password(key1(days(400)), Some(ago(days(400))), None);
    let f = evaluate(&[r], &p, now());
    assert_eq!(f.len(), 2);
    assert!(
        f.iter()
            .all(|f| f.stale && f.action == Action::None && f.disable_on.is_none())
    );
}

#[test]
fn planned_action_does_not_depend_on_mode() {
    let enforce = Policy {
        mode: Mode::Enforce,
        ..policy()
    };
    assert_eq!(
        evaluate(&[key1(days(100))], &policy(), now()),
        evaluate(&[key1(days(100))], &enforce, now())
    );
}

// --- Fixtures written from AWS's documented format ---

fn fixture(name: &str) -> Vec<Record> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    report::parse(&std::fs::read(path).unwrap()).unwrap()
}

fn verdicts(findings: &[Finding]) -> Vec<(String, &'static str, Vec<&'static str>, &'static str)> {
    findings
        .iter()
        .map(|f| {
            (
                f.user.clone(),
                f.credential.as_str(),
                f.rules.iter().map(|r| r.as_str()).collect(),
                f.action.as_str(),
            )
        })
        .collect()
}

#[test]
fn seed_sample_verdicts() {
    let records = fixture("seed-sample.csv");
    assert_eq!(records.len(), 7);
    let f = evaluate(&records, &policy(), t("2016-09-15T00:00:00Z"));
    let v = verdicts(&f);
    let s = |u: &str, c: &'static str, r: &[&'static str], a: &'static str| {
        (u.to_string(), c, r.to_vec(), a)
    };
    assert_eq!(
        v,
        [
            s(
                "<root_account>",
                "root_access_key",
                &["root-access-key"],
                "none"
            ),
            s(
                "elise",
                "access_key_1",
                &["unused-credentials"],
                "deactivate_key"
            ),
            s(
                "brandon",
                "access_key_1",
                &["initial-setup-key"],
                "delete_key"
            ),
            s(
                "helene",
                "access_key_1",
                &["unused-credentials"],
                "deactivate_key"
            ),
            s(
                "paras",
                "access_key_2",
                &["unused-credentials"],
                "deactivate_key"
            ),
            s("anitha", "password", &["unused-credentials"], "none"),
            s(
                "anitha",
                "access_key_1",
                &["unused-credentials"],
                "deactivate_key"
            ),
            s(
                "anitha",
                "access_key_2",
                &["unused-credentials", "initial-setup-key"],
                "delete_key"
            ),
        ]
    );
    let anitha_pw = &f[5];
    assert!(anitha_pw.upcoming);
    assert_eq!(anitha_pw.disable_on, Some(t("2016-09-18T08:00:00Z")));
}

#[test]
fn boundary_fixture_verdicts() {
    let f = evaluate(
        &fixture("boundaries.csv"),
        &policy(),
        t("2026-01-31T00:00:00Z"),
    );
    let v: Vec<(String, &str, Vec<&str>, &str)> = verdicts(&f);
    let s = |u: &str, c: &'static str, r: &[&'static str], a: &'static str| {
        (u.to_string(), c, r.to_vec(), a)
    };
    assert_eq!(
        v,
        [
            s("key-30d", "access_key_1", &["unused-credentials"], "none"),
            s(
                "key-89d23h59m",
                "access_key_1",
                &["unused-credentials"],
                "none"
            ),
            s(
                "key-90d",
                "access_key_1",
                &["unused-credentials"],
                "deactivate_key"
            ),
            s(
                "init-10s",
                "access_key_1",
                &["initial-setup-key"],
                "delete_key"
            ),
            s(
                "both-rules",
                "access_key_1",
                &["unused-credentials", "initial-setup-key"],
                "delete_key"
            ),
        ]
    );
    assert!(f[1].upcoming);
}
