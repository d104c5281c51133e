// Browser tests of the UI's client-side behaviour against mock_daemon.mjs, a
// simulated daemon speaking the same API. They pin down what does not need
// the real daemon to be checked (and can be checked deterministically):
// exactly-once resume when the server drops and returns, scroll-back through
// a long history with a bounded DOM, the filter, CSP cleanliness. The real
// daemon is exercised by test_ui.mjs.

import { test, assert } from './harness.mjs';
import { startMock } from './mock_daemon.mjs';
import { waitFor } from './daemon.mjs';
import { openUI, selectNode, waitRow, rowTexts, assertClean, T } from
  './ui_helpers.mjs';

// Runs fn with a mock daemon and a page logged in to it.
async function withMock(opts, fn, getBrowser, view = {}) {
  const m = await startMock(opts);
  let ctx;
  try {
    if (opts.before) opts.before(m);
    const browser = await getBrowser();
    const ui = await openUI(browser, `http://127.0.0.1:${m.port}/?token=${m.token}`,
      view);
    ctx = ui.ctx;
    await fn(m, ui.page, ui.problems);
  } finally {
    if (ctx) await ctx.close();
    await m.close();
  }
}

// The lines a chunk list should show ("seq|o|text", o/e/t for stdout,
// stderr, tend), split independently of lines.js.
function expectedLines(chunks) {
  const out = [];
  for (const c of chunks) {
    const code = { stdout: 'o', stderr: 'e', tend: 't' }[c.stream];
    if (c.stream === 'tend') {
      out.push(`${c.seq}|t|${c.data.replace(/\n$/, '')}`);
      continue;
    }
    const parts = c.data.split('\n');
    parts.pop();
    for (const p of parts) out.push(`${c.seq}|${code}|${p}`);
  }
  return out;
}

// The lines the page holds for a runner, in the same form.
function pageLines(page, name) {
  return page.evaluate((n) => window.tend.logs.get(n).lines.map((l) =>
    `${l.seq}|${l.stream}|${l.text}`), name);
}

test('mock: tree, live output and ANSI render with no CSP violation',
  async ({ getBrowser }) => {
    await withMock({}, async (m, page, problems) => {
      await page.waitForSelector('#tree [data-node="api"] .badge');
      const names = await page.$$eval('#tree .node', (els) =>
        els.map((e) => e.dataset.node));
      assert.deepEqual(names, ['dev', 'db', 'backend', 'api', 'worker',
        'assets']);
      await selectNode(page, 'assets');
      await waitRow(page, 'compiling module 2');
      const styled = await page.evaluate(() => {
        const sp = document.querySelector('#log-rows .row .a-bold.a-f4');
        const tc = [...document.querySelectorAll('#log-rows .row span')]
          .find((s) => s.textContent === '✔');
        return { bold: sp && getComputedStyle(sp).fontWeight,
          tc: tc && getComputedStyle(tc).color };
      });
      assert.equal(styled.bold, '700');
      assert.equal(styled.tc, 'rgb(120, 200, 80)');
      assert.ok(!(await rowTexts(page)).some((t) => t.includes('\x1b')));
      assertClean(problems);
    }, getBrowser);
  });

test('mock: every line exactly once after the server drops and returns',
  async ({ getBrowser }) => {
    await withMock({ tick: 40 }, async (m, page) => {
      await selectNode(page, 'api');
      await waitRow(page, 'request 5 ');
      const before = m.runner('api').chunks.length;
      await m.down();
      await page.waitForFunction(() => window.tend.conn !== 'live', null,
        { timeout: T });
      // The runner keeps writing while the page cannot reach the server.
      await waitFor(() => m.runner('api').chunks.length > before + 10, T,
        'output while the server is down');
      await m.up();
      await page.waitForFunction(() => window.tend.conn === 'live', null,
        { timeout: T });
      const rr = m.runner('api');
      await waitFor(async () => (await page.evaluate(() =>
        window.tend.logs.get('api').hi)) >= rr.chunks.length - 1, T,
      'the page to catch up');
      clearInterval(rr.timer); // freeze the runner to compare
      await waitFor(async () => (await page.evaluate(() =>
        window.tend.logs.get('api').hi)) === rr.chunks.length, T,
      'the last chunk');
      const lo = await page.evaluate(() => window.tend.logs.get('api').lo);
      const want = expectedLines(rr.chunks.filter((c) => c.seq >= lo));
      const got = await pageLines(page, 'api');
      assert.equal(lo, 1);
      assert.deepEqual(got, want);
    }, getBrowser);
  });

test('mock: scroll-back loads all history with a bounded DOM, filter narrows',
  async ({ getBrowser }) => {
    const before = (m) => {
      const rr = m.runner('db');
      for (let i = 1; i <= 3000; i++) {
        let data = '';
        for (let k = 1; k <= 10; k++) data += `history ${(i - 1) * 10 + k}\n`;
        m.out(rr, 'stdout', data);
      }
    };
    await withMock({ before }, async (m, page) => {
      await selectNode(page, 'db');
      await waitRow(page, 'history 30000');
      const held = await page.evaluate(() => window.tend.logs.get('db')
        .lines.length);
      assert.ok(held < 30000, `initial load is a tail, got ${held}`);
      await page.keyboard.press('g');
      await waitRow(page, 'history 1', T * 2);
      const state = await page.evaluate(() => ({
        n: window.tend.logs.get('db').lines.length,
        rows: document.querySelectorAll('#log-rows .row').length,
        top: document.getElementById('log').scrollTop,
      }));
      assert.ok(state.n >= 30000, `all history loaded: ${state.n}`);
      assert.ok(state.rows < 200, `DOM is bounded: ${state.rows} rows`);
      assert.equal(state.top, 0);
      await page.fill('#filter', '/^history 2999\\d$/');
      await page.waitForFunction(() => window.tend.shown.filter((l) =>
        l.stream !== 't').length === 10, null, { timeout: T });
      const texts = (await rowTexts(page)).filter((t) => t.startsWith('history'));
      assert.equal(texts.length, 10);
      assert.ok(texts.every((t) => /^history 2999\d$/.test(t)));
      const marks = await page.$$eval('#log-rows mark', (els) =>
        els.map((e) => e.textContent));
      assert.ok(marks.length >= 10 && marks[0].startsWith('history 2999'));
    }, getBrowser);
  }, { timeout: 120000 });

test('mock: actions disable their button in flight and show API errors',
  async ({ getBrowser }) => {
    await withMock({ failSignal: true, restartDelay: 1500 }, async (m, page,
      problems) => {
      await selectNode(page, 'api');
      await page.waitForSelector('#btn-restart:not([disabled])');
      const pid = m.runner('api').node.pid;
      await page.click('#btn-restart');
      assert.equal(await page.$eval('#btn-restart', (b) => b.disabled), true);
      await page.waitForFunction((p) => {
        const el = document.querySelector('#tree [data-node="api"] .pid');
        return el && el.textContent !== `pid ${p}` && /pid \d+/.test(el.textContent);
      }, pid, { timeout: T });
      await page.waitForSelector('#btn-restart:not([disabled])', { timeout: T });
      await page.selectOption('#sig-select', 'USR1');
      await page.click('#btn-signal');
      await page.waitForFunction(() => document.getElementById('action-error')
        .textContent.includes('cannot signal api: not running'), null,
      { timeout: T });
      await page.waitForSelector('.toast-error', { timeout: T });
      assert.equal(await page.$eval('#btn-signal', (b) => b.disabled), false);
      assertClean(problems);
    }, getBrowser);
  });
