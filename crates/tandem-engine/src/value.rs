//! The engine-neutral types and values of a restore into another engine.
//!
//! The engine that took a backup names the [`LogicalType`] of each of its columns
//! ([`Engine::logical_type`](crate::Engine::logical_type)) and decodes its fields into [`Value`]s;
//! the target engine creates its own schema for those types
//! ([`Engine::translate_schema`](crate::Engine::translate_schema)) and encodes the values. Text
//! travels as Rust strings, so charsets are converted on the way (and what the target cannot hold
//! is refused by name).

use serde::{Deserialize, Serialize};

use crate::TableDef;

/// A column type both engines have an equivalent for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogicalType {
    Bool,
    Int16,
    Int32,
    Int64,
    /// Exact numbers (`None`: unconstrained).
    Decimal {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    Float32,
    Float64,
    /// Fixed-length text of `n` characters.
    Char(u32),
    /// Text of at most `n` characters (`None`: unbounded).
    Varchar(Option<u32>),
    /// Long text.
    Text,
    Bytes,
    Date,
    Time,
    /// A date and time; `tz`: an instant (stored in UTC), else a wall-clock value.
    Timestamp {
        tz: bool,
    },
    Json,
    Uuid,
}

impl LogicalType {
    /// Whether values of this type are text (charset conversion, location maps apply).
    pub fn is_text(&self) -> bool {
        matches!(self, LogicalType::Char(_) | LogicalType::Varchar(_) | LogicalType::Text | LogicalType::Json | LogicalType::Uuid)
    }
}

/// One value in engine-neutral form. Numbers, dates and times are [`Value::Text`] in their
/// canonical SQL spelling (`-12.50`, `2026-11-23 17:19:00.123456`; instants in UTC without offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

/// A column default both engines can spell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultValue {
    Null,
    Text(String),
    /// A numeric literal as written (`0`, `-1.5`).
    Number(String),
    Bool(bool),
    CurrentTimestamp,
}

/// The neutral description of one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalColumn {
    pub ty: LogicalType,
    /// `None`: no default, or one that only the source engine can spell (dropped).
    pub default: Option<DefaultValue>,
}

/// One table of a [`ForeignSchema`].
#[derive(Debug, Clone)]
pub struct ForeignTable {
    /// The source's definition: names, columns, keys, indexes, foreign keys.
    pub def: TableDef,
    /// The neutral form of each of `def.columns`.
    pub columns: Vec<LogicalColumn>,
    /// Columns whose text uses another character set than the schema's where the target lets
    /// a column choose one (column name → charset), as the system's own layout does.
    pub charsets: std::collections::BTreeMap<String, String>,
}

/// A schema from another engine, for [`Engine::translate_schema`](crate::Engine::translate_schema).
#[derive(Debug, Clone)]
pub struct ForeignSchema {
    /// In load order.
    pub tables: Vec<ForeignTable>,
    /// The character set text should use where the target lets a schema choose (`latin1`), as
    /// the system's own layout does; `None`: the engine's Unicode default.
    pub text_charset: Option<String>,
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The bytes of hex digits (either case); `None` if `s` is not hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The parenthesised numbers of a type spelling: `varchar(767)` → `[767]`, `decimal(20,6)` →
/// `[20, 6]`.
pub fn type_args(sql_type: &str) -> Vec<u32> {
    let Some(open) = sql_type.find('(') else { return Vec::new() };
    let Some(close) = sql_type[open..].find(')') else { return Vec::new() };
    sql_type[open + 1..open + close].split(',').filter_map(|p| p.trim().parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_type_args() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert_eq!(unhex("000FfF").unwrap(), vec![0, 15, 255]);
        assert!(unhex("abc").is_none() && unhex("zz").is_none());
        assert_eq!(type_args("varchar(767)"), vec![767]);
        assert_eq!(type_args("decimal(20, 6) unsigned"), vec![20, 6]);
        assert_eq!(type_args("text"), Vec::<u32>::new());
    }
}
