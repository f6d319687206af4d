//! Checks of change capture ([`tandem_engine::changes`]): what a stream delivers is what a
//! snapshot reads, and an applier writes a batch and its checkpoint all-or-nothing.

use std::time::Duration;

use chrono::Utc;
use tandem_engine::changes::{Capture, ChangeEvent, ChangeStream, Checkpoint, RowOp, SourceTransaction, TargetChange, PART_ROWS};
use tandem_engine::{rowcodec, DbUrl, Position, Scope, SnapshotOptions, TableDef};
use tandem_error::Kind;

use super::profile::Native;
use super::{encode_rows, load, read, sample, Subject};

/// The next committed transaction of `stream` (heartbeats skipped); panics after 30 s.
async fn next_commit(s: Subject, stream: &mut dyn ChangeStream) -> SourceTransaction {
    match next_event(s, stream).await {
        ChangeEvent::Commit(t) => t,
        other => panic!("{}: expected a transaction, got {other:?}", s.engine.name()),
    }
}

async fn next_event(s: Subject, stream: &mut dyn ChangeStream) -> ChangeEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = tokio::time::timeout(left, stream.next()).await;
        match event.unwrap_or_else(|_| panic!("{}: no change event within 30 s", s.engine.name())) {
            Ok(ChangeEvent::Idle { .. }) => continue,
            Ok(e) => return e,
            Err(e) => panic!("{}: the change stream failed: {e}", s.engine.name()),
        }
    }
}

/// The encoded rows of a snapshot's copy of `natives`, one per row.
async fn snapshot_rows(s: Subject, url: &DbUrl) -> (TableDef, Vec<Vec<u8>>) {
    let (_, tables) = read(s, url).await.expect("read");
    let t = tables.iter().find(|t| t.def.name == "natives").expect("table natives");
    let rows = t.data.split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    (t.def.clone(), rows)
}

/// The capture a check streams through (a slot and publication on PostgreSQL; slot names are
/// the server's, so each check has its own).
fn capture(check: &str) -> Capture {
    Capture::new(check, "conformance", None)
}

/// A snapshot at the start of a replica's stream (the engine's capture start, when it makes
/// one) and its position.
async fn capture_start(s: Subject, url: &DbUrl) -> (Box<dyn tandem_engine::Snapshot>, Position) {
    let start =
        s.engine.begin_capture(url, &capture(&url.database), &Scope::default()).await.unwrap_or_else(|e| panic!("{}: begin_capture: {e}", s.engine.name()));
    let opts = SnapshotOptions { parallelism: 1, import: start.as_ref().map(|s| s.snapshot.clone()) };
    let snapshot = s.engine.snapshot(url, &opts).await.expect("snapshot");
    let position = snapshot.info().position.clone();
    if let Some(start) = start {
        assert_eq!(position, start.snapshot.position, "{}: the snapshot reads at the capture's start", s.engine.name());
    }
    (snapshot, position)
}

/// A row committed after a capture's start but before its snapshot opens is in exactly one of
/// them: in the snapshot, or first in the stream (no gap, no overlap).
pub async fn a_capture_start_splits_rows_between_snapshot_and_stream(s: Subject) {
    if !s.profile().changes {
        return;
    }
    let (name, url) = s.database("conf_cdc_start");
    s.sql(&name, "CREATE TABLE t (id INT PRIMARY KEY)");
    let start = s.engine.begin_capture(&url, &capture(&name), &Scope::default()).await.expect("begin_capture");
    s.sql(&name, "INSERT INTO t VALUES (1)");
    let opts = SnapshotOptions { parallelism: 1, import: start.as_ref().map(|s| s.snapshot.clone()) };
    let snapshot = s.engine.snapshot(&url, &opts).await.expect("snapshot");
    drop(start);
    let def = snapshot.schema().tables.iter().find(|t| t.name == "t").expect("table t").clone();
    let mut sink = super::Collect::default();
    snapshot.copy_out(&def, &mut sink).await.expect("copy_out");
    let in_snapshot = !sink.bytes().is_empty();
    let position = snapshot.info().position.clone();
    snapshot.close().await.expect("close");
    s.sql(&name, "INSERT INTO t VALUES (2)");
    let mut stream = s.engine.changes(&url, &position, std::slice::from_ref(&def), &capture(&url.database)).await.expect("open the change stream");
    let mut streamed = Vec::new();
    while !streamed.contains(&"2".to_string()) {
        for c in next_commit(s, stream.as_mut()).await.changes {
            let row = rowcodec::decode_rows(s.engine.row_encoding(), c.after.as_deref().unwrap_or_default()).expect("decode");
            streamed.push(String::from_utf8_lossy(row[0][0].as_deref().unwrap_or_default()).into_owned());
        }
    }
    stream.close().await.expect("close");
    let want: Vec<String> = if in_snapshot { vec!["2".into()] } else { vec!["1".into(), "2".into()] };
    assert_eq!(streamed, want, "{}: row 1 in the snapshot: {in_snapshot}; the stream delivered {streamed:?}", s.engine.name());
}

/// A heartbeat ([`tandem_engine::Engine::heartbeat`]) reaches its replication's stream after
/// every transaction committed before it and before those committed after it, with the time it
/// was written; another replication's heartbeats are not delivered. Making the heartbeat's
/// place at the source is no schema change of the replicated database.
pub async fn heartbeats_arrive_between_what_committed_before_and_after_them(s: Subject) {
    if !s.profile().changes {
        return;
    }
    let (name, url) = s.database("conf_cdc_beat");
    s.sql(&name, "CREATE TABLE t (id INT PRIMARY KEY)");
    let (snapshot, position) = capture_start(s, &url).await;
    let def = snapshot.schema().tables.iter().find(|t| t.name == "t").expect("table t").clone();
    snapshot.close().await.expect("close");
    let ours = capture(&url.database);
    let mut mine = s.engine.heartbeat(&url, &ours).await.unwrap_or_else(|e| panic!("{}: heartbeat: {e}", s.engine.name()));
    let mut theirs = s.engine.heartbeat(&url, &capture("another_replica")).await.expect("another replication's heartbeat");
    s.sql(&name, "INSERT INTO t VALUES (1)");
    let at = chrono::DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).expect("now");
    theirs.beat(at - chrono::Duration::seconds(1)).await.expect("their beat");
    mine.beat(at).await.expect("my beat");
    s.sql(&name, "INSERT INTO t VALUES (2)");
    let mut stream = s.engine.changes(&url, &position, std::slice::from_ref(&def), &ours).await.expect("open the change stream");
    let (mut seen, mut commits) = (Vec::new(), 0);
    while commits < 2 {
        match next_event(s, stream.as_mut()).await {
            ChangeEvent::Commit(_) => {
                commits += 1;
                seen.push(format!("commit {commits}"));
            }
            ChangeEvent::Heartbeat { at: beat, .. } if beat == at => seen.push("my beat".into()),
            // A first beat of the heartbeat's opening may come before.
            ChangeEvent::Heartbeat { at: beat, .. } => {
                assert!(beat != at - chrono::Duration::seconds(1) && beat < at, "{}: a beat of another replication was delivered ({beat})", s.engine.name())
            }
            other => panic!("{}: unexpected {other:?}", s.engine.name()),
        }
    }
    for h in [mine, theirs] {
        h.close().await.expect("close the heartbeat");
    }
    stream.close().await.expect("close");
    assert_eq!(seen, ["commit 1", "my beat", "commit 2"], "{}", s.engine.name());
}

/// Every native type inserted, updated and deleted after a snapshot reaches a stream opened at
/// the snapshot's position as whole transactions in commit order, each row image byte for byte
/// what `copy_out` reads (the row before an update or delete: its key at least); a transaction
/// too large to hold comes in parts; a schema change ends the stream at the table's next change
/// at the latest. An engine without change capture refuses to open a stream (BadInput).
pub async fn change_events_carry_the_rows_a_snapshot_reads(s: Subject) {
    let natives: Vec<Native> = s.profile().mapped.iter().chain(s.profile().unmapped).copied().collect();
    let (name, url) = s.database("conf_cdc");
    let columns: String = natives.iter().enumerate().map(|(i, (ty, _))| format!(", c{i} {ty}")).collect();
    s.sql(&name, &format!("CREATE TABLE natives (id INT PRIMARY KEY{columns}); CREATE TABLE wide (id INT PRIMARY KEY)"));
    if !s.profile().changes {
        let position = Position { kind: s.profile().position, value: "0".into(), gtid: None };
        let e = s.engine.changes(&url, &position, &[], &capture(&url.database)).await.err().expect("an engine without change capture refuses");
        assert_eq!(e.kind(), Kind::BadInput, "{e}");
        return;
    }
    let (snapshot, position) = capture_start(s, &url).await;
    snapshot.close().await.expect("close");
    let rows = natives.iter().map(|(_, values)| values.len()).max().unwrap_or(0) + 1;
    let mut sql = String::from("BEGIN;\n");
    for row in 0..rows {
        let values: String = natives.iter().map(|(_, values)| format!(", {}", values.get(row).unwrap_or(&"NULL"))).collect();
        sql.push_str(&format!("INSERT INTO natives VALUES ({}{values});\n", row + 1));
    }
    sql.push_str("COMMIT;");
    s.sql(&name, &sql);
    let (def, copied) = snapshot_rows(s, &url).await;
    s.sql(&name, "UPDATE natives SET id = 100 WHERE id = 1; DELETE FROM natives WHERE id = 2;");

    let mut stream = s.engine.changes(&url, &position, std::slice::from_ref(&def), &capture(&url.database)).await.expect("open the change stream");
    let inserted = next_commit(s, stream.as_mut()).await;
    assert_eq!(inserted.changes.len(), rows, "{}: one insert per row, in one transaction", s.engine.name());
    for (n, c) in inserted.changes.iter().enumerate() {
        assert_eq!((c.table, c.op), (0, RowOp::Insert));
        let image = c.after.as_deref().unwrap_or_default();
        assert!(
            image == copied[n].as_slice(),
            "{}: row {}: the event carries {:?}, the snapshot reads {:?}",
            s.engine.name(),
            n + 1,
            String::from_utf8_lossy(image),
            String::from_utf8_lossy(&copied[n])
        );
    }
    let decode = |image: &[u8]| rowcodec::decode_rows(s.engine.row_encoding(), image).expect("decode").remove(0);
    let updated = next_commit(s, stream.as_mut()).await;
    let u = &updated.changes[..];
    assert!(u.len() == 1 && u[0].op == RowOp::Update, "{u:?}");
    let before = decode(&copied[0]);
    match s.profile().whole_before {
        true => assert!(u[0].before.as_deref() == Some(copied[0].as_slice()), "{}: the row before the update", s.engine.name()),
        false => assert_eq!(decode(u[0].before.as_deref().unwrap_or_default())[0], before[0], "{}: the key before the update", s.engine.name()),
    }
    let after = decode(u[0].after.as_deref().unwrap_or_default());
    assert_eq!(after[0].as_deref(), Some(&b"100"[..]));
    assert_eq!(after[1..], before[1..], "{}: only the id changed", s.engine.name());
    let deleted = next_commit(s, stream.as_mut()).await;
    let d = &deleted.changes[..];
    assert!(d.len() == 1 && d[0].op == RowOp::Delete, "{d:?}");
    assert_eq!(decode(d[0].before.as_deref().unwrap_or_default())[0], decode(&copied[1])[0], "{}: the key of the deleted row", s.engine.name());
    assert!(inserted.position != updated.position && updated.position != deleted.position, "every transaction moves the position");
    stream.close().await.expect("close");

    // A stream opened at a transaction's position starts with the next one.
    let mut resumed = s.engine.changes(&url, &inserted.position, std::slice::from_ref(&def), &capture(&url.database)).await.expect("reopen");
    let again = next_commit(s, resumed.as_mut()).await;
    assert_eq!(again.position, updated.position, "{}: resuming after the insert delivers the update next", s.engine.name());
    resumed.close().await.expect("close");

    // A transaction of more than PART_ROWS rows comes in parts, then its commit with the rest.
    let big = PART_ROWS * 4 + 7;
    let values: Vec<String> = (0..big).map(|i| format!("({})", 1000 + i)).collect();
    s.sql(&name, &format!("BEGIN; INSERT INTO natives (id) VALUES (999); INSERT INTO wide VALUES {}; COMMIT;", values.join(", ")));
    let mut wide = def.clone();
    wide.name = "wide".into();
    wide.columns.truncate(1);
    let mut parted = s.engine.changes(&url, &deleted.position, &[def.clone(), wide], &capture(&url.database)).await.expect("reopen");
    let (mut sizes, mut seen) = (Vec::new(), 0);
    let last = loop {
        match next_event(s, parted.as_mut()).await {
            ChangeEvent::Part(rows) => {
                assert!(rows.len() >= PART_ROWS && rows.iter().all(|c| c.op == RowOp::Insert), "{}: a part of {} rows", s.engine.name(), rows.len());
                seen += rows.len();
                sizes.push(rows.len());
            }
            ChangeEvent::Commit(t) => break t,
            ChangeEvent::SchemaChange { statement, .. } => panic!("{}: the CREATE TABLE of another table ended the stream: {statement}", s.engine.name()),
            ChangeEvent::Idle { .. } | ChangeEvent::Heartbeat { .. } => unreachable!("no heartbeat is written for this stream"),
        }
    };
    assert!(sizes.len() >= 2, "{}: {big} rows in one transaction came in parts {sizes:?}", s.engine.name());
    assert_eq!(seen + last.changes.len(), big + 1, "{}: every row of the transaction, once", s.engine.name());
    parted.close().await.expect("close");
    let mut stream = s.engine.changes(&url, &deleted.position, std::slice::from_ref(&def), &capture(&url.database)).await.expect("reopen");
    let narrow = next_commit(s, stream.as_mut()).await;
    assert_eq!(narrow.changes.len(), 1, "{}: a stream of natives alone gets its one row, whole", s.engine.name());

    // PostgreSQL logs no DDL: the table's next change shows its new columns.
    s.sql(&name, "ALTER TABLE natives ADD COLUMN extra INT; INSERT INTO natives (id, extra) VALUES (5000, 1)");
    match next_event(s, stream.as_mut()).await {
        ChangeEvent::SchemaChange { statement, position } => {
            assert!(statement.contains("extra"), "{statement}");
            let order = s.engine.compare_positions(&position, &narrow.position).expect("compare");
            assert_ne!(order, std::cmp::Ordering::Less, "{}: the schema change stops after the last transaction delivered", s.engine.name());
        }
        other => panic!("{}: expected the schema change, got {other:?}", s.engine.name()),
    }
    stream.close().await.expect("close");
    let dropped = s.engine.drop_capture(&url, &capture(&url.database)).await.expect("drop_capture");
    assert_eq!(dropped.is_empty(), s.profile().position != tandem_engine::PositionKind::Lsn, "{}: dropped {dropped:?}", s.engine.name());
}

/// An applier writes a batch of changes (deletes, an update, inserts of the deleted keys) and
/// the checkpoint in one transaction, in parts that nobody sees before the commit and that a
/// rollback discards; a batch with a change that finds no row is refused
/// (Corrupt) and leaves rows and checkpoint as they were.
pub async fn applier_applies_a_batch_and_its_checkpoint_in_one_transaction(s: Subject) {
    let schema = sample::schema();
    let rows = sample::rows();
    let (_, url) = s.database("conf_apply");
    let dump = load(s, &url, &schema, std::slice::from_ref(&rows)).await.expect("load");
    let def = dump.tables[0].clone();
    let types: Vec<_> = schema.tables[0].columns.iter().map(|c| c.ty.clone()).collect();
    let enc = |row: &Vec<tandem_engine::Value>| bytes::Bytes::from(encode_rows(s.engine, &def, types.iter(), std::slice::from_ref(row)).expect("encode"));
    let key = tandem_engine::changes::row_key(&def);
    let mut changed = rows[2].clone();
    for &k in &key {
        changed[k] = rows[1][k].clone();
    }

    let mut cp = make_replica(s, &url, &def).await;

    let mut applier = s.engine.applier(&url, vec![def.clone()], None).await.expect("applier");
    assert_eq!(applier.checkpoint().await.expect("checkpoint"), Some(cp.clone()));
    applier.expect(&cp.position);
    let change = |op, before: Option<&Vec<_>>, after: Option<&Vec<_>>| TargetChange {
        table: 0,
        op,
        before: before.map(enc),
        after: after.map(enc),
        unchanged: Vec::new(),
    };
    let batch =
        [change(RowOp::Delete, Some(&rows[0]), None), change(RowOp::Update, Some(&rows[1]), Some(&changed)), change(RowOp::Insert, None, Some(&rows[0]))];
    let before = read(s, &url).await.expect("read").1.into_iter().find(|t| t.def.name == def.name).expect("the table");
    // Written in parts and rolled back: nothing stays; written in parts: invisible until commit.
    applier.write(&batch[..1]).await.expect("write");
    applier.rollback().await.expect("rollback");
    cp.position.value = "p2".into();
    applier.write(&batch[..1]).await.unwrap_or_else(|e| panic!("{}: write: {e}", s.engine.name()));
    applier.write(&batch[1..2]).await.unwrap_or_else(|e| panic!("{}: write: {e}", s.engine.name()));
    let meanwhile = read(s, &url).await.expect("read").1.into_iter().find(|t| t.def.name == def.name).expect("the table");
    assert!(meanwhile.data == before.data, "{}: rows written before the commit are visible", s.engine.name());
    applier.apply(&batch[2..], &cp).await.unwrap_or_else(|e| panic!("{}: apply: {e}", s.engine.name()));
    assert_eq!(applier.checkpoint().await.expect("checkpoint"), Some(cp.clone()), "the checkpoint moved with the batch");
    let mut want = rows.clone();
    want[1] = changed;
    let (_, expected) = s.database("conf_apply_want");
    load(s, &expected, &schema, &[want]).await.expect("load the expected rows");
    let got = read(s, &url).await.expect("read").1.into_iter().find(|t| t.def.name == def.name).expect("the table");
    assert!(got.data == read(s, &expected).await.expect("read").1[0].data, "{}: the batch's result differs", s.engine.name());

    let stale = [change(RowOp::Delete, Some(&rows[0]), None), change(RowOp::Delete, Some(&rows[0]), None)];
    let mut moved = cp.clone();
    moved.position.value = "p3".into();
    let e = applier.apply(&stale, &moved).await.expect_err("a delete of a missing row is refused");
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");
    assert_eq!(applier.checkpoint().await.expect("checkpoint"), Some(cp), "the refused batch left the checkpoint");
    let after = read(s, &url).await.expect("read").1.into_iter().find(|t| t.def.name == def.name).expect("the table");
    assert!(after.data == got.data, "{}: the refused batch changed rows", s.engine.name());

    // A move stores another checkpoint meanwhile: the next batch finds it and writes nothing.
    let mut elsewhere = moved.clone();
    elsewhere.position.value = "p9".into();
    let tx = s.engine.transaction(&url).await.expect("transaction");
    tx.execute(&elsewhere.update_sql(tx.dialect(), def.schema.as_deref())).await.expect("move the checkpoint");
    tx.commit().await.expect("commit");
    let e = applier.apply(&batch[..1], &moved).await.expect_err("a batch after the checkpoint moved is refused");
    assert_eq!(e.kind(), Kind::Conflict, "{e}");
    assert!(e.to_string().contains("p9") && e.to_string().contains("not at p2"), "{}: {e}", s.engine.name());
    assert_eq!(applier.checkpoint().await.expect("checkpoint"), Some(elsewhere), "the moved checkpoint stays");
    let after = read(s, &url).await.expect("read").1.into_iter().find(|t| t.def.name == def.name).expect("the table");
    assert!(after.data == got.data, "{}: the refused batch changed rows", s.engine.name());
    applier.close().await.expect("close");
}

/// Makes the database of `url`, holding `def`, a replica: the checkpoint table with a checkpoint
/// at position `p1`, which it returns.
pub(super) async fn make_replica(s: Subject, url: &DbUrl, def: &TableDef) -> Checkpoint {
    let tx = s.engine.transaction(url).await.expect("transaction");
    let schema_name = def.schema.as_deref();
    let position = Position { kind: s.profile().position, value: "p1".into(), gtid: None };
    let cp = Checkpoint {
        source: "conformance".into(),
        backup: "b".into(),
        position,
        committed_at: Utc::now(),
        applied_at: Utc::now(),
        stopped: None,
        scope: Default::default(),
        heartbeat_at: None,
    };
    tx.ddl(&Checkpoint::create_sql(tx.dialect(), schema_name)).await.expect("create the checkpoint table");
    tx.execute(&cp.insert_sql(tx.dialect(), schema_name)).await.expect("insert the checkpoint");
    tx.commit().await.expect("commit");
    cp
}
