//! The time budget of a run: what fits before the Lambda deadline.
//!
//! The deadline margin is a budget, not a constant: an action starts only when every call it may
//! need, at its timeout, plus the publish of the summary, fits before the deadline; as the
//! deadline nears, calls get shorter timeouts; the report wait ends in time to publish.

use std::time::Duration;

use tokio::time::Instant;

use crate::app::ports::IamError;

/// The longest one call may take, retries included (the SDK's operation timeout).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest the summary's publish may take.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Kept free at the end of a run: the publish at its timeout, and a little for the result.
pub const PUBLISH_RESERVE: Duration = Duration::from_secs(12);

/// No call is started with less time than this: IAM answers in well under a second, but a
/// shorter bound would turn ordinary latency into failures.
pub const MIN_CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Calls one action may need: two re-check reads, the tag re-read, the change, and one read to
/// confirm a change whose answer was lost.
pub const CALLS_PER_ACTION: u32 = 5;

/// When the Lambda will be stopped, if known (a local run has no deadline).
#[derive(Debug, Clone, Copy, Default)]
pub struct Budget {
    pub deadline: Option<Instant>,
}

impl Budget {
    pub fn new(deadline: Option<Instant>) -> Self {
        Budget { deadline }
    }

    /// Time left for work, keeping the publish reserve; `None` without a deadline.
    fn left(&self) -> Option<Duration> {
        self.deadline.map(|d| {
            d.saturating_duration_since(Instant::now())
                .saturating_sub(PUBLISH_RESERVE)
        })
    }

    /// The timeout for each of `calls` calls still to make, or `None` when they do not fit.
    pub fn call_timeout(&self, calls: u32) -> Option<Duration> {
        match self.left() {
            None => Some(CALL_TIMEOUT),
            Some(left) => {
                let each = left / calls.max(1);
                (each >= MIN_CALL_TIMEOUT).then(|| each.min(CALL_TIMEOUT))
            }
        }
    }

    /// How long the report may be waited for: the configured wait, ended early enough to
    /// publish a summary saying the report was not available.
    pub fn report_wait(&self, configured: Duration) -> Duration {
        self.left().map_or(configured, |left| configured.min(left))
    }

    /// Runs one call with `timeout`; a call still unanswered then fails as `operation`.
    pub async fn call<T>(
        timeout: Duration,
        operation: &'static str,
        call: impl Future<Output = Result<T, IamError>>,
    ) -> Result<T, IamError> {
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or_else(|_| {
                Err(IamError::Other {
                    operation,
                    code: None,
                    message: format!(
                        "no answer within {} s (the time left before the Lambda deadline)",
                        timeout.as_secs_f32()
                    ),
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn without_a_deadline_every_call_gets_the_full_timeout() {
        assert_eq!(Budget::new(None).call_timeout(5), Some(CALL_TIMEOUT));
        assert_eq!(
            Budget::new(None).report_wait(Duration::from_secs(120)),
            Duration::from_secs(120)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn near_the_deadline_calls_get_shorter_then_none_start() {
        let at = |s: u64| Budget::new(Some(Instant::now() + Duration::from_secs(s)));
        assert_eq!(at(900).call_timeout(5), Some(CALL_TIMEOUT));
        // 12 s reserve, 50 s left for 5 calls: 10 s each.
        assert_eq!(at(62).call_timeout(5), Some(Duration::from_secs(10)));
        // 9 s left for 5 calls: under the minimum, nothing starts.
        assert_eq!(at(21).call_timeout(5), None);
        assert_eq!(at(5).call_timeout(1), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_report_wait_ends_in_time_to_publish() {
        let b = Budget::new(Some(Instant::now() + Duration::from_secs(40)));
        assert_eq!(
            b.report_wait(Duration::from_secs(120)),
            Duration::from_secs(28)
        );
        assert_eq!(
            b.report_wait(Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_its_timeout_fails_naming_the_operation() {
        let slow = async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<(), IamError>(())
        };
        let e = Budget::call(Duration::from_secs(3), "GetUser", slow)
            .await
            .unwrap_err();
        assert!(
            e.to_string().starts_with("GetUser: no answer within 3 s"),
            "{e}"
        );
    }
}
