//! The plain-text mails a credential's owner receives (`SENDER_EMAIL`, `OWNER_EMAIL_TAG`).

use chrono::{DateTime, Utc};

use crate::core::finding::{Action, Credential, Finding};
use crate::core::journal::MailStage;
use crate::core::outcome::Outcome;

/// One mail to an owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerMail {
    pub subject: String,
    pub body: String,
}

fn credential_words(credential: Credential, key_id: Option<&str>) -> String {
    match (credential, key_id) {
        (Credential::Password, _) => "console password".to_string(),
        (Credential::AccessKey(s) | Credential::RootAccessKey(s), Some(id)) => {
            format!("access key {id} (key {} of the user)", s.number())
        }
        (Credential::AccessKey(s) | Credential::RootAccessKey(s), None) => {
            format!("access key {} of the user", s.number())
        }
    }
}

fn what_happens(credential: Credential) -> &'static str {
    match credential {
        Credential::Password => "deleted (the user can no longer sign in to the console)",
        _ => "deactivated (calls signed with it will fail)",
    }
}

/// The warning before an action: which credential, when, and how to keep it.
pub fn warning(
    account: &str,
    f: &Finding,
    stage: MailStage,
    due: DateTime<Utc>,
    exempt_tag_key: &str,
) -> OwnerMail {
    let what = credential_words(f.credential, None);
    let when = due.format("%Y-%m-%d");
    let lead = match stage {
        MailStage::LastNotice => "Last notice: ",
        _ => "",
    };
    let subject = format!(
        "{lead}the {what} of IAM user {} in AWS account {account} will be {} on {when}",
        f.user,
        match f.credential {
            Credential::Password => "deleted",
            _ => "deactivated",
        }
    );
    let last = f.last_activity.map_or_else(
        || "never used".to_string(),
        |t| format!("last used or set on {}", t.format("%Y-%m-%d")),
    );
    let mut body = format!(
        "The {what} of IAM user {user} (account {account}) has not been used for {days} days \
         ({last}).\n\nOn {when} it will be {happens}, under the account's rule for unused \
         credentials.\n\nTo keep it:\n",
        user = f.user,
        days = f.idle_days.unwrap_or(0),
        happens = what_happens(f.credential),
    );
    match f.credential {
        Credential::Password => {
            body.push_str("  - sign in to the AWS console as this user before that date, or\n")
        }
        _ => {
            body.push_str("  - use it before that date (any AWS call signed with it counts), or\n");
            if let Some(service) = &f.last_used_service {
                body.push_str(&format!(
                    "    (it was last used with {service}{})\n",
                    f.last_used_region
                        .as_deref()
                        .map(|r| format!(" in {r}"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    body.push_str(&format!(
        "  - ask the account's administrators for an exemption: the tag {exempt_tag_key} on the \
         user with the date it should end (YYYY-MM-DD) as its value.\n\nIf it is no longer \
         needed, nothing needs to be done.\n"
    ));
    OwnerMail { subject, body }
}

/// The notice after an action: what was done and how it is undone.
pub fn acted(account: &str, o: &Outcome) -> OwnerMail {
    let taken = o.taken.unwrap_or(o.planned);
    let what = credential_words(o.credential, o.access_key_id.as_deref());
    let done = match taken {
        Action::DeactivateKey => "deactivated",
        Action::DeleteKey => "deleted",
        Action::DeleteLoginProfile => "deleted",
        Action::None => "left alone",
    };
    let subject = format!(
        "The {what} of IAM user {} in AWS account {account} was {done}",
        o.user
    );
    let undo = match taken {
        Action::DeactivateKey => format!(
            "It can be turned back on by the account's administrators:\n  {}\n",
            o.undo.as_deref().unwrap_or_default()
        ),
        Action::DeleteLoginProfile => format!(
            "The administrators can give the user a new console password (to be changed at the \
             first sign-in):\n  {}\n",
            o.undo.as_deref().unwrap_or_default()
        ),
        _ => "A deleted key cannot be restored; the administrators can issue a new one.\n"
            .to_string(),
    };
    let body = format!(
        "The {what} of IAM user {user} (account {account}) was {done} because it had not been \
         used for longer than the account's rule allows.\n\n{undo}",
        user = o.user
    );
    OwnerMail { subject, body }
}
