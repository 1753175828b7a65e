//! Drawing observation planes (`[C,H,W]` of 0/1) as text and RGB, one colour per channel.

use crate::{LegendEntry, RgbFrame};

/// Ten well-separated colours, one per channel (channel `c` gets `PALETTE[c % 10]`).
pub const PALETTE: [[u8; 3]; 10] = [
    [230, 80, 80],   // red
    [80, 200, 90],   // green
    [90, 140, 240],  // blue
    [240, 200, 60],  // yellow
    [200, 100, 220], // magenta
    [70, 210, 210],  // cyan
    [245, 140, 50],  // orange
    [235, 235, 235], // white
    [150, 110, 70],  // brown
    [160, 160, 160], // grey
];

/// The cell's channel for drawing: the highest-index channel set at `(y, x)`, as MinAtar draws it.
fn top_channel(obs: &[f32], c: usize, h: usize, w: usize, y: usize, x: usize) -> Option<usize> {
    (0..c).rev().find(|&k| obs[(k * h + y) * w + x] > 0.5)
}

/// One pixel per cell; empty cells black.
pub fn planes_rgb(obs: &[f32], c: usize, h: usize, w: usize) -> RgbFrame {
    let mut f = RgbFrame::new(w, h);
    for y in 0..h {
        for x in 0..w {
            if let Some(k) = top_channel(obs, c, h, w, y, x) {
                f.set(x, y, PALETTE[k % PALETTE.len()]);
            }
        }
    }
    f
}

/// One character per cell: the first letter of the channel name (upper-cased when two channels
/// would share a letter, else a digit), `.` when empty. Rows end with `\n`.
pub fn planes_text(obs: &[f32], c: usize, h: usize, w: usize, symbols: &[char]) -> String {
    let mut s = String::with_capacity((w * 2 + 1) * h);
    for y in 0..h {
        for x in 0..w {
            let ch = top_channel(obs, c, h, w, y, x).map_or('.', |k| symbols[k]);
            s.push(ch);
            if x + 1 < w {
                s.push(' ');
            }
        }
        s.push('\n');
    }
    s
}

/// Distinct one-character symbols for channel names.
pub fn channel_symbols(names: &[&str]) -> Vec<char> {
    let mut used: Vec<char> = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let first = n.chars().find(|c| c.is_ascii_alphabetic()).unwrap_or('?');
        let cands = [first.to_ascii_lowercase(), first.to_ascii_uppercase()];
        let pick = cands
            .into_iter()
            .find(|c| !used.contains(c))
            .unwrap_or_else(|| char::from_digit(i as u32 % 10, 10).unwrap_or('#'));
        used.push(pick);
    }
    used
}

/// The legend of plane rendering: channel names with their colours.
pub fn planes_legend(names: &[&str]) -> Vec<LegendEntry> {
    names
        .iter()
        .enumerate()
        .map(|(k, n)| LegendEntry {
            name: n.to_string(),
            rgb: PALETTE[k % PALETTE.len()],
        })
        .collect()
}
