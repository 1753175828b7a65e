//! `ember train` and `ember eval RUN_DIR`: thin wrappers over [`crate::train`].

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use ember_nets::DeviceChoice;
use ember_nets::data::FASHION_MNIST_CLASSES;

use crate::train;
use crate::train::classifier::{self, ClassifierExperiment};

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
    let (run, summary) = match (&a.resume, &a.experiment) {
        (Some(dir), _) => train::resume(dir, a.device)?,
        (None, Some(path)) => train::start(path, &a.set, a.run_dir.as_deref(), a.device)?,
        (None, None) => unreachable!("clap requires EXPERIMENT unless --resume"),
    };
    if a.json {
        let mut s = summary;
        s["run_dir"] = serde_json::Value::String(run.path().display().to_string());
        println!("{}", serde_json::to_string(&s)?);
    } else if let Some(ret) = summary.get("eval_mean_return").and_then(|v| v.as_f64()) {
        println!(
            "{}: eval return {ret:.2} after {} steps in {:.0} s; run in {}",
            summary["experiment"].as_str().unwrap_or_default(),
            summary["steps"],
            summary["wall_seconds"].as_f64().unwrap_or(f64::NAN),
            run.path().display()
        );
    } else {
        println!(
            "{}: test accuracy {:.2}% after {} steps in {:.0} s; run in {}",
            summary["experiment"].as_str().unwrap_or_default(),
            100.0 * summary["test_accuracy"].as_f64().unwrap_or(f64::NAN),
            summary["steps"],
            summary["wall_seconds"].as_f64().unwrap_or(f64::NAN),
            run.path().display()
        );
    }
    Ok(())
}

/// `ember eval RUN_DIR`: a classifier run on its test set; a DQN or PPO run playing the
/// environment it trained on, with the env options of its `config.toml` (then the command's own
/// `--set`s), as `ember eval ENV --agent RUN_DIR` would. `--agent random` plays the random
/// baseline on that same environment instead.
pub fn eval_run_dir(a: &crate::envs_cli::EvalArgs) -> Result<()> {
    let dir = std::path::Path::new(&a.env);
    let exp = train::config::Experiment::load(&dir.join("config.toml"), &[])?;
    match exp.kind {
        train::config::Kind::Classifier => {
            if let Some(agent) = &a.agent {
                anyhow::bail!(
                    "{} is a classifier run: it is evaluated on its test set, without --agent (got --agent {agent})",
                    a.env
                );
            }
            eval_run(&a.env, a.json)
        }
        train::config::Kind::Dqn | train::config::Kind::Ppo => {
            let agent = match a.agent.as_deref() {
                None => a.env.clone(),
                Some("random") => "random".to_string(),
                Some(other) => anyhow::bail!(
                    "give the run directory either in place of ENV or as --agent, not both (got {} and --agent {other}); --agent random plays the random baseline on the run's environment",
                    a.env
                ),
            };
            let env = train::rl::env_section(&exp)?;
            let mut args = a.clone();
            args.env = env.id.clone();
            args.agent = Some(agent);
            args.opts.set = env.sets()?;
            args.opts.set.extend(a.opts.set.iter().cloned());
            crate::envs_cli::eval(&args)
        }
    }
}

/// A classifier run's test accuracy and confusion matrix, on its whole test split.
fn eval_run(run_dir: &str, json: bool) -> Result<()> {
    let (run, exp) = train::open_run(std::path::Path::new(run_dir))?;
    let x = ClassifierExperiment::from_experiment(&exp)?;
    let ev = classifier::eval_run(&x, &run, DeviceChoice::Cpu)?;
    println!(
        "{}: test accuracy {:.2}% ({} images), mean loss {:.4}",
        run_dir,
        100.0 * ev.accuracy,
        ev.examples,
        ev.loss
    );
    println!("{}", confusion_table(&ev.confusion, &FASHION_MNIST_CLASSES));
    if json {
        let v = serde_json::json!({
            "run": run_dir,
            "test_accuracy": ev.accuracy,
            "test_loss": ev.loss,
            "examples": ev.examples,
            "classes": FASHION_MNIST_CLASSES,
            "confusion": ev.confusion,
        });
        println!("{}", serde_json::to_string(&v)?);
    }
    Ok(())
}

/// Rows: true class; columns: predicted class; last column: per-class recall.
fn confusion_table(m: &[Vec<u64>], names: &[&str]) -> String {
    let k = m.len();
    let label = |i: usize| {
        names
            .get(i)
            .map(|s| s.to_string())
            .unwrap_or_else(|| i.to_string())
    };
    let row_label = |i: usize| format!("{i} {}", label(i));
    let w = (0..k)
        .map(|i| row_label(i).chars().count())
        .max()
        .unwrap_or(1)
        .max(10);
    let mut out = format!("{:>w$} | predicted\n", "true");
    out += &format!("{:>w$} |", "");
    for j in 0..k {
        out += &format!(" {:>5}", j);
    }
    out += " | recall\n";
    for (i, row) in m.iter().enumerate() {
        out += &format!("{:>w$} |", row_label(i));
        for c in row {
            out += &format!(" {c:>5}");
        }
        let total: u64 = row.iter().sum();
        out += &format!(" | {:5.1}%\n", 100.0 * row[i] as f64 / total.max(1) as f64);
    }
    out
}
