//! Cross-crate tests live in `tests/tests/`: they drive the `ember` binary end to end and compare
//! Ember's games with the reference implementations (MinAtar, Gymnasium, GNU Go) where installed.
