//! The discovery responder: one task per service answering `PING`, `INFO`
//! and `STATS` on `$SRV.<VERB>`, `$SRV.<VERB>.<name>` and
//! `$SRV.<VERB>.<name>.<id>`.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{self, SelectAll, StreamExt};
use nats_core::{Client, Message, Subscriber};
use tokio::sync::watch;

use crate::error::Error;
use crate::service::Shared;

/// The prefix of the discovery subjects.
pub const API_PREFIX: &str = "$SRV";

/// A discovery verb.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `PING`: who is there ([`PingResponse`](crate::PingResponse)).
    Ping,
    /// `INFO`: the service and its endpoints ([`InfoResponse`](crate::InfoResponse)).
    Info,
    /// `STATS`: the endpoints' statistics ([`StatsResponse`](crate::StatsResponse)).
    Stats,
}

impl Verb {
    /// The verb as it appears in subjects: `PING`, `INFO`, `STATS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Ping => "PING",
            Verb::Info => "INFO",
            Verb::Stats => "STATS",
        }
    }

    /// The subject addressing every service (`name` `None`), every instance
    /// of the service `name`, or its instance `id` (which needs a name).
    ///
    /// ```
    /// use nats_service::Verb;
    /// assert_eq!(Verb::Ping.subject(None, None), "$SRV.PING");
    /// assert_eq!(Verb::Stats.subject(Some("echo"), Some("abc")), "$SRV.STATS.echo.abc");
    /// ```
    pub fn subject(self, name: Option<&str>, id: Option<&str>) -> String {
        match (name, id) {
            (Some(name), Some(id)) => format!("{API_PREFIX}.{}.{name}.{id}", self.as_str()),
            (Some(name), None) => format!("{API_PREFIX}.{}.{name}", self.as_str()),
            (None, _) => format!("{API_PREFIX}.{}", self.as_str()),
        }
    }
}

type Tagged = stream::Map<Subscriber, Box<dyn FnMut(Message) -> (Verb, Message) + Send>>;

/// Subscribes to the nine discovery subjects of one instance.
pub(crate) async fn subscribe(
    client: &Client,
    name: &str,
    id: &str,
) -> Result<SelectAll<Tagged>, Error> {
    let mut all = SelectAll::new();
    for verb in [Verb::Ping, Verb::Info, Verb::Stats] {
        for (name, id) in [(None, None), (Some(name), None), (Some(name), Some(id))] {
            let sub = client.subscribe(verb.subject(name, id)).await?;
            let tag: Box<dyn FnMut(Message) -> (Verb, Message) + Send> =
                Box::new(move |m| (verb, m));
            all.push(sub.map(tag));
        }
    }
    Ok(all)
}

/// Answers discovery requests until told to stop (then drains: unsubscribes,
/// answers what was already received) or until every subscription ended
/// (the connection closed; then marks the service stopped).
pub(crate) async fn run(
    client: Client,
    shared: Arc<Shared>,
    mut subs: SelectAll<Tagged>,
    mut stop: watch::Receiver<bool>,
    ping: Bytes,
) {
    loop {
        tokio::select! {
            biased;
            () = stop_requested(&mut stop) => break,
            next = subs.next() => match next {
                Some((verb, msg)) => answer(&client, &shared, &ping, verb, msg).await,
                None => {
                    shared.mark_stopped();
                    return;
                }
            },
        }
    }
    let drains = subs.iter_mut().map(|s| s.get_mut().drain());
    for result in futures_util::future::join_all(drains).await {
        if let Err(e) = result {
            tracing::debug!(error = %e, "draining a discovery subscription failed");
        }
    }
    while let Some((verb, msg)) = subs.next().await {
        answer(&client, &shared, &ping, verb, msg).await;
    }
}

/// Resolves once a stop is requested (or every handle is gone).
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: stop as well.
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn answer(client: &Client, shared: &Shared, ping: &Bytes, verb: Verb, msg: Message) {
    let Some(reply) = msg.reply else {
        return;
    };
    let body = match verb {
        Verb::Ping => Ok(ping.clone()),
        Verb::Info => serde_json::to_vec(&shared.info()).map(Bytes::from),
        Verb::Stats => serde_json::to_vec(&shared.stats()).map(Bytes::from),
    };
    let sent = match body {
        Ok(body) => client.publish(&reply, body).await,
        Err(e) => {
            let headers = crate::error_headers(500, format!("{} failed: {e}", verb.as_str()));
            client.publish_with_headers(&reply, headers, "").await
        }
    };
    if let Err(e) = sent {
        tracing::debug!(error = %e, verb = verb.as_str(), "cannot answer a discovery request");
    }
}
