//! How live facts about many users are read: one call per user, or account-wide pages.
//!
//! Tags (for the exemption) and password use (for the re-check) can be read per user
//! (`ListUserTags`, `GetUser`) or for every user at once in pages of up to 1,000
//! (`GetAccountAuthorizationDetails`, `ListUsers`). Per-user calls cost one call per user that
//! needs the fact; pages cost one call per 1,000 users in the account. The cheaper of the two is
//! chosen per run, so a night with three findings makes three small calls and a night with
//! thousands makes a handful of page calls. Pure: the handler passes the counts in.

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
