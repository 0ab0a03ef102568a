//! Secrets for signature authentication: nkey seeds and `.creds` files.
//!
//! A `.creds` file holds a user JWT and the user's nkey seed, each in a fenced
//! block:
//!
//! ```text
//! -----BEGIN NATS USER JWT-----
//! eyJ0eXAiOiJKV1Qi...
//! ------END NATS USER JWT------
//!
//! -----BEGIN USER NKEY SEED-----
//! SUAM...
//! ------END USER NKEY SEED------
//! ```
//!
//! Nothing in here ever puts a seed, a JWT or a signature into an error
//! message or a log line; seeds are wiped from memory when dropped.

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind};
use crate::options::Auth;

/// The signing secret of one connection attempt, loaded from the options.
pub(crate) enum KeyAuth {
    /// NKey-only authentication: CONNECT carries the public key and a signature.
    Nkey { seed: Zeroizing<String> },
    /// JWT authentication: CONNECT carries the JWT and a signature.
    Jwt {
        jwt: Zeroizing<String>,
        seed: Zeroizing<String>,
    },
}

impl fmt::Debug for KeyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAuth::Nkey { .. } => f.write_str("KeyAuth::Nkey(<redacted>)"),
            KeyAuth::Jwt { .. } => f.write_str("KeyAuth::Jwt(<redacted>)"),
        }
    }
}

/// What signature authentication puts into CONNECT.
#[derive(Default)]
pub(crate) struct Signed {
    pub nkey: Option<String>,
    pub jwt: Option<String>,
    pub sig: Option<String>,
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("Signed")
            .field("nkey", &self.nkey)
            .field("jwt", &r(&self.jwt))
            .field("sig", &r(&self.sig))
            .finish()
    }
}

impl KeyAuth {
    /// Loads the signing secret the options name, if any: credentials (file or
    /// text) take precedence over an nkey seed. The credentials file is read
    /// now, so a missing or malformed file fails the connection attempt
    /// before anything is sent. Seeds are checked here too.
    pub(crate) async fn load(auth: &Auth) -> Result<Option<KeyAuth>, Error> {
        if let Some(path) = &auth.credentials_file {
            let text = read_file(path).await?;
            let (jwt, seed) = parse_creds(&text).map_err(|e| {
                let detail = format!(
                    "credentials file {}: {}",
                    path.display(),
                    e.detail().unwrap_or("malformed")
                );
                e.context(detail)
            })?;
            return Ok(Some(KeyAuth::Jwt { jwt, seed }));
        }
        if let Some(text) = &auth.credentials {
            let (jwt, seed) = parse_creds(text)?;
            return Ok(Some(KeyAuth::Jwt { jwt, seed }));
        }
        if let Some(seed) = &auth.nkey_seed {
            let seed = Zeroizing::new(seed.trim().to_string());
            key_pair(&seed)?;
            return Ok(Some(KeyAuth::Nkey { seed }));
        }
        Ok(None)
    }

    /// Signs the server's `nonce` and returns the CONNECT fields.
    pub(crate) fn sign(&self, nonce: Option<&str>) -> Result<Signed, Error> {
        match self {
            KeyAuth::Nkey { seed } => {
                let nonce = nonce.ok_or_else(|| {
                    Error::with_detail(
                        ErrorKind::Authorization,
                        "nkey authentication needs a nonce, but the server sent none",
                    )
                })?;
                let kp = key_pair(seed)?;
                Ok(Signed {
                    nkey: Some(kp.public_key()),
                    jwt: None,
                    sig: Some(sign_nonce(&kp, nonce)?),
                })
            }
            KeyAuth::Jwt { jwt, seed } => {
                let sig = match nonce {
                    Some(nonce) => Some(sign_nonce(&key_pair(seed)?, nonce)?),
                    None => None,
                };
                Ok(Signed {
                    nkey: None,
                    jwt: Some(jwt.to_string()),
                    sig,
                })
            }
        }
    }
}

async fn read_file(path: &Path) -> Result<Zeroizing<String>, Error> {
    let bytes = Zeroizing::new(tokio::fs::read(path).await.map_err(|e| {
        Error::with_source(ErrorKind::Io, e)
            .context(format!("cannot read credentials file {}", path.display()))
    })?);
    match std::str::from_utf8(&bytes) {
        Ok(s) => Ok(Zeroizing::new(s.to_string())),
        Err(_) => Err(Error::with_detail(
            ErrorKind::InvalidArgument,
            format!("credentials file {} is not UTF-8 text", path.display()),
        )),
    }
}

fn key_pair(seed: &str) -> Result<nkeys::KeyPair, Error> {
    // The nkeys error text never contains the seed, but say nothing of it anyway.
    nkeys::KeyPair::from_seed(seed).map_err(|_| {
        Error::with_detail(
            ErrorKind::InvalidArgument,
            "the nkey seed is not valid (expected an encoded seed such as SU...)",
        )
    })
}

/// Ed25519 signature of the nonce's bytes, base64url without padding.
fn sign_nonce(kp: &nkeys::KeyPair, nonce: &str) -> Result<String, Error> {
    let sig = kp.sign(nonce.as_bytes()).map_err(|_| {
        Error::with_detail(ErrorKind::InvalidArgument, "cannot sign the server nonce")
    })?;
    Ok(URL_SAFE_NO_PAD.encode(sig))
}

/// A fence line: at least three dashes, any text, at least three dashes.
fn is_fence(line: &str) -> bool {
    line.len() >= 6 && line.starts_with("---") && line.ends_with("---")
}

/// The content of a fenced block: `[A-Za-z0-9_.=-]+`.
fn is_token(line: &str) -> bool {
    !line.is_empty()
        && line
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'=' | b'-'))
}

/// Splits the text of a `.creds` file into the user JWT and the seed.
///
/// As nkeys does: the first fenced block is the JWT, the second the seed; with
/// no second block, the first line starting with `SU`, `SA` or `SO` is the seed.
pub(crate) fn parse_creds(text: &str) -> Result<(Zeroizing<String>, Zeroizing<String>), Error> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i + 2 < lines.len() && blocks.len() < 2 {
        if is_fence(lines[i]) && is_token(lines[i + 1]) && is_fence(lines[i + 2]) {
            blocks.push(lines[i + 1]);
            i += 3;
        } else {
            i += 1;
        }
    }
    let Some(jwt) = blocks.first() else {
        return Err(Error::with_detail(
            ErrorKind::InvalidArgument,
            "no user JWT found in the credentials",
        ));
    };
    let seed = match blocks.get(1) {
        Some(seed) => *seed,
        None => lines
            .iter()
            .copied()
            .find(|l| l.starts_with("SU") || l.starts_with("SA") || l.starts_with("SO"))
            .ok_or_else(|| {
                Error::with_detail(
                    ErrorKind::InvalidArgument,
                    "no nkey seed found in the credentials",
                )
            })?,
    };
    let seed = Zeroizing::new(seed.to_string());
    key_pair(&seed)?;
    Ok((Zeroizing::new(jwt.to_string()), seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(jwt: &str, seed: &str) -> String {
        format!(
            "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n"
        )
    }

    #[test]
    fn parses_decorated_creds() {
        let kp = nkeys::KeyPair::new_user();
        let seed = kp.seed().unwrap();
        let (jwt, got) = parse_creds(&creds("eyJhbGc.eyJzdWIi.c2ln-_", &seed)).unwrap();
        assert_eq!(jwt.as_str(), "eyJhbGc.eyJzdWIi.c2ln-_");
        assert_eq!(got.as_str(), seed);
        // CRLF line endings.
        let crlf = creds("a.b.c", &seed).replace('\n', "\r\n");
        assert_eq!(parse_creds(&crlf).unwrap().1.as_str(), seed);
    }

    #[test]
    fn seed_fallback_and_errors() {
        let kp = nkeys::KeyPair::new_user();
        let seed = kp.seed().unwrap();
        let text = format!("-----BEGIN JWT-----\na.b.c\n------END JWT------\n{seed}\n");
        assert_eq!(parse_creds(&text).unwrap().1.as_str(), seed);
        let e = parse_creds("nothing here").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        let e = parse_creds("-----A-----\na.b.c\n-----B-----\n").unwrap_err();
        assert!(e.to_string().contains("seed"), "{e}");
        let e = parse_creds(&creds("a.b.c", "SUNOTASEED")).unwrap_err();
        assert!(!e.to_string().contains("SUNOTASEED"), "{e}");
    }

    #[test]
    fn nkey_signature_verifies() {
        let kp = nkeys::KeyPair::new_user();
        let auth = KeyAuth::Nkey {
            seed: Zeroizing::new(kp.seed().unwrap()),
        };
        let signed = auth.sign(Some("nonce-123")).unwrap();
        assert_eq!(signed.nkey.as_deref(), Some(kp.public_key().as_str()));
        let sig = URL_SAFE_NO_PAD.decode(signed.sig.unwrap()).unwrap();
        assert_eq!(sig.len(), 64);
        kp.verify(b"nonce-123", &sig).unwrap();
        assert_eq!(
            auth.sign(None).unwrap_err().kind(),
            ErrorKind::Authorization
        );
        assert!(!format!("{auth:?}").contains(&kp.seed().unwrap()));
    }

    #[test]
    fn jwt_signature_and_no_nonce() {
        let kp = nkeys::KeyPair::new_user();
        let auth = KeyAuth::Jwt {
            jwt: Zeroizing::new("a.b.c".into()),
            seed: Zeroizing::new(kp.seed().unwrap()),
        };
        let signed = auth.sign(Some("n")).unwrap();
        assert_eq!(signed.jwt.as_deref(), Some("a.b.c"));
        assert!(signed.nkey.is_none());
        let sig = URL_SAFE_NO_PAD.decode(signed.sig.unwrap()).unwrap();
        kp.verify(b"n", &sig).unwrap();
        assert!(auth.sign(None).unwrap().sig.is_none());
    }
}
