//! The `classifier` experiment kind: the shared conv trunk + classifier head trained with Adam(W)
//! on an IDX image dataset (Fashion-MNIST), evaluated on its test split.

use std::path::PathBuf;
use std::time::Instant;

use crate::error::{Context, Result, bail};
use ember_envs::fmt_number;
use ember_nets::burn::module::Module;
use ember_nets::burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer};
use ember_nets::checkpoint;
use ember_nets::data::{
    Augment, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, Split, SplitMix64, fashion_mnist,
};
use ember_nets::train::{
    Evaluation, LrSchedule, classification_loss, classifier_step, evaluate, read,
};
use ember_nets::{BlockKind, Checkpoint, ClassifierConfig, ConvTrunkConfig, DeviceChoice};
use serde::{Deserialize, Serialize};

use crate::config::{Experiment, to_toml};
use crate::run_dir::{Progress, RunDir};

/// The model kind stored in checkpoints.
pub const KIND: &str = "classifier";

/// A classifier experiment, every default filled in (what `config.toml` holds).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierExperiment {
    /// Names the run directory.
    pub name: String,
    /// Always "classifier".
    pub kind: String,
    /// Seeds initialization, data order, augmentation and dropout.
    pub seed: u64,
    /// `[data]`.
    pub data: DataSection,
    /// `[model]`.
    pub model: ModelSection,
    /// `[train]`.
    pub train: TrainSection,
}

/// `[data]`: which dataset, where.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSection {
    /// Only "fashion-mnist" for now.
    pub dataset: String,
    /// Directory of the four IDX files (plain or .gz).
    pub path: PathBuf,
}

impl Default for DataSection {
    fn default() -> Self {
        DataSection {
            dataset: "fashion-mnist".into(),
            path: FASHION_MNIST_DIR.into(),
        }
    }
}

/// `[model]`: the trunk and the head.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSection {
    /// Channels of the first block.
    pub width: usize,
    /// Number of conv blocks.
    pub depth: usize,
    /// Conv kernel size (odd).
    pub kernel_size: usize,
    /// "plain" or "residual".
    pub block: String,
    /// Batch norm after each conv.
    pub batch_norm: bool,
    /// Blocks followed by a 2x2 max-pool (and a doubling of the channels).
    pub downsample_after: Vec<usize>,
    /// Hidden fully connected layer (0: none).
    pub hidden: usize,
    /// Dropout before the output layer.
    pub dropout: f64,
    /// Global average pooling instead of flattening.
    pub global_pool: bool,
}

impl Default for ModelSection {
    fn default() -> Self {
        ModelSection {
            width: 32,
            depth: 4,
            kernel_size: 3,
            block: "plain".into(),
            batch_norm: true,
            downsample_after: vec![1, 3],
            hidden: 256,
            dropout: 0.3,
            global_pool: false,
        }
    }
}

/// `[train]`: optimization.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSection {
    /// Passes over the training set.
    pub epochs: u64,
    /// Examples per step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Decoupled weight decay (AdamW) when > 0, else plain Adam.
    pub weight_decay: f64,
    /// Linear warmup steps.
    pub warmup_steps: u64,
    /// "cosine" (decay to `lr·final_lr_fraction` at the end) or "constant".
    pub schedule: String,
    /// Where the cosine ends, as a fraction of `lr`.
    pub final_lr_fraction: f64,
    /// Label smoothing of the cross-entropy (0: none).
    pub label_smoothing: f32,
    /// Random horizontal flips.
    pub hflip: bool,
    /// Random translations of up to this many pixels.
    pub shift: usize,
    /// Batch size for evaluation.
    pub eval_batch_size: usize,
    /// Log `train/loss` every this many steps.
    pub log_every: u64,
    /// Checkpoint every this many steps (and at the end of every epoch).
    pub checkpoint_every: u64,
    /// Checkpoints kept.
    pub keep_checkpoints: usize,
    /// Train on only the first N training examples (0: all); for smoke tests.
    pub limit_train: usize,
    /// Evaluate on only the first N test examples (0: all); for smoke tests.
    pub limit_test: usize,
}

impl Default for TrainSection {
    fn default() -> Self {
        TrainSection {
            epochs: 10,
            batch_size: 64,
            lr: 2e-3,
            weight_decay: 0.0,
            warmup_steps: 200,
            schedule: "cosine".into(),
            final_lr_fraction: 0.0,
            label_smoothing: 0.0,
            hflip: true,
            shift: 0,
            eval_batch_size: 500,
            log_every: 50,
            checkpoint_every: 1000,
            keep_checkpoints: 2,
            limit_train: 0,
            limit_test: 0,
        }
    }
}

impl ClassifierExperiment {
    /// The typed experiment from a parsed file.
    pub fn from_experiment(e: &Experiment) -> Result<Self> {
        e.only_sections(&["data", "model", "train"])?;
        let x = ClassifierExperiment {
            name: e.name.clone(),
            kind: KIND.into(),
            seed: e.seed,
            data: e.section("data")?,
            model: e.section("model")?,
            train: e.section("train")?,
        };
        x.validate().with_context(|| e.origin.clone())?;
        Ok(x)
    }

    fn validate(&self) -> Result<()> {
        if self.data.dataset != "fashion-mnist" {
            bail!(
                "data.dataset = {:?}: the classifier reads \"fashion-mnist\"",
                self.data.dataset
            );
        }
        if !["plain", "residual"].contains(&self.model.block.as_str()) {
            bail!(
                "model.block = {:?}: expected \"plain\" or \"residual\"",
                self.model.block
            );
        }
        if !["cosine", "constant"].contains(&self.train.schedule.as_str()) {
            bail!(
                "train.schedule = {:?}: expected \"cosine\" or \"constant\"",
                self.train.schedule
            );
        }
        let t = &self.train;
        for (k, v) in [
            ("train.epochs", t.epochs as usize),
            ("train.batch_size", t.batch_size),
            ("train.eval_batch_size", t.eval_batch_size),
        ] {
            if v == 0 {
                bail!("{k} must be at least 1");
            }
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            bail!("train.lr must be positive, got {}", fmt_number(t.lr));
        }
        if !(0.0..1.0).contains(&t.label_smoothing) {
            bail!(
                "train.label_smoothing must be in [0, 1), got {}",
                fmt_number(f64::from(t.label_smoothing))
            );
        }
        if !(t.weight_decay >= 0.0 && t.weight_decay.is_finite()) {
            bail!(
                "train.weight_decay must be >= 0, got {}",
                fmt_number(t.weight_decay)
            );
        }
        Ok(())
    }

    /// The network config for images of `shape` with `classes` classes.
    pub fn net(&self, shape: [usize; 3], classes: usize) -> ClassifierConfig {
        let m = &self.model;
        let block = if m.block == "residual" {
            BlockKind::Residual
        } else {
            BlockKind::Plain
        };
        let trunk = ConvTrunkConfig::new(shape, m.width, m.depth)
            .with_kernel_size(m.kernel_size)
            .with_block(block)
            .with_batch_norm(m.batch_norm)
            .with_downsample_after(m.downsample_after.clone());
        ClassifierConfig::new(trunk, classes)
            .with_hidden(m.hidden)
            .with_dropout(m.dropout)
            .with_global_pool(m.global_pool)
    }

    /// The resolved config as TOML.
    pub fn to_toml(&self) -> Result<String> {
        to_toml(self)
    }

    fn optimizer(&self) -> ModuleOptimizer {
        let wd = self.train.weight_decay;
        if wd > 0.0 {
            AdamWConfig::new().with_weight_decay(wd as f32).init()
        } else {
            AdamConfig::new().init()
        }
    }
}

/// What a checkpoint records besides the model and optimizer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps done.
    pub step: u64,
    /// Current epoch (0-based).
    pub epoch: u64,
    /// Batches of `epoch` done.
    pub batch_in_epoch: u64,
    /// Seconds spent in earlier processes of this run.
    pub wall_seconds: f64,
    /// Test accuracy after the last finished epoch.
    pub last_test_accuracy: Option<f64>,
}

/// Reads the dataset (with the `limit_*` cuts applied). Called before a run directory is created,
/// so that a missing dataset leaves nothing behind.
pub fn load_data(x: &ClassifierExperiment) -> Result<Split> {
    let mut split = fashion_mnist(&x.data.path)?;
    let limit = |ds: &mut ember_nets::data::ImageDataset, n: usize| {
        if n > 0 && n < ds.len() {
            let per: usize = ds.shape.iter().product();
            ds.images.truncate(n * per);
            ds.labels.truncate(n);
        }
    };
    limit(&mut split.train, x.train.limit_train);
    limit(&mut split.test, x.train.limit_test);
    Ok(split)
}

/// Trains (or, with `resume`, continues) the run; writes checkpoints, events and `summary.json`
/// and returns the summary.
pub fn train(
    x: &ClassifierExperiment,
    data: &Split,
    run: &RunDir,
    device: DeviceChoice,
    resume: bool,
) -> Result<serde_json::Value> {
    let started = Instant::now();
    let (mean, std) = data.train.mean_std();
    let net = x.net(data.train.shape, data.train.num_classes);
    net.validate()?;
    let dev = device.autodiff_device()?;
    let eval_dev = device.device()?;
    dev.seed(x.seed);
    let mut model = net.init(&dev)?;
    let mut optim = x.optimizer();
    let ckpts = run.checkpoints(x.train.keep_checkpoints);
    let mut state = TrainState::default();
    let mut events = run.events()?;

    if resume {
        let (found, skipped) = ckpts.latest()?;
        let damaged = skipped.len();
        for e in skipped {
            eprintln!("warning: skipping a damaged checkpoint: {e}");
        }
        match found {
            Some((step, ck)) => {
                ck.check(KIND, &net)?;
                model = ck.apply_model(model)?;
                optim = ck.apply_optimizer(optim)?;
                state = ck.state()?;
                eprintln!(
                    "resuming {} from step {step} (epoch {}, batch {})",
                    run.path().display(),
                    state.epoch,
                    state.batch_in_epoch
                );
                events.session_start(checkpoint::resume_marker_step(Some(state.step)))?;
            }
            None => {
                eprintln!(
                    "{}: {}",
                    run.path().display(),
                    checkpoint::starting_over(damaged)
                );
                events.session_start(checkpoint::resume_marker_step(None))?;
            }
        }
    }

    // Seconds spent by earlier processes of this run; this process adds its own at each save.
    let base_wall = state.wall_seconds;
    let n = data.train.len();
    let b = x.train.batch_size;
    if n < b {
        bail!("train.batch_size {b} is larger than the training set ({n} examples)");
    }
    let steps_per_epoch = (n / b) as u64; // the incomplete last batch is dropped (a different one each epoch)
    let total = steps_per_epoch * x.train.epochs;
    let schedule = LrSchedule {
        base: x.train.lr,
        warmup: x.train.warmup_steps,
        total,
        cosine: x.train.schedule == "cosine",
        final_fraction: x.train.final_lr_fraction,
    };
    let augment = Augment {
        hflip: x.train.hflip,
        shift: x.train.shift,
    };
    let augmenting = augment.hflip || augment.shift > 0;
    let loss_fn = classification_loss(x.train.label_smoothing, &dev);
    let params = model.num_params();
    eprintln!(
        "{}: {} train / {} test images {:?}, {} parameters, {} steps of {} on {} ({})",
        x.name,
        n,
        data.test.len(),
        data.train.shape,
        params,
        total,
        b,
        device,
        device.backend_name()
    );

    let progress = Progress::new(total, state.step, "steps");
    // A checkpoint of `state`, with the wall time of every process of the run so far.
    let save = |model: &ember_nets::Classifier,
                optim: &ModuleOptimizer,
                state: &TrainState|
     -> Result<()> {
        let state = TrainState {
            wall_seconds: base_wall + started.elapsed().as_secs_f64(),
            ..state.clone()
        };
        let ck = Checkpoint::new(KIND, &net, model, Some(optim), &state)?;
        ckpts.save(state.step, &ck)?;
        Ok(())
    };
    let test_eval = |model: &ember_nets::Classifier| {
        evaluate(
            &model.valid(),
            &data.test,
            mean,
            std,
            x.train.eval_batch_size,
            &eval_dev,
        )
    };
    let session = Instant::now();
    let mut images_this_session = 0u64;
    let mut last_eval: Option<Evaluation> = None;
    while state.epoch < x.train.epochs {
        let order = SplitMix64::stream(x.seed, state.epoch).permutation(n);
        while state.batch_in_epoch < steps_per_epoch {
            let i = state.batch_in_epoch as usize;
            let idx = &order[i * b..(i + 1) * b];
            // Augmentation draws come from a stream per step: a resumed run repeats them exactly.
            let mut rng = SplitMix64::stream(x.seed ^ 0xA06_A06, state.step);
            let (images, labels) = data.train.batch(
                idx,
                mean,
                std,
                augmenting.then_some((&augment, &mut rng)),
                &dev,
            );
            let lr = schedule.at(state.step);
            // Dropout masks too: the device generator is reseeded per step, so that a resumed
            // run draws what the uninterrupted one would have.
            dev.seed(SplitMix64::stream(x.seed ^ 0xD80_90D7, state.step).next_u64());
            let (m, loss) = classifier_step(model, &mut optim, &loss_fn, lr, images, labels);
            model = m;
            state.step += 1;
            state.batch_in_epoch += 1;
            images_this_session += b as u64;
            if state.step % x.train.log_every.max(1) == 0 {
                let loss = read::<f32>(loss.into_data())?[0];
                events.scalar("train/loss", state.step, loss)?;
                events.scalar("train/lr", state.step, lr as f32)?;
                let ips = images_this_session as f64 / session.elapsed().as_secs_f64().max(1e-9);
                events.scalar("train/images_per_sec", state.step, ips as f32)?;
                progress.message(format!(
                    "epoch {} loss {loss:.4} lr {lr:.2e} {ips:.0} img/s",
                    state.epoch + 1
                ));
            }
            progress.set(state.step);
            if x.train.checkpoint_every > 0
                && state.step % x.train.checkpoint_every == 0
                && state.batch_in_epoch < steps_per_epoch
            {
                save(&model, &optim, &state)?;
            }
        }
        // End of epoch: evaluate on the test split, log, checkpoint.
        let ev = test_eval(&model)?;
        events.scalar("test/accuracy", state.step, ev.accuracy as f32)?;
        events.scalar("test/loss", state.step, ev.loss as f32)?;
        events.flush()?;
        state.epoch += 1;
        state.batch_in_epoch = 0;
        state.last_test_accuracy = Some(ev.accuracy);
        progress.log(format!(
            "epoch {:>3}/{}  test accuracy {:.2}%  test loss {:.4}  ({:.0} s)",
            state.epoch,
            x.train.epochs,
            100.0 * ev.accuracy,
            ev.loss,
            base_wall + started.elapsed().as_secs_f64()
        ));
        save(&model, &optim, &state)?;
        last_eval = Some(ev);
    }
    progress.finish();
    let ev = match last_eval {
        Some(ev) => ev,
        // Resumed a finished run: evaluate what is there.
        None => test_eval(&model)?,
    };
    let wall = base_wall + started.elapsed().as_secs_f64();
    let session_secs = session.elapsed().as_secs_f64();
    let summary = serde_json::json!({
        "experiment": x.name,
        "kind": KIND,
        "seed": x.seed,
        "test_accuracy": ev.accuracy,
        "test_loss": ev.loss,
        "test_examples": ev.examples,
        "wall_seconds": wall,
        "steps": state.step,
        "epochs": state.epoch,
        "images_per_sec": if session_secs > 0.0 { images_this_session as f64 / session_secs } else { 0.0 },
        "parameters": params,
        "weights_fingerprint": format!(
            "{:08x}",
            ember_agents::common::fingerprint(&model).context("fingerprinting the weights")?
        ),
        "device": device.to_string(),
        "backend": device.backend_name(),
        "confusion": ev.confusion,
        "classes": FASHION_MNIST_CLASSES,
    });
    run.write_summary(&summary)?;
    events.flush()?;
    Ok(summary)
}

/// Evaluates a finished (or interrupted) run's newest checkpoint on the test split.
pub fn eval_run(
    x: &ClassifierExperiment,
    run: &RunDir,
    device: DeviceChoice,
) -> Result<Evaluation> {
    let data = load_data(x)?;
    let (mean, std) = data.train.mean_std();
    let net = x.net(data.train.shape, data.train.num_classes);
    let dev = device.device()?;
    let (found, skipped) = run.checkpoints(x.train.keep_checkpoints).latest()?;
    let damaged = skipped.len();
    for e in skipped {
        eprintln!("warning: skipping a damaged checkpoint: {e}");
    }
    let Some((step, ck)) = found else {
        match damaged {
            0 => bail!("{} has no checkpoint to evaluate", run.path().display()),
            n => bail!(
                "{} has no usable checkpoint to evaluate: all {n} found are damaged (see the warnings above)",
                run.path().display()
            ),
        }
    };
    ck.check(KIND, &net)?;
    let model = ck.apply_model(net.init(&dev)?)?;
    eprintln!("evaluating {} at step {step}", run.path().display());
    Ok(evaluate(
        &model,
        &data.test,
        mean,
        std,
        x.train.eval_batch_size,
        &dev,
    )?)
}
