//! Continuous replication: a replica kept within seconds of its source by streaming the
//! source's committed changes ([`tandem_engine::changes`]) into it.
//!
//! 1. **Bootstrap** (no checkpoint in the replica, or asked for): a backup of the source into
//!    the repository (or one already there, [`Seed`]), then a restore of it into the replica (location maps, cross-engine
//!    conversion, re-encryption, fix-ups) that stores the [`Checkpoint`] at the backup's log
//!    position with the restored content, before it becomes visible. A stream opened there
//!    delivers exactly the transactions the backup does not hold.
//! 2. **Stream**: whole source transactions, transformed row by row as the restore transforms
//!    rows ([`pipeline`]), several per target transaction, each target transaction storing the
//!    checkpoint of its last source transaction: a crash anywhere resumes exactly once. A
//!    source transaction too large to hold arrives in parts, written into one target
//!    transaction as they come.
//! 3. **Stop**: when asked (between target transactions), when the source changes its schema
//!    (the checkpoint records why and replication refuses to go on until a rebootstrap), or on
//!    an error. A source or replica that cannot be reached is not an error: streaming starts
//!    again from the checkpoint once both answer (pauses of 1 s doubling to 30 s).

mod bootstrap;
pub mod control;
mod heartbeat;
mod passive;
pub(crate) mod pipeline;
pub mod retention;
pub mod reverse;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tandem_engine::changes::{Applier, Capture, ChangeEvent, ChangeStream, Checkpoint, RowChange, SourceTransaction};
use tandem_engine::{DbUrl, Engine, Position, Scope};
use tandem_error::{Error, Hint, Kind, Result, ResultExt};
use tandem_repo::Repository;
use tandem_system::{LocationMap, SiteKeys};
use tokio::sync::watch;

use crate::{Events, Registry};
use pipeline::Pipeline;
use retention::LogWatch;

/// The most rows one target transaction takes (several source transactions share one).
const BATCH_ROWS: usize = 5_000;

/// How long to wait for more source transactions before applying a batch.
const BATCH_WAIT: Duration = Duration::from_millis(5);

/// How often an idle replica stores a position that moved past other databases' events (so
/// the binlog it needs stays recent; not more often: on a shared server the write is itself
/// logged).
const IDLE_CHECKPOINT_EVERY: Duration = Duration::from_secs(60);

/// How often a running replication looks at the kill switch ([`control`]).
const PAUSE_CHECK_EVERY: Duration = Duration::from_secs(1);

/// The first pause before a new round after a server was unreachable; it doubles up to
/// [`RETRY_MAX`] while rounds fail without applying anything.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// How often progress is reported.
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// How often a streaming replication writes a heartbeat at its source
/// ([`tandem_engine::changes::Heartbeat`]).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// How often an idle replica stores the newest heartbeat it got past in its checkpoint (for
/// `replicate status` in another process; a busy one stores it with every batch).
const HEARTBEAT_CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// Everything replication needs.
pub struct ReplicateRequest<'a> {
    pub registry: &'a Registry,
    /// The source site's name (its backups in the repository are recorded under it).
    pub site: String,
    pub source: DbUrl,
    pub target: DbUrl,
    pub repo: Repository,
    pub locations: LocationMap,
    pub keys: SiteKeys,
    /// Bootstrap again even when the replica has a checkpoint (replacing its content).
    pub rebootstrap: bool,
    /// Where a bootstrap copies the source from.
    pub seed: Seed,
    /// The tables whose rows are replicated (the others are created empty); must stay what
    /// the replica was bootstrapped with.
    pub scope: Scope,
    /// The replication's names: what it keeps on the source (a PostgreSQL slot and
    /// publication) and the origin marks of its writes.
    pub capture: Capture,
    /// The role that owns what a bootstrap restores (see [`crate::RestoreRequest::owner`]).
    pub owner: Option<String>,
    /// Becomes `true` to stop at the next transaction boundary.
    pub stop: watch::Receiver<bool>,
}

/// Where a replica's first copy comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Seed {
    /// A new backup of the source: a full read of it, and always streamable from.
    #[default]
    Fresh,
    /// A backup of the source already in the repository (the newest when `None`): nothing is
    /// read from the source but its log, from the backup's position, which the source must
    /// still keep.
    Backup(Option<tandem_repo::BackupId>),
}

/// Where a running replication stands; published on every change.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplicaStatus {
    /// `bootstrapping`, `streaming`, `stopped`.
    pub state: String,
    /// The position after the last applied source transaction.
    pub position: Option<String>,
    /// When the source committed the last applied transaction.
    pub committed_at: Option<DateTime<Utc>>,
    /// When the replica was last known to hold everything the source had committed (the last
    /// heartbeat with nothing pending).
    pub caught_up_at: Option<DateTime<Utc>>,
    /// Seconds the replica trails its source: the age of the newest heartbeat it got past
    /// (written at the source by this replication every second, when the source lets it), 0
    /// when the stream said it was caught up, else the age of the last applied transaction's
    /// commit; while the source is unreachable, the age of the newest of these.
    pub lag_seconds: f64,
    /// When the newest heartbeat the replica got past was written (see [`HEARTBEAT_EVERY`]);
    /// `None` without heartbeats.
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub transactions: u64,
    pub rows: u64,
    /// Rows applied per second over the last report interval.
    pub rows_per_second: f64,
    /// Bytes of source log not yet read, when the source tells.
    pub behind_bytes: Option<u64>,
    /// How long the source keeps the log from the replica's position on (looked at every
    /// minute; `None` before the first look or when the engine cannot tell).
    pub log: Option<tandem_engine::changes::LogRetention>,
    /// The log the replica needs is purged or may be soon ([`retention::at_risk`]).
    pub log_at_risk: bool,
}

impl ReplicaStatus {
    /// The newest instant up to which the replica is known to hold everything its source
    /// committed.
    fn known_since(&self) -> Option<DateTime<Utc>> {
        [self.heartbeat_at, self.caught_up_at, self.committed_at].into_iter().flatten().max()
    }
}

/// Seconds from `t` to now (0 for a time to come).
fn seconds_since(t: DateTime<Utc>) -> f64 {
    (Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
}

/// What a replication run did before it stopped.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicateReport {
    /// Whether this run bootstrapped the replica, and from which backup.
    pub bootstrapped: Option<String>,
    pub status: ReplicaStatus,
}

/// Runs replication until stopped (see the module doc). Returns when `stop` turns true; an
/// error otherwise (a schema change is a Conflict with the rebootstrap hint).
pub async fn replicate(req: ReplicateRequest<'_>, events: Arc<dyn Events>, status: watch::Sender<ReplicaStatus>) -> Result<ReplicateReport> {
    let what = format!("replication of site {} into {}", req.site, req.target);
    run(req, events, status).await.with_context(|| what)
}

async fn run(req: ReplicateRequest<'_>, events: Arc<dyn Events>, status: watch::Sender<ReplicaStatus>) -> Result<ReplicateReport> {
    let source_engine = req.registry.engine_of(&req.source)?;
    let target_engine = req.registry.engine_of(&req.target)?;
    let mut checkpoint = checkpoint(target_engine, &req.target).await?;
    let mut bootstrapped = None;
    if checkpoint.is_none() || req.rebootstrap {
        status.send_modify(|s| s.state = "bootstrapping".into());
        let cp = bootstrap::bootstrap(&req, source_engine, target_engine, checkpoint.is_some(), events.clone()).await?;
        bootstrapped = Some(cp.backup.clone());
        checkpoint = Some(cp);
    }
    let checkpoint = checkpoint.ok_or_else(|| Error::internal("no checkpoint after bootstrap"))?;
    if let Some(why) = &checkpoint.stopped {
        return Err(Error::conflict(format!("replication stopped at {}: {why}", checkpoint.position.value)).with_hint(Hint::Rebootstrap));
    }
    if checkpoint.scope != req.scope {
        return Err(Error::conflict(format!(
            "the replica was bootstrapped with the rows of {}, but the site's scope is now {}: tables that came into it have no rows",
            checkpoint.scope, req.scope
        ))
        .with_hint(Hint::Rebootstrap));
    }
    let pipeline = Pipeline::new(&req, target_engine, &checkpoint).await?;
    let heartbeat_refused = AtomicBool::new(false);
    let mut streaming = Streaming {
        pipeline: &pipeline,
        checkpoint,
        status: &status,
        events: events.as_ref(),
        target: (target_engine, &req.target),
        last_report: Instant::now(),
        rows_at_report: 0,
        last_pause_check: Instant::now(),
        log_watch: LogWatch::default(),
        hold: None,
        source: (source_engine, &req.source, &req.capture),
        heartbeat_refused: &heartbeat_refused,
    };
    let mut stop = req.stop.clone();
    let mut retry = RETRY_FIRST;
    // Each round streams until stopped or paused (a paused replica waits for its resume), or
    // until a server is unreachable: then a new round after a pause, from the checkpoint.
    loop {
        let applied = streaming.checkpoint.position.clone();
        let outcome = match streaming.wait_while_paused(&mut stop).await {
            Ok(false) => break,
            Ok(true) => streaming.round(stop.clone()).await,
            Err(e) => Err(e),
        };
        let Err(e) = outcome else { continue };
        if e.kind() != Kind::Unreachable {
            status.send_modify(|s| s.state = "stopped".into());
            return Err(e);
        }
        if streaming.checkpoint.position != applied {
            retry = RETRY_FIRST;
        }
        events.warn(&format!("{e}; trying again in {} s", retry.as_secs()));
        status.send_modify(|s| {
            s.state = format!("retrying: {e}");
            s.lag_seconds = s.known_since().map_or(s.lag_seconds, seconds_since);
        });
        tokio::select! {
            _ = stop.changed() => {}
            _ = tokio::time::sleep(retry) => {}
        }
        retry = (retry * 2).min(RETRY_MAX);
    }
    status.send_modify(|s| s.state = "stopped".into());
    Ok(ReplicateReport { bootstrapped, status: status.borrow().clone() })
}

/// The replica's checkpoint, if it has one (an empty or missing database has none).
pub async fn checkpoint(engine: &dyn Engine, target: &DbUrl) -> Result<Option<Checkpoint>> {
    let state = engine.target(target).await?.inspect().await?;
    if state.relations.is_empty() {
        return Ok(None);
    }
    let mut applier = engine.applier(target, Vec::new(), None).await?;
    let cp = applier.checkpoint().await;
    let _ = applier.close().await;
    cp
}

/// The streaming loop's state.
struct Streaming<'a> {
    pipeline: &'a Pipeline<'a>,
    checkpoint: Checkpoint,
    status: &'a watch::Sender<ReplicaStatus>,
    events: &'a dyn Events,
    /// The replica: its applier and its kill switch.
    target: (&'a dyn Engine, &'a DbUrl),
    last_report: Instant,
    rows_at_report: u64,
    last_pause_check: Instant,
    log_watch: LogWatch,
    /// A hold's position, once seen (see [`control`]).
    hold: Option<Position>,
    /// The source: its change stream and its log retention.
    source: (&'a dyn Engine, &'a DbUrl, &'a Capture),
    /// Whether the source refused the heartbeat (see [`heartbeat::beat`]).
    heartbeat_refused: &'a AtomicBool,
}

impl Streaming<'_> {
    /// Waits while the replica is paused (showing it in the status, and how long the source
    /// keeps the log it needs); `false` once asked to stop.
    async fn wait_while_paused(&mut self, stop: &mut watch::Receiver<bool>) -> Result<bool> {
        loop {
            if *stop.borrow() {
                return Ok(false);
            }
            let pause = control::paused(self.target.0, self.target.1).await?;
            if !self.stops(pause.as_ref())? {
                return Ok(true);
            }
            if let Some(p) = pause {
                let state = match &p.until {
                    Some(at) => format!("held at {}: {}", at.value, p.paused),
                    None => format!("paused: {}", p.paused),
                };
                self.status.send_modify(|s| s.state = state);
            }
            self.log_watch.check(self.source, &self.checkpoint, self.status, self.events).await;
            tokio::select! {
                _ = stop.changed() => {}
                _ = tokio::time::sleep(PAUSE_CHECK_EVERY) => {}
            }
        }
    }

    /// Whether `pause` (the switch's state) stops streaming: the kill switch does, a hold once
    /// the replica is at its position (the hold is kept in `self.hold`).
    fn stops(&mut self, pause: Option<&control::Pause>) -> Result<bool> {
        self.hold = pause.and_then(|p| p.until.clone());
        match pause {
            Some(p) if p.until.is_none() => Ok(true),
            _ => self.held(),
        }
    }

    /// Opens the source's stream at the checkpoint and the replica's applier, and streams until
    /// asked to stop or paused (`Ok`), or an error.
    async fn round(&mut self, stop: watch::Receiver<bool>) -> Result<()> {
        let ((source, source_url, capture), (target, target_url)) = (self.source, self.target);
        let position = self.checkpoint.position.clone();
        let mut stream = source.changes(source_url, &position, &self.pipeline.source_tables(), capture).await?;
        if stream.source_id() != self.checkpoint.source {
            let theirs = stream.source_id().to_string();
            let _ = stream.close().await;
            return Err(Error::bad_input(format!(
                "the replica was bootstrapped from {}, but the source is now {theirs}: its position means nothing there",
                self.checkpoint.source
            ))
            .with_hint(Hint::Rebootstrap));
        }
        let mut applier = match target.applier(target_url, self.pipeline.target_tables(), Some(&capture.marks)).await {
            Ok(a) => a,
            Err(e) => {
                let _ = stream.close().await;
                return Err(e);
            }
        };
        applier.expect(&position);
        self.status.send_modify(|s| {
            s.state = "streaming".into();
            s.position = Some(position.value.clone());
            s.committed_at = Some(self.checkpoint.committed_at);
        });
        self.events.info(&format!("streaming from {source_url} at {}", position.value));
        let (refused, events) = (self.heartbeat_refused, self.events);
        let outcome = tokio::select! {
            r = self.stream(stream.as_mut(), applier.as_mut(), stop) => r,
            never = heartbeat::beat(source, source_url, capture, refused, events) => match never {},
        };
        let _ = stream.close().await;
        let _ = applier.close().await;
        outcome
    }

    /// Streams until asked to stop or paused (`Ok`), or an error.
    async fn stream(&mut self, stream: &mut dyn ChangeStream, applier: &mut dyn Applier, mut stop: watch::Receiver<bool>) -> Result<()> {
        let mut next: Option<ChangeEvent> = None;
        loop {
            // The replica holds everything up to its checkpoint: the source may let go of it.
            stream.confirm(&self.checkpoint.position);
            if *stop.borrow() {
                return Ok(());
            }
            if self.paused().await? {
                return Ok(());
            }
            let event = match next.take() {
                Some(e) => e,
                None => tokio::select! {
                    _ = stop.changed() => continue,
                    e = stream.next() => e?,
                },
            };
            match event {
                ChangeEvent::Commit(txn) => {
                    let mut batch = vec![txn];
                    // More transactions that are already there join the batch.
                    while batch.iter().map(|t| t.changes.len()).sum::<usize>() < BATCH_ROWS {
                        match tokio::time::timeout(BATCH_WAIT, stream.next()).await {
                            Ok(Ok(ChangeEvent::Commit(t))) => batch.push(t),
                            Ok(Ok(other)) => {
                                next = Some(other);
                                break;
                            }
                            Ok(Err(e)) => {
                                self.apply(applier, &batch, 0).await?;
                                return Err(e);
                            }
                            Err(_) => break,
                        }
                    }
                    // Not applied when paused meanwhile: the next round reads it again.
                    if self.paused().await? {
                        return Ok(());
                    }
                    let keep = self.before_hold(&batch)?;
                    self.apply(applier, &batch[..keep], 0).await?;
                    if keep < batch.len() {
                        return self.reach_hold(applier).await;
                    }
                }
                ChangeEvent::Part(rows) => {
                    next = self.apply_parts(stream, applier, rows, &stop).await?;
                    if self.held()? {
                        return Ok(());
                    }
                }
                ChangeEvent::Idle { position, at } => {
                    if self.passes_hold(&position)? {
                        return self.reach_hold(applier).await;
                    }
                    if position != self.checkpoint.position {
                        self.keep_position(applier, position, IDLE_CHECKPOINT_EVERY).await?;
                    }
                    self.status.send_modify(|s| {
                        s.caught_up_at = Some(at);
                        s.lag_seconds = 0.0;
                        s.position = Some(self.checkpoint.position.value.clone());
                    });
                    self.log_watch.check(self.source, &self.checkpoint, self.status, self.events).await;
                    // The source's log end is asked for only when a report is due.
                    if self.last_report.elapsed() >= REPORT_EVERY {
                        if let Ok(Some((_, behind))) = stream.source_end().await {
                            self.status.send_modify(|s| s.behind_bytes = Some(behind));
                        }
                    }
                    self.report();
                }
                ChangeEvent::Heartbeat { position, at } => {
                    if self.passes_hold(&position)? {
                        return self.reach_hold(applier).await;
                    }
                    self.status.send_modify(|s| {
                        s.heartbeat_at = Some(at);
                        s.lag_seconds = seconds_since(at);
                    });
                    self.checkpoint.heartbeat_at = Some(at);
                    self.keep_position(applier, position, HEARTBEAT_CHECKPOINT_EVERY).await?;
                    self.report();
                }
                ChangeEvent::SchemaChange { position, statement } => {
                    let why = format!("schema changed at {}: {statement}", position.value);
                    self.checkpoint.stopped = Some(why.clone());
                    self.checkpoint.applied_at = Utc::now();
                    applier.apply(&[], &self.checkpoint).await?;
                    self.status.send_modify(|s| s.state = format!("paused: {why}"));
                    return Err(Error::conflict(format!("replication paused: {why}")).with_hint(Hint::Rebootstrap));
                }
            }
        }
    }

    /// Whether to stop streaming: the kill switch is on, or the replica is at its hold's
    /// position. The switch is looked at most every [`PAUSE_CHECK_EVERY`]; a hold is kept in
    /// `self.hold`.
    async fn paused(&mut self) -> Result<bool> {
        if self.last_pause_check.elapsed() >= PAUSE_CHECK_EVERY {
            self.last_pause_check = Instant::now();
            let pause = control::paused(self.target.0, self.target.1).await?;
            return self.stops(pause.as_ref());
        }
        self.held()
    }

    /// Whether the replica is at (or past) its hold's position.
    fn held(&self) -> Result<bool> {
        self.passes_hold(&self.checkpoint.position)
    }

    /// Whether the stream, at `position` with everything before it applied, has reached a
    /// hold's position: everything up to it is applied.
    fn passes_hold(&self, position: &Position) -> Result<bool> {
        match &self.hold {
            Some(p) => Ok(self.source.0.compare_positions(position, p)? != std::cmp::Ordering::Less),
            None => Ok(false),
        }
    }

    /// Stores the checkpoint (no rows) at `position`, a place the stream passed with nothing of
    /// the replicated tables after the last applied transaction, when its last write is older
    /// than `every`: events outside the replicated tables (heartbeats, other databases) move
    /// the position, and a stored position the source still keeps log for must stay recent.
    async fn keep_position(&mut self, applier: &mut dyn Applier, position: Position, every: Duration) -> Result<()> {
        if (Utc::now() - self.checkpoint.applied_at).to_std().unwrap_or_default() < every {
            return Ok(());
        }
        self.checkpoint.position = position;
        self.checkpoint.applied_at = Utc::now();
        applier.apply(&[], &self.checkpoint).await
    }

    fn beyond_hold(&self, position: &Position) -> Result<bool> {
        match &self.hold {
            Some(p) => Ok(self.source.0.compare_positions(position, p)? == std::cmp::Ordering::Greater),
            None => Ok(false),
        }
    }

    /// How many transactions of `batch` come before the hold's position (all without a hold).
    fn before_hold(&self, batch: &[SourceTransaction]) -> Result<usize> {
        for (i, t) in batch.iter().enumerate() {
            if self.beyond_hold(&t.position)? {
                return Ok(i);
            }
        }
        Ok(batch.len())
    }

    /// The replica holds everything up to the hold's position: its checkpoint goes there (a
    /// commit boundary of the source's log, where a stream can start).
    async fn reach_hold(&mut self, applier: &mut dyn Applier) -> Result<()> {
        let Some(p) = self.hold.clone() else { return Ok(()) };
        if !self.held()? {
            let mut cp = self.checkpoint.clone();
            cp.position = p.clone();
            cp.applied_at = Utc::now();
            applier.commit(&cp).await?;
            self.checkpoint = cp;
        }
        self.status.send_modify(|s| {
            s.state = format!("held at {}", p.value);
            s.position = Some(p.value.clone());
        });
        Ok(())
    }

    /// Writes a source transaction that comes in parts into one target transaction, part by
    /// part as they arrive, and commits it with its last part ([`ChangeEvent::Commit`]). Rolled
    /// back when asked to stop or when the stream ends it otherwise (a schema change: returned
    /// to be handled next).
    async fn apply_parts(
        &mut self,
        stream: &mut dyn ChangeStream,
        applier: &mut dyn Applier,
        first: Vec<RowChange>,
        stop: &watch::Receiver<bool>,
    ) -> Result<Option<ChangeEvent>> {
        let mut part = first;
        let mut written = 0;
        loop {
            let changes = self.pipeline.transform(part.iter())?;
            applier.write(&changes).await?;
            written += changes.len() as u64;
            let event = match *stop.borrow() {
                true => None,
                false => Some(stream.next().await),
            };
            match event {
                Some(Ok(ChangeEvent::Part(p))) => part = p,
                Some(Ok(ChangeEvent::Commit(txn))) if self.beyond_hold(&txn.position)? => {
                    applier.rollback().await?;
                    return self.reach_hold(applier).await.map(|()| None);
                }
                Some(Ok(ChangeEvent::Commit(txn))) => return self.apply(applier, &[txn], written).await.map(|()| None),
                other => {
                    applier.rollback().await?;
                    return other.transpose();
                }
            }
        }
    }

    /// Applies source transactions in one target transaction with the checkpoint of the last
    /// (`written`: rows of them already written into it as parts).
    async fn apply(&mut self, applier: &mut dyn Applier, batch: &[SourceTransaction], written: u64) -> Result<()> {
        let Some(last) = batch.last() else { return Ok(()) };
        let changes = self.pipeline.transform(batch.iter().flat_map(|t| &t.changes))?;
        let mut cp = self.checkpoint.clone();
        cp.position = last.position.clone();
        cp.committed_at = last.committed_at;
        cp.applied_at = Utc::now();
        applier.apply(&changes, &cp).await?;
        self.checkpoint = cp;
        let rows = written + changes.len() as u64;
        let lag = seconds_since(last.committed_at);
        self.status.send_modify(|s| {
            s.position = Some(last.position.value.clone());
            s.committed_at = Some(last.committed_at);
            s.transactions += batch.len() as u64;
            s.rows += rows;
            s.lag_seconds = lag;
        });
        self.report();
        Ok(())
    }

    /// A progress line every [`REPORT_EVERY`].
    fn report(&mut self) {
        let elapsed = self.last_report.elapsed();
        if elapsed < REPORT_EVERY {
            return;
        }
        let rows = self.status.borrow().rows;
        let rate = (rows - self.rows_at_report) as f64 / elapsed.as_secs_f64();
        self.status.send_modify(|s| s.rows_per_second = rate);
        let s = self.status.borrow().clone();
        self.events.info(&format!(
            "{}: {} transactions, {} rows applied ({rate:.0} rows/s), lag {:.1} s, at {}",
            s.state,
            s.transactions,
            s.rows,
            s.lag_seconds,
            s.position.as_deref().unwrap_or("?")
        ));
        self.last_report = Instant::now();
        self.rows_at_report = rows;
    }
}
