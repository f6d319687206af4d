//! The conformance suite on a local directory, plus what only local paths have.

mod common;

use std::sync::Arc;

use common::Target;
use object_store::local::LocalFileSystem;
use tandem_error::Kind;
use tandem_repo::{LockMode, Repository};

fn target() -> Target {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    std::fs::create_dir(&root).expect("mkdir");
    let raw = Arc::new(LocalFileSystem::new_with_prefix(&root).expect("raw store"));
    Target { url: root.display().to_string(), options: vec![], raw, _dir: Some(dir), key: None }
}

suite!(plain, target());
suite!(encrypted, target().encrypted());
encrypted_suite!(keys, target());

#[tokio::test]
async fn creates_missing_directory_and_accepts_file_urls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a/b/repo");
    let e = Repository::open(&path.display().to_string()).await.expect_err("missing");
    assert_eq!(e.kind(), Kind::BadInput, "{e}");
    assert!(e.to_string().starts_with("no tandem repository at "), "{e}");
    assert!(!path.exists(), "open must not create anything");
    let url = format!("file://{}", path.display());
    let repo = Repository::open_or_create(&url).await.expect("create");
    assert_eq!(repo.url(), url);
    assert!(path.join("tandem-repo.json").is_file());
    let again = Repository::open(&path.display().to_string()).await.expect("open by path");
    assert_eq!(again.config().id, repo.config().id);
    // An empty existing directory is fine too.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    Repository::open_or_create(&empty.display().to_string()).await.expect("empty dir");
}

#[tokio::test]
async fn relative_paths_work() {
    // Relative to the current directory: the crate dir under `cargo test`; use a temp dir inside.
    let dir = tempfile::tempdir_in(".").expect("tempdir");
    let name = dir.path().file_name().and_then(|n| n.to_str()).expect("name").to_string();
    let rel = format!("./{name}/repo");
    let repo = Repository::open_or_create(&rel).await.expect("create relative");
    assert_eq!(repo.url(), rel);
    assert!(dir.path().join("repo/tandem-repo.json").is_file());
}

#[tokio::test]
async fn repository_path_that_is_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("backup.tar");
    std::fs::write(&file, "x").expect("write");
    let shown = file.display().to_string();
    for r in [Repository::open(&shown).await, Repository::open_or_create(&shown).await] {
        let e = r.expect_err("file");
        assert_eq!(e.kind(), Kind::BadInput, "{e}");
        assert_eq!(e.to_string(), format!("repository path {shown} is a file, not a directory"));
    }
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "x");
}

#[tokio::test]
async fn unknown_scheme_and_bad_urls() {
    let e = Repository::open_or_create("ftp://host/backups").await.expect_err("ftp");
    assert_eq!(e.kind(), Kind::BadInput);
    let msg = e.to_string();
    assert!(msg.contains("\"ftp\"") && msg.contains("s3://") && msg.contains("gs://") && msg.contains("az://"), "{msg}");
    let e = Repository::open("s3:///no-bucket").await.expect_err("no bucket");
    assert_eq!(e.kind(), Kind::BadInput, "{e}");
    let e = Repository::open("").await.expect_err("empty");
    assert_eq!(e.kind(), Kind::BadInput, "{e}");
    let dir = tempfile::tempdir().expect("tempdir");
    let e = Repository::open_or_create_with_options(&dir.path().display().to_string(), &[("aws_endpoint", "x")]).await.expect_err("options on local");
    assert_eq!(e.kind(), Kind::BadInput, "{e}");
}

#[tokio::test]
async fn concurrent_creators_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = dir.path().join("repo").display().to_string();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn({
                let url = url.clone();
                async move { Repository::open_or_create(&url).await.map(|r| r.config().id.clone()) }
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.expect("join").expect("create"));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
}

#[tokio::test]
async fn dropped_lock_is_removed() {
    let t = target();
    let repo = t.create().await;
    let l = repo.lock(LockMode::Exclusive, "prune").await.expect("lock");
    assert!(l.path().starts_with("locks/"));
    drop(l);
    for _ in 0..100 {
        if t.list_raw("locks").await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(t.list_raw("locks").await.is_empty());
    repo.lock(LockMode::Exclusive, "prune").await.expect("lock again").release().await.expect("release");
}

#[tokio::test(start_paused = true)]
async fn lock_is_refreshed_until_released() {
    let t = target();
    let repo = t.create().await;
    let l = repo.lock(LockMode::Shared, "backup").await.expect("lock");
    let read = || async { serde_json::from_slice::<tandem_repo::LockInfo>(&t.get_raw(&l.path()).await).expect("lock json") };
    let first = read().await;
    assert_eq!(first.mode, tandem_repo::LockMode::Shared);
    assert_eq!(first.purpose, "backup");
    assert_eq!(first.pid, std::process::id());
    assert_eq!((first.expires - first.created).num_seconds(), 120);
    // Virtual time advances; the refresh rewrites the object with a later expiry.
    tokio::time::sleep(std::time::Duration::from_secs(31)).await;
    let mut refreshed = read().await;
    for _ in 0..50 {
        if refreshed.expires > first.expires {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        refreshed = read().await;
    }
    assert!(refreshed.expires > first.expires, "lock was not refreshed");
    assert_eq!(refreshed.created, first.created);
    l.release().await.expect("release");
}

#[test]
fn manifests_of_the_same_content_are_told_apart_from_changed_ones() {
    let a = common::manifest("20260101T000000Z-0001");
    let mut b = common::manifest("20260101T000100Z-0002");
    // Another backup, snapshot and time: the same content.
    b.snapshot.position.value = "0/2000000".into();
    assert!(a.same_content(&b) && b.same_content(&a));
    let changed = |f: &dyn Fn(&mut tandem_repo::Manifest)| {
        let mut m = b.clone();
        f(&mut m);
        !a.same_content(&m)
    };
    assert!(changed(&|m| m.tables[0].chunks[0].id = "cd".repeat(32)), "a table's rows");
    assert!(changed(&|m| m.tables[0].table.columns.pop().map(drop).unwrap_or(())), "a table's columns");
    assert!(changed(&|m| m.tables.clear()), "a table less");
    assert!(changed(&|m| m.schema.pre_data.push("CREATE INDEX ...".into())), "the schema");
    assert!(changed(&|m| m.system.version = Some("4.0.0".into())), "the system's version");
}
