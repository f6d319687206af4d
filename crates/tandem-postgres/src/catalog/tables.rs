//! The tables to copy: listed and locked first, then their columns, primary keys and
//! `CREATE TABLE` statements, and finally their [`TableDef`]s.

use std::collections::HashMap;

use tandem_engine::{ColumnDef, Skipped, SkippedKind, TableDef};
use tandem_error::Result;
use tokio_postgres::Client;

use super::{get, not_ext, query, skip, Col, Reader, Table, USER_NS};
use crate::{ident, pg_err, qname};

/// The user tables (relkind `r`; partitioned parents and foreign tables added to `skipped`,
/// partitions and inheritance children kept as plain tables), locked `ACCESS SHARE`, in
/// schema and name order, without columns yet.
pub(super) async fn lock_tables(client: &Client, skipped: &mut Vec<Skipped>) -> Result<Vec<Table>> {
    let rows = query(
        client,
        "tables",
        &format!(
            "SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text, c.relpersistence::text, \
                c.relispartition, EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid), \
                pg_catalog.array_to_string(c.reloptions, ', ') \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'f') AND {USER_NS} AND {} ORDER BY n.nspname, c.relname",
            not_ext("pg_class", "c.oid")
        ),
    )
    .await?;
    let mut tables: Vec<Table> = Vec::new();
    for r in &rows {
        let (schema, name, kind): (String, String, String) = (get(r, 1)?, get(r, 2)?, get(r, 3)?);
        let (is_partition, is_child): (bool, bool) = (get(r, 5)?, get(r, 6)?);
        if kind == "p" {
            let why = "partitioning is not reproduced: its partitions are restored as plain tables";
            skip(skipped, Skipped::new(SkippedKind::PartitionedTable, format!("{schema}.{name}"), why));
            continue;
        }
        if kind == "f" {
            skip(
                skipped,
                Skipped::new(SkippedKind::ForeignTable, format!("{schema}.{name}"), "foreign tables are not copied (their rows live on another server)"),
            );
            continue;
        }
        if is_partition || is_child {
            tracing::warn!("table {schema}.{name} is a partition or inheritance child: restored as a plain table");
        }
        let persistence: String = get(r, 4)?;
        tables.push(Table {
            oid: get(r, 0)?,
            schema,
            name,
            unlogged: persistence == "u",
            options: get::<Option<String>>(r, 7)?.filter(|s| !s.is_empty()),
            columns: Vec::new(),
            pk: Vec::new(),
        });
    }
    if !tables.is_empty() {
        let list: Vec<String> = tables.iter().map(|t| qname(&t.schema, &t.name)).collect();
        let lock = format!("LOCK TABLE {} IN ACCESS SHARE MODE", list.join(", "));
        client.batch_execute(&lock).await.map_err(|e| pg_err("locking the tables to copy", e))?;
    }
    Ok(tables)
}

impl Reader<'_> {
    /// Fills each table's columns, in column order (generated columns included).
    pub(super) async fn columns(&mut self) -> Result<()> {
        let generated = if self.version >= 120000 { "a.attgenerated::text" } else { "''::text" };
        let rows = query(
            self.client,
            "columns",
            &format!(
                "SELECT a.attrelid::int8, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                    pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, {generated}, \
                    CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation \
                         THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) END \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation \
             LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
             WHERE c.relkind = 'r' AND {USER_NS} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum"
            ),
        )
        .await?;
        for r in &rows {
            let oid: i64 = get(r, 0)?;
            let Some(&i) = self.table_idx.get(&oid) else { continue };
            self.tables[i].columns.push(Col {
                name: get(r, 1)?,
                ty: get(r, 2)?,
                notnull: get(r, 3)?,
                default: get(r, 4)?,
                identity: get(r, 5)?,
                generated: get(r, 6)?,
                collation: get(r, 7)?,
            });
        }
        Ok(())
    }

    /// Fills each table's primary key columns, in key order.
    pub(super) async fn primary_keys(&mut self) -> Result<()> {
        for r in &query(
            self.client,
            "primary keys",
            "SELECT con.conrelid::int8, a.attname::text FROM pg_catalog.pg_constraint con \
             CROSS JOIN LATERAL pg_catalog.unnest(con.conkey) WITH ORDINALITY k(attnum, ord) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
             WHERE con.contype = 'p' ORDER BY con.conrelid, k.ord",
        )
        .await?
        {
            if let Some(&i) = self.table_idx.get(&get::<i64>(r, 0)?) {
                self.tables[i].pk.push(get(r, 1)?);
            }
        }
        Ok(())
    }

    /// Appends a `CREATE TABLE` per table to `pre` (no constraints: they come after the load);
    /// identity columns get their sequence's name and options from `identity_seq`.
    pub(super) fn create_tables(&mut self, identity_seq: &HashMap<(i64, String), usize>) {
        for t in &self.tables {
            let cols: Vec<String> = t.columns.iter().map(|c| self.column_ddl(t, c, identity_seq)).collect();
            let mut ddl = format!("CREATE {}TABLE {} (\n    {}\n)", if t.unlogged { "UNLOGGED " } else { "" }, qname(&t.schema, &t.name), cols.join(",\n    "));
            if let Some(o) = &t.options {
                ddl.push_str(&format!(" WITH ({o})"));
            }
            self.pre.push(ddl);
        }
    }

    /// One column of a `CREATE TABLE`: type, collation, default or generation, identity, NOT NULL.
    fn column_ddl(&self, t: &Table, c: &Col, identity_seq: &HashMap<(i64, String), usize>) -> String {
        let mut s = format!("{} {}", ident(&c.name), c.ty);
        if let Some(coll) = &c.collation {
            s.push_str(" COLLATE ");
            s.push_str(coll);
        }
        if c.generated == "s" {
            s.push_str(&format!(" GENERATED ALWAYS AS ({}) STORED", c.default.as_deref().unwrap_or("NULL")));
        } else if let Some(d) = &c.default {
            s.push_str(" DEFAULT ");
            s.push_str(d);
        }
        if c.identity == "a" || c.identity == "d" {
            s.push_str(if c.identity == "a" { " GENERATED ALWAYS AS IDENTITY" } else { " GENERATED BY DEFAULT AS IDENTITY" });
            if let Some(&si) = identity_seq.get(&(t.oid, c.name.clone())) {
                let q = &self.seqs[si];
                s.push_str(&format!(" (SEQUENCE NAME {} {})", qname(&q.schema, &q.name), q.options()));
            }
        }
        if c.notnull {
            s.push_str(" NOT NULL");
        }
        s
    }
}

/// The copied tables as the manifest describes them: generated columns left out, keys,
/// indexes and foreign keys read for cross-engine restores.
pub(super) async fn table_defs(client: &Client, tables: Vec<Table>) -> Result<Vec<TableDef>> {
    let mut defs: Vec<TableDef> = tables
        .into_iter()
        .map(|t| TableDef {
            schema: Some(t.schema),
            name: t.name,
            columns: t
                .columns
                .into_iter()
                .filter(|c| c.generated.is_empty())
                .map(|c| ColumnDef {
                    name: c.name,
                    sql_type: c.ty,
                    nullable: !c.notnull,
                    auto_increment: !c.identity.is_empty() || c.default.as_deref().is_some_and(|d| d.starts_with("nextval(")),
                    default: c.default,
                    charset: None,
                })
                .collect(),
            primary_key: t.pk,
            ..Default::default()
        })
        .collect();
    crate::keys::read_keys(client, &mut defs).await?;
    Ok(defs)
}
