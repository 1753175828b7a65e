//! One panel of the plot: axes with round-number ticks, each run's series raw and smoothed, the
//! legend.

use ember_nets::tensorboard::ScalarEvent;

use super::canvas::{BLACK, Canvas, GRID, Rect, WHITE, text_width};
use super::{smooth, weight_for};

/// Tick positions at 1, 2 or 5 times a power of ten, about `target` of them over [lo, hi].
fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= target as f64)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Compact numbers for tick labels: 2.5M, 750k, 0.25, 93.
fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if a >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        trim(format!("{v:.3}"))
    }
}

/// One panel: axes with round ticks, every series raw (pale) and smoothed, and a legend.
pub(super) fn draw_panel(
    canvas: &mut Canvas,
    panel: Rect,
    tag: &str,
    xlabel: &str,
    series: &[(&str, &[ScalarEvent])],
    colours: &[[u8; 3]],
    weight: Option<f64>,
) {
    let plot = Rect {
        x: panel.x + 78,
        y: panel.y + 34,
        w: panel.w - 78 - 24,
        h: panel.h - 34 - 46,
    };
    let smoothed: Vec<Vec<f64>> = series
        .iter()
        .map(|(_, s)| smooth(s, weight_for(weight, s.len())))
        .collect();
    let finite = |v: f64| v.is_finite();
    let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (_, s) in series {
        for e in *s {
            let v = f64::from(e.value);
            if finite(v) {
                x_lo = x_lo.min(e.step as f64);
                x_hi = x_hi.max(e.step as f64);
                y_lo = y_lo.min(v);
                y_hi = y_hi.max(v);
            }
        }
    }
    if x_lo > x_hi {
        (x_lo, x_hi, y_lo, y_hi) = (0.0, 1.0, 0.0, 1.0);
    }
    x_lo = x_lo.min(0.0);
    if x_hi <= x_lo {
        x_hi = x_lo + 1.0;
    }
    if y_hi - y_lo < 1e-9 {
        y_lo -= 0.5;
        y_hi += 0.5;
    }
    let pad = (y_hi - y_lo) * 0.05;
    let (y_lo, y_hi) = (y_lo - pad, y_hi + pad);
    let sx = |x: f64| plot.x as f64 + (x - x_lo) / (x_hi - x_lo) * plot.w as f64;
    let sy = |y: f64| (plot.y + plot.h) as f64 - (y - y_lo) / (y_hi - y_lo) * plot.h as f64;

    // Grid, ticks and labels.
    for t in ticks(y_lo, y_hi, 6) {
        let y = sy(t).round() as i32;
        canvas.fill(
            Rect {
                x: plot.x,
                y,
                w: plot.w,
                h: 1,
            },
            GRID,
        );
        let label = fmt_tick(t);
        canvas.text(plot.x - 8 - text_width(&label, 1), y - 4, &label, BLACK, 1);
    }
    for t in ticks(x_lo, x_hi, 8) {
        let x = sx(t).round() as i32;
        canvas.fill(
            Rect {
                x,
                y: plot.y,
                w: 1,
                h: plot.h,
            },
            GRID,
        );
        let label = fmt_tick(t);
        canvas.text(
            x - text_width(&label, 1) / 2,
            plot.y + plot.h + 8,
            &label,
            BLACK,
            1,
        );
    }
    // Frame.
    for r in [
        Rect { h: 1, ..plot },
        Rect {
            y: plot.y + plot.h,
            h: 1,
            ..plot
        },
        Rect { w: 1, ..plot },
        Rect {
            x: plot.x + plot.w,
            w: 1,
            ..plot
        },
    ] {
        canvas.fill(r, BLACK);
    }
    canvas.text(plot.x, panel.y + 10, tag, BLACK, 2);
    canvas.text(
        plot.x + plot.w / 2 - text_width(xlabel, 1) / 2,
        plot.y + plot.h + 26,
        xlabel,
        BLACK,
        1,
    );

    // Curves: raw in a pale shade, then smoothed on top.
    let pale = |c: [u8; 3]| c.map(|v| (f64::from(v) + (255.0 - f64::from(v)) * 0.65) as u8);
    let clip = |(x, y): (f64, f64)| {
        (
            x,
            y.clamp(plot.y as f64 - 2.0, (plot.y + plot.h) as f64 + 2.0),
        )
    };
    for pass in 0..2 {
        for (k, (_, s)) in series.iter().enumerate() {
            let c = if pass == 0 {
                pale(colours[k])
            } else {
                colours[k]
            };
            if pass == 0 && weight == Some(0.0) {
                continue;
            }
            let mut prev: Option<(f64, f64)> = None;
            for (i, e) in s.iter().enumerate() {
                let v = if pass == 0 {
                    f64::from(e.value)
                } else {
                    smoothed[k][i]
                };
                if !v.is_finite() {
                    prev = None;
                    continue;
                }
                let p = clip((sx(e.step as f64), sy(v)));
                match prev {
                    Some(q) => canvas.line(q, p, c, if pass == 0 { 1.0 } else { 2.0 }),
                    None if s.len() == 1 => canvas.line(p, p, c, 4.0),
                    None => {}
                }
                prev = Some(p);
            }
        }
    }

    // Legend, top left inside the plot, on a white box.
    let rows: Vec<&str> = series.iter().map(|(l, _)| *l).collect();
    let box_w = rows.iter().map(|l| text_width(l, 1)).max().unwrap_or(0) + 36;
    let box_h = rows.len() as i32 * 14 + 8;
    let lx = plot.x + 8;
    let ly = plot.y + 8;
    canvas.fill(
        Rect {
            x: lx,
            y: ly,
            w: box_w,
            h: box_h,
        },
        WHITE,
    );
    for (k, label) in rows.iter().enumerate() {
        let y = ly + 4 + k as i32 * 14;
        canvas.fill(
            Rect {
                x: lx + 6,
                y: y + 2,
                w: 18,
                h: 4,
            },
            colours[k],
        );
        canvas.text(lx + 30, y, label, BLACK, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers_inside_the_range() {
        assert_eq!(ticks(0.0, 10.0, 5), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = ticks(-0.3, 5_000_000.0, 8);
        assert_eq!(t.first(), Some(&0.0));
        assert_eq!(t[1], 1_000_000.0);
        assert_eq!(fmt_tick(2_500_000.0), "2.5M");
        assert_eq!(fmt_tick(750_000.0), "750k");
        assert_eq!(fmt_tick(0.25), "0.25");
        assert_eq!(fmt_tick(93.0), "93");
    }
}
