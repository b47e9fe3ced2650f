//! The lines `iam-sweeper undo` and `iam-sweeper runs` print: one per action of the run, one
//! per journaled run.
//!
//! A re-created console password appears in exactly one place: its action's line, which goes
//! to the terminal (stdout) once. Nothing here logs.

use chrono::SecondsFormat;
use serde_json::{Value, json};

use crate::core::finding::{Action, Credential};
use crate::core::undo::{Cannot, Change, End, Item, RunEntry, Settled, Step, Undo, count};

/// The first line: which run, where, and whether anything is changed.
pub fn header(u: &Undo) -> String {
    let what = match (&u.undo_id, u.apply) {
        (_, false) => {
            "dry run, nothing is changed; add --apply to make the changes marked \"would\""
                .to_string()
        }
        (Some(id), true) => format!("applied as undo {id}"),
        (None, true) => "nothing needed changing".to_string(),
    };
    format!(
        "undo of run {} in account {} ({}): {what}",
        u.run_id, u.account, u.place
    )
}

/// One line per action, in the run's order.
pub fn lines(u: &Undo) -> Vec<String> {
    u.items.iter().map(line).collect()
}

/// The last line: how many of each.
pub fn footer(u: &Undo) -> String {
    let n = |f: fn(&End) -> bool| u.items.iter().filter(|i| f(&i.end)).count();
    let restored = n(|e| matches!(e, End::Reactivated | End::Recreated(_)));
    let would = n(|e| matches!(e, End::Would(_)));
    let nothing = n(|e| matches!(e, End::Nothing(_)));
    let cannot = n(|e| matches!(e, End::Cannot(_)));
    let failed = n(|e| matches!(e, End::Failed(_)));
    let unrecorded = u
        .items
        .iter()
        .filter(|i| i.record_problem.is_some())
        .count();
    let mut parts = Vec::new();
    if u.apply {
        parts.push(format!("{restored} restored"));
    } else {
        parts.push(format!("{would} would be restored"));
    }
    parts.push(format!("{nothing} nothing to do"));
    parts.push(format!("{cannot} cannot be restored"));
    parts.push(format!("{failed} failed"));
    if unrecorded > 0 {
        parts.push(format!("{unrecorded} not fully recorded in the journal"));
    }
    format!("{} action(s): {}", u.items.len(), parts.join(", "))
}

/// The line of one action.
pub fn line(i: &Item) -> String {
    let (verdict, detail) = verdict(i);
    let user = if i.user.is_empty() {
        "?"
    } else {
        i.user.as_str()
    };
    let credential = i.credential.map_or("?", Credential::as_str);
    let key = i
        .key_id
        .as_deref()
        .map(|k| format!(" {k}"))
        .unwrap_or_default();
    let action = i
        .action
        .filter(|a| *a != Action::None)
        .map(|a| format!(" [{}]", a.as_str()))
        .unwrap_or_default();
    let mut out = format!(
        "{:05}  {verdict:<17} {user} {credential}{key}{action}: {detail}",
        i.seq
    );
    if matches!(i.change, Some(Change::Unconfirmed | Change::NoOutcome))
        && !matches!(i.end, End::Nothing(Settled::NotChanged(_)))
    {
        out.push_str(match i.change {
            Some(Change::NoOutcome) => {
                " (the run recorded its intent but no outcome, so IAM was checked)"
            }
            _ => " (the run could not confirm its change, so IAM was checked)",
        });
    }
    if let Some(p) = &i.record_problem {
        out.push_str(&format!("; but {p}"));
    }
    out
}

fn verdict(i: &Item) -> (&'static str, String) {
    match &i.end {
        End::Would(Step::Reactivate { .. }) => (
            "would reactivate",
            "the run deactivated it and it is still Inactive".into(),
        ),
        End::Would(_) => (
            "would re-create",
            "the run deleted the console password; a new random one would be set, to be changed at first sign-in".into(),
        ),
        End::Nothing(s) => ("nothing to do", settled(s)),
        End::Cannot(Cannot::KeyDeleted { .. }) => (
            "not recoverable",
            format!(
                "the run deleted this key and a deleted key cannot be restored; issue a new one with `aws iam create-access-key --user-name {}`",
                i.user
            ),
        ),
        End::Cannot(c) => ("left alone", cannot(c)),
        End::Reactivated => ("reactivated", "the key is Active again".into()),
        End::Recreated(p) => (
            "re-created",
            format!(
                "console password set to {}  (one-time: it must be changed at first sign-in; shown only here, never logged)",
                p.expose()
            ),
        ),
        End::Failed(f) => ("failed", f.to_string()),
    }
}

fn settled(s: &Settled) -> String {
    match s {
        Settled::NotChanged(status) => format!("the run did not change it ({status})"),
        Settled::KeyActive => {
            "the key is Active already (restored earlier, or by someone else)".into()
        }
        Settled::PasswordPresent(at) => format!(
            "the user has a console password again (created {}); it is left as it is",
            at.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
        Settled::KeyNotDeleted { status } => {
            format!("the key was not deleted after all (it is {status})")
        }
        Settled::NoAction => "the run planned no change".into(),
    }
}

fn cannot(c: &Cannot) -> String {
    match c {
        Cannot::KeyDeleted { .. } => "a deleted key cannot be restored".into(),
        Cannot::KeyGone { key_id } => format!(
            "key {key_id} is no longer there (deleted or replaced since the run); nothing is guessed"
        ),
        Cannot::KeyStatus { status, .. } => {
            format!("the key is {status}, not Inactive; it is left as it is")
        }
        Cannot::UserGone => "the user no longer exists".into(),
        Cannot::NoKeyId => {
            "the journal names no access key ID, so the key cannot be identified".into()
        }
    }
}

/// One line per journaled run: ID, mode, start, counts of done / failed / not taken, problems.
pub fn run_lines(runs: &[RunEntry]) -> Vec<String> {
    runs.iter()
        .map(|r| match &r.manifest {
            Ok(m) => format!(
                "{}  {:<7}  started {}  done {}  failed {}  not taken {}  problems {}",
                r.run_id,
                m.mode,
                m.started.to_rfc3339_opts(SecondsFormat::Secs, true),
                count(m, "done"),
                count(m, "failed"),
                count(m, "not_taken"),
                m.problems.len()
            ),
            Err(e) => format!("{}  manifest unreadable: {e}", r.run_id),
        })
        .collect()
}

/// `runs --format json`: an array, newest first.
pub fn runs_json(runs: &[RunEntry]) -> Value {
    runs.iter()
        .map(|r| match &r.manifest {
            Ok(m) => json!({
                "run_id": r.run_id,
                "account": m.account,
                "mode": m.mode,
                "started": m.started,
                "finished": m.finished,
                "done": count(m, "done"),
                "failed": count(m, "failed"),
                "not_taken": count(m, "not_taken"),
                "already_done": count(m, "already_done"),
                "skipped_in_use": count(m, "skipped_in_use"),
                "intents": m.intents,
                "problems": m.problems,
            }),
            Err(e) => json!({ "run_id": r.run_id, "error": e }),
        })
        .collect()
}
