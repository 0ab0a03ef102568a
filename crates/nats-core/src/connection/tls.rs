//! TLS with rustls (ring provider): client configuration and the upgrade of a
//! TCP connection.
//!
//! The server certificate is verified against the system's root certificates
//! plus the ones given with
//! [`add_root_certificates`](crate::ConnectOptions::add_root_certificates),
//! for the host name of the URL (an IP address is checked against the
//! certificate's IP SANs). Certificate and key files are read at each
//! connection attempt, so their errors surface at connect.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

use super::handshake::BoxIo;
use crate::error::{Error, ErrorKind};
use crate::options::TlsOptions;

/// The system's root certificates, loaded once per process.
fn native_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let result = rustls_native_certs::load_native_certs();
        for e in &result.errors {
            tracing::debug!(error = %e, "could not load some system root certificates");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(result.certs);
        tracing::debug!(added, ignored, "loaded the system root certificates");
        roots
    })
}

fn tls_error(detail: impl Into<String>) -> Error {
    Error::with_detail(ErrorKind::Tls, detail)
}

async fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    tokio::fs::read(path).await.map_err(|e| {
        Error::with_source(ErrorKind::Io, e).context(format!(
            "cannot read the TLS {what} file {}",
            path.display()
        ))
    })
}

/// Builds the rustls client configuration from the options, reading the
/// certificate and key files.
pub(crate) async fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = native_roots().clone();
    for path in &opts.root_certificates {
        let pem = read_file(path, "root certificate").await?;
        let mut found = 0usize;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| {
                tls_error(format!(
                    "cannot parse the root certificate file {}: {e}",
                    path.display()
                ))
            })?;
            roots.add(cert).map_err(|e| {
                tls_error(format!("bad root certificate in {}: {e}", path.display()))
            })?;
            found += 1;
        }
        if found == 0 {
            return Err(tls_error(format!(
                "no certificate found in {}",
                path.display()
            )));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots);
    let config = match &opts.client_certificate {
        Some((cert_path, key_path)) => {
            let pem = read_file(cert_path, "client certificate").await?;
            let chain = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    tls_error(format!(
                        "cannot parse the client certificate file {}: {e}",
                        cert_path.display()
                    ))
                })?;
            if chain.is_empty() {
                return Err(tls_error(format!(
                    "no certificate found in {}",
                    cert_path.display()
                )));
            }
            let key_pem = zeroize::Zeroizing::new(read_file(key_path, "client key").await?);
            // The parse error names the PEM section at most, never key bytes.
            let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
                tls_error(format!(
                    "cannot parse the private key file {}: {e}",
                    key_path.display()
                ))
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                tls_error(format!(
                    "the client certificate {} and key {} do not go together: {e}",
                    cert_path.display(),
                    key_path.display()
                ))
            })?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Runs the TLS handshake over `io`, verifying the server certificate for
/// `host` (a DNS name or an IP address).
pub(crate) async fn upgrade<T>(io: T, host: &str, config: Arc<ClientConfig>) -> Result<BoxIo, Error>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| tls_error(format!("{host:?} is not a valid TLS server name")))?;
    let stream = TlsConnector::from(config)
        .connect(name, io)
        .await
        .map_err(|e| {
            Error::with_source(ErrorKind::Tls, e)
                .context(format!("TLS handshake with {host} failed"))
        })?;
    Ok(Box::new(stream))
}

/// True if `e` is (or wraps) a TLS protocol error, such as an alert the
/// server sent after the handshake because it refused the client certificate.
pub(crate) fn is_tls_io_error(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}
