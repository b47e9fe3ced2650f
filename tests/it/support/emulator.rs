//! The local AWS emulator for end-to-end tests: moto, served in-process by
//! `tests/emulator/moto_launcher.py` on 127.0.0.1 and a free port, one per test.
//!
//! Starting it is not optional: when Python, the venv or moto is missing the tests fail with a
//! message saying how to fix it (`make venv`), they never skip.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use iam_sweeper::core::report::Record;
use serde_json::{Value, json};

/// A running emulator; stopped when dropped.
pub struct Emulator {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
}

/// The Python that has the pinned emulator environment.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("IAM_SWEEPER_PYTHON") {
        return p.into();
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

/// A helper process of the tests (the emulator, the fault proxy) that prints `READY <port>` once
/// it listens and exits when its standard input closes.
pub struct Spawned {
    pub child: Child,
    pub stdin: ChildStdin,
    pub port: u16,
}

/// Starts `tests/emulator/<script>` with the pinned Python and `args`, and waits up to `wait` for
/// `READY <port>`. Panics (failing the test) if it cannot: tests never skip.
pub fn spawn_ready(what: &str, script: &str, args: &[String], wait: Duration) -> Spawned {
    let python = python();
    assert!(
        python.exists(),
        "the emulator's Python environment is missing at {}: run `make venv` (make test does it)",
        python.display()
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/emulator")
        .join(script);
    let mut child = Command::new(&python)
        .arg(&script)
        .args(args)
        .arg("--exit-on-stdin-eof")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the {what} with {}: {e}", python.display()));
    let stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(port) = line.strip_prefix("READY ") {
                let _ = tx.send(port.trim().parse::<u16>().ok());
            }
        }
    });
    match rx.recv_timeout(wait) {
        Ok(Some(port)) => Spawned { child, stdin, port },
        other => {
            let _ = child.kill();
            panic!(
                "the {what} did not start within {wait:?} ({other:?}); run it by hand: {} {} {}",
                python.display(),
                script.display(),
                args.join(" ")
            );
        }
    }
}

impl Emulator {
    /// Starts the emulator and waits for it to listen. Panics (failing the test) if it cannot.
    pub fn start() -> Emulator {
        let s = spawn_ready("emulator", "moto_launcher.py", &[], Duration::from_secs(60));
        Emulator {
            child: s.child,
            _stdin: s.stdin,
            port: s.port,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn post(&self, path: &str, body: &Value) -> Value {
        let url = format!("{}{path}", self.endpoint());
        let mut resp = ureq::post(&url)
            .send_json(body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        resp.body_mut().read_json().expect("JSON answer")
    }

    pub fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.endpoint());
        let mut resp = ureq::get(&url)
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        resp.body_mut().read_json().expect("JSON answer")
    }

    /// Seeds users (see the launcher for the shape) and returns the launcher's answer.
    pub fn seed(&self, users: Vec<Value>) -> Value {
        self.post("/_seed/users", &json!({ "users": users }))
    }

    /// The messages SNS received: (subject, body, attributes).
    pub fn sns_messages(&self) -> Vec<(String, String, Value)> {
        let data = self.get("/moto-api/data.json");
        let mut out = Vec::new();
        for topic in data["sns"]["Topic"].as_array().into_iter().flatten() {
            for n in topic["sent_notifications"].as_array().into_iter().flatten() {
                out.push((
                    n[2].as_str().unwrap_or_default().to_string(),
                    n[1].as_str().unwrap_or_default().to_string(),
                    n[3].clone(),
                ));
            }
        }
        out
    }

    /// API calls served so far, by `SERVICE.Action`.
    pub fn calls(&self) -> Value {
        self.get("/_seed/calls")
    }

    /// The SDK configuration of a reader pointed at the emulator (a key ID no test seeds).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                "AKIATESTREADER000000",
                "secret",
                None,
                None,
                "e2e",
            ))
            .load()
            .await
    }

    /// SDK clients pointed at the emulator, for reading state back.
    pub async fn clients(&self) -> (aws_sdk_iam::Client, aws_sdk_sns::Client) {
        let config = self.sdk_config().await;
        (
            aws_sdk_iam::Client::new(&config),
            aws_sdk_sns::Client::new(&config),
        )
    }

    /// `(access key ID, status)` of each of `user`'s keys, read from the emulator's IAM.
    pub async fn key_status(&self, user: &str) -> Vec<(String, String)> {
        let (iam, _) = self.clients().await;
        iam.list_access_keys()
            .user_name(user)
            .send()
            .await
            .expect("ListAccessKeys")
            .access_key_metadata
            .into_iter()
            .map(|k| {
                (
                    k.access_key_id.unwrap_or_default(),
                    k.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Whether `user` has a console password (a login profile).
    pub async fn has_password(&self, user: &str) -> bool {
        let (iam, _) = self.clients().await;
        iam.get_login_profile().user_name(user).send().await.is_ok()
    }

    /// Per user: their keys with statuses, and whether a login profile exists.
    pub async fn snapshot(&self, users: &[&str]) -> Vec<(String, Vec<(String, String)>, bool)> {
        let mut out = Vec::new();
        for u in users {
            out.push((
                u.to_string(),
                self.key_status(u).await,
                self.has_password(u).await,
            ));
        }
        out
    }

    /// Creates an SNS topic and returns its ARN.
    pub async fn topic(&self, name: &str) -> String {
        let (_, sns) = self.clients().await;
        sns.create_topic()
            .name(name)
            .send()
            .await
            .expect("CreateTopic")
            .topic_arn
            .expect("topic ARN")
    }

    /// Runs `iam-sweeper invoke` against the emulator with `env` on top of a clean environment.
    pub fn invoke(&self, event: Option<&Value>, env: &[(&str, &str)]) -> Run {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-sweeper"));
        cmd.arg("invoke");
        if let Some(event) = event {
            let path = dir.path().join("event.json");
            std::fs::write(&path, event.to_string()).expect("write event");
            cmd.arg("--event").arg(&path);
        }
        sweeper_env(&mut cmd, &self.endpoint());
        cmd.envs(env.iter().copied());
        Run::from(cmd.output().expect("run iam-sweeper"))
    }
}

/// A clean environment for the binary: the emulator's endpoint, dummy credentials that are not a
/// seeded key, and none of the policy variables of the calling shell.
pub fn sweeper_env(cmd: &mut Command, endpoint: &str) {
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || iam_sweeper::core::config::VARIABLES.contains(&k.as_str()) {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIADUMMYDUMMYDUMMY0")
        .env("AWS_SECRET_ACCESS_KEY", "dummy")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "warn");
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One finished `invoke`.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// The JSON result printed on stdout.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not the JSON result ({e}); exit {:?}\nstderr:\n{}",
                self.code, self.stderr
            )
        })
    }

    /// Outcome status of the action on `user`'s `credential`.
    pub fn status_of(&self, user: &str, credential: &str) -> Option<String> {
        self.json()["actions"]
            .as_array()?
            .iter()
            .find(|a| a["user"] == user && a["credential"] == credential)
            .and_then(|a| a["status"].as_str().map(str::to_string))
    }
}

/// The ID the emulator gave `user`'s first seeded key (from the answer of [`Emulator::seed`]).
pub fn first_key_id(seeded: &Value, user: &str) -> String {
    seeded["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["name"] == user))
        .and_then(|u| u["keys"][0]["id"].as_str())
        .unwrap_or_else(|| panic!("no seeded key for {user}: {seeded}"))
        .to_string()
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The seeding JSON for a report record (the root row has no equivalent and is skipped).
pub fn seed_user(r: &Record) -> Option<Value> {
    if r.is_root() {
        return None;
    }
    let keys: Vec<Value> = r
        .access_keys
        .iter()
        .filter(|k| k.active.is_some() && k.last_rotated.is_some())
        .map(|k| {
            json!({
                "created": ts(k.last_rotated.expect("filtered")),
                "status": if k.is_active() { "Active" } else { "Inactive" },
                "last_used": k.last_used_date.map(ts),
                "service": k.last_used_service,
                "region": k.last_used_region,
            })
        })
        .collect();
    Some(json!({
        "name": r.user,
        "created": ts(r.user_creation_time.expect("users have a creation time")),
        "password": if r.has_password() { json!({"last_used": r.password_last_used.map(ts)}) } else { Value::Null },
        "keys": keys,
    }))
}
