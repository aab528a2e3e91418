#!/usr/bin/env bash
# Mixed precision trains as well as FP32: 200 iterations on the fortunes
# corpus in fp32, bf16 and fp16; the loss at iteration 200 (the same batch
# in every run) must be within 2% of the fp32 run's. With an mpiexec
# argument, the 16-bit runs go through multi-rank layouts instead, and bf16
# also with the distributed optimizer (its FP32 master weights and moments
# sharded over 2 data-parallel ranks). Without it, a Llama-family model
# (RoPE, RMSNorm, SwiGLU, 2 key/value groups, untied) is held to the same
# bound in bf16 and fp16 against its own fp32 run.
# fp16 starts at --initial-loss-scale 65536: Megatron's default 2^32 spends
# the first ~17 iterations halving the scale (each a skipped step), 8% of a
# run this short; that path is tested in nonfinite.sh.
# Usage: precision.sh <trident-train> [<mpiexec>]
set -euo pipefail
train=$1; mpiexec=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--num-layers 2 --hidden-size 128 --num-attention-heads 4 --seq-length 64 --micro-batch-size 8
       --global-batch-size 16 --train-iters 200 --lr 1e-3 --min-lr 1e-4 --lr-warmup-iters 20 --seed 5
       --log-interval 200 --data-path /usr/share/games/fortunes)
"$train" "${flags[@]}" --metrics-file "$work/f32.jsonl" > /dev/null
run() {  # run <name> <ranks> <flags...>
  local name=$1 n=$2; shift 2
  if [ -n "$mpiexec" ]; then
    "$mpiexec" -n "$n" --oversubscribe "$train" "${flags[@]}" "$@" --metrics-file "$work/$name.jsonl" > /dev/null
  else
    "$train" "${flags[@]}" "$@" --metrics-file "$work/$name.jsonl" > /dev/null
  fi
}
if [ -n "$mpiexec" ]; then
  run bf16 2 --bf16 --tp 2
  run fp16 2 --fp16 --initial-loss-scale 65536 --dp 2
  run bf16_distributed_optimizer 2 --bf16 --dp 2 --use-distributed-optimizer
else
  run bf16 1 --bf16
  run fp16 1 --fp16 --initial-loss-scale 65536
  llama=(--group-query-attention --num-query-groups 2 --swiglu --ffn-hidden-size 320 --normalization RMSNorm
         --position-embedding-type rope --untie-embeddings-and-output-weights --disable-bias-linear)
  run llama_f32 1 "${llama[@]}"
  run llama_bf16 1 "${llama[@]}" --bf16
  run llama_fp16 1 "${llama[@]}" --fp16 --initial-loss-scale 65536
fi
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
def last(name):
    rows = [json.loads(line) for line in open(f"{work}/{name}.jsonl")]
    assert rows[-1]["iteration"] == 200, rows[-1]
    return rows[-1]
ok = True
import glob, os
for name in sorted(os.path.basename(p)[:-6] for p in glob.glob(f"{work}/*.jsonl") if not p.endswith("f32.jsonl")):
    ref = last("llama_f32" if name.startswith("llama_") else "f32")["loss"]
    r = last(name)
    rel = abs(r["loss"] - ref) / ref
    good = rel <= 0.02
    ok &= good
    print(f"{'ok  ' if good else 'FAIL'} {name}: loss at 200 {r['loss']:.4f} vs its fp32 {ref:.4f} ({rel:.2%}); "
          f"{r['skipped_iterations']} skipped, loss scale {r['loss_scale']:.0f}")
sys.exit(0 if ok else 1)
PY
