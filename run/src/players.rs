//! Player specs (`random`, `uct:SIMS`, Go's `gtp:"COMMAND LINE"`) made into players of any game
//! the runner plays.
//!
//! Every game gets the generic forms; a game adds its own through [`MatchGame`] (Go: external
//! GTP engines). Specs are checked before anything starts, and a bad one is an error that names
//! it and lists the accepted forms.

use ember_agents::mcts::{RolloutEvaluator, SearchConfig, SearchPlayer, Selection};
use ember_envs::Game;
use ember_envs::games::ConnectFour;
use ember_envs::go::GoState;
use ember_envs::player::{Player, PlayerError, RandomPlayer};

/// The forms every game accepts.
pub const GENERIC_SPECS: &str = "random, uct:SIMS (UCT with random playouts, e.g. uct:1000), az:RUN_DIR[:SIMS][:explore] (an AlphaZero run's newest network searching SIMS simulations; explore: with its training noise)";

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
    if let Some(n) = s.strip_prefix("uct:") {
        let sims: u32 = n.trim().parse().map_err(|_| {
            bad(format!(
                "`{n}` is not a number of simulations (a whole number from 1, e.g. uct:1000)"
            ))
        })?;
        let sims = check_sims(sims, example, &bad)?;
        let cfg = SearchConfig::new(sims, Selection::uct());
        return Ok(Box::new(SearchPlayer::new(
            format!("uct:{sims}"),
            cfg,
            RolloutEvaluator::new(1, seed ^ 0x5eed),
            seed,
        )));
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
        return crate::alphazero::az_player(
            spec,
            std::path::Path::new(dir),
            sims,
            explore,
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
        let e = make_player("az:/nonexistent/run:64", &go, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("/nonexistent/run"), "{e}");
    }
}
