'use strict';
// Event: CPython's Lib/test/test_asyncio/test_locks.py (EventTests), in evloop's terms.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, Event, CancelledError, TimeoutError, waitFor } = require('evloop');
const { tick, ticks, spawn } = require('../helpers/sync-util');

// test_repr
test('toString shows set/unset and the waiters', async () => {
  await run(async () => {
    const ev = new Event();
    assert.equal(String(ev), '<Event [unset]>');
    const t = spawn(async () => await ev.wait());
    await tick();
    assert.equal(String(ev), '<Event [unset, waiters:1]>');
    ev.set();
    assert.equal(String(ev), '<Event [set]>');
    await t;
  });
});

// test_wait: waiters wake in order; a task that starts after set() does not wait at all. Generator
// tasks resume within the pass, as asyncio's do; async-function continuations run as microtasks
// after it, and one that awaits an already-set event takes more microtask hops, so only the set
// of woken tasks is asserted for them.
test('set() wakes every waiter; wait() on a set event resolves at once (both styles)', async () => {
  for (const style of ['gen', 'async']) {
    await run(async () => {
      const ev = new Event();
      assert.equal(ev.isSet(), false);
      const result = [];
      const make = (n) => style === 'async'
        ? spawn(async () => { if (await ev.wait()) result.push(n); })
        : spawn(function* () { if (yield* ev.wait()) result.push(n); });
      const t1 = make(1);
      const t2 = make(2);
      await tick();
      assert.deepEqual(result, []);
      const t3 = make(3);
      ev.set();
      if (style === 'gen') await tick();
      else await ticks(3);
      if (style === 'gen') assert.deepEqual(result, [3, 1, 2]);
      else assert.deepEqual(result.slice().sort(), [1, 2, 3]);
      for (const t of [t1, t2, t3]) assert.equal(t.result(), undefined);
    });
  }
});

// test_wait_on_set
test('wait() on a set event resolves to true', async () => {
  await run(async () => {
    const ev = new Event();
    ev.set();
    assert.equal(await ev.wait(), true);
  });
  await run(function* () {
    const ev = new Event();
    ev.set();
    assert.equal(yield* ev.wait(), true);
  });
});

// test_wait_cancel
test('a cancelled wait() leaves no waiter behind (both styles)', async () => {
  await run(async () => {
    const ev = new Event();
    const a = spawn(async () => await ev.wait());
    const g = spawn(function* () { return yield* ev.wait(); });
    await tick();
    assert.equal(ev._waiters.length, 2);
    a.cancel();
    g.cancel();
    await assert.rejects(async () => { await a; }, CancelledError);
    await assert.rejects(async () => { await g; }, CancelledError);
    assert.equal(ev._waiters.length, 0);
    await assert.rejects(async () => { await waitFor(ev.wait(), 1); }, TimeoutError);
    assert.equal(ev._waiters.length, 0);
  });
});

// test_clear
test('clear() resets the flag', () => {
  const ev = new Event();
  ev.set();
  assert.equal(ev.isSet(), true);
  ev.clear();
  assert.equal(ev.isSet(), false);
});

// test_clear_with_waiters: a waiter woken by set() is not un-woken by clear().
test('set(); clear(); set(): the waiter woken by the first set() still returns', async () => {
  await run(async () => {
    const ev = new Event();
    const result = [];
    const t = spawn(async () => { if (await ev.wait()) result.push(1); return true; });
    await tick();
    assert.deepEqual(result, []);
    ev.set();
    ev.clear();
    assert.equal(ev.isSet(), false);
    ev.set();
    ev.set();
    await tick();
    assert.deepEqual(result, [1]);
    assert.equal(ev._waiters.length, 0);
    assert.equal(t.result(), true);
  });
});

test('a waiter woken by set() and cancelled before it resumed ends cancelled at its wait (both styles); the others still wake', async () => {
  await run(async () => {
    const ev = new Event();
    const woke = [];
    const a = spawn(async () => { await ev.wait(); woke.push('a'); });
    const g = spawn(function* () { yield* ev.wait(); woke.push('g'); });
    const b = spawn(function* () { yield* ev.wait(); woke.push('b'); });
    await tick();
    ev.set();
    a.cancel();
    g.cancel();
    await tick();
    await b;
    assert.deepEqual(woke, ['b']);
    await assert.rejects(async () => { await a; }, CancelledError);
    await assert.rejects(async () => { await g; }, CancelledError);
    assert.equal(ev.isSet(), true);
  });
});
