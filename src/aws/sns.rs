//! Publishing the run summary to SNS.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use super::describe_sdk_error;
use crate::app::ports::{Message, PublishError};

/// SNS data type for every attribute: subscribers filter on plain string values.
const STRING_DATA_TYPE: &str = "String";

/// Publishes one message and returns the `MessageId` SNS assigned to it.
pub async fn publish(c: &Client, topic_arn: &str, msg: &Message) -> Result<String, PublishError> {
    let mut request = c
        .publish()
        .topic_arn(topic_arn)
        .subject(&msg.subject)
        .message(&msg.body);
    for (name, value) in &msg.attributes {
        let attribute = MessageAttributeValue::builder()
            .data_type(STRING_DATA_TYPE)
            .string_value(value)
            .build()
            .map_err(|e| PublishError {
                topic_arn: topic_arn.to_owned(),
                code: None,
                message: format!("message attribute {name} could not be built: {e}"),
            })?;
        request = request.message_attributes(name, attribute);
    }
    let out = request.send().await.map_err(|e| {
        let (code, message) = describe_sdk_error(&e);
        PublishError {
            topic_arn: topic_arn.to_owned(),
            code,
            message,
        }
    })?;
    // SNS always returns a MessageId for an accepted message; if an endpoint ever omits it the
    // message was still accepted, so this is not a failure (retrying would send it twice).
    Ok(out.message_id.unwrap_or_default())
}
