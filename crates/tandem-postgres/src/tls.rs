//! TLS of PostgreSQL connections, from the URL's [`TlsSettings`](tandem_engine::tls::TlsSettings):
//! rustls through `tokio-postgres-rustls` for ordinary connections, pgwire-replication's own
//! rustls support for the replication connection.
//!
//! pgwire-replication's `verify-ca` still rejects a certificate that does not name the host
//! (it misses rustls's newer name-mismatch error), and its `verify-full` refuses IP hosts: the
//! replication connection therefore always runs as `verify-full`, under the name the
//! certificate verifies with ([`client::verify_ca_name`]) for `verify-ca`.

use pgwire_replication::{SslMode as WireMode, TlsConfig};
use tandem_engine::tls::{client, SslMode};
use tandem_engine::DbUrl;
use tandem_error::{Error, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::addr;

/// The driver's mode: tokio-postgres knows disable/prefer/require; the certificate checks of
/// `verify-ca`/`verify-full` are the connector's ([`connector`]).
pub(crate) fn driver_mode(mode: SslMode) -> tokio_postgres::config::SslMode {
    use tokio_postgres::config::SslMode as M;
    match mode {
        SslMode::Disable => M::Disable,
        SslMode::Prefer => M::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => M::Require,
    }
}

/// The rustls connector of the URL's settings.
pub(crate) fn connector(url: &DbUrl) -> Result<MakeRustlsConnect> {
    Ok(MakeRustlsConnect::new(client::config(&url.tls)?))
}

/// The replication connection's TLS settings.
///
/// Errors: `Unreachable` when `verify-ca` finds no name the server's certificate verifies under.
pub(crate) async fn replication(url: &DbUrl) -> Result<TlsConfig> {
    let s = &url.tls;
    let mode = match s.mode {
        SslMode::Disable => WireMode::Disable,
        SslMode::Prefer => WireMode::Prefer,
        SslMode::Require => WireMode::Require,
        SslMode::VerifyCa | SslMode::VerifyFull => WireMode::VerifyFull,
    };
    let sni_hostname = match s.mode {
        SslMode::VerifyCa => Some(verify_ca_name(url).await?),
        SslMode::VerifyFull => Some(url.host.clone()),
        _ => None,
    };
    let mut cfg = TlsConfig { mode, ca_pem_path: s.root_cert.clone(), sni_hostname, ..TlsConfig::default() };
    if let Some((cert, key)) = &s.client_cert {
        cfg = cfg.with_client_cert(cert.clone(), key.clone());
    }
    if s.mode != SslMode::Disable {
        client::install_default_provider();
    }
    Ok(cfg)
}

/// The name under which the server's certificate verifies (see [`client::verify_ca_name`]).
async fn verify_ca_name(url: &DbUrl) -> Result<String> {
    let unreachable = |why: String| Error::unreachable(format!("cannot connect to PostgreSQL at {}: {why}", addr(url)));
    let mut tcp = tokio::time::timeout(crate::CONNECT_TIMEOUT, tokio::net::TcpStream::connect((url.host.as_str(), url.port.unwrap_or(5432))))
        .await
        .map_err(|_| unreachable(format!("no answer within {} s", crate::CONNECT_TIMEOUT.as_secs())))?
        .map_err(|e| unreachable(e.to_string()))?;
    // SSLRequest: length 8, code 80877103.
    tcp.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]).await.map_err(|e| unreachable(e.to_string()))?;
    let answer = tcp.read_u8().await.map_err(|e| unreachable(e.to_string()))?;
    if answer != b'S' {
        return Err(unreachable("TLS: the server does not support TLS".into()));
    }
    client::verify_ca_name(tcp, &url.tls, &url.host).await.map_err(|e| unreachable(e.message().to_string()))
}
