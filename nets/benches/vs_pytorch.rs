//! Training speed against PyTorch on CPU: the Fashion-MNIST classifier (batch 128) and the
//! MinAtar-sized Q-network (batch 32), both with Adam, for a fixed number of steps, Ember first
//! and then `nets/peers/torch_bench.py` in the same run. Prints one JSON line with both sides and
//! the ratios (Ember steps/s ÷ PyTorch steps/s; above 1 means Ember is faster).
//!
//! ```sh
//! apt-get install python3-torch libopenblas0-pthread
//! cargo bench -p ember-nets --bench vs_pytorch -- --steps 100 --python /usr/bin/python3 --threads 1
//! ```
//!
//! Two things decide PyTorch's side on Debian: without an optimized BLAS, `python3-torch` 1.13
//! (BUILD `BLAS_INFO=generic`) does its linear layers with the reference `libblas.so.3` and is
//! ~10x slower on the Q-net; and on a shared 2-core machine its OpenMP threads oversubscribe, so
//! `--threads 1` is faster than 2 for both nets. Compare against PyTorch at its best setting.
//! Ember's threads are rayon's (`RAYON_NUM_THREADS`, default one per CPU).
//!
//! Run by `cargo test` (no `--bench` argument), it only smoke-tests both steps for two steps.
//! `--device gpu` runs Ember's side on the GPU backend of a `--features wgpu` (or `cuda`) build.

// The allocator the `ember` binary uses (see cli/src/main.rs), so both measure the same.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use ember_nets::burn::optim::{AdamConfig, ModuleOptimizer};
use ember_nets::burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use ember_nets::data::SplitMix64;
use ember_nets::train::{FusedAdam, classification_loss, classifier_step, q_step, read};
use ember_nets::{ClassifierConfig, ConvTrunkConfig, DeviceChoice, EncoderConfig, QNetConfig};

fn arg(name: &str) -> Option<String> {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1).cloned())
}

/// The network of `experiments/fashion_mnist.toml` (see `nets/peers/torch_bench.py`).
fn classifier_config() -> ClassifierConfig {
    ClassifierConfig::new(
        ConvTrunkConfig::new([1, 28, 28], 32, 3).with_downsample_after(vec![0, 1, 2]),
        10,
    )
    .with_hidden(256)
    .with_dropout(0.3)
}

/// MinAtar's DQN network: conv 16 3x3 (no batch norm), linear 128, 6 actions.
fn qnet_config() -> QNetConfig {
    QNetConfig::new(
        EncoderConfig::Conv(ConvTrunkConfig::new([4, 10, 10], 16, 1).with_batch_norm(false)),
        6,
    )
    .with_hidden(128)
}

/// Ember's Adam ([`FusedAdam`]), or burn's with `--adam burn`.
fn adam() -> ModuleOptimizer {
    match arg("--adam").as_deref() {
        Some("burn") => AdamConfig::new().init(),
        _ => FusedAdam::default().init(),
    }
}

fn time_steps(steps: usize, warmup: usize, mut step: impl FnMut(usize) -> Tensor<1>) -> f64 {
    for i in 0..warmup {
        step(i);
    }
    let t = Instant::now();
    let mut last = None;
    for i in 0..steps {
        last = Some(step(i));
    }
    if let Some(l) = last {
        let _ = read::<f32>(l.into_data()); // waits for the last step
    }
    t.elapsed().as_secs_f64()
}

/// Classifier training, batch 128 (as in experiments/fashion_mnist.toml); steps/s.
fn classifier(steps: usize, warmup: usize, dev: &Device) -> f64 {
    let mut model = classifier_config().init(dev).expect("valid config");
    let mut optim = adam();
    let loss_fn = classification_loss(0.0, dev);
    let batches: Vec<(Tensor<4>, Tensor<1, Int>)> = (0..8)
        .map(|i| {
            let x = Tensor::<4>::random([128, 1, 28, 28], Distribution::Normal(0.0, 1.0), dev);
            let y: Vec<i64> = (0..128).map(|j| ((i * 7 + j * 3) % 10) as i64).collect();
            (
                x,
                Tensor::<1, Int>::from_data(TensorData::new(y, [128]), dev),
            )
        })
        .collect();
    let secs = time_steps(steps, warmup, |i| {
        let (x, y) = batches[i % batches.len()].clone();
        let (m, loss) = classifier_step(model.clone(), &mut optim, &loss_fn, 1e-3, x, y);
        model = m;
        loss
    });
    steps as f64 / secs
}

/// Q-network TD steps, batch 32; steps/s.
fn qnet(steps: usize, warmup: usize, dev: &Device) -> f64 {
    let mut q = qnet_config().init(dev).expect("valid config");
    let mut qopt = adam();
    let mut rng = SplitMix64::new(1);
    let qbatches: Vec<(Tensor<2>, Tensor<1, Int>, Tensor<1>)> = (0..8)
        .map(|_| {
            let s: Vec<f32> = (0..32 * 400)
                .map(|_| if rng.below(10) == 0 { 1.0 } else { 0.0 })
                .collect();
            let a: Vec<i64> = (0..32).map(|_| rng.below(6) as i64).collect();
            (
                Tensor::<2>::from_data(TensorData::new(s, [32, 400]), dev),
                Tensor::<1, Int>::from_data(TensorData::new(a, [32]), dev),
                Tensor::<1>::random([32], Distribution::Normal(0.0, 1.0), dev),
            )
        })
        .collect();
    let secs = time_steps(steps, warmup, |i| {
        let (s, a, t) = qbatches[i % qbatches.len()].clone();
        let (m, loss) = q_step(q.clone(), &mut qopt, 1e-3, s, a, t);
        q = m;
        loss
    });
    steps as f64 / secs
}

fn main() {
    ember_nets::alloc::keep_freed_memory();
    let benching = std::env::args().any(|a| a == "--bench");
    let steps: usize = if benching {
        arg("--steps").and_then(|s| s.parse().ok()).unwrap_or(200)
    } else {
        2
    };
    let warmup = if benching { 5 } else { 1 };
    // `--only classifier` or `--only qnet` times one of the two nets (both sides), for profiling.
    let only = arg("--only");
    let run = |net: &str| only.as_deref().is_none_or(|o| o == net);
    // `--device gpu` times Ember on the GPU backend this bench was built with
    // (`--features wgpu` or `cuda`); PyTorch stays on the CPU.
    let choice: DeviceChoice = match arg("--device").unwrap_or_else(|| "cpu".into()).parse() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let dev = match choice.autodiff_device() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    dev.seed(0);
    let cls = if run("classifier") {
        classifier(steps, warmup, &dev)
    } else {
        f64::NAN
    };
    let qnet = if run("qnet") {
        qnet(steps, warmup, &dev)
    } else {
        f64::NAN
    };

    let mut out = serde_json::json!({
        "steps": steps,
        "ember": {
            "backend": choice.backend_name(),
            "device": choice.to_string(),
            "adam": if arg("--adam").as_deref() == Some("burn") { "burn" } else { "fused" },
            // rayon's pool: RAYON_NUM_THREADS when set, else one thread per CPU.
            "threads": std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse::<usize>().ok())
                .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
            "classifier_steps_per_sec": cls,
            "classifier_images_per_sec": cls * 128.0,
            "qnet_steps_per_sec": qnet,
        },
    });
    if benching && let Some(py) = arg("--python") {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/torch_bench.py");
        let threads = arg("--threads").unwrap_or_else(|| "2".into());
        let o = Command::new(&py)
            .arg(&script)
            .args(["--steps", &steps.to_string(), "--threads", &threads])
            .args(only.iter().flat_map(|o| ["--only", o.as_str()]))
            .output()
            .expect("run the PyTorch peer");
        if !o.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&o.stderr));
            std::process::exit(1);
        }
        let t: serde_json::Value = serde_json::from_str(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .last()
                .unwrap_or(""),
        )
        .expect("peer JSON");
        out["ratio_classifier"] =
            (cls / t["classifier_steps_per_sec"].as_f64().unwrap_or(f64::NAN)).into();
        out["ratio_qnet"] = (qnet / t["qnet_steps_per_sec"].as_f64().unwrap_or(f64::NAN)).into();
        out["pytorch"] = t;
    }
    println!("{out}");
}
