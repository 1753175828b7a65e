//! Classic-control environments, for quick sanity checks of agents.

mod cartpole;

pub use cartpole::CartPole;

use crate::registry::{EnvSpec, Registry};
use crate::{Env, Options};

/// Registers `CartPole-v1`.
pub(crate) fn register_all(r: &mut Registry) {
    let spec = EnvSpec::new(
        "CartPole-v1",
        "pole balancing on a cart, Gymnasium's CartPole-v1 dynamics (Barto, Sutton & Anderson 1983)",
        |_: &Options| Ok(Box::new(CartPole::new()) as Box<dyn Env>),
    )
    .max_steps(500);
    r.register(spec).expect("built-in ids are unique");
}
