//! Tuning for mimalloc, the allocator of the `ember` binary and the benches.
//!
//! burn allocates a fresh buffer for every op's output. mimalloc returns freed memory to the OS
//! 10 ms after it is freed (its `purge_delay`), so each training step faulted its pages back in
//! and the kernel zeroed them again: `clear_page_erms` was ≈ 10% of a Fashion-MNIST classifier
//! step. With purging off the process keeps its peak footprint for reuse, which is what a
//! training loop with a steady working set wants.

/// mimalloc v3's `mi_option_purge_delay` (the 16th entry of `mi_option_e` in the `mimalloc.h`
/// that `libmimalloc-sys` 0.1.49 builds).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Stops mimalloc from returning freed memory to the OS, unless the user chose a
/// `MIMALLOC_PURGE_DELAY` themselves. Call it first thing in `main`. Harmless when mimalloc is
/// linked but not the global allocator.
#[allow(unsafe_code)]
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: `mi_option_set` only stores an integer option in mimalloc's option table (atomic
    // stores); it takes no pointers and is safe to call at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}
