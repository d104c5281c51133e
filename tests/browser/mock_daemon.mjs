// mock_daemon: a stand-in for `tend up` that speaks the documented public API
// (issue 4, notes/formats.md) with simulated runners. It serves ui/web/ the
// way the daemon does (CSP default-src 'self', cookie login, ETag-less), so
// the UI can be developed and looked at without the C daemon, and the unit
// browser test (test_mock.mjs) can check client-side behaviour such as
// exactly-once resume deterministically. The real acceptance tests
// (test_ui.mjs) never use it: they run the real daemon.
//
// Usage: node mock_daemon.mjs [port]   (prints the URL with the token)

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.join(here, '..', '..', 'ui', 'web');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js':
  'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
'.svg': 'image/svg+xml' };

// Creates a mock daemon; returns {server, port, token, state, close()}.
export async function startMock(opts = {}) {
  const { port = 0, token = 'mocktoken', config = defaultConfig(),
    tick = 300, restartDelay = 150 } = opts;
  const st = {
    root: null, runners: new Map(), events: [], eventSubs: new Set(),
    timers: [], configError: null,
  };
  // Publishes an event to the log and the subscribers.
  const emit = (ev) => {
    ev.seq = st.events.length + 1;
    ev.ts = Date.now();
    st.events.push(ev);
    for (const s of st.eventSubs) s(ev);
  };
  // A runner's "can" as the daemon sends it (runners/fsm.c's predicates;
  // the real daemon's table is checked by tests/unit/test_fsm.c).
  const canOf = (state) => {
    const alive = ['starting', 'running', 'ready', 'stopping'].includes(state);
    return { start: !alive, stop: state !== 'stopped' && state !== 'stopping',
      restart: true, signal: alive };
  };
  // Builds the tree nodes (runners get simulated state).
  const build = (spec) => {
    if (spec.children) {
      return { name: spec.name, kind: 'group', state: 'running',
        strategy: spec.strategy || 'one_for_one', restarts: 0,
        children: spec.children.map(build) };
    }
    const r = { name: spec.name, kind: 'runner', state: 'stopped', pid: null,
      run: 0, restarts: 0, since: Date.now(), last_exit: null,
      next_start_ms: null, output_seq: 0, watch: spec.watch ? { paused: false,
        paths: ['src'] } : null, can: canOf('stopped') };
    st.runners.set(spec.name, { node: r, spec, chunks: [], subs: new Set(),
      n: 0, timer: 0 });
    return r;
  };
  st.root = build(config);
  const transition = (rr, to, extra = {}) => {
    const from = rr.node.state;
    rr.node.state = to;
    rr.node.since = Date.now();
    rr.node.can = canOf(to);
    emit({ type: 'state', node: rr.node.name, kind: 'runner', from, to,
      pid: rr.node.pid, run: rr.node.run, can: rr.node.can, ...extra });
  };
  // Appends an output chunk to a runner's log and publishes it.
  const out = (rr, stream, data, extra = {}) => {
    const c = { seq: rr.chunks.length + 1, ts: Date.now(), run: rr.node.run,
      stream, data, ...extra };
    rr.chunks.push(c);
    rr.node.output_seq = c.seq;
    for (const s of rr.subs) s(c);
    return c;
  };
  const startRunner = (rr) => {
    rr.node.run++;
    rr.node.pid = 4000 + Math.floor(Math.random() * 5000);
    rr.node.next_start_ms = null;
    transition(rr, 'starting');
    out(rr, 'tend', `started (pid ${rr.node.pid})\n`, { event: 'start',
      pid: rr.node.pid });
    transition(rr, 'running');
    rr.n = 0;
    clearInterval(rr.timer);
    rr.timer = setInterval(() => step(rr), rr.spec.every || tick);
  };
  const exitRunner = (rr, status, reason, restart) => {
    clearInterval(rr.timer);
    const delay = Math.min(200 * 2 ** Math.min(rr.node.restarts, 5), 5000);
    const data = restart ? `exited with status ${status}; restart in ${delay} ms\n`
      : `exited with status ${status}\n`;
    out(rr, 'tend', data, { event: 'exit', status });
    rr.node.last_exit = { status, reason, ts: Date.now() };
    rr.node.pid = null;
    if (restart) {
      rr.node.next_start_ms = Date.now() + delay;
      transition(rr, 'backoff', { event: 'exit', reason });
      rr.timer = setTimeout(() => {
        rr.node.restarts++;
        startRunner(rr);
      }, delay);
    } else transition(rr, 'stopped', { event: 'stop', reason });
  };
  const step = (rr) => {
    rr.n++;
    const kind = rr.spec.kind || 'log';
    const t = new Date().toISOString().slice(11, 23);
    if (kind === 'log') {
      const lvl = ['\x1b[32mINFO\x1b[0m', '\x1b[36mDEBUG\x1b[0m',
        '\x1b[33mWARN\x1b[0m'][rr.n % 3];
      out(rr, 'stdout', `${t} ${lvl} request ${rr.n} GET /api/items/${rr.n % 17}` +
        ` \x1b[2m${(rr.n * 7) % 90 + 3}ms\x1b[0m\n`);
      if (rr.n % 5 === 0) out(rr, 'stderr', `${t} error: upstream timeout ` +
        `(attempt ${rr.n / 5})\n`);
    } else if (kind === 'build') {
      out(rr, 'stdout', `\x1b[1;34m[build]\x1b[0m compiling module ${rr.n}` +
        ` \x1b[38;5;208m${rr.n % 100}%\x1b[0m \x1b[38;2;120;200;80m✔\x1b[0m\n`);
    } else if (kind === 'crash') {
      out(rr, 'stdout', `booting worker ${rr.n}\n`);
      if (rr.n >= 3) {
        out(rr, 'stderr', 'panic: cannot connect to queue\n');
        exitRunner(rr, 1, 'exited with status 1', true);
      }
    } else if (kind === 'quiet') {
      if (rr.n === 1) out(rr, 'stdout', 'listening on :5432\n');
    }
  };
  for (const rr of st.runners.values()) startRunner(rr);

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const cookie = req.headers.cookie || '';
    const authed = cookie.split(/;\s*/).includes(`tend_token=${token}`) ||
      req.headers.authorization === `Bearer ${token}`;
    const json = (code, obj) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    if (url.pathname === '/' && url.searchParams.get('token')) {
      if (url.searchParams.get('token') !== token) return json(401,
        { error: 'bad token' });
      res.writeHead(302, { Location: '/', 'Set-Cookie':
        `tend_token=${token}; HttpOnly; SameSite=Strict; Path=/` });
      return res.end();
    }
    if (!url.pathname.startsWith('/api/')) {
      const file = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
      if (file.includes('/') || file.includes('..')) return json(404,
        { error: 'not found' });
      if (file === 'index.html' && !authed) return json(401,
        { error: 'unauthorized' });
      const p = path.join(webDir, file);
      if (!fs.existsSync(p)) return json(404, { error: 'not found' });
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(p)] ||
        'application/octet-stream', 'Content-Security-Policy':
        "default-src 'self'", 'Cache-Control': 'no-cache' });
      return res.end(fs.readFileSync(p));
    }
    if (!authed) return json(401, { error: 'unauthorized' });
    const m = url.pathname.match(/^\/api\/v1\/(runners|groups)\/([^/]+)(\/.*)?$/);
    if (url.pathname === '/api/v1/tree') return json(200, st.root);
    if (url.pathname === '/api/v1/events/stream') {
      return sse(req, res, url, st.events, st.eventSubs);
    }
    if (!m) return json(404, { error: 'no such path' });
    const name = decodeURIComponent(m[2]);
    const rest = m[3] || '';
    if (m[1] === 'groups') {
      if (req.method === 'POST' && rest === '/restart') {
        for (const rr of st.runners.values()) {
          clearInterval(rr.timer);
          clearTimeout(rr.timer);
          rr.node.restarts++;
          startRunner(rr);
        }
        return json(200, { ok: true });
      }
      return json(404, { error: 'no such path' });
    }
    const rr = st.runners.get(name);
    if (!rr) return json(404, { error: `no runner named "${name}"` });
    if (req.method === 'GET' && rest === '') return json(200, rr.node);
    if (req.method === 'GET' && rest === '/output') {
      const after = Number(url.searchParams.get('after') || 0);
      const limit = Math.min(Number(url.searchParams.get('limit') || 1000),
        10000);
      const chunks = rr.chunks.slice(after, after + limit);
      return json(200, { chunks, next: chunks.length
        ? chunks[chunks.length - 1].seq : after });
    }
    if (req.method === 'GET' && rest === '/output/stream')
      return sse(req, res, url, rr.chunks, rr.subs);
    if (req.method === 'POST') {
      if (req.headers.origin && req.headers.origin !==
          `http://${req.headers.host}`) return json(403, { error: 'bad origin' });
      const running = rr.node.state === 'running';
      if (rest === '/restart') {
        setTimeout(() => {
          clearInterval(rr.timer);
          clearTimeout(rr.timer);
          if (rr.node.pid) {
            out(rr, 'tend', 'exited with signal TERM (restart requested)\n',
              { event: 'exit', signal: 'TERM' });
            rr.node.restarts++;
          }
          startRunner(rr);
          json(200, { ok: true });
        }, restartDelay);
        return;
      }
      if (rest === '/stop') {
        if (!running) return json(409, { error: `${name} is not running` });
        exitRunner(rr, 0, 'stopped by request', false);
        return json(200, { ok: true });
      }
      if (rest === '/start') {
        if (running) return json(409, { error: `${name} is already running` });
        clearTimeout(rr.timer);
        startRunner(rr);
        return json(200, { ok: true });
      }
      if (rest === '/signal') {
        if (opts.failSignal) return json(409, { error:
          `cannot signal ${name}: not running` });
        return json(200, { ok: true });
      }
    }
    return json(405, { error: 'method not allowed' });
  });
  // Streams items with seq > after (or from the live position), then live.
  function sse(req, res, url, log, subs) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache' });
    const hdr = req.headers['last-event-id'];
    const a = hdr ?? url.searchParams.get('after');
    let last = a === null || a === undefined ? log.length : Number(a);
    const send = (item) => {
      if (item.seq <= last) return;
      last = item.seq;
      res.write(`id: ${item.seq}\ndata: ${JSON.stringify(item)}\n\n`);
    };
    for (const item of log.slice(last)) send(item);
    subs.add(send);
    req.on('close', () => subs.delete(send));
  }
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const m = {
    server, port: server.address().port, token, state: st, emit,
    runner: (n) => st.runners.get(n),
    out,
    // Takes the server away (every connection dropped), as a dead daemon.
    down: () => {
      for (const s of sockets) s.destroy();
      return new Promise((ok) => server.close(ok));
    },
    // Brings it back on the same port.
    up: () => new Promise((ok) => server.listen(m.port, '127.0.0.1', ok)),
    close: () => {
      for (const rr of st.runners.values()) {
        clearInterval(rr.timer);
        clearTimeout(rr.timer);
      }
      for (const s of sockets) s.destroy();
      return new Promise((ok) => server.close(ok));
    },
  };
  return m;
}

// The demo tree: a database, a backend group, a build watcher, a crasher.
export function defaultConfig() {
  return { name: 'dev', children: [
    { name: 'db', kind: 'quiet' },
    { name: 'backend', strategy: 'rest_for_one', children: [
      { name: 'api', kind: 'log', every: 400, watch: true },
      { name: 'worker', kind: 'crash', every: 500 },
    ] },
    { name: 'assets', kind: 'build', every: 700 },
  ] };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const m = await startMock({ port: Number(process.argv[2] || 0) });
  console.log(`http://127.0.0.1:${m.port}/?token=${m.token}`);
}
