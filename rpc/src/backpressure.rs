//! A connection that stops reading requests while it cannot write answers.
//!
//! jsonrpsee's WebSocket loop reads every message and starts its call at once; each finished
//! call then waits, holding its answer, for room in the connection's buffer. A client that
//! sends requests and never reads the answers therefore made the node hold answers without
//! limit (the soak measured 35 MB to 5.6 GB in 27 s). Wrapping the socket so that a read waits
//! while a write is pending (the kernel's send buffer is full because the client is not
//! reading) gives WebSocket the backpressure HTTP/1 has by construction: no new request is read
//! from a client until it takes what it was already sent.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `inner` with reads held back while a write is pending.
pub struct Backpressured<T> {
    inner: T,
    write_blocked: bool,
    parked_reader: Option<Waker>,
}

impl<T> Backpressured<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            write_blocked: false,
            parked_reader: None,
        }
    }

    /// Records how a write went: a pending write parks readers, progress releases them.
    fn after_write<R>(&mut self, result: Poll<R>) -> Poll<R> {
        match &result {
            Poll::Pending => self.write_blocked = true,
            Poll::Ready(_) => {
                self.write_blocked = false;
                if let Some(reader) = self.parked_reader.take() {
                    reader.wake();
                }
            }
        }
        result
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Backpressured<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.write_blocked {
            this.parked_reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Backpressured<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        this.after_write(result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_shutdown(cx);
        // A shutdown ends the conversation: let a parked reader see the end.
        if let Some(reader) = this.parked_reader.take() {
            reader.wake();
        }
        this.write_blocked = false;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// With a tiny pipe, a write that cannot finish parks the reader; once the other side
    /// drains the pipe, the write finishes and the read proceeds.
    #[tokio::test]
    async fn a_read_waits_while_a_write_is_pending() {
        let (ours, mut theirs) = tokio::io::duplex(8);
        let (mut read_half, mut write_half) = tokio::io::split(Backpressured::new(ours));
        theirs.write_all(b"request").await.unwrap();
        // Fill the pipe and leave a write pending.
        let writer = tokio::spawn(async move {
            write_half.write_all(&[7u8; 64]).await.unwrap();
            write_half
        });
        tokio::task::yield_now().await;
        let mut byte = [0u8; 1];
        let parked = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            read_half.read_exact(&mut byte),
        )
        .await;
        assert!(parked.is_err(), "read while the write was pending");
        let mut drained = vec![0u8; 64];
        theirs.read_exact(&mut drained).await.unwrap();
        writer.await.unwrap();
        read_half.read_exact(&mut byte).await.unwrap();
        assert_eq!(&byte, b"r");
    }
}
