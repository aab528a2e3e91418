#!/usr/bin/env bash
# Checkpoints of the distributed optimizer stay global (issue 13):
#  1. a (1,1,4) run with --use-distributed-optimizer saved at iteration 10
#     resumes in the same layout bit-exactly, as (2,2,1) without it and as
#     (1,2,2) with it, each continuing to 20 within 1e-5 of an
#     uninterrupted run in the target layout;
#  2. a (2,1,2) run with it and --sequence-parallel (shards that cut the
#     fused Q|K|V blocks of tp = 2) resumes bit-exactly, and as (1,1,4) with it;
#  3. h5py reads whole tensors from the sharded checkpoint equal to those of
#     a checkpoint of the same run without the distributed optimizer (1e-5);
#  4. a token table padded beyond the vocabulary (--make-vocab-size-divisible-by
#     72: 256 ids in 288 rows, so some ranks' rows are padding only, never
#     stored) resumes bit-exactly, and as (2,1,2) with it;
#  5. a Llama-family model (RoPE, RMSNorm, SwiGLU, 4 query heads in 2
#     key/value groups, untied output layer, no biases) saved by (2,1,2)
#     with both resumes bit-exactly, and as (1,2,2) without either; h5py
#     reads its global tensors under trident's names, in their global shapes.
# Usage: resume_sharded.sh <trident-train> <mpiexec>
set -euo pipefail
train=$1; mpiexec=$2
here=$(cd "$(dirname "$0")" && pwd)
compare=$here/../mpi/compare_runs.py
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--num-layers 2 --hidden-size 64 --num-attention-heads 4 --seq-length 64 --micro-batch-size 2
       --global-batch-size 8 --train-iters 20 --lr 1e-3 --lr-warmup-iters 5 --seed 7 --log-interval 20
       --data-path /usr/share/games/fortunes --ddp-bucket-size 20000)
status=0
run() {  # run <out-prefix> <tp> <pp> <dp> <flags...>
  local out=$1 tp=$2 pp=$3 dp=$4; shift 4
  if ! "$mpiexec" -n $((tp * pp * dp)) --oversubscribe "$train" "${flags[@]}" --tp "$tp" --pp "$pp" --dp "$dp" "$@" \
       --metrics-file "$out.jsonl" --export-safetensors "$out.safetensors" > "$out.log" 2>&1; then
    echo "FAIL: trident-train ($tp,$pp,$dp) $* exited non-zero"; cat "$out.log"; return 1
  fi
}
check() {  # check <reference-prefix> <resumed-prefix> <name> [--exact]
  grep -q "loaded iteration 10" "$2.log" || { echo "FAIL $3: no load logged"; status=1; }
  /usr/bin/python3 "$compare" "$1.jsonl" "$2.jsonl" "$1.safetensors" "$2.safetensors" "$3" "${@:4}" || status=1
}
do=--use-distributed-optimizer
# 1. Saved by (1,1,4) with the distributed optimizer.
run "$work/src" 1 1 4 $do --save "$work/ck" --save-interval 10 || exit 1
run "$work/same" 1 1 4 $do --load "$work/ck" --load-iteration 10 && check "$work/src" "$work/same" "(1,1,4) do -> same" --exact
run "$work/ref221" 2 2 1 && run "$work/to221" 2 2 1 --load "$work/ck" --load-iteration 10 &&
  check "$work/ref221" "$work/to221" "(1,1,4) do -> (2,2,1)"
run "$work/ref122" 1 2 2 $do && run "$work/to122" 1 2 2 $do --load "$work/ck" --load-iteration 10 &&
  check "$work/ref122" "$work/to122" "(1,1,4) do -> (1,2,2) do"
# 2. Saved by (2,1,2) with the distributed optimizer and sequence parallelism.
run "$work/src2" 2 1 2 $do --sequence-parallel --save "$work/ck2" --save-interval 10 || exit 1
run "$work/same2" 2 1 2 $do --sequence-parallel --load "$work/ck2" --load-iteration 10 &&
  check "$work/src2" "$work/same2" "(2,1,2) do sp -> same" --exact
run "$work/ref114" 1 1 4 $do && run "$work/to114" 1 1 4 $do --load "$work/ck2" --load-iteration 10 &&
  check "$work/ref114" "$work/to114" "(2,1,2) do sp -> (1,1,4) do"
# 3. The same run without the distributed optimizer, saved at 10: h5py sees equal whole tensors.
run "$work/plain" 2 1 2 --sequence-parallel --exit-interval 10 --save "$work/ck_plain" || exit 1
/usr/bin/python3 - "$work/ck2/iter_0000010/index.h5" "$work/ck_plain/iter_0000010/index.h5" <<'PY' || status=1
import sys
import h5py
import numpy as np
sharded, plain = (h5py.File(p, "r") for p in sys.argv[1:])
names = []
plain.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
worst = 0.0
for n in names:
    a, b = sharded[n][()], plain[n][()]
    assert a.shape == b.shape, (n, a.shape, b.shape)
    if n.endswith("attn.qkv.bias"):  # the key bias's gradient is rounding noise (compare_runs.py): Q and V only
        a, b = a.reshape(3, -1)[[0, 2]], b.reshape(3, -1)[[0, 2]]
    worst = max(worst, float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)))
ok = len(names) > 20 and worst <= 1e-5
print(f"{'ok  ' if ok else 'FAIL'} h5py: {len(names)} whole tensors of the sharded checkpoint equal the plain one's "
      f"(worst relative difference {worst:.2e})")
sys.exit(0 if ok else 1)
PY
# 4. Padding rows in the token table.
pad=(--make-vocab-size-divisible-by 72)
run "$work/src4" 1 1 4 $do "${pad[@]}" --save "$work/ck4" --save-interval 10 || exit 1
run "$work/same4" 1 1 4 $do "${pad[@]}" --load "$work/ck4" --load-iteration 10 &&
  check "$work/src4" "$work/same4" "(1,1,4) do, padded table -> same" --exact
run "$work/ref212" 2 1 2 $do "${pad[@]}" && run "$work/to212" 2 1 2 $do "${pad[@]}" --load "$work/ck4" --load-iteration 10 &&
  check "$work/ref212" "$work/to212" "(1,1,4) do, padded table -> (2,1,2) do"
# 5. A Llama: the fused Q|K|V of grouped-query attention (4 blocks of 2 heads' rows) and the untied output layer.
flags+=(--group-query-attention --num-query-groups 2 --swiglu --ffn-hidden-size 160 --normalization RMSNorm
        --position-embedding-type rope --untie-embeddings-and-output-weights --disable-bias-linear)
run "$work/src5" 2 1 2 $do --sequence-parallel --save "$work/ck5" --save-interval 10 || exit 1
run "$work/same5" 2 1 2 $do --sequence-parallel --load "$work/ck5" --load-iteration 10 &&
  check "$work/src5" "$work/same5" "Llama (2,1,2) do sp -> same" --exact
run "$work/ref122l" 1 2 2 && run "$work/to122l" 1 2 2 --load "$work/ck5" --load-iteration 10 &&
  check "$work/ref122l" "$work/to122l" "Llama (2,1,2) do sp -> (1,2,2)"
/usr/bin/python3 - "$work/ck5/iter_0000010/index.h5" <<'PY' || status=1
import sys
import h5py
shapes = {"model/layers.1.attn.qkv.weight": (128, 64), "model/layers.1.attn.proj.weight": (64, 64),
          "model/layers.1.mlp.fc1.weight": (320, 64), "model/layers.1.mlp.fc2.weight": (64, 160),
          "model/layers.1.ln1.weight": (64,), "model/output_layer.weight": (256, 64),
          "model/embedding.word_embeddings.weight": (256, 64), "model/final_ln.weight": (64,)}
f = h5py.File(sys.argv[1], "r")
got = {n: f[n].shape for n in shapes}
absent = [n for n in ("model/embedding.position_embeddings.weight", "model/final_ln.bias",
                      "model/layers.0.attn.qkv.bias") if n in f]
ok = got == shapes and not absent
print(f"{'ok  ' if ok else 'FAIL'} h5py: the Llama checkpoint holds {len(shapes)} checked tensors in their global "
      f"shapes and none of GPT-2's extra ones{'' if ok else f': {got} {absent}'}")
sys.exit(0 if ok else 1)
PY
exit $status
