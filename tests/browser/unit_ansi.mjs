// Unit tests of ui/web/ansi.js: SGR parsing, stripping, style rendering.
import { test, assert } from './harness.mjs';
import { parse, strip, styleRender, paletteColor, endState, sameStyle } from
  '../../ui/web/ansi.js';

const texts = (r) => r.spans.map((s) => s.text);

test('ansi: plain text is one unstyled span', () => {
  const r = parse('hello world');
  assert.deepEqual(texts(r), ['hello world']);
  assert.equal(r.spans[0].style, null);
  assert.equal(r.end, null);
  assert.deepEqual(parse('').spans, []);
});

test('ansi: 16 colours, bright colours and reset', () => {
  const r = parse('a\x1b[31mred\x1b[0m b\x1b[92mgreen\x1b[39m c');
  assert.deepEqual(texts(r), ['a', 'red', ' b', 'green', ' c']);
  assert.equal(r.spans[1].style.fg, 1);
  assert.equal(r.spans[2].style, null);
  assert.equal(r.spans[3].style.fg, 10);
  assert.equal(r.spans[4].style, null);
  assert.equal(r.end, null);
});

test('ansi: 256 colours and truecolor, semicolon and colon forms', () => {
  let r = parse('\x1b[38;5;196mx\x1b[48;5;21my');
  assert.equal(r.spans[0].style.fg, 196);
  assert.equal(r.spans[1].style.bg, 21);
  assert.equal(r.spans[1].style.fg, 196);
  r = parse('\x1b[38;2;255;128;0mo\x1b[48:2::1:2:3mp');
  assert.equal(r.spans[0].style.fg, '#ff8000');
  assert.equal(r.spans[1].style.bg, '#010203');
  r = parse('\x1b[38:5:46mq');
  assert.equal(r.spans[0].style.fg, 46);
  assert.equal(paletteColor(196), '#ff0000');
  assert.equal(paletteColor(16), '#000000');
  assert.equal(paletteColor(231), '#ffffff');
  assert.equal(paletteColor(232), '#080808');
  assert.equal(paletteColor(255), '#eeeeee');
});

test('ansi: attributes set and cleared', () => {
  const r = parse('\x1b[1;3;4;7;9mA\x1b[22;23mB\x1b[24;27;29mC');
  const [a, b, c] = r.spans.map((s) => s.style);
  assert.ok(a.bold && a.italic && a.underline && a.inverse && a.strike);
  assert.ok(!b.bold && !b.italic && b.underline && b.inverse);
  assert.equal(c, null);
  assert.equal(r.end, null);
  assert.equal(parse('\x1b[2mdim').spans[0].style.dim, true);
  assert.equal(parse('\x1b[53mo').spans[0].style.overline, true);
});

test('ansi: state carries over to the next line', () => {
  const a = parse('\x1b[33mstart');
  assert.equal(a.end.fg, 3);
  const b = parse('middle', a.end);
  assert.equal(b.spans[0].style.fg, 3);
  const c = parse('x\x1b[mend', b.end);
  assert.equal(c.spans[1].style, null);
  assert.equal(c.end, null);
  assert.equal(endState('no escapes', a.end), a.end);
  assert.ok(sameStyle(endState('\x1b[33m'), a.end));
});

test('ansi: other escapes and controls are stripped', () => {
  assert.equal(strip('\x1b[2K\x1b[1Gprogress \x1b[?25lhidden\x1b[?25h'),
    'progress hidden');
  assert.equal(strip('\x1b]0;title\x07text'), 'text');
  assert.equal(strip('\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\'), 'link');
  assert.equal(strip('\x1b(Bcharset\x1b7\x1b8'), 'charset');
  assert.equal(strip('a\x00b\x08c\x7fd\te'), 'abcd\te');
  assert.equal(strip('\x1b[31mred\x1b[0m'), 'red');
  assert.equal(strip('trailing\x1b['), 'trailing');
  assert.equal(strip('\x9b31mC1'), 'C1');
  // A private-mode "m" sequence is not SGR.
  assert.deepEqual(parse('\x1b[>4;2mx').spans[0].style, null);
});

test('ansi: styleRender gives classes and explicit colours', () => {
  assert.deepEqual(styleRender(null), { cls: [], fg: null, bg: null });
  const s = parse('\x1b[1;31;48;5;100mx').spans[0].style;
  const r = styleRender(s);
  assert.ok(r.cls.includes('a-f1'));
  assert.ok(r.cls.includes('a-bold'));
  assert.equal(r.bg, paletteColor(100));
  const inv = styleRender(parse('\x1b[7mx').spans[0].style);
  assert.ok(inv.cls.includes('a-fgi') && inv.cls.includes('a-bgi'));
  const inv2 = styleRender(parse('\x1b[7;32mx').spans[0].style);
  assert.ok(inv2.cls.includes('a-b2') && inv2.cls.includes('a-fgi'));
  const tc = styleRender(parse('\x1b[38;2;1;2;3mx').spans[0].style);
  assert.equal(tc.fg, '#010203');
});

test('ansi: malformed extended colours do not throw or leak', () => {
  assert.equal(parse('\x1b[38;5mx').spans[0].style, null);
  assert.equal(parse('\x1b[38;2;1;2mx').spans[0].style, null);
  assert.equal(parse('\x1b[38;5;999mx').spans[0].style, null);
  assert.equal(strip('\x1b[38;5;999mx'), 'x');
});

test('ansi: endState fast path agrees with a full parse', () => {
  const red = parse('\x1b[31m').end;
  const cases = ['a\x1b[0m', 'a\x1b[mtail', '\x1b[31mx\x1b[0m y',
    'x\x1b[0m\x1b[32m', 'x\x1b[0;31m', '\x1b[1m', 'plain', '\x1b[0mz\x9b31m',
    'x\x1b[0m\x1b[2K'];
  for (const c of cases) for (const st of [null, red])
    assert.ok(sameStyle(endState(c, st), parse(c, st).end), JSON.stringify(c));
});
