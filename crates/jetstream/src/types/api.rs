//! API envelopes: decoding replies (`{"error":{...}}` versus success), publish acks, paging,
//! and the small request/response bodies of the admin API.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::serde_util::{empty_string_as_none, is_false, is_zero_u64, null_default};
use super::{ConsumerConfig, ConsumerInfo, StreamInfo};
use crate::error::{ApiError, Error, ErrorKind};

/// The server's acknowledgement of a message published to a stream.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PubAck {
    /// Name of the stream that stored the message.
    pub stream: String,
    /// Stream sequence of the message; for a duplicate, the sequence of the original.
    /// On the wire: `seq`.
    #[serde(rename = "seq")]
    pub sequence: u64,
    /// Whether the message was a duplicate (same `Nats-Msg-Id` within the duplicate window)
    /// and was not stored again.
    #[serde(skip_serializing_if = "is_false")]
    pub duplicate: bool,
    /// JetStream domain of the stream.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub domain: Option<String>,
    /// Counter streams: the counter's value after the increment, as a decimal string of
    /// arbitrary precision (server 2.12+). On the wire: `val`.
    #[serde(
        rename = "val",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub value: Option<String>,
    /// Batch publishes: the id of the committed batch (server 2.12+). On the wire: `batch`.
    #[serde(
        rename = "batch",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub batch_id: Option<String>,
    /// Batch publishes: the number of messages in the committed batch (server 2.12+).
    /// On the wire: `count`.
    #[serde(rename = "count", skip_serializing_if = "is_zero_u64")]
    pub batch_size: u64,
}

/// Only the `error` field of a reply.
#[derive(Deserialize)]
struct ErrorProbe {
    #[serde(default)]
    error: Option<ApiError>,
}

/// Turns a reply body that failed to parse into an error.
fn invalid_response(source: serde_json::Error) -> Error {
    Error::with_source(ErrorKind::InvalidResponse, source)
}

/// Decodes a JetStream API reply: an `error` object means failure (mapped to its
/// [`ErrorKind`] by `err_code`), anything else is parsed as `T`.
pub(crate) fn decode_api<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    if body.is_empty() {
        return Err(Error::msg(ErrorKind::InvalidResponse, "empty API reply"));
    }
    let probe: ErrorProbe = serde_json::from_slice(body).map_err(invalid_response)?;
    if let Some(api) = probe.error {
        return Err(Error::from_api(api));
    }
    serde_json::from_slice(body).map_err(invalid_response)
}

/// A publish ack as it comes off the wire: possibly an error, possibly without a stream.
/// Kept flat (no `#[serde(flatten)]`) because it is decoded once per published message.
#[derive(Deserialize)]
struct PubAckReply {
    #[serde(default)]
    error: Option<ApiError>,
    #[serde(default)]
    stream: String,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    duplicate: bool,
    #[serde(default, deserialize_with = "empty_string_as_none")]
    domain: Option<String>,
    #[serde(default, deserialize_with = "empty_string_as_none")]
    val: Option<String>,
    #[serde(default, deserialize_with = "empty_string_as_none")]
    batch: Option<String>,
    #[serde(default)]
    count: u64,
}

/// Decodes the reply to a JetStream publish. The `error` is checked first (error replies
/// usually carry `stream` too); a success must name the stream.
pub(crate) fn decode_pub_ack(body: &[u8]) -> Result<PubAck, Error> {
    if body.is_empty() {
        return Err(Error::msg(
            ErrorKind::InvalidResponse,
            "empty publish ack: the subject is not captured by a stream with acks",
        ));
    }
    if let Some(ack) = plain_pub_ack(body) {
        return Ok(ack);
    }
    let reply: PubAckReply = serde_json::from_slice(body).map_err(invalid_response)?;
    if let Some(api) = reply.error {
        return Err(Error::from_api(api));
    }
    if reply.stream.is_empty() {
        return Err(Error::msg(
            ErrorKind::InvalidResponse,
            "publish ack without a stream name",
        ));
    }
    Ok(PubAck {
        stream: reply.stream,
        sequence: reply.seq,
        duplicate: reply.duplicate,
        domain: reply.domain,
        value: reply.val,
        batch_id: reply.batch,
        batch_size: reply.count,
    })
}

/// The reply to nearly every publish, `{"stream":"<name>","seq":<n>}` as the
/// server writes it (a name without escapes), read by position; any other
/// reply (errors, duplicates, domains, counters, batches) goes to serde.
pub(crate) fn plain_pub_ack(body: &[u8]) -> Option<PubAck> {
    let rest = body.strip_prefix(br#"{"stream":""#)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let (name, rest) = rest.split_at(end);
    if name.is_empty() || name.contains(&b'\\') {
        return None;
    }
    let digits = rest.strip_prefix(br#"","seq":"#)?.strip_suffix(b"}")?;
    Some(PubAck {
        stream: std::str::from_utf8(name).ok()?.to_owned(),
        sequence: crate::ascii::decimal(digits)?,
        ..PubAck::default()
    })
}

/// Paging fields of list and names replies (and of `STREAM.INFO` with a subjects filter;
/// decode the same body twice to get both).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ApiPaging {
    /// Number of items in all pages.
    pub(crate) total: usize,
    /// Offset of this page.
    pub(crate) offset: usize,
    /// Page size the server used.
    pub(crate) limit: usize,
}

impl ApiPaging {
    /// The offset of the next page after a page of `items` items, or `None` when this was the
    /// last page (nats.go's rule: stop when `offset + items >= total`, or on an empty page).
    pub(crate) fn next_offset(&self, items: usize) -> Option<usize> {
        let next = self.offset.saturating_add(items);
        (items > 0 && next < self.total).then_some(next)
    }
}

/// Body of `STREAM.NAMES`, `STREAM.LIST`, `CONSUMER.NAMES` and `CONSUMER.LIST`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
pub(crate) struct ListRequest {
    /// Index of the first item wanted.
    pub(crate) offset: usize,
    /// Streams only: keep streams that capture subjects matching this filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) subject: Option<String>,
}

/// Reply of `STREAM.NAMES`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct StreamNamesResponse {
    #[serde(flatten)]
    pub(crate) paging: ApiPaging,
    #[serde(deserialize_with = "null_default")]
    pub(crate) streams: Vec<String>,
}

/// Reply of `STREAM.LIST`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct StreamListResponse {
    #[serde(flatten)]
    pub(crate) paging: ApiPaging,
    #[serde(deserialize_with = "null_default")]
    pub(crate) streams: Vec<StreamInfo>,
    /// Streams that could not be loaded.
    #[serde(deserialize_with = "null_default")]
    pub(crate) missing: Vec<String>,
    /// Streams that are offline, with the reason (server 2.12+).
    #[serde(deserialize_with = "null_default")]
    pub(crate) offline: HashMap<String, String>,
}

/// Reply of `CONSUMER.NAMES`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ConsumerNamesResponse {
    #[serde(flatten)]
    pub(crate) paging: ApiPaging,
    #[serde(deserialize_with = "null_default")]
    pub(crate) consumers: Vec<String>,
}

/// Reply of `CONSUMER.LIST`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ConsumerListResponse {
    #[serde(flatten)]
    pub(crate) paging: ApiPaging,
    #[serde(deserialize_with = "null_default")]
    pub(crate) consumers: Vec<ConsumerInfo>,
    /// Consumers that could not be loaded.
    #[serde(deserialize_with = "null_default")]
    pub(crate) missing: Vec<String>,
    /// Consumers that are offline, with the reason (server 2.12+).
    #[serde(deserialize_with = "null_default")]
    pub(crate) offline: HashMap<String, String>,
}

/// Body of `STREAM.INFO.<stream>`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
pub(crate) struct StreamInfoRequest {
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) deleted_details: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) subjects_filter: Option<String>,
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub(crate) offset: usize,
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

/// What a consumer create request may do (server 2.10+; older servers ignore it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum ConsumerAction {
    /// Create, or update if it exists (wire: field omitted).
    #[default]
    CreateOrUpdate,
    /// Create only: an existing consumer with another config fails with 10148.
    Create,
    /// Update only: a missing consumer fails with 10149.
    Update,
}

impl ConsumerAction {
    fn is_create_or_update(&self) -> bool {
        *self == ConsumerAction::CreateOrUpdate
    }
}

impl Serialize for ConsumerAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            ConsumerAction::CreateOrUpdate => "",
            ConsumerAction::Create => "create",
            ConsumerAction::Update => "update",
        })
    }
}

/// Body of `CONSUMER.CREATE.<stream>.<consumer>[.<filter>]`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CreateConsumerRequest<'a> {
    pub(crate) stream_name: &'a str,
    pub(crate) config: &'a ConsumerConfig,
    #[serde(skip_serializing_if = "ConsumerAction::is_create_or_update")]
    pub(crate) action: ConsumerAction,
}

/// Reply of the delete endpoints (`STREAM.DELETE`, `CONSUMER.DELETE`, `STREAM.MSG.DELETE`).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SuccessResponse {
    pub(crate) success: bool,
}

/// Body of `STREAM.PURGE.<stream>`. `sequence` and `keep` are exclusive.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
pub(crate) struct PurgeRequest {
    /// Purge only messages on subjects matching this filter.
    #[serde(rename = "filter", skip_serializing_if = "Option::is_none")]
    pub(crate) subject: Option<String>,
    /// Purge messages below this sequence (exclusive).
    #[serde(rename = "seq", skip_serializing_if = "Option::is_none")]
    pub(crate) sequence: Option<u64>,
    /// Keep the newest `keep` messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) keep: Option<u64>,
}

/// Reply of `STREAM.PURGE`.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PurgeResponse {
    pub(crate) success: bool,
    pub(crate) purged: u64,
}

/// Body of `STREAM.MSG.DELETE.<stream>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct MsgDeleteRequest {
    #[serde(rename = "seq")]
    pub(crate) sequence: u64,
    /// `true`: just remove; omitted: overwrite the data on disk (secure delete).
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) no_erase: bool,
}

/// Body of `STREAM.MSG.GET.<stream>` and of `DIRECT.GET.<stream>`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
pub(crate) struct MsgGetRequest {
    #[serde(rename = "seq", skip_serializing_if = "Option::is_none")]
    pub(crate) sequence: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_by_subj: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_by_subj: Option<String>,
    /// Only the payload: no headers at all (on a direct get not even `Nats-Sequence` and
    /// friends). Server 2.12+; older servers ignore it.
    #[serde(rename = "no_hdr", skip_serializing_if = "is_false")]
    pub(crate) no_headers: bool,
}

/// Reply of `STREAM.MSG.GET`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct MsgGetResponse {
    pub(crate) message: RawStoredMessage,
}

/// A stored message as `STREAM.MSG.GET` returns it; `hdrs` and `data` are standard base64.
#[derive(Clone, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawStoredMessage {
    pub(crate) subject: String,
    #[serde(rename = "seq")]
    pub(crate) sequence: u64,
    /// Base64 of the whole `NATS/1.0` header block, if the message has headers.
    #[serde(deserialize_with = "empty_string_as_none")]
    pub(crate) hdrs: Option<String>,
    /// Base64 of the payload (absent for an empty payload).
    #[serde(deserialize_with = "null_default")]
    pub(crate) data: String,
    pub(crate) time: Timestamp,
}
