#!/usr/bin/env python3
"""Print a ctest -R regular expression naming the tests of a build tree,
selected by the tests/ folder their program was built in.

    scripts/select-tests.py BUILD_DIR [--dirs "socket inproc ..."]
                            [--exclude-dirs "io_uring ..."]
                            [--names REGEX] [--exclude-names REGEX] [--list]

A test belongs to folder D when its command's program lies under
BUILD_DIR/tests/D/ (or, for script tests such as install.consumer, when a
command argument lies under the source tree's tests/D/).  --dirs keeps only
the tests of those folders (folders that do not exist yet are ignored);
--names adds every test whose name matches REGEX; --exclude-dirs and
--exclude-names then remove tests.  The result is an anchored alternation,
'^(a|b\\.epoll|...)$', or nothing (exit 1) when no test is selected.
--list prints the names, one a line, instead.

Selecting by folder keeps the lists in the Makefile short and correct as
tests are added: a new program in tests/socket/ is a network test whatever
its name.
"""
import argparse
import json
import os
import re
import subprocess
import sys


def test_dir(test):
    """The tests/ folder a ctest test belongs to, or None: the last
    .../tests/<dir>/... component of its first absolute-path argument (the
    program in the build tree, or the script in the source tree)."""
    for arg in test.get("command", []):
        if os.path.isabs(arg):
            found = re.findall(r"/tests/([^/]+)/", arg)
            if found:
                return found[-1]
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--dirs", default=None)
    ap.add_argument("--exclude-dirs", default="")
    ap.add_argument("--names", default=None)
    ap.add_argument("--exclude-names", default=None)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()

    build_dir = os.path.realpath(args.build_dir)
    out = subprocess.run(["ctest", "--show-only=json-v1"], cwd=build_dir,
                         check=True, capture_output=True, text=True).stdout
    tests = json.loads(out).get("tests", [])

    dirs = set(args.dirs.split()) if args.dirs is not None else None
    exclude_dirs = set(args.exclude_dirs.split())
    selected = []
    for t in tests:
        name = t["name"]
        d = test_dir(t)
        keep = dirs is None and args.names is None
        if dirs is not None and d in dirs:
            keep = True
        if args.names and re.search(args.names, name):
            keep = True
        if d in exclude_dirs:
            keep = False
        if args.exclude_names and re.search(args.exclude_names, name):
            keep = False
        if keep:
            selected.append(name)

    if not selected:
        print("select-tests: no test selected", file=sys.stderr)
        return 1
    if args.list:
        print("\n".join(selected))
    else:
        print("^(" + "|".join(re.escape(n) for n in selected) + ")$")
    return 0


if __name__ == "__main__":
    sys.exit(main())
