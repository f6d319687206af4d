//! Restores between MySQL/MariaDB and other engines: the neutral types of MySQL columns, field
//! decoding and encoding, and a MySQL schema for tables of another engine.
//!
//! Type choices for foreign tables follow what Hive and Airflow lay out on MySQL: booleans are
//! `bit(1)`, long text `mediumtext`, bytes `longblob`, instants `timestamp(6)` (stored in UTC),
//! wall-clock values `datetime(6)`. Tables are InnoDB in the charset the system asks for
//! (`latin1`/`latin1_bin` for a Hive Metastore) or `utf8mb4`/`utf8mb4_bin`; text another charset
//! cannot hold is refused at load time, naming the row. Varchars that would make a row longer
//! than InnoDB allows become `mediumtext`; key parts longer than an index allows get a prefix.

use std::collections::HashSet;

use tandem_engine::text::Charset;
use tandem_engine::value::type_args;
use tandem_engine::{ColumnDef, DefaultValue, ForeignSchema, ForeignTable, LogicalColumn, LogicalType, RowEncoding, SchemaDump, TableDef, Value};
use tandem_error::{Error, Result};

use crate::{lit, q};

/// Largest row InnoDB takes (bytes of inline columns), with some room.
const MAX_ROW: u64 = 65_000;
/// Largest index key of InnoDB (DYNAMIC rows).
const MAX_KEY: u64 = 3072;

pub(crate) fn logical_column(col: &ColumnDef) -> Option<LogicalColumn> {
    let t = col.sql_type.trim().to_ascii_lowercase();
    let base = t.split(['(', ' ']).next().unwrap_or("");
    let unsigned = t.contains("unsigned");
    let args = type_args(&t);
    let binary = col.charset.as_deref() == Some("binary");
    let ty = match base {
        "bit" if args.first() == Some(&1) => LogicalType::Bool,
        "tinyint" if args.first() == Some(&1) => LogicalType::Bool,
        "bool" | "boolean" => LogicalType::Bool,
        "tinyint" | "year" => LogicalType::Int16,
        "smallint" if unsigned => LogicalType::Int32,
        "smallint" => LogicalType::Int16,
        "mediumint" => LogicalType::Int32,
        "int" | "integer" if unsigned => LogicalType::Int64,
        "int" | "integer" => LogicalType::Int32,
        "bigint" if unsigned => LogicalType::Decimal { precision: Some(20), scale: Some(0) },
        "bigint" => LogicalType::Int64,
        "decimal" | "numeric" => LogicalType::Decimal { precision: args.first().copied(), scale: Some(args.get(1).copied().unwrap_or(0)) },
        "float" => LogicalType::Float32,
        "double" | "real" => LogicalType::Float64,
        "char" if binary => LogicalType::Bytes,
        "char" => LogicalType::Char(args.first().copied().unwrap_or(1)),
        "varchar" if binary => LogicalType::Bytes,
        "varchar" => LogicalType::Varchar(args.first().copied()),
        "tinytext" | "text" | "mediumtext" | "longtext" => LogicalType::Text,
        "enum" | "set" => LogicalType::Varchar(Some(255)),
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => LogicalType::Bytes,
        "date" => LogicalType::Date,
        "time" => LogicalType::Time,
        "datetime" => LogicalType::Timestamp { tz: false },
        "timestamp" => LogicalType::Timestamp { tz: true },
        "json" => LogicalType::Json,
        _ => return None,
    };
    let default = col.default.as_deref().filter(|_| !col.auto_increment).and_then(|d| parse_default(d, &ty));
    Some(LogicalColumn { ty, default })
}

/// A default as MariaDB's `information_schema.COLUMNS.COLUMN_DEFAULT` spells it.
fn parse_default(d: &str, ty: &LogicalType) -> Option<DefaultValue> {
    let d = d.trim();
    if d.eq_ignore_ascii_case("NULL") {
        return Some(DefaultValue::Null);
    }
    if let Some(inner) = d.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Some(DefaultValue::Text(inner.replace("''", "'").replace("\\\\", "\\")));
    }
    match (d, ty) {
        ("b'1'" | "1" | "true", LogicalType::Bool) => return Some(DefaultValue::Bool(true)),
        ("b'0'" | "0" | "false", LogicalType::Bool) => return Some(DefaultValue::Bool(false)),
        _ => {}
    }
    if d.to_ascii_lowercase().starts_with("current_timestamp") {
        return Some(DefaultValue::CurrentTimestamp);
    }
    if d.parse::<f64>().is_ok() {
        return Some(DefaultValue::Number(d.to_string()));
    }
    None
}

fn zero_date(s: &str) -> bool {
    s.starts_with("0000-") || s.contains("-00")
}

pub(crate) fn decode_value(col: &ColumnDef, ty: &LogicalType, field: &[u8]) -> Result<Value> {
    let text = || String::from_utf8_lossy(field).into_owned();
    Ok(match ty {
        LogicalType::Bool if col.sql_type.to_ascii_lowercase().starts_with("bit") => Value::Bool(field.iter().any(|&b| b != 0)),
        LogicalType::Bool => Value::Bool(!matches!(field, b"0" | b"")),
        LogicalType::Bytes => Value::Bytes(field.to_vec()),
        t if t.is_text() => Value::Text(Charset::of(col, RowEncoding::MysqlTsv, None).decode(field).into_owned()),
        LogicalType::Date | LogicalType::Timestamp { .. } => {
            let s = text();
            if zero_date(&s) {
                return Err(Error::bad_input(format!("column {}: the zero date {s:?} has no equivalent in other engines", col.name)));
            }
            Value::Text(s)
        }
        _ => Value::Text(text()),
    })
}

pub(crate) fn encode_value(col: &ColumnDef, ty: &LogicalType, value: &Value, out: &mut Vec<u8>) -> Result<()> {
    let cannot = |what: &str| Error::bad_input(format!("column {} ({}): {what}", col.name, col.sql_type));
    match (ty, value) {
        (_, Value::Null) => return Err(Error::internal("NULL is not encoded as a value")),
        (LogicalType::Bool, Value::Bool(b)) => {
            if col.sql_type.starts_with("bit") {
                out.push(u8::from(*b));
            } else {
                out.push(if *b { b'1' } else { b'0' });
            }
        }
        (_, Value::Bytes(b)) => out.extend_from_slice(b),
        (t, Value::Text(s)) if t.is_text() => {
            let bytes = Charset::of(col, RowEncoding::MysqlTsv, None).encode(s).map_err(|e| cannot(e.message()))?;
            out.extend_from_slice(&bytes);
        }
        (LogicalType::Decimal { .. } | LogicalType::Float32 | LogicalType::Float64, Value::Text(s))
            if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") =>
        {
            return Err(cannot(&format!("MySQL cannot store {s}")))
        }
        (LogicalType::Date | LogicalType::Timestamp { .. }, Value::Text(s)) if s.contains("infinity") || s.ends_with(" BC") => {
            return Err(cannot(&format!("MySQL cannot store the date {s:?}")))
        }
        (_, Value::Text(s)) => out.extend_from_slice(s.as_bytes()),
        (_, Value::Bool(b)) => out.push(if *b { b'1' } else { b'0' }),
    }
    Ok(())
}

/// Bytes a character of `charset` may take.
fn char_bytes(charset: &str) -> u64 {
    if charset == "latin1" {
        1
    } else {
        4
    }
}

fn native_type(ty: &LogicalType) -> String {
    match ty {
        LogicalType::Bool => "bit(1)".into(),
        LogicalType::Int16 => "smallint".into(),
        LogicalType::Int32 => "int".into(),
        LogicalType::Int64 => "bigint".into(),
        LogicalType::Decimal { precision: Some(p), scale } => format!("decimal({}, {})", p.min(&65), scale.unwrap_or(0).min(30)),
        LogicalType::Decimal { precision: None, .. } => "decimal(65, 30)".into(),
        LogicalType::Float32 => "float".into(),
        LogicalType::Float64 => "double".into(),
        LogicalType::Char(n) if *n <= 255 => format!("char({n})"),
        LogicalType::Char(n) => format!("varchar({n})"),
        LogicalType::Varchar(Some(n)) => format!("varchar({n})"),
        LogicalType::Varchar(None) | LogicalType::Text => "mediumtext".into(),
        LogicalType::Bytes => "longblob".into(),
        LogicalType::Date => "date".into(),
        LogicalType::Time => "time(6)".into(),
        LogicalType::Timestamp { tz: false } => "datetime(6)".into(),
        LogicalType::Timestamp { tz: true } => "timestamp(6)".into(),
        LogicalType::Json => "json".into(),
        LogicalType::Uuid => "char(36)".into(),
    }
}

/// Inline bytes of a column of `sql_type` (for InnoDB's row and key limits).
fn inline_bytes(sql_type: &str, cb: u64) -> u64 {
    let n = type_args(sql_type).first().copied().unwrap_or(0) as u64;
    match sql_type.split('(').next().unwrap_or("") {
        "varchar" => n * cb + 2,
        "char" => n * cb,
        "decimal" => 32,
        "mediumtext" | "longblob" | "json" => 20,
        _ => 8,
    }
}

fn default_sql(d: &DefaultValue, ty: &LogicalType) -> Option<String> {
    Some(match (d, ty) {
        (DefaultValue::Null, _) => "NULL".into(),
        (DefaultValue::Bool(b), LogicalType::Bool) => if *b { "b'1'" } else { "b'0'" }.into(),
        (DefaultValue::Bool(b), _) => if *b { "1" } else { "0" }.into(),
        (DefaultValue::Number(n), _) => n.clone(),
        (DefaultValue::Text(_), LogicalType::Text | LogicalType::Bytes | LogicalType::Json | LogicalType::Varchar(None)) => return None,
        (DefaultValue::Text(t), _) => lit(t),
        (DefaultValue::CurrentTimestamp, LogicalType::Timestamp { .. }) => "CURRENT_TIMESTAMP(6)".into(),
        (DefaultValue::CurrentTimestamp, _) => return None,
    })
}

/// A name unique in `used` (MySQL foreign key names are per database), at most 64 bytes.
fn unique_name(used: &mut HashSet<String>, table: &str, name: &str) -> String {
    let mut candidate = name.to_string();
    if used.contains(&candidate.to_ascii_lowercase()) {
        candidate = format!("{table}_{name}");
    }
    let mut n = 2;
    while used.contains(&candidate.to_ascii_lowercase()) || candidate.len() > 64 {
        let suffix = format!("_{n}");
        let mut base: String = candidate.chars().take(64 - suffix.len()).collect();
        while base.len() > 64 - suffix.len() {
            base.pop();
        }
        candidate = format!("{base}{suffix}");
        n += 1;
    }
    used.insert(candidate.to_ascii_lowercase());
    candidate
}

/// MySQL's schema for tables of another engine (see [`tandem_engine::Engine::translate_schema`]):
/// one `CREATE TABLE` per table with native types, keys, indexes and foreign keys, in the
/// system's charset (`utf8mb4` by default) with its binary collation.
pub(crate) fn translate_schema(schema: &ForeignSchema) -> Result<SchemaDump> {
    let charset = schema.text_charset.clone().unwrap_or_else(|| "utf8mb4".into());
    let collation = format!("{charset}_bin");
    let mut dump = SchemaDump { charset: Some(charset.clone()), collation: Some(collation.clone()), ..Default::default() };
    let names: HashSet<String> = schema.tables.iter().map(|t| t.def.name.to_ascii_lowercase()).collect();
    if names.len() != schema.tables.len() {
        return Err(Error::unsupported("the backup has tables of the same name in several schemas; MySQL has one namespace per database"));
    }
    let mut fk_names = HashSet::new();
    for t in &schema.tables {
        let (ddl, def) = create_table(t, &charset, &collation, &mut fk_names);
        dump.pre_data.push(ddl);
        dump.tables.push(def);
    }
    Ok(dump)
}

/// The `CREATE TABLE` of one foreign table and the definition rows are loaded with.
/// `fk_names` holds the foreign key names used so far (they are unique per database).
fn create_table(t: &ForeignTable, charset: &str, collation: &str, fk_names: &mut HashSet<String>) -> (String, TableDef) {
    let def = &t.def;
    let charsets: Vec<&str> = def.columns.iter().map(|c| t.charsets.get(&c.name).map_or(charset, String::as_str)).collect();
    let cbs: Vec<u64> = charsets.iter().map(|cs| char_bytes(cs)).collect();
    let types = column_types(t, &cbs);
    let mut lines = Vec::new();
    let mut columns = Vec::new();
    for (i, ((c, lc), ty)) in def.columns.iter().zip(&t.columns).zip(&types).enumerate() {
        let own = (charsets[i] != charset).then_some(charsets[i]);
        let (line, column) = column_line(def, c, lc, ty, charsets[i], own);
        lines.push(line);
        columns.push(column);
    }
    let key_part = |cols: &[String]| key_part(def, &types, &cbs, cols);
    if !def.primary_key.is_empty() {
        lines.push(format!("  PRIMARY KEY ({})", key_part(&def.primary_key)));
    }
    let mut index_names = HashSet::new();
    for idx in &def.indexes {
        let name = unique_name(&mut index_names, &def.name, &idx.name);
        lines.push(format!("  {}KEY {} ({})", if idx.unique { "UNIQUE " } else { "" }, q(&name), key_part(&idx.columns)));
    }
    for fk in &def.foreign_keys {
        let name = unique_name(fk_names, &def.name, &fk.name);
        let cols: Vec<String> = fk.columns.iter().map(|c| q(c)).collect();
        let refs: Vec<String> = fk.ref_columns.iter().map(|c| q(c)).collect();
        lines.push(format!(
            "  CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {} ON UPDATE {}",
            q(&name),
            cols.join(","),
            q(&fk.ref_table),
            refs.join(","),
            fk.on_delete,
            fk.on_update
        ));
    }
    let ddl = format!("CREATE TABLE {} (\n{}\n) ENGINE=InnoDB DEFAULT CHARSET={charset} COLLATE={collation}", q(&def.name), lines.join(",\n"));
    (ddl, TableDef { schema: None, name: def.name.clone(), columns, primary_key: def.primary_key.clone(), ..Default::default() })
}

/// The native type of each column; the longest varchars outside indexes become mediumtext
/// until the row fits InnoDB's row size.
fn column_types(t: &ForeignTable, cbs: &[u64]) -> Vec<String> {
    let def = &t.def;
    let mut types: Vec<String> = t.columns.iter().map(|c| native_type(&c.ty)).collect();
    let indexed: HashSet<&str> = def.primary_key.iter().chain(def.indexes.iter().flat_map(|i| &i.columns)).map(String::as_str).collect();
    loop {
        let total: u64 = types.iter().zip(cbs).map(|(ty, &cb)| inline_bytes(ty, cb)).sum();
        if total <= MAX_ROW {
            return types;
        }
        let widest = (0..types.len())
            .filter(|&i| types[i].starts_with("varchar") && !indexed.contains(def.columns[i].name.as_str()))
            .max_by_key(|&i| inline_bytes(&types[i], cbs[i]));
        match widest {
            Some(i) => types[i] = "mediumtext".into(),
            None => return types,
        }
    }
}

/// One column's line of the `CREATE TABLE` (type, its `own` charset when it is not the
/// table's, NOT NULL, AUTO_INCREMENT on an indexed integer, else its default) and its
/// definition for loading.
fn column_line(def: &TableDef, c: &ColumnDef, lc: &LogicalColumn, ty: &str, charset: &str, own: Option<&str>) -> (String, ColumnDef) {
    let mut line = format!("  {} {ty}", q(&c.name));
    if let Some(cs) = own.filter(|_| lc.ty.is_text()) {
        line.push_str(&format!(" CHARACTER SET {cs} COLLATE {cs}_bin"));
    }
    if !c.nullable {
        line.push_str(" NOT NULL");
    }
    let keyed = def.primary_key.first() == Some(&c.name) || def.indexes.iter().any(|i| i.columns.first() == Some(&c.name));
    let auto = c.auto_increment && keyed && matches!(lc.ty, LogicalType::Int16 | LogicalType::Int32 | LogicalType::Int64);
    if c.auto_increment && !auto {
        tracing::warn!("{}.{}: generated values are not kept as AUTO_INCREMENT (not an indexed integer)", def.name, c.name);
    }
    if auto {
        line.push_str(" AUTO_INCREMENT");
    } else if let Some(d) = lc.default.as_ref().and_then(|d| default_sql(d, &lc.ty)) {
        if d != "NULL" || c.nullable {
            line.push_str(&format!(" DEFAULT {d}"));
        }
    }
    let is_text = lc.ty.is_text() || matches!(lc.ty, LogicalType::Bytes);
    let column = ColumnDef {
        name: c.name.clone(),
        sql_type: ty.to_string(),
        nullable: c.nullable,
        charset: is_text.then(|| if matches!(lc.ty, LogicalType::Bytes) { "binary".to_string() } else { charset.to_string() }),
        default: None,
        auto_increment: auto,
    };
    (line, column)
}

/// The key parts of an index on `cols`: long text needs a prefix; a key longer than InnoDB
/// allows gets prefixes on its columns longer than an equal share.
fn key_part(def: &TableDef, types: &[String], cbs: &[u64], cols: &[String]) -> String {
    let of = |name: &String| def.columns.iter().position(|c| &c.name == name).map_or(("", 4), |i| (types[i].as_str(), cbs[i]));
    let blob = |ty: &str| matches!(ty, "mediumtext" | "longblob" | "json");
    let key_bytes =
        |(ty, cb): (&str, u64)| if blob(ty) { 255 * cb } else { inline_bytes(ty, cb).saturating_sub(if ty.starts_with("varchar") { 2 } else { 0 }) };
    let total: u64 = cols.iter().map(|c| key_bytes(of(c))).sum();
    let share = MAX_KEY / cols.len().max(1) as u64;
    let parts: Vec<String> = cols
        .iter()
        .map(|name| {
            let (ty, cb) = of(name);
            let (bytes, limit) = (key_bytes((ty, cb)), if total > MAX_KEY { share } else { u64::MAX });
            if blob(ty) || bytes > limit {
                format!("{}({})", q(name), (bytes.min(limit) / cb).max(1))
            } else {
                q(name)
            }
        })
        .collect();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_engine::{ForeignKeyDef, ForeignTable, IndexDef};

    fn col(name: &str, ty: &str) -> ColumnDef {
        ColumnDef { name: name.into(), sql_type: ty.into(), nullable: true, ..Default::default() }
    }

    #[test]
    fn types_of_mysql_columns() {
        let t = |ty: &str| logical_column(&col("c", ty)).map(|c| c.ty);
        assert_eq!(t("bit(1)"), Some(LogicalType::Bool));
        assert_eq!(t("bigint(20)"), Some(LogicalType::Int64));
        assert_eq!(t("bigint(20) unsigned"), Some(LogicalType::Decimal { precision: Some(20), scale: Some(0) }));
        assert_eq!(t("varchar(767)"), Some(LogicalType::Varchar(Some(767))));
        assert_eq!(t("mediumtext"), Some(LogicalType::Text));
        assert_eq!(t("timestamp(6)"), Some(LogicalType::Timestamp { tz: true }));
        assert_eq!(t("geometry"), None);
        let d = |def: &str, ty: &str| logical_column(&ColumnDef { default: Some(def.into()), ..col("c", ty) }).and_then(|c| c.default);
        assert_eq!(d("b'0'", "bit(1)"), Some(DefaultValue::Bool(false)));
        assert_eq!(d("'N'", "char(1)"), Some(DefaultValue::Text("N".into())));
        assert_eq!(d("current_timestamp()", "datetime"), Some(DefaultValue::CurrentTimestamp));
        assert_eq!(d("-1", "int(11)"), Some(DefaultValue::Number("-1".into())));
    }

    #[test]
    fn values_round_trip_and_refusals_name_the_column() {
        let c = ColumnDef { charset: Some("latin1".into()), ..col("LOCATION", "varchar(4000)") };
        let ty = LogicalType::Varchar(Some(4000));
        assert_eq!(decode_value(&c, &ty, b"Z\xfcrich").unwrap(), Value::Text("Zürich".into()));
        let mut out = Vec::new();
        encode_value(&c, &ty, &Value::Text("Zürich".into()), &mut out).unwrap();
        assert_eq!(out, b"Z\xfcrich");
        let e = encode_value(&c, &ty, &Value::Text("東京".into()), &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("column LOCATION") && e.to_string().contains("Latin-1"), "{e}");
        let b = col("IS_COMPRESSED", "bit(1)");
        assert_eq!(decode_value(&b, &LogicalType::Bool, b"\x01").unwrap(), Value::Bool(true));
        let e = decode_value(&col("d", "datetime"), &LogicalType::Timestamp { tz: false }, b"0000-00-00 00:00:00").unwrap_err();
        assert!(e.to_string().contains("zero date"), "{e}");
        let e = encode_value(&col("d", "double"), &LogicalType::Float64, &Value::Text("NaN".into()), &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("NaN"), "{e}");
    }

    #[test]
    fn schema_for_foreign_tables() {
        let def = TableDef {
            schema: Some("public".into()),
            name: "PARTITIONS".into(),
            columns: vec![
                ColumnDef { nullable: false, auto_increment: true, ..col("PART_ID", "bigint") },
                col("PART_NAME", "character varying(767)"),
                col("TBL_ID", "bigint"),
                col("BIG", "character varying(60000)"),
                col("BIG2", "character varying(10000)"),
            ],
            primary_key: vec!["PART_ID".into()],
            indexes: vec![IndexDef { name: "UNIQUEPARTITION".into(), columns: vec!["PART_NAME".into(), "TBL_ID".into()], unique: true }],
            foreign_keys: vec![ForeignKeyDef {
                name: "PARTITIONS_FK1".into(),
                columns: vec!["TBL_ID".into()],
                ref_table: "TBLS".into(),
                ref_columns: vec!["TBL_ID".into()],
                on_delete: "NO ACTION".into(),
                on_update: "NO ACTION".into(),
            }],
        };
        let columns = vec![
            LogicalColumn { ty: LogicalType::Int64, default: None },
            LogicalColumn { ty: LogicalType::Varchar(Some(767)), default: Some(DefaultValue::Null) },
            LogicalColumn { ty: LogicalType::Int64, default: None },
            LogicalColumn { ty: LogicalType::Varchar(Some(60000)), default: None },
            LogicalColumn { ty: LogicalType::Varchar(Some(10000)), default: None },
        ];
        let s = ForeignSchema { tables: vec![ForeignTable { def, columns, charsets: Default::default() }], text_charset: Some("latin1".into()) };
        let dump = translate_schema(&s).unwrap();
        assert_eq!(
            dump.pre_data[0],
            "CREATE TABLE `PARTITIONS` (\n  `PART_ID` bigint NOT NULL AUTO_INCREMENT,\n  `PART_NAME` varchar(767) DEFAULT NULL,\n  `TBL_ID` bigint,\n  \
             `BIG` mediumtext,\n  `BIG2` varchar(10000),\n  PRIMARY KEY (`PART_ID`),\n  UNIQUE KEY `UNIQUEPARTITION` (`PART_NAME`,`TBL_ID`),\n  \
             CONSTRAINT `PARTITIONS_FK1` FOREIGN KEY (`TBL_ID`) REFERENCES `TBLS` (`TBL_ID`) ON DELETE NO ACTION ON UPDATE NO ACTION\n\
             ) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin"
        );
        assert!(crate::schema::defer_indexes(&dump.pre_data[0]).is_some(), "the restore can defer its indexes");
        assert_eq!(dump.tables[0].columns[1].charset.as_deref(), Some("latin1"));
        assert_eq!(dump.charset.as_deref(), Some("latin1"));
    }

    #[test]
    fn a_column_in_its_own_charset_keeps_its_whole_key() {
        let def = TableDef {
            name: "asset_active".into(),
            columns: vec![col("name", "character varying(1500)"), col("uri", "character varying(1500)"), col("note", "character varying(1500)")],
            primary_key: vec!["name".into(), "uri".into()],
            ..Default::default()
        };
        let columns = vec![LogicalColumn { ty: LogicalType::Varchar(Some(1500)), default: None }; 3];
        let charsets = [("name", "latin1"), ("uri", "latin1")].map(|(c, cs)| (c.to_string(), cs.to_string())).into();
        let dump = translate_schema(&ForeignSchema { tables: vec![ForeignTable { def, columns, charsets }], text_charset: None }).unwrap();
        let ddl = &dump.pre_data[0];
        assert!(ddl.contains("`name` varchar(1500) CHARACTER SET latin1 COLLATE latin1_bin,"), "{ddl}");
        assert!(ddl.contains("`note` varchar(1500),"), "the others keep the table's charset: {ddl}");
        assert!(ddl.contains("PRIMARY KEY (`name`,`uri`)"), "3000 bytes of latin1 fit a key whole (no prefix): {ddl}");
        let cs: Vec<_> = dump.tables[0].columns.iter().map(|c| c.charset.as_deref()).collect();
        assert_eq!(cs, [Some("latin1"), Some("latin1"), Some("utf8mb4")], "rows are encoded in each column's charset");
    }
}
