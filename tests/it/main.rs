//! The integration tests, one binary, grouped by layer:
//!
//! - pure core: `rules_contract` (a test per paragraph of docs/rules.md), `properties`;
//! - orchestration on the in-memory fake account: `sweep`;
//! - Security Hub findings, from the command line through the fake account to the emulator:
//!   `asff`;
//! - adapters on mocked SDK clients (wire behaviour: errors, retries, pagination): `aws_edge`;
//! - the binary: `cli_audit`, `corpus` (bad inputs), `lambda_runtime`;
//! - end to end over HTTP against the local emulator: `e2e`, and with faults injected by a proxy
//!   in front of it: `faults`;
//! - deployment: `template`.
//!
//! `support` holds what they share: the emulator client and the fault proxy.

mod support;

mod asff;
mod aws_edge;
mod cli_audit;
mod corpus;
mod cuts;
mod e2e;
mod faults;
mod lambda_runtime;
mod properties;
mod rules_contract;
mod sweep;
mod template;
