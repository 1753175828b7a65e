//! Action masks: PPO and DQN train briefly on `Go5x5-v0` (against its random opponent), in
//! training and in their evaluations, and a trained policy acts, all without an illegal move.
//! `Go5x5-v0` refuses an illegal move with an error (`EnvError::IllegalAction`), which would end
//! the run, so a run that completes sent none; the policy's choices are checked against the mask.

use ember_agents::common::{NetConfig, NoLog, RunIo};
use ember_agents::dqn::{self, DqnConfig};
use ember_agents::policy::{ActMode, from_checkpoint};
use ember_agents::ppo::{self, PpoConfig};
use ember_agents::{AgentError, Result};
use ember_envs::Env;
use ember_nets::DeviceChoice;
use ember_nets::checkpoint::CheckpointDir;

fn go5x5(_k: usize) -> Result<Box<dyn Env>> {
    ember_envs::make("Go5x5-v0", &[] as &[(&str, &str)]).map_err(AgentError::Env)
}

fn net() -> NetConfig {
    NetConfig {
        conv_width: 8,
        hidden: 32,
        ..NetConfig::default()
    }
}

#[test]
fn ppo_trains_on_go5x5_without_an_illegal_move() {
    let tmp = tempfile::tempdir().unwrap();
    let ckpts = CheckpointDir::new(tmp.path().join("checkpoints"), 2);
    let cfg = PpoConfig {
        total_steps: 1_024,
        num_envs: 4,
        num_steps: 64,
        num_minibatches: 4,
        update_epochs: 2,
        eval_every: 512,
        eval_episodes: 4,
        checkpoint_every: 512,
        ..PpoConfig::default()
    };
    let io = RunIo {
        logger: &mut NoLog,
        checkpoints: Some(&ckpts),
        resume: false,
        stop_after: None,
    };
    let s = ppo::train(&cfg, &net(), 5, &mut go5x5, DeviceChoice::Cpu, io).unwrap();
    assert_eq!(s.steps, 1_024);
    assert!(s.episodes > 0 && s.eval.is_some(), "{s:?}");

    // The trained policy, greedy and sampled, picks legal moves.
    let (_, ck) = ckpts.latest().unwrap().0.unwrap();
    let dev = DeviceChoice::Cpu.device().unwrap();
    for mode in [
        ActMode::Greedy,
        ActMode::Sample,
        ActMode::EpsilonGreedy(0.5),
    ] {
        let mut policy = from_checkpoint(&ck, &dev, mode, 1).unwrap();
        let mut env = go5x5(0).unwrap();
        env.reset(Some(3));
        for _ in 0..200 {
            let a = policy.act(env.obs(), env.action_mask()).unwrap();
            assert!(
                env.action_mask().unwrap()[a],
                "{mode:?} chose the illegal move {a}"
            );
            if env.step(a).unwrap().done() {
                env.reset(None);
            }
        }
    }
}

#[test]
fn dqn_trains_on_go5x5_without_an_illegal_move() {
    let cfg = DqnConfig {
        total_steps: 600,
        buffer_size: 1_000,
        learning_starts: 100,
        target_update_period: 100,
        exploration_steps: 300,
        eval_every: 300,
        eval_episodes: 2,
        eval_epsilon: 0.5,
        ..DqnConfig::default()
    };
    let io = RunIo {
        logger: &mut NoLog,
        checkpoints: None,
        resume: false,
        stop_after: None,
    };
    let s = dqn::train(&cfg, &net(), 5, &mut go5x5, DeviceChoice::Cpu, io).unwrap();
    assert_eq!(s.steps, 600);
    assert!(s.episodes > 0 && s.eval.is_some(), "{s:?}");
}
