//! Two-phase prune: drop manifests by policy, then delete chunks that no remaining manifest
//! references and that are older than a grace period, all under an exclusive lock.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use tandem_error::{Error, Result};
use tandem_repo::{BackupId, LockMode, Repository};

use crate::{Events, Unit};

/// Which backups to keep. A backup is kept if any rule keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// The newest N backups.
    pub keep_last: usize,
    /// The newest backup of each of the newest N days (UTC) that have backups.
    pub keep_daily: usize,
}

/// What prune removed (or would remove, with `dry_run`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    pub kept: Vec<BackupId>,
    pub removed: Vec<BackupId>,
    pub chunks_deleted: usize,
    pub bytes_freed: u64,
}

/// The backups `policy` keeps out of `ids` (any order).
pub fn select_kept(ids: &[BackupId], policy: RetentionPolicy) -> BTreeSet<BackupId> {
    let mut newest_first: Vec<&BackupId> = ids.iter().collect();
    newest_first.sort_by(|a, b| b.cmp(a));
    let mut kept: BTreeSet<BackupId> = newest_first.iter().take(policy.keep_last).map(|id| (*id).clone()).collect();
    let mut days = BTreeSet::new();
    for id in newest_first {
        if days.len() >= policy.keep_daily {
            break;
        }
        if days.insert(id.time().date_naive()) {
            kept.insert(id.clone());
        }
    }
    kept
}

/// Prunes the repository. Refuses a policy that keeps nothing.
pub async fn prune(repo: &Repository, policy: RetentionPolicy, grace: Duration, dry_run: bool, events: Arc<dyn Events>) -> Result<PruneReport> {
    if policy.keep_last == 0 && policy.keep_daily == 0 {
        return Err(Error::bad_input("this policy keeps no backup at all").with_hint(tandem_error::Hint::KeepOneBackup));
    }
    let lock = repo.lock(LockMode::Exclusive, "prune").await?;
    let result = run(repo, policy, grace, dry_run, events).await;
    let released = lock.release().await;
    let report = result?;
    released?;
    Ok(report)
}

async fn run(repo: &Repository, policy: RetentionPolicy, grace: Duration, dry_run: bool, events: Arc<dyn Events>) -> Result<PruneReport> {
    let ids = repo.list_backups().await?;
    let kept = select_kept(&ids, policy);
    let mut report = PruneReport { dry_run, ..Default::default() };
    report.kept = kept.iter().cloned().collect();
    report.removed = ids.iter().filter(|id| !kept.contains(id)).cloned().collect();

    // References of what stays. A kept manifest that cannot be read stops the prune: its
    // chunks cannot be told apart from garbage.
    let mut referenced = HashSet::new();
    for id in &report.kept {
        let m = repo.read_manifest(id).await.map_err(|e| e.context("prune stopped before deleting anything"))?;
        referenced.extend(m.tables.into_iter().flat_map(|t| t.chunks.into_iter().map(|c| c.id)));
    }

    // Phase 1: manifests.
    if !dry_run {
        events.phase("removing backups", Some(report.removed.len() as u64), Unit::Items);
        for id in &report.removed {
            repo.delete_manifest(id).await?;
            events.advance(1);
        }
        events.phase_done();
    }
    tandem_error::failpoint!("prune-between-phases");

    // Phase 2: chunks nobody references, older than the grace period (a backup running
    // elsewhere may have written chunks that its manifest does not list yet).
    // A grace longer than the calendar (callers bound it; this only guards): nothing is old enough.
    let cutoff = chrono::Duration::from_std(grace).ok().and_then(|g| Utc::now().checked_sub_signed(g)).unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
    let garbage: Vec<_> = repo.list_chunks().await?.into_iter().filter(|c| !referenced.contains(&c.id) && c.last_modified < cutoff).collect();
    report.chunks_deleted = garbage.len();
    report.bytes_freed = garbage.iter().map(|c| c.stored).sum();
    if !dry_run {
        events.phase("deleting unreferenced chunks", Some(garbage.len() as u64), Unit::Items);
        for c in &garbage {
            repo.delete_chunk(&c.id).await?;
            tandem_error::failpoint!("prune-chunk-deleted");
            events.advance(1);
        }
        events.phase_done();
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> BackupId {
        s.parse().unwrap()
    }

    #[test]
    fn keep_last_and_daily() {
        let ids = vec![
            id("20261120T010000Z-0001"),
            id("20261120T230000Z-0002"),
            id("20261121T120000Z-0003"),
            id("20261122T080000Z-0004"),
            id("20261122T090000Z-0005"),
        ];
        let kept = select_kept(&ids, RetentionPolicy { keep_last: 1, keep_daily: 0 });
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), vec![id("20261122T090000Z-0005")]);
        let kept = select_kept(&ids, RetentionPolicy { keep_last: 1, keep_daily: 3 });
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), vec![id("20261120T230000Z-0002"), id("20261121T120000Z-0003"), id("20261122T090000Z-0005")]);
        let kept = select_kept(&ids, RetentionPolicy { keep_last: 10, keep_daily: 0 });
        assert_eq!(kept.len(), 5);
    }
}
