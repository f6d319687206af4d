//! Supervised continuous replication in the daemon: every site with `replicate = true` gets a
//! task that runs `tandem replicate SITE` while this daemon holds the lease, stops it (between
//! transactions) when the lease is lost or the daemon stops, and restarts it after an error with
//! backoff (1 s doubling to 60 s), alerting once per failure streak.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tandem_core::ReplicaStatus;
use tokio::sync::watch;

use super::alerts::Alert;
use super::daemon::Daemon;
use crate::jobs;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often a running replication looks whether its site was promoted.
const PROMOTED_EVERY: Duration = Duration::from_secs(2);

/// What the status endpoints show of one site's replication.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplicaView {
    /// The running replication's status (kept after it stops).
    pub status: ReplicaStatus,
    /// Whether replication runs now.
    pub running: bool,
    /// Why it does not run, when the site needs none (it was promoted).
    pub idle: Option<String>,
    /// Attempts that ended in an error, in total.
    pub failures_total: u64,
    /// The last error and when it happened.
    pub last_error: Option<(DateTime<Utc>, String)>,
    /// The lag over the last 24 h, for the status page.
    #[serde(skip)]
    pub lag_history: super::history::LagSamples,
}

impl ReplicaView {
    /// Records the current lag in the history (while replication runs).
    pub fn sample(&mut self, now: DateTime<Utc>) {
        if self.running {
            self.lag_history.observe(now, self.status.lag_seconds);
        }
    }
}

/// The daemon's replicas, by site.
pub type Replicas = Mutex<std::collections::BTreeMap<String, ReplicaView>>;

/// Starts a supervisor for every site with `replicate = true`, each on a thread and runtime of
/// its own (as the other jobs: its connections live there); the threads end when the daemon
/// stops.
pub fn start(daemon: &Arc<Daemon>) -> Vec<std::thread::JoinHandle<()>> {
    let mut threads = Vec::new();
    for (site, _) in daemon.config.sites.iter().filter(|(_, s)| s.replicate) {
        daemon.update_replica(site, |_| {});
        let (d, name) = (daemon.clone(), site.clone());
        let thread = std::thread::Builder::new().name(format!("replicate-{site}")).spawn(move || {
            match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(rt) => rt.block_on(supervise(d, name)),
                Err(e) => tracing::error!(site = %name, "cannot start a runtime for replication: {e}"),
            }
        });
        match thread {
            Ok(t) => threads.push(t),
            Err(e) => tracing::error!(%site, "cannot start a thread for replication: {e}"),
        }
    }
    threads
}

/// Runs replication into `site` for as long as the daemon runs (see the module doc).
pub async fn supervise(daemon: Arc<Daemon>, site: String) {
    let mut backoff = Duration::from_secs(1);
    let mut alerted = false;
    while !daemon.stopping() {
        if !daemon.is_leader() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // A promoted site takes writes of its own: nothing is replicated into it.
        if let Some(why) = promoted(&daemon, &site).await {
            daemon.update_replica(&site, |v| v.idle = Some(why));
            tokio::time::sleep(Duration::from_secs(5)).await;
            continue;
        }
        daemon.update_replica(&site, |v| v.idle = None);
        let (stop_tx, stop) = watch::channel(false);
        let (status_tx, mut status_rx) = watch::channel(ReplicaStatus::default());
        // Stops the run when the lease is lost, the daemon stops, or the site is promoted (a
        // replication waiting for its dead source would not notice that on its own).
        let watcher = {
            let (daemon, site) = (daemon.clone(), site.clone());
            tokio::spawn(async move {
                let mut looked = tokio::time::Instant::now();
                while !daemon.stopping() && daemon.is_leader() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if looked.elapsed() >= PROMOTED_EVERY {
                        looked = tokio::time::Instant::now();
                        if promoted(&daemon, &site).await.is_some() {
                            break;
                        }
                    }
                }
                let _ = stop_tx.send(true);
            })
        };
        let mirror = {
            let (daemon, site) = (daemon.clone(), site.clone());
            tokio::spawn(async move {
                let mut at_risk = false;
                while status_rx.changed().await.is_ok() {
                    let s = status_rx.borrow().clone();
                    // Alert once when the log the replica needs becomes at risk.
                    if let (true, false, Some(log)) = (s.log_at_risk, at_risk, &s.log) {
                        let text = format!("tandem: replication into {site}: {}", tandem_core::describe_log(log, Utc::now()));
                        daemon.alert(Alert::new("replication_log_at_risk", &site, None, text));
                    }
                    at_risk = s.log_at_risk;
                    daemon.update_replica(&site, |v| v.status = s);
                }
            })
        };
        daemon.update_replica(&site, |v| v.running = true);
        let events = Arc::new(super::LogEvents { run: format!("{site}/replicate") });
        // The repository is opened on this runtime: its HTTP connections live here.
        let result = match daemon.repo.reopen(daemon.repo_url()).await {
            Ok(repo) => jobs::replicate_site(&daemon.config, &site, Default::default(), repo, events, stop, status_tx).await,
            Err(e) => Err(e),
        };
        watcher.abort();
        let _ = mirror.await;
        daemon.update_replica(&site, |v| v.running = false);
        match result {
            Ok(_) => {
                backoff = Duration::from_secs(1);
                alerted = false;
            }
            Err(_) if promoted(&daemon, &site).await.is_some() => {
                tracing::warn!(%site, "the site was promoted: replication into it stops");
            }
            Err(e) => {
                let message = crate::hints::for_daemon(&e);
                tracing::warn!(%site, "replication stopped: {message}; retrying in {backoff:?}");
                daemon.update_replica(&site, |v| {
                    v.failures_total += 1;
                    v.last_error = Some((Utc::now(), message.clone()));
                });
                if !alerted {
                    daemon.alert(Alert::new("replication_failed", &site, None, format!("tandem: replication into {site} stopped: {message}")));
                    alerted = true;
                }
                let wake = tokio::time::Instant::now() + backoff;
                while tokio::time::Instant::now() < wake && !daemon.stopping() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Why `site` needs no replication: it holds the active role. `None` otherwise, and when its
/// role cannot be read (the attempt then says why).
async fn promoted(daemon: &Daemon, site: &str) -> Option<String> {
    let (engine, url) = crate::registry::engine_for(daemon.config.sites.get(site)?.db_url()).ok()?;
    let role = tandem_core::role::read(engine, &url).await.ok()??;
    (role.role == tandem_engine::role::Role::Active).then(|| format!("the site is active ({}): nothing is replicated into it", role.describe()))
}
