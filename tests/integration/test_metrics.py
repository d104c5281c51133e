"""GET /metrics (issue 11, item 12) on a real daemon with runners, groups
and a watch: `promtool check metrics` accepts it with no lint problem, and
the families say what happened (a crash counts as a restart of the runner
and of its group, a watch's fires and its loop-guard pause are counted,
the daemon's own process_* numbers are sane).

promtool comes from Debian's `prometheus` package, which `make test`
installs (scripts/deps.sh); without it the test fails.
"""

import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import SLOW, wait_for
from test_output import SSE

PROMTOOL = shutil.which("promtool") or (
    "/usr/bin/promtool" if os.path.exists("/usr/bin/promtool") else None)

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

# Fails on its first run only (a marker file remembers), then stays up.
FLAKY = r"""
import os, sys, time
if not os.path.exists("crashed-once"):
    open("crashed-once", "w").close()
    print("crashing once", flush=True)
    sys.exit(1)
print("up", flush=True)
while True:
    time.sleep(1000)
"""


def scrape(d):
    status, text = d.api("GET", "/metrics")
    assert status == 200, (status, text)
    assert isinstance(text, str), "metrics must be text, not JSON"
    return text


def parse(text):
    """{family: {"help", "type", "samples": {(name, labels): value}}},
    checking the layout on the way: HELP and TYPE before the samples of
    every family, each family in one block."""
    families, order, current = {}, [], None
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, name, rest = line[2:6], *line[7:].split(" ", 1)
            fam = families.setdefault(name, {"samples": {}})
            assert kind.lower() not in fam, f"second {kind} for {name}"
            fam[kind.lower()] = rest
            if name != current:
                assert name not in order, f"{name} comes back: {line}"
                order.append(name)
                current = name
            continue
        assert not line.startswith("#"), line
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.groups()
        assert name == current, f"{name} outside its family block"
        key = (name, tuple(LABEL.findall(labels or "")))
        assert key not in families[name]["samples"], f"duplicate: {line}"
        families[name]["samples"][key] = float(value)
    for name, fam in families.items():
        assert "help" in fam and "type" in fam, f"{name}: no HELP or TYPE"
        if fam["type"] == "counter":
            assert name.endswith("_total"), f"counter {name} without _total"
        else:
            assert not name.endswith("_total"), f"{fam['type']} {name}"
    return families


def value(fams, name, **labels):
    fam = fams.get(name)
    assert fam, f"no family {name}"
    key = (name, tuple(labels.items()))
    assert key in fam["samples"], (key, list(fam["samples"])[:10])
    return fam["samples"][key]


def daemon(tend_factory):
    d = tend_factory({
        "name": "root",
        "children": [
            {"name": "web", "cmd": ["python3", "-u", "flaky.py"],
             "backoff": {"initial_ms": 50}},
            {"name": "team", "children": [
                {"name": "watched.1", "cmd": ["sleep", "1000"],
                 "watch": {"paths": ["src"], "debounce_ms": 50,
                           "loop_limit": {"max_restarts": 1,
                                          "period_s": 600,
                                          "follow_ms": 600000}}}]}]},
        files={"flaky.py": FLAKY, "src/keep.txt": "x\n"}, http=True)
    d.url()
    return d


def test_metrics_pass_promtool_and_count_what_happened(tend_factory):
    d = daemon(tend_factory)
    # web crashed once and runs again: one restart, of web and of root.
    wait_for(lambda: value(parse(scrape(d)), "tend_runner_state",
                           runner="web", state="running") == 1 and
             value(parse(scrape(d)), "tend_runner_restarts_total",
                   runner="web") == 1, 30,
             what="web running after one restart")
    wait_for(lambda: value(parse(scrape(d)), "tend_runner_state",
                           runner="watched.1", state="running") == 1, 20,
             what="watched.1 running")
    fams = parse(scrape(d))
    assert value(fams, "tend_group_restarts_total", group="root") == 1
    assert value(fams, "tend_group_restarts_total", group="team") == 0
    assert value(fams, "tend_group_state", group="team", state="running") == 1
    assert sum(v for (n, l), v in fams["tend_group_state"]["samples"].items()
               if dict(l)["group"] == "team") == 1, "one state at a time"
    assert value(fams, "tend_watch_fires_total", runner="watched.1") == 0
    assert value(fams, "tend_watch_pauses_total", runner="watched.1") == 0
    assert ("tend_watch_fires_total", (("runner", "web"),)) not in \
        fams["tend_watch_fires_total"]["samples"], "web has no watch"

    # Two bursts of changes, each "following" a start of the runner (the
    # test stretches follow_ms so that timing cannot matter): the first
    # fires, the second is one more than max_restarts in a row: paused
    # instead of fired.
    with open(d.path("src", "a.txt"), "w") as f:
        f.write("1\n")
    wait_for(lambda: value(parse(scrape(d)), "tend_watch_fires_total",
                           runner="watched.1") == 1, 20, what="one fire")
    with open(d.path("src", "b.txt"), "w") as f:
        f.write("2\n")
    wait_for(lambda: value(parse(scrape(d)), "tend_watch_pauses_total",
                           runner="watched.1") == 1, 20, what="a pause")
    fams = parse(scrape(d))
    assert value(fams, "tend_watch_fires_total", runner="watched.1") == 1

    # The daemon itself.
    fams = parse(scrape(d))
    status, health = d.api("GET", "/healthz")
    assert value(fams, "tend_build_info", version=health["version"]) == 1
    now = time.time()
    start = value(fams, "process_start_time_seconds")
    assert now - 600 * SLOW < start <= now + 1, (start, now)
    assert value(fams, "process_cpu_seconds_total") >= 0
    assert value(fams, "process_resident_memory_bytes") > 1 << 20
    assert value(fams, "process_virtual_memory_bytes") >= \
        value(fams, "process_resident_memory_bytes")
    fds = value(fams, "process_open_fds")
    assert 3 <= fds <= len(os.listdir(f"/proc/{d.proc.pid}/fd")) + 10, fds
    assert value(fams, "process_max_fds") >= fds
    assert value(fams, "tend_events_total") >= 10
    assert value(fams, "tend_output_chunks_total", runner="web") >= 3
    assert value(fams, "tend_output_bytes_total", runner="web") > 0
    assert value(fams, "tend_output_first_seq", runner="web") == 1
    assert value(fams, "tend_output_write_failing", runner="web") == 0
    assert value(fams, "tend_output_backlog_bytes", runner="web") == 0

    # HTTP streams versus internal subscriptions: no stream open, then one.
    assert value(fams, "tend_http_sse_subscribers") == 0
    internal = value(fams, "tend_pubsub_subscriptions")
    sse = SSE(d, "/api/v1/runners/web/output/stream")
    try:
        fams = parse(scrape(d))
        assert value(fams, "tend_http_sse_subscribers") == 1
        assert value(fams, "tend_pubsub_subscriptions") == internal + 1
    finally:
        sse.close()
    wait_for(lambda: value(parse(scrape(d)), "tend_http_sse_subscribers")
             == 0, 60, what="the stream closed")

    # What a Prometheus server would say about it.
    text = scrape(d)
    assert value(parse(text), "tend_http_requests_total", code="200") > 5
    assert PROMTOOL, ("promtool not found: scripts/deps.sh installs Debian's "
                      "`prometheus` package, which provides it")
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stdout.strip() and \
        not r.stderr.strip(), (
            f"promtool check metrics: exit {r.returncode}\n{r.stdout}\n"
            f"{r.stderr}\n--- the metrics:\n{text}")


def test_metrics_need_the_token(tend_factory):
    d = daemon(tend_factory)
    status, _ = d.api("GET", "/metrics", token=False)
    assert status == 401
