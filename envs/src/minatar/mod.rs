//! MinAtar-style games: 10x10 grids of 0/1 channels, six actions, sticky actions and difficulty
//! ramping, behaving like MinAtar 1.0.15 (Young & Tian, 2019) so that published results compare.
//!
//! Each game implements the small `Rules` trait (its rules on a 10x10 grid); `MinAtar<G>` wraps a
//! game into an `Env`: seeding, sticky actions, the minimal action set, the observation buffer,
//! the episode phase and rendering are written once here. MinAtar is GPL: these games were written
//! from its documented and observed behaviour, not translated from its code.

use crate::env::Phase;
use crate::rng::{Chance, Rng};
use crate::spec::EnvSpec;
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

/// Room for every cell of `MAX_CHANNELS` planes, rounded up to a power of two so that an index
/// masked with `MASK` needs no bounds check.
const CAP: usize = 2048;
const MASK: usize = CAP - 1;
/// A cell past the planes (never part of the observation) where sprites off the grid are drawn,
/// so that drawing a sprite needs no branch.
const OFF_GRID: usize = CAP - 1;
const _: () = assert!(MAX_CHANNELS * N * N <= OFF_GRID);

/// Most sprites a game may have.
pub const MAX_SPRITES: usize = 32;

/// The observation being drawn: `[C,10,10]` planes.
///
/// Drawing is incremental, so a step costs about what is drawn rather than the size of the
/// observation (Seaquest's is 1000 floats). A cell marked with `set` is recorded (once) and
/// cleared before the next frame. A sprite (`sprite`) is an object of which there is always
/// exactly one, like Breakout's ball: slot `k` holds its cell, cleared before the next frame
/// without any bookkeeping; a game with `Rules::SPRITES` slots draws each of them in every frame
/// (off the grid when the object is absent). A channel given whole as a bitboard with `set_channel` is kept
/// from frame to frame and only its cells that differ from the previous frame are written: right
/// for things that rarely change, like Breakout's bricks. A game draws each channel with one of
/// the two, never both, and draws a channel it gives whole in every frame (an empty bitboard
/// erases it).
pub struct Grid<'a> {
    canvas: &'a mut Canvas,
}

const BOARD: u128 = (1u128 << (N * N)) - 1;

impl Grid<'_> {
    /// The index `sprite_index` takes for a sprite that is off the grid.
    pub const OFF_GRID: usize = OFF_GRID;

    /// Marks cell `(y, x)` in channel `c`. Out-of-grid coordinates are ignored.
    #[inline(always)]
    pub fn set(&mut self, c: usize, y: i32, x: i32) {
        let cv = &mut *self.canvas;
        debug_assert!(c < MAX_CHANNELS);
        debug_assert!(
            cv.whole & (1 << c) == 0,
            "channel {c} is drawn whole with set_channel; draw a channel with one method"
        );
        // Branch-free: a cell off the grid is drawn in the spare cell past the planes.
        let inside = (y as u32) < N as u32 && (x as u32) < N as u32;
        let i = if inside {
            (c * N * N + y as usize * N + x as usize) & MASK
        } else {
            OFF_GRID
        };
        let fresh = cv.obs[i] == 0.0;
        cv.obs[i] = 1.0;
        // Recorded only the first time the cell is set, so at most one entry per cell.
        cv.cells[cv.len & MASK] = i as u16;
        cv.len += fresh as usize;
    }

    /// Draws sprite `k` (`k < Rules::SPRITES`) at cell `(y, x)` of channel `c`, or nowhere when the
    /// cell is off the grid. Branch-free.
    #[inline(always)]
    pub fn sprite(&mut self, k: usize, c: usize, y: i32, x: i32) {
        let cv = &mut *self.canvas;
        debug_assert!(c < MAX_CHANNELS && k < MAX_SPRITES);
        debug_assert!(
            cv.whole & (1 << c) == 0,
            "channel {c} is drawn whole with set_channel; draw a channel with one method"
        );
        debug_assert!(
            cv.sprites_now & (1 << k) == 0,
            "sprite {k} drawn twice in one frame"
        );
        if cfg!(debug_assertions) {
            cv.sprites_now |= 1 << k;
        }
        let inside = (y as u32) < N as u32 && (x as u32) < N as u32;
        let i = if inside {
            (c * N * N + y as usize * N + x as usize) & MASK
        } else {
            OFF_GRID
        };
        cv.obs[i] = 1.0;
        cv.sprites[k & (MAX_SPRITES - 1)] = i as u16;
    }

    /// `sprite` with the cell given as its index `(c * 10 + y) * 10 + x` in the observation, or
    /// `Grid::OFF_GRID` for none, for games that compute the index more cheaply themselves.
    #[inline(always)]
    pub fn sprite_index(&mut self, k: usize, i: usize) {
        debug_assert!(i == OFF_GRID || i < MAX_CHANNELS * N * N);
        if cfg!(debug_assertions) {
            let c = (i / (N * N)).min(MAX_CHANNELS - 1);
            debug_assert!(
                self.canvas.whole & (1 << c) == 0,
                "channel {c} is drawn whole with set_channel; draw a channel with one method"
            );
            debug_assert!(
                self.canvas.sprites_now & (1 << k) == 0,
                "sprite {k} drawn twice in one frame"
            );
            self.canvas.sprites_now |= 1 << k;
        }
        let i = i & MASK;
        self.canvas.obs[i] = 1.0;
        self.canvas.sprites[k & (MAX_SPRITES - 1)] = i as u16;
    }

    /// Sets channel `c` to exactly the cells of a 10x10 bitboard (bit `10 * y + x` is cell
    /// `(y, x)`), writing only the cells that changed since the previous frame.
    #[inline(always)]
    pub fn set_channel(&mut self, c: usize, bits: u128) {
        let cv = &mut *self.canvas;
        debug_assert!(c < MAX_CHANNELS);
        debug_assert!(
            cv.now & (1 << c) == 0,
            "channel {c} drawn twice in one frame"
        );
        if cfg!(debug_assertions) {
            cv.now |= 1 << c;
            cv.whole |= 1 << c;
        }
        let bits = bits & BOARD;
        let old = std::mem::replace(&mut cv.bits[c], bits);
        if old != bits {
            let base = c * N * N;
            write_bits(&mut cv.obs, base, bits & !old, 1.0);
            write_bits(&mut cv.obs, base, old & !bits, 0.0);
        }
    }
}

/// Writes `v` to the cells `base + k` of `obs` for the set bits `k` of `bits`.
#[inline(always)]
fn write_bits(obs: &mut [f32; CAP], base: usize, bits: u128, v: f32) {
    for (mut half, at) in [(bits as u64, base), ((bits >> 64) as u64, base + 64)] {
        while half != 0 {
            obs[(at + half.trailing_zeros() as usize) & MASK] = v;
            half &= half - 1;
        }
    }
}

/// The shell's drawing state: the observation, the cells `set` drew last frame and the channels
/// kept between frames.
#[derive(Debug, Clone)]
struct Canvas {
    obs: [f32; CAP],
    /// Indices into `obs` of the cells `set` drew in the last frame, each once: `cells[..len]`
    /// (then stale entries of earlier frames).
    cells: [u16; CAP],
    len: usize,
    /// The cell of each sprite slot in the last frame (`OFF_GRID` when it was off the grid).
    sprites: [u16; MAX_SPRITES],
    /// Each channel's bitboard as last drawn with `set_channel` (zero for the others).
    bits: [u128; MAX_CHANNELS],
    /// Debug builds only: channels ever drawn with `set_channel`, and those drawn this frame;
    /// sprites drawn this frame.
    whole: u16,
    now: u16,
    sprites_now: u32,
}

impl Canvas {
    fn new() -> Box<Canvas> {
        Box::new(Canvas {
            obs: [0.0; CAP],
            cells: [OFF_GRID as u16; CAP],
            len: 0,
            sprites: [OFF_GRID as u16; MAX_SPRITES],
            bits: [0; MAX_CHANNELS],
            whole: 0,
            now: 0,
            sprites_now: 0,
        })
    }

    /// Brings the observation from the previous frame to the game's current state.
    #[inline(always)]
    fn redraw<G: Rules>(&mut self, game: &G) {
        // In whole chunks of 8 cells, so that the loop count rarely changes and its branch is
        // predicted. Entries past `len` are stale cells drawn with `set` in earlier frames (or
        // the spare cell): clearing them again before drawing is harmless.
        let len = std::mem::take(&mut self.len);
        let n = (len + 7) & !7;
        for chunk in self.cells[..n.min(CAP)].chunks_exact(8) {
            for &i in chunk {
                self.obs[i as usize & MASK] = 0.0;
            }
        }
        // A constant count: unrolled, no loop branch.
        for k in 0..G::SPRITES {
            self.obs[self.sprites[k] as usize & MASK] = 0.0;
        }
        game.draw(&mut Grid { canvas: self });
        debug_assert_eq!(
            self.now, self.whole,
            "a channel drawn whole must be drawn in every frame"
        );
        debug_assert_eq!(
            self.sprites_now as u64,
            (1u64 << G::SPRITES) - 1,
            "every sprite must be drawn in every frame"
        );
        if cfg!(debug_assertions) {
            self.now = 0;
            self.sprites_now = 0;
        }
    }
}

/// Draws `game` into a zeroed `obs` (for tests that inspect a game's planes without the shell).
#[cfg(test)]
pub(crate) fn draw_planes<G: Rules>(game: &G, obs: &mut [f32]) {
    let mut canvas = Canvas::new();
    canvas.redraw(game);
    obs.copy_from_slice(&canvas.obs[..obs.len()]);
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
pub trait Rules: Send + 'static {
    /// Channel names, in observation order (their count is the channel count).
    const CHANNELS: &'static [&'static str];
    /// MinAtar's minimal action set for this game.
    const MINIMAL_ACTIONS: &'static [Action];
    /// Sprite slots the game draws (`Grid::sprite`), at most `MAX_SPRITES`.
    const SPRITES: usize = 0;
    /// A game in its initial state; `ramping` enables difficulty ramping.
    fn new(ramping: bool) -> Self;
    /// Starts a new episode.
    fn reset(&mut self, rng: &mut Rng);
    /// Applies one action (after sticky-action substitution); returns `(reward, terminal)`.
    fn act(&mut self, action: Action, rng: &mut Rng) -> (f32, bool);
    /// Sets the 1-cells of the current state (the grid arrives zeroed).
    fn draw(&self, grid: &mut Grid<'_>);
}

/// A game (its `Rules`) as an `Env`.
pub struct MinAtar<G: Rules> {
    id: String,
    game: G,
    rng: Rng,
    sticky: Chance,
    actions: &'static [Action],
    last_action: Action,
    phase: Phase,
    canvas: Box<Canvas>,
    obs_space: Space,
    act_space: Space,
    symbols: Vec<char>,
}

impl<G: Rules> MinAtar<G> {
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
        assert!(
            G::SPRITES <= MAX_SPRITES,
            "a MinAtar-style game has at most {MAX_SPRITES} sprites"
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
            sticky: Chance::new(sticky_action_prob),
            actions,
            last_action: Action::Noop,
            phase: Phase::Fresh,
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
        self.canvas.redraw(&self.game);
    }

    /// The observation: the first `C` planes of the canvas.
    #[inline(always)]
    fn planes(&self) -> &[f32] {
        &self.canvas.obs[..G::CHANNELS.len() * N * N]
    }
}

impl<G: Rules> Env for MinAtar<G> {
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
        self.planes()
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        self.phase.check_action(action, self.actions.len())?;
        let mut a = self.actions[action];
        if self.rng.hit(self.sticky) {
            a = self.last_action;
        }
        self.last_action = a;
        let (reward, terminated) = self.game.act(a, &mut self.rng);
        if terminated {
            self.phase = Phase::Over;
        }
        self.redraw();
        Ok(Step {
            obs: self.planes(),
            reward,
            terminated,
            truncated: false,
            info: Default::default(),
        })
    }
    fn obs(&self) -> &[f32] {
        self.planes()
    }
    fn render_text(&self) -> String {
        render::planes_text(self.planes(), G::CHANNELS.len(), N, N, &self.symbols)
    }
    fn render_rgb(&self) -> RgbFrame {
        render::planes_rgb(self.planes(), G::CHANNELS.len(), N, N)
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

fn spec_for<G: Rules>(id: &'static str, description: &str) -> EnvSpec {
    minatar_options(EnvSpec::new(id, description, move |o: &Options| {
        Ok(Box::new(MinAtar::<G>::new(
            id,
            o.float("sticky_action_prob"),
            o.bool("difficulty_ramping"),
            o.bool("minimal_actions"),
        )) as Box<dyn Env>)
    }))
}

/// The specs of the five games.
pub(crate) fn specs() -> Vec<EnvSpec> {
    vec![
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
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shell clears only the cells it set last frame: its observation must always equal a
    /// full redraw of the game state.
    fn incremental_redraw_matches_full<G: Rules>(id: &str) {
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
