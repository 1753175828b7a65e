#!/usr/bin/env bash
# The one GPU check, for a machine with a GPU (the team's `device` tool lends an NVIDIA H200): builds
# `ember` and the nets bench with a GPU feature, trains on `--device gpu` (the classifier, PPO, and
# AlphaZero self-play on 9x9 Go), and times the GPU against the CPU in the same run. Everything it measures lands in $OUT (default ./gpu-out) as logs and JSON lines;
# record the figures in BENCHMARKS.md with the date and the commit.
#
#   bash .ci/gpu-check.sh                      # FEATURES=wgpu (the GPU feature that builds offline)
#   FEATURES=cuda bash .ci/gpu-check.sh        # needs GitHub at build time (see BENCHMARKS.md, GPU)
#   EMBER_BIN=path/to/ember BENCH_BIN=path/to/vs_pytorch bash .ci/gpu-check.sh   # prebuilt binaries
#   FASHION_MNIST=dir bash .ci/gpu-check.sh    # the four IDX files, where Debian's package is absent
#   GPU_DEVICE=cpu FEATURES= bash .ci/gpu-check.sh   # a dry run of the whole script on the CPU
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-out}"
FEATURES="${FEATURES-wgpu}"
GPU="${GPU_DEVICE:-gpu}"
DATA="${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ember-gpu/target}"
mkdir -p "$OUT"
log() { printf '%s %s\n' "$(date -u +%FT%TZ)" "$*" | tee -a "$OUT/steps.log" >&2; }

{ nvidia-smi || true; git rev-parse HEAD 2>/dev/null || true; nproc; } > "$OUT/machine.txt" 2>&1

EMBER="${EMBER_BIN:-}"
BENCH="${BENCH_BIN:-}"
if [ -z "$EMBER" ] || [ -z "$BENCH" ]; then
  log "building ember and the nets bench with features '$FEATURES'"
  start=$(date +%s)
  feat=(); [ -n "$FEATURES" ] && feat=(--features "ember/$FEATURES")
  nfeat=(); [ -n "$FEATURES" ] && nfeat=(--features "ember-nets/$FEATURES")
  cargo build --release -p ember "${feat[@]}" > "$OUT/build.log" 2>&1
  cargo bench -p ember-nets "${nfeat[@]}" --bench vs_pytorch --no-run >> "$OUT/build.log" 2>&1
  log "built in $(( $(date +%s) - start )) s"
  EMBER="$CARGO_TARGET_DIR/release/ember"
  BENCH=$(ls -t "$CARGO_TARGET_DIR"/release/deps/vs_pytorch-* | grep -v '\.d$' | head -1)
fi

# 1. Network steps/s, GPU then CPU (PyTorch is not involved here).
for dev in "$GPU" cpu; do
  log "nets bench on $dev"
  "$BENCH" --bench --steps 200 --device "$dev" | tail -1 | tee "$OUT/bench_$dev.json"
done

# 2. The Fashion-MNIST classifier on the GPU: one epoch, with its accuracy and images/s.
log "fashion_mnist, 1 epoch on the $GPU"
"$EMBER" train experiments/fashion_mnist.toml --device "$GPU" --set train.epochs=1 \
  --set "data.path=$DATA" --run-dir "$OUT/fashion_mnist_gpu" --json \
  > "$OUT/fashion_mnist_gpu.log" 2>&1 || log "fashion_mnist on the $GPU failed (see its log)"
tail -1 "$OUT/fashion_mnist_gpu.log" | tee "$OUT/fashion_mnist_gpu.json"
# The adapter --device gpu opened (summary.json's `adapter`): a software device's timings are no GPU figures.
if grep -q '"software":true' "$OUT/fashion_mnist_gpu.json"; then
  log "WARNING: the GPU is a software device on the CPU (see fashion_mnist_gpu.json's adapter): keep these timings out of BENCHMARKS.md's speed tables"
fi

# 3. PPO on Breakout, 250k steps, GPU then CPU: env steps/s with the experiment's network.
for run in "1 $GPU" "2 cpu"; do
  set -- $run
  log "ppo_breakout, 250k steps on the $2"
  "$EMBER" train experiments/ppo_breakout.toml --device "$2" --set train.total_steps=250000 \
    --run-dir "$OUT/ppo_breakout_$1_$2" --json > "$OUT/ppo_breakout_$1_$2.log" 2>&1 \
    || log "ppo on the $2 failed (see its log)"
  tail -1 "$OUT/ppo_breakout_$1_$2.log" | tee "$OUT/ppo_breakout_$1_$2.json"
done
# 4. AlphaZero self-play + training on 9x9 Go, GPU then CPU: self-play evaluations/s (summary.json's
#    selfplay_evals_per_sec, mean batch, time outside the net) at the experiment's 64 parallel games.
for run in "1 $GPU" "2 cpu"; do
  set -- $run
  log "az_go9, 60 updates on the $2"
  "$EMBER" train experiments/az_go9.toml --device "$2" --set train.total_updates=60 \
    --set train.min_replay=500 --set train.eval_every=0 --set train.eval_games=0 \
    --run-dir "$OUT/az_go9_$1_$2" --json > "$OUT/az_go9_$1_$2.log" 2>&1 \
    || log "alphazero on the $2 failed (see its log)"
  tail -1 "$OUT/az_go9_$1_$2.log" | tee "$OUT/az_go9_$1_$2.json"
done
log "done"
