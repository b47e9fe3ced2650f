//! Tests for the AWS edge (`iam_sweeper::aws`) against mocked IAM and SNS clients.
//!
//! Modeled outputs and errors come from `aws-smithy-mocks`; where the wire format matters (error
//! codes the mapping relies on, SDK retries) the mock answers with real query-protocol XML.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::error::ErrorMetadata;
use aws_sdk_iam::operation::delete_access_key::DeleteAccessKeyOutput;
use aws_sdk_iam::operation::generate_credential_report::{
    GenerateCredentialReportError, GenerateCredentialReportOutput,
};
use aws_sdk_iam::operation::get_access_key_last_used::GetAccessKeyLastUsedOutput;
use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput;
use aws_sdk_iam::operation::get_credential_report::{
    GetCredentialReportError, GetCredentialReportOutput,
};
use aws_sdk_iam::operation::get_login_profile::GetLoginProfileOutput;
use aws_sdk_iam::operation::get_user::GetUserOutput;
use aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput;
use aws_sdk_iam::operation::list_user_tags::ListUserTagsOutput;
use aws_sdk_iam::operation::update_access_key::UpdateAccessKeyOutput;
use aws_sdk_iam::primitives::{Blob, DateTime as SmithyDateTime};
use aws_sdk_iam::types::error::{
    CredentialReportExpiredException, CredentialReportNotPresentException,
    CredentialReportNotReadyException, LimitExceededException, ServiceFailureException,
};
use aws_sdk_iam::types::{
    AccessKeyLastUsed, AccessKeyMetadata, EntityType, LoginProfile, ReportStateType, StatusType,
    Tag, User, UserDetail,
};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use chrono::{DateTime, TimeZone, Utc};
use iam_sweeper::app::ports::{FetchError, FetchedReport, IamError, KeyStatus, LiveKey, Message};
use iam_sweeper::aws::credential_report;
use iam_sweeper::aws::iam;
use iam_sweeper::aws::sns;
use tokio::time::Instant;

// ---------------------------------------------------------------------------------------------
// helpers

const REPORT_CSV: &[u8] = b"user,arn\nalice,arn:aws:iam::123456789012:user/alice\n";

/// An IAM client answering from `rules` in order, with the SDK's own retries off so each rule
/// is exactly one call.
fn iam_client(rules: &[&Rule]) -> aws_sdk_iam::Client {
    mock_client!(aws_sdk_iam, RuleMode::Sequential, rules, |c| c
        .retry_config(RetryConfig::disabled()))
}

fn sns_client(rules: &[&Rule]) -> aws_sdk_sns::Client {
    mock_client!(aws_sdk_sns, RuleMode::Sequential, rules, |c| c
        .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled()))
}

/// The query-protocol error body IAM and SNS send.
fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>\
         </Error><RequestId>x</RequestId></ErrorResponse>"
    )
}

/// A rule for `$op` answering with IAM's real 404 NoSuchEntity body.
macro_rules! no_such_entity {
    ($op:path) => {
        mock!($op)
            .sequence()
            .http_status(404, Some(error_xml("NoSuchEntity", NO_SUCH_USER)))
            .build()
    };
}

const NO_SUCH_USER: &str = "The user with name alice cannot be found.";

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("valid test date")
}

fn smithy(dt: DateTime<Utc>) -> SmithyDateTime {
    SmithyDateTime::from_secs_and_nanos(dt.timestamp(), dt.timestamp_subsec_nanos())
}

fn generate(state: ReportStateType) -> Rule {
    mock!(aws_sdk_iam::Client::generate_credential_report).then_output(move || {
        GenerateCredentialReportOutput::builder()
            .state(state.clone())
            .build()
    })
}

fn generate_error(err: fn() -> GenerateCredentialReportError) -> Rule {
    mock!(aws_sdk_iam::Client::generate_credential_report).then_error(err)
}

fn get_report(content: &'static [u8]) -> Rule {
    mock!(aws_sdk_iam::Client::get_credential_report).then_output(move || {
        GetCredentialReportOutput::builder()
            .content(Blob::new(content))
            .generated_time(SmithyDateTime::from_secs_and_nanos(
                1_700_000_000,
                500_000_000,
            ))
            .build()
    })
}

fn get_error(err: fn() -> GetCredentialReportError) -> Rule {
    mock!(aws_sdk_iam::Client::get_credential_report).then_error(err)
}

/// Asserts the fetch returned the canned report.
fn assert_report(result: Result<FetchedReport, FetchError>) {
    let report = result.expect("report fetched");
    assert_eq!(report.content, REPORT_CSV);
    assert_eq!(
        report.generated_time,
        Utc.timestamp_opt(1_700_000_000, 500_000_000).single()
    );
}

const WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// credential_report::fetch

#[tokio::test(start_paused = true)]
async fn fetch_reads_report_at_once_when_complete() {
    let generated = generate(ReportStateType::Complete);
    let got = get_report(REPORT_CSV);
    let client = iam_client(&[&generated, &got]);

    assert_report(credential_report::fetch(&client, WAIT).await);
    assert_eq!(generated.num_calls(), 1);
    assert_eq!(got.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn fetch_polls_started_and_inprogress_until_complete() {
    let started = generate(ReportStateType::Started);
    let in_progress = generate(ReportStateType::Inprogress);
    let complete = generate(ReportStateType::Complete);
    let got = get_report(REPORT_CSV);
    let client = iam_client(&[&started, &in_progress, &complete, &got]);

    let start = Instant::now();
    assert_report(credential_report::fetch(&client, WAIT).await);
    // Two backoffs: 100 ms, then 200 ms.
    assert!(start.elapsed() >= Duration::from_millis(300));
    for rule in [&started, &in_progress, &complete, &got] {
        assert_eq!(rule.num_calls(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn fetch_keeps_polling_when_get_says_not_ready() {
    let complete = generate(ReportStateType::Complete);
    let not_ready = get_error(|| {
        GetCredentialReportError::CredentialReportNotReadyException(
            CredentialReportNotReadyException::builder()
                .message("Report is being generated")
                .build(),
        )
    });
    let complete_again = generate(ReportStateType::Complete);
    let got = get_report(REPORT_CSV);
    let client = iam_client(&[&complete, &not_ready, &complete_again, &got]);

    assert_report(credential_report::fetch(&client, WAIT).await);
    assert_eq!(got.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn fetch_regenerates_when_report_not_present() {
    let complete = generate(ReportStateType::Complete);
    let not_present = get_error(|| {
        GetCredentialReportError::CredentialReportNotPresentException(
            CredentialReportNotPresentException::builder().build(),
        )
    });
    let started = generate(ReportStateType::Started);
    let complete_again = generate(ReportStateType::Complete);
    let got = get_report(REPORT_CSV);
    let client = iam_client(&[&complete, &not_present, &started, &complete_again, &got]);

    assert_report(credential_report::fetch(&client, WAIT).await);
    assert_eq!(started.num_calls(), 1);
    assert_eq!(complete_again.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn fetch_regenerates_when_report_expired() {
    let complete = generate(ReportStateType::Complete);
    let expired = get_error(|| {
        GetCredentialReportError::CredentialReportExpiredException(
            CredentialReportExpiredException::builder().build(),
        )
    });
    let started = generate(ReportStateType::Started);
    let complete_again = generate(ReportStateType::Complete);
    let got = get_report(REPORT_CSV);
    let client = iam_client(&[&complete, &expired, &started, &complete_again, &got]);

    assert_report(credential_report::fetch(&client, WAIT).await);
    assert_eq!(started.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn fetch_retries_after_limit_exceeded_on_generate() {
    let limited = generate_error(|| {
        GenerateCredentialReportError::LimitExceededException(
            LimitExceededException::builder().build(),
        )
    });
    let complete = generate(ReportStateType::Complete);
    let got = get_report(REPORT_CSV);
    let client = iam_client(&[&limited, &complete, &got]);

    assert_report(credential_report::fetch(&client, WAIT).await);
    assert_eq!(limited.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn fetch_retries_after_limit_exceeded_on_the_wire() {
    // The real 409 answer, so the mapping is checked against the SDK's own deserializer.
    let limited = mock!(aws_sdk_iam::Client::generate_credential_report)
        .sequence()
        .http_status(
            409,
            Some(error_xml(
                "LimitExceeded",
                "Report generation limit exceeded",
            )),
        )
        .build();
    let complete = generate(ReportStateType::Complete);
    let got = get_report(REPORT_CSV);
    let client = iam_client(&[&limited, &complete, &got]);

    assert_report(credential_report::fetch(&client, WAIT).await);
    assert_eq!(limited.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn fetch_retries_after_service_failure_on_generate() {
    let failed = generate_error(|| {
        GenerateCredentialReportError::ServiceFailureException(
            ServiceFailureException::builder().build(),
        )
    });
    let complete = generate(ReportStateType::Complete);
    let got = get_report(REPORT_CSV);
    let client = iam_client(&[&failed, &complete, &got]);

    assert_report(credential_report::fetch(&client, WAIT).await);
    assert_eq!(failed.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn fetch_retries_after_service_failure_on_get() {
    let complete = generate(ReportStateType::Complete);
    let failed = get_error(|| {
        GetCredentialReportError::ServiceFailureException(
            ServiceFailureException::builder().build(),
        )
    });
    let complete_again = generate(ReportStateType::Complete);
    let got = get_report(REPORT_CSV);
    let client = iam_client(&[&complete, &failed, &complete_again, &got]);

    assert_report(credential_report::fetch(&client, WAIT).await);
    assert_eq!(failed.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn fetch_times_out_within_bound_when_never_complete() {
    let max_wait = Duration::from_millis(2_500);
    let calls: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = Arc::clone(&calls);
    let in_progress =
        mock!(aws_sdk_iam::Client::generate_credential_report).then_compute_output(move |_| {
            seen.lock().expect("lock").push(Instant::now());
            GenerateCredentialReportOutput::builder()
                .state(ReportStateType::Inprogress)
                .build()
        });
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&in_progress], |c| c
        .retry_config(RetryConfig::disabled()));

    let start = Instant::now();
    let result = credential_report::fetch(&client, max_wait).await;
    let elapsed = start.elapsed();

    let Err(FetchError::Timeout { waited, last }) = result else {
        panic!("expected a timeout, got {result:?}");
    };
    assert!(waited <= max_wait, "waited {waited:?}");
    assert!(last.contains("INPROGRESS"), "last: {last}");
    // It returns within the bound plus at most one (capped) backoff.
    assert!(
        elapsed <= max_wait + Duration::from_secs(5),
        "took {elapsed:?}"
    );
    let calls = calls.lock().expect("lock");
    // Calls at 0, 0.1, 0.3, 0.7 and 1.5 s; the next would be at 3.1 s, past the bound.
    assert_eq!(calls.len(), 5, "calls at {calls:?}");
    assert!(calls.iter().all(|at| at.duration_since(start) <= max_wait));
}

#[tokio::test(start_paused = true)]
async fn fetch_with_zero_wait_makes_one_attempt() {
    let in_progress = generate(ReportStateType::Inprogress);
    let client = iam_client(&[&in_progress]);

    let result = credential_report::fetch(&client, Duration::ZERO).await;
    assert!(
        matches!(result, Err(FetchError::Timeout { .. })),
        "{result:?}"
    );
    assert_eq!(in_progress.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn fetch_timeout_names_the_last_error_seen() {
    let limited = mock!(aws_sdk_iam::Client::generate_credential_report).then_error(|| {
        GenerateCredentialReportError::LimitExceededException(
            LimitExceededException::builder()
                .message("Report generation limit exceeded")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&limited], |c| c
        .retry_config(RetryConfig::disabled()));

    let err = credential_report::fetch(&client, Duration::from_millis(300))
        .await
        .expect_err("never succeeds");
    let FetchError::Timeout { last, .. } = &err else {
        panic!("expected a timeout, got {err:?}");
    };
    assert!(last.contains("GenerateCredentialReport"), "last: {last}");
    assert!(last.contains("LimitExceeded"), "last: {last}");
    assert!(err.to_string().contains("run again later"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn fetch_of_a_report_never_complete_stops_within_the_wait_without_reading_it() {
    let started = generate(ReportStateType::Started);
    let got = get_report(REPORT_CSV);
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&started, &got], |c| c
        .retry_config(RetryConfig::disabled()));
    let max_wait = Duration::from_secs(3);

    let start = Instant::now();
    let err = credential_report::fetch(&client, max_wait)
        .await
        .expect_err("never ready");

    let FetchError::Timeout { waited, last } = &err else {
        panic!("expected a timeout, got {err:?}");
    };
    assert!(*waited <= max_wait, "{waited:?}");
    assert!(start.elapsed() <= max_wait, "{:?}", start.elapsed());
    assert!(last.contains("STARTED"), "{last}");
    assert!(
        started.num_calls() > 1,
        "polled {} times",
        started.num_calls()
    );
    assert_eq!(got.num_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn fetch_limit_exceeded_forever_on_the_wire_is_a_timeout_not_an_empty_report() {
    let limited = mock!(aws_sdk_iam::Client::generate_credential_report)
        .sequence()
        .http_status(
            409,
            Some(error_xml(
                "LimitExceeded",
                "Report generation limit exceeded",
            )),
        )
        .repeatedly()
        .build();
    let got = get_report(REPORT_CSV);
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&limited, &got], |c| c
        .retry_config(RetryConfig::disabled()));

    let err = credential_report::fetch(&client, Duration::from_secs(5))
        .await
        .expect_err("never ready");

    let FetchError::Timeout { last, .. } = &err else {
        panic!("expected a timeout, got {err:?}");
    };
    assert!(last.contains("LimitExceeded"), "{last}");
    assert!(limited.num_calls() > 1);
    assert_eq!(got.num_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn fetch_fails_at_once_on_access_denied_from_generate() {
    let denied = generate_error(|| {
        GenerateCredentialReportError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("not authorized to perform iam:GenerateCredentialReport")
                .build(),
        )
    });
    let client = iam_client(&[&denied]);

    let start = Instant::now();
    let err = credential_report::fetch(&client, WAIT)
        .await
        .expect_err("access denied");
    assert!(start.elapsed() < Duration::from_millis(100), "no backoff");
    match &err {
        FetchError::Api {
            operation,
            code,
            message,
        } => {
            assert_eq!(*operation, "GenerateCredentialReport");
            assert_eq!(code.as_deref(), Some("AccessDenied"));
            assert!(message.contains("iam:GenerateCredentialReport"));
        }
        other => panic!("expected Api, got {other:?}"),
    }
    assert_eq!(denied.num_calls(), 1);
    assert!(err.to_string().contains("(AccessDenied)"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn fetch_fails_at_once_on_access_denied_from_get() {
    let complete = generate(ReportStateType::Complete);
    let denied = mock!(aws_sdk_iam::Client::get_credential_report)
        .sequence()
        .http_status(
            403,
            Some(error_xml(
                "AccessDenied",
                "not authorized to perform iam:GetCredentialReport",
            )),
        )
        .build();
    let client = iam_client(&[&complete, &denied]);

    let err = credential_report::fetch(&client, WAIT)
        .await
        .expect_err("access denied");
    assert!(
        matches!(&err, FetchError::Api { operation: "GetCredentialReport", code: Some(c), .. } if c == "AccessDenied"),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn fetch_reports_empty_content() {
    let complete = generate(ReportStateType::Complete);
    let empty = get_report(b"");
    let client = iam_client(&[&complete, &empty]);

    let result = credential_report::fetch(&client, WAIT).await;
    assert!(matches!(result, Err(FetchError::Empty)), "{result:?}");
}

#[tokio::test(start_paused = true)]
async fn fetch_reports_missing_content() {
    let complete = generate(ReportStateType::Complete);
    let missing = mock!(aws_sdk_iam::Client::get_credential_report)
        .then_output(|| GetCredentialReportOutput::builder().build());
    let client = iam_client(&[&complete, &missing]);

    let result = credential_report::fetch(&client, WAIT).await;
    assert!(matches!(result, Err(FetchError::Empty)), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// iam: reads

fn key(id: &str, status: StatusType, created: DateTime<Utc>) -> AccessKeyMetadata {
    AccessKeyMetadata::builder()
        .user_name("alice")
        .access_key_id(id)
        .status(status)
        .create_date(smithy(created))
        .build()
}

#[tokio::test(start_paused = true)]
async fn list_access_keys_follows_marker_across_pages() {
    let first = mock!(aws_sdk_iam::Client::list_access_keys)
        .match_requests(|req| req.user_name() == Some("alice") && req.marker().is_none())
        .then_output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(key("AKIA1", StatusType::Active, utc(2024, 1, 2, 3, 4, 5)))
                .is_truncated(true)
                .marker("page-2")
                .build()
                .expect("valid output")
        });
    let second = mock!(aws_sdk_iam::Client::list_access_keys)
        .match_requests(|req| req.user_name() == Some("alice") && req.marker() == Some("page-2"))
        .then_output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(key(
                    "AKIA2",
                    StatusType::Inactive,
                    utc(2024, 6, 7, 8, 9, 10),
                ))
                .access_key_metadata(key("AKIA3", StatusType::Expired, utc(2023, 1, 1, 0, 0, 0)))
                .is_truncated(false)
                .build()
                .expect("valid output")
        });
    let client = iam_client(&[&first, &second]);

    let keys = iam::list_access_keys(&client, "alice").await.expect("keys");
    assert_eq!(
        keys,
        vec![
            LiveKey {
                id: "AKIA1".into(),
                status: KeyStatus::Active,
                created: Some(utc(2024, 1, 2, 3, 4, 5)),
            },
            LiveKey {
                id: "AKIA2".into(),
                status: KeyStatus::Inactive,
                created: Some(utc(2024, 6, 7, 8, 9, 10)),
            },
            LiveKey {
                id: "AKIA3".into(),
                status: KeyStatus::Other("Expired".into()),
                created: Some(utc(2023, 1, 1, 0, 0, 0)),
            },
        ]
    );
    assert_eq!(first.num_calls(), 1);
    assert_eq!(second.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn list_access_keys_rejects_truncated_page_without_marker() {
    let page = mock!(aws_sdk_iam::Client::list_access_keys).then_output(|| {
        ListAccessKeysOutput::builder()
            .set_access_key_metadata(Some(Vec::new()))
            .is_truncated(true)
            .build()
            .expect("valid output")
    });
    let client = iam_client(&[&page]);

    let err = iam::list_access_keys(&client, "alice")
        .await
        .expect_err("incomplete list");
    assert!(
        matches!(
            err,
            IamError::Other {
                operation: "ListAccessKeys",
                code: None,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn list_access_keys_maps_no_such_entity() {
    let missing = no_such_entity!(aws_sdk_iam::Client::list_access_keys);
    let client = iam_client(&[&missing]);

    let err = iam::list_access_keys(&client, "alice")
        .await
        .expect_err("no user");
    assert_no_such_entity(&err, "ListAccessKeys");
}

#[tokio::test(start_paused = true)]
async fn access_key_last_used_returns_the_date() {
    let used = mock!(aws_sdk_iam::Client::get_access_key_last_used)
        .match_requests(|req| req.access_key_id() == Some("AKIA1"))
        .then_output(|| {
            GetAccessKeyLastUsedOutput::builder()
                .user_name("alice")
                .access_key_last_used(
                    AccessKeyLastUsed::builder()
                        .last_used_date(SmithyDateTime::from_secs_and_nanos(
                            1_700_000_000,
                            250_000_000,
                        ))
                        .service_name("s3")
                        .region("eu-west-1")
                        .build()
                        .expect("valid"),
                )
                .build()
        });
    let client = iam_client(&[&used]);

    let last = iam::access_key_last_used(&client, "alice", "AKIA1")
        .await
        .expect("read");
    assert_eq!(last, Utc.timestamp_opt(1_700_000_000, 250_000_000).single());
}

#[tokio::test(start_paused = true)]
async fn access_key_last_used_without_date_is_none() {
    let never = mock!(aws_sdk_iam::Client::get_access_key_last_used).then_output(|| {
        GetAccessKeyLastUsedOutput::builder()
            .user_name("alice")
            .access_key_last_used(
                AccessKeyLastUsed::builder()
                    .service_name("N/A")
                    .region("N/A")
                    .build()
                    .expect("valid"),
            )
            .build()
    });
    let client = iam_client(&[&never]);

    let last = iam::access_key_last_used(&client, "alice", "AKIA1")
        .await
        .expect("read");
    assert_eq!(last, None);
}

#[tokio::test(start_paused = true)]
async fn access_key_last_used_without_block_is_an_error() {
    let odd = mock!(aws_sdk_iam::Client::get_access_key_last_used).then_output(|| {
        GetAccessKeyLastUsedOutput::builder()
            .user_name("alice")
            .build()
    });
    let client = iam_client(&[&odd]);

    let err = iam::access_key_last_used(&client, "alice", "AKIA1")
        .await
        .expect_err("must not read as never used");
    assert!(!err.is_no_such_entity());
}

fn user(password_last_used: Option<DateTime<Utc>>) -> User {
    let mut builder = User::builder()
        .path("/")
        .user_name("alice")
        .user_id("AIDA1")
        .arn("arn:aws:iam::123456789012:user/alice")
        .create_date(smithy(utc(2020, 1, 1, 0, 0, 0)));
    if let Some(at) = password_last_used {
        builder = builder.password_last_used(smithy(at));
    }
    builder.build().expect("valid user")
}

#[tokio::test(start_paused = true)]
async fn password_last_used_reads_get_user() {
    let used = mock!(aws_sdk_iam::Client::get_user)
        .match_requests(|req| req.user_name() == Some("alice"))
        .then_output(|| {
            GetUserOutput::builder()
                .user(user(Some(utc(2025, 3, 4, 5, 6, 7))))
                .build()
        });
    let never = mock!(aws_sdk_iam::Client::get_user)
        .then_output(|| GetUserOutput::builder().user(user(None)).build());
    let client = iam_client(&[&used, &never]);

    assert_eq!(
        iam::user(&client, "alice")
            .await
            .map(|u| u.password_last_used),
        Ok(Some(utc(2025, 3, 4, 5, 6, 7)))
    );
    assert_eq!(
        iam::user(&client, "alice")
            .await
            .map(|u| u.password_last_used),
        Ok(None)
    );
}

#[tokio::test(start_paused = true)]
async fn login_profile_returns_create_date() {
    let profile = mock!(aws_sdk_iam::Client::get_login_profile)
        .match_requests(|req| req.user_name() == Some("alice"))
        .then_output(|| {
            GetLoginProfileOutput::builder()
                .login_profile(
                    LoginProfile::builder()
                        .user_name("alice")
                        .create_date(smithy(utc(2024, 2, 3, 4, 5, 6)))
                        .build()
                        .expect("valid"),
                )
                .build()
        });
    let client = iam_client(&[&profile]);

    assert_eq!(
        iam::login_profile(&client, "alice").await,
        Ok(Some(utc(2024, 2, 3, 4, 5, 6)))
    );
}

#[tokio::test(start_paused = true)]
async fn login_profile_no_such_entity_is_none() {
    let missing = no_such_entity!(aws_sdk_iam::Client::get_login_profile);
    let client = iam_client(&[&missing]);

    assert_eq!(iam::login_profile(&client, "alice").await, Ok(None));
}

#[tokio::test(start_paused = true)]
async fn login_profile_other_errors_are_errors() {
    let denied = mock!(aws_sdk_iam::Client::get_login_profile)
        .sequence()
        .http_status(403, Some(error_xml("AccessDenied", "not authorized")))
        .build();
    let client = iam_client(&[&denied]);

    let err = iam::login_profile(&client, "alice")
        .await
        .expect_err("denied");
    assert_eq!(
        err,
        IamError::Other {
            operation: "GetLoginProfile",
            code: Some("AccessDenied".into()),
            message: "not authorized".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "GetLoginProfile: not authorized (AccessDenied)"
    );
}

#[tokio::test(start_paused = true)]
async fn user_tags_follows_marker() {
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().expect("valid tag");
    let first = mock!(aws_sdk_iam::Client::list_user_tags)
        .match_requests(|req| req.user_name() == Some("alice") && req.marker().is_none())
        .then_output(move || {
            ListUserTagsOutput::builder()
                .tags(tag("team", "payments"))
                .is_truncated(true)
                .marker("m2")
                .build()
                .expect("valid")
        });
    let second = mock!(aws_sdk_iam::Client::list_user_tags)
        .match_requests(|req| req.marker() == Some("m2"))
        .then_output(move || {
            ListUserTagsOutput::builder()
                .tags(tag("iam-sweeper:exempt", "2099-01-01"))
                .is_truncated(false)
                .build()
                .expect("valid")
        });
    let client = iam_client(&[&first, &second]);

    assert_eq!(
        iam::user_tags(&client, "alice").await,
        Ok(vec![
            ("team".to_owned(), "payments".to_owned()),
            ("iam-sweeper:exempt".to_owned(), "2099-01-01".to_owned()),
        ])
    );
}

fn detail(name: &str, tags: &[(&str, &str)]) -> UserDetail {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("valid tag"))
        .collect();
    UserDetail::builder()
        .user_name(name)
        .user_id(format!("AIDA{}", name.to_ascii_uppercase()))
        .arn(format!("arn:aws:iam::123456789012:user/{name}"))
        .create_date(aws_sdk_iam::primitives::DateTime::from_secs(1_600_000_000))
        .set_tags((!tags.is_empty()).then_some(tags))
        .build()
}

#[tokio::test(start_paused = true)]
async fn all_user_tags_asks_for_users_only_in_large_pages_and_follows_marker() {
    let first = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .match_requests(|req| {
            req.filter() == [EntityType::User]
                && req.max_items() == Some(1000)
                && req.marker().is_none()
        })
        .then_output(|| {
            GetAccountAuthorizationDetailsOutput::builder()
                .user_detail_list(detail("alice", &[("team", "payments")]))
                .user_detail_list(detail("bob", &[]))
                .is_truncated(true)
                .marker("page2")
                .build()
        });
    let second = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .match_requests(|req| req.marker() == Some("page2") && req.max_items() == Some(1000))
        .then_output(|| {
            GetAccountAuthorizationDetailsOutput::builder()
                .user_detail_list(detail("carol", &[("iam-sweeper:exempt", "true")]))
                .is_truncated(false)
                .build()
        });
    let client = iam_client(&[&first, &second]);

    let all = iam::all_user_tags(&client).await.expect("two pages");
    assert_eq!(all.len(), 3);
    assert_eq!(all["alice"], [("team".to_owned(), "payments".to_owned())]);
    assert!(all["bob"].is_empty());
    assert_eq!(
        all["carol"],
        [("iam-sweeper:exempt".to_owned(), "true".to_owned())]
    );
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn all_user_tags_rejects_truncated_page_without_marker_and_nameless_users() {
    let truncated =
        mock!(aws_sdk_iam::Client::get_account_authorization_details).then_output(|| {
            GetAccountAuthorizationDetailsOutput::builder()
                .user_detail_list(detail("alice", &[]))
                .is_truncated(true)
                .build()
        });
    let client = iam_client(&[&truncated]);
    let err = iam::all_user_tags(&client).await.expect_err("cut short");
    assert!(
        err.to_string().contains("truncated but has no new Marker"),
        "{err}"
    );

    let nameless =
        mock!(aws_sdk_iam::Client::get_account_authorization_details).then_output(|| {
            GetAccountAuthorizationDetailsOutput::builder()
                .user_detail_list(UserDetail::builder().build())
                .is_truncated(false)
                .build()
        });
    let client = iam_client(&[&nameless]);
    let err = iam::all_user_tags(&client).await.expect_err("no name");
    assert!(err.to_string().contains("without a UserName"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn all_user_tags_access_denied_is_an_error_with_its_code() {
    let denied = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .sequence()
        .http_status(403, Some(error_xml("AccessDenied", "not authorized")))
        .build();
    let client = iam_client(&[&denied]);
    assert_eq!(
        iam::all_user_tags(&client).await,
        Err(IamError::Other {
            operation: "GetAccountAuthorizationDetails",
            code: Some("AccessDenied".into()),
            message: "not authorized".into(),
        })
    );
}

// ---------------------------------------------------------------------------------------------
// iam: actions

fn assert_no_such_entity(err: &IamError, operation: &'static str) {
    assert!(err.is_no_such_entity(), "{err:?}");
    assert_eq!(
        *err,
        IamError::NoSuchEntity {
            operation,
            message: NO_SUCH_USER.into(),
        }
    );
}

#[tokio::test(start_paused = true)]
async fn deactivate_key_sends_status_inactive() {
    let update = mock!(aws_sdk_iam::Client::update_access_key)
        .match_requests(|req| {
            req.user_name() == Some("alice")
                && req.access_key_id() == Some("AKIA1")
                && req.status() == Some(&StatusType::Inactive)
        })
        .then_output(|| UpdateAccessKeyOutput::builder().build());
    let client = iam_client(&[&update]);

    iam::deactivate_key(&client, "alice", "AKIA1")
        .await
        .expect("deactivated");
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn deactivate_key_maps_no_such_entity() {
    let missing = no_such_entity!(aws_sdk_iam::Client::update_access_key);
    let client = iam_client(&[&missing]);

    let err = iam::deactivate_key(&client, "alice", "AKIA1")
        .await
        .expect_err("gone");
    assert_no_such_entity(&err, "UpdateAccessKey");
}

#[tokio::test(start_paused = true)]
async fn delete_key_sends_user_and_key() {
    let delete = mock!(aws_sdk_iam::Client::delete_access_key)
        .match_requests(|req| {
            req.user_name() == Some("alice") && req.access_key_id() == Some("AKIA1")
        })
        .then_output(|| DeleteAccessKeyOutput::builder().build());
    let client = iam_client(&[&delete]);

    iam::delete_key(&client, "alice", "AKIA1")
        .await
        .expect("deleted");
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn delete_key_maps_no_such_entity() {
    let missing = no_such_entity!(aws_sdk_iam::Client::delete_access_key);
    let client = iam_client(&[&missing]);

    let err = iam::delete_key(&client, "alice", "AKIA1")
        .await
        .expect_err("gone");
    assert_no_such_entity(&err, "DeleteAccessKey");
}

#[tokio::test(start_paused = true)]
async fn delete_login_profile_maps_no_such_entity() {
    let missing = no_such_entity!(aws_sdk_iam::Client::delete_login_profile);
    let client = iam_client(&[&missing]);

    let err = iam::delete_login_profile(&client, "alice")
        .await
        .expect_err("gone");
    assert_no_such_entity(&err, "DeleteLoginProfile");
}

#[tokio::test(start_paused = true)]
async fn delete_login_profile_succeeds() {
    let delete = mock!(aws_sdk_iam::Client::delete_login_profile)
        .match_requests(|req| req.user_name() == Some("alice"))
        .then_output(|| {
            aws_sdk_iam::operation::delete_login_profile::DeleteLoginProfileOutput::builder()
                .build()
        });
    let client = iam_client(&[&delete]);

    assert_eq!(iam::delete_login_profile(&client, "alice").await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn unreadable_response_is_other_with_root_cause() {
    // A 200 that is not XML never reaches the service-error path: no code, and the message
    // must carry the parser's complaint rather than a bare "response error".
    let garbage = mock!(aws_sdk_iam::Client::list_access_keys)
        .sequence()
        .http_status(200, Some("<html>proxy error</html>".into()))
        .build();
    let client = iam_client(&[&garbage]);

    let err = iam::list_access_keys(&client, "alice")
        .await
        .expect_err("unreadable");
    let IamError::Other {
        operation,
        code,
        message,
    } = &err
    else {
        panic!("expected Other, got {err:?}");
    };
    assert_eq!(*operation, "ListAccessKeys");
    assert_eq!(*code, None);
    assert!(message.contains("ListAccessKeysResponse"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn sdk_retry_absorbs_throttling() {
    // The SDK's standard retry, not the sweeper, handles IAM's `Throttling` (HTTP 400).
    let throttled_then_ok = mock!(aws_sdk_iam::Client::list_access_keys)
        .sequence()
        .http_status(400, Some(error_xml("Throttling", "Rate exceeded")))
        .output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(key("AKIA1", StatusType::Active, utc(2024, 1, 1, 0, 0, 0)))
                .is_truncated(false)
                .build()
                .expect("valid output")
        })
        .build();
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::Sequential,
        [&throttled_then_ok],
        |c| c.retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(10))
        )
    );

    let keys = iam::list_access_keys(&client, "alice")
        .await
        .expect("retried past the throttle");
    assert_eq!(keys.len(), 1);
    assert_eq!(throttled_then_ok.num_calls(), 2);
}

/// The deployed retry's attempts (`aws::load_sdk_config`: adaptive, 10 attempts), in standard
/// mode: adaptive mode's client-side rate limiter paces by the wall clock, which a paused test
/// clock cannot move, and it changes when attempts are made, not how many.
fn deployed_retry() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(10)
}

#[tokio::test(start_paused = true)]
async fn throttling_that_clears_is_ridden_out_by_sdk_retries() {
    let created = utc(2025, 11, 23, 2, 0, 17);
    let throttled = mock!(aws_sdk_iam::Client::list_access_keys)
        .match_requests(|req| req.user_name() == Some("kim"))
        .sequence()
        .http_status(400, Some(error_xml("Throttling", "Rate exceeded")))
        .times(2)
        .output(move || {
            ListAccessKeysOutput::builder()
                .access_key_metadata(
                    AccessKeyMetadata::builder()
                        .user_name("kim")
                        .access_key_id("AKIAKIM1")
                        .status(StatusType::Active)
                        .create_date(smithy(created))
                        .build(),
                )
                .is_truncated(false)
                .build()
                .expect("valid output")
        })
        .build();
    let update = mock!(aws_sdk_iam::Client::update_access_key)
        .match_requests(|req| {
            req.user_name() == Some("kim") && req.access_key_id() == Some("AKIAKIM1")
        })
        .then_output(|| UpdateAccessKeyOutput::builder().build());
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&throttled, &update],
        |c| c.retry_config(deployed_retry())
    );

    let keys = iam::list_access_keys(&client, "kim")
        .await
        .expect("ridden out");

    let expected = LiveKey {
        id: "AKIAKIM1".into(),
        status: KeyStatus::Active,
        created: Some(created),
    };
    assert_eq!(keys, vec![expected]);
    assert_eq!(
        throttled.num_calls(),
        3,
        "two throttled attempts, then the answer"
    );
    iam::deactivate_key(&client, "kim", "AKIAKIM1")
        .await
        .expect("deactivated");
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn throttling_that_never_clears_fails_that_action_only() {
    let throttled = mock!(aws_sdk_iam::Client::update_access_key)
        .match_requests(|req| req.user_name() == Some("dan"))
        .sequence()
        .http_status(400, Some(error_xml("Throttling", "Rate exceeded")))
        .repeatedly()
        .build();
    let update = mock!(aws_sdk_iam::Client::update_access_key)
        .then_output(|| UpdateAccessKeyOutput::builder().build());
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&throttled, &update],
        |c| c.retry_config(deployed_retry())
    );

    let err = iam::deactivate_key(&client, "dan", "AKIADAN1")
        .await
        .expect_err("throttled throughout");

    assert_eq!(
        err,
        IamError::Other {
            operation: "UpdateAccessKey",
            code: Some("Throttling".into()),
            message: "Rate exceeded".into(),
        }
    );
    assert!(err.to_string().contains("Throttling"), "{err}");
    assert_eq!(
        throttled.num_calls(),
        10,
        "all ten attempts of the deployed retry"
    );
    // The next action on the same client is not held back.
    iam::deactivate_key(&client, "kim", "AKIAKIM1")
        .await
        .expect("deactivated");
    assert_eq!(update.num_calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// sns

#[tokio::test(start_paused = true)]
async fn publish_sends_subject_body_and_string_attributes() {
    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:iam-sweeper";
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|req| {
            let attrs = req.message_attributes();
            req.topic_arn() == Some(TOPIC)
                && req.subject() == Some("iam-sweeper: 2 findings")
                && req.message() == Some("alice: key AKIA1 unused for 120 days")
                && attrs.is_some_and(|a| {
                    a.len() == 2
                        && a.get("mode").is_some_and(|v| {
                            v.data_type() == "String" && v.string_value() == Some("report")
                        })
                        && a.get("findings").is_some_and(|v| {
                            v.data_type() == "String" && v.string_value() == Some("2")
                        })
                })
        })
        .then_output(|| PublishOutput::builder().message_id("msg-1").build());
    let client = sns_client(&[&publish]);

    let msg = Message {
        subject: "iam-sweeper: 2 findings".into(),
        body: "alice: key AKIA1 unused for 120 days".into(),
        attributes: vec![
            ("mode".into(), "report".into()),
            ("findings".into(), "2".into()),
        ],
    };
    assert_eq!(
        sns::publish(&client, TOPIC, &msg).await.expect("published"),
        "msg-1"
    );
    assert_eq!(publish.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn publish_error_maps_to_publish_error() {
    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:missing";
    let missing = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(404, Some(error_xml("NotFound", "Topic does not exist")))
        .build();
    let client = sns_client(&[&missing]);

    let msg = Message {
        subject: "s".into(),
        body: "b".into(),
        attributes: Vec::new(),
    };
    let err = sns::publish(&client, TOPIC, &msg)
        .await
        .expect_err("no topic");
    assert_eq!(err.topic_arn, TOPIC);
    assert_eq!(err.code.as_deref(), Some("NotFound"));
    assert_eq!(err.message, "Topic does not exist");
    assert!(err.to_string().starts_with(&format!(
        "publishing to {TOPIC} failed: Topic does not exist"
    )));
}
