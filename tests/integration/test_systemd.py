"""tend under systemd (issue 10), without systemd: a fake notification
socket stands in for the manager (sd_notify's protocol is one datagram per
notification on an AF_UNIX socket named by $NOTIFY_SOCKET), and stdout is a
socket or a pipe as journald would give it.

What the manager must hear: READY=1 once the initial start of the tree is
over (not before the runners are up), STATUS= lines, WATCHDOG=1 again and
again, RELOADING=1 (with MONOTONIC_USEC=) then READY=1 around each reload,
STOPPING=1 on SIGTERM; and a child must not see NOTIFY_SOCKET."""

import os
import pty
import re
import select
import signal
import socket
import subprocess
import threading
import time

from conftest import SLOW, TEND_BIN, wait_for

STATUS = re.compile(r"^STATUS=(?:(\w+): )?(\d+)/(\d+) up", re.M)


def status_of(msg):
    """(phase or None, up, total) of a message's STATUS=, or None."""
    m = STATUS.search(msg)
    return (m[1], int(m[2]), int(m[3])) if m else None


class FakeManager:
    """Receives notification datagrams on a socket bound in tmp (a path,
    or an abstract name when abstract=True)."""

    def __init__(self, tmp_path, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"tend-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.address = str(tmp_path / "notify.sock")
            self.sock.bind(self.address)
        self.sock.setblocking(False)
        self.msgs = []  # (monotonic time received, text)

    def drain(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return self.msgs
            self.msgs.append((time.monotonic(), data.decode()))

    def texts(self):
        return [m for _, m in self.drain()]

    def index(self, line, start=0):
        """Index of the first message from start with the line, or -1."""
        for i, m in enumerate(self.texts()[start:], start):
            if line in m.split("\n"):
                return i
        return -1

    def wait(self, line, start=0, timeout=10.0):
        """Waits for a message with the line; returns its index."""
        wait_for(lambda: self.index(line, start) >= 0, timeout,
                 what=f"{line!r} after message {start}: {self.texts()}")
        return self.index(line, start)

    def close(self):
        self.sock.close()


def env_of(d, runner_file):
    with open(d.path(runner_file)) as f:
        return dict(line.split("=", 1) for line in f.read().splitlines()
                    if "=" in line)


def test_the_notification_protocol(tend_factory, tmp_path, monkeypatch):
    mgr = FakeManager(tmp_path)
    monkeypatch.setenv("NOTIFY_SOCKET", mgr.address)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    cfg = {"name": "svc", "children": [
        {"name": "envdump", "cmd": "env > env.txt; exec sleep 1000"},
        # Ready only once it says so, a second after it starts: a READY=1
        # sent when the tree merely began starting would come before.
        {"name": "slow", "cmd": "sleep 1; echo listening; exec sleep 1000",
         "ready": {"log": "listening"}},
    ]}
    d = tend_factory(cfg, http=True)

    ready = mgr.wait("READY=1", timeout=20)
    # At READY=1 both runners were up: its STATUS= was built then.
    assert "STATUS=2/2 up" in mgr.texts()[ready].split("\n"), mgr.texts()
    status, body = d.api("GET", "/api/v1/runners/slow")
    assert status == 200 and body["state"] == "ready", body
    # Before it, the manager heard how the start went, never READY twice.
    before = mgr.texts()[:ready]
    assert not any("READY=1" in m for m in before)
    assert any(status_of(m) and status_of(m)[0] == "starting"
               for m in before), before

    # The watchdog is pinged again and again (every 100 ms here).
    wait_for(lambda: sum(m == "WATCHDOG=1\n" for m in mgr.texts()) >= 5, 10,
             what=f"five WATCHDOG=1 in {mgr.texts()}")

    # Children do not inherit the manager's socket or the watchdog.
    wait_for(lambda: os.path.exists(d.path("env.txt")), 10, what="env.txt")
    env = env_of(d, "env.txt")
    assert "TEND_RUNNER" in env or "PATH" in env, env
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        assert name not in env, (name, env)

    # A config edit: RELOADING=1 (with MONOTONIC_USEC) then READY=1, and
    # the STATUS= catches up with the new runner.
    mark = len(mgr.texts())
    cfg["children"].append({"name": "extra", "cmd": "exec sleep 1000"})
    d.write_config(cfg)
    reloading = mgr.wait("RELOADING=1", mark)
    usec = re.search(r"^MONOTONIC_USEC=(\d+)$", mgr.texts()[reloading], re.M)
    assert usec, mgr.texts()[reloading]
    # CLOCK_MONOTONIC, as Python's time.monotonic() on Linux.
    assert abs(int(usec[1]) / 1e6 - mgr.msgs[reloading][0]) < 30 * SLOW
    mgr.wait("READY=1", reloading + 1)
    wait_for(lambda: any(status_of(m) == (None, 3, 3)
                         for m in mgr.texts()[mark:]), 10,
             what=f"STATUS=3/3 up in {mgr.texts()[mark:]}")

    # A state change alone: a STATUS= update of its own (rate-limited).
    mark = len(mgr.texts())
    status, _ = d.api("POST", "/api/v1/runners/extra/stop", {})
    assert status in (200, 202), status
    mgr.wait("STATUS=2/3 up", mark)

    # SIGHUP with nothing changed still answers with the pair (systemd's
    # Type=notify-reload waits for it).
    mark = len(mgr.texts())
    d.send_signal(signal.SIGHUP)
    reloading = mgr.wait("RELOADING=1", mark)
    mgr.wait("READY=1", reloading + 1)

    # A broken edit: the pair again, and the status says so.
    mark = len(mgr.texts())
    d.write_config(text="{ not json")
    reloading = mgr.wait("RELOADING=1", mark)
    ready = mgr.wait("READY=1", reloading + 1)
    assert "config has errors" in mgr.texts()[ready], mgr.texts()[ready]

    # SIGTERM: STOPPING=1, and nothing claims readiness after it.
    assert d.stop() == 0
    texts = mgr.texts()
    stopping = mgr.index("STOPPING=1")
    assert stopping >= 0, texts
    assert not any("READY=1" in m or "RELOADING=1" in m
                   for m in texts[stopping:]), texts
    assert "starting" not in texts[stopping]
    mgr.close()


def test_abstract_socket_and_a_watchdog_for_someone_else(
        tend_factory, tmp_path, monkeypatch):
    mgr = FakeManager(tmp_path, abstract=True)
    monkeypatch.setenv("NOTIFY_SOCKET", mgr.address)
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    monkeypatch.setenv("WATCHDOG_PID", "1")  # not tend: no pings
    d = tend_factory({"name": "svc", "children": [
        {"name": "a", "cmd": "exec sleep 1000"}]})
    ready = mgr.wait("READY=1", timeout=20)
    assert "STATUS=1/1 up" in mgr.texts()[ready]
    # Pings every 50 ms would have come by now (20 of them in a second).
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        time.sleep(0.05)
    assert "WATCHDOG=1\n" not in mgr.texts(), mgr.texts()
    assert d.stop() == 0
    assert mgr.index("STOPPING=1") > ready
    mgr.close()


def test_a_socket_that_is_gone_or_garbage_is_survived(tend_factory, tmp_path,
                                                      monkeypatch):
    # NOTIFY_SOCKET names nothing; WATCHDOG_USEC is garbage.
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    monkeypatch.setenv("WATCHDOG_USEC", "soon")
    d = tend_factory({"name": "svc", "children": [
        {"name": "a", "cmd": "i=0; while true; do i=$((i+1)); echo tick $i; "
                             "sleep 0.05; done"}]}, http=True)
    d.wait_transition("a", "running")
    d.wait_output("tick 5")
    d.send_signal(signal.SIGHUP)
    status, body = d.api("GET", "/api/v1/runners/a")
    assert status == 200 and body["state"] == "running"
    assert d.stop() == 0
    err = d.stderr()
    assert "WATCHDOG_USEC=soon" in err, err
    # One line for a whole streak of failed sends (READY, STATUS, the
    # reload's pair, STOPPING).
    assert err.count("systemd notify socket") == 1, err

    # Not a path at all: said once, and tend runs as if not under systemd.
    monkeypatch.setenv("NOTIFY_SOCKET", "relative/notify")
    monkeypatch.setenv("WATCHDOG_USEC", "99999999999999999999999999")
    folder = tmp_path / "second"
    folder.mkdir()
    d2 = tend_factory({"name": "svc2", "children": [
        {"name": "b", "cmd": "exec sleep 1000"}]}, folder=folder)
    d2.wait_transition("b", "running")
    assert d2.stop() == 0
    assert "NOTIFY_SOCKET=relative/notify" in d2.stderr(), d2.stderr()


# ------------------------------------------------- journald-friendly output

COLOURFUL = ("printf '\\033[31mred\\033[0m plain\\n'; "
             "printf '\\033]0;title\\007titled\\n'; "
             "printf '10%%\\r100%%\\n'; "
             "printf 'crlf\\r\\n'; exec sleep 1000")


def run_with_stdout(tmp_path, out_fd, env_extra, name="journal"):
    """Starts `tend up` with stdout on out_fd (a socket, a pipe or a
    terminal) and returns the process."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "tend.json").write_text(
        '{"name": "j", "http": {"listen": false}, "children": ['
        '{"name": "col", "cmd": "' + COLOURFUL.replace('\\', '\\\\') + '"},'
        '{"name": "bad", "cmd": "exit 3", "restart": "temporary"}]}')
    env = dict(os.environ)
    for k in ("NO_COLOR", "TEND_COLOR", "NOTIFY_SOCKET"):
        env.pop(k, None)
    env.update(env_extra)
    err = open(folder / "tend.err", "wb")
    proc = subprocess.Popen([TEND_BIN, "up", "-c", str(folder / "tend.json")],
                            cwd=str(folder), stdin=subprocess.DEVNULL,
                            stdout=out_fd, stderr=err, env=env)
    err.close()
    return proc


class Reader:
    """Collects everything readable from fd in a thread."""

    def __init__(self, fd):
        self.fd = fd
        self.data = b""
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if not r:
                if self.done:
                    return
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # a pty's master reads EIO once the slave closes
                return
            if not chunk:
                return
            self.data += chunk

    def text(self):
        return self.data.decode(errors="replace")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20 * SLOW)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def capture(tmp_path, kind, env_extra, name):
    """Runs the colourful tree with stdout on a socket pair (journald's
    way), a pipe or a pseudo-terminal; returns (stdout bytes, exit)."""
    if kind == "socket":
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        read_fd, write_fd = ours.detach(), theirs.detach()
    elif kind == "pipe":
        read_fd, write_fd = os.pipe()
    else:
        read_fd, write_fd = pty.openpty()
    proc = run_with_stdout(tmp_path, write_fd, env_extra, name)
    os.close(write_fd)
    reader = Reader(read_fd)
    try:
        wait_for(lambda: "titled" in reader.text() and "crlf" in
                 reader.text() and re.search(r"bad.*exited", reader.text()),
                 15, what=f"the tree's output in {reader.text()!r}")
    finally:
        code = stop(proc)
        reader.done = True
        reader.thread.join(10)
        os.close(read_fd)
    err = (tmp_path / name / "tend.err").read_text(errors="replace")
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:"):
        assert marker not in err, err
    return reader.data, code


def test_plain_output_on_a_journald_socket_and_a_pipe(tmp_path):
    for kind in ("socket", "pipe"):
        data, code = capture(tmp_path, kind, {}, f"plain-{kind}")
        assert code == 0
        # No escape sequence at all: neither tend's colours nor the
        # child's (the child's bytes stay whole in the log).
        assert b"\x1b" not in data, data
        assert b"\r" not in data and b"\x07" not in data, data
        lines = data.decode().splitlines()
        assert "col  | red plain" in lines, lines
        assert "col  | titled" in lines, lines
        assert "col  | 100%" in lines, lines
        assert "col  | crlf" in lines, lines
        # tend's own records: one line each, plain.
        assert any(re.match(r"^tend \| bad: running --exit--> exited", l)
                   for l in lines), lines
    with open(tmp_path / "plain-pipe" / ".tend" / "output" / "col.jsonl") as f:
        log = f.read()
    assert "\\u001b[31mred" in log, log


def test_colour_switches(tmp_path):
    # TEND_COLOR=always: colour even on a socket, the child's bytes as is.
    data, _ = capture(tmp_path, "socket", {"TEND_COLOR": "always"}, "always")
    assert b"\x1b[31mred\x1b[0m plain" in data, data
    assert re.search(rb"\x1b\[\d+mcol", data), data
    # A terminal gets colour by default...
    data, _ = capture(tmp_path, "pty", {}, "tty")
    assert b"\x1b[31mred" in data and re.search(rb"\x1b\[\d+mcol", data), data
    # ... NO_COLOR (any non-empty value) turns it off ...
    data, _ = capture(tmp_path, "pty", {"NO_COLOR": "1"}, "tty-no-color")
    assert b"\x1b" not in data, data
    assert b"col  | red plain" in data, data
    # ... an empty NO_COLOR does not (https://no-color.org) ...
    data, _ = capture(tmp_path, "pty", {"NO_COLOR": ""}, "tty-empty")
    assert b"\x1b[" in data, data
    # ... and TEND_COLOR=never wins over the terminal.
    data, _ = capture(tmp_path, "pty", {"TEND_COLOR": "never"}, "tty-never")
    assert b"\x1b" not in data, data
