//! State of `tandem serve` kept in the repository, under `daemon/`, so that a restarted daemon,
//! or one in the other region, knows it:
//!
//! ```text
//! daemon/jobs/<site>.<job>.json   the job's history (opaque JSON to this crate), replaced per run
//! daemon/lease/<seq>.json         LeaseRecord; create-only; the highest <seq> is the lease now
//! daemon/drills/<site>.json       the site's drill reports (opaque JSON to this crate)
//! ```
//!
//! The lease decides which daemon runs jobs. It is a sequence of create-only objects, so it only
//! needs the one conditional write every object store has (create if absent; `If-None-Match: *`
//! on S3 and GCS, `If-None-Match` on Azure, `link` on a local disk):
//! - **claim**: read the newest record. If there is none, it expired, or it is the claimer's own,
//!   create record `seq + 1` naming the claimer. If another claimer created `seq + 1` first, the
//!   create fails and the other one holds the lease. Renewal is the same step.
//! - **release**: the holder creates `seq + 1` that has already expired, so another daemon takes
//!   over at its next attempt instead of after the expiry.
//!
//! A record taken by a process that is known to be gone counts as expired (same boot and pid
//! namespace, pid gone or reused: see the lock's rule in FORMAT.md section 7). Otherwise
//! expiry is compared with the reader's clock: daemons need clocks within a small fraction of the
//! lease TTL (NTP). Old records are deleted by the holder (the newest few are kept).
//! Backups never depend on `daemon/`; `repo check` and `prune` ignore it.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use tandem_error::{Error, Result};

use crate::repository::Repository;
use crate::store::store_error;

/// Prefix of the daemon's objects.
const DAEMON: &str = "daemon";
/// Prefix of the lease records (under `daemon/`).
const LEASE: &str = "lease";
/// Lease records kept behind the newest (for humans reading the history).
const LEASE_HISTORY: u64 = 4;

/// One record of the lease: who holds it until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// Position in the sequence (the object's name).
    pub seq: u64,
    /// Identity of the holder (unique per daemon process).
    pub holder: String,
    pub hostname: String,
    pub pid: u32,
    /// When this record was written.
    pub written: DateTime<Utc>,
    /// Until when the holder owns the lease without renewing it.
    pub expires: DateTime<Utc>,
    /// The holder's process identity (absent in records of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<crate::ProcessId>,
}

impl LeaseRecord {
    /// Held by `holder` at `now`.
    pub fn held_by(&self, holder: &str, now: DateTime<Utc>) -> bool {
        self.holder == holder && self.expires > now
    }

    /// Held by anyone at `now`: not expired, and not taken by a process known to be gone (a
    /// daemon killed with `kill -9` and restarted takes its lease back at once).
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        self.expires > now && !crate::lock::gone(self.pid, self.process.as_ref())
    }
}

/// What a claim found.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The claimer holds the lease now.
    pub held: bool,
    /// The newest record after the attempt (the claimer's own when `held`).
    pub record: LeaseRecord,
}

fn daemon_path(name: &str) -> Result<Path> {
    if name.is_empty() || name.split('/').any(|p| p.is_empty() || p == "." || p == "..") {
        return Err(Error::internal(format!("invalid daemon object name {name:?}")));
    }
    Ok(Path::from_iter(std::iter::once(DAEMON).chain(name.split('/'))))
}

fn lease_prefix() -> Path {
    Path::from_iter([DAEMON, LEASE])
}

impl crate::chain::Link for LeaseRecord {
    fn seq(&self) -> u64 {
        self.seq
    }
}

impl Repository {
    /// Reads `daemon/<name>` (decrypted in an encrypted repository); `None` if it does not
    /// exist. Errors: Corrupt naming the object if it fails authentication.
    pub async fn read_daemon_object(&self, name: &str) -> Result<Option<Bytes>> {
        self.read_sealed(&daemon_path(name)?).await
    }

    /// Writes (replaces) `daemon/<name>` (encrypted in an encrypted repository).
    pub async fn write_daemon_object(&self, name: &str, data: Vec<u8>) -> Result<()> {
        let path = daemon_path(name)?;
        let stored = self.codec.seal(path.as_ref(), data)?;
        self.store.put(&path, PutPayload::from(stored)).await.map(|_| ()).map_err(|e| store_error(&self.url, format!("writing {path}"), e))
    }

    /// Reads `daemon/<name>` as JSON: `T::default()` when it does not exist. Errors: Corrupt
    /// naming the object and `what` it holds when it does not parse (FORMAT.md section 12).
    pub async fn read_daemon_json<T: serde::de::DeserializeOwned + Default>(&self, name: &str, what: &str) -> Result<T> {
        match self.read_daemon_object(name).await? {
            None => Ok(T::default()),
            Some(data) => serde_json::from_slice(&data).map_err(|e| Error::corrupt(format!("{DAEMON}/{name} in {} ({what}) is corrupt: {e}", self.url))),
        }
    }

    /// Writes (replaces) `daemon/<name>` as pretty JSON of `value` (`what` it holds, for errors).
    pub async fn write_daemon_json<T: Serialize>(&self, name: &str, value: &T, what: &str) -> Result<()> {
        let json = serde_json::to_vec_pretty(value).map_err(|e| Error::internal(format!("encoding {what}: {e}")))?;
        self.write_daemon_object(name, json).await
    }

    /// The newest lease record, if any. Errors: Corrupt if it does not parse or holds another
    /// `seq` than its name (the next claim would write behind it).
    pub async fn current_lease(&self) -> Result<Option<LeaseRecord>> {
        self.chain_newest(&lease_prefix(), "lease record").await
    }

    /// Takes or renews the lease for `holder` for `ttl` (see the module doc). A lost race is not
    /// an error: the result says who holds the lease.
    pub async fn claim_lease(&self, holder: &str, ttl: Duration) -> Result<Claim> {
        self.write_lease(holder, ttl, false).await
    }

    /// Gives the lease up if `holder` holds it, so another daemon can take it at once.
    pub async fn release_lease(&self, holder: &str) -> Result<()> {
        self.write_lease(holder, Duration::ZERO, true).await.map(|_| ())
    }

    async fn write_lease(&self, holder: &str, ttl: Duration, release: bool) -> Result<Claim> {
        loop {
            let now = Utc::now();
            let current = self.current_lease().await?;
            if let Some(c) = &current {
                let other_live = c.holder != holder && c.live(now);
                if other_live || (release && c.holder != holder) {
                    return Ok(Claim { held: false, record: c.clone() });
                }
            } else if release {
                return Err(Error::conflict("there is no lease to release"));
            }
            let seq = match &current {
                None => 1,
                Some(c) => c.seq.checked_add(1).ok_or_else(|| {
                    Error::corrupt(format!("lease record {} has the last possible seq; remove {}/ to start the lease over", c.seq, lease_prefix()))
                })?,
            };
            let record = LeaseRecord {
                seq,
                holder: holder.to_string(),
                hostname: crate::lock::hostname(),
                pid: std::process::id(),
                written: now,
                expires: now + chrono::Duration::from_std(ttl).unwrap_or_default(),
                process: crate::process_id(std::process::id()),
            };
            // Another claimer wrote `seq` first: look again (it holds the lease unless it
            // released it at once).
            if self.chain_append(&lease_prefix(), &record, "lease record").await? {
                self.chain_forget_before(&lease_prefix(), seq.saturating_sub(LEASE_HISTORY)).await;
                return Ok(Claim { held: !release, record });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn repo(dir: &std::path::Path) -> Repository {
        Repository::open_or_create(dir.to_str().unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn one_holder_at_a_time_takeover_after_expiry_and_release() {
        let dir = tempfile::tempdir().unwrap();
        let r = repo(dir.path()).await;
        assert!(r.current_lease().await.unwrap().is_none());
        let a = r.claim_lease("a", Duration::from_secs(60)).await.unwrap();
        assert!(a.held && a.record.holder == "a");
        let b = r.claim_lease("b", Duration::from_secs(60)).await.unwrap();
        assert!(!b.held && b.record.holder == "a");
        // Renewal keeps it; a short lease expires and the other takes over.
        let a = r.claim_lease("a", Duration::from_millis(50)).await.unwrap();
        assert!(a.held && a.record.seq == 2);
        tokio::time::sleep(Duration::from_millis(80)).await;
        let b = r.claim_lease("b", Duration::from_secs(60)).await.unwrap();
        assert!(b.held && b.record.holder == "b");
        assert!(!r.claim_lease("a", Duration::from_secs(60)).await.unwrap().held);
        // Release: taken over at once.
        r.release_lease("a").await.unwrap();
        assert_eq!(r.current_lease().await.unwrap().unwrap().holder, "b", "a cannot release b's lease");
        r.release_lease("b").await.unwrap();
        assert!(r.claim_lease("a", Duration::from_secs(60)).await.unwrap().held);
    }

    #[test]
    fn a_dead_holder_is_told_by_its_process_identity_not_its_host_name() {
        let me = crate::process_id(std::process::id()).unwrap();
        let now = Utc::now();
        let record = |pid: u32, process: Option<crate::ProcessId>| LeaseRecord {
            seq: 1,
            holder: "d".into(),
            hostname: crate::lock::hostname(),
            pid,
            written: now,
            expires: now + chrono::Duration::minutes(1),
            process,
        };
        assert!(record(std::process::id(), Some(me.clone())).live(now), "this process");
        assert!(!record(4_000_000_000, Some(me.clone())).live(now), "same boot and namespace, pid gone");
        assert!(!record(1, Some(me.clone())).live(now), "pid 1 is another process than the one that wrote it");
        let container = crate::ProcessId { pid_namespace: "pid:[1]".into(), ..me.clone() };
        assert!(record(4_000_000_000, Some(container)).live(now), "another container with this host name");
        assert!(record(4_000_000_000, None).live(now), "an older record: only its expiry counts");
        assert!(!record(std::process::id(), Some(me)).live(now + chrono::Duration::minutes(2)), "expired");
    }

    #[tokio::test]
    async fn racing_claimers_get_exactly_one_holder_and_history_is_trimmed() {
        for round in 0..8 {
            let dir = tempfile::tempdir().unwrap();
            let r = repo(dir.path()).await;
            let claims = futures::future::join_all((0..4).map(|i| {
                let r = r.clone();
                async move { r.claim_lease(&format!("d{i}"), Duration::from_secs(60)).await.unwrap() }
            }))
            .await;
            let winners: Vec<_> = claims.iter().filter(|c| c.held).map(|c| c.record.holder.clone()).collect();
            assert_eq!(winners.len(), 1, "round {round}: {claims:?}");
            assert!(claims.iter().all(|c| c.record.holder == winners[0]), "round {round}: {claims:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let r = repo(dir.path()).await;
        for _ in 0..20 {
            assert!(r.claim_lease("a", Duration::from_secs(60)).await.unwrap().held);
        }
        assert_eq!(r.current_lease().await.unwrap().unwrap().seq, 20);
        assert!(r.chain_seqs(&lease_prefix()).await.unwrap().len() as u64 <= LEASE_HISTORY + 1);
    }

    #[tokio::test]
    async fn a_corrupt_lease_record_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let r = repo(dir.path()).await;
        r.claim_lease("a", Duration::from_secs(60)).await.unwrap();
        std::fs::write(dir.path().join("daemon/lease/00000000000000000001.json"), b"{ not json").unwrap();
        let e = r.claim_lease("a", Duration::from_secs(60)).await.unwrap_err().to_string();
        assert!(e.contains("lease record daemon/lease/00000000000000000001.json is corrupt"), "{e}");
        assert!(daemon_path("../x").is_err() && daemon_path("jobs/a.backup.json").is_ok());
    }
}
