//! The stored types of the repository format (version [`FORMAT_VERSION`]). Changes must stay
//! readable by older tandem of the same format version: add optional fields only.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tandem_error::{Error, Result};
use tandem_format::{SchemaDump, SnapshotInfo, TableDef};

/// The repository format version this tandem writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// `tandem-repo.json`: written once when the repository is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoConfig {
    /// Always `"tandem-repository"`.
    pub kind: String,
    /// Format version; readers refuse versions newer than theirs.
    pub version: u32,
    /// Random id of this repository (hex).
    pub id: String,
    pub created: DateTime<Utc>,
    /// Chunk compression: `"zstd"`.
    pub compression: String,
    /// Encryption of chunks and manifests: `"none"` (room for a later version).
    pub encryption: String,
}

/// Shared (backup, restore, check) or exclusive (prune); stored as `"shared"` / `"exclusive"`.
/// A lock with another mode (a newer tandem) does not parse and is honoured as unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    Shared,
    Exclusive,
}

impl LockMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Shared => "shared",
            LockMode::Exclusive => "exclusive",
        }
    }
}

/// Id of a backup: `YYYYMMDDTHHMMSSZ-xxxx` (UTC start time + 4 hex digits: the millisecond in
/// 10 bits, then 6 random bits), so ids sort by
/// time as strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BackupId(String);

impl BackupId {
    /// A new id for a backup starting at `at`.
    pub fn new(at: DateTime<Utc>) -> BackupId {
        // Milliseconds first: two backups started in the same second still sort in start order.
        let ms = at.timestamp_subsec_millis().min(999) as u16;
        BackupId(format!("{}-{:04x}", at.format("%Y%m%dT%H%M%SZ"), (ms << 6) | (rand::random::<u8>() & 0x3f) as u16))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The UTC time encoded in the id.
    pub fn time(&self) -> DateTime<Utc> {
        chrono::NaiveDateTime::parse_from_str(&self.0[..15], "%Y%m%dT%H%M%S").map(|t| t.and_utc()).unwrap_or_default()
    }
}

impl FromStr for BackupId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let b = s.as_bytes();
        let ok = b.len() == 21
            && b[..8].iter().all(u8::is_ascii_digit)
            && b[8] == b'T'
            && b[9..15].iter().all(u8::is_ascii_digit)
            && b[15] == b'Z'
            && b[16] == b'-'
            && b[17..].iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
        if ok {
            Ok(BackupId(s.to_string()))
        } else {
            Err(Error::bad_input(format!("invalid backup id {s:?} (expected e.g. 20261123T171900Z-3f2a)")))
        }
    }
}

impl TryFrom<String> for BackupId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<BackupId> for String {
    fn from(id: BackupId) -> String {
        id.0
    }
}

impl fmt::Display for BackupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A reference from a manifest to one chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// blake3 of the raw (uncompressed) bytes, lower-case hex (64 chars).
    pub id: String,
    /// Raw length in bytes.
    pub raw: u64,
    /// Stored (compressed) length in bytes.
    pub stored: u64,
}

/// One table of a backup: its definition, counts and the ordered chunks holding its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    #[serde(flatten)]
    pub table: TableDef,
    pub rows: u64,
    /// Raw bytes of row data (sum of chunk `raw`).
    pub bytes: u64,
    pub chunks: Vec<ChunkRef>,
}

/// What the system layer recorded about the backed-up database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemInfo {
    /// `generic`, `hive-metastore`, `airflow`.
    pub name: String,
    /// Schema version of the system (`3.1.0`, alembic revision), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// System-specific counts for humans (`databases`, `tables`, `partitions`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub summary: BTreeMap<String, u64>,
}

/// `backups/<id>.json`: the commit point of one backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version of this manifest (= the repository's).
    pub version: u32,
    pub id: BackupId,
    /// Site name the backup was taken from (`primary`), or empty when given as a bare URL.
    #[serde(default)]
    pub site: String,
    /// Source URL without password.
    pub source: String,
    pub system: SystemInfo,
    pub snapshot: SnapshotInfo,
    /// DDL of the database; its `tables` list is empty here (see `tables`).
    pub schema: SchemaDump,
    pub tables: Vec<TableEntry>,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    /// tandem version that wrote the backup.
    pub tool: String,
}

impl Manifest {
    /// Total raw bytes of row data (saturating: a manifest's counts are input).
    pub fn bytes(&self) -> u64 {
        self.tables.iter().fold(0, |n, t| n.saturating_add(t.bytes))
    }
    /// Total rows (saturating).
    pub fn rows(&self) -> u64 {
        self.tables.iter().fold(0, |n, t| n.saturating_add(t.rows))
    }
    /// Total stored bytes of the chunks as their writer recorded them (saturating).
    pub fn stored_bytes(&self) -> u64 {
        self.tables.iter().flat_map(|t| &t.chunks).fold(0, |n, c| n.saturating_add(c.stored))
    }
    /// Whether `other` holds the same database content: the same system and schema, and every
    /// table with the same definition and the same chunks (chunk ids hash the row data), so a
    /// restore of either gives the same result. Snapshot positions and times may differ.
    pub fn same_content(&self, other: &Manifest) -> bool {
        (self.system.name == other.system.name && self.system.version == other.system.version) && self.schema == other.schema && self.tables == other.tables
    }

    /// The schema with its table list filled from `tables`.
    pub fn full_schema(&self) -> SchemaDump {
        let mut s = self.schema.clone();
        s.tables = self.tables.iter().map(|t| t.table.clone()).collect();
        s
    }
}

/// `locks/<lock-id>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub mode: LockMode,
    /// What holds it (`backup`, `prune`).
    pub purpose: String,
    pub hostname: String,
    pub pid: u32,
    pub created: DateTime<Utc>,
    /// Refreshed by the holder; a lock not refreshed past this instant is stale and ignored.
    pub expires: DateTime<Utc>,
    /// Which process on which boot holds it, so another process can tell a dead holder from a
    /// live one without waiting for `expires`. Absent in locks of older versions (then only
    /// `expires` makes the lock stale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessId>,
}

/// A process's identity that stays unique across pid reuse, reboots and containers that share a
/// host name: the kernel's boot id, the pid namespace and the process's start time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: String,
    /// The pid namespace (`readlink /proc/self/ns/pid`, e.g. `pid:[4026531836]`).
    pub pid_namespace: String,
    /// Start time of the process in clock ticks after boot (field 22 of `/proc/<pid>/stat`).
    pub start_ticks: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_ids_sort_by_time_and_validate() {
        let a = BackupId::new("2026-11-23T17:19:00Z".parse().unwrap());
        let b = BackupId::new("2026-11-23T17:20:00Z".parse().unwrap());
        assert!(a < b);
        let (early, late) = ("2026-11-23T17:19:00.001Z".parse().unwrap(), "2026-11-23T17:19:00.002Z".parse().unwrap());
        for _ in 0..100 {
            assert!(BackupId::new(early) < BackupId::new(late), "same second: start order");
        }
        assert!(BackupId::new("2026-11-23T17:19:00.999Z".parse().unwrap()).as_str().starts_with("20261123T171900Z-f9"));
        assert!(a.as_str().starts_with("20261123T171900Z-"));
        assert_eq!(a.time(), "2026-11-23T17:19:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(a.as_str().parse::<BackupId>().unwrap(), a);
        for bad in ["", "latest", "20261123T171900Z", "20261123T171900Z-XYZW", "../../etc/passwd"] {
            assert!(bad.parse::<BackupId>().is_err(), "{bad}");
        }
    }
}
