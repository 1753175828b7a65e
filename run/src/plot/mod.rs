//! Learning curves from runs' TensorBoard event files (`ember plot RUN_DIR… --out curves.png`).
//!
//! One panel per tag (by default whichever of `eval/mean_return`, `charts/episodic_return`,
//! `test/accuracy`, `train/loss` the runs logged, and for AlphaZero runs the evaluation
//! ladder's scores and the policy and value losses), the runs overlaid in one colour each. As in
//! TensorBoard, each series is drawn raw in a pale shade and smoothed by a debiased exponential
//! moving average (0 turns it off) in full colour. The picture is drawn on a [`canvas`] with an
//! 8x8 bitmap font, one [`panels`] call per tag, and written as PNG by `image`; nothing is read
//! but the event files, so it works on a machine without Python or TensorBoard.

mod canvas;
mod panels;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ember_nets::tensorboard::{ScalarEvent, read_scalars};
use serde_json::json;

use crate::config::{Experiment, Kind};
use crate::error::{Context, Result, bail};
use canvas::{Canvas, PALETTE, Rect};

/// Tags plotted when none are asked for, in panel order, if any run logged them.
pub const DEFAULT_TAGS: [&str; 4] = [
    "eval/mean_return",
    "charts/episodic_return",
    "test/accuracy",
    "train/loss",
];

/// AlphaZero's defaults, after [`DEFAULT_TAGS`]: the evaluation ladder's scores against its
/// fixed anchors (`eval/score_vs_random`, `eval/score_vs_uctN`; not `…_previous`, whose anchor
/// moves), then these losses.
pub const ALPHAZERO_LOSS_TAGS: [&str; 2] = ["losses/policy", "losses/value"];

/// The tags plotted when none are asked for: [`DEFAULT_TAGS`], the ladder's scores and
/// [`ALPHAZERO_LOSS_TAGS`], each if some run logged it.
fn default_tags(runs: &[Run]) -> Vec<String> {
    let logged = |t: &str| runs.iter().any(|r| r.series.contains_key(t));
    let mut tags: Vec<String> = DEFAULT_TAGS
        .iter()
        .filter(|t| logged(t))
        .map(|t| t.to_string())
        .collect();
    let mut ladder: Vec<&str> = runs
        .iter()
        .flat_map(|r| r.series.keys().map(String::as_str))
        .filter(|t| t.starts_with("eval/score_vs_") && *t != "eval/score_vs_previous")
        .collect();
    ladder.sort_unstable();
    ladder.dedup();
    tags.extend(ladder.into_iter().map(String::from));
    tags.extend(
        ALPHAZERO_LOSS_TAGS
            .iter()
            .filter(|t| logged(t))
            .map(|t| t.to_string()),
    );
    tags
}

/// What the x axis counts, from the runs' `config.toml` `kind` when they all share one: DQN and
/// PPO log by environment step, AlphaZero by gradient update, the classifier by optimizer step;
/// otherwise `step`.
fn x_label(runs: &[Run]) -> &'static str {
    // Read as `--resume` reads it (a bounded read of a regular file); a run whose config does not
    // read counts as of no kind.
    let kind = |r: &Run| {
        Experiment::load(&r.dir.join("config.toml"), &[])
            .ok()
            .map(|e| e.kind)
    };
    let mut kinds = runs.iter().map(kind);
    let Some(Some(first)) = kinds.next() else {
        return "step";
    };
    if !kinds.all(|k| k == Some(first)) {
        return "step";
    }
    match first {
        Kind::Dqn | Kind::Ppo => "environment steps",
        Kind::AlphaZero => "gradient updates",
        Kind::Classifier => "optimizer steps",
    }
}

/// What to plot, and how.
#[derive(Debug, Clone)]
pub struct PlotRequest {
    /// Run directories (each holding `events.out.tfevents.*` files).
    pub runs: Vec<PathBuf>,
    /// The PNG file to write.
    pub out: PathBuf,
    /// Tags, one panel each; empty: the [`DEFAULT_TAGS`] the runs logged.
    pub tags: Vec<String>,
    /// Smoothing weight in [0, 1); `None`: per series, about a fiftieth of its points.
    pub smooth: Option<f64>,
    /// Width of the picture in pixels (at least 320).
    pub width: u32,
    /// Height of each panel in pixels (at least 200).
    pub panel_height: u32,
}

/// What was drawn: the tags (panels) and, per run and tag, the points, the last step and the last
/// raw and smoothed values, as JSON (`ember plot --json` prints it).
#[derive(Debug, Clone)]
pub struct PlotReport {
    /// The panels, in order.
    pub tags: Vec<String>,
    /// Runs plotted.
    pub runs: usize,
    /// `{"out", "tags", "runs": [{"run", "label", "tags": {TAG: {"points", "last_step", "last", "last_smoothed"}}}]}`.
    pub json: serde_json::Value,
}

/// The largest `--width` and `--panel-height`, in pixels.
pub const MAX_SIDE: u32 = 16384;

/// The most pixels a plot may have (about 400 MB of RGB).
pub const MAX_PIXELS: u64 = 1 << 27;

/// A run's series for the plotted tags.
struct Run {
    label: String,
    dir: PathBuf,
    series: BTreeMap<String, Vec<ScalarEvent>>,
}

/// Draws the runs' curves into `a.out` (PNG).
pub fn plot(a: &PlotRequest) -> Result<PlotReport> {
    if let Some(w) = a.smooth.filter(|w| !(0.0..1.0).contains(w)) {
        bail!("--smooth must be in [0, 1), got {w}");
    }
    if !(320..=MAX_SIDE).contains(&a.width) || !(200..=MAX_SIDE).contains(&a.panel_height) {
        bail!(
            "--width must be from 320 to {MAX_SIDE} and --panel-height from 200 to {MAX_SIDE} pixels, got {} and {}",
            a.width,
            a.panel_height
        );
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
        default_tags(&runs)
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
            "none of the default tags ({}, AlphaZero's eval/score_vs_*, {}) was logged by these runs; pick one with --tag (logged: {})",
            DEFAULT_TAGS.join(", "),
            ALPHAZERO_LOSS_TAGS.join(", "),
            available()
        );
    }
    for t in &tags {
        if !runs.iter().any(|r| r.series.contains_key(t)) {
            bail!("no run logged the tag {t:?} (logged: {})", available());
        }
    }

    let height = u64::from(a.panel_height) * tags.len() as u64;
    if height > u64::from(MAX_SIDE) * 4 || height * u64::from(a.width) > MAX_PIXELS {
        bail!(
            "the picture would be {}x{height} pixels ({} panels of --panel-height {}): at most {MAX_PIXELS} pixels and {} rows; lower --panel-height or --width, or plot fewer --tag",
            a.width,
            tags.len(),
            a.panel_height,
            MAX_SIDE * 4
        );
    }
    let height = height as u32;
    let mut canvas = Canvas::new(a.width, height);
    let xlabel = x_label(&runs);
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
        panels::draw_panel(
            &mut canvas,
            Rect {
                x: 0,
                y: (i as u32 * a.panel_height) as i32,
                w: a.width as i32,
                h: a.panel_height as i32,
            },
            tag,
            xlabel,
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
    let json = json!({ "out": a.out.display().to_string(), "tags": tags, "runs": runs_json });
    Ok(PlotReport {
        runs: runs.len(),
        tags,
        json,
    })
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
pub(crate) fn weight_for(user: Option<f64>, n: usize) -> f64 {
    user.unwrap_or_else(|| (1.0 - 50.0 / n.max(1) as f64).clamp(0.6, 0.999))
}

/// TensorBoard's smoothing: an exponential moving average with the startup bias removed.
pub(crate) fn smooth(series: &[ScalarEvent], weight: f64) -> Vec<f64> {
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

    /// Reinforcement-learning and classifier runs keep their panels; an AlphaZero run gets its
    /// ladder's scores against fixed anchors and its losses.
    #[test]
    fn alphazero_runs_have_default_panels() {
        let run = |tags: &[&str]| Run {
            label: "r".into(),
            dir: PathBuf::from("r"),
            series: tags
                .iter()
                .map(|t| (t.to_string(), vec![ev(1, 0.5)]))
                .collect(),
        };
        let az = run(&[
            "eval/score_vs_uct1000",
            "eval/score_vs_random",
            "eval/score_vs_previous",
            "eval/elo_vs_uct1000",
            "losses/value",
            "losses/policy",
            "selfplay/games",
        ]);
        let az_like = run(&[]);
        assert_eq!(
            default_tags(&[az]),
            [
                "eval/score_vs_random",
                "eval/score_vs_uct1000",
                "losses/policy",
                "losses/value"
            ]
        );
        // The x axis is named from the runs' kind (none here: no config.toml).
        assert_eq!(x_label(std::slice::from_ref(&az_like)), "step");
        // From a run's config.toml; runs of two kinds share no name.
        let in_dir = |kind: &str| {
            let d = tempfile::tempdir().unwrap();
            let header = format!("name = \"x\"\nkind = \"{kind}\"\nseed = 0\n");
            std::fs::write(d.path().join("config.toml"), header).unwrap();
            let r = Run {
                dir: d.path().to_path_buf(),
                ..run(&[])
            };
            (d, r)
        };
        let (_a, az_run) = in_dir("alphazero");
        let (_p, ppo_run) = in_dir("ppo");
        assert_eq!(x_label(std::slice::from_ref(&az_run)), "gradient updates");
        assert_eq!(x_label(std::slice::from_ref(&ppo_run)), "environment steps");
        assert_eq!(x_label(&[az_run, ppo_run]), "step");
        let ppo = run(&[
            "charts/episodic_return",
            "eval/mean_return",
            "losses/value_loss",
        ]);
        assert_eq!(
            default_tags(&[ppo]),
            ["eval/mean_return", "charts/episodic_return"]
        );
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
}
