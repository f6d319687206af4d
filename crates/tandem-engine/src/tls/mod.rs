//! TLS to a database server: the settings a URL asks for ([`TlsSettings`], parsed once by
//! [`DbUrl::parse`](crate::DbUrl::parse)) and the rustls pieces both engines share ([`client`]).
//!
//! URL parameters, spelled the PostgreSQL way for every engine:
//! - `sslmode` = `disable` | `prefer` (the default) | `require` | `verify-ca` | `verify-full`
//!   (MySQL's `ssl-mode` names `DISABLED`, `PREFERRED`, `REQUIRED`, `VERIFY_CA`,
//!   `VERIFY_IDENTITY` are accepted too, as values of `sslmode` or `ssl-mode`; `allow` counts
//!   as `prefer`);
//! - `sslrootcert` = PEM file of the CA certificates to trust (default: the Mozilla roots); as in
//!   libpq, `require` with `sslrootcert` verifies the chain like `verify-ca`;
//! - `sslcert` and `sslkey` = PEM files of a client certificate and its key (both or neither).

pub mod client;

use std::path::{Path, PathBuf};

use tandem_error::{Error, Result};

/// How much TLS a connection demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS without certificate checks when the server offers it; plain when it does not.
    #[default]
    Prefer,
    /// TLS or fail; the certificate is not checked.
    Require,
    /// TLS or fail; the certificate chain must lead to a trusted CA (any host name).
    VerifyCa,
    /// [`SslMode::VerifyCa`] and the certificate must name the host of the URL.
    VerifyFull,
}

impl SslMode {
    /// The PostgreSQL spelling (`verify-full`).
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the certificate chain is checked against trusted CAs.
    pub fn verifies_chain(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }

    fn parse(value: &str) -> Option<SslMode> {
        Some(match value.to_ascii_lowercase().replace('_', "-").as_str() {
            "disable" | "disabled" => SslMode::Disable,
            "allow" | "prefer" | "preferred" => SslMode::Prefer,
            "require" | "required" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" | "verify-identity" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// The TLS settings of one database URL. Paths are kept as given; the files are read when a
/// connection is made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// CA certificates to trust instead of the built-in Mozilla roots.
    pub root_cert: Option<PathBuf>,
    /// Client certificate and key, for servers that ask for one.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

impl TlsSettings {
    /// Reads the TLS parameters from a URL's query parameters (`name`, percent-decoded value).
    ///
    /// Errors: [`Kind::BadInput`](tandem_error::Kind::BadInput) for an unknown mode, a mode given
    /// twice with different values, `sslcert` without `sslkey` (or the reverse), a file that does
    /// not exist, or certificate files with `sslmode=disable`.
    pub fn from_params(params: &[(String, String)]) -> Result<TlsSettings> {
        let mut mode = None;
        let (mut root_cert, mut cert, mut key) = (None, None, None);
        for (name, value) in params {
            match name.as_str() {
                "sslmode" | "ssl-mode" | "ssl_mode" => {
                    let m = SslMode::parse(value).ok_or_else(|| {
                        Error::bad_input(format!("{name}={value} is not a TLS mode (expected disable, prefer, require, verify-ca or verify-full)"))
                    })?;
                    if mode.is_some_and(|old| old != m) {
                        return Err(Error::bad_input(format!("the URL gives two different TLS modes ({name}={value} and an earlier one)")));
                    }
                    mode = Some(m);
                }
                "sslrootcert" => root_cert = Some(existing_file(name, value)?),
                "sslcert" => cert = Some(existing_file(name, value)?),
                "sslkey" => key = Some(existing_file(name, value)?),
                _ => {}
            }
        }
        let client_cert = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            (Some(_), None) => return Err(Error::bad_input("sslcert is given without sslkey (a client certificate needs its key)")),
            (None, Some(_)) => return Err(Error::bad_input("sslkey is given without sslcert (a client key needs its certificate)")),
        };
        let mut mode = mode.unwrap_or_default();
        if mode == SslMode::Disable && (root_cert.is_some() || client_cert.is_some()) {
            return Err(Error::bad_input("sslmode=disable contradicts the certificate files given in the URL"));
        }
        if mode == SslMode::Require && root_cert.is_some() {
            // libpq's rule: a CA file given with `require` is used.
            mode = SslMode::VerifyCa;
        }
        Ok(TlsSettings { mode, root_cert, client_cert })
    }
}

fn existing_file(name: &str, value: &str) -> Result<PathBuf> {
    if value.is_empty() {
        return Err(Error::bad_input(format!("{name} is empty (expected the path of a PEM file)")));
    }
    let path = Path::new(value);
    if !path.is_file() {
        return Err(Error::bad_input(format!("{name}={value}: no such file")));
    }
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &[(&str, &str)]) -> Vec<(String, String)> {
        s.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn modes_in_both_spellings() {
        for (value, mode) in [
            ("disable", SslMode::Disable),
            ("DISABLED", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("PREFERRED", SslMode::Prefer),
            ("allow", SslMode::Prefer),
            ("require", SslMode::Require),
            ("REQUIRED", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("VERIFY_CA", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
            ("VERIFY_IDENTITY", SslMode::VerifyFull),
        ] {
            for key in ["sslmode", "ssl-mode"] {
                assert_eq!(TlsSettings::from_params(&params(&[(key, value)])).unwrap().mode, mode, "{key}={value}");
            }
        }
        assert_eq!(TlsSettings::from_params(&[]).unwrap(), TlsSettings::default());
        assert_eq!(TlsSettings::default().mode, SslMode::Prefer);
    }

    #[test]
    fn files_and_libpq_rule() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "x").unwrap();
        let ca_s = ca.to_str().unwrap();
        let s = TlsSettings::from_params(&params(&[("sslmode", "require"), ("sslrootcert", ca_s)])).unwrap();
        assert_eq!(s.mode, SslMode::VerifyCa);
        assert_eq!(s.root_cert.as_deref(), Some(ca.as_path()));
        let s = TlsSettings::from_params(&params(&[("sslcert", ca_s), ("sslkey", ca_s)])).unwrap();
        assert_eq!(s.client_cert, Some((ca.clone(), ca.clone())));
    }

    #[test]
    fn refuses_bad_settings() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "x").unwrap();
        let ca_s = ca.to_str().unwrap();
        let missing = dir.path().join("missing.pem");
        let missing = missing.to_str().unwrap();
        for (p, needle) in [
            (vec![("sslmode", "verify")], "not a TLS mode"),
            (vec![("sslmode", "")], "not a TLS mode"),
            (vec![("sslmode", "require"), ("ssl-mode", "DISABLED")], "two different"),
            (vec![("sslrootcert", missing)], "no such file"),
            (vec![("sslrootcert", "")], "is empty"),
            (vec![("sslcert", ca_s)], "without sslkey"),
            (vec![("sslkey", ca_s)], "without sslcert"),
            (vec![("sslmode", "disable"), ("sslrootcert", ca_s)], "contradicts"),
        ] {
            let e = TlsSettings::from_params(&params(&p)).unwrap_err();
            assert_eq!(e.kind(), tandem_error::Kind::BadInput, "{p:?}");
            assert!(e.to_string().contains(needle), "{p:?}: {e}");
        }
    }
}
