//! `airflow`: the Airflow metadata database (2.x and 3.x, PostgreSQL and MySQL), recognised by
//! `alembic_version` next to `dag` and `dag_run`; its schema version is the alembic revision.
//!
//! What a restore does to it (decided here, documented in docs/AIRFLOW.md):
//! - secrets (`connection.password`/`extra`, `variable.val`, `trigger.kwargs`) are re-encrypted
//!   from the source's Fernet key to the target's when both are given ([`secrets`]);
//! - state of the dead source's processes is reset: running `job` rows (scheduler, triggerer, DAG
//!   processor) become `failed`, so the copy never looks alive on the source's heartbeat and the
//!   new scheduler adopts their orphaned tasks; triggers lose their `triggerer_id` so a live
//!   triggerer takes them; `import_error`, `dag_warning` and `dag_priority_parsing_request` are
//!   emptied (the DAG processor recomputes them); pending `connection_test_request`s, web
//!   `session`s and `callback_request`s of the old region are dropped. Everything else, the audit
//!   `log` and `revoked_token` included, is kept;
//! - with `--standby`, every DAG is paused and what was active is remembered ([`standby`]).

mod fernet;
mod secrets;
mod standby;
mod verify;
mod versions;

use async_trait::async_trait;
use tandem_engine::{Dialect, TableDef, Transaction};
use tandem_error::Result;

use crate::read::find_table;
use crate::{Fixup, Health, PromoteOptions, Rekey, RowRewriter, SecretCodec, SiteKey, StateChange, System};

/// The Airflow metadata database.
pub struct Airflow;

/// Columns that Airflow's models keep in `latin1` on MySQL (`latin1_general_cs`: "latin1 allows
/// for more indexed length"): asset and dataset names and URIs, whose keys and foreign keys
/// would not fit in utf8mb4. As `(table, column)`.
const LATIN1_COLUMNS: &[(&str, &str)] = &[
    ("asset", "name"),
    ("asset", "uri"),
    ("asset", "group"),
    ("asset_active", "name"),
    ("asset_active", "uri"),
    ("asset_alias", "name"),
    ("asset_alias", "group"),
    ("asset_watcher", "name"),
    ("dag_schedule_asset_name_reference", "name"),
    ("dag_schedule_asset_uri_reference", "uri"),
    ("dataset", "uri"),
    ("dataset_alias", "name"),
];

/// Tables emptied on restore: state the new region's processes rebuild, or that only meant
/// something to the old region's.
const EMPTIED: &[(&str, &str)] = &[
    ("import_error", "the DAG processor reports import errors again"),
    ("dag_warning", "the DAG processor recomputes DAG warnings"),
    ("dag_priority_parsing_request", "parsing requests of the old region"),
    ("connection_test_request", "pending connection tests of the old region"),
    ("session", "web sessions of the old region"),
    ("callback_request", "callbacks for the old region's DAG processor"),
];

#[async_trait]
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

    fn version_label(&self, version: &str) -> String {
        match versions::airflow_version(version) {
            Some(v) => format!("alembic {version} (Airflow {v})"),
            None => format!("alembic {version}"),
        }
    }

    fn summary_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("dags", "dag"), ("dag_runs", "dag_run"), ("task_instances", "task_instance"), ("variables", "variable"), ("connections", "connection")]
    }

    fn post_restore(&self, tables: &[TableDef], d: &dyn Dialect) -> Vec<Fixup> {
        let mut out = Vec::new();
        if let Some(job) = find_table(tables, "job") {
            out.push(Fixup {
                what: "mark the source's running scheduler/triggerer/processor jobs failed".into(),
                sql: format!("UPDATE {} SET state = 'failed' WHERE state = 'running'", d.table(job)),
            });
        }
        if let Some(t) = find_table(tables, "trigger").filter(|t| t.column("triggerer_id").is_some()) {
            out.push(Fixup {
                what: "release triggers from the source's triggerers".into(),
                sql: format!("UPDATE {} SET triggerer_id = NULL WHERE triggerer_id IS NOT NULL", d.table(t)),
            });
        }
        for (name, why) in EMPTIED {
            if let Some(t) = find_table(tables, name) {
                out.push(Fixup { what: format!("empty {name} ({why})"), sql: format!("DELETE FROM {}", d.table(t)) });
            }
        }
        out
    }

    fn has_secrets(&self) -> bool {
        true
    }

    fn column_charset(&self, table: &str, column: &str) -> Option<&'static str> {
        LATIN1_COLUMNS.iter().any(|(t, c)| t.eq_ignore_ascii_case(table) && c.eq_ignore_ascii_case(column)).then_some("latin1")
    }

    fn secret_codec(&self, key: &SiteKey) -> Result<std::sync::Arc<dyn SecretCodec>> {
        Ok(std::sync::Arc::new(fernet::Keyring::parse(key)?))
    }

    fn secret_rewriter(&self, table: &TableDef, keys: &Rekey) -> Option<Box<dyn RowRewriter>> {
        secrets::rewriter(table, keys)
    }

    fn standby_table(&self) -> Option<&'static str> {
        Some(standby::TABLE)
    }

    fn standby_fixups(&self, tables: &[TableDef], d: &dyn Dialect, note: &str) -> Result<Vec<Fixup>> {
        standby::fixups(tables, d, note)
    }

    fn passive(&self, tables: &[TableDef]) -> Option<crate::Passive> {
        standby::passive(tables)
    }

    async fn fence(&self, tx: &dyn Transaction, note: &str) -> Result<StateChange> {
        standby::fence(tx, note).await
    }

    async fn promote(&self, tx: &dyn Transaction, opts: &PromoteOptions) -> Result<StateChange> {
        standby::promote(tx, opts).await
    }

    async fn health(&self, tx: &dyn Transaction, threshold_s: f64) -> Result<Health> {
        standby::health(tx, threshold_s).await
    }

    fn verify_views(&self) -> &'static [crate::verify::View] {
        verify::VIEWS
    }
}
