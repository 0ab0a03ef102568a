//! The JSON bodies of `INFO` (server to client) and `CONNECT` (client to server).

use serde::{Deserialize, Serialize};

/// What a server says about itself in `INFO`.
///
/// Every field has a default, and unknown fields are ignored, so INFO from any
/// server version parses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The server's unique id.
    pub server_id: String,
    /// The server's name.
    pub server_name: String,
    /// The server version, e.g. `2.14.6`.
    pub version: String,
    /// The Go version the server was built with.
    pub go: String,
    /// The host the server listens on.
    pub host: String,
    /// The port the server listens on.
    pub port: u16,
    /// Whether the server supports headers (`HPUB`/`HMSG`).
    pub headers: bool,
    /// The largest payload (headers included) the server accepts, in bytes.
    pub max_payload: usize,
    /// The protocol level; 1 means async INFO and `echo` are understood.
    pub proto: i32,
    /// The server's id for this connection.
    pub client_id: u64,
    /// This connection's address as the server sees it.
    pub client_ip: String,
    /// Whether the server requires authentication.
    pub auth_required: bool,
    /// Whether the server requires TLS.
    pub tls_required: bool,
    /// Whether the server asks for a client certificate.
    pub tls_verify: bool,
    /// Whether TLS is possible but optional.
    pub tls_available: bool,
    /// Other servers of the cluster a client may connect to (`host:port`).
    pub connect_urls: Vec<String>,
    /// Websocket URLs of the cluster.
    pub ws_connect_urls: Vec<String>,
    /// Set when the server has entered lame duck mode.
    #[serde(rename = "ldm")]
    pub lame_duck_mode: bool,
    /// Whether JetStream is enabled on this server.
    pub jetstream: bool,
    /// The nonce to sign for nkey or JWT authentication.
    pub nonce: Option<String>,
    /// The cluster name.
    pub cluster: Option<String>,
    /// The JetStream domain of this server.
    pub domain: Option<String>,
    /// The JetStream API level the server implements (2.12+).
    #[serde(rename = "api_lvl")]
    pub api_level: u32,
    /// The git commit of the server build.
    pub git_commit: String,
}

impl ServerInfo {
    /// Parses the JSON of an `INFO` line.
    pub fn from_json(json: &[u8]) -> Result<ServerInfo, serde_json::Error> {
        serde_json::from_slice(json)
    }
}

/// What the client sends in `CONNECT`.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConnectInfo {
    /// Ask for `+OK` after every operation; clients send `false`.
    pub verbose: bool,
    /// Stricter server-side checks.
    pub pedantic: bool,
    /// The client wants TLS.
    pub tls_required: bool,
    /// Connection name, shown in monitoring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Implementation language.
    pub lang: String,
    /// Client library version.
    pub version: String,
    /// Protocol level; 1 allows async INFO.
    pub protocol: u8,
    /// Whether the server may deliver this connection's own messages back to it.
    pub echo: bool,
    /// Header support.
    pub headers: bool,
    /// Ask for 503 status replies when a request has no responders.
    pub no_responders: bool,
    /// Username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    /// Token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// Public user nkey (nkey-only authentication).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nkey: Option<String>,
    /// User JWT (decentralized authentication).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    /// Signature of the server nonce, base64url without padding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

impl std::fmt::Debug for ConnectInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("ConnectInfo")
            .field("verbose", &self.verbose)
            .field("pedantic", &self.pedantic)
            .field("tls_required", &self.tls_required)
            .field("name", &self.name)
            .field("lang", &self.lang)
            .field("version", &self.version)
            .field("protocol", &self.protocol)
            .field("echo", &self.echo)
            .field("headers", &self.headers)
            .field("no_responders", &self.no_responders)
            .field("user", &self.user)
            .field("pass", &redact(&self.pass))
            .field("auth_token", &redact(&self.auth_token))
            .field("nkey", &self.nkey)
            .field("jwt", &redact(&self.jwt))
            .field("sig", &redact(&self.sig))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_parses_with_unknown_and_missing_fields() {
        let json = br#"{"server_id":"NAB","server_name":"n1","version":"2.14.6","proto":1,
            "headers":true,"max_payload":1048576,"jetstream":true,"client_id":5,
            "connect_urls":["127.0.0.1:4223"],"ldm":true,"api_lvl":4,"brand_new":{"x":1}}"#;
        let info = ServerInfo::from_json(json).unwrap();
        assert_eq!(info.max_payload, 1048576);
        assert!(info.headers && info.jetstream && info.lame_duck_mode);
        assert_eq!(info.connect_urls, ["127.0.0.1:4223"]);
        assert_eq!(info.api_level, 4);
        let minimal = ServerInfo::from_json(b"{}").unwrap();
        assert_eq!(minimal.max_payload, 0);
    }

    #[test]
    fn connect_omits_empty_credentials_and_redacts_debug() {
        let c = ConnectInfo {
            lang: "rust".into(),
            version: "0.1.0".into(),
            protocol: 1,
            headers: true,
            no_responders: true,
            echo: true,
            pass: Some("hunter2".into()),
            user: Some("bob".into()),
            ..Default::default()
        };
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""pass":"hunter2""#));
        assert!(!json.contains("auth_token"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
