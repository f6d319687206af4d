//! What the suite needs to know about an engine beyond its trait: its own column types (the
//! sample is made by `translate_schema`, so it only holds the types the engine creates, not all
//! those it reads), a collation that does not sort by code point, and the log position its
//! snapshots record on the test servers. One [`Profile`] per engine, named on its suite line.

use tandem_engine::PositionKind;

/// An engine's native facts for the suite.
pub struct Profile {
    /// The kind of position a snapshot records (the test servers keep a log).
    pub position: PositionKind,
    /// Whether the engine streams changes (`Engine::changes`).
    pub changes: bool,
    /// Whether an update's or delete's event carries the whole row before it (MySQL's full row
    /// images), not only its key (PostgreSQL's default replica identity).
    pub whole_before: bool,
    /// A key column whose ids the engine generates.
    pub generated_id: &'static str,
    /// A text column type whose collation orders differently from code points.
    pub collated_text: &'static str,
    /// Column types the engine names a logical type for, each with SQL literals of values.
    pub mapped: &'static [Native],
    /// Column types without a logical equivalent (a cross-engine restore refuses them), each with
    /// SQL literals of values.
    pub unmapped: &'static [Native],
    /// Column types a known engine bug keeps from restoring (checked by
    /// `native_types_with_a_known_bug_restore_identically`, ignored until the bug is fixed).
    pub known_bugs: &'static [Native],
}

/// A column type as the server's own DDL spells it, and SQL literals of values of it.
pub type Native = (&'static str, &'static [&'static str]);

/// MySQL/MariaDB.
pub const MYSQL: Profile = Profile {
    position: PositionKind::Binlog,
    changes: true,
    whole_before: true,
    generated_id: "INT AUTO_INCREMENT PRIMARY KEY",
    collated_text: "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    mapped: &[
        ("BIT(1)", &["b'1'", "b'0'"]),
        ("TINYINT(1)", &["1", "0"]),
        ("TINYINT", &["-128", "127"]),
        ("TINYINT UNSIGNED", &["255", "0"]),
        ("YEAR", &["2024", "1901"]),
        ("SMALLINT", &["-32768", "32767"]),
        ("SMALLINT UNSIGNED", &["65535", "0"]),
        ("MEDIUMINT", &["-8388608", "8388607"]),
        ("MEDIUMINT UNSIGNED", &["16777215", "0"]),
        ("INT", &["-2147483648", "2147483647"]),
        ("INT UNSIGNED", &["4294967295", "0"]),
        ("INT ZEROFILL", &["42", "0"]),
        ("BIGINT", &["-9223372036854775808", "9223372036854775807"]),
        ("BIGINT UNSIGNED", &["18446744073709551615", "0"]),
        ("DECIMAL(10,3)", &["-1234567.125", "0.001"]),
        ("FLOAT", &["1.5", "-0.25"]),
        ("DOUBLE", &["1e300", "-2.5"]),
        ("CHAR(3)", &["'abc'", "'é'"]),
        ("VARCHAR(10)", &["'it''s'", "'😀 \\\\ \\t'"]),
        ("TINYTEXT", &["'tiny'", "''"]),
        ("TEXT", &["'a\\tb\\nc\\\\d'", "'ü'"]),
        ("MEDIUMTEXT", &["'medium'", "'\\\\N'"]),
        ("LONGTEXT", &["'long'", "'ß'"]),
        ("ENUM('x','y z')", &["'x'", "'y z'"]),
        ("SET('a','b')", &["'a,b'", "''"]),
        ("BINARY(4)", &["X'00FF0A09'", "X'5C4E'"]),
        ("VARBINARY(8)", &["X'00'", "X'5C0A0D09'"]),
        ("TINYBLOB", &["X'01'", "X''"]),
        ("BLOB", &["X'00FF'", "X'5C'"]),
        ("MEDIUMBLOB", &["X'0A'", "X'09'"]),
        ("LONGBLOB", &["X'FF'", "X'0D0A'"]),
        ("DATE", &["'2024-02-29'", "'1000-01-01'"]),
        ("TIME", &["'23:59:59'", "'00:00:00'"]),
        ("TIME(6)", &["'12:34:56.123456'", "'01:02:03'"]),
        ("DATETIME", &["'2024-02-29 12:34:56'", "'1000-01-01 00:00:00'"]),
        ("DATETIME(6)", &["'2024-02-29 12:34:56.123456'", "'9999-12-31 23:59:59.999999'"]),
        ("TIMESTAMP NULL", &["'2024-06-01 01:02:03'", "'1970-01-02 00:00:00'"]),
        ("TIMESTAMP(6) NULL", &["'2024-06-01 01:02:03.5'", "'2038-01-19 03:14:07.999999'"]),
        ("JSON", &["'{\"a\": [1, {\"b\": null}]}'", "'[]'"]),
    ],
    unmapped: &[("GEOMETRY", &["ST_GeomFromText('POINT(1 2)')"]), ("POINT", &["POINT(3, 4)"]), ("BIT(8)", &["b'10100101'"])],
    // LOAD DATA ... CHARACTER SET binary hands their text form ('::1') to MariaDB's INET6/UUID
    // as raw bytes, which it refuses (Warning 1292: Incorrect inet6 value).
    known_bugs: &[("INET6", &["'::1'", "'::ffff:10.0.0.1'"]), ("UUID", &["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"])],
};

/// PostgreSQL.
pub const POSTGRES: Profile = Profile {
    position: PositionKind::Lsn,
    changes: true,
    whole_before: false,
    generated_id: "SERIAL PRIMARY KEY",
    collated_text: "VARCHAR(20) COLLATE \"und-x-icu\"",
    mapped: &[
        ("BOOLEAN", &["true", "false"]),
        ("SMALLINT", &["-32768", "32767"]),
        ("INTEGER", &["-2147483648", "2147483647"]),
        ("BIGINT", &["-9223372036854775808", "9223372036854775807"]),
        ("NUMERIC(20,6)", &["-12345678901234.123456", "0.000001"]),
        ("NUMERIC", &["12345678901234567890.5", "-0.5"]),
        ("REAL", &["1.5", "-0.25"]),
        ("DOUBLE PRECISION", &["1e300", "-2.5"]),
        ("CHAR(3)", &["'abc'", "'é'"]),
        ("VARCHAR(10)", &["'it''s'", "E'😀 \\\\ \\t'"]),
        ("VARCHAR", &["'unbounded'", "''"]),
        ("TEXT", &["E'a\\tb\\nc\\\\d'", "'\\N'"]),
        ("BYTEA", &["'\\x00ff0a09'", "'\\x5c0a0d'"]),
        ("DATE", &["'2024-02-29'", "'1000-01-01'"]),
        ("TIME", &["'23:59:59'", "'00:00:00'"]),
        ("TIME(3)", &["'12:34:56.125'", "'01:02:03'"]),
        ("TIMESTAMP", &["'2024-02-29 12:34:56.123456'", "'1000-01-01 00:00:00'"]),
        ("TIMESTAMPTZ", &["'2024-06-01 01:02:03+02'", "'2038-01-19 03:14:07.5+00'"]),
        ("JSON", &["'{\"a\": [1, {\"b\": null}]}'", "'[]'"]),
        ("JSONB", &["'{\"k\": \"ü\"}'", "'1'"]),
        ("UUID", &["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'"]),
    ],
    unmapped: &[
        ("INT4RANGE", &["'[1,5)'"]),
        ("INTERVAL", &["'1 day 02:00'"]),
        ("INET", &["'10.0.0.1'"]),
        ("INTEGER[]", &["'{1,2,3}'"]),
        ("POINT", &["'(1,2)'"]),
    ],
    known_bugs: &[],
};
