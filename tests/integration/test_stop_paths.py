"""Two hangs a user met with `tend up -d` and `tend down`:

- a readiness command (`ready.exec`) that exits 0 at once was never seen to
  exit: the daemon's SIGCHLD handler (tend is a subreaper) reaped it before
  libuv could, so the runner stayed `starting` until the readiness timeout;
- a stop of the tree while a child waited for its readiness waited for that
  readiness (or its timeout) before stopping anything.
"""

import signal
import time

from conftest import SLOW, wait_for


def test_exec_readiness_is_seen_at_once(tend_factory):
    children = [{"name": f"r{i}", "cmd": ["sleep", "1000"],
                 "ready": {"exec": ["true"], "timeout_s": 300}}
                for i in range(6)]
    d = tend_factory({"name": "dev", "children": children})
    for i in range(6):
        # Far below the readiness timeout: each check exits 0 at once.
        d.wait_transition(f"r{i}", "ready", timeout=15)


def test_a_stop_does_not_wait_for_a_pending_readiness(tend_factory):
    d = tend_factory({"name": "dev", "children": [
        {"name": "api", "cmd": ["sleep", "1000"]},
        {"name": "slow", "cmd": ["sleep", "1000"],
         "ready": {"exec": ["false"], "timeout_s": 300}},
    ]})
    d.wait_transition("slow", "starting", count=2, timeout=15)
    began = time.monotonic()
    assert d.stop(signal.SIGTERM, timeout=60) == 0
    took = time.monotonic() - began
    assert took < 20 * SLOW, f"the stop took {took:.1f}s"
    out = d.stdout()
    assert "slow: starting --stop--> stopping" in out, out[-2000:]
    assert "dev: stopping --stopped--> stopped" in out
