//! tandem's flows: backup, restore (with location maps and system fix-ups), verify, check,
//! prune, and fence / promote / health of a live site.
//!
//! Core is engine- and system-agnostic: it takes typed values (an [`Engine`](tandem_engine::Engine),
//! a [`DbUrl`](tandem_engine::DbUrl), a [`Repository`](tandem_repo::Repository)) and a
//! [`Registry`] of the engines and systems the binary has, and reports through [`Events`]. It
//! never names an engine or a system, never parses configuration and never prints.

mod backup;
mod check;
mod chunker;
pub mod drill;
mod events;
mod failover;
mod plan;
mod prune;
mod refresh;
mod registry;
pub mod rejoin;
mod replicate;
mod restore;
pub mod role;
mod site;
mod switchover;
mod transform;
mod verify;

pub use backup::{backup, BackupReport, BackupRequest, SystemChoice};
pub use check::{check, CheckReport};
pub use chunker::ChunkWriter;
pub use drill::{drill, DrillReport, DrillRequest};
pub use events::{Events, NoEvents, Unit};
pub use failover::{failover, FailoverReport, FailoverRequest};
pub use plan::Plan;
pub use prune::{prune, select_kept, PruneReport, RetentionPolicy};
pub use refresh::{newest_backup_of, refresh, Held, RefreshReport, RefreshRequest, SourceFilter};
pub use registry::Registry;
pub use replicate::control::{paused as replica_paused, set_paused as set_replica_paused, Hold, Pause};
pub use replicate::retention::{at_risk as log_at_risk, describe as describe_log};
pub use replicate::reverse::Reverse;
pub use replicate::{checkpoint as replica_checkpoint, replicate, ReplicaStatus, ReplicateReport, ReplicateRequest, Seed};
pub use restore::{restore, FixupReport, RestoreReport, RestoreRequest};
pub use site::{fence, health, promote, Epoch, HealthReport, SiteAction, SiteReport};
pub use switchover::{switchover, FinalCopy, Step, SwitchoverReport, SwitchoverRequest, SwitchoverSite};
pub use transform::{ColumnReport, LocationReport, RuleReport};
pub use verify::{verify, Align, Difference, KindReport, VerifyReport, VerifyRequest, VerifySource};
