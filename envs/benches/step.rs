//! Criterion benchmarks of single-env stepping (random actions, resets included) for every
//! registered non-board environment, and of a 16-env `VecEnv` on one and two threads.
//! `ember bench env ID` measures the same loop from the command line.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ember_envs::rng::Rng;
use ember_envs::{Autoreset, Env, VecEnv, make};

const NO_OPTS: &[(&str, &str)] = &[];

fn ids() -> Vec<String> {
    ember_envs::registry::ids()
        .into_iter()
        .filter(|id| !id.starts_with("Go"))
        .collect()
}

fn single(c: &mut Criterion) {
    let mut g = c.benchmark_group("step");
    g.throughput(Throughput::Elements(1000));
    for id in ids() {
        let mut env = make(&id, NO_OPTS).unwrap();
        let n = env.action_space().n().unwrap();
        let mut rng = Rng::new(0);
        env.reset(Some(0));
        g.bench_function(&id, |b| {
            b.iter(|| {
                for _ in 0..1000 {
                    if env.step(rng.below(n)).unwrap().done() {
                        env.reset(None);
                    }
                }
            })
        });
    }
    g.finish();
}

fn vector(c: &mut Criterion) {
    let mut g = c.benchmark_group("vec16");
    g.throughput(Throughput::Elements(16 * 100));
    for id in ids().into_iter().take(2) {
        for threads in [1, 2] {
            let mut v = VecEnv::make(&id, NO_OPTS, 16, Autoreset::NextStep)
                .unwrap()
                .threaded(threads)
                .unwrap();
            let n = v.single_action_space().n().unwrap();
            v.reset(Some(0));
            let mut rng = Rng::new(1);
            g.bench_function(format!("{id}/threads{threads}"), |b| {
                b.iter_batched(
                    || {
                        (0..100)
                            .map(|_| (0..16).map(|_| rng.below(n)).collect::<Vec<_>>())
                            .collect::<Vec<_>>()
                    },
                    |batches| {
                        for a in &batches {
                            v.step(a).unwrap();
                        }
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(benches, single, vector);
criterion_main!(benches);
