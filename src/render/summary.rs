//! The run summary as an email reader sees it: a short subject, a plain-text body with one section
//! per kind of outcome, and message attributes for subscription filters.
//!
//! Each line names the user, the credential, the key ID where there is one, the idle days and,
//! when the report has them, the service and region of last use, so an owner can find the
//! workload. Every action taken carries the command that undoes it.

use std::fmt::Write as _;

use chrono::SecondsFormat;

use crate::core::audit::Verdict;
use crate::core::config::Mode;
use crate::core::finding::{Action, Finding};
use crate::core::outcome::{Outcome, Status};
use crate::core::run::{Counter, RunReport};

/// One SNS message, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Email subject line (SNS requires under 100 printable ASCII characters, no line breaks).
    pub subject: String,
    /// The message text (SNS allows up to 256 KB).
    pub body: String,
    /// Message attributes, sent with data type `String` so subscriptions can filter on them.
    pub attributes: Vec<(String, String)>,
}

/// SNS's limit for a message body, in bytes.
pub const MAX_BODY_BYTES: usize = 262_144;
/// The body is cut a little below the limit to leave room for the truncation note.
const BODY_BUDGET: usize = MAX_BODY_BYTES - 4_096;
/// SNS requires subjects under 100 characters.
const MAX_SUBJECT: usize = 99;

/// Builds the SNS message for a run.
pub fn build(r: &RunReport) -> Message {
    Message {
        subject: subject(r),
        body: body(r),
        attributes: attributes(r),
    }
}

/// The message for a run that failed before it could act (the report could not be had or read):
/// what failed, and that nothing was touched. The account comes from the topic's ARN, as the
/// report that names it was not read.
pub fn failure(
    policy: &crate::core::config::Policy,
    topic_arn: &str,
    run_id: &str,
    error: &str,
) -> Message {
    let account = topic_arn
        .split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .unwrap_or("unknown-account");
    let subject = format!(
        "iam-sweeper FAILED {account} {}: no report, nothing done",
        policy.mode
    );
    let body = [
        format!("iam-sweeper run for AWS account {account} FAILED"),
        String::new(),
        format!("Run ID:            {run_id}"),
        format!("Mode:              {}", policy.mode),
        format!("What failed:       {error}"),
        String::new(),
        "Nothing was touched: the run stopped before its action phase, so no credential was changed.".into(),
        "The next scheduled run tries again; the function's logs have the details.".into(),
    ]
    .join("\n")
        + "\n";
    Message {
        subject: clean_subject(&subject),
        body,
        attributes: vec![
            ("mode".into(), policy.mode.to_string()),
            ("status".into(), "failed".into()),
            ("account".into(), account.to_string()),
        ],
    }
}

/// Printable ASCII under SNS's subject limit.
pub(crate) fn clean_subject(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(MAX_SUBJECT)
        .collect()
}

/// `iam-sweeper 123456789012 enforce: 3 done, 1 failed, 2 upcoming` — printable ASCII, < 100 chars.
pub fn subject(r: &RunReport) -> String {
    // Enforce mode counts what was done (the first always, the others when not zero); report
    // mode what would be. Both end with the findings and the upcoming credentials.
    let shown: &[(Counter, bool)] = if r.audit.policy.mode == Mode::Enforce {
        &[
            (Counter::Done, true),
            (Counter::Failed, false),
            (Counter::SkippedInUse, false),
            (Counter::NotTaken, false),
        ]
    } else {
        &[(Counter::ActionsPlanned, true)]
    };
    let parts: Vec<String> = shown
        .iter()
        .chain(&[(Counter::Findings, true), (Counter::Upcoming, true)])
        .filter(|(c, always)| *always || r.count(*c) > 0)
        .filter_map(|(c, _)| Some(format!("{} {}", r.count(*c), c.subject_label()?)))
        .collect();
    let status = if r.failed() { "FAILED " } else { "" };
    let s = format!(
        "iam-sweeper {}{} {}: {}",
        status,
        r.account_id.as_deref().unwrap_or("unknown-account"),
        r.audit.policy.mode,
        parts.join(", ")
    );
    clean_subject(&s)
}

fn attributes(r: &RunReport) -> Vec<(String, String)> {
    use strum::IntoEnumIterator;
    let mut out = vec![
        ("mode".to_string(), r.audit.policy.mode.to_string()),
        (
            "status".into(),
            if r.failed() { "failed" } else { "ok" }.into(),
        ),
        ("account".into(), r.account_id.clone().unwrap_or_default()),
    ];
    out.extend(
        Counter::iter().filter_map(|c| Some((c.attribute()?.to_string(), r.count(c).to_string()))),
    );
    out.into_iter().filter(|(_, v)| !v.is_empty()).collect()
}

/// The body, cut under SNS's 256 KB limit with a count of the lines left out.
pub fn body(r: &RunReport) -> String {
    let mut lines: Vec<String> = Vec::new();
    header(r, &mut lines);
    let outcomes = |s: Status| r.actions.iter().filter(move |o| o.status == s);

    section(
        &mut lines,
        "ACTIONS TAKEN",
        outcomes(Status::Done).map(|o| outcome_lines(r, o)),
    );
    section(
        &mut lines,
        "ALREADY DONE (gone or disabled before this run acted)",
        outcomes(Status::AlreadyDone).map(|o| outcome_lines(r, o)),
    );
    section(
        &mut lines,
        "FAILED",
        outcomes(Status::Failed).map(|o| outcome_lines(r, o)),
    );
    section(
        &mut lines,
        "SKIPPED: USED SINCE THE REPORT",
        outcomes(Status::SkippedInUse).map(|o| outcome_lines(r, o)),
    );
    if r.audit.policy.mode == Mode::Report {
        let title = "WOULD ACT (report mode: nothing was changed; enforce mode takes these)";
        section(
            &mut lines,
            title,
            r.actions.iter().map(|o| outcome_lines(r, o)),
        );
    } else {
        section(
            &mut lines,
            "NOT TAKEN",
            outcomes(Status::NotTaken).map(|o| outcome_lines(r, o)),
        );
    }
    let findings = |v: Verdict| r.audit.findings.iter().filter(move |f| Verdict::of(f) == v);
    section(
        &mut lines,
        "UPCOMING (will be disabled on the date shown unless used)",
        findings(Verdict::Upcoming).map(|f| vec![finding_line(f)]),
    );
    section(
        &mut lines,
        "STALE, NO ACTION DUE YET",
        findings(Verdict::Reported).map(|f| vec![finding_line(f)]),
    );
    section(
        &mut lines,
        "ROOT ACCESS KEYS (never acted on; remove them by hand)",
        findings(Verdict::Root).map(|f| vec![finding_line(f)]),
    );
    section(
        &mut lines,
        "EXEMPT",
        findings(Verdict::Exempt).map(|f| vec![finding_line(f)]),
    );
    let invalid: Vec<Vec<String>> = r
        .audit
        .findings
        .iter()
        .filter_map(|f| {
            f.invalid_exemption
                .as_ref()
                .map(|e| vec![format!("- {} {}: {e}", f.user, f.credential)])
        })
        .collect();
    section(
        &mut lines,
        "INVALID EXEMPTION TAGS (not honoured)",
        invalid.into_iter(),
    );
    section(
        &mut lines,
        "EXEMPT_USERS PATTERNS THAT NAME NO USER (check for a typo)",
        r.audit
            .exempt_users_unmatched
            .iter()
            .map(|p| vec![format!("- {p}")]),
    );
    section(
        &mut lines,
        "TAGS UNREADABLE (users not acted on)",
        r.tag_errors.iter().map(|e| vec![format!("- {e}")]),
    );
    lines.push(String::new());
    lines.push("Full details of every finding and action are in the function's logs.".into());
    join_within_budget(lines)
}

fn header(r: &RunReport, out: &mut Vec<String>) {
    let p = &r.audit.policy;
    let c = &r.audit.counts;
    let a = &r.action_counts;
    let time = |t: &chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    out.push(format!(
        "iam-sweeper run for AWS account {}",
        r.account_id.as_deref().unwrap_or("(unknown)")
    ));
    out.push(String::new());
    out.push(format!("Run ID:            {}", r.run_id));
    out.push(format!("Run time:          {}", time(&r.audit.as_of)));
    let mut mode = p.mode.to_string();
    if r.invocation.dry_run_requested {
        mode.push_str(" (dry run requested by the invocation event)");
    }
    if r.invocation.as_of.is_some() {
        mode.push_str(" (what-if: evaluated as of the run time above)");
    }
    out.push(format!("Mode:              {mode}"));
    out.push(format!(
        "Thresholds:        stale after {} days, disabled after {} days, warned {} days ahead",
        p.stale_after_days, p.disable_after_days, p.warn_days
    ));
    out.push(format!(
        "Initial-setup keys: created within {} s of the user, acted on after {} days ({})",
        p.initial_key_window_seconds, p.initial_key_grace_days, p.initial_key_action
    ));
    out.push(format!(
        "Benchmark:         CIS AWS Foundations {} (findings carry its control IDs)",
        p.cis_version
    ));
    if let Some(line) = &r.audit.looser_than_cis {
        out.push(format!("Note:              {line}"));
    }
    if r.audit.no_root_row {
        out.push(
            "Note:              the report has no <root_account> row; AWS always writes one, so check where it came from"
                .into(),
        );
    }
    out.push(format!(
        "Report generated:  {}",
        r.report_generated_time
            .as_ref()
            .map_or("(unknown)".into(), time)
    ));
    out.push(format!(
        "Findings:          {} ({} stale, {} upcoming, {} initial-setup keys, {} root access keys, {} exempt)",
        c.findings, c.stale, c.upcoming, c.initial_setup_keys, c.root_access_keys, c.exempt
    ));
    out.push(format!(
        "Actions:           {} planned; {} done, {} already done, {} skipped (in use), {} failed, {} not taken",
        c.actions_planned, a.done, a.already_done, a.skipped_in_use, a.failed, a.not_taken
    ));
    match &r.journal {
        Some(place) => out.push(format!(
            "Journal:           {place} (undo: iam-sweeper undo {} --apply)",
            r.run_id
        )),
        None => out.push("Journal:           none (JOURNAL_BUCKET is not set)".into()),
    }
    let m = &r.owner_mail;
    if m.sent + m.no_address + m.failed > 0 {
        out.push(format!(
            "Owner mail:        {} sent, {} credential(s) whose user has no address tag, {} not sent",
            m.sent, m.no_address, m.failed
        ));
    }
    if r.failed() {
        out.push(String::new());
        out.push("THIS RUN FAILED:".into());
        for p in &r.problems {
            out.push(format!("  - {p}"));
        }
    }
}

fn section(out: &mut Vec<String>, title: &str, items: impl Iterator<Item = Vec<String>>) {
    let items: Vec<Vec<String>> = items.collect();
    if items.is_empty() {
        return;
    }
    out.push(String::new());
    out.push(format!("{title} [{}]", items.len()));
    out.extend(items.into_iter().flatten());
}

fn outcome_lines(r: &RunReport, o: &Outcome) -> Vec<String> {
    let f = r
        .audit
        .findings
        .iter()
        .find(|f| f.user == o.user && f.credential == o.credential);
    let what = match (o.status, o.taken) {
        (Status::Done, Some(a)) => past_tense(a),
        _ => o.planned.as_str(),
    };
    let mut line = format!("- {} {}", o.user, o.credential);
    if let Some(k) = &o.access_key_id {
        let _ = write!(line, " {k}");
    }
    let _ = write!(line, ": {what}");
    if let Some(f) = f {
        line.push_str(&context(f));
    }
    let mut out = vec![line];
    if let Some(d) = &o.detail {
        out.push(format!(
            "    {}: {d}",
            if o.status == Status::Failed {
                "error"
            } else {
                "why"
            }
        ));
    }
    if let Some(u) = &o.undo {
        out.push(format!("    undo: {u}"));
    }
    out
}

fn past_tense(a: Action) -> &'static str {
    match a {
        Action::DeactivateKey => "key deactivated",
        Action::DeleteKey => "key deleted",
        Action::DeleteLoginProfile => "console password deleted",
        Action::None => "nothing",
    }
}

fn finding_line(f: &Finding) -> String {
    let mut line = format!("- {} {}", f.user, f.credential);
    line.push_str(&context(f));
    if let Some(d) = f.disable_on {
        let _ = write!(line, "; disabled on {}", d.format("%Y-%m-%d %H:%M UTC"));
    }
    if let Some(e) = &f.exemption {
        let _ = write!(line, "; exempt: {e}");
    }
    line
}

/// `(idle 120 days, last used s3 in us-east-1; unused-credentials)`
fn context(f: &Finding) -> String {
    let mut bits = Vec::new();
    if let Some(d) = f.idle_days {
        bits.push(format!("idle {d} days"));
    }
    if let Some(s) = &f.last_used_service {
        bits.push(format!(
            "last used {}",
            crate::render::audit::last_used(s, f)
        ));
    }
    let rules: Vec<&str> = f.rules.iter().map(|r| r.as_str()).collect();
    if !rules.is_empty() {
        bits.push(rules.join(", "));
    }
    if bits.is_empty() {
        String::new()
    } else {
        format!(" ({})", bits.join("; "))
    }
}

/// The lines joined, cut below SNS's message limit with a note saying how many were left out
/// (the run summary and the organization's digest).
pub(crate) fn join_within_budget(lines: Vec<String>) -> String {
    let mut out = String::new();
    let total = lines.len();
    for (i, line) in lines.into_iter().enumerate() {
        if out.len() + line.len() + 1 > BODY_BUDGET {
            let _ = write!(
                out,
                "\n... {} more lines left out to stay under SNS's 256 KB limit; see the function's logs for everything.\n",
                total - i
            );
            return out;
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}
