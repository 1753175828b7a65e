#!/usr/bin/env bash
# Bounded fuzzing of the readers that face untrusted input: the GTP engine (`fuzz_targets/gtp.rs`, every
# command line a GUI or a game server could send, file access off) and the SGF reader (`sgf.rs`). Not part of
# `tests/run-all.sh` (libFuzzer needs a sanitizer build of its own); run it by hand or from a scheduled job:
#
#   bash .ci/fuzz.sh            # 120 s per target
#   FUZZ_SECONDS=600 bash .ci/fuzz.sh
#
# Installs cargo-fuzz from crates.io when missing. libFuzzer needs nightly-only rustc flags; the stable
# toolchain accepts them with RUSTC_BOOTSTRAP=1. New corpus entries go to a temporary directory (the
# committed seeds in fuzz/corpus/ are read, never grown); a crash leaves its input in fuzz/artifacts/ and
# makes the script fail.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECS="${FUZZ_SECONDS:-120}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ember-fuzz/target}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in gtp sgf; do
  mkdir -p "$work/$t"
  echo "==> fuzzing $t for $SECS s" >&2
  cargo fuzz run "$t" "$work/$t" "corpus/$t" -- -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 2>&1 \
    | grep -E '^(#[0-9]+.*(DONE|pulse)|Done|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' || true
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "fuzz target $t failed (see fuzz/artifacts/$t)" >&2; exit 1; }
done
echo "fuzzing done: no crash in $SECS s per target" >&2
