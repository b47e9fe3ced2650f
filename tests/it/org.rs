//! The organization mode (`iam_sweeper::app::org`) on in-memory fakes: an organization
//! (`testing::org::FakeOrg`) whose member accounts are `FakeAccount`s, and a hub `FakeAccount`
//! for S3 and SNS.
//!
//! The worker sweeps a batch's accounts (one account's failure stays its own), the listing keeps
//! the ACTIVE accounts the filters let through (OU nesting, account lists, a tag) and follows
//! Organizations' tokens strictly, and the digest reads the map's result files back into one
//! mail, failed accounts first, failing when anything failed or is missing.

use std::collections::BTreeMap;

use iam_sweeper::app::Settings;
use iam_sweeper::app::org::{self, ListingError, OrgOutput, OrgRunError};
use iam_sweeper::app::ports::{KeyStatus, OrgAccountStatus, PublishError};
use iam_sweeper::core::config::{Mode, Policy, Runtime};
use iam_sweeper::core::finding::Slot;
use iam_sweeper::core::org::{
    self as core_org, AccountStatus, BatchEvent, BatchResult, DigestEvent, ExecutionName,
    ListedAccount, ListingResult, OrgEvent, OrgSettings, SkipReason,
};
use iam_sweeper::core::report::{self, AccessKeyColumns, Record};
use iam_sweeper::testing::fake::{FakeAccount, key_id};
use iam_sweeper::testing::org::{FakeOrg, ROOT};
use serde_json::{Value, json};

const TOPIC: &str = "arn:aws:sns:us-east-1:999999999999:iam-sweeper-org";
const BUCKET: &str = "org-results";
const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";
const D: &str = "444444444444";
const E: &str = "555555555555";

use crate::sweep::{ago, now};

/// A user of `account` created 400 days ago, with no password and no keys.
fn user(account: &str, name: &str) -> Record {
    Record {
        arn: format!("arn:aws:iam::{account}:user/{name}"),
        ..crate::sweep::user(name)
    }
}

/// A user whose only key was last used `days` ago (deactivated at 120, upcoming at 85).
fn key_user(account: &str, name: &str, days: i64) -> Record {
    let mut r = user(account, name);
    r.access_keys[0] = AccessKeyColumns {
        active: Some(true),
        last_rotated: Some(ago(365) + chrono::Duration::seconds(17)),
        last_used_date: Some(ago(days)),
        last_used_region: Some("eu-west-1".into()),
        last_used_service: Some("s3".into()),
    };
    r
}

/// A member account: a root row, one stale key (`stale`), one healthy key (`fresh`).
fn member(account: &str) -> FakeAccount {
    let root = Record {
        user: report::ROOT_USER.into(),
        arn: format!("arn:aws:iam::{account}:root"),
        password_enabled: None,
        ..user(account, "root")
    };
    let a = FakeAccount::from_records(&[
        root,
        key_user(account, "stale", 120),
        key_user(account, "fresh", 2),
    ]);
    a.set_generated_time(now() - chrono::Duration::hours(1));
    a
}

fn settings(mode: Mode) -> Settings {
    Settings {
        policy: Policy {
            mode,
            ..Policy::default()
        },
        runtime: Runtime {
            sns_topic_arn: Some(TOPIC.into()),
            report_wait_seconds: 30,
            ..Runtime::default()
        },
    }
}

fn org_settings(vars: &[(&str, &str)]) -> OrgSettings {
    let mut vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.entry("ORG_BUCKET".into()).or_insert(BUCKET.into());
    core_org::settings_from_lookup(|n| vars.get(n).cloned()).expect("valid settings")
}

fn execution() -> ExecutionName {
    ExecutionName::try_from("nightly-2026-11-23".to_string()).unwrap()
}

fn batch(ids: &[&str], input: Value) -> BatchEvent {
    let items: Vec<Value> = ids
        .iter()
        .map(|id| json!({"Id": id, "Name": format!("acct-{id}"), "Email": "x@example.com"}))
        .collect();
    let mut batch_input = json!({"execution": "nightly-2026-11-23"});
    batch_input
        .as_object_mut()
        .unwrap()
        .extend(input.as_object().unwrap().clone());
    match core_org::detect(&json!({"Items": items, "BatchInput": batch_input})) {
        Some(Ok(OrgEvent::Batch(b))) => b,
        other => panic!("not a batch: {other:?}"),
    }
}

/// An organization of members `ids`, all in the root.
fn organization(ids: &[&str]) -> FakeOrg {
    let org = FakeOrg::new();
    for id in ids {
        org.add_member(id, &format!("acct-{id}"), ROOT, member(id));
    }
    org
}

async fn sweep(org: &FakeOrg, settings: &Settings, batch: &BatchEvent) -> BatchResult {
    org::sweep_batch(org, settings, batch, now(), None).await
}

fn entry<'a>(result: &'a BatchResult, id: &str) -> &'a core_org::AccountResult {
    result
        .accounts
        .iter()
        .find(|a| a.account_id == id)
        .unwrap_or_else(|| panic!("no entry for {id}"))
}

fn stale_key(org: &FakeOrg, id: &str) -> Option<KeyStatus> {
    org.member_of(id)
        .unwrap()
        .key_status("stale", &key_id("stale", Slot::One))
}

// ---------------------------------------------------------------------------------------------
// the worker

#[tokio::test]
async fn a_batch_sweeps_every_account_with_its_own_iam_and_no_per_account_mail() {
    let org = organization(&[A, B, C]);
    let result = sweep(
        &org,
        &settings(Mode::Enforce),
        &batch(&[A, B, C], json!({})),
    )
    .await;

    let ids: Vec<&str> = result
        .accounts
        .iter()
        .map(|a| a.account_id.as_str())
        .collect();
    assert_eq!(ids, [A, B, C], "the batch's order");
    for id in [A, B, C] {
        let e = entry(&result, id);
        assert_eq!(e.status, AccountStatus::Ok, "{id}: {:?}", e.problems);
        assert_eq!(e.name, format!("acct-{id}"));
        assert_eq!(e.mode, Some(Mode::Enforce));
        assert_eq!(e.counts["done"], 1, "{id}");
        assert_eq!(e.counts["findings"], 1, "{id}");
        assert_eq!(e.actions.len(), 1);
        let action = &e.actions[0];
        assert_eq!(
            (action.user.as_str(), action.credential.as_str()),
            ("stale", "access_key_1")
        );
        assert!(
            action
                .undo
                .as_deref()
                .is_some_and(|u| u.contains("--status Active")),
            "{action:?}"
        );
        assert!(e.run_id.is_some());
        assert_eq!(stale_key(&org, id), Some(KeyStatus::Inactive), "{id}");
        let m = org.member_of(id).unwrap();
        assert!(
            m.published().is_empty(),
            "{id}: a per-account mail was sent"
        );
        assert_eq!(
            m.key_status("fresh", &key_id("fresh", Slot::One)),
            Some(KeyStatus::Active)
        );
    }
    assert_eq!(org.calls("AssumeRole"), 3, "one AssumeRole per account");

    // The worker's result is what the digest reads back.
    let json = serde_json::to_value(&result).unwrap();
    let back: BatchResult = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, result);
    assert_eq!(json["accounts"][0]["status"], "ok");
    assert!(json["accounts"][0]["counts"]["done"].is_u64());
}

#[tokio::test]
async fn an_account_whose_role_cannot_be_assumed_fails_alone() {
    let org = organization(&[A, B, C]);
    org.refuse_assume(B, "not authorized to perform: sts:AssumeRole");
    let result = sweep(
        &org,
        &settings(Mode::Enforce),
        &batch(&[A, B, C], json!({})),
    )
    .await;

    let b = entry(&result, B);
    assert_eq!(b.status, AccountStatus::Failed);
    assert!(
        b.problems[0].starts_with("role not assumable: "),
        "{:?}",
        b.problems
    );
    assert!(b.problems[0].contains("sts:AssumeRole"));
    assert!(b.counts.is_empty() && b.actions.is_empty() && b.run_id.is_none());
    assert_eq!(stale_key(&org, B), Some(KeyStatus::Active), "B untouched");
    assert_eq!(org.member_of(B).unwrap().total_calls(), 0);
    for id in [A, C] {
        assert_eq!(entry(&result, id).status, AccountStatus::Ok);
        assert_eq!(stale_key(&org, id), Some(KeyStatus::Inactive));
    }
}

#[tokio::test]
async fn an_unavailable_report_or_a_failed_action_fails_only_that_account() {
    let org = organization(&[A, B, C]);
    org.member_of(A)
        .unwrap()
        .fail_report(iam_sweeper::app::ports::FetchError::Empty);
    org.member_of(B).unwrap().fail(
        "UpdateAccessKey",
        Some("stale"),
        iam_sweeper::app::ports::IamError::Other {
            operation: "UpdateAccessKey",
            code: Some("AccessDenied".into()),
            message: "denied".into(),
        },
    );
    let result = sweep(
        &org,
        &settings(Mode::Enforce),
        &batch(&[A, B, C], json!({})),
    )
    .await;

    let a = entry(&result, A);
    assert_eq!(a.status, AccountStatus::Failed);
    assert!(
        a.problems[0].contains("credential report"),
        "{:?}",
        a.problems
    );
    let b = entry(&result, B);
    assert_eq!(b.status, AccountStatus::Failed);
    assert_eq!(b.counts["failed"], 1);
    assert_eq!(
        b.actions[0].status,
        iam_sweeper::core::outcome::Status::Failed
    );
    assert!(
        b.problems[0].contains("action(s) failed"),
        "{:?}",
        b.problems
    );
    assert_eq!(entry(&result, C).status, AccountStatus::Ok);
    assert_eq!(stale_key(&org, C), Some(KeyStatus::Inactive));
}

#[tokio::test]
async fn the_batch_input_can_ask_for_a_dry_run_and_a_refused_one_fails_each_account() {
    let org = organization(&[A, B]);
    let result = sweep(
        &org,
        &settings(Mode::Enforce),
        &batch(&[A, B], json!({"mode": "report"})),
    )
    .await;
    for id in [A, B] {
        let e = entry(&result, id);
        assert_eq!((e.status, e.mode), (AccountStatus::Ok, Some(Mode::Report)));
        assert_eq!(e.counts["actions_planned"], 1);
        assert_eq!(stale_key(&org, id), Some(KeyStatus::Active), "report mode");
    }

    // A report deployment cannot be escalated by the workflow's input.
    let result = sweep(
        &org,
        &settings(Mode::Report),
        &batch(&[A, B], json!({"mode": "enforce"})),
    )
    .await;
    for id in [A, B] {
        let e = entry(&result, id);
        assert_eq!(e.status, AccountStatus::Failed);
        assert!(e.problems[0].contains("event refused"), "{:?}", e.problems);
        assert_eq!(stale_key(&org, id), Some(KeyStatus::Active));
    }
}

#[test]
fn a_malformed_batch_is_refused_before_anything_runs() {
    for bad in [
        json!({"Items": [{"Id": "12345", "Name": "short"}], "BatchInput": {"execution": "x"}}),
        json!({"Items": [{"Id": A}], "BatchInput": {}}),
        json!({"Items": [{"Id": A}]}),
        json!({"Items": [{"Id": A}, {"Id": A}], "BatchInput": {"execution": "x"}}),
    ] {
        assert!(matches!(core_org::detect(&bad), Some(Err(_))), "{bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// the listing

/// r-root ─ A (suspended), B
///        └ ou-root-prod00001 ─ C
///                            └ ou-root-payments1 ─ D
///        └ ou-root-sandbox01 ─ E (pending closure)
fn tree() -> FakeOrg {
    let org = FakeOrg::new();
    org.add_ou(ROOT, "ou-root-prod00001");
    org.add_ou("ou-root-prod00001", "ou-root-payments1");
    org.add_ou(ROOT, "ou-root-sandbox01");
    // ListAccounts answers in its own order, not by ID.
    org.add_account(D, "payments", "ou-root-payments1");
    org.add_account(B, "shared", ROOT);
    org.add_account(A, "old", ROOT);
    org.add_account(C, "prod", "ou-root-prod00001");
    org.add_account(E, "closing", "ou-root-sandbox01");
    org.set_status(A, OrgAccountStatus::Suspended);
    org.set_status(E, OrgAccountStatus::PendingClosure);
    org
}

async fn listing(org: &FakeOrg, hub: &FakeAccount, vars: &[(&str, &str)]) -> ListingResult {
    org::list_accounts(org, hub, &org_settings(vars), &execution())
        .await
        .expect("a listing")
}

fn written(hub: &FakeAccount, key: &str) -> Vec<(String, String)> {
    let body = hub.objects(BUCKET).remove(key).expect("the listing object");
    let listed: Vec<ListedAccount> = serde_json::from_slice(&body).unwrap();
    listed
        .into_iter()
        .map(|a| (a.id.to_string(), a.name))
        .collect()
}

fn skipped(l: &ListingResult) -> Vec<(&str, SkipReason)> {
    l.skipped
        .iter()
        .map(|s| (s.id.as_str(), s.reason))
        .collect()
}

#[tokio::test]
async fn the_listing_keeps_active_accounts_sorted_and_writes_them_once() {
    let org = tree();
    let hub = FakeAccount::new();
    let l = listing(&org, &hub, &[("ORG_PREFIX", "org")]).await;
    assert_eq!(l.key, "org/listings/nightly-2026-11-23.json");
    assert_eq!((l.bucket.as_str(), l.count), (BUCKET, 3));
    assert_eq!(
        written(&hub, &l.key),
        [
            (B.into(), "shared".into()),
            (C.into(), "prod".into()),
            (D.into(), "payments".into())
        ]
    );
    assert_eq!(
        skipped(&l),
        [(A, SkipReason::Suspended), (E, SkipReason::PendingClosure)]
    );
    assert_eq!(
        org.calls("ListTagsForResource"),
        0,
        "no tag filter, no tag reads"
    );
    let json = serde_json::to_value(&l).unwrap();
    assert_eq!(json["skipped"][1]["reason"], "pending-closure");

    // A second listing under the same execution name leaves the first one standing.
    org.add_account("666666666666", "late", ROOT);
    let again = listing(&org, &hub, &[("ORG_PREFIX", "org")]).await;
    assert_eq!(again.count, 3);
    assert_eq!(written(&hub, &l.key).len(), 3);
}

#[tokio::test]
async fn an_included_ou_includes_its_nested_ous() {
    let org = tree();
    let hub = FakeAccount::new();
    let l = listing(&org, &hub, &[("ORG_INCLUDE_OUS", "ou-root-prod00001")]).await;
    let kept: Vec<String> = written(&hub, &l.key)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(kept, [C, D], "prod and, nested in it, payments");
    assert_eq!(
        skipped(&l),
        [
            (A, SkipReason::Suspended),
            (B, SkipReason::NotInIncludedOu),
            (E, SkipReason::PendingClosure)
        ]
    );
}

#[tokio::test]
async fn excluded_ous_accounts_and_tags_are_skipped_with_their_reasons() {
    let org = tree();
    org.tag(B, "iam-sweeper", "off");
    org.tag(C, "iam-sweeper", "on");
    let hub = FakeAccount::new();
    let l = listing(&org, &hub, &[("ORG_EXCLUDE_OUS", "ou-root-payments1")]).await;
    assert_eq!(l.count, 2);
    assert!(skipped(&l).contains(&(D, SkipReason::ExcludedOu)));

    let hub = FakeAccount::new();
    let l = listing(&org, &hub, &[("ORG_EXCLUDE_TAG", "iam-sweeper=off")]).await;
    assert!(skipped(&l).contains(&(B, SkipReason::ExcludedTag)));
    assert_eq!(l.count, 2, "C's tag has another value");
    assert_eq!(
        org.calls("ListTagsForResource"),
        3,
        "tags read only for the accounts still in"
    );
    let hub = FakeAccount::new();
    let l = listing(&org, &hub, &[("ORG_EXCLUDE_TAG", "iam-sweeper")]).await;
    assert_eq!(l.count, 1, "any value");

    let hub = FakeAccount::new();
    let l = listing(
        &org,
        &hub,
        &[
            ("ORG_INCLUDE_ACCOUNTS", &format!("{B}, {C}, {A}")),
            ("ORG_EXCLUDE_ACCOUNTS", C),
        ],
    )
    .await;
    let kept: Vec<String> = written(&hub, &l.key)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(kept, [B]);
    assert_eq!(
        skipped(&l),
        [
            (A, SkipReason::Suspended),
            (C, SkipReason::ExcludedAccount),
            (D, SkipReason::NotIncludedAccount),
            (E, SkipReason::PendingClosure)
        ]
    );
}

#[tokio::test]
async fn the_listing_follows_every_token_even_after_an_empty_page() {
    let org = tree();
    org.set_page_size(2);
    org.empty_first_page("ListAccounts");
    org.empty_first_page("ListAccountsForParent");
    org.empty_first_page("ListChildren");
    let hub = FakeAccount::new();
    let l = listing(&org, &hub, &[("ORG_INCLUDE_OUS", "r-root")]).await;
    assert_eq!(l.count, 3);
    assert_eq!(
        org.calls("ListAccounts"),
        4,
        "an empty page, then 2 + 2 + 1"
    );

    let org = tree();
    org.set_page_size(2);
    org.stuck_token("ListAccounts");
    let err = org::list_accounts(&org, &FakeAccount::new(), &org_settings(&[]), &execution())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ListingError::Pagination {
            operation: "ListAccounts"
        }
    );
}

#[tokio::test]
async fn the_listing_needs_a_bucket() {
    let settings = core_org::settings_from_lookup(|_| None).unwrap();
    let err = org::list_accounts(&tree(), &FakeAccount::new(), &settings, &execution())
        .await
        .unwrap_err();
    assert_eq!(err, ListingError::NoBucket);
    assert!(err.to_string().contains("ORG_BUCKET"));
}

// ---------------------------------------------------------------------------------------------
// the digest

const MANIFEST: &str = "results/map-run/manifest.json";

/// Writes the map's results as Step Functions does: one result file of succeeded children, one
/// of failed children, and the manifest naming them.
fn write_results(hub: &FakeAccount, succeeded: &[(&[&str], &BatchResult)], failed: &[&[&str]]) {
    let input = |ids: &[&str]| {
        json!({"Items": ids.iter().map(|id| json!({"Id": id, "Name": format!("acct-{id}")})).collect::<Vec<_>>(),
               "BatchInput": {"execution": "nightly-2026-11-23"}})
        .to_string()
    };
    let ok: Vec<Value> = succeeded
        .iter()
        .map(|(ids, r)| {
            json!({"ExecutionArn": "arn:aws:states:us-east-1:999999999999:execution:x:1",
                   "Input": input(ids), "InputDetails": {"Included": true},
                   "Output": serde_json::to_string(r).unwrap(), "OutputDetails": {"Included": true},
                   "Status": "SUCCEEDED", "Name": "child"})
        })
        .collect();
    let bad: Vec<Value> = failed
        .iter()
        .map(|ids| {
            json!({"Input": input(ids), "Status": "FAILED", "Error": "Lambda.Unknown",
                   "Cause": "The function timed out"})
        })
        .collect();
    hub.put_object(
        BUCKET,
        "results/map-run/SUCCEEDED_0.json",
        json!(ok).to_string().as_bytes(),
    );
    hub.put_object(
        BUCKET,
        "results/map-run/FAILED_0.json",
        json!(bad).to_string().as_bytes(),
    );
    let manifest = json!({
        "DestinationBucket": BUCKET,
        "MapRunArn": "arn:aws:states:us-east-1:999999999999:mapRun:x/map:1",
        "ResultFiles": {
            "FAILED": [{"Key": "results/map-run/FAILED_0.json", "Size": 10}],
            "PENDING": [],
            "SUCCEEDED": [{"Key": "results/map-run/SUCCEEDED_0.json", "Size": 10}]
        }
    });
    hub.put_object(BUCKET, MANIFEST, manifest.to_string().as_bytes());
}

fn digest_event(listing: ListingResult) -> DigestEvent {
    let event = json!({
        "iam_sweeper": "digest",
        "execution": "nightly-2026-11-23",
        "listing": listing,
        "results": {"Bucket": BUCKET, "Key": MANIFEST},
    });
    match core_org::detect(&event) {
        Some(Ok(OrgEvent::Digest(d))) => d,
        other => panic!("not a digest: {other:?}"),
    }
}

/// The whole night on fakes: list, sweep in two batches (one of which Step Functions saw fail),
/// write the results, digest.
#[tokio::test]
async fn the_digest_lists_failed_accounts_first_every_action_and_every_skip() {
    let org = tree();
    for id in [B, C, D] {
        org.add_member(id, "x", "ignored", member(id));
    }
    org.refuse_assume(D, "not authorized to perform: sts:AssumeRole");
    let hub = FakeAccount::new();
    let l = listing(&org, &hub, &[]).await;
    assert_eq!(l.count, 3);
    let s = settings(Mode::Enforce);
    let first = sweep(&org, &s, &batch(&[B, D], json!({}))).await;
    write_results(&hub, &[(&[B, D], &first)], &[&[C]]);

    let summary = org::digest(&hub, Some(TOPIC), &digest_event(l))
        .await
        .expect_err("accounts failed");
    assert_eq!(summary.failed_accounts, [C, D]);
    assert_eq!((summary.accounts, summary.ok, summary.skipped), (3, 1, 2));
    assert_eq!(summary.totals["done"], 1);
    assert!(summary.published_message_id.is_some());

    let mails = hub.published();
    assert_eq!(mails.len(), 1, "one mail for the organization");
    let (topic, m) = &mails[0];
    assert_eq!(topic, TOPIC);
    assert!(m.subject.contains("FAILED"), "{}", m.subject);
    assert!(m.subject.contains("3 accounts (2 failed)"), "{}", m.subject);
    assert!(m.subject.is_ascii() && m.subject.len() < 100);
    let body = &m.body;
    let pos = |s: &str| body.find(s).unwrap_or_else(|| panic!("{s} not in\n{body}"));
    assert!(pos(&format!("- {C} acct-{C}: FAILED")) < pos(&format!("- {D} acct-{D}: FAILED")));
    assert!(pos(&format!("- {D} acct-{D}: FAILED")) < pos(&format!("- {B} acct-{B}: ok")));
    assert!(
        body.contains("Lambda.Unknown: The function timed out"),
        "{body}"
    );
    assert!(body.contains("role not assumable"), "{body}");
    let k = key_id("stale", Slot::One);
    assert!(
        body.contains(&format!(
            "- {B} acct-{B}: stale access_key_1 {k}: key deactivated"
        )),
        "{body}"
    );
    assert!(body.contains(&format!(
        "undo (account {B}): aws iam update-access-key --user-name stale --access-key-id {k} --status Active"
    )), "{body}");
    assert!(body.contains(&format!("- {A} old: suspended")), "{body}");
    assert!(
        body.contains(&format!("- {E} closing: pending-closure")),
        "{body}"
    );
    assert!(
        body.contains("Accounts:          3 swept: 1 ok, 2 failed; 2 skipped"),
        "{body}"
    );
    assert!(
        m.attributes
            .contains(&("accounts_failed".into(), "2".into()))
    );
}

#[tokio::test]
async fn a_clean_night_mails_once_and_succeeds() {
    let org = organization(&[A, B]);
    let hub = FakeAccount::new();
    let l = listing(&org, &hub, &[]).await;
    let result = sweep(&org, &settings(Mode::Report), &batch(&[A, B], json!({}))).await;
    write_results(&hub, &[(&[A, B], &result)], &[]);
    let summary = org::digest(&hub, Some(TOPIC), &digest_event(l))
        .await
        .expect("all clear");
    assert_eq!((summary.ok, summary.failed), (2, 0));
    assert!(summary.problems.is_empty());
    let (_, m) = &hub.published()[0];
    assert!(!m.subject.contains("FAILED"), "{}", m.subject);
    assert!(
        m.subject.contains("org report: 2 accounts, 2 would act"),
        "{}",
        m.subject
    );
    assert!(
        m.body
            .contains("stale access_key_1: deactivate key: not_taken"),
        "{}",
        m.body
    );
}

#[tokio::test]
async fn missing_results_are_a_failure_never_an_all_clear() {
    let org = organization(&[A, B]);
    let hub = FakeAccount::new();
    let l = listing(&org, &hub, &[]).await;
    // No manifest at all.
    let summary = org::digest(&hub, Some(TOPIC), &digest_event(l.clone()))
        .await
        .expect_err("no results");
    assert_eq!(
        summary.failed_accounts,
        [A, B],
        "every listed account failed"
    );
    assert!(
        summary.problems[0].contains("unreadable"),
        "{:?}",
        summary.problems
    );
    let (_, m) = &hub.published()[0];
    assert!(m.subject.contains("FAILED"));
    assert!(m.body.contains("no result"), "{}", m.body);

    // A result file the manifest names is gone, and one account's batch has no entry.
    let hub = FakeAccount::new();
    let l = listing(&org, &hub, &[]).await;
    let only_a = sweep(&org, &settings(Mode::Report), &batch(&[A], json!({}))).await;
    write_results(&hub, &[(&[A], &only_a)], &[]);
    let manifest = json!({"DestinationBucket": BUCKET, "ResultFiles": {
        "SUCCEEDED": [{"Key": "results/map-run/SUCCEEDED_0.json"}, {"Key": "results/map-run/SUCCEEDED_1.json"}]}});
    hub.put_object(BUCKET, MANIFEST, manifest.to_string().as_bytes());
    let summary = org::digest(&hub, Some(TOPIC), &digest_event(l))
        .await
        .expect_err("a file is missing");
    assert_eq!(summary.failed_accounts, [B]);
    assert!(
        summary
            .problems
            .iter()
            .any(|p| p.contains("SUCCEEDED_1.json"))
    );
}

#[tokio::test]
async fn an_unpublished_digest_fails_the_step() {
    let org = organization(&[A]);
    let hub = FakeAccount::new();
    let l = listing(&org, &hub, &[]).await;
    let result = sweep(&org, &settings(Mode::Report), &batch(&[A], json!({}))).await;
    write_results(&hub, &[(&[A], &result)], &[]);
    hub.fail_publish(PublishError {
        topic_arn: TOPIC.into(),
        code: Some("AuthorizationError".into()),
        message: "not allowed".into(),
    });
    let summary = org::digest(&hub, Some(TOPIC), &digest_event(l.clone()))
        .await
        .expect_err("not published");
    assert_eq!(summary.failed, 0);
    assert!(
        summary.problems[0].contains("not published"),
        "{:?}",
        summary.problems
    );
    let summary = org::digest(&FakeAccount::new(), None, &digest_event(l))
        .await
        .expect_err("no topic");
    assert!(summary.problems.iter().any(|p| p.contains("SNS_TOPIC_ARN")));
}

#[tokio::test]
async fn handle_dispatches_and_names_its_errors() {
    let org = organization(&[A]);
    let hub = FakeAccount::new();
    let s = settings(Mode::Report);
    let listing_event =
        core_org::detect(&json!({"iam_sweeper": "list-accounts", "execution": "e-1"}))
            .unwrap()
            .unwrap();
    let out = org::handle(
        &org,
        &org,
        &hub,
        &s,
        &org_settings(&[]),
        listing_event,
        now(),
        None,
    )
    .await
    .unwrap();
    let OrgOutput::Listing(l) = out else {
        panic!("a listing")
    };
    assert_eq!(l.count, 1);
    let digest = org::handle(
        &org,
        &org,
        &hub,
        &s,
        &org_settings(&[]),
        OrgEvent::Digest(digest_event(l)),
        now(),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(digest.kind(), "OrganizationSweepFailed");
    assert!(matches!(digest, OrgRunError::Digest(_)));
}
