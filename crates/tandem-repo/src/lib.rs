//! The tandem repository: where backups live.
//!
//! Layout under the repository root (a local directory or an `s3://`, `gs://`, `az://` prefix),
//! specified in `docs/FORMAT.md`:
//!
//! ```text
//! tandem-repo.json              RepoConfig: format version, repo id, created; written once
//! chunks/<h[0..2]>/<h>          zstd frame of a chunk's raw bytes; h = blake3(raw) in hex
//! backups/<id>.json             Manifest of backup <id>; written last (the commit point)
//! locks/<lock-id>.json          LockInfo of a running backup (shared) or prune (exclusive)
//! daemon/…                      state of `tandem serve`: job history, the lease (see [`daemon`])
//! keys/<key-id>.json            KeySlot of an encrypted repository (see [`RepoKey`])
//! roles/<epoch>.json            RoleRecord: the platform's active site per epoch (see [`roles`])
//! ```
//!
//! An encrypted repository (`encryption = "xchacha20poly1305"`) seals every object but the root
//! file and the key slots with XChaCha20-Poly1305 under a random data key (after compression),
//! names chunks by BLAKE3 keyed with a second secret key, and keeps the data key wrapped by
//! Argon2id-derived keys in `keys/`: one slot per passphrase. It is opened with
//! [`Repository::open_keyed`]; a wrong key is BadInput before anything else is read or written.
//!
//! Contracts:
//! - A backup exists iff its manifest exists and parses. Chunks are written before the manifest.
//! - Every read of a chunk verifies its hash (and, encrypted, every read of any object its
//!   authentication tag); a mismatch is [`Kind::Corrupt`] naming the object.
//! - A repository whose format version is newer than [`FORMAT_VERSION`] is refused
//!   ([`Kind::Unsupported`]); a location that is not a repository is [`Kind::BadInput`].
//!
//! [`Kind::Corrupt`]: tandem_error::Kind::Corrupt
//! [`Kind::Unsupported`]: tandem_error::Kind::Unsupported
//! [`Kind::BadInput`]: tandem_error::Kind::BadInput

mod chain;
mod crypto;
pub mod daemon;
mod format;
mod keys;
mod lock;
mod repository;
pub mod roles;
mod store;

pub use daemon::{Claim, LeaseRecord};
pub use format::*;
pub use keys::{Kdf, KeySlot, RepoKey};
pub use lock::{hostname, process_id, RepoLock};
pub use repository::{ChunkInfo, Repository};
pub use roles::RoleRecord;
