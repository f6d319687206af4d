//! The kill switch: a replica's replication can be paused and resumed durably. The switch is row
//! 2 of the replica's checkpoint table (`{"paused": REASON, "at": TIME}`; row 1 is the
//! checkpoint), so it survives restarts of tandem and of the daemon, and a running replication
//! sees it within a second.
//!
//! A hold (`"until": POSITION`) pauses at a given point of the source's history instead: a
//! running replication applies every transaction up to the position, stores its checkpoint at
//! exactly that position, and waits there (one already past it waits where it is). [`Hold`]
//! uses it to read a live replica and its source at one point (`verify`), renewing it while it
//! reads; a hold not renewed for [`HOLD_LEASE`] (its verify died) counts as no pause at all.

use std::cmp::Ordering;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tandem_engine::changes::{Checkpoint, CHECKPOINT_TABLE};
use tandem_engine::{DbUrl, Engine, Position};
use tandem_error::{Error, Result, ResultExt};

/// Row 2 of the checkpoint table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub paused: String,
    pub at: DateTime<Utc>,
    /// A hold: pause once the replica is at this position of the source's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Position>,
}

/// How long a hold lasts without being renewed.
pub const HOLD_LEASE: Duration = Duration::from_secs(60);

/// How often [`Hold`] renews its hold while the verify reads.
const HOLD_RENEW: Duration = Duration::from_secs(10);

/// The replica's pause, if it is paused (an expired hold is none). Errors (BadInput) when the
/// database is no replica.
pub async fn paused(engine: &dyn Engine, url: &DbUrl) -> Result<Option<Pause>> {
    let lease = chrono::Duration::from_std(HOLD_LEASE).unwrap_or_default();
    Ok(stored_pause(engine, url).await?.filter(|p| p.until.is_none() || Utc::now() - p.at < lease))
}

async fn stored_pause(engine: &dyn Engine, url: &DbUrl) -> Result<Option<Pause>> {
    stored(engine, url, 2, "the pause switch").await
}

/// Row `id` of the replica's checkpoint table, read as JSON (`what` names it in errors).
async fn stored<T: serde::de::DeserializeOwned>(engine: &dyn Engine, url: &DbUrl, id: u8, what: &str) -> Result<Option<T>> {
    let tx = engine.transaction(url).await?;
    let d = tx.dialect();
    let sql = format!("SELECT checkpoint FROM {} WHERE id = {id}", d.ident(CHECKPOINT_TABLE));
    let rows = tx.query(&sql).await.map_err(|e| no_replica(url, e))?;
    tx.rollback().await?;
    rows.first()
        .and_then(|r| r.first().cloned().flatten())
        .map(|json| serde_json::from_str(&json).map_err(|e| Error::corrupt(format!("{what} in database {} cannot be read: {e}", url.database))))
        .transpose()
}

/// Pauses (with a reason) or resumes (`None`) the replica's replication.
pub async fn set_paused(engine: &dyn Engine, url: &DbUrl, reason: Option<&str>) -> Result<()> {
    set(engine, url, reason.map(|r| Pause { paused: r.to_string(), at: Utc::now(), until: None })).await
}

async fn set(engine: &dyn Engine, url: &DbUrl, pause: Option<Pause>) -> Result<()> {
    let tx = engine.transaction(url).await?;
    let d = tx.dialect();
    let table = d.ident(CHECKPOINT_TABLE);
    tx.execute(&format!("DELETE FROM {table} WHERE id = 2")).await.map_err(|e| no_replica(url, e))?;
    if let Some(pause) = pause {
        let json = serde_json::to_string(&pause).unwrap_or_default();
        tx.execute(&format!("INSERT INTO {table} (id, checkpoint) VALUES (2, {})", d.literal(&json))).await.context("storing the pause")?;
    }
    tx.commit().await
}

/// How long [`Hold::hold_at`] waits for the replica to reach the position.
const HOLD_WAIT: Duration = Duration::from_secs(60);

/// How long a replica's checkpoint must stay unchanged to count as stopped: more than two
/// looks at the switch by a running replication ([`super::PAUSE_CHECK_EVERY`]).
const SETTLED: Duration = Duration::from_millis(2_500);

/// Holds a live replica at the positions of its source's snapshots (see the module doc).
pub struct Hold<'a> {
    replica: &'a dyn Engine,
    url: DbUrl,
    /// The source's engine, which orders its log positions.
    source: &'a dyn Engine,
    /// The position held at, once reached.
    at: std::sync::Mutex<Option<Position>>,
    /// Why it holds, as `replicate status` shows it.
    why: &'static str,
}

#[async_trait]
impl crate::verify::Align for Hold<'_> {
    async fn hold_at(&self, position: &Position) -> Result<bool> {
        let what = || format!("holding replica {} at {}", self.url.database, position.value);
        if let Some(p) = paused(self.replica, &self.url).await? {
            if p.until.is_none() {
                return Err(Error::conflict(format!(
                    "replication into database {} is paused ({}): it cannot reach the source's position; resume it first",
                    self.url.database, p.paused
                )));
            }
        }
        self.hold(Some(position.clone())).await.with_context(what)?;
        let deadline = Instant::now() + HOLD_WAIT;
        loop {
            let cp = self.position().await?;
            match self.source.compare_positions(&cp, position).with_context(what)? {
                Ordering::Equal => {
                    *self.at.lock().unwrap_or_else(|e| e.into_inner()) = Some(position.clone());
                    return Ok(true);
                }
                Ordering::Greater => {
                    self.settle(cp, deadline).await?;
                    return Ok(false);
                }
                Ordering::Less if Instant::now() > deadline => {
                    let _ = self.release().await;
                    return Err(Error::unreachable(format!(
                        "replica {} did not reach the source's position {} within {} s (it is at {}): is `tandem replicate` running for it?",
                        self.url.database,
                        position.value,
                        HOLD_WAIT.as_secs(),
                        cp.value
                    )));
                }
                Ordering::Less => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn keep(&self) -> Result<()> {
        loop {
            tokio::time::sleep(HOLD_RENEW).await;
            let until = self.at.lock().unwrap_or_else(|e| e.into_inner()).clone();
            self.hold(until).await.context("renewing the hold of the replica")?;
        }
    }

    async fn release(&self) -> Result<()> {
        *self.at.lock().unwrap_or_else(|e| e.into_inner()) = None;
        set(self.replica, &self.url, None).await
    }
}

impl<'a> Hold<'a> {
    /// Holds `url` (a replica on `replica`), whose source's log positions `source` orders, for
    /// `why` (`held for verify`).
    pub fn new(replica: &'a dyn Engine, url: DbUrl, source: &'a dyn Engine, why: &'static str) -> Hold<'a> {
        Hold { replica, url, source, at: std::sync::Mutex::new(None), why }
    }

    /// Waits until a replica that had passed the hold's position has seen the hold and stopped
    /// (its checkpoint unchanged for [`SETTLED`]), so that a snapshot of the source taken next
    /// is at or after the replica's position.
    async fn settle(&self, from: Position, deadline: Instant) -> Result<()> {
        let (mut last, mut since) = (from, Instant::now());
        while since.elapsed() < SETTLED {
            if Instant::now() > deadline {
                return Err(Error::conflict(format!("replica {} does not stop at the hold (it is at {})", self.url.database, last.value)));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = self.position().await?;
            if now != last {
                (last, since) = (now, Instant::now());
            }
        }
        Ok(())
    }

    /// Writes the hold (at `until`, renewed now).
    async fn hold(&self, until: Option<Position>) -> Result<()> {
        set(self.replica, &self.url, Some(Pause { paused: self.why.into(), at: Utc::now(), until })).await
    }

    /// The replica's checkpoint position (one query: it is polled).
    async fn position(&self) -> Result<Position> {
        let cp: Option<Checkpoint> = stored(self.replica, &self.url, 1, "the checkpoint").await?;
        cp.map(|c| c.position).ok_or_else(|| Error::bad_input(format!("database {} is no replica", self.url.database)))
    }
}

/// A failed read of the checkpoint table: the database is no replica, unless the server went
/// away meanwhile (then the error stays Unreachable, so a supervisor retries instead of stopping).
fn no_replica(url: &DbUrl, e: Error) -> Error {
    if e.kind() == tandem_error::Kind::Unreachable {
        return e.context(format!("reading {CHECKPOINT_TABLE} in database {}", url.database));
    }
    Error::bad_input(format!("database {} is no replica (it has no readable {CHECKPOINT_TABLE} table: {e})", url.database))
}
