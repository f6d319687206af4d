//! Plans: the ordered steps a state-changing command will take, printable before it acts.

use serde::Serialize;

/// An ordered, printable list of steps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub steps: Vec<String>,
}

impl Plan {
    pub fn step(&mut self, s: impl Into<String>) {
        self.steps.push(s.into());
    }
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, s) in self.steps.iter().enumerate() {
            writeln!(f, "{:>3}. {s}", i + 1)?;
        }
        Ok(())
    }
}
