//! The AWS adapters: the ports of [`crate::app::ports`] implemented with the AWS SDK.
//!
//! The only code that names `aws_sdk_*` / `aws_smithy_*`. Everything here turns SDK types into
//! the crate's own plain types and typed errors, so the core and the orchestration never depend
//! on the SDK's shapes and can be tested without AWS.

pub mod credential_report;
pub mod document;
pub mod iam;
pub mod identity;
pub mod org;
pub mod s3;
pub mod securityhub;
pub mod ses;
pub mod sns;

use std::collections::HashMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::app::ports::{self, IamError};

type Time = chrono::DateTime<chrono::Utc>;

/// Attempts per call, including the first. IAM throttles without a published rate, shared with
/// every other scanner in the account, and one run can make thousands of calls: standard retry
/// (exponential backoff with jitter, at most 20 s between attempts) with more attempts than the
/// SDK's default (3) slows a run under lasting throttling instead of failing it. Each call stays
/// bounded by the operation timeout and by the run's deadline budget. (Adaptive retry's
/// client-side rate limiter was measured against a proxy throttling every third call: it slowed
/// a five-action run past 45 s, where standard retry finishes in seconds.)
const MAX_ATTEMPTS: u32 = 10;

/// Upper bound for one call including its retries; far below the Lambda's 900 s limit so a hung
/// call fails the run with an error instead of a silent timeout.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Upper bound for a single attempt, so one stalled connection leaves time for a retry.
const OPERATION_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The SDK's own default connect timeout, stated here so the whole timeout policy is in one place.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);

/// Region used when the environment names none. IAM is global and signs in us-east-1 in the
/// `aws` partition; Lambda always sets `AWS_REGION`, so this only matters for local runs.
const FALLBACK_REGION: &str = "us-east-1";

/// Loads the shared SDK config from the standard AWS environment.
///
/// Credentials, region and endpoint overrides (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_IAM`,
/// `AWS_ENDPOINT_URL_SNS`, `AWS_ENDPOINT_URL_SECURITYHUB`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_SESV2`) come from aws-config's usual chain.
/// On top of that it sets adaptive retry with [`MAX_ATTEMPTS`] attempts and explicit timeouts,
/// because the SDK's defaults have no operation timeout at all.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    let region = RegionProviderChain::default_provider().or_else(FALLBACK_REGION);
    aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(OPERATION_TIMEOUT)
                .operation_attempt_timeout(OPERATION_ATTEMPT_TIMEOUT)
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )
        .load()
        .await
}

/// One AWS account reached through the SDK: IAM, SNS and Security Hub clients, built once per
/// cold start and shared by every invocation (building them costs milliseconds and they pool
/// connections).
#[derive(Clone, Debug)]
pub struct AwsAccount {
    /// IAM: credential report, live re-checks and the remediation actions.
    pub iam: aws_sdk_iam::Client,
    /// SNS: the run summary.
    pub sns: aws_sdk_sns::Client,
    /// Security Hub: the findings (`SECURITY_HUB`), in the function's region.
    pub securityhub: aws_sdk_securityhub::Client,
    /// S3: the journal (`JOURNAL_BUCKET`).
    pub s3: aws_sdk_s3::Client,
    /// SES v2: owner mail (`SENDER_EMAIL`).
    pub ses: aws_sdk_sesv2::Client,
}

impl AwsAccount {
    /// Builds the clients from one shared config.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        let iam = aws_sdk_iam::config::Builder::from(config)
            .interceptor(document::WholeDocument)
            .build();
        let sns = aws_sdk_sns::config::Builder::from(config)
            .interceptor(document::WholeDocument)
            .build();
        Self {
            iam: aws_sdk_iam::Client::from_conf(iam),
            sns: aws_sdk_sns::Client::from_conf(sns),
            // JSON protocol: the XML document check does not apply (a cut JSON answer fails to
            // parse on its own).
            securityhub: aws_sdk_securityhub::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config)
                    .interceptor(document::WholeListing)
                    // An endpoint of one's own (a local emulator, a VPC endpoint URL) has no
                    // per-bucket host names: the bucket goes in the path there.
                    .force_path_style(config.endpoint_url().is_some())
                    .build(),
            ),
            ses: aws_sdk_sesv2::Client::new(config),
        }
    }
}

impl ports::ReportSource for AwsAccount {
    async fn fetch_report(
        &self,
        max_wait: Duration,
    ) -> Result<ports::FetchedReport, ports::FetchError> {
        credential_report::fetch(&self.iam, max_wait).await
    }
}

impl ports::IamReads for AwsAccount {
    async fn list_access_keys(&self, user: &str) -> Result<Vec<ports::LiveKey>, IamError> {
        iam::list_access_keys(&self.iam, user).await
    }
    async fn access_key_last_used(
        &self,
        user: &str,
        key_id: &str,
    ) -> Result<Option<Time>, IamError> {
        iam::access_key_last_used(&self.iam, user, key_id).await
    }
    async fn user(&self, user: &str) -> Result<ports::LiveUser, IamError> {
        iam::user(&self.iam, user).await
    }
    async fn login_profile(&self, user: &str) -> Result<Option<Time>, IamError> {
        iam::login_profile(&self.iam, user).await
    }
    async fn user_tags(&self, user: &str) -> Result<ports::Tags, IamError> {
        iam::user_tags(&self.iam, user).await
    }
}

impl ports::IamPagedReads for AwsAccount {
    async fn all_user_tags(&self) -> Result<HashMap<String, ports::Tags>, IamError> {
        iam::all_user_tags(&self.iam).await
    }
}

impl ports::IamActions for AwsAccount {
    async fn deactivate_key(&self, user: &str, key_id: &str) -> Result<(), IamError> {
        iam::deactivate_key(&self.iam, user, key_id).await
    }
    async fn delete_key(&self, user: &str, key_id: &str) -> Result<(), IamError> {
        iam::delete_key(&self.iam, user, key_id).await
    }
    async fn delete_login_profile(&self, user: &str) -> Result<(), IamError> {
        iam::delete_login_profile(&self.iam, user).await
    }
}

impl ports::Notifier for AwsAccount {
    async fn publish(
        &self,
        topic_arn: &str,
        message: &ports::Message,
    ) -> Result<String, ports::PublishError> {
        sns::publish(&self.sns, topic_arn, message).await
    }
}

impl ports::SecurityHub for AwsAccount {
    fn hub_region(&self) -> String {
        self.securityhub
            .config()
            .region()
            .map_or_else(|| FALLBACK_REGION.to_string(), ToString::to_string)
    }
    async fn import_findings(
        &self,
        batch: &[ports::Asff],
    ) -> Result<ports::ImportResult, ports::HubError> {
        securityhub::import(&self.securityhub, batch).await
    }
    async fn active_findings(
        &self,
        product_arn: &str,
        generator_ids: &[String],
        next_token: Option<&str>,
    ) -> Result<ports::FindingsPage, ports::HubError> {
        securityhub::active_findings(&self.securityhub, product_arn, generator_ids, next_token)
            .await
    }
}

impl ports::ObjectStore for AwsAccount {
    async fn put_new(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<ports::Written, ports::StoreError> {
        s3::put_new(&self.s3, bucket, key, body).await
    }
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, ports::StoreError> {
        s3::get(&self.s3, bucket, key).await
    }
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, ports::StoreError> {
        s3::list(&self.s3, bucket, prefix).await
    }
}

impl ports::Mailer for AwsAccount {
    async fn send_mail(
        &self,
        from: &str,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<String, ports::MailError> {
        ses::send(&self.ses, from, to, subject, body).await
    }
}

impl ports::IamRestore for AwsAccount {
    async fn activate_key(&self, user: &str, key_id: &str) -> Result<(), IamError> {
        iam::activate_key(&self.iam, user, key_id).await
    }
    async fn create_login_profile(&self, user: &str, password: &str) -> Result<(), IamError> {
        iam::create_login_profile(&self.iam, user, password).await
    }
}

/// Converts an SDK timestamp to chrono, keeping sub-second precision.
///
/// Returns `None` only for instants chrono cannot represent (hundreds of thousands of years
/// away), which no IAM response contains; callers treat that as a malformed response.
pub(crate) fn to_chrono(dt: &aws_smithy_types::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(dt.secs(), dt.subsec_nanos())
}

/// What an SDK error says about itself: the service's error code (when the service answered)
/// and a message that includes the root cause.
///
/// Service errors keep their code and the service's own message; dispatch, timeout and
/// construction failures have no code and are rendered with
/// [`DisplayErrorContext`](aws_smithy_types::error::display::DisplayErrorContext) so the
/// underlying cause (DNS, TLS, timeout…) is not lost behind "dispatch failure".
pub(crate) fn describe_sdk_error<E, R>(err: &SdkError<E, R>) -> (Option<String>, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().map(str::to_owned);
            let message = inner
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| DisplayErrorContext(inner).to_string());
            (code, message)
        }
        other => (None, cause_chain(other)),
    }
}

/// An error and its causes, each once, joined by `: ` — the root cause (a timeout, a refused
/// connection, an answer cut short) without the raw response the SDK's own rendering appends.
fn cause_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}
