//! No panic on any input: every reader of a repository object (root file, manifests, chunks,
//! locks, lease records, key slots, backup ids) is fed valid objects that were truncated,
//! bit-flipped, extended, replaced by random bytes, or changed as JSON (a value swapped for an
//! extreme one, a member dropped; re-sealed in an encrypted repository, so the parser behind the
//! cipher is reached). Each must return a value or an error, never panic.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use tandem_format::{ColumnDef, Position, PositionKind, RowEncoding, SchemaDump, SnapshotInfo, TableDef};
use tandem_repo::*;

/// Cases per object kind and codec: enough to hit every mutation kind many times, few enough
/// for a run of seconds.
const CASES: u32 = 96;

fn runner() -> TestRunner {
    TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() })
}

/// One change to an object.
#[derive(Debug, Clone)]
enum Mutation {
    /// Cut the stored bytes at a position.
    Truncate(Index),
    /// XOR stored bytes at positions.
    Flip(Vec<(Index, u8)>),
    /// Insert bytes into the stored object.
    Insert(Index, Vec<u8>),
    /// Random bytes instead of the object.
    Replace(Vec<u8>),
    /// Replace one JSON node of the content (depth-first order) with another value.
    Swap(Index, Value),
    /// Replace one JSON number of the content with an extreme one (a narrow target that
    /// random swaps rarely hit: counts, sizes, sequence numbers).
    Number(Index, Value),
    /// Remove one member of one JSON object of the content.
    Drop(Index, Index),
}

/// Values that break assumptions: extremes of every integer type, non-integers, wrong types,
/// dates at chrono's limits.
fn odd_value() -> impl Strategy<Value = Value> {
    let fixed = vec![
        json!(u64::MAX),
        json!(u64::MAX - 1),
        json!(i64::MIN),
        json!(u32::MAX),
        json!(-1),
        json!(0),
        json!(1.5e300),
        json!(null),
        json!(true),
        json!([]),
        json!({}),
        json!(""),
        json!("+262142-12-31T23:59:59Z"),
        json!("-262143-01-01T00:00:00Z"),
        json!("1970-01-01T00:00:00Z"),
    ];
    prop_oneof![
        3 => prop::sample::select(fixed),
        1 => any::<u64>().prop_map(|n| json!(n)),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => "[a-z0-9./\\-]{0,70}".prop_map(Value::String),
    ]
}

fn extreme_number() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![json!(u64::MAX), json!(u64::MAX - 1), json!(u64::MAX / 2 + 1), json!(i64::MIN), json!(-1), json!(u32::MAX), json!(1.5e300)])
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => prop::collection::vec((any::<Index>(), 1..=255u8), 1..4).prop_map(Mutation::Flip),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => prop::collection::vec(any::<u8>(), 0..128).prop_map(Mutation::Replace),
        3 => (any::<Index>(), odd_value()).prop_map(|(i, v)| Mutation::Swap(i, v)),
        3 => (any::<Index>(), extreme_number()).prop_map(|(i, v)| Mutation::Number(i, v)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Mutation::Drop(i, j)),
    ]
}

/// Children of a JSON node, in order.
fn children(v: &mut Value) -> Vec<&mut Value> {
    match v {
        Value::Array(a) => a.iter_mut().collect(),
        Value::Object(o) => o.values_mut().collect(),
        _ => Vec::new(),
    }
}

/// Nodes of `v` (itself included) for which `pick` holds, depth first.
fn count(v: &Value, pick: &dyn Fn(&Value) -> bool) -> usize {
    let below: usize = match v {
        Value::Array(a) => a.iter().map(|x| count(x, pick)).sum(),
        Value::Object(o) => o.values().map(|x| count(x, pick)).sum(),
        _ => 0,
    };
    usize::from(pick(v)) + below
}

/// Calls `f` on the `n`-th node (depth first) for which `pick` holds; true once done.
fn with_nth(v: &mut Value, n: &mut usize, pick: &dyn Fn(&Value) -> bool, f: &mut dyn FnMut(&mut Value)) -> bool {
    if pick(v) {
        if *n == 0 {
            f(v);
            return true;
        }
        *n -= 1;
    }
    children(v).into_iter().any(|c| with_nth(c, n, pick, f))
}

/// The mutated stored bytes: byte mutations change `stored`; JSON mutations change `plain`
/// and store it with `seal` (the repository's codec).
fn apply(m: &Mutation, stored: &[u8], plain: &[u8], seal: &dyn Fn(Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    let mut out = stored.to_vec();
    match m {
        Mutation::Truncate(i) => out.truncate(i.index(stored.len() + 1)),
        Mutation::Flip(flips) if !out.is_empty() => {
            for (i, x) in flips {
                let at = i.index(out.len());
                out[at] ^= x;
            }
        }
        Mutation::Flip(_) => {}
        Mutation::Insert(i, bytes) => {
            let at = i.index(out.len() + 1);
            out.splice(at..at, bytes.iter().copied());
        }
        Mutation::Replace(bytes) => out = bytes.clone(),
        Mutation::Swap(i, value) => {
            let Ok(mut doc) = serde_json::from_slice::<Value>(plain) else { return out };
            let any = |_: &Value| true;
            let mut n = i.index(count(&doc, &any));
            with_nth(&mut doc, &mut n, &any, &mut |node| *node = value.clone());
            out = seal(serde_json::to_vec(&doc).unwrap());
        }
        Mutation::Number(i, value) => {
            let Ok(mut doc) = serde_json::from_slice::<Value>(plain) else { return out };
            let number = |v: &Value| v.is_number();
            let mut n = i.index(count(&doc, &number).max(1));
            with_nth(&mut doc, &mut n, &number, &mut |node| *node = value.clone());
            out = seal(serde_json::to_vec(&doc).unwrap());
        }
        Mutation::Drop(i, j) => {
            let Ok(mut doc) = serde_json::from_slice::<Value>(plain) else { return out };
            let object = |v: &Value| v.as_object().is_some_and(|o| !o.is_empty());
            let mut n = i.index(count(&doc, &object).max(1));
            with_nth(&mut doc, &mut n, &object, &mut |node| {
                if let Some(o) = node.as_object_mut() {
                    if let Some(key) = o.keys().nth(j.index(o.len())).cloned() {
                        o.remove(&key);
                    }
                }
            });
            out = seal(serde_json::to_vec(&doc).unwrap());
        }
    }
    out
}

/// A repository (plain or encrypted) in a temp dir with one backup of one chunk.
struct Fixture {
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    repo: Repository,
    manifest: Manifest,
    chunk: ChunkRef,
}

impl Fixture {
    fn new(encrypted: bool) -> Fixture {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key = encrypted.then(|| RepoKey::new("mutation test key", "the test").unwrap());
        let (repo, manifest, chunk) = rt.block_on(async {
            let repo = Repository::open_or_create_keyed(dir.path().to_str().unwrap(), &[], key.as_ref()).await.unwrap();
            let chunk = repo.put_chunk(Bytes::from_static(b"1\tdefault\t\\N\n2\tother\thdfs://nn/x\n"), None).await.unwrap();
            let manifest = manifest(&chunk);
            repo.write_manifest(&manifest).await.unwrap();
            (repo, manifest, chunk)
        });
        Fixture { rt, dir, repo, manifest, chunk }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn seal(&self, name: &str) -> impl Fn(Vec<u8>) -> Vec<u8> + '_ {
        let name = name.to_string();
        move |plain| self.repo.encode_object(&name, plain).unwrap()
    }

    /// Runs `read` on `name` mutated every way; `plain` is its content (for JSON mutations).
    fn mutate(&self, name: &str, plain: &[u8], read: impl Fn(&Fixture)) {
        let file = self.path(name);
        let stored = std::fs::read(&file).unwrap();
        let seal = self.seal(name);
        runner()
            .run(&mutation(), |m| {
                std::fs::write(&file, apply(&m, &stored, plain, &seal)).unwrap();
                read(self);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        std::fs::write(&file, &stored).unwrap();
    }
}

fn manifest(chunk: &ChunkRef) -> Manifest {
    let table = TableDef {
        schema: Some("public".into()),
        name: "DBS".into(),
        columns: vec![
            ColumnDef { name: "DB_ID".into(), sql_type: "bigint".into(), nullable: false, ..Default::default() },
            ColumnDef { name: "NAME".into(), sql_type: "varchar(128)".into(), nullable: true, charset: Some("latin1".into()), ..Default::default() },
        ],
        primary_key: vec!["DB_ID".into()],
        ..Default::default()
    };
    let mut system = SystemInfo { name: "hive-metastore".into(), version: Some("3.1.0".into()), ..Default::default() };
    system.summary.insert("tables".into(), 2);
    Manifest {
        version: FORMAT_VERSION,
        id: BackupId::new(Utc::now()),
        site: "primary".into(),
        source: "postgres://hms@db/hms".into(),
        system,
        snapshot: SnapshotInfo {
            engine: "postgres".into(),
            server_version: "16.2".into(),
            database: "hms".into(),
            position: Position { kind: PositionKind::Lsn, value: "0/16B3748".into(), gtid: None },
            row_encoding: RowEncoding::PgCopyText,
            consistency: "repeatable read".into(),
        },
        schema: SchemaDump {
            pre_data: vec!["CREATE TABLE ...".into()],
            skipped: vec![tandem_format::Skipped::new(tandem_format::SkippedKind::ForeignTable, "public.remote", "rows live elsewhere")],
            ..Default::default()
        },
        tables: vec![
            TableEntry { table: table.clone(), rows: 2, bytes: chunk.raw, chunks: vec![chunk.clone()] },
            TableEntry { table: TableDef { name: "TBLS".into(), ..table }, rows: 2, bytes: chunk.raw, chunks: vec![chunk.clone()] },
        ],
        started: Utc::now(),
        finished: Utc::now(),
        tool: "tandem test".into(),
    }
}

fn codecs() -> [bool; 2] {
    [false, true]
}

#[test]
fn mutated_manifests_are_read_or_refused() {
    for encrypted in codecs() {
        let fx = Fixture::new(encrypted);
        let id = fx.manifest.id.clone();
        let plain = serde_json::to_vec_pretty(&fx.manifest).unwrap();
        fx.mutate(&format!("backups/{id}.json"), &plain, |fx| {
            fx.rt.block_on(async {
                let _ = fx.repo.list_backups().await;
                if let Ok(m) = fx.repo.read_manifest(&id).await {
                    // What readers do with a manifest they accepted.
                    let _ = (m.rows(), m.bytes(), m.stored_bytes(), m.full_schema(), m.id.time(), m.finished - m.started);
                    let names: Vec<String> = m.tables.iter().map(|t| t.table.display_name()).collect();
                    let skipped: Vec<String> = m.schema.skipped.iter().map(|s| s.to_string()).collect();
                    assert_eq!((names.len(), skipped.len()), (m.tables.len(), m.schema.skipped.len()));
                    serde_json::to_vec(&m).unwrap();
                }
            })
        });
        // Untouched again: the fixture was restored.
        assert_eq!(fx.rt.block_on(fx.repo.read_manifest(&id)).unwrap(), fx.manifest);
    }
}

#[test]
fn mutated_chunks_and_chunk_refs_are_refused_as_corrupt() {
    for encrypted in codecs() {
        let fx = Fixture::new(encrypted);
        let c = fx.chunk.clone();
        let name = format!("chunks/{}/{}", &c.id[..2], c.id);
        fx.mutate(&name, b"", |fx| {
            if let Err(e) = fx.rt.block_on(fx.repo.get_chunk(&c)) {
                assert!(e.to_string().contains(&c.id), "the error names the chunk: {e}");
            }
        });
        let refs = (any::<u64>(), any::<u64>(), prop_oneof![Just(c.id.clone()), "[0-9a-f]{64}", ".{0,70}"]);
        runner()
            .run(&refs, |(raw, stored, id)| {
                let _ = fx.rt.block_on(fx.repo.get_chunk(&ChunkRef { id, raw, stored }));
                Ok(())
            })
            .unwrap();
    }
}

#[test]
fn a_mutated_root_file_is_refused_or_opened() {
    let fx = Fixture::new(false);
    let url = fx.dir.path().to_str().unwrap().to_string();
    let root = serde_json::to_vec_pretty(fx.repo.config()).unwrap();
    fx.mutate("tandem-repo.json", &root, |fx| {
        fx.rt.block_on(async {
            if let Ok(repo) = Repository::open(&url).await {
                let _ = repo.read_manifest(&fx.manifest.id).await;
            }
        })
    });
}

/// A lock another process holds (a live pid: this one, from another "boot").
fn lock_info() -> LockInfo {
    let now = Utc::now();
    LockInfo {
        mode: LockMode::Exclusive,
        purpose: "prune".into(),
        hostname: "elsewhere".into(),
        pid: std::process::id(),
        created: now,
        expires: now + chrono::Duration::minutes(2),
        process: Some(ProcessId { boot_id: "another-boot".into(), pid_namespace: "pid:[1]".into(), start_ticks: 7 }),
    }
}

#[test]
fn mutated_locks_are_honoured_or_ignored() {
    for encrypted in codecs() {
        let fx = Fixture::new(encrypted);
        let name = "locks/0123456789abcdef0123456789abcdef.json";
        let plain = serde_json::to_vec_pretty(&lock_info()).unwrap();
        std::fs::create_dir_all(fx.path("locks")).unwrap();
        std::fs::write(fx.path(name), fx.repo.encode_object(name, plain.clone()).unwrap()).unwrap();
        fx.mutate(name, &plain, |fx| {
            fx.rt.block_on(async {
                for mode in [LockMode::Shared, LockMode::Exclusive] {
                    if let Ok(lock) = fx.repo.lock(mode, "test").await {
                        let _ = lock.ensure_held().await;
                        lock.release().await.unwrap();
                    }
                }
            })
        });
        let e = fx.rt.block_on(fx.repo.lock(LockMode::Shared, "test")).unwrap_err().to_string();
        assert!(e.contains("locked by prune"), "the untouched lock is honoured again: {e}");
    }
}

#[test]
fn mutated_lease_records_are_refused_or_taken_over() {
    for encrypted in codecs() {
        let fx = Fixture::new(encrypted);
        let name = "daemon/lease/00000000000000000007.json";
        let record = LeaseRecord {
            seq: 7,
            holder: "other".into(),
            hostname: "elsewhere".into(),
            pid: 1,
            written: Utc::now() - chrono::Duration::minutes(2),
            // Expired: a claim takes over with the next record.
            expires: Utc::now() - chrono::Duration::minutes(1),
            process: None,
        };
        let plain = serde_json::to_vec_pretty(&record).unwrap();
        let lease_dir = fx.path("daemon/lease");
        std::fs::create_dir_all(&lease_dir).unwrap();
        std::fs::write(fx.path(name), fx.repo.encode_object(name, plain.clone()).unwrap()).unwrap();
        fx.mutate(name, &plain, |fx| {
            // Only the mutated record: drop what earlier claims wrote.
            for f in std::fs::read_dir(&lease_dir).unwrap().flatten() {
                if !f.path().ends_with("00000000000000000007.json") {
                    let _ = std::fs::remove_file(f.path());
                }
            }
            fx.rt.block_on(async {
                let _ = fx.repo.current_lease().await;
                if let Ok(claim) = fx.repo.claim_lease("me", Duration::from_secs(30)).await {
                    let _ = claim.record.live(Utc::now());
                    if claim.held {
                        let _ = fx.repo.release_lease("me").await;
                    }
                }
            })
        });
    }
}

/// A key slot that opens nothing but costs almost nothing to derive, so every case reaches the
/// KDF and the unwrapping; a slot asking for more than `CHEAP` is not tried (a planted slot's
/// cost is bounded by tandem's own limits, which a unit test checks).
#[test]
fn mutated_key_slots_are_skipped_with_a_reason() {
    const CHEAP_KIB: u64 = 4096;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = json!({"kind": "tandem-repository", "version": 1, "id": "00112233445566778899aabbccddeeff", "created": Utc::now(),
                      "compression": "zstd", "encryption": "xchacha20poly1305"});
    std::fs::write(dir.path().join("tandem-repo.json"), serde_json::to_vec(&root).unwrap()).unwrap();
    let slot = json!({"kind": "tandem-key", "version": 1, "id": "0123456789abcdef", "created": Utc::now(), "hostname": "h", "label": "l",
                      "kdf": {"algorithm": "argon2id", "version": 19, "memory_kib": 64, "iterations": 1, "parallelism": 1, "salt": "00".repeat(16)},
                      "cipher": "xchacha20poly1305", "wrapped": format!("54444501{}", "ab".repeat(24 + 64 + 16))});
    let plain = serde_json::to_vec_pretty(&slot).unwrap();
    let file = dir.path().join("keys/0123456789abcdef.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let url = dir.path().to_str().unwrap().to_string();
    let key = RepoKey::new("the passphrase", "the test").unwrap();
    runner()
        .run(&mutation(), |m| {
            let bytes = apply(&m, &plain, &plain, &|p| p);
            if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                let kdf = &v["kdf"];
                let cost = |k: &str| kdf[k].as_u64().unwrap_or(0);
                prop_assume!(cost("memory_kib") <= CHEAP_KIB && cost("iterations") <= 4 && cost("parallelism") <= 4);
            }
            std::fs::write(&file, &bytes).unwrap();
            let e = rt.block_on(Repository::open_keyed(&url, &[], Some(&key))).expect_err("no slot opens");
            assert!(matches!(e.kind(), tandem_error::Kind::BadInput | tandem_error::Kind::Corrupt), "{e}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn random_backup_ids_parse_or_are_refused() {
    let ids = prop_oneof![".{0,30}", "[0-9TZ\\-a-f]{21}", "[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}"];
    runner()
        .run(&ids, |s| {
            if let Ok(id) = s.parse::<BackupId>() {
                let _ = id.time();
                prop_assert_eq!(id.as_str(), s.as_str());
            }
            Ok(())
        })
        .unwrap();
}
