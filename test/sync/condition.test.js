'use strict';
// Condition: CPython's Lib/test/test_asyncio/test_locks.py (ConditionTests), in evloop's terms.
// Cancellation cases run in both coroutine styles.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, Condition, Lock, CancelledError, TimeoutError, EventLoopError, waitFor, timeout } = require('evloop');
const { tick, ticks, until, spawn } = require('../helpers/sync-util');

const notHeld = (e) => e instanceof EventLoopError && e.code === 'ERR_LOCK_NOT_HELD';

// test_wait
test('notify(n) wakes waiters in order; each returns only once it has the lock again', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const cond = new Condition();
      const result = [];
      const make = (n) => style === 'async'
        ? spawn(async () => { await cond.acquire(); if (await cond.wait()) result.push(n); return true; })
        : spawn(function* () { yield* cond.acquire(); if (yield* cond.wait()) result.push(n); return true; });
      const t1 = make(1);
      const t2 = make(2);
      const t3 = make(3);
      await until(() => cond._waiters.length === 3);
      assert.deepEqual(result, []);
      assert.equal(cond.locked(), false);

      assert.equal(await cond.acquire(), true);
      cond.notify();
      await ticks(2);
      assert.deepEqual(result, []);
      assert.equal(cond.locked(), true);

      cond.release();
      await until(() => result.length === 1);
      assert.deepEqual(result, [1]);
      assert.equal(cond.locked(), true);

      cond.notify(2);
      await ticks(2);
      assert.deepEqual(result, [1]);
      assert.equal(cond.locked(), true);

      cond.release();
      await until(() => result.length === 2);
      assert.deepEqual(result, [1, 2]);
      assert.equal(cond.locked(), true);

      cond.release();
      await until(() => result.length === 3);
      assert.deepEqual(result, [1, 2, 3]);
      assert.equal(cond.locked(), true);
      for (const t of [t1, t2, t3]) assert.equal(t.result(), true);
    });
  }
});

// test_wait_cancel
test('a cancelled wait() re-acquires the lock before it fails, and leaves no waiter (both styles)', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const cond = new Condition();
      await cond.acquire();
      const w = style === 'async' ? spawn(async () => await cond.wait()) : spawn(function* () { return yield* cond.wait(); });
      await tick();
      w.cancel();
      await assert.rejects(async () => { await w; }, CancelledError);
      assert.equal(cond._waiters.length, 0);
      assert.equal(cond.locked(), true);
    });
  }
});

// test_wait_cancel_contested
test('wait() cancelled while the lock is contested still ends holding the lock', async () => {
  await run(async () => {
    const cond = new Condition();
    await cond.acquire();
    const w = cond.wait();
    assert.equal(cond.locked(), false);
    await cond.acquire();
    cond.notify();
    const loop = require('evloop').getRunningLoop();
    loop.callSoon(() => w.cancel());
    loop.callSoon(() => cond.release());
    try {
      await w;
    } catch (e) {
      assert.ok(e instanceof CancelledError);
    }
    assert.equal(cond.locked(), true);
  });
});

// test_wait_cancel_after_notify (bpo-32841)
test('a waiter cancelled after it was notified, while re-acquiring, ends cancelled (both styles)', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const cond = new Condition();
      let waited = false;
      const waiter = style === 'async'
        ? spawn(async () => cond.use(async () => { waited = true; await cond.wait(); }))
        : spawn(function* () { return yield* cond.use(function* () { waited = true; yield* cond.wait(); }); });
      await ticks(2);
      await cond.acquire();
      cond.notify();
      await tick();
      waiter.cancel();
      await tick();
      cond.release();
      await assert.rejects(async () => { await waiter; }, CancelledError);
      assert.equal(waited, true);
      assert.equal(cond.locked(), false);
    });
  }
});

// test_wait_unacquired, test_notify_unacquired, test_notify_all_unacquired
test('wait, notify and notifyAll without the lock throw ERR_LOCK_NOT_HELD', async () => {
  const cond = new Condition();
  assert.throws(() => cond.notify(), notHeld);
  assert.throws(() => cond.notifyAll(), notHeld);
  await run(async () => {
    assert.throws(() => cond.wait(), notHeld);
    assert.throws(() => cond.release(), notHeld);
  });
});

// test_wait_for
test('waitFor(predicate) waits until the predicate is truthy and resolves to its value', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const cond = new Condition();
      let presult = false;
      const result = [];
      const t = style === 'async'
        ? spawn(async () => { await cond.acquire(); if (await cond.waitFor(() => presult)) { result.push(1); cond.release(); } return true; })
        : spawn(function* () { yield* cond.acquire(); if (yield* cond.waitFor(() => presult)) { result.push(1); cond.release(); } return true; });
      await ticks(2);
      assert.deepEqual(result, []);
      await cond.acquire();
      cond.notify();
      cond.release();
      await ticks(3);
      assert.deepEqual(result, []);
      presult = 'yes';
      await cond.acquire();
      cond.notify();
      cond.release();
      await ticks(3);
      assert.deepEqual(result, [1]);
      assert.equal(t.result(), true);
    });
  }
});

// test_wait_for_unacquired
test('waitFor: a predicate already true needs no lock; otherwise the lock is required', async () => {
  await run(async () => {
    const cond = new Condition();
    assert.deepEqual(await cond.waitFor(() => [1, 2, 3]), [1, 2, 3]);
    await assert.rejects(async () => { await cond.waitFor(() => false); }, notHeld);
  });
});

// test_notify, test_notify_all
test('notify(1), notify(2048) and notifyAll wake the waiters in order', async () => {
  await run(async () => {
    const cond = new Condition();
    const result = [];
    const make = (n) => spawn(async () => { await cond.acquire(); if (await cond.wait()) { result.push(n); cond.release(); } return true; });
    const ts = [make(1), make(2), make(3)];
    await ticks(2);
    await cond.acquire();
    cond.notify(1);
    cond.release();
    await ticks(2);
    assert.deepEqual(result, [1]);
    await cond.acquire();
    cond.notify(1);
    cond.notify(2048);
    cond.release();
    await ticks(4);
    assert.deepEqual(result, [1, 2, 3]);
    for (const t of ts) assert.equal(t.result(), true);

    const more = [make(4), make(5)];
    await ticks(2);
    await cond.acquire();
    cond.notifyAll();
    cond.release();
    await ticks(4);
    assert.deepEqual(result, [1, 2, 3, 4, 5]);
    for (const t of more) assert.equal(t.result(), true);
  });
});

// test_explicit_lock
test('a Condition over an explicit Lock shares its state; use() holds it', async () => {
  await run(async () => {
    const lock = new Lock();
    const cond = new Condition(lock);
    assert.equal(cond.locked(), false);
    await cond.use(async () => {
      assert.equal(lock.locked(), true);
      assert.equal(cond.locked(), true);
    });
    assert.equal(lock.locked(), false);
    await lock.use(function* () {
      assert.equal(cond.locked(), true);
    });
    assert.equal(cond.locked(), false);
    assert.equal(String(cond), '<Condition [unlocked]>');
  });
});

// test_timeout_in_block
test('waitFor(cond.wait(), ms) times out and leaves the lock held', async () => {
  await run(async () => {
    const cond = new Condition();
    await cond.acquire();
    await assert.rejects(async () => { await waitFor(cond.wait(), 5); }, TimeoutError);
    assert.equal(cond.locked(), true);
    assert.equal(cond._waiters.length, 0);
  });
});

// test_cancelled_error_wakeup / test_cancelled_error_re_aquire: the CancelledError that comes out
// of waitFor carries the message of the cancel, whether it landed while waiting or re-acquiring.
test('the cancellation of a waiting or re-acquiring waitFor comes out with its message', async () => {
  for (const phase of ['waiting', 'reacquiring']) {
    await run(async () => {
      const cond = new Condition();
      let wake = false;
      let raised = null;
      const task = spawn(async () => cond.use(async () => {
        try {
          await cond.waitFor(() => wake);
        } catch (e) {
          raised = e;
          throw e;
        }
      }));
      await ticks(2);
      if (phase === 'reacquiring') {
        await cond.acquire();
        wake = true;
        cond.notify();
        await tick();
        task.cancel('foo');
        cond.release();
      } else {
        task.cancel('foo');
      }
      await assert.rejects(async () => { await task; }, (e) => e instanceof CancelledError && e.message === 'foo');
      assert.ok(raised instanceof CancelledError);
      assert.equal(raised.message, 'foo');
      assert.equal(cond.locked(), false);
    });
  }
});

// test_cancelled_wakeup / test_cancelled_wakeup_relock: a consumer cancelled right as it is
// notified (while waiting, or while re-acquiring) must not swallow the wake-up.
for (const when of ['waiting', 'relocking']) {
  test(`a notify that races a cancel (${when}) is not lost (both styles)`, async () => {
    for (const style of ['async', 'gen']) {
      await run(async () => {
        const condition = new Condition();
        let state = 0;
        const consumer = () => style === 'async'
          ? spawn(async () => condition.use(async () => {
            for (;;) {
              await condition.waitFor(() => state !== 0);
              if (state < 0) return;
              state -= 1;
            }
          }))
          : spawn(function* () {
            return yield* condition.use(function* () {
              for (;;) {
                yield* condition.waitFor(() => state !== 0);
                if (state < 0) return;
                state -= 1;
              }
            });
          });
        const c = [consumer(), consumer()];
        await ticks(3);
        await condition.use(async () => {
          state += 1;
          condition.notify(1);
          if (when === 'relocking') await tick();
          c[0].cancel();
          try {
            await timeout(50, async () => { await condition.waitFor(() => state === 0); });
          } catch (e) {
            if (!(e instanceof TimeoutError)) throw e;
          }
          assert.equal(state, 0);
          state = -1;
          condition.notifyAll();
        });
        await c[1];
        await assert.rejects(async () => { await c[0]; }, CancelledError);
        assert.equal(condition.locked(), false);
      });
    }
  });
}

test('bad input: a non-Lock lock, a non-function predicate or fn, a bad n', async () => {
  for (const bad of [null, 1, {}, new Condition()]) {
    assert.throws(() => new Condition(bad), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
  }
  await run(async () => {
    const cond = new Condition();
    assert.throws(() => cond.waitFor(true), (e) => e.code === 'ERR_INVALID_ARG_TYPE');
    assert.throws(() => cond.use('x'), (e) => e.code === 'ERR_INVALID_ARG_TYPE');
    await cond.acquire();
    assert.throws(() => cond.notify(-1), (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE');
    assert.throws(() => cond.notify(1.5), (e) => e instanceof RangeError);
    assert.throws(() => cond.notify('2'), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
    cond.release();
  });
});
