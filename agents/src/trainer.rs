//! The bookkeeping every training loop shares, written once so that `dqn.rs` and `ppo.rs` hold only
//! their own loop: resuming from the newest checkpoint, saving one, the periodic evaluation and
//! checkpoint, stopping early (for resume tests), finished episodes, and the summary; and, with
//! `keep_best`, the best evaluated network kept as the run's output (as SB3's `EvalCallback`
//! keeps `best_model`), in `checkpoints/best.ember`, which `ember eval RUN_DIR` then evaluates.

use std::time::Instant;

use ember_nets::Checkpoint;
use ember_nets::burn::module::Module;
use ember_nets::burn::optim::ModuleOptimizer;
use ember_nets::checkpoint::{self, CheckpointDir};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::common::{EvalResult, Logger, Recent, RunIo, TrainSummary, due, fingerprint};
use crate::error::Result;

/// What every algorithm's checkpointed state holds (flattened into it, so the keys stay those of
/// the state itself).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Environment steps done, over all environments.
    pub step: u64,
    /// Training episodes finished.
    pub episodes: u64,
    /// The last training returns.
    pub recent: Recent,
    /// The last evaluation.
    pub last_eval: Option<EvalResult>,
    /// The best evaluation so far and its step (kept with `keep_best`).
    #[serde(default)]
    pub best_eval: Option<BestEval>,
    /// Seconds spent by the processes of this run up to the last checkpoint.
    pub wall_seconds: f64,
}

/// The best evaluation of a run and the step of the network it evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BestEval {
    pub step: u64,
    pub eval: EvalResult,
}

/// The file the best evaluated network is kept in, inside the checkpoint directory (a name the
/// newest-checkpoint search and pruning do not count).
pub const BEST_FILE: &str = "best.ember";

/// An algorithm's checkpointed state: the shared [`Counters`] and its own.
pub trait TrainState: Serialize {
    /// The shared counters.
    fn counters(&mut self) -> &mut Counters;
    /// Gradient updates done (what the summary reports as `updates`).
    fn updates(&self) -> u64;
}

/// How often the loop evaluates and checkpoints, and where it ends.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Evaluate every this many steps (0: only at the end).
    pub eval_every: u64,
    /// Checkpoint every this many steps (0: only at the end).
    pub checkpoint_every: u64,
    /// The step at which the loop ends (the end evaluates and checkpoints on its own).
    pub end: u64,
    /// Keep the network of the best evaluation so far in [`BEST_FILE`] (the first of equals).
    pub keep_best: bool,
}

/// One process's part of a training run.
pub struct Trainer<'a, N: Serialize> {
    kind: &'static str,
    net: N,
    /// Where scalars, progress and lines go.
    pub log: &'a mut dyn Logger,
    checkpoints: Option<&'a CheckpointDir>,
    resume: bool,
    stop_after: Option<u64>,
    schedule: Schedule,
    started: Instant,
    session: Instant,
    base_wall: f64,
    session_start_step: u64,
    /// The step of the newest checkpoint this run has (what a diverging loss reports).
    pub last_checkpoint: Option<u64>,
}

impl<'a, N: Serialize> Trainer<'a, N> {
    /// A trainer for models of `kind` built from the network config `net`, writing to `io`.
    pub fn new(kind: &'static str, net: N, io: RunIo<'a>, schedule: Schedule) -> Self {
        Trainer {
            kind,
            net,
            log: io.logger,
            checkpoints: io.checkpoints,
            resume: io.resume,
            stop_after: io.stop_after,
            schedule,
            started: Instant::now(),
            session: Instant::now(),
            base_wall: 0.0,
            session_start_step: 0,
            last_checkpoint: None,
        }
    }

    /// The checkpoint directory, if the run keeps checkpoints.
    pub fn checkpoints(&self) -> Option<&'a CheckpointDir> {
        self.checkpoints
    }

    /// With `--resume`, the newest loadable checkpoint (damaged ones skipped with a warning)
    /// applied to `model` and `optim`, and its step and state; else `model` and `optim` as given.
    #[allow(clippy::type_complexity)]
    pub fn resume<M: Module, S: DeserializeOwned>(
        &mut self,
        model: M,
        optim: ModuleOptimizer,
    ) -> Result<(M, ModuleOptimizer, Option<(u64, S)>)> {
        let (true, Some(dir)) = (self.resume, self.checkpoints) else {
            return Ok((model, optim, None));
        };
        let (found, skipped) = dir.latest()?;
        let damaged = skipped.len();
        for e in skipped {
            self.log
                .line(&format!("warning: skipping a damaged checkpoint: {e}"));
        }
        let Some((step, ck)) = found else {
            self.log.line(&checkpoint::starting_over(damaged));
            // Starting over: what earlier processes logged is dropped.
            self.log
                .session_start(checkpoint::resume_marker_step(None))?;
            return Ok((model, optim, None));
        };
        ck.check(self.kind, &self.net)?;
        let model = ck.apply_model(model)?;
        let optim = ck.apply_optimizer(optim)?;
        let state = ck.state()?;
        self.last_checkpoint = Some(step);
        self.log
            .session_start(checkpoint::resume_marker_step(Some(step)))?;
        Ok((model, optim, Some((step, state))))
    }

    /// Starts this process's session at `run` (fresh or resumed): its clock and first step.
    pub fn begin(&mut self, run: &Counters) {
        self.base_wall = run.wall_seconds;
        self.session_start_step = run.step;
        self.session = Instant::now();
    }

    /// Environment steps per second in this process.
    pub fn steps_per_sec(&self, step: u64) -> f64 {
        (step - self.session_start_step) as f64 / self.session.elapsed().as_secs_f64().max(1e-9)
    }

    /// Counts and logs the training episodes that finished at `run.step` (`(env, return,
    /// length)`).
    pub fn episodes(&mut self, run: &mut Counters, finished: &[(usize, f64, u64)]) -> Result<()> {
        for &(_, ret, len) in finished {
            run.episodes += 1;
            run.recent.push(ret);
            self.log.scalar("charts/episodic_return", run.step, ret)?;
            self.log
                .scalar("charts/episodic_length", run.step, len as f64)?;
        }
        Ok(())
    }

    /// Logs `values` (tag, value) at `step`.
    pub fn scalars(&mut self, step: u64, values: &[(&str, f64)]) -> Result<()> {
        for &(tag, v) in values {
            self.log.scalar(tag, step, v)?;
        }
        Ok(())
    }

    /// Called at the top of every iteration of a training loop, with the step `prev` at the top
    /// of the previous one: where `eval_every` and `checkpoint_every` fell due in between, evaluates
    /// with `eval` and checkpoints with `save`. Returns the summary when the loop is over: at the
    /// end (after the final evaluation and checkpoint), or early as if killed (`stop_after`, for
    /// resume tests).
    pub fn between<M: Module, S: TrainState>(
        &mut self,
        prev: u64,
        model: &M,
        state: &mut S,
        eval: impl FnOnce(u64) -> Result<EvalResult>,
        save: impl FnOnce(&mut Self, &mut S) -> Result<()>,
    ) -> Result<Option<TrainSummary>> {
        let step = state.counters().step;
        if step >= self.schedule.end {
            let ev = eval(step)?;
            self.evaluated(model, state, ev, true)?;
            save(self, state)?;
            return Ok(Some(self.summary(model, state, true)?));
        }
        if prev == step {
            return Ok(None);
        }
        if due(prev, step, self.schedule.eval_every) > 0 {
            let ev = eval(step)?;
            self.evaluated(model, state, ev, false)?;
        }
        if due(prev, step, self.schedule.checkpoint_every) > 0 {
            save(self, state)?;
        }
        if self.stop_after.is_some_and(|s| step >= s) {
            return Ok(Some(self.summary(model, state, false)?));
        }
        Ok(None)
    }

    /// Logs evaluation `ev` of `model` at the run's step (`eval/mean_return`, and a line unless it
    /// is the final one) and keeps it; with `keep_best`, saves `model` as [`BEST_FILE`] when `ev`
    /// beats every earlier evaluation.
    fn evaluated<M: Module, S: TrainState>(
        &mut self,
        model: &M,
        state: &mut S,
        ev: EvalResult,
        final_eval: bool,
    ) -> Result<()> {
        let run = state.counters();
        let step = run.step;
        self.log.scalar("eval/mean_return", step, ev.mean_return)?;
        if !final_eval {
            self.log.line(&format!(
                "step {step}: eval return {:.2} ± {:.2} over {} episodes",
                ev.mean_return, ev.std_return, ev.episodes
            ));
        }
        run.last_eval = Some(ev);
        let better = run
            .best_eval
            .is_none_or(|b| ev.mean_return > b.eval.mean_return);
        if let (true, true, Some(dir)) = (self.schedule.keep_best, better, self.checkpoints) {
            run.best_eval = Some(BestEval { step, eval: ev });
            let ck = Checkpoint::new(self.kind, &self.net, model, None, &*state)?;
            dir.save_named(BEST_FILE, &ck)?;
            self.log.line(&format!(
                "step {step}: best evaluation so far ({:.2}), kept as {BEST_FILE}",
                ev.mean_return
            ));
        }
        Ok(())
    }

    /// Checkpoints `model`, `optim` and `state` at `state`'s step (nothing when the run keeps no
    /// checkpoints), with the wall time so far, and flushes the log.
    pub fn save<M: Module, S: TrainState>(
        &mut self,
        model: &M,
        optim: &ModuleOptimizer,
        state: &mut S,
    ) -> Result<()> {
        let Some(dir) = self.checkpoints else {
            return Ok(());
        };
        let run = state.counters();
        run.wall_seconds = self.base_wall + self.started.elapsed().as_secs_f64();
        let step = run.step;
        let ck = Checkpoint::new(self.kind, &self.net, model, Some(optim), &*state)?;
        dir.save(step, &ck)?;
        self.last_checkpoint = Some(step);
        self.log.flush()
    }

    /// The run's summary; `completed`: whether it reached the end.
    fn summary<M: Module, S: TrainState>(
        &self,
        model: &M,
        state: &mut S,
        completed: bool,
    ) -> Result<TrainSummary> {
        let updates = state.updates();
        let run = state.counters();
        Ok(TrainSummary {
            algorithm: self.kind.into(),
            steps: run.step,
            updates,
            episodes: run.episodes,
            completed,
            eval: run.last_eval,
            best_eval: run.best_eval,
            recent_mean_return: run.recent.mean(),
            wall_seconds: self.base_wall + self.started.elapsed().as_secs_f64(),
            steps_per_sec: self.steps_per_sec(run.step),
            parameters: model.num_params(),
            weights_fingerprint: fingerprint(model)?,
        })
    }
}
