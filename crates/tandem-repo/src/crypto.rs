//! How objects are stored: as they are in a plain repository, sealed in an encrypted one
//! (`docs/FORMAT.md` section 13).
//!
//! A sealed object is `TDE\x01 ‖ nonce (24 bytes) ‖ XChaCha20-Poly1305 ciphertext ‖ tag (16 bytes)`
//! under the repository's data key, with the header and the object's name (relative to the
//! repository root) as associated data: an object moved to another name, or changed in any
//! byte, fails authentication. Nonces are random (192 bits: no practical chance of reuse).
//! Chunk ids are `blake3::keyed_hash(id key, raw)`, so names reveal nothing about content while
//! the same content still gets the same id (dedup) within the repository.

use std::sync::Arc;

use bytes::Bytes;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use tandem_error::{Error, Result};
use zeroize::Zeroizing;

/// `encryption` of the root file for repositories sealed as this module does.
pub(crate) const SCHEME: &str = "xchacha20poly1305";
/// First bytes of every sealed object: "TDE" and the envelope version.
pub(crate) const MAGIC: [u8; 4] = *b"TDE\x01";
const NONCE: usize = 24;
const TAG: usize = 16;
/// Bytes a sealed object has more than its content.
pub(crate) const OVERHEAD: usize = MAGIC.len() + NONCE + TAG;
/// Length of the data key: 32 bytes of AEAD key, then 32 bytes of chunk-id key.
pub(crate) const DATA_KEY: usize = 64;

/// The secret keys of an encrypted repository, unwrapped from a key slot. Never printed.
pub(crate) struct DataKey {
    aead: XChaCha20Poly1305,
    id_key: Zeroizing<[u8; 32]>,
    /// The 64 bytes as stored in key slots (to wrap them for a new slot).
    raw: Zeroizing<[u8; DATA_KEY]>,
}

impl DataKey {
    /// A new random data key.
    pub fn generate() -> Result<DataKey> {
        let mut raw = Zeroizing::new([0u8; DATA_KEY]);
        random(&mut raw[..])?;
        Ok(Self::from_bytes(&raw))
    }

    pub fn from_bytes(bytes: &[u8; DATA_KEY]) -> DataKey {
        let mut raw = Zeroizing::new([0u8; DATA_KEY]);
        raw.copy_from_slice(bytes);
        let mut id_key = Zeroizing::new([0u8; 32]);
        id_key.copy_from_slice(&bytes[32..]);
        DataKey { aead: XChaCha20Poly1305::new(Key::from_slice(&bytes[..32])), id_key, raw }
    }

    pub fn bytes(&self) -> &[u8; DATA_KEY] {
        &self.raw
    }
}

/// How a repository stores objects. Cheap to clone.
#[derive(Clone)]
pub(crate) enum Codec {
    /// Plain repository: objects are stored as they are; chunk ids are unkeyed BLAKE3.
    Plain,
    /// Encrypted repository.
    Sealed(Arc<DataKey>),
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Codec::Plain => "Plain",
            Codec::Sealed(_) => "Sealed(<keys redacted>)",
        })
    }
}

impl Codec {
    /// The id of a chunk with content `raw` (64 lower-case hex digits).
    pub fn chunk_id(&self, raw: &[u8]) -> String {
        match self {
            Codec::Plain => blake3::hash(raw).to_hex().to_string(),
            Codec::Sealed(k) => blake3::keyed_hash(&k.id_key, raw).to_hex().to_string(),
        }
    }

    /// What is stored at `name` for `content`.
    pub fn seal(&self, name: &str, content: Vec<u8>) -> Result<Vec<u8>> {
        let Codec::Sealed(k) = self else { return Ok(content) };
        seal_with(&k.aead, &associated(name), content)
    }

    /// The content of the object stored at `name`. Errors: a reason (for the caller's Corrupt
    /// message naming the object) when a sealed object is not one or fails authentication.
    pub fn open(&self, name: &str, stored: Bytes) -> std::result::Result<Bytes, String> {
        let Codec::Sealed(k) = self else { return Ok(stored) };
        open_with(&k.aead, &associated(name), &stored).map(Bytes::from)
    }
}

/// Associated data of the object at `name`: the header, then the name.
fn associated(name: &str) -> Vec<u8> {
    let mut ad = Vec::with_capacity(MAGIC.len() + name.len());
    ad.extend_from_slice(&MAGIC);
    ad.extend_from_slice(name.as_bytes());
    ad
}

/// Seals `content` as header ‖ nonce ‖ ciphertext ‖ tag (used for objects and key slots).
pub(crate) fn seal_with(aead: &XChaCha20Poly1305, ad: &[u8], content: Vec<u8>) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE];
    random(&mut nonce)?;
    let mut out = Vec::with_capacity(content.len() + OVERHEAD);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&content);
    let start = MAGIC.len() + NONCE;
    let tag = aead
        .encrypt_in_place_detached(XNonce::from_slice(&nonce), ad, &mut out[start..])
        .map_err(|_| Error::internal("encrypting an object failed (too large?)"))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens what [`seal_with`] made; the error is a reason for a Corrupt message.
pub(crate) fn open_with(aead: &XChaCha20Poly1305, ad: &[u8], stored: &[u8]) -> std::result::Result<Vec<u8>, String> {
    if stored.len() < OVERHEAD || stored[..MAGIC.len()] != MAGIC {
        return Err("not an encrypted tandem object (no TDE\\x01 header)".to_string());
    }
    let nonce = XNonce::from_slice(&stored[MAGIC.len()..MAGIC.len() + NONCE]);
    let (body, tag) = stored[MAGIC.len() + NONCE..].split_at(stored.len() - OVERHEAD);
    let mut content = body.to_vec();
    match aead.decrypt_in_place_detached(nonce, ad, &mut content, Tag::from_slice(tag)) {
        Ok(()) => Ok(content),
        Err(_) => Err("authentication failed: the object was changed, damaged or moved from another name".to_string()),
    }
}

/// Fills `buf` from the operating system's random source.
pub(crate) fn random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::internal(format!("no random numbers from the operating system: {e}")))
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses hex of any even length.
pub(crate) fn unhex_vec(s: &str) -> Option<Vec<u8>> {
    let pairs = s.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    pairs.map(|p| Some((char::from(p[0]).to_digit(16)? as u8) << 4 | char::from(p[1]).to_digit(16)? as u8)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed() -> Codec {
        Codec::Sealed(Arc::new(DataKey::generate().unwrap()))
    }

    #[test]
    fn sealed_objects_round_trip_and_bind_their_name() {
        let c = sealed();
        let stored = c.seal("backups/a.json", b"{\"secret\": 1}".to_vec()).unwrap();
        assert_eq!(stored.len(), 13 + OVERHEAD);
        assert_eq!(&stored[..4], b"TDE\x01");
        assert!(!stored.windows(6).any(|w| w == b"secret"));
        assert_eq!(c.open("backups/a.json", Bytes::from(stored.clone())).unwrap(), &b"{\"secret\": 1}"[..]);
        // Another name, a flipped byte anywhere, a truncation, another key: refused.
        assert!(c.open("backups/b.json", Bytes::from(stored.clone())).unwrap_err().contains("authentication failed"));
        for i in [0, 5, 30, stored.len() - 1] {
            let mut bad = stored.clone();
            bad[i] ^= 1;
            assert!(c.open("backups/a.json", Bytes::from(bad)).is_err(), "byte {i}");
        }
        assert!(c.open("backups/a.json", Bytes::from(stored[..20].to_vec())).unwrap_err().contains("not an encrypted"));
        assert!(sealed().open("backups/a.json", Bytes::from(stored)).is_err());
        // Two seals of the same content differ (random nonces).
        assert_ne!(c.seal("x", vec![1; 10]).unwrap(), c.seal("x", vec![1; 10]).unwrap());
    }

    #[test]
    fn chunk_ids_are_keyed_and_stable() {
        let (a, b) = (sealed(), sealed());
        let raw = b"1\tmarker\n";
        assert_eq!(a.chunk_id(raw), a.chunk_id(raw));
        assert_ne!(a.chunk_id(raw), b.chunk_id(raw));
        assert_ne!(a.chunk_id(raw), Codec::Plain.chunk_id(raw));
        assert_eq!(Codec::Plain.chunk_id(raw), blake3::hash(raw).to_hex().as_str());
        assert_eq!(Codec::Plain.seal("x", vec![7]).unwrap(), vec![7]);
        assert_eq!(format!("{a:?}"), "Sealed(<keys redacted>)");
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(unhex_vec("00ab1"), None);
        assert_eq!(unhex_vec("zz"), None);
        assert_eq!(unhex_vec("00ab10"), Some(vec![0, 0xab, 0x10]));
        assert_eq!(unhex_vec("0g"), None);
    }
}
