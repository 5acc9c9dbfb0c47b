'use strict';
// Queue, LifoQueue, PriorityQueue: CPython's Lib/test/test_asyncio/test_queues.py, in evloop's
// terms. Cancellation cases run in both coroutine styles.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, Queue, LifoQueue, PriorityQueue, QueueEmpty, QueueFull, QueueShutDown, CancelledError, TimeoutError, TaskGroup, waitFor, gather, getRunningLoop } = require('evloop');
const { tick, ticks, until, spawn } = require('../helpers/sync-util');

const isShutDown = (e) => e instanceof QueueShutDown && e.code === 'ERR_QUEUE_SHUT_DOWN';

// test_repr / test_str / test_format
test('toString shows maxsize, items, getters, putters, unfinished tasks and shutdown', async () => {
  await run(async () => {
    const q = new Queue();
    assert.equal(String(q), '<Queue maxsize=0>');
    const getter = q.get();
    assert.equal(String(q), '<Queue maxsize=0 _getters[1]>');
    q.putNowait(0);
    assert.equal(await getter, 0);
    const p = new Queue({ maxsize: 1 });
    p.putNowait(1);
    const putter = p.put(2);
    assert.equal(String(p), '<Queue maxsize=1 _queue=[1] _putters[1] tasks=1>');
    p.getNowait();
    await putter;
    p.shutdown();
    assert.equal(String(p), '<Queue maxsize=1 _queue=[2] tasks=2 shutdown>');
  });
});

// test_empty, test_full, test_order, test_maxsize
test('empty, full, FIFO order, maxsize', async () => {
  await run(async () => {
    const q = new Queue();
    assert.equal(q.empty(), true);
    await q.put(1);
    assert.equal(q.empty(), false);
    assert.equal(await q.get(), 1);
    assert.equal(q.empty(), true);
    assert.equal(q.full(), false);
    for (const i of [1, 3, 2]) await q.put(i);
    assert.deepEqual([await q.get(), await q.get(), await q.get()], [1, 3, 2]);
    const b = new Queue({ maxsize: 1 });
    await b.put(1);
    assert.equal(b.full(), true);
    assert.equal(b.maxsize, 1);
  });
});

// test_maxsize: the putter blocks after two items
test('put() waits while the queue is full (both styles)', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const q = new Queue({ maxsize: 2 });
      const put = [];
      const t = style === 'async'
        ? spawn(async () => { for (let i = 0; i < 3; i++) { await q.put(i); put.push(i); } return true; })
        : spawn(function* () { for (let i = 0; i < 3; i++) { yield* q.put(i); put.push(i); } return true; });
      await ticks(3);
      assert.deepEqual(put, [0, 1]);
      assert.equal(await q.get(), 0);
      await until(() => put.length === 3);
      assert.deepEqual(put, [0, 1, 2]);
      assert.equal(await q.get(), 1);
      assert.equal(await q.get(), 2);
      assert.equal(await t, true);
    });
  }
});

// test_nonblocking_get / _exception, test_nonblocking_put / _exception
test('getNowait / putNowait, QueueEmpty and QueueFull', async () => {
  const q = new Queue({ maxsize: 1 });
  assert.throws(() => q.getNowait(), (e) => e instanceof QueueEmpty && e.code === 'ERR_QUEUE_EMPTY');
  q.putNowait(1);
  assert.throws(() => q.putNowait(2), (e) => e instanceof QueueFull && e.code === 'ERR_QUEUE_FULL');
  assert.equal(q.getNowait(), 1);
  assert.equal(q.qsize(), 0);
});

// test_blocking_get_wait, test_put_with_waiting_getters
test('a waiting get() receives the next put (both styles)', async () => {
  await run(async () => {
    const q = new Queue();
    const a = spawn(async () => q.get());
    const g = spawn(function* () { return yield* q.get(); });
    await tick();
    assert.equal(q._getters.length, 2);
    await q.put('a');
    q.putNowait('b');
    assert.equal(await a, 'a');
    assert.equal(await g, 'b');
    assert.equal(q.qsize(), 0);
  });
});

// test_get_with_waiting_putters
test('get() lets the waiting putters in, in order', async () => {
  await run(async () => {
    const q = new Queue({ maxsize: 1 });
    spawn(async () => q.put('a'));
    spawn(async () => q.put('b'));
    await tick();
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
  });
});

// test_get_cancelled_race
test('a cancelled getter is skipped: the item goes to the next one (both styles)', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const q = new Queue();
      const getter = () => style === 'async' ? spawn(async () => q.get()) : spawn(function* () { return yield* q.get(); });
      const t1 = getter();
      const t2 = getter();
      await tick();
      t1.cancel();
      await tick();
      assert.equal(t1.done(), true);
      await q.put('a');
      assert.equal(await t2, 'a');
      assert.equal(q._getters.length, 0);
    });
  }
});

// test_get_cancel_drop_one_pending_reader: a reader served and cancelled at once must not drop the item.
test('a getter served and cancelled before it resumed gives its item back (both styles)', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const q = new Queue();
      const getter = () => style === 'async' ? spawn(async () => q.get()) : spawn(function* () { return yield* q.get(); });
      let reader = getter();
      await tick();
      q.putNowait(1);
      q.putNowait(2);
      reader.cancel();
      try {
        await reader;
      } catch (e) {
        assert.ok(e instanceof CancelledError);
        reader = getter();
        await reader;
      }
      assert.equal(reader.result(), 1); // 2 would mean 1 was dropped
      assert.equal(q.getNowait(), 2);
    });
  }
});

// test_get_cancel_drop_many_pending_readers
test('several pending readers, one cancelled as items arrive: no item is lost', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const q = new Queue();
      const getter = () => style === 'async' ? spawn(async () => q.get()) : spawn(function* () { return yield* q.get(); });
      const reader1 = getter();
      const reader2 = getter();
      const reader3 = getter();
      await tick();
      q.putNowait(1);
      q.putNowait(2);
      reader1.cancel();
      await assert.rejects(async () => { await reader1; }, CancelledError);
      await reader3;
      await reader2;
      assert.deepEqual(new Set([reader2.result(), reader3.result()]), new Set([1, 2]));
      assert.equal(q.qsize(), 0);
    });
  }
});

// test_put_cancel_drop: a putter let in and cancelled before it resumed takes its item out again.
test('a putter let in and cancelled before it resumed does not leave its item behind (both styles)', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const q = new Queue({ maxsize: 1 });
      q.putNowait(1);
      const putter = () => style === 'async' ? spawn(async () => q.put(2)) : spawn(function* () { return yield* q.put(2); });
      let writer = putter();
      await tick();
      assert.equal(q.getNowait(), 1);
      writer.cancel();
      try {
        await writer;
      } catch (e) {
        assert.ok(e instanceof CancelledError);
        writer = putter();
        await writer;
      }
      assert.equal(q.getNowait(), 2);
      assert.equal(q.qsize(), 0);
    });
  }
});

// test_put_cancelled_race
test('a cancelled putter is skipped: the next one gets the slot', async () => {
  for (const style of ['async', 'gen']) {
    await run(async () => {
      const q = new Queue({ maxsize: 1 });
      const putter = (x) => style === 'async' ? spawn(async () => q.put(x)) : spawn(function* () { return yield* q.put(x); });
      const putA = putter('a');
      const putB = putter('b');
      const putC = putter('X');
      await until(() => putA.done());
      assert.equal(putB.done(), false);
      putC.cancel();
      await tick();
      assert.equal(putC.done(), true);
      assert.equal(q.getNowait(), 'a');
      await tick();
      assert.equal(q.getNowait(), 'b');
      await putB;
      assert.equal(q.qsize(), 0);
      assert.equal(q._putters.length, 0);
    });
  }
});

// test_cancelled_getters_not_being_held_in_self_getters, test_cancelled_puts_not_being_held_in_self_putters
test('timed-out or cancelled gets and puts leave nothing queued', async () => {
  await run(async () => {
    const q = new Queue({ maxsize: 1 });
    await assert.rejects(async () => { await waitFor(q.get(), 1); }, TimeoutError);
    assert.equal(q._getters.length, 0);
    q.putNowait(1);
    const putTask = spawn(async () => q.put(1));
    await tick();
    assert.equal(q._putters.length, 1);
    putTask.cancel();
    await assert.rejects(async () => { await putTask; }, CancelledError);
    assert.equal(q._putters.length, 0);
    assert.equal(q.qsize(), 1);
  });
});

// test_why_are_getters_waiting, test_why_are_putters_waiting
test('a producer and a consumer on a queue of 1 pass every item (both styles)', async () => {
  await run(async () => {
    const q = new Queue({ maxsize: 1 });
    const got = [];
    await TaskGroup.run(async (tg) => {
      tg.createTask(function* () { for (let i = 0; i < 5; i++) yield* q.put(i); });
      tg.createTask(async () => { for (let i = 0; i < 5; i++) got.push(await q.get()); });
    });
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    const q2 = new Queue({ maxsize: 2 });
    await TaskGroup.run(async (tg) => {
      tg.createTask(async () => { await tick(); const n = q2.qsize(); for (let i = 0; i < n; i++) q2.getNowait(); });
      for (let i = 0; i < 4; i++) tg.createTask(async () => q2.put(i));
    });
    assert.equal(q2.qsize(), 2);
  });
});

// LifoQueueTests.test_order, PriorityQueueTests.test_order
test('LifoQueue gives the newest first; PriorityQueue the smallest', async () => {
  await run(async () => {
    const l = new LifoQueue();
    for (const i of [1, 3, 2]) await l.put(i);
    assert.deepEqual([await l.get(), await l.get(), await l.get()], [2, 3, 1]);
    const p = new PriorityQueue();
    for (const i of [1, 3, 2]) await p.put(i);
    assert.deepEqual([await p.get(), await p.get(), await p.get()], [1, 2, 3]);
  });
});

// _QueueJoinTestMixin, for the three kinds
for (const Q of [Queue, LifoQueue, PriorityQueue]) {
  test(`${Q.name}: taskDone/join (test_task_done, test_join_empty_queue, test_task_done_underflow)`, async () => {
    const empty = new Q();
    assert.throws(() => empty.taskDone(), (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE');
    await run(async () => {
      const q = new Q();
      await q.join();
      await q.join();
      for (let i = 0; i < 100; i++) q.putNowait(i);
      let accumulator = 0;
      let running = true;
      await TaskGroup.run(async (tg) => {
        const worker = async () => {
          while (running) {
            const item = await q.get();
            accumulator += item;
            q.taskDone();
          }
        };
        tg.createTask(worker);
        tg.createTask(function* () {
          while (running) {
            const item = yield* q.get();
            accumulator += item;
            q.taskDone();
          }
        });
        await q.join();
        assert.equal(accumulator, 4950);
        running = false;
        q.putNowait(0);
        q.putNowait(0);
      });
    });
  });

  // _QueueShutdownTestMixin
  test(`${Q.name}: shutdown of an empty queue (test_shutdown_empty)`, async () => {
    await run(async () => {
      const q = new Q();
      const getTask = spawn(async () => q.get());
      await tick();
      q.shutdown(false);
      assert.equal(q.qsize(), 0);
      await q.join();
      await tick();
      assert.equal(getTask.done(), true);
      await assert.rejects(async () => { await getTask; }, isShutDown);
      await assert.rejects(async () => { await q.put(1); }, isShutDown);
      assert.throws(() => q.putNowait(1), isShutDown);
      await assert.rejects(async () => { await q.get(); }, isShutDown);
      assert.throws(() => q.getNowait(), isShutDown);
    });
  });

  test(`${Q.name}: shutdown of a non-empty queue (test_shutdown_nonempty)`, async () => {
    await run(async () => {
      const q = new Q({ maxsize: 1 });
      q.putNowait(1);
      const joinTask = spawn(async () => q.join());
      const putTask = spawn(async () => q.put(2));
      await tick();
      assert.equal(putTask.done(), false);
      q.shutdown();
      assert.equal(q.qsize(), 1);
      await tick();
      await assert.rejects(async () => { await putTask; }, isShutDown);
      assert.equal(await q.get(), 1);
      await tick();
      assert.equal(joinTask.done(), false);
      await assert.rejects(async () => { await q.put(3); }, isShutDown);
      assert.throws(() => q.putNowait(3), isShutDown);
      await assert.rejects(async () => { await q.get(); }, isShutDown);
      assert.throws(() => q.getNowait(), isShutDown);
      q.taskDone();
      await until(() => joinTask.done());
      await joinTask;
      assert.throws(() => q.taskDone(), RangeError);
    });
  });

  test(`${Q.name}: immediate shutdown (test_shutdown_immediate, _with_unfinished)`, async () => {
    await run(async () => {
      const q = new Q();
      q.putNowait(1);
      const joinTask = spawn(async () => q.join());
      q.shutdown(true);
      assert.equal(q.qsize(), 0);
      await until(() => joinTask.done());
      await assert.rejects(async () => { await q.get(); }, isShutDown);
      assert.throws(() => q.taskDone(), RangeError);

      const u = new Q();
      u.putNowait(1);
      u.putNowait(2);
      const join2 = spawn(async () => u.join());
      assert.equal(await u.get(), Q === LifoQueue ? 2 : 1);
      u.shutdown(true);
      assert.equal(u.qsize(), 0);
      await tick();
      assert.equal(join2.done(), false);
      u.taskDone();
      assert.throws(() => u.taskDone(), RangeError);
      await until(() => join2.done());
    });
  });
}

test('for await yields the items until shutdown, then ends; it is cancellable', async () => {
  await run(async () => {
    const q = new Queue({ maxsize: 2 });
    spawn(function* () { for (let i = 0; i < 5; i++) yield* q.put(i); q.shutdown(); });
    const got = [];
    for await (const item of q) got.push(item);
    assert.deepEqual(got, [0, 1, 2, 3, 4]);

    const q2 = new Queue();
    const seen = [];
    const reader = spawn(async () => { for await (const item of q2) seen.push(item); });
    await tick();
    q2.putNowait('x');
    await until(() => seen.length === 1);
    reader.cancel();
    await assert.rejects(async () => { await reader; }, CancelledError);
    assert.equal(q2._getters.length, 0);
    q2.putNowait('y');
    assert.equal(q2.getNowait(), 'y');
  });
});

test('bad input: options, maxsize, shutdown(immediate)', () => {
  for (const Q of [Queue, LifoQueue, PriorityQueue]) {
    for (const bad of [null, 1, 'x', []]) assert.throws(() => new Q(bad), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
    for (const bad of [-1, 1.5, NaN, Infinity]) assert.throws(() => new Q({ maxsize: bad }), (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE');
    assert.throws(() => new Q({ maxsize: '2' }), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
    const q = new Q();
    assert.throws(() => q.shutdown('yes'), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
    assert.equal(q.maxsize, 0);
  }
});

test('get() and put() need a running loop; without one they throw and change nothing', () => {
  const q = new Queue();
  assert.throws(() => q.get(), (e) => e.code === 'ERR_NO_RUNNING_LOOP');
  q.putNowait(1);
  assert.throws(() => q.get(), (e) => e.code === 'ERR_NO_RUNNING_LOOP');
  assert.equal(q.qsize(), 1); // the item stayed
  assert.throws(() => q.put(2), (e) => e.code === 'ERR_NO_RUNNING_LOOP');
  assert.equal(q.qsize(), 1); // and nothing went in
  assert.equal(q.getNowait(), 1);
  q.taskDone();
  assert.throws(() => q.taskDone(), RangeError);
});

test('waiters of a loop that closed are skipped by the next loop', async () => {
  const q = new Queue();
  let stale;
  await run(async () => {
    stale = q.get();
    assert.equal(q._getters.length, 1);
  });
  await run(async () => {
    const fresh = spawn(async () => q.get());
    await tick();
    q.putNowait('x');
    assert.equal(await fresh, 'x');
    assert.equal(stale.done(), false); // its loop is gone: it is dropped, not served
    assert.equal(q._getters.length, 0);
    void getRunningLoop;
    void gather;
  });
});
