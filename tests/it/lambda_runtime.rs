//! The built binary as Lambda runs it: `AWS_LAMBDA_RUNTIME_API` points at a stub of the Lambda
//! Runtime API served here on 127.0.0.1, which hands out one invocation (`events/scheduled.json`)
//! and records what the binary posts back; AWS calls go to the local emulator.
//!
//! After the first invocation, `/next` is never answered (as in Lambda between invocations), and
//! the test kills the process.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use serde_json::{Value, json};
use tiny_http::{Header, Method, Response, Server};

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:iam-sweeper";
const TRACE_ID: &str = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";

/// What the binary posted back for an invocation.
#[derive(Debug)]
pub(crate) enum Posted {
    Response(Value),
    Error {
        error_type: Option<String>,
        body: Value,
    },
    InitError(Value),
}

/// The stub Runtime API: serves one event, then holds every further `/next`.
pub(crate) struct RuntimeApi {
    port: u16,
    server: Arc<Server>,
    posted: Receiver<(String, Posted)>,
    /// When the invocation was handed out (the answer to the first `/next`).
    pub(crate) handed_out: Arc<Mutex<Option<std::time::Instant>>>,
    thread: Option<JoinHandle<()>>,
}

impl RuntimeApi {
    pub(crate) fn start(event: Vec<u8>) -> RuntimeApi {
        Self::start_with_deadline(event, Duration::from_secs(300))
    }

    /// As [`RuntimeApi::start`], with the invocation's deadline `deadline_in` after it is handed
    /// out (`Lambda-Runtime-Deadline-Ms`).
    pub(crate) fn start_with_deadline(event: Vec<u8>, deadline_in: Duration) -> RuntimeApi {
        let handed_out = Arc::new(Mutex::new(None));
        let handed = Arc::clone(&handed_out);
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let (tx, posted) = mpsc::channel();
        let srv = Arc::clone(&server);
        let thread = std::thread::spawn(move || {
            let mut served = false;
            // `/next` requests after the first: kept unanswered until the stub stops.
            let held = Mutex::new(Vec::new());
            for mut req in srv.incoming_requests() {
                let url = req.url().to_string();
                let method = req.method().clone();
                if method == Method::Get && url == "/2018-06-01/runtime/invocation/next" {
                    if served {
                        held.lock().unwrap().push(req);
                        continue;
                    }
                    served = true;
                    let deadline = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_millis()
                        + deadline_in.as_millis();
                    *handed.lock().unwrap() = Some(std::time::Instant::now());
                    let header = |k: &str, v: &str| Header::from_bytes(k, v).unwrap();
                    let resp = Response::from_data(event.clone())
                        .with_header(header("Content-Type", "application/json"))
                        .with_header(header("Lambda-Runtime-Aws-Request-Id", REQUEST_ID))
                        .with_header(header("Lambda-Runtime-Deadline-Ms", &deadline.to_string()))
                        .with_header(header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN))
                        .with_header(header("Lambda-Runtime-Trace-Id", TRACE_ID));
                    let _ = req.respond(resp);
                    continue;
                }
                let mut body = String::new();
                let _ = req.as_reader().read_to_string(&mut body);
                let json = serde_json::from_str(&body).unwrap_or(Value::String(body));
                let error_type = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Lambda-Runtime-Function-Error-Type"))
                    .map(|h| h.value.to_string());
                let path = url.clone();
                let posted = if method != Method::Post {
                    None
                } else if url == "/2018-06-01/runtime/init/error" {
                    Some(Posted::InitError(json))
                } else if let Some(rest) = url.strip_prefix("/2018-06-01/runtime/invocation/") {
                    if rest.ends_with("/response") {
                        Some(Posted::Response(json))
                    } else if rest.ends_with("/error") {
                        Some(Posted::Error {
                            error_type,
                            body: json,
                        })
                    } else {
                        None
                    }
                } else {
                    None
                };
                match posted {
                    Some(p) => {
                        let _ = req.respond(
                            Response::from_string(r#"{"status":"OK"}"#).with_status_code(202),
                        );
                        let _ = tx.send((path, p));
                    }
                    None => {
                        let _ =
                            req.respond(Response::from_string("not found").with_status_code(404));
                    }
                }
            }
            drop(held);
        });
        RuntimeApi {
            port,
            server,
            posted,
            handed_out,
            thread: Some(thread),
        }
    }

    pub(crate) fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The first thing the binary posts back (or why nothing came).
    pub(crate) fn first_post(&self, child: &mut Child) -> (String, Posted) {
        self.first_post_within(child, Duration::from_secs(180))
    }

    /// The first thing the binary posts back within `limit` (or why nothing came).
    pub(crate) fn first_post_within(&self, child: &mut Child, limit: Duration) -> (String, Posted) {
        let until = std::time::Instant::now() + limit;
        loop {
            match self.posted.recv_timeout(Duration::from_millis(200)) {
                Ok((_, Posted::InitError(body))) => panic!("the runtime failed to start: {body}"),
                Ok(p) => return p,
                Err(_) => {}
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the binary exited ({status}) before posting a result");
            }
            assert!(
                std::time::Instant::now() < until,
                "no result posted within {limit:?}"
            );
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(crate) fn scheduled_event() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/scheduled.json"
    ))
    .expect("events/scheduled.json")
}

/// The binary as Lambda starts it, pointed at the stub and the emulator.
pub(crate) fn lambda_process(api: &RuntimeApi, endpoint: &str, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-sweeper"));
    crate::support::emulator::sweeper_env(&mut cmd, endpoint);
    cmd.env_remove("RUST_LOG")
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "iam-sweeper")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/iam-sweeper")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/23/[$LATEST]0123456789abcdef",
        )
        .env("_HANDLER", "bootstrap")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("start iam-sweeper")
}

/// Collects a pipe's lines on a thread.
pub(crate) fn lines(pipe: impl Read + Send + 'static) -> JoinHandle<Vec<String>> {
    std::thread::spawn(move || BufReader::new(pipe).lines().map_while(Result::ok).collect())
}

/// Kills the process (it is waiting on `/next`) and returns its stdout and stderr lines.
pub(crate) fn stop(
    mut child: Child,
    out: JoinHandle<Vec<String>>,
    err: JoinHandle<Vec<String>>,
) -> (Vec<String>, Vec<String>) {
    assert!(
        child.try_wait().expect("status").is_none(),
        "the runtime should still be waiting for the next invocation"
    );
    child.kill().expect("kill");
    let _ = child.wait();
    (out.join().unwrap(), err.join().unwrap())
}

fn ago(days: i64) -> String {
    crate::support::emulator::ts(Utc::now() - chrono::Duration::days(days))
}

#[test]
fn a_scheduled_invocation_posts_the_findings_and_logs_json() {
    let e = crate::support::emulator::Emulator::start();
    e.seed(vec![
        json!({"name": "stale-key", "created": ago(400),
               "keys": [{"created": ago(399), "status": "Active", "last_used": ago(200)}]}),
        json!({"name": "fresh", "created": ago(400),
               "keys": [{"created": ago(399), "status": "Active", "last_used": ago(1)}]}),
    ]);
    let api = RuntimeApi::start(scheduled_event());
    let mut child = lambda_process(&api, &e.endpoint(), &[]);
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());

    let (path, posted) = api.first_post(&mut child);
    std::thread::sleep(Duration::from_millis(300)); // the runtime goes back to `/next`
    let (stdout, stderr) = stop(child, out, err);
    println!("posted to {path}");
    for l in &stdout {
        println!("stdout: {l}");
    }
    for l in &stderr {
        println!("stderr: {l}");
    }

    assert_eq!(
        path,
        format!("/2018-06-01/runtime/invocation/{REQUEST_ID}/response")
    );
    let Posted::Response(result) = posted else {
        panic!("expected a response, got {posted:?}");
    };
    println!(
        "response: {}",
        serde_json::to_string_pretty(&json!({
            "invocation": result["invocation"],
            "policy.mode": result["policy"]["mode"],
            "findings": result["findings"].as_array().map(|f| f.iter().map(|f| json!([f["user"], f["credential"], f["action"]])).collect::<Vec<_>>()),
            "action_counts": result["action_counts"],
            "problems": result["problems"],
        }))
        .unwrap()
    );
    assert_eq!(result["invocation"]["trigger"], "schedule");
    assert_eq!(result["invocation"]["mode"], "report");
    let findings = result["findings"].as_array().expect("findings");
    assert!(
        findings
            .iter()
            .any(|f| f["user"] == "stale-key" && f["action"] == "deactivate_key"),
        "{findings:?}"
    );
    assert!(findings.iter().all(|f| f["user"] != "fresh"));
    assert_eq!(
        result["action_counts"]["not_taken"], 1,
        "report mode takes nothing"
    );
    assert_eq!(result["problems"], json!([]));

    assert!(!stdout.is_empty(), "the run logs to stdout");
    for l in &stdout {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v.is_object(), "{l}");
    }
    let logged = |message: &str| {
        stdout.iter().any(|l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| v["fields"]["message"] == message)
        })
    };
    assert!(logged("finding"), "a log event per finding");
    assert!(logged("run finished"), "a log event for the run");
}

#[test]
fn a_bad_configuration_fails_the_invocation_not_the_process() {
    let e = crate::support::emulator::Emulator::start();
    let api = RuntimeApi::start(scheduled_event());
    let mut child = lambda_process(&api, &e.endpoint(), &[("MODE", "bogus")]);
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());

    let (path, posted) = api.first_post(&mut child);
    std::thread::sleep(Duration::from_millis(300));
    let (stdout, _) = stop(child, out, err);
    println!("posted to {path}: {posted:?}");

    assert_eq!(
        path,
        format!("/2018-06-01/runtime/invocation/{REQUEST_ID}/error")
    );
    let Posted::Error { error_type, body } = posted else {
        panic!("expected an invocation error, got {posted:?}");
    };
    println!("error type header: {error_type:?}");
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("MODE") && message.contains("bogus"),
        "the error names the bad variable: {body}"
    );
    assert!(body["errorType"].is_string(), "{body}");
    assert!(
        stdout.iter().any(|l| l.contains("invalid configuration")),
        "the configuration error is logged: {stdout:?}"
    );
    let calls = e.calls();
    assert!(
        calls
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("IAM.") && !k.starts_with("SNS.")),
        "AWS was called: {calls}"
    );
}
