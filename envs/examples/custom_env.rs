//! Plugging your own environment into Ember: implement `Env`, register it with one call, and
//! every tool that takes an env id (`make`, `VecEnv::make`, `check_env`, and — in your own binary or
//! through the Python bindings — training and evaluation) can use it.
//!
//! Run it: `cargo run --release -p ember-envs --example custom_env`. Training PPO on it through
//! the runner library: `run/examples/train_custom_env.rs`.

use ember_envs::rng::Rng;
use ember_envs::{
    Env, EnvError, EnvSpec, OptSpec, Options, Phase, RgbFrame, Space, Step, register,
};

/// A corridor of `length` cells. The agent starts in a random cell and walks left (0) or right (1);
/// reaching the right end pays +1 and ends the episode, every other step costs `step_cost`.
pub struct Corridor {
    length: usize,
    step_cost: f32,
    pos: usize,
    obs: Vec<f32>,
    rng: Rng,
    phase: Phase,
    obs_space: Space,
    act_space: Space,
}

impl Corridor {
    pub fn new(length: usize, step_cost: f32) -> Corridor {
        Corridor {
            length,
            step_cost,
            pos: 0,
            obs: vec![0.0; length],
            rng: Rng::new(0),
            phase: Phase::Fresh,
            obs_space: Space::uniform_box(&[length], 0.0, 1.0),
            act_space: Space::Discrete { n: 2 },
        }
    }

    fn observe(&mut self) {
        // One-hot position; written in place, so stepping allocates nothing.
        self.obs.fill(0.0);
        self.obs[self.pos] = 1.0;
    }
}

impl Env for Corridor {
    fn id(&self) -> &str {
        "Corridor-v0"
    }
    fn observation_space(&self) -> &Space {
        &self.obs_space
    }
    fn action_space(&self) -> &Space {
        &self.act_space
    }
    fn reset(&mut self, seed: Option<u64>) -> &[f32] {
        if let Some(s) = seed {
            self.rng = Rng::new(s);
        }
        self.pos = self.rng.below(self.length - 1);
        self.phase = Phase::Running;
        self.observe();
        &self.obs
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        // The shared phase check gives the contract's errors: before reset, after the end, bad action.
        self.phase.check_action(action, 2)?;
        self.pos = if action == 1 {
            self.pos + 1
        } else {
            self.pos.saturating_sub(1)
        };
        let terminated = self.pos == self.length - 1;
        if terminated {
            self.phase = Phase::Over;
        }
        self.observe();
        let reward = if terminated { 1.0 } else { -self.step_cost };
        Ok(Step {
            obs: &self.obs,
            reward,
            terminated,
            truncated: false,
            info: Default::default(),
        })
    }
    fn obs(&self) -> &[f32] {
        &self.obs
    }
    fn render_text(&self) -> String {
        (0..self.length)
            .map(|i| {
                if i == self.pos {
                    'A'
                } else if i == self.length - 1 {
                    'G'
                } else {
                    '.'
                }
            })
            .collect::<String>()
            + "\n"
    }
    fn render_rgb(&self) -> RgbFrame {
        let mut f = RgbFrame::new(self.length, 1);
        f.set(self.length - 1, 0, [80, 200, 90]);
        f.set(self.pos, 0, [230, 80, 80]);
        f
    }
}

/// The one call that makes `Corridor-v0` known everywhere, with typed, validated options.
pub fn register_corridor() -> Result<(), EnvError> {
    register(
        EnvSpec::new(
            "Corridor-v0",
            "walk right to the goal (a custom-env example)",
            |o: &Options| {
                Ok(Box::new(Corridor::new(
                    o.int("length") as usize,
                    o.float("step_cost") as f32,
                )) as Box<dyn Env>)
            },
        )
        .option(OptSpec::int("length", 8, 2, 1000, "number of cells"))
        .option(OptSpec::float(
            "step_cost",
            0.01,
            0.0,
            1.0,
            "reward lost on every step that does not reach the goal",
        ))
        .max_steps(200),
    )
}

#[allow(dead_code)]
pub fn main() -> Result<(), EnvError> {
    register_corridor()?;
    let mut env = ember_envs::make("Corridor-v0", &[("length", "5")])?;
    ember_envs::check_env(|| ember_envs::make("Corridor-v0", &[("length", "5")]).unwrap())
        .map_err(|e| EnvError::Other(e.to_string()))?;
    env.reset(Some(0));
    print!("{}", env.render_text());
    loop {
        let s = env.step(1)?;
        let (r, done) = (s.reward, s.done());
        print!("{}", env.render_text());
        if done {
            println!("reached the goal, last reward {r}");
            break;
        }
    }
    Ok(())
}
