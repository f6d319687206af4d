//! Repository locks: `locks/<id>.json` objects with an expiry that the holder refreshes.
//!
//! Protocol: write the own lock object first, then list all locks. A lock is ignored when it is
//! stale: its `expires` has passed, or it was taken on this host by a process that no longer
//! exists. If another live lock conflicts (exclusive vs anything), the own lock is deleted again
//! and the attempt fails with Conflict. Two racing exclusive takers may both fail; neither wins
//! wrongly.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tandem_error::{Error, Result};
use tokio::task::JoinHandle;

use crate::crypto::Codec;
use crate::format::{LockInfo, LockMode};
use crate::store::store_error;

/// How long a lock lives without a refresh.
pub(crate) const LOCK_TTL: Duration = Duration::from_secs(120);
/// How often the holder rewrites its lock.
pub(crate) const LOCK_REFRESH: Duration = Duration::from_secs(30);

/// A held lock. Refreshes itself in the background; removed by [`RepoLock::release`] (or,
/// best-effort, on drop).
pub struct RepoLock {
    inner: Option<Held>,
}

struct Held {
    store: Arc<dyn ObjectStore>,
    url: String,
    path: Path,
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
    let mut info = LockInfo { mode, purpose: purpose.to_string(), hostname: hostname(), pid: std::process::id(), created: now, expires: expires_from(now) };
    let id = format!("{:032x}", rand::random::<u128>());
    let path = Path::from_iter(["locks".to_string(), format!("{id}.json")]);
    write_lock(&store, &codec, &path, &info).await.map_err(|e| store_error(&url, format!("writing lock {path}"), e))?;

    if let Err(e) = check_conflicts(&store, &codec, &url, &path, mode, &info).await {
        let _ = store.delete(&path).await;
        return Err(e);
    }

    let refresh = {
        let (store, path) = (store.clone(), path.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(LOCK_REFRESH).await;
                info.expires = expires_from(Utc::now());
                if let Err(e) = write_lock(&store, &codec, &path, &info).await {
                    tracing::warn!(lock = %path, "could not refresh the repository lock: {e}");
                }
            }
        })
    };
    tracing::debug!(lock = %path, mode = mode.as_str(), purpose, "took repository lock");
    Ok(RepoLock { inner: Some(Held { store, url, path, refresh }) })
}

/// Fails with Conflict if a live lock other than `own` conflicts with `mode`.
async fn check_conflicts(store: &Arc<dyn ObjectStore>, codec: &Codec, url: &str, own: &Path, mode: LockMode, me: &LockInfo) -> Result<()> {
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
        if is_stale(&other, me, now) {
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

/// Expired, or taken on this host by a process that is gone.
fn is_stale(other: &LockInfo, me: &LockInfo, now: DateTime<Utc>) -> bool {
    other.expires < now || (other.hostname == me.hostname && !std::path::Path::new(&format!("/proc/{}", other.pid)).exists())
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
