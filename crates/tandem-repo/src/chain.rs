//! Create-only chains of JSON records, `<prefix>/<seq>.json` (`seq` zero-padded to 20 digits):
//! each record is written once with the store's conditional create (create if absent:
//! `If-None-Match: *` on S3 and GCS, `If-None-Match` on Azure, `link` on a local disk), and the
//! highest `seq` is the newest. Of two writers that append the same `seq`, exactly one
//! succeeds. The daemon lease ([`crate::daemon`]) and the platform's roles ([`crate::roles`])
//! are such chains.

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutPayload};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tandem_error::{Error, Result};

use crate::repository::Repository;
use crate::store::store_error;

/// A record of a chain: it knows its own place, which must be its object's name.
pub(crate) trait Link: Serialize + DeserializeOwned {
    fn seq(&self) -> u64;
}

/// The object of record `seq` under `prefix`.
fn link_path(prefix: &Path, seq: u64) -> Path {
    prefix.clone().join(format!("{seq:020}.json").as_str())
}

impl Repository {
    /// The `seq`s of the chain under `prefix`, ascending.
    pub(crate) async fn chain_seqs(&self, prefix: &Path) -> Result<Vec<u64>> {
        let metas: Vec<_> = self.store.list(Some(prefix)).try_collect().await.map_err(|e| store_error(&self.url, format!("listing {prefix}/"), e))?;
        let mut seqs: Vec<u64> =
            metas.iter().filter_map(|m| m.location.filename().and_then(|f| f.strip_suffix(".json")).and_then(|s| s.parse().ok())).collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// Record `seq` of the chain; `None` if it does not exist. Errors: Corrupt naming the
    /// object (and `what` it holds) if it fails authentication, does not parse, or holds
    /// another `seq` than its name.
    pub(crate) async fn chain_read<T: Link>(&self, prefix: &Path, seq: u64, what: &str) -> Result<Option<T>> {
        let path = link_path(prefix, seq);
        let Some(data) = self.read_sealed(&path).await? else { return Ok(None) };
        let corrupt = |e: &dyn std::fmt::Display| Error::corrupt(format!("{what} {path} is corrupt: {e}"));
        let record: T = serde_json::from_slice(&data).map_err(|e| corrupt(&e))?;
        if record.seq() != seq {
            return Err(corrupt(&format!("it holds number {}", record.seq())));
        }
        Ok(Some(record))
    }

    /// The newest record of the chain, if any (see [`chain_read`](Self::chain_read)).
    pub(crate) async fn chain_newest<T: Link>(&self, prefix: &Path, what: &str) -> Result<Option<T>> {
        for &seq in self.chain_seqs(prefix).await?.iter().rev() {
            // A record deleted between list and read was superseded: try the one before.
            if let Some(record) = self.chain_read(prefix, seq, what).await? {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }

    /// Appends `record` at its `seq`: `false` when that `seq` exists already (another writer
    /// was first).
    pub(crate) async fn chain_append<T: Link>(&self, prefix: &Path, record: &T, what: &str) -> Result<bool> {
        let path = link_path(prefix, record.seq());
        let json = serde_json::to_vec_pretty(record).map_err(|e| Error::internal(format!("encoding {what}: {e}")))?;
        let stored = self.codec.seal(path.as_ref(), json)?;
        match self.store.put_opts(&path, PutPayload::from(stored), PutMode::Create.into()).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(store_error(&self.url, format!("writing {path}"), e)),
        }
    }

    /// Best effort: deletes the chain's records before `seq`.
    pub(crate) async fn chain_forget_before(&self, prefix: &Path, seq: u64) {
        let Ok(seqs) = self.chain_seqs(prefix).await else { return };
        for old in seqs.into_iter().filter(|&s| s < seq) {
            let _ = self.store.delete(&link_path(prefix, old)).await;
        }
    }
}
