//! Orchestration: one run over the ports, from event to published summary.
//!
//! [`sweep`] is the run start to finish; [`act`] the action phase (live re-check, then act);
//! [`reads`] chooses per-user or paged reads of tags and password use; [`hub`] imports the
//! findings into Security Hub (`SECURITY_HUB`); [`journal`] writes the write-ahead journal
//! (`JOURNAL_BUCKET`); [`owner_mail`] warns credentials' owners (`SENDER_EMAIL`); [`ports`] the traits the run needs from AWS; [`undo`] reverses a journaled run and lists the runs (`iam-sweeper undo` / `runs`). The settings come from the environment through [`settings_from_env`].

pub mod act;
pub mod budget;
pub mod hub;
pub mod journal;
pub mod org;
pub mod owner_mail;
pub mod ports;
pub mod reads;
pub mod sweep;
pub mod undo;

use crate::core::config::{self, ConfigError, Policy, Runtime};

/// The settings a run needs that do not change between invocations.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: Policy,
    pub runtime: Runtime,
}

/// Reads the settings from the process environment (every problem at once).
pub fn settings_from_env() -> Result<Settings, ConfigError> {
    config::from_lookup(|name| std::env::var(name).ok())
        .map(|(policy, runtime)| Settings { policy, runtime })
}
