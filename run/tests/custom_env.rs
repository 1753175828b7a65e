//! The custom-environment example trains briefly through the library and leaves what `ember
//! train` leaves: `config.toml`, TensorBoard events with the usual tags, checkpoints that resume,
//! `summary.json`; `ember_run::evaluate` then plays the trained agent on the run's own env.

#[path = "../examples/train_custom_env.rs"]
mod example;

use ember_run::eval::{EvalReport, EvalRequest};

#[test]
fn a_custom_env_trains_through_the_library_like_ember_train() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("corridor");
    let args: Vec<String> = [
        "--run-dir",
        dir.to_str().unwrap(),
        "--set",
        "train.total_steps=1024",
        "--set",
        "train.eval_every=512",
        "--set",
        "train.checkpoint_every=512",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let done = example::run(&args).unwrap();
    assert_eq!(done.run_dir, dir);
    assert_eq!(done.summary["env"], "Corridor-v0");
    assert_eq!(done.summary["steps"], 1024);
    assert!(done.eval_mean_return().is_some(), "{}", done.summary);
    for f in ["config.toml", "summary.json"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert!(
        std::fs::read_dir(dir.join("checkpoints")).unwrap().count() > 0,
        "no checkpoint"
    );
    let scalars = ember_nets::tensorboard::read_scalars(&dir).unwrap();
    for tag in [
        "charts/episodic_return",
        "eval/mean_return",
        "losses/value_loss",
    ] {
        assert!(scalars.contains_key(tag), "{tag}: {:?}", scalars.keys());
    }

    // The run resumes (already finished: it reports the same steps) and evaluates by its dir.
    let again = ember_run::resume(&dir, ember_run::DeviceChoice::Cpu).unwrap();
    assert_eq!(again.summary["steps"], 1024);
    let mut req = EvalRequest::new(dir.display().to_string());
    req.episodes = 3;
    match ember_run::evaluate(&req).unwrap() {
        EvalReport::Agent(e) => {
            assert_eq!(e.env, "Corridor-v0");
            assert_eq!(e.result.episodes, 3);
        }
        other => panic!("expected an agent evaluation, got {other:?}"),
    }
}
