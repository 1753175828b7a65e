//! Classic-control environments, for quick sanity checks of agents.

mod cartpole;

pub use cartpole::CartPole;

use crate::spec::EnvSpec;
use crate::{Env, Options};

/// The spec of `CartPole-v1`.
pub(crate) fn specs() -> Vec<EnvSpec> {
    vec![EnvSpec::new(
        "CartPole-v1",
        "pole balancing on a cart, Gymnasium's CartPole-v1 dynamics (Barto, Sutton & Anderson 1983)",
        |_: &Options| Ok(Box::new(CartPole::new()) as Box<dyn Env>),
    )
    .max_steps(500)]
}
