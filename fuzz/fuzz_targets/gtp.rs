//! Fuzzes Ember's GTP engine: arbitrary bytes, split into lines, are fed to one engine (with a
//! seeded random player, file access disabled). It must answer every line without panicking, each
//! answer must be a well-formed GTP response, and the board's incremental invariants must hold
//! throughout.
#![no_main]

use ember_envs::go::gtp::GtpEngine;
use ember_envs::go::player::RandomPlayer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // No file access: `loadsgf`/`printsgf FILE` answer an error (the SGF target covers the
    // reader; GTP's own input cleaning would otherwise let the fuzzer name files).
    let mut e = GtpEngine::new(9, Box::new(RandomPlayer::new(0)))
        .unwrap()
        .without_file_access();
    for line in data.split(|&b| b == b'\n').take(400) {
        let line = String::from_utf8_lossy(line);
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
