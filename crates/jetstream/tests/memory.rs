//! Peak memory of the client under the largest loads the issues name: a 1 GiB object put and
//! read back, and a million messages consumed. A test binary of its own, its tests taking
//! turns, so that nothing else runs in the process while the kernel's peak-RSS mark
//! (`VmHWM`, reset through `/proc/self/clear_refs`) is watched. Linux only.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

#[allow(dead_code)]
#[path = "integration/pattern.rs"]
mod pattern;

use std::collections::VecDeque;
use std::time::Instant;

use futures_util::StreamExt;
use jetstream::{
    AckPolicy, ConsumerConfig, ObjectStoreConfig, PubAckFuture, StorageType, StreamConfig,
};
use nats_testkit::Server;
use pattern::Pattern;
use tokio::sync::Mutex;

/// One measurement at a time: the peak-RSS mark is per process.
static TURN: Mutex<()> = Mutex::const_new(());

const MIB: u64 = 1 << 20;

/// A field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Watches how far the resident set grows above where it stood when the watch started.
struct PeakWatch {
    base: u64,
}

impl PeakWatch {
    fn start() -> PeakWatch {
        // "5" resets the peak-RSS mark to the current RSS (Linux 4.0+).
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
        PeakWatch {
            base: status_bytes("VmRSS:"),
        }
    }

    /// The highest resident set since `start`, above the level at `start`.
    fn growth(&self) -> u64 {
        status_bytes("VmHWM:").saturating_sub(self.base)
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

/// A 1 GiB object streamed in and out: the client holds a bounded window of chunks,
/// never the object (the bound: under ~64 MiB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_object_put_and_get_stay_under_64_mib() {
    let _turn = TURN.lock().await;
    // The object lives in the server's memory: room for it.
    let server = Server::builder()
        .jetstream_config("max_memory_store: 2GB")
        .start();
    let js = jetstream::new(nats_core::connect(server.url()).await.unwrap());
    let store = js
        .create_object_store(ObjectStoreConfig {
            bucket: "big".into(),
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    let pattern = Pattern::new();
    let size = 1u64 << 30;

    let watch = PeakWatch::start();
    let started = Instant::now();
    let info = store.put("one-gib", pattern.reader(size)).await.unwrap();
    let put_growth = watch.growth();
    eprintln!(
        "put 1 GiB in {:?}: peak RSS +{:.1} MiB",
        started.elapsed(),
        mib(put_growth)
    );
    assert_eq!(info.size, size);
    assert_eq!(info.chunks, 8192, "128 KiB chunks");

    let watch = PeakWatch::start();
    let started = Instant::now();
    let mut object = store.get("one-gib").await.unwrap();
    // Read through a small buffer, checking every byte against the pattern; the object
    // checks the digest itself at the end.
    let mut buf = vec![0u8; 64 * 1024];
    let mut offset = 0u64;
    loop {
        let n = tokio::io::AsyncReadExt::read(&mut object, &mut buf)
            .await
            .unwrap();
        if n == 0 {
            break;
        }
        assert!(pattern.matches(offset, &buf[..n]), "wrong data at {offset}");
        offset += n as u64;
    }
    let get_growth = watch.growth();
    eprintln!(
        "get 1 GiB in {:?}: peak RSS +{:.1} MiB",
        started.elapsed(),
        mib(get_growth)
    );
    assert_eq!(offset, size);

    assert!(
        put_growth < 64 * MIB,
        "a 1 GiB put grew the resident set by {:.1} MiB",
        mib(put_growth)
    );
    assert!(
        get_growth < 64 * MIB,
        "a 1 GiB get grew the resident set by {:.1} MiB",
        mib(get_growth)
    );
}

/// A million 128-byte messages through `messages()`: what the client holds is bounded by
/// the pull budget (500 messages by default), not by how many messages there are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consuming_a_million_messages_stays_bounded() {
    const COUNT: u64 = 1_000_000;
    const WINDOW: usize = 4096;
    let _turn = TURN.lock().await;
    let server = Server::jetstream().start();
    let js = jetstream::new(nats_core::connect(server.url()).await.unwrap());
    let stream = js
        .create_stream(StreamConfig {
            name: "MANY".into(),
            subjects: vec!["many".into()],
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    let payload = bytes::Bytes::from(vec![b'x'; 128]);
    let mut acks: VecDeque<PubAckFuture> = VecDeque::with_capacity(WINDOW);
    for _ in 0..COUNT {
        if acks.len() == WINDOW {
            acks.pop_front().unwrap().await.unwrap();
        }
        acks.push_back(js.publish_async("many", payload.clone()).await.unwrap());
    }
    for ack in acks {
        ack.await.unwrap();
    }
    drop(payload);
    let consumer = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("reader".into()),
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();

    let watch = PeakWatch::start();
    let started = Instant::now();
    let mut messages = consumer.messages().await.unwrap();
    let mut expected = 1u64;
    while expected <= COUNT {
        let msg = messages.next().await.unwrap().unwrap();
        assert_eq!(msg.metadata().unwrap().sequence.stream, expected);
        assert_eq!(msg.data().len(), 128);
        expected += 1;
    }
    messages.stop();
    let growth = watch.growth();
    eprintln!(
        "consumed {COUNT} messages in {:?}: peak RSS +{:.1} MiB",
        started.elapsed(),
        mib(growth)
    );
    assert!(
        growth < 16 * MIB,
        "consuming {COUNT} messages grew the resident set by {:.1} MiB",
        mib(growth)
    );
}
