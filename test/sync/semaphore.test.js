'use strict';
// Semaphore and BoundedSemaphore: CPython's Lib/test/test_asyncio/test_locks.py (SemaphoreTests),
// in evloop's terms. Cancellation cases run in both coroutine styles.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, Semaphore, BoundedSemaphore, CancelledError, TimeoutError, TaskGroup, gather, sleep, waitFor } = require('evloop');
const { tick, ticks, until, spawn } = require('../helpers/sync-util');

// test_initial_value_zero, test_repr
test('Semaphore(0) is locked; toString shows the value and the waiters', async () => {
  assert.equal(new Semaphore(0).locked(), true);
  await run(async () => {
    const sem = new Semaphore();
    assert.equal(String(sem), '<Semaphore [unlocked, value:1]>');
    await sem.acquire();
    assert.equal(String(sem), '<Semaphore [locked]>');
    const t = spawn(async () => sem.acquire());
    await tick();
    assert.equal(String(sem), '<Semaphore [locked, waiters:1]>');
    sem.release();
    await t;
  });
});

// test_semaphore_value and bad input
test('a negative, fractional or non-number value is refused', () => {
  for (const C of [Semaphore, BoundedSemaphore]) {
    assert.throws(() => new C(-1), (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE');
    assert.throws(() => new C(1.5), (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE');
    assert.throws(() => new C(NaN), (e) => e instanceof RangeError);
    for (const bad of ['1', null, {}, 1n]) assert.throws(() => new C(bad), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
    assert.equal(new C(undefined).locked(), false);
  }
});

// test_acquire
test('acquire takes permits; released permits go to the waiters in order', async () => {
  await run(async () => {
    const sem = new Semaphore(3);
    const result = [];
    assert.equal(await sem.acquire(), true);
    assert.equal(await sem.acquire(), true);
    assert.equal(sem.locked(), false);
    const make = (n) => spawn(function* () { yield* sem.acquire(); result.push(n); return true; });
    const t1 = make(1);
    const t2 = make(2);
    const t3 = make(3);
    await tick();
    assert.deepEqual(result, [1]);
    assert.equal(sem.locked(), true);
    assert.equal(sem._waiters.length, 2);
    assert.equal(sem._value, 0);
    const t4 = make(4);
    sem.release();
    sem.release();
    assert.equal(sem._value, 0);
    await tick();
    assert.equal(sem._value, 0);
    assert.equal(result.length, 3);
    assert.equal(sem.locked(), true);
    assert.equal(sem._waiters.length, 1);
    assert.equal(t1.result(), true);
    assert.equal([t2, t3, t4].filter((t) => t.done() && t.result()).length, 2);
    sem.release();
    await gather([t2, t3, t4]);
  });
});

// test_acquire_cancel
test('a cancelled acquire leaves no waiter (both styles)', async () => {
  await run(async () => {
    const sem = new Semaphore();
    await sem.acquire();
    const a = spawn(async () => sem.acquire());
    const g = spawn(function* () { return yield* sem.acquire(); });
    await tick();
    a.cancel();
    g.cancel();
    await assert.rejects(async () => { await a; }, CancelledError);
    await assert.rejects(async () => { await g; }, CancelledError);
    assert.equal(sem._waiters.length, 0);
    await assert.rejects(async () => { await waitFor(sem.acquire(), 1); }, TimeoutError);
    assert.equal(sem._waiters.length, 0);
    assert.equal(sem._value, 0);
  });
});

// test_acquire_cancel_before_awoken
test('cancelled waiters are skipped: one release wakes exactly the first live waiter (both styles)', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const sem = new Semaphore(0);
      const acq = () => style === 'async' ? spawn(async () => sem.acquire()) : spawn(function* () { return yield* sem.acquire(); });
      const [t1, t2, t3, t4] = [acq(), acq(), acq(), acq()];
      await tick();
      t1.cancel();
      t2.cancel();
      sem.release();
      await ticks(3);
      assert.equal([t3, t4].filter((t) => t.done()).length, 1);
      assert.equal(t3.done(), true);
      assert.equal(t4.done(), false);
      t4.cancel();
      await tick();
      assert.equal(sem._value, 0);
      assert.equal(sem._waiters.length, 0);
    });
  }
});

// test_acquire_hang
test('a release racing a cancelled waiter is not lost (test_acquire_hang, both styles)', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const sem = new Semaphore(0);
      const acq = () => style === 'async' ? spawn(async () => sem.acquire()) : spawn(function* () { return yield* sem.acquire(); });
      const t1 = acq();
      const t2 = acq();
      await tick();
      t1.cancel();
      sem.release();
      await ticks(3);
      assert.equal(sem.locked(), true);
      assert.equal(t2.done(), true);
    });
  }
});

test('a permit granted to a waiter cancelled before it resumed goes to the next waiter (both styles)', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const sem = new Semaphore(0);
      const acq = () => style === 'async' ? spawn(async () => sem.acquire()) : spawn(function* () { return yield* sem.acquire(); });
      const t1 = acq();
      const t2 = acq();
      await tick();
      sem.release(); // granted to t1 ...
      t1.cancel(); // ... cancelled before it saw it
      await ticks(3);
      assert.equal(t1.cancelled(), true);
      assert.equal(t2.result(), true);
      assert.equal(sem._value, 0);
      sem.release();
      assert.equal(sem._value, 1);
    });
  }
});

// test_acquire_no_hang
test('a holder cancelling a queued use() right after releasing does not strand the semaphore', async () => {
  await run(async () => {
    const sem = new Semaphore(1);
    let t2;
    const t1 = spawn(async () => {
      await sem.acquire();
      try {
        await tick();
      } finally {
        sem.release(); // granted to t2's use() ...
      }
      t2.cancel(); // ... which is cancelled before it could run fn
    });
    t2 = spawn(async () => sem.use(async () => { assert.fail('must not run'); }));
    const [r1, r2] = await gather([t1, t2], { returnExceptions: true });
    assert.equal(r1, undefined);
    assert.ok(r2 instanceof CancelledError);
    assert.equal(await waitFor(sem.acquire(), 1000), true);
  });
});

// test_release_not_acquired
test('BoundedSemaphore released above its initial value throws RangeError', async () => {
  const sem = new BoundedSemaphore();
  assert.throws(() => sem.release(), (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE');
  await run(async () => {
    const b = new BoundedSemaphore(2);
    await b.acquire();
    b.release();
    assert.throws(() => b.release(), RangeError);
    assert.equal(b._value, 2);
    assert.equal(String(b), '<BoundedSemaphore [unlocked, value:2]>');
  });
});

// test_release_no_waiters
test('release with no waiters unlocks', async () => {
  await run(async () => {
    const sem = new Semaphore();
    await sem.acquire();
    assert.equal(sem.locked(), true);
    sem.release();
    assert.equal(sem.locked(), false);
  });
});

// test_acquire_fifo_order
test('permits go round in FIFO order (test_acquire_fifo_order)', async () => {
  await run(async () => {
    const sem = new Semaphore(1);
    const result = [];
    const coro = (tag) => async () => {
      await sem.acquire();
      result.push(`${tag}_1`);
      await sleep(1);
      sem.release();
      await sem.acquire();
      result.push(`${tag}_2`);
      await sleep(1);
      sem.release();
    };
    await TaskGroup.run(async (tg) => { tg.createTask(coro('c1')); tg.createTask(coro('c2')); tg.createTask(coro('c3')); });
    assert.deepEqual(result, ['c1_1', 'c2_1', 'c3_1', 'c1_2', 'c2_2', 'c3_2']);
  });
});

// test_acquire_fifo_order_2
test('a task that releases and re-acquires queues behind the others (test_acquire_fifo_order_2)', async () => {
  await run(async () => {
    const sem = new Semaphore(1);
    const result = [];
    const t1 = spawn(async () => { await sem.acquire(); result.push(1); return true; });
    const t2 = spawn(async () => { await sem.acquire(); result.push(2); sem.release(); await sem.acquire(); result.push(4); return true; });
    const t3 = spawn(async () => { await sem.acquire(); result.push(3); return true; });
    await tick();
    sem.release();
    sem.release();
    await gather([t1, t2, t3]);
    assert.deepEqual(result, [1, 2, 3, 4]);
  });
});

// test_acquire_fifo_order_3
test('a cancelled first waiter does not disturb the order of the others (test_acquire_fifo_order_3)', async () => {
  await run(async () => {
    const sem = new Semaphore(0);
    const result = [];
    const make = (n) => spawn(async () => { await sem.acquire(); result.push(n); return true; });
    const ts = [make(1), make(2), make(3)];
    await tick();
    ts[0].cancel();
    await tick();
    sem.release();
    sem.release();
    await gather(ts, { returnExceptions: true });
    assert.deepEqual(result, [2, 3]);
  });
});

test('use(fn): both fn styles, released on throw; non-function fn refused', async () => {
  await run(async () => {
    const sem = new Semaphore(2);
    const inside = [];
    const users = [1, 2, 3, 4].map((n) => sem.use(async () => { inside.push(2 - sem._value); await ticks(2); return n; }));
    assert.deepEqual(await gather(users), [1, 2, 3, 4]);
    assert.ok(Math.max(...inside) <= 2);
    assert.equal(await sem.use(function* () { yield* tick(); return 'g'; }), 'g');
    await assert.rejects(async () => { await sem.use(async () => { throw new Error('x'); }); }, /x/);
    assert.equal(sem._value, 2);
    assert.throws(() => sem.use(42), (e) => e.code === 'ERR_INVALID_ARG_TYPE');
    await until(() => sem._waiters.length === 0);
  });
});
