//! The JSON documents of the discovery verbs (ADR-32): `PING`, `INFO` and
//! `STATS` responses, as a service sends them and as discovery reads them.
//!
//! Serialized exactly as ADR-32 writes them (every field present, `started`
//! in RFC 3339 UTC, times in nanoseconds); read leniently (missing or `null`
//! fields take their defaults, unknown fields are ignored), so that services
//! written with other clients are understood.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `type` of a `PING` response.
pub const PING_RESPONSE_TYPE: &str = "io.nats.micro.v1.ping_response";
/// The `type` of an `INFO` response.
pub const INFO_RESPONSE_TYPE: &str = "io.nats.micro.v1.info_response";
/// The `type` of a `STATS` response.
pub const STATS_RESPONSE_TYPE: &str = "io.nats.micro.v1.stats_response";

/// The answer to `$SRV.PING[.<name>[.<id>]]`: who the service is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PingResponse {
    /// `io.nats.micro.v1.ping_response`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// The service name (its kind, shared by all its instances).
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The unique id of this instance.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// The service version (semantic version).
    #[serde(default, deserialize_with = "null_as_default")]
    pub version: String,
    /// The service metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: HashMap<String, String>,
}

/// The answer to `$SRV.INFO[.<name>[.<id>]]`: the service and its endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InfoResponse {
    /// `io.nats.micro.v1.info_response`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// The service name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The unique id of this instance.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// The service version.
    #[serde(default, deserialize_with = "null_as_default")]
    pub version: String,
    /// The service metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: HashMap<String, String>,
    /// The description (empty when none was given).
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    /// Every endpoint of the service, in the order they were added.
    #[serde(default, deserialize_with = "null_as_default")]
    pub endpoints: Vec<EndpointInfo>,
}

/// One endpoint in an [`InfoResponse`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointInfo {
    /// The endpoint name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The subject it listens on (group prefix included).
    #[serde(default, deserialize_with = "null_as_default")]
    pub subject: String,
    /// Its queue group; empty when it subscribes without one.
    #[serde(default, deserialize_with = "null_as_default")]
    pub queue_group: String,
    /// The endpoint metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: HashMap<String, String>,
}

/// The answer to `$SRV.STATS[.<name>[.<id>]]`: the statistics of every endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatsResponse {
    /// `io.nats.micro.v1.stats_response`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// The service name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The unique id of this instance.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// The service version.
    #[serde(default, deserialize_with = "null_as_default")]
    pub version: String,
    /// The service metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: HashMap<String, String>,
    /// Statistics of each endpoint.
    #[serde(default, deserialize_with = "null_as_default")]
    pub endpoints: Vec<EndpointStats>,
    /// When the service started, or its statistics were last reset (UTC;
    /// RFC 3339 on the wire, with microseconds).
    #[serde(serialize_with = "rfc3339_micros")]
    pub started: jiff::Timestamp,
}

/// The statistics of one endpoint in a [`StatsResponse`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointStats {
    /// The endpoint name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The subject it listens on.
    #[serde(default, deserialize_with = "null_as_default")]
    pub subject: String,
    /// Its queue group; empty when it subscribes without one.
    #[serde(default, deserialize_with = "null_as_default")]
    pub queue_group: String,
    /// How many requests it handled (answered, or dropped unanswered).
    #[serde(default, deserialize_with = "null_as_default")]
    pub num_requests: u64,
    /// How many of them were answered with a service error.
    #[serde(default, deserialize_with = "null_as_default")]
    pub num_errors: u64,
    /// The last error, as `code:description`; empty when there was none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub last_error: String,
    /// What the service's stats handler returned for this endpoint
    /// (`null` without a handler).
    #[serde(default)]
    pub data: serde_json::Value,
    /// Total time between receiving requests and answering them
    /// (nanoseconds on the wire).
    #[serde(default, with = "nanos")]
    pub processing_time: Duration,
    /// `processing_time / num_requests`, truncated to whole nanoseconds; zero
    /// without requests.
    #[serde(default, with = "nanos")]
    pub average_processing_time: Duration,
}

/// `null` reads as the type's default (other clients send `null` for an
/// absent description or metadata).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// RFC 3339 in UTC with exactly six fractional digits: every client parses
/// it (Python's `strptime("%Y-%m-%dT%H:%M:%S.%fZ")` needs a fraction of at
/// most six digits).
fn rfc3339_micros<S: Serializer>(ts: &jiff::Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("{ts:.6}"))
}

/// A `Duration` as whole nanoseconds (saturating at `u64::MAX`).
mod nanos {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        // Some clients may send a float; negative or absent values read as 0.
        let n = Option::<f64>::deserialize(d)?.unwrap_or(0.0);
        Ok(if n.is_finite() && n > 0.0 {
            Duration::from_nanos(n as u64)
        } else {
            Duration::ZERO
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn started_has_six_fraction_digits_and_z() {
        let s = StatsResponse {
            kind: STATS_RESPONSE_TYPE.into(),
            name: "a".into(),
            id: "b".into(),
            version: "1.0.0".into(),
            metadata: HashMap::new(),
            endpoints: vec![EndpointStats::default()],
            started: "2024-05-06T07:08:09.123456789Z".parse().unwrap(),
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["started"], "2024-05-06T07:08:09.123456Z");
        let whole: jiff::Timestamp = "2024-05-06T07:08:09Z".parse().unwrap();
        let v = serde_json::to_value(StatsResponse {
            started: whole,
            ..s
        })
        .unwrap();
        assert_eq!(v["started"], "2024-05-06T07:08:09.000000Z");
        let e = &v["endpoints"][0];
        assert!(e["data"].is_null() && e.as_object().unwrap().contains_key("data"));
        assert_eq!(e["last_error"], "");
    }

    #[test]
    fn reads_nulls_and_missing_fields() {
        let info: InfoResponse = serde_json::from_str(
            r#"{"type":"io.nats.micro.v1.info_response","name":"x","id":"1","version":"1.0.0",
                "description":null,"metadata":null,"endpoints":[{"name":"e","subject":"s",
                "queue_group":"q","metadata":null}],"extra":1}"#,
        )
        .unwrap();
        assert_eq!(info.description, "");
        assert!(info.endpoints[0].metadata.is_empty());
        let stats: StatsResponse = serde_json::from_str(
            r#"{"name":"x","started":"2024-01-01T00:00:00.5Z","endpoints":[{"name":"e",
                "processing_time":1500,"average_processing_time":null,"last_error":null}]}"#,
        )
        .unwrap();
        assert_eq!(
            stats.endpoints[0].processing_time,
            Duration::from_nanos(1500)
        );
        assert_eq!(stats.endpoints[0].average_processing_time, Duration::ZERO);
    }
}
