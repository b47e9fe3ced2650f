//! The organization's digest mail: one SNS message for a whole organization sweep.
//!
//! The subject gives the totals (and FAILED when anything failed); the body the totals, one line
//! per account (failed accounts first), every action with its account and its undo command, and
//! the accounts the listing skipped with their reasons.

use std::fmt::Write as _;

use crate::core::config::Mode;
use crate::core::org::{AccountResult, AccountStatus, Digest};
use crate::core::outcome::Status;
use crate::core::run::Counter;
use crate::render::summary::{Message, clean_subject, join_within_budget};

/// The digest mail.
pub fn build(d: &Digest) -> Message {
    Message {
        subject: subject(d),
        body: body(d),
        attributes: attributes(d),
    }
}

/// The mode the accounts ran in: one mode, or `mixed`, or `unknown` when no run started.
fn mode(d: &Digest) -> String {
    let mut modes = d.accounts.iter().filter_map(|a| a.mode);
    match modes.next() {
        None => "unknown".into(),
        Some(first) if modes.all(|m| m == first) => first.to_string(),
        Some(_) => "mixed".into(),
    }
}

fn failed_count(d: &Digest) -> usize {
    d.failed_accounts().count()
}

/// `iam-sweeper FAILED org enforce: 12 accounts (2 failed), 5 done, 40 findings, 3 upcoming`.
pub fn subject(d: &Digest) -> String {
    let status = if d.failed() { "FAILED " } else { "" };
    let acting = if mode(d) == Mode::Report.to_string() {
        format!("{} would act", d.total(Counter::ActionsPlanned))
    } else {
        let mut s = format!("{} done", d.total(Counter::Done));
        if d.total(Counter::Failed) > 0 {
            let _ = write!(s, ", {} actions failed", d.total(Counter::Failed));
        }
        s
    };
    let failed = match failed_count(d) {
        0 => String::new(),
        n => format!(" ({n} failed)"),
    };
    let s = format!(
        "iam-sweeper {status}org {}: {} accounts{failed}, {acting}, {} findings, {} upcoming",
        mode(d),
        d.accounts.len(),
        d.total(Counter::Findings),
        d.total(Counter::Upcoming),
    );
    clean_subject(&s)
}

fn attributes(d: &Digest) -> Vec<(String, String)> {
    vec![
        ("scope".into(), "organization".into()),
        (
            "status".into(),
            if d.failed() { "failed" } else { "ok" }.into(),
        ),
        ("mode".into(), mode(d)),
        ("execution".into(), d.execution.clone()),
        ("accounts".into(), d.accounts.len().to_string()),
        ("accounts_failed".into(), failed_count(d).to_string()),
        ("actions_done".into(), d.total(Counter::Done).to_string()),
        ("findings".into(), d.total(Counter::Findings).to_string()),
    ]
}

/// The body, cut under SNS's 256 KB limit with a count of the lines left out.
pub fn body(d: &Digest) -> String {
    let mut lines: Vec<String> = Vec::new();
    let failed = failed_count(d);
    let skipped = d.skipped.len() + d.skipped_omitted;
    lines.push(format!(
        "iam-sweeper organization sweep, execution {}",
        d.execution
    ));
    lines.push(String::new());
    lines.push(format!("Mode:              {}", mode(d)));
    lines.push(format!(
        "Accounts:          {} swept: {} ok, {failed} failed; {skipped} skipped",
        d.accounts.len(),
        d.accounts.len() - failed,
    ));
    let t = |c: Counter| d.total(c);
    lines.push(format!(
        "Findings:          {} ({} stale, {} upcoming, {} initial-setup keys, {} root access keys, {} exempt)",
        t(Counter::Findings),
        t(Counter::Stale),
        t(Counter::Upcoming),
        t(Counter::InitialSetupKeys),
        t(Counter::RootAccessKeys),
        t(Counter::Exempt),
    ));
    lines.push(format!(
        "Actions:           {} planned; {} done, {} already done, {} skipped (in use), {} failed, {} not taken",
        t(Counter::ActionsPlanned),
        t(Counter::Done),
        t(Counter::AlreadyDone),
        t(Counter::SkippedInUse),
        t(Counter::Failed),
        t(Counter::NotTaken),
    ));
    if d.failed() {
        lines.push(String::new());
        lines.push("THIS SWEEP FAILED:".into());
        if failed > 0 {
            lines.push(format!(
                "  - {failed} account(s) failed; they are listed first below"
            ));
        }
        for p in &d.problems {
            lines.push(format!("  - {p}"));
        }
    }

    lines.push(String::new());
    lines.push(format!("ACCOUNTS [{}] (failed first)", d.accounts.len()));
    for a in &d.accounts {
        lines.push(account_line(a));
        for p in &a.problems {
            lines.push(format!("    problem: {p}"));
        }
    }

    let actions: usize = d.accounts.iter().map(|a| a.actions.len()).sum();
    if actions > 0 {
        lines.push(String::new());
        lines.push(format!(
            "ACTIONS [{actions}] (run an undo command with credentials for the account named)"
        ));
        for a in &d.accounts {
            for x in &a.actions {
                let mut line =
                    format!("- {} {}: {} {}", a.account_id, a.name, x.user, x.credential);
                if let Some(k) = &x.access_key_id {
                    let _ = write!(line, " {k}");
                }
                let _ = write!(line, ": {}", what(&x.action, x.status));
                lines.push(line);
                if let Some(detail) = &x.detail {
                    lines.push(format!("    why: {detail}"));
                }
                if let Some(undo) = &x.undo {
                    lines.push(format!("    undo (account {}): {undo}", a.account_id));
                }
            }
            if a.omitted_actions > 0 {
                lines.push(format!(
                    "- {} {}: {} more action(s) not listed; see the account's run {} in the logs",
                    a.account_id,
                    a.name,
                    a.omitted_actions,
                    a.run_id.as_deref().unwrap_or("")
                ));
            }
        }
    }

    if skipped > 0 {
        lines.push(String::new());
        lines.push(format!("SKIPPED [{skipped}] (not swept)"));
        for s in &d.skipped {
            lines.push(format!("- {} {}: {}", s.id, s.name, s.reason));
        }
        if d.skipped_omitted > 0 {
            lines.push(format!(
                "- and {} more; the listing step's result names them",
                d.skipped_omitted
            ));
        }
    }
    lines.push(String::new());
    lines.push(
        "Each account's findings and actions are in the function's logs, under its account ID."
            .into(),
    );
    join_within_budget(lines)
}

/// `key deactivated` for an action taken, `deactivate key: not_taken` otherwise.
fn what(action: &str, status: Status) -> String {
    let (verb, done) = match action {
        "deactivate_key" => ("deactivate key", "key deactivated"),
        "delete_key" => ("delete key", "key deleted"),
        "delete_login_profile" => ("delete console password", "console password deleted"),
        other => (other, other),
    };
    if status == Status::Done {
        done.to_string()
    } else {
        format!("{verb}: {status}")
    }
}

/// `- 111122223333 prod: FAILED` or `- 111122223333 prod: ok, 3 findings, 1 done, 2 upcoming`.
fn account_line(a: &AccountResult) -> String {
    let status = match a.status {
        AccountStatus::Failed => "FAILED",
        AccountStatus::Ok => "ok",
    };
    let mut line = format!("- {} {}: {status}", a.account_id, a.name);
    if a.counts.is_empty() {
        return line;
    }
    let count = |c: Counter| a.counts.get(c.name()).copied().unwrap_or(0);
    let _ = write!(line, ", {} findings", count(Counter::Findings));
    let shown: &[(Counter, &str)] = if a.mode == Some(Mode::Report) {
        &[(Counter::ActionsPlanned, "would act")]
    } else {
        &[
            (Counter::Done, "done"),
            (Counter::Failed, "failed"),
            (Counter::SkippedInUse, "skipped"),
            (Counter::NotTaken, "not taken"),
        ]
    };
    for (c, label) in shown {
        if count(*c) > 0 {
            let _ = write!(line, ", {} {label}", count(*c));
        }
    }
    if count(Counter::Upcoming) > 0 {
        let _ = write!(line, ", {} upcoming", count(Counter::Upcoming));
    }
    if let Some(run) = &a.run_id {
        let _ = write!(line, " (run {run})");
    }
    line
}
