//! Reading a database's schema into a [`SchemaDump`], and the per-column expressions used to read
//! and load values faithfully.
//!
//! `pre_data` holds `SHOW CREATE TABLE` output verbatim (AUTO_INCREMENT, charsets, indexes and
//! foreign keys included: loads run with `foreign_key_checks = 0`). `post_data` holds the views
//! (dependencies first) and then the triggers, without `DEFINER` clauses and without
//! qualification by the source database name, so they can be created in a database of another
//! name by another user.

use std::collections::{BTreeMap, HashMap, HashSet};

use mysql_async::Conn;
use tandem_engine::{ColumnDef, SchemaDump, Skipped, SkippedKind, TableDef};
use tandem_error::{Error, Result, ResultExt};

use crate::{field, lit, q, query_strings};

/// Reads the schema of database `db` on `conn` (which should be inside the snapshot's
/// transaction). Errors with [`Kind::Unsupported`](tandem_error::Kind::Unsupported) on table
/// kinds whose content cannot be copied faithfully (sequences, system-versioned tables).
pub(crate) async fn read_schema(conn: &mut Conn, db: &str) -> Result<SchemaDump> {
    let mut dump = SchemaDump::default();
    (dump.charset, dump.collation) = database_defaults(conn, db).await?;
    let (tables, views) = relations(conn, db).await?;
    let mut columns = columns(conn, db).await?;
    let mut pks = primary_keys(conn, db).await?;
    for t in &tables {
        dump.pre_data.push(show_create(conn, "TABLE", t, 1).await?);
        dump.tables.push(TableDef {
            schema: None,
            name: t.clone(),
            columns: columns.remove(t).unwrap_or_default(),
            primary_key: pks.remove(t).unwrap_or_default(),
            ..Default::default()
        });
    }
    let mut view_ddl = BTreeMap::new();
    for v in &views {
        view_ddl.insert(v.clone(), unqualify(&strip_definer(&show_create(conn, "VIEW", v, 1).await?), db));
    }
    dump.post_data.extend(order_views(&view_ddl));
    dump.untranslatable.extend(views.iter().map(|v| format!("view {v}")));
    for name in triggers(conn, db).await? {
        dump.post_data.push(unqualify(&strip_definer(&show_create(conn, "TRIGGER", &name, 2).await?), db));
        dump.untranslatable.push(format!("trigger {name}"));
    }
    crate::keys::read_keys(conn, db, &mut dump.tables).await?;
    dump.skipped = uncopied_objects(conn, db).await?;
    Ok(dump)
}

/// The database's default character set and collation.
async fn database_defaults(conn: &mut Conn, db: &str) -> Result<(Option<String>, Option<String>)> {
    let sql = format!("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}", lit(db));
    let rows = query_strings(conn, &sql).await?;
    Ok(match rows.first() {
        Some(r) => (r.first().cloned().flatten(), r.get(1).cloned().flatten()),
        None => (None, None),
    })
}

/// The base tables and the views, each by name; Unsupported for any other kind of relation.
async fn relations(conn: &mut Conn, db: &str) -> Result<(Vec<String>, Vec<String>)> {
    let sql = format!("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} ORDER BY TABLE_NAME", lit(db));
    let (mut tables, mut views) = (Vec::new(), Vec::new());
    for r in &query_strings(conn, &sql).await? {
        let (name, kind) = (field(r, 0), field(r, 1));
        match kind.as_str() {
            "BASE TABLE" => tables.push(name),
            "VIEW" => views.push(name),
            other => return Err(Error::unsupported(format!("table {name}: relations of type {other} cannot be copied faithfully by tandem"))),
        }
    }
    Ok((tables, views))
}

/// The copied columns of every table in column order (generated columns are not copied).
async fn columns(conn: &mut Conn, db: &str) -> Result<HashMap<String, Vec<ColumnDef>>> {
    let sql = format!(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, EXTRA, CHARACTER_SET_NAME, COLUMN_DEFAULT \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} ORDER BY TABLE_NAME, ORDINAL_POSITION",
        lit(db)
    );
    let mut columns: HashMap<String, Vec<ColumnDef>> = HashMap::new();
    for r in query_strings(conn, &sql).await? {
        let extra = field(&r, 4).to_ascii_uppercase();
        if extra.contains("VIRTUAL GENERATED") || extra.contains("STORED GENERATED") || extra.contains("PERSISTENT GENERATED") {
            continue;
        }
        columns.entry(field(&r, 0)).or_default().push(ColumnDef {
            name: field(&r, 1),
            sql_type: field(&r, 2),
            nullable: field(&r, 3) == "YES",
            charset: r.get(5).cloned().flatten(),
            default: r.get(6).cloned().flatten(),
            auto_increment: extra.contains("AUTO_INCREMENT"),
        });
    }
    Ok(columns)
}

/// The primary key columns of every table, in key order.
async fn primary_keys(conn: &mut Conn, db: &str) -> Result<HashMap<String, Vec<String>>> {
    let sql = format!(
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
         WHERE TABLE_SCHEMA = {} AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY TABLE_NAME, ORDINAL_POSITION",
        lit(db)
    );
    let mut pks: HashMap<String, Vec<String>> = HashMap::new();
    for r in query_strings(conn, &sql).await? {
        pks.entry(field(&r, 0)).or_default().push(field(&r, 1));
    }
    Ok(pks)
}

/// The trigger names, in the order they fire per table.
async fn triggers(conn: &mut Conn, db: &str) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {} \
         ORDER BY EVENT_OBJECT_TABLE, EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER",
        lit(db)
    );
    Ok(query_strings(conn, &sql).await?.iter().map(|r| field(r, 0)).collect())
}

/// The statement `SHOW CREATE {kind} name` prints (in column `column` of its one row).
async fn show_create(conn: &mut Conn, kind: &str, name: &str, column: usize) -> Result<String> {
    let what = format!("{} {name}", kind.to_ascii_lowercase());
    let rows = query_strings(conn, &format!("SHOW CREATE {kind} {}", q(name))).await.with_context(|| what.clone())?;
    let ddl = rows.first().map(|r| field(r, column)).filter(|s| !s.is_empty());
    ddl.ok_or_else(|| Error::internal(format!("{what}: SHOW CREATE {kind} returned nothing")))
}

/// What a backup does not copy: stored functions and procedures, and events (each logged).
async fn uncopied_objects(conn: &mut Conn, db: &str) -> Result<Vec<Skipped>> {
    let routines =
        format!("SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {} ORDER BY ROUTINE_NAME, ROUTINE_TYPE", lit(db));
    let mut skipped = Vec::new();
    for r in query_strings(conn, &routines).await? {
        let kind = match field(&r, 0).to_ascii_uppercase().as_str() {
            "PROCEDURE" => SkippedKind::Procedure,
            "FUNCTION" => SkippedKind::Function,
            _ => SkippedKind::Other,
        };
        skipped.push(Skipped::new(kind, field(&r, 1), "stored routines are not copied"));
    }
    let events = format!("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {} ORDER BY EVENT_NAME", lit(db));
    for r in query_strings(conn, &events).await? {
        skipped.push(Skipped::new(SkippedKind::Event, field(&r, 0), "events are not copied"));
    }
    for s in &skipped {
        tracing::warn!(database = db, "skipped {s}");
    }
    Ok(skipped)
}

/// Removes the `DEFINER=user@host` clause from the header of a `CREATE VIEW/TRIGGER` statement,
/// so the object is owned by whoever restores it.
pub(crate) fn strip_definer(sql: &str) -> String {
    let Some(start) = sql.find("DEFINER=") else { return sql.to_string() };
    // Only in the header, before the body.
    let header_end = ["VIEW", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"].iter().filter_map(|k| sql.find(k)).min();
    if header_end.is_some_and(|e| e < start) {
        return sql.to_string();
    }
    let bytes = sql.as_bytes();
    let mut i = start + "DEFINER=".len();
    i = skip_name(bytes, i);
    if bytes.get(i) == Some(&b'@') {
        i = skip_name(bytes, i + 1);
    }
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    let mut out = String::with_capacity(sql.len());
    out.push_str(sql[..start].trim_end());
    out.push(' ');
    out.push_str(&sql[i..]);
    out
}

/// Skips one user or host name (backtick- or quote-delimited, or bare) starting at `i`.
fn skip_name(b: &[u8], mut i: usize) -> usize {
    match b.get(i) {
        Some(&d @ (b'`' | b'\'' | b'"')) => {
            i += 1;
            while i < b.len() {
                if b[i] == d {
                    if b.get(i + 1) == Some(&d) {
                        i += 2;
                        continue;
                    }
                    return i + 1;
                }
                i += 1;
            }
            i
        }
        _ => {
            while i < b.len() && !matches!(b[i], b'@' | b' ' | b'\n' | b'\t') {
                i += 1;
            }
            i
        }
    }
}

/// Removes qualification by the source database name (`` `db`. ``) so the statement refers to
/// objects of whatever database it runs in.
pub(crate) fn unqualify(sql: &str, db: &str) -> String {
    sql.replace(&format!("{}.", q(db)), "")
}

/// Orders view definitions so a view comes after every view it mentions.
fn order_views(views: &BTreeMap<String, String>) -> Vec<String> {
    fn visit<'a>(name: &'a str, views: &'a BTreeMap<String, String>, done: &mut HashSet<&'a str>, active: &mut HashSet<&'a str>, out: &mut Vec<String>) {
        if done.contains(name) || !active.insert(name) {
            return;
        }
        let ddl = &views[name];
        // The body starts after ` AS `; the view's own name appears in the header.
        let body = ddl.find(" AS ").map(|i| &ddl[i..]).unwrap_or(ddl);
        for other in views.keys() {
            if other != name && body.contains(&q(other)) {
                visit(other, views, done, active, out);
            }
        }
        active.remove(name);
        done.insert(name);
        out.push(ddl.clone());
    }
    let mut out = Vec::new();
    let (mut done, mut active) = (HashSet::new(), HashSet::new());
    for name in views.keys() {
        visit(name, views, &mut done, &mut active, &mut out);
    }
    out
}

/// How one column's value is read by `copy_out` and loaded back by `copy_in`, so that the text
/// form round-trips exactly.
pub(crate) enum ColumnCodec {
    /// The server's text form is the stored value (BIT comes as its raw bytes, which LOAD DATA
    /// stores back as they are).
    Plain,
    /// FLOAT: MariaDB prints only 6 significant digits; read as a double (`c + 0e0`), which is
    /// exact and converts back to the same float.
    Float,
    /// MySQL's native JSON: loaded with `CONVERT(@v USING utf8mb4)` (binary strings are refused).
    Json,
}

impl ColumnCodec {
    pub fn of(col: &ColumnDef) -> ColumnCodec {
        let t = col.sql_type.trim().to_ascii_lowercase();
        if t.starts_with("float") {
            ColumnCodec::Float
        } else if t == "json" {
            ColumnCodec::Json
        } else {
            ColumnCodec::Plain
        }
    }

    /// The expression in the `SELECT` list of `copy_out`.
    pub fn select_expr(&self, col: &str) -> String {
        match self {
            ColumnCodec::Float => format!("({} + 0e0)", q(col)),
            ColumnCodec::Plain | ColumnCodec::Json => q(col),
        }
    }

    /// The expression assigned to the column from the user variable `var` holding its field.
    pub fn load_expr(&self, var: &str) -> String {
        match self {
            ColumnCodec::Plain | ColumnCodec::Float => var.to_string(),
            ColumnCodec::Json => format!("CONVERT({var} USING utf8mb4)"),
        }
    }

    /// Whether the field cannot be loaded into the column directly.
    pub fn needs_set(&self) -> bool {
        matches!(self, ColumnCodec::Json)
    }
}

/// The `SELECT` statement `copy_out` runs for `table` (primary-key order when it has one).
pub(crate) fn select_sql(table: &TableDef) -> String {
    let cols: Vec<String> = table.columns.iter().map(|c| ColumnCodec::of(c).select_expr(&c.name)).collect();
    let mut sql = format!("SELECT {} FROM {}", cols.join(", "), q(&table.name));
    if !table.primary_key.is_empty() {
        let pk: Vec<String> = table.primary_key.iter().map(|c| q(c)).collect();
        sql.push_str(" ORDER BY ");
        sql.push_str(&pk.join(", "));
    }
    sql
}

/// The `LOAD DATA LOCAL INFILE` statement `copy_in` runs for `table`.
///
/// When any column needs a `SET` expression, every column goes through a user variable: MariaDB
/// ignores `NO_AUTO_VALUE_ON_ZERO` for columns loaded directly by a `LOAD DATA` that has a `SET`
/// clause (an AUTO_INCREMENT 0 would be renumbered).
pub(crate) fn load_sql(table: &TableDef) -> String {
    let codecs: Vec<ColumnCodec> = table.columns.iter().map(ColumnCodec::of).collect();
    let via_vars = codecs.iter().any(ColumnCodec::needs_set);
    let mut targets = Vec::with_capacity(table.columns.len());
    let mut sets = Vec::new();
    for (i, (c, codec)) in table.columns.iter().zip(&codecs).enumerate() {
        if via_vars {
            let var = format!("@tandem_v{i}");
            sets.push(format!("{} = {}", q(&c.name), codec.load_expr(&var)));
            targets.push(var);
        } else {
            targets.push(q(&c.name));
        }
    }
    let mut sql = format!(
        "LOAD DATA LOCAL INFILE 'tandem-stream' INTO TABLE {} CHARACTER SET binary \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        q(&table.name),
        targets.join(", ")
    );
    if !sets.is_empty() {
        sql.push_str(" SET ");
        sql.push_str(&sets.join(", "));
    }
    sql
}

/// A `CREATE TABLE` statement split for a faster load (what myloader does): the table with its
/// PRIMARY KEY only, loaded, then the secondary indexes and foreign keys added back by one
/// `ALTER TABLE` each (InnoDB builds an added index by sorting, far cheaper than maintaining it
/// row by row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeferredDdl {
    /// The table's name (unquoted).
    pub table: String,
    /// `CREATE TABLE` without the deferred lines.
    pub create: String,
    /// `ADD KEY ...`, `ADD UNIQUE KEY ...`, `ADD SPATIAL KEY ...` in their original order.
    pub indexes: Vec<String>,
    /// `ADD CONSTRAINT ... FOREIGN KEY ...` in their original order.
    pub foreign_keys: Vec<String>,
}

impl DeferredDdl {
    /// The statement adding the deferred indexes back, if any.
    pub fn index_sql(&self) -> Option<String> {
        (!self.indexes.is_empty()).then(|| format!("ALTER TABLE {} {}", q(&self.table), self.indexes.join(", ")))
    }

    /// The statement adding the deferred foreign keys back (run with `foreign_key_checks = 0`,
    /// after every table's indexes are in place), if any.
    pub fn foreign_key_sql(&self) -> Option<String> {
        (!self.foreign_keys.is_empty()).then(|| format!("ALTER TABLE {} {}", q(&self.table), self.foreign_keys.join(", ")))
    }
}

/// Splits `SHOW CREATE TABLE` output (one column, index or constraint a line) into a
/// [`DeferredDdl`]. `None` leaves the statement as it is: not a plain InnoDB table with a PRIMARY
/// KEY (without one, InnoDB clusters on the first NOT NULL UNIQUE key, which must exist from the
/// start), partitioned, a line of unexpected form, or nothing to defer. FULLTEXT indexes and CHECK
/// constraints stay in the `CREATE TABLE` (the server lists FULLTEXT indexes last anyway).
pub(crate) fn defer_indexes(ddl: &str) -> Option<DeferredDdl> {
    let mut lines = ddl.split('\n');
    let first = lines.next()?;
    let name = first.strip_prefix("CREATE TABLE `")?.strip_suffix("` (")?;
    if name.contains('`') && !name.contains("``") {
        return None;
    }
    let table = name.replace("``", "`");
    let mut kept = Vec::new();
    let (mut indexes, mut foreign_keys) = (Vec::new(), Vec::new());
    let mut has_pk = false;
    let mut tail = Vec::new();
    for line in lines.by_ref() {
        if line.starts_with(')') {
            tail.push(line);
            break;
        }
        let item = line.strip_suffix(',').unwrap_or(line);
        if item.starts_with("  `") || item.starts_with("  FULLTEXT KEY ") {
            kept.push(item);
        } else if item.starts_with("  PRIMARY KEY ") {
            has_pk = true;
            kept.push(item);
        } else if item.starts_with("  KEY ") || item.starts_with("  UNIQUE KEY ") || item.starts_with("  SPATIAL KEY ") {
            indexes.push(format!("ADD {}", &item[2..]));
        } else if item.starts_with("  CONSTRAINT ") {
            if item.contains(" FOREIGN KEY (") {
                foreign_keys.push(format!("ADD {}", &item[2..]));
            } else {
                kept.push(item);
            }
        } else {
            return None;
        }
    }
    tail.extend(lines);
    let options = tail.join("\n");
    if !has_pk || (indexes.is_empty() && foreign_keys.is_empty()) || !options.contains("ENGINE=InnoDB") || options.contains("PARTITION") {
        return None;
    }
    let create = format!("{first}\n{}\n{options}", kept.join(",\n"));
    Some(DeferredDdl { table, create, indexes, foreign_keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_definer_and_qualification() {
        let v = "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select `src`.`t`.`a` AS `a` from `src`.`t`";
        assert_eq!(unqualify(&strip_definer(v), "src"), "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select `t`.`a` AS `a` from `t`");
        let t = "CREATE DEFINER=`a``b`@`%` TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.x = 1";
        assert_eq!(strip_definer(t), "CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.x = 1");
        let body = "CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET @s = 'DEFINER=x'";
        assert_eq!(strip_definer(body), body);
    }

    #[test]
    fn views_come_after_their_dependencies() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), "CREATE VIEW `a` AS select * from `b`".to_string());
        m.insert("b".to_string(), "CREATE VIEW `b` AS select * from `c`".to_string());
        m.insert("c".to_string(), "CREATE VIEW `c` AS select 1".to_string());
        let order = order_views(&m);
        assert_eq!(order, vec![m["c"].clone(), m["b"].clone(), m["a"].clone()]);
    }

    #[test]
    fn load_statement_uses_variables_when_a_column_needs_them() {
        let mut t = TableDef {
            schema: None,
            name: "t".into(),
            columns: vec![
                ColumnDef { name: "a".into(), sql_type: "int(11)".into(), nullable: false, ..Default::default() },
                ColumnDef { name: "b".into(), sql_type: "bit(1)".into(), nullable: true, ..Default::default() },
                ColumnDef { name: "j".into(), sql_type: "json".into(), nullable: true, ..Default::default() },
            ],
            primary_key: vec!["a".into()],
            ..Default::default()
        };
        let sql = load_sql(&t);
        assert!(sql.ends_with("(@tandem_v0, @tandem_v1, @tandem_v2) SET `a` = @tandem_v0, `b` = @tandem_v1, `j` = CONVERT(@tandem_v2 USING utf8mb4)"), "{sql}");
        assert_eq!(select_sql(&t), "SELECT `a`, `b`, `j` FROM `t` ORDER BY `a`");
        t.columns.pop();
        t.columns[1].sql_type = "float".into();
        assert!(load_sql(&t).ends_with("LINES TERMINATED BY '\\n' (`a`, `b`)"), "{}", load_sql(&t));
        assert_eq!(select_sql(&t), "SELECT `a`, (`b` + 0e0) FROM `t` ORDER BY `a`");
    }
    #[test]
    fn splits_secondary_indexes_and_foreign_keys_off() {
        let ddl = "CREATE TABLE `PARTITIONS` (\n  `PART_ID` bigint(20) NOT NULL,\n  `PART_NAME` varchar(767) DEFAULT NULL,\n  `TBL_ID` bigint(20) DEFAULT NULL,\n  `X` int(11) DEFAULT NULL,\n  PRIMARY KEY (`PART_ID`),\n  UNIQUE KEY `UNIQUEPARTITION` (`PART_NAME`,`TBL_ID`),\n  KEY `PARTITIONS_N49` (`TBL_ID`),\n  FULLTEXT KEY `ft` (`PART_NAME`),\n  CONSTRAINT `PARTITIONS_FK1` FOREIGN KEY (`TBL_ID`) REFERENCES `TBLS` (`TBL_ID`),\n  CONSTRAINT `chk` CHECK (`X` > 0)\n) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin";
        let d = defer_indexes(ddl).unwrap();
        assert_eq!(d.table, "PARTITIONS");
        assert_eq!(
            d.create,
            "CREATE TABLE `PARTITIONS` (\n  `PART_ID` bigint(20) NOT NULL,\n  `PART_NAME` varchar(767) DEFAULT NULL,\n  `TBL_ID` bigint(20) DEFAULT NULL,\n  `X` int(11) DEFAULT NULL,\n  PRIMARY KEY (`PART_ID`),\n  FULLTEXT KEY `ft` (`PART_NAME`),\n  CONSTRAINT `chk` CHECK (`X` > 0)\n) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin"
        );
        assert_eq!(
            d.index_sql().unwrap(),
            "ALTER TABLE `PARTITIONS` ADD UNIQUE KEY `UNIQUEPARTITION` (`PART_NAME`,`TBL_ID`), ADD KEY `PARTITIONS_N49` (`TBL_ID`)"
        );
        assert_eq!(
            d.foreign_key_sql().unwrap(),
            "ALTER TABLE `PARTITIONS` ADD CONSTRAINT `PARTITIONS_FK1` FOREIGN KEY (`TBL_ID`) REFERENCES `TBLS` (`TBL_ID`)"
        );
        // Last line deferred: the kept lines lose their trailing comma.
        let d = defer_indexes("CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  PRIMARY KEY (`a`),\n  KEY `k` (`a`)\n) ENGINE=InnoDB").unwrap();
        assert_eq!(d.create, "CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  PRIMARY KEY (`a`)\n) ENGINE=InnoDB");
        assert!(d.foreign_key_sql().is_none());
        // Left alone: no primary key, nothing to defer, other engines, partitioned, odd lines.
        assert!(defer_indexes("CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  UNIQUE KEY `u` (`a`)\n) ENGINE=InnoDB").is_none());
        assert!(defer_indexes("CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  PRIMARY KEY (`a`)\n) ENGINE=InnoDB").is_none());
        assert!(defer_indexes("CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  PRIMARY KEY (`a`),\n  KEY `k` (`a`)\n) ENGINE=MyISAM").is_none());
        assert!(defer_indexes(
            "CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  PRIMARY KEY (`a`),\n  KEY `k` (`a`)\n) ENGINE=InnoDB\n PARTITION BY HASH (`a`)\nPARTITIONS 2"
        )
        .is_none());
        assert!(defer_indexes(
            "CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  PRIMARY KEY (`a`),\n  KEY `k` (`a`),\n  PERIOD FOR p (`a`, `a`)\n) ENGINE=InnoDB"
        )
        .is_none());
    }
}
