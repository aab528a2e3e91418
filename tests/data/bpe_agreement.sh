#!/usr/bin/env bash
# GPT-2 byte-level BPE: trident's C++ tokenizer, run through trident-preprocess,
# against an independent Python one (gpt2_bpe_reference.py), id for id:
#  1. Python learns 800 merges on Debian's fortunes (every text file, about 2.5 MB)
#     and writes vocab.json + merges.txt;
#  2. trident-preprocess tokenizes the fortunes directory (one document per file)
#     and the same texts as a .jsonl with --append-eod;
#  3. Python encodes every file itself, compares the ids of every document with
#     the .bin/.idx, and decodes trident's ids back to each file's bytes;
#  4. the same on a synthetic text of every Unicode class and of invalid UTF-8;
#  5. bad tokenizer files and flags are one-line errors with exit status 2.
# Usage: bpe_agreement.sh <trident-preprocess>
set -uo pipefail
preprocess=$1
ref="$(dirname "$0")/gpt2_bpe_reference.py"
corpus=/usr/share/games/fortunes
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }
[ -d "$corpus" ] || { echo "FAIL: $corpus is missing (Debian's fortunes packages, launch/packages.txt)"; exit 1; }

/usr/bin/python3 "$ref" train "$corpus" "$work/tok" 800 || exit 1
bpe=(--tokenizer-type GPT2BPETokenizer --vocab-file "$work/tok/vocab.json" --merge-file "$work/tok/merges.txt")

# 2. The directory, and the same texts as JSON lines (escaped) with --append-eod.
/usr/bin/python3 - "$corpus" "$work/fortunes.jsonl" <<'PY' || exit 1
import json, os, sys
corpus, out = sys.argv[1:]
with open(out, "w") as f:
    for name in sorted(os.listdir(corpus)):
        path = os.path.join(corpus, name)
        if name.endswith((".dat", ".u8")) or os.path.islink(path) or not os.path.isfile(path):
            continue
        f.write(json.dumps({"id": name, "text": open(path, encoding="utf-8").read()}) + "\n")
PY
"$preprocess" --input "$corpus" --output-prefix "$work/dir" "${bpe[@]}" > "$work/dir.log" 2>&1 \
  && grep -q "^wrote $work/dir_text_document.bin" "$work/dir.log" \
  && echo "ok   $(head -1 "$work/dir.log")" \
  || { fail "trident-preprocess --input $corpus"; cat "$work/dir.log"; }
"$preprocess" --input "$work/fortunes.jsonl" --output-prefix "$work/jsonl" "${bpe[@]}" --append-eod --workers 2 \
  > "$work/jsonl.log" 2>&1 || { fail "trident-preprocess --input fortunes.jsonl"; cat "$work/jsonl.log"; }
# 3.
/usr/bin/python3 "$ref" check "$corpus" "$work/tok" "$work/dir_text_document" "$work/jsonl_text_document" || status=1

# 4. Every Unicode class and invalid UTF-8, with the same vocabulary (bytes outside its merges stay bytes).
/usr/bin/python3 "$ref" synthetic "$work/synthetic/mixed.txt" > /dev/null || exit 1
"$preprocess" --input "$work/synthetic" --output-prefix "$work/syn" "${bpe[@]}" > "$work/syn.log" 2>&1 \
  || { fail "trident-preprocess --input synthetic"; cat "$work/syn.log"; }
/usr/bin/python3 "$ref" check "$work/synthetic" "$work/tok" "$work/syn_text_document" || status=1

# 5. One line on stderr naming the problem, exit status 2, and no dataset left behind.
printf '{"a": 0' > "$work/bad_vocab.json"
printf '#version: 0.2\nĠ t h\n' > "$work/bad_merges.txt"
printf '{"other": "x"}\n' > "$work/no_text.jsonl"
printf '{"a": 0, "b": 1}' > "$work/small_vocab.json"
one_line_error() {  # one_line_error <label> <substring> <arguments...>
  local label=$1 want=$2; shift 2
  "$preprocess" --output-prefix "$work/err" "$@" > "$work/out" 2> "$work/err"; local rc=$?
  if [ "$rc" -eq 2 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -qF -- "$want" "$work/err" \
      && ! ls "$work"/err_* > /dev/null 2>&1; then
    echo "ok   $label -> $(cat "$work/err")"
  else
    fail "$label: exit $rc, expected one line naming '$want'"; cat "$work/err"
  fi
}
vocab=(--vocab-file "$work/tok/vocab.json") merges=(--merge-file "$work/tok/merges.txt")
one_line_error "unknown tokenizer" "choose ByteTokenizer or GPT2BPETokenizer" \
  --input "$corpus" --tokenizer-type SentencePiece
one_line_error "no tokenizer" "--tokenizer-type is required" --input "$corpus"
one_line_error "missing vocab file" "--vocab-file $work/none.json does not exist" \
  --input "$corpus" --tokenizer-type GPT2BPETokenizer --vocab-file "$work/none.json" "${merges[@]}"
one_line_error "no merge file" "needs --merge-file" --input "$corpus" --tokenizer-type GPT2BPETokenizer "${vocab[@]}"
one_line_error "malformed vocab" "--vocab-file $work/bad_vocab.json is not a GPT-2 vocab.json" \
  --input "$corpus" --tokenizer-type GPT2BPETokenizer --vocab-file "$work/bad_vocab.json" "${merges[@]}"
one_line_error "malformed merges" "--merge-file $work/bad_merges.txt line 2 has 3 fields" \
  --input "$corpus" --tokenizer-type GPT2BPETokenizer "${vocab[@]}" --merge-file "$work/bad_merges.txt"
one_line_error "vocab and merges of two tokenizers" "which --vocab-file" \
  --input "$corpus" --tokenizer-type GPT2BPETokenizer --vocab-file "$work/small_vocab.json" "${merges[@]}"
one_line_error "missing input" "--input $work/none does not exist" --input "$work/none" "${bpe[@]}"
one_line_error "jsonl without the key" "line 1 has no string under \"text\"" --input "$work/no_text.jsonl" "${bpe[@]}"
one_line_error "--append-eod without an eod token" "has no end-of-document token" \
  --input "$corpus" --tokenizer-type ByteTokenizer --append-eod
one_line_error "unknown flag" "--split-sentences" --input "$corpus" "${bpe[@]}" --split-sentences
exit $status
