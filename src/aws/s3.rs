//! S3: write-once objects (`PutObject` with `If-None-Match: *`), reads and listings.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;

use super::describe_sdk_error;
use crate::app::ports::{StoreError, Written};

fn store_error<E, R>(
    operation: &'static str,
    bucket: &str,
    key: &str,
    err: &aws_sdk_s3::error::SdkError<E, R>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let (code, message) = describe_sdk_error(err);
    StoreError {
        operation,
        bucket: bucket.to_string(),
        key: key.to_string(),
        code,
        message,
    }
}

/// Creates the object unless one is already at `key`.
pub async fn put_new(
    c: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<Written, StoreError> {
    let sent = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .if_none_match("*")
        .content_type("application/json")
        .body(ByteStream::from(body))
        .send()
        .await;
    match sent {
        Ok(_) => Ok(Written::Created),
        // 412: an object is there. A write whose first answer was lost and whose retry met the
        // object it had just written also lands here: the caller compares if it matters.
        Err(e) if e.code() == Some("PreconditionFailed") => Ok(Written::AlreadyThere),
        Err(e) => Err(store_error("PutObject", bucket, key, &e)),
    }
}

/// The object's bytes, or `None` when the key does not exist.
pub async fn get(c: &Client, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let out = match c.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) if e.code() == Some("NoSuchKey") => return Ok(None),
        Err(e) => return Err(store_error("GetObject", bucket, key, &e)),
    };
    let expected = out.content_length;
    // The body is read to its end; a connection closed before Content-Length is an error.
    let bytes = out.body.collect().await.map_err(|e| StoreError {
        operation: "GetObject",
        bucket: bucket.to_string(),
        key: key.to_string(),
        code: None,
        message: format!("the object's body could not be read to its end: {e}"),
    })?;
    let bytes = bytes.into_bytes().to_vec();
    if let Some(n) = expected
        && usize::try_from(n).ok() != Some(bytes.len())
    {
        return Err(StoreError {
            operation: "GetObject",
            bucket: bucket.to_string(),
            key: key.to_string(),
            code: None,
            message: format!("{} bytes read of the {n} announced", bytes.len()),
        });
    }
    Ok(Some(bytes))
}

/// Every key under `prefix`, every page.
pub async fn list(c: &Client, bucket: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| store_error("ListObjectsV2", bucket, prefix, &e))?;
        for object in out.contents() {
            let key = object
                .key()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| StoreError {
                    operation: "ListObjectsV2",
                    bucket: bucket.to_string(),
                    key: prefix.to_string(),
                    code: None,
                    message: "an object in the listing has no key; the answer is incomplete".into(),
                })?;
            keys.push(key.to_string());
        }
        // Strict pagination: a truncated page must carry the token of the next one.
        match (
            out.is_truncated() == Some(true),
            out.next_continuation_token(),
        ) {
            (false, _) => return Ok(keys),
            (true, Some(next)) if !next.is_empty() && token.as_deref() != Some(next) => {
                token = Some(next.to_string());
            }
            (true, _) => {
                return Err(StoreError {
                    operation: "ListObjectsV2",
                    bucket: bucket.to_string(),
                    key: prefix.to_string(),
                    code: None,
                    message: "a truncated page carries no new continuation token".into(),
                });
            }
        }
    }
}
