"""benchlib: what every benchmark in bench/ shares.

Design: every tool (tend and each peer) runs the same child, bench/stamp.c,
which appends "S pid ns" (CLOCK_MONOTONIC, the clock of time.monotonic_ns)
to a file as its first instruction. So "running", "restarted" and "stopped"
are measured from the outside, the same way for every tool, and never
through a tool's own idea of its state. A child's death is seen through a
pidfd (readable as soon as the process has exited).

Each peer has a small launcher class here (Tend, Supervisord, Runit, PM2)
that writes the tool's config into a fresh folder under bench/work, starts
the tool in its own session, and tears it down. Every process started is
registered so that it is killed at exit, whatever happens.

Tables: one per metric, printed as Markdown and appended to
bench/work/results/<bench>.md, which run.sh assembles into RESULTS.md.
"""

import atexit
import json
import os
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
WORK = os.path.join(BENCH, "work")
BIN = os.path.join(WORK, "bin")
STAMP = os.path.join(BIN, "stamp")
TEND = os.environ.get("TEND_BIN", os.path.join(ROOT, "tend"))
RESULTS = os.path.join(WORK, "results")
NODE_BIN = os.path.join(WORK, "node_modules", ".bin")
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")

_started = []          # Popen objects to kill at exit
_stamp_files = set()   # stamp files whose pids are killed at exit


def reps(full, quick):
    """Repetition count (or size) for this mode."""
    return quick if QUICK else full


def now():
    """Monotonic nanoseconds, the clock stamp.c writes."""
    return time.monotonic_ns()


_t_start = time.monotonic()


def log(*args):
    """Progress line on stderr (the tables go to stdout), with the seconds
    since this benchmark started."""
    print(f"  .. {time.monotonic() - _t_start:6.1f}s", *args,
          file=sys.stderr, flush=True)


def have(cmd):
    """Path of an executable, or None."""
    if os.path.isabs(cmd):
        return cmd if os.access(cmd, os.X_OK) else None
    return shutil.which(cmd, path=os.environ.get("PATH", "") + ":" + NODE_BIN)


def fresh_dir(*parts):
    """An empty folder under bench/work."""
    path = os.path.join(WORK, "run", *parts)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def raise_nofile():
    """Raise the fd limit: 1000 runners and 500 SSE clients need it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def wait_for(pred, timeout, interval=0.005, what="condition"):
    """Polls pred until truthy; returns its value, or None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            log(f"timed out after {timeout:.0f} s waiting for {what}")
            return None
        time.sleep(interval)


# -- statistics ------------------------------------------------------------

def median(xs):
    return statistics.median(xs) if xs else None


def pct(xs, p):
    """The p-th percentile (nearest rank) of xs."""
    if not xs:
        return None
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def fmt(x, digits=3):
    """A number for a table cell, '-' for None."""
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def ratio(x, ref):
    """x / ref as a table cell ('-' when either is missing)."""
    if x is None or ref is None or ref == 0:
        return "-"
    r = x / ref
    return f"{r:.2f}x" if 0.1 <= r < 100 else f"{r:.2g}x" if r < 0.1 \
        else f"{r:,.0f}x"


class Table:
    """One metric's table: printed as Markdown, saved for RESULTS.md."""

    def __init__(self, name, title, headers, note=""):
        self.name = name
        self.title = title
        self.headers = headers
        self.note = note
        self.rows = []
        self.after = []

    def row(self, *cells):
        self.rows.append([fmt(c) for c in cells])

    def missing(self, tool, why):
        """A peer that could not be measured, with the reason."""
        self.rows.append([tool, f"not measured: {why}"] +
                         [""] * (len(self.headers) - 2))

    def line(self, text):
        """A sentence printed under the table (e.g. the issue's target)."""
        self.after.append(text)

    def markdown(self):
        out = [f"### {self.title}", ""]
        if self.note:
            out += [self.note, ""]
        out.append("| " + " | ".join(self.headers) + " |")
        out.append("|" + "|".join("---" for _ in self.headers) + "|")
        for r in self.rows:
            out.append("| " + " | ".join(r) + " |")
        if self.after:
            out.append("")
            out += self.after
        return "\n".join(out) + "\n"

    def emit(self):
        text = self.markdown()
        print("\n" + text, flush=True)
        os.makedirs(RESULTS, exist_ok=True)
        with open(os.path.join(RESULTS, self.name + ".md"), "a") as f:
            f.write(text + "\n")


def reset_results(name):
    """Forget a bench's earlier tables (each run writes them anew)."""
    for ext in (".md", ".headline.jsonl"):
        try:
            os.unlink(os.path.join(RESULTS, name + ext))
        except FileNotFoundError:
            pass


def headline(name, metric, tend, target, peers):
    """One line of RESULTS.md's headline table: the metric, tend's figure,
    the issue's target and the peers' figures (all as text)."""
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, name + ".headline.jsonl"), "a") as f:
        f.write(json.dumps({"metric": metric, "tend": tend,
                            "target": target, "peers": peers}) + "\n")


# -- processes -------------------------------------------------------------

def spawn(argv, cwd=None, env=None, stdout=None, stderr=None, stdin=None,
          cpus=None):
    """Starts a tool in its own session, registered for clean-up."""
    if cpus is not None and have("taskset"):
        argv = ["taskset", "-c", cpus] + list(argv)
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=stdout or
                         subprocess.DEVNULL, stderr=stderr or
                         subprocess.DEVNULL, stdin=stdin or
                         subprocess.DEVNULL, start_new_session=True)
    _started.append(p)
    return p


def kill_tree(p, sig=signal.SIGKILL):
    """Kills a started tool's process group (and so its session's)."""
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_proc(p, sig=signal.SIGTERM, timeout=20):
    """Signals a tool and waits for it; SIGKILL after timeout."""
    if p is None or p.poll() is not None:
        return
    try:
        p.send_signal(sig)
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_tree(p)
        p.wait()


def register_stamps(path):
    """Children listed in this stamp file are killed at exit."""
    _stamp_files.add(path)


def kill_stamped(path):
    """SIGKILLs every live child recorded in a stamp file."""
    for _, pid, _ in read_stamps(path):
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@atexit.register
def _cleanup():
    for p in _started:
        if p.poll() is None:
            try:
                p.terminate()
            except ProcessLookupError:
                pass
    for p in _started:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            kill_tree(p)
    for path in _stamp_files:
        kill_stamped(path)
    reap_orphans()


def reap_orphans():
    """Reaps exited processes reparented to us (we are a subreaper, so a
    tool's leftovers do not end as zombies of pid 1)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _become_subreaper():
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


_become_subreaper()


def _on_signal(signum, frame):
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


def pid_alive(pid):
    """True when pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def children_of(pid):
    """Pids whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
            if int(st[1]) == pid:
                out.append(int(d))
        except (OSError, IndexError):
            pass
    return out


def read_stamps(path):
    """[(kind, pid, ns)] from a stamp file (partial last line ignored)."""
    try:
        with open(path) as f:
            data = f.read()
    except FileNotFoundError:
        return []
    out = []
    for line in data.split("\n")[:-1]:
        parts = line.split()
        if len(parts) == 3:
            out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def starts(path):
    """The 'S' stamps of a file."""
    return [s for s in read_stamps(path) if s[0] == "S"]


def wait_exited(pids, timeout):
    """Waits until every pid has exited (pidfd readable); returns the
    monotonic ns when the last one went, or None on timeout."""
    ep = select.epoll()
    fds = {}
    last = now()
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        fds[fd] = pid
        ep.register(fd, select.EPOLLIN)
    deadline = time.monotonic() + timeout
    try:
        while fds:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            for fd, _ in ep.poll(min(left, 1.0)):
                last = now()
                ep.unregister(fd)
                os.close(fd)
                del fds[fd]
        return last
    finally:
        for fd in fds:
            os.close(fd)
        ep.close()


def open_pidfds(pids):
    """pidfds for pids (taken before a stop so a recycled pid is never
    watched); returns {fd: pid}."""
    out = {}
    for pid in pids:
        try:
            out[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            pass
    return out


def wait_pidfds(fds, timeout):
    """Like wait_exited, over pidfds opened before; closes them."""
    ep = select.epoll()
    last = now()
    for fd in fds:
        ep.register(fd, select.EPOLLIN)
    deadline = time.monotonic() + timeout
    left_fds = dict(fds)
    try:
        while left_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            for fd, _ in ep.poll(min(left, 1.0)):
                last = now()
                ep.unregister(fd)
                del left_fds[fd]
        return last
    finally:
        for fd in fds:
            os.close(fd)
        ep.close()


def descendants(pid):
    """Every process below pid, breadth first."""
    out, todo = [], [pid]
    while todo:
        kids = children_of(todo.pop(0))
        out += kids
        todo += kids
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def peak_rss_kib(pid):
    """VmHWM (peak RSS) of a live process, in KiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def mem_kib(pids):
    """(RSS, PSS) in KiB summed over pids."""
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def cpu_ticks(pids):
    """utime + stime (all threads) in clock ticks, summed over pids."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
            total += int(st[11]) + int(st[12])
        except (OSError, IndexError):
            pass
    return total


def cpu_ns(pids):
    """CPU time on the CPU in ns (schedstat), all threads of pids."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total


def ctx_switches(pids):
    """Voluntary and involuntary context switches, all threads of pids."""
    vol = inv = 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{pid}/task/{t}/status") as f:
                    for line in f:
                        if line.startswith("voluntary_ctxt_switches"):
                            vol += int(line.split()[1])
                        elif line.startswith("nonvoluntary_ctxt_switches"):
                            inv += int(line.split()[1])
            except OSError:
                pass
    return vol, inv


# -- tend ------------------------------------------------------------------

class Tend:
    """A `tend up` on a fresh folder."""

    label = "tend"

    def __init__(self, folder, children, http=False, **root):
        self.dir = folder
        self.cfg = {"name": "bench", "children": children}
        self.cfg["http"] = {"listen": "127.0.0.1:0"} if http else {
            "listen": False}
        self.cfg.update(root)
        self.path = os.path.join(folder, "tend.json")
        with open(self.path, "w") as f:
            json.dump(self.cfg, f, indent=1)
        self.state = os.path.join(folder, ".tend")
        self.proc = None
        self.url = self.token = None

    def start(self, cpus=None):
        self.err = open(os.path.join(self.dir, "tend.err"), "w")
        # The foreground printer writes to /dev/null: the daemon detached,
        # as supervisord and pm2 run.
        self.proc = spawn([TEND, "up", "-c", self.path], cwd=self.dir,
                          stderr=self.err, cpus=cpus)
        return self

    @property
    def pids(self):
        return [self.proc.pid]

    def wait_api(self, timeout=20):
        """Reads the URL and token once the API is up."""
        def ready():
            try:
                with open(os.path.join(self.state, "daemon.json")) as f:
                    d = json.load(f)
                with open(os.path.join(self.state, "token")) as f:
                    return d["url"], f.read().strip()
            except (OSError, ValueError, KeyError):
                return None
        got = wait_for(ready, timeout, 0.01, "tend's daemon.json")
        if not got:
            raise RuntimeError("tend did not publish its API: " +
                               self.stderr())
        self.url, self.token = got
        return self

    def get(self, path):
        req = urllib.request.Request(self.url + path, headers={
            "Authorization": "Bearer " + self.token})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def events(self):
        """The parsed lines of events.jsonl."""
        out = []
        try:
            with open(os.path.join(self.state, "events.jsonl")) as f:
                for line in f:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
        except FileNotFoundError:
            pass
        return out

    def stderr(self):
        try:
            with open(os.path.join(self.dir, "tend.err")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self, timeout=60):
        stop_proc(self.proc, signal.SIGTERM, timeout)


# -- supervisord -----------------------------------------------------------

class Supervisord:
    """supervisord in the foreground with one [program:x] per runner."""

    label = "supervisord"

    def __init__(self, folder, programs, http_port=None, minfds=4096):
        """programs: [(name, command, {option: value})]."""
        self.dir = folder
        lines = ["[supervisord]", "nodaemon=true",
                 f"logfile={folder}/supervisord.log", "loglevel=warn",
                 f"pidfile={folder}/supervisord.pid",
                 f"childlogdir={folder}", f"minfds={minfds}",
                 "minprocs=200", ""]
        if http_port:
            lines += ["[inet_http_server]", f"port=127.0.0.1:{http_port}",
                      "", "[rpcinterface:supervisor]",
                      "supervisor.rpcinterface_factory = "
                      "supervisor.rpcinterface:make_main_rpcinterface", ""]
        for name, cmd, opts in programs:
            lines.append(f"[program:{name}]")
            lines.append(f"command={cmd}")
            base = {"stdout_logfile": "NONE", "stderr_logfile": "NONE",
                    "autorestart": "false", "startsecs": "0"}
            base.update(opts)
            lines += [f"{k}={v}" for k, v in base.items()]
            lines.append("")
        self.conf = os.path.join(folder, "supervisord.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines))
        self.proc = None

    def start(self, cpus=None):
        self.proc = spawn(["supervisord", "-c", self.conf], cwd=self.dir,
                          cpus=cpus)
        return self

    @property
    def pids(self):
        return [self.proc.pid]

    def stop(self, timeout=60):
        stop_proc(self.proc, signal.SIGTERM, timeout)


def supervisor_version():
    try:
        return subprocess.run(["supervisord", "--version"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return None


# -- runit -----------------------------------------------------------------

class Runit:
    """runsvdir over one service folder per runner; ./run is a symlink to
    stamp (reading ./stamp.args), so runsv execs the child directly."""

    label = "runsvdir"

    def __init__(self, folder, services, log_config=None, down=False):
        """services: [(name, "FILE MODE ...")]; log_config: svlogd's
        config file content for a log service per runner (None: none);
        down: the services wait for `sv once` instead of starting."""
        self.dir = folder
        self.sv = os.path.join(folder, "sv")
        os.makedirs(self.sv)
        for name, args in services:
            d = os.path.join(self.sv, name)
            os.makedirs(d)
            os.symlink(STAMP, os.path.join(d, "run"))
            with open(os.path.join(d, "stamp.args"), "w") as f:
                f.write(args + "\n")
            if down:
                open(os.path.join(d, "down"), "w").close()
            if log_config is not None:
                ld = os.path.join(d, "log")
                os.makedirs(os.path.join(ld, "main"))
                with open(os.path.join(ld, "main", "config"), "w") as f:
                    f.write(log_config)
                with open(os.path.join(ld, "run"), "w") as f:
                    f.write("#!/bin/sh\nexec svlogd ./main\n")
                os.chmod(os.path.join(ld, "run"), 0o755)
        self.proc = None

    def start(self, cpus=None):
        self.proc = spawn(["runsvdir", "-P", self.sv], cwd=self.dir,
                          cpus=cpus)
        return self

    @property
    def pids(self):
        """runsvdir and its runsv processes (not the services)."""
        if not self.proc:
            return []
        return [self.proc.pid] + children_of(self.proc.pid)

    def stop(self, timeout=60):
        """SIGHUP: runsvdir sends TERM to every runsv, which stops its
        service and exits."""
        if self.proc is None or self.proc.poll() is not None:
            return
        below = descendants(self.proc.pid)
        fds = open_pidfds(below)
        self.proc.send_signal(signal.SIGHUP)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_tree(self.proc)
        # A runsv with a log service waits for its logger, which waits for
        # EOF: whatever is left after a short grace is killed.
        if wait_pidfds(fds, 5) is None:
            for pid in below:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        reap_orphans()


def deb_version(pkg):
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                           capture_output=True, text=True)
        return r.stdout.strip() or None
    except OSError:
        return None


# -- pm2 -------------------------------------------------------------------

PM2_HOME = os.path.join(WORK, "pm2home")


def pm2_env():
    env = dict(os.environ)
    env["PM2_HOME"] = PM2_HOME
    env["PATH"] = NODE_BIN + ":" + env.get("PATH", "")
    return env


def npm_version(pkg):
    try:
        with open(os.path.join(WORK, "node_modules", pkg,
                               "package.json")) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return None


class PM2:
    """pm2's daemon (God) in bench/work/pm2home, apps from a JSON file."""

    label = "pm2"

    def __init__(self, folder, apps):
        """apps: list of pm2 app objects (name, script, args, ...)."""
        self.dir = folder
        self.eco = os.path.join(folder, "ecosystem.json")
        with open(self.eco, "w") as f:
            json.dump({"apps": apps}, f, indent=1)

    @staticmethod
    def available():
        return os.access(os.path.join(NODE_BIN, "pm2"), os.X_OK)

    @staticmethod
    def cli(*args, timeout=120):
        return subprocess.run([os.path.join(NODE_BIN, "pm2")] + list(args),
                              env=pm2_env(), capture_output=True, text=True,
                              timeout=timeout)

    @classmethod
    def kill_daemon(cls):
        if cls.available():
            try:
                cls.cli("kill", timeout=60)
            except subprocess.TimeoutExpired:
                pass
        pid = cls.daemon_pid()
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)

    @staticmethod
    def daemon_pid():
        try:
            with open(os.path.join(PM2_HOME, "pm2.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def start_daemon(self):
        """Starts the God daemon alone (so its start-up is not timed)."""
        self.cli("ping")
        return self

    def start(self):
        r = self.cli("start", self.eco)
        if r.returncode != 0:
            raise RuntimeError("pm2 start failed: " + r.stderr[-500:])
        return self

    @property
    def pids(self):
        pid = self.daemon_pid()
        return [pid] if pid else []

    def stop(self, timeout=60):
        self.kill_daemon()


atexit.register(lambda: PM2.kill_daemon() if os.path.isdir(PM2_HOME)
                and PM2.daemon_pid() else None)
