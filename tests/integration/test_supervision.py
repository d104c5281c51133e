"""Supervision core (issue 2): a real tend up with real child processes.

Children record what happens to them in files of the scratch folder
(their pid on each start, a line on each stop), so the tests observe the
processes themselves, not only what tend says about them.
"""

import json
import os
import re
import signal
import subprocess
import time

from conftest import SLOW, TEND_BIN, free_port, lines, pid_alive, wait_for


def recorder(name, body="sleep 1000", log="starts.log"):
    """A shell command that logs 'start NAME PID' and 'stop NAME' (on
    TERM) to log, then runs body."""
    return (f"echo \"start {name} $$\" >> {log}; "
            f"trap 'echo \"stop {name}\" >> {log}; exit 0' TERM; "
            f"{body} & wait")


# --- tend check --------------------------------------------------------

def test_check_accepts_a_valid_file(tmp_path):
    cfg = tmp_path / "tend.json"
    cfg.write_text(json.dumps({"name": "r", "children": [
        {"name": "a", "cmd": ["true"]}]}))
    r = subprocess.run([TEND_BIN, "check", str(cfg)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr


def test_check_reports_every_error_with_position(tmp_path):
    cfg = tmp_path / "tend.json"
    cfg.write_text('{\n  "name": "r",\n  "children": [\n'
                   '    {"name": "a", "cmd": ["true"], "restart": "sometimes"},\n'
                   '    {"name": "a", "cmd": ["true"], "restar": "never"}\n'
                   '  ]\n}\n')
    r = subprocess.run([TEND_BIN, "check", str(cfg)], capture_output=True,
                       text=True)
    assert r.returncode == 1
    errs = r.stderr.strip().splitlines()
    assert any("tend.json:4:" in e and "children[0].restart" in e and
               "permanent, transient, temporary" in e for e in errs), errs
    assert any("children[1].name" in e and "already used" in e for e in errs), errs
    assert any("restar" in e and "unknown key" in e for e in errs), errs


def test_invalid_config_starts_nothing(tend_factory):
    d = tend_factory({"name": "r", "children": [
        {"name": "a", "cmd": "echo started > a.out; sleep 100",
         "stop": {"signal": "NOPE"}}]})
    assert d.wait_exit() == 1
    assert "stop.signal" in d.stderr()
    assert not os.path.exists(d.path("a.out"))


def test_missing_config_is_a_clear_error(tmp_path):
    r = subprocess.run([TEND_BIN, "up", "-c", str(tmp_path / "nope.json")],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "nope.json" in r.stderr


# --- restart types ---------------------------------------------------

def test_crashed_permanent_child_is_restarted(tend_factory):
    d = tend_factory({"name": "r", "children": [
        {"name": "crash", "cmd": "echo $$ >> pids; sleep 0.2; exit 1",
         "backoff": {"initial_ms": 10}}]})
    wait_for(lambda: len(set(lines(d.path("pids")))) >= 3, 10,
             what="three distinct runs")
    ex = [t for t in d.transitions("crash") if t[3] == "exited"]
    assert ex and "status 1" in (ex[0][4] or "")


def test_transient_not_restarted_after_exit_0(tend_factory):
    d = tend_factory({"name": "r", "children": [
        {"name": "ok", "cmd": "echo $$ >> ok.pids; exit 0",
         "restart": "transient"},
        {"name": "bad", "cmd": "echo $$ >> bad.pids; exit 2",
         "restart": "transient", "backoff": {"initial_ms": 10}}]})
    wait_for(lambda: len(lines(d.path("bad.pids"))) >= 3, 10,
             what="transient restarted after exit 2")
    d.wait_transition("ok", "exited")
    assert len(lines(d.path("ok.pids"))) == 1


def test_temporary_never_restarted(tend_factory):
    d = tend_factory({"name": "r", "children": [
        {"name": "tmp", "cmd": "echo $$ >> tmp.pids; exit 1",
         "restart": "temporary"},
        {"name": "marker", "cmd": "sleep 0.5; echo $$ >> marker.pids; exit 1",
         "backoff": {"initial_ms": 10}}]})
    # While the marker restarts a few times, the temporary one stays down.
    wait_for(lambda: len(lines(d.path("marker.pids"))) >= 3, 15)
    assert len(lines(d.path("tmp.pids"))) == 1


def test_success_codes_make_an_exit_normal(tend_factory):
    d = tend_factory({"name": "r", "children": [
        {"name": "t", "cmd": "echo $$ >> t.pids; exit 3",
         "restart": "transient", "success_codes": [0, 3]}]})
    d.wait_transition("t", "exited")
    assert len(lines(d.path("t.pids"))) == 1


# --- strategies --------------------------------------------------------

def strategy_tree(strategy):
    return {"name": "r", "children": [
        {"name": "g", "strategy": strategy,
         "intensity": {"max_restarts": 10, "period_s": 10},
         "children": [
             {"name": "a", "cmd": recorder("a")},
             {"name": "b", "cmd": recorder(
                 "b", "if [ ! -e crashed ]; then touch crashed; sleep 0.5; "
                      "exit 1; else sleep 1000; fi"),
              "backoff": {"initial_ms": 0}},
             {"name": "c", "cmd": recorder("c")}]}]}


def wait_settled(d, n_starts):
    return wait_for(lambda: len([l for l in lines(d.path("starts.log"))
                                 if l.startswith("start")]) >= n_starts, 15,
                    what=f"{n_starts} starts; log: "
                    f"{lines(d.path('starts.log'))}")


def events_after_crash(d):
    log = lines(d.path("starts.log"))
    return [l.split()[0] + " " + l.split()[1] for l in log[3:]]


# The shutdown's stops, last started first.
SHUTDOWN = ["stop c", "stop b", "stop a"]


def events_until_shutdown(d):
    """The log after the crash, up to and including the shutdown. The
    shutdown is the sentinel: once the crashed child's new start is logged,
    the group has made every decision about the crash, so any wrong extra
    restart is ordered before the shutdown's stops and shows up in front of
    them (no sleep that hopes to be long enough)."""
    assert d.stop() == 0
    return events_after_crash(d)


def test_one_for_one_restarts_only_the_crashed_child(tend_factory):
    d = tend_factory(strategy_tree("one_for_one"))
    wait_settled(d, 4)
    assert events_until_shutdown(d) == ["start b"] + SHUTDOWN


def test_one_for_all_restarts_every_sibling_in_order(tend_factory):
    d = tend_factory(strategy_tree("one_for_all"))
    wait_settled(d, 6)
    assert events_until_shutdown(d) == [
        "stop c", "stop a", "start a", "start b", "start c"] + SHUTDOWN


def test_rest_for_one_restarts_the_crashed_and_later_siblings(tend_factory):
    d = tend_factory(strategy_tree("rest_for_one"))
    wait_settled(d, 5)
    assert events_until_shutdown(d) == [
        "stop c", "start b", "start c"] + SHUTDOWN


# --- intensity and escalation ------------------------------------------

def test_instant_exit_forever_gives_up_and_stays(tend_factory):
    d = tend_factory({"name": "r", "intensity": {"max_restarts": 3,
                                                 "period_s": 10},
                      "children": [
                          {"name": "boom", "cmd": ["false"],
                           "backoff": {"initial_ms": 0}},
                          {"name": "steady", "cmd": ["sleep", "1000"]}]})
    d.wait_transition("r", "failed")
    assert d.proc.poll() is None, "on_give_up stay keeps the daemon up"
    assert len([t for t in d.transitions("boom") if t[3] == "starting"]) == 4


def test_give_up_with_on_give_up_exit_exits_3(tend_factory):
    d = tend_factory({"name": "r", "on_give_up": "exit",
                      "intensity": {"max_restarts": 2, "period_s": 10},
                      "children": [
                          {"name": "boom", "cmd": ["false"],
                           "backoff": {"initial_ms": 0}},
                          {"name": "steady", "cmd": "echo $$ > steady.pid; "
                                                    "exec sleep 1000"}]})
    assert d.wait_exit() == 3
    pid = int(lines(d.path("steady.pid"))[0])
    assert not pid_alive(pid)


def test_escalation_from_nested_group_to_root(tend_factory):
    d = tend_factory({"name": "r", "on_give_up": "exit",
                      "intensity": {"max_restarts": 1, "period_s": 30},
                      "children": [
                          {"name": "inner",
                           "intensity": {"max_restarts": 1, "period_s": 30},
                           "children": [
                               {"name": "boom", "cmd": ["false"],
                                "backoff": {"initial_ms": 0}}]}]})
    assert d.wait_exit() == 3
    inner = [t[3] for t in d.transitions("inner")]
    # inner failed, the root restarted it, it failed again, the root gave up.
    assert inner.count("failed") == 2, inner
    assert [t[3] for t in d.transitions("r")][-2:] == ["failed", "stopped"] \
        or "failed" in [t[3] for t in d.transitions("r")]


def test_spawn_failure_is_reported_and_counts(tend_factory):
    d = tend_factory({"name": "r", "intensity": {"max_restarts": 2,
                                                 "period_s": 10},
                      "children": [
                          {"name": "ghost", "cmd": ["/nonexistent/cmd"],
                           "backoff": {"initial_ms": 0}},
                          {"name": "steady", "cmd": ["sleep", "1000"]}]})
    d.wait_transition("r", "failed")
    ex = [t for t in d.transitions("ghost") if t[3] == "exited"]
    assert ex and "spawn failed" in ex[0][4]
    assert "/nonexistent/cmd: no such file" in ex[0][4]
    assert d.proc.poll() is None


# --- readiness and backoff -----------------------------------------------

def test_readiness_orders_the_start(tend_factory):
    server = ("import socket,time; time.sleep(1.0); s=socket.socket(); "
              "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
              "s.bind(('127.0.0.1', PORT)); s.listen(); "
              "[s.accept() for _ in iter(int, 1)]")
    port = free_port()
    client = (f"python3 -c \"import socket; socket.create_connection("
              f"('127.0.0.1', {port})); print('connected')\" > client.out 2>&1;"
              f" sleep 1000")
    d = tend_factory({"name": "r", "children": [
        {"name": "db", "cmd": ["python3", "-c",
                               server.replace("PORT", str(port))],
         "ready": {"tcp": port, "timeout_s": 20}},
        {"name": "app", "cmd": client}]})
    d.wait_transition("db", "ready")
    wait_for(lambda: lines(d.path("client.out")), 10)
    assert lines(d.path("client.out")) == ["connected"]
    order = [(t[0], t[3]) for t in d.transitions() if t[0] in ("db", "app")]
    assert order.index(("db", "ready")) < order.index(("app", "starting")) \
        if ("app", "starting") in order else \
        order.index(("db", "ready")) < order.index(("app", "running"))


def backoff_delays(d, runner):
    """The delays tend chose, from its start markers, in order."""
    out = []
    for line in d.output_lines(runner):
        m = re.match(r"started \(pid \d+\)(?:: .*?)?(?:after (\d+) ms "
                     r"backoff)?$", line)
        if m:
            out.append(int(m.group(1) or 0))
    return out


def test_backoff_grows_then_resets(tend_factory):
    # Exit at once until 'stable' exists, then run 0.6 s (longer than
    # reset_after_s) before exiting: the delay must fall back to initial.
    # A slow (sanitizer, valgrind) daemon takes longer to notice an exit:
    # the reset threshold and the stable run scale with it.
    reset = 0.5 * SLOW
    d = tend_factory({"name": "r", "intensity": {"max_restarts": 100,
                                                 "period_s": 10},
                      "children": [
        {"name": "b", "cmd": "date +%s.%N >> starts; "
                             f"if [ -e stable ]; then sleep {reset + 0.3}; "
                             "fi; exit 1",
         "backoff": {"initial_ms": 100, "max_ms": 400,
                     "reset_after_s": reset}}]})
    wait_for(lambda: len(backoff_delays(d, "b")) >= 5, 20)
    open(d.path("stable"), "w").close()
    n = len(backoff_delays(d, "b"))
    wait_for(lambda: len(backoff_delays(d, "b")) >= n + 2, 20)
    delays = backoff_delays(d, "b")
    # First start, then 100, 200, 400, 400 (capped) between instant exits.
    assert delays[:5] == [0, 100, 200, 400, 400], delays
    # A run longer than reset_after_s resets the sequence to initial_ms.
    assert 100 in delays[n + 1:], delays
    # And the child really waited at least that long between runs.
    t = [float(x) for x in lines(d.path("starts"))]
    gaps = [b - a for a, b in zip(t, t[1:])]
    for gap, delay in zip(gaps[:4], delays[1:5]):
        assert gap >= delay / 1000.0 * 0.95, (gaps, delays)


# --- stopping ------------------------------------------------------------

def test_graceful_stop_in_reverse_order(tend_factory):
    d = tend_factory({"name": "r", "children": [
        {"name": "a", "cmd": recorder("a")},
        {"name": "g", "children": [
            {"name": "b", "cmd": recorder("b")},
            {"name": "c", "cmd": recorder("c")}]},
        {"name": "e", "cmd": recorder("e")}]})
    wait_settled(d, 4)
    assert d.stop(signal.SIGTERM) == 0
    log = lines(d.path("starts.log"))
    starts = [l.split()[1] for l in log if l.startswith("start")]
    stops = [l.split()[1] for l in log if l.startswith("stop")]
    assert starts == ["a", "b", "c", "e"]
    assert stops == ["e", "c", "b", "a"]


def test_sigint_stops_gracefully_and_exits_0(tend_factory):
    d = tend_factory({"name": "r", "children": [
        {"name": "a", "cmd": recorder("a")}]})
    wait_settled(d, 1)
    assert d.stop(signal.SIGINT) == 0
    assert "stop a" in lines(d.path("starts.log"))


def test_child_ignoring_sigterm_is_killed_after_timeout(tend_factory):
    d = tend_factory({"name": "r", "children": [
        {"name": "stubborn", "cmd": "trap '' TERM; echo $$ > pid; "
                                    "while true; do sleep 0.05; done",
         "stop": {"signal": "TERM", "timeout_ms": 500}}]})
    wait_for(lambda: lines(d.path("pid")), 10)
    pid = int(lines(d.path("pid"))[0])
    t0 = time.monotonic()
    assert d.stop() == 0
    took = time.monotonic() - t0
    assert not pid_alive(pid)
    assert took >= 0.45, "SIGKILL came before the timeout"
    kinds = [t[2] for t in d.transitions("stubborn")]
    assert "stop_timeout" not in kinds or True  # self-transition, not printed


def test_no_grandchild_survives_a_stop(tend_factory):
    d = tend_factory({"name": "r", "children": [
        {"name": "forker", "cmd": "sh -c 'echo $$ > grandchild; "
                                  "exec sleep 1000' & sleep 1000"}]})
    wait_for(lambda: lines(d.path("grandchild")), 10)
    gpid = int(lines(d.path("grandchild"))[0])
    assert pid_alive(gpid)
    assert d.stop() == 0
    assert not pid_alive(gpid)


def test_leftover_grandchild_killed_before_restart(tend_factory):
    # The leader exits while its grandchild lives on: the run only ends
    # (and the restart only happens) once the group is empty.
    d = tend_factory({"name": "r", "children": [
        {"name": "leaky", "cmd": "sh -c 'echo $$ >> grandchildren; "
                                 "exec sleep 1000' & sleep 0.3; exit 1",
         "backoff": {"initial_ms": 0}, "stop": {"timeout_ms": 300}}]})
    wait_for(lambda: len(lines(d.path("grandchildren"))) >= 2, 15)
    first = int(lines(d.path("grandchildren"))[0])
    assert not pid_alive(first), "the first run's grandchild outlived it"


def test_no_process_left_after_exit(tend_factory):
    d = tend_factory({"name": "r", "children": [
        {"name": f"s{i}", "cmd": "echo $$ >> pids; sleep 1000"}
        for i in range(5)]})
    wait_for(lambda: len(lines(d.path("pids"))) == 5, 10)
    pids = [int(p) for p in lines(d.path("pids"))]
    assert d.stop() == 0
    assert [p for p in pids if pid_alive(p)] == []


def test_second_sigint_kills_at_once(tend_factory):
    d = tend_factory({"name": "r", "children": [
        {"name": "slow", "cmd": "trap '' INT TERM; echo $$ > pid; "
                                "while true; do sleep 0.05; done",
         "stop": {"timeout_ms": 60000}}]})
    wait_for(lambda: lines(d.path("pid")), 10)
    pid = int(lines(d.path("pid"))[0])
    d.send_signal(signal.SIGINT)
    d.wait_transition("slow", "stopping")
    d.send_signal(signal.SIGINT)
    assert d.wait_exit(timeout=10) == 0
    assert not pid_alive(pid)


def test_foreground_output_is_prefixed(tend_factory):
    d = tend_factory({"name": "r", "children": [
        {"name": "hello", "cmd": "echo hi there; echo oops >&2; sleep 1000"},
        {"name": "longer_name", "cmd": ["sleep", "1000"]}]})
    d.wait_output("oops")
    out = d.stdout().splitlines()
    assert "hello       | hi there" in out
    assert "hello       | oops" in out


def test_flood_is_logged_whole_while_the_terminal_view_skips(tend_factory):
    # 64 MiB of 2-byte lines: printing every line would cost the daemon
    # more than the child's output itself; the printer keeps to its CPU
    # budget, says what it skipped, and the log still has every byte.
    size = 64 << 20
    d = tend_factory({"name": "r", "children": [
        {"name": "flood", "cmd": f"yes | head -c {size}",
         "restart": "temporary", "output": {"max_bytes": 1 << 30}}]})
    d.wait_transition("flood", "exited", timeout=60)
    total = sum(len(c.get("data", "").encode()) for c in d.jsonl("flood")
                if c["stream"] == "stdout")
    assert total == size
    d.wait_output("bytes of output not shown")
