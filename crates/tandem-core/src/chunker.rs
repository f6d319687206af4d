//! Cutting a table's row stream into content-defined chunks and storing them.
//!
//! A gear rolling hash runs over the bytes past [`MIN_CHUNK`]; when its top bits are zero (or the
//! chunk reaches [`MAX_CHUNK`]) the chunk ends at the next row end (`\n`). Boundaries depend only
//! on nearby content, so an unchanged table yields the same chunks in every backup and a change in
//! the middle of a table changes only the chunks around it. Chunks always hold whole rows.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use tandem_engine::RowSink;
use tandem_error::{Error, Result};
use tandem_repo::{ChunkRef, Repository};
use tokio::task::JoinHandle;

use crate::Events;

/// Below this size no cut is made.
pub const MIN_CHUNK: usize = 1 << 20;
/// At this size a cut is forced at the next row end.
pub const MAX_CHUNK: usize = 8 << 20;
/// Top 21 bits: a cut on average every 2 MiB after [`MIN_CHUNK`].
const MASK: u64 = !((1u64 << 43) - 1);
/// Chunks of one table being compressed and stored at once.
const IN_FLIGHT: usize = 2;

const GEAR: [u64; 256] = gear_table();

const fn gear_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut state: u64 = 0x7461_6e64_656d_2d31; // "tandem-1"
    let mut i = 0;
    while i < 256 {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        t[i] = z ^ (z >> 31);
        i += 1;
    }
    t
}

/// A [`RowSink`] that chunks, compresses and stores one table's rows. Call
/// [`finish`](ChunkWriter::finish) to get the ordered chunk list.
pub struct ChunkWriter {
    repo: Repository,
    known: Arc<HashSet<String>>,
    events: Arc<dyn Events>,
    buf: BytesMut,
    gear: u64,
    /// Bytes of `buf` already fed to the gear hash.
    hashed: usize,
    /// Where the cut condition fired, if it did; the cut is at the next `\n` from here.
    trigger: Option<usize>,
    pending: VecDeque<JoinHandle<Result<ChunkRef>>>,
    chunks: Vec<ChunkRef>,
    bytes: u64,
}

impl ChunkWriter {
    pub fn new(repo: Repository, known: Arc<HashSet<String>>, events: Arc<dyn Events>) -> ChunkWriter {
        ChunkWriter { repo, known, events, buf: BytesMut::new(), gear: 0, hashed: 0, trigger: None, pending: VecDeque::new(), chunks: Vec::new(), bytes: 0 }
    }

    /// Where the next chunk ends in `buf` (exclusive), if it ends in what is buffered.
    fn next_cut(&mut self) -> Option<usize> {
        let len = self.buf.len();
        if self.trigger.is_none() {
            let start = self.hashed.max(MIN_CHUNK);
            let mut gear = self.gear;
            for i in start..len {
                gear = (gear << 1).wrapping_add(GEAR[self.buf[i] as usize]);
                if gear & MASK == 0 {
                    self.trigger = Some(i);
                    break;
                }
            }
            self.gear = gear;
            self.hashed = self.trigger.map_or(len, |t| t + 1).max(self.hashed);
            if self.trigger.is_none() && len >= MAX_CHUNK {
                self.trigger = Some(MAX_CHUNK - 1);
            }
        }
        let t = self.trigger?;
        let nl = self.buf[t..].iter().position(|&b| b == b'\n')?;
        Some(t + nl + 1)
    }

    fn reset(&mut self) {
        self.gear = 0;
        self.hashed = 0;
        self.trigger = None;
    }

    async fn submit(&mut self, chunk: Bytes) -> Result<()> {
        self.bytes += chunk.len() as u64;
        let repo = self.repo.clone();
        let known = self.known.clone();
        self.pending.push_back(tokio::spawn(async move { repo.put_chunk(chunk, Some(&known)).await }));
        while self.pending.len() > IN_FLIGHT {
            self.collect_one().await?;
        }
        Ok(())
    }

    async fn collect_one(&mut self) -> Result<()> {
        if let Some(h) = self.pending.pop_front() {
            let r = h.await.map_err(|e| Error::internal(format!("chunk upload task failed: {e}")))??;
            self.chunks.push(r);
        }
        Ok(())
    }

    /// Stores what is left and waits for every chunk; returns the ordered chunks and raw bytes.
    pub async fn finish(mut self) -> Result<(Vec<ChunkRef>, u64)> {
        if !self.buf.is_empty() {
            let rest = self.buf.split().freeze();
            self.submit(rest).await?;
        }
        while !self.pending.is_empty() {
            self.collect_one().await?;
        }
        Ok((std::mem::take(&mut self.chunks), self.bytes))
    }
}

impl Drop for ChunkWriter {
    fn drop(&mut self) {
        for h in &self.pending {
            h.abort();
        }
    }
}

#[async_trait]
impl RowSink for ChunkWriter {
    async fn write(&mut self, rows: Bytes) -> Result<()> {
        self.events.bytes(rows.len() as u64);
        self.buf.extend_from_slice(&rows);
        while let Some(end) = self.next_cut() {
            let chunk = self.buf.split_to(end).freeze();
            self.reset();
            self.submit(chunk).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoEvents;

    fn rows(n: usize, seed: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut x = seed;
        for i in 0..n {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            out.extend_from_slice(format!("{i}\tvalue-{x:x}\tsome text that looks like a location gs://lake/db/t/p={}\n", x % 1000).as_bytes());
        }
        out
    }

    async fn chunk(repo: &Repository, data: &[u8], piece: usize) -> Vec<ChunkRef> {
        let mut w = ChunkWriter::new(repo.clone(), Arc::new(HashSet::new()), Arc::new(NoEvents));
        for p in data.chunks(piece) {
            // Pieces cut rows in half on purpose: cuts are found by content, not by write sizes.
            w.write(Bytes::copy_from_slice(p)).await.unwrap();
        }
        w.finish().await.unwrap().0
    }

    #[tokio::test]
    async fn cuts_at_row_ends_independently_of_write_sizes_and_resyncs_after_an_insert() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::open_or_create(dir.path().to_str().unwrap()).await.unwrap();
        let data = rows(200_000, 1);
        assert!(data.len() > 6 * MIN_CHUNK);
        let a = chunk(&repo, &data, 64 * 1024).await;
        let b = chunk(&repo, &data, 7 * 1024 + 13).await;
        assert_eq!(a, b, "boundaries must not depend on how rows arrive");
        assert!(a.len() >= 3, "{} chunks", a.len());
        let mut total = 0;
        for c in &a {
            let raw = repo.get_chunk(c).await.unwrap();
            assert_eq!(raw.last(), Some(&b'\n'));
            assert!(raw.len() >= MIN_CHUNK || c == a.last().unwrap());
            total += raw.len();
        }
        assert_eq!(total, data.len());

        // Insert a row near the start: only the first chunks change.
        let mut changed = b"999999\tinserted\trow\n".to_vec();
        changed.extend_from_slice(&data);
        let c = chunk(&repo, &changed, 64 * 1024).await;
        let old: HashSet<_> = a.iter().map(|c| c.id.clone()).collect();
        let shared = c.iter().filter(|c| old.contains(&c.id)).count();
        assert!(shared >= c.len() - 2, "only {shared} of {} chunks reused", c.len());
    }
}
