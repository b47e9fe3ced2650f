//! Logging: JSON lines inside Lambda (one event per finding, per action and per run, for
//! CloudWatch Logs Insights), readable text on stderr locally so stdout stays the JSON result.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

/// The level filter: `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else `info`. Directives are
/// `tracing_subscriber`'s `Targets` syntax (`warn`, `iam_sweeper=debug,info`); a variable that is
/// unset, empty or does not parse is skipped.
fn filter() -> Targets {
    ["RUST_LOG", "AWS_LAMBDA_LOG_LEVEL"]
        .into_iter()
        .filter_map(|name| std::env::var(name).ok())
        .filter(|v| !v.trim().is_empty())
        .find_map(|v| v.trim().to_ascii_lowercase().parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

/// JSON logs for CloudWatch. Lambda adds its own timestamp, so none is written here.
pub fn init_lambda() {
    let _ = tracing_subscriber::registry()
        .with(filter())
        .with(
            fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_target(true)
                .without_time(),
        )
        .try_init();
}

/// Human-readable logs on stderr.
pub fn init_local() {
    let _ = tracing_subscriber::registry()
        .with(filter())
        .with(fmt::layer().with_writer(std::io::stderr).with_target(false))
        .try_init();
}
