'use strict';
// gather(): what its bookkeeping (children as listed, a count of the distinct ones) must keep.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, getRunningLoop, sleep, gather, CancelledError } = require('evloop');

test('cancelling a gather that lists children more than once cancels each once, and ends cancelled once they settle', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const a = loop.createTask(async () => { await sleep(10000); });
    const b = loop.createTask(function* () { yield* sleep(10000); });
    const done = loop.createFuture();
    done.setResult(1);
    const g = gather([a, b, a, done, b]);
    await sleep(0);
    assert.equal(g.cancel('enough'), true);
    assert.equal(g.cancel(), true, 'still pending: its children have not settled yet');
    await assert.rejects(async () => { await g; }, CancelledError);
    assert.ok(a.cancelled() && b.cancelled());
    assert.equal(a.cancelling(), 2, 'two cancel() calls on the gather, each reaching a once');
  });
});

test('gather with returnExceptions counts a repeated child once: the gather ends when the last distinct one does', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const slow = loop.createTask(async () => { await sleep(5); return 'slow'; });
    const fast = loop.createTask(async () => { await sleep(1); throw new RangeError('fast'); });
    const out = await gather([fast, fast, slow, fast], { returnExceptions: true });
    assert.equal(out.length, 4);
    assert.ok(out[0] instanceof RangeError);
    assert.equal(out[0], out[1]);
    assert.equal(out[0], out[3]);
    assert.equal(out[2], 'slow');
  });
});

test('gather of 70,000 sleeping futures (past 64K slots) keeps argument order', async () => {
  await run(async () => {
    const n = 70000;
    const fs = [];
    for (let i = 0; i < n; i++) fs.push(sleep(i % 3, i));
    const out = await gather(fs);
    assert.equal(out.length, n);
    for (let i = 0; i < n; i++) if (out[i] !== i) assert.fail(`slot ${i} holds ${out[i]}`);
  });
});

test('gather of a sparse array: a hole is no awaitable', async () => {
  await run(async () => {
    // eslint-disable-next-line no-sparse-arrays
    assert.throws(() => gather([sleep(0), , sleep(0)]), TypeError);
  });
});
