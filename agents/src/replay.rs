//! The DQN replay buffer and the n-step accumulator.
//!
//! Observations are stored compactly: 0/1 planes (MinAtar's observations) as packed bits, 64 per
//! `u64` word, 32x less than `f32`; anything else as `f32`. Each transition stores its own next
//! observation (so episode ends and n-step returns need no index arithmetic) and a `discount`:
//! `γ^k` to bootstrap from the next observation after `k` rewards, or 0 when the episode
//! terminated (a truncated episode still bootstraps).

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
    out.extend((0..len).map(|i| ((src[i / 64] >> (i % 64)) & 1) as f32));
}

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
        }
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
        self.pos = (self.pos + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
        Ok(())
    }

    /// Samples `b` transitions uniformly (with replacement) into `out`.
    pub fn sample(&self, b: usize, rng: &mut Rng, out: &mut Batch) {
        out.obs.clear();
        out.next_obs.clear();
        out.actions.clear();
        out.rewards.clear();
        out.discounts.clear();
        out.next_masks.clear();
        let w = self.mask_words();
        for _ in 0..b {
            let i = rng.below(self.len.max(1));
            self.get_obs(i, 0, &mut out.obs);
            self.get_obs(i, 1, &mut out.next_obs);
            out.actions.push(self.actions[i] as i64);
            out.rewards.push(self.rewards[i]);
            out.discounts.push(self.discounts[i]);
            if self.mask_len > 0 {
                let bits = &self.masks[i * w..(i + 1) * w];
                out.next_masks
                    .extend((0..self.mask_len).map(|a| (bits[a / 64] >> (a % 64)) & 1 == 1));
            }
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
        let crc = ember_nets::crc::crc32c(&out);
        out.write_all(&crc.to_le_bytes())
            .map_err(|e| AgentError::Io {
                path: path.into(),
                source: e,
            })?;
        ember_nets::checkpoint::write_atomic(path, &out)?;
        Ok(())
    }

    /// Reads a buffer written by [`save`](Self::save); it must match `capacity`, `obs_len`, `codec`
    /// and the mask width `mask_len` (0: no masks), and every stored action must be below
    /// `num_actions` (a crafted file with a correct checksum could otherwise hand the network an
    /// action it has no output for).
    pub fn load(
        path: &Path,
        capacity: usize,
        obs_len: usize,
        codec: ObsCodec,
        mask_len: usize,
        num_actions: usize,
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
        let need = 48
            + r.bits.len() * 8
            + (r.floats.len() + 2 * capacity) * 4
            + capacity * 4
            + r.masks.len() * 8;
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
        assert_eq!(Replay::load(&p, 4, 3, ObsCodec::F32, 0, 6).unwrap(), r);
        assert!(Replay::load(&p, 5, 3, ObsCodec::F32, 0, 6).is_err());
        // The buffer holds actions 2..=5: a run with 5 actions has no output for action 5.
        let e = Replay::load(&p, 4, 3, ObsCodec::F32, 0, 5)
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
            Replay::load(&p, 4, 3, ObsCodec::F32, 0, 6)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        // Not a regular file, or larger than this run's buffer: refused before reading.
        #[cfg(unix)]
        {
            let link = dir.path().join("zero.bin");
            std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
            let e = Replay::load(&link, 4, 3, ObsCodec::F32, 0, 6)
                .unwrap_err()
                .to_string();
            assert!(e.contains("not a regular file (a character device)"), "{e}");
        }
        std::fs::write(&p, vec![0u8; 1 << 20]).unwrap();
        let e = Replay::load(&p, 4, 3, ObsCodec::F32, 0, 6)
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
        assert_eq!(Replay::load(&p, 3, 2, ObsCodec::F32, 70, 70).unwrap(), r);
        assert!(Replay::load(&p, 3, 2, ObsCodec::F32, 0, 70).is_err());
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
