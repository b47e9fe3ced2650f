//! Pure presentation: a run or an audit turned into text for people and machines.
//!
//! [`audit`] is the offline audit's table, [`summary`] the SNS mail (subject, body, attributes),
//! [`metrics`] the CloudWatch EMF line, [`asff`] the Security Hub findings (ASFF documents), [`owner_mail`] the mails a credential's
//! owner receives, [`undo`] the lines of `iam-sweeper undo` and `iam-sweeper runs`.
//! Everything here reads `core` types and returns strings or serializable documents.

pub mod asff;
pub mod audit;
pub mod digest;
pub mod metrics;
pub mod owner_mail;
pub mod summary;
pub mod undo;
