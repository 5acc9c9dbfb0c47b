'use strict';
// createTask(coro, { eagerStart: true }): asyncio 3.14's eager_start, for generator coroutines.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { run, getRunningLoop, currentTask, sleep, newEventLoop, Pool } = require('evloop');

test('eagerStart runs the first step inside createTask, up to the first wait', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const seen = [];
    const task = loop.createTask(function* () {
      seen.push('started');
      yield* sleep(1);
      seen.push('resumed');
      return 'done';
    }(), { eagerStart: true });
    assert.deepEqual(seen, ['started'], 'the first step ran before createTask returned');
    assert.equal(task.done(), false);
    assert.equal(yield* task, 'done');
    assert.deepEqual(seen, ['started', 'resumed']);
  });
});

test('an eager task that never waits is done when createTask returns', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const ok = loop.createTask(function* () {
      return 42;
    }(), { eagerStart: true });
    assert.equal(ok.done(), true);
    assert.equal(ok.result(), 42);
    assert.equal(ok.status, 0);
    const failed = loop.createTask(function* () {
      throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    }(), { eagerStart: true });
    assert.equal(failed.done(), true);
    assert.equal(failed.exception().code, 'ECONNREFUSED');
    assert.equal(failed.status, -111);
    yield* sleep(0);
  });
});

test('currentTask() is the eager task during its step and the caller again after', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const outer = currentTask();
    let inner;
    const task = loop.createTask(function* () {
      inner = currentTask();
      yield* sleep(0);
    }(), { eagerStart: true });
    assert.equal(inner, task);
    assert.equal(currentTask(), outer);
    yield* task;
  });
});

test('an already-aborted signal wins over eagerStart: the coroutine never runs', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    let ran = false;
    const task = loop.createTask(function* () {
      ran = true;
    }(), { eagerStart: true, signal: AbortSignal.abort(new Error('no')) });
    yield* sleep(0);
    assert.equal(ran, false);
    assert.equal(task.cancelled(), true);
  });
});

test('without a running loop, or for an async function, eagerStart starts the task as usual', async () => {
  const loop = newEventLoop();
  let ran = false;
  const task = loop.createTask(function* () {
    ran = true;
  }(), { eagerStart: true });
  assert.equal(ran, false, 'the loop is not running: scheduled');
  await loop.runUntilComplete(task);
  assert.equal(ran, true);
  loop.close();

  await run(async () => {
    const running = getRunningLoop();
    let started = false;
    const t = running.createTask(async () => {
      started = true;
    }, { eagerStart: true });
    assert.equal(started, false, 'async functions are not started eagerly');
    await t;
    assert.equal(started, true);
  });
});

test('Pool.use with an idle connection and a synchronous fn needs no loop pass', async () => {
  await run(function* () {
    const pool = new Pool({ create: () => ({ id: 1 }), max: 1 });
    yield* pool.use((c) => c.id); // creates the connection
    const task = pool.use((c) => c.id + 1);
    assert.equal(task.done(), true);
    assert.equal(task.result(), 2);
    assert.equal(pool.inUse, 0);
    pool.close();
  });
});
