"""The Python client of the local AWS emulator (`moto_launcher.py`), for `make demo` and `make bench`.

One start-up protocol, the same one the Rust tests speak (tests/it/support/emulator.rs):

  1. start `PYTHON moto_launcher.py --exit-on-stdin-eof` with stdin and stdout piped;
  2. wait, at most `timeout` seconds, for the line `READY <port>` on its stdout;
  3. talk HTTP to 127.0.0.1:<port>: the AWS APIs at `/`, the launcher's seeding endpoints under
     `/_seed/`, moto's own state under `/moto-api/`;
  4. stop it by closing its stdin (it exits on EOF), killing it if it has not gone in 10 s.

    with Emulator.start(".venv/bin/python") as emu:
        emu.seed_users([...])
        subprocess.run([binary, "invoke"], env=emu.aws_env({"MODE": "enforce"}))
        print(emu.sns_messages())

Only the standard library is needed to start, seed and read the emulator; `client()` and
`create_topic()` import boto3, which the emulator's environment (.venv) has.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LAUNCHER = os.path.join(HERE, "moto_launcher.py")
# The Python of the pinned emulator environment, built by `make venv`.
DEFAULT_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
REGION = "us-east-1"
# Credentials the emulator accepts; never a seeded key, never a real one.
DUMMY_KEY = "AKIADUMMYDUMMYDUMMY0"
DUMMY_SECRET = "dummy"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class EmulatorError(RuntimeError):
    """The emulator could not be started or answered an HTTP call with an error."""


def aws_env(endpoint: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for running iam-sweeper (or any AWS SDK program) against `endpoint`: this
    process's environment without any AWS_* variable, plus the endpoint, the region, dummy
    credentials and no instance metadata; then `extra`. RUST_LOG is kept if set, else `warn`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
        "AWS_EC2_METADATA_DISABLED": "true",
        "RUST_LOG": os.environ.get("RUST_LOG", "warn"),
    })
    env.update(extra or {})
    return env


class Emulator:
    """A running emulator on 127.0.0.1; `stop()` it, or use it as a context manager."""

    def __init__(self, proc: subprocess.Popen, port: int, http_timeout: float) -> None:
        self.proc = proc
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self.http_timeout = http_timeout

    # ---- start and stop ------------------------------------------------------------------------

    @classmethod
    def start(cls, python: str | None = None, timeout: float = START_TIMEOUT_S,
              http_timeout: float = 120.0, verbose: bool = False) -> "Emulator":
        """Starts the launcher with `python` (default: .venv's) and waits for `READY <port>`.
        Raises EmulatorError, saying what to do, when it cannot start or stays silent."""
        python = python or DEFAULT_PYTHON
        if os.sep in python and not os.path.exists(python):
            raise EmulatorError(f"the emulator's Python environment is missing at {python}: "
                                "run `make venv`")
        cmd = [python, LAUNCHER, "--exit-on-stdin-eof"] + (["--verbose"] if verbose else [])
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        except OSError as exc:
            raise EmulatorError(f"cannot start the emulator with {python}: {exc}") from exc

        # stdout is read by a thread for as long as the launcher runs, so the wait can time out
        # and the pipe never fills.
        ready: queue.Queue[int | None] = queue.Queue()

        def read_stdout() -> None:
            for line in proc.stdout:
                if line.startswith("READY "):
                    try:
                        ready.put(int(line.split()[1]))
                    except (IndexError, ValueError):
                        ready.put(None)
            ready.put(None)  # EOF: the launcher exited

        threading.Thread(target=read_stdout, name="emulator-stdout", daemon=True).start()
        try:
            port = ready.get(timeout=timeout)
        except queue.Empty:
            port = None
            why = f"no READY line within {timeout:g} s"
        else:
            try:
                why = f"it exited with code {proc.wait(timeout=5)}"
            except subprocess.TimeoutExpired:
                why = "its READY line named no port"
        if port is None:
            _end(proc)
            raise EmulatorError(f"the emulator did not start ({why}); its errors are above, or "
                                f"run it by hand: {python} {LAUNCHER}")
        return cls(proc, port, http_timeout)

    def stop(self) -> None:
        """Closes the launcher's stdin (it exits on EOF) and waits for it; kills it if it lingers."""
        _end(self.proc)

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- HTTP ----------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One JSON call: `body` (if not None) sent as JSON; the answer parsed (None if empty)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.http_timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise EmulatorError(f"{method} {path}: HTTP {exc.code}: {detail}") from exc
        except urllib.error.URLError as exc:
            raise EmulatorError(f"{method} {path}: {exc.reason}") from exc
        return json.loads(raw) if raw.strip() else None

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, {} if body is None else body)

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    # ---- seeding and state ---------------------------------------------------------------------

    def seed_users(self, users: list[dict]) -> dict:
        """Creates users with backdated passwords, keys and tags (shape: see moto_launcher.py);
        returns the launcher's answer (names, ARNs, key IDs)."""
        return self.post("/_seed/users", {"users": users})

    def reset(self) -> None:
        """Empties the account (moto's reset), and the launcher's counters and injections."""
        self.post("/moto-api/reset")

    def reset_calls(self) -> None:
        """Zeroes the call counts and timings."""
        self.post("/_seed/calls/reset")

    def reseed(self, users: list[dict]) -> None:
        """A fresh account holding exactly `users`, with no call counted yet."""
        self.reset()
        self.seed_users(users)
        self.reset_calls()

    def calls(self) -> dict[str, int]:
        """API calls served since the last reset, by "SERVICE.Action"."""
        return self.get("/_seed/calls")

    def timings(self) -> dict[str, dict]:
        """{"SERVICE.Action": {"calls": n, "seconds": s, "app_seconds": a}}: the emulator's time
        serving each kind of call (s), and the part of it inside moto (a)."""
        return self.get("/_seed/timings")

    def sns_messages(self) -> list[dict]:
        """Every message SNS received, oldest first: {"topic", "subject", "message", "attributes"}."""
        data = self.get("/moto-api/data.json")
        out = []
        for topic in data.get("sns", {}).get("Topic", []):
            for _id, message, subject, attributes, *_ in topic.get("sent_notifications", []):
                out.append({"topic": topic.get("arn"), "subject": subject, "message": message,
                            "attributes": attributes or {}})
        return out

    # ---- AWS -----------------------------------------------------------------------------------

    def aws_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment for a program that should reach this emulator (see `aws_env`)."""
        return aws_env(self.endpoint, extra)

    def client(self, service: str) -> Any:
        """A boto3 client pointed at the emulator, with dummy credentials."""
        import boto3  # installed with moto

        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint,
                            aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_SECRET)

    def create_topic(self, name: str) -> str:
        """Creates an SNS topic and returns its ARN."""
        return self.client("sns").create_topic(Name=name)["TopicArn"]


def _end(proc: subprocess.Popen) -> None:
    try:
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    # A quick check by hand: start, seed one user, count a call, stop.
    with Emulator.start(sys.argv[1] if len(sys.argv) > 1 else sys.executable) as emu:
        print(f"emulator on {emu.endpoint}")
        print(emu.seed_users([{"name": "probe", "created": "2025-01-01T00:00:00Z"}]))
        print(emu.get("/_seed/health"), emu.calls())
