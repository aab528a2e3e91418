#!/usr/bin/python3
"""trident-plan's predictions against runs on this machine (issue 15's
acceptance "here, measured"): a 4-layer, 256-wide GPT, global batch 16, on
8 local ranks, in every valid (tp, pp, dp) with micro-batch 1 and 2 (no
recompute, no distributed optimizer, no sequence parallelism, one chunk per
pipeline rank). For each: trident-plan --cluster local predicts peak memory
per rank and ms/iter; trident-train runs it (mpiexec, 8 ranks bound to the
cores in turn, as trident-run starts them) and reports the allocator's
per-rank peaks (first iteration record) and ms/iter: the median of
iterations 3..ITERS of one launch, and of ROUNDS launches the fastest (the
layouts interleaved, so that the machine's drift touches all alike; noise on
a shared machine only ever adds time, so the fastest launch is the layout's
own speed). Prints one JSON line per layout, then: memory within 10% for
every layout, Spearman's rank correlation of predicted vs measured ms/iter
(>= 0.8), and whether the layout the planner picks (the least predicted
ms/iter) is within 10% of the fastest measured.

Usage: plan_local.py BUILD_DIR [ITERS [ROUNDS]]   (defaults 8 and 3)   (exit 1 when a check fails)
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

build = sys.argv[1]
iters = int(sys.argv[2]) if len(sys.argv) > 2 else 8
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
plan, train = f"{build}/bin/trident-plan", f"{build}/bin/trident-train"
model = ["--num-layers", "4", "--hidden-size", "256", "--num-attention-heads", "8", "--global-batch-size", "16"]
fixed = ["--recompute-granularity", "none", "--use-distributed-optimizer=false", "--sequence-parallel=false",
         "--num-virtual-stages-per-pipeline-rank", "1"]
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_WAIT_POLICY="passive")


def predictions():
    """Every layout's prediction from one trident-plan call (one measurement of this machine)."""
    out = subprocess.run([plan, "--cluster", "local", "--gpus", "8", *model, *fixed, "--top", "100000", "--json"],
                         capture_output=True, text=True, env=env, check=True)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    return {(r["tp"], r["pp"], r["dp"], r["micro_batch_size"]): {"memory_bytes": r["memory_bytes"],
                                                                 "ms": r["ms_per_iter"]} for r in rows}


def measure(tp, pp, dp, mb, work):
    metrics = f"{work}/m.jsonl"
    cmd = ["mpiexec", "-n", "8", "--oversubscribe", "--bind-to", "core:overload-allowed", "--map-by", "core",
           "-x", "OMP_WAIT_POLICY", train, *model, "--tp", str(tp),
           "--pp", str(pp), "--dp", str(dp), "--micro-batch-size", str(mb), "--train-iters", str(iters),
           "--log-interval", "1", "--threads", "1", "--metrics-file", metrics]
    if subprocess.run(cmd, capture_output=True, env=env).returncode != 0:
        return None
    rows = [json.loads(line) for line in open(metrics)]
    its = [r for r in rows if "event" not in r and "iteration" in r]
    peaks = next(r["memory_peak"] for r in its if "memory_peak" in r)["ranks"]
    categories = ("weights", "gradients", "optimizer", "activations", "communication")
    most = max(sum(rank.get(c, 0) for c in categories) for rank in peaks)
    return {"ms": statistics.median(r["ms_per_iter"] for r in its[2:]), "memory_bytes": most}


def spearman(a, b):
    """Pearson's correlation of the ranks, ties given their mean rank (so the order of the list cannot matter)."""
    def ranks(x):
        return [sum(y < v for y in x) + (sum(y == v for y in x) + 1) / 2 for v in x]
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    return cov / (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5


layouts = []
predicted = predictions()
for tp in (1, 2, 4, 8):
    for pp in (1, 2, 4):
        if 8 % (tp * pp) == 0:
            layouts += [(tp, pp, 8 // (tp * pp), mb) for mb in (1, 2) if (tp, pp, 8 // (tp * pp), mb) in predicted]
runs = {layout: [] for layout in layouts}
with tempfile.TemporaryDirectory() as work:
    for _ in range(rounds):
        for layout in layouts:
            m = measure(*layout, work)
            if m is None:
                print(f"FAIL {layout[:3]} mb {layout[3]}: trident-train failed")
                sys.exit(1)
            runs[layout].append(m)
results = []
for (tp, pp, dp, mb), ms in runs.items():
    p = predicted[(tp, pp, dp, mb)]
    r = {"tp": tp, "pp": pp, "dp": dp, "mb": mb, "predicted_ms": round(p["ms"], 1),
         "measured_ms": round(min(m["ms"] for m in ms), 1),
         "rounds_ms": [round(m["ms"], 1) for m in ms], "predicted_memory": p["memory_bytes"],
         "measured_memory": max(m["memory_bytes"] for m in ms)}
    r["memory_ratio"] = round(r["measured_memory"] / p["memory_bytes"], 3)
    print(json.dumps(r), flush=True)
    results.append(r)
memory_ok = all(abs(r["memory_ratio"] - 1) <= 0.1 for r in results)
exact = [predicted[(r["tp"], r["pp"], r["dp"], r["mb"])]["ms"] for r in results]  # not the printed rounding
rho = spearman(exact, [min(m["ms"] for m in runs[(r["tp"], r["pp"], r["dp"], r["mb"])]) for r in results])
pick = results[exact.index(min(exact))]
fastest = min(results, key=lambda r: r["measured_ms"])
print(f"memory: measured / predicted peak per rank from {min(r['memory_ratio'] for r in results):.3f} to "
      f"{max(r['memory_ratio'] for r in results):.3f} (within 10%: {memory_ok})")
print(f"{len(results)} layouts; Spearman of predicted vs measured ms/iter: {rho:.3f} (>= 0.8); the planner picks "
      f"({pick['tp']},{pick['pp']},{pick['dp']}) mb {pick['mb']}: measured {pick['measured_ms']:.1f} ms vs the fastest "
      f"({fastest['tp']},{fastest['pp']},{fastest['dp']}) mb {fastest['mb']} {fastest['measured_ms']:.1f} ms "
      f"({pick['measured_ms'] / fastest['measured_ms'] - 1:+.1%}, <= +10%)")
sys.exit(0 if memory_ok and rho >= 0.8 and pick["measured_ms"] <= 1.1 * fastest["measured_ms"] else 1)
