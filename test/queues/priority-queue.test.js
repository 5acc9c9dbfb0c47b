'use strict';
// PriorityQueue and LifoQueue specifics: the default order (Python's ordering of numbers,
// strings and tuples), custom compare functions, a compare that throws, and the heap against a
// sorted-array model (fast-check).
const test = require('node:test');
const assert = require('node:assert/strict');
const fc = require('fast-check');
const { run, PriorityQueue, LifoQueue, defaultCompare, CancelledError } = require('evloop');
const { tick, spawn } = require('../helpers/sync-util');

function drain(q) {
  const out = [];
  while (!q.empty()) out.push(q.getNowait());
  return out;
}

test('defaultCompare orders numbers, bigints, strings and arrays element by element like tuples', () => {
  assert.equal(defaultCompare(1, 2), -1);
  assert.equal(defaultCompare(2n, 1), 1);
  assert.equal(defaultCompare('b', 'a'), 1);
  assert.equal(defaultCompare([1, 'b'], [1, 'a']), 1);
  assert.ok(defaultCompare([1], [1, 0]) < 0);
  assert.equal(defaultCompare([1, [2, 3]], [1, [2, 3]]), 0);
  const task = {};
  assert.equal(defaultCompare([1, task], [1, task]), 0); // the same object ties
  assert.ok(defaultCompare([1, task], [2, {}]) < 0); // data not reached
  assert.throws(() => defaultCompare([1, {}], [1, {}]), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
  assert.throws(() => defaultCompare(1, 'a'), TypeError);
});

test('PriorityQueue with the default order: [priority, data] pairs come out by priority', () => {
  const q = new PriorityQueue();
  q.putNowait([3, 'c']);
  q.putNowait([1, 'a']);
  q.putNowait([2, 'b']);
  q.putNowait([1, 'A']);
  assert.deepEqual(drain(q), [[1, 'A'], [1, 'a'], [2, 'b'], [3, 'c']]);
});

test('PriorityQueue refuses items the default order does not know, up front', async () => {
  const q = new PriorityQueue();
  for (const bad of [{}, null, undefined, () => 1, Symbol('s'), true]) {
    assert.throws(() => q.putNowait(bad), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
  }
  await run(async () => {
    assert.throws(() => q.put({}), (e) => e.code === 'ERR_INVALID_ARG_TYPE');
  });
  assert.equal(q.qsize(), 0);
});

test('a compare that throws leaves the heap and the counts intact', () => {
  const q = new PriorityQueue();
  for (const x of [5, 1, 4, 2, 3]) q.putNowait(x);
  assert.throws(() => q.putNowait('x'), TypeError); // number vs string: Python's TypeError
  assert.equal(q.qsize(), 5);
  assert.deepEqual(drain(q), [1, 2, 3, 4, 5]);
  q.taskDone();
  let bomb = false;
  const c = new PriorityQueue({ compare: (a, b) => { if (bomb) throw new Error('bomb'); return a - b; } });
  for (const x of [5, 1, 4, 2, 3]) c.putNowait(x);
  bomb = true;
  assert.throws(() => c.putNowait(0), /bomb/);
  assert.throws(() => c.getNowait(), /bomb/);
  bomb = false;
  assert.deepEqual(drain(c), [1, 2, 3, 4, 5]);
});

test('a custom compare orders objects; a non-function compare is refused', () => {
  const q = new PriorityQueue({ compare: (a, b) => b.p - a.p, maxsize: 3 });
  q.putNowait({ p: 1 });
  q.putNowait({ p: 3 });
  q.putNowait({ p: 2 });
  assert.equal(q.full(), true);
  assert.deepEqual(drain(q).map((x) => x.p), [3, 2, 1]);
  for (const bad of [1, 'x', null]) {
    assert.throws(() => new PriorityQueue({ compare: bad }), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
  }
});

test('the heap gives the same order as sorting, through any mix of puts and gets', () => {
  fc.assert(fc.property(fc.array(fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constant(null)), { maxLength: 200 }), (ops) => {
    const q = new PriorityQueue();
    const model = [];
    for (const op of ops) {
      if (op === null) {
        if (model.length === 0) continue;
        model.sort((a, b) => a - b);
        assert.equal(q.getNowait(), model.shift());
      } else {
        q.putNowait(op);
        model.push(op);
      }
    }
    assert.deepEqual(drain(q), model.sort((a, b) => a - b));
  }));
});

test('a getter of a Lifo or Priority queue served and cancelled before it resumed gives its item back (both styles)', async () => {
  for (const Q of [LifoQueue, PriorityQueue]) {
    for (const style of ['async', 'gen']) {
      await run(async () => {
        const q = new Q();
        const reader = style === 'async' ? spawn(async () => q.get()) : spawn(function* () { return yield* q.get(); });
        await tick();
        q.putNowait(1);
        q.putNowait(2);
        reader.cancel();
        await assert.rejects(async () => { await reader; }, CancelledError);
        assert.deepEqual(drain(q).sort(), [1, 2]);
      });
    }
  }
});

test('a putter of a Lifo or Priority queue let in and cancelled before it resumed takes its item out (both styles)', async () => {
  for (const Q of [LifoQueue, PriorityQueue]) {
    for (const style of ['async', 'gen']) {
      await run(async () => {
        const q = new Q({ maxsize: 1 });
        q.putNowait(1);
        const writer = style === 'async' ? spawn(async () => q.put(2)) : spawn(function* () { return yield* q.put(2); });
        await tick();
        assert.equal(q.getNowait(), 1);
        writer.cancel();
        await assert.rejects(async () => { await writer; }, CancelledError);
        assert.equal(q.qsize(), 0);
        q.taskDone(); // for 1; 2 no longer counts
        assert.throws(() => q.taskDone(), RangeError);
      });
    }
  }
});
