//! Owner mail (`SENDER_EMAIL`): after the action phase, each credential's owner is warned before
//! its action and told after it, at most once per stage.
//!
//! Which stage is due is [`crate::core::owner_mail`]'s; the words are
//! [`crate::render::owner_mail`]'s. The address is the user's `OWNER_EMAIL_TAG` tag, read right
//! here (`ListUserTags`). With a journal each mail is claimed by a write-once record before it
//! is sent, so a second run the same night, or the next run after a skipped night, sends what is
//! still due and nothing twice. A mail SES refuses is a run problem; its stage is not retried
//! (the record was claimed), and the summary names it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::app::Settings;
use crate::app::budget::CALL_TIMEOUT;
use crate::app::journal::Journal;
use crate::app::ports::{IamReads, Mailer, ObjectStore};
use crate::core::config::Policy;
use crate::core::finding::{Credential, Finding};
use crate::core::journal::MailStage;
use crate::core::outcome::{Outcome, Status};
use crate::core::owner_mail::{self, Dedup};
use crate::core::run::{OwnerMailCounts, Problem};
use crate::render::owner_mail::{self as words, OwnerMail};

/// The journal's record of one mail sent.
#[derive(Serialize)]
struct Sent<'a> {
    run_id: &'a str,
    at: DateTime<Utc>,
    to: &'a str,
    stage: MailStage,
    subject: &'a str,
}

/// One mail due: to the owner of `user`'s `credential`, for `stage` of the action due on `due`.
struct Due {
    user: String,
    credential: Credential,
    stage: MailStage,
    due: NaiveDate,
    mail: OwnerMail,
}

/// Sends the owner mail due after this run's actions.
#[allow(clippy::too_many_arguments)]
pub async fn send<A: IamReads + Mailer + ObjectStore>(
    account: &A,
    settings: &Settings,
    policy: &Policy,
    account_id: &str,
    findings: &[Finding],
    actions: &[Outcome],
    journal: Option<&Journal<'_, A>>,
    now: DateTime<Utc>,
) -> (OwnerMailCounts, Option<Problem>) {
    let mut counts = OwnerMailCounts::default();
    let Some(from) = &settings.runtime.sender_email else {
        return (counts, None);
    };
    let dedup = if journal.is_some() {
        Dedup::Journal
    } else {
        Dedup::Dates
    };
    let mut due: Vec<Due> = Vec::new();
    for f in findings {
        let (Some(stage), Some(on)) =
            (owner_mail::warning_due(f, policy, now, dedup), f.disable_on)
        else {
            continue;
        };
        due.push(Due {
            user: f.user.clone(),
            credential: f.credential,
            stage,
            due: on.date_naive(),
            mail: words::warning(account_id, f, stage, on, &policy.exempt_tag_key),
        });
    }
    for o in actions.iter().filter(|o| o.status == Status::Done) {
        due.push(Due {
            user: o.user.clone(),
            credential: o.credential,
            stage: MailStage::Acted,
            due: now.date_naive(),
            mail: words::acted(account_id, o),
        });
    }
    if due.is_empty() {
        return (counts, None);
    }
    // One tag read per user, whatever the number of their credentials due a mail.
    let mut addresses: BTreeMap<String, Result<Option<String>, String>> = BTreeMap::new();
    let mut first_error: Option<String> = None;
    for d in due {
        if !addresses.contains_key(&d.user) {
            let read = tokio::time::timeout(CALL_TIMEOUT, account.user_tags(&d.user))
                .await
                .map_err(|_| "ListUserTags: no answer in time".to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
                .map(|tags| owner_mail::owner_address(&tags, &settings.runtime.owner_email_tag));
            addresses.insert(d.user.clone(), read);
        }
        let to = match &addresses[&d.user] {
            Ok(Some(to)) => to.clone(),
            Ok(None) => {
                counts.no_address += 1;
                tracing::info!(target: "iam_sweeper::owner_mail", user = %d.user, credential = %d.credential, stage = d.stage.as_str(), "no owner address tag");
                continue;
            }
            Err(e) => {
                counts.failed += 1;
                first_error.get_or_insert_with(|| format!("{}: {e}", d.user));
                continue;
            }
        };
        if let Some(j) = journal {
            let record = Sent {
                run_id: j.run_id(),
                at: now,
                to: &to,
                stage: d.stage,
                subject: &d.mail.subject,
            };
            match j
                .claim_mail(&d.user, d.credential, d.due, d.stage, &record)
                .await
            {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    counts.failed += 1;
                    first_error.get_or_insert_with(|| format!("{}: {e}", d.user));
                    continue;
                }
            }
        }
        let sent = tokio::time::timeout(
            CALL_TIMEOUT,
            account.send_mail(from, &to, &d.mail.subject, &d.mail.body),
        )
        .await
        .map_err(|_| "SendEmail: no answer in time".to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
        match sent {
            Ok(id) => {
                counts.sent += 1;
                tracing::info!(target: "iam_sweeper::owner_mail", user = %d.user, credential = %d.credential, stage = d.stage.as_str(), message_id = %id, "owner mail sent");
            }
            Err(e) => {
                counts.failed += 1;
                tracing::error!(target: "iam_sweeper::owner_mail", user = %d.user, credential = %d.credential, stage = d.stage.as_str(), error = %e, "owner mail not sent");
                first_error.get_or_insert_with(|| format!("{}: {e}", d.user));
            }
        }
    }
    let problem = first_error.map(|first| Problem::OwnerMail {
        failed: counts.failed,
        first,
    });
    (counts, problem)
}
