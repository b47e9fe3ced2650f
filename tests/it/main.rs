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
//! - deployment: `template`, and `deploy` (the template translated by SAM and deployed twice into
//!   the emulator's CloudFormation; the operator guide's commands; the Makefile's deploy targets).
//!
//! `support` holds what they share: the emulator client and the fault proxy.

mod support;

mod asff;
mod aws_edge;
mod cli_audit;
mod corpus;
mod cuts;
mod deploy;
mod e2e;
mod faults;
mod journal;
mod journal_e2e;
mod lambda_runtime;
mod org;
mod org_e2e;
mod org_templates;
mod properties;
mod rules_contract;
mod sweep;
mod template;
mod undo;
mod undo_e2e;
