//! TLS of MySQL/MariaDB connections, from the URL's
//! [`TlsSettings`](tandem_engine::tls::TlsSettings), through mysql_async's rustls support.
//!
//! mysql_async's own "skip domain validation" misses rustls's newer name-mismatch error, so
//! `verify-ca` connects as `verify-full` under the name the server's certificate verifies with
//! ([`client::verify_ca_name`], after MySQL's own TLS request on a first connection).

use mysql_async::{ClientIdentity, SslOpts};
use tandem_engine::tls::{client, SslMode};
use tandem_engine::DbUrl;
use tandem_error::{Error, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{addr, CONNECT_TIMEOUT};

/// The driver's TLS options for the URL; `None` for `sslmode=disable`.
///
/// Errors: `Unreachable` when `verify-ca` finds no name the server's certificate verifies under.
pub(crate) async fn ssl_opts(url: &DbUrl) -> Result<Option<SslOpts>> {
    let s = &url.tls;
    if s.mode == SslMode::Disable {
        return Ok(None);
    }
    // mysql_async builds its rustls config with the process default provider.
    client::install_default_provider();
    let mut o = SslOpts::default();
    if let Some(ca) = &s.root_cert {
        o = o.with_root_certs(vec![ca.clone().into()]).with_disable_built_in_roots(true);
    }
    if let Some((cert, key)) = &s.client_cert {
        o = o.with_client_identity(Some(ClientIdentity::new(cert.clone().into(), key.clone().into())));
    }
    Ok(Some(match s.mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => o.with_danger_accept_invalid_certs(true),
        SslMode::VerifyCa => o.with_danger_tls_hostname_override(Some(verify_ca_name(url).await?)),
        SslMode::VerifyFull => o,
    }))
}

/// `CLIENT_SSL` in the capability flags of MySQL's handshake.
const CLIENT_SSL: u32 = 0x800;

/// The name under which the server's certificate verifies (see [`client::verify_ca_name`]):
/// reads the server's greeting, sends an SSL request packet, then probes the certificate.
async fn verify_ca_name(url: &DbUrl) -> Result<String> {
    let unreachable = |why: String| Error::unreachable(format!("cannot connect to MySQL server {}: {why}", addr(url)));
    let io = |e: std::io::Error| unreachable(e.to_string());
    let mut tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect((url.host.as_str(), url.port.unwrap_or(3306))))
        .await
        .map_err(|_| unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())))?
        .map_err(io)?;
    let mut header = [0u8; 4];
    tcp.read_exact(&mut header).await.map_err(io)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let mut greeting = vec![0u8; len];
    tcp.read_exact(&mut greeting).await.map_err(io)?;
    if !greeting_offers_tls(&greeting) {
        return Err(unreachable("TLS: the server does not offer TLS".into()));
    }
    // SSLRequest (sequence 1): capabilities (protocol 4.1, secure connection, SSL), max packet,
    // character set utf8mb4, 23 reserved bytes.
    let mut packet = vec![32, 0, 0, 1];
    packet.extend_from_slice(&(0x200u32 | 0x8000 | CLIENT_SSL).to_le_bytes());
    packet.extend_from_slice(&(16u32 << 20).to_le_bytes());
    packet.push(45);
    packet.extend_from_slice(&[0; 23]);
    tcp.write_all(&packet).await.map_err(io)?;
    client::verify_ca_name(tcp, &url.tls, &url.host).await.map_err(|e| unreachable(e.message().to_string()))
}

/// Whether a protocol-10 greeting payload announces `CLIENT_SSL` (false for an error packet or
/// anything unreadable).
fn greeting_offers_tls(greeting: &[u8]) -> bool {
    if greeting.first() != Some(&10) {
        return false;
    }
    // protocol version, NUL-terminated server version, connection id (4), auth data (8), filler (1).
    let Some(nul) = greeting[1..].iter().position(|&b| b == 0) else { return false };
    let at = 1 + nul + 1 + 4 + 8 + 1;
    greeting.get(at..at + 2).is_some_and(|c| u32::from(u16::from_le_bytes([c[0], c[1]])) & CLIENT_SSL != 0)
}

/// A TLS failure of the driver in plain words, if `e` is one.
pub(crate) fn failure(e: &mysql_async::Error) -> Option<String> {
    if matches!(e, mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer)) {
        return Some("TLS: the server does not offer TLS".into());
    }
    let text = e.to_string();
    (client::reason(&text).is_some() || matches!(e, mysql_async::Error::Io(mysql_async::IoError::Tls(_)))).then(|| client::refusal(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tls_flag_of_a_greeting() {
        let mut g = vec![10];
        g.extend_from_slice(b"10.11.0-MariaDB\0");
        g.extend_from_slice(&[1, 0, 0, 0]);
        g.extend_from_slice(&[b'a'; 8]);
        g.push(0);
        let with = [g.clone(), vec![0x00, 0x08]].concat();
        let without = [g.clone(), vec![0xff, 0xf7]].concat();
        assert!(greeting_offers_tls(&with));
        assert!(!greeting_offers_tls(&without));
        assert!(!greeting_offers_tls(&g), "truncated");
        assert!(!greeting_offers_tls(&[0xff, 0x10, 0x04]), "error packet");
        assert!(!greeting_offers_tls(&[10, b'x']), "no NUL");
    }
}
