//! How the front ends spell an error's [`Hint`]: the commands as flags, the daemon as config
//! keys. Lower layers attach hints and never name flags or keys.

use tandem_error::{Error, Hint};

/// The error as a command prints it: message, then what to do, with flags.
pub fn for_command(e: &Error) -> String {
    let hint = e.hint().map(|h| match h {
        Hint::ReplaceTarget => "use --force to replace its content",
        Hint::GenericSystem => "use --system generic to copy the database as it is",
        Hint::AddLocationRules => "add --map-location rules for them or drop --require-mapped",
        Hint::AllowUnmapped => "drop --require-mapped",
        Hint::PromoteAnyway => "use --force to promote it anyway",
        Hint::KeepOneBackup => "give --keep-last 1 or more",
        Hint::Rebootstrap => "run `tandem replicate SITE --rebootstrap` to copy it afresh and stream from there",
        Hint::RepositoryKey => "give the repository's key with TANDEM_REPO_KEY, --repo-key-file FILE or --repo-key-command CMD",
        Hint::DiscardStrayWrites => "use --discard-stray-writes to replace them",
        _ => "",
    });
    join(e, hint)
}

/// The error as the daemon records and alerts it: message, then what to do, with the keys of
/// tandem.toml.
pub fn for_daemon(e: &Error) -> String {
    let hint = e.hint().map(|h| match h {
        Hint::ReplaceTarget => "a scheduled refresh replaces only standbys; fence the site first",
        Hint::GenericSystem => "set `system = \"generic\"` for the site to copy the database as it is",
        Hint::AddLocationRules => "add `map-location` rules to the site",
        Hint::AllowUnmapped => "accept unmapped locations",
        Hint::PromoteAnyway => "promote the site by hand with `tandem promote --force`",
        Hint::KeepOneBackup => "set `retention.keep-last` to 1 or more",
        Hint::Rebootstrap => "run `tandem replicate SITE --rebootstrap` by hand",
        Hint::RepositoryKey => "set the repository's key with `repo-key-file` or `repo-key-command` in the config (or TANDEM_REPO_KEY)",
        Hint::DiscardStrayWrites => "run `tandem rejoin SITE --discard-stray-writes` by hand",
        _ => "",
    });
    join(e, hint)
}

fn join(e: &Error, hint: Option<&str>) -> String {
    match hint.filter(|h| !h.is_empty()) {
        Some(h) => format!("{e}; {h}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_spelled_per_front_end() {
        let e = Error::conflict("target database x is not empty").with_hint(Hint::GenericSystem);
        assert_eq!(for_command(&e), "target database x is not empty; use --system generic to copy the database as it is");
        assert!(for_daemon(&e).contains("system = \"generic\"") && !for_daemon(&e).contains("--"), "{}", for_daemon(&e));
        assert_eq!(for_command(&Error::internal("x")), "x");
    }
}
