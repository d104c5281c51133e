"""The HTTP API (issue 4) against a real `tend up` on a free loopback port:
every endpoint, the auth rules, bad input (malformed, oversized, unknown,
wrong method, traversal), idle and silent clients, slow stream clients, and
SSE resume after forced disconnects in the middle of a flood."""

import json
import os
import resource
import signal
import socket
import stat
import subprocess
import time

import pytest

from apihelp import (SSE, free_port, host_port, raw, request, runner_state,
                     status_of, ticker, tree)
from conftest import SLOW, wait_for

AUTHED = [
    ("GET", "/api/v1/tree"),
    ("GET", "/api/v1/daemon"),
    ("GET", "/api/v1/runners/api"),
    ("GET", "/api/v1/groups/dev"),
    ("GET", "/api/v1/runners/api/output"),
    ("GET", "/api/v1/events"),
    ("GET", "/metrics"),
    ("GET", "/"),
    ("GET", "/index.html"),
    ("GET", "/api/v1/nope"),
    ("POST", "/api/v1/runners/api/start"),
    ("POST", "/api/v1/runners/api/stop"),
    ("POST", "/api/v1/runners/api/restart"),
    ("POST", "/api/v1/runners/api/signal"),
    ("POST", "/api/v1/runners/api/watch/resume"),
    ("POST", "/api/v1/groups/dev/restart"),
    ("POST", "/api/v1/reload"),
    ("GET", "/api/v1/runners/api/output/stream"),
    ("GET", "/api/v1/events/stream"),
]

# 300000 lines of 52 bytes (15.6 MB) in bursts of 1000 lines 10 ms apart:
# about 3 s of output, many chunks, no rotation (64 MiB default).
FLOOD_LINES = 300000
FLOOD = ["/usr/bin/python3", "-c",
         "import sys, time\n"
         f"for i in range(1, {FLOOD_LINES} + 1):\n"
         "    sys.stdout.write('line %06d %s\\n' % (i, 'x' * 40))\n"
         "    if i % 1000 == 0:\n"
         "        sys.stdout.flush()\n"
         "        time.sleep(0.01)\n"
         "sys.stdout.flush()\n"
         "time.sleep(100000)\n"]
FLOOD_END = "line %06d %s\n" % (FLOOD_LINES, "x" * 40)


def running(d, name="api"):
    return wait_for(lambda: runner_state(d, name)["state"] in
                    ("running", "ready"), 10, what=f"{name} running")


def api_daemon(tend_factory, *children, **root):
    d = tend_factory(tree(*(children or (ticker("api"),)), **root), http=True)
    d.url()
    return d


def last_chunk(d, name):
    """The newest chunk of a runner's .jsonl, reading only its tail."""
    path = os.path.join(d.state_dir, "output", name + ".jsonl")
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 4 * 1024 * 1024))
            lines = f.read().split(b"\n")
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        if line.strip():
            try:
                return json.loads(line)
            except ValueError:
                return None  # a line being written
    return None


def flood_done(d, name="flood"):
    """True once the flood's last line is in the runner's .jsonl."""
    c = last_chunk(d, name)
    return bool(c) and c.get("data", "").endswith(FLOOD_END)


# --- start-up: daemon.json, token, port errors ------------------------

def test_daemon_json_token_and_banner(tend_factory):
    d = api_daemon(tend_factory)
    info = d.daemon_json()
    host, port = host_port(d)
    assert info["pid"] == d.proc.pid
    assert info["listen"] == f"127.0.0.1:{port}" and port > 0
    assert info["url"] == f"http://127.0.0.1:{port}"
    assert info["ui_url"].startswith(f"http://127.0.0.1:{port}/?code=")
    assert d.token() not in info["ui_url"]
    assert info["config"] == d.config_path
    tok_path = os.path.join(d.state_dir, "token")
    assert stat.S_IMODE(os.stat(tok_path).st_mode) == 0o600
    token = d.token()
    assert len(token) == 64 and all(c in "0123456789abcdef" for c in token)
    wait_for(lambda: f"API on http://127.0.0.1:{port}/" in d.stderr(), 5,
             what="the banner")
    assert f"UI: http://127.0.0.1:{port}/?code=" in d.stderr()
    assert token not in d.stderr()
    # The token is kept across restarts; daemon.json goes at a clean stop.
    assert d.stop() == 0
    assert not os.path.exists(os.path.join(d.state_dir, "daemon.json"))
    d.start()
    wait_for(lambda: d._url_or_none(), 10, what="daemon.json again")
    assert d.token() == token
    assert d.api("GET", "/api/v1/tree")[0] == 200


def test_port_in_use_is_a_clear_error(tend_factory, tmp_path):
    a = api_daemon(tend_factory)
    _, port = host_port(a)
    other = tmp_path / "other"
    other.mkdir()
    b = tend_factory(tree(ticker("x"), http={"listen": f"127.0.0.1:{port}"}),
                     http=True, folder=other)
    code = b.wait_exit()
    assert code != 0
    assert (f"http.listen: 127.0.0.1:{port}: address already in use"
            in b.stderr()), b.stderr()


def test_non_loopback_needs_allow_remote(tend_factory):
    d = tend_factory(tree(ticker("api"), http={"listen": "0.0.0.0:0"}),
                     http=True)
    assert d.wait_exit() != 0
    assert "allow_remote" in d.stderr(), d.stderr()


def test_listen_false_serves_nothing(tend_factory):
    d = tend_factory(tree(ticker("api"), http={"listen": False}), http=True)
    d.wait_transition("api", "running")
    assert not os.path.exists(os.path.join(d.state_dir, "daemon.json"))


# --- auth ---------------------------------------------------------------

def test_healthz_needs_no_token(tend_factory):
    d = api_daemon(tend_factory)
    status, headers, body = request(d, "GET", "/healthz", token=False)
    assert status == 200
    doc = json.loads(body)
    assert doc["ok"] is True
    assert "config" not in doc and "state_dir" not in doc


@pytest.mark.parametrize("token", [None, "wrong", "Basic"])
def test_every_other_request_needs_the_token(tend_factory, token):
    d = api_daemon(tend_factory)
    for method, path in AUTHED:
        headers = {}
        if token == "wrong":
            headers["Authorization"] = "Bearer " + "0" * 64
        elif token == "Basic":
            headers["Authorization"] = "Basic " + d.token()
        status, hdrs, body = request(d, method, path, headers=headers,
                                     token=False)
        assert status == 401, (method, path, status, body)
        assert "error" in json.loads(body)
        assert hdrs.get("www-authenticate", "").startswith("Bearer")
    # Nothing happened to the runner.
    assert runner_state(d, "api")["state"] in ("running", "ready",
                                               "starting")


def test_cookie_login_redirects_and_needs_origin_for_posts(tend_factory):
    d = api_daemon(tend_factory)
    host, port = host_port(d)
    running(d)
    code = d.daemon_json()["ui_url"].split("?code=", 1)[1]
    status, hdrs, _ = request(d, "GET", "/?code=" + code, token=False)
    assert status == 302
    assert hdrs["location"] == "/"
    cookie = hdrs["set-cookie"]
    assert cookie.startswith(f"tend_session_{port}=")
    assert d.token() not in cookie
    for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert attr in cookie
    jar = {"Cookie": cookie.split(";")[0]}

    status, _, _ = request(d, "GET", "/?code=nope", token=False)
    assert status == 401
    assert request(d, "GET", "/api/v1/tree", headers=jar, token=False)[0] \
        == 200
    assert request(d, "GET", "/", headers=jar, token=False)[0] == 200

    run = runner_state(d)["run"]
    # A cookie POST without Origin, or with another site's, is refused.
    for extra in ({}, {"Origin": "http://evil.example"},
                  {"Origin": f"http://127.0.0.1:{port + 1}"}):
        status, _, body = request(d, "POST", "/api/v1/runners/api/restart",
                                  headers={**jar, **extra}, token=False)
        assert status == 403, (extra, body)
    assert runner_state(d)["run"] == run, "a refused POST did nothing"
    status, _, _ = request(
        d, "POST", "/api/v1/runners/api/restart", token=False,
        headers={**jar, "Origin": f"http://127.0.0.1:{port}"})
    assert status == 200
    wait_for(lambda: runner_state(d)["run"] > run, 10, what="restart")


def test_state_changes_are_post_only(tend_factory):
    d = api_daemon(tend_factory)
    for path in ("/api/v1/runners/api/stop", "/api/v1/runners/api/start",
                 "/api/v1/runners/api/restart", "/api/v1/groups/dev/restart",
                 "/api/v1/reload"):
        for method in ("GET", "PUT", "DELETE"):
            status, hdrs, _ = request(d, method, path)
            assert status == 405, (method, path)
            assert hdrs["allow"] == "POST"
    status, hdrs, _ = request(d, "POST", "/api/v1/tree")
    assert status == 405 and "GET" in hdrs["allow"]


# --- endpoints --------------------------------------------------------

def test_tree_runner_group_daemon(tend_factory):
    d = api_daemon(tend_factory, ticker("api"), {"name": "back", "children": [
        ticker("worker")]})
    running(d, "api")
    running(d, "worker")
    status, t = d.api("GET", "/api/v1/tree")
    assert status == 200
    assert t["name"] == "dev" and t["kind"] == "group"
    names = [c["name"] for c in t["children"]]
    assert names == ["api", "back"]
    assert t["children"][1]["children"][0]["name"] == "worker"
    api = t["children"][0]
    assert api["kind"] == "runner" and isinstance(api["pid"], int)
    for key in ("state", "run", "restarts", "last_exit", "since"):
        assert key in api, key

    status, r = d.api("GET", "/api/v1/runners/worker")
    assert status == 200 and r["name"] == "worker" and r["kind"] == "runner"
    status, g = d.api("GET", "/api/v1/groups/back")
    assert status == 200 and g["kind"] == "group"
    assert d.api("GET", "/api/v1/runners/back")[0] == 404
    assert d.api("GET", "/api/v1/groups/api")[0] == 404
    status, body = d.api("GET", "/api/v1/runners/nope")
    assert status == 404 and "error" in body
    status, info = d.api("GET", "/api/v1/daemon")
    assert status == 200 and info["pid"] == d.proc.pid


def test_runner_commands(tend_factory):
    d = api_daemon(tend_factory)
    running(d)
    assert d.api("POST", "/api/v1/runners/api/stop")[0] == 200
    wait_for(lambda: runner_state(d)["state"] == "stopped", 10,
             what="stopped")
    # Signalling a runner with no process conflicts with its state.
    status, body = d.api("POST", "/api/v1/runners/api/signal",
                         {"signal": "HUP"})
    assert status == 409, body
    assert d.api("POST", "/api/v1/runners/api/start")[0] == 200
    running(d)
    run = runner_state(d)["run"]
    assert d.api("POST", "/api/v1/runners/api/restart", {})[0] == 200
    wait_for(lambda: runner_state(d)["run"] > run and
             runner_state(d)["state"] == "running", 10, what="restarted")
    run = runner_state(d)["run"]
    pid = runner_state(d)["pid"]
    # sh dies of SIGHUP; the permanent runner comes back.
    assert d.api("POST", "/api/v1/runners/api/signal",
                 {"signal": "sighup"})[0] == 200
    wait_for(lambda: runner_state(d)["run"] > run, 10, what="HUP restart")
    assert runner_state(d)["last_exit"]["signal"] == "HUP"
    assert runner_state(d)["pid"] != pid

    for body in ({"signal": "NOPE"}, {"signal": 1}, {}, [1]):
        status, resp = d.api("POST", "/api/v1/runners/api/signal", body)
        assert status == 400, (body, resp)
    status, _, _ = request(d, "POST", "/api/v1/runners/api/start",
                           body=b"{not json")
    assert status == 400
    for action in ("start", "stop", "restart"):
        assert d.api("POST", f"/api/v1/runners/nope/{action}")[0] == 404


def test_group_restart(tend_factory):
    d = api_daemon(tend_factory, ticker("a"), ticker("b"))
    running(d, "a")
    running(d, "b")
    runs = {n: runner_state(d, n)["run"] for n in "ab"}
    assert d.api("POST", "/api/v1/groups/dev/restart")[0] == 200
    wait_for(lambda: all(runner_state(d, n)["run"] > runs[n] and
                         runner_state(d, n)["state"] == "running"
                         for n in "ab"), 15, what="both restarted")
    assert d.api("POST", "/api/v1/groups/nope/restart")[0] == 404


def test_reload_applies_or_reports_errors(tend_factory):
    d = api_daemon(tend_factory)
    running(d)
    cfg = dict(d.config)
    cfg["children"] = cfg["children"] + [ticker("extra")]
    d.write_config(cfg)
    assert d.api("POST", "/api/v1/reload")[0] == 200
    running(d, "extra")
    d.write_config(text='{"name": "dev", "children": [\n'
                        '  {"name": "api", "cmd": "x", "restart": "often"}]}')
    status, body = d.api("POST", "/api/v1/reload")
    assert status == 400
    assert body["errors"] and all("tend.json:" in e for e in body["errors"])
    assert any("restart" in e for e in body["errors"])
    assert runner_state(d, "extra")["state"] in ("running", "ready")


def test_watch_resume(tend_factory):
    d = api_daemon(tend_factory, ticker("api", extra={
        "watch": {"paths": ["."], "include": ["*.txt"]}}))
    running(d)
    # Nothing paused the watch (no change at all), so there is nothing to
    # resume: 409, always. The paused case is in test_watch.py.
    status, body = d.api("POST", "/api/v1/runners/api/watch/resume")
    assert status == 409 and "has no paused watch" in body["error"], body
    assert d.api("POST", "/api/v1/runners/nope/watch/resume")[0] == 404


def test_output_pages(tend_factory):
    d = api_daemon(tend_factory, ticker("api", period="0.02"))
    wait_for(lambda: len(d.jsonl("api")) >= 12, 15, what="12 chunks")
    status, page = d.api("GET", "/api/v1/runners/api/output?after=0&limit=5")
    assert status == 200
    assert [c["seq"] for c in page["chunks"]] == [1, 2, 3, 4, 5]
    assert page["next"] == 5 and page["last"] >= 12
    stored = d.jsonl("api")
    assert page["chunks"] == stored[:5], "the API returns what is stored"
    status, page2 = d.api("GET", "/api/v1/runners/api/output?after=5&limit=3")
    assert [c["seq"] for c in page2["chunks"]] == [6, 7, 8]
    status, page3 = d.api("GET", "/api/v1/runners/api/output")
    assert page3["chunks"][0]["seq"] == 1 and len(page3["chunks"]) >= 12
    status, empty = d.api("GET", "/api/v1/runners/api/output?after=999999")
    assert status == 200 and empty["chunks"] == [] and empty["next"] == 999999
    status, big = d.api("GET", "/api/v1/runners/api/output?limit=1000000")
    assert status == 200
    for q in ("after=-1", "after=abc", "limit=0", "limit=x", "after=1.5",
              "after=99999999999999999999999"):
        status, body = d.api("GET", "/api/v1/runners/api/output?" + q)
        assert status == 400, (q, body)
    assert d.api("GET", "/api/v1/runners/nope/output")[0] == 404


def test_events_list(tend_factory):
    d = api_daemon(tend_factory)
    running(d)
    status, page = d.api("GET", "/api/v1/events?after=0&limit=1000")
    assert status == 200
    evs = page["events"]
    assert evs and [e["seq"] for e in evs] == sorted(e["seq"] for e in evs)
    assert any(e["type"] == "state" and e.get("node") == "api" and
               e.get("to") == "running" for e in evs)
    assert page["last"] >= evs[-1]["seq"]
    status, one = d.api("GET", "/api/v1/events?limit=1")
    assert len(one["events"]) == 1 and one["next"] == one["events"][0]["seq"]


def test_metrics(tend_factory):
    d = api_daemon(tend_factory)
    running(d)
    d.api("GET", "/api/v1/runners/nope")
    sse = SSE(d, "/api/v1/events/stream")
    try:
        status, hdrs, body = request(d, "GET", "/metrics")
        text = body.decode()
        assert status == 200
        assert hdrs["content-type"].startswith("text/plain")
        assert 'tend_http_requests_total{code="200"}' in text
        assert 'tend_http_requests_total{code="404"}' in text
        assert "tend_http_sse_subscribers 1" in text
        # The supervision and output families, per runner.
        import re
        assert re.search(r'tend_runner_state\{runner="api",state="running"\} 1',
                         text), text
        assert 'tend_runner_restarts_total{runner="api"}' in text
        assert re.search(r'tend_output_chunks_total\{runner="api"\} [1-9]',
                         text), text
        assert re.search(r'tend_output_bytes_total\{runner="api"\} [1-9]',
                         text), text
        assert 'tend_output_write_failing{runner="api"} 0' in text
        for line in text.splitlines():
            assert line.startswith("#") or len(line.split()) >= 2, line
    finally:
        sse.close()


def test_ui_assets(tend_factory):
    d = api_daemon(tend_factory)
    status, hdrs, body = request(d, "GET", "/")
    assert status == 200
    assert hdrs["content-type"].startswith("text/html")
    assert hdrs["x-content-type-options"] == "nosniff"
    csp = hdrs["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    etag = hdrs["etag"]
    status, hdrs2, body2 = request(d, "GET", "/index.html",
                                   headers={"If-None-Match": etag})
    assert status == 304 and body2 == b""
    status, _, again = request(d, "GET", "/index.html")
    assert status == 200 and again == body
    assert request(d, "GET", "/nope.js")[0] == 404


# --- bad input ----------------------------------------------------------

def test_malformed_and_oversized_requests(tend_factory):
    d = api_daemon(tend_factory)
    tok = d.token()
    garbage = raw(d, b"GARBAGE\r\n\r\n")
    assert garbage == b"" or status_of(garbage) == 400, garbage[:200]
    assert status_of(raw(d, b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n")) \
        in (400, 200)
    big = b"{" + b" " * (70 * 1024) + b"}"
    # Declared too large: refused before the body is read.
    status, _, body = request(d, "POST", "/api/v1/runners/api/start",
                              body=big)
    assert status == 413 and "error" in json.loads(body)
    # Chunked, no length: refused once it passes 64 KiB.
    head = (f"POST /api/v1/runners/api/start HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {tok}\r\nTransfer-Encoding: chunked\r\n"
            f"Connection: close\r\n\r\n").encode()
    body = b""
    for _ in range(20):
        body += b"1000\r\n" + b" " * 0x1000 + b"\r\n"
    body += b"0\r\n\r\n"
    assert status_of(raw(d, head + body)) == 413
    # Exactly at the limit is read and handed on: the runner is running, so
    # the start itself is refused (409), not the body (413).
    running(d)
    ok = b"{" + b" " * (64 * 1024 - 2) + b"}"
    status, _, body = request(d, "POST", "/api/v1/runners/api/start", body=ok)
    assert status == 409 and "already running" in json.loads(body)["error"]
    # Still serving.
    assert d.api("GET", "/api/v1/tree")[0] == 200


def test_unknown_paths_and_names(tend_factory):
    d = api_daemon(tend_factory)
    for path in ("/api/v1/nope", "/api/v2/tree", "/api/v1/tree/",
                 "/api//v1/tree", "/api/v1/runners/api/nope",
                 "/api/v1/runners/api/output/nope", "/x/y/z/a/b/c/d/e/f/g"):
        status, body = d.api("GET", path)
        assert status == 404, (path, status, body)
        assert "error" in body
    for path in ("/api/v1/runners/a%20b", "/api/v1/runners/%C3%A9",
                 "/api/v1/runners/" + "x" * 200):
        assert d.api("GET", path)[0] == 400, path


@pytest.mark.parametrize("path", [
    "/../etc/passwd",
    "/api/v1/../../etc/passwd",
    "/api/v1/runners/../tree",
    "/%2e%2e/etc/passwd",
    "/api/v1/runners/%2e%2e/output",
    "/api/v1/runners/%2E%2E%2F%2E%2E/output",
    "/api/v1/runners/.%2e/start",
    "/api/v1/runners/api%2fstart",
    "/api/v1/runners/api%2Foutput",
    "/api/v1/runners/a%5c..%5cb",
    "/..%2f..%2fsrc%2fmain.c",
    "/index.html/..",
    "/api/v1/runners/a..b",
    "/%zz",
])
def test_path_traversal_is_refused(tend_factory, path):
    d = api_daemon(tend_factory)
    host, port = host_port(d)
    req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
           f"Authorization: Bearer {d.token()}\r\nConnection: close\r\n\r\n")
    resp = raw(d, req.encode())
    assert status_of(resp) == 400, resp[:300]
    assert b"root:" not in resp and b"#include" not in resp
    assert b'"error"' in resp


def test_silent_client_is_timed_out(tend_factory, monkeypatch):
    monkeypatch.setenv("TEND_HTTP_TIMEOUT_S", "2")
    d = api_daemon(tend_factory)
    host, port = host_port(d)
    def sockets():
        # Sockets only: valgrind opens files of its own as it goes.
        out = 0
        for fd in os.listdir(f"/proc/{d.proc.pid}/fd"):
            try:
                out += os.readlink(f"/proc/{d.proc.pid}/fd/{fd}").startswith(
                    "socket:")
            except OSError:
                pass
        return out
    assert d.api("GET", "/api/v1/tree")[0] == 200  # warm: lazy sockets open
    fds_before = sockets()
    socks = [socket.create_connection((host, port)) for _ in range(20)]
    t0 = time.monotonic()
    for s in socks:
        s.settimeout(15 * SLOW)
        assert s.recv(1) == b"", "the daemon closes a silent connection"
    took = time.monotonic() - t0
    assert 1.5 < took < 10 * SLOW, took
    for s in socks:
        s.close()
    wait_for(lambda: sockets() <= fds_before,
             5, what=f"no socket held after the timeout (before: "
             f"{fds_before}, now: {sockets()})")
    # A client that sent half a request is timed out too.
    s = socket.create_connection((host, port))
    s.sendall(b"GET /api/v1/tree HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    s.settimeout(15 * SLOW)
    while s.recv(1024):
        pass  # whatever it says, the connection ends
    s.close()
    assert d.api("GET", "/api/v1/tree")[0] == 200


def test_1000_idle_connections_do_not_starve_others(tend_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    d = api_daemon(tend_factory)
    running(d)
    host, port = host_port(d)
    idle = []
    try:
        # From four addresses: one address may hold 256 connections.
        for i in range(1000):
            idle.append(socket.create_connection(
                (host, port), source_address=(f"127.0.0.{2 + i % 4}", 0)))
        t0 = time.monotonic()
        for _ in range(50):
            assert d.api("GET", "/api/v1/tree")[0] == 200
        took = time.monotonic() - t0
        assert took < 5 * SLOW, f"50 requests took {took:.2f}s"
        sse = SSE(d, "/api/v1/runners/api/output/stream")
        assert sse.status == 200
        sse.pump(lambda s: len(s.events) >= 2, 10)
        sse.close()
    finally:
        for s in idle:
            s.close()
    assert d.api("GET", "/healthz", token=False)[0] == 200


# --- streams --------------------------------------------------------------

def test_output_stream_live_and_resume(tend_factory):
    d = api_daemon(tend_factory, ticker("api", period="0.05"))
    wait_for(lambda: len(d.jsonl("api")) >= 5, 10, what="5 chunks")
    sse = SSE(d, "/api/v1/runners/api/output/stream")
    assert sse.status == 200
    assert sse.headers["content-type"] == "text/event-stream"
    sse.pump(lambda s: len(s.events) >= 3, 10)
    first = int(sse.events[0][0])
    assert first > 5, "without Last-Event-ID the stream starts live"
    ids = [int(i) for i, _ in sse.events]
    assert ids == list(range(first, first + len(ids)))
    for i, data in sse.events:
        assert json.loads(data)["seq"] == int(i)
    assert sse.retry == 1000
    sse.close()

    # ?after=0: from the start; the stored objects, in order.
    sse = SSE(d, "/api/v1/runners/api/output/stream?after=0")
    sse.pump(lambda s: len(s.events) >= 8, 10)
    assert sse.items()[:5] == d.jsonl("api")[:5]
    sse.close()
    # Last-Event-ID wins over ?after.
    sse = SSE(d, "/api/v1/runners/api/output/stream?after=0",
              last_event_id=4)
    sse.pump(lambda s: len(s.events) >= 1, 10)
    assert int(sse.events[0][0]) == 5
    sse.close()
    assert SSE(d, "/api/v1/runners/nope/output/stream").status == 404
    assert SSE(d, "/api/v1/runners/api/output/stream",
               last_event_id="x").status == 400


def test_events_stream(tend_factory):
    d = api_daemon(tend_factory)
    running(d)
    sse = SSE(d, "/api/v1/events/stream")
    assert sse.status == 200
    assert d.api("POST", "/api/v1/runners/api/restart")[0] == 200
    sse.pump(lambda s: any(e.get("node") == "api" and e.get("to") == "running"
                           for e in s.items()), 10)
    seen = [int(i) for i, _ in sse.events]
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    sse.close()
    stored = d.events()
    by_seq = {e["seq"]: e for e in stored}
    for item in sse.items():
        assert by_seq[item["seq"]] == item
    # Resume from the middle: exactly what followed, from disk.
    mid = seen[0]
    sse = SSE(d, "/api/v1/events/stream", last_event_id=mid - 1)
    sse.pump(lambda s: len(s.events) >= len(seen), 10)
    assert [int(i) for i, _ in sse.events][:len(seen)] == seen
    sse.close()


def test_sse_resume_after_forced_disconnects_in_a_flood(tend_factory):
    d = api_daemon(tend_factory, {"name": "flood", "cmd": FLOOD})
    got = []
    cuts = 0
    cut_during_flood = False
    final = None
    deadline = time.monotonic() + 180 * SLOW
    while True:
        assert time.monotonic() < deadline, f"{len(got)} chunks, {cuts} cuts"
        last = got[-1]["seq"] if got else 0
        sse = SSE(d, "/api/v1/runners/flood/output/stream",
                  last_event_id=last, timeout=20)
        assert sse.status == 200

        def enough(s):
            return len(s.events) >= 4 or (
                final is not None and s.events and
                int(s.events[-1][0]) >= final)
        try:
            sse.pump(enough, 5)
        except AssertionError:
            pass  # the flood is over and little is left: cut anyway
        if not flood_done(d):
            cut_during_flood = True
        sse.cut()  # a forced disconnect (RST) in the middle of the stream
        cuts += 1
        got.extend(sse.items())
        if final is None and flood_done(d):
            final = last_chunk(d, "flood")["seq"]
        if final is not None and got and got[-1]["seq"] >= final:
            break
    stored = d.jsonl("flood")
    assert cut_during_flood, "the flood was over before the first cut"
    print(f"flood: {len(got)} chunks over {cuts} connections")
    assert cuts >= 3, cuts
    assert [c["seq"] for c in got] == [c["seq"] for c in stored]
    assert got == stored
    text = "".join(c.get("data", "") for c in got if c["stream"] == "stdout")
    assert text == "".join(c.get("data", "") for c in stored
                           if c["stream"] == "stdout")
    assert text.endswith(FLOOD_END)
    assert text.count("\n") == FLOOD_LINES


def test_a_stream_client_that_stops_reading(tend_factory):
    d = api_daemon(tend_factory, {"name": "flood", "cmd": FLOOD},
                   ticker("api", period="0.05"))
    host, port = host_port(d)
    # The stuck client: a tiny receive buffer, never reads.
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect((host, port))
    stuck.sendall((f"GET /api/v1/runners/flood/output/stream?after=0 "
                   f"HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                   f"{d.token()}\r\n\r\n").encode())
    try:
        # Another stream client gets everything, in order, while the
        # stuck one sits there.
        live = SSE(d, "/api/v1/runners/flood/output/stream?after=0",
                   timeout=30)
        live.pump(lambda s: s.events and flood_done(d) and
                  int(s.events[-1][0]) >= last_chunk(d, "flood")["seq"], 120)
        assert live.items() == d.jsonl("flood")
        live.close()
        # The API answers promptly and other runners keep going.
        t0 = time.monotonic()
        assert d.api("GET", "/api/v1/tree")[0] == 200
        assert time.monotonic() - t0 < 2 * SLOW
        n = len(d.jsonl("api"))
        wait_for(lambda: len(d.jsonl("api")) > n + 3, 10,
                 what="the ticker keeps writing")
    finally:
        stuck.close()
    assert d.api("GET", "/healthz", token=False)[0] == 200


def test_shutdown_ends_streams_cleanly(tend_factory):
    d = api_daemon(tend_factory)
    running(d)
    url = d.url()
    curl = subprocess.Popen(
        ["curl", "-sN", "-H", "Authorization: Bearer " + d.token(),
         url + "/api/v1/events/stream"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: "tend_http_sse_subscribers 1" in
             request(d, "GET", "/metrics")[2].decode(), 5,
             what="the stream registered")
    assert d.stop() == 0
    out, err = curl.communicate(timeout=10 * SLOW)
    assert curl.returncode == 0, (curl.returncode, err)
    assert b"retry: 1000" in out


def test_output_stream_ends_when_its_runner_is_removed(tend_factory):
    d = api_daemon(tend_factory, ticker("api"), ticker("gone"))
    running(d, "gone")
    sse = SSE(d, "/api/v1/runners/gone/output/stream", timeout=30)
    sse.pump(lambda s: len(s.events) >= 2, 10)
    cfg = dict(d.config)
    cfg["children"] = [c for c in cfg["children"] if c["name"] != "gone"]
    d.write_config(cfg)
    assert d.api("POST", "/api/v1/reload")[0] == 200
    wait_for(lambda: d.api("GET", "/api/v1/runners/gone")[0] == 404, 10,
             what="gone is removed")
    # The stream ends by itself, at the latest one heartbeat (15 s) later.
    sse.pump(lambda s: s.ended, 25)
    sse.close()
