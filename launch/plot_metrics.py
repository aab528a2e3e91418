#!/usr/bin/python3
"""Draws a trident metrics file (--metrics-file, JSON lines) into a PNG:
loss, learning rate, grad norm and loss scale against iteration, with the
validation loss of each evaluation beside the training loss, and the
divergence guard's rollbacks and the skipped steps marked.

Usage: /usr/bin/python3 launch/plot_metrics.py METRICS.jsonl OUT.png
       /usr/bin/python3 launch/plot_metrics.py --print-series METRICS.jsonl
(Debian's python3-matplotlib.) --print-series draws nothing: it prints what
would be drawn as one JSON line (the iterations of the training loss, of the
abandoned iterations and of the evaluations, and the loss unit), for tests.

A resumed run appends to the file of the run it resumes: see Note [timeline].
Every error is one line on stderr: exit 1, or 2 for a wrong command line.
"""
import json
import sys

USAGE = "usage: plot_metrics.py METRICS.jsonl OUT.png | plot_metrics.py --print-series METRICS.jsonl"


def fail(message, status=1):
    print(f"plot_metrics: {message}", file=sys.stderr)
    sys.exit(status)


def reason(e):
    """An exception as a few words on one line."""
    return (e.strerror if isinstance(e, OSError) and e.strerror else str(e)).replace("\n", " ")


def read_records(path):
    """The records of a metrics file, in file order, each checked to carry what the plot reads."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        fail(f"cannot read {path}: {reason(e)}")
    records = []
    for n, line in enumerate(lines, 1):
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            fail(f"{path} line {n} is not JSON ({e}): is it a --metrics-file?")
        needs = ["iteration"] + (["from_iteration", "to_iteration"] if isinstance(r, dict) and
                                 r.get("event") == "rollback" else [])
        if not isinstance(r, dict) or not all(type(r.get(k)) is int for k in needs):
            fail(f"{path} line {n} is not a metrics record (needs integer {', '.join(needs)}): is it a --metrics-file?")
        records.append(r)
    return records


# Note [timeline]
# A run that is killed and resumed from its checkpoint at iteration S appends
# to the same metrics file: its records of iterations S+1.. follow the first
# run's, which may have gone on to some T > S. The plot draws the last
# timeline only: the resume replaces every earlier record after S. The
# trainer marks each run's beginning with {"event": "start", "iteration": S,
# "loss_unit": ...}; files from before that record existed show a resume as an
# iteration at or below the one before it with no rollback in between, and are
# read as if a start record with S = that iteration - 1 had come first.
# A rollback of the divergence guard from F to T is not a resume: it keeps the
# iterations (and evaluations) after T, drawn grey as abandoned, beside the ones
# that redo them.
class Timeline:
    """The records of a metrics file that the plot draws, fed in file order."""

    def __init__(self):
        self.kept = []  # iteration records of the timeline, iterations strictly increasing
        self.abandoned = []  # per rollback: the iteration records it undid
        self.evals = []  # eval records of the timeline
        self.evals_abandoned = []  # eval records that a rollback undid
        self.events = []  # other {"event": ...} records: rollback, divergence, give_up
        self.loss_unit = None  # of the last start record; None for a file without one
        self.position = None  # the iteration the timeline stands at

    def add(self, r):
        event = r.get("event")
        if event == "start":
            self.restart(r["iteration"])
            self.loss_unit = r.get("loss_unit")
        elif event == "eval":
            self.evals.append(r)
        elif event == "rollback":
            self.roll_back(r)
        elif event is not None:
            self.events.append(r)
        else:
            if self.position is not None and r["iteration"] <= self.position:
                self.restart(r["iteration"] - 1)  # a resume from a file without start records
            self.kept.append(r)
            self.position = r["iteration"]

    def roll_back(self, r):
        cut = r["to_iteration"]
        self.abandoned.append([s for s in self.kept if s["iteration"] > cut])
        self.kept = [s for s in self.kept if s["iteration"] <= cut]
        self.evals_abandoned += [e for e in self.evals if e["iteration"] > cut]
        self.evals = [e for e in self.evals if e["iteration"] <= cut]
        self.events.append(r)
        self.position = cut

    def restart(self, start):
        """A run starts after iteration `start`: every record after it belongs to a run it replaces."""
        before = lambda records: [r for r in records if r["iteration"] <= start]
        self.kept, self.evals, self.evals_abandoned = before(self.kept), before(self.evals), before(self.evals_abandoned)
        self.abandoned = [run for run in map(before, self.abandoned) if run]
        # A rollback stays while iterations it abandoned (those after its target) are still drawn grey.
        survives = lambda e: e["to_iteration"] < start if e["event"] == "rollback" else e["iteration"] <= start
        self.events = [e for e in self.events if survives(e)]
        self.position = start

    def loss_label(self):
        # Before start records, the unit was not written: a token is what any vocabulary's loss is per.
        return f"loss ({self.loss_unit})" if self.loss_unit else "loss (nats per token)"

    def series(self):
        """What the plot draws, by iteration: the --print-series line."""
        return {"loss_unit": self.loss_unit, "loss_label": self.loss_label(),
                "train": [r["iteration"] for r in self.kept],
                "abandoned": [r["iteration"] for run in self.abandoned for r in run],
                "eval": [e["iteration"] for e in self.evals],
                "eval_abandoned": [e["iteration"] for e in self.evals_abandoned]}


def draw(t, path, out):
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError as e:
        fail(f"drawing needs Debian's python3-matplotlib: {reason(e)}")
    steps = t.kept + [r for run in t.abandoned for r in run]
    series = [("loss", t.loss_label(), "linear"), ("lr", "learning rate", "linear"), ("grad_norm", "grad norm", "log"),
              ("loss_scale", "loss scale", "log")]
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 10), sharex=True)
    for ax, (key, label, scale) in zip(axes, series):
        value = lambda r: r.get(key) if r.get(key) is not None else float("nan")
        # A log axis needs a positive value (every step of a run can be skipped: no grad norm at all).
        if scale == "linear" or any(value(r) > 0 for r in steps):
            ax.set_yscale(scale)
        for run, style in [(t.kept, dict(color="C0", lw=1))] + [(run, dict(color="grey", lw=1, ls="--"))
                                                                for run in t.abandoned]:
            if run:
                ax.plot([r["iteration"] for r in run], [value(r) for r in run], **style)
        if key == "loss" and (t.evals or t.evals_abandoned):
            ax.plot([e["iteration"] for e in t.evals], [value(e) for e in t.evals], color="C2", lw=1, marker="o",
                    ms=3, label="validation")
            ax.plot([e["iteration"] for e in t.evals_abandoned], [value(e) for e in t.evals_abandoned],
                    color="grey", lw=0, marker="o", ms=3)
            ax.plot([], [], color="C0", lw=1, label="training")
            ax.legend(fontsize=8)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        for r in steps:
            if r.get("skipped"):
                ax.axvline(r["iteration"], color="orange", lw=0.8, alpha=0.6)
        for e in t.events:
            if e["event"] == "rollback":
                ax.axvline(e["from_iteration"], color="red", lw=1.2)
                ax.axvspan(e["to_iteration"], e["from_iteration"], color="red", alpha=0.08)
    axes[-1].set_xlabel("iteration")
    rollbacks = sum(e["event"] == "rollback" for e in t.events)
    skipped = sum(bool(r.get("skipped")) for r in steps)
    axes[0].set_title(f"{path}: {len(t.kept)} iterations, {len(t.evals)} evaluation(s) (green), {rollbacks} "
                      f"rollback(s) (red; abandoned iterations grey), {skipped} skipped step(s) (orange)", fontsize=9)
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=100)
    except (OSError, ValueError) as e:  # ValueError: a file name ending in no image format
        fail(f"cannot write {out}: {reason(e)}")
    print(f"plot_metrics: wrote {out}")


def main():
    args = sys.argv[1:]
    print_series = args[:1] == ["--print-series"]
    if print_series:
        args = args[1:]
    if len(args) != (1 if print_series else 2) or any(a.startswith("--") for a in args):
        fail(USAGE, status=2)
    path = args[0]
    t = Timeline()
    for r in read_records(path):
        t.add(r)
    if not t.kept:
        fail(f"{path} holds no iteration records")
    if print_series:
        print(json.dumps(t.series()))
    else:
        draw(t, path, args[1])


if __name__ == "__main__":
    main()
