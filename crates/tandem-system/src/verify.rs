//! Semantic verify: two databases of one system compared object by object (a metastore's
//! databases, tables, partitions, functions…), not row by row.
//!
//! A system describes each kind of object as a [`View`]: a main table joined to the tables that
//! name it (the key, e.g. database + table + partition name), scalar fields from those tables,
//! and child rows aggregated per object ([`Field::Agg`]: parameters, columns, privileges). The
//! view becomes ONE `SELECT` per side, one row per object, ordered by the key in Unicode code
//! point order ([`Dialect::text_order`]), so both sides stream in the same order and are merged
//! like a sorted join (by `tandem-core`'s verify flow): memory holds one object per side,
//! whatever the size.
//!
//! Fields are compared after normalising what engines spell differently (booleans, doubles)
//! and after mapping the source's storage locations through the [`LocationMap`] of the restore.
//! A field exists only if both sides have its table and column (so differing schema versions
//! compare what they share); a child table that is empty on one side is not queried there.

use std::collections::BTreeMap;

use tandem_engine::{Dialect, TableDef};

use crate::read::find_table;

/// A table in a view's `FROM`: `table alias` joined `ON alias.col = other.col AND …`.
#[derive(Debug, Clone, Copy)]
pub struct Join {
    pub table: &'static str,
    pub alias: &'static str,
    /// `(column of this table, alias of an earlier table, its column)`; empty for the first.
    pub on: &'static [(&'static str, &'static str, &'static str)],
    /// `LEFT JOIN` (the row may be missing) rather than `JOIN`.
    pub left: bool,
}

/// One part of an object's key.
#[derive(Debug, Clone, Copy)]
pub struct KeyPart {
    pub alias: &'static str,
    pub column: &'static str,
    /// Used where the column does not exist (a catalog name in layouts before catalogs).
    pub default: Option<&'static str>,
}

/// How a value is normalised before comparing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    Text,
    /// `1`, `\x01`, `t`, `true` → `true` (MySQL `bit(1)` vs PostgreSQL `boolean`).
    Bool,
    /// Parsed as a double and printed in its shortest exact form.
    Float,
    /// A UTC timestamp: offset `+00` and trailing zeros of the fraction dropped.
    Timestamp,
    /// JSON, re-serialised canonically (object keys sorted, no spaces).
    Json,
    /// A value encrypted with the site's key: compared decrypted when verify has the keys.
    Secret,
}

/// Which elements of a field are storage locations, mapped on the source side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    No,
    /// The whole value (scalar) or element `i` of every tuple.
    At(usize),
    /// Element `value` of the tuples whose element `key` is one of the keys.
    Keyed {
        key: usize,
        value: usize,
        keys: &'static [&'static str],
    },
}

/// One compared field of an object.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    /// A column of a table of the view's `FROM`.
    Col { name: &'static str, alias: &'static str, column: &'static str, norm: Norm, loc: bool },
    /// The rows of a child table that belong to the object (`child.fk = alias.col`), as a
    /// sorted list of tuples of `columns` (`(alias, column, norm)`; alias `c` is the child, others
    /// come from `join`). With `pairs`, tuples are `(key, value)` and differences are named per key.
    Agg {
        name: &'static str,
        table: &'static str,
        on: (&'static str, &'static str, &'static str),
        join: Option<Join>,
        columns: &'static [(&'static str, &'static str, Norm)],
        loc: Loc,
        pairs: bool,
    },
}

impl Field {
    pub fn name(&self) -> &'static str {
        match self {
            Field::Col { name, .. } | Field::Agg { name, .. } => name,
        }
    }
}

/// One kind of object.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Plural, for the report (`partitions`).
    pub kind: &'static str,
    pub from: &'static [Join],
    pub key: &'static [KeyPart],
    pub fields: &'static [Field],
    /// Names one object for humans from its key (`retail.orders partition ds=1`).
    pub label: fn(&[String]) -> String,
    /// A field whose value renames the kind of a given object (`TBL_TYPE` = `VIRTUAL_VIEW` →
    /// `views`), with the values that do.
    pub subkind: Option<(&'static str, &'static [(&'static str, &'static str)])>,
}

/// How many rows a child table has, which decides how its aggregates are queried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// No rows: not queried at all.
    Empty,
    /// At most [`SMALL_TABLE`] rows: aggregated once and joined.
    Small,
    /// More: the engine's preferred way ([`Dialect::correlated_aggregates`]).
    Large,
}

/// Child tables up to this many rows count as [`Size::Small`].
pub const SMALL_TABLE: u64 = 10_000;

/// The tables of one side, for rendering SQL.
pub struct Side<'a> {
    pub tables: &'a [TableDef],
    pub dialect: &'a dyn Dialect,
    /// Sizes of child tables by name as listed; a table not listed counts as large.
    pub sizes: &'a BTreeMap<String, Size>,
}

impl Side<'_> {
    fn table(&self, name: &str) -> Option<&TableDef> {
        find_table(self.tables, name)
    }

    fn has(&self, table: &str, column: &str) -> bool {
        self.table(table).is_some_and(|t| t.column(column).is_some())
    }

    fn size(&self, table: &str) -> Size {
        self.table(table).and_then(|t| self.sizes.get(&t.name)).copied().unwrap_or(Size::Large)
    }

    /// `alias.column`, quoted, with the column spelled as this side spells it.
    fn col(&self, view_from: &[Join], alias: &str, column: &str) -> String {
        let spelled = view_from
            .iter()
            .find(|j| j.alias == alias)
            .and_then(|j| self.table(j.table))
            .and_then(|t| t.column(column))
            .map(|(_, c)| c.name.clone())
            .unwrap_or_else(|| column.to_string());
        format!("{alias}.{}", self.dialect.ident(&spelled))
    }

    fn joins_sql(&self, joins: &[Join]) -> Option<String> {
        let mut sql = String::new();
        for (i, j) in joins.iter().enumerate() {
            let t = self.table(j.table)?;
            if i > 0 {
                sql.push_str(if j.left { " LEFT JOIN " } else { " JOIN " });
            }
            sql.push_str(&format!("{} {}", self.dialect.table(t), j.alias));
            if !j.on.is_empty() {
                let conds: Vec<String> = j.on.iter().map(|(c, a2, c2)| format!("{} = {}", self.col(joins, j.alias, c), self.col(joins, a2, c2))).collect();
                sql.push_str(&format!(" ON {}", conds.join(" AND ")));
            }
        }
        Some(sql)
    }
}

/// One field of a [`Plan`]: the field and, for aggregates, the columns both sides have.
#[derive(Debug, Clone)]
pub struct Planned {
    pub field: Field,
    /// Indexes into the aggregate's `columns` (empty for a column field).
    pub columns: Vec<usize>,
}

impl Planned {
    /// The normalisation of tuple element `i` (aggregates) or of the value (columns).
    pub fn norm(&self, i: usize) -> Norm {
        match self.field {
            Field::Col { norm, .. } => norm,
            Field::Agg { columns, .. } => self.columns.get(i).map(|&c| columns[c].2).unwrap_or(Norm::Text),
        }
    }
}

/// A view narrowed to what both sides have.
#[derive(Debug, Clone)]
pub struct Plan {
    pub view: View,
    pub fields: Vec<Planned>,
}

impl Plan {
    /// The view with the fields both sides can produce; `None` if a side lacks a table the view
    /// joins without `left`.
    pub fn new(view: View, a: &Side, b: &Side) -> Option<Plan> {
        if view.from.iter().filter(|j| !j.left).any(|j| a.table(j.table).is_none() || b.table(j.table).is_none()) {
            return None;
        }
        let alias_table = |alias: &str| view.from.iter().find(|j| j.alias == alias).map(|j| j.table);
        let mut fields = Vec::new();
        for f in view.fields {
            match f {
                Field::Col { alias, column, .. } => {
                    if alias_table(alias).is_some_and(|t| a.has(t, column) && b.has(t, column)) {
                        fields.push(Planned { field: *f, columns: Vec::new() });
                    }
                }
                Field::Agg { table, on, join, columns, .. } => {
                    let linked = |s: &Side| {
                        s.has(table, on.0)
                            && alias_table(on.1).is_some_and(|t| s.has(t, on.2))
                            && join.is_none_or(|j| j.on.iter().all(|(c, a2, c2)| s.has(j.table, c) && (*a2 != "c" || s.has(table, c2))))
                    };
                    if !linked(a) || !linked(b) {
                        continue;
                    }
                    let has = |s: &Side, al: &str, c: &str| match join {
                        _ if al == "c" => s.has(table, c),
                        Some(j) if j.alias == al => s.has(j.table, c),
                        _ => false,
                    };
                    let cols: Vec<usize> = (0..columns.len()).filter(|&i| has(a, columns[i].0, columns[i].1) && has(b, columns[i].0, columns[i].1)).collect();
                    if !cols.is_empty() {
                        fields.push(Planned { field: *f, columns: cols });
                    }
                }
            }
        }
        Some(Plan { view, fields })
    }

    /// The `SELECT` for one side: key parts, then one column per field, ordered by the key.
    /// Child rows are aggregated per parent in derived tables joined by key (one pass over each
    /// child table), or by a correlated subquery per object where the engine does that better
    /// ([`Dialect::correlated_aggregates`]).
    pub fn sql(&self, s: &Side) -> Option<String> {
        let from = self.view.from;
        let d = s.dialect;
        let mut select = Vec::new();
        let mut order = Vec::new();
        let mut joins = s.joins_sql(from)?;
        for k in self.view.key {
            let table = from.iter().find(|j| j.alias == k.alias).map(|j| j.table).unwrap_or_default();
            let expr = if s.has(table, k.column) { s.col(from, k.alias, k.column) } else { d.literal(k.default.unwrap_or("")) };
            order.push(d.text_order(&expr));
            select.push(expr);
        }
        for (n, p) in self.fields.iter().enumerate() {
            select.push(match p.field {
                Field::Col { alias, column, .. } => s.col(from, alias, column),
                Field::Agg { table, .. } if s.size(table) == Size::Empty => d.literal(""),
                Field::Agg { table, on, join, columns, .. } => {
                    let child = s.table(table)?;
                    let mut all = vec![Join { table, alias: "c", on: &[], left: false }];
                    let mut sub_from = format!("{} c", d.table(child));
                    if let Some(j) = join {
                        all.push(j);
                        let conds: Vec<String> = j.on.iter().map(|(c, a2, c2)| format!("{} = {}", s.col(&all, j.alias, c), s.col(&all, a2, c2))).collect();
                        sub_from.push_str(&format!(" JOIN {} {} ON {}", d.table(s.table(j.table)?), j.alias, conds.join(" AND ")));
                    }
                    let exprs: Vec<String> = p.columns.iter().map(|&i| s.col(&all, columns[i].0, columns[i].1)).collect();
                    let (fk, parent) = (s.col(&all, "c", on.0), s.col(from, on.1, on.2));
                    if d.correlated_aggregates() && s.size(table) == Size::Large {
                        format!("(SELECT {} FROM {sub_from} WHERE {fk} = {parent})", d.agg_tuples(&exprs))
                    } else {
                        let alias = format!("a{n}");
                        joins.push_str(&format!(
                            " LEFT JOIN (SELECT {fk} AS k, {} AS v FROM {sub_from} GROUP BY {fk}) {alias} ON {alias}.k = {parent}",
                            d.agg_tuples(&exprs)
                        ));
                        format!("{alias}.v")
                    }
                }
            });
        }
        Some(format!("SELECT {} FROM {joins} ORDER BY {}", select.join(", "), order.join(", ")))
    }

    /// Child tables whose emptiness changes the SQL.
    pub fn child_tables(&self) -> Vec<&'static str> {
        self.fields.iter().filter_map(|p| if let Field::Agg { table, .. } = p.field { Some(table) } else { None }).collect()
    }
}

/// Decodes an aggregate of [`Dialect::agg_tuples`]: tuples separated by `,`, elements by `:`,
/// each element hex of its UTF-8 bytes or `-` for NULL. The tuples come back sorted.
pub fn decode_tuples(s: &str) -> Option<Vec<Vec<Option<String>>>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    let mut out: Vec<Vec<Option<String>>> = s
        .split(',')
        .map(|t| t.split(':').map(|e| if e == "-" { Some(None) } else { unhex(e).map(Some) }).collect::<Option<Vec<_>>>())
        .collect::<Option<Vec<_>>>()?;
    out.sort();
    Some(out)
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut bytes = Vec::with_capacity(s.len() / 2);
    for pair in s.as_bytes().chunks_exact(2) {
        bytes.push(digit(pair[0])? << 4 | digit(pair[1])?);
    }
    Some(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// The normalised form of a value.
pub fn normalize(norm: Norm, v: Option<String>) -> Option<String> {
    let v = v?;
    Some(match norm {
        Norm::Text => v,
        Norm::Bool => match v.as_str() {
            "\u{1}" | "1" | "t" | "true" | "TRUE" | "Y" => "true".into(),
            "\u{0}" | "0" | "f" | "false" | "FALSE" | "N" => "false".into(),
            _ => v,
        },
        Norm::Float => v.trim().parse::<f64>().map(|f| f.to_string()).unwrap_or(v),
        Norm::Timestamp => {
            let t = v.trim();
            let t = t.strip_suffix("+00:00").or_else(|| t.strip_suffix("+00")).unwrap_or(t);
            match t.split_once('.') {
                Some((whole, frac)) => {
                    let frac = frac.trim_end_matches('0');
                    if frac.is_empty() {
                        whole.to_string()
                    } else {
                        format!("{whole}.{frac}")
                    }
                }
                None => t.to_string(),
            }
        }
        Norm::Json => serde_json::from_str::<serde_json::Value>(&v).map(|j| j.to_string()).unwrap_or(v),
        Norm::Secret => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_decode_sorted_with_nulls() {
        let t = decode_tuples("62:32,61:-,61:").unwrap();
        assert_eq!(t, vec![vec![Some("a".into()), None], vec![Some("a".into()), Some("".into())], vec![Some("b".into()), Some("2".into())]]);
        assert_eq!(decode_tuples("").unwrap(), Vec::<Vec<Option<String>>>::new());
        assert!(decode_tuples("6").is_none());
        assert_eq!(decode_tuples("C3BC").unwrap(), vec![vec![Some("ü".into())]]);
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize(Norm::Bool, Some("\u{1}".into())).as_deref(), Some("true"));
        assert_eq!(normalize(Norm::Bool, Some("f".into())).as_deref(), Some("false"));
        assert_eq!(normalize(Norm::Float, Some("1.50".into())).as_deref(), Some("1.5"));
        assert_eq!(normalize(Norm::Float, Some("1e300".into())), normalize(Norm::Float, Some("1.0E+300".into())));
        assert_eq!(normalize(Norm::Text, None), None);
        assert_eq!(normalize(Norm::Timestamp, Some("2026-01-01 00:00:00.500000+00".into())), normalize(Norm::Timestamp, Some("2026-01-01 00:00:00.5".into())));
        assert_eq!(normalize(Norm::Timestamp, Some("2026-01-01 00:00:00.000000".into())).as_deref(), Some("2026-01-01 00:00:00"));
        assert_eq!(normalize(Norm::Json, Some("{\"b\": 1, \"a\": [1, 2]}".into())).as_deref(), Some("{\"a\":[1,2],\"b\":1}"));
    }
}
