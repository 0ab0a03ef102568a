//! The workload registry.
//!
//! A [`Workload`] names what is measured, which metrics it yields and, for each
//! contender (our client, async-nats, or the raw-TCP ceiling), an async
//! function that performs one timed run against a server URL and returns a
//! [`Sample`]. New workloads (JetStream ones, say) go in a new module and get a
//! line in [`WORKLOADS`].

use std::future::Future;
use std::pin::Pin;

use crate::Result;

pub mod core;
pub mod wire_limit;

/// One timed run's future.
pub type RunFuture = Pin<Box<dyn Future<Output = Result<Sample>> + Send>>;

/// Performs one timed run.
pub type RunFn = fn(Ctx) -> RunFuture;

/// What a run gets: where the server is and how much to do.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `nats://127.0.0.1:PORT` of the server started for this workload.
    pub url: String,
    /// Messages (or requests) to send in this run (already scaled by `--quick`).
    pub messages: u64,
    /// Payload size in bytes.
    pub payload: usize,
}

/// A metric a workload reports.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Short name, e.g. `msgs/s` or `p99 µs`.
    pub name: &'static str,
    /// Whether higher values are better (rates) or lower (latencies).
    pub higher_is_better: bool,
}

/// A rate in messages per second (higher is better).
pub const MSGS_PER_SEC: Metric = Metric {
    name: "msgs/s",
    higher_is_better: true,
};

/// The result of one run: one value per [`Workload::metrics`] entry.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Values, in the order of the workload's metrics.
    pub values: Vec<f64>,
    /// Messages published but not received (pub/sub workloads only).
    pub drops: Option<u64>,
    /// Slow consumers the server detected during the run (from `/varz`;
    /// filled in by the runner).
    pub server_slow_consumers: Option<u64>,
    /// CPU time all threads of this process used during the run (connecting
    /// included), in nanoseconds; filled in by the runner where the OS tells.
    pub cpu_nanos: Option<u64>,
}

impl Sample {
    /// A sample of one rate metric.
    pub fn rate(messages: u64, seconds: f64) -> Sample {
        Sample {
            values: vec![messages as f64 / seconds.max(1e-9)],
            drops: None,
            server_slow_consumers: None,
            cpu_nanos: None,
        }
    }
}

/// Who performs a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// This workspace's `nats-core`.
    Ours,
    /// The `async-nats` crate.
    AsyncNats,
    /// Pre-encoded frames written straight to a TCP socket: the ceiling.
    Wire,
}

impl ClientKind {
    /// The label used in tables and JSON.
    pub fn label(self) -> &'static str {
        match self {
            ClientKind::Ours => "ours",
            ClientKind::AsyncNats => "async-nats",
            ClientKind::Wire => "raw TCP",
        }
    }

    /// Parses a `--client` value.
    pub fn parse(name: &str) -> Option<ClientKind> {
        match name {
            "ours" => Some(ClientKind::Ours),
            "async-nats" | "async_nats" => Some(ClientKind::AsyncNats),
            "wire" | "raw" | "raw-tcp" => Some(ClientKind::Wire),
            _ => None,
        }
    }
}

/// One contender of a workload.
#[derive(Debug, Clone, Copy)]
pub struct Contender {
    /// Who.
    pub kind: ClientKind,
    /// How.
    pub run: RunFn,
}

/// A benchmark workload.
#[derive(Debug)]
pub struct Workload {
    /// Name used by `--workload`.
    pub name: &'static str,
    /// One line on what is measured.
    pub description: &'static str,
    /// Messages (or requests) per run at full size; `--quick` divides by 10.
    pub messages: u64,
    /// Payload size in bytes.
    pub payload: usize,
    /// What each run reports.
    pub metrics: &'static [Metric],
    /// Run in this order within each round (A B A B …).
    pub contenders: &'static [Contender],
    /// Show our median as a percentage of the `wire-limit` median.
    pub compare_to_wire_limit: bool,
    /// Show MB/s (payload bytes) next to the msgs/s rate.
    pub show_throughput: bool,
}

/// Every workload, in the order they run.
pub static WORKLOADS: &[Workload] = &[
    Workload {
        name: "wire-limit",
        description: "ceiling: 16 B PUB frames pre-encoded in 1 MiB chunks, written straight to a \
                      TCP socket, ended by PING/PONG",
        messages: 1_000_000,
        payload: 16,
        metrics: &[MSGS_PER_SEC],
        contenders: &[Contender {
            kind: ClientKind::Wire,
            run: wire_limit::run,
        }],
        compare_to_wire_limit: false,
        show_throughput: false,
    },
    Workload {
        name: "pub-16b",
        description: "publish 16 B messages to a subject nobody subscribes to, timed until the \
                      server confirms it read them all",
        messages: 1_000_000,
        payload: 16,
        metrics: &[MSGS_PER_SEC],
        contenders: &[
            Contender {
                kind: ClientKind::Ours,
                run: core::publish_ours,
            },
            Contender {
                kind: ClientKind::AsyncNats,
                run: core::publish_async_nats,
            },
        ],
        compare_to_wire_limit: true,
        show_throughput: false,
    },
    Workload {
        name: "pub-1k",
        description: "publish 1 KiB messages to a subject nobody subscribes to, timed until the \
                      server confirms it read them all",
        messages: 200_000,
        payload: 1024,
        metrics: &[MSGS_PER_SEC],
        contenders: &[
            Contender {
                kind: ClientKind::Ours,
                run: core::publish_ours,
            },
            Contender {
                kind: ClientKind::AsyncNats,
                run: core::publish_async_nats,
            },
        ],
        compare_to_wire_limit: false,
        show_throughput: true,
    },
    Workload {
        name: "pubsub-16b",
        description: "one connection subscribes, another publishes 16 B messages; received msgs/s \
                      from the first publish to the last message received",
        messages: 500_000,
        payload: 16,
        metrics: &[MSGS_PER_SEC],
        contenders: &[
            Contender {
                kind: ClientKind::Ours,
                run: core::pubsub_ours,
            },
            Contender {
                kind: ClientKind::AsyncNats,
                run: core::pubsub_async_nats,
            },
        ],
        compare_to_wire_limit: false,
        show_throughput: false,
    },
    Workload {
        name: "req-reply",
        description: "sequential 16 B requests to a responder on a second connection of the same \
                      client library; round-trip latency",
        messages: 20_000,
        payload: 16,
        metrics: &[
            Metric {
                name: "p50 µs",
                higher_is_better: false,
            },
            Metric {
                name: "p99 µs",
                higher_is_better: false,
            },
        ],
        contenders: &[
            Contender {
                kind: ClientKind::Ours,
                run: core::req_reply_ours,
            },
            Contender {
                kind: ClientKind::AsyncNats,
                run: core::req_reply_async_nats,
            },
        ],
        compare_to_wire_limit: false,
        show_throughput: false,
    },
];

/// Looks a workload up by name.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}
