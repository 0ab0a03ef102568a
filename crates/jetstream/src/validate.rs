//! Client-side validation of names, subjects and keys, so bad input is rejected before
//! anything is sent.
//!
//! The rules follow ADR-6 and the server: stricter where the server would refuse anyway, never
//! stricter than what the server accepts in normal use.

// Used by the context, stream, consumer, KV and object store modules.
#![allow(dead_code)]

use crate::error::{Error, ErrorKind};

/// Longest stream or consumer name the server accepts, in bytes.
const MAX_NAME_LEN: usize = 255;

/// Checks a stream name.
pub(crate) fn validate_stream_name(name: &str) -> Result<(), Error> {
    validate_name("stream", name)
}

/// Checks a consumer (or durable) name.
pub(crate) fn validate_consumer_name(name: &str) -> Result<(), Error> {
    validate_name("consumer", name)
}

/// ADR-6 `name`: non-empty, at most 255 bytes, no `.`, `*`, `>`, `/`, `\`, whitespace or
/// control characters. Non-ASCII letters are let through: the server accepts them.
fn validate_name(what: &'static str, name: &str) -> Result<(), Error> {
    let invalid = |why: String| {
        Err(Error::msg(
            ErrorKind::InvalidName,
            format!("invalid {what} name {name:?}: {why}"),
        ))
    };
    if name.is_empty() {
        return invalid("must not be empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return invalid(format!("longer than {MAX_NAME_LEN} bytes"));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| matches!(c, '.' | '*' | '>' | '/' | '\\') || c.is_whitespace() || c.is_control())
    {
        return invalid(format!("must not contain {c:?}"));
    }
    Ok(())
}

/// Checks a Key/Value or object store bucket name: `[A-Za-z0-9_-]+`.
pub(crate) fn validate_bucket_name(bucket: &str) -> Result<(), Error> {
    let invalid = |why: String| {
        Err(Error::msg(
            ErrorKind::InvalidName,
            format!("invalid bucket name {bucket:?}: {why}"),
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
pub(crate) fn validate_kv_key(key: &str, allow_wildcards: bool) -> Result<(), Error> {
    let invalid = |why: String| {
        Err(Error::msg(
            ErrorKind::InvalidKey,
            format!("invalid key {key:?}: {why}"),
        ))
    };
    if key.is_empty() {
        return invalid("must not be empty".into());
    }
    if key.starts_with('.') || key.ends_with('.') {
        return invalid("must not start or end with '.'".into());
    }
    if !allow_wildcards && key.starts_with("_kv") {
        return invalid("keys starting with \"_kv\" are reserved".into());
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

/// Checks a subject: non-empty `.`-separated tokens, no whitespace.
///
/// With `allow_wildcards` (filters), `>` may only be the last token. Without it (publish
/// subjects), the tokens `*` and `>` are refused. A `*` or `>` inside a longer token is a
/// literal character, as on the server.
pub(crate) fn validate_subject(subject: &str, allow_wildcards: bool) -> Result<(), Error> {
    let invalid = |why: &str| {
        Err(Error::msg(
            ErrorKind::InvalidSubject,
            format!("invalid subject {subject:?}: {why}"),
        ))
    };
    if subject.is_empty() {
        return invalid("must not be empty");
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("must not contain whitespace or control characters");
    }
    let mut tokens = subject.split('.').peekable();
    while let Some(token) = tokens.next() {
        let last = tokens.peek().is_none();
        match token {
            "" => return invalid("must not contain empty tokens"),
            "*" | ">" if !allow_wildcards => {
                return invalid("wildcards are not allowed here");
            }
            ">" if !last => return invalid("'>' is only allowed as the last token"),
            _ => {}
        }
    }
    Ok(())
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

    #[test]
    fn error_names_the_bad_input() {
        let err = validate_stream_name("a.b").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"a.b\""), "{text}");
        assert!(text.contains("stream"), "{text}");
        let err = validate_kv_key("bad key", false).unwrap_err();
        assert!(err.to_string().contains("\"bad key\""), "{err}");
    }

    #[test]
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
