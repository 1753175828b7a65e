//! SGF FF\[4\] reading and writing for Go games.
//!
//! Reading: a byte-level parser of the SGF collection grammar (`(;PROP[value]…;…(…)(…))`), written
//! without recursion so that no input can exhaust the stack. It follows the main line (the first
//! variation at every branch) and understands `GM`, `FF`, `SZ`, `KM`, `RU`, `PB`, `PW`, `RE`,
//! `DT`, `C`, setup stones `AB`/`AW` (compressed `aa:cc` lists too) before the first move, and
//! moves `B`/`W`, where a pass is `B[]` or `B[tt]` (on boards up to 19x19). Other properties are
//! kept in the grammar and ignored. Any malformed input is an [`SgfError`] with the byte position.
//!
//! Writing: one game record as FF\[4\] with `GM[1]FF[4]CA[UTF-8]AP SZ KM RU PB PW DT RE`, setup
//! stones, moves (passes as `B[]`), and comments; `\` and `]` escaped. The output reads back to
//! the same record and opens in Sabaki, GoGui and GNU Go.

use std::fmt;

use super::board::{Color, MAX_SIZE, MIN_SIZE};
use super::state::{GoState, Move, fmt_num};

/// A malformed or unsupported SGF file, with the byte offset where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SGF error at byte {pos}: {msg}")]
pub struct SgfError {
    pub pos: usize,
    pub msg: String,
}

fn err<T>(pos: usize, msg: impl Into<String>) -> Result<T, SgfError> {
    Err(SgfError {
        pos,
        msg: msg.into(),
    })
}

/// One property of a node: its identifier, its values and the byte offset of the identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub ident: String,
    pub values: Vec<String>,
    pub pos: usize,
}

/// A node: its properties in file order.
pub type Node = Vec<Property>;

/// Parses an SGF collection and returns the nodes of the main line of its first game tree.
pub fn parse_main_line(text: &[u8]) -> Result<Vec<Node>, SgfError> {
    let mut i = 0;
    let n = text.len();
    let skip_ws = |i: &mut usize| {
        while *i < n && text[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if i >= n {
        return err(i, "empty file: expected `(`");
    }
    if text[i] != b'(' {
        return err(
            i,
            format!("expected `(` to open a game tree, found {}", show(text[i])),
        );
    }
    // Frames of open game trees: (on the main line, sub-trees started, nodes seen).
    let mut stack: Vec<(bool, usize, usize)> = Vec::new();
    let mut main: Vec<Node> = Vec::new();
    // Game trees of the collection closed so far; only the first one's main line is kept, the
    // others are still checked.
    let mut trees = 0usize;
    loop {
        skip_ws(&mut i);
        if i >= n {
            if stack.is_empty() {
                break;
            }
            return err(
                i,
                "unexpected end of file: a game tree is not closed with `)`",
            );
        }
        match text[i] {
            b'(' => {
                let on_main = match stack.last_mut() {
                    None => trees == 0,
                    Some((m, kids, nodes)) => {
                        if *nodes == 0 {
                            return err(
                                i,
                                "a game tree must start with a node `;` before any variation",
                            );
                        }
                        *kids += 1;
                        *m && *kids == 1
                    }
                };
                stack.push((on_main, 0, 0));
                i += 1;
            }
            b')' => {
                match stack.pop() {
                    Some((_, _, 0)) => return err(i, "empty game tree: expected `;` before `)`"),
                    Some(_) => {}
                    None => return err(i, "unbalanced `)`"),
                }
                i += 1;
                if stack.is_empty() {
                    trees += 1;
                }
            }
            b';' => {
                let Some(top) = stack.last_mut() else {
                    return err(i, "node outside a game tree");
                };
                if top.1 > 0 {
                    return err(i, "a node cannot follow a variation in the same game tree");
                }
                top.2 += 1;
                let on_main = top.0;
                i += 1;
                let mut node = Node::new();
                loop {
                    skip_ws(&mut i);
                    if i >= n || !text[i].is_ascii_alphabetic() {
                        break;
                    }
                    let start = i;
                    let mut ident = String::new();
                    while i < n && text[i].is_ascii_alphabetic() {
                        // FF[3] allowed lower-case letters inside identifiers; they are ignored.
                        if text[i].is_ascii_uppercase() {
                            ident.push(text[i] as char);
                        }
                        i += 1;
                    }
                    if ident.is_empty() {
                        return err(start, "a property identifier needs an upper-case letter");
                    }
                    let mut values = Vec::new();
                    loop {
                        skip_ws(&mut i);
                        if i >= n || text[i] != b'[' {
                            break;
                        }
                        let vstart = i;
                        i += 1;
                        let mut v: Vec<u8> = Vec::new();
                        loop {
                            if i >= n {
                                return err(
                                    vstart,
                                    format!("value of `{ident}` is not closed with `]`"),
                                );
                            }
                            match text[i] {
                                b']' => {
                                    i += 1;
                                    break;
                                }
                                b'\\' if i + 1 < n => {
                                    // Escapes; a backslash before a line break removes it.
                                    let c = text[i + 1];
                                    i += 2;
                                    if c == b'\r' || c == b'\n' {
                                        if i < n
                                            && (text[i] == b'\r' || text[i] == b'\n')
                                            && text[i] != c
                                        {
                                            i += 1;
                                        }
                                    } else {
                                        v.push(c);
                                    }
                                }
                                c => {
                                    v.push(c);
                                    i += 1;
                                }
                            }
                        }
                        values.push(String::from_utf8_lossy(&v).into_owned());
                    }
                    if values.is_empty() {
                        return err(start, format!("property `{ident}` has no value `[...]`"));
                    }
                    node.push(Property {
                        ident,
                        values,
                        pos: start,
                    });
                }
                if on_main {
                    main.push(node);
                }
            }
            c => {
                return err(
                    i,
                    format!("unexpected {}: expected `(`, `;` or `)`", show(c)),
                );
            }
        }
    }
    Ok(main)
}

fn show(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("`{}`", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

/// A move of a record: who, where (`None` = pass) and an optional comment.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordMove {
    pub color: Color,
    /// `(x, y)`, `y = 0` at the top; `None` for a pass.
    pub at: Option<(usize, usize)>,
    pub comment: Option<String>,
    /// Sabaki's `SBKV`: Black's winning chance after the move, in percent (Sabaki draws its
    /// win-rate graph from it).
    pub win_rate: Option<f32>,
}

/// A Go game as SGF describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct GameRecord {
    pub size: usize,
    pub komi: f32,
    pub rules: Option<String>,
    pub black: Option<String>,
    pub white: Option<String>,
    pub result: Option<String>,
    pub date: Option<String>,
    pub comment: Option<String>,
    /// `PL`: who moves first after the setup (when there are no moves to tell).
    pub to_play: Option<Color>,
    pub setup: Vec<(Color, (usize, usize))>,
    pub moves: Vec<RecordMove>,
}

impl GameRecord {
    /// An empty record for a `size` board.
    pub fn new(size: usize, komi: f32) -> GameRecord {
        GameRecord {
            size,
            komi,
            rules: None,
            black: None,
            white: None,
            result: None,
            date: None,
            comment: None,
            to_play: None,
            setup: Vec::new(),
            moves: Vec::new(),
        }
    }

    /// Reads the main line of the first game of an SGF file.
    pub fn parse(text: &[u8]) -> Result<GameRecord, SgfError> {
        let nodes = parse_main_line(text)?;
        let root = nodes.first().ok_or(SgfError {
            pos: 0,
            msg: "no node".into(),
        })?;
        let get = |id: &str| root.iter().find(|p| p.ident == id);
        if let Some(p) = get("GM")
            && p.values[0].trim() != "1"
        {
            return err(
                p.pos,
                format!("GM[{}] is not a Go game (GM[1])", p.values[0]),
            );
        }
        let size = match get("SZ") {
            None => 19,
            Some(p) => {
                let v = p.values[0].trim();
                match v.parse::<usize>() {
                    Ok(s) if (MIN_SIZE..=MAX_SIZE).contains(&s) => s,
                    Ok(s) => {
                        return err(
                            p.pos,
                            format!("board size {s} is not supported (5 to 19 are)"),
                        );
                    }
                    Err(_) => return err(p.pos, format!("SZ[{v}] is not a square board size")),
                }
            }
        };
        let komi = match get("KM") {
            None => 0.0,
            Some(p) => match p.values[0].trim().parse::<f32>() {
                Ok(k) if k.is_finite() => k,
                _ => return err(p.pos, format!("KM[{}] is not a number", p.values[0])),
            },
        };
        let text_of = |id: &str| get(id).map(|p| p.values[0].clone());
        let mut rec = GameRecord::new(size, komi);
        rec.rules = text_of("RU");
        rec.black = text_of("PB");
        rec.white = text_of("PW");
        rec.result = text_of("RE");
        rec.date = text_of("DT");
        rec.comment = text_of("C");
        if let Some(p) = get("PL") {
            rec.to_play = Some(Color::parse(p.values[0].trim()).ok_or_else(|| SgfError {
                pos: p.pos,
                msg: format!("PL[{}] is not B or W", p.values[0]),
            })?);
        }
        for (k, node) in nodes.iter().enumerate() {
            let mut mv: Option<RecordMove> = None;
            let mut comment = None;
            let mut win_rate = None;
            for p in node {
                match p.ident.as_str() {
                    "B" | "W" => {
                        if mv.is_some() {
                            return err(p.pos, "two moves in one node");
                        }
                        let color = if p.ident == "B" {
                            Color::Black
                        } else {
                            Color::White
                        };
                        let at = parse_point(&p.values[0], size, true)
                            .map_err(|m| SgfError { pos: p.pos, msg: m })?;
                        mv = Some(RecordMove {
                            color,
                            at,
                            comment: None,
                            win_rate: None,
                        });
                    }
                    "AB" | "AW" => {
                        if !rec.moves.is_empty() {
                            return err(
                                p.pos,
                                "setup stones after the first move are not supported",
                            );
                        }
                        let color = if p.ident == "AB" {
                            Color::Black
                        } else {
                            Color::White
                        };
                        for v in &p.values {
                            for xy in parse_point_list(v, size)
                                .map_err(|m| SgfError { pos: p.pos, msg: m })?
                            {
                                rec.setup.push((color, xy));
                            }
                        }
                    }
                    "C" if k > 0 => comment = Some(p.values[0].clone()),
                    "SBKV" => {
                        win_rate = p.values[0]
                            .trim()
                            .parse::<f32>()
                            .ok()
                            .filter(|v| v.is_finite())
                    }
                    _ => {}
                }
            }
            if let Some(mut m) = mv {
                m.comment = comment;
                m.win_rate = win_rate;
                rec.moves.push(m);
            }
        }
        Ok(rec)
    }

    /// Replays the record under the full rules (komi, setup, moves); an illegal move is an error
    /// naming its number.
    pub fn to_state(&self) -> Result<GoState, String> {
        let mut s = GoState::new(self.size, self.komi)?;
        for &(c, (x, y)) in &self.setup {
            let p = s.board().point(x, y);
            s.add_setup(c, p)?;
        }
        if let Some(c) = self.moves.first().map(|m| m.color).or(self.to_play) {
            s.set_to_play(c);
        }
        for (i, m) in self.moves.iter().enumerate() {
            let mv = match m.at {
                Some((x, y)) => Move::Play(s.board().point(x, y)),
                None => Move::Pass,
            };
            s.play(m.color, mv).map_err(|e| {
                format!(
                    "move {} ({} {}) is illegal: {e}",
                    i + 1,
                    m.color,
                    s.move_name(mv)
                )
            })?;
        }
        Ok(s)
    }

    /// The record of a game (setup, moves up to a resignation, the result if it is over).
    pub fn from_state(state: &GoState) -> GameRecord {
        let b = state.board();
        let mut rec = GameRecord::new(state.size(), state.komi());
        rec.rules = Some("Chinese".into());
        rec.setup = state.setup().iter().map(|&(c, p)| (c, b.xy(p))).collect();
        if state.move_count() == 0 && !rec.setup.is_empty() {
            rec.to_play = Some(state.to_play());
        }
        for (c, m) in state.moves() {
            match m {
                Move::Play(p) => rec.moves.push(RecordMove {
                    color: c,
                    at: Some(b.xy(p)),
                    comment: None,
                    win_rate: None,
                }),
                Move::Pass => rec.moves.push(RecordMove {
                    color: c,
                    at: None,
                    comment: None,
                    win_rate: None,
                }),
                Move::Resign => {}
            }
        }
        if state.is_over() {
            rec.result = Some(state.result_string());
        }
        rec
    }

    /// The record as FF\[4\] text.
    pub fn to_sgf(&self) -> String {
        let mut s = String::from("(;GM[1]FF[4]CA[UTF-8]");
        s.push_str(&format!("AP[Ember:{}]", env!("CARGO_PKG_VERSION")));
        s.push_str(&format!("SZ[{}]KM[{}]", self.size, fmt_num(self.komi)));
        for (id, v) in [
            ("RU", &self.rules),
            ("PB", &self.black),
            ("PW", &self.white),
            ("DT", &self.date),
            ("RE", &self.result),
            ("C", &self.comment),
        ] {
            if let Some(v) = v {
                s.push_str(&format!("{id}[{}]", escape(v)));
            }
        }
        for (id, color) in [("AB", Color::Black), ("AW", Color::White)] {
            let pts: Vec<String> = self
                .setup
                .iter()
                .filter(|(c, _)| *c == color)
                .map(|&(_, (x, y))| format!("[{}]", point_str(x, y)))
                .collect();
            if !pts.is_empty() {
                s.push('\n');
                s.push_str(id);
                s.push_str(&pts.concat());
            }
        }
        if let Some(c) = self.to_play {
            s.push_str(&format!("PL[{}]", c.letter()));
        }
        s.push('\n');
        for (i, m) in self.moves.iter().enumerate() {
            let at = m.at.map(|(x, y)| point_str(x, y)).unwrap_or_default();
            s.push_str(&format!(";{}[{at}]", m.color.letter()));
            if let Some(w) = m.win_rate {
                s.push_str(&format!("SBKV[{:.2}]", w));
            }
            if let Some(c) = &m.comment {
                s.push_str(&format!("C[{}]", escape(c)));
            }
            if i % 12 == 11 {
                s.push('\n');
            }
        }
        s.push_str(")\n");
        s
    }
}

impl fmt::Display for GameRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sgf())
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace(']', "\\]")
}

fn point_str(x: usize, y: usize) -> String {
    format!("{}{}", (b'a' + x as u8) as char, (b'a' + y as u8) as char)
}

/// `aa` → `(0, 0)`; `""`/`tt` → pass (when `allow_pass`).
fn parse_point(v: &str, size: usize, allow_pass: bool) -> Result<Option<(usize, usize)>, String> {
    let v = v.trim();
    if allow_pass && (v.is_empty() || (v == "tt" && size <= 19)) {
        return Ok(None);
    }
    let b = v.as_bytes();
    if b.len() != 2 || !b[0].is_ascii_lowercase() || !b[1].is_ascii_lowercase() {
        return Err(format!("`{v}` is not an SGF point (two letters a-s)"));
    }
    let (x, y) = ((b[0] - b'a') as usize, (b[1] - b'a') as usize);
    if x >= size || y >= size {
        return Err(format!("point `{v}` is off the {size}x{size} board"));
    }
    Ok(Some((x, y)))
}

/// A point or a compressed rectangle `aa:cc`.
fn parse_point_list(v: &str, size: usize) -> Result<Vec<(usize, usize)>, String> {
    let point = |s: &str| -> Result<(usize, usize), String> {
        parse_point(s, size, false)?.ok_or_else(|| format!("`{s}` is not a point"))
    };
    match v.split_once(':') {
        None => Ok(vec![point(v)?]),
        Some((a, b)) => {
            let (a, b) = (point(a)?, point(b)?);
            let (x0, x1) = (a.0.min(b.0), a.0.max(b.0));
            let (y0, y1) = (a.1.min(b.1), a.1.max(b.1));
            Ok((y0..=y1)
                .flat_map(|y| (x0..=x1).map(move |x| (x, y)))
                .collect())
        }
    }
}

/// Today's date as `YYYY-MM-DD` (UTC), for `DT`.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Days to civil date (H. Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_main_line_passes_setup_and_comments() {
        let sgf = br"(;GM[1]FF[4]SZ[9]KM[6.5]PB[Alice]PW[Bob \] the second]RE[W+2.5]C[root]
            AB[aa:bb][ee]AW[ce]
            ;B[cc]C[first \\ move];W[](;B[tt];W[dd])(;B[gg]))";
        let r = GameRecord::parse(sgf).unwrap();
        assert_eq!(r.size, 9);
        assert_eq!(r.komi, 6.5);
        assert_eq!(r.white.as_deref(), Some("Bob ] the second"));
        assert_eq!(r.comment.as_deref(), Some("root"));
        assert_eq!(r.setup.len(), 6);
        assert_eq!(r.moves.len(), 4);
        assert_eq!(r.moves[0].at, Some((2, 2)));
        assert_eq!(r.moves[0].comment.as_deref(), Some("first \\ move"));
        assert_eq!(r.moves[1].at, None);
        assert_eq!(r.moves[2].at, None, "B[tt] is a pass");
        assert_eq!(r.moves[3].at, Some((3, 3)));
        let s = r.to_state().unwrap();
        assert_eq!(s.move_count(), 4);
    }

    #[test]
    fn round_trip() {
        let mut s = GoState::new(9, 7.5).unwrap();
        let mut rng = crate::rng::Rng::new(5);
        let mut buf = Vec::new();
        while !s.is_over() && s.move_count() < 200 {
            let mv = s.random_move(&mut rng, &mut buf);
            s.play(s.to_play(), mv).unwrap();
        }
        let mut rec = GameRecord::from_state(&s);
        rec.black = Some("a [b] \\ c".into());
        rec.moves[3].comment = Some("multi\nline ]".into());
        let text = rec.to_sgf();
        let back = GameRecord::parse(text.as_bytes()).unwrap();
        assert_eq!(back, rec);
        let s2 = back.to_state().unwrap();
        assert_eq!(s2.board(), s.board());
        assert_eq!(GameRecord::parse(back.to_sgf().as_bytes()).unwrap(), rec);
    }

    #[test]
    fn errors_name_the_byte() {
        for (text, pos, what) in [
            (&b""[..], 0, "empty"),
            (b"  x", 2, "expected `(`"),
            (b"(;B[aa]", 7, "not closed"),
            (b"(;B[aa", 3, "not closed with `]`"),
            (b"(;SZ[9];B[zz])", 8, "off the 9x9"),
            (b"(;SZ[25])", 2, "not supported"),
            (b"(;GM[2])", 2, "not a Go game"),
            (b"(;B)", 2, "no value"),
            (b"()", 1, "empty game tree"),
            (b"(;B[aa]))", 8, "unbalanced"),
            (b"(;KM[x])", 2, "not a number"),
            (b"(;B[aa])x", 8, "unexpected `x`"),
            (
                b"(;B[aa];(;W[bb])(;W[cc]);B[dd])",
                24,
                "cannot follow a variation",
            ),
        ] {
            let e = GameRecord::parse(text)
                .err()
                .unwrap_or_else(|| panic!("{:?} parsed", String::from_utf8_lossy(text)));
            assert_eq!(e.pos, pos, "{e}");
            assert!(e.msg.contains(what), "{e}");
        }
    }

    #[test]
    fn illegal_moves_are_reported_by_number() {
        let r = GameRecord::parse(b"(;SZ[5];B[aa];W[aa])").unwrap();
        let e = r.to_state().unwrap_err();
        assert!(e.contains("move 2") && e.contains("occupied"), "{e}");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let mut t = b"(;".to_vec();
        t.extend(std::iter::repeat_n(b"(;".as_slice(), 200_000).flatten());
        t.extend(std::iter::repeat_n(b')', 200_001));
        assert_eq!(parse_main_line(&t).unwrap().len(), 200_001);
    }

    #[test]
    fn today_is_a_date() {
        let d = today();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"));
    }
}
