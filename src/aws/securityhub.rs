//! Security Hub: findings imported (`BatchImportFindings`) and this tool's active findings listed
//! (`GetFindings`).
//!
//! The documents arrive as the crate's own [`Asff`] and are built into the SDK's
//! `AwsSecurityFinding` field by field; the answers go back as plain types. Throttling is retried
//! by the SDK (the shared config's adaptive retry).

use std::collections::HashMap;

use aws_sdk_securityhub::Client;
use aws_sdk_securityhub::types as sh;

use super::describe_sdk_error;
use crate::app::ports::{FindingsPage, HubError, ImportFailure, ImportResult, OpenFinding};
use crate::render::asff::{
    AccessKeyStatus, Asff, ComplianceStatus, Partition, RecordState, Resource, ResourceDetails,
    ResourceType, Severity, SeverityLabel,
};

/// Findings per `GetFindings` page: the most Security Hub returns.
const PAGE_SIZE: i32 = 100;

/// Imports one batch and returns what Security Hub accepted and refused.
pub async fn import(c: &Client, batch: &[Asff]) -> Result<ImportResult, HubError> {
    const OP: &str = "BatchImportFindings";
    let out = c
        .batch_import_findings()
        .set_findings(Some(batch.iter().map(finding).collect()))
        .send()
        .await
        .map_err(|e| {
            let (code, message) = describe_sdk_error(&e);
            HubError {
                operation: OP,
                code,
                message,
            }
        })?;
    Ok(ImportResult {
        // An answer without a count accepted nothing the run can rely on: the caller reports
        // the difference.
        succeeded: out
            .success_count()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
        failed: out
            .failed_findings()
            .iter()
            .map(|f| ImportFailure {
                id: f.id().unwrap_or_default().to_string(),
                code: f.error_code().unwrap_or_default().to_string(),
                message: f.error_message().unwrap_or_default().to_string(),
            })
            .collect(),
    })
}

/// One page of the active findings of `product_arn` with one of `generator_ids`.
///
/// The filter is applied again to the answer: a finding of another product, another generator
/// or already archived is never closed by this tool, whatever the endpoint returned.
pub async fn active_findings(
    c: &Client,
    product_arn: &str,
    generator_ids: &[String],
    next_token: Option<&str>,
) -> Result<FindingsPage, HubError> {
    const OP: &str = "GetFindings";
    let equals = |v: &str| {
        sh::StringFilter::builder()
            .value(v)
            .comparison(sh::StringFilterComparison::Equals)
            .build()
    };
    let filters = sh::AwsSecurityFindingFilters::builder()
        .product_arn(equals(product_arn))
        .set_generator_id(Some(generator_ids.iter().map(|g| equals(g)).collect()))
        .record_state(equals(sh::RecordState::Active.as_str()))
        .build();
    let out = c
        .get_findings()
        .filters(filters)
        .max_results(PAGE_SIZE)
        .set_next_token(next_token.map(str::to_string))
        .send()
        .await
        .map_err(|e| {
            let (code, message) = describe_sdk_error(&e);
            HubError {
                operation: OP,
                code,
                message,
            }
        })?;
    let findings = out
        .findings()
        .iter()
        .filter(|f| {
            f.product_arn() == Some(product_arn)
                && f.generator_id()
                    .is_some_and(|g| generator_ids.iter().any(|x| x == g))
                && f.record_state() == Some(&sh::RecordState::Active)
        })
        .filter_map(open_finding)
        .collect();
    Ok(FindingsPage {
        findings,
        next_token: out.next_token().map(str::to_string),
    })
}

fn open_finding(f: &sh::AwsSecurityFinding) -> Option<OpenFinding> {
    Some(OpenFinding {
        id: f.id()?.to_string(),
        generator_id: f.generator_id()?.to_string(),
        title: f.title().map(str::to_string),
        created_at: f.created_at().map(str::to_string),
        resources: f
            .resources()
            .iter()
            .filter_map(|r| {
                let kind: ResourceType = r.r#type()?.parse().ok()?;
                Some((kind, r.id()?.to_string()))
            })
            .collect(),
    })
}

/// The SDK's finding for one document.
pub fn finding(d: &Asff) -> sh::AwsSecurityFinding {
    let remediation = d.remediation.as_ref().map(|r| {
        sh::Remediation::builder()
            .recommendation(
                sh::Recommendation::builder()
                    .text(&r.recommendation.text)
                    .set_url(r.recommendation.url.clone())
                    .build(),
            )
            .build()
    });
    let provider = &d.finding_provider_fields;
    sh::AwsSecurityFinding::builder()
        .schema_version(&d.schema_version)
        .id(&d.id)
        .product_arn(&d.product_arn)
        .product_name(&d.product_name)
        .generator_id(&d.generator_id)
        .aws_account_id(&d.aws_account_id)
        .set_types(Some(d.types.clone()))
        .created_at(&d.created_at)
        .updated_at(&d.updated_at)
        .severity(severity(&d.severity))
        .title(&d.title)
        .description(&d.description)
        .set_remediation(remediation)
        .set_product_fields(Some(
            d.product_fields
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
        ))
        .set_resources(Some(d.resources.iter().map(resource).collect()))
        .compliance(
            sh::Compliance::builder()
                .status(compliance_status(d.compliance.status))
                .set_related_requirements(
                    (!d.compliance.related_requirements.is_empty())
                        .then(|| d.compliance.related_requirements.clone()),
                )
                .build(),
        )
        .record_state(record_state(d.record_state))
        .finding_provider_fields(
            sh::FindingProviderFields::builder()
                .severity(
                    sh::FindingProviderSeverity::builder()
                        .label(label(provider.severity.label))
                        .original(&provider.severity.original)
                        .build(),
                )
                .set_types(Some(provider.types.clone()))
                .build(),
        )
        .build()
}

fn severity(s: &Severity) -> sh::Severity {
    sh::Severity::builder()
        .label(label(s.label))
        .original(&s.original)
        .build()
}

fn label(l: SeverityLabel) -> sh::SeverityLabel {
    match l {
        SeverityLabel::Informational => sh::SeverityLabel::Informational,
        SeverityLabel::Low => sh::SeverityLabel::Low,
        SeverityLabel::Medium => sh::SeverityLabel::Medium,
        SeverityLabel::High => sh::SeverityLabel::High,
        SeverityLabel::Critical => sh::SeverityLabel::Critical,
    }
}

fn compliance_status(s: ComplianceStatus) -> sh::ComplianceStatus {
    match s {
        ComplianceStatus::Failed => sh::ComplianceStatus::Failed,
        ComplianceStatus::Warning => sh::ComplianceStatus::Warning,
        ComplianceStatus::Passed => sh::ComplianceStatus::Passed,
    }
}

fn record_state(s: RecordState) -> sh::RecordState {
    match s {
        RecordState::Active => sh::RecordState::Active,
        RecordState::Archived => sh::RecordState::Archived,
    }
}

fn partition(p: Partition) -> sh::Partition {
    match p {
        Partition::Aws => sh::Partition::Aws,
        Partition::AwsCn => sh::Partition::AwsCn,
        Partition::AwsUsGov => sh::Partition::AwsUsGov,
    }
}

fn resource(r: &Resource) -> sh::Resource {
    sh::Resource::builder()
        .r#type(r.kind.as_str())
        .id(&r.id)
        .partition(partition(r.partition))
        .region(&r.region)
        .set_details(r.details.as_ref().map(details))
        .build()
}

fn details(d: &ResourceDetails) -> sh::ResourceDetails {
    let user = d.aws_iam_user.as_ref().map(|u| {
        sh::AwsIamUserDetails::builder()
            .user_name(&u.user_name)
            .build()
    });
    let key = d.aws_iam_access_key.as_ref().map(|k| {
        sh::AwsIamAccessKeyDetails::builder()
            .principal_name(&k.principal_name)
            .principal_type(&k.principal_type)
            .account_id(&k.account_id)
            .set_access_key_id(k.access_key_id.clone())
            .set_created_at(k.created_at.clone())
            .set_status(k.status.map(|s| match s {
                AccessKeyStatus::Active => sh::AwsIamAccessKeyStatus::Active,
                AccessKeyStatus::Inactive => sh::AwsIamAccessKeyStatus::Inactive,
            }))
            .build()
    });
    sh::ResourceDetails::builder()
        .set_aws_iam_user(user)
        .set_aws_iam_access_key(key)
        .build()
}
