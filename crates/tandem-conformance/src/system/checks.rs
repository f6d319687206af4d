//! The checks of the system suite (see the module doc of [`crate::system`]).

use std::sync::Arc;

use tandem_core::{NoEvents, VerifyRequest, VerifySource};
use tandem_engine::{SnapshotOptions, TableDef};
use tandem_system::LocationMap;

use super::Case;
use crate::engine::{copy_database, read};

fn find<'t>(tables: &'t [TableDef], name: &str) -> Option<&'t TableDef> {
    tables.iter().find(|t| t.name.eq_ignore_ascii_case(name))
}

/// `1.2.10` → `[1, 2, 10]` (non-numeric parts end it), for comparing schema versions.
fn version_key(v: &str) -> Vec<u32> {
    v.split(['.', '-']).map_while(|p| p.parse().ok()).collect()
}

/// The system recognises its database with the layout's schema version; no other system but
/// the fallback does; recognition by the relations a target lists agrees.
pub async fn detect_recognises_the_layout(case: &Case) {
    let (_, url) = case.database().await;
    let snapshot = case.subject.engine.snapshot(&url, &SnapshotOptions::parallel(1)).await.expect("snapshot");
    let detected = case.system.detect(snapshot.as_ref()).await.expect("detect").unwrap_or_else(|| panic!("{}: not recognised", case.what()));
    assert_eq!(detected.name, case.system.name());
    match case.fixture.version_prefix() {
        Some(prefix) => {
            let v = detected.version.clone().unwrap_or_else(|| panic!("{}: no schema version", case.what()));
            assert!(version_key(&v).starts_with(&version_key(prefix)), "{}: version {v}", case.what());
            case.system.check_version(Some(&v)).expect("a supported version");
        }
        None => assert_eq!(detected.version.is_some(), case.system.version_column().is_some(), "{}: {detected:?}", case.what()),
    }
    let fallback = case.registry.fallback().name();
    for other in case.registry.systems().filter(|o| o.name() != case.system.name() && o.name() != fallback) {
        assert!(other.detect(snapshot.as_ref()).await.expect("detect").is_none(), "{}: {} claims it too", case.what(), other.name());
    }
    snapshot.close().await.expect("close");
    let relations = case.subject.engine.target(&url).await.expect("target").inspect().await.expect("inspect").relations;
    assert_eq!(case.registry.system_of(&relations).name(), case.system.name(), "{}: recognition by relations", case.what());
}

/// Every table the human summary counts exists in the layout.
pub async fn summary_tables_exist(case: &Case) {
    let (_, url) = case.database().await;
    let (schema, tables) = read(case.subject, &url).await.expect("read");
    for (label, table) in case.system.summary_tables() {
        let t = find(&schema.tables, table).unwrap_or_else(|| panic!("{}: summary {label}: no table {table}", case.what()));
        let rows = tables.iter().find(|c| c.def.name == t.name).map(|c| c.rows).unwrap_or_default();
        assert!(rows > 0 || case.fixture.version_prefix().is_none(), "{}: the sample fills {table}", case.what());
    }
}

/// Every location column (and its key column) exists in every layout from its `since` version
/// on, and not before it: restores rewrite what exists and skip what a layout lacks.
pub async fn location_columns_exist_from_their_version_on(case: &Case) {
    let (_, url) = case.database().await;
    let (schema, _) = read(case.subject, &url).await.expect("read");
    let version = case.fixture.version_prefix().map(version_key);
    for lc in case.system.location_columns() {
        let expected = match (lc.since, &version) {
            (Some(since), Some(v)) => *v >= version_key(since),
            _ => true,
        };
        let table = find(&schema.tables, lc.table);
        let column = table.and_then(|t| t.column(lc.column));
        assert_eq!(column.is_some(), expected, "{}: {}.{} (since {:?})", case.what(), lc.table, lc.column, lc.since);
        if let (Some(t), Some((key, _))) = (table, lc.only_keys) {
            assert!(t.column(key).is_some(), "{}: key column {}.{key}", case.what(), lc.table);
        }
    }
}

/// The fix-ups, run on a copy, do what they are for at the first run (the samples leave
/// something to fix) and change nothing at the second: every table byte-identical.
pub async fn fixups_are_idempotent(case: &Case) {
    let s = case.subject;
    let (_, src) = case.database().await;
    let (_, copy) = s.database("conf_fix");
    let (schema, _) = copy_database(s, &src, &copy).await.expect("copy");
    let mut changed = Vec::new();
    let mut states = Vec::new();
    let mut fixups = 0;
    for _ in 0..2 {
        let tx = s.engine.transaction(&copy).await.expect("transaction");
        let mut rows = 0;
        let statements = case.system.post_restore(&schema.tables, tx.dialect());
        fixups = statements.len();
        for f in statements {
            rows += tx.execute(&f.sql).await.unwrap_or_else(|e| panic!("{}: fix-up {:?} fails: {e}\n{}", case.what(), f.what, f.sql));
        }
        tx.commit().await.expect("commit");
        changed.push(rows);
        let (_, tables) = read(s, &copy).await.expect("read");
        states.push(tables.into_iter().map(|t| (t.def.name, t.data)).collect::<Vec<_>>());
    }
    if fixups > 0 {
        assert!(changed[0] > 0, "{}: the first run of {fixups} fix-ups changed nothing", case.what());
    }
    for ((name, a), (_, b)) in states[0].iter().zip(&states[1]) {
        assert!(a == b, "{}: a second run of the fix-ups changed table {name}", case.what());
    }
}

/// Every verify view renders and runs on the engine, a copy compares GOOD object by object (with
/// objects in the views the sample fills), and a changed object in the copy is reported.
pub async fn verify_views_compare_a_copy_as_good(case: &Case) {
    let s = case.subject;
    let (_, src) = case.database().await;
    let (_, copy) = s.database("conf_verify");
    copy_database(s, &src, &copy).await.expect("copy");
    let request = || VerifyRequest {
        source: VerifySource::Db { engine: s.engine, url: src.clone() },
        engine: s.engine,
        registry: case.registry,
        target: copy.clone(),
        locations: LocationMap::default(),
        max_differences: 5,
        keys: Default::default(),
        align: None,
    };
    let result = tandem_core::verify(request(), Arc::new(NoEvents)).await;
    let Some(change) = case.change else {
        assert!(case.system.verify_views().is_empty(), "{}: give the case a change", case.what());
        let e = result.expect_err("verify of a system without views");
        assert_eq!(e.kind(), tandem_error::Kind::Unsupported, "{e}");
        return;
    };
    let report = result.unwrap_or_else(|e| panic!("{}: verify: {e}", case.what()));
    assert!(report.equal, "{}: a copy differs: {:?}", case.what(), report.differences);
    let (schema, _) = read(s, &src).await.expect("read");
    for view in case.system.verify_views().iter().filter(|v| find(&schema.tables, v.from[0].table).is_some()) {
        assert!(report.kinds.iter().any(|k| k.kind == view.kind), "{}: view {} did not run: {:?}", case.what(), view.kind, report.kinds);
    }
    assert!(report.kinds.iter().filter(|k| k.good > 0).count() >= 3, "{}: the sample fills several kinds: {:?}", case.what(), report.kinds);
    let tx = s.engine.transaction(&copy).await.expect("transaction");
    let sql = change(tx.dialect());
    assert!(tx.execute(&sql).await.expect("change") > 0, "{sql}");
    tx.commit().await.expect("commit");
    let report = tandem_core::verify(request(), Arc::new(NoEvents)).await.expect("verify");
    assert!(!report.equal && report.differences_total > 0, "{}: `{sql}` went unnoticed", case.what());
}
