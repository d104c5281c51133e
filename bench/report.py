"""report: assembles bench/RESULTS.md from the tables the benchmarks wrote
into bench/work/results: the date, the machine, every tool's version, a
headline table (tend, the issue's target, the peers) and then each
metric's table in order.

Usage: report.py START_EPOCH LOADAVG_AT_START [END_EPOCH]
"""

import glob
import json
import os
import platform
import re
import subprocess
import sys
import time

from benchlib import (BENCH, QUICK, RESULTS, ROOT, TEND, deb_version,
                      npm_version, supervisor_version)


def run(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def mem_total():
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        return f"{kib / 1048576:.1f} GiB"
    except (OSError, ValueError, IndexError):
        return "?"


def versions():
    """(tool, version) for every tool the bench may run."""
    commit = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--",
                 "src", "runners", "state", "ui", "watchers"])
    tend = run([TEND, "version"]) + f" (commit {commit}" + \
        (", with uncommitted changes by other engineers)" if dirty else ")")
    node = run(["node", "--version"])
    out = [("tend", tend),
           ("supervisord", supervisor_version()),
           ("runit (runsvdir, runsv, svlogd)", deb_version("runit")),
           ("pm2", npm_version("pm2") and
            f"{npm_version('pm2')} (node {node})"),
           ("nodemon", npm_version("nodemon") and
            f"{npm_version('nodemon')} (node {node})"),
           ("entr", deb_version("entr")),
           ("inotify-tools (inotifywait)", deb_version("inotify-tools")),
           ("wrk", deb_version("wrk")),
           ("perf", run(["perf", "--version"]) or None),
           ("python3", platform.python_version()),
           ("sh", os.path.realpath("/bin/sh"))]
    return [(k, v or "not installed") for k, v in out]


def headline_rows():
    rows = []
    for path in sorted(glob.glob(os.path.join(RESULTS,
                                              "*.headline.jsonl"))):
        with open(path) as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    return rows


def main():
    start = float(sys.argv[1]) if len(sys.argv) > 1 else time.time()
    load0 = sys.argv[2] if len(sys.argv) > 2 else "?"
    try:
        with open("/proc/loadavg") as f:
            load1 = " ".join(f.read().split()[:3])
    except OSError:
        load1 = "?"
    end = float(sys.argv[3]) if len(sys.argv) > 3 else time.time()
    minutes = (end - start) / 60
    out = ["# tend benchmark results", "",
           "Written by `make bench` (bench/run.sh); do not edit by hand. "
           "Every figure below was measured in the same run on the same "
           "machine; the methods are in each bench/*.py file's header.",
           ""]
    if QUICK:
        out += ["**BENCH_QUICK=1: a fast pass with fewer repetitions and "
                "smaller sizes; not for comparison.**", ""]
    out += ["## Machine and run", "",
            "| | |", "|---|---|",
            f"| date | {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(start))} |",
            f"| CPU | {cpu_model()}, nproc = {os.cpu_count()} |",
            f"| memory | {mem_total()} |",
            f"| kernel | {platform.release()} ({platform.machine()}) |",
            f"| OS | {os_name()} |",
            f"| load average (1, 5, 15 min) | at start {load0}; at end "
            f"{load1} |",
            f"| duration | {minutes:.1f} min |", "",
            "## Versions", "", "| tool | version |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in versions()]
    rows = headline_rows()
    if rows:
        out += ["", "## Headline", "",
                "| metric | tend | target (issues 2-7) | peers |",
                "|---|---|---|---|"]
        out += [f"| {r['metric']} | {r['tend']} | {r['target']} | "
                f"{r['peers']} |" for r in rows]
    out += ["", "## Tables", ""]
    for path in sorted(glob.glob(os.path.join(RESULTS, "*.md"))):
        with open(path) as f:
            out.append(re.sub(r"\n{3,}", "\n\n", f.read()).strip() + "\n")
    dest = os.path.join(BENCH, "RESULTS.md")
    with open(dest, "w") as f:
        f.write("\n".join(out).rstrip() + "\n")
    print(f"bench: wrote {os.path.relpath(dest, ROOT)} "
          f"({minutes:.1f} min)")


def os_name():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "?"


if __name__ == "__main__":
    main()
