//! Property tests of the Go engine over random legal games (proptest picks sizes, seeds and
//! lengths; the moves come from a seeded `Rng`, uniform over legal moves and pass).

use proptest::prelude::*;

use super::board::{Board, Color, EMPTY, Illegal};
use super::playout::{self, default_cap};
use super::sgf::GameRecord;
use super::state::{GoState, Move};
use crate::game::{Game, random_rollout};
use crate::games::ConnectFour;
use crate::rng::Rng;

/// A random legal move for the player to move (pass with probability ~1/20).
fn random_move(s: &GoState, rng: &mut Rng, buf: &mut Vec<u16>) -> Move {
    if rng.below(20) == 0 {
        return Move::Pass;
    }
    s.legal_points(s.to_play(), buf);
    if buf.is_empty() {
        Move::Pass
    } else {
        Move::Play(buf[rng.below(buf.len())])
    }
}

/// Playing `actions` and playing their images under each symmetry gives observations that are
/// images of each other, and legal sets that correspond.
fn check_symmetries<G: Game>(start: &G, actions: &[usize]) -> Result<(), TestCaseError> {
    let [c, h, w] = start.observation_shape();
    let mut obs = vec![0.0; c * h * w];
    let mut obs_t = vec![0.0; c * h * w];
    let mut want = vec![0.0; c * h * w];
    for &sym in start.symmetries() {
        let mut g = start.clone();
        let mut t = start.clone();
        for &a in actions {
            g.apply(a).unwrap();
            t.apply(g.transform_action(sym, a))
                .map_err(|e| TestCaseError::fail(format!("{sym:?}: image of {a} refused: {e}")))?;
        }
        g.observe(&mut obs);
        t.observe(&mut obs_t);
        g.transform_observation(sym, &obs, &mut want);
        prop_assert_eq!(&want, &obs_t, "{:?}", sym);
        let (mut la, mut lb) = (Vec::new(), Vec::new());
        g.legal_actions(&mut la);
        t.legal_actions(&mut lb);
        let mut mapped: Vec<usize> = la.iter().map(|&a| g.transform_action(sym, a)).collect();
        mapped.sort_unstable();
        prop_assert_eq!(mapped, lb);
        prop_assert_eq!(g.returns(), t.returns());
        // The inverse takes the image back.
        for &a in &la {
            prop_assert_eq!(
                g.transform_action(sym.inverse(), g.transform_action(sym, a)),
                a
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_undo_restores_exactly(size in 5usize..=9, seed: u64, len in 0usize..160) {
        let mut rng = Rng::new(seed);
        let mut s = GoState::new(size, 7.5).unwrap();
        let mut snapshots = vec![s.clone()];
        let mut buf = Vec::new();
        for _ in 0..len {
            if s.is_over() {
                break;
            }
            let mv = random_move(&s, &mut rng, &mut buf);
            s.play(s.to_play(), mv).unwrap();
            if let Err(e) = s.board().validate() {
                return Err(TestCaseError::fail(format!("{e}\n{s:?}")));
            }
            // The mask and the action list agree.
            let mut acts = Vec::new();
            s.legal_actions(&mut acts);
            let mut mask = vec![false; s.num_actions()];
            s.legal_mask(&mut mask);
            let from_mask: Vec<usize> = (0..mask.len()).filter(|&a| mask[a]).collect();
            prop_assert_eq!(from_mask, acts);
            snapshots.push(s.clone());
        }
        // Undo walks back through every snapshot exactly.
        while snapshots.len() > 1 {
            snapshots.pop();
            prop_assert!(s.undo());
            prop_assert!(&s == snapshots.last().unwrap(), "undo differs at move {}", snapshots.len() - 1);
        }
        prop_assert!(!s.undo());
    }

    #[test]
    fn playout_board_and_full_rules_agree(size in 5usize..=9, seed: u64) {
        // The same moves on a bare board (simple ko) and under the full rules: identical boards,
        // and the same legal points except where superko refuses a move simple ko allows.
        let mut rng = Rng::new(seed);
        let mut s = GoState::new(size, 7.5).unwrap();
        let mut b = Board::new(size).unwrap();
        let mut buf = Vec::new();
        for _ in 0..(2 * size * size) {
            if s.is_over() {
                break;
            }
            let c = s.to_play();
            for p in b.points() {
                match (b.check(p, c), s.check(c, p)) {
                    (Ok(()), Err(Illegal::Superko)) => {}
                    (x, y) => prop_assert_eq!(x, y, "at {}", p),
                }
            }
            let mv = random_move(&s, &mut rng, &mut buf);
            s.play(c, mv).unwrap();
            if let Move::Play(p) = mv {
                b.play_unchecked(p, c);
            }
            prop_assert!(s.board() == &b);
        }
    }

    #[test]
    fn hash_after_predicts_the_hash(size in 5usize..=9, seed: u64) {
        let mut rng = Rng::new(seed);
        let mut b = Board::new(size).unwrap();
        let mut c = Color::Black;
        for _ in 0..(2 * size * size) {
            let Some(p) = playout::random_move(&mut b, c, &mut rng) else { break };
            let h = b.hash_after(p, c);
            b.play_unchecked(p, c);
            prop_assert_eq!(h, b.hash());
            prop_assert_eq!(b.hash(), b.recompute_hash());
            c = c.opp();
        }
    }

    #[test]
    fn playout_tests_match_their_definitions(size in 5usize..=9, seed: u64) {
        // `is_suicide`, `is_eye` and the playout's one-test filter `is_playout_move` against
        // definitions from exact liberty lists and neighbour colours, at every empty point for
        // both colours, through a random playout (where kos, captures and eyes arise).
        let mut rng = Rng::new(seed);
        let mut b = Board::new(size).unwrap();
        let mut c = Color::Black;
        for _ in 0..default_cap(size) {
            for &p in b.empties() {
                for col in [Color::Black, Color::White] {
                    let suicide = b.neighbors(p).iter().all(|&q| match b.stone(q) {
                        _ if b.at(q) == EMPTY => false,
                        Some(k) => (k == col) == (b.liberties(q) == [p]),
                        None => true,
                    });
                    prop_assert_eq!(b.is_suicide(p, col), suicide, "suicide at {}\n{}", p, b.ascii());
                    let eye = b.neighbors(p).iter().all(|&q| b.stone(q) == Some(col) || !b.on_board(q)) && {
                        let s = b.stride() as u16;
                        let diag = [p - s - 1, p - s + 1, p + s - 1, p + s + 1];
                        let enemy = diag.iter().filter(|&&q| b.stone(q) == Some(col.opp())).count();
                        let edge = diag.iter().any(|&q| !b.on_board(q));
                        enemy + (edge as usize) < 2
                    };
                    prop_assert_eq!(b.is_eye(p, col), eye, "eye at {}\n{}", p, b.ascii());
                    let ok = !eye && b.ko_point(col) != Some(p) && !suicide;
                    prop_assert_eq!(b.is_playout_move(p, col), ok, "playout move at {}\n{}", p, b.ascii());
                }
            }
            let Some(p) = playout::random_move(&mut b, c, &mut rng) else { break };
            b.play_unchecked(p, c);
            c = c.opp();
        }
    }

    #[test]
    fn playouts_keep_invariants(size in 5usize..=13, seed: u64) {
        let mut rng = Rng::new(seed);
        let mut b = Board::new(size).unwrap();
        let r = playout::playout(&mut b, Color::Black, &mut rng, default_cap(size));
        prop_assert!(b.validate().is_ok(), "{:?}", b.validate());
        prop_assert!(r.moves <= default_cap(size));
        prop_assert_eq!(r.score, b.area_score());
        // Against the flood fill of `ownership`, also midway through another playout.
        let mut own = vec![0.0; size * size];
        for cap in [default_cap(size), (seed % 60) as u32] {
            let mut b = Board::new(size).unwrap();
            playout::playout(&mut b, Color::Black, &mut rng, cap);
            b.ownership(&mut own);
            prop_assert_eq!(b.area_score(), own.iter().sum::<f32>() as i32);
        }
    }

    #[test]
    fn sgf_round_trips_random_games(size in 5usize..=19, seed: u64, len in 0usize..120) {
        let mut rng = Rng::new(seed);
        let mut s = GoState::new(size, 6.5).unwrap();
        let mut buf = Vec::new();
        for _ in 0..len {
            if s.is_over() {
                break;
            }
            let mv = random_move(&s, &mut rng, &mut buf);
            s.play(s.to_play(), mv).unwrap();
        }
        let rec = GameRecord::from_state(&s);
        let back = GameRecord::parse(rec.to_sgf().as_bytes()).unwrap();
        prop_assert_eq!(&back, &rec);
        let s2 = back.to_state().unwrap();
        prop_assert!(s2.board() == s.board());
        prop_assert_eq!(s2.move_count(), s.move_count());
    }

    #[test]
    fn go_symmetries_commute_with_play(size in 5usize..=7, seed: u64, len in 0usize..40) {
        let mut rng = Rng::new(seed);
        let start = GoState::new(size, 7.5).unwrap();
        let mut g = start.clone();
        let mut actions = Vec::new();
        let mut buf = Vec::new();
        for _ in 0..len {
            if g.is_terminal() {
                break;
            }
            g.legal_actions(&mut buf);
            let a = buf[rng.below(buf.len())];
            g.apply(a).unwrap();
            actions.push(a);
        }
        check_symmetries(&start, &actions)?;
    }

    #[test]
    fn connect_four_symmetries_and_undo(seed: u64) {
        let mut rng = Rng::new(seed);
        let start = ConnectFour::new();
        let mut g = start.clone();
        random_rollout(&mut g, &mut rng, 42);
        let n = g.history_len();
        // Rebuild the action list by undoing.
        let mut actions = Vec::new();
        let mut u = g.clone();
        while u.history_len() > 0 {
            let before = u.clone();
            u.undo().unwrap();
            let a = (0..7).find(|&a| { let mut t = u.clone(); t.apply(a).is_ok() && t == before }).unwrap();
            actions.push(a);
        }
        prop_assert!(u == start);
        actions.reverse();
        prop_assert_eq!(actions.len(), n);
        check_symmetries(&start, &actions)?;
    }
}

#[test]
fn returns_are_zero_sum_in_both_games() {
    let mut rng = Rng::new(9);
    for _ in 0..20 {
        let mut g = GoState::new(5, 0.5).unwrap().with_max_moves(200);
        random_rollout(&mut g, &mut rng, 1000);
        assert!(g.is_terminal());
        let r = g.returns();
        assert_eq!(r[0], -r[1]);
        let mut c = ConnectFour::new();
        random_rollout(&mut c, &mut rng, 100);
        let r = c.returns();
        assert_eq!(r[0], -r[1]);
    }
}
