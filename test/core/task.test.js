'use strict';
// Behaviours pinned by CPython's test_tasks.py, in both coroutine styles.
const test = require('node:test');
const assert = require('node:assert/strict');
const {
  run, getRunningLoop, currentTask, allTasks, sleep, gather, shield, wait, asCompleted, ensureFuture,
  Task, CancelledError, TimeoutError, Status, FIRST_COMPLETED, FIRST_EXCEPTION,
} = require('evloop');

const loopOf = () => getRunningLoop();

test('task result: generator and async coroutines', async () => {
  const r = await run(function* () {
    const a = loopOf().createTask(function* () { yield* sleep(1); return 'gen'; });
    const b = loopOf().createTask(async () => { await sleep(1); return 'async'; });
    const c = loopOf().createTask((async () => { await sleep(1); return 'promise'; })());
    return [yield* a, yield* b, yield* c];
  });
  assert.deepEqual(r, ['gen', 'async', 'promise']);
});

test('task exception propagates to the awaiter', async () => {
  await assert.rejects(run(async () => {
    const t = loopOf().createTask(function* () { yield* sleep(0); throw new RangeError('inner'); });
    await t;
  }), RangeError);
});

test('cancel a generator task: CancelledError is thrown in at its suspension point, and it may catch it', async () => {
  await run(function* () {
    const log = [];
    const t = loopOf().createTask(function* () {
      try {
        yield* sleep(10000);
      } catch (e) {
        log.push(e instanceof CancelledError ? 'cancelled:' + e.message : 'other');
        yield* sleep(0); // cleanup may still await
        return 'recovered';
      }
    });
    yield* sleep(0);
    assert.equal(t.cancel('msg'), true);
    assert.equal(yield* t, 'recovered');
    assert.deepEqual(log, ['cancelled:msg']);
    assert.equal(t.cancelled(), false);
  });
});

test('cancel an async task: the evloop future it awaits is cancelled and it sees CancelledError', async () => {
  await run(async () => {
    const log = [];
    const t = loopOf().createTask(async () => {
      try {
        await sleep(10000);
      } catch (e) {
        log.push(e.constructor.name + ':' + e.message);
        throw e;
      }
    });
    await sleep(0);
    t.cancel('bye');
    await assert.rejects(async () => { await t; }, (e) => e instanceof CancelledError && e.message === 'bye');
    assert.equal(t.cancelled(), true);
    assert.equal(t.status, -125);
    assert.deepEqual(log, ['CancelledError:bye']);
  });
});

test('createTask(child()) — an already-started async function — is cancellable too', async () => {
  await run(async () => {
    let seen = null;
    async function child() {
      try { await sleep(10000); } catch (e) { seen = e; throw e; }
    }
    const t = loopOf().createTask(child());
    const other = loopOf().createTask(child.bind(null)); // function form
    await sleep(0);
    t.cancel();
    await wait([t]);
    assert.ok(seen instanceof CancelledError);
    assert.equal(t.cancelled(), true);
    assert.equal(other.done(), false, 'cancelling one task must not reach another');
    other.cancel();
    await wait([other]);
    assert.equal(other.cancelled(), true);
  });
});

test('cancel before the first step: the coroutine never runs', async () => {
  await run(function* () {
    let ran = false;
    const t = loopOf().createTask(function* () { ran = true; });
    const a = loopOf().createTask(async () => { ran = true; });
    t.cancel();
    a.cancel();
    yield* wait([t, a]);
    assert.equal(ran, false);
    assert.equal(t.cancelled(), true);
    assert.equal(a.cancelled(), true);
  });
});

test('cancel while running (no awaited future): delivered at the next suspension', async () => {
  await run(function* () {
    const events = [];
    const t = loopOf().createTask(function* () {
      currentTask().cancel();
      events.push('still running');
      try { yield* sleep(0); } catch (e) { events.push('cancelled at yield'); throw e; }
    });
    yield* wait([t]);
    assert.deepEqual(events, ['still running', 'cancelled at yield']);
    assert.equal(t.cancelled(), true);
  });
});

test('cancel of a task that returns without suspending again ends it cancelled (must_cancel)', async () => {
  await run(async () => {
    const t = loopOf().createTask(async () => {
      currentTask().cancel();
      return 1;
    });
    await wait([t]);
    assert.equal(t.cancelled(), true);
  });
});

test('cancel a task awaiting a task cancels the inner task (generator and async)', async () => {
  await run(function* () {
    const inner = loopOf().createTask(function* () { yield* sleep(10000); });
    const outer = loopOf().createTask(function* () { yield* inner; });
    const innerA = loopOf().createTask(async () => { await sleep(10000); });
    const outerA = loopOf().createTask(async () => { await innerA; });
    yield* sleep(0);
    outer.cancel();
    outerA.cancel();
    yield* wait([outer, inner, outerA, innerA]);
    assert.ok(inner.cancelled() && outer.cancelled() && innerA.cancelled() && outerA.cancelled());
  });
});

test('cancelling() counts requests; uncancel() withdraws them', async () => {
  await run(function* () {
    const t = loopOf().createTask(function* () {
      try { yield* sleep(10000); } catch (e) { /* swallow */ }
      return currentTask().cancelling();
    });
    yield* sleep(0);
    assert.equal(t.cancelling(), 0);
    t.cancel();
    t.cancel();
    assert.equal(t.cancelling(), 2);
    assert.equal(t.uncancel(), 1);
    assert.equal(yield* t, 1);
  });
});

test('a task awaiting itself gets an error (generator and async)', async () => {
  await run(async () => {
    const g = loopOf().createTask(function* () { yield* currentTask(); });
    const a = loopOf().createTask(async () => { await currentTask(); });
    await wait([g, a]);
    assert.equal(g.exception().code, 'ERR_TASK_AWAIT_SELF');
    assert.equal(a.exception().code, 'ERR_TASK_AWAIT_SELF');
  });
});

test('currentTask() inside generator steps and async continuations; undefined outside', async () => {
  assert.equal(currentTask(), undefined);
  await run(async () => {
    const me = currentTask();
    assert.ok(me instanceof Task);
    await sleep(1);
    assert.equal(currentTask(), me);
    // (a Task is thenable: returning one from an async function would adopt it, so wrap it)
    async function helper() { await sleep(0); return [currentTask()]; }
    assert.equal((await helper())[0], me);
    const g = loopOf().createTask(function* () { const t1 = currentTask(); yield* sleep(0); return [t1, currentTask()]; });
    const [a, b] = await g;
    assert.equal(a, g);
    assert.equal(b, g);
    const c = loopOf().createTask((async () => { await sleep(0); return [currentTask()]; })());
    assert.equal((await c)[0], c);
    assert.equal(currentTask(), me);
  });
});

test('allTasks() lists the pending tasks of the loop', async () => {
  await run(async () => {
    const t = loopOf().createTask(function* () { yield* sleep(10000); });
    const all = allTasks();
    assert.ok(all.has(t));
    assert.ok(all.has(currentTask()));
    t.cancel();
    await wait([t]);
    assert.equal(allTasks().has(t), false);
  });
});

test('names: default Task-N, option, getName/setName', async () => {
  await run(function* () {
    const a = loopOf().createTask(function* () {});
    assert.match(a.getName(), /^Task-\d+$/);
    const b = loopOf().createTask(function* () {}, { name: 'worker' });
    assert.equal(b.getName(), 'worker');
    b.setName('renamed');
    assert.equal(b.getName(), 'renamed');
    assert.match(String(b), /renamed/);
    yield* wait([a, b]);
  });
});

test('status: init before the first step, in process while running, callback band in done callbacks, then final', async () => {
  await run(function* () {
    const seen = [];
    const t = loopOf().createTask(function* () { seen.push(currentTask().status); yield* sleep(0); return 1; });
    seen.push(t.status);
    t.addDoneCallback((task) => seen.push(task.status));
    yield* wait([t]);
    yield* sleep(0);
    seen.push(t.status);
    assert.deepEqual(seen, [Status.INIT, Status.IN_PROCESS, Status.CALLBACK, 0]);
    assert.equal(t.statusMessage.length > 0, true);
  });
});

test('status: a task made from an already-started coroutine is in process from the start', async () => {
  await run(async () => {
    const t = loopOf().createTask((async () => { await sleep(1); return 2; })());
    assert.equal(t.status, Status.IN_PROCESS);
    assert.equal(await t, 2);
    assert.equal(t.status, 0);
  });
});

test('status: -125 cancelled, -110 TimeoutError, -errno for OS errors, err.status, else -999', async () => {
  await run(async () => {
    const mk = (fn) => loopOf().createTask(fn);
    const cancelled = mk(async () => { await sleep(10000); });
    const timedOut = mk(async () => { throw new TimeoutError(); });
    const refused = mk(function* () { const e = new Error('connect ECONNREFUSED'); e.code = 'ECONNREFUSED'; throw e; });
    const custom = mk(async () => { const e = new Error('retry'); e.status = -990; throw e; });
    const plain = mk(async () => { throw new Error('plain'); });
    await sleep(0);
    cancelled.cancel();
    await wait([cancelled, timedOut, refused, custom, plain]);
    assert.deepEqual([cancelled, timedOut, refused, custom, plain].map((t) => t.status), [-125, -110, -111, -990, -999]);
  });
});

test('createTask with an AbortSignal: abort cancels with the reason as message; already aborted cancels before the first step', async () => {
  await run(async () => {
    const ac = new AbortController();
    const t = loopOf().createTask(async () => { await sleep(10000); }, { signal: ac.signal });
    await sleep(0);
    ac.abort('enough');
    await assert.rejects(async () => { await t; }, (e) => e instanceof CancelledError && e.message === 'enough');
    let ran = false;
    const t2 = loopOf().createTask(function* () { ran = true; }, { signal: AbortSignal.abort(new Error('early')) });
    await wait([t2]);
    assert.equal(ran, false);
    assert.equal(t2.cancelled(), true);
    assert.throws(() => t2.result(), /early/);
  });
});

test('bad input: createTask of a non-coroutine, a Future, a bad signal → TypeError', async () => {
  await run(function* () {
    assert.throws(() => loopOf().createTask(42), TypeError);
    assert.throws(() => loopOf().createTask(loopOf().createFuture()), TypeError);
    assert.throws(() => loopOf().createTask(function* () {}, { signal: {} }), TypeError);
    assert.throws(() => loopOf().createTask(function* () {}, { name: 5 }), TypeError);
  });
});

test('Task does not support setResult / setException', async () => {
  await run(function* () {
    const t = loopOf().createTask(function* () {});
    assert.throws(() => t.setResult(1), /does not support/);
    assert.throws(() => t.setException(new Error()), /does not support/);
    yield* t;
  });
});

test('bad yield in a generator task throws TypeError into it', async () => {
  await run(function* () {
    const t = loopOf().createTask(function* () { yield 42; });
    yield* wait([t]);
    assert.ok(t.exception() instanceof TypeError);
  });
});

test('a generator may yield a promise (raw yield gets its value)', async () => {
  const v = await run(function* () { return yield Promise.resolve(7); });
  assert.equal(v, 7);
});

test('gather keeps order and fails on the first error; returnExceptions collects them', async () => {
  await run(async () => {
    const slow = (ms, v) => loopOf().createTask(function* () { yield* sleep(ms); return v; });
    assert.deepEqual(await gather(slow(3, 'a'), slow(1, 'b'), Promise.resolve('c')), ['a', 'b', 'c']);
    const boom = loopOf().createTask(async () => { throw new Error('boom'); });
    await assert.rejects(async () => { await gather(slow(1, 1), boom); }, /boom/);
    const boom2 = loopOf().createTask(async () => { throw new Error('boom2'); });
    const res = await gather([slow(1, 1), boom2], { returnExceptions: true });
    assert.equal(res[0], 1);
    assert.equal(res[1].message, 'boom2');
    assert.deepEqual(await gather(), []);
  });
});

test('gather counts an awaitable listed more than once once, and gives its result in every place', async () => {
  await run(async () => {
    const loop = loopOf();
    const pending = loop.createFuture();
    const done = loop.createFuture();
    done.setResult('d');
    const promise = Promise.resolve('p');
    let starts = 0;
    const gen = (function* () { starts++; yield* sleep(1); return 'g'; })();
    const both = loop.createTask(async () => { await sleep(1); return 'x'; });
    const g = gather([pending, done, pending, promise, gen, both, promise, done, gen, both]);
    assert.equal(g.done(), false);
    // Waiting on the pending future once: one done callback however often it is listed.
    assert.equal(typeof pending._callbacks, 'function');
    pending.setResult('f');
    assert.deepEqual(await g, ['f', 'd', 'f', 'p', 'g', 'x', 'p', 'd', 'g', 'x']);
    assert.equal(starts, 1, 'a repeated generator runs as one task');
  });
});

test('cancelling gather cancels its children', async () => {
  await run(function* () {
    const a = loopOf().createTask(function* () { yield* sleep(10000); });
    const b = loopOf().createTask(async () => { await sleep(10000); });
    const g = gather(a, b);
    yield* sleep(0);
    assert.equal(g.cancel(), true);
    let caught;
    try { yield* g; } catch (e) { caught = e; }
    assert.ok(caught instanceof CancelledError);
    yield* wait([a, b]); // the gather fails at the first cancelled child; the other follows
    assert.ok(a.cancelled() && b.cancelled());
  });
});

test('shield: cancelling the outer does not cancel the inner', async () => {
  await run(async () => {
    const inner = loopOf().createTask(function* () { yield* sleep(5); return 'inner done'; });
    const outer = shield(inner);
    await sleep(0);
    outer.cancel();
    await assert.rejects(async () => { await outer; }, CancelledError);
    assert.equal(await inner, 'inner done');
  });
});

test('wait: ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION, timeout returns without throwing; empty is an error', async () => {
  await run(async () => {
    const t = (ms, fail) => loopOf().createTask(function* () { yield* sleep(ms); if (fail) throw new Error('f'); return ms; });
    // b waits on a gate, not a longer sleep: on a loaded machine both sleeps could be over.
    const gate = loopOf().createFuture();
    const a = t(1), b = loopOf().createTask(function* () { return yield* gate; });
    let [done, pending] = await wait([a, b], { returnWhen: FIRST_COMPLETED });
    assert.ok(done.has(a) && pending.has(b));
    gate.setResult(30);
    [done, pending] = await wait([b]);
    assert.ok(done.has(b) && pending.size === 0);
    const c = t(1, true), d = t(10000);
    [done, pending] = await wait([c, d], { returnWhen: FIRST_EXCEPTION });
    assert.ok(done.has(c) && pending.has(d));
    [done, pending] = await wait([d], { timeout: 5 });
    assert.equal(done.size, 0);
    assert.ok(pending.has(d));
    d.cancel();
    assert.throws(() => wait([]), (e) => e.code === 'ERR_INVALID_ARG_VALUE');
    assert.throws(() => wait([d], { returnWhen: 'SOMETIMES' }), TypeError);
  });
});

test('asCompleted yields outcomes in completion order; timeout fails the rest with TimeoutError', async () => {
  await run(async () => {
    const t = (ms) => loopOf().createTask(function* () { yield* sleep(ms); return ms; });
    const order = [];
    for (const f of asCompleted([t(20), t(1), t(10)])) order.push(await f);
    assert.deepEqual(order, [1, 10, 20]);
    // The second never finishes; the time-out is long enough that a loaded machine still sees
    // the first finish before it.
    const never = loopOf().createFuture();
    const slots = asCompleted([t(1), never], { timeout: 200 });
    assert.equal(await slots[0], 1);
    await assert.rejects(async () => { await slots[1]; }, TimeoutError);
    for (const x of allTasks()) if (x !== currentTask()) x.cancel();
  });
});

test('ensureFuture: futures as is, generators as tasks, promises wrapped; others TypeError', async () => {
  await run(function* () {
    const f = loopOf().createFuture();
    assert.equal(ensureFuture(f), f);
    assert.ok(ensureFuture((function* () { return 1; })()) instanceof Task);
    const w = ensureFuture(Promise.resolve(3));
    assert.equal(yield* w, 3);
    assert.throws(() => ensureFuture(3), TypeError);
  });
});

test('run() cancels leftover tasks and closes the loop; main may be a function', async () => {
  let leftover;
  let loop;
  const r = await run(() => {
    loop = getRunningLoop();
    leftover = loop.createTask(async () => { await sleep(100000); });
    return (function* () { yield* sleep(0); return 'main'; })();
  });
  assert.equal(r, 'main');
  assert.equal(leftover.cancelled(), true);
  assert.equal(loop.isClosed(), true);
});

test('getRunningLoop throws when no loop runs', () => {
  assert.throws(() => getRunningLoop(), (e) => e.code === 'ERR_NO_RUNNING_LOOP');
});

test('two loops can run side by side inside Node', async () => {
  const [a, b] = await Promise.all([
    run(async () => { const l = getRunningLoop(); await sleep(2); return getRunningLoop() === l; }),
    run(function* () { const l = getRunningLoop(); yield* sleep(1); return getRunningLoop() === l; }),
  ]);
  assert.equal(a, true);
  assert.equal(b, true);
});
