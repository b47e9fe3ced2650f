//! Test support, compiled only with the `test-support` feature (the tests, benchmarks and fuzz
//! targets turn it on; the Lambda package does not ship it).
//!
//! [`synthetic`] makes large, untidy accounts; [`report`] writes records back out as a credential
//! report; [`fake`] is an in-memory AWS account behind the ports, for orchestration tests.

pub mod fake;
pub mod org;
pub mod report;
pub mod synthetic;
