#!/usr/bin/env bash
# The planner's own pick for each row of Narayanan et al. 2021, Table 1
# (GPT, seq 2048, vocabulary 51,200, bf16, on the row's A100-80GB count and
# global batch): trident-plan --cluster A100-80GB, nothing fixed. One JSON
# line per row: the published layout and TFLOP/s beside the pick, its
# predicted model TFLOP/s (without recompute FLOPs) and memory. The
# published layouts' own predictions are tests/launch/test_time_model.cc's.
# Usage: plan_table1.sh BUILD_DIR
set -euo pipefail
plan=$1/bin/trident-plan
# params hidden layers heads tp pp gpus batch published-TFLOP/s
while read -r params hidden layers heads tp pp gpus batch tflops; do
  pick=$("$plan" --cluster A100-80GB --gpus "$gpus" --num-layers "$layers" --hidden-size "$hidden" \
    --num-attention-heads "$heads" --seq-length 2048 --vocab-size 51200 --global-batch-size "$batch" --bf16 \
    --json --top 1)
  /usr/bin/python3 -c 'import json, sys
p = json.loads(sys.argv[1])
print(json.dumps({"row": sys.argv[2], "published": f"tp {sys.argv[3]} pp {sys.argv[4]}",
                  "published_tflops": float(sys.argv[5]), "pick": p["flags"],
                  "pick_model_tflops": round(p["model_tflops"], 1), "pick_memory_gb": round(p["memory_bytes"] / 1e9, 1)}))' \
    "$pick" "$params" "$tp" "$pp" "$tflops"
done <<'ROWS'
1.7B 2304 24 24 1 1 32 512 137
3.6B 3072 30 32 2 1 64 512 138
7.5B 4096 36 32 4 1 128 512 142
18.4B 6144 40 48 8 1 256 1024 135
39.1B 8192 48 64 8 2 512 1536 138
76.1B 10240 60 80 8 4 1024 1792 140
145.6B 12288 80 96 8 8 1536 2304 148
310.1B 16384 96 128 8 16 1920 2160 155
529.6B 20480 105 128 8 35 2520 2520 163
1008B 25600 128 160 8 64 3072 3072 163
ROWS
