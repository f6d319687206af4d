//! `tandem serve`: one daemon runs every site's scheduled jobs (backups, standby refreshes, the
//! retention policy after each backup), probes every site's health, and reports over HTTP.
//!
//! - **Lease.** Jobs run only while this daemon holds the repository's lease (tandem-repo's
//!   `daemon` module); a second daemon on the same repository waits and takes over within the
//!   lease TTL when the first dies. A daemon that loses the lease aborts its running jobs.
//! - **Jobs.** At most one run per site and job at a time; a schedule that fires while the last
//!   run is still busy is skipped. A run that is aborted (shutdown, lost lease, `kill -9`) leaves
//!   nothing visible: a backup is listed only once its manifest is written, a refresh replaces the
//!   standby's content only at its final commit.
//! - **History.** Each finished run is recorded in `daemon/jobs/<site>.<job>.json` in the
//!   repository, so a restarted daemon, or one in the other region, knows the last success and
//!   failure, and which backup a standby holds (its staleness).
//! - **Roles.** The lease holder fences former active sites on sight and fails standbys with
//!   `failover = "auto"` over when their source is gone (the `guard` module).
//! - **Shutdown.** SIGTERM or SIGINT: no new runs; running ones get `shutdown-grace` to finish,
//!   then are aborted; the lease is released so a standby daemon takes over at once.

mod alerts;
mod chart;
mod daemon;
mod guard;
mod history;
mod http;
mod metrics;
mod page;
mod refused;
mod replication;
mod schedule;
mod state;
mod status;

pub use schedule::Schedule;

use std::time::Duration;

use secrecy::SecretString;
use tandem_error::{Error, Result};

use crate::cli::ServeArgs;
use crate::commands::Ctx;
use crate::config::Config;
use daemon::Daemon;

/// Settings of a daemon, resolved from `[serve]` with defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: std::net::SocketAddr,
    /// Bearer token of the mutating endpoints; `None`: they are off.
    pub token: Option<SecretString>,
    /// Where alerts are posted (its URL often holds a token).
    pub webhook: Option<SecretString>,
    pub health_interval: Duration,
    pub health_threshold: Duration,
    pub staleness_alert: Option<Duration>,
    pub lease_ttl: Duration,
    pub shutdown_grace: Duration,
}

/// Default HTTP address: loopback only.
const DEFAULT_LISTEN: std::net::SocketAddr = std::net::SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 9187));

impl Settings {
    /// Resolves `[serve]` with defaults, reading the token file or variable. Errors name the line.
    fn from_config(config: &Config, listen: Option<&str>) -> Result<Settings> {
        let (s, v, text) = (&config.serve, &config.serve.values, config.text.as_str());
        let listen = match listen {
            Some(l) => l.parse().map_err(|e| Error::bad_input(format!("--listen {l:?}: {e} (want HOST:PORT)")))?,
            None => v.listen.unwrap_or(DEFAULT_LISTEN),
        };
        let token = match (&s.token_file, &s.token_env) {
            (Some(f), _) => {
                let t = std::fs::read_to_string(f.get_ref())
                    .map_err(|e| crate::config::at(text, f, &format!("serve.token-file: cannot read {}: {e}", f.get_ref())))?;
                Some(non_empty(t.trim(), || crate::config::at(text, f, &format!("serve.token-file: {} is empty", f.get_ref())))?.into())
            }
            (None, Some(e)) => {
                let t = std::env::var(e.get_ref())
                    .map_err(|_| crate::config::at(text, e, &format!("serve.token-env: environment variable {} is not set", e.get_ref())))?;
                Some(non_empty(t.trim(), || crate::config::at(text, e, &format!("serve.token-env: {} is empty", e.get_ref())))?.into())
            }
            (None, None) => None,
        };
        Ok(Settings {
            listen,
            token,
            webhook: s.webhook.as_ref().map(|w| w.get_ref().clone().into()),
            health_interval: v.health_interval.unwrap_or(Duration::from_secs(30)),
            health_threshold: v.health_threshold.unwrap_or(Duration::from_secs(30)),
            staleness_alert: v.staleness_alert,
            lease_ttl: v.lease_ttl.unwrap_or(Duration::from_secs(60)),
            shutdown_grace: v.shutdown_grace.unwrap_or(Duration::from_secs(300)),
        })
    }
}

fn non_empty(s: &str, err: impl FnOnce() -> Error) -> Result<String> {
    if s.is_empty() {
        Err(err())
    } else {
        Ok(s.to_string())
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(ctx: &Ctx, args: ServeArgs) -> Result<i32> {
    let path = ctx.config_path.as_ref().ok_or_else(|| Error::bad_input("tandem serve needs --config FILE (sites, schedules, [serve])"))?;
    let in_file = |e: Error| e.context(format!("config file {}", path.display()));
    let config = ctx.config.clone();
    let settings = Settings::from_config(&config, args.listen.as_deref()).map_err(in_file)?;
    let schedules = config.sites.values().map(|s| &s.schedules);
    let (backups, refreshes) = schedules.fold((false, false), |(b, r), s| (b || s.backup.is_some(), r || s.refresh.is_some()));
    let replicas = config.sites.values().any(|s| s.replicate);
    let failovers = config.sites.values().any(|s| s.auto_failover.is_some());
    if !backups && !refreshes && !replicas && !failovers {
        return Err(in_file(Error::bad_input(
            "no site has a `backup` or `refresh` schedule, `replicate = true` or `failover = \"auto\"`: tandem serve would have nothing to do",
        )));
    }
    let url = ctx.repo_url().map_err(in_file)?;
    // A daemon that backs up may create the repository; a refresh-only one needs it to exist.
    let repo = match backups || replicas {
        true => ctx.open_or_create_repo().await?,
        false => ctx.open_repo().await?,
    };
    let listener = tokio::net::TcpListener::bind(settings.listen).await.map_err(|e| Error::bad_input(format!("cannot listen on {}: {e}", settings.listen)))?;
    let addr = listener.local_addr().map_err(|e| Error::internal(format!("listen address: {e}")))?;
    if !addr.ip().is_loopback() && settings.token.is_none() {
        tracing::warn!(%addr, "listening beyond loopback; the status and metrics are readable by anyone who can reach it");
    }
    let daemon = Daemon::start(config, settings, url, repo).await?;
    println!("tandem serve: listening on http://{addr} (holder {})", daemon.holder());
    let http = tokio::spawn(http::serve(listener, daemon.clone()));
    let signal = shutdown_signal().await;
    tracing::warn!("{signal}: stopping");
    daemon.shutdown().await;
    http.abort();
    Ok(0)
}

/// Waits for SIGTERM or SIGINT and names it.
pub(crate) async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        // Without signal handlers the daemon can still be stopped by SIGKILL; never return early.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// Logs a run's progress at info (`-v`), warnings at warn.
pub(super) struct LogEvents {
    pub run: String,
}

impl tandem_core::Events for LogEvents {
    fn phase(&self, name: &str, _total: Option<u64>, _unit: tandem_core::Unit) {
        tracing::info!(run = %self.run, "{name}");
    }
    fn warn(&self, message: &str) {
        tracing::warn!(run = %self.run, "{message}");
    }
    fn info(&self, message: &str) {
        tracing::debug!(run = %self.run, "{message}");
    }
}
