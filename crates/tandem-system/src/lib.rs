//! The system trait of tandem: what a database belongs to.
//!
//! A [`System`] recognises its database from a [`Snapshot`] (tables and a version table) and
//! names the schema version. Later it also owns location columns, post-restore fix-ups,
//! standby/promote/fence and semantic verify; the `generic` system has none of these and copies
//! any schema faithfully.
//!
//! Systems never depend on a particular engine: they see tables through the engine trait and
//! decode small tables with [`tandem_engine::rowcodec`].

mod airflow;
mod generic;
mod hive;
mod read;

pub use airflow::Airflow;
pub use generic::Generic;
pub use hive::HiveMetastore;

use std::collections::BTreeMap;

use async_trait::async_trait;
use tandem_engine::Snapshot;
use tandem_error::Result;

/// What a system found in a database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detected {
    /// [`System::name`] of the system.
    pub name: String,
    /// Schema version (`3.1.0`, an alembic revision), if the system has one.
    pub version: Option<String>,
    /// Counts for humans, from table row counts (`databases`, `tables`, `partitions`).
    pub summary: BTreeMap<String, u64>,
}

/// One kind of system.
#[async_trait]
pub trait System: Send + Sync {
    /// Stable name used on the command line and in manifests (`hive-metastore`).
    fn name(&self) -> &'static str;

    /// Recognises the database in `snapshot`: `Ok(None)` if it is not of this system.
    /// Errors only when the database looks like this system but cannot be read.
    async fn detect(&self, snapshot: &dyn Snapshot) -> Result<Option<Detected>>;

    /// Tables whose row counts make the human summary, as `(label, table name)`.
    fn summary_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
}

/// All systems, most specific first; `generic` last (it recognises everything).
pub fn all() -> Vec<Box<dyn System>> {
    vec![Box::new(HiveMetastore), Box::new(Airflow), Box::new(Generic)]
}

/// The system called `name`, if there is one.
pub fn by_name(name: &str) -> Option<Box<dyn System>> {
    all().into_iter().find(|s| s.name() == name)
}
