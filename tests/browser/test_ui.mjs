// Browser tests of tend's UI against the REAL daemon: each test starts
// `$TEND_BIN up` on a scratch folder (http on 127.0.0.1:0), logs a fresh
// browser context in through a one-time /?code=..., and drives the page as a person
// would. Issue 6's acceptance list, one test each; screenshots (1280x800 and
// 360x740, light and dark) go to tests/artifacts/.

import fs from 'node:fs';
import path from 'node:path';
import { test, assert } from './harness.mjs';
import { Daemon, waitFor, SLOW } from './daemon.mjs';
import { openUI, selectNode, waitRow, rowTexts, shot, assertClean, T } from
  './ui_helpers.mjs';

const BIG = { max_restarts: 1000, period_s: 10 };

// Runs fn(daemon, page, problems) with a started daemon and a logged-in
// page; on failure the daemon's last output is added to the error.
async function withDaemon(config, files, fn, getBrowser, view = {}) {
  const d = new Daemon(config, files);
  let ctx;
  let ok = false;
  try {
    await d.start();
    const ui = await openUI(await getBrowser(), await d.loginUrl(), view);
    ctx = ui.ctx;
    await fn(d, ui.page, ui.problems, ui);
    ok = true;
  } catch (e) {
    e.message += `\n--- tend stdout (tail):\n${d.stdout().slice(-1500)}` +
      `\n--- tend stderr (tail):\n${d.stderr().slice(-1500)}`;
    throw e;
  } finally {
    if (ctx) await ctx.close().catch(() => {});
    await d.stop({ keep: !ok });
  }
}

// Text of one sidebar field of a node ("badge", "pid", "restarts", ...).
function field(page, name, cls) {
  return page.$eval(`#tree [data-node="${name}"] .${cls}`, (e) => e.textContent)
    .catch(() => '');
}

// Waits until a sidebar field satisfies pred (a function of its text). The
// page's CSP forbids eval, so the predicate runs here, polling the page.
function waitField(page, name, cls, pred, timeout = 15000) {
  return waitFor(async () => pred(await field(page, name, cls)), timeout,
    `${name} .${cls} to match ${pred}`);
}

const demoTree = {
  name: 'dev',
  intensity: BIG,
  children: [
    { name: 'web', cmd: 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); ' +
      'printf "\\033[32mGET\\033[0m /page/%d \\033[1m200\\033[0m ' +
      '\\033[2m%dms\\033[0m\\n" $i $((i % 50 + 3)); sleep 0.2; done' },
    { name: 'backend', strategy: 'rest_for_one', children: [
      { name: 'api', cmd: 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); ' +
        'echo "api: handled request $i"; ' +
        '[ $((i % 4)) -eq 0 ] && echo "api: slow query $i" >&2; ' +
        'sleep 0.3; done' },
      { name: 'worker', cmd: 'echo "worker: up"; sleep 0.6; ' +
        'echo "worker: lost connection" >&2; exit 2',
      backoff: { initial_ms: 300, max_ms: 1500 } },
    ] },
    { name: 'idle', cmd: 'sleep 1000', autostart: false },
  ],
};

test('ui: the tree renders in config order with states, pids and uptime',
  async ({ getBrowser, artifacts }) => {
    await withDaemon(demoTree, {}, async (d, page, problems, ui) => {
      await page.waitForSelector('#tree [data-node="idle"]', { timeout: T });
      // The login drops the token from the address bar.
      assert.ok(!page.url().includes('token'), `url: ${page.url()}`);
      const names = await page.$$eval('#tree .node', (els) =>
        els.map((e) => `${e.getAttribute('aria-level')}${e.dataset.node}`));
      assert.deepEqual(names, ['1dev', '2web', '2backend', '3api', '3worker',
        '2idle']);
      await waitField(page, 'web', 'badge', (t) => t === 'running');
      await waitField(page, 'api', 'badge', (t) => t === 'running');
      await waitField(page, 'web', 'pid', (t) => /^pid \d+$/.test(t));
      await waitField(page, 'web', 'up', (t) => /^up \d+s$/.test(t));
      assert.equal(await field(page, 'idle', 'badge'), 'stopped');
      assert.equal(await field(page, 'idle', 'pid'), '');
      assert.equal(await field(page, 'backend', 'badge'), 'running');
      // The badge says the state in words and in colour.
      const colours = await page.evaluate(() => ['web', 'idle'].map((n) =>
        getComputedStyle(document.querySelector(
          `#tree [data-node="${n}"] .badge`)).color));
      assert.notEqual(colours[0], colours[1]);
      // The interleaved view of the root shows every runner's lines.
      await waitRow(page, 'api: handled request 2');
      await waitRow(page, '/page/3');
      const prefixes = await page.$$eval('#log-rows .row .nm', (els) =>
        [...new Set(els.map((e) => e.textContent))]);
      assert.ok(prefixes.includes('web') && prefixes.includes('api'),
        `name prefixes: ${prefixes}`);
      // The worker crashes: wait for its restarts so the shots show them.
      await waitField(page, 'worker', 'restarts', (t) => /↻ [1-9]/.test(t));
      await shot(page, artifacts, 'ui-desktop-light.png');
      // Keyboard: ? opens the help, j/k move the selection.
      await page.click('#log');
      await page.keyboard.press('?');
      await page.waitForSelector('#help:not([hidden])', { timeout: T });
      await shot(page, artifacts, 'ui-help.png');
      await page.keyboard.press('Escape');
      await page.waitForSelector('#help', { state: 'hidden', timeout: T });
      await page.keyboard.press('j');
      await page.waitForFunction(() => window.tend.selected === 'web', null,
        { timeout: T });
      await page.keyboard.press('j');
      await page.keyboard.press('j');
      await page.keyboard.press('k');
      await page.waitForFunction(() => window.tend.selected === 'backend', null,
        { timeout: T });
      assertClean(problems);
      // The same tree in dark mode, on a desktop and a phone.
      for (const [w, h, scheme, file] of [
        [1280, 800, 'dark', 'ui-desktop-dark.png'],
        [360, 740, 'light', 'ui-mobile-360-light.png'],
        [360, 740, 'dark', 'ui-mobile-360-dark.png']]) {
        const other = await openUI(await getBrowser(), await d.loginUrl(),
          { width: w, height: h, scheme });
        await waitRow(other.page, 'api: handled request');
        await waitField(other.page, 'web', 'pid', (t) => /^pid \d+$/.test(t));
        await shot(other.page, artifacts, file);
        if (w === 360) {
          await other.page.click('#nav-toggle');
          await other.page.waitForFunction(() => document.body.classList
            .contains('nav-open'), null, { timeout: T });
          // The drawer's slide-in has ended: no transition left on it.
          await other.page.waitForFunction(() => {
            const bar = document.querySelector('.sidebar');
            return bar.getAnimations().length === 0 &&
              getComputedStyle(bar).transform === 'none';
          }, null, { timeout: T });
          await shot(other.page, artifacts, file.replace('.png', '-tree.png'));
          // No horizontal overflow of the page itself at 360 px.
          const sw = await other.page.evaluate(() =>
            document.documentElement.scrollWidth);
          assert.ok(sw <= 360, `page is ${sw}px wide at 360px`);
        }
        assertClean(other.problems);
        await other.ctx.close();
      }
      void ui;
    }, getBrowser);
  }, { timeout: 120000 * SLOW });

test('ui: output of a runner appears live', async ({ getBrowser }) => {
  const cfg = { name: 'dev', children: [
    { name: 'ticker', cmd: 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); ' +
      'echo "tick $i"; sleep 0.1; done' },
    { name: 'other', cmd: 'sleep 1000' },
  ] };
  await withDaemon(cfg, {}, async (d, page, problems) => {
    await selectNode(page, 'ticker');
    await waitRow(page, 'tick 3');
    const nOf = (texts) => Math.max(...texts.map((t) =>
      Number((/^tick (\d+)$/.exec(t) || [0, 0])[1])));
    const first = nOf(await rowTexts(page));
    // New lines keep arriving without a reload.
    await page.waitForFunction((n) => [...document.querySelectorAll(
      '#log-rows .row .tx')].some((e) => e.textContent === `tick ${n + 5}`),
    first, { timeout: T });
    const texts = (await rowTexts(page)).filter((t) => t.startsWith('tick'));
    const nums = texts.map((t) => Number(t.split(' ')[1]));
    assert.deepEqual(nums, [...nums].sort((a, b) => a - b), 'lines in order');
    assert.equal(new Set(nums).size, nums.length, 'no line twice');
    // Following: the newest line is in view.
    const atEnd = await page.evaluate(() => {
      const l = document.getElementById('log');
      return l.scrollTop + l.clientHeight >= l.scrollHeight - 30;
    });
    assert.ok(atEnd, 'the view follows the end');
    // The run marker with the pid is there.
    const pid = (await d.node('ticker')).pid;
    await waitRow(page, `started (pid ${pid})`);
    // Timestamps on demand.
    await page.click('#btn-ts');
    await page.waitForSelector('#log-rows .row .ts', { timeout: T });
    const ts = await page.$eval('#log-rows .row .ts', (e) => e.textContent);
    assert.match(ts, /^\d\d:\d\d:\d\d\.\d{3}$/);
    // Scrolling up pauses following; the button resumes it.
    await page.evaluate(() => {
      const l = document.getElementById('log');
      l.style.height = '120px';
    });
    await waitRow(page, `tick ${first + 40}`, T * 2);
    await page.evaluate(() => { document.getElementById('log').scrollTop = 0; });
    await page.waitForSelector('#btn-follow:not([hidden])', { timeout: T });
    await page.click('#btn-follow');
    await page.waitForSelector('#btn-follow', { state: 'hidden', timeout: T });
    assertClean(problems);
  }, getBrowser);
}, { timeout: 90000 * SLOW });

test('ui: clicking restart changes the pid shown', async ({ getBrowser }) => {
  await withDaemon(demoTree, {}, async (d, page, problems) => {
    await selectNode(page, 'web');
    await waitField(page, 'web', 'pid', (t) => /^pid \d+$/.test(t));
    const before = await field(page, 'web', 'pid');
    const apiPid = String((await d.node('web')).pid);
    assert.equal(before, `pid ${apiPid}`);
    assert.match(await page.textContent('#sel-meta'), new RegExp(`pid ${apiPid}`));
    await page.click('#btn-restart');
    await page.waitForFunction((b) => {
      const el = document.querySelector('#tree [data-node="web"] .pid');
      return el && /^pid \d+$/.test(el.textContent) && el.textContent !== b;
    }, before, { timeout: T });
    const after = await field(page, 'web', 'pid');
    assert.notEqual(after, before);
    assert.equal(after, `pid ${(await d.node('web')).pid}`);
    // The new run is marked in the output, with its pid.
    await waitRow(page, `started (${after})`);
    await page.waitForSelector('#btn-restart:not([disabled])', { timeout: T });
    assertClean(problems);
  }, getBrowser);
}, { timeout: 90000 * SLOW });

test('ui: a crashing runner shows its restarts, runs and events',
  async ({ getBrowser, artifacts }) => {
    const cfg = { name: 'dev', intensity: BIG, children: [
      { name: 'crash', cmd: 'echo "crash: starting"; sleep 0.3; ' +
        'echo "crash: fatal error" >&2; exit 3',
      backoff: { initial_ms: 100, max_ms: 400 } },
      { name: 'steady', cmd: 'sleep 1000' },
    ] };
    await withDaemon(cfg, {}, async (d, page, problems) => {
      await selectNode(page, 'crash');
      await waitField(page, 'crash', 'restarts', (t) => {
        const m = /↻ (\d+)/.exec(t);
        return m && Number(m[1]) >= 3;
      }, T * 2);
      const n = await page.$eval('#tree [data-node="crash"] .restarts',
        (e) => Number(e.dataset.count));
      assert.ok(n >= 3);
      assert.match(await page.textContent('#sel-meta'), /\d+ restarts/);
      // Each run is marked: start with pid, exit with the status and why.
      await waitRow(page, 'exited with status 3');
      await waitRow(page, 'crash: fatal error');
      const errRows = await page.$$eval('#log-rows .row.err .tx', (els) =>
        els.map((e) => e.textContent));
      assert.ok(errRows.includes('crash: fatal error'), 'stderr is marked');
      // Jump to run 1 from the run selector.
      const runs = await page.$$eval('#runs option', (os) => os.map((o) => o.value));
      assert.ok(runs.includes('1') && runs.includes('3'), `runs: ${runs}`);
      await page.selectOption('#runs', '1');
      await page.waitForFunction(() => {
        const f = document.querySelector('#log-rows .row.flash');
        return f && f.classList.contains('mk');
      }, null, { timeout: T });
      assert.match(await page.textContent('#log-rows .row.flash'), /run 1/);
      // The failing mark in the tree: backoff or failed, with a countdown.
      await page.waitForFunction(() => document.querySelector(
        '#tree [data-node="crash"]').classList.contains('failing'), null,
      { timeout: T });
      await shot(page, artifacts, 'ui-crash.png');
      // The event timeline lists its transitions.
      await page.click('#tab-events');
      await page.waitForFunction(() => [...document.querySelectorAll(
        '#events .ev')].some((e) => e.textContent.includes('crash') &&
        e.textContent.includes('exited')), null, { timeout: T });
      await shot(page, artifacts, 'ui-events.png');
      assertClean(problems);
    }, getBrowser);
  }, { timeout: 90000 * SLOW });

test('ui: the filter narrows lines and highlights matches',
  async ({ getBrowser, artifacts }) => {
    const cfg = { name: 'dev', children: [
      { name: 'words', cmd: 'i=0; while [ $i -lt 200 ]; do i=$((i+1)); ' +
        'echo "alpha $i"; echo "beta $i"; done; sleep 1000' },
    ] };
    await withDaemon(cfg, {}, async (d, page, problems) => {
      await selectNode(page, 'words');
      await waitRow(page, 'beta 200');
      const total = await page.evaluate(() => window.tend.shown.filter((l) =>
        l.stream !== 't').length);
      assert.equal(total, 400);
      await page.fill('#filter', 'alpha');
      await page.waitForFunction(() => window.tend.shown.filter((l) =>
        l.stream !== 't').length === 200, null, { timeout: T });
      let texts = (await rowTexts(page)).filter((t) => !/started/.test(t));
      assert.ok(texts.length > 0 && texts.every((t) => t.startsWith('alpha')),
        `rows: ${texts.slice(0, 5)}`);
      assert.match(await page.textContent('#filter-info'), /200 of 400 lines/);
      await page.fill('#filter', '/^beta 1\\d\\d$/');
      await page.waitForFunction(() => window.tend.shown.filter((l) =>
        l.stream !== 't').length === 100, null, { timeout: T });
      texts = (await rowTexts(page)).filter((t) => !/started/.test(t));
      assert.ok(texts.every((t) => /^beta 1\d\d$/.test(t)));
      const marks = await page.$$eval('#log-rows mark', (els) =>
        els.map((e) => e.textContent));
      assert.ok(marks.length > 0 && marks.every((m) => /^beta 1\d\d$/.test(m)));
      await shot(page, artifacts, 'ui-filter.png');
      // A bad regex says so and filters nothing out.
      await page.fill('#filter', '/([/');
      await page.waitForFunction(() => document.getElementById('filter-info')
        .textContent === 'bad regex', null, { timeout: T });
      // Escape clears the filter.
      await page.focus('#filter');
      await page.keyboard.press('Escape');
      await page.waitForFunction(() => window.tend.shown.filter((l) =>
        l.stream !== 't').length === 400, null, { timeout: T });
      assertClean(problems);
    }, getBrowser);
  }, { timeout: 90000 * SLOW });

test('ui: ANSI colours render as styled spans, other escapes stripped',
  async ({ getBrowser, artifacts }) => {
    const script = [
      "printf 'plain \\033[31mRED\\033[0m \\033[1;32mBOLDGREEN\\033[0m " +
        "\\033[38;5;208mORANGE\\033[0m \\033[38;2;10;20;30mTRUE\\033[0m " +
        "\\033[4mUNDER\\033[24m \\033[7mINV\\033[27m end\\n'",
      "printf '\\033[2K\\033[1Gprogress \\033]0;title\\007done\\n'",
      "printf '\\033[44;97m BLUEBG \\033[0m\\n'",
      "printf 'err \\033[33mYELLOW\\033[0m\\n' >&2",
      'sleep 1000',
    ].join('; ');
    const cfg = { name: 'dev', children: [{ name: 'colors', cmd: script }] };
    await withDaemon(cfg, {}, async (d, page, problems) => {
      await selectNode(page, 'colors');
      await waitRow(page, 'BOLDGREEN');
      await waitRow(page, 'err YELLOW');
      const got = await page.evaluate(() => {
        const q = (t) => [...document.querySelectorAll('#log-rows .tx *')]
          .find((e) => e.textContent === t);
        const cs = (t) => {
          const e = q(t);
          if (!e) return null;
          const s = getComputedStyle(e);
          return { cls: e.className, color: s.color, bg: s.backgroundColor,
            weight: s.fontWeight, deco: s.textDecorationLine };
        };
        const a1 = getComputedStyle(document.documentElement)
          .getPropertyValue('--a1').trim();
        const probe = document.createElement('span');
        probe.style.color = a1;
        document.body.appendChild(probe);
        const a1rgb = getComputedStyle(probe).color;
        probe.remove();
        return { red: cs('RED'), green: cs('BOLDGREEN'), orange: cs('ORANGE'),
          tc: cs('TRUE'), ul: cs('UNDER'), inv: cs('INV'), bg: cs(' BLUEBG '),
          yellow: cs('YELLOW'), a1rgb,
          texts: [...document.querySelectorAll('#log-rows .row .tx')]
            .map((e) => e.textContent),
          errRow: [...document.querySelectorAll('#log-rows .row.err .tx')]
            .map((e) => e.textContent) };
      });
      assert.ok(got.red, 'RED is its own span');
      assert.equal(got.red.color, got.a1rgb);
      assert.equal(got.green.weight, '700');
      assert.match(got.green.cls, /a-f2/);
      assert.equal(got.orange.color, 'rgb(255, 135, 0)');
      assert.equal(got.tc.color, 'rgb(10, 20, 30)');
      assert.equal(got.ul.deco, 'underline');
      assert.match(got.inv.cls, /a-fgi/);
      assert.notEqual(got.bg.bg, 'rgba(0, 0, 0, 0)');
      assert.ok(got.yellow, 'colours on stderr too');
      assert.ok(got.errRow.includes('err YELLOW'), 'stderr row is marked');
      assert.ok(got.texts.includes('plain RED BOLDGREEN ORANGE TRUE UNDER INV end'));
      assert.ok(got.texts.includes('progress done'), `texts: ${got.texts}`);
      assert.ok(!got.texts.some((t) => /\x1b|\[\d+m|\]0;/.test(t)),
        'no escape bytes shown');
      // Copy gives the plain text.
      const copied = await page.evaluate(() => {
        const row = [...document.querySelectorAll('#log-rows .row .tx')]
          .find((e) => e.textContent.startsWith('plain'));
        const r = document.createRange();
        r.selectNodeContents(row);
        const s = getSelection();
        s.removeAllRanges();
        s.addRange(r);
        let text = null;
        const dt = new DataTransfer();
        const ev = new ClipboardEvent('copy', { clipboardData: dt,
          bubbles: true, cancelable: true });
        row.dispatchEvent(ev);
        text = dt.getData('text/plain');
        return text;
      });
      assert.equal(copied, 'plain RED BOLDGREEN ORANGE TRUE UNDER INV end');
      await page.evaluate(() => getSelection().removeAllRanges());
      await shot(page, artifacts, 'ui-ansi.png');
      assertClean(problems);
    }, getBrowser, { scheme: 'dark' });
  }, { timeout: 90000 * SLOW });

test('ui: SIGKILL and restart of the daemon mid-stream: every line exactly once',
  async ({ getBrowser, artifacts }) => {
    const cfg = (dir) => ({ name: 'dev', children: [
      { name: 'count', cmd: `i=$(cat ${dir}/count 2>/dev/null || echo 0); ` +
        'while [ $i -lt 100000 ]; do i=$((i+1)); echo "line $i"; ' +
        `echo $i > ${dir}/count; sleep 0.02; done` },
    ] });
    await withDaemon(cfg, {}, async (d, page) => {
      // A second page shows the root group: the interleaved view, fed by
      // polling rather than by the runner's stream. Both must end exact.
      const group = await openUI(await getBrowser(), await d.loginUrl());
      await selectNode(page, 'count');
      await waitRow(page, 'line 40');
      await waitRow(group.page, 'line 40');
      await d.kill9();
      await page.waitForFunction(() => window.tend.conn !== 'live', null,
        { timeout: T });
      await shot(page, artifacts, 'ui-reconnecting.png');
      const atKill = await page.evaluate(() => window.tend.logs.get('count').hi);
      await d.restartSamePort();
      await page.waitForFunction(() => window.tend.conn === 'live', null,
        { timeout: T * 2 });
      // The new daemon's child goes on counting; the page keeps up.
      await page.waitForFunction((k) => window.tend.logs.get('count').hi >
        k + 20, atKill, { timeout: T * 2 });
      const st = await d.api('POST', '/api/v1/runners/count/stop');
      assert.equal(st.status, 200, JSON.stringify(st.body));
      await waitFor(async () => ['stopped', 'exited'].includes(
        (await d.node('count')).state), T, 'count to stop');
      const chunks = await waitFor(async () => {
        const c = d.chunks('count');
        const hi = await page.evaluate(() => window.tend.logs.get('count').hi);
        return c.length && c[c.length - 1].seq === hi ? c : null;
      }, T, 'the page to hold the last chunk of the store');
      const lo = await page.evaluate(() => window.tend.logs.get('count').lo);
      assert.equal(lo, chunks[0].seq, 'the page holds the whole history');
      const want = [];
      let open = '';
      for (const c of chunks) {
        if (c.stream === 'tend') {
          want.push(`${c.seq}:t:${c.data.replace(/\n+$/, '')}`);
          continue;
        }
        const text = open + (c.data ?? '');
        const parts = text.split('\n');
        open = parts.pop();
        for (const p of parts) want.push(`${c.stream}:${p}`);
      }
      const held = (p, src) => p.evaluate((fromView) => (fromView
        ? window.tend.shown.filter((l) => l.name === 'count')
        : window.tend.logs.get('count').lines)
        .map((l) => (l.stream === 't' ? `${l.seq}:t:${l.text}`
          : `${l.stream === 'e' ? 'stderr' : 'stdout'}:${l.text}`)), src);
      const got = await held(page, false);
      assert.deepEqual(got, want);
      await waitFor(async () => (await group.page.evaluate(() =>
        window.tend.logs.get('count').hi)) === chunks[chunks.length - 1].seq,
      T, 'the group page to hold the last chunk');
      assert.deepEqual(await held(group.page, true), want,
        'the interleaved view of the group');
      await group.ctx.close();
      // Two runs are marked (before and after the daemon's death).
      assert.ok(got.filter((g) => /:t:started/.test(g)).length >= 2);
      // What is on screen (following the end) is the tail, once each.
      const rows = await page.$$eval('#log-rows .row .tx', (els) =>
        els.map((e) => e.textContent));
      const tail = want.filter((w) => w.startsWith('stdout:'))
        .map((w) => w.slice(7)).slice(-5);
      const shown = rows.filter((r) => r.startsWith('line ')).slice(-5);
      assert.deepEqual(shown, tail);
      await shot(page, artifacts, 'ui-after-restart.png');
    }, getBrowser);
  }, { timeout: 120000 * SLOW });

test('ui: a config syntax error shows the banner until fixed',
  async ({ getBrowser, artifacts }) => {
    const cfg = { name: 'dev', children: [{ name: 'a', cmd: 'sleep 1000' }] };
    await withDaemon(cfg, {}, async (d, page, problems) => {
      await waitField(page, 'a', 'badge', (t) => t === 'running');
      const good = JSON.stringify(d.config, null, 2);
      d.writeConfig(null, good.replace('"children": [', '"children": [,'));
      try {
        await page.waitForSelector('#banner:not([hidden])', { timeout: T });
      } catch (e) {
        const evs = d.events().filter((ev) => ev.type === 'config_error');
        if (evs.length === 0) {
          throw new Error('WAITING FOR A DAEMON FEATURE: `tend up` did not ' +
            're-read tend.json after it changed (no "config_error" event in ' +
            'events.jsonl within the bound). The banner needs config ' +
            'reload on change (watchers/reload.c, the watchers issue).');
        }
        throw e;
      }
      const text = await page.textContent('#banner');
      assert.match(text, /tend\.json:\d+:\d+/, `banner: ${text}`);
      await shot(page, artifacts, 'ui-config-error.png');
      // Fixing the file clears it.
      d.writeConfig(null, good);
      await page.waitForSelector('#banner', { state: 'hidden', timeout: T });
      assertClean(problems);
    }, getBrowser);
  }, { timeout: 90000 * SLOW });

test('ui: scrolling back loads older output from the store',
  async ({ getBrowser }) => {
    const N = 30000;
    const cfg = { name: 'dev', children: [
      { name: 'hist', cmd: 'i=0; while [ $i -lt 300 ]; do ' +
        'seq $((i * 100 + 1)) $((i * 100 + 100)) | sed "s/^/hist /"; ' +
        'i=$((i + 1)); sleep 0.01; done; sleep 1000' },
    ] };
    await withDaemon(cfg, {}, async (d, page, problems) => {
      await waitFor(() => {
        const c = d.chunks('hist');
        return c.some((x) => (x.data || '').includes(`hist ${N}\n`));
      }, T * 2, 'the runner to write its lines');
      const chunks = d.chunks('hist').length;
      // A page opened now loads the tail only.
      const ui = await openUI(await getBrowser(), await d.loginUrl());
      try {
        await selectNode(ui.page, 'hist');
        await waitRow(ui.page, `hist ${N}`);
        const held = await ui.page.evaluate(() =>
          window.tend.logs.get('hist').lines.length);
        assert.ok(held < N, `a tail first (${held} of ${N} lines, ` +
          `${chunks} chunks)`);
        // Scrolling to the top asks the store for older pages until the
        // first line is there, exactly once each.
        await waitFor(async () => {
          await ui.page.evaluate(() => {
            const l = document.getElementById('log');
            l.scrollTop = 0;
            l.dispatchEvent(new Event('scroll'));
          });
          return ui.page.evaluate(() => !window.tend.logs.get('hist')
            .hasOlder());
        }, T * 2, 'the whole history');
        await ui.page.evaluate(() => {
          document.getElementById('log').scrollTop = 0;
        });
        await waitRow(ui.page, 'hist 1');
        const texts = await ui.page.evaluate(() => window.tend.logs.get('hist')
          .lines.filter((l) => l.stream !== 't').map((l) => l.text));
        assert.equal(texts.length, N);
        assert.ok(texts.every((t, i) => t === `hist ${i + 1}`),
          'every line once, in order');
        assertClean(ui.problems);
      } finally {
        await ui.ctx.close();
      }
      assertClean(problems);
    }, getBrowser);
  }, { timeout: 120000 * SLOW });

test('ui: output rotated away shows a gap marker, never a silent jump',
  async ({ getBrowser }) => {
    // 4 KiB files, one rotated file kept: most of the 300 lines are gone.
    const cfg = { name: 'dev', output: { max_bytes: 4096, keep: 1 },
      children: [
        { name: 'rot', cmd: 'i=0; while [ $i -lt 300 ]; do i=$((i+1)); ' +
          'echo "rot line $i with some padding to fill the files"; ' +
          'sleep 0.005; done; echo "rot done"; sleep 1000' },
      ] };
    await withDaemon(cfg, {}, async (d, page, problems) => {
      await waitFor(() => d.chunks('rot').some((c) =>
        (c.data || '').includes('rot done')), T * 2, 'the runner to write');
      const page0 = await d.api('GET', '/api/v1/runners/rot/output?after=0' +
        '&limit=1');
      const gap = page0.body.gap;
      assert.ok(gap && gap.from === 1 && gap.first_available > 2,
        `the page reports the rotated-away chunks: ${JSON.stringify(page0)}`);
      const first = gap.first_available;
      // A page opened now (the first one may hold chunks it got live,
      // before they were rotated away: it rightly keeps showing them).
      const ui = await openUI(await getBrowser(), await d.loginUrl());
      try {
        await check(ui.page, first);
        assertClean(ui.problems);
      } finally {
        await ui.ctx.close();
      }
      assertClean(problems);
    }, getBrowser);
  }, { timeout: 90000 * SLOW });

// The checks of the test above on one page.
async function check(page, first) {
  await selectNode(page, 'rot');
  await waitRow(page, 'rot done');
  // Scroll to the top: the marker says what is gone, above the oldest
  // line that is kept, and nothing older shows.
  await waitFor(async () => {
    await page.evaluate(() => {
      const l = document.getElementById('log');
      l.scrollTop = 0;
      l.dispatchEvent(new Event('scroll'));
    });
    return page.evaluate(() => !window.tend.logs.get('rot').hasOlder());
  }, T * 2, 'the whole kept history');
  const head = () => page.evaluate(() => window.tend.logs.get('rot')
    .lines.slice(0, 2).map((l) => ({ seq: l.seq, t: l.stream,
      ev: l.ev && l.ev.event, text: l.text })));
  try {
    await waitFor(async () => (await head())[0].ev === 'gap', T,
      'the marker on top of the model');
    await waitFor(async () => {
      await page.evaluate(() => {
        const l = document.getElementById('log');
        l.scrollTop = 0;
        l.dispatchEvent(new Event('scroll'));
      });
      return (await page.$('#log-rows .row.mk-gap')) !== null;
    }, T, 'the marker row');
  } catch (e) {
    e.message += `; model head: ${JSON.stringify(await head())}; rows: ` +
      JSON.stringify((await rowTexts(page)).slice(0, 3));
    throw e;
  }
  const marker = await page.$eval('#log-rows .row.mk-gap .tx',
    (e) => e.textContent);
  assert.match(marker, new RegExp(`chunks 1–${first - 1} are gone ` +
    '\\(rotated away'), marker);
  const lines = await page.evaluate(() => window.tend.logs.get('rot')
    .lines.map((l) => ({ seq: l.seq, t: l.stream, ev: l.ev && l.ev.event,
      text: l.text })));
  assert.equal(lines[0].ev, 'gap', JSON.stringify(lines.slice(0, 3)));
  assert.equal(lines[1].seq, first, 'the oldest kept chunk follows it');
  const nums = lines.filter((l) => l.t === 'o' && /^rot line/.test(l.text))
    .map((l) => Number(l.text.split(' ')[2]));
  assert.ok(nums[0] > 1, 'rotated-away lines are not shown');
  assert.deepEqual(nums, Array.from({ length: nums.length },
    (_, i) => nums[0] + i), 'the kept lines, each once, in order');
}

test('ui: a watch paused by the loop guard shows a badge until resumed',
  async ({ getBrowser }) => {
    // A runner that writes into its own watched folder as it starts (until
    // the test creates "calm"): the loop guard pauses its watch.
    const cfg = { name: 'dev', children: [
      { name: 'looper', cmd: 'echo "run $TEND_RUN"; ' +
        '[ -e calm ] || date +%N > src/stamp; exec sleep 1000',
      watch: { paths: ['src'] } },
      { name: 'calm', cmd: 'exec sleep 1000' },
    ] };
    await withDaemon(cfg, { 'src/.keep': '' }, async (d, page, problems) => {
      await page.waitForSelector(
        '#tree [data-node="looper"] .watch-badge:not([hidden])',
        { timeout: T * 2 });
      assert.equal(await field(page, 'looper', 'watch-badge'),
        'watch paused');
      const title = await page.$eval(
        '#tree [data-node="looper"] .watch-badge', (e) => e.title);
      assert.match(title, /restart loop/);
      assert.ok(await page.$eval('#tree [data-node="calm"] .watch-badge',
        (e) => e.hidden), 'no badge on a runner without a paused watch');
      assert.equal((await d.node('looper')).watch.paused, true);
      fs.writeFileSync(path.join(d.dir, 'calm'), '');
      await selectNode(page, 'looper');
      await page.waitForSelector('#btn-watch:not([disabled])', { timeout: T });
      await page.click('#btn-watch');
      await page.waitForSelector(
        '#tree [data-node="looper"] .watch-badge[hidden]',
        { state: 'attached', timeout: T });
      assert.equal((await d.node('looper')).watch.paused, false);
      assertClean(problems);
    }, getBrowser);
  }, { timeout: 90000 * SLOW });

test('ui: a pty runner has an input line whose lines reach its terminal',
  async ({ getBrowser }) => {
    const cfg = { name: 'dev', children: [
      { name: 'rev', pty: true, cmd: ['python3', '-c',
        'import sys\nprint("READY", flush=True)\nfor l in sys.stdin:\n' +
        '    print("GOT", l.strip()[::-1], flush=True)\n'] },
      { name: 'plain', cmd: 'sleep 1000' },
    ] };
    await withDaemon(cfg, {}, async (d, page, problems) => {
      // No input line for a runner on pipes.
      await selectNode(page, 'plain');
      await page.waitForSelector('#pty-input', { state: 'hidden', timeout: T });
      await selectNode(page, 'rev');
      await waitRow(page, 'READY');
      await page.waitForSelector('#pty-input:not([hidden])', { timeout: T });
      await page.fill('#pty-line', 'hello browser');
      await page.press('#pty-line', 'Enter');
      await waitRow(page, 'GOT resworb olleh');
      assert.equal(await page.inputValue('#pty-line'), '', 'the line is sent');
      // Stopped: the line stays, disabled.
      await page.click('#btn-stop');
      await page.waitForSelector('#pty-line:disabled', { timeout: T * 2 });
      assertClean(problems);
    }, getBrowser);
  }, { timeout: 90000 * SLOW });

test('ui: the buttons follow the daemon\'s "can": Signal while stopping, ' +
  'not once stopped', async ({ getBrowser }) => {
  // The runner ignores its stop signal, so it stays "stopping" until the
  // user's KILL (well inside the 60 s stop timeout).
  const cfg = { name: 'dev', children: [
    { name: 'stubborn', stop: { timeout_ms: 60000 }, cmd: ['python3', '-c',
      'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n' +
      'print("UP", flush=True)\ntime.sleep(1000)\n'] },
  ] };
  await withDaemon(cfg, {}, async (d, page, problems) => {
    await selectNode(page, 'stubborn');
    await waitRow(page, 'UP');
    const enabled = () => page.evaluate(() => Object.fromEntries(
      ['btn-start', 'btn-stop', 'btn-signal', 'sig-select'].map(
        (id) => [id, !document.getElementById(id).disabled])));
    await page.waitForSelector('#btn-signal:not([disabled])', { timeout: T });
    assert.deepEqual(await enabled(), { 'btn-start': false, 'btn-stop': true,
      'btn-signal': true, 'sig-select': true });
    await page.click('#btn-stop');
    await waitFor(async () => (await d.node('stubborn')).state === 'stopping',
      T);
    await page.waitForSelector('#btn-stop:disabled', { timeout: T });
    assert.deepEqual((await d.node('stubborn')).can, { start: false,
      stop: false, restart: true, signal: true });
    assert.deepEqual(await enabled(), { 'btn-start': false, 'btn-stop': false,
      'btn-signal': true, 'sig-select': true });
    // The daemon takes the signal the UI offers (it used to answer 409).
    await page.selectOption('#sig-select', 'KILL');
    await page.click('#btn-signal');
    await waitFor(async () => (await d.node('stubborn')).state === 'stopped',
      T);
    await page.waitForSelector('#btn-signal:disabled', { timeout: T });
    assert.deepEqual(await enabled(), { 'btn-start': true, 'btn-stop': false,
      'btn-signal': false, 'sig-select': false });
    assertClean(problems);
  }, getBrowser);
}, { timeout: 90000 * SLOW });
