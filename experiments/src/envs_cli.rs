//! The environment verbs: `envs`, `eval`, `watch`, `bench env`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use ember_agents::common::mean_std;
use ember_agents::policy::ActMode;
use ember_envs::rng::Rng;
use ember_envs::wrappers::{EpisodeStatistics, TimeLimit};
use ember_envs::{Env, OptKind, Options, RgbFrame};
use serde_json::json;

/// `--set key=value` options of an environment.
#[derive(Args, Debug, Clone, Default)]
pub struct EnvOpts {
    /// Environment option `key=value` (repeatable), e.g. `--set sticky_action_prob=0`. `ember envs`
    /// lists each environment's options.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl EnvOpts {
    /// Makes `id` from Ember's registry, or, as `gym:ID`, a Python Gymnasium environment (with
    /// the `gym` feature; the options become `gymnasium.make` kwargs).
    pub fn make(&self, id: &str) -> Result<Box<dyn Env>> {
        let pairs = Options::split_pairs(&self.set)?;
        if let Some(gym_id) = id.strip_prefix("gym:") {
            return make_gym(gym_id, &pairs);
        }
        Ok(ember_envs::make(id, &pairs)?)
    }
}

#[cfg(feature = "gym")]
fn make_gym(id: &str, pairs: &[(String, String)]) -> Result<Box<dyn Env>> {
    Ok(Box::new(ember_gym::GymEnv::make(id, pairs)?))
}

#[cfg(not(feature = "gym"))]
fn make_gym(id: &str, _pairs: &[(String, String)]) -> Result<Box<dyn Env>> {
    bail!(
        "`gym:{id}` needs Python Gymnasium support: rebuild with `cargo build --release --features gym`"
    )
}

/// How a trained agent acts (`--agent RUN_DIR`); ignored for `random`.
#[derive(Args, Debug, Clone, Default)]
pub struct ActOpts {
    /// Sample the PPO policy's actions instead of taking the most probable one (how gymnax-blines
    /// and CleanRL report PPO returns); DQN agents refuse it.
    #[arg(long, conflicts_with = "epsilon")]
    pub stochastic: bool,
    /// ε-greedy: a uniformly random action with this probability, else the greedy one.
    #[arg(long, value_name = "EPS")]
    pub epsilon: Option<f64>,
}

impl ActOpts {
    fn mode(&self) -> Result<ActMode> {
        Ok(match (self.stochastic, self.epsilon) {
            (true, _) => ActMode::Sample,
            (false, Some(e)) if (0.0..=1.0).contains(&e) => ActMode::EpsilonGreedy(e),
            (false, Some(e)) => bail!("--epsilon must lie in [0, 1], got {e}"),
            (false, None) => ActMode::Greedy,
        })
    }

    /// The words for reports: `greedy`, `stochastic` or `epsilon=E`.
    fn name(&self) -> String {
        match (self.stochastic, self.epsilon) {
            (true, _) => "stochastic".into(),
            (false, Some(e)) => format!("epsilon={e}"),
            (false, None) => "greedy".into(),
        }
    }
}

#[derive(Args, Debug)]
pub struct EnvsArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// Environment id (see `ember envs`), or `gym:ID` for a Python Gymnasium env (`--features gym`).
    /// A run directory instead evaluates that run: a classifier on its test set, a DQN/PPO agent
    /// on the environment (and options) it trained on.
    pub env: String,
    /// Who acts: `random` (uniform over legal actions) or a trained DQN/PPO run directory
    /// [default: random; with a run directory as ENV, that run's agent].
    #[arg(long)]
    pub agent: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
    /// Seeds the environment (episode i of the run continues the seeded generator) and the agent.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Cut an episode (as truncated) after this many steps, so a policy that never ends one (a
    /// greedy agent hiding at Seaquest's surface) cannot stall the evaluation; 0: no cap. The
    /// env's own `max_steps` option still applies.
    #[arg(long, default_value_t = 100_000)]
    pub max_episode_steps: u64,
    #[command(flatten)]
    pub act: ActOpts,
    #[command(flatten)]
    pub opts: EnvOpts,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Environment id (see `ember envs`), or `gym:ID` for a Python Gymnasium env (`--features gym`).
    pub env: String,
    /// Who acts: `random` (uniform over legal actions) or a trained DQN/PPO run directory.
    #[arg(long, default_value = "random")]
    pub agent: String,
    /// Frames per second in the terminal (0: as fast as possible).
    #[arg(long, default_value_t = 8.0)]
    pub fps: f64,
    /// Write the episode as an animated GIF here instead of drawing it in the terminal.
    #[arg(long, value_name = "PATH")]
    pub gif: Option<PathBuf>,
    /// Stop after this many steps even if the episode goes on.
    #[arg(long, default_value_t = 10_000)]
    pub max_steps: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub act: ActOpts,
    #[command(flatten)]
    pub opts: EnvOpts,
}

#[derive(Args, Debug)]
pub struct BenchEnvArgs {
    /// Environment id (see `ember envs`).
    pub env: String,
    /// Steps to time (after a short warm-up).
    #[arg(long, default_value_t = 2_000_000)]
    pub steps: u64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also time MinAtar's own Python loop on the same game in this run, with this Python (which must
    /// have `minatar` installed), and report the ratio.
    #[arg(long, value_name = "PYTHON")]
    pub vs_minatar: Option<PathBuf>,
    #[command(flatten)]
    pub opts: EnvOpts,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

// ---------------------------------------------------------------------------------------------
// Agents: `random`, or a trained DQN/PPO run directory.

/// A uniformly random action among the legal ones (all `n` when the env has no mask).
fn random_action(rng: &mut Rng, env: &dyn Env, n: usize) -> usize {
    match env.action_mask() {
        Some(mask) => {
            let legal = mask.iter().filter(|&&b| b).count();
            let k = rng.below(legal.max(1));
            mask.iter()
                .enumerate()
                .filter(|(_, b)| **b)
                .nth(k)
                .map_or(0, |(i, _)| i)
        }
        None => rng.below(n),
    }
}

/// Picks actions: uniformly at random, or with a trained agent's policy (greedy, sampled or
/// ε-greedy, see [`ActOpts`]).
enum Agent {
    Random(Rng),
    Trained(Box<dyn ember_agents::Policy>),
}

impl Agent {
    fn parse(spec: &str, seed: u64, act: &ActOpts) -> Result<Agent> {
        match spec {
            "random" => Ok(Agent::Random(Rng::new(ember_envs::rng::child_seed(
                seed, 0xA6E7,
            )))),
            dir if std::path::Path::new(dir).join("config.toml").is_file() => Ok(Agent::Trained(
                crate::train::rl::load_policy(std::path::Path::new(dir), act.mode()?, seed)?,
            )),
            other => bail!(
                "unknown agent `{other}`: accepted agents are `random` and the run directory of a trained DQN or PPO agent (one with a config.toml)"
            ),
        }
    }

    fn act(&mut self, env: &dyn Env) -> Result<usize> {
        let n = env.action_space().n().unwrap_or(1);
        match self {
            Agent::Random(rng) => Ok(random_action(rng, env, n)),
            Agent::Trained(policy) => {
                let obs = env.obs();
                if obs.len() != policy.obs_len() || n != policy.num_actions() {
                    bail!(
                        "the agent was trained on observations of {} values and {} actions; {} has {} and {n}",
                        policy.obs_len(),
                        policy.num_actions(),
                        env.id(),
                        obs.len()
                    );
                }
                Ok(policy.act(obs)?)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------

pub fn envs(a: &EnvsArgs) -> Result<()> {
    let mut rows = Vec::new();
    for spec in ember_envs::registry::specs() {
        let env = spec
            .make(&[] as &[(&str, &str)])
            .with_context(|| format!("making {}", spec.id))?;
        let options: Vec<_> = spec
            .all_options()
            .iter()
            .map(|o| {
                json!({
                    "name": o.name,
                    "default": o.default.to_string(),
                    "accepts": o.expected(),
                    "help": o.help,
                    "kind": match o.kind { OptKind::Bool => "bool", OptKind::Int{..} => "int", OptKind::Float{..} => "float", OptKind::Choice(_) => "choice", OptKind::Str => "string" },
                })
            })
            .collect();
        rows.push(json!({
            "id": spec.id,
            "observation_shape": env.observation_space().shape(),
            "actions": env.action_space().n(),
            "description": spec.description,
            "options": options,
        }));
    }
    if a.json {
        println!("{}", json!({ "envs": rows }));
    } else {
        println!(
            "{:<20} {:<14} {:>7}  description",
            "id", "observation", "actions"
        );
        for r in &rows {
            let shape = format!("{}", r["observation_shape"])
                .replace(',', "x")
                .replace(['[', ']'], "");
            println!(
                "{:<20} {:<14} {:>7}  {}",
                r["id"].as_str().unwrap_or(""),
                format!("[{shape}]"),
                r["actions"],
                r["description"].as_str().unwrap_or("")
            );
        }
        println!(
            "\noptions: `ember envs --json` lists each env's options; set them with --set key=value"
        );
    }
    Ok(())
}

impl EvalArgs {
    /// Who acts (`--agent`, `random` when not given).
    pub fn agent(&self) -> &str {
        self.agent.as_deref().unwrap_or("random")
    }
}

pub fn eval(a: &EvalArgs) -> Result<()> {
    if a.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    let inner = a.opts.make(&a.env)?;
    let inner: Box<dyn Env> = match a.max_episode_steps {
        0 => inner,
        cap => Box::new(TimeLimit::new(inner, cap)),
    };
    let mut env = EpisodeStatistics::new(inner);
    let mut agent = Agent::parse(a.agent(), a.seed, &a.act)?;
    let (mut rets, mut lens) = (
        Vec::with_capacity(a.episodes),
        Vec::with_capacity(a.episodes),
    );
    let mut truncated = 0usize;
    env.reset(Some(a.seed));
    while rets.len() < a.episodes {
        let act = agent.act(&env)?;
        let s = env.step(act)?;
        if let Some(e) = s.info.episode {
            rets.push(e.ret);
            lens.push(e.len as f64);
            truncated += s.truncated as usize;
            env.reset(None);
        }
    }
    let (mr, sr) = mean_std(&rets);
    let (ml, sl) = mean_std(&lens);
    let policy = if a.agent() == "random" {
        "uniform".to_string()
    } else {
        a.act.name()
    };
    eprintln!(
        "{}: {} episodes ({truncated} truncated), agent {} ({policy}): return {mr:.3} ± {sr:.3}, length {ml:.1} ± {sl:.1}",
        a.env,
        a.episodes,
        a.agent()
    );
    if a.json {
        println!(
            "{}",
            json!({"env": a.env, "agent": a.agent(), "seed": a.seed, "episodes": a.episodes,
                   "policy": policy,
                   "mean_return": mr, "std_return": sr, "mean_length": ml, "std_length": sl,
                   "truncated_episodes": truncated})
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// watch

/// Draws a frame for a terminal: plane envs (with a legend) as coloured cells, others as text.
fn terminal_frame(env: &dyn Env, colour: bool) -> String {
    let legend = env.legend();
    if legend.is_empty() || !colour {
        let mut s = env.render_text();
        if !legend.is_empty() {
            let names: Vec<&str> = legend.iter().map(|l| l.name.as_str()).collect();
            let symbols = ember_envs::render::channel_symbols(&names);
            let keys: Vec<String> = symbols
                .iter()
                .zip(&names)
                .map(|(c, n)| format!("{c} {n}"))
                .collect();
            s.push_str("legend: ");
            s.push_str(&keys.join(", "));
            s.push('\n');
        }
        return s;
    }
    let f = env.render_rgb();
    let mut s = String::new();
    for y in 0..f.height {
        for x in 0..f.width {
            let [r, g, b] = f.pixel(x, y);
            if [r, g, b] == [0, 0, 0] {
                s.push_str("\x1b[38;2;70;70;70m· \x1b[0m");
            } else {
                s.push_str(&format!("\x1b[38;2;{r};{g};{b}m██\x1b[0m"));
            }
        }
        s.push('\n');
    }
    s.push('\n');
    for l in legend {
        let [r, g, b] = l.rgb;
        s.push_str(&format!("\x1b[38;2;{r};{g};{b}m██\x1b[0m {}  ", l.name));
    }
    s.push('\n');
    s
}

/// GIF frames at a readable size (the short side at least 200 px).
fn gif_scale(f: &RgbFrame) -> usize {
    (200 / f.width.min(f.height).max(1)).max(1)
}

pub fn watch(a: &WatchArgs) -> Result<()> {
    if !(a.fps >= 0.0 && a.fps.is_finite()) {
        bail!("--fps must be a non-negative number, got {}", a.fps);
    }
    let mut env = a.opts.make(&a.env)?;
    let mut agent = Agent::parse(&a.agent, a.seed, &a.act)?;
    env.reset(Some(a.seed));
    let (mut ret, mut t) = (0.0f64, 0usize);
    let mut end = "stopped at --max-steps";

    if let Some(path) = &a.gif {
        let first = env.render_rgb();
        let k = gif_scale(&first);
        let (w, h) = (first.width * k, first.height * k);
        if w > u16::MAX as usize || h > u16::MAX as usize {
            bail!("frame {w}x{h} is too large for a GIF");
        }
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut enc = gif::Encoder::new(std::io::BufWriter::new(file), w as u16, h as u16, &[])?;
        enc.set_repeat(gif::Repeat::Infinite)?;
        let delay = if a.fps > 0.0 {
            (100.0 / a.fps).round().max(2.0) as u16
        } else {
            10
        };
        let push = |f: &RgbFrame, enc: &mut gif::Encoder<_>| -> Result<()> {
            let big = f.scaled(k);
            let mut fr = gif::Frame::from_rgb_speed(w as u16, h as u16, &big.data, 10);
            fr.delay = delay;
            enc.write_frame(&fr)?;
            Ok(())
        };
        push(&first, &mut enc)?;
        while t < a.max_steps {
            let act = agent.act(&*env)?;
            let s = env.step(act)?;
            ret += s.reward as f64;
            t += 1;
            let (term, trunc) = (s.terminated, s.truncated);
            push(&env.render_rgb(), &mut enc)?;
            if term || trunc {
                end = if term { "terminated" } else { "truncated" };
                break;
            }
        }
        drop(enc);
        eprintln!(
            "{}: wrote {} frames to {} (episode {end} after {t} steps, return {ret})",
            a.env,
            t + 1,
            path.display()
        );
        return Ok(());
    }

    let tty = std::io::stdout().is_terminal();
    let delay = if a.fps > 0.0 {
        Duration::from_secs_f64(1.0 / a.fps)
    } else {
        Duration::ZERO
    };
    let mut out = std::io::stdout().lock();
    let draw =
        |env: &dyn Env, t: usize, ret: f64, r: f32, out: &mut std::io::StdoutLock| -> Result<()> {
            if tty {
                write!(out, "\x1b[H\x1b[2J")?;
            }
            write!(
                out,
                "{}  step {t}  reward {r}  return {ret}\n{}",
                env.id(),
                terminal_frame(env, tty)
            )?;
            if !tty {
                writeln!(out)?;
            }
            out.flush()?;
            Ok(())
        };
    draw(&*env, 0, 0.0, 0.0, &mut out)?;
    while t < a.max_steps {
        let started = Instant::now();
        let act = agent.act(&*env)?;
        let s = env.step(act)?;
        let reward = s.reward;
        ret += s.reward as f64;
        t += 1;
        let (term, trunc) = (s.terminated, s.truncated);
        draw(&*env, t, ret, reward, &mut out)?;
        if term || trunc {
            end = if term { "terminated" } else { "truncated" };
            break;
        }
        if let Some(rest) = delay.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    writeln!(out, "episode {end} after {t} steps, return {ret}")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// bench env

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
            let a = random_action(&mut rng, env, n);
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

pub fn bench_env(a: &BenchEnvArgs) -> Result<()> {
    if a.steps == 0 {
        bail!("--steps must be at least 1");
    }
    let mut env = a.opts.make(&a.env)?;
    let rate = time_env(&mut *env, a.steps, a.seed)?;
    eprintln!(
        "{}: {} steps, {:.0} steps/s ({:.0} per CPU-second; single thread, random actions)",
        a.env, a.steps, rate.wall, rate.cpu
    );
    let mut out = json!({"env": a.env, "steps": a.steps, "steps_per_sec": rate.wall, "steps_per_cpu_sec": rate.cpu});
    if let Some(py) = &a.vs_minatar {
        let game = minatar_game(&a.env)
            .with_context(|| format!("{} has no MinAtar counterpart", a.env))?;
        // MinAtar's Python loop is ~100x slower: time fewer steps, enough for a stable rate.
        let peer_steps = (a.steps / 50).clamp(20_000, 500_000);
        let o = std::process::Command::new(py)
            .args([
                "-c",
                MINATAR_BENCH_PY,
                game,
                &peer_steps.to_string(),
                &a.seed.to_string(),
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
        let [peer_wall, peer_cpu] = nums[..] else {
            bail!("cannot parse MinAtar's timing from {text:?}")
        };
        eprintln!(
            "MinAtar {game}: {peer_steps} steps, {peer_wall:.0} steps/s ({peer_cpu:.0} per CPU-second); Ember is {:.0}x by CPU time, {:.0}x by wall time",
            rate.cpu / peer_cpu,
            rate.wall / peer_wall
        );
        out["minatar_steps_per_sec"] = json!(peer_wall);
        out["minatar_steps_per_cpu_sec"] = json!(peer_cpu);
        out["speedup"] = json!(rate.cpu / peer_cpu);
        out["speedup_wall"] = json!(rate.wall / peer_wall);
    }
    if a.json {
        println!("{out}");
    }
    Ok(())
}
