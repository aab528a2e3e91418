#!/usr/bin/env bash
# Checkpoint save and load throughput for a state of about 230 MB (6 layers,
# hidden 512: FP32 master weights and two AdamW moments), 2 ranks as pp = 2,
# beside the raw sequential write (dd conv=fsync) and read speed of the same
# disk measured in the same run. Page caches are dropped before each read
# where the kernel allows it (else reads come from memory, and say so).
# Usage: checkpoint_io.sh <build/bin> [directory on the disk to measure]
set -euo pipefail
bin=$1; base=${2:-$(mktemp -d)}
work=$base/trident_checkpoint_bench.$$
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2> /dev/null && echo dropped || echo cached; }
mb_per_s() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }

# Three rounds; each figure is the median of its three.
size_mb=256
flags=(--num-layers 6 --hidden-size 512 --num-attention-heads 8 --seq-length 64 --micro-batch-size 1
       --global-batch-size 1 --pp 2 --data-path /usr/share/games/fortunes --log-interval 1)
: > "$work/rounds"
for round in 1 2 3; do
  start=$(date +%s.%N)
  dd if=/dev/zero of="$work/raw" bs=16M count=$((size_mb / 16)) conv=fsync status=none
  raw_write=$(mb_per_s $((size_mb * 1048576)) "$(echo "$(date +%s.%N) - $start" | bc)")
  caches=$(drop_caches)
  start=$(date +%s.%N)
  dd if="$work/raw" of=/dev/null bs=16M status=none
  raw_read=$(mb_per_s $((size_mb * 1048576)) "$(echo "$(date +%s.%N) - $start" | bc)")
  rm -f "$work/raw"
  rm -rf "$work/ck"
  mpiexec -n 2 --oversubscribe "$bin/trident-train" "${flags[@]}" --train-iters 1 --save "$work/ck" > "$work/save.log" 2>&1
  drop_caches > /dev/null
  mpiexec -n 2 --oversubscribe "$bin/trident-train" "${flags[@]}" --train-iters 1 --load "$work/ck" > "$work/load.log" 2>&1
  echo "$raw_write $raw_read $caches $(grep -o 'saved iteration.*' "$work/save.log") | $(grep -o 'loaded iteration.*' "$work/load.log")" >> "$work/rounds"
done
du_mb=$(du -sm "$work/ck" | cut -f1)
python3 - "$work/rounds" "$du_mb" <<'PY'
import json, re, statistics, sys
rounds, du_mb = sys.argv[1:3]
rows = []
for line in open(rounds):
    raw_write, raw_read, caches = line.split()[:3]
    save, load = (re.search(r"([\d.]+) MB in ([\d.]+) s", part) for part in line.split("|"))
    rows.append((float(raw_write), float(raw_read), caches, float(save[1]), float(save[2]), float(load[1]), float(load[2])))
med = lambda i: statistics.median(r[i] for r in rows)
for op, raw, mb, seconds in (("save", med(0), med(3), med(4)), ("load", med(1), med(5), med(6))):
    print(json.dumps({"bench": "checkpoint", "op": op, "ranks": 2, "tensor_mb": mb, "disk_mib": int(du_mb),
                      "seconds": seconds, "mb_per_s": round(mb / seconds, 1), "raw_mb_per_s": raw,
                      "ratio_to_raw": round(mb / seconds / raw, 3), "rounds": len(rows),
                      "page_cache": "dropped before reads" if rows[0][2] == "dropped" else "not dropped (no permission)"}))
PY
