//! End to end over real HTTP: the real binary against the local AWS emulator, seeded with aged
//! users. Each test starts its own emulator, runs `iam-sweeper invoke`, then reads the IAM state
//! and the SNS message back.

use crate::support::emulator::{Emulator, first_key_id, ts};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

fn ago(d: Duration) -> String {
    ts(Utc::now() - d)
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

/// One user per rule case. Key creation times are whole seconds so the report matches live keys.
fn cast() -> Vec<Value> {
    vec![
        // unused-credentials: key last used 120 days ago → deactivated.
        json!({"name": "stale-key", "created": ago(days(400)),
               "keys": [{"created": ago(days(399)), "status": "Active", "last_used": ago(days(120)), "service": "s3", "region": "eu-west-1"}]}),
        // never-used key, aged from creation (95 days) → deactivated.
        json!({"name": "never-used-key", "created": ago(days(400)),
               "keys": [{"created": ago(days(95)), "status": "Active", "last_used": null}]}),
        // console password unused for 100 days → login profile deleted.
        json!({"name": "stale-password", "created": ago(days(400)), "password": {"last_used": ago(days(100))}}),
        // initial-setup key past its grace period → deleted.
        json!({"name": "setup-key", "created": ago(days(20)), "password": {"last_used": ago(days(1))},
               "keys": [{"created": ago(days(20) - Duration::seconds(4)), "status": "Active", "last_used": null}]}),
        // initial-setup key within its grace period → reported only.
        json!({"name": "setup-key-young", "created": ago(days(2)), "password": {"last_used": ago(days(1))},
               "keys": [{"created": ago(days(2) - Duration::seconds(9)), "status": "Active", "last_used": null}]}),
        // stale but not yet due (40 days) → reported only.
        json!({"name": "stale-not-due", "created": ago(days(400)),
               "keys": [{"created": ago(days(399)), "status": "Active", "last_used": ago(days(40))}]}),
        // due in 3 days → upcoming.
        json!({"name": "upcoming", "created": ago(days(400)),
               "keys": [{"created": ago(days(399)), "status": "Active", "last_used": ago(days(87))}]}),
        // inactive and stale → ignored.
        json!({"name": "inactive", "created": ago(days(400)),
               "keys": [{"created": ago(days(399)), "status": "Inactive", "last_used": ago(days(300))}]}),
        // healthy.
        json!({"name": "healthy", "created": ago(days(400)), "password": {"last_used": ago(days(2))},
               "keys": [{"created": ago(days(399)), "status": "Active", "last_used": ago(days(1))}]}),
    ]
}

async fn key_status(e: &Emulator, user: &str) -> Vec<(String, String)> {
    e.key_status(user).await
}

async fn has_password(e: &Emulator, user: &str) -> bool {
    e.has_password(user).await
}

async fn snapshot(e: &Emulator, users: &[&str]) -> Vec<(String, Vec<(String, String)>, bool)> {
    e.snapshot(users).await
}

const CAST: [&str; 9] = [
    "stale-key",
    "never-used-key",
    "stale-password",
    "setup-key",
    "setup-key-young",
    "stale-not-due",
    "upcoming",
    "inactive",
    "healthy",
];

fn verdicts(result: &Value) -> Vec<(String, String, String)> {
    result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["user"].as_str().unwrap().to_string(),
                f["credential"].as_str().unwrap().to_string(),
                f["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn v(u: &str, c: &str, a: &str) -> (String, String, String) {
    (u.into(), c.into(), a.into())
}

#[tokio::test]
async fn report_mode_finds_every_rule_and_touches_nothing() {
    let e = Emulator::start();
    e.seed(cast());
    let before = snapshot(&e, &CAST).await;
    let topic = e.topic("sweeper").await;
    let run = e.invoke(None, &[("SNS_TOPIC_ARN", &topic)]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let result = run.json();
    assert_eq!(
        verdicts(&result),
        [
            v("stale-key", "access_key_1", "deactivate_key"),
            v("never-used-key", "access_key_1", "deactivate_key"),
            v("stale-password", "password", "delete_login_profile"),
            v("setup-key", "access_key_1", "delete_key"),
            v("setup-key-young", "access_key_1", "none"),
            v("stale-not-due", "access_key_1", "none"),
            v("upcoming", "access_key_1", "none"),
        ]
    );
    assert!(result["findings"][6]["upcoming"].as_bool().unwrap());
    assert_eq!(result["action_counts"]["not_taken"], 4);
    assert_eq!(
        snapshot(&e, &CAST).await,
        before,
        "report mode changed IAM state"
    );
    let calls = e.calls();
    for op in [
        "IAM.UpdateAccessKey",
        "IAM.DeleteAccessKey",
        "IAM.DeleteLoginProfile",
    ] {
        assert!(calls.get(op).is_none(), "report mode called {op}");
    }
    let msgs = e.sns_messages();
    assert_eq!(msgs.len(), 1);
    let (subject, body, _) = &msgs[0];
    assert!(
        subject.contains("123456789012") && subject.contains("report"),
        "{subject}"
    );
    assert!(body.contains("WOULD ACT"), "{body}");
    assert!(body.contains("UPCOMING"), "{body}");
}

#[tokio::test]
async fn enforce_mode_acts_then_a_second_run_is_idempotent() {
    let e = Emulator::start();
    let seeded = e.seed(cast());
    let key_id = |user: &str| first_key_id(&seeded, user);
    let topic = e.topic("sweeper").await;
    let run = e.invoke(None, &[("MODE", "enforce"), ("SNS_TOPIC_ARN", &topic)]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for (user, cred) in [
        ("stale-key", "access_key_1"),
        ("never-used-key", "access_key_1"),
        ("stale-password", "password"),
        ("setup-key", "access_key_1"),
    ] {
        assert_eq!(run.status_of(user, cred).as_deref(), Some("done"), "{user}");
    }
    assert_eq!(
        key_status(&e, "stale-key").await,
        [(key_id("stale-key"), "Inactive".into())]
    );
    assert_eq!(
        key_status(&e, "never-used-key").await,
        [(key_id("never-used-key"), "Inactive".into())]
    );
    assert!(!has_password(&e, "stale-password").await);
    assert!(
        key_status(&e, "setup-key").await.is_empty(),
        "initial-setup key deleted"
    );
    assert!(
        has_password(&e, "setup-key").await,
        "its password is untouched"
    );
    for user in ["setup-key-young", "stale-not-due", "upcoming", "healthy"] {
        assert!(
            key_status(&e, user)
                .await
                .iter()
                .all(|(_, s)| s == "Active"),
            "{user}"
        );
    }
    assert!(has_password(&e, "healthy").await);

    // The email says what was done and how to undo it.
    let msgs = e.sns_messages();
    let (subject, body, attrs) = &msgs[0];
    assert!(subject.is_ascii() && subject.len() < 100, "{subject}");
    assert!(
        subject.contains("enforce") && subject.contains("4 done"),
        "{subject}"
    );
    assert!(body.contains("ACTIONS TAKEN [4]"), "{body}");
    let k = key_id("stale-key");
    assert!(
        body.contains(&format!(
            "aws iam update-access-key --user-name stale-key --access-key-id {k} --status Active"
        )),
        "{body}"
    );
    assert!(body.contains("aws iam create-login-profile --user-name stale-password --password '<new>' --password-reset-required"));
    assert!(body.contains("aws iam create-access-key --user-name setup-key"));
    assert_eq!(attrs["mode"]["Value"], "enforce");
    assert_eq!(attrs["actions_done"]["Value"], "4");

    // Nothing left to do the second time.
    let after_first = snapshot(&e, &CAST).await;
    let again = e.invoke(None, &[("MODE", "enforce")]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    let result = again.json();
    assert_eq!(result["action_counts"]["done"], 0);
    assert_eq!(result["actions"].as_array().unwrap().len(), 0, "{result}");
    assert_eq!(snapshot(&e, &CAST).await, after_first);
}

#[tokio::test]
async fn exemptions_by_name_tag_and_expired_tag() {
    let e = Emulator::start();
    let key = |name: &str, tags: Value| {
        json!({"name": name, "created": ago(days(400)), "tags": tags,
               "keys": [{"created": ago(days(399)), "status": "Active", "last_used": ago(days(200))}]})
    };
    e.seed(vec![
        key("svc-build", json!({})),
        key("tagged", json!({"iam-sweeper:exempt": "true"})),
        key(
            "tagged-until",
            json!({"iam-sweeper:exempt": ts(Utc::now() + days(30))[..10].to_string()}),
        ),
        key("tag-expired", json!({"iam-sweeper:exempt": "2020-01-01"})),
        key("tag-invalid", json!({"iam-sweeper:exempt": "please"})),
    ]);
    let run = e.invoke(None, &[("MODE", "enforce"), ("EXEMPT_USERS", "svc-*")]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let result = run.json();
    let exempt: Vec<&str> = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["exempt"] == true)
        .map(|f| f["user"].as_str().unwrap())
        .collect();
    assert_eq!(exempt, ["svc-build", "tagged", "tagged-until"]);
    for user in ["svc-build", "tagged", "tagged-until"] {
        assert_eq!(key_status(&e, user).await[0].1, "Active", "{user}");
    }
    for user in ["tag-expired", "tag-invalid"] {
        assert_eq!(key_status(&e, user).await[0].1, "Inactive", "{user}");
    }
    let invalid = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["user"] == "tag-invalid")
        .unwrap();
    assert!(invalid["invalid_exemption"].is_string());
}

#[tokio::test]
async fn more_actions_than_the_cap_takes_none_and_fails() {
    let e = Emulator::start();
    e.seed(cast());
    let before = snapshot(&e, &CAST).await;
    let run = e.invoke(None, &[("MODE", "enforce"), ("MAX_ACTIONS", "3")]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let result = run.json();
    assert_eq!(result["action_counts"]["not_taken"], 4);
    assert!(
        result["problems"][0]
            .as_str()
            .unwrap()
            .contains("MAX_ACTIONS")
    );
    assert_eq!(snapshot(&e, &CAST).await, before);
}

#[tokio::test]
async fn a_key_used_between_report_and_action_is_skipped() {
    let e = Emulator::start();
    e.seed(cast());
    e.post(
        "/_seed/after_report",
        &json!({"touch_keys": [{"user": "stale-key", "slot": 1, "last_used": ago(Duration::minutes(5))}],
                "touch_passwords": [{"user": "stale-password", "last_used": ago(Duration::minutes(5))}]}),
    );
    let run = e.invoke(None, &[("MODE", "enforce")]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.status_of("stale-key", "access_key_1").as_deref(),
        Some("skipped_in_use")
    );
    assert_eq!(
        run.status_of("stale-password", "password").as_deref(),
        Some("skipped_in_use")
    );
    assert_eq!(
        run.status_of("never-used-key", "access_key_1").as_deref(),
        Some("done")
    );
    assert_eq!(key_status(&e, "stale-key").await[0].1, "Active");
    assert!(has_password(&e, "stale-password").await);
}

#[tokio::test]
async fn one_failed_action_does_not_stop_the_others() {
    let e = Emulator::start();
    e.seed(cast());
    e.post(
        "/_seed/fail",
        &json!({"action": "UpdateAccessKey", "user": "stale-key", "code": "AccessDenied", "status": 403, "times": 10}),
    );
    let run = e.invoke(None, &[("MODE", "enforce")]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.status_of("stale-key", "access_key_1").as_deref(),
        Some("failed")
    );
    assert_eq!(
        run.status_of("never-used-key", "access_key_1").as_deref(),
        Some("done")
    );
    assert_eq!(
        run.status_of("stale-password", "password").as_deref(),
        Some("done")
    );
    assert_eq!(key_status(&e, "stale-key").await[0].1, "Active");
    assert!(run.stderr.contains("failed"), "{}", run.stderr);
}

#[tokio::test]
async fn unreadable_or_unavailable_report_touches_nothing() {
    let e = Emulator::start();
    e.seed(cast());
    let before = snapshot(&e, &CAST).await;
    e.post(
        "/_seed/fail",
        &json!({"action": "GenerateCredentialReport", "code": "LimitExceeded", "status": 409, "times": 1000}),
    );
    let run = e.invoke(None, &[("MODE", "enforce"), ("REPORT_WAIT_SECONDS", "2")]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "no result must look like an all clear"
    );
    assert!(run.stderr.contains("credential report"), "{}", run.stderr);
    assert_eq!(snapshot(&e, &CAST).await, before);
}

#[tokio::test]
async fn bad_events_and_configuration_exit_2_and_call_nothing() {
    let e = Emulator::start();
    e.seed(cast());
    let run = e.invoke(Some(&json!({"mode": "enforce"})), &[]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("never less safe"), "{}", run.stderr);
    let run = e.invoke(Some(&json!({"dry_run": true})), &[("MODE", "enforce")]);
    assert_eq!(run.code, Some(2));
    let run = e.invoke(None, &[("MODE", "enforce"), ("MAX_ACTIONS", "lots")]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("MAX_ACTIONS"));
    let calls = e.calls();
    assert!(
        calls
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("IAM.")),
        "IAM was called: {calls}"
    );
}

#[tokio::test]
async fn bundled_events_run() {
    let e = Emulator::start();
    e.seed(cast());
    let before = snapshot(&e, &CAST).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    for name in [
        "scheduled.json",
        "scheduler.json",
        "dry-run.json",
        "what-if.json",
    ] {
        let event: Value = serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
        // Report deployment: each is a dry run.
        let run = e.invoke(Some(&event), &[]);
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        assert!(
            run.json()["findings"].as_array().unwrap().len() >= 4,
            "{name}"
        );
    }
    // On an enforcing deployment the dry-run and what-if events still change nothing.
    for name in ["dry-run.json", "what-if.json"] {
        let event: Value = serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
        let run = e.invoke(Some(&event), &[("MODE", "enforce")]);
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        assert_eq!(run.json()["invocation"]["dry_run_requested"], true);
    }
    assert_eq!(snapshot(&e, &CAST).await, before);
    // The scheduled event on an enforcing deployment enforces.
    let event: Value =
        serde_json::from_slice(&std::fs::read(dir.join("scheduled.json")).unwrap()).unwrap();
    let run = e.invoke(Some(&event), &[("MODE", "enforce")]);
    assert_eq!(run.json()["action_counts"]["done"], 4, "{}", run.stderr);
}

/// The cast plus users tagged exempt, so tags matter.
fn cast_with_tags() -> Vec<Value> {
    let mut users = cast();
    users.push(json!({"name": "tagged", "created": ago(days(400)),
        "tags": {"iam-sweeper:exempt": "true"}, "password": {"last_used": ago(days(300))},
        "keys": [{"created": ago(days(399)), "status": "Active", "last_used": ago(days(200))}]}));
    users.push(json!({"name": "old-password", "created": ago(days(500)),
        "password": {"last_used": ago(days(150))}}));
    users.push(json!({"name": "tag-lapsed", "created": ago(days(400)),
        "tags": {"iam-sweeper:exempt": "2020-01-01", "team": "data"},
        "keys": [{"created": ago(days(399)), "status": "Active", "last_used": ago(days(200))}]}));
    users
}

/// (user, credential, what): one finding's action or one action's status.
type Line = (String, String, String);

/// What a run decided and did, without the per-seed key IDs.
fn decided(result: &Value) -> (Vec<Line>, Vec<Line>) {
    let findings = result["findings"].as_array().unwrap().iter().map(|f| {
        let exempt = if f["exempt"] == true { "exempt" } else { "" };
        (
            f["user"].as_str().unwrap().to_string(),
            f["credential"].as_str().unwrap().to_string(),
            format!("{} {exempt}", f["action"].as_str().unwrap()),
        )
    });
    let actions = result["actions"].as_array().unwrap().iter().map(|a| {
        (
            a["user"].as_str().unwrap().to_string(),
            a["credential"].as_str().unwrap().to_string(),
            a["status"].as_str().unwrap().to_string(),
        )
    });
    (findings.collect(), actions.collect())
}

/// Paged reads (the default) and per-user reads (`PAGED_READS=false`) reach the same decisions
/// and leave IAM in the same state; only the calls differ.
#[tokio::test]
async fn paged_and_per_user_reads_agree_over_http() {
    let users: Vec<&str> = CAST
        .iter()
        .copied()
        .chain(["tagged", "old-password", "tag-lapsed"])
        .collect();
    let mut runs = Vec::new();
    for paged in ["true", "false"] {
        let e = Emulator::start();
        e.seed(cast_with_tags());
        // Report mode reads the planned users' tags up front (in pages when allowed); enforce
        // mode under the cap reads each acted user's tags right before its action, either way.
        let report = e.invoke(None, &[("MODE", "report"), ("PAGED_READS", paged)]);
        assert_eq!(report.code, Some(0), "{}", report.stderr);
        let report_calls = e.calls();
        let run = e.invoke(None, &[("MODE", "enforce"), ("PAGED_READS", paged)]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let state: Vec<(String, Vec<String>, bool)> = e
            .snapshot(&users)
            .await
            .into_iter()
            .map(|(u, keys, pw)| (u, keys.into_iter().map(|(_, s)| s).collect(), pw))
            .collect();
        runs.push((
            decided(&run.json()),
            state,
            report_calls,
            decided(&report.json()),
        ));
    }
    let (paged, per_user) = (&runs[0], &runs[1]);
    assert_eq!(paged.3, per_user.3, "same findings and plan in report mode");
    assert_eq!(paged.0, per_user.0, "same findings and outcomes");
    assert_eq!(paged.1, per_user.1, "same IAM state afterwards");
    let (findings, actions) = &paged.0;
    assert!(
        findings
            .iter()
            .any(|(u, c, a)| u == "tagged" && c == "access_key_1" && a.ends_with("exempt"))
    );
    assert!(
        actions
            .iter()
            .all(|(u, _, s)| u != "tagged" || s == "not_taken"),
        "{actions:?}"
    );
    for (user, credential) in [
        ("tag-lapsed", "access_key_1"),
        ("old-password", "password"),
        ("stale-password", "password"),
    ] {
        assert!(
            actions
                .iter()
                .any(|(u, c, s)| u == user && c == credential && s == "done"),
            "{user}: {actions:?}"
        );
    }

    let n = |calls: &Value, op: &str| calls[op].as_u64().unwrap_or(0);
    let (pc, uc) = (&paged.2, &per_user.2);
    assert_eq!(n(pc, "IAM.GetAccountAuthorizationDetails"), 1, "{pc}");
    assert_eq!(n(pc, "IAM.ListUserTags"), 0, "{pc}");
    assert_eq!(n(pc, "IAM.ListUsers"), 0, "{pc}");
    assert_eq!(n(pc, "IAM.GetUser"), 0, "{pc}");
    assert_eq!(n(uc, "IAM.GetAccountAuthorizationDetails"), 0, "{uc}");
    assert!(n(uc, "IAM.ListUserTags") >= 4, "{uc}");
}

/// A 5,000-user account: the synthetic mix, report mode then enforce mode, end to end.
#[tokio::test]
async fn five_thousand_users_end_to_end() {
    let e = Emulator::start();
    let now = Utc::now();
    let now = now - Duration::nanoseconds(i64::from(chrono::Timelike::nanosecond(&now)));
    let records = iam_sweeper::testing::synthetic::records(5_000, now);
    let users: Vec<Value> = records
        .iter()
        .filter_map(crate::support::emulator::seed_user)
        .collect();
    e.seed(users);
    let run = e.invoke(None, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let result = run.json();
    // 10% stale keys, 10% stale passwords, 5% initial-setup keys.
    assert_eq!(result["counts"]["actions_planned"], 1_250);
    let started = std::time::Instant::now();
    let run = e.invoke(None, &[("MODE", "enforce"), ("MAX_ACTIONS", "5000")]);
    let took = started.elapsed();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let result = run.json();
    assert_eq!(
        result["action_counts"]["done"], 1_250,
        "{}",
        result["action_counts"]
    );
    eprintln!(
        "5,000 users, 1,250 actions: enforce run took {took:?}; calls: {}",
        e.calls()
    );
}
