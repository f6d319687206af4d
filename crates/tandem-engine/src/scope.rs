//! Which tables of a database a replica holds the rows of (HBase's replication scopes).

use serde::{Deserialize, Serialize};
use tandem_error::{Error, Result};

use crate::TableDef;

/// Every table whose name matches an `include` pattern (every table when there is none) and no
/// `exclude` pattern. Patterns are case-insensitive globs (`*` any run of characters, `?` one)
/// over the table's name, or over `schema.table` when they hold a dot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl Scope {
    /// A scope of the given patterns; an empty pattern is refused (BadInput).
    pub fn new(include: Vec<String>, exclude: Vec<String>) -> Result<Scope> {
        if include.iter().chain(&exclude).any(|p| p.trim().is_empty()) {
            return Err(Error::bad_input("an empty table pattern (use * for every table)"));
        }
        Ok(Scope { include, exclude })
    }

    /// Whether the scope is every table.
    pub fn is_all(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    pub fn contains(&self, table: &TableDef) -> bool {
        let matches = |p: &String| {
            let name = match (p.contains('.'), &table.schema) {
                (true, Some(s)) => format!("{s}.{}", table.name),
                _ => table.name.clone(),
            };
            glob(&p.to_lowercase(), &name.to_lowercase())
        };
        (self.include.is_empty() || self.include.iter().any(matches)) && !self.exclude.iter().any(matches)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.include.is_empty(), self.exclude.is_empty()) {
            (true, true) => write!(f, "every table"),
            (false, true) => write!(f, "include {}", self.include.join(", ")),
            (true, false) => write!(f, "every table but {}", self.exclude.join(", ")),
            (false, false) => write!(f, "include {} but {}", self.include.join(", "), self.exclude.join(", ")),
        }
    }
}

/// `*` and `?` glob match of a whole text.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Backtracking over the last star: linear in practice.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(schema: Option<&str>, name: &str) -> TableDef {
        TableDef { schema: schema.map(String::from), name: name.into(), ..TableDef::default() }
    }

    #[test]
    fn patterns_select_tables() {
        let all = Scope::default();
        assert!(all.is_all() && all.contains(&table(None, "x")));
        let s = Scope::new(vec!["ORDER*".into(), "c?stomers".into()], vec!["*_audit".into()]).unwrap();
        assert!(s.contains(&table(None, "orders")) && s.contains(&table(None, "Order_Lines")) && s.contains(&table(None, "customers")));
        assert!(!s.contains(&table(None, "orders_audit")) && !s.contains(&table(None, "products")) && !s.contains(&table(None, "cstomers")));
        let schemas = Scope::new(vec![], vec!["staging.*".into()]).unwrap();
        assert!(!schemas.contains(&table(Some("staging"), "t")) && schemas.contains(&table(Some("public"), "t")));
        assert!(glob("a*b*c", "aXXbYc") && !glob("a*b*c", "aXXbY") && glob("*", "") && !glob("?", ""));
        assert!(Scope::new(vec!["".into()], vec![]).is_err());
        assert_eq!(s.to_string(), "include ORDER*, c?stomers but *_audit");
    }
}
