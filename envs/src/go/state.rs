//! The full rules of Go on top of the board: positional superko, passes, resignation, the end of
//! the game, area scoring with komi, exact undo, and the [`Game`] trait.
//!
//! Rules (as `docs/cli.md` states them): area scoring (stones plus empty regions bordered by one colour
//! only), komi (default 7.5), suicide illegal, positional superko (no board move may recreate any
//! earlier whole-board position, whoever is to move; passes never do), the game ends after two
//! consecutive passes or a resignation. An optional move limit ends a game early; such a game is
//! scored by area like any other and [`GoState::hit_move_limit`] says so.
//!
//! Undo: every array write of a move is logged (see `board`), so `undo` restores the board bit for
//! bit, whatever captures and merges the move made. Superko uses the Zobrist hashes of all earlier
//! positions, screened by a small counting Bloom filter (so that undo removes entries exactly)
//! before the exact scan.
//!
//! Cost model for search: `apply` + `undo` is about a hundred nanoseconds on 9x9; `clone` copies
//! the board (a few KB) plus the undo log and position history, which grow with the game, so
//! searches should walk one state with apply/undo, or clone once per simulation and run
//! playouts on a bare `Board` copy.
//!
//! Observation planes (`[10, N, N]`, from the view of the player to move): 0 own stones, 1
//! opponent stones, 2..8 own/opponent stones 1, 2 and 3 moves ago (zeros before the first move),
//! 8 ones when Black is to move, 9 legal board moves.

use std::fmt;

use super::board::{Board, COLUMNS, Color, EMPTY, Entry, Illegal, MAX_POINTS, Point, vertex_name};
use crate::game::{Game, GameError, Symmetry};
use crate::rng::Rng;

/// A move: a stone on a point, a pass, or a resignation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Move {
    Play(Point),
    Pass,
    Resign,
}

/// Observation channels.
pub const CHANNELS: [&str; 10] = [
    "own stones",
    "opponent stones",
    "own stones 1 move ago",
    "opponent stones 1 move ago",
    "own stones 2 moves ago",
    "opponent stones 2 moves ago",
    "own stones 3 moves ago",
    "opponent stones 3 moves ago",
    "black to play",
    "legal moves",
];
/// Past positions in the observation.
pub const HISTORY: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Record {
    mv: Move,
    color: Color,
    trail_len: u32,
    scalars: super::board::Scalars,
    passes: u32,
    to_play: Color,
}

const BLOOM_BUCKETS: usize = 256;

/// A game of Go under the full rules. Implements [`Game`] (player 0 is Black).
#[derive(PartialEq)]
pub struct GoState {
    board: Board,
    komi: f32,
    to_play: Color,
    passes: u32,
    resigned: Option<Color>,
    superko: bool,
    max_moves: u32,
    trail: Vec<Entry>,
    records: Vec<Record>,
    /// Hashes of every position so far, the initial one first (board moves only).
    history: Vec<u64>,
    /// Counting Bloom filter over `history`: a position was seen only if its bucket is non-zero.
    bloom: [u16; BLOOM_BUCKETS],
    setup: Vec<(Color, Point)>,
}

impl Clone for GoState {
    fn clone(&self) -> GoState {
        GoState {
            board: self.board.clone(),
            komi: self.komi,
            to_play: self.to_play,
            passes: self.passes,
            resigned: self.resigned,
            superko: self.superko,
            max_moves: self.max_moves,
            trail: self.trail.clone(),
            records: self.records.clone(),
            history: self.history.clone(),
            bloom: self.bloom,
            setup: self.setup.clone(),
        }
    }

    /// Field by field, so the vectors keep their capacity: resetting an environment to a fresh
    /// state (`state.clone_from(&fresh)`) allocates nothing, and neither do the moves after it.
    fn clone_from(&mut self, source: &GoState) {
        self.board.clone_from(&source.board);
        self.komi = source.komi;
        self.to_play = source.to_play;
        self.passes = source.passes;
        self.resigned = source.resigned;
        self.superko = source.superko;
        self.max_moves = source.max_moves;
        self.trail.clone_from(&source.trail);
        self.records.clone_from(&source.records);
        self.history.clone_from(&source.history);
        self.bloom = source.bloom;
        self.setup.clone_from(&source.setup);
    }
}

impl fmt::Debug for GoState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "GoState({}x{}, komi {}, {} to play, {} moves)\n{}",
            self.size(),
            self.size(),
            self.komi,
            self.to_play,
            self.records.len(),
            self.board.ascii()
        )
    }
}

impl GoState {
    /// An empty board of `size` (5..=19) with `komi`, Black to play, positional superko on.
    pub fn new(size: usize, komi: f32) -> Result<GoState, String> {
        if !komi.is_finite() {
            return Err(format!("komi {komi} is not a finite number"));
        }
        let board = Board::new(size)?;
        let mut s = GoState {
            board,
            komi,
            to_play: Color::Black,
            passes: 0,
            resigned: None,
            superko: true,
            max_moves: 0,
            trail: Vec::with_capacity(64 * size * size),
            records: Vec::with_capacity(2 * size * size),
            history: Vec::with_capacity(2 * size * size),
            bloom: [0; BLOOM_BUCKETS],
            setup: Vec::new(),
        };
        s.push_hash(s.board.hash());
        Ok(s)
    }

    /// Turns positional superko off (simple ko only) or on.
    pub fn with_superko(mut self, on: bool) -> GoState {
        self.superko = on;
        self
    }
    /// Ends the game after `n` moves (passes included; 0: no limit).
    pub fn with_max_moves(mut self, n: u32) -> GoState {
        self.max_moves = n;
        self
    }

    /// Reserves room for a game of `moves` moves, so playing it does not reallocate the move
    /// records and position history, and rarely the undo log (reserved for a typical 24 writes a
    /// move; capture-heavy games may outgrow it once).
    pub fn reserve_moves(&mut self, moves: usize) {
        self.records.reserve(moves + 1);
        self.history.reserve(moves + 2);
        self.trail.reserve(moves * 24);
    }

    #[inline]
    pub fn board(&self) -> &Board {
        &self.board
    }
    #[inline]
    pub fn size(&self) -> usize {
        self.board.size()
    }
    pub fn komi(&self) -> f32 {
        self.komi
    }
    pub fn set_komi(&mut self, komi: f32) {
        self.komi = komi;
    }
    pub fn superko(&self) -> bool {
        self.superko
    }
    pub fn max_moves(&self) -> u32 {
        self.max_moves
    }
    #[inline]
    pub fn to_play(&self) -> Color {
        self.to_play
    }
    /// Sets who moves next (GTP lets either colour play at any time).
    pub fn set_to_play(&mut self, c: Color) {
        self.to_play = c;
    }
    /// Consecutive passes at the end of the move list.
    pub fn passes(&self) -> u32 {
        self.passes
    }
    pub fn resigned(&self) -> Option<Color> {
        self.resigned
    }
    /// Moves played so far (passes and resignation included), in order.
    pub fn moves(&self) -> impl ExactSizeIterator<Item = (Color, Move)> + '_ {
        self.records.iter().map(|r| (r.color, r.mv))
    }
    pub fn move_count(&self) -> usize {
        self.records.len()
    }
    pub fn last_move(&self) -> Option<(Color, Move)> {
        self.records.last().map(|r| (r.color, r.mv))
    }
    /// Setup stones (SGF `AB`/`AW`), placed before the first move.
    pub fn setup(&self) -> &[(Color, Point)] {
        &self.setup
    }

    /// Adds a setup stone; only before the first move.
    pub fn add_setup(&mut self, color: Color, p: Point) -> Result<(), String> {
        if !self.records.is_empty() {
            return Err("setup stones can only be added before the first move".into());
        }
        self.board
            .setup_stone(p, color)
            .map_err(|e| format!("setup stone: {e}"))?;
        self.setup.push((color, p));
        self.history.clear();
        self.bloom = [0; BLOOM_BUCKETS];
        self.push_hash(self.board.hash());
        Ok(())
    }

    #[inline]
    fn bucket(h: u64) -> usize {
        (h >> 56) as usize
    }
    fn push_hash(&mut self, h: u64) {
        self.bloom[Self::bucket(h)] += 1;
        self.history.push(h);
    }
    fn pop_hash(&mut self) {
        if let Some(h) = self.history.pop() {
            self.bloom[Self::bucket(h)] -= 1;
        }
    }
    /// Whether the position with hash `h` occurred before.
    #[inline]
    fn seen(&self, h: u64) -> bool {
        self.bloom[Self::bucket(h)] != 0 && self.history.iter().rev().any(|&x| x == h)
    }

    /// Whether the game is over: two passes, a resignation, or the move limit.
    #[inline]
    pub fn is_over(&self) -> bool {
        self.passes >= 2 || self.resigned.is_some() || self.hit_move_limit()
    }
    /// Whether the move limit ended the game.
    pub fn hit_move_limit(&self) -> bool {
        self.max_moves > 0 && self.records.len() >= self.max_moves as usize
    }

    /// Why `color` may not play at `p`, if it may not (occupied, suicide, ko / superko).
    pub fn check(&self, color: Color, p: Point) -> Result<(), Illegal> {
        self.board.check(p, color)?;
        if self.superko && self.seen(self.board.hash_after(p, color)) {
            return Err(Illegal::Superko);
        }
        Ok(())
    }
    /// Whether `color` may play `mv` now (passes and resignation always may).
    pub fn is_legal(&self, color: Color, mv: Move) -> bool {
        match mv {
            Move::Play(p) => self.check(color, p).is_ok(),
            Move::Pass | Move::Resign => true,
        }
    }

    /// Clears `out` and fills it with the points where `color` may play.
    pub fn legal_points(&self, color: Color, out: &mut Vec<Point>) {
        out.clear();
        for p in self.board.points() {
            if self.board.at(p) == EMPTY && self.check(color, p).is_ok() {
                out.push(p);
            }
        }
    }

    /// Plays `mv` for `color` (GTP style: either colour, also after the game ended), and makes
    /// the other colour the one to move. Returns the number of stones captured. An illegal move
    /// changes nothing.
    pub fn play(&mut self, color: Color, mv: Move) -> Result<u32, Illegal> {
        if let Move::Play(p) = mv {
            self.check(color, p)?;
        }
        let rec = Record {
            mv,
            color,
            trail_len: self.trail.len() as u32,
            scalars: self.board.scalars(),
            passes: self.passes,
            to_play: self.to_play,
        };
        self.records.push(rec);
        let mut captured = 0;
        match mv {
            Move::Play(p) => {
                captured = self.board.place(p, color, &mut self.trail);
                let h = self.board.hash();
                self.push_hash(h);
                self.passes = 0;
            }
            Move::Pass => self.passes += 1,
            Move::Resign => self.resigned = Some(color),
        }
        self.to_play = color.opp();
        Ok(captured)
    }

    /// Takes back the last move; `false` when there is none.
    pub fn undo(&mut self) -> bool {
        let Some(rec) = self.records.pop() else {
            return false;
        };
        let keep = rec.trail_len as usize;
        while self.trail.len() > keep {
            let e = self.trail.pop().expect("longer than keep");
            self.board.restore(e);
        }
        self.board.set_scalars(rec.scalars);
        match rec.mv {
            Move::Play(_) => self.pop_hash(),
            Move::Pass => {}
            Move::Resign => self.resigned = None,
        }
        self.passes = rec.passes;
        self.to_play = rec.to_play;
        true
    }

    /// Area score, Black minus White, komi included.
    pub fn score(&self) -> f32 {
        self.board.area_score() as f32 - self.komi
    }

    /// The winner of a finished (or any) position: by resignation, else by area score; `None`
    /// for a draw.
    pub fn winner(&self) -> Option<Color> {
        if let Some(c) = self.resigned {
            return Some(c.opp());
        }
        let s = self.score();
        if s > 0.0 {
            Some(Color::Black)
        } else if s < 0.0 {
            Some(Color::White)
        } else {
            None
        }
    }

    /// The result as SGF `RE` and GTP `final_score` write it: `B+3.5`, `W+R`, `0` (a draw).
    pub fn result_string(&self) -> String {
        if let Some(c) = self.resigned {
            return format!("{}+R", c.opp().letter());
        }
        let s = self.score();
        if s == 0.0 {
            "0".into()
        } else {
            let c = if s > 0.0 { 'B' } else { 'W' };
            format!("{c}+{}", fmt_num(s.abs()))
        }
    }

    /// The board as it was `k` moves ago (`k <= move_count()`), as point contents.
    fn colors_ago(&self, k: usize, out: &mut [u8; MAX_POINTS]) {
        for p in self.board.points() {
            out[p as usize] = self.board.at(p);
        }
        if k == 0 {
            return;
        }
        let stop = self.records[self.records.len() - k].trail_len as usize;
        for e in self.trail[stop..].iter().rev() {
            if e.field == super::board::Field::Color {
                out[e.idx as usize] = e.old as u8;
            }
        }
    }

    /// The name of a move on this board: `D4`, `pass`, `resign`.
    pub fn move_name(&self, mv: Move) -> String {
        match mv {
            Move::Play(p) => {
                let (x, y) = self.board.xy(p);
                vertex_name(x, y, self.size())
            }
            Move::Pass => "pass".into(),
            Move::Resign => "resign".into(),
        }
    }

    /// The action index of a move (`N*N` for pass; resignation has none).
    pub fn action_of(&self, mv: Move) -> Option<usize> {
        match mv {
            Move::Play(p) => Some(self.board.index(p)),
            Move::Pass => Some(self.size() * self.size()),
            Move::Resign => None,
        }
    }
    /// A move for the player to move, uniform over the legal points that do not fill one of
    /// its own one-point eyes (positional superko respected; sampling without replacement:
    /// a rejected point is swapped out of the range and the draw repeats), passing when there
    /// is none. Draws even after the game ended (GTP may ask). `buf` is scratch space.
    pub fn random_move(&self, rng: &mut Rng, buf: &mut Vec<usize>) -> Move {
        let b = &self.board;
        let c = self.to_play;
        buf.clear();
        buf.extend(b.points().filter(|&p| b.at(p) == EMPTY).map(usize::from));
        let mut m = buf.len();
        while m > 0 {
            let i = rng.below(m);
            let p = buf[i] as Point;
            if !b.is_eye(p, c) && self.check(c, p).is_ok() {
                return Move::Play(p);
            }
            m -= 1;
            buf.swap(i, m);
        }
        Move::Pass
    }
    /// The move of an action index, `None` when out of range.
    pub fn move_of(&self, action: usize) -> Option<Move> {
        let n = self.size() * self.size();
        match action {
            a if a < n => Some(Move::Play(self.board.from_index(a))),
            a if a == n => Some(Move::Pass),
            _ => None,
        }
    }

    /// The board drawn for a terminal: coordinates (A–T without I), `X` black, `O` white, the
    /// last move in brackets, and the capture counts.
    pub fn render_board(&self) -> String {
        let n = self.size();
        let last = match self.last_move() {
            Some((_, Move::Play(p))) => Some(p),
            _ => None,
        };
        let letters: String = COLUMNS[..n]
            .iter()
            .map(|&c| format!(" {}", c as char))
            .collect();
        let mut s = format!("   {letters}\n");
        for y in 0..n {
            let row = n - y;
            s.push_str(&format!("{row:>2} "));
            for x in 0..n {
                let p = self.board.point(x, y);
                let ch = match self.board.stone(p) {
                    Some(Color::Black) => 'X',
                    Some(Color::White) => 'O',
                    None if is_hoshi(x, y, n) => '+',
                    None => '.',
                };
                if last == Some(p) {
                    s.push('(');
                    s.push(ch);
                    s.push(')');
                } else {
                    let prev_last = x > 0 && last == Some(self.board.point(x - 1, y));
                    if !prev_last {
                        s.push(' ');
                    }
                    s.push(ch);
                    if x + 1 == n {
                        s.push(' ');
                    }
                }
            }
            if last.is_some_and(|p| self.board.xy(p) == (n - 1, y)) {
                s.pop();
            }
            s.push_str(&format!(" {row}\n"));
        }
        s.push_str(&format!("   {letters}\n"));
        let lm = self
            .last_move()
            .map(|(c, m)| format!("{c} {}", self.move_name(m)))
            .unwrap_or_else(|| "none".into());
        s.push_str(&format!(
            "move {}  last: {lm}  to play: {}  captures B {} W {}  komi {}\n",
            self.move_count(),
            self.to_play,
            self.board.captures(Color::Black),
            self.board.captures(Color::White),
            fmt_num(self.komi)
        ));
        s
    }
}

impl GoState {
    /// The observation planes from `me`'s view (the [`Game`] observation when `me` is to move;
    /// the legal-moves plane holds `me`'s legal points).
    pub fn observe_as(&self, me: Color, out: &mut [f32]) {
        let n = self.size();
        let plane = n * n;
        assert_eq!(out.len(), CHANNELS.len() * plane, "observation buffer size");
        out.fill(0.0);
        let (mine, opp) = (me as u8, me.opp() as u8);
        let mut colors = [0u8; MAX_POINTS];
        for k in 0..=HISTORY {
            if k > self.records.len() {
                break;
            }
            self.colors_ago(k, &mut colors);
            let (own, other) = (2 * k * plane, (2 * k + 1) * plane);
            for (i, p) in self.board.points().enumerate() {
                let c = colors[p as usize];
                if c == mine {
                    out[own + i] = 1.0;
                } else if c == opp {
                    out[other + i] = 1.0;
                }
            }
        }
        if me == Color::Black {
            out[8 * plane..9 * plane].fill(1.0);
        }
        if !self.is_over() {
            for (i, p) in self.board.points().enumerate() {
                if self.board.at(p) == EMPTY && self.check(me, p).is_ok() {
                    out[9 * plane + i] = 1.0;
                }
            }
        }
    }
}

fn is_hoshi(x: usize, y: usize, n: usize) -> bool {
    if n < 7 {
        return false;
    }
    let e = if n >= 13 { 3 } else { 2 };
    let lines: Vec<usize> = if n % 2 == 1 && n >= 9 {
        vec![e, n / 2, n - 1 - e]
    } else {
        vec![e, n - 1 - e]
    };
    lines.contains(&x) && lines.contains(&y)
}

/// A number as Go programs print it: `7.5`, `7`, `-0.5`.
pub fn fmt_num(x: f32) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

impl Game for GoState {
    fn name(&self) -> String {
        format!("go{0}x{0}", self.size())
    }
    fn num_actions(&self) -> usize {
        self.size() * self.size() + 1
    }
    fn observation_shape(&self) -> [usize; 3] {
        [CHANNELS.len(), self.size(), self.size()]
    }
    fn channel_names(&self) -> Vec<String> {
        CHANNELS.iter().map(|s| s.to_string()).collect()
    }
    fn current_player(&self) -> usize {
        self.to_play.index()
    }
    fn is_terminal(&self) -> bool {
        self.is_over()
    }
    fn legal_actions(&self, out: &mut Vec<usize>) {
        out.clear();
        if self.is_over() {
            return;
        }
        for p in self.board.points() {
            if self.board.at(p) == EMPTY && self.check(self.to_play, p).is_ok() {
                out.push(self.board.index(p));
            }
        }
        out.push(self.size() * self.size());
    }
    fn legal_mask(&self, mask: &mut [bool]) {
        mask.fill(false);
        if self.is_over() {
            return;
        }
        for (i, p) in self.board.points().enumerate() {
            mask[i] = self.board.at(p) == EMPTY && self.check(self.to_play, p).is_ok();
        }
        mask[self.size() * self.size()] = true;
    }
    fn is_legal(&self, action: usize) -> bool {
        !self.is_over()
            && self
                .move_of(action)
                .is_some_and(|m| self.is_legal(self.to_play, m))
    }
    fn apply(&mut self, action: usize) -> Result<(), GameError> {
        let mv = self.move_of(action).ok_or(GameError::InvalidAction {
            action,
            n: self.num_actions(),
        })?;
        if self.is_over() {
            return Err(GameError::GameOver);
        }
        self.play(self.to_play, mv)
            .map(|_| ())
            .map_err(|e| GameError::IllegalAction {
                action,
                name: self.move_name(mv),
                reason: e.to_string(),
            })
    }
    fn undo(&mut self) -> Result<(), GameError> {
        if GoState::undo(self) {
            Ok(())
        } else {
            Err(GameError::NothingToUndo)
        }
    }
    fn history_len(&self) -> usize {
        self.records.len()
    }
    fn ownership(&self, out: &mut [f32]) -> bool {
        self.board.ownership(out);
        true
    }
    fn score_bonus(&self, player: usize) -> f32 {
        if player == Color::White.index() {
            self.komi()
        } else {
            0.0
        }
    }
    fn action_at(&self, i: usize) -> Option<usize> {
        self.records.get(i).and_then(|r| self.action_of(r.mv))
    }
    fn returns(&self) -> [f32; 2] {
        if !self.is_over() {
            return [0.0, 0.0];
        }
        match self.winner() {
            Some(Color::Black) => [1.0, -1.0],
            Some(Color::White) => [-1.0, 1.0],
            None => [0.0, 0.0],
        }
    }
    fn observe(&self, out: &mut [f32]) {
        self.observe_as(self.to_play, out);
    }
    fn symmetries(&self) -> &'static [Symmetry] {
        &Symmetry::ALL
    }
    fn transform_action(&self, sym: Symmetry, action: usize) -> usize {
        let n = self.size();
        if action >= n * n {
            action
        } else {
            sym.map_index(action, n, n)
        }
    }
    fn action_name(&self, action: usize) -> String {
        self.move_of(action)
            .map(|m| self.move_name(m))
            .unwrap_or_else(|| format!("invalid action {action}"))
    }
    fn render(&self) -> String {
        self.render_board()
    }
    /// [`GoState::random_move`] as an action; `None` once the game is over.
    fn random_action(&self, rng: &mut Rng, buf: &mut Vec<usize>) -> Option<usize> {
        (!self.is_over()).then(|| {
            self.action_of(self.random_move(rng, buf))
                .expect("a point or a pass")
        })
    }
    /// The fast path: a random playout ([`super::playout::playout`]) on a copy of the bare board
    /// with simple ko only, to two passes or the playout cap, scored by area with komi.
    fn playout(
        &self,
        _scratch: &mut GoState,
        rng: &mut Rng,
        _buf: &mut Vec<usize>,
        max_actions: usize,
    ) -> [f32; 2] {
        if self.is_over() {
            return self.returns();
        }
        let mut b = self.board.clone();
        let cap =
            super::playout::default_cap(self.size()).min(max_actions.min(u32::MAX as usize) as u32);
        let r = super::playout::playout(&mut b, self.to_play, rng, cap);
        let margin = r.score as f32 - self.komi;
        if margin > 0.0 {
            [1.0, -1.0]
        } else if margin < 0.0 {
            [-1.0, 1.0]
        } else {
            [0.0, 0.0]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::board::parse_vertex;
    use super::*;
    use crate::go::board::Board;

    fn mv(s: &GoState, v: &str) -> Move {
        if v == "pass" {
            return Move::Pass;
        }
        let (x, y) = parse_vertex(v, s.size()).unwrap();
        Move::Play(s.board().point(x, y))
    }

    /// Plays alternating moves from Black; panics on an illegal one.
    fn seq(size: usize, moves: &str) -> GoState {
        let mut s = GoState::new(size, 7.5).unwrap();
        for v in moves.split_whitespace() {
            let m = mv(&s, v);
            s.play(s.to_play(), m)
                .unwrap_or_else(|e| panic!("{v}: {e}"));
            s.board().validate().unwrap();
        }
        s
    }

    fn setup(s: &mut GoState, rows: &str) {
        let b = Board::from_ascii(rows).unwrap();
        assert_eq!(b.size(), s.size());
        for p in b.points() {
            if let Some(c) = b.stone(p) {
                s.add_setup(c, p).unwrap();
            }
        }
    }

    fn pt(s: &GoState, v: &str) -> Point {
        match mv(s, v) {
            Move::Play(p) => p,
            _ => panic!("{v} is not a point"),
        }
    }

    #[test]
    fn snapback() {
        let mut s = GoState::new(5, 0.5).unwrap();
        setup(
            &mut s,
            "
            .....
            .....
            XXX..
            OOOX.
            ..OX.",
        );
        // Black throws in at B1 (self-atari), White takes it at A1, and Black retakes at B1,
        // capturing all five white stones: a snapback.
        assert_eq!(s.play(Color::Black, mv(&s, "B1")), Ok(0));
        assert_eq!(s.play(Color::White, mv(&s, "A1")), Ok(1));
        assert_eq!(s.play(Color::Black, mv(&s, "B1")), Ok(5));
        s.board().validate().unwrap();
        assert_eq!(s.board().captures(Color::Black), 5);
        assert_eq!(s.board().captures(Color::White), 1);
    }

    #[test]
    fn simple_ko_is_refused_and_lifts() {
        let mut s = seq(5, "B4 C4 A3 D3 B2 C2 pass B3 C3");
        // Black just took the ko at C3; White may not retake at B3 at once.
        assert_eq!(s.check(Color::White, pt(&s, "B3")), Err(Illegal::Ko));
        s.play(Color::White, mv(&s, "E5")).unwrap();
        s.play(Color::Black, mv(&s, "E4")).unwrap();
        assert_eq!(s.check(Color::White, pt(&s, "B3")), Ok(()));
        assert_eq!(s.play(Color::White, mv(&s, "B3")), Ok(1));
    }

    #[test]
    fn triple_ko_is_stopped_by_positional_superko() {
        // Three kos: at B9/C9 and B1/C1 White holds the ko stone, at G9/H9 Black does.
        let mut s = GoState::new(9, 0.5).unwrap();
        setup(
            &mut s,
            "
            XO.O.X.XO
            .XO...XO.
            .........
            .........
            .........
            .........
            .........
            .XO......
            XO.O.....",
        );
        let start = s.board().hash();
        let mut simple = s.clone().with_superko(false);
        // Each move takes a ko other than the one just taken, so simple ko allows all six; the
        // sixth recreates the starting position.
        let cycle = ["C9", "G9", "C1", "B9", "H9", "B1"];
        for v in &cycle[..5] {
            let c = s.to_play();
            assert_eq!(s.play(c, mv(&s, v)), Ok(1), "{v}");
            simple.play(c, mv(&s, v)).unwrap();
        }
        assert_eq!(s.to_play(), Color::White);
        assert_eq!(s.check(Color::White, pt(&s, "B1")), Err(Illegal::Superko));
        assert_eq!(s.play(Color::White, mv(&s, "B1")), Err(Illegal::Superko));
        assert!(!s.is_legal(Color::White, mv(&s, "B1")));
        assert_eq!(simple.play(Color::White, mv(&s, "B1")), Ok(1));
        assert_eq!(simple.board().hash(), start);
        // The refused move changed nothing; legal_points agrees with check.
        let mut pts = Vec::new();
        s.legal_points(Color::White, &mut pts);
        assert!(!pts.contains(&pt(&s, "B1")));
        s.board().validate().unwrap();
    }

    #[test]
    fn suicide_single_and_multi_stone() {
        let s = seq(5, "pass A4 pass B5");
        assert_eq!(s.check(Color::Black, pt(&s, "A5")), Err(Illegal::Suicide));
        let mut s = GoState::new(5, 7.5).unwrap();
        setup(
            &mut s,
            "
            .XO..
            OO...
            .....
            .....
            .....",
        );
        // Black A5 would join B5 into a two-stone chain without liberties.
        assert_eq!(s.check(Color::Black, pt(&s, "A5")), Err(Illegal::Suicide));
        // White A5 captures B5 instead.
        assert_eq!(s.play(Color::White, mv(&s, "A5")), Ok(1));
    }

    #[test]
    fn seki_liberties_are_neutral() {
        let mut s = GoState::new(7, 0.0).unwrap();
        setup(
            &mut s,
            "
            .OX.OX.
            .OX.OX.
            .OXXOX.
            .OOOXX.
            OOOXX..
            ..OX...
            ..OX...",
        );
        let (l1, l2) = (pt(&s, "D7"), pt(&s, "D6"));
        let inner_black = pt(&s, "C7");
        let inner_white = pt(&s, "E7");
        let mut want = vec![l1, l2];
        want.sort_unstable();
        assert_eq!(s.board().liberties(inner_black), want);
        assert_eq!(s.board().liberties(inner_white), want);
        // Black 13 stones + 12 territory, White 14 + 8, two neutral points.
        assert_eq!(s.board().area_score(), 3);
        assert_eq!(s.result_string(), "B+3");
        // Filling a shared liberty is self-atari: the other side captures.
        let mut t = s.clone();
        t.play(Color::Black, Move::Play(l1)).unwrap();
        assert!(t.board().in_atari(inner_black) && t.board().in_atari(inner_white));
        assert_eq!(t.play(Color::White, Move::Play(l2)), Ok(5));
    }

    #[test]
    fn two_passes_end_and_score() {
        let mut s = seq(5, "C3 pass");
        assert!(!s.is_over());
        s.play(Color::Black, Move::Pass).unwrap();
        assert!(s.is_over());
        assert_eq!(s.score(), 25.0 - 7.5);
        assert_eq!(s.result_string(), "B+17.5");
        assert_eq!(s.returns(), [1.0, -1.0]);
        assert_eq!(Game::apply(&mut s, 0), Err(GameError::GameOver));
        assert!(s.undo());
        assert!(!s.is_over());
    }

    #[test]
    fn resign_and_draw() {
        let mut s = GoState::new(5, 0.0).unwrap();
        assert_eq!(s.result_string(), "0");
        s.play(Color::White, Move::Resign).unwrap();
        assert!(s.is_over());
        assert_eq!(s.result_string(), "B+R");
        assert_eq!(s.returns(), [1.0, -1.0]);
    }

    #[test]
    fn undo_restores_exactly_after_captures_and_merges() {
        let s0 = seq(5, "A2 A1 B1 C1 B2 pass C2 D1");
        let mut s = s0.clone();
        s.play(Color::Black, mv(&s, "E1")).unwrap();
        s.play(Color::White, Move::Pass).unwrap();
        assert!(s.undo() && s.undo());
        assert!(s == s0, "undo did not restore the state");
    }

    #[test]
    fn history_planes_follow_the_moves() {
        let s = seq(5, "C3 D3 pass");
        let mut o = vec![0.0; 10 * 25];
        s.observe(&mut o);
        let c3 = 2 * 5 + 2;
        let d3 = 2 * 5 + 3;
        // White to move: own = white.
        assert_eq!(o[d3], 1.0);
        assert_eq!(o[25 + c3], 1.0);
        // 2 moves ago (after C3): own (white) none, opponent C3.
        assert_eq!(o[4 * 25 + d3], 0.0);
        assert_eq!(o[5 * 25 + c3], 1.0);
        // 3 moves ago: empty board.
        assert!(o[6 * 25..8 * 25].iter().all(|&v| v == 0.0));
        assert!(o[8 * 25..9 * 25].iter().all(|&v| v == 0.0), "white to play");
        assert_eq!(o[9 * 25 + c3], 0.0);
        assert_eq!(o[9 * 25], 1.0);
    }
}
