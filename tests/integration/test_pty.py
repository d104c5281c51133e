"""Runners on a pseudo-terminal (issue 12, item 12): `"pty": true` gives
the command a terminal of its own (a tty on 0, 1 and 2, TERM, a size, a
controlling terminal), its output goes through the same chunks, seqs and
logs as stream "pty", input and resize come through the API, the stop
protocol still ends the whole group, and `tend attach` connects a real
terminal (tmux) to it. Every wait polls."""

import base64
import os
import shlex
import shutil
import subprocess
import uuid

import pytest

from conftest import SLOW, TEND_BIN, pid_alive, wait_for

TTY_PROBE = ("import sys, os; "
             "print('TTY', sys.stdin.isatty(), sys.stdout.isatty(), "
             "sys.stderr.isatty(), os.environ['TERM'], "
             "os.get_terminal_size(), os.getsid(0) == os.getpid(), "
             "os.tcgetpgrp(0) == os.getpgrp(), flush=True); "
             "import time; time.sleep(300)")

# Prints the terminal's size at start, on SIGWINCH, and for every line
# read (so input and resize can be checked together).
SIZE_PROBE = ("import os, signal, sys\n"
              "def show(*_):\n"
              "    c, r = os.get_terminal_size(0)\n"
              "    print(f'SIZE {c}x{r}', flush=True)\n"
              "signal.signal(signal.SIGWINCH, show)\n"
              "show()\n"
              "for line in sys.stdin:\n"
              "    print('GOT', line.strip()[::-1], flush=True)\n")


def pty_text(d, runner):
    """Every byte of a runner's stream "pty" chunks, decoded."""
    try:
        chunks = d.jsonl(runner)
    except FileNotFoundError:
        return ""
    out = []
    for c in chunks:
        if c.get("stream") != "pty":
            continue
        if "data_b64" in c:
            out.append(base64.b64decode(c["data_b64"]).decode(
                errors="replace"))
        else:
            out.append(c.get("data", ""))
    return "".join(out)


def wait_pty(d, runner, text, timeout=15):
    return wait_for(lambda: text in pty_text(d, runner), timeout,
                    what=f"{text!r} in {runner}'s pty output: "
                    f"{pty_text(d, runner)[-2000:]!r}")


def post_input(d, runner, data=None, raw=None, b64=None):
    import urllib.request
    if raw is not None:
        req = urllib.request.Request(
            d.url() + f"/api/v1/runners/{runner}/input", data=raw,
            method="POST")
        req.add_header("Authorization", "Bearer " + d.token())
        req.add_header("Content-Type", "application/octet-stream")
        with urllib.request.urlopen(req, timeout=10 * SLOW) as resp:
            return resp.status
    body = {"data": data} if b64 is None else {"data_b64": b64}
    return d.api("POST", f"/api/v1/runners/{runner}/input", body)


def runner_pid(d, name):
    def pid():
        st, r = d.api("GET", f"/api/v1/runners/{name}")
        return r.get("pid") if st == 200 and r.get("state") == "running" \
            else None
    return wait_for(pid, 15, what=f"{name} running with a pid")


def test_a_pty_runner_sees_a_terminal(tend_factory):
    d = tend_factory({"name": "t", "children": [
        {"name": "tty", "cmd": ["python3", "-c", TTY_PROBE], "pty": True},
        {"name": "small", "cmd": ["python3", "-c", TTY_PROBE],
         "pty": {"cols": 80, "rows": 24}},
        {"name": "plain", "cmd": ["python3", "-c",
                                  "import sys; print('TTY', "
                                  "sys.stdout.isatty(), flush=True); "
                                  "import time; time.sleep(300)"]},
    ]}, http=True)
    wait_pty(d, "tty", "TTY True True True xterm-256color "
             "os.terminal_size(columns=120, lines=40) True True")
    wait_pty(d, "small", "os.terminal_size(columns=80, lines=24)")
    # The same chunks as any output: seqs in order, run, in the log and
    # on the terminal printer.
    chunks = d.jsonl("tty")
    seqs = [c["seq"] for c in chunks]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert {c["stream"] for c in chunks} <= {"tend", "pty"}
    assert all(c["run"] == 1 for c in chunks)
    d.wait_output("TTY True True True")
    # The API says which runners have a terminal, and its size.
    st, r = d.api("GET", "/api/v1/runners/tty")
    assert st == 200 and r["pty"] == {"cols": 120, "rows": 40}
    st, r = d.api("GET", "/api/v1/runners/plain")
    assert st == 200 and r["pty"] is None
    # Without pty nothing changes: no terminal, stream stdout.
    wait_for(lambda: any(c.get("stream") == "stdout" for c in
                         d.jsonl("plain")), 15, what="plain's stdout")
    out = "".join(c.get("data", "") for c in d.jsonl("plain")
                  if c.get("stream") == "stdout")
    assert "TTY False" in out


def test_input_reaches_the_program_and_resize_is_seen(tend_factory):
    d = tend_factory({"name": "t", "children": [
        {"name": "sz", "cmd": ["python3", "-c", SIZE_PROBE], "pty": True},
    ]}, http=True)
    wait_pty(d, "sz", "SIZE 120x40")
    st, r = post_input(d, "sz", data="hello\n")
    assert st == 200 and r == {"ok": True, "bytes": 6}, r
    wait_pty(d, "sz", "GOT olleh")
    # Raw bytes and base64 are input too.
    assert post_input(d, "sz", raw=b"raw line\n") == 200
    wait_pty(d, "sz", "GOT enil war")
    st, r = post_input(d, "sz", b64=base64.b64encode(
        b"b64 in\n").decode())
    assert st == 200, r
    wait_pty(d, "sz", "GOT ni 46b")
    # The terminal echoes what was typed, as a shell's would.
    assert "hello\r\n" in pty_text(d, "sz")
    st, r = d.api("POST", "/api/v1/runners/sz/resize",
                  {"cols": 100, "rows": 30})
    assert st == 200, r
    wait_pty(d, "sz", "SIZE 100x30")
    st, r = d.api("GET", "/api/v1/runners/sz")
    assert r["pty"] == {"cols": 100, "rows": 30}
    # A new run gets a new terminal of the configured size.
    st, r = d.api("POST", "/api/v1/runners/sz/restart")
    assert st == 200, r
    wait_for(lambda: pty_text(d, "sz").count("SIZE 120x40") >= 2, 15,
             what="the second run's size")


def test_input_and_resize_refused(tend_factory):
    d = tend_factory({"name": "t", "children": [
        {"name": "plain", "cmd": ["sleep", "300"]},
        {"name": "term", "cmd": ["cat"], "pty": True, "autostart": False},
    ]}, http=True)
    runner_pid(d, "plain")
    st, r = post_input(d, "plain", data="x\n")
    assert st == 409 and "pty" in r["error"], r
    st, r = d.api("POST", "/api/v1/runners/plain/resize",
                  {"cols": 80, "rows": 24})
    assert st == 409, r
    st, r = post_input(d, "term", data="x\n")
    assert st == 409 and "not running" in r["error"], r
    st, r = post_input(d, "nosuch", data="x\n")
    assert st == 404, r
    st, r = d.api("POST", "/api/v1/runners/term/start")
    assert st == 200
    runner_pid(d, "term")
    st, r = post_input(d, "term", b64="!!!")
    assert st == 400 and "base64" in r["error"], r
    st, r = d.api("POST", "/api/v1/runners/term/input", {"text": "x"})
    assert st == 400, r
    for bad in ({"cols": 0, "rows": 10}, {"cols": 10}, {"cols": "a",
                                                          "rows": 2},
                {"cols": 1001, "rows": 5}):
        st, r = d.api("POST", "/api/v1/runners/term/resize", bad)
        assert st == 400, (bad, r)
    st, r = d.api("GET", "/api/v1/runners/term")
    assert r["state"] == "running"


def test_stop_ends_the_whole_group_of_a_pty_runner(tend_factory):
    d = tend_factory({"name": "t", "children": [
        {"name": "sh", "cmd": "sleep 311 & sleep 312 & echo BOTH; wait",
         "pty": True, "stop": {"timeout_ms": 3000}},
    ]}, http=True)
    pid = runner_pid(d, "sh")
    wait_pty(d, "sh", "BOTH")
    # The runner leads its own session and group, with the pty as its
    # controlling terminal.
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    pgid, sid, tty_nr = int(fields[2]), int(fields[3]), int(fields[4])
    assert pgid == pid and sid == pid and tty_nr != 0

    def sleepers():
        found = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")
            except (FileNotFoundError, ProcessLookupError):
                continue
            if cmd[:2] in ([b"sleep", b"311"], [b"sleep", b"312"]) and \
                    pid_alive(int(p)):
                found.append(int(p))
        return found
    kids = wait_for(lambda: len(sleepers()) == 2 and sleepers(), 10,
                    what="both sleeps")
    st, r = d.api("POST", "/api/v1/runners/sh/stop")
    assert st == 200, r
    d.wait_transition("sh", "stopped")
    wait_for(lambda: not any(pid_alive(k) for k in kids + [pid]), 10,
             what="no process of the group left")
    assert d.jsonl("sh")[-1]["stream"] == "tend"


def test_the_master_does_not_leak_into_other_children(tend_factory):
    d = tend_factory({"name": "t", "children": [
        {"name": "term", "cmd": ["sleep", "300"], "pty": True},
        {"name": "other", "cmd": "sleep 0.5; ls -l /proc/self/fd/",
         "restart": "temporary"},
    ]}, http=True)
    runner_pid(d, "term")
    d.wait_transition("other", "exited")
    out = "".join(c.get("data", "") for c in d.jsonl("other"))
    assert "/dev/pts" not in out and "ptmx" not in out, out
    pid = runner_pid(d, "term")
    fds = sorted(os.listdir(f"/proc/{pid}/fd"), key=int)
    assert fds == ["0", "1", "2"] or all(
        "ptmx" not in os.readlink(f"/proc/{pid}/fd/{f}") for f in fds)


# ------------------------------------------------------------ tend attach

@pytest.fixture
def tmux_ok():
    assert shutil.which("tmux"), "tmux is not installed"


class Attach:
    """`tend attach NAME` in a detached tmux session of its own; the pane
    prints 'EXITED <status> <raw|cooked>' when tend exits."""

    def __init__(self, d, folder, name, cols=100, rows=30):
        self.sock = "tendatt-" + uuid.uuid4().hex[:12]
        self.err = os.path.join(str(folder), "attach.err")
        cmd = " ".join(shlex.quote(a) for a in
                       [TEND_BIN, "attach", "-c", d.config_path, name])
        script = (f"{cmd} 2>{shlex.quote(self.err)}; rc=$?; "
                  f"if stty -a | grep -q -- -icanon; then m=raw; "
                  f"else m=cooked; fi; echo EXITED $rc $m; "
                  f"exec sleep 3600")
        env = ["env", "-u", "TEND_URL", "-u", "TEND_TOKEN",
               "LANG=C.UTF-8", "LC_ALL=C.UTF-8"]
        self.tmux("new-session", "-d", "-x", str(cols), "-y", str(rows),
                  " ".join(env) + " sh -c " + shlex.quote(script))

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock, *args],
                              capture_output=True, text=True, check=True,
                              timeout=10 * SLOW).stdout

    def screen(self):
        return self.tmux("capture-pane", "-p")

    def stderr(self):
        try:
            with open(self.err, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_text(self, text, timeout=15):
        last = [""]

        def check():
            last[0] = self.screen()
            return text in last[0]
        try:
            return wait_for(check, timeout, interval=0.05, what=repr(text))
        except AssertionError:
            raise AssertionError(f"timed out waiting for {text!r}; screen:\n"
                                 f"{last[0]}\nstderr:\n{self.stderr()}")

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"],
                       capture_output=True, timeout=10 * SLOW)


def test_attach_types_sees_the_echo_and_detaches(tend_factory, tmp_path,
                                                 tmux_ok):
    d = tend_factory({"name": "t", "children": [
        {"name": "sz", "cmd": ["python3", "-c", SIZE_PROBE], "pty": True},
    ]}, http=True)
    wait_pty(d, "sz", "SIZE 120x40")
    pid = runner_pid(d, "sz")
    a = Attach(d, tmp_path, "sz", cols=100, rows=30)
    try:
        # The attached terminal's size is the runner's now.
        wait_pty(d, "sz", "SIZE 100x30")
        a.wait_text("SIZE 100x30")
        a.tmux("send-keys", "-l", "ping attach")
        a.tmux("send-keys", "Enter")
        a.wait_text("GOT hcatta gnip")
        assert "ping attach" in a.screen()  # the terminal's own echo
        # A resize of the user's terminal reaches the runner.
        a.tmux("resize-window", "-x", "90", "-y", "25")
        wait_pty(d, "sz", "SIZE 90x25")
        # Ctrl-] detaches: tend exits 0, the terminal is cooked again, the
        # runner goes on.
        a.tmux("send-keys", "C-]")
        a.wait_text("EXITED 0 cooked")
        st, r = d.api("GET", "/api/v1/runners/sz")
        assert r["state"] == "running" and r["pid"] == pid
        assert pid_alive(pid)
    finally:
        a.close()


def test_attach_refuses_a_runner_without_pty(tend_factory, tmp_path,
                                             tmux_ok):
    d = tend_factory({"name": "t", "children": [
        {"name": "plain", "cmd": ["sleep", "300"]},
    ]}, http=True)
    runner_pid(d, "plain")
    r = subprocess.run([TEND_BIN, "attach", "-c", d.config_path, "plain"],
                       capture_output=True, text=True, timeout=20 * SLOW,
                       stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    assert "pty" in r.stderr, r.stderr
