//! The command line: `invoke` runs the Lambda's sweep once, locally, and `audit` evaluates a
//! downloaded report (a file, or `-` for standard input) with no AWS access, as a table, the
//! audit JSON or Security Hub's ASFF documents. `undo` and `runs` (`cli/undo.rs`) read the
//! journal back.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use serde_json::Value;

use crate::app::sweep::{self, RunError};
use crate::app::{Settings, settings_from_env};
use crate::aws::{self as sdk, AwsAccount};
use crate::core::audit::Audit;
use crate::core::report;
use crate::core::run::{self, RunReport};
use crate::lambda::runtime;
use crate::render;
use crate::render::asff;

mod undo;

/// Exit status of `invoke` when the run failed (an action failed, the cap was hit, the report could
/// not be read, the summary could not be published).
const EXIT_RUN_FAILED: u8 = 1;
/// Exit status for bad input, configuration or usage.
const EXIT_BAD_INPUT: u8 = 2;
/// Exit status of `audit` when findings exist.
const EXIT_FINDINGS: u8 = 3;
/// The region of `audit --format asff` documents when neither `--region` nor AWS_REGION says.
const ASFF_FALLBACK_REGION: &str = "us-east-1";

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
    /// `-` reads the report from standard input:
    /// `aws iam get-credential-report --query Content --output text | base64 -d | iam-sweeper audit -`.
    /// Exit status: 0 nothing to fix, 3 findings exist, 2 bad input or configuration.
    Audit {
        /// The credential report CSV, or `-` for standard input.
        report: PathBuf,
        /// Evaluate as of this time (RFC 3339) instead of now.
        #[arg(long, value_name = "RFC3339", value_parser = parse_as_of)]
        as_of: Option<DateTime<Utc>>,
        /// Output format: a table, the audit JSON, or the Security Hub findings (a JSON array of
        /// ASFF documents, as SECURITY_HUB=true imports them).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The region of the ASFF documents' product ARN (default: AWS_REGION, else us-east-1).
        #[arg(long, value_name = "REGION")]
        region: Option<String>,
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
    /// Reverse what a journaled run did, with your own AWS credentials: reactivate the keys it
    /// deactivated, re-create the console passwords it deleted; deleted keys are listed as not
    /// recoverable.
    ///
    /// Reads the journal (JOURNAL_BUCKET / JOURNAL_PREFIX, or --bucket / --prefix) of the
    /// caller's account. Without --apply it only prints what it would do. A re-created password
    /// is random, must be changed at first sign-in, and is printed once here, never logged.
    /// Exit status: 0 all restored or nothing to do, 1 something could not be restored, 2 bad
    /// input (an unknown run, no journal configured).
    Undo(undo::UndoArgs),
    /// List the journaled runs of the caller's account, newest first, with their counts.
    ///
    /// Exit status: 0 listed, 1 the journal could not be read, 2 bad input.
    Runs(undo::RunsArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Asff,
}

fn parse_as_of(s: &str) -> Result<DateTime<Utc>, String> {
    report::parse_timestamp(s)
        .ok_or_else(|| format!("`{s}` is not an RFC 3339 time such as 2026-01-31T02:00:00Z"))
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Audit {
            report,
            as_of,
            format,
            region,
        } => {
            let region = region
                .or_else(|| std::env::var("AWS_REGION").ok())
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| ASFF_FALLBACK_REGION.to_string());
            run_audit(&report, as_of.unwrap_or_else(Utc::now), format, &region)
        }
        Command::Invoke { event } => run_invoke(event.as_deref()),
        Command::Undo(args) => undo::run_undo(args),
        Command::Runs(args) => undo::run_runs(args),
    }
}

/// Runs the handler once and prints its JSON result.
fn run_invoke(event: Option<&std::path::Path>) -> ExitCode {
    crate::logging::init_local();
    let fail = |code: u8, msg: String| {
        eprintln!("iam-sweeper: {msg}");
        ExitCode::from(code)
    };
    let settings: Settings = match settings_from_env() {
        Ok(s) => s,
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
    if let Some(org_event) = crate::core::org::detect(&event) {
        return run_org_invoke(&rt, &settings, org_event);
    }
    let result = rt.block_on(async {
        let account = AwsAccount::new(&sdk::load_sdk_config().await);
        sweep::handle(&account, &settings, &event, Utc::now(), None).await
    });
    let print = |report: &RunReport| {
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
        Err(e @ RunError::Failed(_)) => {
            if let Some(report) = e.report() {
                print(report);
            }
            fail(EXIT_RUN_FAILED, e.to_string())
        }
        Err(e) if e.is_bad_input() => fail(EXIT_BAD_INPUT, e.to_string()),
        Err(e) => fail(EXIT_RUN_FAILED, e.to_string()),
    }
}

/// Runs an organization event once (a worker's batch, the listing, the digest) and prints its
/// JSON result; a failed digest prints its summary too.
fn run_org_invoke(
    rt: &tokio::runtime::Runtime,
    settings: &Settings,
    event: Result<crate::core::org::OrgEvent, crate::core::org::OrgEventError>,
) -> ExitCode {
    use crate::app::org::{OrgOutput, OrgRunError};
    let result = rt.block_on(async {
        let config = sdk::load_sdk_config().await;
        let account = AwsAccount::new(&config);
        crate::lambda::run_org_event(&config, &account, settings, event, None).await
    });
    let print = |out: &OrgOutput| match serde_json::to_string_pretty(out) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("iam-sweeper: cannot write the result: {e}"),
    };
    match result {
        Ok(out) => {
            print(&out);
            ExitCode::SUCCESS
        }
        Err(OrgRunError::Digest(summary)) => {
            let message = OrgRunError::Digest(summary.clone()).to_string();
            print(&OrgOutput::Digest(*summary));
            eprintln!("iam-sweeper: {message}");
            ExitCode::from(EXIT_RUN_FAILED)
        }
        Err(e) => {
            eprintln!("iam-sweeper: {e}");
            ExitCode::from(if e.is_bad_input() {
                EXIT_BAD_INPUT
            } else {
                EXIT_RUN_FAILED
            })
        }
    }
}

fn run_audit(path: &PathBuf, now: DateTime<Utc>, format: Format, region: &str) -> ExitCode {
    let fail = |msg: String| {
        eprintln!("iam-sweeper: {msg}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let policy = match settings_from_env() {
        Ok(s) => s.policy,
        Err(e) => return fail(e.to_string()),
    };
    let stdin = path.as_os_str() == "-";
    let bytes = if stdin {
        let mut b = Vec::new();
        match std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut b) {
            Ok(_) => b,
            Err(e) => return fail(format!("cannot read the report from standard input: {e}")),
        }
    } else {
        match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return fail(format!("cannot read {}: {e}", path.display())),
        }
    };
    let source = if stdin {
        "standard input".to_string()
    } else {
        path.display().to_string()
    };
    let records = match report::parse(&bytes) {
        Ok(r) => r,
        Err(e) => return fail(format!("{source}: {e}")),
    };
    let audit = Audit::new(&records, &policy, now);
    match format {
        Format::Text => print!("{}", render::audit::render_text(&audit)),
        Format::Json => match serde_json::to_string_pretty(&audit) {
            Ok(json) => println!("{json}"),
            Err(e) => return fail(format!("cannot encode the audit as JSON: {e}")),
        },
        Format::Asff => {
            let Some(account) = run::account_id(records.iter().map(|r| r.arn.as_str())) else {
                return fail(format!(
                    "{source}: the report names no ARN, so the account of the Security Hub findings is unknown"
                ));
            };
            let ctx = asff::Context::new(&account, region, now, policy.cis_version);
            match serde_json::to_string_pretty(&asff::documents(&audit.findings, &[], &ctx)) {
                Ok(json) => println!("{json}"),
                Err(e) => return fail(format!("cannot encode the findings as ASFF: {e}")),
            }
        }
    }
    if audit.has_findings() {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}
