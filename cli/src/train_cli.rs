//! `ember train`: its arguments, and printing the summary `ember_run::train`/`resume` return.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use ember_run::{DeviceChoice, Experiment, TrainOptions};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Experiment file (TOML), e.g. experiments/fashion_mnist.toml. Not used with --resume.
    #[arg(required_unless_present = "resume")]
    pub experiment: Option<PathBuf>,
    /// Override a setting of the file by its dotted key, e.g. `--set train.epochs=2` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Run directory (default: runs/<name>__<seed>__<UTC timestamp>/).
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    pub run_dir: Option<PathBuf>,
    /// Continue the run in RUN_DIR from its newest checkpoint, with its own config.toml.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["experiment", "set"])]
    pub resume: Option<PathBuf>,
    /// Where to train: `cpu` (always built) or `gpu` (needs a build with --features cuda or wgpu).
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    pub device: DeviceChoice,
    /// Print the summary as one JSON object on the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_device(s: &str) -> Result<DeviceChoice, String> {
    s.parse::<DeviceChoice>().map_err(|e| e.to_string())
}

/// `ember train`.
pub fn train(a: &TrainArgs) -> Result<()> {
    let done = match (&a.resume, &a.experiment) {
        (Some(dir), _) => ember_run::resume(dir, a.device)?,
        (None, Some(path)) => {
            let exp = Experiment::load(path, &a.set)?;
            let opts = TrainOptions {
                run_dir: a.run_dir.clone(),
                device: a.device,
            };
            ember_run::train(&exp, &opts)?
        }
        (None, None) => unreachable!("clap requires EXPERIMENT unless --resume"),
    };
    let (run_dir, summary) = (&done.run_dir, &done.summary);
    if a.json {
        let mut s = summary.clone();
        s["run_dir"] = serde_json::Value::String(run_dir.display().to_string());
        println!("{}", serde_json::to_string(&s)?);
    } else if let Some(ret) = summary.get("eval_mean_return").and_then(|v| v.as_f64()) {
        println!(
            "{}: eval return {ret:.2} after {} steps in {:.0} s; run in {}",
            summary["experiment"].as_str().unwrap_or_default(),
            summary["steps"],
            summary["wall_seconds"].as_f64().unwrap_or(f64::NAN),
            run_dir.display()
        );
    } else if let Some(scores) = summary.get("eval_score").and_then(|v| v.as_object()) {
        let scores: Vec<String> = scores
            .iter()
            .map(|(k, v)| format!("{k} {:.0}%", 100.0 * v.as_f64().unwrap_or(f64::NAN)))
            .collect();
        println!(
            "{}: score vs {} after {} updates ({} self-play games) in {:.0} s; run in {}",
            summary["experiment"].as_str().unwrap_or_default(),
            scores.join(", "),
            summary["updates"],
            summary["selfplay_games"],
            summary["wall_seconds"].as_f64().unwrap_or(f64::NAN),
            run_dir.display()
        );
    } else {
        println!(
            "{}: test accuracy {:.2}% after {} steps in {:.0} s; run in {}",
            summary["experiment"].as_str().unwrap_or_default(),
            100.0 * summary["test_accuracy"].as_f64().unwrap_or(f64::NAN),
            summary["steps"],
            summary["wall_seconds"].as_f64().unwrap_or(f64::NAN),
            run_dir.display()
        );
    }
    Ok(())
}
