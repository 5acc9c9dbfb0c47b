'use strict';
// EventLoop: ordering, timers, Node integration, errors, debug, and I/O on a real socketpair.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const { newEventLoop, run, getRunningLoop, sleep, createLogger } = require('evloop');
const { binding } = require('evloop/internal');

async function runFor(loop, fn) {
  // fn schedules work and calls done() when finished; the loop stops then.
  await new Promise((resolve, reject) => {
    loop.callSoon(() => {
      try { fn(() => loop.stop()); } catch (e) { reject(e); loop.stop(); }
    });
    loop.runForever().then(resolve, reject);
  });
}

test('callSoon callbacks run in FIFO order with their arguments', async () => {
  const loop = newEventLoop();
  const seen = [];
  for (let i = 0; i < 100; i++) loop.callSoon((a, b) => seen.push(a + b), i, 1000);
  loop.callSoon(() => loop.stop());
  await loop.runForever();
  assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => i + 1000));
  loop.close();
});

test('a pass runs only what was ready when it began: callbacks scheduled by callbacks run after', async () => {
  const loop = newEventLoop();
  const seen = [];
  loop.callSoon(() => { seen.push('a'); loop.callSoon(() => seen.push('c')); });
  loop.callSoon(() => { seen.push('b'); loop.stop(); });
  await loop.runForever();
  assert.deepEqual(seen, ['a', 'b']); // stop() finishes the current pass only
  loop.callSoon(() => loop.stop());
  await loop.runForever();
  assert.deepEqual(seen, ['a', 'b', 'c']);
  loop.close();
});

test('cancelled handles do not run', async () => {
  const loop = newEventLoop();
  let ran = false;
  const h = loop.callSoon(() => { ran = true; });
  h.cancel();
  assert.equal(h.cancelled(), true);
  loop.callSoon(() => loop.stop());
  await loop.runForever();
  assert.equal(ran, false);
  loop.close();
});

test('timers fire in deadline order, ties in scheduling order', async () => {
  const loop = newEventLoop();
  const seen = [];
  await runFor(loop, (done) => {
    const base = loop.time() + 5;
    loop.callAt(base + 2, () => seen.push('late'));
    loop.callAt(base, () => seen.push('tie1'));
    loop.callAt(base, () => seen.push('tie2'));
    loop.callAt(base - 3, () => seen.push('early'));
    loop.callAt(base, () => seen.push('tie3'));
    loop.callAt(base + 3, done);
  });
  assert.deepEqual(seen, ['early', 'tie1', 'tie2', 'tie3', 'late']);
  loop.close();
});

test('callLater never fires before its deadline by loop.time()', async () => {
  const loop = newEventLoop();
  let fired;
  const start = loop.time();
  await runFor(loop, (done) => loop.callLater(7, () => { fired = loop.time(); done(); }));
  assert.ok(fired - start >= 7, `fired after ${fired - start} ms`);
  loop.close();
});

test('cancelled timers are purged when they are more than half the heap', async () => {
  const loop = newEventLoop();
  const handles = [];
  for (let i = 0; i < 300; i++) handles.push(loop.callLater(100000 + i, () => {}));
  for (let i = 0; i < 200; i++) handles[i].cancel();
  assert.equal(loop._timers.length, 300);
  loop.callSoon(() => loop.stop());
  await loop.runForever();
  assert.equal(loop._timers.length, 100);
  for (const h of handles) h.cancel();
  loop.close();
});

test('a cancelled timer does not run; an earlier timer re-arms the Node timer', async () => {
  const loop = newEventLoop();
  const seen = [];
  await runFor(loop, (done) => {
    loop.callLater(10000, () => seen.push('never')).cancel();
    loop.callLater(50000, () => seen.push('far')); // armed first
    loop.callLater(2, () => { seen.push('near'); done(); }); // must not wait for the far one
  });
  assert.deepEqual(seen, ['near']);
  loop.close();
});

test('Node timers, fs and promises keep working while the loop runs', async () => {
  await run(async () => {
    const nodeTimer = new Promise((r) => setTimeout(() => r('timer'), 1));
    const immediate = new Promise((r) => setImmediate(() => r('immediate')));
    const file = fs.promises.readFile(__filename, 'utf8');
    // a busy loop: a task that yields constantly must not starve Node
    let spins = 0;
    const busy = getRunningLoop().createTask(function* () { for (;;) { spins++; yield; } });
    assert.equal(await nodeTimer, 'timer');
    assert.equal(await immediate, 'immediate');
    assert.match(await file, /keep working/);
    assert.ok(spins > 0);
    busy.cancel();
  });
});

test('exception handler receives callback errors with the handle; the loop keeps going', async () => {
  const loop = newEventLoop();
  const contexts = [];
  loop.setExceptionHandler((l, ctx) => { assert.equal(l, loop); contexts.push(ctx); });
  let after = false;
  loop.callSoon(function failing() { throw new Error('oops'); });
  loop.callSoon(() => { after = true; loop.stop(); });
  await loop.runForever();
  assert.equal(after, true);
  assert.equal(contexts.length, 1);
  assert.equal(contexts[0].exception.message, 'oops');
  assert.match(contexts[0].message, /failing/);
  assert.ok(contexts[0].handle);
  loop.close();
});

test('default exception handler logs through the loop logger at error level', async () => {
  const lines = [];
  const logger = createLogger({ level: 'debug', sink: (line, level) => lines.push([level, line]) });
  const loop = newEventLoop({ logger });
  loop.callExceptionHandler({ message: 'something broke', exception: new Error('why') });
  assert.equal(lines.length, 1);
  const [level, line] = lines[0];
  assert.equal(level, 'error');
  assert.match(line, /ERROR something broke, Error: why\n {4}at /, 'the stack follows the line, at error level');
  loop.close();
});

test('a failing exception handler falls back to the default handler', () => {
  const lines = [];
  const loop = newEventLoop({ logger: createLogger({ sink: (line) => lines.push(line) }) });
  loop.setExceptionHandler(() => { throw new Error('handler broke'); });
  loop.callExceptionHandler({ message: 'x' });
  assert.ok(lines.some((l) => /handler broke/.test(l)));
  loop.close();
});

test('debug mode: a slow callback is logged at warn', async () => {
  const lines = [];
  const loop = newEventLoop({ debug: true, logger: createLogger({ level: 'warn', sink: (line, level) => lines.push([level, line]) }) });
  assert.equal(loop.getDebug(), true);
  loop.slowCallbackDuration = 5;
  loop.callSoon(function slowOne() { const t = performance.now(); while (performance.now() - t < 10); });
  loop.callSoon(() => loop.stop());
  await loop.runForever();
  assert.ok(lines.some(([lvl, l]) => lvl === 'warn' && /slowOne/.test(l)), JSON.stringify(lines));
  loop.close();
});

test('runUntilComplete resolves to the result; stop before completion is an error; running twice is an error', async () => {
  const loop = newEventLoop();
  assert.equal(await loop.runUntilComplete(function* () { yield* sleep(1); return 3; }), 3);
  const f = loop.createFuture();
  loop.callSoon(() => loop.stop());
  await assert.rejects(loop.runUntilComplete(f), (e) => e.code === 'ERR_LOOP_STOPPED');
  const p = loop.runForever();
  await assert.rejects(loop.runForever(), (e) => e.code === 'ERR_LOOP_RUNNING');
  assert.equal(loop.isRunning(), true);
  assert.throws(() => loop.close(), (e) => e.code === 'ERR_LOOP_RUNNING');
  loop.stop();
  await p;
  f.cancel();
  loop.close();
  loop.close(); // idempotent
  assert.equal(loop.isClosed(), true);
  assert.throws(() => loop.callSoon(() => {}), (e) => e.code === 'ERR_LOOP_CLOSED');
  await assert.rejects(loop.runForever(), (e) => e.code === 'ERR_LOOP_CLOSED');
});

test('bad input: non-function callbacks, bad delays, bad fds, bad backend → TypeError / RangeError with a code', () => {
  const loop = newEventLoop();
  const type = (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE';
  const range = (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE';
  assert.throws(() => loop.callSoon(1), type);
  assert.throws(() => loop.callLater('5', () => {}), type);
  assert.throws(() => loop.callLater(NaN, () => {}), type);
  // Node's own convention (and the Selector's): a number of the wrong value is a RangeError.
  assert.throws(() => loop.addReader(-1, () => {}), range);
  assert.throws(() => loop.addWriter(1.5, () => {}), range);
  assert.throws(() => loop.addReader('3', () => {}), type);
  assert.throws(() => loop.addReader(0, null), TypeError);
  assert.throws(() => newEventLoop({ backend: 'iocp' }), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_VALUE');
  assert.throws(() => loop.setExceptionHandler(5), TypeError);
  loop.close();
});

for (const backend of ['auto', ...binding.backends]) {
  test(`addReader/addWriter on a real socketpair (${backend}): level-triggered, one handle per fd, removal keeps the other`, async () => {
    const loop = newEventLoop({ backend });
    const [a, b] = binding.socketpair('stream');
    try {
      const got = [];
      await runFor(loop, (done) => {
        let writes = 0;
        loop.addWriter(a, () => {
          // writable at once: send one message, then stop watching for writability
          binding.send(a, Buffer.from('ping'), 0, 4);
          writes++;
          assert.equal(loop.removeWriter(a), true);
          assert.equal(loop.removeWriter(a), false);
        });
        loop.addReader(b, () => { throw new Error('replaced handle must not run'); });
        loop.addReader(b, (tag) => {
          const buf = Buffer.alloc(16);
          const n = binding.recv(b, buf, 0, 16);
          got.push(tag + ':' + buf.toString('latin1', 0, n));
          assert.equal(writes, 1);
          assert.equal(loop.removeReader(b), true);
          done();
        }, 'b');
      });
      assert.deepEqual(got, ['b:ping']);
      assert.equal(loop.backend, backend === 'auto' ? binding.backends[0] : backend);

      // reader and writer on the same fd: removing the writer keeps the reader
      const seen = [];
      await runFor(loop, (done) => {
        loop.addReader(a, () => { const buf = Buffer.alloc(8); binding.recv(a, buf, 0, 8); seen.push('read'); loop.removeReader(a); done(); });
        loop.addWriter(a, () => { seen.push('write'); loop.removeWriter(a); binding.send(b, Buffer.from('x'), 0, 1); });
      });
      assert.deepEqual(seen, ['write', 'read']);
    } finally {
      loop.close();
      binding.close(a);
      binding.close(b);
    }
  });
}

test('HUP wakes the reader (peer closed)', async () => {
  const loop = newEventLoop();
  const [a, b] = binding.socketpair('stream');
  let eof = null;
  await runFor(loop, (done) => {
    loop.addReader(a, () => { const buf = Buffer.alloc(4); eof = binding.recv(a, buf, 0, 4); loop.removeReader(a); done(); });
    loop.callSoon(() => binding.close(b));
  });
  assert.equal(eof, 0);
  loop.close();
  binding.close(a);
});

test('addReader on an fd that is not open fails with EBADF and leaves no handle behind', () => {
  const loop = newEventLoop();
  assert.throws(() => loop.addReader(100000 - 1, () => {}), (e) => e.code === 'EBADF' || e.code === 'ERR_OUT_OF_RANGE');
  assert.equal(loop.removeReader(100000 - 1), false);
  loop.close();
});

test('debug mode: closing the loop reports each task destroyed while pending', async () => {
  const loop = newEventLoop({ debug: true });
  const contexts = [];
  loop.setExceptionHandler((_loop, context) => contexts.push(context));
  const never = loop.createFuture();
  const stuck = loop.createTask(function* () {
    yield* never;
  }, { name: 'stuck' });
  const finished = loop.createTask(function* () {
    return 1;
  });
  await loop.runUntilComplete(finished);
  loop.close();
  assert.deepEqual(contexts.map((c) => [c.message, c.task]), [['Task was destroyed but it is pending!', stuck]]);

  // Without debug mode nothing is reported.
  const quiet = newEventLoop();
  const quietContexts = [];
  quiet.setExceptionHandler((_loop, context) => quietContexts.push(context));
  quiet.createTask(function* () {
    yield* quiet.createFuture();
  });
  await quiet.runUntilComplete(quiet.createTask(function* () {}));
  quiet.close();
  assert.deepEqual(quietContexts, []);
});
