"""Watch benchmark (issue 5, issue 7 item 4).

Latency from a file write to the restarted child's first instruction: the
bench takes the monotonic time, then rewrites src/f.txt (open O_TRUNC,
write, close); the child (bench/stamp.c `pause`) appends its start stamp
as its first action; latency = stamp - write time. Each tool watches src/
with no debounce and restarts the child:
  tend            "watch": {"paths": ["src"], "debounce_ms": 0,
                  "loop_limit": {"max_restarts": 0}}
  entr -r -n      the file list on stdin
  nodemon         --watch src -e txt --delay 0
  pm2 --watch     watch: [src], watch_delay 0
  inotifywait     a bare `inotifywait -m -e close_write | while read` loop
                  that kills, waits and starts the child: the limit.
After each change the bench waits for the restart, then 150 ms more to see
whether the change caused more than one restart.
"""

import os
import time

from benchlib import (NODE_BIN, PM2, STAMP, Table, Tend, fmt, headline, fresh_dir, have,
                      kill_stamped, kill_tree, log, median, now,
                      pct, ratio, register_stamps, reps, reset_results,
                      spawn, starts, wait_for)

NAME = "4-watch"

FLOOR = r'''
inotifywait -m -q -e close_write "$1" | {
  "$2" "$3" pause & pid=$!
  while read -r _; do
    kill $pid; wait $pid
    "$2" "$3" pause & pid=$!
  done
}
'''


def start_tool(kind, folder, src, stamps):
    """Starts one watcher; returns an object with .stop()."""
    cmd = [STAMP, stamps, "pause"]
    if kind == "tend":
        t = Tend(folder, [{"name": "w", "cmd": cmd, "watch": {
            "paths": ["src"], "debounce_ms": 0,
            "loop_limit": {"max_restarts": 0}}}])
        return t.start()
    if kind == "pm2":
        p = PM2(folder, [{"name": "w", "script": STAMP,
                          "args": [stamps, "pause"], "interpreter": "none",
                          "cwd": folder, "watch": [src], "watch_delay": 0,
                          "autorestart": True}])
        p.start_daemon()
        return p.start()
    if kind == "entr":
        listing = os.path.join(folder, "files")
        with open(listing, "w") as f:
            f.write(os.path.join(src, "f.txt") + "\n")
        argv = ["entr", "-r", "-n"] + cmd
        stdin = open(listing)
    elif kind == "nodemon":
        argv = [os.path.join(NODE_BIN, "nodemon"), "-q", "--watch", src,
                "-e", "txt", "--delay", "0", "--exec", " ".join(cmd)]
        stdin = None
    else:
        argv = ["sh", "-c", FLOOR, "sh", src, STAMP, stamps]
        stdin = None
    return _Proc(spawn(argv, cwd=folder, stdin=stdin))


class _Proc:
    def __init__(self, proc):
        self.proc = proc

    def stop(self):
        kill_tree(self.proc, 15)
        try:
            self.proc.wait(10)
        except Exception:
            kill_tree(self.proc)


def touch(path, i):
    """Rewrites the watched file; returns the monotonic ns just before."""
    t = now()
    with open(path, "w") as f:
        f.write(f"change {i}\n")
    return t


def measure(kind, changes):
    """Returns (latencies ms, restarts per change) or (None, reason)."""
    folder = fresh_dir("watch", kind)
    src = os.path.join(folder, "src")
    os.makedirs(src)
    target = os.path.join(src, "f.txt")
    with open(target, "w") as f:
        f.write("start\n")
    stamps = os.path.join(folder, "stamps")
    register_stamps(stamps)
    tool = start_tool(kind, folder, src, stamps)
    try:
        if not wait_for(lambda: len(starts(stamps)) >= 1, 30, 0.01,
                        f"{kind}'s first start"):
            return None, "the child never started"
        time.sleep(0.5)
        # Warm-up: a change must restart the child before timing starts
        # (the watcher may still be setting up).
        ok = False
        for i in range(10):
            n = len(starts(stamps))
            touch(target, -1 - i)
            if wait_for(lambda: len(starts(stamps)) > n, 2, 0.005):
                ok = True
                break
        if not ok:
            return None, "a change did not restart the child"
        time.sleep(0.5)
        lat = []
        n0 = len(starts(stamps))
        for i in range(changes):
            n = len(starts(stamps))
            t = touch(target, i)
            if not wait_for(lambda: len(starts(stamps)) > n, 10, 0.001,
                            f"{kind} restart {i}"):
                break
            st = starts(stamps)
            lat.append((st[n][2] - t) / 1e6)
            time.sleep(0.15)
        per = (len(starts(stamps)) - n0) / max(1, len(lat))
        return lat, per
    finally:
        tool.stop()
        kill_stamped(stamps)


def main():
    reset_results(NAME)
    changes = reps(50, 15)
    tools = [("tend", "tend", True),
             ("inotifywait", "inotifywait loop (limit)",
              have("inotifywait")),
             ("entr", "entr -r", have("entr")),
             ("nodemon", "nodemon", os.access(
                 os.path.join(NODE_BIN, "nodemon"), os.X_OK)),
             ("pm2", "pm2 --watch", PM2.available())]
    table = Table(NAME, f"File change -> restarted child running "
                  f"({changes} changes)",
                  ["tool", "median (ms)", "p99 (ms)", "min (ms)",
                   "restarts per change", "changes", "median vs tend",
                   "median - limit (ms)"],
                  note=("Latency from just before the write (open O_TRUNC, "
                        "write, close) to the restarted child's start "
                        "stamp; no debounce in any tool; 150 ms between "
                        "changes after each restart."))
    results = {}
    for kind, label, ok in tools:
        if not ok:
            results[kind] = (None, "not installed")
            continue
        log(f"watch: {label}, {changes} changes")
        lat, per = measure(kind, changes)
        if kind == "tend" and lat is None:
            per = "watch not available in this build (" + per + ")"
            log("tend: watch not available in this build")
        results[kind] = (lat, per)
    ref = median(results["tend"][0] or [])
    limit = median(results.get("inotifywait", (None,))[0] or [])
    for kind, label, _ in tools:
        lat, per = results[kind]
        if not lat:
            table.missing(label, per)
            continue
        m = median(lat)
        table.row(label, m, pct(lat, 99), min(lat), per, len(lat),
                  ratio(m, ref), m - limit if limit is not None else "-")
    headline(NAME, "file change -> restarted child (median / p99 ms)",
             f"{fmt(ref)} / {fmt(pct(results['tend'][0], 99))}"
             if ref is not None else "watch not available",
             "&le; limit + 2 ms" + (f" = {fmt(limit + 2)} ms"
                                    if limit is not None else ""),
             ", ".join(f"{label} {fmt(median(results[k][0]))}"
                       for k, label, _ in tools
                       if k != "tend" and results[k][0]))
    table.line("Issue 5 target: tend within 2 ms of the bare inotifywait "
               "loop's median (measured on the issue's machine: the loop "
               "2.1 ms, nodemon 14 ms, entr 52 ms, pm2 114 ms).")
    table.emit()


if __name__ == "__main__":
    main()
