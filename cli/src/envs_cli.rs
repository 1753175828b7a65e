//! The environment verbs: `envs`, `eval`, `watch`, `bench env`: their arguments, and printing or
//! drawing what `ember_run` returns.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use ember_envs::{Env, OptKind, RgbFrame};
use ember_run::ActMode;
use ember_run::eval::{EvalReport, EvalRequest};
use ember_run::watch::{End, Episode};
use serde_json::json;

/// `--set key=value` options of an environment.
#[derive(Args, Debug, Clone, Default)]
pub struct EnvOpts {
    /// Environment option `key=value` (repeatable), e.g. `--set sticky_action_prob=0`. `ember envs`
    /// lists each environment's options.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
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
    /// The mode a trained agent acts in. `--epsilon` must lie in [0, 1]; the random agent
    /// (`random`) has no mode, so either flag with it is refused rather than ignored.
    pub fn mode(&self, random: bool) -> Result<ActMode> {
        if let Some(e) = self.epsilon.filter(|e| !(0.0..=1.0).contains(e)) {
            bail!(
                "--epsilon must lie in [0, 1], got {}",
                ember_envs::fmt_number(e)
            );
        }
        if random && (self.stochastic || self.epsilon.is_some()) {
            bail!(
                "--stochastic and --epsilon choose how a trained agent (--agent RUN_DIR) acts; the random agent always acts uniformly at random"
            );
        }
        Ok(match (self.stochastic, self.epsilon) {
            _ if random => ActMode::Greedy,
            (true, _) => ActMode::Sample,
            (false, Some(e)) => ActMode::EpsilonGreedy(e),
            (false, None) => ActMode::Greedy,
        })
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
    /// [default: random; with a run directory as ENV, that run's agent]; in the Go environments
    /// also any Go player: `uct:SIMS`, `az:RUN_DIR[:SIMS]`, `gtp:"COMMAND"`.
    #[arg(long)]
    pub agent: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
    /// Seeds the episodes (episode i from `child_seed(SEED, i)`, the rule of every evaluation) and
    /// the agent's own draws.
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
    /// Who acts: `random` (uniform over legal actions) or a trained DQN/PPO run directory; in the
    /// Go environments also any Go player (`uct:SIMS`, `az:RUN_DIR[:SIMS]`, `gtp:"COMMAND"`),
    /// shown with its analysis (value, top candidates, ownership).
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

/// `ember eval ENV` and `ember eval RUN_DIR`.
pub fn eval(a: &EvalArgs) -> Result<()> {
    let req = EvalRequest {
        target: a.env.clone(),
        agent: a.agent.clone(),
        episodes: a.episodes,
        seed: a.seed,
        max_episode_steps: a.max_episode_steps,
        mode: a.act.mode(
            a.agent.as_deref() == Some("random")
                || (a.agent.is_none() && !ember_run::agent::is_run_dir(&a.env)),
        )?,
        sets: a.opts.set.clone(),
    };
    let report = ember_run::evaluate(&req)?;
    match &report {
        EvalReport::Agent(e) => {
            let r = &e.result;
            eprintln!(
                "{}: {} episodes ({} truncated), agent {} ({}): return {:.3} ± {:.3}, length {:.1} ± {:.1}",
                e.env,
                r.episodes,
                r.truncated,
                e.agent,
                e.policy,
                r.mean_return,
                r.std_return,
                r.mean_length,
                r.std_length
            );
        }
        EvalReport::Classifier(c) => {
            let ev = &c.evaluation;
            println!(
                "{}: test accuracy {:.2}% ({} images), mean loss {:.4}",
                c.run,
                100.0 * ev.accuracy,
                ev.examples,
                ev.loss
            );
            println!("{}", confusion_table(&ev.confusion, &c.classes));
        }
    }
    if a.json {
        println!("{}", report.to_json());
    }
    Ok(())
}

/// Rows: true class; columns: predicted class; last column: per-class recall.
fn confusion_table(m: &[Vec<u64>], names: &[String]) -> String {
    let k = m.len();
    let label = |i: usize| names.get(i).cloned().unwrap_or_else(|| i.to_string());
    let row_label = |i: usize| format!("{i} {}", label(i));
    let w = (0..k)
        .map(|i| row_label(i).chars().count())
        .max()
        .unwrap_or(1)
        .max(10);
    let mut out = format!("{:>w$} | predicted\n", "true");
    out += &format!("{:>w$} |", "");
    for j in 0..k {
        out += &format!(" {:>5}", j);
    }
    out += " | recall\n";
    for (i, row) in m.iter().enumerate() {
        out += &format!("{:>w$} |", row_label(i));
        for c in row {
            out += &format!(" {c:>5}");
        }
        let total: u64 = row.iter().sum();
        out += &format!(" | {:5.1}%\n", 100.0 * row[i] as f64 / total.max(1) as f64);
    }
    out
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

/// Whether `file` is not a regular file (a pipe, `/dev/stdout`), where `fsync` does not apply.
fn path_is_special(file: &std::fs::File) -> bool {
    file.metadata().is_ok_and(|m| !m.is_file())
}

/// GIF frames at a readable size (the short side at least 200 px).
fn gif_scale(f: &RgbFrame) -> usize {
    (200 / f.width.min(f.height).max(1)).max(1)
}

/// `ember watch`: the episode comes from [`ember_run::watch::Episode`]; this draws it.
pub fn watch(a: &WatchArgs) -> Result<()> {
    if !(a.fps >= 0.0 && a.fps.is_finite()) {
        bail!("--fps must be a non-negative number, got {}", a.fps);
    }
    let mut ep = Episode::start(
        &a.env,
        &a.opts.set,
        &a.agent,
        a.seed,
        a.act.mode(a.agent == "random")?,
    )?;
    let stopped = "stopped at --max-steps";

    if let Some(path) = &a.gif {
        let first = ep.env().render_rgb();
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
        while ep.steps() < a.max_steps {
            let s = ep.step()?;
            push(&ep.env().render_rgb(), &mut enc)?;
            if s.end.is_some() {
                break;
            }
        }
        // Finish the file (trailer, buffer, disk) and report a write that failed, rather than
        // let `drop` swallow it.
        let written = (|| -> Result<()> {
            let file = enc.into_inner()?.into_inner().map_err(|e| e.into_error())?;
            match file.sync_all() {
                Err(e) if !path_is_special(&file) => Err(e.into()),
                _ => Ok(()),
            }
        })();
        written.with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "{}: wrote {} frames to {} (episode {} after {} steps, return {})",
            a.env,
            ep.steps() + 1,
            path.display(),
            ep.end().map_or(stopped, End::name),
            ep.steps(),
            ep.ret()
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
    let draw = |env: &dyn Env,
                t: usize,
                ret: f64,
                r: f32,
                analysis: Option<String>,
                out: &mut std::io::StdoutLock|
     -> Result<()> {
        if tty {
            write!(out, "\x1b[H\x1b[2J")?;
        }
        write!(
            out,
            "{}  step {t}  reward {r}  return {ret}\n{}{}",
            env.id(),
            terminal_frame(env, tty),
            analysis.unwrap_or_default()
        )?;
        if !tty {
            writeln!(out)?;
        }
        out.flush()?;
        Ok(())
    };
    draw(ep.env(), 0, 0.0, 0.0, None, &mut out)?;
    while ep.steps() < a.max_steps {
        let started = Instant::now();
        let s = ep.step()?;
        draw(
            ep.env(),
            ep.steps(),
            ep.ret(),
            s.reward,
            ep.analysis_text(),
            &mut out,
        )?;
        if s.end.is_some() {
            break;
        }
        if let Some(rest) = delay.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    writeln!(
        out,
        "episode {} after {} steps, return {}",
        ep.end().map_or(stopped, End::name),
        ep.steps(),
        ep.ret()
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// bench env

/// `ember bench env`.
pub fn bench_env(a: &BenchEnvArgs) -> Result<()> {
    let r = ember_run::bench::bench_env(
        &a.env,
        &a.opts.set,
        a.steps,
        a.seed,
        a.vs_minatar.as_deref(),
    )?;
    eprintln!(
        "{}: {} steps, {:.0} steps/s ({:.0} per CPU-second; single thread, random actions)",
        r.env, r.steps, r.rate.wall, r.rate.cpu
    );
    if let Some(m) = &r.minatar {
        eprintln!(
            "MinAtar {}: {} steps, {:.0} steps/s ({:.0} per CPU-second); Ember is {:.0}x by CPU time, {:.0}x by wall time",
            m.game,
            m.steps,
            m.rate.wall,
            m.rate.cpu,
            r.rate.cpu / m.rate.cpu,
            r.rate.wall / m.rate.wall
        );
    }
    if a.json {
        println!("{}", r.to_json());
    }
    Ok(())
}
