"""Output throughput benchmark (issue 3, issue 7 item 4).

One child writes SIZE bytes to stdout in 128 KiB writes (bench/stamp.c
`gen`): base64 text of random bytes in 76-column lines, or 2-byte "y\\n"
lines. Wall time = from the child's start stamp until the last byte is on
disk (page cache) in the tool's log:
  direct       stdout redirected to a file: the physical limit;
  tend         the exit marker of the run is in output/<name>.jsonl (written
               after the pipes are drained, so every chunk before it is in);
  supervisord  stdout_logfile has SIZE bytes;
  pm2          out_file has SIZE bytes;
  runit        runsv + svlogd (its default buffer): main/current has SIZE
               bytes.
Log rotation is off for every tool, so that the whole output is on disk.

A tool too slow to write SIZE within the time budget (a probe of PROBE
bytes says so) is measured on a smaller size, stated in the table, so that
`make bench` stays bounded whatever the tools' speeds.
"""

import os
import subprocess

from benchlib import (PM2, STAMP, QUICK, Runit, fmt, headline, Supervisord, Table, Tend,
                      comm, descendants, fresh_dir, have, kill_stamped, log,
                      median, now, peak_rss_kib, ratio, register_stamps,
                      reps, reset_results, spawn, starts, wait_for)

NAME = "2-output"
SIZE = (128 << 20) if QUICK else (1 << 30)
PROBE = 8 << 20
BUDGET_S = 6.0 if QUICK else 10.0   # longest wanted run of one tool


def tail_has_exit(path):
    """True once the last lines of a tend output log hold the run's exit
    marker."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            n = f.tell()
            f.seek(max(0, n - 4096))
            tail = f.read()
    except OSError:
        return False
    return b'"stream":"tend","event":"exit"' in tail


def size_is(path, size):
    try:
        return os.stat(path).st_size >= size
    except OSError:
        return False


def one_run(kind, payload, rep, size):
    """Returns (wall seconds, peak RSS KiB of the tool or None), or None;
    the tool is always torn down."""
    folder = fresh_dir("output", f"{kind}-{payload}-{rep}")
    stamps = os.path.join(folder, "stamps")
    register_stamps(stamps)
    held = []
    try:
        return _one_run(kind, payload, size, folder, stamps, held)
    finally:
        if kind == "pm2":
            PM2.kill_daemon()
        elif held:
            held[0].stop()
        kill_stamped(stamps)
        subprocess.run(["rm", "-rf", folder])


def _one_run(kind, payload, size, folder, stamps, held):
    """One run of one tool; the tool it starts goes into held."""
    argv = [STAMP, stamps, "gen", payload, str(size)]
    timeout = min(size / 0.5e6, BUDGET_S * 6) + 30
    tool = None
    peak = None
    if kind == "direct":
        with open(os.path.join(folder, "out.log"), "wb") as out:
            p = spawn(argv, stdout=out)
            p.wait()
        end = now()
    elif kind == "tend":
        tool = Tend(folder, [{"name": "out", "cmd": argv,
                              "restart": "temporary"}],
                    output={"max_bytes": 1 << 40, "keep": 1}).start()
        held.append(tool)
        path = os.path.join(folder, ".tend", "output", "out.jsonl")
        if not wait_for(lambda: tail_has_exit(path), timeout, 0.002,
                        "tend's exit marker"):
            return None
        end = now()
        peak = peak_rss_kib(tool.proc.pid)
    elif kind == "supervisord":
        log_path = os.path.join(folder, "out.log")
        tool = Supervisord(folder, [("out", " ".join(argv), {
            "stdout_logfile": log_path, "stdout_logfile_maxbytes": "0",
            "stdout_logfile_backups": "0"})]).start()
        held.append(tool)
        if not wait_for(lambda: size_is(log_path, size), timeout, 0.002,
                        "supervisord's log"):
            return None
        end = now()
        peak = peak_rss_kib(tool.proc.pid)
    elif kind == "pm2":
        log_path = os.path.join(folder, "out.log")
        tool = PM2(folder, [{"name": "out", "script": STAMP,
                             "args": argv[1:], "interpreter": "none",
                             "autorestart": False, "out_file": log_path,
                             "error_file": os.path.join(folder, "err.log"),
                             "cwd": folder}])
        tool.start_daemon()
        tool.start()
        if not wait_for(lambda: size_is(log_path, size), timeout, 0.002,
                        "pm2's log"):
            return None
        end = now()
        peak = peak_rss_kib(PM2.daemon_pid())
    elif kind == "runit":
        tool = Runit(folder, [("out", " ".join(argv[1:]))],
                     log_config="s0\n", down=True).start()
        held.append(tool)
        sv = os.path.join(folder, "sv", "out")
        log_path = os.path.join(sv, "log", "main", "current")
        wait_for(lambda: os.path.exists(os.path.join(sv, "supervise", "ok"))
                 and os.path.exists(os.path.join(sv, "log", "supervise",
                                                 "ok")), 20, 0.01,
                 "runsv to be up")
        subprocess.run(["sv", "once", sv], capture_output=True)
        if not wait_for(lambda: size_is(log_path, size), timeout, 0.002,
                        "svlogd's current"):
            return None
        end = now()
        for pid in descendants(tool.proc.pid):
            if comm(pid) == "svlogd":
                peak = peak_rss_kib(pid)
    st = starts(stamps)
    if not st:
        return None
    return (end - st[0][2]) / 1e9, peak


def main():
    reset_results(NAME)
    count = reps(3, 1)
    avail = {"direct": True, "tend": True,
             "supervisord": bool(have("supervisord")),
             "pm2": PM2.available(),
             "runit": bool(have("runsvdir") and have("svlogd"))}
    labels = {"direct": "direct redirect (limit)", "runit": "runit + svlogd"}
    targets = {"b64": ("base64 text (76-column lines)", 1.3),
               "yes": ("2-byte lines (`yes`)", 2.0)}
    for payload, (desc, target) in targets.items():
        rates, peaks = {}, {}
        sizes = {}
        for kind in avail:
            if not avail[kind]:
                continue
            size = SIZE
            if kind != "direct":
                log(f"output: {kind} {payload}, probe of {PROBE >> 20} MiB")
                probe = one_run(kind, payload, "probe", PROBE)
                if not probe:
                    log(f"output: {kind} failed its probe, skipped")
                    continue
                if SIZE / (PROBE / probe[0]) > BUDGET_S:
                    fit = PROBE / probe[0] * BUDGET_S
                    size = PROBE
                    while size * 2 <= fit and size * 2 <= SIZE:
                        size *= 2
            sizes[kind] = size
            # A tool measured on fewer bytes is slow: two runs of it.
            for rep in range(count if size == SIZE else min(count, 2)):
                log(f"output: {kind} {payload} {size >> 20} MiB, run "
                    f"{rep + 1}/{count}")
                r = one_run(kind, payload, rep, size)
                if r is None:
                    log(f"output: {kind} failed")
                    continue
                rates.setdefault(kind, []).append(size / r[0])
                if r[1]:
                    peaks.setdefault(kind, []).append(r[1])
        table = Table(NAME, f"Output throughput: {SIZE >> 20} MiB of "
                      f"{desc} to stdout, logged to disk",
                      ["tool", "MB/s", f"wall for {SIZE >> 20} MiB (s)",
                       "measured on (MiB)", "runs", "wall vs tend",
                       "wall vs direct", "tool's peak RSS (MiB)"],
                      note=("Median over the runs; MB = 10^6 bytes; wall "
                            "time from the child's first instruction until "
                            "the last byte is in the tool's log file. Log "
                            "rotation off for every tool. tend's foreground "
                            "printer writes to /dev/null. A tool whose "
                            f"{PROBE >> 20} MiB probe predicted more than "
                            f"{BUDGET_S:.0f} s is measured on fewer bytes "
                            "(column *measured on*); its wall time for the "
                            "full size is extrapolated from its rate."))
        def wall(kind):
            r = median(rates.get(kind, []))
            return SIZE / r if r else None
        ref, direct = wall("tend"), wall("direct")
        for kind in avail:
            label = labels.get(kind, kind)
            if not avail[kind]:
                table.missing(label, "not installed")
                continue
            if kind not in rates:
                table.missing(label, "the run did not complete")
                continue
            w = wall(kind)
            pk = median(peaks.get(kind, []))
            table.row(label, SIZE / w / 1e6, w, sizes[kind] >> 20,
                      len(rates[kind]), ratio(w, ref), ratio(w, direct),
                      pk / 1024 if pk else "-")
        headline(NAME, f"{SIZE >> 20} MiB of {desc}: wall vs direct "
                 "redirect", f"{ratio(ref, direct)} "
                 f"({fmt(SIZE / ref / 1e6 if ref else None)} MB/s)",
                 f"&le; {target}x (issue 7: &le; 1.5x)",
                 ", ".join(f"{labels.get(k, k)} {ratio(wall(k), direct)}"
                           for k in avail if k not in ("tend", "direct")
                           and k in rates) +
                 f"; direct {fmt(SIZE / direct / 1e6 if direct else None)}"
                 " MB/s")
        table.line(f"Issue 3 target: tend within {target}x of the direct "
                   f"redirect's wall time; issue 7: within 1.5x. "
                   f"Measured here: {ratio(ref, direct)}.")
        table.emit()


if __name__ == "__main__":
    main()
