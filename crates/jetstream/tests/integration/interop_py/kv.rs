//! Key/Value entries with deletes, purges and history, each way between us and nats-py.

use jetstream::{ErrorKind, KeyValueConfig, Operation, StorageType};
use nats_testkit::Server;
use serde_json::json;

use super::run_python;

/// Reads the bucket `RKV` written by Rust, then creates `PKV` and writes it.
const PY_KV: &str = r#"
def entry(e):
    return {"rev": e.revision, "value": (e.value or b"").decode(), "op": e.operation}

async def main():
    nc, js = await connect()
    out = {}
    kv = await js.key_value("RKV")
    try:
        await kv.get("a")
        out["a"] = "found"
    except KeyNotFoundError as e:
        out["a"] = {"op": e.op, "rev": e.entry.revision if e.entry else None}
    out["a_history"] = [entry(e) for e in await kv.history("a")]
    out["a_rev1"] = entry(await kv.get("a", revision=1))
    out["b"] = entry(await kv.get("b"))
    try:
        await kv.get("c")
        out["c"] = "found"
    except KeyNotFoundError as e:
        out["c"] = {"op": e.op}
    out["c_history"] = [entry(e) for e in await kv.history("c")]
    out["keys"] = sorted(await kv.keys())

    pkv = await js.create_key_value(bucket="PKV", history=10, storage=api.StorageType.MEMORY)
    revs = {}
    revs["x1"] = await pkv.put("x", b"1")
    revs["x2"] = await pkv.update("x", b"2", last=revs["x1"])
    revs["y"] = await pkv.create("y", b"new")
    await pkv.delete("x")
    revs["z"] = await pkv.put("z", b"tmp")
    await pkv.purge("z")
    revs["x3"] = await pkv.create("x", b"again")
    revs["w"] = await pkv.put("w", b"w")
    await pkv.delete("w")
    out["written"] = revs
    emit(out)
    await nc.close()
"#;

#[tokio::test]
async fn kv_entries_deletes_and_history_both_ways() {
    let server = Server::jetstream().start();
    let js = jetstream::new(nats_core::connect(server.url()).await.unwrap());

    // Rust writes.
    let kv = js
        .create_key_value(KeyValueConfig {
            bucket: "RKV".into(),
            history: 10,
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(kv.put("a", "1").await.unwrap(), 1);
    assert_eq!(kv.put("a", "2").await.unwrap(), 2);
    assert_eq!(kv.put("b", "keep").await.unwrap(), 3);
    kv.delete("a").await.unwrap(); // 4
    assert_eq!(kv.put("c", "gone").await.unwrap(), 5);
    kv.purge("c").await.unwrap(); // 6, removes 5

    let got = run_python(&server, PY_KV).await;

    // Python read what Rust wrote.
    assert_eq!(got["a"], json!({"op": "DEL", "rev": 4}));
    assert_eq!(
        got["a_history"],
        json!([{"rev": 1, "value": "1", "op": null},
               {"rev": 2, "value": "2", "op": null},
               {"rev": 4, "value": "", "op": "DEL"}])
    );
    assert_eq!(got["a_rev1"], json!({"rev": 1, "value": "1", "op": null}));
    assert_eq!(got["b"], json!({"rev": 3, "value": "keep", "op": null}));
    assert_eq!(got["c"], json!({"op": "PURGE"}));
    assert_eq!(
        got["c_history"],
        json!([{"rev": 6, "value": "", "op": "PURGE"}])
    );
    assert_eq!(got["keys"], json!(["b"]));

    // Rust reads what Python wrote.
    assert_eq!(
        got["written"],
        json!({"x1": 1, "x2": 2, "y": 3, "z": 5, "x3": 7, "w": 8})
    );
    let pkv = js.key_value("PKV").await.unwrap();
    let x = pkv.get("x").await.unwrap();
    assert_eq!((x.revision(), &x.value()[..]), (7, &b"again"[..]));
    let history: Vec<(u64, String, Operation)> = pkv
        .history("x")
        .await
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e.key(), "x");
            (
                e.revision(),
                String::from_utf8(e.value().to_vec()).unwrap(),
                e.operation(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            (1, "1".into(), Operation::Put),
            (2, "2".into(), Operation::Put),
            (4, String::new(), Operation::Delete),
            (7, "again".into(), Operation::Put),
        ]
    );
    assert_eq!(&pkv.get_revision("x", 2).await.unwrap().value()[..], b"2");
    let y = pkv.get("y").await.unwrap();
    assert_eq!((y.revision(), &y.value()[..]), (3, &b"new"[..]));
    for key in ["z", "w"] {
        assert_eq!(
            pkv.get(key).await.unwrap_err().kind(),
            ErrorKind::KeyNotFound,
            "{key}"
        );
    }
    let z: Vec<(u64, Operation)> = pkv
        .history("z")
        .await
        .unwrap()
        .iter()
        .map(|e| (e.revision(), e.operation()))
        .collect();
    assert_eq!(z, [(6, Operation::Purge)]);
    let w: Vec<(u64, Operation)> = pkv
        .history("w")
        .await
        .unwrap()
        .iter()
        .map(|e| (e.revision(), e.operation()))
        .collect();
    assert_eq!(w, [(8, Operation::Put), (9, Operation::Delete)]);
    let mut keys = pkv.keys().await.unwrap();
    keys.sort();
    assert_eq!(keys, ["x", "y"]);
}
