//! Reading small tables of a snapshot through the engine trait.

use async_trait::async_trait;
use bytes::Bytes;
use tandem_engine::{rowcodec, RowSink, Snapshot, TableDef};
use tandem_error::Result;

struct Collect(Vec<u8>);

#[async_trait]
impl RowSink for Collect {
    async fn write(&mut self, rows: Bytes) -> Result<()> {
        self.0.extend_from_slice(&rows);
        Ok(())
    }
}

/// The table called `name` (case-insensitive, in any schema), if the snapshot has one.
pub fn find_table<'a>(snapshot: &'a dyn Snapshot, name: &str) -> Option<&'a TableDef> {
    let tables = &snapshot.schema().tables;
    tables.iter().find(|t| t.name == name).or_else(|| tables.iter().find(|t| t.name.eq_ignore_ascii_case(name)))
}

/// Every row of a small table, decoded, with fields in `table.columns` order.
pub async fn read_rows(snapshot: &dyn Snapshot, table: &TableDef) -> Result<Vec<Vec<Option<Vec<u8>>>>> {
    let mut sink = Collect(Vec::new());
    snapshot.copy_out(table, &mut sink).await?;
    rowcodec::decode_rows(snapshot.info().row_encoding, &sink.0)
}

/// The first non-NULL value of column `column` (case-insensitive) of `table`, as text.
pub async fn first_value(snapshot: &dyn Snapshot, table: &TableDef, column: &str) -> Result<Option<String>> {
    let Some(idx) = table.columns.iter().position(|c| c.name.eq_ignore_ascii_case(column)) else {
        return Ok(None);
    };
    let rows = read_rows(snapshot, table).await?;
    Ok(rows
        .into_iter()
        .find_map(|r| r.into_iter().nth(idx).flatten())
        .map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// Recognition by marker tables: `Some` (named `system`, with the first value of
/// `version_table.version_column` as version) iff the snapshot has `version_table` and every table
/// of `also`.
pub async fn detect_by_tables(
    snapshot: &dyn Snapshot,
    system: &str,
    (version_table, version_column): (&str, &str),
    also: &[&str],
) -> Result<Option<crate::Detected>> {
    let Some(table) = find_table(snapshot, version_table) else { return Ok(None) };
    if also.iter().any(|t| find_table(snapshot, t).is_none()) {
        return Ok(None);
    }
    let version = first_value(snapshot, table, version_column).await?;
    Ok(Some(crate::Detected { name: system.into(), version, ..Default::default() }))
}
