//! The conformance suite every backend runs (local directory, in-process S3 server), plus the
//! in-process S3 server itself.
#![allow(dead_code)]

pub mod encrypted;
pub mod s3server;

/// The conformance suite as tests of a module `$name`, each on a fresh `$target` (an
/// expression making a [`Target`]): run once plain and once encrypted per backend.
#[macro_export]
macro_rules! suite {
    ($name:ident, $target:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn round_trip() {
                common::round_trip(&$target).await;
            }
            #[tokio::test]
            async fn refuses_non_repository() {
                common::refuses_non_repository(&$target).await;
            }
            #[tokio::test]
            async fn refuses_newer_version() {
                common::refuses_newer_version(&$target).await;
            }
            #[tokio::test]
            async fn corrupt_config() {
                common::corrupt_config(&$target).await;
            }
            #[tokio::test]
            async fn corrupt_and_missing_chunks() {
                common::corrupt_and_missing_chunks(&$target).await;
            }
            #[tokio::test]
            async fn truncated_manifest() {
                common::truncated_manifest(&$target).await;
            }
            #[tokio::test]
            async fn ignores_invalid_backup_names() {
                common::ignores_invalid_backup_names(&$target).await;
            }
            #[tokio::test]
            async fn locks() {
                common::locks(&$target).await;
            }
            #[tokio::test]
            async fn daemon_objects() {
                common::daemon_objects(&$target).await;
            }
            #[tokio::test]
            async fn role_epochs() {
                common::role_epochs(&$target).await;
            }
        }
    };
}

/// The tests only encrypted repositories have, as tests of a module `$name`; `$target` makes a
/// fresh plain [`Target`] each time it is evaluated (see [`encrypted`]).
#[macro_export]
macro_rules! encrypted_suite {
    ($name:ident, $target:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn wrong_and_missing_key() {
                common::encrypted::wrong_and_missing_key(|| $target).await;
            }
            #[tokio::test]
            async fn keys_added_and_removed() {
                common::encrypted::keys_added_and_removed(|| $target).await;
            }
            #[tokio::test]
            async fn flipped_bytes_are_corruption() {
                common::encrypted::flipped_bytes_are_corruption(|| $target).await;
            }
            #[tokio::test]
            async fn nothing_readable_in_the_store() {
                common::encrypted::nothing_readable_in_the_store(|| $target).await;
            }
            #[tokio::test]
            async fn plain_repository_stays_plain() {
                common::encrypted::plain_repository_stays_plain(|| $target).await;
            }
            #[tokio::test]
            async fn init_and_concurrent_creators() {
                common::encrypted::init_and_concurrent_creators(|| $target).await;
            }
        }
    };
}

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{Duration, Utc};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tandem_error::{Kind, Result};
use tandem_format::{ColumnDef, Position, PositionKind, RowEncoding, SchemaDump, SnapshotInfo, TableDef};
use tandem_repo::*;

/// A fresh, empty repository location and a raw view of it for tampering.
pub struct Target {
    pub url: String,
    pub options: Vec<(String, String)>,
    /// The store rooted at the repository location (bypassing tandem-repo).
    pub raw: Arc<dyn ObjectStore>,
    pub _dir: Option<tempfile::TempDir>,
    /// The key of an encrypted repository (`None`: plain).
    pub key: Option<RepoKey>,
}

/// The key the encrypted instances of the suite use.
pub fn test_key() -> RepoKey {
    RepoKey::new("correct horse battery staple", "the test key").expect("key")
}

impl Target {
    /// The same location, encrypted with [`test_key`].
    pub fn encrypted(mut self) -> Target {
        self.key = Some(test_key());
        self
    }
    pub fn opts(&self) -> Vec<(&str, &str)> {
        self.options.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
    pub async fn create(&self) -> Repository {
        match self.open_or_create().await {
            Ok(r) => r,
            Err(e) => panic!("creating {}: {e}", self.url),
        }
    }
    pub async fn open(&self) -> Result<Repository> {
        Repository::open_keyed(&self.url, &self.opts(), self.key.as_ref()).await
    }
    pub async fn open_or_create(&self) -> Result<Repository> {
        Repository::open_or_create_keyed(&self.url, &self.opts(), self.key.as_ref()).await
    }
    /// Writes `content` at `path` as tandem stores it (sealed in an encrypted repository).
    pub async fn put_object(&self, repo: &Repository, path: &str, content: impl Into<Vec<u8>>) {
        self.put_raw(path, repo.encode_object(path, content.into()).expect("encode")).await;
    }
    /// Every object name under the location, sorted.
    pub async fn all_raw(&self) -> Vec<String> {
        let mut v = self.list_raw("").await;
        v.sort();
        v
    }
    pub async fn put_raw(&self, path: &str, data: impl Into<Bytes>) {
        self.raw.put(&Path::from(path), PutPayload::from(data.into())).await.expect("raw put");
    }
    pub async fn delete_raw(&self, path: &str) {
        self.raw.delete(&Path::from(path)).await.expect("raw delete");
    }
    pub async fn get_raw(&self, path: &str) -> Bytes {
        self.raw.get(&Path::from(path)).await.expect("raw get").bytes().await.expect("raw bytes")
    }
    pub async fn list_raw(&self, prefix: &str) -> Vec<String> {
        use futures::TryStreamExt;
        let v: Vec<_> = self.raw.list(Some(&Path::from(prefix))).try_collect().await.expect("raw list");
        v.into_iter().map(|m| m.location.to_string()).collect()
    }
}

pub fn manifest(id: &str) -> Manifest {
    let table = TableDef {
        schema: Some("public".into()),
        name: "DBS".into(),
        columns: vec![
            ColumnDef { name: "DB_ID".into(), sql_type: "bigint".into(), nullable: false, ..Default::default() },
            ColumnDef { name: "NAME".into(), sql_type: "varchar(128)".into(), nullable: true, ..Default::default() },
        ],
        primary_key: vec!["DB_ID".into()],
        ..Default::default()
    };
    Manifest {
        version: FORMAT_VERSION,
        id: id.parse().expect("id"),
        site: "primary".into(),
        source: "postgres://hms@db/hms".into(),
        system: SystemInfo { name: "hive-metastore".into(), version: Some("3.1.0".into()), summary: Default::default() },
        snapshot: SnapshotInfo {
            engine: "postgres".into(),
            server_version: "16.2".into(),
            database: "hms".into(),
            position: Position { kind: PositionKind::Lsn, value: "0/16B3748".into(), gtid: None },
            row_encoding: RowEncoding::PgCopyText,
            consistency: "repeatable read".into(),
        },
        schema: SchemaDump { pre_data: vec!["CREATE TABLE ...".into()], ..Default::default() },
        tables: vec![TableEntry { table, rows: 2, bytes: 12, chunks: vec![ChunkRef { id: "ab".repeat(32), raw: 12, stored: 20 }] }],
        started: Utc::now(),
        finished: Utc::now(),
        tool: "tandem test".into(),
    }
}

pub fn rows(n: usize, salt: &str) -> Bytes {
    let mut v = Vec::new();
    for i in 0..n {
        v.extend_from_slice(format!("{i}\tname-{salt}-{i}\t\\N\n").as_bytes());
    }
    Bytes::from(v)
}

pub async fn round_trip(t: &Target) {
    let repo = t.create().await;
    assert_eq!(repo.config().version, FORMAT_VERSION);
    assert_eq!(repo.config().kind, "tandem-repository");
    let again = t.open().await.expect("reopen");
    assert_eq!(again.config(), repo.config());
    let third = t.open_or_create().await.expect("open_or_create of an existing repo");
    assert_eq!(third.config().id, repo.config().id);

    // Chunks.
    let raw = rows(5000, "a");
    let c = repo.put_chunk(raw.clone(), None).await.expect("put");
    assert_eq!(c.id, repo.chunk_id(&raw));
    // Plain: the BLAKE3 of the content; encrypted: keyed, so the name tells nothing about it.
    assert_eq!(c.id == blake3::hash(&raw).to_hex().as_str(), !repo.encrypted());
    assert_eq!(repo.encrypted(), t.key.is_some());
    assert_eq!(c.raw, raw.len() as u64);
    assert!(c.stored < c.raw);
    assert_eq!(t.list_raw("chunks").await, vec![format!("chunks/{}/{}", &c.id[..2], c.id)]);
    assert_eq!(again.get_chunk(&c).await.expect("get"), raw);
    assert!(repo.has_chunk(&c.id).await.expect("has"));
    // Storing the same chunk again is harmless.
    assert_eq!(repo.put_chunk(raw.clone(), None).await.expect("put again"), c);
    let ids = repo.chunk_ids().await.expect("ids");
    assert_eq!(ids, HashSet::from([c.id.clone()]));
    // Dedup: a chunk in `known` is not uploaded.
    let raw2 = rows(10, "b");
    let id2 = repo.chunk_id(&raw2);
    let c2 = repo.put_chunk(raw2.clone(), Some(&HashSet::from([id2.clone()]))).await.expect("dedup put");
    assert_eq!(c2.id, id2);
    assert!(!repo.has_chunk(&id2).await.expect("has"));
    repo.put_chunk(raw2.clone(), Some(&ids)).await.expect("put 2");
    let listed = repo.list_chunks().await.expect("list");
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|i| i.stored > 0 && i.last_modified <= Utc::now() + Duration::minutes(5)));
    repo.delete_chunk(&id2).await.expect("delete");
    repo.delete_chunk(&id2).await.expect("delete twice");
    assert!(!repo.has_chunk(&id2).await.expect("has"));
    // An empty chunk round-trips too.
    let empty = repo.put_chunk(Bytes::new(), None).await.expect("empty");
    assert_eq!(repo.get_chunk(&empty).await.expect("get empty"), Bytes::new());

    // Manifests.
    assert_eq!(repo.latest_backup().await.expect("latest"), None);
    let ids = ["20261123T171900Z-3f2a", "20250101T000000Z-0000", "20261123T171900Z-0001"];
    for id in ids {
        repo.write_manifest(&manifest(id)).await.expect("write manifest");
    }
    let listed: Vec<String> = repo.list_backups().await.expect("list").iter().map(|b| b.to_string()).collect();
    assert_eq!(listed, ["20250101T000000Z-0000", "20261123T171900Z-0001", "20261123T171900Z-3f2a"]);
    let latest = repo.latest_backup().await.expect("latest").expect("some");
    assert_eq!(latest.as_str(), "20261123T171900Z-3f2a");
    let m = again.read_manifest(&latest).await.expect("read");
    assert_eq!(m, manifest("20261123T171900Z-3f2a").with_times(m.started, m.finished));
    assert_eq!(m.full_schema().tables.len(), 1);
    let e = repo.write_manifest(&manifest(ids[0])).await.expect_err("overwrite");
    assert_eq!(e.kind(), Kind::Conflict, "{e}");
    assert!(e.to_string().contains(ids[0]), "{e}");
    repo.delete_manifest(&latest).await.expect("delete manifest");
    let e = repo.read_manifest(&latest).await.expect_err("deleted");
    assert_eq!(e.kind(), Kind::BadInput);
    assert!(e.to_string().contains(&format!("no backup {latest}")), "{e}");
    assert_eq!(repo.list_backups().await.expect("list").len(), 2);
}

trait WithTimes {
    fn with_times(self, s: chrono::DateTime<Utc>, f: chrono::DateTime<Utc>) -> Self;
}
impl WithTimes for Manifest {
    fn with_times(mut self, s: chrono::DateTime<Utc>, f: chrono::DateTime<Utc>) -> Self {
        self.started = s;
        self.finished = f;
        self
    }
}

pub async fn refuses_non_repository(t: &Target) {
    t.put_raw("data/part-0000.parquet", "not a repo").await;
    let e = t.open_or_create().await.expect_err("non-repo");
    assert_eq!(e.kind(), Kind::BadInput, "{e}");
    assert!(e.to_string().contains("not a tandem repository"), "{e}");
    let e = t.open().await.expect_err("non-repo");
    assert_eq!(e.kind(), Kind::BadInput, "{e}");
    assert!(e.to_string().contains("no tandem repository at"), "{e}");
    // Nothing was written.
    assert_eq!(t.list_raw("").await, vec!["data/part-0000.parquet".to_string()]);
}

pub async fn refuses_newer_version(t: &Target) {
    let repo = t.create().await;
    let mut v: serde_json::Value = serde_json::to_value(repo.config()).expect("json");
    v["version"] = 2.into();
    v["new_field"] = "x".into();
    t.put_raw("tandem-repo.json", serde_json::to_vec(&v).expect("json")).await;
    for r in [t.open().await, t.open_or_create().await] {
        let e = r.expect_err("newer version");
        assert_eq!(e.kind(), Kind::Unsupported, "{e}");
        assert_eq!(e.to_string(), "repository format version 2 is newer than this tandem supports (1); upgrade tandem");
    }
    // A newer manifest is refused, not misread.
    let mut m = serde_json::to_value(manifest("20261123T171900Z-3f2a")).expect("json");
    m["version"] = 7.into();
    t.put_object(&repo, "backups/20261123T171900Z-3f2a.json", serde_json::to_vec(&m).expect("json")).await;
    t.put_raw("tandem-repo.json", serde_json::to_vec(repo.config()).expect("json")).await;
    let e = repo.read_manifest(&"20261123T171900Z-3f2a".parse().expect("id")).await.expect_err("newer");
    assert_eq!(e.kind(), Kind::Unsupported, "{e}");
}

pub async fn corrupt_config(t: &Target) {
    t.create().await;
    t.put_raw("tandem-repo.json", "{\"kind\": \"tandem-repository\", \"vers").await;
    let e = t.open().await.expect_err("corrupt");
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");
    assert!(e.to_string().contains("tandem-repo.json"), "{e}");
    t.put_raw("tandem-repo.json", "{\"kind\": \"something-else\", \"version\": 1}").await;
    let e = t.open().await.expect_err("kind");
    assert_eq!(e.kind(), Kind::Unsupported, "{e}");
}

pub async fn corrupt_and_missing_chunks(t: &Target) {
    let repo = t.create().await;
    let raw = rows(3000, "c");
    let c = repo.put_chunk(raw, None).await.expect("put");
    let path = format!("chunks/{}/{}", &c.id[..2], c.id);
    let mut stored = t.get_raw(&path).await.to_vec();
    let mid = stored.len() / 2;
    stored[mid] ^= 0x40;
    t.put_raw(&path, stored).await;
    let e = repo.get_chunk(&c).await.expect_err("flipped byte");
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");
    assert!(e.to_string().starts_with(&format!("chunk {} is corrupt: ", c.id)), "{e}");
    // Garbage that is not zstd at all.
    t.put_object(&repo, &path, "hello").await;
    let e = repo.get_chunk(&c).await.expect_err("not zstd");
    assert!(e.kind() == Kind::Corrupt && e.to_string().contains(&c.id), "{e}");
    // Valid zstd of other content.
    t.put_object(&repo, &path, zstd::bulk::compress(&rows(3000, "d"), 3).expect("zstd")).await;
    let e = repo.get_chunk(&c).await.expect_err("other content");
    assert!(e.kind() == Kind::Corrupt && e.to_string().contains(&c.id), "{e}");
    // Missing.
    let missing = ChunkRef { id: "0f".repeat(32), raw: 10, stored: 10 };
    let e = repo.get_chunk(&missing).await.expect_err("missing");
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");
    assert!(e.to_string().starts_with(&format!("chunk {} is missing", missing.id)), "{e}");
    // An id that is not a hash never becomes a path.
    let evil = ChunkRef { id: "../tandem-repo.json".into(), raw: 1, stored: 1 };
    assert_eq!(repo.get_chunk(&evil).await.expect_err("evil").kind(), Kind::Corrupt);
}

pub async fn truncated_manifest(t: &Target) {
    let repo = t.create().await;
    let id = "20261123T171900Z-3f2a";
    repo.write_manifest(&manifest(id)).await.expect("write");
    let path = format!("backups/{id}.json");
    let full = t.get_raw(&path).await;
    t.put_raw(&path, full.slice(..full.len() / 2)).await;
    let e = repo.read_manifest(&id.parse().expect("id")).await.expect_err("truncated");
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");
    assert!(e.to_string().starts_with(&format!("manifest backups/{id}.json is corrupt: ")), "{e}");
    // Valid JSON of the wrong shape, and a manifest holding another id.
    t.put_object(&repo, &path, "{\"version\": 1, \"id\": 5}").await;
    let e = repo.read_manifest(&id.parse().expect("id")).await.expect_err("shape");
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");
    t.put_object(&repo, &path, serde_json::to_vec(&manifest("20200101T000000Z-0000")).expect("json")).await;
    let e = repo.read_manifest(&id.parse().expect("id")).await.expect_err("other id");
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");
}

pub async fn ignores_invalid_backup_names(t: &Target) {
    let repo = t.create().await;
    repo.write_manifest(&manifest("20261123T171900Z-3f2a")).await.expect("write");
    for junk in [
        "backups/notes.txt",
        "backups/latest.json",
        "backups/20261123T171900Z-3f2a.json.bak",
        "backups/old/20251123T171900Z-3f2a.json",
        "backups/20261123T171900Z-XYZW.json",
    ] {
        t.put_raw(junk, "{}").await;
    }
    let listed: Vec<String> = repo.list_backups().await.expect("list").iter().map(|b| b.to_string()).collect();
    assert_eq!(listed, ["20261123T171900Z-3f2a"]);
    // Junk under chunks/ is not a chunk either.
    t.put_raw("chunks/zz/readme", "x").await;
    t.put_raw(&format!("chunks/00/{}", "ab".repeat(32)), "x").await;
    assert!(repo.chunk_ids().await.expect("ids").is_empty());
}

pub async fn locks(t: &Target) {
    let repo = t.create().await;
    let a = repo.lock(LockMode::Shared, "backup").await.expect("shared 1");
    let b = repo.lock(LockMode::Shared, "check").await.expect("shared 2");
    assert_eq!(t.list_raw("locks").await.len(), 2);
    let e = repo.lock(LockMode::Exclusive, "prune").await.expect_err("exclusive vs shared");
    assert_eq!(e.kind(), Kind::Conflict, "{e}");
    let msg = e.to_string();
    assert!(msg.starts_with("repository is locked by "), "{msg}");
    assert!(msg.contains(&format!("pid {}", std::process::id())) && msg.contains("try again later or wait for the lock to expire at"), "{msg}");
    // The failed attempt left no lock behind.
    assert_eq!(t.list_raw("locks").await.len(), 2);
    a.release().await.expect("release");
    b.release().await.expect("release");
    assert!(t.list_raw("locks").await.is_empty());

    let p = repo.lock(LockMode::Exclusive, "prune").await.expect("exclusive");
    let e = repo.lock(LockMode::Shared, "backup").await.expect_err("shared vs exclusive");
    assert!(e.kind() == Kind::Conflict && e.to_string().starts_with("repository is locked by prune (host "), "{e}");
    p.release().await.expect("release");

    // Stale locks are ignored: expired, or held by a dead process this process can see.
    let now = Utc::now();
    let me = tandem_repo::process_id(std::process::id()).expect("this process's identity");
    let expired = LockInfo {
        mode: tandem_repo::LockMode::Exclusive,
        purpose: "prune".into(),
        hostname: "elsewhere".into(),
        pid: 1,
        created: now - Duration::hours(1),
        expires: now - Duration::minutes(5),
        process: None,
    };
    t.put_object(&repo, "locks/expired.json", serde_json::to_vec(&expired).expect("json")).await;
    let host = tandem_repo::hostname();
    let live_until = now + Duration::minutes(5);
    let dead = LockInfo { hostname: host.clone(), pid: 4_000_000_000, expires: live_until, process: Some(me.clone()), ..expired.clone() };
    t.put_object(&repo, "locks/dead.json", serde_json::to_vec(&dead).expect("json")).await;
    // Pid 1 exists, but it is not the process that took this lock (it started at another time).
    let reused = LockInfo { pid: 1, process: Some(tandem_repo::ProcessId { start_ticks: me.start_ticks + 1, ..me.clone() }), ..dead.clone() };
    t.put_object(&repo, "locks/reused.json", serde_json::to_vec(&reused).expect("json")).await;
    let l = repo.lock(LockMode::Exclusive, "prune").await.expect("stale locks ignored");
    l.release().await.expect("release");
    for name in ["expired", "dead", "reused"] {
        t.delete_raw(&format!("locks/{name}.json")).await;
    }
    // Honoured until they expire: a live lock of another host; one of a container that shares
    // this host name (another pid namespace: its pid means nothing here); one of an older
    // version (no process identity) with this host name and a pid that does not exist here.
    let other_host = LockInfo { hostname: "other-host".into(), pid: 77, expires: live_until, ..expired.clone() };
    let container = LockInfo { process: Some(tandem_repo::ProcessId { pid_namespace: "pid:[1]".into(), ..me.clone() }), ..dead.clone() };
    let older = LockInfo { process: None, ..dead.clone() };
    for (name, lock, holder) in
        [("live", other_host, "host other-host, pid 77"), ("container", container, "pid 4000000000"), ("older", older, "pid 4000000000")]
    {
        t.put_object(&repo, &format!("locks/{name}.json"), serde_json::to_vec(&lock).expect("json")).await;
        let e = repo.lock(LockMode::Shared, "backup").await.expect_err(name);
        assert!(e.to_string().contains("locked by prune (") && e.to_string().contains(holder), "{name}: {e}");
        t.delete_raw(&format!("locks/{name}.json")).await;
    }
}

pub async fn daemon_objects(t: &Target) {
    let repo = t.create().await;
    assert_eq!(repo.read_daemon_object("jobs/p.backup.json").await.expect("read"), None);
    repo.write_daemon_object("jobs/p.backup.json", b"{\"runs_total\": 3}".to_vec()).await.expect("write");
    let again = t.open().await.expect("open");
    assert_eq!(again.read_daemon_object("jobs/p.backup.json").await.expect("read").as_deref(), Some(&b"{\"runs_total\": 3}"[..]));
    let stored = t.get_raw("daemon/jobs/p.backup.json").await;
    assert_eq!(stored.windows(10).any(|w| w == b"runs_total"), t.key.is_none(), "encrypted iff the repository is");
    let claim = repo.claim_lease("d1", std::time::Duration::from_secs(60)).await.expect("claim");
    assert!(claim.held);
    assert_eq!(again.current_lease().await.expect("lease").expect("some").holder, "d1");
    let stored = t.get_raw("daemon/lease/00000000000000000001.json").await;
    assert_eq!(stored.windows(6).any(|w| w == b"holder"), t.key.is_none());
}

/// The platform's epochs: claimed one after the other, each naming the site active before; a
/// claim on a stale epoch is a Conflict naming the current one and writes nothing; a corrupt
/// record is an error naming it; roles are not backups.
pub async fn role_epochs(t: &Target) {
    let repo = t.create().await;
    assert_eq!(repo.current_roles().await.expect("roles"), None);
    let first = repo.claim_epoch(0, "us", "initial").await.expect("epoch 1");
    assert_eq!((first.epoch, first.active.as_str(), first.previous.as_deref()), (1, "us", None));
    let again = t.open().await.expect("open");
    let second = again.claim_epoch(1, "eu", "switchover").await.expect("epoch 2");
    assert_eq!((second.epoch, second.previous.as_deref()), (2, Some("us")));
    // An operator who acted on epoch 1 (say, a failover racing the switchover) loses.
    let e = repo.claim_epoch(1, "us", "failover").await.unwrap_err();
    assert_eq!(e.kind(), tandem_error::Kind::Conflict, "{e}");
    assert!(e.to_string().contains("no longer at epoch 1") && e.to_string().contains("epoch 2 (eu active"), "{e}");
    let history: Vec<(u64, String)> = repo.role_history().await.expect("history").into_iter().map(|r| (r.epoch, r.active)).collect();
    assert_eq!(history, [(1, "us".to_string()), (2, "eu".to_string())], "nothing written by the loser");
    let stored = t.get_raw("roles/00000000000000000002.json").await;
    assert_eq!(stored.windows(6).any(|w| w == b"active"), t.key.is_none(), "encrypted iff the repository is");
    assert!(repo.list_backups().await.expect("backups").is_empty(), "roles are no backups");
    t.put_raw("roles/00000000000000000003.json", &b"{ not json"[..]).await;
    let e = repo.current_roles().await.unwrap_err();
    assert_eq!(e.kind(), tandem_error::Kind::Corrupt, "{e}");
    assert!(e.to_string().contains("roles/00000000000000000003.json is corrupt"), "{e}");
}
