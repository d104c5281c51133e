// Unit tests of ui/web/model.js: tree flattening, meta lines, events.
import { test, assert } from './harness.mjs';
import { flatten, runnersUnder, runnerMeta, isFailing, eventSummary,
  applyStateEvent, countStates, foldBanner, watchBadge }
  from '../../ui/web/model.js';

const tree = { name: 'dev', kind: 'group', state: 'running', children: [
  { name: 'db', kind: 'runner', state: 'running', pid: 10, since: 1000,
    restarts: 0 },
  { name: 'backend', kind: 'group', state: 'running', children: [
    { name: 'api', kind: 'runner', state: 'backoff', pid: null,
      next_start_ms: 5000, restarts: 3, last_exit: { status: 1 } },
    { name: 'worker', kind: 'runner', state: 'exited', pid: null,
      last_exit: { status: 0, reason: 'exited with status 0' } },
  ] },
] };

test('model: flatten keeps config order and depth', () => {
  assert.deepEqual(flatten(tree).map((f) => `${f.depth}${f.node.name}`),
    ['0dev', '1db', '1backend', '2api', '2worker']);
  assert.deepEqual(runnersUnder(tree), ['db', 'api', 'worker']);
  assert.deepEqual(runnersUnder(tree.children[0]), ['db']);
  assert.deepEqual(flatten(null), []);
});

test('model: meta line shows pid, uptime, countdown, exit', () => {
  assert.equal(runnerMeta(tree.children[0], 66000), 'pid 10 · up 1m5s');
  assert.equal(runnerMeta(tree.children[1].children[0], 3800),
    'retry in 1.2s');
  assert.equal(runnerMeta(tree.children[1].children[1], 0), 'status 0');
  assert.equal(runnerMeta({ state: 'exited', last_exit: { signal: 'KILL' } },
    0), 'signal KILL');
});

test('model: failing marks backoff, failed and abnormal exits only', () => {
  assert.ok(isFailing(tree.children[1].children[0]));
  assert.ok(!isFailing(tree.children[1].children[1]));
  assert.ok(isFailing({ state: 'exited', last_exit: { signal: 'SEGV' } }));
  assert.ok(isFailing({ state: 'failed' }));
  assert.ok(!isFailing({ state: 'running' }));
  assert.deepEqual(countStates(tree), { total: 3, up: 1, failing: 1 });
});

test('model: state events update nodes; summaries read well', () => {
  const n = { name: 'x', state: 'running', pid: 5 };
  applyStateEvent(n, { type: 'state', to: 'exited', ts: 9, pid: 5 });
  assert.equal(n.state, 'exited');
  assert.equal(n.pid, null);
  assert.equal(n.since, 9);
  applyStateEvent(n, { type: 'state', to: 'running', pid: 7, run: 2 });
  assert.equal(n.pid, 7);
  assert.equal(n.run, 2);
  const s = eventSummary({ type: 'state', node: 'x', from: 'running',
    to: 'exited', reason: 'exited with status 1' });
  assert.equal(s.text, 'running → exited (exited with status 1)');
  assert.match(s.cls, /ev-to-exited/);
  assert.equal(eventSummary({ type: 'config_error',
    errors: ['a:1:2: x: bad'] }).cls, 'ev-error');
  assert.equal(eventSummary({ type: 'daemon_started' }).text,
    'daemon started');
});

test('model: banner folds config_error then config_applied', () => {
  let b = null;
  b = foldBanner(b, { type: 'state' });
  assert.equal(b, null);
  b = foldBanner(b, { type: 'config_error', errors: ['t.json:3:5: x: y'] });
  assert.deepEqual(b, ['t.json:3:5: x: y']);
  b = foldBanner(b, { type: 'state' });
  assert.deepEqual(b, ['t.json:3:5: x: y']);
  b = foldBanner(b, { type: 'config_applied', hash: 'abc' });
  assert.equal(b, null);
});

test('model: replayed events older than the node leave it alone', () => {
  const n = { name: 'x', state: 'running', pid: 5, since: 100 };
  assert.equal(applyStateEvent(n, { type: 'state', to: 'exited', ts: 50 }),
    false);
  assert.equal(n.state, 'running');
  assert.equal(applyStateEvent(n, { type: 'state', to: 'exited', ts: 150 }),
    true);
  assert.equal(n.state, 'exited');
});

test('model: a paused watch gets a badge with the reason', () => {
  assert.equal(watchBadge({ name: 'a', watch: null }), null);
  assert.equal(watchBadge({ name: 'a' }), null);
  assert.equal(watchBadge({ name: 'a', watch: { paused: false } }), null);
  const b = watchBadge({ name: 'api', watch: { paused: true,
    reason: 'restart loop: 11 changes in a row' } });
  assert.equal(b.text, 'watch paused');
  assert.match(b.title, /^restart loop: 11 changes in a row/);
  assert.match(b.title, /tend resume api/);
  assert.match(watchBadge({ name: 'x', watch: { paused: true } }).title,
    /restart-loop guard/);
});
