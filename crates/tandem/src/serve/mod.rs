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
//! - **Shutdown.** SIGTERM or SIGINT: no new runs; running ones get `shutdown-grace` to finish,
//!   then are aborted; the lease is released so a standby daemon takes over at once.

mod alerts;
mod daemon;
mod http;
mod metrics;
mod page;
mod schedule;
mod state;
mod status;

pub use schedule::Schedule;

use std::time::Duration;

use tandem_error::{Error, Result};
use tandem_repo::Repository;

use crate::cli::ServeArgs;
use crate::commands::Ctx;
use crate::config::Config;
use daemon::Daemon;

/// Settings of a daemon, resolved from `[serve]` with defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: std::net::SocketAddr,
    /// Bearer token of the mutating endpoints; `None`: they are off.
    pub token: Option<String>,
    pub webhook: Option<String>,
    pub health_interval: Duration,
    pub health_threshold: Duration,
    pub staleness_alert: Option<Duration>,
    pub lease_ttl: Duration,
    pub shutdown_grace: Duration,
}

/// Default HTTP address: loopback only.
const DEFAULT_LISTEN: &str = "127.0.0.1:9187";

impl Settings {
    /// Resolves `[serve]` (reading the token file or variable). Errors name the line.
    fn from_config(config: &Config, text: &str, listen: Option<&str>) -> Result<Settings> {
        let s = &config.serve;
        let listen = listen
            .map(str::to_string)
            .or_else(|| s.listen.as_ref().map(|l| l.get_ref().clone()))
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen = listen.parse().map_err(|e| Error::bad_input(format!("listen address {listen:?}: {e} (want HOST:PORT)")))?;
        let token = match (&s.token_file, &s.token_env) {
            (Some(f), _) => {
                let t = std::fs::read_to_string(f.get_ref())
                    .map_err(|e| crate::config::at(text, f, &format!("serve.token-file: cannot read {}: {e}", f.get_ref())))?;
                Some(non_empty(t.trim(), || crate::config::at(text, f, &format!("serve.token-file: {} is empty", f.get_ref())))?)
            }
            (None, Some(v)) => {
                let t = std::env::var(v.get_ref())
                    .map_err(|_| crate::config::at(text, v, &format!("serve.token-env: environment variable {} is not set", v.get_ref())))?;
                Some(non_empty(t.trim(), || crate::config::at(text, v, &format!("serve.token-env: {} is empty", v.get_ref())))?)
            }
            (None, None) => None,
        };
        Ok(Settings {
            listen,
            token,
            webhook: s.webhook.as_ref().map(|w| w.get_ref().clone()),
            health_interval: s.duration(&s.health_interval, Duration::from_secs(30)),
            health_threshold: s.duration(&s.health_threshold, Duration::from_secs(30)),
            staleness_alert: s.staleness_alert.as_ref().map(|_| s.duration(&s.staleness_alert, Duration::ZERO)),
            lease_ttl: s.duration(&s.lease_ttl, Duration::from_secs(60)),
            shutdown_grace: s.duration(&s.shutdown_grace, Duration::from_secs(300)),
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
    let text = std::fs::read_to_string(path).map_err(|e| Error::bad_input(format!("cannot read config file {}: {e}", path.display())))?;
    let config = Config::parse(&text).map_err(|e| e.context(format!("config file {}", path.display())))?;
    let settings = Settings::from_config(&config, &text, args.listen.as_deref()).map_err(|e| e.context(format!("config file {}", path.display())))?;
    let jobs = daemon::scheduled_jobs(&config);
    if jobs.is_empty() {
        return Err(Error::bad_input(format!(
            "config file {}: no site has a `backup` or `refresh` schedule: tandem serve would have nothing to do",
            path.display()
        )));
    }
    let url = ctx.repo_url().map_err(|e| e.context(format!("config file {}", path.display())))?;
    // A daemon that backs up may create the repository; a refresh-only one needs it to exist.
    let repo = match jobs.iter().any(|(_, kind, _)| *kind == state::JobKind::Backup) {
        true => Repository::open_or_create(url).await?,
        false => Repository::open(url).await?,
    };
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| Error::bad_input(format!("cannot listen on {}: {e}", settings.listen)))?;
    let addr = listener.local_addr().map_err(|e| Error::internal(format!("listen address: {e}")))?;
    if !addr.ip().is_loopback() && settings.token.is_none() {
        tracing::warn!(%addr, "listening beyond loopback; the status and metrics are readable by anyone who can reach it");
    }
    let daemon = Daemon::start(config, settings, url, repo, jobs).await?;
    println!("tandem serve: listening on http://{addr} (holder {})", daemon.holder());
    let http = tokio::spawn(http::serve(listener, daemon.clone()));
    let signal = shutdown_signal().await;
    tracing::warn!("{signal}: stopping");
    daemon.shutdown().await;
    http.abort();
    Ok(0)
}

/// Waits for SIGTERM or SIGINT and names it.
async fn shutdown_signal() -> &'static str {
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
