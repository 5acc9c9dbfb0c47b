'use strict';
// Barrier: CPython's Lib/test/test_asyncio/test_locks.py (BarrierTests), in evloop's terms.
// asyncio's reset()/abort() are coroutines; evloop's act at once, so `await barrier.reset()`
// becomes `barrier.reset()`. `async with barrier as i` is `const i = await barrier.wait()`.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, Barrier, BrokenBarrierError, CancelledError, gather, wait } = require('evloop');
const { tick, until, spawn } = require('../helpers/sync-util');

const N = 5;

function gatherTasks(n, coro) {
  const tasks = [];
  for (let i = 0; i < n; i++) tasks.push(spawn(coro));
  return gather(tasks);
}

// test_barrier_parties and bad input
test('parties must be an integer >= 1', () => {
  for (const bad of [0, -4, 1.5]) assert.throws(() => new Barrier(bad), (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE');
  for (const bad of [undefined, '3', null]) assert.throws(() => new Barrier(bad), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
  const b = new Barrier(N);
  assert.equal(b.parties, N);
  assert.equal(b.nWaiting, 0);
  assert.equal(b.broken, false);
});

// test_repr
test('toString follows the states: filling, draining, resetting, broken', async () => {
  await run(async () => {
    const barrier = new Barrier(N);
    assert.equal(String(barrier), `<Barrier [filling, waiters:0/${N}]>`);
    const waiters = [];
    for (let i = 0; i < 2; i++) waiters.push(spawn(async () => barrier.wait()));
    await until(() => barrier.nWaiting === 2);
    assert.equal(String(barrier), `<Barrier [filling, waiters:2/${N}]>`);
    // wait() starts eagerly: the last party's call opens the barrier before it returns.
    for (let i = 0; i < N - 2; i++) waiters.push(barrier.wait());
    assert.equal(String(barrier), `<Barrier [draining, waiters:0/${N}]>`);
    for (let i = 0; i < 2; i++) waiters.push(spawn(async () => barrier.wait()));
    await gather(waiters.slice(0, N));
    await until(() => barrier.nWaiting === 2);
    barrier.reset();
    assert.ok(String(barrier).includes('resetting'));
    for (let i = 0; i < 2; i++) waiters.push(spawn(async () => barrier.wait()));
    await tick();
    barrier.abort();
    assert.equal(String(barrier), '<Barrier [broken]>');
    assert.equal(barrier.broken, true);
    const res = await gather(waiters, { returnExceptions: true });
    assert.ok(res.slice(N).every((r) => r instanceof BrokenBarrierError));
  });
});

// test_context_manager, test_filling_tasks_check_return_value
test('each of the parties gets a distinct arrival index, twice in a row (both styles)', async () => {
  await run(async () => {
    const barrier = new Barrier(N);
    const res = await gatherTasks(N, async () => {
      await barrier.wait();
      return barrier.wait();
    });
    assert.deepEqual(res.slice().sort(), [0, 1, 2, 3, 4]);
    assert.equal(barrier.nWaiting, 0);
    assert.equal(barrier.broken, false);
  });
  await run(function* () {
    const barrier = new Barrier(3);
    const res = yield* gatherTasks(3, function* () { return yield* barrier.wait(); });
    assert.deepEqual(res.slice().sort(), [0, 1, 2]);
  });
});

// test_filling_one_task, test_filling_one_task_twice
test('Barrier(1) opens for every single waiter', async () => {
  await run(async () => {
    const barrier = new Barrier(1);
    assert.equal(await barrier.wait(), 0);
    const t1 = barrier.wait();
    await tick();
    const t2 = barrier.wait();
    await tick();
    assert.equal(t1.result(), t2.result());
    assert.equal(barrier.nWaiting, 0);
    assert.equal(barrier.broken, false);
  });
});

// test_filling_task_by_task
test('nWaiting counts the tasks as they arrive', async () => {
  await run(async () => {
    const barrier = new Barrier(3);
    const t1 = spawn(async () => barrier.wait());
    await until(() => barrier.nWaiting === 1);
    const t2 = spawn(async () => barrier.wait());
    await until(() => barrier.nWaiting === 2);
    const t3 = spawn(async () => barrier.wait());
    await wait([t1, t2, t3]);
    assert.equal(barrier.nWaiting, 0);
    assert.equal(barrier.broken, false);
  });
});

// test_draining_state: asyncio's tasks see "draining" inside until the last one is out. Here
// each wait() is a task of its own, so the parties are all out by the time their callers resume;
// the draining state is observed right after the last arrival instead.
test('the barrier drains once full, and is filling again once every party is out', async () => {
  await run(async () => {
    const barrier = new Barrier(N);
    const tasks = [];
    for (let i = 0; i < N - 1; i++) tasks.push(spawn(async () => barrier.wait()));
    await until(() => barrier.nWaiting === N - 1);
    tasks.push(barrier.wait());
    assert.ok(String(barrier).includes('draining'));
    assert.equal(barrier.nWaiting, 0);
    const late = barrier.wait(); // blocked until the drain is over
    assert.deepEqual((await gather(tasks)).slice().sort(), [0, 1, 2, 3, 4]);
    assert.ok(String(barrier).includes('filling'));
    await until(() => barrier.nWaiting === 1);
    assert.equal(late.done(), false);
    barrier.abort();
    await assert.rejects(async () => { await late; }, BrokenBarrierError);
  });
});

// test_blocking_tasks_while_draining
test('tasks that wait again while the barrier drains are held until it has drained', async () => {
  await run(async () => {
    const rewait = 2;
    const barrier = new Barrier(N);
    const barrierNowaiting = new Barrier(N - rewait);
    let rewaitN = rewait;
    await gatherTasks(N, async () => {
      await barrier.wait();
      if (rewaitN > 0) {
        rewaitN--;
        await barrier.wait();
      } else {
        await barrierNowaiting.wait();
        await barrier.wait();
      }
    });
    assert.equal(barrier.nWaiting, 0);
  });
});

// test_filling_tasks_cancel_one
test('a waiter cancelled while filling leaves and the barrier still opens (both styles)', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const barrier = new Barrier(3);
      const results = [];
      const coro = style === 'async'
        ? async () => { await barrier.wait(); results.push(true); }
        : function* () { yield* barrier.wait(); results.push(true); };
      const t1 = spawn(coro);
      await until(() => barrier.nWaiting === 1);
      const t2 = spawn(coro);
      await until(() => barrier.nWaiting === 2);
      t1.cancel();
      await assert.rejects(async () => { await t1; }, CancelledError);
      await until(() => barrier.nWaiting === 1);
      const t3 = spawn(coro);
      await until(() => barrier.nWaiting === 2);
      const t4 = spawn(coro);
      await gather([t2, t3, t4]);
      assert.deepEqual(results, [true, true, true]);
      assert.equal(barrier.nWaiting, 0);
      assert.equal(barrier.broken, false);
    });
  }
});

// test_reset_barrier, test_abort_barrier
test('reset() of an idle barrier keeps it usable; abort() breaks it for later waits', async () => {
  await run(async () => {
    const barrier = new Barrier(1);
    barrier.reset();
    assert.equal(barrier.nWaiting, 0);
    assert.equal(barrier.broken, false);
    assert.equal(await barrier.wait(), 0);
    barrier.abort();
    assert.equal(barrier.broken, true);
    await assert.rejects(async () => { await barrier.wait(); }, (e) => e instanceof BrokenBarrierError && e.code === 'ERR_BROKEN_BARRIER');
  });
});

// test_reset_barrier_while_tasks_waiting
test('reset() fails the waiting tasks with BrokenBarrierError and leaves the barrier usable', async () => {
  await run(async () => {
    const barrier = new Barrier(N);
    const results = [];
    const tasks = [];
    for (let i = 0; i < N - 1; i++) {
      tasks.push(spawn(async () => {
        try {
          await barrier.wait();
        } catch (e) {
          if (e instanceof BrokenBarrierError) results.push(true);
          else throw e;
        }
      }));
    }
    await until(() => barrier.nWaiting === N - 1);
    barrier.reset();
    await gather(tasks);
    assert.equal(results.length, N - 1);
    assert.equal(barrier.nWaiting, 0);
    assert.ok(!String(barrier).includes('resetting'));
    assert.equal(barrier.broken, false);
  });
});

// test_reset_barrier_while_tasks_waiting_and_waiting_again
test('tasks broken by reset() can wait again and pass with a newcomer', async () => {
  await run(async () => {
    const barrier = new Barrier(N);
    const results1 = [];
    const results2 = [];
    const tasks = [];
    for (let i = 0; i < N - 1; i++) {
      tasks.push(spawn(async () => {
        try {
          await barrier.wait();
        } catch (e) {
          if (e instanceof BrokenBarrierError) results1.push(true);
        } finally {
          await barrier.wait();
          results2.push(true);
        }
      }));
    }
    await until(() => barrier.nWaiting === N - 1);
    barrier.reset();
    await until(() => results1.length === N - 1 && barrier.nWaiting === N - 1);
    spawn(async () => { await barrier.wait(); results2.push(true); });
    await gather(tasks);
    await until(() => results2.length === N);
    assert.equal(barrier.broken, false);
    assert.equal(barrier.nWaiting, 0);
  });
});

// test_abort_barrier_when_exception
test('abort() after an error breaks the barrier for everyone', async () => {
  await run(async () => {
    const barrier = new Barrier(N);
    const results1 = [];
    const results2 = [];
    await gatherTasks(N, async () => {
      try {
        const i = await barrier.wait();
        if (i === N >> 1) throw new RangeError('boom');
        await barrier.wait();
        results1.push(true);
      } catch (e) {
        if (e instanceof BrokenBarrierError) results2.push(true);
        else barrier.abort();
      }
    });
    assert.equal(barrier.broken, true);
    assert.equal(results1.length, 0);
    assert.equal(results2.length, N - 1);
    assert.equal(barrier.nWaiting, 0);
  });
});

// test_abort_barrier_when_exception_then_resetting
test('abort() then reset() makes the barrier usable again', async () => {
  await run(async () => {
    const barrier1 = new Barrier(N);
    const barrier2 = new Barrier(N);
    const results2 = [];
    const results3 = [];
    await gatherTasks(N, async () => {
      try {
        const i = await barrier1.wait();
        if (i === N >> 1) throw new RangeError('boom');
        await barrier1.wait();
      } catch (e) {
        if (e instanceof BrokenBarrierError) results2.push(true);
        else barrier1.abort();
      }
      const i = await barrier2.wait();
      if (i === N >> 1) barrier1.reset();
      await barrier2.wait();
      await barrier1.wait();
      results3.push(true);
    });
    assert.equal(barrier1.broken, false);
    assert.equal(results2.length, N - 1);
    assert.equal(results3.length, N);
    assert.equal(barrier1.nWaiting, 0);
  });
});
