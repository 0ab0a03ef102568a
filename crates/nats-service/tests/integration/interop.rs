//! Interoperability with nats-py's `nats.micro` (PyPI `nats-py`, provisioned
//! into a virtual environment by the test kit; without Python or a package
//! index these tests fail with the test kit's message, they never skip).

use std::process::Stdio;
use std::time::Duration;

use futures_util::StreamExt;
use nats_service::{Discovery, Service, ServiceError};
use nats_testkit::python_with_nats_py;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::common::{echo, setup};

/// A Python client: discovers the Rust service `echo` with raw `$SRV`
/// requests, parses the answers with nats.micro's own types (`from_dict`),
/// calls the endpoints, then reads the statistics; prints one JSON line.
const PY_CLIENT: &str = r#"
import asyncio, json, sys
import nats
from nats.micro.service import ServicePing, ServiceInfo, ServiceStats
from nats.micro.request import ERROR_HEADER, ERROR_CODE_HEADER

async def main():
    nc = await nats.connect(sys.argv[1])
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish("$SRV.PING", b"", reply=inbox)
    pings = []
    try:
        while True:
            msg = await sub.next_msg(timeout=0.5)
            pings.append(ServicePing.from_dict(json.loads(msg.data)).to_dict())
    except nats.errors.TimeoutError:
        pass
    info_msg = await nc.request("$SRV.INFO.echo", b"", timeout=5)
    info = ServiceInfo.from_dict(json.loads(info_msg.data))
    echoed = await nc.request("echo", b"hello from python", timeout=5)
    failed = await nc.request("math.fail", b"", timeout=5)
    stats_msg = await nc.request("$SRV.STATS.echo." + info.id, b"", timeout=5)
    raw_stats = json.loads(stats_msg.data)
    stats = ServiceStats.from_dict(raw_stats)
    print(json.dumps({
        "pings": pings,
        "info": info.to_dict(),
        "echo": echoed.data.decode(),
        "error": {"code": failed.headers.get(ERROR_CODE_HEADER),
                  "description": failed.headers.get(ERROR_HEADER)},
        "stats": stats.to_dict(),
        "started_parsed": stats.started.isoformat(),
        "raw_started": raw_stats["started"],
    }))
    await nc.close()

asyncio.run(main())
"#;

/// A Python service `pyecho`: endpoint `echo` and, in group `grp` with queue
/// group `pyq`, endpoint `fail` raising a ServiceError. Prints `READY <id>`,
/// runs until stdin closes.
const PY_SERVICE: &str = r#"
import asyncio, sys
import nats
from nats.micro import add_service
from nats.micro.request import ServiceError

async def main():
    nc = await nats.connect(sys.argv[1])
    async def echo(req):
        await req.respond(req.data)
    async def fail(req):
        raise ServiceError("418", "teapot")
    svc = await add_service(nc, name="pyecho", version="2.0.0", description="python echo",
                            metadata={"lang": "python"})
    await svc.add_endpoint(name="echo", handler=echo, metadata={"e": "1"})
    grp = svc.add_group(name="grp", queue_group="pyq")
    await grp.add_endpoint(name="fail", handler=fail)
    await nc.flush()
    print("READY " + svc.id, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await svc.stop()
    await nc.close()

asyncio.run(main())
"#;

#[tokio::test]
async fn python_client_discovers_calls_and_reads_stats_of_a_rust_service() {
    let python = tokio::task::spawn_blocking(python_with_nats_py)
        .await
        .unwrap();
    let (server, client) = setup().await;
    let service = Service::builder(&client, "echo", "1.0.0")
        .description("rust echo")
        .metadata([("lang", "rust")])
        .stats_handler(|e| json!({"calls": e.num_requests}))
        .await
        .unwrap();
    let _echo = echo(
        service
            .endpoint("echo")
            .metadata([("kind", "echo")])
            .await
            .unwrap(),
    );
    let mut fail = service.group("math").endpoint("fail").await.unwrap();
    let _fail = tokio::spawn(async move {
        while let Some(request) = fail.next().await {
            request.respond_error(400, "bad math").await.unwrap();
        }
    });

    let child = Command::new(&python)
        .args(["-c", PY_CLIENT, &server.url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the Python client did not finish")
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(
        got["pings"],
        json!([{"type": "io.nats.micro.v1.ping_response", "id": service.id(), "name": "echo",
                "version": "1.0.0", "metadata": {"lang": "rust"}}])
    );
    assert_eq!(got["info"]["description"], "rust echo");
    assert_eq!(got["info"]["id"], service.id());
    assert_eq!(
        got["info"]["endpoints"],
        json!([{"name": "echo", "subject": "echo", "queue_group": "q", "metadata": {"kind": "echo"}},
               {"name": "fail", "subject": "math.fail", "queue_group": "q", "metadata": {}}])
    );
    assert_eq!(got["echo"], "hello from python");
    assert_eq!(
        got["error"],
        json!({"code": "400", "description": "bad math"})
    );
    let stats = &got["stats"];
    assert_eq!(stats["type"], "io.nats.micro.v1.stats_response");
    assert_eq!(stats["metadata"], json!({"lang": "rust"}));
    let endpoints = stats["endpoints"].as_array().unwrap();
    assert_eq!(endpoints[0]["num_requests"], 1);
    assert_eq!(endpoints[0]["num_errors"], 0);
    assert_eq!(endpoints[0]["data"], json!({"calls": 1}));
    assert_eq!(endpoints[1]["num_errors"], 1);
    assert_eq!(endpoints[1]["last_error"], "400:bad math");
    assert!(endpoints[0]["processing_time"].as_u64().unwrap() > 0);
    // Python parsed `started` (strptime "%Y-%m-%dT%H:%M:%S.%fZ") to the same instant.
    let raw: jiff::Timestamp = got["raw_started"].as_str().unwrap().parse().unwrap();
    let parsed: jiff::Timestamp = format!("{}Z", got["started_parsed"].as_str().unwrap())
        .parse()
        .unwrap();
    assert_eq!(raw, parsed);
}

#[tokio::test]
async fn rust_discovery_sees_and_calls_a_python_service() {
    let python = tokio::task::spawn_blocking(python_with_nats_py)
        .await
        .unwrap();
    let (server, client) = setup().await;
    let mut child = Command::new(&python)
        .args(["-c", PY_SERVICE, &server.url()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the Python service did not start")
        .unwrap()
        .expect("the Python service exited");
    let id = ready.strip_prefix("READY ").unwrap().to_string();

    let discovery = Discovery::new(&client).gather_timeout(Duration::from_millis(500));
    let pings = discovery.ping().await.unwrap();
    assert_eq!(pings.len(), 1, "{pings:?}");
    assert_eq!(
        (pings[0].name.as_str(), pings[0].id.as_str()),
        ("pyecho", id.as_str())
    );
    assert_eq!(pings[0].version, "2.0.0");
    assert_eq!(pings[0].metadata["lang"], "python");
    assert_eq!(pings[0].kind, "io.nats.micro.v1.ping_response");

    let info = discovery.info().name("pyecho").id(&id).await.unwrap();
    assert_eq!(info.len(), 1);
    let info = &info[0];
    assert_eq!(info.description, "python echo");
    let endpoints: Vec<(&str, &str, &str)> = info
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e.subject.as_str(), e.queue_group.as_str()))
        .collect();
    assert_eq!(
        endpoints,
        [("echo", "echo", "q"), ("fail", "grp.fail", "pyq")]
    );
    assert_eq!(info.endpoints[0].metadata["e"], "1");
    assert!(
        info.endpoints[1].metadata.is_empty(),
        "null metadata reads as empty"
    );

    // Call the endpoints found through INFO.
    let reply = client
        .request(&info.endpoints[0].subject, "ping from rust")
        .await
        .unwrap();
    assert_eq!(&reply.payload[..], b"ping from rust");
    assert!(ServiceError::from_message(&reply).is_none());
    let reply = client
        .request(&info.endpoints[1].subject, "")
        .await
        .unwrap();
    assert_eq!(
        ServiceError::from_message(&reply),
        Some(ServiceError {
            code: 418,
            description: "teapot".into()
        })
    );

    let stats = discovery.stats().name("pyecho").await.unwrap();
    assert_eq!(stats.len(), 1);
    let stats = &stats[0];
    assert_eq!(stats.kind, "io.nats.micro.v1.stats_response");
    assert_eq!(stats.metadata["lang"], "python");
    assert!(stats.started <= jiff::Timestamp::now());
    let echo_stats = &stats.endpoints[0];
    assert_eq!((echo_stats.num_requests, echo_stats.num_errors), (1, 0));
    assert!(echo_stats.processing_time > Duration::ZERO);
    assert_eq!(echo_stats.last_error, "");
    let fail_stats = &stats.endpoints[1];
    assert_eq!((fail_stats.num_requests, fail_stats.num_errors), (1, 1));
    assert_eq!(fail_stats.last_error, "418:teapot");
    assert_eq!(fail_stats.queue_group, "pyq");

    // Closing stdin stops the Python service (it drains and leaves).
    drop(child.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    assert!(discovery.ping().await.unwrap().is_empty());
}
