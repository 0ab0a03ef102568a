//! TLS: server authentication with a private CA, mutual TLS, TLS-first,
//! host name checks, and plain clients meeting TLS-only servers.
//!
//! Every test makes its own CA and certificates with rcgen, writes them into
//! a temporary directory and points the server's `tls { }` block at them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nats_core::{ConnectOptions, ErrorKind};
use nats_testkit::Server;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tempfile::TempDir;

use crate::reconnect::next_text;

/// A private CA with a server certificate (for `server_names`) and a client
/// certificate, as PEM files in a temporary directory.
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new(server_names: &[&str]) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "nats-core test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, cn: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let names = server_names.iter().map(|s| s.to_string()).collect();
        let (server_cert, server_key) = leaf(names, ExtendedKeyUsagePurpose::ServerAuth, "server");
        let (client_cert, client_key) =
            leaf(Vec::new(), ExtendedKeyUsagePurpose::ClientAuth, "client");
        // Another CA's client certificate, which the server must refuse.
        let rogue_key = KeyPair::generate().unwrap();
        let mut rogue = CertificateParams::new(Vec::<String>::new()).unwrap();
        rogue.distinguished_name.push(DnType::CommonName, "rogue");
        let rogue_cert = rogue.self_signed(&rogue_key).unwrap();

        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.pem", &ca_cert.pem());
        write("server.pem", &server_cert);
        write("server-key.pem", &server_key);
        write("client.pem", &client_cert);
        write("client-key.pem", &client_key);
        write("rogue.pem", &rogue_cert.pem());
        write("rogue-key.pem", &rogue_key.serialize_pem());
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The server's `tls { }` block, with `extra` lines inside.
    fn server_config(&self, extra: &str) -> String {
        let q = |p: &Path| format!("{:?}", p.display().to_string());
        format!(
            "tls {{\n  cert_file: {}\n  key_file: {}\n  ca_file: {}\n  timeout: 2\n  {extra}\n}}",
            q(&self.path("server.pem")),
            q(&self.path("server-key.pem")),
            q(&self.path("ca.pem")),
        )
    }

    fn client(&self) -> ConnectOptions {
        ConnectOptions::new()
            .connection_timeout(Duration::from_secs(3))
            .add_root_certificates(self.path("ca.pem"))
    }
}

fn tls_url(server: &Server) -> String {
    format!("tls://127.0.0.1:{}", server.port())
}

async fn round_trip(client: &nats_core::Client) {
    let mut sub = client.subscribe("tls.check").await.unwrap();
    client.publish("tls.check", "secure").await.unwrap();
    assert_eq!(next_text(&mut sub).await, "secure");
}

#[tokio::test]
async fn server_certificate_from_a_private_ca() {
    let pki = Pki::new(&["localhost", "127.0.0.1"]);
    let server = Server::builder().config(&pki.server_config("")).start();
    // tls:// with an IP address: checked against the IP SAN.
    let client = pki.client().connect(tls_url(&server)).await.unwrap();
    round_trip(&client).await;
    // A DNS name: SNI and the DNS SAN.
    let client = pki
        .client()
        .connect(format!("tls://localhost:{}", server.port()))
        .await
        .unwrap();
    round_trip(&client).await;
    // require_tls with a nats:// URL.
    let client = pki
        .client()
        .require_tls(true)
        .connect(server.url())
        .await
        .unwrap();
    round_trip(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_never_written_directly() {
    let pki = Pki::new(&["localhost", "127.0.0.1"]);
    let server = Server::builder().config(&pki.server_config("")).start();
    let client = pki.client().connect(tls_url(&server)).await.unwrap();
    let mut sub = client.subscribe("tls.direct").await.unwrap();
    client.flush().await.unwrap();
    // Lone publishes on an idle connection, each after a read: over plain
    // TCP they would be written by the caller.
    for i in 0..50 {
        client.publish("tls.direct", format!("m{i}")).await.unwrap();
        assert_eq!(next_text(&mut sub).await, format!("m{i}"));
    }
    assert_eq!(client.direct_writes(), 0);
}

#[tokio::test]
async fn a_certificate_for_another_host_is_rejected() {
    // The certificate names only `localhost`; the client dials 127.0.0.1.
    let pki = Pki::new(&["localhost"]);
    let server = Server::builder().config(&pki.server_config("")).start();
    let err = pki.client().connect(tls_url(&server)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(
        format!("{err}").to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unknown_ca_and_a_plain_client_get_tls_errors() {
    let pki = Pki::new(&["127.0.0.1"]);
    let server = Server::builder().config(&pki.server_config("")).start();
    // No CA given: the system roots do not know the test CA.
    let err = ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .connect(tls_url(&server))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    // A plain nats:// client meets a TLS-required server: it tries TLS (the
    // server insists), which fails the same clear way.
    let err = nats_core::connect(server.url()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    // A TLS client meeting a plain server.
    let plain = Server::new().start();
    let err = pki.client().connect(plain.url()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.to_string().contains("does not offer"), "{err}");
}

#[tokio::test]
async fn mutual_tls() {
    let pki = Pki::new(&["127.0.0.1"]);
    let server = Server::builder()
        .config(&pki.server_config("verify: true"))
        .start();
    let client = pki
        .client()
        .add_client_certificate(pki.path("client.pem"), pki.path("client-key.pem"))
        .connect(tls_url(&server))
        .await
        .unwrap();
    round_trip(&client).await;

    // Without a client certificate, or with one from another CA: refused.
    let err = pki.client().connect(tls_url(&server)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    let err = pki
        .client()
        .add_client_certificate(pki.path("rogue.pem"), pki.path("rogue-key.pem"))
        .connect(tls_url(&server))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn tls_first_handshake() {
    let pki = Pki::new(&["127.0.0.1"]);
    let server = Server::builder()
        .config(&pki.server_config("handshake_first: true"))
        .start();
    let client = pki
        .client()
        .tls_first()
        .connect(server.url())
        .await
        .unwrap();
    round_trip(&client).await;
    assert!(client.server_info().tls_required);
    // A classic client waits for an INFO that never comes.
    let err = pki
        .client()
        .connection_timeout(Duration::from_millis(500))
        .connect(tls_url(&server))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

#[tokio::test]
async fn certificate_files_are_read_at_connect() {
    let pki = Pki::new(&["127.0.0.1"]);
    let err = ConnectOptions::new()
        .add_root_certificates(pki.path("missing-ca.pem"))
        .connect("nats://127.0.0.1:1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.to_string().contains("missing-ca.pem"), "{err}");
    // Even when told to keep retrying in the background.
    let err = ConnectOptions::new()
        .add_root_certificates(pki.path("missing-ca.pem"))
        .retry_on_initial_connect()
        .connect("nats://127.0.0.1:1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    let err = ConnectOptions::new()
        .add_root_certificates(pki.path("ca.pem"))
        .add_client_certificate(pki.path("client.pem"), pki.path("ca.pem"))
        .connect("nats://127.0.0.1:1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.to_string().contains("ca.pem"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_over_tls_after_a_restart() {
    let pki = Pki::new(&["127.0.0.1"]);
    let mut server = Server::builder()
        .config(&pki.server_config("verify: true"))
        .start();
    let client = pki
        .client()
        .add_client_certificate(pki.path("client.pem"), pki.path("client-key.pem"))
        .reconnect_delay_callback(|_| Duration::from_millis(100))
        .connect(tls_url(&server))
        .await
        .unwrap();
    let mut sub = client.subscribe("tls.re").await.unwrap();
    client.flush().await.unwrap();
    tokio::task::block_in_place(|| server.stop());
    crate::reconnect::wait_state(
        &client,
        nats_core::State::Disconnected,
        Duration::from_secs(5),
    )
    .await;
    client.publish("tls.re", "buffered").await.unwrap();
    tokio::task::block_in_place(|| server.start());
    crate::reconnect::wait_state(
        &client,
        nats_core::State::Connected,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(next_text(&mut sub).await, "buffered");
    round_trip(&client).await;
}
