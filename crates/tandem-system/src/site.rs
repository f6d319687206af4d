//! What a system does to a live site: make it passive (fence), active (promote), and judge its
//! health. Reports are plain data for the CLI (text or JSON) and, later, the daemon.

use serde::Serialize;

/// What to do at promote with runs the disaster interrupted (queued or running in the copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interrupted {
    /// Clear their unfinished task instances and queue the runs again (the scheduler reruns
    /// them).
    Rerun,
    /// Mark the runs and their unfinished task instances failed.
    Fail,
    /// Leave them as they are (the new scheduler resets orphaned tasks itself).
    Leave,
}

impl std::str::FromStr for Interrupted {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rerun" => Ok(Interrupted::Rerun),
            "fail" => Ok(Interrupted::Fail),
            "leave" => Ok(Interrupted::Leave),
            other => Err(format!("{other:?}: expected rerun, fail or leave")),
        }
    }
}

/// How to promote.
#[derive(Debug, Clone, Copy)]
pub struct PromoteOptions {
    pub interrupted: Interrupted,
    /// Promote a site that is not a standby (nothing remembered to unpause).
    pub force: bool,
}

/// One run promote changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunChange {
    pub dag_id: String,
    pub run_id: String,
    pub from: String,
    pub to: String,
    /// Task instances whose state changed with it.
    pub task_instances: u64,
}

/// What fence or promote changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StateChange {
    /// DAGs paused by a fence (those that were active).
    pub paused: Vec<String>,
    /// DAGs unpaused by a promote (exactly those active at the source).
    pub unpaused: Vec<String>,
    /// DAGs that stay paused because they were paused at the source.
    pub kept_paused: Vec<String>,
    /// Interrupted runs and what promote did with them.
    pub runs: Vec<RunChange>,
    /// Things the user should read.
    pub notes: Vec<String>,
}

/// One health check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// A site's health: healthy iff every check is ok.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    pub checks: Vec<Check>,
    /// Seconds since the scheduler's last heartbeat, when the system has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_age_s: Option<f64>,
    /// Whether the site is a standby (passive).
    pub standby: bool,
}

impl Health {
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}
