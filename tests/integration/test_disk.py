"""Disk trouble (issue 3): the state dir is a small tmpfs that the test
fills up, then frees. Supervision must go on while nothing can be written,
the trouble must be reported, and writing must resume with no seq gap and
no data lost.

Needs root (mount). The tmpfs is mounted on <dir>/.tend, which is also
given as "state_dir", so the harness finds the token and state files.
"""

import errno
import json
import os
import subprocess

import pytest

from conftest import assert_contiguous, chunk_bytes, read_jsonl, wait_for

FLOOD = r"""
import sys, time
i = 0
while True:
    sys.stdout.write("".join(f"line {n:07d} " + "x" * 86 + "\n"
                             for n in range(i, i + 25)))
    sys.stdout.flush()
    i += 25
    time.sleep(0.1)
"""


def api_events(d):
    """Every event the daemon holds (memory included), via the API."""
    status, body = d.api("GET", "/api/v1/events?after=0&limit=10000")
    assert status == 200, (status, body)
    return body["events"]


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def mount_tmpfs(path, size):
    if os.geteuid() != 0:
        pytest.skip("full-disk test needs root to mount a tmpfs "
                    f"(running as uid {os.geteuid()})")
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700",
                        "tmpfs", path], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"full-disk test: cannot mount a tmpfs on {path}: "
                    f"{r.stderr.strip() or r.returncode}")


def umount(path):
    r = subprocess.run(["umount", path], capture_output=True, text=True)
    if r.returncode != 0:
        subprocess.run(["umount", "-l", path], capture_output=True)


def fill(path):
    """Writes path until the filesystem is full; returns the bytes
    written."""
    n = 0
    with open(path, "wb", buffering=0) as f:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    n += f.write(b"\0" * size)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
    return n


def test_full_disk_supervision_goes_on_and_writing_resumes(tend_factory,
                                                           tmp_path):
    state_dir = str(tmp_path / ".tend")
    d = tend_factory({
        "name": "r", "state_dir": state_dir, "http": {"listen": "127.0.0.1:0"},
        "intensity": {"max_restarts": 100000, "period_s": 1},
        "children": [
            {"name": "flood", "cmd": ["python3", "-u", "flood.py"]},
            {"name": "crash", "cmd": "echo $$ >> crash.pids; sleep 0.1; "
                                     "exit 3",
             "backoff": {"initial_ms": 50, "max_ms": 100}}]},
        files={"flood.py": FLOOD}, start=False)
    mount_tmpfs(state_dir, "2m")
    filler = os.path.join(state_dir, "filler")
    try:
        d.start()
        flood_log = os.path.join(state_dir, "output", "flood.jsonl")
        wait_for(lambda: len(read_jsonl(flood_log)) > 5, 20,
                 what=f"flood on disk; stderr:\n{d.stderr()[-2000:]}")
        d.url()  # the API is up before the disk fills

        filled = fill(filler)
        assert filled > 0
        errors = wait_for(lambda: [e for e in api_events(d)
                                   if e["type"] == "persist_error"], 20,
                          what="a persist_error event")
        assert any(e.get("node") in ("flood", "crash") for e in errors), errors
        assert all(e.get("message") for e in errors), errors

        # The disk stays full for a while: crash keeps being restarted, the
        # API answers, output keeps flowing to readers, state.json stays
        # whole (the old one, since the new one cannot be written).
        on_disk = read_jsonl(flood_log)[-1]["seq"]
        pids = count_lines(d.path("crash.pids"))
        wait_for(lambda: count_lines(d.path("crash.pids")) >= pids + 5, 20,
                 what="crash restarted 5 times while the disk is full")
        status, tree = d.api("GET", "/api/v1/tree")
        assert status == 200, tree

        def kept():
            status, body = d.api("GET", "/api/v1/runners/flood/output?after="
                                 f"{on_disk}&limit=10000")
            assert status == 200, body
            return body if len(body["chunks"]) >= 25 else None
        # 25 flushes of the flood (2.5 s): several failed retries.
        body = wait_for(kept, 20, what="output written while the disk is "
                        "full reaching readers from memory")
        assert read_jsonl(flood_log)[-1]["seq"] == on_disk, (
            "the disk was not full after all")
        assert isinstance(d.state(), dict)
        assert d.proc.poll() is None

        os.unlink(filler)
        wait_for(lambda: [e for e in api_events(d)
                          if e["type"] == "persist_ok"], 20,
                 what="a persist_ok event after space was freed")
        # What was kept in memory reaches the disk, and more after it.
        last = body["chunks"][-1]["seq"]
        wait_for(lambda: read_jsonl(flood_log)[-1]["seq"] > last + 3, 20,
                 what="flood written again past what was kept in memory")
        assert d.stop() == 0
    finally:
        if d.proc and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        disk = {}
        if os.path.ismount(state_dir):
            for name in ("flood", "crash"):
                p = os.path.join(state_dir, "output", name + ".jsonl")
                if os.path.exists(p):
                    with open(p, "rb") as f:
                        disk[name] = f.read()
            with open(os.path.join(state_dir, "events.jsonl"), "rb") as f:
                disk["events"] = f.read()
            umount(state_dir)

    def parse(raw, what):
        assert raw.endswith(b"\n"), f"{what}: torn last line"
        items = [json.loads(l) for l in raw.split(b"\n")[:-1]]
        assert_contiguous(items, what)
        return items

    flood = parse(disk["flood"], "flood.jsonl")
    parse(disk["crash"], "crash.jsonl")
    events = parse(disk["events"], "events.jsonl")
    types = [e["type"] for e in events]
    assert "persist_error" in types and "persist_ok" in types, types
    assert types.index("persist_error") < types.index("persist_ok")
    # No line of the flood was lost or repeated across the outage.
    text = b"".join(chunk_bytes(c) for c in flood if c["stream"] == "stdout")
    lines = text.split(b"\n")[:-1]
    assert len(lines) > 100
    for n, line in enumerate(lines):
        assert line.startswith(f"line {n:07d} ".encode()), (n, line[:20])


FAST = r"""
import os, time
i = total = 0
while True:
    block = "".join(f"line {n:07d} " + "y" * 86 + "\n"
                    for n in range(i, i + 400)).encode()
    i += 400
    while block:
        n = os.write(1, block)
        block = block[n:]
        total += n
    with open("progress.tmp", "w") as f:
        f.write(str(total))
    os.replace("progress.tmp", "progress.txt")
    time.sleep(0.01)
"""


def progress(d):
    try:
        with open(d.path("progress.txt")) as f:
            return int(f.read() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def test_fast_writer_during_long_outage_is_held_back(tend_factory,
                                                     tmp_path):
    """A child writing ~4 MB/s (under the 1 MiB-per-flush rate, so the
    buffer never fills between flushes) while the disk stays full: the
    memory kept for the disk must stay bounded (the pipe holds the child
    back), and once space is back every line reaches the disk in order."""
    state_dir = str(tmp_path / ".tend")
    d = tend_factory({
        "name": "r", "state_dir": state_dir,
        "http": {"listen": "127.0.0.1:0"},
        "children": [{"name": "fast", "cmd": ["python3", "fast.py"]}]},
        files={"fast.py": FAST}, start=False)
    # Room for what the child writes after the outage (it is fast).
    mount_tmpfs(state_dir, "64m")
    filler = os.path.join(state_dir, "filler")
    log = os.path.join(state_dir, "output", "fast.jsonl")
    try:
        d.start()
        wait_for(lambda: len(read_jsonl(log)) > 5, 20,
                 what=f"fast on disk; stderr:\n{d.stderr()[-2000:]}")
        d.url()
        fill(filler)
        wait_for(lambda: [e for e in api_events(d)
                          if e["type"] == "persist_error"], 20,
                 what="a persist_error event")
        at_error = progress(d)
        # Either the child is held back (its progress stalls) or it gets
        # 24 MiB past the error, beyond the store's 16 MiB backlog cap.
        seen = {"p": -1, "since": 0.0}

        def stalled_or_far():
            import time
            p = progress(d)
            if p > at_error + (24 << 20):
                return "far"
            if p != seen["p"]:
                seen["p"], seen["since"] = p, time.monotonic()
                return None
            return "stalled" if time.monotonic() - seen["since"] > 1.5 \
                else None
        how = wait_for(stalled_or_far, 60, interval=0.05,
                       what="the child to stall or to run far ahead")
        rss = 0
        with open(f"/proc/{d.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        assert how == "stalled", (
            f"the child wrote {(progress(d) - at_error) >> 20} MiB while "
            f"the disk was full: nothing held it back (tend RSS {rss} KiB)")
        assert d.proc.poll() is None

        os.unlink(filler)
        wait_for(lambda: [e for e in api_events(d)
                          if e["type"] == "persist_ok"], 20,
                 what="a persist_ok event")
        resumed = progress(d)
        wait_for(lambda: progress(d) > resumed + (2 << 20), 20,
                 what="the child to run again")

        def caught_up():
            status, body = d.api("GET", "/api/v1/runners/fast/output"
                                 "?after=0&limit=1")
            chunks = read_jsonl(log)
            return chunks and chunks[-1]["seq"] >= body["last"] - 2
        wait_for(caught_up, 20, what="the disk to catch up with the log")
        assert d.stop() == 0
    finally:
        if d.proc and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        raw = b""
        if os.path.ismount(state_dir):
            if os.path.exists(log):
                with open(log, "rb") as f:
                    raw = f.read()
            umount(state_dir)
    assert raw.endswith(b"\n"), "torn last line"
    chunks = [json.loads(l) for l in raw.split(b"\n")[:-1]]
    assert_contiguous(chunks, "fast.jsonl")
    text = b"".join(chunk_bytes(c) for c in chunks if c["stream"] == "stdout")
    lines = text.split(b"\n")[:-1]
    for n, line in enumerate(lines):
        assert line.startswith(f"line {n:07d} ".encode()), (n, line[:20])


def test_stop_while_held_back_loses_nothing(tend_factory, tmp_path):
    """The child is held back by a full disk (its pipe is not read) when it
    is stopped: its pipes are still drained to EOF before the run ends, so
    every byte it wrote reaches the disk once there is room."""
    import time
    state_dir = str(tmp_path / ".tend")
    d = tend_factory({
        "name": "r", "state_dir": state_dir,
        "http": {"listen": "127.0.0.1:0"},
        "children": [{"name": "fast", "cmd": ["python3", "fast.py"],
                      "restart": "temporary"}]},
        files={"fast.py": FAST}, start=False)
    mount_tmpfs(state_dir, "64m")
    filler = os.path.join(state_dir, "filler")
    log = os.path.join(state_dir, "output", "fast.jsonl")
    try:
        d.start()
        wait_for(lambda: len(read_jsonl(log)) > 5, 20,
                 what=f"fast on disk; stderr:\n{d.stderr()[-2000:]}")
        d.url()
        fill(filler)
        wait_for(lambda: [e for e in api_events(d)
                          if e["type"] == "persist_error"], 20,
                 what="a persist_error event")
        seen = {"p": -1, "since": 0.0}

        def stalled():
            p = progress(d)
            if p != seen["p"]:
                seen["p"], seen["since"] = p, time.monotonic()
            return time.monotonic() - seen["since"] > 1.5
        wait_for(stalled, 30, interval=0.05, what="the child held back")

        status, body = d.api("POST", "/api/v1/runners/fast/stop")
        assert status == 200, (status, body)
        wait_for(lambda: d.api("GET", "/api/v1/runners/fast")[1]
                 .get("state") == "stopped", 20, what="fast stopped")
        written = progress(d)
        os.unlink(filler)
        wait_for(lambda: [e for e in api_events(d)
                          if e["type"] == "persist_ok"], 20,
                 what="a persist_ok event")
        wait_for(lambda: (read_jsonl(log) or [{}])[-1].get("event") == "exit",
                 20, what="the exit marker on disk")
        assert d.stop() == 0
    finally:
        if d.proc and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        raw = b""
        if os.path.ismount(state_dir):
            if os.path.exists(log):
                with open(log, "rb") as f:
                    raw = f.read()
            umount(state_dir)
    chunks = [json.loads(l) for l in raw.split(b"\n")[:-1]]
    assert_contiguous(chunks, "fast.jsonl")
    text = b"".join(chunk_bytes(c) for c in chunks if c["stream"] == "stdout")
    assert len(text) >= written, (
        f"the child wrote {written} bytes, {written - len(text)} of them "
        f"never reached the log (its pipe was not drained before the run "
        f"ended)")
    lines = text.split(b"\n")[:-1]
    for n, line in enumerate(lines):
        assert line.startswith(f"line {n:07d} ".encode()), (n, line[:20])
