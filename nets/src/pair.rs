//! Two-way fork-join on one helper thread that spins between jobs, for work split into pieces
//! of 50–300 µs: a DQN update of MinAtar's Q-net ([`crate::qnet_fused`]) and its Adam step, and
//! the playouts of a batch of search leaves (`ember_agents::mcts::RolloutEvaluator` on two
//! threads).
//!
//! Why not rayon: on this project's 2-core virtual machines an idle rayon worker sleeps on a
//! futex, and waking it (a futex wake, then the hypervisor scheduling the sleeping virtual CPU)
//! cost as much as the piece of work it was handed. BENCHMARKS.md has the figures: an update split
//! with `rayon::join` ran at 287–476 updates/s against 540–590 on one thread. A thread that spins
//! takes a job in about a microsecond (a cache line passing between cores). So the helper spins
//! for [`SPIN`] after each job, and only then parks, so that it costs a core only while the
//! caller is handing it work. No crate found offers that trade (rayon's and chili's workers sleep
//! between jobs, which is what the measurement above rules out), hence these ~100 lines.
//!
//! The values never depend on whether the helper is used: [`join`] runs `a` and `b` to the same
//! results either way (in the caller, one after the other, when the helper is busy, disabled or
//! asked for from inside a job). Callers split work into pieces with disjoint outputs and a fixed
//! split, so a run is the same bits with one thread or two (ARCHITECTURE.md's invariant). The
//! helper exists only when rayon's global pool has at least two threads (`RAYON_NUM_THREADS=1`
//! turns it off, for two runs sharing two cores).

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long the helper spins for the next job before it parks.
const SPIN: Duration = Duration::from_millis(2);

/// How long either side spins before it starts yielding its CPU while it waits.
const YIELD_AFTER: Duration = Duration::from_micros(20);

const IDLE: u8 = 0;
const POSTED: u8 = 1;
const DONE: u8 = 2;

/// A job: the caller's closure, its lifetime erased (see the safety argument in [`join`]).
struct JobRef(*mut (dyn FnMut() + Send + 'static));

// SAFETY: the closure behind the pointer is `Send` (its type says so); the pointer only travels to
// the helper, which calls it while the caller waits.
#[allow(unsafe_code)]
unsafe impl Send for JobRef {}

struct Helper {
    /// `IDLE` → `POSTED` (caller) → `DONE` (helper) → `IDLE` (caller).
    state: AtomicU8,
    /// Set by the helper before it parks (the caller then unparks it).
    sleeping: AtomicBool,
    /// Held by the one caller using the helper; others run their halves themselves.
    in_use: AtomicBool,
    /// Written by the caller before `POSTED`, taken by the helper after seeing it.
    job: UnsafeCell<Option<JobRef>>,
    /// A panic of the job, written by the helper before `DONE`, taken by the caller after.
    panic: UnsafeCell<Option<Box<dyn Any + Send>>>,
    thread: OnceLock<Thread>,
}

// SAFETY: `job` and `panic` are only touched by the side that the `state` protocol gives them to
// (with release/acquire orderings between the hand-overs); everything else is atomic.
#[allow(unsafe_code)]
unsafe impl Sync for Helper {}

/// The helper, started on first use; `None` when rayon's pool has one thread.
fn helper() -> Option<&'static Helper> {
    static HELPER: OnceLock<Option<&'static Helper>> = OnceLock::new();
    *HELPER.get_or_init(|| {
        if rayon::current_num_threads() < 2 {
            return None;
        }
        let h: &'static Helper = Box::leak(Box::new(Helper {
            state: AtomicU8::new(IDLE),
            sleeping: AtomicBool::new(false),
            in_use: AtomicBool::new(false),
            job: UnsafeCell::new(None),
            panic: UnsafeCell::new(None),
            thread: OnceLock::new(),
        }));
        let spawned = std::thread::Builder::new()
            .name("ember-pair".into())
            .spawn(move || serve(h));
        let thread = spawned.ok()?.thread().clone();
        let _ = h.thread.set(thread);
        Some(h)
    })
}

/// Spins until `done()`, yielding the CPU between checks once the wait passes [`YIELD_AFTER`] (when
/// the helper and the caller share one CPU, the other must get it to finish).
fn wait(done: impl Fn() -> bool) {
    let start = Instant::now();
    let mut spins = 0u32;
    while !done() {
        spins = spins.wrapping_add(1);
        if spins >= 64 && start.elapsed() > YIELD_AFTER {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// The helper's loop: spin for a job (parking after [`SPIN`] without one), run it, say so.
#[allow(unsafe_code)]
fn serve(h: &'static Helper) {
    loop {
        let mut since = Instant::now();
        let mut spins = 0u32;
        while h.state.load(Ordering::Acquire) != POSTED {
            spins = spins.wrapping_add(1);
            if spins >= 64 && since.elapsed() > YIELD_AFTER {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
            if spins.is_multiple_of(256) && since.elapsed() > SPIN {
                // Dekker's handshake with `join`: the caller stores POSTED then reads
                // `sleeping`; we store `sleeping` then read the state. One of us sees the other.
                h.sleeping.store(true, Ordering::SeqCst);
                if h.state.load(Ordering::SeqCst) != POSTED {
                    std::thread::park(); // an unpark, or a spurious wake: the loop checks again
                }
                h.sleeping.store(false, Ordering::SeqCst);
                since = Instant::now();
            }
        }
        // SAFETY: the caller wrote the job before storing POSTED (seen above with acquire) and
        // does not touch it until we store DONE.
        let job = unsafe { (*h.job.get()).take() };
        if let Some(JobRef(f)) = job {
            // SAFETY: `f` points at a closure on the caller's stack that outlives this call: the
            // caller waits for DONE before it returns or unwinds (see `join`).
            let result = catch_unwind(AssertUnwindSafe(|| unsafe { (*f)() }));
            if let Err(p) = result {
                // SAFETY: the caller reads `panic` only after seeing DONE.
                unsafe { *h.panic.get() = Some(p) };
            }
        }
        h.state.store(DONE, Ordering::Release);
    }
}

/// Runs `a` on the calling thread and `b` on the helper at the same time, and returns both
/// results; both on the calling thread (`b` first) when there is no helper or it is busy. A
/// panic in either is resumed here after both have finished.
#[allow(unsafe_code)]
pub fn join<RA, RB>(a: impl FnOnce() -> RA, b: impl FnOnce() -> RB + Send) -> (RA, RB)
where
    RB: Send,
{
    let claimed = helper().filter(|h| {
        h.in_use
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    });
    let Some(h) = claimed else {
        let rb = b();
        return (a(), rb);
    };
    let mut b = Some(b);
    let mut rb = None;
    let mut job = || rb = b.take().map(|b| b());
    let job: &mut (dyn FnMut() + Send + '_) = &mut job;
    // SAFETY: the lifetime is erased so the helper can hold the pointer; `job` lives on this stack
    // frame, and this function does not return or unwind before the helper has stored DONE (the
    // wait below comes before any exit, and `a`'s panic is caught until then), after which the
    // helper no longer touches it.
    let job: *mut (dyn FnMut() + Send + 'static) = unsafe { std::mem::transmute(job) };
    // SAFETY: we hold `in_use` and the state is IDLE, so the helper is not reading `job`.
    unsafe { *h.job.get() = Some(JobRef(job)) };
    h.state.store(POSTED, Ordering::SeqCst);
    if h.sleeping.load(Ordering::SeqCst)
        && let Some(t) = h.thread.get()
    {
        t.unpark();
    }
    let ra = catch_unwind(AssertUnwindSafe(a));
    wait(|| h.state.load(Ordering::Acquire) == DONE);
    // SAFETY: the helper stored DONE (seen with acquire) after its last write to `panic`.
    let panic_b = unsafe { (*h.panic.get()).take() };
    h.state.store(IDLE, Ordering::Relaxed);
    h.in_use.store(false, Ordering::Release);
    match (ra, panic_b) {
        (Err(p), _) | (Ok(_), Some(p)) => resume_unwind(p),
        (Ok(ra), None) => (ra, rb.expect("ember-pair: the job ran")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both halves run and return, borrowed data included, many times in a row (the helper's
    /// spin and park paths both taken), and a nested join runs in place.
    #[test]
    fn join_runs_both_halves() {
        let data: Vec<u64> = (0..10_000).collect();
        for round in 0..2_000u64 {
            let (lo, hi) = data.split_at(5_000);
            let (a, b) = join(|| lo.iter().sum::<u64>() + round, || hi.iter().sum::<u64>());
            assert_eq!(a + b, data.iter().sum::<u64>() + round);
            if round % 500 == 0 {
                std::thread::sleep(SPIN * 2); // the helper parks; the next join wakes it
            }
        }
        let (x, (y, z)) = join(|| 1, || join(|| 2, || 3));
        assert_eq!((x, y, z), (1, 2, 3));
        let mut out = [0u32; 2];
        let (l, r) = out.split_at_mut(1);
        join(|| l[0] = 7, || r[0] = 9);
        assert_eq!(out, [7, 9]);
    }

    /// A panic on either side reaches the caller, and the helper keeps working afterwards.
    #[test]
    fn panics_reach_the_caller() {
        for side in 0..2 {
            let r = catch_unwind(|| {
                join(
                    || assert!(side != 0, "left"),
                    || assert!(side != 1, "right"),
                )
            });
            assert!(r.is_err(), "side {side}");
        }
        assert_eq!(join(|| 4, || 5), (4, 5));
    }

    /// Callers on several threads at once: one gets the helper, the others run in place.
    #[test]
    fn concurrent_callers_all_finish() {
        std::thread::scope(|s| {
            for t in 0..4u64 {
                s.spawn(move || {
                    for i in 0..500u64 {
                        assert_eq!(join(|| t + i, || t * i), (t + i, t * i));
                    }
                });
            }
        });
    }
}
