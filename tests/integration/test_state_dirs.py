"""Which daemon a client talks to (issue 11, items 7 and 8).

Two configs in one folder get two state folders and two daemons, and each
client reaches its own; a client whose config shares a state folder with
another config's daemon is refused rather than shown the wrong tree; edits
that a running daemon cannot apply (state_dir, http) are refused, the old
address keeps answering, and the client still finds the daemon although the
file now names another state folder.
"""

import json
import os
import signal
import subprocess

import pytest

from conftest import SLOW, TEND_BIN, wait_for


def tree(name, **root):
    return {"name": name, "http": {"listen": "127.0.0.1:0"},
            "children": [{"name": name + "-r", "cmd": ["sleep", "1000"]}],
            **root}


class Up:
    """`tend up -c FILE` in folder, with its output in FILE.out."""

    def __init__(self, folder, file, config, env=None):
        self.folder = str(folder)
        self.file = os.path.join(self.folder, file)
        self.write(config)
        self.out = open(self.file + ".out", "wb")
        self.proc = subprocess.Popen(
            [TEND_BIN, "up", "-c", self.file], cwd=self.folder,
            stdout=self.out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})

    def write(self, config):
        with open(self.file + ".tmp", "w") as f:
            json.dump(config, f)
        os.replace(self.file + ".tmp", self.file)

    def output(self):
        with open(self.file + ".out", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30 * SLOW)
        self.out.close()
        assert "ERROR: AddressSanitizer" not in self.output()
        assert "runtime error:" not in self.output()


@pytest.fixture
def ups():
    made = []
    yield lambda *a, **k: made.append(Up(*a, **k)) or made[-1]
    for u in made:
        u.stop()


def cli(folder, *args, env=None):
    return subprocess.run([TEND_BIN, *args], cwd=str(folder),
                          capture_output=True, text=True, timeout=60 * SLOW,
                          env={**os.environ, "TEND_URL": "", "TEND_TOKEN": "",
                               **(env or {})})


def status_names(folder, *args):
    r = cli(folder, "status", "--names", *args)
    return r.stdout.split() if r.returncode == 0 else None


def test_two_configs_in_one_folder_have_their_own_daemons(tmp_path, ups):
    ups(tmp_path, "tend.json", tree("one"))
    ups(tmp_path, "two.json", tree("two"))
    wait_for(lambda: status_names(tmp_path) == ["one", "one-r"],
             what="tend.json's daemon")
    wait_for(lambda: status_names(tmp_path, "-c", "two.json") ==
             ["two", "two-r"], what="two.json's daemon")
    assert os.path.exists(tmp_path / ".tend" / "daemon.json")
    assert os.path.exists(tmp_path / ".tend-two" / "daemon.json")
    assert os.path.exists(tmp_path / ".tend-two" / "output" / "two-r.jsonl")
    assert not os.path.exists(tmp_path / ".tend" / "output" / "two-r.jsonl")


def test_a_client_of_another_config_is_refused(tmp_path, ups):
    ups(tmp_path, "one.json", tree("one", state_dir="shared"))
    wait_for(lambda: status_names(tmp_path, "-c", "one.json") ==
             ["one", "one-r"], what="one.json's daemon")
    with open(tmp_path / "two.json", "w") as f:
        json.dump(tree("two", state_dir="shared"), f)
    r = cli(tmp_path, "status", "-c", "two.json")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "one.json" in r.stderr and "share" in r.stderr, r.stderr
    assert "one-r" not in r.stdout


def test_http_edit_is_not_applied_and_says_so(tmp_path, ups):
    u = ups(tmp_path, "tend.json", tree("app"))
    wait_for(lambda: status_names(tmp_path), what="daemon")
    with open(tmp_path / ".tend" / "daemon.json") as f:
        before = json.load(f)
    edited = tree("app")
    edited["http"] = {"listen": "127.0.0.1:1"}
    edited["children"].append({"name": "extra", "cmd": ["sleep", "1000"]})
    u.write(edited)
    events = lambda: cli(tmp_path, "events", "--json").stdout
    wait_for(lambda: "http changed" in events(), what="the warning event")
    # The listener stays where it was (daemon.json too), and says so; the
    # rest of the same edit is applied.
    with open(tmp_path / ".tend" / "daemon.json") as f:
        assert json.load(f)["url"] == before["url"]
    assert "config_warning" in events() and "config_applied" in events()
    wait_for(lambda: status_names(tmp_path) == ["app", "app-r", "extra"],
             what="the new runner")


def test_client_finds_the_daemon_after_a_refused_state_dir_edit(tmp_path,
                                                                ups):
    u = ups(tmp_path, "tend.json", tree("app"),
            env={"XDG_RUNTIME_DIR": str(tmp_path / "run")})
    os.makedirs(tmp_path / "run", mode=0o700, exist_ok=True)
    wait_for(lambda: status_names(tmp_path), what="daemon")
    u.write(tree("app", state_dir="elsewhere"))
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "run")}
    wait_for(lambda: "state_dir changed" in cli(
        tmp_path, "events", "--json", env=env).stdout,
        what="the refusal event")
    r = cli(tmp_path, "status", "--names", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["app", "app-r"]
    assert ".tend" in r.stderr and "restart tend" in r.stderr, r.stderr
