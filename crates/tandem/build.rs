//! Names the commit in `tandem --version`: `TANDEM_COMMIT` if set (a package build from a
//! tarball), else `git rev-parse` of the checkout, else "commit unknown".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=TANDEM_COMMIT");
    let commit = std::env::var("TANDEM_COMMIT").ok().filter(|c| !c.is_empty()).or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    // A new commit or checkout appends to HEAD's reflog: rebuild the version then.
    if let Some(reflog) = git(&["rev-parse", "--git-path", "logs/HEAD"]).filter(|p| std::path::Path::new(p).exists()) {
        let reflog = std::fs::canonicalize(&reflog).map(|p| p.display().to_string()).unwrap_or(reflog);
        println!("cargo:rerun-if-changed={reflog}");
    }
    let version = match commit {
        Some(c) => format!("{} (commit {c})", env!("CARGO_PKG_VERSION")),
        None => format!("{} (commit unknown)", env!("CARGO_PKG_VERSION")),
    };
    println!("cargo:rustc-env=TANDEM_VERSION={version}");
}
