//! One module per command; [`run`] dispatches.

mod backup;
mod backups;
mod drill;
mod refresh;
mod rejoin;
mod replicate;
mod repo;
mod restore;
mod site;
mod status;
mod switchover;
mod verify;

use std::sync::Arc;

use tandem_error::{Error, Result};
use tandem_repo::{RepoKey, Repository};

use crate::cli::{BackupsCommand, Cli, Command, DrillsCommand, RepoCommand};
use crate::config::Config;
use crate::progress::Progress;
use crate::repokey::{self, KeyFlags};

/// What every command gets: the config, the resolved flags and the progress display.
pub struct Ctx {
    pub config: Config,
    /// The config file, when one was given.
    pub config_path: Option<std::path::PathBuf>,
    pub repo: Option<String>,
    /// `--repo-key-file` / `--repo-key-command`.
    pub key_flags: KeyFlags,
    pub json: bool,
    pub progress: Arc<Progress>,
}

impl Ctx {
    /// The repository URL from `--repo`, TANDEM_REPO or the config.
    pub fn repo_url(&self) -> Result<&str> {
        self.repo
            .as_deref()
            .or(self.config.repo.as_deref())
            .ok_or_else(|| Error::bad_input("no repository given: use --repo REPO, TANDEM_REPO or `repo = ...` in the config"))
    }

    /// Whether a repository is given at all.
    pub fn has_repo(&self) -> bool {
        self.repo_url().is_ok()
    }

    /// The key of an encrypted repository, if one is given (see [`crate::repokey`]). A key
    /// command runs at each call.
    pub fn repo_key(&self) -> Result<Option<RepoKey>> {
        repokey::resolve(&self.key_flags, &self.config)
    }

    /// Opens the existing repository (with its key when encrypted).
    pub async fn open_repo(&self) -> Result<Repository> {
        let url = self.repo_url()?;
        Repository::open_keyed(url, &[], self.repo_key()?.as_ref()).await
    }

    /// Opens the repository, creating it if the location is empty: encrypted if a key is given.
    pub async fn open_or_create_repo(&self) -> Result<Repository> {
        let url = self.repo_url()?;
        Repository::open_or_create_keyed(url, &[], self.repo_key()?.as_ref()).await
    }

    /// A database URL, or the `db` of the site of that name (anything without `://`).
    pub fn url_or_site(&self, value: &str) -> Result<String> {
        if value.contains("://") {
            Ok(value.to_string())
        } else {
            Ok(self.config.site(value)?.db_url().to_string())
        }
    }

    /// The database URL for a command: `flag` wins over the site's `db`.
    pub fn db_url(&self, site: Option<&str>, flag: Option<&str>, flag_name: &str) -> Result<String> {
        if let Some(url) = flag {
            return Ok(url.to_string());
        }
        match site {
            Some(name) => Ok(self.config.site(name)?.db_url().to_string()),
            None => Err(Error::bad_input(format!("give a site name from the config or {flag_name} DB_URL"))),
        }
    }
}

/// Runs the command; returns the exit code for results that are not errors (e.g. a check that
/// found problems).
pub async fn run(cli: Cli) -> Result<i32> {
    // Made from the flag definitions alone: no config or repository needed.
    match &cli.command {
        Command::Completions { shell } => return crate::shell::write_completions(shell, &mut std::io::stdout().lock()).map(|()| 0),
        Command::Man { dir } => {
            let n = crate::shell::write_man_pages(dir)?;
            println!("wrote {n} man pages into {}", dir.display());
            return Ok(0);
        }
        _ => {}
    }
    let config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let key_flags = KeyFlags { file: cli.repo_key_file.clone(), command: cli.repo_key_command.clone() };
    let ctx = Ctx { config, config_path: cli.config.clone(), repo: cli.repo.clone(), key_flags, json: cli.json, progress: Arc::new(Progress::new(cli.json)) };
    match cli.command {
        Command::Backup(args) => backup::run(&ctx, args).await,
        Command::Restore(args) => restore::run(&ctx, args).await,
        Command::Verify(args) => verify::run(&ctx, args).await,
        Command::Promote(args) => site::promote(&ctx, args).await,
        Command::Fence(args) => site::fence(&ctx, args).await,
        Command::Health(args) => site::health(&ctx, args).await,
        Command::Status => status::run(&ctx).await,
        Command::Switchover(args) => switchover::run(&ctx, args).await,
        Command::Failover(args) => switchover::failover(&ctx, args).await,
        Command::Rejoin(args) => rejoin::run(&ctx, args).await,
        Command::Backups(BackupsCommand::List) => backups::list(&ctx).await,
        Command::Backups(BackupsCommand::Show { id }) => backups::show(&ctx, &id).await,
        Command::Backups(BackupsCommand::Prune(args)) => backups::prune(&ctx, args).await,
        Command::Repo(RepoCommand::Init { encrypt, label }) => repo::init(&ctx, encrypt, label.as_deref()).await,
        Command::Repo(RepoCommand::Check { read_data }) => repo::check(&ctx, read_data).await,
        Command::Repo(RepoCommand::Key(command)) => repo::key(&ctx, command).await,
        Command::Refresh(args) => refresh::run(&ctx, args).await,
        Command::Drill(args) => drill::run(&ctx, args).await,
        Command::Drills(DrillsCommand::List { site }) => drill::list(&ctx, site.as_deref()).await,
        Command::Drills(DrillsCommand::Show { id }) => drill::show(&ctx, &id).await,
        Command::Replicate(args) => replicate::run(&ctx, args).await,
        Command::Serve(args) => crate::serve::run(&ctx, args).await,
        Command::Completions { .. } | Command::Man { .. } => Ok(0), // answered above
    }
}
