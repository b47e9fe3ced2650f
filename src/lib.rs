//! iam-sweeper: keeps an AWS account's IAM user credentials clean.
//!
//! # Layout
//!
//! Dependencies point one way: `main` → [`app`] → [`render`] → [`core`]; [`aws`] → ([`app`]'s
//! ports, [`core`]). Nothing in `core` or `render` touches AWS, the clock or the network.
//!
//! ```text
//! src/
//!   main.rs          the binary: Lambda runtime or command line
//!   cli.rs           `iam-sweeper audit` and `iam-sweeper invoke`
//!     undo.rs        `iam-sweeper undo RUN_ID` and `iam-sweeper runs`: the journal, read back
//!                    with the operator's credentials (core/undo.rs decides, app/undo.rs does,
//!                    render/undo.rs prints)
//!   lambda.rs        the Lambda entry: one sweep per invocation, EMF metrics line; an
//!                    organization event (core/org.rs detects it) goes to app/org.rs instead
//!   logging.rs       JSON logs in Lambda, text locally
//!   core/            pure: report parsing, config, rules, exemptions, event decoding,
//!                    the action plan, re-check decisions, outcomes, the run report
//!                    (journal.rs: the journal's layout, records and quarantine decisions;
//!                    owner_mail.rs: which owner mail is due)
//!   render/          pure: the audit table, the summary mail, the metrics line, the Security
//!                    Hub findings (asff.rs: ASFF documents), the owner's mails
//!   app/             orchestration over ports: the sweep, the action phase, the read strategy,
//!                    the Security Hub import (hub.rs: batches, pacing, closing fixed findings),
//!                    the journal's writes (journal.rs), owner mail (owner_mail.rs)
//!     ports.rs       the traits the run needs from AWS (report, IAM reads/actions, notifier,
//!                    Security Hub, S3 objects, SES mail, IAM restores for undo)
//!   aws/             adapters: the only code that names the AWS SDK
//!   testing/         (feature `test-support`) synthetic accounts, report writer, fake account,
//!                    fake organization (org.rs)
//!
//!   organization mode (a Step Functions workflow runs the same binary):
//!   core/org.rs      pure: the workflow's events, ORG_* / MEMBER_* settings, the listing's
//!                    filters, a worker's per-account result, the digest from the map's results
//!   app/org.rs       the listing (Organizations → S3), the worker (each account of a batch
//!                    swept by app::sweep::handle, side by side), the digest (S3 → one mail)
//!   render/digest.rs the organization's one mail
//!   aws/org.rs       Organizations pages; the member role (STS) → the member's IAM and
//!                    Security Hub, the hub's SNS, S3 and SES
//! ```
//!
//! # Tracing one run
//!
//! [`lambda`] (or [`cli`]'s `invoke`) builds the AWS adapter and calls [`app::sweep::handle`]:
//! the event is classified ([`core::event`]), the report fetched through
//! [`app::ports::ReportSource`] and parsed ([`core::report`]), the rules evaluated
//! ([`core::rules`]), tags read for exemptions ([`app::reads`]), the plan taken
//! ([`app::act`], re-checking each credential with [`core::recheck`]), the findings imported into
//! Security Hub when `SECURITY_HUB=true` ([`app::hub`], documents from [`render::asff`], through
//! [`app::ports::SecurityHub`]), owners mailed ([`app::owner_mail`]), the run's manifest written to
//! the journal ([`app::journal`], which also took each action's intent and outcome), and the summary
//! built ([`render::summary`]) and published through [`app::ports::Notifier`].

pub mod app;
pub mod aws;
pub mod cli;
pub mod core;
pub mod lambda;
pub mod logging;
pub mod render;
#[cfg(feature = "test-support")]
pub mod testing;
