//! The Lambda entry: serves invocations through `lambda_runtime`, one sweep each, and prints the
//! run's EMF metrics line.

use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use crate::app::sweep::{self, RunError};
use crate::aws::{self, AwsAccount};
use crate::core::run::{RESULT_LIST_LIMIT, RunReport};
use crate::render::metrics;

/// Exit status when the runtime cannot start or stops.
const EXIT_RUNTIME_FAILED: u8 = 1;

/// Builds a single-threaded async runtime: the work is I/O, one invocation at a time.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Serves Lambda invocations. A configuration error fails every invocation loudly (and so raises
/// the errors alarm) instead of crashing the runtime in a loop.
pub fn main() -> ExitCode {
    crate::logging::init_lambda();
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("iam-sweeper: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME_FAILED);
        }
    };
    let result = rt.block_on(async {
        let settings = crate::app::settings_from_env();
        if let Err(e) = &settings {
            tracing::error!(error = %e, "invalid configuration; every invocation will fail until it is fixed");
        }
        let sdk_config = aws::load_sdk_config().await;
        let account = AwsAccount::new(&sdk_config);
        let settings = &settings;
        let account = &account;
        let sdk_config = &sdk_config;
        lambda_runtime::run(lambda_runtime::service_fn(
            move |ev: lambda_runtime::LambdaEvent<Value>| async move {
                let settings = settings.as_ref().map_err(|e| diagnostic("InvalidConfiguration", e))?;
                let left = ev.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO);
                let deadline = Some(tokio::time::Instant::now() + left);
                let started = std::time::Instant::now();
                if let Some(org_event) = crate::core::org::detect(&ev.payload) {
                    let result = run_org_event(sdk_config, account, settings, org_event, deadline).await;
                    return match result {
                        Ok(out) => serde_json::to_value(out).map_err(|e| diagnostic("ResultEncoding", &e)),
                        Err(e) => Err(diagnostic(e.kind(), &e)),
                    };
                }
                let result = sweep::handle(account, settings, &ev.payload, Utc::now(), deadline).await;
                let function = &ev.context.env_config.function_name;
                if let Some(line) = emf_for(&result, started.elapsed(), function) {
                    println!("{line}");
                }
                match result {
                    Ok(report) => serde_json::to_value(report.bounded(RESULT_LIST_LIMIT))
                        .map_err(|e| diagnostic("ResultEncoding", &e)),
                    Err(e) => Err(diagnostic(e.kind(), &e)),
                }
            },
        ))
        .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the Lambda runtime stopped");
            ExitCode::from(EXIT_RUNTIME_FAILED)
        }
    }
}

/// Runs an organization event (a worker's batch, the listing, the digest) with the function's
/// own account as the hub; the organization settings are read now, from the environment.
pub async fn run_org_event(
    config: &aws_config::SdkConfig,
    account: &AwsAccount,
    settings: &crate::app::Settings,
    event: Result<crate::core::org::OrgEvent, crate::core::org::OrgEventError>,
    deadline: Option<tokio::time::Instant>,
) -> Result<crate::app::org::OrgOutput, crate::app::org::OrgRunError> {
    let event = event?;
    let org_settings = crate::core::org::settings_from_lookup(|name| std::env::var(name).ok())?;
    let hub = crate::aws::org::AwsOrg::new(config, account, &org_settings);
    crate::app::org::handle(
        &hub,
        &hub,
        account,
        settings,
        &org_settings,
        event,
        Utc::now(),
        deadline,
    )
    .await
}

/// The EMF line for the handler's result: a run that got as far as a report has one, whether it
/// succeeded or failed (failed actions and the action cap only show in failed runs); a refused
/// event or an unavailable report has none (the function's `Errors` metric counts those).
pub fn emf_for(
    result: &Result<RunReport, RunError>,
    duration: Duration,
    function_name: &str,
) -> Option<String> {
    let report = match result {
        Ok(report) => report,
        Err(e) => e.report()?,
    };
    Some(metrics::emf(report, duration, function_name))
}

/// An invocation error with a named type, so the Lambda console and alarms show what went wrong.
fn diagnostic(error_type: &str, e: &dyn std::fmt::Display) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: error_type.to_string(),
        error_message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::audit::Audit;
    use crate::core::config::{Mode, Policy};
    use crate::core::event::{EventError, Invocation, Trigger};
    use crate::core::run::{ActionCounts, Problem};

    fn run(mode: Mode, failed: usize) -> RunReport {
        let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("a time");
        let policy = Policy {
            mode,
            ..Policy::default()
        };
        RunReport {
            run_id: "20261201T020000Z-00000000".into(),
            audit: Audit::from_findings(Vec::new(), &policy, now),
            account_id: Some("123456789012".into()),
            invocation: Invocation {
                trigger: Trigger::Scheduler,
                mode,
                dry_run_requested: false,
                as_of: None,
            },
            report_generated_time: None,
            actions: Vec::new(),
            action_counts: ActionCounts {
                failed,
                ..ActionCounts::default()
            },
            tag_errors: Vec::new(),
            problems: Vec::new(),
            published_message_id: None,
            omitted: Default::default(),
            owner_mail: Default::default(),
            journal: None,
        }
    }

    #[test]
    fn a_failed_run_has_metrics_a_refused_event_has_none() {
        let mut failed = run(Mode::Enforce, 3);
        failed.problems.push(Problem::DeadlineCut(1));
        let result: Result<RunReport, RunError> = Err(RunError::Failed(Box::new(failed)));
        let line = emf_for(&result, Duration::ZERO, "fn").expect("a line");
        let v: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(v["ActionsFailed"], 3);
        let ok: Result<RunReport, RunError> = Ok(run(Mode::Report, 0));
        assert!(emf_for(&ok, Duration::ZERO, "fn").is_some());
        let refused: Result<RunReport, RunError> =
            Err(RunError::Event(EventError::EscalationRefused));
        assert_eq!(emf_for(&refused, Duration::ZERO, "fn"), None);
    }
}
