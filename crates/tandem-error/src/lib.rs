//! The one error type of tandem.
//!
//! Every failure carries a [`Kind`] (which decides the process exit code and lets callers react,
//! e.g. retry on [`Kind::Unreachable`]) and a human message that already names the thing that
//! failed ("chunk 3fa2… of backup X is corrupt"). Context is added outside-in with
//! [`ResultExt::context`], so the final message reads like a sentence from the user's point of
//! view: `restore into postgres://…/hms: loading table SDS: …`.

use std::fmt;

pub mod failpoint;
mod retry;
pub use retry::RetryPolicy;

/// What went wrong, in terms the caller can act on. The exit code follows the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The user gave something unusable: a malformed URL, unknown scheme, bad flag or config.
    BadInput,
    /// A server or store could not be reached or refused the credentials.
    Unreachable,
    /// Stored data is damaged: a hash mismatch, a truncated manifest, a missing chunk.
    Corrupt,
    /// The operation conflicts with existing state: a non-empty target, a held lock.
    Conflict,
    /// The input is valid but tandem does not handle it (newer repository format, unknown type).
    Unsupported,
    /// Anything else: a bug, or an unexpected answer from a server.
    Internal,
}

impl Kind {
    /// The process exit code for this kind (1 is reserved for "not equal" / "unhealthy" results).
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::BadInput => 2,
            Kind::Unreachable => 3,
            Kind::Corrupt => 4,
            Kind::Conflict => 5,
            Kind::Unsupported => 6,
            Kind::Internal => 10,
        }
    }
}

/// What the user can do about an error, named by its effect rather than by how a front end
/// spells it: the CLI renders a hint as its flag (`--force`), the daemon as its config key.
/// Lower layers attach hints; they never name flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hint {
    /// Replace the target's current content with the restored one.
    ReplaceTarget,
    /// Copy the database faithfully as the `generic` system.
    GenericSystem,
    /// Add location-map rules for the locations named.
    AddLocationRules,
    /// Accept locations that no rule maps.
    AllowUnmapped,
    /// Promote a site that is not a standby (nothing remembered to reactivate).
    PromoteAnyway,
    /// Keep at least one backup in a retention policy.
    KeepOneBackup,
    /// Bootstrap the replica again (a fresh copy, then streaming from its position).
    Rebootstrap,
    /// Give the key of the encrypted repository (or the right one).
    RepositoryKey,
    /// Replace a former active site's writes that the platform never got.
    DiscardStrayWrites,
}

/// An error of tandem: a kind, a message with its context chain already folded in, and what
/// the user can do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Error {
    kind: Kind,
    message: String,
    hint: Option<Hint>,
    transient: bool,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), hint: None, transient: false }
    }
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(Kind::BadInput, message)
    }
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self::new(Kind::Unreachable, message)
    }
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(Kind::Corrupt, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(Kind::Unsupported, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, message)
    }
    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    /// What the user can do about it, for the front end to render.
    pub fn hint(&self) -> Option<Hint> {
        self.hint
    }
    /// Attaches what the user can do about it.
    pub fn with_hint(mut self, hint: Hint) -> Self {
        self.hint = Some(hint);
        self
    }
    /// Marks the failure as transient: the same operation may succeed if done again (a reset
    /// connection, a server failing over, a deadlock). [`RetryPolicy::run`] retries only these.
    pub fn transient(mut self) -> Self {
        self.transient = true;
        self
    }
    /// Clears the transient mark: doing the operation again is not safe, or not wanted (a commit
    /// whose outcome is unknown).
    pub fn permanent(mut self) -> Self {
        self.transient = false;
        self
    }
    /// Whether [`Error::transient`] marked it.
    pub fn is_transient(&self) -> bool {
        self.transient
    }
    /// Prefixes the message with what was being done: `"{context}: {message}"`.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

/// Result with tandem's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds context to errors without changing their kind.
pub trait ResultExt<T> {
    fn context(self, context: impl fmt::Display) -> Result<T>;
    fn with_context<C: fmt::Display>(self, f: impl FnOnce() -> C) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.context(context))
    }
    fn with_context<C: fmt::Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.context(f()))
    }
}

/// Converts a foreign error into [`Error`] with an explicit kind.
pub trait IntoError<T> {
    fn kind(self, kind: Kind) -> Result<T>;
}

impl<T, E: fmt::Display> IntoError<T> for std::result::Result<T, E> {
    fn kind(self, kind: Kind) -> Result<T> {
        self.map_err(|e| Error::new(kind, e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_reads_outside_in_and_keeps_kind() {
        let r: Result<()> = Err(Error::corrupt("hash mismatch"));
        let e = r.context("chunk ab12").context("restore").unwrap_err();
        assert_eq!(e.to_string(), "restore: chunk ab12: hash mismatch");
        assert_eq!(e.kind(), Kind::Corrupt);
        assert_eq!(e.kind().exit_code(), 4);
        let hinted: Result<()> = Err(Error::conflict("not empty").with_hint(Hint::ReplaceTarget));
        let e = hinted.context("restore").unwrap_err();
        assert_eq!((e.to_string().as_str(), e.hint()), ("restore: not empty", Some(Hint::ReplaceTarget)), "context keeps the hint");
    }

    #[test]
    fn exit_codes_are_distinct() {
        let kinds = [Kind::BadInput, Kind::Unreachable, Kind::Corrupt, Kind::Conflict, Kind::Unsupported, Kind::Internal];
        let mut codes: Vec<i32> = kinds.iter().map(|k| k.exit_code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        assert!(!codes.contains(&0) && !codes.contains(&1));
    }
}
