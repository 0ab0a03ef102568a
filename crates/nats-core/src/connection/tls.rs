//! TLS upgrade of a TCP connection.

use tokio::net::TcpStream;

use super::handshake::BoxIo;
use crate::addr::ServerAddr;
use crate::error::{Error, ErrorKind};
use crate::options::ConnectOptions;

/// Runs the TLS handshake over `tcp`.
pub(crate) async fn upgrade(
    _tcp: TcpStream,
    addr: &ServerAddr,
    _opts: &ConnectOptions,
) -> Result<BoxIo, Error> {
    Err(Error::with_detail(
        ErrorKind::Tls,
        format!("TLS to {addr} is not supported by this build yet"),
    ))
}
