//! Freeway-v0: a chicken crosses eight lanes of traffic, as often as it can in 2500 frames.
//! Behaves like MinAtar 1.0.15's `freeway`.
//!
//! The chicken lives in column 4; row 9 is the kerb it starts from, row 0 the far side, rows 1-8
//! one lane each with one car that wraps around the road. Rules, as observed in MinAtar (one
//! `act` = one frame, in this order):
//! 1. `up` / `down` move the chicken one row (clamped) when its legs have rested: a move makes it
//!    wait 3 frames (it can move on every third frame; at the start it must wait 3 too).
//! 2. Reaching row 0 scores 1: the chicken goes back to row 9 and every car gets a new random
//!    speed and direction (positions stay).
//! 3. Cars: a car whose timer is out moves one cell along its lane (wrapping) and restarts the
//!    timer at its speed; otherwise its timer counts down. A car on the chicken's cell before or
//!    after its move sends the chicken back to row 9. A car of speed `s` thus moves once every
//!    `s + 1` frames (speed 1 is the fastest).
//! 4. After frame 2501 the episode ends (MinAtar's 2500-frame limit, counted its way).
//!
//! Speeds are uniform in 1..=5 and directions fair coins; at the start all cars are in column 0
//! with their timer full. There is no difficulty ramping (the option has no effect, as in
//! MinAtar). Each car is drawn as itself (channel `car`) and a trail cell just behind it in
//! channel `speed<s>`, telling the agent its speed and direction.

use super::{Action, Grid, Rules};
use crate::rng::Rng;

/// Frames the chicken waits after each move.
const MOVE_COOLDOWN: u8 = 3;
/// MinAtar's time limit: the episode ends on the frame after this many.
const TIME_LIMIT: u16 = 2500;
/// The chicken's column.
const ROAD_X: i8 = 4;
const LANES: usize = 8;

#[derive(Debug, Clone, Copy, Default)]
struct Car {
    /// Column, 0..=9.
    x: i8,
    /// Frames until the car moves.
    timer: u8,
    /// Frames between moves minus one, 1..=5.
    speed: u8,
    /// Direction of travel, `-1` or `+1`.
    dir: i8,
}

impl Car {
    fn randomize(&mut self, rng: &mut Rng) {
        self.speed = rng.below(5) as u8 + 1;
        self.dir = if rng.chance(0.5) { -1 } else { 1 };
        self.timer = self.speed;
    }

    /// One frame: move if the timer is out (and restart it), else count down. Branch-free, as the
    /// timer runs out at an unpredictable one frame in `speed + 1`.
    #[inline]
    fn tick(&mut self) {
        let due = self.timer == 0;
        self.timer = if due { self.speed } else { self.timer - 1 };
        self.x = wrap(self.x + if due { self.dir } else { 0 });
    }
}

/// Wraps a column in -1..=10 onto the road.
#[inline]
fn wrap(x: i8) -> i8 {
    x + 10 * ((x < 0) as i8 - (x > 9) as i8)
}

/// Freeway's rules and state.
#[derive(Debug, Clone)]
pub struct Freeway {
    /// Chicken row (column 4).
    chicken: i8,
    /// Frames until the chicken may move.
    move_timer: u8,
    /// Frames played this episode.
    frames: u16,
    /// The car of lane `i` drives on row `i + 1`.
    cars: [Car; LANES],
}

impl Rules for Freeway {
    const CHANNELS: &'static [&'static str] = &[
        "chicken", "car", "speed1", "speed2", "speed3", "speed4", "speed5",
    ];
    const MINIMAL_ACTIONS: &'static [Action] = &[Action::Noop, Action::Up, Action::Down];
    /// The chicken, and each lane's car and trail.
    const SPRITES: usize = 1 + 2 * LANES;

    fn new(_ramping: bool) -> Self {
        Freeway {
            chicken: 9,
            move_timer: MOVE_COOLDOWN,
            frames: 0,
            cars: [Car::default(); LANES],
        }
    }

    fn reset(&mut self, rng: &mut Rng) {
        *self = Freeway::new(false);
        for car in &mut self.cars {
            car.randomize(rng);
        }
    }

    #[inline(always)]
    fn act(&mut self, action: Action, rng: &mut Rng) -> (f32, bool) {
        if self.move_timer == 0 {
            let step = match action {
                Action::Up => -1,
                Action::Down => 1,
                _ => 0,
            };
            if step != 0 {
                self.move_timer = MOVE_COOLDOWN;
                self.chicken = (self.chicken + step).clamp(0, 9);
            }
        }
        let mut reward = 0.0;
        if self.chicken == 0 {
            reward = 1.0;
            self.chicken = 9;
            for car in &mut self.cars {
                car.randomize(rng);
            }
        }
        // Only the car of the chicken's own lane can hit it (the kerbs, rows 0 and 9, have no
        // car), and it does if it is in the chicken's column before or after its move.
        let lane = (self.chicken as usize).wrapping_sub(1);
        let before = self.cars.get(lane).map(|c| c.x);
        for car in &mut self.cars {
            car.tick();
        }
        if let Some(x) = before
            && (x == ROAD_X || self.cars[lane].x == ROAD_X)
        {
            self.chicken = 9;
        }
        self.move_timer = self.move_timer.saturating_sub(1);
        self.frames += 1;
        (reward, self.frames > TIME_LIMIT)
    }

    #[inline(always)]
    fn draw(&self, grid: &mut Grid<'_>) {
        grid.sprite(0, 0, self.chicken as i32, ROAD_X as i32);
        for (lane, car) in self.cars.iter().enumerate() {
            let y = lane as i32 + 1;
            grid.sprite(1 + 2 * lane, 1, y, car.x as i32);
            grid.sprite(
                2 + 2 * lane,
                1 + car.speed as usize,
                y,
                wrap(car.x - car.dir) as i32,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Env;
    use crate::minatar::MinAtar;

    #[test]
    fn passes_check_env_with_defaults_and_plain_options() {
        for r in crate::minatar::check_game("Freeway-v0", 7, 3) {
            assert_eq!(r.terminated, 3, "{r:?}");
            assert_eq!(r.steps, 3 * 2501, "{r:?}");
        }
    }

    /// A fresh game whose cars are parked out of the chicken's column for good.
    fn parked() -> (Freeway, Rng) {
        let mut g = Freeway::new(true);
        for car in &mut g.cars {
            *car = Car {
                x: 0,
                timer: u8::MAX,
                speed: 5,
                dir: 1,
            };
        }
        (g, Rng::new(3))
    }

    #[test]
    fn episodes_last_2501_frames_whatever_happens() {
        let (mut g, mut r) = parked();
        for t in 1..=2501 {
            let (_, done) = g.act(Action::Noop, &mut r);
            assert_eq!(done, t == 2501, "frame {t}");
        }
    }

    #[test]
    fn the_chicken_moves_on_every_third_frame_and_scores_at_the_top() {
        let (mut g, mut r) = parked();
        let mut rows = Vec::new();
        let mut rewards = Vec::new();
        for _ in 0..30 {
            let (rew, _) = g.act(Action::Up, &mut r);
            rows.push(g.chicken);
            rewards.push(rew);
        }
        // Waits 3 frames, then climbs a row every 3rd frame; the 9th climb reaches row 0.
        let expect: Vec<i8> = (1..=30)
            .map(|t: i8| if t < 4 { 9 } else { 9 - (t - 1) / 3 })
            .map(|y| if y <= 0 { 9 } else { y })
            .collect();
        assert_eq!(rows[..27], expect[..27]);
        assert_eq!(rewards.iter().sum::<f32>(), 1.0);
        assert_eq!(rewards[27], 1.0, "scores on frame 28 (the 9th climb)");
        assert_eq!(rows[27], 9);
        // Down from the kerb stays on the kerb but still costs the rest.
        let (mut g, mut r) = parked();
        g.move_timer = 0;
        g.act(Action::Down, &mut r);
        assert_eq!((g.chicken, g.move_timer), (9, 2));
        g.act(Action::Up, &mut r);
        assert_eq!(g.chicken, 9);
    }

    #[test]
    fn scoring_rerolls_speeds_but_keeps_positions() {
        let (mut g, mut r) = parked();
        for (i, car) in g.cars.iter_mut().enumerate() {
            car.x = i as i8;
            if car.x == ROAD_X {
                car.x = 9;
            }
        }
        let xs: Vec<i8> = g.cars.iter().map(|c| c.x).collect();
        g.chicken = 1;
        g.move_timer = 0;
        assert_eq!(g.act(Action::Up, &mut r), (1.0, false));
        assert_eq!(g.chicken, 9);
        // Positions are kept; timers restart full, so no car moves this frame.
        assert_eq!(g.cars.iter().map(|c| c.x).collect::<Vec<_>>(), xs);
        for c in &g.cars {
            assert!((1..=5).contains(&c.speed) && c.dir.abs() == 1, "{c:?}");
            assert_eq!(c.timer, c.speed - 1, "full timer, then one tick");
        }
    }

    #[test]
    fn cars_move_every_speed_plus_one_frames_and_wrap() {
        let (mut g, mut r) = parked();
        g.cars[0] = Car {
            x: 8,
            timer: 2,
            speed: 2,
            dir: 1,
        };
        g.cars[1] = Car {
            x: 1,
            timer: 0,
            speed: 1,
            dir: -1,
        };
        let mut track = Vec::new();
        for _ in 0..7 {
            g.act(Action::Noop, &mut r);
            track.push((g.cars[0].x, g.cars[1].x));
        }
        assert_eq!(
            track,
            [(8, 0), (8, 0), (9, 9), (9, 9), (9, 8), (0, 8), (0, 7)]
        );
    }

    #[test]
    fn a_car_on_or_onto_the_chicken_sends_it_home() {
        // A car driving into the chicken.
        let (mut g, mut r) = parked();
        g.chicken = 3;
        g.cars[2] = Car {
            x: 3,
            timer: 0,
            speed: 4,
            dir: 1,
        };
        g.act(Action::Noop, &mut r);
        assert_eq!((g.chicken, g.cars[2].x), (9, 4));
        // The chicken stepping under a car that stays put this frame.
        let (mut g, mut r) = parked();
        (g.chicken, g.move_timer) = (6, 0);
        g.cars[4].x = ROAD_X;
        g.act(Action::Up, &mut r);
        assert_eq!(g.chicken, 9);
        // A car about to leave the chicken's cell still hits it: the check comes before the move.
        let (mut g, mut r) = parked();
        (g.chicken, g.move_timer) = (6, 0);
        g.cars[4] = Car {
            x: ROAD_X,
            timer: 0,
            speed: 3,
            dir: -1,
        };
        g.act(Action::Up, &mut r);
        assert_eq!((g.chicken, g.cars[4].x), (9, 3));
        // Cars in the other lanes of the chicken's column are harmless.
        let (mut g, mut r) = parked();
        g.chicken = 4;
        g.cars[4].x = ROAD_X;
        g.cars[2].x = ROAD_X;
        g.act(Action::Noop, &mut r);
        assert_eq!(g.chicken, 4);
    }

    #[test]
    fn reset_speeds_are_uniform_and_directions_fair() {
        let mut g = Freeway::new(true);
        let mut r = Rng::new(11);
        let (mut speeds, mut right) = ([0usize; 6], 0usize);
        for _ in 0..1000 {
            g.reset(&mut r);
            assert_eq!((g.chicken, g.move_timer, g.frames), (9, 3, 0));
            for c in &g.cars {
                assert_eq!((c.x, c.timer), (0, c.speed));
                speeds[c.speed as usize] += 1;
                right += (c.dir == 1) as usize;
            }
        }
        assert_eq!(speeds[0], 0);
        assert!(
            speeds[1..].iter().all(|&n| (1450..1750).contains(&n)),
            "{speeds:?}"
        );
        assert!((3800..4200).contains(&right), "{right}");
    }

    #[test]
    fn observation_channels_follow_minatar() {
        let mut e = MinAtar::<Freeway>::new("Freeway-v0", 0.0, true, false);
        e.reset(Some(2));
        let g = e.game().clone();
        let obs = e.obs();
        let at = |c: usize, y: usize, x: i8| obs[(c * 10 + y) * 10 + x as usize];
        assert_eq!(at(0, 9, 4), 1.0);
        assert_eq!(obs[..100].iter().sum::<f32>(), 1.0);
        assert_eq!(obs[100..200].iter().sum::<f32>(), 8.0);
        assert_eq!(
            obs[200..].iter().sum::<f32>(),
            8.0,
            "one trail cell per car"
        );
        for (lane, c) in g.cars.iter().enumerate() {
            assert_eq!(at(1, lane + 1, 0), 1.0);
            let behind = if c.dir > 0 { 9 } else { 1 };
            assert_eq!(at(1 + c.speed as usize, lane + 1, behind), 1.0, "{c:?}");
        }
    }

    #[test]
    #[ignore = "timing: run in release, prints steps/s"]
    fn speed_single_thread() {
        super::super::breakout::test_support::random_steps_per_sec("Freeway-v0", 20_000_000);
    }

    #[test]
    #[ignore = "needs EMBER_PYTHON with minatar"]
    fn minatar_trace_frame_by_frame() {
        use super::super::breakout::test_support::{Moment, replay};
        // Car speeds and directions are MinAtar's random draws: read them off its observation
        // (the trail's channel is the speed, its side the direction) at the start and after
        // each crossing, when they are drawn.
        let sync = |g: &mut Freeway, moment: Moment, obs: &[f32]| {
            for (lane, car) in g.cars.iter_mut().enumerate() {
                let row = |c: usize| &obs[(c * 10 + lane + 1) * 10..][..10];
                let x = row(1).iter().position(|&v| v == 1.0).unwrap() as i8;
                let (speed, back) = (1..=5u8)
                    .find_map(|s| Some((s, row(1 + s as usize).iter().position(|&v| v == 1.0)?)))
                    .unwrap();
                assert_eq!(
                    car.x, x,
                    "positions are never drawn at random after the start"
                );
                car.speed = speed;
                car.dir = if back as i8 == wrap(x - 1) { 1 } else { -1 };
                // At the start the timer is full; after a crossing it has ticked once already.
                car.timer = speed - (moment == Moment::Scored) as u8;
            }
        };
        for ramping in [true, false] {
            let (eps, frames, ret) =
                replay::<Freeway>("freeway", 40, 31 + ramping as u64, ramping, sync);
            eprintln!(
                "freeway (ramping {ramping}): {eps} episodes, {frames} frames, {ret} reward: identical to MinAtar"
            );
        }
    }
}
