'use strict';
// The retry / dead-letter table of API.md, band by band: first decide() alone, then the same
// table end to end through workers on the embedded queue (attempts made, final status, dead letters).
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const { run, createTaskOps, sleep, HttpError, RetryLaterError } = require('evloop');
const { decide, retryPolicy, isTransient, HARD_MAX_ATTEMPTS } = require('evloop/internal');
const { captureLogger, finished, statusError } = require('../helpers/ops-util');

const policy = retryPolicy({ backoffBase: 100, backoffMax: 1000, retryLaterMax: 10_000 });
const task = { retries: 2, retryDelay: 500 };

describe('decide(): what a failure status makes the worker do', () => {
  test('retry required (-998…-990): retried with back-off up to the hard cap of 25 attempts', () => {
    for (const status of [-998, -995, -990]) {
      assert.deepEqual(decide(status, 1, task, policy), { action: 'retry', delay: 100, why: 'retry required' });
      assert.equal(decide(status, 3, task, policy).delay, 400);
      assert.equal(decide(status, 10, task, policy).delay, 1000, 'back-off is capped');
      assert.equal(decide(status, HARD_MAX_ATTEMPTS - 1, task, policy).action, 'retry');
      assert.equal(decide(status, HARD_MAX_ATTEMPTS, task, policy).action, 'deadLetter');
    }
    assert.equal(HARD_MAX_ATTEMPTS, 25);
  });

  test('retry optional (-989…-980): retried up to `retries` re-runs', () => {
    for (const status of [-989, -985, -980]) {
      assert.equal(decide(status, 1, task, policy).action, 'retry');
      assert.equal(decide(status, 2, task, policy).action, 'retry');
      assert.equal(decide(status, 3, task, policy).action, 'deadLetter', '1 + retries attempts at most');
      assert.equal(decide(status, 1, { retries: 0, retryDelay: 0 }, policy).action, 'deadLetter');
    }
  });

  test('retry later (-979…-970): after retryDelay, doubling, up to the hard cap', () => {
    for (const status of [-979, -975, -970]) {
      assert.deepEqual(decide(status, 1, task, policy), { action: 'retry', delay: 500, why: 'retry later' });
      assert.equal(decide(status, 2, task, policy).delay, 1000);
      assert.equal(decide(status, 3, task, policy).delay, 2000);
      assert.equal(decide(status, 12, task, policy).delay, 10_000, 'capped by retryLaterMax');
      assert.equal(decide(status, 24, task, policy).action, 'retry');
      assert.equal(decide(status, 25, task, policy).action, 'deadLetter');
    }
  });

  test('not repeatable (-950…-900) and unhandled (-999): dead letter at once', () => {
    for (const status of [-950, -925, -900, -999]) assert.equal(decide(status, 1, task, policy).action, 'deadLetter');
  });

  test('errno and HTTP: transient ones retried as retry optional, the rest dead-lettered', () => {
    const transient = [-111, -104, -110, -11, -32, -408, -429, -500, -502, -503, -599];
    const permanent = [-2, -13, -22, -125, -98, -400, -401, -404, -409, -422, -200];
    for (const status of transient) {
      assert.equal(isTransient(status), true, String(status));
      assert.equal(decide(status, 1, task, policy).action, 'retry', String(status));
      assert.equal(decide(status, 3, task, policy).action, 'deadLetter', String(status));
    }
    for (const status of permanent) {
      assert.equal(isTransient(status), false, String(status));
      assert.equal(decide(status, 1, task, policy).action, 'deadLetter', String(status));
    }
  });

  test('reserved bands: dead letter (nothing says a retry is safe)', () => {
    for (const status of [-969, -951, -899, -601]) assert.equal(decide(status, 1, task, policy).action, 'deadLetter');
  });

  test('bad attempts and options are refused with a code', () => {
    assert.throws(() => decide(-990, 0, task, policy), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => retryPolicy({ backoffBase: -1 }), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => retryPolicy(null), { code: 'ERR_INVALID_ARG_TYPE' });
  });
});

describe('the same table end to end: workers on the embedded queue', () => {
  // Each task fails the same way on every attempt (unless it says otherwise); the run's final
  // status, its attempts and whether it became a dead letter are what the table promises.
  const cases = [
    { name: 'required', fail: () => statusError(-995), retries: 0, attempts: 25, status: -995, dead: true },
    { name: 'optional', fail: () => statusError(-985), retries: 2, attempts: 3, status: -985, dead: true },
    { name: 'later', fail: () => new RetryLaterError('busy'), retries: 0, attempts: 25, status: -970, dead: true },
    { name: 'notrepeatable', fail: () => statusError(-920), retries: 5, attempts: 1, status: -920, dead: true },
    { name: 'unhandled', fail: () => new Error('boom'), retries: 5, attempts: 1, status: -999, dead: true },
    { name: 'econnreset', fail: () => Object.assign(new Error('reset'), { code: 'ECONNRESET' }), retries: 2, attempts: 3, status: -104, dead: true },
    { name: 'enoent', fail: () => Object.assign(new Error('missing'), { code: 'ENOENT' }), retries: 2, attempts: 1, status: -2, dead: true },
    { name: 'http503', fail: () => new HttpError(503), retries: 1, attempts: 2, status: -503, dead: true },
    { name: 'http429', fail: () => new HttpError(429), retries: 1, attempts: 2, status: -429, dead: true },
    { name: 'http404', fail: () => new HttpError(404), retries: 3, attempts: 1, status: -404, dead: true },
    { name: 'reserved', fail: () => statusError(-960), retries: 3, attempts: 1, status: -960, dead: true },
  ];

  test('every band: attempts, final status, dead letter', () =>
    run(async () => {
      const { logger } = captureLogger('critical');
      const tasks = {};
      for (const c of cases) {
        tasks[c.name] = {
          retries: c.retries,
          retryDelay: 1,
          run: async () => {
            throw c.fail();
          },
        };
      }
      tasks.timesout = { retries: 1, timeout: 20, run: () => sleep(10_000) };
      tasks.laterthenok = {
        retryDelay: 1,
        run: async (_params, ctx) => {
          if (ctx.attempt < 3) throw new RetryLaterError();
          return { attempt: ctx.attempt };
        },
      };
      const ops = createTaskOps({ tasks, logger, workers: 4, retry: { backoffBase: 0, retryLaterMax: 2 } });
      ops.start();
      const ids = [];
      for (const name of Object.keys(tasks)) ids.push((await ops.startRun(name, { key: name })).id);
      const runs = await finished(ops, ids);
      const byTask = Object.fromEntries(runs.map((r) => [r.task, r]));
      for (const c of cases) {
        const r = byTask[c.name];
        assert.equal(r.status, c.status, `${c.name}: status`);
        assert.equal(r.attempts, c.attempts, `${c.name}: attempts`);
        assert.ok(r.error && typeof r.error.message === 'string', `${c.name}: error recorded`);
      }
      assert.equal(byTask.timesout.status, -110);
      assert.equal(byTask.timesout.attempts, 2, 'a time-out is ETIMEDOUT: transient, retried up to retries');
      assert.equal(byTask.timesout.statusMessage, 'ETIMEDOUT: Connection timed out');
      assert.equal(byTask.laterthenok.status, 0);
      assert.equal(byTask.laterthenok.attempts, 3);
      assert.deepEqual(byTask.laterthenok.result, { attempt: 3 });
      assert.equal(byTask.laterthenok.error, undefined);
      const dead = await ops.listDeadLetters();
      assert.deepEqual(dead.map((d) => d.task).sort(), [...cases.map((c) => c.name), 'timesout'].sort());
      for (const d of dead) {
        assert.equal(d.status, byTask[d.task].status);
        assert.equal(d.runId, byTask[d.task].id);
        assert.equal(d.key, d.task);
      }
      assert.deepEqual(await ops.queueStats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: dead.length });
      await ops.stop();
    }));

  test('while a retry waits, the run shows the failure code and is not finished', () =>
    run(async () => {
      const { logger } = captureLogger('critical');
      const ops = createTaskOps({
        tasks: { slowretry: { retryDelay: 60_000, run: async () => { throw new RetryLaterError('come back later'); } } },
        logger,
      });
      ops.start();
      const { id } = await ops.startRun('slowretry', {});
      const { until } = require('../helpers/ops-util');
      await until(ops, () => ops.registry.get(id).status === -970);
      const r = await ops.getRun(id);
      assert.equal(r.category, 'retryLater');
      assert.equal(r.endedAt, undefined);
      assert.deepEqual(r.error, { message: 'come back later', code: 'ERR_RETRY_LATER' });
      assert.deepEqual(await ops.queueStats(), { depth: 0, inFlight: 0, delayed: 1, deadLetters: 0 });
      const { runs, total } = await ops.listRuns({ category: 'retryLater', limit: 10, offset: 0 });
      assert.equal(total, 1);
      assert.equal(runs[0].id, id);
      // Cancelling a run that waits for its retry removes it from the queue.
      const cancelled = await ops.cancelRun(id);
      assert.equal(cancelled.status, -125);
      assert.deepEqual(await ops.queueStats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: 0 });
      await ops.stop();
    }));
});
