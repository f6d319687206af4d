//! Key slots of an encrypted repository (`docs/FORMAT.md` section 13): `keys/<id>.json`, each
//! the repository's data key wrapped by a key that Argon2id derives from one passphrase.
//!
//! Slots are written create-only and never rewritten, so adding a key never races with
//! anything, and the root file stays as it was written. Removing a key takes the exclusive
//! repository lock and refuses to remove the slot the remover opened the repository with; the
//! remover's own slot must still exist under the lock, so the last key can never go.
//! Removing a key revokes its passphrase, not the data key: whoever read the data key before
//! (a running process, a copy of the old slot plus its passphrase) can still read the data.

use std::sync::Arc;

use chacha20poly1305::aead::KeyInit;
use chacha20poly1305::{Key, XChaCha20Poly1305};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use serde::{Deserialize, Serialize};
use tandem_error::{Error, Hint, Result};
use zeroize::Zeroizing;

use crate::crypto::{self, DataKey, DATA_KEY, SCHEME};
use crate::format::LockMode;
use crate::repository::Repository;
use crate::store::store_error;

/// Prefix of the key slots.
const KEYS: &str = "keys";
/// `kind` of a key slot.
const SLOT_KIND: &str = "tandem-key";
/// Argon2id cost of new slots: 64 MiB, 3 passes, one lane (a few tenths of a second on one core,
/// paid once per command that opens the repository, per slot tried).
const MEMORY_KIB: u32 = 64 * 1024;
const ITERATIONS: u32 = 3;
const PARALLELISM: u32 = 1;
/// Bounds on the cost a slot may ask for (slots are plain text anybody with write access to
/// the bucket could plant; a slot beyond them is skipped, not derived).
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ITERATIONS: u32 = 64;
const MAX_PARALLELISM: u32 = 16;

/// A passphrase that opens an encrypted repository, and where it came from (named in errors;
/// the passphrase never is). Debug shows the source only.
#[derive(Clone)]
pub struct RepoKey {
    secret: Zeroizing<Vec<u8>>,
    source: String,
}

impl std::fmt::Debug for RepoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoKey").field("source", &self.source).field("secret", &"<redacted>").finish()
    }
}

impl RepoKey {
    /// A key read from `source` (e.g. `TANDEM_REPO_KEY`, `--repo-key-file /etc/tandem/key`).
    /// Errors: BadInput if it is empty.
    pub fn new(secret: impl Into<Vec<u8>>, source: impl Into<String>) -> Result<RepoKey> {
        let (secret, source) = (Zeroizing::new(secret.into()), source.into());
        if secret.is_empty() {
            return Err(Error::bad_input(format!("the repository key from {source} is empty")));
        }
        Ok(RepoKey { secret, source })
    }

    /// Where the key came from.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// `keys/<id>.json`: one passphrase's wrapping of the data key. Plain text: holds nothing
/// secret without the passphrase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySlot {
    /// Always `"tandem-key"`.
    pub kind: String,
    /// Version of the slot format (1).
    pub version: u32,
    /// 16 lower-case hex digits; the object's name.
    pub id: String,
    pub created: DateTime<Utc>,
    /// Host that added it, for humans.
    pub hostname: String,
    /// Free text given when it was added, for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub kdf: Kdf,
    /// Wrapping cipher: `"xchacha20poly1305"`.
    pub cipher: String,
    /// Hex of the wrapped data key: `TDE\x01 ‖ nonce ‖ ciphertext ‖ tag`, associated data
    /// `tandem-key\0<repository id>\0<slot id>`.
    pub wrapped: String,
}

/// Argon2id parameters of a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kdf {
    /// `"argon2id"`.
    pub algorithm: String,
    /// Argon2 version: 19 (0x13).
    pub version: u32,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hex of 16 to 64 random bytes.
    pub salt: String,
}

impl Kdf {
    fn new() -> Result<Kdf> {
        let mut salt = [0u8; 32];
        crypto::random(&mut salt)?;
        Ok(Kdf {
            algorithm: "argon2id".into(),
            version: 19,
            memory_kib: MEMORY_KIB,
            iterations: ITERATIONS,
            parallelism: PARALLELISM,
            salt: crypto::hex(&salt),
        })
    }

    /// The 32-byte wrapping key for `key`; the error is why the slot is unusable.
    fn derive(&self, key: &RepoKey) -> std::result::Result<Zeroizing<[u8; 32]>, String> {
        if self.algorithm != "argon2id" || self.version != 19 {
            return Err(format!("unknown KDF {} version {}", self.algorithm, self.version));
        }
        if self.memory_kib > MAX_MEMORY_KIB || self.iterations > MAX_ITERATIONS || self.parallelism > MAX_PARALLELISM {
            return Err("KDF cost beyond tandem's limits".into());
        }
        let salt = crypto::unhex_vec(&self.salt).filter(|s| (16..=64).contains(&s.len())).ok_or("invalid salt")?;
        let params = argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32)).map_err(|e| format!("KDF parameters: {e}"))?;
        let mut out = Zeroizing::new([0u8; 32]);
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_into(&key.secret, &salt, &mut out[..])
            .map_err(|e| format!("KDF: {e}"))?;
        Ok(out)
    }
}

/// Associated data of a slot's wrapped key: binds it to its repository and its id.
fn slot_ad(repo_id: &str, slot_id: &str) -> Vec<u8> {
    format!("tandem-key\0{repo_id}\0{slot_id}").into_bytes()
}

fn slot_path(id: &str) -> Path {
    Path::from_iter([KEYS.to_string(), format!("{id}.json")])
}

fn is_slot_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Wraps `data` for `key` into a new slot and writes it (create-only).
pub(crate) async fn write_slot(store: &Arc<dyn ObjectStore>, url: &str, repo_id: &str, data: &DataKey, key: &RepoKey, label: Option<&str>) -> Result<KeySlot> {
    let id = format!("{:016x}", rand::random::<u64>());
    let kdf = Kdf::new()?;
    let (kdf2, key2) = (kdf.clone(), key.clone());
    let wrap_key = tokio::task::spawn_blocking(move || kdf2.derive(&key2))
        .await
        .map_err(|e| Error::internal(format!("deriving a key: {e}")))?
        .map_err(|e| Error::internal(format!("deriving a key: {e}")))?;
    let aead = XChaCha20Poly1305::new(Key::from_slice(&wrap_key[..]));
    let wrapped = crypto::seal_with(&aead, &slot_ad(repo_id, &id), data.bytes().to_vec())?;
    let slot = KeySlot {
        kind: SLOT_KIND.into(),
        version: 1,
        id: id.clone(),
        created: Utc::now(),
        hostname: crate::lock::hostname(),
        label: label.map(str::to_string),
        kdf,
        cipher: SCHEME.into(),
        wrapped: crypto::hex(&wrapped),
    };
    let json = serde_json::to_vec_pretty(&slot).map_err(|e| Error::internal(format!("encoding key slot: {e}")))?;
    let path = slot_path(&id);
    store.put_opts(&path, PutPayload::from(json), PutMode::Create.into()).await.map_err(|e| store_error(url, format!("writing {path}"), e))?;
    Ok(slot)
}

/// Every slot under `keys/`, or why it cannot be read (naming it). Other objects are ignored.
async fn read_slots(store: &Arc<dyn ObjectStore>, url: &str) -> Result<Vec<std::result::Result<KeySlot, String>>> {
    let metas: Vec<_> = store.list(Some(&Path::from(KEYS))).try_collect().await.map_err(|e| store_error(url, "listing keys/", e))?;
    let mut out = Vec::new();
    for m in metas {
        let id = m.location.filename().and_then(|f| f.strip_suffix(".json")).filter(|i| m.location.parts_count() == 2 && is_slot_id(i));
        let Some(id) = id else { continue };
        let data = match store.get(&m.location).await {
            Ok(r) => r.bytes().await,
            Err(e) => Err(e),
        };
        let data = match data {
            Ok(d) => d,
            Err(object_store::Error::NotFound { .. }) => continue, // removed meanwhile
            Err(e) => return Err(store_error(url, format!("reading {}", m.location), e)),
        };
        out.push(match serde_json::from_slice::<KeySlot>(&data) {
            Ok(s) if s.kind == SLOT_KIND && s.version == 1 && s.id == id && s.cipher == SCHEME => Ok(s),
            Ok(_) => Err(format!("{} is no version-1 tandem key slot of its name", m.location)),
            Err(e) => Err(format!("{} is corrupt: {e}", m.location)),
        });
    }
    out.sort_by(|a, b| match (a, b) {
        (Ok(a), Ok(b)) => a.created.cmp(&b.created).then(a.id.cmp(&b.id)),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(a), Err(b)) => a.cmp(b),
    });
    Ok(out)
}

/// The data key if `key` opens `slot`: `Ok(None)` for another passphrase, `Err` (a reason) for
/// a slot that cannot be used.
async fn try_slot(slot: &KeySlot, repo_id: &str, key: &RepoKey) -> std::result::Result<Option<DataKey>, String> {
    let (kdf, k) = (slot.kdf.clone(), key.clone());
    let wrap_key = tokio::task::spawn_blocking(move || kdf.derive(&k)).await.map_err(|e| format!("deriving a key: {e}"))??;
    let wrapped = crypto::unhex_vec(&slot.wrapped).ok_or("its wrapped key is not hex")?;
    let aead = XChaCha20Poly1305::new(Key::from_slice(&wrap_key[..]));
    match crypto::open_with(&aead, &slot_ad(repo_id, &slot.id), &wrapped) {
        Ok(raw) => {
            let raw = Zeroizing::new(raw);
            let bytes: &[u8; DATA_KEY] = raw[..].try_into().map_err(|_| "its data key has the wrong length".to_string())?;
            Ok(Some(DataKey::from_bytes(bytes)))
        }
        Err(_) => Ok(None),
    }
}

/// Finds the slot `key` opens. Errors: BadInput naming the repository and the key's source
/// when no slot opens (a wrong key); Corrupt when there are no slots at all.
pub(crate) async fn unlock(store: &Arc<dyn ObjectStore>, url: &str, repo_id: &str, key: &RepoKey) -> Result<(DataKey, String)> {
    let slots = read_slots(store, url).await?;
    if slots.is_empty() {
        return Err(Error::corrupt(format!("repository {url} is encrypted but holds no key slots (keys/ is empty)")));
    }
    let mut unusable = Vec::new();
    for slot in &slots {
        let reason = match slot {
            Ok(s) => match try_slot(s, repo_id, key).await {
                Ok(Some(data)) => return Ok((data, s.id.clone())),
                Ok(None) => continue,
                Err(reason) => format!("{}: {reason}", slot_path(&s.id)),
            },
            Err(reason) => reason.clone(),
        };
        tracing::warn!(repo = url, "skipping an unusable key slot: {reason}");
        unusable.push(reason);
    }
    let skipped = match unusable.is_empty() {
        true => String::new(),
        false => format!(" ({} unusable: {})", unusable.len(), unusable.join("; ")),
    };
    Err(Error::bad_input(format!(
        "wrong repository key: the key from {} opens none of the {} key slots of repository {url}{skipped}",
        key.source(),
        slots.len()
    ))
    .with_hint(Hint::RepositoryKey))
}

impl Repository {
    /// The key slots, oldest first. Errors: BadInput for a plain repository.
    pub async fn list_keys(&self) -> Result<Vec<KeySlot>> {
        self.must_be_encrypted()?;
        Ok(read_slots(&self.store, &self.url).await?.into_iter().filter_map(|s| s.map_err(|e| tracing::warn!("{e}")).ok()).collect())
    }

    /// Adds a slot for `new` (labelled for humans). Errors: BadInput for a plain repository or
    /// a passphrase that already opens a slot.
    pub async fn add_key(&self, new: &RepoKey, label: Option<&str>) -> Result<KeySlot> {
        let data = self.must_be_encrypted()?;
        if let Ok((_, id)) = unlock(&self.store, &self.url, &self.config().id, new).await {
            return Err(Error::bad_input(format!("the key from {} already opens key {id} of repository {}", new.source(), self.url)));
        }
        write_slot(&self.store, &self.url, &self.config().id, &data, new, label).await
    }

    /// Removes slot `id` under the exclusive lock. Errors: BadInput for a plain repository, an
    /// unknown id, the last key, or the key this repository was opened with (open it with
    /// another key to remove this one); Conflict if the lock is held or the key this repository
    /// was opened with was removed meanwhile.
    pub async fn remove_key(&self, id: &str) -> Result<()> {
        self.must_be_encrypted()?;
        let own = self.key_slot().unwrap_or_default().to_string();
        let lock = self.lock(LockMode::Exclusive, "key remove").await?;
        let result = self.remove_key_locked(id, &own).await;
        let released = lock.release().await;
        result.and(released)
    }

    async fn remove_key_locked(&self, id: &str, own: &str) -> Result<()> {
        let ids: Vec<String> = read_slots(&self.store, &self.url).await?.into_iter().filter_map(|s| s.ok().map(|s| s.id)).collect();
        if !ids.iter().any(|i| i == id) {
            return Err(Error::bad_input(format!("repository {} has no key {id:?} (it has {})", self.url, ids.join(", "))));
        }
        if !own.is_empty() && !ids.iter().any(|i| i == own) {
            return Err(Error::conflict(format!("the key repository {} was opened with ({own}) was removed meanwhile; nothing removed", self.url)));
        }
        if ids.len() == 1 {
            return Err(Error::bad_input(format!("key {id} is the last key of repository {}: add another key before removing it", self.url)));
        }
        if id == own {
            return Err(Error::bad_input(format!("key {id} is the key repository {} was opened with: open it with another key to remove this one", self.url)));
        }
        let path = slot_path(id);
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(&self.url, format!("deleting {path}"), e)),
        }
    }

    fn must_be_encrypted(&self) -> Result<Arc<DataKey>> {
        self.data_key().ok_or_else(|| Error::bad_input(format!("repository {} is not encrypted: it has no keys", self.url)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_show_their_secret() {
        let k = RepoKey::new("hunter2", "TANDEM_REPO_KEY").unwrap();
        let shown = format!("{k:?}");
        assert!(shown.contains("TANDEM_REPO_KEY") && !shown.contains("hunter2"), "{shown}");
        assert_eq!(RepoKey::new("", "--repo-key-file /k").unwrap_err().to_string(), "the repository key from --repo-key-file /k is empty");
    }

    #[test]
    fn derivation_depends_on_key_and_salt_and_refuses_absurd_costs() {
        let kdf = Kdf { memory_kib: 64, iterations: 1, ..Kdf::new().unwrap() };
        let (a, b) = (RepoKey::new("a", "x").unwrap(), RepoKey::new("b", "x").unwrap());
        assert_eq!(kdf.derive(&a).unwrap(), kdf.derive(&a).unwrap());
        assert_ne!(kdf.derive(&a).unwrap(), kdf.derive(&b).unwrap());
        let other = Kdf { salt: Kdf::new().unwrap().salt, ..kdf.clone() };
        assert_ne!(kdf.derive(&a).unwrap(), other.derive(&a).unwrap());
        assert!(Kdf { memory_kib: u32::MAX, ..kdf.clone() }.derive(&a).unwrap_err().contains("limits"));
        assert!(Kdf { salt: "00".into(), ..kdf.clone() }.derive(&a).unwrap_err().contains("salt"));
        assert!(Kdf { algorithm: "scrypt".into(), ..kdf }.derive(&a).unwrap_err().contains("unknown KDF"));
    }

    #[test]
    fn default_cost_is_what_format_md_says() {
        let started = std::time::Instant::now();
        let kdf = Kdf::new().unwrap();
        assert_eq!((kdf.memory_kib, kdf.iterations, kdf.parallelism, kdf.salt.len()), (65536, 3, 1, 64));
        kdf.derive(&RepoKey::new("a", "x").unwrap()).unwrap();
        eprintln!("argon2id 64 MiB x3: {:?}", started.elapsed());
    }
}
