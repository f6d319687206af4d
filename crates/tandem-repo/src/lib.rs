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
//! ```
//!
//! Contracts:
//! - A backup exists iff its manifest exists and parses. Chunks are written before the manifest.
//! - Every read of a chunk verifies its hash; a mismatch is [`Kind::Corrupt`] naming the chunk.
//! - A repository whose format version is newer than [`FORMAT_VERSION`] is refused
//!   ([`Kind::Unsupported`]); a location that is not a repository is [`Kind::BadInput`].
//!
//! [`Kind::Corrupt`]: tandem_error::Kind::Corrupt
//! [`Kind::Unsupported`]: tandem_error::Kind::Unsupported
//! [`Kind::BadInput`]: tandem_error::Kind::BadInput

pub mod daemon;
mod format;
mod lock;
mod repository;
mod store;

pub use daemon::{Claim, LeaseRecord};
pub use format::*;
pub use lock::{hostname, RepoLock};
pub use repository::{ChunkInfo, Repository};
