//! Changing rows on their way from a backup into a target:
//!
//! - storage locations rewritten through a [`LocationMap`], on the columns the system names
//!   ([`System::location_columns`]);
//! - secrets the system keeps encrypted with a site key, re-encrypted for the target's key
//!   ([`System::secret_rewriter`]), before anything else sees the row;
//! - for a restore into another engine, every field decoded by the engine that took the backup
//!   and encoded by the target engine ([`Engine::decode_value`], [`Engine::encode_value`]),
//!   which converts charsets and refuses, naming the row, what the target cannot hold.
//!
//! Only tables that need either are decoded; every other table streams through as it is. A
//! transformed chunk holds the same rows in the same order, so row counts still check.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use serde::Serialize;
use tandem_engine::rowcodec::{decode_rows, encode_row, Field};
use tandem_engine::text::Charset;
use tandem_engine::{Engine, LogicalType, RowEncoding, TableDef, Value};
use tandem_error::{Error, Result};
use tandem_system::{LocationMap, Rekey, RowRewriter, System};

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

impl Rewriter {
    pub fn new(map: LocationMap) -> Rewriter {
        let rules = map.rules().iter().map(|r| RuleReport { from: r.from.clone(), to: r.to.clone(), rewritten: 0 }).collect();
        Rewriter { map, report: Mutex::new(LocationReport { rules, ..Default::default() }) }
    }

    /// What the map did so far.
    pub fn report(&self) -> LocationReport {
        self.report.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// Counts of one `apply`, merged into the report at its end.
#[derive(Default)]
struct Tally<'t> {
    columns: BTreeMap<&'t str, (u64, u64)>,
    rules: Vec<u64>,
    unmapped: Vec<String>,
}

/// One location column of one table.
struct Target {
    label: String,
    index: usize,
    /// Charset of the field bytes (same-engine restores).
    charset: Charset,
    /// Only rows whose field `.0` is one of `.1`.
    keys: Option<(usize, Vec<&'static str>)>,
}

/// A restore into another engine, for one table.
struct Conversion<'a> {
    from: &'a dyn Engine,
    to: &'a dyn Engine,
    source: &'a TableDef,
    target: &'a TableDef,
    types: &'a [LogicalType],
}

/// What happens to the rows of one table.
pub(crate) struct TableTransform<'a> {
    /// The system's own rewrite of raw fields (re-encrypting secrets), applied first.
    secrets: Option<Box<dyn RowRewriter>>,
    table: String,
    source: RowEncoding,
    target: RowEncoding,
    width: usize,
    conversion: Option<Conversion<'a>>,
    rewriter: Option<&'a Rewriter>,
    locations: Vec<Target>,
    /// Primary key columns (name, index), to name a row in errors.
    key: Vec<(String, usize)>,
}

/// How a restore changes rows, for [`TableTransform::new`].
pub(crate) struct Plan<'a> {
    pub system: &'a dyn System,
    pub rewriter: Option<&'a Rewriter>,
    pub source_encoding: RowEncoding,
    pub source_charset: Option<&'a str>,
    /// `(from, to)` engines of a restore into another engine.
    pub engines: Option<(&'a dyn Engine, &'a dyn Engine)>,
    /// Keys to re-encrypt the system's secrets with.
    pub rekey: Option<&'a Rekey>,
}

impl<'a> TableTransform<'a> {
    /// The transform of `source` (the backup's table; `target` its definition in the target and
    /// `types` its columns' neutral types for a cross-engine restore), if its rows change.
    pub fn new(plan: &Plan<'a>, source: &'a TableDef, target: &'a TableDef, types: &'a [LogicalType]) -> Option<TableTransform<'a>> {
        let mut locations = Vec::new();
        if let Some(rw) = plan.rewriter {
            for lc in plan.system.location_columns().iter().filter(|lc| lc.table.eq_ignore_ascii_case(&source.name)) {
                let Some((index, col)) = source.column(lc.column) else { continue };
                let keys = match lc.only_keys {
                    None => None,
                    Some((key_col, keys)) => match source.column(key_col) {
                        Some((k, _)) => Some((k, keys.to_vec())),
                        None => continue,
                    },
                };
                let label = match lc.only_keys {
                    None => format!("{}.{}", source.name, col.name),
                    Some((_, keys)) => format!("{}.{} ({})", source.name, col.name, keys.join(", ")),
                };
                if let Ok(mut r) = rw.report.lock() {
                    r.columns.entry(label.clone()).or_default();
                }
                locations.push(Target { label, index, charset: Charset::of(col, plan.source_encoding, plan.source_charset), keys });
            }
        }
        let conversion = plan.engines.map(|(from, to)| Conversion { from, to, source, target, types });
        let secrets = plan.rekey.and_then(|k| plan.system.secret_rewriter(source, k));
        if conversion.is_none() && locations.is_empty() && secrets.is_none() {
            return None;
        }
        let key = source.primary_key.iter().filter_map(|k| source.column(k).map(|(i, c)| (c.name.clone(), i))).collect();
        Some(TableTransform {
            secrets,
            table: target.display_name(),
            source: plan.source_encoding,
            target: plan.engines.map(|(_, to)| to.row_encoding()).unwrap_or(plan.source_encoding),
            width: source.columns.len(),
            conversion,
            rewriter: plan.rewriter,
            locations,
            key,
        })
    }

    /// `row SD_ID=7` (the row's primary key), or its position in the chunk when it has none.
    fn row_name(&self, row: &[Field], n: usize) -> String {
        if self.key.is_empty() {
            return format!("row {}", n + 1);
        }
        let parts: Vec<String> = self
            .key
            .iter()
            .map(|(name, i)| {
                let v = row.get(*i).cloned().flatten().map(|v| String::from_utf8_lossy(&v).into_owned());
                format!("{name}={}", v.unwrap_or_else(|| "NULL".into()))
            })
            .collect();
        format!("row {}", parts.join(", "))
    }

    /// Transforms one chunk of whole rows.
    pub fn apply(&self, chunk: &[u8]) -> Result<Bytes> {
        let rows = decode_rows(self.source, chunk).map_err(|e| e.context(format!("table {}", self.table)))?;
        let mut out = Vec::with_capacity(chunk.len() + chunk.len() / 8);
        let mut tally = Tally { rules: vec![0; self.rewriter.map_or(0, |r| r.map.rules().len())], ..Default::default() };
        for (n, mut row) in rows.into_iter().enumerate() {
            if row.len() != self.width {
                return Err(Error::corrupt(format!("table {}: a row has {} fields, the table {} columns", self.table, row.len(), self.width)));
            }
            if let Some(rw) = &self.secrets {
                rw.rewrite(&mut row)?;
            }
            let fields = self.row(row.clone(), &mut tally).map_err(|e| e.context(format!("table {} {}", self.table, self.row_name(&row, n))))?;
            encode_row(self.target, &mut out, &fields);
        }
        if let Some(rw) = self.rewriter {
            if let Ok(mut r) = rw.report.lock() {
                for (label, (values, rewritten)) in tally.columns {
                    let c = r.columns.entry(label.to_string()).or_default();
                    c.values += values;
                    c.rewritten += rewritten;
                }
                for (rule, n) in r.rules.iter_mut().zip(tally.rules) {
                    rule.rewritten += n;
                }
                r.unmapped_total += tally.unmapped.len() as u64;
                let room = UNMAPPED_SAMPLE.saturating_sub(r.unmapped.len());
                r.unmapped.extend(tally.unmapped.into_iter().take(room));
            }
        }
        Ok(Bytes::from(out))
    }

    fn row<'t>(&'t self, row: Vec<Field>, tally: &mut Tally<'t>) -> Result<Vec<Field>> {
        let Some(c) = &self.conversion else {
            let mut row = row;
            for t in &self.locations {
                let selected = match &t.keys {
                    None => true,
                    Some((k, keys)) => keys.iter().any(|want| row[*k].as_deref() == Some(want.as_bytes())),
                };
                let Some(bytes) = row[t.index].as_deref().filter(|_| selected) else { continue };
                let text = t.charset.decode(bytes).into_owned();
                if let Some(new) = self.relocate(t, &text, tally) {
                    let encoded = t.charset.encode(&new).map_err(|e| e.context(format!("location {text} mapped to {new}")))?;
                    row[t.index] = Some(encoded.into_owned());
                }
            }
            return Ok(row);
        };
        let mut values = Vec::with_capacity(row.len());
        for (i, f) in row.into_iter().enumerate() {
            let col = &c.source.columns[i];
            values.push(match f {
                None => Value::Null,
                Some(b) => c.from.decode_value(col, &c.types[i], &b)?,
            });
        }
        for t in &self.locations {
            let selected = match &t.keys {
                None => true,
                Some((k, keys)) => matches!(&values[*k], Value::Text(s) if keys.contains(&s.as_str())),
            };
            if !selected {
                continue;
            }
            if let Value::Text(text) = &values[t.index] {
                if let Some(new) = self.relocate(t, text, tally) {
                    values[t.index] = Value::Text(new);
                }
            }
        }
        let mut fields = Vec::with_capacity(values.len());
        for (i, v) in values.iter().enumerate() {
            fields.push(match v {
                Value::Null => None,
                v => {
                    let mut out = Vec::new();
                    c.to.encode_value(&c.target.columns[i], &c.types[i], v, &mut out)?;
                    Some(out)
                }
            });
        }
        Ok(fields)
    }

    /// Counts `text` in `tally` and returns its mapped form when a rule matches.
    fn relocate<'t>(&self, t: &'t Target, text: &str, tally: &mut Tally<'t>) -> Option<String> {
        let rw = self.rewriter?;
        let counts = tally.columns.entry(t.label.as_str()).or_default();
        counts.0 += 1;
        match rw.map.rewrite(text) {
            Some((rule, new)) => {
                counts.1 += 1;
                tally.rules[rule] += 1;
                Some(new)
            }
            None => {
                if rw.map.points_at_source(text) {
                    tally.unmapped.push(text.to_string());
                }
                None
            }
        }
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

    fn table(name: &str, cols: &[&str]) -> TableDef {
        TableDef { name: name.into(), columns: cols.iter().map(|c| col(c)).collect(), primary_key: vec![cols[0].to_string()], ..Default::default() }
    }

    fn plan(rw: &Rewriter) -> Plan<'_> {
        Plan { system: &HiveMetastore, rewriter: Some(rw), source_encoding: RowEncoding::MysqlTsv, source_charset: None, engines: None, rekey: None }
    }

    #[test]
    fn rewrites_locations_and_keyed_params_only() {
        let rw = Rewriter::new(LocationMap::parse(&["gs://us/wh=gs://eu/wh"]).unwrap());
        let (sds, params, other) =
            (table("SDS", &["SD_ID", "LOCATION"]), table("SERDE_PARAMS", &["SERDE_ID", "PARAM_KEY", "PARAM_VALUE"]), table("TBLS", &["TBL_ID"]));
        assert!(TableTransform::new(&plan(&rw), &other, &other, &[]).is_none());
        let t = TableTransform::new(&plan(&rw), &sds, &sds, &[]).unwrap();
        let out = t.apply(b"1\tgs://us/wh/db.db/t/city=Z\xfcrich\n2\tgs://us/whx\n3\t\\N\n4\tgs://us/other\n").unwrap();
        assert_eq!(&out[..], b"1\tgs://eu/wh/db.db/t/city=Z\xfcrich\n2\tgs://us/whx\n3\t\\N\n4\tgs://us/other\n");
        let t = TableTransform::new(&plan(&rw), &params, &params, &[]).unwrap();
        let out = t.apply(b"1\tpath\tgs://us/wh/a\n1\tcomment\tgs://us/wh/a\n").unwrap();
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
    fn a_target_that_latin1_cannot_hold_is_an_error_naming_the_row() {
        let rw = Rewriter::new(LocationMap::parse(&["gs://us=gs://日本"]).unwrap());
        let sds = table("SDS", &["SD_ID", "LOCATION"]);
        let t = TableTransform::new(&plan(&rw), &sds, &sds, &[]).unwrap();
        let e = t.apply(b"7\tgs://us/x\n").unwrap_err();
        assert!(e.to_string().contains("table SDS row SD_ID=7") && e.to_string().contains("Latin-1"), "{e}");
        assert!(t.apply(b"1\n").unwrap_err().to_string().contains("1 fields"));
    }
}
