// app: tend's browser UI. Wires the public API (api.js) to the page: the tree
// sidebar, the output pane (lines.js model + logview.js virtual list), the
// controls, the event timeline, the config-error banner and the connection
// indicator. Decisions live in the pure modules (ansi, lines, model); this
// file is the shell that owns the DOM, the timers and the streams.
//
// Streams: one SSE stream for events (from seq 0 on first load, so the banner
// and the timeline know the history, then resumed from the last seq), and
// one SSE stream for the output of the runner on screen. Browsers allow six
// HTTP/1.1 connections per host for all tabs together, and every SSE stream
// holds one for good, so a page never holds more than two: when a group is
// shown, the tree is polled (its output_seq says which runners have new
// output) and only those runners are fetched through output?after=.
// Every chunk goes through RunnerLog, which drops seqs it already holds: a
// reconnect, a daemon restart or a poll that overlaps a stream can never
// show a line twice, and a gap is refilled from the store before going on.

import { api, fetchRange, Stream } from './api.js';
import { RunnerLog, mergeLogs, makeMatcher, filterLines, plainOf, fmtTime }
  from './lines.js';
import { LogView } from './logview.js';
import { flatten, runnersUnder, runnerMeta, isFailing, isUp, can,
  eventSummary, applyStateEvent, countStates, foldBanner, exitText, watchBadge }
  from './model.js';

const $ = (id) => document.getElementById(id);

const TAIL_CHUNKS = 5;      // chunks fetched first when a runner is shown
const TAIL_LINES = 3000;    // ... then older pages until this many lines
const PAGE_LINES = 5000;    // lines per scroll-back page (about)
const STALE_CHUNKS = 500;   // a log this far behind is reloaded, not replayed
const MAX_SSE = 1;          // output streams at once (plus one for events)
const POLL_MS = 400;        // output polling period above MAX_SSE runners
const MAX_EVENTS = 2000;    // events kept in memory
const MAX_EVENT_ROWS = 500; // events shown in the timeline
const NAME_COLORS = 8;

const S = {
  root: null,
  flat: [],
  byName: new Map(),
  colorIdx: new Map(),
  shape: '',
  selected: null,
  logs: new Map(),
  active: [],
  streams: new Map(),
  pollTimer: 0,
  polling: false,
  src: [],
  shown: [],
  matcher: null,
  tab: 'output',
  timestamps: localStorage.getItem('tend.ts') === '1',
  events: [],
  eventSeq: 0,
  pendingEvents: [],
  banner: null,
  unseen: 0,
  conn: 'connecting',
  downSince: 0,
  evStream: null,
  loadingOlder: false,
  inflight: new Set(),
  newWhilePaused: 0,
  treeTimer: 0,
  treeBusy: false,
  treeAgain: false,
  view: null,
};

// ---------------------------------------------------------------- helpers

// Shows a short message in the corner; kind "error" stays longer.
function toast(msg, kind = 'error') {
  const el = document.createElement('div');
  el.className = `toast toast-${kind}`;
  el.textContent = msg;
  $('toasts').appendChild(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 3000);
}

// Returns the log of a runner, creating it on first use.
function logOf(name) {
  let log = S.logs.get(name);
  if (!log) {
    log = new RunnerLog(name);
    log.ready = false;
    log.loading = null;
    S.logs.set(name, log);
  }
  return log;
}

// Returns the CSS class giving a runner its colour in interleaved output
// (by its position among the runners in config order).
function nameClass(name) {
  return `n${(S.colorIdx.get(name) || 0) % NAME_COLORS}`;
}

// Sets an element's text only when it changed (cheap live updates).
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// ------------------------------------------------------------- connection

// Shows the connection state: live, reconnecting, offline, unauthorized.
function setConn(state) {
  if (state === 'live') S.downSince = 0;
  else if (S.conn === 'live' || !S.downSince) S.downSince = Date.now();
  S.conn = state;
  const el = $('conn');
  el.className = `conn conn-${state}`;
  const text = {
    connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…',
    offline: 'daemon unreachable, retrying', unauthorized: 'not signed in',
  }[state] || state;
  setText($('conn-text'), text);
  const down = state === 'reconnecting' || state === 'offline';
  document.body.classList.toggle('is-down', down);
  $('offline').hidden = !down;
  if (down) setText($('offline-since'), `at ${fmtTime(S.downSince ||
    Date.now()).slice(0, 8)}`);
}

// --------------------------------------------------------------- the tree

// Fetches the tree (coalescing calls that arrive while one is in flight).
async function refreshTree() {
  if (S.treeBusy) {
    S.treeAgain = true;
    return;
  }
  S.treeBusy = true;
  try {
    const root = await api.tree();
    applyTree(root);
  } catch (e) {
    if (e.status === 401) unauthorized();
  } finally {
    S.treeBusy = false;
    if (S.treeAgain) {
      S.treeAgain = false;
      scheduleTree(50);
    }
  }
}

// Refreshes the tree soon, once for a burst of events.
function scheduleTree(ms = 120) {
  if (S.treeTimer) return;
  S.treeTimer = setTimeout(() => {
    S.treeTimer = 0;
    refreshTree();
  }, ms);
}

// Takes a new tree: rebuilds the sidebar when its shape changed, else
// updates the rows in place; notices runner logs that were reset.
function applyTree(root) {
  S.root = root;
  S.flat = flatten(root);
  S.byName = new Map(S.flat.map((f) => [f.node.name, f]));
  S.colorIdx = new Map(S.flat.filter((f) => f.node.kind === 'runner')
    .map((f, i) => [f.node.name, i]));
  const shape = S.flat.map((f) => `${f.depth}:${f.node.kind}:${f.node.name}`)
    .join('|');
  if (!S.selected || !S.byName.has(S.selected)) {
    const want = decodeURIComponent(location.hash.slice(1));
    S.selected = S.byName.has(want) ? want : root.name;
  }
  for (const f of S.flat) {
    if (f.node.kind !== 'runner') continue;
    const log = S.logs.get(f.node.name);
    if (log && log.ready && typeof f.node.output_seq === 'number' &&
        f.node.output_seq < log.hi) checkReset(log);
  }
  if (shape !== S.shape) {
    S.shape = shape;
    buildTree();
    activate();
  } else {
    updateTreeRows();
  }
  updateHeader();
}

// The tree says the daemon's log of a runner ends before ours. That is a
// stale tree racing a live chunk, or a log that was reset (state folder
// wiped): the store decides, and only a reset log is dropped and reloaded.
async function checkReset(log) {
  if (log.checking) return;
  log.checking = true;
  try {
    const r = await api.output(log.name, log.hi - 1, 1);
    const c = r && r.chunks && r.chunks[0];
    if (!c || c.seq !== log.hi) {
      log.clear();
      log.ready = false;
      closeStream(log.name);
      if (S.active.includes(log.name)) activate();
    }
  } catch (e) {
    /* unreachable daemon: the next tree will ask again */
  } finally {
    log.checking = false;
  }
}

// Builds the sidebar from S.flat.
function buildTree() {
  const ul = $('tree');
  const frag = document.createDocumentFragment();
  for (const f of S.flat) {
    const n = f.node;
    const li = document.createElement('li');
    li.className = `node ${n.kind}`;
    li.setAttribute('role', 'treeitem');
    li.setAttribute('aria-level', String(f.depth + 1));
    li.dataset.node = n.name;
    li.style.setProperty('--depth', String(f.depth));
    li.tabIndex = -1;

    const row = document.createElement('div');
    row.className = 'node-row';
    const dot = document.createElement('span');
    dot.className = 'dot';
    dot.setAttribute('aria-hidden', 'true');
    const name = document.createElement('span');
    name.className = 'node-name';
    name.textContent = n.name;
    name.title = n.name;
    const badge = document.createElement('span');
    badge.className = 'badge';
    const wb = document.createElement('span');
    wb.className = 'badge watch-badge';
    wb.hidden = true;
    const rb = document.createElement('button');
    rb.type = 'button';
    rb.className = 'row-btn';
    rb.title = n.kind === 'group' ? `Restart group ${n.name}`
      : `Restart ${n.name}`;
    rb.setAttribute('aria-label', rb.title);
    rb.textContent = '↻';
    rb.addEventListener('click', (e) => {
      e.stopPropagation();
      doAction('restart', n.name, rb);
    });
    row.append(dot, name, badge, wb, rb);
    li.appendChild(row);

    const meta = document.createElement('div');
    meta.className = 'node-meta';
    for (const k of ['pid', 'up', 'restarts', 'next', 'exit']) {
      const s = document.createElement('span');
      s.className = k;
      meta.appendChild(s);
    }
    li.appendChild(meta);
    li.addEventListener('click', () => select(n.name, true));
    frag.appendChild(li);
  }
  ul.replaceChildren(frag);
  updateTreeRows();
}

// Updates every sidebar row from the current tree (states, pids, clocks).
function updateTreeRows() {
  const now = Date.now();
  for (const li of $('tree').children) {
    const f = S.byName.get(li.dataset.node);
    if (!f) continue;
    const n = f.node;
    const failing = isFailing(n);
    li.classList.toggle('sel', n.name === S.selected);
    li.setAttribute('aria-selected', n.name === S.selected ? 'true' : 'false');
    li.classList.toggle('failing', failing);
    const badge = li.querySelector('.badge');
    badge.className = `badge st-${n.state}`;
    setText(badge, n.state);
    li.querySelector('.dot').className = `dot st-${n.state}`;
    const wbInfo = watchBadge(n);
    const wb = li.querySelector('.watch-badge');
    wb.hidden = !wbInfo;
    setText(wb, wbInfo ? wbInfo.text : '');
    wb.title = wbInfo ? wbInfo.title : '';
    const meta = li.querySelector('.node-meta');
    if (n.kind === 'runner') {
      setText(meta.querySelector('.pid'), n.pid ? `pid ${n.pid}` : '');
      setText(meta.querySelector('.up'), isUp(n.state) && n.since
        ? runnerMeta({ state: n.state, since: n.since }, now) : '');
      const rs = meta.querySelector('.restarts');
      setText(rs, n.restarts ? `↻ ${n.restarts}` : '');
      rs.title = n.restarts ? `${n.restarts} restarts` : '';
      rs.dataset.count = String(n.restarts || 0);
      let next = '';
      if (n.state === 'backoff' && n.next_start_ms) {
        const left = Math.max(0, n.next_start_ms - now);
        next = left > 0 ? `retry in ${(left / 1000).toFixed(1)}s` : 'retrying';
      }
      setText(meta.querySelector('.next'), next);
      setText(meta.querySelector('.exit'), failing && n.state !== 'backoff'
        ? exitText(n.last_exit) : '');
    } else {
      setText(meta.querySelector('.pid'), '');
      setText(meta.querySelector('.up'), n.strategy ? n.strategy.replace(/_/g, ' ') : '');
      const rs = meta.querySelector('.restarts');
      setText(rs, n.restarts ? `↻ ${n.restarts}` : '');
      rs.dataset.count = String(n.restarts || 0);
    }
  }
  const c = countStates(S.root);
  setText($('summary'), S.root ? `${c.up}/${c.total} up` +
    (c.failing ? ` · ${c.failing} failing` : '') : '');
  $('summary').classList.toggle('bad', c.failing > 0);
  const title = S.root ? `${c.failing ? `✖ ${c.failing} failing · ` : ''}` +
    `${S.root.name} · tend` : 'tend';
  if (document.title !== title) document.title = title;
  setText($('tree-counts'), S.root ? `${c.total}` : '');
}

// ------------------------------------------------------ header + controls

// Shows the selected node's name, state, facts and the fitting controls.
function updateHeader() {
  const f = S.byName.get(S.selected);
  if (!f) return;
  const n = f.node;
  const now = Date.now();
  setText($('sel-name'), n.name);
  const badge = $('sel-badge');
  badge.className = `badge st-${n.state}`;
  setText(badge, n.state);
  const facts = [];
  if (n.kind === 'runner') {
    if (n.pid) facts.push(`pid ${n.pid}`);
    if (isUp(n.state) && n.since) facts.push(runnerMeta({ state: n.state,
      since: n.since }, now));
    if (n.run) facts.push(`run ${n.run}`);
    facts.push(`${n.restarts || 0} restarts`);
  } else {
    facts.push(n.strategy ? n.strategy.replace(/_/g, ' ') : 'group');
    const k = runnersUnder(n).length;
    facts.push(`${k} runner${k === 1 ? '' : 's'}`);
    if (n.restarts) facts.push(`${n.restarts} restarts`);
  }
  setText($('sel-meta'), facts.join(' · '));

  let detail = '';
  if (n.kind === 'runner' && n.state === 'backoff') {
    const left = n.next_start_ms ? Math.max(0, n.next_start_ms - now) : 0;
    const why = n.last_exit ? n.last_exit.reason || exitText(n.last_exit)
      : '';
    detail = `Backing off${why ? `: ${why}` : ''} · ` + (left > 0
      ? `next start in ${(left / 1000).toFixed(1)}s` : 'starting again');
  } else if (n.state === 'failed') {
    const last = n.last_exit ? (n.last_exit.spawn_error
      ? exitText(n.last_exit) : n.last_exit.reason || exitText(n.last_exit))
      : '';
    detail = (n.kind === 'runner' && n.reason &&
              n.reason.startsWith('restart_limit')
      ? `Failed: ${n.reason.replace(/ \(last: .*\)$/, '')}`
      : 'Failed: gave up restarting') + (last ? ` (last: ${last})` : '');
  } else if (n.kind === 'runner' && isFailing(n)) {
    detail = `Exited: ${n.last_exit.reason || exitText(n.last_exit)}`;
  }
  if (n.watch && n.watch.paused)
    detail += (detail ? ' · ' : '') + 'File watch paused' +
      (n.watch.reason ? `: ${n.watch.reason}` : ' by the restart-loop guard');
  const d = $('sel-detail');
  setText(d, detail);
  d.classList.toggle('shown', detail !== '');

  const isRunner = n.kind === 'runner';
  const busy = (a) => S.inflight.has(`${a}:${n.name}`);
  const ctl = (id, show, enabled, action) => {
    const b = $(id);
    b.hidden = !show;
    b.disabled = !enabled || busy(action);
    b.classList.toggle('busy', busy(action));
  };
  // What each state allows is the daemon's to say (runners/fsm.c, sent as
  // the runner's "can"), so a button enabled here is never answered 409.
  ctl('btn-start', isRunner, can(n, 'start'), 'start');
  ctl('btn-stop', isRunner, can(n, 'stop'), 'stop');
  ctl('btn-restart', true, !isRunner || can(n, 'restart'), 'restart');
  setText($('btn-restart'), isRunner ? 'Restart' : 'Restart group');
  ctl('btn-signal', isRunner, can(n, 'signal'), 'signal');
  $('sig-select').hidden = !isRunner;
  $('sig-select').disabled = !isRunner || !can(n, 'signal');
  ctl('btn-watch', isRunner && !!(n.watch && n.watch.paused), true, 'watch');
  updatePtyInput(n);
  updateRuns();
}

// The input line under the output of a runner on a terminal ("pty"): shown
// for such a runner on the Output tab, usable while it runs.
function updatePtyInput(n) {
  const form = $('pty-input');
  const show = n.kind === 'runner' && !!n.pty && S.tab === 'output';
  form.hidden = !show;
  if (!show) return;
  const up = isUp(n.state);
  const line = $('pty-line');
  line.disabled = !up;
  $('pty-send').disabled = !up || S.inflight.has(`input:${n.name}`);
  line.placeholder = up
    ? 'A line for the terminal (Enter sends it with a newline)'
    : `${n.name} is ${n.state}: start it to type`;
}

// Sends the input line (plus a newline) to the selected runner's terminal.
async function sendPtyLine(e) {
  e.preventDefault();
  const name = S.selected;
  const line = $('pty-line');
  const key = `input:${name}`;
  if (S.inflight.has(key)) return;
  S.inflight.add(key);
  $('pty-send').disabled = true;
  try {
    await api.input(name, `${line.value}\n`);
    line.value = '';
    if (!S.view.following) S.view.follow();
  } catch (err) {
    toast(`input to ${name} failed: ${err.message}`);
  } finally {
    S.inflight.delete(key);
    const f = S.byName.get(S.selected);
    if (f) updatePtyInput(f.node);
  }
}

// Runs one control action, with its button disabled while in flight and the
// API's error shown if it fails.
async function doAction(action, name, btn) {
  const f = S.byName.get(name);
  if (!f) return;
  const key = `${action}:${name}`;
  if (S.inflight.has(key)) return;
  S.inflight.add(key);
  if (btn) {
    btn.disabled = true;
    btn.classList.add('busy');
  }
  updateHeader();
  try {
    if (action === 'restart' && f.node.kind === 'group')
      await api.groupRestart(name);
    else if (action === 'signal')
      await api.runnerCmd(name, 'signal', { signal: $('sig-select').value });
    else if (action === 'watch') await api.watchResume(name);
    else await api.runnerCmd(name, action);
    setText($('action-error'), '');
  } catch (e) {
    toast(`${action} ${name} failed: ${e.message}`);
    setText($('action-error'), `${action} failed: ${e.message}`);
  } finally {
    S.inflight.delete(key);
    if (btn) {
      btn.disabled = false;
      btn.classList.remove('busy');
    }
    updateHeader();
    scheduleTree(50);
  }
}

// ------------------------------------------------------------- selection

// Selects a node: its output (a runner's, or a group's runners interleaved).
function select(name, fromUser = false) {
  if (!S.byName.has(name)) return;
  if (name === S.selected && !fromUser) return;
  const changed = name !== S.selected;
  S.selected = name;
  history.replaceState(null, '', `#${encodeURIComponent(name)}`);
  if (fromUser) document.body.classList.remove('nav-open');
  updateTreeRows();
  updateHeader();
  if (changed) {
    activate();
    filterEvents();
  }
  const li = $('tree').querySelector(`[data-node="${CSS.escape(name)}"]`);
  if (li) li.scrollIntoView({ block: 'nearest' });
}

// Moves the selection by delta rows in the tree (j/k).
function moveSelection(delta) {
  const i = S.flat.findIndex((f) => f.node.name === S.selected);
  const j = Math.max(0, Math.min(S.flat.length - 1, i + delta));
  if (S.flat[j]) select(S.flat[j].node.name, true);
}

// Makes the selected node's runners the active ones: streams, loads, view.
function activate() {
  const f = S.byName.get(S.selected);
  S.active = f ? runnersUnder(f.node) : [];
  S.newWhilePaused = 0;
  for (const name of S.active) {
    // A log left behind by far (the runner wrote a lot while another node
    // was shown) is dropped and its tail loaded again, rather than replayed.
    const log = logOf(name);
    const node = S.byName.get(name).node;
    if (log.ready && node.output_seq - log.hi > STALE_CHUNKS) {
      closeStream(name);
      log.clear();
      log.ready = false;
    }
  }
  setupStreams();
  for (const name of S.active) ensureLoaded(name);
  rebuildSource(false);
  updateRuns();
}

// --------------------------------------------------------------- output

// Loads a runner's recent output once, then starts its live feed.
function ensureLoaded(name) {
  const log = logOf(name);
  if (log.ready || log.loading) return;
  log.loading = true;
  (async () => {
    const f = S.byName.get(name);
    const last = f && typeof f.node.output_seq === 'number'
      ? f.node.output_seq : 0;
    try {
      if (last > 0) {
        const from = Math.max(0, last - TAIL_CHUNKS);
        const r = await fetchRange(name, from, 0);
        if (r.gap) log.markGap(r.gap.from, r.gap.first_available);
        log.append(r.chunks);
        if (r.reachedStart) log.floor = Math.max(0, log.lo - 1);
        if (from === 0) log.floor = 0;
        for (let i = 0; i < 20 && log.lines.length < TAIL_LINES &&
             log.hasOlder(); i++)
          await olderPage(log, TAIL_LINES - log.lines.length);
      }
      log.ready = true;
    } catch (e) {
      // Start over from a clean log, so a half-done load leaves no hole.
      log.clear();
      log.loading = null;
      setTimeout(() => ensureLoaded(name), 1000);
      return;
    }
    log.loading = null;
    if (S.active.includes(name)) {
      rebuildSource(false);
      setupStreams();
    }
  })();
}

// Fetches about `lines` lines of older output for a log and prepends them.
// Chunks hold any number of lines, so the page size in chunks is estimated
// from the chunks already held.
async function olderPage(log, lines) {
  const held = Math.max(1, log.hi - log.lo + 1);
  const perChunk = Math.max(1, log.lines.length / held);
  const page = Math.max(10, Math.min(10000, Math.ceil(lines / perChunk)));
  const after = Math.max(log.floor, log.lo - 1 - page);
  const r = await fetchRange(log.name, after, log.lo - 1);
  log.prepend(r.chunks, r.reachedStart || after === 0, r.gap);
  return r.chunks.length;
}

// Takes chunks for a runner from a stream or a poll.
function onChunks(name, chunks) {
  const log = logOf(name);
  if (!log.ready) return;
  const trimmedBefore = log.trimmed;
  const r = log.append(chunks);
  if (r.gap) resync(name);
  if (!S.active.includes(name)) return;
  if (log.trimmed !== trimmedBefore) {
    rebuildSource(true);
    return;
  }
  if (r.added.length) pushToView(r.added);
  else S.view.appended();
  for (const l of r.added) if (l.stream === 't') {
    updateRuns();
    break;
  }
}

// Shows that chunks of a runner are gone for good (the daemon said so in a
// stream's gap event or a page's "gap").
function onGapMarked(name, gap) {
  const log = logOf(name);
  if (!log.ready || !gap) return;
  const added = log.markGap(gap.from, gap.first_available);
  if (added.length && S.active.includes(name)) pushToView(added);
}

// Fills a hole in a runner's output from the store, then resumes its stream.
async function resync(name) {
  const log = logOf(name);
  if (log.resyncing) return;
  log.resyncing = true;
  try {
    const st = S.streams.get(name);
    const r = await fetchRange(name, log.hi, 0);
    log.resyncing = false;
    onGapMarked(name, r.gap);
    onChunks(name, r.chunks);
    if (st) st.restart();
  } catch (e) {
    log.resyncing = false;
    setTimeout(() => resync(name), 1000);
  }
}

// Adds newly appended lines to the arrays the view shows.
function pushToView(added) {
  const multi = S.active.length > 1;
  if (multi) for (const l of added) if (S.active.includes(l.name))
    S.src.push(l);
  if (S.matcher) {
    for (const l of added)
      if (l.stream === 't' || S.matcher.test(plainOf(l))) S.shown.push(l);
  }
  if (!S.view.following) {
    S.newWhilePaused += added.length;
    updateFollowButton();
  }
  S.view.appended();
  updateFilterInfo();
}

// Recomputes what the view shows from the active logs and the filter.
function rebuildSource(keepAnchor) {
  if (S.active.length === 1) S.src = logOf(S.active[0]).lines;
  else S.src = mergeLogs(S.active.map((n) => logOf(n).lines));
  S.shown = filterLines(S.src, S.matcher);
  S.view.setContext({ multi: S.active.length > 1, nameClass });
  const w = Math.max(4, ...S.active.map((n) => n.length));
  $('log').style.setProperty('--nmw', `${w + 1}ch`);
  S.view.setLines(S.shown, { keepAnchor });
  updateFilterInfo();
  updateEmpty();
}

// Shows the "no output" hint when there is nothing to show.
function updateEmpty() {
  const loading = S.active.some((n) => !logOf(n).ready);
  const el = $('log-empty');
  el.hidden = S.shown.length > 0;
  setText(el, loading ? 'Loading…' : S.matcher ? 'No line matches the filter.'
    : S.active.length ? 'No output yet.' : 'No runners here.');
}

// Loads older output when the user scrolls near the top.
async function loadOlder(lines = PAGE_LINES) {
  if (S.loadingOlder) return false;
  const logs = S.active.map(logOf).filter((l) => l.ready && l.hasOlder());
  if (logs.length === 0) return false;
  S.loadingOlder = true;
  $('log-loading').hidden = false;
  try {
    for (const log of logs) await olderPage(log, lines);
  } catch (e) {
    toast(`loading older output failed: ${e.message}`);
  } finally {
    S.loadingOlder = false;
    $('log-loading').hidden = true;
  }
  rebuildSource(true);
  return true;
}

// Goes to the very start of the output, loading all of it (g).
async function goToStart() {
  while (await loadOlder(50000)) { /* until every log is complete */ }
  if (S.shown.length) S.view.scrollToIndex(0);
}

// Starts, keeps or stops the live feeds so that exactly the active runners
// are fed: SSE streams up to MAX_SSE runners, polling beyond.
function setupStreams() {
  const want = new Set(S.active.length <= MAX_SSE ? S.active : []);
  for (const name of [...S.streams.keys()]) if (!want.has(name))
    closeStream(name);
  for (const name of want) {
    const log = logOf(name);
    if (!log.ready || S.streams.has(name)) continue;
    S.streams.set(name, new Stream({
      url: api.outputStreamUrl(name),
      lastSeq: () => log.hi,
      onItem: (c) => onChunks(name, [c]),
      onGap: (gap) => (gap ? onGapMarked(name, gap) : resync(name)),
    }));
  }
  const poll = S.active.length > MAX_SSE;
  if (poll && !S.pollTimer) S.pollTimer = setInterval(pollOnce, POLL_MS);
  if (!poll && S.pollTimer) {
    clearInterval(S.pollTimer);
    S.pollTimer = 0;
  }
}

// Closes a runner's output stream.
function closeStream(name) {
  const st = S.streams.get(name);
  if (st) st.close();
  S.streams.delete(name);
}

// Polls the tree once, then fetches the chunks of the active runners whose
// output_seq went past what the page holds.
async function pollOnce() {
  if (S.polling || S.conn !== 'live') return;
  S.polling = true;
  try {
    applyTree(await api.tree());
    for (const name of S.active) {
      const log = logOf(name);
      const f = S.byName.get(name);
      if (!log.ready || !f || !(f.node.output_seq > log.hi)) continue;
      const r = await fetchRange(name, log.hi, 0);
      onGapMarked(name, r.gap);
      if (r.chunks.length) onChunks(name, r.chunks);
    }
  } catch (e) {
    /* the events stream reports the connection */
  } finally {
    S.polling = false;
  }
}

// Shows or hides the "resume following" button.
function updateFollowButton() {
  const b = $('btn-follow');
  b.hidden = S.view.following || S.tab !== 'output';
  setText(b, S.newWhilePaused
    ? `↓ Resume following (${S.newWhilePaused} new)` : '↓ Resume following');
}

// Shows how many lines the filter keeps.
function updateFilterInfo() {
  const el = $('filter-info');
  const q = $('filter').value;
  if (!q) {
    setText(el, '');
    return;
  }
  const m = makeMatcherCached(q);
  if (m && m.error) {
    setText(el, 'bad regex');
    el.title = m.error;
    el.classList.add('bad');
    return;
  }
  el.classList.remove('bad');
  el.title = '';
  const lines = (a) => a.reduce((n, l) => n + (l.stream === 't' ? 0 : 1), 0);
  setText(el, `${lines(S.shown)} of ${lines(S.src)} lines`);
}

let matcherCache = { q: null, m: null };
// Returns the matcher for a query, reusing the last one.
function makeMatcherCached(q) {
  if (matcherCache.q !== q) matcherCache = { q, m: makeMatcher(q) };
  return matcherCache.m;
}

// Applies the filter box.
function applyFilter() {
  const q = $('filter').value;
  const m = makeMatcherCached(q);
  S.matcher = m && !m.error ? m : null;
  S.view.setContext({ matcher: S.matcher });
  S.shown = filterLines(S.src, S.matcher);
  S.view.setLines(S.shown, { keepAnchor: true });
  if (S.view.following) S.view.follow();
  updateFilterInfo();
  updateEmpty();
}

// Fills the run selector of a single runner: runs known from markers, and
// every earlier run number (found in the store on demand).
function updateRuns() {
  const sel = $('runs');
  const f = S.byName.get(S.selected);
  const single = f && f.node.kind === 'runner';
  sel.hidden = !single;
  if (!single) return;
  const log = logOf(f.node.name);
  const known = new Map(log.runList().map((r) => [r.run, r]));
  const maxRun = Math.max(f.node.run || 0, ...known.keys(), 0);
  const key = `${f.node.name}:${maxRun}:${[...known.values()]
    .map((r) => `${r.run}${r.pid}${r.exit ? 1 : 0}`).join(',')}`;
  if (sel.dataset.key === key) return;
  sel.dataset.key = key;
  const frag = document.createDocumentFragment();
  const head = document.createElement('option');
  head.value = '';
  head.textContent = maxRun ? `Runs (${maxRun})` : 'Runs';
  frag.appendChild(head);
  for (let run = maxRun; run >= 1 && run > maxRun - 1000; run--) {
    const r = known.get(run);
    const o = document.createElement('option');
    o.value = String(run);
    let t = `run ${run}`;
    if (r) {
      if (r.pid) t += ` · pid ${r.pid}`;
      t += ` · ${fmtTime(r.ts)}`;
      if (r.exit) t += ` · ${r.exit}`;
      else if (run === f.node.run && isUp(f.node.state)) t += ' · current';
    }
    o.textContent = t;
    frag.appendChild(o);
  }
  sel.replaceChildren(frag);
}

// Finds the first seq of run n in a runner's store (binary search on
// output?after=, whose run numbers only grow with seq).
async function findRunSeq(log, n) {
  const probe = async (x) => {
    const r = await api.output(log.name, x - 1, 1);
    return r && r.chunks && r.chunks[0];
  };
  let lo = Math.max(1, log.floor + 1);
  let hi = log.lo || log.hi;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const c = await probe(mid);
    if (!c || c.run >= n) hi = mid;
    else lo = mid + 1;
  }
  const c = await probe(lo);
  return c ? c.seq : lo;
}

// Scrolls to the start of run n of the selected runner, loading it first.
async function jumpToRun(n) {
  const f = S.byName.get(S.selected);
  if (!f || f.node.kind !== 'runner') return;
  const log = logOf(f.node.name);
  try {
    const known = log.runs.get(n);
    let seq = known ? known.seq : 0;
    if (!known || seq < log.lo) {
      if (!seq) seq = await findRunSeq(log, n);
      if (seq < log.lo) {
        $('log-loading').hidden = false;
        const r = await fetchRange(log.name, seq - 1, log.lo - 1, 2000);
        log.prepend(r.chunks, seq - 1 <= log.floor);
        rebuildSource(true);
      }
    }
  } catch (e) {
    toast(`could not load run ${n}: ${e.message}`);
  } finally {
    $('log-loading').hidden = true;
  }
  let i = S.shown.findIndex((l) => l.run === n);
  if (i < 0) i = S.shown.findIndex((l) => l.run > n);
  if (i >= 0) S.view.scrollToIndex(i, true);
  updateFollowButton();
}

// Copies the lines shown (after the filter) as plain text.
async function copyShown() {
  const text = S.shown.map((l) => plainOf(l)).join('\n') + '\n';
  try {
    await navigator.clipboard.writeText(text);
    toast(`copied ${S.shown.length} lines`, 'ok');
  } catch (e) {
    const ta = document.createElement('textarea');
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
    toast(`copied ${S.shown.length} lines`, 'ok');
  }
}

// ---------------------------------------------------------------- events

let rowsRaf = 0;
// Updates the sidebar and the header on the next frame (once for a burst of
// events, such as the replay of the event log at start-up).
function scheduleRows() {
  if (rowsRaf) return;
  rowsRaf = requestAnimationFrame(() => {
    rowsRaf = 0;
    updateTreeRows();
    updateHeader();
  });
}

// Takes one event from the events stream.
function onEvent(ev) {
  if (typeof ev.seq !== 'number' || ev.seq <= S.eventSeq) return;
  S.eventSeq = ev.seq;
  S.events.push(ev);
  if (S.events.length > MAX_EVENTS) S.events.splice(0, S.events.length -
    MAX_EVENTS);
  const before = S.banner;
  S.banner = foldBanner(S.banner, ev);
  if (before !== S.banner) renderBanner();
  if (ev.type === 'state') {
    const f = S.byName.get(ev.node);
    if (f && applyStateEvent(f.node, ev)) scheduleRows();
    scheduleTree();
  } else if (['config_applied', 'daemon_started', 'give_up', 'watch_paused',
    'watch_resumed', 'recovered'].includes(ev.type)) {
    scheduleTree();
  }
  if (S.tab !== 'events' && /error|give_up|failed/.test(ev.type +
    (ev.to || ''))) {
    S.unseen++;
  }
  S.pendingEvents.push(ev);
  if (S.pendingEvents.length === 1) requestAnimationFrame(flushEvents);
}

// Adds the pending events to the top of the timeline (newest first).
function flushEvents() {
  const evs = S.pendingEvents.splice(0);
  const list = $('events');
  const frag = document.createDocumentFragment();
  for (let i = evs.length - 1; i >= 0 && i >= evs.length - MAX_EVENT_ROWS;
    i--) {
    const ev = evs[i];
    const s = eventSummary(ev);
    const li = document.createElement('li');
    li.className = `ev ${s.cls}`;
    li.dataset.seq = String(ev.seq);
    const t = document.createElement('time');
    t.textContent = ev.ts ? fmtTime(ev.ts) : '';
    t.title = ev.ts ? new Date(ev.ts).toLocaleString() : '';
    const ty = document.createElement('span');
    ty.className = 'ev-type';
    ty.textContent = ev.type.replace(/_/g, ' ');
    const nd = document.createElement('span');
    nd.className = 'ev-node';
    nd.textContent = s.node;
    if (s.node && S.byName.has(s.node)) {
      nd.classList.add('link');
      nd.addEventListener('click', () => select(s.node, true));
    }
    const tx = document.createElement('span');
    tx.className = 'ev-text';
    tx.textContent = s.text;
    li.dataset.node = s.node;
    li.hidden = !eventVisible(s.node);
    li.append(t, ty, nd, tx);
    frag.appendChild(li);
  }
  list.insertBefore(frag, list.firstChild);
  while (list.children.length > MAX_EVENT_ROWS) list.lastChild.remove();
  setText($('events-count'), S.unseen ? String(S.unseen) : '');
}

// Returns true when an event about node passes the "only selected" switch:
// events without a node (config, daemon) always do.
function eventVisible(node) {
  if (!$('ev-only').checked || !node) return true;
  const f = S.byName.get(S.selected);
  if (!f) return true;
  return flatten(f.node).some((x) => x.node.name === node);
}

// Re-applies the "only selected" switch to the timeline.
function filterEvents() {
  setText($('ev-only-name'), S.selected || '');
  for (const li of $('events').children)
    li.hidden = !eventVisible(li.dataset.node);
}

// Shows or hides the config-error banner.
function renderBanner() {
  const b = $('banner');
  b.hidden = !S.banner;
  if (!S.banner) return;
  const file = (S.banner[0] || '').split(':')[0];
  setText($('banner-file'), file && !file.includes(' ')
    ? file.split('/').pop() : 'the config');
  const ul = $('banner-errors');
  const frag = document.createDocumentFragment();
  for (const e of S.banner) {
    const li = document.createElement('li');
    li.textContent = e;
    frag.appendChild(li);
  }
  ul.replaceChildren(frag);
}

// Opens the events stream: from seq 0 the first time, then from the last.
function openEvents() {
  S.evStream = new Stream({
    url: api.eventsStreamUrl(),
    lastSeq: () => S.eventSeq,
    onItem: onEvent,
    onOpen: () => {
      const wasDown = S.conn !== 'live';
      setConn('live');
      if (wasDown) refreshTree();
    },
    onDown: () => {
      setConn(Date.now() - S.downSince > 5000 && S.conn !== 'live'
        ? 'offline' : 'reconnecting');
      probeAuth();
    },
  });
}

// After a stream error, tells a logged-out page apart from a daemon that is
// away (EventSource hides HTTP statuses).
async function probeAuth() {
  try {
    await api.tree().then(applyTree);
  } catch (e) {
    if (e.status === 401) unauthorized();
  }
}

// Stops everything and shows how to sign in.
function unauthorized() {
  setConn('unauthorized');
  $('unauth').hidden = false;
  document.body.classList.add('no-auth');
  if (S.evStream) S.evStream.close();
  for (const name of [...S.streams.keys()]) closeStream(name);
}

// ------------------------------------------------------------------- tabs

// Switches between the output and the events tab.
function setTab(tab) {
  S.tab = tab;
  $('tab-output').setAttribute('aria-selected', String(tab === 'output'));
  $('tab-events').setAttribute('aria-selected', String(tab === 'events'));
  $('output-pane').hidden = tab !== 'output';
  $('output-tools').hidden = tab !== 'output';
  $('events-tools').hidden = tab !== 'events';
  $('events-pane').hidden = tab !== 'events';
  {
    const f = S.byName.get(S.selected);
    if (f) updatePtyInput(f.node);
  }
  if (tab === 'events') {
    filterEvents();
    S.unseen = 0;
    setText($('events-count'), '');
  } else S.view.schedule();
  updateFollowButton();
}

// Shows or hides timestamps.
function setTimestamps(on) {
  S.timestamps = on;
  localStorage.setItem('tend.ts', on ? '1' : '0');
  $('btn-ts').setAttribute('aria-pressed', String(on));
  S.view.setContext({ timestamps: on });
}

// ---------------------------------------------------------------- keyboard

// Handles the shortcuts listed in the help overlay.
function onKey(e) {
  const t = e.target;
  const typing = t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' ||
    t.tagName === 'TEXTAREA');
  if (e.key === 'Escape') {
    if (!$('help').hidden) $('help').hidden = true;
    else if (t === $('filter')) {
      $('filter').value = '';
      applyFilter();
      $('filter').blur();
    } else document.body.classList.remove('nav-open');
    return;
  }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  const sel = S.selected;
  switch (e.key) {
    case 'j': moveSelection(1); break;
    case 'k': moveSelection(-1); break;
    case 'r': doAction('restart', sel, $('btn-restart')); break;
    case 's':
      if (!$('btn-start').hidden && !$('btn-start').disabled)
        doAction('start', sel, $('btn-start'));
      break;
    case 'x':
      if (!$('btn-stop').hidden && !$('btn-stop').disabled)
        doAction('stop', sel, $('btn-stop'));
      break;
    case '/':
      setTab('output');
      $('filter').focus();
      $('filter').select();
      break;
    case '?': $('help').hidden = !$('help').hidden; break;
    case 't': setTimestamps(!S.timestamps); break;
    case 'f': setTab('output'); S.newWhilePaused = 0; S.view.follow(); break;
    case 'g': setTab('output'); goToStart(); break;
    case 'G': setTab('output'); S.view.follow(); break;
    case 'e': setTab('events'); break;
    case 'o': setTab('output'); break;
    default: return;
  }
  e.preventDefault();
}

// ------------------------------------------------------------------ start

// Wires the page and starts the feeds.
function init() {
  S.view = new LogView($('log'), $('log-spacer'), $('log-rows'), {
    onFollow: (on) => {
      if (on) S.newWhilePaused = 0;
      updateFollowButton();
    },
    onNearTop: () => {
      if (!S.view.following || S.shown.length * S.view.rowH <
          $('log').clientHeight) loadOlder();
    },
  });
  S.view.setContext({ timestamps: S.timestamps, nameClass });
  $('btn-ts').setAttribute('aria-pressed', String(S.timestamps));
  for (const b of $('controls').querySelectorAll('button[data-action]'))
    b.addEventListener('click', () => doAction(b.dataset.action, S.selected, b));
  $('btn-follow').addEventListener('click', () => {
    S.newWhilePaused = 0;
    S.view.follow();
  });
  let ft = 0;
  $('filter').addEventListener('input', () => {
    clearTimeout(ft);
    ft = setTimeout(applyFilter, 80);
  });
  $('filter').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      clearTimeout(ft);
      applyFilter();
    }
  });
  $('pty-input').addEventListener('submit', sendPtyLine);
  $('btn-ts').addEventListener('click', () => setTimestamps(!S.timestamps));
  $('btn-copy').addEventListener('click', copyShown);
  $('runs').addEventListener('change', () => {
    const v = Number($('runs').value);
    $('runs').value = '';
    if (v) jumpToRun(v);
  });
  $('tab-output').addEventListener('click', () => setTab('output'));
  $('tab-events').addEventListener('click', () => setTab('events'));
  $('ev-only').addEventListener('change', filterEvents);
  $('help-btn').addEventListener('click', () => {
    $('help').hidden = !$('help').hidden;
  });
  $('help-close').addEventListener('click', () => { $('help').hidden = true; });
  $('help').addEventListener('click', (e) => {
    if (e.target === $('help')) $('help').hidden = true;
  });
  $('nav-toggle').addEventListener('click', (e) => {
    e.stopPropagation();
    const open = document.body.classList.toggle('nav-open');
    $('nav-toggle').setAttribute('aria-expanded', String(open));
  });
  // On a phone the tree is a drawer: a tap outside it closes it.
  document.addEventListener('click', (e) => {
    if (document.body.classList.contains('nav-open') &&
        !$('sidebar').contains(e.target)) {
      document.body.classList.remove('nav-open');
      $('nav-toggle').setAttribute('aria-expanded', 'false');
    }
  });
  // Copying a selection gives the text only: the timestamp and name gutters
  // are not selectable, and rows are separate lines.
  $('log').addEventListener('copy', (e) => {
    const s = document.getSelection();
    if (!s || s.isCollapsed) return;
    e.clipboardData.setData('text/plain', s.toString());
    e.preventDefault();
  });
  document.addEventListener('keydown', onKey);
  window.addEventListener('hashchange', () => {
    const want = decodeURIComponent(location.hash.slice(1));
    if (want && want !== S.selected) select(want);
  });
  setInterval(() => {
    if (!S.root) return;
    updateTreeRows();
    updateHeader();
    if (S.conn === 'reconnecting' && Date.now() - S.downSince > 5000)
      setConn('offline');
  }, 500);
  start();
}

// Loads the tree (retrying while the daemon is away), then opens the events.
async function start() {
  try {
    applyTree(await api.tree());
  } catch (e) {
    if (e.status === 401) {
      unauthorized();
      return;
    }
    setConn('reconnecting');
    setTimeout(start, 1000);
    return;
  }
  openEvents();
}

window.tend = S; // for debugging and the browser tests' introspection
init();
