//! The engine trait of tandem and the model it speaks.
//!
//! An [`Engine`] is one database software (MySQL/MariaDB, PostgreSQL). It knows how to
//! 1. open a consistent [`Snapshot`] of a whole database and stream every table's rows out of it
//!    in the engine's native bulk text encoding ([`RowEncoding`]), and
//! 2. restore a [`SchemaDump`] plus those rows into a [`Target`] all-or-nothing: nothing of the
//!    new content is visible until [`RestoreSession::commit`], and [`RestoreSession::abort`] (or a
//!    crash of tandem at any point before commit) leaves the target as it was.
//!
//! Engines know nothing about repositories, systems (Hive Metastore, Airflow) or the CLI. Each
//! engine lives in its own crate and passes the shared conformance suite in `tandem-conformance`.

pub mod changes;
mod model;
pub mod role;
pub mod rowcodec;
mod scope;
pub mod text;
pub mod tls;
mod url;
pub mod value;

pub use model::*;
pub use scope::Scope;
pub use tandem_format::*;
pub use url::DbUrl;
pub use value::{DefaultValue, ForeignSchema, ForeignTable, LogicalColumn, LogicalType, Value};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use tandem_error::Result;

/// One database software. Implementations are stateless factories; connections live in the
/// [`Snapshot`] and [`Target`] objects they return.
#[async_trait]
pub trait Engine: Send + Sync {
    /// Stable short name recorded in manifests (`"mysql"`, `"postgres"`).
    fn name(&self) -> &'static str;

    /// URL schemes this engine accepts (`["mysql", "mariadb"]`).
    fn schemes(&self) -> &'static [&'static str];

    /// The row encoding this engine writes in [`Snapshot::copy_out`] and reads in
    /// [`RestoreSession::copy_in`].
    fn row_encoding(&self) -> RowEncoding;

    /// Opens a consistent snapshot of the whole database named by `url`.
    ///
    /// Errors: [`Kind::Unreachable`](tandem_error::Kind::Unreachable) if the server cannot be
    /// reached or refuses the credentials; [`Kind::BadInput`](tandem_error::Kind::BadInput) if
    /// the database does not exist.
    async fn snapshot(&self, url: &DbUrl, opts: &SnapshotOptions) -> Result<Box<dyn Snapshot>>;

    /// Connects to a restore target. Changes nothing: a missing database is reported as empty by
    /// [`Target::inspect`] and created by [`Target::begin`] (when the user may create it), so a
    /// dry run leaves the server as it was.
    async fn target(&self, url: &DbUrl) -> Result<Box<dyn Target>>;

    /// Drops the database of `url` if it exists (scratch databases of `tandem verify`).
    async fn drop_database(&self, url: &DbUrl) -> Result<()>;

    /// Opens a read-write transaction on the existing database of `url`, for the small state
    /// changes of standby, promote and fence, and for health probes. Unqualified names resolve
    /// to the database's default schema.
    ///
    /// Errors: `Unreachable` (server, credentials), `BadInput` (the database does not exist).
    async fn transaction(&self, url: &DbUrl) -> Result<Box<dyn Transaction>>;

    // Restores into another engine: the source engine names types and decodes fields, the
    // target engine creates its own schema and encodes the values (see [`value`]).

    /// The engine-neutral type and default of a column this engine reported; `None` when no
    /// other engine has an equivalent type (a restore into another engine is then refused,
    /// naming the column).
    fn logical_column(&self, column: &ColumnDef) -> Option<LogicalColumn>;

    /// Decodes one field (escapes already removed) of `column` of this engine. Errors (BadInput)
    /// on a value no other engine can hold (a zero date), naming it.
    fn decode_value(&self, column: &ColumnDef, ty: &LogicalType, field: &[u8]) -> Result<Value>;

    /// Encodes `value` for `column` of a schema this engine made with
    /// [`translate_schema`](Engine::translate_schema) (field bytes before escaping). Errors
    /// (BadInput) on a value the column cannot hold (text outside its charset, NaN), naming it.
    fn encode_value(&self, column: &ColumnDef, ty: &LogicalType, value: &Value, out: &mut Vec<u8>) -> Result<()>;

    /// This engine's schema for tables of another engine: `CREATE TABLE`s with native types,
    /// keys, indexes and foreign keys, id generators set past the loaded ids, and the table
    /// definitions (same names, columns in the same order, native types) that
    /// [`RestoreSession::copy_in`] gets.
    fn translate_schema(&self, schema: &ForeignSchema) -> Result<SchemaDump>;

    // Change data capture (see [`changes`]).

    /// Opens a stream of the committed changes to `tables` of the database of `url`, starting
    /// right after `from` (a position this engine recorded in a snapshot, a capture start or a
    /// checkpoint), through what `capture` names on the source. Checks the source's
    /// preconditions first (log on, row format, privileges, the slot there) and refuses
    /// (`BadInput`) with the setting to change. Engines without change capture refuse.
    async fn changes(&self, url: &DbUrl, from: &Position, tables: &[TableDef], capture: &changes::Capture) -> Result<Box<dyn changes::ChangeStream>> {
        let _ = (from, tables, capture);
        Err(tandem_error::Error::bad_input(format!("{} cannot stream changes (database {})", self.name(), url.database)))
    }

    /// Prepares the start of a new replica's stream for the tables of `scope`, before its seed
    /// is read: engines whose streams need something kept on the source (a PostgreSQL slot
    /// and publication, made anew) make it, and return the snapshot to read the seed in
    /// ([`SnapshotOptions::import`]) and the position it reads at. `None`: any snapshot's own
    /// position will do (MySQL/MariaDB binlogs). Checks the same preconditions as
    /// [`changes`](Engine::changes).
    async fn begin_capture(&self, url: &DbUrl, capture: &changes::Capture, scope: &Scope) -> Result<Option<changes::CaptureStart>> {
        let _ = (url, capture, scope);
        Ok(None)
    }

    /// Opens the writer of `capture`'s heartbeats on the source of `url` ([`changes::Heartbeat`]).
    /// Errors when the source does not let tandem log them (no privilege, read-only): the
    /// caller then measures lag without them. Engines without change capture refuse.
    async fn heartbeat(&self, url: &DbUrl, capture: &changes::Capture) -> Result<Box<dyn changes::Heartbeat>> {
        let _ = capture;
        Err(tandem_error::Error::unsupported(format!("{} cannot log heartbeats (database {})", self.name(), url.database)))
    }

    /// Removes what `capture` keeps on the source of `url` (so the source no longer keeps log
    /// for an abandoned replica); what it removed, in words (nothing for engines that keep
    /// nothing there).
    async fn drop_capture(&self, url: &DbUrl, capture: &changes::Capture) -> Result<Vec<String>> {
        let _ = (url, capture);
        Ok(Vec::new())
    }

    /// Makes the database of `url` refuse (`writable` false) or take application writes again,
    /// and with `false` ends the sessions that could still write into it (not tandem's own
    /// sessions, which always may write, nor log readers); what it did, in words. MySQL/MariaDB:
    /// the server's `read_only` (server-wide: every database of the server) and the database's
    /// sessions killed; PostgreSQL: `default_transaction_read_only` of the database and its
    /// client sessions terminated. Engines without such a switch do nothing.
    async fn set_writable(&self, url: &DbUrl, writable: bool) -> Result<Vec<String>> {
        let _ = (url, writable);
        Ok(Vec::new())
    }

    /// Whether [`Engine::set_writable`] switches the database alone (PostgreSQL), not every
    /// database of its server (MySQL/MariaDB): only then does a standby refuse application
    /// writes by itself (a server-wide switch is the operator's, until a move fences it).
    fn writable_per_database(&self) -> bool {
        false
    }

    /// Ends tandem's own restores into the database that hold its role row for their whole
    /// transaction (PostgreSQL's one restore transaction), so that a promote or fence never
    /// waits for one: each fails and changes nothing. How many were ended. Engines whose
    /// restores lock the role only at their swap (MySQL/MariaDB) end none.
    async fn interrupt_restores(&self, url: &DbUrl) -> Result<u64> {
        let _ = url;
        Ok(0)
    }

    /// The order of two positions of this engine's log (`Less`: `a` comes first). BadInput for
    /// positions of two different logs, or engines without change capture.
    fn compare_positions(&self, a: &Position, b: &Position) -> Result<std::cmp::Ordering> {
        let _ = b;
        Err(tandem_error::Error::bad_input(format!("{} cannot order log positions ({})", self.name(), a.value)))
    }

    /// Whether the source of `url` still keeps its log from `from` on, and until when at least
    /// (see [`changes::LogRetention`]); `None` from engines without change capture.
    async fn log_retention(&self, url: &DbUrl, from: &Position, capture: &changes::Capture) -> Result<Option<changes::LogRetention>> {
        let _ = (url, from, capture);
        Ok(None)
    }

    /// Opens an applier that writes changes into `tables` (this engine's definitions) of the
    /// existing database of `url`, marked with `origin` in the database's log when given (when
    /// the engine cannot mark them, it warns: a stream back would then echo them).
    async fn applier(&self, url: &DbUrl, tables: Vec<TableDef>, origin: Option<&changes::Origin>) -> Result<Box<dyn changes::Applier>> {
        let _ = (tables, origin);
        Err(tandem_error::Error::bad_input(format!("{} cannot apply changes (database {})", self.name(), url.database)))
    }
}

/// A consistent, read-only view of one whole database at one instant ([`SnapshotInfo::position`]).
///
/// Several [`copy_out`](Snapshot::copy_out) calls may run at once (up to
/// [`SnapshotOptions::parallelism`]); all of them see the same instant.
#[async_trait]
pub trait Snapshot: Send + Sync {
    /// Server, database and position of this snapshot.
    fn info(&self) -> &SnapshotInfo;

    /// Everything but the rows: DDL in the engine's dialect and the list of tables to copy.
    fn schema(&self) -> &SchemaDump;

    /// Streams every row of `table` as seen by the snapshot into `sink`, in primary-key order when
    /// the table has one. Every buffer handed to the sink holds whole rows only. Returns the
    /// number of rows.
    async fn copy_out(&self, table: &TableDef, sink: &mut dyn RowSink) -> Result<u64>;

    /// Streams the rows of a read-only `SELECT` (in [`dialect`](Snapshot::dialect)) run inside
    /// the snapshot into `sink`, in the engine's [`RowEncoding`] with every text value in UTF-8.
    /// Returns the number of rows. Used by systems to read joined, ordered views of their tables.
    async fn query(&self, sql: &str, sink: &mut dyn RowSink) -> Result<u64>;

    /// How this engine spells SQL.
    fn dialect(&self) -> &'static dyn Dialect;

    /// Ends the snapshot's transactions and closes its connections.
    async fn close(self: Box<Self>) -> Result<()>;
}

/// A read-write transaction on a live database ([`Engine::transaction`]). Dropping it without
/// [`commit`](Transaction::commit) rolls back.
#[async_trait]
pub trait Transaction: Send + Sync {
    fn dialect(&self) -> &'static dyn Dialect;

    /// Server version string.
    fn server_version(&self) -> &str;

    /// Runs a query and returns every row with every value as text (`None` for NULL). For small
    /// results.
    async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>>;

    /// Runs a statement; returns the number of rows it changed.
    async fn execute(&self, sql: &str) -> Result<u64>;

    /// Runs a DDL statement. Engines without transactional DDL (MySQL) commit what came before
    /// it and open a new transaction after it: run DDL first, or last.
    async fn ddl(&self, sql: &str) -> Result<()>;

    /// Moves every id generator of the database that is behind the ids its column holds past
    /// them (rows written with their ids, as a replica's are, leave PostgreSQL sequences where
    /// they were; MySQL's AUTO_INCREMENT follows by itself). The generators moved, in words.
    async fn advance_id_generators(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    async fn commit(self: Box<Self>) -> Result<()>;

    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// The SQL spelling of an engine, for the few statements systems write themselves (post-restore
/// fix-ups, verify queries). Statements built with it must be plain SQL that both engines run.
pub trait Dialect: Send + Sync {
    /// A quoted identifier (`` `DBS` `` / `"DBS"`).
    fn ident(&self, name: &str) -> String;

    /// The quoted, schema-qualified name of `table`.
    fn table(&self, table: &TableDef) -> String {
        match &table.schema {
            Some(s) => format!("{}.{}", self.ident(s), self.ident(&table.name)),
            None => self.ident(&table.name),
        }
    }

    /// A string literal.
    fn literal(&self, s: &str) -> String;

    /// An expression over the text expression `expr` whose `ORDER BY` order is the order of the
    /// UTF-8 bytes of the text (Unicode code point order), whatever the column's collation.
    fn text_order(&self, expr: &str) -> String;

    /// An aggregate over `exprs` (any types): the rows' tuples separated by `,`, the elements of
    /// a tuple by `:`, each element as lower- or upper-case hex of the UTF-8 bytes of its text
    /// form, or `-` for NULL; NULL or empty when there are no rows. Order is unspecified.
    fn agg_tuples(&self, exprs: &[String]) -> String;

    /// The expression naming the current schema (`DATABASE()`, `current_schema()`), for
    /// `information_schema` lookups.
    fn current_schema(&self) -> &'static str;

    /// Whether per-object aggregates of child rows run faster as correlated subqueries (index
    /// lookups) than as derived tables grouped once and joined.
    fn correlated_aggregates(&self) -> bool {
        false
    }
}

/// Receives encoded rows from [`Snapshot::copy_out`].
#[async_trait]
pub trait RowSink: Send {
    /// `rows` holds one or more complete rows in the engine's [`RowEncoding`], each ending in
    /// `\n`. An error aborts the copy and is returned by `copy_out`.
    async fn write(&mut self, rows: Bytes) -> Result<()>;
}

/// A database that a backup can be restored into.
#[async_trait]
pub trait Target: Send + Sync {
    /// What the target database holds now.
    async fn inspect(&self) -> Result<TargetState>;

    /// Starts an all-or-nothing restore of `schema`; `replace` says what happens to a target
    /// that holds something (see [`Replace`]). Leftovers of an earlier crashed restore are
    /// cleaned up here.
    async fn begin(&self, schema: &SchemaDump, replace: Replace) -> Result<Box<dyn RestoreSession>>;
}

/// What [`Target::begin`] does with the target's current content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replace {
    /// A non-empty target is refused with [`Kind::Conflict`](tandem_error::Kind::Conflict).
    Never,
    /// The current content is replaced (at commit, or when the engine takes the old content's
    /// locks, whichever the engine does).
    Always,
    /// As `Always`, but only if the current content still holds this table (unqualified, in the
    /// default schema) at the moment it is replaced, checked atomically with the replacement;
    /// otherwise `Conflict` and the target keeps its content. A guard against a concurrent
    /// change of the target's role (a standby marker dropped by a promote).
    IfHolds(String),
    /// As `Always`, but only if the target database's [`role`] is not active when its content
    /// is replaced: checked under the role row's lock, held across the replacement, so a promote
    /// either lands before (Conflict, the target keeps its content) or after it. A database
    /// without a role is replaced.
    UnlessActive,
}

impl Replace {
    /// Whether the current content may be replaced at all.
    pub fn allowed(&self) -> bool {
        !matches!(self, Replace::Never)
    }

    /// The table the current content must hold, if any.
    pub fn guard(&self) -> Option<&str> {
        match self {
            Replace::IfHolds(t) => Some(t),
            _ => None,
        }
    }

    /// Whether the target's role must be checked at the replacement ([`Replace::UnlessActive`]).
    pub fn checks_role(&self) -> bool {
        matches!(self, Replace::UnlessActive)
    }

    /// The Conflict of a target that is an active site.
    pub fn active_site(database: &str, role: &role::SiteRole) -> tandem_error::Error {
        tandem_error::Error::conflict(format!(
            "database {database} is an active site ({}): tandem never overwrites the site the platform runs on; \
             fence it first if it should become a standby; nothing was replaced",
            role.describe()
        ))
    }

    /// The Conflict of a target whose content lost the guard table.
    pub fn guard_lost(database: &str, table: &str) -> tandem_error::Error {
        tandem_error::Error::conflict(format!(
            "database {database} no longer holds table {table}: its content changed while the restore ran; nothing was replaced"
        ))
    }
}

/// One restore in progress. Dropping it without [`commit`](RestoreSession::commit) must not make
/// anything visible in the target (call [`abort`](RestoreSession::abort) to clean up eagerly).
#[async_trait]
pub trait RestoreSession: Send + Sync {
    /// How many [`copy_in`](RestoreSession::copy_in) calls may run at once.
    fn parallelism(&self) -> usize;

    /// Marks what this session writes with `origin` in the database's log, as an applier's
    /// writes are (a replica's bootstrap is content that came from its source): a stream from
    /// here back to that source skips it. `false` when the engine or the user cannot mark it.
    async fn mark(&self, origin: &changes::Origin) -> Result<bool> {
        let _ = origin;
        Ok(false)
    }

    /// Loads the rows of one table. `rows` yields buffers of whole rows in the engine's
    /// [`RowEncoding`]; an error from the stream aborts the load and is returned. Returns the
    /// number of rows loaded.
    async fn copy_in(&self, table: &TableDef, rows: BoxStream<'static, Result<Bytes>>) -> Result<u64>;

    /// How this engine spells SQL (for [`execute`](RestoreSession::execute)).
    fn dialect(&self) -> &'static dyn Dialect;

    /// Runs one statement on the restored, not yet visible content (after the loads; names
    /// qualified with [`Dialect::table`]). Returns the number of rows it changed.
    async fn execute(&self, sql: &str) -> Result<u64>;

    /// Runs the post-data statements (constraints, indexes, sequences, views) and makes the new
    /// content visible, replacing the old content in one step where the engine allows it.
    async fn commit(self: Box<Self>) -> Result<()>;

    /// Discards everything this session created. The target is left as it was.
    async fn abort(self: Box<Self>) -> Result<()>;
}
