//! The pure core: everything a run decides, as plain functions of plain data.
//!
//! No AWS SDK, no async runtime, no clock and no I/O: the time is an argument, the report is
//! bytes, the live facts arrive as values. Read in this order:
//! [`report`] (CSV → records) → [`config`] (environment → policy) → [`rules`] (records → findings,
//! with [`exemption`] by name) → [`audit`] (findings → verdicts and counts) → [`plan`] (findings →
//! typed actions) → [`recheck`] (live facts → is the action still due?) → [`outcome`] (how each
//! action ended) → [`run`] (the run report, its problems and counters). [`event`] decodes the
//! invocation; [`live`] holds the plain shapes of live IAM facts and failed calls.

pub mod audit;
pub mod cis;
pub mod config;
pub mod event;
pub mod exemption;
pub mod finding;
pub mod live;
pub mod outcome;
pub mod plan;
pub mod recheck;
pub mod report;
pub mod rule_id;
pub mod rules;
pub mod run;
