//! Trained agents as action pickers, for `ember eval` and `ember watch`.

use ember_nets::burn::tensor::Device;
use ember_nets::{ActorCritic, ActorCriticConfig, Checkpoint, QNet, QNetConfig};

use ember_envs::rng::Rng;
use ember_nets::burn::tensor::activation::log_softmax;

use crate::common::{mask_logits, masked_argmax, matrix, random_legal, read, sample_logp};
use crate::error::{AgentError, Result};

/// Picks an action for an observation.
pub trait Policy: Send {
    /// The action for the flat observation `obs`, among the legal ones of `mask` (`None`: all).
    fn act(&mut self, obs: &[f32], mask: Option<&[bool]>) -> Result<usize>;
    /// The flat observation length the policy takes.
    fn obs_len(&self) -> usize;
    /// The number of actions it chooses from.
    fn num_actions(&self) -> usize;
    /// What the network said for the observation of the last `act` (for viewers such as `ember
    /// serve`); `None` before the first `act`.
    fn last_outputs(&self) -> Option<PolicyOutputs> {
        None
    }
}

/// A policy network's output for one observation, one value per action.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyOutputs {
    /// A DQN's Q-values.
    QValues(Vec<f32>),
    /// A PPO policy's action probabilities (after the action mask).
    Probabilities(Vec<f32>),
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

/// Picks from `out` (Q-values or logits of one observation) as `mode` says, among the legal
/// actions of `mask`.
fn pick(out: &[f32], mode: ActMode, rng: &mut Rng, mask: Option<&[bool]>) -> usize {
    match mode {
        ActMode::Greedy => masked_argmax(out, mask),
        ActMode::EpsilonGreedy(e) if rng.uniform() < e => random_legal(rng, out.len(), mask),
        ActMode::EpsilonGreedy(_) => masked_argmax(out, mask),
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
    /// The last observation's output (Q-values, or log-probabilities for PPO).
    last: Vec<f32>,
}

impl Policy for GreedyQ {
    fn act(&mut self, obs: &[f32], mask: Option<&[bool]>) -> Result<usize> {
        let q = read(
            self.net
                .forward(matrix(obs.to_vec(), 1, self.obs_len, &self.device)),
        )?;
        let a = pick(&q, self.mode, &mut self.rng, mask);
        self.last = q;
        Ok(a)
    }
    fn obs_len(&self) -> usize {
        self.obs_len
    }
    fn num_actions(&self) -> usize {
        self.actions
    }
    fn last_outputs(&self) -> Option<PolicyOutputs> {
        (!self.last.is_empty()).then(|| PolicyOutputs::QValues(self.last.clone()))
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
    /// The last observation's output (Q-values, or log-probabilities for PPO).
    last: Vec<f32>,
}

impl Policy for ArgmaxPolicy {
    fn act(&mut self, obs: &[f32], mask: Option<&[bool]>) -> Result<usize> {
        let (mut logits, _) = self
            .net
            .forward(matrix(obs.to_vec(), 1, self.obs_len, &self.device)); // [1, A]
        if let Some(mask) = mask {
            let mut add = vec![0.0; mask.len()];
            mask_logits(Some(mask), &mut add);
            logits = logits + matrix(add, 1, mask.len(), &self.device);
        }
        let logp = read(log_softmax(logits, 1))?; // [A], same argmax as the logits
        let a = pick(&logp, self.mode, &mut self.rng, mask);
        self.last = logp;
        Ok(a)
    }
    fn obs_len(&self) -> usize {
        self.obs_len
    }
    fn num_actions(&self) -> usize {
        self.actions
    }
    fn last_outputs(&self) -> Option<PolicyOutputs> {
        (!self.last.is_empty())
            .then(|| PolicyOutputs::Probabilities(self.last.iter().map(|l| l.exp()).collect()))
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
                last: Vec::new(),
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
                last: Vec::new(),
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
            c[pick(out, mode, &mut rng, None)] += 1;
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
    fn every_mode_keeps_to_the_legal_actions() {
        let out = [5.0f32, -1.0, 0.3, 2.0];
        let mask = [false, true, true, false];
        let mut rng = Rng::new(3);
        for mode in [
            ActMode::Greedy,
            ActMode::EpsilonGreedy(1.0),
            ActMode::EpsilonGreedy(0.3),
        ] {
            for _ in 0..1000 {
                let a = pick(&out, mode, &mut rng, Some(&mask));
                assert!(mask[a], "{mode:?} chose {a}");
            }
        }
        assert_eq!(pick(&out, ActMode::Greedy, &mut rng, Some(&mask)), 2);
        // Sampling from masked log-probabilities (as `ArgmaxPolicy::act` makes them).
        let mut add = vec![0.0; mask.len()];
        mask_logits(Some(&mask), &mut add);
        let logits: Vec<f32> = out.iter().zip(&add).map(|(o, m)| o + m).collect();
        let z = logits.iter().map(|x| x.exp()).sum::<f32>().ln();
        let logp: Vec<f32> = logits.iter().map(|x| x - z).collect();
        for _ in 0..1000 {
            assert!(mask[pick(&logp, ActMode::Sample, &mut rng, Some(&mask))]);
        }
        assert_eq!(crate::common::sample_logp(&logp, 0.999_999_9), 2);
    }

    #[test]
    fn modes_are_checked_against_the_agent() {
        assert!(ActMode::Sample.check(crate::dqn::KIND).is_err());
        assert!(ActMode::Sample.check(crate::ppo::KIND).is_ok());
        assert!(ActMode::EpsilonGreedy(1.5).check(crate::ppo::KIND).is_err());
        assert!(ActMode::EpsilonGreedy(0.05).check(crate::dqn::KIND).is_ok());
    }
}
