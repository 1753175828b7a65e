//! The two-player, zero-sum, perfect-information [`Game`] trait, and board symmetries.
//!
//! Design, in the spirit of OpenSpiel's `State`, cut to what tree search and self-play training
//! need:
//! - A game value is a whole state: `Clone` is cheap (a flat copy plus small vectors), `apply`
//!   and `undo` move along one line of play, so search can either clone per simulation or walk
//!   down and back up one state.
//! - Actions are `usize` in `0..num_actions()`, fixed per game instance (Go: `N*N` points and
//!   pass). Legal actions go into a caller's buffer ([`Game::legal_actions`], [`Game::legal_mask`]),
//!   so a search allocates nothing per node.
//! - Players are `0` (who moves first) and `1`. [`Game::returns`] gives one value per player,
//!   `+1`/`-1`/`0`, zero-sum, known only at the end.
//! - Observations are `[C, H, W]` planes of 0/1 from the point of view of the player to move, so
//!   one network serves both sides.
//! - Symmetries: the games declare which elements of the dihedral group of the square preserve
//!   their rules ([`Game::symmetries`]) and how they act on actions; planes transform generically
//!   ([`transform_planes`]). Training data is augmented with them, and property tests check that
//!   playing transformed actions gives transformed observations.
//!
//! The trait knows nothing of Go: `games::ConnectFour` (non-square, gravity, two symmetries)
//! implements it too, and generic code is tested on both.

use std::fmt;

use thiserror::Error;

use crate::rng::Rng;

/// Misuse of a [`Game`]: every rejected call leaves the state unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GameError {
    /// An action outside `0..num_actions()`.
    #[error("invalid action {action}: actions are 0..{n}")]
    InvalidAction { action: usize, n: usize },
    /// An action the rules forbid now.
    #[error("illegal action {action} ({name}): {reason}")]
    IllegalAction {
        action: usize,
        name: String,
        reason: String,
    },
    /// `apply` after the game ended.
    #[error("the game is over")]
    GameOver,
    /// `undo` at the start of the game.
    #[error("there is no move to undo")]
    NothingToUndo,
}

/// An element of the dihedral group of the square: how a board is turned or mirrored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Symmetry {
    Identity,
    /// A quarter turn clockwise.
    Rot90,
    Rot180,
    /// A quarter turn anticlockwise.
    Rot270,
    /// Mirror left-right.
    FlipX,
    /// Mirror top-bottom.
    FlipY,
    /// Mirror in the main diagonal (`(x, y) -> (y, x)`).
    Transpose,
    /// Mirror in the anti-diagonal.
    AntiTranspose,
}

impl Symmetry {
    /// All eight, identity first.
    pub const ALL: [Symmetry; 8] = [
        Symmetry::Identity,
        Symmetry::Rot90,
        Symmetry::Rot180,
        Symmetry::Rot270,
        Symmetry::FlipX,
        Symmetry::FlipY,
        Symmetry::Transpose,
        Symmetry::AntiTranspose,
    ];
    /// The four that keep an `H x W` board with `H != W` in shape.
    pub const RECTANGLE: [Symmetry; 4] = [
        Symmetry::Identity,
        Symmetry::Rot180,
        Symmetry::FlipX,
        Symmetry::FlipY,
    ];

    /// Whether the symmetry maps an `h x w` grid onto itself.
    pub fn fits(self, h: usize, w: usize) -> bool {
        h == w || Symmetry::RECTANGLE.contains(&self)
    }

    /// The symmetry that undoes this one.
    pub fn inverse(self) -> Symmetry {
        match self {
            Symmetry::Rot90 => Symmetry::Rot270,
            Symmetry::Rot270 => Symmetry::Rot90,
            s => s,
        }
    }

    /// Where cell `(x, y)` of an `h x w` grid goes (`fits(h, w)` must hold).
    #[inline]
    pub fn map(self, x: usize, y: usize, h: usize, w: usize) -> (usize, usize) {
        debug_assert!(self.fits(h, w));
        let (xm, ym) = (w - 1 - x, h - 1 - y);
        match self {
            Symmetry::Identity => (x, y),
            Symmetry::Rot90 => (h - 1 - y, x),
            Symmetry::Rot180 => (xm, ym),
            Symmetry::Rot270 => (y, w - 1 - x),
            Symmetry::FlipX => (xm, y),
            Symmetry::FlipY => (x, ym),
            Symmetry::Transpose => (y, x),
            Symmetry::AntiTranspose => (h - 1 - y, w - 1 - x),
        }
    }

    /// Where the row-major cell index `i = y * w + x` goes.
    #[inline]
    pub fn map_index(self, i: usize, h: usize, w: usize) -> usize {
        let (x, y) = self.map(i % w, i / w, h, w);
        y * w + x
    }
}

/// Writes `src` (`[c, h, w]` planes, row-major) turned by `sym` into `dst` (same shape).
pub fn transform_planes(sym: Symmetry, c: usize, h: usize, w: usize, src: &[f32], dst: &mut [f32]) {
    assert!(
        sym.fits(h, w),
        "{sym:?} does not map a {h}x{w} grid onto itself"
    );
    assert_eq!(src.len(), c * h * w);
    assert_eq!(dst.len(), c * h * w);
    let plane = h * w;
    for i in 0..plane {
        let j = sym.map_index(i, h, w);
        for k in 0..c {
            dst[k * plane + j] = src[k * plane + i];
        }
    }
}

/// A two-player, zero-sum, perfect-information game (see the module docs).
pub trait Game: Clone + Send + fmt::Debug + 'static {
    /// A short name, e.g. `go9x9` or `connect_four`.
    fn name(&self) -> String;
    /// Size of the action space (fixed for the instance).
    fn num_actions(&self) -> usize;
    /// `[C, H, W]` of [`Game::observe`].
    fn observation_shape(&self) -> [usize; 3];
    /// Names of the observation channels, in order.
    fn channel_names(&self) -> Vec<String>;
    /// The player to move, `0` or `1` (meaningless once terminal).
    fn current_player(&self) -> usize;
    fn is_terminal(&self) -> bool;
    /// Clears `out` and fills it with the legal actions, ascending. Empty iff terminal.
    fn legal_actions(&self, out: &mut Vec<usize>);
    /// Writes legality of every action into `mask` (`num_actions()` long).
    fn legal_mask(&self, mask: &mut [bool]) {
        let mut v = Vec::new();
        self.legal_actions(&mut v);
        mask.fill(false);
        for a in v {
            mask[a] = true;
        }
    }
    fn is_legal(&self, action: usize) -> bool;
    /// Plays `action` for the player to move; a rejected action changes nothing.
    fn apply(&mut self, action: usize) -> Result<(), GameError>;
    /// Takes back the last action.
    fn undo(&mut self) -> Result<(), GameError>;
    /// Actions played so far.
    fn history_len(&self) -> usize;
    /// The `i`-th action played (`i < history_len()`), so a search can tell which of its
    /// branches the game took and keep that subtree; `None` when the game cannot say (then
    /// searches start afresh every move).
    fn action_at(&self, _i: usize) -> Option<usize> {
        None
    }
    /// Final value per player (`+1` win, `-1` loss, `0` draw); `[0, 0]` while running.
    fn returns(&self) -> [f32; 2];
    /// Writes the `[C, H, W]` observation from the view of the player to move.
    fn observe(&self, out: &mut [f32]);
    /// The symmetries under which the rules are invariant, identity first.
    fn symmetries(&self) -> &'static [Symmetry];
    /// The image of `action` under `sym` (one of `symmetries()`).
    fn transform_action(&self, sym: Symmetry, action: usize) -> usize;
    /// Writes `src` (an observation) turned by `sym` into `dst`.
    fn transform_observation(&self, sym: Symmetry, src: &[f32], dst: &mut [f32]) {
        let [c, h, w] = self.observation_shape();
        transform_planes(sym, c, h, w, src, dst);
    }
    /// A human name of an action (`D4`, `pass`, `column 3`).
    fn action_name(&self, action: usize) -> String;
    /// A plain-text picture of the state.
    fn render(&self) -> String;

    /// An action that wins the game at once for the player to move, when the game can tell
    /// cheaply (Connect Four: a column that completes four); `None` when there is none or the game
    /// cannot say (the default; Go). A search with decisive moves on (`agents::mcts`) scores a
    /// leaf that has one as a win without asking its evaluator, so it must be exact: `Some` only
    /// for an action that is legal and ends the game with the mover's win.
    fn winning_action(&self) -> Option<usize> {
        None
    }

    /// Who owns each board cell now, from player 0's view (`+1` player 0, `-1` player 1, `0`
    /// neither), for games where that means something at the end (Go's area); `false` (and `out`
    /// untouched) for the others. `out` has one value per cell of an observation plane.
    fn ownership(&self, _out: &mut [f32]) -> bool {
        false
    }

    /// Points `player` scores at the end beyond the cells they own (Go: komi for White, 0 for
    /// Black), for games scored by [`Game::ownership`]; 0 by default. A final score margin for
    /// `p` is then `Σ ownership (p's view) + score_bonus(p) − score_bonus(other)`.
    fn score_bonus(&self, _player: usize) -> f32 {
        0.0
    }

    /// A random action for the player to move, as a light playout policy draws it: uniform over
    /// the legal actions by default (Go: over the legal points that do not fill one of the mover's
    /// own one-point eyes, passing only when there is none). `None` once terminal. `buf` is
    /// scratch space, so drawing allocates nothing once it has grown.
    fn random_action(&self, rng: &mut Rng, buf: &mut Vec<usize>) -> Option<usize> {
        self.legal_actions(buf);
        (!buf.is_empty()).then(|| buf[rng.below(buf.len())])
    }

    /// Plays [`Game::random_action`]s from here to the end (at most `max_actions`) on `scratch`
    /// (first made a copy of `self` with `clone_from`, which keeps its buffers, so a playout
    /// allocates nothing once warmed) and returns the final values per player. A game may
    /// override it with a faster path that gives the same kind of estimate (Go plays on a bare
    /// board copy with simple ko and ignores `scratch`). A playout stopped by `max_actions` before
    /// the end is worth `[0, 0]` unless the game scores unfinished positions itself.
    fn playout(
        &self,
        scratch: &mut Self,
        rng: &mut Rng,
        buf: &mut Vec<usize>,
        max_actions: usize,
    ) -> [f32; 2] {
        scratch.clone_from(self);
        let mut n = 0;
        while n < max_actions {
            let Some(a) = scratch.random_action(rng, buf) else {
                break;
            };
            scratch.apply(a).expect("a legal action is accepted");
            n += 1;
        }
        scratch.returns()
    }
}

/// Plays uniformly random legal actions from `game` to the end (at most `max_actions`), with
/// `rng`; returns the number of actions played. Generic over any [`Game`].
pub fn random_rollout<G: Game>(game: &mut G, rng: &mut Rng, max_actions: usize) -> usize {
    let mut buf = Vec::with_capacity(game.num_actions());
    let mut n = 0;
    while !game.is_terminal() && n < max_actions {
        game.legal_actions(&mut buf);
        let a = buf[rng.below(buf.len())];
        game.apply(a).expect("a legal action is accepted");
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetries_are_bijections_with_inverses() {
        for (h, w) in [(5, 5), (6, 7), (1, 4)] {
            for s in Symmetry::ALL {
                if !s.fits(h, w) {
                    continue;
                }
                let mut seen = vec![false; h * w];
                for i in 0..h * w {
                    let j = s.map_index(i, h, w);
                    assert!(!seen[j], "{s:?} not injective");
                    seen[j] = true;
                    assert_eq!(s.inverse().map_index(j, h, w), i, "{s:?}");
                }
            }
        }
    }

    #[test]
    fn the_eight_are_distinct_and_rot90_is_clockwise() {
        let n = 3;
        let images: std::collections::HashSet<Vec<usize>> = Symmetry::ALL
            .iter()
            .map(|s| (0..n * n).map(|i| s.map_index(i, n, n)).collect())
            .collect();
        assert_eq!(images.len(), 8);
        // Top-left corner goes to the top-right under a clockwise quarter turn.
        assert_eq!(Symmetry::Rot90.map(0, 0, 3, 3), (2, 0));
        assert_eq!(Symmetry::Rot90.map(2, 0, 3, 3), (2, 2));
        assert!(!Symmetry::Rot90.fits(6, 7));
    }

    #[test]
    fn planes_move_with_their_cells() {
        let (c, h, w) = (2, 2, 3);
        let src: Vec<f32> = (0..c * h * w).map(|i| i as f32).collect();
        let mut dst = vec![0.0; src.len()];
        transform_planes(Symmetry::FlipX, c, h, w, &src, &mut dst);
        assert_eq!(dst, vec![2., 1., 0., 5., 4., 3., 8., 7., 6., 11., 10., 9.]);
    }
}
