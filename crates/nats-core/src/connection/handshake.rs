//! Establishing one connection: TCP, optional TLS, INFO, CONNECT, PING/PONG.

use std::sync::Arc;

use bytes::BytesMut;
use nats_wire::{
    encode_connect, encode_ping, encode_pong, ConnectInfo, Parser, ServerInfo, ServerOp,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::creds::KeyAuth;
use super::direct::{DirectWrite, TcpIo};
use super::pool::Target;
use super::{auth, tls};
use crate::error::{Error, ErrorKind};
use crate::options::ConnectOptions;

/// A byte stream to a server: plain TCP or TLS.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

pub(crate) type BoxIo = Box<dyn Transport>;

/// A connection that finished its handshake.
pub(crate) struct Established {
    pub io: BoxIo,
    /// The socket publishers may write to directly (plain TCP only).
    pub direct: Option<Arc<dyn DirectWrite>>,
    pub info: ServerInfo,
    /// Bytes read after the handshake's PONG, and the parser state for them.
    pub rbuf: BytesMut,
    pub parser: Parser,
}

/// Connects to `target` and completes the handshake within the connection
/// timeout. `key_auth` is the nkey/JWT secret loaded for this attempt.
pub(crate) async fn establish(
    target: &Target,
    opts: &ConnectOptions,
    key_auth: Option<&KeyAuth>,
) -> Result<Established, Error> {
    let addr = &target.addr;
    match tokio::time::timeout(
        opts.connection_timeout,
        establish_inner(target, opts, key_auth),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err(Error::with_detail(
            ErrorKind::Timeout,
            format!(
                "connecting to {addr} took longer than {:?}",
                opts.connection_timeout
            ),
        )),
    }
}

async fn establish_inner(
    target: &Target,
    opts: &ConnectOptions,
    key_auth: Option<&KeyAuth>,
) -> Result<Established, Error> {
    let addr = &target.addr;
    let tls_wanted = opts.tls.required || opts.tls.tls_first || addr.tls_required();
    // Certificate files are read (and their errors reported) before dialing.
    let mut tls_config = if tls_wanted {
        Some(tls::client_config(&opts.tls).await?)
    } else {
        None
    };
    let tcp = TcpStream::connect(addr.host_port()).await.map_err(|e| {
        Error::with_source(ErrorKind::Io, e).context(format!("connecting to {addr}"))
    })?;
    tcp.set_nodelay(true)?;
    let mut rbuf = BytesMut::with_capacity(64 * 1024);
    let mut parser = Parser::new();

    type Io = (BoxIo, Option<Arc<dyn DirectWrite>>);
    let ((mut io, direct), mut info, tls_used): (Io, ServerInfo, bool) = match tls_config.take() {
        Some(config) if opts.tls.tls_first => {
            let mut io = tls::upgrade(tcp, &target.tls_name, config).await?;
            let info = read_info(&mut io, &mut rbuf, &mut parser).await?;
            ((io, None), info, true)
        }
        config => {
            let mut tcp = tcp;
            let info = read_info(&mut tcp, &mut rbuf, &mut parser).await?;
            if tls_wanted && !(info.tls_required || info.tls_available) {
                return Err(Error::with_detail(
                    ErrorKind::Tls,
                    format!("TLS is required but the server at {addr} does not offer it"),
                ));
            }
            if tls_wanted || info.tls_required {
                // A server that requires TLS gets it even if the client did
                // not ask (as nats.go does), verified against the system roots.
                let config = match config {
                    Some(c) => c,
                    None => tls::client_config(&opts.tls).await?,
                };
                rbuf.clear();
                let io = tls::upgrade(tcp, &target.tls_name, config)
                    .await
                    .map_err(|e| {
                        if tls_wanted {
                            return e;
                        }
                        let detail = format!(
                            "the server at {addr} requires TLS, and the TLS handshake failed \
                             (use a tls:// URL or require_tls, and add_root_certificates for a \
                             private CA)"
                        );
                        e.context(detail)
                    })?;
                ((io, None), info, true)
            } else {
                // Plain TCP: publishers may write to it directly.
                let (io, direct) = TcpIo::new(tcp);
                ((Box::new(io) as BoxIo, Some(direct)), info, false)
            }
        }
    };

    let connect: ConnectInfo = auth::connect_info(opts, addr, &info, key_auth, tls_used)?;
    let mut out = BytesMut::with_capacity(512);
    encode_connect(&connect, &mut out);
    encode_ping(&mut out);
    io.write_all(&out).await.map_err(io_error)?;
    io.flush().await.map_err(io_error)?;

    loop {
        match next_op(&mut io, &mut rbuf, &mut parser).await? {
            ServerOp::Pong => break,
            ServerOp::Ok => {}
            ServerOp::Info(new) => info = *new,
            ServerOp::Ping => {
                let mut pong = BytesMut::new();
                encode_pong(&mut pong);
                io.write_all(&pong).await.map_err(io_error)?;
            }
            ServerOp::Err(text) => return Err(server_error(&text)),
            ServerOp::Msg(_) => {}
        }
    }
    Ok(Established {
        io,
        direct,
        info,
        rbuf,
        parser,
    })
}

/// An I/O error during the handshake; TLS alerts (a refused client
/// certificate, for example) become [`ErrorKind::Tls`].
fn io_error(e: std::io::Error) -> Error {
    if tls::is_tls_io_error(&e) {
        Error::with_source(ErrorKind::Tls, e).context("TLS failure during the handshake")
    } else {
        Error::from(e)
    }
}

async fn read_info<T: AsyncRead + Unpin>(
    io: &mut T,
    rbuf: &mut BytesMut,
    parser: &mut Parser,
) -> Result<ServerInfo, Error> {
    match next_op(io, rbuf, parser).await? {
        ServerOp::Info(info) => Ok(*info),
        ServerOp::Err(text) => Err(server_error(&text)),
        other => Err(Error::with_detail(
            ErrorKind::Protocol,
            format!("expected INFO from the server, got {other:?}"),
        )),
    }
}

async fn next_op<T: AsyncRead + Unpin>(
    io: &mut T,
    rbuf: &mut BytesMut,
    parser: &mut Parser,
) -> Result<ServerOp, Error> {
    loop {
        if let Some(op) = parser.parse(rbuf)? {
            return Ok(op);
        }
        rbuf.reserve(4096);
        if io.read_buf(rbuf).await.map_err(io_error)? == 0 {
            return Err(Error::with_detail(
                ErrorKind::Io,
                "the server closed the connection during the handshake",
            ));
        }
    }
}

/// Maps the text of a `-ERR` to an error.
pub(crate) fn server_error(text: &str) -> Error {
    let lower = text.to_ascii_lowercase();
    let kind = if is_auth_error(&lower) {
        ErrorKind::Authorization
    } else if lower.starts_with("permissions violation") {
        ErrorKind::PermissionDenied
    } else if lower.contains("tls required") {
        ErrorKind::Tls
    } else {
        ErrorKind::Protocol
    };
    Error::with_detail(kind, format!("server error: {text}"))
}

pub(crate) fn is_auth_error(lower: &str) -> bool {
    lower.starts_with("authorization violation")
        || lower.starts_with("user authentication expired")
        || lower.starts_with("user authentication revoked")
        || lower.starts_with("account authentication expired")
        || lower.starts_with("authentication timeout")
}
