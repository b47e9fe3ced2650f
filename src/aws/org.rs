//! The organization mode's adapters: AWS Organizations (the listing, one page per call) and STS
//! (the member role, assumed once per account and sweep).

use std::rc::Rc;

use aws_config::sts::AssumeRoleProvider;
use aws_sdk_iam::config::{ProvideCredentials as _, SharedCredentialsProvider};
use aws_sdk_iam::error::ProvideErrorMetadata as _;
use aws_sdk_organizations::types::ChildType;

use super::{AwsAccount, FALLBACK_REGION, cause_chain, describe_sdk_error};
use crate::app::ports::{
    AccountId, AssumeError, Members, OrgAccount, OrgAccountStatus, OrgError, OrgPage, Organization,
};
use crate::core::org::{OrgSettings, member_role_arn};

/// `ListAccounts` and `ListAccountsForParent` pages: AWS's largest.
const PAGE_SIZE: i32 = 20;

/// The session name member sweeps show in the member accounts' CloudTrail.
const SESSION_NAME: &str = "iam-sweeper";

/// The hub: Organizations, and the member role assumed from the function's credentials.
#[derive(Debug, Clone)]
pub struct AwsOrg {
    organizations: aws_sdk_organizations::Client,
    /// The function's own configuration: the base of every AssumeRole and member client.
    config: aws_config::SdkConfig,
    /// The function's own account: SNS, S3 and SES stay the hub's for every member.
    hub: AwsAccount,
    role_name: String,
    external_id: Option<String>,
}

impl AwsOrg {
    pub fn new(config: &aws_config::SdkConfig, hub: &AwsAccount, settings: &OrgSettings) -> Self {
        AwsOrg {
            organizations: aws_sdk_organizations::Client::new(config),
            config: config.clone(),
            hub: hub.clone(),
            role_name: settings.member_role_name.clone(),
            external_id: settings.member_external_id.clone(),
        }
    }

    fn region(&self) -> String {
        self.config
            .region()
            .map_or_else(|| FALLBACK_REGION.to_string(), ToString::to_string)
    }
}

fn org_error<E, R>(
    operation: &'static str,
    err: &aws_sdk_organizations::error::SdkError<E, R>,
) -> OrgError
where
    E: aws_sdk_organizations::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let (code, message) = describe_sdk_error(err);
    OrgError {
        operation,
        code,
        message,
    }
}

fn account(a: &aws_sdk_organizations::types::Account) -> OrgAccount {
    let status = match a.status().map(|s| s.as_str()) {
        Some("ACTIVE") => OrgAccountStatus::Active,
        Some("SUSPENDED") => OrgAccountStatus::Suspended,
        Some("PENDING_CLOSURE") => OrgAccountStatus::PendingClosure,
        Some(other) => OrgAccountStatus::Other(other.to_string()),
        None => OrgAccountStatus::Other("(none)".into()),
    };
    OrgAccount {
        id: a.id().unwrap_or_default().to_string(),
        name: a.name().unwrap_or_default().to_string(),
        status,
    }
}

impl Organization for AwsOrg {
    async fn accounts_page(
        &self,
        next_token: Option<&str>,
    ) -> Result<OrgPage<OrgAccount>, OrgError> {
        let out = self
            .organizations
            .list_accounts()
            .max_results(PAGE_SIZE)
            .set_next_token(next_token.map(str::to_string))
            .send()
            .await
            .map_err(|e| org_error("ListAccounts", &e))?;
        Ok(OrgPage {
            items: out.accounts().iter().map(account).collect(),
            next_token: out.next_token().map(str::to_string),
        })
    }

    async fn child_ous_page(
        &self,
        parent: &str,
        next_token: Option<&str>,
    ) -> Result<OrgPage<String>, OrgError> {
        let out = self
            .organizations
            .list_children()
            .parent_id(parent)
            .child_type(ChildType::OrganizationalUnit)
            .max_results(PAGE_SIZE)
            .set_next_token(next_token.map(str::to_string))
            .send()
            .await
            .map_err(|e| org_error("ListChildren", &e))?;
        Ok(OrgPage {
            items: out
                .children()
                .iter()
                .filter_map(|c| c.id().map(str::to_string))
                .collect(),
            next_token: out.next_token().map(str::to_string),
        })
    }

    async fn parent_accounts_page(
        &self,
        parent: &str,
        next_token: Option<&str>,
    ) -> Result<OrgPage<OrgAccount>, OrgError> {
        let out = self
            .organizations
            .list_accounts_for_parent()
            .parent_id(parent)
            .max_results(PAGE_SIZE)
            .set_next_token(next_token.map(str::to_string))
            .send()
            .await
            .map_err(|e| org_error("ListAccountsForParent", &e))?;
        Ok(OrgPage {
            items: out.accounts().iter().map(account).collect(),
            next_token: out.next_token().map(str::to_string),
        })
    }

    async fn account_tags_page(
        &self,
        account_id: &str,
        next_token: Option<&str>,
    ) -> Result<OrgPage<(String, String)>, OrgError> {
        let out = self
            .organizations
            .list_tags_for_resource()
            .resource_id(account_id)
            .set_next_token(next_token.map(str::to_string))
            .send()
            .await
            .map_err(|e| org_error("ListTagsForResource", &e))?;
        Ok(OrgPage {
            items: out
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
            next_token: out.next_token().map(str::to_string),
        })
    }
}

impl Members for AwsOrg {
    type Member = AwsAccount;

    /// Assumes the member role once (aws-config's `AssumeRoleProvider`) and builds the member's
    /// IAM and Security Hub clients on those credentials: they last an hour, longer than any
    /// invocation, so one AssumeRole serves the whole sweep of the account.
    async fn member(&self, account: &AccountId) -> Result<Rc<AwsAccount>, AssumeError> {
        let role_arn = member_role_arn(&self.region(), account, &self.role_name);
        let mut builder = AssumeRoleProvider::builder(role_arn.clone())
            .session_name(SESSION_NAME)
            .configure(&self.config);
        if let Some(id) = &self.external_id {
            builder = builder.external_id(id.clone());
        }
        let provider = builder.build().await;
        let credentials = provider.provide_credentials().await.map_err(|e| {
            let code = sts_code(&e);
            AssumeError {
                role_arn: role_arn.clone(),
                code,
                message: cause_chain(&e),
            }
        })?;
        let member_config = self
            .config
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        let member = AwsAccount::new(&member_config);
        Ok(Rc::new(AwsAccount {
            iam: member.iam,
            securityhub: member.securityhub,
            ..self.hub.clone()
        }))
    }
}

/// STS's error code behind a credentials error, when STS answered.
fn sts_code(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    type AssumeRoleError = aws_sdk_sts::operation::assume_role::AssumeRoleError;
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(a) = err.downcast_ref::<AssumeRoleError>() {
            return a.code().map(str::to_string);
        }
        next = err.source();
    }
    None
}
