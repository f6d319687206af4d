//! What an engine is asked for and reports that manifests do not store. The stored model is
//! [`tandem_format`], re-exported by this crate.

use serde::{Deserialize, Serialize};

/// How a snapshot is taken.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// Number of connections reading tables at once, all on the same snapshot (at least 1).
    pub parallelism: usize,
    /// Read in this snapshot, prepared by the engine for a replica's stream
    /// ([`Engine::begin_capture`](crate::Engine::begin_capture)), instead of a new one.
    pub import: Option<ImportSnapshot>,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions { parallelism: 2, import: None }
    }
}

impl SnapshotOptions {
    /// A new snapshot read by `parallelism` connections.
    pub fn parallel(parallelism: usize) -> SnapshotOptions {
        SnapshotOptions { parallelism, import: None }
    }
}

/// A snapshot an engine exported (its own id for it), and the log position it reads at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSnapshot {
    pub id: String,
    pub position: crate::Position,
}

/// What a restore target holds before a restore.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetState {
    /// Server version string.
    pub server_version: String,
    /// Tables, views and other user relations currently in the target database
    /// (`schema.name` or `name`). Empty means the target is empty.
    pub relations: Vec<String>,
}
