//! Refuses an answer whose XML document was cut short.
//!
//! The SDK's XML reader accepts a well-framed answer whose body stops mid-document and reads the
//! rest as absent: a `GetUser` cut before `PasswordLastUsed` would read as "never used", a
//! `ListUserTags` cut mid-list as "no exemption tag". [`WholeDocument`] runs after each answer is
//! read and fails the call unless the body ends with the closing tag of its root element, so an
//! incomplete answer becomes an error that fails that credential's action.

use aws_sdk_iam::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_iam::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// The interceptor added to every client (IAM and SNS speak the same XML query protocol).
#[derive(Debug, Clone, Copy, Default)]
pub struct WholeDocument;

impl Intercept for WholeDocument {
    fn name(&self) -> &'static str {
        "WholeDocument"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let Some(body) = context.response().body().bytes() else {
            return Ok(());
        };
        check(body)?;
        if context.response().status().is_success()
            && let Some(op) = cfg.load::<Metadata>()
        {
            has_required(op.name(), body)?;
        }
        Ok(())
    }
}

/// The interceptor of the S3 client: only its listings are XML documents whose cut would read as
/// fewer objects (a journal read short would miss a run's records); object bodies are the
/// journal's JSON, checked by their own length and parse.
#[derive(Debug, Clone, Copy, Default)]
pub struct WholeListing;

impl Intercept for WholeListing {
    fn name(&self) -> &'static str {
        "WholeListing"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let listing = cfg
            .load::<Metadata>()
            .is_some_and(|op| op.name() == "ListObjectsV2");
        match context.response().body().bytes() {
            Some(body) if listing => {
                check(body)?;
                if context.response().status().is_success() {
                    has_required("ListObjectsV2", body)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The members a successful answer always carries, by operation, that the SDK would otherwise
/// fill with an empty default when they are missing (an empty tag list, no keys, no user).
fn required_members(operation: &str) -> &'static [&'static str] {
    match operation {
        "ListUserTags" => &["Tags"],
        "ListAccessKeys" => &["AccessKeyMetadata"],
        "GetUser" => &["User"],
        "GetLoginProfile" => &["LoginProfile"],
        "GetAccessKeyLastUsed" => &["AccessKeyLastUsed", "UserName"],
        "ListUsers" => &["Users"],
        "GetCredentialReport" => &["Content"],
        "ListObjectsV2" => &["IsTruncated", "KeyCount"],
        _ => &[],
    }
}

/// Checks that a successful answer to `operation` carries the members it always carries.
pub fn has_required(operation: &str, body: &[u8]) -> Result<(), Incomplete> {
    for member in required_members(operation) {
        let open = format!("<{member}");
        let found = body
            .windows(open.len() + 1)
            .any(|w| w.starts_with(open.as_bytes()) && matches!(w[open.len()], b'>' | b'/' | b' '));
        if !found {
            return Err(Incomplete::MissingMember {
                operation: operation.to_string(),
                member,
            });
        }
    }
    Ok(())
}

/// Why an answer's document is not whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Incomplete {
    #[error("the answer is not an XML document (it does not start with an element)")]
    NoRoot,
    #[error(
        "the {operation} answer has no {member}, which IAM always sends; nothing is decided on it"
    )]
    MissingMember {
        operation: String,
        member: &'static str,
    },
    #[error(
        "the answer was cut short: its document does not end with </{0}>; nothing is decided on it"
    )]
    Cut(String),
}

/// Checks that `body` is one whole XML document: its root element is closed at its end. An
/// empty body is left to the SDK (it carries no document to cut).
pub fn check(body: &[u8]) -> Result<(), Incomplete> {
    let text = body.trim_ascii();
    if text.is_empty() {
        return Ok(());
    }
    let root = root_element(text).ok_or(Incomplete::NoRoot)?;
    let name = &text[root.name.clone()];
    if root.self_closing {
        return if root.end == text.len() {
            Ok(())
        } else {
            Err(Incomplete::Cut(String::from_utf8_lossy(name).into_owned()))
        };
    }
    let closing = [b"</".as_slice(), name, b">"].concat();
    if text.ends_with(&closing) {
        Ok(())
    } else {
        Err(Incomplete::Cut(String::from_utf8_lossy(name).into_owned()))
    }
}

struct Root {
    name: std::ops::Range<usize>,
    self_closing: bool,
    /// Where the root's start tag ends.
    end: usize,
}

/// The root element's start tag, after any XML declaration, processing instructions and comments.
fn root_element(text: &[u8]) -> Option<Root> {
    let mut at = 0;
    loop {
        while text.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        let rest = &text[at..];
        if rest.starts_with(b"<?") {
            at += find(rest, b"?>")? + 2;
        } else if rest.starts_with(b"<!--") {
            at += find(rest, b"-->")? + 3;
        } else if rest.starts_with(b"<") {
            break;
        } else {
            return None;
        }
    }
    let start = at + 1;
    let len = text[start..]
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')?;
    if len == 0 {
        return None;
    }
    let close = start + find(&text[start..], b">")?;
    Some(Root {
        name: start..start + len,
        self_closing: text[close - 1] == b'/',
        end: close + 1,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHOLE: &str = r#"<?xml version="1.0"?>
<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetUserResult><User><UserName>alice</UserName></User></GetUserResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</GetUserResponse>
"#;

    #[test]
    fn a_whole_document_passes() {
        assert_eq!(check(WHOLE.as_bytes()), Ok(()));
        assert_eq!(check(b"<A/>"), Ok(()));
        assert_eq!(check(b""), Ok(()));
    }

    #[test]
    fn every_cut_of_a_document_is_refused() {
        let whole = WHOLE.trim_end().as_bytes();
        for n in 1..whole.len() {
            let cut = &whole[..n];
            if cut.trim_ascii().is_empty() {
                continue;
            }
            assert!(
                check(cut).is_err(),
                "cut at {n}: {:?}",
                String::from_utf8_lossy(cut)
            );
        }
    }

    #[test]
    fn an_answer_without_a_member_iam_always_sends_is_refused() {
        let tags = b"<ListUserTagsResponse><ListUserTagsResult><IsTruncated>false</IsTruncated></ListUserTagsResult></ListUserTagsResponse>";
        assert!(matches!(
            has_required("ListUserTags", tags),
            Err(Incomplete::MissingMember { member: "Tags", .. })
        ));
        assert_eq!(has_required("ListUserTags", b"<X><Tags/></X>"), Ok(()));
        assert_eq!(
            has_required("ListUserTags", b"<X><Tags></Tags></X>"),
            Ok(())
        );
        assert!(has_required("ListUserTags", b"<X><TagsX/></X>").is_err());
        assert_eq!(has_required("UpdateAccessKey", b"<X/>"), Ok(()));
    }

    #[test]
    fn a_document_that_is_not_xml_is_refused() {
        assert_eq!(check(b"garbage"), Err(Incomplete::NoRoot));
        assert!(check(b"<A/>trailing").is_err());
    }
}
