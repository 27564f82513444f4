//! The metrics endpoint's IO: a tokio accept loop that answers each connection with one
//! response (see `http`) and closes it. Heads are bounded in size and time, connections in
//! number, so a slow or hostile client cannot hold the endpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::Metrics;
use super::http::{self, MAX_REQUEST_HEAD, Status};

/// Most connections served at once; further ones are closed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// A client must send its whole request head within this time.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// And take the response within this time.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// After answering, how long to wait for the client to close, and how much of its unread
/// input to drop meanwhile.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 * 1024;
/// After a failed accept (out of file descriptors, ...), wait this long before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Binds `addr` and serves `GET /metrics` there until the returned task is aborted.
/// Returns the bound address (useful with port 0) and the accept loop's task.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "metrics endpoint listening");
    let task = tokio::spawn(accept_loop(listener, metrics));
    Ok((local, task))
}

async fn accept_loop(listener: TcpListener, metrics: Arc<Metrics>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "metrics endpoint: accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "metrics endpoint: too many connections, closing");
            drop(stream);
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if let Err(error) = answer(stream, &metrics).await {
                tracing::debug!(%peer, %error, "metrics endpoint: connection ended");
            }
            drop(slot);
        });
    }
}

/// Reads one request head and writes one response.
async fn answer(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let reply = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Err(_elapsed) => return Ok(()),
        Ok(Err(error)) => return Err(error),
        Ok(Ok(Head::Closed)) => return Ok(()),
        Ok(Ok(Head::TooLarge)) => http::response(
            Status::RequestHeaderTooLarge,
            "text/plain; charset=utf-8",
            "request head too large\n",
            true,
        ),
        Ok(Ok(Head::Complete(head))) => match http::parse_request(&head) {
            Ok(request) => http::respond(&request, || metrics.encode()),
            Err(problem) => http::bad_request(&problem),
        },
    };
    tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(&reply).await?;
        stream.shutdown().await
    })
    .await
    .unwrap_or(Ok(()))?;
    // Closing with unread input makes the kernel send a reset, which can destroy the
    // response before the client reads it; read (a bounded amount of) what is left first.
    let _ = tokio::time::timeout(LINGER, drain(&mut stream)).await;
    Ok(())
}

/// Reads and drops up to [`LINGER_BYTES`] until the client closes.
async fn drain(stream: &mut TcpStream) {
    let mut chunk = [0u8; 4096];
    let mut total = 0;
    while total < LINGER_BYTES {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => total += read,
        }
    }
}

enum Head {
    Complete(Vec<u8>),
    TooLarge,
    /// The client closed before sending a full head (an empty connection, a port probe).
    Closed,
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<Head> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(if buffer.is_empty() {
                Head::Closed
            } else {
                // A partial head followed by EOF: answer it as what it is, malformed.
                Head::Complete(buffer)
            });
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = http::head_end(&buffer) {
            buffer.truncate(end);
            return Ok(Head::Complete(buffer));
        }
        if http::early_problem(&buffer).is_some() {
            return Ok(Head::Complete(buffer));
        }
        if buffer.len() > MAX_REQUEST_HEAD {
            return Ok(Head::TooLarge);
        }
    }
}
