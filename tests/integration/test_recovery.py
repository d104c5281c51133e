"""Recovery (issue 3): tend is SIGKILLed, a new `tend up` takes over.

The flooding child numbers its lines and records the pids of its process
group (itself and a grandchild that would outlive it), so the tests check
the processes themselves, the seq and run counters and the data, not only
what tend says about them.
"""

import json
import os

import pytest

from conftest import (assert_contiguous, chunk_bytes, pid_alive,
                      read_jsonl, read_jsonl_strict, wait_for)

FLOOD = r"""
import os, subprocess
# A grandchild in the same process group: it outlives a killed daemon.
sleeper = subprocess.Popen(["sleep", "1000"])
with open("pids.txt", "a") as f:
    f.write(f"{os.environ['TEND_RUN']} {os.getpid()} {sleeper.pid}\n")
i = 0
while True:
    block = "".join(f"{os.environ['TEND_RUN']} {n}\n"
                    for n in range(i, i + 500)).encode()
    i += 500
    while block:
        block = block[os.write(1, block):]
"""


def out_path(d, runner, i=0):
    base = os.path.join(d.state_dir, "output", runner)
    return base + ".jsonl" if i == 0 else f"{base}.jsonl.{i}"


def all_chunks(d, runner, read=None, keep=3):
    """Chunks of the rotated files (oldest first) and the current one."""
    read = read or read_jsonl
    out = []
    for i in range(keep, 0, -1):
        if os.path.exists(out_path(d, runner, i)):
            out += read(out_path(d, runner, i))
    return out + read(out_path(d, runner))


def events_path(d):
    return os.path.join(d.state_dir, "events.jsonl")


def recorded_pids(d):
    """{run: [pids]} from pids.txt."""
    runs = {}
    try:
        with open(d.path("pids.txt")) as f:
            for line in f:
                run, *pids = line.split()
                runs[int(run)] = [int(p) for p in pids]
    except FileNotFoundError:
        pass
    return runs


def check_flood_data(chunks):
    """Each run's numbered lines are a gap-free prefix of what the child
    wrote: nothing flushed was lost, nothing repeated."""
    per_run = {}
    for c in chunks:
        if c["stream"] == "stdout":
            per_run.setdefault(c["run"], []).append(chunk_bytes(c))
    for run, parts in per_run.items():
        lines = b"".join(parts).split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        else:
            lines.pop()  # an incomplete last line (the child was killed)
        for n, line in enumerate(lines):
            assert line == f"{run} {n}".encode(), (
                f"run {run}: line {n} is {line!r}")
    return per_run


class Tail:
    """Parses the lines appended to a file since the last call (the file
    does not rotate in these tests): cheap polling of a big log."""

    def __init__(self, path, offset=0):
        self.path, self.offset = path, offset

    def new(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                raw = f.read()
        except FileNotFoundError:
            return []
        end = raw.rfind(b"\n") + 1
        self.offset += end
        return [json.loads(l) for l in raw[:end].split(b"\n") if l]


def test_kill9_mid_flood_then_up_again(tend_factory):
    # One file (no rotation) so that Tail can follow it by offset.
    d = tend_factory({"name": "r", "output": {"max_bytes": 1 << 40},
                      "children": [
                          {"name": "flood", "cmd": ["python3", "flood.py"]}]},
                     files={"flood.py": FLOOD})
    last_seq = 0
    for cycle in (1, 2, 3):
        # Let the run of this cycle flood for a while (4 MB on disk).
        wait_for(lambda: cycle in recorded_pids(d), 20,
                 what=f"run {cycle} of flood; stderr:\n{d.stderr()[-2000:]}")
        size = os.path.getsize(out_path(d, "flood"))
        wait_for(lambda: os.path.getsize(out_path(d, "flood")) >
                 size + (4 << 20), 30, what=f"4 MB more of run {cycle}")
        # state.json names the live group before we kill.
        pgid = wait_for(lambda: d.state().get("process_groups", {})
                        .get("flood", {}).get("pgid"), 10,
                        what="flood's group in state.json")
        pids = recorded_pids(d)[cycle]
        assert pgid == pids[0], (pgid, pids)
        d.kill9()

        # tend is gone; its grandchild is not (the flood itself dies of
        # EPIPE or lingers). state.json is whole.
        assert pid_alive(pids[1]), "the orphan died without help"
        d.state()
        before = read_jsonl(out_path(d, "flood"))
        assert before[-1]["seq"] > last_seq
        assert before[-1]["run"] == cycle, before[-1]
        last_seq, last_run = before[-1]["seq"], before[-1]["run"]
        # The restart may cut a torn last line: follow from the last whole
        # line that parsed.
        with open(out_path(d, "flood"), "rb") as f:
            raw = f.read()
        tail = Tail(out_path(d, "flood"), raw.rfind(b"\n") + 1)
        events = Tail(events_path(d), os.path.getsize(events_path(d)))

        d.start()
        recovered = []
        wait_for(lambda: recovered.extend(
            e for e in events.new() if e["type"] == "recovered") or recovered,
            20, what=f"a recovered event; stderr:\n{d.stderr()[-2000:]}")
        assert recovered[0].get("node") == "flood", recovered
        assert recovered[0].get("pgid") == pids[0], recovered
        assert pids[1] in recovered[0].get("pids", []), recovered
        for pid in pids:
            wait_for(lambda: not pid_alive(pid), 10,
                     what=f"orphan {pid} of run {cycle} to be gone")

        # The new run continues the counters right after what was on disk
        # (a torn last line, if the kill left one, was cut).
        start = wait_for(tail.new, 20,
                         what="the first chunk after the restart")[0]
        assert start["seq"] == last_seq + 1, (start, last_seq)
        assert start["stream"] == "tend" and start["event"] == "start", start
        assert start["run"] == last_run + 1, (start, last_run)

    wait_for(lambda: 4 in recorded_pids(d), 20, what="run 4")
    assert d.stop() == 0
    for pid in recorded_pids(d)[4]:
        wait_for(lambda: not pid_alive(pid), 10, what=f"{pid} stopped")

    chunks = all_chunks(d, "flood", read_jsonl_strict)
    assert_contiguous(chunks, "flood.jsonl")
    runs = check_flood_data(chunks)
    assert sorted(runs) == [1, 2, 3, 4], sorted(runs)
    starts = [c for c in chunks if c.get("event") == "start"]
    assert [c["run"] for c in starts] == [1, 2, 3, 4], starts
    events = read_jsonl_strict(events_path(d))
    assert_contiguous(events, "events.jsonl")
    assert len([e for e in events if e["type"] == "recovered"]) == 3
    state = d.state()
    assert isinstance(state, dict) and state, state


TORN = [
    pytest.param(b'{"seq":', id="half-a-line"),
    # Valid JSON with the right next seq, but no newline: a write that
    # stopped before its '\n' is torn too (the next append would join it).
    pytest.param(None, id="whole-object-no-newline"),
    pytest.param(b'{"seq":1,"ts":1,"run":9,"stream":"stdout","data":"t\xc3',
                 id="cut-mid-character"),
]


@pytest.mark.parametrize("fragment", TORN)
def test_torn_last_line_is_cut_with_an_event(tend_factory, fragment):
    d = tend_factory({"name": "r", "children": [
        {"name": "talk", "cmd": "echo one; echo two; exec sleep 1000"}]},
        http=True)
    wait_for(lambda: any(b"two" in chunk_bytes(c)
                         for c in read_jsonl(out_path(d, "talk"))), 20,
             what="talk's lines on disk")
    d.kill9()
    before = read_jsonl_strict(out_path(d, "talk"))
    last = before[-1]["seq"]
    if fragment is None:
        fragment = json.dumps({"seq": last + 1, "ts": 1, "run": 1,
                               "stream": "stdout",
                               "data": "torn TORN\n"}).encode()
    with open(out_path(d, "talk"), "ab") as f:
        f.write(fragment)
    with open(events_path(d), "ab") as f:
        f.write(b'{"seq":999999,"type":"st')
    n_events = len(read_jsonl(events_path(d)))

    d.start()
    events = wait_for(
        lambda: [e for e in read_jsonl(events_path(d))[n_events:]
                 if e["type"] == "log_truncated" and
                 e.get("runner", e.get("node")) == "talk"], 20,
        what=f"a log_truncated event; stderr:\n{d.stderr()[-2000:]}")
    ev = events[0]
    # The torn line of the event log itself is reported too.
    assert [e for e in read_jsonl(events_path(d))[n_events:]
            if e["type"] == "log_truncated" and e.get("runner") == "events"]
    assert ev.get("bytes") == len(fragment), (
        f"log_truncated must say how many bytes were cut "
        f"({len(fragment)}): {ev}")

    # The next start takes the seq right after the last whole line.
    chunks = wait_for(lambda: (lambda c: c if any(
        x.get("event") == "start" and x["run"] == 2 for x in c) else None)(
        read_jsonl(out_path(d, "talk"))), 20, what="run 2 of talk")
    start = [c for c in chunks if c["seq"] > last][0]
    assert start["seq"] == last + 1 and start["event"] == "start", start
    status, body = d.api("GET", "/api/v1/runners/talk/output?after=0")
    assert status == 200, body
    assert [c["seq"] for c in body["chunks"]] == list(
        range(1, body["chunks"][-1]["seq"] + 1))
    assert not any(b"torn" in chunk_bytes(c).lower()
                   for c in body["chunks"]), body["chunks"]

    assert d.stop() == 0
    with open(out_path(d, "talk"), "rb") as f:
        raw = f.read()
    assert not raw.endswith(fragment) and b"TORN" not in raw
    assert_contiguous(read_jsonl_strict(out_path(d, "talk")), "talk.jsonl")
    # The event log was cut too: every line parses, seqs go on.
    events = read_jsonl_strict(events_path(d))
    assert_contiguous(events, "events.jsonl")
