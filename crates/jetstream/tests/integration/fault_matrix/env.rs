//! The environment of one row: a server (or a 3-node cluster), a fault
//! proxy, the client under test with short timeouts, an admin client that
//! sets things up and publishes, and the faults themselves.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jetstream::{
    ConsumerConfig, ErrorKind, JetStream, JetStreamOptions, KeyValue, KeyValueConfig, ObjectStore,
    ObjectStoreConfig, StorageType, StreamConfig,
};
use nats_core::{Client, ConnectOptions};
use nats_testkit::{Cluster, Direction, FaultProxy, Server};

use super::table::{Fault, Op};

/// The JetStream context timeout of both clients.
pub(crate) const JS_TIMEOUT: Duration = Duration::from_secs(1);
/// Idle heartbeat of every pull (the shortest allowed).
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(500);
/// Pull expiry of `messages()`/`consume()` and `max_wait` of fetches.
pub(crate) const EXPIRY: Duration = Duration::from_secs(2);
/// How long freeze and stall last.
const OUTAGE: Duration = Duration::from_secs(3);
/// How long a restarting server stays down.
const DOWNTIME: Duration = Duration::from_millis(1500);
/// How long the clients may take to be back after a fault healed.
const SETTLE: Duration = Duration::from_secs(15);

pub(crate) const STREAM: &str = "FM";
pub(crate) const BUCKET: &str = "fm";
pub(crate) const OBJECTS: &str = "fmo";

/// Users of the permission row: `admin` may do anything; `app` may read
/// stream and consumer info, ack and receive replies, nothing else.
const USERS: &str = r#"
authorization {
  users: [
    { user: admin, password: admin }
    { user: app, password: app, permissions: {
        publish: { allow: ["$JS.API.INFO", "$JS.API.STREAM.INFO.>", "$JS.API.CONSUMER.INFO.>", "$JS.ACK.>", "_INBOX.>"] }
    } }
  ]
}
"#;

/// Handles of the client under test, made before the fault.
#[derive(Clone, Debug)]
pub(crate) struct Handles {
    pub js: JetStream,
    pub stream: jetstream::Stream,
    pub kv: KeyValue,
    pub store: ObjectStore,
}

/// One row's world.
#[derive(Debug)]
pub(crate) struct Env {
    server: Option<Server>,
    cluster: Option<Cluster>,
    proxy: Option<FaultProxy>,
    pub admin: JetStream,
    pub admin_kv: KeyValue,
    pub admin_store: ObjectStore,
    pub h: Handles,
    responder: tokio::task::JoinHandle<()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.responder.abort();
    }
}

/// The options of the client under test: pings every 500 ms (a silent
/// connection is replaced after about 1.5 s), 1 s connect and request
/// timeouts, reconnect attempts 100 ms apart.
fn test_options() -> ConnectOptions {
    ConnectOptions::new()
        .ping_interval(Duration::from_millis(500))
        .connection_timeout(Duration::from_secs(1))
        .request_timeout(Some(JS_TIMEOUT))
        .reconnect_delay_callback(|_| Duration::from_millis(100))
}

fn context(client: Client) -> JetStream {
    jetstream::with_options(
        client,
        JetStreamOptions {
            timeout: JS_TIMEOUT,
            ..Default::default()
        },
    )
}

impl Env {
    /// Starts the servers and sets up the stream (subjects `fm.>`), one
    /// durable consumer per durable operation, the KV bucket and the object
    /// store, and a responder for core requests on `svc.echo`.
    pub(crate) async fn start(fault: Fault) -> Env {
        let (server, cluster, proxy) = match fault {
            Fault::LeaderChange => (None, Some(Cluster::new(3)), None),
            Fault::PermissionDenied => {
                let server = Server::jetstream().config(USERS).start();
                let proxy = FaultProxy::for_server(&server);
                (Some(server), None, Some(proxy))
            }
            _ => {
                let server = Server::jetstream().start();
                let proxy = FaultProxy::for_server(&server);
                (Some(server), None, Some(proxy))
            }
        };
        let (direct, under_test): (Vec<String>, Vec<String>) = match (&cluster, &proxy) {
            (Some(c), _) => (c.urls(), c.urls()),
            (None, Some(p)) => {
                let s = server.as_ref().expect("a server");
                (vec![s.url()], vec![p.url()])
            }
            _ => unreachable!(),
        };
        let (admin_opts, test_opts) = if fault == Fault::PermissionDenied {
            (
                ConnectOptions::new().user_and_password("admin", "admin"),
                test_options().user_and_password("app", "app"),
            )
        } else {
            (ConnectOptions::new(), test_options())
        };
        let admin_client = admin_opts
            .reconnect_delay_callback(|_| Duration::from_millis(100))
            .connect(direct)
            .await
            .unwrap();
        let admin = context(admin_client.clone());
        let replicas = if cluster.is_some() { 3 } else { 1 };
        let (admin_stream, admin_kv, admin_store) = create_resources(&admin, replicas).await;
        for op in [Op::Fetch, Op::Next, Op::Messages, Op::Consume] {
            admin_stream
                .create_consumer(ConsumerConfig {
                    durable_name: Some(op.name().into()),
                    filter_subject: Some(format!("fm.{}", op.name())),
                    ack_wait: Duration::from_secs(2),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        admin_kv.put("k", "v").await.unwrap();
        // A new replicated store's subjects may not have reached the admin's node yet: its
        // first chunk then finds no stream (no responders) until they have.
        let start = Instant::now();
        while let Err(e) = admin_store.put_bytes("seed", seed()).await {
            assert!(
                e.kind() == ErrorKind::NoResponders && start.elapsed() < SETTLE,
                "put the seed object: {e}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let responder = tokio::spawn(respond(admin_client));

        let js = context(test_opts.connect(under_test).await.unwrap());
        let h = Handles {
            stream: js.stream(STREAM).await.unwrap(),
            kv: js.key_value(BUCKET).await.unwrap(),
            store: js.object_store(OBJECTS).await.unwrap(),
            js,
        };
        Env {
            server,
            cluster,
            proxy,
            admin,
            admin_kv,
            admin_store,
            h,
            responder,
        }
    }

    /// Injects `fault`, calls `during` (which issues the one-shot
    /// operations), keeps the fault up for its duration and heals it.
    /// Returns when the fault was injected.
    pub(crate) async fn fault(&mut self, fault: Fault, during: impl FnOnce()) -> Instant {
        // Reports may come while the fault is being injected (a deleted
        // consumer's waiting pulls are told at once).
        let at = Instant::now();
        match fault {
            Fault::Restart => {
                let server = self.server.as_mut().expect("a server");
                tokio::task::block_in_place(|| server.shutdown());
                during();
                tokio::time::sleep(DOWNTIME).await;
                tokio::task::block_in_place(|| server.start());
            }
            Fault::Freeze => {
                let frozen = self.server.as_ref().expect("a server").freeze();
                during();
                tokio::time::sleep(OUTAGE).await;
                frozen.thaw();
            }
            Fault::Stall => {
                let proxy = self.proxy.as_ref().expect("a proxy");
                proxy.stall(Direction::Both);
                during();
                tokio::time::sleep(OUTAGE).await;
                proxy.resume();
            }
            Fault::Reset => {
                self.proxy.as_ref().expect("a proxy").reset();
                during();
            }
            Fault::ConsumerDeleted | Fault::ConsumerDeletedBacklog => {
                for stream in [
                    STREAM.to_string(),
                    format!("KV_{BUCKET}"),
                    format!("OBJ_{OBJECTS}"),
                ] {
                    let stream = self.admin.stream(&stream).await.unwrap();
                    let names: Vec<String> =
                        stream.consumer_names().map(|n| n.unwrap()).collect().await;
                    for name in names {
                        stream.delete_consumer(&name).await.unwrap();
                    }
                }
                during();
            }
            Fault::StreamDeleted => {
                self.admin.delete_stream(STREAM).await.unwrap();
                self.admin.delete_key_value(BUCKET).await.unwrap();
                self.admin.delete_object_store(OBJECTS).await.unwrap();
                during();
            }
            Fault::PermissionDenied => {
                during();
            }
            Fault::LeaderChange => {
                let streams = [
                    STREAM.to_string(),
                    format!("KV_{BUCKET}"),
                    format!("OBJ_{OBJECTS}"),
                ];
                let mut old = Vec::new();
                for stream in &streams {
                    old.push(self.leader(stream).await);
                    let subject = format!("$JS.API.STREAM.LEADER.STEPDOWN.{stream}");
                    let reply = self.admin.client().request(subject, "").await.unwrap();
                    let text = String::from_utf8_lossy(&reply.payload).into_owned();
                    assert!(text.contains("\"success\":true"), "stepdown: {text}");
                }
                during();
                let start = Instant::now();
                for (stream, old) in streams.iter().zip(old) {
                    while self.leader(stream).await == old {
                        assert!(start.elapsed() < SETTLE, "no new leader for {stream}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
        at
    }

    /// The current leader of `stream` (`None` while there is none).
    async fn leader(&self, stream: &str) -> Option<String> {
        let stream = self.admin.stream(stream).await.ok()?;
        stream.cached_info().cluster.as_ref()?.leader.clone()
    }

    /// Waits until both clients are connected and JetStream answers them.
    pub(crate) async fn settle(&self) {
        let start = Instant::now();
        for js in [&self.admin, &self.h.js] {
            while js.account_info().await.is_err() {
                assert!(start.elapsed() < SETTLE, "JetStream not back");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if self.cluster.is_some() {
            while self.admin.stream(STREAM).await.is_err() {
                assert!(start.elapsed() < SETTLE, "stream not back");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The stream, KV bucket and object store, created by the admin client
/// (retried: a new cluster may not know all its peers at once).
async fn create_resources(
    admin: &JetStream,
    replicas: usize,
) -> (jetstream::Stream, KeyValue, ObjectStore) {
    let start = Instant::now();
    let stream = loop {
        let created = admin
            .create_stream(StreamConfig {
                name: STREAM.into(),
                subjects: vec!["fm.>".into()],
                storage: StorageType::File,
                num_replicas: replicas,
                ..Default::default()
            })
            .await;
        match created {
            Ok(stream) => break stream,
            Err(e) => {
                assert!(start.elapsed() < SETTLE, "create stream: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let kv = admin
        .create_key_value(KeyValueConfig {
            bucket: BUCKET.into(),
            history: 64,
            storage: StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .unwrap();
    let store = admin
        .create_object_store(ObjectStoreConfig {
            bucket: OBJECTS.into(),
            storage: StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .unwrap();
    (stream, kv, store)
}

/// The content of the object `seed`.
pub(crate) fn seed() -> Vec<u8> {
    (0..2000u32).map(|i| (i % 251) as u8).collect()
}

/// Answers requests on `svc.echo` with their payload.
async fn respond(client: Client) {
    let Ok(mut sub) = client.subscribe("svc.echo").await else {
        return;
    };
    while let Some(m) = sub.next().await {
        if let Some(reply) = m.reply {
            let _ = client.publish(reply, m.payload).await;
        }
    }
}
