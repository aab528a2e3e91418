#!/usr/bin/python3
"""Draws a trident metrics file (--metrics-file, JSON lines) into a PNG:
loss, learning rate, grad norm and loss scale against iteration, with the
validation loss of each evaluation beside the training loss, and the
divergence guard's rollbacks and the skipped steps marked.

Usage: /usr/bin/python3 launch/plot_metrics.py METRICS.jsonl OUT.png
(Debian's python3-matplotlib.)
"""
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot_metrics.py METRICS.jsonl OUT.png")
    rows, events, evals = [], [], []
    segments = [[]]  # iteration records between events, in file order
    with open(sys.argv[1]) as f:
        for n, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"plot_metrics: {sys.argv[1]} line {n} is not JSON ({e}): is it a --metrics-file?")
            if r.get("event") == "eval":
                evals.append(r)  # beside the curve; it does not cut it
            elif "event" in r:
                events.append(r)
                segments[-1].append(r)  # the event closes its segment
                segments.append([])
            else:
                rows.append(r)
                segments[-1].append(r)
    if not rows:
        sys.exit(f"plot_metrics: {sys.argv[1]} holds no iteration records")
    # After a rollback to c the iterations after c run again: the abandoned ones are drawn grey.
    kept, abandoned = [], []
    for seg in segments:
        steps = [r for r in seg if "event" not in r]
        end = seg[-1] if seg and "event" in seg[-1] and seg[-1]["event"] == "rollback" else None
        cut = end["to_iteration"] if end else math.inf
        kept.append([r for r in steps if r["iteration"] <= cut])
        abandoned.append([r for r in steps if r["iteration"] > cut])
    series = [("loss", "loss (nats/byte)"), ("lr", "learning rate"), ("grad_norm", "grad norm"),
              ("loss_scale", "loss scale")]
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 10), sharex=True)
    for ax, (key, label) in zip(axes, series):
        value = lambda r: r.get(key) if r.get(key) is not None else math.nan
        for part, style in ((kept, dict(color="C0", lw=1)), (abandoned, dict(color="grey", lw=1, ls="--"))):
            for seg in part:
                if seg:
                    ax.plot([r["iteration"] for r in seg], [value(r) for r in seg], **style)
        if key == "loss" and evals:
            ax.plot([e["iteration"] for e in evals], [value(e) for e in evals], color="C2", lw=1, marker="o",
                    ms=3, label="validation")
            ax.plot([], [], color="C0", lw=1, label="training")
            ax.legend(fontsize=8)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        for r in rows:
            if r.get("skipped"):
                ax.axvline(r["iteration"], color="orange", lw=0.8, alpha=0.6)
        for e in events:
            if e["event"] == "rollback":
                ax.axvline(e["from_iteration"], color="red", lw=1.2)
                ax.axvspan(e["to_iteration"], e["from_iteration"], color="red", alpha=0.08)
    axes[2].set_yscale("log")
    axes[3].set_yscale("log")
    axes[-1].set_xlabel("iteration")
    rollbacks = sum(e["event"] == "rollback" for e in events)
    skipped = sum(bool(r.get("skipped")) for r in rows)
    axes[0].set_title(f"{sys.argv[1]}: {len(rows)} iterations, {len(evals)} evaluation(s) (green), {rollbacks} "
                      f"rollback(s) (red; abandoned iterations grey), {skipped} skipped step(s) (orange)", fontsize=9)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=100)
    print(f"plot_metrics: wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
