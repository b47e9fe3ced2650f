//! The invocation event: which schedule or person started the run, and what it may change.
//!
//! Three shapes arrive: an EventBridge rule's `Scheduled Event`, an EventBridge Scheduler event
//! (`source: aws.scheduler`, whose `detail` is a string), and an on-demand event written by a
//! person (`{"mode": "report"}`, `{"mode": "report", "as_of": "…"}`). An event can only make a
//! run safer: it can force a dry run on an enforcing deployment, never the reverse. Anything
//! unexpected is rejected before any AWS call, so a typo never runs a sweep.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::config::Mode;
use crate::core::report::parse_timestamp;

/// What started the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// An EventBridge rule schedule (`source: aws.events`, `detail-type: Scheduled Event`).
    Schedule,
    /// An EventBridge Scheduler schedule (`source: aws.scheduler`).
    Scheduler,
    /// A person or script invoking the function directly.
    OnDemand,
}

/// The run an event asks for, once checked against the deployment's mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invocation {
    pub trigger: Trigger,
    /// The mode this run uses: the deployment's, or `report` when the event asks for a dry run.
    pub mode: Mode,
    /// True when the event turned an enforcing deployment into a dry run.
    pub dry_run_requested: bool,
    /// Evaluate as of this time instead of now (report mode only).
    pub as_of: Option<DateTime<Utc>>,
}

/// Why an event was refused. Nothing is done for a refused event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the event is not a JSON object: send {{}} or {{\"mode\": \"report\"}}")]
    NotAnObject,
    #[error("the event looks like an EventBridge event but does not decode as one: {0}")]
    BadEventBridge(String),
    #[error("unknown field `{0}` in the event; allowed fields are `mode` and `as_of`")]
    UnknownField(String),
    #[error("`mode` must be \"report\" or \"enforce\", not {0}")]
    BadMode(String),
    #[error(
        "the event asks for enforce mode but the deployment is in report mode; an event can make a run safer, never less safe"
    )]
    EscalationRefused,
    #[error("`as_of` must be an RFC 3339 time such as \"2026-01-31T02:00:00Z\", not {0}")]
    BadAsOf(String),
    #[error(
        "`as_of` (a what-if run) is only allowed in report mode; add \"mode\": \"report\" to the event"
    )]
    AsOfNeedsReportMode,
}

/// An EventBridge event (rule or Scheduler): every member AWS always sends is required, so a
/// cut or hand-made imitation is refused. Members AWS may add later are ignored.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // every member is decoded to check the shape; only some are read
struct EventBridgeEvent {
    version: String,
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    account: String,
    time: String,
    region: String,
    resources: Vec<String>,
    detail: Value,
}

/// The event a person writes: `{}`, `{"mode": "report"}`, `{"as_of": "…"}`. Nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDemandEvent {
    #[serde(default)]
    mode: Option<Value>,
    #[serde(default)]
    as_of: Option<Value>,
}

/// The field serde names in an "unknown field `x`, expected …" error.
fn unknown_field(e: &serde_json::Error) -> Option<String> {
    let msg = e.to_string();
    let rest = msg.strip_prefix("unknown field `")?;
    rest.find('`').map(|end| rest[..end].to_string())
}

/// Classifies `event` and combines it with the deployment's `mode`.
pub fn classify(event: &Value, deployed: Mode) -> Result<Invocation, EventError> {
    let obj = event.as_object().ok_or(EventError::NotAnObject)?;
    if let Some("aws.events" | "aws.scheduler") = obj.get("source").and_then(Value::as_str) {
        let decoded = EventBridgeEvent::deserialize(event)
            .map_err(|e| EventError::BadEventBridge(e.to_string()))?;
        let trigger = if decoded.source == "aws.scheduler" {
            Trigger::Scheduler
        } else if decoded.detail_type == "Scheduled Event" {
            Trigger::Schedule
        } else {
            return Err(EventError::BadEventBridge(format!(
                "detail-type {:?} is not \"Scheduled Event\"",
                decoded.detail_type
            )));
        };
        // A schedule's `detail` may ask for a safer run too (`{"mode": "report"}`); a Scheduler
        // sends it as a string of JSON.
        let detail = match decoded.detail {
            Value::String(text) if text.trim().is_empty() => Value::Object(Default::default()),
            Value::String(text) => serde_json::from_str(&text).map_err(|e| {
                EventError::BadEventBridge(format!("detail is not a JSON object: {e}"))
            })?,
            other => other,
        };
        if !detail.is_object() {
            return Err(EventError::BadEventBridge(
                "detail is not a JSON object".into(),
            ));
        }
        let asked = decode_request(&detail, deployed)?;
        return Ok(Invocation { trigger, ..asked });
    }
    decode_request(event, deployed)
}

/// Decodes what a person (or a schedule's detail) asks of the run and checks it against the
/// deployment's mode: it can make the run safer, never the reverse.
fn decode_request(event: &Value, deployed: Mode) -> Result<Invocation, EventError> {
    let on_demand = OnDemandEvent::deserialize(event).map_err(|e| {
        EventError::UnknownField(unknown_field(&e).unwrap_or_else(|| e.to_string()))
    })?;
    let mode = match on_demand.mode {
        None | Some(Value::Null) => deployed,
        Some(Value::String(s)) if s == "report" => Mode::Report,
        Some(Value::String(s)) if s == "enforce" => {
            if deployed != Mode::Enforce {
                return Err(EventError::EscalationRefused);
            }
            Mode::Enforce
        }
        Some(other) => return Err(EventError::BadMode(other.to_string())),
    };
    let as_of = match on_demand.as_of {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(parse_timestamp(&s).ok_or_else(|| EventError::BadAsOf(format!("{s:?}")))?)
        }
        Some(other) => return Err(EventError::BadAsOf(other.to_string())),
    };
    if as_of.is_some() && mode != Mode::Report {
        return Err(EventError::AsOfNeedsReportMode);
    }
    Ok(Invocation {
        trigger: Trigger::OnDemand,
        mode,
        dry_run_requested: deployed == Mode::Enforce && mode == Mode::Report,
        as_of,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule_event() -> Value {
        json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-23T02:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/nightly"], "detail": {}
        })
    }

    fn scheduler_event() -> Value {
        json!({
            "version": "0", "id": "7bd0e9a6-b2b6-4c4e-8c9b-3a0e2c1d9f10",
            "detail-type": "Scheduled Event", "source": "aws.scheduler",
            "account": "123456789012", "time": "2026-11-23T02:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/nightly"],
            "detail": "{}"
        })
    }

    #[test]
    fn scheduled_events_keep_the_deployed_mode() {
        for (event, trigger) in [
            (rule_event(), Trigger::Schedule),
            (scheduler_event(), Trigger::Scheduler),
        ] {
            for mode in [Mode::Report, Mode::Enforce] {
                let inv = classify(&event, mode).unwrap();
                assert_eq!((inv.trigger, inv.mode, inv.as_of), (trigger, mode, None));
            }
        }
    }

    #[test]
    fn a_schedule_detail_can_ask_for_a_dry_run_but_never_for_enforce() {
        let mut rule = rule_event();
        rule["detail"] = json!({"mode": "report"});
        let inv = classify(&rule, Mode::Enforce).unwrap();
        assert_eq!((inv.trigger, inv.mode), (Trigger::Schedule, Mode::Report));
        assert!(inv.dry_run_requested);
        let mut sched = scheduler_event();
        sched["detail"] = json!("{\"mode\": \"report\", \"as_of\": \"2027-01-01T00:00:00Z\"}");
        let inv = classify(&sched, Mode::Enforce).unwrap();
        assert_eq!((inv.trigger, inv.mode), (Trigger::Scheduler, Mode::Report));
        assert_eq!(inv.as_of, parse_timestamp("2027-01-01T00:00:00Z"));
        rule["detail"] = json!({"mode": "enforce"});
        assert_eq!(
            classify(&rule, Mode::Report),
            Err(EventError::EscalationRefused)
        );
        rule["detail"] = json!({"dry_run": true});
        assert!(classify(&rule, Mode::Enforce).is_err());
    }

    #[test]
    fn an_event_can_force_a_dry_run() {
        let inv = classify(&json!({"mode": "report"}), Mode::Enforce).unwrap();
        assert_eq!(inv.mode, Mode::Report);
        assert!(inv.dry_run_requested);
        let inv = classify(&json!({}), Mode::Enforce).unwrap();
        assert_eq!(inv.mode, Mode::Enforce);
    }

    #[test]
    fn an_event_cannot_escalate_to_enforce() {
        assert_eq!(
            classify(&json!({"mode": "enforce"}), Mode::Report),
            Err(EventError::EscalationRefused)
        );
        assert_eq!(
            classify(&json!({"mode": "enforce"}), Mode::Enforce)
                .unwrap()
                .mode,
            Mode::Enforce
        );
    }

    #[test]
    fn what_if_only_in_report_mode() {
        let inv = classify(&json!({"as_of": "2027-01-01T00:00:00Z"}), Mode::Report).unwrap();
        assert_eq!(inv.as_of, parse_timestamp("2027-01-01T00:00:00Z"));
        let inv = classify(
            &json!({"mode": "report", "as_of": "2027-01-01T00:00:00Z"}),
            Mode::Enforce,
        )
        .unwrap();
        assert_eq!(inv.mode, Mode::Report);
        assert_eq!(
            classify(&json!({"as_of": "2027-01-01T00:00:00Z"}), Mode::Enforce),
            Err(EventError::AsOfNeedsReportMode)
        );
    }

    #[test]
    fn bad_events_are_refused() {
        let bad = [
            json!([]),
            json!("report"),
            json!({"mode": "dry-run"}),
            json!({"mode": true}),
            json!({"dry_run": true}),
            json!({"as_of": "tomorrow"}),
            json!({"as_of": 5}),
            json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
            json!({"source": "aws.events", "detail-type": "EC2 Instance State-change Notification", "id": "1", "version": "0", "account": "1", "time": "2026-11-23T02:00:00Z", "region": "us-east-1", "resources": [], "detail": {}}),
        ];
        for e in bad {
            assert!(classify(&e, Mode::Enforce).is_err(), "{e}");
        }
    }
}
