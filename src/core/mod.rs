//! The pure core: everything a run decides, as plain functions of plain data.
//!
//! No AWS SDK, no async runtime, no clock and no I/O: the time is an argument, the report is
//! bytes, the live facts arrive as values. Read in this order:
//! [`report`] (CSV → records) → [`config`] (environment → policy) → [`rules`] (records → findings,
//! with [`exemption`] by name) → [`audit`] (findings → verdicts and counts) → [`plan`] (findings →
//! typed actions) → [`recheck`] (live facts → is the action still due?) → [`outcome`] (how each
//! action ended) → [`run`] (the run report, its problems and counters). [`event`] decodes the
//! invocation; [`live`] holds the plain shapes of live IAM facts and failed calls. [`journal`] is the
//! write-ahead journal's layout, records and the decisions read from it (quarantine);
//! [`owner_mail`] which owner mail is due; [`undo`] what reversing a journaled run means for each
//! action, given the live state.

pub mod audit;
pub mod cis;
pub mod config;
pub mod event;
pub mod exemption;
pub mod finding;
pub mod journal;
pub mod live;
pub mod org;
pub mod outcome;
pub mod owner_mail;
pub mod plan;
pub mod recheck;
pub mod report;
pub mod rule_id;
pub mod rules;
pub mod run;
pub mod undo;
