"""The terminal as supervisorctl and pm2 users expect it (issue 12, items
1-4, 6-8): options before the command, help for every command, idempotent
start/stop, logs without a daemon, `logs -f` from the last lines, a
follower that finds a daemon back on a new port, a stale daemon.json named
as such, and a missing tend.json that says what to do."""

import os
import signal
import subprocess

from apihelp import cli, jsonl_text, runner_state, ticker, tree
from conftest import SLOW, TEND_BIN, wait_for


def daemon(tend_factory, *children, **root):
    d = tend_factory(tree(*(children or (ticker("api"),)), **root), http=True)
    d.url()
    wait_for(lambda: runner_state(d, "api")["state"] == "running", 10,
             what="running")
    return d


def test_options_before_the_command(tend_factory, tmp_path):
    d = daemon(tend_factory)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = cli(d, "-c", d.config_path, "status", cwd=str(elsewhere),
            check_code=0)
    assert "api" in r.stdout
    r = cli(d, "--url", d.url(), "--token", d.token(), "status", "--names",
            cwd=str(elsewhere), check_code=0)
    assert r.stdout.split() == ["dev", "api"]
    r = cli(d, "--json", "status", check_code=0)
    assert r.stdout.lstrip().startswith("{")
    # --token wins over the token file: a wrong one is a refusal.
    r = cli(d, "status", "--token", "0" * 64, check_code=1)
    assert "token" in r.stderr
    r = cli(d, "--bogus", "status", check_code=2)
    assert "--bogus" in r.stderr


def test_version_and_help(tmp_path):
    run = lambda *a: subprocess.run([TEND_BIN, *a], capture_output=True,
                                    text=True, cwd=tmp_path, timeout=30)
    for args in (["--version"], ["-V"], ["version"]):
        r = run(*args)
        assert r.returncode == 0 and r.stdout.startswith("tend "), args
    r = run("-h")
    assert r.returncode == 0 and "usage: tend" in r.stdout
    commands = [l.split()[0] for l in r.stdout.split("commands:\n")[1]
                .split("\n\n")[0].splitlines()]
    assert {"up", "init", "status", "logs", "events", "help"} <= set(commands)
    for name in commands:
        r = run("help", name)
        assert r.returncode == 0, (name, r.stderr)
        assert r.stdout.startswith(f"usage: tend {name}"), (name, r.stdout)
    # Options that exist are in the help (they used to be missing).
    assert "-n, --lines" in run("help", "events").stdout
    assert "--json" in run("help", "events").stdout
    assert "--names" in run("help", "status").stdout
    assert "--token" in run("help", "logs").stdout
    assert "-n all" in run("logs", "--help").stdout
    assert run("help", "nope").returncode == 2


def test_start_and_stop_are_idempotent(tend_factory):
    d = daemon(tend_factory)
    r = cli(d, "start", "api", check_code=0)
    assert "already" in r.stdout
    cli(d, "stop", "api", check_code=0)
    wait_for(lambda: runner_state(d, "api")["state"] == "stopped", 10,
             what="stopped")
    r = cli(d, "stop", "api", check_code=0)
    assert "already stopped" in r.stdout
    # A real failure still exits 1.
    r = cli(d, "stop", "nosuch", check_code=1)
    assert "nosuch" in r.stderr
    cli(d, "start", "api", check_code=0)
    wait_for(lambda: runner_state(d, "api")["state"] == "running", 10,
             what="running again")


def test_logs_without_a_daemon_reads_the_files(tend_factory):
    d = daemon(tend_factory, ticker("api", period="0.02"))
    wait_for(lambda: len(d.jsonl("api")) >= 20, 10, what="20 chunks")
    assert d.stop() == 0
    stored = jsonl_text(d.jsonl("api"))
    r = cli(d, "logs", "api", check_code=0)
    assert r.stdout == stored
    assert "reading" in r.stderr and "api.jsonl" in r.stderr
    r = cli(d, "logs", "-n", "3", "api", check_code=0)
    assert r.stdout == "".join(stored.splitlines(True)[-3:])
    r = cli(d, "logs", "nosuch", check_code=3)
    assert "no output recorded" in r.stderr


def test_stale_daemon_json_after_sigkill(tend_factory):
    d = daemon(tend_factory)
    pid = d.proc.pid
    d.kill9()
    r = cli(d, "status", check_code=3)
    assert f"pid {pid}" in r.stderr and "stale" in r.stderr, r.stderr
    assert "Couldn't connect" not in r.stderr


def test_logs_follow_starts_at_the_last_ten_lines(tend_factory):
    d = daemon(tend_factory, ticker("api", period="0.01"))
    wait_for(lambda: len(d.jsonl("api")) >= 40, 10, what="40 chunks")
    out = os.path.join(d.dir, "f.out")
    with open(out, "w") as f:
        p = subprocess.Popen([TEND_BIN, "logs", "-f", "api"], cwd=d.dir,
                             stdout=f, stderr=subprocess.DEVNULL,
                             env={**os.environ, "NO_COLOR": "1"})
    try:
        def first_tick():
            with open(out) as f:
                for line in f:
                    if line.startswith("tick "):
                        return int(line.split()[1])
        first = wait_for(first_tick, 10, what="the first line")
        # The first line printed is near the end of what was stored then,
        # not tick 1.
        assert first > 20, first
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=10 * SLOW)


def test_follow_finds_a_daemon_back_on_a_new_port(tend_factory):
    d = daemon(tend_factory, ticker("api", period="0.05"))
    first_url = d.url()
    out = os.path.join(d.dir, "f.out")
    with open(out, "w") as f:
        p = subprocess.Popen([TEND_BIN, "logs", "-f", "-n", "all", "api"],
                             cwd=d.dir, stdout=f, stderr=subprocess.PIPE,
                             env={**os.environ, "NO_COLOR": "1"})
    try:
        printed = lambda: open(out).read()
        wait_for(lambda: printed().count("tick") >= 5, 10, what="ticks")
        assert d.stop() == 0
        d.start()  # "127.0.0.1:0": another port
        wait_for(lambda: d._url_or_none() and d._url_or_none() != first_url,
                 10, what="a new port")
        n = len(d.jsonl("api"))
        wait_for(lambda: len(d.jsonl("api")) >= n + 5, 15,
                 what="output after the restart")
        wait_for(lambda: jsonl_text(d.jsonl("api")).startswith(printed())
                 and printed().count("[tend] ") >= 3, 20,
                 what="the follower caught up on the new port")
    finally:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=10 * SLOW)
    assert b"now at" in err, err


def test_missing_config_suggests_init(tmp_path):
    r = subprocess.run([TEND_BIN, "up"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert "tend.json does not exist" in r.stderr
    assert "tend init" in r.stderr


def two_tickers(tend_factory):
    err_ticker = {"name": "b", "cmd": "i=0; while true; do i=$((i+1)); "
                  "echo \"b out $i\"; echo \"b err $i\" >&2; sleep 0.05; done"}
    d = tend_factory(tree(ticker("api", period="0.05"),
                          {"name": "grp", "children": [err_ticker]}),
                     http=True)
    d.url()
    wait_for(lambda: len(d.jsonl("api")) >= 10 and len(d.jsonl("b")) >= 10,
             10, what="output of both")
    return d


def test_logs_merges_every_runner_in_time_order(tend_factory):
    d = two_tickers(tend_factory)
    r = cli(d, "logs", "--json", check_code=0)
    recs = [__import__("json").loads(l) for l in r.stdout.splitlines()]
    assert {x["runner"] for x in recs} == {"api", "b"}
    assert [x["ts"] for x in recs] == sorted(x["ts"] for x in recs)
    r = cli(d, "logs", check_code=0)
    lines = r.stdout.splitlines()
    assert all(l.startswith(("api | ", "b | ")) for l in lines), lines[:5]
    assert any(l.startswith("api | tick") for l in lines)
    assert any(l.startswith("b | b err") for l in lines)
    # A group: its runners only.
    r = cli(d, "logs", "grp", check_code=0)
    assert r.stdout and all(l.startswith("b | ")
                            for l in r.stdout.splitlines())
    # Several names, filters and decorations.
    r = cli(d, "logs", "api", "b", "--stream", "stderr", check_code=0)
    assert r.stdout and all(l.startswith("b | b err")
                            for l in r.stdout.splitlines())
    r = cli(d, "logs", "--grep", "(tick|out) 3$", check_code=0)
    assert sorted(r.stdout.splitlines()) == ["api | tick 3", "b | b out 3"]
    r = cli(d, "logs", "api", "-t", "-n", "2", check_code=0)
    import re
    assert all(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} tick",
                        l) for l in r.stdout.splitlines()), r.stdout
    assert len(r.stdout.splitlines()) == 2
    r = cli(d, "logs", "nosuch", check_code=1)
    assert "nosuch" in r.stderr
    r = cli(d, "logs", "--grep", "(", check_code=2)
    r = cli(d, "logs", "--since", "soon", check_code=2)


def test_logs_since_keeps_only_recent_output(tend_factory):
    d = two_tickers(tend_factory)
    everything = cli(d, "logs", "api", check_code=0).stdout.splitlines()
    import time
    time.sleep(1.0)  # output before this moment is older than --since
    recent = cli(d, "logs", "api", "--since", "0.5s",
                 check_code=0).stdout.splitlines()
    assert recent and not set(recent) & set(everything[:-12]), recent[:3]


def test_logs_follow_merges_live_output(tend_factory):
    d = two_tickers(tend_factory)
    out = os.path.join(d.dir, "m.out")
    with open(out, "w") as f:
        p = subprocess.Popen([TEND_BIN, "logs", "-f"], cwd=d.dir, stdout=f,
                             stderr=subprocess.DEVNULL,
                             env={**os.environ, "NO_COLOR": "1"})
    try:
        n_api = len(d.jsonl("api"))
        n_b = len(d.jsonl("b"))

        def followed():
            text = open(out).read()
            return (f"api | tick {n_api + 3}" in text and
                    any(f"b | b out {k}" in text
                        for k in range(n_b, n_b + 50)))
        wait_for(followed, 15, what="new lines of both runners")
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=10 * SLOW)


def test_up_detached_then_down(tmp_path):
    import json
    cfg = tree(ticker("api", period="0.1"),
               {"name": "slow", "cmd": ["sleep", "1000"],
                "ready": {"exec": ["sh", "-c", "test -e go"]}})
    (tmp_path / "tend.json").write_text(json.dumps(cfg))
    (tmp_path / "go").write_text("")
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("TEND_URL", None)
    env.pop("TEND_TOKEN", None)
    r = subprocess.run([TEND_BIN, "up", "-d"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120 * SLOW)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "up in the background" in r.stdout and "UI: http" in r.stdout
    pid = int(r.stdout.split("(pid ")[1].split(")")[0])
    try:
        # It returned once the tree was up, not before.
        st = json.loads(subprocess.run(
            [TEND_BIN, "status", "--json"], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=30).stdout)
        assert st["state"] == "running"
        assert {c["name"]: c["state"] for c in st["children"]}["slow"] in (
            "running", "ready")
        assert os.path.exists(tmp_path / ".tend" / "daemon.log")
        # The daemon is in a session of its own.
        assert os.getsid(pid) == pid
        r = subprocess.run([TEND_BIN, "ps"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "api" in r.stdout
        r = subprocess.run([TEND_BIN, "down"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120 * SLOW)
        assert r.returncode == 0, r.stderr
        assert "stopped" in r.stdout
        # down returns only once the daemon is gone, with every child.
        assert not os.path.exists(f"/proc/{pid}") or open(
            f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
        log = (tmp_path / ".tend" / "daemon.log").read_text()
        assert "daemon_stopped" in log
        assert "ERROR: AddressSanitizer" not in log
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_up_detached_reports_a_daemon_that_cannot_start(tmp_path):
    import json
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        cfg = tree(ticker("api"), http={"listen": f"127.0.0.1:{port}"})
        (tmp_path / "tend.json").write_text(json.dumps(cfg))
        r = subprocess.run([TEND_BIN, "up", "-d"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120 * SLOW)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the daemon exited" in r.stderr and "address already in use" in \
        r.stderr, r.stderr
    (tmp_path / "tend.json").write_text("{\"name\": 1}")
    r = subprocess.run([TEND_BIN, "up", "-d"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "invalid config" in r.stderr


def test_groups_take_start_stop_and_all_names_the_tree(tend_factory):
    d = tend_factory(tree(ticker("api"), {"name": "grp", "children": [
        ticker("w1"), ticker("w2")]}), http=True)
    d.url()
    state = lambda n: runner_state(d, n)["state"]
    wait_for(lambda: state("w2") == "running", 10, what="w2 up")
    group = lambda n: d.api("GET", f"/api/v1/groups/{n}")[1]["state"]
    cli(d, "stop", "grp", check_code=0)
    wait_for(lambda: state("w1") == "stopped" and state("w2") == "stopped"
             and group("grp") == "stopped", 10, what="grp stopped")
    assert state("api") == "running"
    # A stopped group is held: nothing restarts it by itself.
    r = cli(d, "status", check_code=0)
    assert "grp" in r.stdout
    cli(d, "start", "grp", check_code=0)
    wait_for(lambda: state("w1") == "running" and state("w2") == "running",
             10, what="grp started")
    cli(d, "stop", "all", check_code=0)
    wait_for(lambda: all(state(n) == "stopped" for n in ("api", "w1", "w2"))
             and group("dev") == "stopped", 10, what="the tree stopped")
    # The daemon stays up for the next command.
    assert d.proc.poll() is None
    cli(d, "start", "all", check_code=0)
    wait_for(lambda: all(state(n) == "running" for n in ("api", "w1", "w2")),
             10, what="the tree started")
    r = cli(d, "stop", "nosuch", check_code=1)
    assert "no runner or group named" in r.stderr


def test_status_says_the_last_edit_was_rejected(tend_factory):
    d = daemon(tend_factory)
    r = cli(d, "status", "--check", check_code=0)
    assert "rejected" not in r.stderr
    d.write_config(text='{"name": "dev", "children": [{"name": "api"}]}')
    wait_for(lambda: d.api("GET", "/api/v1/daemon")[1].get("config_error"),
             10, what="the rejected edit")
    r = cli(d, "status", check_code=0)
    assert "was rejected" in r.stderr and "children[0]" in r.stderr, r.stderr
    assert "api" in r.stdout
    cli(d, "status", "--check", check_code=1)
    d.write_config()
    wait_for(lambda: not d.api("GET", "/api/v1/daemon")[1].get(
        "config_error"), 10, what="the fixed config applied")
    cli(d, "status", "--check", check_code=0)


def test_a_daemon_whose_port_is_taken_never_says_it_started(tend_factory):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        d = tend_factory(tree(ticker("api"),
                              http={"listen": f"127.0.0.1:{port}"}))
        assert d.wait_exit() == 1
    types = [e.get("type") for e in d.events()]
    assert "daemon_started" not in types and "daemon_stopped" not in types, \
        types
    assert "address already in use" in d.stderr()


def test_the_terminal_shows_no_internal_steps(tend_factory):
    d = tend_factory(tree({"name": "db", "cmd": ["sleep", "1000"],
                           "ready": {"exec": ["true"]}}))
    d.wait_transition("db", "ready", timeout=15)
    # The log keeps the step inside "starting" ...
    assert ("db", "starting", "spawned_probe", "starting", None) in [
        t[:4] + (None,) for t in d.transitions("db")]
    # ... the terminal shows only what a person needs.
    out = d.stdout()
    assert "db: stopped --start--> starting" in out
    assert "db: starting --ready_ok--> ready" in out
    assert "spawned_probe" not in out, out
