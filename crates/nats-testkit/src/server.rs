//! [`Server`]: one `nats-server` process with its own ports and directory.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tempfile::TempDir;

use crate::builder::ServerBuilder;
use crate::config::{ClusterConfig, JetStreamConfig, ServerConfig};
use crate::ports::{free_port, HOST};
use crate::process::{tail, Process};
use crate::readiness::{http_get, ReadyCheck};

/// How often a first start is retried with fresh ports after a port clash.
const START_ATTEMPTS: usize = 5;
/// How long [`Server::shutdown`] waits after `SIGTERM` before `SIGKILL`.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Everything needed to set up a server (built by the builders).
#[derive(Debug)]
pub(crate) struct ServerSpec {
    pub(crate) binary: PathBuf,
    pub(crate) server_name: String,
    pub(crate) jetstream: bool,
    pub(crate) domain: Option<String>,
    pub(crate) jetstream_extra: String,
    pub(crate) custom: String,
    pub(crate) cluster: Option<ClusterConfig>,
    pub(crate) health_path: Option<&'static str>,
    pub(crate) ready_timeout: Duration,
    pub(crate) args: Vec<String>,
}

/// A `nats-server` process listening on `127.0.0.1`, with its own temporary
/// directory (config, log, JetStream store).
///
/// The client and monitoring ports and the store directory stay the same
/// across [`stop`](Self::stop) / [`start`](Self::start) /
/// [`restart`](Self::restart). Dropping the value kills the process and
/// removes the directory.
///
/// ```no_run
/// let mut server = nats_testkit::Server::jetstream().start();
/// let url = server.url();
/// server.restart();
/// assert_eq!(url, server.url());
/// ```
#[derive(Debug)]
#[must_use = "dropping a Server kills it"]
pub struct Server {
    binary: PathBuf,
    config: ServerConfig,
    config_path: PathBuf,
    log_path: PathBuf,
    output_path: PathBuf,
    health_path: Option<&'static str>,
    ready_timeout: Duration,
    args: Vec<String>,
    process: Mutex<Option<Process>>,
    /// Log lengths when the current process was spawned.
    log_offsets: (usize, usize),
    // Dropped last: the process is killed (in `Drop`) before removal.
    dir: TempDir,
}

impl Server {
    /// A builder for a plain core-NATS server; call `.start()` on it.
    #[allow(clippy::new_ret_no_self)] // `Server::new().start()` reads best.
    pub fn new() -> ServerBuilder {
        ServerBuilder::new()
    }

    /// A builder for a server with JetStream enabled; call `.start()` on it.
    pub fn jetstream() -> ServerBuilder {
        ServerBuilder::new().jetstream(true)
    }

    /// A builder with all options; call `.start()` on it.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::new()
    }

    pub(crate) fn prepare(spec: ServerSpec) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("nats-testkit-")
            .tempdir()
            .map_err(|e| format!("nats-testkit: cannot create a temp dir: {e}"))?;
        let jetstream = spec.jetstream.then(|| JetStreamConfig {
            store_dir: dir.path().join("store"),
            domain: spec.domain,
            extra: spec.jetstream_extra,
        });
        if let Some(js) = &jetstream {
            std::fs::create_dir_all(&js.store_dir)
                .map_err(|e| format!("nats-testkit: cannot create store dir: {e}"))?;
        }
        Ok(Self {
            binary: spec.binary,
            config: ServerConfig {
                server_name: spec.server_name,
                port: free_port(),
                monitor_port: free_port(),
                jetstream,
                cluster: spec.cluster,
                custom: spec.custom,
            },
            config_path: dir.path().join("server.conf"),
            log_path: dir.path().join("server.log"),
            output_path: dir.path().join("server.out"),
            health_path: spec.health_path,
            ready_timeout: spec.ready_timeout,
            args: spec.args,
            process: Mutex::new(None),
            log_offsets: (0, 0),
            dir,
        })
    }

    /// Starts for the first time, retrying with fresh ports on a port clash.
    pub(crate) fn first_start(&mut self) -> Result<(), String> {
        for attempt in 1..=START_ATTEMPTS {
            self.spawn()?;
            match self.wait_ready(self.ready_timeout) {
                Ok(()) => return Ok(()),
                Err(reason) => {
                    self.kill_process();
                    if attempt < START_ATTEMPTS && self.port_clash() {
                        self.pick_ports();
                        continue;
                    }
                    return Err(self.failure_report(&reason));
                }
            }
        }
        Err(self.failure_report("no start attempt left"))
    }

    /// Chooses new client and monitoring ports (before the first start).
    pub(crate) fn pick_ports(&mut self) {
        self.config.port = free_port();
        self.config.monitor_port = free_port();
    }

    /// Replaces the generated `cluster { }` block (before the first start).
    pub(crate) fn set_cluster(&mut self, cluster: ClusterConfig) {
        self.config.cluster = Some(cluster);
    }

    /// Writes `server.conf` and spawns the process without waiting.
    pub(crate) fn spawn(&mut self) -> Result<(), String> {
        self.kill_process();
        std::fs::write(&self.config_path, self.config.render())
            .map_err(|e| format!("cannot write {}: {e}", self.config_path.display()))?;
        self.log_offsets = (file_len(&self.log_path), file_len(&self.output_path));
        let process = Process::spawn(
            &self.binary,
            &self.config_path,
            &self.log_path,
            &self.output_path,
            &self.args,
        )?;
        *self.process_mut() = Some(process);
        Ok(())
    }

    /// True if the output of the current process says a port was taken.
    pub(crate) fn port_clash(&self) -> bool {
        let since = |path: &Path, offset: usize| {
            let text = std::fs::read(path).unwrap_or_default();
            String::from_utf8_lossy(text.get(offset..).unwrap_or_default()).into_owned()
        };
        let (log, out) = self.log_offsets;
        let text = since(&self.log_path, log) + &since(&self.output_path, out);
        text.contains("address already in use")
    }

    /// A panic-ready description of a failed start with the log tails.
    pub(crate) fn failure_report(&self, reason: &str) -> String {
        format!(
            "nats-testkit: nats-server `{name}` on {host}:{port} did not become ready: {reason}\n\
             binary: {binary}\n\
             --- {config_path} ---\n{config}\n\
             --- server.log (last 40 lines) ---\n{log}\n\
             --- stdout/stderr (last 20 lines) ---\n{out}\n",
            name = self.config.server_name,
            host = HOST,
            port = self.config.port,
            binary = self.binary.display(),
            config_path = self.config_path.display(),
            config = self.config.render(),
            log = tail(&self.log_path, 40),
            out = tail(&self.output_path, 20),
        )
    }

    fn process_mut(&mut self) -> &mut Option<Process> {
        self.process
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn process(&self) -> MutexGuard<'_, Option<Process>> {
        self.process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn kill_process(&mut self) {
        if let Some(mut process) = self.process_mut().take() {
            process.kill();
        }
    }

    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://{HOST}:{}", self.config.port)
    }

    /// The client URL with user info, `nats://<user_info>@127.0.0.1:<port>`
    /// (for example `client_url_with("alice:secret")`).
    pub fn client_url_with(&self, user_info: &str) -> String {
        format!("nats://{user_info}@{HOST}:{}", self.config.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.config.port
    }

    /// The host the server listens on: always `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The HTTP monitoring port.
    pub fn monitor_port(&self) -> u16 {
        self.config.monitor_port
    }

    /// The monitoring base URL, `http://127.0.0.1:<monitor port>`.
    pub fn monitor_url(&self) -> String {
        format!("http://{HOST}:{}", self.config.monitor_port)
    }

    /// The server's `server_name`.
    pub fn server_name(&self) -> &str {
        &self.config.server_name
    }

    /// The JetStream store directory, if JetStream is enabled. The server
    /// keeps its data in a `jetstream/` directory inside it.
    pub fn store_dir(&self) -> Option<&Path> {
        self.config
            .jetstream
            .as_ref()
            .map(|js| js.store_dir.as_path())
    }

    /// The server's temporary directory (config, logs, store).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The generated `server.conf`.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The server's log file (`server.log`, appended to across restarts).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path, lines)
    }

    /// The `nats-server` binary this server runs.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The process id, if the server is running.
    pub fn pid(&self) -> Option<u32> {
        let mut guard = self.process();
        let process = guard.as_mut()?;
        process.exited().is_none().then(|| process.pid())
    }

    /// True if the server process is alive (not necessarily ready).
    pub fn is_running(&self) -> bool {
        self.pid().is_some()
    }

    /// Waits until the server answers on its client port (and, with
    /// JetStream, its monitoring `/healthz` answers 200).
    ///
    /// # Errors
    ///
    /// Returns the reason if the process is not running, exits, or is not
    /// ready within `timeout`.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let check = ReadyCheck {
            port: self.config.port,
            monitor_port: self.config.monitor_port,
            health_path: self.health_path,
        };
        check.wait(timeout, || {
            let mut guard = self.process();
            match guard.as_mut() {
                None => Err("the server is not running".to_owned()),
                Some(p) => match p.exited() {
                    Some(status) => Err(format!("the server exited ({status})")),
                    None => Ok(()),
                },
            }
        })
    }

    /// Starts the server again after [`stop`](Self::stop) or
    /// [`shutdown`](Self::shutdown), on the same ports and with the same
    /// store, and waits until it is ready. Does nothing if it is running.
    ///
    /// # Panics
    ///
    /// Panics with the log tail if it does not become ready (for example
    /// because another process took its port meanwhile).
    pub fn start(&mut self) {
        self.try_start().unwrap_or_else(|e| panic!("{e}"));
    }

    /// Like [`start`](Self::start) but returns the failure.
    ///
    /// # Errors
    ///
    /// Returns a message with the reason and the log tail.
    pub fn try_start(&mut self) -> Result<(), String> {
        if self.is_running() {
            return Ok(());
        }
        self.spawn().map_err(|e| self.failure_report(&e))?;
        self.wait_ready(self.ready_timeout)
            .map_err(|e| self.failure_report(&e))
    }

    /// Kills the process with `SIGKILL` (an abrupt crash). Ports and store
    /// stay reserved for [`start`](Self::start).
    pub fn stop(&mut self) {
        self.kill_process();
    }

    /// Stops the process gracefully with `SIGTERM`, waiting for it to exit
    /// (falls back to `SIGKILL` after 10 s).
    pub fn shutdown(&mut self) {
        if let Some(mut process) = self.process_mut().take() {
            process.terminate(SHUTDOWN_GRACE);
        }
    }

    /// [`shutdown`](Self::shutdown) then [`start`](Self::start): same ports,
    /// same store; returns when the server is ready again.
    ///
    /// # Panics
    ///
    /// Panics with the log tail if it does not become ready.
    pub fn restart(&mut self) {
        self.shutdown();
        self.start();
    }

    /// Puts the server into lame-duck mode (`SIGUSR2`): it stops accepting
    /// clients, tells connected clients with `"ldm":true` in an INFO, closes
    /// them gradually and then exits.
    ///
    /// # Panics
    ///
    /// Panics if the server is not running.
    pub fn signal_lame_duck(&self) {
        let mut guard = self.process();
        let result = match guard.as_mut() {
            Some(process) => process.signal("USR2"),
            None => Err("the server is not running".to_owned()),
        };
        if let Err(e) = result {
            panic!("nats-testkit: cannot signal lame-duck mode: {e}");
        }
    }

    /// Freezes the server with `SIGSTOP`: the process keeps its sockets
    /// open but reads, writes and answers nothing (no PONG, no JetStream
    /// API reply): the server side of a half-open connection.
    ///
    /// Returns a guard that thaws the server (`SIGCONT`) when dropped, so a
    /// failing test never leaves a frozen process behind; call
    /// [`Frozen::thaw`] (or [`Server::thaw`]) to continue earlier. Note that
    /// `let _ = server.freeze();` thaws at once. [`stop`](Self::stop),
    /// [`shutdown`](Self::shutdown) and dropping the server work on a frozen
    /// server too.
    ///
    /// ```no_run
    /// let server = nats_testkit::Server::new().start();
    /// let frozen = server.freeze();
    /// // ... clients see no answers ...
    /// frozen.thaw();
    /// ```
    ///
    /// # Panics
    ///
    /// Panics if the server is not running.
    pub fn freeze(&self) -> Frozen<'_> {
        let mut guard = self.process();
        let result = match guard.as_mut() {
            Some(process) => process.freeze(),
            None => Err("the server is not running".to_owned()),
        };
        if let Err(e) = result {
            panic!("nats-testkit: cannot freeze the server: {e}");
        }
        Frozen { server: self }
    }

    /// Continues a server stopped by [`freeze`](Self::freeze) (`SIGCONT`);
    /// does nothing if it is not frozen.
    pub fn thaw(&self) {
        if let Some(process) = self.process().as_mut() {
            process.thaw();
        }
    }

    /// True while the server is frozen by [`freeze`](Self::freeze).
    pub fn is_frozen(&self) -> bool {
        self.process().as_ref().is_some_and(Process::is_frozen)
    }

    /// Replaces the custom part of `server.conf` with `text` (as given to
    /// [`ServerBuilder::config`]) and asks the server to reload its
    /// configuration (`SIGHUP`). The reload happens asynchronously.
    ///
    /// # Errors
    ///
    /// Returns a message if the file cannot be written or the server is not
    /// running.
    pub fn reload_config(&mut self, text: &str) -> Result<(), String> {
        if crate::config::has_top_level_key(text, "jetstream") {
            return Err("the custom config must not have a `jetstream` block".to_owned());
        }
        self.config.custom = text.to_owned();
        std::fs::write(&self.config_path, self.config.render())
            .map_err(|e| format!("cannot write {}: {e}", self.config_path.display()))?;
        match self.process_mut().as_mut() {
            Some(process) => process.signal("HUP"),
            None => Err("the server is not running".to_owned()),
        }
    }

    /// `GET <path>` on the monitoring port, parsed as JSON; the answer must
    /// be HTTP 200. Example: `server.monitor_json("/varz")`.
    ///
    /// # Errors
    ///
    /// Returns a message on connection failure, a non-200 status or
    /// invalid JSON.
    pub fn monitor_json(&self, path: &str) -> Result<serde_json::Value, String> {
        let (status, body) = http_get(self.config.monitor_port, path)?;
        if status != 200 {
            return Err(format!("GET {path} answered {status}: {}", body.trim()));
        }
        serde_json::from_str(&body).map_err(|e| format!("GET {path}: invalid JSON: {e}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill_process();
    }
}

/// A [`Server`] frozen by [`Server::freeze`]; thaws it when dropped.
#[derive(Debug)]
#[must_use = "dropping the guard thaws the server at once"]
pub struct Frozen<'a> {
    server: &'a Server,
}

impl Frozen<'_> {
    /// Thaws the server now (the same as dropping the guard).
    pub fn thaw(self) {
        drop(self);
    }

    /// The frozen server.
    pub fn server(&self) -> &Server {
        self.server
    }
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        self.server.thaw();
    }
}

fn file_len(path: &Path) -> usize {
    std::fs::metadata(path)
        .map(|m| usize::try_from(m.len()).unwrap_or(usize::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn first_start_retries_on_port_clash() {
        let mut server = Server::prepare(ServerSpec {
            binary: crate::server_binary(),
            server_name: "clash".into(),
            jetstream: false,
            domain: None,
            jetstream_extra: String::new(),
            custom: String::new(),
            cluster: None,
            health_path: None,
            ready_timeout: Duration::from_secs(10),
            args: Vec::new(),
        })
        .unwrap();
        let taken = server.port();
        let _blocker = TcpListener::bind((HOST, taken)).unwrap();
        server.first_start().unwrap();
        assert_ne!(server.port(), taken);
        assert!(server.log_tail(100).contains("address already in use"));
    }
}
