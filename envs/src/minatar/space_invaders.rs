//! SpaceInvaders-v0: a cannon on the bottom row shoots a descending block of aliens that shoot
//! back. Behaves like MinAtar 1.0.15's `space_invaders`.
//!
//! Rules, as observed in MinAtar (one `act` = one frame, in this order):
//! 1. `fire` when the gun is cool puts a shot on the cannon's cell and heats the gun for 5 frames
//!    (a hot gun ignores `fire`); `left` / `right` move the cannon along row 9, clamped.
//! 2. Shots rise one row (those on row 0 leave), bombs fall one row (those on row 9 leave). A
//!    bomb or an alien now on the cannon's cell ends the episode.
//! 3. When the march timer is due, the aliens step: sideways in their direction, or, if one of
//!    them already touches the wall they are heading for, down one row with the direction
//!    reversed (descending from row 9 ends the episode, and the block wraps to row 0 as MinAtar's
//!    roll does). The timer restarts at `min(aliens left, march interval)`, so a thinning block
//!    marches faster. An alien landing on the cannon ends the episode.
//! 4. Every 10 frames the alien nearest the cannon fires: the lowest alien of the occupied column
//!    closest to the cannon's column (the left one on a tie) drops a bomb on its own cell.
//! 5. Every alien sharing a cell with a shot dies, with the shot, for 1 point each.
//! 6. Timers tick. A cleared wave is replaced by a fresh 4x6 block (rows 0-3, columns 2-7); with
//!    difficulty ramping each new wave marches one frame faster, down to an interval of 6.
//!
//! A frame that ends the episode is still played to its end (its kills score), as in MinAtar.
//! The episode's randomness comes only from the sticky-action shell: the game itself is
//! deterministic. Aliens, shots and bombs are `u128` bitboards (bit `10*y + x`): moving a layer is
//! one shift, collisions are one `&`, the score is a popcount.

use super::breakout::draw_bits;
use super::{Action, Grid, N, Rules};
use crate::rng::Rng;

/// Frames the gun stays hot after a shot.
const GUN_COOLDOWN: u8 = 5;
/// March interval at the start of an episode.
const MARCH_INTERVAL: u8 = 12;
/// Fastest march interval difficulty ramping reaches.
const MIN_MARCH_INTERVAL: u8 = 6;
/// Frames between two alien bombs.
const BOMB_INTERVAL: u8 = 10;

/// All 100 cells.
const ALL: u128 = (1u128 << 100) - 1;
/// One row's worth of bits.
const ROW: u128 = (1 << N) - 1;
/// Column 0 of every row.
const COL0: u128 = {
    let mut m = 0u128;
    let mut y = 0;
    while y < N {
        m |= 1 << (y * N);
        y += 1;
    }
    m
};
const COL9: u128 = COL0 << 9;
const ROW9: u128 = ROW << 90;
/// A new wave: rows 0-3, columns 2-7.
const WAVE: u128 = {
    let row = 0b11_1111u128 << 2;
    row | row << 10 | row << 20 | row << 30
};

/// Bit of cell `(9, x)`, the cannon's row.
#[inline]
fn bottom(x: i8) -> u128 {
    1u128 << (90 + x as u32)
}

/// Space Invaders' rules and state.
#[derive(Debug, Clone)]
pub struct SpaceInvaders {
    ramping: bool,
    /// Cannon column (row 9).
    cannon: i8,
    aliens: u128,
    /// The player's shots, rising.
    shots: u128,
    /// The aliens' bombs, falling.
    bombs: u128,
    /// Aliens' horizontal direction, `-1` or `+1`.
    dir: i8,
    /// Frames between alien steps for the current wave (before the `min` with the count).
    march_interval: u8,
    /// Frames until the aliens step.
    march_timer: u8,
    /// Frames until the next bomb.
    bomb_timer: u8,
    /// Frames until the gun can fire.
    gun_timer: u8,
    /// Waves that sped the aliens up (MinAtar's difficulty ramp).
    level: u32,
}

impl SpaceInvaders {
    /// MinAtar's difficulty ramp: how many waves have sped the aliens up so far.
    pub fn difficulty_level(&self) -> u32 {
        self.level
    }

    /// Aliens left in the current wave.
    pub fn aliens_left(&self) -> u32 {
        self.aliens.count_ones()
    }

    /// The bit of the alien that fires: lowest in the occupied column nearest the cannon.
    fn shooter(&self) -> u128 {
        // Fold the rows into one 10-bit column-occupancy mask.
        let mut occupied = 0u128;
        let mut a = self.aliens;
        while a != 0 {
            occupied |= a & ROW;
            a >>= N;
        }
        let c = self.cannon as i32;
        for d in 0..N as i32 {
            for x in [c - d, c + d] {
                if (0..N as i32).contains(&x) && occupied >> x & 1 != 0 {
                    let column = self.aliens & (COL0 << x);
                    return 1u128 << (127 - column.leading_zeros());
                }
            }
        }
        0
    }
}

impl Rules for SpaceInvaders {
    const CHANNELS: &'static [&'static str] = &[
        "cannon",
        "alien",
        "alien_left",
        "alien_right",
        "friendly_bullet",
        "enemy_bullet",
    ];
    const MINIMAL_ACTIONS: &'static [Action] =
        &[Action::Noop, Action::Left, Action::Right, Action::Fire];
    /// The cannon.
    const SPRITES: usize = 1;

    fn new(ramping: bool) -> Self {
        SpaceInvaders {
            ramping,
            cannon: 5,
            aliens: WAVE,
            shots: 0,
            bombs: 0,
            dir: -1,
            march_interval: MARCH_INTERVAL,
            march_timer: MARCH_INTERVAL,
            bomb_timer: BOMB_INTERVAL,
            gun_timer: 0,
            level: 0,
        }
    }

    fn reset(&mut self, _rng: &mut Rng) {
        *self = SpaceInvaders::new(self.ramping);
    }

    #[inline(always)]
    fn act(&mut self, action: Action, _rng: &mut Rng) -> (f32, bool) {
        match action {
            Action::Fire if self.gun_timer == 0 => {
                self.shots |= bottom(self.cannon);
                self.gun_timer = GUN_COOLDOWN;
            }
            Action::Left => self.cannon = (self.cannon - 1).max(0),
            Action::Right => self.cannon = (self.cannon + 1).min(9),
            _ => {}
        }
        self.shots >>= N;
        self.bombs = (self.bombs << N) & ALL;
        let me = bottom(self.cannon);
        let mut dead = (self.bombs | self.aliens) & me != 0;

        if self.march_timer == 0 {
            self.march_timer = (self.aliens.count_ones() as u8).min(self.march_interval);
            let at_wall = self.aliens & if self.dir < 0 { COL0 } else { COL9 } != 0;
            if at_wall {
                self.dir = -self.dir;
                dead |= self.aliens & ROW9 != 0;
                self.aliens = ((self.aliens << N) | (self.aliens >> 90)) & ALL;
            } else if self.dir < 0 {
                self.aliens >>= 1;
            } else {
                self.aliens <<= 1;
            }
            dead |= self.aliens & me != 0;
        }
        if self.bomb_timer == 0 {
            self.bomb_timer = BOMB_INTERVAL;
            self.bombs |= self.shooter();
        }

        let hits = self.aliens & self.shots;
        self.aliens &= !hits;
        self.shots &= !hits;

        self.gun_timer = self.gun_timer.saturating_sub(1);
        self.march_timer -= 1;
        self.bomb_timer -= 1;
        if self.aliens == 0 {
            if self.ramping && self.march_interval > MIN_MARCH_INTERVAL {
                self.march_interval -= 1;
                self.level += 1;
            }
            self.aliens = WAVE;
        }
        (hits.count_ones() as f32, dead)
    }

    #[inline(always)]
    fn draw(&self, grid: &mut Grid<'_>) {
        grid.sprite(0, 0, 9, self.cannon as i32);
        draw_bits(grid, 1, self.aliens);
        // Every channel drawn whole is drawn in every frame: the other direction's is empty.
        let (left, right) = if self.dir < 0 {
            (self.aliens, 0)
        } else {
            (0, self.aliens)
        };
        draw_bits(grid, 2, left);
        draw_bits(grid, 3, right);
        draw_bits(grid, 4, self.shots);
        draw_bits(grid, 5, self.bombs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Env;
    use crate::minatar::MinAtar;

    fn cell(y: i8, x: i8) -> u128 {
        1u128 << (y as u32 * 10 + x as u32)
    }

    #[test]
    fn passes_check_env_with_defaults_and_plain_options() {
        for r in crate::minatar::check_game("SpaceInvaders-v0", 6, 4) {
            assert!(r.terminated > 0, "{r:?}");
        }
    }

    #[test]
    fn masks_are_what_they_say() {
        assert_eq!(WAVE.count_ones(), 24);
        assert_eq!(COL0.count_ones(), 10);
        for y in 0..10 {
            assert_ne!(COL0 & cell(y, 0), 0);
            assert_ne!(COL9 & cell(y, 9), 0);
            assert_ne!(ROW9 & cell(9, y), 0);
        }
        for y in 0..4 {
            for x in 2..8 {
                assert_ne!(WAVE & cell(y, x), 0);
            }
        }
    }

    /// A game with no aliens in the way (one far up-left), timers out of reach.
    fn quiet() -> (SpaceInvaders, Rng) {
        let mut g = SpaceInvaders::new(true);
        g.aliens = cell(0, 0);
        g.march_timer = 200;
        g.bomb_timer = 200;
        (g, Rng::new(0))
    }

    #[test]
    fn shots_rise_from_the_cannon_and_the_gun_cools_for_five_frames() {
        let (mut g, mut r) = quiet();
        g.act(Action::Fire, &mut r);
        assert_eq!(g.shots, cell(8, 5));
        // Holding fire: the next shot leaves exactly five frames after the first.
        for t in 1..5 {
            g.act(Action::Fire, &mut r);
            assert_eq!(g.shots, cell(8 - t, 5), "frame {t}");
        }
        g.act(Action::Fire, &mut r);
        assert_eq!(g.shots, cell(3, 5) | cell(8, 5));
        // Fire while hot does not move the cannon either; a shot leaves from row 0.
        g.act(Action::Fire, &mut r);
        assert_eq!(g.cannon, 5);
        for _ in 0..3 {
            g.act(Action::Noop, &mut r);
        }
        assert_eq!(g.shots, cell(4, 5));
        for _ in 0..5 {
            g.act(Action::Noop, &mut r);
        }
        assert_eq!(g.shots, 0);
    }

    #[test]
    fn a_shot_meeting_an_alien_scores_and_both_vanish() {
        let (mut g, mut r) = quiet();
        g.aliens = cell(3, 5) | cell(3, 6) | cell(0, 0);
        g.shots = cell(4, 5) | cell(4, 6) | cell(7, 1);
        assert_eq!(g.act(Action::Noop, &mut r), (2.0, false));
        assert_eq!(g.aliens, cell(0, 0));
        assert_eq!(g.shots, cell(6, 1));
    }

    #[test]
    fn bombs_fall_and_kill_only_on_the_cannons_cell() {
        // A bomb landing where the cannon moves to.
        let (mut g, mut r) = quiet();
        g.bombs = cell(8, 6);
        assert_eq!(g.act(Action::Right, &mut r), (0.0, true));
        // A bomb already on the bottom row leaves before the cannon steps under it.
        let (mut g, mut r) = quiet();
        g.bombs = cell(9, 6);
        assert_eq!(g.act(Action::Right, &mut r), (0.0, false));
        assert_eq!(g.bombs, 0);
        // Dodging.
        let (mut g, mut r) = quiet();
        g.bombs = cell(8, 5);
        assert_eq!(g.act(Action::Left, &mut r), (0.0, false));
        assert_eq!(g.bombs, cell(9, 5));
    }

    #[test]
    fn the_nearest_column_fires_from_its_lowest_alien_left_first_on_ties() {
        let (mut g, mut r) = quiet();
        g.aliens = cell(2, 3) | cell(0, 3) | cell(5, 7) | cell(1, 9);
        g.bomb_timer = 0;
        g.act(Action::Noop, &mut r);
        assert_eq!(g.bombs, cell(2, 3), "columns 3 and 7 tie at distance 2");
        assert_eq!(g.bomb_timer, BOMB_INTERVAL - 1);
        g.cannon = 6;
        g.bomb_timer = 0;
        g.act(Action::Noop, &mut r);
        assert_eq!(g.bombs, cell(3, 3) | cell(5, 7));
        // Every BOMB_INTERVAL frames: both bombs fall out before the next one comes.
        for _ in 0..9 {
            g.act(Action::Noop, &mut r);
        }
        assert_eq!(g.bombs, 0);
        g.act(Action::Noop, &mut r);
        assert_eq!(g.bombs, cell(5, 7), "fired again on the tenth frame");
    }

    #[test]
    fn the_block_marches_then_descends_and_reverses_at_the_wall() {
        let mut g = SpaceInvaders::new(true);
        let mut r = Rng::new(0);
        g.cannon = 9; // out of the bombs' way
        for _ in 0..12 {
            g.act(Action::Noop, &mut r);
            assert_eq!(g.aliens, WAVE);
        }
        g.act(Action::Noop, &mut r);
        assert_eq!(g.aliens, WAVE >> 1, "first step on frame 13");
        assert_eq!(g.march_timer, 11);
        for _ in 0..12 {
            g.act(Action::Noop, &mut r);
        }
        assert_eq!(g.aliens, WAVE >> 2);
        assert_eq!(g.dir, -1);
        // At column 0 now: the next step goes down and turns right.
        for _ in 0..12 {
            g.act(Action::Noop, &mut r);
        }
        assert_eq!(g.aliens, WAVE >> 2 << 10);
        assert_eq!(g.dir, 1);
        for _ in 0..12 {
            g.act(Action::Noop, &mut r);
        }
        assert_eq!(g.aliens, WAVE >> 2 << 11);
    }

    #[test]
    fn few_aliens_march_every_frame() {
        let (mut g, mut r) = quiet();
        g.aliens = cell(2, 5);
        g.march_timer = 0;
        for x in (1..5).rev() {
            g.act(Action::Noop, &mut r);
            assert_eq!(g.aliens, cell(2, x));
            assert_eq!(g.march_timer, 0);
        }
        g.aliens = cell(2, 5) | cell(2, 6) | cell(2, 7);
        g.act(Action::Noop, &mut r);
        assert_eq!(g.march_timer, 2, "min(3 aliens, interval) - 1");
    }

    #[test]
    fn aliens_reaching_the_cannon_or_descending_from_the_bottom_end_the_episode() {
        // An alien stepping onto the cannon.
        let (mut g, mut r) = quiet();
        g.aliens = cell(9, 6);
        g.march_timer = 0;
        assert_eq!(g.act(Action::Noop, &mut r), (0.0, true));
        // The cannon moving under an alien on the bottom row.
        let (mut g, mut r) = quiet();
        g.aliens = cell(9, 4) | cell(0, 0);
        assert_eq!(g.act(Action::Left, &mut r), (0.0, true));
        // Descending off the bottom row, far from the cannon; the block wraps to row 0.
        let (mut g, mut r) = quiet();
        g.aliens = cell(9, 9);
        g.dir = 1;
        g.march_timer = 0;
        assert_eq!(g.act(Action::Noop, &mut r), (0.0, true));
        assert_eq!((g.aliens, g.dir), (cell(0, 9), -1));
        // The bottom row next to the cannon is safe.
        let (mut g, mut r) = quiet();
        g.aliens = cell(9, 8);
        assert_eq!(g.act(Action::Noop, &mut r), (0.0, false));
    }

    #[test]
    fn cleared_waves_return_and_ramping_speeds_them_up_to_a_floor() {
        for ramping in [true, false] {
            let mut g = SpaceInvaders::new(ramping);
            let mut r = Rng::new(0);
            g.march_timer = 200;
            g.bomb_timer = 200;
            for wave in 1..=8u32 {
                g.aliens = cell(3, 5);
                g.shots = cell(4, 5);
                assert_eq!(g.act(Action::Noop, &mut r), (1.0, false));
                assert_eq!(g.aliens, WAVE);
                let expect = if ramping { wave.min(6) } else { 0 };
                assert_eq!(g.difficulty_level(), expect);
                assert_eq!(u32::from(g.march_interval), 12 - expect);
            }
        }
    }

    #[test]
    fn observation_channels_follow_minatar() {
        let mut e = MinAtar::<SpaceInvaders>::new("SpaceInvaders-v0", 0.0, true, false);
        let obs = e.reset(Some(0)).to_vec();
        let plane = |o: &[f32], c: usize| o[c * 100..(c + 1) * 100].to_vec();
        let sum = |v: Vec<f32>| v.iter().sum::<f32>();
        assert_eq!(plane(&obs, 0)[95], 1.0);
        assert_eq!(sum(plane(&obs, 0)), 1.0);
        assert_eq!(plane(&obs, 1), plane(&obs, 2), "marching left");
        assert_eq!(sum(plane(&obs, 1)), 24.0);
        assert_eq!(sum(plane(&obs, 3)), 0.0);
        let obs = e.step(5).unwrap().obs.to_vec();
        assert_eq!(plane(&obs, 4)[85], 1.0);
        assert_eq!(sum(plane(&obs, 5)), 0.0);
        // Run to the first turn (sheltering in column 9, which the left-marching block never
        // bombs): the right-marching channel takes over.
        let mut obs = obs;
        while e.game().dir < 0 {
            obs = e.step(3).unwrap().obs.to_vec();
        }
        assert_eq!(plane(&obs, 1), plane(&obs, 3));
        assert_eq!(sum(plane(&obs, 2)), 0.0);
        assert!(sum(plane(&obs, 5)) > 0.0, "bombs by now");
    }

    #[test]
    #[ignore = "timing: run in release, prints steps/s"]
    fn speed_single_thread() {
        super::super::breakout::test_support::random_steps_per_sec("SpaceInvaders-v0", 20_000_000);
    }

    #[test]
    #[ignore = "needs EMBER_PYTHON with minatar"]
    fn minatar_trace_frame_by_frame() {
        // The game has no randomness of its own: nothing to copy from MinAtar.
        for ramping in [true, false] {
            let (eps, frames, ret) = super::super::breakout::test_support::replay::<SpaceInvaders>(
                "space_invaders",
                200,
                21 + ramping as u64,
                ramping,
                |_, _, _| {},
            );
            eprintln!(
                "space_invaders (ramping {ramping}): {eps} episodes, {frames} frames, {ret} reward: identical to MinAtar"
            );
        }
    }
}
