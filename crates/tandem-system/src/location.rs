//! Location maps: `FROM=TO` prefix rewrites of the storage URIs a system stores
//! (`gs://lake-us/` → `gs://lake-eu/`).
//!
//! Contract of [`LocationMap::rewrite`]:
//! - A rule matches a value that equals its FROM or continues it at a path boundary: FROM
//!   `gs://lake/a` matches `gs://lake/a` and `gs://lake/a/t`, never `gs://lake/ab`. Trailing
//!   slashes of FROM and TO do not matter.
//! - The longest matching FROM wins; a value is rewritten at most once (no chains).
//! - `file:` URIs are compared by path: `file:/p`, `file:///p` and `file://localhost/p` are the
//!   same place, and a bare absolute path (`/p`, how Hive stores some local resources) is one
//!   too. The rewritten value keeps the form the value had (`file:/…`, `file:///…` or bare).
//! - Any other value is compared byte for byte (schemes and authorities are case-sensitive, as
//!   object stores treat bucket names).

use std::collections::BTreeSet;

use tandem_error::{Error, Result};

/// One `FROM=TO` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationRule {
    /// As the user gave it.
    pub from: String,
    pub to: String,
    from_key: Key,
    to_key: Key,
}

/// An ordered set of rules (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocationMap {
    rules: Vec<LocationRule>,
    /// `scheme://authority` of every FROM (`file:` for local ones).
    origins: BTreeSet<String>,
}

/// The comparable form of a location: `file:` URIs and bare paths become `Local(path)`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key<S = String> {
    Local(S),
    Uri(S),
}

impl Key<&str> {
    fn owned(&self) -> Key {
        match self {
            Key::Local(s) => Key::Local(s.to_string()),
            Key::Uri(s) => Key::Uri(s.to_string()),
        }
    }
}

/// How a local location was spelled, so a rewrite keeps the spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocalForm {
    Bare,
    OneSlash,
    ThreeSlashes,
}

fn trim_slashes(s: &str) -> &str {
    let t = s.trim_end_matches('/');
    if t.is_empty() && s.starts_with('/') {
        "/"
    } else {
        t
    }
}

/// Splits a location into its comparable key and, for local ones, its spelling.
fn key_of(value: &str) -> (Key<&str>, Option<LocalForm>) {
    if let Some(rest) = value.strip_prefix("file:") {
        if let Some(after) = rest.strip_prefix("//") {
            // file://authority/path; an empty or localhost authority is this machine.
            let (auth, path) = after.split_at(after.find('/').unwrap_or(after.len()));
            if auth.is_empty() || auth.eq_ignore_ascii_case("localhost") {
                let path = if path.is_empty() { "/" } else { path };
                return (Key::Local(path), Some(LocalForm::ThreeSlashes));
            }
            return (Key::Uri(value), None);
        }
        if rest.starts_with('/') {
            return (Key::Local(rest), Some(LocalForm::OneSlash));
        }
        return (Key::Uri(value), None);
    }
    if value.starts_with('/') {
        return (Key::Local(value), Some(LocalForm::Bare));
    }
    (Key::Uri(value), None)
}

/// `prefix` matches `value` at a path boundary; returns the rest (empty or starting with `/`).
fn strip_boundary<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix == "/" {
        return value.starts_with('/').then_some(value);
    }
    let rest = value.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

fn spell(path: &str, form: LocalForm) -> String {
    match form {
        LocalForm::Bare => path.to_string(),
        LocalForm::OneSlash => format!("file:{path}"),
        LocalForm::ThreeSlashes => format!("file://{path}"),
    }
}

/// `base` continued by `rest` (empty or starting with `/`).
fn join(base: &str, rest: &str) -> String {
    if base == "/" && !rest.is_empty() {
        rest.to_string()
    } else {
        format!("{base}{rest}")
    }
}

impl LocationRule {
    /// Parses `FROM=TO`. Errors (BadInput) without `=`, with an empty side, or with a side that
    /// is not an absolute location (`scheme:…` or `/path`).
    pub fn parse(spec: &str) -> Result<LocationRule> {
        let (from, to) = spec
            .split_once('=')
            .ok_or_else(|| Error::bad_input(format!("location rule {spec:?} has no '=': expected FROM=TO, e.g. gs://lake-us/=gs://lake-eu/")))?;
        let (from, to) = (from.trim(), to.trim());
        if from.is_empty() || to.is_empty() {
            return Err(Error::bad_input(format!(
                "location rule {spec:?} has an empty {} side: expected FROM=TO, e.g. gs://lake-us/=gs://lake-eu/",
                if from.is_empty() { "FROM" } else { "TO" }
            )));
        }
        for side in [from, to] {
            let scheme_ok = side.find(':').is_some_and(|i| i > 0 && side[..i].chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)));
            if !scheme_ok && !side.starts_with('/') {
                return Err(Error::bad_input(format!("location rule {spec:?}: {side:?} is not an absolute location (expected scheme://bucket/path or /path)")));
            }
        }
        let from_key = key_of(trim_slashes(from)).0.owned();
        let to_key = key_of(trim_slashes(to)).0.owned();
        Ok(LocationRule { from: from.to_string(), to: to.to_string(), from_key, to_key })
    }

    /// The rewritten value, if this rule matches `value`.
    fn apply(&self, value: &str) -> Option<String> {
        let (key, form) = key_of(value);
        match (&self.from_key, key) {
            (Key::Local(f), Key::Local(v)) => {
                let rest = strip_boundary(v, f)?;
                Some(match &self.to_key {
                    Key::Local(t) => spell(&join(t, rest), form.unwrap_or(LocalForm::OneSlash)),
                    Key::Uri(t) => join(t, rest),
                })
            }
            (Key::Uri(f), Key::Uri(v)) => {
                let rest = strip_boundary(v, f)?;
                Some(match &self.to_key {
                    Key::Local(t) => spell(&join(t, rest), LocalForm::OneSlash),
                    Key::Uri(t) => join(t, rest),
                })
            }
            _ => None,
        }
    }

    fn specificity(&self) -> usize {
        match &self.from_key {
            Key::Local(s) | Key::Uri(s) => s.len(),
        }
    }

    /// `scheme://authority` of FROM (`file:` for local ones), for the unmapped-URI report.
    pub fn origin(&self) -> String {
        match &self.from_key {
            Key::Local(_) => "file:".to_string(),
            Key::Uri(u) => origin_of(u),
        }
    }
}

/// `scheme://authority` of a URI, or `scheme:` for URIs without an authority.
pub fn origin_of(uri: &str) -> String {
    let Some(colon) = uri.find(':') else { return String::new() };
    let rest = &uri[colon + 1..];
    match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            format!("{}//{}", &uri[..=colon], &after[..end])
        }
        None => uri[..=colon].to_string(),
    }
}

impl LocationMap {
    /// Parses every `FROM=TO`. Errors as [`LocationRule::parse`], and on a FROM given twice.
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<LocationMap> {
        let mut rules: Vec<LocationRule> = Vec::new();
        for s in specs {
            let rule = LocationRule::parse(s.as_ref())?;
            if let Some(dup) = rules.iter().find(|r| r.from_key == rule.from_key) {
                return Err(Error::bad_input(format!("location map: {:?} and {:?} map the same location", format!("{}={}", dup.from, dup.to), s.as_ref())));
            }
            rules.push(rule);
        }
        // Longest FROM first, so the most specific rule wins.
        rules.sort_by_key(|r| std::cmp::Reverse(r.specificity()));
        let origins = rules.iter().map(LocationRule::origin).collect();
        Ok(LocationMap { rules, origins })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The map of the way back: every `FROM=TO` as `TO=FROM`. Errors (BadInput) when two rules
    /// map to the same location: the way back would not know which to take.
    pub fn inverse(&self) -> Result<LocationMap> {
        let specs: Vec<String> = self.rules.iter().map(|r| format!("{}={}", r.to, r.from)).collect();
        LocationMap::parse(&specs).map_err(|e| Error::bad_input(format!("the location map cannot be reversed: {}", e.message())))
    }

    pub fn rules(&self) -> &[LocationRule] {
        &self.rules
    }

    /// The rewritten value and the index of the rule that matched, or `None` (see the module
    /// docs).
    pub fn rewrite(&self, value: &str) -> Option<(usize, String)> {
        self.rules.iter().enumerate().find_map(|(i, r)| r.apply(value).map(|v| (i, v)))
    }

    /// The value after mapping (unchanged when no rule matches).
    pub fn map(&self, value: &str) -> String {
        self.rewrite(value).map(|(_, v)| v).unwrap_or_else(|| value.to_string())
    }

    /// Whether `value`, left as it is, still points at the scheme + authority of some FROM
    /// (a bucket the user meant to move away from).
    pub fn points_at_source(&self, value: &str) -> bool {
        match key_of(value).0 {
            Key::Local(_) => self.origins.contains("file:"),
            Key::Uri(u) => {
                let o = origin_of(u);
                !o.is_empty() && self.origins.contains(&o)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(specs: &[&str]) -> LocationMap {
        LocationMap::parse(specs).unwrap()
    }

    #[test]
    fn the_way_back_maps_every_location_home_or_is_refused() {
        let m = map(&["gs://lake-us/=gs://lake-eu/", "gs://lake-us/raw/=s3://raw-eu/"]);
        let back = m.inverse().unwrap();
        for v in ["gs://lake-us/t/p=1", "gs://lake-us/raw/x", "gs://other/y"] {
            assert_eq!(back.map(&m.map(v)), v);
        }
        let e = map(&["gs://a/=gs://dr/", "gs://b/=gs://dr/"]).inverse().unwrap_err();
        assert!(e.to_string().contains("cannot be reversed") && e.to_string().contains("map the same location"), "{e}");
    }

    #[test]
    fn prefixes_respect_path_boundaries() {
        let m = map(&["gs://lake/a=gs://dr/b"]);
        assert_eq!(m.map("gs://lake/a"), "gs://dr/b");
        assert_eq!(m.map("gs://lake/a/t/p=1"), "gs://dr/b/t/p=1");
        assert_eq!(m.map("gs://lake/ab"), "gs://lake/ab");
        assert_eq!(m.map("gs://lake/ab/c"), "gs://lake/ab/c");
        assert_eq!(m.map("GS://lake/a"), "GS://lake/a");
        // trailing slashes on either side do not matter
        let m = map(&["gs://lake/a/=gs://dr/b/"]);
        assert_eq!(m.map("gs://lake/a/t"), "gs://dr/b/t");
        assert_eq!(m.map("gs://lake/a"), "gs://dr/b");
        assert_eq!(m.map("gs://lake/ab"), "gs://lake/ab");
        let m = map(&["hdfs://nn1:8020/=hdfs://nn2:8020/"]);
        assert_eq!(m.map("hdfs://nn1:8020/warehouse/t"), "hdfs://nn2:8020/warehouse/t");
        assert_eq!(m.map("hdfs://nn1:80200/x"), "hdfs://nn1:80200/x");
    }

    #[test]
    fn longest_rule_wins_and_no_chains() {
        let m = map(&["s3://a/=s3://b/", "s3://a/special=s3://c/x", "s3://b/=s3://z/"]);
        assert_eq!(m.map("s3://a/special/t"), "s3://c/x/t");
        assert_eq!(m.map("s3://a/other"), "s3://b/other");
        assert_eq!(m.map("s3://b/other"), "s3://z/other");
    }

    #[test]
    fn local_forms_are_one_place_and_keep_their_spelling() {
        for from in ["file:/src/wh", "file:///src/wh", "/src/wh", "file://localhost/src/wh/"] {
            let m = map(&[&format!("{from}=file:///dst/wh")]);
            assert_eq!(m.map("file:/src/wh/db.db/t"), "file:/dst/wh/db.db/t", "{from}");
            assert_eq!(m.map("file:///src/wh/db.db/t"), "file:///dst/wh/db.db/t", "{from}");
            assert_eq!(m.map("/src/wh/udf/x.jar"), "/dst/wh/udf/x.jar", "{from}");
            assert_eq!(m.map("/src/whx"), "/src/whx", "{from}");
        }
        let m = map(&["file:/src=gs://b/wh"]);
        assert_eq!(m.map("file:/src/t"), "gs://b/wh/t");
        let m = map(&["gs://b/wh=file:/dst"]);
        assert_eq!(m.map("gs://b/wh/t"), "file:/dst/t");
    }

    #[test]
    fn bad_specs_are_refused_with_a_reason() {
        for (spec, needle) in [("gs://a", "no '='"), ("=gs://b", "empty FROM"), ("gs://a=", "empty TO"), ("lake-us=lake-eu", "not an absolute location")] {
            let e = LocationRule::parse(spec).unwrap_err();
            assert_eq!(e.kind(), tandem_error::Kind::BadInput);
            assert!(e.to_string().contains(needle), "{spec}: {e}");
        }
        let e = LocationMap::parse(&["gs://a/=gs://b/", "gs://a=gs://c"]).unwrap_err();
        assert!(e.to_string().contains("map the same location"), "{e}");
    }

    #[test]
    fn origins_flag_forgotten_buckets() {
        let m = map(&["gs://lake-us/warehouse=gs://lake-eu/warehouse"]);
        assert!(m.points_at_source("gs://lake-us/other/t"));
        assert!(!m.points_at_source("gs://lake-eu/x"));
        assert!(!m.points_at_source("s3a://else/x"));
        assert_eq!(origin_of("hdfs://nn:8020/x"), "hdfs://nn:8020");
        assert_eq!(origin_of("gs://b"), "gs://b");
        let m = map(&["file:/src=file:/dst"]);
        assert!(m.points_at_source("/elsewhere/x.jar"));
    }
}
