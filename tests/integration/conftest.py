"""Integration test harness: a real `tend up` on a scratch folder.

Every test gets `tend_factory`, which writes a tend.json (a dict) into a
fresh folder, starts the daemon with stdout and stderr captured to files,
and offers polling helpers. Nothing here sleeps for a fixed time: every wait
polls for a condition with a generous bound and fails with what it saw.
"""

import base64
import glob
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

TEND_BIN = os.environ.get(
    "TEND_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "tend"))
TEND_BIN = os.path.abspath(TEND_BIN)
# Sanitizer builds are slower, valgrind much slower; every bound scales
# with this.
VALGRIND = bool(os.environ.get("TEND_VALGRIND"))
SLOW = {"asan": 3.0, "valgrind": 12.0}.get(os.environ.get("TEND_VARIANT"),
                                            1.0)

TRANSITION = re.compile(
    r"^\S*tend\S*\s+\| (?P<node>[^:]+): (?P<frm>\w+) --(?P<event>\w+)--> "
    r"(?P<to>\w+)(?: \((?P<reason>.*)\))?$")


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls predicate until it returns a truthy value; returns it."""
    deadline = time.monotonic() + timeout * SLOW
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout * SLOW:.1f}s waiting for "
                         f"{what} (last value: {last!r})")


def pid_alive(pid):
    """True when pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


# --- files and ports, shared by the test files --------------------------

def lines(path):
    """The non-empty lines of a text file (without '\\n'); [] while the
    file does not exist."""
    try:
        with open(path) as f:
            return [l.rstrip("\n") for l in f if l.strip()]
    except FileNotFoundError:
        return []


def free_port():
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_jsonl(path):
    """The whole lines of a JSON-lines file that may be being written;
    [] while it does not exist."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return []
    return [json.loads(l) for l in raw.split(b"\n")[:-1] if l.strip()]


def read_jsonl_strict(path):
    """Every line of a finished JSON-lines file, parsed; fails on any line
    that does not parse, including a last line without '\\n'."""
    with open(path, "rb") as f:
        raw = f.read()
    assert raw == b"" or raw.endswith(b"\n"), (
        f"{path}: torn last line {raw[-120:]!r}")
    out = []
    for k, line in enumerate(raw.split(b"\n")[:-1]):
        try:
            out.append(json.loads(line))
        except ValueError as e:
            raise AssertionError(f"{path}:{k + 1}: {e}: {line[:200]!r}")
    return out


def log_files(folder, name):
    """A log's files, oldest first: name.jsonl.N ... name.jsonl.1, then
    name.jsonl."""
    rotated = []
    prefix = name + ".jsonl."
    for f in os.listdir(folder):
        mid = f[len(prefix):] if f.startswith(prefix) else ""
        if mid.isdigit():
            rotated.append((int(mid), f))
    files = [os.path.join(folder, f) for _, f in sorted(rotated,
                                                        reverse=True)]
    current = os.path.join(folder, name + ".jsonl")
    return files + ([current] if os.path.exists(current) else [])


def read_log(folder, name):
    """Every line of a rotated log, oldest first, strictly parsed."""
    out = []
    for path in log_files(folder, name):
        out += read_jsonl_strict(path)
    return out


def chunk_bytes(c):
    """The bytes of one output chunk (text or base64)."""
    if "data_b64" in c:
        return base64.b64decode(c["data_b64"])
    return c["data"].encode()


def assert_contiguous(items, what, first=1):
    """The items' seqs start at first (any start when None) and go up by
    exactly one (no gap, no repeat)."""
    seqs = [c["seq"] for c in items]
    assert seqs, f"{what}: empty"
    if first is not None:
        assert seqs[0] == first, f"{what}: first seq {seqs[0]}, not {first}"
    for a, b in zip(seqs, seqs[1:]):
        assert b == a + 1, f"{what}: seq {a} followed by {b}"


class Daemon:
    """One `tend up` process on its own folder."""

    def __init__(self, folder, config, files=None, http=False):
        self.dir = str(folder)
        self.config = dict(config)
        if not http and "http" not in self.config:
            self.config["http"] = {"listen": False}
        elif http and "http" not in self.config:
            self.config["http"] = {"listen": "127.0.0.1:0"}
        self.files = files or {}
        self.proc = None
        self.pids = []  # every daemon started on this folder
        self.out_path = os.path.join(self.dir, "tend.out")
        self.err_path = os.path.join(self.dir, "tend.err")
        self.write_config()
        for name, text in self.files.items():
            path = os.path.join(self.dir, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
            if name.endswith(".sh"):
                os.chmod(path, 0o755)

    @property
    def config_path(self):
        return os.path.join(self.dir, "tend.json")

    @property
    def state_dir(self):
        return os.path.join(self.dir, ".tend")

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write_config(self, config=None, text=None):
        if config is not None:
            self.config = config
        with open(self.config_path + ".tmp", "w") as f:
            f.write(text if text is not None else json.dumps(self.config,
                                                              indent=2))
        os.replace(self.config_path + ".tmp", self.config_path)

    def start(self, *extra):
        out = open(self.out_path, "ab")
        err = open(self.err_path, "ab")
        cmd = [TEND_BIN, "up", "-c", self.config_path, *extra]
        if VALGRIND:
            # Memcheck on the daemon only (children are not traced).
            cmd = ["valgrind", "--leak-check=full",
                   "--show-leak-kinds=definite,indirect",
                   "--errors-for-leak-kinds=definite,indirect",
                   "--log-file=" + os.path.join(self.dir, "valgrind.%p.log"),
                   *cmd]
        self.proc = subprocess.Popen(
            cmd, cwd=self.dir,
            stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        out.close()
        err.close()
        self.pids.append(self.proc.pid)
        return self

    # --- what the daemon printed -------------------------------------
    def stdout(self):
        try:
            with open(self.out_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stderr(self):
        try:
            with open(self.err_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def transitions(self, node=None):
        """[(node, from, event, to, reason)] in event order, from the event
        log (the terminal leaves out a node's internal steps, such as
        starting --spawned_probe--> starting; the log keeps every one)."""
        out = []
        for e in self.events():
            if e.get("type") != "state":
                continue
            if node is not None and e.get("node") != node:
                continue
            out.append((e.get("node"), e.get("from"), e.get("event"),
                        e.get("to"), e.get("reason")))
        return out

    def output_lines(self, runner):
        """Lines the terminal printer showed for runner (no markers)."""
        prefix = re.compile(r"^" + re.escape(runner) + r"\s+\| (.*)$")
        lines = []
        for line in self.stdout().splitlines():
            m = prefix.match(line)
            if m:
                lines.append(m.group(1))
        return lines

    def wait_transition(self, node, to, count=1, timeout=10.0):
        return wait_for(
            lambda: len([t for t in self.transitions(node) if t[3] == to])
            >= count, timeout,
            what=f"{node} -> {to} x{count}; stdout:\n{self.stdout()[-3000:]}"
            f"\nstderr:\n{self.stderr()[-2000:]}")

    def wait_output(self, text, timeout=10.0):
        return wait_for(lambda: text in self.stdout(), timeout,
                        what=f"{text!r} in stdout:\n{self.stdout()[-3000:]}")

    # --- state files ---------------------------------------------------
    def state(self):
        with open(os.path.join(self.state_dir, "state.json")) as f:
            return json.load(f)

    def jsonl(self, runner):
        """Every chunk of a runner's current output log, parsed."""
        path = os.path.join(self.state_dir, "output", runner + ".jsonl")
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def events(self):
        """Every event of the log, oldest first (rotated files included)."""
        base = os.path.join(self.state_dir, "events.jsonl")
        paths = sorted((p for p in glob.glob(base + ".*")
                        if p.rsplit(".", 1)[1].isdigit()),
                       key=lambda p: -int(p.rsplit(".", 1)[1])) + [base]
        out = []
        for path in paths:
            try:
                with open(path) as f:
                    for line in f:
                        if not line.strip():
                            continue
                        try:
                            out.append(json.loads(line))
                        except ValueError:
                            pass  # a line being written right now
            except FileNotFoundError:
                pass
        return out

    # --- HTTP ----------------------------------------------------------
    def daemon_json(self):
        with open(os.path.join(self.state_dir, "daemon.json")) as f:
            return json.load(f)

    def token(self):
        with open(os.path.join(self.state_dir, "token")) as f:
            return f.read().strip()

    def url(self):
        return wait_for(lambda: self._url_or_none(), 10, what="daemon.json")

    def _url_or_none(self):
        try:
            return self.daemon_json()["url"].rstrip("/")
        except (FileNotFoundError, KeyError, ValueError):
            return None

    def api(self, method, path, body=None, token=True, headers=None):
        """(status, parsed JSON or text) of one API request."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url() + path, data=data,
                                     method=method)
        if token:
            req.add_header("Authorization", "Bearer " + self.token())
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10 * SLOW) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    # --- lifecycle -----------------------------------------------------
    def send_signal(self, signo):
        self.proc.send_signal(signo)

    def stop(self, signo=signal.SIGTERM, timeout=20.0):
        """Stops the daemon with signo and returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signo)
        try:
            return self.proc.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"tend did not exit within {timeout * SLOW}s of signal "
                f"{signo}; stdout:\n{self.stdout()[-3000:]}\nstderr:\n"
                f"{self.stderr()[-3000:]}")

    def wait_exit(self, timeout=20.0):
        try:
            return self.proc.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"tend still running after {timeout * SLOW}s; stdout:\n"
                f"{self.stdout()[-3000:]}\nstderr:\n{self.stderr()[-3000:]}")

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def check_sanitizers(self):
        """Fails when the sanitizer build reported an error."""
        err = self.stderr()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                       "runtime error:"):
            assert marker not in err, f"sanitizer report:\n{err[-6000:]}"
        for name in os.listdir(self.dir) if VALGRIND else []:
            # The daemon's own log only: a forked child whose exec failed
            # also ends under valgrind, with the parent's heap "in use".
            if name not in [f"valgrind.{pid}.log" for pid in self.pids]:
                continue
            with open(os.path.join(self.dir, name)) as f:
                log = f.read()
            if "ERROR SUMMARY" not in log:
                continue  # killed with SIGKILL by the test: no summary
            assert "ERROR SUMMARY: 0 errors" in log, log[-6000:]


@pytest.fixture
def tend_factory(tmp_path):
    """Builds daemons on scratch folders; stops them all at the end."""
    made = []

    def make(config, files=None, http=False, start=True, folder=None):
        d = Daemon(folder or tmp_path, config, files=files, http=http)
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    for d in made:
        if d.proc and d.proc.poll() is None:
            d.proc.send_signal(signal.SIGTERM)
            try:
                d.proc.wait(timeout=20 * SLOW)
            except subprocess.TimeoutExpired:
                d.proc.kill()
                d.proc.wait()
        d.check_sanitizers()
