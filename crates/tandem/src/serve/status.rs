//! What the status endpoints show (`/api/status`, the page, `/metrics`): plain data, built by
//! the daemon.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tandem_core::HealthReport;
use tandem_repo::LeaseRecord;

use super::state::{JobHistory, JobKind, Run};

/// The last probe of a site.
#[derive(Debug, Clone, Serialize)]
pub struct SiteHealth {
    pub checked_at: DateTime<Utc>,
    pub healthy: bool,
    pub report: HealthReport,
}

/// What this daemon knows of the lease.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LeaseView {
    pub held: bool,
    pub record: Option<LeaseRecord>,
    /// The last claim's error (the repository unreachable).
    pub error: Option<String>,
}

/// `/api/status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub version: &'static str,
    pub holder: String,
    pub started: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub repository: String,
    pub lease: LeaseView,
    /// `[serve] staleness-alert` in seconds.
    pub staleness_alert_s: Option<f64>,
    pub sites: Vec<SiteStatus>,
    pub recent_errors: Vec<Run>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteStatus {
    pub name: String,
    /// Database URL without password.
    pub db: String,
    /// `standby` for a site with a `source`, else `primary`.
    pub role: &'static str,
    pub source: Option<String>,
    pub health: Option<SiteHealth>,
    /// Seconds the standby is behind its source (the RPO if the source died now).
    pub staleness_s: Option<f64>,
    /// Continuous replication into the site (`replicate = true`).
    pub replication: Option<super::replication::ReplicaView>,
    /// The automatic failover to the site (`failover = "auto"`), once its source was probed.
    pub failover: Option<super::guard::FailoverView>,
    /// The site's latest drill (`tandem drill`).
    pub last_drill: Option<tandem_core::DrillReport>,
    pub jobs: Vec<JobStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub job: JobKind,
    /// Cron pattern (absent for a job only ever triggered over HTTP).
    pub schedule: Option<String>,
    pub next_run: Option<DateTime<Utc>>,
    pub running: Option<Run>,
    #[serde(flatten)]
    pub history: JobHistory,
}
