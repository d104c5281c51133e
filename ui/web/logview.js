// logview: a virtualised view of output lines. Only the rows in (and a little
// around) the viewport exist in the DOM, every row has the same height, and
// a spacer gives the scroll area the height of all lines, so 100 000 lines
// cost the same to show as 100. Rows are built with DOM calls (textContent,
// classList, element.style), never HTML strings: output is untrusted text and
// the page's CSP forbids inline style attributes anyway.
//
// The view follows the end of the output until the user scrolls up; the
// owner is told through onFollow(bool) and offers a way back (follow()).
// When the user nears the top, onNearTop() asks the owner for older lines.

import { parse, styleRender } from './ansi.js';
import { plainOf, markRanges, fmtTime } from './lines.js';

const OVERSCAN = 20;

export class LogView {
  constructor(scroller, spacer, rowsEl, opts) {
    this.sc = scroller;
    this.spacer = spacer;
    this.rowsEl = rowsEl;
    this.opts = opts;
    this.lines = [];
    this.following = true;
    this.rowH = 18;
    this.first = -1;
    this.last = -1;
    this.ctxGen = 0;
    this.cache = new WeakMap();
    this.ctx = { matcher: null, timestamps: false, multi: false,
      nameClass: () => '' };
    this.raf = 0;
    this.dirty = true;
    this.lastTop = 0;
    this.highlight = null;
    this.sc.addEventListener('scroll', () => this.onScroll(), { passive: true });
    if (typeof ResizeObserver !== 'undefined')
      new ResizeObserver(() => this.schedule()).observe(this.sc);
    this.measure();
  }

  // Reads the row height from CSS (one probe row), so the theme decides it.
  measure() {
    const probe = document.createElement('div');
    probe.className = 'row';
    probe.textContent = 'M';
    this.rowsEl.appendChild(probe);
    const h = probe.getBoundingClientRect().height;
    probe.remove();
    if (h > 0) this.rowH = h;
  }

  // Changes how rows render (filter highlight, timestamps, name prefixes).
  setContext(ctx) {
    Object.assign(this.ctx, ctx);
    this.ctxGen++;
    this.dirty = true;
    this.schedule();
  }

  // Replaces the lines shown. When not following, the line at the top of the
  // viewport stays where it is (by identity), so scroll-back loading,
  // trimming and filtering never make the text jump.
  setLines(lines, { keepAnchor = true } = {}) {
    let anchor = null;
    let offset = 0;
    if (keepAnchor && !this.following && this.lines.length) {
      const top = this.sc.scrollTop;
      const i = Math.min(this.lines.length - 1, Math.floor(top / this.rowH));
      anchor = this.lines[i];
      offset = top - i * this.rowH;
    }
    this.lines = lines;
    this.dirty = true;
    this.applyHeight();
    if (!keepAnchor) this.setFollowing(true);
    if (anchor) {
      const j = lines.indexOf(anchor);
      if (j >= 0) this.setTop(j * this.rowH + offset);
    }
    this.render();
  }

  // Tells the view that lines were pushed to the end of the same array, or
  // that visible lines changed in place (a partial line completed).
  appended() {
    this.dirty = true;
    this.schedule();
  }

  // Sets the spacer's height to the height of every line.
  applyHeight() {
    this.spacer.style.height = `${this.lines.length * this.rowH}px`;
  }

  // Scrolls programmatically, remembering the position so the scroll handler
  // does not take it for the user scrolling up.
  setTop(top) {
    this.sc.scrollTop = top;
    this.lastTop = this.sc.scrollTop;
  }

  // Renders on the next animation frame (coalescing bursts of chunks).
  schedule() {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.applyHeight();
      this.render();
    });
  }

  // Follows the end of the output again and scrolls there.
  follow() {
    this.setFollowing(true);
    this.applyHeight();
    this.setTop(this.sc.scrollHeight);
    this.render();
  }

  // Records the follow mode and tells the owner when it changes.
  setFollowing(v) {
    if (this.following === v) return;
    this.following = v;
    if (this.opts.onFollow) this.opts.onFollow(v);
  }

  // Scrolls to line index i (placed near the top) and stops following.
  scrollToIndex(i, flash = false) {
    this.setFollowing(false);
    this.applyHeight();
    this.setTop(Math.max(0, i * this.rowH - 2 * this.rowH));
    this.highlight = flash ? this.lines[i] : null;
    this.dirty = true;
    this.render();
  }

  // The user scrolled: update follow mode, render, maybe ask for older lines.
  onScroll() {
    const top = this.sc.scrollTop;
    const atBottom = top + this.sc.clientHeight >= this.sc.scrollHeight -
      this.rowH * 1.5;
    if (atBottom) this.setFollowing(true);
    else if (top < this.lastTop - 1) this.setFollowing(false);
    this.lastTop = top;
    this.render();
    if (top < this.rowH * 20 && this.opts.onNearTop) this.opts.onNearTop();
  }

  // Builds or reuses the rows for the visible range. Rows that stay visible
  // keep their DOM nodes (only the edges change), so a text selection
  // survives scrolling and live appends.
  render() {
    const n = this.lines.length;
    if (this.following) {
      const target = Math.max(0, n * this.rowH - this.sc.clientHeight);
      if (Math.abs(this.sc.scrollTop - target) > 1) this.setTop(target);
    }
    const top = this.sc.scrollTop;
    const vis = Math.ceil(this.sc.clientHeight / this.rowH) + 1;
    const first = Math.max(0, Math.floor(top / this.rowH) - OVERSCAN);
    const last = Math.min(n, Math.floor(top / this.rowH) + vis + OVERSCAN);
    if (!this.dirty && first === this.first && last === this.last) return;
    this.dirty = false;
    const want = [];
    for (let i = first; i < last; i++) want.push(this.row(this.lines[i]));
    const keep = new Set(want);
    for (const child of Array.from(this.rowsEl.children))
      if (!keep.has(child)) child.remove();
    let ref = this.rowsEl.firstChild;
    for (const el of want) {
      if (el === ref) {
        ref = ref.nextSibling;
        continue;
      }
      this.rowsEl.insertBefore(el, ref);
    }
    this.rowsEl.style.transform = `translateY(${first * this.rowH}px)`;
    this.first = first;
    this.last = last;
    if (this.opts.onRender) this.opts.onRender(n);
  }

  // Returns the row element of a line, from the cache when still valid.
  row(line) {
    const c = this.cache.get(line);
    if (c && c.gen === this.ctxGen && c.text === line.text &&
        c.hl === (this.highlight === line))
      return c.el;
    const el = this.build(line);
    this.cache.set(line, { el, gen: this.ctxGen, text: line.text,
      hl: this.highlight === line });
    return el;
  }

  // Builds one row: optional timestamp, optional runner name, the text.
  build(line) {
    const ctx = this.ctx;
    const el = document.createElement('div');
    el.className = 'row';
    el.dataset.seq = line.seq;
    el.dataset.name = line.name;
    if (line.stream === 'e') el.classList.add('err');
    if (this.highlight === line) el.classList.add('flash');
    if (ctx.timestamps) {
      const ts = document.createElement('span');
      ts.className = 'ts';
      ts.textContent = fmtTime(line.ts);
      el.appendChild(ts);
    }
    if (ctx.multi) {
      const nm = document.createElement('span');
      nm.className = 'nm ' + ctx.nameClass(line.name);
      nm.textContent = line.name;
      el.appendChild(nm);
    }
    const tx = document.createElement('span');
    tx.className = 'tx';
    if (line.stream === 't') {
      el.classList.add('mk');
      const ev = line.ev && line.ev.event;
      el.classList.add(ev === 'exit' ? 'mk-exit' : ev === 'gap' ? 'mk-gap'
        : 'mk-start');
      if (ev !== 'gap') {
        const lab = document.createElement('span');
        lab.className = 'mk-run';
        lab.textContent = `run ${line.run}`;
        tx.appendChild(lab);
        tx.appendChild(document.createTextNode(' '));
      }
      tx.appendChild(document.createTextNode(line.text));
      el.appendChild(tx);
      return el;
    }
    const spans = parse(line.text, line.st).spans;
    const ranges = ctx.matcher ? ctx.matcher.ranges(plainOf(line)) : null;
    for (const sp of markRanges(spans, ranges)) {
      let node;
      const r = styleRender(sp.style);
      if (r.cls.length || r.fg || r.bg || sp.hit) {
        node = document.createElement(sp.hit ? 'mark' : 'span');
        for (const c of r.cls) node.classList.add(c);
        if (r.fg) node.style.color = r.fg;
        if (r.bg) node.style.backgroundColor = r.bg;
        node.textContent = sp.text;
      } else node = document.createTextNode(sp.text);
      tx.appendChild(node);
    }
    el.appendChild(tx);
    return el;
  }

  // Returns the index range of lines currently in the DOM.
  visibleRange() {
    return [this.first, this.last];
  }
}
