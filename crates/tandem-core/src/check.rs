//! Repository check: every manifest parses, every referenced chunk exists, and (with
//! `read_data`) every chunk's content matches its hash.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use serde::Serialize;
use tandem_error::Result;
use tandem_repo::{ChunkRef, LockMode, Repository};

use crate::{Events, Unit};

/// Chunks verified at once with `read_data`.
const READERS: usize = 4;

/// The outcome of a check. The repository is healthy iff `errors` is empty.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub backups: usize,
    pub chunks_referenced: usize,
    /// Chunks whose content was read and verified (`read_data`).
    pub chunks_read: usize,
    pub bytes_read: u64,
    /// Stored chunks no manifest references (garbage for prune; not an error).
    pub chunks_unreferenced: usize,
    /// One line per problem, naming the manifest or chunk and who uses it.
    pub errors: Vec<String>,
}

/// Checks the repository. Problems are collected into the report, not returned as errors; an
/// error is returned only when the repository cannot be listed at all.
pub async fn check(repo: &Repository, read_data: bool, events: Arc<dyn Events>) -> Result<CheckReport> {
    let lock = repo.lock(LockMode::Shared, "check").await?;
    let result = run(repo, read_data, events).await;
    let released = lock.release().await;
    let report = result?;
    released?;
    Ok(report)
}

async fn run(repo: &Repository, read_data: bool, events: Arc<dyn Events>) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    let ids = repo.list_backups().await?;
    events.phase("reading manifests", Some(ids.len() as u64), Unit::Items);
    // chunk id → (chunk, first user "backup X table T")
    let mut used: BTreeMap<String, (ChunkRef, String)> = BTreeMap::new();
    for id in &ids {
        match repo.read_manifest(id).await {
            Ok(m) => {
                report.backups += 1;
                for t in &m.tables {
                    for c in &t.chunks {
                        used.entry(c.id.clone()).or_insert_with(|| (c.clone(), format!("backup {id} table {}", t.table.display_name())));
                    }
                }
            }
            Err(e) => report.errors.push(e.to_string()),
        }
        events.advance(1);
    }
    events.phase_done();
    report.chunks_referenced = used.len();

    let stored: HashSet<String> = repo.chunk_ids().await?;
    report.chunks_unreferenced = stored.iter().filter(|c| !used.contains_key(*c)).count();
    for (id, (_, user)) in &used {
        if !stored.contains(id) {
            report.errors.push(format!("chunk {id} is missing (used by {user})"));
        }
    }
    if read_data {
        let todo: Vec<_> = used.values().filter(|(c, _)| stored.contains(&c.id)).cloned().collect();
        // Saturating: the lengths come from manifests (a damaged one must not panic the check).
        let total = todo.iter().fold(0u64, |n, (c, _)| n.saturating_add(c.raw));
        events.phase("verifying chunk contents", Some(total), Unit::Bytes);
        let mut results = futures::stream::iter(todo)
            .map(|(c, user)| async move {
                let r = repo.get_chunk(&c).await;
                (c, user, r)
            })
            .buffer_unordered(READERS);
        while let Some((c, user, r)) = results.next().await {
            match r {
                Ok(bytes) => {
                    report.chunks_read += 1;
                    report.bytes_read += bytes.len() as u64;
                }
                Err(e) => report.errors.push(format!("{e} (used by {user})")),
            }
            events.advance(c.raw);
        }
        events.phase_done();
    }
    Ok(report)
}
