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
import subprocess
import sys

import pytest

from conftest import SLOW, TEND_BIN, chunk_bytes, free_port, lines, wait_for


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
         "ready": {"exec": "echo check >> checks; sleep 0.2; test -e go",
                   "timeout_s": 30}},
        {"name": "b", "cmd": "sleep 1000"}]})
    # A second check has begun: the first one failed and was reaped.
    wait_for(lambda: len(lines(d.path("checks"))) >= 2, 20,
             what="a second readiness check")
    assert not started(d, "b")
    open(d.path("go"), "w").close()
    d.wait_transition("a", "ready", timeout=20)
    d.wait_transition("b", "running")


@pytest.mark.parametrize("kind, ready", [
    ("exec", {"exec": "exit 1"}),
    ("log", {"log": "^listening$"})])
def test_ready_timeout_counts_as_a_failed_start(tend_factory, kind, ready):
    d = tend_factory({"name": "r",
                      "intensity": {"max_restarts": 1, "period_s": 60},
                      "children": [
        {"name": "a", "cmd": "echo starting up; exec sleep 1000",
         "backoff": {"initial_ms": 100},
         "ready": dict(ready, timeout_s=0.5)},
        {"name": "b", "cmd": "sleep 1000"}]})
    d.wait_transition("a", "exited", count=2, timeout=30)
    ex = [t for t in d.transitions("a") if t[3] == "exited"]
    want = f"readiness check ({kind}) timed out after 0.5 s"
    assert ex[0][4].startswith(want), ex
    d.wait_transition("r", "failed", timeout=30)
    assert not started(d, "b")
    assert d.stop() == 0


# --- ready.log -----------------------------------------------------------

def test_ready_log_gates_the_dependant(tend_factory):
    d = tend_factory({"name": "r", "children": [
        {"name": "a", "cmd": "echo booting; echo 'ready in soon ms'; "
                             "while [ ! -e go ]; do sleep 0.05; done; "
                             "echo 'ready in 12 ms'; exec sleep 1000",
         "ready": {"log": "ready in [0-9]+ ms", "timeout_s": 30}},
        {"name": "b", "cmd": "sleep 1000"}]})
    # Lines that do not match (the second one almost does) are on record,
    # and the dependant still waits.
    wait_for(lambda: "ready in soon ms" in d.output_lines("a"), 20,
             what="a's first lines")
    assert not [t for t in d.transitions("a") if t[3] == "ready"]
    assert not started(d, "b")
    open(d.path("go"), "w").close()
    d.wait_transition("a", "ready", timeout=20)
    d.wait_transition("b", "running")
    ready = [t for t in d.transitions("a") if t[3] == "ready"][0]
    assert ready[4] == "log line matched", ready
    order = [(t[0], t[3]) for t in d.transitions() if t[0] in ("a", "b")]
    assert order.index(("a", "ready")) < order.index(("b", "starting"))
    # The terminal shows the matching line before b's start (the terminal
    # may print b's start a moment after the event log has it).
    wait_for(lambda: "b: stopped --start-->" in d.stdout(), 20,
             what="b's start on the terminal")
    out = d.stdout().splitlines()
    line = [i for i, l in enumerate(out) if l.endswith("| ready in 12 ms")]
    start = [i for i, l in enumerate(out) if "b: stopped --start-->" in l]
    assert line and start and line[0] < start[0], d.stdout()


# --- ready.http ----------------------------------------------------------

def http_server(port, folder="www"):
    """A python http.server on port serving folder (relative to cwd)."""
    return ["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1",
            "--directory", folder]


def test_ready_http_gates_the_dependant(tend_factory, tmp_path):
    port = free_port()
    os.makedirs(tmp_path / "www")
    d = tend_factory({"name": "r", "children": [
        {"name": "web", "cmd": http_server(port),
         "ready": {"http": f"http://127.0.0.1:{port}/health",
                   "status": [200, 204], "timeout_s": 60}},
        {"name": "app", "cmd": "sleep 1000"}]}, http=True)
    # The server answers 404 until the file exists: not ready, and why.
    # (Refused connections first, while the server starts.)
    why = wait_for(lambda: "answered 404" in (d.api(
        "GET", "/api/v1/runners/web")[1].get("waiting") or "") and
        d.api("GET", "/api/v1/runners/web")[1]["waiting"], 20,
        what="a waiting reason")
    assert why == f"GET http://127.0.0.1:{port}/health answered 404", why
    # A later check answered 404 too (the server logs each request), and
    # the dependant still waits.
    wait_for(lambda: sum(b'"GET /health HTTP/1.1" 404' in chunk_bytes(c)
                         for c in d.jsonl("web")) >= 2, 20,
             what="a second 404")
    assert not started(d, "app")
    (tmp_path / "www" / "health").write_text("ok\n")
    d.wait_transition("web", "ready", timeout=20)
    d.wait_transition("app", "running")
    ready = [t for t in d.transitions("web") if t[3] == "ready"][0]
    assert "answered 200" in ready[4], ready
    assert "waiting" not in d.api("GET", "/api/v1/runners/web")[1]


# --- health --------------------------------------------------------------

def runner_json(d, name):
    st, body = d.api("GET", f"/api/v1/runners/{name}")
    assert st == 200, body
    return body


def test_http_health_restarts_an_unhealthy_runner(tend_factory, tmp_path):
    port = free_port()
    os.makedirs(tmp_path / "www")
    (tmp_path / "www" / "health").write_text("ok\n")
    d = tend_factory({"name": "r", "children": [
        {"name": "web", "cmd": http_server(port),
         "backoff": {"initial_ms": 100},
         "health": {"http": f"http://127.0.0.1:{port}/health",
                    "every_s": 0.2, "timeout_s": 2, "failures": 3,
                    "initial_delay_s": 1 * SLOW}}]},
        http=True)
    # (The first checks may come before the server listens.)
    h = wait_for(lambda: (runner_json(d, "web").get("health") or {})
                 .get("state") == "ok" and runner_json(d, "web")["health"],
                 20, what="a passing check")
    # tend status --json shows the same.
    r = subprocess.run([TEND_BIN, "status", "--json", "-c", d.config_path],
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 0, r.stderr
    web = json.loads(r.stdout)["children"][0]
    assert web["health"]["state"] == "ok", web
    run = runner_json(d, "web")["run"]

    (tmp_path / "www" / "health").unlink()
    d.wait_transition("web", "exited", timeout=30)
    ex = [t for t in d.transitions("web") if t[3] == "exited"][0]
    assert ex[4].startswith("unhealthy: GET http://127.0.0.1:"), ex
    assert "answered 404 (3 failed checks in a row)" in ex[4], ex
    failed = [e for e in events_of(d, "health_failed")
              if "404" in e["error"]]
    assert [e["failures"] for e in failed[:2]] == [1, 2], failed
    assert failed[0]["of"] == 3 and "404" in failed[0]["error"]
    assert events_of(d, "unhealthy")[0]["failures"] == 3
    # It counts as a crash: restarted by its (permanent) policy.
    wait_for(lambda: runner_json(d, "web")["run"] > run, 20,
             what="a restart")
    last = runner_json(d, "web")["last_exit"]
    assert last["reason"].startswith("unhealthy: "), last
    # While the new run fails its checks, the tree says so.
    h = wait_for(lambda: "404" in ((runner_json(d, "web").get("health")
                                    or {}).get("last_error") or "") and
                 runner_json(d, "web")["health"], 20, what="failing")
    assert h["state"] in ("failing", "unhealthy"), h
    assert h["of"] == 3 and "404" in h["last_error"], h
    # A file back in place: healthy again, and restarts stop.
    (tmp_path / "www" / "health").write_text("ok\n")
    wait_for(lambda: (runner_json(d, "web").get("health") or {})
             .get("state") == "ok", 20, what="ok again")
    assert d.stop() == 0


def test_tcp_health_on_the_runners_own_port(tend_factory):
    port = free_port()
    # Listens until the file 'close' appears, then closes its socket but
    # keeps running. The first check waits for python to start.
    server = ("import os,socket,time; s=socket.socket(); "
              "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
              f"s.bind(('127.0.0.1', {port})); s.listen(); "
              "[time.sleep(0.05) for _ in iter(lambda: os.path.exists("
              "'close'), True)]; s.close(); time.sleep(1000)")
    d = tend_factory({"name": "r", "children": [
        {"name": "db", "cmd": ["python3", "-c", server],
         "backoff": {"initial_ms": 100},
         "health": {"tcp": port, "every_s": 0.2, "timeout_s": 1,
                    "failures": 2, "initial_delay_s": 2 * SLOW}}]},
        http=True)
    wait_for(lambda: (runner_json(d, "db").get("health") or {})
             .get("state") == "ok", 20, what="ok")
    assert not [t for t in d.transitions("db") if t[3] == "exited"]
    open(d.path("close"), "w").close()
    d.wait_transition("db", "exited", timeout=30)
    ex = [t for t in d.transitions("db") if t[3] == "exited"][0]
    assert ex[4].startswith(f"unhealthy: tcp port {port}: "), ex
    assert "2 failed checks in a row" in ex[4]
    d.wait_transition("db", "starting", count=2, timeout=20)


def test_tcp_health_fails_on_a_port_another_process_holds(tend_factory):
    port = free_port()
    other = holder(port)
    try:
        d = tend_factory({"name": "r", "children": [
            {"name": "db", "cmd": "sleep 1000",
             "health": {"tcp": port, "every_s": 0.2, "failures": 2}}]})
        d.wait_transition("db", "exited", timeout=30)
        ex = [t for t in d.transitions("db") if t[3] == "exited"][0]
        assert f"port {port} is held by another process (pid {other.pid}" \
            in ex[4], ex
    finally:
        other.kill()
        other.wait()


def test_exec_health_failure_and_timeout(tend_factory, tmp_path):
    # 'ok' present: passes; 'hang' present: the command hangs past its
    # timeout and is killed, with its whole group (the sleep too).
    check = ("test -e hang && { sleep 1000 & echo $! > sleeper.pid; wait; }; "
             "test -e ok")
    (tmp_path / "ok").write_text("")
    d = tend_factory({"name": "r", "children": [
        {"name": "w", "cmd": "sleep 1000", "backoff": {"initial_ms": 100},
         "health": {"exec": check, "every_s": 0.2, "timeout_s": 0.5,
                    "failures": 2}}]}, http=True)
    wait_for(lambda: (runner_json(d, "w").get("health") or {})
             .get("state") == "ok", 20, what="ok")
    (tmp_path / "hang").write_text("")
    d.wait_transition("w", "exited", timeout=30)
    ex = [t for t in d.transitions("w") if t[3] == "exited"][0]
    assert ex[4] == ("unhealthy: health command timed out after 0.5 s "
                     "(2 failed checks in a row)"), ex
    pid = int(wait_for(lambda: open(tmp_path / "sleeper.pid").read().strip(),
                       10))
    from conftest import pid_alive
    wait_for(lambda: not pid_alive(pid), 10, what="the probe's sleep killed")
    # A plain non-zero exit is a failure too.
    os.unlink(tmp_path / "hang")
    os.unlink(tmp_path / "ok")
    d.wait_transition("w", "exited", count=2, timeout=30)
    ex = [t for t in d.transitions("w") if t[3] == "exited"][1]
    assert ex[4] == ("unhealthy: health command exited with status 1 "
                     "(2 failed checks in a row)"), ex


def test_health_initial_delay_and_stop(tend_factory):
    # No check before initial_delay_s; after it, the first failure ends
    # the run (failures: 1).
    d = tend_factory({"name": "r", "children": [
        {"name": "w", "cmd": "sleep 1000",
         "health": {"exec": "exit 1", "every_s": 0.1, "failures": 1,
                    "initial_delay_s": 2}}]}, http=True)
    d.wait_transition("w", "running")
    d.wait_transition("w", "exited", timeout=20)
    # The first failed check came no earlier than initial_delay_s after
    # the start (the event log's times, not a wait of the test's).
    running = [e for e in d.events() if e.get("type") == "state" and
               e.get("node") == "w" and e.get("to") == "running"][0]
    failed = [e for e in d.events()
              if e.get("type") in ("health_failed", "unhealthy") and
              e.get("node") == "w"]
    assert failed, d.events()
    assert failed[0]["ts"] - running["ts"] >= 1900, (running, failed[0])
    assert "unhealthy" in [t for t in d.transitions("w")
                           if t[3] == "exited"][0][4]
    assert d.stop() == 0
