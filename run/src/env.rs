//! Making an environment from an id and `key=value` options: an id of Ember's registry (built-in
//! or registered by the caller with `ember_envs::register`), or, as `gym:ID`, a Python Gymnasium
//! environment (with the `gym` feature; the options become `gymnasium.make` kwargs).

use ember_envs::go::env::GoEnv;
use ember_envs::{Env, Options};

use crate::error::{Context, Result, bail};

/// Makes `id` with the options `sets` (`key=value` strings, as `--set` gives them). A Go
/// environment's `opponent` may also be any player the runner makes (`uct:SIMS`,
/// `az:RUN_DIR[:SIMS]`, see [`crate::players`]), beyond the `random` and `gtp:` forms the
/// environment knows itself.
pub fn make_env(id: &str, sets: &[String]) -> Result<Box<dyn Env>> {
    let mut pairs = Options::split_pairs(sets)?;
    if let Some(gym_id) = id.strip_prefix("gym:") {
        return make_gym(gym_id, &pairs);
    }
    // The runner's own players: the environment is made with a stand-in, then given the player.
    let runner_opponent = pairs.iter_mut().find_map(|(k, v)| {
        (k == "opponent" && is_runner_player(v)).then(|| std::mem::replace(v, "random".to_string()))
    });
    let mut env = ember_envs::make(id, &pairs)?;
    if let Some(spec) = runner_opponent {
        let seed = pairs
            .iter()
            .find(|(k, _)| k == "opponent_seed")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0u64);
        let Some(go) = env.as_any_mut().and_then(|a| a.downcast_mut::<GoEnv>()) else {
            bail!("{id}: the opponent `{spec}` plays only in the Go environments");
        };
        let player = crate::players::make_player(&spec, go.state(), seed)
            .with_context(|| format!("{id}: option opponent"))?;
        go.set_opponent(player);
    }
    Ok(env)
}

/// `env` as a Go environment, when it is one (the Go players act on its game).
pub fn go_env(env: &dyn Env) -> Option<&GoEnv> {
    env.as_any()?.downcast_ref::<GoEnv>()
}

/// Whether `spec` names one of the runner's search players (`uct:`, `az:`), which the
/// environments crate cannot make itself.
pub fn is_runner_player(spec: &str) -> bool {
    let s = spec.trim();
    s.starts_with("uct:") || s.starts_with("az:")
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
