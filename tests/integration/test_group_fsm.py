"""The group supervisor's state table (issue 14, item 1): the states a
group shows after a give-up, and the user's commands on a failed group and
on its children.

Regression: in a tree whose group `g` gave up (failed), `tend stop boom`
(a child of g) used to print `g: failed --user--> running`, and
`tend status` showed g running while every child was failed.
"""

import time

from apihelp import cli, tree_node as node
from conftest import SLOW, wait_for


def status_rows(d):
    """`tend status` as {name: [columns...]}."""
    r = cli(d, "status", check_code=0)
    return {line.split()[0]: line.split() for line in
            r.stdout.splitlines()[1:] if line.strip()}


def failed_group(tend_factory):
    """A daemon whose group g gave up: boom crashes past g's intensity."""
    d = tend_factory({"name": "dev", "children": [
        {"name": "ok", "cmd": ["sleep", "1000"]},
        {"name": "g", "intensity": {"max_restarts": 1, "period_s": 30},
         "children": [
             {"name": "steady", "cmd": ["sleep", "1000"]},
             {"name": "boom", "cmd": ["false"],
              "backoff": {"initial_ms": 0}}]}]}, http=True)
    d.wait_transition("g", "failed", timeout=30)
    wait_for(lambda: node(d, "boom")["state"] == "failed", 10,
             what="boom failed with its group")
    return d


def test_stopping_a_child_of_a_failed_group_leaves_it_failed(tend_factory):
    d = failed_group(tend_factory)
    before = d.transitions("g")
    assert ("g", "running", "give_up", "failed") in [t[:4] for t in before]

    cli(d, "stop", "boom", check_code=0)
    cli(d, "stop", "steady", check_code=0)
    time.sleep(0.5 * SLOW)
    assert d.transitions("g") == before, d.transitions("g")
    assert node(d, "g")["state"] == "failed"
    assert status_rows(d)["g"][2] == "failed", status_rows(d)
    # The sibling outside g never moved.
    assert node(d, "ok")["state"] == "running"
    assert node(d, "dev")["state"] == "running"


def test_starting_a_child_of_a_failed_group_runs_the_group(tend_factory):
    d = failed_group(tend_factory)
    cli(d, "start", "steady", check_code=0)
    d.wait_transition("g", "running", count=2, timeout=10)
    assert ("g", "failed", "user", "running") in [
        t[:4] for t in d.transitions("g")], d.transitions("g")
    wait_for(lambda: node(d, "steady")["state"] == "running", 10,
             what="steady running again")


def test_stop_and_start_of_a_failed_group(tend_factory):
    d = failed_group(tend_factory)
    cli(d, "stop", "g", check_code=0)
    d.wait_transition("g", "stopped", timeout=10)
    assert node(d, "g")["state"] == "stopped"
    runs = [t for t in d.transitions("steady") if t[3] == "running"]
    cli(d, "start", "g", check_code=0)
    d.wait_transition("g", "starting", count=2, timeout=10)
    assert ("g", "stopped", "start", "starting") in [
        t[:4] for t in d.transitions("g")], d.transitions("g")
    # steady starts again with its group (boom then fails the group again
    # at once, so "running" may last only a moment: the event log has it).
    d.wait_transition("steady", "running", count=len(runs) + 1, timeout=10)
