//! Trained agents as action pickers, for `ember eval` and `ember watch`.

use ember_nets::burn::tensor::Device;
use ember_nets::{ActorCritic, ActorCriticConfig, Checkpoint, QNet, QNetConfig};

use ember_envs::rng::Rng;
use ember_nets::burn::tensor::activation::log_softmax;

use crate::common::{argmax, matrix, read, sample_logp};
use crate::error::{AgentError, Result};

/// Picks an action for an observation.
pub trait Policy: Send {
    /// The action for the flat observation `obs`.
    fn act(&mut self, obs: &[f32]) -> Result<usize>;
    /// The flat observation length the policy takes.
    fn obs_len(&self) -> usize;
    /// The number of actions it chooses from.
    fn num_actions(&self) -> usize;
}

/// How a trained agent turns its network's output into an action (Stable-Baselines3's
/// `deterministic=True/False`, plus the ε-greedy evaluation of the DQN literature).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ActMode {
    /// The best action: argmax of Q (DQN), the most probable action (PPO).
    #[default]
    Greedy,
    /// A draw from the policy's distribution (PPO; how gymnax-blines and CleanRL report PPO
    /// returns). DQN has no distribution and refuses it.
    Sample,
    /// A uniformly random action with this probability, else the greedy one (DQN and PPO;
    /// Atari DQN evaluations use 0.05 or 0.001).
    EpsilonGreedy(f64),
}

impl ActMode {
    fn check(self, kind: &str) -> Result<()> {
        match self {
            ActMode::Sample if kind == crate::dqn::KIND => Err(AgentError::Unsupported(
                "a DQN agent has no action distribution to sample from; evaluate it greedily or \
                 ε-greedily (--epsilon)"
                    .into(),
            )),
            ActMode::EpsilonGreedy(e) if !(0.0..=1.0).contains(&e) => Err(AgentError::Unsupported(
                format!("ε must lie in [0, 1], got {e}"),
            )),
            _ => Ok(()),
        }
    }
}

/// Picks from `out` (Q-values or logits of one observation) as `mode` says.
fn pick(out: &[f32], mode: ActMode, rng: &mut Rng) -> usize {
    match mode {
        ActMode::Greedy => argmax(out),
        ActMode::EpsilonGreedy(e) if rng.uniform() < e => rng.below(out.len()),
        ActMode::EpsilonGreedy(_) => argmax(out),
        // `out` holds log-probabilities here (see `ArgmaxPolicy::act`).
        ActMode::Sample => sample_logp(out, rng.uniform() as f32),
    }
}

/// A DQN's greedy (or ε-greedy) policy: argmax of Q.
#[derive(Debug)]
pub struct GreedyQ {
    net: QNet,
    obs_len: usize,
    actions: usize,
    device: Device,
    mode: ActMode,
    rng: Rng,
}

impl Policy for GreedyQ {
    fn act(&mut self, obs: &[f32]) -> Result<usize> {
        let q = read(
            self.net
                .forward(matrix(obs.to_vec(), 1, self.obs_len, &self.device)),
        )?;
        Ok(pick(&q, self.mode, &mut self.rng))
    }
    fn obs_len(&self) -> usize {
        self.obs_len
    }
    fn num_actions(&self) -> usize {
        self.actions
    }
}

/// A PPO agent's policy: the most probable action, or (`ActMode::Sample`) a draw from π.
#[derive(Debug)]
pub struct ArgmaxPolicy {
    net: ActorCritic,
    obs_len: usize,
    actions: usize,
    device: Device,
    mode: ActMode,
    rng: Rng,
}

impl Policy for ArgmaxPolicy {
    fn act(&mut self, obs: &[f32]) -> Result<usize> {
        let (logits, _) = self
            .net
            .forward(matrix(obs.to_vec(), 1, self.obs_len, &self.device)); // [1, A]
        let logp = read(log_softmax(logits, 1))?; // [A], same argmax as the logits
        Ok(pick(&logp, self.mode, &mut self.rng))
    }
    fn obs_len(&self) -> usize {
        self.obs_len
    }
    fn num_actions(&self) -> usize {
        self.actions
    }
}

/// The policy stored in a DQN or PPO checkpoint, on `device` (without autodiff), acting as
/// `mode` says; `seed` seeds its draws (sampling, ε).
pub fn from_checkpoint(
    ck: &Checkpoint,
    device: &Device,
    mode: ActMode,
    seed: u64,
) -> Result<Box<dyn Policy>> {
    mode.check(ck.kind())?;
    let rng = Rng::new(ember_envs::rng::child_seed(seed, 0x9011C7));
    match ck.kind() {
        crate::dqn::KIND => {
            let cfg: QNetConfig = ck.model_config()?;
            let net = ck.apply_model(cfg.init(device)?)?;
            Ok(Box::new(GreedyQ {
                net,
                obs_len: cfg.encoder.input_len(),
                actions: cfg.num_actions,
                device: device.clone(),
                mode,
                rng,
            }))
        }
        crate::ppo::KIND => {
            let cfg: ActorCriticConfig = ck.model_config()?;
            let net = ck.apply_model(cfg.init(device)?)?;
            Ok(Box::new(ArgmaxPolicy {
                net,
                obs_len: cfg.encoder.input_len(),
                actions: cfg.num_actions,
                device: device.clone(),
                mode,
                rng,
            }))
        }
        other => Err(AgentError::Unsupported(format!(
            "a {other:?} checkpoint holds no DQN or PPO policy"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(out: &[f32], mode: ActMode, n: usize) -> Vec<usize> {
        let mut rng = Rng::new(7);
        let mut c = vec![0; out.len()];
        for _ in 0..n {
            c[pick(out, mode, &mut rng)] += 1;
        }
        c
    }

    #[test]
    fn greedy_takes_the_best_and_epsilon_explores_uniformly() {
        let q = [0.1f32, 2.0, -1.0];
        assert_eq!(counts(&q, ActMode::Greedy, 100), [0, 100, 0]);
        assert_eq!(counts(&q, ActMode::EpsilonGreedy(0.0), 100), [0, 100, 0]);
        let c = counts(&q, ActMode::EpsilonGreedy(1.0), 30_000);
        for k in c {
            assert!((9_400..10_600).contains(&k), "{k}");
        }
        // ε = 0.3: the best action 0.7 + 0.1 of the time.
        let c = counts(&q, ActMode::EpsilonGreedy(0.3), 30_000);
        assert!((23_400..24_600).contains(&c[1]), "{c:?}");
    }

    #[test]
    fn sampling_follows_the_policy() {
        let p = [0.2f32, 0.5, 0.3];
        let logp: Vec<f32> = p.iter().map(|x| x.ln()).collect();
        let n = 40_000;
        let c = counts(&logp, ActMode::Sample, n);
        for (k, want) in c.iter().zip(p) {
            let got = *k as f32 / n as f32;
            assert!((got - want).abs() < 0.01, "{c:?}");
        }
    }

    #[test]
    fn modes_are_checked_against_the_agent() {
        assert!(ActMode::Sample.check(crate::dqn::KIND).is_err());
        assert!(ActMode::Sample.check(crate::ppo::KIND).is_ok());
        assert!(ActMode::EpsilonGreedy(1.5).check(crate::ppo::KIND).is_err());
        assert!(ActMode::EpsilonGreedy(0.05).check(crate::dqn::KIND).is_ok());
    }
}
