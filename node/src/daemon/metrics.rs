//! `kyotod --metrics-addr`: the node's metrics and Malachite's, in the Prometheus /
//! OpenMetrics text format, on `GET /metrics` (axum). Off unless the flag is given;
//! serve it on a private address (it reveals the node's load, not its keys).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use arc_malachitebft_app_channel::app::metrics::{SharedRegistry, export};
use axum::http::header::CONTENT_TYPE;
use tokio::sync::watch;

use kyoto_node::node::Node;

/// Most scrapes served at once (more wait).
const MAX_SCRAPES: usize = 8;

/// Registers the node's metrics beside Malachite's, binds `addr` and serves them
/// until `stop` turns true.
pub async fn serve(
    node: &Arc<Node>,
    addr: SocketAddr,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    SharedRegistry::global().with_prefix("kyoto", |registry| node.metrics().register(registry));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr}"))?;
    let local = listener.local_addr()?;
    let scraped = Arc::clone(node);
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let node = Arc::clone(&scraped);
                async move {
                    node.sample_metrics();
                    let mut text = String::new();
                    export(&mut text);
                    (
                        [(
                            CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        text,
                    )
                }
            }),
        )
        .layer(tower::limit::ConcurrencyLimitLayer::new(MAX_SCRAPES));
    println!("kyotod: metrics on http://{local}/metrics");
    tracing::info!(addr = %local, "serving metrics");
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the metrics server stopped");
        }
    });
    Ok(())
}
