//! Fetching the IAM credential report.
//!
//! IAM builds the report asynchronously: `GenerateCredentialReport` starts (or reuses) a report
//! and answers with its state, `GetCredentialReport` returns it once it is complete. This module
//! polls the two calls with exponential backoff inside a bounded wait, so a slow or throttled
//! IAM ends the run with an error that says so instead of running into the Lambda timeout.

use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::operation::generate_credential_report::GenerateCredentialReportError;
use aws_sdk_iam::operation::get_credential_report::{
    GetCredentialReportError, GetCredentialReportOutput,
};
use aws_sdk_iam::types::ReportStateType;
use tokio::time::{Instant, sleep};

use super::{describe_sdk_error, to_chrono};
use crate::app::ports::{FetchError, FetchedReport};

/// First pause between polls: a reused report is usually complete at once, a fresh one for a
/// small account within a second, so start short; the doubling reaches whole seconds after a few
/// polls, so a large account's report costs only one or two polls more.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);

/// Longest pause between polls, so a report that becomes ready is picked up promptly.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

const GENERATE: &str = "GenerateCredentialReport";
const GET: &str = "GetCredentialReport";

/// Error codes worth another poll: IAM's report throttle, its generic server-side failure and
/// request throttling that outlasted the SDK's own retries.
const TRANSIENT_CODES: [&str; 3] = ["LimitExceeded", "ServiceFailure", "Throttling"];

/// Outcome of one Generate (+ Get) round.
enum Poll {
    /// The report is here.
    Ready(FetchedReport),
    /// Not yet; the string says what IAM answered, for the log and a possible timeout.
    Wait(String),
}

/// Fetches the credential report, waiting at most `max_wait` for IAM to produce it.
///
/// Each round calls `GenerateCredentialReport`; when it answers `COMPLETE` the report is read
/// with `GetCredentialReport`. A report that is still being built (`STARTED`, `INPROGRESS`,
/// `CredentialReportNotReadyException`), missing or expired
/// (`CredentialReportNotPresentException`, `CredentialReportExpiredException`: generating again
/// replaces it), or a transient failure (`LimitExceeded`, `ServiceFailure`, `Throttling`) leads
/// to another round after an exponential backoff (100 ms, doubling, capped at 5 s). Any other
/// error (`AccessDenied`, an unreachable endpoint, …) is returned at once as [`FetchError::Api`].
///
/// The wait is bounded: it never sleeps past `max_wait`; when the next round would start after
/// it, the fetch ends with [`FetchError::Timeout`] naming the last state or error seen.
pub async fn fetch(iam: &Client, max_wait: Duration) -> Result<FetchedReport, FetchError> {
    let start = Instant::now();
    let mut backoff = INITIAL_BACKOFF;
    let mut attempt: u32 = 0;
    loop {
        attempt = attempt.saturating_add(1);
        let last = match poll_once(iam).await? {
            Poll::Ready(report) => {
                tracing::debug!(
                    attempt,
                    bytes = report.content.len(),
                    "credential report fetched"
                );
                return Ok(report);
            }
            Poll::Wait(last) => last,
        };
        let waited = start.elapsed();
        tracing::debug!(attempt, last = %last, ?waited, ?backoff, "credential report not available yet");
        if waited.saturating_add(backoff) > max_wait {
            return Err(FetchError::Timeout { waited, last });
        }
        sleep(backoff).await;
        backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
    }
}

/// One round: Generate, and Get when Generate says the report is complete.
async fn poll_once(iam: &Client) -> Result<Poll, FetchError> {
    let state = match iam.generate_credential_report().send().await {
        Ok(out) => out.state,
        Err(err) => return generate_failed(&err),
    };
    match state {
        Some(ReportStateType::Complete) => {}
        other => {
            let shown = other.as_ref().map_or("none", ReportStateType::as_str);
            return Ok(Poll::Wait(format!("{GENERATE} state {shown}")));
        }
    }
    match iam.get_credential_report().send().await {
        Ok(out) => into_report(out).map(Poll::Ready),
        Err(err) => get_failed(&err),
    }
}

fn into_report(out: GetCredentialReportOutput) -> Result<FetchedReport, FetchError> {
    let generated_time = out.generated_time.as_ref().and_then(to_chrono);
    let content = out
        .content
        .map(aws_smithy_types::Blob::into_inner)
        .unwrap_or_default();
    if content.is_empty() {
        return Err(FetchError::Empty);
    }
    Ok(FetchedReport {
        content,
        generated_time,
    })
}

fn generate_failed<R: std::fmt::Debug + 'static>(
    err: &SdkError<GenerateCredentialReportError, R>,
) -> Result<Poll, FetchError> {
    let transient = err.as_service_error().is_some_and(|e| {
        e.is_limit_exceeded_exception() || e.is_service_failure_exception() || is_transient_code(e)
    });
    if transient {
        Ok(Poll::Wait(seen(GENERATE, err)))
    } else {
        Err(api_error(GENERATE, err))
    }
}

fn get_failed<R: std::fmt::Debug + 'static>(
    err: &SdkError<GetCredentialReportError, R>,
) -> Result<Poll, FetchError> {
    let retry = err.as_service_error().is_some_and(|e| {
        e.is_credential_report_not_ready_exception()
            || e.is_credential_report_not_present_exception()
            || e.is_credential_report_expired_exception()
            || e.is_service_failure_exception()
            || is_transient_code(e)
    });
    if retry {
        Ok(Poll::Wait(seen(GET, err)))
    } else {
        Err(api_error(GET, err))
    }
}

fn is_transient_code(err: &impl ProvideErrorMetadata) -> bool {
    err.code()
        .is_some_and(|code| TRANSIENT_CODES.contains(&code))
}

/// A one-line description of a service answer for logs and [`FetchError::Timeout`].
fn seen<E, R>(operation: &'static str, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err.as_service_error() {
        // Typed errors name themselves in their Display ("CredentialReportNotReadyException: …").
        Some(inner) if inner.code().is_none() => format!("{operation}: {inner}"),
        _ => {
            let (code, message) = describe_sdk_error(err);
            match code {
                Some(code) => format!("{operation}: {code}: {message}"),
                None => format!("{operation}: {message}"),
            }
        }
    }
}

fn api_error<E, R>(operation: &'static str, err: &SdkError<E, R>) -> FetchError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let (code, message) = describe_sdk_error(err);
    FetchError::Api {
        operation,
        code,
        message,
    }
}
