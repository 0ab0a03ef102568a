//! Building CONNECT, credentials included.

use nats_wire::{ConnectInfo, ServerInfo};

use crate::addr::ServerAddr;
use crate::error::{Error, ErrorKind};
use crate::options::ConnectOptions;

/// The CONNECT body for `addr`, with the credentials from the options (or,
/// failing those, from the URL).
pub(crate) fn connect_info(
    opts: &ConnectOptions,
    addr: &ServerAddr,
    info: &ServerInfo,
) -> Result<ConnectInfo, Error> {
    let mut c = ConnectInfo {
        verbose: false,
        pedantic: false,
        tls_required: opts.tls.required || addr.tls_required(),
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
    if a.nkey_seed.is_some() || a.credentials_file.is_some() || a.credentials.is_some() {
        return Err(Error::with_detail(
            ErrorKind::InvalidArgument,
            "nkey and credentials authentication are not supported by this build yet",
        ));
    }
    if let (Some(user), Some(pass)) = (&a.user, &a.password) {
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
