//! Where the key of an encrypted repository comes from. First of: `--repo-key-file FILE` or
//! `--repo-key-command CMD` (flags), the environment variable `TANDEM_REPO_KEY`, the config's
//! `repo-key-file` or `repo-key-command`. None of them: no key (a plain repository).
//!
//! A file's content is the key, less one trailing newline. A command runs with `sh -c`; its
//! standard output, less one trailing newline, is the key; its standard error goes to the
//! user; a non-zero exit is an error. Errors name the source, never the key (nor the command's
//! text, which may hold one).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tandem_error::{Error, Result};
use tandem_repo::RepoKey;

use crate::config::Config;

/// The environment variable holding the key itself.
pub const ENV: &str = "TANDEM_REPO_KEY";

/// The key flags of the command line.
#[derive(Debug, Clone, Default)]
pub struct KeyFlags {
    pub file: Option<PathBuf>,
    pub command: Option<String>,
}

/// The repository key by the precedence above; `None` if no source is set.
pub fn resolve(flags: &KeyFlags, config: &Config) -> Result<Option<RepoKey>> {
    if let Some(path) = &flags.file {
        return from_file(path, &format!("--repo-key-file {}", path.display())).map(Some);
    }
    if let Some(cmd) = &flags.command {
        return from_command(cmd, "--repo-key-command").map(Some);
    }
    if let Some(value) = std::env::var_os(ENV) {
        let value = value.into_string().map_err(|_| Error::bad_input(format!("{ENV} is not valid UTF-8")))?;
        return RepoKey::new(value, ENV).map(Some);
    }
    if let Some(path) = &config.repo_key_file {
        return from_file(Path::new(path), &format!("repo-key-file {path} of the config")).map(Some);
    }
    if let Some(cmd) = &config.repo_key_command {
        return from_command(cmd, "repo-key-command of the config").map(Some);
    }
    Ok(None)
}

/// The key in file `path`, less one trailing newline; `source` names it in errors.
pub fn from_file(path: &Path, source: &str) -> Result<RepoKey> {
    let data = std::fs::read(path).map_err(|e| Error::bad_input(format!("cannot read the repository key ({source}): {e}")))?;
    RepoKey::new(crate::secrets::strip_newline(data), source)
}

/// The standard output of `sh -c cmd`, less one trailing newline; `source` names it in errors.
pub fn from_command(cmd: &str, source: &str) -> Result<RepoKey> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Error::bad_input(format!("cannot run the repository key command ({source}): {e}")))?;
    if !out.status.success() {
        let status = out.status.code().map_or_else(|| "a signal".to_string(), |c| format!("exit status {c}"));
        return Err(Error::bad_input(format!("the repository key command ({source}) failed with {status}")));
    }
    RepoKey::new(crate::secrets::strip_newline(out.stdout), source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_commands_give_keys_and_name_their_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "s3cret passphrase\n\n").unwrap();
        let k = from_file(&file, "--repo-key-file k").unwrap();
        assert_eq!(k.source(), "--repo-key-file k");
        std::fs::write(&file, "\n").unwrap();
        assert!(from_file(&file, "f").unwrap_err().to_string().contains("is empty"));
        let e = from_file(&dir.path().join("missing"), "--repo-key-file missing").unwrap_err();
        assert!(e.to_string().starts_with("cannot read the repository key (--repo-key-file missing): "), "{e}");
        assert_eq!(from_command("printf 'abc\\n'", "c").unwrap().source(), "c");
        let e = from_command("echo hunter2; exit 3", "--repo-key-command").unwrap_err();
        assert_eq!(e.to_string(), "the repository key command (--repo-key-command) failed with exit status 3");
        assert_eq!(e.kind(), tandem_error::Kind::BadInput);
    }

    #[test]
    fn flags_win_over_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "k").unwrap();
        let config = Config { repo_key_command: Some("exit 1".into()), ..Config::default() };
        let flags = KeyFlags { file: Some(file.clone()), command: None };
        assert!(resolve(&flags, &config).unwrap().unwrap().source().starts_with("--repo-key-file "));
        assert!(resolve(&KeyFlags::default(), &Config::default()).unwrap().is_none() || std::env::var_os(ENV).is_some());
    }
}
