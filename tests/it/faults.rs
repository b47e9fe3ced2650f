//! End to end with faults: the real binary (`iam-sweeper invoke`, or the Lambda runtime for the
//! deadline) talks to the emulator through the fault proxy (`support::proxy`), which throttles,
//! fails, delays, cuts short or thins out chosen IAM answers. Each test seeds aged users, runs
//! the binary in enforce mode, then reads IAM state back from the emulator directly (never
//! through the proxy) and checks the JSON result, the exit status and the SNS mail against the
//! contract (docs/rules.md, "Enforcement" and "Names and exemptions").
//!
//! Tests are named after the class of fault they cover: `incomplete_*` (an answer missing a
//! member or cut short never lets an action through), `lost_answer_*` (a change whose answer was
//! lost is still `done`), `deadline_*`, `silent_failure_*`, `throttling_*`, `names_*`,
//! `stale_reads_*`, `safer_events_*`. Checks within a test are collected and reported together,
//! so one failure shows everything that was observed.

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::support::emulator::{Emulator, Run, ts};
use crate::support::proxy::{Proxy, RUN_LIMIT, run_within};

fn ago(d: Duration) -> String {
    ts(Utc::now() - d)
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

/// An active key unused for 120 days (due for deactivation) and no password.
fn stale_key_user(name: &str) -> Value {
    json!({"name": name, "created": ago(days(400)),
           "keys": [{"created": ago(days(399)), "status": "Active", "last_used": ago(days(120))}]})
}

/// A console password unused for 100 days (due for deletion) and no key.
fn stale_password_user(name: &str) -> Value {
    json!({"name": name, "created": ago(days(400)), "password": {"last_used": ago(days(100))}})
}

/// A never-used key created with its console user 20 days ago (initial-setup key, deleted).
fn setup_key_user(name: &str) -> Value {
    json!({"name": name, "created": ago(days(20)), "password": {"last_used": ago(days(1))},
           "keys": [{"created": ago(days(20) - Duration::seconds(4)), "status": "Active", "last_used": null}]})
}

/// Checks collected over a test and reported together at its end.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    fn finish(self, context: &str) {
        eprintln!("observed: {context}");
        assert!(
            self.0.is_empty(),
            "{} check(s) failed:\n- {}\n{context}",
            self.0.len(),
            self.0.join("\n- ")
        );
    }
}

/// The emulator, seeded, with an SNS topic, and the proxy in front of it.
struct Bench {
    e: Emulator,
    p: Proxy,
    topic: String,
    seeded: Value,
}

impl Bench {
    async fn start(users: Vec<Value>) -> Bench {
        let e = Emulator::start();
        let seeded = e.seed(users);
        let topic = e.topic("sweeper").await;
        let p = Proxy::start(&e);
        Bench {
            e,
            p,
            topic,
            seeded,
        }
    }

    /// The ID of `user`'s key in seed order (0 = the first seeded key).
    fn key_id(&self, user: &str, i: usize) -> String {
        self.seeded["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == user)
            .unwrap_or_else(|| panic!("{user} was not seeded"))["keys"][i]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The environment of an enforcing deployment publishing to the topic, per-user reads.
    fn env<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = vec![
            ("MODE", "enforce"),
            ("SNS_TOPIC_ARN", self.topic.as_str()),
            ("PAGED_READS", "false"),
        ];
        env.extend_from_slice(extra);
        env
    }

    /// Runs `iam-sweeper invoke` in enforce mode through the proxy.
    fn enforce(&self, extra: &[(&str, &str)]) -> (Run, StdDuration) {
        self.p.invoke(None, &self.env(extra))
    }

    /// The one summary SNS received, if exactly one.
    fn mail(&self) -> Option<(String, String, Value)> {
        let mut msgs = self.e.sns_messages();
        (msgs.len() == 1).then(|| msgs.remove(0))
    }

    /// Operations that change IAM, as served by the emulator.
    fn changes(&self) -> Vec<String> {
        let calls = self.e.calls();
        [
            "IAM.UpdateAccessKey",
            "IAM.DeleteAccessKey",
            "IAM.DeleteLoginProfile",
        ]
        .into_iter()
        .filter(|op| calls.get(*op).is_some())
        .map(str::to_string)
        .collect()
    }
}

/// The run's JSON result, or `null` when stdout is not one.
fn result_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or(Value::Null)
}

/// The action outcome for `user`'s `credential` (`null` when there is none).
fn action(result: &Value, user: &str, credential: &str) -> Value {
    result["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["user"] == user && a["credential"] == credential)
        .cloned()
        .unwrap_or(Value::Null)
}

/// `status (detail)` of an action, for messages.
fn seen(a: &Value) -> String {
    if a.is_null() {
        return "no action in the result".into();
    }
    format!("{} ({})", a["status"], a["detail"])
}

fn context(run: &Run, elapsed: StdDuration) -> String {
    let result = result_of(run);
    let actions: Vec<String> = result["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| format!("{} {}: {}", a["user"], a["credential"], seen(a)))
        .collect();
    format!(
        "exit {:?} after {elapsed:?}; actions: {actions:#?}; problems: {}\nstderr (tail): {}",
        run.code,
        result["problems"],
        run.stderr
            .lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .join("\n")
    )
}

// ---------------------------------------------------------------------------------------------
// a. Incomplete answers never let an action through.
// ---------------------------------------------------------------------------------------------

/// A password used since the report (live `PasswordLastUsed` 5 minutes ago), whose `GetUser`
/// answer loses `PasswordLastUsed` (dropped, or the document cut just before it): the answer
/// would read as "never used", so the password would go. It must stay, and the action fail.
#[tokio::test]
async fn incomplete_get_user_never_deletes_a_password() {
    let b = Bench::start(vec![
        stale_password_user("pw-dropped"),
        stale_password_user("pw-cut"),
    ])
    .await;
    b.e.post(
        "/_seed/after_report",
        &json!({"touch_passwords": [
            {"user": "pw-dropped", "last_used": ago(Duration::minutes(5))},
            {"user": "pw-cut", "last_used": ago(Duration::minutes(5))}]}),
    );
    b.p.rules(json!([
        {"op": "GetUser", "match": "UserName=pw-dropped", "action": "drop_member", "member": "PasswordLastUsed"},
        {"op": "GetUser", "match": "UserName=pw-cut", "action": "truncate", "before": "<PasswordLastUsed>"},
    ]));
    let (run, took) = b.enforce(&[]);
    let result = result_of(&run);
    let mut c = Checks::default();
    for user in ["pw-dropped", "pw-cut"] {
        c.check(b.e.has_password(user).await, || {
            format!("{user}: the password used 5 minutes ago was deleted")
        });
        let a = action(&result, user, "password");
        c.check(a["status"] == "failed", || {
            format!("{user}: expected failed, saw {}", seen(&a))
        });
    }
    c.check(b.p.fired("GetUser") >= 2, || {
        "the GetUser faults never fired".into()
    });
    c.check(run.code == Some(1), || {
        "a failed action must fail the run (exit 1)".into()
    });
    c.finish(&context(&run, took));
}

/// `GetLoginProfile` cut short: before `<LoginProfile>` (reads as "no password": `gone`) and
/// before its `<CreateDate>` (the SDK fills in 1970). Neither may delete the password or count
/// as already done: the action fails.
#[tokio::test]
async fn incomplete_get_login_profile_never_deletes_a_password() {
    let b = Bench::start(vec![
        stale_password_user("lp-no-profile"),
        stale_password_user("lp-no-date"),
    ])
    .await;
    b.p.rules(json!([
        {"op": "GetLoginProfile", "match": "UserName=lp-no-profile", "action": "truncate", "before": "<LoginProfile>"},
        {"op": "GetLoginProfile", "match": "UserName=lp-no-date", "action": "truncate", "before": "<CreateDate>"},
    ]));
    let (run, took) = b.enforce(&[]);
    let result = result_of(&run);
    let mut c = Checks::default();
    for user in ["lp-no-profile", "lp-no-date"] {
        c.check(b.e.has_password(user).await, || {
            format!("{user}: the password was deleted on a cut answer")
        });
        let a = action(&result, user, "password");
        c.check(a["status"] == "failed", || {
            format!("{user}: expected failed, saw {}", seen(&a))
        });
    }
    c.check(b.p.fired("GetLoginProfile") >= 2, || {
        "the GetLoginProfile faults never fired".into()
    });
    c.check(run.code == Some(1), || {
        "a failed action must fail the run (exit 1)".into()
    });
    c.finish(&context(&run, took));
}

/// A user tagged exempt whose `ListUserTags` answer is cut just before its first tag, and one
/// whose answer lacks the (required) `Tags` member: both read as "no tags", which would lose the
/// exemption. Their `GetUser` answers, which also carry tags, lose their (optional) `Tags` too,
/// so no complete answer shows the exemption. The key must stay active and the action fail.
/// (Dropping only the `member` elements leaves `<Tags></Tags>`, a complete answer
/// indistinguishable from an untagged user, so it is not a case the code can refuse.)
#[tokio::test]
async fn incomplete_list_user_tags_never_loses_an_exemption() {
    let tagged = |name: &str| {
        let mut u = stale_key_user(name);
        u["tags"] = json!({"iam-sweeper:exempt": "true", "team": "ops"});
        u
    };
    let b = Bench::start(vec![tagged("tags-cut"), tagged("tags-missing")]).await;
    b.p.rules(json!([
        {"op": "ListUserTags", "match": "UserName=tags-cut", "action": "truncate", "before": "<member>"},
        {"op": "ListUserTags", "match": "UserName=tags-missing", "action": "drop_member", "member": "Tags"},
        {"op": "GetUser", "match": "UserName=tags-", "action": "drop_member", "member": "Tags"},
    ]));
    let (run, took) = b.enforce(&[]);
    let result = result_of(&run);
    let mut c = Checks::default();
    for user in ["tags-cut", "tags-missing"] {
        let status = b.e.key_status(user).await;
        c.check(status.iter().all(|(_, s)| s == "Active"), || {
            format!("{user}: the exempt user's key was changed: {status:?}")
        });
        let a = action(&result, user, "access_key_1");
        c.check(a["status"] == "failed", || {
            format!("{user}: expected failed, saw {}", seen(&a))
        });
    }
    c.check(b.p.fired("ListUserTags") >= 2, || {
        "the ListUserTags faults never fired".into()
    });
    c.check(run.code == Some(1), || {
        "a failed action must fail the run (exit 1)".into()
    });
    c.finish(&context(&run, took));
}

/// A key used 5 minutes ago (after the report), whose `GetAccessKeyLastUsed` answer loses
/// `LastUsedDate` (dropped, or cut just before it): it would read as "never used". The key must
/// stay active and the action fail.
#[tokio::test]
async fn incomplete_get_access_key_last_used_never_deactivates_a_key_in_use() {
    let b = Bench::start(vec![
        stale_key_user("use-dropped"),
        stale_key_user("use-cut"),
    ])
    .await;
    b.e.post(
        "/_seed/after_report",
        &json!({"touch_keys": [
            {"user": "use-dropped", "slot": 1, "last_used": ago(Duration::minutes(5))},
            {"user": "use-cut", "slot": 1, "last_used": ago(Duration::minutes(5))}]}),
    );
    b.p.rules(json!([
        {"op": "GetAccessKeyLastUsed", "match": format!("AccessKeyId={}", b.key_id("use-dropped", 0)),
         "action": "drop_member", "member": "LastUsedDate"},
        {"op": "GetAccessKeyLastUsed", "match": format!("AccessKeyId={}", b.key_id("use-cut", 0)),
         "action": "truncate", "before": "<LastUsedDate>"},
    ]));
    let (run, took) = b.enforce(&[]);
    let result = result_of(&run);
    let mut c = Checks::default();
    for user in ["use-dropped", "use-cut"] {
        let status = b.e.key_status(user).await;
        c.check(status.iter().all(|(_, s)| s == "Active"), || {
            format!("{user}: the key used 5 minutes ago was changed: {status:?}")
        });
        let a = action(&result, user, "access_key_1");
        c.check(a["status"] == "failed", || {
            format!("{user}: expected failed, saw {}", seen(&a))
        });
    }
    c.check(b.p.fired("GetAccessKeyLastUsed") >= 2, || {
        "the GetAccessKeyLastUsed faults never fired".into()
    });
    c.check(run.code == Some(1), || {
        "a failed action must fail the run (exit 1)".into()
    });
    c.finish(&context(&run, took));
}

/// `ListAccessKeys` cut short: before the second key (one key listed of two) and before the
/// first (none listed). A cut list could hide a key created the same second, so nothing is
/// matched on it: no key changes, and each planned action fails (not "no live key").
#[tokio::test]
async fn incomplete_list_access_keys_guesses_nothing() {
    let b = Bench::start(vec![
        json!({"name": "two-keys", "created": ago(days(400)), "keys": [
            {"created": ago(days(399)), "status": "Active", "last_used": ago(days(200))},
            {"created": ago(days(300)), "status": "Active", "last_used": ago(days(150))}]}),
        stale_key_user("no-keys-listed"),
    ])
    .await;
    b.p.rules(json!([
        {"op": "ListAccessKeys", "match": "UserName=two-keys", "action": "truncate", "before": "<member>", "nth": 2},
        {"op": "ListAccessKeys", "match": "UserName=no-keys-listed", "action": "truncate", "before": "<member>"},
    ]));
    let (run, took) = b.enforce(&[]);
    let result = result_of(&run);
    let mut c = Checks::default();
    for (user, credential) in [
        ("two-keys", "access_key_1"),
        ("two-keys", "access_key_2"),
        ("no-keys-listed", "access_key_1"),
    ] {
        let a = action(&result, user, credential);
        c.check(a["status"] == "failed", || {
            format!("{user} {credential}: expected failed, saw {}", seen(&a))
        });
    }
    for user in ["two-keys", "no-keys-listed"] {
        let status = b.e.key_status(user).await;
        c.check(status.iter().all(|(_, s)| s == "Active"), || {
            format!("{user}: a key was changed on a cut ListAccessKeys answer: {status:?}")
        });
    }
    c.check(b.p.fired("ListAccessKeys") >= 2, || {
        "the ListAccessKeys faults never fired".into()
    });
    c.finish(&context(&run, took));
}

// ---------------------------------------------------------------------------------------------
// b. Lost answers: the change happened, so it is `done`.
// ---------------------------------------------------------------------------------------------

/// Checks shared by the lost-answer tests: every `(user, credential, undo)` is done, counted,
/// and in the mail with its undo line; the deletes' details say the answer was lost.
fn lost_answer_checks(
    c: &mut Checks,
    b: &Bench,
    run: &Run,
    expected: &[(&str, &str, String, bool)],
) {
    let result = result_of(run);
    for (user, credential, undo, says_lost) in expected {
        let a = action(&result, user, credential);
        c.check(a["status"] == "done", || {
            format!("{user} {credential}: expected done, saw {}", seen(&a))
        });
        if *says_lost {
            let detail = a["detail"].as_str().unwrap_or_default().to_lowercase();
            c.check(detail.contains("lost"), || {
                format!(
                    "{user} {credential}: the detail does not say the answer was lost: {}",
                    seen(&a)
                )
            });
        }
        let has_undo = a["undo"]
            .as_str()
            .is_some_and(|u| u.contains(undo.as_str()));
        c.check(has_undo, || {
            format!(
                "{user} {credential}: undo is {}, expected {undo}",
                a["undo"]
            )
        });
    }
    let n = expected.len();
    c.check(result["action_counts"]["done"] == n, || {
        format!(
            "action_counts.done is {}, expected {n}",
            result["action_counts"]
        )
    });
    c.check(run.code == Some(0), || {
        "every action is done: exit 0".into()
    });
    match b.mail() {
        None => c.check(false, || {
            format!("expected one mail, saw {:?}", b.e.sns_messages())
        }),
        Some((subject, body, attrs)) => {
            c.check(subject.contains(&format!("{n} done")), || {
                format!("the subject does not count {n} done: {subject}")
            });
            c.check(!subject.contains(" 0 done"), || {
                format!("reported as 0 done: {subject}")
            });
            c.check(
                attrs["actions_done"]["Value"].as_str() == Some(n.to_string().as_str()),
                || format!("attribute actions_done: {}", attrs["actions_done"]),
            );
            c.check(body.contains(&format!("ACTIONS TAKEN [{n}]")), || {
                format!("the mail does not list {n} actions taken:\n{body}")
            });
            for (user, _, undo, _) in expected {
                let undone = body
                    .lines()
                    .any(|l| l.trim_start().starts_with("undo:") && l.contains(undo.as_str()));
                c.check(undone, || {
                    format!("the mail has no undo line for {user}:\n{body}")
                });
            }
        }
    }
}

/// `DeleteAccessKey` applied by IAM, its answer lost (connection reset; a 500 after the fact):
/// the SDK's retry then finds the key gone. This run deleted it: `done`, not `already_done`.
#[tokio::test]
async fn lost_answer_to_delete_access_key_is_done() {
    let b = Bench::start(vec![
        setup_key_user("setup-reset"),
        setup_key_user("setup-500"),
    ])
    .await;
    b.p.rules(json!([
        {"op": "DeleteAccessKey", "match": "UserName=setup-reset", "action": "reset_after", "times": 1},
        {"op": "DeleteAccessKey", "match": "UserName=setup-500", "action": "error_after", "times": 1},
    ]));
    let (run, took) = b.enforce(&[]);
    let mut c = Checks::default();
    for user in ["setup-reset", "setup-500"] {
        c.check(b.e.key_status(user).await.is_empty(), || {
            format!("{user}: key not deleted")
        });
    }
    c.check(b.p.fired("DeleteAccessKey") == 2, || {
        "the faults did not fire".into()
    });
    let undo = |u: &str| format!("aws iam create-access-key --user-name {u}");
    lost_answer_checks(
        &mut c,
        &b,
        &run,
        &[
            ("setup-reset", "access_key_1", undo("setup-reset"), true),
            ("setup-500", "access_key_1", undo("setup-500"), true),
        ],
    );
    c.finish(&context(&run, took));
}

/// `UpdateAccessKey Inactive` applied, its answer lost: the key is inactive, the action `done`
/// with its undo. (The retry of an update succeeds again, so the run may not know the first
/// answer was lost: the detail is not checked.)
#[tokio::test]
async fn lost_answer_to_update_access_key_is_done() {
    let b = Bench::start(vec![stale_key_user("key-reset"), stale_key_user("key-500")]).await;
    b.p.rules(json!([
        {"op": "UpdateAccessKey", "match": "UserName=key-reset", "action": "reset_after", "times": 1},
        {"op": "UpdateAccessKey", "match": "UserName=key-500", "action": "error_after", "times": 1},
    ]));
    let (run, took) = b.enforce(&[]);
    let mut c = Checks::default();
    let mut expected = Vec::new();
    for user in ["key-reset", "key-500"] {
        let id = b.key_id(user, 0);
        let status = b.e.key_status(user).await;
        c.check(status == [(id.clone(), "Inactive".to_string())], || {
            format!("{user}: key not deactivated: {status:?}")
        });
        let undo = format!(
            "aws iam update-access-key --user-name {user} --access-key-id {id} --status Active"
        );
        expected.push((user, "access_key_1", undo, false));
    }
    c.check(b.p.fired("UpdateAccessKey") == 2, || {
        "the faults did not fire".into()
    });
    lost_answer_checks(&mut c, &b, &run, &expected);
    c.finish(&context(&run, took));
}

/// `DeleteLoginProfile` applied, its answer lost: the retry finds no login profile. This run
/// deleted it: `done` with the undo, the detail says the answer was lost.
#[tokio::test]
async fn lost_answer_to_delete_login_profile_is_done() {
    let b = Bench::start(vec![
        stale_password_user("pw-reset"),
        stale_password_user("pw-500"),
    ])
    .await;
    b.p.rules(json!([
        {"op": "DeleteLoginProfile", "match": "UserName=pw-reset", "action": "reset_after", "times": 1},
        {"op": "DeleteLoginProfile", "match": "UserName=pw-500", "action": "error_after", "code": "InternalFailure", "times": 1},
    ]));
    let (run, took) = b.enforce(&[]);
    let mut c = Checks::default();
    for user in ["pw-reset", "pw-500"] {
        c.check(!b.e.has_password(user).await, || {
            format!("{user}: password not deleted")
        });
    }
    c.check(b.p.fired("DeleteLoginProfile") == 2, || {
        "the faults did not fire".into()
    });
    let undo = |u: &str| {
        format!(
            "aws iam create-login-profile --user-name {u} --password '<new>' --password-reset-required"
        )
    };
    lost_answer_checks(
        &mut c,
        &b,
        &run,
        &[
            ("pw-reset", "password", undo("pw-reset"), true),
            ("pw-500", "password", undo("pw-500"), true),
        ],
    );
    c.finish(&context(&run, took));
}

// ---------------------------------------------------------------------------------------------
// c. Deadline: the run ends, and publishes, in time.
// ---------------------------------------------------------------------------------------------

/// In Lambda with 45 s left, slow IAM: the re-check reads take 9 s each and `UpdateAccessKey`
/// hangs for 12 s (past the SDK's 10 s attempt timeout; the proxy still forwards each attempt,
/// so IAM applies it). The invocation must post its result before the deadline (else Lambda
/// kills it and no mail goes out) and every change IAM shows afterwards must be in the published
/// mail. (The budget rule: an action whose calls at their timeout plus the publish do not fit in
/// the time left is not started.)
#[tokio::test]
async fn deadline_slow_iam_never_leaves_a_change_unpublished() {
    use crate::lambda_runtime::{RuntimeApi, lambda_process, lines, scheduled_event, stop};
    let b = Bench::start(vec![stale_key_user("slow-a"), stale_key_user("slow-b")]).await;
    b.p.rules(json!([
        {"op": "ListAccessKeys", "action": "delay", "seconds": 9},
        {"op": "GetAccessKeyLastUsed", "action": "delay", "seconds": 9},
        {"op": "UpdateAccessKey", "action": "delay", "seconds": 12},
        {"op": "DeleteAccessKey", "action": "delay", "seconds": 12},
    ]));
    let deadline_in = StdDuration::from_secs(45);
    let api = RuntimeApi::start_with_deadline(scheduled_event(), deadline_in);
    let mut child = lambda_process(&api, &b.p.endpoint(), &b.env(&[]));
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    let (_, posted) = api.first_post_within(&mut child, deadline_in + StdDuration::from_secs(12));
    let posted_at = Instant::now();
    let handed_out = api
        .handed_out
        .lock()
        .unwrap()
        .expect("the event was handed out");
    std::thread::sleep(StdDuration::from_millis(300));
    let (_, stderr) = stop(child, out, err);
    b.p.wait_idle(StdDuration::from_secs(30));

    let mut c = Checks::default();
    let took = posted_at - handed_out;
    c.check(took < deadline_in, || {
        format!("the invocation posted its result {took:?} after it began, past the {deadline_in:?} deadline")
    });
    let mail = b.mail();
    c.check(mail.is_some(), || {
        format!("expected one mail, saw {:?}", b.e.sns_messages())
    });
    let body = mail.map(|(_, body, _)| body).unwrap_or_default();
    for user in ["slow-a", "slow-b"] {
        let id = b.key_id(user, 0);
        let status = b.e.key_status(user).await;
        let changed = status != [(id.clone(), "Active".to_string())];
        c.check(!changed || body.contains(&id), || {
            format!("{user}: IAM shows {status:?} but the mail does not mention key {id}")
        });
    }
    c.finish(&format!(
        "posted: {posted:?}\nstderr (tail): {}",
        stderr
            .iter()
            .rev()
            .take(6)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    ));
}

/// `REPORT_WAIT_SECONDS=2` and `GenerateCredentialReport` throttled for good: the wait (the SDK's
/// own retries included) ends after about 2 s, the run fails saying the report was not
/// available, and the failure summary is still published.
#[tokio::test]
async fn deadline_report_wait_ends_in_time_when_throttled_forever() {
    let b = Bench::start(vec![stale_key_user("waiting")]).await;
    b.p.rules(json!([{"op": "GenerateCredentialReport", "action": "throttle"}]));
    let (run, took) = b.enforce(&[("REPORT_WAIT_SECONDS", "2")]);
    let mut c = Checks::default();
    c.check(took < StdDuration::from_secs(10), || {
        format!("a 2 s report wait took {took:?}")
    });
    c.check(run.code == Some(1), || "the run must fail (exit 1)".into());
    let said = format!("{}{}", run.stderr, run.stdout).to_lowercase();
    c.check(
        said.contains("credential report") && said.contains("not available"),
        || "the error does not say the credential report was not available".into(),
    );
    let mail = b.mail();
    c.check(
        mail.as_ref().is_some_and(|(s, _, _)| s.contains("FAILED")),
        || format!("expected one FAILED summary, saw {:?}", b.e.sns_messages()),
    );
    c.check(b.changes().is_empty(), || {
        format!("IAM was changed: {:?}", b.changes())
    });
    c.finish(&context(&run, took));
}

/// A `GenerateCredentialReport` that hangs (60 s) with `REPORT_WAIT_SECONDS=5`: the run gives up
/// after about 5 s, not after the SDK's 30 s operation timeout, and publishes its failure.
#[tokio::test]
async fn deadline_hung_report_generation_ends_in_time() {
    let b = Bench::start(vec![stale_key_user("waiting")]).await;
    b.p.rules(json!([{"op": "GenerateCredentialReport", "action": "delay", "seconds": 60}]));
    let (run, took) = b.enforce(&[("REPORT_WAIT_SECONDS", "5")]);
    let mut c = Checks::default();
    c.check(took < StdDuration::from_secs(20), || {
        format!("a 5 s report wait took {took:?}")
    });
    c.check(run.code == Some(1), || "the run must fail (exit 1)".into());
    c.check(
        run.stderr.to_lowercase().contains("credential report"),
        || "the error does not name the credential report".into(),
    );
    c.check(
        b.mail().is_some_and(|(s, _, _)| s.contains("FAILED")),
        || format!("expected one FAILED summary, saw {:?}", b.e.sns_messages()),
    );
    c.finish(&context(&run, took));
}

// ---------------------------------------------------------------------------------------------
// d. Silent failures: every failed run says so to a human.
// ---------------------------------------------------------------------------------------------

/// The report cannot be had (`AccessDenied` on `GenerateCredentialReport`): nothing is touched,
/// `invoke` exits non-zero, and a summary is still published whose subject says `FAILED` and
/// whose body says nothing was touched.
#[tokio::test]
async fn silent_failure_report_access_denied_still_publishes_a_failed_summary() {
    let b = Bench::start(vec![
        stale_key_user("denied"),
        stale_password_user("denied-pw"),
    ])
    .await;
    b.p.rules(json!([
        {"op": "GenerateCredentialReport", "action": "error_before", "status": 403, "code": "AccessDenied"},
    ]));
    let (run, took) = b.enforce(&[]);
    let mut c = Checks::default();
    c.check(run.code.is_some_and(|code| code != 0), || {
        "invoke must exit non-zero".into()
    });
    c.check(b.changes().is_empty(), || {
        format!("IAM was changed: {:?}", b.changes())
    });
    c.check(b.e.has_password("denied-pw").await, || {
        "a password was deleted".into()
    });
    match b.mail() {
        None => c.check(false, || {
            format!("no summary was published: {:?}", b.e.sns_messages())
        }),
        Some((subject, body, attrs)) => {
            c.check(subject.contains("FAILED"), || format!("subject: {subject}"));
            c.check(body.to_lowercase().contains("nothing"), || {
                format!("the body does not say nothing was touched:\n{body}")
            });
            c.check(body.contains("AccessDenied"), || {
                format!("the body does not say what failed:\n{body}")
            });
            c.check(attrs["status"]["Value"] == "failed", || {
                format!("attribute status: {}", attrs["status"])
            });
        }
    }
    c.finish(&context(&run, took));
}

// ---------------------------------------------------------------------------------------------
// e. Throttling that lasts.
// ---------------------------------------------------------------------------------------------

/// Every IAM operation throttled on its 1st, 4th, 7th… request (a third of all IAM calls, the
/// first attempt of each operation included), with one action at a time so a call's retry is
/// never throttled twice in a row: every planned action is still done, and the run (5 users, a
/// few dozen calls) still ends within 45 s: a throttled call is retried after a backoff of a
/// second or so, not after the retry strategy's 20 s maximum.
#[tokio::test]
async fn throttling_that_lasts_still_gets_every_action_done() {
    let b = Bench::start(vec![
        stale_key_user("t-key"),
        json!({"name": "t-never-used", "created": ago(days(400)),
               "keys": [{"created": ago(days(95)), "status": "Active", "last_used": null}]}),
        stale_password_user("t-password"),
        setup_key_user("t-setup"),
        json!({"name": "t-healthy", "created": ago(days(400)), "password": {"last_used": ago(days(2))},
               "keys": [{"created": ago(days(399)), "status": "Active", "last_used": ago(days(1))}]}),
    ])
    .await;
    b.p.rules(json!([
        {"op": "*", "service": "iam", "per_op": true, "every": 3, "action": "throttle"},
    ]));
    let limit = StdDuration::from_secs(45);
    let (run, took) =
        b.p.invoke_within(None, &b.env(&[("CONCURRENCY", "1")]), limit);
    let result = result_of(&run);
    let mut c = Checks::default();
    c.check(run.code.is_some(), || {
        format!("the run did not finish within {limit:?} (killed)")
    });
    for (user, credential) in [
        ("t-key", "access_key_1"),
        ("t-never-used", "access_key_1"),
        ("t-password", "password"),
        ("t-setup", "access_key_1"),
    ] {
        let a = action(&result, user, credential);
        c.check(a["status"] == "done", || {
            format!("{user} {credential}: expected done, saw {}", seen(&a))
        });
    }
    c.check(run.code == Some(0), || "exit 0".into());
    c.check(b.e.key_status("t-key").await[0].1 == "Inactive", || {
        "t-key not deactivated".into()
    });
    c.check(!b.e.has_password("t-password").await, || {
        "t-password kept".into()
    });
    c.check(b.e.key_status("t-setup").await.is_empty(), || {
        "t-setup key kept".into()
    });
    let iam: Vec<Value> =
        b.p.requests()
            .into_iter()
            .filter(|r| r["service"] == "iam")
            .collect();
    let throttled = iam.iter().filter(|r| r["did"] == "throttle").count();
    // How long the client waited after each throttle before its next request.
    let waits: Vec<f64> = iam
        .windows(2)
        .filter(|w| w[0]["did"] == "throttle")
        .map(|w| w[1]["t"].as_f64().unwrap_or(0.0) - w[0]["t"].as_f64().unwrap_or(0.0))
        .collect();
    let longest = waits.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "{throttled} of {} IAM requests throttled; waits after a throttle (s): {waits:.1?}",
        iam.len()
    );
    c.check(longest < 10.0, || {
        format!("the client waited up to {longest:.1} s after a throttle before its next request: {waits:.1?}")
    });
    c.check(throttled * 10 >= iam.len() * 3, || {
        format!(
            "only {throttled} of {} IAM requests were throttled",
            iam.len()
        )
    });
    c.check(b.mail().is_some(), || "no summary".into());
    c.finish(&context(&run, took));
}

// ---------------------------------------------------------------------------------------------
// f. Names.
// ---------------------------------------------------------------------------------------------

/// IAM user names are unique without regard to case: `EXEMPT_USERS=Break-Glass,SVC-*` protects
/// users `break-glass` and `svc-ci`.
#[tokio::test]
async fn names_exempt_users_match_without_regard_to_case() {
    let mut bg = stale_key_user("break-glass");
    bg["password"] = json!({"last_used": ago(days(100))});
    let b = Bench::start(vec![
        bg,
        stale_key_user("svc-ci"),
        stale_key_user("someone"),
    ])
    .await;
    let (run, took) = b.enforce(&[("EXEMPT_USERS", "Break-Glass,SVC-*")]);
    let result = result_of(&run);
    let mut c = Checks::default();
    for user in ["break-glass", "svc-ci"] {
        let status = b.e.key_status(user).await;
        c.check(status.iter().all(|(_, s)| s == "Active"), || {
            format!("{user}: exempt by name, but its key was changed: {status:?}")
        });
        let findings: Vec<&Value> = result["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["user"] == user)
            .collect();
        c.check(
            !findings.is_empty() && findings.iter().all(|f| f["exempt"] == true),
            || format!("{user}: findings not exempt: {findings:?}"),
        );
    }
    c.check(b.e.has_password("break-glass").await, || {
        "break-glass: its password was deleted".into()
    });
    c.check(b.e.key_status("someone").await[0].1 == "Inactive", || {
        "someone (not exempt) was not acted on".into()
    });
    c.finish(&context(&run, took));
}

/// A comma that belongs to a name is written `\,`: `EXEMPT_USERS=a\,b` protects user `a,b` and
/// neither `a` nor `b`. (moto writes the name into its report unquoted, breaking the CSV, so the
/// report is moto's own with that row's two fields quoted as AWS quotes them.)
#[tokio::test]
async fn names_a_comma_in_a_name_is_written_escaped() {
    let b = Bench::start(vec![
        stale_key_user("a,b"),
        stale_key_user("a"),
        stale_key_user("b"),
    ])
    .await;
    let (iam, _) = b.e.clients().await;
    for _ in 0..2 {
        iam.generate_credential_report()
            .send()
            .await
            .expect("GenerateCredentialReport");
    }
    let report = iam
        .get_credential_report()
        .send()
        .await
        .expect("GetCredentialReport");
    let csv = String::from_utf8(report.content.expect("content").into_inner()).expect("UTF-8");
    let arn = "arn:aws:iam::123456789012:user/a,b";
    let fixed = csv.replace(&format!("\na,b,{arn},"), &format!("\n\"a,b\",\"{arn}\","));
    assert_ne!(
        fixed, csv,
        "the a,b row was not found in moto's report:\n{csv}"
    );
    b.e.post(
        "/_seed/report_override",
        &json!({"content_b64": aws_smithy_types::base64::encode(fixed.as_bytes())}),
    );
    let (run, took) = b.enforce(&[("EXEMPT_USERS", "a\\,b")]);
    let mut c = Checks::default();
    c.check(run.code == Some(0), || "exit 0".into());
    let status = b.e.key_status("a,b").await;
    c.check(status.iter().all(|(_, s)| s == "Active"), || {
        format!("a,b: exempt by name, but its key was changed: {status:?}")
    });
    for user in ["a", "b"] {
        let status = b.e.key_status(user).await;
        c.check(status.iter().all(|(_, s)| s == "Inactive"), || {
            format!("{user}: not exempt, but its key was not deactivated: {status:?}")
        });
    }
    c.finish(&context(&run, took));
}

/// A pattern that matches no user in the report (a typo: `brake-glass`) is named in the summary.
#[tokio::test]
async fn names_a_pattern_matching_nobody_is_named_in_the_mail() {
    let b = Bench::start(vec![
        stale_key_user("break-glass"),
        stale_key_user("svc-ci"),
    ])
    .await;
    let (run, took) = b.p.invoke(
        None,
        &[
            ("SNS_TOPIC_ARN", b.topic.as_str()),
            ("EXEMPT_USERS", "brake-glass,svc-*"),
        ],
    );
    let mut c = Checks::default();
    c.check(run.code == Some(0), || "report mode run: exit 0".into());
    match b.mail() {
        None => c.check(false, || "no summary".into()),
        Some((_, body, _)) => c.check(body.contains("brake-glass"), || {
            format!("the pattern matching nobody is not named in the mail:\n{body}")
        }),
    }
    c.finish(&context(&run, took));
}

// ---------------------------------------------------------------------------------------------
// g. Stale reads.
// ---------------------------------------------------------------------------------------------

/// A user tagged exempt while the run is under way (during its `ListAccessKeys` re-check, held 3 s
/// by the proxy), after the report and any up-front tag read: the tags are read again as the last
/// thing before the action, so the key stays active. The other user's key is deactivated.
#[tokio::test]
async fn stale_reads_a_tag_added_before_the_action_is_honoured() {
    let b = Bench::start(vec![stale_key_user("late-tag"), stale_key_user("other")]).await;
    b.p.rules(json!([
        {"op": "ListAccessKeys", "match": "UserName=late-tag", "action": "delay", "seconds": 3},
    ]));
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = b.p.command(dir.path(), None, &b.env(&[]));
    let started = Instant::now();
    let running = std::thread::spawn(move || run_within(&mut cmd, RUN_LIMIT).0);
    b.p.wait_for(
        StdDuration::from_secs(30),
        "ListAccessKeys for late-tag",
        |reqs| {
            reqs.iter()
                .any(|r| r["op"] == "ListAccessKeys" && r["params"]["UserName"] == "late-tag")
        },
    );
    let (iam, _) = b.e.clients().await;
    iam.tag_user()
        .user_name("late-tag")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("iam-sweeper:exempt")
                .value("true")
                .build()
                .expect("a tag"),
        )
        .send()
        .await
        .expect("TagUser");
    // Still held by the proxy: the tag came after the report and before the action.
    let held = b.p.requests().iter().any(|r| {
        r["op"] == "ListAccessKeys" && r["params"]["UserName"] == "late-tag" && r["done"] == false
    });
    let run = running.join().expect("the run's thread");
    let took = started.elapsed();
    let result = result_of(&run);
    let mut c = Checks::default();
    c.check(held, || {
        "the tag was not added while ListAccessKeys was held".into()
    });
    let status = b.e.key_status("late-tag").await;
    c.check(status.iter().all(|(_, s)| s == "Active"), || {
        format!("late-tag: tagged exempt before the action, but its key was changed: {status:?}")
    });
    let a = action(&result, "late-tag", "access_key_1");
    c.check(a["status"] != "done" && a["status"] != "failed", || {
        format!(
            "late-tag: expected the exemption to be honoured (neither done nor failed), saw {}",
            seen(&a)
        )
    });
    c.check(b.e.key_status("other").await[0].1 == "Inactive", || {
        "other: not deactivated".into()
    });
    c.finish(&context(&run, took));
}

// ---------------------------------------------------------------------------------------------
// h. Safer events.
// ---------------------------------------------------------------------------------------------

/// On an enforcing deployment, a scheduled event whose `detail` asks for report mode (an
/// EventBridge rule's `detail` object, a Scheduler's `detail` string) makes a dry run: the event
/// can make a run safer, so nothing is changed.
#[tokio::test]
async fn safer_events_a_scheduled_detail_asking_for_report_mode_changes_nothing() {
    let e = Emulator::start();
    e.seed(vec![
        stale_key_user("sched-key"),
        stale_password_user("sched-pw"),
    ]);
    let rule = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-23T02:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/nightly-dry-run"],
        "detail": {"mode": "report"}
    });
    let scheduler = json!({
        "version": "0", "id": "7bd0e9a6-b2b6-4c4e-8c9b-3a0e2c1d9f10",
        "detail-type": "Scheduled Event", "source": "aws.scheduler",
        "account": "123456789012", "time": "2026-11-23T02:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly-dry-run"],
        "detail": "{\"mode\": \"report\"}"
    });
    let mut c = Checks::default();
    let mut last = None;
    for (name, event) in [("rule", rule), ("scheduler", scheduler)] {
        let started = Instant::now();
        let run = e.invoke(Some(&event), &[("MODE", "enforce")]);
        let took = started.elapsed();
        let result = result_of(&run);
        c.check(run.code == Some(0), || {
            format!("{name}: exit {:?}", run.code)
        });
        c.check(result["invocation"]["mode"] == "report", || {
            format!("{name}: ran in mode {}", result["invocation"]["mode"])
        });
        c.check(result["invocation"]["dry_run_requested"] == true, || {
            format!(
                "{name}: dry_run_requested is {}",
                result["invocation"]["dry_run_requested"]
            )
        });
        c.check(e.key_status("sched-key").await[0].1 == "Active", || {
            format!("{name}: the key was deactivated")
        });
        c.check(e.has_password("sched-pw").await, || {
            format!("{name}: the password was deleted")
        });
        last = Some(context(&run, took));
    }
    c.finish(&last.unwrap_or_default());
}

// ---------------------------------------------------------------------------------------------
// Security Hub under throttling.
// ---------------------------------------------------------------------------------------------

/// A throttled `BatchImportFindings` is retried: the run still imports every finding and
/// succeeds.
#[tokio::test]
async fn a_throttled_security_hub_import_is_retried() {
    let b = Bench::start(vec![
        stale_key_user("hub-key"),
        stale_password_user("hub-pw"),
    ])
    .await;
    crate::asff::enable_security_hub(&b.e).await;
    b.p.rules(json!([
        {"op": "*", "service": "securityhub", "match": "\"Findings\"", "times": 2, "action": "throttle"},
    ]));
    let (run, took) = b.p.invoke(
        None,
        &b.env(&[("MODE", "report"), ("SECURITY_HUB", "true")]),
    );
    let mut c = Checks::default();
    c.check(run.code == Some(0), || "exit 0".into());
    let hub: Vec<Value> =
        b.p.requests()
            .into_iter()
            .filter(|r| r["service"] == "securityhub")
            .collect();
    let throttled = hub.iter().filter(|r| r["did"] == "throttle").count();
    let imported = hub
        .iter()
        .filter(|r| r["did"] == "forward" && r["status"] == 200)
        .count();
    c.check(throttled == 2, || {
        format!("{throttled} Security Hub calls throttled: {hub:?}")
    });
    c.check(imported >= 2, || {
        format!("no import after the throttling: {hub:?}")
    });
    let findings = crate::asff::hub_client(&b.e)
        .await
        .get_findings()
        .send()
        .await
        .expect("GetFindings")
        .findings
        .unwrap_or_default();
    c.check(findings.len() >= 2, || {
        format!("{} findings in Security Hub", findings.len())
    });
    c.finish(&context(&run, took));
}
