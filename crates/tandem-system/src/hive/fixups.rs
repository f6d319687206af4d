//! What makes a restored metastore usable at once, run before the restored content becomes
//! visible:
//!
//! - **DataNucleus ids.** Hive's ids come from `SEQUENCE_TABLE` (`SEQUENCE_NAME` = model class,
//!   `NEXT_VAL`), not from the engine. A row left at or below the restored ids makes the next
//!   `CREATE TABLE` fail with a duplicate key, so every known row is raised past the largest id of
//!   its table. (A missing row is re-seeded by DataNucleus from MAX(id) itself.)
//! - **Hive's own counters**: `NOTIFICATION_SEQUENCE`, `NEXT_TXN_ID`, `NEXT_LOCK_ID`,
//!   `NEXT_COMPACTION_QUEUE_ID`, and `NEXT_WRITE_ID` per table (write ids are kept: data
//!   directories are named by them; only a counter behind them is raised).
//! - **State of the dead source**: its `HIVE_LOCKS` would block the DR site, its open transactions
//!   can never commit there (aborted, so the cleaner removes their partial writes), compactions it
//!   was running go back to the queue, and its `MIN_HISTORY_LEVEL` / `MATERIALIZATION_REBUILD_LOCKS`
//!   rows are dropped.
//!
//! Every statement is idempotent, plain SQL for both engines, and only made for tables (and
//! columns) the restored schema has.

use tandem_engine::{Dialect, TableDef};

use crate::read::find_table;
use crate::Fixup;

/// DataNucleus model class (after `org.apache.hadoop.hive.metastore.model.`) → table, id column.
const MODEL_IDS: &[(&str, &str, &str)] = &[
    ("MCatalog", "CTLGS", "CTLG_ID"),
    ("MDatabase", "DBS", "DB_ID"),
    ("MTable", "TBLS", "TBL_ID"),
    ("MStorageDescriptor", "SDS", "SD_ID"),
    ("MSerDeInfo", "SERDES", "SERDE_ID"),
    ("MColumnDescriptor", "CDS", "CD_ID"),
    ("MPartition", "PARTITIONS", "PART_ID"),
    ("MFunction", "FUNCS", "FUNC_ID"),
    ("MTableColumnStatistics", "TAB_COL_STATS", "CS_ID"),
    ("MPartitionColumnStatistics", "PART_COL_STATS", "CS_ID"),
    ("MNotificationLog", "NOTIFICATION_LOG", "NL_ID"),
    ("MRole", "ROLES", "ROLE_ID"),
    ("MRoleMap", "ROLE_MAP", "ROLE_GRANT_ID"),
    ("MGlobalPrivilege", "GLOBAL_PRIVS", "USER_GRANT_ID"),
    ("MDBPrivilege", "DB_PRIVS", "DB_GRANT_ID"),
    ("MTablePrivilege", "TBL_PRIVS", "TBL_GRANT_ID"),
    ("MPartitionPrivilege", "PART_PRIVS", "PART_GRANT_ID"),
    ("MTableColumnPrivilege", "TBL_COL_PRIVS", "TBL_COLUMN_GRANT_ID"),
    ("MPartitionColumnPrivilege", "PART_COL_PRIVS", "PART_COLUMN_GRANT_ID"),
    ("MType", "TYPES", "TYPES_ID"),
    ("MPartitionEvent", "PARTITION_EVENTS", "PART_NAME_ID"),
    ("MMasterKey", "MASTER_KEYS", "KEY_ID"),
    ("MVersionTable", "VERSION", "VER_ID"),
    ("MIndex", "IDXS", "INDEX_ID"),
    ("MStringList", "SKEWED_STRING_LIST", "STRING_LIST_ID"),
    ("MCreationMetadata", "MV_CREATION_METADATA", "MV_CREATION_METADATA_ID"),
    ("MWMResourcePlan", "WM_RESOURCEPLAN", "RP_ID"),
    ("MWMPool", "WM_POOL", "POOL_ID"),
    ("MWMTrigger", "WM_TRIGGER", "TRIGGER_ID"),
    ("MWMMapping", "WM_MAPPING", "MAPPING_ID"),
    ("MISchema", "I_SCHEMA", "SCHEMA_ID"),
    ("MSchemaVersion", "SCHEMA_VERSION", "SCHEMA_VERSION_ID"),
    ("MRuntimeStat", "RUNTIME_STATS", "RS_ID"),
    ("MScheduledQuery", "SCHEDULED_QUERIES", "SCHEDULED_QUERY_ID"),
    ("MScheduledExecution", "SCHEDULED_EXECUTIONS", "SCHEDULED_EXECUTION_ID"),
    ("MStoredProc", "STORED_PROCS", "SP_ID"),
    ("MPackage", "PACKAGES", "PKG_ID"),
];

/// `(table, column)`.
type Col = (&'static str, &'static str);

/// Hive's own "next id" tables: (table, column, the id columns it hands out).
const COUNTERS: &[(&str, &str, &[Col])] = &[
    ("NOTIFICATION_SEQUENCE", "NEXT_EVENT_ID", &[("NOTIFICATION_LOG", "EVENT_ID")]),
    ("NEXT_TXN_ID", "NTXN_NEXT", &[("TXNS", "TXN_ID")]),
    ("NEXT_LOCK_ID", "NL_NEXT", &[("HIVE_LOCKS", "HL_LOCK_EXT_ID")]),
    ("NEXT_COMPACTION_QUEUE_ID", "NCQ_NEXT", &[("COMPACTION_QUEUE", "CQ_ID"), ("COMPLETED_COMPACTIONS", "CC_ID")]),
];

/// A resolved table: its qualified name and how to name its columns.
struct T<'a> {
    def: &'a TableDef,
    sql: String,
}

impl<'a> T<'a> {
    fn find(tables: &'a [TableDef], dialect: &dyn Dialect, name: &str) -> Option<T<'a>> {
        find_table(tables, name).map(|def| T { def, sql: dialect.table(def) })
    }

    /// The quoted column called `name`, if the table has it.
    fn col(&self, dialect: &dyn Dialect, name: &str) -> Option<String> {
        self.def.column(name).map(|(_, c)| dialect.ident(&c.name))
    }
}

/// `(SELECT COALESCE(MAX(c), 0) FROM t)` over every `(table, column)` that exists.
fn max_of(tables: &[TableDef], d: &dyn Dialect, ids: &[(&str, &str)]) -> Option<String> {
    let parts: Vec<String> = ids
        .iter()
        .filter_map(|(t, c)| {
            let t = T::find(tables, d, t)?;
            let c = t.col(d, c)?;
            Some(format!("(SELECT COALESCE(MAX({c}), 0) FROM {})", t.sql))
        })
        .collect();
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next(),
        _ => Some(format!("GREATEST({})", parts.join(", "))),
    }
}

/// The fix-ups for a restored metastore with `tables` (see the module docs).
pub(crate) fn fixups(tables: &[TableDef], d: &dyn Dialect) -> Vec<Fixup> {
    let mut out = Vec::new();
    let mut fix = |what: String, sql: String| out.push(Fixup { what, sql });

    if let Some(seq) = T::find(tables, d, "SEQUENCE_TABLE") {
        if let (Some(name), Some(next)) = (seq.col(d, "SEQUENCE_NAME"), seq.col(d, "NEXT_VAL")) {
            for (model, table, id) in MODEL_IDS {
                let Some(max) = max_of(tables, d, &[(table, id)]) else { continue };
                let class = d.literal(&format!("org.apache.hadoop.hive.metastore.model.{model}"));
                fix(
                    format!("advance SEQUENCE_TABLE {model} past {table}.{id}"),
                    format!("UPDATE {} SET {next} = {max} + 1 WHERE {name} = {class} AND {next} <= {max}", seq.sql),
                );
            }
        }
    }
    for (table, column, ids) in COUNTERS {
        let Some(t) = T::find(tables, d, table) else { continue };
        let (Some(c), Some(max)) = (t.col(d, column), max_of(tables, d, ids)) else { continue };
        let exists = |(t, c): &&(&str, &str)| T::find(tables, d, t).is_some_and(|t| t.col(d, c).is_some());
        let over: Vec<String> = ids.iter().filter(exists).map(|(t, c)| format!("{t}.{c}")).collect();
        fix(format!("advance {table} past {}", over.join(", ")), format!("UPDATE {} SET {c} = {max} + 1 WHERE {c} <= {max}", t.sql));
    }
    if let (Some(n), Some(w)) = (T::find(tables, d, "NEXT_WRITE_ID"), T::find(tables, d, "TXN_TO_WRITE_ID")) {
        let cols =
            (n.col(d, "NWI_NEXT"), n.col(d, "NWI_DATABASE"), n.col(d, "NWI_TABLE"), w.col(d, "T2W_WRITEID"), w.col(d, "T2W_DATABASE"), w.col(d, "T2W_TABLE"));
        if let (Some(next), Some(ndb), Some(ntbl), Some(wid), Some(wdb), Some(wtbl)) = cols {
            let max = format!("(SELECT COALESCE(MAX(w.{wid}), 0) FROM {} w WHERE w.{wdb} = {}.{ndb} AND w.{wtbl} = {}.{ntbl})", w.sql, n.sql, n.sql);
            fix("advance NEXT_WRITE_ID past TXN_TO_WRITE_ID (write ids kept)".into(), format!("UPDATE {} SET {next} = {max} + 1 WHERE {next} <= {max}", n.sql));
        }
    }
    if let Some(t) = T::find(tables, d, "HIVE_LOCKS") {
        fix("drop locks held at the source".into(), format!("DELETE FROM {}", t.sql));
    }
    if let Some(t) = T::find(tables, d, "TXNS") {
        if let Some(state) = t.col(d, "TXN_STATE") {
            fix("abort transactions open at the source".into(), format!("UPDATE {} SET {state} = 'a' WHERE {state} = 'o'", t.sql));
        }
    }
    if let Some(t) = T::find(tables, d, "COMPACTION_QUEUE") {
        if let (Some(state), Some(worker)) = (t.col(d, "CQ_STATE"), t.col(d, "CQ_WORKER_ID")) {
            fix(
                "requeue compactions that source workers were running".into(),
                format!("UPDATE {} SET {state} = 'i', {worker} = NULL WHERE {state} = 'w'", t.sql),
            );
        }
    }
    for table in ["MIN_HISTORY_LEVEL", "MATERIALIZATION_REBUILD_LOCKS"] {
        if let Some(t) = T::find(tables, d, table) {
            fix(format!("clear {table} of the source's transactions"), format!("DELETE FROM {}", t.sql));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_engine::ColumnDef;

    struct Q;
    impl Dialect for Q {
        fn ident(&self, name: &str) -> String {
            format!("\"{name}\"")
        }
        fn literal(&self, s: &str) -> String {
            format!("'{s}'")
        }
        fn text_order(&self, expr: &str) -> String {
            expr.into()
        }
        fn current_schema(&self) -> &'static str {
            "s"
        }
        fn agg_tuples(&self, exprs: &[String]) -> String {
            exprs.join(",")
        }
    }

    fn table(name: &str, cols: &[&str]) -> TableDef {
        TableDef {
            schema: Some("public".into()),
            name: name.into(),
            columns: cols.iter().map(|c| ColumnDef { name: c.to_string(), sql_type: "bigint".into(), ..Default::default() }).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn only_for_tables_and_columns_that_exist() {
        let tables = vec![
            table("SEQUENCE_TABLE", &["SEQUENCE_NAME", "NEXT_VAL"]),
            table("TBLS", &["TBL_ID"]),
            table("DBS", &["DB_ID"]),
            table("HIVE_LOCKS", &["HL_LOCK_EXT_ID"]),
            table("NEXT_LOCK_ID", &["NL_NEXT"]),
            table("COMPACTION_QUEUE", &["CQ_ID", "CQ_STATE", "CQ_WORKER_ID"]),
            table("NEXT_COMPACTION_QUEUE_ID", &["NCQ_NEXT"]),
        ];
        let f = fixups(&tables, &Q);
        let what: Vec<&str> = f.iter().map(|f| f.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "advance SEQUENCE_TABLE MDatabase past DBS.DB_ID",
                "advance SEQUENCE_TABLE MTable past TBLS.TBL_ID",
                "advance NEXT_LOCK_ID past HIVE_LOCKS.HL_LOCK_EXT_ID",
                "advance NEXT_COMPACTION_QUEUE_ID past COMPACTION_QUEUE.CQ_ID",
                "drop locks held at the source",
                "requeue compactions that source workers were running",
            ]
        );
        assert_eq!(
            f[1].sql,
            "UPDATE \"public\".\"SEQUENCE_TABLE\" SET \"NEXT_VAL\" = (SELECT COALESCE(MAX(\"TBL_ID\"), 0) FROM \"public\".\"TBLS\") + 1 \
             WHERE \"SEQUENCE_NAME\" = 'org.apache.hadoop.hive.metastore.model.MTable' AND \"NEXT_VAL\" <= (SELECT COALESCE(MAX(\"TBL_ID\"), 0) FROM \"public\".\"TBLS\")"
        );
        // COMPLETED_COMPACTIONS is missing: only the queue counts.
        assert!(!f[3].sql.contains("GREATEST"), "{}", f[3].sql);
    }
}
