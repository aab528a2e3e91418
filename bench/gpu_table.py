#!/usr/bin/env python3
"""The table the GPU scripts print last: one row per JSON line of
bench_train_throughput or pytorch_train.py, with MFU for every row against
the GEMM peak trident measured for that shape in the same run.
Usage: gpu_table.py RESULTS.jsonl"""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
peak = {(r["layers"], r["hidden"]): r["gemm_peak_gflops"] for r in rows if r["impl"] == "trident"}
print(f"{'impl':17} {'shape':>8} {'batch':>5} {'ms/iter':>8} {'tokens/s':>9} {'TFLOP/s':>8} {'MFU':>6}")
for r in rows:
    p = peak.get((r["layers"], r["hidden"]))
    what = r["impl"]
    if what == "trident" and "fused_attention" in r:
        what += " fused" if r["fused_attention"] else " unfused"
    mfu = f"{r['model_gflops'] / p:6.1%}" if p else "     -"
    print(f"{what:17} {str(r['layers']) + 'x' + str(r['hidden']):>8} {r['batch']:>5} {r['ms_per_iter']:8.1f} "
          f"{r['tokens_per_s']:9.0f} {r['model_gflops'] / 1e3:8.1f} {mfu}")
if peak:
    print("cuBLASLt bf16 GEMM peak (8192^3): %.0f TFLOP/s" % (next(iter(peak.values())) / 1e3))
