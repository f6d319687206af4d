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

use crate::role::{Role, SiteRole};
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
    /// A heartbeat of this stream's replication ([`Heartbeat::beat`]), written at `at` by the
    /// writer's clock: every transaction the source committed before it has been delivered, up
    /// to `position` (where a stream may resume, as after [`Idle`](Self::Idle)).
    Heartbeat { position: Position, at: DateTime<Utc> },
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

/// Writes a replication's heartbeats on its source. Each beat is logged there, so that the
/// replication's stream delivers it ([`ChangeEvent::Heartbeat`]) after every transaction the
/// source committed before it: `now - at` of the newest beat the replica has applied past is
/// its lag, measured end to end with the writer's clock only.
#[async_trait]
pub trait Heartbeat: Send {
    /// Logs one beat at the source, stamped `at`.
    async fn beat(&mut self, at: DateTime<Utc>) -> Result<()>;

    /// Closes its connection.
    async fn close(self: Box<Self>) -> Result<()>;
}

/// What a heartbeat of the replication named `name` ([`Capture::heartbeat_name`]) carries: its
/// name and time, as text (`tandem_a_to_b@hms 1733270400123456`, microseconds since the Unix
/// epoch).
pub fn beat_text(name: &str, at: DateTime<Utc>) -> String {
    format!("{name} {}", at.timestamp_micros())
}

/// The time of a heartbeat's text ([`beat_text`]) when it is one of the replication named
/// `name`; `None` for another replication's or malformed text.
pub fn beat_time(text: &str, name: &str) -> Option<DateTime<Utc>> {
    let (who, micros) = text.rsplit_once(' ')?;
    (who == name).then_some(())?;
    DateTime::from_timestamp_micros(micros.parse().ok()?)
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

impl Capture {
    /// The name of this replication's heartbeats from `database` ([`Heartbeat`]): its origin and
    /// the source database, unique even where a log is the server's (MySQL's binlog) and two
    /// databases of one server have replicas of the same name.
    pub fn heartbeat_name(&self, database: &str) -> String {
        format!("{}@{database}", self.marks.0)
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
    /// When the newest heartbeat the replica had got past was written ([`Heartbeat`]): it held
    /// everything the source committed before then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_at: Option<DateTime<Utc>>,
}

/// The table, in every replica, that holds its [`Checkpoint`] (one row, as JSON).
pub const CHECKPOINT_TABLE: &str = "tandem_replication";

impl Checkpoint {
    /// Whether `table` is the checkpoint table (of the replica a backup or a source was, when
    /// it is found among replicated tables: it holds that replica's place, never replicated).
    pub fn is_table(table: &TableDef) -> bool {
        table.name == CHECKPOINT_TABLE
    }

    /// The checkpoint table in `schema` (the schema of the replica's tables; `None` for
    /// engines without schemas).
    fn table(d: &dyn Dialect, schema: Option<&str>) -> String {
        match schema {
            Some(s) => format!("{}.{}", d.ident(s), d.ident(CHECKPOINT_TABLE)),
            None => d.ident(CHECKPOINT_TABLE),
        }
    }

    /// At most how many seconds the replica trails its source at `now`: the age of the newest
    /// heartbeat it got past, else of the last source commit it applied.
    pub fn behind(&self, now: DateTime<Utc>) -> f64 {
        (now - self.heartbeat_at.unwrap_or(self.committed_at)).num_milliseconds() as f64 / 1000.0
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

    /// The position the replica's checkpoint holds for this replication (the one it read or
    /// last stored): from then on, a transaction that finds the checkpoint elsewhere (a move or
    /// another replication changed it) fails with Conflict before it writes anything.
    /// [`commit`](Self::commit) keeps it current.
    fn expect(&mut self, position: &Position);

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
    /// Runs a small query (in the open transaction, if one is); every value as text.
    async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>>;
    fn dialect(&self) -> &'static dyn crate::Dialect;
    async fn commit(&mut self) -> Result<()>;
    async fn rollback(&mut self) -> Result<()>;
    async fn close(self: Box<Self>) -> Result<()>;
}

/// The [`Applier`] of an [`ApplyConnection`].
pub struct Transactional<C> {
    conn: Box<C>,
    open: bool,
    /// Whether the replica's server has the role table (looked up at the first transaction):
    /// then every transaction locks the replica's role first and goes on only on a standby.
    roles: Option<bool>,
    /// The checkpoint's `UPDATE` for a checkpoint, in the engine's dialect.
    update: fn(&Checkpoint) -> String,
    /// Where the replica's checkpoint must be when a transaction begins ([`Applier::expect`]).
    expected: Option<Position>,
}

impl<C: ApplyConnection> Transactional<C> {
    pub fn new(conn: C, update: fn(&Checkpoint) -> String) -> Transactional<C> {
        Transactional { conn: Box::new(conn), open: false, roles: None, update, expected: None }
    }

    async fn begin(&mut self) -> Result<()> {
        if !self.open {
            if self.roles.is_none() {
                let exists = self.conn.query(&SiteRole::exists_sql(self.conn.dialect())).await?;
                self.roles = Some(exists.first().and_then(|r| r.first().cloned().flatten()).as_deref() == Some("1"));
            }
            self.conn.begin().await?;
            self.open = true;
            if self.roles == Some(true) {
                self.check_role().await?;
            }
            self.check_position().await?;
        }
        Ok(())
    }

    /// Conflict when the replica's checkpoint is not where this replication expects it (after
    /// the role lock, which every move that stores a checkpoint takes too).
    async fn check_position(&mut self) -> Result<()> {
        let Some(expected) = &self.expected else { return Ok(()) };
        let held = self.conn.checkpoint().await?;
        match held {
            Some(cp) if cp.position == *expected => Ok(()),
            held => Err(tandem_error::Error::conflict(format!(
                "the replica's checkpoint is at {}, not at {} where this replication left it: a move or another replication changed it; \
                 nothing was applied (start the replication again to go on from the checkpoint)",
                held.map_or("nowhere".to_string(), |c| c.position.value),
                expected.value
            ))),
        }
    }

    /// Locks the replica's role row, first in the transaction ([`crate::role`]): Conflict when
    /// the replica is no standby any more (promoted or fenced), so nothing is applied into it.
    async fn check_role(&mut self) -> Result<()> {
        let sql = SiteRole::lock_sql(self.conn.dialect(), self.conn.database());
        let rows = self.conn.query(&sql).await.map_err(|e| e.context("locking the replica's role"))?;
        match rows.first().map(|r| SiteRole::from_row(r)).transpose()? {
            Some(role) if role.role != Role::Standby => {
                Err(tandem_error::Error::conflict(format!("the replica is no standby any more ({}): nothing more is applied into it", role.describe())))
            }
            _ => Ok(()),
        }
    }

    async fn store(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        self.begin().await?;
        if self.conn.execute(&(self.update)(checkpoint)).await.map_err(|e| e.context("storing the checkpoint"))? != 1 {
            return Err(tandem_error::Error::conflict(format!("the replica's {CHECKPOINT_TABLE} table holds no checkpoint")));
        }
        self.conn.commit().await?;
        self.open = false;
        if self.expected.is_some() {
            self.expected = Some(checkpoint.position.clone());
        }
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

    fn expect(&mut self, position: &Position) {
        self.expected = Some(position.clone());
    }

    async fn close(self: Box<Self>) -> Result<()> {
        self.conn.close().await
    }
}

mod statements;

pub use statements::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beat_is_read_back_only_by_its_replication() {
        let at = DateTime::from_timestamp_micros(1_733_270_400_123_456).unwrap();
        let name = Capture::new("dr", "primary", None).heartbeat_name("my db");
        assert_eq!(name, "tandem_primary_to_dr@my db");
        let text = beat_text(&name, at);
        assert_eq!(beat_time(&text, &name), Some(at), "{text}");
        assert_eq!(beat_time(&text, "tandem_primary_to_dr@other"), None, "another replication's beat");
        for broken in ["", "tandem_primary_to_dr@my db", "tandem_primary_to_dr@my db x", "tandem_primary_to_dr@my db 99999999999999999999"] {
            assert_eq!(beat_time(broken, &name), None, "{broken:?}");
        }
    }
}
