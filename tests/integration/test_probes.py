"""Readiness and liveness probes (issue 11, items 3 and 4).

Every probe is checked against real processes: a tcp readiness check that
must not be fooled by a port another process holds, HTTP readiness, and
liveness probes (http, tcp, exec) that restart a runner that stops
answering. Waits poll with generous bounds; the negative checks ("the
dependant never starts") watch for a fixed window long enough for several
restarts of the failing runner.
"""

import json
import os
import socket
import subprocess
import sys
import time

from conftest import SLOW, TEND_BIN, wait_for


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def lines(path):
    try:
        with open(path) as f:
            return [l.rstrip("\n") for l in f if l.strip()]
    except FileNotFoundError:
        return []


def holder(port):
    """A python process (not tend's child) that listens on port."""
    code = ("import socket,sys,time; s=socket.socket(); "
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
            f"s.bind(('127.0.0.1', {port})); s.listen(); "
            "print('listening', flush=True); time.sleep(600)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "listening"
    return p


def events_of(d, type_):
    return [e for e in d.events() if e.get("type") == type_]


def started(d, node):
    return any(t[0] == node and t[3] in ("starting", "running", "ready")
               for t in d.transitions())


# --- ready.tcp: the listener must be the runner's own ---------------------

def test_ready_tcp_ignores_a_port_held_by_another_process(tend_factory):
    port = free_port()
    other = holder(port)
    try:
        d = tend_factory({"name": "r",
                          "intensity": {"max_restarts": 100, "period_s": 10},
                          "children": [
            {"name": "web", "cmd": ["python3", "-m", "http.server", str(port),
                                    "--bind", "127.0.0.1"],
             "backoff": {"initial_ms": 100, "max_ms": 200},
             "ready": {"tcp": port, "timeout_s": 30}},
            {"name": "app", "cmd": "sleep 1000"}]})
        # http.server fails with EADDRINUSE and is restarted; it must
        # never be reported ready, and app must never start.
        d.wait_transition("web", "exited", count=3, timeout=30)
        assert not [t for t in d.transitions("web") if t[3] == "ready"], \
            d.stdout()[-3000:]
        assert not started(d, "app"), d.stdout()[-3000:]
    finally:
        other.kill()
        other.wait()


def test_ready_tcp_waits_and_names_the_holder(tend_factory):
    port = free_port()
    other = holder(port)
    try:
        # A runner that stays up but listens elsewhere: the check keeps
        # waiting and says who holds the port.
        d = tend_factory({"name": "r", "children": [
            {"name": "web", "cmd": "sleep 1000",
             "ready": {"tcp": port, "timeout_s": 60}},
            {"name": "app", "cmd": "sleep 1000"}]}, http=True)

        def waiting():
            st, body = d.api("GET", "/api/v1/runners/web")
            return st == 200 and body.get("waiting")
        why = wait_for(waiting, 20, what="a waiting reason")
        assert f"port {port} is held by another process" in why, why
        assert f"pid {other.pid}" in why, why
        assert "python" in why, why
        ev = wait_for(lambda: events_of(d, "ready_waiting"), 10)
        assert f"port {port}" in ev[0]["reason"], ev
        assert not started(d, "app")
        # Once the other process lets go and nobody of ours listens, the
        # reason changes; the runner is still not ready.
        other.kill()
        other.wait()
        why = wait_for(lambda: (waiting() or "") if "held" not in
                       (waiting() or "held") else None, 20,
                       what="the reason to change")
        assert "held" not in why
        assert d.api("GET", "/api/v1/runners/web")[1]["state"] == "starting"
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()


def test_ready_tcp_happy_path(tend_factory):
    port = free_port()
    d = tend_factory({"name": "r", "children": [
        {"name": "web", "cmd": ["python3", "-m", "http.server", str(port),
                                "--bind", "127.0.0.1"],
         "ready": {"tcp": port, "timeout_s": 30}},
        {"name": "app", "cmd": "sleep 1000"}]})
    d.wait_transition("web", "ready", timeout=30)
    d.wait_transition("app", "running")
    ready = [t for t in d.transitions("web") if t[3] == "ready"][0]
    assert f"tcp port {port} accepts" in ready[4]


def test_ready_tcp_through_a_shell_wrapper(tend_factory):
    # cmd as a string runs under sh -c; the server is sh's child, in the
    # same process group, so its socket counts as the runner's.
    port = free_port()
    d = tend_factory({"name": "r", "children": [
        {"name": "web",
         "cmd": f"echo wrapper; python3 -m http.server {port} "
                f"--bind 127.0.0.1; echo done",
         "ready": {"tcp": port, "timeout_s": 30}},
        {"name": "app", "cmd": "sleep 1000"}]})
    d.wait_transition("web", "ready", timeout=30)
    d.wait_transition("app", "running")


def test_ready_tcp_shell_wrapper_with_the_port_taken(tend_factory):
    port = free_port()
    other = holder(port)
    try:
        d = tend_factory({"name": "r", "children": [
            {"name": "web",
             "cmd": f"python3 -m http.server {port} --bind 127.0.0.1; "
                    f"sleep 1000",
             "ready": {"tcp": port, "timeout_s": 60}},
            {"name": "app", "cmd": "sleep 1000"}]}, http=True)
        why = wait_for(lambda: d.api("GET", "/api/v1/runners/web")[1]
                       .get("waiting"), 20, what="a waiting reason")
        assert "held by another process" in why
        assert not started(d, "app")
    finally:
        other.kill()
        other.wait()


# --- ready.exec --------------------------------------------------------

def test_ready_exec_passes(tend_factory):
    # The probe's child must be reaped by libuv, not by the subreaper's
    # orphan reaping (which took it, and the check then never ended).
    d = tend_factory({"name": "r", "children": [
        {"name": "a", "cmd": "sleep 1000",
         "ready": {"exec": "sleep 0.2; test -e go", "timeout_s": 30}},
        {"name": "b", "cmd": "sleep 1000"}]})
    time.sleep(0.5)
    open(d.path("go"), "w").close()
    d.wait_transition("a", "ready", timeout=20)
    d.wait_transition("b", "running")


def test_ready_timeout_counts_as_a_failed_start(tend_factory):
    d = tend_factory({"name": "r",
                      "intensity": {"max_restarts": 1, "period_s": 60},
                      "children": [
        {"name": "a", "cmd": "sleep 1000",
         "backoff": {"initial_ms": 100},
         "ready": {"exec": "exit 1", "timeout_s": 0.5}},
        {"name": "b", "cmd": "sleep 1000"}]})
    d.wait_transition("a", "exited", count=2, timeout=30)
    ex = [t for t in d.transitions("a") if t[3] == "exited"]
    assert "timed out" in ex[0][4], ex
    d.wait_transition("r", "failed", timeout=30)
    assert not started(d, "b")
    assert d.stop() == 0
