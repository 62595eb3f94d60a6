//! Limits on gRPC clients, so that no one client can take the API from the others:
//! connections in all and from one address (one past either limit is closed at once),
//! a connection that sends nothing within 10 s of opening is closed, and requests per
//! second on each connection are bounded (past its budget a request is refused with
//! `RESOURCE_EXHAUSTED`, reason `RATE_LIMITED`, which a client may retry after a
//! moment). Requests in progress per connection, silent clients after the handshake
//! and message sizes are bounded by the server itself (see [`super::serve`]).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::{Connected, TcpConnectInfo};
use tonic::{Code, Request, Status};

/// The bounds on gRPC clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrpcLimits {
    /// Most connections served at once.
    pub max_connections: usize,
    /// Most connections served at once from one IP address.
    pub max_connections_per_ip: usize,
    /// Most requests per second on one connection (0: no limit); a connection may use
    /// up to a second's worth at once.
    pub requests_per_sec: u32,
}

impl Default for GrpcLimits {
    fn default() -> Self {
        GrpcLimits {
            max_connections: 512,
            max_connections_per_ip: 64,
            requests_per_sec: 50_000,
        }
    }
}

/// How often a refused connection is logged at most.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// How long a new connection may stay silent before its first bytes (the HTTP/2
/// preface): past it the connection is closed, so silent sockets cannot hold places.
pub const FIRST_BYTES_WITHIN: Duration = Duration::from_secs(10);

struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Default)]
struct Table {
    buckets: HashMap<SocketAddr, Bucket>,
    per_ip: HashMap<IpAddr, usize>,
    refused: u64,
    last_warn: Option<Instant>,
}

impl Table {
    /// Counts a refused connection; logs the refusals once per interval.
    fn refuse(&mut self, why: &str, limit: usize) {
        self.refused += 1;
        if self.last_warn.is_none_or(|w| w.elapsed() >= WARN_EVERY) {
            tracing::warn!(
                limit,
                refused = self.refused,
                "gRPC connections refused: {why}"
            );
            self.last_warn = Some(Instant::now());
        }
    }
}

/// The connections being served, each with its request budget.
#[derive(Clone)]
pub struct Connections {
    limits: GrpcLimits,
    permits: Arc<Semaphore>,
    table: Arc<Mutex<Table>>,
}

impl Connections {
    pub fn new(limits: GrpcLimits) -> Self {
        Connections {
            limits,
            permits: Arc::new(Semaphore::new(limits.max_connections)),
            table: Arc::default(),
        }
    }

    /// Takes a new connection if there is room, in all and for its address; otherwise
    /// it is dropped (closed), and the refusals are logged once per interval.
    pub fn admit(&self, stream: TcpStream) -> Option<Limited> {
        let remote = stream.peer_addr().ok();
        let mut t = self.table.lock().ok()?;
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            t.refuse(
                "the node serves its maximum (--grpc-max-connections)",
                self.limits.max_connections,
            );
            return None;
        };
        if let Some(ip) = remote.map(|r| r.ip()) {
            let n = t.per_ip.entry(ip).or_insert(0);
            if *n >= self.limits.max_connections_per_ip {
                t.refuse(
                    "one address holds its maximum (--grpc-max-connections-per-ip)",
                    self.limits.max_connections_per_ip,
                );
                return None;
            }
            *n += 1;
        }
        drop(t);
        Some(Limited {
            inner: stream,
            remote,
            connections: self.clone(),
            first_bytes: Some(Box::pin(tokio::time::sleep(FIRST_BYTES_WITHIN))),
            _permit: permit,
        })
    }

    /// Spends one request of the connection `remote`'s budget, or refuses it.
    pub fn check(&self, remote: Option<SocketAddr>) -> Result<(), Status> {
        let rate = self.limits.requests_per_sec;
        let (Some(remote), true) = (remote, rate > 0) else {
            return Ok(());
        };
        let mut t = self
            .table
            .lock()
            .map_err(|_| Status::internal("the connection table lock was poisoned"))?;
        let now = Instant::now();
        let capacity = f64::from(rate);
        let b = t.buckets.entry(remote).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * capacity;
        b.tokens = (b.tokens + refill).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(super::refusal_status(
                Code::ResourceExhausted,
                "RATE_LIMITED",
                &format!(
                    "this connection sent more than {rate} requests a second (--grpc-requests-per-sec); retry shortly"
                ),
            ))
        }
    }

    /// The interceptor that spends the budget of each request's connection.
    pub fn interceptor(
        &self,
    ) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone + use<> {
        let connections = self.clone();
        move |req: Request<()>| {
            connections.check(req.remote_addr())?;
            Ok(req)
        }
    }

    fn forget(&self, remote: &SocketAddr) {
        if let Ok(mut t) = self.table.lock() {
            t.buckets.remove(remote);
            let ip = remote.ip();
            if let Some(n) = t.per_ip.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    t.per_ip.remove(&ip);
                }
            }
        }
    }
}

/// A served connection: holds its place among the connections until it closes.
pub struct Limited {
    inner: TcpStream,
    remote: Option<SocketAddr>,
    connections: Connections,
    /// Until the first bytes arrive: when the connection is closed if they do not.
    first_bytes: Option<Pin<Box<tokio::time::Sleep>>>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Limited {
    fn drop(&mut self) {
        if let Some(r) = &self.remote {
            self.connections.forget(r);
        }
    }
}

impl Connected for Limited {
    type ConnectInfo = TcpConnectInfo;
    fn connect_info(&self) -> TcpConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for Limited {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &polled {
            Poll::Ready(Ok(())) if buf.filled().len() > before => self.first_bytes = None,
            Poll::Pending => {
                if let Some(deadline) = self.first_bytes.as_mut()
                    && deadline.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request within 10 s of connecting",
                    )));
                }
            }
            _ => {}
        }
        polled
    }
}

impl AsyncWrite for Limited {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_past_its_budget_is_refused_and_others_are_not() {
        let c = Connections::new(GrpcLimits {
            max_connections: 4,
            max_connections_per_ip: 4,
            requests_per_sec: 3,
        });
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:1001".parse().unwrap();
        for _ in 0..3 {
            c.check(Some(a)).unwrap();
        }
        let e = c.check(Some(a)).unwrap_err();
        assert_eq!(e.code(), Code::ResourceExhausted);
        assert!(e.message().starts_with("RATE_LIMITED: "), "{}", e.message());
        c.check(Some(b)).unwrap();
        std::thread::sleep(Duration::from_millis(400));
        c.check(Some(a)).unwrap();
        // No limit at all with a rate of 0.
        let free = Connections::new(GrpcLimits {
            max_connections: 1,
            max_connections_per_ip: 1,
            requests_per_sec: 0,
        });
        for _ in 0..1000 {
            free.check(Some(a)).unwrap();
        }
    }
}
