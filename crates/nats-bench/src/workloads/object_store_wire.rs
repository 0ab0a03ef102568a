//! Raw-TCP contender of `obj-get-64m`: the least work any client must do to
//! read the object back, so the row is a ceiling for the libraries.
//!
//! Untimed, our client looks up the object's chunk subject and creates an
//! ephemeral AckNone consumer filtered on it (the libraries do both inside
//! the clock; it takes well under a millisecond). Timed: pull requests for 64
//! chunks, two outstanding, on a bare socket; each chunk's payload is hashed
//! (SHA-256, the digest check every client does) and copied into the same
//! pre-faulted buffer the libraries read into. The digest and the bytes are
//! checked after the clock stops.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use jetstream::{AckPolicy, ConsumerConfig};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::js_common::{raw_subscribed, status_code, Frame};
use super::object_store::{
    check_large, faulted_buffer, mb_per_sec, random_data, GET_BUCKET, LARGE_NAME, LARGE_SIZE,
};
use super::{Ctx, RunFuture};

/// Where the chunks are delivered.
const INBOX: &str = "_INBOX.objw";
/// Chunks per pull request (8 MiB of 128 KiB chunks, as our client pulls);
/// two pulls are kept outstanding. (One pull for all 64 MiB would overflow
/// the server's 64 MiB per-connection send buffer: it drops such a client as
/// a slow consumer.)
const PULL_CHUNKS: u64 = 64;
/// Lifetime of the consumer if a run fails before deleting it.
const INACTIVE: Duration = Duration::from_secs(30);

/// SHA-256 of the large object, computed once (untimed).
fn expected_digest() -> &'static [u8] {
    static DIGEST: OnceLock<Vec<u8>> = OnceLock::new();
    DIGEST.get_or_init(|| Sha256::digest(&random_data()[..]).to_vec())
}

/// `obj-get-64m`, raw TCP.
pub fn get_large(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        expected_digest();
        let admin = nats_core::connect(ctx.url.as_str()).await?;
        let js = jetstream::new(admin.clone());
        let info = js.object_store(GET_BUCKET).await?.info(LARGE_NAME).await?;
        let stream_name = format!("OBJ_{GET_BUCKET}");
        let consumer = js
            .create_consumer(
                &stream_name,
                ConsumerConfig {
                    ack_policy: AckPolicy::None,
                    filter_subject: Some(format!("$O.{GET_BUCKET}.C.{}", info.nuid)),
                    mem_storage: true,
                    inactive_threshold: Some(INACTIVE),
                    ..Default::default()
                },
            )
            .await?;
        let consumer_name = consumer.cached_info().name.clone();

        let (mut write, mut reader) = raw_subscribed(&ctx.url, INBOX).await?;
        let body = format!("{{\"batch\":{PULL_CHUNKS},\"expires\":30000000000}}");
        let pull = format!(
            "PUB $JS.API.CONSUMER.MSG.NEXT.{stream_name}.{consumer_name} {INBOX} {}\r\n{body}\r\n",
            body.len()
        );
        let chunks = u64::from(info.chunks);
        let (mut requested, mut received) = (0u64, 0u64);
        let mut buf = faulted_buffer();
        let mut hasher = Sha256::new();

        let start = Instant::now();
        while buf.len() < LARGE_SIZE {
            while requested - received <= PULL_CHUNKS && requested < chunks {
                write.write_all(pull.as_bytes()).await?;
                requested += PULL_CHUNKS;
            }
            reader
                .read_frames(|frame| {
                    let data = match frame {
                        Frame::Msg { payload, .. } => payload,
                        Frame::Hmsg { headers, payload } => match status_code(headers) {
                            None => payload,
                            Some(code) => {
                                return Err(format!("the pull ended with status {code}").into())
                            }
                        },
                        Frame::Pong | Frame::Other => return Ok(()),
                    };
                    hasher.update(data);
                    buf.extend_from_slice(data);
                    received += 1;
                    Ok(())
                })
                .await?;
        }
        let digest = hasher.finalize();
        let seconds = start.elapsed().as_secs_f64();

        drop(write);
        if digest[..] != *expected_digest() {
            return Err("the chunks read back do not hash to the object's digest".into());
        }
        check_large(&buf)?;
        js.delete_consumer(&stream_name, &consumer_name).await?;
        admin.close().await;
        Ok(mb_per_sec(LARGE_SIZE, seconds))
    })
}
