//! The Go board: stones, chains and pseudo-liberties, kept incrementally.
//!
//! Design (in the line of GNU Go's board, libego and Pachi):
//! - A padded one-dimensional board of stride `size + 2`: every on-board point has four
//!   neighbours, off-board ones hold [`EDGE`], so neighbour loops need no bounds checks.
//!   Points are `u16` indices; `0` is always an edge point and serves as "none".
//! - Chains are circular linked lists of stones (`next`) with a representative stone
//!   (`chain[p]`). Merging relabels the smaller chain and splices the two lists: no flood fill.
//! - Liberties are *pseudo-liberties* (libego's choice): each (stone, empty neighbour) pair counts
//!   once, so a move changes counts by plain increments and merging adds them. A chain is captured
//!   exactly when its count is zero. Whether a move at `p` takes a neighbouring chain's last
//!   liberty is also exact: it does iff the chain's count equals the number of its stones next
//!   to `p` (all its pseudo-liberties are then `p`). That is all suicide, capture and the
//!   superko look-ahead need, O(1) per neighbour; exact liberty lists (GTP `countlib`, tests)
//!   walk the chain.
//! - Empty points are kept in a list with positions, so a uniformly random empty point is O(1).
//! - Arrays have 512 entries and every index is masked with 511, so the compiler proves them in
//!   bounds and drops the checks (the workspace forbids `unsafe`).
//! - A position hash (Zobrist, see `zobrist`) is updated with every stone placed or removed.
//! - Every write to the arrays can be logged (a [`Log`]) as `(field, index, old value)`, which is
//!   how the full-rules state undoes moves exactly (GNU Go's change stack). The playout path uses
//!   [`NoLog`], which compiles to nothing.
//! - The playout path is tuned against branch mispredictions more than instructions: the colours
//!   around a random move are coin flips. Without a log, `place` takes the pseudo-liberty from
//!   every neighbour and gives liberties back around a capture without asking its colour (adding
//!   0 where it is not a stone of the right colour, whose chain entry may be stale: a write that
//!   changes nothing); the logged path writes only real changes. A drawn point with an empty
//!   neighbour is a playable non-eye in one test ([`Board::is_playout_move`]); the rest is
//!   decided branch-free from the chains around.
//!
//! The board knows simple ko only (the point a single-stone capture forbids for one move). The
//! full rules (positional superko, passes, game end, undo) are in `state`.

use std::fmt;

use super::zobrist::KEYS;

/// Smallest and largest supported board sizes.
pub const MIN_SIZE: usize = 5;
pub const MAX_SIZE: usize = 19;
/// Points of the largest padded board.
pub const MAX_POINTS: usize = (MAX_SIZE + 2) * (MAX_SIZE + 2);
/// Array length: the next power of two, so that indices masked with `CAP - 1` are provably in
/// bounds and the compiler drops the bounds checks (the crate forbids `unsafe`).
pub(crate) const CAP: usize = 512;
const MASK: usize = CAP - 1;

/// An array index from a point (or list position), masked into `0..CAP`.
#[inline(always)]
fn ix(p: usize) -> usize {
    p & MASK
}

/// Point contents.
pub const EMPTY: u8 = 0;
pub const BLACK: u8 = 1;
pub const WHITE: u8 = 2;
pub const EDGE: u8 = 3;

/// A stone colour (and a player: Black moves first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Color {
    Black = 1,
    White = 2,
}

impl Color {
    /// The other colour.
    #[inline]
    pub fn opp(self) -> Color {
        match self {
            Color::Black => Color::White,
            Color::White => Color::Black,
        }
    }
    /// +1 for Black, -1 for White (as area scores count).
    #[inline]
    pub fn sign(self) -> i32 {
        3 - 2 * self as i32
    }
    /// 0 for Black, 1 for White (the player index of the `Game` trait).
    #[inline]
    pub fn index(self) -> usize {
        self as usize - 1
    }
    /// The colour of player index 0 or 1.
    pub fn from_index(i: usize) -> Color {
        if i == 0 { Color::Black } else { Color::White }
    }
    /// `B` or `W`.
    pub fn letter(self) -> char {
        match self {
            Color::Black => 'B',
            Color::White => 'W',
        }
    }
    /// Parses `b`, `black`, `w`, `white` (any case), as GTP does.
    pub fn parse(s: &str) -> Option<Color> {
        match s.to_ascii_lowercase().as_str() {
            "b" | "black" => Some(Color::Black),
            "w" | "white" => Some(Color::White),
            _ => None,
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Color::Black => "black",
            Color::White => "white",
        })
    }
}

/// An index into the padded board (`Board::point(x, y)`).
pub type Point = u16;

/// Why a move is not legal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Illegal {
    Occupied,
    Suicide,
    /// Retaking a ko at once (simple ko; the board's own rule).
    Ko,
    /// Recreating an earlier position (positional superko; the full rules).
    Superko,
    /// The point is not on the board.
    OffBoard,
    /// A setup stone (SGF `AB`/`AW`) that would take a chain's last liberty: setup never captures.
    SetupCapture,
}

impl fmt::Display for Illegal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Illegal::Occupied => "the point is occupied",
            Illegal::Suicide => "suicide is not allowed",
            Illegal::Ko => "the ko cannot be retaken at once",
            Illegal::Superko => "the move repeats an earlier position (positional superko)",
            Illegal::OffBoard => "the point is not on the board",
            Illegal::SetupCapture => "a setup stone may not take the last liberty of a chain",
        })
    }
}

/// Which array a logged write touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Field {
    Color,
    Chain,
    Next,
    Libs,
    Size,
    Empty,
    EmptyPos,
}

/// One logged write: enough to put the old value back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub field: Field,
    pub idx: u16,
    pub old: u32,
}

/// Receives every write the board makes while playing a move.
pub(crate) trait Log {
    /// Whether writes are recorded. Without a log, the board may make writes that change
    /// nothing (adding 0) instead of branching on hard-to-predict conditions.
    const ACTIVE: bool;
    fn rec(&mut self, field: Field, idx: usize, old: u32);
}

/// No logging: the playout path.
pub(crate) struct NoLog;

impl Log for NoLog {
    const ACTIVE: bool = false;
    #[inline(always)]
    fn rec(&mut self, _: Field, _: usize, _: u32) {}
}

impl Log for Vec<Entry> {
    const ACTIVE: bool = true;
    #[inline]
    fn rec(&mut self, field: Field, idx: usize, old: u32) {
        self.push(Entry {
            field,
            idx: idx as u16,
            old,
        });
    }
}

/// The scalar part of a board, saved whole before a logged move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scalars {
    pub hash: u64,
    pub ko: Point,
    pub ko_color: u8,
    pub n_empty: u16,
    pub captures: [u32; 2],
    /// Black stones minus white stones on the board.
    pub stone_diff: i32,
}

/// A Go board of any size from 5 to 19 with incremental chains. `Clone` is a flat copy.
#[derive(Clone, PartialEq, Eq)]
pub struct Board {
    size: usize,
    stride: usize,
    color: [u8; CAP],
    chain: [u16; CAP],
    next: [u16; CAP],
    libs: [u16; CAP],
    csize: [u16; CAP],
    empty: [u16; CAP],
    empty_pos: [u16; CAP],
    s: Scalars,
}

impl fmt::Debug for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Board {}x{}\n{}", self.size, self.size, self.ascii())
    }
}

macro_rules! set {
    ($self:ident, $log:ident, $arr:ident, $field:expr, $i:expr, $v:expr) => {{
        let i = ix($i as usize);
        $log.rec($field, i, $self.$arr[i] as u32);
        $self.$arr[i] = $v;
    }};
}

impl Board {
    /// An empty board; `size` must be in `MIN_SIZE..=MAX_SIZE`.
    pub fn new(size: usize) -> Result<Board, String> {
        if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
            return Err(format!(
                "board size {size} is not supported: sizes {MIN_SIZE} to {MAX_SIZE} are"
            ));
        }
        let stride = size + 2;
        let mut b = Board {
            size,
            stride,
            color: [EDGE; CAP],
            chain: [0; CAP],
            next: [0; CAP],
            libs: [0; CAP],
            csize: [0; CAP],
            empty: [0; CAP],
            empty_pos: [0; CAP],
            s: Scalars {
                hash: 0,
                ko: 0,
                ko_color: 0,
                n_empty: 0,
                captures: [0, 0],
                stone_diff: 0,
            },
        };
        let mut n = 0;
        for y in 0..size {
            for x in 0..size {
                let p = b.point(x, y) as usize;
                b.color[p] = EMPTY;
                b.empty[n] = p as u16;
                b.empty_pos[p] = n as u16;
                n += 1;
            }
        }
        b.s.n_empty = n as u16;
        Ok(b)
    }

    #[inline]
    pub fn size(&self) -> usize {
        self.size
    }
    #[inline]
    pub fn stride(&self) -> usize {
        self.stride
    }
    /// The point at column `x` (0 = left) and row `y` (0 = top). Both must be `< size`.
    #[inline]
    pub fn point(&self, x: usize, y: usize) -> Point {
        ((y + 1) * self.stride + x + 1) as Point
    }
    /// `(x, y)` of an on-board point.
    #[inline]
    pub fn xy(&self, p: Point) -> (usize, usize) {
        let p = p as usize;
        (p % self.stride - 1, p / self.stride - 1)
    }
    /// Whether `p` is a point of the board (not padding, not out of range).
    #[inline]
    pub fn on_board(&self, p: Point) -> bool {
        (p as usize) < MAX_POINTS && self.color[ix(p as usize)] != EDGE
    }
    /// The row-major action index `y * size + x` of an on-board point.
    #[inline]
    pub fn index(&self, p: Point) -> usize {
        let (x, y) = self.xy(p);
        y * self.size + x
    }
    /// The point of a row-major index `< size * size`.
    #[inline]
    pub fn from_index(&self, i: usize) -> Point {
        self.point(i % self.size, i / self.size)
    }
    /// Every on-board point, row by row from the top.
    pub fn points(&self) -> impl Iterator<Item = Point> + '_ {
        (0..self.size * self.size).map(|i| self.from_index(i))
    }
    /// The contents of `p`: `EMPTY`, `BLACK`, `WHITE` or `EDGE`.
    #[inline]
    pub fn at(&self, p: Point) -> u8 {
        self.color[ix(p as usize)]
    }
    /// The stone colour at `p`, if any.
    pub fn stone(&self, p: Point) -> Option<Color> {
        match self.color[ix(p as usize)] {
            BLACK => Some(Color::Black),
            WHITE => Some(Color::White),
            _ => None,
        }
    }
    /// The position hash (XOR of the Zobrist keys of all stones).
    #[inline]
    pub fn hash(&self) -> u64 {
        self.s.hash
    }
    /// The simple-ko point forbidden to `color` now, if any.
    pub fn ko_point(&self, color: Color) -> Option<Point> {
        (self.s.ko != 0 && self.s.ko_color == color as u8).then_some(self.s.ko)
    }
    /// Stones captured so far *by* `color`.
    pub fn captures(&self, color: Color) -> u32 {
        self.s.captures[color.index()]
    }
    /// The empty points (in no particular order).
    #[inline]
    pub fn empties(&self) -> &[u16] {
        &self.empty[..self.s.n_empty as usize]
    }
    /// Entry `i` of the empty list (`i < empties().len()`).
    #[inline]
    pub(crate) fn empty_at(&self, i: usize) -> Point {
        self.empty[ix(i)]
    }
    /// Number of stones on the board.
    pub fn stone_count(&self) -> usize {
        self.size * self.size - self.s.n_empty as usize
    }
    pub(crate) fn scalars(&self) -> Scalars {
        self.s
    }
    pub(crate) fn set_scalars(&mut self, s: Scalars) {
        self.s = s;
    }

    #[inline]
    pub fn neighbors(&self, p: Point) -> [Point; 4] {
        let s = self.stride as u16;
        [p - s, p - 1, p + 1, p + s]
    }
    #[inline]
    fn diagonals(&self, p: Point) -> [Point; 4] {
        let s = self.stride as u16;
        [p - s - 1, p - s + 1, p + s - 1, p + s + 1]
    }

    /// The representative stone of the chain at `p` (a stone).
    #[inline]
    pub fn chain_id(&self, p: Point) -> Point {
        self.chain[ix(p as usize)]
    }
    /// Stones of the chain at `p`.
    pub fn chain_stones(&self, p: Point) -> Vec<Point> {
        let mut v = Vec::new();
        let mut q = p;
        loop {
            v.push(q);
            q = self.next[ix(q as usize)];
            if q == p {
                break;
            }
        }
        v
    }
    /// Pseudo-liberty count of the chain at `p`.
    pub fn pseudo_liberties(&self, p: Point) -> u32 {
        self.libs[self.chain[ix(p as usize)] as usize] as u32
    }
    /// The exact liberties of the chain at `p`, sorted (walks the chain: for display and tests,
    /// not for the hot path).
    pub fn liberties(&self, p: Point) -> Vec<Point> {
        let mut v: Vec<Point> = self
            .chain_stones(p)
            .into_iter()
            .flat_map(|s| self.neighbors(s))
            .filter(|&q| self.color[ix(q as usize)] == EMPTY)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Whether the chain with representative `r` (a neighbour of `p`) has `p` as its only
    /// liberty: all its pseudo-liberties are adjacencies to `p`.
    #[inline]
    fn only_liberty_is(&self, r: u16, p: Point) -> bool {
        let k = self.color[ix(r as usize)];
        let mut adj = 0u16;
        for &t in &self.neighbors(p) {
            let t = ix(t as usize);
            adj += (self.color[t] == k && self.chain[t] == r) as u16;
        }
        self.libs[ix(r as usize)] == adj
    }
    /// Whether the chain at `p` has exactly one liberty (walks the chain: not for hot paths).
    pub fn in_atari(&self, p: Point) -> bool {
        self.liberties(p).len() == 1
    }

    /// Whether `color` may play at `p` under the board's rules (occupied, suicide, simple ko).
    #[inline]
    pub fn check(&self, p: Point, color: Color) -> Result<(), Illegal> {
        if !self.on_board(p) {
            return Err(Illegal::OffBoard);
        }
        if self.color[ix(p as usize)] != EMPTY {
            return Err(Illegal::Occupied);
        }
        if self.s.ko == p && self.s.ko_color == color as u8 {
            return Err(Illegal::Ko);
        }
        if self.is_suicide(p, color) {
            return Err(Illegal::Suicide);
        }
        Ok(())
    }

    /// Whether a stone of `color` on the empty point `p` would have no liberty and capture nothing.
    #[inline]
    pub fn is_suicide(&self, p: Point, color: Color) -> bool {
        let k = self.neighbor_colors(p);
        !k.contains(&EMPTY) && self.is_suicide_surrounded(p, color, k)
    }

    /// The contents of the four neighbours of `p` (above, left, right, below).
    #[inline(always)]
    fn neighbor_colors(&self, p: Point) -> [u8; 4] {
        let (p, s) = (p as usize, self.stride);
        [
            self.color[ix(p.wrapping_sub(s))],
            self.color[ix(p.wrapping_sub(1))],
            self.color[ix(p + 1)],
            self.color[ix(p + s)],
        ]
    }

    /// [`Board::is_suicide`] for a point whose neighbours `k` are all stones or edge: no own
    /// neighbouring chain has another liberty and no enemy one is left without one.
    #[inline]
    fn is_suicide_surrounded(&self, p: Point, color: Color, k: [u8; 4]) -> bool {
        // A chain's stones next to `p` hold at least that many of its pseudo-liberties; `p` is
        // its last liberty iff they hold all of them. Edge points have chain 0, never a
        // representative, whose count stays 0; chains of different stones have different
        // representatives, so equal ids mean one chain. Branch-free: these are coin flips.
        let r = self.neighbors(p).map(|q| self.chain[ix(q as usize)]);
        let (c, o) = (color as u8, color.opp() as u8);
        let mut escape = false;
        for i in 0..4 {
            let adj = r.iter().map(|&x| (x == r[i]) as u16).sum::<u16>();
            let last = self.libs[ix(r[i] as usize)] == adj;
            escape |= (k[i] == c) & !last | (k[i] == o) & last;
        }
        !escape
    }

    /// Whether `p` is a one-point eye of `color`: all four neighbours are `color` (or edge), and
    /// the opponent holds fewer than two diagonals (none, when the point is on the edge).
    #[inline]
    pub fn is_eye(&self, p: Point, color: Color) -> bool {
        let k = self.neighbor_colors(p);
        // `EDGE` is `BLACK | WHITE`: a neighbour is `color` or edge iff it shares its bit.
        k[0] & k[1] & k[2] & k[3] & color as u8 != 0 && self.eye_diagonals(p, color)
    }

    /// The diagonal half of [`Board::is_eye`].
    #[inline]
    fn eye_diagonals(&self, p: Point, color: Color) -> bool {
        let o = color.opp() as u8;
        let (mut enemy, mut edge) = (0, 0);
        for &q in &self.diagonals(p) {
            let k = self.color[ix(q as usize)];
            enemy += (k == o) as u32;
            edge += (k == EDGE) as u32;
        }
        enemy + ((edge > 0) as u32) < 2
    }

    /// Whether the random playout may play `color` at the empty point `p`: not one of its own
    /// one-point eyes, not the simple-ko point, not suicide. The same as
    /// `!is_eye(p, color) && ko_point(color) != Some(p) && !is_suicide(p, color)`, with one test
    /// for the common case: a point with an empty neighbour is none of the three (the ko point's
    /// neighbours are all stones of the player who just captured, or edge).
    #[inline(always)]
    pub fn is_playout_move(&self, p: Point, color: Color) -> bool {
        let k = self.neighbor_colors(p);
        (k[0] == EMPTY) | (k[1] == EMPTY) | (k[2] == EMPTY) | (k[3] == EMPTY)
            || self.is_playout_move_surrounded(p, color, k)
    }

    /// [`Board::is_playout_move`] for a point with no empty neighbour.
    #[inline]
    fn is_playout_move_surrounded(&self, p: Point, color: Color, k: [u8; 4]) -> bool {
        let c = color as u8;
        let eye = k[0] & k[1] & k[2] & k[3] & c != 0 && self.eye_diagonals(p, color);
        let ko = self.s.ko == p && self.s.ko_color == c;
        !(eye || ko || self.is_suicide_surrounded(p, color, k))
    }

    /// The position hash after `color` plays the legal move `p` (without playing it).
    pub fn hash_after(&self, p: Point, color: Color) -> u64 {
        let mut h = self.s.hash ^ KEYS[color.index()][ix(p as usize)];
        let o = color.opp();
        let mut seen: [u16; 4] = [0; 4];
        let mut n = 0;
        for &q in &self.neighbors(p) {
            if self.color[ix(q as usize)] != o as u8 {
                continue;
            }
            let r = self.chain[ix(q as usize)];
            if seen[..n].contains(&r) || !self.only_liberty_is(r, p) {
                continue;
            }
            seen[n] = r;
            n += 1;
            let mut s = r;
            loop {
                h ^= KEYS[o.index()][ix(s as usize)];
                s = self.next[ix(s as usize)];
                if s == r {
                    break;
                }
            }
        }
        h
    }

    /// Plays a move already checked with [`Board::check`]. Returns the number of stones captured.
    #[inline]
    pub fn play_unchecked(&mut self, p: Point, color: Color) -> u32 {
        self.place(p, color, &mut NoLog)
    }

    /// Places a stone of `color` on the empty point `p`, merges chains, captures, updates the hash
    /// and the ko point, logging every array write. The move must not be suicide.
    #[inline(always)]
    pub(crate) fn place<L: Log>(&mut self, p: Point, color: Color, log: &mut L) -> u32 {
        let c = color as u8;
        let o = color.opp() as u8;
        let pu = ix(p as usize);
        let nb = self.neighbors(p).map(|q| ix(q as usize));
        let k = self.neighbor_colors(p);
        self.remove_empty(p, log);
        set!(self, log, color, Field::Color, pu, c);
        set!(self, log, chain, Field::Chain, pu, p);
        set!(self, log, next, Field::Next, pu, p);
        set!(self, log, csize, Field::Size, pu, 1);
        let free = k.iter().map(|&x| (x == EMPTY) as u16).sum();
        set!(self, log, libs, Field::Libs, pu, free);
        self.s.hash ^= KEYS[color.index()][pu];
        self.s.stone_diff += color.sign();
        // Every neighbouring stone loses a pseudo-liberty. The colours around a random move are
        // coin flips, so without a log this subtracts 0 at empty and edge points (whose chain
        // entry is stale or 0) instead of branching.
        for i in 0..4 {
            let stone = (k[i] == c) | (k[i] == o);
            if stone || !L::ACTIVE {
                let r = ix(self.chain[nb[i]] as usize);
                set!(self, log, libs, Field::Libs, r, self.libs[r] - stone as u16);
            }
        }
        // Join the own chains around, in neighbour order (a loop over a bit mask: one branch
        // per own neighbour instead of one per neighbour).
        let mut own = (0..4).fold(0u32, |m, i| m | ((k[i] == c) as u32) << i);
        while own != 0 {
            let i = own.trailing_zeros() as usize;
            own &= own - 1;
            let (me, r) = (self.chain[pu], self.chain[nb[i & 3]]);
            if me != r {
                self.merge(me, r, log);
            }
        }
        // Capture the enemy chains left without a liberty (rare: one test when there is none),
        // each where it is last adjacent to `p`, and after the merges, so that the liberties
        // they give back are counted once, on the joined chain.
        let dead = (0..4).fold(0u32, |m, i| {
            let r = self.chain[nb[i]];
            m | (((k[i] == o) & (self.libs[ix(r as usize)] == 0)) as u32) << i
        });
        let mut captured = 0;
        let mut last_captured: Point = 0;
        if dead != 0 {
            for i in 0..4 {
                let r = self.chain[nb[i]];
                let later = |j: usize| k[j] == o && self.chain[nb[j]] == r;
                if dead & (1 << i) != 0 && !(i + 1..4).any(later) {
                    captured += self.capture(r, color, log);
                    last_captured = r;
                }
            }
        }
        self.s.captures[color.index()] += captured;
        self.s.stone_diff += color.sign() * captured as i32;
        let me = ix(self.chain[pu] as usize);
        if captured == 1 && self.csize[me] == 1 && self.libs[me] == 1 {
            self.s.ko = last_captured;
            self.s.ko_color = o;
        } else {
            self.s.ko = 0;
            self.s.ko_color = 0;
        }
        captured
    }

    fn merge<L: Log>(&mut self, a: Point, b: Point, log: &mut L) {
        let (big, small) = if self.csize[ix(a as usize)] >= self.csize[ix(b as usize)] {
            (ix(a as usize), ix(b as usize))
        } else {
            (ix(b as usize), ix(a as usize))
        };
        let mut s = small;
        loop {
            set!(self, log, chain, Field::Chain, s, big as u16);
            s = ix(self.next[s] as usize);
            if s == small {
                break;
            }
        }
        let (nb, ns) = (self.next[big], self.next[small]);
        set!(self, log, next, Field::Next, big, ns);
        set!(self, log, next, Field::Next, small, nb);
        set!(
            self,
            log,
            csize,
            Field::Size,
            big,
            self.csize[big] + self.csize[small]
        );
        set!(
            self,
            log,
            libs,
            Field::Libs,
            big,
            self.libs[big] + self.libs[small]
        );
    }

    /// Removes the chain `r` (of `by`'s opponent) and gives its points back as liberties.
    fn capture<L: Log>(&mut self, r: Point, by: Color, log: &mut L) -> u32 {
        let key = &KEYS[by.opp().index()];
        let c = by as u8;
        let mut n = 0;
        let mut s = r;
        loop {
            set!(self, log, color, Field::Color, s, EMPTY);
            self.s.hash ^= key[ix(s as usize)];
            self.add_empty(s, log);
            n += 1;
            // Each of `by`'s stones next to the point gains it as a pseudo-liberty (the chain's
            // own stones are not `by`'s, emptied or not).
            for &q in &self.neighbors(s) {
                let own = self.color[ix(q as usize)] == c;
                if own || !L::ACTIVE {
                    let rq = ix(self.chain[ix(q as usize)] as usize);
                    set!(self, log, libs, Field::Libs, rq, self.libs[rq] + own as u16);
                }
            }
            s = self.next[ix(s as usize)];
            if s == r {
                break;
            }
        }
        n
    }

    #[inline]
    fn remove_empty<L: Log>(&mut self, p: Point, log: &mut L) {
        let i = ix(self.empty_pos[ix(p as usize)] as usize);
        let n = ix(self.s.n_empty as usize - 1);
        let last = self.empty[n];
        set!(self, log, empty, Field::Empty, i, last);
        set!(self, log, empty_pos, Field::EmptyPos, last, i as u16);
        self.s.n_empty = n as u16;
    }

    #[inline]
    fn add_empty<L: Log>(&mut self, p: Point, log: &mut L) {
        let n = ix(self.s.n_empty as usize);
        set!(self, log, empty, Field::Empty, n, p);
        set!(self, log, empty_pos, Field::EmptyPos, p, n as u16);
        self.s.n_empty = n as u16 + 1;
    }

    /// Swaps two entries of the empty list (the playout's sampling without replacement).
    #[inline]
    pub(crate) fn swap_empties(&mut self, i: usize, j: usize) {
        let (i, j) = (ix(i), ix(j));
        let (a, b) = (self.empty[i], self.empty[j]);
        self.empty[i] = b;
        self.empty[j] = a;
        self.empty_pos[ix(b as usize)] = i as u16;
        self.empty_pos[ix(a as usize)] = j as u16;
    }

    /// Undoes one logged write.
    pub(crate) fn restore(&mut self, e: Entry) {
        let i = ix(e.idx as usize);
        match e.field {
            Field::Color => self.color[i] = e.old as u8,
            Field::Chain => self.chain[i] = e.old as u16,
            Field::Next => self.next[i] = e.old as u16,
            Field::Libs => self.libs[i] = e.old as u16,
            Field::Size => self.csize[i] = e.old as u16,
            Field::Empty => self.empty[i] = e.old as u16,
            Field::EmptyPos => self.empty_pos[i] = e.old as u16,
        }
    }

    /// The area score, Black minus White, before komi: stones plus empty regions that touch stones
    /// of one colour only.
    pub fn area_score(&self) -> i32 {
        // A finished playout leaves mostly one-point regions: count the stones (kept), score
        // the empty points from their neighbours in one branch-free pass, and flood the regions
        // only if a larger one is met.
        let mut score = self.s.stone_diff;
        let mut larger = false;
        for &p in self.empties() {
            let n = self.neighbor_colors(p);
            larger |= n.contains(&EMPTY);
            // The colours it touches; `EDGE` is `BLACK | WHITE`, so edges are masked out.
            let k = n.iter().fold(0, |t, &x| t | if x == EDGE { 0 } else { x });
            score += (k == BLACK) as i32 - (k == WHITE) as i32;
        }
        if larger {
            self.area_score_by_regions()
        } else {
            score
        }
    }

    /// [`Board::area_score`] by flooding every empty region.
    fn area_score_by_regions(&self) -> i32 {
        let mut score = 0i32;
        self.areas(|_, owner, n| match owner {
            BLACK => score += n as i32,
            WHITE => score -= n as i32,
            _ => {}
        });
        score
    }

    /// Who owns each point by area scoring, row-major from the top-left (`size · size` values):
    /// `+1` Black (a black stone, or an empty region touching black stones only), `-1` White, `0`
    /// neither (an empty region touching both colours, or none).
    pub fn ownership(&self, out: &mut [f32]) {
        assert_eq!(out.len(), self.size * self.size, "ownership buffer size");
        let (stride, size) = (self.stride, self.size);
        let cell = |p: u16| {
            let (x, y) = (p as usize % stride - 1, p as usize / stride - 1);
            y * size + x
        };
        self.areas(|points, owner, _| {
            let v = match owner {
                BLACK => 1.0,
                WHITE => -1.0,
                _ => 0.0,
            };
            for &p in points {
                out[cell(p)] = v;
            }
        });
    }

    /// Calls `visit(points, owner, n)` for every stone (one point, its colour) and every empty
    /// region (its points, the one colour it touches or `EMPTY` when it touches both or none).
    fn areas(&self, mut visit: impl FnMut(&[u16], u8, usize)) {
        let mut seen = [false; CAP];
        let mut stack = [0u16; CAP];
        let mut region = [0u16; CAP];
        for y in 0..self.size {
            let row = (y + 1) * self.stride + 1;
            for p in row..row + self.size {
                match self.color[ix(p)] {
                    k @ (BLACK | WHITE) => visit(&[p as u16], k, 1),
                    _ if !seen[ix(p)] => {
                        // Flood the empty region, noting which colours it touches.
                        let (mut n, mut touch, mut top) = (0usize, 0u8, 1usize);
                        seen[ix(p)] = true;
                        stack[0] = p as u16;
                        while top > 0 {
                            top -= 1;
                            let q = stack[ix(top)];
                            region[ix(n)] = q;
                            n += 1;
                            for &r in &self.neighbors(q) {
                                let r = ix(r as usize);
                                match self.color[r] {
                                    EMPTY if !seen[r] => {
                                        seen[r] = true;
                                        stack[ix(top)] = r as u16;
                                        top += 1;
                                    }
                                    k @ (BLACK | WHITE) => touch |= k,
                                    _ => {}
                                }
                            }
                        }
                        let owner = if touch == BLACK || touch == WHITE {
                            touch
                        } else {
                            EMPTY
                        };
                        visit(&region[..n], owner, n);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Puts a stone on an empty point as setup (SGF `AB`/`AW`), logging nothing. Setup never
    /// captures: a stone that would leave its own or a neighbouring chain without a liberty is
    /// refused. So the position a set of setup stones makes does not depend on their order.
    pub fn setup_stone(&mut self, p: Point, color: Color) -> Result<(), Illegal> {
        if !self.on_board(p) {
            return Err(Illegal::OffBoard);
        }
        if self.color[ix(p as usize)] != EMPTY {
            return Err(Illegal::Occupied);
        }
        let o = color.opp() as u8;
        for &q in &self.neighbors(p) {
            let qi = ix(q as usize);
            if self.color[qi] == o && self.only_liberty_is(self.chain[qi], p) {
                return Err(Illegal::SetupCapture);
            }
        }
        if self.is_suicide(p, color) {
            return Err(Illegal::Suicide);
        }
        self.place(p, color, &mut NoLog);
        self.s.ko = 0;
        self.s.ko_color = 0;
        Ok(())
    }

    /// The hash recomputed from scratch (for tests of the incremental one).
    pub fn recompute_hash(&self) -> u64 {
        self.points()
            .filter_map(|p| self.stone(p).map(|c| KEYS[c.index()][ix(p as usize)]))
            .fold(0, |h, k| h ^ k)
    }

    /// Checks every incremental invariant against a recomputation: chains are connected, maximal
    /// and share one representative; pseudo-liberty count, sum and sum of squares; every chain
    /// has a liberty; the empty list; the stone difference; the hash. For tests.
    pub fn validate(&self) -> Result<(), String> {
        let mut n_empty = 0;
        for p in self.points() {
            let pu = ix(p as usize);
            match self.color[pu] {
                EMPTY => {
                    n_empty += 1;
                    let i = self.empty_pos[pu] as usize;
                    if i >= self.s.n_empty as usize || self.empty[i] != p {
                        return Err(format!("empty list misses point {p}"));
                    }
                }
                c => {
                    let r = self.chain[pu];
                    if self.color[ix(r as usize)] != c || self.chain[ix(r as usize)] != r {
                        return Err(format!("point {p}: bad representative {r}"));
                    }
                    for &q in &self.neighbors(p) {
                        if self.color[ix(q as usize)] == c && self.chain[ix(q as usize)] != r {
                            return Err(format!("adjacent stones {p} and {q} in two chains"));
                        }
                    }
                    if r == p {
                        let stones = self.chain_stones(p);
                        if stones.len() != self.csize[pu] as usize {
                            return Err(format!(
                                "chain {p}: size {} vs {}",
                                self.csize[pu],
                                stones.len()
                            ));
                        }
                        let mut n = 0u32;
                        for &s in &stones {
                            if self.chain[ix(s as usize)] != r {
                                return Err(format!(
                                    "chain {p}: stone {s} has another representative"
                                ));
                            }
                            for &q in &self.neighbors(s) {
                                if self.color[ix(q as usize)] == EMPTY {
                                    n += 1;
                                }
                            }
                        }
                        if n == 0 {
                            return Err(format!("chain {p} has no liberty"));
                        }
                        if n != self.libs[pu] as u32 {
                            return Err(format!(
                                "chain {p}: {} pseudo-liberties counted, {n} on the board",
                                self.libs[pu]
                            ));
                        }
                        let libs = self.liberties(p);
                        for &l in &libs {
                            if self.only_liberty_is(r, l) != (libs.len() == 1) {
                                return Err(format!("chain {p}: last-liberty test wrong at {l}"));
                            }
                        }
                    }
                }
            }
        }
        let diff: i32 = self
            .points()
            .filter_map(|p| self.stone(p))
            .map(Color::sign)
            .sum();
        if diff != self.s.stone_diff {
            return Err(format!(
                "stone difference {} kept, {diff} on the board",
                self.s.stone_diff
            ));
        }
        if n_empty != self.s.n_empty as usize {
            return Err(format!(
                "{} empty points listed, {n_empty} on the board",
                self.s.n_empty
            ));
        }
        if self.recompute_hash() != self.s.hash {
            return Err("incremental hash differs from the recomputed one".into());
        }
        Ok(())
    }

    /// Rows of `.`, `X` (black) and `O` (white), top row first.
    pub fn ascii(&self) -> String {
        let mut s = String::new();
        for y in 0..self.size {
            for x in 0..self.size {
                s.push(match self.color[self.point(x, y) as usize] {
                    BLACK => 'X',
                    WHITE => 'O',
                    _ => '.',
                });
            }
            s.push('\n');
        }
        s
    }

    /// A board from rows of `.`/`X`/`O` (setup stones: every chain needs a liberty). For tests
    /// and examples.
    pub fn from_ascii(rows: &str) -> Result<Board, String> {
        let rows: Vec<&str> = rows
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let mut b = Board::new(rows.len())?;
        for (y, row) in rows.iter().enumerate() {
            let cells: Vec<char> = row.chars().filter(|c| !c.is_whitespace()).collect();
            if cells.len() != rows.len() {
                return Err(format!(
                    "row {y} has {} cells, expected {}",
                    cells.len(),
                    rows.len()
                ));
            }
            for (x, ch) in cells.into_iter().enumerate() {
                let c = match ch {
                    'X' | 'x' | 'B' => Color::Black,
                    'O' | 'o' | 'W' => Color::White,
                    '.' | '+' => continue,
                    other => return Err(format!("unexpected character `{other}`")),
                };
                let p = b.point(x, y);
                b.setup_stone(p, c).map_err(|e| format!("({x},{y}): {e}"))?;
            }
        }
        Ok(b)
    }
}

/// GTP column letters: A to T without I.
pub const COLUMNS: &[u8; 19] = b"ABCDEFGHJKLMNOPQRST";

/// The GTP name of column `x` and row `y` (0 = top) on a board of `size`, e.g. `D4`.
pub fn vertex_name(x: usize, y: usize, size: usize) -> String {
    format!("{}{}", COLUMNS[x] as char, size - y)
}

/// Parses a GTP vertex (`D4`, `d4`) into `(x, y)` with `y = 0` at the top; `None` when malformed
/// or off a board of `size`.
pub fn parse_vertex(s: &str, size: usize) -> Option<(usize, usize)> {
    let s = s.trim();
    let mut chars = s.chars();
    let letter = chars.next()?.to_ascii_uppercase();
    let x = COLUMNS.iter().position(|&c| c as char == letter)?;
    let rest = chars.as_str();
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) || rest.len() > 2 {
        return None;
    }
    let row: usize = rest.parse().ok()?;
    if x >= size || row == 0 || row > size {
        return None;
    }
    Some((x, size - row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_counts_stones_and_one_colour_regions() {
        let b = Board::from_ascii(
            ". X O . .
             X X O . .
             O O O . .
             . . . O X
             . . . X .",
        )
        .unwrap();
        let mut own = vec![9.0; 25];
        b.ownership(&mut own);
        assert_eq!(own[0], 1.0, "a point inside Black's corner");
        assert_eq!(own[1], 1.0);
        assert_eq!(own[2], -1.0);
        assert_eq!(own[3], 0.0, "the right side touches both colours");
        assert_eq!(own[15], 0.0, "so does the bottom left");
        assert_eq!(own[24], 1.0, "Black's one-point region in the corner");
        assert_eq!(own[18], -1.0);
        let black: f32 = own.iter().filter(|&&v| v > 0.0).count() as f32;
        let white: f32 = own.iter().filter(|&&v| v < 0.0).count() as f32;
        assert_eq!((black - white) as i32, b.area_score());
    }

    fn play(b: &mut Board, v: &str, c: Color) -> u32 {
        let (x, y) = parse_vertex(v, b.size()).unwrap();
        let p = b.point(x, y);
        b.check(p, c).unwrap_or_else(|e| panic!("{v}: {e}"));
        let n = b.play_unchecked(p, c);
        b.validate().unwrap();
        n
    }

    #[test]
    fn sizes_are_checked() {
        assert!(Board::new(4).is_err());
        assert!(Board::new(20).is_err());
        for n in MIN_SIZE..=MAX_SIZE {
            let b = Board::new(n).unwrap();
            assert_eq!(b.empties().len(), n * n);
            b.validate().unwrap();
        }
    }

    #[test]
    fn vertices_skip_i() {
        assert_eq!(parse_vertex("J1", 19), Some((8, 18)));
        assert_eq!(parse_vertex("a19", 19), Some((0, 0)));
        assert_eq!(parse_vertex("I5", 19), None);
        assert_eq!(parse_vertex("K10", 9), None);
        assert_eq!(parse_vertex("A0", 9), None);
        assert_eq!(parse_vertex("A", 9), None);
        assert_eq!(parse_vertex("A1x", 9), None);
        assert_eq!(vertex_name(8, 0, 9), "J9");
    }

    #[test]
    fn corner_capture_and_liberties() {
        let mut b = Board::new(5).unwrap();
        play(&mut b, "A1", Color::White);
        play(&mut b, "A2", Color::Black);
        let a1 = b.point(0, 4);
        assert!(b.in_atari(a1));
        assert_eq!(play(&mut b, "B1", Color::Black), 1);
        assert_eq!(b.at(a1), EMPTY);
        assert_eq!(b.captures(Color::Black), 1);
        let mut want = vec![b.point(0, 2), a1, b.point(1, 3)];
        want.sort_unstable();
        assert_eq!(b.liberties(b.point(0, 3)), want);
    }

    #[test]
    fn suicide_is_detected_with_shared_pseudo_liberties() {
        // A black chain touching its last liberty from two sides: pseudo-liberty count 2, one
        // real liberty. Filling it is suicide only if it captures nothing.
        let b = Board::from_ascii(
            "
            .XO..
            XXO..
            OO...
            .....
            .....",
        )
        .unwrap();
        let a5 = b.point(0, 0);
        assert!(b.in_atari(b.point(1, 0)));
        assert_eq!(b.check(a5, Color::Black), Err(Illegal::Suicide));
        // White plays there and captures the three black stones.
        assert_eq!(b.check(a5, Color::White), Ok(()));
        let mut b2 = b.clone();
        assert_eq!(b2.play_unchecked(a5, Color::White), 3);
        b2.validate().unwrap();
    }

    #[test]
    fn ko_then_fill() {
        let mut b = Board::from_ascii(
            "
            .XO..
            X.XO.
            .XO..
            .....
            .....",
        )
        .unwrap();
        let (b4, c4) = (b.point(1, 1), b.point(2, 1));
        assert_eq!(b.play_unchecked(b4, Color::White), 1);
        assert_eq!(b.ko_point(Color::Black), Some(c4));
        assert_eq!(b.check(c4, Color::Black), Err(Illegal::Ko));
        // A move elsewhere lifts the ko.
        b.play_unchecked(b.point(4, 4), Color::Black);
        assert_eq!(b.ko_point(Color::Black), None);
        b.validate().unwrap();
    }

    #[test]
    fn eyes() {
        let b = Board::from_ascii(
            "
            .X...
            X.X..
            .X...
            .....
            .....",
        )
        .unwrap();
        assert!(b.is_eye(b.point(1, 1), Color::Black));
        assert!(b.is_eye(b.point(0, 0), Color::Black));
        assert!(!b.is_eye(b.point(1, 1), Color::White));
        assert!(!b.is_eye(b.point(3, 3), Color::Black));
        let b = Board::from_ascii(
            "
            .XO..
            X.X..
            .XO..
            .....
            .....",
        )
        .unwrap();
        // Two enemy diagonals: a false eye.
        assert!(!b.is_eye(b.point(1, 1), Color::Black));
    }

    #[test]
    fn setup_never_captures() {
        let mut b = Board::new(5).unwrap();
        b.setup_stone(b.point(0, 0), Color::White).unwrap();
        b.setup_stone(b.point(1, 0), Color::Black).unwrap();
        let before = b.clone();
        assert_eq!(
            b.setup_stone(b.point(0, 1), Color::Black),
            Err(Illegal::SetupCapture)
        );
        assert_eq!(
            b.setup_stone(b.point(0, 0), Color::Black),
            Err(Illegal::Occupied)
        );
        assert!(b == before);
        // Own suicide is refused too.
        let mut b = Board::from_ascii(".X...\nX....\n.....\n.....\n.....").unwrap();
        assert_eq!(
            b.setup_stone(b.point(0, 0), Color::White),
            Err(Illegal::Suicide)
        );
    }

    #[test]
    fn area_score_counts_territory_once() {
        let b = Board::from_ascii(
            "
            .X.O.
            .X.O.
            .X.O.
            .X.O.
            .X.O.",
        )
        .unwrap();
        // Black: 5 stones + 5 territory; White: 5 + 5; the middle column is neutral.
        assert_eq!(b.area_score(), 0);
        assert_eq!(Board::new(5).unwrap().area_score(), 0);
    }
}
