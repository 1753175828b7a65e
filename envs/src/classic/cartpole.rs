//! CartPole with Gymnasium's `CartPole-v1` dynamics: Euler integration at 50 Hz, force ±10 N,
//! termination when |x| > 2.4 or |θ| > 12°, reward 1 per step (the terminating step included).
//! The 500-step limit is the registry's default `max_steps`.

use crate::env::Phase;
use crate::rng::Rng;
use crate::{Env, EnvError, RgbFrame, Space, Step};

const GRAVITY: f64 = 9.8;
const MASS_CART: f64 = 1.0;
const MASS_POLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASS_CART + MASS_POLE;
const HALF_LENGTH: f64 = 0.5;
const POLE_MASS_LENGTH: f64 = MASS_POLE * HALF_LENGTH;
const FORCE: f64 = 10.0;
const TAU: f64 = 0.02;
const THETA_LIMIT: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
const X_LIMIT: f64 = 2.4;

/// The cart-pole system. State `[x, ẋ, θ, θ̇]`; actions 0 (push left) and 1 (push right).
pub struct CartPole {
    state: [f64; 4],
    obs: [f32; 4],
    rng: Rng,
    phase: Phase,
    obs_space: Space,
    act_space: Space,
}

impl Default for CartPole {
    fn default() -> Self {
        Self::new()
    }
}

impl CartPole {
    pub fn new() -> CartPole {
        let high = vec![
            (X_LIMIT * 2.0) as f32,
            f32::MAX,
            (THETA_LIMIT * 2.0) as f32,
            f32::MAX,
        ];
        let low = high.iter().map(|h| -h).collect();
        CartPole {
            state: [0.0; 4],
            obs: [0.0; 4],
            rng: Rng::new(0),
            phase: Phase::Fresh,
            obs_space: Space::boxed(&[4], low, high),
            act_space: Space::Discrete { n: 2 },
        }
    }

    /// The physical state `[x, ẋ, θ, θ̇]` in double precision.
    pub fn state(&self) -> [f64; 4] {
        self.state
    }

    fn sync_obs(&mut self) {
        for (o, s) in self.obs.iter_mut().zip(self.state) {
            *o = s as f32;
        }
    }
}

impl Env for CartPole {
    fn id(&self) -> &str {
        "CartPole-v1"
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
        for v in &mut self.state {
            *v = self.rng.uniform_range(-0.05, 0.05);
        }
        self.phase = Phase::Running;
        self.sync_obs();
        &self.obs
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        self.phase.check_action(action, 2)?;
        let [x, x_dot, theta, theta_dot] = self.state;
        let force = if action == 1 { FORCE } else { -FORCE };
        let (sin, cos) = theta.sin_cos();
        let temp = (force + POLE_MASS_LENGTH * theta_dot * theta_dot * sin) / TOTAL_MASS;
        let theta_acc = (GRAVITY * sin - cos * temp)
            / (HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * cos * cos / TOTAL_MASS));
        let x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS;
        // Explicit Euler, as Gymnasium's default `kinematics_integrator="euler"`.
        self.state = [
            x + TAU * x_dot,
            x_dot + TAU * x_acc,
            theta + TAU * theta_dot,
            theta_dot + TAU * theta_acc,
        ];
        let [x, _, theta, _] = self.state;
        let terminated =
            !(-X_LIMIT..=X_LIMIT).contains(&x) || !(-THETA_LIMIT..=THETA_LIMIT).contains(&theta);
        if terminated {
            self.phase = Phase::Over;
        }
        self.sync_obs();
        Ok(Step {
            obs: &self.obs,
            reward: 1.0,
            terminated,
            truncated: false,
            info: Default::default(),
        })
    }
    fn obs(&self) -> &[f32] {
        &self.obs
    }
    fn render_text(&self) -> String {
        // A 41-column track from -2.4 to 2.4 with the cart, and the pole's angle in degrees.
        let [x, _, theta, _] = self.state;
        let col = (((x + X_LIMIT) / (2.0 * X_LIMIT)) * 40.0)
            .round()
            .clamp(0.0, 40.0) as usize;
        let mut track: Vec<char> = vec!['-'; 41];
        track[col] = '#';
        let pole = if theta > 0.02 {
            '/'
        } else if theta < -0.02 {
            '\\'
        } else {
            '|'
        };
        let mut above = [' '; 41];
        above[col] = pole;
        format!(
            "{}\n{}\nx = {:+.3}  θ = {:+.2}°\n",
            above.iter().collect::<String>(),
            track.iter().collect::<String>(),
            x,
            theta.to_degrees()
        )
    }
    fn render_rgb(&self) -> RgbFrame {
        // 120x60: track, cart and pole, like Gymnasium's picture in miniature.
        let (w, h) = (120usize, 60usize);
        let mut f = RgbFrame::new(w, h);
        f.data.fill(255);
        let [x, _, theta, _] = self.state;
        let scale = w as f64 / (2.0 * X_LIMIT);
        let cx = ((x + X_LIMIT) * scale).clamp(0.0, (w - 1) as f64);
        let cart_y = 45usize;
        for xx in 0..w {
            f.set(xx, cart_y + 4, [0, 0, 0]);
        }
        for dy in 0..6 {
            for dx in 0..16 {
                let px = (cx as i64 - 8 + dx).clamp(0, w as i64 - 1) as usize;
                f.set(px, cart_y - 2 + dy, [40, 40, 40]);
            }
        }
        let len = 2.0 * HALF_LENGTH * scale;
        for i in 0..(len as usize) {
            let t = i as f64;
            let px = cx + t * theta.sin();
            let py = (cart_y as f64 - 2.0) - t * theta.cos();
            if px >= 0.0 && py >= 0.0 && (px as usize) < w && (py as usize) < h {
                f.set(px as usize, py as usize, [202, 152, 101]);
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_state_is_small_and_seeded() {
        let mut e = CartPole::new();
        let a = e.reset(Some(3)).to_vec();
        assert!(a.iter().all(|v| v.abs() <= 0.05));
        assert_eq!(e.reset(Some(3)), &a[..]);
    }

    #[test]
    fn one_step_matches_gymnasium_euler_update() {
        // From state zero, pushing right: Gymnasium gives x_dot = 0.19512196, theta_dot = -0.29268292.
        let mut e = CartPole::new();
        e.reset(Some(0));
        e.state = [0.0; 4];
        let s = e.step(1).unwrap();
        assert_eq!(s.obs[0], 0.0);
        assert!((s.obs[1] - 0.195_121_96).abs() < 1e-7, "{:?}", s.obs);
        assert_eq!(s.obs[2], 0.0);
        assert!((s.obs[3] + 0.292_682_92).abs() < 1e-7, "{:?}", s.obs);
    }

    #[test]
    fn always_pushing_right_falls_quickly() {
        let mut e = CartPole::new();
        e.reset(Some(1));
        let mut n = 0;
        loop {
            n += 1;
            let s = e.step(1).unwrap();
            assert_eq!(s.reward, 1.0);
            if s.terminated {
                break;
            }
        }
        assert!((8..=12).contains(&n), "fell after {n} steps");
        assert_eq!(e.step(0).unwrap_err(), EnvError::EpisodeOver);
    }
}
