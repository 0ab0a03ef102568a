//! Building CONNECT, credentials included.
//!
//! Precedence: credentials (file or text, JWT + signature) > nkey seed
//! (public key + signature) > user/password > token, each from the options;
//! failing all of those, the user info of the URL (`nats://u:p@h` is
//! user/password, `nats://tok@h` a token).

use nats_wire::{ConnectInfo, ServerInfo};

use super::creds::KeyAuth;
use crate::addr::ServerAddr;
use crate::error::Error;
use crate::options::ConnectOptions;

/// The CONNECT body for `addr`, with the credentials from the options (or,
/// failing those, from the URL). `key_auth` is the signing secret loaded for
/// this attempt; `tls` says whether the connection is encrypted.
pub(crate) fn connect_info(
    opts: &ConnectOptions,
    addr: &ServerAddr,
    info: &ServerInfo,
    key_auth: Option<&KeyAuth>,
    tls: bool,
) -> Result<ConnectInfo, Error> {
    let mut c = ConnectInfo {
        verbose: false,
        pedantic: false,
        tls_required: tls,
        name: opts.name.clone(),
        lang: "rust".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        protocol: 1,
        echo: !opts.no_echo,
        headers: info.headers,
        no_responders: info.headers,
        ..Default::default()
    };
    let a = &opts.auth;
    if let Some(key_auth) = key_auth {
        let signed = key_auth.sign(info.nonce.as_deref())?;
        c.nkey = signed.nkey;
        c.jwt = signed.jwt;
        c.sig = signed.sig;
    } else if let (Some(user), Some(pass)) = (&a.user, &a.password) {
        c.user = Some(user.clone());
        c.pass = Some(pass.clone());
    } else if let Some(token) = &a.token {
        c.auth_token = Some(token.clone());
    } else if let (Some(user), Some(pass)) = (addr.username(), addr.password()) {
        c.user = Some(user.to_string());
        c.pass = Some(pass.to_string());
    } else if let Some(token) = addr.token() {
        c.auth_token = Some(token.to_string());
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn info(nonce: Option<&str>) -> ServerInfo {
        let json = match nonce {
            Some(n) => format!(r#"{{"headers":true,"nonce":"{n}"}}"#),
            None => r#"{"headers":true}"#.to_string(),
        };
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn url_credentials_are_the_fallback() {
        let addr: ServerAddr = "nats://bob:pw@h:1".parse().unwrap();
        let opts = ConnectOptions::new();
        let c = connect_info(&opts, &addr, &info(None), None, false).unwrap();
        assert_eq!(
            (c.user.as_deref(), c.pass.as_deref()),
            (Some("bob"), Some("pw"))
        );
        let opts = ConnectOptions::new().token("t");
        let c = connect_info(&opts, &addr, &info(None), None, true).unwrap();
        assert_eq!(c.auth_token.as_deref(), Some("t"));
        assert!(c.user.is_none() && c.tls_required && c.headers && c.no_responders);
        let addr: ServerAddr = "nats://tok@h:1".parse().unwrap();
        let c = connect_info(&ConnectOptions::new(), &addr, &info(None), None, false).unwrap();
        assert_eq!(c.auth_token.as_deref(), Some("tok"));
    }

    #[test]
    fn nkey_goes_in_connect_and_json_has_no_seed() {
        let kp = nkeys::KeyPair::new_user();
        let seed = kp.seed().unwrap();
        let addr: ServerAddr = "h:1".parse().unwrap();
        let key = KeyAuth::Nkey {
            seed: Zeroizing::new(seed.clone()),
        };
        let opts = ConnectOptions::new().user_and_password("ignored", "ignored");
        let c = connect_info(&opts, &addr, &info(Some("abc")), Some(&key), false).unwrap();
        assert_eq!(c.nkey.as_deref(), Some(kp.public_key().as_str()));
        assert!(c.sig.is_some() && c.user.is_none() && c.jwt.is_none());
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains(&seed));
        assert!(!format!("{c:?}").contains(&seed));
    }
}
