//! "Stepping allocates nothing", made executable: a counting global allocator watches `step` on
//! every registered environment, on the wrappers and on `VecEnv` (threads off), after warm-up.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ember_envs::rng::Rng;
use ember_envs::wrappers::{ClipReward, EpisodeStatistics, FrameStack, StickyActions, TimeLimit};
use ember_envs::{Autoreset, Env, VecEnv, make};

struct Counting;

thread_local! {
    // Only the test's own thread counts: the harness may allocate on others meanwhile.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn note_alloc() {
    // `try_with`: the allocator may run while thread-locals are being torn down.
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn count<F: FnOnce()>(f: F) -> usize {
    ALLOCS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(|n| n.get())
}

fn random_steps(env: &mut dyn Env, rng: &mut Rng, steps: usize) {
    let n = env.action_space().n().unwrap();
    for _ in 0..steps {
        let a = match env.action_mask() {
            Some(m) => {
                let legal = m.iter().filter(|&&b| b).count();
                let k = rng.below(legal);
                m.iter().enumerate().filter(|(_, b)| **b).nth(k).unwrap().0
            }
            None => rng.below(n),
        };
        if env.step(a).unwrap().done() {
            env.reset(None);
        }
    }
}

const NO_OPTS: &[(&str, &str)] = &[];

#[test]
fn stepping_registered_envs_allocates_nothing() {
    for id in ember_envs::registry::ids() {
        let mut env = make(&id, NO_OPTS).unwrap();
        let mut rng = Rng::new(1);
        env.reset(Some(0));
        random_steps(&mut *env, &mut rng, 2000); // warm-up
        let n = count(|| random_steps(&mut *env, &mut rng, 20_000));
        // Go keeps an undo log whose reserve a rare capture-heavy game can outgrow (amortised
        // doubling: a handful of allocations over many games); everything else allocates nothing.
        let allowed = if id.starts_with("Go") { 2 } else { 0 };
        assert!(
            n <= allowed,
            "{id}: {n} allocations in 20k steps (resets included)"
        );
    }
}

#[test]
fn stepping_wrappers_allocates_nothing() {
    let inner = || make("Breakout-v0", NO_OPTS).unwrap();
    let mut envs: Vec<Box<dyn Env>> = vec![
        Box::new(TimeLimit::new(inner(), 50)),
        Box::new(EpisodeStatistics::new(inner())),
        Box::new(FrameStack::new(inner(), 4).unwrap()),
        Box::new(StickyActions::new(inner(), 0.25).unwrap()),
        Box::new(ClipReward::sign(inner())),
    ];
    for env in &mut envs {
        let mut rng = Rng::new(2);
        env.reset(Some(0));
        random_steps(&mut **env, &mut rng, 500);
        let n = count(|| random_steps(&mut **env, &mut rng, 5000));
        assert_eq!(n, 0, "a wrapper allocated {n} times");
    }
}

#[test]
fn stepping_a_vec_env_allocates_nothing() {
    for mode in [Autoreset::NextStep, Autoreset::SameStep] {
        let mut v = VecEnv::make("SpaceInvaders-v0", NO_OPTS, 8, mode).unwrap();
        v.reset(Some(0));
        let mut rng = Rng::new(3);
        let mut acts = vec![0usize; 8];
        let mut run = |v: &mut VecEnv, k: usize| {
            for _ in 0..k {
                for a in acts.iter_mut() {
                    *a = rng.below(6);
                }
                v.step(&acts).unwrap();
            }
        };
        run(&mut v, 200);
        let n = count(|| run(&mut v, 2000));
        assert_eq!(n, 0, "VecEnv ({mode:?}) allocated {n} times");
    }
}
