//! `Config::parse` on random TOML-ish text, random strings and mutated valid configs: it
//! returns a config or an error (naming a line that exists), never panics.

use proptest::prelude::*;
use proptest::sample::Index;

use super::Config;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 192, failure_persistence: None, ..ProptestConfig::default() }
}

/// A config using every key, valid as it is.
const VALID: &str = r#"repo = "/var/lib/tandem/repo"
repo-key-file = "/etc/tandem/key"

[sites.primary]
db = "mysql://hive:pw@metastore-us:3306/metastore"
system = "hive-metastore"
backup = "*/15 * * * *"

[sites.dr]
db = "postgres://hive:pw@metastore-eu:5432/metastore"
map-location = ["gs://lake-us/=gs://lake-eu/", "file:/a/=file:/b/"]
source = "primary"
refresh = "*/10 * * * * *"
include = ["DBS", "TBLS*"]
exclude = ["TBLS_OLD"]
owner = "hive"

[sites.air]
db = "postgres://airflow@af:5432/airflow"
system = "airflow"
fernet-key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

[sites.replica]
db = "mysql://root@127.0.0.1:3307/metastore"
source = "primary"
replicate = true
seed = "backup"
publication = "tandem_pub"

[serve]
listen = "127.0.0.1:9187"
token-env = "TANDEM_TOKEN"
webhook = "https://hooks.example.com/tandem"
health-interval = "30s"
health-threshold = "30s"
staleness-alert = "1h"
lease-ttl = "60s"
shutdown-grace = "5m"

[retention]
keep-last = 96
keep-daily = 14
grace = "1h"
"#;

/// Values that test the checks behind the TOML syntax: odd cron patterns, durations, URLs,
/// addresses, numbers, `${` expansions.
fn odd_value() -> impl Strategy<Value = String> {
    let strings = [
        "",
        "*",
        "* * * * *",
        "*/0 * * * *",
        "0/0 * * * * *",
        "L * * * *",
        "0 0 L * *",
        "0 0 * * 5#6",
        "0 0 * * 5L",
        "0 0 31W * *",
        "* * * * * * *",
        "0 0 31 2 *",
        "59 23 29 2 *",
        "60 * * * *",
        "1-0 * * * *",
        "*/4294967296 * * * *",
        "0s",
        "-1s",
        "18446744073709551615s",
        "1e9y",
        "100y",
        "101y",
        "1h 1h",
        "mysql://",
        "postgres://u@[::1]:99999/db",
        "gs://a/=gs://b/",
        "=",
        "a==b",
        "${",
        "${}",
        "${TANDEM_SURELY_UNSET}",
        "$${HOME}",
        "127.0.0.1:0",
        "[::1]:65536",
        "localhost:1",
        "ftp://x/",
        "http://",
        "https://[::1",
        "auto",
        "generic",
        "airflow",
        "source",
        "primary",
        "\\u0000",
        "é\u{1F600}",
    ];
    prop_oneof![
        4 => prop::sample::select(strings.to_vec()).prop_map(|s| format!("{s:?}")),
        1 => prop::sample::select(vec!["-1", "0", "1", "18446744073709551615", "18446744073709551616", "1e400", "nan", "true", "[]", "{}", "[1, \"a\"]", "{ a = 1 }", "1979-05-27T07:32:00Z"]).prop_map(str::to_string),
        1 => "[ -~]{0,24}".prop_map(|s| format!("{s:?}")),
    ]
}

fn key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "repo",
        "repo-key-file",
        "repo-key-command",
        "db",
        "system",
        "map-location",
        "source",
        "fernet-key",
        "backup",
        "refresh",
        "drill",
        "drill-scratch",
        "replicate",
        "seed",
        "publication",
        "owner",
        "include",
        "exclude",
        "listen",
        "token-file",
        "token-env",
        "webhook",
        "health-interval",
        "health-threshold",
        "staleness-alert",
        "lease-ttl",
        "shutdown-grace",
        "keep-last",
        "keep-daily",
        "grace",
        "x",
        "sites",
    ])
}

fn line() -> impl Strategy<Value = String> {
    let header =
        prop::sample::select(vec!["[sites.primary]", "[sites.dr]", "[sites.p]", "[serve]", "[retention]", "[sites]", "[[sites.a]]", "[sites.\"a b\"]", "[x]"]);
    prop_oneof![
        2 => header.prop_map(str::to_string),
        6 => (key(), odd_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => "[ -~]{0,30}",
    ]
}

/// Text made of config-like lines.
fn toml_ish() -> impl Strategy<Value = String> {
    prop::collection::vec(line(), 0..16).prop_map(|lines| lines.join("\n"))
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Flip(Vec<(Index, u8)>),
    Insert(Index, String),
    DropLine(Index),
    DuplicateLine(Index, Index),
    /// Replace the value of one `key = value` line.
    Revalue(Index, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => prop::collection::vec((any::<Index>(), 1..=127u8), 1..4).prop_map(Mutation::Flip),
        1 => (any::<Index>(), "[ -~\n]{1,12}").prop_map(|(i, s)| Mutation::Insert(i, s)),
        1 => any::<Index>().prop_map(Mutation::DropLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Mutation::DuplicateLine(i, j)),
        3 => (any::<Index>(), odd_value()).prop_map(|(i, v)| Mutation::Revalue(i, v)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if text.is_empty() || lines.is_empty() {
        return text.to_string();
    }
    match m {
        Mutation::Truncate(i) => return String::from_utf8_lossy(&text.as_bytes()[..i.index(text.len() + 1)]).into_owned(),
        Mutation::Flip(flips) => {
            let mut bytes = text.as_bytes().to_vec();
            for (i, x) in flips {
                let at = i.index(bytes.len());
                bytes[at] ^= x;
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::Insert(i, s) => {
            let mut bytes = text.as_bytes().to_vec();
            let at = i.index(bytes.len() + 1);
            bytes.splice(at..at, s.bytes());
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::DropLine(i) => {
            lines.remove(i.index(lines.len()));
        }
        Mutation::DuplicateLine(i, j) => {
            let line = lines[i.index(lines.len())].clone();
            lines.insert(j.index(lines.len() + 1), line);
        }
        Mutation::Revalue(i, v) => {
            let assignments: Vec<usize> = (0..lines.len()).filter(|&n| lines[n].contains(" = ")).collect();
            if assignments.is_empty() {
                return text.to_string();
            }
            let n = assignments[i.index(assignments.len())];
            let key = lines[n].split(" = ").next().unwrap_or_default().to_string();
            lines[n] = format!("{key} = {v}");
        }
    }
    lines.join("\n")
}

/// Parses; an error that names a line names one the text has. True when it parsed.
fn parse_checked(text: &str) -> Result<bool, TestCaseError> {
    match Config::parse(text) {
        Ok(_) => Ok(true),
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(!msg.is_empty());
            if let Some(n) = msg.strip_prefix("line ").and_then(|r| r.split(':').next()).and_then(|n| n.parse::<usize>().ok()) {
                prop_assert!(n >= 1 && n <= text.lines().count() + 1, "line {} of a {}-line text: {}", n, text.lines().count(), msg);
            }
            Ok(false)
        }
    }
}

#[test]
fn the_base_config_is_valid() {
    let c = Config::parse(VALID).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.sites.len(), 4);
}

/// Mutations reach the checks behind the syntax: some mutated configs still parse, most do
/// not, and none panics.
#[test]
fn mutated_valid_configs_parse_or_are_refused() {
    let (parsed, refused) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let mut runner = proptest::test_runner::TestRunner::new(config());
    runner
        .run(&prop::collection::vec(mutation(), 1..4), |mutations| {
            let text = mutations.iter().fold(VALID.to_string(), |t, m| apply(&t, m));
            let counter = if parse_checked(&text)? { &parsed } else { &refused };
            counter.set(counter.get() + 1);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(parsed.get() > 0 && refused.get() > parsed.get(), "{} parsed, {} refused", parsed.get(), refused.get());
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn toml_ish_text_parses_or_is_refused(text in toml_ish()) {
        parse_checked(&text)?;
    }

    #[test]
    fn random_strings_are_refused_or_parse(text in ".{0,200}") {
        parse_checked(&text)?;
    }

    #[test]
    fn cron_ish_schedules_parse_or_are_refused(fields in prop::collection::vec("[0-9*/,LW#?-]{1,5}", 4..=7)) {
        let pattern = fields.join(" ");
        parse_checked(&format!("[sites.p]\ndb = \"mysql://h/db\"\nbackup = {pattern:?}\n"))?;
    }
}
