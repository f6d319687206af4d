//! `airflow`: recognised by `alembic_version` next to `dag` and `dag_run`.

use async_trait::async_trait;
use tandem_engine::Snapshot;
use tandem_error::Result;

use crate::read::{find_table, first_value};
use crate::{Detected, System};

/// The Airflow metadata database.
pub struct Airflow;

#[async_trait]
impl System for Airflow {
    fn name(&self) -> &'static str {
        "airflow"
    }

    async fn detect(&self, snapshot: &dyn Snapshot) -> Result<Option<Detected>> {
        let (Some(alembic), Some(_), Some(_)) =
            (find_table(snapshot, "alembic_version"), find_table(snapshot, "dag"), find_table(snapshot, "dag_run"))
        else {
            return Ok(None);
        };
        let version = first_value(snapshot, alembic, "version_num").await?;
        Ok(Some(Detected { name: self.name().into(), version, ..Default::default() }))
    }

    fn summary_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("dags", "dag"), ("dag_runs", "dag_run"), ("task_instances", "task_instance")]
    }
}
