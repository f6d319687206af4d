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

use crate::crypto::{Codec, DataKey, SCHEME};
use crate::format::LockMode;
use crate::format::{BackupId, ChunkRef, Manifest, RepoConfig, FORMAT_VERSION};
use crate::keys::{self, RepoKey};
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

/// An open repository. Cheap to clone; safe to share between tasks. An encrypted one holds
/// its unwrapped data key (never printed).
#[derive(Clone)]
pub struct Repository {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) url: String,
    config: RepoConfig,
    pub(crate) codec: Codec,
    /// The key slot that opened an encrypted repository.
    key_slot: Option<String>,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository").field("url", &self.url).field("config", &self.config).field("key_slot", &self.key_slot).finish()
    }
}

impl Repository {
    /// Opens an existing plain repository at `url` (a path, `file://`, `s3://`, `gs://`,
    /// `az://`). Errors: BadInput if the location is not a repository (or a path is a file), or
    /// the repository is encrypted; Unsupported for a newer format version; Corrupt for an
    /// unreadable `tandem-repo.json`; Unreachable when the store cannot be reached.
    pub async fn open(url: &str) -> Result<Repository> {
        Self::open_keyed(url, &[], None).await
    }

    /// Opens the plain repository at `url`, creating it if the location is empty or missing.
    /// Errors as [`Repository::open`], and BadInput if the location holds objects but no
    /// `tandem-repo.json` (tandem never writes into a location that is not a repository).
    pub async fn open_or_create(url: &str) -> Result<Repository> {
        Self::open_or_create_keyed(url, &[], None).await
    }

    /// [`Repository::open`] with store options: object_store config keys (`aws_endpoint`,
    /// `aws_access_key_id`, `aws_allow_http`, `google_service_account`, `azure_storage_account_name`,
    /// …) that override the environment. Options are refused for local repositories.
    pub async fn open_with_options(url: &str, options: &[(&str, &str)]) -> Result<Repository> {
        Self::open_keyed(url, options, None).await
    }

    /// [`Repository::open_or_create`] with store options (see [`Repository::open_with_options`]).
    pub async fn open_or_create_with_options(url: &str, options: &[(&str, &str)]) -> Result<Repository> {
        Self::open_or_create_keyed(url, options, None).await
    }

    /// Opens the repository at `url` with store options and, for an encrypted repository, its
    /// key. The key is checked before anything is read but the root file and the key slots,
    /// and before anything is written. Errors as [`Repository::open`], and BadInput (naming the
    /// repository and the key's source) for a wrong key, a missing key of an encrypted
    /// repository, or a key given for a plain one.
    pub async fn open_keyed(url: &str, options: &[(&str, &str)], key: Option<&RepoKey>) -> Result<Repository> {
        let opened = open_store(url, options, Missing::Fail)?;
        Self::open_in(opened.store, &opened.display, key).await
    }

    /// [`Repository::open_keyed`], creating the repository if the location is empty or
    /// missing: encrypted with `key` as its first key if one is given, plain otherwise.
    pub async fn open_or_create_keyed(url: &str, options: &[(&str, &str)], key: Option<&RepoKey>) -> Result<Repository> {
        let opened = open_store(url, options, Missing::Create)?;
        Self::open_or_create_in(opened.store, &opened.display, key).await
    }

    /// Creates a repository at `url` (encrypted with `key` as its first key, labelled `label`,
    /// if one is given). Errors: Conflict if there is a repository already; BadInput if the
    /// location holds other objects; as [`Repository::open`] otherwise.
    pub async fn init(url: &str, options: &[(&str, &str)], key: Option<&RepoKey>, label: Option<&str>) -> Result<Repository> {
        let opened = open_store(url, options, Missing::Create)?;
        let (store, url) = (opened.store, opened.display);
        if read_config(&store, &url).await?.is_some() {
            return Err(Error::conflict(format!("there is a tandem repository at {url} already")));
        }
        must_be_empty(&store, &url).await?;
        match create(&store, &url, key, label).await? {
            Some(repo) => Ok(repo),
            None => Err(Error::conflict(format!("there is a tandem repository at {url} already (created meanwhile)"))),
        }
    }

    /// Opens the repository at the root of an already configured `store`; `url` names it in
    /// messages. Errors as [`Repository::open_keyed`].
    pub async fn open_in(store: Arc<dyn ObjectStore>, url: &str, key: Option<&RepoKey>) -> Result<Repository> {
        match read_config(&store, url).await? {
            Some(config) => unlocked(store, url, config, key).await,
            None => Err(Error::bad_input(format!("no tandem repository at {url} ({CONFIG_FILE} is missing)"))),
        }
    }

    /// Opens or creates the repository at the root of an already configured `store`.
    /// Errors as [`Repository::open_or_create_keyed`].
    pub async fn open_or_create_in(store: Arc<dyn ObjectStore>, url: &str, key: Option<&RepoKey>) -> Result<Repository> {
        if let Some(config) = read_config(&store, url).await? {
            return unlocked(store, url, config, key).await;
        }
        if let Err(e) = must_be_empty(&store, url).await {
            // A concurrent creator may have just written the root file.
            return match read_config(&store, url).await? {
                Some(config) => unlocked(store, url, config, key).await,
                None => Err(e),
            };
        }
        match create(&store, url, key, None).await? {
            Some(repo) => Ok(repo),
            // Lost a creation race: use the winner's repository.
            None => Self::open_in(store, url, key).await,
        }
    }

    /// The same repository opened afresh at `url` (a new store client, e.g. for another tokio
    /// runtime), with the keys this one holds: no key derivation again. Errors as
    /// [`Repository::open`], and Conflict if `url` holds another repository.
    pub async fn reopen(&self, url: &str) -> Result<Repository> {
        let opened = open_store(url, &[], Missing::Fail)?;
        let config = read_config(&opened.store, &opened.display)
            .await?
            .ok_or_else(|| Error::bad_input(format!("no tandem repository at {} ({CONFIG_FILE} is missing)", opened.display)))?;
        if config.id != self.config.id {
            return Err(Error::conflict(format!("{} now holds another repository (id {}, not {})", opened.display, config.id, self.config.id)));
        }
        Ok(Repository { store: opened.store, url: opened.display, config, codec: self.codec.clone(), key_slot: self.key_slot.clone() })
    }

    /// The URL the repository was opened with (credentials removed).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn config(&self) -> &RepoConfig {
        &self.config
    }

    /// Whether the repository is encrypted.
    pub fn encrypted(&self) -> bool {
        matches!(self.codec, Codec::Sealed(_))
    }

    /// The id of the key slot an encrypted repository was opened with.
    pub fn key_slot(&self) -> Option<&str> {
        self.key_slot.as_deref()
    }

    pub(crate) fn data_key(&self) -> Option<Arc<DataKey>> {
        match &self.codec {
            Codec::Sealed(k) => Some(k.clone()),
            Codec::Plain => None,
        }
    }

    /// The id a chunk with content `raw` has in this repository: BLAKE3 of it, keyed with the
    /// repository's secret id key when encrypted.
    pub fn chunk_id(&self, raw: &[u8]) -> String {
        self.codec.chunk_id(raw)
    }

    /// The bytes this repository stores at `name` (relative to its root) for `content`:
    /// sealed when encrypted, `content` itself when plain.
    pub fn encode_object(&self, name: &str, content: Vec<u8>) -> Result<Vec<u8>> {
        self.codec.seal(name, content)
    }

    /// Reads the object at `path`, opened (decrypted and authenticated in an encrypted
    /// repository); `None` if it does not exist. Errors: Corrupt naming the object if it fails
    /// authentication.
    pub(crate) async fn read_sealed(&self, path: &Path) -> Result<Option<Bytes>> {
        let data = match self.store.get(path).await {
            Ok(r) => r.bytes().await,
            Err(e) => Err(e),
        };
        match data {
            Ok(d) => self.decode_object(path.as_ref(), d).map(Some),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_error(&self.url, format!("reading {path}"), e)),
        }
    }

    /// The content of `stored` read from `name`. Errors: Corrupt naming the object when a
    /// sealed object fails authentication.
    pub fn decode_object(&self, name: &str, stored: Bytes) -> Result<Bytes> {
        self.codec.open(name, stored).map_err(|e| Error::corrupt(format!("{name} is corrupt: {e}")))
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
        let codec = self.codec.clone();
        // Compress, then encrypt (compressed ciphertext would not shrink).
        let (id, stored) = tokio::task::spawn_blocking(move || {
            let id = codec.chunk_id(&raw);
            let compressed = zstd::bulk::compress(&raw, ZSTD_LEVEL).map_err(|e| Error::internal(format!("compressing a chunk: {e}")))?;
            codec.seal(chunk_path(&id).as_ref(), compressed).map(|s| (id, s))
        })
        .await
        .map_err(|e| Error::internal(format!("compressing a chunk: {e}")))??;
        let chunk = ChunkRef { id, raw: raw_len, stored: stored.len() as u64 };
        if known.is_some_and(|k| k.contains(&chunk.id)) {
            return Ok(chunk);
        }
        let path = chunk_path(&chunk.id);
        self.store.put(&path, PutPayload::from(stored)).await.map_err(|e| store_error(&self.url, format!("writing chunk {}", chunk.id), e))?;
        Ok(chunk)
    }

    /// Reads a chunk, decrypts it (checking its authentication tag) when encrypted, decompresses
    /// it and verifies its hash and length. Errors: Corrupt naming the chunk (`chunk <id> is
    /// missing`, `chunk <id> is corrupt: …`) if it is missing, fails authentication or to
    /// decompress, has another length or hashes differently.
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
        let (chunk, codec) = (chunk.clone(), self.codec.clone());
        tokio::task::spawn_blocking(move || decode_chunk(&codec, &chunk, stored)).await.map_err(|e| Error::internal(format!("decompressing a chunk: {e}")))?
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
        let data = self.codec.open(path.as_ref(), data).map_err(|e| corrupt(&e))?;
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
        let stored = self.codec.seal(path.as_ref(), json)?;
        match self.store.put_opts(&path, PutPayload::from(stored), PutMode::Create.into()).await {
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
        crate::lock::acquire(self.store.clone(), self.codec.clone(), self.url.clone(), mode, purpose).await
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
    if config.encryption != "none" && config.encryption != SCHEME {
        return Err(Error::unsupported(format!(
            "repository {url} uses encryption {:?}, which this tandem does not support; upgrade tandem",
            config.encryption
        )));
    }
    Ok(Some(config))
}

/// BadInput unless the location holds no object (it is somebody else's data) but key slots
/// (those of a creator racing this one, or of one that died before its root file).
async fn must_be_empty(store: &Arc<dyn ObjectStore>, url: &str) -> Result<()> {
    let mut objects = store.list(None);
    let other = loop {
        match objects.try_next().await.map_err(|e| store_error(url, "listing objects", e))? {
            Some(meta) if meta.location.prefix_matches(&Path::from("keys")) => continue,
            found => break found,
        }
    };
    match other {
        None => Ok(()),
        Some(meta) => Err(Error::bad_input(format!(
            "{url} is not a tandem repository: it holds other objects (such as {}) and no {CONFIG_FILE}; \
             refusing to create a repository there (use an empty location)",
            meta.location
        ))),
    }
}

/// Writes a new repository: for an encrypted one, its first key slot, then the root file
/// (create-only; a slot without a root file is removed again). `None` if another creator's
/// root file won.
async fn create(store: &Arc<dyn ObjectStore>, url: &str, key: Option<&RepoKey>, label: Option<&str>) -> Result<Option<Repository>> {
    let config = RepoConfig {
        kind: REPO_KIND.to_string(),
        version: FORMAT_VERSION,
        id: format!("{:032x}", rand::random::<u128>()),
        created: Utc::now(),
        compression: "zstd".to_string(),
        encryption: if key.is_some() { SCHEME } else { "none" }.to_string(),
    };
    let (codec, slot) = match key {
        None => (Codec::Plain, None),
        Some(key) => {
            let data = DataKey::generate()?;
            let slot = keys::write_slot(store, url, &config.id, &data, key, label).await?;
            (Codec::Sealed(Arc::new(data)), Some(slot.id))
        }
    };
    let forget_slot = || async {
        if let Some(id) = &slot {
            let _ = store.delete(&Path::from_iter(["keys".to_string(), format!("{id}.json")])).await;
        }
    };
    let json = serde_json::to_vec_pretty(&config).map_err(|e| Error::internal(format!("encoding {CONFIG_FILE}: {e}")))?;
    match store.put_opts(&Path::from(CONFIG_FILE), PutPayload::from(json), PutMode::Create.into()).await {
        Ok(_) => {
            tracing::info!(url, id = %config.id, encryption = %config.encryption, "created repository");
            Ok(Some(Repository { store: store.clone(), url: url.to_string(), config, codec, key_slot: slot }))
        }
        Err(object_store::Error::AlreadyExists { .. }) => {
            forget_slot().await;
            Ok(None)
        }
        Err(e) => {
            forget_slot().await;
            Err(store_error(url, format!("writing {CONFIG_FILE}"), e))
        }
    }
}

/// The repository of `config`, with its data key unwrapped by `key` when it is encrypted.
async fn unlocked(store: Arc<dyn ObjectStore>, url: &str, config: RepoConfig, key: Option<&RepoKey>) -> Result<Repository> {
    let (codec, key_slot) = match (config.encryption == SCHEME, key) {
        (false, None) => (Codec::Plain, None),
        (false, Some(key)) => {
            return Err(Error::bad_input(format!(
                "repository {url} is not encrypted, but a repository key was given ({}); give no key for it, or use an encrypted repository",
                key.source()
            )))
        }
        (true, None) => {
            return Err(Error::bad_input(format!("repository {url} is encrypted and no repository key was given")).with_hint(tandem_error::Hint::RepositoryKey))
        }
        (true, Some(key)) => {
            let (data, slot) = keys::unlock(&store, url, &config.id, key).await?;
            tracing::debug!(url, slot = %slot, "unlocked the repository");
            (Codec::Sealed(Arc::new(data)), Some(slot))
        }
    };
    Ok(Repository { store, url: url.to_string(), config, codec, key_slot })
}

/// Decrypts (when sealed), decompresses and verifies one stored chunk.
fn decode_chunk(codec: &Codec, chunk: &ChunkRef, stored: Bytes) -> Result<Bytes> {
    let corrupt = |what: String| Error::new(Kind::Corrupt, format!("chunk {} is corrupt: {what}", chunk.id));
    let stored = codec.open(chunk_path(&chunk.id).as_ref(), stored).map_err(corrupt)?;
    let decoder = zstd::stream::read::Decoder::with_buffer(&stored[..]).map_err(|e| corrupt(format!("zstd: {e}")))?;
    // Read at most one byte more than expected, so a lying length cannot exhaust memory.
    let mut raw = Vec::with_capacity(usize::try_from(chunk.raw.min(64 << 20)).unwrap_or(0));
    decoder.take(chunk.raw.saturating_add(1)).read_to_end(&mut raw).map_err(|e| corrupt(format!("zstd: {e}")))?;
    if raw.len() as u64 != chunk.raw {
        let got = if raw.len() as u64 > chunk.raw { "more".to_string() } else { raw.len().to_string() };
        return Err(corrupt(format!("{got} bytes after decompression, expected {}", chunk.raw)));
    }
    let hash = codec.chunk_id(&raw);
    if hash != chunk.id {
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
        let stored = Bytes::from(stored);
        let decode = |c: &ChunkRef, s: &Bytes| decode_chunk(&Codec::Plain, c, s.clone());
        assert_eq!(decode(&good, &stored).ok().as_deref(), Some(&raw[..]));
        let short = ChunkRef { raw: 10, ..good.clone() };
        assert!(decode(&short, &stored).is_err_and(|e| e.kind() == Kind::Corrupt && e.to_string().contains(&id)));
        let long = ChunkRef { raw: 10_000, ..good.clone() };
        assert!(decode(&long, &stored).is_err());
        let other = ChunkRef { id: "0".repeat(64), ..good.clone() };
        assert!(decode(&other, &stored).is_err_and(|e| e.to_string().contains("hashes to")));
        let mut trailing = stored.to_vec();
        trailing.extend_from_slice(b"garbage");
        assert!(decode(&good, &Bytes::from(trailing)).is_err());
    }

    #[test]
    fn chunk_ids_are_validated() {
        assert!(is_chunk_id(&"ab".repeat(32)));
        assert!(!is_chunk_id(&"AB".repeat(32)));
        assert!(!is_chunk_id("../../etc/passwd"));
        assert_eq!(chunk_path(&"ab".repeat(32)).to_string(), format!("chunks/ab/{}", "ab".repeat(32)));
    }
}
