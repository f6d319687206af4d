//! How a replica of a system with a standby mode stays passive while changes stream into it.

use tandem_engine::rowcodec::Field;
use tandem_engine::TableDef;

/// A column that a passive standby holds at its passive value in every row of one table, while
/// the value each row has at the source is remembered by the row's key in the system's standby
/// table, so that promote restores what was active at the source (Airflow: `dag.is_paused`,
/// held true, remembered in `tandem_standby`). The column's values are booleans: true is
/// passive.
#[derive(Debug, Clone)]
pub struct Passive {
    /// The table (a replicated one) and its key and passive columns, by name.
    pub table: String,
    pub key: String,
    pub column: String,
    /// The standby table (tandem-owned, keyed by the same key), as the replica holds it.
    pub record: TableDef,
    /// The standby table's row for a row of the table: from the row's key (as text) and whether
    /// the row is passive at the source. Fields in `record`'s column order, as text.
    pub remember: fn(key: &[u8], passive: bool) -> Vec<Field>,
}
