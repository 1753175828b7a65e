//! Making an environment from an id and `key=value` options: an id of Ember's registry (built-in
//! or registered by the caller with `ember_envs::register`), or, as `gym:ID`, a Python Gymnasium
//! environment (with the `gym` feature; the options become `gymnasium.make` kwargs).

use ember_envs::{Env, Options};

use crate::error::Result;

/// Makes `id` with the options `sets` (`key=value` strings, as `--set` gives them).
pub fn make_env(id: &str, sets: &[String]) -> Result<Box<dyn Env>> {
    let pairs = Options::split_pairs(sets)?;
    if let Some(gym_id) = id.strip_prefix("gym:") {
        return make_gym(gym_id, &pairs);
    }
    Ok(ember_envs::make(id, &pairs)?)
}

#[cfg(feature = "gym")]
fn make_gym(id: &str, pairs: &[(String, String)]) -> Result<Box<dyn Env>> {
    Ok(Box::new(ember_gym::GymEnv::make(id, pairs)?))
}

#[cfg(not(feature = "gym"))]
fn make_gym(id: &str, _pairs: &[(String, String)]) -> Result<Box<dyn Env>> {
    crate::error::bail!(
        "`gym:{id}` needs Python Gymnasium support: rebuild with `cargo build --release --features gym`"
    )
}
