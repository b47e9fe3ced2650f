//! An in-memory organization behind the [`Organization`] and [`Members`] ports, for the
//! organization mode's orchestration tests.
//!
//! It holds accounts (ID, name, status, parent OU, tags) in `ListAccounts` order, an OU tree, and
//! one [`FakeAccount`] per member. Lists answer a page at a time (`page_size` items, tokens are
//! offsets); a list can be made to answer an empty page carrying a token first, or to hand out
//! the same token again. A member's role can be made unassumable. Every call is counted.
//!
//! ```
//! # use iam_sweeper::testing::org::FakeOrg;
//! let org = FakeOrg::new();
//! org.add_account("111122223333", "prod", "r-root");
//! assert_eq!(org.calls("ListAccounts"), 0);
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::app::ports::{
    AccountId, AssumeError, Members, OrgAccount, OrgAccountStatus, OrgError, OrgPage, Organization,
};
use crate::testing::fake::FakeAccount;

/// The root every OU hangs from unless said otherwise.
pub const ROOT: &str = "r-root";

#[derive(Debug, Default)]
struct State {
    accounts: Vec<(OrgAccount, String)>,
    /// Child OUs by parent.
    ous: BTreeMap<String, Vec<String>>,
    tags: BTreeMap<String, Vec<(String, String)>>,
    members: BTreeMap<String, Rc<FakeAccount>>,
    refused: BTreeMap<String, String>,
    page_size: usize,
    /// Operations whose first page is empty and carries a token.
    empty_first: BTreeSet<&'static str>,
    /// Operations that hand out the token they were called with.
    stuck: BTreeSet<&'static str>,
    calls: BTreeMap<&'static str, usize>,
    assumed: Vec<String>,
}

/// An in-memory organization.
#[derive(Debug)]
pub struct FakeOrg {
    state: RefCell<State>,
}

impl Default for FakeOrg {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeOrg {
    /// An organization with only its root, pages of 20.
    pub fn new() -> Self {
        FakeOrg {
            state: RefCell::new(State {
                page_size: 20,
                ..State::default()
            }),
        }
    }

    /// Adds an OU under `parent`.
    pub fn add_ou(&self, parent: &str, ou: &str) {
        self.state
            .borrow_mut()
            .ous
            .entry(parent.into())
            .or_default()
            .push(ou.into());
    }

    /// Adds an ACTIVE account in `parent` with an empty member account, and returns the member.
    pub fn add_account(&self, id: &str, name: &str, parent: &str) -> Rc<FakeAccount> {
        self.add_member(id, name, parent, FakeAccount::new())
    }

    /// Adds an ACTIVE account in `parent` whose member account is `member`.
    pub fn add_member(
        &self,
        id: &str,
        name: &str,
        parent: &str,
        member: FakeAccount,
    ) -> Rc<FakeAccount> {
        let member = Rc::new(member);
        let mut st = self.state.borrow_mut();
        st.accounts.push((
            OrgAccount {
                id: id.into(),
                name: name.into(),
                status: OrgAccountStatus::Active,
            },
            parent.into(),
        ));
        st.members.insert(id.into(), member.clone());
        member
    }

    /// Sets an account's status.
    pub fn set_status(&self, id: &str, status: OrgAccountStatus) {
        for (a, _) in self.state.borrow_mut().accounts.iter_mut() {
            if a.id == id {
                a.status = status.clone();
            }
        }
    }

    /// Tags an account.
    pub fn tag(&self, id: &str, key: &str, value: &str) {
        self.state
            .borrow_mut()
            .tags
            .entry(id.into())
            .or_default()
            .push((key.into(), value.into()));
    }

    /// AssumeRole into `id` fails with `message` (AccessDenied).
    pub fn refuse_assume(&self, id: &str, message: &str) {
        self.state
            .borrow_mut()
            .refused
            .insert(id.into(), message.into());
    }

    /// How many items a page holds.
    pub fn set_page_size(&self, n: usize) {
        self.state.borrow_mut().page_size = n.max(1);
    }

    /// `operation`'s first page is empty and carries a token.
    pub fn empty_first_page(&self, operation: &'static str) {
        self.state.borrow_mut().empty_first.insert(operation);
    }

    /// `operation` hands out the token it was called with (a stuck paginator).
    pub fn stuck_token(&self, operation: &'static str) {
        self.state.borrow_mut().stuck.insert(operation);
    }

    /// How many times `operation` was called.
    pub fn calls(&self, operation: &str) -> usize {
        self.state
            .borrow()
            .calls
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// The accounts assumed into, in order.
    pub fn assumed(&self) -> Vec<String> {
        self.state.borrow().assumed.clone()
    }

    /// The member account of `id`.
    pub fn member_of(&self, id: &str) -> Option<Rc<FakeAccount>> {
        self.state.borrow().members.get(id).cloned()
    }

    /// One page of `items` for `token`, counting the call.
    fn page<T: Clone>(
        &self,
        operation: &'static str,
        items: Vec<T>,
        token: Option<&str>,
    ) -> Result<OrgPage<T>, OrgError> {
        let mut st = self.state.borrow_mut();
        *st.calls.entry(operation).or_default() += 1;
        let bad = |t: &str| OrgError {
            operation,
            code: Some("InvalidInputException".into()),
            message: format!("bad NextToken {t}"),
        };
        let start = match token {
            None if st.empty_first.contains(operation) => {
                return Ok(OrgPage {
                    items: Vec::new(),
                    next_token: Some("0".into()),
                });
            }
            None => 0,
            Some(t) => t.parse::<usize>().map_err(|_| bad(t))?,
        };
        let end = (start + st.page_size).min(items.len());
        let next_token = if st.stuck.contains(operation) && token.is_some() {
            token.map(str::to_string)
        } else {
            (end < items.len()).then(|| end.to_string())
        };
        Ok(OrgPage {
            items: items.get(start..end).unwrap_or_default().to_vec(),
            next_token,
        })
    }
}

impl Organization for FakeOrg {
    async fn accounts_page(
        &self,
        next_token: Option<&str>,
    ) -> Result<OrgPage<OrgAccount>, OrgError> {
        let all = self
            .state
            .borrow()
            .accounts
            .iter()
            .map(|(a, _)| a.clone())
            .collect();
        self.page("ListAccounts", all, next_token)
    }

    async fn child_ous_page(
        &self,
        parent: &str,
        next_token: Option<&str>,
    ) -> Result<OrgPage<String>, OrgError> {
        let children = self
            .state
            .borrow()
            .ous
            .get(parent)
            .cloned()
            .unwrap_or_default();
        self.page("ListChildren", children, next_token)
    }

    async fn parent_accounts_page(
        &self,
        parent: &str,
        next_token: Option<&str>,
    ) -> Result<OrgPage<OrgAccount>, OrgError> {
        let direct = self
            .state
            .borrow()
            .accounts
            .iter()
            .filter(|(_, p)| p == parent)
            .map(|(a, _)| a.clone())
            .collect();
        self.page("ListAccountsForParent", direct, next_token)
    }

    async fn account_tags_page(
        &self,
        account_id: &str,
        next_token: Option<&str>,
    ) -> Result<OrgPage<(String, String)>, OrgError> {
        let tags = self
            .state
            .borrow()
            .tags
            .get(account_id)
            .cloned()
            .unwrap_or_default();
        self.page("ListTagsForResource", tags, next_token)
    }
}

impl Members for FakeOrg {
    type Member = FakeAccount;

    async fn member(&self, account: &AccountId) -> Result<Rc<FakeAccount>, AssumeError> {
        let mut st = self.state.borrow_mut();
        *st.calls.entry("AssumeRole").or_default() += 1;
        let role_arn = format!("arn:aws:iam::{account}:role/iam-sweeper-member");
        if let Some(message) = st.refused.get(account.as_str()) {
            return Err(AssumeError {
                role_arn,
                code: Some("AccessDenied".into()),
                message: message.clone(),
            });
        }
        let member = st
            .members
            .get(account.as_str())
            .cloned()
            .ok_or(AssumeError {
                role_arn,
                code: Some("AccessDenied".into()),
                message: "no such account in the fake organization".into(),
            })?;
        st.assumed.push(account.to_string());
        Ok(member)
    }
}
