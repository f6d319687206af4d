//! The daemon's guard of the platform's roles. Only the lease holder acts, and only while it can
//! read the repository, whose epoch chain is the witness of who is active.
//!
//! - **Fence on sight.** Every round, each reachable site that is a former active one (it holds
//!   the active role of an older epoch than the platform's, or no role though it feeds another
//!   site: [`tandem_core::role::stray`]) is fenced at once at the platform's epoch, its writes
//!   stopped, and the `site_fenced` alert sent. A failed fence alerts `fence_failed` and is tried
//!   again next round.
//! - **Automatic failover** (a standby with `failover = "auto"`, see
//!   [`crate::config::FailoverPolicy`]): while the platform's active site is the standby's
//!   source (or no epoch was claimed yet), the source is probed every
//!   [`FailoverPolicy::probe_interval`]: its database answers, its system is healthy (an Airflow
//!   scheduler heartbeat younger than `health-threshold`), and its `probe`s answer. When every
//!   probe failed for `failover-after` (and at least [`FailoverPolicy::MIN_FAILURES`] in a row)
//!   and the daemon renewed its lease at its last try, it runs the failover
//!   ([`tandem_core::failover`]: the next epoch claimed by a conditional create, so of two
//!   daemons exactly one goes on; the old site fenced when it answers; the standby promoted with
//!   interrupted work rerun, refused when it trails by more than `failover-max-lag`), then the
//!   site's `on-promote` hook ([`crate::hooks`]), alerting `failover` (or `failover_failed`,
//!   `hook_failed`). After an attempt, none for `failover-cooldown`.
//!
//! The guard runs on a thread and runtime of its own, as the jobs do (their flows need not be
//! `Send`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tandem_core::role::Stray;
use tandem_core::FailoverRequest;
use tandem_error::Result;
use tandem_repo::{Repository, RoleRecord};
use tandem_system::Interrupted;

use super::alerts::Alert;
use super::daemon::Daemon;
use crate::config::{FailoverPolicy, Probe};
use crate::hooks::{self, Promoted};
use crate::registry;

/// The longest one probe of a site may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest time between two rounds (fence on sight runs at least this often).
const MAX_ROUND: Duration = Duration::from_secs(5);

/// What the status shows of a standby's automatic failover.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FailoverView {
    /// When the source began failing every probe; `None` while it answers.
    pub source_failing_since: Option<DateTime<Utc>>,
    /// Probes failed in a row.
    pub failed_probes: u32,
    /// Why the last probe failed.
    pub last_probe_error: Option<String>,
    /// The last failover attempt and its outcome.
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_result: Option<String>,
    /// No attempt before this.
    #[serde(skip)]
    cooldown_until: Option<Instant>,
}

impl FailoverView {
    /// The source answers (or is not this watch's): no failing streak.
    fn end_streak(&mut self) {
        self.source_failing_since = None;
        self.failed_probes = 0;
    }
}

/// The daemon's failover views, by standby.
pub type Watches = Mutex<BTreeMap<String, FailoverView>>;

/// Starts the guard on a thread of its own.
pub fn start(daemon: &Arc<Daemon>) -> Option<std::thread::JoinHandle<()>> {
    let d = daemon.clone();
    let thread = std::thread::Builder::new().name("guard".into()).spawn(move || {
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(rt) => rt.block_on(guard(d)),
            Err(e) => tracing::error!("cannot start a runtime for the role guard: {e}"),
        }
    });
    thread.map_err(|e| tracing::error!("cannot start a thread for the role guard: {e}")).ok()
}

/// The time between two rounds: the shortest probe interval of an automatic failover, at most
/// [`MAX_ROUND`].
fn round(daemon: &Daemon) -> Duration {
    daemon.config.sites.values().filter_map(|s| s.auto_failover.as_ref()).map(FailoverPolicy::probe_interval).fold(MAX_ROUND, Duration::min)
}

async fn guard(daemon: Arc<Daemon>) {
    let period = round(&daemon);
    let client = reqwest::Client::builder().timeout(PROBE_TIMEOUT).build().unwrap_or_default();
    let mut repo = None;
    // Sites whose fence failed and was alerted (once per streak).
    let mut unfenced = BTreeSet::new();
    while !daemon.stopping() {
        let started = tokio::time::Instant::now();
        if daemon.is_leader() {
            if repo.is_none() {
                // The repository is opened on this runtime: its HTTP connections live here.
                repo = daemon.repo.reopen(daemon.repo_url()).await.map_err(|e| tracing::warn!("role guard: cannot open the repository: {e}")).ok();
            }
            if let Some(repo) = &repo {
                match repo.current_roles().await {
                    Ok(platform) => {
                        if let Some(p) = &platform {
                            fence_strays(&daemon, p, &mut unfenced).await;
                        }
                        for (site, policy) in daemon.config.sites.iter().filter_map(|(n, s)| Some((n, s.auto_failover.as_ref()?))) {
                            watch(&daemon, &client, repo, platform.as_ref(), site, policy).await;
                        }
                    }
                    // Without its witness the guard does nothing.
                    Err(e) => tracing::warn!("role guard: cannot read the platform's epoch, doing nothing this round: {e}"),
                }
            }
        }
        tokio::time::sleep_until(started + period).await;
    }
}

/// Fences every reachable former active site (see the module doc); `unfenced`: the sites whose
/// fence failed (alerted once until one succeeds).
async fn fence_strays(daemon: &Arc<Daemon>, platform: &RoleRecord, unfenced: &mut BTreeSet<String>) {
    // Only the sites of the platform the epoch is about (a repository may serve several).
    for name in daemon.config.linked_sites(&platform.active).iter().filter(|n| daemon.config.sites.contains_key(*n)) {
        let feeds = daemon.config.sites.values().any(|s| s.source() == Some(name.as_str()));
        let Ok((engine, mut url)) = registry::engine_for(daemon.config.sites[name].db_url()) else { continue };
        url.retry.max_retries = 0;
        let held = match tokio::time::timeout(PROBE_TIMEOUT, tandem_core::role::read(engine, &url)).await {
            Ok(Ok(held)) => held,
            _ => continue, // unreachable: fenced when it is seen
        };
        let why = match tandem_core::role::stray(platform, name, held.as_ref(), feeds) {
            Some(Stray::OldActive { epoch }) => format!("it was active at epoch {epoch}"),
            Some(Stray::Unfenced) => "it has no role but feeds another site".to_string(),
            None => continue,
        };
        let events = Arc::new(super::LogEvents { run: format!("{name}/fence") });
        let fencing = tandem_core::fence(registry::registry(), engine, &url, Some(platform.epoch), true, events);
        let outcome = fencing.await;
        let first_failure = outcome.is_err() && unfenced.insert(name.clone());
        if outcome.is_ok() {
            unfenced.remove(name);
        } else if !first_failure {
            continue;
        }
        let (event, message) = match outcome {
            Ok(_) => (
                "site_fenced",
                format!("fenced {name} on sight ({why}; the platform is at epoch {} with {} active): writes stopped", platform.epoch, platform.active),
            ),
            Err(e) => {
                ("fence_failed", format!("{name} must be fenced ({why}; the platform is at epoch {} with {} active) but: {e}", platform.epoch, platform.active))
            }
        };
        tracing::warn!(site = %name, "{message}");
        daemon.alert(Alert::new(event, name, None, message));
    }
}

/// One round of a standby's automatic failover (see the module doc).
async fn watch(daemon: &Arc<Daemon>, client: &reqwest::Client, repo: &Repository, platform: Option<&RoleRecord>, site: &str, policy: &FailoverPolicy) {
    let Some(source) = daemon.config.sites[site].source() else { return };
    // Only a failover from the platform's active site (or before any epoch) is this watch's.
    if platform.is_some_and(|p| p.active != source) {
        return daemon.update_failover(site, FailoverView::end_streak);
    }
    let failing = match probe(daemon, client, source).await {
        Ok(()) => return daemon.update_failover(site, FailoverView::end_streak),
        Err(why) => why,
    };
    let now = Utc::now();
    let (mut due, mut first, mut since) = (false, false, now);
    daemon.update_failover(site, |v| {
        since = *v.source_failing_since.get_or_insert(now);
        v.failed_probes += 1;
        first = v.failed_probes == 1;
        v.last_probe_error = Some(failing.clone());
        let long_enough = (now - since).to_std().unwrap_or_default() >= policy.after;
        let cooled = v.cooldown_until.is_none_or(|t| Instant::now() >= t);
        due = long_enough && v.failed_probes >= FailoverPolicy::MIN_FAILURES && cooled;
    });
    if first {
        tracing::warn!(%site, %source, "the source fails its probes: {failing}");
    }
    if !due {
        return;
    }
    // The repository is the witness: act only on a lease renewed at its last try.
    if let Some(e) = daemon.lease().error {
        tracing::warn!(%site, "not failing over: the lease could not be renewed ({e})");
        return;
    }
    let outcome = failover(daemon, repo, (site, source), policy, (since, &failing)).await;
    let message = match &outcome {
        Ok(text) => text.clone(),
        Err(e) => format!("automatic failover from {source} to {site} failed: {e}"),
    };
    daemon.update_failover(site, |v| {
        v.last_attempt = Some(Utc::now());
        v.last_result = Some(message.clone());
        v.cooldown_until = Some(Instant::now() + policy.cooldown);
    });
    let event = if outcome.is_ok() { "failover" } else { "failover_failed" };
    tracing::warn!(%site, "{message}");
    daemon.alert(Alert::new(event, site, None, message));
}

/// Probes a site: its database and system, then its service probes; why it failed.
async fn probe(daemon: &Daemon, client: &reqwest::Client, name: &str) -> std::result::Result<(), String> {
    let cfg = &daemon.config.sites[name];
    let (engine, mut url) = registry::engine_for(cfg.db_url()).map_err(|e| e.to_string())?;
    // One probe is one try: the streak of failed probes is the retry.
    url.retry.max_retries = 0;
    let threshold = daemon.settings.health_threshold.as_secs_f64();
    let health = tokio::time::timeout(PROBE_TIMEOUT, tandem_core::health(registry::registry(), engine, &url, threshold)).await;
    match health {
        Err(_) => return Err(format!("the database did not answer within {} s", PROBE_TIMEOUT.as_secs())),
        Ok(r) if !r.healthy => {
            let failed: Vec<String> = r.health.checks.iter().filter(|c| !c.ok).map(|c| format!("{}: {}", c.name, c.detail)).collect();
            return Err(failed.join("; "));
        }
        Ok(_) => {}
    }
    for p in &cfg.probes {
        match tokio::time::timeout(PROBE_TIMEOUT, service(client, p)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("probe {p}: {e}")),
            Err(_) => return Err(format!("probe {p}: no answer within {} s", PROBE_TIMEOUT.as_secs())),
        }
    }
    Ok(())
}

/// One service probe: a TCP connect, or an HTTP GET answered with a success status.
async fn service(client: &reqwest::Client, probe: &Probe) -> std::result::Result<(), String> {
    match probe {
        Probe::Tcp { host, port } => tokio::net::TcpStream::connect((host.as_str(), *port)).await.map(drop).map_err(|e| e.to_string()),
        Probe::Http(url) => match client.get(url.clone()).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("answered {}", r.status())),
            Err(e) => Err(e.without_url().to_string()),
        },
    }
}

/// Fails over from `source` to `site`, whose probes fail `since`, then runs the site's hook;
/// what happened, in words.
async fn failover(
    daemon: &Arc<Daemon>,
    repo: &Repository,
    (site, source): (&str, &str),
    policy: &FailoverPolicy,
    (since, failing): (DateTime<Utc>, &str),
) -> Result<String> {
    let (from, to) = (registry::move_side(&daemon.config, source)?, registry::move_side(&daemon.config, site)?);
    let db = to.url.clone();
    tracing::warn!(%site, %source, "failing over: {source} failed every probe for {} s ({failing})", policy.after.as_secs());
    let req = FailoverRequest {
        registry: registry::registry(),
        repo: repo.clone(),
        from,
        to,
        max_lag: policy.max_lag,
        force: false,
        interrupted: Interrupted::Rerun,
    };
    let events = Arc::new(super::LogEvents { run: format!("{site}/failover") });
    let r = tandem_core::failover(req, events).await?;
    // The source died after its last good probe and before `since`: what it committed after the
    // newest change the replica holds (its lag at the promote, counted back from now) and before
    // `since` is all that can be lost.
    let rpo = match r.rpo_seconds {
        Some(lag) => format!("at most {:.1} s", (lag - (Utc::now() - since).num_milliseconds() as f64 / 1000.0).max(0.0)),
        None => "unknown".to_string(),
    };
    let mut text = format!(
        "failed over from {source} to {site} at epoch {} ({source} failed every probe for {} s: {failing}): RPO {rpo}, RTO {:.1} s{}",
        r.epoch,
        policy.after.as_secs(),
        r.rto_ms as f64 / 1000.0,
        if r.fenced { "" } else { "; the old site was not reached: it is fenced when it is seen" }
    );
    let moved = Promoted { event: "failover", site: site.to_string(), from: source.to_string(), epoch: r.epoch, db };
    match hooks::on_promote(daemon.config.sites[site].on_promote.as_deref(), &moved).await {
        Ok(Some(_)) => text.push_str("; on-promote hook ran"),
        Ok(None) => {}
        Err(e) => daemon.alert(Alert::new("hook_failed", site, None, e.to_string())),
    }
    Ok(text)
}
