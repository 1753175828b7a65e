//! The policy-value network as an [`Evaluator`]: a batch of states observed into one input
//! tensor, one forward pass, softmax priors and tanh values.
//!
//! With a score utility (KataGo's idea, in a simple form) and a network with an ownership head,
//! a leaf's value is `(1 − w)·v + w·tanh(m / √cells)`, where `m` is the final score margin the
//! ownership head predicts for the player to move (`Σ ownership + Game::score_bonus` of the
//! mover minus the opponent's) and `cells` the board's cells. A side that is lost (or won) by
//! the value head alone still prefers the moves that keep its score up, so a lost game goes on
//! being fought for the opponent's mistakes, and a won one is not thrown away.

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
    /// The score utility's weight `w` (see the module docs); 0 leaves the value head's values.
    score_utility: f32,
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
            score_utility: 0.0,
            positions: 0,
            calls: 0,
        }
    }

    /// Values mixed with the predicted score margin with weight `w` in `[0, 1]` (see the module
    /// docs); no effect on a network without an ownership head.
    pub fn with_score_utility(mut self, w: f32) -> NetEvaluator {
        self.score_utility = w.clamp(0.0, 1.0);
        self
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
        let out = self
            .net
            .forward_flat_all(matrix(self.obs.clone(), n, len, &self.device));
        let p = read(softmax(out.logits, 1)).expect("the net's policy reads back");
        let v = read(out.value).expect("the net's values read back");
        priors[..p.len()].copy_from_slice(&p);
        values[..n].copy_from_slice(&v[..n]);
        let w = self.score_utility;
        if let (true, Some(own)) = (w > 0.0, out.ownership) {
            let own = read(own).expect("the net's ownership reads back");
            let cells = own.len() / n;
            let scale = (cells as f32).sqrt();
            for ((value, s), o) in values.iter_mut().zip(states).zip(own.chunks_exact(cells)) {
                let me = s.current_player();
                let margin = o.iter().sum::<f32>() + s.score_bonus(me) - s.score_bonus(1 - me);
                *value = (1.0 - w) * *value + w * (margin / scale).tanh();
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use ember_envs::go::GoState;
    use ember_nets::ConvTrunkConfig;

    /// The score utility mixes each leaf's value with `tanh(margin / √cells)`, the margin read
    /// from the ownership head and the game's komi for the player to move; weight 0 leaves the
    /// value head's values.
    #[test]
    fn score_utility_mixes_the_predicted_margin_into_values() {
        let dev = Device::flex();
        dev.seed(3);
        let mut black = GoState::new(5, 7.5).unwrap();
        let mut white = black.clone();
        white.apply(12).unwrap(); // Black plays the centre: White to move
        black.apply(12).unwrap();
        black.apply(6).unwrap(); // and White replies: Black to move
        let trunk = ConvTrunkConfig::new(black.observation_shape(), 8, 1);
        let cfg = crate::alphazero::net_config(&black, trunk, 16).with_ownership(true);
        let net = cfg.init(&dev).unwrap();
        let states = [&black, &white];
        let n = states.len();
        let run = |w: f32| {
            let mut ev = NetEvaluator::new(net.clone(), &cfg, dev.clone()).with_score_utility(w);
            let mut priors = vec![0.0; n * black.num_actions()];
            let mut values = vec![0.0; n];
            Evaluator::<GoState>::evaluate(&mut ev, &states, &mut priors, &mut values);
            (priors, values)
        };
        let (p0, v0) = run(0.0);
        let (p1, v1) = run(1.0);
        let (ph, vh) = run(0.5);
        assert_eq!(p0, p1, "the priors do not depend on the utility");
        assert_eq!(p0, ph);
        // The margins by hand, from the same forward pass.
        let [c, h, w] = black.observation_shape();
        let mut obs = vec![0.0; n * c * h * w];
        let len = obs.len() / n;
        for (s, o) in states.iter().zip(obs.chunks_mut(len)) {
            s.observe(o);
        }
        let out = net.forward_flat_all(matrix(obs, n, len, &dev));
        let own = read(out.ownership.unwrap()).unwrap();
        let plain = read(out.value).unwrap();
        // Komi counts against Black (state 0, Black to move) and for White (state 1).
        for (i, (&v, komi_sign)) in plain.iter().zip([-1.0f32, 1.0]).enumerate() {
            let margin = own[i * 25..(i + 1) * 25].iter().sum::<f32>() + komi_sign * 7.5;
            let u = (margin / 5.0).tanh();
            assert_eq!(v0[i], v, "weight 0: the value head's value");
            assert!((v1[i] - u).abs() < 1e-6, "state {i}: {} vs {u}", v1[i]);
            assert!((vh[i] - (0.5 * v + 0.5 * u)).abs() < 1e-6);
        }
    }
}
