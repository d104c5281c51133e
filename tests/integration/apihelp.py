"""Helpers for the HTTP API and CLI tests (issue 4): raw requests, an SSE
client that can be cut off at will, and config builders. Standard library
only; the daemon itself comes from conftest.tend_factory."""

import http.client
import json
import os
import socket
import subprocess
import time

from conftest import SLOW, TEND_BIN


def ticker(name, period="0.1", extra=None):
    """A runner that prints 'tick N' every period seconds."""
    node = {"name": name,
            "cmd": f"i=0; while true; do i=$((i+1)); echo \"tick $i\"; "
                   f"sleep {period}; done"}
    node.update(extra or {})
    return node


def tree(*children, **root):
    """A root group "dev" with children, on a free loopback port."""
    cfg = {"name": "dev", "children": list(children),
           "http": {"listen": "127.0.0.1:0"}}
    cfg.update(root)
    return cfg


def free_port():
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def host_port(d):
    """(host, port) of a daemon, from daemon.json."""
    d.url()
    host, port = d.daemon_json()["listen"].rsplit(":", 1)
    return host, int(port)


def request(d, method, path, body=None, headers=None, token=True,
            timeout=10.0):
    """One request over http.client (no redirects followed, path sent as
    is). Returns (status, headers dict lower-cased, body bytes)."""
    host, port = host_port(d)
    conn = http.client.HTTPConnection(host, port, timeout=timeout * SLOW)
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = "Bearer " + d.token()
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    out = {k.lower(): v for k, v in resp.getheaders()}
    conn.close()
    return resp.status, out, data


def raw(d, data, timeout=10.0):
    """Sends raw bytes and returns everything read until the server closes
    the connection or the timeout passes."""
    host, port = host_port(d)
    s = socket.create_connection((host, port), timeout=timeout * SLOW)
    s.sendall(data)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got and _complete(got):
                break
    except socket.timeout:
        pass
    s.close()
    return got


def _complete(resp):
    """True when a raw response with Content-Length is fully read."""
    head, _, body = resp.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def status_of(resp):
    """The status code of a raw response."""
    return int(resp.split(b" ", 2)[1])


class SSE:
    """A Server-Sent Events client over http.client that parses events as
    they come and can be cut off abruptly (a forced disconnect)."""

    def __init__(self, d, path, last_event_id=None, token=True,
                 timeout=10.0, headers=None):
        host, port = host_port(d)
        self.conn = http.client.HTTPConnection(host, port,
                                               timeout=timeout * SLOW)
        hdrs = {"Accept": "text/event-stream"}
        hdrs.update(headers or {})
        if token:
            hdrs["Authorization"] = "Bearer " + d.token()
        if last_event_id is not None:
            hdrs["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", path, headers=hdrs)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}
        self.buf = b""
        self.events = []      # (id, data) in order
        self.comments = 0
        self.retry = None
        self.ended = False
        self._data = []
        self._id = None

    def _feed(self, chunk):
        self.buf += chunk
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                return
            line = self.buf[:nl].rstrip(b"\r").decode()
            self.buf = self.buf[nl + 1:]
            if line == "":
                if self._data:
                    self.events.append((self._id, "\n".join(self._data)))
                self._data = []
            elif line.startswith(":"):
                self.comments += 1
            else:
                field, _, value = line.partition(":")
                if value.startswith(" "):
                    value = value[1:]
                if field == "data":
                    self._data.append(value)
                elif field == "id":
                    self._id = value
                elif field == "retry":
                    self.retry = int(value)

    def pump(self, until, timeout=10.0):
        """Reads until until(self) is true; returns it or raises."""
        deadline = time.monotonic() + timeout * SLOW
        while not until(self):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"SSE: timed out; {len(self.events)} events so far, "
                    f"last {self.events[-1:]!r}")
            try:
                chunk = self.resp.read1(65536)
            except socket.timeout:
                continue
            if not chunk:
                self.ended = True
                break
            self._feed(chunk)
        return until(self)

    def items(self):
        """The events' data parsed as JSON."""
        return [json.loads(data) for _, data in self.events]

    def cut(self):
        """Forced disconnect: reset the TCP connection mid-stream."""
        sock = self.conn.sock
        if sock is None:
            raw_io = getattr(self.resp.fp, "raw", None)
            sock = getattr(raw_io, "_sock", None)
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()
        self.resp.close()
        self.conn.close()

    def close(self):
        self.resp.close()
        self.conn.close()


def cli(d, *args, env=None, cwd=None, timeout=30.0, check_code=None):
    """Runs `tend <args>` as a client in the daemon's folder. Returns the
    CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.pop("TEND_URL", None)
    full_env.pop("TEND_TOKEN", None)
    full_env["NO_COLOR"] = "1"
    full_env.update(env or {})
    r = subprocess.run([TEND_BIN, *args], cwd=cwd or d.dir, env=full_env,
                       capture_output=True, text=True, timeout=timeout * SLOW)
    if check_code is not None:
        assert r.returncode == check_code, (
            f"tend {' '.join(args)}: exit {r.returncode}, want {check_code}\n"
            f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


def tree_node(d, name):
    """The node called name in GET /api/v1/tree, or None."""
    status, doc = d.api("GET", "/api/v1/tree")
    assert status == 200, doc

    def walk(n):
        if n["name"] == name:
            return n
        for c in n.get("children", []):
            found = walk(c)
            if found:
                return found
        return None
    return walk(doc)


def runner_state(d, name="api"):
    """The runner's JSON (GET /api/v1/runners/NAME)."""
    status, body = d.api("GET", f"/api/v1/runners/{name}")
    assert status == 200, (status, body)
    return body


def jsonl_text(chunks):
    """What `tend logs` prints (no colour) for a list of stored chunks."""
    import base64
    out = []
    for c in chunks:
        if c.get("stream") == "tend":
            out.append("[tend] ")
        if "data" in c:
            out.append(c["data"])
        elif "data_b64" in c:
            out.append(base64.b64decode(c["data_b64"]).decode(
                errors="replace"))
    return "".join(out)
