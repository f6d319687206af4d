//! [`Repository`]: the primitives of the repository format over an object store.

use std::collections::HashSet;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use tandem_error::{Error, Kind, Result};

use crate::format::LockMode;
use crate::format::{BackupId, ChunkRef, Manifest, RepoConfig, FORMAT_VERSION};
use crate::lock::RepoLock;
use crate::store::{open_store, store_error, Missing};

/// Name of the root file.
pub(crate) const CONFIG_FILE: &str = "tandem-repo.json";
/// `kind` of the root file.
const REPO_KIND: &str = "tandem-repository";
/// zstd level of chunks.
const ZSTD_LEVEL: i32 = 3;

/// A stored chunk as listed.
#[derive(Debug, Clone)]
pub struct ChunkInfo {
    pub id: String,
    pub stored: u64,
    pub last_modified: DateTime<Utc>,
}

/// An open repository. Cheap to clone; safe to share between tasks.
#[derive(Clone)]
pub struct Repository {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) url: String,
    config: RepoConfig,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository").field("url", &self.url).field("config", &self.config).finish()
    }
}

impl Repository {
    /// Opens an existing repository at `url` (a path, `file://`, `s3://`, `gs://`, `az://`).
    /// Errors: BadInput if the location is not a repository (or a path is a file); Unsupported for
    /// a newer format version; Corrupt for an unreadable `tandem-repo.json`; Unreachable when the
    /// store cannot be reached.
    pub async fn open(url: &str) -> Result<Repository> {
        Self::open_with_options(url, &[]).await
    }

    /// Opens the repository at `url`, creating it if the location is empty or missing.
    /// Errors as [`Repository::open`], and BadInput if the location holds objects but no
    /// `tandem-repo.json` (tandem never writes into a location that is not a repository).
    pub async fn open_or_create(url: &str) -> Result<Repository> {
        Self::open_or_create_with_options(url, &[]).await
    }

    /// [`Repository::open`] with store options: object_store config keys (`aws_endpoint`,
    /// `aws_access_key_id`, `aws_allow_http`, `google_service_account`, `azure_storage_account_name`,
    /// …) that override the environment. Options are refused for local repositories.
    pub async fn open_with_options(url: &str, options: &[(&str, &str)]) -> Result<Repository> {
        let opened = open_store(url, options, Missing::Fail)?;
        Self::open_in(opened.store, &opened.display).await
    }

    /// [`Repository::open_or_create`] with store options (see [`Repository::open_with_options`]).
    pub async fn open_or_create_with_options(url: &str, options: &[(&str, &str)]) -> Result<Repository> {
        let opened = open_store(url, options, Missing::Create)?;
        Self::open_or_create_in(opened.store, &opened.display).await
    }

    /// Opens the repository at the root of an already configured `store`; `url` names it in
    /// messages. Errors as [`Repository::open`].
    pub async fn open_in(store: Arc<dyn ObjectStore>, url: &str) -> Result<Repository> {
        match read_config(&store, url).await? {
            Some(config) => Ok(Repository { store, url: url.to_string(), config }),
            None => Err(Error::bad_input(format!("no tandem repository at {url} ({CONFIG_FILE} is missing)"))),
        }
    }

    /// Opens or creates the repository at the root of an already configured `store`.
    /// Errors as [`Repository::open_or_create`].
    pub async fn open_or_create_in(store: Arc<dyn ObjectStore>, url: &str) -> Result<Repository> {
        if let Some(config) = read_config(&store, url).await? {
            return Ok(Repository { store, url: url.to_string(), config });
        }
        let first = store.list(None).try_next().await.map_err(|e| store_error(url, "listing objects", e))?;
        if let Some(meta) = first {
            // A concurrent creator may have just written the root file.
            if let Some(config) = read_config(&store, url).await? {
                return Ok(Repository { store, url: url.to_string(), config });
            }
            return Err(Error::bad_input(format!(
                "{url} is not a tandem repository: it holds other objects (such as {}) and no {CONFIG_FILE}; \
                 refusing to create a repository there (use an empty location)",
                meta.location
            )));
        }
        let config = RepoConfig {
            kind: REPO_KIND.to_string(),
            version: FORMAT_VERSION,
            id: format!("{:032x}", rand::random::<u128>()),
            created: Utc::now(),
            compression: "zstd".to_string(),
            encryption: "none".to_string(),
        };
        let json = serde_json::to_vec_pretty(&config).map_err(|e| Error::internal(format!("encoding {CONFIG_FILE}: {e}")))?;
        match store.put_opts(&Path::from(CONFIG_FILE), PutPayload::from(json), PutMode::Create.into()).await {
            Ok(_) => {
                tracing::info!(url, id = %config.id, "created repository");
                Ok(Repository { store, url: url.to_string(), config })
            }
            // Lost a creation race: use the winner's repository.
            Err(object_store::Error::AlreadyExists { .. }) => Self::open_in(store, url).await,
            Err(e) => Err(store_error(url, format!("writing {CONFIG_FILE}"), e)),
        }
    }

    /// The URL the repository was opened with (credentials removed).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn config(&self) -> &RepoConfig {
        &self.config
    }

    /// Ids of all chunks currently stored (one listing).
    pub async fn chunk_ids(&self) -> Result<HashSet<String>> {
        Ok(self.list_chunks().await?.into_iter().map(|c| c.id).collect())
    }

    /// Every stored chunk with size and modification time. Objects under `chunks/` that are not
    /// named like chunks are ignored.
    pub async fn list_chunks(&self) -> Result<Vec<ChunkInfo>> {
        let metas: Vec<_> = self.store.list(Some(&Path::from("chunks"))).try_collect().await.map_err(|e| store_error(&self.url, "listing chunks/", e))?;
        let mut out = Vec::with_capacity(metas.len());
        for m in metas {
            let parts: Vec<_> = m.location.parts().collect();
            let id = parts.get(2).map(|p| p.as_ref().to_string()).unwrap_or_default();
            if parts.len() == 3 && is_chunk_id(&id) && parts[1].as_ref() == &id[..2] {
                out.push(ChunkInfo { id, stored: m.size, last_modified: m.last_modified });
            } else {
                tracing::debug!(object = %m.location, "ignoring an object under chunks/ that is not a chunk");
            }
        }
        Ok(out)
    }

    /// Hashes and compresses `raw` (on a blocking thread) and stores it unless `known` says it is
    /// already there. Returns its reference. Storing an existing chunk again is harmless.
    /// A chunk in `known` is still compressed, so that `stored` is its compressed length.
    pub async fn put_chunk(&self, raw: Bytes, known: Option<&HashSet<String>>) -> Result<ChunkRef> {
        let raw_len = raw.len() as u64;
        let (id, compressed) = tokio::task::spawn_blocking(move || {
            let id = blake3::hash(&raw).to_hex().to_string();
            zstd::bulk::compress(&raw, ZSTD_LEVEL).map(|c| (id, c))
        })
        .await
        .map_err(|e| Error::internal(format!("compressing a chunk: {e}")))?
        .map_err(|e| Error::internal(format!("compressing a chunk: {e}")))?;
        let chunk = ChunkRef { id, raw: raw_len, stored: compressed.len() as u64 };
        if known.is_some_and(|k| k.contains(&chunk.id)) {
            return Ok(chunk);
        }
        let path = chunk_path(&chunk.id);
        self.store.put(&path, PutPayload::from(compressed)).await.map_err(|e| store_error(&self.url, format!("writing chunk {}", chunk.id), e))?;
        Ok(chunk)
    }

    /// Reads a chunk, decompresses it and verifies its hash and length.
    /// Errors: Corrupt naming the chunk (`chunk <id> is missing`, `chunk <id> is corrupt: …`) if it
    /// is missing, fails to decompress, has another length or hashes differently.
    pub async fn get_chunk(&self, chunk: &ChunkRef) -> Result<Bytes> {
        if !is_chunk_id(&chunk.id) {
            return Err(Error::corrupt(format!("chunk id {:?} is not a valid chunk id", chunk.id)));
        }
        let stored = match self.store.get(&chunk_path(&chunk.id)).await {
            Ok(r) => r.bytes().await,
            Err(e) => Err(e),
        };
        let stored = match stored {
            Ok(b) => b,
            Err(object_store::Error::NotFound { .. }) => return Err(Error::corrupt(format!("chunk {} is missing from {}", chunk.id, self.url))),
            Err(e) => return Err(store_error(&self.url, format!("reading chunk {}", chunk.id), e)),
        };
        let chunk = chunk.clone();
        tokio::task::spawn_blocking(move || decode_chunk(&chunk, &stored)).await.map_err(|e| Error::internal(format!("decompressing a chunk: {e}")))?
    }

    /// Whether a chunk object exists (a HEAD request).
    pub async fn has_chunk(&self, id: &str) -> Result<bool> {
        if !is_chunk_id(id) {
            return Ok(false);
        }
        match self.store.head(&chunk_path(id)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_error(&self.url, format!("checking chunk {id}"), e)),
        }
    }

    /// Deletes a chunk. Deleting a missing chunk is not an error. BadInput for an invalid id.
    pub async fn delete_chunk(&self, id: &str) -> Result<()> {
        if !is_chunk_id(id) {
            return Err(Error::bad_input(format!("{id:?} is not a valid chunk id")));
        }
        match self.store.delete(&chunk_path(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(&self.url, format!("deleting chunk {id}"), e)),
        }
    }

    /// Ids of all backups, oldest first. Objects under `backups/` that are not `<valid-id>.json`
    /// are ignored (and logged).
    pub async fn list_backups(&self) -> Result<Vec<BackupId>> {
        let metas: Vec<_> = self.store.list(Some(&Path::from("backups"))).try_collect().await.map_err(|e| store_error(&self.url, "listing backups/", e))?;
        let mut ids = Vec::with_capacity(metas.len());
        for m in metas {
            let id = (m.location.parts_count() == 2)
                .then(|| m.location.filename())
                .flatten()
                .and_then(|f| f.strip_suffix(".json"))
                .and_then(|s| s.parse::<BackupId>().ok());
            match id {
                Some(id) => ids.push(id),
                None => tracing::warn!(object = %m.location, repo = %self.url, "ignoring an object under backups/ that is not a manifest"),
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The newest backup id, if any.
    pub async fn latest_backup(&self) -> Result<Option<BackupId>> {
        Ok(self.list_backups().await?.pop())
    }

    /// Reads and parses a manifest. Errors: BadInput `no backup <id>` if missing; Corrupt naming
    /// the manifest (`manifest backups/<id>.json is corrupt: …`) if it does not parse or holds
    /// another id; Unsupported if its format version is newer than [`FORMAT_VERSION`].
    pub async fn read_manifest(&self, id: &BackupId) -> Result<Manifest> {
        let path = manifest_path(id);
        let data = match self.store.get(&path).await {
            Ok(r) => r.bytes().await,
            Err(e) => Err(e),
        };
        let data = match data {
            Ok(d) => d,
            Err(object_store::Error::NotFound { .. }) => return Err(Error::bad_input(format!("no backup {id} in {}", self.url))),
            Err(e) => return Err(store_error(&self.url, format!("reading {path}"), e)),
        };
        let corrupt = |e: &dyn std::fmt::Display| Error::corrupt(format!("manifest {path} is corrupt: {e}"));
        let value: serde_json::Value = serde_json::from_slice(&data).map_err(|e| corrupt(&e))?;
        if let Some(v) = value.get("version").and_then(|v| v.as_u64()) {
            if v > u64::from(FORMAT_VERSION) {
                return Err(Error::unsupported(format!(
                    "backup {id} has format version {v}, newer than this tandem supports ({FORMAT_VERSION}); upgrade tandem"
                )));
            }
        }
        let manifest: Manifest = serde_json::from_value(value).map_err(|e| corrupt(&e))?;
        if &manifest.id != id {
            return Err(corrupt(&format!("it holds backup id {}", manifest.id)));
        }
        Ok(manifest)
    }

    /// Writes a manifest (the commit point of a backup). Refuses to overwrite an existing one
    /// (Conflict).
    pub async fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        let path = manifest_path(&manifest.id);
        let json = serde_json::to_vec_pretty(manifest).map_err(|e| Error::internal(format!("encoding manifest of backup {}: {e}", manifest.id)))?;
        match self.store.put_opts(&path, PutPayload::from(json), PutMode::Create.into()).await {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => Err(Error::conflict(format!("backup {} already exists in {} ({path})", manifest.id, self.url))),
            Err(e) => Err(store_error(&self.url, format!("writing {path}"), e)),
        }
    }

    /// Deletes a manifest (the backup ceases to exist). Deleting a missing one is not an error.
    pub async fn delete_manifest(&self, id: &BackupId) -> Result<()> {
        let path = manifest_path(id);
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(&self.url, format!("deleting {path}"), e)),
        }
    }

    /// Takes a lock. Shared locks coexist; an exclusive lock excludes every other lock. Fails with
    /// Conflict naming the holder (purpose, host, pid, since) if a conflicting live lock exists.
    /// The returned lock refreshes itself in the background until released or dropped.
    pub async fn lock(&self, mode: LockMode, purpose: &str) -> Result<RepoLock> {
        crate::lock::acquire(self.store.clone(), self.url.clone(), mode, purpose).await
    }
}

/// Reads `tandem-repo.json`: `None` if missing; Corrupt / Unsupported as documented on `open`.
async fn read_config(store: &Arc<dyn ObjectStore>, url: &str) -> Result<Option<RepoConfig>> {
    let data = match store.get(&Path::from(CONFIG_FILE)).await {
        Ok(r) => r.bytes().await,
        Err(e) => Err(e),
    };
    let data = match data {
        Ok(d) => d,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(store_error(url, format!("reading {CONFIG_FILE}"), e)),
    };
    let corrupt = |e: &dyn std::fmt::Display| Error::corrupt(format!("{CONFIG_FILE} of repository {url} is corrupt: {e}"));
    let value: serde_json::Value = serde_json::from_slice(&data).map_err(|e| corrupt(&e))?;
    match value.get("kind").and_then(|k| k.as_str()) {
        Some(REPO_KIND) => {}
        Some(other) => return Err(Error::unsupported(format!("{CONFIG_FILE} at {url} is of kind {other:?}, not a {REPO_KIND} this tandem understands"))),
        None => return Err(corrupt(&"it has no \"kind\"")),
    }
    let version = value.get("version").and_then(|v| v.as_u64()).ok_or_else(|| corrupt(&"it has no numeric \"version\""))?;
    if version > u64::from(FORMAT_VERSION) {
        return Err(Error::unsupported(format!("repository format version {version} is newer than this tandem supports ({FORMAT_VERSION}); upgrade tandem")));
    }
    let config: RepoConfig = serde_json::from_value(value).map_err(|e| corrupt(&e))?;
    if config.compression != "zstd" {
        return Err(Error::unsupported(format!("repository {url} uses compression {:?}; this tandem knows zstd", config.compression)));
    }
    if config.encryption != "none" {
        return Err(Error::unsupported(format!(
            "repository {url} uses encryption {:?}, which this tandem does not support; upgrade tandem",
            config.encryption
        )));
    }
    Ok(Some(config))
}

/// Decompresses and verifies one stored chunk.
fn decode_chunk(chunk: &ChunkRef, stored: &[u8]) -> Result<Bytes> {
    let corrupt = |what: String| Error::new(Kind::Corrupt, format!("chunk {} is corrupt: {what}", chunk.id));
    let decoder = zstd::stream::read::Decoder::with_buffer(stored).map_err(|e| corrupt(format!("zstd: {e}")))?;
    // Read at most one byte more than expected, so a lying length cannot exhaust memory.
    let mut raw = Vec::with_capacity(usize::try_from(chunk.raw.min(64 << 20)).unwrap_or(0));
    decoder.take(chunk.raw.saturating_add(1)).read_to_end(&mut raw).map_err(|e| corrupt(format!("zstd: {e}")))?;
    if raw.len() as u64 != chunk.raw {
        let got = if raw.len() as u64 > chunk.raw { "more".to_string() } else { raw.len().to_string() };
        return Err(corrupt(format!("{got} bytes after decompression, expected {}", chunk.raw)));
    }
    let hash = blake3::hash(&raw).to_hex();
    if hash.as_str() != chunk.id {
        return Err(corrupt(format!("content hashes to {hash}")));
    }
    Ok(Bytes::from(raw))
}

/// 64 lower-case hex digits.
pub(crate) fn is_chunk_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `chunks/<id[0..2]>/<id>`; `id` must be valid.
fn chunk_path(id: &str) -> Path {
    Path::from_iter(["chunks", &id[..2], id])
}

/// `backups/<id>.json`.
fn manifest_path(id: &BackupId) -> Path {
    Path::from_iter(["backups".to_string(), format!("{id}.json")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rejects_wrong_length_and_hash() {
        let raw = b"a\tb\n".repeat(100);
        let id = blake3::hash(&raw).to_hex().to_string();
        let stored = zstd::bulk::compress(&raw, 3).unwrap_or_default();
        let good = ChunkRef { id: id.clone(), raw: raw.len() as u64, stored: stored.len() as u64 };
        assert_eq!(decode_chunk(&good, &stored).ok().as_deref(), Some(&raw[..]));
        let short = ChunkRef { raw: 10, ..good.clone() };
        assert!(decode_chunk(&short, &stored).is_err_and(|e| e.kind() == Kind::Corrupt && e.to_string().contains(&id)));
        let long = ChunkRef { raw: 10_000, ..good.clone() };
        assert!(decode_chunk(&long, &stored).is_err());
        let other = ChunkRef { id: "0".repeat(64), ..good.clone() };
        assert!(decode_chunk(&other, &stored).is_err_and(|e| e.to_string().contains("hashes to")));
        let mut trailing = stored.clone();
        trailing.extend_from_slice(b"garbage");
        assert!(decode_chunk(&good, &trailing).is_err());
    }

    #[test]
    fn chunk_ids_are_validated() {
        assert!(is_chunk_id(&"ab".repeat(32)));
        assert!(!is_chunk_id(&"AB".repeat(32)));
        assert!(!is_chunk_id("../../etc/passwd"));
        assert_eq!(chunk_path(&"ab".repeat(32)).to_string(), format!("chunks/ab/{}", "ab".repeat(32)));
    }
}
