//! Reading a database's schema from the PostgreSQL catalogs into a [`SchemaDump`].
//!
//! Contract: must run inside the snapshot transaction with `search_path = ''`, so that every
//! name the `pg_get_*def` functions and `format_type` print is schema-qualified. Covers all user
//! schemas (not `pg_catalog`, `information_schema`, `pg_toast*`, `pg_temp*`) and skips objects
//! that belong to an extension. Owners and grants are read by [`crate::privileges`]; policies,
//! partitioning and inheritance links are not reproduced: partitions / inheritance children are
//! restored as plain tables (with a warning each). What is left out (range types, foreign
//! tables, partitioned parents, aggregate and window functions) is listed in
//! [`SchemaDump::skipped`], and logged.

use std::collections::{BTreeMap, HashMap, HashSet};

use tandem_engine::{SchemaDump, Skipped, SkippedKind};
use tandem_error::{Error, Result};
use tokio_postgres::types::FromSql;
use tokio_postgres::{Client, Row};

use crate::{ident, literal, pg_err, pg_text, qname};

mod objects;
mod sequences;
mod tables;

/// `WHERE` fragment: the namespace aliased `n` is a user schema (not tandem's role schema either:
/// [`tandem_engine::role`]).
pub(crate) const USER_NS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' AND n.nspname <> 'tandem_role'";

/// `WHERE` fragment: object `oid` of catalog `cat` is not a member of an extension.
pub(crate) fn not_ext(cat: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = 'pg_catalog.{cat}'::pg_catalog.regclass \
         AND x.objid = {oid} AND x.deptype = 'e')"
    )
}

pub(super) fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
    row.try_get(i).map_err(|e| Error::internal(format!("reading the PostgreSQL catalog: {}", pg_text(&e))))
}

pub(super) async fn query(client: &Client, what: &str, sql: &str) -> Result<Vec<Row>> {
    client.query(sql, &[]).await.map_err(|e| pg_err(format!("reading {what} from the catalog"), e))
}

pub(super) struct Col {
    pub(super) name: String,
    pub(super) ty: String,
    pub(super) notnull: bool,
    pub(super) default: Option<String>,
    pub(super) identity: String,
    pub(super) generated: String,
    pub(super) collation: Option<String>,
}

pub(super) struct Table {
    pub(super) oid: i64,
    pub(super) schema: String,
    pub(super) name: String,
    pub(super) unlogged: bool,
    pub(super) options: Option<String>,
    pub(super) columns: Vec<Col>,
    pub(super) pk: Vec<String>,
}

pub(super) struct Seq {
    pub(super) oid: i64,
    pub(super) schema: String,
    pub(super) name: String,
    pub(super) ty: String,
    pub(super) start: i64,
    pub(super) inc: i64,
    pub(super) max: i64,
    pub(super) min: i64,
    pub(super) cache: i64,
    pub(super) cycle: bool,
    /// `a` (serial: OWNED BY) or `i` (identity), with the owning table oid and column.
    pub(super) owner: Option<(String, i64, String)>,
}

impl Seq {
    pub(super) fn options(&self) -> String {
        format!(
            "INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}",
            self.inc,
            self.min,
            self.max,
            self.start,
            self.cache,
            if self.cycle { "CYCLE" } else { "NO CYCLE" }
        )
    }
}

/// What [`read_schema`] gathers, in the order its statements run: `pre` before the load,
/// `post` after it, and the objects another engine cannot recreate.
pub(super) struct Reader<'c> {
    pub(super) client: &'c Client,
    /// `server_version_num`.
    pub(super) version: i32,
    pub(super) pre: Vec<String>,
    pub(super) post: Vec<String>,
    pub(super) untranslatable: Vec<String>,
    /// What the backup leaves out.
    pub(super) skipped: Vec<Skipped>,
    /// The tables to copy, locked; `table_idx` finds one by oid.
    pub(super) tables: Vec<Table>,
    pub(super) table_idx: HashMap<i64, usize>,
    pub(super) seqs: Vec<Seq>,
}

/// Lists the user tables (relkind `r`) to copy and takes `ACCESS SHARE` locks on them, then
/// reads the rest of the schema. `version` is `server_version_num` (PostgreSQL 10 or newer).
pub(crate) async fn read_schema(client: &Client, version: i32) -> Result<SchemaDump> {
    let (charset, collation) = objects::database_defaults(client).await?;
    // Tables first, so that they can be locked before anything else is read.
    let mut skipped = Vec::new();
    let tables = tables::lock_tables(client, &mut skipped).await?;
    let table_idx = tables.iter().enumerate().map(|(i, t)| (t.oid, i)).collect();
    let mut r = Reader { client, version, pre: Vec::new(), post: Vec::new(), untranslatable: Vec::new(), skipped, tables, table_idx, seqs: Vec::new() };
    r.schemas_and_extensions().await?;
    types(client, &mut r.pre, &mut r.skipped).await?;
    let identity_seq = r.sequences().await?;
    let late_functions = r.functions().await?;
    r.columns().await?;
    r.primary_keys().await?;
    r.create_tables(&identity_seq);
    r.pre.extend(late_functions);
    r.sequence_owners();
    let mut view_indexes = r.constraints_and_indexes().await?;
    r.sequence_values().await?;
    let views = views(client, &mut r.post, &mut view_indexes).await?;
    r.untranslatable.extend(views.values().map(|(kind, name)| format!("{} {name}", kind.to_lowercase())));
    r.triggers(&views).await?;
    r.comments(&views).await?;
    let Reader { pre, post, untranslatable, skipped, tables, .. } = r;
    let tables = tables::table_defs(client, tables).await?;
    let privileges = crate::privileges::read(client).await?;
    Ok(SchemaDump { pre_data: pre, post_data: post, tables, charset, collation, untranslatable, privileges, skipped })
}

/// Records an object the backup leaves out, and logs it.
pub(super) fn skip(skipped: &mut Vec<Skipped>, item: Skipped) {
    tracing::warn!("skipped {item}");
    skipped.push(item);
}

/// Enum, domain and composite types (in that order); range types are skipped.
async fn types(client: &Client, pre: &mut Vec<String>, skipped: &mut Vec<Skipped>) -> Result<()> {
    let rows = query(
        client,
        "types",
        &format!(
            "SELECT t.oid::int8, n.nspname::text, t.typname::text, t.typtype::text, \
                pg_catalog.format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault, \
                CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation \
                     THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) END, \
                t.typrelid::int8 \
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype \
         LEFT JOIN pg_catalog.pg_collation co ON co.oid = t.typcollation \
         LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
         WHERE {USER_NS} AND {} AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND \
               (SELECT r.relkind FROM pg_catalog.pg_class r WHERE r.oid = t.typrelid) = 'c')) \
         ORDER BY t.oid",
            not_ext("pg_type", "t.oid")
        ),
    )
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut labels: HashMap<i64, Vec<String>> = HashMap::new();
    for r in &query(client, "enum labels", "SELECT enumtypid::int8, enumlabel::text FROM pg_catalog.pg_enum ORDER BY enumtypid, enumsortorder").await? {
        labels.entry(get(r, 0)?).or_default().push(literal(&get::<String>(r, 1)?));
    }
    let mut checks: HashMap<i64, Vec<String>> = HashMap::new();
    for r in &query(
        client,
        "domain constraints",
        "SELECT contypid::int8, conname::text, pg_catalog.pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint \
         WHERE contypid <> 0 AND contype = 'c' ORDER BY contypid, conname",
    )
    .await?
    {
        checks.entry(get(r, 0)?).or_default().push(format!("CONSTRAINT {} {}", ident(&get::<String>(r, 1)?), get::<String>(r, 2)?));
    }
    let mut attrs: HashMap<i64, Vec<String>> = HashMap::new();
    for r in &query(
        client,
        "composite type attributes",
        "SELECT a.attrelid::int8, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod) \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         WHERE c.relkind = 'c' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum",
    )
    .await?
    {
        attrs.entry(get(r, 0)?).or_default().push(format!("{} {}", ident(&get::<String>(r, 1)?), get::<String>(r, 2)?));
    }
    let (mut enums, mut domains, mut composites) = (Vec::new(), Vec::new(), Vec::new());
    for r in &rows {
        let oid: i64 = get(r, 0)?;
        let (schema, typname): (String, String) = (get(r, 1)?, get(r, 2)?);
        let name = qname(&schema, &typname);
        match get::<String>(r, 3)?.as_str() {
            "e" => enums.push(format!("CREATE TYPE {name} AS ENUM ({})", labels.remove(&oid).unwrap_or_default().join(", "))),
            "d" => {
                let mut s = format!("CREATE DOMAIN {name} AS {}", get::<String>(r, 4)?);
                if let Some(c) = get::<Option<String>>(r, 7)? {
                    s.push_str(&format!(" COLLATE {c}"));
                }
                if let Some(d) = get::<Option<String>>(r, 6)? {
                    s.push_str(&format!(" DEFAULT {d}"));
                }
                if get::<bool>(r, 5)? {
                    s.push_str(" NOT NULL");
                }
                for c in checks.remove(&oid).unwrap_or_default() {
                    s.push(' ');
                    s.push_str(&c);
                }
                domains.push(s);
            }
            "c" => {
                let relid: i64 = get(r, 8)?;
                composites.push(format!("CREATE TYPE {name} AS ({})", attrs.remove(&relid).unwrap_or_default().join(", ")));
            }
            _ => skip(
                skipped,
                Skipped::new(SkippedKind::RangeType, format!("{schema}.{typname}"), "range types are not copied; columns of the type cannot be restored"),
            ),
        }
    }
    pre.extend(enums);
    pre.extend(domains);
    pre.extend(composites);
    Ok(())
}

/// Appends views and materialized views (with their indexes) in dependency order; returns oid →
/// (comment kind, qualified name) of each.
async fn views(client: &Client, post: &mut Vec<String>, view_indexes: &mut HashMap<i64, Vec<String>>) -> Result<HashMap<i64, (&'static str, String)>> {
    let rows = query(
        client,
        "views",
        &format!(
            "SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text, pg_catalog.pg_get_viewdef(c.oid), \
                pg_catalog.array_to_string(c.reloptions, ', '), c.relispopulated \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('v', 'm') AND {USER_NS} AND {} ORDER BY c.oid",
            not_ext("pg_class", "c.oid")
        ),
    )
    .await?;
    let mut out = HashMap::new();
    if rows.is_empty() {
        return Ok(out);
    }
    let mut defs: BTreeMap<i64, String> = BTreeMap::new();
    for r in &rows {
        let oid: i64 = get(r, 0)?;
        let name = qname(&get::<String>(r, 1)?, &get::<String>(r, 2)?);
        let matview = get::<String>(r, 3)? == "m";
        let body: String = get(r, 4)?;
        let body = body.trim().trim_end_matches(';');
        let opts = get::<Option<String>>(r, 5)?.filter(|s| !s.is_empty()).map(|o| format!(" WITH ({o})")).unwrap_or_default();
        let ddl = if matview {
            let data = if get::<bool>(r, 6)? { "WITH DATA" } else { "WITH NO DATA" };
            format!("CREATE MATERIALIZED VIEW {name}{opts} AS\n{body}\n{data}")
        } else {
            format!("CREATE VIEW {name}{opts} AS\n{body}")
        };
        defs.insert(oid, ddl);
        out.insert(oid, (if matview { "MATERIALIZED VIEW" } else { "VIEW" }, name));
    }
    // Dependencies between views, through their rewrite rules.
    let mut deps: HashMap<i64, HashSet<i64>> = HashMap::new();
    for r in &query(
        client,
        "view dependencies",
        "SELECT DISTINCT rw.ev_class::int8, d.refobjid::int8 FROM pg_catalog.pg_rewrite rw \
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = rw.oid \
         WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid <> rw.ev_class",
    )
    .await?
    {
        let (v, on): (i64, i64) = (get(r, 0)?, get(r, 1)?);
        if defs.contains_key(&v) && defs.contains_key(&on) {
            deps.entry(v).or_default().insert(on);
        }
    }
    // Repeatedly emit the lowest-oid view whose dependencies are all emitted.
    let mut done: HashSet<i64> = HashSet::new();
    while !defs.is_empty() {
        let next = defs.keys().copied().find(|v| deps.get(v).is_none_or(|d| d.iter().all(|x| done.contains(x)))).or_else(|| defs.keys().next().copied());
        let Some(v) = next else { break };
        if let Some(ddl) = defs.remove(&v) {
            post.push(ddl);
        }
        post.extend(view_indexes.remove(&v).unwrap_or_default());
        done.insert(v);
    }
    Ok(out)
}
