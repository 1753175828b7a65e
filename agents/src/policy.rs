//! Trained agents as action pickers, for `ember eval` and `ember watch`.

use ember_nets::burn::tensor::Device;
use ember_nets::{ActorCritic, ActorCriticConfig, Checkpoint, QNet, QNetConfig};

use crate::common::{argmax, matrix, read};
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

/// A DQN's greedy policy: argmax of Q.
#[derive(Debug)]
pub struct GreedyQ {
    net: QNet,
    obs_len: usize,
    actions: usize,
    device: Device,
}

impl Policy for GreedyQ {
    fn act(&mut self, obs: &[f32]) -> Result<usize> {
        let q = read(
            self.net
                .forward(matrix(obs.to_vec(), 1, self.obs_len, &self.device)),
        )?;
        Ok(argmax(&q))
    }
    fn obs_len(&self) -> usize {
        self.obs_len
    }
    fn num_actions(&self) -> usize {
        self.actions
    }
}

/// A PPO agent's deterministic policy: the most probable action.
#[derive(Debug)]
pub struct ArgmaxPolicy {
    net: ActorCritic,
    obs_len: usize,
    actions: usize,
    device: Device,
}

impl Policy for ArgmaxPolicy {
    fn act(&mut self, obs: &[f32]) -> Result<usize> {
        let (logits, _) = self
            .net
            .forward(matrix(obs.to_vec(), 1, self.obs_len, &self.device));
        Ok(argmax(&read(logits)?))
    }
    fn obs_len(&self) -> usize {
        self.obs_len
    }
    fn num_actions(&self) -> usize {
        self.actions
    }
}

/// The policy stored in a DQN or PPO checkpoint, on `device` (without autodiff).
pub fn from_checkpoint(ck: &Checkpoint, device: &Device) -> Result<Box<dyn Policy>> {
    match ck.kind() {
        crate::dqn::KIND => {
            let cfg: QNetConfig = ck.model_config()?;
            let net = ck.apply_model(cfg.init(device)?)?;
            Ok(Box::new(GreedyQ {
                net,
                obs_len: cfg.encoder.input_len(),
                actions: cfg.num_actions,
                device: device.clone(),
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
            }))
        }
        other => Err(AgentError::Unsupported(format!(
            "a {other:?} checkpoint holds no DQN or PPO policy"
        ))),
    }
}
