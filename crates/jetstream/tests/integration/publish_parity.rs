//! Publishing parity with nats.go `jetstream` and async-nats: prebuilt messages,
//! merged headers, async publish handlers, `publish_async_complete` without a
//! timeout, failing on a full window, and the raw API request.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jetstream::{ErrorKind, JetStreamOptions, PublishAckHandler, PublishErrorHandler, StreamInfo};
use nats_core::{HeaderMap, Message};
use nats_testkit::Server;
use serde_json::json;

use crate::common::{raw_create_stream, raw_stream_info, stream};

async fn connect(server: &Server) -> nats_core::Client {
    nats_core::connect(server.url()).await.unwrap()
}

/// A subscriber on `subject` that never answers: publishes to it wait for an
/// ack that does not come.
async fn silent(client: &nats_core::Client, subject: &str) -> nats_core::Subscriber {
    let sub = client.subscribe(subject).await.unwrap();
    client.flush().await.unwrap();
    sub
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, *v);
    }
    h
}

#[tokio::test]
async fn a_prebuilt_message_is_published_with_its_subject_headers_and_payload() {
    let server = Server::jetstream().start();
    let client = connect(&server).await;
    let js = jetstream::new(client.clone());
    raw_create_stream(&client, stream("M", &["m.>"])).await;

    let msg = Message::new("m.one", "payload 1")
        .with_headers(headers(&[("Nats-Msg-Id", "one"), ("X-Kind", "demo")]));
    let ack = js
        .publish_message(msg.clone())
        .expected_stream("M")
        .header("X-Extra", "yes")
        .await
        .unwrap();
    assert_eq!((ack.stream.as_str(), ack.sequence), ("M", 1));
    // The message's own Nats-Msg-Id deduplicates the second publish.
    let again = js.publish_message(msg).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.sequence, 1);

    let pending = js
        .publish_message_async(Message::new("m.two", "payload 2"))
        .msg_id("two")
        .await
        .unwrap();
    assert_eq!(pending.subject(), "m.two");
    assert_eq!(pending.await.unwrap().sequence, 2);

    let stored = js.stream("M").await.unwrap();
    let first = stored.get_msg(1).await.unwrap();
    assert_eq!(first.subject.as_str(), "m.one");
    assert_eq!(&first.payload[..], b"payload 1");
    let h = first.headers.unwrap();
    assert_eq!(h.get("Nats-Msg-Id"), Some("one"));
    assert_eq!(h.get("X-Kind"), Some("demo"));
    assert_eq!(h.get("X-Extra"), Some("yes"));
    let second = stored.get_msg(2).await.unwrap();
    assert_eq!(&second.payload[..], b"payload 2");
    assert_eq!(
        second.headers.unwrap().get("Nats-Msg-Id"),
        Some("two"),
        "builder options add to a message without headers"
    );
    assert_eq!(raw_stream_info(&client, "M").await["state"]["messages"], 2);
}

#[tokio::test]
async fn headers_merge_with_the_msg_id_in_either_order() {
    let server = Server::jetstream().start();
    let client = connect(&server).await;
    let js = jetstream::new(client.clone());
    raw_create_stream(&client, stream("H", &["h"])).await;
    let h = || headers(&[("X-Tenant", "acme"), ("X-Tag", "new")]);

    // msg_id first, headers after: the id must survive (dedupe works).
    let a1 = js.publish("h", "a").msg_id("a").headers(h()).await.unwrap();
    let a2 = js.publish("h", "a").msg_id("a").headers(h()).await.unwrap();
    assert!(!a1.duplicate);
    assert!(a2.duplicate, "the msg id set before .headers() was lost");
    assert_eq!(a2.sequence, a1.sequence);

    // headers first, msg_id after.
    let b1 = js.publish("h", "b").headers(h()).msg_id("b").await.unwrap();
    let b2 = js.publish("h", "b").headers(h()).msg_id("b").await.unwrap();
    assert!(!b1.duplicate);
    assert!(b2.duplicate, "the msg id set after .headers() was lost");

    // Async publishes merge the same way.
    let c1 = js
        .publish_async("h", "c")
        .msg_id("c")
        .headers(h())
        .await
        .unwrap();
    let c2 = js
        .publish_async("h", "c")
        .msg_id("c")
        .headers(h())
        .await
        .unwrap();
    assert!(!c1.await.unwrap().duplicate);
    assert!(c2.await.unwrap().duplicate);

    // A name given again replaces its earlier values; other names stay.
    let d = js
        .publish("h", "d")
        .header("X-Tag", "old")
        .header("X-Keep", "1")
        .headers(h())
        .header("X-Tag", "extra")
        .await
        .unwrap();
    assert_eq!(raw_stream_info(&client, "H").await["state"]["messages"], 4);
    let stored = js
        .stream("H")
        .await
        .unwrap()
        .get_msg(d.sequence)
        .await
        .unwrap()
        .headers
        .unwrap();
    assert_eq!(
        stored.get_all("X-Tag").collect::<Vec<_>>(),
        ["new", "extra"]
    );
    assert_eq!(stored.get("X-Keep"), Some("1"));
    assert_eq!(stored.get("X-Tenant"), Some("acme"));
    let a = js
        .stream("H")
        .await
        .unwrap()
        .get_msg(a1.sequence)
        .await
        .unwrap();
    let a = a.headers.unwrap();
    assert_eq!(a.get("Nats-Msg-Id"), Some("a"));
    assert_eq!(a.get("X-Tenant"), Some("acme"));
}

type Reported = Arc<Mutex<Vec<(String, String, ErrorKind)>>>;

fn error_collector() -> (PublishErrorHandler, Reported) {
    let seen: Reported = Arc::default();
    let handler = PublishErrorHandler::new({
        let seen = seen.clone();
        move |_js, msg, err| {
            let payload = String::from_utf8_lossy(&msg.payload).into_owned();
            seen.lock()
                .unwrap()
                .push((msg.subject.to_string(), payload, err.kind()));
        }
    });
    (handler, seen)
}

#[tokio::test]
async fn the_error_handler_reports_failed_publishes_whose_futures_were_dropped() {
    let server = Server::jetstream().start();
    let client = connect(&server).await;
    let (handler, seen) = error_collector();
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            publish_async_error_handler: Some(handler),
            ..Default::default()
        },
    );
    raw_create_stream(&client, stream("F", &["f"])).await;
    let _silent = silent(&client, "quiet").await;

    // Refused by the stream, nobody listening, and no ack in time: each
    // future is dropped at once.
    drop(
        js.publish_async("f", "refused")
            .expected_last_sequence(99)
            .await
            .unwrap(),
    );
    drop(js.publish_async("nowhere", "unheard").await.unwrap());
    let started = Instant::now();
    drop(
        js.publish_async("quiet", "unanswered")
            .timeout(Duration::from_millis(300))
            .await
            .unwrap(),
    );
    // A success is not an error.
    drop(js.publish_async("f", "fine").await.unwrap());

    tokio::time::timeout(Duration::from_secs(10), js.publish_async_complete())
        .await
        .expect("complete hung")
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(js.publish_async_pending(), 0);
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        [
            ("f".into(), "refused".into(), ErrorKind::WrongLastSequence),
            ("nowhere".into(), "unheard".into(), ErrorKind::NoResponders),
            ("quiet".into(), "unanswered".into(), ErrorKind::Timeout),
        ]
    );
    assert_eq!(raw_stream_info(&client, "F").await["state"]["messages"], 1);
}

#[tokio::test]
async fn the_ack_handler_sees_every_ack_and_awaited_futures_still_resolve() {
    let server = Server::jetstream().start();
    let client = connect(&server).await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let (on_error, errors) = error_collector();
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            max_pending_acks: 64,
            publish_async_error_handler: Some(on_error),
            publish_async_ack_handler: Some(PublishAckHandler::new({
                let acked = acked.clone();
                move |_js, msg, ack| {
                    // The message as sent: payload and header carry the same number.
                    let header = msg.headers.as_ref().and_then(|h| h.get("X-I"));
                    let sent_as = header == std::str::from_utf8(&msg.payload).ok();
                    acked.lock().unwrap().push((ack.sequence, sent_as));
                }
            })),
            ..Default::default()
        },
    );
    raw_create_stream(&client, stream("K", &["k"])).await;

    let mut kept = Vec::new();
    for i in 0..500u32 {
        let future = js
            .publish_async("k", i.to_string())
            .header("X-I", i.to_string())
            .await
            .unwrap();
        assert!(js.publish_async_pending() <= 64);
        if i % 2 == 0 {
            kept.push(future);
        }
    }
    for (n, future) in kept.into_iter().enumerate() {
        assert_eq!(future.await.unwrap().sequence, 2 * n as u64 + 1);
    }
    tokio::time::timeout(Duration::from_secs(10), js.publish_async_complete())
        .await
        .expect("complete hung")
        .unwrap();
    let mut reported = acked.lock().unwrap().clone();
    reported.sort_unstable();
    assert_eq!(
        reported,
        (1..=500).map(|s| (s, true)).collect::<Vec<_>>(),
        "each ack reported once, with its message"
    );

    // The reporter stops when idle and starts again with the next publish.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(
        js.publish_async("k", "500")
            .header("X-I", "500")
            .await
            .unwrap(),
    );
    tokio::time::timeout(Duration::from_secs(10), js.publish_async_complete())
        .await
        .expect("complete hung")
        .unwrap();
    assert_eq!(acked.lock().unwrap().len(), 501);
    assert!(errors.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failure_reaches_both_the_awaited_future_and_the_handler() {
    let server = Server::jetstream().start();
    let client = connect(&server).await;
    let (handler, seen) = error_collector();
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            publish_async_error_handler: Some(handler),
            ..Default::default()
        },
    );
    raw_create_stream(&client, stream("B", &["b"])).await;
    let err = js
        .publish_async("b", "x")
        .expected_stream("OTHER")
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamMismatch);
    js.publish_async_complete().await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [("b".into(), "x".into(), ErrorKind::StreamMismatch)]
    );
}

#[tokio::test]
async fn publish_async_complete_waits_past_the_context_timeout() {
    let server = Server::new().start();
    let client = connect(&server).await;
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            timeout: Duration::from_millis(300),
            ..Default::default()
        },
    );
    // Nothing pending: returns at once.
    tokio::time::timeout(Duration::from_millis(500), js.publish_async_complete())
        .await
        .unwrap()
        .unwrap();

    // Stands in for a stream that acks after 1.2 s, four times the context's timeout.
    let mut sub = silent(&client, "slow").await;
    let _responder = tokio::spawn({
        let client = client.clone();
        async move {
            let mut seq = 0;
            while let Some(m) = sub.next().await {
                seq += 1;
                tokio::time::sleep(Duration::from_millis(1200)).await;
                let ack = format!(r#"{{"stream":"S","seq":{seq}}}"#);
                client
                    .publish(m.reply.unwrap().to_string(), ack)
                    .await
                    .unwrap();
            }
        }
    });
    let held = js
        .publish_async("slow", "x")
        .timeout(Duration::from_secs(10))
        .await
        .unwrap();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), js.publish_async_complete())
        .await
        .expect("complete hung")
        .expect("complete gave up before the ack came");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1000) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    assert_eq!(js.publish_async_pending(), 0);
    assert_eq!(held.await.unwrap().sequence, 1);
}

#[tokio::test]
async fn a_full_window_fails_at_once_when_so_configured() {
    let server = Server::new().start();
    let client = connect(&server).await;
    let _silent = silent(&client, "quiet").await;
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            max_pending_acks: 2,
            fail_when_window_full: true,
            ..Default::default()
        },
    );
    let first = js.publish_async("quiet", "1").await.unwrap();
    let _second = js.publish_async("quiet", "2").await.unwrap();
    let started = Instant::now();
    let err = js.publish_async("quiet", "3").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooManyPendingAcks);
    assert!(started.elapsed() < Duration::from_secs(1), "it waited");
    assert_eq!(js.publish_async_pending(), 2);
    // A slot freed: the next one goes.
    drop(first);
    let _third = js.publish_async("quiet", "3").await.unwrap();

    // By default a full window waits (here until the context's timeout).
    let waiting = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            max_pending_acks: 1,
            timeout: Duration::from_millis(300),
            ..Default::default()
        },
    );
    // (Its own deadline is later: a request frees its slot at its deadline.)
    let _held = waiting
        .publish_async("quiet", "1")
        .timeout(Duration::from_secs(10))
        .await
        .unwrap();
    let started = Instant::now();
    let err = waiting.publish_async("quiet", "2").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn an_unanswered_publish_frees_its_window_slot_at_its_deadline_awaited_or_not() {
    let server = Server::new().start();
    let client = connect(&server).await;
    let _silent = silent(&client, "quiet").await;
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            max_pending_acks: 1,
            timeout: Duration::from_millis(300),
            ..Default::default()
        },
    );
    // Never polled until the end: its slot is still freed at its deadline.
    let held = js.publish_async("quiet", "1").await.unwrap();
    let started = Instant::now();
    let next = js
        .publish_async("quiet", "2")
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
        "the slot came free after {waited:?}"
    );
    let err = held.await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        err.to_string().contains("no ack for the publish to quiet"),
        "{err}"
    );
    drop(next);
}

#[tokio::test]
async fn the_raw_api_request_uses_the_domain_and_maps_errors() {
    let server = Server::jetstream().jetstream_domain("hub").start();
    let client = connect(&server).await;
    let js = jetstream::with_domain(client.clone(), "hub");
    raw_create_stream(&client, stream("R", &["r.>"])).await;
    js.publish("r.1", "x").await.unwrap();

    let info: StreamInfo = js.request("STREAM.INFO.R", &()).await.unwrap();
    assert_eq!(info.config.name, "R");
    assert_eq!(info.state.messages, 1);
    let names: serde_json::Value = js
        .request("STREAM.NAMES", &json!({ "subject": "r.1" }))
        .await
        .unwrap();
    assert_eq!(names["streams"], json!(["R"]));

    let err = js
        .request::<serde_json::Value>("STREAM.INFO.NOPE", &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);
    assert_eq!(err.api_error().unwrap().err_code.0, 10059);

    let err = js
        .request::<serde_json::Value>("$JS.API.INFO", &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSubject);

    // Another domain: nobody answers there.
    let elsewhere = jetstream::with_domain(client.clone(), "elsewhere");
    let err = elsewhere
        .request::<serde_json::Value>("INFO", &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStreamNotEnabled);
}

#[tokio::test]
async fn the_raw_api_request_uses_the_prefix_and_the_timeout() {
    let server = Server::new().start();
    let client = connect(&server).await;
    let mut sub = silent(&client, "CUSTOM.API.>").await;
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            api_prefix: "CUSTOM.API".into(),
            timeout: Duration::from_millis(300),
            ..Default::default()
        },
    );
    let started = Instant::now();
    let err = js
        .request::<serde_json::Value>("STREAM.INFO.X", &json!({ "offset": 5 }))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    let got = tokio::time::timeout(Duration::from_secs(2), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.subject.as_str(), "CUSTOM.API.STREAM.INFO.X");
    assert_eq!(&got.payload[..], br#"{"offset":5}"#);

    // A unit payload sends an empty body.
    let _ = js.request::<serde_json::Value>("INFO", &()).await;
    let got = tokio::time::timeout(Duration::from_secs(2), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.subject.as_str(), "CUSTOM.API.INFO");
    assert!(got.payload.is_empty());
}

#[tokio::test]
async fn every_outcome_is_reported_once_through_a_server_restart() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    let mut server = Server::jetstream().start();
    let client = connect(&server).await;
    let acks = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            timeout: Duration::from_secs(2),
            publish_async_ack_handler: Some(PublishAckHandler::new({
                let acks = acks.clone();
                move |_, _, _| {
                    acks.fetch_add(1, Ordering::SeqCst);
                }
            })),
            publish_async_error_handler: Some(PublishErrorHandler::new({
                let errors = errors.clone();
                move |_, _, _| {
                    errors.fetch_add(1, Ordering::SeqCst);
                }
            })),
            ..Default::default()
        },
    );
    raw_create_stream(
        &client,
        json!({"name": "RS", "subjects": ["rs"], "storage": "file"}),
    )
    .await;
    let publisher = {
        let js = js.clone();
        tokio::spawn(async move {
            let mut sent = 0usize;
            for i in 0..20_000u32 {
                // Fire and forget: the handlers are the only ones to see the outcome.
                match js.publish_async("rs", i.to_be_bytes().to_vec()).await {
                    Ok(future) => {
                        sent += 1;
                        drop(future);
                    }
                    Err(_) => break,
                }
            }
            sent
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.restart();
    let sent = tokio::time::timeout(Duration::from_secs(30), publisher)
        .await
        .expect("publishing hung")
        .unwrap();
    tokio::time::timeout(Duration::from_secs(15), js.publish_async_complete())
        .await
        .expect("complete hung")
        .unwrap();
    assert!(sent > 0);
    let (acked, failed) = (acks.load(Ordering::SeqCst), errors.load(Ordering::SeqCst));
    assert_eq!(acked + failed, sent, "acked {acked}, failed {failed}");
    assert_eq!(js.publish_async_pending(), 0);
}

/// Polls `subject`'s last message in `stream` until one with a sequence above
/// `after` is there, for at most `bound`.
async fn next_fired(
    stream: &jetstream::Stream,
    subject: &str,
    after: u64,
    bound: Duration,
) -> jetstream::StoredMessage {
    let deadline = Instant::now() + bound;
    loop {
        match stream.get_last_msg_for_subject(subject).await {
            Ok(msg) if msg.sequence > after => return msg,
            Ok(_) => {}
            Err(e) => assert_eq!(e.kind(), ErrorKind::MessageNotFound, "{e}"),
        }
        assert!(
            Instant::now() < deadline,
            "nothing fired on {subject} within {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn schedules_fire_on_their_target_and_bad_ones_are_refused_before_sending() {
    use jetstream::{Schedule, StreamConfig};

    let server = Server::jetstream().start();
    let js = jetstream::new(connect(&server).await);
    let stream = js
        .create_stream(StreamConfig {
            name: "JOBS".into(),
            subjects: vec!["jobs.>".into()],
            allow_msg_schedules: true,
            allow_msg_ttl: true,
            storage: jetstream::StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();

    // Once, a second from now.
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    js.publish("jobs.schedule.once", "once")
        .schedule(Schedule::At(at))
        .schedule_target("jobs.run.once")
        .await
        .unwrap();
    let fired = next_fired(&stream, "jobs.run.once", 0, Duration::from_secs(10)).await;
    assert_eq!(&fired.payload[..], b"once");

    // Every second: it fires again and again.
    js.publish("jobs.schedule.every", "tick")
        .schedule(Schedule::Every(Duration::from_secs(1)))
        .schedule_target("jobs.run.every")
        .schedule_ttl_never()
        .await
        .unwrap();
    let first = next_fired(&stream, "jobs.run.every", 0, Duration::from_secs(10)).await;
    let second = next_fired(
        &stream,
        "jobs.run.every",
        first.sequence,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(&second.payload[..], b"tick");

    // Cron, every second, in a named time zone.
    js.publish("jobs.schedule.cron", "cron")
        .schedule(Schedule::Cron("* * * * * *".into()))
        .schedule_time_zone("Europe/Amsterdam")
        .schedule_target("jobs.run.cron")
        .await
        .unwrap();
    next_fired(&stream, "jobs.run.cron", 0, Duration::from_secs(10)).await;

    // Refused by the client: nothing reaches the stream.
    let cases = [
        (
            js.publish("jobs.schedule.bad", "x")
                .schedule(Schedule::Every(Duration::from_millis(500)))
                .schedule_target("jobs.run.bad")
                .await
                .unwrap_err(),
            ErrorKind::InvalidArgument,
        ),
        (
            js.publish("jobs.schedule.bad", "x")
                .schedule(Schedule::hourly())
                .schedule_target("jobs.run.*")
                .await
                .unwrap_err(),
            ErrorKind::InvalidSubject,
        ),
        (
            js.publish_async("jobs.schedule.bad", "x")
                .schedule(Schedule::Cron(String::new()))
                .schedule_target("jobs.run.bad")
                .await
                .unwrap_err(),
            ErrorKind::InvalidArgument,
        ),
        (
            js.publish("jobs.schedule.bad", "x")
                .schedule(Schedule::daily())
                .schedule_target("jobs.run.bad")
                .schedule_ttl(Duration::from_millis(1))
                .await
                .unwrap_err(),
            ErrorKind::InvalidArgument,
        ),
    ];
    for (err, kind) in cases {
        assert_eq!(err.kind(), kind, "{err}");
    }
    // None of the refused ones was stored.
    let refused = stream.get_last_msg_for_subject("jobs.schedule.bad").await;
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::MessageNotFound);

    // A stream without allow_msg_schedules refuses the schedule: the server says so.
    js.create_stream(StreamConfig {
        name: "PLAIN".into(),
        subjects: vec!["plain.>".into()],
        storage: jetstream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    let err = js
        .publish("plain.schedule", "x")
        .schedule(Schedule::hourly())
        .schedule_target("plain.run")
        .await
        .unwrap_err();
    assert!(err.api_error().is_some(), "{err}");
}

#[tokio::test]
async fn an_ack_future_gives_back_the_message_it_published() {
    let server = Server::jetstream().start();
    let client = connect(&server).await;
    let (handler, _reported) = error_collector();
    let plain = jetstream::new(client.clone());
    let with_handler = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            publish_async_error_handler: Some(handler),
            ..Default::default()
        },
    );
    raw_create_stream(&client, stream("M", &["m.>"])).await;

    for (i, js) in [plain, with_handler].into_iter().enumerate() {
        let id = format!("id-{i}");
        let ack_future = js
            .publish_async("m.one", format!("payload {i}"))
            .header("X-Kind", "test")
            .msg_id(&id)
            .await
            .unwrap();
        let message = ack_future.message();
        assert_eq!(message.subject.as_str(), "m.one");
        assert_eq!(message.payload, format!("payload {i}").as_bytes());
        let headers = message.headers.as_ref().unwrap();
        assert_eq!(headers.get("X-Kind"), Some("test"));
        assert_eq!(headers.get("Nats-Msg-Id"), Some(id.as_str()));
        assert_eq!(ack_future.headers(), Some(headers));
        let first = ack_future.await.unwrap();
        assert!(!first.duplicate);
        // Published again as it was: the stream recognises the message id.
        let again = js.publish_message(message).await.unwrap();
        assert!(again.duplicate);
        assert_eq!(again.sequence, first.sequence);
    }

    // Without headers, none are made up.
    let ack_future = jetstream::new(client)
        .publish_async("m.two", "bare")
        .await
        .unwrap();
    assert!(ack_future.message().headers.is_none());
    ack_future.await.unwrap();
}

#[tokio::test]
async fn the_client_trace_sees_every_api_request_and_its_reply() {
    use jetstream::ClientTrace;

    type Seen = Arc<Mutex<Vec<(String, String)>>>;
    let server = Server::jetstream().start();
    let client = connect(&server).await;
    let sent: Seen = Arc::default();
    let received: Seen = Arc::default();
    let trace = ClientTrace::new()
        .on_request_sent({
            let sent = sent.clone();
            move |subject, payload| {
                let body = String::from_utf8_lossy(payload).into_owned();
                sent.lock().unwrap().push((subject.to_owned(), body));
            }
        })
        .on_response_received({
            let received = received.clone();
            move |subject, payload, _headers| {
                let body = String::from_utf8_lossy(payload).into_owned();
                received.lock().unwrap().push((subject.to_owned(), body));
            }
        });
    let js = jetstream::with_options(
        client,
        JetStreamOptions {
            client_trace: Some(trace),
            ..Default::default()
        },
    );

    js.account_info().await.unwrap();
    js.create_stream(jetstream::StreamConfig {
        name: "T".into(),
        subjects: vec!["t".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let err = js.stream("MISSING").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);
    // Publishes are not API requests.
    js.publish("t", "x").await.unwrap();

    let sent = sent.lock().unwrap().clone();
    let received = received.lock().unwrap().clone();
    let subjects: Vec<&str> = sent.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "$JS.API.INFO",
            "$JS.API.STREAM.CREATE.T",
            "$JS.API.STREAM.INFO.MISSING"
        ]
    );
    assert!(sent[1].1.contains(r#""name":"T""#), "{}", sent[1].1);
    assert_eq!(received.len(), 3);
    assert!(
        received[0].1.contains("account_info_response"),
        "{}",
        received[0].1
    );
    assert!(
        received[1].1.contains("stream_create_response"),
        "{}",
        received[1].1
    );
    // The refusal is traced as it came, before it became an error.
    assert!(received[2].1.contains("10059"), "{}", received[2].1);
    for ((a, _), (b, _)) in sent.iter().zip(&received) {
        assert_eq!(a, b);
    }
}
