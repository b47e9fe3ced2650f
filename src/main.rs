//! The `iam-sweeper` binary: the offline `audit` command.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use iam_sweeper::audit::{self, Audit};
use iam_sweeper::{config, report};

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
    let cli = Cli::parse();
    match cli.command {
        Command::Audit {
            report,
            as_of,
            format,
        } => run_audit(&report, as_of.unwrap_or_else(Utc::now), format),
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
