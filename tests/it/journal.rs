//! The write-ahead journal, quarantine, deletion after deactivation and owner mail, on the
//! in-memory fake account (its S3 and SES behind the ports).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use iam_sweeper::app::Settings;
use iam_sweeper::app::ports::KeyStatus;
use iam_sweeper::app::sweep;
use iam_sweeper::core::config::{JournalPlace, Mode};
use iam_sweeper::core::finding::{Action, Credential};
use iam_sweeper::core::journal::{Intent, Manifest, OutcomeRecord};
use iam_sweeper::core::outcome::{Detail, Status};
use iam_sweeper::core::report::Record;
use iam_sweeper::core::run::{Problem, RunReport};
use iam_sweeper::testing::fake::FakeAccount;
use iam_sweeper::testing::report::render;

use crate::sweep::{
    ACCOUNT, KEY1, account, failed_report, initial_key, key_used, key1, now, ok_report, outcome,
    root, scheduled_event, settings, stale_key, stale_password,
};

const BUCKET: &str = "journal-bucket";

fn journaled(mode: Mode) -> Settings {
    let mut s = settings(mode);
    s.runtime.journal = Some(JournalPlace {
        bucket: BUCKET.into(),
        prefix: "iam-sweeper/".into(),
    });
    s
}

async fn run_at(a: &FakeAccount, s: &Settings, at: DateTime<Utc>) -> RunReport {
    match sweep::handle(a, s, &scheduled_event(), at, None).await {
        Ok(r) => r,
        Err(sweep::RunError::Failed(r)) => *r,
        Err(e) => panic!("the run did not get as far as a report: {e}"),
    }
}

/// The journal's objects whose key ends with `suffix`, parsed.
fn records<T: serde::de::DeserializeOwned>(a: &FakeAccount, suffix: &str) -> Vec<(String, T)> {
    a.objects(BUCKET)
        .into_iter()
        .filter(|(k, _)| k.ends_with(suffix))
        .map(|(k, v)| {
            let parsed = serde_json::from_slice(&v)
                .unwrap_or_else(|e| panic!("{k} is not the journal's JSON: {e}"));
            (k, parsed)
        })
        .collect()
}

fn prefix() -> String {
    format!("iam-sweeper/{ACCOUNT}/")
}

#[tokio::test]
async fn an_enforce_run_writes_an_intent_and_an_outcome_per_action_and_a_manifest() {
    let a = account(&[
        stale_key("stale"),
        stale_password("pw"),
        key_used("fresh", 1),
    ]);
    let report = ok_report(
        sweep::handle(
            &a,
            &journaled(Mode::Enforce),
            &scheduled_event(),
            now(),
            None,
        )
        .await,
    );
    assert_eq!(report.action_counts.done, 2);
    assert!(
        iam_sweeper::core::journal::is_run_id(&report.run_id),
        "{}",
        report.run_id
    );
    assert_eq!(
        report.journal.as_deref(),
        Some("s3://journal-bucket/iam-sweeper/")
    );

    let run = format!("{}runs/{}/", prefix(), report.run_id);
    let intents: Vec<(String, Intent)> = records(&a, "-intent.json");
    let outcomes: Vec<(String, OutcomeRecord)> = records(&a, "-outcome.json");
    assert_eq!(intents.len(), 2, "{intents:?}");
    assert_eq!(outcomes.len(), 2);
    assert!(intents.iter().all(|(k, _)| k.starts_with(&run)));

    let key = intents
        .iter()
        .map(|(_, i)| i)
        .find(|i| i.user == "stale")
        .expect("the key's intent");
    assert_eq!(key.action, Action::DeactivateKey);
    assert_eq!(key.credential, KEY1);
    assert_eq!(
        key.access_key_id.as_deref(),
        Some(
            iam_sweeper::testing::fake::key_id("stale", iam_sweeper::core::finding::Slot::One)
                .as_str()
        )
    );
    assert_eq!(key.key_status.as_deref(), Some("Active"));
    assert!(key.key_created.is_some() && key.key_last_used.is_some());
    assert_eq!(key.key_last_used_service.as_deref(), Some("s3"));
    assert_eq!(key.key_last_used_region.as_deref(), Some("eu-west-1"));
    assert_eq!(key.arn, format!("arn:aws:iam::{ACCOUNT}:user/stale"));
    assert!(
        key.reasons.iter().any(|r| r == "unused-credentials"),
        "{:?}",
        key.reasons
    );

    let pw = intents
        .iter()
        .map(|(_, i)| i)
        .find(|i| i.user == "pw")
        .expect("the password's intent");
    assert_eq!(pw.action, Action::DeleteLoginProfile);
    assert!(pw.login_profile_created.is_some() && pw.password_last_used.is_some());

    for (_, o) in &outcomes {
        assert_eq!(o.status, Status::Done);
        assert!(o.undo.is_some());
        assert_eq!(o.run_id, report.run_id);
    }
    let manifests: Vec<(String, Manifest)> = records(&a, "manifest.json");
    assert_eq!(manifests.len(), 1);
    let (k, m) = &manifests[0];
    assert_eq!(k, &format!("{run}manifest.json"));
    assert_eq!(m.mode, "enforce");
    assert_eq!(m.account, ACCOUNT);
    assert_eq!(m.intents, 2);
    assert_eq!(m.counts["done"], 2);
    assert_eq!(m.settings["disable_after_days"], 90);
    // The key's history: what quarantine and deletion after deactivation read.
    assert_eq!(
        a.objects(BUCKET)
            .keys()
            .filter(|k| k.contains("/keys/stale/") && k.contains("-deactivated-"))
            .count(),
        1
    );
    // The mail names the run and its undo.
    let (_, mail) = a.published().pop().expect("a summary");
    assert!(mail.body.contains(&report.run_id), "{}", mail.body);
    assert!(
        mail.body
            .contains(&format!("iam-sweeper undo {} --apply", report.run_id))
    );
}

#[tokio::test]
async fn an_unwritable_journal_takes_no_action_and_fails_the_run() {
    let a = account(&[stale_key("stale"), stale_password("pw")]);
    a.make_unwritable(BUCKET);
    let report = failed_report(
        sweep::handle(
            &a,
            &journaled(Mode::Enforce),
            &scheduled_event(),
            now(),
            None,
        )
        .await,
    );
    assert_eq!(a.mutations(), 0, "{:?}", a.all_calls());
    assert_eq!(key1(&a, "stale"), Some(KeyStatus::Active));
    assert!(a.live("pw").expect("pw").login_profile.is_some());
    for o in &report.actions {
        assert_eq!(o.status, Status::Failed, "{o:?}");
        assert!(
            matches!(o.detail, Some(Detail::JournalUnwritable(_))),
            "{o:?}"
        );
    }
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::Journal(_))),
        "{:?}",
        report.problems
    );
    let (_, mail) = a.published().pop().expect("a summary");
    assert!(
        mail.subject.contains("FAILED") || mail.body.contains("THIS RUN FAILED"),
        "{}",
        mail.subject
    );
}

#[tokio::test]
async fn report_mode_writes_only_the_manifest() {
    let a = account(&[stale_key("stale")]);
    let report = ok_report(
        sweep::handle(
            &a,
            &journaled(Mode::Report),
            &scheduled_event(),
            now(),
            None,
        )
        .await,
    );
    let keys: Vec<String> = a.objects(BUCKET).into_keys().collect();
    assert_eq!(
        keys,
        vec![format!("{}runs/{}/manifest.json", prefix(), report.run_id)]
    );
}

fn quarantined(days: u32) -> Settings {
    let mut s = journaled(Mode::Enforce);
    s.runtime.quarantine_days = days;
    s
}

#[tokio::test]
async fn quarantine_deactivates_on_day_zero_and_deletes_on_day_n() {
    let a = account(&[initial_key("new")]);
    let s = quarantined(14);
    let day0 = run_at(&a, &s, now()).await;
    let o = outcome(&day0, "new", KEY1);
    assert_eq!(
        (o.status, o.taken),
        (Status::Done, Some(Action::DeactivateKey)),
        "{o:?}"
    );
    assert!(
        matches!(o.detail, Some(Detail::Quarantined { .. })),
        "{o:?}"
    );
    assert_eq!(key1(&a, "new"), Some(KeyStatus::Inactive));
    // A day later: waiting.
    let day1 = run_at(&a, &s, now() + Duration::days(1)).await;
    let o = outcome(&day1, "new", KEY1);
    assert_eq!(o.status, Status::NotTaken);
    assert!(
        matches!(o.detail, Some(Detail::QuarantineWait { .. })),
        "{o:?}"
    );
    assert_eq!(key1(&a, "new"), Some(KeyStatus::Inactive));
    // Day 14: deleted.
    let day14 = run_at(&a, &s, now() + Duration::days(14)).await;
    let o = outcome(&day14, "new", KEY1);
    assert_eq!(
        (o.status, o.taken),
        (Status::Done, Some(Action::DeleteKey)),
        "{o:?}"
    );
    assert_eq!(key1(&a, "new"), None);
}

#[tokio::test]
async fn quarantine_never_deletes_a_key_used_or_reactivated_meanwhile() {
    let a = account(&[initial_key("used"), initial_key("back")]);
    let s = quarantined(7);
    run_at(&a, &s, now()).await;
    assert_eq!(key1(&a, "used"), Some(KeyStatus::Inactive));
    // Used after the deactivation (a request signed with it is refused but recorded as use),
    // and the other reactivated by a human.
    a.user("used", |u| {
        u.keys[0].last_used = Some(now() + Duration::days(2))
    });
    a.user("back", |u| u.keys[0].status = KeyStatus::Active);
    let later = run_at(&a, &s, now() + Duration::days(30)).await;
    assert!(
        a.live("used")
            .expect("used")
            .keys
            .iter()
            .any(|k| k.id.ends_with('1')),
        "the used key is kept"
    );
    assert!(
        a.live("back")
            .expect("back")
            .keys
            .iter()
            .any(|k| k.id.ends_with('1')),
        "the reactivated key is kept"
    );
    assert_ne!(outcome(&later, "used", KEY1).taken, Some(Action::DeleteKey));
    assert_ne!(outcome(&later, "back", KEY1).taken, Some(Action::DeleteKey));
}

#[tokio::test]
async fn quarantine_does_not_delete_an_inactive_key_this_tool_did_not_deactivate() {
    let mut r = initial_key("old");
    r.access_keys[0].active = Some(false);
    let a = account(&[r]);
    let report = run_at(&a, &quarantined(7), now()).await;
    let o = outcome(&report, "old", KEY1);
    assert_eq!(o.status, Status::NotTaken);
    assert_eq!(o.detail, Some(Detail::QuarantineNotOurs));
    assert_eq!(key1(&a, "old"), Some(KeyStatus::Inactive));
}

#[tokio::test]
async fn keys_this_tool_deactivated_are_deleted_after_the_configured_days() {
    let stale = stale_key("stale");
    let a = account(&[stale.clone(), stale_key("used")]);
    let mut s = journaled(Mode::Enforce);
    s.runtime.delete_deactivated_after_days = Some(30);
    run_at(&a, &s, now()).await;
    assert_eq!(key1(&a, "stale"), Some(KeyStatus::Inactive));
    // The next reports show both keys inactive; one is used again meanwhile.
    let inactive = |mut r: Record| {
        r.access_keys[0].active = Some(false);
        r
    };
    let mut records = vec![root(), inactive(stale.clone()), inactive(stale_key("used"))];
    a.set_report(render(&records).into_bytes());
    a.user("used", |u| {
        u.keys[0].last_used = Some(now() + Duration::days(3))
    });
    // Too early: nothing deleted.
    let early = run_at(&a, &s, now() + Duration::days(10)).await;
    assert!(
        early
            .actions
            .iter()
            .all(|o| o.taken != Some(Action::DeleteKey)),
        "{:?}",
        early.actions
    );
    assert_eq!(key1(&a, "stale"), Some(KeyStatus::Inactive));
    let due = run_at(&a, &s, now() + Duration::days(31)).await;
    let o = outcome(&due, "stale", KEY1);
    assert_eq!(
        (o.status, o.taken),
        (Status::Done, Some(Action::DeleteKey)),
        "{o:?}"
    );
    assert_eq!(key1(&a, "stale"), None);
    let u = outcome(&due, "used", KEY1);
    assert_eq!(u.status, Status::SkippedInUse, "{u:?}");
    assert_eq!(key1(&a, "used"), Some(KeyStatus::Inactive));
    records.truncate(1);
}

fn mailing(journal: bool) -> Settings {
    let mut s = if journal {
        journaled(Mode::Enforce)
    } else {
        settings(Mode::Enforce)
    };
    s.runtime.sender_email = Some("iam-sweeper@example.com".into());
    s
}

/// Mails sent, by (to, first word of the stage in the subject).
fn mails_to(a: &FakeAccount) -> BTreeMap<String, Vec<String>> {
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, to, subject, _) in a.mails() {
        by.entry(to).or_default().push(subject);
    }
    by
}

#[tokio::test]
async fn owner_mail_goes_once_per_stage_across_repeated_and_skipped_nights() {
    // Due in 5 days (disabled after 90, last used 85 days ago).
    let a = account(&[key_used("soon", 85), key_used("nobody", 85)]);
    a.tag("soon", "email", "soon@example.com");
    let s = mailing(true);
    let first = run_at(&a, &s, now()).await;
    assert_eq!(first.owner_mail.sent, 1);
    assert_eq!(first.owner_mail.no_address, 1);
    // The same night again: nothing new.
    let again = run_at(&a, &s, now() + Duration::hours(1)).await;
    assert_eq!(again.owner_mail.sent, 0);
    // Nights 2 and 3 skipped; night 4 (due tomorrow): the last notice, once.
    let n4 = run_at(&a, &s, now() + Duration::days(4) + Duration::hours(1)).await;
    assert_eq!(n4.owner_mail.sent, 1);
    run_at(&a, &s, now() + Duration::days(4) + Duration::hours(2)).await;
    // Night 5: the action, and its notice.
    let n5 = run_at(&a, &s, now() + Duration::days(5) + Duration::hours(1)).await;
    assert_eq!(outcome(&n5, "soon", KEY1).status, Status::Done);
    run_at(&a, &s, now() + Duration::days(5) + Duration::hours(2)).await;
    let mails = mails_to(&a);
    let soon = &mails["soon@example.com"];
    assert_eq!(soon.len(), 3, "{soon:?}");
    assert!(soon[0].contains("will be deactivated on"), "{soon:?}");
    assert!(soon[1].starts_with("Last notice"), "{soon:?}");
    assert!(soon[2].contains("was deactivated"), "{soon:?}");
    let (_, _, _, body) = a.mails().into_iter().last().expect("the action's mail");
    assert!(
        body.contains("aws iam update-access-key --user-name soon"),
        "{body}"
    );
    // The summary counts them.
    assert_eq!(n5.owner_mail.sent, 1);
    let body = iam_sweeper::render::summary::build(&n5).body;
    assert!(body.contains("Owner mail:        1 sent"), "{body}");
}

#[tokio::test]
async fn without_a_journal_owner_mail_follows_the_dates_alone() {
    let a = account(&[key_used("soon", 83)]);
    a.tag("soon", "Email", "soon@example.com");
    let s = mailing(false);
    // Due in 7 days: the first day of the window.
    assert_eq!(run_at(&a, &s, now()).await.owner_mail.sent, 1);
    // The next nights: within the window, not its first day.
    assert_eq!(
        run_at(&a, &s, now() + Duration::days(1))
            .await
            .owner_mail
            .sent,
        0
    );
    assert_eq!(
        run_at(&a, &s, now() + Duration::days(3))
            .await
            .owner_mail
            .sent,
        0
    );
    // The day before: the last notice.
    assert_eq!(
        run_at(&a, &s, now() + Duration::days(6))
            .await
            .owner_mail
            .sent,
        1
    );
}

#[tokio::test]
async fn a_refused_owner_mail_is_a_run_problem() {
    let a = account(&[key_used("soon", 85)]);
    a.tag("soon", "email", "soon@example.com");
    a.fail_mail(iam_sweeper::app::ports::MailError {
        to: String::new(),
        code: Some("MessageRejected".into()),
        message: "Email address is not verified.".into(),
    });
    let report = run_at(&a, &mailing(true), now()).await;
    assert_eq!(report.owner_mail.failed, 1);
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::OwnerMail { .. })),
        "{:?}",
        report.problems
    );
    let _ = Credential::Password;
}

/// The journal of a whole 5,000-user account swept in enforce mode: three objects per key
/// changed (intent, outcome, the key's event), two per password, one manifest; each record small.
#[tokio::test]
async fn the_journal_of_a_five_thousand_user_sweep_is_three_objects_per_key_action() {
    let records = iam_sweeper::testing::synthetic::records(5_000, now());
    let a = FakeAccount::from_records(&records);
    a.set_generated_time(now() - Duration::hours(1));
    let mut s = journaled(Mode::Enforce);
    s.policy.max_actions = 100_000;
    s.runtime.concurrency = 64;
    let report = ok_report(sweep::handle(&a, &s, &scheduled_event(), now(), None).await);
    let keys_done = report
        .actions
        .iter()
        .filter(|o| o.status == Status::Done && o.credential != Credential::Password)
        .count();
    let passwords_done = report.action_counts.done - keys_done;
    assert!(
        keys_done >= 500 && passwords_done >= 500,
        "{:?}",
        report.action_counts
    );
    let objects = a.objects(BUCKET);
    assert_eq!(objects.len(), 3 * keys_done + 2 * passwords_done + 1);
    let bytes: usize = objects.values().map(Vec::len).sum();
    let largest = objects.values().map(Vec::len).max().unwrap_or(0);
    assert!(largest < 4_096, "a record of {largest} bytes");
    eprintln!(
        "journal: {} objects, {} bytes, largest {largest} ({keys_done} keys, {passwords_done} passwords)",
        objects.len(),
        bytes
    );
}
