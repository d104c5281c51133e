"""The first hour with tend (issue 11): what a new user meets at once.

- a runner that keeps failing fails on its own, its siblings untouched;
- a command that cannot start says why, and keeps saying it;
- run and restart numbers survive a daemon restart and mean one thing;
- env_file and max_memory.

Every wait polls with a generous bound (conftest.wait_for).
"""

import json
import os
import subprocess

from apihelp import cli, tree_node as node
from conftest import SLOW, TEND_BIN, lines, pid_alive, wait_for


def status_rows(d):
    """`tend status` as {name: [columns...]} (LAST EXIT joined)."""
    r = cli(d, "status", check_code=0)
    rows = {}
    for line in r.stdout.splitlines()[1:]:
        cols = line.split(None, 7)
        rows[cols[0]] = cols
    return rows


def flat(*children, **root):
    cfg = {"name": "dev", "children": list(children)}
    cfg.update(root)
    return cfg


STEADY = {"name": "steady", "cmd": "echo $$ > steady.pid; exec sleep 1000"}


# --- 1. one crash loop does not stop the healthy runners ----------------

def crash_loop_stays_isolated(tend_factory, crasher, reason_part):
    d = tend_factory(flat(STEADY, crasher), http=True)
    wait_for(lambda: lines(d.path("steady.pid")), 10, what="steady started")
    pid = int(lines(d.path("steady.pid"))[0])
    d.wait_transition("boom", "failed", timeout=30)
    # The root never gave up, and the healthy sibling never moved.
    assert "failed" not in [t[3] for t in d.transitions("dev")]
    assert [t[3] for t in d.transitions("steady")] == ["starting", "running"]
    assert pid_alive(pid)
    b = node(d, "boom")
    assert b["state"] == "failed", b
    assert b["last_exit"], b
    assert reason_part in json.dumps(b["last_exit"]), b
    assert "restart_limit" in (b.get("reason") or ""), b
    assert node(d, "dev")["state"] == "running"
    assert node(d, "steady")["state"] == "running"
    rows = status_rows(d)
    assert rows["boom"][2] == "failed", rows
    assert reason_part in rows["boom"][-1], rows
    assert rows["steady"][2] == "running", rows
    return d


def test_crash_loop_fails_alone(tend_factory):
    crash_loop_stays_isolated(
        tend_factory, {"name": "boom", "cmd": "echo boom; exit 1"},
        "status 1")


def test_missing_command_fails_alone_and_keeps_its_error(tend_factory):
    crash_loop_stays_isolated(
        tend_factory, {"name": "boom", "cmd": ["no-such-command-xyz"]},
        "not found")


def test_failed_runner_starts_again_on_request(tend_factory):
    d = tend_factory(flat(STEADY, {
        "name": "boom", "cmd": "echo $$ >> boom.pids; "
                               "if [ -e fixed ]; then exec sleep 1000; fi; "
                               "exit 1",
        "restart_limit": {"max_restarts": 2, "period_s": 60}}), http=True)
    d.wait_transition("boom", "failed", timeout=30)
    assert len(lines(d.path("boom.pids"))) == 3  # first run + 2 restarts
    open(d.path("fixed"), "w").close()
    cli(d, "start", "boom", check_code=0)
    wait_for(lambda: node(d, "boom")["state"] == "running", 10,
             what="boom running again")
    # It was given a fresh budget: it crashes twice more before failing.
    os.unlink(d.path("fixed"))
    cli(d, "restart", "boom", check_code=0)
    d.wait_transition("boom", "failed", count=2, timeout=30)
    assert len(lines(d.path("boom.pids"))) == 4 + 3


def test_intensity_set_on_a_group_keeps_otp_escalation(tend_factory):
    # The user asked for OTP semantics: the group gives up and stops its
    # healthy child; the runner's own limit does not get in the way.
    d = tend_factory(flat({
        "name": "g", "intensity": {"max_restarts": 3, "period_s": 30},
        "children": [STEADY, {"name": "boom", "cmd": ["false"],
                              "backoff": {"initial_ms": 0}}]}))
    d.wait_transition("g", "failed", timeout=30)
    assert len([t for t in d.transitions("boom") if t[3] == "starting"]) == 4
    assert "failed" in [t[3] for t in d.transitions("steady")] or \
        "stopped" in [t[3] for t in d.transitions("steady")]


def test_a_failed_group_stays_failed_under_a_parent_without_intensity(
        tend_factory):
    # Escalation goes up only while the parents set intensity: the root
    # has none, so it keeps the failed group failed (not restarted in a
    # loop) and its other children running.
    other = {"name": "other", "cmd": "echo $$ > other.pid; exec sleep 1000"}
    d = tend_factory(flat(other, {
        "name": "g", "intensity": {"max_restarts": 2, "period_s": 30},
        "children": [{"name": "boom", "cmd": "echo x >> boom.runs; exit 1",
                      "backoff": {"initial_ms": 0}}]}), http=True)
    d.wait_transition("g", "failed", timeout=30)
    wait_for(lambda: lines(d.path("other.pid")), 10)
    n = len(lines(d.path("boom.runs")))
    assert n == 3, n
    # Give a wrong restart of g every chance to show up.
    wait_for(lambda: node(d, "g")["state"] == "failed", 10)
    d.wait_transition("boom", "failed", timeout=10)
    assert len(lines(d.path("boom.runs"))) == 3
    assert node(d, "dev")["state"] == "running"
    assert node(d, "other")["state"] == "running"
    assert pid_alive(int(lines(d.path("other.pid"))[0]))


# --- 2. a command that cannot start is not a crash --------------------

def spawn_reason(d, name):
    d.wait_transition(name, "exited", timeout=20)
    ex = [t for t in d.transitions(name) if t[3] == "exited"]
    return ex[0][4] or ""


def test_spawn_errors_say_what_is_wrong(tend_factory, tmp_path):
    (tmp_path / "adir").mkdir()
    (tmp_path / "noexec.sh").write_text("echo hi\n")
    os.chmod(tmp_path / "noexec.sh", 0o644)
    once = {"restart": "temporary"}
    d = tend_factory(flat(
        {"name": "dir", "cmd": ["./adir"], **once},
        {"name": "noexec", "cmd": ["./noexec.sh"], **once},
        {"name": "nopath", "cmd": ["no-such-command-xyz"], **once},
        {"name": "nofile", "cmd": ["./no-such-file"], **once},
        {"name": "nocwd", "cmd": ["true"], "cwd": "gone", **once},
        STEADY), http=True)
    want = {"dir": "is a directory",
            "noexec": "permission denied (not executable)",
            "nopath": "not found on PATH",
            "nofile": "no such file",
            "nocwd": "does not exist"}
    for name, part in want.items():
        reason = spawn_reason(d, name)
        assert part in reason, (name, reason)
        le = node(d, name)["last_exit"]
        assert le and part in le.get("spawn_error", ""), (name, le)
    assert "cwd " in node(d, "nocwd")["last_exit"]["spawn_error"]
    rows = status_rows(d)
    for name, part in want.items():
        assert part in rows[name][-1], (name, rows[name])


def test_spawn_error_survives_the_runner_failing(tend_factory):
    d = tend_factory(flat(STEADY, {"name": "boom", "cmd": ["./nope"]}),
                     http=True)
    d.wait_transition("boom", "failed", timeout=30)
    assert "no such file" in node(d, "boom")["last_exit"]["spawn_error"]
    assert "no such file" in status_rows(d)["boom"][-1]


def test_a_shell_command_not_found_says_so(tend_factory):
    d = tend_factory(flat(STEADY, {"name": "sh", "restart": "temporary",
                                   "cmd": "no-such-command-xyz --flag"}),
                     http=True)
    d.wait_transition("sh", "exited")
    le = node(d, "sh")["last_exit"]
    assert le["status"] == 127, le
    assert "command not found" in le["reason"], le


def test_check_warns_about_commands_and_cwd(tmp_path):
    cfg = tmp_path / "tend.json"
    cfg.write_text(
        '{\n'
        '  "name": "r",\n'
        '  "children": [\n'
        '    {"name": "a", "cmd": ["no-such-command-xyz", "-v"]},\n'
        '    {"name": "b", "cmd": "no-such-command-abc --flag | cat"},\n'
        '    {"name": "c", "cmd": ["true"], "cwd": "missing-dir"},\n'
        '    {"name": "d", "cmd": "FOO=1 exec ls"},\n'
        '    {"name": "e", "cmd": ["sh", "-c", "true"]}\n'
        '  ]\n}\n')
    r = subprocess.run([TEND_BIN, "check", str(cfg)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    warns = r.stderr.strip().splitlines()
    assert len(warns) == 3, warns
    assert warns[0].startswith(f"{cfg}:4:"), warns
    assert ": warning: " in warns[0] and "no-such-command-xyz" in warns[0]
    assert warns[1].startswith(f"{cfg}:5:") and "no-such-command-abc" in \
        warns[1], warns
    assert warns[2].startswith(f"{cfg}:6:") and "missing-dir" in warns[2]


# --- 5. counters across daemon restarts ---------------------------------

def test_run_and_restart_numbers_survive_a_daemon_restart(tend_factory):
    flaky = {"name": "flaky",
             "cmd": "n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); "
                    "echo $n > n; [ $n -le 2 ] && exit 1; exec sleep 1000",
             "backoff": {"initial_ms": 10}}
    d = tend_factory(flat(STEADY, flaky), http=True)
    wait_for(lambda: node(d, "flaky")["run"] == 3 and
             node(d, "flaky")["state"] == "running", 15, what="flaky up")

    def counters():
        return {n: (node(d, n)["run"], node(d, n)["restarts"])
                for n in ("steady", "flaky")}
    assert counters() == {"steady": (1, 0), "flaky": (3, 2)}
    assert d.stop() == 0

    d.start()
    wait_for(lambda: node(d, "flaky")["state"] == "running" and
             node(d, "steady")["state"] == "running", 15, what="up again")
    # A daemon restart starts every runner again: a new run, not a
    # restart by the supervisor.
    assert counters() == {"steady": (2, 0), "flaky": (4, 2)}
    rows = status_rows(d)
    assert rows["steady"][4:6] == ["2", "0"], rows["steady"]
    assert rows["flaky"][4:6] == ["4", "2"], rows["flaky"]
    # A user's restart is a new run, not a supervisor restart either.
    cli(d, "restart", "steady", check_code=0)
    wait_for(lambda: node(d, "steady")["run"] == 3 and
             node(d, "steady")["state"] == "running", 10)
    assert node(d, "steady")["restarts"] == 0
    # state.json agrees with the API.
    wait_for(lambda: any(c["name"] == "flaky" and c["restarts"] == 2 and
                         c["run"] == 4 for c in d.state()["tree"]["children"]),
             10, what="state.json")


def test_counters_are_shown_before_a_runner_starts(tend_factory):
    d = tend_factory(flat({"name": "job", "cmd": "exit 0",
                           "restart": "temporary"}), http=True)
    d.wait_transition("job", "exited")
    assert d.stop() == 0
    d.config["children"][0]["autostart"] = False
    d.write_config()
    d.start()
    wait_for(lambda: node(d, "job") is not None, 10)
    n = node(d, "job")
    assert n["run"] == 1 and n["restarts"] == 0, n
    assert n["last_exit"] and n["last_exit"].get("status") == 0, n


# --- 6. env_file and max_memory -----------------------------------------

PRINT_ENV = ("printf '%s|%s|%s|%s\\n' \"$A\" \"$B\" \"$C\" \"$D\" >> env.out; "
             "exec sleep 1000")


def test_env_file_layers_and_is_read_at_each_start(tend_factory):
    files = {
        "group.env": "# shared\nexport A=from-group\nB='group b'\n"
                     "C=group-c\n",
        "own.env": "B=\"own\\tb\"\n\nC=own-c # a comment\n",
    }
    os.environ["D"] = "from-daemon"
    try:
        d = tend_factory(flat({
            "name": "g", "env_file": "group.env", "children": [
                {"name": "p", "cmd": PRINT_ENV, "env_file": "own.env",
                 "env": {"C": "from-env"}}]}), files=files, http=True)
        wait_for(lambda: lines(d.path("env.out")), 10, what="env.out")
    finally:
        del os.environ["D"]
    # process env < group env_file < own env_file < env
    assert lines(d.path("env.out")) == ["from-group|own\tb|from-env|"
                                        "from-daemon"]
    with open(d.path("own.env"), "w") as f:
        f.write("B=edited\n")
    cli(d, "restart", "p", check_code=0)
    wait_for(lambda: len(lines(d.path("env.out"))) == 2, 10)
    assert lines(d.path("env.out"))[1] == "from-group|edited|from-env|" \
        "from-daemon"


def test_bad_env_file_is_a_spawn_failure_and_check_reports_it(
        tend_factory):
    files = {"bad.env": "A=1\nB=\"unterminated\n"}
    d = tend_factory(flat(STEADY, {"name": "p", "cmd": PRINT_ENV,
                                   "env_file": "bad.env",
                                   "restart": "temporary"}),
                     files=files, http=True)
    d.wait_transition("p", "exited")
    le = node(d, "p")["last_exit"]
    assert "bad.env:2: unterminated double quote" in le["spawn_error"], le
    assert not os.path.exists(d.path("env.out"))
    r = subprocess.run([TEND_BIN, "check", d.config_path],
                       capture_output=True, text=True)
    assert r.returncode == 1, r
    assert "bad.env:2: unterminated double quote" in r.stderr
    assert "env_file" in r.stderr


def test_max_memory_restarts_a_runner_over_the_limit(tend_factory):
    hog = ("echo $$ >> hog.pids; exec python3 -c "
           "\"x=bytearray(300<<20); import time; time.sleep(100)\"")
    d = tend_factory(flat(STEADY, {"name": "hog", "cmd": hog,
                                   "max_memory": "100M",
                                   "backoff": {"initial_ms": 0}}),
                     http=True)
    wait_for(lambda: len(lines(d.path("hog.pids"))) >= 2, 40,
             what="hog restarted for its memory")
    ex = [t for t in d.transitions("hog") if t[3] == "exited"]
    assert ex and "memory" in ex[0][4] and "max_memory" in ex[0][4], ex
    assert any(e.get("type") == "memory_limit" and e.get("node") == "hog"
               for e in d.events())
    assert node(d, "hog")["restarts"] >= 1
    assert node(d, "steady")["state"] == "running"
