//! What the daemon knows about its jobs: the history persisted in the repository
//! (`daemon/jobs/<site>.<job>.json`, see tandem-repo's `daemon` module) and the runs of this
//! process (for `GET /api/v1/jobs/{id}`).

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tandem_error::Result;
use tandem_repo::Repository;

use super::history::{Recent, RunPoint};

/// Runs of this process kept for `GET /api/v1/jobs/{id}`.
const KEPT_RUNS: usize = 200;

/// The kinds of job a site can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Back the site's database up into the repository (then apply the retention policy).
    Backup,
    /// Restore the newest backup of the site's source into it (a standby).
    Refresh,
    /// Rebuild the site's copy in a scratch database, measure it, drop it (`tandem drill`).
    Drill,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Backup => "backup",
            JobKind::Refresh => "refresh",
            JobKind::Drill => "drill",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        match s {
            "backup" => Some(JobKind::Backup),
            "refresh" => Some(JobKind::Refresh),
            "drill" => Some(JobKind::Drill),
            _ => None,
        }
    }
}

/// Why a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Schedule,
    Api,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Running,
    Succeeded,
    Failed,
    /// Stopped by a shutdown or a lost lease; nothing it did became visible.
    Aborted,
}

/// One run of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub site: String,
    pub job: JobKind,
    pub trigger: Trigger,
    /// The daemon (holder id) that ran it.
    #[serde(default)]
    pub daemon: String,
    pub state: RunState,
    pub started: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Backup: stored bytes of new chunks; refresh: bytes of row data restored.
    #[serde(default)]
    pub bytes: u64,
    /// Backup: the stored size of the backup (all its chunks, shared ones included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_bytes: Option<u64>,
    /// The backup taken (backup) or now held by the standby (refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// When that backup's snapshot started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_at: Option<DateTime<Utc>>,
    /// Refresh: the digest of the settings the standby's content was made with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<String>,
    /// Human summary of what the run did (`skipped: the standby holds the newest backup`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// Backup: the objects the backup did not copy (the manifest's `schema.skipped`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<tandem_engine::Skipped>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// History of one job of one site, as persisted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobHistory {
    pub runs_total: u64,
    pub failures_total: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<Run>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Run>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Run>,
    /// The finished runs of the last 24 h (see `history`).
    #[serde(default, skip_serializing_if = "Recent::is_empty")]
    pub recent: Recent,
}

impl JobHistory {
    /// Adds a finished run.
    pub fn record(&mut self, run: &Run) {
        self.runs_total += 1;
        match run.state {
            RunState::Succeeded => self.last_success = Some(run.clone()),
            RunState::Failed | RunState::Aborted => {
                self.failures_total += 1;
                self.last_failure = Some(run.clone());
            }
            RunState::Running => {}
        }
        if let Some(point) = RunPoint::of(run) {
            self.recent.push(point);
        }
        self.last_run = Some(run.clone());
    }

    /// The backup and snapshot time the site holds after its last successful run.
    pub fn holds(&self) -> Option<(&str, DateTime<Utc>)> {
        let r = self.last_success.as_ref()?;
        Some((r.backup.as_deref()?, r.snapshot_at?))
    }

    /// The backup a standby holds and the settings digest it was restored with (`None` for a
    /// run recorded without one: the next refresh restores).
    pub fn held(&self) -> Option<(String, String)> {
        let r = self.last_success.as_ref()?;
        Some((r.backup.clone()?, r.settings.clone()?))
    }
}

fn object_name(site: &str, job: JobKind) -> String {
    format!("jobs/{site}.{}.json", job.as_str())
}

/// Reads the persisted history of a job (empty if none). Errors: Corrupt naming the object.
pub async fn load(repo: &Repository, site: &str, job: JobKind) -> Result<JobHistory> {
    repo.read_daemon_json(&object_name(site, job), "job history").await
}

/// Persists the history of a job.
pub async fn save(repo: &Repository, site: &str, job: JobKind, history: &JobHistory) -> Result<()> {
    repo.write_daemon_json(&object_name(site, job), history, "job history").await
}

/// Runs of this process, newest last, bounded (looked up by a scan: it is small).
#[derive(Debug, Default)]
pub struct RunLog {
    runs: VecDeque<Run>,
}

impl RunLog {
    /// Adds or replaces (by id) a run.
    pub fn put(&mut self, run: Run) {
        if let Some(old) = self.runs.iter_mut().find(|r| r.id == run.id) {
            *old = run;
            return;
        }
        self.runs.push_back(run);
        if self.runs.len() > KEPT_RUNS {
            self.runs.pop_front();
        }
    }

    pub fn get(&self, id: &str) -> Option<&Run> {
        self.runs.iter().find(|r| r.id == id)
    }

    /// The newest failed runs, newest first.
    pub fn recent_errors(&self, n: usize) -> Vec<&Run> {
        self.runs.iter().rev().filter(|r| r.error.is_some()).take(n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, state: RunState) -> Run {
        Run {
            id: id.into(),
            site: "s".into(),
            job: JobKind::Backup,
            trigger: Trigger::Schedule,
            daemon: "d".into(),
            state,
            started: Utc::now(),
            finished: None,
            duration_s: None,
            bytes: 0,
            stored_bytes: None,
            settings: None,
            backup: Some("b".into()),
            snapshot_at: Some(Utc::now()),
            summary: String::new(),
            skipped: Vec::new(),
            error: (state == RunState::Failed).then(|| "boom".into()),
        }
    }

    #[test]
    fn history_counts_and_log_is_bounded() {
        let mut h = JobHistory::default();
        h.record(&run("1", RunState::Succeeded));
        h.record(&run("2", RunState::Failed));
        assert_eq!((h.runs_total, h.failures_total), (2, 1));
        assert_eq!(h.holds().unwrap().0, "b");
        assert_eq!(h.last_run.as_ref().unwrap().id, "2");

        let mut log = RunLog::default();
        for i in 0..KEPT_RUNS + 10 {
            log.put(run(&i.to_string(), if i % 2 == 0 { RunState::Failed } else { RunState::Running }));
        }
        assert!(log.get("0").is_none() && log.get(&(KEPT_RUNS + 9).to_string()).is_some());
        log.put(run("11", RunState::Succeeded));
        assert_eq!(log.get("11").unwrap().state, RunState::Succeeded);
        assert_eq!(log.recent_errors(2).len(), 2);
    }

    #[tokio::test]
    async fn persisted_history_round_trips_and_corruption_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::open_or_create(dir.path().to_str().unwrap()).await.unwrap();
        assert_eq!(load(&repo, "dr", JobKind::Refresh).await.unwrap(), JobHistory::default());
        let mut h = JobHistory::default();
        h.record(&run("1", RunState::Succeeded));
        save(&repo, "dr", JobKind::Refresh, &h).await.unwrap();
        assert_eq!(load(&repo, "dr", JobKind::Refresh).await.unwrap(), h);
        std::fs::write(dir.path().join("daemon/jobs/dr.refresh.json"), "[").unwrap();
        let e = load(&repo, "dr", JobKind::Refresh).await.unwrap_err().to_string();
        assert!(e.contains("daemon/jobs/dr.refresh.json") && e.contains("corrupt"), "{e}");
    }
}
