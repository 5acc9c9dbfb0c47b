'use strict';
// Workers: redelivery after the visibility time-out, a blocked loop that keeps its delivery,
// cancellation without loss, graceful stop with runs in flight, handlers that ignore cancellation.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { run, createTaskOps, sleep, getRunningLoop, allTasks, gather, wait } = require('evloop');
const { WorkerPool, retryPolicy } = require('evloop/internal');
const { captureLogger, finished } = require('../helpers/ops-util');

function quiet() {
  return captureLogger('critical').logger;
}

test('a delivery held by a dead consumer goes to a worker after the visibility time-out; the dead one cannot ack', () =>
  run(async () => {
    const loop = getRunningLoop();
    let calls = 0;
    const ops = createTaskOps({ tasks: { t: { run: async (p) => (calls++, p.v) } }, logger: quiet(), workers: 1, visibilityTimeout: 100 });
    const r = await ops.startRun('t', { key: 'k', params: { v: 'done' } });
    // A consumer that takes the message and dies (never acks, never extends). The clock starts
    // before the take: the visibility time-out counts from it.
    const t0 = loop.time();
    const dead = await ops.queue.consume();
    ops.start();
    const [done] = await finished(ops, [r.id]);
    assert.ok(loop.time() - t0 >= 99, `redelivered after ${loop.time() - t0} ms`);
    assert.equal(done.status, 0);
    assert.equal(done.result, 'done');
    assert.equal(calls, 1);
    assert.equal(await dead.ack(), false, 'the stale ack is refused');
    assert.deepEqual(await ops.queueStats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: 0 });
    await ops.stop();
  }));

test('a handler that blocks the loop past the visibility time-out keeps its delivery: it runs once', () =>
  run(async () => {
    let calls = 0;
    const { logger, text } = captureLogger('warn');
    const ops = createTaskOps({
      tasks: {
        cpu: {
          run: async () => {
            calls++;
            await sleep(5);
            const end = Date.now() + 250; // 2.5x the visibility time-out, without yielding
            while (Date.now() < end);
            await sleep(5);
            return 'ok';
          },
        },
      },
      logger,
      workers: 2,
      visibilityTimeout: 100,
    });
    ops.start();
    const r = await ops.startRun('cpu', { key: 'k' });
    const [done] = await finished(ops, [r.id]);
    assert.equal(done.status, 0);
    assert.equal(done.attempts, 1);
    assert.equal(calls, 1);
    assert.doesNotMatch(text(), /expired|another consumer/);
    await ops.stop();
  }));

test('cancelling a worker while it runs requeues the run: nothing is lost, another worker finishes it', () =>
  run(async () => {
    const loop = getRunningLoop();
    const entered = loop.createFuture();
    let aborted = null;
    const ops = createTaskOps({
      tasks: {
        t: {
          run: function* (_params, ctx) {
            if (ctx.attempt === 1) {
              ctx.signal.addEventListener('abort', () => (aborted = ctx.signal.reason));
              entered.setResult();
              yield* sleep(60_000);
            }
            return `attempt ${ctx.attempt}`;
          },
        },
      },
      logger: quiet(),
      workers: 1,
    });
    ops.start();
    const r = await ops.startRun('t', { key: 'k' });
    await entered;
    const worker = [...allTasks()].find((t) => t.getName() === 'worker-1');
    worker.cancel();
    await wait([worker]);
    assert.ok(worker.cancelled());
    assert.equal(aborted.name, 'CancelledError');
    const requeued = await ops.getRun(r.id);
    assert.equal(requeued.status, 1, 'queued again');
    assert.equal(requeued.attempts, 1);
    assert.equal(requeued.endedAt, undefined);
    assert.deepEqual(await ops.queueStats(), { depth: 1, inFlight: 0, delayed: 0, deadLetters: 0 });
    await assert.rejects(Promise.resolve(ops.startRun('t', { key: 'k' })), { code: 'ERR_DUPLICATE_KEY' });
    const other = new WorkerPool({ queue: ops.queue, registry: ops.registry, policy: retryPolicy(), concurrency: 1 });
    other.start();
    const [done] = await finished(ops, [r.id]);
    assert.equal(done.status, 0);
    assert.equal(done.result, 'attempt 2');
    assert.equal(done.attempts, 2);
    await other.stop();
    await ops.stop();
  }));

test('graceful stop: runs in flight finish, queued runs stay queued, nothing new is taken', () =>
  run(async () => {
    const loop = getRunningLoop();
    let started = 0;
    const allIn = loop.createFuture();
    const ops = createTaskOps({
      tasks: {
        t: {
          run: async () => {
            if (++started === 3) allIn.setResult();
            await sleep(40);
            return 'finished';
          },
        },
      },
      logger: quiet(),
      workers: 3,
    });
    ops.start();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await ops.startRun('t', { key: `k${i}` })).id);
    await allIn;
    await ops.stop({ timeout: 10_000 });
    const runs = await gather(ids.map((id) => ops.getRun(id)));
    assert.deepEqual(runs.map((r) => r.status), [0, 0, 0, 1, 1]);
    assert.equal(started, 3);
    assert.deepEqual(ops.queue.statsNow(), { depth: 2, inFlight: 0, delayed: 0, deadLetters: 0 });
    assert.equal(ops.health().workers, 0);
  }));

test('graceful stop past its deadline: runs in flight are cancelled and requeued, with ctx.signal aborted', () =>
  run(async () => {
    const loop = getRunningLoop();
    const reasons = [];
    let started = 0;
    const allIn = loop.createFuture();
    const { logger, text } = captureLogger('info');
    const ops = createTaskOps({
      tasks: {
        slow: {
          run: async (_params, ctx) => {
            ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason.message));
            if (++started === 2) allIn.setResult();
            await sleep(60_000);
          },
        },
      },
      logger,
      workers: 2,
    });
    ops.start();
    const a = await ops.startRun('slow', { key: 'a' });
    const b = await ops.startRun('slow', { key: 'b' });
    await allIn;
    const t0 = loop.time();
    await ops.stop({ timeout: 50 });
    assert.ok(loop.time() - t0 >= 49);
    assert.deepEqual(reasons, ['worker stopped', 'worker stopped']);
    for (const id of [a.id, b.id]) {
      const r = await ops.getRun(id);
      assert.equal(r.status, 1);
      assert.equal(r.attempts, 1);
      assert.equal(r.endedAt, undefined);
    }
    assert.deepEqual(ops.queue.statsNow(), { depth: 2, inFlight: 0, delayed: 0, deadLetters: 0 });
    assert.match(text(), /INFO {2}run requeued, worker stopped, slow a: 1/);
  }));

test('a handler that ignores cancellation is abandoned after the grace: stop and time-outs still end', () =>
  run(async () => {
    const loop = getRunningLoop();
    const { logger, text } = captureLogger('error');
    const entered = loop.createFuture();
    // Plain promises the handlers hang on; released at the end so that run() can finish.
    const hangs = [];
    const hang = () => new Promise((resolve) => hangs.push(resolve));
    const ops = createTaskOps({
      tasks: {
        stubborn: {
          timeout: 30,
          retries: 0,
          // Awaits a plain promise that never settles and never looks at ctx.signal.
          run: async () => {
            await hang();
          },
        },
        deaf: {
          run: async () => {
            entered.setResult();
            await hang();
          },
        },
      },
      logger,
      workers: 2,
      cancelGrace: 30,
    });
    ops.start();
    const s = await ops.startRun('stubborn', { key: 's' });
    const [timedOut] = await finished(ops, [s.id]);
    assert.equal(timedOut.status, -110);
    assert.equal(timedOut.category, 'errno');
    assert.match(text(), /run ignored its cancellation for 30 ms, abandoned/);
    const d = await ops.startRun('deaf', { key: 'd' });
    await entered;
    await ops.stop({ timeout: 20 });
    assert.equal((await ops.getRun(d.id)).status, 1, 'requeued');
    assert.equal(ops.queue.statsNow().depth, 1);
    assert.equal(hangs.length, 2);
    for (const release of hangs) release();
  }));

test('a queue whose consume() fails once costs no consumer: logged, tried again', () =>
  run(async () => {
    const { MemoryQueue } = require('evloop');
    const { Registry } = require('evloop/internal');
    const { logger, text } = captureLogger('error');
    const inner = new MemoryQueue();
    let failures = 1;
    // The shape a networked queue has: a consume() that can fail.
    const queue = Object.create(inner, {
      consume: {
        value() {
          if (failures-- > 0) return Promise.reject(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
          return inner.consume();
        },
      },
    });
    const finishedRun = getRunningLoop().createFuture();
    const registry = new Registry({
      tasks: { t: { run: () => 'ok' } },
      logger,
      onChange: (c) => {
        if (registry.get(c.runId)?.endedAt !== undefined && !finishedRun.done()) finishedRun.setResult();
      },
    });
    const pool = new WorkerPool({ queue, registry, policy: retryPolicy(), concurrency: 1 });
    pool.start();
    const r = registry.create('t', 'k', null);
    await inner.enqueue({ runId: r.id, task: 't' }, { key: 'k' });
    await finishedRun;
    assert.equal(registry.get(r.id).status, 0);
    assert.equal(pool.running, 1);
    assert.match(text(), /ERROR consume failed, trying again in 1 s, Error \[ECONNRESET\]: connection reset/);
    await pool.stop();
    await inner.close();
  }));
