//! Every bad input gets a clear one-line error, a non-zero exit code, and loses nothing.

mod common;

use std::path::Path;

use common::*;

fn small_db(server: &Server) -> String {
    let db = server.create_database("bad");
    server.sql(&db, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100)); INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three');");
    db
}

fn chunk_files(repo: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(repo.join("chunks")).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out.sort();
    out
}

fn backups(repo: &Path) -> usize {
    tandem(&["backups", "list", "--repo", p(repo), "--json"]).ok().json().as_array().unwrap().len()
}

#[test]
fn unreachable_source_and_wrong_password() {
    let repo = tempfile::tempdir().unwrap();
    let server = Server::shared(Flavor::MariaDb);
    let db = small_db(server);
    backup(&server.url(&db), repo.path());
    for flavor in FLAVORS {
        let scheme = if flavor == Flavor::MariaDb { "mysql" } else { "postgres" };
        let url = format!("{scheme}://u:secret@127.0.0.1:1/db");
        let run = tandem(&["backup", "--source", &url, "--repo", p(repo.path())]).fails_with(3, "127.0.0.1:1");
        assert!(!run.stderr.contains("secret"), "password leaked: {}", run.stderr);
        let server = Server::shared(flavor);
        let url = server.url("postgres").replace(tandem_testkit::PASSWORD, "wrong-password");
        let run = tandem(&["backup", "--source", &url, "--repo", p(repo.path())]);
        let run = run.fails_with(3, &format!("127.0.0.1:{}", server.port()));
        assert!(run.stderr.to_lowercase().contains("password") || run.stderr.contains("denied"), "{}", run.stderr);
    }
    assert_eq!(backups(repo.path()), 1, "failed backups list nothing");
}

#[test]
fn unknown_scheme_and_malformed_urls() {
    let repo = tempfile::tempdir().unwrap();
    tandem(&["backup", "--source", "oracle://u:p@h:1521/db", "--repo", p(repo.path())]).fails_with(2, "unknown database URL scheme oracle://");
    tandem(&["backup", "--source", "mysql://u:p@h:3306", "--repo", p(repo.path())]).fails_with(2, "no database name");
    tandem(&["backup", "--source", "not a url", "--repo", p(repo.path())]).fails_with(2, "invalid database URL");
    tandem(&["restore", "--target", "mysql://u:p@127.0.0.1:1/x", "--repo", p(repo.path()), "--backup", "yesterday"]).fails_with(2, "invalid backup id");
    tandem(&["backup", "--repo", p(repo.path())]).fails_with(2, "--source");
    tandem(&["backups", "list"]).fails_with(2, "no repository given");
    tandem(&["backups", "list", "--repo", "ftp://host/path"]).fails_with(2, "ftp");
}

#[test]
fn missing_database_is_named() {
    let repo = tempfile::tempdir().unwrap();
    for flavor in FLAVORS {
        let server = Server::shared(flavor);
        tandem(&["backup", "--source", &server.url("no_such_db_here"), "--repo", p(repo.path())]).fails_with(2, "no_such_db_here");
    }
}

#[test]
fn repo_path_that_is_a_file_or_not_a_repository_or_newer() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::shared(Flavor::MariaDb);
    let db = small_db(server);
    let file = dir.path().join("a-file");
    std::fs::write(&file, "hello").unwrap();
    tandem(&["backup", "--source", &server.url(&db), "--repo", p(&file)]).fails_with(2, "is a file");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hello");

    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    tandem(&["backup", "--source", &server.url(&db), "--repo", p(&other)]).fails_with(2, "is not a tandem repository");
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1, "nothing written into a foreign directory");

    tandem(&["backups", "list", "--repo", p(&dir.path().join("missing"))]).fails_with(2, "no tandem repository");

    let repo = dir.path().join("repo");
    backup(&server.url(&db), &repo);
    let cfg_path = repo.join("tandem-repo.json");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    v["version"] = 99.into();
    std::fs::write(&cfg_path, v.to_string()).unwrap();
    tandem(&["backups", "list", "--repo", p(&repo)]).fails_with(6, "newer");
    tandem(&["backup", "--source", &server.url(&db), "--repo", p(&repo)]).fails_with(6, "newer");
}

#[test]
fn flipped_byte_in_a_chunk_is_named_and_target_is_untouched() {
    for flavor in FLAVORS {
        let server = Server::shared(flavor);
        let db = small_db(server);
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        backup(&server.url(&db), &repo);
        let chunks = chunk_files(&repo);
        assert!(!chunks.is_empty());
        let victim = &chunks[0];
        let name = victim.file_name().unwrap().to_str().unwrap().to_string();
        let mut bytes = std::fs::read(victim).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(victim, bytes).unwrap();

        tandem(&["repo", "check", "--repo", p(&repo)]).ok();
        let run = tandem(&["repo", "check", "--read-data", "--repo", p(&repo)]);
        assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains(&name), "check names the chunk: {}", run.stdout);

        let target = server.create_database("flip_target");
        server.sql(&target, "CREATE TABLE keep_me (id INT PRIMARY KEY); INSERT INTO keep_me VALUES (42);");
        let before = fingerprint(server, &target);
        tandem(&["restore", "--repo", p(&repo), "--target", &server.url(&target), "--force"]).fails_with(4, &name);
        assert_eq!(fingerprint(server, &target), before, "{flavor:?}: target changed by a failed restore");
    }
}

#[test]
fn missing_chunk_and_truncated_manifest() {
    let server = Server::shared(Flavor::Postgres);
    let db = small_db(server);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let id = backup(&server.url(&db), &repo);
    let chunks = chunk_files(&repo);
    let name = chunks[0].file_name().unwrap().to_str().unwrap().to_string();
    std::fs::remove_file(&chunks[0]).unwrap();
    let run = tandem(&["repo", "check", "--repo", p(&repo)]);
    assert_eq!(run.code, 4);
    assert!(run.stdout.contains(&name), "check names the missing chunk: {}", run.stdout);
    let target = server.create_database("missing_target");
    tandem(&["restore", "--repo", p(&repo), "--target", &server.url(&target)]).fails_with(4, &name);
    assert_eq!(server.sql(&target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0", "nothing created");

    let manifest = repo.join("backups").join(format!("{id}.json"));
    let text = std::fs::read(&manifest).unwrap();
    std::fs::write(&manifest, &text[..text.len() / 2]).unwrap();
    tandem(&["backups", "list", "--repo", p(&repo)]).fails_with(4, &format!("{id}.json"));
    tandem(&["backups", "show", &id, "--repo", p(&repo)]).fails_with(4, &format!("{id}.json"));
    tandem(&["restore", "--repo", p(&repo), "--target", &server.url(&target)]).fails_with(4, &format!("{id}.json"));
    let run = tandem(&["repo", "check", "--repo", p(&repo)]);
    assert_eq!(run.code, 4);
    assert!(run.stdout.contains(&format!("{id}.json")), "{}", run.stdout);
}

#[test]
fn restore_from_an_empty_repository_and_unknown_backup() {
    let server = Server::shared(Flavor::MariaDb);
    let db = small_db(server);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    backup(&server.url(&db), &repo);
    tandem(&["restore", "--repo", p(&repo), "--target", &server.url("x_unknown"), "--backup", "20200101T000000Z-0000"]).fails_with(2, "20200101T000000Z-0000");
    tandem(&["backups", "prune", "--keep-last", "0", "--repo", p(&repo)]).fails_with(2, "keeps no backup at all; give --keep-last 1 or more");
    // A grace past the calendar is refused before anything is read or deleted (it panicked).
    let run = tandem(&["backups", "prune", "--keep-last", "1", "--grace", "300000y", "--repo", p(&repo)]);
    assert!(run.code == 2 && run.stderr.contains("is too long (at most 100 years)"), "exit {}: {}", run.code, run.stderr);
    tandem(&["backups", "prune", "--keep-last", "1", "--grace", "99y", "--repo", p(&repo)]).ok();
    assert_eq!(backups(&repo), 1);
}

#[test]
fn cross_engine_generic_restore_copies_tables_and_refuses_views_before_touching_the_target() {
    let my = Server::shared(Flavor::MariaDb);
    let pg = Server::shared(Flavor::Postgres);
    let dir = tempfile::tempdir().unwrap();

    // Plain tables cross engines: the rows arrive.
    let db = small_db(my);
    let repo = dir.path().join("repo");
    backup(&my.url(&db), &repo);
    let target = pg.create_database("xengine");
    tandem(&["restore", "--repo", p(&repo), "--target", &pg.url(&target)]).ok();
    assert_eq!(pg.sql(&target, "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM t"), "1=one,2=two,3=three");

    // A view has no neutral form: refused, naming it, and the target keeps nothing.
    let db = small_db(my);
    my.sql(&db, "CREATE VIEW v_t AS SELECT id FROM t WHERE id > 1");
    let repo = dir.path().join("repo-view");
    backup(&my.url(&db), &repo);
    let target = pg.create_database("xengine_view");
    let out = tandem(&["restore", "--repo", p(&repo), "--target", &pg.url(&target)]).fails_with(6, "cannot be translated");
    assert!(out.stderr.contains("view"), "{}", out.stderr);
    assert_eq!(pg.sql(&target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0");

    // A MySQL TIME is a duration; PostgreSQL time is a time of day: a negative one is refused by
    // name, and the target keeps nothing.
    let db = small_db(my);
    my.sql(&db, "CREATE TABLE durations (id INT PRIMARY KEY, took TIME); INSERT INTO durations VALUES (1, '01:00:00'), (2, '-12:34:56');");
    let repo = dir.path().join("repo-time");
    backup(&my.url(&db), &repo);
    let target = pg.create_database("xengine_time");
    let out = tandem(&["restore", "--repo", p(&repo), "--target", &pg.url(&target)]).fails_with(2, "-12:34:56");
    assert!(out.stderr.contains("took") && out.stderr.contains("durations"), "{}", out.stderr);
    assert_eq!(pg.sql(&target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0");
}

#[test]
fn bad_config_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tandem.toml");
    std::fs::write(&cfg, "repo = \"/tmp/x\"\n[sites.primary]\nurl = \"mysql://h/db\"\n").unwrap();
    tandem(&["--config", p(&cfg), "backups", "list"]).fails_with(2, "line 3");
    tandem(&["--config", p(&dir.path().join("nope.toml")), "backups", "list"]).fails_with(2, "cannot read config file");
}
