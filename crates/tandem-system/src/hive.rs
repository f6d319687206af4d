//! `hive-metastore`: recognised by its `VERSION` table (`SCHEMA_VERSION`) next to `DBS` and `TBLS`.

use async_trait::async_trait;
use tandem_engine::Snapshot;
use tandem_error::Result;

use crate::read::detect_by_tables;
use crate::{Detected, System};

/// The Hive Metastore (Hive, Spark, Trino, Dataproc Metastore).
pub struct HiveMetastore;

#[async_trait]
impl System for HiveMetastore {
    fn name(&self) -> &'static str {
        "hive-metastore"
    }

    async fn detect(&self, snapshot: &dyn Snapshot) -> Result<Option<Detected>> {
        detect_by_tables(snapshot, self.name(), ("VERSION", "SCHEMA_VERSION"), &["DBS", "TBLS"]).await
    }

    fn summary_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("databases", "DBS"), ("tables", "TBLS"), ("partitions", "PARTITIONS")]
    }
}
