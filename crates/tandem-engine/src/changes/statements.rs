//! The statements an applier runs: one per change, or one per run of consecutive inserts (or
//! deletes by primary key) of one table, with the rows' fields as parameters.

use bytes::Bytes;
use tandem_error::Result;

use super::{row_key, RowOp, TargetChange};
use crate::{Dialect, TableDef};

/// The fields of one row image (exactly one encoded row).
pub fn decode_image(encoding: crate::RowEncoding, image: &[u8]) -> Result<Vec<crate::rowcodec::Field>> {
    let mut rows = crate::rowcodec::decode_rows(encoding, image)?;
    match (rows.pop(), rows.is_empty()) {
        (Some(row), true) => Ok(row),
        _ => Err(tandem_error::Error::corrupt("a row image that is not exactly one row")),
    }
}

/// The parameters of a change's statement (see [`ApplySql`]), from its decoded images.
pub fn change_params(
    op: RowOp,
    key: &[usize],
    before: Option<Vec<crate::rowcodec::Field>>,
    after: Option<Vec<crate::rowcodec::Field>>,
    unchanged: &[usize],
) -> Result<Vec<crate::rowcodec::Field>> {
    let missing = |what: &str| tandem_error::Error::corrupt(format!("a {op:?} change without its {what} image"));
    Ok(match op {
        RowOp::Insert => after.ok_or_else(|| missing("after"))?,
        RowOp::Update => {
            let (before, after) = (before.ok_or_else(|| missing("before"))?, after.ok_or_else(|| missing("after"))?);
            let mut params: Vec<_> = match unchanged.is_empty() {
                true => after,
                false => after.into_iter().enumerate().filter(|(i, _)| !unchanged.contains(i)).map(|(_, f)| f).collect(),
            };
            params.extend(key.iter().map(|&k| before.get(k).cloned().flatten()));
            params
        }
        RowOp::Truncate => Vec::new(),
        RowOp::Delete => {
            let before = before.ok_or_else(|| missing("before"))?;
            key.iter().map(|&k| before.get(k).cloned().flatten()).collect()
        }
    })
}

/// How an engine spells the parts of the statements that apply changes.
#[derive(Clone, Copy)]
pub struct ApplySpelling {
    /// The n-th parameter (0-based) for a column.
    pub param: fn(usize, &crate::ColumnDef) -> String,
    /// The comparison of a key column with a parameter (`keyed`: the table has a primary key;
    /// without one, every column is compared and NULL must match NULL).
    pub matches: fn(column: &str, param: &str, keyed: bool) -> String,
    /// The condition that picks one row of a table without primary key (rows may be identical).
    pub one_row: fn(table: &str, condition: &str) -> String,
}

/// The statements that apply changes to one table. Parameters: an insert takes every column;
/// an update every column (but those it leaves unchanged), then the key columns of the row
/// before; a delete the key columns of the row before (see [`change_params`]); a truncate none
/// (it is a `DELETE` of every row, which both engines run inside a transaction).
#[derive(Clone)]
pub struct ApplySql {
    pub insert: String,
    pub update: String,
    pub delete: String,
    pub truncate: String,
    /// The table's quoted name.
    name: String,
    /// `INSERT INTO t (cols) VALUES`, for [`insert_many`](Self::insert_many).
    insert_head: String,
    /// The key's column indexes and quoted names (the primary key; every column without one).
    key: Vec<(usize, String)>,
    keyed: bool,
    columns: Vec<crate::ColumnDef>,
    quoted: Vec<String>,
    spelling: ApplySpelling,
}

/// The most rows one multi-row insert takes (and fewer when the table is wide: at most
/// [`MAX_PARAMS`] parameters).
pub const INSERT_ROWS: usize = 256;

/// The most parameters one statement takes (both engines' protocols allow 65 535).
pub const MAX_PARAMS: usize = 60_000;

impl ApplySql {
    pub fn new(d: &dyn Dialect, table: &TableDef, spelling: ApplySpelling) -> ApplySql {
        let name = d.table(table);
        let cols = &table.columns;
        let quoted: Vec<String> = cols.iter().map(|c| d.ident(&c.name)).collect();
        let values: Vec<String> = cols.iter().enumerate().map(|(i, c)| (spelling.param)(i, c)).collect();
        let insert_head = format!("INSERT INTO {name} ({}) VALUES", quoted.join(", "));
        let mut sql = ApplySql {
            insert: format!("{insert_head} ({})", values.join(", ")),
            update: String::new(),
            delete: String::new(),
            truncate: format!("DELETE FROM {name}"),
            insert_head,
            key: row_key(table).into_iter().map(|k| (k, quoted[k].clone())).collect(),
            keyed: !table.primary_key.is_empty(),
            columns: cols.clone(),
            quoted,
            name,
            spelling,
        };
        sql.update = sql.update_keeping(&[]);
        sql.delete = format!("DELETE FROM {} WHERE {}", sql.name, sql.condition(0));
        sql
    }

    /// The condition that picks the row by its key, with parameters numbered from `first`.
    fn condition(&self, first: usize) -> String {
        let parts: Vec<String> = self
            .key
            .iter()
            .enumerate()
            .map(|(n, (k, q))| (self.spelling.matches)(q, &(self.spelling.param)(first + n, &self.columns[*k]), self.keyed))
            .collect();
        let c = parts.join(" AND ");
        match self.keyed {
            true => c,
            false => (self.spelling.one_row)(&self.name, &c),
        }
    }

    /// The update that sets every column but `unchanged` (see [`change_params`]).
    pub fn update_keeping(&self, unchanged: &[usize]) -> String {
        let set: Vec<usize> = (0..self.columns.len()).filter(|i| !unchanged.contains(i)).collect();
        let sets: Vec<String> = set.iter().enumerate().map(|(n, &i)| format!("{} = {}", self.quoted[i], (self.spelling.param)(n, &self.columns[i]))).collect();
        format!("UPDATE {} SET {} WHERE {}", self.name, sets.join(", "), self.condition(set.len()))
    }

    /// An insert of `rows` rows in one statement (parameters: every column of each row in turn).
    pub fn insert_many(&self, rows: usize) -> String {
        let width = self.columns.len();
        let tuples: Vec<String> = (0..rows)
            .map(|r| {
                let values: Vec<String> = self.columns.iter().enumerate().map(|(i, c)| (self.spelling.param)(r * width + i, c)).collect();
                format!("({})", values.join(", "))
            })
            .collect();
        format!("{} {}", self.insert_head, tuples.join(", "))
    }

    /// A delete of `rows` rows by primary key in one statement (parameters: the key columns of
    /// each row in turn). Only for tables with a primary key.
    pub fn delete_many(&self, rows: usize) -> String {
        let width = self.key.len();
        let p = |r: usize, n: usize| (self.spelling.param)(r * width + n, &self.columns[self.key[n].0]);
        let cond = match &self.key[..] {
            [(_, k)] => format!("{k} IN ({})", (0..rows).map(|r| p(r, 0)).collect::<Vec<_>>().join(", ")),
            key => (0..rows)
                .map(|r| format!("({})", key.iter().enumerate().map(|(n, (_, k))| format!("{k} = {}", p(r, n))).collect::<Vec<_>>().join(" AND ")))
                .collect::<Vec<_>>()
                .join(" OR "),
        };
        format!("DELETE FROM {} WHERE {cond}", self.name)
    }

    /// How many consecutive changes of `op` one statement of this table takes: inserts up to
    /// [`INSERT_ROWS`] rows, deletes by primary key as many, updates and truncates one.
    pub fn chunk(&self, op: RowOp) -> usize {
        let width = match op {
            RowOp::Insert => self.columns.len(),
            RowOp::Delete if self.keyed => self.key.len(),
            _ => return 1,
        };
        (MAX_PARAMS / width.max(1)).clamp(1, INSERT_ROWS)
    }

    pub fn for_op(&self, op: RowOp) -> &str {
        match op {
            RowOp::Insert => &self.insert,
            RowOp::Update => &self.update,
            RowOp::Delete => &self.delete,
            RowOp::Truncate => &self.truncate,
        }
    }
}

/// The error of a change that found the replica without the row it changes (or with the row it
/// inserts): the replica diverged from its source.
pub fn diverged(table: &TableDef, op: RowOp) -> tandem_error::Error {
    let what = match op {
        RowOp::Insert => "an insert found nothing inserted",
        RowOp::Update => "an update found no row to change",
        RowOp::Delete => "a delete found no row to remove",
        RowOp::Truncate => "a truncate failed",
    };
    tandem_error::Error::corrupt(format!(
        "the replica diverged from its source: in table {}, {what}; nothing since the last applied transaction was kept",
        table.name
    ))
    .with_hint(tandem_error::Hint::Rebootstrap)
}

/// Splits `changes` into runs to apply with one statement each: consecutive changes of the same
/// kind to the same table, at most `chunk(change)` of them (1: alone). Yields `(start, len)`.
pub fn statement_runs(changes: &[TargetChange], chunk: impl Fn(&TargetChange) -> usize) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < changes.len() {
        let c = &changes[i];
        let max = chunk(c).max(1);
        let mut len = 1;
        while len < max && changes.get(i + len).is_some_and(|n| n.op == c.op && n.table == c.table) {
            len += 1;
        }
        runs.push((i, len));
        i += len;
    }
    runs
}

/// One statement of a batch: its SQL (from the table's [`ApplySql`]), its parameters, and the
/// rows it must change (fewer means the replica diverged).
pub struct RunStatement<'a> {
    pub sql: std::borrow::Cow<'a, str>,
    pub params: Vec<crate::rowcodec::Field>,
    pub rows: u64,
}

impl<'a> RunStatement<'a> {
    /// The statement of a run of [`statement_runs`] (rows in `encoding`).
    pub fn of(run: &[TargetChange], sql: &'a ApplySql, key: &[usize], encoding: crate::RowEncoding) -> Result<RunStatement<'a>> {
        let image = |b: &Option<Bytes>| b.as_deref().map(|b| decode_image(encoding, b)).transpose();
        match run {
            [c] => {
                let text = match (c.op, c.unchanged.is_empty()) {
                    (RowOp::Update, false) => sql.update_keeping(&c.unchanged).into(),
                    (op, _) => sql.for_op(op).into(),
                };
                let rows = u64::from(c.op != RowOp::Truncate);
                Ok(RunStatement { sql: text, params: change_params(c.op, key, image(&c.before)?, image(&c.after)?, &c.unchanged)?, rows })
            }
            [first, ..] => {
                let mut params = Vec::with_capacity(run.len() * sql.columns.len());
                for c in run {
                    params.extend(change_params(c.op, key, image(&c.before)?, image(&c.after)?, &[])?);
                }
                let text = match first.op {
                    RowOp::Insert => sql.insert_many(run.len()),
                    RowOp::Delete => sql.delete_many(run.len()),
                    RowOp::Update | RowOp::Truncate => return Err(tandem_error::Error::internal("updates and truncates are applied one statement each")),
                };
                Ok(RunStatement { sql: text.into(), params, rows: run.len() as u64 })
            }
            [] => Err(tandem_error::Error::internal("an empty run of changes")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_inserts_into_one_table_share_a_statement() {
        let c = |table, op| TargetChange { table, op, before: None, after: None, unchanged: Vec::new() };
        let batch = [c(0, RowOp::Insert), c(0, RowOp::Insert), c(0, RowOp::Insert), c(1, RowOp::Insert), c(0, RowOp::Update), c(0, RowOp::Insert)];
        assert_eq!(statement_runs(&batch, |_| 2), vec![(0, 2), (2, 1), (3, 1), (4, 1), (5, 1)]);
        assert_eq!(statement_runs(&batch, |_| 256), vec![(0, 3), (3, 1), (4, 1), (5, 1)]);
        let deletes = [c(0, RowOp::Delete), c(0, RowOp::Delete), c(0, RowOp::Update), c(0, RowOp::Update)];
        assert_eq!(statement_runs(&deletes, |c| if c.op == RowOp::Update { 1 } else { 9 }), vec![(0, 2), (2, 1), (3, 1)]);
    }
}
