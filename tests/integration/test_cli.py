"""The client commands (issue 4) against a real daemon: what they print and
their exit codes (0 ok, 1 refused, 2 usage, 3 no daemon reachable), the
ways they find the daemon, and `logs -f` reconnecting across a daemon
restart with no gap and no repeat."""

import json
import os
import re
import signal
import subprocess
import time

from apihelp import (cli, free_port, jsonl_text, runner_state, ticker, tree)
from conftest import SLOW, TEND_BIN, wait_for


def daemon(tend_factory, *children, **root):
    d = tend_factory(tree(*(children or (ticker("api"),)), **root), http=True)
    d.url()
    wait_for(lambda: runner_state(d, (children[0]["name"] if children
                                      else "api"))["state"] == "running",
             10, what="running")
    return d


def test_status_table_and_json(tend_factory):
    d = daemon(tend_factory, ticker("api"),
               {"name": "back", "children": [ticker("worker")]})
    wait_for(lambda: runner_state(d, "worker")["state"] == "running", 10)
    r = cli(d, "status", check_code=0)
    lines = r.stdout.splitlines()
    head = lines[0].split()
    assert head == ["NAME", "KIND", "STATE", "PID", "RUN", "RESTARTS",
                    "UPTIME", "LAST", "EXIT"], lines[0]
    rows = {l.split()[0]: l.split() for l in lines[1:]}
    assert rows["dev"][1] == "group"
    assert rows["api"][1:3] == ["runner", "running"]
    assert rows["api"][3] == str(runner_state(d, "api")["pid"])
    assert rows["worker"][2] == "running"
    assert re.match(r"^\d+[smhd]", rows["api"][6]), rows["api"]
    # Aligned: every row's STATE column starts where the header's does.
    col = lines[0].index("STATE")
    for l in lines[1:]:
        assert l[col - 2:col] == "  " and l[col] != " ", l
    # Children are indented under their group.
    assert any(l.startswith("    worker") for l in lines), lines
    assert "\033[" not in r.stdout, "no colour when not a terminal"

    r = cli(d, "status", "--json", check_code=0)
    doc = json.loads(r.stdout)
    assert doc["name"] == "dev" and doc["children"][0]["name"] == "api"


def test_actions_and_their_exit_codes(tend_factory):
    d = daemon(tend_factory)
    run = runner_state(d, "api")["run"]
    r = cli(d, "restart", "api", check_code=0)
    assert "api" in r.stdout
    wait_for(lambda: runner_state(d, "api")["run"] > run, 10, what="restart")
    cli(d, "stop", "api", check_code=0)
    wait_for(lambda: runner_state(d, "api")["state"] == "stopped", 10)
    cli(d, "start", "api", check_code=0)
    wait_for(lambda: runner_state(d, "api")["state"] == "running", 10)
    run = runner_state(d, "api")["run"]
    cli(d, "signal", "api", "HUP", check_code=0)
    wait_for(lambda: runner_state(d, "api")["run"] > run, 10, what="HUP")
    run = runner_state(d, "api")["run"]
    r = cli(d, "restart", "dev", check_code=0)
    assert "group" in r.stdout
    wait_for(lambda: runner_state(d, "api")["run"] > run, 10, what="group")

    # Refusals: exit 1 with the daemon's message.
    r = cli(d, "stop", "nope", check_code=1)
    assert "nope" in r.stderr
    r = cli(d, "restart", "nope", check_code=1)
    assert "nope" in r.stderr
    r = cli(d, "signal", "api", "NOPE", check_code=1)
    assert "NOPE" in r.stderr
    r = cli(d, "logs", "nope", check_code=1)
    assert "nope" in r.stderr


def test_usage_errors_exit_2(tend_factory):
    d = daemon(tend_factory)
    for args in (("start",), ("signal", "api"), ("stop", "a", "b"),
                 ("logs", "-n", "x", "api"),
                 ("status", "--bogus"), ("status", "-f")):
        r = cli(d, *args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert "usage" in r.stderr
    r = cli(d, "logs", "--help")
    assert r.returncode == 0 and "usage" in r.stdout


def test_no_daemon_exits_3(tend_factory, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = subprocess.run([TEND_BIN, "status"], cwd=empty, capture_output=True,
                       text=True, env={**os.environ, "TEND_URL": ""},
                       timeout=30)
    assert r.returncode == 3, r.stderr
    assert "no daemon" in r.stderr
    port = free_port()
    r = subprocess.run([TEND_BIN, "status", "--url",
                        f"http://127.0.0.1:{port}"], cwd=empty,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3, r.stderr
    # A daemon that stopped: its daemon.json is gone, and so is the API.
    d = daemon(tend_factory)
    cli(d, "status", check_code=0)
    assert d.stop() == 0
    cli(d, "status", check_code=3)


def test_finding_the_daemon(tend_factory, tmp_path):
    d = daemon(tend_factory)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # -c FILE from another folder.
    r = cli(d, "status", "-c", d.config_path, cwd=str(elsewhere),
            check_code=0)
    assert "api" in r.stdout
    # TEND_URL + TEND_TOKEN.
    env = {"TEND_URL": d.url(), "TEND_TOKEN": d.token()}
    r = cli(d, "status", cwd=str(elsewhere), env=env, check_code=0)
    assert "api" in r.stdout
    # --url wins; a wrong token is a refusal (1), not "unreachable".
    r = cli(d, "status", "--url", d.url() + "/", cwd=str(elsewhere),
            env={"TEND_TOKEN": "0" * 64}, check_code=1)
    assert "token" in r.stderr


def test_logs_replay_and_last_lines(tend_factory):
    d = daemon(tend_factory, ticker("api", period="0.02"))
    wait_for(lambda: sum(c.get("data", "").count("tick") for c in
                         d.jsonl("api")) >= 30, 10, what="30 ticks")
    r = cli(d, "logs", "api", check_code=0)
    assert r.stdout.startswith("[tend] ")
    # What was printed is a prefix of what is stored now (it grows).
    assert jsonl_text(d.jsonl("api")).startswith(r.stdout)
    assert r.stdout.count("tick") >= 30

    r = cli(d, "logs", "-n", "3", "api", check_code=0)
    lines = r.stdout.splitlines()
    assert len(lines) == 3, lines
    nums = [int(l.split()[1]) for l in lines]
    assert nums == [nums[0], nums[0] + 1, nums[0] + 2]

    r = cli(d, "logs", "--json", "-n", "2", "api", check_code=0)
    objs = [json.loads(l) for l in r.stdout.splitlines()]
    assert len(objs) == 2 and objs[1]["seq"] == objs[0]["seq"] + 1
    by_seq = {c["seq"]: c for c in d.jsonl("api")}
    assert all(by_seq[o["seq"]] == o for o in objs)


def test_logs_follow_reconnects_across_a_daemon_restart(tend_factory):
    port = free_port()
    d = tend_factory(tree(ticker("api", period="0.05"),
                          http={"listen": f"127.0.0.1:{port}"}), http=True)
    d.url()
    wait_for(lambda: len(d.jsonl("api")) >= 3, 10, what="3 chunks")
    out_path = os.path.join(d.dir, "follow.out")
    err_path = os.path.join(d.dir, "follow.err")
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("TEND_URL", None)
    env.pop("TEND_TOKEN", None)
    with open(out_path, "w") as out, open(err_path, "w") as err_f:
        follower = subprocess.Popen([TEND_BIN, "logs", "-f", "-n", "all",
                                     "api"],
                                    cwd=d.dir, stdout=out,
                                    stderr=err_f, env=env)

    def err_text():
        with open(err_path) as f:
            return f.read()
    try:
        def printed():
            with open(out_path) as f:
                return f.read()
        wait_for(lambda: printed().count("tick") >= 10, 10,
                 what="ticks followed")
        assert d.stop() == 0
        # The follower has seen the daemon go (the point of the test is the
        # reconnect), rather than a guess at how long that takes.
        wait_for(lambda: "reconnecting" in err_text(), 10,
                 what="the follower noticed the stop")
        d.start()
        d.url()
        # After the restart, the follower catches up by itself and what it
        # printed is exactly the stored output: no gap, no repeat.
        n = len(d.jsonl("api"))
        wait_for(lambda: len(d.jsonl("api")) >= n + 5, 15,
                 what="output after the restart")
        wait_for(lambda: printed() == jsonl_text(d.jsonl("api"))[
            :len(printed())] and printed().count("[tend] ") >= 3, 20,
            what="the follower caught up")
        stored = jsonl_text(d.jsonl("api"))
        assert stored.startswith(printed())
        assert len(printed()) > len(stored) - 400
        assert follower.poll() is None, "logs -f is still following"
    finally:
        follower.send_signal(signal.SIGINT)
        follower.communicate(timeout=10 * SLOW)


def test_events_list_follow_and_last(tend_factory):
    d = daemon(tend_factory)
    r = cli(d, "events", check_code=0)
    assert re.search(r"api: \w+ --\w+--> running", r.stdout), r.stdout
    r = cli(d, "events", "-n", "1", check_code=0)
    assert len(r.stdout.splitlines()) == 1
    r = cli(d, "events", "--json", check_code=0)
    objs = [json.loads(l) for l in r.stdout.splitlines()]
    assert objs == d.events()[:len(objs)]

    # -n 0 prints no past event. The restart's events are the sentinel:
    # the follower resumes after the newest seq it saw at start (so it
    # cannot miss them however late its stream connects), and once they are
    # printed, everything it printed must be the restart's, in order, from
    # the first seq after the ones that existed when it started.
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("TEND_URL", None)
    last = d.events()[-1]["seq"]
    out_path = os.path.join(d.dir, "events.out")
    with open(out_path, "w") as out:
        follower = subprocess.Popen([TEND_BIN, "events", "-f", "-n", "0",
                                     "--json"],
                                    cwd=d.dir, stdout=out,
                                    stderr=subprocess.PIPE, env=env)
    try:
        # The restart must come after the follower took its starting point
        # (else -n 0 rightly starts after the restart's events): wait until
        # its stream is open.
        def streams():
            status, text = d.api("GET", "/metrics")
            m = re.search(r"^tend_http_sse_subscribers (\d+)", str(text), re.M)
            return m and int(m.group(1)) >= 1
        wait_for(streams, 10, what="the follower's stream open")
        assert d.events()[-1]["seq"] == last, "nothing happened meanwhile"
        cli(d, "restart", "api", check_code=0)

        def followed():
            with open(out_path) as f:  # whole lines only
                objs = [json.loads(l) for l in f.read().split("\n")[:-1]]
            return objs if any(o.get("node") == "api" and
                               o.get("to") == "running" for o in objs) \
                else None
        objs = wait_for(followed, 10, what="the restart's events")
        assert [o["seq"] for o in objs] == list(
            range(last + 1, last + 1 + len(objs))), objs
        assert objs == d.events()[last:last + len(objs)]
    finally:
        follower.send_signal(signal.SIGINT)
        follower.communicate(timeout=10 * SLOW)


def test_reload_and_resume(tend_factory):
    d = daemon(tend_factory, ticker("api", extra={
        "watch": {"paths": ["."], "include": ["*.txt"]}}))
    r = cli(d, "reload", check_code=0)
    assert "applied" in r.stdout
    d.write_config(text='{"name": "dev", "children": [\n'
                        '  {"name": "api", "cmd": "x", "restart": "often"}]}')
    r = cli(d, "reload", check_code=1)
    assert "tend.json:" in r.stderr and "restart" in r.stderr
    # The watch was never paused: nothing to resume, always.
    r = cli(d, "resume", "api", check_code=1)
    assert "has no paused watch" in r.stderr, r.stderr
    cli(d, "resume", "nope", check_code=1)
