//! `ember plot RUN_DIR… --out curves.png`: its arguments, and the report of what
//! `ember_run::plot` drew.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use ember_run::plot::PlotRequest;

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

/// `ember plot`.
pub fn plot(a: &PlotArgs) -> Result<()> {
    let r = ember_run::plot::plot(&PlotRequest {
        runs: a.runs.clone(),
        out: a.out.clone(),
        tags: a.tags.clone(),
        smooth: a.smooth,
        width: a.width,
        panel_height: a.panel_height,
    })?;
    eprintln!(
        "wrote {} ({} panel{}: {}; {} run{})",
        a.out.display(),
        r.tags.len(),
        if r.tags.len() == 1 { "" } else { "s" },
        r.tags.join(", "),
        r.runs,
        if r.runs == 1 { "" } else { "s" }
    );
    if a.json {
        println!("{}", r.json);
    }
    Ok(())
}
