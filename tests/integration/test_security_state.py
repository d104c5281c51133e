"""Security of the state folder (issue 13, items 1, 2, 3, 9 and 11).

tend runs as root here, so "another local user" is a real one
(tendtest2, created on demand). Every test checks the harm itself (a
victim file's bytes, a victim process's life), not only what tend says.
"""

import json
import os
import pwd
import signal
import stat
import subprocess

import pytest

from conftest import TEND_BIN, pid_alive, wait_for

OTHER_USER = "tendtest2"


def other_user():
    """(uid, gid) of a second local user, created when absent."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create and impersonate another user")
    try:
        pw = pwd.getpwnam(OTHER_USER)
    except KeyError:
        subprocess.run(["useradd", "-M", OTHER_USER], check=False,
                       capture_output=True)
        pw = pwd.getpwnam(OTHER_USER)
    return pw.pw_uid, pw.pw_gid


def victim_file(tmp_path, name="victim"):
    """A root-owned 0600 file outside the state folder; returns its path
    and its bytes."""
    path = str(tmp_path / name)
    with open(path, "w") as f:
        f.write("precious root data\n")
    os.chmod(path, 0o600)
    with open(path, "rb") as f:
        return path, f.read()


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def proc_start(pid):
    """Field 22 of /proc/PID/stat: start time in clock ticks since boot."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def boot_id():
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


@pytest.fixture
def bystander():
    """An unrelated process leading its own session and group (as a
    runner's would), with no TEND_STATE_DIR in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEND_")}
    p = subprocess.Popen(["sleep", "1000"], start_new_session=True, env=env)
    wait_for(lambda: pid_alive(p.pid), 5, what="the bystander to start")
    yield p
    p.kill()
    p.wait()


def crafted_state(pid, start, boot=None):
    doc = {"version": 1, "daemon_pid": 1,
           "process_groups": {"app": {"pgid": pid, "start": start}}}
    if boot is not None:
        doc["boot_id"] = boot
    return json.dumps(doc)


def exited_or_running(d, runner="app"):
    """Waits until the daemon exited or its runner is running; returns
    the exit status or None."""
    def settled():
        if d.proc.poll() is not None:
            return True
        return any(t[3] == "running" for t in d.transitions(runner))
    wait_for(settled, 15, what="tend to exit or to run the runner; stdout:\n"
             f"{d.stdout()[-2000:]}\nstderr:\n{d.stderr()[-2000:]}")
    return d.proc.poll()


APP = {"name": "r", "children": [
    {"name": "app", "cmd": ["sh", "-c", "echo hello from app; sleep 1000"]}]}


# ------------------------------------------------------------------ item 1

def test_state_dir_of_another_user_is_refused(tend_factory, tmp_path,
                                              bystander):
    uid, gid = other_user()
    d = tend_factory(APP, start=False)
    victim, before = victim_file(tmp_path)
    state = d.state_dir
    os.makedirs(os.path.join(state, "output"))
    os.symlink(victim, os.path.join(state, "output", "app.jsonl"))
    with open(os.path.join(state, "state.json"), "w") as f:
        f.write(crafted_state(bystander.pid, proc_start(bystander.pid),
                              boot_id()))
    for root, dirs, files in os.walk(state):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), uid, gid)
    os.chown(state, uid, gid)
    os.chmod(state, 0o755)
    d.start()
    code = d.wait_exit(15)
    assert code != 0, d.stderr()
    err = d.stderr()
    assert "owned by" in err and state in err, err
    assert read_bytes(victim) == before
    assert pid_alive(bystander.pid), "tend killed an unrelated process"


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777])
def test_state_dir_writable_by_others_is_refused(tend_factory, mode):
    d = tend_factory(APP, start=False)
    os.makedirs(d.state_dir)
    os.chmod(d.state_dir, mode)
    d.start()
    assert d.wait_exit(15) != 0, d.stderr()
    err = d.stderr()
    assert "writable by" in err and d.state_dir in err, err


@pytest.mark.parametrize("link", ["daemon.lock", "events.jsonl",
                                  "output/app.jsonl", "state.json"])
def test_symlinks_in_the_state_dir_are_not_followed(tend_factory, tmp_path,
                                                    link):
    d = tend_factory(APP, start=False)
    victim, before = victim_file(tmp_path)
    os.makedirs(os.path.join(d.state_dir, "output"), mode=0o700)
    os.chmod(d.state_dir, 0o700)
    os.symlink(victim, os.path.join(d.state_dir, link))
    d.start()
    code = exited_or_running(d)
    if code is None:
        d.wait_output("hello from app")
        d.stop()
    assert read_bytes(victim) == before, f"{link} was followed"
    st = os.stat(victim)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0


def test_rotation_renames_within_the_folder_without_following(tend_factory,
                                                             tmp_path):
    """A symlink where a rotated file goes is replaced, never written
    through."""
    victim, before = victim_file(tmp_path)
    d = tend_factory({"name": "r", "output": {"max_bytes": 4096, "keep": 2},
                      "children": [{"name": "big", "restart": "temporary",
                                    "cmd": ["python3", "-c",
                                            "print('x' * 100000)"]}]},
                     start=False)
    os.makedirs(os.path.join(d.state_dir, "output"), mode=0o700)
    os.chmod(d.state_dir, 0o700)
    for name in ("big.jsonl.1", "big.jsonl.2", "big.1.jsonl", "big.2.jsonl"):
        os.symlink(victim, os.path.join(d.state_dir, "output", name))
    d.start()
    d.wait_transition("big", "exited", timeout=15)
    assert read_bytes(victim) == before


# ------------------------------------------------------------------ item 2

@pytest.mark.parametrize("shift", [0, -1])
def test_recovery_leaves_an_unrelated_group_alone(tend_factory, bystander,
                                                  shift):
    # The recorded start equals the bystander's (shift 0: a reused pid
    # whose clock tick matches) or is earlier (-1: today's ">=" rule).
    d = tend_factory(APP, start=False)
    os.makedirs(d.state_dir, mode=0o700)
    os.chmod(d.state_dir, 0o700)
    with open(os.path.join(d.state_dir, "state.json"), "w") as f:
        f.write(crafted_state(bystander.pid, proc_start(bystander.pid) + shift,
                              boot_id()))
    d.start()
    d.wait_output("hello from app")
    assert pid_alive(bystander.pid), "recovery killed an unrelated process"
    skipped = wait_for(lambda: [e for e in d.events()
                                if e.get("type") == "recovery_skipped"], 10,
                       what="a recovery_skipped event")
    assert skipped[0]["pgid"] == bystander.pid
    assert skipped[0]["message"], skipped
    assert "recovered" not in [e.get("type") for e in d.events()]
    d.stop()


def test_state_json_records_the_boot_id(tend_factory):
    d = tend_factory(APP)
    d.wait_output("hello from app")
    wait_for(lambda: "app" in d.state().get("process_groups", {}), 10,
             what="the group in state.json")
    assert d.state()["boot_id"] == boot_id()
    d.stop()


def test_recovery_wants_the_same_boot(tend_factory):
    # A real orphan of a killed daemon, but state.json says another boot:
    # its numbers mean nothing now, so it is not signalled through them.
    d = tend_factory(APP)
    d.wait_output("hello from app")
    pgid = wait_for(lambda: d.state().get("process_groups", {}).get("app"),
                    10, what="the group in state.json")["pgid"]
    d.kill9()
    doc = d.state()
    doc["boot_id"] = "00000000-0000-0000-0000-000000000000"
    with open(os.path.join(d.state_dir, "state.json"), "w") as f:
        json.dump(doc, f)
    # Not an unclean lock: only state.json could lead to the group.
    with open(os.path.join(d.state_dir, "daemon.lock"), "w"):
        pass
    try:
        d.start()
        d.wait_output("hello from app")
        skipped = wait_for(lambda: [e for e in d.events()
                                    if e.get("type") == "recovery_skipped"],
                           10, what="a recovery_skipped event")
        assert "boot" in skipped[0]["message"], skipped
        assert pid_alive(pgid)
        d.stop()
    finally:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ------------------------------------------------------------------ item 3

def test_files_and_folders_are_private_whatever_the_umask(tend_factory):
    d = tend_factory(APP, start=False)
    old = os.umask(0)
    try:
        d.start()
    finally:
        os.umask(old)
    d.wait_output("hello from app")
    wait_for(lambda: os.path.exists(os.path.join(d.state_dir, "state.json")),
             10, what="state.json")
    modes = {}
    for root, dirs, files in os.walk(d.state_dir):
        for n in dirs + files:
            p = os.path.join(root, n)
            modes[os.path.relpath(p, d.state_dir)] = stat.S_IMODE(
                os.lstat(p).st_mode)
    modes["."] = stat.S_IMODE(os.stat(d.state_dir).st_mode)
    want = {".": 0o700, "output": 0o700, "output/app.jsonl": 0o600,
            "events.jsonl": 0o600, "state.json": 0o600, "daemon.lock": 0o600}
    got = {k: modes.get(k) for k in want}
    assert got == want, {k: oct(v) if v is not None else None
                         for k, v in modes.items()}
    d.stop()


# ------------------------------------------------------------------ item 9

def test_rotation_never_overwrites_another_runners_log(tend_factory):
    d = tend_factory({"name": "r", "output": {"max_bytes": 4096, "keep": 3},
                      "children": [
                          {"name": "x.1", "cmd": ["sh", "-c",
                                                  "echo I am x.1; "
                                                  "sleep 1000"]},
                          {"name": "x", "restart": "temporary",
                           "cmd": ["python3", "-c",
                                   "import sys\n"
                                   "for i in range(400):\n"
                                   "    print('from x', i, 'y' * 60)\n"
                                   "    sys.stdout.flush()\n"]}]})
    d.wait_output("I am x.1")
    d.wait_transition("x", "exited", timeout=20)
    chunks = d.jsonl("x.1")
    data = "".join(c.get("data", "") for c in chunks)
    assert "I am x.1" in data and "from x" not in data, data[:300]
    assert {c.get("stream") for c in chunks} <= {"stdout", "stderr", "tend"}
    d.stop()


@pytest.mark.parametrize("name", ["a..b", "...", "..", ".", "x/y", "a\\b",
                                  "", "a" * 129])
def test_config_refuses_names_the_api_cannot_address(tmp_path, name):
    cfg = tmp_path / "tend.json"
    cfg.write_text(json.dumps({"name": "r", "children": [
        {"name": name, "cmd": ["true"]}]}))
    r = subprocess.run([TEND_BIN, "check", str(cfg)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0, (name, r.stdout, r.stderr)


@pytest.mark.parametrize("name", ["a.b", ".a", "a-", "x.1", "_", "a" * 128])
def test_config_accepts_names_the_api_can_address(tmp_path, name):
    cfg = tmp_path / "tend.json"
    cfg.write_text(json.dumps({"name": "r", "children": [
        {"name": name, "cmd": ["true"]}]}))
    r = subprocess.run([TEND_BIN, "check", str(cfg)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, (name, r.stdout, r.stderr)


# ----------------------------------------------------------------- item 11

def unused_signals():
    sigs = [signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGVTALRM,
            signal.SIGPROF, signal.SIGIO, signal.SIGXCPU, signal.SIGXFSZ,
            signal.SIGPWR, signal.SIGQUIT]
    if hasattr(signal, "SIGSTKFLT"):
        sigs.append(signal.SIGSTKFLT)
    sigs += [signal.SIGRTMIN, signal.SIGRTMIN + 1, signal.SIGRTMAX]
    return sigs


def test_unused_signals_are_logged_and_ignored(tend_factory):
    d = tend_factory(APP, http=True)
    d.wait_output("hello from app")
    status, _ = d.api("GET", "/api/v1/tree")
    assert status == 200
    child = wait_for(lambda: d.state().get("process_groups", {}).get("app"),
                     10, what="the group in state.json")["pgid"]
    try:
        for k, signo in enumerate(unused_signals()):
            name = f"signal {int(signo)}"
            os.kill(d.proc.pid, signo)
            wait_for(lambda: d.stderr().count("ignoring") > k
                     or d.proc.poll() is not None, 10,
                     what=f"a log line about {name}")
            assert d.proc.poll() is None, f"{name} killed tend: {d.stderr()}"
            status, _ = d.api("GET", "/api/v1/tree")
            assert status == 200, name
            assert pid_alive(child), f"{name} killed the child"
    finally:
        if d.proc.poll() is not None and pid_alive(child):
            os.killpg(child, signal.SIGKILL)  # orphaned by a dead tend
    assert d.stderr().count("ignoring") >= len(unused_signals()), d.stderr()
    assert d.stop() == 0


def test_detached_up_checks_the_folder_before_its_log(tend_factory):
    # `tend up -d` appends to <state_dir>/daemon.log before the daemon
    # runs: the folder is checked first.
    d = tend_factory(APP, start=False)
    os.makedirs(d.state_dir)
    os.chmod(d.state_dir, 0o777)
    r = subprocess.run([TEND_BIN, "up", "-d", "-c", d.config_path],
                       cwd=d.dir, capture_output=True, text=True, timeout=60)
    if r.returncode == 0:  # it started: stop it before failing
        subprocess.run([TEND_BIN, "down", "-c", d.config_path], cwd=d.dir,
                       capture_output=True, timeout=60)
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert "writable by" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(d.state_dir, "daemon.log"))
