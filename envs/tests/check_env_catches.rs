//! `check_env` must fail on environments that break the contract, one flaw at a time.

use ember_envs::rng::Rng;
use ember_envs::{Env, EnvError, Phase, RgbFrame, Space, Step, check_env};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Flaw {
    None,
    IgnoresSeed,
    AcceptsBadAction,
    StepsAfterEnd,
    ObsOutOfBounds,
    StepsBeforeReset,
    BadActionMovesState,
}

struct Toy {
    flaw: Flaw,
    rng: Rng,
    t: u32,
    x: f32,
    obs: [f32; 1],
    phase: Phase,
    os: Space,
    acts: Space,
    entropy: u64,
}

impl Toy {
    fn new(flaw: Flaw) -> Toy {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Toy {
            flaw,
            rng: Rng::new(0),
            t: 0,
            x: 0.0,
            obs: [0.0],
            phase: Phase::Fresh,
            os: Space::uniform_box(&[1], 0.0, 1.0),
            acts: Space::Discrete { n: 3 },
            entropy: COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

impl Env for Toy {
    fn id(&self) -> &str {
        "Toy-v0"
    }
    fn observation_space(&self) -> &Space {
        &self.os
    }
    fn action_space(&self) -> &Space {
        &self.acts
    }
    fn reset(&mut self, seed: Option<u64>) -> &[f32] {
        if let Some(s) = seed {
            let s = if self.flaw == Flaw::IgnoresSeed {
                s ^ self.entropy
            } else {
                s
            };
            self.rng = Rng::new(s);
        }
        self.entropy = self.entropy.wrapping_mul(31).wrapping_add(7);
        self.t = 0;
        self.x = self.rng.uniform() as f32 * 0.5;
        self.phase = Phase::Running;
        self.obs = [self.x];
        &self.obs
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        let check = self.phase.check_action(action, 3);
        match (check, self.flaw) {
            (Err(EnvError::InvalidAction { .. }), Flaw::AcceptsBadAction) => {}
            (Err(EnvError::InvalidAction { action, n }), Flaw::BadActionMovesState) => {
                self.x = (self.x + 0.01).min(1.0);
                return Err(EnvError::InvalidAction { action, n });
            }
            (Err(EnvError::EpisodeOver), Flaw::StepsAfterEnd) => {}
            (Err(EnvError::NeedsReset), Flaw::StepsBeforeReset) => {}
            (Err(e), _) => return Err(e),
            (Ok(()), _) => {}
        }
        self.t += 1;
        self.x = (self.x + 0.1 * (action.min(2) as f32) * self.rng.uniform() as f32).min(1.0);
        let terminated = self.t >= 20;
        if terminated {
            self.phase = Phase::Over;
        }
        self.obs = [if self.flaw == Flaw::ObsOutOfBounds {
            self.x + 1.5
        } else {
            self.x
        }];
        Ok(Step {
            obs: &self.obs,
            reward: self.x,
            terminated,
            truncated: false,
            info: Default::default(),
        })
    }
    fn obs(&self) -> &[f32] {
        &self.obs
    }
    fn render_text(&self) -> String {
        format!("x = {}\n", self.x)
    }
    fn render_rgb(&self) -> RgbFrame {
        RgbFrame::new(1, 1)
    }
}

#[test]
fn a_correct_env_passes() {
    check_env(|| Box::new(Toy::new(Flaw::None))).unwrap();
}

#[test]
fn each_flaw_is_caught() {
    for flaw in [
        Flaw::IgnoresSeed,
        Flaw::AcceptsBadAction,
        Flaw::StepsAfterEnd,
        Flaw::ObsOutOfBounds,
        Flaw::StepsBeforeReset,
        Flaw::BadActionMovesState,
    ] {
        let r = check_env(|| Box::new(Toy::new(flaw)));
        assert!(r.is_err(), "check_env missed {flaw:?}");
        eprintln!("{flaw:?}: {}", r.unwrap_err());
    }
}
