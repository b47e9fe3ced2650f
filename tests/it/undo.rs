//! `undo` and `runs` (`iam_sweeper::app::undo`) on the in-memory fake account.
//!
//! Each test runs a real enforce sweep with a journal configured, so the records `undo` reads are
//! the ones the sweep wrote into the fake's S3; then it changes the live world as a test needs
//! and undoes the run: a dry run changes nothing, `apply` restores keys and console passwords
//! (once: a second apply changes nothing), a key replaced or reactivated meanwhile is left
//! alone, an unwritable journal stops the change, `--user` filters, `runs` lists the run.

use chrono::{DateTime, Duration, Utc};
use iam_sweeper::app::Settings;
use iam_sweeper::app::ports::KeyStatus;
use iam_sweeper::app::sweep;
use iam_sweeper::app::undo::{self, End, Request, Undo, UndoError};
use iam_sweeper::core::config::{JournalPlace, Mode};
use iam_sweeper::core::finding::{Credential, Slot};
use iam_sweeper::core::journal::{KeyEventKind, Layout, OutcomeRecord, latest_events};
use iam_sweeper::core::outcome::Status;
use iam_sweeper::core::undo::{
    Cannot, Change, Settled, Step, UndoChange, UndoIntent, UndoOutcome, UndoStatus, strong_enough,
};
use iam_sweeper::render::undo as show;
use iam_sweeper::testing::fake::{FakeAccount, FakeKey, key_id};

use crate::sweep::{
    ACCOUNT, account, initial_key, now, ok_report, scheduled_event, settings, stale_key,
    stale_password,
};

const BUCKET: &str = "journal-bucket";
const PREFIX: &str = "iam-sweeper/";

fn place() -> JournalPlace {
    JournalPlace {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
    }
}

fn journaled() -> Settings {
    let mut s = settings(Mode::Enforce);
    s.runtime.journal = Some(place());
    s
}

/// An enforce run with the journal at `now()`: its run ID.
async fn enforce(a: &FakeAccount) -> String {
    let report = ok_report(sweep::handle(a, &journaled(), &scheduled_event(), now(), None).await);
    assert!(
        report.actions.iter().all(|o| o.status == Status::Done),
        "{:?}",
        report.actions
    );
    report.run_id
}

/// An hour after the run.
fn later() -> DateTime<Utc> {
    now() + Duration::hours(1)
}

async fn undo_run(
    a: &FakeAccount,
    run_id: &str,
    user: Option<&str>,
    apply: bool,
) -> Result<Undo, UndoError> {
    let place = place();
    let req = Request {
        place: &place,
        account: ACCOUNT,
        run_id,
        user,
        apply,
        operator: Some("arn:aws:iam::123456789012:user/operator"),
        now: later(),
    };
    undo::undo(a, &req).await
}

fn key1(a: &FakeAccount, user: &str) -> Option<KeyStatus> {
    a.key_status(user, &key_id(user, Slot::One))
}

fn has_password(a: &FakeAccount, user: &str) -> bool {
    a.live(user).is_some_and(|u| u.login_profile.is_some())
}

/// The end for `user`'s item.
fn end_of<'u>(u: &'u Undo, user: &str) -> &'u End {
    let found: Vec<_> = u.items.iter().filter(|i| i.user == user).collect();
    assert_eq!(found.len(), 1, "{user}: {:?}", u.items);
    &found[0].end
}

fn objects_under(a: &FakeAccount, prefix: &str) -> Vec<String> {
    a.objects(BUCKET)
        .into_keys()
        .filter(|k| k.starts_with(prefix))
        .collect()
}

fn undo_prefix(run_id: &str) -> String {
    format!("{PREFIX}{ACCOUNT}/undo/{run_id}/")
}

#[tokio::test]
async fn a_dry_run_says_what_it_would_do_and_changes_nothing() {
    let a = account(&[
        stale_key("alice"),
        stale_password("bob"),
        initial_key("carol"),
    ]);
    let run_id = enforce(&a).await;
    let objects = a.objects(BUCKET);
    let (updates, creates) = (a.calls("UpdateAccessKey"), a.calls("CreateLoginProfile"));

    let u = undo_run(&a, &run_id, None, false).await.expect("a dry run");

    assert_eq!(u.items.len(), 3, "{:?}", u.items);
    assert!(matches!(
        end_of(&u, "alice"),
        End::Would(Step::Reactivate { key_id }) if *key_id == key_id_of("alice")
    ));
    assert!(matches!(
        end_of(&u, "bob"),
        End::Would(Step::RecreatePassword)
    ));
    assert!(matches!(
        end_of(&u, "carol"),
        End::Cannot(Cannot::KeyDeleted { key_id: Some(k) }) if *k == key_id_of("carol")
    ));
    assert!(
        u.complete(),
        "a deleted key is listed as not recoverable, not a failure"
    );
    assert_eq!(u.undo_id, None);
    // Nothing changed: IAM, and the journal.
    assert_eq!(a.calls("UpdateAccessKey"), updates);
    assert_eq!(a.calls("CreateLoginProfile"), creates);
    assert_eq!(key1(&a, "alice"), Some(KeyStatus::Inactive));
    assert!(!has_password(&a, "bob"));
    assert_eq!(a.objects(BUCKET), objects);
    // One line per action.
    let lines = show::lines(&u);
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].contains("would reactivate") && lines[0].contains("alice"),
        "{lines:?}"
    );
    assert!(lines[1].contains("would re-create") && lines[1].contains("bob"));
    assert!(
        lines[2].contains("not recoverable")
            && lines[2].contains("aws iam create-access-key --user-name carol"),
        "{}",
        lines[2]
    );
    assert!(show::header(&u).contains("dry run"));
}

fn key_id_of(user: &str) -> String {
    key_id(user, Slot::One)
}

#[tokio::test]
async fn apply_restores_keys_and_passwords_once_and_journals_it() {
    let a = account(&[stale_key("alice"), stale_password("bob")]);
    let run_id = enforce(&a).await;
    assert_eq!(key1(&a, "alice"), Some(KeyStatus::Inactive));
    assert!(!has_password(&a, "bob"));

    let u = undo_run(&a, &run_id, None, true).await.expect("an undo");

    assert!(u.complete(), "{:?}", u.items);
    assert!(matches!(end_of(&u, "alice"), End::Reactivated));
    let End::Recreated(password) = end_of(&u, "bob") else {
        panic!("{:?}", u.items);
    };
    let password = password.expose().to_string();
    assert!(strong_enough(&password), "{password}");
    assert_eq!(key1(&a, "alice"), Some(KeyStatus::Active));
    assert_eq!(
        a.key_status("alice", &key_id("alice", Slot::Two)),
        Some(KeyStatus::Active)
    );
    assert!(has_password(&a, "bob"));
    assert_eq!(a.calls("CreateLoginProfile"), 1);

    // The password is on bob's line, once, and nowhere else: not in the journal, not in Debug.
    let lines = show::lines(&u);
    assert_eq!(lines.iter().filter(|l| l.contains(&password)).count(), 1);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("bob") && l.contains(&password))
    );
    assert!(!format!("{u:?}").contains(&password));
    for (key, body) in a.objects(BUCKET) {
        assert!(
            !String::from_utf8_lossy(&body).contains(&password),
            "{key} holds the password"
        );
    }

    // Its own records: an intent and an outcome per change, under undo/<run>/<undo_id>/.
    let undo_id = u.undo_id.clone().expect("an undo ID");
    let prefix = format!("{}{undo_id}/", undo_prefix(&run_id));
    assert_eq!(
        objects_under(&a, &prefix),
        [
            format!("{prefix}00001-intent.json"),
            format!("{prefix}00001-outcome.json"),
            format!("{prefix}00002-intent.json"),
            format!("{prefix}00002-outcome.json"),
        ]
    );
    let objects = a.objects(BUCKET);
    let intent: UndoIntent =
        serde_json::from_slice(&objects[&format!("{prefix}00001-intent.json")]).unwrap();
    assert_eq!(intent.change, UndoChange::ReactivateKey);
    assert_eq!(
        (intent.user.as_str(), intent.run_id.as_str()),
        ("alice", run_id.as_str())
    );
    assert_eq!(
        intent.access_key_id.as_deref(),
        Some(key_id_of("alice").as_str())
    );
    assert_eq!(
        intent.operator.as_deref(),
        Some("arn:aws:iam::123456789012:user/operator")
    );
    let outcome: UndoOutcome =
        serde_json::from_slice(&objects[&format!("{prefix}00002-outcome.json")]).unwrap();
    assert_eq!(
        (outcome.user.as_str(), outcome.change, outcome.status),
        ("bob", UndoChange::CreateLoginProfile, UndoStatus::Restored)
    );
    // The reactivated key's latest event is `reactivated`: quarantine leaves it alone.
    let layout = Layout::new(PREFIX, ACCOUNT);
    let latest = latest_events(objects.keys().filter_map(|k| layout.parse_key_event(k)));
    let alice = &latest[&key_id_of("alice")];
    assert_eq!(alice.event, KeyEventKind::Reactivated);
    assert_eq!(alice.run_id, undo_id);

    // A second apply finds everything restored and changes nothing.
    let (updates, creates) = (a.calls("UpdateAccessKey"), a.calls("CreateLoginProfile"));
    let again = undo_run(&a, &run_id, None, true)
        .await
        .expect("a second undo");
    assert!(again.complete());
    assert!(matches!(
        end_of(&again, "alice"),
        End::Nothing(Settled::KeyActive)
    ));
    assert!(matches!(
        end_of(&again, "bob"),
        End::Nothing(Settled::PasswordPresent(_))
    ));
    assert_eq!(again.undo_id, None);
    assert_eq!(a.calls("UpdateAccessKey"), updates);
    assert_eq!(a.calls("CreateLoginProfile"), creates);
    assert_eq!(a.objects(BUCKET), objects, "no records for no changes");
}

#[tokio::test]
async fn a_key_replaced_or_reactivated_meanwhile_is_left_alone() {
    let a = account(&[stale_key("alice"), stale_key("dave")]);
    let run_id = enforce(&a).await;
    // Alice's key was reactivated by someone; Dave's was deleted and a new one created, which
    // is inactive too.
    a.user("alice", |u| u.keys[0].status = KeyStatus::Active);
    a.user("dave", |u| {
        u.keys.remove(0);
        u.keys.push(FakeKey {
            id: "AKIADAVENEW".into(),
            status: KeyStatus::Inactive,
            created: later(),
            last_used: None,
        });
    });
    let updates = a.calls("UpdateAccessKey");

    let u = undo_run(&a, &run_id, None, true).await.expect("an undo");

    assert!(matches!(
        end_of(&u, "alice"),
        End::Nothing(Settled::KeyActive)
    ));
    assert!(matches!(
        end_of(&u, "dave"),
        End::Cannot(Cannot::KeyGone { key_id }) if *key_id == key_id_of("dave")
    ));
    assert!(!u.complete(), "dave's key cannot be restored");
    assert_eq!(a.calls("UpdateAccessKey"), updates, "no key was touched");
    assert_eq!(
        a.key_status("dave", "AKIADAVENEW"),
        Some(KeyStatus::Inactive),
        "the new key is not someone else's to reactivate"
    );
    assert!(objects_under(&a, &undo_prefix(&run_id)).is_empty());
    let lines = show::lines(&u);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("dave") && l.contains("left alone"))
    );
}

#[tokio::test]
async fn an_unwritable_journal_stops_the_change() {
    let a = account(&[stale_key("alice"), stale_password("bob")]);
    let run_id = enforce(&a).await;
    a.make_unwritable(BUCKET);
    let updates = a.calls("UpdateAccessKey");

    let u = undo_run(&a, &run_id, None, true).await.expect("an undo");

    for user in ["alice", "bob"] {
        assert!(
            matches!(
                end_of(&u, user),
                End::Failed(undo::Failure::JournalUnwritable(_))
            ),
            "{user}: {:?}",
            u.items
        );
    }
    assert!(!u.complete());
    assert_eq!(a.calls("UpdateAccessKey"), updates);
    assert_eq!(a.calls("CreateLoginProfile"), 0);
    assert_eq!(key1(&a, "alice"), Some(KeyStatus::Inactive));
    assert!(!has_password(&a, "bob"));
    assert!(show::lines(&u)[0].contains("intent record could not be written"));
}

#[tokio::test]
async fn user_filters_the_actions_and_bad_input_is_refused() {
    let a = account(&[stale_key("alice"), stale_password("bob")]);
    let run_id = enforce(&a).await;

    let u = undo_run(&a, &run_id, Some("alice"), true)
        .await
        .expect("an undo of alice");
    assert_eq!(u.items.len(), 1);
    assert!(matches!(end_of(&u, "alice"), End::Reactivated));
    assert!(!has_password(&a, "bob"), "bob is left for later");

    let e = undo_run(&a, &run_id, Some("nobody"), false)
        .await
        .expect_err("no such user in the run");
    assert!(matches!(e, UndoError::NoSuchUser { .. }) && e.is_bad_input());

    let unknown = "20261124T020000Z-0000abcd";
    let e = undo_run(&a, unknown, None, false)
        .await
        .expect_err("an unknown run");
    assert!(e.is_bad_input());
    assert_eq!(
        e.to_string().split(';').next().unwrap(),
        format!(
            "no journal records for run {unknown} under s3://{BUCKET}/{PREFIX}{ACCOUNT}/runs/{unknown}/"
        )
    );
    let e = undo_run(&a, "../other", None, false)
        .await
        .expect_err("not a run ID");
    assert!(matches!(e, UndoError::NotARunId(_)));
}

#[tokio::test]
async fn an_unconfirmed_change_is_checked_live_like_a_done_one() {
    let a = account(&[stale_key("alice")]);
    let run_id = enforce(&a).await;
    // Rewrite the outcome as a run whose answer was lost and could not be confirmed writes it.
    let key = format!("{PREFIX}{ACCOUNT}/runs/{run_id}/actions/00001-outcome.json");
    let mut o: OutcomeRecord = serde_json::from_slice(&a.objects(BUCKET)[&key]).unwrap();
    assert_eq!(o.credential, Credential::AccessKey(Slot::One));
    o.status = Status::Failed;
    o.taken = None;
    o.detail =
        Some("IAM's answer was lost and whether the change was made could not be confirmed".into());
    a.put_object(BUCKET, &key, &serde_json::to_vec(&o).unwrap());

    let dry = undo_run(&a, &run_id, None, false).await.expect("a dry run");
    assert_eq!(dry.items[0].change, Some(Change::Unconfirmed));
    assert!(matches!(
        dry.items[0].end,
        End::Would(Step::Reactivate { .. })
    ));
    assert!(show::lines(&dry)[0].contains("could not confirm"));

    let u = undo_run(&a, &run_id, None, true).await.expect("an undo");
    assert!(matches!(end_of(&u, "alice"), End::Reactivated));
    assert_eq!(key1(&a, "alice"), Some(KeyStatus::Active));

    // A failure without an undo command changed nothing: nothing to undo.
    o.undo = None;
    a.put_object(BUCKET, &key, &serde_json::to_vec(&o).unwrap());
    let u = undo_run(&a, &run_id, None, true).await.expect("an undo");
    assert!(matches!(
        end_of(&u, "alice"),
        End::Nothing(Settled::NotChanged(Status::Failed))
    ));
}

#[tokio::test]
async fn runs_lists_the_journaled_runs_newest_first() {
    let a = account(&[stale_key("alice"), stale_password("bob")]);
    let first = enforce(&a).await;
    // A report-mode run a day later: journaled, nothing taken.
    let mut report = journaled();
    report.policy.mode = Mode::Report;
    let second = ok_report(
        sweep::handle(
            &a,
            &report,
            &scheduled_event(),
            now() + Duration::days(1),
            None,
        )
        .await,
    )
    .run_id;

    let runs = undo::runs(&a, &place(), ACCOUNT, None)
        .await
        .expect("the runs");
    let ids: Vec<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()]);
    let m = runs[1].manifest.as_ref().expect("the manifest");
    assert_eq!(m.mode, "enforce");
    assert_eq!(undo::count(m, "done"), 2);
    let lines = show::run_lines(&runs);
    assert!(lines[1].starts_with(&first), "{}", lines[1]);
    assert!(
        lines[1].contains("enforce")
            && lines[1].contains("done 2")
            && lines[1].contains("failed 0"),
        "{}",
        lines[1]
    );
    assert!(lines[0].contains("report"), "{}", lines[0]);
    let json = show::runs_json(&runs);
    assert_eq!(json[1]["run_id"], first.as_str());
    assert_eq!(json[1]["done"], 2);

    let since = now() + Duration::hours(12);
    let recent = undo::runs(&a, &place(), ACCOUNT, Some(since))
        .await
        .unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].run_id, second);
    assert!(
        undo::runs(&a, &place(), "999999999999", None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_adapter_asks_for_a_new_password_at_first_sign_in() {
    use aws_sdk_iam::operation::create_login_profile::CreateLoginProfileOutput;
    use aws_sdk_iam::types::LoginProfile;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    let rule = mock!(aws_sdk_iam::Client::create_login_profile)
        .match_requests(|r| {
            r.user_name() == Some("bob")
                && r.password() == Some("Pw-0123456789abcdefXYZ!")
                && r.password_reset_required() == Some(true)
        })
        .then_output(|| {
            CreateLoginProfileOutput::builder()
                .login_profile(
                    LoginProfile::builder()
                        .user_name("bob")
                        .create_date(aws_smithy_types::DateTime::from_secs(1_800_000_000))
                        .password_reset_required(true)
                        .build()
                        .expect("a login profile"),
                )
                .build()
        });
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&rule], |c| c
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled()));
    iam_sweeper::aws::iam::create_login_profile(&client, "bob", "Pw-0123456789abcdefXYZ!")
        .await
        .expect("CreateLoginProfile with PasswordResetRequired=true");
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_password_that_appears_while_it_is_created_is_reported_with_a_way_forward() {
    use iam_sweeper::app::ports::IamError;
    use iam_sweeper::testing::fake::When;
    let a = account(&[stale_password("bob")]);
    let run_id = enforce(&a).await;
    // The profile is created, and the answer lost: the SDK's retry meets it.
    a.fault(
        "CreateLoginProfile",
        Some("bob"),
        IamError::Other {
            operation: "CreateLoginProfile",
            code: Some("EntityAlreadyExists".into()),
            message: "Login Profile for user bob already exists.".into(),
        },
        When::After,
        Some(1),
    );

    let u = undo_run(&a, &run_id, None, true).await.expect("an undo");

    assert!(matches!(
        end_of(&u, "bob"),
        End::Failed(undo::Failure::PasswordExistsNow { .. })
    ));
    assert!(!u.complete());
    let line = &show::lines(&u)[0];
    assert!(
        line.contains("aws iam update-login-profile --user-name bob --password-reset-required"),
        "{line}"
    );
    let undo_id = u.undo_id.expect("the intent was written");
    let outcome: UndoOutcome = serde_json::from_slice(
        &a.objects(BUCKET)[&format!("{}{undo_id}/00001-outcome.json", undo_prefix(&run_id))],
    )
    .unwrap();
    assert_eq!(outcome.status, UndoStatus::Failed);
}
