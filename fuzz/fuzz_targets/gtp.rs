//! Fuzzes Ember's GTP engine: arbitrary bytes, split into lines, are fed to one engine (with a
//! seeded random player). It must answer every line without panicking, each answer must be a
//! well-formed GTP response, and the board's incremental invariants must hold throughout.
#![no_main]

use ember_envs::go::gtp::GtpEngine;
use ember_envs::go::player::RandomPlayer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut e = GtpEngine::new(9, Box::new(RandomPlayer::new(0))).unwrap();
    for line in data.split(|&b| b == b'\n').take(400) {
        let line = String::from_utf8_lossy(line);
        // Keep the fuzzer away from the file system: loadsgf/printsgf with a path are exercised
        // by the SGF target and the tests.
        let lower = line.to_ascii_lowercase();
        if lower.contains("loadsgf")
            || (lower.contains("printsgf") && lower.split_whitespace().count() > 1)
        {
            continue;
        }
        if let Some(ans) = e.handle(&line) {
            assert!(ans.starts_with('=') || ans.starts_with('?'), "{ans:?}");
            assert!(ans.ends_with("\n\n"), "{ans:?}");
        }
        if let Err(err) = e.state().board().validate() {
            panic!("after {line:?}: {err}");
        }
        if e.quit_requested() {
            break;
        }
    }
});
