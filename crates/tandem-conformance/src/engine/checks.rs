//! The checks of the engine suite (see the module doc of [`crate::engine`]).

use bytes::Bytes;
use tandem_engine::{rowcodec, DbUrl, ForeignSchema, ForeignTable, Replace, SnapshotOptions, Value};
use tandem_error::{Hint, Kind};

use super::{decode, load, read, sample, Collect, Subject};

/// Loads the sample into a new database of `s`; returns its name and URL.
async fn sample_db(s: Subject, prefix: &str) -> (String, DbUrl) {
    let (name, url) = s.database(prefix);
    load(s, &url, &sample::schema(), &[sample::rows()]).await.unwrap_or_else(|e| panic!("{}: loading the sample: {e}", s.engine.name()));
    (name, url)
}

/// The sample's one table read back and decoded.
async fn read_sample(s: Subject, url: &DbUrl) -> Vec<Vec<Value>> {
    let (_, tables) = read(s, url).await.expect("read");
    assert_eq!(tables.len(), 1, "{}: the sample has one table", s.engine.name());
    decode(s.engine, &tables[0]).expect("decode")
}

/// Every logical type survives translate_schema → encode_value → copy_in → commit → snapshot →
/// copy_out → logical_column → decode_value within one engine, and each column is named with a
/// logical type of the same family (text stays text, numbers stay numbers).
pub async fn every_logical_type_round_trips(s: Subject) {
    let (_, url) = sample_db(s, "conf_types").await;
    let (_, tables) = read(s, &url).await.expect("read");
    for ((name, want), col) in sample::columns().iter().zip(&tables[0].def.columns) {
        assert_eq!(col.name, *name, "column order is kept");
        let got = s.engine.logical_column(col).unwrap_or_else(|| panic!("{name}: {} names no logical type for its own {:?}", s.engine.name(), col.sql_type)).ty;
        assert_eq!(got.is_text(), want.is_text(), "{name}: {want:?} came back as {got:?} ({})", col.sql_type);
    }
    sample::assert_same(s.engine.name(), &sample::rows(), &decode(s.engine, &tables[0]).expect("decode"));
}

/// A same-engine restore of a snapshot's own schema and raw rows gives back the same bytes; a
/// plain schema (tables, keys, nothing exotic) has nothing in `skipped`.
pub async fn restore_of_a_snapshot_is_byte_identical(s: Subject) {
    let (_, src) = sample_db(s, "conf_src").await;
    let (_, dst) = s.database("conf_dst");
    let (schema, tables) = super::copy_database(s, &src, &dst).await.expect("copy");
    assert!(schema.skipped.is_empty(), "{}: a plain schema skips nothing: {:?}", s.engine.name(), schema.skipped);
    let (again, copied) = read(s, &dst).await.expect("read the copy");
    assert_eq!(again.tables, schema.tables, "the copy has the same tables");
    for (a, b) in tables.iter().zip(&copied) {
        assert!(a.data == b.data, "{}: table {} differs after a restore into the same engine", s.engine.name(), a.def.name);
    }
}

/// Every buffer copy_out hands to the sink ends with a whole row, also for rows of megabytes;
/// the count returned is the number of rows.
pub async fn copy_out_emits_whole_rows(s: Subject) {
    let (_, url) = s.database("conf_rows");
    let mut schema = sample::schema();
    let table = &mut schema.tables[0];
    table.def.columns.truncate(1);
    table.columns.truncate(1);
    table.def.columns.push(tandem_engine::ColumnDef { name: "tx".into(), nullable: true, ..Default::default() });
    table.columns.push(tandem_engine::LogicalColumn { ty: tandem_engine::LogicalType::Text, default: None });
    let big = "0123456789abcdef".repeat(200_000); // 3.2 MB
    let mut rows: Vec<Vec<Value>> = (0..6).map(|i| vec![Value::Text(i.to_string()), Value::Text(format!("{i}{big}"))]).collect();
    rows.extend((6..3000).map(|i| vec![Value::Text(i.to_string()), Value::Text(format!("{i}{}", sample::AWKWARD))]));
    rows.push(vec![Value::Text("3000".into()), Value::Null]);
    load(s, &url, &schema, &[rows.clone()]).await.expect("load");
    let snapshot = s.engine.snapshot(&url, &SnapshotOptions::default()).await.expect("snapshot");
    let def = snapshot.schema().tables[0].clone();
    let mut sink = Collect::default();
    let n = snapshot.copy_out(&def, &mut sink).await.expect("copy_out");
    snapshot.close().await.expect("close");
    assert!(sink.buffers.len() > 1, "{}: 20 MB came in one buffer", s.engine.name());
    for (i, b) in sink.buffers.iter().enumerate() {
        assert_eq!(b.last(), Some(&b'\n'), "{}: buffer {i} of {} does not end with a whole row", s.engine.name(), sink.buffers.len());
        rowcodec::decode_rows(s.engine.row_encoding(), b).unwrap_or_else(|e| panic!("buffer {i} holds broken rows: {e}"));
    }
    let decoded = rowcodec::decode_rows(s.engine.row_encoding(), &sink.bytes()).expect("decode");
    assert_eq!((n, decoded.len()), (rows.len() as u64, rows.len()));
    assert!(decoded.iter().any(|r| r[1].is_none()), "NULL survives");
}

/// `begin` without replace refuses a non-empty target (Conflict, with the replace hint) and
/// leaves it as it was.
pub async fn non_empty_target_is_refused(s: Subject) {
    let (name, url) = sample_db(s, "conf_full").await;
    let before = read_sample(s, &url).await;
    let target = s.engine.target(&url).await.expect("target");
    let relations = target.inspect().await.expect("inspect").relations;
    assert_eq!(relations.len(), 1, "{relations:?}");
    let dump = s.engine.translate_schema(&sample::schema()).expect("translate");
    let e = target.begin(&dump, Replace::Never).await.err().expect("a non-empty target must be refused");
    assert_eq!((e.kind(), e.hint()), (Kind::Conflict, Some(Hint::ReplaceTarget)), "{e}");
    assert!(e.to_string().contains(&name), "the error names the database: {e}");
    assert_eq!(target.inspect().await.expect("inspect").relations, relations);
    assert_eq!(read_sample(s, &url).await, before);
}

/// Rows loaded into a session that is aborted, or dropped without commit, never become visible:
/// the target keeps its old content.
pub async fn abort_and_drop_leave_the_target_unchanged(s: Subject) {
    let (_, url) = sample_db(s, "conf_keep").await;
    let before = read_sample(s, &url).await;
    let other = other_schema();
    let dump = s.engine.translate_schema(&other).expect("translate");
    for drop_it in [false, true] {
        let target = s.engine.target(&url).await.expect("target");
        let session = target.begin(&dump, Replace::Always).await.expect("begin");
        let data =
            super::encode_rows(s.engine, &dump.tables[0], other.tables[0].columns.iter().map(|c| &c.ty), &[vec![Value::Text("9".into())]]).expect("encode");
        session.copy_in(&dump.tables[0], Box::pin(futures::stream::iter([Ok(Bytes::from(data))]))).await.expect("copy_in");
        match drop_it {
            false => session.abort().await.expect("abort"),
            true => drop(session),
        }
        let relations = s.engine.target(&url).await.expect("target").inspect().await.expect("inspect").relations;
        assert_eq!(relations.len(), 1, "{}: after {}: {relations:?}", s.engine.name(), if drop_it { "drop" } else { "abort" });
        assert!(relations[0].ends_with("kinds"), "{relations:?}");
        assert_eq!(read_sample(s, &url).await, before);
    }
}

/// With replace, the old content is replaced by the new one at commit, in one step.
pub async fn replace_swaps_the_content_at_commit(s: Subject) {
    let (_, url) = sample_db(s, "conf_swap").await;
    let other = other_schema();
    let dump = s.engine.translate_schema(&other).expect("translate");
    let session = s.engine.target(&url).await.expect("target").begin(&dump, Replace::Always).await.expect("begin");
    let data = super::encode_rows(s.engine, &dump.tables[0], other.tables[0].columns.iter().map(|c| &c.ty), &[vec![Value::Text("9".into())]]).expect("encode");
    session.copy_in(&dump.tables[0], Box::pin(futures::stream::iter([Ok(Bytes::from(data))]))).await.expect("copy_in");
    let during = s.engine.target(&url).await.expect("target").inspect().await.expect("inspect").relations;
    assert!(during.len() == 1 && during[0].ends_with("kinds"), "nothing new is visible before commit: {during:?}");
    session.commit().await.expect("commit");
    let (_, tables) = read(s, &url).await.expect("read");
    let names: Vec<&str> = tables.iter().map(|t| t.def.name.as_str()).collect();
    assert_eq!(names, ["other"], "{}: the old content is gone, the new one is there", s.engine.name());
    assert_eq!(tables[0].rows, 1);
}

/// A guarded replace ([`Replace::IfHolds`]) never replaces content that lost its guard table
/// before the replacement: without the guard the target is refused (Conflict) and kept; when
/// another session drops the guard while the restore runs, either the restore fails (Conflict)
/// and the drop stands, or the drop waits for the restore's commit (it comes after).
pub async fn guarded_replace_never_overwrites_a_lost_guard(s: Subject) {
    let other = other_schema();
    let dump = s.engine.translate_schema(&other).expect("translate");
    let data = super::encode_rows(s.engine, &dump.tables[0], other.tables[0].columns.iter().map(|c| &c.ty), &[vec![Value::Text("9".into())]]).expect("encode");
    let load = |session: Box<dyn tandem_engine::RestoreSession>| {
        let (table, data) = (dump.tables[0].clone(), Bytes::from(data.clone()));
        async move {
            session.copy_in(&table, Box::pin(futures::stream::iter([Ok(data)]))).await?;
            session.commit().await
        }
    };
    let names = |url: DbUrl| async move { read(s, &url).await.expect("read").1.iter().map(|t| t.def.name.clone()).collect::<Vec<_>>() };

    let (_, url) = sample_db(s, "conf_guard").await;
    let attempt = async { load(s.engine.target(&url).await?.begin(&dump, Replace::IfHolds("absent".into())).await?).await };
    let e = attempt.await.err().unwrap_or_else(|| panic!("{}: a replace guarded by a missing table went through", s.engine.name()));
    assert_eq!(e.kind(), Kind::Conflict, "{e}");
    assert!(e.to_string().contains("absent"), "the error names the guard: {e}");
    assert_eq!(names(url.clone()).await, ["kinds"], "the target keeps its content");

    let (_, url) = sample_db(s, "conf_guard_race").await;
    let session = s.engine.target(&url).await.expect("target").begin(&dump, Replace::IfHolds("kinds".into())).await.expect("begin");
    let dropper = tokio::spawn({
        let url = url.clone();
        async move {
            let tx = s.engine.transaction(&url).await?;
            let dropped = tx.ddl("DROP TABLE kinds").await;
            let at = std::time::Instant::now();
            tx.commit().await?;
            Ok::<_, tandem_error::Error>((dropped.is_ok(), at))
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let committing = std::time::Instant::now();
    let committed = load(session).await;
    let (dropped, dropped_at) = tokio::time::timeout(std::time::Duration::from_secs(30), dropper).await.expect("the drop ends").expect("join").expect("drop");
    match committed {
        Err(e) => {
            assert_eq!(e.kind(), Kind::Conflict, "{e}");
            assert!(dropped, "the restore failed though the guard was not dropped: {e}");
            assert!(names(url).await.is_empty(), "the drop stands, nothing was replaced");
        }
        Ok(()) => {
            assert!(!dropped || dropped_at >= committing, "{}: the restore replaced content whose guard was dropped before", s.engine.name());
            assert_eq!(names(url).await, ["other"]);
        }
    }
}

/// A replacing restore gives way to readers: while a reader's open transaction holds the target's
/// tables, a new reader still gets its answer within seconds (it does not queue forever behind
/// the restore's wait, which would wedge a client reading on two connections), and the restore
/// completes once the first reader ends.
pub async fn restore_gives_way_to_readers(s: Subject) {
    let (_, url) = sample_db(s, "conf_busy").await;
    let count = "SELECT COUNT(*) FROM kinds";
    let holder = s.engine.transaction(&url).await.expect("transaction");
    assert_eq!(holder.query(count).await.expect("read")[0][0].as_deref(), Some("3"));
    let restore = tokio::spawn({
        let url = url.clone();
        async move {
            let other = other_schema();
            let dump = s.engine.translate_schema(&other)?;
            let session = s.engine.target(&url).await?.begin(&dump, Replace::Always).await?;
            let data = super::encode_rows(s.engine, &dump.tables[0], other.tables[0].columns.iter().map(|c| &c.ty), &[vec![Value::Text("9".into())]])?;
            session.copy_in(&dump.tables[0], Box::pin(futures::stream::iter([Ok(Bytes::from(data))]))).await?;
            session.commit().await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let reader = s.engine.transaction(&url).await.expect("transaction");
    let answer = tokio::time::timeout(std::time::Duration::from_secs(15), reader.query(count)).await;
    let answer = answer.unwrap_or_else(|_| panic!("{}: a reader queued behind the restore for 15 s", s.engine.name()));
    assert_eq!(answer.expect("read")[0][0].as_deref(), Some("3"), "the old content until the restore commits");
    reader.rollback().await.expect("rollback");
    holder.rollback().await.expect("rollback");
    tokio::time::timeout(std::time::Duration::from_secs(60), restore).await.expect("the restore finishes").expect("join").expect("restore");
    let (_, tables) = read(s, &url).await.expect("read");
    assert_eq!(tables.iter().map(|t| t.def.name.as_str()).collect::<Vec<_>>(), ["other"]);
}

/// A snapshot does not see rows committed after it was opened (by any of its readers), and it
/// records a log position of the engine's kind ([`Profile::position`](super::profile::Profile)).
pub async fn snapshot_is_consistent_and_positioned(s: Subject) {
    let (name, url) = sample_db(s, "conf_snap").await;
    let snapshot = s.engine.snapshot(&url, &SnapshotOptions::parallel(2)).await.expect("snapshot");
    s.sql(&name, "INSERT INTO kinds (id) VALUES (100); INSERT INTO kinds (id) VALUES (101);");
    let def = snapshot.schema().tables[0].clone();
    for _ in 0..2 {
        let n = snapshot.copy_out(&def, &mut Collect::default()).await.expect("copy_out");
        assert_eq!(n, 3, "{}: a snapshot saw rows committed after it", s.engine.name());
    }
    let info = snapshot.info().clone();
    snapshot.close().await.expect("close");
    assert_eq!(info.engine, s.engine.name());
    assert_eq!(info.row_encoding, s.engine.row_encoding());
    assert!(info.position.kind == s.profile().position && !info.position.value.is_empty(), "the test servers keep a log: {:?}", info.position);
    assert_eq!(read_sample(s, &url).await.len(), 5, "a new snapshot sees them");
}

/// A transaction's writes are visible after commit and gone after rollback or drop.
pub async fn transactions_commit_and_roll_back(s: Subject) {
    let (_, url) = sample_db(s, "conf_tx").await;
    let count = |url: DbUrl| async move {
        let tx = s.engine.transaction(&url).await.expect("transaction");
        let rows = tx.query("SELECT COUNT(*) FROM kinds").await.expect("query");
        tx.rollback().await.expect("rollback");
        rows[0][0].clone().expect("a count")
    };
    let tx = s.engine.transaction(&url).await.expect("transaction");
    assert_eq!(tx.execute("INSERT INTO kinds (id) VALUES (10)").await.expect("insert"), 1);
    tx.rollback().await.expect("rollback");
    assert_eq!(count(url.clone()).await, "3", "rollback discards");
    let tx = s.engine.transaction(&url).await.expect("transaction");
    tx.execute("INSERT INTO kinds (id) VALUES (11)").await.expect("insert");
    drop(tx);
    assert_eq!(count(url.clone()).await, "3", "drop discards");
    let tx = s.engine.transaction(&url).await.expect("transaction");
    tx.execute("INSERT INTO kinds (id) VALUES (12)").await.expect("insert");
    assert!(!tx.server_version().is_empty());
    tx.commit().await.expect("commit");
    assert_eq!(count(url.clone()).await, "4", "commit keeps");
}

/// Rows written with their ids (as a replica's are) leave no id generator behind them once
/// `advance_id_generators` ran: the next generated id follows the largest; a second run moves
/// nothing.
pub async fn id_generators_move_past_ids_written_with_their_rows(s: Subject) {
    let (name, url) = s.database("conf_ids");
    s.sql(&name, &format!("CREATE TABLE ids (id {}, v INT); INSERT INTO ids (id, v) VALUES (1, 0), (7, 0);", s.profile().generated_id));
    let tx = s.engine.transaction(&url).await.expect("transaction");
    tx.advance_id_generators().await.expect("advance");
    tx.execute("INSERT INTO ids (v) VALUES (1)").await.expect("a generated id");
    let max = tx.query("SELECT MAX(id) FROM ids").await.expect("query");
    tx.commit().await.expect("commit");
    assert_eq!(max[0][0].as_deref(), Some("8"), "{}: the generated id follows the largest written", s.engine.name());
    let tx = s.engine.transaction(&url).await.expect("transaction");
    assert_eq!(tx.advance_id_generators().await.expect("advance"), Vec::<String>::new(), "{}: nothing is behind any more", s.engine.name());
    tx.rollback().await.expect("rollback");
}

/// A missing database is BadInput for a snapshot and a transaction; a server that does not
/// answer is Unreachable for every way in.
pub async fn missing_database_and_unreachable_server(s: Subject) {
    let missing = s.url("conf_no_such_database");
    let e = s.engine.transaction(&missing).await.err().expect("no database");
    assert_eq!(e.kind(), Kind::BadInput, "{e}");
    let e = s.engine.snapshot(&missing, &SnapshotOptions::default()).await.err().expect("no database");
    assert_eq!(e.kind(), Kind::BadInput, "{e}");
    let mut closed = s.url("x");
    closed.port = Some(free_port());
    let e = s.engine.snapshot(&closed, &SnapshotOptions::default()).await.err().expect("closed port");
    assert_eq!(e.kind(), Kind::Unreachable, "snapshot: {e}");
    let e = s.engine.transaction(&closed).await.err().expect("closed port");
    assert_eq!(e.kind(), Kind::Unreachable, "transaction: {e}");
    let e = match s.engine.target(&closed).await {
        Err(e) => e,
        Ok(t) => t.inspect().await.expect_err("closed port"),
    };
    assert_eq!(e.kind(), Kind::Unreachable, "target: {e}");
    assert!(!e.to_string().contains(tandem_testkit::PASSWORD), "errors never show the password: {e}");
}

/// `inspect` of a missing database reports it empty and creates nothing; `drop_database` removes
/// a database and accepts a missing one.
pub async fn inspect_changes_nothing_and_drop_database_drops(s: Subject) {
    let name = format!("conf_absent_{}", std::process::id());
    let url = s.url(&name);
    let state = s.engine.target(&url).await.expect("target").inspect().await.expect("inspect");
    assert!(state.relations.is_empty() && !state.server_version.is_empty(), "{state:?}");
    assert!(s.server.try_sql(&name, "SELECT 1").is_err(), "inspect created {name}");
    s.engine.drop_database(&url).await.expect("dropping a missing database is fine");
    let (existing, url) = sample_db(s, "conf_drop").await;
    s.engine.drop_database(&url).await.expect("drop");
    assert!(s.server.try_sql(&existing, "SELECT 1").is_err(), "{existing} still exists");
}

/// A one-column table `other (id)`, the content that replaces the sample in the checks above.
pub(super) fn other_schema() -> ForeignSchema {
    let mut schema = sample::schema();
    let ForeignTable { def, columns, .. } = &mut schema.tables[0];
    def.name = "other".into();
    def.columns.truncate(1);
    columns.truncate(1);
    schema
}

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Values of every logical type survive a conversion from one engine to another as a
/// cross-engine restore does it: read and decoded by `from`, schema translated and values encoded
/// by `to`, read back and decoded by `to`.
pub async fn every_logical_type_converts(from: Subject, to: Subject) {
    let what = format!("{} -> {}", from.engine.name(), to.engine.name());
    let (_, src) = sample_db(from, "conf_from").await;
    let (_, _, got) = super::natives::convert(from, to, &src).await.unwrap_or_else(|e| panic!("{what}: {e}"));
    sample::assert_same(&what, &sample::rows(), &got);
}
