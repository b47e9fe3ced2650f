//! The fault-injecting proxy (`tests/emulator/fault_proxy.py`) in front of a running
//! [`Emulator`]: the binary talks to the proxy, the test seeds and reads state back from the
//! emulator directly. Rules say which AWS operation to throttle, fail, delay, cut short or answer
//! without a member; the log says what the proxy saw and did.
//!
//! Starting it is not optional: when it cannot start, the test fails, it never skips.

#![allow(dead_code)] // each test uses a different part

use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::emulator::{Emulator, Run, spawn_ready, sweeper_env};

/// A running proxy; stopped when dropped.
pub struct Proxy {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
}

impl Proxy {
    /// Starts the proxy in front of `emulator` and waits for it to listen. Panics (failing the
    /// test) if it cannot.
    pub fn start(emulator: &Emulator) -> Proxy {
        let s = spawn_ready(
            "fault proxy",
            "fault_proxy.py",
            &[emulator.endpoint()],
            Duration::from_secs(30),
        );
        Proxy {
            child: s.child,
            _stdin: s.stdin,
            port: s.port,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Adds rules (a JSON list of rule objects; see the proxy's docstring).
    pub fn rules(&self, rules: Value) {
        let url = format!("{}/_proxy/rules", self.endpoint());
        ureq::post(&url)
            .send_json(&rules)
            .unwrap_or_else(|e| panic!("POST /_proxy/rules {rules}: {e}"));
    }

    /// Drops every rule and the log.
    pub fn reset(&self) {
        let url = format!("{}/_proxy/reset", self.endpoint());
        ureq::post(&url)
            .send_json(json!({}))
            .unwrap_or_else(|e| panic!("POST /_proxy/reset: {e}"));
    }

    /// `{"inflight": N, "requests": [...]}`: every AWS request seen, in arrival order.
    pub fn log(&self) -> Value {
        let url = format!("{}/_proxy/log", self.endpoint());
        let mut resp = ureq::get(&url)
            .call()
            .unwrap_or_else(|e| panic!("GET /_proxy/log: {e}"));
        resp.body_mut().read_json().expect("JSON answer")
    }

    /// The requests seen so far.
    pub fn requests(&self) -> Vec<Value> {
        self.log()["requests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// How many requests of `op` a rule fired on (`did` other than `forward`).
    pub fn fired(&self, op: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r["op"] == op && r["did"] != "forward")
            .count()
    }

    /// Waits until `pred` holds for the log's requests, or panics after `limit`.
    pub fn wait_for(&self, limit: Duration, what: &str, pred: impl Fn(&[Value]) -> bool) {
        let until = Instant::now() + limit;
        loop {
            if pred(&self.requests()) {
                return;
            }
            assert!(
                Instant::now() < until,
                "the proxy did not see {what} within {limit:?}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until no request is in flight (delayed requests forwarded), or panics after `limit`.
    pub fn wait_idle(&self, limit: Duration) {
        let until = Instant::now() + limit;
        while self.log()["inflight"].as_u64() != Some(0) {
            assert!(
                Instant::now() < until,
                "requests still in flight after {limit:?}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The `iam-sweeper invoke` command pointed at the proxy, with `env` on top of a clean
    /// environment; `event` is written to a file in `dir`.
    pub fn command(
        &self,
        dir: &std::path::Path,
        event: Option<&Value>,
        env: &[(&str, &str)],
    ) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-sweeper"));
        cmd.arg("invoke");
        if let Some(event) = event {
            let path = dir.join("event.json");
            std::fs::write(&path, event.to_string()).expect("write event");
            cmd.arg("--event").arg(&path);
        }
        sweeper_env(&mut cmd, &self.endpoint());
        cmd.envs(env.iter().copied());
        cmd
    }

    /// Runs `iam-sweeper invoke` through the proxy and returns the run and how long it took.
    /// A run still going after [`RUN_LIMIT`] is killed: its `code` is then `None`.
    pub fn invoke(&self, event: Option<&Value>, env: &[(&str, &str)]) -> (Run, Duration) {
        self.invoke_within(event, env, RUN_LIMIT)
    }

    /// As [`Proxy::invoke`], killing the run after `limit`.
    pub fn invoke_within(
        &self,
        event: Option<&Value>,
        env: &[(&str, &str)],
        limit: Duration,
    ) -> (Run, Duration) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = self.command(dir.path(), event, env);
        run_within(&mut cmd, limit)
    }
}

/// The longest a test lets one run of the binary go on.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Runs `cmd`, killing it after `limit` (its `code` is then `None`); returns the run and how
/// long it took.
pub fn run_within(cmd: &mut Command, limit: Duration) -> (Run, Duration) {
    use std::io::Read;
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start iam-sweeper");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = read(Box::new(child.stdout.take().expect("piped")));
    let err = read(Box::new(child.stderr.take().expect("piped")));
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = started.elapsed();
    let mut stderr = err.join().unwrap_or_default();
    if code.is_none() {
        stderr.push_str(&format!("\n[killed by the test after {limit:?}]"));
    }
    let run = Run {
        code,
        stdout: out.join().unwrap_or_default(),
        stderr,
    };
    (run, took)
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
