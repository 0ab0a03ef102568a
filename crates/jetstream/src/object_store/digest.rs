//! Digests (`SHA-256=` + padded base64url, as nats.go writes them) and the errors a read
//! reports through `std::io`.

use std::io;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use crate::error::{Error, ErrorKind, Result};

/// Decodes digests padded or not, URL-safe (as written) or standard.
const URL_SAFE_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const STANDARD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `SHA-256=<base64url, padded>`.
pub(crate) fn format_digest(sha: &[u8]) -> String {
    format!("SHA-256={}", URL_SAFE.encode(sha))
}

/// Wraps an error for `AsyncRead`, keeping it reachable through `get_ref`/`into_inner`.
pub(crate) fn to_io(e: Error) -> io::Error {
    let kind = match e.kind() {
        ErrorKind::DigestMismatch => io::ErrorKind::InvalidData,
        ErrorKind::ObjectNotFound => io::ErrorKind::NotFound,
        ErrorKind::Timeout => io::ErrorKind::TimedOut,
        ErrorKind::ConnectionClosed => io::ErrorKind::ConnectionAborted,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

impl Error {
    /// The error an [`Object`](crate::Object) read failed with: the [`jetstream::Error`](crate::Error) it
    /// wraps, or an [`ErrorKind::Io`] error with the `io::Error` as its source.
    ///
    /// ```no_run
    /// # async fn run(mut object: jetstream::Object) {
    /// use tokio::io::AsyncReadExt;
    ///
    /// let mut data = Vec::new();
    /// if let Err(e) = object.read_to_end(&mut data).await {
    ///     let e = jetstream::Error::from_io(e);
    ///     if e.kind() == jetstream::ErrorKind::DigestMismatch {
    ///         eprintln!("corrupt object: {e}");
    ///     }
    /// }
    /// # }
    /// ```
    pub fn from_io(e: io::Error) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(Ok(inner)) = e.into_inner().map(|inner| inner.downcast::<Error>()) {
                return *inner;
            }
            return Error::msg(ErrorKind::Io, "object read failed");
        }
        Error::with_source(ErrorKind::Io, e)
    }
}

/// Compares the SHA-256 of what was read with the `SHA-256=<base64>` digest.
pub(crate) fn verify_digest(expected: Option<&str>, actual: &[u8]) -> Result<()> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let invalid = || {
        Error::msg(
            ErrorKind::InvalidResponse,
            format!("invalid object digest {expected:?}"),
        )
    };
    let (algorithm, value) = expected.split_once('=').ok_or_else(invalid)?;
    if !algorithm.eq_ignore_ascii_case("SHA-256") {
        return Err(invalid());
    }
    let decoded = URL_SAFE_ANY_PAD
        .decode(value)
        .or_else(|_| STANDARD_ANY_PAD.decode(value))
        .map_err(|_| invalid())?;
    if decoded != actual {
        return Err(Error::msg(
            ErrorKind::DigestMismatch,
            format!(
                "received a corrupt object: digest {} does not match {expected}",
                format_digest(actual)
            ),
        ));
    }
    Ok(())
}

pub(crate) fn corrupt(message: String) -> Error {
    Error::msg(ErrorKind::DigestMismatch, message)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn digest_format_is_padded_base64url() {
        let empty = Sha256::digest(b"");
        assert_eq!(
            format_digest(&empty),
            "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn digests_are_checked() {
        let sha = Sha256::digest(b"hello");
        let good = format_digest(&sha);
        verify_digest(Some(&good), &sha).unwrap();
        verify_digest(None, &sha).unwrap();
        // Unpadded and lower-case algorithm names are accepted.
        let unpadded = good.trim_end_matches('=').replacen("SHA-256", "sha-256", 1);
        verify_digest(Some(&unpadded), &sha).unwrap();
        let other = Sha256::digest(b"world");
        assert_eq!(
            verify_digest(Some(&good), &other).unwrap_err().kind(),
            ErrorKind::DigestMismatch
        );
        for bad in ["SHA-256", "MD5=abc", "SHA-256=!!!"] {
            assert_eq!(
                verify_digest(Some(bad), &sha).unwrap_err().kind(),
                ErrorKind::InvalidResponse,
                "{bad}"
            );
        }
    }

    #[test]
    fn io_errors_keep_the_jetstream_error() {
        let io = to_io(Error::msg(ErrorKind::DigestMismatch, "x"));
        assert_eq!(io.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            io.get_ref()
                .and_then(|e| e.downcast_ref::<Error>())
                .map(Error::kind),
            Some(ErrorKind::DigestMismatch)
        );
        assert_eq!(Error::from_io(io).kind(), ErrorKind::DigestMismatch);
        let plain = io::Error::new(io::ErrorKind::BrokenPipe, "pipe");
        assert_eq!(Error::from_io(plain).kind(), ErrorKind::Io);
    }
}
