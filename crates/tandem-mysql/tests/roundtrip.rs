//! Round trip of every type a metastore or Airflow uses, through snapshot → copy_out → begin →
//! copy_in → commit on a real MariaDB server.

mod common;

use common::*;

fn all_bytes_hex() -> String {
    (0..=255u8).map(|b| format!("{b:02X}")).collect()
}

fn source_schema(db: &str) {
    let hex = all_bytes_hex();
    let sql = format!(
        r#"
SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';
CREATE TABLE t_all (
  id INT NOT NULL AUTO_INCREMENT,
  ti TINYINT, tiu TINYINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  dec1 DECIMAL(20,6), f FLOAT, d DOUBLE,
  vc VARCHAR(255), tx TEXT, mt MEDIUMTEXT, lt LONGTEXT,
  vb VARBINARY(300), bl BLOB, lb LONGBLOB,
  dt DATE, dtt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME,
  b1 BIT(1), b8 BIT(8), bo BOOLEAN, j JSON, e ENUM('a','b','c'), s SET('x','y','z'),
  df VARCHAR(20) NOT NULL DEFAULT 'dflt',
  g BIGINT AS (i + 1) VIRTUAL,
  PRIMARY KEY (id), UNIQUE KEY uk_vc (vc), KEY ix_i (i, bi)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='all types';
INSERT INTO t_all (id, ti, tiu, i, iu, bi, biu, dec1, f, d, vc, tx, mt, lt, vb, bl, lb, dt, dtt, ts, tm, b1, b8, bo, j, e, s) VALUES
 (0, -128, 255, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615, -99999999999999.999999, 3.14159274, 1.7976931348623157e308,
  'zero row', 'a\tb\nc\\d\0e', CONCAT('ctl', CHAR(1), CHAR(26), CHAR(127), CHAR(13)), 'Unicode: äöü € 😀 中文', UNHEX('{hex}'), UNHEX('{hex}'), UNHEX('{hex}'),
  '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '-838:59:59', b'0', b'00000000', FALSE, '{{"k": [1, 2.5, "x\\ty"], "u": "ä"}}', 'a', ''),
 (1, 127, 0, 2147483647, 0, 9223372036854775807, 0, 99999999999999.999999, -1.17549435e-38, -2.2250738585072014e-308,
  'max row', '', '', '', '', '', '', '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', '838:59:59', b'1', b'11111111', TRUE, '[]', 'c', 'x,y,z'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, 0, 1, 0, 1, 0, 1, 0.000001, 0.1, 0.1, '\\N', 'N', '\\', '\\\\N', UNHEX('5C4E'), UNHEX(''), UNHEX('00'), '2024-02-29', '2024-02-29 12:34:56.000001', '1970-01-01 00:00:01', '00:00:00.5', b'1', b'10100101', TRUE, 'null', 'b', 'y');
INSERT INTO t_all (id, lt, vc) VALUES (10, REPEAT('0123456789abcde\n', 1024 * 1024), 'big');
INSERT INTO t_all (vc, df) VALUES ('auto', 'given');

CREATE TABLE t_latin (
  id BIGINT NOT NULL, name VARCHAR(767) CHARACTER SET latin1 COLLATE latin1_bin DEFAULT NULL, val MEDIUMTEXT,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
INSERT INTO t_latin VALUES (1, 'äöüß éèê ÿ ¿¡ ©®', 'Größe'), (2, CONCAT('raw', UNHEX('80A0FF09')), CONCAT('x', UNHEX('5C000A'))), (3, '', NULL);

CREATE TABLE parent (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, UNIQUE KEY uq_name (name)) ENGINE=InnoDB;
CREATE TABLE child (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, parent_id BIGINT NOT NULL, note TEXT,
  CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE
) ENGINE=InnoDB;
INSERT INTO parent (name) VALUES ('p1'), ('p2');
INSERT INTO child (parent_id, note) VALUES (1, 'c1'), (1, 'c2'), (2, 'c3');
CREATE TABLE t_nopk (a INT, b VARCHAR(10)) ENGINE=InnoDB;
INSERT INTO t_nopk VALUES (1, 'x'), (1, 'x'), (NULL, NULL);
CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(100)) ENGINE=InnoDB;
CREATE VIEW v_base AS SELECT p.id, p.name, COUNT(c.id) AS n FROM parent p LEFT JOIN child c ON c.parent_id = p.id GROUP BY p.id, p.name;
CREATE VIEW a_top AS SELECT name FROM v_base WHERE n > 1;
CREATE TRIGGER trg_parent_ins AFTER INSERT ON parent FOR EACH ROW INSERT INTO audit (what) VALUES (CONCAT('parent ', NEW.name));
"#
    );
    server().sql(db, &sql);
}

#[tokio::test]
async fn every_type_round_trips() {
    let s = server();
    let src = s.create_database("rt_src");
    let dst = s.create_database("rt_dst");
    source_schema(&src);

    let b = backup(&src, 2).await;
    assert_eq!(b.info.engine, "mysql");
    assert_eq!(b.info.position.kind, tandem_engine::PositionKind::Binlog, "{:?}", b.info.position);
    assert!(!b.info.position.value.is_empty());
    assert!(b.info.consistency.contains("FLUSH TABLES"), "{}", b.info.consistency);
    assert_eq!(b.schema.charset.as_deref(), Some("utf8mb4"));
    let all = b.schema.tables.iter().find(|t| t.name == "t_all").expect("t_all");
    assert!(!all.columns.iter().any(|c| c.name == "g"), "generated column is not copied");
    assert_eq!(all.primary_key, vec!["id".to_string()]);
    assert!(b.schema.tables.iter().all(|t| !t.name.starts_with('v') && t.name != "a_top"), "views are not copied");
    // Views: dependencies first; definers and source qualification removed.
    let views: Vec<&String> = b.schema.post_data.iter().filter(|s| s.contains(" VIEW ")).collect();
    assert_eq!(views.len(), 2);
    assert!(views[0].contains("`v_base`") && views[1].contains("`a_top`"), "{views:?}");
    assert!(b.schema.post_data.iter().all(|s| !s.contains("DEFINER=") && !s.contains(&format!("`{src}`."))), "{:?}", b.schema.post_data);

    restore(&b, &dst, false).await.expect("restore");

    // Column by column, exact (floats compared as floats, strings as bytes, NULL vs empty).
    let cols = s.sql(&src, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 't_all'");
    let mut bad = Vec::new();
    for c in cols.lines() {
        let diff = s.sql(
            &src,
            &format!(
                "SELECT COUNT(*) FROM `{src}`.t_all a LEFT JOIN `{dst}`.t_all b ON a.id = b.id \
                 WHERE b.id IS NULL OR NOT (a.`{c}` <=> b.`{c}`) OR NOT (HEX(a.`{c}`) <=> HEX(b.`{c}`))"
            ),
        );
        if diff != "0" {
            eprintln!("column {c} differs");
            bad.push(c.to_string());
        }
    }
    assert!(bad.is_empty(), "columns differ: {bad:?}");
    for t in ["t_all", "t_latin", "parent", "child", "t_nopk", "audit"] {
        assert_eq!(create_table(&src, t), create_table(&dst, t), "SHOW CREATE TABLE {t}");
        assert_eq!(checksum(&src, t), checksum(&dst, t), "CHECKSUM TABLE {t}");
        assert_eq!(s.sql(&src, &format!("SELECT COUNT(*) FROM `{t}`")), s.sql(&dst, &format!("SELECT COUNT(*) FROM `{t}`")), "{t}");
    }
    let diff = s.sql(
        &src,
        &format!(
            "SELECT COUNT(*) FROM `{src}`.t_latin a JOIN `{dst}`.t_latin b ON a.id = b.id WHERE HEX(a.name) <=> HEX(b.name) AND HEX(a.val) <=> HEX(b.val)"
        ),
    );
    assert_eq!(diff, "3");
    assert_eq!(s.sql(&dst, "SELECT LENGTH(lt), MD5(lt) = MD5(REPEAT('0123456789abcde\\n', 1024 * 1024)) FROM t_all WHERE id = 10"), "16777216\t1");
    assert_eq!(s.sql(&dst, "SELECT id FROM t_all WHERE id = 0"), "0", "the AUTO_INCREMENT 0 row survives");
    assert_eq!(s.sql(&dst, "SELECT HEX(vb) = HEX(UNHEX('{}')) FROM t_all WHERE id = 0".replace("{}", &all_bytes_hex()).as_str()), "1");

    // Next AUTO_INCREMENT id is past the maximum.
    let max: i64 = s.sql(&dst, "SELECT MAX(id) FROM t_all").parse().expect("max");
    let next: i64 = s.sql(&dst, "INSERT INTO t_all (vc) VALUES ('after'); SELECT LAST_INSERT_ID()").parse().expect("id");
    assert!(next > max, "next id {next} after max {max}");
    // Views and triggers work in the target.
    assert_eq!(s.sql(&dst, "SELECT name FROM a_top"), "p1");
    s.sql(&dst, "INSERT INTO parent (name) VALUES ('p3')");
    assert_eq!(s.sql(&dst, "SELECT what FROM audit"), "parent p3");
    // The foreign key is there and enforced.
    assert!(s.try_sql(&dst, "INSERT INTO child (parent_id) VALUES (999)").is_err());
    // Database defaults follow the source; helper databases are gone.
    assert_eq!(s.sql("mysql", &format!("SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{dst}'")), "utf8mb4");
    assert!(databases_like(&format!("{dst}__tandem")).is_empty());
}

#[tokio::test]
async fn single_connection_snapshot_and_latin1_database() {
    let s = server();
    let src = s.create_database("l1_src");
    s.sql(&src, &format!("ALTER DATABASE `{src}` CHARACTER SET latin1 COLLATE latin1_bin"));
    s.sql(&src, "CREATE TABLE TBLS (TBL_ID BIGINT PRIMARY KEY, TBL_NAME VARCHAR(256) DEFAULT NULL) ENGINE=InnoDB; INSERT INTO TBLS VALUES (1, 'größe');");
    let b = backup(&src, 1).await;
    assert_eq!(b.info.position.kind, tandem_engine::PositionKind::Binlog);
    assert!(b.info.consistency.contains("single"), "{}", b.info.consistency);
    assert_eq!(b.schema.collation.as_deref(), Some("latin1_bin"));
    let dst = s.create_database("l1_dst");
    if std::env::var("TANDEM_DEBUG").is_ok() {
        let (t, chunks, _) = b.data.iter().find(|d| d.0.name == "t_all").unwrap();
        let all: Vec<u8> = chunks.iter().flat_map(|c| c.to_vec()).collect();
        std::fs::write("/tmp/scratch/t_all.tsv", &all).unwrap();
        std::fs::write(
            "/tmp/scratch/t_all.json",
            format!("{:?}\n{:?}", b.schema.pre_data[b.schema.tables.iter().position(|x| x.name == "t_all").unwrap()], t.columns),
        )
        .unwrap();
        let dbg = s.create_database("dbg");
        let ddl = &b.schema.pre_data[b.schema.tables.iter().position(|x| x.name == "t_all").unwrap()];
        let load = format!("SET SESSION sql_mode='NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'; SET SESSION unique_checks=0; SET foreign_key_checks=0; {ddl}; LOAD DATA LOCAL INFILE '/tmp/scratch/t_all.tsv' INTO TABLE t_all CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({}); SELECT GROUP_CONCAT(id) FROM t_all; SHOW WARNINGS", t.columns.iter().map(|c| format!("`{}`", c.name)).collect::<Vec<_>>().join(","));
        eprintln!("DBG-CLIENT {:?}", s.try_sql(&dbg, &load));
    }
    restore(&b, &dst, false).await.expect("restore");
    assert_eq!(s.sql(&dst, "SELECT HEX(TBL_NAME) FROM TBLS"), "6772F6DF65");
    assert_eq!(s.sql("mysql", &format!("SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{dst}'")), "latin1_bin");
}
