//! `undo` and `runs` end to end: the real binary against the local emulator. An enforce
//! `invoke` with `JOURNAL_BUCKET` set journals its actions into the emulator's S3 (which honours
//! `If-None-Match: *`); `undo RUN_ID` then reads them back with the caller's account from STS,
//! says what it would do, restores with `--apply` (a second `--apply` changes nothing), and
//! `runs` lists the run.

use std::process::Command;

use chrono::{Duration, Utc};
use iam_sweeper::aws::AwsAccount;
use serde_json::{Value, json};

use crate::support::emulator::{Emulator, Run, first_key_id, sweeper_env, ts};

const BUCKET: &str = "iam-sweeper-journal";
const PREFIX: &str = "journal/";
const ACCOUNT: &str = "123456789012";

fn ago(days: i64) -> String {
    ts(Utc::now() - Duration::days(days))
}

/// A stale key (deactivated), a stale console password (deleted), an initial-setup key
/// (deleted: not recoverable) and a healthy user.
fn cast() -> Vec<Value> {
    vec![
        json!({"name": "stale-key", "created": ago(400),
               "keys": [{"created": ago(399), "status": "Active", "last_used": ago(120), "service": "s3", "region": "eu-west-1"}]}),
        json!({"name": "stale-password", "created": ago(400), "password": {"last_used": ago(100)}}),
        json!({"name": "setup-key", "created": ago(20), "password": {"last_used": ago(1)},
               "keys": [{"created": ts(Utc::now() - Duration::days(20) + Duration::seconds(4)), "status": "Active", "last_used": null}]}),
        json!({"name": "healthy", "created": ago(400), "password": {"last_used": ago(2)},
               "keys": [{"created": ago(399), "status": "Active", "last_used": ago(1)}]}),
    ]
}

/// Runs the binary with `args` against the emulator, the journal in the environment.
fn sweeper(e: &Emulator, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-sweeper"));
    cmd.args(args);
    sweeper_env(&mut cmd, &e.endpoint());
    cmd.env("JOURNAL_BUCKET", BUCKET)
        .env("JOURNAL_PREFIX", PREFIX)
        .env("RUST_LOG", "info");
    Run::from(cmd.output().expect("run iam-sweeper"))
}

fn line_of<'r>(run: &'r Run, user: &str) -> &'r str {
    let found: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains(&format!(" {user} ")))
        .collect();
    assert_eq!(found.len(), 1, "{user} in:\n{}\n{}", run.stdout, run.stderr);
    found[0]
}

async fn objects(a: &AwsAccount, prefix: &str) -> Vec<String> {
    let out =
        a.s3.list_objects_v2()
            .bucket(BUCKET)
            .prefix(prefix)
            .send()
            .await
            .expect("a listing");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn an_enforce_run_is_undone_once_and_listed() {
    let e = Emulator::start();
    let seeded = e.seed(cast());
    let key_id = |user: &str| first_key_id(&seeded, user);
    let aws = AwsAccount::new(&e.sdk_config().await);
    aws.s3
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("the journal bucket");

    let run = e.invoke(
        None,
        &[
            ("MODE", "enforce"),
            ("JOURNAL_BUCKET", BUCKET),
            ("JOURNAL_PREFIX", PREFIX),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let run_id = run.json()["run_id"].as_str().expect("a run ID").to_string();
    for (user, cred) in [
        ("stale-key", "access_key_1"),
        ("stale-password", "password"),
        ("setup-key", "access_key_1"),
    ] {
        assert_eq!(run.status_of(user, cred).as_deref(), Some("done"), "{user}");
    }
    let before = e
        .snapshot(&["stale-key", "stale-password", "setup-key", "healthy"])
        .await;

    // A dry run: what it would do, nothing changed.
    let dry = sweeper(&e, &["undo", &run_id]);
    assert_eq!(
        dry.code,
        Some(0),
        "a deleted key is listed, not a failure\n{}",
        dry.stderr
    );
    assert!(
        line_of(&dry, "stale-key").contains("would reactivate"),
        "{}",
        dry.stdout
    );
    assert!(line_of(&dry, "stale-password").contains("would re-create"));
    let setup = line_of(&dry, "setup-key");
    assert!(
        setup.contains("not recoverable")
            && setup.contains("aws iam create-access-key --user-name setup-key"),
        "{setup}"
    );
    assert_eq!(
        dry.stdout.lines().count(),
        3,
        "one line per action:\n{}",
        dry.stdout
    );
    assert!(dry.stderr.contains("dry run"), "{}", dry.stderr);
    assert_eq!(
        e.snapshot(&["stale-key", "stale-password", "setup-key", "healthy"])
            .await,
        before
    );
    let undo_prefix = format!("{PREFIX}{ACCOUNT}/undo/");
    assert!(objects(&aws, &undo_prefix).await.is_empty());

    // --apply: the key is active again, the password is back and must be changed.
    let applied = sweeper(&e, &["undo", &run_id, "--apply"]);
    assert_eq!(
        applied.code,
        Some(0),
        "{}\n{}",
        applied.stdout,
        applied.stderr
    );
    assert!(line_of(&applied, "stale-key").contains("reactivated"));
    assert_eq!(
        e.key_status("stale-key").await,
        [(key_id("stale-key"), "Active".to_string())]
    );
    let pw_line = line_of(&applied, "stale-password");
    let password = pw_line
        .split("console password set to ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no password in {pw_line}"));
    assert!(
        iam_sweeper::core::undo::strong_enough(password),
        "{password}"
    );
    assert!(
        !applied.stderr.contains(password),
        "the password is in the logs:\n{}",
        applied.stderr
    );
    // (The emulator ignores PasswordResetRequired on CreateLoginProfile: `undo`'s own tests
    // check the adapter sends it.)
    assert!(e.has_password("stale-password").await);
    assert!(e.key_status("setup-key").await.is_empty());
    let records = objects(&aws, &undo_prefix).await;
    assert_eq!(records.len(), 4, "{records:?}");
    assert!(
        records
            .iter()
            .all(|k| k.starts_with(&format!("{undo_prefix}{run_id}/")))
    );
    let events = objects(&aws, &format!("{PREFIX}{ACCOUNT}/keys/stale-key/")).await;
    assert!(
        events.iter().any(|k| k.contains("-reactivated-")),
        "{events:?}"
    );

    // A second --apply finds everything restored and changes nothing.
    let calls = e.calls();
    let again = sweeper(&e, &["undo", &run_id, "--apply"]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(
        line_of(&again, "stale-key").contains("nothing to do"),
        "{}",
        again.stdout
    );
    assert!(line_of(&again, "stale-password").contains("nothing to do"));
    assert!(!again.stdout.contains("console password set to"));
    let after = e.calls();
    for op in ["IAM.UpdateAccessKey", "IAM.CreateLoginProfile"] {
        assert_eq!(after.get(op), calls.get(op), "{op} called again");
    }
    assert_eq!(objects(&aws, &undo_prefix).await, records);

    // --user: only that user's line.
    let one = sweeper(&e, &["undo", &run_id, "--user", "stale-key"]);
    assert_eq!(one.code, Some(0), "{}", one.stderr);
    assert_eq!(one.stdout.lines().count(), 1, "{}", one.stdout);

    // runs: the run, with its counts.
    let runs = sweeper(&e, &["runs"]);
    assert_eq!(runs.code, Some(0), "{}", runs.stderr);
    let first = runs.stdout.lines().next().expect("a run");
    assert!(first.starts_with(&run_id), "{first}");
    assert!(
        first.contains("enforce") && first.contains("done 3"),
        "{first}"
    );
    let json = sweeper(&e, &["runs", "--format", "json", "--since", "2000-01-01"]);
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let listed: Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(listed[0]["run_id"], run_id.as_str());
    assert_eq!(listed[0]["done"], 3);
    let none = sweeper(&e, &["runs", "--since", "2999-01-01"]);
    assert_eq!((none.code, none.stdout.as_str()), (Some(0), ""));

    // An unknown run is bad input.
    let unknown = sweeper(&e, &["undo", "20000101T000000Z-00000000"]);
    assert_eq!(unknown.code, Some(2), "{}", unknown.stderr);
    assert!(
        unknown
            .stderr
            .contains("no journal records for run 20000101T000000Z-00000000 under s3://iam-sweeper-journal/journal/123456789012/runs/"),
        "{}",
        unknown.stderr
    );
}
