//! The one random generator every environment uses: seedable, portable, fast.
//!
//! A thin wrapper over `rand_xoshiro`'s Xoshiro256++ so that a seed gives the same stream on every
//! platform and every build, and so that the few draws games need (`uniform`, `below`, `chance`)
//! are one call each.

use rand::{Rng as _, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A seeded random generator.
#[derive(Debug, Clone)]
pub struct Rng(Xoshiro256PlusPlus);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(Xoshiro256PlusPlus::seed_from_u64(seed))
    }

    /// A uniform `u64`.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[0, 1)`, 53 bits of precision.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `lo..hi` (as floats).
    #[inline]
    pub fn uniform_range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in `0..n` (`n > 0`), by Lemire's multiply-shift (bias below 2^-64 * n).
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// `true` with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// `chance(p)` for a `Chance::new(p)`: the same draw and the same outcome, without the float
    /// conversion.
    #[inline]
    pub fn hit(&mut self, c: Chance) -> bool {
        (self.next_u64() >> 11) < c.0
    }
}

/// A probability `p` prepared for `Rng::hit`: `uniform() < p` is `m * 2^-53 < p` for the 53-bit
/// integer `m` it is drawn from, which is `m < p * 2^53` exactly (scaling by a power of two is
/// exact), so `m < ceil(p * 2^53)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chance(u64);

impl Chance {
    pub fn new(p: f64) -> Chance {
        // `as` saturates (NaN to 0): p <= 0 and NaN never hit, p >= 1 always does.
        Chance(((p * (1u64 << 53) as f64).ceil() as u64).min(1 << 53))
    }
}

/// Derives the `i`-th child seed of `seed` (SplitMix64 finaliser), so one run seed fans out to
/// well-separated seeds for vector env members, wrappers and agents.
pub fn child_seed(seed: u64, i: u64) -> u64 {
    let mut z = seed ^ i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn below_is_in_range_and_covers() {
        let mut r = Rng::new(1);
        let mut seen = [0usize; 6];
        for _ in 0..6000 {
            seen[r.below(6)] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800 && c < 1200), "{seen:?}");
        for _ in 0..1000 {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn hit_is_chance() {
        for p in [
            0.0,
            1e-300,
            1e-17,
            0.1,
            1.0 / 3.0,
            0.5,
            0.9,
            1.0 - 1e-16,
            1.0,
            2.0,
            -1.0,
            f64::NAN,
        ] {
            let (mut a, mut b) = (Rng::new(3), Rng::new(3));
            for _ in 0..10_000 {
                assert_eq!(a.chance(p), b.hit(Chance::new(p)), "p = {p}");
            }
        }
        // Exactly at the boundary: the draws whose 53-bit integer is just below or at p * 2^53.
        let p = 0.1;
        let t = Chance::new(p).0;
        for m in [t - 1, t, t + 1] {
            let u = m as f64 * (1.0 / (1u64 << 53) as f64);
            assert_eq!(u < p, m < t, "m = {m}");
        }
    }

    #[test]
    fn child_seeds_differ() {
        let s: std::collections::HashSet<u64> = (0..1000).map(|i| child_seed(42, i)).collect();
        assert_eq!(s.len(), 1000);
    }
}
