//! The engine-neutral description of a database snapshot that backup manifests store: where in
//! the source's history it sits, how its rows are encoded, and its schema (tables, columns, keys).
//!
//! Both the repository format (`tandem-repo`) and the engines (`tandem-engine`) speak these types;
//! this crate depends on neither. They are serialized into manifests, so changes must stay
//! backward compatible (add optional fields with `#[serde(default)]`, never rename).

use std::fmt;

use serde::{Deserialize, Serialize};

mod skipped;

pub use skipped::{Skipped, SkippedKind};

/// Where in the source's history a snapshot sits, so a later change stream can start there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Which log [`value`](Position::value) points into.
    pub kind: PositionKind,
    /// `mysql-bin.000003:1234` for binlog, `0/16B3748` for an LSN.
    pub value: String,
    /// The GTID set / position at the snapshot, when the server has GTIDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<String>,
}

/// The kind of log a [`Position`] points into; serialized as `"binlog"`, `"lsn"` or `"none"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PositionKind {
    /// A MySQL/MariaDB binary log file and offset.
    Binlog,
    /// A PostgreSQL WAL location.
    Lsn,
    /// The server keeps no log (MySQL without `log_bin`).
    #[default]
    None,
}

impl PositionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PositionKind::Binlog => "binlog",
            PositionKind::Lsn => "lsn",
            PositionKind::None => "none",
        }
    }
}

impl fmt::Display for PositionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Position {
    /// The position of a server that keeps no log.
    pub fn none() -> Position {
        Position::default()
    }
}

/// Facts about a snapshot, recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// `Engine::name` of the engine that took it (`"mysql"`, `"postgres"`).
    pub engine: String,
    /// Server version string as the server reports it (`10.11.6-MariaDB`, `15.4`).
    pub server_version: String,
    /// Name of the database that was copied.
    pub database: String,
    /// Log position of the snapshot.
    pub position: Position,
    /// Encoding of the row data in the chunks.
    pub row_encoding: RowEncoding,
    /// How the snapshot was made consistent, for humans (`"consistent snapshot + FTWRL"`).
    #[serde(default)]
    pub consistency: String,
}

/// The text encodings rows are stored in. Both are "one row per line, fields separated by a tab,
/// backslash escapes, `\N` for NULL", so a raw `\n` byte always ends a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowEncoding {
    /// `LOAD DATA ... FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n'`, with
    /// `CHARACTER SET binary`: field bytes are the column's stored bytes, escapes `\0 \b \n \r \t
    /// \Z \\`, NULL as `\N`.
    MysqlTsv,
    /// PostgreSQL `COPY ... TO STDOUT` text format in the server's encoding.
    PgCopyText,
}

impl RowEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            RowEncoding::MysqlTsv => "mysql-tsv",
            RowEncoding::PgCopyText => "pg-copy-text",
        }
    }
}

/// Everything about a database except its rows, in the engine's SQL dialect.
///
/// Restore runs `pre_data` in order, loads every table of `tables`, then runs `post_data` in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDump {
    /// Statements that create schemas, types, sequences and tables (without secondary indexes or
    /// foreign keys where the engine allows deferring them).
    pub pre_data: Vec<String>,
    /// Statements run after the load: constraints, indexes, foreign keys, sequence values,
    /// views, triggers.
    pub post_data: Vec<String>,
    /// Tables whose rows are copied, in a valid load order.
    pub tables: Vec<TableDef>,
    /// Database default character set / encoding (`latin1`, `UTF8`), when the engine has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// Database default collation, when the engine has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    /// Objects a restore into another engine cannot recreate (`view v`, `trigger t`), for
    /// humans. A cross-engine restore refuses a schema that has any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untranslatable: Vec<String>,
    /// Who owns the objects and what other roles were granted (engines with object owners:
    /// PostgreSQL). A restore gives them back for the roles that exist on the target.
    #[serde(default, skip_serializing_if = "Privileges::is_empty")]
    pub privileges: Privileges,
    /// Objects of the source the backup did not copy, with the reason (range types, foreign
    /// tables, stored routines, ...), in the order the engine met them. Absent in manifests of
    /// writers before it and when nothing was skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

/// The owners and grants of a schema's objects (FORMAT.md, section 5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Privileges {
    /// Every object with an owner of its own, in creation order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectPrivileges>,
    /// A restore's choice: every restored object is owned by this role instead (for a target
    /// whose role names differ, or a source engine without owners). Never stored.
    #[serde(skip)]
    pub reassign_to: Option<String>,
}

impl Privileges {
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.reassign_to.is_none()
    }
}

/// One object's owner and grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectPrivileges {
    pub kind: ObjectKind,
    /// The object's name as SQL spells it: quoted, schema-qualified, a routine with its argument
    /// types (`public."DAG"`, `app.f(integer)`).
    pub name: String,
    /// The owning role; `None` when the owner follows another object (a sequence owned by a
    /// table's column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Privileges granted to roles other than the owner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
}

/// The kinds of objects whose owner and grants are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectKind {
    Schema,
    Table,
    View,
    MaterializedView,
    Sequence,
    Function,
    Procedure,
    /// A kind a newer version records: skipped by a restore.
    #[serde(other)]
    Other,
}

/// One privilege granted to one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// A role name, or `PUBLIC` (every role).
    pub role: String,
    /// As SQL spells it: `SELECT`, `INSERT`, `USAGE`, `EXECUTE`, ...
    pub privilege: String,
    /// Granted `WITH GRANT OPTION`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub grantable: bool,
}

/// One table whose rows are copied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    /// Schema (PostgreSQL namespace); `None` on engines where a database has no schemas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub name: String,
    /// The copied columns, in the order their fields appear in each row. Generated columns are
    /// not copied and not listed.
    pub columns: Vec<ColumnDef>,
    /// Primary key columns, in key order (empty if the table has none).
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Secondary indexes on plain columns (not the primary key), for cross-engine restores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<IndexDef>,
    /// Foreign keys, for cross-engine restores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKeyDef>,
}

impl TableDef {
    /// `schema.name` or `name`, for messages (not quoted).
    pub fn display_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The column called `name` (exact, else case-insensitive) and its position.
    pub fn column(&self, name: &str) -> Option<(usize, &ColumnDef)> {
        let exact = self.columns.iter().position(|c| c.name == name);
        let i = exact.or_else(|| self.columns.iter().position(|c| c.name.eq_ignore_ascii_case(name)))?;
        Some((i, &self.columns[i]))
    }
}

/// One copied column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    /// The column type as the engine spells it (`varchar(767)`, `timestamp with time zone`).
    pub sql_type: String,
    pub nullable: bool,
    /// Character set of a text column when it is not the database's (MySQL: `latin1`,
    /// `utf8mb4`, `binary`; PostgreSQL text is always read and written as UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// Default value as the engine's catalog spells it (`'N'`, `0`, `b'0'`, `now()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Values come from an engine generator (AUTO_INCREMENT, identity, serial).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_increment: bool,
}

/// A secondary index on plain columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDef {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKeyDef {
    pub name: String,
    pub columns: Vec<String>,
    /// The referenced table (same schema).
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// `CASCADE`, `SET NULL`, `RESTRICT`, `NO ACTION`, `SET DEFAULT`.
    #[serde(default = "no_action")]
    pub on_delete: String,
    #[serde(default = "no_action")]
    pub on_update: String,
}

fn no_action() -> String {
    "NO ACTION".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_objects_are_optional_and_unknown_kinds_are_read_as_other() {
        let old = r#"{"pre_data": [], "post_data": [], "tables": []}"#;
        let dump: SchemaDump = serde_json::from_str(old).unwrap();
        assert!(dump.skipped.is_empty());
        assert!(!serde_json::to_string(&dump).unwrap().contains("skipped"), "an empty list is not written");

        let dump = SchemaDump { skipped: vec![Skipped::new(SkippedKind::ForeignTable, "public.remote", "rows live elsewhere")], ..Default::default() };
        let text = serde_json::to_string(&dump).unwrap();
        assert!(text.contains(r#""skipped":[{"kind":"foreign-table","name":"public.remote","reason":"rows live elsewhere"}]"#), "{text}");
        assert_eq!(serde_json::from_str::<SchemaDump>(&text).unwrap(), dump);

        let newer = r#"{"pre_data": [], "post_data": [], "tables": [], "skipped": [{"kind": "hologram", "name": "h", "reason": "r"}]}"#;
        let dump: SchemaDump = serde_json::from_str(newer).unwrap();
        assert_eq!(dump.skipped[0].kind, SkippedKind::Other);
        assert_eq!(dump.skipped[0].to_string(), "object h (r)");
    }
}
