//! Connect Four on the standard 6x7 grid: drop a disc into a column; four in a row (across,
//! down or diagonally) wins; a full grid is a draw.
//!
//! It is the [`Game`] trait's second implementation on purpose: the grid is not square, actions
//! are columns rather than cells, only the left-right mirror is a symmetry, and moves never
//! capture — whatever generic code assumes about Go breaks here.

use crate::game::{Game, GameError, Symmetry};

pub const ROWS: usize = 6;
pub const COLS: usize = 7;

/// A Connect Four position. Row 0 is the top of the grid; discs fall to the highest free row
/// index.
#[derive(Debug, PartialEq, Eq)]
pub struct ConnectFour {
    /// `0` empty, `1` first player, `2` second player.
    cells: [[u8; COLS]; ROWS],
    heights: [u8; COLS],
    moves: Vec<u8>,
    winner: Option<usize>,
}

impl Clone for ConnectFour {
    fn clone(&self) -> ConnectFour {
        ConnectFour {
            cells: self.cells,
            heights: self.heights,
            moves: self.moves.clone(),
            winner: self.winner,
        }
    }
    /// Keeps the move list's capacity: a search copying its root into a scratch state allocates
    /// nothing.
    fn clone_from(&mut self, source: &ConnectFour) {
        self.cells = source.cells;
        self.heights = source.heights;
        self.moves.clone_from(&source.moves);
        self.winner = source.winner;
    }
}

impl Default for ConnectFour {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnectFour {
    pub fn new() -> ConnectFour {
        ConnectFour {
            cells: [[0; COLS]; ROWS],
            heights: [0; COLS],
            moves: Vec::with_capacity(ROWS * COLS),
            winner: None,
        }
    }

    /// The player (0 or 1) whose disc is at `(row, col)`, if any.
    pub fn at(&self, row: usize, col: usize) -> Option<usize> {
        match self.cells[row][col] {
            0 => None,
            k => Some(k as usize - 1),
        }
    }

    pub fn winner(&self) -> Option<usize> {
        self.winner
    }

    fn wins_at(&self, row: usize, col: usize) -> bool {
        self.would_win(row, col, self.cells[row][col])
    }

    /// Whether a disc `k` at `(row, col)` makes four in a row with the discs around it (the cell
    /// itself is not read).
    fn would_win(&self, row: usize, col: usize, k: u8) -> bool {
        let count = |dr: i32, dc: i32| {
            let (mut r, mut c, mut n) = (row as i32 + dr, col as i32 + dc, 0);
            while (0..ROWS as i32).contains(&r)
                && (0..COLS as i32).contains(&c)
                && self.cells[r as usize][c as usize] == k
            {
                n += 1;
                r += dr;
                c += dc;
            }
            n
        };
        [(0, 1), (1, 0), (1, 1), (1, -1)]
            .iter()
            .any(|&(dr, dc)| 1 + count(dr, dc) + count(-dr, -dc) >= 4)
    }
}

impl Game for ConnectFour {
    fn name(&self) -> String {
        "connect_four".into()
    }
    fn num_actions(&self) -> usize {
        COLS
    }
    fn observation_shape(&self) -> [usize; 3] {
        [3, ROWS, COLS]
    }
    fn channel_names(&self) -> Vec<String> {
        vec![
            "own discs".into(),
            "opponent discs".into(),
            "first player to move".into(),
        ]
    }
    fn current_player(&self) -> usize {
        self.moves.len() % 2
    }
    fn is_terminal(&self) -> bool {
        self.winner.is_some() || self.moves.len() == ROWS * COLS
    }
    fn legal_actions(&self, out: &mut Vec<usize>) {
        out.clear();
        if !self.is_terminal() {
            out.extend((0..COLS).filter(|&c| (self.heights[c] as usize) < ROWS));
        }
    }
    fn is_legal(&self, action: usize) -> bool {
        action < COLS && !self.is_terminal() && (self.heights[action] as usize) < ROWS
    }
    fn apply(&mut self, action: usize) -> Result<(), GameError> {
        if action >= COLS {
            return Err(GameError::InvalidAction { action, n: COLS });
        }
        if self.is_terminal() {
            return Err(GameError::GameOver);
        }
        if self.heights[action] as usize >= ROWS {
            return Err(GameError::IllegalAction {
                action,
                name: self.action_name(action),
                reason: "the column is full".into(),
            });
        }
        let player = self.current_player();
        let row = ROWS - 1 - self.heights[action] as usize;
        self.cells[row][action] = player as u8 + 1;
        self.heights[action] += 1;
        self.moves.push(action as u8);
        if self.wins_at(row, action) {
            self.winner = Some(player);
        }
        Ok(())
    }
    fn undo(&mut self) -> Result<(), GameError> {
        let c = self.moves.pop().ok_or(GameError::NothingToUndo)? as usize;
        self.heights[c] -= 1;
        self.cells[ROWS - 1 - self.heights[c] as usize][c] = 0;
        self.winner = None;
        Ok(())
    }
    fn history_len(&self) -> usize {
        self.moves.len()
    }
    fn action_at(&self, i: usize) -> Option<usize> {
        self.moves.get(i).map(|&c| c as usize)
    }
    fn winning_action(&self) -> Option<usize> {
        if self.is_terminal() {
            return None;
        }
        let k = self.current_player() as u8 + 1;
        (0..COLS).find(|&c| {
            let h = self.heights[c] as usize;
            h < ROWS && self.would_win(ROWS - 1 - h, c, k)
        })
    }
    fn returns(&self) -> [f32; 2] {
        match self.winner {
            Some(0) => [1.0, -1.0],
            Some(_) => [-1.0, 1.0],
            None => [0.0, 0.0],
        }
    }
    fn observe(&self, out: &mut [f32]) {
        let plane = ROWS * COLS;
        assert_eq!(out.len(), 3 * plane, "observation buffer size");
        out.fill(0.0);
        let me = self.current_player() as u8 + 1;
        for r in 0..ROWS {
            for c in 0..COLS {
                match self.cells[r][c] {
                    0 => {}
                    k if k == me => out[r * COLS + c] = 1.0,
                    _ => out[plane + r * COLS + c] = 1.0,
                }
            }
        }
        if self.current_player() == 0 {
            out[2 * plane..].fill(1.0);
        }
    }
    fn symmetries(&self) -> &'static [Symmetry] {
        &[Symmetry::Identity, Symmetry::FlipX]
    }
    fn transform_action(&self, sym: Symmetry, action: usize) -> usize {
        match sym {
            Symmetry::Identity => action,
            Symmetry::FlipX => COLS - 1 - action,
            other => panic!("{other:?} is not a symmetry of Connect Four"),
        }
    }
    fn action_name(&self, action: usize) -> String {
        format!("column {}", action + 1)
    }
    fn render(&self) -> String {
        let mut s = String::new();
        for row in &self.cells {
            for &k in row {
                s.push(match k {
                    1 => 'X',
                    2 => 'O',
                    _ => '.',
                });
                s.push(' ');
            }
            s.pop();
            s.push('\n');
        }
        s.push_str("1 2 3 4 5 6 7\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(g: &mut ConnectFour, cols: &[usize]) {
        for &c in cols {
            g.apply(c).unwrap();
        }
    }

    #[test]
    fn wins_in_every_direction() {
        for (cols, winner) in [
            (vec![0, 0, 1, 1, 2, 2, 3], 0),             // across
            (vec![0, 1, 0, 1, 0, 1, 0], 0),             // down
            (vec![0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3], 0), // diagonal
            (vec![6, 0, 1, 0, 1, 0, 2, 0], 1),          // down, second player
        ] {
            let mut g = ConnectFour::new();
            play(&mut g, &cols[..cols.len() - 1]);
            assert!(!g.is_terminal());
            g.apply(*cols.last().unwrap()).unwrap();
            assert_eq!(g.winner(), Some(winner), "{cols:?}\n{}", g.render());
            assert!(g.is_terminal());
            let mut r = [0.0; 2];
            r[winner] = 1.0;
            r[1 - winner] = -1.0;
            assert_eq!(g.returns(), r);
            assert_eq!(g.apply(5), Err(GameError::GameOver));
            g.undo().unwrap();
            assert!(!g.is_terminal());
        }
    }

    /// `winning_action` agrees with trying every column, on every position of 300 random games,
    /// and is `None` once the game is over.
    #[test]
    fn winning_action_is_exactly_a_move_that_wins_at_once() {
        let mut rng = crate::rng::Rng::new(11);
        let (mut found, mut buf) = (0, Vec::new());
        for _ in 0..300 {
            let mut g = ConnectFour::new();
            while !g.is_terminal() {
                let me = g.current_player();
                let winning: Vec<usize> = (0..COLS)
                    .filter(|&c| {
                        let mut t = g.clone();
                        t.apply(c).is_ok() && t.winner() == Some(me)
                    })
                    .collect();
                match g.winning_action() {
                    Some(a) => {
                        assert_eq!(Some(&a), winning.first(), "\n{}", g.render());
                        found += 1;
                    }
                    None => assert!(winning.is_empty(), "{winning:?}\n{}", g.render()),
                }
                let a = g.random_action(&mut rng, &mut buf).unwrap();
                g.apply(a).unwrap();
            }
            assert_eq!(g.winning_action(), None);
        }
        assert!(found > 300, "random games leave many wins in one: {found}");
    }

    #[test]
    fn full_columns_and_bad_actions() {
        let mut g = ConnectFour::new();
        play(&mut g, &[3, 3, 3, 3, 3, 3]);
        assert!(!g.is_legal(3));
        assert!(matches!(g.apply(3), Err(GameError::IllegalAction { .. })));
        assert!(matches!(g.apply(7), Err(GameError::InvalidAction { .. })));
        let mut v = Vec::new();
        g.legal_actions(&mut v);
        assert_eq!(v, vec![0, 1, 2, 4, 5, 6]);
    }
}
