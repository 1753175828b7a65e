//! The contract's pieces that are not one game: registry, options, wrappers, vector envs, the
//! custom-env example, CartPole through `check_env`.

#[path = "../examples/custom_env.rs"]
mod custom_env;

use ember_envs::wrappers::{ClipReward, EpisodeStatistics, FrameStack, StickyActions, TimeLimit};
use ember_envs::{Autoreset, Env, EnvError, Space, VecEnv, check_env, make};

const NO_OPTS: &[(&str, &str)] = &[];

#[test]
fn cartpole_passes_check_env() {
    let r = check_env(|| make("CartPole-v1", NO_OPTS).unwrap()).unwrap();
    assert_eq!(r.episodes, 3);
    assert!(r.terminated > 0);
}

#[test]
fn cartpole_time_limit_is_500_and_truncates() {
    let mut env = make("CartPole-v1", &[("max_steps", "3")]).unwrap();
    env.reset(Some(0));
    assert!(!env.step(0).unwrap().truncated);
    assert!(!env.step(1).unwrap().truncated);
    let s = env.step(0).unwrap();
    assert!(s.truncated && !s.terminated);
    assert_eq!(env.step(0).unwrap_err(), EnvError::EpisodeOver);
    let spec = ember_envs::registry::spec("CartPole-v1").unwrap();
    assert_eq!(spec.max_steps, 500);
}

#[test]
fn unknown_id_lists_known_ids() {
    let e = make("Breakout-v9", NO_OPTS).err().unwrap().to_string();
    assert!(
        e.contains("Breakout-v9") && e.contains("CartPole-v1"),
        "{e}"
    );
}

#[test]
fn unknown_option_and_bad_value_are_named() {
    let e = make("CartPole-v1", &[("gravity", "3")])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("`gravity`") && e.contains("max_steps"), "{e}");
    let e = make("CartPole-v1", &[("max_steps", "-1")])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("`-1`") && e.contains("integer"), "{e}");
}

#[test]
fn custom_env_example_registers_and_passes_check_env() {
    custom_env::register_corridor().unwrap();
    assert!(matches!(
        custom_env::register_corridor(),
        Err(EnvError::DuplicateId(_))
    ));
    assert!(ember_envs::registry::ids().contains(&"Corridor-v0".to_string()));
    check_env(|| make("Corridor-v0", &[("length", "6")]).unwrap()).unwrap();
    let e = make("Corridor-v0", &[("length", "1")])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("2..=1000"), "{e}");
    // The example's main runs to the goal.
    custom_env::main().unwrap_err_or_ok();
}

trait OkOrDup {
    fn unwrap_err_or_ok(self);
}
impl OkOrDup for Result<(), EnvError> {
    /// `main` registers again, which is a duplicate here: that is the only acceptable error.
    fn unwrap_err_or_ok(self) {
        match self {
            Ok(()) | Err(EnvError::DuplicateId(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn wrappers_pass_check_env() {
    check_env(|| {
        Box::new(EpisodeStatistics::new(
            make("CartPole-v1", NO_OPTS).unwrap(),
        ))
    })
    .unwrap();
    check_env(|| Box::new(FrameStack::new(make("CartPole-v1", NO_OPTS).unwrap(), 4).unwrap()))
        .unwrap();
    check_env(|| {
        Box::new(StickyActions::new(make("CartPole-v1", NO_OPTS).unwrap(), 0.25).unwrap())
    })
    .unwrap();
    check_env(|| {
        Box::new(ClipReward::bounds(make("CartPole-v1", NO_OPTS).unwrap(), -0.5, 0.5).unwrap())
    })
    .unwrap();
    check_env(|| Box::new(TimeLimit::new(make("CartPole-v1", NO_OPTS).unwrap(), 7))).unwrap();
}

#[test]
fn episode_statistics_report_return_and_length() {
    let mut env = EpisodeStatistics::new(make("CartPole-v1", NO_OPTS).unwrap());
    env.reset(Some(1));
    let mut n = 0;
    loop {
        n += 1;
        let s = env.step(1).unwrap();
        if s.done() {
            let e = s.info.episode.unwrap();
            assert_eq!(e.len, n);
            assert_eq!(e.ret, n as f64);
            break;
        }
        assert!(s.info.episode.is_none());
    }
}

#[test]
fn frame_stack_orders_oldest_first_and_pads_with_reset() {
    let mut env = FrameStack::new(make("CartPole-v1", NO_OPTS).unwrap(), 3).unwrap();
    assert_eq!(env.observation_space().shape(), &[3, 4]);
    let o0 = env.reset(Some(0)).to_vec();
    assert_eq!(&o0[0..4], &o0[4..8]);
    assert_eq!(&o0[4..8], &o0[8..12]);
    let o1 = env.step(0).unwrap().obs.to_vec();
    let o2 = env.step(1).unwrap().obs.to_vec();
    assert_eq!(
        &o2[0..4],
        &o0[8..12],
        "oldest frame is the reset observation"
    );
    assert_eq!(&o2[4..8], &o1[8..12]);
    assert_ne!(&o2[8..12], &o2[4..8]);
}

#[test]
fn sticky_actions_repeat_at_about_p() {
    // With p = 1 every action after the first repeats the first; with p = 0 none does.
    let mut env = StickyActions::new(make("CartPole-v1", NO_OPTS).unwrap(), 1.0).unwrap();
    let mut plain = make("CartPole-v1", NO_OPTS).unwrap();
    env.reset(Some(5));
    plain.reset(Some(5));
    // The wrapper's reset passes the same seed through, so the two start equal.
    let a = env.step(1).unwrap().obs.to_vec();
    assert_eq!(a, plain.step(1).unwrap().obs.to_vec());
    let b = env.step(0).unwrap().obs.to_vec();
    assert_eq!(
        b,
        plain.step(1).unwrap().obs.to_vec(),
        "p = 1 repeats the previous action"
    );
    assert!(StickyActions::new(make("CartPole-v1", NO_OPTS).unwrap(), 1.5).is_err());
    assert!(matches!(
        env.step(2),
        Err(EnvError::InvalidAction { action: 2, n: 2 })
    ));
}

#[test]
fn clip_reward_sign_and_bounds() {
    let mut env = ClipReward::bounds(make("CartPole-v1", NO_OPTS).unwrap(), 0.0, 0.25).unwrap();
    env.reset(Some(0));
    assert_eq!(env.step(0).unwrap().reward, 0.25);
    assert!(ClipReward::bounds(make("CartPole-v1", NO_OPTS).unwrap(), 1.0, 0.0).is_err());
}

fn cartpoles(n: usize) -> Vec<Box<dyn Env>> {
    (0..n)
        .map(|_| make("CartPole-v1", NO_OPTS).unwrap())
        .collect()
}

/// Steps N single envs by hand with Gymnasium's next-step autoreset and compares with `VecEnv`.
fn vec_matches_by_hand(threads: usize) {
    let n = 5;
    let mut v = VecEnv::new(cartpoles(n), Autoreset::NextStep)
        .unwrap()
        .threaded(threads)
        .unwrap();
    let mut singles = cartpoles(n);
    v.reset(Some(9));
    let mut ended = vec![false; n];
    for (i, e) in singles.iter_mut().enumerate() {
        let o = e
            .reset(Some(ember_envs::rng::child_seed(9, i as u64)))
            .to_vec();
        assert_eq!(v.obs().row(i).to_vec(), o);
    }
    let mut rng = ember_envs::rng::Rng::new(3);
    let mut resets = 0;
    for _ in 0..300 {
        let acts: Vec<usize> = (0..n).map(|_| rng.below(2)).collect();
        let s = v.step(&acts).unwrap();
        for i in 0..n {
            if ended[i] {
                let o = singles[i].reset(None).to_vec();
                assert_eq!(s.obs.row(i).to_vec(), o);
                assert_eq!(
                    (s.rewards[i], s.terminated[i], s.truncated[i]),
                    (0.0, false, false)
                );
                ended[i] = false;
                resets += 1;
            } else {
                let t = singles[i].step(acts[i]).unwrap();
                assert_eq!(s.obs.row(i).to_vec(), t.obs.to_vec());
                assert_eq!(
                    (s.rewards[i], s.terminated[i], s.truncated[i]),
                    (t.reward, t.terminated, t.truncated)
                );
                ended[i] = t.done();
            }
        }
    }
    assert!(resets > 5, "the test must exercise autoreset");
}

#[test]
fn vec_env_next_step_equals_single_envs() {
    vec_matches_by_hand(1);
}

#[test]
fn threaded_vec_env_equals_single_envs() {
    vec_matches_by_hand(2);
    vec_matches_by_hand(3);
}

#[test]
fn vec_env_same_step_keeps_final_obs() {
    let n = 3;
    let mut v = VecEnv::new(cartpoles(n), Autoreset::SameStep).unwrap();
    let mut singles = cartpoles(n);
    v.reset(Some(1));
    for (i, e) in singles.iter_mut().enumerate() {
        e.reset(Some(ember_envs::rng::child_seed(1, i as u64)));
    }
    let mut finals = 0;
    for _ in 0..200 {
        let acts = [1, 0, 1];
        let s = v.step(&acts).unwrap();
        for i in 0..n {
            let t = singles[i].step(acts[i]).unwrap();
            let (o, done) = (t.obs.to_vec(), t.done());
            assert_eq!(s.terminated[i], done);
            if done {
                assert!(s.has_final[i]);
                assert_eq!(s.final_obs.row(i).to_vec(), o);
                let r = singles[i].reset(None).to_vec();
                assert_eq!(s.obs.row(i).to_vec(), r);
                finals += 1;
            } else {
                assert!(!s.has_final[i]);
                assert_eq!(s.obs.row(i).to_vec(), o);
            }
        }
    }
    assert!(finals > 10);
}

#[test]
fn vec_env_rejects_bad_batches_without_moving() {
    let mut v = VecEnv::new(cartpoles(2), Autoreset::NextStep).unwrap();
    assert_eq!(v.step(&[0, 0]).unwrap_err(), EnvError::NeedsReset);
    v.reset(Some(0));
    let before = v.obs().to_owned();
    assert!(matches!(
        v.step(&[0]),
        Err(EnvError::BatchSize {
            expected: 2,
            got: 1
        })
    ));
    assert!(matches!(
        v.step(&[0, 7]),
        Err(EnvError::InvalidAction { action: 7, n: 2 })
    ));
    assert_eq!(v.obs(), before.view());
    assert_eq!(v.obs_nd().shape(), &[2, 4]);
    assert!(VecEnv::new(Vec::<Box<dyn Env>>::new(), Autoreset::NextStep).is_err());
    let mixed: Vec<Box<dyn Env>> = vec![
        make("CartPole-v1", NO_OPTS).unwrap(),
        Box::new(FrameStack::new(make("CartPole-v1", NO_OPTS).unwrap(), 2).unwrap()),
    ];
    assert!(matches!(
        VecEnv::new(mixed, Autoreset::NextStep),
        Err(EnvError::Mismatch(_))
    ));
}

#[test]
fn vec_env_disabled_autoreset_errors_on_finished_member() {
    let mut v = VecEnv::make("CartPole-v1", &[("max_steps", "2")], 2, Autoreset::Disabled).unwrap();
    v.reset(Some(0));
    v.step(&[0, 0]).unwrap();
    let s = v.step(&[0, 0]).unwrap();
    assert!(s.truncated.iter().all(|&t| t));
    assert_eq!(v.step(&[0, 0]).unwrap_err(), EnvError::EpisodeOver);
    assert_eq!(v.single_observation_space().shape(), &[4]);
    assert_eq!(v.single_action_space(), &Space::Discrete { n: 2 });
}
