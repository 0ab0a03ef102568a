//! Consumer configuration: the `config` of a consumer create request and of a
//! [`ConsumerInfo`](crate::ConsumerInfo).

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::server_enum::server_enum;
use super::UnknownValue;

use super::serde_util::{
    empty_string_as_none, is_default, is_false, is_zero_duration, is_zero_i64, is_zero_u64, nanos,
    nanos_vec, null_default, opt_nanos, opt_time,
};

/// The configuration of a consumer.
///
/// Build it with a struct literal and `..Default::default()`. The defaults are those of the
/// server, except [`ack_policy`](Self::ack_policy), which defaults to
/// [`AckPolicy::Explicit`] and is always sent (the server's own default, used when the field
/// is missing, is "none").
///
/// ```
/// use jetstream::{ConsumerConfig, DeliverPolicy};
///
/// let config = ConsumerConfig {
///     durable_name: Some("processor".to_string()),
///     filter_subject: Some("orders.new".to_string()),
///     deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 100 },
///     ..Default::default()
/// };
/// # let _ = config;
/// ```
///
/// Zero values of the optional limits are omitted, so the server applies its defaults; the
/// config the server returns shows the resulting values (`ack_wait` 30 s, `max_deliver` -1,
/// `max_waiting` 512, `max_ack_pending` 1000, ...).
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumerConfig {
    /// Consumer name (server 2.9+). When neither this nor `durable_name` is set, the client
    /// generates one.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub name: Option<String>,
    /// Makes the consumer durable: it stays until deleted (unless `inactive_threshold` is
    /// set). Must equal `name` when both are set.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub durable_name: Option<String>,
    /// A human-readable description (at most 4 KiB).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub description: Option<String>,
    /// Where in the stream the consumer starts. On the wire: `deliver_policy` plus
    /// `opt_start_seq` / `opt_start_time`.
    #[serde(flatten, with = "deliver_policy_flat")]
    pub deliver_policy: DeliverPolicy,
    /// How messages are acknowledged. Always sent.
    pub ack_policy: AckPolicy,
    /// How long the server waits for an ack before redelivering; zero means the server default
    /// (30 s, or `backoff[0]`).
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    pub ack_wait: Duration,
    /// Maximum number of delivery attempts per message; `-1` unlimited, `0` the server default
    /// (unlimited). Must be greater than `backoff.len()`.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_deliver: i64,
    /// Redelivery delays after ack timeouts (not after naks); the last value repeats.
    #[serde(with = "nanos_vec", skip_serializing_if = "Vec::is_empty")]
    pub backoff: Vec<Duration>,
    /// Deliver only messages whose subject matches this filter (exclusive with
    /// `filter_subjects`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub filter_subject: Option<String>,
    /// Deliver only messages matching any of these non-overlapping filters (server 2.10+).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub filter_subjects: Vec<String>,
    /// Deliver as fast as possible, or at the pace the messages were stored.
    pub replay_policy: ReplayPolicy,
    /// Push consumers: delivery rate limit in bits per second; zero means none.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub rate_limit_bps: u64,
    /// Percentage of acks to sample for ack advisories, e.g. `"100%"`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub sample_freq: Option<String>,
    /// Pull consumers: maximum number of waiting pull requests; `0` means the server default
    /// (512).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_waiting: i64,
    /// Maximum number of delivered but unacknowledged messages; `-1` unlimited, `0` the server
    /// default (1000, or the stream/account limit).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
    /// Deliver only headers, with the payload size in `Nats-Msg-Size` (server 2.6.2+).
    #[serde(skip_serializing_if = "is_false")]
    pub headers_only: bool,
    /// Pull consumers: largest `batch` a pull request may ask for; zero means no limit.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_batch: i64,
    /// Pull consumers: longest `expires` a pull request may ask for (at least 1 ms); zero
    /// means no limit.
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    pub max_expires: Duration,
    /// Pull consumers: largest `max_bytes` a pull request may ask for; zero means no limit.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_bytes: i64,
    /// Inactivity after which the server deletes the consumer. Ephemeral consumers default to
    /// 5 s on the server; durables are kept unless this is set.
    #[serde(with = "opt_nanos", skip_serializing_if = "Option::is_none")]
    pub inactive_threshold: Option<Duration>,
    /// Number of replicas for the consumer's state; `0` inherits the stream's.
    pub num_replicas: usize,
    /// Keep the consumer's state in memory, whatever the stream's storage.
    #[serde(skip_serializing_if = "is_false")]
    pub mem_storage: bool,
    /// Application metadata (server 2.10+; at most 128 KiB).
    #[serde(
        skip_serializing_if = "HashMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub metadata: HashMap<String, String>,
    /// Push consumers only: the subject messages are pushed to. This client consumes by pull;
    /// the field exists so that push consumers created elsewhere can be read.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub deliver_subject: Option<String>,
    /// Push consumers only: the queue group that shares deliveries.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub deliver_group: Option<String>,
    /// Push consumers only: flow control (requires `idle_heartbeat`).
    #[serde(skip_serializing_if = "is_false")]
    pub flow_control: bool,
    /// Push consumers only: idle heartbeat interval (at least 100 ms); zero disables.
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    pub idle_heartbeat: Duration,
    /// Create the consumer paused, or the time it is paused until (server 2.11+).
    #[serde(with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<Timestamp>,
    /// Pull consumers: the priority groups pull requests must name (server 2.11+; currently
    /// exactly one; names `[A-Za-z0-9_/=-]`, at most 16 characters).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub priority_groups: Vec<String>,
    /// How the priority groups share messages (server 2.11+). Omitted when `None`.
    #[serde(skip_serializing_if = "is_default")]
    pub priority_policy: PriorityPolicy,
    /// With [`PriorityPolicy::PinnedClient`]: how long a pin lasts without pulls; zero means
    /// the server default (2 minutes). On the wire: `priority_timeout`.
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    pub priority_timeout: Duration,
}

/// Where a consumer starts in its stream.
///
/// On the wire this is `deliver_policy` plus `opt_start_seq` or `opt_start_time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DeliverPolicy {
    /// From the first message in the stream.
    #[default]
    All,
    /// From the last message in the stream.
    Last,
    /// Only messages stored after the consumer was created.
    New,
    /// From the first message at or after this stream sequence.
    ByStartSequence {
        /// The stream sequence to start at.
        start_sequence: u64,
    },
    /// From the first message stored at or after this time.
    ByStartTime {
        /// The time to start at.
        start_time: Timestamp,
    },
    /// The last message of every subject, then new messages.
    LastPerSubject,
    /// A policy this client version does not know (from a newer server), kept as sent with
    /// the start sequence and time that came with it, and written back unchanged.
    Other {
        /// The policy as the server spells it.
        policy: UnknownValue,
        /// `opt_start_seq`, if the server sent one.
        start_sequence: Option<u64>,
        /// `opt_start_time`, if the server sent one.
        start_time: Option<Timestamp>,
    },
}

server_enum! {
    /// How a consumer's messages are acknowledged.
    pub enum AckPolicy as "ack policy" {
        /// Every message must be acknowledged.
        #[default]
        Explicit = "explicit",
        /// Acknowledging a message acknowledges all messages before it.
        All = "all",
        /// No acks; messages count as acknowledged when delivered.
        None = "none",
        /// Server-internal policy for durable sourcing consumers (server 2.14; push only). Only
        /// appears when reading consumers that a server created.
        FlowControl = "flow_control",
    }
}

server_enum! {
    /// The pace at which a consumer delivers stored messages.
    pub enum ReplayPolicy as "replay policy" {
        /// As fast as possible.
        #[default]
        Instant = "instant",
        /// At the rate the messages were originally stored.
        Original = "original",
    }
}

server_enum! {
    /// How the priority groups of a pull consumer share messages (server 2.11+).
    pub enum PriorityPolicy as "priority policy" {
        /// No priority groups.
        #[default]
        None = "none" | "",
        /// Pull requests with `min_pending` / `min_ack_pending` get messages only when the
        /// consumer is backed up that far.
        Overflow = "overflow",
        /// One client at a time is pinned and gets all messages; others stand by.
        PinnedClient = "pinned_client",
        /// Pull requests carry a priority 0-9; lower is served first (server 2.12+).
        Prioritized = "prioritized",
    }
}

/// Configuration of an ordered consumer: an ephemeral, ack-none consumer that the client
/// recreates on any gap, so it delivers the stream in order without gaps or duplicates.
///
/// This is client-side only: it is never sent as such.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OrderedConsumerConfig {
    /// Deliver only messages matching these filters; empty means all.
    pub filter_subjects: Vec<String>,
    /// Where to start.
    pub deliver_policy: DeliverPolicy,
    /// Pace of delivery.
    pub replay_policy: ReplayPolicy,
    /// Inactivity after which the server removes the underlying consumer; `None` means the
    /// client default (5 minutes in nats.go).
    pub inactive_threshold: Option<Duration>,
    /// Deliver only headers.
    pub headers_only: bool,
    /// How many times to try to (re)create the consumer while the attempts fail with errors
    /// another attempt may fix (timeouts, no responders, server errors 429 and 5xx); `None`
    /// means 10. Other errors (a consumer limit, a permission, a bad configuration) end it at
    /// once, and no attempt is made while the connection is down.
    pub max_reset_attempts: Option<usize>,
    /// Prefix of the generated consumer names (`<prefix>_<n>`); `None` means a random one.
    pub name_prefix: Option<String>,
    /// Application metadata set on every server-side consumer the ordered consumer
    /// creates (server 2.10+), as nats.go's `OrderedConsumerConfig.Metadata`.
    ///
    /// ```
    /// let config = jetstream::OrderedConsumerConfig {
    ///     metadata: [("owner".to_string(), "billing".to_string())].into(),
    ///     ..Default::default()
    /// };
    /// # assert_eq!(config.metadata["owner"], "billing");
    /// ```
    pub metadata: HashMap<String, String>,
}

/// The flat wire form of [`DeliverPolicy`], used with `#[serde(flatten, with = ...)]`.
mod deliver_policy_flat {
    use super::*;
    use serde::{Deserializer, Serializer};

    server_enum! {
        /// The `deliver_policy` field alone.
        enum Kind as "deliver policy" {
            #[default]
            All = "all" | "undefined" | "",
            Last = "last",
            New = "new",
            ByStartSequence = "by_start_sequence",
            ByStartTime = "by_start_time",
            LastPerSubject = "last_per_subject",
        }
    }

    #[derive(Serialize, Deserialize, Default)]
    #[serde(default)]
    struct Wire {
        deliver_policy: Kind,
        #[serde(skip_serializing_if = "Option::is_none")]
        opt_start_seq: Option<u64>,
        #[serde(with = "opt_time", skip_serializing_if = "Option::is_none")]
        opt_start_time: Option<Timestamp>,
    }

    pub(super) fn serialize<S: Serializer>(p: &DeliverPolicy, s: S) -> Result<S::Ok, S::Error> {
        let kind = |deliver_policy| Wire {
            deliver_policy,
            ..Wire::default()
        };
        let wire = match *p {
            DeliverPolicy::All => Wire::default(),
            DeliverPolicy::Last => kind(Kind::Last),
            DeliverPolicy::New => kind(Kind::New),
            DeliverPolicy::LastPerSubject => kind(Kind::LastPerSubject),
            DeliverPolicy::ByStartSequence { start_sequence } => Wire {
                opt_start_seq: Some(start_sequence),
                ..kind(Kind::ByStartSequence)
            },
            DeliverPolicy::ByStartTime { start_time } => Wire {
                opt_start_time: Some(start_time),
                ..kind(Kind::ByStartTime)
            },
            DeliverPolicy::Other {
                policy,
                start_sequence,
                start_time,
            } => Wire {
                deliver_policy: Kind::Other(policy),
                opt_start_seq: start_sequence,
                opt_start_time: start_time,
            },
        };
        wire.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DeliverPolicy, D::Error> {
        let wire = Wire::deserialize(d)?;
        Ok(match wire.deliver_policy {
            Kind::All => DeliverPolicy::All,
            Kind::Last => DeliverPolicy::Last,
            Kind::New => DeliverPolicy::New,
            Kind::LastPerSubject => DeliverPolicy::LastPerSubject,
            Kind::ByStartSequence => DeliverPolicy::ByStartSequence {
                start_sequence: wire.opt_start_seq.unwrap_or(0),
            },
            // The server refuses by_start_time without a time; if one ever shows up, read the
            // Unix epoch rather than failing the whole reply.
            Kind::ByStartTime => DeliverPolicy::ByStartTime {
                start_time: wire.opt_start_time.unwrap_or(Timestamp::UNIX_EPOCH),
            },
            Kind::Other(policy) => DeliverPolicy::Other {
                policy,
                start_sequence: wire.opt_start_seq,
                start_time: wire.opt_start_time,
            },
        })
    }
}
