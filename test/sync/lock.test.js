'use strict';
// Lock: CPython's Lib/test/test_asyncio/test_locks.py (LockTests), in evloop's terms, plus the
// hand-over guarantees of waiter.ts. Cancellation cases run in both coroutine styles.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, Lock, CancelledError, TimeoutError, EventLoopError, waitFor, sleep } = require('evloop');
const { tick, ticks, ticksGen, spawn } = require('../helpers/sync-util');

test('a new lock is unlocked; acquire resolves to true; release unlocks (test_release_no_waiters)', async () => {
  await run(async () => {
    const lock = new Lock();
    assert.equal(lock.locked(), false);
    assert.equal(await lock.acquire(), true);
    assert.equal(lock.locked(), true);
    lock.release();
    assert.equal(lock.locked(), false);
    assert.equal(String(lock), '<Lock [unlocked]>');
  });
  await run(function* () {
    const lock = new Lock();
    assert.equal(yield* lock.acquire(), true);
    assert.equal(lock.locked(), true);
    lock.release();
    assert.equal(lock.locked(), false);
  });
});

// test_release_not_acquired
test('releasing an unlocked lock throws ERR_LOCK_NOT_HELD', () => {
  const lock = new Lock();
  assert.throws(() => lock.release(), (e) => e instanceof EventLoopError && e.code === 'ERR_LOCK_NOT_HELD');
});

// test_acquire
test('waiters get the lock in FIFO order, one per release', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const lock = new Lock();
      const result = [];
      assert.equal(await lock.acquire(), true);
      const make = (n) => style === 'async'
        ? spawn(async () => { if (await lock.acquire()) result.push(n); return true; })
        : spawn(function* () { if (yield* lock.acquire()) result.push(n); return true; });
      const t1 = make(1);
      const t2 = make(2);
      await tick();
      assert.deepEqual(result, []);
      assert.equal(String(lock), '<Lock [locked, waiters:2]>');
      lock.release();
      await tick();
      assert.deepEqual(result, [1]);
      await tick();
      assert.deepEqual(result, [1]);
      const t3 = make(3);
      lock.release();
      await tick();
      assert.deepEqual(result, [1, 2]);
      lock.release();
      await tick();
      assert.deepEqual(result, [1, 2, 3]);
      for (const t of [t1, t2, t3]) assert.equal(t.result(), true);
      assert.equal(lock.locked(), true);
    });
  }
});

// test_acquire_cancel
test('a cancelled acquire leaves no waiter behind (both styles)', async () => {
  await run(async () => {
    const lock = new Lock();
    await lock.acquire();
    const gen = spawn(function* () { return yield* lock.acquire(); });
    const asy = spawn(async () => await lock.acquire());
    await tick();
    assert.equal(lock._waiters.length, 2);
    gen.cancel();
    asy.cancel();
    await assert.rejects(async () => { await gen; }, CancelledError);
    await assert.rejects(async () => { await asy; }, CancelledError);
    assert.equal(lock._waiters.length, 0);
    assert.equal(lock.locked(), true);
    lock.release();
    assert.equal(lock.locked(), false);
  });
});

// test_cancel_race: A holds the lock, B and C wait; B is cancelled as A releases.
test('cancel race: the release skips the cancelled waiter and C gets the lock', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const lock = new Lock();
      const order = [];
      const lockit = (name, blocker) => style === 'async'
        ? spawn(async () => { await lock.acquire(); order.push(name); try { if (blocker) await blocker; } finally { lock.release(); } })
        : spawn(function* () { yield* lock.acquire(); order.push(name); try { if (blocker) yield* blocker; } finally { lock.release(); } });
      const fa = require('evloop').getRunningLoop().createFuture();
      const ta = lockit('A', fa);
      await tick();
      assert.equal(lock.locked(), true);
      const tb = lockit('B', null);
      await tick();
      assert.equal(lock._waiters.length, 1);
      const tc = lockit('C', null);
      await tick();
      assert.equal(lock._waiters.length, 2);
      fa.setResult(null);
      tb.cancel();
      assert.equal(lock._waiters.length, 1);
      await tc;
      await ta;
      assert.equal(tb.cancelled(), true);
      assert.deepEqual(order, ['A', 'C']);
      assert.equal(lock.locked(), false);
    });
  }
});

// test_cancel_release_race (bpo-32734): cancel the first waiter and release in one callback:
// exactly one task may get the lock.
test('cancel + release in one callback: only one waiter gets the lock (both styles)', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const lock = new Lock();
      let lockCount = 0;
      let callCount = 0;
      const lockit = () => style === 'async'
        ? spawn(async () => { callCount++; await lock.acquire(); lockCount++; })
        : spawn(function* () { callCount++; yield* lock.acquire(); lockCount++; });
      await lock.acquire();
      const t1 = lockit();
      const t2 = lockit();
      const t3 = lockit();
      await tick();
      spawn(function* () { t1.cancel(); lock.release(); });
      await assert.rejects(async () => { await t1; }, CancelledError);
      await ticks(2);
      assert.equal(lockCount, 1);
      assert.equal(callCount, 3);
      assert.equal(t1.cancelled(), true);
      assert.equal(t2.done(), true);
      t3.cancel();
      await tick();
      assert.equal(t3.cancelled(), true);
      assert.equal(lock._waiters.length, 0);
    });
  }
});

// test_finished_waiter_cancelled: B is woken and cancelled before it runs; C must not be stranded.
test('a waiter granted the lock and cancelled before it resumed passes it on (both styles)', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const lock = new Lock();
      await lock.acquire();
      const acquirer = () => style === 'async' ? spawn(async () => await lock.acquire()) : spawn(function* () { return yield* lock.acquire(); });
      const tb = acquirer();
      await tick();
      assert.equal(lock._waiters.length, 1);
      const tc = acquirer();
      lock.release(); // granted to B ...
      tb.cancel(); // ... which is cancelled before it could see it
      await tick();
      assert.equal(tb.cancelled(), true);
      assert.equal(lock.locked(), true);
      assert.equal(await tc, true); // C holds it now
      lock.release();
      assert.equal(lock.locked(), false);
    });
  }
});

test('a revoked grant goes to the next waiter in line, not to a newcomer', async () => {
  await run(function* () {
    const lock = new Lock();
    yield* lock.acquire();
    const got = [];
    const tb = spawn(function* () { yield* lock.acquire(); got.push('B'); lock.release(); });
    const tc = spawn(function* () { yield* lock.acquire(); got.push('C'); lock.release(); });
    yield* tick();
    lock.release();
    tb.cancel();
    const td = spawn(function* () { yield* lock.acquire(); got.push('D'); lock.release(); });
    yield* ticksGen(3);
    assert.deepEqual(got, ['C', 'D']);
    assert.equal(tb.cancelled(), true);
    yield* tc;
    yield* td;
    assert.equal(lock.locked(), false);
  });
});

// test_cancelled_getters_not_being_held_in_self_getters, for the lock: timed-out acquires leave nothing queued.
test('waitFor(lock.acquire(), ms) that times out leaves no waiter and does not take the lock', async () => {
  await run(async () => {
    const lock = new Lock();
    await lock.acquire();
    for (let i = 0; i < 3; i++) await assert.rejects(async () => { await waitFor(lock.acquire(), 1); }, TimeoutError);
    assert.equal(lock._waiters.length, 0);
    lock.release();
    assert.equal(lock.locked(), false);
  });
});

// test_context_manager, as use(fn)
test('use(fn) holds the lock while fn runs and releases it on return and on throw (both fn styles)', async () => {
  await run(async () => {
    const lock = new Lock();
    assert.equal(await lock.use(async () => { assert.equal(lock.locked(), true); await tick(); return 'a'; }), 'a');
    assert.equal(lock.locked(), false);
    assert.equal(await lock.use(function* () { assert.equal(lock.locked(), true); yield* tick(); return 'g'; }), 'g');
    assert.equal(lock.locked(), false);
    assert.equal(await lock.use(() => 'plain'), 'plain');
    await assert.rejects(async () => { await lock.use(async () => { throw new Error('boom'); }); }, /boom/);
    assert.equal(lock.locked(), false);
    await assert.rejects(async () => { await lock.use(function* () { yield* tick(); throw new Error('gboom'); }); }, /gboom/);
    assert.equal(lock.locked(), false);
  });
});

test('use(fn) serialises concurrent users in FIFO order', async () => {
  await run(async () => {
    const lock = new Lock();
    const log = [];
    const users = [1, 2, 3].map((n) => lock.use(async () => { log.push(`in${n}`); await ticks(2); log.push(`out${n}`); return n; }));
    assert.deepEqual(await Promise.all(users), [1, 2, 3]);
    assert.deepEqual(log, ['in1', 'out1', 'in2', 'out2', 'in3', 'out3']);
  });
});

test('cancelling use() while fn waits cancels fn and releases the lock (both fn styles)', async () => {
  await run(async () => {
    const lock = new Lock();
    let cleanedUp = 0;
    const g = lock.use(function* () { try { yield* sleep(10_000); } finally { cleanedUp++; } });
    const a = lock.use(async () => { try { await sleep(10_000); } finally { cleanedUp++; } });
    await tick();
    g.cancel();
    await assert.rejects(async () => { await g; }, CancelledError);
    await tick();
    assert.equal(lock.locked(), true); // the async user holds it now
    a.cancel();
    await assert.rejects(async () => { await a; }, CancelledError);
    assert.equal(cleanedUp, 2);
    assert.equal(lock.locked(), false);
  });
});

test('cancelling use() while it waits for the lock never runs fn', async () => {
  await run(async () => {
    const lock = new Lock();
    await lock.acquire();
    let ran = false;
    const u = lock.use(async () => { ran = true; });
    const v = lock.use(function* () { ran = true; });
    await tick();
    u.cancel();
    v.cancel();
    await assert.rejects(async () => { await u; }, CancelledError);
    await assert.rejects(async () => { await v; }, CancelledError);
    lock.release();
    assert.equal(ran, false);
    assert.equal(lock.locked(), false);
  });
});

test('use(fn) with a non-function throws ERR_INVALID_ARG_TYPE', async () => {
  await run(async () => {
    const lock = new Lock();
    for (const bad of [undefined, null, 1, 'f', {}, Promise.resolve()]) {
      assert.throws(() => lock.use(bad), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
    }
    assert.equal(lock.locked(), false);
  });
});

test('acquire() that has to wait needs a running loop; a lock outlives one run() and serves the next', async () => {
  const lock = new Lock();
  await run(async () => {
    await lock.acquire();
    const t = spawn(async () => { await lock.acquire(); lock.release(); });
    await tick();
    lock.release();
    await t;
  });
  assert.throws(() => lock.acquire(), (e) => e.code === 'ERR_NO_RUNNING_LOOP');
  assert.equal(lock.locked(), false); // a failed acquire takes nothing
  await run(async () => {
    await lock.acquire();
    const t = spawn(async () => { await lock.acquire(); lock.release(); });
    await tick();
    lock.release();
    await t;
    assert.equal(lock.locked(), false);
  });
});

// test_ambiguous_loops: a primitive bound to a loop that is still open refuses another loop's waiters.
test('waiting on a primitive bound to another open loop throws ERR_DIFFERENT_LOOP', async () => {
  const { newEventLoop, Condition, Queue } = require('evloop');
  const other = newEventLoop();
  try {
    await run(async () => {
      const lock = new Lock();
      await lock.acquire(); // the fast path needs no binding
      lock._loop = other; // private, as CPython's test sets lock._loop
      assert.throws(() => lock.acquire(), (e) => e instanceof EventLoopError && e.code === 'ERR_DIFFERENT_LOOP' && /Lock/.test(e.message));
      assert.equal(lock._waiters.length, 0);
      const cond = new Condition(lock);
      cond._loop = other;
      assert.throws(() => cond.wait(), (e) => e.code === 'ERR_DIFFERENT_LOOP');
      assert.equal(lock.locked(), true);
      const q = new Queue();
      q._loop = other;
      assert.throws(() => q.get(), (e) => e.code === 'ERR_DIFFERENT_LOOP' && /Queue/.test(e.message));
    });
  } finally {
    other.close();
  }
});

// test_lock_doesnt_accept_loop_parameter
test('Lock and Event take no loop argument', async () => {
  const { Event, newEventLoop } = require('evloop');
  const loop = newEventLoop();
  try {
    for (const C of [Lock, Event]) {
      assert.throws(() => new C(loop), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_VALUE');
      assert.throws(() => new C({ loop }), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_VALUE');
      assert.ok(new C(undefined) instanceof C);
    }
  } finally {
    loop.close();
  }
});
