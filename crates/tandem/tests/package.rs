//! The Debian package (`scripts/package.sh`, cargo-deb) of the test build: its contents, its
//! systemd unit (`systemd-analyze verify` in the package's own root), its bash completion (a
//! subcommand and a site name of the config), and a real install: `dpkg -i` makes the `tandem`
//! user and /etc/tandem, the packaged daemon starts as that user and answers, `dpkg -P` removes
//! it all. systemctl cannot run here, so the daemon is started the way the unit starts it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::serve::http;
use common::*;

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the package from the test build; returns its path.
fn package() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = tandem_bin().parent().and_then(Path::parent).expect("target dir").to_path_buf();
    let out = sh(Command::new(root.join("scripts/package.sh")).args(["--profile", "dev", "--no-build"]).env("CARGO_TARGET_DIR", &target));
    PathBuf::from(out.lines().last().expect("the package path"))
}

#[test]
fn the_debian_package_installs_a_working_daemon_and_is_purged_cleanly() {
    let deb = package();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    sh(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let control = sh(Command::new("dpkg-deb").arg("-f").arg(&deb));
    assert!(control.contains("Package: tandem") && control.contains("adduser"), "{control}");
    for file in [
        "usr/bin/tandem",
        "usr/lib/systemd/system/tandem.service",
        "usr/share/man/man1/tandem.1.gz",
        "usr/share/man/man1/tandem-serve.1.gz",
        "usr/share/bash-completion/completions/tandem",
        "usr/share/zsh/vendor-completions/_tandem",
        "usr/share/fish/vendor_completions.d/tandem.fish",
        "usr/share/doc/tandem/tandem.toml.example",
    ] {
        assert!(root.join(file).is_file(), "{file} is in the package");
    }
    let version = sh(Command::new(root.join("usr/bin/tandem")).arg("--version"));
    assert!(version.starts_with("tandem ") && version.contains("commit "), "{version}");

    // The unit, verified against the package's files (and the host's standard targets).
    let units = root.join("usr/lib/systemd/system");
    for t in std::fs::read_dir("/lib/systemd/system").unwrap().flatten().filter(|e| e.path().extension().is_some_and(|x| x == "target")) {
        std::fs::copy(t.path(), units.join(t.file_name())).unwrap();
    }
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .arg(format!("--root={}", root.display()))
        .arg(units.join("tandem.service"))
        .output()
        .expect("systemd-analyze");
    let said = format!("{}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr));
    assert!(verify.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");

    // The packaged bash completion completes a subcommand and a site of the config.
    let cfg = dir.path().join("tandem.toml");
    std::fs::write(&cfg, "[sites.primary]\ndb = \"mysql://h/db\"\n[sites.dr-eu]\ndb = \"mysql://h/dr\"\n").unwrap();
    let script = format!(
        "source {}\n\
         complete_line() {{ COMP_WORDS=(\"$@\"); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); COMP_TYPE=9; \
           _clap_complete_tandem tandem \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; echo \"${{COMPREPLY[*]}}\"; }}\n\
         complete_line tandem res\ncomplete_line tandem --config {} refresh d\n",
        root.join("usr/share/bash-completion/completions/tandem").display(),
        cfg.display()
    );
    let path = format!("{}:{}", root.join("usr/bin").display(), std::env::var("PATH").unwrap_or_default());
    let completed = sh(Command::new("bash").arg("-c").arg(&script).env("PATH", path));
    let lines: Vec<&str> = completed.lines().collect();
    assert_eq!(lines, ["restore", "dr-eu"], "completions:\n{completed}");

    install_start_and_purge(&deb);
}

/// `dpkg -i`, the daemon as the `tandem` user, `dpkg -P`. Refuses to run over a tandem that is
/// installed on this machine already (it would be replaced, then removed).
fn install_start_and_purge(deb: &Path) {
    let installed = Command::new("dpkg-query").args(["-W", "-f=${Status}", "tandem"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&installed.stdout).contains("installed"),
        "a tandem package is installed on this machine: this test would replace and purge it; remove it first (dpkg -P tandem)"
    );
    assert!(!Path::new("/etc/tandem").exists(), "/etc/tandem exists on this machine: this test would remove it");
    sh(Command::new("dpkg").arg("-i").arg(deb).stdout(Stdio::null()));
    let purge = Purge;
    let user = sh(Command::new("getent").args(["passwd", "tandem"]));
    assert!(user.contains("/var/lib/tandem"), "{user}");
    let etc = sh(Command::new("stat").args(["-c", "%U:%G %a", "/etc/tandem"]));
    assert_eq!(etc.trim(), "root:tandem 750");

    // As the unit would: the tandem user, the config in /etc/tandem, a repository in its state
    // dir, and a site backed up every 2 s.
    let server = Server::shared(Flavor::MariaDb);
    let db = server.create_database("packaged");
    server.sql(&db, "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2);");
    let cfg = "/etc/tandem/tandem.toml";
    let text = format!(
        "repo = \"/var/lib/tandem/repo\"\n[sites.primary]\ndb = \"{}\"\nbackup = \"*/2 * * * * *\"\n[serve]\nlisten = \"127.0.0.1:0\"\n",
        server.url(&db)
    );
    std::fs::write(cfg, text).unwrap();
    sh(Command::new("chgrp").args(["tandem", cfg]));
    sh(Command::new("chmod").args(["640", cfg]));
    let mut daemon = Command::new("setpriv")
        .args(["--reuid=tandem", "--regid=tandem", "--init-groups", "/usr/bin/tandem", "--config", cfg, "serve"])
        .current_dir("/var/lib/tandem")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the packaged daemon");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(daemon.stdout.take().unwrap()), &mut line).unwrap();
    let addr = line.split("http://").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or_else(|| panic!("no address in {line:?}")).to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let backed_up = loop {
        let (code, body) = http(&addr, "GET", "/api/status", None);
        if code == 200 && body.contains("\"last_success\"") || Instant::now() > deadline {
            break body;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert!(backed_up.contains("\"last_success\""), "the packaged daemon, as user tandem, backs up: {backed_up}");
    let owner = sh(Command::new("stat").args(["-c", "%U", "/var/lib/tandem/repo"]));
    assert_eq!(owner.trim(), "tandem", "the repository was written by the tandem user");
    drop(purge);
    assert!(!Path::new("/usr/bin/tandem").exists() && !Path::new("/var/lib/tandem").exists(), "purged");
    assert!(!Command::new("getent").args(["passwd", "tandem"]).status().unwrap().success(), "the tandem user is gone");
}

/// Purges the package, also when the test fails half-way.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["-P", "tandem"]).stdout(Stdio::null()).status();
        let _ = std::fs::remove_dir_all("/etc/tandem");
    }
}
