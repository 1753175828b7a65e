//! Player specs (`random`, `uct:SIMS`, Go's `gtp:"COMMAND LINE"`) made into players of any game
//! the runner plays.
//!
//! Every game gets the generic forms; a game adds its own through [`MatchGame`] (Go: external
//! GTP engines). Specs are checked before anything starts, and a bad one is an error that names
//! it and lists the accepted forms.

use ember_agents::alphazero::PlayRule;
use ember_agents::mcts::{RolloutEvaluator, SearchConfig, SearchPlayer, Selection};
use ember_envs::Game;
use ember_envs::games::ConnectFour;
use ember_envs::go::GoState;
use ember_envs::player::{Player, PlayerError, RandomPlayer};

/// The forms every game accepts.
pub const GENERIC_SPECS: &str = "random, uct:SIMS[:threads=T][:decisive=0|1] (UCT with random playouts, e.g. uct:1000; threads: playouts of batches of leaves on T threads under virtual loss), az:RUN_DIR[:SIMS][:explore][:batch=B][:score=W][:mix=L][:decisive=0|1][:rule=puct|gumbel] (an AlphaZero run's newest network searching SIMS simulations; explore: with its training noise; batch: B leaves per network call under virtual loss; score: the score utility's weight, default the run's train.score_utility; mix: leaf values (1-L)·network + L·random playout, AlphaGo's mixed evaluation, default 0; decisive: a leaf whose player to move wins at once is scored a win without evaluation, default off for uct and the run's train.decisive_moves for az; rule: the selection rule at play time, default the run's train.play_rule)";

/// The most threads a `uct:…:threads=T` player may use, and the largest leaf batch.
pub const MAX_THREADS: usize = 64;
pub const MAX_LEAF_BATCH: usize = 256;

/// Leaves per batch for each playout thread of `uct:…:threads=T`: enough playouts per thread to
/// outweigh starting it.
pub const LEAVES_PER_THREAD: usize = 8;

/// The `:key=N` options at the end of a search player's spec.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct SpecOptions {
    threads: Option<usize>,
    batch: Option<usize>,
    /// `score=W`: an `az` player's score utility weight in [0, 1].
    score: Option<f32>,
    /// `mix=L`: an `az` player's weight of random-playout results in its leaf values, in [0, 1].
    mix: Option<f32>,
    /// `decisive=0|1`: decisive moves in the search (`SearchConfig::decisive`).
    decisive: Option<bool>,
    /// `rule=puct|gumbel`: an `az` player's selection rule at play time.
    rule: Option<PlayRule>,
}

/// Splits trailing `:threads=T` / `:batch=B` options off `s`.
fn split_options<'a>(
    s: &'a str,
    bad: &dyn Fn(String) -> PlayerError,
) -> Result<(&'a str, SpecOptions), PlayerError> {
    let mut o = SpecOptions::default();
    let mut rest = s;
    while let Some((head, tail)) = rest.rsplit_once(':') {
        let Some((k, v)) = tail.split_once('=') else {
            break;
        };
        if k.trim() == "decisive" {
            o.decisive = Some(match v.trim() {
                "0" => false,
                "1" => true,
                _ => return Err(bad(format!("`{tail}`: decisive takes 0 or 1"))),
            });
            rest = head;
            continue;
        }
        if k.trim() == "rule" {
            o.rule = Some(
                PlayRule::ALL
                    .into_iter()
                    .find(|r| r.name() == v.trim())
                    .ok_or_else(|| bad(format!("`{tail}`: rule takes puct or gumbel")))?,
            );
            rest = head;
            continue;
        }
        if let key @ ("score" | "mix") = k.trim() {
            let w: f32 = v
                .trim()
                .parse()
                .ok()
                .filter(|w| (0.0..=1.0).contains(w))
                .ok_or_else(|| bad(format!("`{tail}`: {key} takes a weight in [0, 1]")))?;
            if key == "score" {
                o.score = Some(w);
            } else {
                o.mix = Some(w);
            }
            rest = head;
            continue;
        }
        let n: usize = v
            .trim()
            .parse()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| bad(format!("`{tail}`: {k} takes a whole number from 1")))?;
        match k.trim() {
            "threads" if n <= MAX_THREADS => o.threads = Some(n),
            "batch" if n <= MAX_LEAF_BATCH => o.batch = Some(n),
            "threads" => return Err(bad(format!("at most {MAX_THREADS} threads"))),
            "batch" => return Err(bad(format!("batches of at most {MAX_LEAF_BATCH} leaves"))),
            other => {
                return Err(bad(format!(
                    "unknown option `{other}` (search players take threads=T, batch=B and decisive=0|1, az players score=W, mix=L and rule=puct|gumbel)"
                )));
            }
        }
        rest = head;
    }
    Ok((rest, o))
}

/// The most tree nodes a search may need (simulations × actions): about 1.8 GB.
pub const MAX_TREE_NODES: u64 = 50_000_000;

/// A game the runner can hold matches of.
pub trait MatchGame: Game + Sized {
    /// Players only this game has, tried before the generic forms; `None` when `spec` is not
    /// one of them.
    fn special_player(
        _spec: &str,
        _seed: u64,
    ) -> Option<Result<Box<dyn Player<Self>>, PlayerError>> {
        None
    }
    /// Those forms, for error messages (empty when there are none).
    fn special_specs() -> &'static str {
        ""
    }
}

impl MatchGame for GoState {
    fn special_player(spec: &str, seed: u64) -> Option<Result<Box<dyn Player<Self>>, PlayerError>> {
        spec.trim()
            .starts_with("gtp:")
            .then(|| ember_envs::go::player::parse_player(spec, seed))
    }
    fn special_specs() -> &'static str {
        "gtp:\"COMMAND LINE\" (an external GTP engine, e.g. gtp:\"gnugo --mode gtp\")"
    }
}

impl MatchGame for ConnectFour {}

fn accepted<G: MatchGame>() -> String {
    match G::special_specs() {
        "" => GENERIC_SPECS.into(),
        s => format!("{GENERIC_SPECS}, {s}"),
    }
}

/// Makes the player `spec` names for games like `example` (its size bounds a search's tree).
pub fn make_player<G: MatchGame>(
    spec: &str,
    example: &G,
    seed: u64,
) -> Result<Box<dyn Player<G>>, PlayerError> {
    if let Some(p) = G::special_player(spec, seed) {
        return p;
    }
    let s = spec.trim();
    if s == "random" {
        return Ok(Box::new(RandomPlayer::new(seed)));
    }
    let bad = |why: String| PlayerError::BadSpec {
        spec: spec.into(),
        why,
    };
    let (s, opts) = if s.starts_with("uct:") || s.starts_with("az:") {
        split_options(s, &bad)?
    } else {
        (s, SpecOptions::default())
    };
    if let Some(n) = s.strip_prefix("uct:") {
        let sims: u32 = n.trim().parse().map_err(|_| {
            bad(format!(
                "`{n}` is not a number of simulations (a whole number from 1, e.g. uct:1000)"
            ))
        })?;
        let sims = check_sims(sims, example, &bad)?;
        if opts.score.is_some() {
            return Err(bad(
                "score=W applies to az players (it needs a network's ownership head)".into(),
            ));
        }
        if opts.rule.is_some() {
            return Err(bad(
                "rule=puct|gumbel applies to az players (uct has no network priors to follow)"
                    .into(),
            ));
        }
        if opts.mix.is_some() {
            return Err(bad(
                "mix=L applies to az players (it mixes playouts into a network's values; uct's values are playouts already)".into(),
            ));
        }
        let mut cfg = SearchConfig::new(sims, Selection::uct());
        cfg.decisive = opts.decisive.unwrap_or(false);
        let threads = opts.threads.unwrap_or(1);
        let batch = opts.batch.unwrap_or(if threads > 1 {
            LEAVES_PER_THREAD * threads
        } else {
            1
        });
        let mut name = format!("uct:{sims}");
        if threads > 1 {
            name.push_str(&format!(":threads={threads}"));
        }
        if opts.batch.is_some() {
            name.push_str(&format!(":batch={batch}"));
        }
        if cfg.decisive {
            name.push_str(":decisive=1");
        }
        return Ok(Box::new(
            SearchPlayer::new(
                name,
                cfg,
                RolloutEvaluator::with_threads(1, seed ^ 0x5eed, threads),
                seed,
            )
            .with_leaf_batch(batch),
        ));
    }
    if let Some(rest) = s.strip_prefix("az:") {
        // az:RUN_DIR[:SIMS][:explore] (a trailing number is the simulation count).
        let (rest, explore) = match rest.strip_suffix(":explore") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let (dir, sims) = match rest.rsplit_once(':') {
            Some((d, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
                let sims: u32 = n
                    .parse()
                    .map_err(|_| bad(format!("`{n}` is too many simulations")))?;
                (d, Some(check_sims(sims, example, &bad)?))
            }
            _ => (rest, None),
        };
        if dir.is_empty() {
            return Err(bad("give the run directory: az:RUN_DIR[:SIMS]".into()));
        }
        if opts.threads.is_some() {
            return Err(bad(
                "threads apply to uct players; a network batches its leaves: az:RUN_DIR[:SIMS]:batch=B"
                    .into(),
            ));
        }
        return crate::alphazero::az_player(
            spec,
            std::path::Path::new(dir),
            crate::alphazero::AzOptions {
                sims,
                explore,
                leaf_batch: opts.batch.unwrap_or(1),
                score: opts.score,
                mix: opts.mix.unwrap_or(0.0),
                decisive: opts.decisive,
                rule: opts.rule,
            },
            example,
            seed,
        );
    }
    Err(PlayerError::UnknownSpec {
        spec: spec.into(),
        accepted: accepted::<G>(),
    })
}

/// Checks a search's simulation count against the game's tree-size bound.
fn check_sims<G: Game>(
    sims: u32,
    example: &G,
    bad: &dyn Fn(String) -> PlayerError,
) -> Result<u32, PlayerError> {
    if sims == 0 {
        return Err(bad("a search needs at least 1 simulation".into()));
    }
    let nodes = sims as u64 * example.num_actions() as u64;
    if nodes > MAX_TREE_NODES {
        return Err(bad(format!(
            "{sims} simulations may need {nodes} tree nodes on {} ({} actions); at most {MAX_TREE_NODES} are allowed (about {} simulations)",
            example.name(),
            example.num_actions(),
            MAX_TREE_NODES / example.num_actions() as u64
        )));
    }
    Ok(sims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_checked_with_clear_errors() {
        let go = GoState::new(9, 7.5).unwrap();
        let c4 = ConnectFour::new();
        assert_eq!(make_player(" uct:50 ", &go, 0).unwrap().name(), "uct:50");
        assert_eq!(make_player("random", &c4, 0).unwrap().name(), "random");
        let e = make_player("alphago", &go, 0).err().unwrap().to_string();
        assert!(e.contains("uct:SIMS") && e.contains("gtp:"), "{e}");
        let e = make_player("gtp:gnugo", &c4, 0).err().unwrap().to_string();
        assert!(
            e.contains("unknown player") && !e.contains("gtp:\\\""),
            "{e}"
        );
        for bad in ["uct:", "uct:x", "uct:0", "uct:-3", "uct:99999999999"] {
            let e = make_player(bad, &go, 0).err().unwrap().to_string();
            assert!(e.contains(bad.trim()), "{bad}: {e}");
        }
        let big = GoState::new(19, 7.5).unwrap();
        let e = make_player("uct:1000000", &big, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("tree nodes"), "{e}");
        // Options at the end of a search player's spec.
        assert_eq!(
            make_player("uct:50:threads=2", &go, 0).unwrap().name(),
            "uct:50:threads=2"
        );
        assert_eq!(
            make_player("uct:50:batch=4", &c4, 0).unwrap().name(),
            "uct:50:batch=4"
        );
        assert_eq!(
            make_player("uct:50:decisive=1", &c4, 0).unwrap().name(),
            "uct:50:decisive=1"
        );
        assert_eq!(
            make_player("uct:50:decisive=0", &c4, 0).unwrap().name(),
            "uct:50"
        );
        for (bad, needle) in [
            ("uct:50:threads=0", "threads"),
            ("uct:50:threads=1000", "at most"),
            ("uct:50:colour=2", "unknown option"),
            ("uct:50:batch=x", "batch"),
            ("az:/some/run:64:threads=2", "batch=B"),
            ("az:/some/run:64:score=1.5", "[0, 1]"),
            ("az:/some/run:score=x", "score"),
            ("uct:50:score=0.5", "az players"),
            ("az:/some/run:64:mix=2", "[0, 1]"),
            ("az:/some/run:mix=-0.1", "mix"),
            ("uct:50:mix=0.5", "az players"),
            ("uct:50:decisive=2", "0 or 1"),
            ("az:/some/run:decisive=yes", "decisive"),
            ("az:/some/run:rule=uct", "puct or gumbel"),
            ("uct:50:rule=puct", "az players"),
        ] {
            let e = make_player(bad, &go, 0).err().unwrap().to_string();
            assert!(e.contains(needle) && e.contains(bad), "{bad}: {e}");
        }
        let e = make_player("az:/nonexistent/run:64", &go, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("/nonexistent/run"), "{e}");
    }
}
