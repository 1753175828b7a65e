//! Action masks: PPO and DQN train briefly on `Go5x5-v0` (against its random opponent) and never
//! send an illegal move, in training or in their evaluations; a trained policy picks legal moves.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ember_agents::common::{NetConfig, NoLog, RunIo};
use ember_agents::dqn::{self, DqnConfig};
use ember_agents::ppo::{self, PpoConfig};
use ember_agents::policy::{ActMode, from_checkpoint};
use ember_agents::{AgentError, Result};
use ember_envs::{Env, EnvError, RgbFrame, Space, Step};
use ember_nets::DeviceChoice;
use ember_nets::checkpoint::CheckpointDir;

/// An environment that counts the actions it is sent, and those its mask forbids.
struct Checked {
    inner: Box<dyn Env>,
    sent: Arc<AtomicUsize>,
    illegal: Arc<AtomicUsize>,
}

impl Env for Checked {
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn observation_space(&self) -> &Space {
        self.inner.observation_space()
    }
    fn action_space(&self) -> &Space {
        self.inner.action_space()
    }
    fn reset(&mut self, seed: Option<u64>) -> &[f32] {
        self.inner.reset(seed)
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        if let Some(mask) = self.inner.action_mask()
            && !mask.get(action).copied().unwrap_or(false)
        {
            self.illegal.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.step(action)
    }
    fn obs(&self) -> &[f32] {
        self.inner.obs()
    }
    fn action_mask(&self) -> Option<&[bool]> {
        self.inner.action_mask()
    }
    fn render_text(&self) -> String {
        self.inner.render_text()
    }
    fn render_rgb(&self) -> RgbFrame {
        self.inner.render_rgb()
    }
}

/// A factory of checked `Go5x5-v0` environments, and its two counters (sent, illegal).
#[allow(clippy::type_complexity)]
fn go5x5() -> (
    impl FnMut(usize) -> Result<Box<dyn Env>>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
) {
    let (sent, illegal) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (s, i) = (sent.clone(), illegal.clone());
    let make = move |_k: usize| -> Result<Box<dyn Env>> {
        let inner = ember_envs::make("Go5x5-v0", &[] as &[(&str, &str)]).map_err(AgentError::Env)?;
        Ok(Box::new(Checked {
            inner,
            sent: s.clone(),
            illegal: i.clone(),
        }) as Box<dyn Env>)
    };
    (make, sent, illegal)
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
    let (mut make, sent, illegal) = go5x5();
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
    let s = ppo::train(&cfg, &net(), 5, &mut make, DeviceChoice::Cpu, io).unwrap();
    assert_eq!(s.steps, 1_024);
    assert!(s.episodes > 0, "{s:?}");
    assert!(sent.load(Ordering::Relaxed) > 1_024, "training and evaluation steps");
    assert_eq!(illegal.load(Ordering::Relaxed), 0, "illegal moves were sent");

    // The trained policy, greedy and sampled, picks legal moves.
    let (_, ck) = ckpts.latest().unwrap().0.unwrap();
    let dev = DeviceChoice::Cpu.device().unwrap();
    for mode in [ActMode::Greedy, ActMode::Sample, ActMode::EpsilonGreedy(0.5)] {
        let mut policy = from_checkpoint(&ck, &dev, mode, 1).unwrap();
        let mut env = make(0).unwrap();
        env.reset(Some(3));
        for _ in 0..200 {
            let a = policy.act(env.obs(), env.action_mask()).unwrap();
            if env.step(a).unwrap().done() {
                env.reset(None);
            }
        }
    }
    assert_eq!(illegal.load(Ordering::Relaxed), 0, "the policy chose an illegal move");
}

#[test]
fn dqn_trains_on_go5x5_without_an_illegal_move() {
    let (mut make, sent, illegal) = go5x5();
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
    let s = dqn::train(&cfg, &net(), 5, &mut make, DeviceChoice::Cpu, io).unwrap();
    assert_eq!(s.steps, 600);
    assert!(sent.load(Ordering::Relaxed) > 600);
    assert_eq!(illegal.load(Ordering::Relaxed), 0, "illegal moves were sent");
}
