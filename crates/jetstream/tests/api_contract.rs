//! The public API contract of ../shared/API.md, checked by the compiler: names,
//! call shapes, and the Send/Sync/Clone/Unpin bounds. The async functions here
//! are only type-checked, never run (they would need a server).
#![allow(dead_code, clippy::unwrap_used, unused_must_use)]

use std::future::IntoFuture;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

fn send<T: Send>() {}
fn sync<T: Sync>() {}
fn handle<T: Clone + Send + Sync + 'static>() {}
fn stream_item<S: futures_core::Stream + Unpin + Send>() {}

#[test]
fn handles_streams_and_futures_have_the_promised_bounds() {
    handle::<nats_core::Client>();
    handle::<jetstream::JetStream>();
    handle::<jetstream::Stream>();
    handle::<jetstream::Consumer>();
    handle::<jetstream::OrderedConsumer>();
    handle::<jetstream::KeyValue>();
    handle::<jetstream::ObjectStore>();
    stream_item::<nats_core::Subscriber>();
    stream_item::<jetstream::MessageBatch>();
    stream_item::<jetstream::Messages>();
    stream_item::<jetstream::StreamList>();
    stream_item::<jetstream::StreamNames>();
    stream_item::<jetstream::ConsumerList>();
    stream_item::<jetstream::ConsumerNames>();
    stream_item::<jetstream::KeyValueNames>();
    stream_item::<jetstream::ObjectStoreNames>();
    stream_item::<jetstream::kv::Watcher>();
    stream_item::<jetstream::kv::Keys>();
    stream_item::<jetstream::ObjectWatcher>();
    send::<jetstream::Publish>();
    send::<jetstream::PublishAsync>();
    send::<jetstream::PubAckFuture>();
    send::<jetstream::Fetch>();
    send::<jetstream::MessagesBuilder>();
    send::<jetstream::ConsumeContext>();
    send::<jetstream::Object>();
    send::<jetstream::Msg>();
    sync::<jetstream::Error>();
    sync::<nats_core::Error>();
}

#[test]
fn configs_build_with_struct_literals_and_defaults() {
    let _ = jetstream::JetStreamOptions {
        api_prefix: "$JS.API".into(),
        domain: None,
        timeout: Duration::from_secs(5),
        max_pending_acks: 4000,
        ..Default::default()
    };
    let _ = jetstream::StreamConfig {
        name: "S".into(),
        subjects: vec!["s.>".into()],
        max_age: Duration::from_secs(60),
        storage: jetstream::StorageType::Memory,
        retention: jetstream::RetentionPolicy::WorkQueue,
        discard: jetstream::DiscardPolicy::New,
        compression: jetstream::Compression::S2,
        ..Default::default()
    };
    let _ = jetstream::ConsumerConfig {
        durable_name: Some("d".into()),
        deliver_policy: jetstream::DeliverPolicy::ByStartSequence { start_sequence: 5 },
        ack_policy: jetstream::AckPolicy::Explicit,
        replay_policy: jetstream::ReplayPolicy::Instant,
        inactive_threshold: Some(Duration::from_secs(5)),
        ..Default::default()
    };
    let _ = jetstream::OrderedConsumerConfig {
        filter_subjects: vec![],
        deliver_policy: jetstream::DeliverPolicy::LastPerSubject,
        replay_policy: jetstream::ReplayPolicy::Original,
        inactive_threshold: None,
        headers_only: false,
        max_reset_attempts: Some(3),
        name_prefix: None,
        metadata: Default::default(),
    };
    let _ = jetstream::KeyValueConfig {
        bucket: "b".into(),
        history: 5,
        ttl: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let _ = jetstream::ObjectStoreConfig {
        bucket: "o".into(),
        ..Default::default()
    };
    let meta: jetstream::ObjectMeta = "name".into();
    let _ = jetstream::ObjectMeta {
        chunk_size: Some(1024),
        ..meta
    };
    assert_eq!(
        jetstream::AckPolicy::default(),
        jetstream::AckPolicy::Explicit
    );
}

async fn core_calls() -> Result<(), nats_core::Error> {
    let client = nats_core::ConnectOptions::new()
        .name("n")
        .user_and_password("u", "p")
        .connection_timeout(Duration::from_secs(1))
        .ping_interval(Duration::from_secs(1))
        .max_reconnects(Some(3))
        .reconnect_buffer_size(1024)
        .subscription_capacity(10)
        .no_echo()
        .inbox_prefix("_I")
        .request_timeout(Some(Duration::from_secs(1)))
        .retry_on_initial_connect()
        .event_callback(|event: nats_core::Event| async move {
            let _ = event;
        })
        .connect(nats_core::DEFAULT_URL)
        .await?;
    let _ = nats_core::connect(vec!["a:1", "b:2"]).await;
    let _ = nats_core::connect(["a:1"]).await;
    client.publish("s", "x").await?;
    client.publish("s", String::from("x")).await?;
    client.publish(String::from("s"), vec![1u8]).await?;
    client.publish(&String::from("s"), Bytes::new()).await?;
    let mut headers = nats_core::HeaderMap::new();
    headers.insert("a", "b");
    headers.append("a", "c");
    let _: Option<&str> = headers.get("a");
    let _: usize = headers.get_all("a").count() + headers.iter().count() + headers.len();
    client
        .publish_with_headers("s", headers.clone(), "x")
        .await?;
    client.publish_with_reply("s", "r", "x").await?;
    let reply: nats_core::Message = client.request("s", "x").await?;
    let _: &str = &reply.subject;
    let _ = (
        reply.reply,
        reply.payload,
        reply.headers,
        reply.status,
        reply.description,
        reply.length,
    );
    client.request_with_headers("s", headers, "x").await?;
    let mut sub = client.subscribe("s").await?;
    let _ = sub.next().await;
    sub.unsubscribe_after(3).await?;
    sub.drain().await?;
    sub.unsubscribe().await?;
    let _q = client.queue_subscribe("s", "q").await?;
    client.flush().await?;
    let _: String = client.new_inbox();
    let _ = client.server_info();
    let _: nats_core::State = client.connection_state();
    let _ = client.statistics();
    client.drain().await?;
    let _ = nats_core::ErrorKind::MaxPayloadExceeded;
    Ok(())
}

async fn jetstream_calls(client: nats_core::Client) -> Result<(), jetstream::Error> {
    let js = jetstream::new(client.clone());
    let _ = jetstream::with_domain(client.clone(), "hub");
    let _ = jetstream::with_options(client, jetstream::JetStreamOptions::default());
    let stream = js.create_stream(jetstream::StreamConfig::default()).await?;
    js.update_stream(jetstream::StreamConfig::default()).await?;
    js.create_or_update_stream(jetstream::StreamConfig::default())
        .await?;
    js.stream("S").await?;
    js.delete_stream("S").await?;
    let _ = js.list_streams().subject("s.>").next().await;
    let _ = js.stream_names().subject("s.>").next().await;
    let _: String = js.stream_name_by_subject("s").await?;
    let _ = js.account_info().await?;
    let consumer = js
        .create_consumer("S", jetstream::ConsumerConfig::default())
        .await?;
    js.create_or_update_consumer("S", jetstream::ConsumerConfig::default())
        .await?;
    js.update_consumer("S", jetstream::ConsumerConfig::default())
        .await?;
    js.consumer("S", "c").await?;
    js.delete_consumer("S", "c").await?;
    let ordered = js
        .ordered_consumer("S", jetstream::OrderedConsumerConfig::default())
        .await?;
    let ack: jetstream::PubAck = js
        .publish("s", "x")
        .headers(nats_core::HeaderMap::new())
        .header("k", "v")
        .msg_id("id")
        .expected_stream("S")
        .expected_last_sequence(1)
        .expected_last_subject_sequence(1)
        .expected_last_msg_id("id")
        .ttl(Duration::from_secs(1))
        .retry_attempts(1)
        .retry_wait(Duration::from_millis(1))
        .await?;
    let _ = (ack.stream, ack.sequence, ack.duplicate, ack.domain);
    let fut: jetstream::PubAckFuture = js.publish_async("s", "x").msg_id("i").await?;
    drop(tokio::spawn(js.publish("s", "x").into_future()));
    let _ = futures_util::future::join_all(vec![fut]).await;
    let _: usize = js.publish_async_pending();
    js.publish_async_complete().await?;

    let _ = stream.info().await?;
    let _: std::sync::Arc<jetstream::StreamInfo> = stream.cached_info();
    let _: u64 = stream.purge().subject("s").keep(1).await?;
    let _: u64 = stream.purge().sequence(10).await?;
    let m: jetstream::StoredMessage = stream.get_msg(1).await?;
    let _ = (m.subject, m.sequence, m.headers, m.payload, m.time);
    stream.get_last_msg_for_subject("s").await?;
    stream.delete_msg(1).await?;
    stream.secure_delete_msg(1).await?;
    stream
        .create_consumer(jetstream::ConsumerConfig::default())
        .await?;
    stream.consumer("c").await?;
    stream.delete_consumer("c").await?;
    stream
        .ordered_consumer(jetstream::OrderedConsumerConfig::default())
        .await?;
    let _ = stream.list_consumers().next().await;
    let _ = stream.consumer_names().next().await;

    let _ = consumer.info().await?;
    let _ = consumer.cached_info();
    let mut batch = consumer
        .fetch(10)
        .max_wait(Duration::from_secs(1))
        .heartbeat(Duration::from_millis(100))
        .await?;
    while let Some(msg) = batch.next().await {
        let msg: jetstream::Msg = msg?;
        let _: &str = msg.subject();
        let _: &Bytes = msg.data();
        let _ = (msg.headers(), msg.reply());
        let meta: jetstream::MsgMetadata = msg.metadata()?;
        let _ = (
            meta.sequence.stream,
            meta.sequence.consumer,
            meta.num_delivered,
        );
        let _ = (
            meta.num_pending,
            meta.timestamp,
            meta.stream,
            meta.consumer,
            meta.domain,
        );
        msg.ack().await?;
        msg.double_ack().await?;
        msg.nak().await?;
        msg.nak_with_delay(Duration::from_secs(1)).await?;
        msg.in_progress().await?;
        msg.term().await?;
        msg.term_with_reason("r").await?;
    }
    consumer.fetch_bytes(1024).await?;
    consumer.fetch_no_wait(5).await?;
    let _: jetstream::Msg = consumer.next().await?;
    let ctx: jetstream::ConsumeContext = consumer
        .consume(|msg: jetstream::Msg| async move {
            let _ = msg.ack().await;
        })
        .max_messages(10)
        .expiry(Duration::from_secs(5))
        .threshold_messages(5)
        .heartbeat(Duration::from_secs(1))
        .error_handler(|err: jetstream::Error| {
            let _ = err.kind();
        })
        .await?;
    ctx.stop();
    ctx.drain().await;
    ctx.closed().await;
    let mut messages = consumer
        .messages()
        .max_bytes(1024)
        .threshold_bytes(512)
        .await?;
    let _ = messages.next().await;
    messages.stop();
    messages.drain().await;
    ordered.fetch(1).await?;
    let _ = ordered.messages().await?;
    let _ = ordered.next().await?;
    ordered.consume(|_m| async {}).await?;

    let kv = js
        .create_key_value(jetstream::KeyValueConfig::default())
        .await?;
    js.update_key_value(jetstream::KeyValueConfig::default())
        .await?;
    js.create_or_update_key_value(jetstream::KeyValueConfig::default())
        .await?;
    js.key_value("b").await?;
    js.delete_key_value("b").await?;
    let _ = js.key_value_store_names().next().await;
    let _: &str = kv.bucket();
    let e: jetstream::Entry = kv.get("k").await?;
    let _ = (
        e.bucket(),
        e.key(),
        e.value(),
        e.revision(),
        e.created(),
        e.delta(),
    );
    let _: jetstream::Operation = e.operation();
    kv.get_revision("k", 1).await?;
    let _: u64 = kv.put("k", "v").await?;
    let _: u64 = kv.create("k", "v").await?;
    let _: u64 = kv.update("k", "v", 1).await?;
    kv.delete("k").last_revision(1).await?;
    kv.purge("k").last_revision(1).await?;
    kv.purge_all().await?;
    kv.purge_deletes().older_than(Duration::ZERO).await?;
    let mut w = kv
        .watch("k.*")
        .include_history()
        .ignore_deletes()
        .meta_only()
        .resume_from_revision(1)
        .await?;
    let _: Option<Result<Option<jetstream::Entry>, jetstream::Error>> = w.next().await;
    kv.watch_all().updates_only().await?;
    kv.watch_filtered(["a", "b"]).await?;
    let _: Vec<String> = kv.keys().await?;
    let _ = kv.list_keys().await?.next().await;
    let _: Vec<jetstream::Entry> = kv.history("k").await?;
    let st: jetstream::KeyValueStatus = kv.status().await?;
    let _ = (st.bucket(), st.values(), st.history(), st.ttl(), st.bytes());
    let _ = (st.backing_store(), st.is_compressed());

    let os = js
        .create_object_store(jetstream::ObjectStoreConfig::default())
        .await?;
    js.update_object_store(jetstream::ObjectStoreConfig::default())
        .await?;
    js.create_or_update_object_store(jetstream::ObjectStoreConfig::default())
        .await?;
    js.object_store("o").await?;
    js.delete_object_store("o").await?;
    let _ = js.object_store_names().next().await;
    let _: &str = os.bucket();
    let info: jetstream::ObjectInfo = os.put("name", &b"data"[..]).await?;
    let _ = (
        &info.name,
        &info.description,
        &info.bucket,
        &info.nuid,
        info.size,
        info.chunks,
    );
    let _ = (info.modified, &info.digest, info.deleted, &info.link);
    os.put(jetstream::ObjectMeta::from("n"), tokio::io::empty())
        .await?;
    os.put_bytes("n", Bytes::new()).await?;
    os.put_string("n", "s").await?;
    os.put_file("/tmp/x").await?;
    let mut object: jetstream::Object = os.get("n").await?;
    let _: &jetstream::ObjectInfo = object.info();
    let mut buf = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut object, &mut buf)
        .await
        .unwrap();
    let _: Bytes = os.get_bytes("n").await?;
    let _: String = os.get_string("n").await?;
    os.get_file("n", "/tmp/y").await?;
    os.info("n").await?;
    os.info_with_deleted("n").await?;
    os.update_meta("n", jetstream::ObjectMeta::default())
        .await?;
    os.delete("n").await?;
    os.add_link("l", &info).await?;
    os.add_bucket_link("bl", &os).await?;
    os.seal().await?;
    let mut ow = os
        .watch()
        .include_history()
        .ignore_deletes()
        .updates_only()
        .await?;
    let _: Option<Result<Option<jetstream::ObjectInfo>, jetstream::Error>> = ow.next().await;
    let _: Vec<jetstream::ObjectInfo> = os.list().await?;
    let s = os.status().await?;
    let _ = (
        s.bucket(),
        s.description(),
        s.ttl(),
        s.storage(),
        s.replicas(),
        s.sealed(),
    );
    let _ = (s.size(), s.backing_store(), s.metadata(), s.is_compressed());
    Ok(())
}

#[test]
fn error_kinds_from_the_contract_exist() {
    use jetstream::ErrorKind::*;
    let kinds = [
        Timeout,
        NoResponders,
        JetStreamNotEnabled,
        StreamNotFound,
        StreamNameInUse,
        ConsumerNotFound,
        ConsumerExists,
        MessageNotFound,
        WrongLastSequence,
        WrongLastMsgId,
        StreamMismatch,
        InvalidName,
        InvalidSubject,
        InvalidKey,
        InvalidConfig,
        BucketNotFound,
        BucketExists,
        KeyNotFound,
        KeyExists,
        WrongLastRevision,
        ObjectNotFound,
        ObjectExists,
        DigestMismatch,
        BucketSealed,
        AlreadyAcked,
        HeartbeatMissed,
        ConsumerDeleted,
        ConnectionClosed,
        Api,
        Io,
    ];
    assert_eq!(kinds.len(), 30);
    let _ = (core_calls, jetstream_calls);
}
