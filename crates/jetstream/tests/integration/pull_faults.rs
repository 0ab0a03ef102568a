//! Fault paths of the pull engine (issue 13): a deleted consumer, 503s, a
//! re-pull that fails at once, a panicking handler. Each test failed before
//! its fix; short heartbeats keep each within a few seconds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jetstream::{ErrorKind, JetStreamOptions, StorageType};
use nats_testkit::Server;
use tokio::sync::Notify;

use crate::pull::{durable, publish_n, setup};

fn is_gone(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::ConsumerNotFound | ErrorKind::ConsumerDeleted
    )
}

/// Reads `messages` to its end within `within`; returns the errors it yielded.
async fn read_to_end(messages: &mut jetstream::Messages, within: Duration) -> Vec<ErrorKind> {
    let deadline = Instant::now() + within;
    let mut errors = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline.into(), messages.next()).await {
            Err(_) => panic!("messages() did not end within {within:?}; errors so far: {errors:?}"),
            Ok(None) => return errors,
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => errors.push(e.kind()),
        }
    }
}

// ---------------------------------------------------------------------------
// A consumer deleted while no pull waits at the server: the re-pull gets a
// 503, and only a consumer-info check tells what it means.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn messages_end_when_the_consumer_is_deleted_while_no_pull_waits() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 100).await;
    let c = durable(&stream, "busy").await;
    let mut messages = c
        .messages()
        .max_messages(10)
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .await
        .unwrap();
    messages.next().await.unwrap().unwrap();
    // The backlog served the whole pull of 10: nothing waits at the server,
    // and nothing is pulled while the stream is not read.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.delete_consumer("busy").await.unwrap();
    let errors = read_to_end(&mut messages, Duration::from_secs(5)).await;
    assert!(
        errors.last().is_some_and(|k| is_gone(*k)),
        "the last item is not ConsumerNotFound/ConsumerDeleted: {errors:?}"
    );
}

#[tokio::test]
async fn consume_ends_when_the_consumer_is_deleted_while_no_pull_waits() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 100).await;
    let c = durable(&stream, "busy").await;
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let handled = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let (st, rel, h, e) = (
        started.clone(),
        release.clone(),
        handled.clone(),
        errors.clone(),
    );
    let ctx = c
        .consume(move |_m| {
            let (st, rel, h) = (st.clone(), rel.clone(), h.clone());
            async move {
                if h.fetch_add(1, Ordering::Relaxed) == 0 {
                    st.notify_one();
                    rel.notified().await;
                }
            }
        })
        .max_messages(10)
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .error_handler(move |err| e.lock().unwrap().push(err.kind()))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), started.notified())
        .await
        .expect("first message not handled");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.delete_consumer("busy").await.unwrap();
    release.notify_one();
    tokio::time::timeout(Duration::from_secs(5), ctx.closed())
        .await
        .unwrap_or_else(|_| panic!("consume kept running: {:?}", errors.lock().unwrap()));
    let errors = errors.lock().unwrap().clone();
    assert!(
        errors.last().is_some_and(|k| is_gone(*k)),
        "the error handler did not hear that the consumer is gone: {errors:?}"
    );
}

#[tokio::test]
async fn messages_and_consume_on_a_consumer_deleted_before_they_started_end() {
    let server = Server::jetstream().start();
    let (_js, stream) = setup(&server, StorageType::Memory).await;
    let c = durable(&stream, "early").await;
    stream.delete_consumer("early").await.unwrap();

    let mut messages = c
        .messages()
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .await
        .unwrap();
    let errors = read_to_end(&mut messages, Duration::from_secs(4)).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(is_gone(errors[0]), "{errors:?}");

    let errors = Arc::new(Mutex::new(Vec::new()));
    let e = errors.clone();
    let ctx = c
        .consume(|_m| async {})
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .error_handler(move |err| e.lock().unwrap().push(err.kind()))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(4), ctx.closed())
        .await
        .unwrap_or_else(|_| panic!("consume kept running: {:?}", errors.lock().unwrap()));
    let errors = errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(is_gone(errors[0]), "{errors:?}");
}

#[tokio::test]
async fn fetch_and_next_on_a_deleted_consumer_say_consumer_not_found() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 3).await;
    let c = durable(&stream, "gone").await;
    stream.delete_consumer("gone").await.unwrap();
    let start = Instant::now();
    assert_eq!(
        c.next().await.unwrap_err().kind(),
        ErrorKind::ConsumerNotFound
    );
    let items: Vec<_> = c
        .fetch(5)
        .max_wait(Duration::from_secs(2))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].as_ref().unwrap_err().kind(),
        ErrorKind::ConsumerNotFound
    );
    let items: Vec<_> = c.fetch_no_wait(5).await.unwrap().collect().await;
    assert_eq!(
        items[0].as_ref().unwrap_err().kind(),
        ErrorKind::ConsumerNotFound
    );
    assert!(start.elapsed() < Duration::from_secs(3));
}

// ---------------------------------------------------------------------------
// 503 on a pull while the consumer exists: a proxy on a custom API prefix
// answers the first pulls with a 503 status, as the server does when nobody
// listens (the server sends its own 503 only to the publishing connection).
// ---------------------------------------------------------------------------

/// Forwards `PROXY.API.>` to `$JS.API.>`, except that the first `fail` pull
/// requests are answered with a 503 status. Counts pulls.
async fn start_503_proxy(url: &str, fail: usize) -> Arc<AtomicUsize> {
    let client = nats_core::connect(url).await.unwrap();
    let mut sub = client.subscribe("PROXY.API.>").await.unwrap();
    client.flush().await.unwrap();
    let pulls = Arc::new(AtomicUsize::new(0));
    let counted = pulls.clone();
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            let rest = m.subject.strip_prefix("PROXY.API.").unwrap().to_string();
            let Some(reply) = m.reply.as_ref().map(|r| r.to_string()) else {
                continue;
            };
            if rest.starts_with("CONSUMER.MSG.NEXT.") {
                if counted.fetch_add(1, Ordering::Relaxed) < fail {
                    let mut status = nats_core::HeaderMap::new();
                    status.set_status(nats_core::StatusCode::from_u16(503), None);
                    let _ = client.publish_with_headers(reply, status, "").await;
                } else {
                    let target = format!("$JS.API.{rest}");
                    let _ = client
                        .publish_with_reply(target, reply, m.payload.clone())
                        .await;
                }
            } else {
                let client = client.clone();
                tokio::spawn(async move {
                    if let Ok(answer) = client.request(format!("$JS.API.{rest}"), m.payload).await {
                        let _ = client.publish(reply, answer.payload).await;
                    }
                });
            }
        }
    });
    pulls
}

async fn proxied_consumer(server: &Server, name: &str) -> jetstream::Consumer {
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::with_options(
        client,
        JetStreamOptions {
            api_prefix: "PROXY.API".into(),
            ..Default::default()
        },
    );
    js.consumer("S", name).await.unwrap()
}

#[tokio::test]
async fn a_503_during_consume_pulls_again_at_once() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    durable(&stream, "flaky").await;
    js.publish("s.x", "x").await.unwrap();
    let pulls = start_503_proxy(&server.url(), 3).await;
    let c = proxied_consumer(&server, "flaky").await;
    let got = Arc::new(Notify::new());
    let g = got.clone();
    let start = Instant::now();
    let ctx = c
        .consume(move |m| {
            let g = g.clone();
            async move {
                m.ack().await.unwrap();
                g.notify_one();
            }
        })
        // Missed heartbeats would take 4 s each: three 503s, 12 s.
        .expiry(Duration::from_secs(10))
        .heartbeat(Duration::from_secs(2))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(3), got.notified())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no re-pull after a 503: {} pulls",
                pulls.load(Ordering::Relaxed)
            )
        });
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(pulls.load(Ordering::Relaxed) >= 4);
    ctx.stop();
}

#[tokio::test]
async fn persistent_503s_are_retried_with_a_bounded_backoff() {
    let server = Server::jetstream().start();
    let (_js, stream) = setup(&server, StorageType::Memory).await;
    durable(&stream, "down").await;
    let pulls = start_503_proxy(&server.url(), usize::MAX).await;
    let c = proxied_consumer(&server, "down").await;
    let errors = Arc::new(Mutex::new(Vec::new()));
    let e = errors.clone();
    let ctx = c
        .consume(|_m| async {})
        .expiry(Duration::from_secs(10))
        .heartbeat(Duration::from_secs(2))
        .error_handler(move |err| e.lock().unwrap().push(err.kind()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let n = pulls.load(Ordering::Relaxed);
    // Backoff 0, 100, 200, 400, 800 ms... : a handful, not a spin, and more
    // than the one re-pull per two missed heartbeats.
    assert!((4..=20).contains(&n), "{n} pulls in 3 s");
    assert!(!ctx.is_closed(), "the consumer exists: go on");
    assert!(
        errors.lock().unwrap().contains(&ErrorKind::NoResponders),
        "{:?}",
        errors.lock().unwrap()
    );
    ctx.stop();
}

// ---------------------------------------------------------------------------
// A re-pull that fails at once (the reconnect buffer is full during an
// outage) must not spin: the probe's threads stay nearly idle, and a
// current-thread runtime keeps running its connection task.
// ---------------------------------------------------------------------------

const PROBE: &str = "pullprobe";

/// CPU time used so far by this process's threads named `name`.
fn threads_cpu(name: &str) -> Duration {
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = entry.unwrap().path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if comm.trim_end() != name {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        // Fields after "(comm) " start at field 3; utime and stime are 14 and 15.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
            .split_whitespace()
            .collect();
        ticks += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

enum Probe {
    Ready(nats_core::Client),
    Item(Result<String, ErrorKind>),
}

/// A `messages()` loop on its own thread and runtime (threads named
/// [`PROBE`]), on a client whose reconnect buffer holds nothing.
fn spawn_probe(
    url: String,
    multi_thread: bool,
) -> (mpsc::Receiver<Probe>, tokio::sync::oneshot::Sender<()>) {
    let (tx, rx) = mpsc::channel();
    let (go, go_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name(PROBE.into())
        .spawn(move || {
            let mut builder = if multi_thread {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(2).thread_name(PROBE);
                b
            } else {
                tokio::runtime::Builder::new_current_thread()
            };
            let rt = builder.enable_all().build().unwrap();
            rt.block_on(async move {
                let client = nats_core::ConnectOptions::new()
                    .reconnect_buffer_size(1)
                    .connect(url)
                    .await
                    .unwrap();
                let js = jetstream::new(client.clone());
                let c = js.consumer("S", "probe").await.unwrap();
                let mut messages = c
                    .messages()
                    .max_messages(1)
                    .expiry(Duration::from_secs(2))
                    .heartbeat(Duration::from_millis(500))
                    .await
                    .unwrap();
                let first = messages.next().await.unwrap().unwrap();
                first.double_ack().await.unwrap();
                // Not read until the connection is down: the next read pulls
                // first, before it sees the disconnect.
                tx.send(Probe::Ready(client)).unwrap();
                let _ = go_rx.await;
                while let Some(item) = messages.next().await {
                    let item = match item {
                        Ok(m) => {
                            let data = String::from_utf8_lossy(m.data()).into_owned();
                            let _ = m.ack().await;
                            Ok(data)
                        }
                        Err(e) => Err(e.kind()),
                    };
                    let last = item.as_deref() == Ok("after");
                    if tx.send(Probe::Item(item)).is_err() || last {
                        break;
                    }
                }
            });
        })
        .unwrap();
    (rx, go)
}

async fn failing_repull_backs_off(multi_thread: bool) {
    let mut server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::File).await;
    durable(&stream, "probe").await;
    js.publish("s.x", "before").await.unwrap();
    let (rx, go) = spawn_probe(server.url(), multi_thread);
    let probe_client = tokio::task::block_in_place(|| rx.recv_timeout(Duration::from_secs(10)))
        .map(|p| match p {
            Probe::Ready(c) => c,
            Probe::Item(i) => panic!("unexpected {i:?}"),
        })
        .expect("the probe did not start");
    tokio::task::block_in_place(|| server.stop());
    let start = Instant::now();
    while probe_client.connection_state() == nats_core::State::Connected {
        assert!(start.elapsed() < Duration::from_secs(5), "no disconnect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    go.send(()).unwrap();
    let before = threads_cpu(PROBE);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = threads_cpu(PROBE) - before;
    // Idle is a few ms; a spin is the full 3 s.
    let cpu_ok = used < Duration::from_millis(600);

    tokio::task::block_in_place(|| server.start());
    let start = Instant::now();
    while js.publish("s.x", "after").retry_attempts(0).await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(15), "server not back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut items = Vec::new();
    let recovered = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::task::block_in_place(|| rx.recv_timeout(left)) {
            Ok(Probe::Item(Ok(d))) if d == "after" => break true,
            Ok(Probe::Item(i)) => items.push(i),
            Ok(Probe::Ready(_)) => unreachable!(),
            Err(_) => break false,
        }
    };
    assert!(
        cpu_ok,
        "the pull loop used {used:?} of CPU in 3 s of outage"
    );
    assert!(
        recovered,
        "no message after the outage; items: {:?}",
        &items[..items.len().min(10)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_repull_backs_off_on_a_multi_thread_runtime() {
    failing_repull_backs_off(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_repull_does_not_hang_a_current_thread_runtime() {
    failing_repull_backs_off(false).await;
}

// ---------------------------------------------------------------------------
// A panicking consume handler.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_panicking_handler_is_reported_and_ends_consume() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    let c = durable(&stream, "panics").await;
    let handled = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let (h, e) = (handled.clone(), errors.clone());
    let ctx = c
        .consume(move |m| {
            let h = h.clone();
            async move {
                assert_ne!(m.data(), "boom", "the handler fails on purpose");
                m.ack().await.unwrap();
                h.lock().unwrap().push(m.data().clone());
            }
        })
        .error_handler(move |err| e.lock().unwrap().push(err))
        .await
        .unwrap();
    for data in ["ok", "boom", "later"] {
        js.publish("s.x", data).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(5), ctx.closed())
        .await
        .expect("consume neither reported nor ended after a panic");
    assert!(ctx.is_closed());
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].kind(), ErrorKind::HandlerPanicked);
    assert!(
        errors[0]
            .to_string()
            .contains("the handler fails on purpose"),
        "{}",
        errors[0]
    );
    assert_eq!(*handled.lock().unwrap(), ["ok"]);
}
