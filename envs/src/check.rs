//! `check_env`: the `Env` contract, executable. Every environment's tests call it.
//!
//! It plays seeded random episodes (respecting the action mask) on fresh instances and checks:
//! spaces are sane; stepping before `reset` is an error; observations lie in the observation space
//! and `obs()` matches what was returned; rewards are finite; the same seed and actions give the
//! same trajectory on a fresh instance and after an unrelated history; rejected actions (outside
//! the space, or masked out) are errors that leave the episode unchanged; stepping after the end
//! is an error and `reset` recovers; rendering works.

use thiserror::Error;

use crate::rng::Rng;
use crate::{Env, EnvError, Space};

/// A broken promise of the contract, with a description of what was seen.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("check_env({env}): {problem}")]
pub struct CheckError {
    pub env: String,
    pub problem: String,
}

/// How hard `check_env` looks.
#[derive(Debug, Clone, Copy)]
pub struct CheckConfig {
    pub seed: u64,
    /// Episodes compared step by step.
    pub episodes: usize,
    /// Steps after which a long episode is cut (the comparison still covers those steps).
    pub max_steps_per_episode: usize,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            seed: 12345,
            episodes: 3,
            max_steps_per_episode: 3000,
        }
    }
}

/// What `check_env` saw, for tests that want more than a pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckReport {
    pub episodes: usize,
    pub steps: usize,
    pub terminated: usize,
    pub truncated: usize,
}

#[derive(Debug, Clone, PartialEq)]
struct Record {
    obs: Vec<f32>,
    reward: f32,
    terminated: bool,
    truncated: bool,
}

/// Checks the contract with the default configuration.
pub fn check_env<F: Fn() -> Box<dyn Env>>(make: F) -> Result<CheckReport, CheckError> {
    check_env_with(make, CheckConfig::default())
}

/// Checks the contract on instances made by `make`.
pub fn check_env_with<F: Fn() -> Box<dyn Env>>(
    make: F,
    cfg: CheckConfig,
) -> Result<CheckReport, CheckError> {
    let mut env = make();
    let id = env.id().to_string();
    let fail = |problem: String| CheckError {
        env: id.clone(),
        problem,
    };

    // Spaces.
    let n = match env.action_space() {
        Space::Discrete { n } if *n > 0 => *n,
        other => {
            return Err(fail(format!(
                "action space must be Discrete(n > 0), is {other}"
            )));
        }
    };
    let obs_space = env.observation_space().clone();
    let Space::Box { .. } = obs_space else {
        return Err(fail(format!(
            "observation space must be a Box, is {obs_space}"
        )));
    };
    if obs_space.shape().iter().product::<usize>() != obs_space.flat_len()
        || obs_space.flat_len() == 0
    {
        return Err(fail(
            "observation space has an empty or inconsistent shape".into(),
        ));
    }

    // Stepping before reset.
    match env.step(0) {
        Err(_) => {}
        Ok(_) => {
            return Err(fail(
                "step before the first reset succeeded; it must be an error".into(),
            ));
        }
    }

    // Seeded reset is deterministic.
    let first = env.reset(Some(cfg.seed)).to_vec();
    check_obs(&obs_space, &first).map_err(|e| fail(format!("reset observation: {e}")))?;
    let again = env.reset(Some(cfg.seed)).to_vec();
    if first != again {
        return Err(fail(
            "reset(seed) twice with the same seed gave different observations".into(),
        ));
    }

    let mut report = CheckReport::default();
    for ep in 0..cfg.episodes {
        let seed = cfg.seed.wrapping_add(ep as u64);
        // A: with rejected actions interleaved, on the instance that has a history.
        let (a, actions) = play(&mut *env, seed, None, n, &obs_space, cfg, true).map_err(&fail)?;
        // B: a fresh instance replaying the same actions.
        let mut fresh = make();
        let (b, _) =
            play(&mut *fresh, seed, Some(&actions), n, &obs_space, cfg, false).map_err(&fail)?;
        if let Some(i) = first_difference(&a, &b) {
            return Err(fail(format!(
                "episode {ep} (seed {seed}): a fresh instance with the same seed and actions diverged at step {i} \
                 (or a rejected action changed the state): {:?} vs {:?}",
                a.get(i).map(short),
                b.get(i).map(short)
            )));
        }
        // C: the first instance again, after its history.
        let (c, _) =
            play(&mut *env, seed, Some(&actions), n, &obs_space, cfg, false).map_err(&fail)?;
        if let Some(i) = first_difference(&a, &c) {
            return Err(fail(format!(
                "episode {ep} (seed {seed}): replay after reset(seed) diverged at step {i}"
            )));
        }
        report.episodes += 1;
        report.steps += a.len().saturating_sub(1);
        let last = a.last().expect("play records the reset");
        report.terminated += last.terminated as usize;
        report.truncated += last.truncated as usize;
        if (last.terminated || last.truncated) && env.step(0).is_ok() {
            return Err(fail(
                "step after the episode ended succeeded; it must be an error".into(),
            ));
        }
    }
    // reset(None) continues and gives a valid observation.
    let o = env.reset(None).to_vec();
    check_obs(&obs_space, &o).map_err(|e| fail(format!("reset(None) observation: {e}")))?;

    // Rendering.
    if env.render_text().trim().is_empty() {
        return Err(fail("render_text returned nothing".into()));
    }
    let f = env.render_rgb();
    if f.width == 0 || f.height == 0 || f.data.len() != f.width * f.height * 3 {
        return Err(fail(format!(
            "render_rgb gave a {}x{} frame with {} bytes",
            f.width,
            f.height,
            f.data.len()
        )));
    }
    Ok(report)
}

fn short(r: &Record) -> (f32, bool, bool) {
    (r.reward, r.terminated, r.truncated)
}

fn first_difference(a: &[Record], b: &[Record]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))
}

fn check_obs(space: &Space, obs: &[f32]) -> Result<(), String> {
    space
        .contains_flat(obs)
        .map_err(|e| format!("observation outside {space}: {e}"))
}

/// Plays one seeded episode. With `replay`, takes those actions; otherwise random legal ones.
/// With `probe`, tries rejected actions before some steps and checks they are errors.
fn play(
    env: &mut dyn Env,
    seed: u64,
    replay: Option<&[usize]>,
    n: usize,
    space: &Space,
    cfg: CheckConfig,
    probe: bool,
) -> Result<(Vec<Record>, Vec<usize>), String> {
    let mut rng = Rng::new(seed ^ 0x00C0_FFEE);
    let obs = env.reset(Some(seed)).to_vec();
    check_obs(space, &obs)?;
    let mut recs = vec![Record {
        obs,
        reward: 0.0,
        terminated: false,
        truncated: false,
    }];
    let mut actions = Vec::new();
    for t in 0..cfg.max_steps_per_episode {
        let mask = env.action_mask().map(|m| m.to_vec());
        if let Some(m) = &mask {
            if m.len() != n {
                return Err(format!(
                    "action mask has {} entries for Discrete({n})",
                    m.len()
                ));
            }
            if !m.iter().any(|&b| b) {
                return Err(format!("no legal action at step {t} of a running episode"));
            }
        }
        if probe && t % 7 == 0 {
            for bad in [n, n + 1, usize::MAX] {
                match env.step(bad) {
                    Err(EnvError::InvalidAction { .. }) => {}
                    Err(e) => {
                        return Err(format!(
                            "action {bad} outside Discrete({n}) gave the wrong error: {e}"
                        ));
                    }
                    Ok(_) => {
                        return Err(format!("action {bad} outside Discrete({n}) was accepted"));
                    }
                }
            }
            if let Some(m) = &mask
                && let Some(bad) = m.iter().position(|&b| !b)
                && env.step(bad).is_ok()
            {
                return Err(format!("masked-out action {bad} was accepted at step {t}"));
            }
        }
        let a = match replay {
            Some(acts) => match acts.get(t) {
                Some(&a) => a,
                None => break,
            },
            None => match &mask {
                Some(m) => {
                    let legal: Vec<usize> = (0..n).filter(|&i| m[i]).collect();
                    legal[rng.below(legal.len())]
                }
                None => rng.below(n),
            },
        };
        actions.push(a);
        let s = env
            .step(a)
            .map_err(|e| format!("legal action {a} at step {t} was rejected: {e}"))?;
        check_obs(space, s.obs).map_err(|e| format!("step {t}: {e}"))?;
        if !s.reward.is_finite() {
            return Err(format!("step {t}: reward {} is not finite", s.reward));
        }
        let rec = Record {
            obs: s.obs.to_vec(),
            reward: s.reward,
            terminated: s.terminated,
            truncated: s.truncated,
        };
        if env.obs() != &rec.obs[..] {
            return Err(format!(
                "step {t}: obs() differs from the observation step returned"
            ));
        }
        let done = rec.terminated || rec.truncated;
        recs.push(rec);
        if done {
            break;
        }
    }
    Ok((recs, actions))
}
