//! One running `nats-server` process: spawning, signals, killing, logs.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A spawned `nats-server` plus a tiny watchdog that kills it if the test
/// process dies without running destructors (for example on `abort`, a
/// `SIGKILL`, or a server kept in a `static`).
#[derive(Debug)]
pub(crate) struct Process {
    child: Child,
    watchdog: Option<Child>,
    exit: Option<ExitStatus>,
    /// Stopped with `SIGSTOP` and not yet continued.
    frozen: bool,
}

impl Process {
    /// Starts `binary -c <config> -l <log>`, appending its stdout/stderr to
    /// `output`.
    pub(crate) fn spawn(
        binary: &Path,
        config: &Path,
        log: &Path,
        output: &Path,
        extra_args: &[String],
    ) -> Result<Self, String> {
        let out = open_append(output)?;
        let err = out
            .try_clone()
            .map_err(|e| format!("cannot clone {}: {e}", output.display()))?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(config)
            .arg("-l")
            .arg(log)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let watchdog = spawn_watchdog(child.id());
        Ok(Self {
            child,
            watchdog,
            exit: None,
            frozen: false,
        })
    }

    /// The operating-system process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Returns the exit status if the process has exited.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Kills the process with `SIGKILL` and reaps it.
    pub(crate) fn kill(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
        self.stop_watchdog();
    }

    /// Sends `SIGTERM` and waits up to `grace` for the process to exit, then
    /// falls back to `SIGKILL`.
    pub(crate) fn terminate(&mut self, grace: Duration) {
        // A stopped process would not act on SIGTERM before SIGCONT.
        self.thaw();
        if self.exited().is_none() && self.signal("TERM").is_ok() {
            let deadline = Instant::now() + grace;
            while self.exited().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.kill();
    }

    /// Sends a signal by name (`"USR2"`, `"HUP"`, ...) with `kill(1)`.
    pub(crate) fn signal(&mut self, name: &str) -> Result<(), String> {
        if let Some(status) = self.exited() {
            return Err(format!("the server has already exited ({status})"));
        }
        send_signal(self.pid(), name)
    }

    /// Stops the process with `SIGSTOP` (it keeps its sockets open but
    /// does nothing until [`thaw`](Self::thaw)).
    pub(crate) fn freeze(&mut self) -> Result<(), String> {
        self.signal("STOP")?;
        self.frozen = true;
        wait_stopped(self.pid());
        Ok(())
    }

    /// Continues a process stopped by [`freeze`](Self::freeze) with
    /// `SIGCONT`; does nothing otherwise.
    pub(crate) fn thaw(&mut self) {
        if std::mem::take(&mut self.frozen) && self.exited().is_none() {
            let _ = send_signal(self.pid(), "CONT");
        }
    }

    /// True between [`freeze`](Self::freeze) and [`thaw`](Self::thaw).
    pub(crate) fn is_frozen(&self) -> bool {
        self.frozen
    }

    fn stop_watchdog(&mut self) {
        if let Some(mut dog) = self.watchdog.take() {
            let _ = dog.kill();
            let _ = dog.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn send_signal(pid: u32, name: &str) -> Result<(), String> {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run kill -{name} {pid}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("kill -{name} {pid} failed: {status}"))
    }
}

/// Waits (up to 2 s) until every thread of `pid` is stopped, reading
/// `/proc/<pid>/task/*/stat`; returns at once where there is no `/proc`.
/// `kill -STOP` returns before a thread running on another core has stopped.
fn wait_stopped(pid: u32) {
    let tasks = format!("/proc/{pid}/task");
    let all_stopped = || -> Option<bool> {
        let mut any = false;
        for entry in std::fs::read_dir(&tasks).ok()? {
            let stat = std::fs::read_to_string(entry.ok()?.path().join("stat")).ok()?;
            // "<tid> (<comm>) <state> ...": the state follows the last ')'.
            let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            if !matches!(state, 'T' | 't') {
                return Some(false);
            }
            any = true;
        }
        Some(any)
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        match all_stopped() {
            Some(false) => std::thread::sleep(Duration::from_millis(1)),
            _ => return,
        }
    }
}

fn spawn_watchdog(server_pid: u32) -> Option<Child> {
    const SCRIPT: &str =
        "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; kill -9 \"$2\" 2>/dev/null";
    Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("nats-testkit-watchdog")
        .arg(std::process::id().to_string())
        .arg(server_pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

fn open_append(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

/// The last `lines` lines of the file at `path` (empty if unreadable).
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
