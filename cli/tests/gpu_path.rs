//! The GPU path, run for real: every network on `--device gpu` against the same network on the
//! CPU's `flex` backend. In CI the GPU is Mesa's software Vulkan device (lavapipe on llvmpipe,
//! `mesa-vulkan-drivers`), so this checks that the wgpu backend computes the same numbers as the
//! CPU, not how fast it is.
//!
//! - each of Ember's CPU kernels (`conv_same`, `relu_pool`, `batch_norm`, `qnet_fused`, and
//!   `nets::gemm` under them) against its fallback on the GPU, burn's generic ops: values and
//!   gradients agree within [`TOL`];
//! - each head's forward pass (classifier, Q-net plain and dueling, actor-critic, policy-value) on
//!   a fixed batch, in inference and in training mode, agrees with `flex` within [`TOL`] (on the
//!   CPU the heads run those kernels, on the GPU the fallbacks);
//! - a few training steps of the classifier (burn's Adam) and of a Q-net (TD regression with
//!   Ember's `FusedAdam`) give the same losses, step by step, and the same network after;
//! - a checkpoint written on the GPU loads on the CPU with the same weights (bit for bit), and back;
//! - `ember train … --device gpu` runs a tiny DQN experiment end to end and names its adapter on
//!   stderr and in `summary.json`.
//!
//! Run with `cargo test --release --workspace --features ember/wgpu --test gpu_path` (a build
//! without a GPU feature skips every test here). A build with one that finds no adapter fails.

mod common;

use common::{ember, last_json, stderr};

use ember_nets::burn::module::Module;
use ember_nets::burn::optim::{AdamConfig, ModuleOptimizer};
use ember_nets::burn::tensor::{Device, Int, Tensor, TensorData};
use ember_nets::checkpoint::Checkpoint;
use ember_nets::train::{FusedAdam, classification_loss, classifier_step, q_step, read};
use ember_nets::*;

/// How close the GPU's numbers must be to the CPU's: `max |gpu − cpu| ≤ TOL · max(1, max |cpu|)`
/// over a tensor. f32 sums in another order differ by a few ulps per term; on lavapipe the largest
/// error over this file was 7.6e-7 (BENCHMARKS.md, GPU), so 1e-4 leaves room for other drivers
/// while a wrong kernel (a missed bias, a transposed weight, a wrong gradient) is off by 1e-2 or
/// more.
const TOL: f32 = 1e-4;

/// The GPU device, or `None` (skip) in a build without a GPU feature. A GPU build that finds no
/// adapter fails here with the error `--device gpu` gives.
fn gpu() -> Option<Device> {
    if !DeviceChoice::gpu_built() {
        eprintln!("SKIPPED: built without a GPU feature (--features ember/wgpu runs these)");
        return None;
    }
    let dev = DeviceChoice::Gpu.device().unwrap_or_else(|e| panic!("{e}"));
    let adapter = DeviceChoice::Gpu.adapter().unwrap().unwrap();
    eprintln!("adapter: {adapter}");
    Some(dev)
}

/// `n` values of a fixed sequence in [-1, 1) (no device RNG: both backends see the same input).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// 0/1 planes, as MinAtar's and Go's observations.
fn planes(n: usize, seed: u64) -> Vec<f32> {
    values(n, seed)
        .into_iter()
        .map(|v| if v > 0.3 { 1.0 } else { 0.0 })
        .collect()
}

fn tensor<const D: usize>(v: Vec<f32>, shape: [usize; D], dev: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(v, shape), dev)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    read(t.into_data()).unwrap()
}

/// Asserts `gpu` ≈ `cpu` within [`TOL`] and returns the error in units of the scale.
fn assert_close(what: &str, gpu: &[f32], cpu: &[f32]) -> f32 {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths");
    assert!(
        gpu.iter().all(|v| v.is_finite()),
        "{what}: non-finite on the GPU"
    );
    let scale = cpu.iter().fold(1f32, |m, v| m.max(v.abs()));
    let err = gpu
        .iter()
        .zip(cpu)
        .fold(0f32, |m, (g, c)| m.max((g - c).abs()))
        / scale;
    eprintln!("{what}: max error {err:.2e} (of scale {scale:.3})");
    assert!(
        err <= TOL,
        "{what}: GPU and CPU differ by {err:e} > {TOL:e}"
    );
    err
}

fn classifier_cfg() -> ClassifierConfig {
    // conv 1→8 (im2col), pool (relu_pool), conv 8→16 (conv_same), pool, conv 16→32, with batch
    // norm after each (the fused one while training on the CPU).
    ClassifierConfig::new(
        ConvTrunkConfig::new([1, 12, 12], 8, 3).with_downsample_after(vec![0, 1]),
        10,
    )
    .with_hidden(32)
}

fn qnet_cfg(dueling: bool) -> QNetConfig {
    // MinAtar's DQN network: on the CPU the whole of it is `qnet_fused` unless dueling.
    let trunk = ConvTrunkConfig::new([4, 10, 10], 16, 1).with_batch_norm(false);
    QNetConfig::new(EncoderConfig::Conv(trunk), 6)
        .with_hidden(32)
        .with_dueling(dueling)
}

fn actor_critic_cfg() -> ActorCriticConfig {
    let trunk = ConvTrunkConfig::new([4, 10, 10], 8, 2).with_batch_norm(false);
    ActorCriticConfig::new(EncoderConfig::Conv(trunk), 6)
        .with_hidden(32)
        .with_separate_critic(Some(true))
}

fn policy_value_cfg() -> PolicyValueNetConfig {
    let trunk = ConvTrunkConfig::new([3, 5, 5], 16, 2).with_block(BlockKind::Residual);
    PolicyValueNetConfig::new(trunk)
        .with_value_hidden(16)
        .with_global_pooling(true)
        .with_value_channels(4)
        .with_ownership(true)
}

#[test]
fn the_adapter_is_named() {
    if gpu().is_none() {
        return;
    }
    let a = DeviceChoice::Gpu.adapter().unwrap().unwrap();
    assert!(!a.name.is_empty() && !a.backend.is_empty(), "{a:?}");
    assert_eq!(a.software, a.device_type == "cpu", "{a:?}");
    assert!(DeviceChoice::Cpu.adapter().unwrap().is_none());
}

/// The model on the CPU and on the GPU, both in inference mode (`train` false: no autodiff,
/// batch norm on its running statistics) or both in training mode (autodiff, batch statistics).
/// `m` lives on the CPU's autodiff device.
fn pair<M: Module>(m: &M, train: bool, gpu: &Device) -> ((M, Device), (M, Device)) {
    if train {
        let gpu = gpu.clone().autodiff();
        (
            (m.clone(), Device::flex().autodiff()),
            (m.clone().fork(&gpu), gpu),
        )
    } else {
        (
            (m.valid(), Device::flex()),
            (m.valid().fork(gpu), gpu.clone()),
        )
    }
}

/// Every head's forward pass, inference and training mode, on a fixed batch.
#[test]
fn every_head_computes_what_the_cpu_computes() {
    let Some(gpu) = gpu() else { return };
    let cpu = Device::flex().autodiff();
    let b = 8;
    cpu.seed(3);

    // Classifier: images in [-1, 1).
    let m = classifier_cfg().init(&cpu).unwrap();
    let x = values(b * 144, 1);
    for train in [false, true] {
        let ((mc, dc), (mg, dg)) = pair(&m, train, &gpu);
        let yc = mc.forward(tensor(x.clone(), [b, 1, 12, 12], &dc));
        let yg = mg.forward(tensor(x.clone(), [b, 1, 12, 12], &dg));
        assert_close(
            &format!("classifier (training {train})"),
            &host(yg),
            &host(yc),
        );
    }

    // Q-nets and the actor-critic: 0/1 planes, flat.
    let obs = planes(b * 400, 2);
    for dueling in [false, true] {
        let m = qnet_cfg(dueling).init(&cpu).unwrap();
        for train in [false, true] {
            let ((mc, dc), (mg, dg)) = pair(&m, train, &gpu);
            let yc = mc.forward(tensor(obs.clone(), [b, 400], &dc));
            let yg = mg.forward(tensor(obs.clone(), [b, 400], &dg));
            let what = format!("Q-net (dueling {dueling}, training {train})");
            assert_close(&what, &host(yg), &host(yc));
        }
    }
    let m = actor_critic_cfg().init(&cpu).unwrap();
    let ((mc, dc), (mg, dg)) = pair(&m, false, &gpu);
    let (lc, vc) = mc.forward(tensor(obs.clone(), [b, 400], &dc));
    let (lg, vg) = mg.forward(tensor(obs, [b, 400], &dg));
    assert_close("actor-critic logits", &host(lg), &host(lc));
    assert_close("actor-critic values", &host(vg), &host(vc));

    // Policy-value net (residual blocks, batch norm, pooled value head, ownership).
    let m = policy_value_cfg().init(&cpu).unwrap();
    let boards = planes(b * 75, 4);
    for train in [false, true] {
        let ((mc, dc), (mg, dg)) = pair(&m, train, &gpu);
        let oc = mc.forward_all(tensor(boards.clone(), [b, 3, 5, 5], &dc));
        let og = mg.forward_all(tensor(boards.clone(), [b, 3, 5, 5], &dg));
        let what = |h: &str| format!("policy-value {h} (training {train})");
        assert_close(&what("logits"), &host(og.logits), &host(oc.logits));
        assert_close(&what("value"), &host(og.value), &host(oc.value));
        assert_close(
            &what("ownership"),
            &host(og.ownership.unwrap()),
            &host(oc.ownership.unwrap()),
        );
    }
}

/// An output and the gradients of its inputs (`None` where the op gives none).
type ValueAndGrads = (Vec<f32>, Vec<Option<Vec<f32>>>);

/// `f`'s output and the gradients of `Σ y·r` (a fixed `r`) for its inputs, on `dev`. Every input
/// is a 4-d tensor (leading 1s); `f` flattens what it needs in another rank.
fn value_and_grads<const D: usize>(
    dev: &Device,
    inputs: &[(Vec<f32>, Vec<usize>)],
    f: impl Fn(&[Tensor<4>]) -> Tensor<D>,
) -> ValueAndGrads {
    let xs: Vec<Tensor<4>> = inputs
        .iter()
        .map(|(v, shape)| {
            let mut s = [1usize; 4];
            s[4 - shape.len()..].copy_from_slice(shape);
            tensor(v.clone(), s, dev).require_grad()
        })
        .collect();
    let y = f(&xs);
    let dims = y.dims();
    let r: Tensor<D> = tensor(values(dims.iter().product(), 77), dims, dev);
    let grads = (y.clone() * r).sum().backward();
    let dx = xs.iter().map(|x| x.grad(&grads).map(host)).collect();
    (host(y), dx)
}

/// Asserts the GPU's output and gradients ≈ the CPU's; a gradient the CPU's op gives must come
/// from the GPU's too.
fn compare(what: &str, gpu: ValueAndGrads, cpu: ValueAndGrads) {
    assert_close(&format!("{what}: output"), &gpu.0, &cpu.0);
    for (i, (g, c)) in gpu.1.iter().zip(&cpu.1).enumerate() {
        if let Some(c) = c {
            let g = g
                .as_ref()
                .unwrap_or_else(|| panic!("{what}: no gradient of input {i}"));
            assert_close(&format!("{what}: gradient of input {i}"), g, c);
        }
    }
}

/// Each of Ember's CPU kernels against its fallback on the GPU (burn's generic ops), values and
/// gradients: `conv_same`, `relu_pool`, `batch_norm` and `qnet_fused` (and `gemm` under them).
#[test]
fn each_cpu_kernel_matches_its_fallback_on_the_gpu() {
    let Some(gpu) = gpu() else { return };
    let (gpu, cpu) = (gpu.autodiff(), Device::flex().autodiff());
    let input = |n: &[usize], seed| (values(n.iter().product(), seed), n.to_vec());
    let both =
        |what: &str, ins: &[(Vec<f32>, Vec<usize>)], f: &dyn Fn(&[Tensor<4>]) -> Tensor<4>| {
            compare(
                what,
                value_and_grads(&gpu, ins, f),
                value_and_grads(&cpu, ins, f),
            );
        };

    // conv_same: 3x3 and 5x5, 8 → 16 channels.
    for k in [3, 5] {
        let ins = [
            input(&[4, 8, 7, 7], 11),
            input(&[16, 8, k, k], 12),
            input(&[16], 13),
        ];
        assert!(conv_same::usable(
            &tensor(ins[0].0.clone(), [4, 8, 7, 7], &cpu),
            k
        ));
        both(&format!("conv_same {k}x{k}"), &ins, &|t| {
            conv_same::conv_same(t[0].clone(), t[1].clone(), t[2].clone().flatten(0, 3))
        });
    }

    // relu_pool on even and odd maps.
    for [h, w] in [[6, 8], [7, 5]] {
        let ins = [input(&[3, 4, h, w], 21)];
        both(&format!("relu_pool {h}x{w}"), &ins, &|t| {
            relu_pool::relu_max_pool_2x2(t[0].clone())
        });
    }

    // batch_norm in training mode: the fused pass on the CPU, burn's BatchNorm on the GPU; the
    // running statistics move alike too.
    let bn = ember_nets::burn::nn::BatchNormConfig::new(6).init(&cpu);
    let bn_gpu = bn.clone().fork(&gpu);
    let ins = [input(&[5, 6, 4, 4], 31)];
    compare(
        "batch_norm",
        value_and_grads(&gpu, &ins, |t| batch_norm::forward(&bn_gpu, t[0].clone())),
        value_and_grads(&cpu, &ins, |t| batch_norm::forward(&bn, t[0].clone())),
    );
    let stats = |bn: &ember_nets::burn::nn::BatchNorm| {
        let mean = host(bn.running_mean.value_sync());
        [mean, host(bn.running_var.value_sync())].concat()
    };
    assert_close(
        "batch_norm running statistics",
        &stats(&bn_gpu),
        &stats(&bn),
    );

    // qnet_fused: MinAtar's network, [B, 4, 10, 10] → 16 channels → 32 → 6.
    let ins = [
        (planes(8 * 400, 41), vec![8, 4, 10, 10]),
        input(&[16, 4, 3, 3], 42),
        input(&[16], 43),
        input(&[1600, 32], 44),
        input(&[32], 45),
        input(&[32, 6], 46),
        input(&[6], 47),
    ];
    let q = |t: &[Tensor<4>]| -> Tensor<2> {
        let v = |i: usize| t[i].clone().flatten::<1>(0, 3);
        let m = |i: usize| t[i].clone().flatten::<2>(0, 2);
        qnet_fused::qnet_conv_mlp(t[0].clone(), t[1].clone(), v(2), m(3), v(4), m(5), v(6))
    };
    compare(
        "qnet_fused",
        value_and_grads(&gpu, &ins, q),
        value_and_grads(&cpu, &ins, q),
    );
}

/// A classifier batch: images and labels 0..10.
fn classifier_batch(dev: &Device, step: u64) -> (Tensor<4>, Tensor<1, Int>) {
    let b = 16;
    let labels: Vec<i64> = (0..b as i64).map(|i| (i * 7 + step as i64) % 10).collect();
    (
        tensor(values(b * 144, 100 + step), [b, 1, 12, 12], dev),
        Tensor::from_data(TensorData::new(labels, [b]), dev),
    )
}

/// Trains `model` for `steps` classifier steps on `dev`; the losses and the model.
fn train_classifier(
    model: Classifier,
    optim: &mut ModuleOptimizer,
    dev: &Device,
    steps: std::ops::Range<u64>,
) -> (Classifier, Vec<f32>) {
    let loss_fn = classification_loss(0.0, dev);
    let mut model = model;
    let mut losses = Vec::new();
    for s in steps {
        let (x, y) = classifier_batch(dev, s % 2);
        let (m, loss) = classifier_step(model, optim, &loss_fn, 1e-3, x, y);
        model = m;
        losses.push(host(loss)[0]);
    }
    (model, losses)
}

/// A Q-learning batch: 0/1 planes, actions, targets.
fn q_batch(dev: &Device, step: u64) -> (Tensor<2>, Tensor<1, Int>, Tensor<1>) {
    let b = 32;
    let actions: Vec<i64> = (0..b as i64).map(|i| (i * 5 + step as i64) % 6).collect();
    (
        tensor(planes(b * 400, 200 + step), [b, 400], dev),
        Tensor::from_data(TensorData::new(actions, [b]), dev),
        tensor(values(b, 300 + step), [b], dev),
    )
}

/// Losses go down the same way on both devices, and the networks after the steps agree.
#[test]
fn training_steps_move_the_loss_as_on_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let (gpu, cpu) = (gpu.autodiff(), Device::flex().autodiff());
    cpu.seed(5);

    let m = classifier_cfg().init(&cpu).unwrap();
    let (mc, lc) = train_classifier(m.clone(), &mut AdamConfig::new().init(), &cpu, 0..4);
    let (mg, lg) = train_classifier(m.fork(&gpu), &mut AdamConfig::new().init(), &gpu, 0..4);
    eprintln!("classifier losses: cpu {lc:?}, gpu {lg:?}");
    assert_close("classifier losses", &lg, &lc);
    // Two batches in turn: each one's loss goes down on both devices.
    assert!(lc[2] < lc[0] && lc[3] < lc[1], "{lc:?}");
    assert!(lg[2] < lg[0] && lg[3] < lg[1], "{lg:?}");
    let (x, _) = classifier_batch(&Device::flex(), 99);
    let after_c = mc.valid().forward(x.clone());
    let after_g = mg.valid().fork(&Device::flex()).forward(x);
    assert_close("classifier after 4 steps", &host(after_g), &host(after_c));

    let m = qnet_cfg(false).init(&cpu).unwrap();
    let run = |model: QNet, dev: &Device| {
        let mut optim = FusedAdam::default().init();
        let mut model = model;
        let mut losses = Vec::new();
        for s in 0..4 {
            let (obs, a, t) = q_batch(dev, s % 2);
            let (next, loss) = q_step(model, &mut optim, 1e-3, obs, a, t);
            model = next;
            losses.push(host(loss)[0]);
        }
        (model, losses)
    };
    let (qc, lc) = run(m.clone(), &cpu);
    let (qg, lg) = run(m.fork(&gpu), &gpu);
    eprintln!("Q-net losses: cpu {lc:?}, gpu {lg:?}");
    assert_close("Q-net losses", &lg, &lc);
    assert!(lc[2] < lc[0] && lc[3] < lc[1], "{lc:?}");
    assert!(lg[2] < lg[0] && lg[3] < lg[1], "{lg:?}");
    let (obs, _, _) = q_batch(&Device::flex(), 99);
    let after_c = qc.valid().forward(obs.clone());
    let after_g = qg.valid().fork(&Device::flex()).forward(obs);
    assert_close("Q-net after 4 steps", &host(after_g), &host(after_c));
}

/// A checkpoint written on the GPU loads on the CPU with the very same weights, batch-norm
/// statistics and Adam moments, and one written on the CPU loads on the GPU; training continues
/// from either alike.
#[test]
fn checkpoints_cross_between_gpu_and_cpu() {
    let Some(gpu) = gpu() else { return };
    let (gpu, cpu) = (gpu.autodiff(), Device::flex().autodiff());
    cpu.seed(7);
    let cfg = classifier_cfg();
    let mut optim = AdamConfig::new().init();
    let start = cfg.init(&cpu).unwrap().fork(&gpu);
    let (trained, _) = train_classifier(start, &mut optim, &gpu, 0..2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gpu.ember");
    Checkpoint::new("classifier", &cfg, &trained, Some(&optim), &2u64)
        .unwrap()
        .save(&path)
        .unwrap();
    // The same weights give the same outputs, bit for bit, on the CPU.
    let (probe, _) = classifier_batch(&Device::flex(), 99);
    let outputs = |m: &Classifier| host(m.valid().fork(&Device::flex()).forward(probe.clone()));

    // Onto the CPU: a fresh model (other weights) and optimizer take the file's state.
    let ck = Checkpoint::load(&path).unwrap();
    ck.check("classifier", &cfg).unwrap();
    cpu.seed(8);
    let on_cpu = ck.apply_model(cfg.init(&cpu).unwrap()).unwrap();
    let mut optim_cpu = ck.apply_optimizer(AdamConfig::new().init()).unwrap();
    assert_eq!(
        outputs(&on_cpu),
        outputs(&trained),
        "weights read on the CPU"
    );

    // And back onto the GPU, through a checkpoint the CPU wrote.
    let path_cpu = dir.path().join("cpu.ember");
    Checkpoint::new("classifier", &cfg, &on_cpu, Some(&optim_cpu), &2u64)
        .unwrap()
        .save(&path_cpu)
        .unwrap();
    let ck2 = Checkpoint::load(&path_cpu).unwrap();
    let on_gpu = ck2.apply_model(cfg.init(&gpu).unwrap()).unwrap();
    let mut optim_gpu = ck2.apply_optimizer(AdamConfig::new().init()).unwrap();
    assert_eq!(
        outputs(&on_gpu),
        outputs(&trained),
        "weights read back on the GPU"
    );

    // Two more steps from the loaded states (Adam's moments included) on each device.
    let (_, lc) = train_classifier(on_cpu, &mut optim_cpu, &cpu, 2..4);
    let (_, lg) = train_classifier(on_gpu, &mut optim_gpu, &gpu, 2..4);
    let (_, lo) = train_classifier(trained, &mut optim, &gpu, 2..4);
    assert_close("resumed on the CPU vs on the GPU", &lg, &lc);
    assert_close("resumed on the GPU vs continued there", &lg, &lo);
}

/// `ember train --device gpu`: a tiny DQN run on Breakout end to end, with its adapter named.
#[test]
fn ember_train_runs_on_the_gpu_and_names_the_adapter() {
    if gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let exp =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/dqn_breakout.toml");
    let sets = [
        "train.total_steps=400",
        "train.learning_starts=200",
        "train.buffer_size=1000",
        "train.target_update_period=100",
        "train.exploration_steps=200",
        "train.eval_every=400",
        "train.eval_episodes=2",
        "train.checkpoint_every=200",
        "model.hidden=32",
    ];
    let mut a = vec!["train", exp.to_str().unwrap(), "--device", "gpu", "--json"];
    a.extend(["--run-dir", run.to_str().unwrap()]);
    for s in &sets {
        a.extend(["--set", s]);
    }
    let o = ember(&a);
    let s = last_json(&o);
    let e = stderr(&o);
    assert_eq!(s["steps"], 400, "{s}");
    assert_eq!(s["backend"], "wgpu", "{s}");
    let adapter = &s["adapter"];
    let expected = DeviceChoice::Gpu.adapter().unwrap().unwrap();
    assert_eq!(adapter["name"], expected.name.as_str(), "{s}");
    assert_eq!(adapter["software"], expected.software, "{s}");
    assert!(
        e.contains(&format!("device: gpu (wgpu): {}", expected.name)),
        "{e}"
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(&file["adapter"], adapter);
    assert!(s["eval_mean_return"].as_f64().is_some(), "{s}");
}
