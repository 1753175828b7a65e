//! Ember's neural networks, written with `burn` 0.22.
//!
//! One convolutional trunk, [`ConvTrunk`], is the whole vision stack: a stack of plain or residual
//! 3x3 (configurable) conv blocks with optional batch norm and optional 2x2 max-pool downsampling,
//! `[B,C,H,W] -> [B,F,H',W']`. Every image network holds that same type, configured differently:
//! the Fashion-MNIST [`Classifier`], the DQN [`QNet`] (optionally dueling), the PPO
//! [`ActorCritic`] and the AlphaZero [`PolicyValueNet`]. Vector observations (CartPole) go through
//! an [`MlpTrunk`] instead; [`Encoder`] is the choice between the two, so agents take flat
//! observation batches `[B, obs_len]` straight from `VecEnv` and never name a trunk. Each module
//! is a `#[derive(Module)]` struct paired with a `#[derive(Config)]` config whose `init` validates
//! first and returns a [`NetsError`] instead of letting burn assert.
//!
//! Around the networks: [`checkpoint`] saves a model's config, its burnpack record, the optimizer
//! state and the trainer's own state in one CRC-checked file, written atomically (temp file,
//! fsync, rename), and refuses a file that is truncated, corrupt, or was written for another
//! config; [`tensorboard`] writes `events.out.tfevents.*` files (scalars, resume markers) that
//! TensorBoard reads; [`data`] reads IDX datasets (Fashion-MNIST) and batches them with seeded
//! shuffling and light augmentation; [`train`] holds the small training steps shared by the
//! experiments and the speed benchmarks; [`device`] turns `--device cpu|gpu` into a burn device.
//!
//! Backends: CPU is burn's pure-Rust `flex` backend (with its SIMD kernels and rayon threads),
//! built by default with no setup. On it the trunk's hot layers run Ember's own kernels, added
//! through burn's backend-extension API with hand-written backward passes: [`conv_same`] (the
//! classifier's and AlphaZero's convs, per image one matmul into the output planes),
//! [`batch_norm`] (fused training batch norm) and [`relu_pool`] (ReLU and the 2x2 max-pool in one
//! pass). Every other backend, and every other layer, is plain burn. GPUs come from the cargo
//! features `wgpu` and `cuda`; without them, asking for a GPU is an error that says which feature
//! to build with.

pub mod alloc;
pub mod batch_norm;
pub mod checkpoint;
pub mod conv_same;
pub mod crc;
pub mod data;
pub mod device;
pub mod error;
mod flex_util;
mod gemm;
pub mod heads;
pub mod pair;
pub mod qnet_fused;
pub mod relu_pool;
pub mod sum_squares;
pub mod td_loss;
pub mod tensorboard;
pub mod train;
pub mod trunk;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use device::DeviceChoice;
pub use error::NetsError;
pub use heads::{
    ActorCritic, ActorCriticConfig, Classifier, ClassifierConfig, PolicyValueNet,
    PolicyValueNetConfig, PolicyValueOutput, QNet, QNetConfig,
};
pub use trunk::{
    BlockKind, ConvBlock, ConvTrunk, ConvTrunkConfig, Encoder, EncoderConfig, MlpTrunk,
    MlpTrunkConfig,
};

/// Re-exported so that crates above `nets` use exactly the same `burn`.
pub use burn;
