'use strict';
// Behaviours pinned by CPython's test_waitfor.py, test_timeouts.py and test_taskgroups.py.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, getRunningLoop, currentTask, sleep, waitFor, timeout, TaskGroup, wait, CancelledError, TimeoutError } = require('evloop');

const loopOf = () => getRunningLoop();

test('waitFor returns the result when in time (both styles)', async () => {
  assert.equal(await run(async () => await waitFor(sleep(1, 'v'), 1000)), 'v');
  assert.equal(await run(function* () { return yield* waitFor(sleep(1, 'g'), 1000); }), 'g');
});

test('waitFor on time-out cancels the inner task, waits for its cleanup, then throws TimeoutError', async () => {
  await run(async () => {
    const log = [];
    const inner = loopOf().createTask(async () => {
      try { await sleep(10000); } catch (e) { log.push('cancelled'); await sleep(2); log.push('cleaned up'); throw e; }
    });
    await assert.rejects(async () => { await waitFor(inner, 5); }, TimeoutError);
    assert.deepEqual(log, ['cancelled', 'cleaned up']);
    assert.equal(inner.cancelled(), true);
    assert.equal(inner.status, -125);
  });
});

test('waitFor: an inner task that suppresses the cancellation and returns a value gives that value', async () => {
  await run(function* () {
    const r = yield* waitFor(loopOf().createTask(function* () {
      try { yield* sleep(10000); } catch (e) { return 42; }
    }), 2);
    assert.equal(r, 42);
  });
});

test('waitFor with timeout 0 or less times out a pending awaitable; a done one returns its result', async () => {
  await run(async () => {
    await assert.rejects(async () => { await waitFor(sleep(1000), 0); }, TimeoutError);
    const f = loopOf().createFuture();
    f.setResult('done');
    assert.equal(await waitFor(f, 0), 'done');
  });
});

// asyncio's wait_for(coro, 0) cancels the task it wrapped the coroutine in before its first
// step: the coroutine never runs (test_waitfor.py: test_wait_for_timeout_less_then_0_or_0_*).
test('waitFor(coroutine, 0 or less) never starts the coroutine', async () => {
  for (const ms of [0, -5]) {
    let started = false;
    let cleanedUp = false;
    await run(function* () {
      const gen = (function* () {
        started = true;
        try {
          yield* sleep(1000);
        } finally {
          cleanedUp = true;
        }
      })();
      let err;
      try {
        yield* waitFor(gen, ms);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof TimeoutError);
      assert.equal(started, false);
      assert.equal(cleanedUp, false);
      // The generator is finished: resuming it does nothing.
      assert.deepEqual(gen.next(), { value: undefined, done: true });
    });
    await run(async () => {
      let asyncStarted = false;
      const gen = (function* () { asyncStarted = true; yield* sleep(1000); })();
      await assert.rejects(async () => { await waitFor(gen, ms); }, TimeoutError);
      assert.equal(asyncStarted, false);
    });
  }
});

test('waitFor with null timeout just waits', async () => {
  assert.equal(await run(async () => await waitFor(sleep(1, 1), null)), 1);
});

test('cancelling the waitFor future (or its awaiting task) cancels the inner and ends cancelled', async () => {
  await run(async () => {
    const inner = loopOf().createTask(function* () { yield* sleep(10000); });
    const outer = loopOf().createTask(async () => { await waitFor(inner, 10000); });
    await sleep(0);
    outer.cancel();
    await wait([outer]);
    assert.equal(outer.cancelled(), true);
    assert.equal(inner.cancelled(), true);
  });
});

test('waitFor: the inner raising an error passes it through', async () => {
  await run(async () => {
    await assert.rejects(async () => { await waitFor(loopOf().createTask(async () => { throw new RangeError('r'); }), 1000); }, RangeError);
  });
});

test('timeout(ms, body) resolves to the body result (async and generator bodies)', async () => {
  await run(async () => {
    assert.equal(await timeout(1000, async () => { await sleep(1); return 'a'; }), 'a');
    assert.equal(await timeout(1000, function* () { yield* sleep(1); return 'g'; }), 'g');
    assert.equal(await timeout(null, async () => 'none'), 'none');
  });
});

test('timeout: an expired body is cancelled and TimeoutError is thrown; expired() is true', async () => {
  await run(async () => {
    let sawCancel = false;
    const t = timeout(5, async () => { try { await sleep(10000); } catch (e) { sawCancel = e instanceof CancelledError; throw e; } });
    await assert.rejects(async () => { await t; }, TimeoutError);
    assert.equal(sawCancel, true);
    assert.equal(t.expired(), true);
  });
});

test('nested timeouts: only the expired one throws TimeoutError', async () => {
  await run(async () => {
    // inner expires: the outer body catches the inner TimeoutError and finishes normally
    const r = await timeout(10000, async () => {
      try { await timeout(2, async () => { await sleep(10000); }); } catch (e) { return e instanceof TimeoutError ? 'inner expired' : 'other'; }
      return 'no';
    });
    assert.equal(r, 'inner expired');
    // outer expires: the inner sees a cancellation, not a TimeoutError, and the outer throws
    let innerSaw;
    const outer = timeout(3, async () => {
      try { await timeout(10000, async () => { await sleep(10000); }); } catch (e) { innerSaw = e; throw e; }
    });
    await assert.rejects(async () => { await outer; }, TimeoutError);
    assert.ok(innerSaw instanceof CancelledError);
  });
});

test('timeout: reschedule moves the deadline; when() reports it', async () => {
  await run(async () => {
    const t = timeout(10000, async (cm) => { cm.reschedule(loopOf().time() + 2); await sleep(10000); });
    assert.ok(t.when() > loopOf().time());
    await assert.rejects(async () => { await t; }, TimeoutError);
  });
});

test('timeout: the body being cancelled from outside propagates CancelledError, not TimeoutError', async () => {
  await run(async () => {
    const t = timeout(10000, async () => { await sleep(10000); });
    await sleep(0);
    t.cancel();
    await assert.rejects(async () => { await t; }, CancelledError);
  });
});

test('timeout: a body that suppresses the cancellation keeps its result', async () => {
  await run(function* () {
    const r = yield* timeout(2, function* () { try { yield* sleep(10000); } catch (e) { return 'suppressed'; } });
    assert.equal(r, 'suppressed');
  });
});

test('TaskGroup waits for all children and returns the body result (async and generator)', async () => {
  await run(async () => {
    const done = [];
    // 'a' waits for 'b' through a future, not a longer sleep: under load, the two sleeps' deadlines
    // can land in either order (the process may be descheduled between the two calls).
    const bDone = getRunningLoop().createFuture();
    const r = await TaskGroup.run(async (tg) => {
      tg.createTask(async () => { await bDone; done.push('a'); });
      tg.createTask(function* () { yield* sleep(1); done.push('b'); bDone.setResult(); });
      return 'body';
    });
    assert.equal(r, 'body');
    assert.deepEqual(done, ['b', 'a']);
    const g = await TaskGroup.run(function* (tg) {
      const t = tg.createTask(function* () { yield* sleep(1); return 5; });
      yield* sleep(0);
      return [t];
    });
    assert.equal(g[0].result(), 5);
  });
});

test('TaskGroup: the first failure cancels siblings and the body; AggregateError of the failures', async () => {
  await run(async () => {
    const log = [];
    let err;
    // Both failures wake from one future, so they run in the same pass, before the group hears of
    // either (two sleep(1) timers may fall due microseconds apart and fire in different passes).
    const go = getRunningLoop().createFuture();
    try {
      await TaskGroup.run(async (tg) => {
        tg.createTask(async () => { try { await sleep(10000); } catch (e) { log.push('sibling cancelled'); throw e; } });
        tg.createTask(async () => { await go; throw new RangeError('r1'); });
        tg.createTask(function* () { yield* go; throw new TypeError('r2'); });
        getRunningLoop().callLater(1, () => go.setResult());
        try { await sleep(10000); } catch (e) { log.push('body cancelled'); throw e; }
      });
    } catch (e) { err = e; }
    assert.ok(err instanceof AggregateError);
    assert.deepEqual(err.errors.map((e) => e.constructor.name).sort(), ['RangeError', 'TypeError']);
    assert.deepEqual(log.sort(), ['body cancelled', 'sibling cancelled']);
    assert.equal(currentTask().cancelling(), 0);
  });
});

test('TaskGroup: an error in the body cancels the children and is reported in the AggregateError', async () => {
  await run(function* () {
    let child;
    let err;
    try {
      yield* TaskGroup.run(function* (tg) {
        child = tg.createTask(function* () { yield* sleep(10000); });
        yield* sleep(0);
        throw new Error('body failed');
      });
    } catch (e) { err = e; }
    assert.ok(err instanceof AggregateError);
    assert.equal(err.errors[0].message, 'body failed');
    assert.equal(child.cancelled(), true);
  });
});

test('TaskGroup: cancelling the group task reaches every child and propagates CancelledError', async () => {
  await run(async () => {
    const kids = [];
    const g = TaskGroup.run(async (tg) => {
      kids.push(tg.createTask(async () => { await sleep(10000); }));
      kids.push(tg.createTask(function* () { yield* sleep(10000); }));
      await sleep(10000);
    });
    await sleep(1);
    g.cancel();
    await assert.rejects(async () => { await g; }, CancelledError);
    assert.ok(kids.every((k) => k.cancelled()));
  });
});

test('TaskGroup: its own cancellation of the body is withdrawn afterwards (cancelling() restored)', async () => {
  await run(async () => {
    const g = TaskGroup.run(async (tg) => {
      tg.createTask(async () => { throw new Error('x'); });
      try { await sleep(10000); } catch (e) { /* the group cancelled us */ }
      return currentTask().cancelling();
    });
    let err;
    try { await g; } catch (e) { err = e; }
    assert.ok(err instanceof AggregateError);
    assert.equal(g.cancelling(), 0);
  });
});

test('TaskGroup: createTask after it finished or while it shuts down throws', async () => {
  await run(async () => {
    let saved;
    await TaskGroup.run(async (tg) => { saved = tg; });
    assert.throws(() => saved.createTask(async () => {}), (e) => e.code === 'ERR_TASKGROUP_STATE');
    assert.throws(() => TaskGroup.run(42), TypeError);
  });
});
