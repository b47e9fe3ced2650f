//! SES v2: plain-text owner mail (`SendEmail`).

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use super::describe_sdk_error;
use crate::app::ports::MailError;

fn content(text: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError {
            to: String::new(),
            code: None,
            message: format!("the mail could not be built: {e}"),
        })
}

/// Sends one plain-text mail and returns SES's message ID.
pub async fn send(
    c: &Client,
    from: &str,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<String, MailError> {
    let with_to = |mut e: MailError| {
        e.to = to.to_string();
        e
    };
    let message = Message::builder()
        .subject(content(subject).map_err(with_to)?)
        .body(
            Body::builder()
                .text(content(body).map_err(with_to)?)
                .build(),
        )
        .build();
    let out = c
        .send_email()
        .from_email_address(from)
        .destination(Destination::builder().to_addresses(to).build())
        .content(EmailContent::builder().simple(message).build())
        .send()
        .await
        .map_err(|e| {
            let (code, message) = describe_sdk_error(&e);
            MailError {
                to: to.to_string(),
                code,
                message,
            }
        })?;
    Ok(out.message_id.unwrap_or_default())
}
