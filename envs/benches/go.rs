//! Criterion benchmarks of the Go engine: random playouts from the empty board (the `ember bench
//! go` loop) on 9x9 and 19x19, full-rules moves with undo, legal-move generation and
//! observation planes (what search and training pay per node).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ember_envs::game::Game;
use ember_envs::go::board::{Board, Color};
use ember_envs::go::playout::{default_cap, playout};
use ember_envs::go::state::GoState;
use ember_envs::rng::Rng;

fn playouts(c: &mut Criterion) {
    let mut g = c.benchmark_group("go_playout");
    for size in [9usize, 19] {
        let empty = Board::new(size).unwrap();
        let mut board = empty.clone();
        let mut rng = Rng::new(1);
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("{size}x{size}"), |b| {
            b.iter(|| {
                board.clone_from(&empty);
                playout(&mut board, Color::Black, &mut rng, default_cap(size))
            })
        });
    }
    g.finish();
}

/// A mid-game 9x9 position reached by 40 random legal moves.
fn midgame() -> GoState {
    let mut s = GoState::new(9, 7.5).unwrap();
    let mut rng = Rng::new(5);
    let mut buf = Vec::new();
    for _ in 0..40 {
        s.legal_actions(&mut buf);
        let a = buf[rng.below(buf.len() - 1)];
        s.apply(a).unwrap();
    }
    s
}

fn full_rules(c: &mut Criterion) {
    let s = midgame();
    let mut g = c.benchmark_group("go_full_rules_9x9");
    let mut legal = Vec::new();
    s.legal_actions(&mut legal);
    g.bench_function("legal_actions", |b| {
        let mut out = Vec::with_capacity(82);
        b.iter(|| {
            s.legal_actions(&mut out);
            out.len()
        })
    });
    g.bench_function("apply_undo", |b| {
        let mut t = s.clone();
        let mut i = 0;
        b.iter(|| {
            let a = legal[i % legal.len()];
            i += 1;
            t.apply(a).unwrap();
            Game::undo(&mut t).unwrap();
        })
    });
    g.bench_function("clone", |b| b.iter(|| s.clone()));
    g.bench_function("observe", |b| {
        let mut obs = vec![0.0f32; 10 * 81];
        b.iter(|| s.observe(&mut obs))
    });
    g.finish();
}

criterion_group!(benches, playouts, full_rules);
criterion_main!(benches);
