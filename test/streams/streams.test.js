'use strict';
// asyncio's streams (StreamReader, StreamReaderProtocol, StreamWriter, open/start helpers), over
// real sockets on 127.0.0.1 and a Unix path; reader semantics also on bytes fed by hand.
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { types } = require('node:util');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  run,
  getRunningLoop,
  CancelledError,
  TimeoutError,
  waitFor,
  IncompleteReadError,
  LimitOverrunError,
  Future,
  StreamReader,
  StreamReaderProtocol,
  StreamWriter,
  openConnection,
  startServer,
  openUnixConnection,
  startUnixServer,
} = require('evloop');

const isFuture = (x) => x instanceof Future;

/** A reader fed by hand: `feed('a', 'b')` appends each piece as its own chunk. */
function handReader(opts) {
  const reader = new StreamReader(opts);
  const feed = (...pieces) => {
    for (const p of pieces) reader.feedData(Buffer.from(p));
  };
  return { reader, feed };
}

/** Asserts that `fut` (a Future) rejects with an error matching `check`. */
async function rejects(fut, check) {
  assert.ok(isFuture(fut), 'stream operations return Futures');
  await assert.rejects(Promise.resolve().then(() => fut), check);
}

/** A server whose client callback is `onClient`; resolves to { server, port, clients } where clients yields the server-side pairs. */
async function serve(onClient, opts) {
  const loop = getRunningLoop();
  const queue = [];
  const waiters = [];
  const server = await startServer(
    (reader, writer) => {
      const pair = { reader, writer };
      const w = waiters.shift();
      if (w) w.setResult(pair);
      else queue.push(pair);
      return onClient?.(reader, writer);
    },
    '127.0.0.1',
    0,
    opts,
  );
  const nextClient = () => {
    if (queue.length) {
      const f = loop.createFuture();
      f.setResult(queue.shift());
      return f;
    }
    const f = loop.createFuture();
    waiters.push(f);
    return f;
  };
  return { server, port: server.address().port, nextClient };
}

describe('StreamReader (bytes fed by hand)', () => {
  test('read(n) returns at most n buffered bytes and never waits while bytes are buffered', () =>
    run(async () => {
      const { reader, feed } = handReader();
      feed('hello ', 'world');
      const first = reader.read(3);
      assert.ok(isFuture(first));
      assert.ok(first.done(), 'a read the buffer can answer is already resolved');
      assert.equal((await first).toString(), 'hel');
      // Up to n bytes from the whole buffer, across chunks (asyncio's bytearray semantics).
      assert.equal((await reader.read(100)).toString(), 'lo world');
      assert.equal(reader.read(1).done(), false);
      assert.equal((await reader.read(0)).length, 0);
    }));

  test('read() waits for data, then returns what arrived', () =>
    run(async () => {
      const { reader, feed } = handReader();
      const pending = reader.read(10);
      assert.equal(pending.done(), false);
      feed('abc');
      assert.equal((await pending).toString(), 'abc');
    }));

  test('read(-1) reads everything until EOF; at EOF reads return an empty Buffer', () =>
    run(async () => {
      const { reader, feed } = handReader({ limit: 4 });
      const all = reader.read();
      feed('0123456789', 'abc');
      assert.equal(all.done(), false);
      feed('def');
      reader.feedEof();
      assert.equal((await all).toString(), '0123456789abcdef');
      assert.equal((await reader.read()).length, 0);
      assert.equal((await reader.read(5)).length, 0);
      assert.equal(reader.atEof(), true);
    }));

  test('readExactly joins chunks and waits until n bytes are there', () =>
    run(async () => {
      const { reader, feed } = handReader();
      feed('ab', 'cd');
      assert.equal((await reader.readExactly(3)).toString(), 'abc');
      const rest = reader.readExactly(4);
      feed('e');
      assert.equal(rest.done(), false);
      feed('fgh', 'ij');
      assert.equal((await rest).toString(), 'defg');
      assert.equal((await reader.readExactly(0)).length, 0);
      assert.equal((await reader.read(10)).toString(), 'hij');
    }));

  test('readExactly at EOF throws IncompleteReadError with .partial and .expected and empties the buffer', () =>
    run(async () => {
      const { reader, feed } = handReader();
      feed('xyz');
      reader.feedEof();
      await rejects(reader.readExactly(5), (err) => {
        assert.ok(err instanceof IncompleteReadError);
        assert.equal(err.partial.toString(), 'xyz');
        assert.equal(err.expected, 5);
        return true;
      });
      assert.equal(reader.atEof(), true);
    }));

  test('readExactly with a negative or non-integer count is a RangeError / TypeError', () =>
    run(async () => {
      const { reader } = handReader();
      assert.throws(() => reader.readExactly(-1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      assert.throws(() => reader.readExactly(1.5), { name: 'RangeError' });
      assert.throws(() => reader.readExactly('3'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      assert.throws(() => reader.read('3'), { name: 'TypeError' });
    }));

  test('readUntil finds a multi-byte separator split across chunks, as a Buffer or a UTF-8 string', () =>
    run(async () => {
      const { reader, feed } = handReader();
      const fut = reader.readUntil('\r\n\r\n');
      feed('GET / HTTP/1.1\r', '\n', 'Host: x\r\n\r', '\nbody');
      assert.equal((await fut).toString(), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      feed('·', 'é', '→end');
      // '→' is three bytes in UTF-8; the separator may be split byte-wise across chunks too.
      const arrow = Buffer.from('→');
      reader.feedData(arrow.subarray(0, 1));
      reader.feedData(arrow.subarray(1));
      assert.equal((await reader.readUntil('→')).toString(), 'body·é→');
      assert.equal((await reader.readUntil(Buffer.from('→'))).toString(), 'end→');
    }));

  test('readUntil with no separator within the limit throws LimitOverrunError and keeps the data', () =>
    run(async () => {
      const { reader, feed } = handReader({ limit: 8 });
      feed('0123456789abcdef');
      await rejects(reader.readUntil('\n'), (err) => {
        assert.ok(err instanceof LimitOverrunError);
        assert.equal(err.consumed, 16);
        return true;
      });
      // Nothing was consumed: the caller decides (here: read it all).
      assert.equal((await reader.readExactly(16)).toString(), '0123456789abcdef');
    }));

  test('readUntil with the separator past the limit throws LimitOverrunError (consumed = its position)', () =>
    run(async () => {
      const { reader, feed } = handReader({ limit: 4 });
      feed('0123456\nrest');
      await rejects(reader.readUntil('\n'), (err) => err instanceof LimitOverrunError && err.consumed === 7);
      assert.equal((await reader.readExactly(8)).toString(), '0123456\n');
    }));

  test('readUntil waiting for a separator fails once the data outgrows the limit', () =>
    run(async () => {
      const { reader, feed } = handReader({ limit: 8 });
      const fut = reader.readUntil('!!');
      feed('abcd');
      feed('efgh');
      assert.equal(fut.done(), false);
      feed('ijkl');
      await rejects(fut, (err) => err instanceof LimitOverrunError && err.consumed === 11);
      assert.equal((await reader.read(100)).toString(), 'abcdefghijkl');
    }));

  test('readUntil at EOF without the separator throws IncompleteReadError(expected null) with the rest', () =>
    run(async () => {
      const { reader, feed } = handReader();
      feed('no separator');
      reader.feedEof();
      await rejects(reader.readUntil('|'), (err) => {
        assert.ok(err instanceof IncompleteReadError);
        assert.equal(err.partial.toString(), 'no separator');
        assert.equal(err.expected, null);
        return true;
      });
    }));

  test('readUntil rejects an empty or non-byte separator with a TypeError', () =>
    run(async () => {
      const { reader } = handReader();
      assert.throws(() => reader.readUntil(''), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => reader.readUntil(Buffer.alloc(0)), { name: 'TypeError' });
      assert.throws(() => reader.readUntil(10), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    }));

  test('readLine returns lines with their newline, then the unterminated tail, then empty Buffers', () =>
    run(async () => {
      const { reader, feed } = handReader();
      feed('one\ntw', 'o\n', 'three');
      assert.equal((await reader.readLine()).toString(), 'one\n');
      assert.equal((await reader.readLine()).toString(), 'two\n');
      const tail = reader.readLine();
      assert.equal(tail.done(), false);
      reader.feedEof();
      assert.equal((await tail).toString(), 'three');
      assert.equal((await reader.readLine()).length, 0);
    }));

  test('readLine drops a line longer than the limit, throws LimitOverrunError, and goes on with the next line', () =>
    run(async () => {
      const { reader, feed } = handReader({ limit: 5 });
      feed('short\n', 'much too long\nok\n');
      assert.equal((await reader.readLine()).toString(), 'short\n');
      await rejects(reader.readLine(), LimitOverrunError);
      assert.equal((await reader.readLine()).toString(), 'ok\n');
      // Over-long and not yet terminated: the buffered part is dropped.
      feed('0123456789');
      await rejects(reader.readLine(), LimitOverrunError);
      feed('x\n');
      assert.equal((await reader.readLine()).toString(), 'x\n');
    }));

  test('for await iterates lines until EOF', () =>
    run(async () => {
      const { reader, feed } = handReader();
      feed('a\nb', 'b\n\nc');
      getRunningLoop().callSoon(() => reader.feedEof());
      const lines = [];
      for await (const line of reader) lines.push(line.toString());
      assert.deepEqual(lines, ['a\n', 'bb\n', '\n', 'c']);
    }));

  test('generator coroutines read with yield*', () =>
    run(function* () {
      const { reader, feed } = handReader();
      feed('12345', '\nrest');
      reader.feedEof();
      const line = yield* reader.readLine();
      const two = yield* reader.readExactly(2);
      const rest = yield* reader.read();
      return [line.toString(), two.toString(), rest.toString()];
    }).then((v) => assert.deepEqual(v, ['12345\n', 're', 'st'])));

  test("a read made in a generator task's step is a Future without a native promise: yield*, then(), await, finally and waitFor all take it", () =>
    run(async () => {
      const loop = getRunningLoop();
      const { reader, feed } = handReader();
      const task = loop.createTask(function* () {
        const read = reader.read(100);
        const kinds = [isFuture(read), read instanceof Promise, types.isPromise(read)];
        // An async function called in the step awaits it as a thenable; so do Promise.resolve and finally.
        const awaited = (async () => String(await read))();
        const finished = Promise.resolve(read).finally(() => {});
        const delegated = String(yield* read);
        const others = [yield awaited, String(yield finished)];
        // A timeout cancels the waiting read; the bytes that come later stay for the next read.
        let timedOut = false;
        try {
          yield* waitFor(reader.read(100), 5);
        } catch (err) {
          timedOut = err instanceof TimeoutError;
        }
        const next = reader.read(100);
        feed('two');
        return [kinds, delegated, others, timedOut, String(yield* next)];
      }, { eagerStart: true });
      // Started eagerly: the first read waits already.
      feed('one');
      assert.deepEqual(await task, [[true, true, false], 'one', ['one', 'one'], true, 'two']);
      // An async function's reads stay native promises (V8 awaits them without a thenable job).
      assert.equal(types.isPromise(reader.read(1)), true);
    }));

  test('setException fails the waiting read and every later read', () =>
    run(async () => {
      const { reader, feed } = handReader();
      const waiting = reader.readLine();
      const boom = Object.assign(new Error('boom'), { code: 'EBOOM' });
      reader.setException(boom);
      await rejects(waiting, (err) => err === boom);
      feed('data\n');
      await rejects(reader.read(1), (err) => err === boom);
      await rejects(reader.readExactly(1), (err) => err === boom);
      assert.equal(reader.exception(), boom);
    }));

  test('a second read while one waits for data fails with ERR_READ_IN_PROGRESS; reads the buffer can answer do not', () =>
    run(async () => {
      const { reader, feed } = handReader();
      feed('abc');
      const waiting = reader.readExactly(5);
      await rejects(reader.readLine(), { code: 'ERR_READ_IN_PROGRESS' });
      assert.equal((await reader.read(1)).toString(), 'a');
      feed('defg');
      assert.equal((await waiting).toString(), 'bcdef');
    }));

  test('cancelling a task waiting in a read loses no bytes; the next read gets them', () =>
    run(async () => {
      const loop = getRunningLoop();
      const { reader, feed } = handReader();
      const waiting = loop.createFuture();
      const task = loop.createTask(
        (function* () {
          const read = reader.readExactly(10);
          waiting.setResult({ read }); // wrapped: a Future result would be adopted by await
          return yield* read;
        })(),
      );
      const { read } = await waiting;
      task.cancel();
      await assert.rejects(task, CancelledError);
      assert.equal(read.cancelled(), true);
      feed('hello\n');
      assert.equal((await reader.readLine()).toString(), 'hello\n');
    }));

  test('a generator task resumes from a read with its data by yield* or a bare yield; a cancel after the data came is thrown in at the read, and the bytes stay for the next read', () =>
    run(async () => {
      const loop = getRunningLoop();
      const { reader } = handReader();
      const reached = loop.createFuture();
      const seen = [];
      let first;
      const task = loop.createTask(
        (function* () {
          first = reader.read(100);
          try {
            seen.push((yield* first).toString());
          } catch (err) {
            seen.push(err instanceof CancelledError ? 'cancelled' : err);
          }
          const second = reader.read(100);
          second.addDoneCallback(() => seen.push('callback'));
          reached.setResult(undefined);
          seen.push((yield* second).toString());
          // A bare yield of a future resumes with its result, as yield* returns it.
          seen.push((yield reader.read(100)).toString());
          return seen;
        })(),
        { eagerStart: true },
      );
      // Settled, the task's step not run yet: the cancel finds the read done and is thrown in.
      reader.feedData(Buffer.from('one'));
      assert.equal(task.cancel(), true);
      await reached;
      assert.equal(first.result().toString(), 'one', 'the read that took the bytes still reports them');
      // The cancelled step never took them: the next read (the task's own, right after) does.
      reader.feedData(Buffer.from('two'));
      reader.feedData(Buffer.from('three'));
      assert.deepEqual(await task, ['cancelled', 'one', 'callback', 'two']);
      assert.equal(reader.bufferedSize, 5);
    }));

  test('feedData after feedEof is an error; bad data is a TypeError', () =>
    run(async () => {
      const { reader } = handReader();
      for (const bad of ['str', null, undefined, 42, {}, new DataView(new ArrayBuffer(2))]) {
        assert.throws(() => reader.feedData(bad), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      }
      assert.equal(reader.bufferedSize, 0);
      // A subclass of Buffer is bytes like any other.
      class Tagged extends Buffer {}
      const tagged = Buffer.from('ok');
      Object.setPrototypeOf(tagged, Tagged.prototype);
      reader.feedData(tagged);
      assert.equal((await reader.read(10)).toString(), 'ok');
      reader.feedEof();
      assert.throws(() => reader.feedData(Buffer.from('x')), { code: 'ERR_STREAM_PUSH_AFTER_EOF' });
    }));

  test('any chunking and any sequence of answered reads give the bytes a single Buffer would (property)', () =>
    run(() => {
      const fc = require('fast-check');
      const alphabet = Buffer.from('ab\n\r');
      const bytes = fc.uint8Array({ minLength: 0, maxLength: 40 }).map((a) => Buffer.from(a.map((x) => alphabet[x % 4])));
      const op = fc.oneof(
        fc.record({ kind: fc.constant('feed'), data: bytes }),
        fc.record({ kind: fc.constant('read'), n: fc.integer({ min: 1, max: 50 }) }),
        fc.record({ kind: fc.constant('readExactly'), n: fc.integer({ min: 0, max: 50 }) }),
        fc.record({ kind: fc.constant('readUntil'), sep: fc.constantFrom('\n', '\r\n', 'ab\r', 'bb', 'a\nb\n') }),
      );
      fc.assert(
        fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
          const reader = new StreamReader({ limit: 1 << 20 });
          let model = Buffer.alloc(0);
          for (const o of ops) {
            if (o.kind === 'feed') {
              reader.feedData(o.data);
              model = Buffer.concat([model, o.data]);
              continue;
            }
            let expected;
            let fut;
            if (o.kind === 'read') {
              if (model.length === 0) continue;
              expected = model.subarray(0, o.n);
              fut = reader.read(o.n);
            } else if (o.kind === 'readExactly') {
              if (model.length < o.n) continue;
              expected = model.subarray(0, o.n);
              fut = reader.readExactly(o.n);
            } else {
              const at = model.indexOf(o.sep);
              if (at < 0) continue;
              expected = model.subarray(0, at + Buffer.byteLength(o.sep));
              fut = reader.readUntil(o.sep);
            }
            assert.equal(fut.done(), true, 'answered from the buffer at once');
            assert.deepEqual(fut.result(), expected);
            model = model.subarray(expected.length);
            assert.equal(reader.bufferedSize, model.length);
          }
        }),
        { numRuns: 300 },
      );
    }));

  test('a waiting readUntil resolves on exactly the chunk that completes the first separator (property)', () =>
    run(() => {
      const fc = require('fast-check');
      const alphabet = Buffer.from('ab\r\n');
      const chunk = fc.uint8Array({ minLength: 1, maxLength: 6 }).map((a) => Buffer.from(a.map((x) => alphabet[x % 4])));
      fc.assert(
        fc.property(fc.array(chunk, { minLength: 1, maxLength: 30 }), fc.constantFrom('\n', '\r\n', 'ab\r', 'b\r\na'), (chunks, sep) => {
          const reader = new StreamReader({ limit: 1 << 20 });
          const fut = reader.readUntil(sep);
          let fed = Buffer.alloc(0);
          for (const c of chunks) {
            reader.feedData(c);
            fed = Buffer.concat([fed, c]);
            const at = fed.indexOf(sep);
            if (at < 0) {
              assert.equal(fut.done(), false);
              continue;
            }
            assert.equal(fut.done(), true);
            const line = fed.subarray(0, at + sep.length);
            assert.deepEqual(fut.result(), line);
            assert.equal(reader.bufferedSize, fed.length - line.length);
            return;
          }
          fut.cancel();
        }),
        { numRuns: 500 },
      );
    }));

  test('a waiting read(n) is handed the next chunk itself when it fits, else its first n bytes', () =>
    run(async () => {
      const { reader } = handReader();
      const small = Buffer.from('ping');
      const waiting = reader.read(10);
      reader.feedData(small);
      assert.equal(waiting.done(), true, 'settled by the chunk that arrived');
      assert.equal(waiting.result(), small, 'the chunk itself, not a copy');
      assert.equal(reader.bufferedSize, 0);
      const short = reader.read(3);
      reader.feedData(Buffer.from('abcdef'));
      assert.equal((await short).toString(), 'abc');
      assert.equal(reader.bufferedSize, 3);
      assert.equal((await reader.read(10)).toString(), 'def');
      // A Uint8Array that is not a Buffer comes out as a Buffer over the same bytes.
      const waitingU8 = reader.read(10);
      reader.feedData(new Uint8Array([104, 105]));
      assert.ok(Buffer.isBuffer(await waitingU8));
      assert.equal((await waitingU8).toString(), 'hi');
    }));

  test('a waiting readExactly(n) takes a chunk of exactly n whole, and joins smaller ones', () =>
    run(async () => {
      const { reader } = handReader();
      const exact = Buffer.from('12345');
      const first = reader.readExactly(5);
      reader.feedData(exact);
      assert.equal(first.result(), exact);
      const joined = reader.readExactly(5);
      reader.feedData(Buffer.from('ab'));
      assert.equal(joined.done(), false);
      reader.feedData(Buffer.from('cdefg'));
      assert.equal((await joined).toString(), 'abcde');
      assert.equal((await reader.read(5)).toString(), 'fg');
    }));

  test('a chunk that arrives for a cancelled waiting read(n) stays buffered for the next read', () =>
    run(async () => {
      const { reader, feed } = handReader();
      const waiting = reader.read(100);
      waiting.cancel();
      feed('kept');
      assert.equal(reader.bufferedSize, 4);
      assert.equal((await reader.read(100)).toString(), 'kept');
    }));

  test('EOF while a read waits: read(n) gets an empty Buffer, readExactly the partial bytes, readLine the tail', () =>
    run(async () => {
      const a = handReader();
      const read = a.reader.read(10);
      a.reader.feedEof();
      assert.equal((await read).length, 0);

      const b = handReader();
      const exactly = b.reader.readExactly(10);
      b.feed('abc');
      assert.equal(exactly.done(), false);
      b.reader.feedEof();
      await rejects(exactly, (err) => err instanceof IncompleteReadError && err.partial.toString() === 'abc' && err.expected === 10);
      assert.equal(b.reader.bufferedSize, 0);

      const c = handReader();
      const line = c.reader.readLine();
      c.feed('no new', 'line');
      assert.equal(line.done(), false);
      c.reader.feedEof();
      assert.equal((await line).toString(), 'no newline');
      assert.equal((await c.reader.readLine()).length, 0);
    }));

  test('a waiting readLine finds a line spread over many chunks, and the bytes after it stay buffered', () =>
    run(async () => {
      const { reader, feed } = handReader();
      const line = reader.readLine();
      for (let i = 0; i < 50; i++) feed('x'.repeat(7));
      assert.equal(line.done(), false);
      feed('yy\nrest', '\nmore');
      assert.equal((await line).toString(), 'x'.repeat(350) + 'yy\n');
      assert.equal((await reader.readLine()).toString(), 'rest\n');
      assert.equal(reader.bufferedSize, 4);
    }));

  test('a read tried while another waits takes nothing from it: the waiting readUntil still finds its separator', () =>
    run(async () => {
      const { reader, feed } = handReader();
      const until = reader.readUntil('\r\n');
      feed('abc\r');
      await rejects(reader.readUntil('\n'), { code: 'ERR_READ_IN_PROGRESS' });
      await rejects(reader.readExactly(9), { code: 'ERR_READ_IN_PROGRESS' });
      feed('\ndef');
      assert.equal((await until).toString(), 'abc\r\n');
      assert.equal((await reader.read(10)).toString(), 'def');
    }));

  test('waiting reads of every kind answer as a single Buffer would, whatever the chunking, through EOF (property)', () =>
    run(() => {
      const fc = require('fast-check');
      const alphabet = Buffer.from('ab\n\r');
      const chunk = fc.uint8Array({ minLength: 1, maxLength: 12 }).map((a) => Buffer.from(a.map((x) => alphabet[x % 4])));
      const read = fc.oneof(
        fc.record({ kind: fc.constant('read'), n: fc.integer({ min: 1, max: 20 }) }),
        fc.record({ kind: fc.constant('readExactly'), n: fc.integer({ min: 1, max: 20 }) }),
        fc.record({ kind: fc.constant('readUntil'), sep: fc.constantFrom('\r\n', 'ab\r', 'bb') }),
        fc.record({ kind: fc.constant('readLine') }),
        fc.record({ kind: fc.constant('iterate') }),
        fc.record({ kind: fc.constant('readAll') }),
      );
      fc.assert(
        fc.property(fc.array(chunk, { maxLength: 30 }), fc.array(read, { minLength: 1, maxLength: 15 }), (chunks, reads) => {
          const reader = new StreamReader({ limit: 1 << 20 });
          const lines = reader[Symbol.asyncIterator]();
          let next = 0;
          let model = Buffer.alloc(0); // fed and not yet read
          let eof = false;
          for (const r of reads) {
            const fut =
              r.kind === 'read' ? reader.read(r.n)
              : r.kind === 'readExactly' ? reader.readExactly(r.n)
              : r.kind === 'readUntil' ? reader.readUntil(r.sep)
              : r.kind === 'readLine' ? reader.readLine()
              : r.kind === 'iterate' ? lines.next()
              : reader.read();
            while (!fut.done() && next < chunks.length) {
              reader.feedData(chunks[next]);
              model = Buffer.concat([model, chunks[next++]]);
            }
            if (!fut.done()) {
              eof = true;
              reader.feedEof();
            }
            assert.equal(fut.done(), true);
            const sep = r.kind === 'readUntil' ? r.sep : '\n';
            const at = model.indexOf(sep);
            let expected;
            let partial = null;
            if (r.kind === 'read') expected = model.subarray(0, r.n);
            else if (r.kind === 'readAll') expected = model;
            else if (r.kind === 'readExactly') {
              if (model.length >= r.n) expected = model.subarray(0, r.n);
              else partial = model;
            } else if (at >= 0) expected = model.subarray(0, at + Buffer.byteLength(sep));
            else if (r.kind === 'readUntil') partial = model;
            else expected = model;
            if (partial !== null) {
              assert.ok(eof);
              const err = fut.exception();
              assert.ok(err instanceof IncompleteReadError);
              assert.deepEqual(err.partial, partial);
              model = Buffer.alloc(0);
            } else {
              const got = r.kind === 'iterate' ? fut.result() : { done: false, value: fut.result() };
              if (r.kind === 'iterate' && expected.length === 0) assert.deepEqual(got, { done: true, value: undefined });
              else assert.deepEqual(got.value, expected);
              model = model.subarray(expected.length);
            }
            assert.equal(reader.bufferedSize, model.length);
          }
        }),
        { numRuns: 500 },
      );
    }));

  test('the limit option must be a positive integer', () => {
    assert.throws(() => new StreamReader({ limit: 0 }), { name: 'RangeError' });
    assert.throws(() => new StreamReader({ limit: 'big' }), { name: 'TypeError' });
    assert.equal(new StreamReader().limit, 64 * 1024);
  });
});

describe('streams over TCP on 127.0.0.1', () => {
  test('an echo server and client move every byte in order (5 MB, many chunk sizes)', () =>
    run(async () => {
      const { server, port } = await serve(async (reader, writer) => {
        for (;;) {
          const data = await reader.read(65536);
          if (data.length === 0) break;
          writer.write(data);
          await writer.drain();
        }
        writer.close();
      });
      const [reader, writer] = await openConnection('127.0.0.1', port);
      const payload = crypto.randomBytes(5 * 1024 * 1024);
      const received = reader.readExactly(payload.length);
      for (let off = 0, size = 1; off < payload.length; size = (size * 7 + 13) % 200000) {
        writer.write(payload.subarray(off, off + size));
        off += size;
        await writer.drain();
      }
      assert.ok((await received).equals(payload));
      writer.close();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
    }));

  test('startServer accepts a plain, an async and a generator client callback', () =>
    run(async () => {
      const greet = (writer, how) => writer.write(Buffer.from(`hi from ${how}\n`));
      const callbacks = {
        plain: (reader, writer) => {
          greet(writer, 'plain');
          writer.close();
        },
        async: async (reader, writer) => {
          greet(writer, 'async');
          await writer.drain();
          writer.close();
        },
        generator: function* (reader, writer) {
          const name = yield* reader.readLine();
          greet(writer, `generator to ${name.toString().trim()}`);
          yield* writer.drain();
          writer.close();
        },
      };
      for (const [how, cb] of Object.entries(callbacks)) {
        const { server, port } = await serve(cb);
        const [reader, writer] = await openConnection('127.0.0.1', port);
        // Only the generator reads: writing to the others could race their close into a reset.
        if (how === 'generator') writer.write(Buffer.from('you\n'));
        const reply = (await reader.read()).toString();
        assert.equal(reply, how === 'generator' ? 'hi from generator to you\n' : `hi from ${how}\n`);
        writer.close();
        server.close();
        await server.waitClosed();
      }
    }));

  test('a client coroutine that throws is reported to the exception handler and its connection closed', () =>
    run(async () => {
      const loop = getRunningLoop();
      const reported = loop.createFuture();
      loop.setExceptionHandler((_loop, context) => {
        if (!reported.done()) reported.setResult(context);
      });
      const { server, port } = await serve(async (reader) => {
        await reader.readLine();
        throw new Error('handler failed');
      });
      const [reader, writer] = await openConnection('127.0.0.1', port);
      writer.write(Buffer.from('go\n'));
      const context = await reported;
      assert.equal(context.exception.message, 'handler failed');
      assert.equal((await reader.read()).length, 0, 'the client sees EOF');
      writer.close();
      server.close();
      await server.waitClosed();
    }));

  test('write() takes only bytes: anything else is a TypeError with code ERR_INVALID_ARG_TYPE', () =>
    run(async () => {
      const { server, port, nextClient } = await serve();
      const [reader, writer] = await openConnection('127.0.0.1', port);
      for (const bad of ['text', 42, null, undefined, { length: 1 }, [1, 2], new ArrayBuffer(4)]) {
        assert.throws(() => writer.write(bad), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      }
      assert.throws(() => writer.writelines([Buffer.from('ok'), 'bad']), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      assert.throws(() => writer.writelines(5), { name: 'TypeError' });
      // Nothing of the rejected writelines went out; a Uint8Array is fine.
      writer.writelines([Buffer.from('a'), new Uint8Array([98])]);
      writer.write(new Uint8Array([99, 10]));
      const peer = await nextClient();
      assert.equal((await peer.reader.readLine()).toString(), 'abc\n');
      writer.close();
      peer.writer.close();
      assert.equal((await reader.read()).length, 0);
      server.close();
      await server.waitClosed();
    }));

  test('drain() waits while the write buffer is over the high-water mark and wakes every concurrent drainer', () =>
    run(async () => {
      const { server, port, nextClient } = await serve();
      const [reader, writer] = await openConnection('127.0.0.1', port);
      const peer = await nextClient();
      // The peer reads nothing yet: the kernel buffers fill and the rest queues in the transport.
      const payload = crypto.randomBytes(24 * 1024 * 1024);
      writer.write(payload);
      assert.ok(writer.transport.getWriteBufferSize() > writer.transport.getWriteBufferLimits()[1]);
      const drainers = Array.from({ length: 50 }, () => writer.drain());
      assert.ok(drainers.every(isFuture));
      assert.ok(drainers.every((d) => !d.done()), 'no drainer is released while the buffer is full');
      // One drainer gives up: the others are unaffected.
      drainers[7].cancel();
      const received = await peer.reader.readExactly(payload.length);
      assert.ok(received.equals(payload));
      await Promise.all(drainers.filter((_, i) => i !== 7));
      assert.equal(drainers[7].cancelled(), true);
      assert.ok(writer.transport.getWriteBufferSize() <= writer.transport.getWriteBufferLimits()[0]);
      // Not paused: drain resolves at once.
      assert.equal(writer.drain().done(), true);
      writer.close();
      peer.writer.close();
      await reader.read();
      server.close();
      await server.waitClosed();
    }));

  test('drain() with nothing to wait for is settled at once, however often it is called and whoever awaits it', () =>
    run(async () => {
      const { server, port, nextClient } = await serve();
      const [reader, writer] = await openConnection('127.0.0.1', port);
      const peer = await nextClient();
      for (let i = 0; i < 3; i++) {
        writer.write(Buffer.from(`m${i}\n`));
        const drained = writer.drain();
        assert.ok(isFuture(drained));
        assert.equal(drained.done(), true);
        assert.equal(drained.cancel(), false, 'a settled drain cannot be cancelled');
        assert.equal(drained.result(), undefined);
        await drained;
        await Promise.all([drained, drained]);
        assert.equal((await peer.reader.readLine()).toString(), `m${i}\n`);
      }
      // Generator coroutines take the same settled drain with yield*.
      await getRunningLoop().createTask(
        (function* () {
          writer.write(Buffer.from('gen\n'));
          yield* writer.drain();
          yield* writer.drain();
        })(),
      );
      assert.equal((await peer.reader.readLine()).toString(), 'gen\n');
      // yield* of it as of any done future: its result at once, nothing yielded, so a cancel
      // pending in the task passes it and is thrown in at the next pending future.
      const genTask = getRunningLoop().createTask(
        (function* () {
          genTask.cancel();
          const got = [yield* writer.drain(), yield* writer.drain()];
          try {
            yield* getRunningLoop().createFuture();
          } catch (e) {
            return [got, e.name];
          }
          return [got, 'not cancelled'];
        })(),
      );
      assert.deepEqual(await genTask, [[undefined, undefined], 'CancelledError']);
      // Awaited as any done future: a cancel pending in the task passes it and is thrown in at
      // the next pending await.
      const drained = writer.drain();
      assert.equal(drained.constructor, Promise);
      assert.equal(writer.drain(), drained, 'one settled drain per connection');
      const loop = getRunningLoop();
      const task = loop.createTask(async () => {
        task.cancel();
        await writer.drain();
        await writer.drain();
        try {
          await loop.createFuture();
        } catch (e) {
          return e.name;
        }
        return 'not cancelled';
      });
      assert.equal(await task, 'CancelledError');
      writer.close();
      await writer.waitClosed();
      // Closed: drain no longer resolves at once as if writing could go on.
      await rejects(writer.drain(), (err) => err.code === 'ECONNRESET');
      await reader.read();
      peer.writer.close();
      server.close();
      await server.waitClosed();
    }));

  test('drain() fails with the connection error when the peer goes away, instead of hanging', () =>
    run(async () => {
      const { server, port, nextClient } = await serve();
      const [, writer] = await openConnection('127.0.0.1', port);
      const peer = await nextClient();
      writer.write(crypto.randomBytes(24 * 1024 * 1024));
      const drainers = Array.from({ length: 10 }, () => writer.drain());
      peer.writer.transport.abort();
      for (const d of drainers) {
        await rejects(d, (err) => ['ECONNRESET', 'EPIPE'].includes(err.code));
      }
      // After the loss drain() keeps failing at once, and waitClosed reports the same error.
      await rejects(writer.drain(), (err) => ['ECONNRESET', 'EPIPE'].includes(err.code));
      await rejects(writer.waitClosed(), (err) => ['ECONNRESET', 'EPIPE'].includes(err.code));
      server.close();
      await server.waitClosed();
    }));

  test('writeEof half-closes: the peer reads to EOF and can still answer', () =>
    run(async () => {
      const { server, port } = await serve(async (reader, writer) => {
        const all = await reader.read();
        assert.equal(reader.atEof(), true);
        writer.write(Buffer.from(`got ${all.length} bytes: ${all.toString()}`));
        await writer.drain();
        writer.close();
      });
      const [reader, writer] = await openConnection('127.0.0.1', port);
      assert.equal(writer.canWriteEof(), true);
      writer.write(Buffer.from('first '));
      writer.write(Buffer.from('second'));
      writer.writeEof();
      assert.equal((await reader.read()).toString(), 'got 12 bytes: first second');
      assert.equal(reader.atEof(), true);
      // Our eofReceived keeps the transport open (half-closed) until we close it.
      assert.equal(writer.isClosing(), false);
      writer.close();
      await writer.waitClosed();
      server.close();
      await server.waitClosed();
    }));

  test('waitClosed resolves after close for every caller; cancelling one waiter leaves the others', () =>
    run(async () => {
      const { server, port, nextClient } = await serve();
      const [, writer] = await openConnection('127.0.0.1', port);
      const peer = await nextClient();
      const a = writer.waitClosed();
      const b = writer.waitClosed();
      const c = writer.waitClosed();
      assert.ok(isFuture(a));
      b.cancel();
      assert.equal(writer.isClosing(), false);
      writer.close();
      assert.equal(writer.isClosing(), true);
      await a;
      await c;
      assert.equal(b.cancelled(), true);
      await writer.waitClosed(); // already closed: resolves at once
      assert.equal((await peer.reader.read()).length, 0);
      peer.writer.close();
      server.close();
      await server.waitClosed();
    }));

  test('getExtraInfo gives Node-shaped peer and socket addresses', () =>
    run(async () => {
      const { server, port, nextClient } = await serve();
      const [, writer] = await openConnection('127.0.0.1', port);
      const peer = await nextClient();
      assert.deepEqual(writer.getExtraInfo('peername'), { address: '127.0.0.1', family: 'IPv4', port });
      assert.deepEqual(peer.writer.getExtraInfo('peername'), writer.getExtraInfo('sockname'));
      assert.equal(writer.getExtraInfo('nonsense', 'dflt'), 'dflt');
      writer.close();
      peer.writer.close();
      server.close();
      await server.waitClosed();
    }));

  test('openConnection to a closed port fails with ECONNREFUSED', () =>
    run(async () => {
      const { server, port } = await serve();
      server.close();
      await server.waitClosed();
      await rejects(openConnection('127.0.0.1', port), (err) => err.code === 'ECONNREFUSED');
    }));

  test('a reader fed faster than it is read pauses the transport above 2 x limit and resumes below limit', () =>
    run(async () => {
      const loop = getRunningLoop();
      const limit = 16 * 1024;
      const payload = crypto.randomBytes(4 * 1024 * 1024);
      const { server, port } = await serve(async (_reader, writer) => {
        writer.write(payload);
        await writer.drain();
        writer.close();
      });
      // Built by hand (as asyncio's open_connection does) to watch the reader fill up.
      const paused = loop.createFuture();
      let maxBuffered = 0;
      class WatchedReader extends StreamReader {
        feedData(data) {
          super.feedData(data);
          maxBuffered = Math.max(maxBuffered, this.bufferedSize);
          if (!this.transport.isReading() && !paused.done()) paused.setResult(this.bufferedSize);
        }
        setTransport(t) {
          super.setTransport(t);
          this.transport = t;
        }
      }
      const reader = new WatchedReader({ limit });
      const protocol = new StreamReaderProtocol(reader);
      const [transport] = await loop.createConnection(() => protocol, '127.0.0.1', port);
      const writer = new StreamWriter(transport, protocol, reader, loop);
      const bufferedWhenPaused = await paused;
      assert.ok(bufferedWhenPaused > 2 * limit);
      assert.equal(transport.isReading(), false);
      // Reading down to the limit resumes the transport.
      const head = await reader.readExactly(bufferedWhenPaused - limit);
      assert.equal(transport.isReading(), true);
      const rest = await reader.read();
      assert.ok(Buffer.concat([head, rest]).equals(payload));
      // One recv at most lands on top of the 2 x limit threshold.
      assert.ok(maxBuffered <= 2 * limit + 256 * 1024, `buffered ${maxBuffered}`);
      writer.close();
      server.close();
      await server.waitClosed();
    }));
});

describe('streams over Unix sockets', () => {
  test('startUnixServer and openUnixConnection echo lines on a temp path', () =>
    run(async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-streams-'));
      const sock = path.join(dir, 'echo.sock');
      try {
        const server = await startUnixServer(async (reader, writer) => {
          for await (const line of reader) writer.write(Buffer.from(line.toString().toUpperCase()));
          writer.close();
        }, sock);
        assert.equal(server.address().address, sock);
        const [reader, writer] = await openUnixConnection(sock, { limit: 1024 });
        const lines = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(i)}\n`);
        writer.writelines(lines.map((l) => Buffer.from(l)));
        writer.writeEof();
        const back = [];
        for await (const line of reader) back.push(line.toString());
        assert.deepEqual(back, lines.map((l) => l.toUpperCase()));
        writer.close();
        await writer.waitClosed();
        server.close();
        await server.waitClosed();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }));

  test('openUnixConnection to a missing path fails with ENOENT', () =>
    run(async () => {
      const sock = path.join(os.tmpdir(), `evloop-missing-${process.pid}.sock`);
      await rejects(openUnixConnection(sock), (err) => err.code === 'ENOENT');
    }));
});
