"""Supervision benchmark (issue 2, issue 7 item 4).

1. N idle runners (stamp pause, an exec'd `sleep`): time from launching the
   supervisor until every child has executed its first instruction, and
   from the stop request until every child has exited (pidfds); the
   supervisor's memory with N children. tend, supervisord, runsvdir and a
   bare shell loop (the floor: fork+exec in a loop, kill, wait).
2. crash -> restart: a child that exits 1 at once, no backoff; the time
   from one run's exit stamp to the next run's start stamp. tend,
   supervisord, pm2, runsv.
3. restart storm under each tool's defaults: does it stop restarting?
"""

import os
import signal
import subprocess
import time

from benchlib import (PM2, STAMP, Runit, headline, Supervisord, Table, Tend,
                      fmt, fresh_dir, have, kill_stamped, log, mem_kib,
                      median, now, open_pidfds, pct, raise_nofile, ratio,
                      register_stamps, reps, reset_results, spawn, starts,
                      read_stamps, wait_for, wait_pidfds,
                      kill_tree, children_of, QUICK)

NAME = "1-supervise"
# Longest wait for one start or one stop of N runners: a tool slower than
# this is reported as "> CAP s" and killed, so `make bench` stays bounded.
CAP = 45.0 if QUICK else 60.0

SHELL_FLOOR = r'''
trap 'kill $pids 2>/dev/null; wait; exit 0' TERM
pids=
i=0
while [ $i -lt "$1" ]; do
  "$2" "$3" pause & pids="$pids $!"
  i=$((i+1))
done
wait
'''


class Shell:
    """The floor: a POSIX shell loop that forks and execs N children."""

    label = "shell loop (floor)"

    def __init__(self, folder, n, stamps):
        self.dir, self.n, self.stamps = folder, n, stamps
        self.proc = None

    def start(self):
        self.proc = spawn(["sh", "-c", SHELL_FLOOR, "sh", str(self.n), STAMP,
                           self.stamps], cwd=self.dir)
        return self

    @property
    def pids(self):
        return [self.proc.pid]


def make_tool(kind, folder, n, stamps):
    """A launcher with n runners of `stamp FILE pause`."""
    cmd = [STAMP, stamps, "pause"]
    names = [f"r{i}" for i in range(n)]
    if kind == "tend":
        return Tend(folder, [{"name": x, "cmd": cmd} for x in names])
    if kind == "supervisord":
        return Supervisord(folder, [(x, " ".join(cmd), {}) for x in names],
                           minfds=max(4096, 8 * n))
    if kind == "runsvdir":
        return Runit(folder, [(x, f"{stamps} pause") for x in names])
    return Shell(folder, n, stamps)


def stop_signal(kind, tool):
    """Asks a tool to stop everything, without waiting."""
    sig = signal.SIGHUP if kind == "runsvdir" else signal.SIGTERM
    tool.proc.send_signal(sig)


def one_start_stop(kind, n, rep):
    """One run: returns dict(run_ms, stop_ms, exit_ms, rss, pss, ev_ms)."""
    folder = fresh_dir("supervise", f"{kind}-{n}-{rep}")
    stamps = os.path.join(folder, "stamps")
    register_stamps(stamps)
    tool = make_tool(kind, folder, n, stamps)
    res = {}
    t0, t0_wall = now(), time.time_ns()
    tool.start()
    ok = wait_for(lambda: len(starts(stamps)) >= n, CAP, 0.005,
                  f"{n} children under {kind}")
    st = starts(stamps)
    if not ok:
        log(f"{kind}: only {len(st)} of {n} started within {CAP:.0f} s")
        kill_tree(tool.proc)
        kill_stamped(stamps)
        return {"run_ms": None, "run_cap": True}
    res["run_ms"] = (max(s[2] for s in st) - t0) / 1e6
    if kind == "tend":
        ev = [e for e in tool.events() if e.get("to") == "running"]
        wait_for(lambda: len([e for e in tool.events()
                              if e.get("to") == "running"]) >= n, 10)
        ev = [e for e in tool.events() if e.get("to") == "running"]
        if len(ev) >= n:
            res["ev_ms"] = max(e["ts"] for e in ev) - t0_wall / 1e6
    time.sleep(0.3)  # let the supervisor settle before its RSS is read
    res["rss"], res["pss"] = mem_kib(tool.pids)
    runsv = children_of(tool.proc.pid) if kind == "runsvdir" else []
    fds = open_pidfds([s[1] for s in st])
    sup_fds = open_pidfds([tool.proc.pid] + runsv)
    t1 = now()
    stop_signal(kind, tool)
    t_gone = wait_pidfds(fds, CAP)
    left = CAP - (now() - t1) / 1e9
    t_exit = wait_pidfds(sup_fds, max(left, 5))
    res["stop_ms"] = (t_gone - t1) / 1e6 if t_gone else None
    res["exit_ms"] = (t_exit - t1) / 1e6 if t_exit else None
    if t_gone is None:
        log(f"{kind}: children not all stopped within {CAP:.0f} s")
        res["stop_cap"] = True
    if t_exit is None:
        res["exit_cap"] = True
    try:
        tool.proc.wait(5)
    except subprocess.TimeoutExpired:
        kill_tree(tool.proc)
        if kind == "runsvdir":
            for pid in runsv:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    kill_stamped(stamps)
    return res


def bench_start_stop(sizes):
    tools = ["tend", "supervisord", "runsvdir", "shell"]
    avail = {"tend": True, "supervisord": have("supervisord"),
             "runsvdir": have("runsvdir"), "shell": True}
    rss_rows = {}
    for n in sizes:
        count = reps(3, 2) if n <= 100 else 1
        table = Table(NAME, f"{n} idle runners: start and stop",
                      ["tool", "all running (ms)", "all stopped (ms)",
                       "supervisor exited (ms)", "runs",
                       "running vs tend", "stopped vs tend"],
                      note=("Median over the runs. *All running*: from "
                            "launching the supervisor until every child has "
                            "executed its first instruction (its start "
                            "stamp). *All stopped*: from the stop request "
                            "(SIGTERM; runsvdir: SIGHUP) until every child "
                            "has exited (pidfd). Ratios: tool / tend, so "
                            ">1 means slower than tend."))
        results = {}
        for kind in tools:
            if not avail[kind]:
                continue
            runs = []
            for rep in range(count):
                log(f"supervise: {kind} x{n} run {rep + 1}/{count}")
                r = one_start_stop(kind, n, rep)
                if r:
                    runs.append(r)
            results[kind] = runs

        def med(kind, key):
            vals = [r[key] for r in results.get(kind, [])
                    if r.get(key) is not None]
            return median(vals)

        def cell(kind, key):
            """The median, or "> CAP" when every run hit the cap."""
            m = med(kind, key)
            cap = key.replace("_ms", "_cap")
            if m is None and any(r.get(cap) or r.get("run_cap")
                                 for r in results.get(kind, [])):
                return f"> {CAP * 1000:,.0f}"
            return m
        ref_run, ref_stop = med("tend", "run_ms"), med("tend", "stop_ms")
        for kind in tools:
            label = {"shell": "shell loop (floor)"}.get(kind, kind)
            if not avail[kind]:
                table.missing(label, f"{kind} not installed")
                continue
            runs = results[kind]
            if not runs:
                table.missing(label, "did not start all children")
                continue
            table.row(label, cell(kind, "run_ms"), cell(kind, "stop_ms"),
                      cell(kind, "exit_ms"), len(runs),
                      ratio(med(kind, "run_ms"), ref_run),
                      ratio(med(kind, "stop_ms"), ref_stop))
            rss_rows.setdefault(label, {})[n] = (
                med(kind, "rss"), med(kind, "pss"))
        def peers(key):
            return ", ".join(
                f"{ {'shell': 'shell loop'}.get(k, k)} {fmt(med(k, key))}"
                for k in tools[1:] if med(k, key) is not None)
        goal = {100: ("&le; 120 ms", "&le; 150 ms")}.get(
            n, ("ahead of every peer", "ahead of every peer"))
        headline(NAME, f"{n} runners: all running (ms)",
                 fmt(cell("tend", "run_ms")), goal[0], peers("run_ms"))
        headline(NAME, f"{n} runners: all stopped (ms)",
                 fmt(cell("tend", "stop_ms")), goal[1], peers("stop_ms"))
        if med("tend", "ev_ms") is not None:
            table.line(f"tend by its own events.jsonl (last `running` event "
                       f"after launch): {fmt(med('tend', 'ev_ms'))} ms "
                       f"(millisecond timestamps).")
        if n == 100:
            table.line("Issue 2 targets for 100 runners: running within "
                       "120 ms, stopped within 150 ms.")
        table.emit()
    t = Table(NAME, "Supervisor memory with N idle runners",
              ["tool"] + [f"RSS, {n} runners (MiB)" for n in sizes] +
              [f"PSS, {n} runners (MiB)" for n in sizes] +
              [f"RSS vs tend ({n})" for n in sizes],
              note=("The supervisor's own processes only (runit: runsvdir "
                    "plus one runsv per runner; PSS shares their common "
                    "pages out), read 0.3 s after all children started; "
                    "median over the runs above."))
    ref = rss_rows.get("tend", {})
    for label, by_n in rss_rows.items():
        rss = [by_n.get(n, (None, None))[0] for n in sizes]
        pss = [by_n.get(n, (None, None))[1] for n in sizes]
        t.row(label, *[x / 1024 if x else None for x in rss],
              *[x / 1024 if x else None for x in pss],
              *[ratio(by_n.get(n, (None,))[0], ref.get(n, (None,))[0])
                for n in sizes])
    for n in sizes:
        tr = ref.get(n, (None,))[0]
        headline(NAME, f"supervisor RSS, {n} runners (MiB)",
                 fmt(tr / 1024 if tr else None),
                 "&lt; 6 MiB" if n == 100 else "ahead of every peer",
                 ", ".join(f"{label} {fmt(by_n[n][0] / 1024)}"
                           for label, by_n in rss_rows.items()
                           if label != "tend" and by_n.get(n, (None,))[0]))
    t.line("Issue 2 target: RSS under 6 MiB with 100 runners "
           "(supervisord: 32 MiB).")
    t.emit()


# -- crash -> restart ------------------------------------------------------

def crash_tool(kind, folder, stamps, defaults=False):
    """A tool running one child that exits 1 at once."""
    cmd = [STAMP, stamps, "crash"]
    if kind == "tend":
        child = {"name": "crash", "cmd": cmd}
        if defaults:
            return Tend(folder, [child])
        child["backoff"] = {"initial_ms": 0, "max_ms": 0}
        return Tend(folder, [child],
                    intensity={"max_restarts": 1000000, "period_s": 1})
    if kind == "supervisord":
        opts = {"autorestart": "true"}
        if defaults:
            opts = {"autorestart": "unexpected", "startsecs": "1"}
        else:
            opts["startretries"] = "1000000"
        return Supervisord(folder, [("crash", " ".join(cmd), opts)])
    if kind == "runsv":
        return Runit(folder, [("crash", f"{stamps} crash")])
    app = {"name": "crash", "script": STAMP, "args": [stamps, "crash"],
           "interpreter": "none", "cwd": folder}
    if not defaults:
        app.update({"autorestart": True, "restart_delay": 0,
                    "max_restarts": 1000000, "min_uptime": 0})
    return PM2(folder, [app])


def restart_latencies(stamps):
    """ms from each exit stamp to the next start stamp."""
    out, last_exit = [], None
    for kind, _, ns in read_stamps(stamps):
        if kind == "E":
            last_exit = ns
        elif kind == "S" and last_exit is not None:
            out.append((ns - last_exit) / 1e6)
            last_exit = None
    return out


def bench_crash():
    tools = [("tend", True), ("supervisord", have("supervisord")),
             ("pm2", PM2.available()), ("runsv", have("runsv"))]
    table = Table(NAME, "crash -> restart latency, no backoff",
                  ["tool", "median (ms)", "p99 (ms)", "min (ms)",
                   "restarts", "vs tend"],
                  note=("The child writes a stamp and exits 1 at once; "
                        "latency = next run's start stamp - this run's "
                        "exit stamp. Each tool set for immediate restarts: "
                        "tend `backoff: {initial_ms: 0, max_ms: 0}`; "
                        "supervisord `autorestart=true, startsecs=0`; pm2 "
                        "`restart_delay: 0`; runsv has no setting (it "
                        "waits 1 s after a run shorter than 1 s)."))
    meds = {}
    rows = []
    for kind, ok in tools:
        if not ok:
            rows.append((kind, None, "not installed"))
            continue
        folder = fresh_dir("crash", kind)
        stamps = os.path.join(folder, "stamps")
        register_stamps(stamps)
        fast = kind in ("tend", "pm2")
        want = reps(50, 15) if fast else reps(8, 3)
        tool = crash_tool(kind, folder, stamps)
        log(f"crash: {kind}, {want} restarts")
        if kind == "pm2":
            tool.start_daemon()
        tool.start()
        wait_for(lambda: len(restart_latencies(stamps)) >= want,
                 want * 1.6 + 10, 0.01, f"{want} restarts under {kind}")
        if kind == "pm2":
            PM2.kill_daemon()
        else:
            stop = signal.SIGHUP if kind == "runsv" else signal.SIGTERM
            tool.proc.send_signal(stop)
            try:
                tool.proc.wait(20)
            except subprocess.TimeoutExpired:
                kill_tree(tool.proc)
        kill_stamped(stamps)
        lat = restart_latencies(stamps)[:want]
        if not lat:
            rows.append((kind, None, "no restart seen"))
            continue
        meds[kind] = median(lat)
        rows.append((kind, lat, None))
    for kind, lat, why in rows:
        if lat is None:
            table.missing(kind, why)
        else:
            table.row(kind, median(lat), pct(lat, 99), min(lat), len(lat),
                      ratio(median(lat), meds.get("tend")))
    headline(NAME, "crash -> restart, no backoff (median ms)",
             fmt(meds.get("tend")), "&lt; 2 ms",
             ", ".join(f"{k} {fmt(v)}" for k, v in meds.items()
                       if k != "tend"))
    table.line("Issue 2 target: under 2 ms (pm2: 4-6 ms, supervisord and "
               "runit: 1 s).")
    table.emit()


def bench_storm():
    """Each tool with its default restart settings and a child that exits
    at once: how many runs in the window, and does it give up?"""
    window = reps(15.0, 6.0)
    kinds = [k for k, ok in [("tend", True),
                             ("supervisord", have("supervisord")),
                             ("pm2", PM2.available()),
                             ("runsv", have("runsv"))] if ok]
    table = Table(NAME, "restart storm under default settings",
                  ["tool", f"runs in {window:.0f} s", "last run after the first (s)",
                   "still restarting at the end", "what stops it"],
                  note=("A child that exits 1 at once, every tool with its "
                        "default restart settings, all side by side for "
                        f"{window:.0f} s. *Still restarting*: a run started "
                        "in the last 2.5 s."))
    why = {"tend": "intensity (5 restarts in 10 s), backoff 100 ms doubling",
           "supervisord": "startsecs=1 + startretries=3, then FATAL",
           "pm2": "max_restarts=16 unstable restarts (uptime < 1 s)",
           "runsv": "nothing: restarts once a second forever"}
    tools = {}
    for kind in kinds:
        folder = fresh_dir("storm", kind)
        stamps = os.path.join(folder, "stamps")
        register_stamps(stamps)
        tools[kind] = (crash_tool(kind, folder, stamps, defaults=True),
                       stamps)
    if "pm2" in tools:
        tools["pm2"][0].start_daemon()
    for kind, (tool, _) in tools.items():
        tool.start()
    log(f"storm: {len(tools)} tools side by side for {window:.0f} s")
    time.sleep(window)
    t_end = now()
    for kind, (tool, stamps) in tools.items():
        st = [s for s in starts(stamps) if s[2] <= t_end]
        last = (max(s[2] for s in st) - min(s[2] for s in st)) / 1e9 \
            if st else None
        going = bool(st) and (t_end - max(s[2] for s in st)) < 2.5e9
        table.row(kind, len(st), last, "yes" if going else "no", why[kind])
    for kind, (tool, stamps) in tools.items():
        if kind == "pm2":
            PM2.kill_daemon()
        else:
            tool.proc.send_signal(signal.SIGHUP if kind == "runsv"
                                  else signal.SIGTERM)
            try:
                tool.proc.wait(20)
            except subprocess.TimeoutExpired:
                kill_tree(tool.proc)
        kill_stamped(stamps)
    table.emit()


def main():
    raise_nofile()
    reset_results(NAME)
    bench_start_stop([100, 300] if QUICK else [100, 1000])
    bench_crash()
    bench_storm()


if __name__ == "__main__":
    main()
