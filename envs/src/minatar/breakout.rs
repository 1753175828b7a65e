//! Breakout-v0: a paddle on the bottom row keeps a diagonally moving ball in play while it
//! knocks out three rows of bricks. Behaves like MinAtar 1.0.15's `breakout`.
//!
//! Rules, as observed in MinAtar (one `act` = one frame, in this order):
//! 1. `left` / `right` move the paddle one cell along row 9 (clamped to the grid).
//! 2. The ball advances one cell diagonally. Leaving the grid sideways clamps it to the edge
//!    column and mirrors its horizontal direction; leaving through the top clamps it to row 0 and
//!    mirrors its vertical direction (the brick test is then skipped).
//! 3. Otherwise, if the target cell holds a brick, the ball is "in a brick". When it was not in a
//!    brick the frame before, the brick is removed for a reward of 1, the ball stays on its old
//!    row (still moving sideways) and turns vertically. When it was (the frame before was a hit,
//!    or already a pass), it passes into the brick cell with no reward and the brick stays:
//!    MinAtar's quirk, kept so that scores compare.
//! 4. Otherwise, if the target is the bottom row: when no brick is left, the three rows come
//!    back. If the paddle is under the ball's old column the ball turns vertically; else if the
//!    paddle is under its target column it turns both ways; in both cases it stays on row 8.
//!    Otherwise the ball falls onto row 9 and the episode ends.
//!
//! No randomness but the start (top-left or top-right corner of the field, heading down and
//! inward), no difficulty ramping (the `difficulty_ramping` option has no effect, as in MinAtar).
//!
//! State is a handful of bytes plus the bricks as one `u128` bitboard (bit `10*y + x`), so a frame
//! is a few compares and one bit test, and drawing walks only the set bits.

use super::{Action, Grid, N, Rules};
use crate::rng::Rng;

/// Bit of cell `(y, x)` in a 10x10 bitboard.
#[inline]
fn bit(y: i8, x: i8) -> u128 {
    1u128 << (y as u32 * N as u32 + x as u32)
}

/// The starting wall: rows 1 to 3, full width.
const WALL: u128 = ((1u128 << 30) - 1) << 10;

/// Marks every set cell of a bitboard in channel `c` (shared with the other bitboard games of
/// this module): the channel is exactly the bitboard (`Grid::set_channel`).
#[inline]
pub(super) fn draw_bits(grid: &mut Grid<'_>, c: usize, bits: u128) {
    grid.set_channel(c, bits);
}

/// Breakout's rules and state.
#[derive(Debug, Clone)]
pub struct Breakout {
    /// Paddle column (row 9).
    paddle: i8,
    ball_x: i8,
    ball_y: i8,
    /// Ball direction, each `-1` or `+1` (`dy = -1` is up).
    dx: i8,
    dy: i8,
    /// The ball's cell one frame ago (the `trail` channel).
    trail_x: i8,
    trail_y: i8,
    /// Bricks, bit `10*y + x`.
    bricks: u128,
    /// The ball ended the last frame in a brick cell (hit or passed into).
    in_brick: bool,
}

impl Breakout {
    /// Bricks left.
    pub fn bricks_left(&self) -> u32 {
        self.bricks.count_ones()
    }
}

impl Rules for Breakout {
    const CHANNELS: &'static [&'static str] = &["paddle", "ball", "trail", "brick"];
    const MINIMAL_ACTIONS: &'static [Action] = &[Action::Noop, Action::Left, Action::Right];
    const SPRITES: usize = 3;

    fn new(_ramping: bool) -> Self {
        Breakout {
            paddle: 4,
            ball_x: 0,
            ball_y: 3,
            dx: 1,
            dy: 1,
            trail_x: 0,
            trail_y: 3,
            bricks: WALL,
            in_brick: false,
        }
    }

    fn reset(&mut self, rng: &mut Rng) {
        *self = Breakout::new(false);
        // Start in the left or right column of row 3, heading down towards the middle.
        if rng.below(2) == 1 {
            self.ball_x = 9;
            self.dx = -1;
        }
        self.trail_x = self.ball_x;
    }

    #[inline(always)]
    fn act(&mut self, action: Action, _rng: &mut Rng) -> (f32, bool) {
        // Without a branch on the (random) action: a column step per action, clamped.
        const DX: [i8; 6] = [0, -1, 0, 1, 0, 0];
        self.paddle = (self.paddle + DX[action as usize]).clamp(0, 9);
        let (x, y) = (self.ball_x, self.ball_y);
        (self.trail_x, self.trail_y) = (x, y);
        let (mut nx, mut ny) = (x + self.dx, y + self.dy);
        let mut reward = 0.0;
        let mut terminal = false;
        let mut in_brick = false;
        if !(0..N as i8).contains(&nx) {
            nx = nx.clamp(0, 9);
            self.dx = -self.dx;
        }
        if ny < 0 {
            ny = 0;
            self.dy = -self.dy;
        } else if self.bricks & bit(ny, nx) != 0 {
            in_brick = true;
            if !self.in_brick {
                reward = 1.0;
                self.bricks &= !bit(ny, nx);
                ny = y;
                self.dy = -self.dy;
            }
        } else if ny == 9 {
            if self.bricks == 0 {
                self.bricks = WALL;
            }
            if x == self.paddle {
                ny = y;
                self.dy = -self.dy;
            } else if nx == self.paddle {
                ny = y;
                self.dx = -self.dx;
                self.dy = -self.dy;
            } else {
                terminal = true;
            }
        }
        self.in_brick = in_brick;
        (self.ball_x, self.ball_y) = (nx, ny);
        (reward, terminal)
    }

    #[inline(always)]
    fn draw(&self, grid: &mut Grid<'_>) {
        grid.sprite(0, 0, 9, self.paddle as i32);
        grid.sprite(1, 1, self.ball_y as i32, self.ball_x as i32);
        grid.sprite(2, 2, self.trail_y as i32, self.trail_x as i32);
        draw_bits(grid, 3, self.bricks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Env;
    use crate::minatar::MinAtar;

    #[test]
    fn passes_check_env_with_defaults_and_plain_options() {
        for r in crate::minatar::check_game("Breakout-v0", 4, 3) {
            assert!(r.terminated > 0, "{r:?}");
        }
    }

    /// A game with the ball placed by hand, and a dummy generator (breakout only draws at reset).
    fn game(x: i8, y: i8, dx: i8, dy: i8, paddle: i8) -> (Breakout, Rng) {
        let mut g = Breakout::new(true);
        (g.ball_x, g.ball_y, g.dx, g.dy, g.paddle) = (x, y, dx, dy, paddle);
        (g, Rng::new(0))
    }

    fn ball(g: &Breakout) -> (i8, i8, i8, i8) {
        (g.ball_x, g.ball_y, g.dx, g.dy)
    }

    #[test]
    fn reset_starts_in_a_top_corner_heading_inward_and_both_occur() {
        let mut seen = [0; 2];
        let mut rng = Rng::new(5);
        let mut g = Breakout::new(true);
        for _ in 0..400 {
            g.reset(&mut rng);
            assert_eq!(g.ball_y, 3);
            assert_eq!(g.dy, 1);
            assert_eq!((g.trail_x, g.trail_y), (g.ball_x, g.ball_y));
            assert_eq!((g.paddle, g.bricks_left(), g.in_brick), (4, 30, false));
            match g.ball_x {
                0 => assert_eq!(g.dx, 1),
                9 => assert_eq!(g.dx, -1),
                x => panic!("ball starts in column {x}"),
            }
            seen[(g.ball_x == 9) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 150), "{seen:?}");
    }

    #[test]
    fn hitting_a_brick_scores_removes_it_and_turns_the_ball_on_its_row() {
        let (mut g, mut r) = game(5, 4, -1, -1, 0);
        assert_eq!(g.act(Action::Noop, &mut r), (1.0, false));
        assert_eq!(g.bricks & bit(3, 4), 0);
        assert_eq!(g.bricks_left(), 29);
        assert_eq!(ball(&g), (4, 4, -1, 1));
        assert!(g.in_brick);
        assert_eq!((g.trail_x, g.trail_y), (5, 4));
        // The next frame leaves the wall: no reward, the strike flag clears.
        assert_eq!(g.act(Action::Noop, &mut r), (0.0, false));
        assert_eq!(ball(&g), (3, 5, -1, 1));
        assert!(!g.in_brick);
    }

    #[test]
    fn a_ball_still_in_a_brick_passes_into_the_next_one_without_scoring() {
        // MinAtar's quirk: right after a hit, a brick in the ball's way is entered, not broken.
        let (mut g, mut r) = game(4, 4, -1, -1, 0);
        g.in_brick = true;
        assert_eq!(g.act(Action::Noop, &mut r), (0.0, false));
        assert_eq!(ball(&g), (3, 3, -1, -1));
        assert_eq!(g.bricks_left(), 30);
        assert!(g.in_brick);
        assert_eq!(g.act(Action::Noop, &mut r), (0.0, false));
        assert_eq!(ball(&g), (2, 2, -1, -1));
        // Through the top row of the wall (still no score) and out into row 0.
        assert_eq!(g.act(Action::Noop, &mut r), (0.0, false));
        assert_eq!(ball(&g), (1, 1, -1, -1));
        assert_eq!(g.act(Action::Noop, &mut r), (0.0, false));
        assert_eq!(ball(&g), (0, 0, -1, -1));
        assert!(!g.in_brick);
        // Now in the top-left corner: both walls turn it, and it comes down into the wall.
        assert_eq!(g.act(Action::Noop, &mut r), (0.0, false));
        assert_eq!(ball(&g), (0, 0, 1, 1));
        assert_eq!(g.act(Action::Noop, &mut r), (1.0, false));
        assert_eq!(ball(&g), (1, 0, 1, -1));
        assert_eq!(g.bricks & bit(1, 1), 0);
        assert_eq!(g.bricks_left(), 29);
    }

    #[test]
    fn side_walls_and_ceiling_mirror_the_ball() {
        let (mut g, mut r) = game(0, 6, -1, -1, 0);
        g.act(Action::Noop, &mut r);
        assert_eq!(ball(&g), (0, 5, 1, -1), "left wall");
        let (mut g, mut r) = game(9, 6, 1, 1, 0);
        g.act(Action::Noop, &mut r);
        assert_eq!(ball(&g), (9, 7, -1, 1), "right wall");
        let (mut g, mut r) = game(5, 0, 1, -1, 0);
        g.act(Action::Noop, &mut r);
        assert_eq!(ball(&g), (6, 0, 1, 1), "ceiling");
    }

    #[test]
    fn the_paddle_returns_the_ball_or_the_episode_ends() {
        // Paddle under the ball's column (after moving there): straight back up, one column on.
        let (mut g, mut r) = game(3, 8, 1, 1, 2);
        assert_eq!(g.act(Action::Right, &mut r), (0.0, false));
        assert_eq!(g.paddle, 3);
        assert_eq!(ball(&g), (4, 8, 1, -1));
        // Paddle where the ball would land: it goes back the way it came.
        let (mut g, mut r) = game(3, 8, 1, 1, 4);
        assert_eq!(g.act(Action::Noop, &mut r), (0.0, false));
        assert_eq!(ball(&g), (4, 8, -1, -1));
        // Missed: the ball falls onto the bottom row and the game is over.
        let (mut g, mut r) = game(3, 8, 1, 1, 4);
        assert_eq!(g.act(Action::Right, &mut r), (0.0, true));
        assert_eq!(ball(&g), (4, 9, 1, 1));
        // The paddle cannot leave the grid.
        let (mut g, mut r) = game(5, 5, 1, 1, 0);
        g.act(Action::Left, &mut r);
        assert_eq!(g.paddle, 0);
        g.paddle = 9;
        g.act(Action::Right, &mut r);
        assert_eq!(g.paddle, 9);
    }

    #[test]
    fn the_wall_comes_back_only_when_cleared_and_the_ball_reaches_the_bottom() {
        let (mut g, mut r) = game(3, 7, 1, 1, 5);
        g.bricks = 0;
        g.act(Action::Noop, &mut r);
        assert_eq!(g.bricks, 0, "not yet at the bottom");
        g.act(Action::Noop, &mut r);
        assert_eq!(g.bricks, WALL);
        assert_eq!(ball(&g), (5, 8, -1, -1));
        // One brick left: no refill.
        let (mut g, mut r) = game(3, 8, 1, 1, 3);
        g.bricks = bit(2, 0);
        g.act(Action::Noop, &mut r);
        assert_eq!(g.bricks, bit(2, 0));
    }

    #[test]
    fn observation_channels_are_paddle_ball_trail_brick() {
        let mut e = MinAtar::<Breakout>::new("Breakout-v0", 0.0, true, false);
        e.reset(Some(1));
        let (x0, y0) = (e.game().ball_x, e.game().ball_y);
        let obs = e.step(3).unwrap().obs.to_vec();
        let g = e.game();
        let at = |c: usize, y: i8, x: i8| obs[(c * 10 + y as usize) * 10 + x as usize];
        assert_eq!(at(0, 9, 5), 1.0);
        assert_eq!(at(1, g.ball_y, g.ball_x), 1.0);
        assert_eq!(at(2, y0, x0), 1.0);
        assert_eq!((g.ball_y, (g.ball_x - x0).abs()), (4, 1));
        for c in 0..3 {
            assert_eq!(obs[c * 100..(c + 1) * 100].iter().sum::<f32>(), 1.0);
        }
        let bricks = &obs[300..];
        assert_eq!(bricks.iter().sum::<f32>(), 30.0);
        assert!(bricks[10..40].iter().all(|&v| v == 1.0));
    }

    #[test]
    #[ignore = "timing: run in release, prints steps/s"]
    fn speed_single_thread() {
        super::test_support::random_steps_per_sec("Breakout-v0", 20_000_000);
    }

    #[test]
    #[ignore = "needs EMBER_PYTHON with minatar"]
    fn minatar_trace_frame_by_frame() {
        for ramping in [true, false] {
            let (eps, frames, ret) = super::test_support::replay::<Breakout>(
                "breakout",
                300,
                11 + ramping as u64,
                ramping,
                |g, moment, obs| {
                    if moment == super::test_support::Moment::Start {
                        // MinAtar's coin: the ball starts in column 0 or 9 of row 3.
                        g.ball_x = if obs[100 + 30] == 1.0 { 0 } else { 9 };
                        g.dx = if g.ball_x == 0 { 1 } else { -1 };
                        g.trail_x = g.ball_x;
                    }
                },
            );
            eprintln!(
                "breakout (ramping {ramping}): {eps} episodes, {frames} frames, {ret} reward: identical to MinAtar"
            );
        }
    }
}

/// Test helpers shared by the games of this module: a random-policy speed probe, and a
/// frame-by-frame comparison with MinAtar itself. MinAtar plays episodes with a scripted, partly
/// random policy and no sticky actions, and prints every observation; the Rust game, inside the
/// real shell, replays the same actions and must produce the same rewards, terminals and
/// observations on every frame. The games' own randomness (Breakout's start, Freeway's car
/// speeds) is copied from MinAtar's observations through `sync`, so this checks every rule
/// exactly, not only statistically. Needs `EMBER_PYTHON` pointing at a Python with `minatar`; the
/// tests using it are `#[ignore]`d:
/// `EMBER_PYTHON=/root/venv/bin/python cargo test -p ember-envs minatar_trace -- --ignored`.
#[cfg(test)]
pub(super) mod test_support {
    use super::super::{Action, MinAtar, N, Rules};
    use crate::Env;
    use crate::rng::Rng;

    /// Single-thread `env.step` rate of `id` (defaults, through the registry's `Box<dyn Env>`,
    /// observation redrawn every step) under uniform random actions, in steps per second of
    /// wall time; meaningful in a release build on a quiet machine only.
    pub fn random_steps_per_sec(id: &str, steps: usize) -> f64 {
        let mut env = crate::make(id, &[] as &[(&str, &str)]).unwrap();
        let mut policy = Rng::new(1);
        env.reset(Some(0));
        let start = std::time::Instant::now();
        let mut sink = 0.0f32;
        for _ in 0..steps {
            let s = env.step(policy.below(6)).unwrap();
            sink += s.reward + s.obs[s.obs.len() - 1];
            if s.terminated || s.truncated {
                env.reset(None);
            }
        }
        std::hint::black_box(sink);
        let rate = steps as f64 / start.elapsed().as_secs_f64();
        eprintln!(
            "{id}: {:.1} M steps/s single thread (random actions, obs redrawn)",
            rate / 1e6
        );
        rate
    }

    /// When `sync` is called: after `reset`, and after a frame that scored.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Moment {
        Start,
        Scored,
    }

    /// Plays MinAtar's game `name` for `episodes` episodes; writes one line per episode start
    /// (`E obs`) and per frame (`S action reward terminal obs`), observations channel-major.
    const SCRIPT: &str = r#"
import sys
import numpy as np
from importlib import import_module
game, episodes, seed, ramping = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
env = import_module("minatar.environments." + game).Env(ramping=ramping)
env.random = np.random.RandomState(seed)
pol = np.random.RandomState(seed + 7)
def obs():
    s = np.transpose(env.state(), (2, 0, 1)).reshape(-1)
    return "".join("1" if v else "0" for v in s)
def landing_column():
    # Where a falling ball reaches row 8, walls folded in (bricks ignored).
    x, y, d = env.ball_x, env.ball_y, env.ball_dir
    dx = 1 if d in (1, 2) else -1
    if d in (0, 1):
        y = -y
    while y < 8:
        x, y = x + dx, y + 1
        if x < 0 or x > 9:
            x, dx = min(max(x, 0), 9), -dx
    return x
def policy():
    u = pol.rand()
    if game == "breakout" and u < 0.9:
        x = landing_column()
        return 1 if x < env.pos else 3 if x > env.pos else 0
    if game == "space_invaders":
        p = env.pos
        danger = lambda x: 0 <= x <= 9 and (env.e_bullet_map[7:9, x].any() or env.alien_map[8:10, x].any())
        if danger(p) and u < 0.9:
            return 1 if p > 0 and not danger(p - 1) else 3
        if u < 0.5:
            return 5
    if game == "freeway" and u < 0.6:
        return 2
    return pol.randint(6)
lines = []
for _ in range(episodes):
    env.reset()
    lines.append("E " + obs())
    t = False
    while not t:
        a = policy()
        r, t = env.act(a)
        lines.append(f"S {a} {int(r)} {int(t)} {obs()}")
print("\n".join(lines))
"#;

    fn text(obs: &[f32], channels: &[&str]) -> String {
        crate::render::planes_text(
            obs,
            channels.len(),
            N,
            N,
            &crate::render::channel_symbols(channels),
        )
    }

    /// Replays MinAtar's trajectories of `name` on `G`; returns `(episodes, frames, reward)`.
    pub fn replay<G: Rules>(
        name: &str,
        episodes: usize,
        seed: u64,
        ramping: bool,
        mut sync: impl FnMut(&mut G, Moment, &[f32]),
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
        // The game runs inside the real shell, whose own redraw makes the observations compared.
        let mut shell = MinAtar::<G>::new(name, 0.0, ramping, false);
        let mut rng = Rng::new(seed);
        let (mut eps, mut frames, mut total) = (0, 0, 0.0);
        let mut history: Vec<String> = Vec::new();
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let mut f = line.split(' ');
            let kind = f.next().unwrap();
            let fields: Vec<&str> = f.collect();
            let theirs: Vec<f32> = fields
                .last()
                .unwrap()
                .bytes()
                .map(|b| (b - b'0') as f32)
                .collect();
            assert_eq!(theirs.len(), G::CHANNELS.len() * N * N);
            let (mut expect, mut got) = ((0, false), (0, false));
            if kind == "E" {
                eps += 1;
                history.clear();
                shell.game.reset(&mut rng);
                sync(&mut shell.game, Moment::Start, &theirs);
            } else {
                let a: usize = fields[0].parse().unwrap();
                expect = (fields[1].parse::<i32>().unwrap(), fields[2] == "1");
                let (r, t) = shell.game.act(Action::ALL[a], &mut rng);
                got = (r as i32, t);
                if r > 0.0 {
                    sync(&mut shell.game, Moment::Scored, &theirs);
                }
                frames += 1;
                total += r as f64;
                history.push(format!("action {a}"));
            }
            shell.redraw();
            let ours = shell.obs();
            if got != expect || ours != theirs {
                panic!(
                    "{name}: episode {eps}, frame {}: (reward, terminal) ours {got:?} MinAtar {expect:?}\n\
                     last actions {:?}\nours:\n{}MinAtar:\n{}",
                    history.len(),
                    &history[history.len().saturating_sub(5)..],
                    text(ours, G::CHANNELS),
                    text(&theirs, G::CHANNELS)
                );
            }
        }
        assert_eq!(eps, episodes);
        (eps, frames, total)
    }
}
