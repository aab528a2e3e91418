#!/usr/bin/env bash
# A model trained on token ids (a Megatron .bin/.idx of vocabulary 1000):
#  - --data-path PREFIX.bin or PREFIX.idx means the dataset, never its bytes as text;
#  - trident-generate continues --prompt-tokens and prints ids with --print-tokens;
#    text in or out, or an id outside the vocabulary, is a one-line error, never a crash.
# Usage: token_data.sh <trident-train> <trident-generate>
set -uo pipefail
train=$1; generate=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
# Megatron's MMIDIDX format, uint16 tokens: 40 documents of 50 ids below 1000.
/usr/bin/python3 - "$work/toy" <<'PY'
import random, struct, sys
prefix = sys.argv[1]
rng = random.Random(3)
docs = [[rng.randrange(1000) for _ in range(50)] for _ in range(40)]
with open(prefix + ".bin", "wb") as f:
    for d in docs:
        f.write(struct.pack(f"<{len(d)}H", *d))
with open(prefix + ".idx", "wb") as f:
    f.write(b"MMIDIDX\0\0" + struct.pack("<QB", 1, 8) + struct.pack("<QQ", len(docs), len(docs) + 1))
    f.write(struct.pack(f"<{len(docs)}i", *[len(d) for d in docs]))
    f.write(struct.pack(f"<{len(docs)}q", *[2 * 50 * i for i in range(len(docs))]))
    f.write(struct.pack(f"<{len(docs) + 1}q", *range(len(docs) + 1)))
PY
flags=(--num-layers 1 --hidden-size 32 --num-attention-heads 2 --seq-length 16 --micro-batch-size 2
       --global-batch-size 4 --train-iters 3 --vocab-size 1000 --threads 1 --log-interval 1)
"$train" "${flags[@]}" --data-path "$work/toy.bin" --save "$work/ck" > "$work/train.log" 2>&1 \
  && grep -q "data: 2000 tokens from 2 file(s)" "$work/train.log" \
  && echo "ok   --data-path toy.bin trains on the dataset's 2000 tokens" \
  || { echo "FAIL: --data-path toy.bin"; cat "$work/train.log"; status=1; }
# A blend: --data-path 0.7 toy 0.3 toy2, the weights in the log.
cp "$work/toy.bin" "$work/toy2.bin"; cp "$work/toy.idx" "$work/toy2.idx"
"$train" "${flags[@]}" --data-path 0.7 "$work/toy" 0.3 "$work/toy2" > "$work/blend.log" 2>&1 \
  && grep -q "data: weight 0.7 2000 tokens" "$work/blend.log" && grep -q "data: weight 0.3 2000 tokens" "$work/blend.log" \
  && echo "ok   --data-path 0.7 toy 0.3 toy2: a blend, weights logged" \
  || { echo "FAIL: a blend"; cat "$work/blend.log"; status=1; }
one_line_error() {  # one_line_error <label> <substring> <command...>
  local label=$1 want=$2; shift 2
  "$@" > "$work/out" 2> "$work/err"; local rc=$?
  if [ "$rc" -eq 2 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -qF -- "$want" "$work/err"; then
    echo "ok   $label -> $(cat "$work/err")"
  else
    echo "FAIL $label: exit $rc, expected one line naming '$want'"; cat "$work/err"; status=1
  fi
}
one_line_error "text prompt on a token model" "--prompt-tokens" "$generate" --load "$work/ck" --max-tokens 5
one_line_error "text output of a token model" "--print-tokens" "$generate" --load "$work/ck" --prompt-tokens 5,6
one_line_error "an id outside the vocabulary" "token id 5000 is outside" \
  "$generate" --load "$work/ck" --prompt-tokens 5,5000 --print-tokens
if "$generate" --load "$work/ck" --prompt-tokens 5,6,7 --print-tokens --max-tokens 10 > "$work/ids" 2> "$work/err"; then
  /usr/bin/python3 - "$work/ids" <<'PY' || status=1
import sys
ids = [int(t) for t in open(sys.argv[1]).read().split()]
assert ids[:3] == [5, 6, 7] and len(ids) == 13 and all(0 <= i < 1000 for i in ids), ids
print(f"ok   trident-generate --prompt-tokens 5,6,7 --print-tokens: {' '.join(map(str, ids))}")
PY
else
  echo "FAIL: trident-generate --print-tokens"; cat "$work/err"; status=1
fi
exit $status
