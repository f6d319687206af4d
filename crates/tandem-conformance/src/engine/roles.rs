//! Checks of a site's role row ([`tandem_engine::role`]) in the engine suite: it is never content,
//! a replace never overwrites an active site, and an applier writes only into a standby.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tandem_engine::changes::{RowOp, TargetChange};
use tandem_engine::role::{Role, SiteRole, ROLE_SCHEMA};
use tandem_engine::{DbUrl, Replace, Value};
use tandem_error::Kind;

use super::{load, read, sample, Subject};

/// Gives database `url` the role `role` as promote and fence do (table made first, row locked
/// first); the commit is delayed by `hold` with the lock held.
async fn give(s: Subject, url: &DbUrl, role: Role, hold: Duration) -> tandem_error::Result<Instant> {
    let tx = s.engine.transaction(url).await?;
    for sql in SiteRole::create_sql(tx.dialect()) {
        tx.ddl(&sql).await?;
    }
    tx.commit().await?;
    let tx = s.engine.transaction(url).await?;
    tx.query(&SiteRole::lock_sql(tx.dialect(), &url.database)).await?;
    for sql in SiteRole::new(role, 1, "conformance").store_sql(tx.dialect(), &url.database) {
        tx.execute(&sql).await?;
    }
    tokio::time::sleep(hold).await;
    let at = Instant::now();
    tx.commit().await?;
    Ok(at)
}

async fn role_of(s: Subject, url: &DbUrl) -> Option<Role> {
    let tx = s.engine.transaction(url).await.expect("transaction");
    let rows = tx.query(&SiteRole::read_sql(tx.dialect(), &url.database)).await.expect("read the role");
    rows.first().map(|r| SiteRole::from_row(r).expect("a role row").role)
}

/// A restore with [`Replace::UnlessActive`] refuses an active site (Conflict, content kept) and
/// replaces a standby's content but never its role, which is no content: not in a snapshot, not
/// among the target's relations. A promote racing a replace either makes it fail or comes after
/// its commit.
pub async fn replace_never_overwrites_an_active_site(s: Subject) {
    let other = super::checks::other_schema();
    let dump = s.engine.translate_schema(&other).expect("translate");
    let data = super::encode_rows(s.engine, &dump.tables[0], other.tables[0].columns.iter().map(|c| &c.ty), &[vec![Value::Text("9".into())]]).expect("encode");
    let replace = |url: DbUrl| {
        let (dump, data) = (dump.clone(), Bytes::from(data.clone()));
        async move {
            let session = s.engine.target(&url).await?.begin(&dump, Replace::UnlessActive).await?;
            session.copy_in(&dump.tables[0], Box::pin(futures::stream::iter([Ok(data)]))).await?;
            session.commit().await
        }
    };
    let names = |url: DbUrl| async move { read(s, &url).await.expect("read").1.iter().map(|t| t.def.name.clone()).collect::<Vec<_>>() };
    let sample_db = |prefix: &'static str| async move {
        let (_, url) = s.database(prefix);
        load(s, &url, &sample::schema(), &[sample::rows()]).await.expect("load the sample");
        url
    };

    let active = sample_db("conf_role_active").await;
    give(s, &active, Role::Active, Duration::ZERO).await.expect("make it active");
    let e = replace(active.clone()).await.expect_err("an active site was replaced");
    assert_eq!(e.kind(), Kind::Conflict, "{e}");
    assert!(e.to_string().contains("active"), "{e}");
    assert_eq!(names(active.clone()).await, ["kinds"], "{}: the active site keeps its content", s.engine.name());

    let standby = sample_db("conf_role_standby").await;
    give(s, &standby, Role::Standby, Duration::ZERO).await.expect("make it a standby");
    replace(standby.clone()).await.unwrap_or_else(|e| panic!("{}: replacing a standby: {e}", s.engine.name()));
    assert_eq!(names(standby.clone()).await, ["other"], "the role table is no content");
    assert_eq!(role_of(s, &standby).await, Some(Role::Standby), "the replace kept the role");
    let relations = s.engine.target(&standby).await.expect("target").inspect().await.expect("inspect").relations;
    assert!(!relations.iter().any(|r| r.contains(ROLE_SCHEMA)), "{}: the role table is among the relations: {relations:?}", s.engine.name());

    // The race: a promote while the replace loads.
    let racing = sample_db("conf_role_race").await;
    give(s, &racing, Role::Standby, Duration::ZERO).await.expect("make it a standby");
    let session = s.engine.target(&racing).await.expect("target").begin(&dump, Replace::UnlessActive).await.expect("begin");
    let promote = tokio::spawn({
        let url = racing.clone();
        async move { give(s, &url, Role::Active, Duration::ZERO).await }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    session.copy_in(&dump.tables[0], Box::pin(futures::stream::iter([Ok(Bytes::from(data.clone()))]))).await.expect("copy");
    let committing = Instant::now();
    let committed = session.commit().await;
    let promoted_at = tokio::time::timeout(Duration::from_secs(60), promote).await.expect("the promote ends").expect("join").expect("promote");
    assert_eq!(role_of(s, &racing).await, Some(Role::Active), "the promote stands");
    match committed {
        Err(e) => {
            assert_eq!(e.kind(), Kind::Conflict, "{e}");
            assert_eq!(names(racing).await, ["kinds"], "the promoted site keeps its content");
        }
        Ok(()) => {
            assert!(promoted_at >= committing, "{}: the replace overwrote a site promoted before it", s.engine.name());
            assert_eq!(names(racing).await, ["other"]);
        }
    }
}

/// An applier on a database whose role is no longer standby applies nothing (Conflict naming
/// the role); on a standby it applies.
pub async fn applier_writes_only_into_a_standby(s: Subject) {
    let schema = sample::schema();
    let rows = sample::rows();
    let (_, url) = s.database("conf_role_apply");
    let dump = load(s, &url, &schema, &[rows[1..].to_vec()]).await.expect("load");
    let def = dump.tables[0].clone();
    let types: Vec<_> = schema.tables[0].columns.iter().map(|c| c.ty.clone()).collect();
    let insert = TargetChange {
        table: 0,
        op: RowOp::Insert,
        before: None,
        after: Some(Bytes::from(super::encode_rows(s.engine, &def, types.iter(), &[rows[0].clone()]).expect("encode"))),
        unchanged: Vec::new(),
    };
    let cp = super::changes::make_replica(s, &url, &def).await;
    let count = |url: DbUrl| async move { read(s, &url).await.expect("read").1.into_iter().find(|t| t.def.name == "kinds").expect("kinds").rows };
    let before = count(url.clone()).await;

    give(s, &url, Role::Fenced, Duration::ZERO).await.expect("fence");
    let mut applier = s.engine.applier(&url, vec![def.clone()], None).await.expect("applier");
    let e = applier.apply(std::slice::from_ref(&insert), &cp).await.expect_err("applied into a fenced site");
    assert_eq!(e.kind(), Kind::Conflict, "{e}");
    assert!(e.to_string().contains("fenced"), "{e}");
    assert_eq!(count(url.clone()).await, before, "{}: nothing was applied", s.engine.name());

    give(s, &url, Role::Standby, Duration::ZERO).await.expect("standby");
    applier.apply(std::slice::from_ref(&insert), &cp).await.unwrap_or_else(|e| panic!("{}: applying into a standby: {e}", s.engine.name()));
    assert_eq!(count(url).await, before + 1);
    applier.close().await.expect("close");
}
