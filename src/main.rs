//! The `iam-sweeper` binary. Inside Lambda (`AWS_LAMBDA_RUNTIME_API` set) it serves invocations
//! through `lambda_runtime`; locally, `invoke` runs the same handler once and `audit` evaluates a
//! downloaded report with no AWS access.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use iam_sweeper::audit::{self, Audit};
use iam_sweeper::aws::{self as sdk, Clients};
use iam_sweeper::handler::{self, RunError, Settings};
use iam_sweeper::{config, report};
use serde_json::Value;

/// Exit status of `invoke` when the run failed (an action failed, the cap was hit, the report could
/// not be read, the summary could not be published).
const EXIT_RUN_FAILED: u8 = 1;
/// Exit status for bad input, configuration or usage.
const EXIT_BAD_INPUT: u8 = 2;
/// Exit status of `audit` when findings exist.
const EXIT_FINDINGS: u8 = 3;

#[derive(Parser)]
#[command(
    name = "iam-sweeper",
    version,
    about = "Audits and cleans up unused IAM user credentials (CIS AWS Foundations)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate a credential report downloaded from the IAM console, with no AWS access.
    ///
    /// The policy comes from the same environment variables as the Lambda (STALE_AFTER_DAYS, ...).
    /// Exit status: 0 nothing to fix, 3 findings exist, 2 bad input or configuration.
    Audit {
        /// The credential report CSV.
        report: PathBuf,
        /// Evaluate as of this time (RFC 3339) instead of now.
        #[arg(long, value_name = "RFC3339", value_parser = parse_as_of)]
        as_of: Option<DateTime<Utc>>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run the Lambda handler once, locally, with the standard AWS environment (credentials,
    /// AWS_REGION, AWS_ENDPOINT_URL) and print its JSON result.
    ///
    /// Exit status: 0 success, 1 the run failed, 2 bad configuration or event.
    Invoke {
        /// The invocation event (JSON); defaults to `{}`, a run in the configured mode.
        #[arg(long, value_name = "FILE")]
        event: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn parse_as_of(s: &str) -> Result<DateTime<Utc>, String> {
    report::parse_timestamp(s)
        .ok_or_else(|| format!("`{s}` is not an RFC 3339 time such as 2026-01-31T02:00:00Z"))
}

fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda_main();
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Audit {
            report,
            as_of,
            format,
        } => run_audit(&report, as_of.unwrap_or_else(Utc::now), format),
        Command::Invoke { event } => run_invoke(event.as_deref()),
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Serves Lambda invocations. A configuration error fails every invocation loudly (and so raises
/// the errors alarm) instead of crashing the runtime in a loop.
fn lambda_main() -> ExitCode {
    iam_sweeper::logging::init_lambda();
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("iam-sweeper: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUN_FAILED);
        }
    };
    let result = rt.block_on(async {
        let settings = config::from_env().map(|(policy, runtime)| Settings { policy, runtime });
        if let Err(e) = &settings {
            tracing::error!(error = %e, "invalid configuration; every invocation will fail until it is fixed");
        }
        let clients = Clients::new(&sdk::load_sdk_config().await);
        let settings = &settings;
        let clients = &clients;
        lambda_runtime::run(lambda_runtime::service_fn(
            move |ev: lambda_runtime::LambdaEvent<Value>| async move {
                let settings = settings.as_ref().map_err(|e| diagnostic("InvalidConfiguration", e))?;
                let deadline = remaining(ev.context.deadline).map(|d| tokio::time::Instant::now() + d);
                let started = std::time::Instant::now();
                let result = handler::handle(clients, settings, &ev.payload, Utc::now(), deadline).await;
                let function = &ev.context.env_config.function_name;
                if let Some(line) = iam_sweeper::metrics::emf_for(&result, started.elapsed(), function) {
                    println!("{line}");
                }
                match result {
                    Ok(report) => serde_json::to_value(&report).map_err(|e| diagnostic("ResultEncoding", &e)),
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
            ExitCode::from(EXIT_RUN_FAILED)
        }
    }
}

/// An invocation error with a named type, so the Lambda console and alarms show what went wrong.
fn diagnostic(error_type: &str, e: &dyn std::fmt::Display) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: error_type.to_string(),
        error_message: e.to_string(),
    }
}

/// Time left before a deadline given in milliseconds since the epoch.
fn remaining(deadline_ms: u64) -> Option<std::time::Duration> {
    let now_ms = u64::try_from(Utc::now().timestamp_millis()).ok()?;
    (deadline_ms > 0).then(|| std::time::Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

/// Runs the handler once and prints its JSON result.
fn run_invoke(event: Option<&std::path::Path>) -> ExitCode {
    iam_sweeper::logging::init_local();
    let fail = |code: u8, msg: String| {
        eprintln!("iam-sweeper: {msg}");
        ExitCode::from(code)
    };
    let settings = match config::from_env() {
        Ok((policy, runtime)) => Settings { policy, runtime },
        Err(e) => return fail(EXIT_BAD_INPUT, e.to_string()),
    };
    let event: Value = match event {
        None => serde_json::json!({}),
        Some(path) => {
            let text = match std::fs::read(path) {
                Ok(t) => t,
                Err(e) => {
                    return fail(
                        EXIT_BAD_INPUT,
                        format!("cannot read {}: {e}", path.display()),
                    );
                }
            };
            match serde_json::from_slice(&text) {
                Ok(v) => v,
                Err(e) => {
                    return fail(
                        EXIT_BAD_INPUT,
                        format!("{} is not JSON: {e}", path.display()),
                    );
                }
            }
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                EXIT_RUN_FAILED,
                format!("cannot start the async runtime: {e}"),
            );
        }
    };
    let result = rt.block_on(async {
        let clients = Clients::new(&sdk::load_sdk_config().await);
        handler::handle(&clients, &settings, &event, Utc::now(), None).await
    });
    let print = |report: &handler::RunReport| {
        let mut out = std::io::stdout().lock();
        if let Err(e) = serde_json::to_writer_pretty(&mut out, report).and_then(|()| {
            use std::io::Write as _;
            writeln!(out).map_err(serde_json::Error::io)
        }) {
            eprintln!("iam-sweeper: cannot write the result: {e}");
        }
    };
    match result {
        Ok(report) => {
            print(&report);
            ExitCode::SUCCESS
        }
        Err(RunError::Failed(report)) => {
            print(&report);
            fail(
                EXIT_RUN_FAILED,
                format!("the run failed: {}", report.problems.join("; ")),
            )
        }
        Err(e) if e.is_bad_input() => fail(EXIT_BAD_INPUT, e.to_string()),
        Err(e) => fail(EXIT_RUN_FAILED, e.to_string()),
    }
}

fn run_audit(path: &PathBuf, now: DateTime<Utc>, format: Format) -> ExitCode {
    let fail = |msg: String| {
        eprintln!("iam-sweeper: {msg}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let (policy, _) = match config::from_env() {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return fail(format!("cannot read {}: {e}", path.display())),
    };
    let records = match report::parse(&bytes) {
        Ok(r) => r,
        Err(e) => return fail(format!("{}: {e}", path.display())),
    };
    let audit = Audit::new(&records, &policy, now);
    match format {
        Format::Text => print!("{}", audit::render_text(&audit)),
        Format::Json => match serde_json::to_string_pretty(&audit) {
            Ok(json) => println!("{json}"),
            Err(e) => return fail(format!("cannot encode the audit as JSON: {e}")),
        },
    }
    if audit.has_findings() {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}
