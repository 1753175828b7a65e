//! Players of any two-player [`Game`], one game between two of them, and Elo.
//!
//! A [`Player`] is asked for a [`Decision`] given the whole state; it keeps whatever it needs
//! itself (an external engine its own copy of the game, a search its tree). Every kind of player
//! is one implementation: [`RandomPlayer`] here, Go's external GTP engines in `go::player`, and
//! the search players of the `agents` crate (UCT, PUCT with a network, Gumbel). A player that
//! thinks can also say what it thought ([`Player::analysis`]): candidate actions with visits,
//! values and priors, and its value estimate, which viewers and SGF comments show.
//!
//! [`play_game`] runs one game, asking the player of [`Game::current_player`] each turn, and is
//! the only game loop matches use; [`elo`] turns a match result into an Elo difference with a 95%
//! interval.

use thiserror::Error;

use crate::game::Game;
use crate::rng::Rng;

/// What a player decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Play this action (it must be legal).
    Act(usize),
    /// Give up the game.
    Resign,
}

/// One candidate action of an analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub action: usize,
    /// Simulations through this action.
    pub visits: u32,
    /// Mean value of the action for the player to move, in `[-1, 1]` (0 when unvisited).
    pub value: f32,
    /// The prior the search gave it (uniform without a network).
    pub prior: f32,
    /// The principal variation that starts with this action, the action first.
    pub pv: Vec<usize>,
}

/// What a thinking player thought about its last decision.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Analysis {
    /// The player to move when it was made (0 or 1).
    pub player: usize,
    /// The value of the position for the player to move, in `[-1, 1]`: for a search, that of the
    /// move it would play.
    pub value: f32,
    /// Simulations behind it (tree reuse included).
    pub visits: u32,
    /// Candidates, most visited first.
    pub candidates: Vec<Candidate>,
    /// Expected final ownership per board cell from the view of the player to move (`+1` own,
    /// `-1` opponent's), when the player has an ownership estimate.
    pub ownership: Option<Vec<f32>>,
}

/// What can go wrong with a player.
#[derive(Debug, Error)]
pub enum PlayerError {
    #[error("unknown player `{spec}`; accepted forms: {accepted}")]
    UnknownSpec { spec: String, accepted: String },
    #[error("player `{spec}`: {why}")]
    BadSpec { spec: String, why: String },
    #[error("player `{spec}` is not available here: {why}")]
    Unavailable { spec: String, why: String },
    #[error("could not start GTP engine `{cmd}`: {msg}")]
    Spawn { cmd: String, msg: String },
    #[error("GTP engine `{cmd}`: {msg}")]
    Engine { cmd: String, msg: String },
    #[error("{player} played an illegal move {mv} as {color}: {why}")]
    IllegalMove {
        player: String,
        color: String,
        mv: String,
        why: String,
    },
    #[error("{player}: {msg}")]
    Failed { player: String, msg: String },
}

/// Something that chooses actions in a [`Game`].
pub trait Player<G: Game>: Send {
    /// A short description, used in results and as the SGF player name.
    fn name(&self) -> String;
    /// A decision for `state.current_player()` (`state` is not terminal).
    fn decide(&mut self, state: &G) -> Result<Decision, PlayerError>;
    /// What the player thought about its last decision; `None` for players that do not search.
    fn analysis(&self) -> Option<&Analysis> {
        None
    }
    /// Re-seeds the player's randomness (a no-op for deterministic players).
    fn seed(&mut self, _seed: u64) {}
    /// Forgets everything about the game so far (a search drops its tree); called before each
    /// new game.
    fn new_game(&mut self) {}
    /// The most seconds the next decision may take (a clock's share, from GTP's `time_left`);
    /// `None`: no limit. Players that cannot hurry ignore it.
    fn set_time_budget(&mut self, _seconds: Option<f64>) {}
    /// Thinks about `state` for about `seconds` more, keeping what it found so far for the same
    /// position, and says what it thinks now (GTP's `lz-analyze`); `None` for players that do
    /// not search.
    fn analyze_step(&mut self, _state: &G, _seconds: f64) -> Option<Analysis> {
        None
    }
}

impl<G: Game, P: Player<G> + ?Sized> Player<G> for Box<P> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn decide(&mut self, state: &G) -> Result<Decision, PlayerError> {
        (**self).decide(state)
    }
    fn analysis(&self) -> Option<&Analysis> {
        (**self).analysis()
    }
    fn seed(&mut self, seed: u64) {
        (**self).seed(seed)
    }
    fn new_game(&mut self) {
        (**self).new_game()
    }
    fn set_time_budget(&mut self, seconds: Option<f64>) {
        (**self).set_time_budget(seconds)
    }
    fn analyze_step(&mut self, state: &G, seconds: f64) -> Option<Analysis> {
        (**self).analyze_step(state, seconds)
    }
}

/// Plays [`Game::random_action`]: uniform over the legal actions (in Go, not filling its own
/// eyes, and passing only when nothing else is left).
#[derive(Debug, Clone)]
pub struct RandomPlayer {
    rng: Rng,
    buf: Vec<usize>,
}

impl RandomPlayer {
    pub fn new(seed: u64) -> RandomPlayer {
        RandomPlayer {
            rng: Rng::new(seed),
            buf: Vec::new(),
        }
    }
}

impl<G: Game> Player<G> for RandomPlayer {
    fn name(&self) -> String {
        "random".into()
    }
    fn decide(&mut self, state: &G) -> Result<Decision, PlayerError> {
        match state.random_action(&mut self.rng, &mut self.buf) {
            Some(a) => Ok(Decision::Act(a)),
            None => Err(PlayerError::Failed {
                player: "random".into(),
                msg: "asked to move in a finished game".into(),
            }),
        }
    }
    fn seed(&mut self, seed: u64) {
        self.rng = Rng::new(seed);
    }
}

/// How a game ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GameEnd {
    /// Final value per player (`+1` win, `-1` loss, `0` draw).
    pub returns: [f32; 2],
    /// The player who resigned, if one did (the game itself is then not terminal).
    pub resigned: Option<usize>,
}

impl GameEnd {
    /// The winning player, `None` for a draw.
    pub fn winner(&self) -> Option<usize> {
        match self.returns {
            [a, b] if a > b => Some(0),
            [a, b] if b > a => Some(1),
            _ => None,
        }
    }
}

/// Plays one game from `state` to its end, asking `players[state.current_player()]` each turn;
/// `on_move` sees the state after each action with the player who chose it (for its analysis).
/// An illegal action is an error naming the player and the action; a resignation ends the game
/// with the state as it was (games that record resignations, like Go's SGF, do so themselves).
pub fn play_game<G: Game>(
    state: &mut G,
    players: [&mut dyn Player<G>; 2],
    on_move: &mut dyn FnMut(&G, usize, &dyn Player<G>),
) -> Result<GameEnd, PlayerError> {
    while !state.is_terminal() {
        let who = state.current_player();
        let p = &mut *players[who];
        match p.decide(state)? {
            Decision::Resign => {
                let mut returns = [1.0; 2];
                returns[who] = -1.0;
                return Ok(GameEnd {
                    returns,
                    resigned: Some(who),
                });
            }
            Decision::Act(a) => {
                if let Err(e) = state.apply(a) {
                    return Err(PlayerError::IllegalMove {
                        player: p.name(),
                        color: format!("player {}", who + 1),
                        mv: if a < state.num_actions() {
                            state.action_name(a)
                        } else {
                            format!("action {a}")
                        },
                        why: e.to_string(),
                    });
                }
            }
        }
        on_move(state, who, &*players[who]);
    }
    Ok(GameEnd {
        returns: state.returns(),
        resigned: None,
    })
}

/// The Elo difference of a player who scored `wins`, `losses` and `draws` (a draw is half a
/// win), with a 95% interval: Wilson's score interval on the score, so that a match won or
/// lost in every game still gets an honest bound on one side. The estimate itself moves a score
/// of 0 or 1 half a game inwards, so it stays finite (it is then also the interval's open end).
pub fn elo(wins: u64, losses: u64, draws: u64) -> (f64, f64, f64) {
    let n = (wins + losses + draws) as f64;
    if n == 0.0 {
        return (0.0, f64::NEG_INFINITY, f64::INFINITY);
    }
    let eps = 0.5 / n;
    let score = (wins as f64 + 0.5 * draws as f64) / n;
    let z = 1.96f64;
    let denom = 1.0 + z * z / n;
    let centre = (score + z * z / (2.0 * n)) / denom;
    let half = z * (score * (1.0 - score) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    // `+ 0.0` turns an even score's -0 into 0.
    let to_elo = |q: f64| -400.0 * (1.0 / q.clamp(eps, 1.0 - eps) - 1.0).log10() + 0.0;
    (to_elo(score), to_elo(centre - half), to_elo(centre + half))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::ConnectFour;
    use crate::go::state::GoState;

    #[test]
    fn random_players_finish_legal_games_of_both_games() {
        let mut c4 = ConnectFour::new();
        let (mut a, mut b) = (RandomPlayer::new(1), RandomPlayer::new(2));
        let mut n = 0;
        let end = play_game(&mut c4, [&mut a, &mut b], &mut |_, _, _| n += 1).unwrap();
        assert!(c4.is_terminal());
        assert_eq!(n, c4.history_len());
        assert_eq!(end.returns, c4.returns());

        let mut go = GoState::new(7, 7.5).unwrap().with_max_moves(500);
        let mut n = 0;
        play_game(&mut go, [&mut a, &mut b], &mut |s: &GoState, _, _| {
            n += 1;
            s.board().validate().unwrap();
        })
        .unwrap();
        assert!(go.is_terminal());
        assert_eq!(n, go.history_len());
    }

    #[test]
    fn the_generic_random_player_plays_go_as_the_go_one_does() {
        let play = |generic: bool| {
            let mut s = GoState::new(9, 7.5).unwrap().with_max_moves(300);
            let (mut a, mut b) = (RandomPlayer::new(5), RandomPlayer::new(6));
            let (mut ga, mut gb) = (
                crate::go::player::RandomPlayer::new(5),
                crate::go::player::RandomPlayer::new(6),
            );
            let players: [&mut dyn Player<GoState>; 2] = if generic {
                [&mut a, &mut b]
            } else {
                [&mut ga, &mut gb]
            };
            play_game(&mut s, players, &mut |_, _, _| {}).unwrap();
            s.moves().collect::<Vec<_>>()
        };
        assert_eq!(play(true), play(false));
    }

    #[test]
    fn default_playouts_leave_the_state_as_it_was() {
        let mut scratch = ConnectFour::new();
        let mut g = ConnectFour::new();
        for a in [3, 3, 4] {
            g.apply(a).unwrap();
        }
        let before = g.clone();
        let (mut rng, mut buf) = (Rng::new(1), Vec::new());
        let mut wins = [0; 3];
        for _ in 0..200 {
            let r = g.playout(&mut scratch, &mut rng, &mut buf, usize::MAX);
            assert_eq!(g, before);
            wins[(r[0] - r[1] + 2.0) as usize / 2] += 1;
        }
        // Three in the middle for the first player: it wins most random continuations.
        assert!(wins[2] > wins[0], "{wins:?}");
    }

    struct Resigner;
    impl<G: Game> Player<G> for Resigner {
        fn name(&self) -> String {
            "resigner".into()
        }
        fn decide(&mut self, _: &G) -> Result<Decision, PlayerError> {
            Ok(Decision::Resign)
        }
    }

    struct Cheater;
    impl<G: Game> Player<G> for Cheater {
        fn name(&self) -> String {
            "cheater".into()
        }
        fn decide(&mut self, _: &G) -> Result<Decision, PlayerError> {
            Ok(Decision::Act(99))
        }
    }

    #[test]
    fn resignations_and_illegal_actions() {
        let mut g = ConnectFour::new();
        let end = play_game(
            &mut g,
            [&mut RandomPlayer::new(0), &mut Resigner],
            &mut |_, _, _| {},
        )
        .unwrap();
        assert_eq!(end.resigned, Some(1));
        assert_eq!(end.winner(), Some(0));
        let mut g = ConnectFour::new();
        let e = play_game(&mut g, [&mut Cheater, &mut Resigner], &mut |_, _, _| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("cheater") && e.contains("99"), "{e}");
    }

    #[test]
    fn elo_is_symmetric_and_zero_at_even() {
        let (e, lo, hi) = elo(50, 50, 0);
        assert!(e.abs() < 1e-9 && lo < 0.0 && hi > 0.0);
        let (a, _, _) = elo(75, 25, 0);
        let (b, _, _) = elo(25, 75, 0);
        assert!((a + b).abs() < 1e-9 && (a - 190.8).abs() < 1.0, "{a}");
        let (e, lo, hi) = elo(10, 0, 0);
        assert!(e.is_finite() && lo.is_finite() && hi.is_finite() && lo <= e && e <= hi);
        // All games lost: a wide interval below, not a point.
        let (e, lo, hi) = elo(0, 20, 0);
        assert!(lo <= e && e <= hi && hi - lo > 100.0, "{lo} {e} {hi}");
        // 200 of 200: at least +600 with 95% confidence (Wilson's lower bound 0.981).
        let (_, lo, _) = elo(200, 0, 0);
        assert!((lo - 688.0).abs() < 5.0, "{lo}");
    }
}
