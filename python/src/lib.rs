//! `ember._ember`: the native half of Ember's Python bindings.
//!
//! Thin by design. `RawEnv` and `RawVecEnv` expose Ember's registry, `Env` and `VecEnv` with
//! numpy arrays; the Python half (`pysrc/ember/`) turns them into real `gymnasium.Env` and
//! `gymnasium.vector.VectorEnv` subclasses and registers every id under `ember/`. Every array
//! returned is a fresh copy (Gymnasium's checker demands it). Vector stepping releases the GIL.
//! Errors map to Python exceptions carrying Ember's message: bad ids, options and actions raise
//! `ValueError`; stepping before `reset` or after the end raises `RuntimeError`. A Rust panic
//! surfaces as pyo3's `PanicException`; it never aborts the interpreter.

use ember_envs::{Autoreset, Env, EnvError, OptKind, Options, Space, VecEnv};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, ToPyArray};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::{Mutex, MutexGuard};

fn to_py(e: EnvError) -> PyErr {
    match e {
        EnvError::EpisodeOver | EnvError::NeedsReset => PyRuntimeError::new_err(e.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}

fn space_bounds(s: &Space) -> (Vec<usize>, Vec<f32>, Vec<f32>) {
    match s {
        Space::Box { shape, low, high } => (shape.clone(), low.clone(), high.clone()),
        Space::Discrete { n } => (vec![], vec![0.0], vec![*n as f32 - 1.0]),
    }
}

fn array<'py>(
    py: Python<'py>,
    data: &[f32],
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    PyArray1::from_slice(py, data).reshape(shape.to_vec())
}

/// One Ember environment, made from the registry.
#[pyclass(module = "ember._ember")]
struct RawEnv {
    // A mutex makes the class `Sync`, as pyo3 requires; Python's GIL means it is never contended.
    env: Mutex<Box<dyn Env>>,
    shape: Vec<usize>,
}

/// Locks, recovering from a poisoned lock (a panic mid-step surfaces as `PanicException`; the
/// environment is still in a consistent state for `reset`).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[pymethods]
impl RawEnv {
    #[new]
    fn new(id: &str, options: Vec<(String, String)>) -> PyResult<Self> {
        let env = ember_envs::make(id, &options).map_err(to_py)?;
        let shape = env.observation_space().shape().to_vec();
        Ok(RawEnv {
            env: Mutex::new(env),
            shape,
        })
    }

    #[getter]
    fn id(&self) -> String {
        lock(&self.env).id().to_string()
    }

    /// `(shape, low, high)` of the observation box.
    #[getter]
    fn observation_space<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(
        Vec<usize>,
        Bound<'py, PyArrayDyn<f32>>,
        Bound<'py, PyArrayDyn<f32>>,
    )> {
        let (shape, low, high) = space_bounds(lock(&self.env).observation_space());
        Ok((
            shape.clone(),
            array(py, &low, &shape)?,
            array(py, &high, &shape)?,
        ))
    }

    #[getter]
    fn n_actions(&self) -> PyResult<usize> {
        lock(&self.env)
            .action_space()
            .n()
            .ok_or_else(|| PyValueError::new_err("the action space is not discrete"))
    }

    #[pyo3(signature = (seed=None))]
    fn reset<'py>(
        &mut self,
        py: Python<'py>,
        seed: Option<u64>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let mut env = lock(&self.env);
        let obs = env.reset(seed);
        array(py, obs, &self.shape)
    }

    /// `(obs, reward, terminated, truncated)`.
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        action: i64,
    ) -> PyResult<(Bound<'py, PyArrayDyn<f32>>, f32, bool, bool)> {
        let mut env = lock(&self.env);
        let n = env.action_space().n().unwrap_or(0);
        let a = usize::try_from(action).map_err(|_| {
            PyValueError::new_err(format!(
                "invalid action {action}: the action space is Discrete({n})"
            ))
        })?;
        let s = env.step(a).map_err(to_py)?;
        let (r, te, tr) = (s.reward, s.terminated, s.truncated);
        Ok((array(py, s.obs, &self.shape)?, r, te, tr))
    }

    /// The legal-action mask, or `None` when every action is legal.
    fn action_mask<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<bool>>> {
        lock(&self.env)
            .action_mask()
            .map(|m| PyArray1::from_slice(py, m))
    }

    fn render_text(&self) -> String {
        lock(&self.env).render_text()
    }

    /// `(H, W, 3)` uint8.
    fn render_rgb<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<u8>>> {
        let f = lock(&self.env).render_rgb();
        PyArray1::from_slice(py, &f.data).reshape(vec![f.height, f.width, 3])
    }
}

/// N environments stepped in lockstep by Rust threads, with next-step autoreset.
#[pyclass(module = "ember._ember")]
struct RawVecEnv {
    venv: Mutex<VecEnv>,
    batch_shape: Vec<usize>,
}

#[pymethods]
impl RawVecEnv {
    #[new]
    fn new(
        id: &str,
        options: Vec<(String, String)>,
        num_envs: usize,
        threads: usize,
    ) -> PyResult<Self> {
        if num_envs == 0 {
            return Err(PyValueError::new_err("num_envs must be at least 1"));
        }
        let venv = VecEnv::make(id, &options, num_envs, Autoreset::NextStep)
            .and_then(|v| v.threaded(threads))
            .map_err(to_py)?;
        let mut batch_shape = vec![num_envs];
        batch_shape.extend_from_slice(venv.single_observation_space().shape());
        Ok(RawVecEnv {
            venv: Mutex::new(venv),
            batch_shape,
        })
    }

    /// Resets every env: one seed fans out to per-env seeds; a list gives each env its own seed.
    #[pyo3(signature = (seed=None, seeds=None))]
    fn reset<'py>(
        &mut self,
        py: Python<'py>,
        seed: Option<u64>,
        seeds: Option<Vec<Option<u64>>>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let mut venv = lock(&self.venv);
        match seeds {
            Some(s) => {
                venv.reset_each(&s).map_err(to_py)?;
            }
            None => {
                venv.reset(seed);
            }
        }
        let obs = venv.obs();
        array(
            py,
            obs.as_slice().expect("contiguous batch"),
            &self.batch_shape,
        )
    }

    /// `(obs, rewards, terminated, truncated)` as fresh arrays.
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<(
        Bound<'py, PyArrayDyn<f32>>,
        Bound<'py, PyArray1<f32>>,
        Bound<'py, PyArray1<bool>>,
        Bound<'py, PyArray1<bool>>,
    )> {
        let acts = actions
            .as_slice()?
            .iter()
            .map(|&a| {
                usize::try_from(a).map_err(|_| {
                    PyValueError::new_err(format!("invalid action {a}: actions are non-negative"))
                })
            })
            .collect::<PyResult<Vec<usize>>>()?;
        let mut venv = lock(&self.venv);
        let v = &mut *venv;
        py.detach(|| v.step(&acts).map(|_| ())).map_err(to_py)?;
        let s = venv.last();
        Ok((
            array(
                py,
                s.obs.as_slice().expect("contiguous batch"),
                &self.batch_shape,
            )?,
            s.rewards.to_pyarray(py),
            s.terminated.to_pyarray(py),
            s.truncated.to_pyarray(py),
        ))
    }
}

/// Every registered id.
#[pyfunction]
fn ids() -> Vec<String> {
    ember_envs::registry::ids()
}

/// The registry as a list of dicts: id, description, options (name, kind, default, accepts, help).
#[pyfunction]
fn specs<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for s in ember_envs::registry::specs() {
        let d = PyDict::new(py);
        d.set_item("id", &s.id)?;
        d.set_item("description", &s.description)?;
        let opts = PyList::empty(py);
        for o in s.all_options() {
            let od = PyDict::new(py);
            od.set_item("name", &o.name)?;
            od.set_item(
                "kind",
                match o.kind {
                    OptKind::Bool => "bool",
                    OptKind::Int { .. } => "int",
                    OptKind::Float { .. } => "float",
                    OptKind::Choice(_) => "choice",
                    OptKind::Str => "string",
                },
            )?;
            od.set_item("default", o.default.to_string())?;
            od.set_item("accepts", o.expected())?;
            od.set_item("help", &o.help)?;
            opts.append(od)?;
        }
        d.set_item("options", opts)?;
        out.append(d)?;
    }
    Ok(out)
}

/// Validates options for an id without making the env (used to name bad kwargs early).
#[pyfunction]
fn check_options(id: &str, options: Vec<(String, String)>) -> PyResult<()> {
    let spec = ember_envs::registry::spec(id).map_err(to_py)?;
    Options::resolve(id, &spec.all_options(), &options)
        .map(|_| ())
        .map_err(to_py)
}

#[pymodule]
fn _ember(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RawEnv>()?;
    m.add_class::<RawVecEnv>()?;
    m.add_function(wrap_pyfunction!(ids, m)?)?;
    m.add_function(wrap_pyfunction!(specs, m)?)?;
    m.add_function(wrap_pyfunction!(check_options, m)?)?;
    Ok(())
}
