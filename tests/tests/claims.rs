//! The figures in README.md and RESULTS.md were measured by running shipped experiment files in
//! full, minutes to hours each, which no test can repeat. What a test can do is notice when a
//! file's numbers move: a kernel's summation order, a default, an initialisation, an
//! environment's dynamics. Every run is a function of its file and seed, the same bits whatever
//! the thread count (ARCHITECTURE.md's invariant), so each case below trains one file briefly and
//! compares the CRC of its final weights (`weights_fingerprint` in `summary.json`) with a pin.
//!
//! **When a case fails** because a change moved the numbers on purpose: re-measure the claims the
//! case names (RESULTS.md, README.md, BENCHMARKS.md), or mark them as measured at an older commit,
//! in the same change; then set the case's pin to the value the failure prints.
//!
//! Each case has two pins: one for x86-64 CPUs with AVX-512 (`gemm`'s `x86-v4` kernels) and one
//! for those with AVX2 and FMA but not AVX-512 (`x86-v3`), since the two kernel families round
//! differently. This project's machines have been of both kinds. The claims were measured on
//! AVX-512 machines (RESULTS.md says so); the AVX2 pins were taken from the same code, so they catch
//! the same moves. A change that moves the numbers can be re-pinned only for the CPU it was made
//! on: it sets the other kind's pin to `""` (not compared, and the test says so) until someone
//! takes it on such a CPU. On other CPUs the cases only check that each run finishes with a
//! fingerprint, and say so.

mod common;

use std::path::Path;
use std::process::Command;

/// One experiment file run briefly: its overrides, the pinned fingerprint, and the claims whose
/// numbers move when it moves.
struct Case {
    file: &'static str,
    set: &'static [&'static str],
    pin: &'static str,
    /// The pin on AVX2 CPUs without AVX-512.
    pin_avx2: &'static str,
    claims: &'static str,
}

const CASES: &[Case] = &[
    Case {
        file: "fashion_mnist.toml",
        set: &[
            "train.epochs=1",
            "train.limit_train=3840",
            "train.limit_test=500",
        ],
        pin: "fbaca259",
        pin_avx2: "52ef1774",
        claims: "README's Fashion-MNIST figure and RESULTS.md's Fashion-MNIST rows \
                 (fashion_mnist.toml and fashion_mnist_4conv.toml share every kernel)",
    },
    Case {
        file: "dqn_cartpole.toml",
        set: &["train.total_steps=3000"],
        pin: "33b9f67c",
        pin_avx2: "33b9f67c",
        claims: "RESULTS.md's CartPole-v1 DQN rows (3 of 3 seeds)",
    },
    Case {
        file: "dqn_breakout.toml",
        set: &["train.total_steps=1500", "train.learning_starts=1000"],
        // Re-pinned when the MinAtar DQN files moved from Adam to RMSProp (Adam: 697ca060 on
        // both kinds); the AVX-512 pin is to be taken on such a CPU.
        pin: "",
        pin_avx2: "09e23374",
        claims: "RESULTS.md's DQN MinAtar runs and BENCHMARKS.md's DQN updates/s (the fused Q-net)",
    },
    Case {
        file: "ppo_breakout.toml",
        set: &["train.total_steps=8192"],
        pin: "70e5365b",
        pin_avx2: "4c5c6eb1",
        claims: "RESULTS.md's five-game PPO table (the MLP files)",
    },
    Case {
        file: "ppo_conv_breakout.toml",
        set: &["train.total_steps=8192"],
        pin: "1a3742f1",
        pin_avx2: "9124acd2",
        claims: "RESULTS.md's conv PPO runs (the shared ConvTrunk)",
    },
    Case {
        file: "az_connect_four.toml",
        set: &[
            "train.total_updates=4",
            "train.min_replay=256",
            "train.eval_every=0",
        ],
        // Re-pinned on an AVX2 machine when the file turned decisive moves on (the AVX-512
        // pin is not yet taken).
        pin: "",
        pin_avx2: "ca044970",
        claims: "RESULTS.md's AlphaZero Connect Four rows",
    },
    Case {
        file: "az_go5.toml",
        set: &[
            "train.total_updates=2",
            "train.min_replay=128",
            "train.eval_every=0",
        ],
        pin: "21ae5d19",
        pin_avx2: "f2f474ce",
        claims: "RESULTS.md's AlphaZero Go rows (5x5, 7x7, 9x9: one residual trunk, pooled value \
                 head, ownership head)",
    },
];

/// The CPU's kernel family, for choosing a case's pin (see the module docs); `None` where no pin
/// applies.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kernels {
    Avx512,
    Avx2,
}

fn kernels() -> Option<Kernels> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Some(Kernels::Avx512);
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Some(Kernels::Avx2);
        }
    }
    None
}

/// Trains `case` in a fresh directory with `threads` rayon threads; the summary's fingerprint.
/// `test` names the calling test in the run directory: the two tests run at once in one process,
/// and sharing a directory (one removing it while the other trains there) failed a run.
fn fingerprint(ember: &Path, case: &Case, threads: usize, test: &str) -> String {
    let dir = std::env::temp_dir().join(format!(
        "ember-claims-{test}-{}-{threads}-{}",
        case.file.trim_end_matches(".toml"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cmd = Command::new(ember);
    cmd.arg("train")
        .arg(common::repo_root().join("experiments").join(case.file))
        .arg("--run-dir")
        .arg(&dir)
        .arg("--json")
        .env("RAYON_NUM_THREADS", threads.to_string());
    for s in case.set {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().unwrap();
    common::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value =
        serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    summary["weights_fingerprint"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no weights_fingerprint in {summary}", case.file))
        .to_string()
}

fn fashion_mnist_present() -> bool {
    Path::new(ember_nets::data::FASHION_MNIST_DIR).is_dir()
}

#[test]
fn shipped_experiments_train_to_their_pinned_weights() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let kernels = kernels();
    match kernels {
        Some(k) => eprintln!("comparing with the {k:?} pins"),
        None => eprintln!("NOTE: neither AVX-512 nor AVX2 here, so no pinned fingerprint applies"),
    }
    let mut moved = Vec::new();
    for case in CASES {
        if case.file.starts_with("fashion_mnist") && !fashion_mnist_present() {
            assert!(
                !common::references_required(),
                "Fashion-MNIST is missing (apt-get install dataset-fashion-mnist)"
            );
            eprintln!("SKIPPED {}: Fashion-MNIST is not installed", case.file);
            continue;
        }
        let got = fingerprint(&ember, case, 2, "pins");
        eprintln!("{}: {got}", case.file);
        let (field, pin) = match kernels {
            Some(Kernels::Avx512) => ("pin", case.pin),
            Some(Kernels::Avx2) => ("pin_avx2", case.pin_avx2),
            None => ("", ""),
        };
        if pin.is_empty() && kernels.is_some() {
            eprintln!(
                "NOTE {}: no {field} taken yet, so it is not compared",
                case.file
            );
        }
        if !pin.is_empty() && got != pin {
            moved.push(format!(
                "{} {:?}: weights_fingerprint {got}, pinned {pin}. Re-measure (or mark as \
                 measured at an older commit) {}, then set its {field} to {got} (and the other \
                 kind's pin to \"\" until it is taken on such a CPU).",
                case.file, case.set, case.claims
            ));
        }
    }
    assert!(
        moved.is_empty(),
        "the numbers of shipped experiment files moved:\n{}",
        moved.join("\n")
    );
}

/// The invariant the pins rest on: one thread or two, the same weights.
#[test]
fn a_run_does_not_depend_on_the_thread_count() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    // The DQN file splits its Q-net's work between two threads (nets' `pair`) where two exist.
    for file in [
        "dqn_breakout.toml",
        "ppo_conv_breakout.toml",
        "az_connect_four.toml",
    ] {
        let case = CASES.iter().find(|c| c.file == file).unwrap();
        assert_eq!(
            fingerprint(&ember, case, 1, "threads"),
            fingerprint(&ember, case, 2, "threads"),
            "{file}: one thread and two trained different weights"
        );
    }
}
