//! A GTP version 2 engine (the Go Text Protocol of GNU Go, GoGui, Sabaki, twogtp, KGS).
//!
//! The engine owns a full-rules [`GoState`] and a [`Player`] that answers `genmove`. It handles
//! one line at a time ([`GtpEngine::handle`]) and never fails on input: every malformed command
//! gets an error answer and leaves the game unchanged, as the protocol asks. Input is cleaned as
//! GTP specifies (control characters dropped, `#` comments removed, tabs made spaces, empty lines
//! skipped) and an optional numeric id is echoed back.
//!
//! Commands: the required set (`protocol_version name version known_command list_commands quit
//! boardsize clear_board komi play genmove`), the tournament and regression ones (`undo showboard
//! final_score loadsgf printsgf time_settings time_left reg_genmove`) and GNU Go's extensions used
//! by tools (`list_stones all_legal is_legal captures color countlib`), and the analysis commands
//! of Leela Zero and KataGo (`lz-analyze`, `kata-analyze`: candidate moves with visits, win
//! rates, priors and principal variations streamed until the next command, for Sabaki and
//! Lizzie) when the player searches. Error texts follow GNU Go:
//! `unknown command`, `invalid coordinate`, `invalid color`, `illegal move`, `unacceptable size`,
//! `cannot undo`, `syntax error`.
//!
//! Safe to expose to untrusted input (a GUI, a game-server bridge): an engine touches no file
//! unless given an SGF directory ([`GtpEngine::with_sgf_dir`]), and then only regular files
//! inside it (no `..`, no symlink leading out, at most [`SGF_LIMIT`] bytes read); [`GtpEngine::run`]
//! reads at most [`LINE_LIMIT`] bytes of a line (a longer one is answered with an error and
//! skipped, the connection kept).

use std::io::{self, BufRead, Write};
use std::path::{Component, Path, PathBuf};

use super::board::{Color, EMPTY, MAX_SIZE, MIN_SIZE, parse_vertex};
use super::player::genmove;
use super::sgf::{GameRecord, today};
use super::state::{GoState, Move, fmt_num};
use crate::player::Player;

/// Every command the engine knows, as `list_commands` prints them.
pub const COMMANDS: &[&str] = &[
    "protocol_version",
    "name",
    "version",
    "known_command",
    "list_commands",
    "quit",
    "boardsize",
    "clear_board",
    "komi",
    "play",
    "genmove",
    "reg_genmove",
    "undo",
    "showboard",
    "final_score",
    "loadsgf",
    "printsgf",
    "time_settings",
    "time_left",
    "list_stones",
    "all_legal",
    "is_legal",
    "captures",
    "color",
    "countlib",
    "lz-analyze",
    "kata-analyze",
];

/// The longest command line [`GtpEngine::run`] reads (64 KiB); a longer one is answered
/// `? line too long` and skipped, and the engine goes on with the next line.
pub const LINE_LIMIT: usize = 64 << 10;

/// The largest SGF file `loadsgf` reads (16 MiB).
pub const SGF_LIMIT: u64 = 16 << 20;

/// What [`GtpEngine::run`]'s reader hands over: a line, or the first bytes of one that exceeded
/// [`LINE_LIMIT`] (kept to echo its id).
enum Input {
    Line(Vec<u8>),
    TooLong(Vec<u8>),
}

/// Reads one line of at most `limit` bytes (without its `\n`) from `r`, holding no more than
/// `limit` bytes whatever the input; `None` at the end of the input.
fn read_line_bounded<R: BufRead>(r: &mut R, limit: usize) -> io::Result<Option<Input>> {
    let mut buf = Vec::new();
    let mut too_long = false;
    let mut any = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(match (any, too_long) {
                (false, _) => None,
                (true, false) => Some(Input::Line(buf)),
                (true, true) => Some(Input::TooLong(buf)),
            });
        }
        any = true;
        let (chunk, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..i], i + 1),
            None => (avail, avail.len()),
        };
        let newline = done > chunk.len();
        if !too_long && buf.len() + chunk.len() <= limit {
            buf.extend_from_slice(chunk);
        } else if !too_long {
            too_long = true;
            buf.extend_from_slice(&chunk[..chunk.len().min(64)]);
            buf.truncate(64);
            buf.shrink_to_fit();
        }
        r.consume(done);
        if newline {
            return Ok(Some(if too_long {
                Input::TooLong(buf)
            } else {
                Input::Line(buf)
            }));
        }
    }
}

/// A GTP engine around a player.
pub struct GtpEngine {
    state: GoState,
    player: Box<dyn Player<GoState>>,
    quit: bool,
    /// The directory (canonical) inside which `loadsgf FILE` and `printsgf FILE` may read and
    /// write; `None`: no file access.
    sgf_dir: Option<PathBuf>,
    /// `time_settings`: main time, byo-yomi time and stones (seconds); `None`: no limit.
    time: Option<(f64, f64, u32)>,
    /// `time_left` per colour (Black, White): seconds and stones (0: in main time).
    left: [Option<(f64, u32)>; 2],
}

type Answer = Result<String, String>;

impl GtpEngine {
    /// An engine with an empty `size` board, komi 7.5, answering `genmove` with `player`. It has
    /// no file access: `loadsgf` and `printsgf FILE` are refused until [`with_sgf_dir`](Self::with_sgf_dir).
    pub fn new(size: usize, player: Box<dyn Player<GoState>>) -> Result<GtpEngine, String> {
        Ok(GtpEngine {
            state: GoState::new(size, 7.5)?,
            player,
            quit: false,
            sgf_dir: None,
            time: None,
            left: [None, None],
        })
    }

    /// The thinking time for the next move of `c` under the clock `time_settings`/`time_left`
    /// set: in byo-yomi, the period's time over its stones; in main time, the time left over
    /// the moves still expected (half the empty points, at least 10) plus one byo-yomi share;
    /// always with a tenth held back for the connection. `None` when no clock was set.
    pub fn move_budget(&self, c: Color) -> Option<f64> {
        let (main, byo, stones) = self.time?;
        if main == 0.0 && byo == 0.0 {
            return None; // GTP: "no time limits"
        }
        let (left, in_byo) = match self.left[c.index()] {
            Some((t, s)) => (t, s),
            None => (main, 0),
        };
        let empty = self.state.board().empties().len() as f64;
        let budget = if in_byo > 0 {
            left / in_byo as f64
        } else {
            let share = if stones > 0 { byo / stones as f64 } else { 0.0 };
            left / (empty / 2.0).max(10.0) + share
        };
        Some((0.9 * budget).max(0.05))
    }

    fn time_command(&mut self, cmd: &str, args: &[&str]) -> Answer {
        let num = |s: Option<&&str>| -> Result<f64, String> {
            s.and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e9)
                .ok_or_else(|| "syntax error".to_string())
        };
        let stones = |s: Option<&&str>| -> Result<u32, String> {
            s.and_then(|v| v.parse::<u32>().ok())
                .ok_or_else(|| "syntax error".to_string())
        };
        if cmd == "time_settings" {
            let t = (num(args.first())?, num(args.get(1))?, stones(args.get(2))?);
            self.time = Some(t);
            self.left = [None, None];
        } else {
            let c = self.color(args.first())?;
            self.left[c.index()] = Some((num(args.get(1))?, stones(args.get(2))?));
        }
        Ok(String::new())
    }

    /// Forbids `loadsgf` and `printsgf FILE` (answered `? file access is disabled …`), the
    /// default; `printsgf` without a file still works.
    pub fn without_file_access(mut self) -> GtpEngine {
        self.sgf_dir = None;
        self
    }

    /// Allows `loadsgf FILE` and `printsgf FILE` inside `dir` only: FILE is relative to `dir`
    /// (or an absolute path inside it), may not contain `..`, and may not lead out of `dir`
    /// through a symlink; only regular files are read (at most [`SGF_LIMIT`] bytes) or
    /// replaced. Fails when `dir` is not an existing directory.
    pub fn with_sgf_dir(mut self, dir: &Path) -> Result<GtpEngine, String> {
        let canon = dir
            .canonicalize()
            .map_err(|e| format!("SGF directory {}: {e}", dir.display()))?;
        if !canon.is_dir() {
            return Err(format!(
                "SGF directory {} is not a directory",
                dir.display()
            ));
        }
        self.sgf_dir = Some(canon);
        Ok(self)
    }

    /// The file `name` names inside the SGF directory, checked as [`with_sgf_dir`] says: for
    /// reading, the file itself (symlinks resolved); for writing, its directory (resolved) and
    /// its name, which must not already be anything but a regular file.
    fn sgf_path(&self, name: &str, write: bool) -> Result<PathBuf, String> {
        let Some(dir) = &self.sgf_dir else {
            return Err(
                "file access is disabled (ember gtp --sgf-dir DIR allows loadsgf/printsgf inside DIR)"
                    .into(),
            );
        };
        let outside = || format!("'{name}' is outside the SGF directory");
        let p = Path::new(name);
        if p.components().any(|c| c == Component::ParentDir) {
            return Err(outside());
        }
        let joined = dir.join(p);
        if !write {
            let canon = joined
                .canonicalize()
                .map_err(|e| format!("cannot open '{name}': {e}"))?;
            return if canon.starts_with(dir) {
                Ok(canon)
            } else {
                Err(outside())
            };
        }
        let (Some(parent), Some(file)) = (joined.parent(), joined.file_name()) else {
            return Err(format!("cannot write '{name}': not a file name"));
        };
        let parent = parent
            .canonicalize()
            .map_err(|e| format!("cannot write '{name}': {e}"))?;
        if !parent.starts_with(dir) {
            return Err(outside());
        }
        let target = parent.join(file);
        match std::fs::symlink_metadata(&target) {
            Ok(m) if !m.file_type().is_file() => {
                Err(format!("cannot write '{name}': not a regular file"))
            }
            _ => Ok(target),
        }
    }

    /// Writes `text` to `path` (checked by [`sgf_path`]): a new file in the same directory,
    /// then renamed over `path`, so a symlink or hard link planted there is replaced, never
    /// followed.
    fn write_sgf(path: &Path, text: &str) -> io::Result<()> {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let result = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .and_then(|()| std::fs::rename(&tmp, path));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// The game as it stands.
    pub fn state(&self) -> &GoState {
        &self.state
    }

    /// Whether `quit` was received.
    pub fn quit_requested(&self) -> bool {
        self.quit
    }

    /// Answers one input line; `None` for lines GTP ignores (empty, comments only). The answer
    /// ends with the protocol's blank line.
    pub fn handle(&mut self, line: &str) -> Option<String> {
        let clean: String = line
            .split('#')
            .next()
            .unwrap_or("")
            .chars()
            .filter_map(|c| match c {
                '\t' => Some(' '),
                c if c.is_control() => None,
                c => Some(c),
            })
            .collect();
        let mut words = clean.split_whitespace();
        let first = words.next()?;
        let (id, cmd) = if first.bytes().all(|b| b.is_ascii_digit()) {
            match words.next() {
                Some(c) => (first.to_string(), c),
                None => return Some(format!("?{first} missing command\n\n")),
            }
        } else {
            (String::new(), first)
        };
        let args: Vec<&str> = words.collect();
        let answer = self.run_command(cmd, &args);
        Some(match answer {
            Ok(text) if text.is_empty() => format!("={id}\n\n"),
            Ok(text) if text.starts_with('\n') => format!("={id}{text}\n\n"),
            Ok(text) => format!("={id} {text}\n\n"),
            Err(text) => format!("?{id} {text}\n\n"),
        })
    }

    /// Reads commands from `input` and writes answers to `output` until `quit` or the end of the
    /// input. Lines are read on their own thread, so that `lz-analyze` and `kata-analyze` can
    /// stream analysis until the next command arrives (as Leela Zero and KataGo do).
    pub fn run<R: BufRead + Send + 'static, W: Write>(
        &mut self,
        input: R,
        mut output: W,
    ) -> io::Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Input>>(16);
        std::thread::spawn(move || {
            let mut input = input;
            loop {
                let line = match read_line_bounded(&mut input, LINE_LIMIT) {
                    Ok(Some(l)) => Ok(l),
                    Ok(None) => break,
                    Err(e) => Err(e),
                };
                let stop = line.is_err();
                if tx.send(line).is_err() || stop {
                    break;
                }
            }
        });
        let mut pending: Option<Input> = None;
        loop {
            let line = match pending.take() {
                Some(l) => l,
                None => match rx.recv() {
                    Ok(l) => l?,
                    Err(_) => break, // end of input
                },
            };
            let line = match line {
                Input::Line(l) => String::from_utf8_lossy(&l).into_owned(),
                Input::TooLong(start) => {
                    let start = String::from_utf8_lossy(&start).into_owned();
                    let id: String = start
                        .trim_start()
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    let limit = crate::files::bytes(LINE_LIMIT as u64);
                    output.write_all(
                        format!("?{id} line too long (the limit is {limit})\n\n").as_bytes(),
                    )?;
                    output.flush()?;
                    continue;
                }
            };
            if let Some((id, kata, color, interval)) = self.analyze_request(&line) {
                pending = self.analyze(&id, kata, color, interval, &rx, &mut output)?;
                continue;
            }
            if let Some(ans) = self.handle(&line) {
                output.write_all(ans.as_bytes())?;
                output.flush()?;
            }
            if self.quit {
                break;
            }
        }
        Ok(())
    }

    /// `[id] lz-analyze|kata-analyze [color] [interval]`, parsed: the id, whether KataGo's
    /// format, the colour to analyse for, and the interval between reports (centiseconds in
    /// the protocol; at least 0.05 s here). `None` for any other line or malformed arguments
    /// (which `handle` then answers).
    fn analyze_request(&self, line: &str) -> Option<(String, bool, Color, f64)> {
        let clean: String = line.split('#').next().unwrap_or("").replace('\t', " ");
        let mut words = clean.split_whitespace().peekable();
        let id = match words.peek() {
            Some(w) if w.bytes().all(|b| b.is_ascii_digit()) => words.next()?.to_string(),
            _ => String::new(),
        };
        let kata = match words.next()? {
            "lz-analyze" => false,
            "kata-analyze" => true,
            _ => return None,
        };
        let mut color = self.state.to_play();
        let mut interval = 1.0;
        while let Some(w) = words.next() {
            if let Some(c) = Color::parse(w) {
                color = c;
            } else if let Ok(cs) = w.parse::<f64>() {
                interval = cs / 100.0;
            } else if w == "interval" {
                continue;
            } else if w.chars().all(|c| c.is_ascii_alphabetic()) {
                // Options other engines take (`ownership true`, `minmoves 2`, `pvVisits
                // true`): accepted and not acted on.
                words.next()?;
            } else {
                return None;
            }
        }
        (interval.is_finite() && interval >= 0.0).then_some((id, kata, color, interval.max(0.05)))
    }

    /// Streams `info` lines about the position with `color` to play until a line arrives on
    /// `rx` (returned, to be handled next) or the input ends.
    fn analyze(
        &mut self,
        id: &str,
        kata: bool,
        color: Color,
        interval: f64,
        rx: &std::sync::mpsc::Receiver<io::Result<Input>>,
        output: &mut impl Write,
    ) -> io::Result<Option<Input>> {
        let mut state = self.state.clone();
        if state.is_over() {
            output.write_all(format!("?{id} the game is over\n\n").as_bytes())?;
            output.flush()?;
            return Ok(None);
        }
        state.set_to_play(color);
        if self.player.analyze_step(&state, 0.0).is_none() {
            output.write_all(
                format!("?{id} this player does not analyse (use a search player: uct:SIMS or az:RUN_DIR)\n\n").as_bytes(),
            )?;
            output.flush()?;
            return Ok(None);
        }
        output.write_all(format!("={id}\n").as_bytes())?;
        output.flush()?;
        let mut since = 0.0;
        // The first report comes before any new command is looked at, so every request gets
        // at least one.
        let mut reported = false;
        loop {
            match if reported {
                rx.try_recv()
            } else {
                Err(std::sync::mpsc::TryRecvError::Empty)
            } {
                Ok(line) => {
                    output.write_all(b"\n")?;
                    output.flush()?;
                    return line.map(Some);
                }
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    output.write_all(b"\n")?;
                    output.flush()?;
                    return Ok(None);
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
            }
            // Think in slices of at most 0.1 s, so a new command is answered promptly whatever
            // the interval; report once an interval has passed. A player whose tree is full
            // returns at once: wait out the slice instead of spinning.
            let slice = interval.min(0.1);
            let t = std::time::Instant::now();
            let analysis = self.player.analyze_step(&state, slice);
            let spent = t.elapsed().as_secs_f64();
            if spent < slice {
                std::thread::sleep(std::time::Duration::from_secs_f64(slice - spent));
            }
            since += slice.max(spent);
            if (since + 1e-9 >= interval || !reported)
                && let Some(a) = analysis
            {
                since = 0.0;
                reported = true;
                output.write_all(self.info_line(&state, &a, kata).as_bytes())?;
                output.flush()?;
            }
        }
    }

    /// One report in Leela Zero's (`winrate`, `prior`, `lcb` in 1/10000) or KataGo's (in 0..1)
    /// format: every candidate with its visits, win rate, prior, order and principal variation.
    fn info_line(&self, state: &GoState, a: &crate::player::Analysis, kata: bool) -> String {
        let mut out = String::new();
        for (order, c) in a.candidates.iter().enumerate() {
            if c.visits == 0 {
                continue;
            }
            let win = (c.value as f64 + 1.0) / 2.0;
            let name = |action: usize| {
                state
                    .move_of(action)
                    .map_or_else(|| "pass".into(), |m| state.move_name(m))
            };
            let pv: Vec<String> = c.pv.iter().map(|&m| name(m)).collect();
            if !out.is_empty() {
                out.push(' ');
            }
            if kata {
                out.push_str(&format!(
                    "info move {} visits {} winrate {:.6} prior {:.6} lcb {:.6} order {order} pv {}",
                    name(c.action),
                    c.visits,
                    win,
                    c.prior,
                    win,
                    pv.join(" ")
                ));
            } else {
                out.push_str(&format!(
                    "info move {} visits {} winrate {} prior {} lcb {} order {order} pv {}",
                    name(c.action),
                    c.visits,
                    (win * 10000.0).round() as i64,
                    (c.prior as f64 * 10000.0).round() as i64,
                    (win * 10000.0).round() as i64,
                    pv.join(" ")
                ));
            }
        }
        out.push('\n');
        out
    }

    fn color(&self, s: Option<&&str>) -> Result<Color, String> {
        let s = s.ok_or("syntax error")?;
        Color::parse(s).ok_or_else(|| "invalid color".to_string())
    }

    fn vertex(&self, s: Option<&&str>) -> Result<Move, String> {
        let s = s.ok_or("syntax error")?;
        if s.eq_ignore_ascii_case("pass") {
            return Ok(Move::Pass);
        }
        let (x, y) = parse_vertex(s, self.state.size()).ok_or("invalid coordinate")?;
        Ok(Move::Play(self.state.board().point(x, y)))
    }

    fn vertex_list(&self, pts: impl Iterator<Item = u16>) -> String {
        pts.map(|p| self.state.move_name(Move::Play(p)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn fresh(&self, size: usize) -> Result<GoState, String> {
        Ok(GoState::new(size, self.state.komi())?.with_superko(self.state.superko()))
    }

    fn genmove(&mut self, args: &[&str], commit: bool) -> Answer {
        let c = self.color(args.first())?;
        self.state.set_to_play(c);
        self.player.set_time_budget(self.move_budget(c));
        let mv = genmove(&mut *self.player, &self.state).map_err(|e| e.to_string())?;
        if !self.state.is_legal(c, mv) {
            return Err(format!(
                "the player chose an illegal move {}",
                self.state.move_name(mv)
            ));
        }
        if commit {
            self.state.play(c, mv).map_err(|e| e.to_string())?;
        }
        Ok(self.state.move_name(mv))
    }

    fn run_command(&mut self, cmd: &str, args: &[&str]) -> Answer {
        match cmd {
            "protocol_version" => Ok("2".into()),
            "name" => Ok("Ember".into()),
            "version" => Ok(env!("CARGO_PKG_VERSION").into()),
            "known_command" => Ok(COMMANDS
                .contains(args.first().ok_or("syntax error")?)
                .to_string()),
            "list_commands" => Ok(COMMANDS.join("\n")),
            "quit" => {
                self.quit = true;
                Ok(String::new())
            }
            "boardsize" => {
                let n: usize = args
                    .first()
                    .ok_or("syntax error")?
                    .parse()
                    .map_err(|_| "syntax error")?;
                if !(MIN_SIZE..=MAX_SIZE).contains(&n) {
                    return Err("unacceptable size".into());
                }
                self.state = self.fresh(n)?;
                Ok(String::new())
            }
            "clear_board" => {
                self.state = self.fresh(self.state.size())?;
                Ok(String::new())
            }
            "komi" => {
                let k: f32 = args
                    .first()
                    .ok_or("syntax error")?
                    .parse()
                    .map_err(|_| "syntax error")?;
                if !k.is_finite() {
                    return Err("syntax error".into());
                }
                self.state.set_komi(k);
                Ok(String::new())
            }
            "play" => {
                let c = self.color(args.first())?;
                let mv = self.vertex(args.get(1))?;
                self.state.play(c, mv).map_err(|_| "illegal move")?;
                Ok(String::new())
            }
            "genmove" => self.genmove(args, true),
            "reg_genmove" => self.genmove(args, false),
            "undo" => {
                if self.state.undo() {
                    Ok(String::new())
                } else {
                    Err("cannot undo".into())
                }
            }
            "showboard" => Ok(format!("\n{}", self.state.render_board().trim_end())),
            "final_score" => {
                let s = self.state.score();
                Ok(if s == 0.0 {
                    "0".into()
                } else {
                    format!("{}+{}", if s > 0.0 { 'B' } else { 'W' }, fmt_num(s.abs()))
                })
            }
            "loadsgf" => {
                let file = args.first().ok_or("syntax error")?;
                let upto: Option<usize> = match args.get(1) {
                    None => None,
                    Some(n) => Some(n.parse().map_err(|_| "syntax error")?),
                };
                let path = self.sgf_path(file, false)?;
                let text = crate::files::read_regular(&path, SGF_LIMIT)
                    .map_err(|e| format!("cannot open '{file}': {e}"))?;
                let mut rec =
                    GameRecord::parse(&text).map_err(|e| format!("cannot load '{file}': {e}"))?;
                if let Some(n) = upto {
                    // GNU Go: the position before move number n.
                    rec.moves.truncate(n.saturating_sub(1));
                }
                let state = rec
                    .to_state()
                    .map_err(|e| format!("cannot load '{file}': {e}"))?;
                let superko = self.state.superko();
                self.state = state.with_superko(superko);
                if let Some(m) = rec.moves.last() {
                    self.state.set_to_play(m.color.opp());
                }
                Ok(self.state.to_play().to_string())
            }
            "printsgf" => {
                let mut rec = GameRecord::from_state(&self.state);
                rec.date = Some(today());
                rec.black = Some(format!("Ember ({})", self.player.name()));
                rec.white = rec.black.clone();
                let text = rec.to_sgf();
                match args.first() {
                    None | Some(&"-") => Ok(format!("\n{}", text.trim_end())),
                    Some(file) => {
                        let path = self.sgf_path(file, true)?;
                        Self::write_sgf(&path, &text)
                            .map_err(|e| format!("cannot write '{file}': {e}"))?;
                        Ok(String::new())
                    }
                }
            }
            "time_settings" | "time_left" => self.time_command(cmd, args),
            // Well-formed requests stream from `run`; what reaches here is malformed.
            "lz-analyze" | "kata-analyze" => Err("syntax error".into()),
            "list_stones" => {
                let c = self.color(args.first())?;
                let b = self.state.board();
                Ok(self.vertex_list(b.points().filter(|&p| b.stone(p) == Some(c))))
            }
            "all_legal" => {
                let c = self.color(args.first())?;
                let mut v = Vec::new();
                self.state.legal_points(c, &mut v);
                Ok(self.vertex_list(v.into_iter()))
            }
            "is_legal" => {
                let c = self.color(args.first())?;
                let mv = self.vertex(args.get(1))?;
                Ok(if self.state.is_legal(c, mv) { "1" } else { "0" }.into())
            }
            "captures" => {
                let c = self.color(args.first())?;
                Ok(self.state.board().captures(c).to_string())
            }
            "color" => match self.vertex(args.first())? {
                Move::Play(p) => Ok(match self.state.board().stone(p) {
                    Some(c) => c.to_string(),
                    None => "empty".into(),
                }),
                _ => Err("invalid coordinate".into()),
            },
            "countlib" => match self.vertex(args.first())? {
                Move::Play(p) if self.state.board().at(p) != EMPTY => {
                    Ok(self.state.board().liberties(p).len().to_string())
                }
                _ => Err("vertex must not be empty".into()),
            },
            _ => Err("unknown command".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::player::RandomPlayer;
    use super::*;

    fn engine() -> GtpEngine {
        GtpEngine::new(9, Box::new(RandomPlayer::new(1))).unwrap()
    }

    fn ask(e: &mut GtpEngine, line: &str) -> String {
        e.handle(line).expect("an answer")
    }

    #[test]
    fn clocks_give_a_per_move_budget() {
        let mut e = engine();
        assert_eq!(e.move_budget(Color::Black), None);
        assert_eq!(ask(&mut e, "time_settings 0 0 0"), "=\n\n");
        assert_eq!(e.move_budget(Color::Black), None, "0 0 0 means no limit");
        assert_eq!(ask(&mut e, "time_settings 300 30 5"), "=\n\n");
        // Main time: 300 s over max(81 / 2, 10) moves, plus a byo-yomi share of 6 s.
        let b = e.move_budget(Color::Black).unwrap();
        assert!((b - 0.9 * (300.0 / 40.5 + 6.0)).abs() < 1e-9, "{b}");
        assert_eq!(ask(&mut e, "time_left white 20 4"), "=\n\n");
        let w = e.move_budget(Color::White).unwrap();
        assert!((w - 0.9 * 5.0).abs() < 1e-9, "{w}");
        for bad in [
            "time_settings 1 2",
            "time_settings -5 0 0",
            "time_settings nan 1 1",
            "time_left purple 1 1",
            "time_left b x 0",
        ] {
            assert!(ask(&mut e, bad).starts_with('?'), "{bad}");
        }
    }

    #[test]
    fn protocol_basics() {
        let mut e = engine();
        assert_eq!(ask(&mut e, "protocol_version"), "= 2\n\n");
        assert_eq!(ask(&mut e, "7 name"), "=7 Ember\n\n");
        assert_eq!(ask(&mut e, "known_command all_legal"), "= true\n\n");
        assert_eq!(ask(&mut e, "known_command fly"), "= false\n\n");
        assert!(ask(&mut e, "list_commands").contains("\nloadsgf\n"));
        assert_eq!(e.handle("   # just a comment"), None);
        assert_eq!(e.handle(""), None);
        assert_eq!(ask(&mut e, "\tname # trailing comment\r"), "= Ember\n\n");
        assert_eq!(ask(&mut e, "3 frobnicate"), "?3 unknown command\n\n");
    }

    #[test]
    fn bad_input_changes_nothing() {
        let mut e = engine();
        assert_eq!(ask(&mut e, "play black D4"), "=\n\n");
        let before = e.state().clone();
        for (cmd, want) in [
            ("play black D4", "? illegal move"),
            ("play black Z4", "? invalid coordinate"),
            ("play black I4", "? invalid coordinate"),
            ("play black K10", "? invalid coordinate"),
            ("play purple D5", "? invalid color"),
            ("play black", "? syntax error"),
            ("boardsize 4", "? unacceptable size"),
            ("boardsize 25", "? unacceptable size"),
            ("boardsize x", "? syntax error"),
            ("komi seven", "? syntax error"),
            ("is_legal white", "? syntax error"),
            ("loadsgf /nonexistent.sgf", "? file access is disabled"),
            ("time_left b abc def", "? syntax error"),
        ] {
            let a = ask(&mut e, cmd);
            assert!(a.starts_with(want), "{cmd}: {a:?}");
            assert!(e.state() == &before, "{cmd} changed the state");
        }
        assert_eq!(ask(&mut e, "is_legal white D4"), "= 0\n\n");
        assert_eq!(ask(&mut e, "is_legal white pass"), "= 1\n\n");
        assert_eq!(ask(&mut e, "list_stones black"), "= D4\n\n");
        assert_eq!(ask(&mut e, "list_stones white"), "=\n\n");
        assert_eq!(ask(&mut e, "color d4"), "= black\n\n");
        assert_eq!(ask(&mut e, "countlib D4"), "= 4\n\n");
    }

    #[test]
    fn genmove_undo_and_score() {
        let mut e = engine();
        let a = ask(&mut e, "genmove b");
        assert!(a.starts_with("= "), "{a}");
        assert_eq!(e.state().move_count(), 1);
        assert_eq!(ask(&mut e, "undo"), "=\n\n");
        assert_eq!(ask(&mut e, "undo"), "? cannot undo\n\n");
        assert_eq!(ask(&mut e, "komi 0.5"), "=\n\n");
        assert_eq!(ask(&mut e, "play w A1"), "=\n\n");
        assert_eq!(ask(&mut e, "final_score"), "= W+81.5\n\n");
        let legal = ask(&mut e, "all_legal b");
        assert_eq!(legal.split_whitespace().count(), 1 + 80);
        assert!(ask(&mut e, "showboard").starts_with("=\n"));
        assert_eq!(ask(&mut e, "captures white"), "= 0\n\n");
    }

    #[test]
    fn printsgf_and_loadsgf_round_trip() {
        let dir = std::env::temp_dir().join(format!("ember-gtp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("g.sgf");
        let mut e = engine().with_sgf_dir(&dir).unwrap();
        for _ in 0..20 {
            ask(&mut e, "genmove b");
            ask(&mut e, "genmove w");
        }
        let board = e.state().board().clone();
        assert_eq!(ask(&mut e, "printsgf g.sgf"), "=\n\n");
        assert_eq!(ask(&mut e, "clear_board"), "=\n\n");
        // An absolute path inside the directory is the same file.
        assert_eq!(
            ask(&mut e, &format!("loadsgf {}", f.display())),
            "= black\n\n"
        );
        assert!(e.state().board() == &board);
        assert_eq!(ask(&mut e, "loadsgf g.sgf 3"), "= black\n\n");
        assert_eq!(e.state().move_count(), 2);
        let inline = ask(&mut e, "printsgf");
        assert!(inline.starts_with("=\n(;GM[1]FF[4]"), "{inline}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_access_can_be_disabled() {
        let mut e = engine().without_file_access();
        let f = std::env::temp_dir().join(format!("ember-gtp-nofiles-{}.sgf", std::process::id()));
        let a = ask(&mut e, &format!("printsgf {}", f.display()));
        assert!(a.starts_with("? file access is disabled"), "{a}");
        assert!(!f.exists());
        assert!(ask(&mut e, "loadsgf x.sgf").starts_with("? file access is disabled"));
        assert!(ask(&mut e, "printsgf").starts_with("=\n(;GM[1]"));
    }

    #[cfg(unix)]
    #[test]
    fn sgf_files_stay_inside_the_sgf_directory() {
        let root = std::env::temp_dir().join(format!("ember-gtp-jail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("sgf");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let secret = root.join("secret.sgf");
        std::fs::write(&secret, "(;GM[1]FF[4]SZ[9];B[ee])").unwrap();
        std::os::unix::fs::symlink(&secret, dir.join("leak.sgf")).unwrap();
        std::os::unix::fs::symlink(&root, dir.join("up")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero.sgf")).unwrap();
        let fifo = dir.join("fifo.sgf");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let mut e = engine().with_sgf_dir(&dir).unwrap();
        for (cmd, want) in [
            ("loadsgf ../secret.sgf", "? '../secret.sgf' is outside"),
            (
                "loadsgf sub/../../secret.sgf",
                "? 'sub/../../secret.sgf' is outside",
            ),
            ("loadsgf leak.sgf", "? 'leak.sgf' is outside"),
            ("loadsgf up/secret.sgf", "? 'up/secret.sgf' is outside"),
            ("loadsgf zero.sgf", "? 'zero.sgf' is outside"),
            (
                "loadsgf fifo.sgf",
                "? cannot open 'fifo.sgf': not a regular file (a FIFO)",
            ),
            (
                "loadsgf sub",
                "? cannot open 'sub': not a regular file (a directory)",
            ),
            ("loadsgf missing.sgf", "? cannot open 'missing.sgf'"),
            ("printsgf ../out.sgf", "? '../out.sgf' is outside"),
            ("printsgf up/out.sgf", "? 'up/out.sgf' is outside"),
            (
                "printsgf leak.sgf",
                "? cannot write 'leak.sgf': not a regular file",
            ),
            (
                "printsgf fifo.sgf",
                "? cannot write 'fifo.sgf': not a regular file",
            ),
            ("printsgf sub", "? cannot write 'sub': not a regular file"),
        ] {
            let a = ask(&mut e, cmd);
            assert!(a.starts_with(want), "{cmd}: {a:?}");
        }
        let a = ask(&mut e, &format!("loadsgf {}", secret.display()));
        assert!(a.starts_with("? ") && a.contains("is outside"), "{a}");
        assert_eq!(
            std::fs::read_to_string(&secret).unwrap(),
            "(;GM[1]FF[4]SZ[9];B[ee])"
        );
        assert!(!root.join("out.sgf").exists());
        // Inside the directory, subdirectories included, files are read and written.
        assert_eq!(ask(&mut e, "play b C3"), "=\n\n");
        assert_eq!(ask(&mut e, "printsgf sub/g.sgf"), "=\n\n");
        assert_eq!(ask(&mut e, "loadsgf sub/g.sgf"), "= white\n\n");
        // An SGF larger than the limit is refused without reading it whole.
        let big = std::fs::File::create(dir.join("big.sgf")).unwrap();
        big.set_len(SGF_LIMIT + 1).unwrap();
        let a = ask(&mut e, "loadsgf big.sgf");
        assert!(
            a.starts_with("? cannot open 'big.sgf': larger than 16 MiB"),
            "{a}"
        );
        assert!(
            GtpEngine::new(9, Box::new(RandomPlayer::new(1)))
                .unwrap()
                .with_sgf_dir(&root.join("nope"))
                .is_err()
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn overlong_lines_are_answered_and_skipped() {
        let mut e = engine();
        let mut input = b"1 name\n".to_vec();
        input.extend_from_slice(b"2 play b ");
        input.extend(std::iter::repeat_n(b'x', 3 * LINE_LIMIT));
        input.extend_from_slice(b"\n3 play b C3\n");
        input.extend(std::iter::repeat_n(b'y', LINE_LIMIT + 1)); // no newline: the input ends
        let mut out = Vec::new();
        e.run(std::io::Cursor::new(input), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "=1 Ember\n\n?2 line too long (the limit is 64 KiB)\n\n=3\n\n\
             ? line too long (the limit is 64 KiB)\n\n"
        );
        // A line of exactly the limit is read.
        let mut input = vec![b' '; LINE_LIMIT - 4];
        input.extend_from_slice(b"name\n");
        let mut out = Vec::new();
        e.run(std::io::Cursor::new(input), &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "= Ember\n\n");
    }

    #[test]
    fn run_stops_at_quit() {
        let mut e = engine();
        let input = b"1 boardsize 7\n2 clear_board\n3 play b C3\n4 quit\n5 name\n";
        let mut out = Vec::new();
        e.run(&input[..], &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "=1\n\n=2\n\n=3\n\n=4\n\n");
        assert!(e.quit_requested());
        assert_eq!(e.state().size(), 7);
    }
}
