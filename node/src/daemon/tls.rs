//! TLS on the gRPC API (rustls, through tonic): the server's certificate and optional
//! client CA, the observer's trust for `https://` sync URLs, and the warning for a
//! plaintext API on an address other hosts can reach (README, "TLS on the client API").

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

use super::Args;

/// How long a client may take over its TLS handshake before its connection is closed.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn read_pem(path: &Path, what: &str, label: &str) -> anyhow::Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
    if !String::from_utf8_lossy(&bytes).contains(&format!("-----BEGIN {label}")) {
        bail!("{what} {} holds no PEM `{label}` block", path.display());
    }
    Ok(bytes)
}

/// The server's TLS configuration from `--tls-cert`, `--tls-key` and `--tls-client-ca`,
/// checked now so that a bad file stops the node at start, not at the first handshake.
///
/// The pairings are checked here rather than by clap, whose `requires` does not see
/// settings that come from a config file: half a TLS setting never means plaintext.
pub fn server_config(args: &Args) -> anyhow::Result<Option<ServerTlsConfig>> {
    let (cert, key) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => (cert, key),
        (Some(_), None) => bail!("--tls-cert needs --tls-key (the certificate's private key)"),
        (None, Some(_)) => bail!("--tls-key needs --tls-cert (the certificate it is the key of)"),
        (None, None) => {
            if args.tls_client_ca.is_some() {
                bail!(
                    "--tls-client-ca needs --tls-cert and --tls-key: client certificates are asked for over TLS"
                );
            }
            return Ok(None);
        }
    };
    let identity = Identity::from_pem(
        read_pem(cert, "--tls-cert", "CERTIFICATE")?,
        read_pem(key, "--tls-key", "")?,
    );
    let mut config = ServerTlsConfig::new()
        .identity(identity)
        .timeout(HANDSHAKE_TIMEOUT);
    if let Some(ca) = &args.tls_client_ca {
        config = config.client_ca_root(Certificate::from_pem(read_pem(
            ca,
            "--tls-client-ca",
            "CERTIFICATE",
        )?));
    }
    tonic::transport::Server::builder()
        .tls_config(config.clone())
        .map_err(|e| {
            anyhow::anyhow!(
                "--tls-cert {} / --tls-key {}: {e} (a PEM certificate chain and its private key)",
                cert.display(),
                key.display()
            )
        })?;
    Ok(Some(config))
}

/// Says once, at start, that the API is in the clear on an address other hosts reach.
pub fn warn_if_plaintext(addr: SocketAddr, tls: bool) {
    if !tls && !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "the gRPC API listens on an address other hosts can reach without TLS: requests and answers cross the network in the clear (give --tls-cert and --tls-key)"
        );
    }
}

/// The client TLS an observer uses for `https://` sync URLs: `--sync-ca-cert`, or the
/// system's roots.
pub fn sync_config(args: &Args) -> anyhow::Result<Option<ClientTlsConfig>> {
    if args.sync_ca_cert.is_some() && !args.observer {
        bail!("--sync-ca-cert is for observers (--observer)");
    }
    let https = args.sync_from.iter().any(|u| u.starts_with("https://"));
    match &args.sync_ca_cert {
        Some(path) => {
            if !https {
                bail!("--sync-ca-cert is for https:// --sync-from URLs; none is given");
            }
            let ca = read_pem(path, "--sync-ca-cert", "CERTIFICATE")?;
            Ok(Some(
                ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)),
            ))
        }
        None if https => Ok(Some(ClientTlsConfig::new().with_native_roots())),
        None => Ok(None),
    }
}

/// An endpoint for `url`, with TLS when it is `https://`.
pub fn endpoint(url: &str, tls: Option<&ClientTlsConfig>) -> anyhow::Result<Endpoint> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("`{url}` is not a valid URL"))?
        .connect_timeout(Duration::from_secs(5));
    match tls {
        Some(tls) if url.starts_with("https://") => endpoint
            .tls_config(tls.clone())
            .with_context(|| format!("TLS for {url}")),
        _ => Ok(endpoint),
    }
}
