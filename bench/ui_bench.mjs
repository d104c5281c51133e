// ui_bench: how fast the browser UI takes 100 000 lines of output, and what
// it costs in JS heap. Runs the real daemon ($TEND_BIN, default ./tend) and
// Debian's headless Chromium through tests/browser's playwright-core
// (scripts/browser-deps.sh installs both).
//
// Figures printed (targets from issue 6: under 2 s, under 100 MiB):
//   live:    the page is open on a runner, the runner writes 100 000 lines;
//            time from its start until the store (the daemon's .jsonl) has
//            them all, and until the page shows the last line; the
//            difference is the UI's own lag.
//   history: the 100 000 lines are on disk; time from opening the page until
//            the last line shows, then until the whole history is loaded and
//            its first line shows (key g).
//   heap:    JS heap used after a forced GC, with all 100 000 lines held.
//   scroll:  mean and worst time of 40 jumps through the whole output.
//   dom:     output rows in the DOM (the virtual window).
//
// Usage: node bench/ui_bench.mjs [--lines N] [--mock]
//   --mock uses tests/browser/mock_daemon.mjs instead of the daemon.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const bt = (f) => pathToFileURL(path.join(root, 'tests', 'browser', f)).href;
const { chromium } = await import(bt('node_modules/playwright-core/index.mjs'));
const { Daemon } = await import(bt('daemon.mjs'));
const { startMock } = await import(bt('mock_daemon.mjs'));

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--lines') + 1]) || 100000;
const useMock = args.includes('--mock');
const TIMEOUT = 120000;

// A runner that writes N coloured log lines as fast as it can, then idles.
const flood = `awk 'BEGIN { for (i = 1; i <= ${N}; i++) printf ` +
  `"%s \\033[32mINFO\\033[0m request %d GET /api/items/%d \\033[2m%dms\\033[0m\\n", ` +
  `"2025-01-01T00:00:00Z", i, i % 97, i % 50 }'; sleep 100000`;

// Starts the backend: {url, start(name), stop()}.
async function backend(autostart) {
  if (useMock) {
    const m = await startMock({ config: { name: 'bench', children: [
      { name: 'flood', kind: 'quiet', every: 100000000 }] } });
    const fill = () => {
      const rr = m.runner('flood');
      for (let i = 1; i <= N; i += 500) {
        let data = '';
        for (let k = i; k < i + 500 && k <= N; k++)
          data += `2025-01-01T00:00:00Z \x1b[32mINFO\x1b[0m request ${k} GET ` +
            `/api/items/${k % 97} \x1b[2m${k % 50}ms\x1b[0m\n`;
        m.out(rr, 'stdout', data);
      }
    };
    if (autostart) fill();
    return { url: `http://127.0.0.1:${m.port}/?token=${m.token}`,
      start: async () => fill(), stop: () => m.close() };
  }
  const d = new Daemon({ name: 'bench', children: [
    { name: 'flood', cmd: flood, autostart },
    { name: 'idle', cmd: 'sleep 100000' }] });
  await d.start();
  return { url: d.loginUrl(), start: async (name) => {
    const r = await d.api('POST', `/api/v1/runners/${name}/start`);
    if (r.status !== 200) throw new Error(`start: ${JSON.stringify(r.body)}`);
  }, stop: () => d.stop(), daemon: d };
}

// Waits until the page holds line `request n`, shown in the DOM.
function waitLine(page, n) {
  return page.waitForFunction((k) => [...document.querySelectorAll(
    '#log-rows .row .tx')].some((e) => e.textContent.includes(` request ${k} `)),
  n, { timeout: TIMEOUT, polling: 'raf' });
}

// JS heap used (MiB) after a forced garbage collection.
async function heapMiB(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  return usedSize / 1048576;
}

// Jumps through the whole output and times each jump until painted.
async function scrollBench(page) {
  return page.evaluate(async () => {
    const log = document.getElementById('log');
    const times = [];
    for (let i = 0; i < 40; i++) {
      const t0 = performance.now();
      log.scrollTop = (log.scrollHeight - log.clientHeight) * ((i * 7919) % 40) / 40;
      log.dispatchEvent(new Event('scroll'));
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      times.push(performance.now() - t0);
    }
    return { mean: times.reduce((a, b) => a + b, 0) / times.length,
      max: Math.max(...times) };
  });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu',
    '--disable-background-networking', '--disable-quic', '--no-first-run',
    '--disable-component-update', '--disable-sync'],
});
const results = {};
try {
  // 1. Live: the page watches the runner while it writes N lines.
  {
    const b = await backend(false);
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(b.url);
    await page.waitForFunction(() => window.tend && window.tend.root, null,
      { timeout: TIMEOUT });
    await page.evaluate(() => { location.hash = 'flood'; });
    await page.waitForFunction(() => window.tend.selected === 'flood' &&
      window.tend.logs.get('flood') && window.tend.logs.get('flood').ready,
    null, { timeout: TIMEOUT });
    const t0 = Date.now();
    await b.start('flood');
    const stored = b.daemon ? waitFor(b.daemon, N).then(() => Date.now() - t0)
      : Promise.resolve(0);
    await waitLine(page, N);
    results.live_ms = Date.now() - t0;
    results.live_store_ms = await stored;
    results.live_heap_mib = await heapMiB(page);
    results.live_lines = await page.evaluate(() =>
      window.tend.logs.get('flood').lines.length);
    await ctx.close();
    await b.stop();
  }
  // 2. History: the lines are on disk before the page opens.
  {
    const b = await backend(true);
    if (b.daemon) {
      await waitFor(b.daemon, N);
    }
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const t0 = Date.now();
    await page.goto(b.url.replace(/\/\?/, '/?') );
    await page.waitForFunction(() => window.tend && window.tend.root, null,
      { timeout: TIMEOUT });
    await page.evaluate(() => { location.hash = 'flood'; });
    await waitLine(page, N);
    results.history_tail_ms = Date.now() - t0;
    const t1 = Date.now();
    await page.click('#log');
    await page.keyboard.press('g');
    await page.waitForFunction((n) => window.tend.logs.get('flood').lines
      .length >= n && !window.tend.logs.get('flood').hasOlder(), N,
    { timeout: TIMEOUT });
    await waitLine(page, 1);
    results.history_all_ms = Date.now() - t1;
    results.heap_mib = await heapMiB(page);
    results.scroll = await scrollBench(page);
    results.dom_rows = await page.$$eval('#log-rows .row', (e) => e.length);
    results.lines_held = await page.evaluate(() =>
      window.tend.logs.get('flood').lines.length);
    await ctx.close();
    await b.stop();
  }
} finally {
  await browser.close();
}

// Waits until the daemon's store holds the runner's last line: the tail of
// its .jsonl names line N (reading only the tail keeps the poll cheap).
async function waitFor(d, n) {
  const file = path.join(d.stateDir, 'output', 'flood.jsonl');
  const needle = ` request ${n} `;
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    try {
      const fd = fs.openSync(file, 'r');
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, 1 << 20);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      fs.closeSync(fd);
      if (buf.toString('utf8').includes(needle)) return;
    } catch (e) { /* not there yet */ }
    if (Date.now() > deadline) throw new Error(`line ${n} never stored`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const f = (v) => v.toFixed(1);
console.log(`ui_bench (${useMock ? 'mock daemon' : 'tend'}, ${N} lines, ` +
  'headless Chromium 1280x800)');
console.log(`  live:    ${N} lines written while watching: in the store after ` +
  `${results.live_store_ms} ms, last one shown after ${results.live_ms} ms ` +
  `(UI lag ${results.live_ms - results.live_store_ms} ms); heap ` +
  `${f(results.live_heap_mib)} MiB`);
console.log(`  history: page open to last line ${results.history_tail_ms} ms; ` +
  `all ${N} lines loaded and rendered (to the first line) in ` +
  `${results.history_all_ms} ms (target < 2000)`);
console.log(`  heap:    ${f(results.heap_mib)} MiB with ${results.lines_held} ` +
  'lines held (target < 100)');
console.log(`  scroll:  ${f(results.scroll.mean)} ms mean, ${f(results.scroll.max)} ms ` +
  `worst per jump; ${results.dom_rows} rows in the DOM`);
const ok = results.history_all_ms < 2000 &&
  results.live_ms - results.live_store_ms < 2000 && results.heap_mib < 100 &&
  results.live_heap_mib < 100;
console.log(`  verdict: ${ok ? 'within targets' : 'OVER TARGET'}`);
