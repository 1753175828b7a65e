//! Any Python Gymnasium environment as an Ember `Env`, so Ember's Rust agents and tools can use
//! environments that exist only in Python (classic control, ALE Atari through `ale-py`, ...).
//!
//! Design. CPython is embedded through pyo3 and initialised once; when `VIRTUAL_ENV` is set its
//! `site-packages` is added, so the packages of the active venv are importable. `GymEnv` holds the
//! Python env object and talks to it under the GIL on each call: `reset(seed)` maps to
//! `env.reset(seed=seed)`, `step(a)` to `env.step(a)`. Spaces are mapped once: `Discrete(n,
//! start)` actions (the start offset is added back when stepping), `Box` observations (any dtype,
//! read as `f32`), and `Discrete` observations as one-hot boxes; other spaces are a clear error.
//! Ember's contract is enforced on the Rust side (`Phase`), so stepping before `reset`, after the
//! end, or with a bad action is an `EnvError` before Python is called. Python exceptions become
//! `EnvError::Other` carrying the exception's type and message.
//!
//! Architecture: only crates under `python/` touch pyo3; this one is a library the CLI enables
//! with its `gym` feature.

use std::sync::Once;

use ember_envs::{Env, EnvError, Phase, RgbFrame, Space, Step};
use numpy::{PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

fn py_err(id: &str, e: PyErr) -> EnvError {
    EnvError::Other(format!("{id}: Python raised {e}"))
}

/// Initialises the embedded interpreter once and adds `$VIRTUAL_ENV`'s site-packages.
fn init() -> Result<(), EnvError> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = Python::attach(|py| -> PyResult<()> {
            if let Ok(venv) = std::env::var("VIRTUAL_ENV") {
                let code = c"import glob, os, site\nfor d in glob.glob(os.path.join(VENV, 'lib', 'python*', 'site-packages')):\n    site.addsitedir(d)\n";
                let globals = PyDict::new(py);
                globals.set_item("VENV", venv)?;
                py.run(code, Some(&globals), None)?;
            }
            Ok(())
        })
        .map_err(|e| EnvError::Other(format!("initialising the embedded Python: {e}")));
    });
    result
}

/// How observations arrive from Python.
#[derive(Debug, Clone, Copy)]
enum ObsKind {
    Box,
    /// `Discrete(n, start)`, delivered one-hot.
    OneHot {
        n: usize,
        start: i64,
    },
}

/// A Python Gymnasium environment behind Ember's `Env`.
pub struct GymEnv {
    id: String,
    env: Py<PyAny>,
    asarray: Py<PyAny>,
    obs_kind: ObsKind,
    action_start: i64,
    obs: Vec<f32>,
    phase: Phase,
    obs_space: Space,
    act_space: Space,
    render_mode: Option<String>,
}

/// Parses an option value the way a user would write it in TOML or on a command line: Python
/// literals (`3`, `0.5`, `True`, `'x'`, `[1, 2]`) as such, `true`/`false` as booleans, anything
/// else as a string.
fn literal<'py>(py: Python<'py>, raw: &str) -> PyResult<Bound<'py, PyAny>> {
    match raw {
        "true" => return Ok(true.into_pyobject(py)?.to_owned().into_any()),
        "false" => return Ok(false.into_pyobject(py)?.to_owned().into_any()),
        _ => {}
    }
    let ast = py.import("ast")?;
    match ast.call_method1("literal_eval", (raw,)) {
        Ok(v) => Ok(v),
        Err(_) => Ok(raw.into_pyobject(py)?.into_any()),
    }
}

impl GymEnv {
    /// `gymnasium.make(id, **kwargs)`. Values are parsed as Python literals (see `literal`).
    pub fn make(id: &str, kwargs: &[(String, String)]) -> Result<GymEnv, EnvError> {
        init()?;
        Python::attach(|py| -> Result<GymEnv, EnvError> {
            let err = |e: PyErr| py_err(id, e);
            let gym = py.import("gymnasium").map_err(|e| {
                EnvError::Other(format!(
                    "cannot import gymnasium ({e}); install it into the Python Ember was built against, or set VIRTUAL_ENV to a venv that has it"
                ))
            })?;
            // Environments that live in plug-in packages register themselves on import.
            if id.starts_with("ALE/") {
                let ale = py.import("ale_py").map_err(err)?;
                gym.call_method1("register_envs", (ale,)).map_err(err)?;
            }
            let kw = PyDict::new(py);
            for (k, v) in kwargs {
                kw.set_item(k, literal(py, v).map_err(err)?).map_err(err)?;
            }
            let env = gym.call_method("make", (id,), Some(&kw)).map_err(|e| {
                let msg = e.to_string();
                EnvError::Other(format!("gymnasium.make({id:?}) failed: {msg}"))
            })?;
            let render_mode: Option<String> = env
                .getattr("render_mode")
                .and_then(|r| r.extract())
                .map_err(err)?;
            let spaces = py.import("gymnasium.spaces").map_err(err)?;
            let discrete = spaces.getattr("Discrete").map_err(err)?;
            let boxed = spaces.getattr("Box").map_err(err)?;
            let np = py.import("numpy").map_err(err)?;
            let asarray = np.getattr("asarray").map_err(err)?;
            let f32 = np.getattr("float32").map_err(err)?;

            let asp = env.getattr("action_space").map_err(err)?;
            if !asp.is_instance(&discrete).map_err(err)? {
                return Err(EnvError::Other(format!(
                    "{id}: action space {asp} is not supported; Ember's agents take Discrete actions"
                )));
            }
            let n: usize = asp.getattr("n").and_then(|v| v.extract()).map_err(err)?;
            let action_start: i64 = asp
                .getattr("start")
                .and_then(|v| v.extract())
                .map_err(err)?;

            let osp = env.getattr("observation_space").map_err(err)?;
            let (obs_kind, obs_space) = if osp.is_instance(&boxed).map_err(err)? {
                let shape: Vec<usize> = osp
                    .getattr("shape")
                    .and_then(|v| v.extract())
                    .map_err(err)?;
                let read = |name: &str| -> Result<Vec<f32>, EnvError> {
                    let a = asarray
                        .call1((osp.getattr(name).map_err(err)?, &f32))
                        .map_err(err)?;
                    let a = a.call_method0("ravel").map_err(err)?;
                    let arr: PyReadonlyArrayDyn<f32> = a.extract().map_err(err)?;
                    Ok(arr
                        .as_slice()
                        .map_err(|e| EnvError::Other(e.to_string()))?
                        .to_vec())
                };
                (
                    ObsKind::Box,
                    Space::boxed(&shape, read("low")?, read("high")?),
                )
            } else if osp.is_instance(&discrete).map_err(err)? {
                let n: usize = osp.getattr("n").and_then(|v| v.extract()).map_err(err)?;
                let start: i64 = osp
                    .getattr("start")
                    .and_then(|v| v.extract())
                    .map_err(err)?;
                (
                    ObsKind::OneHot { n, start },
                    Space::uniform_box(&[n], 0.0, 1.0),
                )
            } else {
                return Err(EnvError::Other(format!(
                    "{id}: observation space {osp} is not supported; Ember reads Box and Discrete observations"
                )));
            };
            let len = obs_space.flat_len();
            Ok(GymEnv {
                id: id.to_string(),
                env: env.unbind(),
                asarray: asarray.unbind(),
                obs_kind,
                action_start,
                obs: vec![0.0; len],
                phase: Phase::Fresh,
                obs_space,
                act_space: Space::Discrete { n },
                render_mode,
            })
        })
    }

    /// Copies a Python observation into `self.obs`.
    fn store_obs(&mut self, py: Python<'_>, o: &Bound<'_, PyAny>) -> Result<(), EnvError> {
        let err = |e: PyErr| py_err(&self.id, e);
        match self.obs_kind {
            ObsKind::Box => {
                let a = self.asarray.bind(py).call1((o, "float32")).map_err(err)?;
                let a = a.call_method0("ravel").map_err(err)?;
                let arr: PyReadonlyArrayDyn<f32> = a.extract().map_err(err)?;
                if arr.len() != self.obs.len() {
                    return Err(EnvError::Other(format!(
                        "{}: observation has {} elements, its space {} says {}",
                        self.id,
                        arr.len(),
                        self.obs_space,
                        self.obs.len()
                    )));
                }
                self.obs
                    .copy_from_slice(arr.as_slice().map_err(|e| EnvError::Other(e.to_string()))?);
            }
            ObsKind::OneHot { n, start } => {
                let v: i64 = o.extract().map_err(err)?;
                let i = usize::try_from(v - start)
                    .ok()
                    .filter(|&i| i < n)
                    .ok_or_else(|| {
                        EnvError::Other(format!(
                            "{}: observation {v} is outside Discrete({n}, start={start})",
                            self.id
                        ))
                    })?;
                self.obs.fill(0.0);
                self.obs[i] = 1.0;
            }
        }
        Ok(())
    }

    /// The Python env's `render()`, if its render mode matches.
    fn render_py<'py>(&self, py: Python<'py>, mode: &str) -> Option<Bound<'py, PyAny>> {
        if self.render_mode.as_deref() != Some(mode) {
            return None;
        }
        self.env
            .bind(py)
            .call_method0("render")
            .ok()
            .filter(|r| !r.is_none())
    }
}

impl Env for GymEnv {
    fn id(&self) -> &str {
        &self.id
    }
    fn observation_space(&self) -> &Space {
        &self.obs_space
    }
    fn action_space(&self) -> &Space {
        &self.act_space
    }
    fn reset(&mut self, seed: Option<u64>) -> &[f32] {
        let r = Python::attach(|py| -> Result<(), EnvError> {
            let kw = PyDict::new(py);
            kw.set_item("seed", seed).map_err(|e| py_err(&self.id, e))?;
            let out = self
                .env
                .bind(py)
                .call_method("reset", (), Some(&kw))
                .map_err(|e| py_err(&self.id, e))?;
            let t = out.cast::<PyTuple>().map_err(|e| {
                EnvError::Other(format!(
                    "{}: reset did not return (obs, info): {e}",
                    self.id
                ))
            })?;
            let o = t.get_item(0).map_err(|e| py_err(&self.id, e))?;
            self.store_obs(py, &o)
        });
        match r {
            Ok(()) => self.phase = Phase::Running,
            Err(e) => {
                // `reset` cannot return an error in Ember's contract; the env stays unusable and the
                // next `step` reports why.
                self.phase = Phase::Fresh;
                eprintln!("warning: {e}");
            }
        }
        &self.obs
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        self.phase
            .check_action(action, self.act_space.n().unwrap_or(0))?;
        let (reward, terminated, truncated) = Python::attach(
            |py| -> Result<(f32, bool, bool), EnvError> {
                let err = |e: PyErr| py_err(&self.id, e);
                let out = self
                    .env
                    .bind(py)
                    .call_method1("step", (action as i64 + self.action_start,))
                    .map_err(err)?;
                let t = out.cast::<PyTuple>().map_err(|e| {
                    EnvError::Other(format!("{}: step did not return a tuple: {e}", self.id))
                })?;
                if t.len() != 5 {
                    return Err(EnvError::Other(format!(
                        "{}: step returned {} values; Gymnasium's API returns (obs, reward, terminated, truncated, info)",
                        self.id,
                        t.len()
                    )));
                }
                let reward: f64 = t.get_item(1).and_then(|r| r.extract()).map_err(err)?;
                let terminated: bool = t.get_item(2).and_then(|r| r.is_truthy()).map_err(err)?;
                let truncated: bool = t.get_item(3).and_then(|r| r.is_truthy()).map_err(err)?;
                let o = t.get_item(0).map_err(err)?;
                self.store_obs(py, &o)?;
                Ok((reward as f32, terminated, truncated))
            },
        )?;
        if terminated || truncated {
            self.phase = Phase::Over;
        }
        Ok(Step {
            obs: &self.obs,
            reward,
            terminated,
            truncated,
            info: Default::default(),
        })
    }
    fn obs(&self) -> &[f32] {
        &self.obs
    }
    fn render_text(&self) -> String {
        let text = Python::attach(|py| {
            self.render_py(py, "ansi")
                .and_then(|r| r.extract::<String>().ok())
        });
        text.unwrap_or_else(|| {
            let vals: Vec<String> = self
                .obs
                .iter()
                .take(32)
                .map(|v| format!("{v:.3}"))
                .collect();
            let more = if self.obs.len() > 32 { ", ..." } else { "" };
            format!("{} obs = [{}{more}]\n", self.id, vals.join(", "))
        })
    }
    fn render_rgb(&self) -> RgbFrame {
        let frame = Python::attach(|py| -> Option<RgbFrame> {
            let r = self.render_py(py, "rgb_array")?;
            let a = self.asarray.bind(py).call1((r, "uint8")).ok()?;
            let arr: PyReadonlyArrayDyn<u8> = a.extract().ok()?;
            let shape = arr.shape().to_vec();
            let data = arr.to_vec().ok()?;
            (shape.len() == 3 && shape[2] == 3).then(|| RgbFrame {
                width: shape[1],
                height: shape[0],
                data,
            })
        });
        frame.unwrap_or_else(|| {
            // No picture from Python (render_mode is not rgb_array): the observation as a grey bar,
            // each element scaled by its bounds.
            let mut f = RgbFrame::new(self.obs.len().max(1), 1);
            if let Space::Box { low, high, .. } = &self.obs_space {
                for (i, v) in self.obs.iter().enumerate() {
                    let (lo, hi) = (low[i].max(-10.0), high[i].min(10.0));
                    let t = if hi > lo {
                        ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
                    } else {
                        0.5
                    };
                    let g = (t * 255.0) as u8;
                    f.set(i, 0, [g, g, g]);
                }
            }
            f
        })
    }
}
