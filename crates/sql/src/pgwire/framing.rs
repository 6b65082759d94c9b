//! [`Bounded`]: a client's socket that refuses any message longer than a limit before it is
//! buffered. pgwire accepts query messages up to 1 GiB, so without this one client could make the
//! endpoint hold a gigabyte; here the length word of every message is read as it arrives and an
//! oversized one ends the read with an error (which the connection loop answers, then closes).
//!
//! It does not decode messages (pgwire does); it only follows their framing: before the startup
//! message, untyped messages (a length word, then the body); after it, typed ones (a type byte, a
//! length word, the body). The only untyped messages of 8 bytes are the SSL and GSSAPI
//! encryption requests, which the startup message follows; any other untyped message is the
//! startup (or a cancel request, after which the connection closes).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The length of an SSL or GSSAPI encryption request: the untyped messages that come before the
/// startup message.
const NEGOTIATION_REQUEST_LENGTH: usize = 8;

/// A stream whose reads fail once the client announces a message longer than `limit` bytes.
pub(crate) struct Bounded<S> {
    inner: S,
    limit: usize,
    framing: Framing,
}

/// Where the reader is in the client's message stream.
#[derive(Debug, Default)]
struct Framing {
    /// Past the startup message: messages start with a type byte.
    typed: bool,
    /// The header bytes of the message being read (type byte and length word).
    header: [u8; 5],
    header_read: usize,
    /// Body bytes of the current message not yet seen.
    body_left: usize,
}

impl<S> Bounded<S> {
    pub(crate) fn new(inner: S, limit: usize) -> Self {
        Bounded { inner, limit, framing: Framing::default() }
    }
}

impl Framing {
    /// Follows `bytes` through the framing; an error names a message over `limit`.
    fn follow(&mut self, mut bytes: &[u8], limit: usize) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let skipped = self.body_left.min(bytes.len());
                self.body_left -= skipped;
                bytes = &bytes[skipped..];
                continue;
            }
            let header_len = if self.typed { 5 } else { 4 };
            let wanted = (header_len - self.header_read).min(bytes.len());
            self.header[self.header_read..self.header_read + wanted].copy_from_slice(&bytes[..wanted]);
            self.header_read += wanted;
            bytes = &bytes[wanted..];
            if self.header_read < header_len {
                continue;
            }
            let length_word = &self.header[header_len - 4..header_len];
            let length = u32::from_be_bytes([length_word[0], length_word[1], length_word[2], length_word[3]]) as usize;
            if length > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a message of {length} bytes is over this server's limit of {limit} bytes"),
                ));
            }
            if length < 4 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "invalid message length"));
            }
            if !self.typed && length != NEGOTIATION_REQUEST_LENGTH {
                self.typed = true;
            }
            self.body_left = length - 4;
            self.header_read = 0;
        }
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Bounded<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => Poll::Ready(this.framing.follow(&buf.filled()[before..], this.limit)),
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Bounded<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut message = vec![kind];
        message.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        message.extend_from_slice(body);
        message
    }

    #[test]
    fn follows_negotiation_startup_and_typed_messages_split_anywhere() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&8u32.to_be_bytes());
        stream.extend_from_slice(&80877103u32.to_be_bytes());
        stream.extend_from_slice(&13u32.to_be_bytes());
        stream.extend_from_slice(&196608u32.to_be_bytes());
        stream.extend_from_slice(b"ab\0\0\0");
        stream.extend(typed(b'Q', b"select 1\0"));
        stream.extend(typed(b'X', b""));
        for chunk in [1, 2, 3, 7, stream.len()] {
            let mut framing = Framing::default();
            for piece in stream.chunks(chunk) {
                framing.follow(piece, 64).unwrap();
            }
            assert!(framing.typed && framing.body_left == 0 && framing.header_read == 0, "chunks of {chunk}");
        }
    }

    #[test]
    fn refuses_a_message_over_the_limit_from_its_header() {
        let mut framing = Framing::default();
        let mut startup = 9u32.to_be_bytes().to_vec();
        startup.extend_from_slice(&[0, 3, 0, 0, 0]);
        framing.follow(&startup, 64).unwrap();
        let error = framing.follow(&[b'Q', 0, 0, 1, 0], 64).unwrap_err();
        assert!(error.to_string().contains("256 bytes"), "{error}");
        assert!(Framing::default().follow(b"GET / HTTP/1.1\r\n", 64).is_err());
    }
}
