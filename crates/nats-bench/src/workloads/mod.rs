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
pub mod core_wire;
pub mod js_common;
pub mod js_concurrent;
pub mod js_consume;
pub mod js_publish;
pub mod kv;
pub mod kv_wire;
pub mod object_store;
pub mod object_store_wire;
pub mod service;
pub mod wire_limit;

/// One timed run's future.
pub type RunFuture = Pin<Box<dyn Future<Output = Result<Sample>> + Send>>;

/// Performs one timed run.
pub type RunFn = fn(Ctx) -> RunFuture;

/// A workload's one-off preparation's future.
pub type SetupFuture = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// Prepares the server once per workload (e.g. fills a stream), before the
/// first run; never timed.
pub type SetupFn = fn(Ctx) -> SetupFuture;

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

/// Operations per second (higher is better).
pub const OPS_PER_SEC: Metric = Metric {
    name: "ops/s",
    higher_is_better: true,
};

/// Median latency of one operation, in microseconds.
pub const P50_US: Metric = Metric {
    name: "p50 µs",
    higher_is_better: false,
};

/// 99th-percentile latency of one operation, in microseconds.
pub const P99_US: Metric = Metric {
    name: "p99 µs",
    higher_is_better: false,
};

/// Payload megabytes (10^6 B) per second (higher is better).
pub const MB_PER_SEC: Metric = Metric {
    name: "MB/s",
    higher_is_better: true,
};

/// Objects per second (higher is better).
pub const OBJECTS_PER_SEC: Metric = Metric {
    name: "objects/s",
    higher_is_better: true,
};

/// The result of one run: one value per [`Workload::metrics`] entry.
#[derive(Debug, Clone, Default)]
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
    /// CPU time the server process used during the run (setup and checks
    /// included), in nanoseconds; filled in by the runner where the OS tells.
    pub server_cpu_nanos: Option<u64>,
    /// Peak resident memory of this process during the run above its level
    /// when the run started, in bytes (the kernel's peak mark, or sampled
    /// every 10 ms where that can not be reset; filled in by the runner for
    /// workloads with [`Workload::sample_rss`]).
    pub peak_rss_bytes: Option<u64>,
}

impl Sample {
    /// A sample of one rate metric.
    pub fn rate(messages: u64, seconds: f64) -> Sample {
        Sample {
            values: vec![messages as f64 / seconds.max(1e-9)],
            ..Sample::default()
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
    /// The raw-TCP ceiling workload (by name) to show each client's median
    /// rate against, as a percentage.
    pub ceiling: Option<&'static str>,
    /// Show MB/s (payload bytes) next to the msgs/s rate.
    pub show_throughput: bool,
    /// Start the server with JetStream enabled.
    pub jetstream: bool,
    /// Runs once after the workload's server started, before the first run.
    pub setup: Option<SetupFn>,
    /// Sample this process's RSS during each run and note the peak.
    pub sample_rss: bool,
}

/// Defaults for the fields a workload does not set.
const BASE: Workload = Workload {
    name: "",
    description: "",
    messages: 0,
    payload: 0,
    metrics: &[MSGS_PER_SEC],
    contenders: &[],
    ceiling: None,
    show_throughput: false,
    jetstream: false,
    setup: None,
    sample_rss: false,
};

/// One contender of the given kind.
macro_rules! contender {
    ($kind:ident, $run:path) => {
        Contender {
            kind: ClientKind::$kind,
            run: $run,
        }
    };
}

/// Our client and async-nats, in that order.
macro_rules! pair {
    ($ours:path, $theirs:path) => {
        &[contender!(Ours, $ours), contender!(AsyncNats, $theirs)]
    };
}

/// Our client, async-nats and the raw-TCP contender, in that order.
macro_rules! trio {
    ($ours:path, $theirs:path, $wire:path) => {
        &[
            contender!(Ours, $ours),
            contender!(AsyncNats, $theirs),
            contender!(Wire, $wire),
        ]
    };
}

/// The ceiling of the async publish workloads.
const JS_WIRE_PUB: &str = "js-wire-limit-pub";
/// The ceiling of the consume workloads.
const JS_WIRE_CONSUME: &str = "js-wire-limit-consume";

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
        ..BASE
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
        ceiling: Some("wire-limit"),
        ..BASE
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
        show_throughput: true,
        ..BASE
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
        ..BASE
    },
    Workload {
        name: "req-reply",
        description: "sequential 16 B requests to a responder on a second connection of the same \
                      client library; round-trip latency; raw TCP: a bare-socket responder \
                      echoing every request and a bare-socket requester writing pre-encoded \
                      requests one at a time (the floor)",
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
        contenders: trio!(core::req_reply_ours, core::req_reply_async_nats, core_wire::req_reply),
        ..BASE
    },
    Workload {
        name: "service-req",
        description: "sequential 16 B requests to an ADR-32 service endpoint (ours: nats-service, \
                      async-nats: its service module) on a second connection; round-trip latency; \
                      raw TCP: req-reply's bare-socket responder and requester, the responder \
                      subscribed to the endpoint's subject in its queue group (the floor)",
        messages: 20_000,
        payload: 16,
        metrics: &[P50_US, P99_US],
        contenders: trio!(
            service::req_ours,
            service::req_async_nats,
            core_wire::service_req
        ),
        ..BASE
    },
    // ------------------------------------------------------------ JetStream
    Workload {
        name: "js-pub-sync",
        description: "JetStream publish to a file stream, each awaited to its ack (one in \
                      flight); rate and per-publish latency after 200 untimed warm-ups; raw TCP: \
                      the same with pre-encoded frames on a bare socket (the floor)",
        messages: 20_000,
        payload: 128,
        metrics: &[
            MSGS_PER_SEC,
            Metric {
                name: "p50 µs",
                higher_is_better: false,
            },
            Metric {
                name: "p99 µs",
                higher_is_better: false,
            },
        ],
        contenders: trio!(js_publish::sync_ours, js_publish::sync_async_nats, js_publish::sync_wire),
        jetstream: true,
        ..BASE
    },
    Workload {
        name: "js-pub-async-file-4096",
        description: "async JetStream publish to a file stream, at most 4096 acks in flight \
                      (client window and drain queue), timed until every ack arrived; raw TCP: \
                      the js-wire-limit-pub loop against this file stream (its ceiling)",
        messages: 300_000,
        payload: 128,
        contenders: trio!(js_publish::async_file_4096_ours, js_publish::async_file_4096_async_nats, js_publish::wire_limit_file),
        ceiling: Some(JS_WIRE_PUB),
        jetstream: true,
        ..BASE
    },
    Workload {
        name: "js-pub-async-file-256",
        description: "async JetStream publish to a file stream, at most 256 acks in flight, \
                      timed until every ack arrived",
        messages: 300_000,
        payload: 128,
        contenders: pair!(
            js_publish::async_file_256_ours,
            js_publish::async_file_256_async_nats
        ),
        ceiling: Some(JS_WIRE_PUB),
        jetstream: true,
        ..BASE
    },
    Workload {
        name: "js-pub-async-mem-4096",
        description: "async JetStream publish to a memory stream, at most 4096 acks in flight, \
                      timed until every ack arrived; raw TCP: the js-wire-limit-pub loop, \
                      interleaved with the clients",
        messages: 300_000,
        payload: 128,
        contenders: trio!(
            js_publish::async_mem_4096_ours,
            js_publish::async_mem_4096_async_nats,
            js_publish::wire_limit
        ),
        ceiling: Some(JS_WIRE_PUB),
        jetstream: true,
        ..BASE
    },
    Workload {
        name: "js-pub-async-mem-256",
        description: "async JetStream publish to a memory stream, at most 256 acks in flight, \
                      timed until every ack arrived",
        messages: 300_000,
        payload: 128,
        contenders: pair!(
            js_publish::async_mem_256_ours,
            js_publish::async_mem_256_async_nats
        ),
        ceiling: Some(JS_WIRE_PUB),
        jetstream: true,
        ..BASE
    },
    Workload {
        name: JS_WIRE_PUB,
        description: "ceiling of async publish: pre-encoded PUB frames with reply subjects \
                      _INBOX.bench.<n> written in large chunks to a raw TCP socket, at most \
                      4096 acks outstanding, acks counted on SUB _INBOX.bench.*; memory stream",
        messages: 300_000,
        payload: 128,
        contenders: &[Contender {
            kind: ClientKind::Wire,
            run: js_publish::wire_limit,
        }],
        jetstream: true,
        ..BASE
    },
    Workload {
        name: "js-consume-none-200",
        description: "read a memory stream with a durable AckNone pull consumer: \
                      messages() with 200 messages per pull (stream filled once, untimed)",
        messages: 300_000,
        payload: 128,
        contenders: pair!(js_consume::none_200_ours, js_consume::none_200_async_nats),
        ceiling: Some(JS_WIRE_CONSUME),
        jetstream: true,
        setup: Some(js_consume::setup),
        ..BASE
    },
    Workload {
        name: "js-consume-none-1000",
        description: "the same with 1000 messages per pull; raw TCP: the js-wire-limit-consume \
                      loop, interleaved with the clients; notes give the largest peak RSS \
                      growth of this process during a run (the kernel's peak mark; only a \
                      first run grows the heap: run one client alone for a clean figure)",
        messages: 300_000,
        payload: 128,
        contenders: trio!(
            js_consume::none_1000_ours,
            js_consume::none_1000_async_nats,
            js_consume::wire_limit
        ),
        ceiling: Some(JS_WIRE_CONSUME),
        jetstream: true,
        setup: Some(js_consume::setup),
        sample_rss: true,
        ..BASE
    },
    Workload {
        name: "js-concurrent-1",
        description: "consume_concurrent(n) on an AckExplicit durable: each handler awaits 1 ms, then acks; n = 1 (ours only: async-nats has no counterpart)",
        messages: 2_000,
        payload: 128,
        contenders: &[contender!(Ours, js_concurrent::n1)],
        jetstream: true,
        setup: Some(js_consume::setup),
        ..BASE
    },
    Workload {
        name: "js-concurrent-8",
        description: "the same with n = 8",
        messages: 10_000,
        payload: 128,
        contenders: &[contender!(Ours, js_concurrent::n8)],
        jetstream: true,
        setup: Some(js_consume::setup),
        ..BASE
    },
    Workload {
        name: "js-concurrent-64",
        description: "the same with n = 64",
        messages: 50_000,
        payload: 128,
        contenders: &[contender!(Ours, js_concurrent::n64)],
        jetstream: true,
        setup: Some(js_consume::setup),
        ..BASE
    },
    Workload {
        name: "js-concurrent-512",
        description: "the same with n = 512",
        messages: 100_000,
        payload: 128,
        contenders: &[contender!(Ours, js_concurrent::n512)],
        jetstream: true,
        setup: Some(js_consume::setup),
        ..BASE
    },
    Workload {
        name: "js-consume-1m",
        description: "memory while consuming: 1,000,000 messages of 128 B read like \
                      js-consume-none-1000; notes give the peak RSS growth during a run (run \
                      each client alone, `--client ours` / `--client async-nats`, for a clean \
                      figure: a second run reuses the heap the first one grew)",
        messages: 1_000_000,
        payload: 128,
        contenders: pair!(js_consume::none_1000_ours, js_consume::none_1000_async_nats),
        jetstream: true,
        setup: Some(js_consume::setup),
        sample_rss: true,
        ..BASE
    },
    Workload {
        name: "js-consume-explicit-200",
        description: "AckExplicit durable pull consumer, messages() with 200 per pull, every \
                      message acked; timed until the server read the last ack",
        messages: 300_000,
        payload: 128,
        contenders: pair!(
            js_consume::explicit_200_ours,
            js_consume::explicit_200_async_nats
        ),
        ceiling: Some(JS_WIRE_CONSUME),
        jetstream: true,
        setup: Some(js_consume::setup),
        ..BASE
    },
    Workload {
        name: "js-consume-explicit-1000",
        description: "the same with 1000 messages per pull; raw TCP: the AckExplicit ceiling \
                      (the js-wire-limit-consume loop acking every message, acks of one socket \
                      read written together, ended by PING/PONG)",
        messages: 300_000,
        payload: 128,
        contenders: trio!(js_consume::explicit_1000_ours, js_consume::explicit_1000_async_nats, js_consume::wire_explicit),
        ceiling: Some(JS_WIRE_CONSUME),
        jetstream: true,
        setup: Some(js_consume::setup),
        ..BASE
    },
    Workload {
        name: "js-fetch-100",
        description: "AckExplicit durable pull consumer read by one-shot fetches of 100 \
                      (ours: fetch(100); async-nats: fetch().max_messages(100), a no-wait \
                      pull), every message acked",
        messages: 100_000,
        payload: 128,
        contenders: pair!(js_consume::fetch_ours, js_consume::fetch_async_nats),
        jetstream: true,
        setup: Some(js_consume::setup),
        ..BASE
    },
    Workload {
        name: "js-consume-ordered",
        description: "read the whole memory stream with an ordered consumer (default options; \
                      created before the clock starts)",
        messages: 300_000,
        payload: 128,
        contenders: pair!(js_consume::ordered_ours, js_consume::ordered_async_nats),
        ceiling: Some(JS_WIRE_CONSUME),
        jetstream: true,
        setup: Some(js_consume::setup),
        ..BASE
    },
    Workload {
        name: JS_WIRE_CONSUME,
        description: "ceiling of pull consumption: raw TCP, SUB an inbox and publish pull \
                      requests {\"batch\":1000,\"expires\":30s} for an AckNone durable \
                      consumer, two outstanding, counting MSG frames",
        messages: 300_000,
        payload: 128,
        contenders: &[Contender {
            kind: ClientKind::Wire,
            run: js_consume::wire_limit,
        }],
        jetstream: true,
        setup: Some(js_consume::setup),
        ..BASE
    },
    // ------------------------------------------------------------ Key/Value
    Workload {
        name: "kv-put-seq",
        description: "KV put of distinct keys, one at a time, each awaited to its ack, into a \
                      bucket the client under test creates (after an untimed delete) before \
                      the clock; 100 untimed warm-up puts; rate and per-put latency; raw TCP: \
                      pre-encoded `PUB $KV.<bucket>.<key> <inbox>.<n> <len>` frames on a bare \
                      socket, one in flight, each awaited to its PubAck (the floor; bucket reset \
                      untimed by our client)",
        messages: 20_000,
        payload: 128,
        metrics: &[OPS_PER_SEC, P50_US, P99_US],
        contenders: trio!(kv::put_seq_ours, kv::put_seq_async_nats, kv_wire::put_seq),
        jetstream: true,
        ..BASE
    },
    Workload {
        name: "kv-get-seq",
        description: "KV get of every key of a bucket filled once (untimed, our client), one \
                      at a time (ours get -> Entry, async-nats get -> Option<Bytes>; both \
                      direct gets); 100 untimed warm-ups; rate and per-get latency; raw TCP: \
                      pre-encoded direct-get requests \
                      `$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>` on a bare socket, one \
                      in flight (the floor)",
        messages: 20_000,
        payload: 128,
        metrics: &[OPS_PER_SEC, P50_US, P99_US],
        contenders: trio!(kv::get_seq_ours, kv::get_seq_async_nats, kv_wire::get_seq),
        jetstream: true,
        setup: Some(kv::setup_get_seq),
        ..BASE
    },
    Workload {
        name: "kv-get-concurrent",
        description: "KV gets with 64 in flight (buffer_unordered(64)) over the keys of a \
                      bucket holding a fifth as many keys as there are gets, filled once; raw \
                      TCP: the same pre-encoded direct-get requests on a bare socket with 64 in \
                      flight, the requests freed by one socket read written together (the \
                      ceiling)",
        messages: 100_000,
        payload: 128,
        metrics: &[OPS_PER_SEC],
        contenders: trio!(kv::get_concurrent_ours, kv::get_concurrent_async_nats, kv_wire::get_concurrent),
        jetstream: true,
        setup: Some(kv::setup_get_concurrent),
        ..BASE
    },
    Workload {
        name: "kv-watch",
        description: "watch_all() on an empty bucket while a second connection (always our \
                      client) async-publishes updates to $KV.<bucket>.<key>, one distinct key each; \
                      entries/s from the first publish to the last entry the watcher yields; raw \
                      TCP: the same publisher, watched by the js-wire-limit-consume pull loop on \
                      an AckNone consumer of the bucket (the ceiling)",
        messages: 100_000,
        payload: 128,
        metrics: &[Metric {
            name: "entries/s",
            higher_is_better: true,
        }],
        contenders: trio!(kv::watch_ours, kv::watch_async_nats, kv_wire::watch),
        jetstream: true,
        ..BASE
    },
    // ------------------------------------------------------------ Object store
    Workload {
        name: "obj-put-64m",
        description: "put one 64 MiB object of random bytes into a memory bucket recreated \
                      empty before every run (default 128 KiB chunks); notes give the largest \
                      peak RSS growth of this process during a run",
        messages: 1,
        payload: object_store::LARGE_SIZE,
        metrics: &[MB_PER_SEC],
        contenders: pair!(
            object_store::put_large_ours,
            object_store::put_large_async_nats
        ),
        jetstream: true,
        setup: Some(object_store::setup_put_large),
        sample_rss: true,
        ..BASE
    },
    Workload {
        name: "obj-get-64m",
        description: "get the 64 MiB object (stored once) and read_to_end it into a buffer \
                      allocated and written once before the clock (its 64 MiB count in the RSS \
                      growth); raw TCP: one pull for every chunk of a consumer created before \
                      the clock, each chunk hashed (SHA-256) and copied into the same buffer \
                      (the ceiling)",
        messages: 1,
        payload: object_store::LARGE_SIZE,
        metrics: &[MB_PER_SEC],
        contenders: trio!(object_store::get_large_ours, object_store::get_large_async_nats, object_store_wire::get_large),
        jetstream: true,
        setup: Some(object_store::setup_get_large),
        sample_rss: true,
        ..BASE
    },
    Workload {
        name: "obj-put-small",
        description: "put 1 KiB objects one after the other into a memory bucket recreated \
                      empty before every run; 10 untimed warm-up puts",
        messages: 1_000,
        payload: object_store::SMALL_SIZE,
        metrics: &[OBJECTS_PER_SEC],
        contenders: pair!(
            object_store::put_small_ours,
            object_store::put_small_async_nats
        ),
        jetstream: true,
        ..BASE
    },
    Workload {
        name: "obj-get-small",
        description: "get and read_to_end 1 KiB objects (stored once) one after the other",
        messages: 1_000,
        payload: object_store::SMALL_SIZE,
        metrics: &[OBJECTS_PER_SEC],
        contenders: pair!(
            object_store::get_small_ours,
            object_store::get_small_async_nats
        ),
        jetstream: true,
        setup: Some(object_store::setup_get_small),
        ..BASE
    },
];

/// Looks a workload up by name.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}
