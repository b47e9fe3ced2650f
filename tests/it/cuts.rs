//! Every decision-bearing IAM answer, cut at every byte: no cut answer may lead to an action the
//! whole answer would not. Each cut is served over the SDK's real HTTP path (a well-framed 200
//! whose document stops at byte N) to the adapter ([`AwsAccount`], with its whole-document
//! check), and the adapter's answer must be an error or exactly the whole answer's.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::config::{BehaviorVersion, Region};
use aws_smithy_http_client::test_util::infallible_client_fn;
use iam_sweeper::app::ports::{IamPagedReads, IamReads};
use iam_sweeper::aws::AwsAccount;

const NS: &str = r#"xmlns="https://iam.amazonaws.com/doc/2010-05-08/""#;
const META: &str = "<ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata>";

/// An account whose every call is answered with the current `body`.
fn account(body: Arc<Mutex<Vec<u8>>>) -> AwsAccount {
    let http = infallible_client_fn(move |_req| {
        let bytes = body.lock().expect("not poisoned").clone();
        http::Response::builder()
            .status(200)
            .header("content-type", "text/xml")
            .body(aws_smithy_types::body::SdkBody::from(bytes))
            .expect("a response")
    });
    let config =
        aws_config::SdkConfig::builder()
            .http_client(http)
            .region(Region::new("us-east-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    Credentials::for_tests(),
                ),
            )
            .retry_config(RetryConfig::disabled())
            .behavior_version(BehaviorVersion::latest())
            .build();
    AwsAccount::new(&config)
}

fn doc(op: &str, result: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{op}Response {NS}>\n  <{op}Result>{result}</{op}Result>\n  {META}\n</{op}Response>\n"
    )
}

/// Serves `whole` and then every cut of it to `call`; each answer must be an error or equal to
/// the whole answer's. Returns how many cuts were refused.
async fn every_cut<T, F>(whole: &str, call: F) -> usize
where
    T: PartialEq + Debug,
    F: AsyncFn(&AwsAccount) -> Result<T, iam_sweeper::app::ports::IamError>,
{
    let body = Arc::new(Mutex::new(whole.as_bytes().to_vec()));
    let account = account(body.clone());
    let full = call(&account)
        .await
        .unwrap_or_else(|e| panic!("the whole answer must be read: {e}\n{whole}"));
    let mut refused = 0;
    for n in 0..whole.trim_end().len() {
        *body.lock().expect("not poisoned") = whole.as_bytes()[..n].to_vec();
        match call(&account).await {
            Err(_) => refused += 1,
            Ok(got) => assert_eq!(
                got,
                full,
                "the answer cut at byte {n} was read differently from the whole one:\n{}",
                &whole[..n]
            ),
        }
    }
    refused
}

#[tokio::test]
async fn cut_get_user_never_reads_as_never_used_or_untagged() {
    let whole = doc(
        "GetUser",
        "<User><Path>/</Path><UserName>alice</UserName><UserId>AIDACKCEVSQ6C2EXAMPLE</UserId>\
         <Arn>arn:aws:iam::123456789012:user/alice</Arn><CreateDate>2020-01-01T00:00:00Z</CreateDate>\
         <PasswordLastUsed>2026-11-20T10:00:00Z</PasswordLastUsed>\
         <Tags><member><Key>iam-sweeper:exempt</Key><Value>true</Value></member></Tags></User>",
    );
    let refused = every_cut(&whole, async |a: &AwsAccount| a.user("alice").await).await;
    assert!(refused > 0);
}

#[tokio::test]
async fn an_empty_or_foreign_get_user_is_refused() {
    for result in [
        "".to_string(),
        "<User/>".to_string(),
        "<User><Path>/</Path><UserName>bob</UserName><UserId>AIDA</UserId><Arn>arn:aws:iam::123456789012:user/bob</Arn><CreateDate>2020-01-01T00:00:00Z</CreateDate></User>".to_string(),
        "<User><Path>/</Path><UserName>alice</UserName><UserId>AIDA</UserId><Arn>arn:aws:iam::123456789012:user/alice</Arn></User>".to_string(),
    ] {
        let body = Arc::new(Mutex::new(doc("GetUser", &result).into_bytes()));
        let got = account(body).user("alice").await;
        assert!(got.is_err(), "{result}: {got:?}");
    }
}

#[tokio::test]
async fn cut_get_login_profile_never_reads_as_no_password_or_an_old_one() {
    let whole = doc(
        "GetLoginProfile",
        "<LoginProfile><UserName>alice</UserName><CreateDate>2026-11-01T00:00:00Z</CreateDate>\
         <PasswordResetRequired>false</PasswordResetRequired></LoginProfile>",
    );
    every_cut(&whole, async |a: &AwsAccount| {
        a.login_profile("alice").await
    })
    .await;
    let no_date = doc(
        "GetLoginProfile",
        "<LoginProfile><UserName>alice</UserName></LoginProfile>",
    );
    let got = account(Arc::new(Mutex::new(no_date.into_bytes())))
        .login_profile("alice")
        .await;
    assert!(got.is_err(), "a 1970 CreateDate is refused: {got:?}");
}

#[tokio::test]
async fn cut_list_user_tags_never_loses_the_exemption_tag() {
    let whole = doc(
        "ListUserTags",
        "<Tags><member><Key>team</Key><Value>data</Value></member>\
         <member><Key>iam-sweeper:exempt</Key><Value>true</Value></member></Tags>\
         <IsTruncated>false</IsTruncated>",
    );
    every_cut(&whole, async |a: &AwsAccount| a.user_tags("alice").await).await;
}

#[tokio::test]
async fn cut_get_access_key_last_used_never_reads_as_never_used() {
    let whole = doc(
        "GetAccessKeyLastUsed",
        "<AccessKeyLastUsed><Region>us-east-1</Region><LastUsedDate>2026-11-30T12:00:00Z</LastUsedDate>\
         <ServiceName>s3</ServiceName></AccessKeyLastUsed><UserName>alice</UserName>",
    );
    every_cut(&whole, async |a: &AwsAccount| {
        a.access_key_last_used("alice", "AKIAIOSFODNN7EXAMPLE")
            .await
    })
    .await;
}

#[tokio::test]
async fn cut_list_access_keys_never_hides_or_invents_a_key() {
    let whole = doc(
        "ListAccessKeys",
        "<UserName>alice</UserName><AccessKeyMetadata>\
         <member><UserName>alice</UserName><AccessKeyId>AKIAIOSFODNN7EXAMPLE</AccessKeyId>\
         <Status>Active</Status><CreateDate>2025-01-01T00:00:02Z</CreateDate></member>\
         <member><UserName>alice</UserName><AccessKeyId>AKIAI44QH8DHBEXAMPLE</AccessKeyId>\
         <Status>Inactive</Status><CreateDate>2025-06-01T00:00:02Z</CreateDate></member>\
         </AccessKeyMetadata><IsTruncated>false</IsTruncated>",
    );
    every_cut(&whole, async |a: &AwsAccount| {
        a.list_access_keys("alice").await
    })
    .await;
}

#[tokio::test]
async fn cut_authorization_details_never_lose_a_users_tags() {
    let whole = doc(
        "GetAccountAuthorizationDetails",
        "<UserDetailList>\
         <member><Path>/</Path><UserName>alice</UserName><UserId>AIDA1</UserId>\
         <Arn>arn:aws:iam::123456789012:user/alice</Arn><CreateDate>2020-01-01T00:00:00Z</CreateDate>\
         <Tags><member><Key>iam-sweeper:exempt</Key><Value>true</Value></member></Tags></member>\
         <member><Path>/</Path><UserName>bob</UserName><UserId>AIDA2</UserId>\
         <Arn>arn:aws:iam::123456789012:user/bob</Arn><CreateDate>2020-01-01T00:00:00Z</CreateDate></member>\
         </UserDetailList><IsTruncated>false</IsTruncated>",
    );
    every_cut(&whole, async |a: &AwsAccount| {
        a.all_user_tags().await.map(|m| {
            let mut v: Vec<_> = m.into_iter().collect();
            v.sort();
            v
        })
    })
    .await;
}
