//! Stepping speed: an environment under uniformly random actions on one thread, and optionally
//! MinAtar's own Python loop on the same game in the same run (`ember bench env --vs-minatar`).

use std::path::Path;
use std::time::Instant;

use ember_agents::common::random_legal;
use ember_envs::Env;
use ember_envs::rng::Rng;
use serde_json::{Value, json};

use crate::env::make_env;
use crate::error::{Context, Result, bail};

/// Steps per second of wall-clock time and of this thread's CPU time.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub wall: f64,
    pub cpu: f64,
}

/// Times `steps` random-action steps (episodes reset as they end), after a warm-up.
pub fn time_env(env: &mut dyn Env, steps: u64, seed: u64) -> Result<Rate> {
    let n = env
        .action_space()
        .n()
        .context("bench env needs a discrete action space")?;
    let mut rng = Rng::new(seed);
    env.reset(Some(seed));
    let mut run = |env: &mut dyn Env, count: u64| -> Result<()> {
        for _ in 0..count {
            let a = random_legal(&mut rng, n, env.action_mask());
            let done = env.step(a)?.done();
            if done {
                env.reset(None);
            }
        }
        Ok(())
    };
    run(env, (steps / 20).max(1000))?;
    let (t0, c0) = (Instant::now(), cpu_time::ThreadTime::now());
    run(env, steps)?;
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), c0.elapsed().as_secs_f64());
    Ok(Rate {
        wall: steps as f64 / wall,
        cpu: steps as f64 / cpu.max(1e-9),
    })
}

/// MinAtar's timing of the same game, and Ember's speed-up over it.
#[derive(Debug, Clone, Copy)]
pub struct MinAtarRate {
    /// MinAtar's module name (`breakout`, …).
    pub game: &'static str,
    /// Steps MinAtar was timed over.
    pub steps: u64,
    /// Its rate.
    pub rate: Rate,
}

/// What `ember bench env` measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The environment id.
    pub env: String,
    /// Steps timed.
    pub steps: u64,
    /// Ember's rate.
    pub rate: Rate,
    /// MinAtar's, when asked for.
    pub minatar: Option<MinAtarRate>,
}

impl BenchReport {
    /// `ember bench env --json`'s object.
    pub fn to_json(&self) -> Value {
        let mut out = json!({"env": self.env, "steps": self.steps,
                             "steps_per_sec": self.rate.wall, "steps_per_cpu_sec": self.rate.cpu});
        if let Some(m) = &self.minatar {
            out["minatar_steps_per_sec"] = json!(m.rate.wall);
            out["minatar_steps_per_cpu_sec"] = json!(m.rate.cpu);
            out["speedup"] = json!(self.rate.cpu / m.rate.cpu);
            out["speedup_wall"] = json!(self.rate.wall / m.rate.wall);
        }
        out
    }
}

const MINATAR_BENCH_PY: &str = r#"
import sys, time
import numpy as np
from minatar import Environment
game, steps, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
env = Environment(game)
env.seed(seed)
rng = np.random.RandomState(seed)
env.reset()
actions = rng.randint(6, size=steps)
t0, c0 = time.perf_counter(), time.process_time()
for a in actions:
    r, done = env.act(a)
    obs = env.state()  # an agent needs the observation every step, as Ember's step returns it
    if done:
        env.reset()
t1, c1 = time.perf_counter(), time.process_time()
print(steps / (t1 - t0), steps / (c1 - c0))
"#;

/// MinAtar's module name for one of our game ids.
fn minatar_game(id: &str) -> Option<&'static str> {
    Some(match id {
        "Breakout-v0" => "breakout",
        "SpaceInvaders-v0" => "space_invaders",
        "Freeway-v0" => "freeway",
        "Asterix-v0" => "asterix",
        "Seaquest-v0" => "seaquest",
        _ => return None,
    })
}

/// Times environment `id` (options `sets`) for `steps` random steps; with `vs_minatar` (a Python
/// that has `minatar`), also MinAtar's own loop on the same game.
pub fn bench_env(
    id: &str,
    sets: &[String],
    steps: u64,
    seed: u64,
    vs_minatar: Option<&Path>,
) -> Result<BenchReport> {
    if steps == 0 {
        bail!("--steps must be at least 1");
    }
    let mut env = make_env(id, sets)?;
    let rate = time_env(&mut *env, steps, seed)?;
    let minatar = match vs_minatar {
        Some(py) => Some(time_minatar(id, py, steps, seed)?),
        None => None,
    };
    Ok(BenchReport {
        env: id.to_string(),
        steps,
        rate,
        minatar,
    })
}

fn time_minatar(id: &str, py: &Path, steps: u64, seed: u64) -> Result<MinAtarRate> {
    let game = minatar_game(id).with_context(|| format!("{id} has no MinAtar counterpart"))?;
    // MinAtar's Python loop is ~100x slower: time fewer steps, enough for a stable rate.
    let peer_steps = (steps / 50).clamp(20_000, 500_000);
    let o = std::process::Command::new(py)
        .args([
            "-c",
            MINATAR_BENCH_PY,
            game,
            &peer_steps.to_string(),
            &seed.to_string(),
        ])
        .output()
        .with_context(|| format!("running {}", py.display()))?;
    if !o.status.success() {
        bail!(
            "MinAtar benchmark failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let text = String::from_utf8_lossy(&o.stdout);
    let nums: Vec<f64> = text
        .trim()
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let [wall, cpu] = nums[..] else {
        bail!("cannot parse MinAtar's timing from {text:?}")
    };
    Ok(MinAtarRate {
        game,
        steps: peer_steps,
        rate: Rate { wall, cpu },
    })
}
