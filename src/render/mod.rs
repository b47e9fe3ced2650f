//! Pure presentation: a run or an audit turned into text for people and machines.
//!
//! [`audit`] is the offline audit's table, [`summary`] the SNS mail (subject, body, attributes),
//! [`metrics`] the CloudWatch EMF line. Everything here reads `core` types and returns strings.

pub mod audit;
pub mod metrics;
pub mod summary;
