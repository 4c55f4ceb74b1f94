#!/usr/bin/env python3
"""Turn a gcovr --json-summary report into the per-module line-coverage table
of issue 6, print it, optionally write docs/coverage.md, and fail when a
module or the total is under its floor.

    scripts/coverage-table.py SUMMARY.json [--markdown docs/coverage.md]
                              [--skips "name: reason" ...]

A module is a folder under src/ (core, memory, bind, socket, ...), plus
tools/.  Every folder under src/ is listed, so a new module cannot be missed:
  - built and measured          -> its line coverage, checked against the floor
  - a hardware backend that is not built or cannot run here (EVPL_COV_HARDWARE)
                                 -> "not built / cannot run here", not checked
  - expected but absent (EVPL_COV_EXPECTED, e.g. io_uring before it lands)
                                 -> "absent", not checked
  - a folder with sources but no coverage data -> 0 %, a failure

Environment:
  EVPL_COV_MODULE_MIN   per-module floor in percent (default 80)
  EVPL_COV_TOTAL_MIN    floor for the total (default 85)
  EVPL_COV_EXPECTED     modules to list even when their folder is absent
  EVPL_COV_HARDWARE     modules that need hardware or drivers this machine lacks
  EVPL_COV_HARDWARE_FILES  single files of a module that drive hardware
                        (default: the block NVMe-passthrough and VFIO
                        backends); they are listed on their own rows, outside
                        their module's floor and the total
"""
import argparse
import datetime
import json
import os
import sys

EXPECTED = os.environ.get(
    "EVPL_COV_EXPECTED",
    "core memory bind socket inproc tcp_rdma io_uring block thread tls http rpc2 tools").split()
HARDWARE = {
    # name: why it cannot be measured on the CI machine
    "rdmacm": "needs an RDMA NIC (librdmacm/ibverbs)",
    "vfio": "needs a VFIO-bound NVMe device",
    "nvme": "needs NVMe passthrough (/dev/ng*)",
    "xlio": "needs NVIDIA XLIO and a ConnectX NIC",
}
for name in os.environ.get("EVPL_COV_HARDWARE", "").split():
    HARDWARE.setdefault(name, "needs hardware this machine lacks")
HARDWARE_FILES = {
    "src/block/nvme.c": "NVMe passthrough: needs an NVMe namespace (/dev/ng*)",
    "src/block/vfio.c": "VFIO: needs a VFIO-bound NVMe device",
}
if "EVPL_COV_HARDWARE_FILES" in os.environ:
    HARDWARE_FILES = {f: "needs hardware this machine lacks"
                      for f in os.environ["EVPL_COV_HARDWARE_FILES"].split()}


def module_of(path):
    """src/<m>/... -> <m>; tools/... -> tools; include/... -> the public
    inline helpers, counted with core; anything else -> None."""
    parts = path.split("/")
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    if parts[0] == "src":
        return "core"
    if parts[0] == "tools":
        return "tools"
    if parts[0] == "include":
        return "core"
    return None


def has_sources(root, module):
    d = os.path.join(root, "tools" if module == "tools" else os.path.join("src", module))
    if not os.path.isdir(d):
        return None
    for _, _, files in os.walk(d):
        if any(f.endswith(".c") for f in files):
            return True
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("summary")
    ap.add_argument("--root", default=".")
    ap.add_argument("--markdown")
    ap.add_argument("--skips", nargs="*", default=[],
                    help="skipped tests, 'name: reason', listed in the markdown")
    ap.add_argument("--tests", default="", help="the ctest summary line")
    args = ap.parse_args()

    module_min = float(os.environ.get("EVPL_COV_MODULE_MIN", "80"))
    total_min = float(os.environ.get("EVPL_COV_TOTAL_MIN", "85"))

    with open(args.summary) as f:
        summary = json.load(f)

    lines = {}
    covered = {}
    files = {}
    hw_rows = []
    for entry in summary.get("files", []):
        m = module_of(entry["filename"])
        if m is None:
            continue
        if entry["filename"] in HARDWARE_FILES:
            n, c = entry["line_total"], entry["line_covered"]
            hw_rows.append((entry["filename"][len("src/"):], n, c,
                            100.0 * c / n if n else 0.0,
                            "not counted: " + HARDWARE_FILES[entry["filename"]]))
            continue
        lines[m] = lines.get(m, 0) + entry["line_total"]
        covered[m] = covered.get(m, 0) + entry["line_covered"]
        files.setdefault(m, []).append(entry)

    src = os.path.join(args.root, "src")
    present = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    if os.path.isdir(os.path.join(args.root, "tools")):
        present.append("tools")
    names = list(dict.fromkeys(EXPECTED + present + sorted(HARDWARE)))

    rows = []      # (module, lines, covered, percent or None, status)
    failures = []
    hw_file_names = {os.path.splitext(os.path.basename(r[0]))[0] for r in hw_rows}
    for m in names:
        srcs = has_sources(args.root, m)
        if m in HARDWARE and m in hw_file_names and not lines.get(m):
            continue    # listed below as a file of another module (block/nvme.c)
        if m in HARDWARE:
            if lines.get(m):
                rows.append((m, lines[m], covered[m], 100.0 * covered[m] / lines[m],
                             "not counted: cannot run here: " + HARDWARE[m]))
                del lines[m], covered[m]
            else:
                rows.append((m, None, None, None, "not built / cannot run here: " + HARDWARE[m]))
        elif m in lines and lines[m] > 0:
            pct = 100.0 * covered[m] / lines[m]
            ok = pct >= module_min
            status = "ok" if ok else f"BELOW {module_min:g}%"
            if not ok:
                failures.append(f"{m}: {pct:.1f}% < {module_min:g}%")
            rows.append((m, lines[m], covered[m], pct, status))
        elif srcs is None:
            rows.append((m, None, None, None, "absent (no src/%s yet)" % m if m != "tools"
                         else "absent (no tools/ yet)"))
        elif srcs is False:
            rows.append((m, None, None, None, "no C sources yet"))
        else:
            rows.append((m, 0, 0, 0.0, "NO DATA (sources not built or never run)"))
            failures.append(f"{m}: no coverage data although it has sources")
    rows += sorted(hw_rows)

    total_lines = sum(lines.values())
    total_cov = sum(covered.values())
    total_pct = 100.0 * total_cov / total_lines if total_lines else 0.0
    total_ok = total_pct >= total_min
    if not total_ok:
        failures.append(f"total: {total_pct:.1f}% < {total_min:g}%")

    def fmt(r):
        m, n, c, pct, status = r
        if n is None:
            return f"{m:<15} {'-':>7} {'-':>7} {'-':>7}  {status}"
        return f"{m:<15} {n:>7} {c:>7} {pct:>6.1f}%  {status}"

    out = [f"{'module':<15} {'lines':>7} {'covered':>7} {'line%':>7}  status"]
    out += [fmt(r) for r in rows]
    out.append(f"{'TOTAL':<15} {total_lines:>7} {total_cov:>7} {total_pct:>6.1f}%  "
               + ("ok" if total_ok else f"BELOW {total_min:g}%"))
    print("\n".join(out))

    # The least-covered files, to show where the gaps are.
    worst = sorted((e for fs in files.values() for e in fs if e["line_total"]),
                   key=lambda e: e["line_covered"] / e["line_total"])[:10]

    if args.markdown:
        md = ["# Line coverage by module", "",
              "Generated by `make coverage` (`scripts/coverage.sh`): a gcov build "
              "(`-O0 --coverage`) runs the whole ctest suite, gcovr 5.2 counts the lines. "
              "Do not edit by hand; regenerate it.", "",
              f"Floors: every module {module_min:g}%, total {total_min:g}% "
              "(`EVPL_COV_MODULE_MIN`, `EVPL_COV_TOTAL_MIN`). "
              "`include/` inline helpers count as core.", ""]
        if args.tests:
            md += [f"Suite: `{args.tests}`", ""]
        md += ["| module | lines | covered | line % | status |",
               "| --- | ---: | ---: | ---: | --- |"]
        for m, n, c, pct, status in rows:
            if n is None:
                md.append(f"| {m} | - | - | - | {status} |")
            else:
                md.append(f"| {m} | {n} | {c} | {pct:.1f} | {status} |")
        md.append(f"| **total** | {total_lines} | {total_cov} | {total_pct:.1f} | "
                  + ("ok" if total_ok else f"BELOW {total_min:g}%") + " |")
        md += ["", "## Least-covered files", "", "| file | lines | covered | line % |",
               "| --- | ---: | ---: | ---: |"]
        for e in worst:
            md.append(f"| `{e['filename']}` | {e['line_total']} | {e['line_covered']} | "
                      f"{100.0 * e['line_covered'] / e['line_total']:.1f} |")
        if args.skips:
            md += ["", "## Tests skipped in this run", ""]
            md += [f"- {s}" for s in args.skips]
        md += ["", f"_Generated {datetime.date.today().isoformat()}._", ""]
        with open(args.markdown, "w") as f:
            f.write("\n".join(md))
        print(f"coverage: wrote {args.markdown}")

    if failures:
        print("coverage: FAILED: " + "; ".join(failures))
        return 1
    print(f"coverage: ok (every module >= {module_min:g}%, total {total_pct:.1f}% >= {total_min:g}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
