//! An encrypted repository through the CLI: a database whose rows hold a marker and a password
//! is backed up; no raw file of the repository shows either (while the same backup into a plain
//! repository does); restore, dedup and check work with the key; wrong, missing and removed keys
//! fail with exit 2 and a clear message, writing nothing; a key command and the config's
//! `repo-key-file` work.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

const MARKER: &str = "TANDEM-MARKER-5e1d0c";
const PASSWORD: &str = "pw-Hx7!q2Zr9";

/// A database whose every row holds the marker and the password.
fn secret_db(server: &Server) -> String {
    let db = server.create_database("enc");
    let mut sql = String::from("CREATE TABLE airflow_connection (id INT PRIMARY KEY, note VARCHAR(200), password VARCHAR(100));\n");
    for batch in 0..4 {
        let rows: Vec<String> = (0..500).map(|i| format!("({}, 'row {i} of {MARKER}', '{PASSWORD}')", batch * 500 + i)).collect();
        sql += &format!("INSERT INTO airflow_connection VALUES {};\n", rows.join(", "));
    }
    server.sql(&db, &sql);
    db
}

/// Every file under `dir` with its content.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Which needles occur in a raw file of `dir`, or in the zstd-decompressed content of one.
fn grep(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, data) in files(dir) {
        let unzipped = zstd::stream::decode_all(&data[..]).unwrap_or_default();
        for n in needles {
            if [&data, &unzipped].iter().any(|d| d.windows(n.len()).any(|w| w == n.as_bytes())) {
                found.push(format!("{n} in {}", path.display()));
            }
        }
    }
    found
}

fn key_file(dir: &Path, name: &str, key: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{key}\n")).unwrap();
    path
}

#[test]
fn encrypted_repository_end_to_end() {
    let server = Server::shared(Flavor::MariaDb);
    let db = secret_db(server);
    let dir = tempfile::tempdir().unwrap();
    let (plain, repo) = (dir.path().join("plain"), dir.path().join("encrypted"));
    let key1 = key_file(dir.path(), "key1", "first passphrase of the test");
    let wrong = key_file(dir.path(), "wrong", "not the passphrase");
    let k1 = ["--repo", p(&repo), "--repo-key-file", p(&key1)];

    // The control: in a plain repository the search finds the marker and the password.
    backup(&server.url(&db), &plain);
    let found = grep(&plain, &[MARKER, PASSWORD]);
    assert!(found.iter().any(|f| f.starts_with(MARKER)) && found.iter().any(|f| f.starts_with(PASSWORD)), "control: {found:?}");

    // Encrypted: neither appears in any raw file.
    tandem(&["repo", "init", "--encrypt", "--repo", p(&repo)]).fails_with(2, "needs the repository's first key");
    assert!(!repo.exists(), "nothing created");
    let init = tandem(&[&["repo", "init", "--encrypt", "--label", "first", "--json"][..], &k1].concat()).ok().json();
    assert_eq!(init["encryption"], "xchacha20poly1305");
    let first = tandem(&[&["backup", "--source", &server.url(&db), "--json"][..], &k1].concat()).ok().json();
    assert!(first["new_bytes"].as_u64().unwrap() > 0);
    let found = grep(&repo, &[MARKER, PASSWORD, "airflow_connection", &db]);
    assert!(found.is_empty(), "readable in the encrypted repository: {found:?}");
    // Dedup across backups (keyed chunk ids are stable).
    let second = tandem(&[&["backup", "--source", &server.url(&db), "--json"][..], &k1].concat()).ok().json();
    assert_eq!(second["new_bytes"], 0, "{second}");

    // A backup given a key creates a missing repository encrypted, never plain.
    let fresh = dir.path().join("fresh");
    tandem(&["backup", "--source", &server.url(&db), "--repo", p(&fresh), "--repo-key-file", p(&key1)]).ok();
    let root: serde_json::Value = serde_json::from_slice(&std::fs::read(fresh.join("tandem-repo.json")).unwrap()).unwrap();
    assert_eq!(root["encryption"], "xchacha20poly1305", "{root}");
    assert!(grep(&fresh, &[MARKER, PASSWORD]).is_empty());
    tandem(&["backups", "list", "--repo", p(&fresh)]).fails_with(2, "is encrypted");
    let run = tandem(&["backups", "list", "--repo", p(&fresh), "--repo-key-file", p(&key1), "--repo-key-command", "cat /dev/null"]);
    assert_eq!(run.code, 2, "one key source at a time: {}", run.stderr);

    // Restore with the key from the environment: the data matches.
    let env = [("TANDEM_REPO_KEY".to_string(), "first passphrase of the test".to_string())];
    let target = format!("{db}_restored");
    tandem_env(&["restore", "--repo", p(&repo), "--backup", first["id"].as_str().unwrap(), "--target", &server.url(&target)], &env).ok();
    assert_eq!(fingerprint(server, &db), fingerprint(server, &target));
    let check = tandem(&[&["repo", "check", "--read-data", "--json"][..], &k1].concat()).ok().json();
    assert!(check["errors"].as_array().unwrap().is_empty() && check["chunks_read"].as_u64().unwrap() > 0, "{check}");

    // Wrong, missing key: exit 2, the source named, the key not, nothing written.
    let before = files(&repo);
    let run = tandem(&["backup", "--source", &server.url(&db), "--repo", p(&repo), "--repo-key-file", p(&wrong)]);
    let run = run
        .fails_with(2, &format!("wrong repository key: the key from --repo-key-file {} opens none of the 1 key slots of repository {}", p(&wrong), p(&repo)));
    assert!(!run.stderr.contains("not the passphrase") && !run.stderr.contains("first passphrase"), "{}", run.stderr);
    tandem(&["backups", "list", "--repo", p(&repo)])
        .fails_with(2, "is encrypted and no repository key was given; give the repository's key with TANDEM_REPO_KEY");
    let bad_env = [("TANDEM_REPO_KEY".to_string(), "guess".to_string())];
    tandem_env(&["restore", "--repo", p(&repo), "--target", &server.url("never_created")], &bad_env).fails_with(2, "the key from TANDEM_REPO_KEY opens none");
    assert_eq!(server.sql("mysql", "SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'never_created'"), "0");
    assert_eq!(files(&repo), before, "failed commands wrote nothing");

    // A flipped byte in a chunk: check names it (exit 4).
    let chunk = files(&repo).into_keys().find(|f| f.starts_with(repo.join("chunks"))).unwrap();
    let mut bytes = std::fs::read(&chunk).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&chunk, &bytes).unwrap();
    let run = tandem(&[&["repo", "check", "--read-data"][..], &k1].concat());
    assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
    let name = chunk.file_name().unwrap().to_str().unwrap();
    assert!(run.stdout.contains(&format!("chunk {name} is corrupt: authentication failed")), "{}", run.stdout);
    bytes[mid] ^= 1;
    std::fs::write(&chunk, &bytes).unwrap();
}

#[test]
fn keys_are_added_listed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let key1 = key_file(dir.path(), "key1", "one");
    let key2 = key_file(dir.path(), "key2", "two");
    let k1 = ["--repo", p(&repo), "--repo-key-file", p(&key1)];
    let k2 = ["--repo", p(&repo), "--repo-key-file", p(&key2)];
    tandem(&[&["repo", "init", "--encrypt"][..], &k1].concat()).ok();
    let slot1 = tandem(&[&["repo", "key", "list", "--json"][..], &k1].concat()).ok().json()[0]["id"].as_str().unwrap().to_string();
    tandem(&[&["repo", "key", "remove", &slot1][..], &k1].concat()).fails_with(2, "is the last key of repository");
    tandem(&[&["repo", "key", "add", "--new-key-file", p(&key2), "--label", "vault"][..], &k1].concat()).ok();
    tandem(&[&["repo", "key", "add", "--new-key-file", p(&key2)][..], &k1].concat()).fails_with(2, "already opens key");
    let keys = tandem(&[&["repo", "key", "list", "--json"][..], &k2].concat()).ok().json();
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!((keys[0]["in_use"].as_bool(), keys[1]["in_use"].as_bool(), keys[1]["label"].as_str()), (Some(false), Some(true), Some("vault")));
    let text = tandem(&[&["repo", "key", "list"][..], &k2].concat()).ok().stdout;
    assert!(text.lines().any(|l| l.starts_with("* ") && l.contains("vault")), "{text}");
    // The key in use cannot remove itself; the other can remove it.
    tandem(&[&["repo", "key", "remove", &slot1][..], &k1].concat()).fails_with(2, "open it with another key");
    tandem(&[&["repo", "key", "remove", &slot1][..], &k2].concat()).ok();
    tandem(&[&["backups", "list"][..], &k1].concat()).fails_with(2, "wrong repository key");
    tandem(&[&["backups", "list"][..], &k2].concat()).ok();

    // A key command, a failing one, and the config's repo-key-file.
    let cmd = format!("cat {}", p(&key2));
    tandem(&["backups", "list", "--repo", p(&repo), "--repo-key-command", &cmd]).ok();
    let run = tandem(&["backups", "list", "--repo", p(&repo), "--repo-key-command", "echo two; exit 3"]);
    assert!(!run.fails_with(2, "the repository key command (--repo-key-command) failed with exit status 3").stderr.contains("two"));
    let config = dir.path().join("tandem.toml");
    std::fs::write(&config, format!("repo = \"{}\"\nrepo-key-file = \"{}\"\n", p(&repo), p(&key2))).unwrap();
    tandem(&["--config", p(&config), "backups", "list"]).ok();
    tandem(&["--config", p(&config), "backups", "list", "--repo-key-file", p(&key1)]).fails_with(2, "wrong repository key");

    // A plain repository refuses a key rather than pretend to encrypt.
    let plain = dir.path().join("plain");
    tandem(&["repo", "init", "--repo", p(&plain)]).ok();
    tandem(&["backups", "list", "--repo", p(&plain), "--repo-key-file", p(&key1)]).fails_with(2, "is not encrypted, but a repository key was given");
    tandem(&["repo", "init", "--repo", p(&plain)]).fails_with(5, "already");
    tandem(&["repo", "key", "list", "--repo", p(&plain)]).fails_with(2, "is not encrypted");
}
