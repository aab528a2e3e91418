#!/usr/bin/python3
"""Each folder includes only the folders DESIGN.md's table lets it use.

DESIGN.md, "Folders and what each owns", says which folder may use which:
core uses nothing else in trident, backend and dist use core, parallel
uses core, backend and dist, and so on up to launch, which uses everything.
This script is that table, checked: it reads every `#include "..."` in the
.h/.cc/.cu/.cuh files under framework/, models/, optim/, checkpoint/ and
launch/ and prints one line per include the table does not allow:

  framework/dist/nccl/nccl_comm.cc:3: framework/dist may not include
      framework/backend/cuda/cuda_check.h (framework/dist may use: framework/core)

Subfolders belong to their folder (backend/cpu and backend/cuda are
backend, dist/nccl is dist); every models/<name> is a folder of its own
that may use framework. System and third-party headers (<...>) are not
trident's and are ignored. A source file in a folder the table does not
know fails too, so a new folder gets its row here when it gets one in
DESIGN.md.

  layering_check.py [--root SOURCE_DIR]    the check (exit 1 on any violation)
  layering_check.py --self-test            the check on a made-up tree, with
                                           one allowed and one forbidden
                                           include of each kind
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

# DESIGN.md's table: folder -> the folders it may use (besides itself).
# "framework" stands for every framework/* folder, "models" for every
# models/* folder.
ALLOWED = {
    "framework/core": [],
    "framework/backend": ["framework/core"],
    "framework/dist": ["framework/core"],
    "framework/parallel": ["framework/core", "framework/backend", "framework/dist"],
    "framework/pipeline": ["framework/core", "framework/dist"],
    "framework/data": ["framework/core"],
    "framework/plan": ["framework/core", "framework/pipeline"],
    "models/*": ["framework"],
    "optim": ["framework"],  # sees Params, never a model
    "checkpoint": ["framework"],  # sees Params and named state, never a model
    "launch": ["framework", "models", "optim", "checkpoint"],
}
SCANNED = ["framework", "models", "optim", "checkpoint", "launch"]
SOURCE_SUFFIXES = (".h", ".cc", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def folder_of(path):
    """The table's folder for a root-relative path, or None outside every folder."""
    parts = path.split("/")
    if parts[0] in ("framework", "models") and len(parts) > 2:
        return parts[0] + "/" + parts[1]
    if parts[0] in ("optim", "checkpoint", "launch") and len(parts) > 1:
        return parts[0]
    return None


def rule_of(folder):
    return "models/*" if folder.startswith("models/") else folder


def may_use(folder, other):
    if folder == other:
        return True
    for allowed in ALLOWED[rule_of(folder)]:
        if other == allowed or other.startswith(allowed + "/"):
            return True
    return False


def allowed_text(folder):
    uses = ALLOWED[rule_of(folder)]
    return ", ".join(uses) if uses else "no other trident folder"


def resolve(root, including_dir, header):
    """The root-relative path of a quoted include: root-relative as trident
    writes them, or relative to the including file."""
    if folder_of(header) is not None or os.path.exists(os.path.join(root, header)):
        return header
    beside = os.path.normpath(os.path.join(including_dir, header))
    if os.path.exists(os.path.join(root, beside)):
        return beside
    return header


def check(root):
    """Every offending include under `root`, as printable lines."""
    problems = []
    for top in SCANNED:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
                folder = folder_of(rel)
                if folder is None or rule_of(folder) not in ALLOWED:
                    problems.append(f"{rel}:1: {folder or os.path.dirname(rel)} is not a folder of DESIGN.md's "
                                    f"table; add its row there and in {os.path.basename(__file__)}")
                    continue
                with open(os.path.join(dirpath, name), encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        header = resolve(root, os.path.dirname(rel), m.group(1))
                        other = folder_of(header)
                        if other is not None and may_use(folder, other):
                            continue
                        problems.append(f"{rel}:{number}: {folder} may not include {header} "
                                        f"({folder} may use: {allowed_text(folder)})")
    return problems


def self_test():
    """Builds a small tree with known good and bad includes; the check must
    name exactly the bad ones, and pass the tree once they are gone."""
    good = {
        "framework/core/tensor.h": ["<vector>", "framework/core/error.h"],
        "framework/core/error.h": [],
        "framework/backend/backend.h": ["framework/core/tensor.h"],
        "framework/backend/cuda/gemm.cu": ["framework/backend/backend.h", "<cublasLt.h>", "launch_utils.cuh"],
        "framework/backend/cuda/launch_utils.cuh": ["framework/core/tensor.h"],
        "framework/dist/nccl/nccl_comm.cc": ["framework/dist/comm.h", "framework/core/error.h", "<nccl.h>"],
        "framework/dist/comm.h": [],
        "framework/parallel/grad_buckets.cc": ["framework/backend/backend.h", "framework/dist/comm.h"],
        "framework/pipeline/executor.cc": ["framework/dist/comm.h"],
        "framework/plan/memory.cc": ["framework/pipeline/executor.h", "framework/core/tensor.h"],
        "models/gpt/block.cc": ["framework/parallel/grad_buckets.h", "models/gpt/block.h"],
        "models/llama/block.cc": ["framework/backend/backend.h"],
        "optim/adamw.cc": ["framework/core/tensor.h"],
        "checkpoint/shard_io.cc": ["framework/dist/comm.h", "<hdf5.h>"],
        "launch/trainer.cc": ["models/gpt/block.h", "optim/adamw.h", "checkpoint/shard_io.h",
                              "framework/plan/memory.h"],
    }
    bad = {
        "framework/core/dtype.cc": ["framework/backend/backend.h"],
        "framework/dist/nccl/nccl_check.cc": ["framework/backend/cuda/cuda_check.h"],
        "framework/pipeline/schedule.cc": ["framework/backend/backend.h"],
        "framework/plan/time.cc": ["framework/dist/comm.h"],
        "models/llama/attention.cc": ["models/gpt/block.h"],
        "optim/grad_clip.cc": ["models/gpt/block.h"],
        "checkpoint/index.cc": ["launch/trainer.h"],
        "framework/data/sampler.cc": ["tests/support/helpers.h"],
        "framework/backend/cpu/gemm.cc": ["../../dist/comm.h"],  # relative, still dist
    }
    expected = {
        "framework/core/dtype.cc:3: framework/core may not include framework/backend/backend.h "
        "(framework/core may use: no other trident folder)",
        "framework/dist/nccl/nccl_check.cc:3: framework/dist may not include framework/backend/cuda/cuda_check.h "
        "(framework/dist may use: framework/core)",
        "framework/pipeline/schedule.cc:3: framework/pipeline may not include framework/backend/backend.h "
        "(framework/pipeline may use: framework/core, framework/dist)",
        "framework/plan/time.cc:3: framework/plan may not include framework/dist/comm.h "
        "(framework/plan may use: framework/core, framework/pipeline)",
        "models/llama/attention.cc:3: models/llama may not include models/gpt/block.h "
        "(models/llama may use: framework)",
        "optim/grad_clip.cc:3: optim may not include models/gpt/block.h (optim may use: framework)",
        "checkpoint/index.cc:3: checkpoint may not include launch/trainer.h (checkpoint may use: framework)",
        "framework/data/sampler.cc:3: framework/data may not include tests/support/helpers.h "
        "(framework/data may use: framework/core)",
        "framework/backend/cpu/gemm.cc:3: framework/backend may not include framework/dist/comm.h "
        "(framework/backend may use: framework/core)",
    }

    def write(root, files):
        for path, includes in files.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write("// made up by layering_check.py --self-test\n#pragma once\n")
                for inc in includes:
                    f.write(f"#include {inc}\n" if inc.startswith("<") else f'#include "{inc}"\n')
                f.write('// #include "launch/trainer.h" is a comment, not an include\n')

    def run(root):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--root", root],
                             capture_output=True, text=True)
        return out.returncode, [line for line in out.stdout.splitlines() if line]

    failures = []
    with tempfile.TemporaryDirectory() as root:
        write(root, good)
        code, lines = run(root)
        if code != 0 or lines:
            failures.append(f"a tree of allowed includes failed (exit {code}):\n  " + "\n  ".join(lines))
        write(root, bad)
        code, lines = run(root)
        if code != 1:
            failures.append(f"a tree with forbidden includes exited {code}, not 1")
        for line in sorted(expected - set(lines)):
            failures.append(f"not reported: {line}")
        for line in sorted(set(lines) - expected):
            failures.append(f"reported but allowed: {line}")
        write(root, {"framework/newfolder/thing.cc": ["framework/core/error.h"]})
        code, lines = run(root)
        if not any(line.startswith("framework/newfolder/thing.cc:1: framework/newfolder is not a folder")
                   for line in lines):
            failures.append("a source file in a folder missing from the table was not reported")
    for f in failures:
        print(f"layering_check self-test: {f}")
    print("layering_check self-test: " + ("FAILED" if failures else "ok"))
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..")),
                        help="the source tree (default: this script's ../..)")
    parser.add_argument("--self-test", action="store_true", help="check the check on a made-up tree")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    if not os.path.isdir(os.path.join(args.root, "framework")):
        print(f"layering_check: {args.root} has no framework/: give the source tree with --root", file=sys.stderr)
        return 2
    problems = check(args.root)
    for p in problems:
        print(p)
    if problems:
        print(f"layering_check: {len(problems)} include(s) against DESIGN.md's table of folders", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
