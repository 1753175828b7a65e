//! `ember`: Ember's one command line.
//!
//! A thin layer: each verb parses its arguments (clap), makes one library call (`ember_run` for
//! train, eval, watch, bench env and plot; `ember_envs::go` for the Go verbs) and prints what it
//! returns. Human-readable output goes to stderr (or precedes the JSON); with `--json` the last
//! line of stdout is exactly one JSON object. `docs/cli.md` lists every verb, flag and JSON shape.

mod envs_cli;
mod go_cli;
mod plot_cli;
mod serve_cli;
mod train_cli;

use std::io::Write;

use anyhow::Result;

// mimalloc keeps freed pages for reuse: with glibc's allocator, burn's large per-op tensors are
// mmapped and unmapped again on every training step, and the page faults cost 10-20% of the time.
// `main` also turns off mimalloc's delayed purging (`ember_nets::alloc`) for the same reason.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ember",
    version,
    about = "Ember: reinforcement-learning environments and agents in Rust"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the registered environments with their observation shape, action count and options.
    Envs(envs_cli::EnvsArgs),
    /// Play episodes with an agent and report the mean and spread of returns and lengths.
    Eval(envs_cli::EvalArgs),
    /// Render an episode live in the terminal (a colour per channel, with a legend), or to a GIF.
    Watch(envs_cli::WatchArgs),
    /// Measure speed.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// A GTP v2 Go engine on stdin/stdout (for GoGui, Sabaki, twogtp, GNU Go).
    Gtp(go_cli::GtpArgs),
    /// Play matches between players.
    #[command(subcommand)]
    Match(go_cli::MatchCmd),
    /// Games of an AlphaZero run's newest network against itself (SGF with analysis for Go).
    Selfplay(go_cli::SelfplayArgs),
    /// Run an experiment (TOML): train, log to TensorBoard, checkpoint; or --resume a run.
    Train(train_cli::TrainArgs),
    /// Draw learning curves (return vs steps, runs overlaid) from runs' TensorBoard event files.
    Plot(plot_cli::PlotArgs),
    /// A local web app: runs with live learning curves, matches with a live board and analysis,
    /// episodes with the agent's outputs.
    Serve(serve_cli::ServeArgs),
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Single-thread stepping with uniformly random actions.
    Env(envs_cli::BenchEnvArgs),
    /// Random Go playouts on one thread (uniform over legal non-eye-filling moves, to two passes).
    Go(go_cli::BenchGoArgs),
    /// UCT search with random playouts over a self-play game, on one thread.
    Search(go_cli::BenchSearchArgs),
}

fn main() {
    ember_nets::alloc::keep_freed_memory();
    output_errors_end_the_command();
    let cli = Cli::parse();
    let result: Result<()> = match cli.cmd {
        Cmd::Envs(a) => envs_cli::envs(&a),
        Cmd::Eval(a) => envs_cli::eval(&a),
        Cmd::Watch(a) => envs_cli::watch(&a),
        Cmd::Bench(BenchCmd::Env(a)) => envs_cli::bench_env(&a),
        Cmd::Gtp(a) => go_cli::gtp(&a),
        Cmd::Match(go_cli::MatchCmd::Go(a)) => go_cli::match_go(&a),
        Cmd::Match(go_cli::MatchCmd::ConnectFour(a)) => go_cli::match_connect_four(&a),
        Cmd::Bench(BenchCmd::Go(a)) => go_cli::bench_go(&a),
        Cmd::Bench(BenchCmd::Search(a)) => go_cli::bench_search(&a),
        Cmd::Selfplay(a) => go_cli::selfplay(&a),
        Cmd::Train(a) => train_cli::train(&a),
        Cmd::Plot(a) => plot_cli::plot(&a),
        Cmd::Serve(a) => serve_cli::serve(&a),
    };
    if let Err(e) = result {
        if e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        }) {
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        eprintln!("error: {}", ember_run::error::error_chain(e.as_ref()));
        std::process::exit(1);
    }
}

/// The exit status when the reader of our output went away (`ember envs | head`): a shell's
/// status for a process ended by SIGPIPE, without a message.
const BROKEN_PIPE_EXIT: i32 = 141;

/// `print!` panics when stdout cannot be written (a closed pipe, a full disk). Such a panic ends
/// the command here instead: quietly with [`BROKEN_PIPE_EXIT`] for a closed pipe, else with the
/// usual `error: …` line and status 1. A panic inside burn while a checkpoint's record is applied
/// is caught by `ember_nets::checkpoint` and becomes an error, so it prints nothing here. Every
/// other panic is reported as before.
fn output_errors_end_the_command() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.payload_as_str().unwrap_or("");
        if msg.starts_with("failed printing to std") {
            if msg.contains("Broken pipe") {
                std::process::exit(BROKEN_PIPE_EXIT);
            }
            let _ = writeln!(std::io::stderr(), "error: {msg}");
            std::process::exit(1);
        }
        // burn panicking on a crafted checkpoint record: caught there and reported as an error.
        if ember_nets::checkpoint::applying_record() {
            return;
        }
        default(info);
    }));
}
