#!/usr/bin/env bash
# The GPU path, run for real without a GPU: installs Mesa's software Vulkan device (lavapipe on
# llvmpipe, Debian's `mesa-vulkan-drivers`), builds Ember with `--features wgpu` in the test cache and
# runs cli/tests/gpu_path.rs on it: every head's forward pass against the CPU's `flex` backend,
# training steps of a classifier and a Q-net, checkpoints across devices, and `ember train --device
# gpu` end to end. It checks numbers, not speed: lavapipe is a CPU rasterizer.
#
#   bash .ci/gpu-path.sh             # build (once: a second compile of burn's backends) and test
#   bash .ci/gpu-path.sh --if-warm   # only if this cache already holds that build (tests/run-all.sh)
#
# The wgpu build recompiles burn's backends (burn-flex included) with cubecl: far longer than CI's
# budget allows on top of a cold run (BENCHMARKS.md, GPU). So tests/run-all.sh calls this with
# --if-warm: it runs when a previous run of this script built wgpu in the same cache for the same
# burn, cubecl and wgpu versions and the same rustc (the key below), and says how to warm the cache
# otherwise. Same cache as run-all.sh ($EMBER_CACHE, default ~/.cache/ember).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${EMBER_CACHE:-$HOME/.cache/ember}"
mkdir -p "$CACHE"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
MARK="$CARGO_TARGET_DIR/.ember-gpu-path-built"

step() { printf '\n==> %s\n' "$*" >&2; }

# What the expensive part of the build depends on: rustc, the burn line of Cargo.toml (its
# features) and the locked versions of burn, cubecl, wgpu and naga.
key() {
  { rustc -V; grep -E '^burn = ' Cargo.toml
    grep -A1 -E '^name = "(burn|cubecl|cubek|wgpu|naga)' Cargo.lock; } | sha256sum | cut -d' ' -f1
}

if [ "${1:-}" = --if-warm ] && [ "$(cat "$MARK" 2>/dev/null)" != "$(key)" ]; then
  step "skipping the GPU path: $CARGO_TARGET_DIR holds no wgpu build for this burn yet; warm it once with \`bash .ci/gpu-path.sh\` (about an hour here on 2 busy cores, BENCHMARKS.md, GPU)"
  exit 0
fi

# wgpu finds Vulkan drivers through the loader (libvulkan1) and their ICD files; lavapipe's is
# lvp_icd.<arch>.json from mesa-vulkan-drivers.
need=()
for p in mesa-vulkan-drivers libvulkan1; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

step "cargo test --release --workspace --features ember/wgpu --test gpu_path (on the software Vulkan device)"
# `--workspace` keeps feature unification the same as every other wgpu build in this cache.
start=$(date +%s)
cargo test --release --workspace --features ember/wgpu --test gpu_path --no-run 2>&1
key > "$MARK"
built=$(date +%s)
cargo test --release --workspace --features ember/wgpu --test gpu_path 2>&1
echo "GPU path: built in $(( built - start )) s, tests took $(( $(date +%s) - built )) s" >&2
