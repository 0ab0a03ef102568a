//! [`ServiceBuilder`] and [`Service`]: a service's identity, its endpoints'
//! shared state, discovery answers and its life cycle (stop, reset).

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use nats_core::{Client, PendingLimits};
use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::endpoint::{EndpointBuilder, EndpointState, Group};
use crate::error::{Error, ErrorKind};
use crate::schema::{
    EndpointStats, InfoResponse, PingResponse, StatsResponse, INFO_RESPONSE_TYPE,
    PING_RESPONSE_TYPE, STATS_RESPONSE_TYPE,
};
use crate::{validate, verbs};

/// The queue group endpoints join unless told otherwise (ADR-32).
pub const DEFAULT_QUEUE_GROUP: &str = "q";

/// How many requests of one endpoint may be in flight (yielded and not yet
/// answered or dropped) unless told otherwise; see
/// [`ServiceBuilder::max_concurrency`].
pub const DEFAULT_MAX_CONCURRENCY: usize = 256;

/// The longest [`Service::stop`] waits for the discovery subscriptions to
/// drain and their buffered requests to be answered.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Computes the `data` of an endpoint's statistics; see
/// [`ServiceBuilder::stats_handler`].
pub(crate) type StatsHandler = Arc<dyn Fn(&EndpointStats) -> serde_json::Value + Send + Sync>;

/// Locks a mutex whose data stays consistent even if a holder panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Options of a new service; `.await` it to start the service.
///
/// Made by [`Service::builder`]. The name and version are checked before
/// anything is sent.
///
/// ```no_run
/// # async fn run(client: nats_core::Client) -> Result<(), nats_service::Error> {
/// use nats_service::Service;
///
/// let service = Service::builder(&client, "inventory", "2.1.0")
///     .description("stock levels per warehouse")
///     .metadata([("region", "eu-west")])
///     .queue_group("inventory-workers")
///     .stats_handler(|endpoint| serde_json::json!({ "endpoint": endpoint.name }))
///     .await?;
/// # let _ = service; Ok(()) }
/// ```
#[must_use = "a service builder does nothing until awaited"]
pub struct ServiceBuilder {
    client: Client,
    name: String,
    version: String,
    description: String,
    metadata: HashMap<String, String>,
    queue_group: Option<String>,
    stats_handler: Option<StatsHandler>,
    max_concurrency: usize,
    pending_limits: Option<PendingLimits>,
}

impl std::fmt::Debug for ServiceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceBuilder")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("description", &self.description)
            .field("metadata", &self.metadata)
            .field("queue_group", &self.queue_group)
            .field("stats_handler", &self.stats_handler.is_some())
            .field("max_concurrency", &self.max_concurrency)
            .field("pending_limits", &self.pending_limits)
            .finish()
    }
}

impl ServiceBuilder {
    /// A human-readable description (reported by `INFO`).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Metadata of this instance (reported by `PING`, `INFO` and `STATS`);
    /// fixed once the service starts.
    pub fn metadata<K, V>(mut self, metadata: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.metadata = metadata
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// The queue group of the service's endpoints (default
    /// [`DEFAULT_QUEUE_GROUP`], `q`); groups and endpoints may override it.
    /// Instances in one queue group share the requests; each request goes to
    /// one of them.
    pub fn queue_group(mut self, queue_group: impl Into<String>) -> Self {
        self.queue_group = Some(queue_group.into());
        self
    }

    /// Endpoints subscribe without a queue group: every instance receives
    /// every request (unless a group or endpoint sets one).
    pub fn no_queue_group(mut self) -> Self {
        self.queue_group = None;
        self
    }

    /// Computes the `data` field of each endpoint's statistics from the rest
    /// of them, whenever statistics are asked for (`STATS`,
    /// [`Service::stats`]). Keep it quick: it runs while the service answers.
    pub fn stats_handler<F>(mut self, handler: F) -> Self
    where
        F: Fn(&EndpointStats) -> serde_json::Value + Send + Sync + 'static,
    {
        self.stats_handler = Some(Arc::new(handler));
        self
    }

    /// How many requests each endpoint may have in flight at once (default
    /// [`DEFAULT_MAX_CONCURRENCY`]); endpoints may override it.
    ///
    /// A request is in flight from the moment the endpoint yields it until it
    /// is answered or dropped. At the limit the endpoint yields nothing more:
    /// new requests wait in its subscription, bounded by the
    /// [pending limits](Self::pending_limits); past those the client drops
    /// them (a slow consumer) and their callers time out. That is the
    /// back-pressure: no queue grows without bound. `0` counts as 1.
    pub fn max_concurrency(mut self, max: usize) -> Self {
        self.max_concurrency = max.max(1);
        self
    }

    /// How many requests (and bytes) each endpoint's subscription may hold
    /// unread (default: the connection's
    /// [`pending_limits`](nats_core::ConnectOptions::pending_limits));
    /// endpoints may override it.
    pub fn pending_limits(mut self, limits: PendingLimits) -> Self {
        self.pending_limits = Some(limits);
        self
    }

    async fn start(self) -> Result<Service, Error> {
        validate::name("service", &self.name)?;
        validate::version(&self.version)?;
        if let Some(q) = &self.queue_group {
            validate::queue_group(q)?;
        }
        let id = new_id();
        let ping = PingResponse {
            kind: PING_RESPONSE_TYPE.to_string(),
            name: self.name.clone(),
            id: id.clone(),
            version: self.version.clone(),
            metadata: self.metadata.clone(),
        };
        let ping = Bytes::from(
            serde_json::to_vec(&ping).map_err(|e| Error::new(ErrorKind::Other, e.to_string()))?,
        );
        let subs = verbs::subscribe(&self.client, &self.name, &id).await?;
        let (stopped_tx, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            name: self.name,
            id,
            version: self.version,
            description: self.description,
            metadata: self.metadata,
            started: Mutex::new(jiff::Timestamp::now()),
            registry: Mutex::new(Registry::default()),
            stats_handler: self.stats_handler,
            stopped: stopped_tx,
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(verbs::run(
            self.client.clone(),
            shared.clone(),
            subs,
            stop_rx,
            ping,
        ));
        let service = Service {
            inner: Arc::new(ServiceInner {
                shared,
                client: self.client,
                queue_group: self.queue_group,
                max_concurrency: self.max_concurrency,
                pending_limits: self.pending_limits,
                stop_tx,
                task: Mutex::new(Some(task)),
            }),
        };
        // Once this returns, discovery requests reach the service.
        service.inner.client.flush().await?;
        Ok(service)
    }
}

impl IntoFuture for ServiceBuilder {
    type Output = Result<Service, Error>;
    type IntoFuture = BoxFuture<Result<Service, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.start())
    }
}

/// A random instance id: 22 characters of `[0-9A-Za-z]` (as a NUID).
fn new_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::thread_rng();
    (0..22)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// What the discovery task, the endpoints and the handles share.
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) version: String,
    pub(crate) description: String,
    pub(crate) metadata: HashMap<String, String>,
    pub(crate) started: Mutex<jiff::Timestamp>,
    pub(crate) registry: Mutex<Registry>,
    stats_handler: Option<StatsHandler>,
    /// `true` once the service has stopped (by `stop`, or because the
    /// connection closed).
    stopped: watch::Sender<bool>,
}

/// The endpoints, and whether new ones may still be added.
#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) stopping: bool,
    pub(crate) endpoints: Vec<Arc<EndpointState>>,
}

impl Shared {
    pub(crate) fn info(&self) -> InfoResponse {
        InfoResponse {
            kind: INFO_RESPONSE_TYPE.to_string(),
            name: self.name.clone(),
            id: self.id.clone(),
            version: self.version.clone(),
            metadata: self.metadata.clone(),
            description: self.description.clone(),
            endpoints: lock(&self.registry)
                .endpoints
                .iter()
                .map(|e| e.info.clone())
                .collect(),
        }
    }

    pub(crate) fn stats(&self) -> StatsResponse {
        let endpoints: Vec<Arc<EndpointState>> = lock(&self.registry).endpoints.clone();
        let endpoints = endpoints
            .iter()
            .map(|e| {
                let mut stats = e.stats();
                if let Some(handler) = &self.stats_handler {
                    stats.data = handler(&stats);
                }
                stats
            })
            .collect();
        StatsResponse {
            kind: STATS_RESPONSE_TYPE.to_string(),
            name: self.name.clone(),
            id: self.id.clone(),
            version: self.version.clone(),
            metadata: self.metadata.clone(),
            endpoints,
            started: *lock(&self.started),
        }
    }

    /// No endpoint may be added any more; returns the ones to drain.
    pub(crate) fn begin_stop(&self) -> Vec<Arc<EndpointState>> {
        let mut registry = lock(&self.registry);
        registry.stopping = true;
        registry.endpoints.clone()
    }

    pub(crate) fn mark_stopped(&self) {
        self.begin_stop();
        self.stopped.send_replace(true);
    }
}

pub(crate) struct ServiceInner {
    pub(crate) shared: Arc<Shared>,
    pub(crate) client: Client,
    pub(crate) queue_group: Option<String>,
    pub(crate) max_concurrency: usize,
    pub(crate) pending_limits: Option<PendingLimits>,
    stop_tx: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for ServiceInner {
    fn drop(&mut self) {
        // The last handle is gone: the discovery task unsubscribes and ends.
        self.stop_tx.send_replace(true);
    }
}

/// A running service: a name, a version, a unique id, endpoints, and
/// answers to the discovery verbs `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS`
/// (for all services, for its name, and for its name and id).
///
/// Cheap to clone; it runs until [`stop`](Self::stop), until the connection
/// closes, or until the last handle to it (service, group, endpoint) is
/// dropped. Several services may share one connection.
///
/// ```no_run
/// # async fn run(client: nats_core::Client) -> Result<(), nats_service::Error> {
/// use futures_util::StreamExt;
/// use nats_service::Service;
///
/// let service = Service::builder(&client, "greeter", "1.0.0").await?;
/// let mut hello = service.group("greet").endpoint("hello").await?; // subject greet.hello
/// while let Some(request) = hello.next().await {
///     let name = String::from_utf8_lossy(request.payload()).to_string();
///     request.respond(format!("hello, {name}")).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Service {
    pub(crate) inner: Arc<ServiceInner>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.inner.shared.name)
            .field("id", &self.inner.shared.id)
            .field("version", &self.inner.shared.version)
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Options for a service named `name` (its kind: `A-Z`, `a-z`, `0-9`, `-`,
    /// `_`) at semantic version `version`, on `client`'s connection.
    pub fn builder(
        client: &Client,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> ServiceBuilder {
        ServiceBuilder {
            client: client.clone(),
            name: name.into(),
            version: version.into(),
            description: String::new(),
            metadata: HashMap::new(),
            queue_group: Some(DEFAULT_QUEUE_GROUP.to_string()),
            stats_handler: None,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            pending_limits: None,
        }
    }

    /// The service name.
    pub fn name(&self) -> &str {
        &self.inner.shared.name
    }

    /// The unique id of this instance, generated at start.
    pub fn id(&self) -> &str {
        &self.inner.shared.id
    }

    /// The service version.
    pub fn version(&self) -> &str {
        &self.inner.shared.version
    }

    /// Adds an endpoint named `name`; it listens on the subject `name` unless
    /// [`subject`](EndpointBuilder::subject) says otherwise. `.await` it.
    pub fn endpoint(&self, name: impl Into<String>) -> EndpointBuilder {
        EndpointBuilder::new(
            self.clone(),
            String::new(),
            self.inner.queue_group.clone(),
            name.into(),
        )
    }

    /// A group of endpoints whose subjects start with `prefix` (a subject
    /// without `>`; empty for no prefix). It inherits the service's queue
    /// group.
    pub fn group(&self, prefix: impl Into<String>) -> Group {
        Group::new(self.clone(), prefix.into(), self.inner.queue_group.clone())
    }

    /// What `INFO` answers: the service and its endpoints.
    pub fn info(&self) -> InfoResponse {
        self.inner.shared.info()
    }

    /// What `STATS` answers: the statistics of every endpoint.
    pub fn stats(&self) -> StatsResponse {
        self.inner.shared.stats()
    }

    /// Resets the statistics of every endpoint to zero and `started` to now.
    pub fn reset(&self) {
        let endpoints = lock(&self.inner.shared.registry).endpoints.clone();
        for endpoint in endpoints {
            endpoint.reset();
        }
        *lock(&self.inner.shared.started) = jiff::Timestamp::now();
    }

    /// Whether the service has stopped ([`stop`](Self::stop) finished, or the
    /// connection closed).
    pub fn is_stopped(&self) -> bool {
        *self.inner.shared.stopped.borrow()
    }

    /// Waits until the service has stopped: [`stop`](Self::stop) finished
    /// (here or through another handle), or the connection closed.
    pub async fn stopped(&self) {
        let mut rx = self.inner.shared.stopped.subscribe();
        // The sender lives in `self`, so this cannot fail.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }

    /// Stops the service, draining it: no endpoint can be added any more,
    /// every subscription (endpoints and discovery) is unsubscribed and the
    /// server has confirmed it, and the discovery requests already received
    /// are answered. Requests already received by an endpoint are still
    /// yielded by it, then the endpoint's stream ends.
    ///
    /// Calling it again, or from another handle, waits for the first call.
    /// Cancel safe: the stop goes on if this future is dropped.
    pub async fn stop(&self) -> Result<(), Error> {
        if self.is_stopped() {
            return Ok(());
        }
        let task = lock(&self.inner.task).take();
        let Some(task) = task else {
            self.stopped().await;
            return Ok(());
        };
        let inner = self.inner.clone();
        let stopping = tokio::spawn(async move {
            let endpoints = inner.shared.begin_stop();
            inner.stop_tx.send_replace(true);
            let drains = endpoints.iter().map(|e| e.drain());
            let drained = futures_util::future::join_all(drains).await;
            let mut result = drained.into_iter().collect::<Result<Vec<()>, Error>>();
            let abort = task.abort_handle();
            match tokio::time::timeout(STOP_TIMEOUT, task).await {
                Ok(_) => {}
                Err(_) => {
                    abort.abort();
                    if result.is_ok() {
                        result = Err(Error::new(
                            ErrorKind::Timeout,
                            "discovery subscriptions did not drain in time",
                        ));
                    }
                }
            }
            inner.shared.mark_stopped();
            result.map(|_| ())
        });
        match stopping.await {
            Ok(result) => result,
            Err(e) => Err(Error::new(ErrorKind::Other, format!("stop failed: {e}"))),
        }
    }
}
