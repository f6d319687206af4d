//! Shell completions and man pages, both generated from the clap definitions ([`Cli`]).
//!
//! Completions use clap_complete's environment mode: the script that `tandem completions SHELL`
//! prints calls `tandem` itself (with `COMPLETE=SHELL`) for every completion, so they always
//! match the installed binary and can name the sites of the config in use (`--config FILE` on
//! the line being completed, else `TANDEM_CONFIG`).

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::Shells;
use tandem_error::{Error, Result};

use crate::cli::Cli;

/// The environment variable that turns a `tandem` run into a completion request.
const VAR: &str = "COMPLETE";

/// Answers a completion request and exits when `COMPLETE` is set; returns otherwise. Call
/// before anything is printed.
pub fn answer_completion_request() {
    clap_complete::CompleteEnv::with_factory(Cli::command).var(VAR).complete();
}

/// Writes the completion script of `shell` (bash, zsh, fish, elvish, powershell) to `out`.
pub fn write_completions(shell: &str, out: &mut dyn Write) -> Result<()> {
    let shells = Shells::builtins();
    let completer = shells
        .completer(shell)
        .ok_or_else(|| Error::bad_input(format!("no completions for shell {shell:?} (known: {})", shells.names().collect::<Vec<_>>().join(", "))))?;
    completer.write_registration(VAR, "tandem", "tandem", "tandem", out).map_err(|e| Error::internal(format!("writing the completion script: {e}")))
}

/// Writes `tandem.1` and one page per subcommand (`tandem-backup.1`, `tandem-repo-key.1`, ...)
/// into `dir` (created if missing); returns how many.
pub fn write_man_pages(dir: &Path) -> Result<usize> {
    let failed = |e: std::io::Error| Error::bad_input(format!("writing man pages into {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(failed)?;
    // No pages for clap's `help` subcommands (`tandem help backup` is `tandem backup --help`).
    fn without_help(cmd: clap::Command) -> clap::Command {
        cmd.disable_help_subcommand(true).mut_subcommands(without_help)
    }
    clap_mangen::generate_to(without_help(Cli::command()), dir).map_err(failed)?;
    Ok(std::fs::read_dir(dir).map_err(failed)?.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "1")).count())
}

/// Completes a site name: the sites of the config named on the command line being completed
/// (`--config FILE`) or by `TANDEM_CONFIG`. Reads only the site names: no variable is expanded
/// and no secret file read. Nothing (not an error) when there is no readable config.
pub fn site_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(path) = config_path(std::env::args().collect()) else { return Vec::new() };
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    #[derive(serde::Deserialize)]
    struct Sites {
        #[serde(default)]
        sites: std::collections::BTreeMap<String, toml::Value>,
    }
    let Ok(config) = toml::from_str::<Sites>(&text) else { return Vec::new() };
    let prefix = current.to_string_lossy();
    config.sites.into_keys().filter(|name| name.starts_with(prefix.as_ref())).map(CompletionCandidate::new).collect()
}

/// `--config FILE` / `--config=FILE` among `args`, else `TANDEM_CONFIG`.
fn config_path(args: Vec<String>) -> Option<String> {
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if arg == "--config" {
            return it.next();
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(path.to_string());
        }
    }
    std::env::var("TANDEM_CONFIG").ok().filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_for_known_shells_and_an_error_for_others() {
        for shell in ["bash", "zsh", "fish"] {
            let mut out = Vec::new();
            write_completions(shell, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("COMPLETE") && text.contains("tandem"), "{shell}: {text}");
        }
        let e = write_completions("tcsh", &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("tcsh") && e.to_string().contains("bash"), "{e}");
    }

    #[test]
    fn man_pages_for_the_command_and_its_subcommands() {
        let dir = tempfile::tempdir().unwrap();
        let n = write_man_pages(dir.path()).unwrap();
        assert!(n > 10, "{n} pages");
        let page = std::fs::read_to_string(dir.path().join("tandem-restore.1")).unwrap();
        assert!(page.contains(".TH") && page.contains("all\\-or\\-nothing"), "{page}");
        assert!(dir.path().join("tandem-repo-key-add.1").exists() && !dir.path().join("tandem-help.1").exists());
    }

    #[test]
    fn the_config_is_found_on_the_line() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(config_path(args(&["tandem", "--", "tandem", "--config", "/c.toml", "restore"])), Some("/c.toml".into()));
        assert_eq!(config_path(args(&["tandem", "--config=/d.toml"])), Some("/d.toml".into()));
    }
}
