//! Groups and endpoints: [`Group`], [`EndpointBuilder`] and [`Endpoint`], the
//! stream of an endpoint's requests with its concurrency bound.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_util::task::AtomicWaker;
use futures_util::StreamExt;
use nats_core::{PendingLimits, Subscriber};

use crate::error::{Error, ErrorKind};
use crate::request::Request;
use crate::schema::{EndpointInfo, EndpointStats};
use crate::service::{lock, Service};
use crate::validate;

/// Endpoints under a common subject prefix, with a queue group of their own
/// if wanted. Made by [`Service::group`] or [`Group::group`].
///
/// ```no_run
/// # async fn run(service: nats_service::Service) -> Result<(), nats_service::Error> {
/// let v1 = service.group("api.v1").queue_group("api-workers");
/// let users = v1.endpoint("users").await?;           // api.v1.users, queue group api-workers
/// let admin = v1.group("admin").no_queue_group();
/// let purge = admin.endpoint("purge").await?;        // api.v1.admin.purge, no queue group
/// # let _ = (users, purge); Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Group {
    service: Service,
    prefix: String,
    queue_group: Option<String>,
}

impl Group {
    pub(crate) fn new(service: Service, prefix: String, queue_group: Option<String>) -> Group {
        Group {
            service,
            prefix,
            queue_group,
        }
    }

    /// The subject prefix of this group's endpoints.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Sets the queue group of this group's endpoints (and subgroups made
    /// after this call), instead of the service's.
    pub fn queue_group(mut self, queue_group: impl Into<String>) -> Group {
        self.queue_group = Some(queue_group.into());
        self
    }

    /// This group's endpoints subscribe without a queue group.
    pub fn no_queue_group(mut self) -> Group {
        self.queue_group = None;
        self
    }

    /// A subgroup: prefix `<this prefix>.<prefix>`, this group's queue group.
    pub fn group(&self, prefix: impl Into<String>) -> Group {
        let prefix = join(&self.prefix, &prefix.into());
        Group::new(self.service.clone(), prefix, self.queue_group.clone())
    }

    /// Adds an endpoint named `name` on the subject `<prefix>.<name>` (or
    /// `<prefix>.<subject>` with [`EndpointBuilder::subject`]). `.await` it.
    pub fn endpoint(&self, name: impl Into<String>) -> EndpointBuilder {
        EndpointBuilder::new(
            self.service.clone(),
            self.prefix.clone(),
            self.queue_group.clone(),
            name.into(),
        )
    }
}

fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{rest}"),
    }
}

/// Options of a new endpoint; `.await` it to subscribe and get the
/// [`Endpoint`]. Made by [`Service::endpoint`] or [`Group::endpoint`].
///
/// ```no_run
/// # async fn run(service: nats_service::Service) -> Result<(), nats_service::Error> {
/// let sum = service
///     .endpoint("sum")
///     .subject("math.sum")
///     .metadata([("schema", "[number] -> number")])
///     .queue_group("math")
///     .max_concurrency(32)
///     .await?;
/// # let _ = sum; Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "an endpoint builder does nothing until awaited"]
pub struct EndpointBuilder {
    service: Service,
    prefix: String,
    name: String,
    subject: Option<String>,
    metadata: HashMap<String, String>,
    queue_group: Option<String>,
    max_concurrency: usize,
    pending_limits: Option<PendingLimits>,
}

impl EndpointBuilder {
    pub(crate) fn new(
        service: Service,
        prefix: String,
        queue_group: Option<String>,
        name: String,
    ) -> EndpointBuilder {
        let max_concurrency = service.inner.max_concurrency;
        let pending_limits = service.inner.pending_limits;
        EndpointBuilder {
            service,
            prefix,
            name,
            subject: None,
            metadata: HashMap::new(),
            queue_group,
            max_concurrency,
            pending_limits,
        }
    }

    /// The subject to listen on (after the group prefix), instead of the
    /// endpoint's name. Wildcards are allowed.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Metadata of the endpoint (reported by `INFO`); fixed once added.
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

    /// The queue group of this endpoint, instead of its group's or service's.
    pub fn queue_group(mut self, queue_group: impl Into<String>) -> Self {
        self.queue_group = Some(queue_group.into());
        self
    }

    /// This endpoint subscribes without a queue group: every instance of the
    /// service receives every request.
    pub fn no_queue_group(mut self) -> Self {
        self.queue_group = None;
        self
    }

    /// How many of this endpoint's requests may be in flight at once; see
    /// [`ServiceBuilder::max_concurrency`](crate::ServiceBuilder::max_concurrency).
    pub fn max_concurrency(mut self, max: usize) -> Self {
        self.max_concurrency = max.max(1);
        self
    }

    /// How many requests (and bytes) this endpoint's subscription may hold
    /// unread; see [`ServiceBuilder::pending_limits`](crate::ServiceBuilder::pending_limits).
    pub fn pending_limits(mut self, limits: PendingLimits) -> Self {
        self.pending_limits = Some(limits);
        self
    }

    async fn add(self) -> Result<Endpoint, Error> {
        validate::name("endpoint", &self.name)?;
        validate::group_prefix(&self.prefix)?;
        let subject = join(
            &self.prefix,
            self.subject.as_deref().unwrap_or(self.name.as_str()),
        );
        validate::endpoint_subject(&subject)?;
        if let Some(q) = &self.queue_group {
            validate::queue_group(q)?;
        }
        let inner = &self.service.inner;
        if lock(&inner.shared.registry).stopping {
            return Err(stopped());
        }
        let client = &inner.client;
        let limits = self.pending_limits;
        let sub = match (&self.queue_group, limits) {
            (Some(q), Some(l)) => client.queue_subscribe_with_limits(&subject, q, l).await?,
            (Some(q), None) => client.queue_subscribe(&subject, q).await?,
            (None, Some(l)) => client.subscribe_with_limits(&subject, l).await?,
            (None, None) => client.subscribe(&subject).await?,
        };
        let slot = Arc::new(SubSlot {
            sub: Mutex::new(Some(sub)),
            waker: AtomicWaker::new(),
            draining: AtomicBool::new(false),
        });
        let state = Arc::new(EndpointState {
            info: EndpointInfo {
                name: self.name,
                subject,
                queue_group: self.queue_group.unwrap_or_default(),
                metadata: self.metadata,
            },
            counters: Mutex::new(Counters::default()),
            slot: Arc::downgrade(&slot),
        });
        {
            let mut registry = lock(&inner.shared.registry);
            if registry.stopping {
                return Err(stopped());
            }
            registry.endpoints.push(state.clone());
        }
        // Once this returns, requests reach the endpoint.
        client.flush().await?;
        Ok(Endpoint {
            client: client.clone(),
            slot,
            state,
            limiter: Arc::new(Limiter {
                in_flight: AtomicUsize::new(0),
                max: self.max_concurrency,
                waker: AtomicWaker::new(),
            }),
            service: self.service,
        })
    }
}

fn stopped() -> Error {
    Error::new(
        ErrorKind::Stopped,
        "cannot add an endpoint to a stopped service",
    )
}

impl IntoFuture for EndpointBuilder {
    type Output = Result<Endpoint, Error>;
    type IntoFuture = Pin<Box<dyn std::future::Future<Output = Result<Endpoint, Error>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.add())
    }
}

/// An endpoint's configuration and statistics, shared with the service.
pub(crate) struct EndpointState {
    pub(crate) info: EndpointInfo,
    counters: Mutex<Counters>,
    /// The subscription, while the endpoint handle lives.
    slot: Weak<SubSlot>,
}

#[derive(Default)]
struct Counters {
    requests: u64,
    errors: u64,
    last_error: String,
    processing_time: Duration,
}

impl EndpointState {
    /// Counts one handled request; `error` is `code:description` when it was
    /// answered with a service error.
    pub(crate) fn record(&self, elapsed: Duration, error: Option<String>) {
        let mut c = lock(&self.counters);
        c.requests += 1;
        c.processing_time = c.processing_time.saturating_add(elapsed);
        if let Some(error) = error {
            c.errors += 1;
            c.last_error = error;
        }
    }

    pub(crate) fn stats(&self) -> EndpointStats {
        let c = lock(&self.counters);
        let average = match c.requests {
            0 => Duration::ZERO,
            n => {
                let nanos = c.processing_time.as_nanos() / u128::from(n);
                Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
            }
        };
        EndpointStats {
            name: self.info.name.clone(),
            subject: self.info.subject.clone(),
            queue_group: self.info.queue_group.clone(),
            num_requests: c.requests,
            num_errors: c.errors,
            last_error: c.last_error.clone(),
            data: serde_json::Value::Null,
            processing_time: c.processing_time,
            average_processing_time: average,
        }
    }

    pub(crate) fn reset(&self) {
        *lock(&self.counters) = Counters::default();
    }

    /// Drains the endpoint's subscription if its handle still lives.
    pub(crate) async fn drain(&self) -> Result<(), Error> {
        match self.slot.upgrade() {
            Some(slot) => slot.drain().await,
            None => Ok(()),
        }
    }
}

/// The endpoint's subscription, reachable by both the endpoint (to read it)
/// and the service (to drain it on stop).
struct SubSlot {
    /// `None` while a drain holds it.
    sub: Mutex<Option<Subscriber>>,
    /// Wakes the endpoint when the subscription is put back.
    waker: AtomicWaker,
    draining: AtomicBool,
}

impl SubSlot {
    async fn drain(&self) -> Result<(), Error> {
        if self.draining.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let mut taken = Taken {
            slot: self,
            sub: lock(&self.sub).take(),
        };
        match taken.sub.as_mut() {
            Some(sub) => sub.drain().await.map_err(Error::from),
            None => Ok(()),
        }
    }
}

/// A subscription taken out of its slot; put back (and the endpoint woken)
/// when done, also if the drain is cancelled.
struct Taken<'a> {
    slot: &'a SubSlot,
    sub: Option<Subscriber>,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if let Some(sub) = self.sub.take() {
            *lock(&self.slot.sub) = Some(sub);
        }
        self.slot.waker.wake();
    }
}

/// Counts an endpoint's requests in flight, against its bound.
pub(crate) struct Limiter {
    in_flight: AtomicUsize,
    max: usize,
    /// Wakes the endpoint when a request finishes.
    waker: AtomicWaker,
}

impl Limiter {
    pub(crate) fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.waker.wake();
    }

    fn full(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) >= self.max
    }
}

/// The requests of one endpoint, as a [`Stream`]: handle each one and
/// answer it with [`Request::respond`], [`Request::respond_with_headers`] or
/// [`Request::respond_error`].
///
/// At most [`max_concurrency`](EndpointBuilder::max_concurrency) requests are
/// in flight at once (yielded and neither answered nor dropped); at the bound
/// the stream waits, so requests can be handed to spawned tasks without an
/// unbounded queue forming anywhere:
///
/// ```no_run
/// # async fn run(service: nats_service::Service) -> Result<(), nats_service::Error> {
/// use futures_util::StreamExt;
///
/// let mut lookups = service.endpoint("lookup").max_concurrency(64).await?;
/// while let Some(request) = lookups.next().await {
///     tokio::spawn(async move {
///         let answer = request.payload().to_ascii_uppercase(); // some slow work
///         let _ = request.respond(answer).await;
///     });
/// }
/// # Ok(()) }
/// ```
///
/// The stream ends after [`Endpoint::stop`] or [`Service::stop`] (once the
/// requests already received are yielded) and when the connection closes.
/// Dropping the endpoint unsubscribes it; the service keeps reporting its
/// statistics.
#[derive(Debug)]
pub struct Endpoint {
    client: nats_core::Client,
    slot: Arc<SubSlot>,
    state: Arc<EndpointState>,
    limiter: Arc<Limiter>,
    service: Service,
}

impl std::fmt::Debug for SubSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubSlot")
            .field("draining", &self.draining.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for EndpointState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointState")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .field("max", &self.max)
            .finish()
    }
}

impl Endpoint {
    /// The endpoint's name, subject, queue group and metadata.
    pub fn info(&self) -> &EndpointInfo {
        &self.state.info
    }

    /// The endpoint's statistics now (without the stats handler's `data`).
    pub fn stats(&self) -> EndpointStats {
        self.state.stats()
    }

    /// The service this endpoint belongs to.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// How many requests are in flight (yielded, not yet answered or dropped).
    pub fn in_flight(&self) -> usize {
        self.limiter.in_flight.load(Ordering::Acquire)
    }

    /// How many requests the client dropped because the endpoint's
    /// subscription was at its pending limits (their callers time out).
    pub fn dropped_requests(&self) -> u64 {
        lock(&self.slot.sub)
            .as_ref()
            .map_or(0, Subscriber::dropped_messages)
    }

    /// Stops this endpoint only, draining it: unsubscribes, waits until the
    /// server has confirmed it, then the stream yields the requests already
    /// received and ends. The endpoint stays in the service's `INFO`/`STATS`.
    pub async fn stop(&mut self) -> Result<(), Error> {
        self.slot.drain().await
    }
}

impl Stream for Endpoint {
    type Item = Request;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Request>> {
        let this = self.get_mut();
        if this.limiter.full() {
            this.limiter.waker.register(cx.waker());
            if this.limiter.full() {
                return Poll::Pending;
            }
        }
        let polled = {
            let mut sub = lock(&this.slot.sub);
            match sub.as_mut() {
                Some(sub) => sub.poll_next_unpin(cx),
                None => {
                    // A drain holds the subscription; it wakes us when done.
                    this.slot.waker.register(cx.waker());
                    return Poll::Pending;
                }
            }
        };
        match polled {
            Poll::Ready(Some(message)) => {
                this.limiter.in_flight.fetch_add(1, Ordering::AcqRel);
                Poll::Ready(Some(Request::new(
                    message,
                    this.client.clone(),
                    this.state.clone(),
                    this.limiter.clone(),
                    Instant::now(),
                )))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
