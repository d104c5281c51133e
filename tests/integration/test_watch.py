"""Watchers and live config (issue 5): real files, real processes.

Runners append their pid (and TEND_CHANGED_PATHS) to files on each start,
so every assertion is about processes that really (re)started.
"""

import json
import os
import subprocess
import time

from conftest import lines, wait_for


def pid_logger(name):
    return f"echo $$ >> {name}.pids; exec sleep 1000"


def fires(d, node):
    """node's watch_fired events, oldest first."""
    return [e for e in d.events()
            if e.get("type") == "watch_fired" and e.get("node") == node]


def nothing_more_fires(d, node, sentinel, path=None, count=None):
    """The 'nothing else fires' check, without a fixed wait: writes the
    sentinel file (in node's watched tree, passing its filters) and waits
    for the fire naming it. Any burst left over from earlier changes fires
    before it or with it, so the sentinel's must be node's only fire since
    the call and name the sentinel alone. With path, that file had count
    lines up to the sentinel's fire (which may add one)."""
    n = len(fires(d, node))
    if path is not None:
        assert len(lines(d.path(path))) == count, lines(d.path(path))
    sentinel = os.path.realpath(str(sentinel))
    with open(sentinel, "w") as f:
        f.write("sentinel\n")
    wait_for(lambda: any(sentinel in e["paths"] for e in fires(d, node)), 10,
             what=f"{node}'s fire naming {sentinel}")
    late = fires(d, node)[n:]
    assert [e["paths"] for e in late] == [[sentinel]], late


def mark_runner(debounce_ms=150):
    """A runner whose watch only serves as the sentinel of paused_quiet."""
    return {"name": "mark", "cmd": "exec sleep 1000",
            "watch": {"paths": ["mark"], "debounce_ms": debounce_ms}}


def paused_quiet(d, node, path, count):
    """The 'nothing else happens' check for a paused watch, which fires
    nothing a sentinel of its own could name: the sentinel is a change in
    the folder of mark_runner() (in the config), watched through the same
    inotify service with a debounce as long as node's. By the time it
    fires, a burst node collected before it would have fired too."""
    n = len(fires(d, node))
    assert len(lines(d.path(path))) == count, lines(d.path(path))
    sentinel = os.path.realpath(d.path("mark", "zz"))
    with open(sentinel, "w") as f:
        f.write("sentinel\n")
    wait_for(lambda: any(sentinel in e["paths"] for e in fires(d, "mark")),
             10, what="the mark runner's fire")
    assert fires(d, node)[n:] == []
    assert len(lines(d.path(path))) == count, lines(d.path(path))


def watched(extra=None, **watch):
    w = {"paths": ["src"], "debounce_ms": 100}
    w.update(watch)
    node = {"name": "srv", "cmd": "echo \"$TEND_CHANGED_PATHS\" >> changed; "
                                  + pid_logger("srv"), "watch": w}
    node.update(extra or {})
    return {"name": "r", "children": [node]}


def test_saving_a_watched_file_restarts_once(tend_factory, tmp_path):
    os.makedirs(tmp_path / "src")
    d = tend_factory(watched(include=["**/*.c"]))
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 1, 10)
    with open(d.path("src", "main.c"), "w") as f:
        f.write("int main;\n")
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 2, 10)
    assert d.path("src", "main.c") in lines(d.path("changed"))
    nothing_more_fires(d, "srv", tmp_path / "src" / "zz.c", "srv.pids", 2)


def test_editor_style_rename_save_restarts_once(tend_factory, tmp_path):
    os.makedirs(tmp_path / "src")
    (tmp_path / "src" / "app.c").write_text("v1\n")
    d = tend_factory(watched())
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 1, 10)
    # vim-like: write a backup, write the new file under a temp name,
    # rename it over the original, delete the backup.
    src = d.path("src")
    with open(os.path.join(src, "app.c~"), "w") as f:
        f.write("v1\n")
    with open(os.path.join(src, "4913"), "w") as f:
        f.write("")
    os.unlink(os.path.join(src, "4913"))
    with open(os.path.join(src, ".app.c.swp"), "w") as f:
        f.write("x")
    with open(os.path.join(src, "app.c.tmp"), "w") as f:
        f.write("v2\n")
    os.replace(os.path.join(src, "app.c.tmp"), os.path.join(src, "app.c"))
    os.unlink(os.path.join(src, "app.c~"))
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 2, 10)
    nothing_more_fires(d, "srv", tmp_path / "src" / "zz", "srv.pids", 2)


def test_excluded_and_gitignored_paths_do_nothing(tend_factory, tmp_path):
    os.makedirs(tmp_path / "src" / "build")
    (tmp_path / "src" / ".gitignore").write_text("*.log\nbuild/\n")
    d = tend_factory(watched(exclude=["**/*.tmp"]))
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 1, 10)
    (tmp_path / "src" / "x.tmp").write_text("1")
    (tmp_path / "src" / "y.log").write_text("1")
    (tmp_path / "src" / "build" / "out.o").write_text("1")
    os.makedirs(tmp_path / "src" / ".git")
    (tmp_path / "src" / ".git" / "HEAD").write_text("ref")
    # real.c is the sentinel: the ignored changes fired nothing before it.
    nothing_more_fires(d, "srv", tmp_path / "src" / "real.c", "srv.pids", 1)
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 2, 10)


def test_new_subdirectory_is_watched(tend_factory, tmp_path):
    os.makedirs(tmp_path / "src")
    d = tend_factory(watched())
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 1, 10)
    os.makedirs(tmp_path / "src" / "a" / "b")
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 2, 10)
    # The restart has run its course before the next change.
    d.wait_transition("srv", "running", count=2)
    n = len(lines(d.path("srv.pids")))
    (tmp_path / "src" / "a" / "b" / "deep.c").write_text("1")
    wait_for(lambda: len(lines(d.path("srv.pids"))) == n + 1, 10)
    assert any("deep.c" in l for l in lines(d.path("changed")))


def test_burst_of_500_files_is_one_restart(tend_factory, tmp_path):
    os.makedirs(tmp_path / "src")
    d = tend_factory(watched(debounce_ms=300, max_wait_ms=30000))
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 1, 10)
    for i in range(500):
        (tmp_path / "src" / f"f{i}.txt").write_text(str(i))
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 2, 10)
    nothing_more_fires(d, "srv", tmp_path / "src" / "zz.txt", "srv.pids", 2)


def test_loop_guard_pauses_and_resume(tend_factory, tmp_path):
    os.makedirs(tmp_path / "src")
    cfg = {"name": "r", "children": [
        {"name": "loop", "cmd": "echo $$ >> loop.pids; date +%N > src/stamp; "
                                "exec sleep 1000",
         "watch": {"paths": ["src"], "debounce_ms": 200,
                   "loop_limit": {"max_restarts": 3, "period_s": 60}}},
        mark_runner(200)]}
    os.makedirs(tmp_path / "mark")
    d = tend_factory(cfg, http=True)
    ev = wait_for(lambda: [e for e in d.events()
                           if e.get("type") == "watch_paused"], 20)
    assert any("stamp" in p for p in ev[0]["paths"])
    n = len(lines(d.path("loop.pids")))
    assert n <= 6
    paused_quiet(d, "loop", "loop.pids", n)
    status, body = d.api("GET", "/api/v1/runners/loop")
    assert status == 200 and body["watch"]["paused"] is True
    status, body = d.api("POST", "/api/v1/runners/loop/watch/resume")
    assert status == 200, body
    (tmp_path / "src" / "poke").write_text("1")
    wait_for(lambda: len(lines(d.path("loop.pids"))) > n, 10)


def test_watch_restart_does_not_count_towards_intensity(tend_factory,
                                                         tmp_path):
    os.makedirs(tmp_path / "src")
    cfg = watched(debounce_ms=10)
    cfg["intensity"] = {"max_restarts": 1, "period_s": 60}
    d = tend_factory(cfg)
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 1, 10)
    for i in range(4):
        (tmp_path / "src" / f"c{i}").write_text("x")
        wait_for(lambda: len(lines(d.path("srv.pids"))) == i + 2, 10)
    assert "failed" not in [t[3] for t in d.transitions("r")]


def task_config(on_busy):
    return {"name": "r", "children": [
        {"name": "task", "restart": "temporary", "autostart": False,
         "on_busy": on_busy,
         "cmd": "echo \"${TEND_CHANGED_PATHS##*/}\" >> task.runs; "
                "echo start >> task.log; sleep 1; echo end >> task.log",
         "watch": {"paths": ["src"], "debounce_ms": 10, "action": "start"}}]}


def poke(tmp_path, name):
    (tmp_path / "src" / name).write_text(name)


def test_on_busy_queue_runs_once_more(tend_factory, tmp_path):
    os.makedirs(tmp_path / "src")
    d = tend_factory(task_config("queue"))
    d.wait_transition("r", "running")
    poke(tmp_path, "a")
    wait_for(lambda: lines(d.path("task.log")) == ["start"], 10)
    poke(tmp_path, "b")
    # c comes in a burst of its own, while b's run is already queued.
    wait_for(lambda: fires(d, "task")[1:], 10, what="b's fire")
    poke(tmp_path, "c")
    wait_for(lambda: lines(d.path("task.log")).count("end") == 2, 10)
    assert lines(d.path("task.log")) == ["start", "end", "start", "end"]
    # The sentinel's run is the third: none was queued twice.
    nothing_more_fires(d, "task", tmp_path / "src" / "zz")
    wait_for(lambda: "zz" in lines(d.path("task.runs")), 10)
    assert len(lines(d.path("task.runs"))) == 3, lines(d.path("task.runs"))


def test_on_busy_restart_kills_and_starts_over(tend_factory, tmp_path):
    os.makedirs(tmp_path / "src")
    d = tend_factory(task_config("restart"))
    d.wait_transition("r", "running")
    poke(tmp_path, "a")
    wait_for(lambda: lines(d.path("task.log")) == ["start"], 10)
    poke(tmp_path, "b")
    wait_for(lambda: lines(d.path("task.log")).count("end") == 1, 10)
    assert lines(d.path("task.log")) == ["start", "start", "end"]


def test_on_busy_ignore_drops_the_change(tend_factory, tmp_path):
    os.makedirs(tmp_path / "src")
    d = tend_factory(task_config("ignore"))
    d.wait_transition("r", "running")
    poke(tmp_path, "a")
    wait_for(lambda: lines(d.path("task.log")) == ["start"], 10)
    poke(tmp_path, "b")
    wait_for(lambda: lines(d.path("task.log")).count("end") == 1, 10)
    # The sentinel's run is the second: b's change started nothing.
    nothing_more_fires(d, "task", tmp_path / "src" / "zz", "task.log", 2)
    wait_for(lambda: "zz" in lines(d.path("task.runs")), 10)
    assert lines(d.path("task.runs")) == ["a", "zz"]


def after_config():
    return {"name": "r", "children": [
        {"name": "build", "restart": "temporary", "autostart": False,
         "cmd": "echo build >> build.log; test ! -e broken",
         "watch": {"paths": ["src"], "debounce_ms": 10, "action": "start"}},
        {"name": "server", "cmd": pid_logger("server"),
         "after": {"runner": "build", "on": "success"}}]}


def test_after_success_restarts_and_failure_does_not(tend_factory, tmp_path):
    os.makedirs(tmp_path / "src")
    d = tend_factory(after_config())
    wait_for(lambda: len(lines(d.path("server.pids"))) == 1, 10)
    (tmp_path / "broken").write_text("")
    poke(tmp_path, "one")
    wait_for(lambda: len(lines(d.path("build.log"))) == 1, 10)
    d.wait_transition("build", "exited")
    os.unlink(tmp_path / "broken")
    poke(tmp_path, "two")
    d.wait_transition("build", "exited", count=2)
    wait_for(lambda: len(lines(d.path("server.pids"))) == 2, 10)
    # The one restart came with the build that succeeded, not with the one
    # that failed: the trigger is decided as the exit is handled, so it is
    # logged right after that exit (the next seq) and the terminal shows it
    # on the next line.
    def order():
        return [("exit" if "build: running --exit--> exited" in l else
                 "trigger") for l in d.stdout().splitlines()
                if "build: running --exit--> exited" in l or
                "server: triggered:" in l]
    wait_for(lambda: "trigger" in order(), 10, what="the trigger shown")
    assert order() == ["exit", "exit", "trigger"], d.stdout()

    def logged():
        return [e for e in d.events()
                if e.get("type") == "triggered" or
                (e.get("type") == "state" and e.get("node") == "build" and
                 e.get("to") == "exited")]
    wait_for(lambda: len(logged()) == 3, 10, what="the trigger logged")
    failed, succeeded, trigger = logged()
    assert failed.get("status") == 1 and succeeded.get("status") == 0
    assert trigger["type"] == "triggered" and trigger["node"] == "server"
    assert trigger["seq"] == succeeded["seq"] + 1, logged()


# --- live config -----------------------------------------------------

def two_runners(foo="1"):
    return {"name": "r", "children": [
        {"name": "a", "cmd": pid_logger("a"), "env": {"FOO": foo}},
        {"name": "b", "cmd": pid_logger("b")}]}


def test_config_edit_restarts_only_the_changed_runner(tend_factory):
    d = tend_factory(two_runners())
    wait_for(lambda: lines(d.path("a.pids")) and lines(d.path("b.pids")), 10)
    d.write_config(two_runners(foo="2"))
    wait_for(lambda: len(lines(d.path("a.pids"))) == 2, 10)
    ev = wait_for(lambda: [e for e in d.events()
                           if e["type"] == "config_applied"], 10)
    assert ev[-1]["changes"]["change"] == ["a"]
    # a's restart is over: a stop of b, from the same change, would be in
    # the log before it.
    d.wait_transition("a", "running", count=2)
    assert "stopping" not in [t[3] for t in d.transitions("b")]
    assert len(lines(d.path("b.pids"))) == 1


def test_config_syntax_error_changes_nothing(tend_factory):
    d = tend_factory(two_runners(), http=True)
    wait_for(lambda: lines(d.path("a.pids")) and lines(d.path("b.pids")), 10)
    d.write_config(text='{\n  "name": "r",\n  "children": [\n    {"name": "a" '
                        '"cmd": "x"}\n  ]\n}\n')
    ev = wait_for(lambda: [e for e in d.events()
                           if e["type"] == "config_error"], 10)
    assert any("tend.json:4:" in e for e in ev[-1]["errors"]), ev[-1]
    # A reload through the API reports the same errors with 400; it comes
    # after the file's reload, so it is the sentinel too: neither changed
    # anything.
    status, body = d.api("POST", "/api/v1/reload")
    assert status == 400, body
    assert len(lines(d.path("a.pids"))) == 1
    assert len(lines(d.path("b.pids"))) == 1
    assert not [t for t in d.transitions() if t[3] == "stopping"]
    assert any("tend.json:4:" in e for e in body["errors"]), body
    # Fixing the file applies it.
    cfg = two_runners()
    cfg["children"].append({"name": "c", "cmd": pid_logger("c")})
    d.write_config(cfg)
    wait_for(lambda: lines(d.path("c.pids")), 10)
    assert len(lines(d.path("a.pids"))) == 1


def test_conf_d_files_start_and_stop_runners(tend_factory, tmp_path):
    os.makedirs(tmp_path / "conf.d")
    d = tend_factory({"name": "r", "include": "conf.d", "children": [
        {"name": "base", "cmd": pid_logger("base")}]})
    wait_for(lambda: lines(d.path("base.pids")), 10)
    extra = tmp_path / "conf.d" / "extra.json"
    extra.write_text(json.dumps({"name": "extra",
                                 "cmd": "echo $$ > extra.pid; "
                                        "exec sleep 1000"}))
    wait_for(lambda: lines(d.path("extra.pid")), 10)
    pid = int(lines(d.path("extra.pid"))[0])
    os.unlink(extra)
    d.wait_transition("extra", "stopped")
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
             open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z",
             10)
    assert len(lines(d.path("base.pids"))) == 1


def test_signal_action_signals_without_restart(tend_factory, tmp_path):
    os.makedirs(tmp_path / "src")
    d = tend_factory({"name": "r", "children": [
        {"name": "srv", "cmd": "echo $$ >> srv.pids; "
                               "trap 'echo hup >> hups' HUP; "
                               "while true; do sleep 0.05; done",
         "watch": {"paths": ["src"], "debounce_ms": 50,
                   "action": "signal:HUP"}}]})
    wait_for(lambda: lines(d.path("srv.pids")), 10)
    (tmp_path / "src" / "a.conf").write_text("1")
    wait_for(lambda: lines(d.path("hups")), 10)
    assert len(lines(d.path("srv.pids"))) == 1, "signalled, not restarted"


def test_after_on_exit_fires_on_failure_too(tend_factory, tmp_path):
    d = tend_factory({"name": "r", "children": [
        {"name": "job", "restart": "temporary", "cmd": "sleep 0.3; exit 4"},
        {"name": "report", "restart": "temporary", "autostart": False,
         "cmd": "echo ran >> report.log",
         "after": {"runner": "job", "on": "exit"}}]})
    wait_for(lambda: lines(d.path("report.log")) == ["ran"], 10)


# --- issue 11: what a run is told, and the loop guard ------------------

def dumper():
    """A runner that saves, per run, what it was told about the change:
    env.<run> (TEND_CHANGED_PATHS), file.<run> (a copy of the file named by
    TEND_CHANGED_PATHS_FILE) and then appends the run to `runs`."""
    return ("printf '%s' \"$TEND_CHANGED_PATHS\" > env.$TEND_RUN; "
            "if [ -n \"$TEND_CHANGED_PATHS_FILE\" ]; then "
            "cp \"$TEND_CHANGED_PATHS_FILE\" file.$TEND_RUN; "
            "printf '%s' \"$TEND_CHANGED_PATHS_FILE\" > name.$TEND_RUN; fi; "
            "echo $TEND_RUN >> runs; exec sleep 1000")


def read(d, name):
    with open(d.path(name)) as f:
        return f.read()


def test_sed_i_and_atomic_save_name_only_the_real_file(tend_factory,
                                                       tmp_path):
    os.makedirs(tmp_path / "src")
    (tmp_path / "src" / "app.py").write_text("x = 1\n")
    d = tend_factory({"name": "r", "children": [
        {"name": "srv", "cmd": dumper(),
         "watch": {"paths": ["src"], "debounce_ms": 200}}]}, http=True)
    wait_for(lambda: lines(d.path("runs")) == ["1"], 10)
    app = d.path("src", "app.py")
    # sed -i writes a temp file (sedXXXXXX) and renames it over app.py.
    subprocess.run(["sed", "-i", "s/1/2/", app], check=True)
    wait_for(lambda: lines(d.path("runs")) == ["1", "2"], 10)
    assert read(d, "env.2").splitlines() == [app], read(d, "env.2")
    assert read(d, "file.2").splitlines() == [app], read(d, "file.2")
    # An atomic save: write .app.py.tmp123, rename it over app.py.
    tmp = d.path("src", ".app.py.tmp123")
    with open(tmp, "w") as f:
        f.write("x = 3\n")
    os.replace(tmp, app)
    wait_for(lambda: lines(d.path("runs")) == ["1", "2", "3"], 10)
    assert read(d, "env.3").splitlines() == [app], read(d, "env.3")
    assert read(d, "file.3").splitlines() == [app], read(d, "file.3")
    # A file created and removed within one burst is no change at all; a
    # real file deleted is one.
    (tmp_path / "src" / "old.py").write_text("old\n")
    wait_for(lambda: len(lines(d.path("runs"))) == 4, 10)
    os.unlink(d.path("src", "old.py"))
    with open(d.path("src", "scratch"), "w") as f:
        f.write("tmp")
    os.unlink(d.path("src", "scratch"))
    wait_for(lambda: len(lines(d.path("runs"))) == 5, 10)
    assert read(d, "env.5").splitlines() == [d.path("src", "old.py")]
    # The file lives in the state folder, per runner; a run no change
    # caused gets neither variable, and the stale file is gone.
    name = read(d, "name.5")
    assert name == os.path.join(d.state_dir, "changed", "srv.txt"), name
    assert not os.path.exists(d.path("file.1"))
    assert os.path.exists(name)
    status, _ = d.api("POST", "/api/v1/runners/srv/restart")
    assert status == 200
    wait_for(lambda: len(lines(d.path("runs"))) == 6, 10)
    assert read(d, "env.6") == "" and not os.path.exists(d.path("file.6"))
    assert not os.path.exists(name), "a run no change caused: no stale file"
    d.stop()
    assert not os.path.exists(name), "removed when tend stops"


def test_git_checkout_of_250_files_lists_all_in_the_file(tend_factory,
                                                         tmp_path):
    repo = tmp_path / "src"
    os.makedirs(repo)
    sub = "a_package_with_a_rather_long_name/and_a_nested_module_folder"
    os.makedirs(repo / sub)
    names = [f"{sub}/generated_source_file_number_{i:04d}_of_the_test.py"
             for i in range(250)]

    def git(*args):
        subprocess.run(["git", "-c", "user.email=t@example.com",
                        "-c", "user.name=t", *args], cwd=repo, check=True,
                       capture_output=True)
    git("init", "-q", "-b", "main")
    for n in names:
        (repo / n).write_text("one\n")
    git("add", "-A")
    git("commit", "-q", "-m", "one")
    git("checkout", "-q", "-b", "other")
    for n in names:
        (repo / n).write_text("two\n")
    git("commit", "-q", "-am", "two")
    git("checkout", "-q", "main")
    d = tend_factory({"name": "r", "children": [
        {"name": "srv", "cmd": dumper(),
         "watch": {"paths": ["src"], "debounce_ms": 300,
                   "max_wait_ms": 30000}}]})
    wait_for(lambda: lines(d.path("runs")) == ["1"], 10)
    git("checkout", "-q", "other")
    wait_for(lambda: lines(d.path("runs")) == ["1", "2"], 20)
    want = sorted(str(repo / n) for n in names)
    assert sorted(read(d, "file.2").splitlines()) == want
    env = read(d, "env.2")
    assert len(env.encode()) <= 32768, len(env.encode())
    env_lines = env.splitlines()
    shown = env_lines[:-1]
    assert set(shown) <= set(want) and len(shown) < 250
    assert env_lines[-1] == (f"...({250 - len(shown)} more; see "
                             "TEND_CHANGED_PATHS_FILE)"), env_lines[-1]
    nothing_more_fires(d, "srv", repo / "zz.txt", "runs", 2)


def test_autosave_every_1_2_s_never_pauses_the_watch(tend_factory, tmp_path):
    """An editor's autosave: 14 saves 1.2 s apart, with the default loop
    limit. Every save restarts the runner; nothing is paused."""
    os.makedirs(tmp_path / "src")
    d = tend_factory({"name": "r", "children": [
        {"name": "srv", "cmd": pid_logger("srv"),
         "watch": {"paths": ["src"]}}]}, http=True)
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 1, 10)
    saves = 14
    for i in range(saves):
        t0 = time.monotonic()
        with open(d.path("src", "notes.md"), "w") as f:
            f.write(f"draft {i}\n")
        wait_for(lambda: len(lines(d.path("srv.pids"))) == i + 2, 10)
        time.sleep(max(0.0, 1.2 - (time.monotonic() - t0)))
    assert not [e for e in d.events() if e.get("type") == "watch_paused"]
    status, body = d.api("GET", "/api/v1/runners/srv")
    assert status == 200 and body["watch"]["paused"] is False, body


def test_self_triggering_runner_is_paused_and_shown(tend_factory, tmp_path):
    """A runner that touches a file in its own watched folder each time it
    starts: the default guard pauses it within bounded time, `tend status`
    says so, and resuming is an event with its reason."""
    from apihelp import cli
    os.makedirs(tmp_path / "src")
    os.makedirs(tmp_path / "mark")
    d = tend_factory({"name": "r", "children": [
        {"name": "loop", "cmd": "echo $$ >> loop.pids; date +%N > src/stamp; "
                                "exec sleep 1000",
         "watch": {"paths": ["src"]}}, mark_runner()]}, http=True)
    ev = wait_for(lambda: [e for e in d.events()
                           if e.get("type") == "watch_paused"], 30)
    assert ev[0].get("reason"), ev[0]
    assert any("stamp" in p for p in ev[0]["paths"])
    n = len(lines(d.path("loop.pids")))
    assert n <= 15, n
    paused_quiet(d, "loop", "loop.pids", n)
    r = cli(d, "status", check_code=0)
    row = [l for l in r.stdout.splitlines() if l.split()[0] == "loop"][0]
    assert "running (watch paused)" in row, r.stdout
    status, tree = d.api("GET", "/api/v1/tree")
    assert tree["children"][0]["watch"]["paused"] is True
    r = cli(d, "resume", "loop", check_code=0)
    ev = wait_for(lambda: [e for e in d.events()
                           if e.get("type") == "watch_resumed"], 10)
    assert ev[0].get("reason"), ev[0]


def test_max_wait_zero_waits_for_quiet(tend_factory, tmp_path):
    """max_wait_ms 0 turns the cap off: a steady stream of changes fires
    only once it stops."""
    os.makedirs(tmp_path / "src")
    d = tend_factory(watched(debounce_ms=400, max_wait_ms=0))
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 1, 10)
    end = time.monotonic() + 3.0
    i = 0
    while time.monotonic() < end:
        (tmp_path / "src" / "stream").write_text(str(i))
        i += 1
        time.sleep(0.1)
        assert len(lines(d.path("srv.pids"))) == 1, "fired mid-stream"
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 2, 10)
    nothing_more_fires(d, "srv", tmp_path / "src" / "zz", "srv.pids", 2)


def test_postpone_starts_only_on_the_first_change(tend_factory, tmp_path):
    os.makedirs(tmp_path / "src")
    d = tend_factory(watched(postpone=True), http=True)
    d.wait_transition("r", "running")
    status, body = d.api("GET", "/api/v1/runners/srv")
    assert body["state"] == "stopped", body
    # The first change is the sentinel: nothing started srv before it.
    nothing_more_fires(d, "srv", tmp_path / "src" / "first", "srv.pids", 0)
    wait_for(lambda: len(lines(d.path("srv.pids"))) == 1, 10)
    assert d.path("src", "first") in lines(d.path("changed"))
    d.wait_transition("srv", "running")
    assert len([t for t in d.transitions("srv") if t[3] == "running"]) == 1


def test_postpone_is_checked(tmp_path):
    from conftest import TEND_BIN
    os.makedirs(tmp_path / "src")
    bad = [({"autostart": True}, {"postpone": True}, "autostart"),
           ({}, {"postpone": True, "action": "signal:HUP"}, "signal"),
           ({}, {"postpone": "yes"}, "postpone")]
    for extra, watch, word in bad:
        cfg = watched(extra, **watch)
        (tmp_path / "tend.json").write_text(json.dumps(cfg))
        r = subprocess.run([TEND_BIN, "check", str(tmp_path / "tend.json")],
                           capture_output=True, text=True)
        assert r.returncode != 0, (cfg, r.stdout, r.stderr)
        assert "postpone" in r.stdout + r.stderr and word in (
            r.stdout + r.stderr), r.stdout + r.stderr


def test_job_and_signal_loops_are_paused_too(tend_factory, tmp_path):
    """The other two shapes of a loop: a job (action start) that writes its
    output into its watched folder just before it exits, and a server that
    writes there when the watch's signal reaches it."""
    os.makedirs(tmp_path / "src")
    os.makedirs(tmp_path / "mark")
    d = tend_factory({"name": "r", "children": [
        {"name": "job", "restart": "temporary",
         "cmd": "echo run >> job.runs; sleep 0.3; date +%N > src/job.out",
         "watch": {"paths": ["src"], "action": "start",
                   "exclude": ["sig.out"]}},
        {"name": "sig", "cmd": "echo $$ > sig.pid; "
                               "trap 'date +%N > src/sig.out' HUP; "
                               "date +%N > src/sig.out; "
                               "while :; do sleep 0.05; done",
         "watch": {"paths": ["src"], "action": "signal:HUP",
                   "exclude": ["job.out"]}}, mark_runner()]})
    paused = wait_for(lambda: {e["node"] for e in d.events()
                               if e.get("type") == "watch_paused"}
                      == {"job", "sig"} and True, 60)
    assert paused
    n = len(lines(d.path("job.runs")))
    assert n <= 15, n
    paused_quiet(d, "job", "job.runs", n)
    assert len(lines(d.path("sig.pid"))) == 1, "signalled, never restarted"
