//! Live IAM reads for the re-check before an action, and the actions themselves.
//!
//! The credential report can be hours old; these calls read the current state of one user so
//! nothing is disabled on stale data. One account-wide read ([`all_user_tags`]) gives every
//! user's tags in pages, for runs with many findings. Each function is one IAM operation (plus pagination) and returns plain types, so the
//! decision logic stays outside the SDK.

use std::collections::HashMap;

use aws_sdk_iam::Client;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::{EntityType, StatusType};
use chrono::{DateTime, Utc};

use super::{describe_sdk_error, to_chrono};
use crate::app::ports::{IamError, KeyStatus, LiveKey, LiveUser};

/// The error code IAM uses for a user, key or login profile that does not exist.
const NO_SUCH_ENTITY: &str = "NoSuchEntity";

/// Classifies an SDK error by its error code, so the mapping works the same for every
/// operation and for codes the SDK models as well as ones it does not.
fn iam_error<E, R>(operation: &'static str, err: &SdkError<E, R>) -> IamError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let (code, message) = describe_sdk_error(err);
    if code.as_deref() == Some(NO_SUCH_ENTITY) {
        IamError::NoSuchEntity { operation, message }
    } else {
        IamError::Other {
            operation,
            code,
            message,
        }
    }
}

/// Converts a timestamp from a response, failing (rather than dropping it) when it cannot be
/// represented or is not plausible. The SDK fills a required date that is missing from the
/// answer with 1970-01-01; IAM has no date before 2006 and none in the future.
fn date(
    operation: &'static str,
    dt: &aws_smithy_types::DateTime,
) -> Result<DateTime<Utc>, IamError> {
    let earliest = DateTime::from_timestamp(EARLIEST_PLAUSIBLE, 0).unwrap_or_default();
    let latest = Utc::now() + chrono::Duration::days(1);
    match to_chrono(dt) {
        Some(t) if t >= earliest && t <= latest => Ok(t),
        _ => Err(IamError::malformed(
            operation,
            &format!("holds an implausible date ({dt}): a member is missing or wrong"),
        )),
    }
}

/// 2006-01-01T00:00:00Z: no IAM date is older.
const EARLIEST_PLAUSIBLE: i64 = 1_136_073_600;

/// Checks that an answer names what was asked (`what` = "user"/"key"): the SDK fills a missing
/// required name with an empty string, and an answer about someone else decides nothing here.
/// IAM names are unique without regard to case.
fn echoed(
    operation: &'static str,
    what: &str,
    asked: &str,
    got: Option<&str>,
) -> Result<(), IamError> {
    match got {
        Some(got) if got.eq_ignore_ascii_case(asked) => Ok(()),
        Some("") | None => Err(IamError::malformed(
            operation,
            &format!("does not name the {what} {asked} it is about"),
        )),
        Some(other) => Err(IamError::malformed(
            operation,
            &format!("is about {what} {other}, not {asked}"),
        )),
    }
}

/// A required text member the SDK may have filled with an empty string.
fn present<'a>(operation: &'static str, member: &str, value: &'a str) -> Result<&'a str, IamError> {
    if value.is_empty() {
        Err(IamError::malformed(operation, &format!("has no {member}")))
    } else {
        Ok(value)
    }
}

/// The marker of the next page, or `None` after the last page. A page that says it is truncated
/// but carries no new marker is an error rather than the end of the list: a short list could hide
/// a second key matching the report's slot, or the exemption tag.
fn next_marker(
    operation: &'static str,
    truncated: bool,
    next: Option<String>,
    current: &Option<String>,
) -> Result<Option<String>, IamError> {
    if !truncated {
        return Ok(None);
    }
    match next {
        Some(next) if current.as_deref() != Some(next.as_str()) => Ok(Some(next)),
        _ => Err(IamError::malformed(
            operation,
            "is truncated but has no new Marker",
        )),
    }
}

/// What one page of a `Marker`-paged list says about the rest.
struct Page {
    truncated: bool,
    next: Option<String>,
}

/// Calls `fetch` with each page's marker (none for the first) until IAM says the list is
/// complete; `fetch` reads one page and keeps its items. Every paged read goes through here, so
/// each gets the check of [`next_marker`].
async fn for_each_page(
    operation: &'static str,
    mut fetch: impl AsyncFnMut(Option<String>) -> Result<Page, IamError>,
) -> Result<(), IamError> {
    let mut marker: Option<String> = None;
    loop {
        let page = fetch(marker.clone()).await?;
        match next_marker(operation, page.truncated, page.next, &marker)? {
            Some(next) => marker = Some(next),
            None => return Ok(()),
        }
    }
}

/// Lists a user's access keys (`ListAccessKeys`), following `Marker` until the last page.
///
/// A page that says it is truncated but carries no new marker is an error rather than a short
/// list: an incomplete list could hide a second key matching the report's slot.
pub async fn list_access_keys(c: &Client, user: &str) -> Result<Vec<LiveKey>, IamError> {
    const OP: &str = "ListAccessKeys";
    let mut keys = Vec::new();
    for_each_page(OP, async |marker| {
        let page = c
            .list_access_keys()
            .user_name(user)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| iam_error(OP, &e))?;
        for meta in page.access_key_metadata {
            echoed(OP, "user", user, meta.user_name.as_deref())?;
            let id = meta
                .access_key_id
                .filter(|id| !id.is_empty())
                .ok_or_else(|| IamError::malformed(OP, "lists a key without an AccessKeyId"))?;
            let status = match meta.status {
                Some(StatusType::Active) => KeyStatus::Active,
                Some(StatusType::Inactive) => KeyStatus::Inactive,
                Some(other) => KeyStatus::Other(other.as_str().to_owned()),
                None => {
                    return Err(IamError::malformed(
                        OP,
                        &format!("lists key {id} without a Status"),
                    ));
                }
            };
            let created = meta
                .create_date
                .as_ref()
                .map(|d| date(OP, d))
                .transpose()?
                .ok_or_else(|| {
                    IamError::malformed(OP, &format!("lists key {id} without a CreateDate"))
                })?;
            let created = Some(created);
            keys.push(LiveKey {
                id,
                status,
                created,
            });
        }
        Ok(Page {
            truncated: page.is_truncated,
            next: page.marker,
        })
    })
    .await?;
    Ok(keys)
}

/// When the key was last used (`GetAccessKeyLastUsed`); `None` when it never was.
///
/// `user` only names the user in errors: the API looks the key up by its ID alone.
pub async fn access_key_last_used(
    c: &Client,
    user: &str,
    key_id: &str,
) -> Result<Option<DateTime<Utc>>, IamError> {
    const OP: &str = "GetAccessKeyLastUsed";
    let out = c
        .get_access_key_last_used()
        .access_key_id(key_id)
        .send()
        .await
        .map_err(|e| iam_error(OP, &e))?;
    // IAM always sends AccessKeyLastUsed (with Region "N/A" for a key never used); without it
    // the answer says nothing about use, so it must not count as "never used".
    echoed(OP, "user", user, out.user_name.as_deref())?;
    let last_used = out.access_key_last_used.ok_or_else(|| {
        IamError::malformed(
            OP,
            &format!("has no AccessKeyLastUsed for key {key_id} of user {user}"),
        )
    })?;
    present(OP, "AccessKeyLastUsed.ServiceName", &last_used.service_name)?;
    present(OP, "AccessKeyLastUsed.Region", &last_used.region)?;
    match last_used.last_used_date.as_ref() {
        Some(d) => date(OP, d).map(Some),
        // A key never used has no date and says N/A for the service; a service without a date
        // means the date was lost on the way.
        None if last_used.service_name == "N/A" => Ok(None),
        None => Err(IamError::malformed(
            OP,
            &format!(
                "names service {} but no LastUsedDate for key {key_id}",
                last_used.service_name
            ),
        )),
    }
}

/// The user (`GetUser`): when the console password was last used (`None` when it never was, or
/// not since IAM began tracking it) and the user's tags.
pub async fn user(c: &Client, user: &str) -> Result<LiveUser, IamError> {
    const OP: &str = "GetUser";
    let out = c
        .get_user()
        .user_name(user)
        .send()
        .await
        .map_err(|e| iam_error(OP, &e))?;
    let found = out
        .user
        .ok_or_else(|| IamError::malformed(OP, &format!("has no User for {user}")))?;
    echoed(OP, "user", user, Some(&found.user_name))?;
    present(OP, "User.UserId", &found.user_id)?;
    present(OP, "User.Arn", &found.arn)?;
    date(OP, &found.create_date)?;
    let password_last_used = found
        .password_last_used
        .as_ref()
        .map(|d| date(OP, d))
        .transpose()?;
    let mut tags = Vec::new();
    for tag in found.tags.unwrap_or_default() {
        present(OP, "Tag.Key", &tag.key)?;
        tags.push((tag.key, tag.value));
    }
    Ok(LiveUser {
        password_last_used,
        tags,
    })
}

/// Whether the user has a console password (`GetLoginProfile`): `Some(creation date)` when it
/// does, `None` when IAM answers `NoSuchEntity` (no password, or no such user).
pub async fn login_profile(c: &Client, user: &str) -> Result<Option<DateTime<Utc>>, IamError> {
    const OP: &str = "GetLoginProfile";
    match c.get_login_profile().user_name(user).send().await {
        Ok(out) => {
            // Without the LoginProfile the answer says nothing: it must not read as "no password".
            let profile = out.login_profile.ok_or_else(|| {
                IamError::malformed(OP, &format!("has no LoginProfile for {user}"))
            })?;
            echoed(OP, "user", user, Some(&profile.user_name))?;
            date(OP, &profile.create_date).map(Some)
        }
        Err(e) => match iam_error(OP, &e) {
            IamError::NoSuchEntity { .. } => Ok(None),
            other => Err(other),
        },
    }
}

/// The user's tags as (key, value) pairs (`ListUserTags`), following `Marker` to the end; they
/// carry the exemption tag.
pub async fn user_tags(c: &Client, user: &str) -> Result<Vec<(String, String)>, IamError> {
    const OP: &str = "ListUserTags";
    let mut tags = Vec::new();
    for_each_page(OP, async |marker| {
        let page = c
            .list_user_tags()
            .user_name(user)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| iam_error(OP, &e))?;
        for tag in page.tags {
            present(OP, "Tag.Key", &tag.key)?;
            tags.push((tag.key, tag.value));
        }
        Ok(Page {
            truncated: page.is_truncated,
            next: page.marker,
        })
    })
    .await?;
    Ok(tags)
}

/// `MaxItems` of the account-wide reads ([`crate::app::reads::PAGE_SIZE`]). IAM may still return
/// fewer per page; `Marker` covers that.
const PAGE_SIZE: i32 = crate::app::reads::PAGE_SIZE as i32;

/// Every user's tags (`GetAccountAuthorizationDetails` with `Filter=User`), by user name,
/// following `Marker` to the end. Users without tags map to an empty list.
///
/// The same tags as [`user_tags`], for every user in `users / 1000` calls instead of one per user.
/// The response also carries each user's policies; only the tags are kept.
pub async fn all_user_tags(c: &Client) -> Result<HashMap<String, Vec<(String, String)>>, IamError> {
    const OP: &str = "GetAccountAuthorizationDetails";
    let mut out = HashMap::new();
    for_each_page(OP, async |marker| {
        let page = c
            .get_account_authorization_details()
            .filter(EntityType::User)
            .max_items(PAGE_SIZE)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| iam_error(OP, &e))?;
        for user in page.user_detail_list.unwrap_or_default() {
            let name = user
                .user_name
                .filter(|n| !n.is_empty())
                .ok_or_else(|| IamError::malformed(OP, "lists a user without a UserName"))?;
            if user.user_id.as_deref().is_none_or(str::is_empty)
                || user.arn.as_deref().is_none_or(str::is_empty)
            {
                return Err(IamError::malformed(
                    OP,
                    &format!("lists user {name} without its UserId or Arn"),
                ));
            }
            let created = user.create_date.as_ref().ok_or_else(|| {
                IamError::malformed(OP, &format!("lists user {name} without a CreateDate"))
            })?;
            date(OP, created)?;
            let mut tags = Vec::new();
            for tag in user.tags.unwrap_or_default() {
                present(OP, "Tag.Key", &tag.key)?;
                tags.push((tag.key, tag.value));
            }
            out.insert(name, tags);
        }
        Ok(Page {
            truncated: page.is_truncated,
            next: page.marker,
        })
    })
    .await?;
    Ok(out)
}

/// Sets the key `Inactive` (`UpdateAccessKey`). Reversible: setting it `Active` again restores it.
pub async fn deactivate_key(c: &Client, user: &str, key_id: &str) -> Result<(), IamError> {
    const OP: &str = "UpdateAccessKey";
    c.update_access_key()
        .user_name(user)
        .access_key_id(key_id)
        .status(StatusType::Inactive)
        .send()
        .await
        .map(drop)
        .map_err(|e| iam_error(OP, &e))
}

/// Deletes the key (`DeleteAccessKey`). Not reversible: the owner needs a new key afterwards.
pub async fn delete_key(c: &Client, user: &str, key_id: &str) -> Result<(), IamError> {
    const OP: &str = "DeleteAccessKey";
    c.delete_access_key()
        .user_name(user)
        .access_key_id(key_id)
        .send()
        .await
        .map(drop)
        .map_err(|e| iam_error(OP, &e))
}

/// Removes the user's console password (`DeleteLoginProfile`); access keys are untouched.
pub async fn delete_login_profile(c: &Client, user: &str) -> Result<(), IamError> {
    const OP: &str = "DeleteLoginProfile";
    c.delete_login_profile()
        .user_name(user)
        .send()
        .await
        .map(drop)
        .map_err(|e| iam_error(OP, &e))
}

/// Sets the key `Active` again (`UpdateAccessKey`): `undo` of a deactivation.
pub async fn activate_key(c: &Client, user: &str, key_id: &str) -> Result<(), IamError> {
    const OP: &str = "UpdateAccessKey";
    c.update_access_key()
        .user_name(user)
        .access_key_id(key_id)
        .status(StatusType::Active)
        .send()
        .await
        .map(drop)
        .map_err(|e| iam_error(OP, &e))
}

/// Creates a console password that must be changed at first sign-in (`CreateLoginProfile`):
/// `undo` of a password deletion.
pub async fn create_login_profile(c: &Client, user: &str, password: &str) -> Result<(), IamError> {
    const OP: &str = "CreateLoginProfile";
    c.create_login_profile()
        .user_name(user)
        .password(password)
        .password_reset_required(true)
        .send()
        .await
        .map(drop)
        .map_err(|e| iam_error(OP, &e))
}
