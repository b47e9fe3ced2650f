//! The audit as a readable table: one section per verdict, then the totals.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::core::audit::{Audit, Verdict};
use crate::core::finding::Finding;

/// The heading of a verdict's section.
fn title(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Act => "Action due (enforce mode acts on these)",
        Verdict::Upcoming => "Upcoming (will be due within WARN_DAYS)",
        Verdict::Reported => "Reported (matched a rule, no action due)",
        Verdict::Root => "Root access keys (reported only, never acted on)",
        Verdict::Exempt => "Exempt (reported, never acted on)",
    }
}

/// A readable table grouped by verdict, then the totals.
pub fn render_text(audit: &Audit) -> String {
    let mut out = String::new();
    let p = &audit.policy;
    let _ = writeln!(
        out,
        "iam-sweeper audit as of {} (mode {}, CIS {}, stale after {} d, disable after {} d, warn {} d)",
        audit.as_of.to_rfc3339_opts(SecondsFormat::Secs, true),
        p.mode,
        p.cis_version,
        p.stale_after_days,
        p.disable_after_days,
        p.warn_days
    );
    for verdict in Verdict::ALL {
        let rows: Vec<&Finding> = audit
            .findings
            .iter()
            .filter(|f| Verdict::of(f) == verdict)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{} [{}]", title(verdict), rows.len());
        let mut table = vec![[
            "USER".to_string(),
            "CREDENTIAL".into(),
            "RULES".into(),
            "LAST ACTIVITY".into(),
            "IDLE".into(),
            "DUE".into(),
            "ACTION".into(),
            "NOTE".into(),
        ]];
        for f in rows {
            table.push(row(f));
        }
        write_table(&mut out, &table);
    }
    if let Some(line) = &audit.looser_than_cis {
        let _ = writeln!(out, "\n{line}");
    }
    if audit.no_root_row {
        let _ = writeln!(
            out,
            "\nThe report has no <root_account> row: AWS always writes one, so this report was not read from AWS as it is"
        );
    }
    for p in &audit.exempt_users_unmatched {
        let _ = writeln!(
            out,
            "\nEXEMPT_USERS pattern `{p}` names no user in the report"
        );
    }
    let c = &audit.counts;
    let _ = writeln!(
        out,
        "\n{} findings: {} stale, {} due, {} upcoming, {} initial-setup keys, {} root access keys, {} exempt, {} actions planned",
        c.findings,
        c.stale,
        c.disable_due,
        c.upcoming,
        c.initial_setup_keys,
        c.root_access_keys,
        c.exempt,
        c.actions_planned
    );
    out
}

fn row(f: &Finding) -> [String; 8] {
    let date = |t: &Option<DateTime<Utc>>| {
        t.map_or("-".to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
    };
    let rules: Vec<&str> = f.rules.iter().map(|r| r.as_str()).collect();
    let last = match f.last_activity_source {
        Some(src) => format!("{} ({src})", date(&f.last_activity)),
        None => "-".into(),
    };
    let mut note = Vec::new();
    if let Some(e) = &f.exemption {
        note.push(e.to_string());
    }
    if let Some(i) = &f.invalid_exemption {
        note.push(i.clone());
    }
    if let Some(s) = &f.last_used_service {
        note.push(format!("last used: {}", last_used(s, f)));
    }
    [
        f.user.clone(),
        f.credential.to_string(),
        if rules.is_empty() {
            "-".into()
        } else {
            rules.join(",")
        },
        last,
        f.idle_days.map_or("-".into(), |d| format!("{d} d")),
        date(&f.disable_on),
        f.action.to_string(),
        note.join("; "),
    ]
}

/// `s3 in us-east-1`, or `s3, region unknown` when the report has no region (`N/A`).
pub fn last_used(service: &str, f: &Finding) -> String {
    match &f.last_used_region {
        Some(region) => format!("{service} in {region}"),
        None => format!("{service}, region unknown"),
    }
}

fn write_table<const N: usize>(out: &mut String, rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in rows {
        let mut line = String::from("  ");
        for (i, (cell, w)) in r.iter().zip(widths).enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}
