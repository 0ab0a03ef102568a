//! The matrix itself: one row per operation, one column per fault, and the
//! time bound of each operation. The module documentation shows the same
//! table; keep them in step.

use std::time::Duration;

use jetstream::ErrorKind::{self, *};

/// An operation run under a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    SyncPublish,
    AsyncPublish,
    Request,
    Fetch,
    Next,
    Messages,
    Consume,
    OrderedFetch,
    OrderedNext,
    OrderedMessages,
    OrderedConsume,
    KvGet,
    KvPut,
    KvWatch,
    ObjectPut,
    ObjectGet,
    ObjectWatch,
    ObjectList,
    ConsumerCreate,
    StreamCreate,
}

impl Op {
    /// Runs through the fault (started before it) rather than being
    /// issued during it.
    pub(crate) fn is_continuous(self) -> bool {
        use Op::*;
        matches!(
            self,
            Messages | Consume | OrderedMessages | OrderedConsume | KvWatch | ObjectWatch
        )
    }

    /// Delivers in order, exactly once (ordered consumers and watchers).
    pub(crate) fn is_ordered(self) -> bool {
        use Op::*;
        matches!(
            self,
            OrderedFetch | OrderedNext | OrderedMessages | OrderedConsume | KvWatch | ObjectWatch
        )
    }

    /// Reads messages the harness publishes to it (its subject, keys or
    /// objects), so nothing published may be lost.
    pub(crate) fn reads(self) -> bool {
        use Op::*;
        matches!(
            self,
            Fetch
                | Next
                | Messages
                | Consume
                | OrderedFetch
                | OrderedNext
                | OrderedMessages
                | OrderedConsume
                | KvWatch
                | ObjectWatch
        )
    }

    /// A durable consumer of its own (`Fetch`, `Next`, `Messages`, `Consume`).
    pub(crate) fn is_durable(self) -> bool {
        self.reads() && !self.is_ordered()
    }

    /// A short name: durable consumer names and subjects `fm.<name>`.
    pub(crate) fn name(self) -> &'static str {
        use Op::*;
        match self {
            SyncPublish => "sync",
            AsyncPublish => "async",
            Request => "request",
            Fetch => "fetch",
            Next => "next",
            Messages => "msgs",
            Consume => "consume",
            OrderedFetch => "ofetch",
            OrderedNext => "onext",
            OrderedMessages => "omsgs",
            OrderedConsume => "oconsume",
            KvGet => "kvget",
            KvPut => "kvput",
            KvWatch => "kvwatch",
            ObjectPut => "objput",
            ObjectGet => "objget",
            ObjectWatch => "objwatch",
            ObjectList => "objlist",
            ConsumerCreate => "ccreate",
            StreamCreate => "screate",
        }
    }

    /// How long the operation may take under a fault (one-shot: from the
    /// call; continuous: see [`REPORT_BOUND`], [`end_bound`]).
    pub(crate) fn bound(self) -> Duration {
        use Op::*;
        let ms = match self {
            // 1 s context / request timeout; publishes retry no-responders twice.
            SyncPublish | AsyncPublish | Request | KvGet | KvPut | ConsumerCreate
            | StreamCreate => 3_000,
            // Several requests, each with the 1 s timeout.
            ObjectPut | ObjectGet | ObjectList => 4_000,
            // max_wait 2 s (+1 s grace), or two missed 500 ms heartbeats.
            Fetch => 4_500,
            // Creating the consumer (1 s timeout, retried) and then a fetch.
            OrderedFetch => 12_000,
            // next() has no options: 30 s max_wait with 5 s heartbeats, so a
            // lost pull shows after two missed heartbeats (10 s).
            Next => 12_000,
            OrderedNext => 15_000,
            // Continuous operations: starting them (creating an ordered
            // consumer) under a fault that never heals.
            Messages | Consume => 3_000,
            OrderedMessages | OrderedConsume | KvWatch | ObjectWatch => 12_000,
        };
        Duration::from_millis(ms)
    }
}

/// A continuous operation must report a fault within this time of it
/// (two missed 500 ms heartbeats, with headroom).
pub(crate) const REPORT_BOUND: Duration = Duration::from_secs(3);

/// After a fault heals, everything published must arrive within this time.
pub(crate) const RECOVERY_BOUND: Duration = Duration::from_secs(10);

/// How soon a continuous operation must end once its consumer, stream or
/// bucket is gone: a couple of heartbeats (500 ms for pull consumers; a KV
/// watcher uses 3 s, an object watcher 5 s).
pub(crate) fn end_bound(op: Op) -> Duration {
    match op {
        Op::KvWatch => Duration::from_secs(9),
        Op::ObjectWatch => Duration::from_secs(12),
        _ => Duration::from_secs(4),
    }
}

/// A fault injected while the operations run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The server is stopped (`SIGTERM`) for 1.5 s and started again on the
    /// same store.
    Restart,
    /// The server is frozen (`SIGSTOP`) for 3 s.
    Freeze,
    /// The proxy stops forwarding both ways for 3 s (half-open connection).
    Stall,
    /// The proxy closes the connection; the client reconnects at once.
    Reset,
    /// Every consumer is deleted while its pulls wait at the server.
    ConsumerDeleted,
    /// Every consumer is deleted while it has a backlog and its reader is
    /// busy, so no pull waits at the server.
    ConsumerDeletedBacklog,
    /// The stream, the KV bucket and the object store are deleted behind
    /// live handles.
    StreamDeleted,
    /// The client's user may only read stream and consumer info and ack.
    PermissionDenied,
    /// The stream leaders of a 3-node cluster step down.
    LeaderChange,
}

impl Fault {
    /// Every fault, in column order.
    pub(crate) const ALL: [Fault; 9] = [
        Fault::Restart,
        Fault::Freeze,
        Fault::Stall,
        Fault::Reset,
        Fault::ConsumerDeleted,
        Fault::ConsumerDeletedBacklog,
        Fault::StreamDeleted,
        Fault::PermissionDenied,
        Fault::LeaderChange,
    ];

    /// The fault ends and everything must work again afterwards.
    pub(crate) fn heals(self) -> bool {
        matches!(
            self,
            Fault::Restart | Fault::Freeze | Fault::Stall | Fault::Reset | Fault::LeaderChange
        )
    }

    /// The resources survive the fault (their contents can be checked).
    pub(crate) fn keeps_data(self) -> bool {
        self != Fault::StreamDeleted
    }

    fn column(self) -> usize {
        Fault::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

/// What a cell must show.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Expect {
    /// The fault does not concern this operation.
    NA,
    /// One-shot: succeeds or fails with one of these kinds, within the
    /// bound; after the fault heals it succeeds (and reads everything).
    OkOr(&'static [ErrorKind]),
    /// One-shot (or the start of a continuous operation): fails with one of
    /// these kinds within the bound.
    Fails(&'static [ErrorKind]),
    /// Continuous: goes on; reports one of these kinds within
    /// [`REPORT_BOUND`] of the fault (nothing required if empty); after the
    /// fault heals it delivers everything within [`RECOVERY_BOUND`].
    Recovers(&'static [ErrorKind]),
    /// Continuous: reports one of these kinds within [`REPORT_BOUND`].
    Reports(&'static [ErrorKind]),
    /// Continuous: reports one of these kinds and ends within
    /// [`end_bound`].
    Ends(&'static [ErrorKind]),
}

const NONE: &[ErrorKind] = &[];
/// Nothing answers (frozen, stalled, restarting), or the connection was
/// lost with the request in flight: the core client then fails it at once
/// with `ConnectionClosed`.
const TO: &[ErrorKind] = &[Timeout, ConnectionClosed];
/// A pull that nothing answers.
const PULL: &[ErrorKind] = &[HeartbeatMissed, Timeout, ConnectionClosed];
const HB: &[ErrorKind] = &[HeartbeatMissed];
/// A leader election: no answer, no responders, or 503 "JetStream system
/// temporarily unavailable" (`Api`, err_code 10008).
const ELECT: &[ErrorKind] = &[Timeout, NoResponders, Api];
const ELECT_PULL: &[ErrorKind] = &[Timeout, NoResponders, Api, HeartbeatMissed];
const CNF: &[ErrorKind] = &[ConsumerNotFound];
const GONE: &[ErrorKind] = &[ConsumerDeleted, ConsumerNotFound];
const GONE_STREAM: &[ErrorKind] = &[ConsumerDeleted, ConsumerNotFound, StreamNotFound];
const PULL_NO_STREAM: &[ErrorKind] = &[StreamNotFound, ConsumerNotFound];
const SNF: &[ErrorKind] = &[StreamNotFound];
const BNF: &[ErrorKind] = &[BucketNotFound];
const NR: &[ErrorKind] = &[NoResponders];
/// A refused request (API call, publish waiting for its ack, core request) is
/// failed by the core client as soon as the server's `-ERR 'Permissions
/// Violation ...'` names its subject: `PermissionDenied`, not a timeout.
const PERM: &[ErrorKind] = &[PermissionDenied];
/// A refused pull is a plain publish (no request waits for it), so nothing ties
/// the `-ERR` to it: the pull times out or its heartbeats are missed.
const PERM_PULL: &[ErrorKind] = &[PermissionDenied, Timeout, HeartbeatMissed];

use Expect::{Ends, Fails, OkOr, Recovers, Reports, NA};

/// Columns as in [`Fault::ALL`]: restart, freeze, stall, reset, consumer
/// deleted (idle), consumer deleted (backlog), stream/bucket deleted,
/// permission denied, leader change.
#[rustfmt::skip]
pub(crate) const TABLE: [(Op, [Expect; 9]); 20] = [
    (Op::SyncPublish,     [OkOr(TO), OkOr(TO), OkOr(TO), OkOr(TO), NA, NA, Fails(NR), Fails(PERM), OkOr(ELECT)]),
    (Op::AsyncPublish,    [OkOr(TO), OkOr(TO), OkOr(TO), OkOr(TO), NA, NA, Fails(NR), Fails(PERM), OkOr(ELECT)]),
    (Op::Request,         [OkOr(TO), OkOr(TO), OkOr(TO), OkOr(TO), NA, NA, NA, Fails(PERM), NA]),
    (Op::Fetch,           [OkOr(PULL), OkOr(PULL), OkOr(PULL), OkOr(PULL), Fails(CNF), Fails(CNF), Fails(PULL_NO_STREAM), Fails(PERM_PULL), OkOr(ELECT_PULL)]),
    (Op::Next,            [OkOr(PULL), OkOr(PULL), OkOr(PULL), OkOr(PULL), Fails(CNF), Fails(CNF), Fails(PULL_NO_STREAM), Fails(PERM_PULL), OkOr(ELECT_PULL)]),
    (Op::Messages,        [Recovers(NONE), Recovers(HB), Recovers(HB), Recovers(NONE), Ends(GONE), Ends(GONE), Ends(GONE_STREAM), Reports(PERM_PULL), Recovers(NONE)]),
    (Op::Consume,         [Recovers(NONE), Recovers(HB), Recovers(HB), Recovers(NONE), Ends(GONE), Ends(GONE), Ends(GONE_STREAM), Reports(PERM_PULL), Recovers(NONE)]),
    (Op::OrderedFetch,    [OkOr(PULL), OkOr(PULL), OkOr(PULL), OkOr(PULL), OkOr(NONE), OkOr(NONE), Fails(SNF), Fails(PERM), OkOr(ELECT_PULL)]),
    (Op::OrderedNext,     [OkOr(PULL), OkOr(PULL), OkOr(PULL), OkOr(PULL), OkOr(NONE), OkOr(NONE), Fails(SNF), Fails(PERM), OkOr(ELECT_PULL)]),
    (Op::OrderedMessages, [Recovers(NONE), Recovers(HB), Recovers(HB), Recovers(NONE), Recovers(NONE), Recovers(NONE), Ends(SNF), Fails(PERM), Recovers(NONE)]),
    (Op::OrderedConsume,  [Recovers(NONE), Recovers(HB), Recovers(HB), Recovers(NONE), Recovers(NONE), Recovers(NONE), Ends(SNF), Fails(PERM), Recovers(NONE)]),
    (Op::KvGet,           [OkOr(TO), OkOr(TO), OkOr(TO), OkOr(TO), NA, NA, Fails(BNF), Fails(PERM), OkOr(ELECT)]),
    (Op::KvPut,           [OkOr(TO), OkOr(TO), OkOr(TO), OkOr(TO), NA, NA, Fails(BNF), Fails(PERM), OkOr(ELECT)]),
    (Op::KvWatch,         [Recovers(NONE), Recovers(NONE), Recovers(NONE), Recovers(NONE), Recovers(NONE), Recovers(NONE), Ends(BNF), Fails(PERM), Recovers(NONE)]),
    (Op::ObjectPut,       [OkOr(TO), OkOr(TO), OkOr(TO), OkOr(TO), NA, NA, Fails(BNF), Fails(PERM), OkOr(ELECT)]),
    (Op::ObjectGet,       [OkOr(TO), OkOr(TO), OkOr(TO), OkOr(TO), NA, NA, Fails(BNF), Fails(PERM), OkOr(ELECT)]),
    (Op::ObjectWatch,     [Recovers(NONE), Recovers(NONE), Recovers(NONE), Recovers(NONE), Recovers(NONE), Recovers(NONE), Ends(BNF), Fails(PERM), Recovers(NONE)]),
    (Op::ObjectList,      [OkOr(TO), OkOr(TO), OkOr(TO), OkOr(TO), NA, NA, Fails(BNF), Fails(PERM), OkOr(ELECT)]),
    (Op::ConsumerCreate,  [OkOr(TO), OkOr(TO), OkOr(TO), OkOr(TO), NA, NA, Fails(SNF), Fails(PERM), OkOr(ELECT)]),
    (Op::StreamCreate,    [OkOr(TO), OkOr(TO), OkOr(TO), OkOr(TO), NA, NA, NA, Fails(PERM), OkOr(ELECT)]),
];

/// The cells of one fault's column that apply.
pub(crate) fn column(fault: Fault) -> Vec<(Op, Expect)> {
    TABLE
        .iter()
        .map(|(op, row)| (*op, row[fault.column()]))
        .filter(|(_, e)| !matches!(e, Expect::NA))
        .collect()
}
