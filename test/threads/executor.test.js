'use strict';
// loop.runInExecutor (lib/threads/executor.ts): asyncio's run_in_executor, for anything with
// Piscina's run(task, { signal }) shape. Real Piscina pools of real worker threads.
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Piscina } = require('piscina');
const { run, getRunningLoop, Future, CancelledError } = require('evloop');

const work = path.join(__dirname, 'fixtures', 'work.js');

describe('loop.runInExecutor', () => {
  test('runs a task on a Piscina pool and resolves to its result (a Future)', async () => {
    const pool = new Piscina({ filename: work, maxThreads: 1 });
    await run(async () => {
      const loop = getRunningLoop();
      const fut = loop.runInExecutor(pool, 'worker', { name: 'where' });
      assert.ok(fut instanceof Future);
      assert.equal(await fut, 'worker');
      await assert.rejects(loop.runInExecutor(pool, 'boom', { name: 'fail' }), (err) => err instanceof RangeError && err.message === 'boom');
    });
    await pool.destroy();
  });

  test('cancelling aborts the task: the single worker of the pool is freed for the next one', async () => {
    const pool = new Piscina({ filename: work, maxThreads: 1, minThreads: 1 });
    await run(function* () {
      const loop = getRunningLoop();
      const shared = new SharedArrayBuffer(16);
      const fut = loop.runInExecutor(pool, shared, { name: 'blockForever' });
      yield* loop.createTask(Atomics.waitAsync(new Int32Array(shared), 0, 0).value);
      const [worker] = pool.threads;
      const gone = new Promise((resolve) => worker.once('exit', resolve));
      fut.cancel();
      let caught = null;
      try {
        yield* fut;
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof CancelledError);
      yield* loop.createTask(gone);
      // With one thread, this runs only if the blocked worker is gone.
      assert.equal(yield* loop.runInExecutor(pool, 'worker', { name: 'where' }), 'worker');
    });
    await pool.destroy();
  });

  test('a task still queued when cancelled never runs', async () => {
    const pool = new Piscina({ filename: work, maxThreads: 1 });
    await run(async () => {
      const loop = getRunningLoop();
      const shared = new SharedArrayBuffer(16);
      const blocker = loop.runInExecutor(pool, shared, { name: 'blockForever' });
      await Atomics.waitAsync(new Int32Array(shared), 0, 0).value;
      const queued = loop.runInExecutor(pool, 'x', { name: 'where' });
      assert.equal(pool.queueSize, 1);
      queued.cancel();
      await assert.rejects(queued, CancelledError);
      assert.equal(pool.queueSize, 0);
      blocker.cancel();
    });
    await pool.destroy();
  });

  test('any object with run(task, { signal }) is an executor; its own signal and options pass through', async () => {
    const seen = [];
    const executor = {
      run(task, options) {
        seen.push([task, options]);
        return new Promise((resolve, reject) => {
          if (task === 'now') return resolve('done');
          options.signal.addEventListener('abort', () => reject(options.signal.reason), { once: true });
        });
      },
    };
    await run(async () => {
      const loop = getRunningLoop();
      assert.equal(await loop.runInExecutor(executor, 'now', { name: 'x' }), 'done');
      assert.equal(seen[0][1].name, 'x');
      assert.ok(seen[0][1].signal instanceof AbortSignal);
      const waiting = loop.runInExecutor(executor, 'wait');
      const { signal } = seen[1][1];
      waiting.cancel('stop it');
      await assert.rejects(waiting, CancelledError);
      assert.equal(signal.aborted, true);
      assert.ok(signal.reason instanceof CancelledError);
      // The caller's own signal aborts the task too; the Future rejects with the reason.
      const controller = new AbortController();
      const mine = loop.runInExecutor(executor, 'wait', { signal: controller.signal });
      controller.abort(new Error('caller aborted'));
      await assert.rejects(mine, { message: 'caller aborted' });
      // A run() that throws at once, or returns a plain value.
      await assert.rejects(loop.runInExecutor({ run() { throw new Error('sync'); } }, 1), { message: 'sync' });
      assert.equal(await loop.runInExecutor({ run: () => 7 }, 1), 7);
      // A promise may reject with anything, as a coroutine may throw anything.
      await assert.rejects(loop.runInExecutor({ run: () => Promise.reject('not an Error') }, 1), (err) => err === 'not an Error');
    });
  });

  test('null runs on evloop\'s own pool, as toThread', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      assert.equal(await loop.runInExecutor(null, work, 'add', 40, 2), 42);
      assert.equal(await loop.runInExecutor(undefined, work, 'where'), 'worker');
    });
  });

  test('the loop closing aborts work still pending', async () => {
    const aborted = [];
    const executor = {
      run(task, { signal }) {
        signal.addEventListener('abort', () => aborted.push(signal.reason.code));
        return new Promise(() => {});
      },
    };
    await run(async () => {
      getRunningLoop().runInExecutor(executor, 'never awaited');
    });
    assert.deepEqual(aborted, ['ERR_LOOP_CLOSED']);
  });

  test('bad input: executor, options; a closed loop', async () => {
    let closed;
    await run(async () => {
      const loop = getRunningLoop();
      closed = loop;
      for (const ex of [42, 'pool', {}, { run: 1 }, [], () => {}]) {
        assert.throws(() => loop.runInExecutor(ex, 1), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      }
      assert.throws(() => loop.runInExecutor({ run: () => 1 }, 1, 'options'), { code: 'ERR_INVALID_ARG_TYPE' });
      assert.throws(() => loop.runInExecutor(null, 42), { code: 'ERR_INVALID_ARG_TYPE' });
    });
    assert.throws(() => closed.runInExecutor({ run: () => 1 }, 1), { code: 'ERR_LOOP_CLOSED' });
  });
});
