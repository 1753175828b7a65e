//! The DQN replay buffer and the n-step accumulator.
//!
//! Observations are stored compactly: 0/1 planes (MinAtar's observations) as packed bits, 64 per
//! `u64` word, 32x less than `f32`; anything else as `f32`. Each transition stores its own next
//! observation (so episode ends and n-step returns need no index arithmetic) and a `discount`:
//! `γ^k` to bootstrap from the next observation after `k` rewards, or 0 when the episode
//! terminated (a truncated episode still bootstraps).
//!
//! Optionally the buffer keeps a priority per transition and samples in proportion to it
//! (prioritized experience replay, Schaul et al. 2016, the proportional variant): a sum tree over
//! `p_i^α` finds the transition under a uniform point of each of `B` equal strata of the total,
//! new transitions enter with the largest priority seen, and the learner reports `|δ|` of each
//! sampled transition back ([`Replay::update_priorities`]). The batch carries importance weights
//! `(N·P(i))^−β`, divided by the batch's largest.

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;

use ember_envs::Space;
use ember_envs::rng::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{AgentError, Result};

/// How observations are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObsCodec {
    /// One bit per value; every value must be exactly 0 or 1.
    Bits,
    /// Plain `f32`.
    F32,
}

impl ObsCodec {
    /// Bits for a box whose bounds are all [0, 1], else `f32`.
    pub fn for_space(space: &Space) -> ObsCodec {
        match space {
            Space::Box { low, high, .. }
                if low.iter().all(|&l| l == 0.0) && high.iter().all(|&h| h == 1.0) =>
            {
                ObsCodec::Bits
            }
            _ => ObsCodec::F32,
        }
    }
}

/// Packs 0/1 values into `dst` (64 per word, `ceil(obs.len() / 64)` words); any other value is
/// an error naming it.
pub fn pack_bits(obs: &[f32], dst: &mut [u64]) -> Result<()> {
    dst.fill(0);
    for (i, &x) in obs.iter().enumerate() {
        if x == 1.0 {
            dst[i / 64] |= 1 << (i % 64);
        } else if x != 0.0 {
            return Err(AgentError::Unsupported(format!(
                "observation value {x} at index {i} in a space bounded by [0, 1] \
                 that should hold only 0/1 planes (bit storage)"
            )));
        }
    }
    Ok(())
}

/// Appends the first `len` values packed by [`pack_bits`] to `out`.
pub fn unpack_bits(src: &[u64], len: usize, out: &mut Vec<f32>) {
    out.reserve(len);
    // Eight values a byte, from a table (a batch of 32 MinAtar observations and their next
    // observations is 3,200 bytes: value by value this was 1% of a DQN update).
    let bytes = src.iter().flat_map(|w| w.to_le_bytes());
    for byte in bytes.take(len / 8) {
        out.extend_from_slice(&BYTE_VALUES[byte as usize]);
    }
    out.extend((len / 8 * 8..len).map(|i| ((src[i / 64] >> (i % 64)) & 1) as f32));
}

/// Each byte's 8 bits as 0.0 / 1.0, least significant first (the order of [`pack_bits`]).
static BYTE_VALUES: [[f32; 8]; 256] = {
    let mut t = [[0f32; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let mut i = 0;
        while i < 8 {
            if b >> i & 1 == 1 {
                t[b][i] = 1.0;
            }
            i += 1;
        }
        b += 1;
    }
    t
};

/// A batch sampled from the buffer, as flat vectors ready to become tensors.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// `[B, obs_len]`.
    pub obs: Vec<f32>,
    /// `[B]`.
    pub actions: Vec<i64>,
    /// `[B]` (n-step discounted sums).
    pub rewards: Vec<f32>,
    /// `[B, obs_len]`.
    pub next_obs: Vec<f32>,
    /// `[B]`: γ^k, or 0 after a terminal state.
    pub discounts: Vec<f32>,
    /// `[B, A]`: the legal actions of `next_obs` (empty when the buffer keeps no masks).
    pub next_masks: Vec<bool>,
    /// `[B]`: the slots sampled (for [`Replay::update_priorities`]).
    pub slots: Vec<usize>,
    /// `[B]`: importance weights of a prioritized sample, the largest 1 (empty for a uniform one).
    pub weights: Vec<f32>,
}

/// A ring buffer of transitions (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    capacity: usize,
    obs_len: usize,
    codec: ObsCodec,
    words: usize,
    len: usize,
    pos: usize,
    bits: Vec<u64>,
    floats: Vec<f32>,
    actions: Vec<u32>,
    rewards: Vec<f32>,
    discounts: Vec<f32>,
    /// Actions per mask (0: no masks kept), and the legal actions of each `next_obs`, as bits.
    mask_len: usize,
    masks: Vec<u64>,
    /// Priorities, where the buffer samples by them.
    priorities: Option<Priorities>,
}

/// The priorities of a prioritized buffer: `p_i^α` of every slot in a sum tree.
#[derive(Debug, Clone, PartialEq)]
struct Priorities {
    alpha: f64,
    /// The largest `|δ| + ε` reported so far (1 before any): what new transitions get.
    max: f64,
    /// Leaves at `leaves..2·leaves` (`leaves` a power of two ≥ the capacity), each inner node
    /// the sum of its two children, the root at 1.
    tree: Vec<f64>,
    leaves: usize,
}

impl Priorities {
    fn new(capacity: usize, alpha: f64) -> Self {
        let leaves = capacity.max(1).next_power_of_two();
        Priorities {
            alpha,
            max: 1.0,
            tree: vec![0.0; 2 * leaves],
            leaves,
        }
    }

    /// Sets slot `i`'s priority to `p` (stores `p^α`); each sum on the way up is recomputed from
    /// its two children, so rounding errors never accumulate.
    fn set(&mut self, i: usize, p: f64) {
        let mut node = self.leaves + i;
        self.tree[node] = p.powf(self.alpha);
        while node > 1 {
            node /= 2;
            self.tree[node] = self.tree[2 * node] + self.tree[2 * node + 1];
        }
    }

    fn total(&self) -> f64 {
        self.tree[1]
    }

    fn leaf(&self, i: usize) -> f64 {
        self.tree[self.leaves + i]
    }

    /// The slot under `u` in `[0, total)`: the first whose running sum passes `u`, kept below
    /// `len` and on a slot with a positive priority.
    fn find(&self, u: f64, len: usize) -> usize {
        let mut node = 1;
        let mut u = u;
        while node < self.leaves {
            let left = self.tree[2 * node];
            if u < left || self.tree[2 * node + 1] <= 0.0 {
                node *= 2;
            } else {
                u -= left;
                node = 2 * node + 1;
            }
        }
        (node - self.leaves).min(len.saturating_sub(1))
    }
}

impl Replay {
    /// An empty buffer of `capacity` transitions of observations of `obs_len` values.
    pub fn new(capacity: usize, obs_len: usize, codec: ObsCodec) -> Self {
        let words = obs_len.div_ceil(64);
        let (bits, floats) = match codec {
            ObsCodec::Bits => (vec![0u64; capacity * 2 * words], Vec::new()),
            ObsCodec::F32 => (Vec::new(), vec![0f32; capacity * 2 * obs_len]),
        };
        Replay {
            capacity,
            obs_len,
            codec,
            words,
            len: 0,
            pos: 0,
            bits,
            floats,
            actions: vec![0; capacity],
            rewards: vec![0.0; capacity],
            discounts: vec![0.0; capacity],
            mask_len: 0,
            masks: Vec::new(),
            priorities: None,
        }
    }

    /// Samples by priority (see the module docs) with exponent `alpha` in `[0, 1]` (0: uniform
    /// draws, still weighted as prioritized ones).
    pub fn with_priorities(mut self, alpha: f64) -> Self {
        self.priorities = Some(Priorities::new(self.capacity, alpha));
        self
    }

    /// Whether it samples by priority.
    pub fn prioritized(&self) -> bool {
        self.priorities.is_some()
    }

    /// Reports `|δ| + eps` for the transitions of the last batch (its `slots`, in order): their
    /// new priorities. Non-finite values are refused (a diverging run is reported by its loss).
    pub fn update_priorities(&mut self, slots: &[usize], td_abs: &[f32], eps: f64) -> Result<()> {
        let Some(pr) = self.priorities.as_mut() else {
            return Ok(());
        };
        for (&i, &d) in slots.iter().zip(td_abs) {
            let p = f64::from(d).abs() + eps;
            if !p.is_finite() || i >= self.capacity {
                return Err(AgentError::Unsupported(format!(
                    "priority {p} for slot {i} of a buffer of {}",
                    self.capacity
                )));
            }
            pr.max = pr.max.max(p);
            pr.set(i, p);
        }
        Ok(())
    }

    /// Also keeps the action mask of every `next_obs` (`num_actions` bits per transition), for
    /// environments with one: a TD target then maximises over the legal actions only.
    pub fn with_masks(mut self, num_actions: usize) -> Self {
        self.mask_len = num_actions;
        self.masks = vec![0; self.capacity * num_actions.div_ceil(64)];
        self
    }

    fn mask_words(&self) -> usize {
        self.mask_len.div_ceil(64)
    }

    /// Transitions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The storage codec.
    pub fn codec(&self) -> ObsCodec {
        self.codec
    }

    /// Bytes of observation storage (both observations of every slot).
    pub fn obs_bytes(&self) -> usize {
        self.bits.len() * 8 + self.floats.len() * 4
    }

    fn put_obs(&mut self, slot: usize, which: usize, obs: &[f32]) -> Result<()> {
        match self.codec {
            ObsCodec::Bits => {
                let w = self.words;
                pack_bits(
                    obs,
                    &mut self.bits[(slot * 2 + which) * w..(slot * 2 + which + 1) * w],
                )?;
            }
            ObsCodec::F32 => {
                let l = self.obs_len;
                self.floats[(slot * 2 + which) * l..(slot * 2 + which + 1) * l]
                    .copy_from_slice(obs);
            }
        }
        Ok(())
    }

    fn get_obs(&self, slot: usize, which: usize, out: &mut Vec<f32>) {
        match self.codec {
            ObsCodec::Bits => {
                let w = self.words;
                let src = &self.bits[(slot * 2 + which) * w..(slot * 2 + which + 1) * w];
                unpack_bits(src, self.obs_len, out);
            }
            ObsCodec::F32 => {
                let l = self.obs_len;
                out.extend_from_slice(
                    &self.floats[(slot * 2 + which) * l..(slot * 2 + which + 1) * l],
                );
            }
        }
    }

    /// Adds a transition (with the action mask of its `next_obs`, where the buffer keeps masks;
    /// `None`: every action legal), overwriting the oldest when full.
    pub fn push(&mut self, t: &NStepTransition, next_mask: Option<&[bool]>) -> Result<()> {
        if t.obs.len() != self.obs_len || t.next_obs.len() != self.obs_len {
            return Err(AgentError::Unsupported(format!(
                "observation of {} values for a buffer of {}",
                t.obs.len(),
                self.obs_len
            )));
        }
        let slot = self.pos;
        self.put_obs(slot, 0, &t.obs)?;
        self.put_obs(slot, 1, &t.next_obs)?;
        self.actions[slot] = t.action;
        self.rewards[slot] = t.reward;
        self.discounts[slot] = t.discount;
        if self.mask_len > 0 {
            let w = self.mask_words();
            let dst = &mut self.masks[slot * w..(slot + 1) * w];
            dst.fill(0);
            for a in 0..self.mask_len {
                if next_mask.is_none_or(|m| m.get(a).copied().unwrap_or(false)) {
                    dst[a / 64] |= 1 << (a % 64);
                }
            }
        }
        if let Some(pr) = self.priorities.as_mut() {
            let max = pr.max;
            pr.set(slot, max);
        }
        self.pos = (self.pos + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
        Ok(())
    }

    /// Samples `b` transitions uniformly (with replacement) into `out`.
    pub fn sample(&self, b: usize, rng: &mut Rng, out: &mut Batch) {
        self.clear_batch(out);
        for _ in 0..b {
            let i = rng.below(self.len.max(1));
            self.gather(i, out);
        }
    }

    /// Samples `b` transitions by priority into `out`, one from each of `b` equal strata of the
    /// priorities' total, with importance weights `(N·P(i))^−beta` divided by the batch's
    /// largest. A buffer without priorities samples uniformly (and leaves the weights empty).
    pub fn sample_prioritized(&self, b: usize, beta: f64, rng: &mut Rng, out: &mut Batch) {
        let Some(pr) = self.priorities.as_ref().filter(|p| p.total() > 0.0) else {
            return self.sample(b, rng, out);
        };
        self.clear_batch(out);
        let (total, n) = (pr.total(), self.len.max(1) as f64);
        let stratum = total / b.max(1) as f64;
        let mut weights = Vec::with_capacity(b);
        for k in 0..b {
            let u = ((k as f64 + rng.uniform()) * stratum).min(total * (1.0 - f64::EPSILON));
            let i = pr.find(u, self.len);
            self.gather(i, out);
            let p = (pr.leaf(i) / total).max(f64::MIN_POSITIVE);
            weights.push((n * p).powf(-beta));
        }
        let max = weights.iter().copied().fold(0.0, f64::max);
        out.weights = weights.iter().map(|&w| (w / max) as f32).collect();
    }

    fn clear_batch(&self, out: &mut Batch) {
        out.obs.clear();
        out.next_obs.clear();
        out.actions.clear();
        out.rewards.clear();
        out.discounts.clear();
        out.next_masks.clear();
        out.slots.clear();
        out.weights.clear();
    }

    /// Appends slot `i`'s transition to `out`.
    fn gather(&self, i: usize, out: &mut Batch) {
        self.get_obs(i, 0, &mut out.obs);
        self.get_obs(i, 1, &mut out.next_obs);
        out.actions.push(self.actions[i] as i64);
        out.rewards.push(self.rewards[i]);
        out.discounts.push(self.discounts[i]);
        out.slots.push(i);
        if self.mask_len > 0 {
            let w = self.mask_words();
            let bits = &self.masks[i * w..(i + 1) * w];
            out.next_masks
                .extend((0..self.mask_len).map(|a| (bits[a / 64] >> (a % 64)) & 1 == 1));
        }
    }

    /// Writes the buffer to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut out = Vec::with_capacity(64 + self.obs_bytes() + self.len * 12);
        out.extend_from_slice(b"EMBERRPL");
        for v in [
            self.capacity as u64,
            self.obs_len as u64,
            matches!(self.codec, ObsCodec::Bits) as u64,
            self.len as u64,
            self.pos as u64,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for w in &self.bits {
            out.extend_from_slice(&w.to_le_bytes());
        }
        for f in self
            .floats
            .iter()
            .chain(&self.rewards)
            .chain(&self.discounts)
        {
            out.extend_from_slice(&f.to_le_bytes());
        }
        for a in &self.actions {
            out.extend_from_slice(&a.to_le_bytes());
        }
        for w in &self.masks {
            out.extend_from_slice(&w.to_le_bytes());
        }
        if let Some(pr) = &self.priorities {
            // The largest priority, then each slot's (p^α, as the tree holds it).
            out.extend_from_slice(&pr.max.to_le_bytes());
            for i in 0..self.capacity {
                out.extend_from_slice(&pr.leaf(i).to_le_bytes());
            }
        }
        let crc = ember_nets::crc::crc32c(&out);
        out.write_all(&crc.to_le_bytes())
            .map_err(|e| AgentError::Io {
                path: path.into(),
                source: e,
            })?;
        ember_nets::checkpoint::write_atomic(path, &out)?;
        Ok(())
    }

    /// Reads a buffer written by [`save`](Self::save); it must match `capacity`, `obs_len`, `codec`,
    /// the mask width `mask_len` (0: no masks) and the priorities' exponent (`None`: a buffer
    /// without priorities), and every stored action must be below `num_actions` (a crafted file
    /// with a correct checksum could otherwise hand the network an action it has no output for).
    pub fn load(
        path: &Path,
        capacity: usize,
        obs_len: usize,
        codec: ObsCodec,
        (mask_len, num_actions): (usize, usize),
        alpha: Option<f64>,
    ) -> Result<Self> {
        let bad = |reason: String| AgentError::BadState {
            path: path.into(),
            reason,
        };
        // The buffer this run would start with, and so the file's exact size: the file is read
        // only if it is a regular file of at most that size (a replay file that is a symlink to
        // `/dev/zero` or a FIFO is an error at once, not a hang or an allocation without end).
        let mut r = Replay::new(capacity, obs_len, codec);
        if mask_len > 0 {
            r = r.with_masks(mask_len);
        }
        if let Some(alpha) = alpha {
            r = r.with_priorities(alpha);
        }
        let need = 48
            + r.bits.len() * 8
            + (r.floats.len() + 2 * capacity) * 4
            + capacity * 4
            + r.masks.len() * 8
            + r.priorities.as_ref().map_or(0, |_| 8 + capacity * 8);
        let bytes =
            ember_envs::files::read_regular(path, need as u64 + 4).map_err(|e| AgentError::Io {
                path: path.into(),
                source: e,
            })?;
        if bytes.len() < 8 + 40 + 4 || &bytes[..8] != b"EMBERRPL" {
            return Err(bad("not a replay buffer file".into()));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if ember_nets::crc::crc32c(body) != u32::from_le_bytes(crc.try_into().expect("4")) {
            return Err(bad("checksum mismatch (damaged file)".into()));
        }
        let word =
            |i: usize| u64::from_le_bytes(body[8 + 8 * i..16 + 8 * i].try_into().expect("8"));
        let (cap, ol, is_bits, len, pos) = (word(0), word(1), word(2), word(3), word(4));
        let want_bits = matches!(codec, ObsCodec::Bits) as u64;
        if (cap, ol, is_bits) != (capacity as u64, obs_len as u64, want_bits)
            || len > cap
            || pos >= cap.max(1)
        {
            return Err(bad(format!(
                "buffer of capacity {cap}, obs_len {ol}, bits {is_bits}; this run needs \
                 {capacity}, {obs_len}, {want_bits}"
            )));
        }
        if body.len() != need {
            return Err(bad(format!("{} bytes, expected {need}", body.len())));
        }
        let mut at = 48;
        for w in r.bits.iter_mut() {
            *w = u64::from_le_bytes(body[at..at + 8].try_into().expect("8"));
            at += 8;
        }
        for f in r
            .floats
            .iter_mut()
            .chain(r.rewards.iter_mut())
            .chain(r.discounts.iter_mut())
        {
            *f = f32::from_le_bytes(body[at..at + 4].try_into().expect("4"));
            at += 4;
        }
        for a in r.actions.iter_mut() {
            *a = u32::from_le_bytes(body[at..at + 4].try_into().expect("4"));
            at += 4;
        }
        for w in r.masks.iter_mut() {
            *w = u64::from_le_bytes(body[at..at + 8].try_into().expect("8"));
            at += 8;
        }
        r.len = len as usize;
        r.pos = pos as usize;
        if let Some(pr) = r.priorities.as_mut() {
            let mut f64_at = || {
                let v = f64::from_le_bytes(body[at..at + 8].try_into().expect("8"));
                at += 8;
                v
            };
            pr.max = f64_at();
            if !(pr.max.is_finite() && pr.max > 0.0) {
                return Err(bad(format!("largest priority {}", pr.max)));
            }
            for i in 0..capacity {
                let leaf = f64_at();
                // Priorities are finite, not negative, and 0 exactly on the slots not filled yet.
                if !(leaf.is_finite() && leaf >= 0.0) || (i >= len as usize && leaf != 0.0) {
                    return Err(bad(format!("priority {leaf} in slot {i} of {len}")));
                }
                pr.tree[pr.leaves + i] = leaf;
            }
            for node in (1..pr.leaves).rev() {
                pr.tree[node] = pr.tree[2 * node] + pr.tree[2 * node + 1];
            }
        }
        if let Some(a) = r.actions[..r.len]
            .iter()
            .find(|&&a| a as usize >= num_actions)
        {
            return Err(bad(format!(
                "it holds action {a}; this run has {num_actions} actions"
            )));
        }
        Ok(r)
    }
}

/// A transition ready for the buffer: `reward` is the discounted sum of up to `n` rewards and
/// `discount` what multiplies the bootstrap value of `next_obs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NStepTransition {
    pub obs: Vec<f32>,
    pub action: u32,
    pub reward: f32,
    pub next_obs: Vec<f32>,
    pub discount: f32,
}

/// Turns one-step transitions into n-step ones, per environment. With `n = 1` it passes them
/// through. Its pending steps are part of a checkpoint (serde).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NStep {
    n: usize,
    gamma: f32,
    pending: Vec<VecDeque<(Vec<f32>, u32, f32)>>,
}

impl NStep {
    /// An accumulator for `envs` environments.
    pub fn new(n: usize, gamma: f32, envs: usize) -> Self {
        NStep {
            n: n.max(1),
            gamma,
            pending: vec![VecDeque::new(); envs],
        }
    }

    /// Records that env `i` took `action` in `obs`, got `reward` and reached `next_obs`;
    /// emits the transitions that are now complete.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        i: usize,
        obs: &[f32],
        action: u32,
        reward: f32,
        next_obs: &[f32],
        terminated: bool,
        truncated: bool,
        emit: &mut dyn FnMut(NStepTransition) -> Result<()>,
    ) -> Result<()> {
        let (n, gamma) = (self.n, self.gamma);
        let q = &mut self.pending[i];
        q.push_back((obs.to_vec(), action, reward));
        let make = |q: &VecDeque<(Vec<f32>, u32, f32)>, end_discount: bool| {
            let (o, a, _) = &q[0];
            let mut ret = 0f32;
            let mut g = 1f32;
            for (_, _, r) in q {
                ret += g * r;
                g *= gamma;
            }
            NStepTransition {
                obs: o.clone(),
                action: *a,
                reward: ret,
                next_obs: next_obs.to_vec(),
                discount: if end_discount { 0.0 } else { g },
            }
        };
        if terminated || truncated {
            while !q.is_empty() {
                emit(make(q, terminated))?;
                q.pop_front();
            }
        } else if q.len() == n {
            emit(make(q, false))?;
            q.pop_front();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_and_refuse_non_binary() {
        let mut r = Replay::new(3, 70, ObsCodec::Bits);
        let obs: Vec<f32> = (0..70).map(|i| (i % 3 == 0) as u8 as f32).collect();
        let next: Vec<f32> = (0..70).map(|i| (i % 5 == 0) as u8 as f32).collect();
        let t = NStepTransition {
            obs: obs.clone(),
            action: 2,
            reward: 0.5,
            next_obs: next.clone(),
            discount: 0.9,
        };
        r.push(&t, None).unwrap();
        let mut b = Batch::default();
        r.sample(1, &mut Rng::new(0), &mut b);
        assert_eq!(
            (b.obs, b.next_obs, b.actions, b.rewards, b.discounts),
            (obs, next, vec![2], vec![0.5], vec![0.9])
        );
        let mut bad = t.clone();
        bad.obs[3] = 0.5;
        assert!(r.push(&bad, None).unwrap_err().to_string().contains("0.5"));
        assert_eq!(r.obs_bytes(), 3 * 2 * 2 * 8);
    }

    /// Unpacking gives back what was packed, at lengths around bytes and words, appended.
    #[test]
    fn pack_unpack_round_trip() {
        for len in [0usize, 1, 7, 8, 9, 63, 64, 65, 100, 400, 1000] {
            let obs: Vec<f32> = (0..len)
                .map(|i| ((i * 7 + i / 3) % 3 == 0) as u8 as f32)
                .collect();
            let mut words = vec![0u64; len.div_ceil(64)];
            pack_bits(&obs, &mut words).unwrap();
            let mut out = vec![9.0];
            unpack_bits(&words, len, &mut out);
            assert_eq!(out[0], 9.0);
            assert_eq!(&out[1..], &obs[..], "len {len}");
        }
    }

    #[test]
    fn save_load_round_trip_and_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Replay::new(4, 3, ObsCodec::F32);
        for k in 0..6 {
            let t = NStepTransition {
                obs: vec![k as f32; 3],
                action: k,
                reward: k as f32,
                next_obs: vec![-(k as f32); 3],
                discount: 0.99,
            };
            r.push(&t, None).unwrap();
        }
        let p = dir.path().join("r.bin");
        r.save(&p).unwrap();
        assert_eq!(
            Replay::load(&p, 4, 3, ObsCodec::F32, (0, 6), None).unwrap(),
            r
        );
        assert!(Replay::load(&p, 5, 3, ObsCodec::F32, (0, 6), None).is_err());
        // The buffer holds actions 2..=5: a run with 5 actions has no output for action 5.
        let e = Replay::load(&p, 4, 3, ObsCodec::F32, (0, 5), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("it holds action 5; this run has 5 actions"),
            "{e}"
        );
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[60] ^= 1;
        std::fs::write(&p, bytes).unwrap();
        assert!(
            Replay::load(&p, 4, 3, ObsCodec::F32, (0, 6), None)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        // Not a regular file, or larger than this run's buffer: refused before reading.
        #[cfg(unix)]
        {
            let link = dir.path().join("zero.bin");
            std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
            let e = Replay::load(&link, 4, 3, ObsCodec::F32, (0, 6), None)
                .unwrap_err()
                .to_string();
            assert!(e.contains("not a regular file (a character device)"), "{e}");
        }
        std::fs::write(&p, vec![0u8; 1 << 20]).unwrap();
        let e = Replay::load(&p, 4, 3, ObsCodec::F32, (0, 6), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than"), "{e}");
    }

    #[test]
    fn masks_of_next_observations_are_kept_sampled_and_saved() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Replay::new(3, 2, ObsCodec::F32).with_masks(70);
        for k in 0..3u32 {
            let t = NStepTransition {
                obs: vec![k as f32; 2],
                action: k,
                reward: 0.0,
                next_obs: vec![k as f32; 2],
                discount: 1.0,
            };
            // Transition k: only action 3k+1 (and, for k = 2, 69) is legal; k = 0 has no mask.
            let mut mask = [false; 70];
            mask[3 * k as usize + 1] = true;
            mask[69] = k == 2;
            r.push(&t, (k > 0).then_some(&mask[..])).unwrap();
        }
        let mut b = Batch::default();
        r.sample(30, &mut Rng::new(1), &mut b);
        assert_eq!(b.next_masks.len(), 30 * 70);
        for (i, &a) in b.actions.iter().enumerate() {
            let m = &b.next_masks[i * 70..(i + 1) * 70];
            let legal: Vec<usize> = (0..70).filter(|&j| m[j]).collect();
            match a {
                0 => assert_eq!(legal.len(), 70),
                1 => assert_eq!(legal, [4]),
                _ => assert_eq!(legal, [7, 69]),
            }
        }
        let p = dir.path().join("r.bin");
        r.save(&p).unwrap();
        assert_eq!(
            Replay::load(&p, 3, 2, ObsCodec::F32, (70, 70), None).unwrap(),
            r
        );
        assert!(Replay::load(&p, 3, 2, ObsCodec::F32, (0, 70), None).is_err());
    }

    fn filled(capacity: usize, n: usize, alpha: f64) -> Replay {
        let mut r = Replay::new(capacity, 1, ObsCodec::F32).with_priorities(alpha);
        for i in 0..n {
            let t = NStepTransition {
                obs: vec![i as f32],
                action: 0,
                reward: i as f32,
                next_obs: vec![0.0],
                discount: 0.9,
            };
            r.push(&t, None).unwrap();
        }
        r
    }

    #[test]
    fn prioritized_sampling_follows_the_priorities_and_weights_by_them() {
        // Priorities 1, 2, 3, 4 (α = 1, ε = 0): slot i drawn with probability (i+1)/10.
        let mut r = filled(5, 4, 1.0);
        r.update_priorities(&[0, 1, 2, 3], &[1.0, 2.0, 3.0, 4.0], 0.0)
            .unwrap();
        let (mut rng, mut b) = (Rng::new(7), Batch::default());
        let mut counts = [0usize; 4];
        for _ in 0..2_000 {
            r.sample_prioritized(8, 0.5, &mut rng, &mut b);
            for (&slot, &reward) in b.slots.iter().zip(&b.rewards) {
                assert_eq!(reward, slot as f32, "the transition of the slot sampled");
                counts[slot] += 1;
            }
        }
        for (i, &c) in counts.iter().enumerate() {
            let p = c as f64 / 16_000.0;
            assert!((p - (i + 1) as f64 / 10.0).abs() < 0.01, "slot {i}: {p}");
        }
        // Weights (N·P)^−β over the batch's largest: the rarest slot has weight 1.
        r.sample_prioritized(4, 0.5, &mut rng, &mut b);
        let w = |slot: usize| (4.0 * (slot + 1) as f64 / 10.0).powf(-0.5);
        let max = b.slots.iter().map(|&i| w(i)).fold(0.0, f64::max);
        for (&slot, &weight) in b.slots.iter().zip(&b.weights) {
            assert!((weight as f64 - w(slot) / max).abs() < 1e-6);
        }
        // One draw per stratum: with equal priorities and B = N every slot comes once.
        let mut r = filled(4, 4, 0.6);
        r.update_priorities(&[0, 1, 2, 3], &[0.5; 4], 0.0).unwrap();
        r.sample_prioritized(4, 0.4, &mut rng, &mut b);
        assert_eq!(b.slots, vec![0, 1, 2, 3]);
        assert_eq!(b.weights, vec![1.0; 4]);
        // New transitions enter with the largest priority reported, never sampled past `len`.
        let mut r = filled(8, 2, 1.0);
        r.update_priorities(&[0, 1], &[9.0, 1.0], 0.0).unwrap();
        r.push(
            &NStepTransition {
                obs: vec![5.0],
                action: 0,
                reward: 2.0,
                next_obs: vec![0.0],
                discount: 0.0,
            },
            None,
        )
        .unwrap();
        for _ in 0..50 {
            r.sample_prioritized(3, 1.0, &mut rng, &mut b);
            assert!(b.slots.iter().all(|&i| i < 3));
        }
        assert_eq!(r.priorities.as_ref().unwrap().leaf(2), 9.0);
        assert!(r.update_priorities(&[0], &[f32::NAN], 0.0).is_err());
    }

    #[test]
    fn priorities_are_saved_and_checked_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.bin");
        let mut r = filled(6, 4, 0.6);
        r.update_priorities(&[1, 3], &[0.25, 7.0], 1e-6).unwrap();
        r.save(&p).unwrap();
        let back = Replay::load(&p, 6, 1, ObsCodec::F32, (0, 1), Some(0.6)).unwrap();
        assert_eq!(back, r);
        // The same batches from the loaded buffer.
        let (mut b1, mut b2) = (Batch::default(), Batch::default());
        r.sample_prioritized(5, 0.4, &mut Rng::new(3), &mut b1);
        back.sample_prioritized(5, 0.4, &mut Rng::new(3), &mut b2);
        assert_eq!((b1.slots, b1.weights), (b2.slots, b2.weights));
        // A run without priorities does not read a buffer with them, nor the other way round.
        assert!(Replay::load(&p, 6, 1, ObsCodec::F32, (0, 1), None).is_err());
        let plain = dir.path().join("plain.bin");
        Replay::new(6, 1, ObsCodec::F32).save(&plain).unwrap();
        assert!(Replay::load(&plain, 6, 1, ObsCodec::F32, (0, 1), Some(0.6)).is_err());
        // A negative priority (with a correct checksum) is refused.
        let mut bytes = std::fs::read(&p).unwrap();
        let body = bytes.len() - 4;
        let leaf0 = body - 6 * 8;
        bytes[leaf0..leaf0 + 8].copy_from_slice(&(-1f64).to_le_bytes());
        let crc = ember_nets::crc::crc32c(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        let e = Replay::load(&p, 6, 1, ObsCodec::F32, (0, 1), Some(0.6)).unwrap_err();
        assert!(e.to_string().contains("priority -1"), "{e}");
    }

    #[test]
    fn n_step_sums_discounted_rewards_and_stops_at_episode_ends() {
        let mut ns = NStep::new(3, 0.5, 1);
        let mut out = Vec::new();
        let o = |x: f32| vec![x];
        let mut emit = |t: NStepTransition| {
            out.push(t);
            Ok(())
        };
        ns.push(0, &o(0.0), 0, 1.0, &o(1.0), false, false, &mut emit)
            .unwrap();
        ns.push(0, &o(1.0), 0, 2.0, &o(2.0), false, false, &mut emit)
            .unwrap();
        ns.push(0, &o(2.0), 0, 4.0, &o(3.0), false, false, &mut emit)
            .unwrap();
        ns.push(0, &o(3.0), 0, 8.0, &o(4.0), true, false, &mut emit)
            .unwrap();
        // 0 -> 3: 1 + 0.5·2 + 0.25·4 = 3, bootstrap 0.125 from obs 3.
        assert_eq!(
            (
                out[0].obs[0],
                out[0].reward,
                out[0].next_obs[0],
                out[0].discount
            ),
            (0.0, 3.0, 3.0, 0.125)
        );
        // Terminal flush: from 1: 2 + 0.5·4 + 0.25·8 = 6; from 2: 4 + 4 = 8; from 3: 8; no bootstrap.
        let rest: Vec<(f32, f32, f32)> = out[1..]
            .iter()
            .map(|t| (t.obs[0], t.reward, t.discount))
            .collect();
        assert_eq!(
            rest,
            vec![(1.0, 6.0, 0.0), (2.0, 8.0, 0.0), (3.0, 8.0, 0.0)]
        );
    }
}
