//! Direct writes: on a plain TCP connection the socket's write half is shared
//! between the connection task and publishers, so that a lone publish on an
//! idle connection is written by the publisher itself (see
//! [`Shared::write`](crate::shared::Shared)) instead of waking the task.
//!
//! Both write through `&self` (`poll_write_ready` + `try_write`): there is no
//! second file descriptor, and the write lock decides who may write when.
//! TLS connections are never shared (the TLS state belongs to the task).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// A socket a publisher may write to without waiting: a non-blocking write
/// that takes what fits now.
pub(crate) trait DirectWrite: Send + Sync {
    /// Writes what fits without blocking; `WouldBlock` when nothing does.
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
}

impl DirectWrite for OwnedWriteHalf {
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        OwnedWriteHalf::try_write(self, buf)
    }
}

/// A plain TCP connection as the connection task sees it: the read half of
/// its own, the write half shared with direct writers.
pub(crate) struct TcpIo {
    read: OwnedReadHalf,
    write: Arc<OwnedWriteHalf>,
}

impl TcpIo {
    /// Splits `tcp` into the task's I/O and the handle direct writers use.
    pub(crate) fn new(tcp: TcpStream) -> (TcpIo, Arc<dyn DirectWrite>) {
        let (read, write) = tcp.into_split();
        let write = Arc::new(write);
        let direct: Arc<dyn DirectWrite> = write.clone();
        (TcpIo { read, write }, direct)
    }

    fn stream(&self) -> &TcpStream {
        (*self.write).as_ref()
    }
}

impl AsyncRead for TcpIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.stream().poll_write_ready(cx))?;
            match self.write.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.stream().poll_write_ready(cx))?;
            match self.write.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // TCP has no user-space buffer to flush.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The write half shuts the socket's sending side down when the last
        // handle to it is dropped (the task's and the write state's).
        Poll::Ready(Ok(()))
    }
}
