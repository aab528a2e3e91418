#!/usr/bin/env bash
# Bad input to trident-train: each case must exit non-zero with exactly one
# line on stderr that names the problem, print nothing on stdout, and write
# nothing (the --metrics-file must not appear).
# Usage: bad_input.sh <path to trident-train>
set -u
train=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: > "$work/empty.txt"
printf 'tiny text corpus for a tiny model. %.0s' {1..40} > "$work/small.txt"
failures=0

# expect_error <substring expected in the message> <flags...>
expect_error() {
  local want=$1; shift
  rm -f "$work/metrics.jsonl"
  "$train" --data-path "$work/small.txt" --seq-length 16 --hidden-size 32 --num-layers 1 \
           --num-attention-heads 2 --train-iters 2 --metrics-file "$work/metrics.jsonl" "$@" \
           > "$work/out" 2> "$work/err"
  local rc=$? lines
  lines=$(wc -l < "$work/err")
  if [ "$rc" -eq 0 ] || [ "$lines" -ne 1 ] || [ -s "$work/out" ] || ! grep -qF -- "$want" "$work/err" \
     || [ -e "$work/metrics.jsonl" ]; then
    echo "FAIL [$*]: exit $rc, $lines stderr line(s), expected one naming '$want'; stdout $(wc -c < "$work/out") bytes; metrics file $( [ -e "$work/metrics.jsonl" ] && echo written || echo absent)"
    sed 's/^/    /' "$work/err"
    failures=$((failures + 1))
  else
    echo "ok   [$*] -> $(cat "$work/err")"
  fi
}

expect_error "--num-attention-heads" --hidden-size 30 --num-attention-heads 4
expect_error "does not exist" --data-path "$work/missing.txt"
expect_error "holds 0 bytes" --data-path "$work/empty.txt"
expect_error "--micro-batch-size must be positive" --micro-batch-size 0
expect_error "--train-iters must be positive" --train-iters -5
expect_error "--hidden-size must be positive" --hidden-size 0
expect_error "--num-layers must be positive" --num-layers -1
expect_error "--seq-length must be positive" --seq-length 0
expect_error "--global-batch-size" --global-batch-size 12 --micro-batch-size 8
expect_error "--lr-decay-style" --lr-decay-style exponential
expect_error "--no-such-flag" --no-such-flag 3
expect_error "--lr = not-a-number" --lr not-a-number
expect_error "unknown --device 'tpu'" --device tpu
expect_error "unknown --comm 'gloo'" --comm gloo
expect_error "--comm nccl moves device tensors: it needs --device cuda" --comm nccl --device cpu
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  expect_error "--device cpu" --device cuda   # no GPU here: the message must point to the CPU
fi
expect_error "cannot write --metrics-file" --metrics-file "$work/no/such/dir/m.jsonl"
expect_error "--load $work/small.txt is not a directory" --load "$work/small.txt"
mkdir -p "$work/orphan/iter_0000005"  # checkpoints, but no `latest` naming one
expect_error "has no 'latest' file" --load "$work/orphan"
expect_error "--load $work/missing is not a directory" --load "$work/missing" --load-iteration 5
expect_error "--finetune needs a checkpoint to start from" --load "$work/missing" --finetune
expect_error "cannot write --save" --save "$work/small.txt/checkpoints"
expect_error "need --load DIR" --no-load-optim
expect_error "--save-interval must not be negative" --save-interval -1
expect_error "did you mean --num-layers?" --num-layer 3
echo '{"num-layer": 3}' > "$work/typo.json"
expect_error "unknown key 'num-layer' in --config $work/typo.json: did you mean 'num-layers'?" --config "$work/typo.json"
echo '{"num-layers": [1' > "$work/broken.json"
expect_error "is not valid JSON" --config "$work/broken.json"
expect_error "cannot be read" --config "$work/missing.json"
# Megatron-LM flags trident lacks are named as such (with the reason), not taken for a typo.
lacks="is a Megatron-LM flag not supported by trident"
expect_error "--kv-channels $lacks: the head size is always --hidden-size / --num-attention-heads" --kv-channels 128
expect_error "--hidden-dropout $lacks: trident trains without dropout" --hidden-dropout 0.1
expect_error "--use-rope-scaling $lacks: RoPE is unscaled" --use-rope-scaling
expect_error "--use-rope-scaling $lacks: RoPE is unscaled" --use-rope-scaling=true
expect_error "--rotary-percent $lacks: RoPE rotates the whole head" --rotary-percent 0.5 --num-layer 3
expect_error "did you mean --num-layers?" --num-layer 2 --use-rope-scaling
echo '{"use_rope_scaling": true}' > "$work/megatron.json"
expect_error "key 'use_rope_scaling' in --config $work/megatron.json: --use-rope-scaling $lacks" \
             --config "$work/megatron.json"
# The Llama family's choices and sizes (issue 14).
expect_error "unknown --normalization 'RMSnorm': use LayerNorm or RMSNorm" --normalization RMSnorm
expect_error "unknown --position-embedding-type 'rotary': use learned_absolute or rope" --position-embedding-type rotary
expect_error "--num-query-groups 3 must divide --num-attention-heads 4" --group-query-attention --num-query-groups 3 \
             --num-attention-heads 4
expect_error "--position-embedding-type rope rotates pairs of dimensions" --position-embedding-type rope \
             --hidden-size 30 --num-attention-heads 2
expect_error "--sequence-parallel shards activations over tensor-parallel ranks: it needs --tp > 1" --sequence-parallel
# A --config value of the wrong kind names its key and the file.
config_error() {  # config_error <JSON object> <what the message says after the file name>
  echo "$1" > "$work/kind.json"
  local key=${1#*\"}; key=${key%%\"*}
  expect_error "key '$key' in --config $work/kind.json: $2" --config "$work/kind.json"
}
config_error '{"bf16": "true"}' 'expected true or false, got "true"'
config_error '{"overlap-grad-reduce": 1}' 'expected true or false, got 1'
config_error '{"num-layers": "four"}' 'expected an integer, got "four"'
config_error '{"num-layers": true}' 'expected an integer, got true'
config_error '{"num-layers": 2.5}' 'expected an integer, got 2.5'
config_error '{"num-layers": [1, 2]}' 'expected one integer, got a list'
config_error '{"seed": -1}' 'expected a non-negative integer, got -1'
config_error '{"lr": "fast"}' 'expected a number, got "fast"'
config_error '{"data-path": true}' 'expected a list of strings, got true'
config_error '{"pipeline-layers-per-stage": [1, "x"]}' 'expected a list of integers, got "x"'

# A config file's flags, overridden by the command line's.
echo '{"train-iters": 30, "micro_batch_size": 2, "global-batch-size": 4, "overlap-grad-reduce": false}' > "$work/run.json"
"$train" --data-path "$work/small.txt" --seq-length 16 --hidden-size 32 --num-layers 1 --num-attention-heads 2 \
         --config "$work/run.json" --train-iters 2 --metrics-file "$work/metrics.jsonl" > "$work/out" 2>&1 \
  || { echo "FAIL: the config run exited non-zero"; cat "$work/out"; failures=$((failures + 1)); }
if [ "$(grep -vc '"event"' "$work/metrics.jsonl")" -eq 2 ] && grep -q "overlap off" "$work/out" && grep -q "global 4 = micro-batch 2" "$work/out"; then
  echo "ok   --config: its values used, --train-iters from the command line wins"
else
  echo "FAIL: --config precedence"; cat "$work/out"; failures=$((failures + 1))
fi
# Iterations past the LR schedule's end at --min-lr 0 would change nothing.
expect_error "would train at LR 0" --train-iters 20 --lr-decay-iters 10
# Evaluation needs held-out data, and sane counts.
expect_error "--eval-interval needs validation data" --eval-interval 5
expect_error "--skip-train needs validation data" --skip-train --split 100,0,0
expect_error "--eval-iters must be positive" --eval-interval 5 --split 90,10,0 --eval-iters 0
expect_error "--eval-interval must not be negative" --eval-interval -1
expect_error "weight-path pairs such as --data-path 0.7 A 0.3 B" --data-path 0.7 "$work/small.txt" 0.3
expect_error "with --valid-data-path" --eval-interval 5 --valid-data-path "$work/missing.txt"
# --valid-data-path: evaluation reads that file, and all of the --data-path trains.
"$train" --data-path "$work/small.txt" --seq-length 16 --hidden-size 32 --num-layers 1 --num-attention-heads 2 \
         --micro-batch-size 2 --global-batch-size 4 --train-iters 2 --eval-interval 2 --eval-iters 1 \
         --valid-data-path "$work/small.txt" > "$work/out" 2>&1 \
  && grep -q "validation loss at iteration 2 | lm loss value" "$work/out" \
  && grep -q "1400 for training (--split 100,0,0)" "$work/out" && grep -q "data: 1400 for validation from --valid-data-path" "$work/out" \
  && echo "ok   --valid-data-path: evaluated on it" \
  || { echo "FAIL: --valid-data-path"; cat "$work/out"; failures=$((failures + 1)); }

# --lr 1e-5 alone trains (--min-lr defaults to 0, as Megatron's), and the log line's loss is the mean
# of the interval's iterations, not the last one's.
"$train" --data-path "$work/small.txt" --seq-length 16 --hidden-size 32 --num-layers 1 --num-attention-heads 2 \
         --micro-batch-size 2 --global-batch-size 4 --train-iters 4 --lr 1e-5 --log-interval 4 \
         --metrics-file "$work/mean.jsonl" > "$work/out" 2>&1 \
  || { echo "FAIL: --lr 1e-5 alone"; cat "$work/out"; failures=$((failures + 1)); }
python3 - "$work/mean.jsonl" "$work/out" <<'PY' || failures=$((failures + 1))
import json, re, sys
losses = [r["loss"] for r in map(json.loads, open(sys.argv[1])) if "event" not in r]
logged = float(re.search(r"iteration +4/4 .*\| loss ([0-9.]+) \|", open(sys.argv[2]).read()).group(1))
mean = sum(losses) / len(losses)
assert abs(logged - mean) < 6e-5 and abs(logged - losses[-1]) > 1e-4, (logged, mean, losses)
print(f"ok   --lr 1e-5 alone trains; the log line's loss {logged} is the mean of iterations 1-4 ({mean:.5f})")
PY

# --load on a directory with no checkpoint yet starts fresh with a notice (Megatron's behaviour: one
# job script for the first start and every restart), then saves there; the next start resumes.
for start in first second; do
  "$train" --data-path "$work/small.txt" --seq-length 16 --hidden-size 32 --num-layers 1 --num-attention-heads 2 \
           --micro-batch-size 2 --global-batch-size 4 --train-iters 2 --lr-decay-iters 2 --min-lr 1e-4 \
           --load "$work/job" --save "$work/job" > "$work/out" 2>&1 \
    || { echo "FAIL: --load on a fresh directory ($start start) exited non-zero"; cat "$work/out"; failures=$((failures + 1)); }
done
if grep -q "holds no checkpoint yet: starting fresh" "$work/out" || ! grep -q "loaded iteration 2" "$work/out"; then
  echo "FAIL: the second start did not resume"; cat "$work/out"; failures=$((failures + 1))
else
  echo "ok   --load on an empty directory started fresh; the next start resumed from it"
fi

# And the good case writes one JSON object per iteration with the promised keys.
"$train" --data-path "$work/small.txt" --seq-length 16 --hidden-size 32 --num-layers 1 --num-attention-heads 2 \
         --micro-batch-size 2 --global-batch-size 4 --train-iters 3 --metrics-file "$work/metrics.jsonl" > "$work/out" 2>&1 \
  || { echo "FAIL: the good run exited non-zero"; cat "$work/out"; failures=$((failures + 1)); }
python3 - "$work/metrics.jsonl" <<'PY' || failures=$((failures + 1))
import json, math, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if "event" not in r]  # iteration records
assert [r["iteration"] for r in rows] == [1, 2, 3], rows
for r in rows:
    for key in ("loss", "lr", "grad_norm", "tokens_per_s"):
        assert math.isfinite(r[key]) and r[key] >= 0, (key, r)
print("ok   metrics file:", len(rows), "records with iteration, loss, lr, grad_norm, tokens_per_s")
PY
exit $((failures > 0))
