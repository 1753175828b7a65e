//! Seaquest-v0: a submarine that shoots fish and enemy subs, rescues divers and must surface for
//! air (MinAtar's Seaquest, 1.0.15 rules).
//!
//! Rules. The player's submarine occupies two cells, its front and the cell behind it (showing
//! which way it faces), starts on the surface (row 0) at column 5 facing left, moves one cell per
//! action (rows 0-8, columns 0-9; moving left or right also turns it) and fires a torpedo from its
//! front, at most once every 5 actions. Enemies, fish or (with probability 1/3) subs, enter rows
//! 1-8 at the left edge moving right or at the right edge moving left, except that an enemy is not
//! spawned into a row where enemies move the other way. Enemies step one cell every
//! `move_interval + 1` actions; subs also fire a bullet every 11 actions, which flies one cell per
//! action. A torpedo that meets an enemy destroys it and pays +1. Divers enter like enemies,
//! every 30 actions, and step one cell every 6 actions; swimming into one picks it up (at most 6
//! on board). Oxygen (200) falls by one each action under water; running out ends the episode.
//! Coming up to the surface with no diver ends the episode; with 1 to 5 divers it costs one diver
//! and refills the oxygen; with 6 it pays `oxygen * 10 / 200` (integer division), refills the
//! oxygen and leaves MinAtar's diver count at -1 (see below). Touching an enemy or a bullet ends
//! the episode.
//!
//! Timing, within one action, in this order: enemy spawn (every `spawn_interval` actions, first
//! at action 21), diver spawn (every 30, first at action 31), the player's move or shot,
//! torpedoes (move, then hit the first enemy in their new cell), divers, enemy subs (contact
//! before and after moving; a sub that moves onto a torpedo dies and pays +1; then its shot,
//! which it fires even if it just died or left the grid), enemy bullets (contact before and
//! after moving), fish (as subs, without shots), timers, then oxygen and surfacing. A new enemy
//! first moves `move_interval + 1` actions after it appears and a sub first fires 10 actions
//! after. With difficulty ramping, each surfacing lowers the spawn interval by one (20 down to 1)
//! and, at every second surfacing (the 2nd, 4th, ...), the move interval by one (5 down to 2).
//!
//! MinAtar quirk kept on purpose. After a full surfacing with six divers MinAtar's diver count is
//! -1, not 0, so the next surfacing without any diver on board is not fatal (it refills the
//! oxygen and lowers the count again). We keep the count signed and reproduce this, so that
//! returns compare with published MinAtar results; the diver gauge shows nothing below zero.
//!
//! Representation. The variable object lists of the original become fixed-capacity pools (an
//! array and a length) whose capacities follow from the timers: an enemy lives at most 59
//! actions and at most one spawns per action (so at most 60 fish or subs at once), a sub fires
//! once per 11 actions and a bullet lives at most 10 actions (at most 69 bullets), divers spawn
//! every 30 actions (at most 3), torpedoes every 5 (at most 3). Pools are walked from the back
//! and removal swaps the last element in, so each object is visited once per pass and nothing
//! allocates. The order of objects inside a pool differs from MinAtar's lists; it only decides
//! which of two objects sharing one cell is hit first, which does not change any statistic.
//!
//! Observation (MinAtar's channel order and names): 0 `sub_front`, 1 `sub_back`,
//! 2 `friendly_bullet`, 3 `trail` (the cell each enemy or diver came from), 4 `enemy_bullet`,
//! 5 `enemy_fish`, 6 `enemy_sub`, 7 `oxygen_guage` (row 9, from the left, one cell per 20
//! oxygen), 8 `diver_guage` (row 9, columns 8, 7, ... one per diver on board), 9 `diver`.

use super::asterix::Draws;
use super::{Action, Grid, N, Rules};
use crate::rng::Rng;

const MAX_OXYGEN: i16 = 200;
const INIT_SPAWN_INTERVAL: u8 = 20;
const DIVER_SPAWN_INTERVAL: u8 = 30;
const INIT_MOVE_INTERVAL: u8 = 5;
const MIN_MOVE_INTERVAL: u8 = 2;
const SHOT_COOLDOWN: u8 = 5;
const ENEMY_SHOT_INTERVAL: u8 = 10;
const DIVER_MOVE_INTERVAL: u8 = 5;
const MAX_DIVERS: i8 = 6;
const LAST: i8 = N as i8 - 1;
/// Deepest row the submarine can reach (row 9 holds the gauges).
const BOTTOM: i8 = 8;

const SUB_FRONT: usize = 0;
const SUB_BACK: usize = 1;
const FRIENDLY_BULLET: usize = 2;
const TRAIL: usize = 3;
const ENEMY_BULLET: usize = 4;
const ENEMY_FISH: usize = 5;
const ENEMY_SUB: usize = 6;
const OXYGEN_GAUGE: usize = 7;
const DIVER_GAUGE: usize = 8;
const DIVER: usize = 9;

const FISH_CAP: usize = 64;
const SUB_CAP: usize = 64;
const ENEMY_SHOT_CAP: usize = 80;
const DIVER_CAP: usize = 4;
const SHOT_CAP: usize = 4;

/// `(column step, row step)` of each action, in `Action` order (fire does not move).
const STEPS: [(i8, i8); 6] = [(0, 0), (-1, 0), (0, -1), (1, 0), (0, 1), (0, 0)];

#[inline]
fn on_grid(x: i8) -> bool {
    (0..=LAST).contains(&x)
}

/// A bullet or torpedo: position and direction (`dx` is +1 or -1).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Shot {
    x: i8,
    y: i8,
    dx: i8,
}

/// A fish or a diver: position, direction and the actions left before its next step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Swimmer {
    x: i8,
    y: i8,
    dx: i8,
    wait: u8,
}

/// An enemy sub: a swimmer that also counts down to its next shot.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct EnemySub {
    body: Swimmer,
    reload: u8,
}

trait Cell {
    fn cell(&self) -> (i8, i8);
}
impl Cell for Shot {
    fn cell(&self) -> (i8, i8) {
        (self.x, self.y)
    }
}
impl Cell for Swimmer {
    fn cell(&self) -> (i8, i8) {
        (self.x, self.y)
    }
}
impl Cell for EnemySub {
    fn cell(&self) -> (i8, i8) {
        (self.body.x, self.body.y)
    }
}

/// A fixed-capacity list: `items[..len]` are live. Removal moves the last item into the hole.
#[derive(Debug, Clone)]
struct Pool<T, const CAP: usize> {
    len: usize,
    items: [T; CAP],
}

impl<T: Copy + Default + Cell, const CAP: usize> Pool<T, CAP> {
    fn new() -> Self {
        Pool {
            len: 0,
            items: [T::default(); CAP],
        }
    }

    /// Adds an item. The capacities are upper bounds implied by the game's timers (see the module
    /// documentation), so the guard never drops anything in play.
    #[inline]
    fn push(&mut self, item: T) {
        debug_assert!(self.len < CAP, "pool capacity {CAP} exceeded");
        if self.len < CAP {
            self.items[self.len] = item;
            self.len += 1;
        }
    }

    /// `push` when `cond` holds, without a branch on it (for a condition as random as the
    /// agent's action).
    #[inline]
    fn push_if(&mut self, cond: bool, item: T) {
        debug_assert!(!cond || self.len < CAP, "pool capacity {CAP} exceeded");
        // The item goes into the first dead slot either way; only counting it depends on `cond`.
        if self.len < CAP {
            self.items[self.len] = item;
            self.len += cond as usize;
        }
    }

    #[inline]
    fn remove(&mut self, i: usize) {
        self.len -= 1;
        self.items[i] = self.items[self.len];
    }

    #[inline]
    fn live(&self) -> &[T] {
        &self.items[..self.len]
    }

    /// Index of the first live item in cell `(x, y)`.
    #[inline]
    fn find(&self, x: i8, y: i8) -> Option<usize> {
        self.live().iter().position(|it| it.cell() == (x, y))
    }
}

/// Steps a fish or sub body on its timer and returns whether it survives (stays on the grid and
/// does not swim onto a torpedo, which pays +1). Contact with the player at `(x, y)`, before or
/// after the step, ends the episode.
#[inline]
fn swim_enemy(
    b: &mut Swimmer,
    player: (i8, i8),
    move_interval: u8,
    torpedoes: &mut Pool<Shot, SHOT_CAP>,
    reward: &mut f32,
    over: &mut bool,
) -> bool {
    *over |= (b.x, b.y) == player;
    if b.wait > 0 {
        b.wait -= 1;
        return true;
    }
    b.wait = move_interval;
    b.x += b.dx;
    if !on_grid(b.x) {
        return false;
    }
    if (b.x, b.y) == player {
        *over = true;
    } else if let Some(j) = torpedoes.find(b.x, b.y) {
        torpedoes.remove(j);
        *reward += 1.0;
        return false;
    }
    true
}

/// The Seaquest rules state.
#[derive(Debug, Clone)]
pub struct Seaquest {
    ramping: bool,
    x: i8,
    y: i8,
    facing_right: bool,
    oxygen: i16,
    /// Divers on board; -1 and below after a six-diver surfacing (MinAtar's quirk, see above).
    divers_held: i8,
    /// On the surface since the last refill (surfacing only counts when coming up from below).
    surfaced: bool,
    cooldown: u8,
    spawn_interval: u8,
    spawn_timer: u8,
    diver_timer: u8,
    move_interval: u8,
    ramps: u32,
    torpedoes: Pool<Shot, SHOT_CAP>,
    bullets: Pool<Shot, ENEMY_SHOT_CAP>,
    fish: Pool<Swimmer, FISH_CAP>,
    subs: Pool<EnemySub, SUB_CAP>,
    divers: Pool<Swimmer, DIVER_CAP>,
}

impl Seaquest {
    /// How many times difficulty has ramped up this episode (once per surfacing, with ramping).
    pub fn difficulty_level(&self) -> u32 {
        self.ramps
    }

    /// Actions between enemy spawns (20 at the start, down to 1 with ramping).
    pub fn spawn_interval(&self) -> u8 {
        self.spawn_interval
    }

    /// Enemies step once every `move_interval() + 1` actions (5 at the start, down to 2).
    pub fn move_interval(&self) -> u8 {
        self.move_interval
    }

    /// Oxygen left (200 when full).
    pub fn oxygen(&self) -> i16 {
        self.oxygen
    }

    /// Divers on board (negative after a six-diver surfacing, as in MinAtar).
    pub fn divers_held(&self) -> i8 {
        self.divers_held
    }

    /// The front of the player's submarine, `(row, column)`.
    pub fn player(&self) -> (i8, i8) {
        (self.y, self.x)
    }

    #[inline]
    fn at_player(&self, x: i8, y: i8) -> bool {
        x == self.x && y == self.y
    }

    /// Spawns a fish or a sub at an edge of a random row, unless enemies in that row move the
    /// other way.
    fn spawn_enemy(&mut self, rng: &mut impl Draws) {
        let dx = if rng.chance(0.5) { 1 } else { -1 };
        let is_sub = rng.chance(1.0 / 3.0);
        let y = 1 + rng.below(8) as i8;
        let against = |s: &Swimmer| s.y == y && s.dx != dx;
        if self.fish.live().iter().any(against) || self.subs.live().iter().any(|s| against(&s.body))
        {
            return;
        }
        let body = Swimmer {
            x: if dx > 0 { 0 } else { LAST },
            y,
            dx,
            wait: self.move_interval,
        };
        if is_sub {
            self.subs.push(EnemySub {
                body,
                reload: ENEMY_SHOT_INTERVAL,
            });
        } else {
            self.fish.push(body);
        }
    }

    fn spawn_diver(&mut self, rng: &mut impl Draws) {
        let dx = if rng.chance(0.5) { 1 } else { -1 };
        let y = 1 + rng.below(8) as i8;
        self.divers.push(Swimmer {
            x: if dx > 0 { 0 } else { LAST },
            y,
            dx,
            wait: DIVER_MOVE_INTERVAL,
        });
    }

    /// Torpedoes fly one cell, leave the grid or hit the first fish, else sub, in their new cell.
    fn update_torpedoes(&mut self, reward: &mut f32) {
        for i in (0..self.torpedoes.len).rev() {
            let t = &mut self.torpedoes.items[i];
            t.x += t.dx;
            let (x, y) = (t.x, t.y);
            if !on_grid(x) {
                self.torpedoes.remove(i);
            } else if let Some(j) = self.fish.find(x, y) {
                self.fish.remove(j);
                self.torpedoes.remove(i);
                *reward += 1.0;
            } else if let Some(j) = self.subs.find(x, y) {
                self.subs.remove(j);
                self.torpedoes.remove(i);
                *reward += 1.0;
            }
        }
    }

    /// A diver in the submarine's cell is picked up while there is room on board.
    fn update_divers(&mut self) {
        let player = (self.x, self.y);
        for i in (0..self.divers.len).rev() {
            let room = self.divers_held < MAX_DIVERS;
            let d = &mut self.divers.items[i];
            let caught = if room && (d.x, d.y) == player {
                true
            } else if d.wait > 0 {
                d.wait -= 1;
                false
            } else {
                d.wait = DIVER_MOVE_INTERVAL;
                d.x += d.dx;
                if !on_grid(d.x) {
                    self.divers.remove(i);
                    continue;
                }
                room && (d.x, d.y) == player
            };
            if caught {
                self.divers.remove(i);
                self.divers_held += 1;
            }
        }
    }

    fn update_subs(&mut self, reward: &mut f32, over: &mut bool) {
        let player = (self.x, self.y);
        for i in (0..self.subs.len).rev() {
            let s = &mut self.subs.items[i];
            let alive = swim_enemy(
                &mut s.body,
                player,
                self.move_interval,
                &mut self.torpedoes,
                reward,
                over,
            );
            // The shot comes after the move, whether or not the sub survived it.
            if s.reload == 0 {
                s.reload = ENEMY_SHOT_INTERVAL;
                let shot = Shot {
                    x: s.body.x,
                    y: s.body.y,
                    dx: s.body.dx,
                };
                self.bullets.push(shot);
            } else {
                s.reload -= 1;
            }
            if !alive {
                self.subs.remove(i);
            }
        }
    }

    fn update_bullets(&mut self, over: &mut bool) {
        for i in (0..self.bullets.len).rev() {
            let b = &mut self.bullets.items[i];
            let before = (b.x, b.y);
            b.x += b.dx;
            let (x, y) = (b.x, b.y);
            *over |= self.at_player(before.0, before.1);
            if !on_grid(x) {
                self.bullets.remove(i);
            } else {
                *over |= self.at_player(x, y);
            }
        }
    }

    fn update_fish(&mut self, reward: &mut f32, over: &mut bool) {
        let player = (self.x, self.y);
        for i in (0..self.fish.len).rev() {
            let f = &mut self.fish.items[i];
            if !swim_enemy(
                f,
                player,
                self.move_interval,
                &mut self.torpedoes,
                reward,
                over,
            ) {
                self.fish.remove(i);
            }
        }
    }

    /// One action of the rules (`Rules::act`), with the random draws from `rng`.
    fn advance(&mut self, action: Action, rng: &mut impl Draws) -> (f32, bool) {
        let (mut reward, mut over) = (0.0, false);
        if self.spawn_timer == 0 {
            self.spawn_enemy(rng);
            self.spawn_timer = self.spawn_interval;
        }
        if self.diver_timer == 0 {
            self.spawn_diver(rng);
            self.diver_timer = DIVER_SPAWN_INTERVAL;
        }
        // Movement without a branch on the action: a column and row step per action, clamped.
        let (dx, dy) = STEPS[action as usize];
        self.x = (self.x + dx).clamp(0, LAST);
        self.y = (self.y + dy).clamp(0, BOTTOM);
        self.facing_right = (self.facing_right && dx == 0) || dx > 0;
        // Firing without a branch on the action.
        let fire = (action == Action::Fire) & (self.cooldown == 0);
        let dx = if self.facing_right { 1 } else { -1 };
        let (x, y) = (self.x, self.y);
        self.torpedoes.push_if(fire, Shot { x, y, dx });
        self.cooldown = if fire { SHOT_COOLDOWN } else { self.cooldown };
        self.update_torpedoes(&mut reward);
        self.update_divers();
        self.update_subs(&mut reward, &mut over);
        self.update_bullets(&mut over);
        self.update_fish(&mut reward, &mut over);
        self.spawn_timer = self.spawn_timer.saturating_sub(1);
        self.diver_timer = self.diver_timer.saturating_sub(1);
        self.cooldown = self.cooldown.saturating_sub(1);
        over |= self.oxygen <= 0;
        // Under water (which the random walk of the agent's moves decides) without a branch;
        // coming up, rare, with one.
        let below = self.y > 0;
        if !below && !self.surfaced {
            if self.divers_held == 0 {
                over = true;
            } else {
                reward += self.surface();
            }
        }
        self.oxygen -= below as i16;
        self.surfaced &= !below;
        (reward, over)
    }

    /// Coming up from below with at least one diver (or after a six-diver surfacing): pays for a
    /// full crew, refills the oxygen, drops a diver and ramps the difficulty.
    fn surface(&mut self) -> f32 {
        self.surfaced = true;
        let mut reward = 0.0;
        if self.divers_held == MAX_DIVERS {
            self.divers_held = 0;
            reward = (self.oxygen * 10 / MAX_OXYGEN) as f32;
        }
        self.oxygen = MAX_OXYGEN;
        self.divers_held -= 1;
        if self.ramping && (self.spawn_interval > 1 || self.move_interval > MIN_MOVE_INTERVAL) {
            if self.move_interval > MIN_MOVE_INTERVAL && self.ramps % 2 == 1 {
                self.move_interval -= 1;
            }
            if self.spawn_interval > 1 {
                self.spawn_interval -= 1;
            }
            self.ramps += 1;
        }
        reward
    }
}

impl Rules for Seaquest {
    const CHANNELS: &'static [&'static str] = &[
        "sub_front",
        "sub_back",
        "friendly_bullet",
        "trail",
        "enemy_bullet",
        "enemy_fish",
        "enemy_sub",
        "oxygen_guage",
        "diver_guage",
        "diver",
    ];
    const MINIMAL_ACTIONS: &'static [Action] = &Action::ALL;
    /// The submarine's front and back.
    const SPRITES: usize = 2;

    fn new(ramping: bool) -> Self {
        Seaquest {
            ramping,
            x: 5,
            y: 0,
            facing_right: false,
            oxygen: MAX_OXYGEN,
            divers_held: 0,
            surfaced: true,
            cooldown: 0,
            spawn_interval: INIT_SPAWN_INTERVAL,
            spawn_timer: INIT_SPAWN_INTERVAL,
            diver_timer: DIVER_SPAWN_INTERVAL,
            move_interval: INIT_MOVE_INTERVAL,
            ramps: 0,
            torpedoes: Pool::new(),
            bullets: Pool::new(),
            fish: Pool::new(),
            subs: Pool::new(),
            divers: Pool::new(),
        }
    }

    fn reset(&mut self, _rng: &mut Rng) {
        *self = Seaquest::new(self.ramping);
    }

    fn act(&mut self, action: Action, rng: &mut Rng) -> (f32, bool) {
        self.advance(action, rng)
    }

    #[inline(always)]
    fn draw(&self, grid: &mut Grid<'_>) {
        let (y, x) = (self.y as i32, self.x as i32);
        grid.sprite(0, SUB_FRONT, y, x);
        grid.sprite(
            1,
            SUB_BACK,
            y,
            if self.facing_right { x - 1 } else { x + 1 },
        );
        for t in self.torpedoes.live() {
            grid.set(FRIENDLY_BULLET, t.y as i32, t.x as i32);
        }
        for b in self.bullets.live() {
            grid.set(ENEMY_BULLET, b.y as i32, b.x as i32);
        }
        let mut swimmer = |c: usize, s: &Swimmer| {
            let (y, x) = (s.y as i32, s.x as i32);
            grid.set(c, y, x);
            grid.set(TRAIL, y, x - s.dx as i32);
        };
        for f in self.fish.live() {
            swimmer(ENEMY_FISH, f);
        }
        for s in self.subs.live() {
            swimmer(ENEMY_SUB, &s.body);
        }
        for d in self.divers.live() {
            swimmer(DIVER, d);
        }
        // The gauges change rarely: drawn whole as bitboards of row 9, only changes are written.
        // Row 9 is bits 90..99, bits 26..35 of the high 64-bit half.
        let row9 = |cols: u64| (cols as u128) << (64 + 26);
        let bar = self.oxygen.clamp(0, MAX_OXYGEN) as u32 * N as u32 / MAX_OXYGEN as u32;
        grid.set_channel(OXYGEN_GAUGE, row9((1u64 << bar) - 1));
        // Divers on board fill columns 8, 7, ... from the right (at most 6).
        let held = self.divers_held.clamp(0, MAX_DIVERS) as u32;
        grid.set_channel(
            DIVER_GAUGE,
            row9(((1u64 << held) - 1) << (LAST as u32 - held)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Env;
    use crate::minatar::MinAtar;

    /// A game just reset, with the timers of spawns pushed far away so that a test controls
    /// everything on the grid.
    fn quiet(ramping: bool) -> Seaquest {
        let mut g = Seaquest::new(ramping);
        g.spawn_timer = u8::MAX;
        g.diver_timer = u8::MAX;
        g
    }

    fn swimmer(x: i8, y: i8, dx: i8, wait: u8) -> Swimmer {
        Swimmer { x, y, dx, wait }
    }

    fn sub(x: i8, y: i8, dx: i8, wait: u8, reload: u8) -> EnemySub {
        EnemySub {
            body: swimmer(x, y, dx, wait),
            reload,
        }
    }

    fn planes(g: &Seaquest) -> Vec<f32> {
        let mut obs = vec![0.0; 10 * N * N];
        crate::minatar::draw_planes(g, &mut obs);
        obs
    }

    /// The 1-cells of a plane, as `(row, column)`.
    fn cells(obs: &[f32], c: usize) -> Vec<(usize, usize)> {
        (0..N * N)
            .filter(|&i| obs[c * N * N + i] == 1.0)
            .map(|i| (i / N, i % N))
            .collect()
    }

    fn dive(g: &mut Seaquest, rng: &mut Rng, rows: usize) {
        for _ in 0..rows {
            assert_eq!(g.act(Action::Down, rng), (0.0, false));
        }
    }

    #[test]
    fn passes_check_env_with_defaults_and_options() {
        let [_, plain] = crate::minatar::check_game("Seaquest-v0", 10, 6);
        assert!(plain.terminated > 0, "{plain:?}");
    }

    #[test]
    fn starts_on_the_surface_with_full_oxygen_drawn_as_minatar_does() {
        let g = Seaquest::new(true);
        let obs = planes(&g);
        assert_eq!(cells(&obs, SUB_FRONT), vec![(0, 5)]);
        assert_eq!(cells(&obs, SUB_BACK), vec![(0, 6)]);
        assert_eq!(
            cells(&obs, OXYGEN_GAUGE),
            (0..10).map(|x| (9, x)).collect::<Vec<_>>()
        );
        assert!(cells(&obs, DIVER_GAUGE).is_empty());
        assert_eq!(obs.iter().filter(|&&v| v == 1.0).count(), 12);
    }

    #[test]
    fn torpedo_flies_from_the_front_and_destroys_the_first_enemy_it_meets() {
        let mut g = quiet(false);
        let mut rng = Rng::new(1);
        dive(&mut g, &mut rng, 3);
        g.act(Action::Right, &mut rng); // face right at (3, 6)
        g.fish.push(swimmer(9, 3, -1, 5));
        g.subs.push(sub(9, 3, -1, 5, 9));
        // Fired from (3, 6), the torpedo is at column 7 after this action, 8 after the next.
        assert_eq!(g.act(Action::Fire, &mut rng), (0.0, false));
        assert_eq!(g.torpedoes.live(), &[Shot { x: 7, y: 3, dx: 1 }]);
        assert_eq!(g.act(Action::Noop, &mut rng), (0.0, false));
        // Fish first, then the sub, in the same cell: the torpedo hits the fish only.
        assert_eq!(g.act(Action::Noop, &mut rng), (1.0, false));
        assert_eq!((g.fish.len, g.subs.len, g.torpedoes.len), (0, 1, 0));
    }

    #[test]
    fn firing_has_a_five_action_cooldown() {
        let mut g = quiet(false);
        let mut rng = Rng::new(2);
        let mut fired = Vec::new();
        for t in 0..12 {
            let before = g.torpedoes.len;
            g.act(Action::Fire, &mut rng);
            // A shot restarts the cooldown, which has counted down once by the end of the action.
            if g.cooldown == SHOT_COOLDOWN - 1 {
                fired.push(t);
            }
            assert!(g.torpedoes.len <= before + 1);
        }
        assert_eq!(fired, vec![0, 5, 10]);
        // Firing does not move or turn the submarine.
        assert_eq!((g.player(), g.facing_right), ((0, 5), false));
    }

    #[test]
    fn enemy_moving_onto_a_torpedo_dies_and_pays() {
        let mut g = quiet(false);
        let mut rng = Rng::new(3);
        dive(&mut g, &mut rng, 2);
        g.torpedoes.push(Shot { x: 2, y: 2, dx: -1 }); // will be at column 1
        g.fish.push(swimmer(0, 2, 1, 0)); // moves to column 1 this action
        assert_eq!(g.act(Action::Noop, &mut rng), (1.0, false));
        assert_eq!((g.fish.len, g.torpedoes.len), (0, 0));
    }

    #[test]
    fn contact_with_fish_sub_or_bullet_ends_the_episode() {
        let mut rng = Rng::new(4);
        // The submarine swims into a fish.
        let mut g = quiet(false);
        dive(&mut g, &mut rng, 1);
        g.fish.push(swimmer(4, 2, 1, 3));
        assert_eq!(g.act(Action::Down, &mut rng), (0.0, false));
        assert_eq!(g.act(Action::Left, &mut rng), (0.0, true));
        // A sub swims into the submarine.
        let mut g = quiet(false);
        dive(&mut g, &mut rng, 1);
        g.subs.push(sub(6, 1, -1, 0, 5));
        assert_eq!(g.act(Action::Noop, &mut rng), (0.0, true));
        // An enemy bullet flies into the submarine.
        let mut g = quiet(false);
        dive(&mut g, &mut rng, 1);
        g.bullets.push(Shot { x: 3, y: 1, dx: 1 });
        assert_eq!(g.act(Action::Noop, &mut rng), (0.0, false));
        assert_eq!(g.act(Action::Noop, &mut rng), (0.0, true));
        // The submarine swims into a bullet that then flies on: contact is checked before it moves.
        let mut g = quiet(false);
        dive(&mut g, &mut rng, 1);
        g.bullets.push(Shot { x: 5, y: 2, dx: 1 });
        assert_eq!(g.act(Action::Down, &mut rng), (0.0, true));
    }

    #[test]
    fn enemy_subs_fire_every_eleven_actions_ahead_of_themselves() {
        let mut g = quiet(false);
        let mut rng = Rng::new(5);
        g.x = 0;
        g.subs.push(sub(9, 4, -1, 100, ENEMY_SHOT_INTERVAL));
        let mut shots = Vec::new();
        for t in 1..=40 {
            g.subs.items[0].body.wait = 100; // keep the sub in place
            let before = g.bullets.len;
            assert_eq!(g.act(Action::Noop, &mut rng), (0.0, false));
            if g.bullets.len > before {
                shots.push(t);
                // Fired from the sub's cell, the bullet already flew one cell.
                assert_eq!(
                    g.bullets.items[g.bullets.len - 1],
                    Shot { x: 8, y: 4, dx: -1 }
                );
            }
        }
        assert_eq!(shots, vec![11, 22, 33]);
        assert!(
            cells(&planes(&g), ENEMY_BULLET)
                .iter()
                .all(|&(y, _)| y == 4)
        );
    }

    #[test]
    fn a_sub_that_dies_moving_still_fires_its_due_shot() {
        let mut g = quiet(false);
        let mut rng = Rng::new(6);
        dive(&mut g, &mut rng, 7);
        g.torpedoes.push(Shot { x: 3, y: 6, dx: 1 }); // will be at column 4
        g.subs.push(sub(5, 6, -1, 0, 0)); // moves to column 4 and is due to fire
        assert_eq!(g.act(Action::Noop, &mut rng), (1.0, false));
        assert_eq!(g.subs.len, 0);
        assert_eq!(g.bullets.live(), &[Shot { x: 3, y: 6, dx: -1 }]);
    }

    #[test]
    fn enemies_and_divers_first_move_after_their_interval_and_leave_at_the_edge() {
        let mut g = quiet(false);
        let mut rng = Rng::new(7);
        g.spawn_timer = 0;
        g.diver_timer = 0;
        g.act(Action::Noop, &mut rng);
        g.spawn_timer = u8::MAX;
        g.diver_timer = u8::MAX;
        assert_eq!(g.divers.len, 1);
        let d0 = g.divers.items[0];
        assert_eq!(d0.x, if d0.dx > 0 { 0 } else { 9 });
        let enemy = g
            .fish
            .live()
            .first()
            .copied()
            .or(g.subs.live().first().map(|s| s.body));
        let e0 = enemy.expect("an enemy spawns into an empty sea");
        // Enemies step on action 6 (move interval 5), divers on action 6 (interval 5), then
        // every 6 actions.
        let (mut e_moves, mut d_moves) = (Vec::new(), Vec::new());
        let (mut ex, mut dx) = (e0.x, d0.x);
        for t in 2..=60 {
            g.x = -5; // out of everyone's way
            g.act(Action::Noop, &mut rng);
            let e = g
                .fish
                .live()
                .first()
                .copied()
                .or(g.subs.live().first().map(|s| s.body));
            if let Some(e) = e.filter(|e| e.x != ex) {
                e_moves.push(t);
                ex = e.x;
            }
            if let Some(d) = g.divers.live().first().filter(|d| d.x != dx) {
                d_moves.push(t);
                dx = d.x;
            }
        }
        let expected: Vec<i32> = (0..9).map(|k| 6 + 6 * k).collect();
        assert_eq!(e_moves, expected);
        assert_eq!(d_moves, expected);
        // The tenth step takes them off the grid.
        assert_eq!(g.fish.len + g.subs.len + g.divers.len, 0);
    }

    #[test]
    fn spawn_timers_fire_at_actions_21_and_31_then_periodically() {
        let mut g = Seaquest::new(false);
        let mut rng = Rng::new(8);
        g.x = -5; // out of everyone's way
        let (mut enemy_spawns, mut diver_spawns) = (0, Vec::new());
        for t in 1..=100 {
            let (fish, subs, divers) = (g.fish.len, g.subs.len, g.divers.len);
            let timer = g.spawn_timer;
            g.act(Action::Noop, &mut rng);
            g.oxygen = MAX_OXYGEN;
            if timer == 0 {
                assert!(
                    t == 21 || t == 41 || t == 61 || t == 81,
                    "enemy spawn at {t}"
                );
                enemy_spawns += 1;
            } else {
                assert!(
                    g.fish.len <= fish && g.subs.len <= subs,
                    "unexpected enemy at {t}"
                );
            }
            if g.divers.len > divers {
                diver_spawns.push(t);
            }
        }
        assert_eq!(enemy_spawns, 4);
        assert_eq!(diver_spawns, vec![31, 61, 91]);
    }

    #[test]
    fn enemy_spawns_avoid_rows_with_opposite_traffic_and_have_the_right_odds() {
        let mut rng = Rng::new(9);
        let (mut subs, mut spawned, mut right) = (0, 0, 0);
        let n = 30_000;
        for _ in 0..n {
            let mut g = quiet(false);
            // Rows 1-4 carry leftward fish: rightward spawns there are refused.
            for y in 1..=4 {
                g.fish.push(swimmer(5, y, -1, 3));
            }
            g.spawn_enemy(&mut rng);
            let new = g.fish.live()[4..].first().copied().map(|f| (f, false)).or(g
                .subs
                .live()
                .first()
                .map(|s| (s.body, true)));
            if let Some((e, is_sub)) = new {
                spawned += 1;
                subs += is_sub as u32;
                right += (e.dx > 0) as u32;
                assert!(
                    e.y >= 5 || e.dx < 0,
                    "rightward enemy in a leftward row: {e:?}"
                );
                assert_eq!(e.x, if e.dx > 0 { 0 } else { 9 });
                assert_eq!(e.wait, INIT_MOVE_INTERVAL);
            }
        }
        // Refused: rightward into rows 1-4, probability 1/2 * 1/2.
        assert!((21_900..23_100).contains(&spawned), "{spawned}");
        assert!((7_200..7_800).contains(&subs), "{subs}");
        // Rightward spawns only succeed in rows 5-8: 1/3 of the successful ones.
        assert!((7_200..7_800).contains(&right), "{right}");
    }

    #[test]
    fn oxygen_lasts_200_actions_under_water() {
        let mut g = quiet(false);
        let mut rng = Rng::new(10);
        g.act(Action::Down, &mut rng);
        assert_eq!(g.oxygen(), 199);
        assert_eq!(cells(&planes(&g), OXYGEN_GAUGE).len(), 9);
        for _ in 1..200 {
            assert_eq!(g.act(Action::Noop, &mut rng), (0.0, false));
        }
        assert_eq!(g.oxygen(), 0);
        assert!(cells(&planes(&g), OXYGEN_GAUGE).is_empty());
        assert_eq!(g.act(Action::Noop, &mut rng), (0.0, true));
    }

    #[test]
    fn no_oxygen_is_used_on_the_surface() {
        let mut g = quiet(false);
        let mut rng = Rng::new(11);
        for _ in 0..300 {
            assert_eq!(g.act(Action::Left, &mut rng), (0.0, false));
        }
        assert_eq!(g.oxygen(), MAX_OXYGEN);
    }

    #[test]
    fn surfacing_without_divers_ends_the_episode() {
        let mut g = quiet(false);
        let mut rng = Rng::new(12);
        dive(&mut g, &mut rng, 1);
        assert_eq!(g.act(Action::Up, &mut rng), (0.0, true));
    }

    #[test]
    fn divers_are_picked_up_up_to_six_and_shown_on_the_gauge() {
        let mut g = quiet(false);
        let mut rng = Rng::new(13);
        dive(&mut g, &mut rng, 2);
        for k in 1..=7 {
            g.divers.push(swimmer(4, 2, 1, 3)); // waits where it is
            g.act(Action::Left, &mut rng); // to (2, 4): picks it up
            g.act(Action::Right, &mut rng);
            let held = k.min(6);
            assert_eq!(g.divers_held(), held);
            if k == 7 {
                // With six on board the diver stays in the water.
                assert_eq!(g.divers.len, 1);
            }
        }
        let gauge = cells(&planes(&g), DIVER_GAUGE);
        assert_eq!(gauge, (3..9).map(|x| (9, x)).collect::<Vec<_>>());
        // A diver swimming into the submarine is picked up too.
        let mut g = quiet(false);
        dive(&mut g, &mut rng, 2);
        g.divers.push(swimmer(4, 2, 1, 0));
        g.act(Action::Noop, &mut rng);
        assert_eq!((g.divers_held(), g.divers.len), (1, 0));
    }

    #[test]
    fn surfacing_with_one_to_five_divers_refills_oxygen_and_costs_one() {
        let mut g = quiet(false);
        let mut rng = Rng::new(14);
        dive(&mut g, &mut rng, 3);
        g.divers_held = 3;
        g.act(Action::Up, &mut rng);
        g.act(Action::Up, &mut rng);
        assert_eq!(g.oxygen(), MAX_OXYGEN - 5);
        assert_eq!(g.act(Action::Up, &mut rng), (0.0, false));
        assert_eq!((g.oxygen(), g.divers_held()), (MAX_OXYGEN, 2));
        // Staying on the surface does not surface again.
        assert_eq!(g.act(Action::Noop, &mut rng), (0.0, false));
        assert_eq!(g.divers_held(), 2);
    }

    #[test]
    fn surfacing_with_six_divers_pays_for_the_oxygen_left_and_keeps_minatars_count() {
        let mut g = quiet(false);
        let mut rng = Rng::new(15);
        dive(&mut g, &mut rng, 1);
        g.divers_held = 6;
        g.oxygen = 137;
        // 136 left when it comes up (one more action under water first), 136 * 10 / 200 = 6.
        assert_eq!(g.act(Action::Noop, &mut rng), (0.0, false));
        assert_eq!(g.act(Action::Up, &mut rng), (6.0, false));
        assert_eq!((g.oxygen(), g.divers_held()), (MAX_OXYGEN, -1));
        assert!(cells(&planes(&g), DIVER_GAUGE).is_empty());
        // MinAtar's quirk: the next empty-handed surfacing is survived, and lowers the count.
        dive(&mut g, &mut rng, 1);
        assert_eq!(g.act(Action::Up, &mut rng), (0.0, false));
        assert_eq!(g.divers_held(), -2);
    }

    #[test]
    fn running_out_of_oxygen_while_surfacing_still_ends_the_episode() {
        let mut g = quiet(false);
        let mut rng = Rng::new(16);
        dive(&mut g, &mut rng, 1);
        g.divers_held = 2;
        g.oxygen = 0;
        assert_eq!(g.act(Action::Up, &mut rng), (0.0, true));
    }

    #[test]
    fn each_surfacing_ramps_difficulty_when_enabled() {
        let mut rng = Rng::new(17);
        let mut g = quiet(true);
        let mut seen = Vec::new();
        for _ in 0..25 {
            dive(&mut g, &mut rng, 1);
            g.divers_held = 1;
            assert_eq!(g.act(Action::Up, &mut rng), (0.0, false));
            seen.push((g.spawn_interval(), g.move_interval()));
        }
        let expected: Vec<(u8, u8)> = (1..=25)
            .map(|k: u8| {
                let spawn = 20u8.saturating_sub(k).max(1);
                let moves = 5 - (k.min(19) / 2).min(3);
                (spawn, moves)
            })
            .collect();
        assert_eq!(seen, expected);
        assert_eq!(&seen[..4], &[(19, 5), (18, 4), (17, 4), (16, 3)]);
        assert_eq!(g.difficulty_level(), 19);

        let mut g = quiet(false);
        dive(&mut g, &mut rng, 1);
        g.divers_held = 1;
        g.act(Action::Up, &mut rng);
        assert_eq!(
            (g.spawn_interval(), g.move_interval(), g.difficulty_level()),
            (20, 5, 0)
        );
    }

    #[test]
    fn pools_stay_within_the_bounds_the_timers_imply() {
        // The most crowded sea possible: an enemy every action at the slowest move interval, the
        // submarine firing whenever it can, and the episode never stopped (contact ignored).
        let mut g = Seaquest::new(false);
        let mut rng = Rng::new(18);
        g.spawn_interval = 1;
        g.y = 4;
        let mut most = [0usize; 5];
        for _ in 0..20_000 {
            g.oxygen = MAX_OXYGEN;
            let action = [Action::Fire, Action::Left, Action::Right][rng.below(3)];
            g.act(action, &mut rng);
            let lens = [
                g.fish.len + g.subs.len,
                g.bullets.len,
                g.divers.len,
                g.torpedoes.len,
                g.subs.len,
            ];
            for (m, l) in most.iter_mut().zip(lens) {
                *m = (*m).max(l);
            }
        }
        assert!(
            most[0] <= 60 && most[1] <= 69 && most[2] <= 3 && most[3] <= 3,
            "{most:?}"
        );
        // The stress is real: many enemies and bullets were in play at once.
        assert!(most[0] >= 20 && most[1] >= 5 && most[4] >= 5, "{most:?}");
    }

    #[test]
    fn observation_channels_match_minatar() {
        let mut g = quiet(false);
        g.x = 3;
        g.y = 4;
        g.facing_right = true;
        g.oxygen = 119;
        g.divers_held = 2;
        g.torpedoes.push(Shot { x: 5, y: 4, dx: 1 });
        g.bullets.push(Shot { x: 1, y: 7, dx: -1 });
        g.fish.push(swimmer(0, 2, 1, 0));
        g.subs.push(sub(6, 7, -1, 0, 3));
        g.divers.push(swimmer(9, 8, 1, 0));
        let obs = planes(&g);
        assert_eq!(cells(&obs, SUB_FRONT), vec![(4, 3)]);
        assert_eq!(cells(&obs, SUB_BACK), vec![(4, 2)]);
        assert_eq!(cells(&obs, FRIENDLY_BULLET), vec![(4, 5)]);
        assert_eq!(cells(&obs, TRAIL), vec![(7, 7), (8, 8)]);
        assert_eq!(cells(&obs, ENEMY_BULLET), vec![(7, 1)]);
        assert_eq!(cells(&obs, ENEMY_FISH), vec![(2, 0)]);
        assert_eq!(cells(&obs, ENEMY_SUB), vec![(7, 6)]);
        assert_eq!(
            cells(&obs, OXYGEN_GAUGE),
            (0..5).map(|x| (9, x)).collect::<Vec<_>>()
        );
        assert_eq!(cells(&obs, DIVER_GAUGE), vec![(9, 7), (9, 8)]);
        assert_eq!(cells(&obs, DIVER), vec![(8, 9)]);
    }

    #[test]
    #[ignore = "needs EMBER_PYTHON with minatar"]
    fn minatar_draws_replayed_frame_by_frame() {
        for ramping in [true, false] {
            let (eps, frames, ret) = super::super::asterix::trace::replay::<Seaquest>(
                "seaquest",
                1500,
                31 + ramping as u64,
                ramping,
                |g, a, d| g.advance(a, d),
            );
            eprintln!(
                "seaquest (ramping {ramping}): {eps} episodes, {frames} frames, {ret} reward: identical to MinAtar"
            );
        }
    }

    #[test]
    fn env_starts_each_seeded_episode_identically() {
        let mut env = MinAtar::<Seaquest>::new("Seaquest-v0", 0.1, true, false);
        let mut run = |seed| {
            env.reset(Some(seed));
            let mut policy = Rng::new(3);
            let mut trace = Vec::new();
            loop {
                let s = env.step(policy.below(6)).unwrap();
                trace.push((s.reward, s.obs.iter().sum::<f32>()));
                if s.terminated {
                    return trace;
                }
            }
        };
        let a = run(5);
        assert_eq!(a, run(5));
        assert!(a.len() > 1);
    }
}
