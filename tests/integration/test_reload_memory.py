"""Reloads keep memory flat (issue 14, item 2: refcounted configs).

A real daemon reloads tend.json 1,000 times. Every save flips one runner's
spec, so each reload really applies (a change, a restart of that runner),
and every reload is waited for: POST /api/v1/reload applies the file before
it answers, and the daemon's config_hash is checked to be the new file's.
The daemon's anonymous memory (heap and malloc arenas, from
/proc/PID/smaps_rollup) after the last reload must stay within BOUND_KIB of
its level after the first BASELINE reloads.

Before the fix, tend kept every replaced config until shutdown: measured
with this test, the release build grew from 3056 KiB after 50 reloads to
26916 KiB after 1,000 (+23860 KiB, about 25 KiB per reload); with
refcounted configs it went from 1872 KiB to 2068 KiB (+196 KiB).

Sanitizer and valgrind builds keep freed memory in a quarantine, so their
RSS says nothing about leaks: the test then runs the release build (./tend
at the top of the tree), and is skipped when there is none.
"""

import http.client
import json
import os
import urllib.parse

import pytest

import conftest
from conftest import wait_for

RELOADS = 1000
BASELINE = 50
# Allowed growth between reload BASELINE and reload RELOADS: 1 MiB. One
# retained config of this test costs about 25 KiB, so 950 of them are
# about 23 MiB; 1 MiB (about 40 configs) leaves room for malloc's own
# bookkeeping and the logs' in-memory tails, and none for a config kept
# per reload.
BOUND_KIB = 1024

HERE = os.path.dirname(os.path.abspath(__file__))
RELEASE_BIN = os.path.abspath(os.path.join(HERE, "..", "..", "tend"))


def daemon_binary():
    """The binary whose memory means something, or None."""
    if os.environ.get("TEND_VARIANT") in ("asan", "valgrind") or \
            conftest.VALGRIND:
        return RELEASE_BIN if os.access(RELEASE_BIN, os.X_OK) else None
    return conftest.TEND_BIN


def config(gen):
    """A tree of 8 sleeping runners with sizeable specs; "flip" changes
    with gen's parity (so it restarts on every reload), and "gen" (a
    runner that never starts) carries gen itself, so every file differs."""
    env = {f"VAR_{i:02d}": "x" * 60 for i in range(16)}
    children = [{"name": f"r{i:02d}", "cmd": ["sleep", "1000"], "env": env,
                 "stop": {"timeout_ms": 1000}}
                for i in range(6)]
    children.append({"name": "flip", "cmd": ["sleep", "1000"],
                     "env": {"SIDE": "ab"[gen % 2]},
                     "stop": {"timeout_ms": 1000}})
    children.append({"name": "gen", "cmd": ["true"], "autostart": False,
                     "env": {"GEN": str(gen)}})
    # Small logs: each log keeps its newest lines in memory (the tail,
    # up to 4 MiB), and a rotation trims the tail to what the files hold;
    # with 32 KiB files the tails of events.jsonl and flip's log are full
    # within the first reloads instead of growing through the whole test.
    return {"name": "mem", "http": {"listen": "127.0.0.1:0"},
            "output": {"max_bytes": 32768, "keep": 1},
            "children": children}


class Api:
    """One kept-alive HTTP connection to the daemon (a thousand requests
    on fresh connections cost more than the reloads themselves)."""

    def __init__(self, d):
        u = urllib.parse.urlsplit(d.url())
        self.conn = http.client.HTTPConnection(u.hostname, u.port,
                                               timeout=30 * conftest.SLOW)
        self.headers = {"Authorization": "Bearer " + d.token(),
                        "Content-Type": "application/json"}

    def __call__(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        self.conn.request(method, path, body=data, headers=self.headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None

    def close(self):
        self.conn.close()


def anon_kib(pid):
    """The process's anonymous memory in KiB (smaps_rollup; VmRSS when the
    kernel has no rollup)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Anonymous:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no memory figure in /proc")


def test_a_thousand_reloads_keep_memory_flat(tend_factory, monkeypatch):
    binary = daemon_binary()
    if binary is None:
        pytest.skip("a sanitizer build's RSS is meaningless and there is "
                    f"no release build at {RELEASE_BIN} (make tend)")
    monkeypatch.setattr(conftest, "TEND_BIN", binary)
    monkeypatch.setattr(conftest, "VALGRIND", False)
    d = tend_factory(config(0), http=True)
    pid = d.proc.pid
    wait_for(lambda: d.api("GET", "/api/v1/daemon")[0] == 200, 20,
             what="the API")
    wait_for(lambda: all(n["state"] == "running"
                         for n in d.api("GET", "/api/v1/tree")[1]["children"]
                         if n["name"] != "gen"), 20, what="every runner up")
    api = Api(d)
    hashes = set()
    base = None
    for gen in range(1, RELOADS + 1):
        d.write_config(config(gen))
        status, body = api("POST", "/api/v1/reload", {})
        assert status == 200, (gen, status, body)
        if gen % 50 == 0:
            # The reload applied this very file (not a no-op).
            h = api("GET", "/api/v1/daemon")[1]["config_hash"]
            assert h not in hashes, (gen, h)
            hashes.add(h)
        if gen == BASELINE:
            base = anon_kib(pid)
    end = anon_kib(pid)
    api.close()
    applied = [e for e in d.events() if e.get("type") == "config_applied"]
    assert applied and applied[-1]["changes"]["change"] == ["flip", "gen"], \
        applied[-1:]
    growth = end - base
    print(f"anonymous memory: {base} KiB after {BASELINE} reloads, {end} KiB "
          f"after {RELOADS} (growth {growth} KiB, bound {BOUND_KIB} KiB)")
    assert growth <= BOUND_KIB, (
        f"memory grew by {growth} KiB over {RELOADS - BASELINE} reloads "
        f"({base} -> {end} KiB): replaced configs are kept")
    assert d.stop() == 0
