// lines: the output line model, with no DOM and no network (tested under
// node: tests/browser/unit_lines.mjs).
//
// A RunnerLog turns one runner's chunks (notes/formats.md: seq, ts, run,
// stream, data | data_b64, partial, and the "tend" lifecycle markers) into
// line records kept in seq order. It holds one contiguous seq range
// [lo, hi]: live chunks extend it at the top, chunks loaded on scroll-back at
// the bottom, and any chunk already inside the range is a duplicate and
// ignored, which is what makes reconnects exactly-once. A chunk past hi + 1
// is a gap: ingest() refuses it and says so, and the caller fetches the
// missing range first.
//
// A line record: {name, seq, ts, run, stream: 'o'|'e'|'t', text (raw, with
// escapes), st (ANSI state at its start, null = default), ev (for markers:
// {event, pid, status, signal}), ord (seq * 65536 + index in the chunk: a
// total order inside one runner), plain (cached stripped text, lazily)}.

import { endState, strip } from './ansi.js';

export const STREAM_CODE = { stdout: 'o', stderr: 'e', tend: 't' };

// Decodes a chunk's bytes (data, or data_b64 for non-UTF-8 output, shown with
// U+FFFD for the invalid sequences) into a string.
export function chunkText(chunk) {
  if (typeof chunk.data === 'string') return chunk.data;
  if (typeof chunk.data_b64 === 'string') {
    const bin = atob(chunk.data_b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  }
  return '';
}

// Applies carriage returns the way a terminal would show the final state of
// a progress bar: the text after the last CR that has something after it.
// A trailing CR (CRLF line ends) is dropped.
export function applyCR(s) {
  if (s.indexOf('\r') < 0) return s;
  const parts = s.split('\r');
  for (let i = parts.length - 1; i >= 0; i--) if (parts[i] !== '') {
    // The later part overwrites the start of the earlier one.
    let out = parts[i];
    for (let j = i - 1; j >= 0; j--)
      if (parts[j].length > out.length) out += parts[j].slice(out.length);
    return out;
  }
  return '';
}

// Splits a chunk into its lines, without the newlines. A chunk ending with a
// newline has no trailing empty piece; a "partial" chunk's last piece is an
// unfinished line. Returns {pieces, open} with open true when the last piece
// does not end at a newline.
export function splitChunk(text) {
  if (text === '') return { pieces: [], open: false };
  const pieces = text.split('\n');
  const open = pieces[pieces.length - 1] !== '';
  if (!open) pieces.pop();
  return { pieces, open };
}

// Returns the line records of one chunk (markers become one record each).
// carry: {stream code -> ANSI state} at the start; it is updated in place.
export function chunkLines(name, chunk, carry) {
  const stream = STREAM_CODE[chunk.stream] || 'o';
  const out = [];
  const base = chunk.seq * 65536;
  if (stream === 't') {
    const ev = {
      event: chunk.event || null,
      pid: chunk.pid ?? null,
      status: chunk.status ?? null,
      signal: chunk.signal ?? null,
    };
    const text = chunkText(chunk).replace(/\n+$/, '').replace(/\n/g, ' ');
    out.push({ name, seq: chunk.seq, ts: chunk.ts, run: chunk.run ?? 0,
      stream, text, st: null, ev, ord: base, plain: text });
    return out;
  }
  const { pieces } = splitChunk(chunkText(chunk));
  let st = carry[stream] ?? null;
  for (let i = 0; i < pieces.length; i++) {
    const text = applyCR(pieces[i]);
    out.push({ name, seq: chunk.seq, ts: chunk.ts, run: chunk.run ?? 0,
      stream, text, st, ev: null, ord: base + Math.min(i, 65535),
      plain: undefined });
    st = endState(text, st);
  }
  carry[stream] = st;
  return out;
}

// Returns the marker record of a hole in a runner's output: the chunks from
// `from` to firstAvailable - 1 are gone (rotated away by output.max_bytes /
// keep). It sorts right before the first chunk after the hole; ts places it
// among other runners' lines.
export function gapLine(name, from, firstAvailable, ts) {
  const last = firstAvailable - 1;
  const what = from === last ? `chunk ${from} is` : `chunks ${from}–${last} are`;
  const text = `output ${what} gone (rotated away; see output.max_bytes ` +
    'and output.keep)';
  return { name, seq: last, ts, run: 0, stream: 't', text, st: null,
    ev: { event: 'gap', from, first_available: firstAvailable },
    ord: firstAvailable * 65536 - 1, plain: text };
}

// Returns the text of a record as seen on screen (escapes stripped), cached.
export function plainOf(line) {
  if (line.plain === undefined) line.plain = strip(line.text);
  return line.plain;
}

// One runner's lines, in seq order, with a bound on how many are kept.
export class RunnerLog {
  constructor(name, maxLines = 200000) {
    this.name = name;
    this.maxLines = maxLines;
    this.lines = [];
    this.lo = 0;        // seq of the oldest chunk held (0 = nothing held)
    this.hi = 0;        // seq of the newest chunk held
    this.floor = 0;     // seqs <= floor are known not to exist (start of log)
    this.carry = {};    // ANSI state per stream after the newest line
    this.open = {};     // stream -> record of an unfinished (partial) line
    this.runs = new Map(); // run -> {run, seq, ts, pid, exit}
    this.version = 0;   // bumped on every change, for views
    this.trimmed = 0;   // lines dropped at the front because of maxLines
  }

  // True when older output exists before the oldest chunk held.
  hasOlder() {
    return this.lo > this.floor + 1;
  }

  // Records a run's start or exit marker in the run index.
  noteRun(line) {
    if (!line.run) return;
    let r = this.runs.get(line.run);
    if (!r) {
      r = { run: line.run, seq: line.seq, ts: line.ts, pid: null, exit: null };
      this.runs.set(line.run, r);
    }
    if (line.seq < r.seq) {
      r.seq = line.seq;
      r.ts = line.ts;
    }
    if (line.ev && line.ev.event === 'start') r.pid = line.ev.pid;
    if (line.ev && line.ev.event === 'exit') r.exit = line.text;
  }

  // Appends newer chunks (oldest first). Duplicates (seq <= hi) are skipped.
  // Returns {added: new records, gap: first missing seq or 0} (a record
  // extended by the rest of a partial line is changed in place, not added,
  // and the version is bumped). On a gap
  // nothing from that chunk on is taken: the caller fills it and retries.
  append(chunks) {
    const added = [];
    for (const c of chunks) {
      if (this.hi && c.seq <= this.hi) continue;
      if (this.hi && c.seq > this.hi + 1) {
        this.finishAppend(added);
        return { added, gap: this.hi + 1 };
      }
      if (!this.hi) this.lo = c.seq;
      this.hi = c.seq;
      this.noteFirstRun(c);
      const stream = STREAM_CODE[c.stream] || 'o';
      const recs = chunkLines(this.name, c, this.carry);
      let start = 0;
      const open = this.open[stream];
      if (open && stream !== 't' && recs.length > 0) {
        // The previous chunk of this stream ended mid-line: this chunk's
        // first piece is the rest of that line.
        open.text = applyCR(open.text + recs[0].text);
        open.plain = undefined;
        start = 1;
        this.version++;
      }
      delete this.open[stream];
      for (let i = start; i < recs.length; i++) {
        this.lines.push(recs[i]);
        added.push(recs[i]);
        this.noteRun(recs[i]);
      }
      if (stream !== 't' && c.partial && recs.length > 0)
        this.open[stream] = this.lines[this.lines.length - 1];
    }
    this.finishAppend(added);
    return { added, gap: 0 };
  }

  // Takes the daemon's word that the chunks from..firstAvailable-1 are gone
  // (a stream's "gap" event, or a page's "gap" field): a marker line takes
  // their place and the next chunk expected is firstAvailable. Only a hole
  // right after what is held (or in front of an empty log) is taken; the
  // caller refills anything else from the store. Returns the records added.
  markGap(from, firstAvailable) {
    if (!(firstAvailable > from) || from !== this.hi + 1) return [];
    const prev = this.lines[this.lines.length - 1];
    const rec = gapLine(this.name, from, firstAvailable, prev ? prev.ts : 0);
    if (!this.hi) {
      this.lo = firstAvailable;
      this.floor = firstAvailable - 1;
    }
    this.lines.push(rec);
    this.hi = firstAvailable - 1;
    this.open = {};
    this.version++;
    return [rec];
  }

  // Records the run of a chunk that starts the held range.
  noteFirstRun(c) {
    if (c.run && !this.runs.has(c.run))
      this.runs.set(c.run, { run: c.run, seq: c.seq, ts: c.ts, pid: null,
        exit: null });
  }

  // Bumps the version and enforces the bound after an append.
  finishAppend(added) {
    if (added.length === 0) return;
    this.version++;
    const over = this.lines.length - this.maxLines;
    if (over > 0) {
      // Drop whole chunks from the front, so that lo stays a chunk boundary.
      let cut = over;
      while (cut < this.lines.length &&
             this.lines[cut].seq === this.lines[cut - 1].seq) cut++;
      this.lines.splice(0, cut);
      this.trimmed += cut;
      this.lo = this.lines.length ? this.lines[0].seq : this.hi + 1;
    }
  }

  // Prepends older chunks (oldest first, all with seq < lo and contiguous up
  // to lo - 1). A partial line at the end of the batch is joined with the
  // first held line of the same stream. gap ({from, first_available}, from
  // the page) says that what comes before them was rotated away: a marker
  // goes on top. Returns the records added.
  prepend(chunks, reachedStart, gap) {
    const fresh = chunks.filter((c) => !this.lo || c.seq < this.lo);
    if (reachedStart || gap) this.floor = fresh.length ? fresh[0].seq - 1
      : Math.max(0, this.lo - 1);
    if (gap && this.lo && !(this.lines[0] && this.lines[0].ev &&
        this.lines[0].ev.event === 'gap')) {
      const first = fresh.length ? fresh[0].seq : this.lo;
      if (first > gap.from) {
        const top = fresh.length ? fresh[0] : this.lines[0];
        const rec = gapLine(this.name, gap.from, first, top ? top.ts : 0);
        const recs = fresh.length ? this.prepend(fresh, false) : [];
        this.lines.unshift(rec);
        this.version++;
        return [rec, ...recs];
      }
    }
    if (fresh.length === 0) return [];
    if (!this.hi) return this.append(fresh).added;
    const carry = {};
    const recs = [];
    const open = {};
    for (const c of fresh) {
      const stream = STREAM_CODE[c.stream] || 'o';
      const lines = chunkLines(this.name, c, carry);
      let start = 0;
      if (open[stream] && stream !== 't' && lines.length) {
        open[stream].text = applyCR(open[stream].text + lines[0].text);
        open[stream].plain = undefined;
        start = 1;
      }
      delete open[stream];
      for (let i = start; i < lines.length; i++) recs.push(lines[i]);
      if (stream !== 't' && c.partial && lines.length)
        open[stream] = recs[recs.length - 1];
    }
    // A line left open at the end continues in the first held line of its
    // stream, when that line comes from the chunk right after the batch.
    for (const stream in open) {
      const first = this.lines.find((l) => l.stream === stream);
      if (first && first.seq === this.lo) {
        first.text = applyCR(open[stream].text + first.text);
        first.plain = undefined;
        recs.splice(recs.indexOf(open[stream]), 1);
      }
    }
    for (const r of recs) this.noteRun(r);
    this.lines = recs.concat(this.lines);
    this.lo = fresh[0].seq;
    this.version++;
    return recs;
  }

  // Forgets every line (used when the daemon's log was reset behind us).
  clear() {
    this.lines = [];
    this.lo = this.hi = this.floor = 0;
    this.carry = {};
    this.open = {};
    this.runs = new Map();
    this.version++;
  }

  // Runs known, oldest first.
  runList() {
    return [...this.runs.values()].sort((a, b) => a.run - b.run);
  }
}

// Merges several runners' line arrays into one, ordered by timestamp while
// keeping each runner's own order (a k-way merge on ts). Ties go to the
// runner listed first, so config order decides between equal times.
export function mergeLogs(arrays) {
  const k = arrays.length;
  let total = 0;
  for (const a of arrays) total += a.length;
  const out = new Array(total);
  const pos = new Array(k).fill(0);
  for (let n = 0; n < total; n++) {
    let best = -1;
    let bestTs = Infinity;
    for (let i = 0; i < k; i++) {
      const p = pos[i];
      if (p < arrays[i].length && arrays[i][p].ts < bestTs) {
        best = i;
        bestTs = arrays[i][p].ts;
      }
    }
    out[n] = arrays[best][pos[best]++];
  }
  return out;
}

// Builds a line matcher from the filter box's text: "/re/flags" is a regular
// expression, anything else a substring (case-insensitive unless it has an
// upper-case letter). Returns {test(s), ranges(s) -> [[start, end], ...],
// error} or null for an empty query.
export function makeMatcher(query) {
  if (!query) return null;
  const m = /^\/(.*)\/([a-z]*)$/s.exec(query);
  if (m && m[1] !== '') {
    let re;
    try {
      const flags = m[2].replace(/[gy]/g, '');
      re = new RegExp(m[1], flags);
    } catch (e) {
      return { test: () => true, ranges: () => [], error: String(e.message) };
    }
    const gre = new RegExp(re.source, re.flags + 'g');
    return {
      error: null,
      test: (s) => re.test(s),
      ranges: (s) => {
        const out = [];
        gre.lastIndex = 0;
        let r;
        while ((r = gre.exec(s)) !== null) {
          if (r[0] === '') {
            gre.lastIndex++;
            continue;
          }
          out.push([r.index, r.index + r[0].length]);
          if (out.length > 1000) break;
        }
        return out;
      },
    };
  }
  const sensitive = /[A-Z]/.test(query);
  const needle = sensitive ? query : query.toLowerCase();
  const norm = (s) => (sensitive ? s : s.toLowerCase());
  return {
    error: null,
    test: (s) => norm(s).includes(needle),
    ranges: (s) => {
      const h = norm(s);
      const out = [];
      let i = h.indexOf(needle);
      while (i >= 0 && out.length <= 1000) {
        out.push([i, i + needle.length]);
        i = h.indexOf(needle, i + needle.length);
      }
      return out;
    },
  };
}

// Returns the lines of src that match (all of them with no matcher). Marker
// lines always stay, so runs remain visible while filtering.
export function filterLines(src, matcher) {
  if (!matcher) return src;
  const out = [];
  for (const l of src) if (l.stream === 't' || matcher.test(plainOf(l)))
    out.push(l);
  return out;
}

// Splits styled spans ([{text, style}]) at match ranges of the whole line's
// plain text, marking the pieces inside a match: [{text, style, hit}].
export function markRanges(spans, ranges) {
  if (!ranges || ranges.length === 0) return spans;
  const out = [];
  let off = 0;
  let ri = 0;
  for (const sp of spans) {
    let t = sp.text;
    let start = off;
    const end = off + t.length;
    while (t.length > 0) {
      while (ri < ranges.length && ranges[ri][1] <= start) ri++;
      if (ri >= ranges.length || ranges[ri][0] >= end) {
        out.push({ text: t, style: sp.style, hit: false });
        break;
      }
      const [a, b] = ranges[ri];
      if (a > start) {
        out.push({ text: t.slice(0, a - start), style: sp.style, hit: false });
        t = t.slice(a - start);
        start = a;
      }
      const len = Math.min(b, end) - start;
      out.push({ text: t.slice(0, len), style: sp.style, hit: true });
      t = t.slice(len);
      start += len;
    }
    off = end;
  }
  return out;
}

// Formats a timestamp (unix ms) as local HH:MM:SS.mmm.
export function fmtTime(ts) {
  const d = new Date(ts);
  const p = (v, n = 2) => String(v).padStart(n, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.` +
    p(d.getMilliseconds(), 3);
}

// Formats a duration in ms compactly: 45s, 12m3s, 5h2m, 3d4h.
export function fmtDuration(ms) {
  if (ms < 0 || !Number.isFinite(ms)) return '';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${m % 60}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}
