//! Logging: JSON lines inside Lambda (one event per finding, per action and per run, for
//! CloudWatch Logs Insights), readable text on stderr locally so stdout stays the JSON result.

use tracing_subscriber::EnvFilter;

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_from_env("AWS_LAMBDA_LOG_LEVEL"))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// JSON logs for CloudWatch. Lambda adds its own timestamp, so none is written here.
pub fn init_lambda() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter())
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true)
        .without_time()
        .try_init();
}

/// Human-readable logs on stderr.
pub fn init_local() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
