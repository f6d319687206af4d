//! Reading and writing the bytes of text fields in a column's character set.
//!
//! MySQL/MariaDB rows are copied as the columns' stored bytes (a Hive Metastore on MySQL stores
//! Latin-1, `latin1_bin`); PostgreSQL rows are always UTF-8. Whoever changes a text value on its
//! way through tandem (a location map, a cross-engine restore) decodes it with [`Charset::decode`]
//! and encodes the result with [`Charset::encode`], which refuses what the target cannot hold.
//!
//! MySQL's `latin1` is Windows-1252 with the five undefined bytes mapped to the C1 controls of the
//! same number, which is exactly the WHATWG `windows-1252` encoding of `encoding_rs`.

use std::borrow::Cow;

use tandem_error::{Error, Result};

use crate::{ColumnDef, RowEncoding};

/// How the bytes of a text field are to be read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    /// MySQL `latin1` (Windows-1252).
    Latin1,
    /// Bytes that are not text (`binary`, blobs): passed through unchanged.
    Binary,
}

impl Charset {
    /// The charset of `col`'s fields in rows of `encoding`. `db_default` is the database's default
    /// charset, used when the column records none.
    pub fn of(col: &ColumnDef, encoding: RowEncoding, db_default: Option<&str>) -> Charset {
        if encoding == RowEncoding::PgCopyText {
            return Charset::Utf8;
        }
        match col.charset.as_deref().or(db_default).map(str::to_ascii_lowercase).as_deref() {
            Some("latin1") => Charset::Latin1,
            Some("binary") => Charset::Binary,
            _ => Charset::Utf8,
        }
    }

    /// The text of `bytes`. UTF-8 that is not valid UTF-8 is read as Latin-1 rather than lost.
    pub fn decode<'a>(self, bytes: &'a [u8]) -> Cow<'a, str> {
        match self {
            Charset::Utf8 | Charset::Binary => match std::str::from_utf8(bytes) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0,
            },
            Charset::Latin1 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0,
        }
    }

    /// The bytes of `text` in this charset. Errors (BadInput) naming the first character that
    /// Latin-1 cannot represent.
    pub fn encode(self, text: &str) -> Result<Cow<'_, [u8]>> {
        match self {
            Charset::Utf8 | Charset::Binary => Ok(Cow::Borrowed(text.as_bytes())),
            Charset::Latin1 => {
                if text.is_ascii() {
                    return Ok(Cow::Borrowed(text.as_bytes()));
                }
                let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
                if unmappable {
                    let bad = text.chars().find(|c| encoding_rs::WINDOWS_1252.encode(c.encode_utf8(&mut [0; 4])).2).unwrap_or('?');
                    return Err(Error::bad_input(format!("character {bad:?} (U+{:04X}) cannot be stored in Latin-1", bad as u32)));
                }
                Ok(Cow::Owned(bytes.into_owned()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_is_windows_1252_and_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let text = Charset::Latin1.decode(&all).into_owned();
        assert_eq!(text.chars().count(), 256);
        assert!(text.contains('€') && text.contains('ü') && text.contains('\u{81}'));
        assert_eq!(Charset::Latin1.encode(&text).unwrap().as_ref(), &all[..]);
        assert_eq!(Charset::Latin1.encode("Zürich").unwrap().as_ref(), b"Z\xfcrich");
        let e = Charset::Latin1.encode("Köln 日本").unwrap_err();
        assert!(e.to_string().contains("'日'") && e.to_string().contains("U+65E5"), "{e}");
        assert_eq!(Charset::Utf8.decode("São".as_bytes()), "São");
        assert_eq!(Charset::Utf8.decode(b"S\xe3o"), "São");
    }

    #[test]
    fn charset_of_a_column() {
        let col = |cs: Option<&str>| ColumnDef { name: "c".into(), sql_type: "varchar(10)".into(), charset: cs.map(Into::into), ..Default::default() };
        assert_eq!(Charset::of(&col(Some("latin1")), RowEncoding::MysqlTsv, None), Charset::Latin1);
        assert_eq!(Charset::of(&col(None), RowEncoding::MysqlTsv, Some("latin1")), Charset::Latin1);
        assert_eq!(Charset::of(&col(Some("utf8mb4")), RowEncoding::MysqlTsv, Some("latin1")), Charset::Utf8);
        assert_eq!(Charset::of(&col(Some("latin1")), RowEncoding::PgCopyText, None), Charset::Utf8);
    }
}
