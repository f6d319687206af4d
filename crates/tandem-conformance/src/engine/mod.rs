//! The engine conformance suite: the contracts of [`tandem_engine::Engine`] and the objects it
//! returns, checked through the trait only against a real throwaway server.
//!
//! Each check is a function of one [`Subject`] (or two, for conversions between engines);
//! `tests/engines.rs` instantiates every check for every engine with [`engine_suite!`] and
//! [`cross_engine_suite!`].
//!
//! Most tables are created through the engine's own [`Engine::translate_schema`] from an
//! engine-neutral description ([`sample`]); what only the engine's own SQL can make (its native
//! column types, a collation) comes from its [`profile::Profile`].

mod changes;
mod checks;
mod dialect;
mod natives;
pub mod profile;
mod roles;
pub mod sample;

pub use changes::*;
pub use checks::*;
pub use dialect::*;
pub use natives::*;
pub use roles::*;

use async_trait::async_trait;
use bytes::Bytes;
use tandem_engine::{rowcodec, DbUrl, Engine, ForeignSchema, Replace, RowSink, SchemaDump, SnapshotOptions, TableDef, Value};
use tandem_error::Result;
use tandem_testkit::{Flavor, Server};

/// One engine under test, a throwaway server it speaks to and (for the engine suite) the
/// engine's native facts.
#[derive(Clone, Copy)]
pub struct Subject {
    pub engine: &'static dyn Engine,
    pub server: &'static Server,
    profile: Option<&'static profile::Profile>,
}

impl Subject {
    pub fn new(engine: &'static dyn Engine, flavor: Flavor) -> Subject {
        Subject { engine, server: Server::shared(flavor), profile: None }
    }

    /// The subject with the engine's native facts.
    pub fn with(self, profile: &'static profile::Profile) -> Subject {
        Subject { profile: Some(profile), ..self }
    }

    /// The engine's native facts (the suite lines name them).
    pub fn profile(&self) -> &'static profile::Profile {
        self.profile.unwrap_or_else(|| panic!("{}: no profile given", self.engine.name()))
    }

    /// A new empty database (its name starts with `prefix`) and its URL.
    pub fn database(&self, prefix: &str) -> (String, DbUrl) {
        let name = self.server.create_database(prefix);
        let url = self.url(&name);
        (name, url)
    }

    pub fn url(&self, db: &str) -> DbUrl {
        DbUrl::parse(&self.server.url(db)).expect("testkit URL parses")
    }

    /// Rows of `sql` run with the server's own client (tab-separated lines).
    pub fn sql(&self, db: &str, sql: &str) -> String {
        self.server.sql(db, sql)
    }
}

/// Collects what [`tandem_engine::Snapshot::copy_out`] hands over, buffer by buffer.
#[derive(Default)]
pub struct Collect {
    pub buffers: Vec<Bytes>,
}

#[async_trait]
impl RowSink for Collect {
    async fn write(&mut self, rows: Bytes) -> Result<()> {
        self.buffers.push(rows);
        Ok(())
    }
}

impl Collect {
    pub fn bytes(&self) -> Vec<u8> {
        self.buffers.concat()
    }
}

/// Creates `schema` in the empty database `url` with the engine's own translation, loads `rows`
/// (per table, in the schema's order) encoded by the engine, and commits. Returns the schema the
/// engine made.
pub async fn load(s: Subject, url: &DbUrl, schema: &ForeignSchema, rows: &[Vec<Vec<Value>>]) -> Result<SchemaDump> {
    let dump = s.engine.translate_schema(schema)?;
    let session = s.engine.target(url).await?.begin(&dump, Replace::Never).await?;
    for ((def, foreign), table_rows) in dump.tables.iter().zip(&schema.tables).zip(rows) {
        let data = encode_rows(s.engine, def, foreign.columns.iter().map(|c| &c.ty), table_rows)?;
        session.copy_in(def, Box::pin(futures::stream::iter([Ok(Bytes::from(data))]))).await?;
    }
    session.commit().await?;
    Ok(dump)
}

/// `rows` in the engine's row encoding for the columns of `def`.
pub fn encode_rows<'t>(
    engine: &dyn Engine,
    def: &TableDef,
    types: impl Iterator<Item = &'t tandem_engine::LogicalType> + Clone,
    rows: &[Vec<Value>],
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for row in rows {
        let mut fields = Vec::with_capacity(row.len());
        for ((col, ty), v) in def.columns.iter().zip(types.clone()).zip(row) {
            fields.push(match v {
                Value::Null => None,
                v => {
                    let mut buf = Vec::new();
                    engine.encode_value(col, ty, v, &mut buf)?;
                    Some(buf)
                }
            });
        }
        rowcodec::encode_row(engine.row_encoding(), &mut out, &fields);
    }
    Ok(out)
}

/// One table as a snapshot reads it: its definition and its rows' raw bytes.
pub struct Copied {
    pub def: TableDef,
    pub data: Vec<u8>,
    pub rows: u64,
}

/// Reads every table of the database `url` through a snapshot: the schema and each table's
/// copied rows.
pub async fn read(s: Subject, url: &DbUrl) -> Result<(SchemaDump, Vec<Copied>)> {
    let snapshot = s.engine.snapshot(url, &SnapshotOptions::parallel(1)).await?;
    let schema = snapshot.schema().clone();
    let mut tables = Vec::new();
    for def in &schema.tables {
        let mut sink = Collect::default();
        let rows = snapshot.copy_out(def, &mut sink).await?;
        tables.push(Copied { def: def.clone(), data: sink.bytes(), rows });
    }
    snapshot.close().await?;
    Ok((schema, tables))
}

/// Copies the database `src` into the empty database `dst` as a same-engine restore does: the
/// snapshot's own schema and raw rows, committed in one step.
pub async fn copy_database(s: Subject, src: &DbUrl, dst: &DbUrl) -> Result<(SchemaDump, Vec<Copied>)> {
    let (schema, tables) = read(s, src).await?;
    let session = s.engine.target(dst).await?.begin(&schema, Replace::Never).await?;
    for t in &tables {
        let n = session.copy_in(&t.def, Box::pin(futures::stream::iter([Ok(Bytes::from(t.data.clone()))]))).await?;
        assert_eq!(n, t.rows, "copy_in counts the rows of {}", t.def.name);
    }
    session.commit().await?;
    Ok((schema, tables))
}

/// The rows of a copied table decoded by its engine into neutral values, with the logical type
/// the engine names for each column (panics on a column without one: the sample has none).
pub fn decode(engine: &dyn Engine, t: &Copied) -> Result<Vec<Vec<Value>>> {
    let types: Vec<_> =
        t.def.columns.iter().map(|c| engine.logical_column(c).unwrap_or_else(|| panic!("{}: no logical type for {c:?}", engine.name())).ty).collect();
    let mut out = Vec::new();
    for row in rowcodec::decode_rows(engine.row_encoding(), &t.data)? {
        let mut values = Vec::with_capacity(row.len());
        for ((col, ty), field) in t.def.columns.iter().zip(&types).zip(row) {
            values.push(match field {
                None => Value::Null,
                Some(bytes) => engine.decode_value(col, ty, &bytes)?,
            });
        }
        out.push(values);
    }
    Ok(out)
}

/// Instantiates every single-engine check for one engine:
/// `engine_suite!(name, ENGINE, FLAVOR, PROFILE)` makes a module `name` with one test per check.
#[macro_export]
macro_rules! engine_suite {
    ($name:ident, $engine:expr, $flavor:expr, $profile:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::engine::*;
            fn subject() -> Subject {
                Subject::new(&$engine, $flavor).with(&$profile)
            }
            $crate::engine_suite!(@checks subject;
                every_logical_type_round_trips,
                native_types_restore_identically,
                native_types_have_their_logical_type,
                restore_of_a_snapshot_is_byte_identical,
                copy_out_emits_whole_rows,
                non_empty_target_is_refused,
                abort_and_drop_leave_the_target_unchanged,
                replace_swaps_the_content_at_commit,
                restore_gives_way_to_readers,
                guarded_replace_never_overwrites_a_lost_guard,
                replace_never_overwrites_an_active_site,
                applier_writes_only_into_a_standby,
                snapshot_is_consistent_and_positioned,
                transactions_commit_and_roll_back,
                id_generators_move_past_ids_written_with_their_rows,
                missing_database_and_unreachable_server,
                inspect_changes_nothing_and_drop_database_drops,
                dialect_literals_and_identifiers_run,
                dialect_text_order_is_code_point_order,
                dialect_agg_tuples_decode_back,
                change_events_carry_the_rows_a_snapshot_reads,
                a_capture_start_splits_rows_between_snapshot_and_stream,
                heartbeats_arrive_between_what_committed_before_and_after_them,
                applier_applies_a_batch_and_its_checkpoint_in_one_transaction);
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "engine bug: MariaDB INET6 and UUID columns do not restore into MariaDB (Warning 1292: Incorrect inet6 value: '::1')"]
            async fn native_types_with_a_known_bug_restore_identically() {
                $crate::engine::native_types_with_a_known_bug_restore_identically(subject()).await;
            }
        }
    };
    (@checks $subject:ident; $($check:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::engine::$check($subject()).await;
            }
        )+
    };
}

/// Instantiates the conversion checks from one engine into another:
/// `cross_engine_suite!(name, FROM, FROM_FLAVOR, FROM_PROFILE, TO, TO_FLAVOR, TO_PROFILE)`.
#[macro_export]
macro_rules! cross_engine_suite {
    ($name:ident, $from:expr, $from_flavor:expr, $from_profile:expr, $to:expr, $to_flavor:expr, $to_profile:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::engine::*;
            fn subjects() -> (Subject, Subject) {
                (Subject::new(&$from, $from_flavor).with(&$from_profile), Subject::new(&$to, $to_flavor).with(&$to_profile))
            }
            $crate::cross_engine_suite!(@checks subjects; every_logical_type_converts, every_native_type_converts);
        }
    };
    (@checks $subjects:ident; $($check:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (from, to) = $subjects();
                $crate::engine::$check(from, to).await;
            }
        )+
    };
}
