//! `airflow`: recognised by `alembic_version` next to `dag` and `dag_run`.

use crate::System;

/// The Airflow metadata database.
pub struct Airflow;

impl System for Airflow {
    fn name(&self) -> &'static str {
        "airflow"
    }

    fn describe(&self) -> &'static str {
        "an Airflow metadata database"
    }

    fn marker_tables(&self) -> &'static [&'static str] {
        &["alembic_version", "dag", "dag_run"]
    }

    fn version_column(&self) -> Option<&'static str> {
        Some("version_num")
    }

    fn summary_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("dags", "dag"), ("dag_runs", "dag_run"), ("task_instances", "task_instance")]
    }
}
