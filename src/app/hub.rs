//! Security Hub (`SECURITY_HUB=true`): every finding of the run imported, and the findings this
//! tool raised earlier whose credential is fixed now closed.
//!
//! Runs after the action phase (so each finding carries its outcome and, when the re-check
//! resolved it, its key ID) and before the summary is published (so a failed import is in the
//! mail). In order:
//!
//! 1. `GetFindings` pages (≤ 3 calls a second, Security Hub's rate) list this tool's active
//!    findings: the product ARN of the account's own findings, this tool's generator IDs,
//!    `RecordState=ACTIVE`.
//! 2. The run's documents ([`crate::render::asff`]) keep the creation time of the finding they
//!    update; every listed finding the run no longer raises gets a closing document (PASSED,
//!    ARCHIVED).
//! 3. `BatchImportFindings` in batches of at most 100 documents and 6 MB, ≤ 10 calls a second.
//!    Throttling is retried by the SDK; a call that still fails stops the import (the next ones
//!    would fail the same way) and every document not accepted is a run [`Problem`].

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::app::budget::Budget;
use crate::app::ports::{Asff, HubError, OpenFinding, SecurityHub};
use crate::core::run::{Problem, RunReport};
use crate::render::asff::{self, Context};

/// Between two `BatchImportFindings` calls: at most 10 a second.
pub const IMPORT_INTERVAL: Duration = Duration::from_millis(100);
/// Between two `GetFindings` calls: at most 3 a second.
pub const LIST_INTERVAL: Duration = Duration::from_millis(334);
/// `GetFindings` pages read at most (100 findings each): a token that never ends is a fault.
const MAX_PAGES: usize = 1_000;
/// Reasons a problem names; the rest are counted in its totals.
const NAMED_REASONS: usize = 5;

/// What the export did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exported {
    /// Documents Security Hub accepted (this run's findings and closings).
    pub imported: usize,
    /// Earlier findings closed (their closing document accepted).
    pub closed: usize,
    /// Why the run failed on the Security Hub side, if it did.
    pub problem: Option<Problem>,
}

/// Imports the report's findings into Security Hub and closes the fixed ones.
pub async fn export<H: SecurityHub>(
    hub: &H,
    report: &RunReport,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
) -> Exported {
    let budget = Budget::new(deadline);
    let Some(account) = report.account_id.as_deref() else {
        return Exported {
            problem: Some(Problem::SecurityHub {
                region: hub.hub_region(),
                not_imported: report.audit.findings.len(),
                total: report.audit.findings.len(),
                reasons: vec![
                    "the account ID is unknown: the credential report names no ARN".into(),
                ],
            }),
            ..Exported::default()
        };
    };
    let ctx = Context::new(
        account,
        &hub.hub_region(),
        now,
        report.audit.policy.cis_version,
    );
    let mut docs = asff::documents(&report.audit.findings, &report.actions, &ctx);
    let mut reasons = Reasons::default();

    let mut closing = HashSet::new();
    match list_open(hub, &ctx, &budget).await {
        Ok(open) => {
            let created: HashMap<&str, &str> = open
                .iter()
                .filter_map(|o| Some((o.id.as_str(), o.created_at.as_deref()?)))
                .collect();
            for d in &mut docs {
                if let Some(c) = created.get(d.id.as_str()) {
                    d.created_at = (*c).to_string();
                }
            }
            let raised: HashSet<String> = docs.iter().map(|d| d.id.clone()).collect();
            for o in open.iter().filter(|o| !raised.contains(&o.id)) {
                closing.insert(o.id.clone());
                docs.push(asff::closed(o, &ctx));
            }
        }
        Err(e) => reasons.add(format!(
            "{e}; the findings of fixed credentials were not closed"
        )),
    }

    let total = docs.len();
    let (docs, oversized): (Vec<Asff>, Vec<Asff>) = docs
        .into_iter()
        .partition(|d| asff::size(d) <= asff::MAX_DOCUMENT_BYTES);
    for d in &oversized {
        reasons.add(format!(
            "{} is larger than Security Hub's {} KB",
            d.id,
            asff::MAX_DOCUMENT_BYTES / 1024
        ));
    }
    let mut not_imported = oversized.len();
    let mut imported = 0;
    let mut closed = 0;
    let mut pace = Pace::new(IMPORT_INTERVAL);
    let batches = batches(&docs);
    let mut left = docs.len();
    for batch in batches {
        let Some(timeout) = budget.call_timeout(1) else {
            reasons.add("not sent: the Lambda deadline was near; raise the function's timeout");
            not_imported += left;
            break;
        };
        pace.wait().await;
        let answer = tokio::time::timeout(timeout, hub.import_findings(batch))
            .await
            .unwrap_or_else(|_| Err(no_answer("BatchImportFindings", timeout)));
        left -= batch.len();
        match answer {
            Ok(result) => {
                let refused: HashSet<&str> = result.failed.iter().map(|f| f.id.as_str()).collect();
                let accepted = batch
                    .len()
                    .saturating_sub(refused.len())
                    .min(result.succeeded);
                imported += accepted;
                not_imported += batch.len() - accepted;
                closed += batch
                    .iter()
                    .filter(|d| closing.contains(&d.id) && !refused.contains(d.id.as_str()))
                    .count();
                for f in &result.failed {
                    reasons.add(format!("refused ({}): {}", f.code, f.message));
                }
                if refused.is_empty() && accepted < batch.len() {
                    reasons.add(format!(
                        "BatchImportFindings accepted {accepted} of {} without naming the others",
                        batch.len()
                    ));
                }
            }
            Err(e) => {
                reasons.add(e.to_string());
                not_imported += batch.len() + left;
                break;
            }
        }
    }

    if not_imported == 0 && reasons.is_empty() {
        tracing::info!(target: "iam_sweeper::security_hub", imported, closed, region = %ctx.region, "findings imported into Security Hub");
        return Exported {
            imported,
            closed,
            problem: None,
        };
    }
    let problem = Problem::SecurityHub {
        region: ctx.region.clone(),
        not_imported,
        total,
        reasons: reasons.named(),
    };
    tracing::error!(target: "iam_sweeper::security_hub", imported, closed, not_imported, problem = %problem, "Security Hub import incomplete");
    Exported {
        imported,
        closed,
        problem: Some(problem),
    }
}

/// Every active finding of this tool in the account and region, page by page.
async fn list_open<H: SecurityHub>(
    hub: &H,
    ctx: &Context,
    budget: &Budget,
) -> Result<Vec<OpenFinding>, HubError> {
    let product_arn = ctx.product_arn();
    let generators = asff::generator_ids();
    let mut pace = Pace::new(LIST_INTERVAL);
    let mut token: Option<String> = None;
    let mut out = Vec::new();
    for _ in 0..MAX_PAGES {
        let Some(timeout) = budget.call_timeout(1) else {
            return Err(no_answer("GetFindings", Duration::ZERO));
        };
        pace.wait().await;
        let page = tokio::time::timeout(
            timeout,
            hub.active_findings(&product_arn, &generators, token.as_deref()),
        )
        .await
        .unwrap_or_else(|_| Err(no_answer("GetFindings", timeout)))?;
        out.extend(page.findings);
        match page.next_token {
            Some(next) if Some(&next) != token.as_ref() && !next.is_empty() => token = Some(next),
            Some(next) if !next.is_empty() => {
                return Err(HubError {
                    operation: "GetFindings",
                    code: None,
                    message: "the same NextToken was answered twice".into(),
                });
            }
            _ => return Ok(out),
        }
    }
    Err(HubError {
        operation: "GetFindings",
        code: None,
        message: format!("more than {MAX_PAGES} pages of findings"),
    })
}

fn no_answer(operation: &'static str, timeout: Duration) -> HubError {
    HubError {
        operation,
        code: None,
        message: format!(
            "no answer within {} s (the time left before the Lambda deadline)",
            timeout.as_secs_f32()
        ),
    }
}

/// The documents in batches Security Hub accepts: at most 100 documents and 6 MB each, in
/// order.
pub fn batches(docs: &[Asff]) -> Vec<&[Asff]> {
    // The request's own bytes around the documents: `{"Findings":[` … `]}` and the commas.
    const ENVELOPE: usize = 64;
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, ENVELOPE);
    for (i, d) in docs.iter().enumerate() {
        let size = asff::size(d) + 1;
        if i > start
            && (i - start == asff::MAX_BATCH_FINDINGS || bytes + size > asff::MAX_BATCH_BYTES)
        {
            out.push(&docs[start..i]);
            (start, bytes) = (i, ENVELOPE);
        }
        bytes += size;
    }
    if start < docs.len() {
        out.push(&docs[start..]);
    }
    out
}

/// Calls started no closer together than `every`.
struct Pace {
    every: Duration,
    next: Option<Instant>,
}

impl Pace {
    fn new(every: Duration) -> Self {
        Pace { every, next: None }
    }

    async fn wait(&mut self) {
        if let Some(at) = self.next {
            tokio::time::sleep_until(at).await;
        }
        self.next = Some(Instant::now() + self.every);
    }
}

/// Why documents were not imported, each reason once with how often it came up.
#[derive(Default)]
struct Reasons(Vec<(String, usize)>);

impl Reasons {
    fn add(&mut self, reason: impl Into<String>) {
        let reason = reason.into();
        match self.0.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.0.push((reason, 1)),
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first few, with their counts; then how many more.
    fn named(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .0
            .iter()
            .take(NAMED_REASONS)
            .map(|(r, n)| {
                if *n > 1 {
                    format!("{r} ({n} times)")
                } else {
                    r.clone()
                }
            })
            .collect();
        let more = self.0.len().saturating_sub(NAMED_REASONS);
        if more > 0 {
            out.push(format!("and {more} other reason(s)"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cis::CisVersion;
    use crate::core::config::Policy;
    use crate::core::rules;
    use crate::testing::synthetic;
    use chrono::TimeZone;

    fn docs(users: usize) -> Vec<Asff> {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
        let findings = rules::evaluate(&synthetic::records(users, now), &Policy::default(), now);
        let ctx = Context::new("123456789012", "us-east-1", now, CisVersion::V5_0_0);
        asff::documents(&findings, &[], &ctx)
    }

    fn bytes(batch: &[Asff]) -> usize {
        serde_json::to_vec(&serde_json::json!({ "Findings": batch }))
            .unwrap()
            .len()
    }

    #[test]
    fn batches_hold_at_most_100_documents_in_order() {
        let all: Vec<Asff> = docs(1_000).into_iter().take(250).collect();
        assert_eq!(all.len(), 250);
        let b = batches(&all);
        assert_eq!(
            b.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        let flat: Vec<&Asff> = b.iter().flat_map(|b| b.iter()).collect();
        assert!(flat.iter().zip(&all).all(|(a, b)| *a == b));
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn batches_stay_under_6_mb() {
        // Documents of about 90 KB each: 100 of them would be 9 MB.
        let mut all: Vec<Asff> = docs(1_000).into_iter().take(100).collect();
        for d in &mut all {
            for i in 0..45 {
                d.product_fields
                    .insert(format!("iam-sweeper/padding{i}"), "x".repeat(2_000));
            }
            assert!(asff::size(d) <= asff::MAX_DOCUMENT_BYTES);
        }
        let b = batches(&all);
        assert!(b.len() >= 2, "{}", b.len());
        for batch in &b {
            assert!(batch.len() <= asff::MAX_BATCH_FINDINGS);
            assert!(bytes(batch) <= asff::MAX_BATCH_BYTES, "{}", bytes(batch));
        }
        assert_eq!(b.iter().map(|b| b.len()).sum::<usize>(), 100);
    }

    #[test]
    fn reasons_are_named_once_with_a_count() {
        let mut r = Reasons::default();
        for _ in 0..3 {
            r.add("refused (InvalidInput): bad");
        }
        for i in 0..6 {
            r.add(format!("other {i}"));
        }
        let named = r.named();
        assert_eq!(named[0], "refused (InvalidInput): bad (3 times)");
        assert_eq!(named.len(), NAMED_REASONS + 1);
        assert_eq!(named.last().unwrap(), "and 2 other reason(s)");
    }
}
