//! Permission violations the server reports with `-ERR` without closing the
//! connection: each ends what it refused.
//!
//! - `Permissions Violation for Subscription to "s"` (optionally
//!   `using queue "q"`): the server holds no interest, so the matching
//!   subscriptions end, their [`Subscriber`](crate::Subscriber)s recording the
//!   error; a refused request inbox fails the requests instead.
//! - `Permissions Violation for Publish to "s"`: the requests to `s` fail.
//! - `Permissions Violation for Publish with Reply of "r"`: the request whose
//!   reply subject is `r` fails.

use crate::request;
use crate::shared::{Shared, SubKind, SubMap};

const SUBSCRIPTION: &str = "Permissions Violation for Subscription to ";
const PUBLISH_REPLY: &str = "Permissions Violation for Publish with Reply of ";
const PUBLISH: &str = "Permissions Violation for Publish to ";

/// What a permissions violation refused.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    /// A subscription; `queue` is `None` when the text names no queue group,
    /// `any_queue` when the refusal is about the subject whatever the group
    /// (`..., too many tokens`).
    Subscription {
        subject: String,
        queue: Option<String>,
        any_queue: bool,
    },
    Publish(String),
    Reply(String),
}

/// Acts on the `-ERR` `text` if it is a permissions violation the client can
/// tie to something it waits on. `subs` is the (locked) subscription table.
pub(crate) fn refused(shared: &Shared, subs: &mut SubMap, text: &str) {
    match parse(text) {
        Some(Refused::Subscription {
            subject,
            queue,
            any_queue,
        }) => {
            let ended: Vec<u64> = subs
                .iter()
                .filter(|(_, slot)| {
                    slot.subject == subject && (any_queue || slot.queue_group == queue)
                })
                .map(|(sid, _)| *sid)
                .collect();
            for sid in ended {
                let Some(slot) = subs.get(&sid) else { continue };
                match &slot.kind {
                    SubKind::Channel { pending, .. } => {
                        // Recorded before the slot (and so the channel's
                        // sender) goes: the stream's end comes after it.
                        pending.refuse(text);
                        subs.remove(&sid);
                    }
                    // The slot stays, to be subscribed again after a reconnect.
                    SubKind::Mux => request::inbox_refused(shared, text),
                }
            }
        }
        Some(Refused::Publish(subject)) => request::publish_refused(shared, &subject, text),
        Some(Refused::Reply(reply)) => request::reply_refused(shared, &reply, text),
        None => {}
    }
}

fn parse(text: &str) -> Option<Refused> {
    if let Some(rest) = strip_prefix(text, SUBSCRIPTION) {
        let (subject, rest) = quoted(rest)?;
        let (queue, any_queue) = if rest.is_empty() {
            (None, false)
        } else if let Some(q) = strip_prefix(rest, " using queue ") {
            (Some(quoted(q)?.0), false)
        } else {
            (None, true)
        };
        return Some(Refused::Subscription {
            subject,
            queue,
            any_queue,
        });
    }
    if let Some(rest) = strip_prefix(text, PUBLISH_REPLY) {
        return Some(Refused::Reply(quoted(rest)?.0));
    }
    let rest = strip_prefix(text, PUBLISH)?;
    Some(Refused::Publish(quoted(rest)?.0))
}

fn strip_prefix<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// A Go `%q` string at the start of `s` and what follows it. Only `\"` and
/// `\\` are unescaped: a subject needing any other escape is not one the
/// client sent.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 2..])),
            '\\' => match chars.next()?.1 {
                c @ ('"' | '\\') => out.push(c),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(subject: &str, queue: Option<&str>, any_queue: bool) -> Option<Refused> {
        Some(Refused::Subscription {
            subject: subject.into(),
            queue: queue.map(Into::into),
            any_queue,
        })
    }

    #[test]
    fn parses_the_servers_texts() {
        assert_eq!(
            parse(r#"Permissions Violation for Subscription to "secret.>""#),
            sub("secret.>", None, false)
        );
        assert_eq!(
            parse(r#"Permissions Violation for Subscription to "a.b" using queue "q1""#),
            sub("a.b", Some("q1"), false)
        );
        assert_eq!(
            parse(r#"Permissions Violation for Subscription to "a.b.c", too many tokens"#),
            sub("a.b.c", None, true)
        );
        assert_eq!(
            parse(r#"Permissions Violation for Publish to "x.\"y\"""#),
            Some(Refused::Publish(r#"x."y""#.into()))
        );
        assert_eq!(
            parse(r#"permissions violation for publish with reply of "_INBOX.a.b""#),
            Some(Refused::Reply("_INBOX.a.b".into()))
        );
        assert_eq!(parse("Permissions Violation"), None);
        assert_eq!(parse(r#"Permissions Violation for Publish to "open"#), None);
        assert_eq!(
            parse(r#"Permissions Violation for Publish to "\u00e9""#),
            None
        );
        assert_eq!(parse("Maximum Subscriptions Exceeded"), None);
    }
}
