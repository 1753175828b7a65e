//! Shapes of every network, config validation, and learning on tiny generated data.

use ember_nets::burn::module::Module;
use ember_nets::burn::optim::AdamConfig;
use ember_nets::burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use ember_nets::data::{ImageDataset, SplitMix64};
use ember_nets::train::{classification_loss, classifier_step, evaluate, q_step, read};
use ember_nets::*;

fn cpu() -> Device {
    Device::flex()
}

fn trunk(input: [usize; 3]) -> ConvTrunkConfig {
    ConvTrunkConfig::new(input, 8, 2)
}

#[test]
fn every_network_has_the_documented_shapes() {
    let dev = cpu();
    // Classifier, flatten and global-pool variants, with downsampling.
    for global_pool in [false, true] {
        let cfg = ClassifierConfig::new(
            ConvTrunkConfig::new([1, 12, 12], 4, 3).with_downsample_after(vec![0, 2]),
            10,
        )
        .with_hidden(16)
        .with_dropout(0.2)
        .with_global_pool(global_pool);
        // Pools after blocks 0 and 2 (the last): channels 4 → 8 → 8, 12x12 → 6x6 → 3x3.
        assert_eq!(cfg.trunk.output_shape(), [8, 3, 3]);
        let t = cfg.trunk.init(&dev).unwrap();
        let y = t.forward(Tensor::<4>::zeros([2, 1, 12, 12], &dev));
        assert_eq!(y.dims(), [2, 8, 3, 3]);
        let m = cfg.init(&dev).unwrap();
        let x = Tensor::<4>::random([5, 1, 12, 12], Distribution::Default, &dev);
        assert_eq!(m.forward(x).dims(), [5, 10]);
    }
    // Q-nets: conv and MLP encoders, plain and dueling, plain and residual blocks.
    for block in [BlockKind::Plain, BlockKind::Residual] {
        for dueling in [false, true] {
            let enc = EncoderConfig::Conv(trunk([4, 10, 10]).with_block(block));
            let q = QNetConfig::new(enc, 6)
                .with_dueling(dueling)
                .init(&dev)
                .unwrap();
            let obs = Tensor::<2>::random([3, 400], Distribution::Default, &dev);
            assert_eq!(q.forward(obs).dims(), [3, 6]);
        }
    }
    let q = QNetConfig::new(EncoderConfig::Mlp(MlpTrunkConfig::new(4, vec![32, 32])), 2)
        .init(&dev)
        .unwrap();
    assert_eq!(q.forward(Tensor::<2>::zeros([7, 4], &dev)).dims(), [7, 2]);
    // Actor-critic.
    let ac = ActorCriticConfig::new(EncoderConfig::Conv(trunk([6, 10, 10])), 6)
        .init(&dev)
        .unwrap();
    let (logits, value) = ac.forward(Tensor::<2>::zeros([2, 600], &dev));
    assert_eq!((logits.dims(), value.dims()), ([2, 6], [2]));
    // AlphaZero policy-value on 9x9: 82 moves, values in (-1, 1).
    let pv_cfg = PolicyValueNetConfig::new(trunk([5, 9, 9]).with_block(BlockKind::Residual));
    assert_eq!(pv_cfg.num_moves(), 82);
    let pv = pv_cfg.init(&dev).unwrap();
    let (p, v) = pv.forward(Tensor::<4>::random(
        [3, 5, 9, 9],
        Distribution::Default,
        &dev,
    ));
    assert_eq!((p.dims(), v.dims()), ([3, 82], [3]));
    let v: Vec<f32> = read(v.into_data()).unwrap();
    assert!(v.iter().all(|x| x.abs() < 1.0));
}

#[test]
fn bad_configs_are_errors_not_panics() {
    let dev = cpu();
    let cases: Vec<(Result<(), NetsError>, &str)> = vec![
        (
            ConvTrunkConfig::new([1, 8, 8], 0, 2).init(&dev).map(|_| ()),
            "width",
        ),
        (
            ConvTrunkConfig::new([1, 8, 8], 4, 2)
                .with_kernel_size(2)
                .init(&dev)
                .map(|_| ()),
            "odd",
        ),
        (
            ConvTrunkConfig::new([1, 8, 8], 4, 2)
                .with_downsample_after(vec![5])
                .init(&dev)
                .map(|_| ()),
            "block 5",
        ),
        (
            ConvTrunkConfig::new([1, 2, 2], 4, 3)
                .with_downsample_after(vec![0, 1])
                .init(&dev)
                .map(|_| ()),
            "too many downsamplings",
        ),
        (
            ClassifierConfig::new(trunk([1, 8, 8]), 10)
                .with_dropout(1.5)
                .init(&dev)
                .map(|_| ()),
            "dropout",
        ),
        (
            QNetConfig::new(EncoderConfig::Mlp(MlpTrunkConfig::new(4, vec![])), 2)
                .init(&dev)
                .map(|_| ()),
            "hidden",
        ),
        (
            PolicyValueNetConfig::new(trunk([3, 6, 7]))
                .with_num_actions(Some(0))
                .init(&dev)
                .map(|_| ()),
            "num_actions",
        ),
    ];
    for (r, needle) in cases {
        let e = r.unwrap_err().to_string();
        assert!(e.contains(needle), "{e:?} should mention {needle:?}");
    }
}

/// Tiny separable data: class k is a bright k-th quadrant on a dark 8x8 image, plus noise.
fn quadrants(n: usize, seed: u64) -> ImageDataset {
    let mut rng = SplitMix64::new(seed);
    let mut images = Vec::with_capacity(n * 64);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let k = rng.below(4) as usize;
        for y in 0..8 {
            for x in 0..8 {
                let q = (y / 4) * 2 + x / 4;
                let base = if q == k { 200 } else { 30 };
                images.push((base + rng.below(40) as i32 - 20).clamp(0, 255) as u8);
            }
        }
        labels.push(k as u8);
    }
    ImageDataset {
        images,
        labels,
        shape: [1, 8, 8],
        num_classes: 4,
    }
}

#[test]
fn a_classifier_learns_tiny_data_in_a_few_steps() {
    let dev = cpu().autodiff();
    dev.seed(0);
    let train = quadrants(256, 1);
    let test = quadrants(128, 2);
    let (mean, std) = train.mean_std();
    let cfg = ClassifierConfig::new(
        ConvTrunkConfig::new([1, 8, 8], 4, 2).with_downsample_after(vec![1]),
        4,
    );
    let mut model = cfg.init(&dev).unwrap();
    let before = evaluate(&model.valid(), &test, mean, std, 64, &Device::flex()).unwrap();
    let mut optim = AdamConfig::new().init();
    let loss_fn = classification_loss(0.0, &dev);
    let mut rng = SplitMix64::new(3);
    let mut losses = Vec::new();
    for _ in 0..4 {
        let order = rng.permutation(train.len());
        for idx in order.chunks(32) {
            let (x, y) = train.batch(idx, mean, std, None, &dev);
            let (m, loss) = classifier_step(model, &mut optim, &loss_fn, 3e-3, x, y);
            model = m;
            losses.push(read::<f32>(loss.into_data()).unwrap()[0]);
        }
    }
    let after = evaluate(&model.valid(), &test, mean, std, 64, &Device::flex()).unwrap();
    let first: f32 = losses[..4].iter().sum::<f32>() / 4.0;
    let last: f32 = losses[losses.len() - 4..].iter().sum::<f32>() / 4.0;
    assert!(last < first * 0.5, "loss {first} → {last}");
    assert!(
        after.accuracy > 0.95,
        "accuracy {} → {}",
        before.accuracy,
        after.accuracy
    );
    assert_eq!(after.confusion.iter().flatten().sum::<u64>(), 128);
}

#[test]
fn a_q_step_moves_q_towards_the_target() {
    let dev = cpu().autodiff();
    let cfg = QNetConfig::new(
        EncoderConfig::Conv(ConvTrunkConfig::new([4, 10, 10], 16, 1).with_batch_norm(false)),
        6,
    );
    let mut model = cfg.init(&dev).unwrap();
    let mut optim = AdamConfig::new().init();
    let obs = Tensor::<2>::random([32, 400], Distribution::Default, &dev);
    let actions = Tensor::<1, Int>::from_data(
        TensorData::new((0..32).map(|i| i % 6).collect::<Vec<i64>>(), [32]),
        &dev,
    );
    let targets = Tensor::<1>::ones([32], &dev);
    let mut losses = Vec::new();
    for _ in 0..30 {
        let (m, l) = q_step(
            model,
            &mut optim,
            1e-3,
            obs.clone(),
            actions.clone(),
            targets.clone(),
        );
        model = m;
        losses.push(read::<f32>(l.into_data()).unwrap()[0]);
    }
    assert!(losses[29] < losses[0] * 0.2, "{losses:?}");
    assert!(model.num_params() > 1600 * 128);
}
