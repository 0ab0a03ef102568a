//! Enums the server sends as strings (policies, storage, compression, ...), kept open: a value
//! this client does not know, from a newer server, reads as `Other` and is written back as
//! it came, so that `info()` and listings never fail on it.
//!
//! The enums stay `Copy`: an unknown value is held inline in an [`UnknownValue`] rather than
//! in a `String`.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// A value the server sent for one of its enums that this client version does not know,
/// kept as sent (so it is written back unchanged).
///
/// Held inline, so the enums that carry it stay `Copy`. The server's enum values are short
/// identifiers (`"workqueue"`, `"pinned_client"`); one longer than
/// [`CAPACITY`](Self::CAPACITY) bytes is refused when the reply is parsed rather than being
/// cut short.
///
/// ```
/// use jetstream::{RetentionPolicy, UnknownValue};
///
/// let policy: RetentionPolicy = serde_json::from_str(r#""archive""#).unwrap();
/// assert_eq!(policy, RetentionPolicy::Other(UnknownValue::new("archive").unwrap()));
/// assert_eq!(policy.as_str(), "archive");
/// assert_eq!(serde_json::to_string(&policy).unwrap(), r#""archive""#);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnknownValue {
    len: u8,
    bytes: [u8; UnknownValue::CAPACITY],
}

impl UnknownValue {
    /// The longest value kept, in bytes.
    pub const CAPACITY: usize = 31;

    /// Wraps `value`; `None` when it is longer than [`CAPACITY`](Self::CAPACITY) bytes.
    pub fn new(value: &str) -> Option<UnknownValue> {
        let len = u8::try_from(value.len())
            .ok()
            .filter(|&n| usize::from(n) <= Self::CAPACITY)?;
        let mut bytes = [0; Self::CAPACITY];
        bytes[..value.len()].copy_from_slice(value.as_bytes());
        Some(UnknownValue { len, bytes })
    }

    /// The value as the server sent it.
    pub fn as_str(&self) -> &str {
        // Always whole UTF-8: `new` copies a whole `&str`.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads a string and maps it with `parse` (`None`: an unknown value too long to keep),
/// without allocating for borrowed input.
pub(crate) fn deserialize_str<'de, D, T>(
    d: D,
    what: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct V<T> {
        what: &'static str,
        parse: fn(&str) -> Option<T>,
    }
    impl<T> Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a {} string", self.what)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.parse)(v).ok_or_else(|| {
                E::custom(format!(
                    "unknown {} {v:?} is longer than {} bytes",
                    self.what,
                    UnknownValue::CAPACITY
                ))
            })
        }
    }
    d.deserialize_str(V { what, parse })
}

/// Declares an enum the server sends as a string, with its wire spellings (`Variant =
/// "wire" | "alias"`), an `Other(UnknownValue)` variant for values this client does not
/// know, `as_str`, `Display`, and serde that round-trips every value.
macro_rules! server_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $what:literal {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $wire:literal $(| $alias:literal)*,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
        #[non_exhaustive]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this client version does not know (from a newer server), kept as sent
            /// and written back unchanged.
            Other($crate::types::UnknownValue),
        }

        impl $name {
            /// The value as the server spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(value) => value.as_str(),
                }
            }

            fn from_wire(s: &str) -> Option<Self> {
                match s {
                    $($wire $(| $alias)* => Some(Self::$variant),)+
                    other => $crate::types::UnknownValue::new(other).map(Self::Other),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::types::server_enum::deserialize_str(d, $what, Self::from_wire)
            }
        }
    };
}

pub(crate) use server_enum;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unknown_value_keeps_up_to_capacity() {
        let v = UnknownValue::new("pinned_client").unwrap();
        assert_eq!(v.as_str(), "pinned_client");
        assert_eq!(format!("{v:?}"), "\"pinned_client\"");
        assert_eq!(v.to_string(), "pinned_client");
        let longest = "x".repeat(UnknownValue::CAPACITY);
        assert_eq!(UnknownValue::new(&longest).unwrap().as_str(), longest);
        assert!(UnknownValue::new(&"x".repeat(UnknownValue::CAPACITY + 1)).is_none());
        assert_eq!(UnknownValue::new("").unwrap().as_str(), "");
        assert_eq!(UnknownValue::new("ä").unwrap().as_str(), "ä");
    }
}
