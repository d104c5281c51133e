"""Golden files for the API's answers (STYLE.md 17): the tree, a runner, a
group, a page of output and an error, each compared with
tests/integration/golden/NAME.json after the volatile fields are replaced by
placeholders (normalise()). A change to a response's shape shows up as a
diff of the golden file in review, on purpose.

To regenerate after a deliberate change, run

    TEND_GOLDEN_UPDATE=1 TEND_BIN=$PWD/build/asan/tend TEND_VARIANT=asan \\
      /usr/bin/python3 -m pytest -q -p no:cacheprovider \\
      tests/integration/test_golden.py

and read the diff of tests/integration/golden/ before committing it.
"""
import json
import os

from apihelp import runner_state, tree
from conftest import wait_for

HERE = os.path.dirname(__file__)
GOLDEN = os.path.join(HERE, "golden")
UPDATE = os.environ.get("TEND_GOLDEN_UPDATE") == "1"

# Keys whose values differ from run to run: process ids, wall-clock times,
# sizes that depend on the host. Their value becomes "<key>" unless null.
VOLATILE = {"pid", "since", "ts", "next_start_ms", "rss", "rss_bytes",
            "cpu", "uptime_ms", "started", "started_ms"}


def pids_in(v):
    """Every "pid" value anywhere in v."""
    if isinstance(v, dict):
        return {x for k, x in v.items() if k == "pid" and
                isinstance(x, int)} | set().union(*map(pids_in, v.values()))
    if isinstance(v, list):
        return set().union(*map(pids_in, v))
    return set()


def normalise(v, scratch, pids=None):
    """Returns v with volatile values as placeholders, the scratch folder's
    path as <dir> and the pids inside text ("started (pid 4242)") as
    <pid>."""
    if pids is None:
        pids = pids_in(v)
    if isinstance(v, dict):
        return {k: (f"<{k}>" if k in VOLATILE and x is not None
                    else normalise(x, scratch, pids)) for k, x in v.items()}
    if isinstance(v, list):
        return [normalise(x, scratch, pids) for x in v]
    if isinstance(v, str):
        v = v.replace(scratch, "<dir>")
        for p in pids:
            v = v.replace(f"pid {p}", "pid <pid>")
        return v
    return v


def check(d, name, body):
    """Compares body (normalised) with golden/NAME.json, or writes it."""
    got = normalise(body, d.dir)
    path = os.path.join(GOLDEN, f"{name}.json")
    text = json.dumps(got, indent=2, sort_keys=True) + "\n"
    if UPDATE:
        with open(path, "w") as f:
            f.write(text)
        return
    assert os.path.exists(path), \
        f"no {path}: run with TEND_GOLDEN_UPDATE=1 to write it"
    with open(path) as f:
        want = json.load(f)
    assert got == want, (f"{name}: the answer differs from {path} (run with "
                         f"TEND_GOLDEN_UPDATE=1 if the change is meant):\n"
                         f"{text}")


def test_api_answers_match_their_golden_files(tend_factory):
    # Deterministic on purpose: "hello" prints two lines in one write (one
    # chunk) and waits;
    # "idle" never starts. Once hello's output is there, nothing changes.
    d = tend_factory(tree(
        {"name": "hello", "cmd": "printf 'one\\ntwo\\n'; exec sleep 1000"},
        {"name": "idle", "cmd": "sleep 1000", "autostart": False}),
        http=True)
    d.url()
    page = "/api/v1/runners/hello/output?after=0&limit=10"

    def settled():
        # Its one write is stored, and the tree's output_seq (which may lag
        # by up to 100 ms) has caught up with it.
        chunks = d.api("GET", page)[1].get("chunks") or []
        return (runner_state(d, "hello")["state"] == "running" and
                any("two" in (c.get("data") or "") for c in chunks) and
                runner_state(d, "hello")["output_seq"] == chunks[-1]["seq"])
    wait_for(settled, 10, what="hello running with its output")
    answers = {
        "tree": ("GET", "/api/v1/tree", 200),
        "runner": ("GET", "/api/v1/runners/hello", 200),
        "runner_stopped": ("GET", "/api/v1/runners/idle", 200),
        "group": ("GET", "/api/v1/groups/dev", 200),
        "output_page": ("GET", page, 200),
        "error_not_found": ("GET", "/api/v1/runners/nope", 404),
        "error_conflict": ("POST", "/api/v1/runners/idle/stop", 409),
    }
    for name, (method, path, want) in answers.items():
        status, body = d.api(method, path)
        assert status == want, (name, status, body)
        check(d, name, body)
