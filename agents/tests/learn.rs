//! DQN and PPO each solve a tiny deterministic environment; runs are reproducible and resume
//! exactly; a diverging run stops with a message and keeps its last good checkpoint.

use ember_agents::common::{NetConfig, NoLog, RunIo, TrainSummary};
use ember_agents::dqn::{self, DqnConfig};
use ember_agents::ppo::{self, PpoConfig};
use ember_agents::{AgentError, Result};
use ember_envs::{Env, EnvError, Phase, RgbFrame, Space, Step};
use ember_nets::DeviceChoice;
use ember_nets::checkpoint::CheckpointDir;

/// A 5-state chain. Start in state 1. `right` moves right; reaching state 4 pays 1 and ends the
/// episode. `left` moves left; `left` in state 0 pays 0.2 and ends it (a lure). Truncated after
/// 12 steps. The observation is the one-hot state. Optimal: right ×3, return 1.
struct Chain {
    pos: usize,
    t: usize,
    phase: Phase,
    obs: [f32; 5],
    obs_space: Space,
    act_space: Space,
}

impl Chain {
    fn new() -> Self {
        Chain {
            pos: 1,
            t: 0,
            phase: Phase::Fresh,
            obs: [0.0; 5],
            obs_space: Space::uniform_box(&[5], 0.0, 1.0),
            act_space: Space::Discrete { n: 2 },
        }
    }
    fn draw(&mut self) {
        self.obs = [0.0; 5];
        self.obs[self.pos] = 1.0;
    }
}

impl Env for Chain {
    fn id(&self) -> &str {
        "Chain"
    }
    fn observation_space(&self) -> &Space {
        &self.obs_space
    }
    fn action_space(&self) -> &Space {
        &self.act_space
    }
    fn reset(&mut self, _seed: Option<u64>) -> &[f32] {
        self.pos = 1;
        self.t = 0;
        self.phase = Phase::Running;
        self.draw();
        &self.obs
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        self.phase.check_action(action, 2)?;
        self.t += 1;
        let (mut reward, mut terminated) = (0.0, false);
        if action == 1 {
            self.pos += 1;
            if self.pos == 4 {
                reward = 1.0;
                terminated = true;
            }
        } else if self.pos == 0 {
            reward = 0.2;
            terminated = true;
        } else {
            self.pos -= 1;
        }
        let truncated = !terminated && self.t >= 12;
        if terminated || truncated {
            self.phase = Phase::Over;
        }
        self.draw();
        Ok(Step {
            obs: &self.obs,
            reward,
            terminated,
            truncated,
            info: Default::default(),
        })
    }
    fn obs(&self) -> &[f32] {
        &self.obs
    }
    fn render_text(&self) -> String {
        format!("{}", self.pos)
    }
    fn render_rgb(&self) -> RgbFrame {
        RgbFrame::new(5, 1)
    }
}

fn make(_: usize) -> Result<Chain> {
    Ok(Chain::new())
}

fn net() -> NetConfig {
    NetConfig {
        mlp: vec![32],
        hidden: 32,
        ..NetConfig::default()
    }
}

fn dqn_cfg() -> DqnConfig {
    DqnConfig {
        total_steps: 2_000,
        buffer_size: 2_000,
        batch_size: 32,
        lr: 1e-3,
        target_update_period: 100,
        learning_starts: 200,
        exploration_steps: 1_000,
        end_epsilon: 0.05,
        eval_every: 0,
        eval_episodes: 3,
        checkpoint_every: 500,
        ..DqnConfig::default()
    }
}

fn ppo_cfg() -> PpoConfig {
    PpoConfig {
        total_steps: 6_144,
        num_envs: 4,
        num_steps: 64,
        num_minibatches: 4,
        lr: 3e-3,
        eval_every: 0,
        eval_episodes: 3,
        checkpoint_every: 2_048,
        ..PpoConfig::default()
    }
}

/// burn seeds a device's generator for the whole process: runs that initialise networks at the
/// same time in parallel tests would interleave their draws. One run at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run_dqn(
    cfg: &DqnConfig,
    dir: Option<&CheckpointDir>,
    resume: bool,
    stop: Option<u64>,
) -> Result<TrainSummary> {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let io = RunIo {
        logger: &mut NoLog,
        checkpoints: dir,
        resume,
        stop_after: stop,
    };
    dqn::train(cfg, &net(), 7, &mut make, DeviceChoice::Cpu, io)
}

fn run_ppo(
    cfg: &PpoConfig,
    dir: Option<&CheckpointDir>,
    resume: bool,
    stop: Option<u64>,
) -> Result<TrainSummary> {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let io = RunIo {
        logger: &mut NoLog,
        checkpoints: dir,
        resume,
        stop_after: stop,
    };
    ppo::train(cfg, &net(), 7, &mut make, DeviceChoice::Cpu, io)
}

#[test]
fn dqn_solves_the_chain() {
    let s = run_dqn(&dqn_cfg(), None, false, None).unwrap();
    let ev = s.eval.unwrap();
    assert_eq!(s.steps, 2_000);
    assert!(s.completed);
    assert!(
        (ev.mean_return - 1.0).abs() < 1e-6 && ev.mean_length == 3.0,
        "{s:?}"
    );
    // Same seed, same config: same weights.
    let again = run_dqn(&dqn_cfg(), None, false, None).unwrap();
    assert_eq!(again.weights_fingerprint, s.weights_fingerprint);
}

#[test]
fn dqn_variants_solve_the_chain() {
    // Dueling head, 3-step returns, plain (not double) targets, 2 environments.
    let cfg = DqnConfig {
        dueling: true,
        n_step: 3,
        double_dqn: false,
        num_envs: 2,
        total_steps: 3_000,
        ..dqn_cfg()
    };
    let s = run_dqn(&cfg, None, false, None).unwrap();
    assert!((s.eval.unwrap().mean_return - 1.0).abs() < 1e-6, "{s:?}");
}

#[test]
fn dqn_with_prioritized_replay_solves_the_chain() {
    let cfg = DqnConfig {
        prioritized_replay: true,
        ..dqn_cfg()
    };
    let s = run_dqn(&cfg, None, false, None).unwrap();
    assert!((s.eval.unwrap().mean_return - 1.0).abs() < 1e-6, "{s:?}");
    // Sampling by priority and weighting the loss moves the weights off the uniform run's.
    let uniform = run_dqn(&dqn_cfg(), None, false, None).unwrap();
    assert_ne!(s.weights_fingerprint, uniform.weights_fingerprint);
}

#[test]
fn dqn_with_rmsprop_solves_the_chain() {
    // MinAtar's optimizer and settings (centered RMSProp, alpha 0.95, eps 0.01).
    let cfg = DqnConfig {
        optimizer: dqn::DqnOptimizer::RmsProp,
        ..dqn_cfg()
    };
    let s = run_dqn(&cfg, None, false, None).unwrap();
    assert!((s.eval.unwrap().mean_return - 1.0).abs() < 1e-6, "{s:?}");
}

#[test]
fn ppo_solves_the_chain() {
    let s = run_ppo(&ppo_cfg(), None, false, None).unwrap();
    let ev = s.eval.unwrap();
    assert_eq!(s.steps, 6_144);
    assert!(
        (ev.mean_return - 1.0).abs() < 1e-6 && ev.mean_length == 3.0,
        "{s:?}"
    );
}

/// A DQN run cut at step 1,000 and resumed ends as the uninterrupted run: same updates,
/// episodes, weights and evaluation.
fn assert_dqn_resume_is_exact(cfg: &DqnConfig) {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (da, db) = (
        CheckpointDir::new(a.path(), 2),
        CheckpointDir::new(b.path(), 2),
    );
    let full = run_dqn(cfg, Some(&da), false, None).unwrap();
    let cut = run_dqn(cfg, Some(&db), false, Some(1_000)).unwrap();
    assert!(!cut.completed && cut.steps == 1_000);
    let resumed = run_dqn(cfg, Some(&db), true, None).unwrap();
    assert_eq!(resumed.steps, 2_000);
    assert_eq!(resumed.updates, full.updates);
    assert_eq!(resumed.episodes, full.episodes);
    assert_eq!(resumed.weights_fingerprint, full.weights_fingerprint);
    assert_eq!(resumed.eval, full.eval);
}

#[test]
fn dqn_resume_reproduces_the_uninterrupted_run() {
    assert_dqn_resume_is_exact(&DqnConfig {
        n_step: 2,
        ..dqn_cfg()
    });
}

#[test]
fn dqn_resume_with_priorities_reproduces_the_uninterrupted_run() {
    // The priorities are saved with the buffer, so the resumed run draws the same batches.
    assert_dqn_resume_is_exact(&DqnConfig {
        prioritized_replay: true,
        ..dqn_cfg()
    });
}

#[test]
fn dqn_with_rmsprop_trains_other_weights_and_resumes_exactly() {
    // MinAtar's optimizer: its state (both averages) is in the checkpoint, so the resumed run
    // is the same bits; and it is really used (the weights differ from Adam's).
    let rms = DqnConfig {
        optimizer: dqn::DqnOptimizer::RmsProp,
        ..dqn_cfg()
    };
    assert_dqn_resume_is_exact(&rms);
    let fingerprint = |cfg: &DqnConfig| {
        let d = tempfile::tempdir().unwrap();
        let dir = CheckpointDir::new(d.path(), 2);
        run_dqn(cfg, Some(&dir), false, None)
            .unwrap()
            .weights_fingerprint
    };
    assert_ne!(fingerprint(&rms), fingerprint(&dqn_cfg()));
    let uncentered = DqnConfig {
        rmsprop_centered: false,
        ..rms.clone()
    };
    assert_ne!(fingerprint(&rms), fingerprint(&uncentered));
    // Bad values name their key.
    for (cfg, key) in [
        (
            DqnConfig {
                rmsprop_alpha: 1.5,
                ..rms.clone()
            },
            "rmsprop_alpha",
        ),
        (
            DqnConfig {
                rmsprop_eps: 0.0,
                ..rms.clone()
            },
            "rmsprop_eps",
        ),
    ] {
        let err = cfg.validate("train.").unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
}

#[test]
fn ppo_resume_reproduces_the_uninterrupted_run() {
    let cfg = ppo_cfg();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (da, db) = (
        CheckpointDir::new(a.path(), 2),
        CheckpointDir::new(b.path(), 2),
    );
    let full = run_ppo(&cfg, Some(&da), false, None).unwrap();
    let cut = run_ppo(&cfg, Some(&db), false, Some(2_048)).unwrap();
    assert!(!cut.completed && cut.steps == 2_048);
    let resumed = run_ppo(&cfg, Some(&db), true, None).unwrap();
    assert_eq!(
        (resumed.steps, resumed.updates, resumed.episodes),
        (full.steps, full.updates, full.episodes)
    );
    assert_eq!(resumed.weights_fingerprint, full.weights_fingerprint);
}

#[test]
fn a_diverging_loss_stops_the_run_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let ck = CheckpointDir::new(dir.path(), 2);
    let cfg = DqnConfig {
        lr: 1e30,
        learning_starts: 300,
        checkpoint_every: 300,
        target_update_period: 100,
        ..dqn_cfg()
    };
    let e = run_dqn(&cfg, Some(&ck), false, None).unwrap_err();
    assert!(matches!(e, AgentError::NonFinite { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("TD loss") && msg.contains("last good checkpoint") && msg.contains("step 300"),
        "{msg}"
    );
    let (latest, skipped) = ck.latest().unwrap();
    assert!(skipped.is_empty());
    assert_eq!(latest.unwrap().0, 300);
}

#[test]
fn bad_configs_name_the_key() {
    let e = run_dqn(
        &DqnConfig {
            checkpoint_every: 150,
            ..dqn_cfg()
        },
        None,
        false,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("checkpoint_every") && e.contains("target_update_period"),
        "{e}"
    );
    let e = run_dqn(
        &DqnConfig {
            gamma: 1.5,
            ..dqn_cfg()
        },
        None,
        false,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("gamma"), "{e}");
    let e = run_ppo(
        &PpoConfig {
            num_minibatches: 5,
            ..ppo_cfg()
        },
        None,
        false,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("num_minibatches"), "{e}");
}

#[test]
fn dqn_replay_ratio_sets_updates_per_env_step() {
    // 4 envs, one update per 4 env steps: ⌊2000/4⌋ − ⌊200/4⌋ updates after learning starts.
    let cfg = DqnConfig {
        num_envs: 4,
        replay_ratio: Some(0.25),
        total_steps: 2_000,
        ..dqn_cfg()
    };
    let s = run_dqn(&cfg, None, false, None).unwrap();
    assert_eq!((s.steps, s.updates), (2_000, 450), "{s:?}");
    // A ratio above 1: 2 updates per env step.
    let cfg = DqnConfig {
        replay_ratio: Some(2.0),
        total_steps: 400,
        ..dqn_cfg()
    };
    let s = run_dqn(&cfg, None, false, None).unwrap();
    assert_eq!(s.updates, 400, "{s:?}");
    // It replaces train_frequency and gradient_steps; a ratio must be positive.
    for bad in [
        DqnConfig {
            replay_ratio: Some(0.5),
            train_frequency: 4,
            ..dqn_cfg()
        },
        DqnConfig {
            replay_ratio: Some(0.0),
            ..dqn_cfg()
        },
    ] {
        let e = run_dqn(&bad, None, false, None).unwrap_err().to_string();
        assert!(e.contains("replay_ratio"), "{e}");
    }
}
