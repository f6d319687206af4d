//! Reading small tables of a snapshot through the engine trait.

use async_trait::async_trait;
use bytes::Bytes;
use tandem_engine::{rowcodec, RowSink, Snapshot, TableDef};
use tandem_error::Result;

use crate::{Detected, System};

/// A sink that keeps everything.
pub(crate) struct Collect(pub Vec<u8>);

#[async_trait]
impl RowSink for Collect {
    async fn write(&mut self, rows: Bytes) -> Result<()> {
        self.0.extend_from_slice(&rows);
        Ok(())
    }
}

/// The table called `name` (exact, else case-insensitive, in any schema), if there is one.
pub fn find_table<'a>(tables: &'a [TableDef], name: &str) -> Option<&'a TableDef> {
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
    let Some((idx, _)) = table.column(column) else {
        return Ok(None);
    };
    let rows = read_rows(snapshot, table).await?;
    Ok(rows.into_iter().find_map(|r| r.into_iter().nth(idx).flatten()).map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// Recognition by [`System::marker_tables`]: `Some` iff the snapshot has every marker table, with
/// the first value of [`System::version_column`] of the first marker as version.
pub async fn detect_by_markers(snapshot: &dyn Snapshot, system: &(impl System + ?Sized)) -> Result<Option<Detected>> {
    let tables = &snapshot.schema().tables;
    let markers = system.marker_tables();
    if markers.iter().any(|t| find_table(tables, t).is_none()) {
        return Ok(None);
    }
    let version = match (markers.first().and_then(|t| find_table(tables, t)), system.version_column()) {
        (Some(table), Some(column)) => first_value(snapshot, table, column).await?,
        _ => None,
    };
    Ok(Some(Detected { name: system.name().into(), version, ..Default::default() }))
}
