'use strict';
// The pool's fast paths: the hand-over of a released connection to a waiter (revocable until
// the waiter's owner sees it), use() taking an idle connection without a future, and a caller
// that yield*s use()'s task woken as soon as the task ends. The resource is a plain
// object: what is tested is the pool's own bookkeeping, not a connection.
const test = require('node:test');
const assert = require('node:assert/strict');
const { getEventListeners } = require('node:events');
const { run, Pool, CancelledError, getRunningLoop, sleep, gather } = require('evloop');

let nextId = 0;
const objectPool = (extra = {}) => new Pool({ create: () => ({ id: nextId++ }), max: 1, ...extra });
const books = (pool) => ({ size: pool.size, idle: pool.idle, inUse: pool.inUse, pending: pool.pending });

async function rejection(aw) {
  try {
    await aw;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

test('a waiter cancelled after a release handed it the connection, before it resumed, passes it on', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const pool = objectPool();
    const held = await pool.acquire();
    const got = [];
    const first = loop.createTask(function* () {
      got.push(['first', yield* pool.acquire()]);
    });
    const second = loop.createTask(function* () {
      const conn = yield* pool.acquire();
      got.push(['second', conn]);
      pool.release(conn);
    });
    await sleep(0);
    assert.equal(pool.pending, 2);
    pool.release(held); // handed to `first`, whose task has not resumed yet
    assert.deepEqual(books(pool), { size: 1, idle: 0, inUse: 1, pending: 1 });
    assert.equal(first.cancel(), true);
    assert.deepEqual(books(pool), { size: 1, idle: 0, inUse: 1, pending: 0 }, 'taken back and handed to the next waiter at once');
    assert.ok((await rejection(first)) instanceof CancelledError);
    await second;
    assert.deepEqual(got, [['second', held]]);
    assert.deepEqual(books(pool), { size: 1, idle: 1, inUse: 0, pending: 0 });
    assert.equal(pool.stats().acquired, 2, 'the revoked hand-over is not counted');
    pool.close();
  });
});

test('the same from an async-function task: the cancelled waiter sees CancelledError, nothing leaks', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const pool = objectPool();
    const held = await pool.acquire();
    const first = loop.createTask(async () => pool.acquire());
    await sleep(0);
    pool.release(held);
    first.cancel();
    assert.ok((await rejection(first)) instanceof CancelledError);
    assert.deepEqual(books(pool), { size: 1, idle: 1, inUse: 0, pending: 0 });
    assert.equal(await pool.acquire(), held);
    pool.close();
  });
});

test('a cancelled waiter leaves the queue at once (pending is exact without a loop pass)', async () => {
  await run(async () => {
    const pool = objectPool();
    const held = await pool.acquire();
    const a = pool.acquire();
    const b = pool.acquire();
    assert.equal(pool.pending, 2);
    a.cancel();
    assert.equal(pool.pending, 1);
    pool.release(held);
    assert.equal(await b, held);
    pool.close();
  });
});

test('a served acquire with a timeout and a long-lived signal leaves no timer or abort listener behind', async () => {
  await run(async () => {
    const pool = objectPool();
    const controller = new AbortController();
    const held = await pool.acquire();
    const waiting = Array.from({ length: 50 }, () => pool.acquire({ timeout: 60_000, signal: controller.signal }));
    assert.equal(getEventListeners(controller.signal, 'abort').length, 50);
    pool.release(held);
    for (const fut of waiting) pool.release(await fut);
    // Done callbacks run a pass after the last hand-over.
    await sleep(0);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    const cancelled = pool.acquire({ signal: controller.signal });
    const holder = pool.acquire({ signal: controller.signal });
    assert.equal(await cancelled, held);
    holder.cancel();
    await sleep(0);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    pool.release(held);
    pool.close();
  });
});

test('use() with an idle connection and a synchronous fn finishes inside the call', async () => {
  await run(async () => {
    const pool = objectPool();
    pool.release(await pool.acquire());
    const task = pool.use((conn) => conn.id * 2);
    assert.ok(task.done(), 'no loop pass');
    assert.equal(task.result() % 2, 0);
    assert.deepEqual(books(pool), { size: 1, idle: 1, inUse: 0, pending: 0 });
    pool.close();
  });
});

test('use() keeps FIFO order: a call made while others wait queues behind them, even when a connection is handed over meanwhile', async () => {
  await run(async () => {
    const pool = objectPool();
    const held = await pool.acquire();
    const order = [];
    const job = (name) =>
      pool.use(function* () {
        order.push(name);
        yield* sleep(0);
      });
    const a = job('a');
    const b = job('b');
    pool.release(held); // to `a`, which has not resumed: the connection is not idle
    const c = job('c');
    assert.equal(pool.pending, 2);
    const d = pool.acquire();
    await gather(a, b, c);
    pool.release(await d);
    assert.deepEqual(order, ['a', 'b', 'c']);
    assert.deepEqual(books(pool), { size: 1, idle: 1, inUse: 0, pending: 0 });
    pool.close();
  });
});

test('use() releases the connection when fn throws: plain, generator (before and after a wait) and async', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const pool = objectPool();
    const fns = [
      () => {
        throw new Error('plain');
      },
      function* () {
        throw new Error('generator at once');
      },
      function* () {
        yield* sleep(0);
        throw new Error('generator after a wait');
      },
      async () => {
        await null;
        throw new Error('async');
      },
    ];
    for (const fn of fns) {
      let caught = null;
      try {
        yield* pool.use(fn);
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof Error && caught.name === 'Error', String(caught));
      assert.deepEqual(books(pool), { size: 1, idle: 1, inUse: 0, pending: 0 }, caught.message);
    }
    // And from an async-function caller.
    const err = yield* loop.createTask(async () => rejection(pool.use(fns[2])));
    assert.equal(err.message, 'generator after a wait');
    assert.deepEqual(books(pool), { size: 1, idle: 1, inUse: 0, pending: 0 });
    pool.close();
  });
});

test('a generator that yield*s use() resumes in the pass in which the task ends, not one later', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const pool = objectPool();
    const gate = loop.createFuture();
    const events = [];
    const caller = loop.createTask(function* () {
      const v = yield* pool.use(function* () {
        return yield* gate;
      });
      events.push(`caller got ${v}`);
    });
    yield* sleep(0);
    gate.setResult(7);
    // Queued after gate's callbacks: it runs in the same pass, after them.
    loop.callSoon(() => events.push('end of that pass'));
    yield* caller;
    assert.deepEqual(events, ['caller got 7', 'end of that pass']);
    pool.close();
  });
});

test('cancelling a generator that yield*s use() cancels fn at its wait and releases the connection', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const pool = objectPool();
    const seen = [];
    let task;
    const caller = loop.createTask(function* () {
      task = pool.use(function* () {
        try {
          yield* loop.createFuture();
        } catch (err) {
          seen.push(err.name);
          throw err;
        }
      });
      yield* task;
    });
    yield* sleep(0);
    assert.equal(pool.inUse, 1);
    caller.cancel('stop');
    let err = null;
    try {
      yield* caller;
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof CancelledError);
    assert.deepEqual(seen, ['CancelledError']);
    assert.ok(task.cancelled());
    assert.deepEqual(books(pool), { size: 1, idle: 1, inUse: 0, pending: 0 });
    pool.close();
  });
});

test('a fn that catches the cancellation decides the outcome, for a yield*-ing caller too', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const pool = objectPool();
    const caller = loop.createTask(function* () {
      return yield* pool.use(function* () {
        try {
          yield* loop.createFuture();
        } catch {
          yield* sleep(0); // still holding the connection after the cancel
          return 'cleaned up';
        }
      });
    });
    yield* sleep(0);
    caller.cancel();
    assert.equal(yield* caller, 'cleaned up');
    assert.deepEqual(books(pool), { size: 1, idle: 1, inUse: 0, pending: 0 });
    pool.close();
  });
});

test('cancelling a generator that yield*s use() while the task waits for a connection leaks nothing', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const pool = objectPool();
    const held = yield* pool.acquire();
    let ran = false;
    const caller = loop.createTask(function* () {
      yield* pool.use(() => {
        ran = true;
      });
    });
    yield* sleep(0);
    assert.equal(pool.pending, 1);
    caller.cancel();
    assert.equal(pool.pending, 0);
    let err = null;
    try {
      yield* caller;
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof CancelledError);
    pool.release(held);
    assert.equal(ran, false);
    assert.deepEqual(books(pool), { size: 1, idle: 1, inUse: 0, pending: 0 });
    pool.close();
  });
});

test('use() with acquire options: an idle connection is taken at once, a wait past the timeout fails with TimeoutError', async () => {
  await run(function* () {
    const { TimeoutError } = require('evloop');
    const pool = objectPool();
    assert.equal(yield* pool.use((conn) => typeof conn.id, { timeout: 1 }), 'number');
    const held = yield* pool.acquire();
    let ran = false;
    let err = null;
    try {
      yield* pool.use(
        () => {
          ran = true;
        },
        { timeout: 1 },
      );
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof TimeoutError);
    assert.equal(ran, false);
    assert.deepEqual(books(pool), { size: 1, idle: 0, inUse: 1, pending: 0 });
    pool.release(held);
    assert.equal(pool.stats().timeouts, 1);
    pool.close();
  });
});

test('await pool.use(fn) awaits the task as a native promise (no then() call, no extra hops)', async () => {
  await run(async () => {
    const pool = objectPool();
    const gate = getRunningLoop().createFuture();
    const task = pool.use(() => gate);
    // What V8's await does first: a native promise whose constructor is Promise is awaited as is.
    assert.equal(Promise.resolve(task), task);
    Object.defineProperty(task, 'then', { value: () => assert.fail('then() must not be called by await') });
    gate.setResult(3);
    assert.equal(await task, 3);
    pool.close();
  });
});

test('use() with an async fn ends, and releases, in the reaction to fn\'s promise, not a loop pass later', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const pool = objectPool();
    const seen = [];
    const task = pool.use(async (conn) => {
      await null;
      return conn.id;
    });
    // A callback queued by a callback of the next pass: it runs in the pass after, which is where
    // a task woken through the loop by fn's settlement would only then release.
    loop.callSoon(() => loop.callSoon(() => seen.push({ done: task.done(), inUse: pool.inUse })));
    const id = await task;
    await sleep(0);
    assert.equal(typeof id, 'number');
    assert.deepEqual(seen, [{ done: true, inUse: 0 }]);
    // Its failure is the task's, the same way.
    const err = new Error('boom');
    const failing = pool.use(async () => {
      await null;
      throw err;
    });
    assert.equal(await rejection(failing), err);
    assert.deepEqual(books(pool), { size: 1, idle: 1, inUse: 0, pending: 0 });
    pool.close();
  });
});

test('cancelling use() while its async fn runs does not step the task inside cancel()', async () => {
  await run(async () => {
    const pool = objectPool();
    let finish;
    const task = pool.use(() => new Promise((resolve) => (finish = resolve)));
    assert.equal(task.cancel(), true);
    // asyncio's cancel() only requests: the task ends when the loop next runs it.
    assert.equal(task.done(), false);
    assert.ok((await rejection(task)) instanceof CancelledError);
    assert.equal(pool.inUse, 1);
    finish();
    await sleep(0);
    assert.deepEqual(books(pool), { size: 1, idle: 1, inUse: 0, pending: 0 });
    pool.close();
  });
});

test('a generator fn that yields a promise: a yield*-ing caller follows it and gets the result', async () => {
  await run(function* () {
    const pool = objectPool();
    const v = yield* pool.use(function* (conn) {
      const doubled = yield Promise.resolve(conn.id * 2);
      return doubled + 1;
    });
    assert.equal(typeof v, 'number');
    assert.equal(v % 2, 1);
    assert.deepEqual(books(pool), { size: 1, idle: 1, inUse: 0, pending: 0 });
    pool.close();
  });
});

test('a generator that yield*s use() resumes in the pass in which the task ends, before the task\'s done callbacks', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const pool = objectPool();
    const gate = loop.createFuture();
    const events = [];
    const task = pool.use(function* () {
      return yield* gate;
    });
    task.addDoneCallback(() => events.push('done callback'));
    const caller = loop.createTask(function* () {
      const v = yield* task;
      events.push(`caller got ${v}, inUse ${pool.inUse}`);
    });
    yield* sleep(0);
    gate.setResult(5);
    yield* caller;
    assert.deepEqual(events, ['caller got 5, inUse 0', 'done callback']);
    pool.close();
  });
});

test('use()\'s task ends with its final status when it woke its yield*-ing caller itself, with or without other done callbacks', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const pool = objectPool();
    for (const withCallback of [false, true]) {
      const gate = loop.createFuture();
      const task = pool.use(function* () {
        return yield* gate;
      });
      const seen = [];
      if (withCallback) task.addDoneCallback((t) => seen.push(t.result()));
      const caller = loop.createTask(function* () {
        return yield* task;
      });
      yield* sleep(0);
      gate.setResult(withCallback ? 2 : 1);
      assert.equal(yield* caller, withCallback ? 2 : 1);
      yield* sleep(0);
      assert.equal(task.status, 0);
      assert.deepEqual(seen, withCallback ? [2] : []);
    }
    assert.deepEqual(books(pool), { size: 1, idle: 1, inUse: 0, pending: 0 });
    pool.close();
  });
});

test('a queued acquire settled by hand, then read and cancelled, leaves the queue and is given nothing', async () => {
  await run(async () => {
    const pool = objectPool();
    const held = await pool.acquire();
    const a = pool.acquire();
    const b = pool.acquire();
    a.setResult('by hand');
    assert.equal(a.result(), 'by hand');
    assert.equal(a.cancel(), false);
    pool.release(held);
    assert.equal(await b, held);
    assert.equal(a.result(), 'by hand');
    assert.deepEqual(books(pool), { size: 1, idle: 0, inUse: 1, pending: 0 });
    pool.release(held);
    pool.close();
  });
});

test('use() awaited by an async function: a step of fn woken by a future that does not end the task leaves the await pending', async () => {
  // Before the pool's docs example caught it, a step woken by a future ran the use() task's done
  // callbacks (here the `await`'s) while the task was still pending, rejecting the await with
  // undefined.
  await run(async () => {
    const loop = getRunningLoop();
    const pool = objectPool();
    const a = loop.createFuture();
    const b = loop.createFuture();
    const used = pool.use(function* (conn) {
      const x = yield* a; // woken by `a`, does not end the task
      const y = yield* b;
      return [conn.id >= 0, x, y];
    });
    let settled = false;
    const awaited = (async () => {
      try {
        return await used;
      } finally {
        settled = true;
      }
    })();
    await sleep(0);
    a.setResult(1);
    await sleep(0);
    await sleep(0);
    assert.equal(settled, false);
    b.setResult(2);
    assert.deepEqual(await awaited, [true, 1, 2]);
    pool.close();
  });
});
