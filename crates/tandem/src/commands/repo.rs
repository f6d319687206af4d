//! `tandem repo init | check | key list|add|remove`.

use serde_json::json;
use tandem_error::{Error, Result};
use tandem_repo::{KeySlot, Repository};

use super::Ctx;
use crate::cli::KeyCommand;
use crate::output;
use crate::repokey;

/// Exit code of a check that found problems.
const CORRUPT: i32 = 4;

/// Creates the repository; encrypted with the repository key as its first key with `encrypt`.
pub async fn init(ctx: &Ctx, encrypt: bool, label: Option<&str>) -> Result<i32> {
    let url = ctx.repo_url()?;
    let key = ctx.repo_key()?;
    let key = match (encrypt, key) {
        (true, None) => {
            return Err(Error::bad_input(
                "--encrypt needs the repository's first key: give it with TANDEM_REPO_KEY, --repo-key-file FILE or --repo-key-command CMD",
            ))
        }
        (false, Some(k)) => {
            return Err(Error::bad_input(format!(
                "a repository key was given ({}) but not --encrypt: add --encrypt to create an encrypted repository",
                k.source()
            )))
        }
        (_, key) => key,
    };
    let repo = Repository::init(url, &[], key.as_ref(), label).await?;
    let c = repo.config();
    if ctx.json {
        output::json(&json!({ "url": repo.url(), "id": c.id, "version": c.version, "encryption": c.encryption, "key": repo.key_slot() }))?;
    } else {
        match repo.key_slot() {
            Some(slot) => {
                println!("created encrypted repository {} (id {}, key {slot}); keep the key safe: without it nothing can be restored", repo.url(), c.id)
            }
            None => println!("created repository {} (id {})", repo.url(), c.id),
        }
    }
    Ok(0)
}

pub async fn check(ctx: &Ctx, read_data: bool) -> Result<i32> {
    let repo = ctx.open_repo().await?;
    let report = tandem_core::check(&repo, read_data, ctx.progress.clone()).await?;
    if ctx.json {
        output::json(&report)?;
    } else {
        let verified = if repo.encrypted() { "decrypted and verified" } else { "read and verified" };
        println!(
            "{} backups, {} chunks referenced{}, {} unreferenced",
            report.backups,
            report.chunks_referenced,
            if read_data { format!(", {} {verified} ({})", report.chunks_read, output::bytes(report.bytes_read)) } else { String::new() },
            report.chunks_unreferenced
        );
        for e in &report.errors {
            println!("error: {e}");
        }
        println!("{}", if report.errors.is_empty() { "repository OK" } else { "repository has errors" });
    }
    Ok(if report.errors.is_empty() { 0 } else { CORRUPT })
}

pub async fn key(ctx: &Ctx, command: KeyCommand) -> Result<i32> {
    let repo = ctx.open_repo().await?;
    match command {
        KeyCommand::List => list(ctx, &repo).await,
        KeyCommand::Add { new_key_file, new_key_command, label } => {
            let new = match (new_key_file, new_key_command) {
                (Some(path), _) => repokey::from_file(&path, &format!("--new-key-file {}", path.display()))?,
                (None, Some(cmd)) => repokey::from_command(&cmd, "--new-key-command")?,
                (None, None) => return Err(Error::bad_input("give the new key with --new-key-file FILE or --new-key-command CMD")),
            };
            let slot = repo.add_key(&new, label.as_deref()).await?;
            match ctx.json {
                true => output::json(&slot_json(&slot, None))?,
                false => println!("added key {} to {}", slot.id, repo.url()),
            }
            Ok(0)
        }
        KeyCommand::Remove { id } => {
            repo.remove_key(&id).await?;
            match ctx.json {
                true => output::json(&json!({ "removed": id }))?,
                false => println!("removed key {id} from {}", repo.url()),
            }
            Ok(0)
        }
    }
}

async fn list(ctx: &Ctx, repo: &Repository) -> Result<i32> {
    let keys = repo.list_keys().await?;
    if ctx.json {
        output::json(&keys.iter().map(|k| slot_json(k, repo.key_slot())).collect::<Vec<_>>())?;
        return Ok(0);
    }
    println!("  {:<16}  {:<20}  {:<20}  LABEL", "ID", "ADDED", "HOST");
    for k in &keys {
        let mark = if repo.key_slot() == Some(k.id.as_str()) { "*" } else { " " };
        let added = k.created.format("%Y-%m-%d %H:%M:%SZ").to_string();
        println!("{mark} {:<16}  {added:<20}  {:<20}  {}", k.id, k.hostname, k.label.as_deref().unwrap_or(""));
    }
    Ok(0)
}

fn slot_json(k: &KeySlot, in_use: Option<&str>) -> serde_json::Value {
    json!({
        "id": k.id,
        "created": k.created,
        "hostname": k.hostname,
        "label": k.label,
        "in_use": in_use == Some(k.id.as_str()),
        "kdf": { "algorithm": k.kdf.algorithm, "memory_kib": k.kdf.memory_kib, "iterations": k.kdf.iterations, "parallelism": k.kdf.parallelism },
    })
}
