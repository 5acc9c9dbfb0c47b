'use strict';
// `yield* fut` outside and inside a Task: the iterator is its own iterator result (see FutureIter).
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, getRunningLoop, sleep, CancelledError } = require('evloop');

test('iterating a future by hand: the future once while pending, then ERR_NOT_DRIVEN until done, then its result', async () => {
  await run(async () => {
    const fut = getRunningLoop().createFuture();
    const it = fut[Symbol.iterator]();
    const first = it.next();
    assert.equal(first.done, false);
    assert.equal(first.value, fut);
    assert.throws(() => it.next(), { code: 'ERR_NOT_DRIVEN' });
    fut.setResult(42);
    const last = it.next();
    assert.equal(last.done, true);
    assert.equal(last.value, 42);
    assert.deepEqual([...fut], [], 'a done future yields nothing');
    const failed = getRunningLoop().createFuture();
    failed.setException(new RangeError('no'));
    assert.throws(() => failed[Symbol.iterator]().next(), RangeError);
  });
});

test('yield* of sleeps in a generator task: values, a failure and a cancellation reach the generator', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    assert.equal(yield* sleep(1, 'a'), 'a');
    assert.equal(yield* sleep(0, 'b'), 'b');
    const failing = loop.createFuture();
    loop.callSoon(() => failing.setException(new RangeError('late')));
    let caught;
    try { yield* failing; } catch (e) { caught = e; }
    assert.ok(caught instanceof RangeError);
    const t = loop.createTask(function* () {
      try { yield* sleep(10000); } catch (e) { return e instanceof CancelledError ? 'cancelled' : 'other'; }
      return 'woke';
    });
    yield* sleep(0);
    t.cancel();
    assert.equal(yield* t, 'cancelled');
  });
});
