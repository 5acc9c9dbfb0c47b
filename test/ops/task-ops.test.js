'use strict';
// createTaskOps: the TaskOps surface the REST API and the dashboard program against, its errors,
// its change notifications, the registry's bound and its log lines.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { run, createTaskOps, sleep, getRunningLoop, RetryLaterError } = require('evloop');
const { captureLogger, until, finished } = require('../helpers/ops-util');

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

async function rejectsWith(promiseLike, code) {
  await assert.rejects(Promise.resolve(promiseLike), (err) => {
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

function quiet() {
  return captureLogger('critical').logger;
}

test('health, listTasks with the defaults filled in', () =>
  run(async () => {
    const ops = createTaskOps({
      tasks: { resize: { run: async () => 1, retries: 5, timeout: 1000, retryDelay: 10 }, noop: { run: () => 0 } },
      logger: quiet(),
    });
    assert.deepEqual(ops.health(), { status: 'ok', queue: 'memory', scanner: 'off', workers: 0 });
    assert.deepEqual(ops.listTasks(), [
      { name: 'resize', retries: 5, timeout: 1000, retryDelay: 10 },
      { name: 'noop', retries: 3, timeout: 30_000, retryDelay: 1000 },
    ]);
    ops.start();
    assert.deepEqual(ops.health(), { status: 'ok', queue: 'memory', scanner: 'off', workers: 4 });
    await ops.stop();
    assert.equal(ops.health().workers, 0);
  }));

test('a run: queued (1), running (100), success (0) with its result and ISO times', () =>
  run(async () => {
    const { logger, text } = captureLogger('debug');
    const ops = createTaskOps({
      tasks: {
        resize: {
          run: function* (params, ctx) {
            assert.equal(ctx.task, 'resize');
            assert.equal(ctx.key, 'image:42');
            assert.equal(ctx.attempt, 1);
            assert.equal(ctx.fence, 0);
            assert.ok(ctx.signal instanceof AbortSignal);
            ctx.log.info('resizing', `to ${params.width}px`);
            const seen = ops.registry.get(ctx.id);
            assert.equal(seen.status, 100);
            assert.equal(seen.category, 'inProcess');
            yield* sleep(1);
            return { width: params.width };
          },
        },
      },
      logger,
    });
    const queued = await ops.startRun('resize', { key: 'image:42', params: { width: 64 } });
    assert.equal(queued.status, 1);
    assert.equal(queued.category, 'init');
    assert.equal(queued.statusMessage, 'init');
    assert.equal(queued.attempts, 0);
    assert.match(queued.createdAt, ISO);
    assert.deepEqual(await ops.queueStats(), { depth: 1, inFlight: 0, delayed: 0, deadLetters: 0 });
    ops.start();
    const [done] = await finished(ops, [queued.id]);
    assert.equal(done.status, 0);
    assert.equal(done.statusMessage, 'success');
    assert.equal(done.category, 'success');
    assert.deepEqual(done.result, { width: 64 });
    assert.equal(done.attempts, 1);
    assert.match(done.startedAt, ISO);
    assert.match(done.endedAt, ISO);
    assert.ok(done.endedAt >= done.startedAt && done.startedAt >= done.createdAt);
    await ops.stop();
    // The project's log format: `short desc, detail info: key`.
    assert.match(text(), / DEBUG run queued \(request\), resize image:42: 1$/m);
    assert.match(text(), / DEBUG run started, attempt 1, resize image:42: 100$/m);
    assert.match(text(), / INFO {2}resizing, to 64px: resize image:42$/m);
    assert.match(text(), / INFO {2}run finished, resize image:42: 0$/m);
  }));

test('startRun: unknown task, bad input, duplicate key — each a coded error that changes nothing', () =>
  run(async () => {
    const ops = createTaskOps({ tasks: { t: { run: () => 1 } }, logger: quiet() });
    const changes = [];
    ops.onChange((c) => changes.push(c));
    await ops.startRun('t', { key: 'k' });
    changes.length = 0;
    const before = ops.registry.size;
    await rejectsWith(ops.startRun('nope', {}), 'ERR_UNKNOWN_TASK');
    await rejectsWith(ops.startRun(42, {}), 'ERR_INVALID_ARG_TYPE');
    await rejectsWith(ops.startRun('t', 'params'), 'ERR_INVALID_ARG_TYPE');
    await rejectsWith(ops.startRun('t', null), 'ERR_INVALID_ARG_TYPE');
    await rejectsWith(ops.startRun('t', [1]), 'ERR_INVALID_ARG_TYPE');
    await rejectsWith(ops.startRun('t', { key: 7 }), 'ERR_INVALID_ARG_TYPE');
    await rejectsWith(ops.startRun('t', { key: '' }), 'ERR_INVALID_ARG_VALUE');
    await rejectsWith(ops.startRun('t', { key: 'x'.repeat(1025) }), 'ERR_INVALID_ARG_VALUE');
    await rejectsWith(ops.startRun('t', { key: 'k' }), 'ERR_DUPLICATE_KEY');
    assert.equal(ops.registry.size, before);
    assert.deepEqual(changes, []);
    assert.deepEqual(await ops.queueStats(), { depth: 1, inFlight: 0, delayed: 0, deadLetters: 0 });
    // No key: the run id is the key, so keyless runs never collide.
    const a = await ops.startRun('t');
    const b = await ops.startRun('t', {});
    assert.equal(a.key, a.id);
    assert.notEqual(a.key, b.key);
    assert.equal(a.params, null);
    await ops.stop();
  }));

test('getRun and listRuns: newest first, filters, paging, total; bad queries refused', () =>
  run(async () => {
    const ops = createTaskOps({ tasks: { a: { run: () => 1 }, b: { run: () => 2 } }, logger: quiet() });
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await ops.startRun(i % 2 ? 'b' : 'a', { key: `k${i}` })).id);
    assert.equal(await ops.getRun('no-such-run'), undefined);
    assert.equal(await ops.getRun(42), undefined);
    assert.equal((await ops.getRun(ids[0])).key, 'k0');
    const all = await ops.listRuns({ limit: 50, offset: 0 });
    assert.equal(all.total, 5);
    assert.deepEqual(all.runs.map((r) => r.key), ['k4', 'k3', 'k2', 'k1', 'k0']);
    const page = await ops.listRuns({ limit: 2, offset: 1 });
    assert.equal(page.total, 5);
    assert.deepEqual(page.runs.map((r) => r.key), ['k3', 'k2']);
    const onlyB = await ops.listRuns({ task: 'b', limit: 50, offset: 0 });
    assert.deepEqual(onlyB.runs.map((r) => r.key), ['k3', 'k1']);
    assert.equal((await ops.listRuns({ category: 'init', limit: 0, offset: 0 })).total, 5);
    assert.equal((await ops.listRuns({ category: 'success', limit: 10, offset: 0 })).total, 0);
    await rejectsWith(ops.listRuns({ limit: -1, offset: 0 }), 'ERR_OUT_OF_RANGE');
    await rejectsWith(ops.listRuns({ limit: 1.5, offset: 0 }), 'ERR_OUT_OF_RANGE');
    await rejectsWith(ops.listRuns({ limit: '5', offset: 0 }), 'ERR_INVALID_ARG_TYPE');
    await rejectsWith(ops.listRuns({ limit: 5, offset: -2 }), 'ERR_OUT_OF_RANGE');
    await rejectsWith(ops.listRuns({ limit: 5, offset: 0, category: 'finished' }), 'ERR_INVALID_ARG_VALUE');
    // A returned record is a copy: changing it changes nothing inside.
    const r = await ops.getRun(ids[0]);
    r.status = 12345;
    assert.equal((await ops.getRun(ids[0])).status, 1);
    await ops.stop();
  }));

test('cancelRun: a queued run is removed (-125), a finished one is refused, an unknown one is 404', () =>
  run(async () => {
    const ops = createTaskOps({ tasks: { t: { run: () => 1 } }, logger: quiet(), workers: 0 });
    const r = await ops.startRun('t', { key: 'k' });
    const c = await ops.cancelRun(r.id);
    assert.equal(c.status, -125);
    assert.equal(c.statusMessage, 'ECANCELED: Operation Canceled');
    assert.equal(c.category, 'errno');
    assert.match(c.endedAt, ISO);
    assert.deepEqual(await ops.queueStats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: 0 });
    await rejectsWith(ops.cancelRun(r.id), 'ERR_RUN_FINISHED');
    await rejectsWith(ops.cancelRun('nope'), 'ERR_RUN_NOT_FOUND');
    await rejectsWith(ops.cancelRun(undefined), 'ERR_INVALID_ARG_TYPE');
    // Its key is free again.
    await ops.startRun('t', { key: 'k' });
    await ops.stop();
  }));

test('cancelRun on a running run: ctx.signal aborts, the handler is cancelled, status -125, the message is acked', () =>
  run(async () => {
    const loop = getRunningLoop();
    const entered = loop.createFuture();
    let signalReason;
    const ops = createTaskOps({
      tasks: {
        long: {
          run: async (_params, ctx) => {
            ctx.signal.addEventListener('abort', () => (signalReason = ctx.signal.reason));
            entered.setResult();
            await sleep(60_000);
          },
        },
      },
      logger: quiet(),
      workers: 1,
    });
    ops.start();
    const r = await ops.startRun('long', { key: 'k' });
    await entered;
    const c = await ops.cancelRun(r.id);
    assert.equal(c.status, -125);
    await until(ops, () => ops.workers.busy === 0);
    assert.equal(signalReason.name, 'CancelledError');
    assert.equal((await ops.getRun(r.id)).status, -125);
    assert.deepEqual(await ops.queueStats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: 0 });
    await ops.stop();
  }));

test('dead letters: listed with the run, task, key and status; unknown ids refused', () =>
  run(async () => {
    const ops = createTaskOps({
      tasks: { flaky: { run: async () => { throw Object.assign(new Error('bad input'), { status: -900 }); } } },
      logger: quiet(),
    });
    ops.start();
    const r = await ops.startRun('flaky', { key: 'job:1', params: { n: 7 } });
    await finished(ops, [r.id]);
    const [dl, ...rest] = await ops.listDeadLetters();
    assert.equal(rest.length, 0);
    assert.deepEqual(Object.keys(dl).sort(), ['failedAt', 'id', 'key', 'runId', 'status', 'statusMessage', 'task']);
    assert.equal(dl.runId, r.id);
    assert.equal(dl.task, 'flaky');
    assert.equal(dl.key, 'job:1');
    assert.equal(dl.status, -900);
    assert.equal(dl.statusMessage, 'not repeatable');
    assert.match(dl.failedAt, ISO);
    const failed = await ops.getRun(r.id);
    assert.deepEqual(failed.error, { message: 'bad input' });
    assert.equal(failed.category, 'notRepeatable');
    await rejectsWith(ops.retryDeadLetter('nope'), 'ERR_DEAD_LETTER_NOT_FOUND');
    await rejectsWith(ops.retryDeadLetter(5), 'ERR_INVALID_ARG_TYPE');
    await ops.stop();
  }));

test('retryDeadLetter: a new run, same key and params; refused while the key is held', () =>
  run(async () => {
    let fail = true;
    const ops = createTaskOps({
      tasks: {
        flaky: {
          run: async (params) => {
            if (fail) throw Object.assign(new Error('bad input'), { status: -900 });
            return params.n * 2;
          },
        },
      },
      logger: quiet(),
      workers: 1,
    });
    ops.start();
    const first = await ops.startRun('flaky', { key: 'job:1', params: { n: 7 } });
    await finished(ops, [first.id]);
    const [dl] = await ops.listDeadLetters();
    await ops.workers.stop();
    const blocker = await ops.startRun('flaky', { key: 'job:1' });
    await rejectsWith(ops.retryDeadLetter(dl.id), 'ERR_DUPLICATE_KEY');
    assert.equal((await ops.listDeadLetters()).length, 1);
    await ops.cancelRun(blocker.id);
    fail = false;
    const again = await ops.retryDeadLetter(dl.id);
    assert.notEqual(again.id, first.id);
    assert.equal(again.key, 'job:1');
    assert.deepEqual(again.params, { n: 7 });
    assert.equal(again.status, 1);
    assert.deepEqual(await ops.listDeadLetters(), []);
    await rejectsWith(ops.retryDeadLetter(dl.id), 'ERR_DEAD_LETTER_NOT_FOUND');
    await ops.stop();
  }));

test('onChange: every state change is reported; unsubscribe; a throwing listener is logged, not fatal', () =>
  run(async () => {
    const { logger, text } = captureLogger('error');
    const ops = createTaskOps({ tasks: { t: { run: async () => 'ok' } }, logger, workers: 1 });
    const changes = [];
    const off = ops.onChange((c) => changes.push(c));
    ops.onChange(() => {
      throw new Error('listener bug');
    });
    ops.start();
    const r = await ops.startRun('t', { key: 'k' });
    await finished(ops, [r.id]);
    const runChanges = changes.filter((c) => c.kind === 'run');
    assert.ok(runChanges.length >= 3, 'queued, started, finished');
    for (const c of runChanges) assert.deepEqual(c, { kind: 'run', runId: r.id, task: 't' });
    assert.ok(changes.some((c) => c.kind === 'queue'));
    assert.match(text(), /onChange listener threw, Error: listener bug/);
    off();
    const n = changes.length;
    const r2 = await ops.startRun('t', {});
    await finished(ops, [r2.id]);
    assert.equal(changes.length, n);
    assert.throws(() => ops.onChange('x'), { code: 'ERR_INVALID_ARG_TYPE' });
    await ops.stop();
  }));

test('finished runs are bounded: the oldest finished are dropped first, unfinished ones stay', () =>
  run(async () => {
    const ops = createTaskOps({
      tasks: {
        t: { run: () => 1 },
        later: { retryDelay: 60_000, run: async () => { throw new RetryLaterError(); } },
      },
      logger: quiet(),
      maxFinishedRuns: 3,
      workers: 1,
    });
    ops.start();
    const waiting = await ops.startRun('later', { key: 'stays' });
    await until(ops, () => ops.registry.get(waiting.id).status === -970);
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await ops.startRun('t', { key: `k${i}` })).id);
    await until(ops, () => ids.slice(3).every((id) => ops.registry.get(id)?.endedAt));
    const { runs, total } = await ops.listRuns({ limit: 50, offset: 0 });
    assert.equal(total, 4);
    assert.deepEqual(runs.map((r) => r.key), ['k5', 'k4', 'k3', 'stays']);
    assert.equal(await ops.getRun(ids[0]), undefined);
    await ops.stop();
  }));

test('task definitions are checked when the TaskOps is created', () =>
  run(async () => {
    const bad = [
      [undefined, 'ERR_INVALID_ARG_TYPE'],
      [{}, 'ERR_INVALID_ARG_VALUE'],
      [{ t: null }, 'ERR_INVALID_ARG_TYPE'],
      [{ t: {} }, 'ERR_INVALID_ARG_TYPE'],
      [{ t: { run: 'x' } }, 'ERR_INVALID_ARG_TYPE'],
      [{ t: { run: () => 1, retries: -1 } }, 'ERR_OUT_OF_RANGE'],
      [{ t: { run: () => 1, retries: 25 } }, 'ERR_OUT_OF_RANGE'],
      [{ t: { run: () => 1, retries: 1.5 } }, 'ERR_OUT_OF_RANGE'],
      [{ t: { run: () => 1, timeout: 0 } }, 'ERR_INVALID_ARG_VALUE'],
      [{ t: { run: () => 1, timeout: Infinity } }, 'ERR_INVALID_ARG_VALUE'],
      [{ t: { run: () => 1, timeout: '5s' } }, 'ERR_INVALID_ARG_TYPE'],
      [{ t: { run: () => 1, retryDelay: -5 } }, 'ERR_OUT_OF_RANGE'],
      [{ 'bad name': { run: () => 1 } }, 'ERR_INVALID_ARG_VALUE'],
      [{ 'a/b': { run: () => 1 } }, 'ERR_INVALID_ARG_VALUE'],
    ];
    for (const [tasks, code] of bad) {
      assert.throws(() => createTaskOps({ tasks }), (err) => err.code === code, JSON.stringify(tasks));
    }
    assert.throws(() => createTaskOps(null), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => createTaskOps({ tasks: { t: { run: () => 1 } }, workers: -1 }), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => createTaskOps({ tasks: { t: { run: () => 1 } }, maxFinishedRuns: -1 }), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => createTaskOps({ tasks: { t: { run: () => 1 } }, visibilityTimeout: 0 }), { code: 'ERR_INVALID_ARG_VALUE' });
  }));
