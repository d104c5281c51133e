// model: pure helpers over the tree JSON (GET /api/v1/tree) and the event
// objects (notes/formats.md), shared by the sidebar, the header and the
// timeline. No DOM, no network (tests/browser/unit_model.mjs).

import { fmtDuration } from './lines.js';

// Flattens the tree in config order: [{node, depth, parent (name|null)}].
export function flatten(root) {
  const out = [];
  const walk = (node, depth, parent) => {
    out.push({ node, depth, parent });
    for (const c of node.children || []) walk(c, depth + 1, node.name);
  };
  if (root) walk(root, 0, null);
  return out;
}

// Returns the names of the runners at or under node, in config order.
export function runnersUnder(node) {
  const out = [];
  const walk = (n) => {
    if (n.kind === 'runner') out.push(n.name);
    for (const c of n.children || []) walk(c);
  };
  if (node) walk(node);
  return out;
}

// Returns true when the runner or group is in trouble: failed, backing off,
// or exited abnormally.
export function isFailing(node) {
  if (!node) return false;
  if (node.state === 'failed' || node.state === 'backoff') return true;
  if (node.state === 'exited' && node.last_exit &&
      (node.last_exit.signal || node.last_exit.spawn_error ||
       (node.last_exit.status ?? 0) !== 0))
    return true;
  return false;
}

// Returns what the sidebar says about a runner's file watch: null when
// there is nothing to say, else { text, title } for its badge (a watch the
// restart-loop guard paused ignores every change until resumed).
export function watchBadge(node) {
  const w = node && node.watch;
  if (!w || !w.paused) return null;
  return { text: 'watch paused',
    title: (w.reason || 'paused by the restart-loop guard') +
      ' — resume it from the runner\'s page or with `tend resume ' +
      `${node.name}\`` };
}

// Returns true when the daemon accepts action ("start", "stop", "restart",
// "signal") for the node now: its "can", from the tree and from each state
// event. A node without one (an older daemon) allows nothing.
export function can(node, action) {
  return !!(node && node.can && node.can[action]);
}

// Returns true when the node's process is up (so uptime means something).
export function isUp(state) {
  return state === 'running' || state === 'ready' || state === 'starting';
}

// Returns the short meta line of a runner: pid, uptime, restarts, and the
// countdown to the next start in backoff. now is unix ms.
export function runnerMeta(node, now) {
  const parts = [];
  if (node.pid) parts.push(`pid ${node.pid}`);
  if (isUp(node.state) && node.since) parts.push(`up ${fmtDuration(now - node.since)}`);
  if (node.state === 'backoff' && node.next_start_ms) {
    const left = Math.max(0, node.next_start_ms - now);
    parts.push(`retry in ${(left / 1000).toFixed(left < 10000 ? 1 : 0)}s`);
  }
  if (!isUp(node.state) && node.state !== 'backoff' && node.last_exit)
    parts.push(exitText(node.last_exit));
  return parts.join(' · ');
}

// Returns "status 1", "signal KILL" or "spawn failed: why" for a last_exit
// object.
export function exitText(e) {
  if (!e) return '';
  if (e.spawn_error) return `spawn failed: ${e.spawn_error}`;
  if (e.signal) return `signal ${e.signal}`;
  if (e.status !== undefined && e.status !== null) return `status ${e.status}`;
  return e.reason || '';
}

// Returns the text and the CSS class of one event in the timeline.
export function eventSummary(ev) {
  switch (ev.type) {
    case 'state': {
      let t = `${ev.from} → ${ev.to}`;
      if (ev.reason) t += ` (${ev.reason})`;
      return { node: ev.node || '', text: t, cls: `ev-state ev-to-${ev.to}` };
    }
    case 'config_error':
      return { node: '', text: 'config error: ' +
        (ev.errors || []).join('; '), cls: 'ev-error' };
    case 'config_applied':
      return { node: '', text: 'config applied' +
        (ev.hash ? ` (${String(ev.hash).slice(0, 8)})` : ''), cls: 'ev-ok' };
    case 'give_up':
      return { node: ev.node || '', text: ev.message || 'gave up',
        cls: 'ev-error' };
    case 'persist_error':
      return { node: '', text: ev.message || 'persistence error',
        cls: 'ev-error' };
    case 'watch_fired':
      return { node: ev.node || '', text: 'files changed: ' +
        (ev.paths || []).slice(0, 3).join(', ') +
        ((ev.paths || []).length > 3 ? ` +${ev.paths.length - 3}` : ''),
      cls: 'ev-watch' };
    case 'watch_paused':
      return { node: ev.node || '', text: ev.message ||
        'watch paused (restart loop)', cls: 'ev-warn' };
    case 'log_truncated':
      return { node: ev.runner || '', text: ev.message ||
        `log truncated (${ev.bytes} bytes)`, cls: 'ev-warn' };
    default:
      return { node: ev.node || ev.runner || '', text: ev.message ||
        ev.type.replace(/_/g, ' '), cls: `ev-${ev.type}` };
  }
}

// Applies a "state" event to a tree node in place, so the sidebar changes
// before the tree is fetched again. Returns true when the node changed.
// Events older than the node's last transition (the replay of the event log
// at start-up) are history, not news, and leave the node alone.
export function applyStateEvent(node, ev) {
  if (!node || ev.type !== 'state') return false;
  if (ev.ts && node.since && ev.ts < node.since) return false;
  node.state = ev.to;
  if (ev.ts) node.since = ev.ts;
  if ('pid' in ev && isUp(ev.to)) node.pid = ev.pid;
  if (!isUp(ev.to) && ev.to !== 'stopping') node.pid = null;
  if (ev.run) node.run = ev.run;
  if (ev.can) node.can = ev.can;
  return true;
}

// Counts runners by coarse health for the header: {up, down, failing}.
export function countStates(root) {
  const c = { total: 0, up: 0, failing: 0 };
  for (const { node } of flatten(root)) {
    if (node.kind !== 'runner') continue;
    c.total++;
    if (node.state === 'running' || node.state === 'ready') c.up++;
    if (isFailing(node)) c.failing++;
  }
  return c;
}

// Returns the config-error banner after folding one event: the errors of the
// latest config_error, or null once a config_applied follows it.
export function foldBanner(current, ev) {
  if (ev.type === 'config_error') return ev.errors && ev.errors.length
    ? ev.errors.slice() : [ev.message || 'config error'];
  if (ev.type === 'config_applied') return null;
  return current;
}
