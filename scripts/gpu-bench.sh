#!/bin/sh
# One epoch of LeNet-5 natively on GPUs, for a Linux machine with GPUs and no network (nothing
# is built or downloaded here): for each backend the binary has (wgpu: Vulkan; cuda), one GPU at
# batch sizes 64 and 512, then every GPU data-parallel at 512; each run prints its images/s and
# test accuracy ("done: ..." lines). Nothing in `make test` needs it.
#
# Build and carry beforehand, on a machine with the toolchains:
#   cargo build --features wgpu,cuda --bin lenet-train   # or just wgpu: cuda needs its toolkit
# then, where the GPUs are, beside data/ (the MNIST files of `make data`):
#   scripts/gpu-bench.sh [path/to/lenet-train]            # default target/debug/lenet-train
set -u
BIN=${1:-target/debug/lenet-train}
OUT=${TMPDIR:-/tmp}/gpu-bench
mkdir -p "$OUT"
GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
[ "${GPUS:-0}" -ge 1 ] || GPUS=1
echo "gpu-bench: $GPUS GPU(s); $("$BIN" --version)"
RUNS="1:64 1:512"
[ "$GPUS" -eq 1 ] || RUNS="$RUNS $GPUS:512"
for backend in wgpu cuda; do
  for run in $RUNS; do
    set -- $(echo "$run" | tr : ' ')
    printf '%s ×%s, batch %s: ' "$backend" "$1" "$2"
    timeout 300 "$BIN" --backend "$backend" --devices "$1" --batch-size "$2" --epochs 1 \
      --out "$OUT/$backend-$1-$2.ckpt" 2>&1 | grep -E '^done|lenet-train: ' | tail -1
  done
done
