//! What only encrypted repositories have: keys, wrong keys, sealed objects. Each test gets a
//! fresh plain [`Target`] and makes the encrypted one itself.

use std::collections::BTreeMap;

use bytes::Bytes;
use tandem_error::{Hint, Kind};
use tandem_repo::*;

use super::{manifest, rows, test_key, Target};

/// Every object of the location with its content: what "nothing was written" compares.
async fn snapshot(t: &Target) -> BTreeMap<String, Bytes> {
    let mut out = BTreeMap::new();
    for name in t.all_raw().await {
        let data = t.get_raw(&name).await;
        out.insert(name, data);
    }
    out
}

fn key(secret: &str, source: &str) -> RepoKey {
    RepoKey::new(secret, source).expect("key")
}

async fn open(t: &Target, k: Option<&RepoKey>) -> tandem_error::Result<Repository> {
    Repository::open_keyed(&t.url, &t.opts(), k).await
}

/// A repository with one chunk and one manifest in it.
async fn populated(t: &Target) -> (Repository, ChunkRef) {
    let repo = t.create().await;
    let c = repo.put_chunk(rows(2000, "populated"), None).await.expect("put");
    repo.write_manifest(&manifest("20261123T171900Z-3f2a")).await.expect("manifest");
    (repo, c)
}

pub async fn wrong_and_missing_key(make: impl Fn() -> Target) {
    let t = make().encrypted();
    let (_repo, c) = populated(&t).await;
    let before = snapshot(&t).await;
    let wrong = key("Tr0ub4dor&3", "--repo-key-file /etc/wrong");
    for r in [open(&t, Some(&wrong)).await, Repository::open_or_create_keyed(&t.url, &t.opts(), Some(&wrong)).await] {
        let e = r.expect_err("wrong key");
        assert_eq!(e.kind(), Kind::BadInput, "{e}");
        let msg = e.to_string();
        assert!(msg.starts_with("wrong repository key: the key from --repo-key-file /etc/wrong opens none of the 1 key slots of repository "), "{msg}");
        assert!(msg.contains(&t.url) && !msg.contains("Tr0ub4dor") && !msg.contains("correct horse"), "{msg}");
        assert_eq!(e.hint(), Some(Hint::RepositoryKey));
    }
    for r in [open(&t, None).await, Repository::open_with_options(&t.url, &t.opts()).await, Repository::open_or_create_keyed(&t.url, &t.opts(), None).await] {
        let e = r.expect_err("no key");
        assert_eq!(e.kind(), Kind::BadInput, "{e}");
        assert_eq!(e.to_string(), format!("repository {} is encrypted and no repository key was given", t.url));
        assert_eq!(e.hint(), Some(Hint::RepositoryKey));
    }
    assert_eq!(snapshot(&t).await, before, "a failed open writes nothing");
    // The right key reads what was written.
    let repo = t.open().await.expect("right key");
    assert_eq!(repo.get_chunk(&c).await.expect("chunk"), rows(2000, "populated"));
    assert_eq!(repo.read_manifest(&"20261123T171900Z-3f2a".parse().expect("id")).await.expect("manifest").site, "primary");
}

pub async fn keys_added_and_removed(make: impl Fn() -> Target) {
    let t = make().encrypted();
    let (a_repo, c) = populated(&t).await;
    let a = test_key();
    let b = key("second passphrase", "TANDEM_REPO_KEY");
    let slot_a = a_repo.key_slot().expect("opened by a slot").to_string();
    let slot_b = a_repo.add_key(&b, Some("ops laptop")).await.expect("add b").id;
    let keys = a_repo.list_keys().await.expect("list");
    assert_eq!(keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), [slot_a.as_str(), slot_b.as_str()]);
    assert_eq!(keys[1].label.as_deref(), Some("ops laptop"));
    assert_eq!((keys[1].kdf.algorithm.as_str(), keys[1].kdf.memory_kib, keys[1].kdf.iterations), ("argon2id", 65536, 3));
    // Both open the same data; adding a passphrase twice is refused.
    let b_repo = open(&t, Some(&b)).await.expect("b opens");
    assert_eq!(b_repo.key_slot(), Some(slot_b.as_str()));
    assert_eq!(b_repo.get_chunk(&c).await.expect("chunk via b"), rows(2000, "populated"));
    let e = a_repo.add_key(&b, None).await.expect_err("twice");
    assert!(e.kind() == Kind::BadInput && e.to_string().contains(&format!("already opens key {slot_b}")), "{e}");

    // The key in use cannot be removed; another can, and then it opens nothing.
    let before = snapshot(&t).await;
    let e = a_repo.remove_key(&slot_a).await.expect_err("own key");
    assert!(e.kind() == Kind::BadInput && e.to_string().contains("open it with another key"), "{e}");
    let e = a_repo.remove_key("0123456789abcdef").await.expect_err("unknown");
    assert!(e.kind() == Kind::BadInput && e.to_string().contains("has no key \"0123456789abcdef\""), "{e}");
    assert_eq!(snapshot(&t).await, before, "refused removals write nothing (their lock is gone)");
    a_repo.remove_key(&slot_b).await.expect("remove b");
    let e = open(&t, Some(&b)).await.expect_err("b removed");
    assert!(e.kind() == Kind::BadInput && e.to_string().contains("opens none of the 1 key slots"), "{e}");
    let a_again = open(&t, Some(&a)).await.expect("a still opens");
    assert_eq!(a_again.get_chunk(&c).await.expect("chunk via a"), rows(2000, "populated"));
    assert!(b_repo.get_chunk(&c).await.is_ok(), "removing a passphrase does not rotate the data key");

    // The last key cannot be removed.
    let e = a_repo.remove_key(&slot_a).await.expect_err("last");
    assert!(e.kind() == Kind::BadInput && e.to_string().contains("is the last key of repository"), "{e}");

    // Two removers racing, each with the other's key: the second finds its own key gone.
    let c_key = key("third", "--repo-key-command pass show tandem");
    let slot_c = a_repo.add_key(&c_key, None).await.expect("add c").id;
    let c_repo = open(&t, Some(&c_key)).await.expect("c opens");
    a_repo.remove_key(&slot_c).await.expect("a removes c");
    let e = c_repo.remove_key(&slot_a).await.expect_err("c's own key is gone");
    assert!(e.kind() == Kind::Conflict && e.to_string().contains("was removed meanwhile"), "{e}");
    assert_eq!(a_repo.list_keys().await.expect("list").len(), 1, "a stays");
    assert!(t.list_raw("locks").await.is_empty(), "removals release their lock");
}

pub async fn flipped_bytes_are_corruption(make: impl Fn() -> Target) {
    let t = make().encrypted();
    let (repo, c) = populated(&t).await;
    let other = repo.put_chunk(rows(100, "other"), None).await.expect("other");
    let chunk_path = |id: &str| format!("chunks/{}/{id}", &id[..2]);
    let flip = |mut b: Vec<u8>, at: usize| {
        b[at] ^= 0x01;
        b
    };
    let good = t.get_raw(&chunk_path(&c.id)).await;
    for at in [2, 10, good.len() / 2, good.len() - 3] {
        t.put_raw(&chunk_path(&c.id), flip(good.to_vec(), at)).await;
        let e = repo.get_chunk(&c).await.expect_err("flipped chunk");
        assert_eq!(e.kind(), Kind::Corrupt, "{e}");
        assert!(e.to_string().starts_with(&format!("chunk {} is corrupt: ", c.id)), "{e}");
    }
    t.put_raw(&chunk_path(&c.id), good.clone()).await;
    repo.get_chunk(&c).await.expect("restored chunk reads");
    // Another chunk's object under this chunk's name fails authentication (its name is bound).
    t.put_raw(&chunk_path(&c.id), t.get_raw(&chunk_path(&other.id)).await).await;
    let e = repo.get_chunk(&c).await.expect_err("swapped chunk");
    assert!(e.kind() == Kind::Corrupt && e.to_string().contains("authentication failed"), "{e}");

    let id = "20261123T171900Z-3f2a";
    let path = format!("backups/{id}.json");
    let good = t.get_raw(&path).await;
    t.put_raw(&path, flip(good.to_vec(), good.len() / 2)).await;
    let e = repo.read_manifest(&id.parse().expect("id")).await.expect_err("flipped manifest");
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");
    assert!(e.to_string().starts_with(&format!("manifest {path} is corrupt: authentication failed")), "{e}");
    // A whole manifest copied under another backup's name is refused the same way.
    let copy = "backups/20300101T000000Z-0000.json";
    t.put_raw(copy, good).await;
    let e = repo.read_manifest(&"20300101T000000Z-0000".parse().expect("id")).await.expect_err("moved manifest");
    assert!(e.kind() == Kind::Corrupt && e.to_string().contains("authentication failed"), "{e}");
    // A plain-text manifest planted in an encrypted repository is not read either.
    t.put_raw(copy, serde_json::to_vec(&manifest("20300101T000000Z-0000")).expect("json")).await;
    let e = repo.read_manifest(&"20300101T000000Z-0000".parse().expect("id")).await.expect_err("plain manifest");
    assert!(e.kind() == Kind::Corrupt && e.to_string().contains("not an encrypted tandem object"), "{e}");
    // A lock that fails authentication is honoured as unreadable (until it is old).
    let lock = repo.lock(LockMode::Shared, "backup").await.expect("lock");
    let lpath = lock.path();
    let sealed = t.get_raw(&lpath).await;
    std::mem::forget(lock); // keep its object; its refresh task dies with the runtime
    t.put_raw(&lpath, flip(sealed.to_vec(), 30)).await;
    let e = repo.lock(LockMode::Exclusive, "prune").await.expect_err("damaged lock");
    assert!(e.kind() == Kind::Conflict && e.to_string().contains("unreadable lock"), "{e}");
}

pub async fn nothing_readable_in_the_store(make: impl Fn() -> Target) {
    const MARKER: &str = "MARKER-7f3a9c-in-a-row";
    const TABLE: &str = "secret_table_name_q8";
    for encrypted in [false, true] {
        let t = Target { key: encrypted.then(test_key), ..make() };
        let repo = t.create().await;
        let mut raw = Vec::new();
        for i in 0..5000 {
            raw.extend_from_slice(format!("{i}\t{MARKER}\tpassword-{i}\n").as_bytes());
        }
        let raw = Bytes::from(raw);
        let c = repo.put_chunk(raw.clone(), None).await.expect("put");
        let mut m = manifest("20261123T171900Z-3f2a");
        m.tables[0].table.name = TABLE.into();
        m.tables[0].chunks = vec![c.clone()];
        repo.write_manifest(&m).await.expect("manifest");
        repo.write_daemon_object("jobs/x.backup.json", format!("{{\"error\": \"{TABLE}\"}}").into_bytes()).await.expect("daemon");
        let lock = repo.lock(LockMode::Shared, TABLE).await.expect("lock");
        let mut found = Vec::new();
        for name in t.all_raw().await {
            let data = t.get_raw(&name).await;
            // Chunks are compressed: look into the decompressed frame of a plain one too.
            let unzipped = zstd::stream::decode_all(&data[..]).unwrap_or_default();
            for needle in [MARKER, TABLE, blake3::hash(&raw).to_hex().as_str()] {
                if [&data[..], &unzipped[..]].iter().any(|d| d.windows(needle.len()).any(|w| w == needle.as_bytes())) || name.contains(needle) {
                    found.push(format!("{needle} in {name}"));
                }
            }
        }
        lock.release().await.expect("release");
        if encrypted {
            assert!(found.is_empty(), "readable in an encrypted repository: {found:?}");
            assert_eq!(repo.get_chunk(&c).await.expect("read back"), raw);
        } else {
            // The control: the same search finds everything in a plain repository.
            for needle in
                ["MARKER-7f3a9c-in-a-row in chunks/", "secret_table_name_q8 in backups/", "secret_table_name_q8 in daemon/", "secret_table_name_q8 in locks/"]
            {
                assert!(found.iter().any(|f| f.starts_with(needle)), "{needle} not found in {found:?}");
            }
        }
    }
}

pub async fn plain_repository_stays_plain(make: impl Fn() -> Target) {
    // A repository as tandem 0.1 wrote it, byte for byte: root file, chunk, manifest.
    let raw = rows(300, "old");
    let id = blake3::hash(&raw).to_hex().to_string();
    let t = make();
    t.put_raw(
        "tandem-repo.json",
        "{\n  \"kind\": \"tandem-repository\",\n  \"version\": 1,\n  \"id\": \"5f0c1e2a9b7d4c3e8a6f1b2c3d4e5f60\",\n  \"created\": \"2026-11-23T17:19:00.123456789Z\",\n  \"compression\": \"zstd\",\n  \"encryption\": \"none\"\n}",
    )
    .await;
    t.put_raw(&format!("chunks/{}/{id}", &id[..2]), zstd::bulk::compress(&raw, 3).expect("zstd")).await;
    let mut m = manifest("20261123T171900Z-3f2a");
    m.tables[0].chunks = vec![ChunkRef { id: id.clone(), raw: raw.len() as u64, stored: 1 }];
    t.put_raw("backups/20261123T171900Z-3f2a.json", serde_json::to_vec_pretty(&m).expect("json")).await;
    let before = snapshot(&t).await;
    let e = open(&t, Some(&test_key())).await.expect_err("key for a plain repository");
    assert_eq!(e.kind(), Kind::BadInput, "{e}");
    assert!(e.to_string().contains("is not encrypted, but a repository key was given (the test key)"), "{e}");
    assert_eq!(snapshot(&t).await, before);
    let repo = open(&t, None).await.expect("the new tandem opens it");
    assert!(!repo.encrypted() && repo.key_slot().is_none());
    let got = repo.read_manifest(&"20261123T171900Z-3f2a".parse().expect("id")).await.expect("manifest");
    assert_eq!(repo.get_chunk(&got.tables[0].chunks[0]).await.expect("chunk"), raw);
    assert!(repo.list_keys().await.expect_err("no keys").to_string().contains("is not encrypted"));
    // And keeps writing it as version 1 plain: a new chunk is named by its plain BLAKE3.
    let c = repo.put_chunk(rows(10, "new"), None).await.expect("put");
    assert_eq!(c.id, blake3::hash(&rows(10, "new")).to_hex().as_str());
    assert!(zstd::stream::decode_all(&t.get_raw(&format!("chunks/{}/{}", &c.id[..2], c.id)).await[..]).is_ok());

    // What an encrypted root file says, and that an unknown scheme is refused.
    let enc = make().encrypted();
    let repo = enc.create().await;
    let root: serde_json::Value = serde_json::from_slice(&enc.get_raw("tandem-repo.json").await).expect("root json");
    assert_eq!((root["version"].as_u64(), root["encryption"].as_str()), (Some(1), Some("xchacha20poly1305")), "{root}");
    assert!(repo.encrypted());
    let mut odd = root.clone();
    odd["encryption"] = "aes-siv".into();
    enc.put_raw("tandem-repo.json", serde_json::to_vec(&odd).expect("json")).await;
    let e = enc.open().await.expect_err("unknown scheme");
    assert!(e.kind() == Kind::Unsupported && e.to_string().contains("\"aes-siv\""), "{e}");
}

pub async fn init_and_concurrent_creators(make: impl Fn() -> Target) {
    let t = make().encrypted();
    let opts = t.opts();
    let repo = Repository::init(&t.url, &opts, t.key.as_ref(), Some("first")).await.expect("init");
    assert!(repo.encrypted());
    assert_eq!(repo.list_keys().await.expect("keys")[0].label.as_deref(), Some("first"));
    let e = Repository::init(&t.url, &opts, t.key.as_ref(), None).await.expect_err("again");
    assert!(e.kind() == Kind::Conflict && e.to_string().contains("already"), "{e}");
    let e = Repository::init(&t.url, &opts, None, None).await.expect_err("again, plain");
    assert_eq!(e.kind(), Kind::Conflict, "{e}");

    // Creators racing on an empty location agree on one repository and leave one key slot.
    // Only where the store's create-only put is atomic (FORMAT.md section 1): a local directory
    // (a hard link). The in-process S3 test server (s3s-fs) checks `If-None-Match` and then
    // writes, so racing creators can all win there; real S3, GCS and Azure do it atomically.
    let t = make();
    if t._dir.is_none() {
        return;
    }
    let k = test_key();
    let url = t.url.clone();
    let options = t.options.clone();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (url, options, k) = (url.clone(), options.clone(), k.clone());
            tokio::spawn(async move {
                let opts: Vec<(&str, &str)> = options.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
                Repository::open_or_create_keyed(&url, &opts, Some(&k)).await.map(|r| (r.config().id.clone(), r.key_slot().map(str::to_string)))
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.expect("join").expect("create"));
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(t.list_raw("keys").await.len(), 1, "the losers' slots are gone");
}
