//! Go's players: the Go-specific kinds of the game-generic [`Player`] trait, and Go matches.
//!
//! [`RandomPlayer`] ([`GoState::random_move`]: uniform over legal moves that do not fill its own
//! one-point eyes, superko respected; it answers even after the game ended, as GTP may ask) and
//! [`GtpPlayer`] (an external engine over GTP, `gtp:"COMMAND LINE"`, which replays the game to
//! the engine as needed) implement [`Player<GoState>`]. The search players of the `agents` crate
//! (`uct:SIMS`, `az:RUN_DIR`) implement it too and are made by the runner, which tries its own
//! forms before [`parse_player`]. [`genmove`] turns a player's [`Decision`] into a Go [`Move`].
//!
//! An external engine is never waited on without bound, with two limits ([`GtpTimeouts`]): the
//! handshake timeout for starting up and setting up a game (`protocol_version`, `boardsize`,
//! `clear_board`, `komi`, `play`; [`GTP_HANDSHAKE_TIMEOUT_VAR`], default
//! [`DEFAULT_GTP_HANDSHAKE_TIMEOUT`]) and the per-move timeout for each `genmove`
//! ([`GTP_MOVE_TIMEOUT_VAR`], default [`DEFAULT_GTP_MOVE_TIMEOUT`]). Every answer holds at most
//! [`GTP_ANSWER_LIMIT`] bytes. An engine that breaks either is given up with an error naming the
//! command, the limit and the variable that sets it.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::board::{Color, parse_vertex};
use super::state::{GoState, Move};
use crate::player::Player;
pub use crate::player::{Decision, PlayerError, elo};
use crate::rng::Rng;

/// The player specs `ember` accepts, for error messages.
pub const ACCEPTED_SPECS: &str =
    "random, uct:SIMS, az:RUN_DIR[:SIMS], gtp:\"COMMAND LINE\" (e.g. gtp:\"gnugo --mode gtp\")";

/// Asks `player` for a move in `state`: its decision as a Go [`Move`].
pub fn genmove<P: Player<GoState> + ?Sized>(
    player: &mut P,
    state: &GoState,
) -> Result<Move, PlayerError> {
    Ok(match player.decide(state)? {
        Decision::Resign => Move::Resign,
        Decision::Act(a) => state.move_of(a).ok_or_else(|| PlayerError::Failed {
            player: player.name(),
            msg: format!(
                "chose action {a}, not a move on a {0}x{0} board",
                state.size()
            ),
        })?,
    })
}

fn unknown(spec: &str) -> PlayerError {
    PlayerError::UnknownSpec {
        spec: spec.into(),
        accepted: ACCEPTED_SPECS.into(),
    }
}

/// Plays [`GoState::random_move`].
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

impl Player<GoState> for RandomPlayer {
    fn name(&self) -> String {
        "random".into()
    }
    fn decide(&mut self, state: &GoState) -> Result<Decision, PlayerError> {
        let mv = state.random_move(&mut self.rng, &mut self.buf);
        Ok(Decision::Act(
            state.action_of(mv).expect("a point or a pass"),
        ))
    }
    fn seed(&mut self, seed: u64) {
        self.rng = Rng::new(seed);
    }
}

/// The environment variable that sets the handshake timeout of external GTP engines, in
/// seconds: how long an engine may take to answer `protocol_version` after it starts, and each
/// command that sets up a game (`boardsize`, `clear_board`, `komi`, `play`).
pub const GTP_HANDSHAKE_TIMEOUT_VAR: &str = "EMBER_GTP_HANDSHAKE_TIMEOUT";

/// The environment variable that sets the per-move timeout of external GTP engines, in seconds:
/// how long an engine may think over one `genmove`.
pub const GTP_MOVE_TIMEOUT_VAR: &str = "EMBER_GTP_MOVE_TIMEOUT";

/// Sets both timeouts at once (the two variables above take precedence over it).
pub const GTP_TIMEOUT_VAR: &str = "EMBER_GTP_TIMEOUT";

/// The handshake timeout when no variable sets it: an engine that loads a large network
/// (KataGo on a CPU) starts within it; GNU Go answers at once.
pub const DEFAULT_GTP_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The per-move timeout when no variable sets it: GNU Go at level 10 on 19x19 takes seconds a
/// move, well inside it.
pub const DEFAULT_GTP_MOVE_TIMEOUT: Duration = Duration::from_secs(120);

/// The most bytes one answer of an external GTP engine may hold (1 MiB).
pub const GTP_ANSWER_LIMIT: usize = 1 << 20;

/// How long an external GTP engine may take to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GtpTimeouts {
    /// Starting up (`protocol_version`) and each command that sets up a game.
    pub handshake: Duration,
    /// Each `genmove`.
    pub per_move: Duration,
}

impl Default for GtpTimeouts {
    fn default() -> Self {
        GtpTimeouts {
            handshake: DEFAULT_GTP_HANDSHAKE_TIMEOUT,
            per_move: DEFAULT_GTP_MOVE_TIMEOUT,
        }
    }
}

impl GtpTimeouts {
    /// Both limits set to `t` (tests, callers with one budget).
    pub fn both(t: Duration) -> GtpTimeouts {
        GtpTimeouts {
            handshake: t,
            per_move: t,
        }
    }

    /// The limits the environment sets: [`GTP_HANDSHAKE_TIMEOUT_VAR`] and
    /// [`GTP_MOVE_TIMEOUT_VAR`], each falling back to [`GTP_TIMEOUT_VAR`], then to the defaults.
    /// A value that is not a number of seconds in (0, 1000000] is an error naming the variable.
    pub fn from_env() -> Result<GtpTimeouts, PlayerError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables looked up by `get`.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<GtpTimeouts, PlayerError> {
        let var = |name: &str| -> Result<Option<Duration>, PlayerError> {
            get(name).map(|v| seconds(name, &v)).transpose()
        };
        let both = var(GTP_TIMEOUT_VAR)?;
        Ok(GtpTimeouts {
            handshake: var(GTP_HANDSHAKE_TIMEOUT_VAR)?
                .or(both)
                .unwrap_or(DEFAULT_GTP_HANDSHAKE_TIMEOUT),
            per_move: var(GTP_MOVE_TIMEOUT_VAR)?
                .or(both)
                .unwrap_or(DEFAULT_GTP_MOVE_TIMEOUT),
        })
    }
}

/// `v`, the value of the variable `name`, as a timeout.
fn seconds(name: &str, v: &str) -> Result<Duration, PlayerError> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 1e6)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| PlayerError::BadSpec {
            spec: format!("{name}={v}"),
            why: "expected a number of seconds greater than 0 and at most 1000000".into(),
        })
}

/// Which of the two limits a command answers under.
#[derive(Debug, Clone, Copy)]
enum Limit {
    Handshake,
    Move,
}

/// An external GTP engine (GNU Go, KataGo, another `ember gtp`), run as a child process.
pub struct GtpPlayer {
    cmd: String,
    child: Child,
    stdin: ChildStdin,
    /// The engine's output lines, read on their own thread (`None`: it closed its output).
    lines: Receiver<std::io::Result<Option<String>>>,
    /// How long an answer may take.
    timeouts: GtpTimeouts,
    /// Why the engine was given up (a timeout leaves its answers out of step with the commands).
    broken: Option<String>,
    /// The game as the engine knows it: size, komi and moves.
    synced: Option<(usize, f32)>,
    moves: Vec<(Color, Move)>,
}

impl std::fmt::Debug for GtpPlayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GtpPlayer({})", self.cmd)
    }
}

/// Sends the lines of `out` (each at most [`GTP_ANSWER_LIMIT`] bytes) to `tx` until the end of
/// the output or the receiver is gone.
fn forward_lines(out: impl Read, tx: std::sync::mpsc::Sender<std::io::Result<Option<String>>>) {
    let mut out = BufReader::new(out);
    loop {
        let mut buf = Vec::new();
        let got = (&mut out)
            .take(GTP_ANSWER_LIMIT as u64 + 1)
            .read_until(b'\n', &mut buf);
        let msg = match got {
            Ok(0) => Ok(None),
            Ok(_) if buf.len() > GTP_ANSWER_LIMIT => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "an answer line longer than {}",
                    crate::files::bytes(GTP_ANSWER_LIMIT as u64)
                ),
            )),
            Ok(_) => Ok(Some(String::from_utf8_lossy(&buf).into_owned())),
            Err(e) => Err(e),
        };
        let end = !matches!(msg, Ok(Some(_)));
        if tx.send(msg).is_err() || end {
            return;
        }
    }
}

impl GtpPlayer {
    /// Starts `cmd` with `sh -c` and checks that it speaks GTP, with the timeouts the
    /// environment sets ([`GtpTimeouts::from_env`]).
    pub fn spawn(cmd: &str) -> Result<GtpPlayer, PlayerError> {
        Self::spawn_with_timeouts(cmd, GtpTimeouts::from_env()?)
    }

    /// Starts `cmd` with `sh -c` and checks that it speaks GTP (answers `protocol_version`
    /// within the handshake timeout); later answers come within the handshake timeout too, each
    /// `genmove` within the per-move one.
    pub fn spawn_with_timeouts(cmd: &str, timeouts: GtpTimeouts) -> Result<GtpPlayer, PlayerError> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {cmd}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| PlayerError::Spawn {
                cmd: cmd.into(),
                msg: e.to_string(),
            })?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || forward_lines(stdout, tx));
        let mut p = GtpPlayer {
            cmd: cmd.into(),
            child,
            stdin,
            lines,
            timeouts,
            broken: None,
            synced: None,
            moves: Vec::new(),
        };
        p.command("protocol_version")
            .map_err(|e| PlayerError::Spawn {
                cmd: cmd.into(),
                msg: format!("it does not answer GTP ({e})"),
            })?;
        Ok(p)
    }

    fn err(&self, msg: String) -> PlayerError {
        PlayerError::Engine {
            cmd: self.cmd.clone(),
            msg,
        }
    }

    /// Sends one command and returns the text of a successful answer. An answer that does not
    /// come within the timeout is an error, and so is every later command (the engine's answers
    /// would no longer match the commands). `genmove` answers under the per-move timeout, every
    /// other command under the handshake timeout.
    pub fn command(&mut self, line: &str) -> Result<String, PlayerError> {
        let limit = if line.trim_start().starts_with("genmove") {
            Limit::Move
        } else {
            Limit::Handshake
        };
        if let Some(why) = &self.broken {
            return Err(self.err(format!("cannot send `{line}`: {why}")));
        }
        writeln!(self.stdin, "{line}")
            .and_then(|_| self.stdin.flush())
            .map_err(|e| self.err(format!("cannot send `{line}`: {e}")))?;
        let (timeout, which, var) = match limit {
            Limit::Handshake => (
                self.timeouts.handshake,
                "handshake timeout",
                GTP_HANDSHAKE_TIMEOUT_VAR,
            ),
            Limit::Move => (
                self.timeouts.per_move,
                "per-move timeout",
                GTP_MOVE_TIMEOUT_VAR,
            ),
        };
        let deadline = Instant::now() + timeout;
        let mut answer = String::new();
        let mut started = false;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            let l = match self.lines.recv_timeout(wait) {
                Ok(Ok(Some(l))) => l,
                Ok(Ok(None)) | Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.err(format!("the engine exited while answering `{line}`")));
                }
                Ok(Err(e)) => {
                    let why = format!("reading the answer to `{line}`: {e}");
                    self.broken = Some(why.clone());
                    return Err(self.err(why));
                }
                Err(RecvTimeoutError::Timeout) => {
                    let why = format!(
                        "no answer to `{line}` within {} s, the {which} (set {var}=SECONDS to wait longer)",
                        timeout.as_secs_f64()
                    );
                    self.broken = Some(why.clone());
                    return Err(self.err(why));
                }
            };
            let l = l.trim_end_matches(['\r', '\n']);
            if !started {
                if l.trim().is_empty() {
                    continue;
                }
                started = true;
            } else if l.is_empty() {
                break;
            }
            if answer.len() + l.len() > GTP_ANSWER_LIMIT {
                let why = format!(
                    "the answer to `{line}` is longer than {}",
                    crate::files::bytes(GTP_ANSWER_LIMIT as u64)
                );
                self.broken = Some(why.clone());
                return Err(self.err(why));
            }
            answer.push_str(l);
            answer.push('\n');
        }
        let answer = answer.trim_end().to_string();
        match answer.chars().next() {
            Some('=') => Ok(strip_id(&answer[1..]).to_string()),
            Some('?') => Err(self.err(format!("`{line}` failed: {}", strip_id(&answer[1..])))),
            _ => Err(self.err(format!("malformed answer to `{line}`: {answer:?}"))),
        }
    }

    /// Brings the engine's game up to `state`: a new game when it diverged, then the missing
    /// moves.
    fn sync(&mut self, state: &GoState) -> Result<(), PlayerError> {
        if !state.setup().is_empty() {
            return Err(self.err(
                "games from setup positions (SGF AB/AW) cannot be replayed to a GTP engine".into(),
            ));
        }
        let size = state.size();
        let same_game = self.synced == Some((size, state.komi()))
            && self.moves.len() <= state.move_count()
            && state.moves().zip(&self.moves).all(|(a, b)| a == *b);
        if !same_game {
            self.command(&format!("boardsize {size}"))?;
            self.command("clear_board")?;
            self.command(&format!("komi {}", state.komi()))?;
            self.synced = Some((size, state.komi()));
            self.moves.clear();
        }
        for (c, m) in state.moves().skip(self.moves.len()).collect::<Vec<_>>() {
            if m != Move::Resign {
                self.command(&format!("play {} {}", c.letter(), state.move_name(m)))?;
            }
            self.moves.push((c, m));
        }
        Ok(())
    }
}

impl Player<GoState> for GtpPlayer {
    fn name(&self) -> String {
        format!("gtp:{}", self.cmd)
    }
    fn decide(&mut self, state: &GoState) -> Result<Decision, PlayerError> {
        Ok(match self.genmove(state)? {
            Move::Resign => Decision::Resign,
            m => Decision::Act(state.action_of(m).expect("a point or a pass")),
        })
    }
    fn new_game(&mut self) {
        // The next `decide` finds the game diverged and starts the engine's anew.
        self.synced = None;
        self.moves.clear();
    }
}

impl GtpPlayer {
    /// The engine's move in `state` (synchronising its game first).
    pub fn genmove(&mut self, state: &GoState) -> Result<Move, PlayerError> {
        self.sync(state)?;
        let c = state.to_play();
        let ans = self.command(&format!("genmove {}", c.letter()))?;
        let mv = match ans.trim().to_ascii_lowercase().as_str() {
            "pass" => Move::Pass,
            "resign" => Move::Resign,
            v => match parse_vertex(v, state.size()) {
                Some((x, y)) => Move::Play(state.board().point(x, y)),
                None => return Err(self.err(format!("genmove answered `{ans}`, not a move"))),
            },
        };
        self.moves.push((c, mv));
        Ok(mv)
    }
}

impl Drop for GtpPlayer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        // Give the engine a moment to exit on its own, then make sure it is gone.
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strip_id(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii_digit()).trim()
}

/// Makes a player from a spec: `random` or `gtp:"COMMAND LINE"`. Search players (`uct:`, `az:`)
/// are made by the crates that define them; here they are reported as unavailable.
pub fn parse_player(spec: &str, seed: u64) -> Result<Box<dyn Player<GoState>>, PlayerError> {
    let s = spec.trim();
    if s == "random" {
        return Ok(Box::new(RandomPlayer::new(seed)));
    }
    if let Some(cmd) = s.strip_prefix("gtp:") {
        let cmd = cmd.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        if cmd.is_empty() {
            return Err(unknown(spec));
        }
        return Ok(Box::new(GtpPlayer::spawn(cmd)?));
    }
    if s.starts_with("uct:") || s.starts_with("az:") {
        return Err(PlayerError::Unavailable {
            spec: spec.into(),
            why: "search players come from the agents crate (ember's command line)".into(),
        });
    }
    Err(unknown(spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_checked() {
        let e = parse_player("alphago", 0).err().unwrap().to_string();
        assert!(e.contains("random") && e.contains("gtp:"), "{e}");
        assert!(parse_player("uct:100", 0).is_err());
        assert!(parse_player("gtp:", 0).is_err());
        assert!(parse_player("random", 0).is_ok());
        let e = parse_player("gtp:/nonexistent/engine", 0)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("/nonexistent/engine"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn an_engine_that_never_answers_times_out() {
        // `cat` echoes each command back and never ends an answer with a blank line.
        let t = std::time::Instant::now();
        let quick = GtpTimeouts {
            handshake: Duration::from_millis(300),
            per_move: Duration::from_millis(500),
        };
        let e = GtpPlayer::spawn_with_timeouts("cat", quick)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("no answer to `protocol_version` within 0.3 s, the handshake timeout")
                && e.contains(GTP_HANDSHAKE_TIMEOUT_VAR),
            "{e}"
        );
        // `sleep` reads nothing and writes nothing.
        let e = GtpPlayer::spawn_with_timeouts("sleep 30", quick)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("no answer to `protocol_version`"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        // An engine that answers the handshake, then hangs on `genmove`.
        let script = std::env::temp_dir().join(format!("ember-hang-{}.sh", std::process::id()));
        std::fs::write(
            &script,
            "read l; printf '= 2\\n\\n'\n\
             while read l; do case $l in genmove*) ;; *) printf '=\\n\\n';; esac; done\n",
        )
        .unwrap();
        let mut p =
            GtpPlayer::spawn_with_timeouts(&format!("sh {}", script.display()), quick).unwrap();
        std::fs::remove_file(&script).unwrap();
        let state = GoState::new(9, 7.5).unwrap();
        let e = p.genmove(&state).unwrap_err().to_string();
        assert!(
            e.contains("no answer to `genmove B` within 0.5 s, the per-move timeout")
                && e.contains(GTP_MOVE_TIMEOUT_VAR),
            "{e}"
        );
        let e = p.genmove(&state).unwrap_err().to_string();
        assert!(e.contains("cannot send"), "{e}");
    }

    #[test]
    fn timeouts_come_from_their_variables() {
        let from = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            GtpTimeouts::from_vars(move |name| {
                pairs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
        };
        let s = Duration::from_secs;
        assert_eq!(from(&[]).unwrap(), GtpTimeouts::default());
        assert_eq!(
            from(&[(GTP_TIMEOUT_VAR, "5")]).unwrap(),
            GtpTimeouts::both(s(5))
        );
        let t = from(&[(GTP_TIMEOUT_VAR, "5"), (GTP_MOVE_TIMEOUT_VAR, "600")]).unwrap();
        assert_eq!((t.handshake, t.per_move), (s(5), s(600)));
        let t = from(&[(GTP_HANDSHAKE_TIMEOUT_VAR, "0.5")]).unwrap();
        assert_eq!(
            (t.handshake, t.per_move),
            (Duration::from_millis(500), DEFAULT_GTP_MOVE_TIMEOUT)
        );
        for bad in ["0", "-1", "NaN", "soon", "1e7"] {
            let e = from(&[(GTP_MOVE_TIMEOUT_VAR, bad)])
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("{GTP_MOVE_TIMEOUT_VAR}={bad}")), "{e}");
        }
    }
}
