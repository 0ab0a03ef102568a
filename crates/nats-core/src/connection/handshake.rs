//! Establishing one connection: TCP, optional TLS, INFO, CONNECT, PING/PONG.

use bytes::BytesMut;
use nats_wire::{
    encode_connect, encode_ping, encode_pong, ConnectInfo, Parser, ServerInfo, ServerOp,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{auth, tls};
use crate::addr::ServerAddr;
use crate::error::{Error, ErrorKind};
use crate::options::ConnectOptions;

/// A byte stream to a server: plain TCP or TLS.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

pub(crate) type BoxIo = Box<dyn Transport>;

/// A connection that finished its handshake.
pub(crate) struct Established {
    pub io: BoxIo,
    pub info: ServerInfo,
    /// Bytes read after the handshake's PONG, and the parser state for them.
    pub rbuf: BytesMut,
    pub parser: Parser,
}

/// Connects to `addr` and completes the handshake within the connection timeout.
pub(crate) async fn establish(
    addr: &ServerAddr,
    opts: &ConnectOptions,
) -> Result<Established, Error> {
    match tokio::time::timeout(opts.connection_timeout, establish_inner(addr, opts)).await {
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

async fn establish_inner(addr: &ServerAddr, opts: &ConnectOptions) -> Result<Established, Error> {
    let tcp = TcpStream::connect(addr.host_port()).await.map_err(|e| {
        Error::with_source(ErrorKind::Io, e).context(format!("connecting to {addr}"))
    })?;
    tcp.set_nodelay(true)?;
    let mut rbuf = BytesMut::with_capacity(64 * 1024);
    let mut parser = Parser::new();
    let tls_wanted = opts.tls.required || addr.tls_required();

    let (mut io, mut info): (BoxIo, ServerInfo) = if opts.tls.tls_first {
        let mut io = tls::upgrade(tcp, addr, opts).await?;
        let info = read_info(&mut io, &mut rbuf, &mut parser).await?;
        (io, info)
    } else {
        let mut tcp = tcp;
        let info = read_info(&mut tcp, &mut rbuf, &mut parser).await?;
        if tls_wanted || info.tls_required {
            if !(info.tls_required || info.tls_available) {
                return Err(Error::with_detail(
                    ErrorKind::Tls,
                    format!("TLS is required but the server at {addr} does not offer it"),
                ));
            }
            rbuf.clear();
            (tls::upgrade(tcp, addr, opts).await?, info)
        } else {
            (Box::new(tcp) as BoxIo, info)
        }
    };

    let connect: ConnectInfo = auth::connect_info(opts, addr, &info)?;
    let mut out = BytesMut::with_capacity(512);
    encode_connect(&connect, &mut out);
    encode_ping(&mut out);
    io.write_all(&out).await?;
    io.flush().await?;

    loop {
        match next_op(&mut io, &mut rbuf, &mut parser).await? {
            ServerOp::Pong => break,
            ServerOp::Ok => {}
            ServerOp::Info(new) => info = *new,
            ServerOp::Ping => {
                let mut pong = BytesMut::new();
                encode_pong(&mut pong);
                io.write_all(&pong).await?;
            }
            ServerOp::Err(text) => return Err(server_error(&text)),
            ServerOp::Msg(_) => {}
        }
    }
    Ok(Established {
        io,
        info,
        rbuf,
        parser,
    })
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
        if io.read_buf(rbuf).await? == 0 {
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
