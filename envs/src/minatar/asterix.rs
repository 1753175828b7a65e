//! Asterix-v0: dodge enemies and collect gold on a 10x10 grid (MinAtar's Asterix, 1.0.15 rules).
//!
//! Rules. The player starts at row 5, column 5 and moves one cell per action in the four cardinal
//! directions, confined to columns 0-9 and rows 1-8 (fire does nothing). Rows 1-8 are lanes: each
//! holds at most one object, an enemy or a piece of gold, which enters at the left edge moving
//! right or at the right edge moving left (each with probability 1/2; gold with probability 1/3)
//! in a lane chosen uniformly among the empty ones, and leaves the grid at the far edge. Touching
//! gold gives +1 and removes it; touching an enemy ends the episode.
//!
//! Timing, within one action: (1) if the spawn timer has run out, an object spawns (nothing when
//! all lanes are full) and the timer restarts at the spawn interval; (2) the player moves; (3)
//! contact is resolved; (4) if the move timer has run out, every object steps one cell toward its
//! exit, those leaving the grid vanish, contact is resolved again and the timer restarts at the
//! move interval; (5) both timers count down; (6) difficulty ramping. Spawns therefore happen
//! every `spawn_interval` actions (first at action 11) and moves every `move_interval` actions
//! (first at action 6). With ramping, every 102 actions the spawn interval drops by one (10 down
//! to 1) and, at every second such ramp (the 2nd, 4th, ...), the move interval too (5 down to 1).
//!
//! Representation. Because a lane holds at most one object, the state is eight lanes: a column
//! per lane plus three bitmasks (occupied, moving right, gold). Contact only needs the player's
//! own lane, moving all objects is one pass over eight bytes, and choosing a random empty lane is
//! a pick among the set bits of a byte. Nothing allocates.
//!
//! Observation (MinAtar's channel order): 0 `player`, 1 `enemy`, 2 `trail` (the cell each object
//! just came from, showing its direction), 3 `gold`.

use super::{Action, Grid, N, Rules};
use crate::rng::Rng;

/// The random draws a game's rules make: `Rng` in play; in tests, also a replay of the draws
/// MinAtar made (see `trace`), so that a whole trajectory can be compared cell for cell. Shared
/// with Seaquest, whose spawns draw the same way.
pub(super) trait Draws {
    /// Uniform in `[0, 1)`.
    fn uniform(&mut self) -> f64;
    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize;
    #[inline]
    fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }
}

impl Draws for Rng {
    #[inline]
    fn uniform(&mut self) -> f64 {
        Rng::uniform(self)
    }
    #[inline]
    fn below(&mut self, n: usize) -> usize {
        Rng::below(self, n)
    }
}

const LANES: usize = 8;
/// Actions between difficulty ramps, minus two (the ramp counter runs from this value to -1).
const RAMP_INTERVAL: i16 = 100;
const INIT_SPAWN_INTERVAL: u8 = 10;
const INIT_MOVE_INTERVAL: u8 = 5;
const LAST: i8 = N as i8 - 1;
/// `(column step, row step)` of each action, in `Action` order (fire does nothing).
const STEPS: [(i8, i8); 6] = [(0, 0), (-1, 0), (0, -1), (1, 0), (0, 1), (0, 0)];

const PLAYER: usize = 0;
const ENEMY: usize = 1;
const TRAIL: usize = 2;
const GOLD: usize = 3;

/// The Asterix rules state.
#[derive(Debug, Clone)]
pub struct Asterix {
    ramping: bool,
    px: i8,
    py: i8,
    /// Column of the object in lane `l` (row `l + 1`); meaningful where `occupied` has bit `l`.
    col: [i8; LANES],
    occupied: u8,
    rightward: u8,
    gold: u8,
    spawn_interval: u8,
    spawn_timer: u8,
    move_interval: u8,
    move_timer: u8,
    ramp_timer: i16,
    ramps: u32,
    /// Where each lane's object and trail are drawn (`2 * lane` and `2 * lane + 1`: an index in
    /// the observation, or `Grid::OFF_GRID`), kept up to date by `place` wherever a lane changes
    /// (spawns, moves, collected gold: a few frames in ten), so that drawing only copies them.
    cells: [u16; 2 * LANES],
}

impl Asterix {
    /// How many times difficulty has ramped up this episode.
    pub fn difficulty_level(&self) -> u32 {
        self.ramps
    }

    /// Actions between spawns (10 at the start, down to 1 with ramping).
    pub fn spawn_interval(&self) -> u8 {
        self.spawn_interval
    }

    /// Actions between object moves (5 at the start, down to 1 with ramping).
    pub fn move_interval(&self) -> u8 {
        self.move_interval
    }

    /// The player's `(row, column)`.
    pub fn player(&self) -> (i8, i8) {
        (self.py, self.px)
    }

    /// Puts an object in the lane of the empty ones picked uniformly at random.
    fn spawn(&mut self, rng: &mut impl Draws) {
        let right = rng.chance(0.5);
        let gold = rng.chance(1.0 / 3.0);
        let mut free = !self.occupied;
        if free == 0 {
            return;
        }
        for _ in 0..rng.below(free.count_ones() as usize) {
            free &= free - 1;
        }
        let lane = free.trailing_zeros() as usize;
        let bit = 1u8 << lane;
        self.col[lane] = if right { 0 } else { LAST };
        self.occupied |= bit;
        self.rightward = (self.rightward & !bit) | if right { bit } else { 0 };
        self.gold = (self.gold & !bit) | if gold { bit } else { 0 };
        self.place_lane(lane);
    }

    /// Recomputes `cells` from the lanes, without branches. An object is always on the grid (it
    /// vanishes when it leaves); its trail may be just off it.
    fn place(&mut self) {
        for lane in 0..LANES {
            self.place_lane(lane);
        }
    }

    /// Recomputes the cells of one lane.
    #[inline]
    fn place_lane(&mut self, lane: usize) {
        // `pick(cond, a)` is `a` when `cond` holds, else `OFF_GRID`, by masking (the compiler
        // turns an `if` here into branches, which the random lanes mispredict).
        let pick = |cond: bool, a: usize| {
            Grid::OFF_GRID ^ ((a ^ Grid::OFF_GRID) & 0usize.wrapping_sub(cond as usize))
        };
        let on = |mask: u8| (mask >> lane & 1) as usize;
        let occupied = on(self.occupied) != 0;
        // An empty lane's column is stale (any value): its cells are off the grid anyway.
        let x = self.col[lane & (LANES - 1)] as u8 as usize;
        let row = (lane + 1) * N;
        let c = ENEMY + (GOLD - ENEMY) * on(self.gold);
        let object = pick(occupied, c * N * N + row + x);
        // x - 1 when moving right, x + 1 when moving left (wrapping below 0 to off the grid).
        let back = (x + 1).wrapping_sub(2 * on(self.rightward));
        let trail = pick(
            occupied & (back < N),
            (TRAIL * N * N + row).wrapping_add(back),
        );
        self.cells[2 * (lane & (LANES - 1))] = object as u16;
        self.cells[2 * (lane & (LANES - 1)) + 1] = trail as u16;
    }

    /// Resolves contact between the player and the object in its lane: gold is collected, an
    /// enemy ends the episode (and stays where it is).
    #[inline]
    fn contact(&mut self, reward: &mut f32, over: &mut bool) {
        let lane = (self.py - 1) as usize;
        let bit = 1u8 << lane;
        // Whether the player meets an object is as random as its moves: decided without a
        // branch. Collecting gold is rare enough to branch on.
        let met = (self.occupied & bit != 0) & (self.col[lane & (LANES - 1)] == self.px);
        let gold = self.gold & bit != 0;
        *over |= met & !gold;
        if met & gold {
            self.occupied &= !bit;
            self.place_lane(lane);
            *reward += 1.0;
        }
    }

    /// Steps every object one cell toward its exit; objects leaving the grid vanish.
    #[inline]
    fn move_objects(&mut self) {
        let mut gone = 0u8;
        for lane in 0..LANES {
            let dx = if self.rightward >> lane & 1 != 0 {
                1
            } else {
                -1
            };
            let c = self.col[lane] + dx;
            self.col[lane] = c;
            gone |= ((!(0..=LAST).contains(&c)) as u8) << lane;
        }
        self.occupied &= !gone;
        self.place();
    }

    /// One action of the rules (`Rules::act`), with the random draws from `rng`.
    fn advance(&mut self, action: Action, rng: &mut impl Draws) -> (f32, bool) {
        let (mut reward, mut over) = (0.0, false);
        if self.spawn_timer == 0 {
            self.spawn(rng);
            self.spawn_timer = self.spawn_interval;
        }
        // Movement without a branch on the action: a column and row step per action, clamped.
        let (dx, dy) = STEPS[action as usize];
        self.px = (self.px + dx).clamp(0, LAST);
        self.py = (self.py + dy).clamp(1, LANES as i8);
        self.contact(&mut reward, &mut over);
        if self.move_timer == 0 {
            self.move_timer = self.move_interval;
            self.move_objects();
            self.contact(&mut reward, &mut over);
        }
        self.spawn_timer -= 1;
        self.move_timer -= 1;
        self.ramp();
        (reward, over)
    }

    fn ramp(&mut self) {
        if !(self.ramping && (self.spawn_interval > 1 || self.move_interval > 1)) {
            return;
        }
        if self.ramp_timer >= 0 {
            self.ramp_timer -= 1;
            return;
        }
        if self.move_interval > 1 && self.ramps % 2 == 1 {
            self.move_interval -= 1;
        }
        if self.spawn_interval > 1 {
            self.spawn_interval -= 1;
        }
        self.ramps += 1;
        self.ramp_timer = RAMP_INTERVAL;
    }
}

impl Rules for Asterix {
    const CHANNELS: &'static [&'static str] = &["player", "enemy", "trail", "gold"];
    const MINIMAL_ACTIONS: &'static [Action] = &[
        Action::Noop,
        Action::Left,
        Action::Up,
        Action::Right,
        Action::Down,
    ];
    /// The player, and each lane's object and trail.
    const SPRITES: usize = 1 + 2 * LANES;

    fn new(ramping: bool) -> Self {
        let mut g = Asterix {
            ramping,
            px: 0,
            py: 0,
            col: [0; LANES],
            occupied: 0,
            rightward: 0,
            gold: 0,
            spawn_interval: 0,
            spawn_timer: 0,
            move_interval: 0,
            move_timer: 0,
            ramp_timer: 0,
            ramps: 0,
            cells: [Grid::OFF_GRID as u16; 2 * LANES],
        };
        g.reset(&mut Rng::new(0));
        g
    }

    fn reset(&mut self, _rng: &mut Rng) {
        *self = Asterix {
            ramping: self.ramping,
            px: 5,
            py: 5,
            col: [0; LANES],
            occupied: 0,
            rightward: 0,
            gold: 0,
            spawn_interval: INIT_SPAWN_INTERVAL,
            spawn_timer: INIT_SPAWN_INTERVAL,
            move_interval: INIT_MOVE_INTERVAL,
            move_timer: INIT_MOVE_INTERVAL,
            ramp_timer: RAMP_INTERVAL,
            ramps: 0,
            cells: [Grid::OFF_GRID as u16; 2 * LANES],
        };
    }

    #[inline(always)]
    fn act(&mut self, action: Action, rng: &mut Rng) -> (f32, bool) {
        self.advance(action, rng)
    }

    #[inline(always)]
    fn draw(&self, grid: &mut Grid<'_>) {
        grid.sprite(0, PLAYER, self.py as i32, self.px as i32);
        // Every lane draws its object and trail as sprites, off the grid when the lane is empty:
        // a fixed, branch-free pass over cells `place` computed when the lanes last changed.
        for (k, &i) in self.cells.iter().enumerate() {
            grid.sprite_index(1 + k, i as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Env;
    use crate::minatar::MinAtar;

    fn game(ramping: bool) -> Asterix {
        Asterix::new(ramping)
    }

    /// Places an object in the lane of row `y` at column `x`.
    fn put(g: &mut Asterix, y: i8, x: i8, right: bool, gold: bool) {
        let lane = (y - 1) as usize;
        let bit = 1u8 << lane;
        g.col[lane] = x;
        g.occupied |= bit;
        g.rightward = (g.rightward & !bit) | if right { bit } else { 0 };
        g.gold = (g.gold & !bit) | if gold { bit } else { 0 };
    }

    fn planes(g: &Asterix) -> Vec<f32> {
        let mut obs = vec![0.0; 4 * N * N];
        // Tests place objects by hand: bring the lanes' cells up to date first.
        let mut g = g.clone();
        g.place();
        crate::minatar::draw_planes(&g, &mut obs);
        obs
    }

    fn at(obs: &[f32], c: usize, y: usize, x: usize) -> bool {
        obs[(c * N + y) * N + x] == 1.0
    }

    #[test]
    fn passes_check_env_with_defaults_and_options() {
        let [_, plain] = crate::minatar::check_game("Asterix-v0", 4, 5);
        assert!(plain.terminated > 0, "{plain:?}");
    }

    #[test]
    fn player_starts_centred_and_stays_inside_rows_1_to_8() {
        let mut g = game(false);
        let mut rng = Rng::new(1);
        assert_eq!(g.player(), (5, 5));
        for _ in 0..12 {
            g.occupied = 0;
            g.act(Action::Up, &mut rng);
        }
        assert_eq!(g.player(), (1, 5));
        for _ in 0..12 {
            g.occupied = 0;
            g.act(Action::Down, &mut rng);
        }
        assert_eq!(g.player(), (8, 5));
        for _ in 0..12 {
            g.occupied = 0;
            g.act(Action::Left, &mut rng);
        }
        assert_eq!(g.player(), (8, 0));
        for _ in 0..12 {
            g.occupied = 0;
            g.act(Action::Right, &mut rng);
        }
        assert_eq!(g.player(), (8, 9));
        g.occupied = 0;
        g.act(Action::Fire, &mut rng);
        assert_eq!(g.player(), (8, 9));
    }

    #[test]
    fn stepping_onto_gold_pays_one_and_removes_it() {
        let mut g = game(false);
        let mut rng = Rng::new(2);
        put(&mut g, 5, 6, false, true);
        assert_eq!(g.act(Action::Right, &mut rng), (1.0, false));
        assert_eq!(g.occupied, 0);
    }

    #[test]
    fn stepping_onto_an_enemy_ends_the_episode() {
        let mut g = game(false);
        let mut rng = Rng::new(3);
        put(&mut g, 4, 5, true, false);
        assert_eq!(g.act(Action::Up, &mut rng), (0.0, true));
    }

    #[test]
    fn objects_move_on_the_move_timer_and_can_run_into_the_player() {
        // The move timer starts at 5: objects first move on action 6, then every 5 actions.
        let mut g = game(false);
        let mut rng = Rng::new(4);
        put(&mut g, 5, 0, true, false);
        put(&mut g, 3, 9, false, true);
        for _ in 0..5 {
            assert_eq!(g.act(Action::Noop, &mut rng), (0.0, false));
            assert_eq!(g.col[4], 0);
        }
        g.act(Action::Noop, &mut rng);
        assert_eq!((g.col[4], g.col[2]), (1, 8));
        // An enemy moving into the player's cell ends the episode; gold moving in pays.
        let mut g = game(false);
        put(&mut g, 5, 6, false, false);
        g.move_timer = 0;
        assert_eq!(g.act(Action::Noop, &mut rng), (0.0, true));
        let mut g = game(false);
        put(&mut g, 5, 4, true, true);
        g.move_timer = 0;
        assert_eq!(g.act(Action::Noop, &mut rng), (1.0, false));
        assert_eq!(g.occupied, 0);
        // Swapping places with an enemy is caught before the objects move.
        let mut g = game(false);
        put(&mut g, 5, 6, false, false);
        g.move_timer = 0;
        assert_eq!(g.act(Action::Right, &mut rng), (0.0, true));
    }

    #[test]
    fn objects_leave_at_the_far_edge() {
        let mut g = game(false);
        let mut rng = Rng::new(5);
        put(&mut g, 2, 9, true, false);
        put(&mut g, 7, 0, false, true);
        put(&mut g, 8, 8, true, false);
        g.move_timer = 0;
        g.act(Action::Noop, &mut rng);
        assert_eq!(g.occupied, 1 << 7);
        assert_eq!(g.col[7], 9);
    }

    #[test]
    fn spawns_at_action_11_then_every_interval_from_the_edges() {
        let mut g = game(false);
        let mut rng = Rng::new(6);
        for _ in 0..10 {
            g.act(Action::Noop, &mut rng);
            assert_eq!(g.occupied, 0);
        }
        g.act(Action::Noop, &mut rng);
        assert_eq!(g.occupied.count_ones(), 1);
        let lane = g.occupied.trailing_zeros() as usize;
        let right = g.rightward >> lane & 1 != 0;
        // It entered at an edge and, the move timer also running out on action 11, already
        // took its first step within the same action.
        assert_eq!(g.col[lane], if right { 1 } else { 8 });
        // Objects spawned after that are 10 actions apart (until all lanes are full).
        let mut spawn_steps = Vec::new();
        let mut count = 1;
        for t in 12..200 {
            // Keep the player out of harm's way and objects from leaving: freeze moves.
            g.move_timer = 3;
            g.act(Action::Noop, &mut rng);
            let c = g.occupied.count_ones();
            if c != count {
                spawn_steps.push(t);
                count = c;
            }
        }
        assert_eq!(spawn_steps, vec![21, 31, 41, 51, 61, 71, 81]);
        assert_eq!(g.occupied, 0xFF, "a spawn with all lanes full does nothing");
    }

    #[test]
    fn spawn_picks_empty_lanes_uniformly_with_the_right_odds() {
        let mut g = game(false);
        let mut rng = Rng::new(7);
        let (mut lanes, mut right, mut gold) = ([0u32; 8], 0, 0);
        let n = 30_000;
        for _ in 0..n {
            g.occupied = 0b1010_0101;
            g.spawn(&mut rng);
            let new = g.occupied & !0b1010_0101;
            assert_eq!(new.count_ones(), 1);
            let lane = new.trailing_zeros() as usize;
            lanes[lane] += 1;
            right += (g.rightward >> lane & 1) as u32;
            gold += (g.gold >> lane & 1) as u32;
        }
        for (l, &c) in lanes.iter().enumerate() {
            if 0b1010_0101 >> l & 1 != 0 {
                assert_eq!(c, 0);
            } else {
                assert!((7000..8000).contains(&c), "lane {l}: {c}");
            }
        }
        assert!((14_500..15_500).contains(&right), "{right}");
        assert!((9_500..10_500).contains(&gold), "{gold}");
    }

    #[test]
    fn ramping_speeds_up_every_102_actions_until_both_intervals_reach_1() {
        let mut g = game(true);
        let mut rng = Rng::new(8);
        let mut changes = Vec::new();
        let mut last = (g.spawn_interval(), g.move_interval());
        for t in 1..=2000 {
            g.occupied = 0;
            g.act(Action::Noop, &mut rng);
            let now = (g.spawn_interval(), g.move_interval());
            if now != last {
                changes.push((t, now.0, now.1));
                last = now;
            }
        }
        let expected: Vec<(i32, u8, u8)> = vec![
            (102, 9, 5),
            (204, 8, 4),
            (306, 7, 4),
            (408, 6, 3),
            (510, 5, 3),
            (612, 4, 2),
            (714, 3, 2),
            (816, 2, 1),
            (918, 1, 1),
        ];
        assert_eq!(changes, expected);
        assert_eq!(g.difficulty_level(), 9);

        let mut g = game(false);
        for _ in 0..2000 {
            g.occupied = 0;
            g.act(Action::Noop, &mut rng);
        }
        assert_eq!(
            (g.spawn_interval(), g.move_interval(), g.difficulty_level()),
            (10, 5, 0)
        );
    }

    #[test]
    fn observation_channels_match_minatar() {
        let mut g = game(false);
        put(&mut g, 2, 0, true, false);
        put(&mut g, 3, 4, false, true);
        put(&mut g, 8, 9, false, false);
        let obs = planes(&g);
        let ones: Vec<(usize, usize, usize)> = (0..4 * N * N)
            .filter(|&i| obs[i] == 1.0)
            .map(|i| (i / 100, i / 10 % 10, i % 10))
            .collect();
        assert!(at(&obs, PLAYER, 5, 5));
        assert!(at(&obs, ENEMY, 2, 0) && at(&obs, GOLD, 3, 4) && at(&obs, ENEMY, 8, 9));
        // Trails: none for the rightward enemy at the left edge, one behind the others.
        assert!(at(&obs, TRAIL, 3, 5));
        assert_eq!(
            ones,
            vec![(0, 5, 5), (1, 2, 0), (1, 8, 9), (2, 3, 5), (3, 3, 4)]
        );
    }

    #[test]
    #[ignore = "needs EMBER_PYTHON with minatar"]
    fn minatar_draws_replayed_frame_by_frame() {
        for ramping in [true, false] {
            let (eps, frames, ret) = super::trace::replay::<Asterix>(
                "asterix",
                400,
                21 + ramping as u64,
                ramping,
                |g, a, d| g.advance(a, d),
            );
            eprintln!(
                "asterix (ramping {ramping}): {eps} episodes, {frames} frames, {ret} reward: identical to MinAtar"
            );
            assert!(
                frames > 400 * 150,
                "the policy should survive past the first ramps"
            );
        }
    }

    #[test]
    fn env_observation_is_redrawn_each_step() {
        let mut env = MinAtar::<Asterix>::new("Asterix-v0", 0.0, true, false);
        let obs = env.reset(Some(1)).to_vec();
        assert_eq!(obs.iter().filter(|&&v| v == 1.0).count(), 1);
        assert_eq!(obs[55], 1.0);
        let s = env.step(Action::Left as usize).unwrap();
        assert_eq!(s.obs[54], 1.0);
        assert_eq!(s.obs.iter().filter(|&&v| v == 1.0).count(), 1);
        assert_eq!(env.game().player(), (5, 4));
    }
}

/// Frame-by-frame comparison with MinAtar itself, for Asterix and Seaquest: MinAtar's own game
/// class plays episodes under a scripted, partly random policy (no sticky actions: those belong
/// to the shell) while every random number it draws is recorded; the Rust game replays the same
/// actions with the same draws and must produce the same reward, terminal flag and observation
/// on every frame. This checks every rule exactly, including spawns, not only statistically.
/// Needs `EMBER_PYTHON` pointing at a Python with `minatar`; the tests using it are `#[ignore]`d:
/// `EMBER_PYTHON=/root/venv/bin/python cargo test -p ember-envs minatar_draws -- --ignored`.
#[cfg(test)]
pub(super) mod trace {
    use std::collections::VecDeque;

    use super::super::{Action, N, Rules};
    use super::Draws;

    /// Prints `E obs` at each episode start and `S action reward terminal draws obs` per frame,
    /// observations channel-major, draws as `u<float>` (`rand()`) and `i<int>` (`randint`, as an
    /// offset from its low end), comma-separated (`-` for none).
    const SCRIPT: &str = r#"
import sys
import numpy as np
from importlib import import_module
game, episodes, seed, ramping = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
class Recorder:
    def __init__(self, r):
        self.r, self.log = r, []
    def rand(self):
        v = self.r.rand()
        self.log.append("u" + repr(float(v)))
        return v
    def randint(self, low, high=None):
        v = self.r.randint(low, high) if high is not None else self.r.randint(low)
        self.log.append("i" + str(int(v) - (low if high is not None else 0)))
        return v
env = import_module("minatar.environments." + game).Env(ramping=ramping)
env.random = Recorder(np.random.RandomState(seed))
pol = np.random.RandomState(seed + 7)
def asterix(s):
    g = lambda c, y, x: 0 <= x <= 9 and bool(s[y, x, c])
    py, px = [int(v[0]) for v in np.nonzero(s[:, :, 0])]
    safe = []
    for a, (dy, dx) in enumerate([(0, 0), (0, -1), (-1, 0), (0, 1), (1, 0)]):
        ny, nx = min(8, max(1, py + dy)), min(9, max(0, px + dx))
        d = g(1, ny, nx) or (g(1, ny, nx - 1) and (g(2, ny, nx - 2) or nx == 1)) \
            or (g(1, ny, nx + 1) and (g(2, ny, nx + 2) or nx == 8))
        if not d:
            safe.append(a)
    return safe[pol.randint(len(safe))] if safe and pol.rand() < 0.95 else pol.randint(6)
def seaquest(s):
    ys, xs = np.nonzero(s[:, :, 0])
    y, x = int(ys[0]), int(xs[0])
    held, oxy = int(s[9, :, 8].sum()), int(s[9, :, 7].sum())
    if y == 0 and pol.rand() < 0.9:
        return 4
    if held >= 1 and (oxy <= 3 or held == 6):
        return 2
    dys, dxs = np.nonzero(s[:9, :, 9])
    if len(dys) > 0 and pol.rand() < 0.7:
        k = int(np.argmin(np.abs(dys - y) * 16 + np.abs(dxs - x)))
        ty, tx = int(dys[k]), int(dxs[k])
        if ty != y:
            return 4 if ty > y else (2 if y > 1 else 0)
        if tx != x:
            return 3 if tx > x else 1
    a = pol.randint(6)
    return 0 if (y == 1 and a == 2 and held == 0) else a
policy = asterix if game == "asterix" else seaquest
def obs():
    s = np.transpose(env.state(), (2, 0, 1)).reshape(-1)
    return "".join("1" if v else "0" for v in s)
lines = []
for _ in range(episodes):
    env.reset()
    lines.append("E " + obs())
    t = False
    while not t:
        a = policy(env.state())
        env.random.log = []
        r, t = env.act(a)
        lines.append(f"S {a} {int(r)} {int(t)} {','.join(env.random.log) or '-'} {obs()}")
print("\n".join(lines))
"#;

    /// MinAtar's recorded draws for one frame, handed out in order.
    pub struct Replay(VecDeque<Draw>);

    #[derive(Debug)]
    enum Draw {
        Uniform(f64),
        Below(usize),
    }

    impl Draws for Replay {
        fn uniform(&mut self) -> f64 {
            match self.0.pop_front() {
                Some(Draw::Uniform(u)) => u,
                other => panic!("our rules drew a uniform where MinAtar drew {other:?}"),
            }
        }
        fn below(&mut self, n: usize) -> usize {
            match self.0.pop_front() {
                Some(Draw::Below(k)) if k < n => k,
                other => panic!("our rules drew an integer below {n} where MinAtar drew {other:?}"),
            }
        }
    }

    fn text(obs: &[f32], channels: &[&str]) -> String {
        let symbols = crate::render::channel_symbols(channels);
        crate::render::planes_text(obs, channels.len(), N, N, &symbols)
    }

    /// Replays `episodes` of MinAtar's `name` on `G` through `advance` (the game's rules with
    /// explicit draws); panics at the first difference. Returns `(episodes, frames, reward)`.
    pub fn replay<G: Rules>(
        name: &str,
        episodes: usize,
        seed: u64,
        ramping: bool,
        advance: impl Fn(&mut G, Action, &mut Replay) -> (f32, bool),
    ) -> (usize, usize, f64) {
        let python = std::env::var("EMBER_PYTHON")
            .expect("set EMBER_PYTHON to a Python with minatar to compare with MinAtar");
        let out = std::process::Command::new(python)
            .args(["-c", SCRIPT, name, &episodes.to_string(), &seed.to_string()])
            .arg(if ramping { "1" } else { "0" })
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut game = G::new(ramping);
        let mut ours = vec![0.0f32; G::CHANNELS.len() * N * N];
        let (mut eps, mut frames, mut total) = (0, 0, 0.0);
        let mut recent: VecDeque<usize> = VecDeque::new();
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let theirs: Vec<f32> = fields
                .last()
                .unwrap()
                .bytes()
                .map(|b| (b - b'0') as f32)
                .collect();
            assert_eq!(theirs.len(), ours.len());
            let (mut expect, mut got) = ((0, false), (0, false));
            if fields[0] == "E" {
                eps += 1;
                recent.clear();
                game.reset(&mut crate::rng::Rng::new(0));
            } else {
                let a: usize = fields[1].parse().unwrap();
                expect = (fields[2].parse::<i32>().unwrap(), fields[3] == "1");
                let draws = fields[4]
                    .split(',')
                    .filter(|d| *d != "-")
                    .map(|d| match d.split_at(1) {
                        ("u", v) => Draw::Uniform(v.parse().unwrap()),
                        ("i", v) => Draw::Below(v.parse().unwrap()),
                        _ => panic!("bad draw {d}"),
                    })
                    .collect();
                let mut replay = Replay(draws);
                let (r, t) = advance(&mut game, Action::ALL[a], &mut replay);
                assert!(
                    replay.0.is_empty(),
                    "MinAtar drew more this frame: {:?}",
                    replay.0
                );
                got = (r as i32, t);
                frames += 1;
                total += r as f64;
                recent.push_back(a);
                if recent.len() > 6 {
                    recent.pop_front();
                }
            }
            crate::minatar::draw_planes(&game, &mut ours);
            assert!(
                got == expect && ours == theirs,
                "{name}: episode {eps}, frame {frames}: (reward, terminal) ours {got:?} MinAtar \
                 {expect:?}; last actions {recent:?}\nours:\n{}MinAtar:\n{}",
                text(&ours, G::CHANNELS),
                text(&theirs, G::CHANNELS)
            );
        }
        assert_eq!(eps, episodes);
        (eps, frames, total)
    }
}
