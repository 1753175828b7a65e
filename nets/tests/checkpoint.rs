//! Checkpoints round-trip exactly (weights, batch-norm statistics, optimizer state, trainer
//! state) and refuse truncated, corrupt and mismatched files with clear errors.

use ember_nets::burn::module::Module;
use ember_nets::burn::optim::AdamConfig;
use ember_nets::burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use ember_nets::checkpoint::CheckpointDir;
use ember_nets::train::{classification_loss, classifier_step, read};
use ember_nets::*;

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct State {
    step: u64,
    epoch: u32,
}

fn cfg() -> ClassifierConfig {
    ClassifierConfig::new(
        ConvTrunkConfig::new([1, 6, 6], 4, 2).with_downsample_after(vec![1]),
        3,
    )
    .with_hidden(8)
}

fn batch(dev: &Device, seed: u64) -> (Tensor<4>, Tensor<1, Int>) {
    dev.seed(seed);
    let x = Tensor::<4>::random([8, 1, 6, 6], Distribution::Default, dev);
    let y = Tensor::<1, Int>::from_data(
        TensorData::new((0..8).map(|i| i % 3).collect::<Vec<i64>>(), [8]),
        dev,
    );
    (x, y)
}

fn outputs(m: &Classifier, x: Tensor<4>) -> Vec<f32> {
    read(m.valid().forward(x.inner()).into_data()).unwrap()
}

#[test]
fn resuming_from_a_checkpoint_continues_training_exactly() {
    let dev = Device::flex().autodiff();
    dev.seed(1);
    let loss_fn = classification_loss(0.0, &dev);
    let mut model = cfg().init(&dev).unwrap();
    let mut optim = AdamConfig::new().init();
    for s in 0..3 {
        let (x, y) = batch(&dev, 10 + s);
        model = classifier_step(model, &mut optim, &loss_fn, 1e-2, x, y).0;
    }
    let dir = tempfile::tempdir().unwrap();
    let ckdir = CheckpointDir::new(dir.path().join("checkpoints"), 2);
    let ck = Checkpoint::new(
        "classifier",
        &cfg(),
        &model,
        Some(&optim),
        &State { step: 3, epoch: 0 },
    )
    .unwrap();
    let path = ckdir.save(3, &ck).unwrap();

    // Continue the original for two more steps.
    let mut a = model;
    for s in 3..5 {
        let (x, y) = batch(&dev, 10 + s);
        a = classifier_step(a, &mut optim, &loss_fn, 1e-2, x, y).0;
    }

    // Rebuild from the file (a fresh model with other random weights) and do the same.
    let loaded = Checkpoint::load(&path).unwrap();
    loaded.check("classifier", &cfg()).unwrap();
    assert_eq!(
        loaded.state::<State>().unwrap(),
        State { step: 3, epoch: 0 }
    );
    let stored_cfg: ClassifierConfig = loaded.model_config().unwrap();
    dev.seed(999);
    let mut b = loaded.apply_model(stored_cfg.init(&dev).unwrap()).unwrap();
    let mut optim_b = loaded.apply_optimizer(AdamConfig::new().init()).unwrap();
    for s in 3..5 {
        let (x, y) = batch(&dev, 10 + s);
        b = classifier_step(b, &mut optim_b, &loss_fn, 1e-2, x, y).0;
    }
    let (x, _) = batch(&dev, 77);
    let (oa, ob) = (outputs(&a, x.clone()), outputs(&b, x));
    assert_eq!(
        oa, ob,
        "same weights, batch-norm statistics and Adam moments after resuming"
    );

    // Without the optimizer state the continuation differs (Adam's moments matter): the test
    // above can fail.
    let mut c = loaded.apply_model(cfg().init(&dev).unwrap()).unwrap();
    let mut fresh = AdamConfig::new().init();
    for s in 3..5 {
        let (x, y) = batch(&dev, 10 + s);
        c = classifier_step(c, &mut fresh, &loss_fn, 1e-2, x, y).0;
    }
    let (x, _) = batch(&dev, 77);
    assert_ne!(outputs(&c, x.clone()), outputs(&a, x));
}

#[test]
fn damaged_and_mismatched_checkpoints_are_clear_errors() {
    let dev = Device::flex();
    let model = cfg().init(&dev).unwrap();
    let ck = Checkpoint::new(
        "classifier",
        &cfg(),
        &model,
        None,
        &State { step: 1, epoch: 0 },
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.ember");
    ck.save(&path).unwrap();
    let good = std::fs::read(&path).unwrap();
    assert!(!ck.has_optimizer());
    assert!(
        ck.apply_optimizer(AdamConfig::new().init())
            .err()
            .unwrap()
            .to_string()
            .contains("no optimizer")
    );

    // Truncated at many points: never a panic, always "truncated" (or "corrupt" when only the
    // checksum's bytes are cut).
    for cut in [0, 5, 12, 20, good.len() / 2, good.len() - 1] {
        std::fs::write(&path, &good[..cut]).unwrap();
        let e = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("truncated") || e.contains("not an Ember checkpoint"),
            "cut {cut}: {e}"
        );
    }
    // One flipped bit anywhere in the body.
    for at in [9, 30, good.len() / 2, good.len() - 5] {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        std::fs::write(&path, &bad).unwrap();
        let e = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("corrupt") || e.contains("truncated") || e.contains("version"),
            "byte {at}: {e}"
        );
    }
    std::fs::write(&path, b"not a checkpoint at all").unwrap();
    assert!(
        Checkpoint::load(&path)
            .unwrap_err()
            .to_string()
            .contains("not an Ember checkpoint")
    );

    // Config and kind mismatches name what differs.
    let other = cfg().with_hidden(16);
    let e = ck.check("classifier", &other).unwrap_err().to_string();
    assert!(e.contains("hidden: checkpoint 8, expected 16"), "{e}");
    let e = ck.check("qnet", &cfg()).unwrap_err().to_string();
    assert!(e.contains("\"qnet\""), "{e}");
    // Applying weights to a model of another shape is refused by the record validation.
    let e = ck
        .apply_model(other.init(&dev).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not fit"), "{e}");
}

#[test]
fn a_checkpoint_dir_keeps_the_newest_and_skips_damaged_ones() {
    let dev = Device::flex();
    let model = cfg().init(&dev).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ckdir = CheckpointDir::new(dir.path(), 2);
    for step in [10, 20, 30] {
        let ck = Checkpoint::new(
            "classifier",
            &cfg(),
            &model,
            None,
            &State { step, epoch: 0 },
        )
        .unwrap();
        ckdir.save(step, &ck).unwrap();
    }
    let steps: Vec<u64> = ckdir.list().unwrap().into_iter().map(|(s, _)| s).collect();
    assert_eq!(steps, vec![20, 30]);
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    // Damage the newest: `latest` falls back to 20 and reports why it skipped 30.
    let newest = ckdir.file_for(30);
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() / 3]).unwrap();
    let (found, skipped) = ckdir.latest().unwrap();
    let (step, ck) = found.unwrap();
    assert_eq!(step, 20);
    assert_eq!(ck.state::<State>().unwrap().step, 20);
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].to_string().contains("truncated"));
}
