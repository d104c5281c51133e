"""`tend top` (issue 12, item 11), driven as a user would: in a real
terminal (a detached tmux session on its own socket), against a real
daemon, keys sent with `tmux send-keys`, the screen read back with
`tmux capture-pane`. Every wait polls the screen or the API."""

import os
import re
import shlex
import shutil
import signal
import subprocess
import uuid

import pytest

from apihelp import runner_state, ticker, tree
from conftest import SLOW, TEND_BIN, wait_for


@pytest.fixture(autouse=True, scope="module")
def need_tmux():
    assert shutil.which("tmux"), \
        "tmux is not installed (scripts/deps.sh installs it)"


class Top:
    """`tend top` in a detached tmux session of its own; the pane prints
    'EXITED <status>' when tend exits, and stays open."""

    def __init__(self, d, folder, cols=120, rows=40, args=()):
        self.sock = "tendtop-" + uuid.uuid4().hex[:12]
        self.err = os.path.join(str(folder), "top.err")
        cmd = " ".join(shlex.quote(a) for a in
                       [TEND_BIN, "top", "-c", d.config_path, *args])
        # The shell outlives a Ctrl-C (trapped, so the child gets the
        # default disposition and tend its own handler).
        # After tend: its exit status, and whether it left the terminal
        # in its own (raw) mode or gave it back (cooked).
        script = (f"trap : INT; {cmd} 2>{shlex.quote(self.err)}; rc=$?; "
                  f"if stty -a | grep -q -- -icanon; then m=raw; "
                  f"else m=cooked; fi; echo EXITED $rc $m; "
                  f"exec sleep 3600")
        env = ["env", "-u", "TEND_URL", "-u", "TEND_TOKEN", "-u", "NO_COLOR",
               "LANG=C.UTF-8",
               "LC_ALL=C.UTF-8"]
        self.tmux("new-session", "-d", "-x", str(cols), "-y", str(rows),
                  " ".join(env) + " sh -c " + shlex.quote(script))

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.sock, *args],
                              capture_output=True, text=True, check=True,
                              timeout=10 * SLOW).stdout

    def screen(self, escapes=False):
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []))

    def lines(self):
        return self.screen().split("\n")

    def keys(self, *keys):
        self.tmux("send-keys", *keys)

    def wait(self, predicate, what, timeout=10):
        """Polls the screen until predicate(screen) is truthy."""
        last = [""]

        def check():
            last[0] = self.screen()
            return predicate(last[0])
        try:
            return wait_for(check, timeout, interval=0.05, what=what)
        except AssertionError:
            raise AssertionError(f"timed out waiting for {what}; screen:\n"
                                 f"{last[0]}\nstderr:\n{self.stderr()}")

    def wait_text(self, text, timeout=10):
        return self.wait(lambda s: text in s, repr(text), timeout)

    def row(self, name):
        """The tree row of name (its line on screen), or None."""
        for line in self.lines()[2:]:
            if line.startswith("─"):
                return None  # the separator: the tree ended
            if re.match(r"^\s*" + re.escape(name) + r"\s", line):
                return line
        return None

    def wait_row(self, name, *words, timeout=10):
        def ok(_):
            r = self.row(name)
            return r if r and all(w in r.split() for w in words) else None
        return self.wait(ok, f"row {name} with {words}", timeout)

    def pid(self):
        """The pid of tend top (the pane's shell's child)."""
        sh = self.tmux("list-panes", "-F", "#{pane_pid}").split()[0]

        def child():
            try:
                with open(f"/proc/{sh}/task/{sh}/children") as f:
                    kids = f.read().split()
            except FileNotFoundError:
                return None
            for k in kids:
                try:
                    with open(f"/proc/{k}/cmdline", "rb") as f:
                        if b"top" in f.read().split(b"\0"):
                            return int(k)
                except FileNotFoundError:
                    pass
            return None
        return wait_for(child, 10, what="the tend top process")

    def stderr(self):
        try:
            with open(self.err, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def check_sanitizers(self):
        err = self.stderr()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                       "runtime error:"):
            assert marker not in err, f"tend top: sanitizer report:\n{err}"

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"],
                       capture_output=True, timeout=10 * SLOW)


@pytest.fixture
def top_factory(tmp_path):
    made = []

    def make(d, **kw):
        t = Top(d, tmp_path, **kw)
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()


def daemon(tend_factory, *children):
    d = tend_factory(tree(*children), http=True)
    d.url()
    wait_for(lambda: runner_state(d, children[0]["name"])["state"] ==
             "running", 10, what="running")
    return d


def style_before(screen, text):
    """The SGR sequences right before text in a `capture-pane -e`."""
    m = re.search(r"((?:\x1b\[[0-9;]*m)*)" + re.escape(text), screen)
    assert m, (text, screen)
    return m.group(1)


def ticks(screen):
    return [int(n) for n in re.findall(r"^tick (\d+)\s*$", screen, re.M)]


def test_tree_output_and_keys(tend_factory, top_factory):
    d = daemon(tend_factory, ticker("api", "0.2"),
               {"name": "backend", "children": [ticker("worker", "0.5")]})
    t = top_factory(d)
    # The tree: every node, indented, with its state and pid.
    t.wait_row("dev", "running")
    pid = runner_state(d, "api")["pid"]
    row = t.wait_row("api", "running", str(pid))
    assert row.startswith("  api")
    t.wait_row("backend", "running")
    assert t.wait_row("worker", "running").startswith("    worker")
    # The first runner is selected and its output follows, live.
    t.wait_text("api (following)")
    first = max(t.wait(ticks, "tick lines"))
    t.wait(lambda s: ticks(s) and max(ticks(s)) >= first + 3,
           f"ticks past {first}")
    # x stops the selected runner; the screen and the API agree.
    t.keys("x")
    wait_for(lambda: runner_state(d, "api")["state"] == "stopped", 10,
             what="api stopped through the API")
    t.wait_row("api", "stopped")
    t.wait_text("api: stop: done")
    # s starts it again.
    t.keys("s")
    wait_for(lambda: runner_state(d, "api")["state"] == "running", 10,
             what="api running again")
    new_pid = runner_state(d, "api")["pid"]
    t.wait_row("api", "running", str(new_pid))

    # The uptime counts on by itself, without a tree event.
    def uptime(_):
        words = (t.row("api") or "").split()
        m = len(words) > 3 and re.match(r"^(\d+)s$", words[3])
        return m and int(m.group(1)) >= 2
    t.wait(uptime, "api's uptime at 2s or more")
    # S prompts for a signal and sends it to the runner.
    run = runner_state(d, "api")["run"]
    t.keys("S")
    t.wait_text("signal (HUP, USR1, ...):")
    t.keys("H", "U", "P", "Enter")
    t.wait_text("api: signal: done")
    wait_for(lambda: (runner_state(d, "api")["last_exit"] or {}).get(
        "signal") == "HUP" and runner_state(d, "api")["run"] > run, 10,
        what="api killed by HUP and restarted")
    # j selects the group; r restarts it; s on a group is refused, politely.
    t.keys("j")
    t.wait_text("backend: a group")
    worker_run = runner_state(d, "worker")["run"]
    t.keys("r")
    t.wait_text("backend: restart: done")
    wait_for(lambda: runner_state(d, "worker")["run"] > worker_run, 10,
             what="worker restarted with its group")
    t.keys("s")
    t.wait_text("backend is a group")
    # j again: the worker's output replaces the api's.
    t.keys("j")
    t.wait_text("worker (following)")
    t.wait(lambda s: "tick" in s.split("worker (following)")[1],
           "the worker's ticks")
    # ? shows the keys; q quits and gives the terminal back.
    t.keys("?")
    t.wait_text("S signal")
    t.keys("q")
    t.wait_text("EXITED 0 cooked")
    screen = t.screen()
    assert "tend top" not in screen and "NAME" not in screen, screen
    t.check_sanitizers()


def test_filter_narrows_the_tree(tend_factory, top_factory):
    d = daemon(tend_factory, ticker("api"), ticker("web"),
               {"name": "backend", "children": [ticker("worker")]})
    t = top_factory(d)
    t.wait_row("web", "running")
    t.keys("/", "w", "o", "r")
    t.wait_text("filter: wor")
    t.wait(lambda s: t.row("worker") and not t.row("api") and
           not t.row("web") and not t.row("dev"), "only worker in the tree")
    t.wait_text("worker (following)")  # the only match is selected
    # Enter keeps the filter; the tree keeps it across refreshes.
    t.keys("Enter")
    t.keys("x")
    wait_for(lambda: runner_state(d, "worker")["state"] == "stopped", 10,
             what="worker stopped")
    t.wait_row("worker", "stopped")
    assert not t.row("api")
    # The filter ignores case; one that matches nothing says so.
    t.keys("/", "BSpace", "BSpace", "BSpace", "W", "E", "B", "Enter")
    t.wait(lambda s: t.row("web") and not t.row("worker"), "only web")
    t.keys("/", "z", "z", "z", "Enter")
    t.wait_text("(no node matches the filter)")
    # / then Esc clears it.
    t.keys("/", "Escape")
    t.wait(lambda s: all(t.row(n) for n in ("dev", "api", "web", "worker")),
           "every node back")
    # Ctrl-C quits as q does.
    t.keys("C-c")
    t.wait_text("EXITED 0 cooked")
    t.check_sanitizers()


def test_child_colours_kept_and_escapes_dropped(tend_factory, top_factory):
    noisy = {"name": "noisy", "cmd":
             "printf '\\033[2J\\033[H\\033]0;title\\007\\033[31mred\\033[0m "
             "plain \\033[1;32mbold-green\\033[0m\\n'; "
             "printf 'cr-before\\rcr-after\\n'; "
             "printf '\\033[38;5;208mcolour256\\033[0m\\ttab\\n'; "
             "exec sleep 3600"}
    d = daemon(tend_factory, noisy)
    t = top_factory(d)
    t.wait_text("red plain bold-green")
    screen = t.screen()
    assert "title" not in screen and "[31m" not in screen, screen
    assert "cr-after" in screen and "cr-before" not in screen, screen
    assert re.search(r"^colour256\s+tab\s*$", screen, re.M), screen
    # The tree survived the child's clear-screen and cursor-home.
    assert t.row("noisy")
    # SGR became curses attributes: the pane shows red and bold green.
    colours = t.screen(escapes=True)
    assert "31m" in style_before(colours, "red"), repr(colours)
    green = style_before(colours, "bold-green")
    assert "32m" in green and "1m" in green, repr(colours)
    assert re.search(r"3\d|38;", style_before(colours, "colour256")), \
        repr(colours)
    t.keys("q")
    t.wait_text("EXITED 0 cooked")
    t.check_sanitizers()


def test_resize_redraws_cleanly(tend_factory, top_factory):
    d = daemon(tend_factory, ticker("api", "0.2"), ticker("web", "0.2"))
    t = top_factory(d, cols=120, rows=40)
    t.wait(lambda s: len(ticks(s)) >= 5, "output")
    t.tmux("resize-window", "-x", "70", "-y", "16")

    def clean(_):
        lines = t.lines()
        while lines and lines[-1] == "":
            lines.pop()  # capture-pane ends with a newline
        if len(lines) != 16 or any(len(l) > 70 for l in lines):
            return False
        seps = [l for l in lines if l.startswith("─")]
        return (lines[0].startswith(" tend top") and
                lines[1].startswith("NAME") and len(seps) == 1 and
                len(seps[0]) == 70 and "api (following)" in seps[0] and
                lines[-1].startswith("? help") and
                sum("tend top" in l for l in lines) == 1)
    t.wait(clean, "a clean 70x16 screen")
    # Still live after the resize.
    seen = max(ticks(t.screen()))
    t.wait(lambda s: ticks(s) and max(ticks(s)) > seen + 2, "more ticks")
    # Bigger again: the output pane grows.
    t.tmux("resize-window", "-x", "100", "-y", "30")
    t.wait(lambda s: len(ticks(s)) > 15 and
           all(len(l) <= 100 for l in s.split("\n")), "a taller pane")
    t.keys("q")
    t.wait_text("EXITED 0 cooked")
    t.check_sanitizers()


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGHUP,
                                   signal.SIGSEGV, signal.SIGABRT])
def test_terminal_restored_on_signals_and_crashes(tend_factory, top_factory,
                                                  signo):
    d = daemon(tend_factory, ticker("api"))
    t = top_factory(d)
    t.wait_row("api", "running")
    t.wait(ticks, "output")
    os.kill(t.pid(), signo)
    m = t.wait(lambda s: re.search(r"EXITED (\d+) (\w+)", s), "the exit")
    # A quit signal is a clean exit; a crash keeps its signal's status (or
    # the sanitizer's 1, whose report comes after the terminal's reset).
    if signo in (signal.SIGTERM, signal.SIGHUP):
        assert m.group(1) == "0", t.screen()
        t.check_sanitizers()
    else:
        assert m.group(1) in (str(128 + signo), "1"), t.screen()
    assert m.group(2) == "cooked", t.screen()
    screen = t.screen()
    assert "tend top" not in screen and "NAME" not in screen, screen


def test_no_daemon_and_no_terminal(tend_factory, top_factory):
    d = tend_factory(tree(ticker("api")), http=True, start=False)
    t = top_factory(d)
    t.wait_text("EXITED 3")
    assert "no daemon running" in t.stderr()
    r = subprocess.run([TEND_BIN, "top", "-c", d.config_path],
                       capture_output=True, text=True, timeout=30 * SLOW,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "needs a terminal" in r.stderr, r
    r = subprocess.run([TEND_BIN, "ui", "--bogus"], capture_output=True,
                       text=True, timeout=30 * SLOW)
    assert r.returncode == 2 and "--bogus" in r.stderr, r
    r = subprocess.run([TEND_BIN, "ui", "--help"], capture_output=True,
                       text=True, timeout=30 * SLOW)
    assert r.returncode == 0 and r.stdout.startswith("usage: tend ui"), r
