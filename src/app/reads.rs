//! How live facts about many users are read: one call per user, or account-wide pages.
//!
//! Tags (for the exemption) can be read per user (`ListUserTags`) or for every user at once in
//! pages of up to 1,000 (`GetAccountAuthorizationDetails`). Per-user calls cost one call per user that
//! needs the fact; pages cost one call per 1,000 users in the account. The cheaper of the two is
//! chosen per run, so a night with three findings makes three small calls and a night with
//! thousands makes a handful of page calls. [`choose`] is the pure decision; the functions below
//! read through the ports with it.

/// Users per page of the account-wide reads (IAM's largest `MaxItems` for both calls).
pub const PAGE_SIZE: usize = 1000;

/// How a fact is read for the users that need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// One call per user.
    PerUser,
    /// Every user's, in account-wide pages.
    Paged,
}

/// Pages needed to list `users` users (at least one: an empty account still takes a call).
pub fn pages(users: usize) -> usize {
    users.div_ceil(PAGE_SIZE).max(1)
}

/// Chooses per-user calls or pages for `needed` users in an account of `users_in_account` users.
///
/// Pages only when `paged_allowed` (the role may make the account-wide calls: `PAGED_READS`) and
/// they take fewer calls than asking user by user; on a tie, per-user calls, which read exactly
/// the users concerned. No users needed means no calls at all.
pub fn choose(paged_allowed: bool, users_in_account: usize, needed: usize) -> Reads {
    if paged_allowed && needed > pages(users_in_account) {
        Reads::Paged
    } else {
        Reads::PerUser
    }
}

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::app::ports::{IamError, IamPagedReads, IamReads, Tags};
use crate::core::config::{Mode, Policy, Runtime};
use crate::core::exemption;
use crate::core::finding::{Finding, RuleId};
use crate::core::plan;
use crate::core::run::TagError;

/// The users whose tags are read before the action phase: only where a decision needs them.
///
/// Exemption tags can only take actions out of the plan. In report mode the plan is what the
/// summary lists as "would act", so the tags of users with planned actions are read. In enforce
/// mode every action re-reads its user's tags right before it is taken, so up front they are
/// needed only when the plan is over `MAX_ACTIONS`: exemptions may bring it under the cap.
pub fn users_needing_tags(findings: &[Finding], policy: &Policy) -> BTreeSet<String> {
    let planned = plan::plan(findings);
    if policy.mode == Mode::Enforce && !plan::over_cap(planned.len(), policy.max_actions) {
        return BTreeSet::new();
    }
    planned
        .into_iter()
        .filter(|(f, _)| !f.rules.contains(&RuleId::RootAccessKey))
        .map(|(f, _)| f.user.clone())
        .collect()
}

/// Reads the exemption tag of `users` and applies it to their findings. Returns the users
/// whose tags could not be read, with the error.
pub async fn apply_tag_exemptions<A: IamReads + IamPagedReads>(
    account: &A,
    users: BTreeSet<String>,
    policy: &Policy,
    runtime: &Runtime,
    users_in_account: usize,
    findings: &mut [Finding],
    now: DateTime<Utc>,
) -> Vec<TagError> {
    let results = read_tags(account, runtime, users_in_account, users).await;
    let today = now.date_naive();
    let mut errors = Vec::new();
    let mut values: HashMap<String, String> = HashMap::new();
    for (user, result) in results {
        match result {
            Ok(tags) => {
                if let Some(v) = exemption::tag_value(&tags, &policy.exempt_tag_key) {
                    values.insert(user, v.to_string());
                }
            }
            Err(e) if e.is_no_such_entity() => {}
            Err(error) => {
                tracing::warn!(user = %user, error = %error, "cannot read the user's tags; the user is not acted on");
                errors.push(TagError { user, error });
            }
        }
    }
    errors.sort_by(|a, b| a.user.cmp(&b.user));
    for f in findings.iter_mut() {
        exemption::apply_tag(
            f,
            &policy.exempt_tag_key,
            values.get(&f.user).map(String::as_str),
            today,
        );
    }
    errors
}

/// The tags of `users`, read the cheaper way ([`choose`]): account-wide pages, or one
/// `ListUserTags` per user. A user missing from the pages (deleted or renamed since the report)
/// is asked on its own, and pages that cannot be read fall back to per-user calls, so the choice
/// never changes the answer, only the number of calls.
async fn read_tags<A: IamReads + IamPagedReads>(
    account: &A,
    runtime: &Runtime,
    users_in_account: usize,
    users: BTreeSet<String>,
) -> Vec<(String, Result<Tags, IamError>)> {
    let mut found = Vec::new();
    let mut rest = users;
    if choose(runtime.paged_reads, users_in_account, rest.len()) == Reads::Paged {
        match account.all_user_tags().await {
            Ok(mut all) => {
                rest.retain(|user| match all.remove(user) {
                    Some(tags) => {
                        found.push((user.clone(), Ok(tags)));
                        false
                    }
                    None => true,
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read tags in pages; reading them user by user");
            }
        }
    }
    let asked: Vec<(String, Result<Tags, IamError>)> = futures::stream::iter(rest)
        .map(|u| async move {
            let tags = account.user_tags(&u).await;
            (u, tags)
        })
        .buffer_unordered(runtime.concurrency.max(1) as usize)
        .collect()
        .await;
    found.extend(asked);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_up_and_never_reach_zero() {
        assert_eq!(pages(0), 1);
        assert_eq!(pages(1), 1);
        assert_eq!(pages(1000), 1);
        assert_eq!(pages(1001), 2);
        assert_eq!(pages(5000), 5);
    }

    #[test]
    fn pages_only_when_they_take_fewer_calls() {
        assert_eq!(choose(true, 5000, 1250), Reads::Paged);
        assert_eq!(choose(true, 5000, 6), Reads::Paged);
        assert_eq!(
            choose(true, 5000, 5),
            Reads::PerUser,
            "a tie reads per user"
        );
        assert_eq!(choose(true, 6, 2), Reads::Paged);
        assert_eq!(choose(true, 6, 1), Reads::PerUser);
        assert_eq!(choose(true, 6, 0), Reads::PerUser);
    }

    #[test]
    fn never_pages_when_not_allowed() {
        assert_eq!(choose(false, 5000, 5000), Reads::PerUser);
    }
}
