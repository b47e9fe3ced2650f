//! iam-sweeper: keeps an AWS account's IAM user credentials clean.
//!
//! The pure core reads the credential report ([`report`]), the policy ([`config`]) and applies the
//! rules ([`rules`]) to produce [`finding::Finding`]s; [`audit`] renders them. The AWS edge and
//! the Lambda handler wire this core to IAM and SNS.

pub mod audit;
pub mod aws;
pub mod config;
pub mod enforce;
pub mod event;
pub mod exemption;
pub mod finding;
pub mod handler;
pub mod logging;
pub mod metrics;
pub mod reads;
pub mod recheck;
pub mod report;
pub mod rules;
pub mod summary;
pub mod synthetic;
