//! Which child a simulation follows: UCT, PUCT, and Gumbel (root and interior), and the Gumbel
//! policy target.
//!
//! Values here are always those of the node's player to move (children's `q()` are kept from
//! the chooser's view by the tree), in `[-1, 1]`.
//!
//! - **UCT** (Kocsis & Szepesvári): `q + c·sqrt(ln N / n)`, unvisited children first (their order
//!   was shuffled when the node was expanded, so ties are broken at random without a draw here).
//! - **PUCT** (AlphaZero): `q + c(N)·P·sqrt(N)/(1 + n)` with `c(N) = c_init + ln((1 + N + c_base)
//!   / c_base)`; an unvisited child is valued at the node's own evaluation minus
//!   `fpu_reduction·sqrt(prior mass already visited)` (first-play urgency, as Leela Zero).
//! - **Gumbel** (Danihelka et al. 2022, "Policy improvement by planning with Gumbel", as mctx):
//!   at the root, sequential halving over the top-`m` actions by `g + logits` ([`halving_schedule`],
//!   [`gumbel_root_score`]); inside the tree, the deterministic rule
//!   `argmax π'(a) − n(a)/(1 + Σn)` with `π' = softmax(logits + σ(q̂))`, where `q̂` is the
//!   completed Q-value (the mixed value for unvisited children), min-max rescaled to `[0, 1]`,
//!   and `σ(q̂) = (c_visit + max n)·c_scale·q̂` ([`sigma_completed_q`]). The improved policy
//!   `softmax(logits + σ(q̂))` is the training target ([`improved_policy`]).

use serde::{Deserialize, Serialize};

use super::tree::{NodeId, Tree};

/// The selection rule of a search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum Selection {
    /// UCB1 on mean values.
    Uct {
        /// Exploration constant (values are in `[-1, 1]`).
        #[serde(default = "default_uct_c")]
        c: f32,
    },
    /// AlphaZero's PUCT with first-play urgency.
    Puct {
        #[serde(default = "default_c_init")]
        c_init: f32,
        #[serde(default = "default_c_base")]
        c_base: f32,
        /// Subtracted from the node's value for unvisited children (0 at the root).
        #[serde(default = "default_fpu")]
        fpu_reduction: f32,
    },
    /// Gumbel MuZero's root search and interior rule.
    Gumbel {
        /// `m`: actions considered at the root.
        #[serde(default = "default_m")]
        max_considered: u32,
        #[serde(default = "default_c_visit")]
        c_visit: f32,
        #[serde(default = "default_c_scale")]
        c_scale: f32,
        /// Scale of the Gumbel noise at the root: 1 samples (self-play), 0 plays the best
        /// action by `logits + σ(q̂)` (evaluation).
        #[serde(default = "default_gumbel_scale")]
        gumbel_scale: f32,
    },
}

fn default_uct_c() -> f32 {
    1.4
}
fn default_c_init() -> f32 {
    1.25
}
fn default_c_base() -> f32 {
    19652.0
}
fn default_fpu() -> f32 {
    0.25
}
fn default_m() -> u32 {
    16
}
fn default_c_visit() -> f32 {
    50.0
}
fn default_c_scale() -> f32 {
    // mctx's `qtransform_completed_by_mix_value(value_scale=0.1, maxvisit_init=50)`.
    0.1
}
fn default_gumbel_scale() -> f32 {
    1.0
}

impl Selection {
    pub fn uct() -> Selection {
        Selection::Uct { c: default_uct_c() }
    }
    pub fn puct() -> Selection {
        Selection::Puct {
            c_init: default_c_init(),
            c_base: default_c_base(),
            fpu_reduction: default_fpu(),
        }
    }
    pub fn gumbel(max_considered: u32, gumbel_scale: f32) -> Selection {
        Selection::Gumbel {
            max_considered,
            c_visit: default_c_visit(),
            c_scale: default_c_scale(),
            gumbel_scale,
        }
    }
    /// Checks the constants.
    pub fn validate(&self) -> Result<(), String> {
        let ok = match *self {
            Selection::Uct { c } => c.is_finite() && c >= 0.0,
            Selection::Puct {
                c_init,
                c_base,
                fpu_reduction,
            } => {
                c_init.is_finite()
                    && c_init >= 0.0
                    && c_base.is_finite()
                    && c_base > 0.0
                    && fpu_reduction.is_finite()
            }
            Selection::Gumbel {
                max_considered,
                c_visit,
                c_scale,
                gumbel_scale,
            } => {
                max_considered >= 1
                    && c_visit.is_finite()
                    && c_visit >= 0.0
                    && c_scale.is_finite()
                    && c_scale > 0.0
                    && gumbel_scale.is_finite()
                    && gumbel_scale >= 0.0
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("invalid selection constants {self:?}"))
        }
    }
}

/// `ln(prior)`, floored so a zero prior stays finite.
#[inline]
pub fn logit(prior: f32) -> f32 {
    prior.max(1e-30).ln()
}

/// The child UCT picks at `id` (which is expanded).
pub fn uct(tree: &Tree, id: NodeId, c: f32) -> NodeId {
    let node = tree.node(id);
    let ln_n = (node.visits.max(1) as f32).ln();
    let mut best = node.first_child;
    let mut best_score = f32::NEG_INFINITY;
    for (k, child) in tree.children(id).iter().enumerate() {
        if child.visits == 0 {
            return node.first_child + k as u32;
        }
        let score = child.q() + c * (ln_n / child.visits as f32).sqrt();
        if score > best_score {
            best_score = score;
            best = node.first_child + k as u32;
        }
    }
    best
}

/// The child PUCT picks at `id` (which is expanded and evaluated).
pub fn puct(tree: &Tree, id: NodeId, c_init: f32, c_base: f32, fpu_reduction: f32) -> NodeId {
    let node = tree.node(id);
    let n = node.visits.max(1) as f32;
    let c = c_init + ((1.0 + n + c_base) / c_base).ln();
    let explore = c * n.sqrt();
    let visited_mass: f32 = tree
        .children(id)
        .iter()
        .filter(|k| k.visits > 0)
        .map(|k| k.prior)
        .sum();
    let fpu = node.raw_value - fpu_reduction * visited_mass.sqrt();
    let mut best = node.first_child;
    let mut best_score = f32::NEG_INFINITY;
    for (k, child) in tree.children(id).iter().enumerate() {
        let q = if child.visits == 0 { fpu } else { child.q() };
        let score = q + explore * child.prior / (1.0 + child.visits as f32);
        if score > best_score {
            best_score = score;
            best = node.first_child + k as u32;
        }
    }
    best
}

/// Writes the completed Q-value `q̂` of every child of `id` into `out`: the child's mean value
/// when visited, else the mixed value `v_mix` (the node's own evaluation mixed with the
/// prior-weighted mean of the visited children). Returns the largest child visit count.
pub fn completed_q(tree: &Tree, id: NodeId, out: &mut Vec<f32>) -> u32 {
    let node = tree.node(id);
    let kids = tree.children(id);
    let (mut sum_n, mut max_n, mut sum_p, mut weighted) = (0u32, 0u32, 0.0f32, 0.0f32);
    for k in kids {
        sum_n += k.visits;
        max_n = max_n.max(k.visits);
        if k.visits > 0 {
            sum_p += k.prior.max(f32::MIN_POSITIVE);
            weighted += k.prior.max(f32::MIN_POSITIVE) * k.q();
        }
    }
    let v_mix = if sum_p > 0.0 {
        (node.raw_value + sum_n as f32 * weighted / sum_p) / (1.0 + sum_n as f32)
    } else {
        node.raw_value
    };
    out.clear();
    out.extend(
        kids.iter()
            .map(|k| if k.visits > 0 { k.q() } else { v_mix }),
    );
    max_n
}

/// Writes `σ(q̂)` of every child of `id` into `out` (see the module docs).
pub fn sigma_completed_q(tree: &Tree, id: NodeId, c_visit: f32, c_scale: f32, out: &mut Vec<f32>) {
    let max_n = completed_q(tree, id, out);
    let (lo, hi) = out
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &q| {
            (lo.min(q), hi.max(q))
        });
    let scale = (c_visit + max_n as f32) * c_scale / (hi - lo).max(1e-8);
    for q in out.iter_mut() {
        *q = (*q - lo) * scale;
    }
}

/// Writes `softmax(logits + σ(q̂))` over the children of `id` into `out`, using `scratch`.
pub fn improved_policy(tree: &Tree, id: NodeId, c_visit: f32, c_scale: f32, out: &mut Vec<f32>) {
    sigma_completed_q(tree, id, c_visit, c_scale, out);
    for (s, k) in out.iter_mut().zip(tree.children(id)) {
        *s += logit(k.prior);
    }
    softmax_in_place(out);
}

/// Softmax of `x` in place (max-subtracted).
pub fn softmax_in_place(x: &mut [f32]) {
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - m).exp();
        sum += *v;
    }
    for v in x.iter_mut() {
        *v /= sum;
    }
}

/// The child Gumbel's interior rule picks at `id`; `scratch` holds the improved policy.
pub fn gumbel_interior(
    tree: &Tree,
    id: NodeId,
    c_visit: f32,
    c_scale: f32,
    scratch: &mut Vec<f32>,
) -> NodeId {
    improved_policy(tree, id, c_visit, c_scale, scratch);
    let kids = tree.children(id);
    let total: u32 = kids.iter().map(|k| k.visits).sum();
    let denom = 1.0 + total as f32;
    let mut best = 0;
    let mut best_score = f32::NEG_INFINITY;
    for (k, (p, child)) in scratch.iter().zip(kids).enumerate() {
        let score = p - child.visits as f32 / denom;
        if score > best_score {
            best_score = score;
            best = k;
        }
    }
    tree.node(id).first_child + best as u32
}

/// The visit count each root simulation of sequential halving gives its action: with `m`
/// actions considered and `n` simulations, each phase (there are `ceil(log2 m)`) gives every
/// remaining action `max(1, n / (ceil(log2 m)·remaining))` visits, then keeps the better half
/// (at least two). As mctx's `get_sequence_of_considered_visits`.
pub fn halving_schedule(m: usize, n: usize, out: &mut Vec<u32>) {
    out.clear();
    if m <= 1 {
        out.extend(0..n as u32);
        return;
    }
    let log2m = (m as f64).log2().ceil() as usize;
    let mut considered = m;
    let mut visits = 0u32;
    while out.len() < n {
        let extra = (n / (log2m * considered)).max(1);
        for _ in 0..extra {
            out.extend(std::iter::repeat_n(visits, considered));
            visits += 1;
        }
        considered = (considered / 2).max(2);
    }
    out.truncate(n);
}

/// The root child sequential halving visits when actions with `considered` visits are due:
/// argmax of `g + logits + σ(q̂)` among the children with exactly that many visits. `gumbel`
/// holds one draw per child; `scratch` receives `σ(q̂)`.
pub fn gumbel_root_score(
    tree: &Tree,
    considered: u32,
    gumbel: &[f32],
    c_visit: f32,
    c_scale: f32,
    scratch: &mut Vec<f32>,
) -> Option<NodeId> {
    let id = Tree::ROOT;
    sigma_completed_q(tree, id, c_visit, c_scale, scratch);
    let mut best = None;
    let mut best_score = f32::NEG_INFINITY;
    for (k, child) in tree.children(id).iter().enumerate() {
        if child.visits != considered {
            continue;
        }
        let score = gumbel[k] + logit(child.prior) + scratch[k];
        if score > best_score || best.is_none() {
            best_score = score;
            best = Some(tree.node(id).first_child + k as u32);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_schedule_matches_mctx() {
        let mut s = Vec::new();
        // mctx: get_sequence_of_considered_visits(4, 8) == (0, 0, 0, 0, 1, 1, 2, 2)
        halving_schedule(4, 8, &mut s);
        assert_eq!(s, vec![0, 0, 0, 0, 1, 1, 2, 2]);
        // 16 considered, 32 simulations: four phases of 16, 8, 4, 2 (+ remainder)
        halving_schedule(16, 32, &mut s);
        assert_eq!(&s[..16], &[0; 16]);
        assert_eq!(&s[16..24], &[1; 8]);
        assert_eq!(&s[24..28], &[2; 4]);
        assert_eq!(&s[28..30], &[3; 2]);
        assert_eq!(s.len(), 32);
        halving_schedule(1, 3, &mut s);
        assert_eq!(s, vec![0, 1, 2]);
        // Many simulations: several visits per phase.
        halving_schedule(2, 10, &mut s);
        assert_eq!(s, vec![0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    }

    #[test]
    fn completed_q_fills_unvisited_with_the_mixed_value() {
        let mut t = Tree::new();
        t.node_mut(Tree::ROOT).raw_value = 0.0;
        t.expand(Tree::ROOT, [(0, 0.5), (1, 0.25), (2, 0.25)].into_iter());
        let c0 = t.child_by_action(Tree::ROOT, 0).unwrap();
        t.node_mut(c0).visits = 3;
        t.node_mut(c0).value_sum = 1.5; // q = 0.5
        let mut out = Vec::new();
        sigma_completed_q(&t, Tree::ROOT, 50.0, 1.0, &mut out);
        // v_mix = (0 + 3 * 0.5) / 4 = 0.375 for the two unvisited; min-max to [0, 1] then
        // scaled by 50 + 3.
        assert!((out[0] - 53.0).abs() < 1e-4, "{out:?}");
        assert!(out[1].abs() < 1e-4 && out[2].abs() < 1e-4, "{out:?}");
        let mut p = Vec::new();
        improved_policy(&t, Tree::ROOT, 50.0, 1.0, &mut p);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5 && p[0] > 0.99);
    }
}
