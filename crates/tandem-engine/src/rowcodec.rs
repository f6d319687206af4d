//! Encoding and decoding of the two row encodings ([`RowEncoding`]).
//!
//! Both are line-oriented text: a row ends with `\n`, fields are separated by `\t`, a field is
//! `\N` for NULL, and backslash escapes keep tabs, newlines and backslashes inside values. A raw
//! `\n` byte therefore always ends a row, which lets chunkers cut between rows without parsing.

use tandem_error::{Error, Result};

use crate::RowEncoding;

/// One decoded field: `None` is SQL NULL.
pub type Field = Option<Vec<u8>>;

/// Appends `value` to `out` as one MySQL TSV field (no separator).
pub fn encode_mysql_field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    let Some(value) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    // Fast path: most values need no escaping.
    if !value.iter().any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r' | 0 | 0x1a)) {
        out.extend_from_slice(value);
        return;
    }
    for &b in value {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => out.extend_from_slice(b"\\0"),
            0x1a => out.extend_from_slice(b"\\Z"),
            _ => out.push(b),
        }
    }
}

/// Appends `value` to `out` as one PostgreSQL COPY text field (no separator).
pub fn encode_pg_field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    let Some(value) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    if !value.iter().any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r')) {
        out.extend_from_slice(value);
        return;
    }
    for &b in value {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// Appends one field in `encoding` to `out` (no separator).
pub fn encode_field(encoding: RowEncoding, out: &mut Vec<u8>, value: Option<&[u8]>) {
    match encoding {
        RowEncoding::MysqlTsv => encode_mysql_field(out, value),
        RowEncoding::PgCopyText => encode_pg_field(out, value),
    }
}

/// Appends one whole row (fields separated by tabs, ending in a newline) to `out`.
pub fn encode_row(encoding: RowEncoding, out: &mut Vec<u8>, row: &[Field]) {
    for (i, f) in row.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        encode_field(encoding, out, f.as_deref());
    }
    out.push(b'\n');
}

/// Splits a buffer of whole rows into decoded rows.
///
/// Errors ([`Kind::Corrupt`](tandem_error::Kind::Corrupt)) on a buffer that does not end with a
/// newline or holds a malformed escape.
pub fn decode_rows(encoding: RowEncoding, data: &[u8]) -> Result<Vec<Vec<Field>>> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    if data.last() != Some(&b'\n') {
        return Err(Error::corrupt("row data does not end with a newline"));
    }
    data[..data.len() - 1].split(|&b| b == b'\n').map(|line| line.split(|&b| b == b'\t').map(|f| decode_field(encoding, f)).collect()).collect()
}

/// Decodes one field.
pub fn decode_field(encoding: RowEncoding, field: &[u8]) -> Result<Field> {
    if field == b"\\N" {
        return Ok(None);
    }
    if !field.contains(&b'\\') {
        return Ok(Some(field.to_vec()));
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&e) = field.get(i + 1) else {
            return Err(Error::corrupt("row data has a trailing backslash"));
        };
        i += 2;
        match (encoding, e) {
            (_, b'n') => out.push(b'\n'),
            (_, b't') => out.push(b'\t'),
            (_, b'r') => out.push(b'\r'),
            (_, b'b') => out.push(8),
            (_, b'\\') => out.push(b'\\'),
            (RowEncoding::MysqlTsv, b'0') => out.push(0),
            (RowEncoding::MysqlTsv, b'Z') => out.push(0x1a),
            (RowEncoding::PgCopyText, b'f') => out.push(12),
            (RowEncoding::PgCopyText, b'v') => out.push(11),
            (RowEncoding::PgCopyText, b'0'..=b'7') => {
                // \d, \dd or \ddd octal
                let mut v: u32 = (e - b'0') as u32;
                let mut n = 1;
                while n < 3 && i < field.len() && (b'0'..=b'7').contains(&field[i]) {
                    v = v * 8 + (field[i] - b'0') as u32;
                    i += 1;
                    n += 1;
                }
                out.push((v & 0xff) as u8);
            }
            (RowEncoding::PgCopyText, b'x') => {
                let mut v: u32 = 0;
                let mut n = 0;
                while n < 2 && i < field.len() && field[i].is_ascii_hexdigit() {
                    v = v * 16 + (field[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                if n == 0 {
                    out.push(b'x');
                } else {
                    out.push(v as u8);
                }
            }
            (_, other) => out.push(other),
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_round_trip_of_awkward_values() {
        let values: Vec<Option<&[u8]>> = vec![None, Some(b""), Some(b"\\N"), Some(b"a\tb\nc\r\\d\0e\x1a"), Some("n\u{e4}\u{1F600}".as_bytes())];
        let mut row = Vec::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                row.push(b'\t');
            }
            encode_mysql_field(&mut row, *v);
        }
        row.push(b'\n');
        assert_eq!(row.iter().filter(|&&b| b == b'\n').count(), 1);
        let rows = decode_rows(RowEncoding::MysqlTsv, &row).unwrap();
        assert_eq!(rows.len(), 1);
        let got: Vec<Option<&[u8]>> = rows[0].iter().map(|f| f.as_deref()).collect();
        assert_eq!(got, values);
    }

    #[test]
    fn pg_escapes() {
        let rows = decode_rows(RowEncoding::PgCopyText, b"1\t\\N\ta\\tb\\\\\\x41\\101\\v\n2\t\t\\n\n").unwrap();
        assert_eq!(rows[0][0].as_deref(), Some(&b"1"[..]));
        assert_eq!(rows[0][1], None);
        assert_eq!(rows[0][2].as_deref(), Some(&b"a\tb\\AA\x0b"[..]));
        assert_eq!(rows[1][1].as_deref(), Some(&b""[..]));
        assert_eq!(rows[1][2].as_deref(), Some(&b"\n"[..]));
    }

    #[test]
    fn both_encodings_round_trip_through_encode_row() {
        let row: Vec<Field> = vec![None, Some(b"".to_vec()), Some(b"a\tb\nc\r\\d\x01".to_vec()), Some("Zürich".as_bytes().to_vec())];
        for enc in [RowEncoding::MysqlTsv, RowEncoding::PgCopyText] {
            let mut out = Vec::new();
            encode_row(enc, &mut out, &row);
            encode_row(enc, &mut out, &row);
            assert_eq!(decode_rows(enc, &out).unwrap(), vec![row.clone(), row.clone()], "{enc:?}");
        }
    }

    #[test]
    fn broken_input_is_corrupt() {
        assert!(decode_rows(RowEncoding::MysqlTsv, b"1\t2").is_err());
        assert!(decode_rows(RowEncoding::MysqlTsv, b"1\t2\\\n").is_err());
    }
}
