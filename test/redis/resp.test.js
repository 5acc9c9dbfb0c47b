'use strict';
// The RESP parser and command encoder, pure: every reply type of RESP2 and RESP3, and the
// property that no split of the byte stream into chunks changes what is parsed.
const test = require('node:test');
const assert = require('node:assert/strict');
const fc = require('fast-check');
const { RespParser, encodeCommand, CommandEncoder } = require('evloop/internal');
const { RedisError } = require('evloop');

function collect(options = {}) {
  const out = [];
  const parser = new RespParser({
    onReply: (v) => out.push({ reply: v }),
    onError: (e) => out.push({ error: e.message, code: e.code }),
    onPush: (v) => out.push({ push: v }),
    ...options,
  });
  return { parser, out };
}

function parseAll(bytes, cuts = [], options) {
  const { parser, out } = collect(options);
  const buf = Buffer.from(bytes);
  let last = 0;
  for (const c of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (c <= last || c >= buf.length) continue;
    parser.feed(buf.subarray(last, c));
    last = c;
  }
  parser.feed(buf.subarray(last));
  assert.equal(parser.partial, false);
  return out;
}

test('RESP2 scalars: simple strings, errors, integers, bulk strings, null bulk', () => {
  const out = parseAll('+OK\r\n+hello world\r\n-ERR unknown command\r\n:0\r\n:-42\r\n:1234567890123\r\n$4\r\nhé!\r\n$0\r\n\r\n$-1\r\n');
  assert.deepEqual(out, [
    { reply: 'OK' }, { reply: 'hello world' },
    { error: 'ERR unknown command', code: 'ERR' },
    { reply: 0 }, { reply: -42 }, { reply: 1234567890123 },
    { reply: 'hé!' }, { reply: '' }, { reply: null },
  ]);
});

test('RESP2 arrays: nested, empty, null, with an error element that stays a value', () => {
  const out = parseAll('*3\r\n:1\r\n*2\r\n$1\r\na\r\n-WRONGTYPE bad\r\n*0\r\n*-1\r\n');
  assert.equal(out.length, 2);
  const [a, b] = out;
  assert.equal(a.reply[0], 1);
  assert.equal(a.reply[1][0], 'a');
  assert.ok(a.reply[1][1] instanceof RedisError);
  assert.equal(a.reply[1][1].code, 'WRONGTYPE');
  assert.deepEqual(a.reply[2], []);
  assert.deepEqual(b, { reply: null });
});

test('RESP3 types: null, booleans, doubles, big numbers, verbatim, blob error, map, set, attribute, push', () => {
  const out = parseAll(
    '_\r\n#t\r\n#f\r\n,3.25\r\n,inf\r\n,-inf\r\n,nan\r\n(3492890328409238509324850943850943825024385\r\n' +
      '=15\r\ntxt:Some string\r\n!21\r\nSYNTAX invalid syntax\r\n%2\r\n+a\r\n:1\r\n$1\r\nb\r\n*1\r\n:2\r\n' +
      '~2\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n$3\r\nval\r\n>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n' +
      '%1\r\n*1\r\n:1\r\n:2\r\n%0\r\n|0\r\n>0\r\n',
  );
  assert.equal(out[0].reply, null);
  assert.equal(out[1].reply, true);
  assert.equal(out[2].reply, false);
  assert.equal(out[3].reply, 3.25);
  assert.equal(out[4].reply, Infinity);
  assert.equal(out[5].reply, -Infinity);
  assert.ok(Number.isNaN(out[6].reply));
  assert.equal(out[7].reply, 3492890328409238509324850943850943825024385n);
  assert.equal(out[8].reply, 'Some string');
  assert.deepEqual(out[9], { error: 'SYNTAX invalid syntax', code: 'SYNTAX' });
  assert.deepEqual(out[10].reply, { a: 1, b: [2] });
  assert.deepEqual(out[11].reply, [1, 2]);
  assert.deepEqual(out[12].reply, 'val'); // the attribute is metadata, the value follows alone
  assert.deepEqual(out[13].push, ['message', 'ch', 'hi']);
  assert.deepEqual(out[14].reply, [[1], 2]); // a map with a non-string key keeps its pairs
  assert.deepEqual(out[15].reply, {});
  assert.deepEqual(out[16].push, []);
  assert.equal(out.length, 17);
});

test('returnBuffers: bulk strings as copies, simple strings stay strings', () => {
  const chunk = Buffer.from('$3\r\nabc\r\n+OK\r\n');
  const out = parseAll(chunk, [], { returnBuffers: true });
  assert.ok(Buffer.isBuffer(out[0].reply));
  assert.deepEqual(out[0].reply, Buffer.from('abc'));
  assert.equal(out[1].reply, 'OK');
});

test('a bulk string split across many chunks is joined once and exactly', () => {
  const body = Buffer.alloc(300_000, 'x');
  body[123_456] = 0x0d; // CR and LF inside a bulk are data
  body[123_457] = 0x0a;
  const bytes = Buffer.concat([Buffer.from(`*2\r\n$${body.length}\r\n`), body, Buffer.from('\r\n:7\r\n')]);
  const cuts = [];
  for (let i = 1; i < bytes.length; i += 4093) cuts.push(i);
  const out = parseAll(bytes, cuts, { returnBuffers: true });
  assert.equal(out.length, 1);
  assert.ok(out[0].reply[0].equals(body));
  assert.equal(out[0].reply[1], 7);
});

test('bytes that are not RESP throw ERR_REDIS_PROTOCOL, and the parser stays broken', () => {
  for (const bad of ['?x\r\n', ':12a\r\n', '$3\r\nabcd\r\n', '+OK\rX', '*-2\r\n', ',notanumber\r\n', '(12x\r\n', ':\r\n']) {
    const { parser } = collect();
    assert.throws(() => parser.feed(Buffer.from(bad)), { name: 'RedisConnectionError', code: 'ERR_REDIS_PROTOCOL' }, bad);
    assert.throws(() => parser.feed(Buffer.from('+OK\r\n')), { code: 'ERR_REDIS_PROTOCOL' });
    parser.reset();
    parser.feed(Buffer.from('+OK\r\n'));
  }
});

test('reset() drops a partial reply', () => {
  const { parser, out } = collect();
  parser.feed(Buffer.from('*2\r\n:1\r\n$10\r\nabc'));
  assert.equal(parser.partial, true);
  parser.reset();
  assert.equal(parser.partial, false);
  parser.feed(Buffer.from(':5\r\n'));
  assert.deepEqual(out, [{ reply: 5 }]);
});

// ---- property: any split of any reply stream parses the same --------------------------------

const text = fc.string({ unit: 'binary', maxLength: 40 });
const line = text.map((s) => s.replace(/[\r\n]/g, ' '));
const resp2 = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    line.map((s) => ({ wire: `+${s}\r\n`, v: s })),
    fc.integer().map((n) => ({ wire: `:${n}\r\n`, v: n })),
    text.map((s) => ({ wire: `$${Buffer.byteLength(s)}\r\n${s}\r\n`, v: s })),
    fc.constant({ wire: '$-1\r\n', v: null }),
    fc.constant({ wire: '*-1\r\n', v: null }),
    fc.constant({ wire: '_\r\n', v: null }),
    fc.boolean().map((b) => ({ wire: `#${b ? 't' : 'f'}\r\n`, v: b })),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => ({ wire: `,${d}\r\n`, v: Object.is(d, -0) ? 0 : d })),
    fc.bigInt().map((b) => ({ wire: `(${b}\r\n`, v: b })),
    fc.array(tie('value'), { maxLength: 5 }).map((xs) => ({ wire: `*${xs.length}\r\n` + xs.map((x) => x.wire).join(''), v: xs.map((x) => x.v) })),
    fc.array(tie('value'), { maxLength: 4 }).map((xs) => ({ wire: `~${xs.length}\r\n` + xs.map((x) => x.wire).join(''), v: xs.map((x) => x.v) })),
    fc.array(fc.tuple(fc.stringMatching(/^[a-z]{1,6}$/), tie('value')), { maxLength: 4 }).map((kvs) => {
      const obj = {};
      let wire = '';
      for (const [k, x] of kvs) {
        if (k in obj) continue;
        obj[k] = x.v;
        wire += `$${k.length}\r\n${k}\r\n${x.wire}`;
      }
      return { wire: `%${Object.keys(obj).length}\r\n${wire}`, v: obj };
    }),
  ),
}));
const topLevel = fc.oneof(
  { weight: 6, arbitrary: resp2.value.map((x) => ({ wire: x.wire, expect: { reply: x.v } })) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,8} [a-z ]{0,20}$/).map((m) => ({ wire: `-${m}\r\n`, expect: { error: m, code: m.split(' ')[0] } })) },
  { weight: 1, arbitrary: fc.array(text, { maxLength: 3 }).map((xs) => ({ wire: `>${xs.length}\r\n` + xs.map((s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`).join(''), expect: { push: xs } })) },
);

test('property: any split into chunks parses to the same replies', () => {
  fc.assert(
    fc.property(fc.array(topLevel, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (replies, rawCuts) => {
      const bytes = Buffer.from(replies.map((r) => r.wire).join(''), 'utf8');
      const cuts = rawCuts.map((c) => c % (bytes.length + 1));
      assert.deepEqual(parseAll(bytes, cuts), replies.map((r) => r.expect));
    }),
    { numRuns: 400 },
  );
});

test('property: byte-at-a-time feeding parses like one chunk', () => {
  fc.assert(
    fc.property(fc.array(topLevel, { minLength: 1, maxLength: 5 }), (replies) => {
      const bytes = Buffer.from(replies.map((r) => r.wire).join(''), 'utf8');
      const cuts = Array.from({ length: bytes.length }, (_, i) => i);
      assert.deepEqual(parseAll(bytes, cuts), replies.map((r) => r.expect));
    }),
    { numRuns: 100 },
  );
});

// ---- the encoder -----------------------------------------------------------------------------

test('encodeCommand: strings (UTF-8 lengths), numbers, bigints, infinities, Buffers and Uint8Arrays', () => {
  assert.equal(encodeCommand(['SET', 'k', 'v']).toString(), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n');
  assert.equal(encodeCommand(['SET', 'é', 'x'.repeat(70) + 'é']).toString(), `*3\r\n$3\r\nSET\r\n$2\r\né\r\n$72\r\n${'x'.repeat(70)}é\r\n`);
  assert.equal(encodeCommand(['INCRBY', 'n', -12, 2n ** 63n - 1n]).toString(), '*4\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$3\r\n-12\r\n$19\r\n9223372036854775807\r\n');
  assert.equal(encodeCommand(['ZADD', 'z', Infinity, 'a', -Infinity, 'b', 1.5, 'c']).toString(),
    '*8\r\n$4\r\nZADD\r\n$1\r\nz\r\n$4\r\n+inf\r\n$1\r\na\r\n$4\r\n-inf\r\n$1\r\nb\r\n$3\r\n1.5\r\n$1\r\nc\r\n');
  const bin = Buffer.from([0, 13, 10, 255]);
  assert.deepEqual(encodeCommand(['SET', bin, new Uint8Array([1, 2])]), Buffer.concat([
    Buffer.from('*3\r\n$3\r\nSET\r\n$4\r\n'), bin, Buffer.from('\r\n$2\r\n'), Buffer.from([1, 2]), Buffer.from('\r\n'),
  ]));
});

test('encoder: bad arguments throw TypeError with a code and leave the batch untouched', () => {
  const enc = new CommandEncoder();
  enc.add(['PING']);
  for (const bad of [null, undefined, {}, [], true, Symbol('s'), () => 1]) {
    assert.throws(() => enc.add(['SET', 'k', bad]), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => enc.add(['SET', Buffer.from('k'), bad]), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  }
  assert.throws(() => enc.add(['SET', 'k', NaN]), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => enc.add([]), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  assert.equal(enc.count, 1);
  assert.equal(enc.take().toString(), '*1\r\n$4\r\nPING\r\n');
  assert.equal(enc.take(), null);
});

test('property: a batch of encoded commands parses back to its arguments, in one Buffer', () => {
  const arg = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 100 }), fc.integer(), fc.uint8Array({ maxLength: 50 }));
  fc.assert(
    fc.property(fc.array(fc.array(arg, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 10 }), (cmds) => {
      const enc = new CommandEncoder();
      for (const c of cmds) enc.add(c);
      const bytes = enc.take();
      assert.ok(Buffer.isBuffer(bytes));
      const out = parseAll(bytes, [], { returnBuffers: true });
      const expected = cmds.map((c) => ({ reply: c.map((a) => (typeof a === 'string' ? Buffer.from(a) : typeof a === 'number' ? Buffer.from(String(a)) : Buffer.from(a))) }));
      assert.deepEqual(out, expected);
    }),
    { numRuns: 300 },
  );
});
