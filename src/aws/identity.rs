//! Who the caller is (STS `GetCallerIdentity`): `undo` and `runs` read the journal tree of the
//! caller's account unless `--account` names another.

use super::describe_sdk_error;

/// The caller's account and ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub arn: Option<String>,
}

/// `GetCallerIdentity` failed, or answered without an account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot tell which account these credentials belong to: GetCallerIdentity failed{}: {message}; \
     check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, an SSO login) or name the account with --account",
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
)]
pub struct IdentityError {
    pub code: Option<String>,
    pub message: String,
}

/// The caller's account and ARN, from the standard AWS configuration.
pub async fn caller(config: &aws_config::SdkConfig) -> Result<Caller, IdentityError> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            let (code, message) = describe_sdk_error(&e);
            IdentityError { code, message }
        })?;
    match out.account.filter(|a| !a.is_empty()) {
        Some(account) => Ok(Caller {
            account,
            arn: out.arn,
        }),
        None => Err(IdentityError {
            code: None,
            message: "the answer names no account".into(),
        }),
    }
}
