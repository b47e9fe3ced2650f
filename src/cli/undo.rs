//! `iam-sweeper undo RUN_ID [--user NAME] [--apply]` and `iam-sweeper runs [--since DATE]`: the
//! operator's side of the journal, with the operator's own AWS credentials (the standard
//! environment and profile chain, as `invoke` uses).
//!
//! The journal is where the function writes it: `JOURNAL_BUCKET` / `JOURNAL_PREFIX` (or
//! `--bucket` / `--prefix`), in the tree of the caller's account (STS `GetCallerIdentity`, or
//! `--account`). The per-action lines go to stdout; the header, the totals and the logs to
//! stderr.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use super::{EXIT_BAD_INPUT, EXIT_RUN_FAILED};
use crate::app::undo::{self, Request};
use crate::aws::{self as sdk, AwsAccount, identity};
use crate::core::config::{self, JournalPlace};
use crate::core::journal;
use crate::core::undo::parse_since;
use crate::lambda::runtime;
use crate::render::undo as show;

/// Where the journal is and whose tree to read.
#[derive(Args)]
pub struct JournalArgs {
    /// The journal's bucket [default: JOURNAL_BUCKET].
    #[arg(long, value_name = "BUCKET")]
    bucket: Option<String>,
    /// The journal's key prefix [default: JOURNAL_PREFIX].
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// The account whose journal is read [default: the caller's, from STS GetCallerIdentity].
    #[arg(long, value_name = "ACCOUNT_ID")]
    account: Option<String>,
}

#[derive(Args)]
pub struct UndoArgs {
    /// The run to reverse: its run_id, as `iam-sweeper runs`, the summary mail and the result
    /// show it.
    run_id: String,
    /// Only this user's credentials.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Make the changes; without it, only print what would be done.
    #[arg(long)]
    apply: bool,
    #[command(flatten)]
    journal: JournalArgs,
}

#[derive(Args)]
pub struct RunsArgs {
    /// Only runs started on or after this date (2026-12-01, UTC) or time (RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    since: Option<DateTime<Utc>>,
    /// Output format: one line per run, or a JSON array.
    #[arg(long, value_enum, default_value_t = RunsFormat::Text)]
    format: RunsFormat,
    #[command(flatten)]
    journal: JournalArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum RunsFormat {
    Text,
    Json,
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("iam-sweeper: {msg}");
    ExitCode::from(code)
}

/// The journal's place: the flags over the environment, checked as the function checks them.
fn place(args: &JournalArgs) -> Result<JournalPlace, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let bucket = args.bucket.clone().or_else(|| env("JOURNAL_BUCKET"));
    let prefix = args.prefix.clone().or_else(|| env("JOURNAL_PREFIX"));
    let (_, runtime) = config::from_lookup(|name| match name {
        "JOURNAL_BUCKET" => bucket.clone(),
        "JOURNAL_PREFIX" => prefix.clone(),
        _ => None,
    })
    .map_err(|e| e.to_string())?;
    runtime.journal.ok_or_else(|| {
        "no journal: set JOURNAL_BUCKET (and JOURNAL_PREFIX) to the function's values, or pass --bucket (and --prefix)".to_string()
    })
}

/// The account to read and the caller's ARN: `--account`, else the caller's.
async fn target(
    args: &JournalArgs,
    config: &aws_config::SdkConfig,
) -> Result<(String, Option<String>), identity::IdentityError> {
    if let Some(account) = &args.account {
        return Ok((account.clone(), None));
    }
    let caller = identity::caller(config).await?;
    Ok((caller.account, caller.arn))
}

/// `iam-sweeper undo`.
pub fn run_undo(args: UndoArgs) -> ExitCode {
    crate::logging::init_local();
    let place = match place(&args.journal) {
        Ok(p) => p,
        Err(e) => return fail(EXIT_BAD_INPUT, &e),
    };
    if !journal::is_run_id(&args.run_id) {
        let e = undo::UndoError::NotARunId(args.run_id.clone());
        return fail(EXIT_BAD_INPUT, &e.to_string());
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                EXIT_RUN_FAILED,
                &format!("cannot start the async runtime: {e}"),
            );
        }
    };
    rt.block_on(async {
        let config = sdk::load_sdk_config().await;
        let (account_id, operator) = match target(&args.journal, &config).await {
            Ok(t) => t,
            Err(e) => return fail(EXIT_RUN_FAILED, &e.to_string()),
        };
        let aws = AwsAccount::new(&config);
        let req = Request {
            place: &place,
            account: &account_id,
            run_id: &args.run_id,
            user: args.user.as_deref(),
            apply: args.apply,
            operator: operator.as_deref(),
            now: Utc::now(),
        };
        match undo::undo(&aws, &req).await {
            Ok(u) => {
                eprintln!("{}", show::header(&u));
                for line in show::lines(&u) {
                    println!("{line}");
                }
                eprintln!("{}", show::footer(&u));
                if u.complete() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_RUN_FAILED)
                }
            }
            Err(e) if e.is_bad_input() => fail(EXIT_BAD_INPUT, &e.to_string()),
            Err(e) => fail(EXIT_RUN_FAILED, &e.to_string()),
        }
    })
}

/// `iam-sweeper runs`.
pub fn run_runs(args: RunsArgs) -> ExitCode {
    crate::logging::init_local();
    let place = match place(&args.journal) {
        Ok(p) => p,
        Err(e) => return fail(EXIT_BAD_INPUT, &e),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                EXIT_RUN_FAILED,
                &format!("cannot start the async runtime: {e}"),
            );
        }
    };
    rt.block_on(async {
        let config = sdk::load_sdk_config().await;
        let (account_id, _) = match target(&args.journal, &config).await {
            Ok(t) => t,
            Err(e) => return fail(EXIT_RUN_FAILED, &e.to_string()),
        };
        let aws = AwsAccount::new(&config);
        let runs = match undo::runs(&aws, &place, &account_id, args.since).await {
            Ok(r) => r,
            Err(e) => return fail(EXIT_RUN_FAILED, &format!("cannot read the journal: {e}")),
        };
        match args.format {
            RunsFormat::Json => match serde_json::to_string_pretty(&show::runs_json(&runs)) {
                Ok(json) => println!("{json}"),
                Err(e) => return fail(EXIT_RUN_FAILED, &format!("cannot encode the runs: {e}")),
            },
            RunsFormat::Text => {
                if runs.is_empty() {
                    eprintln!(
                        "no journaled runs of account {account_id} under s3://{}/{}{account_id}/runs/",
                        place.bucket, place.prefix
                    );
                }
                for line in show::run_lines(&runs) {
                    println!("{line}");
                }
            }
        }
        if runs.iter().all(|r| r.manifest.is_ok()) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_RUN_FAILED)
        }
    })
}
