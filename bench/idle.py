"""Idle benchmark (issue 7 item 4).

100 idle children (bench/stamp.c `pause`) under each supervisor; after they
are all running and 3 s of settling, over a window of 30 s: the
supervisor's CPU time (/proc schedstat of all its threads), its wakeups (the
context switches of all its threads, from /proc: each sleep and wake-up of
a thread is one), the number of blocking-wait system calls it made (epoll,
poll and select families, counted by `perf stat` tracepoints when perf can)
and its memory at the end. runit's figures are runsvdir plus its 100 runsv.
"""

import os
import subprocess
import time

from benchlib import (PM2, STAMP, Runit, Supervisord, Table, Tend, children_of,
                      fmt, headline,
                      cpu_ns, ctx_switches, fresh_dir, have, kill_stamped,
                      log, mem_kib, ratio, register_stamps, reps,
                      reset_results, starts, wait_for)

NAME = "5-idle"
N = 100
WAITS = ["epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll",
         "select", "pselect6"]


def perf_events():
    """The tracepoints perf can count here (empty when it cannot)."""
    if not have("perf"):
        return []
    evs = [f"syscalls:sys_enter_{w}" for w in WAITS]
    ok = []
    for e in evs:
        r = subprocess.run(["perf", "stat", "-x,", "-e", e, "true"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            ok.append(e)
    return ok


def start(kind, folder, stamps):
    cmd = [STAMP, stamps, "pause"]
    names = [f"r{i}" for i in range(N)]
    if kind == "tend":
        return Tend(folder, [{"name": x, "cmd": cmd} for x in names]).start()
    if kind == "supervisord":
        return Supervisord(folder, [(x, " ".join(cmd), {})
                                    for x in names]).start()
    if kind == "runsvdir":
        return Runit(folder, [(x, f"{stamps} pause") for x in names]).start()
    p = PM2(folder, [{"name": x, "script": STAMP, "args": cmd[1:],
                      "interpreter": "none", "cwd": folder,
                      "autorestart": True} for x in names])
    p.start_daemon()
    return p.start()


def pids_of(kind, tool):
    if kind == "runsvdir":
        return [tool.proc.pid] + children_of(tool.proc.pid)
    return tool.pids


def measure(kind, window, events):
    folder = fresh_dir("idle", kind)
    stamps = os.path.join(folder, "stamps")
    register_stamps(stamps)
    tool = start(kind, folder, stamps)
    try:
        if not wait_for(lambda: len(starts(stamps)) >= N, 120, 0.05,
                        f"{N} children under {kind}"):
            return None
        time.sleep(3)
        pids = pids_of(kind, tool)
        t0, c0 = cpu_ns(pids), ctx_switches(pids)
        perf = None
        if events:
            perf = subprocess.Popen(
                ["perf", "stat", "-x,", "-e", ",".join(events), "-p",
                 ",".join(str(p) for p in pids), "--", "sleep",
                 str(window)], stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True)
        time.sleep(window)
        t1, c1 = cpu_ns(pids), ctx_switches(pids)
        waits = None
        if perf:
            _, err = perf.communicate(timeout=window + 30)
            waits = 0
            for line in err.splitlines():
                f = line.split(",")
                if len(f) > 2 and f[2].startswith("syscalls:") and \
                        f[0].strip().isdigit():
                    waits += int(f[0])
        rss, pss = mem_kib(pids)
        alive = sum(1 for _ in starts(stamps))
        return {"cpu_ms": (t1 - t0) / 1e6,
                "wake": (sum(c1) - sum(c0)) / window,
                "waits": waits / window if waits is not None else None,
                "rss": rss / 1024, "pss": pss / 1024, "starts": alive}
    finally:
        if kind == "pm2":
            PM2.kill_daemon()
        else:
            tool.stop()
        kill_stamped(stamps)


def main():
    reset_results(NAME)
    window = reps(30, 5)
    events = perf_events()
    kinds = [("tend", True), ("supervisord", have("supervisord")),
             ("pm2", PM2.available()), ("runsvdir", have("runsvdir"))]
    table = Table(NAME, f"{N} idle children, {window} s window",
                  ["tool", "RSS (MiB)", "PSS (MiB)", "CPU (ms)", "CPU (%)",
                   "wakeups/s", "wait syscalls/s", "RSS vs tend",
                   "wakeups vs tend"],
                  note=("One run per tool (the window is the repetition). "
                        "*Wakeups/s*: context switches of all the "
                        "supervisor's threads per second (/proc/PID/task/*/"
                        "status). *Wait syscalls/s*: epoll_wait, "
                        "epoll_pwait, poll, ppoll, select, pselect6 entries "
                        "counted by `perf stat` tracepoints" +
                        ("" if events else " (perf tracepoints not "
                         "available here)") + "."))
    res = {}
    for kind, ok in kinds:
        if not ok:
            res[kind] = None
            continue
        log(f"idle: {kind}, {N} children, {window} s")
        res[kind] = measure(kind, window, events)
    ref = res.get("tend") or {}
    for kind, ok in kinds:
        if not ok:
            table.missing(kind, "not installed")
            continue
        r = res[kind]
        if not r:
            table.missing(kind, "did not start its children")
            continue
        table.row(kind, r["rss"], r["pss"], r["cpu_ms"],
                  r["cpu_ms"] / (window * 10.0), r["wake"], r["waits"],
                  ratio(r["rss"], ref.get("rss")),
                  ratio(r["wake"], ref.get("wake")) if ref.get("wake")
                  else "-")
    others = [(k, res[k]) for k, ok in kinds if k != "tend" and ok
              and res[k]]
    headline(NAME, f"{N} idle children: wakeups/s, CPU %",
             f"{fmt(ref.get('wake'))}, {fmt(ref.get('cpu_ms', 0) / (window * 10.0))}"
             if ref else "-", "0 wakeups/s",
             ", ".join(f"{k} {fmt(r['wake'])}, "
                       f"{fmt(r['cpu_ms'] / (window * 10.0))}"
                       for k, r in others))
    table.line("Issue 7 target: zero wakeups per second when idle; issue 2: "
               "RSS under 6 MiB with 100 runners.")
    table.emit()


if __name__ == "__main__":
    main()
