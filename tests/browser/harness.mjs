// harness: a tiny test registry shared by the unit and browser test files.
// Each file calls test(name, fn); run.mjs imports the files and runs the
// registered tests in order, each with its own timeout.

import assert from 'node:assert/strict';

export const tests = [];

// Registers a test; opts.timeout in ms (default 60 s), opts.browser marks
// tests that need Chromium and the daemon.
export function test(name, fn, opts = {}) {
  tests.push({ name, fn, timeout: opts.timeout ?? 60000, file: currentFile });
}

let currentFile = '';
// Sets the file name recorded with the tests registered next.
export function setFile(f) {
  currentFile = f;
}

export { assert };
