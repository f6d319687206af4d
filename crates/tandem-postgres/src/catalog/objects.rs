//! The database's other objects around the tables: its defaults, schemas and extensions,
//! functions, constraints and indexes, triggers and comments.

use std::collections::{BTreeMap, HashMap};

use tandem_engine::{Skipped, SkippedKind};
use tandem_error::Result;
use tokio_postgres::Client;

use super::{get, not_ext, query, Reader, USER_NS};
use crate::{ident, literal, qname};

/// The database's default encoding and collation.
pub(super) async fn database_defaults(client: &Client) -> Result<(Option<String>, Option<String>)> {
    let db = query(
        client,
        "the database",
        "SELECT pg_catalog.pg_encoding_to_char(encoding)::text, datcollate::text \
         FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()",
    )
    .await?;
    Ok(match db.first() {
        Some(r) => (Some(get::<String>(r, 0)?), Some(get::<String>(r, 1)?)),
        None => (None, None),
    })
}

impl Reader<'_> {
    /// Appends `CREATE SCHEMA` for the user schemas and `CREATE EXTENSION` for the extensions
    /// (in creation order) to `pre`.
    pub(super) async fn schemas_and_extensions(&mut self) -> Result<()> {
        for r in query(
            self.client,
            "schemas",
            &format!("SELECT n.nspname::text FROM pg_catalog.pg_namespace n WHERE {USER_NS} AND {} ORDER BY n.nspname", not_ext("pg_namespace", "n.oid")),
        )
        .await?
        {
            self.pre.push(format!("CREATE SCHEMA IF NOT EXISTS {}", ident(&get::<String>(&r, 0)?)));
        }
        for r in query(
            self.client,
            "extensions",
            "SELECT e.extname::text, n.nspname::text FROM pg_catalog.pg_extension e \
             JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql' ORDER BY e.oid",
        )
        .await?
        {
            self.pre.push(format!("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}", ident(&get::<String>(&r, 0)?), ident(&get::<String>(&r, 1)?)));
        }
        Ok(())
    }

    /// Appends functions and procedures to `pre` (aggregates and window functions are added to
    /// `skipped`); returns those whose signature uses a table's row type, which must come
    /// after the tables.
    pub(super) async fn functions(&mut self) -> Result<Vec<String>> {
        let rows = query(
            self.client,
            "functions",
            &format!(
                "SELECT n.nspname::text, p.proname::text, p.prokind::text, \
                    CASE WHEN p.prokind IN ('f', 'p') THEN pg_catalog.pg_get_functiondef(p.oid) END, \
                    EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_class r ON r.oid = t.typrelid \
                            WHERE r.relkind <> 'c' AND (t.oid = p.prorettype OR t.oid = ANY (p.proargtypes::oid[]) \
                                  OR t.oid = ANY (COALESCE(p.proallargtypes, '{{}}'::oid[])))) \
             FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
             WHERE {USER_NS} AND {} ORDER BY p.oid",
                not_ext("pg_proc", "p.oid")
            ),
        )
        .await?;
        let mut late_functions = Vec::new();
        for r in &rows {
            let (schema, name, kind): (String, String, String) = (get(r, 0)?, get(r, 1)?, get(r, 2)?);
            let Some(def) = get::<Option<String>>(r, 3)? else {
                let (kind, why) = match kind.as_str() {
                    "w" => (SkippedKind::WindowFunction, "window functions are not copied"),
                    "a" => (SkippedKind::Aggregate, "aggregate functions are not copied"),
                    _ => (SkippedKind::Other, "functions of this kind are not copied"),
                };
                super::skip(&mut self.skipped, Skipped::new(kind, format!("{schema}.{name}"), why));
                continue;
            };
            self.untranslatable.push(format!("function {schema}.{name}"));
            if get::<bool>(r, 4)? {
                late_functions.push(def);
            } else {
                self.pre.push(def);
            }
        }
        Ok(late_functions)
    }

    /// Appends the tables' constraints and indexes to `post`: primary keys, then unique and
    /// exclusion constraints, checks, indexes that back no constraint, and foreign keys last.
    /// Returns the indexes of other relations (materialized views) by relation oid.
    pub(super) async fn constraints_and_indexes(&mut self) -> Result<HashMap<i64, Vec<String>>> {
        let rows = query(
            self.client,
            "constraints",
            "SELECT con.conrelid::int8, con.conname::text, con.contype::text, pg_catalog.pg_get_constraintdef(con.oid) \
             FROM pg_catalog.pg_constraint con WHERE con.conrelid <> 0 AND con.contype IN ('p', 'u', 'x', 'c', 'f') \
             ORDER BY con.conrelid, con.conname",
        )
        .await?;
        let mut by_kind: BTreeMap<u8, Vec<String>> = BTreeMap::new();
        for r in &rows {
            let Some(&i) = self.table_idx.get(&get::<i64>(r, 0)?) else { continue };
            let (name, kind, def): (String, String, String) = (get(r, 1)?, get(r, 2)?, get(r, 3)?);
            let rank = match kind.as_str() {
                "p" => 0,
                "u" | "x" => 1,
                "c" => 2,
                _ => 4,
            };
            let t = &self.tables[i];
            by_kind.entry(rank).or_default().push(format!("ALTER TABLE ONLY {} ADD CONSTRAINT {} {def}", qname(&t.schema, &t.name), ident(&name)));
        }
        let rows = query(
            self.client,
            "indexes",
            "SELECT i.indrelid::int8, pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
             WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid \
                               AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')) \
             ORDER BY i.indrelid, ic.relname",
        )
        .await?;
        let mut view_indexes: HashMap<i64, Vec<String>> = HashMap::new();
        for r in &rows {
            let oid: i64 = get(r, 0)?;
            let def: String = get(r, 1)?;
            if self.table_idx.contains_key(&oid) {
                by_kind.entry(3).or_default().push(def);
            } else {
                view_indexes.entry(oid).or_default().push(def);
            }
        }
        for (_, stmts) in by_kind {
            self.post.extend(stmts);
        }
        Ok(view_indexes)
    }

    /// The qualified name of a restored table or view (`views`: oid → (kind, name)).
    fn relation_name(&self, oid: i64, views: &HashMap<i64, (&'static str, String)>) -> Option<String> {
        self.table_idx.get(&oid).map(|&i| qname(&self.tables[i].schema, &self.tables[i].name)).or_else(|| views.get(&oid).map(|v| v.1.clone()))
    }

    /// Appends the triggers of the restored tables and views to `post` (disabled ones disabled
    /// again); each is untranslatable.
    pub(super) async fn triggers(&mut self, views: &HashMap<i64, (&'static str, String)>) -> Result<()> {
        let parent = if self.version >= 130000 { "AND t.tgparentid = 0" } else { "" };
        let rows = query(
            self.client,
            "triggers",
            &format!(
                "SELECT t.tgrelid::int8, pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled::text, t.tgname::text \
             FROM pg_catalog.pg_trigger t WHERE NOT t.tgisinternal {parent} ORDER BY t.tgrelid, t.tgname"
            ),
        )
        .await?;
        for r in &rows {
            let Some(rel) = self.relation_name(get(r, 0)?, views) else { continue };
            self.untranslatable.push(format!("trigger {} on {rel}", get::<String>(r, 3)?));
            self.post.push(get(r, 1)?);
            let enabled: String = get(r, 2)?;
            if enabled == "D" {
                self.post.push(format!("ALTER TABLE {rel} DISABLE TRIGGER {}", ident(&get::<String>(r, 3)?)));
            }
        }
        Ok(())
    }

    /// Appends the comments on tables, views, sequences and their columns to `post`.
    pub(super) async fn comments(&mut self, views: &HashMap<i64, (&'static str, String)>) -> Result<()> {
        let rows = query(
            self.client,
            "comments",
            "SELECT d.objoid::int8, a.attname::text, d.description FROM pg_catalog.pg_description d \
             LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.objoid AND a.attnum = d.objsubid \
             WHERE d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass ORDER BY d.objoid, d.objsubid",
        )
        .await?;
        let seq_names: HashMap<i64, String> = self.seqs.iter().map(|s| (s.oid, qname(&s.schema, &s.name))).collect();
        for r in &rows {
            let oid: i64 = get(r, 0)?;
            let (col, text): (Option<String>, String) = (get(r, 1)?, get(r, 2)?);
            let (kind, name) = if let Some(&i) = self.table_idx.get(&oid) {
                ("TABLE", qname(&self.tables[i].schema, &self.tables[i].name))
            } else if let Some(v) = views.get(&oid) {
                (v.0, v.1.clone())
            } else if let Some(s) = seq_names.get(&oid) {
                ("SEQUENCE", s.clone())
            } else {
                continue;
            };
            match col {
                Some(c) => self.post.push(format!("COMMENT ON COLUMN {name}.{} IS {}", ident(&c), literal(&text))),
                None => self.post.push(format!("COMMENT ON {kind} {name} IS {}", literal(&text))),
            }
        }
        Ok(())
    }
}
