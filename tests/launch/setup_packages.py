#!/usr/bin/python3
"""Every file the build found must come from the set-up's package list.

`./launch/trident setup` installs launch/packages.txt with
--no-install-recommends. A package that is only on this machine because
someone installed it by hand (or because it was a Recommends) makes CI pass
here and a fresh machine fail: that is how oneDNN's CMake config came to
need OpenCL unnoticed (docs/decisions.md, "Set-up packages").

So: take every path the configure step recorded (CMakeCache.txt: found
libraries, headers, programs, package config directories), every shared
library the built programs load (ldd), and every Python module the
project's scripts import (as /usr/bin/python3 resolves it); find the Debian
package that owns each (dpkg's own file lists); and require that package to
be in the list or a Depends/Pre-Depends of one in it. A file no package
owns is an error too (installed by hand: pip, make install), except in the
source and build trees and the CUDA toolkit (/usr/local/cuda), the one
dependency that comes from outside Debian.

  setup_packages.py PACKAGES_TXT BUILD_DIR SOURCE_DIR             the check
  setup_packages.py ... --drop PKG                                 the check without PKG in the list
  setup_packages.py ... --self-test                                drop, one at a time, each listed package
                                                                   nothing else pulls in, and require the
                                                                   check to name it
"""
import argparse
import ast
import glob
import importlib.util
import os
import re
import subprocess
import sys


def read_list(path):
    names = []
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


def installed_packages():
    """name -> (depends alternatives [[name, ...], ...], provides [name, ...], essential) of installed packages."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${Status}\t${Pre-Depends}\t${Depends}\t${Provides}\t${Essential}\n"],
        capture_output=True, text=True, check=True).stdout
    pkgs = {}
    for line in out.splitlines():
        name, status, pre, dep, prov, essential = (line.split("\t") + [""] * 6)[:6]
        if not status.endswith("installed") or status.split()[-1] != "installed":
            continue
        alternatives = []
        for clause in filter(None, (c.strip() for c in (pre + "," + dep).split(","))):
            alternatives.append([re.split(r"[\s:(]", a.strip())[0] for a in clause.split("|")])
        provides = [re.split(r"[\s:(]", p.strip())[0] for p in prov.split(",") if p.strip()]
        pkgs[name] = (alternatives, provides, essential.strip() == "yes")
    return pkgs


def closure(roots, pkgs):
    """The installed packages that installing `roots` without recommends brings in, with
    the Essential ones (coreutils, ...) that every Debian system has."""
    providers = {}
    for name, (_, provides, _) in pkgs.items():
        for p in provides:
            providers.setdefault(p, []).append(name)
    seen, todo = set(), [r for r in roots if r in pkgs] + [n for n, p in pkgs.items() if p[2]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for alternatives in pkgs[name][0]:
            # apt picks one alternative; which one is installed is the one it picked.
            for a in alternatives:
                chosen = [a] if a in pkgs else providers.get(a, [])
                if chosen:
                    todo.extend(chosen)
                    break
    return seen


def file_owners():
    """path -> set of packages whose dpkg file list names it."""
    owners = {}
    for lst in glob.glob("/var/lib/dpkg/info/*.list"):
        pkg = os.path.basename(lst)[:-len(".list")].split(":")[0]
        for line in open(lst, errors="replace"):
            owners.setdefault(line.rstrip("\n"), set()).add(pkg)
    return owners


def owners_of(path, owners):
    """Owners of `path` itself; failing that, of what it resolves to (alternatives, /usr-merge)."""
    def variants(p):
        yield p
        if p.startswith("/usr/") and p.split("/")[2] in ("lib", "lib64", "bin", "sbin"):
            yield p[len("/usr"):]
        elif p.split("/")[1] in ("lib", "lib64", "bin", "sbin"):
            yield "/usr" + p
    for candidate in (path, os.path.realpath(path)):
        for v in variants(os.path.normpath(candidate)):
            if v in owners:
                return owners[v]
    return set()


def cache_paths(build_dir):
    """(path, what found it) for every existing absolute path in CMakeCache.txt."""
    found = []
    for line in open(os.path.join(build_dir, "CMakeCache.txt")):
        m = re.match(r"^([A-Za-z0-9_.+-]+):(FILEPATH|PATH|STRING|INTERNAL)=(.*)$", line.rstrip("\n"))
        if not m:
            continue
        var, _, value = m.groups()
        for item in value.split(";"):
            item = item.strip()
            if item.startswith("-l") or not item.startswith("/") or not os.path.exists(item):
                continue
            found.append((item, "CMakeCache " + var))
    return found


def loaded_libraries(build_dir):
    found = []
    for exe in sorted(glob.glob(os.path.join(build_dir, "bin", "*"))):
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            continue
        out = subprocess.run(["ldd", exe], capture_output=True, text=True).stdout
        for lib in re.findall(r"=> (/\S+)", out):
            found.append((lib, "ldd " + os.path.basename(exe)))
    return found


def imported_modules(source_dir):
    """Top-level modules the project's Python files import, as /usr/bin/python3 finds them."""
    names = set()
    for py in glob.glob(os.path.join(source_dir, "**", "*.py"), recursive=True):
        if "/build" in py[len(source_dir):]:
            continue
        try:
            tree = ast.parse(open(py).read())
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    found = []
    for name in sorted(names):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            continue  # a module of the project's own (found by path at run time), or one a test skips without
        origin = spec.origin if spec.origin not in (None, "built-in", "frozen") else None
        if origin is None and spec.submodule_search_locations:
            origin = list(spec.submodule_search_locations)[0]
        if origin:
            found.append((origin, "python import " + name))
    return found


OUTSIDE_DEBIAN = ("/usr/local/cuda",)
NO_PACKAGE = "no Debian package"


def problems(listed, pkgs, owners, found, source_dir, build_dir):
    have = closure(listed, pkgs)
    out = {}
    for path, why in found:
        if path.startswith(source_dir + "/") or path.startswith(build_dir + "/"):
            continue
        who = owners_of(path, owners)
        if not who:
            # A file no package owns, found where the build or a script looks: installed by
            # hand (pip, make install), so a fresh machine lacks it. The CUDA toolkit is the one
            # dependency that comes from outside Debian.
            if os.path.isfile(path) and not path.startswith(OUTSIDE_DEBIAN):
                out.setdefault(NO_PACKAGE, []).append(f"{path} ({why})")
            continue
        if who & have:
            continue
        # Directories (an include dir) are shared by many packages; any listed owner will do.
        key = ", ".join(sorted(who))
        out.setdefault(key, []).append(f"{path} ({why})")
    return out


def report(found_problems, list_path):
    for pkgs, paths in sorted(found_problems.items()):
        if pkgs == NO_PACKAGE:
            for p in paths:
                print(f"setup_packages: {p} belongs to no Debian package (installed by hand?): install what "
                      f"provides it from Debian and list that package in {list_path}")
            continue
        print(f"setup_packages: {paths[0]}{' and %d more' % (len(paths) - 1) if len(paths) > 1 else ''} "
              f"belongs to {pkgs}, which {list_path} neither lists nor pulls in as a dependency: "
              f"add it to {list_path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("packages_txt")
    ap.add_argument("build_dir")
    ap.add_argument("source_dir")
    ap.add_argument("--drop", action="append", default=[], help="leave PKG out of the list (to see the check fail)")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    source_dir, build_dir = os.path.realpath(args.source_dir), os.path.realpath(args.build_dir)

    listed = [p for p in read_list(args.packages_txt) if p not in args.drop]
    pkgs = installed_packages()
    not_installed = [p for p in listed if p not in pkgs]
    if not_installed:
        print(f"setup_packages: listed but not installed: {' '.join(not_installed)}: run ./launch/trident setup")
        return 1
    owners = file_owners()
    found = cache_paths(build_dir) + loaded_libraries(build_dir) + imported_modules(source_dir)
    judged = [f for f in found if owners_of(f[0], owners)]
    print(f"setup_packages: {len(found)} paths found by the build and scripts, {len(judged)} owned by Debian "
          f"packages; {len(listed)} packages listed, {len(closure(listed, pkgs))} with their dependencies")

    if not args.self_test:
        bad = problems(listed, pkgs, owners, found, source_dir, build_dir)
        report(bad, args.packages_txt)
        return 1 if bad else 0

    # Self-test: a package that alone owns a judged path and that nothing else on
    # the list pulls in must be named when it is dropped.
    caught = 0
    for p in listed:
        rest = [q for q in listed if q != p]
        have = closure(rest, pkgs)
        if p in have:
            continue
        # Only paths that p alone provides (a directory shared with a package still listed is fine).
        if not any(p in owners_of(path, owners) and not owners_of(path, owners) & have for path, _ in judged):
            continue
        bad = problems(rest, pkgs, owners, found, source_dir, build_dir)
        if not any(p in key.split(", ") for key in bad if key != NO_PACKAGE):
            print(f"setup_packages: self-test: dropping {p} (which owns a found path) went unnoticed")
            return 1
        caught += 1
        print(f"setup_packages: self-test: dropping {p} is caught")
    if caught < 3:
        print(f"setup_packages: self-test: only {caught} packages could be checked by dropping; expected several")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
