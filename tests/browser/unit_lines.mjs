// Unit tests of ui/web/lines.js: chunks to lines, dedupe, gaps, scroll-back,
// partial lines, markers, merge, filter.
import { test, assert } from './harness.mjs';
import { RunnerLog, chunkLines, applyCR, splitChunk, mergeLogs, makeMatcher,
  filterLines, markRanges, fmtDuration, plainOf, chunkText } from
  '../../ui/web/lines.js';

const ch = (seq, data, extra = {}) =>
  ({ seq, ts: 1000 + seq, run: 1, stream: 'stdout', data, ...extra });

test('lines: chunks split into lines, CR applied', () => {
  assert.deepEqual(splitChunk('a\nb\n'), { pieces: ['a', 'b'], open: false });
  assert.deepEqual(splitChunk('a\nb'), { pieces: ['a', 'b'], open: true });
  assert.deepEqual(splitChunk(''), { pieces: [], open: false });
  assert.deepEqual(splitChunk('\n'), { pieces: [''], open: false });
  assert.equal(applyCR('crlf\r'), 'crlf');
  assert.equal(applyCR('10%\r50%\r100%'), '100%');
  assert.equal(applyCR('abcdef\rxy'), 'xycdef');
  const recs = chunkLines('a', ch(3, 'x\ny\n'), {});
  assert.equal(recs.length, 2);
  assert.equal(recs[1].text, 'y');
  assert.ok(recs[0].ord < recs[1].ord);
});

test('lines: base64 chunks decode with replacement characters', () => {
  const b64 = Buffer.from([0x61, 0xff, 0x62, 0x0a]).toString('base64');
  assert.equal(chunkText({ data_b64: b64 }), 'a\ufffdb\n');
});

test('lines: append dedupes by seq and reports gaps', () => {
  const log = new RunnerLog('api');
  let r = log.append([ch(1, 'one\n'), ch(2, 'two\nthree\n')]);
  assert.equal(r.added.length, 3);
  assert.equal(r.gap, 0);
  r = log.append([ch(2, 'two\nthree\n'), ch(3, 'four\n')]);
  assert.equal(r.added.length, 1);
  assert.deepEqual(log.lines.map((l) => l.text), ['one', 'two', 'three',
    'four']);
  r = log.append([ch(5, 'six\n')]);
  assert.equal(r.gap, 4);
  assert.equal(r.added.length, 0);
  assert.equal(log.hi, 3);
  r = log.append([ch(4, 'five\n'), ch(5, 'six\n')]);
  assert.equal(log.lines.length, 6);
  assert.equal(log.hi, 5);
});

test('lines: partial chunks join into one line', () => {
  const log = new RunnerLog('api');
  log.append([ch(1, 'hello ', { partial: true })]);
  assert.equal(log.lines.length, 1);
  const v = log.version;
  const r = log.append([ch(2, 'world\nnext\n')]);
  assert.deepEqual(log.lines.map((l) => l.text), ['hello world', 'next']);
  assert.equal(r.added.length, 1);
  assert.ok(log.version > v);
  // stderr does not join a stdout partial line.
  log.append([ch(3, 'out ', { partial: true }),
    ch(4, 'err\n', { stream: 'stderr' }), ch(5, 'more\n')]);
  assert.deepEqual(log.lines.slice(2).map((l) => l.text + l.stream),
    ['out moreo', 'erre']);
});

test('lines: prepend loads older output and keeps ranges', () => {
  const log = new RunnerLog('api');
  log.append([ch(10, 'ten\n'), ch(11, 'eleven\n')]);
  assert.equal(log.lo, 10);
  assert.ok(log.hasOlder());
  const recs = log.prepend([ch(8, 'eight\n'), ch(9, 'nine\n'), ch(10, 'x\n')],
    false);
  assert.equal(recs.length, 2);
  assert.deepEqual(log.lines.map((l) => l.text), ['eight', 'nine', 'ten',
    'eleven']);
  assert.equal(log.lo, 8);
  assert.ok(log.hasOlder());
  log.prepend([], true);
  assert.ok(!log.hasOlder());
  // A partial line at the end of an older batch joins the held first line.
  const l2 = new RunnerLog('b');
  l2.append([ch(3, 'tail\n')]);
  l2.prepend([ch(1, 'one\n'), ch(2, 'he', { partial: true })], true);
  assert.deepEqual(l2.lines.map((l) => l.text), ['one', 'hetail']);
  assert.ok(!l2.hasOlder());
});

test('lines: markers index runs with pid and exit', () => {
  const log = new RunnerLog('api');
  log.append([
    ch(1, 'started (pid 42)\n', { stream: 'tend', event: 'start', pid: 42 }),
    ch(2, 'hi\n'),
    ch(3, 'exited with status 1; restart in 200 ms\n',
      { stream: 'tend', event: 'exit', status: 1 }),
    ch(4, 'started (pid 43)\n', { stream: 'tend', event: 'start', pid: 43,
      run: 2 }),
  ]);
  const runs = log.runList();
  assert.equal(runs.length, 2);
  assert.equal(runs[0].pid, 42);
  assert.equal(runs[0].exit, 'exited with status 1; restart in 200 ms');
  assert.equal(runs[1].pid, 43);
  assert.equal(runs[1].seq, 4);
  assert.equal(log.lines[0].stream, 't');
  assert.equal(log.lines[0].ev.pid, 42);
});

test('lines: ANSI state carries across lines and chunks per stream', () => {
  const log = new RunnerLog('api');
  log.append([ch(1, '\x1b[31mred\nstill\n'), ch(2, 'more\x1b[0m\nplain\n')]);
  assert.equal(log.lines[0].st, null);
  assert.equal(log.lines[1].st.fg, 1);
  assert.equal(log.lines[2].st.fg, 1);
  assert.equal(log.lines[3].st, null);
  assert.equal(plainOf(log.lines[0]), 'red');
});

test('lines: the bound drops whole chunks from the front', () => {
  const log = new RunnerLog('api', 5);
  for (let i = 1; i <= 5; i++) log.append([ch(i, `${i}a\n${i}b\n`)]);
  assert.ok(log.lines.length <= 5);
  assert.equal(log.lines[0].text.endsWith('a'), true);
  assert.equal(log.lo, log.lines[0].seq);
  assert.ok(log.hasOlder());
});

test('lines: merge interleaves by time and keeps each runner in order', () => {
  const a = [{ ts: 1, n: 'a1' }, { ts: 5, n: 'a2' }, { ts: 5, n: 'a3' }];
  const b = [{ ts: 2, n: 'b1' }, { ts: 5, n: 'b2' }, { ts: 9, n: 'b3' }];
  assert.deepEqual(mergeLogs([a, b]).map((x) => x.n),
    ['a1', 'b1', 'a2', 'a3', 'b2', 'b3']);
  assert.deepEqual(mergeLogs([]), []);
});

test('lines: matcher substring (smart case) and regex', () => {
  assert.equal(makeMatcher(''), null);
  let m = makeMatcher('err');
  assert.ok(m.test('ERROR here'));
  assert.deepEqual(m.ranges('Err err'), [[0, 3], [4, 7]]);
  m = makeMatcher('Err');
  assert.ok(!m.test('error'));
  m = makeMatcher('/wor(l)?d$/i');
  assert.ok(m.test('hello WORLD'));
  assert.deepEqual(m.ranges('word world'), [[5, 10]]);
  m = makeMatcher('/[/');
  assert.ok(m.error);
  m = makeMatcher('/x*/');
  assert.deepEqual(m.ranges('axxb'), [[1, 3]]);
});

test('lines: filter keeps markers and matching lines', () => {
  const log = new RunnerLog('api');
  log.append([ch(1, 'alpha\nbeta\ngamma\n'),
    ch(2, 'started\n', { stream: 'tend', event: 'start', pid: 1 })]);
  const out = filterLines(log.lines, makeMatcher('/^(alpha|gamma)$/'));
  assert.deepEqual(out.map((l) => l.text), ['alpha', 'gamma', 'started']);
  assert.equal(filterLines(log.lines, null), log.lines);
});

test('lines: markRanges splits styled spans at matches', () => {
  const spans = [{ text: 'hello ', style: null }, { text: 'world', style: 1 }];
  const out = markRanges(spans, [[4, 8]]);
  assert.deepEqual(out.map((s) => [s.text, s.hit, s.style]), [
    ['hell', false, null], ['o ', true, null], ['wo', true, 1],
    ['rld', false, 1]]);
  assert.equal(markRanges(spans, []), spans);
});

test('lines: durations format compactly', () => {
  assert.equal(fmtDuration(999), '0s');
  assert.equal(fmtDuration(61000), '1m1s');
  assert.equal(fmtDuration(3 * 3600e3 + 120e3), '3h2m');
  assert.equal(fmtDuration(50 * 3600e3), '2d2h');
});

test('lines: a gap the daemon reports becomes a marker, live and on load',
  () => {
    // Live: chunks 3..9 were rotated away while the page held 1..2.
    const log = new RunnerLog('api');
    log.append([ch(1, 'one\n'), ch(2, 'two\n')]);
    assert.deepEqual(log.markGap(4, 10), [], 'only a hole right after hi');
    const added = log.markGap(3, 10);
    assert.equal(added.length, 1);
    assert.equal(added[0].stream, 't');
    assert.equal(added[0].ev.event, 'gap');
    assert.match(added[0].text, /chunks 3–9 are gone \(rotated away/);
    assert.equal(log.hi, 9);
    assert.deepEqual(log.markGap(3, 10), [], 'the same gap twice: once');
    const r = log.append([ch(10, 'ten\n')]);
    assert.equal(r.gap, 0, 'the chunk after the hole is taken');
    assert.deepEqual(log.lines.map((l) => l.text.slice(0, 12)),
      ['one', 'two', 'output chunk', 'ten']);
    assert.ok(log.lines[2].ord < log.lines[3].ord);

    // Load: the page's gap in front of an empty log.
    const fresh = new RunnerLog('api');
    fresh.markGap(1, 202);
    fresh.append([ch(202, 'kept\n')]);
    assert.equal(fresh.lo, 202);
    assert.equal(fresh.floor, 201);
    assert.ok(!fresh.hasOlder(), 'nothing older exists');
    assert.deepEqual(fresh.lines.map((l) => l.stream), ['t', 'o']);
    assert.match(fresh.lines[0].text, /chunks 1–201 are gone/);

    // Scroll-back: older chunks whose start was rotated away.
    const back = new RunnerLog('api');
    back.append([ch(50, 'fifty\n')]);
    back.prepend([ch(40, 'forty\n'), ch(41, 'x\n'), ...Array.from(
      { length: 8 }, (_, i) => ch(42 + i, `c${42 + i}\n`))], false,
    { from: 31, first_available: 40 });
    assert.equal(back.lines[0].ev.event, 'gap');
    assert.match(back.lines[0].text, /chunks 31–39 are gone/);
    assert.equal(back.lines[1].text, 'forty');
    assert.equal(back.floor, 39);
    assert.ok(!back.hasOlder());
    // Everything older than lo gone: a marker alone.
    const none = new RunnerLog('api');
    none.append([ch(70, 'seventy\n')]);
    none.prepend([], false, { from: 20, first_available: 75 });
    assert.match(none.lines[0].text, /chunks 20–69 are gone/);
    assert.ok(!none.hasOlder());
  });
