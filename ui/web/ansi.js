// ansi: a pure parser for the terminal escapes found in program output.
//
// SGR sequences (ESC [ ... m) become styled spans: 16 colours, the 256-colour
// palette (38;5;N) and truecolor (38;2;R;G;B, also the colon forms), bold,
// dim, italic, underline, blink, inverse, hidden, strike, overline. Every other
// escape (cursor moves, erase, OSC titles and hyperlinks, charset selection,
// DCS/APC strings) and every C0 control except TAB is stripped, so what the
// user sees and copies is plain text. The style state carries over from one
// line to the next, like a terminal; callers pass the state in and get the
// state at the end of the line out. No DOM here: the functions are pure and
// tested under node (tests/browser/unit_ansi.mjs).

// The default state is null, so that the common case (a line with no escapes
// after a reset) costs nothing to store. A non-null state is a frozen object.
const EMPTY = Object.freeze({
  fg: null, bg: null, bold: false, dim: false, italic: false,
  underline: false, blink: false, inverse: false, hidden: false,
  strike: false, overline: false,
});

// Returns true when s holds an escape or control character worth parsing.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\x00-\x08\x0b-\x1f\x7f\x9b]/;
export function hasControls(s) {
  return CONTROL_RE.test(s);
}

// Returns a state with no attribute set as null, else the (frozen) state.
function normalize(st) {
  for (const k in EMPTY) if (st[k] !== EMPTY[k]) return Object.freeze(st);
  return null;
}

// Returns the hex colour (#rrggbb) of entry n (16..255) of the xterm palette.
export function paletteColor(n) {
  let r, g, b;
  if (n < 232) {
    const i = n - 16;
    const level = (v) => (v === 0 ? 0 : 55 + v * 40);
    r = level(Math.floor(i / 36));
    g = level(Math.floor(i / 6) % 6);
    b = level(i % 6);
  } else {
    r = g = b = 8 + (n - 232) * 10;
  }
  return '#' + [r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('');
}

// Parses an extended colour (38/48/58) starting at params[i]; returns
// [colour or undefined, number of params consumed after the 38/48].
function extendedColor(params, i) {
  const mode = params[i + 1];
  if (mode === 5) {
    const n = params[i + 2];
    if (n === undefined || n < 0 || n > 255) return [undefined, 2];
    return [n, 2];
  }
  if (mode === 2) {
    const [r, g, b] = [params[i + 2], params[i + 3], params[i + 4]];
    if ([r, g, b].some((v) => v === undefined || v < 0 || v > 255))
      return [undefined, 4];
    const hex = '#' + [r, g, b].map((v) => v.toString(16).padStart(2, '0'))
      .join('');
    return [hex, 4];
  }
  return [undefined, 1];
}

// Splits the parameter string of an SGR sequence into numbers. Colon
// sub-parameters (38:2::R:G:B, 38:5:N, 4:3) are flattened to the semicolon
// form; the colour-space id of 38:2:ID:R:G:B is dropped.
function sgrParams(p) {
  if (p === '') return [0];
  const out = [];
  for (const part of p.split(';')) {
    if (part.includes(':')) {
      const sub = part.split(':').map((v) => (v === '' ? 0 : parseInt(v, 10)));
      if ((sub[0] === 38 || sub[0] === 48 || sub[0] === 58) && sub[1] === 2 &&
          sub.length >= 6)
        out.push(sub[0], 2, sub[3], sub[4], sub[5]);
      else if (sub[0] === 4)
        out.push(sub[1] === 0 ? 24 : 4);
      else out.push(...sub);
    } else {
      out.push(part === '' ? 0 : parseInt(part, 10));
    }
  }
  return out;
}

// Applies one SGR parameter list to state st (a mutable copy); returns st.
export function applySgr(st, p) {
  const params = sgrParams(p);
  for (let i = 0; i < params.length; i++) {
    const c = params[i];
    if (c === 0 || Number.isNaN(c)) Object.assign(st, EMPTY);
    else if (c === 1) st.bold = true;
    else if (c === 2) st.dim = true;
    else if (c === 3) st.italic = true;
    else if (c === 4) st.underline = true;
    else if (c === 5 || c === 6) st.blink = true;
    else if (c === 7) st.inverse = true;
    else if (c === 8) st.hidden = true;
    else if (c === 9) st.strike = true;
    else if (c === 21) st.underline = true;
    else if (c === 22) st.bold = st.dim = false;
    else if (c === 23) st.italic = false;
    else if (c === 24) st.underline = false;
    else if (c === 25) st.blink = false;
    else if (c === 27) st.inverse = false;
    else if (c === 28) st.hidden = false;
    else if (c === 29) st.strike = false;
    else if (c >= 30 && c <= 37) st.fg = c - 30;
    else if (c === 38) {
      const [col, used] = extendedColor(params, i);
      if (col !== undefined) st.fg = col;
      i += used;
    } else if (c === 39) st.fg = null;
    else if (c >= 40 && c <= 47) st.bg = c - 40;
    else if (c === 48) {
      const [col, used] = extendedColor(params, i);
      if (col !== undefined) st.bg = col;
      i += used;
    } else if (c === 49) st.bg = null;
    else if (c === 53) st.overline = true;
    else if (c === 55) st.overline = false;
    else if (c === 58) i += extendedColor(params, i)[1]; // underline colour
    else if (c >= 90 && c <= 97) st.fg = c - 90 + 8;
    else if (c >= 100 && c <= 107) st.bg = c - 100 + 8;
  }
  return st;
}

// Scans one escape sequence starting at s[i] (ESC or the C1 CSI U+009B);
// returns {end, sgr} where end is the index after it and sgr the SGR
// parameter string when it was an SGR sequence, else null.
function scanEscape(s, i) {
  const n = s.length;
  let j;
  if (s.charCodeAt(i) === 0x9b) j = i + 1;
  else {
    if (i + 1 >= n) return { end: n, sgr: null };
    const k = s[i + 1];
    if (k === '[') j = i + 2;
    else if (k === ']' || k === 'P' || k === '_' || k === '^' || k === 'X') {
      // OSC / DCS / APC / PM / SOS: a string up to BEL or ST (ESC \).
      for (j = i + 2; j < n; j++) {
        const c = s.charCodeAt(j);
        if (c === 0x07) return { end: j + 1, sgr: null };
        if (c === 0x1b && s[j + 1] === '\\') return { end: j + 2, sgr: null };
        if (c === 0x9c) return { end: j + 1, sgr: null };
      }
      return { end: n, sgr: null };
    } else {
      // ESC + intermediates (0x20-0x2f) + one final byte: "ESC ( B", "ESC 7".
      j = i + 1;
      while (j < n && s.charCodeAt(j) >= 0x20 && s.charCodeAt(j) <= 0x2f) j++;
      return { end: Math.min(j + 1, n), sgr: null };
    }
  }
  // CSI: parameter bytes 0x30-0x3f, intermediates 0x20-0x2f, final 0x40-0x7e.
  const start = j;
  while (j < n && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x3f) j++;
  const paramEnd = j;
  while (j < n && s.charCodeAt(j) >= 0x20 && s.charCodeAt(j) <= 0x2f) j++;
  if (j >= n) return { end: n, sgr: null };
  const fin = s[j];
  const params = s.slice(start, paramEnd);
  const isSgr = fin === 'm' && paramEnd === j && !/[<=>?]/.test(params);
  return { end: j + 1, sgr: isSgr ? params : null };
}

// Parses one line. state is the style in force at its start (null for
// default). Returns {spans: [{text, style}], end} with style null or a frozen
// state object and end the style in force after the line.
export function parse(s, state = null) {
  if (!hasControls(s))
    return { spans: s === '' ? [] : [{ text: s, style: state }], end: state };
  const spans = [];
  let cur = state;
  let buf = '';
  const flush = () => {
    if (buf !== '') {
      const last = spans[spans.length - 1];
      if (last && last.style === cur) last.text += buf;
      else spans.push({ text: buf, style: cur });
      buf = '';
    }
  };
  let i = 0;
  let runStart = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x1b || c === 0x9b) {
      buf += s.slice(runStart, i);
      const { end, sgr } = scanEscape(s, i);
      if (sgr !== null) {
        const next = normalize(applySgr({ ...(cur || EMPTY) }, sgr));
        if (!sameStyle(next, cur)) {
          flush();
          cur = next;
        }
      }
      i = runStart = end;
    } else if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      buf += s.slice(runStart, i);
      i = runStart = i + 1;
    } else i++;
  }
  buf += s.slice(runStart, n);
  flush();
  return { spans, end: cur };
}

// Returns true when two states (null or frozen objects) render the same.
export function sameStyle(a, b) {
  if (a === b) return true;
  const x = a || EMPTY;
  const y = b || EMPTY;
  for (const k in EMPTY) if (x[k] !== y[k]) return false;
  return true;
}

// Returns the state in force after line s, starting from state: the same as
// parse(s, state).end, cheaper when s has no escapes.
// Most coloured lines end with a reset; then the end state is the default
// whatever came before, and the line need not be parsed at all.
const RESET_TAIL = /^\x1b\[0*m[^\x1b\x9b]*$/;
export function endState(s, state = null) {
  const last = s.lastIndexOf('\x1b');
  if (last < 0 && s.indexOf('\x9b') < 0) return state;
  if (last >= 0 && RESET_TAIL.test(s.slice(last))) return null;
  return parse(s, state).end;
}

// Returns s with every escape sequence and control character (except TAB)
// removed: the text a user sees.
export function strip(s) {
  if (!hasControls(s)) return s;
  let out = '';
  for (const sp of parse(s, null).spans) out += sp.text;
  return out;
}

// Returns how a style renders: CSS classes (for the 16 themed colours and the
// attributes) and explicit colours (palette and truecolor, as CSS strings).
// Inverse swaps foreground and background, using the theme's defaults when
// one of them is unset. The caller applies the colours through element.style,
// which the page's Content-Security-Policy allows.
export function styleRender(style) {
  const r = { cls: [], fg: null, bg: null };
  if (!style) return r;
  let fg = style.fg;
  let bg = style.bg;
  if (style.inverse) {
    [fg, bg] = [bg, fg];
    if (fg === null) r.cls.push('a-fgi');
    if (bg === null) r.cls.push('a-bgi');
  }
  const col = (v, pre) => {
    if (v === null) return;
    if (typeof v === 'number' && v < 16) r.cls.push(pre + v);
    else if (typeof v === 'number') r[pre === 'a-f' ? 'fg' : 'bg'] =
      paletteColor(v);
    else r[pre === 'a-f' ? 'fg' : 'bg'] = v;
  };
  col(fg, 'a-f');
  col(bg, 'a-b');
  if (style.bold) r.cls.push('a-bold');
  if (style.dim) r.cls.push('a-dim');
  if (style.italic) r.cls.push('a-it');
  if (style.underline) r.cls.push('a-ul');
  if (style.strike) r.cls.push('a-st');
  if (style.overline) r.cls.push('a-ol');
  if (style.blink) r.cls.push('a-blink');
  if (style.hidden) r.cls.push('a-hid');
  return r;
}
