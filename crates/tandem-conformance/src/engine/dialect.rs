//! The dialect checks: every statement piece a [`tandem_engine::Dialect`] spells runs on the
//! real server and means what its contract says.

use tandem_engine::value::unhex;
use tandem_engine::{Dialect, Transaction, Value};

use super::{load, sample, Subject};

/// Strings whose collation order and code point order differ (case, accents, astral plane).
const ORDERED: [&str; 7] = ["B", "Z", "a", "b", "z", "é", "😀"];

/// A table `words (id, w)` holding [`ORDERED`] shuffled, in a new database; an open transaction.
async fn words(s: Subject) -> Box<dyn Transaction> {
    let (_, url) = s.database("conf_dialect");
    let mut schema = sample::schema();
    let t = &mut schema.tables[0];
    t.def.name = "words".into();
    t.def.columns.truncate(1);
    t.columns.truncate(1);
    t.def.columns.push(tandem_engine::ColumnDef { name: "w".into(), nullable: true, ..Default::default() });
    t.columns.push(tandem_engine::LogicalColumn { ty: tandem_engine::LogicalType::Varchar(Some(20)), default: None });
    let mut rows: Vec<Vec<Value>> = ORDERED.iter().rev().enumerate().map(|(i, w)| vec![Value::Text(i.to_string()), Value::Text(w.to_string())]).collect();
    rows.push(vec![Value::Text("99".into()), Value::Null]);
    load(s, &url, &schema, &[rows]).await.expect("load");
    s.engine.transaction(&url).await.expect("transaction")
}

fn column(rows: Vec<Vec<Option<String>>>) -> Vec<Option<String>> {
    rows.into_iter().map(|r| r.into_iter().next().flatten()).collect()
}

/// `literal` round-trips quotes, backslashes and non-ASCII; `ident` quotes a name with a space
/// and upper case; `table` and `current_schema` name what exists.
pub async fn dialect_literals_and_identifiers_run(s: Subject) {
    let tx = words(s).await;
    let d: &dyn Dialect = tx.dialect();
    for text in ["it's", "back\\slash", "quote\"s", "é 😀 ß", "", "\\N", "semi;colon -- not a comment"] {
        let got = column(tx.query(&format!("SELECT {}", d.literal(text))).await.unwrap_or_else(|e| panic!("literal {text:?}: {e}")));
        assert_eq!(got, [Some(text.to_string())], "{}: literal {text:?}", s.engine.name());
    }
    let odd = "Odd Name";
    tx.ddl(&format!("CREATE TABLE {} ({} INT)", d.ident(odd), d.ident("Col"))).await.expect("create with quoted names");
    tx.execute(&format!("INSERT INTO {} ({}) VALUES (7)", d.ident(odd), d.ident("Col"))).await.expect("insert");
    let def = tandem_engine::TableDef { name: odd.into(), ..Default::default() };
    assert_eq!(column(tx.query(&format!("SELECT {} FROM {}", d.ident("Col"), d.table(&def))).await.expect("select")), [Some("7".into())]);
    let sql =
        format!("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {} AND table_name IN ('words', {})", d.current_schema(), d.literal(odd));
    assert_eq!(column(tx.query(&sql).await.expect("information_schema")), [Some("2".into())], "{}: current_schema", s.engine.name());
    tx.rollback().await.expect("rollback");
}

/// `text_order` sorts by code point (UTF-8 byte) order, whatever the column's collation: also on
/// a column whose collation orders [`ORDERED`] otherwise
/// ([`Profile::collated_text`](super::profile::Profile)).
pub async fn dialect_text_order_is_code_point_order(s: Subject) {
    let tx = words(s).await;
    let d = tx.dialect();
    let ordered = |table: &'static str| {
        let sql = format!("SELECT w FROM {table} WHERE w IS NOT NULL ORDER BY {}", d.text_order("w"));
        let tx = &tx;
        async move { column(tx.query(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"))).into_iter().flatten().collect::<Vec<String>>() }
    };
    assert_eq!(ordered("words").await, ORDERED, "{}", s.engine.name());
    tx.ddl(&format!("CREATE TABLE collated (w {})", s.profile().collated_text)).await.expect("create a collated column");
    let values: Vec<String> = ORDERED.iter().rev().map(|w| format!("({})", d.literal(w))).collect();
    tx.execute(&format!("INSERT INTO collated (w) VALUES {}", values.join(", "))).await.expect("insert");
    let by_collation: Vec<String> = column(tx.query("SELECT w FROM collated ORDER BY w").await.expect("ordered")).into_iter().flatten().collect();
    assert_ne!(by_collation, ORDERED, "{}: the collation of {:?} orders by code point, the check proves nothing", s.engine.name(), s.profile().collated_text);
    assert_eq!(ordered("collated").await, ORDERED, "{}: text_order on a collated column", s.engine.name());
    tx.rollback().await.expect("rollback");
}

/// `agg_tuples` aggregates rows into `,`-separated tuples of `:`-separated hex (or `-` for
/// NULL) that decode back to exactly the rows; no rows give NULL or empty.
pub async fn dialect_agg_tuples_decode_back(s: Subject) {
    let tx = words(s).await;
    let d = tx.dialect();
    let exprs = ["id".to_string(), "w".to_string()];
    let agg = column(tx.query(&format!("SELECT {} FROM words", d.agg_tuples(&exprs))).await.expect("agg")).remove(0).expect("not NULL");
    let mut got: Vec<(String, Option<String>)> = agg
        .split(',')
        .map(|tuple| {
            let parts: Vec<Option<String>> = tuple.split(':').map(|h| (h != "-").then(|| String::from_utf8(unhex(h).expect("hex")).expect("UTF-8"))).collect();
            assert_eq!(parts.len(), 2, "{}: tuple {tuple:?}", s.engine.name());
            (parts[0].clone().expect("id"), parts[1].clone())
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, Option<String>)> = ORDERED.iter().rev().enumerate().map(|(i, w)| (i.to_string(), Some(w.to_string()))).collect();
    want.push(("99".into(), None));
    want.sort();
    assert_eq!(got, want, "{}", s.engine.name());
    let none = column(tx.query(&format!("SELECT {} FROM words WHERE id < 0", d.agg_tuples(&exprs))).await.expect("agg of nothing")).remove(0);
    assert!(none.as_deref().is_none_or(str::is_empty), "{none:?}");
    tx.rollback().await.expect("rollback");
}
