#!/usr/bin/env python3
"""Checks that every #include in the tree follows the module rules of docs/ARCHITECTURE.md.

The allowed arrows live in one table in docs/ARCHITECTURE.md (between the `layering:begin` and
`layering:end` markers): one row per CMake target, the folders or files it owns, and the
targets it may include. This script

  1. maps every source file to its target: a .cc by the add_library/add_executable source lists
     of the CMakeLists.txt files, a header by the .cc of the same stem beside it, anything else
     by the longest folder or file prefix in the table;
  2. fails when a file includes a header owned by a target that is neither its own nor one it
     reaches through the table's arrows (its row's list, their rows' lists, and so on, as CMake
     passes usage requirements on);
  3. fails when a file includes a header under some X/internal/ while living outside X/ (an
     internal header is private to the folder that holds the internal/ folder);
  4. fails when a row's list differs from the wp_* targets its CMake target links, so the table
     cannot drift from the build.

Known leaks that later work removes are listed under the table (`layering-exceptions`); each
is allowed by name, and one that no longer occurs fails the check, so the list only shrinks.

Tests, benchmarks and fuzzers are drivers, not modules: they may include any header (white-box
tests reach internal ones), so only rule 4 and the library sources are checked.

Usage: tools/check_layering.py [REPO_ROOT]   (exit status 0 when clean, 1 with a list otherwise)
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
DRIVERS = ("tests/", "bench/", "fuzz/", "tools/", "build", ".git/")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_table():
    text = open(os.path.join(ROOT, "docs/ARCHITECTURE.md"), encoding="utf-8").read()
    m = re.search(r"<!-- layering:begin -->(.*?)<!-- layering:end -->", text, re.S)
    if not m:
        sys.exit("check_layering: no layering table in docs/ARCHITECTURE.md")
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[1].startswith("`") or set(cells[0]) <= set("-: "):
            continue
        target = cells[1].strip("`")
        owns = re.findall(r"`([^`]+)`", cells[2])
        deps = set(re.findall(r"`(wp_[a-z_]+)`", cells[3]))
        rows[target] = (owns, deps)
    return rows


def read_exceptions():
    """(file, header) pairs of known leaks, listed under the table, that later work removes."""
    text = open(os.path.join(ROOT, "docs/ARCHITECTURE.md"), encoding="utf-8").read()
    m = re.search(r"<!-- layering-exceptions:begin -->(.*?)<!-- layering-exceptions:end -->", text, re.S)
    if not m:
        return set()
    return set(re.findall(r"`([^`]+)` includes `([^`]+)`", m.group(1)))


def cmake_targets():
    """target -> (sources relative to ROOT, wp_* targets it links)."""
    sources, links = {}, {}
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel_dir = os.path.relpath(dirpath, ROOT)
        dirnames[:] = [d for d in dirnames if not (rel_dir == "." and d.startswith(("build", ".")))]
        if "CMakeLists.txt" not in filenames:
            continue
        text = open(os.path.join(dirpath, "CMakeLists.txt"), encoding="utf-8").read()
        text = re.sub(r"#[^\n]*", "", text)
        for m in re.finditer(r"add_(?:library|executable)\(\s*(\w+)([^)]*)\)", text):
            for token in m.group(2).split():
                if token.endswith(".cc"):
                    path = os.path.normpath(os.path.join(rel_dir, token))
                    sources.setdefault(m.group(1), []).append(path)
        for m in re.finditer(r"target_link_libraries\(\s*(\w+)([^)]*)\)", text):
            links.setdefault(m.group(1), set()).update(re.findall(r"\b(wp_[a-z_]+)\b", m.group(2)))
    return sources, links


def main():
    rows = read_table()
    sources, links = cmake_targets()
    owner = {}
    for target, files in sources.items():
        if target not in rows:
            continue
        for f in files:
            owner[f] = target
            owner[os.path.splitext(f)[0] + ".h"] = target
    prefixes = sorted(((p, t) for t, (owns, _) in rows.items() for p in owns),
                      key=lambda pt: -len(pt[0]))

    def owner_of(path):
        if path in owner:
            return owner[path]
        for prefix, target in prefixes:
            if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
                return target
        return None

    # A target may include what it links and, as CMake passes usage requirements on, what those
    # link in turn.
    reach = {}
    for target in rows:
        seen, todo = set(), list(rows[target][1])
        while todo:
            t = todo.pop()
            if t in seen or t not in rows:
                continue
            seen.add(t)
            todo.extend(rows[t][1])
        reach[target] = seen

    exceptions = read_exceptions()
    used_exceptions = set()
    errors = []
    for target, (_, deps) in rows.items():
        linked = links.get(target, set()) - {target}
        if target in sources or target in links:
            if linked != deps:
                errors.append(f"{target}: the table allows {sorted(deps)} but CMake links "
                              f"{sorted(linked)}")
        else:
            errors.append(f"{target}: in the table but no CMake target of that name")

    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel_dir = os.path.relpath(dirpath, ROOT)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if not d.startswith(DRIVERS)]
        for name in filenames:
            if not name.endswith((".h", ".cc")):
                continue
            path = os.path.normpath(os.path.join(rel_dir, name))
            if path.startswith(DRIVERS):
                continue
            mine = owner_of(path)
            if mine is None:
                errors.append(f"{path}: belongs to no module of the layering table")
                continue
            text = open(os.path.join(ROOT, path), encoding="utf-8", errors="replace").read()
            for header in INCLUDE.findall(text):
                if (path, header) in exceptions:
                    used_exceptions.add((path, header))
                    continue
                theirs = owner_of(header)
                if theirs is None:
                    # Not one of ours (a library header) or generated beside its target.
                    continue
                if theirs != mine and theirs not in reach[mine]:
                    errors.append(f"{path}: includes {header} ({theirs}), which {mine} may not "
                                  f"include (it links {sorted(rows[mine][1]) or 'nothing of ours'})")
                if "/internal/" in header:
                    home = header[:header.rindex("/internal/") + 1]
                    if not path.startswith(home):
                        errors.append(f"{path}: includes {header}, private to {home}")
    for path, header in sorted(exceptions - used_exceptions):
        errors.append(f"{path} no longer includes {header}: remove it from the exceptions")
    for e in errors:
        print(e)
    if errors:
        print(f"check_layering: {len(errors)} violation(s); the rules are in docs/ARCHITECTURE.md")
        return 1
    print(f"check_layering: {len(rows)} modules, every include follows the table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
