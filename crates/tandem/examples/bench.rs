//! Benchmark: tandem against `mariadb-dump`/`mariadb` and `pg_dump`/`pg_restore` on a generated
//! Hive-Metastore-shaped database (default 5 million rows) on throwaway MariaDB and PostgreSQL
//! servers. Run it with `./bench/run.sh [--rows N]`; see BENCHMARKS.md.
//!
//! Measured per run: wall time, peak RSS of the client process (`wait4` rusage `ru_maxrss`, which
//! for a process that forks workers is the largest single process, not the sum), CPU seconds of the
//! client (rusage) and of the server (from /proc/<server>/stat before and after, including reaped
//! PostgreSQL backends), and the size of what was written.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tandem_testkit::{tandem_bin, Flavor, Server};

/// `--encryption`: plain against encrypted repositories instead of tandem against the dump tools.
#[path = "bench/encryption.rs"]
mod encryption;

// ---------------------------------------------------------------------------------------------
// Options

struct Opts {
    rows: u64,
    only: Option<Flavor>,
    workdir: Option<PathBuf>,
    timeout: Duration,
    parallel: Option<u16>,
    top: bool,
    encryption: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench [--rows N] [--only mariadb|postgres] [--workdir DIR] [--timeout SECS] [--parallel N] [--top] [--encryption]\n\
         \n  --rows N        total rows generated per server (default 5000000)\
         \n  --only ENGINE   run only one engine\
         \n  --workdir DIR   where repositories and dumps go (default: a temp dir, removed at the end)\
         \n  --timeout SECS  kill any single measured command after this long (default 7200)\
         \n  --parallel N    pass --parallel N to `tandem backup` (default: tandem's default)\
         \n  --top           write `top -b -n1` snapshots every 5 s during each run to <workdir>/top.log\
         \n  --encryption    measure tandem into a plain against an encrypted repository (bench/encryption.sh)"
    );
    std::process::exit(2)
}

fn parse_opts() -> Opts {
    let mut o = Opts { rows: 5_000_000, only: None, workdir: None, timeout: Duration::from_secs(7200), parallel: None, top: false, encryption: false };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--rows" => o.rows = val().replace('_', "").parse().unwrap_or_else(|_| usage()),
            "--only" => {
                o.only = Some(match val().as_str() {
                    "mariadb" | "mysql" => Flavor::MariaDb,
                    "postgres" | "postgresql" | "pg" => Flavor::Postgres,
                    _ => usage(),
                })
            }
            "--workdir" => o.workdir = Some(val().into()),
            "--timeout" => o.timeout = Duration::from_secs(val().parse().unwrap_or_else(|_| usage())),
            "--parallel" => o.parallel = Some(val().parse().unwrap_or_else(|_| usage())),
            "--top" => o.top = true,
            "--encryption" => o.encryption = true,
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    if o.rows < 10_000 {
        eprintln!("bench: --rows must be at least 10000");
        std::process::exit(2);
    }
    o
}

fn log(msg: impl AsRef<str>) {
    let t = START.get_or_init(Instant::now).elapsed().as_secs_f64();
    eprintln!("[{t:7.1}s] {}", msg.as_ref());
}

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

// ---------------------------------------------------------------------------------------------
// Shape of the generated Hive Metastore

/// How many rows of what: derived from the requested total.
#[derive(Clone, Copy, Debug)]
struct Shape {
    dbs: u64,
    tables: u64,
    /// partitions per table (the last table may have fewer)
    ppt: u64,
    partitions: u64,
}

const COLS_PER_TABLE: u64 = 20;
const TABLE_PARAMS_PER_TABLE: u64 = 8;
const PART_PARAMS_PER_PART: u64 = 6;
/// TBLS, SDS, SERDES, SERDE_PARAMS, CDS + columns + table params + 2 partition keys.
const ROWS_PER_TABLE: u64 = 5 + COLS_PER_TABLE + TABLE_PARAMS_PER_TABLE + 2;
/// PARTITIONS, SDS, SERDES, SERDE_PARAMS, 2 PARTITION_KEY_VALS + params.
const ROWS_PER_PARTITION: u64 = 4 + 2 + PART_PARAMS_PER_PART;

impl Shape {
    fn for_rows(rows: u64) -> Shape {
        let tables = (rows / 2500).max(10);
        let dbs = (tables / 40).max(2);
        let partitions = (rows - tables * ROWS_PER_TABLE - dbs - 1) / ROWS_PER_PARTITION;
        let ppt = partitions.div_ceil(tables);
        Shape { dbs, tables, ppt, partitions }
    }

    /// Expected row count per table.
    fn expected(&self) -> Vec<(&'static str, u64)> {
        let (t, p) = (self.tables, self.partitions);
        vec![
            ("VERSION", 1),
            ("DBS", self.dbs),
            ("CDS", t),
            ("COLUMNS_V2", t * COLS_PER_TABLE),
            ("SERDES", t + p),
            ("SERDE_PARAMS", t + p),
            ("SDS", t + p),
            ("TBLS", t),
            ("TABLE_PARAMS", t * TABLE_PARAMS_PER_TABLE),
            ("PARTITION_KEYS", t * 2),
            ("PARTITIONS", p),
            ("PARTITION_KEY_VALS", p * 2),
            ("PARTITION_PARAMS", p * PART_PARAMS_PER_PART),
        ]
    }

    fn total(&self) -> u64 {
        self.expected().iter().map(|(_, n)| n).sum()
    }
}

const TABLES: [&str; 13] = [
    "VERSION",
    "DBS",
    "CDS",
    "COLUMNS_V2",
    "SERDES",
    "SERDE_PARAMS",
    "SDS",
    "TBLS",
    "TABLE_PARAMS",
    "PARTITION_KEYS",
    "PARTITIONS",
    "PARTITION_KEY_VALS",
    "PARTITION_PARAMS",
];

const COL_NAMES: [&str; 20] = [
    "event_id",
    "event_ts",
    "user_id",
    "session_id",
    "country",
    "device_type",
    "os_version",
    "app_version",
    "page_url",
    "referrer",
    "event_name",
    "event_value",
    "currency",
    "amount",
    "is_test",
    "ingest_ts",
    "payload",
    "tags",
    "attributes",
    "batch_id",
];
const COL_TYPES: [&str; 20] = [
    "bigint",
    "timestamp",
    "bigint",
    "string",
    "string",
    "string",
    "string",
    "string",
    "string",
    "string",
    "string",
    "double",
    "string",
    "decimal(18,4)",
    "boolean",
    "timestamp",
    "string",
    "array<string>",
    "map<string,string>",
    "string",
];

const SLIB: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
const INPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
const OUTPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
const PART_STATS: &str = r#"{"BASIC_STATS":"true","COLUMN_STATS":{"event_id":"true","event_ts":"true","user_id":"true","country":"true","amount":"true"}}"#;
const TABLE_STATS: &str = r#"{"BASIC_STATS":"true"}"#;
/// 2026-01-01T00:00:00Z
const EPOCH0: u64 = 1_767_225_600;
/// Partitions per INSERT statement.
const BATCH: u64 = 100_000;

fn sql_list(items: &[&str]) -> String {
    items.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(",")
}

// ---------------------------------------------------------------------------------------------
// MariaDB generator (Hive 3.1 MySQL schema: latin1, bit(1), N49/N50 indexes, FKs)

fn mariadb_ddl() -> &'static str {
    r#"
CREATE TABLE `VERSION` (`VER_ID` bigint NOT NULL, `SCHEMA_VERSION` varchar(127) NOT NULL, `VERSION_COMMENT` varchar(255) DEFAULT NULL, PRIMARY KEY (`VER_ID`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
CREATE TABLE `DBS` (`DB_ID` bigint NOT NULL, `DESC` varchar(4000) DEFAULT NULL, `DB_LOCATION_URI` varchar(4000) NOT NULL, `NAME` varchar(128) DEFAULT NULL, `OWNER_NAME` varchar(128) DEFAULT NULL, `OWNER_TYPE` varchar(10) DEFAULT NULL, `CTLG_NAME` varchar(256) NOT NULL DEFAULT 'hive', PRIMARY KEY (`DB_ID`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
CREATE TABLE `CDS` (`CD_ID` bigint NOT NULL, PRIMARY KEY (`CD_ID`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
CREATE TABLE `COLUMNS_V2` (`CD_ID` bigint NOT NULL, `COMMENT` varchar(256) DEFAULT NULL, `COLUMN_NAME` varchar(767) NOT NULL, `TYPE_NAME` mediumtext DEFAULT NULL, `INTEGER_IDX` int NOT NULL, PRIMARY KEY (`CD_ID`,`COLUMN_NAME`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
CREATE TABLE `SERDES` (`SERDE_ID` bigint NOT NULL, `NAME` varchar(128) DEFAULT NULL, `SLIB` varchar(4000) DEFAULT NULL, `DESCRIPTION` varchar(4000) DEFAULT NULL, `SERIALIZER_CLASS` varchar(4000) DEFAULT NULL, `DESERIALIZER_CLASS` varchar(4000) DEFAULT NULL, `SERDE_TYPE` int DEFAULT NULL, PRIMARY KEY (`SERDE_ID`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
CREATE TABLE `SERDE_PARAMS` (`SERDE_ID` bigint NOT NULL, `PARAM_KEY` varchar(256) NOT NULL, `PARAM_VALUE` mediumtext DEFAULT NULL, PRIMARY KEY (`SERDE_ID`,`PARAM_KEY`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
CREATE TABLE `SDS` (`SD_ID` bigint NOT NULL, `CD_ID` bigint DEFAULT NULL, `INPUT_FORMAT` varchar(4000) DEFAULT NULL, `IS_COMPRESSED` bit(1) NOT NULL, `IS_STOREDASSUBDIRECTORIES` bit(1) NOT NULL, `LOCATION` varchar(4000) DEFAULT NULL, `NUM_BUCKETS` int NOT NULL, `OUTPUT_FORMAT` varchar(4000) DEFAULT NULL, `SERDE_ID` bigint DEFAULT NULL, PRIMARY KEY (`SD_ID`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
CREATE TABLE `TBLS` (`TBL_ID` bigint NOT NULL, `CREATE_TIME` int NOT NULL, `DB_ID` bigint DEFAULT NULL, `LAST_ACCESS_TIME` int NOT NULL, `OWNER` varchar(767) DEFAULT NULL, `OWNER_TYPE` varchar(10) DEFAULT NULL, `RETENTION` int NOT NULL, `SD_ID` bigint DEFAULT NULL, `TBL_NAME` varchar(256) DEFAULT NULL, `TBL_TYPE` varchar(128) DEFAULT NULL, `VIEW_EXPANDED_TEXT` mediumtext DEFAULT NULL, `VIEW_ORIGINAL_TEXT` mediumtext DEFAULT NULL, `IS_REWRITE_ENABLED` bit(1) NOT NULL DEFAULT b'0', PRIMARY KEY (`TBL_ID`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
CREATE TABLE `TABLE_PARAMS` (`TBL_ID` bigint NOT NULL, `PARAM_KEY` varchar(256) NOT NULL, `PARAM_VALUE` mediumtext DEFAULT NULL, PRIMARY KEY (`TBL_ID`,`PARAM_KEY`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
CREATE TABLE `PARTITION_KEYS` (`TBL_ID` bigint NOT NULL, `PKEY_COMMENT` varchar(4000) DEFAULT NULL, `PKEY_NAME` varchar(128) NOT NULL, `PKEY_TYPE` varchar(767) NOT NULL, `INTEGER_IDX` int NOT NULL, PRIMARY KEY (`TBL_ID`,`PKEY_NAME`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
CREATE TABLE `PARTITIONS` (`PART_ID` bigint NOT NULL, `CREATE_TIME` int NOT NULL, `LAST_ACCESS_TIME` int NOT NULL, `PART_NAME` varchar(767) DEFAULT NULL, `SD_ID` bigint DEFAULT NULL, `TBL_ID` bigint DEFAULT NULL, PRIMARY KEY (`PART_ID`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
CREATE TABLE `PARTITION_KEY_VALS` (`PART_ID` bigint NOT NULL, `PART_KEY_VAL` varchar(256) DEFAULT NULL, `INTEGER_IDX` int NOT NULL, PRIMARY KEY (`PART_ID`,`INTEGER_IDX`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
CREATE TABLE `PARTITION_PARAMS` (`PART_ID` bigint NOT NULL, `PARAM_KEY` varchar(256) NOT NULL, `PARAM_VALUE` varchar(4000) DEFAULT NULL, PRIMARY KEY (`PART_ID`,`PARAM_KEY`)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
"#
}

/// Secondary indexes and foreign keys of Hive's MySQL schema, added after the load.
fn mariadb_constraints() -> &'static str {
    r#"
ALTER TABLE `DBS` ADD UNIQUE KEY `UNIQUE_DATABASE` (`NAME`,`CTLG_NAME`);
ALTER TABLE `COLUMNS_V2` ADD KEY `COLUMNS_V2_N49` (`CD_ID`), ADD CONSTRAINT `COLUMNS_V2_FK1` FOREIGN KEY (`CD_ID`) REFERENCES `CDS` (`CD_ID`);
ALTER TABLE `SERDE_PARAMS` ADD KEY `SERDE_PARAMS_N49` (`SERDE_ID`), ADD CONSTRAINT `SERDE_PARAMS_FK1` FOREIGN KEY (`SERDE_ID`) REFERENCES `SERDES` (`SERDE_ID`);
ALTER TABLE `SDS` ADD KEY `SDS_N49` (`SERDE_ID`), ADD KEY `SDS_N50` (`CD_ID`), ADD CONSTRAINT `SDS_FK1` FOREIGN KEY (`SERDE_ID`) REFERENCES `SERDES` (`SERDE_ID`), ADD CONSTRAINT `SDS_FK2` FOREIGN KEY (`CD_ID`) REFERENCES `CDS` (`CD_ID`);
ALTER TABLE `TBLS` ADD UNIQUE KEY `UNIQUETABLE` (`TBL_NAME`,`DB_ID`), ADD KEY `TBLS_N50` (`SD_ID`), ADD KEY `TBLS_N49` (`DB_ID`), ADD CONSTRAINT `TBLS_FK1` FOREIGN KEY (`SD_ID`) REFERENCES `SDS` (`SD_ID`), ADD CONSTRAINT `TBLS_FK2` FOREIGN KEY (`DB_ID`) REFERENCES `DBS` (`DB_ID`);
ALTER TABLE `TABLE_PARAMS` ADD KEY `TABLE_PARAMS_N49` (`TBL_ID`), ADD CONSTRAINT `TABLE_PARAMS_FK1` FOREIGN KEY (`TBL_ID`) REFERENCES `TBLS` (`TBL_ID`);
ALTER TABLE `PARTITION_KEYS` ADD KEY `PARTITION_KEYS_N49` (`TBL_ID`), ADD CONSTRAINT `PARTITION_KEYS_FK1` FOREIGN KEY (`TBL_ID`) REFERENCES `TBLS` (`TBL_ID`);
ALTER TABLE `PARTITIONS` ADD UNIQUE KEY `UNIQUEPARTITION` (`PART_NAME`,`TBL_ID`), ADD KEY `PARTITIONS_N49` (`TBL_ID`), ADD KEY `PARTITIONS_N50` (`SD_ID`), ADD CONSTRAINT `PARTITIONS_FK1` FOREIGN KEY (`TBL_ID`) REFERENCES `TBLS` (`TBL_ID`), ADD CONSTRAINT `PARTITIONS_FK2` FOREIGN KEY (`SD_ID`) REFERENCES `SDS` (`SD_ID`);
ALTER TABLE `PARTITION_KEY_VALS` ADD KEY `PARTITION_KEY_VALS_N49` (`PART_ID`), ADD CONSTRAINT `PARTITION_KEY_VALS_FK1` FOREIGN KEY (`PART_ID`) REFERENCES `PARTITIONS` (`PART_ID`);
ALTER TABLE `PARTITION_PARAMS` ADD KEY `PARTITION_PARAMS_N49` (`PART_ID`), ADD CONSTRAINT `PARTITION_PARAMS_FK1` FOREIGN KEY (`PART_ID`) REFERENCES `PARTITIONS` (`PART_ID`);
"#
}

/// SQL statements (each a separate client call) that fill the MariaDB metastore.
fn mariadb_fill(s: &Shape) -> Vec<String> {
    let (t, d, ppt) = (s.tables, s.dbs, s.ppt);
    let mut out = Vec::new();
    out.push("INSERT INTO `VERSION` VALUES (1, '3.1.0', 'Hive release version 3.1.0')".to_string());
    out.push(format!(
        "INSERT INTO `DBS` SELECT seq, CONCAT('Data lake database db_', seq, ' (owned by team ', seq % 17, ')'), \
         CONCAT('gs://lake-us/warehouse/db_', seq, '.db'), CONCAT('db_', seq), 'hive', 'USER', 'hive' FROM seq_1_to_{d}"
    ));
    out.push(format!("INSERT INTO `CDS` SELECT seq FROM seq_1_to_{t}"));
    out.push(format!(
        "INSERT INTO `COLUMNS_V2` SELECT 1 + (seq - 1) DIV {c}, IF((seq - 1) % {c} < 4, CONCAT('from upstream topic events_v', seq % 5), NULL), \
         ELT(1 + (seq - 1) % {c}, {names}), ELT(1 + (seq - 1) % {c}, {types}), (seq - 1) % {c} FROM seq_1_to_{n}",
        c = COLS_PER_TABLE,
        names = sql_list(&COL_NAMES),
        types = sql_list(&COL_TYPES),
        n = t * COLS_PER_TABLE
    ));
    // table storage descriptors and serdes: ids 1..T; partitions' follow at T+1..T+P
    out.push(format!("INSERT INTO `SERDES` SELECT seq, NULL, '{SLIB}', NULL, NULL, NULL, NULL FROM seq_1_to_{t}"));
    out.push(format!("INSERT INTO `SERDE_PARAMS` SELECT seq, 'serialization.format', '1' FROM seq_1_to_{t}"));
    out.push(format!(
        "INSERT INTO `SDS` SELECT seq, seq, '{INPUT_FORMAT}', 0, 0, \
         CONCAT('gs://lake-us/warehouse/db_', 1 + (seq - 1) % {d}, '.db/tbl_', seq), -1, '{OUTPUT_FORMAT}', seq FROM seq_1_to_{t}"
    ));
    out.push(format!(
        "INSERT INTO `TBLS` SELECT seq, {EPOCH0} - 86400 * (seq % 400), 1 + (seq - 1) % {d}, 0, 'etl_svc', 'USER', 0, seq, \
         CONCAT('tbl_', seq), 'EXTERNAL_TABLE', NULL, NULL, 0 FROM seq_1_to_{t}"
    ));
    out.push(format!(
        "INSERT INTO `TABLE_PARAMS` SELECT s.seq, \
         ELT(k.seq, 'COLUMN_STATS_ACCURATE', 'EXTERNAL', 'numFiles', 'numRows', 'parquet.compression', 'rawDataSize', 'totalSize', 'transient_lastDdlTime'), \
         CASE k.seq WHEN 1 THEN '{TABLE_STATS}' WHEN 2 THEN 'TRUE' WHEN 3 THEN CAST(10 + s.seq * 31 % 5000 AS CHAR) \
         WHEN 4 THEN CAST(1000000 + s.seq * 7919 % 900000000 AS CHAR) WHEN 5 THEN 'SNAPPY' \
         WHEN 6 THEN CAST(50000000 + s.seq * 104729 % 90000000000 AS CHAR) WHEN 7 THEN CAST(20000000 + s.seq * 15485863 % 40000000000 AS CHAR) \
         ELSE CAST({EPOCH0} - 3600 * (s.seq % 2000) AS CHAR) END \
         FROM seq_1_to_{t} s JOIN seq_1_to_{k} k",
        k = TABLE_PARAMS_PER_TABLE
    ));
    out.push(format!("INSERT INTO `PARTITION_KEYS` SELECT s.seq, NULL, ELT(k.seq, 'dt', 'hour'), 'string', k.seq - 1 FROM seq_1_to_{t} s JOIN seq_1_to_2 k"));
    // partitions in batches; `s.seq` is PART_ID, the table is (PART_ID - 1) DIV ppt + 1
    let mut lo = 1;
    while lo <= s.partitions {
        let hi = (lo + BATCH - 1).min(s.partitions);
        let tbl = format!("(1 + (s.seq - 1) DIV {ppt})");
        let day = format!("(((s.seq - 1) % {ppt}) DIV 24)");
        let hour = format!("((s.seq - 1) % {ppt} % 24)");
        let dt = format!("DATE_FORMAT('2026-01-01' + INTERVAL {day} DAY, '%Y-%m-%d')");
        let hh = format!("LPAD({hour}, 2, '0')");
        let ctime = format!("({EPOCH0} + 86400 * {day} + 3600 * {hour} + 1800 + s.seq * 37 % 900)");
        let loc = format!("CONCAT('gs://lake-us/warehouse/db_', 1 + ({tbl} - 1) % {d}, '.db/tbl_', {tbl}, '/dt=', {dt}, '/hour=', {hh})");
        out.push(format!("INSERT INTO `SERDES` SELECT {t} + s.seq, NULL, '{SLIB}', NULL, NULL, NULL, NULL FROM seq_{lo}_to_{hi} s"));
        out.push(format!("INSERT INTO `SERDE_PARAMS` SELECT {t} + s.seq, 'serialization.format', '1' FROM seq_{lo}_to_{hi} s"));
        out.push(format!(
            "INSERT INTO `SDS` SELECT {t} + s.seq, {tbl}, '{INPUT_FORMAT}', 0, 0, {loc}, -1, '{OUTPUT_FORMAT}', {t} + s.seq FROM seq_{lo}_to_{hi} s"
        ));
        out.push(format!("INSERT INTO `PARTITIONS` SELECT s.seq, {ctime}, 0, CONCAT('dt=', {dt}, '/hour=', {hh}), {t} + s.seq, {tbl} FROM seq_{lo}_to_{hi} s"));
        out.push(format!("INSERT INTO `PARTITION_KEY_VALS` SELECT s.seq, IF(k.seq = 1, {dt}, {hh}), k.seq - 1 FROM seq_{lo}_to_{hi} s JOIN seq_1_to_2 k"));
        out.push(format!(
            "INSERT INTO `PARTITION_PARAMS` SELECT s.seq, \
             ELT(k.seq, 'COLUMN_STATS_ACCURATE', 'numFiles', 'numRows', 'rawDataSize', 'totalSize', 'transient_lastDdlTime'), \
             CASE k.seq WHEN 1 THEN '{PART_STATS}' WHEN 2 THEN CAST(1 + s.seq * 7 % 48 AS CHAR) \
             WHEN 3 THEN CAST(100000 + s.seq * 7919 % 9000000 AS CHAR) WHEN 4 THEN CAST(5000000 + s.seq * 104729 % 900000000 AS CHAR) \
             WHEN 5 THEN CAST(2000000 + s.seq * 15485863 % 400000000 AS CHAR) ELSE CAST({ctime} AS CHAR) END \
             FROM seq_{lo}_to_{hi} s JOIN seq_1_to_{k} k",
            k = PART_PARAMS_PER_PART
        ));
        lo = hi + 1;
    }
    out
}

fn generate_mariadb(server: &Server, db: &str, shape: &Shape) {
    server.sql("mysql", &format!("CREATE DATABASE `{db}` CHARACTER SET latin1 COLLATE latin1_bin"));
    server.sql(db, mariadb_ddl());
    let prelude = "SET SESSION sql_log_bin = 0, foreign_key_checks = 0, unique_checks = 0;";
    let stmts = mariadb_fill(shape);
    let n = stmts.len();
    for (i, stmt) in stmts.into_iter().enumerate() {
        server.sql(db, &format!("{prelude} {stmt}"));
        if i % 12 == 11 {
            log(format!("  mariadb: {}/{} insert statements", i + 1, n));
        }
    }
    log("  mariadb: secondary indexes and foreign keys");
    server.sql(db, &format!("{prelude} {}", mariadb_constraints()));
    server.sql(db, &format!("ANALYZE TABLE {}", TABLES.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")));
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL generator (Hive 3.1 PostgreSQL schema: quoted upper-case names, boolean)

fn postgres_ddl() -> &'static str {
    r#"
CREATE TABLE "VERSION" ("VER_ID" bigint NOT NULL, "SCHEMA_VERSION" character varying(127) NOT NULL, "VERSION_COMMENT" character varying(255) NOT NULL);
CREATE TABLE "DBS" ("DB_ID" bigint NOT NULL, "DESC" character varying(4000) DEFAULT NULL::character varying, "DB_LOCATION_URI" character varying(4000) NOT NULL, "NAME" character varying(128) DEFAULT NULL::character varying, "OWNER_NAME" character varying(128) DEFAULT NULL::character varying, "OWNER_TYPE" character varying(10) DEFAULT NULL::character varying, "CTLG_NAME" varchar(256) DEFAULT 'hive' NOT NULL);
CREATE TABLE "CDS" ("CD_ID" bigint NOT NULL);
CREATE TABLE "COLUMNS_V2" ("CD_ID" bigint NOT NULL, "COMMENT" character varying(4000), "COLUMN_NAME" character varying(767) NOT NULL, "TYPE_NAME" text, "INTEGER_IDX" integer NOT NULL);
CREATE TABLE "SERDES" ("SERDE_ID" bigint NOT NULL, "NAME" character varying(128) DEFAULT NULL::character varying, "SLIB" character varying(4000) DEFAULT NULL::character varying, "DESCRIPTION" varchar(4000), "SERIALIZER_CLASS" varchar(4000), "DESERIALIZER_CLASS" varchar(4000), "SERDE_TYPE" integer);
CREATE TABLE "SERDE_PARAMS" ("SERDE_ID" bigint NOT NULL, "PARAM_KEY" character varying(256) NOT NULL, "PARAM_VALUE" text DEFAULT NULL);
CREATE TABLE "SDS" ("SD_ID" bigint NOT NULL, "INPUT_FORMAT" character varying(4000) DEFAULT NULL::character varying, "IS_COMPRESSED" boolean NOT NULL, "LOCATION" character varying(4000) DEFAULT NULL::character varying, "NUM_BUCKETS" bigint NOT NULL, "OUTPUT_FORMAT" character varying(4000) DEFAULT NULL::character varying, "SERDE_ID" bigint, "CD_ID" bigint, "IS_STOREDASSUBDIRECTORIES" boolean NOT NULL);
CREATE TABLE "TBLS" ("TBL_ID" bigint NOT NULL, "CREATE_TIME" bigint NOT NULL, "DB_ID" bigint, "LAST_ACCESS_TIME" bigint NOT NULL, "OWNER" character varying(767) DEFAULT NULL::character varying, "OWNER_TYPE" character varying(10) DEFAULT NULL::character varying, "RETENTION" bigint NOT NULL, "SD_ID" bigint, "TBL_NAME" character varying(256) DEFAULT NULL::character varying, "TBL_TYPE" character varying(128) DEFAULT NULL::character varying, "VIEW_EXPANDED_TEXT" text, "VIEW_ORIGINAL_TEXT" text, "IS_REWRITE_ENABLED" boolean NOT NULL DEFAULT false);
CREATE TABLE "TABLE_PARAMS" ("TBL_ID" bigint NOT NULL, "PARAM_KEY" character varying(256) NOT NULL, "PARAM_VALUE" text DEFAULT NULL);
CREATE TABLE "PARTITION_KEYS" ("TBL_ID" bigint NOT NULL, "PKEY_COMMENT" character varying(4000) DEFAULT NULL::character varying, "PKEY_NAME" character varying(128) NOT NULL, "PKEY_TYPE" character varying(767) NOT NULL, "INTEGER_IDX" bigint NOT NULL);
CREATE TABLE "PARTITIONS" ("PART_ID" bigint NOT NULL, "CREATE_TIME" bigint NOT NULL, "LAST_ACCESS_TIME" bigint NOT NULL, "PART_NAME" character varying(767) DEFAULT NULL::character varying, "SD_ID" bigint, "TBL_ID" bigint);
CREATE TABLE "PARTITION_KEY_VALS" ("PART_ID" bigint NOT NULL, "PART_KEY_VAL" character varying(256) DEFAULT NULL::character varying, "INTEGER_IDX" bigint NOT NULL);
CREATE TABLE "PARTITION_PARAMS" ("PART_ID" bigint NOT NULL, "PARAM_KEY" character varying(256) NOT NULL, "PARAM_VALUE" character varying(4000) DEFAULT NULL::character varying);
"#
}

/// Keys, indexes and foreign keys of Hive's PostgreSQL schema, added after the load.
fn postgres_constraints() -> &'static str {
    r#"
ALTER TABLE "VERSION" ADD CONSTRAINT "VERSION_pkey" PRIMARY KEY ("VER_ID");
ALTER TABLE "DBS" ADD CONSTRAINT "DBS_pkey" PRIMARY KEY ("DB_ID"), ADD CONSTRAINT "UNIQUE_DATABASE" UNIQUE ("NAME", "CTLG_NAME");
ALTER TABLE "CDS" ADD CONSTRAINT "CDS_pkey" PRIMARY KEY ("CD_ID");
ALTER TABLE "COLUMNS_V2" ADD CONSTRAINT "COLUMNS_V2_pkey" PRIMARY KEY ("CD_ID", "COLUMN_NAME");
ALTER TABLE "SERDES" ADD CONSTRAINT "SERDES_pkey" PRIMARY KEY ("SERDE_ID");
ALTER TABLE "SERDE_PARAMS" ADD CONSTRAINT "SERDE_PARAMS_pkey" PRIMARY KEY ("SERDE_ID", "PARAM_KEY");
ALTER TABLE "SDS" ADD CONSTRAINT "SDS_pkey" PRIMARY KEY ("SD_ID");
ALTER TABLE "TBLS" ADD CONSTRAINT "TBLS_pkey" PRIMARY KEY ("TBL_ID"), ADD CONSTRAINT "UNIQUETABLE" UNIQUE ("TBL_NAME", "DB_ID");
ALTER TABLE "TABLE_PARAMS" ADD CONSTRAINT "TABLE_PARAMS_pkey" PRIMARY KEY ("TBL_ID", "PARAM_KEY");
ALTER TABLE "PARTITION_KEYS" ADD CONSTRAINT "PARTITION_KEY_PKEY" PRIMARY KEY ("TBL_ID", "PKEY_NAME");
ALTER TABLE "PARTITIONS" ADD CONSTRAINT "PARTITIONS_pkey" PRIMARY KEY ("PART_ID"), ADD CONSTRAINT "UNIQUEPARTITION" UNIQUE ("PART_NAME", "TBL_ID");
ALTER TABLE "PARTITION_KEY_VALS" ADD CONSTRAINT "PARTITION_KEY_VALS_pkey" PRIMARY KEY ("PART_ID", "INTEGER_IDX");
ALTER TABLE "PARTITION_PARAMS" ADD CONSTRAINT "PARTITION_PARAMS_pkey" PRIMARY KEY ("PART_ID", "PARAM_KEY");
CREATE INDEX "COLUMNS_V2_N49" ON "COLUMNS_V2" USING btree ("CD_ID");
CREATE INDEX "SERDE_PARAMS_N49" ON "SERDE_PARAMS" USING btree ("SERDE_ID");
CREATE INDEX "SDS_N49" ON "SDS" USING btree ("SERDE_ID");
CREATE INDEX "SDS_N50" ON "SDS" USING btree ("CD_ID");
CREATE INDEX "TBLS_N49" ON "TBLS" USING btree ("DB_ID");
CREATE INDEX "TBLS_N50" ON "TBLS" USING btree ("SD_ID");
CREATE INDEX "TABLE_PARAMS_N49" ON "TABLE_PARAMS" USING btree ("TBL_ID");
CREATE INDEX "PARTITION_KEYS_N49" ON "PARTITION_KEYS" USING btree ("TBL_ID");
CREATE INDEX "PARTITIONS_N49" ON "PARTITIONS" USING btree ("TBL_ID");
CREATE INDEX "PARTITIONS_N50" ON "PARTITIONS" USING btree ("SD_ID");
CREATE INDEX "PARTITION_KEY_VALS_N49" ON "PARTITION_KEY_VALS" USING btree ("PART_ID");
CREATE INDEX "PARTITION_PARAMS_N49" ON "PARTITION_PARAMS" USING btree ("PART_ID");
ALTER TABLE "COLUMNS_V2" ADD CONSTRAINT "COLUMNS_V2_CD_ID_fkey" FOREIGN KEY ("CD_ID") REFERENCES "CDS"("CD_ID") DEFERRABLE;
ALTER TABLE "SERDE_PARAMS" ADD CONSTRAINT "SERDE_PARAMS_SERDE_ID_fkey" FOREIGN KEY ("SERDE_ID") REFERENCES "SERDES"("SERDE_ID") DEFERRABLE;
ALTER TABLE "SDS" ADD CONSTRAINT "SDS_SERDE_ID_fkey" FOREIGN KEY ("SERDE_ID") REFERENCES "SERDES"("SERDE_ID") DEFERRABLE;
ALTER TABLE "SDS" ADD CONSTRAINT "SDS_CD_ID_fkey" FOREIGN KEY ("CD_ID") REFERENCES "CDS"("CD_ID") DEFERRABLE;
ALTER TABLE "TBLS" ADD CONSTRAINT "TBLS_DB_ID_fkey" FOREIGN KEY ("DB_ID") REFERENCES "DBS"("DB_ID") DEFERRABLE;
ALTER TABLE "TBLS" ADD CONSTRAINT "TBLS_SD_ID_fkey" FOREIGN KEY ("SD_ID") REFERENCES "SDS"("SD_ID") DEFERRABLE;
ALTER TABLE "TABLE_PARAMS" ADD CONSTRAINT "TABLE_PARAMS_TBL_ID_fkey" FOREIGN KEY ("TBL_ID") REFERENCES "TBLS"("TBL_ID") DEFERRABLE;
ALTER TABLE "PARTITION_KEYS" ADD CONSTRAINT "PARTITION_KEYS_TBL_ID_fkey" FOREIGN KEY ("TBL_ID") REFERENCES "TBLS"("TBL_ID") DEFERRABLE;
ALTER TABLE "PARTITIONS" ADD CONSTRAINT "PARTITIONS_TBL_ID_fkey" FOREIGN KEY ("TBL_ID") REFERENCES "TBLS"("TBL_ID") DEFERRABLE;
ALTER TABLE "PARTITIONS" ADD CONSTRAINT "PARTITIONS_SD_ID_fkey" FOREIGN KEY ("SD_ID") REFERENCES "SDS"("SD_ID") DEFERRABLE;
ALTER TABLE "PARTITION_KEY_VALS" ADD CONSTRAINT "PARTITION_KEY_VALS_PART_ID_fkey" FOREIGN KEY ("PART_ID") REFERENCES "PARTITIONS"("PART_ID") DEFERRABLE;
ALTER TABLE "PARTITION_PARAMS" ADD CONSTRAINT "PARTITION_PARAMS_PART_ID_fkey" FOREIGN KEY ("PART_ID") REFERENCES "PARTITIONS"("PART_ID") DEFERRABLE;
"#
}

fn postgres_fill(s: &Shape) -> Vec<String> {
    let (t, d, ppt) = (s.tables, s.dbs, s.ppt);
    let arr = |items: &[&str]| format!("(ARRAY[{}])", sql_list(items));
    let mut out = Vec::new();
    out.push(r#"INSERT INTO "VERSION" VALUES (1, '3.1.0', 'Hive release version 3.1.0')"#.to_string());
    out.push(format!(
        r#"INSERT INTO "DBS" SELECT g, 'Data lake database db_' || g || ' (owned by team ' || g % 17 || ')', 'gs://lake-us/warehouse/db_' || g || '.db', 'db_' || g, 'hive', 'USER', 'hive' FROM generate_series(1::bigint, {d}) g"#
    ));
    out.push(format!(r#"INSERT INTO "CDS" SELECT g FROM generate_series(1::bigint, {t}) g"#));
    out.push(format!(
        r#"INSERT INTO "COLUMNS_V2" SELECT 1 + (g - 1) / {c}, CASE WHEN (g - 1) % {c} < 4 THEN 'from upstream topic events_v' || g % 5 END, {names}[1 + (g - 1) % {c}], {types}[1 + (g - 1) % {c}], (g - 1) % {c} FROM generate_series(1::bigint, {n}) g"#,
        c = COLS_PER_TABLE,
        names = arr(&COL_NAMES),
        types = arr(&COL_TYPES),
        n = t * COLS_PER_TABLE
    ));
    out.push(format!(r#"INSERT INTO "SERDES" SELECT g, NULL, '{SLIB}', NULL, NULL, NULL, NULL FROM generate_series(1::bigint, {t}) g"#));
    out.push(format!(r#"INSERT INTO "SERDE_PARAMS" SELECT g, 'serialization.format', '1' FROM generate_series(1::bigint, {t}) g"#));
    out.push(format!(
        r#"INSERT INTO "SDS" SELECT g, '{INPUT_FORMAT}', false, 'gs://lake-us/warehouse/db_' || 1 + (g - 1) % {d} || '.db/tbl_' || g, -1, '{OUTPUT_FORMAT}', g, g, false FROM generate_series(1::bigint, {t}) g"#
    ));
    out.push(format!(
        r#"INSERT INTO "TBLS" SELECT g, {EPOCH0} - 86400 * (g % 400), 1 + (g - 1) % {d}, 0, 'etl_svc', 'USER', 0, g, 'tbl_' || g, 'EXTERNAL_TABLE', NULL, NULL, false FROM generate_series(1::bigint, {t}) g"#
    ));
    out.push(format!(
        r#"INSERT INTO "TABLE_PARAMS" SELECT s, {keys}[k], CASE k WHEN 1 THEN '{TABLE_STATS}' WHEN 2 THEN 'TRUE' WHEN 3 THEN (10 + s * 31 % 5000)::text
         WHEN 4 THEN (1000000 + s * 7919 % 900000000)::text WHEN 5 THEN 'SNAPPY' WHEN 6 THEN (50000000 + s * 104729 % 90000000000)::text
         WHEN 7 THEN (20000000 + s * 15485863 % 40000000000)::text ELSE ({EPOCH0} - 3600 * (s % 2000))::text END
         FROM generate_series(1::bigint, {t}) s, generate_series(1::bigint, {k}) k"#,
        keys = arr(&["COLUMN_STATS_ACCURATE", "EXTERNAL", "numFiles", "numRows", "parquet.compression", "rawDataSize", "totalSize", "transient_lastDdlTime"]),
        k = TABLE_PARAMS_PER_TABLE
    ));
    out.push(format!(
        r#"INSERT INTO "PARTITION_KEYS" SELECT s, NULL, (ARRAY['dt', 'hour'])[k], 'string', k - 1 FROM generate_series(1::bigint, {t}) s, generate_series(1, 2) k"#
    ));
    let mut lo = 1;
    while lo <= s.partitions {
        let hi = (lo + BATCH - 1).min(s.partitions);
        let tbl = format!("(1 + (s - 1) / {ppt})");
        let day = format!("(((s - 1) % {ppt}) / 24)");
        let hour = format!("((s - 1) % {ppt} % 24)");
        let dt = format!("to_char(date '2026-01-01' + {day}::int, 'YYYY-MM-DD')");
        let hh = format!("lpad({hour}::text, 2, '0')");
        let ctime = format!("({EPOCH0} + 86400 * {day} + 3600 * {hour} + 1800 + s * 37 % 900)");
        let loc = format!("'gs://lake-us/warehouse/db_' || 1 + ({tbl} - 1) % {d} || '.db/tbl_' || {tbl} || '/dt=' || {dt} || '/hour=' || {hh}");
        let gs = format!("generate_series({lo}::bigint, {hi}) s");
        out.push(format!(r#"INSERT INTO "SERDES" SELECT {t} + s, NULL, '{SLIB}', NULL, NULL, NULL, NULL FROM {gs}"#));
        out.push(format!(r#"INSERT INTO "SERDE_PARAMS" SELECT {t} + s, 'serialization.format', '1' FROM {gs}"#));
        out.push(format!(r#"INSERT INTO "SDS" SELECT {t} + s, '{INPUT_FORMAT}', false, {loc}, -1, '{OUTPUT_FORMAT}', {t} + s, {tbl}, false FROM {gs}"#));
        out.push(format!(r#"INSERT INTO "PARTITIONS" SELECT s, {ctime}, 0, 'dt=' || {dt} || '/hour=' || {hh}, {t} + s, {tbl} FROM {gs}"#));
        out.push(format!(r#"INSERT INTO "PARTITION_KEY_VALS" SELECT s, CASE WHEN k = 1 THEN {dt} ELSE {hh} END, k - 1 FROM {gs}, generate_series(1, 2) k"#));
        out.push(format!(
            r#"INSERT INTO "PARTITION_PARAMS" SELECT s, {keys}[k], CASE k WHEN 1 THEN '{PART_STATS}' WHEN 2 THEN (1 + s * 7 % 48)::text
             WHEN 3 THEN (100000 + s * 7919 % 9000000)::text WHEN 4 THEN (5000000 + s * 104729 % 900000000)::text
             WHEN 5 THEN (2000000 + s * 15485863 % 400000000)::text ELSE {ctime}::text END
             FROM {gs}, generate_series(1::bigint, {k}) k"#,
            keys = arr(&["COLUMN_STATS_ACCURATE", "numFiles", "numRows", "rawDataSize", "totalSize", "transient_lastDdlTime"]),
            k = PART_PARAMS_PER_PART
        ));
        lo = hi + 1;
    }
    out
}

fn generate_postgres(server: &Server, db: &str, shape: &Shape) {
    server.sql("postgres", &format!("CREATE DATABASE \"{db}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"));
    server.sql(db, postgres_ddl());
    let stmts = postgres_fill(shape);
    let n = stmts.len();
    for (i, stmt) in stmts.into_iter().enumerate() {
        server.sql(db, &stmt);
        if i % 12 == 11 {
            log(format!("  postgres: {}/{} insert statements", i + 1, n));
        }
    }
    log("  postgres: keys, indexes and foreign keys");
    server.sql(db, &format!("SET maintenance_work_mem = '256MB'; {}", postgres_constraints()));
    log("  postgres: VACUUM (FREEZE, ANALYZE)");
    server.sql(db, "VACUUM (FREEZE, ANALYZE)");
}

// ---------------------------------------------------------------------------------------------
// Measured runs

#[derive(Clone, Debug, Default)]
struct Run {
    secs: f64,
    rss_mb: f64,
    cpu_client: f64,
    cpu_server: f64,
    ok: bool,
    stdout: String,
    stderr: String,
}

/// CPU seconds (user + system, own + reaped children) of `pid` from /proc.
fn proc_cpu(pid: i32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // after "pid (comm) ": state is f[0]; utime f[11], stime f[12], cutime f[13], cstime f[14]
    let ticks: f64 = (11..=14).filter_map(|i| f.get(i)?.parse::<f64>().ok()).sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz.max(1.0)
}

struct Runner {
    work: PathBuf,
    timeout: Duration,
    top: bool,
    n: usize,
}

impl Runner {
    /// Runs `cmd` with optional stdin/stdout files, measuring wall time, peak RSS (wait4) and CPU.
    fn run(&mut self, label: &str, mut cmd: Command, stdin: Option<File>, stdout: Option<File>, server: &Server) -> Run {
        self.n += 1;
        let out_path = self.work.join(format!("run{:02}.stdout", self.n));
        let err_path = self.work.join(format!("run{:02}.stderr", self.n));
        cmd.stdin(stdin.map(Stdio::from).unwrap_or_else(Stdio::null));
        cmd.stdout(match stdout {
            Some(f) => Stdio::from(f),
            None => Stdio::from(File::create(&out_path).expect("stdout file")),
        });
        cmd.stderr(Stdio::from(File::create(&err_path).expect("stderr file")));
        log(format!("run: {label}"));
        let server_cpu0 = proc_cpu(server.pid());
        let t0 = Instant::now();
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {label}: {e}"));
        let pid = child.id() as i32;
        let mut status = 0;
        // SAFETY: rusage is plain data.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let mut next_top = Instant::now() + Duration::from_secs(2);
        let mut killed = false;
        loop {
            // SAFETY: we wait only for our own child.
            let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
            if r == pid {
                break;
            }
            if r < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                panic!("wait4 {label}: {err}");
            }
            if !killed && t0.elapsed() > self.timeout {
                log(format!("  {label}: timeout after {:?}, killing pid {pid}", self.timeout));
                // SAFETY: our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                killed = true;
            }
            if self.top && Instant::now() >= next_top {
                next_top = Instant::now() + Duration::from_secs(5);
                self.top_snapshot(label, t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let secs = t0.elapsed().as_secs_f64();
        drop(child);
        // let the postmaster reap the backends of the run
        std::thread::sleep(Duration::from_millis(300));
        let cpu_server = proc_cpu(server.pid()) - server_cpu0;
        let cpu_client = tv(ru.ru_utime) + tv(ru.ru_stime);
        let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        let run = Run { secs, rss_mb: ru.ru_maxrss as f64 / 1024.0, cpu_client, cpu_server, ok, stdout, stderr };
        log(format!(
            "  {label}: {} in {:.2}s, peak RSS {:.1} MB, CPU client {:.1}s server {:.1}s",
            if ok { "ok".to_string() } else { format!("FAILED (wait status {status:#x})") },
            run.secs,
            run.rss_mb,
            run.cpu_client,
            run.cpu_server
        ));
        if !ok {
            eprintln!("---- stderr of {label} (last 3000 chars) ----\n{}", tail(&run.stderr, 3000));
            eprintln!("---- stdout of {label} (last 1000 chars) ----\n{}", tail(&run.stdout, 1000));
        }
        run
    }

    fn top_snapshot(&self, label: &str, at: Duration) {
        if let Ok(out) = Command::new("top").args(["-b", "-n1", "-w", "200"]).output() {
            let text = String::from_utf8_lossy(&out.stdout);
            let head: Vec<&str> = text.lines().take(14).collect();
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(self.work.join("top.log")) {
                let _ = writeln!(f, "==== {label} at {:.1}s\n{}\n", at.as_secs_f64(), head.join("\n"));
            }
        }
    }
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut start = s.len() - n;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn dir_size(p: &Path) -> u64 {
    let Ok(md) = std::fs::symlink_metadata(p) else { return 0 };
    if md.is_dir() {
        std::fs::read_dir(p).map(|rd| rd.filter_map(|e| e.ok()).map(|e| dir_size(&e.path())).sum()).unwrap_or(0)
    } else {
        md.len()
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

fn tool_version(bin: &Path) -> String {
    Command::new(bin).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_else(|_| "?".into())
}

// ---------------------------------------------------------------------------------------------
// Verification

/// Per table: (rows, content fingerprint). MariaDB: CHECKSUM TABLE; PostgreSQL: sum of
/// hashtext(row::text), order-independent.
fn fingerprint(server: &Server, db: &str) -> Vec<(String, u64, String)> {
    TABLES
        .iter()
        .map(|t| match server.flavor() {
            Flavor::MariaDb => {
                let out = server.sql(db, &format!("SELECT COUNT(*) FROM `{t}`; CHECKSUM TABLE `{t}`"));
                let mut lines = out.lines();
                let n = lines.next().unwrap_or("0").trim().parse().unwrap_or(0);
                let sum = lines.next().and_then(|l| l.split('\t').nth(1)).unwrap_or("?").to_string();
                (t.to_string(), n, sum)
            }
            Flavor::Postgres => {
                let out = server.sql(db, &format!("SELECT count(*), coalesce(sum(hashtext(x::text)::bigint), 0) FROM \"{t}\" x"));
                let mut f = out.split('\t');
                let n = f.next().unwrap_or("0").trim().parse().unwrap_or(0);
                (t.to_string(), n, f.next().unwrap_or("?").to_string())
            }
        })
        .collect()
}

#[derive(Clone, Debug)]
struct Match {
    counts: bool,
    content: bool,
    detail: String,
}

fn compare(src: &[(String, u64, String)], server: &Server, db: &str) -> Match {
    let dst = fingerprint(server, db);
    let mut counts = true;
    let mut content = true;
    let mut detail = Vec::new();
    for ((t, n, h), (_, n2, h2)) in src.iter().zip(&dst) {
        if n != n2 {
            counts = false;
            detail.push(format!("{t}: {n} rows vs {n2}"));
        } else if h != h2 {
            content = false;
            detail.push(format!("{t}: checksum {h} vs {h2}"));
        }
    }
    Match { counts, content: content && counts, detail: detail.join("; ") }
}

fn match_str(m: &Option<Match>) -> String {
    match m {
        None => "n/a".into(),
        Some(m) if m.content => "yes (counts + checksums)".into(),
        Some(m) if m.counts => "counts yes, checksums differ".into(),
        Some(_) => "NO".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// One engine's measurements

#[derive(Default)]
struct EngineResult {
    name: &'static str,
    version: String,
    alt_backup_tool: String,
    alt_restore_tool: String,
    rows: u64,
    db_size_mb: f64,
    t_backup: Run,
    t_backup_json: serde_json::Value,
    t_backup2: Run,
    t_backup2_json: serde_json::Value,
    repo_bytes_1: u64,
    repo_bytes_2: u64,
    t_restore: Run,
    t_restore_match: Option<Match>,
    a_backup: Run,
    a_size: u64,
    a_restore: Run,
    a_restore_match: Option<Match>,
}

impl EngineResult {
    fn second_pct(&self) -> Option<f64> {
        let first = self.t_backup_json.get("new_bytes")?.as_f64()?;
        let second = self.t_backup2_json.get("new_bytes")?.as_f64()?;
        (first > 0.0).then(|| 100.0 * second / first)
    }
    fn second_pct_dir(&self) -> Option<f64> {
        (self.repo_bytes_1 > 0 && self.t_backup2.ok).then(|| 100.0 * (self.repo_bytes_2.saturating_sub(self.repo_bytes_1)) as f64 / self.repo_bytes_1 as f64)
    }
}

fn parse_json(s: &str) -> serde_json::Value {
    // the JSON object is the whole stdout (pretty-printed); be tolerant of lines before it
    serde_json::from_str(s.trim()).ok().or_else(|| s.find('{').and_then(|i| serde_json::from_str(s[i..].trim()).ok())).unwrap_or(serde_json::Value::Null)
}

fn tandem_backup_cmd(source: &str, repo: &Path, parallel: Option<u16>) -> Command {
    let mut c = Command::new(tandem_bin());
    c.args(["--json", "backup", "--source", source, "--repo"]).arg(repo);
    if let Some(p) = parallel {
        c.args(["--parallel", &p.to_string()]);
    }
    c
}

fn tandem_restore_cmd(target: &str, repo: &Path) -> Command {
    let mut c = Command::new(tandem_bin());
    c.args(["restore", "--target", target, "--repo"]).arg(repo);
    c
}

/// A throwaway server of `flavor` holding the generated metastore `db` of `shape` (each table's
/// row count checked), with the engine's name, the server's version, the fingerprint of the
/// generated tables and how long generating took.
struct Generated {
    name: &'static str,
    server: Server,
    version: String,
    src: Vec<(String, u64, String)>,
    secs: f64,
}

fn generate(flavor: Flavor, db: &str, shape: &Shape) -> Generated {
    let name = match flavor {
        Flavor::MariaDb => "MariaDB",
        Flavor::Postgres => "PostgreSQL",
    };
    log(format!("== {name}: starting a throwaway server"));
    let server = Server::start(flavor);
    let version = match flavor {
        Flavor::MariaDb => server.sql("mysql", "SELECT VERSION()"),
        Flavor::Postgres => server.sql("postgres", "SHOW server_version"),
    };
    log(format!("== {name} {version}: generating {} rows ({shape:?})", shape.total()));
    let t0 = Instant::now();
    match flavor {
        Flavor::MariaDb => generate_mariadb(&server, db, shape),
        Flavor::Postgres => generate_postgres(&server, db, shape),
    }
    let src = fingerprint(&server, db);
    for ((t, n, _), (t2, want)) in src.iter().zip(shape.expected()) {
        assert!(t == t2 && *n == want, "generated {t}: {n} rows, expected {want}");
    }
    Generated { name, server, version, src, secs: t0.elapsed().as_secs_f64() }
}

fn bench_engine(flavor: Flavor, opts: &Opts, runner: &mut Runner, shape: &Shape) -> EngineResult {
    let db = "metastore";
    let Generated { name, server, version, src, secs: generated_in } = generate(flavor, db, shape);
    let mut r = EngineResult { name, version, ..Default::default() };
    r.rows = src.iter().map(|(_, n, _)| n).sum();
    r.db_size_mb = match flavor {
        Flavor::MariaDb => {
            server.sql("mysql", &format!("SELECT SUM(data_length + index_length) / 1048576 FROM information_schema.tables WHERE table_schema = '{db}'"))
        }
        Flavor::Postgres => server.sql(db, "SELECT pg_database_size(current_database()) / 1048576.0"),
    }
    .trim()
    .parse()
    .unwrap_or(0.0);
    log(format!(
        "  generated {} rows in {:.1}s, database size {:.0} MB: {}",
        r.rows,
        generated_in,
        r.db_size_mb,
        src.iter().map(|(t, n, _)| format!("{t}={n}")).collect::<Vec<_>>().join(" ")
    ));

    let work = runner.work.join(name.to_lowercase());
    std::fs::create_dir_all(&work).expect("work dir");
    let repo = work.join("repo");
    let source = server.url(db);

    // ---- tandem backup, twice
    r.t_backup = runner.run(&format!("{name}: tandem backup"), tandem_backup_cmd(&source, &repo, opts.parallel), None, None, &server);
    r.t_backup_json = parse_json(&r.t_backup.stdout);
    r.repo_bytes_1 = dir_size(&repo);
    log(format!("  repository {} bytes; backup report {}", r.repo_bytes_1, r.t_backup_json));
    if r.t_backup.ok {
        r.t_backup2 = runner.run(&format!("{name}: tandem backup (2nd, unchanged)"), tandem_backup_cmd(&source, &repo, opts.parallel), None, None, &server);
        r.t_backup2_json = parse_json(&r.t_backup2.stdout);
        r.repo_bytes_2 = dir_size(&repo);
        log(format!("  repository {} bytes; backup report {}", r.repo_bytes_2, r.t_backup2_json));
    }

    // ---- the alternative's backup
    let (args, env) = server.tool_args(db);
    match flavor {
        Flavor::MariaDb => {
            let bin = which("mariadb-dump").or_else(|| which("mysqldump")).expect("mariadb-dump or mysqldump on PATH");
            r.alt_backup_tool = format!("{} --single-transaction --quick", bin.file_name().unwrap_or_default().to_string_lossy());
            let dump = work.join("dump.sql");
            let mut c = Command::new(&bin);
            c.arg(&args[0]).args(["--single-transaction", "--quick"]).args(&args[1..]).envs(env.clone());
            r.a_backup = runner.run(&format!("{name}: {}", r.alt_backup_tool), c, None, Some(File::create(&dump).expect("dump file")), &server);
            r.a_size = dir_size(&dump);
        }
        Flavor::Postgres => {
            let bin = tandem_testkit::pg_bin("pg_dump");
            r.alt_backup_tool = "pg_dump -Fd -j2".into();
            let dump = work.join("pgdump");
            let mut c = Command::new(&bin);
            c.args(["-Fd", "-j2", "-f"]).arg(&dump).args(&args).envs(env.clone());
            r.a_backup = runner.run(&format!("{name}: {}", r.alt_backup_tool), c, None, None, &server);
            r.a_size = dir_size(&dump);
        }
    }

    // ---- tandem restore into a new database
    if r.t_backup.ok {
        let target = "restored_tandem";
        r.t_restore = runner.run(&format!("{name}: tandem restore"), tandem_restore_cmd(&server.url(target), &repo), None, None, &server);
        if r.t_restore.ok {
            r.t_restore_match = Some(compare(&src, &server, target));
            log(format!("  tandem restore matches: {} {}", match_str(&r.t_restore_match), r.t_restore_match.as_ref().map(|m| m.detail.as_str()).unwrap_or("")));
        }
    }

    // ---- the alternative's restore into a new database
    if r.a_backup.ok {
        let target = "restored_alt";
        match flavor {
            Flavor::MariaDb => {
                server.sql("mysql", &format!("CREATE DATABASE `{target}` CHARACTER SET latin1 COLLATE latin1_bin"));
                let bin = which("mariadb").or_else(|| which("mysql")).expect("mariadb client on PATH");
                r.alt_restore_tool = format!("{} < dump.sql", bin.file_name().unwrap_or_default().to_string_lossy());
                let (args, env) = server.tool_args(target);
                let mut c = Command::new(&bin);
                c.args(&args).envs(env);
                let input = File::open(work.join("dump.sql")).expect("dump file");
                r.a_restore = runner.run(&format!("{name}: {}", r.alt_restore_tool), c, Some(input), None, &server);
            }
            Flavor::Postgres => {
                server.sql("postgres", &format!("CREATE DATABASE \"{target}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"));
                r.alt_restore_tool = "pg_restore -j2".into();
                let (args, env) = server.tool_args(target);
                let mut c = Command::new(tandem_testkit::pg_bin("pg_restore"));
                c.args(["-j2", "--exit-on-error"]).args(&args).arg(work.join("pgdump")).envs(env);
                r.a_restore = runner.run(&format!("{name}: {}", r.alt_restore_tool), c, None, None, &server);
            }
        }
        if r.a_restore.ok {
            r.a_restore_match = Some(compare(&src, &server, target));
            log(format!(
                "  {} matches: {} {}",
                r.alt_restore_tool,
                match_str(&r.a_restore_match),
                r.a_restore_match.as_ref().map(|m| m.detail.as_str()).unwrap_or("")
            ));
        }
    }
    log(format!("== {name}: stopping the server"));
    drop(server);
    r
}

// ---------------------------------------------------------------------------------------------
// Report

fn secs(r: &Run) -> String {
    if r.ok {
        format!("{:.1}", r.secs)
    } else if r.secs > 0.0 {
        format!("FAILED ({:.1})", r.secs)
    } else {
        "not run".into()
    }
}

fn ratio(a: &Run, b: &Run) -> String {
    if a.ok && b.ok && b.secs > 0.0 {
        let x = a.secs / b.secs;
        // judged on the value shown
        format!("{x:.2} {}", if (x * 100.0).round() <= 50.0 { "✓" } else { "✗" })
    } else {
        "-".into()
    }
}

fn rss(r: &Run) -> String {
    if r.secs > 0.0 {
        format!("{:.0}", r.rss_mb)
    } else {
        "-".into()
    }
}

fn rss_mark(r: &Run) -> String {
    if r.secs > 0.0 {
        format!("{:.0} {}", r.rss_mb, if r.rss_mb <= 200.0 { "✓" } else { "✗" })
    } else {
        "-".into()
    }
}

fn cpu(r: &Run) -> String {
    if r.secs > 0.0 {
        format!("{:.1} / {:.1}", r.cpu_client, r.cpu_server)
    } else {
        "-".into()
    }
}

fn mb(b: u64) -> String {
    format!("{:.0} MB", b as f64 / 1048576.0)
}

fn markdown(results: &[EngineResult], opts: &Opts, shape: &Shape) -> String {
    let mut s = String::new();
    let date = Command::new("date").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find(|l| l.starts_with("MemTotal")).map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<f64>().unwrap_or(0.0)))
        .unwrap_or(0.0);
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_default();
    let tandem_version =
        Command::new(tandem_bin()).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    s += &format!("- date: {date}\n");
    s += &format!("- machine: {nproc} CPUs ({cpu_model}), {:.1} GiB RAM\n", mem / 1048576.0);
    let build = if tandem_bin().to_string_lossy().contains("/release/") { "release build" } else { "NOT a release build" };
    s += &format!("- {tandem_version} ({build}, {}); --rows {} → {shape:?}\n", tandem_bin().display(), opts.rows);
    for r in results {
        s += &format!(
            "- {} {}: {} rows, {:.0} MB on disk (data + indexes); {} / {}\n",
            r.name, r.version, r.rows, r.db_size_mb, r.alt_backup_tool, r.alt_restore_tool
        );
    }
    s += &format!(
        "- tools: {}; {}\n",
        tool_version(&which("mariadb-dump").or_else(|| which("mysqldump")).unwrap_or_default()),
        tool_version(&tandem_testkit::pg_bin("pg_dump"))
    );
    s += "\n| engine | step | tandem s | alternative | alt s | tandem/alt (≤ 0.5) | tandem peak RSS MB (≤ 200) | alt peak RSS MB | CPU s tandem client/server | CPU s alt client/server | output size tandem / alt | restored copy matches (tandem / alt) |\n";
    s += "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|\n";
    for r in results {
        let stored = r.t_backup_json.get("new_bytes").and_then(|v| v.as_u64()).unwrap_or(r.repo_bytes_1);
        s += &format!(
            "| {} | backup | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | |\n",
            r.name,
            secs(&r.t_backup),
            r.alt_backup_tool,
            secs(&r.a_backup),
            ratio(&r.t_backup, &r.a_backup),
            rss_mark(&r.t_backup),
            rss(&r.a_backup),
            cpu(&r.t_backup),
            cpu(&r.a_backup),
            mb(stored),
            mb(r.a_size),
        );
        s += &format!(
            "| {} | restore | {} | {} | {} | {} | {} | {} | {} | {} | | {} / {} |\n",
            r.name,
            secs(&r.t_restore),
            r.alt_restore_tool,
            secs(&r.a_restore),
            ratio(&r.t_restore, &r.a_restore),
            rss_mark(&r.t_restore),
            rss(&r.a_restore),
            cpu(&r.t_restore),
            cpu(&r.a_restore),
            match_str(&r.t_restore_match),
            match_str(&r.a_restore_match),
        );
        let pct = r.second_pct().map(|p| format!("{p:.3} % {}", if p < 1.0 { "✓" } else { "✗" })).unwrap_or_else(|| "-".into());
        let pct_dir = r.second_pct_dir().map(|p| format!("{p:.3} %")).unwrap_or_else(|| "-".into());
        s += &format!(
            "| {} | 2nd backup, unchanged | {} | | | | {} | | {} | | new bytes {pct} of the 1st (repo dir grew {pct_dir}) | |\n",
            r.name,
            secs(&r.t_backup2),
            rss_mark(&r.t_backup2),
            cpu(&r.t_backup2),
        );
    }
    s
}

fn main() {
    START.get_or_init(Instant::now);
    let opts = parse_opts();
    let shape = Shape::for_rows(opts.rows);
    let tmp;
    let work = match &opts.workdir {
        Some(d) => {
            std::fs::create_dir_all(d).expect("workdir");
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new().prefix("tandem-bench-").tempdir().expect("temp dir");
            tmp.path().to_path_buf()
        }
    };
    log(format!("tandem binary {}, work dir {}", tandem_bin().display(), work.display()));
    let mut runner = Runner { work: work.clone(), timeout: opts.timeout, top: opts.top, n: 0 };
    if opts.encryption {
        if !encryption::run(&opts, &shape, &mut runner) {
            eprintln!("bench: some runs failed or a restored copy did not match (see above)");
            std::process::exit(1);
        }
        return;
    }
    let mut results = Vec::new();
    for flavor in [Flavor::MariaDb, Flavor::Postgres] {
        if opts.only.is_some_and(|o| o != flavor) {
            continue;
        }
        results.push(bench_engine(flavor, &opts, &mut runner, &shape));
    }
    let md = markdown(&results, &opts, &shape);
    println!("\n{md}");
    let all_ok = results.iter().all(|r| {
        [&r.t_backup, &r.t_backup2, &r.t_restore, &r.a_backup, &r.a_restore].iter().all(|x| x.ok)
            && r.t_restore_match.as_ref().is_some_and(|m| m.counts)
            && r.a_restore_match.as_ref().is_some_and(|m| m.counts)
    });
    if !all_ok {
        eprintln!("bench: some runs failed or a restored copy did not match (see above)");
        std::process::exit(1);
    }
}
