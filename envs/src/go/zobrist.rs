//! Zobrist keys for positional superko.
//!
//! One 64-bit key per (colour, point) of the padded board, so a position's hash is the XOR of the
//! keys of its stones and a move updates it in O(stones changed). The keys are a fixed SplitMix64
//! sequence computed at compile time: they are constants of the program (the same on every run and
//! platform), not a source of randomness, so they stay outside `rng::Rng` without hiding any.

use super::board::CAP;

const fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const fn build() -> [[u64; CAP]; 2] {
    let mut t = [[0u64; CAP]; 2];
    let mut c = 0;
    let mut state: u64 = 0x00E1_B0E5_60DE_2024;
    while c < 2 {
        let mut p = 0;
        while p < CAP {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            t[c][p] = splitmix64(state);
            p += 1;
        }
        c += 1;
    }
    t
}

/// `KEYS[c][p]`: the key of a stone of colour index `c` (0 black, 1 white) on padded point `p`
/// (`CAP` entries so that masked indices need no bounds check).
pub static KEYS: [[u64; CAP]; 2] = build();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_nonzero() {
        let mut all: Vec<u64> = KEYS.iter().flatten().copied().collect();
        assert!(all.iter().all(|&k| k != 0));
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 2 * CAP);
    }
}
