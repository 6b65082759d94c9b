//! The PostgreSQL endpoint (`junction sql --listen ADDR`): the driver's tables served over the
//! PostgreSQL wire protocol, so `psql`, psycopg, DBeaver and BI tools query Infusionsoft with no
//! driver of ours installed. [`serve`] is the entry point.
//!
//! This module owns the listener and each client's message loop: accepting (at most
//! [`MAX_CLIENTS`] at a time), refusing encryption requests (no TLS), bounding message sizes, and
//! handing messages to pgwire's protocol machinery with our handlers. The rooms:
//! - [`auth`]: who may connect (loopback only without a password; MD5 with one);
//! - [`session`]: the simple and extended query protocols over a client's own [`Connection`];
//! - [`commands`]: what the endpoint answers itself (`BEGIN`, `SET`, `SHOW`, `version()`, …);
//! - [`values`]: types, text encoding, parameters, and errors with their SQLSTATE;
//! - [`framing`]: the message size bound.
//!
//! It does not own SQL (SQLite and the virtual tables do), nor the connection string or the
//! password file (the `junction` binary reads them). Not served: TLS, SCRAM, `COPY`, cancel
//! requests, binary result format, and the `pg_catalog` schema (psql's `\d` gets an error
//! response; query `sys_tables` and `sys_tablecolumns` instead).
//!
//! [`Connection`]: crate::Connection

mod auth;
mod commands;
mod framing;
mod session;
mod values;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ::pgwire::api::{ClientInfo, DefaultClient, NoopHandler, PgWireConnectionState};
use ::pgwire::error::{ErrorInfo, PgWireError};
use ::pgwire::messages::response::{GssEncResponse, SslResponse};
use ::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage, SslNegotiationMetaMessage};
use ::pgwire::tokio::server::{process_error, process_message, PgWireMessageServerCodec};
use domain::Secret;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::codec::Framed;

use crate::connection::Driver;
use auth::Gate;
use framing::Bounded;
use session::{Prepared, Session};
use values::fatal_error;

/// The most clients served at once; one more is told so (SQLSTATE 53300) and closed.
pub const MAX_CLIENTS: usize = 64;

/// The longest message a client may send (a query's text, a `Parse`, a `Bind` with its
/// parameters), in bytes; a longer one is refused and the client closed.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// How long a client has from connecting to being authenticated.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the endpoint waits to deliver a final error to a client that does not read it.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(5);

type Socket = Framed<Bounded<TcpStream>, PgWireMessageServerCodec<Prepared>>;

/// Serves `driver`'s tables to PostgreSQL clients connecting to `listener`, until the returned
/// future is dropped (which also ends every client's session).
///
/// Each client gets its own [`crate::Connection`] (its own SQLite database: temporary tables and
/// views are per client). With `password` `None`, any user and database name is accepted, but
/// only from a loopback address; with a password, every client must answer the MD5 password
/// challenge for it (any user name). Returns only when accepting fails for good (the listener is
/// broken); a failing client never ends it.
pub async fn serve(listener: TcpListener, driver: Driver, password: Option<Secret>) -> io::Result<()> {
    let password = password.map(Arc::new);
    let permits = Arc::new(Semaphore::new(MAX_CLIENTS));
    let mut clients = JoinSet::new();
    let mut pid: i32 = 0;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) if is_transient(&error) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(error) => return Err(error),
        };
        while clients.try_join_next().is_some() {}
        pid = pid.checked_add(1).unwrap_or(1);
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let (driver, password) = (driver.clone(), password.clone());
                clients.spawn(async move {
                    serve_client(stream, peer, Gate::new(password, pid), Session::new(driver)).await;
                    drop(permit);
                });
            }
            Err(_) => {
                clients.spawn(refuse_busy(stream));
            }
        }
    }
}

/// Accept errors that concern one connection or a passing shortage (of file descriptors, of
/// memory), after which the listener still works.
fn is_transient(error: &io::Error) -> bool {
    const ENOMEM: i32 = 12;
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    const ENOBUFS: i32 = 105;
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
    ) || matches!(error.raw_os_error(), Some(ENOMEM | ENFILE | EMFILE | ENOBUFS))
}

/// One client, from its first byte to its last: encryption negotiation (always refused), startup
/// and authentication ([`Gate`]), then queries ([`Session`]) until it leaves or breaks the
/// protocol.
async fn serve_client(stream: TcpStream, peer: SocketAddr, gate: Gate, session: Session) {
    // Nagle's delay would hold back each small response message.
    let _ = stream.set_nodelay(true);
    let (gate, session, ignored) = (Arc::new(gate), Arc::new(session), Arc::new(NoopHandler));
    let codec = PgWireMessageServerCodec::new(DefaultClient::new(peer, false));
    let mut socket: Socket = Framed::new(Bounded::new(stream, MAX_MESSAGE_BYTES), codec);
    let startup_deadline = tokio::time::sleep(STARTUP_TIMEOUT);
    tokio::pin!(startup_deadline);
    loop {
        let starting = matches!(
            socket.state(),
            PgWireConnectionState::AwaitingSslRequest
                | PgWireConnectionState::AwaitingStartup
                | PgWireConnectionState::AuthenticationInProgress
        );
        let next = if starting {
            tokio::select! {
                () = &mut startup_deadline => {
                    let late = fatal_error("08006", "the client did not authenticate in time");
                    return farewell(&mut socket, late).await;
                }
                next = socket.next() => next,
            }
        } else {
            socket.next().await
        };
        let message = match next {
            None => return,
            Some(Ok(message)) => message,
            Some(Err(error)) => {
                let garbled = fatal_error("08P01", format!("invalid message from the client: {error}"));
                return farewell(&mut socket, garbled).await;
            }
        };
        let reply = match message {
            PgWireFrontendMessage::Terminate(_) | PgWireFrontendMessage::CancelRequest(_) => return,
            PgWireFrontendMessage::SslNegotiation(SslNegotiationMetaMessage::PostgresSsl(_)) => {
                socket.send(PgWireBackendMessage::SslResponse(SslResponse::Refuse)).await
            }
            PgWireFrontendMessage::SslNegotiation(SslNegotiationMetaMessage::PostgresGss(_)) => {
                socket.send(PgWireBackendMessage::GssEncResponse(GssEncResponse::Refuse)).await
            }
            PgWireFrontendMessage::SslNegotiation(SslNegotiationMetaMessage::None) => {
                socket.set_state(PgWireConnectionState::AwaitingStartup);
                Ok(())
            }
            message => {
                let extended = message.is_extended_query();
                let handled = process_message(
                    message,
                    &mut socket,
                    gate.clone(),
                    session.clone(),
                    session.clone(),
                    ignored.clone(),
                    ignored.clone(),
                )
                .await;
                match handled {
                    Ok(()) => Ok(()),
                    Err(error) if error.is_fatal() => return farewell(&mut socket, error).await,
                    // The error response, then (simple protocol) ready for the next query, or
                    // (extended) skipping to the client's next Sync.
                    Err(error) => process_error(&mut socket, error, extended).await,
                }
            }
        };
        if reply.is_err() {
            return;
        }
    }
}

/// Sends a last error response and closes the connection.
async fn farewell(socket: &mut Socket, error: PgWireError) {
    let info = ErrorInfo::from(error);
    let _ = tokio::time::timeout(FAREWELL_TIMEOUT, async {
        socket.send(PgWireBackendMessage::ErrorResponse(info.into())).await?;
        socket.close().await
    })
    .await;
}

/// Tells a client over [`MAX_CLIENTS`] to come back later. Sent before reading anything: libpq
/// reports an error response in place of the answer to its SSL request.
async fn refuse_busy(stream: TcpStream) {
    let message = format!("too many clients: this endpoint serves {MAX_CLIENTS} at a time; try again later");
    let info = ErrorInfo::new("FATAL".into(), "53300".into(), message);
    let _ =
        tokio::time::timeout(FAREWELL_TIMEOUT, write_message(stream, PgWireBackendMessage::ErrorResponse(info.into())))
            .await;
}

async fn write_message<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    message: PgWireBackendMessage,
) -> io::Result<()> {
    let mut bytes = bytes::BytesMut::new();
    message.encode(&mut bytes).map_err(io::Error::other)?;
    stream.write_all(&bytes).await?;
    stream.shutdown().await
}
