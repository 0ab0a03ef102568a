//! [`ConnectOptions`]: how to connect, authenticate, reconnect and buffer.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::addr::ToServerAddrs;
use crate::error::Error;
use crate::events::Event;
use crate::pending::PendingLimits;
use crate::Client;

pub(crate) type EventCallback =
    Arc<dyn Fn(Event) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;
pub(crate) type ReconnectDelayCallback = Arc<dyn Fn(usize) -> Duration + Send + Sync>;

/// Credentials, kept out of `Debug` output.
#[derive(Clone, Default)]
pub(crate) struct Auth {
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub nkey_seed: Option<String>,
    pub credentials_file: Option<PathBuf>,
    pub credentials: Option<String>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = |set: bool| if set { Some("<redacted>") } else { None };
        f.debug_struct("Auth")
            .field("user", &self.user)
            .field("password", &r(self.password.is_some()))
            .field("token", &r(self.token.is_some()))
            .field("nkey_seed", &r(self.nkey_seed.is_some()))
            .field("credentials_file", &self.credentials_file)
            .field("credentials", &r(self.credentials.is_some()))
            .finish()
    }
}

/// TLS settings.
#[derive(Clone, Default, Debug)]
pub(crate) struct TlsOptions {
    pub required: bool,
    pub root_certificates: Vec<PathBuf>,
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    pub tls_first: bool,
}

/// Options for a connection, built by chaining and ending in
/// [`connect`](ConnectOptions::connect).
///
/// ```no_run
/// # async fn run() -> Result<(), nats_core::Error> {
/// use std::time::Duration;
///
/// let client = nats_core::ConnectOptions::new()
///     .name("orders-service")
///     .user_and_password("app", "s3cret")
///     .ping_interval(Duration::from_secs(30))
///     .event_callback(|event| async move { eprintln!("nats: {event}") })
///     .connect("nats://127.0.0.1:4222")
///     .await?;
/// # Ok(()) }
/// ```
///
/// `Debug` output never shows passwords, tokens, seeds or credentials.
#[derive(Clone)]
pub struct ConnectOptions {
    pub(crate) name: Option<String>,
    pub(crate) auth: Auth,
    pub(crate) tls: TlsOptions,
    pub(crate) connection_timeout: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) max_pings_outstanding: usize,
    pub(crate) max_reconnects: Option<usize>,
    pub(crate) reconnect_buffer_size: usize,
    pub(crate) write_buffer_size: usize,
    pub(crate) pending_limits: PendingLimits,
    pub(crate) no_echo: bool,
    pub(crate) inbox_prefix: String,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) retry_on_initial_connect: bool,
    pub(crate) ignore_discovered_servers: bool,
    pub(crate) retain_servers_order: bool,
    pub(crate) event_callback: Option<EventCallback>,
    pub(crate) reconnect_delay_callback: Option<ReconnectDelayCallback>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            name: None,
            auth: Auth::default(),
            tls: TlsOptions::default(),
            connection_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(60),
            max_pings_outstanding: 2,
            max_reconnects: None,
            reconnect_buffer_size: 8 * 1024 * 1024,
            write_buffer_size: 2 * 1024 * 1024,
            pending_limits: PendingLimits::default(),
            no_echo: false,
            inbox_prefix: "_INBOX".to_string(),
            request_timeout: Some(Duration::from_secs(10)),
            retry_on_initial_connect: false,
            ignore_discovered_servers: false,
            retain_servers_order: false,
            event_callback: None,
            reconnect_delay_callback: None,
        }
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("name", &self.name)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .field("connection_timeout", &self.connection_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("max_pings_outstanding", &self.max_pings_outstanding)
            .field("max_reconnects", &self.max_reconnects)
            .field("reconnect_buffer_size", &self.reconnect_buffer_size)
            .field("write_buffer_size", &self.write_buffer_size)
            .field("pending_limits", &self.pending_limits)
            .field("no_echo", &self.no_echo)
            .field("inbox_prefix", &self.inbox_prefix)
            .field("request_timeout", &self.request_timeout)
            .field("retry_on_initial_connect", &self.retry_on_initial_connect)
            .field("ignore_discovered_servers", &self.ignore_discovered_servers)
            .field("retain_servers_order", &self.retain_servers_order)
            .field(
                "event_callback",
                &self.event_callback.as_ref().map(|_| "<fn>"),
            )
            .field(
                "reconnect_delay_callback",
                &self.reconnect_delay_callback.as_ref().map(|_| "<fn>"),
            )
            .finish()
    }
}

impl ConnectOptions {
    /// Default options: no auth, 5 s connect timeout, 60 s pings, reconnect forever,
    /// 2 MiB write buffer, 8 MiB reconnect buffer, pending limits of 512 Ki
    /// messages and 64 MiB per subscription, 10 s request timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Connects to `urls` with these options.
    pub async fn connect(self, urls: impl ToServerAddrs) -> Result<Client, Error> {
        crate::connection::connect(urls.to_server_addrs()?, self).await
    }

    /// The connection name shown in server monitoring.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Username and password authentication.
    pub fn user_and_password(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.auth.user = Some(user.into());
        self.auth.password = Some(password.into());
        self
    }

    /// Token authentication.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.auth.token = Some(token.into());
        self
    }

    /// NKey authentication with a user seed (`SU...`): the client signs the
    /// server's nonce and sends its public key. The seed is checked at
    /// connect ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// if malformed) and never appears in `Debug` output or logs.
    pub fn nkey(mut self, seed: impl Into<String>) -> Self {
        self.auth.nkey_seed = Some(seed.into());
        self
    }

    /// JWT authentication from a `.creds` file (user JWT + nkey seed), read at
    /// connect and at each reconnect (so rotated credentials are picked up).
    /// A missing file fails `connect` with [`ErrorKind::Io`](crate::ErrorKind::Io)
    /// naming the path; a malformed one with
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument).
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.auth.credentials_file = Some(path.into());
        self
    }

    /// JWT authentication from the contents of a `.creds` file (the text, not
    /// a path).
    pub fn credentials(mut self, creds: impl Into<String>) -> Self {
        self.auth.credentials = Some(creds.into());
        self
    }

    /// Require TLS even if the URL does not say `tls://`: the connection
    /// fails with [`ErrorKind::Tls`](crate::ErrorKind::Tls) if the server does
    /// not offer it. The server certificate is checked against the system
    /// roots (plus [`add_root_certificates`](Self::add_root_certificates)) for
    /// the URL's host name or IP address. A server that requires TLS gets it
    /// even without this option.
    pub fn require_tls(mut self, required: bool) -> Self {
        self.tls.required = required;
        self
    }

    /// Trust the CA certificates in this PEM file (in addition to the system
    /// roots). Implies [`require_tls(true)`](Self::require_tls). The file is
    /// read at each connection attempt; errors surface at connect.
    pub fn add_root_certificates(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.root_certificates.push(path.into());
        self.tls.required = true;
        self
    }

    /// Present this client certificate chain and private key (PEM files; the
    /// key may be PKCS#8, PKCS#1 or SEC1): mutual TLS. Implies
    /// [`require_tls(true)`](Self::require_tls).
    pub fn add_client_certificate(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.tls.client_certificate = Some((cert.into(), key.into()));
        self.tls.required = true;
        self
    }

    /// Do the TLS handshake right after the TCP connect, before the server's
    /// INFO: for servers configured with `tls { handshake_first: true }`.
    /// Implies [`require_tls(true)`](Self::require_tls).
    pub fn tls_first(mut self) -> Self {
        self.tls.tls_first = true;
        self.tls.required = true;
        self
    }

    /// Deadline of one whole connection attempt (TCP, TLS, INFO, CONNECT, PONG).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// How often the client pings the server; after two unanswered pings the
    /// connection is considered stale and is replaced.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// How many reconnect attempts in a row before giving up (`None`: never give up).
    pub fn max_reconnects(mut self, max: impl Into<Option<usize>>) -> Self {
        self.max_reconnects = max.into();
        self
    }

    /// How many bytes of publishes to keep while disconnected (default 8 MiB),
    /// written out after the reconnect; publishing beyond this fails with
    /// [`ErrorKind::ReconnectBufferFull`](crate::ErrorKind::ReconnectBufferFull).
    pub fn reconnect_buffer_size(mut self, bytes: usize) -> Self {
        self.reconnect_buffer_size = bytes;
        self
    }

    /// How many bytes publishers may queue ahead of the socket before they
    /// wait for the connection to write them out (default 2 MiB, at least
    /// 1 KiB). A waiting publisher is released as soon as there is room, the
    /// connection is lost (then the reconnect buffer rules apply) or the
    /// client closes (then it fails with
    /// [`ErrorKind::ConnectionClosed`](crate::ErrorKind::ConnectionClosed)).
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes.max(1024);
        self
    }

    /// How many messages each subscription holds unread before dropping new
    /// ones (slow consumer): the message half of
    /// [`pending_limits`](Self::pending_limits), kept for compatibility; the
    /// byte limit stays as it is.
    pub fn subscription_capacity(mut self, capacity: usize) -> Self {
        self.pending_limits.messages = capacity.max(1);
        self
    }

    /// How much each subscription holds unread, in messages and bytes, before
    /// new messages are dropped, counted and reported as a slow consumer
    /// (default: 512 Ki messages and 64 MiB, as the Go client). A subscription
    /// made with [`Client::subscribe_with_limits`] uses its own limits
    /// instead. See [`PendingLimits`].
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), nats_core::Error> {
    /// use nats_core::{ConnectOptions, PendingLimits};
    ///
    /// let client = ConnectOptions::new()
    ///     .pending_limits(PendingLimits::new(10_000, 8 * 1024 * 1024))
    ///     .connect("nats://127.0.0.1:4222")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn pending_limits(mut self, limits: PendingLimits) -> Self {
        self.pending_limits = limits;
        self
    }

    /// Do not deliver this connection's own publishes to its own subscriptions.
    pub fn no_echo(mut self) -> Self {
        self.no_echo = true;
        self
    }

    /// The prefix of inbox subjects (default `_INBOX`).
    pub fn inbox_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.inbox_prefix = prefix.into();
        self
    }

    /// The default timeout of [`Client::request`] (`None`: wait forever).
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Return from `connect` at once even if no server is reachable yet, and keep
    /// trying in the background.
    pub fn retry_on_initial_connect(mut self) -> Self {
        self.retry_on_initial_connect = true;
        self
    }

    /// Do not add the servers a cluster announces to the reconnect pool.
    pub fn ignore_discovered_servers(mut self) -> Self {
        self.ignore_discovered_servers = true;
        self
    }

    /// Try servers in the order given instead of shuffling them.
    pub fn retain_servers_order(mut self) -> Self {
        self.retain_servers_order = true;
        self
    }

    /// Called (on a task of its own, one event at a time) for each [`Event`].
    pub fn event_callback<F, Fut>(mut self, callback: F) -> Self
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.event_callback = Some(Arc::new(move |e| Box::pin(callback(e))));
        self
    }

    /// How long to wait before reconnect attempt `n` (1-based); the default is
    /// an immediate first attempt, then exponential backoff with jitter up to 4 s.
    pub fn reconnect_delay_callback<F>(mut self, callback: F) -> Self
    where
        F: Fn(usize) -> Duration + Send + Sync + 'static,
    {
        self.reconnect_delay_callback = Some(Arc::new(callback));
        self
    }
}
