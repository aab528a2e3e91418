#!/usr/bin/python3
"""The trainer stays a set of small parts (issue 15): in launch/, no function
is longer than 60 lines (from its signature to its closing brace) and no
class holds more than 12 data members. Plain records (structs such as
TrainConfig, whose fields are the flags, or IterationStats) are not
classes here: they own no behaviour to split.

Usage: structure_check.py SOURCE_DIR [--self-test]  (also prints the largest function and class)
A heuristic C++ reader: comments and literals are blanked, then braces are
matched; a brace after a parenthesised signature at namespace or class
level opens a function body.
"""
import pathlib
import re
import sys
import tempfile

MAX_FUNCTION_LINES = 60
MAX_CLASS_MEMBERS = 12


def blank(text):
    """Comments, string and character literals replaced by spaces (newlines kept)."""
    pattern = re.compile(r'//[^\n]*|/\*.*?\*/|R"\((?:.|\n)*?\)"|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
    return pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def strip_templates(s):
    while True:
        t = re.sub(r"<[^<>]*>", "", s)
        if t == s:
            return t
        s = t


def check_file(path, text, sizes=None):
    """Problems found; `sizes` (a list) also gets every (lines or members, kind, where, name)."""
    src = blank(text)
    problems = []
    # Stack of (kind, start line, name, members) for open braces.
    stack = []
    last = 0  # index after the last ';', '{' or '}'
    line_of = lambda i: src.count("\n", 0, i) + 1
    for i, ch in enumerate(src):
        if ch == ";":
            if stack and stack[-1][0] == "class":
                stmt = re.sub(r"\b(public|private|protected)\s*:", "", src[last:i]).strip()
                head = strip_templates(stmt).split("=")[0]
                if stmt and "(" not in head and not re.match(r"(using|friend|static|enum|typedef|struct|class)\b", stmt):
                    stack[-1][3].append(head.split()[-1].lstrip("*&") if head.split() else stmt)
            last = i + 1
        elif ch == "{":
            before = src[last:i]
            outer = stack[-1][0] if stack else "namespace"
            start = line_of(last + len(before) - len(before.lstrip()))
            if re.search(r"\bnamespace\b", before) or (outer == "namespace" and re.search(r'\bextern\b', before)):
                kind = "namespace"
            elif re.search(r"\bclass\b", before) and "(" not in before and outer in ("namespace", "class", "struct"):
                kind = "class"
            elif re.search(r"\b(struct|union|enum)\b", before) and "(" not in before:
                kind = "struct"
            elif outer in ("namespace", "class", "struct") and ")" in before and not re.search(r"=\s*$", before):
                kind = "function"
            else:
                kind = "block"
            name = re.findall(r"[\w:~]+(?=\s*\()", before)
            stack.append((kind, start, name[0] if name else before.strip()[:40], []))
            last = i + 1
        elif ch == "}":
            if not stack:
                continue
            kind, start, name, members = stack.pop()
            end = line_of(i)
            if sizes is not None and kind in ("function", "class"):
                sizes.append((end - start + 1 if kind == "function" else len(members), kind, f"{path}:{start}", name))
            if kind == "function" and end - start + 1 > MAX_FUNCTION_LINES:
                problems.append(f"{path}:{start}: function {name} is {end - start + 1} lines "
                                f"(at most {MAX_FUNCTION_LINES}): split it into parts with one job each")
            if kind == "class" and len(members) > MAX_CLASS_MEMBERS:
                problems.append(f"{path}:{start}: {name} has {len(members)} data members "
                                f"(at most {MAX_CLASS_MEMBERS}): {', '.join(members)}")
            last = i + 1
    return problems


def check_tree(root, sizes=None):
    problems = []
    for path in sorted(pathlib.Path(root, "launch").glob("*")):
        if path.suffix in (".h", ".cc"):
            problems += check_file(path.relative_to(root), path.read_text(), sizes)
    return problems


def self_test():
    long_body = "\n".join(f"  x += {i};" for i in range(70))
    members = "\n".join(f"  int m{i}_ = 0;" for i in range(13))
    bad = f"namespace a {{\nint f(int x) {{\n{long_body}\n  return x;\n}}\nclass Big {{\n public:\n  void g();\n{members}\n}};\n}}\n"
    good = "namespace a {\nint f(int x) {\n  auto l = [&] { return x; };\n  return l();\n}\nstruct Rec {\n" + members + "\n};\n}\n"
    found = check_file("bad.cc", bad)
    assert any("function f is 73 lines" in p for p in found), found
    assert any("class Big has 13 data members" in p for p in found), found
    assert any("m12_" in p for p in found), found
    assert check_file("good.cc", good) == [], check_file("good.cc", good)
    with tempfile.TemporaryDirectory() as d:
        pathlib.Path(d, "launch").mkdir()
        pathlib.Path(d, "launch", "bad.cc").write_text(bad)
        assert len(check_tree(d)) == 2
    print("structure_check: self-test passed (a 73-line function and a 13-member class are found)")


def main():
    if "--self-test" in sys.argv:
        self_test()
        return 0
    sizes = []
    problems = check_tree(sys.argv[1], sizes)
    for kind, unit in (("function", "lines"), ("class", "data members")):
        largest = max((s for s in sizes if s[1] == kind), default=None)
        if largest:
            print(f"structure_check: largest {kind}: {largest[3]} ({largest[2]}), {largest[0]} {unit}")
    for p in problems:
        print(f"structure_check: {p}")
    if problems:
        return 1
    print(f"structure_check: every function in launch/ has at most {MAX_FUNCTION_LINES} lines and every class "
          f"at most {MAX_CLASS_MEMBERS} data members")
    return 0


if __name__ == "__main__":
    sys.exit(main())
