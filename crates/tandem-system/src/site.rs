//! What a system does to a live site: make it passive (fence), active (promote), and judge its
//! health. Reports are plain, system-neutral data for the CLI (text or JSON) and the daemon: a
//! system names its own kinds of objects and states (`dag`, `active` → `paused`) in them.

use serde::Serialize;

/// What promote does with work the disaster interrupted (units of work that were queued or
/// running when the copy was taken; what a unit is belongs to the system).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interrupted {
    /// Queue the work again, its unfinished parts cleared (the site's scheduler reruns it).
    Rerun,
    /// Mark the work and its unfinished parts failed.
    Fail,
    /// Leave it as it is (the site's own recovery takes care of it).
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

/// One object whose state a fence or promote changed, or deliberately kept, in its system's
/// words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The kind of object (`dag`, `dag run`).
    pub kind: String,
    /// Its name, unique within the kind (`etl`, `etl manual__2026-12-04T00:00:00`).
    pub name: String,
    /// Its state before and after (`active` → `paused`); equal for an object kept as it was.
    pub from: String,
    pub to: String,
    /// Dependent objects whose state changed with it (a run's unfinished tasks).
    #[serde(skip_serializing_if = "is_zero")]
    pub dependents: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Change {
    pub fn new(kind: &str, name: impl Into<String>, from: &str, to: &str) -> Change {
        Change { kind: kind.into(), name: name.into(), from: from.into(), to: to.into(), dependents: 0 }
    }
}

/// What fence or promote did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StateChange {
    /// Objects whose state changed, in the order they changed.
    pub changed: Vec<Change>,
    /// Objects deliberately left as they were (paused at the source, so paused after promote).
    pub kept: Vec<Change>,
    /// Things the user should read.
    pub notes: Vec<String>,
}

impl StateChange {
    /// Names of the changed objects of `kind` that went to state `to`.
    pub fn names(&self, kind: &str, to: &str) -> Vec<&str> {
        self.changed.iter().filter(|c| c.kind == kind && c.to == to).map(|c| c.name.as_str()).collect()
    }
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
    /// Seconds since the site's worker (Airflow: the scheduler) last showed life, when the
    /// system has such a heartbeat.
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
