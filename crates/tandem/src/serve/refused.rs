//! Why the daemon did not start a run (an HTTP trigger's answer, a scheduled run's log line).

use tandem_repo::LeaseRecord;

/// Why a run was not started.
#[derive(Debug)]
pub enum Refused {
    /// No such site or job.
    UnknownJob(String),
    /// The daemon could not start it (no thread).
    Internal(String),
    NotLeader(Option<Box<LeaseRecord>>),
    AlreadyRunning(String),
    ShuttingDown,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::UnknownJob(m) | Refused::Internal(m) => write!(f, "{m}"),
            Refused::NotLeader(Some(r)) => write!(f, "this daemon does not hold the lease (held by {} on {} until {})", r.holder, r.hostname, r.expires),
            Refused::NotLeader(None) => write!(f, "this daemon does not hold the lease yet"),
            Refused::AlreadyRunning(id) => write!(f, "job is already running as {id}"),
            Refused::ShuttingDown => write!(f, "the daemon is shutting down"),
        }
    }
}
