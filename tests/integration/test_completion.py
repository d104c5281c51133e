"""`tend init` and shell completion, as a new user meets them.

init: the starter file runs as written (`tend check`, then `tend up` brings
its runners up), is never replaced, and points at a schema. Completion: the
real bash completion function is sourced in a real bash and driven the way
readline drives it (COMP_WORDS / COMP_CWORD); runner names come from the
running daemon and nothing at all is printed when no daemon runs. zsh: the
file parses, and its name helper asks the daemon the same way.
"""

import json
import os
import re
import shutil
import socket
import subprocess

import pytest

from conftest import TEND_BIN, wait_for

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BASH_COMPLETION = os.path.join(ROOT, "scripts", "completion", "tend.bash")
ZSH_COMPLETION = os.path.join(ROOT, "scripts", "completion", "_tend")

TREE = {
    "name": "dev",
    "children": [
        {"name": "web", "cmd": ["sleep", "1000"]},
        {"name": "backend", "children": [
            {"name": "api", "cmd": ["sleep", "1000"]},
            {"name": "worker", "cmd": ["sleep", "1000"]},
        ]},
    ],
}


def tend(*args, cwd=None, check=False):
    return subprocess.run([TEND_BIN, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=check)


def free_port(preferred):
    """preferred when nothing listens on it, else a free port."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise AssertionError("no free port")


def help_commands():
    """The command names `tend help` lists."""
    out = tend("help").stdout
    return [m.group(1) for m in re.finditer(r"^  (\w+)", out, re.M)]


def complete_bash(words, cwd):
    """Runs the bash completion for a line whose words are `words` (the last
    one being completed); returns (candidates, stderr)."""
    script = (
        f"source {BASH_COMPLETION}\n"
        "COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1))\n"
        "_tend\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    r = subprocess.run(["bash", "-c", script, "bash", TEND_BIN, *words],
                       cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [w for w in r.stdout.split("\n") if w], r.stderr


# ------------------------------------------------------------------ init

def test_init_writes_a_starter_that_runs(tmp_path, tend_factory):
    folder = tmp_path / "my project"
    folder.mkdir()
    r = tend("init", cwd=folder)
    assert r.returncode == 0, r.stderr
    assert "wrote tend.json" in r.stdout
    text = (folder / "tend.json").read_text()
    doc = json.loads(text)
    assert doc["$schema"].startswith("file:///")
    assert doc["$schema"].endswith("tend.schema.json")
    assert doc["name"] == "my-project"
    assert any(k.startswith("//") for k in doc), "the starter is commented"
    r = tend("check", cwd=folder)
    assert r.returncode == 0, r.stdout + r.stderr

    # It runs as written: every runner of the starter comes up. Only the
    # web port moves when 8000 is taken on this machine.
    port = free_port(8000)
    d = tend_factory(doc, folder=folder, start=False)
    d.write_config(text=text.replace("8000", str(port)))
    d.start()

    def states():
        try:
            return {c["name"]: c["state"]
                    for c in d.state()["tree"]["children"]}
        except (FileNotFoundError, ValueError, KeyError):
            return None
    wait_for(lambda: (states() or {}).get("web") in ("running", "ready"),
             timeout=20, what="the starter's web server up")
    # The build step runs on a change of a source file, and only then.
    (folder / "app.py").write_text("print('hi')\n")
    out = wait_for(lambda: "app.py" in d.stdout() and d.stdout(),
                   what="the build step's line for app.py")
    assert states()["build"] != "failed", out
    assert out.count("build: /") == 1, out


def test_init_never_replaces_a_config(tmp_path):
    (tmp_path / "tend.json").write_text("{\"mine\": true}\n")
    r = tend("init", cwd=tmp_path)
    assert r.returncode == 1
    assert "already exists" in r.stderr
    assert (tmp_path / "tend.json").read_text() == "{\"mine\": true}\n"


def test_init_to_another_file_and_bad_arguments(tmp_path):
    r = tend("init", "other.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "tend up -c other.json" in r.stdout
    assert tend("check", "other.json", cwd=tmp_path).returncode == 0
    r = tend("init", "--bogus", cwd=tmp_path)
    assert r.returncode == 2 and "--bogus" in r.stderr


# ------------------------------------------------------------ completion

def test_status_names_lists_every_node(tend_factory):
    d = tend_factory(TREE, http=True)
    d.url()
    r = tend("status", "--names", "-c", d.config_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["dev", "web", "backend", "api", "worker"]


def test_bash_completes_commands_and_options(tmp_path):
    words, err = complete_bash([""], tmp_path)
    assert set(help_commands()) <= set(words), (help_commands(), words)
    assert err == ""
    words, _ = complete_bash(["st"], tmp_path)
    assert sorted(words) == ["start", "status", "stop"]
    words, _ = complete_bash(["logs", "--"], tmp_path)
    assert {"--follow", "--lines", "--json", "--config"} <= set(words)
    words, _ = complete_bash(["signal", "web", "h"], tmp_path)
    assert words == ["HUP"]
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "b.txt").write_text("")
    words, _ = complete_bash(["check", ""], tmp_path)
    assert "a.json" in words and "b.txt" not in words


def test_bash_completes_names_from_the_running_daemon(tend_factory):
    d = tend_factory(TREE, http=True)
    d.url()
    words, err = complete_bash(["restart", "-c", d.config_path, ""], d.dir)
    assert words == ["dev", "web", "backend", "api", "worker", "all"], err
    words, _ = complete_bash(["logs", "-f", "-c", d.config_path, "w"], d.dir)
    assert sorted(words) == ["web", "worker"]
    # In the project folder, no -c is needed (./tend.json).
    words, _ = complete_bash(["stop", "a"], d.dir)
    assert words == ["api", "all"]
    # A second argument is not a name.
    words, _ = complete_bash(["stop", "api", ""], d.dir)
    assert words == []


def test_bash_completion_is_silent_without_a_daemon(tmp_path):
    (tmp_path / "tend.json").write_text(json.dumps(TREE))
    words, err = complete_bash(["stop", ""], tmp_path)
    assert words == [] and err == ""


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh is not installed")
def test_zsh_completion_parses_and_asks_the_daemon(tend_factory):
    r = subprocess.run(["zsh", "-n", ZSH_COMPLETION], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    d = tend_factory(TREE, http=True)
    d.url()
    # compadd is zsh's completion builtin; outside completion it is replaced
    # by a function that prints what would be offered.
    script = (
        "compadd() { shift; print -l ${(P)1}; }\n"
        f"source <(sed '$d' {ZSH_COMPLETION})\n"
        f"words=({TEND_BIN} stop -c {d.config_path} '')\n"
        "_tend_names\n")
    r = subprocess.run(["zsh", "-f", "-c", script], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["dev", "web", "backend", "api", "worker"]
