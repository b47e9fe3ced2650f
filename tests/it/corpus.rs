//! The bad-input corpus in `tests/corpus/`: every malformed credential report, invalid
//! environment and refused event ends the run with a clear error, and no credential is touched.
//!
//! Each kind runs against one emulator seeded with credentials that an enforcing run would act
//! on, so a missing check would show as a changed IAM state or a mutating call, not only as a
//! wrong exit status. Each kind ends with a control run (the same emulator, valid input) that
//! does act, proving the seeded state had teeth.
//!
//! - `reports/`: the emulator serves each file as the credential report (`/_seed/report_override`);
//!   `invoke` in enforce mode must exit 1 saying it could not read the report, print no result
//!   and call nothing past GetCredentialReport. `audit FILE` must exit 2 with the same error.
//! - `env/`: each `.env` file on top of `MODE=enforce` must exit 2 naming the variable, before any
//!   AWS call.
//! - `events/`: each file as `invoke --event` must exit 2 saying why, before any AWS call.
//!
//! Expectations live beside the files in `expected.tsv` (see `tests/corpus/README.md`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::emulator::{Emulator, Run, sweeper_env, ts};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_iam-sweeper");

/// IAM calls that change a credential.
const MUTATING: [&str; 4] = [
    "IAM.UpdateAccessKey",
    "IAM.DeleteAccessKey",
    "IAM.DeleteLoginProfile",
    "IAM.CreateLoginProfile",
];

fn corpus(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind)
}

/// The rows of `KIND/expected.tsv`, without comments and blank lines.
fn expectations(kind: &str) -> Vec<Vec<String>> {
    let path = corpus(kind).join("expected.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// Every file of the corpus directory has a row and every row a file.
fn assert_listed(kind: &str, rows: &[Vec<String>]) {
    let mut files: Vec<String> = std::fs::read_dir(corpus(kind))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "expected.tsv" && n != "README.md")
        .collect();
    files.sort();
    let mut listed: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "tests/corpus/{kind}/expected.tsv and the files differ"
    );
}

fn fragments(column: &str) -> Vec<&str> {
    column.split(" && ").collect()
}

/// Failures collected over a whole corpus, reported together so one run shows every bad case.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, case: &str, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(format!("{case}: {}", what()));
        }
    }

    fn stderr_has(&mut self, case: &str, run: &Run, wanted: &[&str]) {
        for w in wanted {
            self.check(case, run.stderr.contains(w), || {
                format!("stderr lacks {w:?}:\n{}", run.stderr)
            });
        }
    }

    fn assert_none(self, kind: &str, cases: usize) {
        assert!(
            self.0.is_empty(),
            "{} of {cases} {kind} case(s) failed:\n\n{}",
            self.0.len(),
            self.0.join("\n\n")
        );
    }
}

fn ago(d: Duration) -> String {
    ts(Utc::now() - d)
}

/// Users an enforcing run acts on: a stale key, a stale console password, an initial-setup key
/// past its grace period; and one healthy user.
fn stale_users() -> Vec<Value> {
    let d = Duration::days;
    vec![
        json!({"name": "stale-key", "created": ago(d(400)),
               "keys": [{"created": ago(d(399)), "status": "Active", "last_used": ago(d(120))}]}),
        json!({"name": "stale-password", "created": ago(d(400)), "password": {"last_used": ago(d(100))}}),
        json!({"name": "setup-key", "created": ago(d(20)), "password": {"last_used": ago(d(1))},
               "keys": [{"created": ago(d(20) - Duration::seconds(4)), "status": "Active", "last_used": null}]}),
        json!({"name": "healthy", "created": ago(d(400)), "password": {"last_used": ago(d(2))},
               "keys": [{"created": ago(d(399)), "status": "Active", "last_used": ago(d(1))}]}),
    ]
}

const USERS: [&str; 4] = ["stale-key", "stale-password", "setup-key", "healthy"];

/// Per user: (access key ID, status) of every key, and whether a login profile exists.
type State = Vec<(String, Vec<(String, String)>, bool)>;

async fn iam_state(e: &Emulator) -> State {
    e.snapshot(&USERS).await
}

/// The IAM state, then a clean call log, so the log shows only what the run under test calls.
async fn before_run(e: &Emulator) -> State {
    let state = iam_state(e).await;
    e.post("/_seed/calls/reset", &json!({}));
    state
}

/// API calls served since the last reset, as `SERVICE.Action` names.
fn called(e: &Emulator) -> Vec<String> {
    e.calls()
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The checks every refused case shares: an error, no result on stdout, nothing changed.
async fn nothing_touched(
    f: &mut Failures,
    case: &str,
    e: &Emulator,
    run: &Run,
    code: i32,
    before: &State,
    allowed_calls: &[&str],
) {
    f.check(case, run.code == Some(code), || {
        format!(
            "exit {:?}, expected {code}; stderr:\n{}",
            run.code, run.stderr
        )
    });
    f.check(case, run.stdout.trim().is_empty(), || {
        format!("printed a result:\n{}", run.stdout)
    });
    let calls = called(e);
    f.check(
        case,
        !calls.iter().any(|c| MUTATING.contains(&c.as_str())),
        || format!("made a mutating IAM call: {calls:?}"),
    );
    f.check(
        case,
        calls.iter().all(|c| allowed_calls.contains(&c.as_str())),
        || format!("called more than {allowed_calls:?}: {calls:?}"),
    );
    let after = iam_state(e).await;
    f.check(case, &after == before, || {
        format!("IAM state changed:\nbefore {before:?}\nafter  {after:?}")
    });
}

/// A control run: valid input on the same emulator acts on the seeded users.
async fn control_run_acts(e: &Emulator, run: &Run) {
    assert_eq!(run.code, Some(0), "control run failed:\n{}", run.stderr);
    let done = run.json()["action_counts"]["done"].as_u64();
    assert_eq!(done, Some(3), "control run:\n{}", run.stdout);
    let state = iam_state(e).await;
    assert_eq!(state[0].1[0].1, "Inactive", "stale key not deactivated");
    assert!(!state[1].2, "stale password not deleted");
    assert!(state[2].1.is_empty(), "initial-setup key not deleted");
}

/// `iam-sweeper invoke --event FILE` against the emulator: the event file exactly as written.
fn invoke_with_event_file(e: &Emulator, event: &Path, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("invoke").arg("--event").arg(event);
    sweeper_env(&mut cmd, &e.endpoint());
    cmd.envs(env.iter().copied());
    Run::from(cmd.output().expect("run iam-sweeper"))
}

/// `iam-sweeper audit FILE` with none of the caller's policy variables.
fn audit(file: &Path) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("audit").arg(file);
    for v in iam_sweeper::core::config::VARIABLES {
        cmd.env_remove(v);
    }
    Run::from(cmd.output().expect("run iam-sweeper audit"))
}

#[tokio::test]
async fn malformed_reports_fail_the_run_and_touch_nothing() {
    let rows = expectations("reports");
    assert_listed("reports", &rows);
    assert!(rows.len() >= 30, "only {} report cases", rows.len());
    let e = Emulator::start();
    e.seed(stale_users());
    let topic = e.topic("sweeper").await;
    let env = [("MODE", "enforce"), ("SNS_TOPIC_ARN", topic.as_str())];
    let mut f = Failures::default();
    for row in &rows {
        let (case, audit_says) = (row[0].as_str(), fragments(&row[1]));
        let path = corpus("reports").join(case);
        let bytes = std::fs::read(&path).unwrap();

        let offline = audit(&path);
        f.check(case, offline.code == Some(2), || {
            format!("audit exit {:?}, expected 2", offline.code)
        });
        f.check(case, offline.stdout.is_empty(), || {
            format!("audit printed:\n{}", offline.stdout)
        });
        f.stderr_has(case, &offline, &audit_says);

        let answer = e.post(
            "/_seed/report_override",
            &json!({ "content_b64": aws_smithy_types::base64::encode(&bytes) }),
        );
        assert_eq!(answer["override_bytes"], bytes.len(), "{case}: {answer}");
        let before = before_run(&e).await;
        let mails_before = e.sns_messages().len();
        let run = e.invoke(None, &env);
        let invoke_says = match row.get(2) {
            Some(instead) => fragments(instead),
            None => [vec!["could not read the credential report"], audit_says].concat(),
        };
        f.stderr_has(case, &run, &invoke_says);
        f.stderr_has(case, &run, &["nothing was done"]);
        nothing_touched(
            &mut f,
            case,
            &e,
            &run,
            1,
            &before,
            &[
                "IAM.GenerateCredentialReport",
                "IAM.GetCredentialReport",
                "SNS.Publish",
            ],
        )
        .await;
        // A human hears of it: one failure summary per run, saying nothing was touched.
        let published = e.sns_messages().split_off(mails_before);
        f.check(case, published.len() == 1, || {
            format!("expected one failure summary, got {published:?}")
        });
        if let Some((subject, body, _)) = published.first() {
            f.check(
                case,
                subject.contains("FAILED") && body.contains("Nothing was touched"),
                || format!("the summary does not say the run failed and touched nothing: {subject}\n{body}"),
            );
        }
    }
    f.assert_none("report", rows.len());

    e.post("/_seed/report_override", &json!({ "content_b64": null }));
    control_run_acts(&e, &e.invoke(None, &env)).await;
}

/// `KEY=VALUE` lines; blank lines and `#` comments skipped.
fn read_env_file(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: `{l}` is not KEY=VALUE", path.display()));
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

#[tokio::test]
async fn invalid_environments_stop_before_any_aws_call() {
    let rows = expectations("env");
    assert_listed("env", &rows);
    assert!(rows.len() >= 10, "only {} environment cases", rows.len());
    let e = Emulator::start();
    e.seed(stale_users());
    let topic = e.topic("sweeper").await;
    let mut f = Failures::default();
    for row in &rows {
        let case = row[0].as_str();
        let vars = read_env_file(&corpus("env").join(case));
        // Enforcing, with a topic, unless the case itself sets these: what a missing check
        // would let run.
        let mut env: Vec<(&str, &str)> = vec![("MODE", "enforce"), ("SNS_TOPIC_ARN", &topic)];
        env.extend(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let before = before_run(&e).await;
        let run = e.invoke(None, &env);
        f.stderr_has(case, &run, &["invalid configuration, nothing was done"]);
        f.stderr_has(case, &run, &fragments(&row[1]));
        nothing_touched(&mut f, case, &e, &run, 2, &before, &[]).await;
    }
    f.assert_none("environment", rows.len());

    let run = e.invoke(None, &[("MODE", "enforce"), ("SNS_TOPIC_ARN", &topic)]);
    control_run_acts(&e, &run).await;
}

#[tokio::test]
async fn refused_events_stop_before_any_aws_call() {
    let rows = expectations("events");
    assert_listed("events", &rows);
    assert!(rows.len() >= 10, "only {} event cases", rows.len());
    let e = Emulator::start();
    e.seed(stale_users());
    let topic = e.topic("sweeper").await;
    let mut f = Failures::default();
    for row in &rows {
        let (case, mode) = (row[0].as_str(), row[1].as_str());
        let before = before_run(&e).await;
        let run = invoke_with_event_file(
            &e,
            &corpus("events").join(case),
            &[("MODE", mode), ("SNS_TOPIC_ARN", &topic)],
        );
        f.stderr_has(case, &run, &fragments(&row[2]));
        nothing_touched(&mut f, case, &e, &run, 2, &before, &[]).await;
    }
    f.assert_none("event", rows.len());

    let scheduled = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/scheduled.json");
    let run = invoke_with_event_file(
        &e,
        &scheduled,
        &[("MODE", "enforce"), ("SNS_TOPIC_ARN", &topic)],
    );
    control_run_acts(&e, &run).await;
}
