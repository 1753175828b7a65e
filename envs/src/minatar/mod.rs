//! MinAtar-style games: 10x10 grids of 0/1 channels, six actions, sticky actions and difficulty
//! ramping, behaving like MinAtar 1.0.15 (Young & Tian, 2019) so that published results compare.
//!
//! Each game implements the small `Game` trait (its rules on a 10x10 grid); `MinAtar<G>` wraps a
//! game into an `Env`: seeding, sticky actions, the minimal action set, the observation buffer,
//! the episode phase and rendering are written once here. MinAtar is GPL: these games were written
//! from its documented and observed behaviour, not translated from its code.

use crate::env::Phase;
use crate::registry::{EnvSpec, Registry};
use crate::rng::Rng;
use crate::{Env, EnvError, LegendEntry, OptSpec, Options, RgbFrame, Space, Step, render};

pub mod asterix;
pub mod breakout;
pub mod freeway;
pub mod seaquest;
pub mod space_invaders;

/// Grid side: every game is 10x10.
pub const N: usize = 10;

/// MinAtar's six actions, in MinAtar's order (the action index users send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Action {
    Noop = 0,
    Left = 1,
    Up = 2,
    Right = 3,
    Down = 4,
    Fire = 5,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Noop,
        Action::Left,
        Action::Up,
        Action::Right,
        Action::Down,
        Action::Fire,
    ];
}

/// Most channels a game may have.
pub const MAX_CHANNELS: usize = 12;

/// The observation being drawn: `[C,10,10]` planes.
///
/// Drawing is incremental, so a step costs about what changed rather than the size of the
/// observation (Seaquest's is 1000 floats). Cells marked with `set` are cleared before the next
/// frame, a row at a time (the grid records their rows). A channel given whole as a bitboard with
/// `set_channel` is kept from frame to frame and only its cells that differ from the previous
/// frame are written: right for things that rarely change, like Breakout's bricks. A game draws
/// each channel with one of the two, never both.
pub struct Grid<'a> {
    obs: &'a mut [f32],
    dirty: &'a mut u128,
    channels: &'a mut Channels,
}

/// What `set_channel` drew: each channel's bitboard, and which channels it drew last frame and
/// this frame.
#[derive(Debug, Clone, Default)]
struct Channels {
    bits: [u128; MAX_CHANNELS],
    prev: u16,
    now: u16,
}

const BOARD: u128 = (1u128 << (N * N)) - 1;

impl Grid<'_> {
    /// Marks cell `(y, x)` in channel `c`. Out-of-grid coordinates are ignored.
    #[inline]
    pub fn set(&mut self, c: usize, y: i32, x: i32) {
        debug_assert!(
            (self.channels.prev | self.channels.now) & (1 << c) == 0,
            "channel {c} is drawn whole with set_channel; draw a channel with one method"
        );
        if (0..N as i32).contains(&y) && (0..N as i32).contains(&x) {
            let row = c * N + y as usize;
            self.obs[row * N + x as usize] = 1.0;
            *self.dirty |= 1 << row;
        }
    }

    /// Sets channel `c` to exactly the cells of a 10x10 bitboard (bit `10 * y + x` is cell
    /// `(y, x)`), writing only the cells that changed since the previous frame.
    #[inline]
    pub fn set_channel(&mut self, c: usize, bits: u128) {
        let ch = &mut *self.channels;
        debug_assert!(
            ch.now & (1 << c) == 0,
            "channel {c} drawn twice in one frame"
        );
        let bits = bits & BOARD;
        let prev = if ch.prev & (1 << c) != 0 {
            ch.bits[c]
        } else {
            0
        };
        write_diff(self.obs, c, prev, bits);
        ch.bits[c] = bits;
        ch.now |= 1 << c;
    }
}

/// Writes the cells of channel `c` where `old` and `new` differ.
#[inline]
fn write_diff(obs: &mut [f32], c: usize, old: u128, new: u128) {
    let plane = &mut obs[c * N * N..(c + 1) * N * N];
    let mut changed = old ^ new;
    while changed != 0 {
        let k = changed.trailing_zeros() as usize;
        plane[k] = ((new >> k) & 1) as f32;
        changed &= changed - 1;
    }
}

/// The shell's drawing state: rows to clear and the channels kept between frames.
#[derive(Debug, Clone, Default)]
struct Canvas {
    dirty: u128,
    channels: Channels,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas::default()
    }

    /// Brings `obs` from the previous frame to the game's current state.
    fn redraw<G: Game>(&mut self, game: &G, obs: &mut [f32]) {
        let mut rows = std::mem::take(&mut self.dirty);
        while rows != 0 {
            let r = rows.trailing_zeros() as usize;
            let cells: &mut [f32; N] = (&mut obs[r * N..r * N + N])
                .try_into()
                .expect("a row has N cells");
            *cells = [0.0; N];
            rows &= rows - 1;
        }
        game.draw(&mut Grid {
            obs: &mut *obs,
            dirty: &mut self.dirty,
            channels: &mut self.channels,
        });
        // Channels drawn whole last frame but not this one are erased.
        let ch = &mut self.channels;
        let mut stale = ch.prev & !ch.now;
        while stale != 0 {
            let c = stale.trailing_zeros() as usize;
            write_diff(obs, c, ch.bits[c], 0);
            ch.bits[c] = 0;
            stale &= stale - 1;
        }
        ch.prev = std::mem::take(&mut ch.now);
    }
}

/// Draws `game` into a zeroed `obs` (for tests that inspect a game's planes without the shell).
#[cfg(test)]
pub(crate) fn draw_planes<G: Game>(game: &G, obs: &mut [f32]) {
    obs.fill(0.0);
    Canvas::new().redraw(game, obs);
}

/// The non-default settings every game's tests check besides MinAtar's defaults.
#[cfg(test)]
pub(crate) const PLAIN: [(&str, &str); 3] = [
    ("minimal_actions", "true"),
    ("sticky_action_prob", "0"),
    ("difficulty_ramping", "false"),
];

/// `check_env` on `id` with MinAtar's defaults and with `PLAIN`, and the spaces under `PLAIN`
/// (`channels` planes, `minimal` actions). Returns both reports for game-specific assertions.
#[cfg(test)]
pub(crate) fn check_game(id: &str, channels: usize, minimal: usize) -> [crate::CheckReport; 2] {
    let defaults = crate::check_env(|| crate::make(id, &[] as &[(&str, &str)]).unwrap()).unwrap();
    let plain = crate::check_env(|| crate::make(id, &PLAIN).unwrap()).unwrap();
    let env = crate::make(id, &PLAIN).unwrap();
    assert_eq!(env.observation_space().shape(), &[channels, N, N], "{id}");
    assert_eq!(env.action_space(), &Space::Discrete { n: minimal }, "{id}");
    [defaults, plain]
}

/// The rules of one MinAtar-style game.
pub trait Game: Send + 'static {
    /// Channel names, in observation order (their count is the channel count).
    const CHANNELS: &'static [&'static str];
    /// MinAtar's minimal action set for this game.
    const MINIMAL_ACTIONS: &'static [Action];
    /// A game in its initial state; `ramping` enables difficulty ramping.
    fn new(ramping: bool) -> Self;
    /// Starts a new episode.
    fn reset(&mut self, rng: &mut Rng);
    /// Applies one action (after sticky-action substitution); returns `(reward, terminal)`.
    fn act(&mut self, action: Action, rng: &mut Rng) -> (f32, bool);
    /// Sets the 1-cells of the current state (the grid arrives zeroed).
    fn draw(&self, grid: &mut Grid<'_>);
}

/// A `Game` as an `Env`.
pub struct MinAtar<G: Game> {
    id: String,
    game: G,
    rng: Rng,
    sticky: f64,
    actions: &'static [Action],
    last_action: Action,
    phase: Phase,
    obs: Vec<f32>,
    canvas: Canvas,
    obs_space: Space,
    act_space: Space,
    symbols: Vec<char>,
}

impl<G: Game> MinAtar<G> {
    /// A game with explicit settings (MinAtar's defaults: `0.1, true, false`).
    pub fn new(
        id: &str,
        sticky_action_prob: f64,
        difficulty_ramping: bool,
        minimal_actions: bool,
    ) -> Self {
        let c = G::CHANNELS.len();
        assert!(
            c <= MAX_CHANNELS,
            "a MinAtar-style game has at most {MAX_CHANNELS} channels"
        );
        let actions: &'static [Action] = if minimal_actions {
            G::MINIMAL_ACTIONS
        } else {
            &Action::ALL
        };
        MinAtar {
            id: id.into(),
            game: G::new(difficulty_ramping),
            rng: Rng::new(0),
            sticky: sticky_action_prob,
            actions,
            last_action: Action::Noop,
            phase: Phase::Fresh,
            obs: vec![0.0; c * N * N],
            canvas: Canvas::new(),
            obs_space: Space::uniform_box(&[c, N, N], 0.0, 1.0),
            act_space: Space::Discrete { n: actions.len() },
            symbols: render::channel_symbols(G::CHANNELS),
        }
    }

    /// The game's rules state, for tests.
    pub fn game(&self) -> &G {
        &self.game
    }

    fn redraw(&mut self) {
        self.canvas.redraw(&self.game, &mut self.obs);
    }
}

impl<G: Game> Env for MinAtar<G> {
    fn id(&self) -> &str {
        &self.id
    }
    fn observation_space(&self) -> &Space {
        &self.obs_space
    }
    fn action_space(&self) -> &Space {
        &self.act_space
    }
    fn reset(&mut self, seed: Option<u64>) -> &[f32] {
        if let Some(s) = seed {
            self.rng = Rng::new(s);
        }
        // MinAtar keeps the last action across episodes; we start each episode from no-op so that
        // a seeded reset is deterministic whatever came before.
        self.last_action = Action::Noop;
        self.game.reset(&mut self.rng);
        self.phase = Phase::Running;
        self.redraw();
        &self.obs
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        self.phase.check_action(action, self.actions.len())?;
        let mut a = self.actions[action];
        if self.rng.chance(self.sticky) {
            a = self.last_action;
        }
        self.last_action = a;
        let (reward, terminated) = self.game.act(a, &mut self.rng);
        if terminated {
            self.phase = Phase::Over;
        }
        self.redraw();
        Ok(Step {
            obs: &self.obs,
            reward,
            terminated,
            truncated: false,
            info: Default::default(),
        })
    }
    fn obs(&self) -> &[f32] {
        &self.obs
    }
    fn render_text(&self) -> String {
        render::planes_text(&self.obs, G::CHANNELS.len(), N, N, &self.symbols)
    }
    fn render_rgb(&self) -> RgbFrame {
        render::planes_rgb(&self.obs, G::CHANNELS.len(), N, N)
    }
    fn legend(&self) -> Vec<LegendEntry> {
        render::planes_legend(G::CHANNELS)
    }
}

/// The options every MinAtar-style game takes, with MinAtar's defaults.
fn minatar_options(spec: EnvSpec) -> EnvSpec {
    spec.option(OptSpec::float(
        "sticky_action_prob",
        0.1,
        0.0,
        1.0,
        "probability that the previous action is repeated instead of the chosen one",
    ))
    .option(OptSpec::bool(
        "difficulty_ramping",
        true,
        "speed the game up as the episode goes on, as MinAtar does",
    ))
    .option(OptSpec::bool(
        "minimal_actions",
        false,
        "use MinAtar's minimal action set instead of all six actions",
    ))
}

fn spec_for<G: Game>(id: &'static str, description: &str) -> EnvSpec {
    minatar_options(EnvSpec::new(id, description, move |o: &Options| {
        Ok(Box::new(MinAtar::<G>::new(
            id,
            o.float("sticky_action_prob"),
            o.bool("difficulty_ramping"),
            o.bool("minimal_actions"),
        )) as Box<dyn Env>)
    }))
}

/// Registers the five games.
pub(crate) fn register_all(r: &mut Registry) {
    let games: Vec<EnvSpec> = vec![
        // Each game adds its line here: spec_for::<breakout::Breakout>("Breakout-v0", "..."),
        spec_for::<asterix::Asterix>("Asterix-v0", "MinAtar Asterix: collect gold, dodge enemies"),
        spec_for::<seaquest::Seaquest>(
            "Seaquest-v0",
            "MinAtar Seaquest: shoot enemies, rescue divers, surface for oxygen",
        ),
        spec_for::<breakout::Breakout>(
            "Breakout-v0",
            "MinAtar Breakout: keep the ball in play with the paddle, break the bricks",
        ),
        spec_for::<space_invaders::SpaceInvaders>(
            "SpaceInvaders-v0",
            "MinAtar Space Invaders: shoot the marching aliens, dodge their bombs",
        ),
        spec_for::<freeway::Freeway>(
            "Freeway-v0",
            "MinAtar Freeway: get the chicken across eight lanes of traffic",
        ),
    ];
    for spec in games {
        r.register(spec).expect("built-in ids are unique");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shell clears only the cells it set last frame: its observation must always equal a
    /// full redraw of the game state.
    fn incremental_redraw_matches_full<G: Game>(id: &str) {
        let mut env = MinAtar::<G>::new(id, 0.1, true, false);
        let mut rng = Rng::new(5);
        let mut full = vec![0.0; G::CHANNELS.len() * N * N];
        env.reset(Some(1));
        for t in 0..20_000 {
            let done = env.step(rng.below(6)).unwrap().done();
            draw_planes(env.game(), &mut full);
            assert_eq!(env.obs(), &full[..], "{id}: step {t}");
            if done {
                env.reset(None);
                draw_planes(env.game(), &mut full);
                assert_eq!(env.obs(), &full[..], "{id}: reset after step {t}");
            }
        }
    }

    #[test]
    fn incremental_redraw_matches_full_redraw() {
        incremental_redraw_matches_full::<breakout::Breakout>("Breakout-v0");
        incremental_redraw_matches_full::<space_invaders::SpaceInvaders>("SpaceInvaders-v0");
        incremental_redraw_matches_full::<freeway::Freeway>("Freeway-v0");
        incremental_redraw_matches_full::<asterix::Asterix>("Asterix-v0");
        incremental_redraw_matches_full::<seaquest::Seaquest>("Seaquest-v0");
    }
}
