//! The registry: env id → constructor with typed options. Shared by the CLI, experiments and the
//! Python bindings, and open to users: one `register` call adds an environment of your own.

use std::sync::{Arc, OnceLock, RwLock};

use crate::wrappers::TimeLimit;
use crate::{Env, EnvError, OptSpec, Options};

/// A constructor: resolved options in, a fresh environment out.
pub type MakeFn = Arc<dyn Fn(&Options) -> Result<Box<dyn Env>, EnvError> + Send + Sync>;

/// Everything the registry knows about one environment id.
#[derive(Clone)]
pub struct EnvSpec {
    pub id: String,
    pub description: String,
    /// The options the constructor reads (the registry adds `max_steps` to every env).
    pub options: Vec<OptSpec>,
    /// Default time limit in steps (`0`: none). Users override it with the `max_steps` option.
    pub max_steps: i64,
    pub make: MakeFn,
}

impl std::fmt::Debug for EnvSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvSpec")
            .field("id", &self.id)
            .field("description", &self.description)
            .field("options", &self.options)
            .field("max_steps", &self.max_steps)
            .finish_non_exhaustive()
    }
}

impl EnvSpec {
    /// A spec with no options and no time limit.
    pub fn new<F>(id: &str, description: &str, make: F) -> EnvSpec
    where
        F: Fn(&Options) -> Result<Box<dyn Env>, EnvError> + Send + Sync + 'static,
    {
        EnvSpec {
            id: id.into(),
            description: description.into(),
            options: Vec::new(),
            max_steps: 0,
            make: Arc::new(make),
        }
    }

    /// Declares an option the constructor reads.
    pub fn option(mut self, spec: OptSpec) -> EnvSpec {
        self.options.push(spec);
        self
    }

    /// Sets the default time limit (`0`: none).
    pub fn max_steps(mut self, steps: i64) -> EnvSpec {
        self.max_steps = steps;
        self
    }

    /// All options, including the registry's own `max_steps`.
    pub fn all_options(&self) -> Vec<OptSpec> {
        let mut v = self.options.clone();
        v.push(OptSpec::int(
            "max_steps",
            self.max_steps,
            0,
            i64::MAX,
            "time limit in steps; the step that reaches it is truncated (0: no limit)",
        ));
        v
    }

    /// Builds the environment from `key=value` pairs.
    pub fn make<K: AsRef<str>, V: AsRef<str>>(
        &self,
        pairs: &[(K, V)],
    ) -> Result<Box<dyn Env>, EnvError> {
        let opts = Options::resolve(&self.id, &self.all_options(), pairs)?;
        let env = (self.make)(&opts)?;
        Ok(match opts.int("max_steps") {
            0 => env,
            n => Box::new(TimeLimit::new(env, n as u64)),
        })
    }
}

/// A set of environment specs, in registration order.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    specs: Vec<EnvSpec>,
}

impl Registry {
    /// A registry holding Ember's built-in environments.
    pub fn with_builtins() -> Registry {
        let mut r = Registry::default();
        crate::minatar::register_all(&mut r);
        crate::classic::register_all(&mut r);
        crate::go::register_all(&mut r);
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
