//! The engines and systems a flow may use, handed to core by the binary (the one place that
//! names implementations). Core looks implementations up here and never names one itself.

use tandem_engine::{DbUrl, Engine};
use tandem_error::{Error, Result};
use tandem_system::System;

/// Every engine and system of one tandem build.
///
/// Contract: `systems` are ordered most specific first and the last one is the fallback that
/// every database belongs to (it has no marker tables: `generic`).
pub struct Registry {
    engines: Vec<Box<dyn Engine>>,
    systems: Vec<Box<dyn System>>,
}

impl Registry {
    /// A registry of `engines` and `systems` (most specific first, the fallback last).
    ///
    /// Panics when `systems` is empty or its last entry has marker tables: that is a build
    /// mistake, not input.
    pub fn new(engines: Vec<Box<dyn Engine>>, systems: Vec<Box<dyn System>>) -> Registry {
        let fallback = systems.last().expect("a registry needs at least the fallback system");
        assert!(fallback.marker_tables().is_empty(), "the last system ({}) must recognise every database", fallback.name());
        Registry { engines, systems }
    }

    pub fn engines(&self) -> impl Iterator<Item = &dyn Engine> {
        self.engines.iter().map(|e| e.as_ref())
    }

    /// The engine whose [`Engine::name`] is `name` (as manifests record it).
    pub fn engine_named(&self, name: &str) -> Option<&dyn Engine> {
        self.engines().find(|e| e.name() == name)
    }

    /// Parses a database URL and finds the engine for its scheme; BadInput listing the known
    /// schemes otherwise.
    pub fn engine_for(&self, url: &str) -> Result<(&dyn Engine, DbUrl)> {
        let url = DbUrl::parse(url)?;
        Ok((self.engine_of(&url)?, url))
    }

    /// The engine for a parsed URL's scheme; BadInput listing the known schemes otherwise.
    pub fn engine_of(&self, url: &DbUrl) -> Result<&dyn Engine> {
        match self.engines().find(|e| e.schemes().contains(&url.scheme.as_str())) {
            Some(engine) => Ok(engine),
            None => {
                let schemes: Vec<String> = self.engines().flat_map(|e| e.schemes().iter().map(|s| format!("{s}://"))).collect();
                Err(Error::bad_input(format!("unknown database URL scheme {}:// in {url} (supported: {})", url.scheme, schemes.join(", "))))
            }
        }
    }

    /// Every system, most specific first, the fallback last.
    pub fn systems(&self) -> impl Iterator<Item = &dyn System> {
        self.systems.iter().map(|s| s.as_ref())
    }

    /// The system whose [`System::name`] is `name` (as manifests record it).
    pub fn system_named(&self, name: &str) -> Option<&dyn System> {
        self.systems().find(|s| s.name() == name)
    }

    /// The system called `name`; BadInput listing the known ones otherwise.
    pub fn system(&self, name: &str) -> Result<&dyn System> {
        self.system_named(name).ok_or_else(|| {
            let names: Vec<_> = self.systems().map(|s| s.name()).collect();
            Error::bad_input(format!("unknown system {name:?} (expected auto, {})", names.join(", ")))
        })
    }

    /// The system of a database holding `relations` (as [`tandem_engine::Target::inspect`]
    /// lists them); the fallback when no other recognises them.
    pub fn system_of(&self, relations: &[String]) -> &dyn System {
        self.systems().find(|s| s.recognizes(relations)).unwrap_or_else(|| self.fallback())
    }

    /// The system every database belongs to (`generic`).
    pub fn fallback(&self) -> &dyn System {
        self.systems.last().expect("checked in new").as_ref()
    }
}
