//! `EnvSpec`: what the registry knows about one environment id (its description, typed options,
//! default time limit and constructor). Its own module so that the built-in environments build
//! their specs without depending on the registry that collects them.

use std::sync::Arc;

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
