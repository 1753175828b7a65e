//! The `alphazero` experiment kind: `[game]`, `[model]` and `[train]` (the algorithm's config,
//! `ember_agents::alphazero::AlphaZeroConfig`), trained by `ember_agents::alphazero::train` with
//! TensorBoard logging (`losses/*`, `selfplay/*`, `eval/*`), checkpoints and `summary.json`; and
//! `az:RUN_DIR[:SIMS]` players made from a run's newest checkpoint.

use std::path::Path;

use ember_agents::alphazero::{self, AlphaZeroConfig, AzSummary, PlayRule};
use ember_agents::common::RunIo;
use ember_agents::mcts::{MixedEvaluator, NetEvaluator, SearchConfig, SearchPlayer};
use ember_envs::Game;
use ember_envs::games::ConnectFour;
use ember_envs::go::GoState;
use ember_envs::player::{Player, PlayerError};
use ember_nets::{BlockKind, ConvTrunkConfig, DeviceChoice, PolicyValueNetConfig};
use serde::{Deserialize, Serialize};

use crate::config::Experiment;
use crate::error::{Context, Result, bail};
use crate::rl::RunLogger;
use crate::run_dir::RunDir;

/// `[game]`: which game, and Go's board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GameSection {
    /// `"go"` or `"connect_four"`.
    pub name: String,
    /// Go: board size (5 to 19).
    pub size: usize,
    /// Go: komi.
    pub komi: f32,
    /// Go: moves after which a game is scored as it stands (0: 4·N·N).
    pub max_moves: u32,
}

impl Default for GameSection {
    fn default() -> Self {
        GameSection {
            name: "connect_four".into(),
            size: 9,
            komi: 7.5,
            max_moves: 0,
        }
    }
}

impl GameSection {
    fn check(&self) -> Result<()> {
        match self.name.as_str() {
            "connect_four" => Ok(()),
            "go" => {
                self.go().map(|_| ())?;
                if !self.komi.is_finite() {
                    bail!("game.komi must be a number");
                }
                Ok(())
            }
            other => bail!("game.name = {other:?}: expected \"go\" or \"connect_four\""),
        }
    }

    /// A fresh Go game as configured.
    pub fn go(&self) -> Result<GoState> {
        let cap = if self.max_moves == 0 {
            (4 * self.size * self.size) as u32
        } else {
            self.max_moves
        };
        Ok(GoState::new(self.size, self.komi)
            .map_err(|e| crate::error::invalid!("game.size: {e}"))?
            .with_max_moves(cap))
    }
}

/// `[model]`: the policy-value net's trunk and value head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSection {
    /// Channels of every block.
    pub width: usize,
    /// Blocks.
    pub depth: usize,
    /// `"residual"` or `"plain"`.
    pub block: String,
    pub value_hidden: usize,
    /// KataGo-style global pooling in the value head.
    pub global_pooling: bool,
    /// An ownership head (Go only), trained on each game's final area.
    pub ownership: bool,
}

impl Default for ModelSection {
    fn default() -> Self {
        ModelSection {
            width: 32,
            depth: 3,
            block: "residual".into(),
            value_hidden: 64,
            global_pooling: false,
            ownership: false,
        }
    }
}

/// An AlphaZero experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AzExperiment {
    pub name: String,
    pub kind: String,
    pub seed: u64,
    pub game: GameSection,
    pub model: ModelSection,
    pub train: AlphaZeroConfig,
}

impl AzExperiment {
    pub fn from_experiment(e: &Experiment) -> Result<Self> {
        e.only_sections(&["game", "model", "train"])?;
        let x = AzExperiment {
            name: e.name.clone(),
            kind: alphazero::KIND.into(),
            seed: e.seed,
            game: e.section("game")?,
            model: e.section("model")?,
            train: e.section("train")?,
        };
        x.game.check().with_context(|| e.origin.clone())?;
        x.train.validate().with_context(|| e.origin.clone())?;
        if !["plain", "residual"].contains(&x.model.block.as_str()) {
            bail!(
                "{}: model.block = {:?}: expected \"plain\" or \"residual\"",
                e.origin,
                x.model.block
            );
        }
        x.net(&ConnectFour::new())
            .validate()
            .with_context(|| e.origin.clone())?;
        Ok(x)
    }

    /// The network for games like `example`.
    pub fn net<G: Game>(&self, example: &G) -> PolicyValueNetConfig {
        let block = if self.model.block == "residual" {
            BlockKind::Residual
        } else {
            BlockKind::Plain
        };
        let trunk = ConvTrunkConfig::new(
            example.observation_shape(),
            self.model.width,
            self.model.depth,
        )
        .with_block(block);
        alphazero::net_config(example, trunk, self.model.value_hidden)
            .with_global_pooling(self.model.global_pooling)
            .with_ownership(self.model.ownership)
    }

    pub fn to_toml(&self) -> Result<String> {
        crate::config::to_toml(self)
    }
}

/// Trains (or, with `resume`, continues) `x` in `run`; returns `summary.json`'s contents.
pub fn train(
    x: &AzExperiment,
    run: &RunDir,
    device: DeviceChoice,
    resume: bool,
) -> Result<serde_json::Value> {
    match x.game.name.as_str() {
        "go" => {
            let fresh = x.game.go()?;
            train_game(x, &fresh, run, device, resume)
        }
        _ => train_game(x, &ConnectFour::new(), run, device, resume),
    }
}

fn train_game<G: Game>(
    x: &AzExperiment,
    fresh: &G,
    run: &RunDir,
    device: DeviceChoice,
    resume: bool,
) -> Result<serde_json::Value> {
    let mut logger = RunLogger::new(run, x.train.total_updates)?;
    let ckpts = run.checkpoints(x.train.keep_checkpoints);
    let io = RunIo {
        logger: &mut logger,
        checkpoints: Some(&ckpts),
        resume,
        stop_after: None,
    };
    let dev = device.device()?;
    let net = x.net(fresh);
    let r = alphazero::train(&x.train, &net, &mut || fresh.clone(), x.seed, &dev, io);
    logger.finish();
    let (_, s) = r?;
    let summary = summary_json(x, fresh, &s, device);
    run.write_summary(&summary)?;
    Ok(summary)
}

fn summary_json<G: Game>(
    x: &AzExperiment,
    g: &G,
    s: &AzSummary,
    device: DeviceChoice,
) -> serde_json::Value {
    let eval: serde_json::Map<String, serde_json::Value> = s
        .eval
        .iter()
        .map(|a| (a.anchor.clone(), serde_json::json!(a.score)))
        .collect();
    let elo: serde_json::Map<String, serde_json::Value> = s
        .eval
        .iter()
        .map(|a| {
            (
                a.anchor.clone(),
                serde_json::json!([a.elo_low, a.elo, a.elo_high]),
            )
        })
        .collect();
    serde_json::json!({
        "experiment": x.name,
        "kind": alphazero::KIND,
        "seed": x.seed,
        "game": g.name(),
        "updates": s.state.updates,
        "selfplay_games": s.state.games,
        "selfplay_moves": s.state.moves,
        "training_positions": s.state.positions,
        "completed": s.completed,
        "eval_score": eval,
        "eval_elo": elo,
        "selfplay_evals_per_sec": s.selfplay_evals_per_sec,
        "selfplay_mean_batch": s.mean_batch,
        "selfplay_outside_net": s.selfplay_outside_net,
        "ownership_accuracy": s.ownership_accuracy,
        "weights_fingerprint": format!("{:08x}", s.weights_fingerprint),
        "wall_seconds": s.state.wall_seconds,
        "device": device.backend_name(),
    })
}

/// The `[game]` an AlphaZero run in `dir` plays (and whether `dir` holds one).
pub fn game_of(dir: &Path) -> Result<GameSection> {
    let run = RunDir::open(dir)?;
    let exp = Experiment::load(&run.config_path(), &[])?;
    if exp.kind.name() != alphazero::KIND {
        bail!(
            "{} is a {} run, not an AlphaZero run",
            dir.display(),
            exp.kind.name()
        );
    }
    Ok(AzExperiment::from_experiment(&exp)?.game)
}

/// How an `az:` player searches (the spec's parts after the run directory).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AzOptions {
    /// Simulations per move (default: the run's `eval_simulations`).
    pub sims: Option<u32>,
    /// With the training's exploration noise.
    pub explore: bool,
    /// Leaves per network call.
    pub leaf_batch: usize,
    /// The score utility's weight (default: the run's `train.score_utility`).
    pub score: Option<f32>,
    /// The weight of random-playout results in leaf values ([`MixedEvaluator`]; 0: the
    /// network's values alone).
    pub mix: f32,
    /// Decisive moves (default: the run's `train.decisive_moves`).
    pub decisive: Option<bool>,
    /// The selection rule at play time (default: the run's `train.play_rule`).
    pub rule: Option<PlayRule>,
}

/// The stream of an `az:…:mix=L` player's playouts, a child of the player's seed.
const MIX_STREAM: u64 = 0x006d_6978;

/// An `az:RUN_DIR[:SIMS][:explore]` player for games like `example`: the run's newest checkpoint
/// searching `sims` simulations (default: the run's `eval_simulations`) with its play rule
/// (`train.play_rule`, or `rule` when given) and no noise, or with the training's search and
/// exploration noise (`explore`).
pub fn az_player<G: Game>(
    spec: &str,
    dir: &Path,
    opts: AzOptions,
    example: &G,
    seed: u64,
) -> std::result::Result<Box<dyn Player<G>>, PlayerError> {
    let AzOptions {
        sims,
        explore,
        leaf_batch,
        score,
        mix,
        decisive,
        rule,
    } = opts;
    let bad = |why: String| PlayerError::BadSpec {
        spec: spec.into(),
        why,
    };
    let run = RunDir::open(dir).map_err(|e| bad(e.to_string()))?;
    let exp = Experiment::load(&run.config_path(), &[]).map_err(|e| bad(e.to_string()))?;
    if exp.kind.name() != alphazero::KIND {
        return Err(bad(format!(
            "{} is a {} run, not an AlphaZero run",
            dir.display(),
            exp.kind.name()
        )));
    }
    let x = AzExperiment::from_experiment(&exp).map_err(|e| bad(e.to_string()))?;
    let (found, _) = run
        .checkpoints(usize::MAX)
        .latest()
        .map_err(|e| bad(e.to_string()))?;
    let (_, ck) = found.ok_or_else(|| bad(format!("{} has no checkpoint yet", dir.display())))?;
    let want = x.net(example);
    ck.check(alphazero::KIND, &want).map_err(|_| {
        bad(format!(
            "the run's network was trained for {} (game.name = {:?}, size {}), not for {}",
            x.game.name,
            x.game.name,
            x.game.size,
            example.name()
        ))
    })?;
    let dev = DeviceChoice::Cpu.device().map_err(|e| bad(e.to_string()))?;
    let (net, net_cfg) = alphazero::from_checkpoint(&ck, &dev).map_err(|e| bad(e.to_string()))?;
    let sims = sims.unwrap_or(x.train.eval_simulations);
    let mut name = format!("az:{}:{sims}", dir.display());
    if leaf_batch > 1 {
        name.push_str(&format!(":batch={leaf_batch}"));
    }
    let score = score.unwrap_or(x.train.score_utility as f32);
    if score > 0.0 {
        if !net.has_ownership() {
            return Err(bad(format!(
                "score={score}: the run's network has no ownership head to predict a score from"
            )));
        }
        name.push_str(&format!(":score={score}"));
    }
    if mix > 0.0 {
        name.push_str(&format!(":mix={mix}"));
    }
    if let Some(d) = decisive {
        name.push_str(&format!(":decisive={}", u8::from(d)));
    }
    let mut search = if let Some(rule) = rule {
        if explore {
            return Err(bad(
                "explore plays with the training's search; rule=… chooses another one".into(),
            ));
        }
        name.push_str(&format!(":rule={}", rule.name()));
        x.train.play_config_with(rule, sims)
    } else if explore {
        // The training search: Gumbel noise (or Dirichlet noise), so games differ.
        let mut c = SearchConfig::new(sims, x.train.selection);
        c.root_noise = x.train.root_noise;
        c
    } else {
        x.train.play_config(sims)
    };
    search.decisive = decisive.unwrap_or(x.train.decisive_moves);
    Ok(Box::new(
        SearchPlayer::new(
            name,
            search,
            MixedEvaluator::new(
                NetEvaluator::new(net, &net_cfg, dev).with_score_utility(score),
                mix,
                1,
                ember_envs::rng::child_seed(seed, MIX_STREAM),
            ),
            seed,
        )
        .with_leaf_batch(leaf_batch),
    ))
}
