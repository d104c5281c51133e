"""Two projects at once (issue 10): without "http.listen" a daemon takes
the first free port from 7070 up and records it in daemon.json, so the CLI
finds each daemon from its own config; an explicit listen that is busy
stays an error and names the process that holds the port.

Other daemons on this machine (other test runs) may hold ports of the
range: nothing here assumes which ports are free, only that the two
daemons get distinct ones inside the range and both answer."""

import json
import os
import signal
import socket
import subprocess

from apihelp import cli, ticker
from conftest import SLOW, TEND_BIN, wait_for

FIRST, COUNT = 7070, 100


def project(tend_factory, tmp_path, name, http=None):
    """A daemon on tmp_path/name; http=None leaves "listen" unset."""
    folder = tmp_path / name
    folder.mkdir()
    cfg = {"name": name, "children": [ticker("api")],
           "http": http if http is not None else {}}
    return tend_factory(cfg, folder=folder)


def port_of(d):
    d.url()
    return int(d.daemon_json()["listen"].rsplit(":", 1)[1])


def status_from_elsewhere(d, tmp_path):
    """`tend status -c FOLDER/tend.json` run from another folder."""
    r = subprocess.run([TEND_BIN, "status", "--json", "-c", d.config_path],
                       cwd=str(tmp_path), capture_output=True, text=True,
                       env=dict(os.environ, NO_COLOR="1"), timeout=30 * SLOW)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return json.loads(r.stdout)


def test_two_projects_without_listen_both_run(tend_factory, tmp_path):
    a = project(tend_factory, tmp_path, "alpha")
    pa = port_of(a)
    b = project(tend_factory, tmp_path, "beta")
    pb = port_of(b)
    assert pa != pb
    assert FIRST <= pa < FIRST + COUNT and FIRST <= pb < FIRST + COUNT
    # Each client finds its own daemon through its config's daemon.json.
    assert status_from_elsewhere(a, tmp_path)["name"] == "alpha"
    assert status_from_elsewhere(b, tmp_path)["name"] == "beta"
    # The start-up line says where each one listens.
    for d, port in ((a, pa), (b, pb)):
        wait_for(lambda: f"API on http://127.0.0.1:{port}/" in d.stderr(), 10,
                 what=f"the start-up line in {d.stderr()!r}")
    # The second one says why it did not get the first port it tried.
    if pb > pa and pa == FIRST:
        assert (f"127.0.0.1:{FIRST}: address already in use (tend daemon "
                f"pid {a.proc.pid} for {a.config_path}); took port {pb} "
                f"instead") in b.stderr(), b.stderr()

    # A third project that insists on the first one's port fails, and the
    # message names the daemon that has it.
    c = project(tend_factory, tmp_path, "gamma",
                http={"listen": f"127.0.0.1:{pa}"})
    assert c.wait_exit() == 1
    want = (f"http.listen: 127.0.0.1:{pa}: address already in use (tend "
            f"daemon pid {a.proc.pid} for {a.config_path})")
    assert want in c.stderr(), c.stderr()
    assert not os.path.exists(os.path.join(c.state_dir, "daemon.json"))

    for d in (a, b):
        assert d.stop() == 0


def test_the_chosen_port_survives_reloads(tend_factory, tmp_path):
    a = project(tend_factory, tmp_path, "alpha")
    port_of(a)
    b = project(tend_factory, tmp_path, "beta")
    pb = port_of(b)
    url = b.daemon_json()["url"]
    # Free a port below b's and reload b twice (an edit, then SIGHUP):
    # b stays where its clients know it is.
    assert a.stop() == 0
    cfg = dict(b.config)
    cfg["children"] = [ticker("api"), ticker("worker")]
    b.write_config(cfg)
    wait_for(lambda: any(e["type"] == "config_applied" for e in b.events()),
             10, what="the edit applied")
    b.send_signal(signal.SIGHUP)
    wait_for(lambda: cli(b, "status").stdout.count("running") >= 3, 10,
             what="worker running after the reload")
    assert b.daemon_json()["url"] == url
    assert port_of(b) == pb
    status, body = b.api("GET", "/api/v1/tree")
    assert status == 200 and len(body["children"]) == 2
    # And a daemon started now may take the port a left.
    a2 = project(tend_factory, tmp_path, "alpha2")
    assert port_of(a2) != pb
    assert b.stop() == 0


def test_explicit_port_held_by_another_program(tend_factory, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        d = project(tend_factory, tmp_path, "alpha",
                    http={"listen": f"127.0.0.1:{port}"})
        assert d.wait_exit() == 1
    err = d.stderr()
    assert (f"http.listen: 127.0.0.1:{port}: address already in use (pid "
            f"{os.getpid()}, ") in err, err
    # An explicit port is never swapped for another one.
    assert "took port" not in err
