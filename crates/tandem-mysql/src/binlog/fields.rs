//! Row images of binlog events turned into the text fields a snapshot reads (`copy_out`), so a
//! change event carries exactly the bytes a backup of the same row would.

use mysql_async::binlog::value::BinlogValue;
use mysql_async::Value;
use tandem_engine::ColumnDef;
use tandem_error::{Error, Result};

/// How one column's binlog values become text fields.
#[derive(Debug, Clone)]
pub(crate) enum FieldKind {
    /// Integers of `bits` bits: the value is brought into the column's range whatever
    /// signedness the binlog's metadata claimed (a MEDIUMINT or an unsigned BIGINT without
    /// signedness metadata reads wrapped); ZEROFILL pads to `zerofill` digits.
    Integer {
        bits: u32,
        unsigned: bool,
        zerofill: usize,
    },
    /// FLOAT and DOUBLE: the double's shortest text (FLOAT is read as `c + 0e0`).
    Real,
    Date,
    /// DATETIME and TIMESTAMP with `fsp` fractional digits.
    DateTime {
        fsp: usize,
    },
    Time {
        fsp: usize,
    },
    /// YEAR (a stored 0 reads `0000`).
    Year,
    Enum(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    /// BINARY(n): padded with zero bytes to its length.
    Binary(usize),
    /// Everything else: the stored bytes (text in the column's charset, BIT, DECIMAL, blobs).
    Bytes,
}

impl FieldKind {
    pub fn of(col: &ColumnDef) -> FieldKind {
        let t = col.sql_type.trim().to_ascii_lowercase();
        let base = t.split(['(', ' ']).next().unwrap_or("");
        let arg = t.split_once('(').and_then(|(_, r)| r.split_once(')')).map(|(a, _)| a.trim().to_string());
        let fsp = || arg.as_deref().and_then(|a| a.parse::<usize>().ok()).unwrap_or(0).min(6);
        let unsigned = t.contains("unsigned");
        match base {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => {
                let bits = match base {
                    "tinyint" => 8,
                    "smallint" => 16,
                    "mediumint" => 24,
                    "bigint" => 64,
                    _ => 32,
                };
                let zerofill = match t.contains("zerofill") {
                    true => arg.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0),
                    false => 0,
                };
                FieldKind::Integer { bits, unsigned, zerofill }
            }
            "float" | "double" | "real" => FieldKind::Real,
            "date" => FieldKind::Date,
            "datetime" | "timestamp" => FieldKind::DateTime { fsp: fsp() },
            "time" => FieldKind::Time { fsp: fsp() },
            "year" => FieldKind::Year,
            "enum" => FieldKind::Enum(members(&col.sql_type)),
            "set" => FieldKind::Set(members(&col.sql_type)),
            "binary" => FieldKind::Binary(arg.as_deref().and_then(|a| a.parse().ok()).unwrap_or(1)),
            _ => FieldKind::Bytes,
        }
    }

    /// The text field of `value` (`None` for NULL).
    pub fn field(&self, value: &BinlogValue<'_>) -> Result<Option<Vec<u8>>> {
        let v = match value {
            BinlogValue::Value(v) => v,
            BinlogValue::Jsonb(j) => {
                let json = serde_json::Value::try_from(j.clone()).map_err(|e| Error::corrupt(format!("a JSON value of the binlog: {e}")))?;
                return Ok(Some(json.to_string().into_bytes()));
            }
            BinlogValue::JsonDiff(_) => {
                return Err(Error::bad_input("the source logs partial JSON updates (binlog_row_value_options=PARTIAL_JSON): set it to ''"))
            }
        };
        Ok(match (self, v) {
            (_, Value::NULL) => None,
            (_, Value::Int(i)) => Some(self.int(*i as i128)?),
            (_, Value::UInt(u)) => Some(self.int(*u as i128)?),
            (_, Value::Float(f)) => Some(real(*f as f64)),
            (_, Value::Double(d)) => Some(real(*d)),
            (FieldKind::Date, Value::Date(y, m, d, ..)) => Some(format!("{y:04}-{m:02}-{d:02}").into_bytes()),
            (FieldKind::DateTime { fsp }, Value::Date(y, mo, d, h, mi, s, us)) => {
                Some(with_fraction(format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"), *us, *fsp))
            }
            (FieldKind::Time { fsp }, Value::Time(neg, days, h, m, s, us)) => {
                let hours = *days as u64 * 24 + *h as u64;
                Some(with_fraction(format!("{}{hours:02}:{m:02}:{s:02}", if *neg { "-" } else { "" }), *us, *fsp))
            }
            (FieldKind::DateTime { fsp }, Value::Bytes(b)) => Some(timestamp(b, *fsp)?),
            (FieldKind::Year, Value::Bytes(b)) if b.as_slice() == b"1900" => Some(b"0000".to_vec()),
            (FieldKind::Set(names), Value::Bytes(b)) => {
                let bits = b.iter().rev().fold(0u64, |acc, x| (acc << 8) | *x as u64);
                let chosen: Vec<&[u8]> = names.iter().enumerate().filter(|(i, _)| *i < 64 && bits & (1 << i) != 0).map(|(_, n)| n.as_slice()).collect();
                Some(chosen.join(&b','))
            }
            (FieldKind::Binary(n), Value::Bytes(b)) if b.len() < *n => {
                let mut padded = b.clone();
                padded.resize(*n, 0);
                Some(padded)
            }
            (_, Value::Bytes(b)) => Some(b.clone()),
            (_, other) => return Err(Error::corrupt(format!("a binlog value {other:?} for a column of kind {self:?}"))),
        })
    }

    fn int(&self, i: i128) -> Result<Vec<u8>> {
        Ok(match self {
            FieldKind::Integer { bits, unsigned, zerofill } => {
                let span = 1i128 << bits;
                let v = match unsigned {
                    true if i < 0 => i + span,
                    false if i >= span / 2 => i - span,
                    _ => i,
                };
                format!("{v:0zerofill$}").into_bytes()
            }
            FieldKind::Enum(names) => match i {
                0 => Vec::new(),
                n => usize::try_from(n - 1)
                    .ok()
                    .and_then(|k| names.get(k))
                    .cloned()
                    .ok_or_else(|| Error::corrupt(format!("a binlog ENUM index {n} outside the column's {} members", names.len())))?,
            },
            FieldKind::DateTime { fsp } => timestamp(i.to_string().as_bytes(), *fsp)?,
            _ => i.to_string().into_bytes(),
        })
    }
}

/// The members of `enum('a','b')` / `set(...)`, unquoted (`''` is a quote).
fn members(sql_type: &str) -> Vec<Vec<u8>> {
    let inner = sql_type.split_once('(').map(|(_, r)| r.strip_suffix(')').unwrap_or(r)).unwrap_or("");
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    s.push('\'');
                }
                '\'' => break,
                '\\' => {
                    if let Some(n) = chars.next() {
                        s.push(n);
                    }
                }
                c => s.push(c),
            }
        }
        out.push(s.into_bytes());
    }
    out
}

/// The shortest text of a double that reads back as the same value, in exponent form (`1e300`,
/// `1.5e-7`) outside the range MySQL prints in positional form.
fn real(d: f64) -> Vec<u8> {
    let sci = format!("{d:e}");
    let exp: i32 = sci.split_once('e').and_then(|(_, e)| e.parse().ok()).unwrap_or(0);
    match d != 0.0 && !(-4..15).contains(&exp) {
        true => sci.into_bytes(),
        false => format!("{d}").into_bytes(),
    }
}

fn with_fraction(mut s: String, us: u32, fsp: usize) -> Vec<u8> {
    if fsp > 0 {
        let digits = format!("{us:06}");
        s.push('.');
        s.push_str(&digits[..fsp]);
    }
    s.into_bytes()
}

/// A TIMESTAMP's `seconds[.micros]` since the epoch as UTC text (the sessions' time zone).
fn timestamp(raw: &[u8], fsp: usize) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(raw).map_err(|_| Error::corrupt("a binlog TIMESTAMP that is not text"))?;
    let (secs, micros) = text.split_once('.').unwrap_or((text, "0"));
    let secs: i64 = secs.parse().map_err(|_| Error::corrupt(format!("a binlog TIMESTAMP {text:?}")))?;
    let micros: u32 = format!("{micros:0<6}")[..6].parse().map_err(|_| Error::corrupt(format!("a binlog TIMESTAMP {text:?}")))?;
    if secs == 0 && micros == 0 {
        return Ok(with_fraction("0000-00-00 00:00:00".into(), 0, fsp));
    }
    let t = chrono::DateTime::from_timestamp(secs, micros * 1000).ok_or_else(|| Error::corrupt(format!("a binlog TIMESTAMP {text:?}")))?;
    Ok(with_fraction(t.format("%Y-%m-%d %H:%M:%S").to_string(), micros, fsp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(t: &str) -> ColumnDef {
        ColumnDef { name: "c".into(), sql_type: t.into(), nullable: true, charset: None, default: None, auto_increment: false }
    }

    #[test]
    fn members_unquote() {
        assert_eq!(members("enum('a','it''s','b,c')"), vec![b"a".to_vec(), b"it's".to_vec(), b"b,c".to_vec()]);
    }

    #[test]
    fn values_read_as_a_snapshot_would() {
        let f = |t: &str, v: Value| String::from_utf8(FieldKind::of(&col(t)).field(&BinlogValue::Value(v)).unwrap().unwrap()).unwrap();
        assert_eq!(f("int(10) unsigned", Value::Int(-1)), "4294967295");
        assert_eq!(f("bigint(20) unsigned", Value::Int(-1)), "18446744073709551615");
        assert_eq!(f("enum('x','y')", Value::Int(2)), "y");
        assert_eq!(f("set('x','y','z')", Value::Bytes(vec![5])), "x,z");
        assert_eq!(f("datetime(3)", Value::Date(2024, 2, 29, 23, 59, 1, 120000)), "2024-02-29 23:59:01.120");
        assert_eq!(f("timestamp", Value::Bytes(b"86400".to_vec())), "1970-01-02 00:00:00");
        assert_eq!(f("timestamp(6)", Value::Bytes(b"1.5".to_vec())), "1970-01-01 00:00:01.500000");
        assert_eq!(f("time(1)", Value::Time(true, 1, 2, 3, 4, 500000)), "-26:03:04.5");
        assert_eq!(f("binary(4)", Value::Bytes(vec![1])), "\u{1}\0\0\0");
        assert_eq!(f("double", Value::Double(0.5)), "0.5");
        assert_eq!(f("double", Value::Double(1e300)), "1e300");
        assert_eq!(f("mediumint(9)", Value::Int(8388608)), "-8388608");
        assert_eq!(f("int(10) unsigned zerofill", Value::Int(42)), "0000000042");
    }
}
