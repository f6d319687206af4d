//! A standby's automatic failover policy and a site's service probes, as `tandem serve` uses them
//! (see `crate::serve::guard`):
//!
//! ```toml
//! [sites.primary]
//! probe = ["tcp://metastore-us:9083"]   # the site's service, probed beside its database
//!
//! [sites.dr]
//! source = "primary"
//! replicate = true
//! failover = "auto"                     # default "manual"
//! failover-after = "20s"                # the source failed every probe for this long
//! failover-max-lag = "30s"              # refuse when the standby trails by more
//! failover-cooldown = "10m"             # after an attempt, no other for this long
//! on-promote = "/etc/tandem/redirect.sh"  # run after the site is promoted (crate::hooks)
//! ```

use std::time::Duration;

use tandem_error::{Error, Result};
use toml::Spanned;

use super::{at, checked, parse_duration};

/// When the daemon promotes a standby on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverPolicy {
    /// How long the source must fail every probe.
    pub after: Duration,
    /// The most the standby may trail its source (else the failover is refused).
    pub max_lag: Duration,
    /// The least time between two attempts.
    pub cooldown: Duration,
}

impl FailoverPolicy {
    pub const DEFAULT_AFTER: Duration = Duration::from_secs(20);
    pub const DEFAULT_MAX_LAG: Duration = Duration::from_secs(30);
    pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(600);
    /// Failed probes in a row, at least, before a failover (whatever `after` says).
    pub const MIN_FAILURES: u32 = 3;

    /// The time between two probes of the source: a fifth of `after`, from 1 s to 10 s.
    pub fn probe_interval(&self) -> Duration {
        (self.after / 5).clamp(Duration::from_secs(1), Duration::from_secs(10))
    }
}

impl super::Site {
    /// Checks `failover` and its settings (errors name the line); the policy when it is
    /// `"auto"`.
    pub(super) fn failover_policy(&self, text: &str, name: &str) -> Result<Option<FailoverPolicy>> {
        let duration = |key: &str, v: &Option<Spanned<String>>| checked(text, v.as_ref(), &format!("sites.{name}.{key}"), parse_duration);
        let after = duration("failover-after", &self.failover_after)?;
        let max_lag = duration("failover-max-lag", &self.failover_max_lag)?;
        let cooldown = duration("failover-cooldown", &self.failover_cooldown)?;
        let auto = match &self.failover {
            None => false,
            Some(f) => match f.get_ref().as_str() {
                "auto" => true,
                "manual" => false,
                other => return Err(at(text, f, &format!("sites.{name}.failover: {other:?} is neither \"auto\" nor \"manual\""))),
            },
        };
        let settings = [&self.failover_after, &self.failover_max_lag, &self.failover_cooldown];
        if let (false, Some(s)) = (auto, settings.into_iter().flatten().next()) {
            return Err(at(text, s, &format!("sites.{name}: failover-after, -max-lag and -cooldown apply to `failover = \"auto\"` only")));
        }
        if !auto {
            return Ok(None);
        }
        if self.source.is_none() {
            return Err(Error::bad_input(format!(
                "sites.{name}.failover: an automatic failover promotes the site when its source is gone; add `source = \"SITE\"`"
            )));
        }
        if let (Some(a), Some(v)) = (after, &self.failover_after) {
            if a < std::time::Duration::from_secs(1) {
                return Err(at(text, v, &format!("sites.{name}.failover-after must be at least 1s")));
            }
        }
        Ok(Some(FailoverPolicy {
            after: after.unwrap_or(FailoverPolicy::DEFAULT_AFTER),
            max_lag: max_lag.unwrap_or(FailoverPolicy::DEFAULT_MAX_LAG),
            cooldown: cooldown.unwrap_or(FailoverPolicy::DEFAULT_COOLDOWN),
        }))
    }
}

/// A probe of a site's service beside its database: a TCP connect (a Hive metastore's Thrift
/// port) or an HTTP GET answered with a success status (a health endpoint).
#[derive(Clone, PartialEq, Eq)]
pub enum Probe {
    Tcp { host: String, port: u16 },
    Http(url::Url),
}

impl Probe {
    /// Parses `tcp://HOST:PORT` or an `http://` / `https://` URL.
    pub fn parse(s: &str) -> Result<Probe, String> {
        let url = url::Url::parse(s).map_err(|e| format!("invalid probe {:?}: {e} (want tcp://HOST:PORT or an http(s):// URL)", redacted(s)))?;
        match url.scheme() {
            "tcp" => {
                let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| format!("probe {}: no host (want tcp://HOST:PORT)", redacted(s)))?;
                let port = url.port().ok_or_else(|| format!("probe {}: no port (want tcp://HOST:PORT)", redacted(s)))?;
                Ok(Probe::Tcp { host: host.trim_matches(|c| c == '[' || c == ']').to_string(), port })
            }
            "http" | "https" => Ok(Probe::Http(url)),
            other => Err(format!("probe {}: scheme {other}:// is neither tcp:// nor http(s)://", redacted(s))),
        }
    }
}

/// A probe's text without user info or query (either may hold a token).
fn redacted(s: &str) -> String {
    match url::Url::parse(s) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "(unparsable)".into(),
    }
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Probe::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Probe::Http(u) => f.write_str(&redacted(u.as_str())),
        }
    }
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Probe({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_parse_and_never_show_credentials() {
        assert_eq!(Probe::parse("tcp://metastore-us:9083").unwrap(), Probe::Tcp { host: "metastore-us".into(), port: 9083 });
        assert_eq!(Probe::parse("tcp://[::1]:9083").unwrap().to_string(), "tcp://[::1]:9083");
        let http = Probe::parse("https://user:secret@airflow-us/health?token=abc").unwrap();
        assert!(!format!("{http} {http:?}").contains("secret") && !http.to_string().contains("abc"), "{http}");
        for (bad, why) in [("tcp://host", "no port"), ("udp://h:1", "neither tcp"), ("metastore:9083", "neither tcp"), ("not a url", "invalid probe")] {
            let e = Probe::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(!Probe::parse("ftp://u:secret@h:1").unwrap_err().contains("secret"));
    }

    #[test]
    fn probe_interval_is_a_fifth_of_the_wait_within_bounds() {
        let p = |s| FailoverPolicy { after: Duration::from_secs(s), max_lag: Duration::ZERO, cooldown: Duration::ZERO };
        assert_eq!(p(30).probe_interval(), Duration::from_secs(6));
        assert_eq!(p(2).probe_interval(), Duration::from_secs(1));
        assert_eq!(p(600).probe_interval(), Duration::from_secs(10));
    }
}
