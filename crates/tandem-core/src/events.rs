//! How flows report progress: the CLI implements this with progress bars or JSON, a daemon with
//! metrics.

/// Unit of a progress counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Items,
}

/// Receives progress of a flow. All methods must be cheap and must not fail.
pub trait Events: Send + Sync {
    /// A new phase starts (`"copying tables"`); `total` is known when `Some`.
    fn phase(&self, _name: &str, _total: Option<u64>, _unit: Unit) {}
    /// `n` more units of the current phase are done.
    fn advance(&self, _n: u64) {}
    /// `n` more bytes of row data went through (for throughput displays).
    fn bytes(&self, _n: u64) {}
    /// The current phase is over.
    fn phase_done(&self) {}
    /// Something the user should read (a fallback was taken, a table was skipped).
    fn warn(&self, _message: &str) {}
    /// Detailed progress for logs (`table DBS: 12 rows`).
    fn info(&self, _message: &str) {}
}

/// Ignores every event.
pub struct NoEvents;

impl Events for NoEvents {}
