#!/usr/bin/env bash
# Training on text through GPT-2's BPE (Megatron's --tokenizer-type
# GPT2BPETokenizer --vocab-file --merge-file), a vocabulary learned on the
# fortunes by tests/data/gpt2_bpe_reference.py:
#  - the text is tokenized once into the token cache and read from it after;
#  - the loss is in nats per token, and falls;
#  - a resume with only --load remembers the tokenizer;
#  - trident-generate samples text through the checkpoint's tokenizer (and
#    names its files when they moved).
# Usage: bpe_training.sh <trident-train> <trident-generate>
set -uo pipefail
train=$1; generate=$2
ref="$(cd "$(dirname "$0")/../data" && pwd)/gpt2_bpe_reference.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
/usr/bin/python3 "$ref" train /usr/share/games/fortunes "$work/tok" 800 > /dev/null || exit 1
bpe=(--tokenizer-type GPT2BPETokenizer --vocab-file "$work/tok/vocab.json" --merge-file "$work/tok/merges.txt")
flags=(--num-layers 2 --hidden-size 128 --num-attention-heads 4 --seq-length 64 --micro-batch-size 16
       --global-batch-size 16 --lr 5e-3 --min-lr 1e-4 --lr-warmup-iters 20 --threads 2 --log-interval 50 --seed 3
       --data-path /usr/share/games/fortunes --save "$work/ck" --save-interval 400)
"$train" "${flags[@]}" "${bpe[@]}" --train-iters 400 --metrics-file "$work/m.jsonl" > "$work/train.log" 2>&1 \
  || { echo "FAIL: training with GPT2BPETokenizer"; tail -5 "$work/train.log"; exit 1; }
grep -q "data: tokenized /usr/share/games/fortunes with GPT2BPETokenizer into $work/ck/data_cache/" "$work/train.log" \
  && echo "ok   $(grep -o 'data: tokenized .*' "$work/train.log")" \
  || { echo "FAIL: no tokenization into the cache"; grep data: "$work/train.log"; status=1; }
/usr/bin/python3 - "$work/m.jsonl" <<'PY' || status=1
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
start = [r for r in rows if r.get("event") == "start"][0]
losses = [r["loss"] for r in rows if "event" not in r]
assert start["loss_unit"] == "nats/token", start
assert losses[0] > 6.5 and sum(losses[-10:]) / 10 < losses[0] - 1.0, (losses[0], losses[-10:])
print(f"ok   loss {losses[0]:.2f} -> {sum(losses[-10:]) / 10:.2f} nats/token (ln 1057 = {math.log(1057):.2f})")
PY
# Resume with only --load: the tokenizer comes from the checkpoint, the cache is read, not rebuilt.
"$train" --load "$work/ck" --train-iters 401 --threads 2 > "$work/resume.log" 2>&1 \
  && grep -q "tokenizer-type GPT2BPETokenizer" "$work/resume.log" && ! grep -q "data: tokenized" "$work/resume.log" \
  && echo "ok   resume with only --load: GPT2BPETokenizer from the checkpoint, tokens from the cache" \
  || { echo "FAIL: resume with the checkpoint's tokenizer"; grep -E "resume|data" "$work/resume.log"; status=1; }
"$generate" --load "$work/ck" --load-iteration 400 --prompt "Q: What is" --max-tokens 40 --seed 5 > "$work/text" \
  2> "$work/gen.err" || { echo "FAIL: trident-generate"; cat "$work/gen.err"; status=1; }
/usr/bin/python3 - "$work/text" <<'PY' || status=1
import sys
text = open(sys.argv[1], encoding="utf-8").read()
printable = sum(c.isprintable() or c in "\n\t" for c in text) / max(1, len(text))
assert text.startswith("Q: What is") and len(text) > 60 and printable > 0.98 and text.count(" ") >= 8, repr(text)
print("ok   trident-generate through the checkpoint's BPE:", repr(text[:120]))
PY
# --finetune keeps the checkpoint's tokenizer with its shape; one file's validation share is there (4 KB documents).
"$train" --load "$work/ck" --finetune --train-iters 1 --threads 2 --data-path /usr/share/games/fortunes/fortunes \
  --split 90,10,0 --eval-interval 1 --eval-iters 1 --save "$work/ck_ft" > "$work/ft.log" 2>&1 \
  && grep -q "tokenizer-type GPT2BPETokenizer" "$work/ft.log" && grep -q "validation loss at iteration 1" "$work/ft.log" \
  && echo "ok   --finetune keeps GPT2BPETokenizer; one file's --split 90,10,0 holds validation data" \
  || { echo "FAIL: --finetune with the checkpoint's tokenizer, or one file's validation share"; tail -3 "$work/ft.log"; status=1; }
# A tokenizer larger than the model's vocabulary is refused, not fed to it.
"$train" --num-layers 1 --hidden-size 32 --num-attention-heads 2 --seq-length 16 --micro-batch-size 2 \
  --global-batch-size 2 --train-iters 1 --threads 2 --save "$work/ck_bytes" > /dev/null 2>&1
"$generate" --load "$work/ck_bytes" "${bpe[@]}" --max-tokens 3 > /dev/null 2> "$work/err"; rc=$?
[ "$rc" -eq 2 ] && grep -q "tokens but the checkpoint's model only 256" "$work/err" \
  && echo "ok   a tokenizer larger than the model -> $(cat "$work/err")" \
  || { echo "FAIL: a tokenizer larger than the model: exit $rc"; cat "$work/err"; status=1; }
mv "$work/tok" "$work/moved"
"$generate" --load "$work/ck" --load-iteration 400 --max-tokens 5 > /dev/null 2> "$work/err"; rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -q "if its files moved" "$work/err" \
  && echo "ok   moved tokenizer files -> $(cat "$work/err")" \
  || { echo "FAIL: moved tokenizer files: exit $rc"; cat "$work/err"; status=1; }
exit $status
