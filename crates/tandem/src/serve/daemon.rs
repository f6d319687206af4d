//! The daemon's moving parts: the lease loop, the scheduler, job runs, health probes, shutdown.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tandem_error::Result;
use tandem_repo::Repository;
use tokio::sync::{oneshot, Notify, RwLock};

use super::alerts::{Alert, Alerter};
pub use super::refused::Refused;
use super::schedule::Schedule;
use super::state::{self, JobHistory, JobKind, Run, RunLog, RunState, Trigger};
use super::status::{JobStatus, LeaseView, SiteHealth, SiteStatus, Status};
use super::Settings;
use crate::config::Config;

mod execute;

/// Failed runs listed on the status page.
const RECENT_ERRORS: usize = 10;

/// One job of one site.
struct Slot {
    /// `None` for a job only ever triggered over HTTP.
    schedule: Option<Schedule>,
    next: Option<DateTime<Utc>>,
    history: JobHistory,
    /// The busy run and the sender that cancels it.
    running: Option<(Run, oneshot::Sender<()>)>,
}

pub struct Daemon {
    pub config: Config,
    pub settings: Settings,
    pub repo: Repository,
    /// The repository URL as configured (with any credentials), for opening it per job.
    repo_url: String,
    pub holder: String,
    pub started: DateTime<Utc>,
    slots: Mutex<BTreeMap<(String, JobKind), Slot>>,
    runs: Mutex<RunLog>,
    health: Mutex<BTreeMap<String, SiteHealth>>,
    lease: Mutex<LeaseView>,
    /// Sites whose staleness passed the alert threshold (alerted once per crossing).
    stale: Mutex<BTreeMap<String, bool>>,
    /// Jobs take it shared; retention exclusively (and only when free), so a prune never makes
    /// this daemon's own refresh fail on the repository lock.
    gate: Arc<RwLock<()>>,
    alerts: Alerter,
    seq: AtomicU64,
    stopping: AtomicBool,
    wake: Notify,
    /// Sites replicated continuously.
    replicas: super::replication::Replicas,
    /// The replication supervisors and the role guard, each on a thread of its own.
    replica_tasks: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Each site's latest drill report, read from the repository with the health probes.
    drills: Mutex<BTreeMap<String, tandem_core::DrillReport>>,
    /// Each automatic failover's watch of its source.
    failovers: super::guard::Watches,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Daemon {
    /// Loads the persisted history, takes the first lease attempt, starts the loops.
    pub async fn start(config: Config, settings: Settings, repo_url: &str, repo: Repository) -> Result<Arc<Daemon>> {
        let now = Utc::now();
        // Every job a site can have gets a slot (with its persisted history), scheduled or not:
        // a job triggered over HTTP adds to its history instead of starting a new one.
        let mut slots = BTreeMap::new();
        for (site, cfg) in &config.sites {
            let kinds = [
                Some((JobKind::Backup, &cfg.schedules.backup)),
                cfg.source().map(|_| (JobKind::Refresh, &cfg.schedules.refresh)),
                Some((JobKind::Drill, &cfg.schedules.drill)),
            ];
            for (kind, schedule) in kinds.into_iter().flatten() {
                let history = state::load(&repo, site, kind).await?;
                let schedule = schedule.clone();
                let next = schedule.as_ref().and_then(|s| s.next_after(now));
                slots.insert((site.clone(), kind), Slot { schedule, next, history, running: None });
            }
        }
        let holder = format!("{}:{}:{:08x}", tandem_repo::hostname(), std::process::id(), rand::random::<u32>());
        let daemon = Arc::new(Daemon {
            alerts: Alerter::new(settings.webhook.clone()),
            config,
            settings,
            repo,
            repo_url: repo_url.to_string(),
            holder,
            started: now,
            slots: Mutex::new(slots),
            runs: Mutex::new(RunLog::default()),
            health: Mutex::new(BTreeMap::new()),
            lease: Mutex::new(LeaseView::default()),
            stale: Mutex::new(BTreeMap::new()),
            gate: Arc::new(RwLock::new(())),
            seq: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            wake: Notify::new(),
            replicas: Default::default(),
            replica_tasks: Mutex::new(Vec::new()),
            drills: Mutex::new(BTreeMap::new()),
            failovers: Mutex::new(BTreeMap::new()),
        });
        daemon.claim().await;
        tokio::spawn(daemon.clone().lease_loop());
        tokio::spawn(daemon.clone().schedule_loop());
        tokio::spawn(daemon.clone().health_loop());
        let mut tasks = super::replication::start(&daemon);
        tasks.extend(super::guard::start(&daemon));
        *lock(&daemon.replica_tasks) = tasks;
        Ok(daemon)
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn lease(&self) -> LeaseView {
        lock(&self.lease).clone()
    }

    /// The repository URL as configured, to open it on another runtime.
    pub fn repo_url(&self) -> &str {
        &self.repo_url
    }

    /// Whether the daemon is shutting down.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Whether this daemon holds the lease (and may run jobs).
    pub fn is_leader(&self) -> bool {
        self.leader()
    }

    /// Changes what the status shows of a site's replication.
    pub fn update_replica(&self, site: &str, f: impl FnOnce(&mut super::replication::ReplicaView)) {
        let mut replicas = lock(&self.replicas);
        let view = replicas.entry(site.to_string()).or_default();
        f(view);
        view.sample(Utc::now());
    }

    /// Changes what the status shows of a site's automatic failover.
    pub fn update_failover(&self, site: &str, f: impl FnOnce(&mut super::guard::FailoverView)) {
        f(lock(&self.failovers).entry(site.to_string()).or_default());
    }

    pub fn alert(&self, alert: Alert) {
        self.alerts.send(alert);
    }

    fn leader(&self) -> bool {
        let view = lock(&self.lease);
        view.held && view.record.as_ref().is_some_and(|r| r.held_by(&self.holder, Utc::now()))
    }

    /// One claim or renewal; on losing the lease, running jobs are aborted.
    async fn claim(self: &Arc<Self>) {
        let result = self.repo.claim_lease(&self.holder, self.settings.lease_ttl).await;
        let was = self.leader();
        let mut view = lock(&self.lease);
        match result {
            Ok(c) => {
                *view = LeaseView { held: c.held, record: Some(c.record), error: None };
            }
            Err(e) => {
                tracing::warn!("cannot renew the lease: {e}");
                view.error = Some(e.to_string());
                // Keep what we had until it expires.
                view.held = view.record.as_ref().is_some_and(|r| r.held_by(&self.holder, Utc::now()));
            }
        }
        let now_held = view.held;
        let record = view.record.clone();
        drop(view);
        match (was, now_held) {
            (false, true) => tracing::warn!(holder = %self.holder, "took the lease: this daemon runs the jobs"),
            (true, false) => {
                let by = record.map(|r| r.holder).unwrap_or_default();
                tracing::warn!(%by, "lost the lease: aborting running jobs");
                self.abort_all(&format!("this daemon lost the lease (now held by {by})"));
                self.alerts.send(Alert::new("lease_lost", "", None, format!("daemon {} lost the lease to {by}; its running jobs were aborted", self.holder)));
            }
            _ => {}
        }
    }

    async fn lease_loop(self: Arc<Self>) {
        let period = self.settings.lease_ttl / 3;
        while !self.stopping.load(Ordering::SeqCst) {
            tokio::time::sleep(period).await;
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            self.claim().await;
        }
    }

    async fn schedule_loop(self: Arc<Self>) {
        while !self.stopping.load(Ordering::SeqCst) {
            let now = Utc::now();
            let mut due = Vec::new();
            let mut wait = Duration::from_secs(60);
            {
                let mut slots = lock(&self.slots);
                for ((site, kind), slot) in slots.iter_mut() {
                    let Some(next) = slot.next else { continue };
                    if next <= now {
                        due.push((site.clone(), *kind));
                        slot.next = slot.schedule.as_ref().and_then(|s| s.next_after(now));
                    }
                    if let Some(n) = slot.next {
                        wait = wait.min((n - now).to_std().unwrap_or_default());
                    }
                }
            }
            for (site, kind) in due {
                match self.start_run(&site, kind, Trigger::Schedule) {
                    Ok(id) => tracing::info!(%site, job = kind.as_str(), %id, "started"),
                    Err(Refused::NotLeader(_)) => tracing::debug!(%site, job = kind.as_str(), "not the lease holder: skipped"),
                    Err(why) => tracing::warn!(%site, job = kind.as_str(), "scheduled run skipped: {why}"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(wait + Duration::from_millis(5)) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// Starts a run now. Refused when this daemon is not the leader, the job does not exist or
    /// runs already, or the daemon is stopping.
    pub fn start_run(self: &Arc<Self>, site: &str, kind: JobKind, trigger: Trigger) -> std::result::Result<String, Refused> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err(Refused::ShuttingDown);
        }
        if !self.config.sites.contains_key(site) {
            let known: Vec<&str> = self.config.sites.keys().map(String::as_str).collect();
            return Err(Refused::UnknownJob(format!("unknown site {site:?} (configured: {})", known.join(", "))));
        }
        if !self.leader() {
            return Err(Refused::NotLeader(self.lease().record.map(Box::new)));
        }
        let mut slots = lock(&self.slots);
        // Every site has a backup slot; only a site with a `source` has a refresh slot.
        let Some(slot) = slots.get_mut(&(site.to_string(), kind)) else {
            return Err(Refused::UnknownJob(format!("site {site} has no `source`: it cannot be refreshed")));
        };
        if let Some((run, _)) = &slot.running {
            return Err(Refused::AlreadyRunning(run.id.clone()));
        }
        let started = Utc::now();
        let id = format!("{site}.{}.{}.{}", kind.as_str(), started.format("%Y%m%dT%H%M%S"), self.seq.fetch_add(1, Ordering::SeqCst) + 1);
        let run = Run {
            id: id.clone(),
            site: site.to_string(),
            job: kind,
            trigger,
            daemon: self.holder.clone(),
            state: RunState::Running,
            started,
            finished: None,
            duration_s: None,
            bytes: 0,
            stored_bytes: None,
            settings: None,
            backup: None,
            snapshot_at: None,
            summary: String::new(),
            skipped: Vec::new(),
            error: None,
        };
        let held = slot.history.held();
        let (cancel, cancelled) = oneshot::channel();
        let (daemon, job_run) = (self.clone(), run.clone());
        std::thread::Builder::new()
            .name(format!("job {id}"))
            .spawn(move || {
                let clock = Instant::now();
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| daemon.clone().run_on_own_runtime(job_run.clone(), held, cancelled)));
                if let Err(panic) = ran {
                    daemon.record_panic(job_run, clock.elapsed(), panic.as_ref());
                }
            })
            .map_err(|e| Refused::Internal(format!("cannot start a thread for the job: {e}")))?;
        slot.running = Some((run.clone(), cancel));
        drop(slots);
        lock(&self.runs).put(run);
        Ok(id)
    }

    /// Runs a job on a runtime of its own (its flows need not be `Send`, and cancelling it drops
    /// all of its work), until it ends or `cancelled` fires. A cancelled run is recorded by the
    /// canceller.
    fn run_on_own_runtime(self: Arc<Self>, run: Run, held: Option<(String, String)>, cancelled: oneshot::Receiver<()>) {
        let clock = Instant::now();
        let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                // Not on any runtime here: record the failure on a small one of its own.
                let err = tandem_error::Error::internal(format!("cannot start a runtime for the job: {e}"));
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    rt.block_on(self.finish(&self.repo, run, clock.elapsed(), Err(err)));
                }
                return;
            }
        };
        rt.block_on(async {
            // The repository is opened on this runtime: its HTTP connections live here.
            let repo = match self.repo.reopen(&self.repo_url).await {
                Ok(repo) => repo,
                Err(e) => return self.finish(&self.repo, run, clock.elapsed(), Err(e)).await,
            };
            tokio::select! {
                result = self.execute(&repo, &run, held) => self.finish(&repo, run, clock.elapsed(), result).await,
                _ = cancelled => {}
            }
        });
        rt.shutdown_timeout(Duration::from_secs(5));
    }

    /// A run whose thread panicked failed (and frees its slot), unless it was aborted meanwhile.
    fn record_panic(&self, run: Run, took: Duration, panic: &(dyn std::any::Any + Send)) {
        let what = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
        let ours = lock(&self.slots).get(&(run.site.clone(), run.job)).and_then(|s| s.running.as_ref()).is_some_and(|(r, _)| r.id == run.id);
        if !ours {
            return;
        }
        let err = tandem_error::Error::internal(format!("the job panicked: {what}"));
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            rt.block_on(self.finish(&self.repo, run, took, Err(err)));
        }
    }

    async fn finish(&self, repo: &Repository, run: Run, took: Duration, result: Result<Run>) {
        let mut done = match result {
            Ok(r) => Run { state: RunState::Succeeded, ..r },
            Err(e) => Run { state: RunState::Failed, error: Some(crate::hints::for_daemon(&e)), ..run },
        };
        done.finished = Some(Utc::now());
        done.duration_s = Some(took.as_secs_f64());
        // Alert on the change (the first failure, the recovery, what a backup skips), not on
        // every run.
        let (failing_before, skipped_before) = match lock(&self.slots).get(&(done.site.clone(), done.job)) {
            Some(s) => {
                (s.history.last_run.as_ref().is_some_and(|r| r.state != RunState::Succeeded), s.history.last_success.as_ref().map(|r| r.skipped.clone()))
            }
            None => (false, None),
        };
        if let Some(alert) = super::alerts::skipped_changed(&done, &skipped_before.unwrap_or_default()) {
            self.alerts.send(alert);
        }
        match &done.error {
            None => {
                tracing::warn!(site = %done.site, job = done.job.as_str(), id = %done.id, "succeeded in {:.1}s: {}", took.as_secs_f64(), done.summary);
                if failing_before {
                    self.alerts.send(Alert::new("job_recovered", &done.site, Some(done.job), format!("{} {} succeeded again", done.site, done.job.as_str())));
                }
            }
            Some(e) => {
                tracing::error!(site = %done.site, job = done.job.as_str(), id = %done.id, "failed: {e}");
                if !failing_before {
                    self.alerts.send(Alert::new("job_failed", &done.site, Some(done.job), format!("{} {} failed: {e}", done.site, done.job.as_str())));
                }
            }
        }
        self.record(repo, done).await;
    }

    /// Adds a finished run to the history (memory and repository) and frees its slot.
    async fn record(&self, repo: &Repository, run: Run) {
        let history = {
            let mut slots = lock(&self.slots);
            let Some(slot) = slots.get_mut(&(run.site.clone(), run.job)) else { return };
            if slot.running.as_ref().is_some_and(|(r, _)| r.id == run.id) {
                slot.running = None;
            }
            slot.history.record(&run);
            slot.history.clone()
        };
        lock(&self.runs).put(run.clone());
        if let Err(e) = state::save(repo, &run.site, run.job, &history).await {
            tracing::warn!(site = %run.site, job = run.job.as_str(), "cannot persist the job history: {e}");
        }
    }

    /// Aborts every running job, recording it as aborted with `why`.
    fn abort_all(self: &Arc<Self>, why: &str) {
        let aborted: Vec<Run> = {
            let mut slots = lock(&self.slots);
            slots
                .values_mut()
                .filter_map(|s| s.running.take())
                .map(|(run, cancel)| {
                    let _ = cancel.send(());
                    run
                })
                .collect()
        };
        for run in aborted {
            tracing::warn!(site = %run.site, job = run.job.as_str(), id = %run.id, "aborted: {why}");
            let took = (Utc::now() - run.started).to_std().unwrap_or_default();
            let mut run = Run { state: RunState::Aborted, error: Some(format!("aborted: {why}")), ..run };
            run.finished = Some(Utc::now());
            run.duration_s = Some(took.as_secs_f64());
            let daemon = self.clone();
            tokio::spawn(async move { daemon.record(&daemon.repo, run).await });
        }
    }

    fn running_count(&self) -> usize {
        lock(&self.slots).values().filter(|s| s.running.is_some()).count()
    }

    /// Stops scheduling, waits up to the grace for running jobs, aborts the rest, releases the
    /// lease.
    pub async fn shutdown(self: &Arc<Self>) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
        let deadline = Instant::now() + self.settings.shutdown_grace;
        if self.running_count() > 0 {
            tracing::warn!("waiting up to {:?} for {} running job(s)", self.settings.shutdown_grace, self.running_count());
        }
        while self.running_count() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if self.running_count() > 0 {
            self.abort_all("the daemon was stopped");
            // Let the aborted runs be recorded.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // Replication stops at its next transaction boundary.
        let limit = deadline.max(Instant::now() + Duration::from_secs(1));
        while lock(&self.replica_tasks).iter().any(|t| !t.is_finished()) && Instant::now() < limit {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if lock(&self.replica_tasks).iter().any(|t| !t.is_finished()) {
            tracing::warn!("a replication did not stop within the grace");
        }
        if self.leader() {
            if let Err(e) = self.repo.release_lease(&self.holder).await {
                tracing::warn!("cannot release the lease (it expires on its own): {e}");
            }
        }
    }

    async fn health_loop(self: Arc<Self>) {
        while !self.stopping.load(Ordering::SeqCst) {
            let sites: Vec<(String, String, bool)> = self.config.sites.iter().map(|(n, s)| (n.clone(), s.db_url().to_string(), s.source().is_some())).collect();
            for (name, db, standby) in sites {
                let checked_at = Utc::now();
                let report = match crate::registry::engine_for(&db) {
                    Ok((engine, url)) => tandem_core::health(crate::registry::registry(), engine, &url, self.settings.health_threshold.as_secs_f64()).await,
                    Err(e) => {
                        tracing::warn!(site = %name, "cannot probe: {e}");
                        continue;
                    }
                };
                // A standby runs no scheduler of its own: reachable is healthy.
                let healthy = if standby { report.reachable } else { report.healthy };
                let before = lock(&self.health).get(&name).map(|h| h.healthy);
                if before != Some(healthy) {
                    let detail: Vec<String> = report.health.checks.iter().filter(|c| !c.ok).map(|c| format!("{}: {}", c.name, c.detail)).collect();
                    match healthy {
                        false => {
                            tracing::warn!(site = %name, "unhealthy: {}", detail.join("; "));
                            self.alerts.send(Alert::new("site_unhealthy", &name, None, format!("site {name} is unhealthy: {}", detail.join("; "))));
                        }
                        true if before.is_some() => {
                            self.alerts.send(Alert::new("site_healthy", &name, None, format!("site {name} is healthy again")));
                        }
                        true => {}
                    }
                }
                lock(&self.health).insert(name, SiteHealth { checked_at, healthy, report });
            }
            self.check_staleness();
            self.read_drills().await;
            tokio::select! {
                _ = tokio::time::sleep(self.settings.health_interval) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// The latest drill of each site (drills run by `tandem drill` anywhere, or by a daemon).
    async fn read_drills(&self) {
        for name in self.config.sites.keys() {
            match tandem_core::drill::history(&self.repo, name).await {
                Ok(reports) => {
                    if let Some(last) = reports.into_iter().last() {
                        lock(&self.drills).insert(name.clone(), last);
                    }
                }
                Err(e) => tracing::warn!(site = %name, "cannot read the drill reports: {e}"),
            }
        }
    }

    fn check_staleness(&self) {
        let Some(limit) = self.settings.staleness_alert else { return };
        let now = Utc::now();
        for (site, staleness) in self.staleness(now) {
            let over = staleness > limit.as_secs_f64();
            let was = lock(&self.stale).insert(site.clone(), over).unwrap_or(false);
            if over && !was {
                self.alerts.send(Alert::new(
                    "standby_stale",
                    &site,
                    Some(JobKind::Refresh),
                    format!("standby {site} is {staleness:.0}s behind its source (alert threshold {}s)", limit.as_secs()),
                ));
            }
        }
    }

    /// Seconds each refreshed site is behind: now minus the snapshot of the backup it holds.
    pub fn staleness(&self, now: DateTime<Utc>) -> Vec<(String, f64)> {
        lock(&self.slots)
            .iter()
            .filter(|((_, kind), _)| *kind == JobKind::Refresh)
            .filter_map(|((site, _), s)| s.history.holds().map(|(_, at)| (site.clone(), (now - at).num_milliseconds() as f64 / 1000.0)))
            .collect()
    }

    /// Everything the status endpoints show.
    pub fn status(&self) -> Status {
        let now = Utc::now();
        let staleness: BTreeMap<String, f64> = self.staleness(now).into_iter().collect();
        let health = lock(&self.health).clone();
        let slots = lock(&self.slots);
        let sites = self
            .config
            .sites
            .iter()
            .map(|(name, site)| SiteStatus {
                name: name.clone(),
                db: tandem_engine::DbUrl::parse(site.db_url()).map(|u| u.to_string()).unwrap_or_else(|_| "(invalid URL)".into()),
                role: if site.source().is_some() { "standby" } else { "primary" },
                source: site.source().map(str::to_string),
                health: health.get(name).cloned(),
                staleness_s: staleness.get(name).copied(),
                replication: lock(&self.replicas).get(name).cloned(),
                failover: lock(&self.failovers).get(name).cloned(),
                last_drill: lock(&self.drills).get(name).cloned(),
                jobs: slots
                    .iter()
                    // Unscheduled jobs show once they ran (triggered over HTTP, or by another daemon).
                    .filter(|((s, _), slot)| s == name && (slot.schedule.is_some() || slot.running.is_some() || slot.history.runs_total > 0))
                    .map(|((_, kind), slot)| JobStatus {
                        job: *kind,
                        schedule: slot.schedule.as_ref().map(|s| s.pattern().to_string()),
                        next_run: slot.next,
                        running: slot.running.as_ref().map(|(r, _)| r.clone()),
                        history: slot.history.clone(),
                    })
                    .collect(),
            })
            .collect();
        drop(slots);
        let runs = lock(&self.runs);
        Status {
            version: env!("TANDEM_VERSION"),
            holder: self.holder.clone(),
            started: self.started,
            now,
            repository: self.repo.url().to_string(),
            lease: self.lease(),
            staleness_alert_s: self.settings.staleness_alert.map(|d| d.as_secs_f64()),
            sites,
            recent_errors: runs.recent_errors(RECENT_ERRORS).into_iter().cloned().collect(),
        }
    }

    pub fn run(&self, id: &str) -> Option<Run> {
        lock(&self.runs).get(id).cloned()
    }
}
