// ui_helpers: opening the UI in a fresh browser context and reading what the
// page shows, shared by the browser test files.

import path from 'node:path';
import { assert } from './harness.mjs';
import { SLOW } from './daemon.mjs';

export const T = 15000 * SLOW; // generous bound for page-side waits

// Opens url in a new context; returns {ctx, page, problems} where problems
// collects page errors, console errors and CSP violations.
export async function openUI(browser, url, { width = 1280, height = 800,
  scheme = 'light' } = {}) {
  const ctx = await browser.newContext({ viewport: { width, height },
    colorScheme: scheme });
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // A stream dropped by a daemon that went away on purpose is expected.
    if (/net::ERR_|Failed to load resource|EventSource/.test(text)) return;
    problems.push(`console: ${text}`);
  });
  await page.goto(url);
  await page.waitForFunction(() => window.tend && window.tend.root,
    null, { timeout: T });
  return { ctx, page, problems };
}

// Selects a node by clicking its row in the tree.
export async function selectNode(page, name) {
  const narrow = await page.evaluate(() => window.innerWidth <= 760);
  if (narrow) await page.click('#nav-toggle');
  await page.click(`#tree [data-node="${name}"] .node-name`);
  await page.waitForFunction((n) => window.tend.selected === n, name,
    { timeout: T });
}

// Texts of the output rows in the DOM (the virtual window), in order.
export function rowTexts(page) {
  return page.$$eval('#log-rows .row .tx', (els) => els.map((e) => e.textContent));
}

// Waits until some output row's text contains s.
export function waitRow(page, s, timeout = T) {
  return page.waitForFunction((x) => [...document.querySelectorAll(
    '#log-rows .row .tx')].some((e) => e.textContent.includes(x)), s,
  { timeout });
}

// Saves a screenshot under tests/artifacts.
export async function shot(page, artifacts, name) {
  await page.screenshot({ path: path.join(artifacts, name) });
}

// Fails when the page reported errors (CSP violations included).
export function assertClean(problems) {
  assert.deepEqual(problems, [], 'the page reported errors');
}
