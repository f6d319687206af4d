//! `hive-metastore`: recognised by its `VERSION` table (`SCHEMA_VERSION`) next to `DBS` and `TBLS`.

use async_trait::async_trait;
use tandem_engine::Snapshot;
use tandem_error::Result;

use crate::read::{find_table, first_value};
use crate::{Detected, System};

/// The Hive Metastore (Hive, Spark, Trino, Dataproc Metastore).
pub struct HiveMetastore;

#[async_trait]
impl System for HiveMetastore {
    fn name(&self) -> &'static str {
        "hive-metastore"
    }

    async fn detect(&self, snapshot: &dyn Snapshot) -> Result<Option<Detected>> {
        let (Some(version), Some(_), Some(_)) =
            (find_table(snapshot, "VERSION"), find_table(snapshot, "DBS"), find_table(snapshot, "TBLS"))
        else {
            return Ok(None);
        };
        let version = first_value(snapshot, version, "SCHEMA_VERSION").await?;
        Ok(Some(Detected { name: self.name().into(), version, ..Default::default() }))
    }

    fn summary_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("databases", "DBS"), ("tables", "TBLS"), ("partitions", "PARTITIONS")]
    }
}
