#!/usr/bin/env bash
# Runs every test of Ember on a fresh Debian machine: installs what the tests need (GNU Go, Debian's
# Fashion-MNIST, a Python venv with MinAtar, Gymnasium and pytest), then runs the whole Rust suite
# in release mode.
#
#   bash tests/run-all.sh
#
# Build artefacts and the venv live in a cache outside the clone ($EMBER_CACHE, default
# ~/.cache/ember), so a second run rebuilds only what changed. One cargo profile (release) is used
# for everything: tests, benchmarks and runs share one build of the dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${EMBER_CACHE:-$HOME/.cache/ember}"
mkdir -p "$CACHE"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

step() { printf '\n==> %s\n' "$*" >&2; }

# --- System packages (Debian) -------------------------------------------------------------------
need=()
[ -x /usr/games/gnugo ] || need+=(gnugo)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# --- Python reference implementations -----------------------------------------------------------
VENV="$CACHE/venv"
if ! "$VENV/bin/python" -c 'import minatar, gymnasium, pytest, numpy, maturin, tensorboard' 2>/dev/null; then
  step "creating the Python venv $VENV (numpy, gymnasium, pytest, maturin, tensorboard, minatar)"
  python3 -m venv "$VENV"
  # tensorboard: its own EventAccumulator reads back the event files Ember writes (nets/tests).
  "$VENV/bin/pip" install -q --disable-pip-version-check numpy 'gymnasium==1.4.*' pytest 'maturin>=1.5,<2' tensorboard
  # MinAtar's other requirements (matplotlib, seaborn, torch, ...) are only for its GUI and examples.
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps 'minatar==1.0.15'
fi
export EMBER_PYTHON="$VENV/bin/python"
# The Gymnasium bridge (python/gym) embeds CPython and imports gymnasium from this venv.
export VIRTUAL_ENV="$VENV"
# Missing reference tools are failures here, not skips.
export EMBER_REQUIRE_REFERENCES=1

# --- Rust ---------------------------------------------------------------------------------------
step "cargo test --release --workspace (target dir $CARGO_TARGET_DIR)"
cargo test --release --workspace --all-targets 2>&1
step "cargo test --release --workspace --doc"
cargo test --release --workspace --doc 2>&1
step "MinAtar frame-by-frame replays (ignored by default: they need Python with minatar)"
cargo test --release -p ember-envs --lib -- --ignored trace draws 2>&1
step "cargo test --release --workspace --features ember/gym --test cli (Python Gymnasium envs as gym:ID)"
# `--workspace` keeps cargo's feature unification the same as the first step's, so burn is not built
# a second time (`-p ember --features gym` resolves features for ember's tree alone and rebuilt it).
cargo test --release --workspace --features ember/gym --test cli 2>&1
step "cargo check --release -p ember -p ember-nets --features ember/wgpu (the GPU backend compiles)"
# Type-checks burn's wgpu backend and Ember's `--device gpu` path without a GPU. Metadata only, kept in
# the same cache. `cuda` is not checked: cubecl-cuda's build downloads an LLVM bundle from GitHub.
cargo check --release -p ember -p ember-nets --features ember/wgpu --bins --benches 2>&1

# --- Browser tests of `ember serve` -------------------------------------------------------------
# Debian's Chromium, driven by playwright-core, and Debian's firefox-esr, driven by puppeteer-core over
# WebDriver BiDi, both from the npm registry (pinned in tests/browser's package-lock.json); uses the
# release `ember` the workspace tests built.
step "browser tests of ember serve (headless Chromium + playwright-core, Firefox ESR + puppeteer-core)"
bneed=()
[ -x /usr/bin/chromium ] || bneed+=(chromium)
[ -x /usr/bin/firefox-esr ] || bneed+=(firefox-esr)
command -v node >/dev/null || bneed+=(nodejs)
command -v npm >/dev/null || bneed+=(npm)
if [ ${#bneed[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${bneed[@]}"
fi
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
EMBER_BIN="$CARGO_TARGET_DIR/release/ember" EMBER_ARTIFACTS="$CARGO_TARGET_DIR/browser-artifacts" \
  node --test --test-concurrency=1 tests/browser/serve.test.mjs tests/browser/firefox.test.mjs
echo "browser screenshots: $CARGO_TARGET_DIR/browser-artifacts" >&2

# --- Python bindings ----------------------------------------------------------------------------
step "building the Python module into $VENV (maturin develop --release) and running pytest"
(cd python && VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" maturin develop --release --quiet 2>&1)
(cd python && "$VENV/bin/python" -m pytest -q tests)

# --- The GPU path on a software Vulkan device ---------------------------------------------------
# cli/tests/gpu_path.rs on Mesa's lavapipe with --features wgpu: each head against the CPU, training
# steps, checkpoints across devices, `ember train --device gpu`. Its build is too long for a cold run,
# so it runs only once this cache holds it; `bash .ci/gpu-path.sh` warms it (see that script).
bash .ci/gpu-path.sh --if-warm
