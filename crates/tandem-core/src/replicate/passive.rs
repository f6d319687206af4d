//! A replica of a system with a standby mode stays passive while changes stream into it: every
//! change of the system's passive table is held at the passive value, and the value the row has
//! at the source is remembered in the standby table in the same target transaction
//! ([`tandem_system::Passive`]), so that `promote` restores what was active at the source.

use bytes::Bytes;
use tandem_engine::changes::{decode_image, RowOp, TargetChange};
use tandem_engine::rowcodec::{encode_row, Field};
use tandem_engine::{ColumnDef, Engine, LogicalType, RowEncoding, TableDef, Value};
use tandem_error::{Error, Result};
use tandem_system::{Passive, System};

pub(super) struct Keeper<'a> {
    passive: Passive,
    /// The passive table's index among the replicated tables, its key and passive columns.
    table: usize,
    key: usize,
    column: (usize, ColumnDef, LogicalType),
    /// The standby table's index in the applier's tables.
    record: usize,
    /// The passive value in the replica's encoding.
    held: Vec<u8>,
    target: &'a dyn Engine,
    encoding: RowEncoding,
}

impl<'a> Keeper<'a> {
    /// The keeper of a replica whose replicated tables are `tables` (as the replica holds them;
    /// the standby table comes after them); `None` for systems without a standby mode, or when
    /// the passive table is not replicated.
    pub fn new(system: &dyn System, tables: &[TableDef], target: &'a dyn Engine) -> Result<Option<Keeper<'a>>> {
        let Some(passive) = system.passive(tables) else { return Ok(None) };
        let Some(table) = tables.iter().position(|t| t.name == passive.table && t.schema == passive.record.schema) else { return Ok(None) };
        let def = &tables[table];
        let find = |name: &str| {
            def.column(name)
                .map(|(i, c)| (i, c.clone()))
                .ok_or_else(|| Error::unsupported(format!("table {} has no column {name} to keep passive", def.display_name())))
        };
        let (key, _) = find(&passive.key)?;
        let (index, column) = find(&passive.column)?;
        let ty = target.logical_column(&column).map(|l| l.ty).unwrap_or(LogicalType::Bool);
        let mut held = Vec::new();
        target.encode_value(&column, &ty, &Value::Bool(true), &mut held)?;
        Ok(Some(Keeper { passive, table, key, column: (index, column, ty), record: tables.len(), held, target, encoding: target.row_encoding() }))
    }

    /// The standby table, as the applier writes it (after the replicated tables).
    pub fn record_table(&self) -> TableDef {
        self.passive.record.clone()
    }

    /// Holds `change` passive; the change of the standby table that remembers the row's value at
    /// the source, for a change of the passive table.
    pub fn keep(&self, change: &mut TargetChange) -> Result<Option<TargetChange>> {
        if change.table != self.table {
            return Ok(None);
        }
        let record = |op, before: Option<Bytes>, after: Option<Bytes>| TargetChange { table: self.record, op, before, after, unchanged: Vec::new() };
        let after = match &change.after {
            Some(image) => Some(decode_image(self.encoding, image)?),
            None => None,
        };
        let before_key = match &change.before {
            Some(image) => Some(self.remembered(&decode_image(self.encoding, image)?, false)?),
            None => None,
        };
        let Some(mut after) = after else {
            return Ok(Some(match change.op {
                RowOp::Truncate => record(RowOp::Truncate, None, None),
                op => record(op, before_key, None),
            }));
        };
        let passive = self.is_passive(after.get(self.column.0).cloned().flatten())?;
        let remembered = self.remembered(&after, passive)?;
        after[self.column.0] = Some(self.held.clone());
        let mut image = Vec::new();
        encode_row(self.encoding, &mut image, &after);
        change.after = Some(Bytes::from(image));
        Ok(Some(match change.op {
            RowOp::Insert => record(RowOp::Insert, None, Some(remembered)),
            op => record(op, before_key.or_else(|| Some(remembered.clone())), Some(remembered)),
        }))
    }

    /// The standby table's row for a row of the passive table.
    fn remembered(&self, row: &[Field], passive: bool) -> Result<Bytes> {
        let key =
            row.get(self.key).cloned().flatten().ok_or_else(|| Error::corrupt(format!("a row of {} without its {}", self.passive.table, self.passive.key)))?;
        let mut out = Vec::new();
        encode_row(self.encoding, &mut out, &(self.passive.remember)(&key, passive));
        Ok(Bytes::from(out))
    }

    fn is_passive(&self, field: Field) -> Result<bool> {
        let Some(field) = field else { return Ok(false) };
        let (_, column, ty) = &self.column;
        Ok(match self.target.decode_value(column, ty, &field)? {
            Value::Bool(b) => b,
            Value::Text(t) => matches!(t.as_str(), "1" | "t" | "true"),
            _ => false,
        })
    }
}
