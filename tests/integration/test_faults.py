"""Fault injection (issue 7, item 2): the real daemon under abuse.

A kill -9 loop with a flooding child, a restart storm, a descriptor limit,
signals at bad moments and children that misuse their pipes. The children
record their own pids and carry a tag in their environment, so the tests
check the processes themselves (through /proc), not what tend says.
The random kill delays come from a seed printed on failure; set
TEND_FAULT_SEED to replay one.
"""

import http.client
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from conftest import (SLOW, TEND_BIN, VALGRIND, assert_contiguous,
                      chunk_bytes, lines, pid_alive, read_log, wait_for)

ASAN = os.environ.get("TEND_VARIANT") == "asan"


# --- helpers -------------------------------------------------------------

def tagged_pids(tag):
    """Live (non-zombie) processes whose environment carries tag: every
    descendant of a child started with it, wherever it was reparented."""
    needle = f"TEND_FAULT_TAG={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if needle in env and pid_alive(int(entry)):
            found.append(int(entry))
    return found


def no_tagged_left(tag, timeout=10):
    """Waits until no process with tag is left (PID 1 may be slow to reap
    what it inherited) and fails naming them."""
    wait_for(lambda: not tagged_pids(tag), timeout,
             what=f"no process left with tag {tag}: "
             f"{[(p, cmdline(p)) for p in tagged_pids(tag)]}")


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def fault_seed():
    """The seed of a test's random kill delays: TEND_FAULT_SEED replays a
    failure (every failure message of those tests names its seed)."""
    return int(os.environ.get("TEND_FAULT_SEED") or
               random.SystemRandom().randrange(1 << 30))


def tag_env(tag):
    return {"TEND_FAULT_TAG": tag}


@pytest.fixture
def tag():
    """A tag for the children's environment; whatever still carries it at
    the end (after a failed test) is killed, so no test leaves processes
    behind. Ask for it before tend_factory: it is torn down after it."""
    value = uuid.uuid4().hex[:12]
    yield value
    for pid in tagged_pids(value):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# --- 1. the kill -9 loop ---------------------------------------------------

FLOOD = r"""
import os
run = os.environ["TEND_RUN"]
with open("pids.txt", "a") as f:
    f.write(f"flood {run} {os.getpid()}\n")
i = 0
while True:
    block = "".join(f"{run} {n}\n" for n in range(i, i + 200)).encode()
    i += 200
    while block:
        block = block[os.write(1, block):]
"""

STEADY = ('echo "steady $TEND_RUN $$" >> pids.txt; i=0; '
          'while :; do echo "tick $TEND_RUN $i"; i=$((i+1)); sleep 0.02; '
          'done')


def check_numbered(chunks, runner):
    """The numbered lines of each run of runner are in order with no
    repeat and no hole; only the end of a run may be missing (what the
    child wrote after tend was killed). A run whose start marker was
    rotated away may begin anywhere. Returns {run: lines seen}."""
    per_run, order, starts = {}, [], set()
    for c in chunks:
        if c["stream"] == "tend" and c.get("event") == "start":
            starts.add(c["run"])
        if c["stream"] != "stdout":
            continue
        if not order or order[-1] != c["run"]:
            assert c["run"] not in per_run, (
                f"{runner}: run {c['run']} output resumes after run "
                f"{order[-1]} (seq {c['seq']})")
            order.append(c["run"])
        per_run.setdefault(c["run"], []).append(chunk_bytes(c))
    assert order == sorted(order), f"{runner}: runs out of order {order}"
    seen = {}
    for run, parts in per_run.items():
        got = b"".join(parts).split(b"\n")
        got.pop()  # b"" after the last '\n', or an incomplete last line
        if not got:
            continue
        prefix = f"{run} ".encode() if runner == "flood" else \
            f"tick {run} ".encode()
        nums = []
        for k, line in enumerate(got):
            assert line.startswith(prefix), (
                f"{runner} run {run}: line {k} is {line[:80]!r}")
            nums.append(int(line[len(prefix):]))
        if run in starts:
            assert nums[0] == 0, f"{runner} run {run} starts at {nums[0]}"
        for a, b in zip(nums, nums[1:]):
            assert b == a + 1, f"{runner} run {run}: {a} followed by {b}"
        seen[run] = len(nums)
    return seen


def test_kill9_loop(tag, tend_factory):
    # 50 kills on the release build; the sanitizer builds run 3-12x slower
    # per step, so they do 20 (valgrind 6) to stay within the suite's time.
    cycles = 6 if VALGRIND else 20 if ASAN else 50
    seed = fault_seed()
    rnd = random.Random(seed)
    # The flood's log rotates every 16 MiB, so some kills land in the middle
    # of a rotation; keep is large enough that no file is ever dropped (a
    # file holds few lines: chunks of a flood are up to 1 MiB).
    d = tend_factory({"name": "r", "children": [
                          {"name": "flood", "cmd": [sys.executable,
                                                    "flood.py"],
                           "output": {"max_bytes": 16 << 20, "keep": 1000},
                           "env": tag_env(tag)},
                          {"name": "steady", "cmd": STEADY,
                           "env": tag_env(tag)}]},
                     files={"flood.py": FLOOD})
    out_dir = os.path.join(d.state_dir, "output")
    delays = []
    for cycle in range(cycles):
        # The first daemon is up once it has started the tree; each later
        # one is killed at a random moment after exec (start-up, recovery,
        # spawning, flooding, rotating).
        if cycle == 0:
            wait_for(lambda: len(lines(d.path("pids.txt"))) >= 2, 20,
                     what=f"both children; stderr:\n{d.stderr()[-2000:]}")
        # (valgrind takes seconds to start a daemon: its delays scale.)
        delay = rnd.uniform(0.05, 0.4) * (SLOW if VALGRIND else 1)
        delays.append(round(delay, 3))
        time.sleep(delay)
        assert d.proc.poll() is None, (
            f"cycle {cycle} (seed {seed}): tend exited by itself "
            f"({d.proc.returncode}); stderr:\n{d.stderr()[-3000:]}")
        d.kill9()
        d.check_sanitizers()
        d.start()

    # The last daemon comes up, recovers, and runs the whole tree again.
    n = len(lines(d.path("pids.txt")))
    wait_for(lambda: {l.split()[0] for l in lines(d.path("pids.txt"))[n:]}
             == {"flood", "steady"}, 30,
             what=f"both children after the last restart; stderr:\n"
             f"{d.stderr()[-2000:]}")
    flood_file = os.path.join(out_dir, "flood.jsonl")
    size = os.path.getsize(flood_file)
    wait_for(lambda: os.path.getsize(flood_file) != size, 20,
             what="the flood's output after the last restart")
    assert d.stop() == 0, d.stderr()[-3000:]

    # Every line of every log parses; seqs are contiguous per log across
    # all the daemons and rotations.
    print(f"kill delays (seed {seed}): {delays}")  # shown on failure
    found = {}
    for runner in ("flood", "steady"):
        chunks = read_log(out_dir, runner)
        assert_contiguous(chunks, runner, first=1)
        found[runner] = check_numbered(chunks, runner)
    events = read_log(d.state_dir, "events")
    assert_contiguous(events, "events", first=1)
    # Some kills land before a daemon has even started its tree; not most
    # of them (about 1 in 50 does on the release build), or the loop tests
    # start-up only.
    started = [e for e in events if e.get("type") == "daemon_started"]
    assert (cycles + 1) // 4 < len(started) <= cycles + 1, (
        f"{len(started)} daemon_started events for {cycles + 1} daemons "
        f"(seed {seed})")
    assert len(found["flood"]) > cycles // 4, (found, seed)

    # No process of any run is left: neither the children (their own
    # record) nor anything they started (the environment tag).
    recorded = [int(l.split()[2]) for l in lines(d.path("pids.txt"))]
    wait_for(lambda: not [p for p in recorded if pid_alive(p)], 10,
             what=f"recorded children gone: "
             f"{[(p, cmdline(p)) for p in recorded if pid_alive(p)]} "
             f"(seed {seed})")
    no_tagged_left(tag)
    d.state()  # valid JSON


def test_kill9_while_spawning_leaves_no_orphan(tag, tend_factory):
    # Kills that land while the tree starts: a child forked just before the
    # kill is not yet in state.json. The next daemon must still find it.
    # Ten long-lived children; each daemon is killed 0-60 ms after exec
    # (x SLOW: the sanitizer builds start more slowly), when most of the
    # spawns happen.
    cycles = 8 if VALGRIND else 25
    seed = fault_seed()
    rnd = random.Random(seed)
    d = tend_factory({"name": "r", "children": [
        {"name": f"c{i}", "cmd": ["sleep", "1000"], "env": tag_env(tag)}
        for i in range(10)]})
    print(f"seed {seed}")  # shown on failure
    for _ in range(cycles):
        time.sleep(rnd.uniform(0.0, 0.06) * SLOW)
        d.kill9()
        d.check_sanitizers()
        d.start()
    # The last daemon (not a killed one's leftovers) runs all ten.
    def last_tree_up():
        try:
            state = d.state()
        except (OSError, ValueError):
            return False  # no daemon got as far as writing it yet
        return state.get("daemon_pid") == d.proc.pid and \
            state.get("process_groups", {}).keys() >= \
            {f"c{i}" for i in range(10)}
    wait_for(last_tree_up, 20, what="the last daemon's tree")
    assert d.stop() == 0
    no_tagged_left(tag)


# --- 2. a restart storm ------------------------------------------------------

def timed_get(d, path):
    """(seconds, status, body) of one GET."""
    t0 = time.monotonic()
    status, body = d.api("GET", path)
    return time.monotonic() - t0, status, body


def test_restart_storm_stopped_by_intensity_api_stays_responsive(
        tend_factory):
    # Five children that exit at once, restarted with no backoff: the group
    # restarts as fast as tend can spawn, until its intensity (200 restarts)
    # makes it fail; the root (max_restarts 0) then gives up and stays up.
    bombs = [{"name": f"bomb{i}", "cmd": "echo $$ >> bomb.pids",
              "backoff": {"initial_ms": 0}} for i in range(5)]
    d = tend_factory({"name": "r",
                      "intensity": {"max_restarts": 0, "period_s": 60},
                      "children": [
                          {"name": "storm",
                           "intensity": {"max_restarts": 200,
                                         "period_s": 60},
                           "children": bombs},
                          {"name": "steady", "cmd": ["sleep", "1000"]}]},
                     http=True)
    d.url()
    bound = 1.0 * SLOW
    slowest, polls, state = 0.0, 0, None
    deadline = time.monotonic() + 60 * SLOW
    while time.monotonic() < deadline:
        took, status, tree = timed_get(d, "/api/v1/tree")
        polls += 1
        assert status == 200, (status, tree)
        assert took < bound, (
            f"GET /api/v1/tree took {took:.2f}s during the storm (poll "
            f"{polls}, {len(lines(d.path('bomb.pids')))} spawns so far)")
        slowest = max(slowest, took)
        # The storm group fails, then the root gives up (and stops it).
        state = tree["state"]
        if state == "failed":
            break
        time.sleep(0.05)
    spawns = len(lines(d.path("bomb.pids")))
    took = time.monotonic() - (deadline - 60 * SLOW)
    print(f"{spawns} spawns in {took:.2f}s, {polls} polls, slowest "
          f"{slowest:.3f}s")  # shown on failure
    assert state == "failed", (
        f"root still {state} after {spawns} spawns; "
        f"stdout:\n{d.stdout()[-2000:]}")
    assert ("storm", "running", "give_up", "failed") in [
        t[:4] for t in d.transitions("storm")], d.transitions("storm")
    assert spawns > 200, f"only {spawns} spawns: not much of a storm"
    assert polls >= 3, (f"the storm was over after {polls} polls "
                        f"({spawns} spawns in {took:.2f}s)")

    # The storm is over: the daemon is still up and still answers.
    n = len(lines(d.path("bomb.pids")))
    for _ in range(5):
        took, status, _ = timed_get(d, "/api/v1/tree")
        assert status == 200 and took < bound
    assert d.proc.poll() is None
    assert d.stop() == 0
    # No spawn after the failure: the daemon's exit is the sentinel (all it
    # did is in its log by then).
    assert len(lines(d.path("bomb.pids"))) == n, "spawns after the failure"
    events = d.events()
    failed = max(i for i, e in enumerate(events)
                 if e.get("type") == "state" and e.get("node") == "storm" and
                 e.get("to") == "failed")
    assert not [e for e in events[failed:] if e.get("type") == "state" and
                e.get("to") == "starting"], events[failed:]


# --- 3. out of file descriptors ----------------------------------------------

def start_with_fd_limit(d, limit):
    """Starts d like Daemon.start, with RLIMIT_NOFILE limit (soft and hard:
    tend raises its soft limit toward the hard one for the HTTP API)."""
    def lower():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    with open(d.out_path, "ab") as out, open(d.err_path, "ab") as err:
        d.proc = subprocess.Popen(
            [TEND_BIN, "up", "-c", d.config_path], cwd=d.dir, stdout=out,
            stderr=err, stdin=subprocess.DEVNULL, preexec_fn=lower)
    return d


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def running_names(d):
    tree = d.api("GET", "/api/v1/tree")[1]
    return {c["name"] for c in tree["children"] if c["state"] == "running"}


EMFILE_TEXT = "Too many open files"


@pytest.mark.skipif(VALGRIND, reason="valgrind needs descriptors of its own")
def test_out_of_descriptors_spawn_fails_cleanly(tend_factory):
    # 30 runners, 64 descriptors: a log file per runner and two pipes per
    # running child do not fit, so spawns fail with EMFILE. They are
    # retried (backoff, a high intensity) and must show up as transitions
    # with the reason; the API must keep answering; freeing descriptors by
    # stopping runners lets the others start.
    n = 30
    d = tend_factory({"name": "r",
                      "intensity": {"max_restarts": 100000, "period_s": 1},
                      "children": [
                          {"name": f"c{i:02d}",
                           "cmd": 'echo "$TEND_RUNNER $$" >> pids; '
                                  'exec sleep 1000',
                           "backoff": {"initial_ms": 50, "max_ms": 200}}
                          for i in range(n)]},
                     http=True, start=False)
    start_with_fd_limit(d, 64)
    d.url()
    failed = wait_for(
        lambda: [t for t in d.transitions() if EMFILE_TEXT in (t[4] or "")],
        15, what=f"a spawn failing with EMFILE; stdout:\n"
        f"{d.stdout()[-2000:]}\nstderr:\n{d.stderr()[-2000:]}")
    assert failed[0][3] == "exited", failed[0]
    events = [e for e in d.events() if e.get("type") == "state" and
              EMFILE_TEXT in (e.get("reason") or "")]
    assert events and events[0]["event"] == "spawn_failed", events[:1]
    assert d.proc.poll() is None

    # The API answers while the children hold every descriptor they can.
    for _ in range(10):
        status, tree = d.api("GET", "/api/v1/tree")
        assert status == 200, (status, tree)
    assert open_fds(d.proc.pid) <= 64
    up = running_names(d)
    assert 0 < len(up) < n, up

    # Stop half of the running ones: the freed descriptors let runners that
    # could not start run (their next retry succeeds).
    stopped = sorted(up)[:len(up) // 2 + 1]
    for name in stopped:
        status, body = d.api("POST", f"/api/v1/runners/{name}/stop")
        assert status == 200, (name, status, body)
    wait_for(lambda: len(running_names(d) - set(up)) >= len(stopped) - 1,
             20, what=f"runners that could not start to start after "
             f"{stopped} stopped; running now: {sorted(running_names(d))}")
    assert d.stop() == 0, d.stderr()[-3000:]
    pids = [int(l.split()[1]) for l in lines(d.path("pids"))]
    assert not [p for p in pids if pid_alive(p)]


def proc_state(pid):
    """The state letter of pid (R, S, T, Z, ...), "" when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def accept_backlog(port):
    """Connections waiting in the accept queue of the listening socket on
    port (rx_queue of its LISTEN line in /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                return int(fields[4].split(":")[1], 16)
    return 0


@pytest.mark.skipif(VALGRIND, reason="valgrind needs descriptors of its own")
@pytest.mark.parametrize("cause", ["emfile", "connection_limit"])
def test_connection_burst_at_the_limit_api_recovers(tend_factory, cause):
    # A burst of connections on a daemon with few descriptors. "emfile":
    # the runners' pipes and logs hold nearly all of them, so accept() in
    # libmicrohttpd fails with EMFILE; "connection_limit": descriptors are
    # left, but MHD's connection limit (half of them) is reached. Either
    # way the daemon must keep running, and answer again once the burst
    # is gone.
    runners = 30 if cause == "emfile" else 1
    d = tend_factory({"name": "r",
                      "intensity": {"max_restarts": 100000, "period_s": 1},
                      "children": [
                          {"name": f"c{i:02d}", "cmd": ["sleep", "1000"],
                           "backoff": {"initial_ms": 50, "max_ms": 200}}
                          for i in range(runners)]},
                     http=True, start=False)
    limit = 64 if cause == "emfile" else 48
    start_with_fd_limit(d, limit)
    d.url()
    if cause == "emfile":
        wait_for(lambda: [t for t in d.transitions()
                          if EMFILE_TEXT in (t[4] or "")], 15,
                 what="the runners to exhaust the descriptors")
    assert d.api("GET", "/api/v1/tree")[0] == 200
    host, port = d.daemon_json()["listen"].rsplit(":", 1)
    socks = []
    try:
        for _ in range(60):
            socks.append(socket.create_connection((host, int(port)),
                                                  timeout=5 * SLOW))
        # tend caps MHD at half its descriptors (below 1024): a backlog of
        # more than 60 - cap means accept() stopped for want of descriptors
        # (EMFILE), one of exactly 60 - cap that the cap was reached.
        cap = limit // 2
        need = 60 - cap + (1 if cause == "emfile" else 0)
        wait_for(lambda: accept_backlog(int(port)) >= need, 10,
                 what=f"tend to stop accepting: backlog "
                 f"{accept_backlog(int(port))} of {need}, "
                 f"{open_fds(d.proc.pid)} descriptors open")
        assert d.proc.poll() is None
        # The clients all go away while tend is descheduled (SIGSTOP), so
        # that it sees every hang-up at once, in one run of MHD: the case
        # where nothing runs MHD again afterwards.
        d.send_signal(signal.SIGSTOP)
        wait_for(lambda: proc_state(d.proc.pid) == "T", 10,
                 what="tend to be stopped")
    finally:
        for s in socks:
            s.close()
        d.send_signal(signal.SIGCONT)
    assert d.proc.poll() is None

    def answers():
        # A short timeout: a request stuck in the accept queue fails fast.
        conn = http.client.HTTPConnection(host, int(port), timeout=1 * SLOW)
        try:
            conn.request("GET", "/api/v1/tree", headers={
                "Authorization": "Bearer " + d.token()})
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()
    # With the glue right the API answers within milliseconds.
    wait_for(answers, 3, interval=0.2,
             what=f"the API to answer again after the burst "
             f"({open_fds(d.proc.pid)} descriptors open, backlog "
             f"{accept_backlog(int(port))})")
    assert d.stop() == 0


# --- 4. signals at bad moments -------------------------------------------

def proc_status_mask(pid, field):
    """The signal mask named field (SigBlk, SigCgt, ...) of pid as an int."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


# stderr to a file: once tend is gone, sh would die of SIGPIPE writing
# "Terminated" (about its killed sleep) to the dead pipe.
STUBBORN = ('exec 2>>stubborn.err; '
            'trap \'echo "term $TEND_RUNNER" >> got\' TERM; '
            'echo "$TEND_RUNNER $$" >> pids; '
            'while :; do sleep 0.05; done')


def test_sigterm_during_startup_recovery_exits_0(tag, tend_factory):
    # The first daemon leaves a child that ignores SIGTERM; the second one
    # spends its start-up (before any signal handler of libuv exists)
    # stopping it: TERM, a grace period, KILL. A SIGTERM that arrives then
    # must not kill tend by the default action: it stops once it is up, with
    # exit status 0 and no process left.
    d = tend_factory({"name": "r", "children": [
        {"name": "stubborn", "cmd": STUBBORN, "env": tag_env(tag),
         "stop": {"timeout_ms": 300}},
        {"name": "after", "cmd": 'echo "$TEND_RUNNER $$" >> pids; '
                                 'exec sleep 1000', "env": tag_env(tag)}]})
    wait_for(lambda: len(lines(d.path("pids"))) == 2, 10,
             what="both children")
    wait_for(lambda: d.state().get("process_groups", {}).get("after"), 10,
             what="the groups in state.json")
    d.kill9()
    d.start()
    # The new daemon is in its recovery: it has sent TERM to the orphan.
    wait_for(lambda: "term stubborn" in lines(d.path("got")), 10,
             what="the recovery's TERM to the orphan")
    d.send_signal(signal.SIGTERM)
    assert d.wait_exit() == 0, d.stderr()[-2000:]
    assert "recovered" in [e["type"] for e in d.events()]
    no_tagged_left(tag)


@pytest.mark.skipif(VALGRIND, reason="valgrind catches every signal itself "
                    "from its own start, before tend runs")
def test_sigterm_at_the_first_moment_exits_0(tag, tend_factory):
    # TERM as early as tend can take it (the moment it blocks or catches
    # the signal; tend blocks it before config, lock, recovery and tree):
    # it exits 0 and leaves no
    # process, whether or not the tree had begun to start. (A TERM before
    # main() runs at all, in the dynamic loader, still kills it by the
    # default action: nothing in the process can change that.)
    d = tend_factory({"name": "r", "children": [
        {"name": f"c{i}", "cmd": 'echo "$TEND_RUNNER $$" >> pids; '
                                 'exec sleep 1000', "env": tag_env(tag)}
        for i in range(5)]}, start=False)
    for _ in range(3):
        d.start()
        term = 1 << (signal.SIGTERM - 1)
        wait_for(lambda: (proc_status_mask(d.proc.pid, "SigBlk") |
                          proc_status_mask(d.proc.pid, "SigCgt")) & term,
                 10, interval=0.0005, what="tend to take charge of SIGTERM")
        d.send_signal(signal.SIGTERM)
        assert d.wait_exit() == 0, d.stderr()[-2000:]
        no_tagged_left(tag)


def test_sigterm_twice_stops_gracefully_once(tag, tend_factory):
    # A second TERM while the tree is stopping must neither escalate to
    # KILL nor start a second shutdown: every child gets its TERM, takes its
    # time, exits by itself, and tend exits 0.
    slow = ('trap \'sleep 0.3; echo "done $TEND_RUNNER" >> got; exit 0\' '
            'TERM; echo "$TEND_RUNNER $$" >> pids; '
            'while :; do sleep 0.05; done')
    d = tend_factory({"name": "r", "children": [
        {"name": "g", "children": [
            {"name": f"s{i}", "cmd": slow, "env": tag_env(tag)}
            for i in range(3)]},
        {"name": "t", "cmd": slow, "env": tag_env(tag)}]})
    wait_for(lambda: len(lines(d.path("pids"))) == 4, 10,
             what="four children")
    d.send_signal(signal.SIGTERM)
    d.send_signal(signal.SIGTERM)
    d.wait_transition("t", "stopping")
    d.send_signal(signal.SIGTERM)
    assert d.wait_exit() == 0, d.stderr()[-2000:]
    assert sorted(lines(d.path("got"))) == [
        "done s0", "done s1", "done s2", "done t"]
    ends = [t for t in d.transitions() if t[3] == "stopped" and
            t[0] in ("s0", "s1", "s2", "t")]
    assert len(ends) == 4 and all("status 0" in (t[4] or "") for t in ends), \
        ends
    stopping = [e for e in d.events() if e.get("type") == "daemon_stopping"]
    assert len(stopping) == 1, stopping
    no_tagged_left(tag)


def test_sighup_reload_during_shutdown(tag, tend_factory):
    # While the tree stops (a slow child last in the stop order... first),
    # the config changes (a runner's command, a new runner, a removed one)
    # and SIGHUP asks for a reload: nothing new may start for good, the
    # shutdown must end, and no process may be left.
    slow = ('trap \'sleep 0.5; exit 0\' TERM; '
            'echo "$TEND_RUNNER $$" >> pids; while :; do sleep 0.05; done')
    quick = 'echo "$TEND_RUNNER $$" >> pids; exec sleep 1000'
    config = {"name": "r", "children": [
        {"name": "g", "children": [
            {"name": "a", "cmd": quick, "env": tag_env(tag)},
            {"name": "b", "cmd": quick, "env": tag_env(tag)}]},
        {"name": "slow", "cmd": slow, "env": tag_env(tag)}]}
    d = tend_factory(config)
    wait_for(lambda: len(lines(d.path("pids"))) == 3, 10,
             what="three children")
    d.send_signal(signal.SIGTERM)
    d.wait_transition("slow", "stopping")
    changed = json.loads(json.dumps(config))
    group = changed["children"][0]["children"]
    group[0]["cmd"] = quick + " # changed"
    group[1] = {"name": "new", "cmd": quick, "env": tag_env(tag)}
    d.write_config(changed)
    d.send_signal(signal.SIGHUP)
    assert d.wait_exit() == 0, d.stderr()[-2000:]
    no_tagged_left(tag)
    # The reload was applied during the shutdown, and started nothing.
    events = d.events()
    kinds = [e["type"] for e in events]
    assert "config_applied" in kinds[kinds.index("daemon_stopping"):], kinds
    late = [(e["node"], e.get("reason")) for e in
            events[kinds.index("daemon_stopping"):]
            if e["type"] == "state" and e.get("to") == "starting"]
    assert late == [], f"started during the shutdown: {late}"
    assert len(lines(d.path("pids"))) == 3, lines(d.path("pids"))


def test_second_sigint_kills_stubborn_groups_everywhere(tag, tend_factory):
    # Children that ignore TERM (and their own children), in nested groups,
    # with a long stop timeout: the first SIGINT starts a graceful stop that
    # would take a minute, the second kills every group at once.
    stubborn = ('trap "" TERM; (trap "" TERM; echo "$TEND_RUNNER-kid '
                '$(exec sh -c \'echo $PPID\')" >> pids; '
                'while :; do sleep 0.05; done) & '
                'echo "$TEND_RUNNER $$" >> pids; '
                'while :; do sleep 0.05; done')
    d = tend_factory({"name": "r", "children": [
        {"name": "g", "children": [
            {"name": "inner", "cmd": stubborn, "env": tag_env(tag),
             "stop": {"timeout_ms": 60000}}]},
        {"name": "outer", "cmd": stubborn, "env": tag_env(tag),
         "stop": {"timeout_ms": 60000}}]})
    wait_for(lambda: len(lines(d.path("pids"))) == 4, 10,
             what=f"two children and two grandchildren: "
             f"{lines(d.path('pids'))}")
    d.send_signal(signal.SIGINT)
    d.wait_transition("outer", "stopping")
    t0 = time.monotonic()
    d.send_signal(signal.SIGINT)
    assert d.wait_exit(timeout=10) == 0, d.stderr()[-2000:]
    assert time.monotonic() - t0 < 10 * SLOW
    no_tagged_left(tag)
    assert any("second interrupt" in (e.get("message") or "")
               for e in d.events())


# --- 5. children that misuse their pipes -----------------------------------

def test_child_closing_its_output_keeps_running_and_stops(tag, tend_factory):
    # Both pipes reach EOF at once, but the child runs on: it stays
    # running (EOF is not an exit), and a stop still ends it promptly.
    d = tend_factory({"name": "r", "children": [
        {"name": "mute", "cmd": 'echo "$$" > mute.pid; exec >&- 2>&-; '
                                'exec sleep 1000', "env": tag_env(tag),
         "stop": {"timeout_ms": 5000}}]})
    pid = int(wait_for(lambda: lines(d.path("mute.pid")), 10,
                       what="the child's pid")[0])
    d.wait_transition("mute", "running")
    # Once the pipes are closed, the child is still running (checked via
    # /proc: the shell has exec'd sleep, which has no stdout at all).
    wait_for(lambda: not os.path.exists(f"/proc/{pid}/fd/1"), 10,
             what="the child to close its stdout")
    assert pid_alive(pid)
    assert [t[3] for t in d.transitions("mute")][-1] == "running"
    t0 = time.monotonic()
    assert d.stop() == 0
    assert time.monotonic() - t0 < 4 * SLOW, "stop waited for the timeout"
    assert not pid_alive(pid)
    ends = [t for t in d.transitions("mute") if t[3] == "stopped"]
    assert ends and "signal TERM" in (ends[-1][4] or ""), ends


ESCAPE = ('echo "run $TEND_RUN $$" >> pids; '
          'setsid sh -c \'echo "escapee $$" >> pids; exec sleep 1000\' & '
          'sleep 0.2; exit 1')


def test_escaped_grandchild_holding_the_pipe_does_not_block(tag,
                                                            tend_factory):
    # The leader exits; its grandchild left the process group (setsid) and
    # still holds stdout. The run must end anyway (tend gives up on the
    # pipe after a grace period) and the child be restarted.
    d = tend_factory({"name": "r", "children": [
        {"name": "leaky", "cmd": ESCAPE, "env": tag_env(tag),
         "backoff": {"initial_ms": 0}}]})
    wait_for(lambda: len([l for l in lines(d.path("pids"))
                          if l.startswith("run ")]) >= 2, 15,
             what=f"a second run; stdout:\n{d.stdout()[-2000:]}\nstderr:\n"
             f"{d.stderr()[-2000:]}")
    ex = [t for t in d.transitions("leaky") if t[3] == "exited"]
    assert ex and "status 1" in (ex[0][4] or ""), ex
    assert "held open by a process outside its group" in d.stderr()
    # The escapee lives on (it is outside the group), the daemon is fine.
    escapees = [int(l.split()[1]) for l in lines(d.path("pids"))
                if l.startswith("escapee ")]
    assert escapees and pid_alive(escapees[0])
    # A stop in the middle of a grace period ends promptly too.
    n = len(lines(d.path("pids")))
    wait_for(lambda: len(lines(d.path("pids"))) > n, 10,
             what="the next run")
    assert d.stop() == 0
    runs = [int(l.split()[2]) for l in lines(d.path("pids"))
            if l.startswith("run ")]
    assert not [p for p in runs if pid_alive(p)]
