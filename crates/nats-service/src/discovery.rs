//! [`Discovery`]: the client side of the discovery verbs, gathering the
//! answers of every service instance that replies within a time window.

use std::future::IntoFuture;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt;
use nats_core::Client;
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind};
use crate::schema::{
    InfoResponse, PingResponse, StatsResponse, INFO_RESPONSE_TYPE, PING_RESPONSE_TYPE,
    STATS_RESPONSE_TYPE,
};
use crate::validate;
use crate::verbs::Verb;

/// How long discovery collects answers unless told otherwise.
pub const DEFAULT_GATHER_TIMEOUT: Duration = Duration::from_secs(1);

/// The most answers one discovery request collects unless told otherwise.
pub const DEFAULT_MAX_RESPONSES: usize = 10_000;

/// Finds services and asks them who they are (`PING`), what they offer
/// (`INFO`) and how they are doing (`STATS`).
///
/// A discovery request goes to every service, to every instance of one
/// service ([`name`](Discover::name)), or to one instance
/// ([`id`](Discover::id)). Any number of instances may answer, so answers
/// are collected until the gather timeout has passed, `max_responses` have
/// arrived, or (for one instance) the first one arrives; when no service
/// listens at all the server says so and the call returns an empty list at
/// once. Answers that are not the expected JSON document are skipped.
///
/// ```no_run
/// # async fn run(client: nats_core::Client) -> Result<(), nats_service::Error> {
/// use std::time::Duration;
/// use nats_service::Discovery;
///
/// let discovery = Discovery::new(&client).gather_timeout(Duration::from_millis(500));
/// for ping in discovery.ping().await? {
///     println!("{} {} ({})", ping.name, ping.version, ping.id);
/// }
/// let echo_stats = discovery.stats().name("echo").await?;
/// # let _ = echo_stats; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Discovery {
    client: Client,
    gather_timeout: Duration,
    max_responses: usize,
}

impl Discovery {
    /// Discovery on `client`'s connection, with the default gather timeout
    /// ([`DEFAULT_GATHER_TIMEOUT`]) and answer cap ([`DEFAULT_MAX_RESPONSES`]).
    pub fn new(client: &Client) -> Discovery {
        Discovery {
            client: client.clone(),
            gather_timeout: DEFAULT_GATHER_TIMEOUT,
            max_responses: DEFAULT_MAX_RESPONSES,
        }
    }

    /// How long to collect answers.
    pub fn gather_timeout(mut self, timeout: Duration) -> Discovery {
        self.gather_timeout = timeout;
        self
    }

    /// The most answers to collect (`0` counts as 1).
    pub fn max_responses(mut self, max: usize) -> Discovery {
        self.max_responses = max.max(1);
        self
    }

    /// `PING`: the identity of each instance.
    pub fn ping(&self) -> Discover<PingResponse> {
        self.discover(Verb::Ping)
    }

    /// `INFO`: each instance's description and endpoints.
    pub fn info(&self) -> Discover<InfoResponse> {
        self.discover(Verb::Info)
    }

    /// `STATS`: each instance's endpoint statistics.
    pub fn stats(&self) -> Discover<StatsResponse> {
        self.discover(Verb::Stats)
    }

    fn discover<T>(&self, verb: Verb) -> Discover<T> {
        Discover {
            discovery: self.clone(),
            verb,
            name: None,
            id: None,
            response: PhantomData,
        }
    }
}

/// One discovery request; narrow it with [`name`](Self::name) and
/// [`id`](Self::id), then `.await` it for the list of answers.
#[derive(Debug)]
#[must_use = "a discovery request does nothing until awaited"]
pub struct Discover<T> {
    discovery: Discovery,
    verb: Verb,
    name: Option<String>,
    id: Option<String>,
    response: PhantomData<fn() -> T>,
}

impl<T> Discover<T> {
    /// Only the instances of the service `name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Only the instance `id` (needs [`name`](Self::name) too); the first
    /// answer ends the wait.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> Discover<T> {
    async fn gather(self) -> Result<Vec<T>, Error> {
        if let Some(name) = &self.name {
            validate::name("service", name)?;
        }
        if let Some(id) = &self.id {
            if self.name.is_none() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "a service id can only be addressed with the service name",
                ));
            }
            validate::name("service id", id)?;
        }
        let expected_type = match self.verb {
            Verb::Ping => PING_RESPONSE_TYPE,
            Verb::Info => INFO_RESPONSE_TYPE,
            Verb::Stats => STATS_RESPONSE_TYPE,
        };
        let limit = if self.id.is_some() {
            1
        } else {
            self.discovery.max_responses
        };
        let client = &self.discovery.client;
        let subject = self.verb.subject(self.name.as_deref(), self.id.as_deref());
        let inbox = client.new_inbox();
        let mut answers = client.subscribe(&inbox).await?;
        client.publish_with_reply(&subject, &inbox, "").await?;
        let deadline = tokio::time::Instant::now() + self.discovery.gather_timeout;
        let mut found = Vec::new();
        while found.len() < limit {
            let msg = match tokio::time::timeout_at(deadline, answers.next()).await {
                Ok(Some(msg)) => msg,
                Ok(None) => match answers.error() {
                    Some(refused) => return Err(refused.into()),
                    None => break,
                },
                Err(_) => break,
            };
            if msg.is_no_responders() {
                break;
            }
            if msg.status.is_some() {
                continue;
            }
            match parse::<T>(&msg.payload, expected_type) {
                Ok(answer) => found.push(answer),
                Err(why) => {
                    tracing::warn!(subject = %subject, "skipping a discovery answer: {why}")
                }
            }
        }
        Ok(found)
    }
}

fn parse<T: DeserializeOwned>(payload: &[u8], expected_type: &str) -> Result<T, String> {
    let value: serde_json::Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    match value.get("type").and_then(|t| t.as_str()) {
        Some(kind) if kind != expected_type => {
            return Err(format!("type {kind:?}, expected {expected_type:?}"))
        }
        _ => {}
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

impl<T: DeserializeOwned + Send + 'static> IntoFuture for Discover<T> {
    type Output = Result<Vec<T>, Error>;
    type IntoFuture = Pin<Box<dyn std::future::Future<Output = Result<Vec<T>, Error>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.gather())
    }
}
