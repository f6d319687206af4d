//! Database URLs: `scheme://user:password@host:port/database?param=value`.

use std::fmt;

use percent_encoding::percent_decode_str;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

use tandem_error::{Error, Result, RetryPolicy};

use crate::tls::TlsSettings;

/// A parsed database URL. The password is held as a secret: `Display` and `Debug` print `***`
/// in its place, and only a driver's connect reads it ([`DbUrl::password`]).
#[derive(Clone)]
pub struct DbUrl {
    /// Lower-case scheme (`mysql`, `mariadb`, `postgres`, `postgresql`).
    pub scheme: String,
    pub user: Option<String>,
    pub password: Option<SecretString>,
    pub host: String,
    pub port: Option<u16>,
    /// The database name (required).
    pub database: String,
    /// Query parameters in order, percent-decoded.
    pub params: Vec<(String, String)>,
    /// The TLS settings of the parameters (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`).
    pub tls: TlsSettings,
    /// How transient failures (a refused or reset connection, a server failing over) of
    /// connecting are retried: [`DbUrl::DEFAULT_RETRY`] changed by the parameters
    /// `retry_max_retries` and `retry_timeout`.
    pub retry: RetryPolicy,
}

impl DbUrl {
    /// The retries of a database unless its URL says otherwise: 5 within 30 s (a server that
    /// is not there fails after about 3 s of backoff).
    pub const DEFAULT_RETRY: RetryPolicy =
        RetryPolicy { max_retries: 5, retry_timeout: Duration::from_secs(30), init_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(15) };

    /// Parses a URL. Errors are [`Kind::BadInput`](tandem_error::Kind::BadInput) and name the
    /// problem without echoing the password.
    pub fn parse(input: &str) -> Result<DbUrl> {
        let bad = |why: &str| Error::bad_input(format!("invalid database URL {}: {why}", redact(input)));
        let url = url::Url::parse(input).map_err(|e| bad(&e.to_string()))?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host (expected scheme://user:password@host:port/database)"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let decode = |s: &str| percent_decode_str(s).decode_utf8().map(|c| c.into_owned()).map_err(|_| bad("not UTF-8 after percent-decoding"));
        let database = decode(url.path().trim_start_matches('/'))?;
        if database.is_empty() {
            return Err(bad("no database name in the path (expected .../database)"));
        }
        if database.contains('/') {
            return Err(bad("the path must be a single database name"));
        }
        let user = if url.username().is_empty() { None } else { Some(decode(url.username())?) };
        let password = url.password().map(decode).transpose()?.map(SecretString::from);
        let params: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let in_url = |e: Error| e.context(format!("database URL {}", redact(input)));
        let tls = TlsSettings::from_params(&params).map_err(in_url)?;
        let mut retry = Self::DEFAULT_RETRY;
        for (k, v) in &params {
            retry.set(k, v).map_err(in_url)?;
        }
        Ok(DbUrl { scheme: url.scheme().to_ascii_lowercase(), user, password, host, port: url.port(), database, params, tls, retry })
    }

    /// Whether both URLs name the same database on the same server (host, port and database;
    /// not the credentials, the scheme alias or the parameters).
    pub fn same_database(&self, other: &DbUrl) -> bool {
        self.host.eq_ignore_ascii_case(&other.host) && self.port == other.port && self.database == other.database
    }

    /// The password, for a driver's connect only.
    pub fn password(&self) -> Option<&str> {
        self.password.as_ref().map(|p| p.expose_secret())
    }

    /// The value of query parameter `name`, if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The same URL naming another database on the same server.
    pub fn with_database(&self, database: &str) -> DbUrl {
        DbUrl { database: database.to_string(), ..self.clone() }
    }
}

/// Hides the password of a URL-like string for messages, even when it does not parse.
pub fn redact(input: &str) -> String {
    let Some(start) = input.find("://").map(|i| i + 3) else { return input.to_string() };
    let rest = &input[start..];
    let Some(at) = rest.rfind('@') else { return input.to_string() };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &input[..start], &rest[..colon], &rest[at..]),
        None => input.to_string(),
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if let Some(u) = &self.user {
            write!(f, "{u}")?;
            if self.password.is_some() {
                write!(f, ":***")?;
            }
            write!(f, "@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "/{}", self.database)
    }
}

impl PartialEq for DbUrl {
    fn eq(&self, other: &DbUrl) -> bool {
        let DbUrl { scheme, user, password: _, host, port, database, params, tls, retry } = self;
        (scheme, user, host, port, database, params, tls, retry)
            == (&other.scheme, &other.user, &other.host, &other.port, &other.database, &other.params, &other.tls, &other.retry)
            && self.password() == other.password()
    }
}

impl Eq for DbUrl {}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_database_ignores_credentials_and_alias_but_not_server_or_name() {
        let a = DbUrl::parse("mysql://u:secret@DB.example:3306/hms").unwrap();
        let redacted = DbUrl::parse(&a.to_string()).unwrap();
        assert!(a.same_database(&redacted), "{a}");
        assert!(a.same_database(&DbUrl::parse("mariadb://other@db.example:3306/hms?x=1").unwrap()));
        for other in ["mysql://u@db.example:3307/hms", "mysql://u@db2.example:3306/hms", "mysql://u@db.example:3306/hms2"] {
            assert!(!a.same_database(&DbUrl::parse(other).unwrap()), "{other}");
        }
    }

    #[test]
    fn parses_full_url() {
        let u = DbUrl::parse("mysql://hive:p%40ss@127.0.0.1:3307/metastore?ssl=false").unwrap();
        assert_eq!(u.scheme, "mysql");
        assert_eq!(u.user.as_deref(), Some("hive"));
        assert_eq!(u.password(), Some("p@ss"));
        assert!(!format!("{u:?}").contains("p@ss"));
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, Some(3307));
        assert_eq!(u.database, "metastore");
        assert_eq!(u.param("ssl"), Some("false"));
        assert_eq!(u.retry, DbUrl::DEFAULT_RETRY);
        let r = DbUrl::parse("mysql://h/db?retry_max_retries=2&retry_timeout=9s").unwrap().retry;
        assert_eq!((r.max_retries, r.retry_timeout), (2, Duration::from_secs(9)));
        assert_eq!(u.to_string(), "mysql://hive:***@127.0.0.1:3307/metastore");
    }

    #[test]
    fn ipv6_host() {
        let u = DbUrl::parse("postgres://u@[::1]:5433/db").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.to_string(), "postgres://u@[::1]:5433/db");
    }

    #[test]
    fn rejects_broken_urls_without_leaking_password() {
        for (input, needle) in [
            ("mysql://u:secret@host:3306/", "no database name"),
            ("mysql://u:secret@:3306/db", "invalid database URL"),
            ("not a url", "invalid database URL"),
            ("postgres://u:secret@h:99999/db", "invalid database URL"),
            ("postgres://u:secret@h/a/b", "single database name"),
            ("postgres://u:secret@h/db?sslmode=maybe", "not a TLS mode"),
            ("postgres://u:secret@h/db?retry_max_retries=many", "retry_max_retries"),
            ("postgres://u:secret@h/db?retry_timeout=300000y", "retry_timeout"),
            ("mysql://u:secret@h/db?sslrootcert=/nonexistent/ca.pem", "no such file"),
        ] {
            let e = DbUrl::parse(input).unwrap_err();
            assert_eq!(e.kind(), tandem_error::Kind::BadInput, "{input}");
            assert!(e.to_string().contains(needle), "{input}: {e}");
            assert!(!e.to_string().contains("secret"), "{input}: {e}");
        }
    }
}
