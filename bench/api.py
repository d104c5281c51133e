"""HTTP API benchmark (issue 4).

1. Requests/s for GET /api/v1/tree with 100 runners: wrk, keep-alive, 50
   connections, the Bearer token header; the daemon pinned to CPU 0 and wrk
   to CPU 1 (issue 4's target is for one core). Peer: supervisord's XML-RPC
   supervisor.getAllProcessInfo over its inet_http_server, same 100
   programs, same wrk settings.
2. SSE fan-out: 500 concurrent subscribers of /api/v1/runners/tick/output/
   stream; the runner prints "T <monotonic ns>" every 250 ms; each
   subscriber's receive time minus that stamp is the delay (the client
   stamps every ready socket right after recv, before parsing any).
"""

import json
import os
import re
import select
import socket
import subprocess
import time
import urllib.parse
import xmlrpc.client

from benchlib import (STAMP, Supervisord, Table, Tend, fmt, headline,
                      fresh_dir, have, kill_stamped, log, median, now, pct,
                      raise_nofile, ratio, register_stamps, reps,
                      reset_results, starts, wait_for)

NAME = "3-api"
RUNNERS = 100
SUBSCRIBERS = 500


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_wrk(url, headers=(), script=None, seconds=5):
    """Requests/s and non-2xx count of one wrk run pinned to CPU 1."""
    argv = ["wrk", "-t1", "-c50", f"-d{seconds}s"]
    if have("taskset"):
        argv = ["taskset", "-c", "1"] + argv
    for h in headers:
        argv += ["-H", h]
    if script:
        argv += ["-s", script]
    argv.append(url)
    r = subprocess.run(argv, capture_output=True, text=True,
                       timeout=seconds + 60)
    m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", r.stdout)
    if not m:
        log("wrk failed: " + (r.stdout + r.stderr)[-500:])
        return None, None
    return float(m.group(1)), int(bad.group(1)) if bad else 0


def sleepers(stamps):
    return [{"name": f"r{i}", "cmd": [STAMP, stamps, "pause"]}
            for i in range(RUNNERS)]


def bench_tree(tend):
    seconds, count = reps(5, 2), reps(3, 1)
    table = Table(NAME, f"GET /api/v1/tree with {RUNNERS} runners",
                  ["tool", "requests/s", "non-2xx", "runs", "vs tend"],
                  note=(f"wrk -t1 -c50 -d{seconds}s (keep-alive), median "
                        "over the runs; the daemon pinned to CPU 0, wrk to "
                        "CPU 1. Peer: supervisord's XML-RPC "
                        "`supervisor.getAllProcessInfo` (the same question: "
                        "every process with its state) on the same 100 "
                        "programs."))
    if not have("wrk"):
        table.missing("tend", "wrk not installed")
        table.emit()
        return
    body = tend.get("/api/v1/tree")
    log(f"api: tree response has {len(json.dumps(body))} bytes")
    tend_rps, bad_total = [], 0
    for i in range(count):
        log(f"api: wrk on tend, run {i + 1}/{count}")
        rps, bad = run_wrk(tend.url + "/api/v1/tree",
                           ["Authorization: Bearer " + tend.token],
                           seconds=seconds)
        if rps:
            tend_rps.append(rps)
            bad_total += bad
    ref = median(tend_rps)
    table.row("tend", ref, bad_total, len(tend_rps), "1.00x")
    peer = ""
    if have("supervisord"):
        sup_rps, bad_sup = supervisord_rpc(seconds, count)
        if sup_rps:
            peer = f"supervisord XML-RPC {fmt(median(sup_rps))}"
            table.row("supervisord (XML-RPC)", median(sup_rps), bad_sup,
                      len(sup_rps), ratio(median(sup_rps), ref))
        else:
            table.missing("supervisord (XML-RPC)", "did not answer")
    else:
        table.missing("supervisord (XML-RPC)", "not installed")
    headline(NAME, f"GET /api/v1/tree, {RUNNERS} runners (requests/s)",
             fmt(ref), "&ge; 20 000 on one core", peer)
    table.line("Issue 4 target: at least 20 000 requests/s on one core. "
               "Ratio: tool / tend, so <1 means fewer requests/s than "
               "tend.")
    table.emit()


def supervisord_rpc(seconds, count):
    folder = fresh_dir("api", "supervisord")
    stamps = os.path.join(folder, "stamps")
    register_stamps(stamps)
    port = free_port()
    sup = Supervisord(folder, [(f"r{i}", f"{STAMP} {stamps} pause", {})
                               for i in range(RUNNERS)],
                      http_port=port).start(cpus="0")
    rps_list, bad_total = [], 0
    try:
        if not wait_for(lambda: len(starts(stamps)) >= RUNNERS, 60, 0.05,
                        "supervisord's programs"):
            return None, None
        proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
        if not wait_for(lambda: _rpc_ok(proxy), 20, 0.1, "XML-RPC"):
            return None, None
        body = xmlrpc.client.dumps((), "supervisor.getAllProcessInfo")
        lua = os.path.join(folder, "rpc.lua")
        with open(lua, "w") as f:
            f.write('wrk.method = "POST"\n'
                    f'wrk.body = {json.dumps(body)}\n'
                    'wrk.headers["Content-Type"] = "text/xml"\n')
        for i in range(count):
            log(f"api: wrk on supervisord, run {i + 1}/{count}")
            rps, bad = run_wrk(f"http://127.0.0.1:{port}/RPC2", script=lua,
                               seconds=seconds)
            if rps:
                rps_list.append(rps)
                bad_total += bad
    finally:
        sup.stop()
        kill_stamped(stamps)
    return rps_list, bad_total


def _rpc_ok(proxy):
    try:
        return len(proxy.supervisor.getAllProcessInfo()) >= RUNNERS
    except (OSError, xmlrpc.client.Error):
        return False


# -- SSE fan-out -----------------------------------------------------------

class Sub:
    """One SSE subscriber: raw socket, HTTP/1.1 with chunked decoding."""

    def __init__(self, host, port, path, token):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                           f"Authorization: Bearer {token}\r\n"
                           "Accept: text/event-stream\r\n\r\n").encode())
        self.sock.setblocking(False)
        self.raw = b""
        self.headers_done = False
        self.chunked = False
        self.body = b""
        self.status = None
        self.pending = []   # (recv ns, bytes) not parsed yet

    def feed(self, data):
        """Adds received bytes; returns complete SSE event texts."""
        self.raw += data
        if not self.headers_done:
            i = self.raw.find(b"\r\n\r\n")
            if i < 0:
                return []
            head = self.raw[:i].decode("latin-1")
            self.status = int(head.split()[1])
            self.chunked = "chunked" in head.lower()
            self.raw = self.raw[i + 4:]
            self.headers_done = True
        if self.chunked:
            while True:
                j = self.raw.find(b"\r\n")
                if j < 0:
                    break
                size = int(self.raw[:j].split(b";")[0] or b"0", 16)
                if len(self.raw) < j + 2 + size + 2:
                    break
                self.body += self.raw[j + 2:j + 2 + size]
                self.raw = self.raw[j + 2 + size + 2:]
        else:
            self.body += self.raw
            self.raw = b""
        events = []
        while True:
            k = self.body.find(b"\n\n")
            if k < 0:
                break
            events.append(self.body[:k].decode("utf-8", "replace"))
            self.body = self.body[k + 2:]
        return events


def first_tick(event):
    """(seq, first T stamp) of an SSE event carrying a tick chunk."""
    data, seq = [], None
    for line in event.split("\n"):
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif line.startswith("id:"):
            seq = line[3:].strip()
    if not data:
        return None
    try:
        chunk = json.loads("\n".join(data))
    except ValueError:
        return None
    if chunk.get("stream") != "stdout":
        return None
    for line in chunk.get("data", "").split("\n"):
        if line.startswith("T "):
            return chunk.get("seq", seq), int(line[2:])
    return None


def bench_sse(tend):
    want = reps(40, 12)
    table = Table(NAME, f"A chunk reaching {SUBSCRIBERS} SSE subscribers",
                  ["measure", "median (ms)", "p99 (ms)", "max (ms)"],
                  note=(f"{SUBSCRIBERS} clients on GET /api/v1/runners/tick/"
                        "output/stream (one process, pinned to CPU 1; the "
                        "daemon on CPU 0); the runner prints a monotonic "
                        f"stamp every 250 ms; {want} chunks. *Delay* = "
                        "receive time - the stamp printed by the child, so "
                        "it includes tend's flush interval (up to 100 ms "
                        "by design). No peer streams output to HTTP "
                        "clients, so this table has tend only."))
    u = urllib.parse.urlparse(tend.url)
    path = "/api/v1/runners/tick/output/stream"
    subs = []
    try:
        for _ in range(SUBSCRIBERS):
            subs.append(Sub(u.hostname, u.port, path, tend.token))
    except OSError as e:
        table.missing("tend", f"only {len(subs)} connections: {e}")
        table.emit()
        return
    ep = select.epoll()
    by_fd = {s.sock.fileno(): s for s in subs}
    for fd in by_fd:
        ep.register(fd, select.EPOLLIN)
    got = {}          # seq -> list of delays (ms)
    spread = {}       # seq -> [first recv, last recv]
    deadline = time.monotonic() + want * 0.25 + 30
    seqs_seen = []
    while time.monotonic() < deadline:
        ready = ep.poll(1.0)
        batch = []
        for fd, _ in ready:
            try:
                data = by_fd[fd].sock.recv(65536)
            except BlockingIOError:
                continue
            batch.append((now(), by_fd[fd], data))
        for t, sub, data in batch:
            if not data:
                ep.unregister(sub.sock.fileno())
                continue
            for ev in sub.feed(data):
                tick = first_tick(ev)
                if not tick:
                    continue
                seq, stamp = tick
                if seq not in got:
                    seqs_seen.append(seq)
                got.setdefault(seq, []).append((t - stamp) / 1e6)
                sp = spread.setdefault(seq, [t, t])
                sp[0], sp[1] = min(sp[0], t), max(sp[1], t)
        # Stop once `want` chunks after the first (skipped: subscribers
        # were still connecting) have reached everyone or timed out.
        full = [s for s in seqs_seen[1:] if len(got[s]) >= SUBSCRIBERS]
        if len(full) >= want:
            break
    statuses = {}
    for s in subs:
        statuses[s.status] = statuses.get(s.status, 0) + 1
        s.sock.close()
    ep.close()
    seqs = seqs_seen[1:want + 1]
    if not seqs:
        table.missing("tend", f"no chunk received (HTTP statuses: "
                      f"{statuses})")
        table.emit()
        return
    worst = [max(got[s]) for s in seqs]
    alld = [d for s in seqs for d in got[s]]
    spreads = [(spread[s][1] - spread[s][0]) / 1e6 for s in seqs]
    complete = sum(1 for s in seqs if len(got[s]) >= SUBSCRIBERS)
    table.row("delay, slowest subscriber per chunk", median(worst),
              pct(worst, 99), max(worst))
    table.row("delay, every delivery", median(alld), pct(alld, 99),
              max(alld))
    table.row("fan-out spread (last - first subscriber)", median(spreads),
              pct(spreads, 99), max(spreads))
    headline(NAME, f"chunk to {SUBSCRIBERS} SSE subscribers, slowest "
             "(median / max ms)", f"{fmt(median(worst))} / {fmt(max(worst))}"
             f" ({complete}/{len(seqs)} chunks to all)",
             "every chunk &le; 200 ms", "no peer streams output over HTTP")
    table.line(f"{complete} of {len(seqs)} chunks reached all "
               f"{SUBSCRIBERS} subscribers; HTTP statuses: "
               f"{ {k: v for k, v in statuses.items()} }.")
    table.line("Issue 4 target: 500 subscribers each receiving every chunk "
               "within 200 ms.")
    table.emit()


def main():
    raise_nofile()
    reset_results(NAME)
    folder = fresh_dir("api", "tend")
    stamps = os.path.join(folder, "stamps")
    register_stamps(stamps)
    children = sleepers(stamps) + [{"name": "tick",
                                    "cmd": [STAMP, "-", "tick", "250"]}]
    tend = Tend(folder, children, http=True).start(cpus="0")
    try:
        tend.wait_api()
        if not wait_for(lambda: len(starts(stamps)) >= RUNNERS, 120, 0.05,
                        "tend's runners"):
            raise RuntimeError("tend did not start its runners: " +
                               tend.stderr())
        wait_for(lambda: any(e.get("node") == "tick" and
                             e.get("to") == "running"
                             for e in tend.events()), 60, 0.05, "tick")
        bench_tree(tend)
        bench_sse(tend)
    finally:
        tend.stop()
        kill_stamped(stamps)


if __name__ == "__main__":
    main()
