//! The row codec on random input: random rows round-trip through both encodings, and random,
//! truncated or mutated row data decodes or is refused as corrupt, never panics.

use proptest::prelude::*;
use proptest::sample::Index;
use tandem_engine::rowcodec::{decode_field, decode_rows, encode_row, Field};
use tandem_engine::RowEncoding;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

fn encoding() -> impl Strategy<Value = RowEncoding> {
    prop_oneof![Just(RowEncoding::MysqlTsv), Just(RowEncoding::PgCopyText)]
}

/// Bytes biased towards what the encodings escape.
fn value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![3 => any::<u8>(), 1 => prop::sample::select(b"\\\t\n\r\x00\x1aNnx0172".to_vec())];
    prop::collection::vec(byte, 0..40)
}

/// A row has at least one field: an empty row and a row of one empty field are the same line.
fn rows() -> impl Strategy<Value = Vec<Vec<Field>>> {
    let field = prop::option::weighted(0.8, value());
    prop::collection::vec(prop::collection::vec(field, 1..8), 0..12)
}

/// Text that looks like row data: escapes, separators, octal and hex digits.
fn row_data() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![2 => any::<u8>(), 3 => prop::sample::select(b"\\\\\t\n\rNx0123789abfvZ".to_vec())];
    prop::collection::vec(byte, 0..200)
}

fn encoded(encoding: RowEncoding, rows: &[Vec<Field>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in rows {
        encode_row(encoding, &mut out, r);
    }
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_rows_round_trip(encoding in encoding(), rows in rows()) {
        // PostgreSQL text cannot hold NUL: its encoder writes it raw and COPY would refuse it;
        // the codec still gives it back.
        let data = encoded(encoding, &rows);
        prop_assert_eq!(data.iter().filter(|&&b| b == b'\n').count(), rows.len(), "a raw newline only ends rows");
        prop_assert_eq!(decode_rows(encoding, &data).unwrap(), rows);
    }

    #[test]
    fn random_bytes_decode_or_are_corrupt(encoding in encoding(), data in row_data()) {
        match decode_rows(encoding, &data) {
            Ok(rows) => prop_assert_eq!(rows.len(), data.iter().filter(|&&b| b == b'\n').count()),
            Err(e) => prop_assert_eq!(e.kind(), tandem_error::Kind::Corrupt),
        }
        for field in data.split(|&b| b == b'\t' || b == b'\n') {
            let _ = decode_field(encoding, field);
        }
    }

    #[test]
    fn truncated_and_mutated_rows_decode_or_are_corrupt(
        encoding in encoding(),
        rows in rows(),
        cut in any::<Index>(),
        flips in prop::collection::vec((any::<Index>(), any::<u8>()), 0..4),
    ) {
        let mut data = encoded(encoding, &rows);
        data.truncate(cut.index(data.len() + 1));
        if !data.is_empty() {
            for (i, b) in &flips {
                let at = i.index(data.len());
                data[at] = *b;
            }
        }
        if let Err(e) = decode_rows(encoding, &data) {
            prop_assert_eq!(e.kind(), tandem_error::Kind::Corrupt);
        }
    }
}
