//! The four networks built on the shared trunk: [`Classifier`], [`QNet`], [`ActorCritic`],
//! [`PolicyValueNet`]. Each validates its config before building (burn itself asserts).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::trunk::{ConvTrunk, ConvTrunkConfig, Encoder, EncoderConfig, invalid};

fn check_dropout(p: f64) -> Result<()> {
    if !(p.is_finite() && (0.0..1.0).contains(&p)) {
        return Err(invalid(format!(
            "dropout must be in [0, 1), got {}",
            ember_envs::fmt_number(p)
        )));
    }
    Ok(())
}

fn check_positive(name: &str, v: usize) -> Result<()> {
    if v == 0 {
        return Err(invalid(format!("{name} must be at least 1")));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Classifier
// ---------------------------------------------------------------------------------------------

/// An image classifier: trunk → (global average pool | flatten) → [Linear → ReLU → Dropout] →
/// Linear.
#[derive(Config, Debug)]
pub struct ClassifierConfig {
    /// The conv trunk; its `input_shape` is the image shape.
    pub trunk: ConvTrunkConfig,
    /// Number of classes.
    pub num_classes: usize,
    /// Width of the hidden fully connected layer; 0 for none.
    #[config(default = 0)]
    pub hidden: usize,
    /// Dropout before the output layer (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Average the trunk's output over space instead of flattening it.
    #[config(default = false)]
    pub global_pool: bool,
}

impl ClassifierConfig {
    /// Checks the config.
    pub fn validate(&self) -> Result<()> {
        self.trunk.validate()?;
        check_positive("num_classes", self.num_classes)?;
        check_dropout(self.dropout)
    }

    /// Builds the classifier.
    pub fn init(&self, device: &Device) -> Result<Classifier> {
        self.validate()?;
        let [f, _, _] = self.trunk.output_shape();
        let features = if self.global_pool {
            f
        } else {
            self.trunk.output_len()
        };
        let (hidden, out_in) = match self.hidden {
            0 => (None, features),
            h => (Some(LinearConfig::new(features, h).init(device)), h),
        };
        Ok(Classifier {
            trunk: self.trunk.init(device)?,
            hidden,
            dropout: DropoutConfig::new(self.dropout).init(),
            output: LinearConfig::new(out_in, self.num_classes).init(device),
            global_pool: self.global_pool,
        })
    }
}

/// See [`ClassifierConfig`].
#[derive(Module, Debug)]
pub struct Classifier {
    trunk: ConvTrunk,
    hidden: Option<Linear>,
    dropout: Dropout,
    output: Linear,
    global_pool: bool,
}

impl Classifier {
    /// Images `[B, C, H, W]` → logits `[B, K]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.trunk.forward(images); // [B, F, H', W']
        let x: Tensor<2> = if self.global_pool {
            x.mean_dims(&[2, 3]).flatten(1, 3) // [B, F, 1, 1] → [B, F]
        } else {
            x.flatten(1, 3) // [B, F·H'·W']
        };
        let x = match &self.hidden {
            Some(h) => relu(h.forward(x)), // [B, hidden]
            None => x,                     // [B, features]
        };
        let x = self.dropout.forward(x); // [B, hidden | features]
        self.output.forward(x) // [B, K]
    }
}

// ---------------------------------------------------------------------------------------------
// Q-network
// ---------------------------------------------------------------------------------------------

/// A DQN Q-network: encoder → Linear → ReLU → Q-values, or with `dueling`,
/// Q = V + A − mean(A) from two linear heads.
#[derive(Config, Debug)]
pub struct QNetConfig {
    /// Observation encoder (conv trunk or MLP).
    pub encoder: EncoderConfig,
    /// Number of discrete actions.
    pub num_actions: usize,
    /// Width of the hidden layer after the encoder.
    #[config(default = 128)]
    pub hidden: usize,
    /// Dueling architecture (Wang et al. 2016).
    #[config(default = false)]
    pub dueling: bool,
}

impl QNetConfig {
    /// Checks the config.
    pub fn validate(&self) -> Result<()> {
        self.encoder.validate()?;
        check_positive("num_actions", self.num_actions)?;
        check_positive("hidden", self.hidden)
    }

    /// Builds the Q-network.
    pub fn init(&self, device: &Device) -> Result<QNet> {
        self.validate()?;
        Ok(QNet {
            encoder: self.encoder.init(device)?,
            hidden: LinearConfig::new(self.encoder.output_len(), self.hidden).init(device),
            value: self
                .dueling
                .then(|| LinearConfig::new(self.hidden, 1).init(device)),
            advantage: LinearConfig::new(self.hidden, self.num_actions).init(device),
        })
    }
}

/// See [`QNetConfig`].
#[derive(Module, Debug)]
pub struct QNet {
    encoder: Encoder,
    hidden: Linear,
    value: Option<Linear>,
    advantage: Linear,
}

impl QNet {
    /// Flat observations `[B, obs_len]` → Q-values `[B, A]`.
    pub fn forward(&self, obs: Tensor<2>) -> Tensor<2> {
        if let Some(q) = self.forward_fused(&obs) {
            return q; // [B, A]
        }
        let x = self.encoder.forward(obs); // [B, features]
        let x = relu(self.hidden.forward(x)); // [B, hidden]
        let a = self.advantage.forward(x.clone()); // [B, A]
        match &self.value {
            None => a, // [B, A]
            Some(value) => {
                let v = value.forward(x); // [B, 1]
                let mean_a = a.clone().mean_dim(1); // [B, 1]
                v + a - mean_a // [B, A] (broadcast over actions)
            }
        }
    }

    /// MinAtar's network (one plain conv block, no batch norm, no dueling head) on the CPU as
    /// one op ([`crate::qnet_fused`]); `None` for every other network or backend.
    fn forward_fused(&self, obs: &Tensor<2>) -> Option<Tensor<2>> {
        let Encoder::Conv(trunk) = &self.encoder else {
            return None;
        };
        let conv = trunk.single_plain_conv()?;
        let (conv_b, b1, b2) = (
            conv.bias.as_ref()?,
            self.hidden.bias.as_ref()?,
            self.advantage.bias.as_ref()?,
        );
        if self.value.is_some() {
            return None;
        }
        let [b, _] = obs.dims();
        let [c, h, w] = trunk.input_shape();
        let x = obs.clone().reshape([b, c, h, w]); // [B, C, H, W]
        if !crate::qnet_fused::usable(&x) {
            return None;
        }
        Some(crate::qnet_fused::qnet_conv_mlp(
            x,
            conv.weight.val(),
            conv_b.val(),
            self.hidden.weight.val(),
            b1.val(),
            self.advantage.weight.val(),
            b2.val(),
        )) // [B, A]
    }
}

// ---------------------------------------------------------------------------------------------
// Actor-critic
// ---------------------------------------------------------------------------------------------

/// A PPO actor-critic: encoder → Linear → ReLU, then policy logits and a state value. With
/// `separate_critic` the value has a tower of its own (another encoder and hidden layer of the
/// same shapes), as gymnax-blines' `CategoricalSeparateMLP`; otherwise both heads share it, as in
/// CleanRL's Atari PPO.
#[derive(Config, Debug)]
pub struct ActorCriticConfig {
    /// Observation encoder (conv trunk or MLP).
    pub encoder: EncoderConfig,
    /// Number of discrete actions.
    pub num_actions: usize,
    /// Width of the hidden layer after the encoder.
    #[config(default = 256)]
    pub hidden: usize,
    /// Give the value head its own encoder and hidden layer instead of sharing the policy's
    /// (`Some(true)`). An `Option` so that configs stored before this field existed still load
    /// (missing means shared).
    pub separate_critic: Option<bool>,
}

impl ActorCriticConfig {
    /// Checks the config.
    pub fn validate(&self) -> Result<()> {
        self.encoder.validate()?;
        check_positive("num_actions", self.num_actions)?;
        check_positive("hidden", self.hidden)
    }

    /// Builds the actor-critic.
    pub fn init(&self, device: &Device) -> Result<ActorCritic> {
        self.validate()?;
        let critic = if self.separate_critic == Some(true) {
            Some(CriticTower {
                encoder: self.encoder.init(device)?,
                hidden: LinearConfig::new(self.encoder.output_len(), self.hidden).init(device),
            })
        } else {
            None
        };
        Ok(ActorCritic {
            encoder: self.encoder.init(device)?,
            hidden: LinearConfig::new(self.encoder.output_len(), self.hidden).init(device),
            policy: LinearConfig::new(self.hidden, self.num_actions).init(device),
            value: LinearConfig::new(self.hidden, 1).init(device),
            critic,
        })
    }
}

/// See [`ActorCriticConfig`].
#[derive(Module, Debug)]
pub struct ActorCritic {
    encoder: Encoder,
    hidden: Linear,
    policy: Linear,
    /// The value head, on the shared hidden layer or on the critic tower's.
    value: Linear,
    critic: Option<CriticTower>,
}

/// The value's own encoder and hidden layer (`separate_critic`).
#[derive(Module, Debug)]
pub struct CriticTower {
    encoder: Encoder,
    hidden: Linear,
}

impl ActorCritic {
    /// Flat observations `[B, obs_len]` → (policy logits `[B, A]`, values `[B]`).
    pub fn forward(&self, obs: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let features = self.encoder.forward(obs.clone()); // [B, features]
        let x = relu(self.hidden.forward(features)); // [B, hidden]
        let logits = self.policy.forward(x.clone()); // [B, A]
        let v_in = match &self.critic {
            Some(c) => relu(c.hidden.forward(c.encoder.forward(obs))), // [B, hidden]
            None => x,                                                 // [B, hidden]
        };
        let value = self.value.forward(v_in).flatten(0, 1); // [B, 1] → [B]
        (logits, value)
    }
}

// ---------------------------------------------------------------------------------------------
// AlphaZero policy-value net
// ---------------------------------------------------------------------------------------------

/// The AlphaZero policy-value net for an H×W board: the (full-resolution) trunk, a policy head
/// (1x1 conv to 2 planes → Linear to the action logits: by default H·W+1, a Go board's points
/// and pass; `num_actions` for other games, e.g. Connect Four's 7 columns) and a value head
/// (1x1 conv to 1 plane → Linear → ReLU → Linear → tanh).
#[derive(Config, Debug)]
pub struct PolicyValueNetConfig {
    /// The trunk; `input_shape` is `[planes, N, N]` and it must not downsample.
    pub trunk: ConvTrunkConfig,
    /// Width of the value head's hidden layer.
    #[config(default = 64)]
    pub value_hidden: usize,
    /// Action logits; `None`: H·W+1 (Go's points and pass).
    #[config(default = "None")]
    pub num_actions: Option<usize>,
    /// KataGo-style global pooling in the value head: a 1x1 conv to `value_channels` planes,
    /// then their mean and maximum over the board feed the hidden layer (so the head sees the
    /// whole board at any size). Off: one plane, flattened (AlphaZero's head).
    #[config(default = false)]
    pub global_pooling: bool,
    /// Planes of the pooled value head.
    #[config(default = 32)]
    pub value_channels: usize,
    /// An ownership head (KataGo): a 1x1 conv to one plane, tanh: who owns each cell at the end,
    /// from the view of the player to move.
    #[config(default = false)]
    pub ownership: bool,
}

impl PolicyValueNetConfig {
    /// Checks the config.
    pub fn validate(&self) -> Result<()> {
        self.trunk.validate()?;
        check_positive("value_hidden", self.value_hidden)?;
        if let Some(n) = self.num_actions {
            check_positive("num_actions", n)?;
        }
        check_positive("value_channels", self.value_channels)?;
        if !self.trunk.downsample_after.is_empty() {
            return Err(invalid(
                "the policy-value trunk must keep the board's resolution \
                            (downsample_after must be empty)"
                    .to_string(),
            ));
        }
        Ok(())
    }

    /// Number of actions: `num_actions`, or H·W points and pass.
    pub fn num_moves(&self) -> usize {
        self.num_actions
            .unwrap_or(self.trunk.input_shape[1] * self.trunk.input_shape[2] + 1)
    }

    /// Builds the net.
    pub fn init(&self, device: &Device) -> Result<PolicyValueNet> {
        self.validate()?;
        let [f, h, w] = self.trunk.output_shape();
        let bn = self.trunk.batch_norm;
        let conv1x1 = |o: usize| {
            Conv2dConfig::new([f, o], [1, 1])
                .with_bias(!bn)
                .init(device)
        };
        let norm = |o: usize| bn.then(|| BatchNormConfig::new(o).init(device));
        let (value_planes, value_in) = if self.global_pooling {
            (self.value_channels, 2 * self.value_channels)
        } else {
            (1, h * w)
        };
        Ok(PolicyValueNet {
            trunk: self.trunk.init(device)?,
            policy_conv: conv1x1(2),
            policy_norm: norm(2),
            policy_fc: LinearConfig::new(2 * h * w, self.num_moves()).init(device),
            value_conv: conv1x1(value_planes),
            value_norm: norm(value_planes),
            value_fc1: LinearConfig::new(value_in, self.value_hidden).init(device),
            value_fc2: LinearConfig::new(self.value_hidden, 1).init(device),
            ownership_conv: self
                .ownership
                .then(|| Conv2dConfig::new([f, 1], [1, 1]).init(device)),
            global_pooling: self.global_pooling,
        })
    }
}

/// See [`PolicyValueNetConfig`].
#[derive(Module, Debug)]
pub struct PolicyValueNet {
    trunk: ConvTrunk,
    policy_conv: Conv2d,
    policy_norm: Option<BatchNorm>,
    policy_fc: Linear,
    value_conv: Conv2d,
    value_norm: Option<BatchNorm>,
    value_fc1: Linear,
    value_fc2: Linear,
    ownership_conv: Option<Conv2d>,
    global_pooling: bool,
}

/// Everything a [`PolicyValueNet`] predicts.
#[derive(Debug, Clone)]
pub struct PolicyValueOutput {
    /// Action logits `[B, A]`.
    pub logits: Tensor<2>,
    /// Values in (−1, 1) `[B]`.
    pub value: Tensor<1>,
    /// Ownership in (−1, 1) `[B, H·W]`, with an ownership head.
    pub ownership: Option<Tensor<2>>,
}

impl PolicyValueNet {
    /// Boards `[B, C, H, W]` → (action logits `[B, A]`, values in (−1, 1) `[B]`).
    pub fn forward(&self, boards: Tensor<4>) -> (Tensor<2>, Tensor<1>) {
        let o = self.forward_all(boards);
        (o.logits, o.value)
    }

    /// Boards `[B, C, H, W]` → every head's output.
    pub fn forward_all(&self, boards: Tensor<4>) -> PolicyValueOutput {
        let x = self.trunk.forward(boards); // [B, F, H, W]
        let p = self.policy_conv.forward(x.clone()); // [B, 2, H, W]
        let p: Tensor<2> = relu(maybe_norm(&self.policy_norm, p)).flatten(1, 3); // [B, 2·H·W]
        let logits = self.policy_fc.forward(p); // [B, A]
        let ownership = self
            .ownership_conv
            .as_ref()
            .map(|c| c.forward(x.clone()).tanh().flatten::<2>(1, 3)); // [B, 1, H, W] → [B, H·W]
        let v = self.value_conv.forward(x); // [B, Cv, H, W]
        let v = relu(maybe_norm(&self.value_norm, v));
        let v: Tensor<2> = if self.global_pooling {
            let [b, c, _, _] = v.dims();
            let flat: Tensor<3> = v.flatten(2, 3); // [B, Cv, H·W]
            let mean = flat.clone().mean_dim(2).reshape([b, c]); // [B, Cv]
            let max = flat.max_dim(2).reshape([b, c]); // [B, Cv]
            Tensor::cat(vec![mean, max], 1) // [B, 2·Cv]
        } else {
            v.flatten(1, 3) // [B, H·W]
        };
        let v = relu(self.value_fc1.forward(v)); // [B, value_hidden]
        let value = self.value_fc2.forward(v).tanh().flatten(0, 1); // [B, 1] → [B]
        PolicyValueOutput {
            logits,
            value,
            ownership,
        }
    }

    /// Flat observations `[B, C·H·W]` → as [`forward`](Self::forward).
    pub fn forward_flat(&self, obs: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let o = self.forward_flat_all(obs);
        (o.logits, o.value)
    }

    /// Flat observations `[B, C·H·W]` → as [`forward_all`](Self::forward_all).
    pub fn forward_flat_all(&self, obs: Tensor<2>) -> PolicyValueOutput {
        let [b, _] = obs.dims();
        let [c, h, w] = self.trunk.input_shape();
        self.forward_all(obs.reshape([b, c, h, w])) // [B, C·H·W] → [B, C, H, W]
    }

    /// Whether the net has an ownership head.
    pub fn has_ownership(&self) -> bool {
        self.ownership_conv.is_some()
    }
}

fn maybe_norm(bn: &Option<BatchNorm>, x: Tensor<4>) -> Tensor<4> {
    match bn {
        Some(bn) => bn.forward(x),
        None => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trunk::MlpTrunkConfig;
    use burn::tensor::Distribution;

    #[test]
    fn policy_value_heads_on_a_non_square_board_with_pooling_and_ownership() {
        let dev = Device::flex();
        let trunk =
            ConvTrunkConfig::new([3, 6, 7], 8, 2).with_block(crate::trunk::BlockKind::Residual);
        let cfg = PolicyValueNetConfig::new(trunk)
            .with_num_actions(Some(7))
            .with_global_pooling(true)
            .with_value_channels(4)
            .with_ownership(true);
        let net = cfg.init(&dev).unwrap();
        assert!(net.has_ownership());
        let x = Tensor::<4>::random([5, 3, 6, 7], Distribution::Default, &dev);
        let o = net.forward_all(x);
        assert_eq!(o.logits.dims(), [5, 7]);
        assert_eq!(o.value.dims(), [5]);
        let own = o.ownership.unwrap();
        assert_eq!(own.dims(), [5, 42]);
        let v: Vec<f32> = crate::train::read(own.into_data()).unwrap();
        assert!(v.iter().all(|x| x.abs() < 1.0));
        // Pooling makes the value head independent of the board size: the same config with
        // another size has the same number of value parameters.
        let small = PolicyValueNetConfig::new(ConvTrunkConfig::new([3, 5, 5], 8, 2))
            .with_global_pooling(true)
            .with_value_channels(4);
        let big = PolicyValueNetConfig::new(ConvTrunkConfig::new([3, 9, 9], 8, 2))
            .with_global_pooling(true)
            .with_value_channels(4);
        let (s, b) = (small.init(&dev).unwrap(), big.init(&dev).unwrap());
        assert_eq!(s.value_fc1.weight.dims(), b.value_fc1.weight.dims());
    }

    #[test]
    fn dueling_q_averages_to_the_state_value() {
        // Q = V + A − mean(A), so mean over actions of Q is exactly V for every state.
        let dev = Device::flex();
        let q = QNetConfig::new(EncoderConfig::Mlp(MlpTrunkConfig::new(3, vec![8])), 4)
            .with_dueling(true)
            .with_hidden(8)
            .init(&dev)
            .unwrap();
        let obs = Tensor::<2>::random([5, 3], Distribution::Default, &dev);
        let mean_q: Vec<f32> =
            crate::train::read(q.forward(obs.clone()).mean_dim(1).into_data()).unwrap();
        let h = relu(q.hidden.forward(q.encoder.forward(obs)));
        let v: Vec<f32> =
            crate::train::read(q.value.as_ref().unwrap().forward(h).into_data()).unwrap();
        for (a, b) in mean_q.iter().zip(&v) {
            assert!((a - b).abs() < 1e-5, "{mean_q:?} vs {v:?}");
        }
    }

    #[test]
    fn a_separate_critic_has_its_own_tower_and_leaves_the_policy_alone() {
        let dev = Device::flex();
        let enc = EncoderConfig::Mlp(MlpTrunkConfig::new(6, vec![10]));
        let shared = ActorCriticConfig::new(enc.clone(), 3)
            .with_hidden(8)
            .init(&dev)
            .unwrap();
        let split = ActorCriticConfig::new(enc, 3)
            .with_hidden(8)
            .with_separate_critic(Some(true))
            .init(&dev)
            .unwrap();
        // The tower adds one more encoder (6·10+10) and hidden layer (10·8+8).
        assert_eq!(split.num_params(), shared.num_params() + 70 + 88);
        let obs = Tensor::<2>::random([4, 6], Distribution::Default, &dev);
        let (logits, value) = split.forward(obs.clone());
        assert_eq!((logits.dims(), value.dims()), ([4, 3], [4]));
        // The value comes from the tower alone: the policy's layers do not affect it.
        let tower = split.critic.as_ref().unwrap();
        let h = relu(tower.hidden.forward(tower.encoder.forward(obs)));
        let expected: Vec<f32> =
            crate::train::read(split.value.forward(h).flatten::<1>(0, 1).into_data()).unwrap();
        let got: Vec<f32> = crate::train::read(value.into_data()).unwrap();
        for (a, b) in got.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-6, "{got:?} vs {expected:?}");
        }
    }
}
