//! Rewriting rows on their way from a backup into a target: storage locations through a
//! [`LocationMap`], on the columns the system names ([`System::location_columns`]).
//!
//! Only tables that have such a column are decoded; every other table streams through as it is.
//! A transformed chunk holds the same rows in the same order, so row counts still check.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use serde::Serialize;
use tandem_engine::rowcodec::{decode_rows, encode_row};
use tandem_engine::text::Charset;
use tandem_engine::{RowEncoding, TableDef};
use tandem_error::{Error, Result};
use tandem_system::{LocationMap, System};

/// How many values still pointing at a FROM are listed by name.
const UNMAPPED_SAMPLE: usize = 20;

/// What a location map did, for the restore report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LocationReport {
    /// Per rule, in the order given: how many values it rewrote.
    pub rules: Vec<RuleReport>,
    /// Per column (`SDS.LOCATION`, `SERDE_PARAMS.PARAM_VALUE (path)`): values seen and rewritten.
    pub columns: BTreeMap<String, ColumnReport>,
    /// Locations left as they were that still point at the scheme + authority of some FROM
    /// (a bucket the map forgot), the first few by value.
    pub unmapped: Vec<String>,
    pub unmapped_total: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleReport {
    pub from: String,
    pub to: String,
    pub rewritten: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ColumnReport {
    pub values: u64,
    pub rewritten: u64,
}

/// The location map of one restore and what it did so far (shared by the table loads).
pub(crate) struct Rewriter {
    map: LocationMap,
    report: Mutex<LocationReport>,
}

/// One rewritten column of one table.
struct Target {
    label: String,
    index: usize,
    charset: Charset,
    /// Only rows whose field `.0` is one of `.1`.
    keys: Option<(usize, Vec<&'static str>)>,
}

/// The rewrite of one table's rows.
pub(crate) struct TableTransform {
    table: String,
    encoding: RowEncoding,
    width: usize,
    targets: Vec<Target>,
    /// Primary key columns (name, index), to name a row in errors.
    key: Vec<(String, usize)>,
}

impl TableTransform {
    /// `SD_ID=7` (the row's primary key), or its position in the chunk when it has none.
    fn row_name(&self, row: &[Option<Vec<u8>>], n: usize) -> String {
        if self.key.is_empty() {
            return format!("row {}", n + 1);
        }
        let parts: Vec<String> = self
            .key
            .iter()
            .map(|(name, i)| format!("{name}={}", row.get(*i).cloned().flatten().map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_else(|| "NULL".into())))
            .collect();
        format!("row {}", parts.join(", "))
    }
}

impl Rewriter {
    pub fn new(map: LocationMap) -> Rewriter {
        let rules = map.rules().iter().map(|r| RuleReport { from: r.from.clone(), to: r.to.clone(), rewritten: 0 }).collect();
        Rewriter { map, report: Mutex::new(LocationReport { rules, ..Default::default() }) }
    }

    /// The transform for `table` (rows in `encoding`, database charset `db_charset`), if the
    /// system stores locations in it.
    pub fn for_table(&self, system: &dyn System, table: &TableDef, encoding: RowEncoding, db_charset: Option<&str>) -> Option<TableTransform> {
        let mut targets = Vec::new();
        for lc in system.location_columns().iter().filter(|lc| lc.table.eq_ignore_ascii_case(&table.name)) {
            let Some((index, col)) = table.column(lc.column) else { continue };
            let keys = match lc.only_keys {
                None => None,
                Some((key_col, keys)) => match table.column(key_col) {
                    Some((k, _)) => Some((k, keys.to_vec())),
                    None => continue,
                },
            };
            let label = match lc.only_keys {
                None => format!("{}.{}", table.name, col.name),
                Some((_, keys)) => format!("{}.{} ({})", table.name, col.name, keys.join(", ")),
            };
            if let Ok(mut r) = self.report.lock() {
                r.columns.entry(label.clone()).or_default();
            }
            targets.push(Target { label, index, charset: Charset::of(col, encoding, db_charset), keys });
        }
        let key = table.primary_key.iter().filter_map(|k| table.column(k).map(|(i, c)| (c.name.clone(), i))).collect();
        (!targets.is_empty()).then(|| TableTransform { table: table.display_name(), encoding, width: table.columns.len(), targets, key })
    }

    /// Rewrites the locations in one chunk of whole rows.
    pub fn apply(&self, t: &TableTransform, chunk: &[u8]) -> Result<Bytes> {
        let rows = decode_rows(t.encoding, chunk).map_err(|e| e.context(format!("table {}", t.table)))?;
        let mut out = Vec::with_capacity(chunk.len() + chunk.len() / 8);
        let mut seen: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        let mut per_rule = vec![0u64; self.map.rules().len()];
        let mut unmapped = Vec::new();
        for (n, mut row) in rows.into_iter().enumerate() {
            if row.len() != t.width {
                return Err(Error::corrupt(format!("table {}: a row has {} fields, the table {} columns", t.table, row.len(), t.width)));
            }
            for target in &t.targets {
                if let Some((k, keys)) = &target.keys {
                    let key = row[*k].as_deref().unwrap_or_default();
                    if !keys.iter().any(|want| want.as_bytes() == key) {
                        continue;
                    }
                }
                let Some(bytes) = row[target.index].as_deref() else { continue };
                let text = target.charset.decode(bytes);
                let counts = seen.entry(target.label.as_str()).or_default();
                counts.0 += 1;
                match self.map.rewrite(&text) {
                    Some((rule, new)) => {
                        let encoded = target.charset.encode(&new).map_err(|e| {
                            e.context(format!("table {} {}: location {text} mapped to {new}", t.table, t.row_name(&row, n)))
                        })?;
                        row[target.index] = Some(encoded.into_owned());
                        counts.1 += 1;
                        per_rule[rule] += 1;
                    }
                    None if self.map.points_at_source(&text) => unmapped.push(text.into_owned()),
                    None => {}
                }
            }
            encode_row(t.encoding, &mut out, &row);
        }
        if let Ok(mut r) = self.report.lock() {
            for (label, (values, rewritten)) in seen {
                let c = r.columns.entry(label.to_string()).or_default();
                c.values += values;
                c.rewritten += rewritten;
            }
            for (rule, n) in r.rules.iter_mut().zip(per_rule) {
                rule.rewritten += n;
            }
            r.unmapped_total += unmapped.len() as u64;
            let room = UNMAPPED_SAMPLE.saturating_sub(r.unmapped.len());
            r.unmapped.extend(unmapped.into_iter().take(room));
        }
        Ok(Bytes::from(out))
    }

    /// What the map did so far.
    pub fn report(&self) -> LocationReport {
        self.report.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_engine::ColumnDef;
    use tandem_system::HiveMetastore;

    fn col(name: &str) -> ColumnDef {
        ColumnDef { name: name.into(), sql_type: "varchar(4000)".into(), charset: Some("latin1".into()), ..Default::default() }
    }

    #[test]
    fn rewrites_locations_and_keyed_params_only() {
        let rw = Rewriter::new(LocationMap::parse(&["gs://us/wh=gs://eu/wh"]).unwrap());
        let sds = TableDef { name: "SDS".into(), columns: vec![col("SD_ID"), col("LOCATION")], ..Default::default() };
        let params = TableDef { name: "SERDE_PARAMS".into(), columns: vec![col("SERDE_ID"), col("PARAM_KEY"), col("PARAM_VALUE")], ..Default::default() };
        let other = TableDef { name: "TBLS".into(), columns: vec![col("TBL_ID")], ..Default::default() };
        assert!(rw.for_table(&HiveMetastore, &other, RowEncoding::MysqlTsv, None).is_none());
        let t = rw.for_table(&HiveMetastore, &sds, RowEncoding::MysqlTsv, None).unwrap();
        let out = rw.apply(&t, b"1\tgs://us/wh/db.db/t/city=Z\xfcrich\n2\tgs://us/whx\n3\t\\N\n4\tgs://us/other\n").unwrap();
        assert_eq!(&out[..], b"1\tgs://eu/wh/db.db/t/city=Z\xfcrich\n2\tgs://us/whx\n3\t\\N\n4\tgs://us/other\n");
        let t = rw.for_table(&HiveMetastore, &params, RowEncoding::MysqlTsv, None).unwrap();
        let out = rw.apply(&t, b"1\tpath\tgs://us/wh/a\n1\tcomment\tgs://us/wh/a\n").unwrap();
        assert_eq!(&out[..], b"1\tpath\tgs://eu/wh/a\n1\tcomment\tgs://us/wh/a\n");
        let r = rw.report();
        assert_eq!(r.rules[0].rewritten, 2);
        assert_eq!(r.columns["SDS.LOCATION"].values, 3);
        assert_eq!(r.columns["SDS.LOCATION"].rewritten, 1);
        assert_eq!(r.columns["SERDE_PARAMS.PARAM_VALUE (path, avro.schema.url)"].rewritten, 1);
        assert_eq!(r.unmapped, vec!["gs://us/whx".to_string(), "gs://us/other".to_string()]);
        assert_eq!(r.unmapped_total, 2);
    }

    #[test]
    fn a_target_that_latin1_cannot_hold_is_an_error() {
        let rw = Rewriter::new(LocationMap::parse(&["gs://us=gs://日本"]).unwrap());
        let sds = TableDef { name: "SDS".into(), columns: vec![col("SD_ID"), col("LOCATION")], primary_key: vec!["SD_ID".into()], ..Default::default() };
        let t = rw.for_table(&HiveMetastore, &sds, RowEncoding::MysqlTsv, None).unwrap();
        let e = rw.apply(&t, b"7\tgs://us/x\n").unwrap_err();
        assert!(e.to_string().contains("table SDS row SD_ID=7") && e.to_string().contains("Latin-1"), "{e}");
        assert!(rw.apply(&t, b"1\n").unwrap_err().to_string().contains("1 fields"));
    }
}
