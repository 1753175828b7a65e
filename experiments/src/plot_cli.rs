//! `ember plot RUN_DIR… --out curves.png`: learning curves from runs' TensorBoard event files.
//!
//! One panel per tag (by default whichever of `eval/mean_return`, `charts/episodic_return`,
//! `test/accuracy`, `train/loss` the runs logged), the runs overlaid in one colour each. As in
//! TensorBoard, each series is drawn raw in a pale shade and smoothed by a debiased exponential
//! moving average (`--smooth`, 0 turns it off) in full colour. The picture is drawn here with
//! an 8x8 bitmap font (`font8x8`) and written as PNG by `image`; nothing is read but the event
//! files, so it works on a machine without Python or TensorBoard.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use ember_nets::tensorboard::{ScalarEvent, read_scalars};
use serde_json::json;

/// Tags plotted when `--tag` is not given, in panel order, if any run logged them.
const DEFAULT_TAGS: [&str; 4] = [
    "eval/mean_return",
    "charts/episodic_return",
    "test/accuracy",
    "train/loss",
];

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Run directories (each holding `events.out.tfevents.*` files, as `ember train` writes).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The PNG file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// A scalar tag to plot, one panel each (repeatable). Default: the usual return/accuracy
    /// tags the runs logged.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Smoothing weight of the exponential moving average in [0, 1) (TensorBoard's slider).
    /// Default: per series, about a fiftieth of its points (0.6 for short series such as
    /// evaluations, 0.998 for 25,000 episodes).
    #[arg(long)]
    pub smooth: Option<f64>,
    /// Width of the picture in pixels.
    #[arg(long, default_value_t = 960)]
    pub width: u32,
    /// Height of each panel in pixels.
    #[arg(long, default_value_t = 420)]
    pub panel_height: u32,
    /// Print a JSON summary (per run and tag: points, last step, last raw and smoothed value).
    #[arg(long)]
    pub json: bool,
}

/// A run's series for the plotted tags.
struct Run {
    label: String,
    dir: PathBuf,
    series: BTreeMap<String, Vec<ScalarEvent>>,
}

pub fn plot(a: &PlotArgs) -> Result<()> {
    if let Some(w) = a.smooth.filter(|w| !(0.0..1.0).contains(w)) {
        bail!("--smooth must be in [0, 1), got {w}");
    }
    if a.width < 320 || a.panel_height < 200 {
        bail!("--width must be at least 320 and --panel-height at least 200 pixels");
    }
    match a.out.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("png") => {}
        _ => bail!(
            "--out {}: only PNG is written; name the file *.png",
            a.out.display()
        ),
    }
    let mut runs = Vec::new();
    for dir in &a.runs {
        if !dir.is_dir() {
            bail!("{}: not a run directory", dir.display());
        }
        let series = read_scalars(dir).with_context(|| format!("reading {}", dir.display()))?;
        runs.push(Run {
            label: run_label(dir),
            dir: dir.clone(),
            series,
        });
    }
    let tags: Vec<String> = if a.tags.is_empty() {
        DEFAULT_TAGS
            .iter()
            .filter(|t| runs.iter().any(|r| r.series.contains_key(**t)))
            .map(|t| t.to_string())
            .collect()
    } else {
        a.tags.clone()
    };
    let available = || {
        let mut all: Vec<&str> = runs
            .iter()
            .flat_map(|r| r.series.keys().map(String::as_str))
            .collect();
        all.sort_unstable();
        all.dedup();
        all.join(", ")
    };
    if tags.is_empty() {
        bail!(
            "none of the default tags ({}) was logged by these runs; pick one with --tag (logged: {})",
            DEFAULT_TAGS.join(", "),
            available()
        );
    }
    for t in &tags {
        if !runs.iter().any(|r| r.series.contains_key(t)) {
            bail!("no run logged the tag {t:?} (logged: {})", available());
        }
    }

    let height = a.panel_height * tags.len() as u32;
    let mut canvas = Canvas::new(a.width, height);
    for (i, tag) in tags.iter().enumerate() {
        let series: Vec<(&str, &[ScalarEvent])> = runs
            .iter()
            .filter_map(|r| r.series.get(tag).map(|s| (r.label.as_str(), s.as_slice())))
            .collect();
        let colours: Vec<[u8; 3]> = runs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.series.contains_key(tag))
            .map(|(k, _)| PALETTE[k % PALETTE.len()])
            .collect();
        draw_panel(
            &mut canvas,
            Rect {
                x: 0,
                y: (i as u32 * a.panel_height) as i32,
                w: a.width as i32,
                h: a.panel_height as i32,
            },
            tag,
            &series,
            &colours,
            a.smooth,
        );
    }
    if let Some(parent) = a.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    image::RgbImage::from_raw(a.width, height, canvas.pixels)
        .context("picture buffer size")?
        .save_with_format(&a.out, image::ImageFormat::Png)
        .with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!(
        "wrote {} ({} panel{}: {}; {} run{})",
        a.out.display(),
        tags.len(),
        if tags.len() == 1 { "" } else { "s" },
        tags.join(", "),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" }
    );
    if a.json {
        let runs_json: Vec<_> = runs
            .iter()
            .map(|r| {
                let per_tag: serde_json::Map<String, serde_json::Value> = tags
                    .iter()
                    .filter_map(|t| r.series.get(t).map(|s| (t, s)))
                    .map(|(t, s)| {
                        let smoothed = smooth(s, weight_for(a.smooth, s.len()));
                        let last = s.last().expect("series are never empty");
                        (
                            t.clone(),
                            json!({
                                "points": s.len(),
                                "last_step": last.step,
                                "last": last.value,
                                "last_smoothed": smoothed.last().copied(),
                            }),
                        )
                    })
                    .collect();
                json!({ "run": r.dir.display().to_string(), "label": r.label, "tags": per_tag })
            })
            .collect();
        println!(
            "{}",
            json!({ "out": a.out.display().to_string(), "tags": tags, "runs": runs_json })
        );
    }
    Ok(())
}

/// The legend label of a run: the name of the directory as given (so a symlink names its curve),
/// or, for `.` and `..`, the name of the directory it resolves to.
fn run_label(dir: &Path) -> String {
    let name = dir.file_name().map(|n| n.to_os_string()).or_else(|| {
        dir.canonicalize()
            .ok()
            .and_then(|c| c.file_name().map(|n| n.to_os_string()))
    });
    name.map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

/// The smoothing weight for a series of `n` points: the user's, or an average over about a
/// fiftieth of the series (at least TensorBoard's default 0.6).
fn weight_for(user: Option<f64>, n: usize) -> f64 {
    user.unwrap_or_else(|| (1.0 - 50.0 / n.max(1) as f64).clamp(0.6, 0.999))
}

/// TensorBoard's smoothing: an exponential moving average with the startup bias removed.
fn smooth(series: &[ScalarEvent], weight: f64) -> Vec<f64> {
    let mut last = 0.0;
    let mut debias = 1.0;
    series
        .iter()
        .map(|e| {
            let v = f64::from(e.value);
            if !v.is_finite() {
                return v;
            }
            last = last * weight + (1.0 - weight) * v;
            debias *= weight;
            last / (1.0 - debias)
        })
        .collect()
}

// --- drawing -------------------------------------------------------------------------------

/// Matplotlib's `tab10`.
const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];
const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [30, 30, 30];
const GRID: [u8; 3] = [225, 225, 225];

#[derive(Clone, Copy)]
struct Rect {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
}

struct Canvas {
    w: u32,
    h: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(w: u32, h: u32) -> Self {
        Canvas {
            w,
            h,
            pixels: vec![255; (w * h * 3) as usize],
        }
    }

    /// Blends `c` over the pixel at (x, y) with opacity `alpha`; outside the canvas is ignored.
    fn blend(&mut self, x: i32, y: i32, c: [u8; 3], alpha: f64) {
        if x < 0 || y < 0 || x >= self.w as i32 || y >= self.h as i32 {
            return;
        }
        let i = ((y as u32 * self.w + x as u32) * 3) as usize;
        for k in 0..3 {
            let old = f64::from(self.pixels[i + k]);
            self.pixels[i + k] =
                (old + (f64::from(c[k]) - old) * alpha.clamp(0.0, 1.0)).round() as u8;
        }
    }

    fn fill(&mut self, r: Rect, c: [u8; 3]) {
        for y in r.y..r.y + r.h {
            for x in r.x..r.x + r.w {
                self.blend(x, y, c, 1.0);
            }
        }
    }

    /// An anti-aliased line about `width` pixels wide (distance-to-segment coverage).
    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: [u8; 3], width: f64) {
        let r = width / 2.0;
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = dx * dx + dy * dy;
        let xmin = (x0.min(x1) - r - 1.0).floor() as i32;
        let xmax = (x0.max(x1) + r + 1.0).ceil() as i32;
        let ymin = (y0.min(y1) - r - 1.0).floor() as i32;
        let ymax = (y0.max(y1) + r + 1.0).ceil() as i32;
        for y in ymin..=ymax {
            for x in xmin..=xmax {
                let (px, py) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
                let t = if len2 > 0.0 {
                    (((px - x0) * dx + (py - y0) * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (qx, qy) = (x0 + t * dx - px, y0 + t * dy - py);
                let d = (qx * qx + qy * qy).sqrt();
                let cover = (r + 0.5 - d).clamp(0.0, 1.0);
                if cover > 0.0 {
                    self.blend_max(x, y, c, cover);
                }
            }
        }
    }

    /// Like `blend`, but a pixel covered twice by one polyline is not darkened twice: the
    /// opacity applied is what the pixel still lacks of `c`, approximately.
    fn blend_max(&mut self, x: i32, y: i32, c: [u8; 3], cover: f64) {
        if x < 0 || y < 0 || x >= self.w as i32 || y >= self.h as i32 {
            return;
        }
        let i = ((y as u32 * self.w + x as u32) * 3) as usize;
        let mut have: f64 = 1.0;
        for k in 0..3 {
            let bg = 255.0 - f64::from(c[k]);
            if bg.abs() > 8.0 {
                have = have.min((255.0 - f64::from(self.pixels[i + k])) / bg);
            }
        }
        if cover > have.max(0.0) {
            self.blend(
                x,
                y,
                c,
                (cover - have.max(0.0)) / (1.0 - have.max(0.0)).max(1e-6),
            );
        }
    }

    /// Draws `text` with its top-left corner at (x, y), `scale` pixels per font pixel.
    fn text(&mut self, x: i32, y: i32, text: &str, c: [u8; 3], scale: i32) {
        for (n, ch) in text.chars().enumerate() {
            let glyph = font8x8::legacy::BASIC_LEGACY
                .get(ch as usize)
                .copied()
                .unwrap_or(font8x8::legacy::BASIC_LEGACY[b'?' as usize]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits >> col & 1 == 1 {
                        for sy in 0..scale {
                            for sx in 0..scale {
                                self.blend(
                                    x + (n as i32 * 8 + col) * scale + sx,
                                    y + row as i32 * scale + sy,
                                    c,
                                    1.0,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

fn text_width(text: &str, scale: i32) -> i32 {
    text.chars().count() as i32 * 8 * scale
}

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

fn draw_panel(
    canvas: &mut Canvas,
    panel: Rect,
    tag: &str,
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
    let xlabel = "environment steps";
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
    fn a_run_is_labelled_by_the_name_it_was_given() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("ppo_breakout__1__20261130");
        std::fs::create_dir(&real).unwrap();
        let link = tmp.path().join("lr1e-3");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(run_label(&link), "lr1e-3");
        assert_eq!(run_label(&real.join("")), "ppo_breakout__1__20261130");
        assert_eq!(run_label(&real.join(".")), "ppo_breakout__1__20261130");
    }

    fn ev(step: u64, value: f32) -> ScalarEvent {
        ScalarEvent {
            step,
            wall_time: 0.0,
            value,
        }
    }

    #[test]
    fn smoothing_is_debiased_like_tensorboard() {
        let s = [ev(1, 10.0), ev(2, 10.0), ev(3, 10.0)];
        for v in smooth(&s, 0.9) {
            assert!((v - 10.0).abs() < 1e-9, "{v}");
        }
        let raw = smooth(&[ev(1, 1.0), ev(2, 3.0)], 0.0);
        assert_eq!(raw, [1.0, 3.0]);
        assert_eq!(weight_for(Some(0.3), 10), 0.3);
        assert_eq!(weight_for(None, 10), 0.6);
        assert!((weight_for(None, 25_000) - 0.998).abs() < 1e-12);
        let s = smooth(&[ev(1, 0.0), ev(2, 1.0)], 0.5);
        assert!((s[1] - 0.5 / 0.75).abs() < 1e-12);
    }

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
