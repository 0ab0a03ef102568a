//! Authentication: user/password, token, nkey, JWT credentials, refused
//! credentials at connect and while reconnecting, secrets kept out of `Debug`.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nats_core::{ConnectOptions, ErrorKind, Event, State};
use nats_testkit::Server;
use nkeys::KeyPair;
use serde_json::json;

use crate::reconnect::{next_text, wait_event, wait_state, with_events};

/// Publishes and receives one message: the connection really works.
async fn round_trip(client: &nats_core::Client) {
    let mut sub = client.subscribe("auth.check").await.unwrap();
    client.publish("auth.check", "ok").await.unwrap();
    assert_eq!(next_text(&mut sub).await, "ok");
}

async fn connect_err(opts: ConnectOptions, url: &str) -> nats_core::Error {
    opts.connection_timeout(Duration::from_secs(3))
        .connect(url)
        .await
        .expect_err("the connection must be refused")
}

#[tokio::test]
async fn user_and_password_from_options_and_url() {
    let server = Server::builder()
        .config("authorization { user: alice, password: \"s3cr3t pw\" }")
        .start();
    let client = ConnectOptions::new()
        .user_and_password("alice", "s3cr3t pw")
        .connect(server.url())
        .await
        .unwrap();
    round_trip(&client).await;
    let client = nats_core::connect(server.client_url_with("alice:s3cr3t%20pw"))
        .await
        .unwrap();
    round_trip(&client).await;

    let err = connect_err(
        ConnectOptions::new().user_and_password("alice", "wrong"),
        &server.url(),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
    assert!(!err.to_string().contains("wrong"));
    let err = connect_err(ConnectOptions::new(), &server.url()).await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
}

#[tokio::test]
async fn token_from_options_and_url() {
    let server = Server::builder()
        .config("authorization { token: t0k3n }")
        .start();
    let client = ConnectOptions::new()
        .token("t0k3n")
        .connect(server.url())
        .await
        .unwrap();
    round_trip(&client).await;
    let client = nats_core::connect(server.client_url_with("t0k3n"))
        .await
        .unwrap();
    round_trip(&client).await;
    let err = connect_err(ConnectOptions::new().token("nope"), &server.url()).await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
}

#[tokio::test]
async fn nkey_signs_the_nonce() {
    let user = KeyPair::new_user();
    let server = Server::builder()
        .config(&format!(
            "authorization {{ users: [ {{ nkey: {} }} ] }}",
            user.public_key()
        ))
        .start();
    let client = ConnectOptions::new()
        .nkey(user.seed().unwrap())
        .connect(server.url())
        .await
        .unwrap();
    round_trip(&client).await;

    let stranger = KeyPair::new_user();
    let err = connect_err(
        ConnectOptions::new().nkey(stranger.seed().unwrap()),
        &server.url(),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");

    // A malformed seed fails before any server is contacted, without echoing it.
    let err = connect_err(ConnectOptions::new().nkey("SUNOTAREALSEED"), &server.url()).await;
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(!err.to_string().contains("SUNOTAREALSEED"));
}

/// Encodes and signs a NATS JWT (`ed25519-nkey`), as `nsc` would.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "jti": format!("T{}", KeyPair::new_user().public_key()),
        "iat": now,
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{claims}");
    let sig = issuer.sign(signing_input.as_bytes()).unwrap();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// An operator-mode setup: the server configuration (operator JWT, memory
/// resolver preloaded with one account) and a function minting user creds.
struct Operator {
    config: String,
    account: KeyPair,
}

impl Operator {
    fn new() -> Operator {
        let operator = KeyPair::new_operator();
        let account = KeyPair::new_account();
        let op_jwt = jwt(
            &operator,
            &operator.public_key(),
            "test-operator",
            json!({"type": "operator", "version": 2}),
        );
        let acct_jwt = jwt(
            &operator,
            &account.public_key(),
            "test-account",
            json!({
                "type": "account",
                "version": 2,
                "limits": {
                    "subs": -1, "data": -1, "payload": -1, "imports": -1,
                    "exports": -1, "wildcards": true, "conn": -1, "leaf": -1
                }
            }),
        );
        let config = format!(
            "operator: {op_jwt}\nresolver: MEMORY\nresolver_preload: {{\n  {}: {acct_jwt}\n}}\n",
            account.public_key()
        );
        Operator { config, account }
    }

    /// A decorated `.creds` text for a new user of `account`, and the user key.
    fn user_creds(account: &KeyPair) -> (String, KeyPair) {
        let user = KeyPair::new_user();
        let user_jwt = jwt(
            account,
            &user.public_key(),
            "test-user",
            json!({"type": "user", "version": 2, "subs": -1, "data": -1, "payload": -1}),
        );
        let text = format!(
            "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\
             NKEYs are sensitive and should be treated as secrets.\n\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n",
            user.seed().unwrap()
        );
        (text, user)
    }
}

#[tokio::test]
async fn credentials_file_and_text_with_operator_jwts() {
    let op = Operator::new();
    let server = Server::builder().config(&op.config).start();
    let (creds, _user) = Operator::user_creds(&op.account);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.creds");
    std::fs::write(&path, &creds).unwrap();

    let client = ConnectOptions::new()
        .credentials_file(&path)
        .connect(server.url())
        .await
        .unwrap();
    round_trip(&client).await;
    let client = ConnectOptions::new()
        .credentials(creds.clone())
        .connect(server.url())
        .await
        .unwrap();
    round_trip(&client).await;

    // A user signed by an account the server does not know.
    let (foreign, _) = Operator::user_creds(&KeyPair::new_account());
    let err = connect_err(ConnectOptions::new().credentials(foreign), &server.url()).await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");

    // The right JWT with the wrong seed: the nonce signature does not verify.
    let (_, other) = Operator::user_creds(&op.account);
    let jwt_line = creds.lines().nth(1).unwrap();
    let mixed = format!(
        "-----BEGIN NATS USER JWT-----\n{jwt_line}\n------END NATS USER JWT------\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
        other.seed().unwrap()
    );
    let err = connect_err(ConnectOptions::new().credentials(mixed), &server.url()).await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
}

#[tokio::test]
async fn missing_or_malformed_credentials_fail_at_connect_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.creds");
    // No server is needed: the file is read before dialing.
    let err = ConnectOptions::new()
        .credentials_file(&missing)
        .connect("nats://127.0.0.1:1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.to_string().contains("nope.creds"), "{err}");

    let garbage = dir.path().join("garbage.creds");
    std::fs::write(&garbage, "not a creds file").unwrap();
    let err = ConnectOptions::new()
        .credentials_file(&garbage)
        .connect("nats://127.0.0.1:1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("garbage.creds"), "{err}");
    // Even when told to keep retrying in the background.
    let err = ConnectOptions::new()
        .credentials_file(&missing)
        .retry_on_initial_connect()
        .connect("nats://127.0.0.1:1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_while_reconnecting_are_reported_as_client_errors() {
    let mut server = Server::builder()
        .config("authorization { token: first }")
        .start();
    let (opts, mut events) = with_events(
        ConnectOptions::new()
            .token("first")
            .reconnect_delay_callback(|_| Duration::from_millis(100)),
    );
    let client = opts.connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("tok").await.unwrap();
    client.flush().await.unwrap();

    // The server changes its token: the client is dropped and refused.
    server
        .reload_config("authorization { token: second }")
        .unwrap();
    let seen = wait_event(
        &mut events,
        |e| matches!(e, Event::ClientError(m) if m.contains("authorization")),
        Duration::from_secs(10),
    )
    .await;
    assert!(seen.contains(&Event::Disconnected), "{seen:?}");
    assert_ne!(client.connection_state(), State::Connected);
    for e in &seen {
        assert!(!e.to_string().contains("first"), "secret in event {e}");
    }

    // The old token is accepted again: the client comes back by itself.
    server
        .reload_config("authorization { token: first }")
        .unwrap();
    wait_state(&client, State::Connected, Duration::from_secs(10)).await;
    client.publish("tok", "back").await.unwrap();
    assert_eq!(next_text(&mut sub).await, "back");
}

#[tokio::test]
async fn debug_output_never_shows_secrets() {
    let seed = KeyPair::new_user().seed().unwrap();
    let (creds, _) = Operator::user_creds(&KeyPair::new_account());
    let opts = ConnectOptions::new()
        .user_and_password("alice", "pa55word")
        .token("t0k3n-secret")
        .nkey(seed.clone())
        .credentials(creds.clone())
        .credentials_file("/etc/app/user.creds");
    let debug = format!("{opts:?}");
    for secret in ["pa55word", "t0k3n-secret", seed.as_str()] {
        assert!(!debug.contains(secret), "{debug}");
    }
    for line in creds.lines().filter(|l| l.len() > 20) {
        assert!(!debug.contains(line), "{debug}");
    }
    assert!(
        debug.contains("<redacted>") && debug.contains("alice"),
        "{debug}"
    );
    assert!(debug.contains("user.creds"), "{debug}");
    let pretty = format!("{opts:#?}");
    assert!(!pretty.contains("pa55word") && !pretty.contains(seed.as_str()));
}
