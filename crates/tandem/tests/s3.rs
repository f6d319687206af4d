//! The whole CLI against an S3-compatible repository (the test kit's in-process server), with
//! credentials and endpoint from the usual AWS environment variables.

mod common;

use common::*;
use tandem_testkit::s3::{server, BUCKET};

#[test]
fn backup_restore_check_prune_on_s3() {
    let s3 = server();
    let env = s3.env();
    let prefix = format!("cli-{}/tandem", std::process::id());
    let repo = format!("s3://{BUCKET}/{prefix}");
    let source = Server::shared(Flavor::MariaDb);
    let db = source.create_database("s3src");
    source.sql(&db, &fidelity_fixture(Flavor::MariaDb));

    let first = tandem_env(&["backup", "--source", &source.url(&db), "--repo", &repo, "--json"], &env).ok().json();
    assert!(s3.root.join(BUCKET).join(&prefix).join("tandem-repo.json").is_file(), "repository written under the prefix");
    let second = tandem_env(&["backup", "--source", &source.url(&db), "--repo", &repo, "--json"], &env).ok().json();
    assert_eq!(second["new_bytes"], 0, "dedup on S3 too");
    let list = tandem_env(&["backups", "list", "--repo", &repo, "--json"], &env).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 2);

    let target = "s3_restored";
    tandem_env(&["restore", "--repo", &repo, "--backup", first["id"].as_str().unwrap(), "--target", &source.url(target)], &env).ok();
    assert_eq!(fingerprint(source, &db), fingerprint(source, target));

    tandem_env(&["backups", "prune", "--keep-last", "1", "--grace", "0s", "--repo", &repo], &env).ok();
    let check = tandem_env(&["repo", "check", "--read-data", "--repo", &repo, "--json"], &env).ok().json();
    assert_eq!(check["backups"], 1);
    assert!(check["errors"].as_array().unwrap().is_empty(), "{check}");

    // A flipped byte in a stored chunk is named by check.
    let chunks = s3.root.join(BUCKET).join(&prefix).join("chunks");
    let dir = std::fs::read_dir(&chunks).unwrap().next().unwrap().unwrap().path();
    let victim = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_file()).unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&victim, bytes).unwrap();
    let run = tandem_env(&["repo", "check", "--read-data", "--repo", &repo], &env);
    assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(victim.file_name().unwrap().to_str().unwrap()), "{}", run.stdout);

    // Wrong credentials: a clear error, no secret in it.
    let mut bad = env.clone();
    for (k, v) in bad.iter_mut() {
        if k == "AWS_SECRET_ACCESS_KEY" {
            *v = "wrong-secret".into();
        }
    }
    let run = tandem_env(&["backups", "list", "--repo", &repo], &bad);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.starts_with("error: ") && !run.stderr.contains("wrong-secret"), "{}", run.stderr);
}
