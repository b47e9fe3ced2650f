//! Run metrics as one CloudWatch Embedded Metric Format (EMF) log line.
//!
//! Printed on stdout inside Lambda, the line becomes metrics in the `IamSweeper` namespace with
//! the dimension `Mode` (`report` or `enforce`, the mode the run actually used), which the
//! template's alarms watch (`ActionsFailed`, `ActionsNotTaken` in enforce mode). The line is also
//! an ordinary JSON log event, so the numbers can be read in CloudWatch Logs Insights too.
//!
//! Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::core::run::{Counter, RunReport};

/// The CloudWatch namespace of the run metrics.
pub const NAMESPACE: &str = "IamSweeper";

/// The first dimension of every metric.
pub const DIMENSION: &str = "Mode";

/// The second dimension: the function's name, so two stacks in one account and region (and their
/// alarms) keep their metrics apart.
pub const FUNCTION_DIMENSION: &str = "FunctionName";

/// Count metrics, in the order they are written: the counters that are metrics
/// ([`Counter::metric`]).
pub fn count_metrics() -> impl Iterator<Item = (Counter, &'static str)> {
    use strum::IntoEnumIterator;
    Counter::iter().filter_map(|c| c.metric().map(|m| (c, m)))
}

/// The run's duration, in milliseconds.
pub const DURATION_METRIC: &str = "RunDurationMs";

/// The EMF line for a finished run (successful or failed), timestamped with the run's time.
///
/// The run's time is `report.audit.as_of`, the time the handler was given, except for a what-if
/// run (an event with `as_of`), whose evaluation time may be in the future, which CloudWatch
/// would refuse: that run is stamped with the credential report's generation time instead. Use
/// [`emf_at`] to choose the timestamp.
pub fn emf(report: &RunReport, duration: Duration, function_name: &str) -> String {
    let at = match report.invocation.as_of {
        None => report.audit.as_of,
        Some(_) => report.report_generated_time.unwrap_or(report.audit.as_of),
    };
    emf_at(report, duration, function_name, at)
}

/// The EMF line for a finished run, with the metrics timestamped `at`.
pub fn emf_at(
    report: &RunReport,
    duration: Duration,
    function_name: &str,
    at: DateTime<Utc>,
) -> String {
    let mut definitions: Vec<Value> = count_metrics()
        .map(|(_, name)| json!({ "Name": name, "Unit": "Count" }))
        .collect();
    definitions.push(json!({ "Name": DURATION_METRIC, "Unit": "Milliseconds" }));

    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[DIMENSION, FUNCTION_DIMENSION]],
                "Metrics": definitions,
            }],
        }),
    );
    line.insert(
        DIMENSION.into(),
        Value::String(report.audit.policy.mode.to_string()),
    );
    for (counter, name) in count_metrics() {
        line.insert(name.into(), json!(report.count(counter)));
    }
    let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    line.insert(DURATION_METRIC.into(), json!(millis));

    // Properties: searchable in Logs Insights, not metrics.
    line.insert(FUNCTION_DIMENSION.into(), json!(function_name));
    line.insert("Account".into(), json!(report.account_id));
    line.insert(
        "Status".into(),
        json!(if report.failed() { "failed" } else { "ok" }),
    );
    line.insert("Trigger".into(), json!(report.invocation.trigger));
    line.insert(
        "Findings".into(),
        json!(report.count(Counter::Findings) as u64),
    );

    Value::Object(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::audit::Audit;
    use crate::core::config::{Mode, Policy};
    use crate::core::event::{Invocation, Trigger};
    use crate::core::run::{ActionCounts, Problem};
    use chrono::TimeZone;

    fn run(mode: Mode) -> RunReport {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 1).unwrap();
        let policy = Policy {
            mode,
            ..Policy::default()
        };
        let mut audit = Audit::from_findings(Vec::new(), &policy, now);
        audit.counts.findings = 9;
        audit.counts.unused_credentials = 6;
        audit.counts.initial_setup_keys = 2;
        audit.counts.root_access_keys = 1;
        RunReport {
            run_id: "20261201T020000Z-00000000".into(),
            audit,
            account_id: Some("123456789012".into()),
            invocation: Invocation {
                trigger: Trigger::Scheduler,
                mode,
                dry_run_requested: false,
                as_of: None,
            },
            report_generated_time: Some(Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap()),
            actions: Vec::new(),
            action_counts: ActionCounts {
                done: 4,
                already_done: 1,
                skipped_in_use: 2,
                failed: 3,
                not_taken: 5,
            },
            tag_errors: Vec::new(),
            problems: Vec::new(),
            published_message_id: None,
            omitted: Default::default(),
            owner_mail: Default::default(),
            journal: None,
        }
    }

    fn parse(line: &str) -> Value {
        assert!(!line.contains('\n'), "one line: {line}");
        serde_json::from_str(line).expect("the EMF line is JSON")
    }

    #[test]
    fn follows_the_emf_structure() {
        let line = emf(
            &run(Mode::Enforce),
            Duration::from_millis(1234),
            "iam-sweeper-Function",
        );
        let v = parse(&line);
        let aws = &v["_aws"];
        assert_eq!(
            aws["Timestamp"],
            json!(
                Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 1)
                    .unwrap()
                    .timestamp_millis()
            )
        );
        assert!(aws["Timestamp"].is_u64(), "Timestamp is an integer");
        let directives = aws["CloudWatchMetrics"].as_array().expect("an array");
        assert_eq!(directives.len(), 1);
        let d = &directives[0];
        assert_eq!(d["Namespace"], "IamSweeper");
        assert_eq!(d["Dimensions"], json!([["Mode", "FunctionName"]]));
        let metrics = d["Metrics"].as_array().expect("an array");
        assert!(metrics.len() <= 100, "at most 100 metrics per directive");

        // Every dimension is a string member of the root.
        for set in d["Dimensions"].as_array().unwrap() {
            let set = set.as_array().unwrap();
            assert!(!set.is_empty() && set.len() <= 30);
            for dim in set {
                let name = dim.as_str().expect("dimension names are strings");
                assert!(v[name].is_string(), "dimension {name} is a string member");
            }
        }
        assert_eq!(v["Mode"], "enforce");

        // Every metric is a numeric member of the root with a valid unit.
        let names: Vec<&str> = metrics
            .iter()
            .map(|m| {
                let name = m["Name"].as_str().expect("metric name");
                assert!(v[name].is_number(), "{name} is a number in the root");
                let unit = m["Unit"].as_str().expect("unit");
                let want = if name == "RunDurationMs" {
                    "Milliseconds"
                } else {
                    "Count"
                };
                assert_eq!(unit, want, "{name}");
                name
            })
            .collect();
        assert_eq!(
            names,
            [
                "FindingsUnusedCredentials",
                "FindingsInitialSetupKey",
                "FindingsRootAccessKey",
                "ActionsDone",
                "ActionsFailed",
                "ActionsSkipped",
                "ActionsNotTaken",
                "ActionsAlreadyDone",
                "RunDurationMs",
            ]
        );
    }

    #[test]
    fn values_come_from_the_report() {
        let v = parse(&emf(
            &run(Mode::Enforce),
            Duration::from_micros(1_234_999),
            "fn",
        ));
        assert_eq!(v["FindingsUnusedCredentials"], 6);
        assert_eq!(v["FindingsInitialSetupKey"], 2);
        assert_eq!(v["FindingsRootAccessKey"], 1);
        assert_eq!(v["ActionsDone"], 4);
        assert_eq!(v["ActionsFailed"], 3);
        assert_eq!(v["ActionsSkipped"], 2);
        assert_eq!(v["ActionsNotTaken"], 5);
        assert_eq!(v["ActionsAlreadyDone"], 1);
        assert_eq!(v["RunDurationMs"], 1234);
        assert_eq!(v["FunctionName"], "fn");
        assert_eq!(v["Account"], "123456789012");
        assert_eq!(v["Status"], "ok");
        assert_eq!(v["Trigger"], "scheduler");
        assert_eq!(v["Findings"], 9);
    }

    #[test]
    fn the_dimension_is_the_mode_the_run_used() {
        let v = parse(&emf(&run(Mode::Report), Duration::ZERO, "fn"));
        assert_eq!(v["Mode"], "report");
        assert_eq!(v["RunDurationMs"], 0);
    }

    #[test]
    fn a_failed_run_says_so() {
        let mut r = run(Mode::Enforce);
        r.problems.push(Problem::DeadlineCut(3));
        assert_eq!(parse(&emf(&r, Duration::ZERO, "fn"))["Status"], "failed");
    }

    #[test]
    fn a_what_if_run_is_stamped_with_the_report_time_not_the_future() {
        let mut r = run(Mode::Report);
        let future = Utc.with_ymd_and_hms(2027, 1, 1, 2, 0, 0).unwrap();
        r.invocation.as_of = Some(future);
        r.audit.as_of = future;
        let v = parse(&emf(&r, Duration::ZERO, "fn"));
        assert_eq!(
            v["_aws"]["Timestamp"],
            json!(
                Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0)
                    .unwrap()
                    .timestamp_millis()
            )
        );
    }

    #[test]
    fn emf_at_uses_the_given_time() {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 2, 3, 4).unwrap();
        let v = parse(&emf_at(&run(Mode::Report), Duration::ZERO, "fn", at));
        assert_eq!(v["_aws"]["Timestamp"], json!(at.timestamp_millis()));
    }
}
