//! The journal and owner mail over real HTTP: the sweep runs in-process on the AWS adapters
//! pointed at the emulator (its S3 honours `If-None-Match: *`, its SES v2 keeps what it sent),
//! with the run's clock given explicitly so quarantine can be followed over days.

use chrono::{DateTime, Duration, Utc};
use iam_sweeper::app::Settings;
use iam_sweeper::app::sweep;
use iam_sweeper::aws::AwsAccount;
use iam_sweeper::core::config::{JournalPlace, Mode};
use iam_sweeper::core::finding::Action;
use iam_sweeper::core::outcome::Status;
use iam_sweeper::core::report::Record;
use iam_sweeper::core::run::RunReport;
use serde_json::{Value, json};

use crate::support::emulator::{Emulator, seed_user};
use crate::sweep::{
    KEY1, initial_key, key_used, now, outcome, scheduled_event, settings, stale_key,
};

const BUCKET: &str = "iam-sweeper-journal";
const SENDER: &str = "iam-sweeper@example.com";

async fn setup(users: &[Record], tags: &[(&str, &str, &str)]) -> (Emulator, AwsAccount) {
    let e = Emulator::start();
    let mut seeds: Vec<Value> = users.iter().filter_map(seed_user).collect();
    for (user, k, v) in tags {
        let s = seeds
            .iter_mut()
            .find(|s| s["name"] == *user)
            .expect("a seeded user");
        s["tags"] = json!({ *k: *v });
    }
    e.seed(seeds);
    let account = AwsAccount::new(&e.sdk_config().await);
    account
        .s3
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("the journal bucket");
    account
        .ses
        .create_email_identity()
        .email_identity(SENDER)
        .send()
        .await
        .expect("the sender identity");
    (e, account)
}

fn journaled(mode: Mode) -> Settings {
    let mut s = settings(mode);
    s.runtime.sns_topic_arn = None;
    s.runtime.journal = Some(JournalPlace {
        bucket: BUCKET.into(),
        prefix: String::new(),
    });
    s
}

async fn run_at(a: &AwsAccount, s: &Settings, at: DateTime<Utc>) -> RunReport {
    match sweep::handle(a, s, &scheduled_event(), at, None).await {
        Ok(r) => r,
        Err(sweep::RunError::Failed(r)) => *r,
        Err(e) => panic!("the run did not get as far as a report: {e}"),
    }
}

async fn keys(a: &AwsAccount) -> Vec<String> {
    let out =
        a.s3.list_objects_v2()
            .bucket(BUCKET)
            .send()
            .await
            .expect("a listing");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

async fn key_statuses(a: &AwsAccount, user: &str) -> Vec<String> {
    a.iam
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .expect("ListAccessKeys")
        .access_key_metadata()
        .iter()
        .map(|k| {
            k.status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn an_enforce_run_journals_every_action_in_s3() {
    let (_e, a) = setup(&[stale_key("stale"), key_used("fresh", 1)], &[]).await;
    let report = run_at(&a, &journaled(Mode::Enforce), now()).await;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.action_counts.done, 1);
    let keys = keys(&a).await;
    let run = format!("123456789012/runs/{}/", report.run_id);
    for want in [
        format!("{run}actions/00001-intent.json"),
        format!("{run}actions/00001-outcome.json"),
        format!("{run}manifest.json"),
    ] {
        assert!(keys.contains(&want), "{want} missing from {keys:?}");
    }
    assert!(
        keys.iter()
            .any(|k| k.starts_with("123456789012/keys/stale/")),
        "{keys:?}"
    );
}

#[tokio::test]
async fn an_unwritable_journal_takes_no_action() {
    let (_e, a) = setup(&[stale_key("stale")], &[]).await;
    let mut s = journaled(Mode::Enforce);
    s.runtime.journal = Some(JournalPlace {
        bucket: "no-such-journal-bucket".into(),
        prefix: String::new(),
    });
    let report = run_at(&a, &s, now()).await;
    assert_eq!(outcome(&report, "stale", KEY1).status, Status::Failed);
    assert!(report.failed());
    assert_eq!(key_statuses(&a, "stale").await, vec!["Active", "Active"]);
}

#[tokio::test]
async fn quarantine_deactivates_on_day_zero_and_deletes_on_day_n_over_http() {
    let (_e, a) = setup(&[initial_key("new")], &[]).await;
    let mut s = journaled(Mode::Enforce);
    s.runtime.quarantine_days = 10;
    let day0 = run_at(&a, &s, now()).await;
    assert_eq!(
        outcome(&day0, "new", KEY1).taken,
        Some(Action::DeactivateKey)
    );
    assert_eq!(key_statuses(&a, "new").await, vec!["Inactive"]);
    // A day later it waits; on day 10 it is deleted.
    let day1 = run_at(&a, &s, now() + Duration::days(1)).await;
    assert_eq!(outcome(&day1, "new", KEY1).status, Status::NotTaken);
    assert_eq!(key_statuses(&a, "new").await, vec!["Inactive"]);
    let day10 = run_at(&a, &s, now() + Duration::days(10)).await;
    assert_eq!(
        outcome(&day10, "new", KEY1).taken,
        Some(Action::DeleteKey),
        "{:?}",
        day10.actions
    );
    assert!(key_statuses(&a, "new").await.is_empty());
}

#[tokio::test]
async fn owner_mail_goes_once_per_stage_through_ses() {
    let (e, a) = setup(
        &[key_used("soon", 85)],
        &[("soon", "email", "soon@example.com")],
    )
    .await;
    let mut s = journaled(Mode::Enforce);
    s.runtime.sender_email = Some(SENDER.into());
    run_at(&a, &s, now()).await;
    run_at(&a, &s, now() + Duration::hours(2)).await;
    run_at(&a, &s, now() + Duration::days(4) + Duration::hours(1)).await;
    run_at(&a, &s, now() + Duration::days(4) + Duration::hours(3)).await;
    let sent = e.get("/_seed/ses_sent");
    let sent = sent.as_array().expect("a list");
    let subjects: Vec<&str> = sent.iter().filter_map(|m| m["subject"].as_str()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects[1].starts_with("Last notice"), "{subjects:?}");
    assert!(
        sent.iter()
            .all(|m| m["to"] == json!(["soon@example.com"]) && m["source"] == SENDER)
    );
}
