#!/usr/bin/env bash
# Bounded fuzzing of the readers that face untrusted input: the GTP engine (`fuzz_targets/gtp.rs`, every
# command line a GUI or a game server could send, file access off), the SGF reader (`sgf.rs`), the
# experiment reader (`toml.rs`: TOML text and `--set` overrides through every check `ember train` makes
# before it writes anything) and the checkpoint reader (`checkpoint.rs`: header, CRC, records, the
# kind/config check of `--resume` and the policy `ember eval RUN_DIR` builds). Not part of
# `tests/run-all.sh` (libFuzzer needs an instrumented build of its own); run it by hand or from a
# scheduled job:
#
#   bash .ci/fuzz.sh                    # 120 s per target
#   FUZZ_SECONDS=600 bash .ci/fuzz.sh
#   bash .ci/fuzz.sh toml checkpoint    # some targets only
#
# Installs cargo-fuzz from crates.io when missing. libFuzzer needs nightly-only rustc flags; the stable
# toolchain accepts them with RUSTC_BOOTSTRAP=1. New corpus entries go to a temporary directory (the
# committed seeds in fuzz/corpus/ are read, never grown; the toml target also starts from
# experiments/*.toml); a crash leaves its input in fuzz/artifacts/TARGET/ and makes the script fail.
#
# Sanitizers: gtp and sgf are built with AddressSanitizer (cargo-fuzz's default). toml and checkpoint link
# burn (through ember-run and ember-nets, behind the fuzz crate's `burn` feature so that gtp and sgf build
# without it), and an instrumented build of burn is long: with
# `--sanitizer none --codegen-units 16` it took 34 min on 2 shared cores, at nice 5; an ASan build of it
# (cargo-fuzz's default, one codegen unit) was stopped unfinished after 17 min, still compiling burn-flex. Those two targets are built without a sanitizer: libFuzzer still
# finds their panics, hangs (-timeout) and memory blow-ups (-rss_limit_mb), and the workspace denies
# `unsafe` (ASan's out-of-bounds and use-after-free reports concern unsafe code). Each sanitizer setting
# has its own target directory under $CARGO_TARGET_DIR, so neither build overwrites the other's.
# Builds run at nice 5.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECS="${FUZZ_SECONDS:-120}"
TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ember-fuzz/target}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gtp sgf toml checkpoint)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  case "$t" in
    gtp | sgf)
      build=(--sanitizer address)
      dir="$TARGET_DIR"
      rss=2048
      ;;
    toml | checkpoint)
      build=(--features burn --sanitizer none --codegen-units 16)
      dir="$TARGET_DIR/none"
      # The checkpoint target's resident memory grows by about 1 KiB a run (0.8 GiB after 640k runs;
      # not traced: `ember` applies one checkpoint per process), hence the higher limit.
      rss=4096
      ;;
    *) echo "unknown fuzz target $t (gtp, sgf, toml, checkpoint)" >&2; exit 2 ;;
  esac
  mkdir -p "$work/$t"
  seeds=("corpus/$t")
  [ "$t" != toml ] || seeds+=(../experiments)
  echo "==> building $t (${build[*]})" >&2
  start=$(date +%s)
  CARGO_TARGET_DIR="$dir" nice -n 5 cargo fuzz build "${build[@]}" "$t" 2>&1 | grep -E '^(error|warning: unused)' || true
  echo "    built in $(( $(date +%s) - start )) s" >&2
  echo "==> fuzzing $t for $SECS s" >&2
  CARGO_TARGET_DIR="$dir" cargo fuzz run "${build[@]}" "$t" "$work/$t" "${seeds[@]}" -- \
    -max_total_time="$SECS" -rss_limit_mb="$rss" -timeout=10 2>&1 \
    | grep -E '^(#[0-9]+.*(DONE|pulse)|Done|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' || true
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "fuzz target $t failed (see fuzz/artifacts/$t)" >&2; exit 1; }
done
echo "fuzzing done: no crash in $SECS s per target (${targets[*]})" >&2
