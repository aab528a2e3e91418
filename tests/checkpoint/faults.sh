#!/usr/bin/env bash
# Checkpoint faults, with 4 ranks as (tp, pp, dp) = (1, 2, 2) and a good
# checkpoint at iteration 5 under test:
#  1. a rank SIGKILLed during a save (in its shard, before and after the
#     index, before the rename): iteration 5 stays `latest` and resumes;
#  2. a truncated shard, a flipped data byte (also in one data-parallel
#     rank's rows of a distributed-optimizer checkpoint, which only that rank
#     reads: the others must not be left waiting in a collective), a missing
#     shard, another model's flags: one error line naming the file (and
#     dataset), non-zero exit, and not a byte changed on disk;
#  3. a full disk during a save (a small tmpfs): a clear error, the
#     previous checkpoint intact, no temporary directory left.
# Usage: faults.sh <trident-train> <mpiexec>
set -uo pipefail
train=$1; mpiexec=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--num-layers 2 --hidden-size 64 --num-attention-heads 4 --seq-length 32 --micro-batch-size 2
       --global-batch-size 8 --lr-decay-iters 10 --min-lr 1e-4 --seed 3 --log-interval 100 --pp 2 --dp 2
       --data-path /usr/share/games/fortunes)
status=0
fingerprint() { (cd "$1" && find . -type f | sort | xargs sha256sum); }
"$mpiexec" -n 4 --oversubscribe "$train" "${flags[@]}" --train-iters 5 --save "$work/ck" > "$work/base.log" 2>&1 \
  || { echo "FAIL: the first save"; cat "$work/base.log"; exit 1; }

# 1. Killed mid-save. Rank 2 (pipeline stage 1, DP rank 0) writes a shard; rank 0 also commits.
for point in 2:during_shard 0:before_index 0:after_index 0:before_rename; do
  before=$(fingerprint "$work/ck/iter_0000005")
  TRIDENT_TEST_KILL_AT=$point timeout 120 "$mpiexec" -n 4 --oversubscribe -x TRIDENT_TEST_KILL_AT "$train" \
    "${flags[@]}" --train-iters 10 --load "$work/ck" --save "$work/ck" > "$work/kill.log" 2>&1
  rc=$?
  latest=$(cat "$work/ck/latest")
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$latest" != iter_0000005 ] || [ -e "$work/ck/iter_0000010" ] \
     || [ "$before" != "$(fingerprint "$work/ck/iter_0000005")" ] || ! grep -q "killed at ${point#*:}" "$work/kill.log"; then
    echo "FAIL: killed at $point: exit $rc, latest $latest"; tail -5 "$work/kill.log"; status=1; continue
  fi
  # The previous checkpoint loads and resumes; the unfinished save is reported, not loaded.
  if ! "$mpiexec" -n 4 --oversubscribe "$train" "${flags[@]}" --train-iters 6 --load "$work/ck" > "$work/resume.log" 2>&1 \
     || ! grep -q "loaded iteration 5" "$work/resume.log" || ! grep -q "unfinished save" "$work/resume.log"; then
    echo "FAIL: resuming after a kill at $point"; tail -5 "$work/resume.log"; status=1; continue
  fi
  echo "ok   killed at $point: exit $rc; latest still iter_0000005, which resumes; $(grep -m1 -o 'checkpoint: .*unfinished save.*' "$work/resume.log")"
  rm -rf "$work"/ck/.tmp.*
done

# 2. Damaged or mismatched checkpoints: one line, non-zero exit, nothing changed.
expect_load_error() {  # <label> <checkpoint dir> <expected substring> [extra flags]
  local label=$1 dir=$2 want=$3; shift 3
  local before; before=$(fingerprint "$dir")
  timeout 120 "$mpiexec" -n 4 --oversubscribe "$train" "${flags[@]}" --train-iters 10 --load "$dir" "$@" \
    --save "$dir" --metrics-file "$work/m.jsonl" > "$work/load.log" 2>&1
  local rc=$? lines; lines=$(grep -c "trident-train: error:" "$work/load.log")
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$lines" -ne 1 ] || ! grep "trident-train: error:" "$work/load.log" | grep -qF -- "$want" \
     || [ "$before" != "$(fingerprint "$dir")" ] || [ -e "$work/m.jsonl" ]; then
    echo "FAIL: $label: exit $rc, $lines error line(s), expected '$want'"; cat "$work/load.log"; status=1
  else
    echo "ok   $label -> $(grep 'trident-train: error:' "$work/load.log")"
  fi
}
damaged() { rm -rf "$work/bad"; cp -r "$work/ck" "$work/bad"; }
shard=iter_0000005/shards/rank_00002.h5
damaged; truncate -s 20000 "$work/bad/$shard"
expect_load_error "truncated shard" "$work/bad" "bad/$shard"
damaged; /usr/bin/python3 - "$work/bad/$shard" <<'PY'
import sys, h5py
path = sys.argv[1]
with h5py.File(path, "r") as f:
    offset = f["model/layers.1.mlp.fc1.weight"].id.get_chunk_info(0).byte_offset + 64
with open(path, "r+b") as f:
    f.seek(offset); b = f.read(1); f.seek(offset); f.write(bytes([b[0] ^ 0x10]))
PY
expect_load_error "flipped byte" "$work/bad" "bad/$shard, dataset 'model/layers.1.mlp.fc1.weight'"
"$mpiexec" -n 4 --oversubscribe "$train" "${flags[@]}" --train-iters 5 --use-distributed-optimizer \
  --save "$work/ck_do" > "$work/do.log" 2>&1 || { echo "FAIL: the distributed-optimizer save"; cat "$work/do.log"; exit 1; }
rm -rf "$work/bad_do"; cp -r "$work/ck_do" "$work/bad_do"
do_shard=iter_0000005/shards/rank_00003.h5  # pipeline stage 1, data-parallel rank 1: its rows only
dataset=$(/usr/bin/python3 - "$work/bad_do/$do_shard" <<'PY'
import sys, h5py
path = sys.argv[1]
with h5py.File(path, "r") as f:
    name = next(n for n in f["model"] if n.startswith("layers.1.mlp.fc1.weight@rows_"))
    offset = f["model/" + name].id.get_chunk_info(0).byte_offset + 64
with open(path, "r+b") as f:
    f.seek(offset); b = f.read(1); f.seek(offset); f.write(bytes([b[0] ^ 0x10]))
print("model/" + name)
PY
)
expect_load_error "flipped byte in one rank's rows" "$work/bad_do" "bad_do/$do_shard, dataset '$dataset'" \
  --use-distributed-optimizer
damaged; rm "$work/bad/$shard"
expect_load_error "missing shard" "$work/bad" "bad/$shard is missing"
expect_load_error "other model" "$work/ck" "--hidden-size 64, but this run has --hidden-size 32" --hidden-size 32
damaged; rm "$work/bad/iter_0000005/COMMITTED"
expect_load_error "no COMMITTED" "$work/bad" "has no COMMITTED marker"

# 3. A full disk during a save: a 2.5 MB tmpfs holds one checkpoint but not
# two (where mounting is not allowed, a file-size limit set in the ranks
# after MPI start-up stands in for it).
full=$work/full
mkdir -p "$full"
if mount -t tmpfs -o size=2500k tmpfs "$full" 2> /dev/null; then
  trap 'umount "$full" 2> /dev/null; rm -rf "$work"' EXIT
  disk="a full 2.5 MB tmpfs"; limit=()
else
  disk="RLIMIT_FSIZE 64 kB (no tmpfs: mount not permitted)"; limit=(-x TRIDENT_TEST_FSIZE_LIMIT=65536)
fi
cp -r "$work/ck" "$full/ck"
before=$(fingerprint "$full/ck/iter_0000005")
"$mpiexec" -n 4 --oversubscribe "${limit[@]}" "$train" "${flags[@]}" --train-iters 10 --load "$full/ck" \
  --save "$full/ck" > "$work/full.log" 2>&1
rc=$?
if [ "$rc" -eq 0 ] || ! grep "trident-train: error:" "$work/full.log" | grep -q "previous checkpoint is intact" \
   || [ "$(cat "$full/ck/latest")" != iter_0000005 ] || [ "$before" != "$(fingerprint "$full/ck/iter_0000005")" ] \
   || ls -d "$full"/ck/.tmp.* > /dev/null 2>&1; then
  echo "FAIL: full disk ($disk): exit $rc"; cat "$work/full.log"; status=1
else
  echo "ok   full disk ($disk): exit $rc -> $(grep -m1 'trident-train: error:' "$work/full.log")"
fi
umount "$full" 2> /dev/null
exit $status
