//! Fuzzes the experiment reader on the path a user's file takes through `ember train` before
//! anything is written: the TOML text and `--set` overrides (`Experiment::parse`), the kind's
//! typed tables and every check of values, sizes and the model config (`rl::parse` for DQN and
//! PPO, which also makes the environment; `from_experiment` and the network's `validate` for the
//! classifier and AlphaZero). Input: the file, then `--set` strings, separated by NUL bytes.
//!
//! Everything must be an error or a config, never a panic, hang or huge allocation; and a config
//! that passes must write a `config.toml` that reads back to the same config (what `--resume`
//! reads). Inputs naming external processes or files (`gtp:` engines, `az:RUN_DIR` players, a
//! `gym:` env) are skipped: the fuzzer must not start programs or read the disk. The classifier's
//! dataset is not loaded; its network is checked for Fashion-MNIST's shape, as `train` does.
#![no_main]

use ember_agents::dqn::DqnConfig;
use ember_agents::ppo::PpoConfig;
use ember_run::alphazero::AzExperiment;
use ember_run::classifier::ClassifierExperiment;
use ember_run::{Experiment, Kind, rl};
use libfuzzer_sys::fuzz_target;

/// Checks `text` as `train` would; on success returns the `config.toml` it would write.
fn check(text: &str, sets: &[String]) -> Option<String> {
    let exp = Experiment::parse(text, "fuzz.toml", sets).ok()?;
    match exp.kind {
        Kind::Classifier => {
            let x = ClassifierExperiment::from_experiment(&exp).ok()?;
            x.net([1, 28, 28], 10).validate().ok()?;
            x.to_toml().ok()
        }
        Kind::Dqn => rl::parse::<DqnConfig>(&exp).ok()?.to_toml().ok(),
        Kind::Ppo => rl::parse::<PpoConfig>(&exp).ok()?.to_toml().ok(),
        Kind::AlphaZero => AzExperiment::from_experiment(&exp).ok()?.to_toml().ok(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(all) = std::str::from_utf8(data) else {
        return;
    };
    let lower = all.to_ascii_lowercase();
    if ["gtp", "az:", "gym:"].iter().any(|s| lower.contains(s)) {
        return;
    }
    let mut parts = all.split('\0');
    let text = parts.next().unwrap_or_default();
    let sets: Vec<String> = parts.take(8).map(str::to_string).collect();
    if let Some(written) = check(text, &sets) {
        // What `--resume` reads back: the written config, resolved again, is the same.
        let again = check(&written, &[]);
        assert_eq!(
            again.as_deref(),
            Some(written.as_str()),
            "config.toml does not read back"
        );
    }
});
