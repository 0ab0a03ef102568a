//! The JSON of the metadata message, exactly as nats.go writes it: [`ObjectMeta`] fields
//! inlined, `options` for the link and chunk size, `mtime` as Go's zero time, headers as a map
//! of name to values.
//!
//! [`ObjectMeta`]: super::ObjectMeta

use std::collections::HashMap;

use bytes::Bytes;
use jiff::Timestamp;
use nats_core::HeaderMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ObjectInfo, ObjectLink};
use crate::error::{Error, ErrorKind, Result};
use crate::types::serde_util::{empty_string_as_none, is_false, null_default};

impl ObjectInfo {
    /// Decodes a metadata message; `modified` is the message's stored time.
    pub(crate) fn decode(payload: &[u8], modified: Timestamp) -> Result<ObjectInfo> {
        let wire: InfoWire = serde_json::from_slice(payload).map_err(|e| {
            Error::with_source(ErrorKind::InvalidResponse, e)
                .with_message("object metadata is not valid JSON")
        })?;
        let options = wire.options.unwrap_or_default();
        Ok(ObjectInfo {
            name: wire.name,
            description: wire.description,
            bucket: wire.bucket,
            nuid: wire.nuid,
            size: wire.size,
            chunks: wire.chunks,
            modified,
            digest: wire.digest,
            deleted: wire.deleted,
            link: options.link,
            headers: wire.headers.map(|h| h.0).filter(|h| !h.is_empty()),
            metadata: wire.metadata,
            chunk_size: options.max_chunk_size.filter(|&n| n > 0),
        })
    }

    /// The JSON stored in the metadata message (`mtime` is Go's zero time, as nats.go writes).
    pub(crate) fn encode(&self) -> Result<Bytes> {
        let options = OptionsWire {
            link: self.link.clone(),
            max_chunk_size: self.chunk_size,
        };
        let wire = InfoWire {
            name: self.name.clone(),
            description: self.description.clone(),
            headers: self.headers.clone().map(Headers),
            metadata: self.metadata.clone(),
            options: (options.link.is_some() || options.max_chunk_size.is_some())
                .then_some(options),
            bucket: self.bucket.clone(),
            nuid: self.nuid.clone(),
            size: self.size,
            mtime: ZeroTime,
            chunks: self.chunks,
            digest: self.digest.clone(),
            deleted: self.deleted,
        };
        serde_json::to_vec(&wire)
            .map(Bytes::from)
            .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, e))
    }
}

/// The metadata message's JSON (nats.go `ObjectInfo` with `ObjectMeta` inlined).
#[derive(Serialize, Deserialize)]
struct InfoWire {
    name: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    headers: Option<Headers>,
    #[serde(
        default,
        skip_serializing_if = "HashMap::is_empty",
        deserialize_with = "null_default"
    )]
    metadata: HashMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    options: Option<OptionsWire>,
    #[serde(default)]
    bucket: String,
    #[serde(default)]
    nuid: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    mtime: ZeroTime,
    #[serde(default)]
    chunks: u32,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    digest: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    deleted: bool,
}

#[derive(Serialize, Deserialize, Default)]
struct OptionsWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link: Option<ObjectLink>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_chunk_size: Option<u32>,
}

/// `mtime`: written as Go's zero time, ignored when read (trap: readers use the message time).
#[derive(Default)]
struct ZeroTime;

impl Serialize for ZeroTime {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str("0001-01-01T00:00:00Z")
    }
}

impl<'de> Deserialize<'de> for ZeroTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<ZeroTime, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(ZeroTime)
    }
}

/// Headers as Go's `nats.Header` marshals them: `{"Name": ["v1", "v2"]}`.
struct Headers(HeaderMap);

impl Serialize for Headers {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
        for (name, value) in self.0.iter() {
            match grouped.iter_mut().find(|(n, _)| *n == name) {
                Some((_, values)) => values.push(value),
                None => grouped.push((name, vec![value])),
            }
        }
        let mut map = s.serialize_map(Some(grouped.len()))?;
        for (name, values) in grouped {
            map.serialize_entry(name, &values)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Headers, D::Error> {
        let map: Option<serde_json::Map<String, serde_json::Value>> = Option::deserialize(d)?;
        let mut headers = HeaderMap::new();
        for (name, values) in map.unwrap_or_default() {
            match values {
                serde_json::Value::Array(values) => {
                    for value in values {
                        if let serde_json::Value::String(v) = value {
                            headers.append(name.clone(), v);
                        }
                    }
                }
                serde_json::Value::String(v) => headers.append(name, v),
                _ => {}
            }
        }
        Ok(Headers(headers))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_nats_go_metadata() {
        let json = br#"{"name":"object-name","description":"d","headers":{"Key":["v1","v2"]},
            "metadata":{"owner":"infra"},
            "options":{"link":{"bucket":"other","name":"obj"},"max_chunk_size":131072},
            "bucket":"my-bucket","nuid":"CkuyLEX4z2hbyjj1aWCfiH","size":344000,
            "mtime":"0001-01-01T00:00:00Z","chunks":3,"digest":"SHA-256=abc=","deleted":true}"#;
        let when: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        let info = ObjectInfo::decode(json, when).unwrap();
        assert_eq!(info.name, "object-name");
        assert_eq!(info.description.as_deref(), Some("d"));
        let headers = info.headers.as_ref().unwrap();
        assert_eq!(headers.get_all("Key").collect::<Vec<_>>(), ["v1", "v2"]);
        assert_eq!(info.metadata["owner"], "infra");
        assert_eq!(
            info.link,
            Some(ObjectLink {
                bucket: "other".into(),
                name: Some("obj".into())
            })
        );
        assert_eq!(info.chunk_size, Some(131072));
        assert_eq!((info.size, info.chunks), (344000, 3));
        assert_eq!(info.modified, when);
        assert!(info.deleted);
    }

    #[test]
    fn decodes_async_nats_metadata_with_nulls() {
        let json = br#"{"name":"n","description":null,"metadata":{},"headers":null,
            "options":{"link":null,"max_chunk_size":131072},"bucket":"b","nuid":"x",
            "size":0,"chunks":0,"mtime":"2024-05-01T10:00:00.123Z","digest":"SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="}"#;
        let info = ObjectInfo::decode(json, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(info.description, None);
        assert_eq!(info.headers, None);
        assert_eq!(info.link, None);
        assert!(!info.deleted);
    }

    #[test]
    fn encodes_like_nats_go() {
        let mut headers = HeaderMap::new();
        headers.append("A", "1");
        headers.append("B", "2");
        headers.append("A", "3");
        let info = ObjectInfo {
            name: "n".into(),
            bucket: "b".into(),
            nuid: "id".into(),
            size: 5,
            chunks: 1,
            digest: Some("SHA-256=x".into()),
            headers: Some(headers.clone()),
            chunk_size: Some(1024),
            ..Default::default()
        };
        let json: serde_json::Value = serde_json::from_slice(&info.encode().unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name":"n","headers":{"A":["1","3"],"B":["2"]},
                "options":{"max_chunk_size":1024},"bucket":"b","nuid":"id","size":5,
                "mtime":"0001-01-01T00:00:00Z","chunks":1,"digest":"SHA-256=x"})
        );
        let back = ObjectInfo::decode(&info.encode().unwrap(), Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(
            back.headers.unwrap().get_all("A").collect::<Vec<_>>(),
            ["1", "3"]
        );
        let link = ObjectInfo {
            name: "l".into(),
            link: Some(ObjectLink {
                bucket: "b".into(),
                name: None,
            }),
            deleted: true,
            ..Default::default()
        };
        let json: serde_json::Value = serde_json::from_slice(&link.encode().unwrap()).unwrap();
        assert_eq!(json["options"], serde_json::json!({"link":{"bucket":"b"}}));
        assert_eq!(json["deleted"], true);
    }
}
