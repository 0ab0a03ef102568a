//! One cell of the matrix: an operation, what it must show under the
//! fault, and the ledger that tracks what it published and received.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use jetstream::{
    ConsumeContext, Consumer, ConsumerConfig, Error, ErrorKind, Msg, OrderedConsumer,
    OrderedConsumerConfig, StorageType, StreamConfig,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::env::{seed, Env, Handles, EXPIRY, HEARTBEAT, STREAM};
use super::table::{Expect, Op, RECOVERY_BOUND};

/// What an operation published and received, and what went wrong.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Numbers the harness published to the operation, in order.
    pub published: Vec<u64>,
    /// How often each number was delivered.
    pub delivered: BTreeMap<u64, u32>,
    /// Numbers whose `double_ack` succeeded: never delivered again.
    confirmed: HashSet<u64>,
    /// Ordered: the last number delivered.
    last: Option<u64>,
    /// Broken promises: duplicates, gaps, wrong data, lost writes.
    pub violations: Vec<String>,
    /// Errors a continuous operation reported.
    pub reports: Vec<(Instant, ErrorKind, String)>,
    /// When a continuous operation ended.
    pub ended: Option<Instant>,
    /// Writes the server acknowledged: (sequence or revision, number).
    pub acked: Vec<(u64, u64)>,
    /// The next number a writing operation uses.
    next_write: u64,
}

impl Ledger {
    fn deliver(&mut self, n: u64, ordered: bool) -> bool {
        *self.delivered.entry(n).or_default() += 1;
        if ordered {
            let expected = self.last.map_or(0, |l| l + 1);
            if n != expected {
                self.violations.push(format!(
                    "got {n} after {:?}: gap, duplicate or out of order",
                    self.last
                ));
            }
            self.last = Some(n);
            return true;
        }
        if self.confirmed.contains(&n) {
            self.violations.push(format!(
                "{n} delivered again after its double_ack succeeded"
            ));
            return false;
        }
        true
    }

    /// Published numbers not delivered yet.
    pub(crate) fn missing(&self) -> usize {
        self.published
            .iter()
            .filter(|n| !self.delivered.contains_key(n))
            .count()
    }

    fn write(&mut self) -> u64 {
        self.next_write += 1;
        self.next_write
    }
}

/// How an operation call ended.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub result: Result<(), (ErrorKind, String)>,
    pub took: Duration,
}

impl Outcome {
    pub(crate) fn describe(&self) -> String {
        match &self.result {
            Ok(()) => format!("Ok in {:.1?}", self.took),
            Err((kind, text)) => format!("{kind:?} in {:.1?} ({text})", self.took),
        }
    }
}

/// A running continuous operation; stopped when dropped.
#[derive(Debug)]
enum Running {
    Reader(JoinHandle<()>),
    Consume(Arc<ConsumeContext>, JoinHandle<()>),
}

impl Drop for Running {
    fn drop(&mut self) {
        match self {
            Running::Reader(task) => task.abort(),
            Running::Consume(ctx, task) => {
                ctx.stop();
                task.abort();
            }
        }
    }
}

/// Everything an operation needs, cheap to clone into tasks.
#[derive(Clone, Debug)]
struct Ctx {
    op: Op,
    h: Handles,
    consumer: Option<Consumer>,
    ordered: Arc<tokio::sync::Mutex<Option<OrderedConsumer>>>,
    ledger: Arc<Mutex<Ledger>>,
    pause: watch::Receiver<bool>,
}

/// The subject an operation publishes to or reads.
pub(crate) fn subject(op: Op) -> String {
    format!("fm.{}", op.name())
}

/// The content of object `put-<n>`.
fn object_data(n: u64) -> Vec<u8> {
    vec![(n % 251) as u8; 3000]
}

fn parse(data: &[u8]) -> u64 {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX)
}

impl Ctx {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap()
    }

    fn violation(&self, text: String) {
        self.ledger().violations.push(text);
    }

    fn report(&self, e: &Error) {
        self.ledger()
            .reports
            .push((Instant::now(), e.kind(), e.to_string()));
    }

    async fn unpaused(&self) {
        let mut pause = self.pause.clone();
        let _ = pause.wait_for(|p| !*p).await;
    }

    fn consumer(&self) -> &Consumer {
        self.consumer.as_ref().expect("a durable consumer")
    }

    /// The ordered consumer of this operation, created on first use.
    async fn ordered(&self) -> Result<OrderedConsumer, Error> {
        let mut slot = self.ordered.lock().await;
        if let Some(oc) = &*slot {
            return Ok(oc.clone());
        }
        let oc = self
            .h
            .js
            .ordered_consumer(
                STREAM,
                OrderedConsumerConfig {
                    filter_subjects: vec![subject(self.op)],
                    ..Default::default()
                },
            )
            .await?;
        *slot = Some(oc.clone());
        Ok(oc)
    }

    /// Records a delivered message; acks it (durable consumers).
    async fn take(&self, m: Msg) {
        let n = parse(m.data());
        let ordered = self.op.is_ordered();
        if !self.ledger().deliver(n, ordered) || ordered {
            return;
        }
        if m.double_ack().await.is_ok() {
            self.ledger().confirmed.insert(n);
        }
    }

    /// One call of a one-shot operation (`want`: how many messages to
    /// fetch).
    async fn once(&self, want: usize) -> Result<(), Error> {
        let h = &self.h;
        match self.op {
            Op::SyncPublish => {
                let n = self.ledger().write();
                let ack = h.js.publish(subject(self.op), n.to_string()).await?;
                self.ledger().acked.push((ack.sequence, n));
            }
            Op::AsyncPublish => {
                let n = self.ledger().write();
                let ack =
                    h.js.publish_async(subject(self.op), n.to_string())
                        .await?
                        .await?;
                self.ledger().acked.push((ack.sequence, n));
            }
            Op::Request => {
                let n = self.ledger().write();
                let reply = h.js.client().request("svc.echo", n.to_string()).await?;
                if parse(&reply.payload) != n {
                    self.violation(format!("request {n} answered {:?}", reply.payload));
                }
            }
            Op::Fetch => {
                let fetch = self.consumer().fetch(want);
                let mut batch = fetch.max_wait(EXPIRY).heartbeat(HEARTBEAT).await?;
                while let Some(m) = batch.next().await {
                    self.take(m?).await;
                }
            }
            Op::OrderedFetch => {
                let oc = self.ordered().await?;
                let mut batch = oc.fetch(want).max_wait(EXPIRY).heartbeat(HEARTBEAT).await?;
                while let Some(m) = batch.next().await {
                    self.take(m?).await;
                }
            }
            Op::Next => self.take(self.consumer().next().await?).await,
            Op::OrderedNext => self.take(self.ordered().await?.next().await?).await,
            Op::KvGet => {
                let entry = h.kv.get("k").await?;
                if entry.value().as_ref() != b"v" {
                    self.violation(format!("get k gave {:?}", entry.value()));
                }
            }
            Op::KvPut => {
                let n = self.ledger().write();
                let revision = h.kv.put("p", n.to_string()).await?;
                self.ledger().acked.push((revision, n));
            }
            Op::ObjectPut => {
                let n = self.ledger().write();
                h.store
                    .put_bytes(format!("put-{n}"), object_data(n))
                    .await?;
                self.ledger().acked.push((0, n));
            }
            Op::ObjectGet => {
                if h.store.get_bytes("seed").await?[..] != seed()[..] {
                    self.violation("object seed came back different".into());
                }
            }
            Op::ObjectList => {
                let names: Vec<String> =
                    h.store.list().await?.into_iter().map(|i| i.name).collect();
                if !names.iter().any(|n| n == "seed") {
                    self.violation(format!("list misses seed: {names:?}"));
                }
            }
            Op::ConsumerCreate => {
                let n = self.ledger().write();
                let config = ConsumerConfig {
                    durable_name: Some(format!("new{n}")),
                    filter_subject: Some("fm.none".into()),
                    ..Default::default()
                };
                h.stream.create_consumer(config).await?;
            }
            Op::StreamCreate => {
                let n = self.ledger().write();
                let config = StreamConfig {
                    name: format!("NEW{n}"),
                    subjects: vec![format!("new.{n}")],
                    storage: StorageType::Memory,
                    ..Default::default()
                };
                h.js.create_stream(config).await?;
            }
            op => unreachable!("{op:?} is continuous"),
        }
        Ok(())
    }

    /// Starts a continuous operation.
    async fn start(&self) -> Result<Running, Error> {
        let items: BoxStream<'static, Result<Item, Error>> = match self.op {
            Op::Messages => self
                .consumer()
                .messages()
                .max_messages(5)
                .expiry(EXPIRY)
                .heartbeat(HEARTBEAT)
                .await?
                .map(|r| r.map(|m| Item::Msg(Box::new(m))))
                .boxed(),
            Op::OrderedMessages => self
                .ordered()
                .await?
                .messages()
                .max_messages(5)
                .expiry(EXPIRY)
                .heartbeat(HEARTBEAT)
                .await?
                .map(|r| r.map(|m| Item::Msg(Box::new(m))))
                .boxed(),
            Op::Consume | Op::OrderedConsume => return self.consume().await,
            Op::KvWatch => self
                .h
                .kv
                .watch("w.>")
                .await?
                .map(|r| r.map(|e| Item::Number(e.map(|e| parse(e.value())))))
                .boxed(),
            Op::ObjectWatch => self
                .h
                .store
                .watch()
                .await?
                .map(|r| {
                    r.map(|info| {
                        let n = info
                            .and_then(|i| i.name.strip_prefix("w-").map(|n| parse(n.as_bytes())));
                        Item::Number(n)
                    })
                })
                .boxed(),
            op => unreachable!("{op:?} is one-shot"),
        };
        let ctx = self.clone();
        Ok(Running::Reader(tokio::spawn(ctx.read(items))))
    }

    async fn read(self, mut items: BoxStream<'static, Result<Item, Error>>) {
        loop {
            self.unpaused().await;
            match items.next().await {
                Some(Ok(Item::Msg(m))) => self.take(*m).await,
                Some(Ok(Item::Number(Some(n)))) => {
                    self.ledger().deliver(n, true);
                }
                Some(Ok(Item::Number(None))) => {}
                Some(Err(e)) => self.report(&e),
                None => {
                    self.ledger().ended = Some(Instant::now());
                    return;
                }
            }
        }
    }

    async fn consume(&self) -> Result<Running, Error> {
        let handler = {
            let ctx = self.clone();
            move |m: Msg| {
                let ctx = ctx.clone();
                async move {
                    ctx.unpaused().await;
                    ctx.take(m).await;
                }
            }
        };
        let on_error = {
            let ctx = self.clone();
            move |e: Error| ctx.report(&e)
        };
        let context = if self.op == Op::Consume {
            self.consumer()
                .consume(handler)
                .max_messages(5)
                .expiry(EXPIRY)
                .heartbeat(HEARTBEAT)
                .error_handler(on_error)
                .await?
        } else {
            self.ordered()
                .await?
                .consume(handler)
                .max_messages(5)
                .expiry(EXPIRY)
                .heartbeat(HEARTBEAT)
                .error_handler(on_error)
                .await?
        };
        let context = Arc::new(context);
        let watcher = {
            let (context, ledger) = (context.clone(), self.ledger.clone());
            tokio::spawn(async move {
                context.closed().await;
                ledger.lock().unwrap().ended = Some(Instant::now());
            })
        };
        Ok(Running::Consume(context, watcher))
    }
}

/// What a continuous operation yields.
enum Item {
    Msg(Box<Msg>),
    /// A watcher's entry: the number it carries, `None` for other entries
    /// and the end-of-initial-values marker.
    Number(Option<u64>),
}

/// Runs `f` with a time limit: past `bound` it counts as a failure.
async fn timed<T>(
    bound: Duration,
    f: impl std::future::Future<Output = Result<T, Error>>,
) -> (Outcome, Option<T>) {
    let start = Instant::now();
    let (result, value) = match tokio::time::timeout(bound, f).await {
        Ok(Ok(v)) => (Ok(()), Some(v)),
        Ok(Err(e)) => (Err((e.kind(), e.to_string())), None),
        Err(_) => (
            Err((
                ErrorKind::Other,
                format!("no result within the {bound:?} bound"),
            )),
            None,
        ),
    };
    let outcome = Outcome {
        result,
        took: start.elapsed(),
    };
    (outcome, value)
}

/// One cell: an operation under the row's fault.
#[derive(Debug)]
pub(crate) struct Cell {
    pub op: Op,
    pub expect: Expect,
    ctx: Ctx,
    pause: watch::Sender<bool>,
    running: Option<Running>,
    fired: Option<JoinHandle<(Outcome, Option<Running>)>>,
    /// The call made during the fault (or the start of a continuous
    /// operation under a fault present from the beginning).
    pub outcome: Option<Outcome>,
    /// After the fault: `Err` says what did not recover.
    pub after: Option<Result<Duration, String>>,
}

impl Cell {
    pub(crate) async fn new(op: Op, expect: Expect, env: &Env) -> Cell {
        let consumer = if op.is_durable() {
            Some(env.h.js.consumer(STREAM, op.name()).await.unwrap())
        } else {
            None
        };
        let (pause, paused) = watch::channel(false);
        Cell {
            op,
            expect,
            ctx: Ctx {
                op,
                h: env.h.clone(),
                consumer,
                ordered: Arc::default(),
                ledger: Arc::default(),
                pause: paused,
            },
            pause,
            running: None,
            fired: None,
            outcome: None,
            after: None,
        }
    }

    pub(crate) fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ctx.ledger()
    }

    /// Publishes `count` more numbers to the operation (admin client).
    pub(crate) async fn feed(&self, env: &Env, count: usize) {
        if !self.op.reads() {
            return;
        }
        for _ in 0..count {
            let n = self.ledger().published.len() as u64;
            let start = Instant::now();
            loop {
                let sent = match self.op {
                    Op::KvWatch => env
                        .admin_kv
                        .put(format!("w.{n}"), n.to_string())
                        .await
                        .map(drop),
                    Op::ObjectWatch => env
                        .admin_store
                        .put_bytes(format!("w-{n}"), n.to_string())
                        .await
                        .map(drop),
                    op => env
                        .admin
                        .publish(subject(op), n.to_string())
                        .msg_id(format!("{}-{n}", op.name()))
                        .timeout(Duration::from_secs(2))
                        .await
                        .map(drop),
                };
                match sent {
                    Ok(()) => break,
                    Err(e) => {
                        assert!(
                            start.elapsed() < RECOVERY_BOUND,
                            "feeding {:?}: {e}",
                            self.op
                        );
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            self.ledger().published.push(n);
        }
    }

    /// Before the fault: the operation works (continuous ones are started
    /// and have read what was published).
    pub(crate) async fn baseline(&mut self) {
        if self.op.is_continuous() {
            match self.ctx.start().await {
                Ok(running) => self.running = Some(running),
                Err(e) => self.ctx.violation(format!("baseline: start failed: {e}")),
            }
        }
        if let Err(e) = self.catch_up().await {
            self.ctx.violation(format!("baseline: {e}"));
        }
    }

    /// Pauses or resumes a continuous reader (or handler).
    pub(crate) fn pause(&self, paused: bool) {
        let _ = self.pause.send(paused);
    }

    /// Issues the operation under the fault: a one-shot call, or the start
    /// of a continuous operation that was not started before.
    pub(crate) fn fire(&mut self) {
        let _ = self.pause.send(false);
        if self.op.is_continuous() && self.running.is_some() {
            return;
        }
        let (ctx, bound) = (self.ctx.clone(), self.op.bound());
        self.fired = Some(tokio::spawn(async move {
            if ctx.op.is_continuous() {
                timed(bound, ctx.start()).await
            } else {
                (timed(bound, ctx.once(10)).await.0, None)
            }
        }));
    }

    /// Waits for the call issued under the fault (it is bounded).
    pub(crate) async fn collect(&mut self) {
        if let Some(fired) = self.fired.take() {
            let (outcome, running) = fired.await.unwrap();
            self.outcome = Some(outcome);
            if running.is_some() {
                self.running = running;
            }
        }
    }

    /// After the fault: one-shot operations succeed again; readers (and
    /// continuous operations) receive everything published, including
    /// three new numbers.
    pub(crate) async fn after(&mut self, env: &Env) {
        let start = Instant::now();
        self.feed(env, 3).await;
        let result = if self.op.reads() {
            self.catch_up().await
        } else {
            let (outcome, _) = timed(self.op.bound(), self.ctx.once(1)).await;
            outcome
                .result
                .map_err(|(kind, text)| format!("{kind:?}: {text}"))
        };
        self.after = Some(result.map(|()| start.elapsed()));
    }

    /// Reads until everything published was delivered (one-shot readers
    /// call again; continuous ones are waited for).
    async fn catch_up(&mut self) -> Result<(), String> {
        let start = Instant::now();
        let mut errors = Vec::new();
        loop {
            let missing = self.ledger().missing();
            if missing == 0 {
                return Ok(());
            }
            if start.elapsed() > RECOVERY_BOUND {
                let ledger = self.ledger();
                return Err(format!(
                    "{missing} of {} published not delivered within {RECOVERY_BOUND:?} \
                     (delivered {:?}; errors {errors:?}; reports {:?})",
                    ledger.published.len(),
                    ledger.delivered.keys().collect::<Vec<_>>(),
                    ledger.reports.iter().map(|r| r.1).collect::<Vec<_>>(),
                ));
            }
            if self.op.is_continuous() {
                if self.ledger().ended.is_some() {
                    return Err("ended".into());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            } else if let (Outcome { result: Err(e), .. }, _) =
                timed(self.op.bound(), self.ctx.once(missing)).await
            {
                errors.push(e.0);
            }
        }
    }

    /// After the fault: what the server stored matches what it acked, and
    /// nothing is stored twice.
    pub(crate) async fn verify(&self, env: &Env) {
        let acked = self.ledger().acked.clone();
        let mut problems = Vec::new();
        match self.op {
            Op::SyncPublish | Op::AsyncPublish => {
                let stream = env.admin.stream(STREAM).await.unwrap();
                for (seq, n) in &acked {
                    match stream.get_msg(*seq).await {
                        Ok(m) if parse(&m.payload) == *n && *m.subject == *subject(self.op) => {}
                        other => problems.push(format!("acked {n} at {seq}: stored {other:?}")),
                    }
                }
                // Read back with a fresh ordered consumer; a cluster that is
                // still settling after a leader change may answer a pull
                // with 503 for a while: read again then (bounded).
                let mut attempt = 0;
                let stored: Vec<u64> = loop {
                    attempt += 1;
                    let oc = env
                        .admin
                        .ordered_consumer(
                            STREAM,
                            OrderedConsumerConfig {
                                filter_subjects: vec![subject(self.op)],
                                ..Default::default()
                            },
                        )
                        .await
                        .unwrap();
                    let read: Result<Vec<u64>, jetstream::Error> = oc
                        .fetch_no_wait(10_000)
                        .await
                        .unwrap()
                        .map(|m| m.map(|m| parse(m.data())))
                        .collect::<Vec<_>>()
                        .await
                        .into_iter()
                        .collect();
                    match read {
                        Ok(stored) => break stored,
                        Err(e) if e.kind() == ErrorKind::NoResponders && attempt < 20 => {
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                        Err(e) => panic!("reading the stream back failed: {e}"),
                    }
                };
                let unique: HashSet<u64> = stored.iter().copied().collect();
                if unique.len() != stored.len() {
                    problems.push(format!("stored twice: {stored:?}"));
                }
            }
            Op::KvPut => {
                for (revision, n) in &acked {
                    match env.admin_kv.get_revision("p", *revision).await {
                        Ok(e) if parse(e.value()) == *n => {}
                        other => problems.push(format!("acked {n} at {revision}: {other:?}")),
                    }
                }
            }
            Op::ObjectPut => {
                for (_, n) in &acked {
                    match env.admin_store.get_bytes(format!("put-{n}")).await {
                        Ok(b) if b[..] == object_data(*n)[..] => {}
                        other => {
                            problems.push(format!("acked put-{n}: {:?}", other.map(|b| b.len())))
                        }
                    }
                }
            }
            _ => {}
        }
        self.ledger().violations.extend(problems);
    }
}
