//! Client-side validation of names, subjects and keys, so bad input is rejected before
//! anything is sent.
//!
//! The rules follow ADR-6 and the server: stricter where the server would refuse anyway, never
//! stricter than what the server accepts in normal use.

use nats_core::subject;

use crate::error::{Error, ErrorKind};

/// Checks a stream name.
pub(crate) fn validate_stream_name(name: &str) -> Result<(), Error> {
    validate_name("stream", name)
}

/// Checks a consumer (or durable) name.
pub(crate) fn validate_consumer_name(name: &str) -> Result<(), Error> {
    validate_name("consumer", name)
}

/// ADR-6 `name`, checked by the one name validator of the codec; the error says what the
/// name is for (`stream name "a.b" must not contain '.'`).
fn validate_name(what: &'static str, name: &str) -> Result<(), Error> {
    subject::validate_name(name)
        .map_err(|e| Error::msg(ErrorKind::InvalidName, format!("{what} {}", e.message())))
}

/// Checks a Key/Value or object store bucket name: `[A-Za-z0-9_-]+`.
#[cfg(any(feature = "kv", feature = "object-store"))]
pub(crate) fn validate_bucket_name(bucket: &str) -> Result<(), Error> {
    let invalid = |why: String| {
        Err(Error::msg(
            ErrorKind::InvalidName,
            format!("bucket name {bucket:?} {why}"),
        ))
    };
    if bucket.is_empty() {
        return invalid("must not be empty".into());
    }
    if let Some(c) = bucket
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    {
        return invalid(format!(
            "must contain only A-Z, a-z, 0-9, '_' and '-', found {c:?}"
        ));
    }
    Ok(())
}

/// Checks a Key/Value key: `.`-separated tokens of `[A-Za-z0-9_/=-]+`.
///
/// With `allow_wildcards` (watch and list filters) a token may also be `*`, and the last token
/// `>`. Without it (writes and gets) keys starting with `_kv` are refused: that prefix is
/// reserved.
#[cfg(feature = "kv")]
pub(crate) fn validate_kv_key(key: &str, allow_wildcards: bool) -> Result<(), Error> {
    // Every get and put checks its key: the common valid one in one pass over its bytes;
    // the token-by-token reading below says what is wrong (and handles wildcards).
    if !allow_wildcards && plain_key(key.as_bytes()) {
        return Ok(());
    }
    kv_key_by_tokens(key, allow_wildcards)
}

/// [`validate_kv_key`] token by token, with what is wrong.
#[cfg(feature = "kv")]
fn kv_key_by_tokens(key: &str, allow_wildcards: bool) -> Result<(), Error> {
    let invalid = |why: String| {
        Err(Error::msg(
            ErrorKind::InvalidKey,
            format!("key {key:?} {why}"),
        ))
    };
    if key.is_empty() {
        return invalid("must not be empty".into());
    }
    if key.starts_with('.') || key.ends_with('.') {
        return invalid("must not start or end with '.'".into());
    }
    if !allow_wildcards && key.starts_with("_kv") {
        return invalid("must not start with \"_kv\", which is reserved".into());
    }
    let mut tokens = key.split('.').peekable();
    while let Some(token) = tokens.next() {
        let last = tokens.peek().is_none();
        if token.is_empty() {
            return invalid("must not contain empty tokens (\"..\")".into());
        }
        if allow_wildcards && (token == "*" || (last && token == ">")) {
            continue;
        }
        if token == ">" && allow_wildcards {
            return invalid("'>' is only allowed as the last token".into());
        }
        if let Some(c) = token
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '=' | '-')))
        {
            let allowed = if allow_wildcards {
                "A-Z, a-z, 0-9, '_', '/', '=', '-', '.' and the wildcard tokens '*' and '>'"
            } else {
                "A-Z, a-z, 0-9, '_', '/', '=', '-' and '.'"
            };
            return invalid(format!("must contain only {allowed}, found {c:?}"));
        }
    }
    Ok(())
}

/// Whether `key` is a valid key without wildcards: non-empty `.`-separated tokens of
/// `[A-Za-z0-9_/=-]`, not starting with the reserved `_kv`.
#[cfg(feature = "kv")]
fn plain_key(key: &[u8]) -> bool {
    if key.first().is_none_or(|&b| b == b'.') || key.last() == Some(&b'.') {
        return false;
    }
    if key.starts_with(b"_kv") {
        return false;
    }
    let mut after_dot = false;
    for &b in key {
        if b == b'.' {
            if after_dot {
                return false;
            }
            after_dot = true;
        } else if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'/' | b'=' | b'-') {
            after_dot = false;
        } else {
            return false;
        }
    }
    true
}

/// Checks a subject with the codec's subject validator (the one the core client uses for
/// every publish and subscribe).
///
/// With `allow_wildcards` (filters), `*` and `>` may be whole tokens, `>` only the last.
/// Without it (publish subjects), they are refused.
pub(crate) fn validate_subject(subject: &str, allow_wildcards: bool) -> Result<(), Error> {
    let checked = if allow_wildcards {
        subject::validate_subscribe_subject(subject)
    } else {
        subject::validate_publish_subject(subject)
    };
    checked.map_err(|e| Error::msg(ErrorKind::InvalidSubject, e.message().to_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kind(r: Result<(), Error>) -> Option<ErrorKind> {
        r.err().map(|e| e.kind())
    }

    #[test]
    fn stream_and_consumer_names() {
        for ok in [
            "ORDERS",
            "orders-2024_v1",
            "a",
            "KV_bucket",
            "ÄÖÜ",
            "a=b",
            "$x",
        ] {
            assert_eq!(kind(validate_stream_name(ok)), None, "{ok:?}");
            assert_eq!(kind(validate_consumer_name(ok)), None, "{ok:?}");
        }
        let long = "x".repeat(256);
        for bad in [
            "",
            "a.b",
            "a*",
            ">",
            "a/b",
            "a\\b",
            "a b",
            "a\tb",
            "a\nb",
            "a\rb",
            "\u{7f}",
            long.as_str(),
        ] {
            assert_eq!(
                kind(validate_stream_name(bad)),
                Some(ErrorKind::InvalidName),
                "{bad:?}"
            );
            assert_eq!(
                kind(validate_consumer_name(bad)),
                Some(ErrorKind::InvalidName),
                "{bad:?}"
            );
        }
        assert_eq!(kind(validate_stream_name(&"x".repeat(255))), None);
    }

    /// One subject validator: the JetStream checks are the core client's, so a filter or
    /// subject refused by one is refused by the other (the server's whitespace rule: space,
    /// tab, CR, LF, form feed).
    #[test]
    fn jetstream_and_core_agree_on_subjects() {
        for s in [
            "a", "a.b", "a.*", "a.>", "", "a..b", "a b", "a\tb", "a\x0cb", "a\u{a0}b", "a\x01b",
            "a.>.b", "foo*.bar",
        ] {
            assert_eq!(
                validate_subject(s, false).is_ok(),
                subject::validate_publish_subject(s).is_ok(),
                "{s:?}"
            );
            assert_eq!(
                validate_subject(s, true).is_ok(),
                subject::validate_subscribe_subject(s).is_ok(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn error_names_the_bad_input() {
        let text = |r: Result<(), Error>| r.unwrap_err().to_string();
        assert_eq!(
            text(validate_stream_name("a.b")),
            "invalid name: stream name \"a.b\" must not contain '.'"
        );
        assert_eq!(
            text(validate_consumer_name("")),
            "invalid name: consumer name must not be empty"
        );
        assert_eq!(
            text(validate_subject("a b", true)),
            "invalid subject: subject \"a b\" contains ' ', which subjects may not contain"
        );
    }

    #[test]
    #[cfg(feature = "kv")]
    fn key_and_bucket_errors_name_the_bad_input() {
        let text = |r: Result<(), Error>| r.unwrap_err().to_string();
        assert_eq!(
            text(validate_kv_key("bad key", false)),
            "invalid key: key \"bad key\" must contain only A-Z, a-z, 0-9, '_', '/', '=', '-' and '.', found ' '"
        );
        assert_eq!(
            text(validate_kv_key("_kv.x", false)),
            "invalid key: key \"_kv.x\" must not start with \"_kv\", which is reserved"
        );
        assert_eq!(
            text(validate_bucket_name("a.b")),
            "invalid name: bucket name \"a.b\" must contain only A-Z, a-z, 0-9, '_' and '-', found '.'"
        );
    }

    #[test]
    #[cfg(any(feature = "kv", feature = "object-store"))]
    fn bucket_names() {
        for ok in ["bucket", "B_1-x", "0"] {
            assert_eq!(kind(validate_bucket_name(ok)), None, "{ok:?}");
        }
        for bad in ["", "a.b", "a b", "a/b", "a=b", "ä", "a*", ">"] {
            assert_eq!(
                kind(validate_bucket_name(bad)),
                Some(ErrorKind::InvalidName),
                "{bad:?}"
            );
        }
    }

    #[test]
    #[cfg(feature = "kv")]
    fn the_one_pass_key_check_agrees_with_the_token_by_token_one() {
        let alphabet: &[&str] = &[
            "a", "Z9", ".", "_kv", "_", "/=-", " ", "*", ">", "é", "$", "kv",
        ];
        for state in crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15u64).take(50_000) {
            let parts = (state % 9) as usize;
            let key: String = (0..parts)
                .map(|i| alphabet[((state >> (i * 5)) % alphabet.len() as u64) as usize])
                .collect();
            assert_eq!(
                plain_key(key.as_bytes()),
                kv_key_by_tokens(&key, false).is_ok(),
                "{key:?}"
            );
        }
    }

    #[test]
    #[cfg(feature = "kv")]
    fn kv_keys() {
        for ok in ["key", "a.b.c", "a/b=c-d_e", "A9", "x._kv"] {
            assert_eq!(kind(validate_kv_key(ok, false)), None, "{ok:?}");
            assert_eq!(kind(validate_kv_key(ok, true)), None, "{ok:?}");
        }
        for bad in [
            "", ".a", "a.", "a..b", "a b", "a*", "*", ">", "a.>", "ä", "a:b", "a\nb", "_kv",
            "_kvx.y",
        ] {
            assert_eq!(
                kind(validate_kv_key(bad, false)),
                Some(ErrorKind::InvalidKey),
                "{bad:?}"
            );
        }
        for ok in ["*", ">", "a.*", "a.>", "*.b", "a.*.>", "_kv.x"] {
            assert_eq!(kind(validate_kv_key(ok, true)), None, "{ok:?}");
        }
        for bad in [">.a", "a.>.b", "a*", "a>", "*x", "a..*", ".>", "a b.*"] {
            assert_eq!(
                kind(validate_kv_key(bad, true)),
                Some(ErrorKind::InvalidKey),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn subjects() {
        for ok in [
            "a",
            "orders.new",
            "$JS.API.INFO",
            "a.b-c_d",
            "foo*.bar",
            "ä.ö",
        ] {
            assert_eq!(kind(validate_subject(ok, false)), None, "{ok:?}");
            assert_eq!(kind(validate_subject(ok, true)), None, "{ok:?}");
        }
        for ok in ["*", ">", "a.*", "a.>", "*.b.>"] {
            assert_eq!(kind(validate_subject(ok, true)), None, "{ok:?}");
            assert_eq!(
                kind(validate_subject(ok, false)),
                Some(ErrorKind::InvalidSubject),
                "{ok:?}"
            );
        }
        for bad in [
            "", ".", "a.", ".a", "a..b", "a b", "a\tb", "a\r\nb", ">.a", "a.>.b",
        ] {
            assert_eq!(
                kind(validate_subject(bad, true)),
                Some(ErrorKind::InvalidSubject),
                "{bad:?}"
            );
            assert_eq!(
                kind(validate_subject(bad, false)),
                Some(ErrorKind::InvalidSubject),
                "{bad:?}"
            );
        }
    }
}
