//! Serde helpers for the JetStream wire formats.
//!
//! The server is written in Go, so:
//! - durations are integer nanoseconds (`time.Duration`), sometimes `-1` for "never";
//! - unset times are Go's zero time, `0001-01-01T00:00:00Z`;
//! - empty slices and maps may arrive as `null`.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serializer};

/// Go's zero `time.Time`, which the server sends for "unset" timestamps.
pub(crate) const ZERO_TIME: Timestamp = Timestamp::constant(-62_135_596_800, 0);

/// Converts a duration to wire nanoseconds, saturating at `i64::MAX` (about 292 years).
pub(crate) fn duration_to_nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Converts wire nanoseconds to a duration; negative values (Go's "unset") become `None`.
pub(crate) fn nanos_to_duration(n: i64) -> Option<Duration> {
    u64::try_from(n).ok().map(Duration::from_nanos)
}

/// Reads an integer that Go may have written as signed or unsigned (saturating at `i64::MAX`).
fn deserialize_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer number of nanoseconds")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            Ok(i64::try_from(v).unwrap_or(i64::MAX))
        }
    }
    d.deserialize_i64(V)
}

/// `Duration` as integer nanoseconds. Negative values read as zero.
pub(crate) mod nanos {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(duration_to_nanos(*d))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let n = deserialize_i64(d)?;
        Ok(nanos_to_duration(n).unwrap_or(Duration::ZERO))
    }
}

/// `Option<Duration>` as integer nanoseconds; `null` and negative values (`-1` = never) read as `None`.
pub(crate) mod opt_nanos {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_i64(duration_to_nanos(*d)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(deserialize_with = "deserialize_i64")] i64);
        Ok(Option::<Wrap>::deserialize(d)?.and_then(|Wrap(n)| nanos_to_duration(n)))
    }
}

/// `Vec<Duration>` as an array of integer nanoseconds (`null` reads as empty).
pub(crate) mod nanos_vec {
    use super::*;
    use serde::ser::SerializeSeq;

    pub(crate) fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for d in v {
            seq.serialize_element(&duration_to_nanos(*d))?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(deserialize_with = "deserialize_i64")] i64);
        let v = Option::<Vec<Wrap>>::deserialize(d)?.unwrap_or_default();
        Ok(v.into_iter()
            .map(|Wrap(n)| nanos_to_duration(n).unwrap_or(Duration::ZERO))
            .collect())
    }
}

/// `Option<Timestamp>` as RFC 3339; `null` and Go's zero time read as `None`.
pub(crate) mod opt_time {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(t),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        Ok(Option::<Timestamp>::deserialize(d)?.filter(|t| *t > ZERO_TIME))
    }
}

/// Reads `null` as the type's default (Go marshals empty slices and maps as `null`).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Reads an optional string, mapping `""` to `None` (Go's `omitempty` is not always applied).
pub(crate) fn empty_string_as_none<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

pub(crate) fn is_zero_duration(d: &Duration) -> bool {
    d.is_zero()
}

pub(crate) fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

pub(crate) fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

pub(crate) fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
    #[serde(default)]
    struct T {
        #[serde(with = "nanos")]
        d: Duration,
        #[serde(with = "opt_nanos", skip_serializing_if = "Option::is_none")]
        od: Option<Duration>,
        #[serde(with = "nanos_vec")]
        v: Vec<Duration>,
        #[serde(with = "opt_time", skip_serializing_if = "Option::is_none")]
        t: Option<Timestamp>,
    }

    #[test]
    fn zero_time_constant_is_go_zero_time() {
        let parsed: Timestamp = "0001-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(parsed, ZERO_TIME);
    }

    #[test]
    fn durations_are_nanoseconds() {
        let t = T {
            d: Duration::from_secs(30),
            od: Some(Duration::from_millis(5)),
            v: vec![Duration::from_secs(1), Duration::from_nanos(7)],
            t: None,
        };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"d":30000000000,"od":5000000,"v":[1000000000,7]}"#);
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), t);
    }

    #[test]
    fn negative_and_null_values() {
        let t: T = serde_json::from_str(r#"{"d":-5,"od":-1,"v":null,"t":null}"#).unwrap();
        assert_eq!(t, T::default());
        let t: T = serde_json::from_str(r#"{"od":null}"#).unwrap();
        assert_eq!(t.od, None);
    }

    #[test]
    fn huge_duration_saturates() {
        assert_eq!(duration_to_nanos(Duration::MAX), i64::MAX);
        let t: T = serde_json::from_str(r#"{"d":18446744073709551615}"#).unwrap();
        assert_eq!(t.d, Duration::from_nanos(i64::MAX as u64));
    }

    #[test]
    fn zero_time_reads_as_none_and_offsets_are_accepted() {
        let t: T = serde_json::from_str(r#"{"t":"0001-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(t.t, None);
        let t: T = serde_json::from_str(r#"{"t":"2021-07-22T17:42:12.580770412+02:00"}"#).unwrap();
        let expected: Timestamp = "2021-07-22T15:42:12.580770412Z".parse().unwrap();
        assert_eq!(t.t, Some(expected));
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(
            json,
            r#"{"d":0,"v":[],"t":"2021-07-22T15:42:12.580770412Z"}"#
        );
    }
}
