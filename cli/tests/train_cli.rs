//! `ember train` and `ember eval RUN_DIR` end to end on a tiny generated IDX dataset: the run
//! directory's files, exact resumption after a kill, and the errors users meet first.

mod common;

use common::{ember, last_json, stderr};

use std::io::Write;
use std::path::{Path, PathBuf};

fn experiment() -> String {
    experiment_file("fashion_mnist.toml")
}

fn experiment_file(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../experiments")
        .join(name)
        .display()
        .to_string()
}

/// Writes a Fashion-MNIST-shaped dataset of 8x8 images (class k: a bright k-th quadrant, four
/// classes, labels 0..4 of 10) in IDX format, the training images gzipped, the rest plain.
fn tiny_dataset(dir: &Path) {
    let mut state = 12345u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    let mut write = |name: &str, train: bool| {
        let n = if train { 384 } else { 128 };
        let (mut imgs, mut labs) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let k = next() % 4;
            for y in 0..8 {
                for x in 0..8 {
                    let q = (y / 4) * 2 + x / 4;
                    imgs.push(if q == k {
                        180 + (next() % 60) as u8
                    } else {
                        (next() % 60) as u8
                    });
                }
            }
            labs.push(k as u8);
        }
        let idx = |dims: &[u32], data: &[u8]| {
            let mut v = vec![0u8, 0, 8, dims.len() as u8];
            for d in dims {
                v.extend_from_slice(&d.to_be_bytes());
            }
            v.extend_from_slice(data);
            v
        };
        let images = idx(&[n, 8, 8], &imgs);
        let labels = idx(&[n], &labs);
        if train {
            let gz = |data: &[u8]| {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            };
            std::fs::write(
                dir.join(format!("{name}-images-idx3-ubyte.gz")),
                gz(&images),
            )
            .unwrap();
            std::fs::write(
                dir.join(format!("{name}-labels-idx1-ubyte.gz")),
                gz(&labels),
            )
            .unwrap();
        } else {
            std::fs::write(dir.join(format!("{name}-images-idx3-ubyte")), images).unwrap();
            std::fs::write(dir.join(format!("{name}-labels-idx1-ubyte")), labels).unwrap();
        }
    };
    write("train", true);
    write("t10k", false);
}

fn small(data: &Path) -> Vec<String> {
    [
        format!("data.path={}", data.display()),
        "model.width=4".into(),
        "model.depth=2".into(),
        "model.downsample_after=[1]".into(),
        "model.hidden=16".into(),
        "model.dropout=0.1".into(),
        "train.epochs=2".into(),
        "train.batch_size=32".into(),
        "train.warmup_steps=4".into(),
        "train.lr=0.01".into(),
        "train.shift=1".into(),
        "train.eval_batch_size=50".into(),
        "train.log_every=4".into(),
        "train.checkpoint_every=5".into(),
        "train.keep_checkpoints=20".into(),
    ]
    .into_iter()
    .flat_map(|s| ["--set".to_string(), s])
    .collect()
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn train_writes_a_complete_run_that_resumes_exactly_and_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    tiny_dataset(&data);
    let run_a = tmp.path().join("a");
    let mut a = vec!["train".to_string(), experiment()];
    a.extend(small(&data));
    a.extend([
        "--run-dir".into(),
        run_a.display().to_string(),
        "--json".into(),
    ]);
    let sa = last_json(&ember(&args(&a)));
    assert_eq!(sa["steps"], 24, "2 epochs of 384/32 steps");
    assert!(sa["test_accuracy"].as_f64().unwrap() > 0.9, "{sa}");
    assert!(sa["wall_seconds"].as_f64().unwrap() > 0.0);

    // The run directory holds what the contract lists.
    let config = std::fs::read_to_string(run_a.join("config.toml")).unwrap();
    assert!(
        config.contains("width = 4")
            && config.contains("epochs = 2")
            && config.contains("final_lr_fraction"),
        "{config}"
    );
    let events: Vec<_> = std::fs::read_dir(&run_a)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("tfevents"))
        .collect();
    assert_eq!(events.len(), 1);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_a.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["test_accuracy"], sa["test_accuracy"]);
    let ckpts: Vec<String> = {
        let mut v: Vec<String> = std::fs::read_dir(run_a.join("checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    // Every 5 steps, and at the ends of the epochs (12, 24).
    let steps: Vec<u64> = ckpts
        .iter()
        .map(|n| {
            n.trim_start_matches("ckpt-")
                .trim_end_matches(".ember")
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(steps, vec![5, 10, 12, 15, 20, 24]);

    // Kill simulation: a copy of the run that only got as far as step 15 (mid-epoch 2).
    let run_b = tmp.path().join("b");
    std::fs::create_dir_all(run_b.join("checkpoints")).unwrap();
    std::fs::copy(run_a.join("config.toml"), run_b.join("config.toml")).unwrap();
    for s in [5, 10, 12, 15] {
        let n = format!("ckpt-{s:012}.ember");
        std::fs::copy(
            run_a.join("checkpoints").join(&n),
            run_b.join("checkpoints").join(&n),
        )
        .unwrap();
    }
    let o = ember(&["train", "--resume", run_b.to_str().unwrap(), "--json"]);
    assert!(
        stderr(&o).contains("resuming") && stderr(&o).contains("step 15"),
        "{}",
        stderr(&o)
    );
    let sb = last_json(&o);
    assert_eq!(sb["steps"], 24);
    // Same data order, augmentation, dropout masks, weights and Adam state: the same result.
    assert_eq!(
        sb["test_accuracy"], sa["test_accuracy"],
        "resumed {sb} vs uninterrupted {sa}"
    );
    assert_eq!(sb["test_loss"], sa["test_loss"]);

    // ember eval on the run: accuracy and the confusion matrix.
    let o = ember(&["eval", run_a.to_str().unwrap(), "--json"]);
    let ev = last_json(&o);
    assert_eq!(ev["test_accuracy"], sa["test_accuracy"]);
    let conf = ev["confusion"].as_array().unwrap();
    assert_eq!(conf.len(), 10);
    let total: u64 = conf
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(total, 128);
    let human = String::from_utf8_lossy(&o.stdout);
    assert!(
        human.contains("Ankle boot") && human.contains("recall"),
        "{human}"
    );
    // A classifier has no agent to choose.
    let o = ember(&["eval", run_a.to_str().unwrap(), "--agent", "random"]);
    assert!(
        !o.status.success() && stderr(&o).contains("classifier run"),
        "{}",
        stderr(&o)
    );

    // A run directory cannot be started over.
    let o = ember(&args(&a));
    assert!(
        !o.status.success() && stderr(&o).contains("--resume"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn train_errors_name_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment();
    let run = tmp.path().join("r").display().to_string();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    tiny_dataset(&data);
    let data_set = format!("data.path={}", data.display());
    let cases: [(&[&str], &[&str]); 5] = [
        (&["--set", "train.lrr=1"], &["lrr", "expected one of"]),
        (&["--set", "train.lr=fast"], &["train.lr", "fast"]),
        (
            &["--set", "model.block=dense"],
            &["model.block", "residual"],
        ),
        (
            &["--set", "data.path=/nonexistent/fmnist"],
            &["apt-get install dataset-fashion-mnist"],
        ),
        (
            &["--set", "model.kernel_size=4", "--set", &data_set],
            &["kernel_size must be odd", "got 4"],
        ),
    ];
    for (extra, needles) in cases {
        let mut a = vec!["train", &exp, "--run-dir", &run];
        a.extend_from_slice(extra);
        let o = ember(&a);
        assert!(!o.status.success());
        let e = stderr(&o);
        for n in needles {
            assert!(e.contains(n), "{extra:?}: {e}");
        }
        assert!(!e.contains("panicked"), "{e}");
        assert!(
            !Path::new(&run).exists(),
            "a failed start leaves no run directory behind"
        );
    }
    if !cfg!(any(feature = "cuda", feature = "wgpu")) {
        let o = ember(&["train", &exp, "--device", "gpu", "--run-dir", &run]);
        assert!(stderr(&o).contains("--features cuda"), "{}", stderr(&o));
    }
    let o = ember(&["train", &exp, "--device", "tpu"]);
    assert!(stderr(&o).contains("tpu"), "{}", stderr(&o));
    let o = ember(&["train", "--resume", tmp.path().to_str().unwrap()]);
    assert!(stderr(&o).contains("not a run directory"), "{}", stderr(&o));
}

/// The 94% recipe's own trunk (four convs, two pools) and flips train for a few steps and
/// evaluate: only the data, the epochs and the batch are overridden.
#[test]
fn four_conv_file_trains_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    tiny_dataset(&data);
    let run = tmp.path().join("run");
    let a = vec![
        "train".to_string(),
        experiment_file("fashion_mnist_4conv.toml"),
        "--set".into(),
        format!("data.path={}", data.display()),
        "--set".into(),
        "train.epochs=1".into(),
        "--set".into(),
        "train.batch_size=64".into(),
        "--set".into(),
        "train.warmup_steps=2".into(),
        "--run-dir".into(),
        run.display().to_string(),
        "--json".into(),
    ];
    let s = last_json(&ember(&args(&a)));
    assert_eq!(s["steps"], 6, "1 epoch of 384/64 steps: {s}");
    assert!(s["test_accuracy"].as_f64().is_some(), "{s}");
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        config.contains("depth = 4") && config.contains("hflip = true"),
        "{config}"
    );
}
