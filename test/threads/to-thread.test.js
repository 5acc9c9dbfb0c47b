'use strict';
// toThread (lib/threads/to-thread.ts): asyncio's to_thread, where a worker thread runs an
// exported function of a module. Real worker threads from the process-wide Piscina pool.
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { execFile } = require('node:child_process');
const { run, toThread, waitFor, getRunningLoop, gather, Future, CancelledError, TimeoutError } = require('evloop');
const { defaultThreadPool } = require('evloop/internal');

const work = path.join(__dirname, 'fixtures', 'work.js');
const esm = path.join(__dirname, 'fixtures', 'esm.mjs');
const fn = path.join(__dirname, 'fixtures', 'fn.js');

/** Resolves once the worker has set flag[0] (it is running). */
const started = (shared) => Atomics.waitAsync(new Int32Array(shared), 0, 0).value;

/** Resolves when the pool's worker that runs the fixture sharing `shared` has exited. */
function workerExit(shared) {
  const id = Atomics.load(new Int32Array(shared), 3);
  const worker = defaultThreadPool().threads.find((w) => w.threadId === id);
  assert.ok(worker, `the pool has the worker of thread ${id}`);
  return new Promise((resolve) => worker.once('exit', resolve));
}

describe('toThread', () => {
  test('resolves to the export\'s result, computed in a worker thread (a Future)', async () => {
    await run(async () => {
      const fut = toThread(work, 'add', 2, 3);
      assert.ok(fut instanceof Future);
      assert.equal(await fut, 5);
      assert.equal(await toThread(work, 'where'), 'worker');
      assert.equal(await toThread(work, 'later', { deep: [1, 'two'] }).then((v) => v.deep[1]), 'two');
      assert.deepEqual(await gather(...[1, 2, 3, 4].map((i) => toThread(work, 'add', i, i))), [2, 4, 6, 8]);
    });
  });

  test('default exports, module.exports functions, ES modules and file URLs', async () => {
    await run(function* () {
      assert.equal(yield* toThread(fn), 'fn(undefined)');
      assert.equal(yield* toThread(fn, null, 7), 'fn(7)');
      assert.equal(yield* toThread(esm, 'twice', 21), 42);
      assert.equal(yield* toThread(esm, undefined), 'hello undefined');
      assert.equal(yield* toThread(esm, 'default', 'evloop'), 'hello evloop');
      assert.equal(yield* toThread(pathToFileURL(work), 'add', 1, 1), 2);
      assert.equal(yield* toThread(pathToFileURL(work).href, 'add', 1, 2), 3);
      assert.equal(yield* toThread(path.relative(process.cwd(), work), 'add', 1, 3), 4);
    });
  });

  test('a thrown error rejects with that error: class, message, own properties, cause', async () => {
    await run(async () => {
      await assert.rejects(toThread(work, 'fail', 'bad value'), (err) => {
        assert.ok(err instanceof RangeError);
        assert.equal(err.message, 'bad value');
        assert.equal(err.code, 'E_FIXTURE');
        assert.deepEqual(err.detail, { n: 1 });
        assert.match(err.stack, /work\.js/, 'the worker\'s stack');
        return true;
      });
      await assert.rejects(toThread(work, 'readMissing'), { code: 'ENOENT', syscall: 'open' });
      await assert.rejects(toThread(work, 'failWithCause'), (err) => err.message === 'outer' && err.cause instanceof TypeError && err.cause.code === 'E_INNER');
      await assert.rejects(toThread(work, 'throwNumber'), (err) => err === 42);
      // A missing export or module is the worker's error too.
      await assert.rejects(toThread(work, 'nothing'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(toThread(path.join(__dirname, 'fixtures', 'missing.js')), { code: 'MODULE_NOT_FOUND' });
      assert.equal(await toThread(work, 'add', 1, 1), 2, 'the pool goes on after errors');
    });
  });

  test('bad input: file, exportName, and no running loop', async () => {
    await run(async () => {
      for (const file of [undefined, null, 42, '', {}, ['a.js']]) {
        assert.throws(() => toThread(file), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      }
      for (const name of [42, {}, true]) {
        assert.throws(() => toThread(work, name), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      }
      // An argument that cannot be cloned into a worker rejects.
      await assert.rejects(toThread(work, 'add', () => 1, 2), { name: 'DataCloneError' });
    });
    assert.throws(() => toThread(work, 'add', 1, 2), { code: 'ERR_NO_RUNNING_LOOP' });
  });

  test('cancelling aborts the work: the worker blocked in Atomics.wait is terminated (async function)', async () => {
    await run(async () => {
      const shared = new SharedArrayBuffer(16);
      const fut = toThread(work, 'blockForever', shared);
      await started(shared);
      const gone = workerExit(shared);
      fut.cancel();
      await assert.rejects(fut, CancelledError);
      await gone;
      assert.equal(await toThread(work, 'add', 1, 2), 3, 'the pool replaces it');
    });
  });

  test('cancelling a task awaiting a spinning worker terminates it (generator task)', async () => {
    await run(function* () {
      const loop = getRunningLoop();
      const shared = new SharedArrayBuffer(16);
      const task = loop.createTask(function* () {
        return yield* toThread(work, 'spinForever', shared);
      }());
      yield* loop.createTask(started(shared));
      const gone = workerExit(shared);
      task.cancel();
      let caught = null;
      try {
        yield* task;
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof CancelledError);
      yield* loop.createTask(gone);
      const counter = new Int32Array(shared);
      const at = Atomics.load(counter, 2);
      assert.equal(yield* toThread(work, 'add', 2, 2), 4);
      assert.equal(Atomics.load(counter, 2), at, 'no thread spins any more');
    });
  });

  test('waitFor times a thread out and aborts it', async () => {
    await run(async () => {
      const shared = new SharedArrayBuffer(16);
      const fut = toThread(work, 'blockForever', shared);
      const timed = waitFor(fut, 50);
      await started(shared);
      const gone = workerExit(shared);
      await assert.rejects(timed, TimeoutError);
      assert.equal(fut.cancelled(), true);
      await gone;
    });
  });

  test('programs exit by themselves: after an idle pool, and with work still running when the loop closes', async () => {
    for (const mode of ['idle', 'abandon']) {
      const { stdout } = await new Promise((resolve, reject) => {
        execFile(process.execPath, [path.join(__dirname, 'fixtures', 'exit-check.js'), mode], { timeout: 30_000 }, (err, out, errOut) => {
          if (err) reject(Object.assign(err, { stderr: errOut }));
          else resolve({ stdout: out });
        });
      });
      assert.equal(stdout, '42\nmain done\n', mode);
    }
  });
});
