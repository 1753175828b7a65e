//! Observation and action spaces, as in Gymnasium.

use std::fmt;

/// A space: the set of values an observation or action may take.
#[derive(Debug, Clone, PartialEq)]
pub enum Space {
    /// `n` integer actions `0..n`. Which are legal at a given moment may be further narrowed by
    /// `Env::action_mask`.
    Discrete { n: usize },
    /// A box of `f32` values with a shape (row-major, e.g. `[C, H, W]`) and per-element bounds
    /// (`low.len() == high.len() == shape.iter().product()`; infinite bounds allowed).
    Box {
        shape: Vec<usize>,
        low: Vec<f32>,
        high: Vec<f32>,
    },
}

impl Space {
    /// A box with the same bounds for every element.
    pub fn uniform_box(shape: &[usize], low: f32, high: f32) -> Space {
        let len = shape.iter().product();
        Space::Box {
            shape: shape.to_vec(),
            low: vec![low; len],
            high: vec![high; len],
        }
    }

    /// A box with per-element bounds.
    pub fn boxed(shape: &[usize], low: Vec<f32>, high: Vec<f32>) -> Space {
        let len: usize = shape.iter().product();
        assert_eq!(low.len(), len, "Space::boxed: low has the wrong length");
        assert_eq!(high.len(), len, "Space::boxed: high has the wrong length");
        Space::Box {
            shape: shape.to_vec(),
            low,
            high,
        }
    }

    /// The shape of one element: `[]` for `Discrete`, the box shape otherwise.
    pub fn shape(&self) -> &[usize] {
        match self {
            Space::Discrete { .. } => &[],
            Space::Box { shape, .. } => shape,
        }
    }

    /// Number of scalars in one element (1 for `Discrete`).
    pub fn flat_len(&self) -> usize {
        match self {
            Space::Discrete { .. } => 1,
            Space::Box { shape, .. } => shape.iter().product(),
        }
    }

    /// Number of actions of a `Discrete` space; `None` for a box.
    pub fn n(&self) -> Option<usize> {
        match self {
            Space::Discrete { n } => Some(*n),
            Space::Box { .. } => None,
        }
    }

    /// Whether a flat observation lies in this box (right length, finite where the bounds are, within
    /// bounds). Returns the index of the first offending element on failure.
    pub fn contains_flat(&self, x: &[f32]) -> Result<(), String> {
        match self {
            Space::Discrete { n } => Err(format!(
                "Discrete({n}) holds integers, not a vector of {} floats",
                x.len()
            )),
            Space::Box { low, high, .. } => {
                if x.len() != low.len() {
                    return Err(format!(
                        "length {} but the space holds {} elements",
                        x.len(),
                        low.len()
                    ));
                }
                for (i, ((&v, &lo), &hi)) in x.iter().zip(low).zip(high).enumerate() {
                    if v.is_nan() || v < lo || v > hi {
                        return Err(format!("element {i} is {v}, outside [{lo}, {hi}]"));
                    }
                }
                Ok(())
            }
        }
    }

    /// Whether an action lies in this discrete space.
    pub fn contains_action(&self, a: usize) -> bool {
        matches!(self, Space::Discrete { n } if a < *n)
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Space::Discrete { n } => write!(f, "Discrete({n})"),
            Space::Box { shape, low, high } => {
                let lo = low.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = high.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                write!(f, "Box({lo}, {hi}, {shape:?})")
            }
        }
    }
}
