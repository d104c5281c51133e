// daemon: starts a real `tend up` on a scratch folder for one browser test,
// finds its URL and token (<state_dir>/daemon.json and <state_dir>/token),
// and offers the calls a test needs: the API with the Bearer token, SIGKILL
// and restart on the same port, the store's .jsonl files, and polling.
// Nothing sleeps for a fixed time: every wait polls a condition with a
// generous bound (scaled up for the sanitizer build).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SLOW = process.env.TEND_VARIANT === 'asan' ? 3 : 1;
export const TEND_BIN = path.resolve(process.env.TEND_BIN ||
  path.join(import.meta.dirname, '..', '..', 'tend'));

// Polls fn until it returns a truthy value; returns it, or throws with what
// was last seen after timeout ms.
export async function waitFor(fn, timeout = 10000, what = 'condition') {
  const deadline = Date.now() + timeout * SLOW;
  let last;
  let err;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      err = e;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeout * SLOW} ms waiting for ${what}` +
    ` (last value: ${JSON.stringify(last)}${err ? `, last error: ${err.message}`
      : ''})`);
}

export class Daemon {
  // config: the tend.json object, or a function of the scratch folder's
  // path returning it; files: {relative path: text} written beside it
  // ("*.sh" made executable).
  constructor(config, files = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tend-ui-'));
    if (typeof config === 'function') config = config(this.dir);
    this.config = { http: { listen: '127.0.0.1:0' }, ...config };
    this.proc = null;
    this.url = null;
    this.token = null;
    this.writeConfig();
    for (const [name, text] of Object.entries(files)) {
      const p = path.join(this.dir, name);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, text, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
    }
  }

  get configPath() { return path.join(this.dir, 'tend.json'); }
  get stateDir() { return path.join(this.dir, '.tend'); }

  // Writes tend.json atomically (temp file + rename), as an editor would.
  writeConfig(config, text) {
    if (config) this.config = config;
    const tmp = this.configPath + '.tmp';
    fs.writeFileSync(tmp, text ?? JSON.stringify(this.config, null, 2));
    fs.renameSync(tmp, this.configPath);
  }

  // Starts `tend up` and waits until its API answers.
  async start() {
    const out = fs.openSync(path.join(this.dir, 'tend.out'), 'a');
    const err = fs.openSync(path.join(this.dir, 'tend.err'), 'a');
    try {
      fs.unlinkSync(path.join(this.stateDir, 'daemon.json'));
    } catch (e) { /* first start */ }
    this.proc = spawn(TEND_BIN, ['up', '-c', this.configPath], {
      cwd: this.dir, stdio: ['ignore', out, err] });
    fs.closeSync(out);
    fs.closeSync(err);
    this.exited = null;
    this.proc.on('exit', (code, sig) => { this.exited = { code, sig }; });
    // A binary that cannot be run (missing, being rebuilt) is a failed
    // start, not a crash of the test runner.
    this.proc.on('error', (e) => { this.exited = { error: e.message }; });
    const info = await waitFor(() => {
      if (this.exited) throw new Error(`tend up exited (${JSON.stringify(
        this.exited)}); stderr: ${this.stderr().slice(-2000)}`);
      return this.readInfo();
    }, 15000, `daemon.json in ${this.stateDir}`).catch((e) => {
      throw new Error(`${e.message}\nstdout: ${this.stdout().slice(-1500)}` +
        `\nstderr: ${this.stderr().slice(-1500)}`);
    });
    this.url = info.url;
    this.token = info.token;
    await waitFor(async () => (await fetch(`${this.url}/healthz`)).ok, 10000,
      'GET /healthz');
    return this;
  }

  // Returns {url, token, port} once daemon.json and the token exist.
  readInfo() {
    try {
      const d = JSON.parse(fs.readFileSync(path.join(this.stateDir,
        'daemon.json'), 'utf8'));
      const token = fs.readFileSync(path.join(this.stateDir, 'token'), 'utf8')
        .trim();
      let url = d.url || (d.port ? `http://127.0.0.1:${d.port}` : null);
      if (!url || !token) return null;
      url = new URL(url).origin;
      return { url, token, port: Number(new URL(url).port) };
    } catch (e) {
      return null;
    }
  }

  // A page URL that logs a browser in: a fresh one-time login code from
  // the API (the code of daemon.json's ui_url works once, for 60 s).
  async loginUrl() {
    const { status, body } = await this.api('POST', '/api/v1/ui/login');
    if (status !== 200) throw new Error(`login code: ${status} ${body}`);
    return this.url + body.path;
  }

  // One API call with the Bearer token: {status, body}.
  async api(method, p, body) {
    const res = await fetch(this.url + p, {
      method,
      headers: { Authorization: `Bearer ${this.token}`,
        ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch (e) { /* not JSON */ }
    return { status: res.status, body: json ?? text };
  }

  // The runner node of the tree called name (or null).
  async node(name) {
    const { body } = await this.api('GET', '/api/v1/tree');
    const find = (n) => n.name === name ? n
      : (n.children || []).map(find).find(Boolean) || null;
    return find(body);
  }

  // Every chunk in a runner's output log on disk.
  chunks(runner) {
    const p = path.join(this.stateDir, 'output', `${runner}.jsonl`);
    if (!fs.existsSync(p)) return [];
    return fs.readFileSync(p, 'utf8').split('\n').filter((l) => l.trim())
      .map((l) => JSON.parse(l));
  }

  // Every event in the event log on disk.
  events() {
    const p = path.join(this.stateDir, 'events.jsonl');
    if (!fs.existsSync(p)) return [];
    return fs.readFileSync(p, 'utf8').split('\n').filter((l) => l.trim())
      .map((l) => JSON.parse(l));
  }

  stdout() { return readOr(path.join(this.dir, 'tend.out')); }
  stderr() { return readOr(path.join(this.dir, 'tend.err')); }

  // Kills the daemon with SIGKILL (its children are left behind, as in a
  // crash) and waits for it to be gone.
  async kill9() {
    if (!this.proc || this.exited) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await gone;
  }

  // Starts the daemon again on the same port, as a new process.
  async restartSamePort() {
    const port = new URL(this.url).port;
    this.config = { ...this.config, http: { listen: `127.0.0.1:${port}` } };
    this.writeConfig();
    const deadline = Date.now() + 15000 * SLOW;
    for (;;) {
      try {
        return await this.start();
      } catch (e) {
        // The port can stay busy for a moment after the kill.
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  // Stops the daemon (SIGTERM, then SIGKILL after a bound) and removes the
  // scratch folder unless keep.
  async stop({ keep = false } = {}) {
    if (this.proc && !this.exited) {
      const gone = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 20000 * SLOW);
      await gone;
      clearTimeout(t);
    }
    if (!keep) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Returns a file's text, or '' when it does not exist.
function readOr(p) {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch (e) {
    return '';
  }
}
