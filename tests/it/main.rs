//! The integration tests, one binary, grouped by layer:
//!
//! - pure core: `rules_contract` (a test per paragraph of docs/rules.md), `properties`;
//! - orchestration on the in-memory fake account: `sweep`;
//! - adapters on mocked SDK clients (wire behaviour: errors, retries, pagination): `aws_edge`;
//! - the binary: `cli_audit`, `corpus` (bad inputs), `lambda_runtime`;
//! - end to end over HTTP against the local emulator: `e2e`;
//! - deployment: `template`.
//!
//! `support` holds what they share: the emulator client.

mod support;

mod aws_edge;
mod cli_audit;
mod corpus;
mod e2e;
// mod handler_mocks;
mod lambda_runtime;
mod properties;
mod rules_contract;
mod template;
