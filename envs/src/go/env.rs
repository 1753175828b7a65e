//! `Go5x5-v0` … `Go19x19-v0`: Go as a single-agent environment.
//!
//! The agent plays one colour (option `color`, Black by default) against an opponent player
//! (option `opponent`, `random` by default; any spec of `player::parse_player`). One step is the
//! agent's move followed by the opponent's reply; when the agent plays White, the opponent's first
//! move is made by `reset`. Actions are `0..N*N` (row-major from the top-left, as GTP's `A19` is
//! action 0 on 19x19) and `N*N` = pass; the action mask is the agent's legal moves under the full
//! rules (positional superko). The reward is `+1`/`-1`/`0` when the game ends (two passes or a
//! resignation, by area score with komi), `0` before. The option `max_moves` (default `4*N*N`)
//! cuts a game that runs too long: that step is *truncated*, with reward 0.
//!
//! Observations are the `[10, N, N]` planes of `state` from the agent's view. The opponent's
//! randomness is seeded from the environment's own generator at every reset, so a seed fixes the
//! whole episode.

use super::board::Color;
use super::player::{genmove, parse_player};
use super::state::{CHANNELS, GoState, Move};
use crate::env::Phase;
use crate::game::Game;
use crate::player::Player;
use crate::rng::Rng;
use crate::spec::EnvSpec;
use crate::{Env, EnvError, LegendEntry, OptSpec, Options, RgbFrame, Space, Step};

/// The Go environment.
pub struct GoEnv {
    id: String,
    fresh: GoState,
    state: GoState,
    agent: Color,
    opponent: Box<dyn Player<GoState>>,
    rng: Rng,
    phase: Phase,
    obs: Vec<f32>,
    mask: Vec<bool>,
    obs_space: Space,
    act_space: Space,
    /// An opponent failure during `reset`, reported by the next `step`.
    pending: Option<String>,
}

impl GoEnv {
    /// A Go environment on a `size x size` board.
    pub fn new(
        size: usize,
        komi: f32,
        agent: Color,
        opponent: Box<dyn Player<GoState>>,
        max_moves: u32,
        superko: bool,
    ) -> Result<GoEnv, EnvError> {
        let fresh = GoState::new(size, komi)
            .map_err(EnvError::Other)?
            .with_max_moves(max_moves)
            .with_superko(superko);
        // The playing state keeps its capacity across resets (`clone_from`), so reserving once
        // keeps steps allocation-free.
        let mut state = fresh.clone();
        state.reserve_moves(max_moves as usize);
        let [c, h, w] = fresh.observation_shape();
        let n = fresh.num_actions();
        Ok(GoEnv {
            id: format!("Go{size}x{size}-v0"),
            state,
            fresh,
            agent,
            opponent,
            rng: Rng::new(0),
            phase: Phase::Fresh,
            obs: vec![0.0; c * h * w],
            mask: vec![false; n],
            obs_space: Space::uniform_box(&[c, h, w], 0.0, 1.0),
            act_space: Space::Discrete { n },
            pending: None,
        })
    }

    /// The game as it stands.
    pub fn state(&self) -> &GoState {
        &self.state
    }
    /// The colour the agent plays.
    pub fn agent_color(&self) -> Color {
        self.agent
    }
    /// The opponent's name.
    pub fn opponent_name(&self) -> String {
        self.opponent.name()
    }
    /// Replaces the opponent (a player made outside this crate, such as the runner's search
    /// players), from the next [`Env::reset`] on.
    pub fn set_opponent(&mut self, opponent: Box<dyn Player<GoState>>) {
        self.opponent = opponent;
        self.phase = Phase::Fresh;
        self.pending = None;
    }

    fn refresh(&mut self) {
        self.state.observe_as(self.agent, &mut self.obs);
        if self.phase == Phase::Running {
            self.state.legal_mask(&mut self.mask);
        } else {
            self.mask.fill(false);
        }
    }

    /// Lets the opponent move if it is its turn; errors describe the opponent's failure.
    fn opponent_moves(&mut self) -> Result<(), String> {
        if self.state.is_over() || self.state.to_play() == self.agent {
            return Ok(());
        }
        let c = self.state.to_play();
        let mv = genmove(&mut *self.opponent, &self.state).map_err(|e| e.to_string())?;
        self.state.play(c, mv).map_err(|e| {
            format!(
                "the opponent ({}) played an illegal move {}: {e}",
                self.opponent.name(),
                self.state.move_name(mv)
            )
        })?;
        Ok(())
    }

    /// `(reward, terminated, truncated)` of the state now.
    fn outcome(&self) -> (f32, bool, bool) {
        if !self.state.is_over() {
            return (0.0, false, false);
        }
        if self.state.hit_move_limit() && self.state.passes() < 2 && self.state.resigned().is_none()
        {
            return (0.0, false, true);
        }
        let r = match self.state.winner() {
            Some(c) if c == self.agent => 1.0,
            Some(_) => -1.0,
            None => 0.0,
        };
        (r, true, false)
    }
}

impl Env for GoEnv {
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
        self.opponent.seed(self.rng.next_u64());
        self.state.clone_from(&self.fresh);
        self.phase = Phase::Running;
        self.pending = self.opponent_moves().err();
        self.refresh();
        &self.obs
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        self.phase.check_action(action, self.mask.len())?;
        if let Some(e) = self.pending.take() {
            self.phase = Phase::Over;
            return Err(EnvError::Other(e));
        }
        if !self.mask[action] {
            let mv = self.state.move_of(action).expect("in range");
            let why = match mv {
                Move::Play(p) => self
                    .state
                    .check(self.agent, p)
                    .err()
                    .map_or_else(|| "not legal now".to_string(), |e| e.to_string()),
                _ => "not legal now".into(),
            };
            return Err(EnvError::IllegalAction {
                action,
                reason: format!("{}: {why}", self.state.move_name(mv)),
            });
        }
        let mv = self.state.move_of(action).expect("in range");
        self.state
            .play(self.agent, mv)
            .map_err(|e| EnvError::IllegalAction {
                action,
                reason: e.to_string(),
            })?;
        if let Err(e) = self.opponent_moves() {
            self.phase = Phase::Over;
            return Err(EnvError::Other(e));
        }
        let (reward, terminated, truncated) = self.outcome();
        if terminated || truncated {
            self.phase = Phase::Over;
        }
        self.refresh();
        Ok(Step {
            obs: &self.obs,
            reward,
            terminated,
            truncated,
            info: Default::default(),
        })
    }
    fn obs(&self) -> &[f32] {
        &self.obs
    }
    fn action_mask(&self) -> Option<&[bool]> {
        Some(&self.mask)
    }
    fn render_text(&self) -> String {
        let mut s = self.state.render_board();
        s.push_str(&format!(
            "agent: {}  opponent: {} ({})\n",
            self.agent,
            self.opponent.name(),
            self.agent.opp()
        ));
        if self.state.is_over() {
            s.push_str(&format!("result: {}\n", self.state.result_string()));
        }
        s
    }
    fn render_rgb(&self) -> RgbFrame {
        render_rgb(&self.state, 16)
    }
    fn legend(&self) -> Vec<LegendEntry> {
        vec![
            LegendEntry {
                name: "black stone".into(),
                rgb: [10, 10, 10],
            },
            LegendEntry {
                name: "white stone".into(),
                rgb: [245, 245, 245],
            },
            LegendEntry {
                name: "last move".into(),
                rgb: [220, 40, 40],
            },
            LegendEntry {
                name: "board".into(),
                rgb: BOARD,
            },
        ]
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(self)
    }
}

const BOARD: [u8; 3] = [219, 179, 92];

/// The board as a picture: `cell` pixels per point, grid lines, stones as discs, the last move
/// marked with a red dot.
pub fn render_rgb(state: &GoState, cell: usize) -> RgbFrame {
    let n = state.size();
    let side = n * cell;
    let mut f = RgbFrame::new(side, side);
    for px in f.data.chunks_mut(3) {
        px.copy_from_slice(&BOARD);
    }
    let half = cell / 2;
    for i in 0..n {
        let c = i * cell + half;
        for t in half..=(n - 1) * cell + half {
            f.set(t, c, [60, 40, 20]);
            f.set(c, t, [60, 40, 20]);
        }
    }
    let last = match state.last_move() {
        Some((_, Move::Play(p))) => Some(p),
        _ => None,
    };
    let r2 = ((cell as f64 / 2.0 - 0.5).powi(2)) as i64;
    let b = state.board();
    for p in b.points() {
        let Some(color) = b.stone(p) else { continue };
        let (x, y) = b.xy(p);
        let (cx, cy) = ((x * cell + half) as i64, (y * cell + half) as i64);
        let rgb = if color == Color::Black {
            [10, 10, 10]
        } else {
            [245, 245, 245]
        };
        for dy in -(half as i64)..=(half as i64) {
            for dx in -(half as i64)..=(half as i64) {
                let (px, py) = (cx + dx, cy + dy);
                if dx * dx + dy * dy <= r2
                    && px >= 0
                    && py >= 0
                    && (px as usize) < side
                    && (py as usize) < side
                {
                    let d2 = dx * dx + dy * dy;
                    let mark = last == Some(p) && d2 <= (cell as i64 / 6).pow(2).max(1);
                    f.set(
                        px as usize,
                        py as usize,
                        if mark { [220, 40, 40] } else { rgb },
                    );
                }
            }
        }
    }
    f
}

/// The specs of `Go5x5-v0` … `Go19x19-v0`.
pub fn specs() -> Vec<EnvSpec> {
    let mut specs = Vec::new();
    for n in super::board::MIN_SIZE..=super::board::MAX_SIZE {
        let id = format!("Go{n}x{n}-v0");
        let default_cap = (4 * n * n) as i64;
        let spec = EnvSpec::new(
            &id,
            &format!(
                "Go on a {n}x{n} board against an opponent: area scoring, positional superko, reward +1/-1/0 at the end"
            ),
            move |o: &Options| make(n, o),
        )
        .option(OptSpec::float("komi", 7.5, -1000.0, 1000.0, "komi given to White"))
        .option(OptSpec::choice("color", "black", &["black", "white"], "the colour the agent plays"))
        .option(OptSpec::string(
            "opponent",
            "random",
            "the opponent: random, or gtp:\"COMMAND LINE\" (an external GTP engine)",
        ))
        .option(OptSpec::int(
            "max_moves",
            default_cap,
            0,
            1_000_000,
            "moves (both sides, passes included) after which the game is truncated (0: no limit)",
        ))
        .option(OptSpec::bool("superko", true, "positional superko (false: simple ko only)"))
        .option(OptSpec::int("opponent_seed", 0, 0, i64::MAX, "added to the opponent's per-episode seed"));
        specs.push(spec);
    }
    specs
}

fn make(n: usize, o: &Options) -> Result<Box<dyn Env>, EnvError> {
    let id = format!("Go{n}x{n}-v0");
    let spec = o.str("opponent");
    let opponent = parse_player(spec, o.int("opponent_seed") as u64).map_err(|e| {
        EnvError::BadOptionValue {
            env: id.clone(),
            key: "opponent".into(),
            value: spec.into(),
            expected: format!("a player ({e})"),
        }
    })?;
    let agent = if o.str("color") == "white" {
        Color::White
    } else {
        Color::Black
    };
    let env = GoEnv::new(
        n,
        o.float("komi") as f32,
        agent,
        opponent,
        o.int("max_moves") as u32,
        o.bool("superko"),
    )?;
    Ok(Box::new(env))
}

/// Channel names of the observation (for renderers and docs).
pub fn channel_names() -> &'static [&'static str] {
    &CHANNELS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{check_env, make as make_env};

    #[test]
    fn every_size_passes_check_env() {
        for n in [5, 9, 13, 19] {
            let id = format!("Go{n}x{n}-v0");
            let r = check_env(|| make_env(&id, &[] as &[(&str, &str)]).unwrap()).unwrap();
            assert_eq!(r.episodes, 3);
            assert!(r.terminated + r.truncated == 3, "{id}: {r:?}");
        }
        let r = check_env(|| make_env("Go7x7-v0", &[("color", "white"), ("komi", "0.5")]).unwrap())
            .unwrap();
        assert!(r.terminated + r.truncated == 3);
    }

    #[test]
    fn options_are_validated() {
        let e = make_env("Go9x9-v0", &[("opponent", "deep-blue")])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("opponent") && e.contains("gtp:"), "{e}");
        assert!(make_env("Go9x9-v0", &[("color", "red")]).is_err());
        assert!(make_env("Go4x4-v0", &[] as &[(&str, &str)]).is_err());
        assert!(make_env("Go20x20-v0", &[] as &[(&str, &str)]).is_err());
    }

    #[test]
    fn illegal_moves_are_errors_and_rewards_follow_the_score() {
        let mut env = make_env("Go5x5-v0", &[("komi", "0.5")]).unwrap();
        env.reset(Some(1));
        env.step(12).unwrap();
        // The centre is occupied now.
        let e = env.step(12).unwrap_err();
        assert!(matches!(e, EnvError::IllegalAction { .. }), "{e}");
        // Passing until the end: the reward has the sign of the area score.
        let mut last = None;
        for _ in 0..200 {
            let s = env.step(25).unwrap();
            if s.done() {
                last = Some((s.reward, s.terminated));
                break;
            }
        }
        let (r, term) = last.expect("the game ends");
        assert!(term);
        assert!(r == 1.0 || r == -1.0 || r == 0.0);
        assert!(env.render_text().contains("result"));
    }

    #[test]
    fn move_limit_truncates() {
        let mut env = make_env("Go9x9-v0", &[("max_moves", "6")]).unwrap();
        env.reset(Some(0));
        let mut steps = 0;
        loop {
            let a = (0..82)
                .find(|&a| env.action_mask().unwrap()[a] && a != 81)
                .unwrap();
            let s = env.step(a).unwrap();
            steps += 1;
            if s.done() {
                assert!(s.truncated && !s.terminated && s.reward == 0.0);
                break;
            }
        }
        assert_eq!(steps, 3);
    }
}
