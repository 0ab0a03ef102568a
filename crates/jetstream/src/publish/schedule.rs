//! Message schedules (ADR-51): a message published with a schedule is held by
//! the stream, which publishes a copy of it to the schedule's target subject
//! when the schedule fires. The options are headers of the publish; this module
//! turns the typed options into those headers and checks them before anything
//! is sent.

use std::time::Duration;

use jiff::Timestamp;

use crate::error::{Error, ErrorKind};
use crate::validate::validate_subject;

use super::ttl_string;

/// Header names of the schedule options.
pub(crate) mod headers {
    pub const SCHEDULE: &str = "Nats-Schedule";
    pub const TARGET: &str = "Nats-Schedule-Target";
    pub const SOURCE: &str = "Nats-Schedule-Source";
    pub const TTL: &str = "Nats-Schedule-TTL";
    pub const TIME_ZONE: &str = "Nats-Schedule-Time-Zone";
}

/// When a scheduled message fires: the `Nats-Schedule` header of a publish made
/// with [`Publish::schedule`](crate::Publish::schedule).
///
/// The stream needs [`allow_msg_schedules`](crate::StreamConfig::allow_msg_schedules)
/// (server 2.12+ for [`At`](Self::At); 2.14+ for the others), and the publish a
/// [`schedule_target`](crate::Publish::schedule_target) subject of the same stream.
/// A stream holds one schedule per subject: publishing a schedule to the subject
/// of another replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Schedule {
    /// Once, at this time (`@at <RFC 3339>`, to the second).
    At(Timestamp),
    /// Repeatedly, at this interval (`@every <duration>`); at least one second.
    Every(Duration),
    /// A cron expression with six fields (seconds, minutes, hours, day of month,
    /// month, day of week), or one of `@yearly`, `@monthly`, `@weekly`, `@daily`,
    /// `@hourly`. Evaluated in UTC unless a
    /// [`schedule_time_zone`](crate::Publish::schedule_time_zone) is given.
    Cron(String),
}

impl Schedule {
    /// Every hour, on the hour (`@hourly`).
    pub fn hourly() -> Self {
        Schedule::Cron("@hourly".to_owned())
    }

    /// Every day at midnight (`@daily`).
    pub fn daily() -> Self {
        Schedule::Cron("@daily".to_owned())
    }

    /// Every Sunday at midnight (`@weekly`).
    pub fn weekly() -> Self {
        Schedule::Cron("@weekly".to_owned())
    }

    /// On the first of every month at midnight (`@monthly`).
    pub fn monthly() -> Self {
        Schedule::Cron("@monthly".to_owned())
    }

    /// On the first of January at midnight (`@yearly`).
    pub fn yearly() -> Self {
        Schedule::Cron("@yearly".to_owned())
    }

    /// The `Nats-Schedule` header value, or why this schedule cannot be sent.
    pub(crate) fn header_value(&self) -> Result<String, Error> {
        match self {
            Schedule::At(at) => {
                let second = Timestamp::from_second(at.as_second())
                    .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, e))?;
                Ok(format!("@at {second}"))
            }
            Schedule::Every(interval) if *interval < Duration::from_secs(1) => Err(invalid(
                format!("a schedule interval must be at least 1s, not {interval:?}"),
            )),
            Schedule::Every(interval) => Ok(format!("@every {}", ttl_string(*interval))),
            Schedule::Cron(expr) if expr.trim().is_empty() => {
                Err(invalid("a cron schedule needs an expression"))
            }
            Schedule::Cron(expr) => Ok(expr.clone()),
        }
    }
}

/// `Nats-Schedule-Target` (`role` "target", a subject of the same stream) or
/// `Nats-Schedule-Source` ("source"): a subject without wildcards.
pub(crate) fn subject_header(role: &str, subject: &str) -> Result<String, Error> {
    validate_subject(subject, false).map_err(|e| {
        let message = format!("schedule {role}: {e}");
        e.with_message(message)
    })?;
    Ok(subject.to_owned())
}

/// `Nats-Schedule-TTL` of the messages a schedule produces: `None` for "never".
pub(crate) fn ttl_header(ttl: Option<Duration>) -> Result<String, Error> {
    match ttl {
        None => Ok("never".to_owned()),
        Some(ttl) if ttl < Duration::from_secs(1) => Err(invalid(format!(
            "a schedule TTL must be at least 1s, not {ttl:?}"
        ))),
        Some(ttl) => Ok(ttl_string(ttl)),
    }
}

/// `Nats-Schedule-Time-Zone`: an IANA zone name, checked by the server.
pub(crate) fn time_zone_header(zone: &str) -> Result<String, Error> {
    if zone.trim().is_empty() || zone.chars().any(|c| c.is_control()) {
        return Err(invalid(format!("{zone:?} is not a time zone name")));
    }
    Ok(zone.to_owned())
}

fn invalid(message: impl Into<String>) -> Error {
    Error::msg(ErrorKind::InvalidArgument, message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        let at: Timestamp = "2030-01-01T00:00:00.75Z".parse().unwrap();
        assert_eq!(
            Schedule::At(at).header_value().unwrap(),
            "@at 2030-01-01T00:00:00Z"
        );
        assert_eq!(
            Schedule::Every(Duration::from_secs(90))
                .header_value()
                .unwrap(),
            "@every 90s"
        );
        assert_eq!(Schedule::daily().header_value().unwrap(), "@daily");
        assert_eq!(
            Schedule::Cron("0 */5 * * * *".into())
                .header_value()
                .unwrap(),
            "0 */5 * * * *"
        );
        assert_eq!(ttl_header(None).unwrap(), "never");
        assert_eq!(ttl_header(Some(Duration::from_secs(300))).unwrap(), "300s");
    }

    #[test]
    fn bad_values_are_refused() {
        for err in [
            Schedule::Every(Duration::from_millis(999))
                .header_value()
                .unwrap_err(),
            Schedule::Cron(" ".into()).header_value().unwrap_err(),
            ttl_header(Some(Duration::from_millis(10))).unwrap_err(),
            time_zone_header("").unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        }
        assert_eq!(
            subject_header("target", "a.*").unwrap_err().kind(),
            ErrorKind::InvalidSubject
        );
        assert_eq!(
            subject_header("source", "").unwrap_err().kind(),
            ErrorKind::InvalidSubject
        );
    }
}
