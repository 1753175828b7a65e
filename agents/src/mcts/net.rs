//! The policy-value network as an [`Evaluator`]: a batch of states observed into one input
//! tensor, one forward pass, softmax priors and tanh values.

use ember_envs::Game;
use ember_nets::burn::tensor::Device;
use ember_nets::burn::tensor::activation::softmax;
use ember_nets::{PolicyValueNet, PolicyValueNetConfig};

use super::evaluator::Evaluator;
use crate::common::{matrix, read};

/// Evaluates leaves with a [`PolicyValueNet`] (an inference copy: `model.valid()`).
#[derive(Debug, Clone)]
pub struct NetEvaluator {
    net: PolicyValueNet,
    device: Device,
    shape: [usize; 3],
    actions: usize,
    obs: Vec<f32>,
    /// Positions evaluated, and forward passes made.
    pub positions: u64,
    pub calls: u64,
}

impl NetEvaluator {
    /// `net` built from `cfg` (its input shape and action count are checked against games).
    pub fn new(net: PolicyValueNet, cfg: &PolicyValueNetConfig, device: Device) -> NetEvaluator {
        NetEvaluator {
            net,
            device,
            shape: cfg.trunk.input_shape,
            actions: cfg.num_moves(),
            obs: Vec::new(),
            positions: 0,
            calls: 0,
        }
    }

    /// Swaps in newer weights.
    pub fn set_net(&mut self, net: PolicyValueNet) {
        self.net = net;
    }
}

impl<G: Game> Evaluator<G> for NetEvaluator {
    fn accepts(&self, state: &G) -> Result<(), String> {
        if state.observation_shape() != self.shape || state.num_actions() != self.actions {
            return Err(format!(
                "the network takes {:?} observations and {} actions; {} has {:?} and {}",
                self.shape,
                self.actions,
                state.name(),
                state.observation_shape(),
                state.num_actions()
            ));
        }
        Ok(())
    }
    fn evaluate(&mut self, states: &[&G], priors: &mut [f32], values: &mut [f32]) {
        let n = states.len();
        if n == 0 {
            return;
        }
        let [c, h, w] = states[0].observation_shape();
        let len = c * h * w;
        self.obs.resize(n * len, 0.0);
        for (s, o) in states.iter().zip(self.obs.chunks_mut(len)) {
            s.observe(o);
        }
        let (logits, v) = self
            .net
            .forward_flat(matrix(self.obs.clone(), n, len, &self.device));
        let p = read(softmax(logits, 1)).expect("the net's policy reads back");
        let v = read(v).expect("the net's values read back");
        priors[..p.len()].copy_from_slice(&p);
        values[..n].copy_from_slice(&v[..n]);
        self.positions += n as u64;
        self.calls += 1;
    }
    fn name(&self) -> String {
        "net".into()
    }
    fn ownership(&self, state: &G) -> Option<Vec<f32>> {
        if !self.net.has_ownership() || Evaluator::<G>::accepts(self, state).is_err() {
            return None;
        }
        let [c, h, w] = state.observation_shape();
        let mut obs = vec![0.0; c * h * w];
        state.observe(&mut obs);
        let out = self
            .net
            .forward_flat_all(matrix(obs, 1, c * h * w, &self.device));
        out.ownership.and_then(|o| read(o).ok())
    }
}
