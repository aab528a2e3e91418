#!/usr/bin/python3
"""Checks memory_accounting.sh's runs: the memory model's prediction against
the allocator's per-category peaks of every rank, and two scaling laws.

Usage: check_memory.py WORK_DIR CASE... (each CASE has WORK_DIR/CASE.jsonl;
WORK_DIR/tp1_pp1_dp1_distopt.jsonl is the dp = 1 reference)
"""
import json
import sys

CATEGORIES = ["weights", "gradients", "optimizer", "activations", "communication"]
TOLERANCE = 0.10        # measured / predicted - 1, per category
EXEMPT_BELOW = 64 << 10  # bytes predicted: smaller categories are not checked


def records(path):
    """The start record's prediction and the first iteration record's measured peaks."""
    out = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("event") == "start":
                out["predicted"] = r["memory_predicted"]
            elif "memory_peak" in r:
                out["measured"] = r["memory_peak"]
    return out["predicted"], out["measured"]


def worst_rank(predicted, measured):
    """Per category, the rank whose ratio is furthest from 1: (ratio, predicted, measured)."""
    worst = {}
    for rank in measured["ranks"]:
        p = predicted["pipeline_ranks"][rank["pipeline_rank"]]
        for c in CATEGORIES:
            ratio = rank[c] / p[c] if p[c] else (1.0 if rank[c] == 0 else float("inf"))
            if c not in worst or abs(ratio - 1) > abs(worst[c][0] - 1):
                worst[c] = (ratio, p[c], rank[c])
    return worst


def most(measured, category):
    return max(rank[category] for rank in measured["ranks"])


def main():
    work, cases = sys.argv[1], sys.argv[2:]
    failures = []
    print(f"{'layout':<32}" + "".join(f"{c:>26}" for c in CATEGORIES))
    print(f"{'':<32}" + f"{'predicted  measured ratio':>26}" * len(CATEGORIES))
    runs = {}
    for case in cases:
        predicted, measured = runs[case] = records(f"{work}/{case}.jsonl")
        worst = worst_rank(predicted, measured)
        cells = []
        for c in CATEGORIES:
            ratio, p, m = worst[c]
            exempt = p < EXEMPT_BELOW
            cells.append(f"{p / 1024:9.1f}K {m / 1024:8.1f}K {ratio:5.3f}{'*' if exempt else ' '}")
            if not exempt and abs(ratio - 1) > TOLERANCE:
                failures.append(f"{case}: {c} measured {m} vs predicted {p} (ratio {ratio:.3f})")
        print(f"{case:<32}" + "".join(f"{cell:>26}" for cell in cells))
    print("(per category the rank furthest from its prediction; * under 64 KiB predicted: not checked)")

    # Optimizer state per rank at dp = 4 is a quarter of dp = 1, up to the bucket padding
    # (which the padded weights reveal: f32 weights, 4 bytes per element; 8 state bytes per element).
    _, one = records(f"{work}/tp1_pp1_dp1_distopt.jsonl")
    _, four = runs["tp1_pp1_dp4_distopt"]
    quarter = most(one, "optimizer") / 4
    padding = (most(four, "weights") - most(one, "weights")) / 4 * 8 / 4
    got = most(four, "optimizer")
    print(f"optimizer state at dp=4: {got} bytes; a quarter of dp=1's: {quarter:.0f} (padding allowance {padding:.0f})")
    if abs(got - quarter) > max(padding, 0.01 * quarter):
        failures.append(f"optimizer state at dp=4 is {got}, not a quarter of dp=1's {quarter * 4:.0f}")

    # Sequence parallelism at tp = 2 saves what the model says it saves.
    p_plain, m_plain = runs["tp2_pp1_dp2"]
    p_sp, m_sp = runs["tp2_pp1_dp2_sp"]
    analytic = p_plain["pipeline_ranks"][0]["activations"] - p_sp["pipeline_ranks"][0]["activations"]
    saved = most(m_plain, "activations") - most(m_sp, "activations")
    print(f"sequence parallelism at tp=2 saves {saved} activation bytes; analytic {analytic}")
    if analytic <= 0 or abs(saved / analytic - 1) > TOLERANCE:
        failures.append(f"sequence parallelism saved {saved} activation bytes, the model says {analytic}")

    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
