//! The system trait of tandem: what a database belongs to.
//!
//! A [`System`] recognises its database by marker tables and names the schema version; it knows
//! which columns hold storage locations (rewritten by a [`LocationMap`] on restore), which
//! statements make restored content usable (id generators, stale locks: [`Fixup`]), and (later)
//! standby/promote/fence and semantic verify. The `generic` system has none of these and copies
//! any schema faithfully.
//!
//! Systems never depend on a particular engine: they see tables through the engine trait, decode
//! small tables with [`tandem_engine::rowcodec`] and write SQL through [`tandem_engine::Dialect`].

mod airflow;
mod generic;
mod hive;
pub mod location;
mod passive;
mod read;
pub mod secrets;
pub mod site;
pub mod verify;

pub use airflow::Airflow;
pub use generic::Generic;
pub use hive::HiveMetastore;
pub use location::{LocationMap, LocationRule};
pub use passive::Passive;
pub use secrets::{Rekey, RowRewriter, SecretCodec, SiteKey, SiteKeys};
pub use site::{Change, Check, Health, Interrupted, PromoteOptions, StateChange};

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use tandem_engine::{Dialect, Snapshot, TableDef, Transaction};
use tandem_error::{Error, Result};

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

/// A column holding storage locations, which a [`LocationMap`] rewrites on restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocationColumn {
    pub table: &'static str,
    pub column: &'static str,
    /// For key/value tables: only rows whose column `.0` holds one of the keys `.1`.
    pub only_keys: Option<(&'static str, &'static [&'static str])>,
    /// The first schema version that has the column (`4.0`); `None`: every supported version.
    /// Older layouts lack it, and restores skip it there (the system conformance suite checks
    /// both: present from this version on, absent before).
    pub since: Option<&'static str>,
}

/// One statement that makes restored content usable, run on the restored content before it
/// becomes visible (see [`System::post_restore`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixup {
    /// What it does, for the restore report (`advance SEQUENCE_TABLE past TBLS.TBL_ID`).
    pub what: String,
    pub sql: String,
}

/// One kind of system.
#[async_trait]
pub trait System: Send + Sync {
    /// Stable name used on the command line and in manifests (`hive-metastore`).
    fn name(&self) -> &'static str;

    /// What a database of this system is called in messages (`a Hive Metastore`).
    fn describe(&self) -> &'static str;

    /// Tables that all exist in a database of this system (case-insensitive; any schema). The
    /// first one holds the schema version in [`version_column`](System::version_column).
    /// Empty: every database is of this system.
    fn marker_tables(&self) -> &'static [&'static str] {
        &[]
    }

    /// Column of the first marker table that holds the schema version.
    fn version_column(&self) -> Option<&'static str> {
        None
    }

    /// Recognises the database in `snapshot`: `Ok(None)` if it is not of this system.
    /// Errors only when the database looks like this system but cannot be read.
    async fn detect(&self, snapshot: &dyn Snapshot) -> Result<Option<Detected>> {
        read::detect_by_markers(snapshot, self).await
    }

    /// Whether a database holding `relations` (as a restore target lists them: `name` or
    /// `schema.name`) is of this system.
    fn recognizes(&self, relations: &[String]) -> bool {
        let markers = self.marker_tables();
        !markers.is_empty() && markers.iter().all(|m| relations.iter().any(|r| r.rsplit('.').next().is_some_and(|n| n.eq_ignore_ascii_case(m))))
    }

    /// Refuses (BadInput, naming it) a schema version that tandem does not support for this
    /// system.
    fn check_version(&self, _version: Option<&str>) -> Result<()> {
        Ok(())
    }

    /// Tables whose row counts make the human summary, as `(label, table name)`.
    fn summary_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Columns that hold storage locations.
    fn location_columns(&self) -> &'static [LocationColumn] {
        &[]
    }

    /// Statements that make the restored `tables` usable at once: id generators advanced past
    /// the restored ids, state of the dead source (locks, open transactions) cleared. Each must
    /// be idempotent and plain SQL that both engines run, spelled with `dialect`.
    fn post_restore(&self, _tables: &[TableDef], _dialect: &dyn Dialect) -> Vec<Fixup> {
        Vec::new()
    }

    /// The character set this system's text uses where an engine lets a schema choose one
    /// (`latin1` for the Hive Metastore on MySQL, as Hive's own scripts create it); `None`: the
    /// engine's Unicode default. Used when a restore creates the schema in another engine.
    fn text_charset(&self) -> Option<&'static str> {
        None
    }

    /// The character set one column's text uses where an engine lets a column choose one, when
    /// the system's own layout gives it another than [`text_charset`](System::text_charset)
    /// (Airflow keeps asset names and URIs in `latin1` on MySQL, so that keys over them fit).
    fn column_charset(&self, _table: &str, _column: &str) -> Option<&'static str> {
        None
    }

    /// The kinds of objects `tandem verify` compares, in report order; empty: verify does not
    /// know this system.
    fn verify_views(&self) -> &'static [verify::View] {
        &[]
    }

    /// The schema version for humans (`alembic d2f4e1b3c5a7 (Airflow 3.3.x)`).
    fn version_label(&self, version: &str) -> String {
        version.to_string()
    }

    /// Whether the system keeps secrets encrypted with a site key (restore re-encrypts them).
    fn has_secrets(&self) -> bool {
        false
    }

    /// The codec of this system's secrets under one site's `key` (systems with secrets only).
    /// Errors (BadInput) for a key the system cannot use, naming the key's origin, never the
    /// key, and for a system without secrets.
    fn secret_codec(&self, key: &SiteKey) -> Result<Arc<dyn SecretCodec>> {
        Err(Error::bad_input(format!("{} keeps no encrypted secrets ({} applies to systems that do)", self.describe(), key.origin())))
    }

    /// The rewrite that re-encrypts `table`'s secrets from `keys.from` to `keys.to`, if the table
    /// holds any.
    fn secret_rewriter(&self, _table: &TableDef, _keys: &Rekey) -> Option<Box<dyn RowRewriter>> {
        None
    }

    /// The tandem-owned table whose presence makes a site of this system a standby (systems with
    /// a standby mode only). A refresh refuses a site of the system without it: an active site.
    fn standby_table(&self) -> Option<&'static str> {
        None
    }

    /// How a replica of this system, restored as a standby from a backup whose tables are
    /// `tables`, stays passive while changes stream into it (systems with a standby mode only).
    fn passive(&self, _tables: &[TableDef]) -> Option<Passive> {
        None
    }

    /// Statements that make restored `tables` a passive standby, remembering what was active at
    /// the source (run before the restore becomes visible). `note` is recorded with them.
    /// Errors (Unsupported) for systems without a standby mode.
    fn standby_fixups(&self, _tables: &[TableDef], _dialect: &dyn Dialect, _note: &str) -> Result<Vec<Fixup>> {
        Err(Error::unsupported(format!("{} has no standby mode in tandem yet", self.describe())))
    }

    /// Makes a live site passive, remembering what was active (`tandem fence`).
    async fn fence(&self, _tx: &dyn Transaction, _note: &str) -> Result<StateChange> {
        Err(Error::unsupported(format!("{} cannot be fenced by tandem yet", self.describe())))
    }

    /// Makes a passive site active again exactly as remembered (`tandem promote`).
    async fn promote(&self, _tx: &dyn Transaction, _opts: &PromoteOptions) -> Result<StateChange> {
        Err(Error::unsupported(format!("{} cannot be promoted by tandem yet", self.describe())))
    }

    /// The site's health beyond reachability (a scheduler heartbeat younger than `threshold_s`).
    async fn health(&self, _tx: &dyn Transaction, _threshold_s: f64) -> Result<Health> {
        Ok(Health::default())
    }
}
