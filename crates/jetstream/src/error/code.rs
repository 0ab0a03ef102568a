//! JetStream `err_code` numbers and their mapping to [`ErrorKind`].
//!
//! Numbers checked against the server's `errors.json` (as listed in the JetStream API
//! reference).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ErrorKind;

/// A JetStream `err_code`: an open set of numbers, with named constants for the known ones.
///
/// ```
/// use jetstream::ErrorCode;
/// assert_eq!(ErrorCode::STREAM_NOT_FOUND, ErrorCode(10059));
/// ```
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ErrorCode(pub u16);

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal;)*) => {
        impl ErrorCode {
            $($(#[$doc])* pub const $name: ErrorCode = ErrorCode($code);)*

            /// Every named code, for tests.
            #[cfg(test)]
            pub(crate) const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name),*];
        }
    };
}

error_codes! {
    /// 400: bad request.
    BAD_REQUEST = 10003;
    /// 503: JetStream system temporarily unavailable (e.g. no meta leader).
    CLUSTER_NOT_AVAILABLE = 10008;
    /// 500: consumer create failed (text varies).
    CONSUMER_CREATE = 10012;
    /// 400: consumer name already in use.
    CONSUMER_NAME_EXISTS = 10013;
    /// 404: consumer not found.
    CONSUMER_NOT_FOUND = 10014;
    /// 400: consumer name in subject does not match durable name in request.
    CONSUMER_DURABLE_NAME_NOT_MATCH_SUBJECT = 10017;
    /// 400: durable name set on the ephemeral (legacy) create subject.
    CONSUMER_EPHEMERAL_WITH_DURABLE_NAME = 10020;
    /// 503: insufficient resources.
    INSUFFICIENT_RESOURCES = 10023;
    /// 400: invalid JSON.
    INVALID_JSON = 10025;
    /// 400: maximum consumers limit reached.
    MAXIMUM_CONSUMERS_LIMIT = 10026;
    /// 400: maximum number of streams reached.
    MAXIMUM_STREAMS_LIMIT = 10027;
    /// 404: no message found.
    MESSAGE_NOT_FOUND = 10037;
    /// 503: JetStream not enabled for the account.
    JETSTREAM_NOT_ENABLED_FOR_ACCOUNT = 10039;
    /// 400: sequence not found: a message delete of a sequence that is not (or no longer)
    /// stored, in a memory stream.
    SEQUENCE_NOT_FOUND = 10043;
    /// 500: stream configuration is invalid (text carries the reason).
    STREAM_INVALID_CONFIG = 10052;
    /// 400: message size exceeds maximum allowed.
    STREAM_MESSAGE_EXCEEDS_MAXIMUM = 10054;
    /// 500: message delete failed (text carries the reason). A file stream reports a
    /// sequence that is not (or no longer) stored this way too, as does a stream with
    /// `deny_delete`.
    STREAM_MSG_DELETE_FAILED = 10057;
    /// 400: stream name in subject does not match request.
    STREAM_NAME_IN_SUBJECT_MISMATCH = 10056;
    /// 400: stream name already in use with a different configuration.
    STREAM_NAME_IN_USE = 10058;
    /// 404: stream not found.
    STREAM_NOT_FOUND = 10059;
    /// 400: expected stream does not match (`Nats-Expected-Stream`).
    STREAM_NOT_MATCH = 10060;
    /// 400: subjects overlap with an existing stream.
    STREAM_SUBJECT_OVERLAP = 10065;
    /// 400: wrong last msg ID (`Nats-Expected-Last-Msg-Id`).
    STREAM_WRONG_LAST_MSG_ID = 10070;
    /// 400: wrong last sequence: N.
    STREAM_WRONG_LAST_SEQUENCE = 10071;
    /// 503: JetStream not enabled.
    JETSTREAM_NOT_ENABLED = 10076;
    /// 503: storing the message failed (e.g. limits reached with discard new).
    STREAM_STORE_FAILED = 10077;
    /// 400: consumer already exists and is still active.
    CONSUMER_EXISTING_ACTIVE = 10105;
    /// 400: consumer with flow control also needs heartbeats.
    CONSUMER_FLOW_CONTROL_NEEDS_HEARTBEATS = 10108;
    /// 400: invalid operation on sealed stream.
    STREAM_SEALED = 10109;
    /// 400: account requires a stream config to have max bytes set.
    STREAM_MAX_BYTES_REQUIRED = 10113;
    /// 400: filter subject in the create subject does not match the config.
    CONSUMER_CREATE_FILTER_SUBJECT_MISMATCH = 10131;
    /// 400: both `filter_subject` and `filter_subjects` set.
    CONSUMER_DUPLICATE_FILTER_SUBJECTS = 10136;
    /// 400: multiple filters not allowed with the filtered-subject create API.
    CONSUMER_MULTIPLE_FILTERS_NOT_ALLOWED = 10137;
    /// 400: consumer subject filters overlap.
    CONSUMER_OVERLAPPING_SUBJECT_FILTERS = 10138;
    /// 400: empty filter in `filter_subjects`.
    CONSUMER_EMPTY_FILTER = 10139;
    /// 400: consumer already exists (action `create` with a different config).
    CONSUMER_ALREADY_EXISTS = 10148;
    /// 400: consumer does not exist (action `update`).
    CONSUMER_DOES_NOT_EXIST = 10149;
    /// 409: duplicate message id is in process (2.11+).
    STREAM_DUPLICATE_MESSAGE_CONFLICT = 10158;
    /// 503: expected last sequence per subject temporarily unavailable (2.11+).
    STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_NOT_READY = 10163;
    /// 400: wrong last sequence, constant-text variant (2.11+); same meaning as 10071.
    STREAM_WRONG_LAST_SEQUENCE_CONSTANT = 10164;
    /// 400: invalid per-message TTL.
    MESSAGE_TTL_INVALID = 10165;
    /// 400: per-message TTL is disabled on the stream.
    MESSAGE_TTL_DISABLED = 10166;
    /// 429: too many requests.
    STREAM_TOO_MANY_REQUESTS = 10167;
    /// 400: message counters are disabled on the stream.
    MESSAGE_INCR_DISABLED = 10168;
    /// 400: message counter increment is missing.
    MESSAGE_INCR_MISSING = 10169;
    /// 400: message counter publish has a payload.
    MESSAGE_INCR_PAYLOAD = 10170;
    /// 400: message counter increment is invalid.
    MESSAGE_INCR_INVALID = 10171;
    /// 400: message counter is broken.
    MESSAGE_COUNTER_BROKEN = 10172;
    /// 400: atomic publish is disabled on the stream.
    ATOMIC_PUBLISH_DISABLED = 10174;
    /// 400: atomic publish sequence is missing.
    ATOMIC_PUBLISH_MISSING_SEQ = 10175;
    /// 400: atomic publish batch is incomplete (or was abandoned).
    ATOMIC_PUBLISH_INCOMPLETE_BATCH = 10176;
    /// 400: atomic publish used an unsupported header.
    ATOMIC_PUBLISH_UNSUPPORTED_HEADER = 10177;
    /// 400: atomic publish batch id is invalid.
    ATOMIC_PUBLISH_INVALID_BATCH_ID = 10179;
    /// 412: the server's API level is lower than `Nats-Required-Api-Level` (2.12+).
    REQUIRED_API_LEVEL = 10185;
    /// 400: stream mirrors can not schedule messages.
    MIRROR_WITH_MSG_SCHEDULES = 10186;
    /// 400: stream sources can not schedule messages.
    SOURCE_WITH_MSG_SCHEDULES = 10187;
    /// 400: message schedules are disabled on the stream.
    MESSAGE_SCHEDULES_DISABLED = 10188;
    /// 400: message schedule pattern is invalid.
    MESSAGE_SCHEDULES_PATTERN_INVALID = 10189;
    /// 400: message schedule target is invalid.
    MESSAGE_SCHEDULES_TARGET_INVALID = 10190;
    /// 400: message schedule has an invalid per-message TTL.
    MESSAGE_SCHEDULES_TTL_INVALID = 10191;
    /// 400: message schedule has an invalid rollup.
    MESSAGE_SCHEDULES_ROLLUP_INVALID = 10192;
    /// 400: `Nats-Expected-Last-Subject-Sequence-Subject` sent without the sequence header.
    STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_INVALID = 10193;
    /// 400: atomic publish batch is too large.
    ATOMIC_PUBLISH_TOO_LARGE_BATCH = 10199;
    /// 400: atomic publish batch commit is invalid.
    ATOMIC_PUBLISH_INVALID_BATCH_COMMIT = 10200;
    /// 400: atomic publish batch contains a duplicate message id.
    ATOMIC_PUBLISH_CONTAINS_DUPLICATE_MESSAGE = 10201;
    /// 400: message schedule source is invalid.
    MESSAGE_SCHEDULES_SOURCE_INVALID = 10203;
    /// 400: invalid consumer reset (2.14).
    CONSUMER_INVALID_RESET = 10204;
    /// 400: fast batch publish is disabled on the stream (2.14).
    BATCH_PUBLISH_DISABLED = 10205;
    /// 400: fast batch publish pattern is invalid (2.14).
    BATCH_PUBLISH_INVALID_PATTERN = 10206;
    /// 400: fast batch publish id is invalid (2.14).
    BATCH_PUBLISH_INVALID_BATCH_ID = 10207;
    /// 400: fast batch publish id is unknown (2.14).
    BATCH_PUBLISH_UNKNOWN_BATCH_ID = 10208;
    /// 429: too many atomic batches in flight.
    ATOMIC_PUBLISH_TOO_MANY_INFLIGHT = 10210;
    /// 429: too many fast batches in flight (2.14).
    BATCH_PUBLISH_TOO_MANY_INFLIGHT = 10211;
    /// 400: message schedule scheduler is invalid.
    MESSAGE_SCHEDULES_SCHEDULER_INVALID = 10212;
    /// 400: message schedule time zone is invalid.
    MESSAGE_SCHEDULES_TIME_ZONE_INVALID = 10223;
}

impl ErrorCode {
    /// The [`ErrorKind`] this code maps to; [`ErrorKind::Api`] for codes without a kind of
    /// their own.
    pub fn kind(self) -> ErrorKind {
        match self {
            ErrorCode::JETSTREAM_NOT_ENABLED | ErrorCode::JETSTREAM_NOT_ENABLED_FOR_ACCOUNT => {
                ErrorKind::JetStreamNotEnabled
            }
            ErrorCode::STREAM_NOT_FOUND => ErrorKind::StreamNotFound,
            ErrorCode::STREAM_NAME_IN_USE => ErrorKind::StreamNameInUse,
            ErrorCode::STREAM_SEALED => ErrorKind::StreamSealed,
            ErrorCode::CONSUMER_NOT_FOUND | ErrorCode::CONSUMER_DOES_NOT_EXIST => {
                ErrorKind::ConsumerNotFound
            }
            ErrorCode::CONSUMER_ALREADY_EXISTS
            | ErrorCode::CONSUMER_NAME_EXISTS
            | ErrorCode::CONSUMER_EXISTING_ACTIVE => ErrorKind::ConsumerExists,
            ErrorCode::MESSAGE_NOT_FOUND | ErrorCode::SEQUENCE_NOT_FOUND => {
                ErrorKind::MessageNotFound
            }
            ErrorCode::STREAM_WRONG_LAST_SEQUENCE
            | ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT => ErrorKind::WrongLastSequence,
            ErrorCode::STREAM_WRONG_LAST_MSG_ID => ErrorKind::WrongLastMsgId,
            ErrorCode::STREAM_NOT_MATCH => ErrorKind::StreamMismatch,
            ErrorCode::STREAM_MESSAGE_EXCEEDS_MAXIMUM => ErrorKind::MaxPayloadExceeded,
            ErrorCode::REQUIRED_API_LEVEL => ErrorKind::NotSupported,
            ErrorCode::STREAM_INVALID_CONFIG
            | ErrorCode::STREAM_SUBJECT_OVERLAP
            | ErrorCode::STREAM_MAX_BYTES_REQUIRED
            | ErrorCode::CONSUMER_FLOW_CONTROL_NEEDS_HEARTBEATS
            | ErrorCode::CONSUMER_DUPLICATE_FILTER_SUBJECTS
            | ErrorCode::CONSUMER_MULTIPLE_FILTERS_NOT_ALLOWED
            | ErrorCode::CONSUMER_OVERLAPPING_SUBJECT_FILTERS
            | ErrorCode::CONSUMER_EMPTY_FILTER => ErrorKind::InvalidConfig,
            _ => ErrorKind::Api,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_err_code_maps_to_its_kind() {
        use ErrorKind::*;
        let expected: &[(u16, ErrorKind)] = &[
            (10076, JetStreamNotEnabled),
            (10039, JetStreamNotEnabled),
            (10059, StreamNotFound),
            (10058, StreamNameInUse),
            (10109, StreamSealed),
            (10014, ConsumerNotFound),
            (10149, ConsumerNotFound),
            (10148, ConsumerExists),
            (10013, ConsumerExists),
            (10105, ConsumerExists),
            (10037, MessageNotFound),
            (10043, MessageNotFound),
            (10071, WrongLastSequence),
            (10164, WrongLastSequence),
            (10070, WrongLastMsgId),
            (10060, StreamMismatch),
            (10054, MaxPayloadExceeded),
            (10185, NotSupported),
            (10052, InvalidConfig),
            (10065, InvalidConfig),
            (10113, InvalidConfig),
            (10108, InvalidConfig),
            (10136, InvalidConfig),
            (10137, InvalidConfig),
            (10138, InvalidConfig),
            (10139, InvalidConfig),
        ];
        for &(code, kind) in expected {
            assert_eq!(ErrorCode(code).kind(), kind, "err_code {code}");
        }
        // Every other named code is a plain API error, and so is an unknown one.
        for code in ErrorCode::ALL {
            if !expected.iter().any(|&(c, _)| c == code.0) {
                assert_eq!(code.kind(), Api, "err_code {code}");
            }
        }
        assert_eq!(ErrorCode(9999).kind(), Api);
        assert_eq!(ErrorCode(0).kind(), Api);
    }

    #[test]
    fn named_codes_are_unique() {
        let mut codes: Vec<u16> = ErrorCode::ALL.iter().map(|c| c.0).collect();
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }
}
