'use strict';
// How a Task drives what it is given as a generator coroutine: native generators (from one
// function or a function* made per task), and iterators that are no native generator.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, getRunningLoop, sleep, gather, CancelledError } = require('evloop');

test('generator functions made per task: results in order, a sleeping one cancellable', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const tasks = [];
    for (let i = 0; i < 50; i++) tasks.push(loop.createTask(function* () { yield* sleep(i % 5); return i; }));
    const victim = loop.createTask(function* () { yield* sleep(10000); return 'woke'; });
    yield* sleep(0);
    victim.cancel('stop');
    assert.deepEqual(yield* gather(tasks), Array.from({ length: 50 }, (_, i) => i));
    try {
      yield* victim;
      assert.fail('not cancelled');
    } catch (e) {
      assert.ok(e instanceof CancelledError);
      assert.equal(e.message, 'stop');
    }
    assert.ok(victim.cancelled());
  });
});

test('an iterator that is no native generator is driven as one: values in, cancellation thrown in, getCoro() is the iterator', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const log = [];
    const reached = loop.createFuture();
    const never = loop.createFuture();
    // A hand-written coroutine: waits on a sleep, then on a future it is cancelled in.
    let stage = 0;
    const coro = {
      next(v) {
        log.push(['next', v]);
        stage++;
        if (stage === 1) return { value: sleep(1, 'one'), done: false };
        if (stage === 2) {
          reached.setResult(null);
          return { value: never, done: false };
        }
        return { value: 'unreachable', done: true };
      },
      throw(e) {
        log.push(['throw', e instanceof CancelledError]);
        return { value: 'caught', done: true };
      },
    };
    const t = loop.createTask(coro);
    assert.equal(t.getCoro(), coro);
    yield* reached;
    assert.equal(t.done(), false);
    t.cancel();
    assert.equal(yield* t, 'caught');
    assert.ok(never.cancelled());
    assert.deepEqual(log, [['next', undefined], ['next', 'one'], ['throw', true]]);
    assert.equal(t.getCoro(), coro);
  });
});

test('a native generator is resumed with the generator methods themselves, as asyncio sends to a coroutine', async () => {
  await run(function* () {
    function* body() { const v = yield* sleep(1, 'v'); return v; }
    const gen = body();
    let shadowed = 0;
    gen.next = () => { shadowed++; return { value: 'wrong', done: true }; };
    const t = getRunningLoop().createTask(gen);
    assert.equal(t.getCoro(), gen);
    assert.equal(yield* t, 'v');
    assert.equal(shadowed, 0);
  });
});

test('an async-function task and a generator task, each sleeping, both cancellable; gather of both settles with their outcomes', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const g = loop.createTask(function* () { yield* sleep(10000); });
    const a = loop.createTask(async () => { await sleep(10000); });
    const ok = loop.createTask(function* () { yield* sleep(1); return 'ok'; });
    await sleep(0);
    assert.ok(g.cancel());
    assert.ok(a.cancel());
    const out = await gather([g, a, ok, g], { returnExceptions: true });
    assert.ok(out[0] instanceof CancelledError);
    assert.ok(out[1] instanceof CancelledError);
    assert.equal(out[2], 'ok');
    assert.equal(out[3], out[0]);
  });
});

test('createTask(generator function): a throwing parameter default fails the task; a bound one is driven; currentTask() in its body', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const { currentTask } = require('evloop');
    const bad = loop.createTask(function* (x = (() => { throw new RangeError('default'); })()) { yield* sleep(0); return x; });
    let caught;
    try { yield* bad; } catch (e) { caught = e; }
    assert.ok(caught instanceof RangeError);
    const self = { v: 7 };
    let seen;
    const bound = loop.createTask(function* () { seen = currentTask(); yield* sleep(0); return this.v; }.bind(self));
    assert.equal(yield* bound, 7);
    assert.equal(seen, bound);
  });
});

test('an async generator is no coroutine a task can drive: the task fails with TypeError at its first step', async () => {
  await run(async () => {
    async function* ag() { yield 1; }
    const t = getRunningLoop().createTask(ag());
    await assert.rejects(async () => { await t; }, TypeError);
  });
});
