//! `airflow`: recognised by `alembic_version` next to `dag` and `dag_run`.

use async_trait::async_trait;
use tandem_engine::Snapshot;
use tandem_error::Result;

use crate::read::detect_by_tables;
use crate::{Detected, System};

/// The Airflow metadata database.
pub struct Airflow;

#[async_trait]
impl System for Airflow {
    fn name(&self) -> &'static str {
        "airflow"
    }

    async fn detect(&self, snapshot: &dyn Snapshot) -> Result<Option<Detected>> {
        detect_by_tables(snapshot, self.name(), ("alembic_version", "version_num"), &["dag", "dag_run"]).await
    }

    fn summary_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("dags", "dag"), ("dag_runs", "dag_run"), ("task_instances", "task_instance")]
    }
}
