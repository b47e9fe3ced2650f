//! The `audit` command as a user runs it: exit codes, output formats, and clear errors for every
//! kind of unreadable input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_iam-sweeper");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn audit(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("audit").args(args);
    for v in iam_sweeper::core::config::VARIABLES {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn sample() -> String {
    fixture("seed-sample.csv").display().to_string()
}

#[test]
fn json_output_follows_the_documented_schema() {
    let o = audit(
        &[
            &sample(),
            "--as-of",
            "2016-09-15T00:00:00Z",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["as_of"], "2016-09-15T00:00:00Z");
    assert_eq!(v["policy"]["stale_after_days"], 30);
    assert_eq!(v["policy"]["mode"], "report");
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 8);
    for f in findings {
        for field in [
            "user",
            "arn",
            "credential",
            "rules",
            "last_activity",
            "last_activity_source",
            "idle_days",
            "stale",
            "disable_due",
            "disable_on",
            "exempt",
            "action",
        ] {
            assert!(f.get(field).is_some(), "finding lacks {field}: {f}");
        }
    }
    let elise = &findings[1];
    assert_eq!(elise["user"], "elise");
    assert_eq!(elise["credential"], "access_key_1");
    assert_eq!(elise["rules"], serde_json::json!(["unused-credentials"]));
    assert_eq!(elise["last_activity"], "2015-04-16T15:14:00Z");
    assert_eq!(elise["last_activity_source"], "access_key_1_last_used_date");
    assert_eq!(elise["idle_days"], 517);
    assert_eq!(elise["action"], "deactivate_key");
    assert_eq!(v["counts"]["findings"], 8);
    assert_eq!(v["counts"]["actions_planned"], 6);
}

#[test]
fn text_output_groups_by_verdict() {
    let o = audit(&[&sample(), "--as-of", "2016-09-15T00:00:00Z"], &[]);
    assert_eq!(o.status.code(), Some(3));
    let text = stdout(&o);
    let act = text.find("Action due").unwrap();
    let upcoming = text.find("Upcoming").unwrap();
    let root = text.find("Root access keys").unwrap();
    assert!(act < upcoming && upcoming < root, "{text}");
    assert!(text.contains("8 findings"), "{text}");
}

#[test]
fn exit_zero_when_nothing_is_stale() {
    // rakesh's keys are inactive; helene used her key two days before.
    let text = std::fs::read_to_string(fixture("seed-sample.csv")).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| l.starts_with("user,") || l.starts_with("rakesh,") || l.starts_with("helene,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(&path, kept).unwrap();
    let o = audit(
        &[path.to_str().unwrap(), "--as-of", "2015-11-20T00:00:00Z"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("0 findings"));
}

#[test]
fn exempt_findings_do_not_fail_the_audit() {
    let text = std::fs::read_to_string(fixture("seed-sample.csv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(
        &path,
        text.lines()
            .filter(|l| !l.starts_with("<root"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let o = audit(
        &[path.to_str().unwrap(), "--as-of", "2016-09-15T00:00:00Z"],
        &[("EXEMPT_USERS", "*")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("Exempt"));
}

#[test]
fn policy_comes_from_the_environment() {
    let o = audit(
        &[
            &sample(),
            "--as-of",
            "2016-09-15T00:00:00Z",
            "--format",
            "json",
        ],
        &[("DISABLE_AFTER_DAYS", "600"), ("STALE_AFTER_DAYS", "600")],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["policy"]["disable_after_days"], 600);
    // Only the root key and the two initial-setup keys remain.
    assert_eq!(v["counts"]["findings"], 3);
}

#[test]
fn bad_configuration_exits_2_listing_every_variable() {
    let o = audit(&[&sample()], &[("MODE", "nope"), ("WARN_DAYS", "x")]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("MODE") && err.contains("WARN_DAYS"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(audit(&[], &[]).status.code(), Some(2));
    let o = audit(&[&sample(), "--as-of", "yesterday"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("RFC 3339"));
    assert_eq!(
        audit(&[&sample(), "--format", "xml"], &[]).status.code(),
        Some(2)
    );
    let o = audit(&["/nonexistent/report.csv"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"));
}

/// Each malformed report exits 2 with a message naming where the problem is.
#[test]
fn malformed_reports_exit_2_naming_line_and_column() {
    let good = std::fs::read_to_string(fixture("seed-sample.csv")).unwrap();
    let header = good.lines().next().unwrap().to_string();
    let row = good.lines().nth(2).unwrap().to_string(); // elise
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "empty"),
        ("bom only", b"\xEF\xBB\xBF".to_vec(), "empty"),
        (
            "missing column",
            format!("{}\n{row}\n", header.replace(",mfa_active", "")).into_bytes(),
            "mfa_active",
        ),
        (
            "duplicated column",
            format!("{header},user\n{row},x\n").into_bytes(),
            "twice",
        ),
        (
            "short row",
            format!("{header}\n{}\n", row.rsplit_once(',').unwrap().0).into_bytes(),
            "line 2",
        ),
        (
            "long row",
            format!("{header}\n{row},extra\n").into_bytes(),
            "line 2",
        ),
        (
            "bad date",
            format!(
                "{header}\n{}\n",
                row.replace("2015-04-16T15:14:00+00:00", "2015-04-16")
            )
            .into_bytes(),
            "line 2, column `access_key_1_last_used_date`",
        ),
        (
            "bad boolean",
            format!("{header}\n{}\n", row.replacen(",false,", ",nope,", 1)).into_bytes(),
            "line 2, column `password_enabled`",
        ),
        (
            "duplicate user",
            format!("{header}\n{row}\n{row}\n").into_bytes(),
            "line 3",
        ),
        (
            "not utf-8",
            {
                let mut b = format!("{header}\n").into_bytes();
                b.extend(
                    row.replacen("elise", "el\u{1}se", 1)
                        .into_bytes()
                        .iter()
                        .map(|&c| if c == 1 { 0xff } else { c }),
                );
                b
            },
            "line 2, column `user`",
        ),
        (
            "huge field",
            format!(
                "{header}\n{}\n",
                row.replacen("elise", &"e".repeat(100_000), 1)
            )
            .into_bytes(),
            "line 2, column `user`",
        ),
        (
            "not a report",
            b"hello,world\n1,2\n".to_vec(),
            "no column `user`",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes, expect) in cases {
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, &bytes).unwrap();
        let o = audit(&[path.to_str().unwrap(), "--format", "json"], &[]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{name}: printed a result");
        assert!(stderr(&o).contains(expect), "{name}: {}", stderr(&o));
    }
}
