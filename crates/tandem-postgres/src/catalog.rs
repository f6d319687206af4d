//! Reading a database's schema from the PostgreSQL catalogs into a [`SchemaDump`].
//!
//! Contract: must run inside the snapshot transaction with `search_path = ''`, so that every
//! name the `pg_get_*def` functions and `format_type` print is schema-qualified. Covers all user
//! schemas (not `pg_catalog`, `information_schema`, `pg_toast*`, `pg_temp*`) and skips objects
//! that belong to an extension. Ownership, grants, policies, partitioning and inheritance links
//! are not reproduced: partitioned parents are skipped and partitions / inheritance children are
//! restored as plain tables (with a warning each).

use std::collections::{BTreeMap, HashMap, HashSet};

use tandem_engine::{ColumnDef, SchemaDump, TableDef};
use tandem_error::{Error, Result};
use tokio_postgres::types::FromSql;
use tokio_postgres::{Client, Row};

use crate::{ident, literal, pg_err, pg_text, qname};

/// `WHERE` fragment: the namespace aliased `n` is a user schema.
pub(crate) const USER_NS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

/// `WHERE` fragment: object `oid` of catalog `cat` is not a member of an extension.
pub(crate) fn not_ext(cat: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = 'pg_catalog.{cat}'::pg_catalog.regclass \
         AND x.objid = {oid} AND x.deptype = 'e')"
    )
}

fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
    row.try_get(i).map_err(|e| Error::internal(format!("reading the PostgreSQL catalog: {}", pg_text(&e))))
}

async fn query(client: &Client, what: &str, sql: &str) -> Result<Vec<Row>> {
    client.query(sql, &[]).await.map_err(|e| pg_err(format!("reading {what} from the catalog"), e))
}

struct Col {
    name: String,
    ty: String,
    notnull: bool,
    default: Option<String>,
    identity: String,
    generated: String,
    collation: Option<String>,
}

struct Table {
    oid: i64,
    schema: String,
    name: String,
    unlogged: bool,
    options: Option<String>,
    columns: Vec<Col>,
    pk: Vec<String>,
}

struct Seq {
    oid: i64,
    schema: String,
    name: String,
    ty: String,
    start: i64,
    inc: i64,
    max: i64,
    min: i64,
    cache: i64,
    cycle: bool,
    /// `a` (serial: OWNED BY) or `i` (identity), with the owning table oid and column.
    owner: Option<(String, i64, String)>,
}

impl Seq {
    fn options(&self) -> String {
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

/// Lists the user tables (relkind `r`) to copy and takes `ACCESS SHARE` locks on them, then
/// reads the rest of the schema. `version` is `server_version_num` (PostgreSQL 10 or newer).
pub(crate) async fn read_schema(client: &Client, version: i32) -> Result<SchemaDump> {
    let mut pre = Vec::new();
    let mut post = Vec::new();
    let mut untranslatable = Vec::new();

    // Database defaults.
    let db = query(client, "the database", "SELECT pg_catalog.pg_encoding_to_char(encoding)::text, datcollate::text \
         FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()").await?;
    let (charset, collation) = match db.first() {
        Some(r) => (Some(get::<String>(r, 0)?), Some(get::<String>(r, 1)?)),
        None => (None, None),
    };

    // Tables first, so that they can be locked before anything else is read.
    let rows = query(client, "tables", &format!(
        "SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text, c.relpersistence::text, \
                c.relispartition, EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid), \
                pg_catalog.array_to_string(c.reloptions, ', ') \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'f') AND {USER_NS} AND {} ORDER BY n.nspname, c.relname",
        not_ext("pg_class", "c.oid"))).await?;
    let mut tables: Vec<Table> = Vec::new();
    for r in &rows {
        let (schema, name, kind): (String, String, String) = (get(r, 1)?, get(r, 2)?, get(r, 3)?);
        let (is_partition, is_child): (bool, bool) = (get(r, 5)?, get(r, 6)?);
        if kind == "p" {
            tracing::warn!("table {schema}.{name} is partitioned: partitioning is not reproduced, its partitions are restored as plain tables");
            continue;
        }
        if kind == "f" {
            tracing::warn!("foreign table {schema}.{name} is skipped");
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
    let table_idx: HashMap<i64, usize> = tables.iter().enumerate().map(|(i, t)| (t.oid, i)).collect();

    // Schemas and extensions.
    for r in query(client, "schemas", &format!(
        "SELECT n.nspname::text FROM pg_catalog.pg_namespace n WHERE {USER_NS} AND {} ORDER BY n.nspname",
        not_ext("pg_namespace", "n.oid"))).await?
    {
        pre.push(format!("CREATE SCHEMA IF NOT EXISTS {}", ident(&get::<String>(&r, 0)?)));
    }
    for r in query(client, "extensions",
        "SELECT e.extname::text, n.nspname::text FROM pg_catalog.pg_extension e \
         JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql' ORDER BY e.oid").await?
    {
        pre.push(format!("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}", ident(&get::<String>(&r, 0)?), ident(&get::<String>(&r, 1)?)));
    }

    types(client, &mut pre).await?;

    // Sequences.
    let rows = query(client, "sequences", &format!(
        "SELECT c.oid::int8, n.nspname::text, c.relname::text, pg_catalog.format_type(s.seqtypid, NULL), \
                s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle, \
                d.deptype::text, d.refobjid::int8, a.attname::text \
         FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid \
              AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i') \
         LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
         WHERE {USER_NS} AND {} ORDER BY n.nspname, c.relname",
        not_ext("pg_class", "c.oid"))).await?;
    let mut seqs = Vec::new();
    for r in &rows {
        let deptype: Option<String> = get(r, 10)?;
        let owner_oid: Option<i64> = get(r, 11)?;
        let owner_col: Option<String> = get(r, 12)?;
        let owner = match (deptype, owner_oid, owner_col) {
            (Some(d), Some(o), Some(c)) if table_idx.contains_key(&o) => Some((d, o, c)),
            _ => None,
        };
        seqs.push(Seq {
            oid: get(r, 0)?,
            schema: get(r, 1)?,
            name: get(r, 2)?,
            ty: get(r, 3)?,
            start: get(r, 4)?,
            inc: get(r, 5)?,
            max: get(r, 6)?,
            min: get(r, 7)?,
            cache: get(r, 8)?,
            cycle: get(r, 9)?,
            owner,
        });
    }
    let mut identity_seq: HashMap<(i64, String), usize> = HashMap::new();
    for (i, s) in seqs.iter().enumerate() {
        match &s.owner {
            Some((d, t, c)) if d == "i" => {
                identity_seq.insert((*t, c.clone()), i);
            }
            _ => {
                if s.owner.is_none() {
                    untranslatable.push(format!("sequence {}.{}", s.schema, s.name));
                }
                pre.push(format!("CREATE SEQUENCE {} AS {} {}", qname(&s.schema, &s.name), s.ty, s.options()))
            }
        }
    }

    // Functions and procedures; those whose signature uses a table's row type come after tables.
    let rows = query(client, "functions", &format!(
        "SELECT n.nspname::text, p.proname::text, p.prokind::text, \
                CASE WHEN p.prokind IN ('f', 'p') THEN pg_catalog.pg_get_functiondef(p.oid) END, \
                EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_class r ON r.oid = t.typrelid \
                        WHERE r.relkind <> 'c' AND (t.oid = p.prorettype OR t.oid = ANY (p.proargtypes::oid[]) \
                              OR t.oid = ANY (COALESCE(p.proallargtypes, '{{}}'::oid[])))) \
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE {USER_NS} AND {} ORDER BY p.oid",
        not_ext("pg_proc", "p.oid"))).await?;
    let mut late_functions = Vec::new();
    for r in &rows {
        let (schema, name, kind): (String, String, String) = (get(r, 0)?, get(r, 1)?, get(r, 2)?);
        let Some(def) = get::<Option<String>>(r, 3)? else {
            tracing::warn!("function {schema}.{name} (kind {kind}: aggregate or window function) is skipped");
            continue;
        };
        untranslatable.push(format!("function {schema}.{name}"));
        if get::<bool>(r, 4)? {
            late_functions.push(def);
        } else {
            pre.push(def);
        }
    }

    // Columns.
    let generated = if version >= 120000 { "a.attgenerated::text" } else { "''::text" };
    let rows = query(client, "columns", &format!(
        "SELECT a.attrelid::int8, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, {generated}, \
                CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation \
                     THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) END \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation \
         LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
         WHERE c.relkind = 'r' AND {USER_NS} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum")).await?;
    for r in &rows {
        let oid: i64 = get(r, 0)?;
        let Some(&i) = table_idx.get(&oid) else { continue };
        tables[i].columns.push(Col {
            name: get(r, 1)?,
            ty: get(r, 2)?,
            notnull: get(r, 3)?,
            default: get(r, 4)?,
            identity: get(r, 5)?,
            generated: get(r, 6)?,
            collation: get(r, 7)?,
        });
    }
    for r in &query(client, "primary keys",
        "SELECT con.conrelid::int8, a.attname::text FROM pg_catalog.pg_constraint con \
         CROSS JOIN LATERAL pg_catalog.unnest(con.conkey) WITH ORDINALITY k(attnum, ord) \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum \
         WHERE con.contype = 'p' ORDER BY con.conrelid, k.ord").await?
    {
        if let Some(&i) = table_idx.get(&get::<i64>(r, 0)?) {
            tables[i].pk.push(get(r, 1)?);
        }
    }

    // CREATE TABLE.
    for t in &tables {
        let mut cols = Vec::new();
        for c in &t.columns {
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
                    let q = &seqs[si];
                    s.push_str(&format!(" (SEQUENCE NAME {} {})", qname(&q.schema, &q.name), q.options()));
                }
            }
            if c.notnull {
                s.push_str(" NOT NULL");
            }
            cols.push(s);
        }
        let mut ddl = format!(
            "CREATE {}TABLE {} (\n    {}\n)",
            if t.unlogged { "UNLOGGED " } else { "" },
            qname(&t.schema, &t.name),
            cols.join(",\n    ")
        );
        if let Some(o) = &t.options {
            ddl.push_str(&format!(" WITH ({o})"));
        }
        pre.push(ddl);
    }
    pre.extend(late_functions);
    for s in &seqs {
        if let Some((d, t, c)) = &s.owner {
            if d == "a" {
                let tb = &tables[table_idx[t]];
                pre.push(format!("ALTER SEQUENCE {} OWNED BY {}.{}", qname(&s.schema, &s.name), qname(&tb.schema, &tb.name), ident(c)));
            }
        }
    }

    // Constraints: keys first, then checks, then (after indexes) foreign keys.
    let rows = query(client, "constraints",
        "SELECT con.conrelid::int8, con.conname::text, con.contype::text, pg_catalog.pg_get_constraintdef(con.oid) \
         FROM pg_catalog.pg_constraint con WHERE con.conrelid <> 0 AND con.contype IN ('p', 'u', 'x', 'c', 'f') \
         ORDER BY con.conrelid, con.conname").await?;
    let mut by_kind: BTreeMap<u8, Vec<String>> = BTreeMap::new();
    for r in &rows {
        let Some(&i) = table_idx.get(&get::<i64>(r, 0)?) else { continue };
        let (name, kind, def): (String, String, String) = (get(r, 1)?, get(r, 2)?, get(r, 3)?);
        let rank = match kind.as_str() {
            "p" => 0,
            "u" | "x" => 1,
            "c" => 2,
            _ => 4,
        };
        let t = &tables[i];
        by_kind.entry(rank).or_default().push(format!("ALTER TABLE ONLY {} ADD CONSTRAINT {} {def}", qname(&t.schema, &t.name), ident(&name)));
    }

    // Indexes that do not back a constraint (on tables now, on materialized views after them).
    let rows = query(client, "indexes",
        "SELECT i.indrelid::int8, pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i \
         JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
         WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid \
                           AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')) \
         ORDER BY i.indrelid, ic.relname").await?;
    let mut view_indexes: HashMap<i64, Vec<String>> = HashMap::new();
    for r in &rows {
        let oid: i64 = get(r, 0)?;
        let def: String = get(r, 1)?;
        if table_idx.contains_key(&oid) {
            by_kind.entry(3).or_default().push(def);
        } else {
            view_indexes.entry(oid).or_default().push(def);
        }
    }
    for (_, stmts) in by_kind {
        post.extend(stmts);
    }

    // Sequence values: past both the source's value and the owning column's maximum.
    for s in &seqs {
        let seq = literal(&qname(&s.schema, &s.name));
        let r = query(client, "sequence values", &format!("SELECT last_value, is_called FROM {}", qname(&s.schema, &s.name))).await?;
        let Some(r) = r.first() else { continue };
        let (last, called): (i64, bool) = (get(r, 0)?, get(r, 1)?);
        let setval = format!("pg_catalog.setval({seq}::pg_catalog.regclass, {last}, {called})");
        match &s.owner {
            Some((_, t, c)) if s.inc > 0 => {
                let tb = &tables[table_idx[t]];
                post.push(format!(
                    "SELECT CASE WHEN m IS NOT NULL AND m >= {last} \
                     THEN pg_catalog.setval({seq}::pg_catalog.regclass, LEAST(m, {}), true) ELSE {setval} END \
                     FROM (SELECT pg_catalog.max({})::int8 AS m FROM ONLY {}) s",
                    s.max,
                    ident(c),
                    qname(&tb.schema, &tb.name)
                ));
            }
            _ => post.push(format!("SELECT {setval}")),
        }
    }

    let views = views(client, &mut post, &mut view_indexes).await?;
    untranslatable.extend(views.values().map(|(kind, name)| format!("{} {name}", kind.to_lowercase())));

    // Triggers on the tables and views restored.
    let parent = if version >= 130000 { "AND t.tgparentid = 0" } else { "" };
    let rows = query(client, "triggers", &format!(
        "SELECT t.tgrelid::int8, pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled::text, t.tgname::text \
         FROM pg_catalog.pg_trigger t WHERE NOT t.tgisinternal {parent} ORDER BY t.tgrelid, t.tgname")).await?;
    let rel_name = |oid: i64| -> Option<String> {
        table_idx.get(&oid).map(|&i| qname(&tables[i].schema, &tables[i].name)).or_else(|| views.get(&oid).map(|v| v.1.clone()))
    };
    for r in &rows {
        let Some(rel) = rel_name(get(r, 0)?) else { continue };
        untranslatable.push(format!("trigger {} on {rel}", get::<String>(r, 3)?));
        post.push(get(r, 1)?);
        let enabled: String = get(r, 2)?;
        if enabled == "D" {
            post.push(format!("ALTER TABLE {rel} DISABLE TRIGGER {}", ident(&get::<String>(r, 3)?)));
        }
    }

    // Comments on tables, views, sequences and their columns.
    let rows = query(client, "comments",
        "SELECT d.objoid::int8, a.attname::text, d.description FROM pg_catalog.pg_description d \
         LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.objoid AND a.attnum = d.objsubid \
         WHERE d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass ORDER BY d.objoid, d.objsubid").await?;
    let seq_names: HashMap<i64, String> = seqs.iter().map(|s| (s.oid, qname(&s.schema, &s.name))).collect();
    for r in &rows {
        let oid: i64 = get(r, 0)?;
        let (col, text): (Option<String>, String) = (get(r, 1)?, get(r, 2)?);
        let (kind, name) = if let Some(&i) = table_idx.get(&oid) {
            ("TABLE", qname(&tables[i].schema, &tables[i].name))
        } else if let Some(v) = views.get(&oid) {
            (v.0, v.1.clone())
        } else if let Some(s) = seq_names.get(&oid) {
            ("SEQUENCE", s.clone())
        } else {
            continue;
        };
        match col {
            Some(c) => post.push(format!("COMMENT ON COLUMN {name}.{} IS {}", ident(&c), literal(&text))),
            None => post.push(format!("COMMENT ON {kind} {name} IS {}", literal(&text))),
        }
    }

    let mut tables: Vec<TableDef> = tables
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
    crate::keys::read_keys(client, &mut tables).await?;
    Ok(SchemaDump { pre_data: pre, post_data: post, tables, charset, collation, untranslatable })
}

/// Enum, domain and composite types (in that order); range types are skipped with a warning.
async fn types(client: &Client, pre: &mut Vec<String>) -> Result<()> {
    let rows = query(client, "types", &format!(
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
        not_ext("pg_type", "t.oid"))).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut labels: HashMap<i64, Vec<String>> = HashMap::new();
    for r in &query(client, "enum labels", "SELECT enumtypid::int8, enumlabel::text FROM pg_catalog.pg_enum ORDER BY enumtypid, enumsortorder").await? {
        labels.entry(get(r, 0)?).or_default().push(literal(&get::<String>(r, 1)?));
    }
    let mut checks: HashMap<i64, Vec<String>> = HashMap::new();
    for r in &query(client, "domain constraints",
        "SELECT contypid::int8, conname::text, pg_catalog.pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint \
         WHERE contypid <> 0 AND contype = 'c' ORDER BY contypid, conname").await?
    {
        checks.entry(get(r, 0)?).or_default().push(format!("CONSTRAINT {} {}", ident(&get::<String>(r, 1)?), get::<String>(r, 2)?));
    }
    let mut attrs: HashMap<i64, Vec<String>> = HashMap::new();
    for r in &query(client, "composite type attributes",
        "SELECT a.attrelid::int8, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod) \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         WHERE c.relkind = 'c' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum").await?
    {
        attrs.entry(get(r, 0)?).or_default().push(format!("{} {}", ident(&get::<String>(r, 1)?), get::<String>(r, 2)?));
    }
    let (mut enums, mut domains, mut composites) = (Vec::new(), Vec::new(), Vec::new());
    for r in &rows {
        let oid: i64 = get(r, 0)?;
        let name = qname(&get::<String>(r, 1)?, &get::<String>(r, 2)?);
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
            _ => tracing::warn!("range type {name} is skipped"),
        }
    }
    pre.extend(enums);
    pre.extend(domains);
    pre.extend(composites);
    Ok(())
}

/// Appends views and materialized views (with their indexes) in dependency order; returns oid →
/// (comment kind, qualified name) of each.
async fn views(
    client: &Client,
    post: &mut Vec<String>,
    view_indexes: &mut HashMap<i64, Vec<String>>,
) -> Result<HashMap<i64, (&'static str, String)>> {
    let rows = query(client, "views", &format!(
        "SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text, pg_catalog.pg_get_viewdef(c.oid), \
                pg_catalog.array_to_string(c.reloptions, ', '), c.relispopulated \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('v', 'm') AND {USER_NS} AND {} ORDER BY c.oid",
        not_ext("pg_class", "c.oid"))).await?;
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
    for r in &query(client, "view dependencies",
        "SELECT DISTINCT rw.ev_class::int8, d.refobjid::int8 FROM pg_catalog.pg_rewrite rw \
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = rw.oid \
         WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid <> rw.ev_class").await?
    {
        let (v, on): (i64, i64) = (get(r, 0)?, get(r, 1)?);
        if defs.contains_key(&v) && defs.contains_key(&on) {
            deps.entry(v).or_default().insert(on);
        }
    }
    // Repeatedly emit the lowest-oid view whose dependencies are all emitted.
    let mut done: HashSet<i64> = HashSet::new();
    while !defs.is_empty() {
        let next = defs
            .keys()
            .copied()
            .find(|v| deps.get(v).is_none_or(|d| d.iter().all(|x| done.contains(x))))
            .or_else(|| defs.keys().next().copied());
        let Some(v) = next else { break };
        if let Some(ddl) = defs.remove(&v) {
            post.push(ddl);
        }
        post.extend(view_indexes.remove(&v).unwrap_or_default());
        done.insert(v);
    }
    Ok(out)
}
