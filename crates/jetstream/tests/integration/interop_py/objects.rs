//! Objects with a description, headers, metadata and a custom chunk size, and links to them,
//! each way between us and nats-py; every read checks the content against the digest.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use jetstream::{ObjectLink, ObjectMeta, ObjectStoreConfig, StorageType};
use nats_core::HeaderMap;
use nats_testkit::Server;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{pattern, run_python};

/// Reads the object and the link Rust wrote in `ROBJ`, then creates `POBJ` with an object and
/// two links (nats-py 2.16 has no `add_link`: the script writes the link's metadata message as
/// nats.go does, with nats-py's own `ObjectInfo`/`ObjectLink` types).
const PY_OBJECTS: &str = r#"
def digest(data):
    return "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()

def info_dict(i):
    link = i.options.link if i.options else None
    return {"name": i.name, "bucket": i.bucket, "size": i.size, "chunks": i.chunks,
            "digest": i.digest, "description": i.description, "headers": i.headers,
            "link": {"bucket": link.bucket, "name": link.name} if link else None}

def meta_subject(bucket, name):
    return f"$O.{bucket}.M." + base64.urlsafe_b64encode(name.encode()).decode()

async def main():
    nc, js = await connect()
    out = {}
    robj = await js.object_store("ROBJ")
    res = await robj.get("r/data.bin")  # nats-py checks the digest at the end
    out["data_ok"] = res.data == pattern(4500)
    out["data_digest"] = digest(res.data)
    out["info"] = info_dict(res.info)
    # nats-py's ObjectInfo has no metadata field: read it from the metadata message.
    raw = await js.get_last_msg("OBJ_ROBJ", meta_subject("ROBJ", "r/data.bin"))
    out["metadata"] = json.loads(raw.data).get("metadata")
    out["link"] = info_dict(await robj.get_info("r/link"))
    linked = await robj.get("r/link")
    out["link_data_ok"] = linked.data == pattern(4500)
    out["link_target"] = linked.info.name

    pobj = await js.create_object_store("POBJ", storage=api.StorageType.MEMORY)
    meta = api.ObjectMeta(description="written by python", headers={"X-Py": ["a", "b"]},
                          options=api.ObjectMetaOptions(max_chunk_size=1000))
    out["put"] = info_dict(await pobj.put("p/data.bin", pattern(4321), meta=meta))
    for name, bucket, target in [("p/link", "POBJ", "p/data.bin"),
                                 ("p/cross", "ROBJ", "r/data.bin")]:
        link = api.ObjectInfo(name=name, bucket="POBJ", nuid=nc._nuid.next().decode(),
                              size=0, chunks=0, options=api.ObjectMetaOptions(
                                  link=api.ObjectLink(bucket=bucket, name=target)))
        await js.publish(meta_subject("POBJ", name), json.dumps(link.as_dict()).encode(),
                         headers={"Nats-Rollup": "sub"})
    emit(out)
    await nc.close()
"#;

fn digest(data: &[u8]) -> String {
    format!("SHA-256={}", URL_SAFE.encode(Sha256::digest(data)))
}

#[tokio::test]
async fn objects_with_metadata_and_links_both_ways() {
    let server = Server::jetstream().start();
    let js = jetstream::new(nats_core::connect(server.url()).await.unwrap());

    // Rust writes.
    let robj = js
        .create_object_store(ObjectStoreConfig {
            bucket: "ROBJ".into(),
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("X-Rust", "one");
    headers.append("X-Multi", "v1");
    headers.append("X-Multi", "v2");
    let data = pattern(4500);
    let info = robj
        .put(
            ObjectMeta {
                name: "r/data.bin".into(),
                description: Some("written by rust".into()),
                headers: Some(headers),
                metadata: HashMap::from([("origin".into(), "rust".into())]),
                chunk_size: Some(1000),
            },
            &data[..],
        )
        .await
        .unwrap();
    assert_eq!(info.digest.as_deref(), Some(digest(&data).as_str()));
    robj.add_link("r/link", &info).await.unwrap();

    let got = run_python(&server, PY_OBJECTS).await;

    // Python read what Rust wrote.
    assert_eq!(got["data_ok"], true);
    assert_eq!(got["data_digest"], digest(&data));
    assert_eq!(
        got["info"],
        json!({"name": "r/data.bin", "bucket": "ROBJ", "size": 4500, "chunks": 5,
               "digest": digest(&data), "description": "written by rust",
               "headers": {"X-Rust": ["one"], "X-Multi": ["v1", "v2"]}, "link": null})
    );
    assert_eq!(got["metadata"], json!({"origin": "rust"}));
    assert_eq!(got["link"]["name"], "r/link");
    assert_eq!(
        got["link"]["link"],
        json!({"bucket": "ROBJ", "name": "r/data.bin"})
    );
    assert_eq!(got["link_data_ok"], true);
    assert_eq!(got["link_target"], "r/data.bin");

    // Rust reads what Python wrote.
    let pdata = pattern(4321);
    let pobj = js.object_store("POBJ").await.unwrap();
    let pinfo = pobj.info("p/data.bin").await.unwrap();
    assert_eq!(pinfo.bucket, "POBJ");
    assert_eq!((pinfo.size, pinfo.chunks), (4321, 5));
    assert_eq!(pinfo.digest.as_deref(), Some(digest(&pdata).as_str()));
    assert_eq!(got["put"]["digest"], digest(&pdata));
    assert_eq!(pinfo.description.as_deref(), Some("written by python"));
    let pheaders = pinfo.headers.as_ref().expect("headers");
    assert_eq!(pheaders.get_all("X-Py").collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(pinfo.chunk_size, Some(1000));
    assert!(pinfo.metadata.is_empty());
    assert!(!pinfo.is_link());
    // `get` checks the digest at the end of the data.
    assert_eq!(&pobj.get_bytes("p/data.bin").await.unwrap()[..], &pdata[..]);

    let link = pobj.info("p/link").await.unwrap();
    assert_eq!(
        link.link,
        Some(ObjectLink {
            bucket: "POBJ".into(),
            name: Some("p/data.bin".into())
        })
    );
    assert_eq!(&pobj.get_bytes("p/link").await.unwrap()[..], &pdata[..]);
    let cross = pobj.info("p/cross").await.unwrap();
    assert_eq!(
        cross.link,
        Some(ObjectLink {
            bucket: "ROBJ".into(),
            name: Some("r/data.bin".into())
        })
    );
    assert_eq!(&pobj.get_bytes("p/cross").await.unwrap()[..], &data[..]);
    let mut names: Vec<String> = pobj
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    names.sort();
    assert_eq!(names, ["p/cross", "p/data.bin", "p/link"]);
}

/// `put_path` names the object after the path as given, as nats.go's `PutFile` does: nats-py
/// reads it under that path, and an object nats-py stores under a path (as a Go `PutFile`
/// would name it) is read back by `get_file` with that path as the name.
#[tokio::test]
async fn put_file_names_agree_with_other_clients() {
    let server = Server::jetstream().start();
    let js = jetstream::new(nats_core::connect(server.url()).await.unwrap());
    let store = js
        .create_object_store(ObjectStoreConfig {
            bucket: "FILES".into(),
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    let dir = server.dir().join("interop-files");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("from-rust.bin");
    std::fs::write(&source, pattern(3000)).unwrap();
    let rust_name = source.to_str().unwrap().to_string();
    let info = store.put_path(&source).await.unwrap();
    assert_eq!(info.name, rust_name);

    let script = format!(
        r#"
async def main():
    nc, js = await connect()
    store = await js.object_store("FILES")
    res = await store.get({rust_name:?})
    out = {{"data_ok": res.data == pattern(3000), "name": res.info.name}}
    await store.put("py/dir/from-python.bin", pattern(1234))
    emit(out)
    await nc.close()
"#
    );
    let got = run_python(&server, &script).await;
    assert_eq!(got["data_ok"], true);
    assert_eq!(got["name"], rust_name.as_str());

    let target = dir.join("copy.bin");
    store
        .get_file("py/dir/from-python.bin", &target)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), pattern(1234));
}
