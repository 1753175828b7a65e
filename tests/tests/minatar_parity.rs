//! Ember's MinAtar-style games against MinAtar 1.0.15 itself: under a uniform random policy, mean
//! return and mean episode length must agree within sampling error (a two-sample z-test at 4
//! standard errors, over thousands of episodes). Needs a Python with `minatar` (`.ci/run` installs
//! one); skipped with a note otherwise.

mod common;

use std::process::Command;

use common::{mean_std, python_with, repo_root, z_score};
use ember_envs::rng::Rng;
use ember_envs::wrappers::EpisodeStatistics;

fn ours(id: &str, episodes: usize, seed: u64, sticky: f64, ramping: bool) -> (Vec<f64>, Vec<f64>) {
    let opts = [
        ("sticky_action_prob", sticky.to_string()),
        ("difficulty_ramping", ramping.to_string()),
    ];
    let mut env = EpisodeStatistics::new(ember_envs::make(id, &opts).unwrap());
    let mut policy = Rng::new(seed ^ 0xA11CE);
    let (mut rets, mut lens) = (Vec::new(), Vec::new());
    use ember_envs::Env;
    env.reset(Some(seed));
    for _ in 0..episodes {
        loop {
            let s = env.step(policy.below(6)).unwrap();
            if let Some(e) = s.info.episode {
                rets.push(e.ret);
                lens.push(e.len as f64);
                break;
            }
        }
        env.reset(None);
    }
    (rets, lens)
}

fn theirs(
    py: &std::path::Path,
    game: &str,
    episodes: usize,
    seed: u64,
    sticky: f64,
    ramping: bool,
) -> (Vec<f64>, Vec<f64>) {
    let out = Command::new(py)
        .arg(repo_root().join("tests/python/minatar_random.py"))
        .args([
            game,
            &episodes.to_string(),
            &seed.to_string(),
            &sticky.to_string(),
            if ramping { "1" } else { "0" },
        ])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "minatar_random.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("JSON from minatar_random.py");
    let get = |k: &str| {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect::<Vec<_>>()
    };
    (get("returns"), get("lengths"))
}

fn compare(id: &str, game: &str, episodes: usize, sticky: f64, ramping: bool) {
    let Some(py) = python_with("minatar") else {
        return;
    };
    let (ra, la) = ours(id, episodes, 1, sticky, ramping);
    let (rb, lb) = theirs(&py, game, episodes, 2, sticky, ramping);
    let (zr, zl) = (z_score(&ra, &rb), z_score(&la, &lb));
    let report = format!(
        "{id} (sticky {sticky}, ramping {ramping}, {episodes} episodes each): return ours {:.3}±{:.3} MinAtar {:.3}±{:.3} (z {zr:.2}); \
         length ours {:.1}±{:.1} MinAtar {:.1}±{:.1} (z {zl:.2})",
        mean_std(&ra).0,
        mean_std(&ra).1,
        mean_std(&rb).0,
        mean_std(&rb).1,
        mean_std(&la).0,
        mean_std(&la).1,
        mean_std(&lb).0,
        mean_std(&lb).1,
    );
    eprintln!("{report}");
    assert!(
        zr.abs() < 4.0 && zl.abs() < 4.0,
        "differs from MinAtar beyond sampling error: {report}"
    );
}

macro_rules! parity {
    ($name:ident, $id:literal, $game:literal, $episodes:expr) => {
        #[test]
        fn $name() {
            if ember_envs::registry::spec($id).is_err() {
                panic!("{} is not registered", $id);
            }
            compare($id, $game, $episodes, 0.1, true);
            compare($id, $game, $episodes, 0.0, false);
        }
    };
}

parity!(breakout, "Breakout-v0", "breakout", 3000);
parity!(space_invaders, "SpaceInvaders-v0", "space_invaders", 2000);
parity!(freeway, "Freeway-v0", "freeway", 300);
parity!(asterix, "Asterix-v0", "asterix", 3000);
parity!(seaquest, "Seaquest-v0", "seaquest", 3000);
