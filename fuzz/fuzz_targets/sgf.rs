//! Fuzzes Ember's SGF reader: arbitrary bytes must parse or fail with an error (never panic);
//! a record that replays must write back to text that parses to the same record.
#![no_main]

use ember_envs::go::sgf::GameRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rec) = GameRecord::parse(data) else {
        return;
    };
    let text = rec.to_sgf();
    let back = GameRecord::parse(text.as_bytes()).expect("Ember's own SGF parses");
    // The record itself comes back (setup order aside: Ember writes AB before AW).
    let sorted = |r: &GameRecord| {
        let mut v = r.setup.clone();
        v.sort_by_key(|&(c, xy)| (c as u8, xy));
        v
    };
    assert_eq!(sorted(&back), sorted(&rec));
    assert_eq!(
        (back.size, back.komi, &back.moves),
        (rec.size, rec.komi, &rec.moves)
    );
    assert_eq!(
        (&back.black, &back.white, &back.comment),
        (&rec.black, &rec.white, &rec.comment)
    );
    if let Ok(state) = rec.to_state() {
        state.board().validate().unwrap();
        let again = back.to_state().expect("the written record replays");
        // The same position (the arrays may differ: setup order changes chain bookkeeping).
        assert_eq!(again.board().ascii(), state.board().ascii());
        assert_eq!(again.board().hash(), state.board().hash());
        assert_eq!(again.to_play(), state.to_play());
    }
});
