//! Ember's agents.
//!
//! Not built yet (issues 5 and 7): DQN and PPO generic over `Env`, MCTS generic over a two-player
//! `Game` trait and an evaluator. Algorithms never name a game.
