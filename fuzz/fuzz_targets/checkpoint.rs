//! Fuzzes the checkpoint reader on the paths a checkpoint file takes: `--resume` (header, CRC
//! and sections; the kind and model config checked against the run's own; weights, optimizer
//! state and the environments' replayed episodes applied) and `ember eval RUN_DIR` (the policy
//! built from the config the checkpoint itself names, then one action).
//!
//! Input: one flags byte, then the file. Flag bit 0 rewrites the file's last four bytes as the
//! CRC-32C of the rest, so that mutations get past the checksum to the header and the records
//! (a damaged file is refused at the CRC; a crafted one is not). Bit 1 resumes a DQN run instead
//! of a PPO one. The runs are those the seeds in `corpus/checkpoint/` came from: CartPole-v1 with
//! `model.mlp = [4]`, `model.hidden = 4` (PPO with 2 environments, DQN with 1).
//!
//! Every input must end in an error or a loaded model, never a panic, hang or huge allocation.
#![no_main]

use std::path::Path;

use ember_agents::NetConfig;
use ember_agents::common::adam;
use ember_agents::envs::{Envs, EnvsState};
use ember_agents::policy::{ActMode, from_checkpoint};
use ember_nets::crc::crc32c;
use ember_nets::{ActorCriticConfig, Checkpoint, DeviceChoice, QNetConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // As `ember` does: a panic inside burn while a record is applied is caught by
        // `ember_nets::checkpoint` and becomes an error, so it is not a crash here either.
        // Every other panic still aborts (libFuzzer's hook, kept underneath).
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !ember_nets::checkpoint::applying_record() {
                abort(info);
            }
        }));
    },
    |data: &[u8]| one(data)
);

fn one(data: &[u8]) {
    let Some((&flags, file)) = data.split_first() else {
        return;
    };
    let mut bytes = file.to_vec();
    if flags & 1 == 1 && bytes.len() >= 4 {
        let n = bytes.len() - 4;
        let crc = crc32c(&bytes[..n]);
        bytes[n..].copy_from_slice(&crc.to_le_bytes());
    }
    let Ok(ck) = Checkpoint::from_bytes(&bytes, Path::new("fuzz.ember")) else {
        return;
    };
    let net = NetConfig {
        mlp: vec![4],
        hidden: 4,
        ..NetConfig::default()
    };
    let enc = net.encoder(&[4]).expect("an MLP encoder");
    let dev = DeviceChoice::Cpu.autodiff_device().expect("the CPU");
    // `--resume`: the kind and config the run's `config.toml` gives, as the trainer checks them.
    let resumable = if flags & 2 == 0 {
        let cfg = ActorCriticConfig::new(enc, 2).with_hidden(4);
        ck.check("ppo", &cfg).is_ok() && {
            let _ = ck.apply_model(cfg.init(&dev).expect("a tiny net"));
            true
        }
    } else {
        let cfg = QNetConfig::new(enc, 2).with_hidden(4).with_dueling(false);
        ck.check("dqn", &cfg).is_ok() && {
            let _ = ck.apply_model(cfg.init(&dev).expect("a tiny net"));
            true
        }
    };
    if resumable {
        let _ = ck.apply_optimizer(adam(1e-5));
        replay_envs(&ck, if flags & 2 == 0 { 2 } else { 1 });
    }
    // `ember eval RUN_DIR`: whatever network the checkpoint names, then one greedy action.
    let infer = DeviceChoice::Cpu.device().expect("the CPU");
    if let Ok(mut p) = from_checkpoint(&ck, &infer, ActMode::Greedy, 0) {
        let obs = vec![0.0; p.obs_len()];
        let _ = p.act(&obs, None);
    }
}

/// The trainer's state: the environments are reset to their saved episodes and the saved
/// actions replayed.
fn replay_envs(ck: &Checkpoint, n: usize) {
    #[derive(serde::Deserialize)]
    struct State {
        envs: EnvsState,
    }
    let Ok(s) = ck.state::<State>() else {
        return;
    };
    let make = |_: usize| {
        ember_envs::make::<&str, &str>("CartPole-v1", &[]).map_err(ember_agents::AgentError::from)
    };
    if let Ok(mut envs) = Envs::new(n, 1, make) {
        let _ = envs.restore(&s.envs);
    }
}
