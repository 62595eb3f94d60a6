//! The gRPC server: the `kyoto.v1.Ledger` service with reflection and health, behind
//! the connection limits of [`super::limits`].

use std::net::SocketAddr;
use std::sync::Arc;

use kyoto_proto::v1::ledger_server::LedgerServer;

use super::limits::{self, Connections, GrpcLimits};
use super::{LedgerService, MAX_REQUEST_BYTES};
use crate::node::Node;

/// Most requests in progress on one connection (more wait their turn).
pub const MAX_REQUESTS_PER_CONNECTION: usize = 256;

/// Serves the API (with reflection and health) on `listener` until `shutdown` resolves,
/// within `limits` (see [`limits`]).
pub async fn serve(
    node: Arc<Node>,
    listener: tokio::net::TcpListener,
    limits: GrpcLimits,
    tls: Option<tonic::transport::ServerTlsConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<LedgerServer<LedgerService>>()
        .await;
    let _report_health = AbortOnDrop(tokio::spawn(report_health(
        Arc::clone(&node),
        health_reporter,
    )));
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(kyoto_proto::FILE_DESCRIPTOR_SET)
        .build_v1();
    let reflection = match reflection {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(error = %e, "gRPC reflection is unavailable");
            None
        }
    };
    let count = super::counted::CountLayer {
        metrics: Arc::clone(node.metrics()),
    };
    let ledger = LedgerServer::new(LedgerService::new(node))
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(64 * 1024 * 1024);
    let connections = Connections::new(limits);
    let ledger =
        tonic::service::interceptor::InterceptedService::new(ledger, connections.interceptor());
    // Accepts connections beside the server and hands over those within the limits.
    let (accepted, incoming) = tokio::sync::mpsc::channel::<std::io::Result<limits::Limited>>(16);
    let acceptor = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    // No Nagle delay: a submission or a block notification is one small
                    // frame.
                    let _ = stream.set_nodelay(true);
                    if let Some(c) = connections.admit(stream)
                        && accepted.send(Ok(c)).await.is_err()
                    {
                        return;
                    }
                }
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    tracing::debug!(error = %e, "a gRPC connection could not be accepted");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    let _stop_acceptor = AbortOnDrop(acceptor);
    let incoming = tokio_stream::wrappers::ReceiverStream::new(incoming);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    builder
        .concurrency_limit_per_connection(MAX_REQUESTS_PER_CONNECTION)
        // A client that goes silent is found out and its connection closed.
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
        .layer(count)
        .add_service(health_service)
        .add_optional_service(reflection)
        .add_service(ledger)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// Keeps the health service's answer (for the ledger service and the server as a
/// whole, `""`) in step with the node's standing: `NOT_SERVING` while it cannot serve
/// current data (see `node/src/node/health.rs`).
async fn report_health(node: Arc<Node>, reporter: tonic_health::server::HealthReporter) {
    let mut serving = true;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let health = node.health();
        if health.serving == serving {
            continue;
        }
        serving = health.serving;
        let status = if serving {
            tonic_health::ServingStatus::Serving
        } else {
            tracing::warn!(
                sync_state = health.sync_state,
                behind = health.behind,
                "this node cannot serve current data: health is NOT_SERVING"
            );
            tonic_health::ServingStatus::NotServing
        };
        reporter.set_service_status("kyoto.v1.Ledger", status).await;
        reporter.set_service_status("", status).await;
    }
}

/// Aborts a task when dropped (the acceptor stops with the server).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Binds the gRPC address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}
