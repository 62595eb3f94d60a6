//! Starts the web explorer (`--http-addr`, `node/src/explorer/`).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::watch;

use kyoto_node::explorer;
use kyoto_node::node::Node;

/// Where a dev node serves the explorer unless told otherwise.
pub const DEV_HTTP_ADDR: &str = "127.0.0.1:8080";

/// `--http-addr`: an address, or `off`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpAddr {
    Off,
    At(SocketAddr),
}

pub fn parse_addr(s: &str) -> Result<HttpAddr, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(HttpAddr::Off);
    }
    s.parse()
        .map(HttpAddr::At)
        .map_err(|_| format!("`{s}` is neither HOST:PORT (e.g. 127.0.0.1:8080) nor `off`"))
}

/// Serves the explorer where `--http-addr` says; a dev node serves it on
/// [`DEV_HTTP_ADDR`] by default, and goes on without it if that port is taken.
pub async fn start(
    node: &Arc<Node>,
    addr: Option<&HttpAddr>,
    dev: bool,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let (addr, by_default) = match addr {
        Some(HttpAddr::Off) => return Ok(()),
        Some(HttpAddr::At(a)) => (*a, false),
        None if dev => (DEV_HTTP_ADDR.parse()?, true),
        None => return Ok(()),
    };
    match explorer::serve(node, addr, stop).await {
        Ok(local) => {
            println!("kyotod: explorer on http://{local}/");
            tracing::info!(addr = %local, "serving the explorer");
            Ok(())
        }
        Err(e) if by_default => {
            tracing::warn!(
                "the explorer is off: {addr} is not free ({e}); give --http-addr HOST:PORT"
            );
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("cannot serve the explorer on {addr}")),
    }
}
