//! The sample the engine suite loads: one table with a column of every [`LogicalType`], rows
//! with ordinary, extreme and awkward values, and the semantic comparison of values read back.

use tandem_engine::{ColumnDef, ForeignSchema, ForeignTable, LogicalColumn, LogicalType, TableDef, Value};

/// Every logical type, with the column that holds it.
pub fn columns() -> Vec<(&'static str, LogicalType)> {
    use LogicalType::*;
    vec![
        ("id", Int64),
        ("b", Bool),
        ("i16", Int16),
        ("i32", Int32),
        ("i64", Int64),
        ("dec", Decimal { precision: Some(20), scale: Some(6) }),
        ("f32", Float32),
        ("f64", Float64),
        ("ch", Char(4)),
        ("vc", Varchar(Some(200))),
        ("tx", Text),
        ("by", Bytes),
        ("d", Date),
        ("tm", Time),
        ("ts", Timestamp { tz: false }),
        ("tstz", Timestamp { tz: true }),
        ("js", Json),
        ("u", Uuid),
    ]
}

/// Text with every byte a row encoding must escape, and non-ASCII.
pub const AWKWARD: &str = "tab\there\nnewline\\backslash\r\u{1}\u{1f}\u{7f} é 😀 ß \\N";

fn t(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// The rows: ordinary values, extremes, and NULL in every nullable column.
pub fn rows() -> Vec<Vec<Value>> {
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    vec![
        vec![
            t("1"),
            Value::Bool(true),
            t("12"),
            t("-7"),
            t("1234567890123"),
            t("12.500000"),
            t("1.5"),
            t("3.25"),
            t("abcd"),
            t("plain"),
            t("a longer text"),
            Value::Bytes(b"bytes".to_vec()),
            t("2024-02-29"),
            t("12:34:56"),
            t("2024-02-29 12:34:56"),
            t("2024-06-01 01:02:03"),
            t(r#"{"a": [1, 2, {"b": "c"}]}"#),
            t("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ],
        vec![
            t("2"),
            Value::Bool(false),
            t("-32768"),
            t("2147483647"),
            t("-9223372036854775808"),
            t("-12345678901234.123456"),
            t("-0.25"),
            t("1e+300"),
            t("é 😀"),
            t(AWKWARD),
            t(&format!("{AWKWARD} {}", "x".repeat(70_000))),
            Value::Bytes(all_bytes),
            t("1000-01-01"),
            t("00:00:00"),
            t("1970-01-01 00:00:01"),
            t("2038-01-19 03:14:07"),
            t(r#"{"k": "ü\n", "n": null}"#),
            t("00000000-0000-0000-0000-000000000000"),
        ],
        std::iter::once(t("3")).chain(std::iter::repeat_n(Value::Null, columns().len() - 1)).collect(),
    ]
}

/// The sample as a schema from "another engine": table `kinds`, primary key `id`, every other
/// column nullable.
pub fn schema() -> ForeignSchema {
    let cols = columns();
    let def = TableDef {
        schema: None,
        name: "kinds".into(),
        columns: cols.iter().map(|(n, _)| ColumnDef { name: n.to_string(), sql_type: String::new(), nullable: *n != "id", ..Default::default() }).collect(),
        primary_key: vec!["id".into()],
        ..Default::default()
    };
    let columns = cols.into_iter().map(|(_, ty)| LogicalColumn { ty, default: None }).collect();
    ForeignSchema { tables: vec![ForeignTable { def, columns, charsets: Default::default() }], text_charset: None }
}

/// `value` in a form where two spellings of the same value of `ty` are equal: numbers by value
/// (integers without leading zeros), JSON by structure, fixed-length text without its padding,
/// times without trailing zeros in their fraction, UUIDs in lower case.
pub fn normal(ty: &LogicalType, value: &Value) -> String {
    let Value::Text(s) = value else { return format!("{value:?}") };
    match ty {
        LogicalType::Int16 | LogicalType::Int32 | LogicalType::Int64 => s.parse::<i128>().map(|i| i.to_string()).unwrap_or_else(|_| s.clone()),
        LogicalType::Float32 | LogicalType::Float64 => match s.parse::<f64>() {
            Ok(f) => format!("{f:e}"),
            Err(_) => s.clone(),
        },
        LogicalType::Decimal { .. } => {
            let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s };
            s.to_string()
        }
        LogicalType::Char(_) => s.trim_end_matches(' ').to_string(),
        LogicalType::Time | LogicalType::Timestamp { .. } => match s.split_once('.') {
            Some((whole, frac)) if frac.bytes().all(|b| b.is_ascii_digit()) => {
                format!("{whole}.{}", frac.trim_end_matches('0')).trim_end_matches('.').to_string()
            }
            _ => s.clone(),
        },
        LogicalType::Json => serde_json::from_str::<serde_json::Value>(s).map(|v| v.to_string()).unwrap_or_else(|_| s.clone()),
        LogicalType::Uuid => s.to_ascii_lowercase(),
        LogicalType::Bool => match s.as_str() {
            "1" | "t" | "true" => "Bool(true)".into(),
            "0" | "f" | "false" => "Bool(false)".into(),
            _ => s.clone(),
        },
        _ => s.clone(),
    }
}

/// Panics naming the first column whose value differs semantically between `want` and `got`
/// (rows matched by position, both ordered by `id`).
pub fn assert_same(what: &str, want: &[Vec<Value>], got: &[Vec<Value>]) {
    let (names, types): (Vec<_>, Vec<_>) = columns().into_iter().unzip();
    assert_values(what, &names, &types, want, got);
}

/// Like [`assert_same`] for columns `names` of logical types `types`.
pub fn assert_values(what: &str, names: &[impl std::fmt::Display], types: &[LogicalType], want: &[Vec<Value>], got: &[Vec<Value>]) {
    assert_eq!(want.len(), got.len(), "{what}: row count");
    for (w, g) in want.iter().zip(got) {
        assert_eq!(w.len(), g.len(), "{what}: column count");
        for (((name, ty), a), b) in names.iter().zip(types).zip(w).zip(g) {
            let (a, b) = (bool_text(a), bool_text(b));
            assert_eq!(normal(ty, &a), normal(ty, &b), "{what}: row id {:?}, column {name} ({ty:?})", w[0]);
        }
    }
}

/// Booleans as an engine may decode them when it has no boolean type (`Text("1")`).
fn bool_text(v: &Value) -> Value {
    match v {
        Value::Bool(b) => Value::Text(if *b { "true" } else { "false" }.into()),
        v => v.clone(),
    }
}
