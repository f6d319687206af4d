//! rustls client pieces shared by the engines: the [`ClientConfig`] a [`TlsSettings`] asks for
//! (with the `verify-ca` verifier rustls lacks), the name under which a `verify-ca` server
//! certificate verifies (for drivers whose own `verify-ca` cannot ignore the host name), and
//! a plain-words reason for a refused certificate.
//!
//! Every config uses the `ring` crypto provider explicitly; [`install_default_provider`] makes
//! it the process default for drivers that build their own config.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tandem_error::{Error, Result};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{SslMode, TlsSettings};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes `ring` the process-wide rustls provider if none is set yet (idempotent). Drivers that
/// build their own rustls config (mysql_async, pgwire-replication) use the process default.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The CA certificates to trust: the file of `sslrootcert`, or the Mozilla roots.
///
/// Errors: `BadInput` when the file cannot be read or holds no certificate.
pub fn root_store(settings: &TlsSettings) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match &settings.root_cert {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let bad = |why: String| Error::bad_input(format!("sslrootcert={}: {why}", path.display()));
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))?.collect::<Result<Vec<_>, _>>().map_err(|e| bad(e.to_string()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(bad("no PEM certificate in the file".into()));
            }
        }
    }
    Ok(roots)
}

/// The client certificate chain and key of `sslcert`/`sslkey`, if given.
///
/// Errors: `BadInput` when a file cannot be read or parsed.
pub fn client_identity(settings: &TlsSettings) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>> {
    let Some((cert, key)) = &settings.client_cert else { return Ok(None) };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Error::bad_input(format!("sslcert={}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(Error::bad_input(format!("sslcert={}: no PEM certificate in the file", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| Error::bad_input(format!("sslkey={}: {e}", key.display())))?;
    Ok(Some((chain, key)))
}

/// The rustls client configuration for `settings` (whatever the mode: the caller decides
/// whether to use TLS at all). `prefer` and `require` accept any certificate, `verify-ca`
/// checks the chain only, `verify-full` the chain and the host name.
pub fn config(settings: &TlsSettings) -> Result<ClientConfig> {
    let roots = Arc::new(root_store(settings)?);
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier::new(settings.mode, roots)?));
    match client_identity(settings)? {
        None => Ok(builder.with_no_client_auth()),
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| Error::bad_input(format!("sslcert/sslkey: {e}"))),
    }
}

/// Checks a server certificate as `mode` demands.
#[derive(Debug)]
struct Verifier {
    mode: SslMode,
    inner: Arc<WebPkiServerVerifier>,
}

impl Verifier {
    fn new(mode: SslMode, roots: Arc<RootCertStore>) -> Result<Verifier> {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider()).build().map_err(|e| Error::internal(format!("TLS verifier: {e}")))?;
        Ok(Verifier { mode, inner })
    }
}

/// Whether `e` says only that the certificate does not name the host.
fn is_name_mismatch(e: &rustls::Error) -> bool {
    matches!(e, rustls::Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }))
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.mode {
            SslMode::Disable | SslMode::Prefer | SslMode::Require => Ok(ServerCertVerified::assertion()),
            SslMode::VerifyFull => self.inner.verify_server_cert(end_entity, intermediates, name, ocsp, now),
            // webpki checks the chain before the name: a name mismatch means the chain is good.
            SslMode::VerifyCa => match self.inner.verify_server_cert(end_entity, intermediates, name, ocsp, now) {
                Err(e) if is_name_mismatch(&e) => Ok(ServerCertVerified::assertion()),
                other => other,
            },
        }
    }
    fn verify_tls12_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// For drivers whose `verify-ca` still checks the host name: the name to present instead of
/// `host` so that a certificate whose chain leads to a trusted CA verifies. Does a TLS handshake
/// on `stream` (already past the engine's own TLS request) and stops it once the certificate
/// is seen. Returns `host` when the certificate names it.
///
/// Errors: `Unreachable` naming why the certificate is refused (unknown CA, expired…) or that
/// it names no DNS host at all.
pub async fn verify_ca_name<S: AsyncRead + AsyncWrite + Unpin>(stream: S, settings: &TlsSettings, host: &str) -> Result<String> {
    let roots = Arc::new(root_store(settings)?);
    let probe = Arc::new(Probe { inner: Verifier::new(SslMode::VerifyFull, roots)?.inner, found: Mutex::new(None) });
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(probe.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string()).map_err(|e| Error::bad_input(format!("host {host} is not a valid TLS server name: {e}")))?;
    let handshake = tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, stream).await;
    let found = probe.found.lock().map_err(|_| Error::internal("TLS probe poisoned"))?.take();
    match found {
        Some(Ok(name)) => Ok(name),
        Some(Err(e)) => Err(Error::unreachable(refusal(&e.to_string()))),
        None => Err(Error::unreachable(format!("TLS handshake failed: {}", handshake.err().map(|e| e.to_string()).unwrap_or_default()))),
    }
}

/// The verifier of [`verify_ca_name`]: records the first name the certificate verifies under
/// (or why it does not), then aborts the handshake.
#[derive(Debug)]
struct Probe {
    inner: Arc<WebPkiServerVerifier>,
    found: Mutex<Option<Result<String, rustls::Error>>>,
}

impl ServerCertVerifier for Probe {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let check = |n: &ServerName<'_>| self.inner.verify_server_cert(end_entity, intermediates, n, ocsp, now);
        let result = match check(name) {
            Ok(_) => Ok(name.to_str().into_owned()),
            Err(e) if is_name_mismatch(&e) => {
                let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|e| rustls::Error::General(format!("bad certificate: {e}")))?;
                // A wildcard name verifies as any name it covers.
                let names: Vec<String> = cert.valid_dns_names().map(|n| n.replace('*', "tandem-verify-ca")).collect();
                names
                    .into_iter()
                    .find(|n| ServerName::try_from(n.as_str()).is_ok_and(|sn| check(&sn).is_ok()))
                    .ok_or_else(|| rustls::Error::General("the server's certificate names no DNS host to verify it under".into()))
            }
            Err(e) => Err(e),
        };
        *self.found.lock().map_err(|_| rustls::Error::General("TLS probe poisoned".into()))? = Some(result);
        Err(rustls::Error::General("certificate probed".into()))
    }
    fn verify_tls12_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A driver's TLS error text (`detail`) prefixed with the reason in plain words when it is a
/// refused certificate: `"the server's certificate has expired (…)"`.
pub fn refusal(detail: &str) -> String {
    match reason(detail) {
        Some(r) => format!("TLS: {r} ({detail})"),
        None => format!("TLS: {detail}"),
    }
}

/// The plain-words reason of a refused server certificate, from a rustls error text anywhere in
/// `text`; `None` when `text` is not about the server's certificate.
pub fn reason(text: &str) -> Option<&'static str> {
    const REASONS: [(&[&str], &str); 4] = [
        (&["UnknownIssuer", "BadSignature"], "the server's certificate is not signed by a trusted CA (see sslrootcert)"),
        (&["certificate expired", "Expired"], "the server's certificate has expired"),
        (&["certificate not valid yet", "NotValidYet"], "the server's certificate is not valid yet"),
        (&["certificate not valid for name", "NotValidForName"], "the server's certificate does not name the host of the URL"),
    ];
    REASONS.iter().find(|(needles, _)| needles.iter().any(|n| text.contains(n))).map(|(_, r)| *r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_of_rustls_errors() {
        let cases = [
            (rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer), "not signed by a trusted CA"),
            (rustls::Error::InvalidCertificate(CertificateError::Expired), "has expired"),
            (rustls::Error::InvalidCertificate(CertificateError::NotValidForName), "does not name the host"),
            (
                rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
                    time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(100)),
                    not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(50)),
                }),
                "has expired",
            ),
        ];
        for (e, needle) in cases {
            let text = format!("io error: {e}");
            assert!(refusal(&text).contains(needle), "{text} -> {}", refusal(&text));
        }
        assert_eq!(reason("connection refused"), None);
    }

    #[test]
    fn bad_certificate_files_are_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let s = TlsSettings { mode: SslMode::VerifyFull, root_cert: Some(junk.clone()), client_cert: None };
        let e = config(&s).unwrap_err();
        assert_eq!(e.kind(), tandem_error::Kind::BadInput, "{e}");
        assert!(e.to_string().contains("sslrootcert="), "{e}");
        let s = TlsSettings { mode: SslMode::Require, root_cert: None, client_cert: Some((junk.clone(), junk)) };
        let e = config(&s).unwrap_err();
        assert_eq!(e.kind(), tandem_error::Kind::BadInput, "{e}");
        assert!(e.to_string().contains("sslcert="), "{e}");
    }
}
