"""Keeps docs/api.md true: every curl example in it runs against a real
daemon, in the order of the page, and must get the status written under it
(`<!-- expect: 200 -->`). Each status is exact: after an example that
changes the runner, the test waits for the change to be observable (the
transition it causes) before the next example runs, so no example depends
on how fast the last one took effect."""

import os
import re
import subprocess

from apihelp import runner_state, ticker, tree
from conftest import SLOW, wait_for

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "api.md")
BLOCK = re.compile(r"```sh\n(?P<code>.*?)```\n(?:<!-- expect: (?P<expect>"
                   r"[0-9|]+) -->)?", re.S)


def examples():
    """[(code, {status})] for every sh block that runs curl."""
    with open(DOC) as f:
        text = f.read()
    out = []
    for m in BLOCK.finditer(text):
        code = m["code"].strip()
        if not code.startswith("curl"):
            continue
        assert m["expect"], f"docs/api.md: no <!-- expect: --> after:\n{code}"
        assert "|" not in m["expect"], \
            f"docs/api.md: one exact status, not {m['expect']}, after:\n{code}"
        out.append((code, {int(s) for s in m["expect"].split("|")}))
    return out


def test_docs_have_an_example_per_endpoint():
    text = " ".join(code for code, _ in examples()) + " "
    for path in ("/healthz", "/metrics", "/api/v1/tree", "/api/v1/daemon",
                 "/api/v1/runners/api ", "/api/v1/groups/dev",
                 "/runners/api/start", "/runners/api/stop",
                 "/runners/api/restart", "/runners/api/signal",
                 "/runners/api/input", "/runners/api/resize",
                 "/groups/dev/restart", "/watch/resume", "/api/v1/reload",
                 "/runners/api/output?", "/output/stream", "/api/v1/events?",
                 "/api/v1/events/stream", "/api/v1/ui/login", "?code="):
        assert path in text, f"no curl example for {path}"


def settle_after(d, code, before):
    """Waits until what example code did to runner "api" is visible. before
    is api's status when the example was sent."""
    if " -X POST " not in f" {code} ":
        return
    api_state = lambda: runner_state(d, "api")
    if code.endswith("/runners/api/stop") or code.endswith("/groups/all/stop"):
        wait_for(lambda: api_state()["state"] == "stopped", 10,
                 what="api stopped")
    elif (code.endswith("/runners/api/start") or
          code.endswith("/runners/api/restart") or
          code.endswith("/groups/dev/restart") or
          code.endswith("/groups/all/start") or
          ("/runners/api/signal" in code and "HUP" in code)):
        # A new run, up: the ticker's shell dies of HUP and is restarted.
        wait_for(lambda: api_state()["run"] > before["run"] and
                 api_state()["state"] == "running", 15,
                 what=f"a new run of api after {code}")


def test_every_curl_example_gets_its_documented_status(tend_factory):
    d = tend_factory(tree(ticker("api", extra={
        "watch": {"paths": ["."], "include": ["*.txt"]}})), http=True)
    d.url()
    wait_for(lambda: runner_state(d, "api")["state"] == "running", 10)
    env = {**os.environ, "URL": d.url(), "TOKEN": d.token()}
    ran = 0
    for code, want in examples():
        # Ask curl for the status only; streams are cut after 2 s.
        cmd = ("curl -o /dev/null -w '%{http_code}' --max-time "
               f"{int(2 * SLOW)} " + code[len("curl "):])
        before = runner_state(d, "api")
        r = subprocess.run(["bash", "-c", cmd], cwd=d.dir, env=env,
                           capture_output=True, text=True,
                           timeout=30 * SLOW)
        assert r.returncode in (0, 28), (code, r.returncode, r.stderr)
        got = int(r.stdout.strip()[-3:])
        assert got in want, f"{code}\n -> {got}, docs say {sorted(want)}"
        if got < 300:
            settle_after(d, code, before)
        ran += 1
    assert ran >= 25
