//! What a backup left out: objects of the source database that the engine cannot copy, each
//! named with the reason, so front ends can say so instead of only logging it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One object a backup did not copy (FORMAT.md, section 5, `SchemaDump.skipped`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Skipped {
    pub kind: SkippedKind,
    /// The object's name, schema-qualified where the engine has schemas (`public.remote`).
    pub name: String,
    /// Why it was left out and what a restore gets instead, for humans.
    pub reason: String,
}

impl Skipped {
    pub fn new(kind: SkippedKind, name: impl Into<String>, reason: impl Into<String>) -> Skipped {
        Skipped { kind, name: name.into(), reason: reason.into() }
    }
}

impl fmt::Display for Skipped {
    /// `foreign table public.remote (foreign tables are not copied)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.kind, self.name, self.reason)
    }
}

/// The kinds of objects a backup can leave out; serialized in kebab-case (`foreign-table`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkippedKind {
    /// A PostgreSQL foreign table (its rows live elsewhere).
    ForeignTable,
    /// A PostgreSQL partitioned parent (its partitions are copied as plain tables).
    PartitionedTable,
    /// A PostgreSQL range type.
    RangeType,
    /// An aggregate function.
    Aggregate,
    /// A window function.
    WindowFunction,
    /// A stored function (MySQL/MariaDB).
    Function,
    /// A stored procedure (MySQL/MariaDB).
    Procedure,
    /// A scheduled event (MySQL/MariaDB).
    Event,
    /// A kind a newer version records.
    #[serde(other)]
    Other,
}

impl SkippedKind {
    /// The kind in words (`foreign table`).
    pub fn label(self) -> &'static str {
        match self {
            SkippedKind::ForeignTable => "foreign table",
            SkippedKind::PartitionedTable => "partitioned table",
            SkippedKind::RangeType => "range type",
            SkippedKind::Aggregate => "aggregate",
            SkippedKind::WindowFunction => "window function",
            SkippedKind::Function => "function",
            SkippedKind::Procedure => "procedure",
            SkippedKind::Event => "event",
            SkippedKind::Other => "object",
        }
    }
}

impl fmt::Display for SkippedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}
