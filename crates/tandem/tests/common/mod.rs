//! Helpers for the end-to-end tests: run the real `tandem` binary against throwaway servers.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

pub mod airflow;
pub mod hms;
pub mod replica;
pub mod serve;
pub mod spark;

pub use tandem_testkit::{tandem_bin, Flavor, Server};

pub const FLAVORS: [Flavor; 2] = [Flavor::MariaDb, Flavor::Postgres];

/// Result of one `tandem` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "tandem failed\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }
    /// Asserts a failure with `code` whose one-line error contains `needle`.
    pub fn fails_with(self, code: i32, needle: &str) -> Run {
        assert_eq!(self.code, code, "expected exit {code} ({needle})\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        let err = self.stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error line in stderr:\n{}", self.stderr));
        assert!(err.contains(needle), "error line {err:?} does not contain {needle:?}");
        self
    }
}

/// Runs `tandem` with `args`.
pub fn tandem(args: &[&str]) -> Run {
    tandem_env(args, &[])
}

/// Runs `tandem` with `args` and extra environment variables.
pub fn tandem_env(args: &[&str], env: &[(String, String)]) -> Run {
    let mut cmd = Command::new(tandem_bin());
    cmd.args(args).env_remove("TANDEM_REPO").env_remove("TANDEM_CONFIG").env_remove("TANDEM_REPO_KEY").envs(env.iter().map(|(k, v)| (k, v)));
    // A command that never ends fails its test instead of hanging the suite.
    run_limited(&mut cmd, COMMAND_LIMIT)
}

/// Runs `cmd` (no stdin) with its output captured; kills it and panics after `limit`.
pub fn run_limited(cmd: &mut Command, limit: std::time::Duration) -> Run {
    use std::io::Read;
    let what = format!("{cmd:?}");
    let started = std::time::Instant::now();
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = r.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    let (stdout, stderr) = (drain(Box::new(child.stdout.take().unwrap())), drain(Box::new(child.stderr.take().unwrap())));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("wait for {what}: {e}")) {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {limit:?}:\n{}\n{}", stdout.join().unwrap(), stderr.join().unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Run { code: status.code().unwrap_or(-1), stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

/// The longest a one-shot `tandem` command may run in a test.
const COMMAND_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Backs up `url` into `repo` and returns the backup id (the last line of stdout).
pub fn backup(url: &str, repo: &Path) -> String {
    let run = tandem(&["backup", "--source", url, "--repo", p(repo)]).ok();
    run.stdout.lines().last().expect("backup id line").to_string()
}

/// A fingerprint of everything a restore must preserve in database `db`: the schema (as the
/// server reports it) and every row of every table.
pub fn fingerprint(server: &Server, db: &str) -> String {
    match server.flavor() {
        Flavor::MariaDb => {
            let mut out = String::new();
            let tables = server.sql(db, "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name");
            for line in tables.lines() {
                let mut parts = line.split('\t');
                let (name, kind) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                if kind == "VIEW" {
                    out += &format!("view {name}: {}\n", server.sql(db, &format!("SELECT count(*) FROM `{name}`")));
                    continue;
                }
                let create = server.sql(db, &format!("SHOW CREATE TABLE `{name}`"));
                let create: String = create.split(' ').filter(|w| !w.starts_with("AUTO_INCREMENT=")).collect::<Vec<_>>().join(" ");
                let sum = server.sql(db, &format!("CHECKSUM TABLE `{name}` EXTENDED"));
                let sum = sum.split('\t').nth(1).unwrap_or("").to_string();
                let count = server.sql(db, &format!("SELECT count(*) FROM `{name}`"));
                out += &format!("{create}\nrows {count} checksum {sum}\n");
            }
            out
        }
        Flavor::Postgres => {
            let (args, env) = server.tool_args(db);
            let dump = Command::new(tandem_testkit::pg_bin("pg_dump"))
                .args(["--schema-only", "--no-owner", "--no-privileges"])
                .args(&args)
                .envs(env)
                .output()
                .expect("pg_dump");
            assert!(dump.status.success(), "pg_dump: {}", String::from_utf8_lossy(&dump.stderr));
            let schema: String = String::from_utf8_lossy(&dump.stdout)
                .lines()
                .filter(|l| !l.starts_with("--") && !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict") && !l.trim().is_empty())
                .collect::<Vec<_>>()
                .join("\n");
            let mut out = schema + "\n";
            let tables = server.sql(
                db,
                "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog','information_schema') ORDER BY 1",
            );
            for t in tables.lines() {
                out += &format!(
                    "{t}: {}\n",
                    server.sql(db, &format!("SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '-') FROM {t} x"))
                );
            }
            out
        }
    }
}

/// 256 bytes 0x00..0xff as hex.
pub fn all_bytes_hex() -> String {
    (0..=255u8).map(|b| format!("{b:02x}")).collect()
}

/// A schema with every column type a metastore or Airflow uses, awkward values, a 16 MB value,
/// indexes, a foreign key, a view and id generators.
pub fn fidelity_fixture(flavor: Flavor) -> String {
    let hex = all_bytes_hex();
    match flavor {
        Flavor::MariaDb => format!(
            r#"
CREATE TABLE parent (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(128) NOT NULL, UNIQUE KEY uq_name (name)) ENGINE=InnoDB;
CREATE TABLE types (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  parent_id BIGINT NULL,
  i INT, ui INT UNSIGNED, bi BIGINT, ubi BIGINT UNSIGNED, si SMALLINT, ti TINYINT,
  dec1 DECIMAL(20,6), f FLOAT, d DOUBLE,
  vc VARCHAR(767), txt MEDIUMTEXT, lt LONGTEXT,
  vb VARBINARY(300), bl LONGBLOB,
  dt DATE, dtt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME,
  b BOOLEAN, bit1 BIT(1), bit8 BIT(8), js JSON, en ENUM('RUNNING','SUCCESS'), st SET('a','b','c'),
  latin VARCHAR(100) CHARACTER SET latin1 COLLATE latin1_bin,
  dflt VARCHAR(20) NOT NULL DEFAULT 'none',
  KEY idx_vc (vc(100)),
  CONSTRAINT fk_parent FOREIGN KEY (parent_id) REFERENCES parent (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE latin1_table (PARAM_KEY VARCHAR(256) NOT NULL PRIMARY KEY, PARAM_VALUE MEDIUMTEXT) DEFAULT CHARSET=latin1 COLLATE=latin1_bin;
CREATE TABLE no_pk (a INT, b TEXT);
INSERT INTO parent (name) VALUES ('p1'), ('p2');
INSERT INTO types (parent_id, i, ui, bi, ubi, si, ti, dec1, f, d, vc, txt, lt, vb, bl, dt, dtt, ts, tm, b, bit1, bit8, js, en, st, latin) VALUES
 (1, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615, -32768, -128, -99999999999999.999999, -1.5, 2.2250738585072014e-308,
  'tab\there', 'line1\nline2\r\nbackslash \\ and \\N and nul \0 and ctrl-z \Z', 'Grüße, 日本語, emoji 😀', UNHEX('{hex}'), UNHEX('{hex}'),
  '1000-01-01', '2026-11-23 17:19:00.123456', '2038-01-19 03:14:07.999999', '-838:59:59', TRUE, b'1', b'10101010',
  '{{"k": "v", "n": [1, 2.5, null], "u": "ü"}}', 'RUNNING', 'a,c', 'Café crème ß'),
 (2, 2147483647, 0, 9223372036854775807, 0, 32767, 127, 99999999999999.999999, 3.4e38, 1.7976931348623157e308,
  '', '', '', '', '', '9999-12-31', '0000-00-00 00:00:00', '1970-01-01 00:00:01', '838:59:59', FALSE, b'0', b'0', '[]', 'SUCCESS', '', ''),
 (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (1, 0, 1, 0, 1, 0, 0, 0.000001, 0, -0.0, 'x', 'big one below', REPEAT('0123456789abcdef', 1048576), NULL, NULL, '2026-01-01', '2026-01-01 00:00:00', NULL, '00:00:00', NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO latin1_table VALUES ('avro.schema.url', CONVERT('hdfs://nn/schemas/é.avsc' USING latin1)), ('k\tey', 'v\nal');
INSERT INTO no_pk VALUES (1, 'a'), (1, 'a'), (NULL, NULL);
CREATE VIEW v_types AS SELECT id, vc FROM types WHERE id < 3;
"#
        ),
        Flavor::Postgres => format!(
            r#"
CREATE TYPE state AS ENUM ('queued', 'running', 'success');
CREATE SCHEMA other;
CREATE TABLE parent (id BIGSERIAL PRIMARY KEY, name VARCHAR(128) NOT NULL UNIQUE);
CREATE TABLE types (
  id SERIAL PRIMARY KEY,
  parent_id BIGINT REFERENCES parent(id),
  i INTEGER, bi BIGINT, si SMALLINT, dec1 NUMERIC(20,6), num NUMERIC, r REAL, d DOUBLE PRECISION,
  vc VARCHAR(767), txt TEXT, by BYTEA,
  dt DATE, ts TIMESTAMP, tstz TIMESTAMP WITH TIME ZONE, tm TIME, iv INTERVAL,
  b BOOLEAN, js JSON, jsb JSONB, u UUID, st state, arr TEXT[], iarr INTEGER[],
  dflt VARCHAR(20) NOT NULL DEFAULT 'none',
  CHECK (si IS NULL OR si > -32768)
);
CREATE INDEX idx_types_vc ON types (vc);
CREATE TABLE ident (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v TEXT);
CREATE TABLE other."Mixed Case" ("Key" TEXT PRIMARY KEY, "Value" TEXT);
CREATE TABLE no_pk (a INT, b TEXT);
CREATE SEQUENCE free_seq START 100;
SELECT nextval('free_seq'), nextval('free_seq');
COMMENT ON TABLE types IS 'every type';
INSERT INTO parent (name) VALUES ('p1'), ('p2');
INSERT INTO types (parent_id, i, bi, si, dec1, num, r, d, vc, txt, by, dt, ts, tstz, tm, iv, b, js, jsb, u, st, arr, iarr) VALUES
 (1, -2147483648, -9223372036854775808, -32767, -99999999999999.999999, 12345678901234567890.123456789, 3.4e38, 1.7976931348623157e308,
  E'tab\there', E'line1\nline2\r\nbackslash \\ and \\N and ctrl \x01\x1f', '\x{hex}', '4713-01-01 BC', '2026-11-23 17:19:00.123456',
  '2026-11-23 17:19:00.123456+05:30', '23:59:59.999999', '1 year 2 mons 3 days 04:05:06', TRUE, '{{"k": "v", "u": "ü"}}',
  '{{"n": [1, 2.5, null]}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'running', ARRAY['a', 'b c', NULL, E'q"\\'], ARRAY[1, 2]),
 (2, 2147483647, 9223372036854775807, 32767, 0, 'NaN', 'Infinity', '-Infinity', '', '', '\x', 'infinity', '-infinity',
  'infinity', '00:00:00', '0', FALSE, '[]', '{{}}', '00000000-0000-0000-0000-000000000000', 'success', '{{}}', '{{}}'),
 (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (1, 0, 0, 0, 0.000001, -0.0, -0.0, 'NaN', 'Grüße, 日本語, emoji 😀', repeat('0123456789abcdef', 1048576), NULL, '2026-01-01', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO ident (v) VALUES ('a'), ('b'), ('c');
INSERT INTO other."Mixed Case" VALUES ('avro.schema.url', 'hdfs://nn/schemas/é.avsc'), (E'k\tey', E'v\nal');
INSERT INTO no_pk VALUES (1, 'a'), (1, 'a'), (NULL, NULL);
CREATE VIEW v_types AS SELECT id, vc FROM types WHERE id < 3;
"#
        ),
    }
}
