//! Ember's neural networks.
//!
//! Not built yet (issue 4). The plan: one convolutional trunk written with `burn` 0.22, configured
//! differently for the Fashion-MNIST classifier, the DQN Q-network, the PPO actor-critic and the
//! AlphaZero policy-value net; an MLP trunk for vector observations; checkpoints and TensorBoard
//! logging. This crate and those above it are the only ones that depend on `burn`.
