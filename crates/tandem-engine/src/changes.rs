//! Change data capture: the source side ([`ChangeStream`], an engine reading its log) and the
//! apply side ([`Applier`], an engine writing whole source transactions into a replica), with
//! engine-neutral events between them.
//!
//! Rows travel as they do in a backup: each image is one row in the source engine's
//! [`RowEncoding`](crate::RowEncoding) (ending in `\n`), with every column of the table's
//! [`TableDef`](crate::TableDef) as the snapshot read it, so the restore's transforms (location
//! maps, cross-engine conversion, secret re-encryption) apply to change events unchanged.
//!
//! Exactly-once: an applier writes the transactions of one target transaction (one
//! [`Applier::apply`], or [`Applier::write`]s ended by [`Applier::commit`]) and the
//! [`Checkpoint`] that follows them together; a stream started at that checkpoint's position
//! delivers the next source transaction, whole, and nothing before it.
//!
//! Flat memory: a source transaction of more than [`PART_ROWS`] rows comes as
//! [`ChangeEvent::Part`]s followed by its [`ChangeEvent::Commit`] (holding the rest), so neither
//! side holds it whole; the replica writes the parts into one open target transaction.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tandem_error::Result;

use crate::{Dialect, Position, Scope, TableDef};

/// What a change stream delivers next.
#[derive(Debug, Clone)]
pub enum ChangeEvent {
    /// One committed source transaction in commit order: whole, or the rest of one whose
    /// [`Part`](Self::Part)s came just before it.
    Commit(SourceTransaction),
    /// The next rows (about [`PART_ROWS`]) of a source transaction too large to deliver whole;
    /// more parts or its [`Commit`](Self::Commit) follow, nothing else in between. Never
    /// visible in a replica before that commit.
    Part(Vec<RowChange>),
    /// A schema change of the replicated database (DDL) at `position` (just after it): nothing
    /// after it is delivered; the replica must be bootstrapped again.
    SchemaChange { position: Position, statement: String },
    /// Nothing new: the stream has delivered everything the source committed up to `position`
    /// as of `at` (a heartbeat). Lets the caller tell idle from behind.
    Idle { position: Position, at: DateTime<Utc> },
}

/// One committed source transaction.
#[derive(Debug, Clone)]
pub struct SourceTransaction {
    pub changes: Vec<RowChange>,
    /// The position right after the transaction's commit: where a stream resumes.
    pub position: Position,
    /// When the source committed it (the log's clock, whole seconds on MySQL).
    pub committed_at: DateTime<Utc>,
    /// Encoded size of the transaction's row images (for progress and lag in bytes).
    pub bytes: u64,
}

/// One row changed by a source transaction.
#[derive(Debug, Clone)]
pub struct RowChange {
    /// Index of the table in the list the stream was opened with.
    pub table: usize,
    pub op: RowOp,
    /// The row before the change (updates, deletes): one encoded row.
    pub before: Option<Bytes>,
    /// The row after the change (inserts, updates): one encoded row.
    pub after: Option<Bytes>,
    /// Columns of an update whose new value the source did not log because it did not change
    /// (PostgreSQL's unchanged TOASTed values): NULL in `after`, and the replica keeps its own.
    pub unchanged: Vec<usize>,
}

impl RowChange {
    /// A change whose images carry every column.
    pub fn new(table: usize, op: RowOp, before: Option<Bytes>, after: Option<Bytes>) -> RowChange {
        RowChange { table, op, before, after, unchanged: Vec::new() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowOp {
    Insert,
    Update,
    Delete,
    /// Every row of the table is removed (no images).
    Truncate,
}

/// Reads one database's committed changes from the engine's log, in commit order.
#[async_trait]
pub trait ChangeStream: Send {
    /// The next event. Waits for the source when there is nothing to deliver, but returns
    /// [`ChangeEvent::Idle`] at least every few seconds so the caller can report and stop.
    /// Errors: `Unreachable` (the connection broke: open a new stream at the last applied
    /// position), `BadInput` (the log at the position is gone, or the source is misconfigured:
    /// the message says which), `Corrupt` (an event that cannot be decoded).
    async fn next(&mut self) -> Result<ChangeEvent>;

    /// The source's identity (server and database), as stored in [`Checkpoint::source`].
    fn source_id(&self) -> &str;

    /// Where the source's log ends now and how far behind the stream's last event is, when the
    /// engine can tell (bytes of log not yet read).
    async fn source_end(&mut self) -> Result<Option<(Position, u64)>>;

    /// The replica now durably holds everything up to `position` (a position this stream
    /// delivered): a source that keeps its log for the stream (a PostgreSQL slot) may release
    /// what precedes it. Never called for anything not committed in the replica.
    fn confirm(&mut self, position: &Position) {
        let _ = position;
    }

    /// Ends the stream and closes its connections.
    async fn close(self: Box<Self>) -> Result<()>;
}

/// One replication, from a source site into a replica site: what it keeps on the source (for
/// engines that keep something there: a PostgreSQL replication slot and publication), and the
/// origin marks that keep two sites replicating into each other from echoing (see [`Origin`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capture {
    /// The replica's name on its source (tandem's slot and publication are named after it).
    pub name: String,
    /// An existing publication to stream instead of tandem's own.
    pub publication: Option<String>,
    /// The mark of what this replication writes into the replica.
    pub marks: Origin,
    /// The mark of what the opposite replication (replica into source) wrote into the source:
    /// the stream skips it.
    pub skips: Origin,
}

impl Capture {
    /// The replication of site `source` into site `replica`. Its slot and publication are
    /// `tandem_` and the replica's name in lower case, with every character but letters, digits
    /// and `_` turned into `_` (at most 63 bytes).
    pub fn new(replica: &str, source: &str, publication: Option<String>) -> Capture {
        Capture { name: sql_name(&format!("tandem_{replica}")), publication, marks: Origin::applied(source, replica), skips: Origin::applied(replica, source) }
    }
}

/// `name` in lower case with every character but letters, digits and `_` turned into `_`, at
/// most 63 bytes (PostgreSQL's identifiers).
fn sql_name(name: &str) -> String {
    let mut name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c.to_ascii_lowercase() } else { '_' }).collect();
    name.truncate(63);
    name
}

/// The mark a replica's applied writes carry in the replica's own log (a PostgreSQL replication
/// origin, a MySQL/MariaDB server id), naming the replication they came from: a stream from the
/// replica back into that source skips them ([`Capture::skips`]), while a stream into a third
/// site carries them on. One per pair of sites, so that several replicas on one server never
/// share one (a PostgreSQL origin is held by one session at a time).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin(pub String);

impl Origin {
    /// The origin of writes applied from site `from` into site `into`.
    pub fn applied(from: &str, into: &str) -> Origin {
        Origin(sql_name(&format!("tandem_{from}_to_{into}")))
    }

    /// A MySQL/MariaDB server id for the origin: stable, and in a range (0x7b000000..) that
    /// real servers and tandem's binlog readers (0x7a000000..) do not use.
    pub fn server_id(&self) -> u32 {
        let hash = self.0.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        0x7b00_0000 | (hash & 0x00ff_ffff)
    }
}

/// Where a replica's stream will start, prepared on its source before the snapshot that seeds
/// the replica (see [`Engine::begin_capture`](crate::Engine::begin_capture)).
pub struct CaptureStart {
    /// The snapshot to read the seed in: it holds exactly what precedes the position.
    pub snapshot: crate::ImportSnapshot,
    /// Keeps the snapshot importable; drop it once the snapshot is open.
    pub guard: Box<dyn std::any::Any + Send>,
}

/// How long a source keeps the log a replica still needs (from its checkpoint's position on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LogRetention {
    /// Whether the log at the position is still on the source (if not, the replica can never
    /// catch up: it must be bootstrapped again).
    pub kept: bool,
    /// The earliest time the source may purge it by itself; `None` when it will not (no
    /// expiry configured, or the position is in the log being written).
    pub purge_after: Option<DateTime<Utc>>,
    /// How long the source keeps its log (its expiry setting), when it purges by itself.
    pub retention_seconds: Option<u64>,
    /// Bytes of log the source keeps for the replica (a PostgreSQL slot's WAL), when it tells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retained_bytes: Option<u64>,
    /// How many bytes it may keep before it gives the replica up (PostgreSQL:
    /// `max_slot_wal_keep_size`); `None` when unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<u64>,
}

/// How many rows a stream holds of one source transaction before it delivers them as a
/// [`ChangeEvent::Part`] (a part has at least this many, and at most one log event's rows more).
pub const PART_ROWS: usize = 5_000;

/// Where a replica stands: stored in the replica, written with every applied batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The source's identity (server id/uuid and database): a checkpoint of another source
    /// must never be resumed from.
    pub source: String,
    /// The backup the replica was bootstrapped from: its tables are the ones replicated.
    pub backup: String,
    /// The position after the last applied source transaction.
    pub position: Position,
    /// When the source committed the last applied transaction.
    pub committed_at: DateTime<Utc>,
    /// When it was applied.
    pub applied_at: DateTime<Utc>,
    /// Why replication stopped and must not go on from here (a schema change), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The tables whose rows the replica holds (bootstrapped and streamed).
    #[serde(default, skip_serializing_if = "Scope::is_all")]
    pub scope: Scope,
}

/// The table, in every replica, that holds its [`Checkpoint`] (one row, as JSON).
pub const CHECKPOINT_TABLE: &str = "tandem_replication";

impl Checkpoint {
    /// The checkpoint table in `schema` (the schema of the replica's tables; `None` for
    /// engines without schemas).
    fn table(d: &dyn Dialect, schema: Option<&str>) -> String {
        match schema {
            Some(s) => format!("{}.{}", d.ident(s), d.ident(CHECKPOINT_TABLE)),
            None => d.ident(CHECKPOINT_TABLE),
        }
    }

    /// `CREATE TABLE` of the checkpoint table, in plain SQL that both engines run.
    pub fn create_sql(d: &dyn Dialect, schema: Option<&str>) -> String {
        format!("CREATE TABLE {} (id INT NOT NULL PRIMARY KEY, checkpoint TEXT NOT NULL)", Self::table(d, schema))
    }

    /// The statement that stores `self` (the table exists and holds its row).
    pub fn update_sql(&self, d: &dyn Dialect, schema: Option<&str>) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("UPDATE {} SET checkpoint = {} WHERE id = 1", Self::table(d, schema), d.literal(&json))
    }

    /// The statement that stores `self` the first time.
    pub fn insert_sql(&self, d: &dyn Dialect, schema: Option<&str>) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("INSERT INTO {} (id, checkpoint) VALUES (1, {})", Self::table(d, schema), d.literal(&json))
    }

    /// The query that reads it.
    pub fn select_sql(d: &dyn Dialect, schema: Option<&str>) -> String {
        format!("SELECT checkpoint FROM {} WHERE id = 1", Self::table(d, schema))
    }
}

/// Indexes of the columns of `table` that identify a row: the primary key, or every column
/// when there is none.
pub fn row_key(table: &TableDef) -> Vec<usize> {
    let pk: Vec<usize> = table.primary_key.iter().filter_map(|k| table.columns.iter().position(|c| c.name.eq_ignore_ascii_case(k))).collect();
    match pk.is_empty() {
        true => (0..table.columns.len()).collect(),
        false => pk,
    }
}

/// One change as the applier gets it: rows already in the target engine's encoding.
#[derive(Debug, Clone)]
pub struct TargetChange {
    /// Index into the applier's tables.
    pub table: usize,
    pub op: RowOp,
    pub before: Option<Bytes>,
    pub after: Option<Bytes>,
    /// Columns the update leaves as the replica has them (see [`RowChange::unchanged`]).
    pub unchanged: Vec<usize>,
}

/// Writes source transactions into a replica database (see the module doc). The applier keeps
/// at most one target transaction open: [`write`](Self::write) opens it, [`commit`](Self::commit)
/// or [`rollback`](Self::rollback) ends it; until then nothing written is visible.
#[async_trait]
pub trait Applier: Send {
    /// The replica's checkpoint; `None` when it has none (never bootstrapped). Not while a
    /// transaction is open.
    async fn checkpoint(&mut self) -> Result<Option<Checkpoint>>;

    /// Writes `changes` (in source order) into the open target transaction, opening one if none
    /// is. An update or delete that finds no row, or an insert that finds one, is an error
    /// (`Corrupt`: the replica diverged); on any error the open transaction is rolled back:
    /// nothing since the last commit stays written.
    async fn write(&mut self, changes: &[TargetChange]) -> Result<()>;

    /// Stores `checkpoint` and commits the open transaction (an empty one if none is open). On
    /// an error, the transaction is rolled back.
    async fn commit(&mut self, checkpoint: &Checkpoint) -> Result<()>;

    /// Rolls back the open transaction, if any.
    async fn rollback(&mut self) -> Result<()>;

    /// [`write`](Self::write) then [`commit`](Self::commit): the changes and the checkpoint all,
    /// or nothing.
    async fn apply(&mut self, changes: &[TargetChange], checkpoint: &Checkpoint) -> Result<()> {
        self.write(changes).await?;
        self.commit(checkpoint).await
    }

    /// Ends the applier's connection; an open transaction is rolled back.
    async fn close(self: Box<Self>) -> Result<()>;
}

/// An engine's statements on the applier's one connection; [`Transactional`] makes an
/// [`Applier`] of it (keeps track of the open transaction, rolls back after any error, names the
/// database in errors).
#[async_trait]
pub trait ApplyConnection: Send {
    /// The replica database's name (for messages).
    fn database(&self) -> &str;
    /// Reads the checkpoint (no transaction open); `None` without a checkpoint table.
    async fn checkpoint(&mut self) -> Result<Option<Checkpoint>>;
    async fn begin(&mut self) -> Result<()>;
    /// Runs the statements of `changes` in the open transaction; [`diverged`] when one finds
    /// fewer rows than it must change.
    async fn run(&mut self, changes: &[TargetChange]) -> Result<()>;
    /// Runs `update` (the checkpoint's [`Checkpoint::update_sql`]) in the open transaction; the
    /// rows it changed.
    async fn execute(&mut self, update: &str) -> Result<u64>;
    async fn commit(&mut self) -> Result<()>;
    async fn rollback(&mut self) -> Result<()>;
    async fn close(self: Box<Self>) -> Result<()>;
}

/// The [`Applier`] of an [`ApplyConnection`].
pub struct Transactional<C> {
    conn: Box<C>,
    open: bool,
    /// The checkpoint's `UPDATE` for a checkpoint, in the engine's dialect.
    update: fn(&Checkpoint) -> String,
}

impl<C: ApplyConnection> Transactional<C> {
    pub fn new(conn: C, update: fn(&Checkpoint) -> String) -> Transactional<C> {
        Transactional { conn: Box::new(conn), open: false, update }
    }

    async fn begin(&mut self) -> Result<()> {
        if !self.open {
            self.conn.begin().await?;
            self.open = true;
        }
        Ok(())
    }

    async fn store(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        self.begin().await?;
        if self.conn.execute(&(self.update)(checkpoint)).await.map_err(|e| e.context("storing the checkpoint"))? != 1 {
            return Err(tandem_error::Error::conflict(format!("the replica's {CHECKPOINT_TABLE} table holds no checkpoint")));
        }
        self.conn.commit().await?;
        self.open = false;
        Ok(())
    }

    /// Rolls back after an error (the error is what the caller reports).
    async fn abandon<T>(&mut self, result: Result<T>) -> Result<T> {
        if result.is_err() {
            let _ = self.rollback().await;
        }
        result.map_err(|e| e.context(format!("applying changes to database {}", self.conn.database())))
    }
}

#[async_trait]
impl<C: ApplyConnection> Applier for Transactional<C> {
    async fn checkpoint(&mut self) -> Result<Option<Checkpoint>> {
        self.conn.checkpoint().await
    }

    async fn write(&mut self, changes: &[TargetChange]) -> Result<()> {
        let result = match self.begin().await {
            Ok(()) => self.conn.run(changes).await,
            Err(e) => Err(e),
        };
        self.abandon(result).await
    }

    async fn commit(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        let result = self.store(checkpoint).await;
        self.abandon(result).await
    }

    async fn rollback(&mut self) -> Result<()> {
        match std::mem::take(&mut self.open) {
            true => self.conn.rollback().await,
            false => Ok(()),
        }
    }

    async fn close(self: Box<Self>) -> Result<()> {
        self.conn.close().await
    }
}

/// The fields of one row image (exactly one encoded row).
pub fn decode_image(encoding: crate::RowEncoding, image: &[u8]) -> Result<Vec<crate::rowcodec::Field>> {
    let mut rows = crate::rowcodec::decode_rows(encoding, image)?;
    match (rows.pop(), rows.is_empty()) {
        (Some(row), true) => Ok(row),
        _ => Err(tandem_error::Error::corrupt("a row image that is not exactly one row")),
    }
}

/// The parameters of a change's statement (see [`ApplySql`]), from its decoded images.
pub fn change_params(
    op: RowOp,
    key: &[usize],
    before: Option<Vec<crate::rowcodec::Field>>,
    after: Option<Vec<crate::rowcodec::Field>>,
    unchanged: &[usize],
) -> Result<Vec<crate::rowcodec::Field>> {
    let missing = |what: &str| tandem_error::Error::corrupt(format!("a {op:?} change without its {what} image"));
    Ok(match op {
        RowOp::Insert => after.ok_or_else(|| missing("after"))?,
        RowOp::Update => {
            let (before, after) = (before.ok_or_else(|| missing("before"))?, after.ok_or_else(|| missing("after"))?);
            let mut params: Vec<_> = match unchanged.is_empty() {
                true => after,
                false => after.into_iter().enumerate().filter(|(i, _)| !unchanged.contains(i)).map(|(_, f)| f).collect(),
            };
            params.extend(key.iter().map(|&k| before.get(k).cloned().flatten()));
            params
        }
        RowOp::Truncate => Vec::new(),
        RowOp::Delete => {
            let before = before.ok_or_else(|| missing("before"))?;
            key.iter().map(|&k| before.get(k).cloned().flatten()).collect()
        }
    })
}

/// How an engine spells the parts of the statements that apply changes.
#[derive(Clone, Copy)]
pub struct ApplySpelling {
    /// The n-th parameter (0-based) for a column.
    pub param: fn(usize, &crate::ColumnDef) -> String,
    /// The comparison of a key column with a parameter (`keyed`: the table has a primary key;
    /// without one, every column is compared and NULL must match NULL).
    pub matches: fn(column: &str, param: &str, keyed: bool) -> String,
    /// The condition that picks one row of a table without primary key (rows may be identical).
    pub one_row: fn(table: &str, condition: &str) -> String,
}

/// The statements that apply changes to one table. Parameters: an insert takes every column;
/// an update every column (but those it leaves unchanged), then the key columns of the row
/// before; a delete the key columns of the row before (see [`change_params`]); a truncate none
/// (it is a `DELETE` of every row, which both engines run inside a transaction).
#[derive(Clone)]
pub struct ApplySql {
    pub insert: String,
    pub update: String,
    pub delete: String,
    pub truncate: String,
    /// The table's quoted name.
    name: String,
    /// `INSERT INTO t (cols) VALUES`, for [`insert_many`](Self::insert_many).
    insert_head: String,
    /// The key's column indexes and quoted names (the primary key; every column without one).
    key: Vec<(usize, String)>,
    keyed: bool,
    columns: Vec<crate::ColumnDef>,
    quoted: Vec<String>,
    spelling: ApplySpelling,
}

/// The most rows one multi-row insert takes (and fewer when the table is wide: at most
/// [`MAX_PARAMS`] parameters).
pub const INSERT_ROWS: usize = 256;

/// The most parameters one statement takes (both engines' protocols allow 65 535).
pub const MAX_PARAMS: usize = 60_000;

impl ApplySql {
    pub fn new(d: &dyn Dialect, table: &TableDef, spelling: ApplySpelling) -> ApplySql {
        let name = d.table(table);
        let cols = &table.columns;
        let quoted: Vec<String> = cols.iter().map(|c| d.ident(&c.name)).collect();
        let values: Vec<String> = cols.iter().enumerate().map(|(i, c)| (spelling.param)(i, c)).collect();
        let insert_head = format!("INSERT INTO {name} ({}) VALUES", quoted.join(", "));
        let mut sql = ApplySql {
            insert: format!("{insert_head} ({})", values.join(", ")),
            update: String::new(),
            delete: String::new(),
            truncate: format!("DELETE FROM {name}"),
            insert_head,
            key: row_key(table).into_iter().map(|k| (k, quoted[k].clone())).collect(),
            keyed: !table.primary_key.is_empty(),
            columns: cols.clone(),
            quoted,
            name,
            spelling,
        };
        sql.update = sql.update_keeping(&[]);
        sql.delete = format!("DELETE FROM {} WHERE {}", sql.name, sql.condition(0));
        sql
    }

    /// The condition that picks the row by its key, with parameters numbered from `first`.
    fn condition(&self, first: usize) -> String {
        let parts: Vec<String> = self
            .key
            .iter()
            .enumerate()
            .map(|(n, (k, q))| (self.spelling.matches)(q, &(self.spelling.param)(first + n, &self.columns[*k]), self.keyed))
            .collect();
        let c = parts.join(" AND ");
        match self.keyed {
            true => c,
            false => (self.spelling.one_row)(&self.name, &c),
        }
    }

    /// The update that sets every column but `unchanged` (see [`change_params`]).
    pub fn update_keeping(&self, unchanged: &[usize]) -> String {
        let set: Vec<usize> = (0..self.columns.len()).filter(|i| !unchanged.contains(i)).collect();
        let sets: Vec<String> = set.iter().enumerate().map(|(n, &i)| format!("{} = {}", self.quoted[i], (self.spelling.param)(n, &self.columns[i]))).collect();
        format!("UPDATE {} SET {} WHERE {}", self.name, sets.join(", "), self.condition(set.len()))
    }

    /// An insert of `rows` rows in one statement (parameters: every column of each row in turn).
    pub fn insert_many(&self, rows: usize) -> String {
        let width = self.columns.len();
        let tuples: Vec<String> = (0..rows)
            .map(|r| {
                let values: Vec<String> = self.columns.iter().enumerate().map(|(i, c)| (self.spelling.param)(r * width + i, c)).collect();
                format!("({})", values.join(", "))
            })
            .collect();
        format!("{} {}", self.insert_head, tuples.join(", "))
    }

    /// A delete of `rows` rows by primary key in one statement (parameters: the key columns of
    /// each row in turn). Only for tables with a primary key.
    pub fn delete_many(&self, rows: usize) -> String {
        let width = self.key.len();
        let p = |r: usize, n: usize| (self.spelling.param)(r * width + n, &self.columns[self.key[n].0]);
        let cond = match &self.key[..] {
            [(_, k)] => format!("{k} IN ({})", (0..rows).map(|r| p(r, 0)).collect::<Vec<_>>().join(", ")),
            key => (0..rows)
                .map(|r| format!("({})", key.iter().enumerate().map(|(n, (_, k))| format!("{k} = {}", p(r, n))).collect::<Vec<_>>().join(" AND ")))
                .collect::<Vec<_>>()
                .join(" OR "),
        };
        format!("DELETE FROM {} WHERE {cond}", self.name)
    }

    /// How many consecutive changes of `op` one statement of this table takes: inserts up to
    /// [`INSERT_ROWS`] rows, deletes by primary key as many, updates and truncates one.
    pub fn chunk(&self, op: RowOp) -> usize {
        let width = match op {
            RowOp::Insert => self.columns.len(),
            RowOp::Delete if self.keyed => self.key.len(),
            _ => return 1,
        };
        (MAX_PARAMS / width.max(1)).clamp(1, INSERT_ROWS)
    }

    pub fn for_op(&self, op: RowOp) -> &str {
        match op {
            RowOp::Insert => &self.insert,
            RowOp::Update => &self.update,
            RowOp::Delete => &self.delete,
            RowOp::Truncate => &self.truncate,
        }
    }
}

/// The error of a change that found the replica without the row it changes (or with the row it
/// inserts): the replica diverged from its source.
pub fn diverged(table: &TableDef, op: RowOp) -> tandem_error::Error {
    let what = match op {
        RowOp::Insert => "an insert found nothing inserted",
        RowOp::Update => "an update found no row to change",
        RowOp::Delete => "a delete found no row to remove",
        RowOp::Truncate => "a truncate failed",
    };
    tandem_error::Error::corrupt(format!(
        "the replica diverged from its source: in table {}, {what}; nothing since the last applied transaction was kept",
        table.name
    ))
    .with_hint(tandem_error::Hint::Rebootstrap)
}

/// Splits `changes` into runs to apply with one statement each: consecutive changes of the same
/// kind to the same table, at most `chunk(change)` of them (1: alone). Yields `(start, len)`.
pub fn statement_runs(changes: &[TargetChange], chunk: impl Fn(&TargetChange) -> usize) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < changes.len() {
        let c = &changes[i];
        let max = chunk(c).max(1);
        let mut len = 1;
        while len < max && changes.get(i + len).is_some_and(|n| n.op == c.op && n.table == c.table) {
            len += 1;
        }
        runs.push((i, len));
        i += len;
    }
    runs
}

/// One statement of a batch: its SQL (from the table's [`ApplySql`]), its parameters, and the
/// rows it must change (fewer means the replica diverged).
pub struct RunStatement<'a> {
    pub sql: std::borrow::Cow<'a, str>,
    pub params: Vec<crate::rowcodec::Field>,
    pub rows: u64,
}

impl<'a> RunStatement<'a> {
    /// The statement of a run of [`statement_runs`] (rows in `encoding`).
    pub fn of(run: &[TargetChange], sql: &'a ApplySql, key: &[usize], encoding: crate::RowEncoding) -> Result<RunStatement<'a>> {
        let image = |b: &Option<Bytes>| b.as_deref().map(|b| decode_image(encoding, b)).transpose();
        match run {
            [c] => {
                let text = match (c.op, c.unchanged.is_empty()) {
                    (RowOp::Update, false) => sql.update_keeping(&c.unchanged).into(),
                    (op, _) => sql.for_op(op).into(),
                };
                let rows = u64::from(c.op != RowOp::Truncate);
                Ok(RunStatement { sql: text, params: change_params(c.op, key, image(&c.before)?, image(&c.after)?, &c.unchanged)?, rows })
            }
            [first, ..] => {
                let mut params = Vec::with_capacity(run.len() * sql.columns.len());
                for c in run {
                    params.extend(change_params(c.op, key, image(&c.before)?, image(&c.after)?, &[])?);
                }
                let text = match first.op {
                    RowOp::Insert => sql.insert_many(run.len()),
                    RowOp::Delete => sql.delete_many(run.len()),
                    RowOp::Update | RowOp::Truncate => return Err(tandem_error::Error::internal("updates and truncates are applied one statement each")),
                };
                Ok(RunStatement { sql: text.into(), params, rows: run.len() as u64 })
            }
            [] => Err(tandem_error::Error::internal("an empty run of changes")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_inserts_into_one_table_share_a_statement() {
        let c = |table, op| TargetChange { table, op, before: None, after: None, unchanged: Vec::new() };
        let batch = [c(0, RowOp::Insert), c(0, RowOp::Insert), c(0, RowOp::Insert), c(1, RowOp::Insert), c(0, RowOp::Update), c(0, RowOp::Insert)];
        assert_eq!(statement_runs(&batch, |_| 2), vec![(0, 2), (2, 1), (3, 1), (4, 1), (5, 1)]);
        assert_eq!(statement_runs(&batch, |_| 256), vec![(0, 3), (3, 1), (4, 1), (5, 1)]);
        let deletes = [c(0, RowOp::Delete), c(0, RowOp::Delete), c(0, RowOp::Update), c(0, RowOp::Update)];
        assert_eq!(statement_runs(&deletes, |c| if c.op == RowOp::Update { 1 } else { 9 }), vec![(0, 2), (2, 1), (3, 1)]);
    }
}
