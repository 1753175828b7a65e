//! The registry: env id → constructor with typed options. Shared by the CLI, experiments and the
//! Python bindings, and open to users: one `register` call adds an environment of your own.

use std::sync::{OnceLock, RwLock};

pub use crate::spec::{EnvSpec, MakeFn};
use crate::{Env, EnvError};

/// A set of environment specs, in registration order.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    specs: Vec<EnvSpec>,
}

impl Registry {
    /// A registry holding Ember's built-in environments.
    pub fn with_builtins() -> Registry {
        let mut r = Registry::default();
        let builtins = crate::minatar::specs()
            .into_iter()
            .chain(crate::classic::specs())
            .chain(crate::go::specs());
        for spec in builtins {
            r.register(spec).expect("built-in ids are unique");
        }
        r
    }

    /// Adds a spec; an id that is taken is an error.
    pub fn register(&mut self, spec: EnvSpec) -> Result<(), EnvError> {
        if self.specs.iter().any(|s| s.id == spec.id) {
            return Err(EnvError::DuplicateId(spec.id));
        }
        self.specs.push(spec);
        Ok(())
    }

    pub fn spec(&self, id: &str) -> Result<&EnvSpec, EnvError> {
        self.specs
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| EnvError::UnknownEnv {
                id: id.into(),
                known: self.ids(),
            })
    }

    pub fn ids(&self) -> Vec<String> {
        self.specs.iter().map(|s| s.id.clone()).collect()
    }

    pub fn specs(&self) -> &[EnvSpec] {
        &self.specs
    }

    pub fn make<K: AsRef<str>, V: AsRef<str>>(
        &self,
        id: &str,
        pairs: &[(K, V)],
    ) -> Result<Box<dyn Env>, EnvError> {
        self.spec(id)?.make(pairs)
    }
}

fn global() -> &'static RwLock<Registry> {
    static REG: OnceLock<RwLock<Registry>> = OnceLock::new();
    REG.get_or_init(|| RwLock::new(Registry::with_builtins()))
}

/// Registers an environment of your own in the process-wide registry, next to the built-ins; from
/// then on `make`, the CLI and the Python bindings know its id.
pub fn register(spec: EnvSpec) -> Result<(), EnvError> {
    global()
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .register(spec)
}

/// Makes a registered environment from `key=value` option pairs, e.g.
/// `make("Breakout-v0", &[("sticky_action_prob", "0")])`.
pub fn make<K: AsRef<str>, V: AsRef<str>>(
    id: &str,
    pairs: &[(K, V)],
) -> Result<Box<dyn Env>, EnvError> {
    // Clone the spec out so a constructor may itself use the registry.
    let spec = spec(id)?;
    spec.make(pairs)
}

/// The spec of a registered id.
pub fn spec(id: &str) -> Result<EnvSpec, EnvError> {
    global()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .spec(id)
        .cloned()
}

/// Every registered id, built-ins first, in registration order.
pub fn ids() -> Vec<String> {
    global().read().unwrap_or_else(|e| e.into_inner()).ids()
}

/// A snapshot of every registered spec.
pub fn specs() -> Vec<EnvSpec> {
    global()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .specs()
        .to_vec()
}
