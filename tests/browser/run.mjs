// run: runs every browser-side test of tend's UI and exits non-zero when one
// fails. First the pure modules under node (unit_*.mjs), then the UI in real
// headless Chromium (Debian's /usr/bin/chromium driven by playwright-core):
// test_mock.mjs against a simulated daemon, test_ui.mjs against the real
// `tend up` ($TEND_BIN). Screenshots go to tests/artifacts/.
//
// Usage: TEND_BIN=/path/to/tend node tests/browser/run.mjs [name-filter]

import fs from 'node:fs';
import path from 'node:path';
import { tests, setFile } from './harness.mjs';

const here = import.meta.dirname;
const only = process.argv[2] || process.env.TEST_FILTER || '';
export const ARTIFACTS = path.join(here, '..', 'artifacts');

const files = fs.readdirSync(here)
  .filter((f) => /^(unit|test)_.*\.mjs$/.test(f))
  .sort((a, b) => (a.startsWith('unit') === b.startsWith('unit')
    ? a.localeCompare(b) : a.startsWith('unit') ? -1 : 1));
for (const f of files) {
  setFile(f);
  await import(path.join(here, f));
}

let browser = null;
// Launches Chromium once, on first use. playwright-core gives every launch a
// fresh temporary user-data dir (and removes it on close); each test then
// opens its own context, so no cookie or storage leaks between tests.
export async function getBrowser() {
  if (browser) return browser;
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu',
      '--disable-background-networking', '--disable-quic', '--no-first-run',
      '--disable-component-update', '--disable-sync'],
  });
  return browser;
}

fs.mkdirSync(ARTIFACTS, { recursive: true });
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const t of tests) {
  if (only && !t.name.includes(only) && !t.file.includes(only)) {
    skipped++;
    continue;
  }
  const t0 = Date.now();
  let timer;
  try {
    await Promise.race([
      t.fn({ getBrowser, artifacts: ARTIFACTS }),
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`timed out after ${t.timeout} ms`)),
          t.timeout);
      }),
    ]);
    passed++;
    console.log(`ok   ${t.name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    failures.push(t.name);
    console.log(`FAIL ${t.name} (${Date.now() - t0} ms)\n     ${String(e && e.stack
      ? e.stack : e).split('\n').join('\n     ')}`);
  } finally {
    clearTimeout(timer);
  }
}
if (browser) await browser.close().catch(() => {});
if (failures.length) console.log(`failed: ${failures.join(', ')}`);
console.log(`browser: ${passed} passed, ${failed} failed` +
  (skipped ? `, ${skipped} skipped` : ''));
process.exit(failed ? 1 : 0);
