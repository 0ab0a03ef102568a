//! Validation of service configuration (ADR-32), before anything is sent.

use nats_core::subject;

use crate::error::{Error, ErrorKind};

/// A service or endpoint name: `^[A-Za-z0-9\-_]+$` (ADR-32).
pub(crate) fn name(what: &str, name: &str) -> Result<(), Error> {
    if is_name(name) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidName,
            format!(
                "{what} name {name:?} must be non-empty and use only A-Z, a-z, 0-9, '-' and '_'"
            ),
        ))
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A semantic version, exactly as the regular expression suggested by
/// semver.org (which ADR-32 asks for) accepts it.
pub(crate) fn version(version: &str) -> Result<(), Error> {
    if is_semver(version) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidVersion,
            format!(
                "version {version:?} is not a semantic version (e.g. 1.0.0, 2.1.3-rc.1+build.5)"
            ),
        ))
    }
}

/// `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`: numbers without leading zeros;
/// pre-release identifiers non-empty `[0-9A-Za-z-]`, numeric ones without
/// leading zeros; build identifiers non-empty `[0-9A-Za-z-]`.
pub(crate) fn is_semver(version: &str) -> bool {
    let (rest, build) = match version.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let mut numbers = core.split('.');
    let core_ok = (0..3).all(|_| numbers.next().is_some_and(is_number)) && numbers.next().is_none();
    core_ok
        && pre.is_none_or(|p| p.split('.').all(is_prerelease_identifier))
        && build.is_none_or(|b| b.split('.').all(is_identifier))
}

/// `0|[1-9][0-9]*`
fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// `[0-9A-Za-z-]+`
fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A number, or an identifier with at least one non-digit.
fn is_prerelease_identifier(s: &str) -> bool {
    is_identifier(s) && (!s.bytes().all(|b| b.is_ascii_digit()) || is_number(s))
}

/// A queue group name.
pub(crate) fn queue_group(queue_group: &str) -> Result<(), Error> {
    subject::validate_queue_group(queue_group).map_err(|e| {
        Error::new(
            ErrorKind::InvalidQueueGroup,
            format!("queue group {queue_group:?}: {e}"),
        )
    })
}

/// An endpoint subject (wildcards allowed, as for a subscription).
pub(crate) fn endpoint_subject(subject: &str) -> Result<(), Error> {
    subject::validate_subscribe_subject(subject).map_err(|e| {
        Error::new(
            ErrorKind::InvalidSubject,
            format!("endpoint subject {subject:?}: {e}"),
        )
    })
}

/// A group prefix: empty, or a subject without the `>` wildcard.
pub(crate) fn group_prefix(prefix: &str) -> Result<(), Error> {
    if prefix.is_empty() {
        return Ok(());
    }
    subject::validate_subscribe_subject(prefix)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            if prefix.split('.').any(|t| t == ">") {
                Err("'>' cannot be part of a group prefix".to_string())
            } else {
                Ok(())
            }
        })
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidSubject,
                format!("group prefix {prefix:?}: {e}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    static SEMVER: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(SEMVER_REGEX).unwrap());
    static NAME: LazyLock<regex::Regex> = LazyLock::new(|| regex::Regex::new(NAME_REGEX).unwrap());

    /// The regular expression from semver.org, which ADR-32 refers to
    /// (ASCII classes: `\d` of RE2 and of the other clients is ASCII).
    const SEMVER_REGEX: &str = r"(?-u)^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$";
    const NAME_REGEX: &str = r"^[A-Za-z0-9\-_]+$";

    #[test]
    fn semver_examples() {
        for ok in [
            "0.0.0",
            "1.0.0",
            "10.20.30",
            "1.1.2-prerelease+meta",
            "1.0.0-alpha.beta.1",
            "1.0.0-0A.is.legal",
            "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
            "2.0.0+build.1848",
            "1.0.0-rc.1+build.00",
            "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
            "99999999999999999999999.999999999999999999.99999999999999999",
        ] {
            assert!(is_semver(ok), "{ok}");
            version(ok).unwrap();
        }
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "01.1.1",
            "1.01.1",
            "1.1.01",
            "1.2.3-0123",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-a..b",
            "1.2.3+a..b",
            "+invalid",
            "-invalid",
            "v1.2.3",
            "1.2.3 ",
            "1.2.3-alpha_beta",
            "1.2.3+ä",
            "1.2-SNAPSHOT",
            "1.0.0-é",
        ] {
            assert!(!is_semver(bad), "{bad}");
            assert_eq!(version(bad).unwrap_err().kind(), ErrorKind::InvalidVersion);
        }
    }

    #[test]
    fn names() {
        name("service", "my-service_2").unwrap();
        for bad in ["", "a b", "a.b", "a*", "ä", "a>"] {
            assert_eq!(
                name("service", bad).unwrap_err().kind(),
                ErrorKind::InvalidName
            );
        }
    }

    #[test]
    fn prefixes_and_subjects() {
        group_prefix("").unwrap();
        group_prefix("a.*.b").unwrap();
        for bad in ["a.>", ">", "a..b", "a b", ".a"] {
            assert_eq!(
                group_prefix(bad).unwrap_err().kind(),
                ErrorKind::InvalidSubject,
                "{bad}"
            );
        }
        endpoint_subject("a.>").unwrap();
        assert_eq!(
            endpoint_subject("a..b").unwrap_err().kind(),
            ErrorKind::InvalidSubject
        );
        assert_eq!(
            queue_group("a b").unwrap_err().kind(),
            ErrorKind::InvalidQueueGroup
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn semver_matches_the_official_regex(s in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(-[0-9a-zA-Z.-]{0,8})?(\\+[0-9a-zA-Z._+-]{0,8})?") {
            prop_assert_eq!(is_semver(&s), SEMVER.is_match(&s), "{}", s);
        }

        #[test]
        fn semver_matches_the_official_regex_on_any_ascii(s in "[ -~]{0,16}") {
            prop_assert_eq!(is_semver(&s), SEMVER.is_match(&s), "{}", s);
        }

        #[test]
        fn names_match_the_adr_regex(s in "[ -~]{0,8}") {
            prop_assert_eq!(is_name(&s), NAME.is_match(&s), "{}", s);
        }
    }
}
