//! `tandem.toml`: the repository and named sites.
//!
//! ```toml
//! repo = "s3://dr-bucket/tandem"
//! repo-key-file = "/etc/tandem/repo-key"          # an encrypted repository's key (or repo-key-command)
//!
//! [sites.primary]
//! db = "mysql://hive:${HMS_PASSWORD}@metastore-us:3306/metastore"
//! system = "hive-metastore"
//!
//! [sites.dr]
//! db = "postgres://hive@metastore-eu:5432/metastore"
//! password-file = "/etc/tandem/hms-dr-password"  # or ${VAR} in db (see crate::secrets)
//! map-location = ["gs://lake-us/=gs://lake-eu/"]
//! source = "primary"                          # the site it is restored from
//! fernet-key = "${AIRFLOW_DR_FERNET_KEY}"     # Airflow: the site's Fernet key (or fernet-key-file)
//! refresh = "*/30 * * * *"                    # tandem serve: restore the newest backup of `source`
//! drill = "0 3 * * 0"                         # tandem serve: `tandem drill dr`, weekly
//! # drill-scratch = "postgres://hive@scratch-eu/drill"  # default: <database>_tandem_drill next to db
//! # replicate = true                          # tandem serve: or stream `source`'s changes
//! # failover = "auto"                         # tandem serve: promote it when `source` is gone (config::failover)
//! # on-promote = "/etc/tandem/redirect.sh"    # run after a switchover or failover promotes it (crate::hooks)
//!
//! [sites.primary]                             # (continued) tandem serve: back it up every 15 min
//! # backup = "*/15 * * * *"
//!
//! [serve]                                     # tandem serve (every key optional)
//! listen = "127.0.0.1:9187"
//! token-file = "/etc/tandem/token"            # or token-env = "TANDEM_TOKEN"; none: POSTs are off
//! webhook = "https://hooks.example.com/tandem"
//! health-interval = "30s"                     # how often every site is probed
//! health-threshold = "30s"                    # oldest scheduler heartbeat that counts as alive
//! staleness-alert = "1h"                      # alert when a standby is older than this
//! lease-ttl = "60s"                           # a killed daemon's jobs move on after this
//! shutdown-grace = "5m"                       # SIGTERM waits this long for running jobs
//!
//! [retention]                                 # applied after each backup (tandem backup SITE too)
//! keep-last = 96
//! keep-daily = 14
//! grace = "1h"
//! ```
//!
//! Schedules are cron patterns in UTC: 5 fields, or 6 with seconds first. `${NAME}` in a string
//! is replaced by the environment variable NAME (an error if unset; percent-encoded inside a
//! URL's user info). Unknown keys are errors, so a typo never silently does nothing; every error
//! names the line. Database URLs and Fernet keys are held as secrets: no `Debug` shows them.

use std::collections::BTreeMap;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tandem_error::{Error, Result};
use toml::Spanned;

use crate::serve::Schedule;

mod failover;
pub use failover::{FailoverPolicy, Probe};

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Repository URL or path.
    pub repo: Option<String>,
    /// File holding the key of an encrypted repository (see [`crate::repokey`]).
    #[serde(rename = "repo-key-file")]
    pub repo_key_file: Option<String>,
    /// Command printing the key of an encrypted repository (see [`crate::repokey`]).
    #[serde(rename = "repo-key-command")]
    pub repo_key_command: Option<String>,
    #[serde(default)]
    pub sites: BTreeMap<String, Site>,
    /// `tandem serve` settings.
    #[serde(default)]
    pub serve: ServeConfig,
    /// Retention policy applied after each backup of a site.
    pub retention: Option<Retention>,
    /// The text it was parsed from, for errors found later that name a line ([`at`]).
    #[serde(skip)]
    pub text: String,
}

impl std::fmt::Debug for Config {
    /// Leaves out the text (it may hold passwords), `[serve]` (its webhook URL) and the key
    /// command.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Config { repo, repo_key_file, sites, retention, .. } = self;
        f.debug_struct("Config")
            .field("repo", repo)
            .field("repo_key_file", repo_key_file)
            .field("sites", sites)
            .field("retention", retention)
            .finish_non_exhaustive()
    }
}

/// `[serve]`: raw values with their place in the file; checked and resolved into `values` by
/// [`Config::parse`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeConfig {
    pub listen: Option<Spanned<String>>,
    pub token_file: Option<Spanned<String>>,
    pub token_env: Option<Spanned<String>>,
    pub webhook: Option<Spanned<String>>,
    pub health_interval: Option<Spanned<String>>,
    pub health_threshold: Option<Spanned<String>>,
    pub staleness_alert: Option<Spanned<String>>,
    pub lease_ttl: Option<Spanned<String>>,
    pub shutdown_grace: Option<Spanned<String>>,
    #[serde(skip)]
    pub values: ServeValues,
}

/// The checked values of `[serve]` (`None`: not given).
#[derive(Debug, Clone, Default)]
pub struct ServeValues {
    pub listen: Option<std::net::SocketAddr>,
    pub health_interval: Option<std::time::Duration>,
    pub health_threshold: Option<std::time::Duration>,
    pub staleness_alert: Option<std::time::Duration>,
    pub lease_ttl: Option<std::time::Duration>,
    pub shutdown_grace: Option<std::time::Duration>,
}

/// `[retention]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Retention {
    /// Keep the newest N backups.
    pub keep_last: Spanned<usize>,
    /// Also keep the newest backup of each of the newest N days (UTC).
    #[serde(default)]
    pub keep_daily: usize,
    /// Only delete unreferenced chunks older than this (default 1h).
    pub grace: Option<Spanned<String>>,
    #[serde(skip)]
    pub grace_duration: std::time::Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Database URL of the site (with the password of `password-file` put in): [`Site::db_url`].
    db: SecretString,
    /// File holding the password of `db`'s user (see [`crate::secrets`]).
    #[serde(rename = "password-file")]
    password_file: Option<String>,
    /// System of the site's database (`auto` when absent).
    pub system: Option<String>,
    /// `FROM=TO` storage location rewrites applied when restoring into this site.
    #[serde(default, rename = "map-location")]
    pub map_location: Vec<String>,
    /// The site this one is restored from (a standby's primary).
    pub source: Option<Spanned<String>>,
    /// The site's Fernet key (Airflow), to re-encrypt secrets restored into it and to read them.
    #[serde(rename = "fernet-key")]
    fernet_key: Option<SecretString>,
    /// File holding the site's Fernet key, instead of `fernet-key`.
    #[serde(rename = "fernet-key-file")]
    fernet_key_file: Option<String>,
    /// `tandem serve`: cron schedule of the site's backups.
    pub backup: Option<Spanned<String>>,
    /// `tandem serve`: cron schedule of the site's refresh from `source` (a standby).
    pub refresh: Option<Spanned<String>>,
    /// `tandem serve`: cron schedule of the site's drill (`tandem drill SITE`).
    pub drill: Option<Spanned<String>>,
    /// The scratch database of the site's drills (`${VAR}` expanded as in `db`), when not
    /// `<database>_tandem_drill` on the site's server: [`Site::drill_scratch_url`].
    #[serde(rename = "drill-scratch")]
    drill_scratch: Option<SecretString>,
    /// `tandem serve`: keep the site current by continuous replication from `source`.
    #[serde(default)]
    pub replicate: bool,
    /// Where a replica's bootstrap copies the source from: `source` (a new backup, the default)
    /// or `backup` (the newest backup of the source in the repository).
    pub seed: Option<Spanned<String>>,
    /// A PostgreSQL source's publication to stream into this replica, instead of the one tandem
    /// makes (named after the replica, as its slot).
    pub publication: Option<String>,
    /// The role that owns what a restore, refresh or bootstrap creates in this site (PostgreSQL),
    /// instead of the owners recorded in the backup: for a site whose role names differ.
    pub owner: Option<String>,
    /// Scope of a standby or replica: patterns of the tables whose rows it holds (all when
    /// absent) and of those it does not (see [`tandem_engine::Scope`]).
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Parsed `include` and `exclude`.
    #[serde(skip)]
    pub scope: tandem_engine::Scope,
    /// `tandem serve`: `"auto"` promotes this standby when its source is gone; `"manual"` (the
    /// default) leaves that to `tandem failover`. Parsed into [`Site::auto_failover`].
    pub failover: Option<Spanned<String>>,
    #[serde(rename = "failover-after")]
    pub failover_after: Option<Spanned<String>>,
    #[serde(rename = "failover-max-lag")]
    pub failover_max_lag: Option<Spanned<String>>,
    #[serde(rename = "failover-cooldown")]
    pub failover_cooldown: Option<Spanned<String>>,
    /// Probes of the site's service beside its database (`tcp://HOST:PORT`, `http(s)://…`),
    /// made before failing over from it. Parsed into [`Site::probes`].
    #[serde(default)]
    pub probe: Vec<Spanned<String>>,
    /// A command run after the site is promoted by a switchover or failover (see
    /// [`crate::hooks`]).
    #[serde(rename = "on-promote")]
    pub on_promote: Option<String>,
    /// Parsed `backup`, `refresh` and `drill`.
    #[serde(skip)]
    pub schedules: Schedules,
    /// Parsed `failover` and its settings: `None` unless `failover = "auto"`.
    #[serde(skip)]
    pub auto_failover: Option<FailoverPolicy>,
    /// Parsed `probe`.
    #[serde(skip)]
    pub probes: Vec<Probe>,
}

/// A site's parsed schedules.
#[derive(Debug, Clone, Default)]
pub struct Schedules {
    pub backup: Option<Schedule>,
    pub refresh: Option<Schedule>,
    pub drill: Option<Schedule>,
}

impl Site {
    /// The site's database URL, password included: for connecting, never for messages.
    pub fn db_url(&self) -> &str {
        self.db.expose_secret()
    }

    /// The site's Fernet key, if configured.
    pub fn fernet_key(&self) -> Option<&str> {
        self.fernet_key.as_ref().map(|k| k.expose_secret())
    }

    /// The scratch database of the site's drills, if configured (password included: for
    /// connecting, never for messages).
    pub fn drill_scratch_url(&self) -> Option<&str> {
        self.drill_scratch.as_ref().map(|u| u.expose_secret())
    }

    /// Expands `${VAR}`s and reads the secret files; checks the key against the system.
    fn resolve_secrets(&mut self, name: &str) -> Result<()> {
        if let Some(url) = &self.drill_scratch {
            let url = crate::secrets::expand_url(url.expose_secret()).map_err(|e| e.context(format!("sites.{name}.drill-scratch")))?;
            self.drill_scratch = Some(url.into());
        }
        let mut db = crate::secrets::expand_url(self.db.expose_secret()).map_err(|e| e.context(format!("sites.{name}.db")))?;
        if let Some(f) = &self.password_file {
            let what = format!("sites.{name}.password-file");
            let f = crate::secrets::expand(f).map_err(|e| e.context(what.clone()))?;
            let password = crate::secrets::read_file(Path::new(&f), &what)?;
            db = crate::secrets::with_password(&db, &password).map_err(|e| e.context(what))?;
        }
        self.db = db.into();
        let key = match (&self.fernet_key, &self.fernet_key_file) {
            (Some(_), Some(_)) => return Err(Error::bad_input(format!("sites.{name}: give fernet-key or fernet-key-file, not both"))),
            (Some(k), None) => Some(crate::secrets::expand(k.expose_secret()).map_err(|e| e.context(format!("sites.{name}.fernet-key")))?),
            (None, Some(f)) => {
                let what = format!("sites.{name}.fernet-key-file");
                let f = crate::secrets::expand(f).map_err(|e| e.context(what.clone()))?;
                Some(crate::secrets::read_file(Path::new(&f), &what)?)
            }
            (None, None) => None,
        };
        if let Some(k) = key {
            crate::registry::check_site_key(&tandem_system::SiteKey::new(k.as_str(), format!("sites.{name}.fernet-key")), self.system.as_deref())?;
            self.fernet_key = Some(k.into());
        }
        Ok(())
    }

    /// The name of the site this one is restored from.
    pub fn source(&self) -> Option<&str> {
        self.source.as_ref().map(|s| s.get_ref().as_str())
    }

    /// The replication of the site's source into this site (`name`): its slot and publication on
    /// the source, named after the site, and its origin marks.
    pub fn capture(&self, name: &str) -> tandem_engine::changes::Capture {
        tandem_engine::changes::Capture::new(name, self.source().unwrap_or_default(), self.publication.clone())
    }

    /// Where the site's replica bootstrap copies from (`seed`, checked by [`Config::parse`]).
    pub fn seed(&self) -> tandem_core::Seed {
        match self.seed.as_ref().map(|s| s.get_ref().as_str()) {
            Some("backup") => tandem_core::Seed::Backup(None),
            _ => tandem_core::Seed::Fresh,
        }
    }
}

impl Config {
    /// Reads and validates a config file. Errors name the file, and the line for syntax errors.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::bad_input(format!("cannot read config file {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| e.context(format!("config file {}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Config> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            match e.span() {
                Some(span) => Error::bad_input(format!("line {}: {msg}", line_at(text, span.start))),
                None => Error::bad_input(msg),
            }
        })?;
        if let Some(repo) = &config.repo {
            config.repo = Some(crate::secrets::expand(repo).map_err(|e| e.context("repo"))?);
        }
        if let Some(file) = &config.repo_key_file {
            config.repo_key_file = Some(crate::secrets::expand(file).map_err(|e| e.context("repo-key-file"))?);
        }
        if config.repo_key_file.is_some() && config.repo_key_command.is_some() {
            return Err(Error::bad_input("give repo-key-file or repo-key-command, not both"));
        }
        let names: Vec<String> = config.sites.keys().cloned().collect();
        for (name, site) in config.sites.iter_mut() {
            site.resolve_secrets(name)?;
            tandem_system::LocationMap::parse(&site.map_location).map_err(|e| e.context(format!("sites.{name}.map-location")))?;
            if let Some(src) = &site.source {
                if !names.contains(src.get_ref()) {
                    let known = names.join(", ");
                    return Err(at(text, src, &format!("sites.{name}.source: there is no site {:?} (configured: {known})", src.get_ref())));
                }
                if src.get_ref() == name {
                    return Err(at(text, src, &format!("sites.{name}.source: a site cannot be its own source")));
                }
            }
            site.schedules.backup = checked(text, site.backup.as_ref(), &format!("sites.{name}.backup"), Schedule::parse)?;
            site.schedules.refresh = checked(text, site.refresh.as_ref(), &format!("sites.{name}.refresh"), Schedule::parse)?;
            site.schedules.drill = checked(text, site.drill.as_ref(), &format!("sites.{name}.drill"), Schedule::parse)?;
            if let (Some(r), None) = (&site.refresh, &site.source) {
                return Err(at(text, r, &format!("sites.{name}.refresh: a refresh restores the newest backup of the site's source; add `source = \"SITE\"`")));
            }
            if site.replicate && site.source.is_none() {
                return Err(Error::bad_input(format!("sites.{name}.replicate: replication streams the changes of the site's source; add `source = \"SITE\"`")));
            }
            site.scope =
                tandem_engine::Scope::new(site.include.clone(), site.exclude.clone()).map_err(|e| e.context(format!("sites.{name}.include/exclude")))?;
            if !site.scope.is_all() && site.source.is_none() {
                return Err(Error::bad_input(format!(
                    "sites.{name}.include/exclude: a scope chooses the tables a site holds of its source (refresh, replicate); add `source = \"SITE\"`"
                )));
            }
            if let Some(seed) = &site.seed {
                if !matches!(seed.get_ref().as_str(), "source" | "backup") {
                    return Err(at(
                        text,
                        seed,
                        &format!("sites.{name}.seed: {:?} is neither \"source\" (a new backup) nor \"backup\" (the newest in the repository)", seed.get_ref()),
                    ));
                }
            }
            if let (true, Some(r)) = (site.replicate, &site.refresh) {
                return Err(at(text, r, &format!("sites.{name}.refresh: the site is kept current by `replicate = true`; a refresh would replace the replica")));
            }
            site.auto_failover = site.failover_policy(text, name)?;
            site.probes =
                site.probe.iter().map(|p| Probe::parse(p.get_ref()).map_err(|e| at(text, p, &format!("sites.{name}.probe: {e}")))).collect::<Result<_>>()?;
        }
        if let Some(r) = &mut config.retention {
            if *r.keep_last.get_ref() == 0 {
                return Err(at(text, &r.keep_last, "retention.keep-last must be at least 1 (the newest backup is always kept)"));
            }
            r.grace_duration = checked(text, r.grace.as_ref(), "retention.grace", parse_duration)?.unwrap_or(DEFAULT_PRUNE_GRACE);
        }
        config.serve.values = config.serve.check(text)?;
        config.text = text.to_string();
        Ok(config)
    }

    /// A site's key for its system's secrets: `flag` (named `what` in errors) wins over the
    /// site's `fernet-key`.
    pub fn site_key(&self, site: Option<&str>, flag: Option<&str>, what: &str) -> Option<tandem_system::SiteKey> {
        match flag {
            Some(k) => Some(tandem_system::SiteKey::new(k, what)),
            None => {
                let (name, key) = site.and_then(|s| Some((s, self.sites.get(s)?.fernet_key()?)))?;
                Some(tandem_system::SiteKey::new(key, format!("sites.{name}.fernet-key")))
            }
        }
    }

    /// The site's `map-location` list followed by `flags` (`FROM=TO` each).
    pub fn location_map(&self, site: Option<&str>, flags: &[String]) -> Result<tandem_system::LocationMap> {
        let mut specs = site.and_then(|s| self.sites.get(s)).map(|s| s.map_location.clone()).unwrap_or_default();
        specs.extend(flags.iter().cloned());
        tandem_system::LocationMap::parse(&specs)
    }

    /// The sites linked to `name` by `source` (either way, transitively), `name` included: one
    /// platform of sites. A repository may serve several; an epoch is about one of them.
    pub fn linked_sites(&self, name: &str) -> std::collections::BTreeSet<String> {
        let mut linked = std::collections::BTreeSet::from([name.to_string()]);
        loop {
            let more: Vec<String> = self
                .sites
                .iter()
                .filter(|(n, s)| {
                    !linked.contains(*n)
                        && (s.source().is_some_and(|src| linked.contains(src))
                            || linked.iter().any(|l| self.sites.get(l).and_then(Site::source) == Some(n.as_str())))
                })
                .map(|(n, _)| n.clone())
                .collect();
            if more.is_empty() {
                return linked;
            }
            linked.extend(more);
        }
    }

    /// The site called `name`; the error lists the sites that exist.
    pub fn site(&self, name: &str) -> Result<&Site> {
        self.sites.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.sites.keys().map(String::as_str).collect();
            if known.is_empty() {
                Error::bad_input(format!("unknown site {name:?}: no sites are configured (give --config FILE with [sites.{name}])"))
            } else {
                Error::bad_input(format!("unknown site {name:?} (configured: {})", known.join(", ")))
            }
        })
    }
}

/// Unreferenced chunks younger than this survive a prune (protects backups running elsewhere).
const DEFAULT_PRUNE_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

impl ServeConfig {
    /// Checks every value (durations, address, URL) and returns them; errors name the line.
    fn check(&self, text: &str) -> Result<ServeValues> {
        let duration = |key: &str, v: &Option<Spanned<String>>| checked(text, v.as_ref(), key, parse_duration);
        let values = ServeValues {
            listen: checked(text, self.listen.as_ref(), "serve.listen", |s| {
                s.parse::<std::net::SocketAddr>().map_err(|e| format!("{e} (want HOST:PORT, e.g. 127.0.0.1:9187)"))
            })?,
            health_interval: duration("serve.health-interval", &self.health_interval)?,
            health_threshold: duration("serve.health-threshold", &self.health_threshold)?,
            staleness_alert: duration("serve.staleness-alert", &self.staleness_alert)?,
            lease_ttl: duration("serve.lease-ttl", &self.lease_ttl)?,
            shutdown_grace: duration("serve.shutdown-grace", &self.shutdown_grace)?,
        };
        if let (Some(v), Some(ttl)) = (&self.lease_ttl, values.lease_ttl) {
            if ttl < std::time::Duration::from_secs(2) {
                return Err(at(text, v, "serve.lease-ttl must be at least 2s"));
            }
        }
        checked(text, self.webhook.as_ref(), "serve.webhook", |s| match url::Url::parse(s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
            Ok(u) => Err(format!("webhook URL must be http:// or https://, not {}://", u.scheme())),
            Err(e) => Err(format!("invalid URL: {e}")),
        })?;
        if let (Some(_), Some(env)) = (&self.token_file, &self.token_env) {
            return Err(at(text, env, "serve: give token-file or token-env, not both"));
        }
        Ok(values)
    }
}

/// The longest duration tandem takes from a flag or the config: longer ones overflow clocks
/// and timestamps (a grace of 300000 years cannot be subtracted from now).
const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(100 * 366 * 24 * 3600);

/// Parses a duration from a flag or the config (`30s`, `15m`, `1h`), at most 100 years.
pub fn parse_duration(s: &str) -> std::result::Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("invalid duration {s:?}: {e} (e.g. 30s, 15m, 1h)"))?;
    if d > MAX_DURATION {
        return Err(format!("duration {s:?} is too long (at most 100 years)"));
    }
    Ok(d)
}

/// 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count()
}

/// A BadInput error at the line of `value`.
pub fn at<T>(text: &str, value: &Spanned<T>, msg: &str) -> Error {
    Error::bad_input(format!("line {}: {msg}", line_at(text, value.span().start)))
}

/// Parses an optional value; the error names the key and the line.
fn checked<T>(text: &str, v: Option<&Spanned<String>>, key: &str, parse: impl Fn(&str) -> std::result::Result<T, String>) -> Result<Option<T>> {
    v.map(|s| parse(s.get_ref()).map_err(|e| at(text, s, &format!("{key}: {e}")))).transpose()
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    #[test]
    fn linked_sites_are_one_platform() {
        let c = Config::parse(
            "[sites.a]\ndb = \"mysql://u@h/a\"\n[sites.b]\ndb = \"mysql://u@h/b\"\nsource = \"a\"\n[sites.c]\ndb = \"mysql://u@h/c\"\nsource = \"b\"\n\
             [sites.x]\ndb = \"mysql://u@h/x\"\n[sites.y]\ndb = \"mysql://u@h/y\"\nsource = \"x\"\n",
        )
        .unwrap();
        let names = |s: &str| c.linked_sites(s).into_iter().collect::<Vec<_>>().join(",");
        assert_eq!(names("c"), "a,b,c");
        assert_eq!(names("a"), "a,b,c");
        assert_eq!(names("x"), "x,y");
    }

    use super::*;

    #[test]
    fn parses_sites_and_expands_env() {
        std::env::set_var("TANDEM_TEST_PW", "s3cret");
        let c = Config::parse("repo = \"/r\"\n[sites.primary]\ndb = \"mysql://u:${TANDEM_TEST_PW}@h/db\"\nsystem = \"generic\"\n").unwrap();
        assert_eq!(c.repo.as_deref(), Some("/r"));
        assert_eq!(c.site("primary").unwrap().db_url(), "mysql://u:s3cret@h/db");
        assert!(!format!("{c:?}").contains("s3cret"), "Debug hides the URL");
        let c = Config::parse("[sites.primary]\ndb = \"mysql://u:hunter2@h/db\"\nfernet-key = \"a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=\"\n").unwrap();
        assert!(!format!("{c:?}").contains("hunter2") && !format!("{c:?}").contains("a2V5a2V5"), "{c:?}");
        let e = c.site("dr").unwrap_err().to_string();
        assert!(e.contains("unknown site \"dr\"") && e.contains("primary"), "{e}");
    }

    #[test]
    fn map_location_lists_are_checked_when_loaded() {
        let c = Config::parse("[sites.dr]\ndb = \"mysql://h/db\"\nmap-location = [\"gs://a/=gs://b/\"]\n").unwrap();
        assert_eq!(c.site("dr").unwrap().map_location, vec!["gs://a/=gs://b/"]);
        let e = Config::parse("[sites.dr]\ndb = \"mysql://h/db\"\nmap-location = [\"gs://a/\"]\n").unwrap_err();
        assert!(e.to_string().contains("sites.dr.map-location") && e.to_string().contains("no '='"), "{e}");
        let e = Config::parse("[sites.dr]\ndb = \"mysql://h/db\"\nmap-location = \"gs://a/=gs://b/\"\n").unwrap_err();
        assert!(e.to_string().starts_with("line 3"), "{e}");
    }

    #[test]
    fn repository_key_sources() {
        std::env::set_var("TANDEM_TEST_KEYDIR", "/etc/k");
        let c = Config::parse("repo = \"/r\"\nrepo-key-file = \"${TANDEM_TEST_KEYDIR}/key\"\n").unwrap();
        assert_eq!(c.repo_key_file.as_deref(), Some("/etc/k/key"));
        let c = Config::parse("repo-key-command = \"pass show tandem\"\n").unwrap();
        assert_eq!(c.repo_key_command.as_deref(), Some("pass show tandem"));
        let e = Config::parse("repo-key-file = \"/k\"\nrepo-key-command = \"x\"\n").unwrap_err().to_string();
        assert_eq!(e, "give repo-key-file or repo-key-command, not both");
        assert!(Config::parse("repo-key = \"x\"\n").unwrap_err().to_string().starts_with("line 1"), "no key in the file itself");
    }

    #[test]
    fn broken_config_names_the_line() {
        let e = Config::parse("repo = \"/r\"\n[sites.primary]\ndbb = \"x\"\n").unwrap_err();
        assert!(e.to_string().starts_with("line 3"), "{e}");
        assert!(e.to_string().contains("dbb"), "{e}");
        let e = Config::parse("repo = \n").unwrap_err();
        assert!(e.to_string().starts_with("line 1"), "{e}");
        let e = Config::parse("[sites.a]\ndb = \"mysql://${TANDEM_SURELY_UNSET_VAR}\"\n").unwrap_err();
        assert!(e.to_string().contains("TANDEM_SURELY_UNSET_VAR is not set"), "{e}");
    }

    #[test]
    fn serve_settings_are_checked_with_their_line() {
        let base = "repo = \"/r\"\n[sites.p]\ndb = \"mysql://h/db\"\nbackup = \"*/5 * * * * *\"\n[sites.dr]\ndb = \"mysql://h/dr\"\nsource = \"p\"\n";
        let c = Config::parse(&format!("{base}refresh = \"*/10 * * * * *\"\n[retention]\nkeep-last = 3\n")).unwrap();
        assert!(c.site("dr").unwrap().schedules.refresh.is_some() && c.site("p").unwrap().schedules.backup.is_some());
        assert_eq!(c.retention.as_ref().unwrap().grace_duration, DEFAULT_PRUNE_GRACE);
        let err = |extra: &str| Config::parse(&format!("{base}{extra}")).unwrap_err().to_string();
        let e = err("refresh = \"61 * * * *\"\n");
        assert!(e.starts_with("line 8: sites.dr.refresh: invalid cron pattern"), "{e}");
        let e = err("drill = \"weekly\"\n");
        assert!(e.starts_with("line 8: sites.dr.drill: cron pattern \"weekly\" has 1 fields"), "{e}");
        assert!(Config::parse(&format!("{base}drill = \"0 3 * * 0\"\n")).unwrap().site("dr").unwrap().schedules.drill.is_some());
        let e = err("[serve]\nlease-ttl = \"soon\"\n");
        assert!(e.starts_with("line 9: serve.lease-ttl: invalid duration"), "{e}");
        let e = err("[serve]\nlisten = \"localhost\"\n");
        assert!(e.starts_with("line 9: serve.listen"), "{e}");
        let e = err("[serve]\nwebhook = \"ftp://x/\"\n");
        assert!(e.starts_with("line 9") && e.contains("http://"), "{e}");
        let e = err("[retention]\nkeep-last = 0\n");
        assert!(e.starts_with("line 9: retention.keep-last"), "{e}");
        let e = Config::parse("[sites.dr]\ndb = \"mysql://h/dr\"\nsource = \"nope\"\n").unwrap_err().to_string();
        assert!(e.starts_with("line 3: sites.dr.source: there is no site \"nope\""), "{e}");
        let e = Config::parse("[sites.dr]\ndb = \"mysql://h/dr\"\nrefresh = \"* * * * *\"\n").unwrap_err().to_string();
        assert!(e.starts_with("line 3: sites.dr.refresh") && e.contains("source"), "{e}");
        let e = err("[serve]\nlisten = \"127.0.0.1:1\"\nport = 3\n");
        assert!(e.starts_with("line 10") && e.contains("port"), "{e}");
    }
}
