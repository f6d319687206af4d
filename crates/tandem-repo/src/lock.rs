//! Repository locks: `locks/<id>.json` objects with an expiry that the holder refreshes.
//!
//! Protocol: write the own lock object first, then list all locks. A lock is ignored when it is
//! stale: its `expires` has passed, or its holder is a process of this boot and pid namespace
//! that no longer exists (judged by [`ProcessId`], so containers that share a host name and
//! reused pids do not misfire). If another live lock conflicts (exclusive vs anything), the own
//! lock is deleted again and the attempt fails with Conflict. Two racing exclusive takers may
//! both fail; neither wins wrongly.
//!
//! A holder whose refreshes fail loses the lock when its last written `expires` passes; from then
//! on a prune may run. [`RepoLock::ensure_held`] is how an operation checks, before a step that
//! relies on the lock (a backup's manifest), that it still holds it for long enough.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tandem_error::{Error, Result};
use tokio::task::JoinHandle;

use crate::crypto::Codec;
use crate::format::{LockInfo, LockMode, ProcessId};
use crate::store::store_error;

/// How long a lock lives without a refresh.
pub(crate) const LOCK_TTL: Duration = Duration::from_secs(120);
/// How often the holder rewrites its lock.
pub(crate) const LOCK_REFRESH: Duration = Duration::from_secs(30);
/// How long a lock must still be valid when [`RepoLock::ensure_held`] is asked: longer than the
/// step it guards (one object write) can take, with room for clocks that differ by seconds.
const HOLD_MARGIN: Duration = Duration::from_secs(30);

/// A held lock. Refreshes itself in the background; removed by [`RepoLock::release`] (or,
/// best-effort, on drop).
pub struct RepoLock {
    inner: Option<Held>,
}

struct Held {
    store: Arc<dyn ObjectStore>,
    codec: Codec,
    url: String,
    path: Path,
    /// The `expires` of the newest lock object written successfully (Unix milliseconds).
    confirmed: Arc<AtomicI64>,
    refresh: JoinHandle<()>,
}

impl std::fmt::Debug for RepoLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoLock").field("path", &self.path()).finish()
    }
}

impl RepoLock {
    /// Removes the lock object. Errors: Unreachable if the store refuses the delete (the lock then
    /// expires on its own).
    pub async fn release(mut self) -> tandem_error::Result<()> {
        let Some(held) = self.inner.take() else { return Ok(()) };
        held.refresh.abort();
        match held.store.delete(&held.path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(&held.url, format!("removing lock {}", held.path), e)),
        }
    }

    /// Checks that the lock is still held and stays valid for at least [`HOLD_MARGIN`]: the last
    /// refresh that reached the store is recent enough, and the lock object is still there,
    /// unexpired. Call it right before a step that must not happen without the lock (a backup's
    /// manifest: a prune that ran after the lock expired may have deleted chunks it reuses).
    /// Errors: Conflict when the lock is lost (nothing may be committed); Unreachable when the
    /// store cannot be read.
    pub async fn ensure_held(&self) -> Result<()> {
        let Some(held) = &self.inner else { return Err(Error::internal("repository lock already released")) };
        tandem_error::failpoint!("lock-ensure-held");
        let needed = Utc::now() + chrono::Duration::from_std(HOLD_MARGIN).unwrap_or_default();
        let lost = |why: String| {
            Error::conflict(format!(
                "lost the repository lock {} ({why}); stopping before committing anything, because a prune may have run meanwhile",
                held.path
            ))
        };
        let confirmed = DateTime::<Utc>::from_timestamp_millis(held.confirmed.load(Ordering::SeqCst)).unwrap_or(DateTime::<Utc>::MIN_UTC);
        if confirmed < needed {
            return Err(lost(format!("its last refresh that reached the repository lets it expire at {}", fmt_time(confirmed))));
        }
        let data = match held.store.get(&held.path).await {
            Ok(r) => r.bytes().await,
            Err(e) => Err(e),
        };
        let info = match data {
            Ok(d) => held.codec.open(held.path.as_ref(), d).and_then(|d| serde_json::from_slice::<LockInfo>(&d).map_err(|e| e.to_string())),
            Err(object_store::Error::NotFound { .. }) => return Err(lost("its object is gone".into())),
            Err(e) => return Err(store_error(&held.url, format!("reading lock {}", held.path), e)),
        };
        match info {
            Ok(info) if info.expires >= needed => Ok(()),
            Ok(info) => Err(lost(format!("the repository says it expires at {}", fmt_time(info.expires)))),
            Err(e) => Err(lost(format!("its object cannot be read: {e}"))),
        }
    }

    /// The lock object's path (`locks/<id>.json`), for messages.
    pub fn path(&self) -> String {
        self.inner.as_ref().map(|h| h.path.to_string()).unwrap_or_default()
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        let Some(held) = self.inner.take() else { return };
        held.refresh.abort();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = held.store.delete(&held.path).await;
            });
        }
    }
}

/// Takes a lock (see the module doc for the protocol).
/// In an encrypted repository locks are sealed like every object (`codec`).
pub(crate) async fn acquire(store: Arc<dyn ObjectStore>, codec: Codec, url: String, mode: LockMode, purpose: &str) -> Result<RepoLock> {
    let now = Utc::now();
    let mut info = LockInfo {
        mode,
        purpose: purpose.to_string(),
        hostname: hostname(),
        pid: std::process::id(),
        created: now,
        expires: expires_from(now),
        process: process_id(std::process::id()),
    };
    let id = format!("{:032x}", rand::random::<u128>());
    let path = Path::from_iter(["locks".to_string(), format!("{id}.json")]);
    write_lock(&store, &codec, &path, &info).await.map_err(|e| store_error(&url, format!("writing lock {path}"), e))?;

    if let Err(e) = check_conflicts(&store, &codec, &url, &path, mode).await {
        let _ = store.delete(&path).await;
        return Err(e);
    }

    let confirmed = Arc::new(AtomicI64::new(info.expires.timestamp_millis()));
    let refresh = {
        let (store, codec, path, confirmed) = (store.clone(), codec.clone(), path.clone(), confirmed.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(LOCK_REFRESH).await;
                info.expires = expires_from(Utc::now());
                match refresh_lock(&store, &codec, &path, &info).await {
                    Ok(()) => confirmed.store(info.expires.timestamp_millis(), Ordering::SeqCst),
                    Err(e) => tracing::warn!(lock = %path, "could not refresh the repository lock: {e}"),
                }
            }
        })
    };
    tracing::debug!(lock = %path, mode = mode.as_str(), purpose, "took repository lock");
    Ok(RepoLock { inner: Some(Held { store, codec, url, path, confirmed, refresh }) })
}

/// Fails with Conflict if a live lock other than `own` conflicts with `mode`.
async fn check_conflicts(store: &Arc<dyn ObjectStore>, codec: &Codec, url: &str, own: &Path, mode: LockMode) -> Result<()> {
    let metas: Vec<_> = store.list(Some(&Path::from("locks"))).try_collect().await.map_err(|e| store_error(url, "listing locks/", e))?;
    let now = Utc::now();
    for m in metas {
        if &m.location == own || !m.location.as_ref().ends_with(".json") {
            continue;
        }
        let data = match store.get(&m.location).await {
            Ok(r) => r.bytes().await,
            Err(e) => Err(e),
        };
        let data = match data {
            Ok(d) => d,
            Err(object_store::Error::NotFound { .. }) => continue, // released meanwhile
            Err(e) => return Err(store_error(url, format!("reading lock {}", m.location), e)),
        };
        let parsed = codec.open(m.location.as_ref(), data).and_then(|d| serde_json::from_slice::<LockInfo>(&d).map_err(|e| e.to_string()));
        let other: LockInfo = match parsed {
            Ok(l) => l,
            Err(e) => {
                // Unparsable (e.g. from a newer tandem) or failing authentication: honour it
                // until it is old enough.
                if m.last_modified + chrono::Duration::from_std(LOCK_TTL).unwrap_or_default() < now {
                    tracing::warn!(lock = %m.location, "ignoring an old unreadable lock: {e}");
                    continue;
                }
                return Err(Error::conflict(format!("repository is locked by an unreadable lock {} ({e}); try again later", m.location)));
            }
        };
        if is_stale(&other, now) {
            tracing::info!(lock = %m.location, purpose = %other.purpose, host = %other.hostname, pid = other.pid, "ignoring a stale lock");
            continue;
        }
        if mode == LockMode::Exclusive || other.mode != LockMode::Shared {
            return Err(Error::conflict(format!(
                "repository is locked by {} (host {}, pid {}, since {}); try again later or wait for the lock to expire at {}",
                other.purpose,
                other.hostname,
                other.pid,
                fmt_time(other.created),
                fmt_time(other.expires)
            )));
        }
    }
    Ok(())
}

/// One refresh of the own lock object.
async fn refresh_lock(store: &Arc<dyn ObjectStore>, codec: &Codec, path: &Path, info: &LockInfo) -> object_store::Result<()> {
    tandem_error::failpoint!("lock-refresh", |e: tandem_error::Error| object_store::Error::Generic { store: "lock", source: Box::new(e) });
    write_lock(store, codec, path, info).await
}

/// Expired, or held by a process that is gone.
fn is_stale(other: &LockInfo, now: DateTime<Utc>) -> bool {
    other.expires < now || gone(other.pid, other.process.as_ref())
}

/// Whether the process `pid` with identity `process` is known to be gone: it ran on this boot in
/// this pid namespace (so its pid means the same here), and that pid no longer exists or now
/// belongs to a process started at another time. Without an identity nothing is known.
pub(crate) fn gone(pid: u32, process: Option<&ProcessId>) -> bool {
    let (Some(theirs), Some(mine)) = (process, process_id(std::process::id())) else { return false };
    theirs.boot_id == mine.boot_id
        && theirs.pid_namespace == mine.pid_namespace
        && process_id(pid).is_none_or(|now_there| now_there.start_ticks != theirs.start_ticks)
}

/// The identity of process `pid` as this process sees it, or `None` when it does not exist (or
/// `/proc` is not there to tell).
pub fn process_id(pid: u32) -> Option<ProcessId> {
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?.trim().to_string();
    let pid_namespace = std::fs::read_link("/proc/self/ns/pid").ok()?.to_string_lossy().into_owned();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after its end.
    let start_ticks = stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()?;
    Some(ProcessId { boot_id, pid_namespace, start_ticks })
}

async fn write_lock(store: &Arc<dyn ObjectStore>, codec: &Codec, path: &Path, info: &LockInfo) -> object_store::Result<()> {
    let generic = |e: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic { store: "lock", source: e };
    let json = serde_json::to_vec_pretty(info).map_err(|e| generic(Box::new(e)))?;
    let stored = codec.seal(path.as_ref(), json).map_err(|e| generic(Box::new(e)))?;
    store.put(path, PutPayload::from(stored)).await.map(|_| ())
}

fn expires_from(t: DateTime<Utc>) -> DateTime<Utc> {
    t + chrono::Duration::from_std(LOCK_TTL).unwrap_or_else(|_| chrono::Duration::seconds(120))
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// This machine's host name (from the kernel), or `unknown`.
pub fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
