'use strict';
// At most one queued-or-running run per key, whoever asks: a scanner racing manual starts.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { run, createTaskOps, gather, getRunningLoop, sleep } = require('evloop');
const { captureLogger, until } = require('../helpers/ops-util');

test('a scan and a manual start with the same key in the same pass: exactly one run', () =>
  run(async () => {
    const loop = getRunningLoop();
    const ops = createTaskOps({
      tasks: { t: { run: () => 1 } },
      due: () => [{ task: 't', key: 'image:42' }],
      interval: 60_000,
      workers: 0,
      logger: captureLogger('critical').logger,
    });
    for (let round = 0; round < 50; round++) {
      const key = 'image:42';
      // Alternate who reaches the queue first within the pass.
      let scan;
      let manual;
      if (round % 2) {
        manual = ops.startRun('t', { key });
        scan = loop.createTask(() => ops.scanner.scanOnce());
      } else {
        scan = loop.createTask(() => ops.scanner.scanOnce());
        manual = ops.startRun('t', { key });
      }
      const [report, manualRun] = await gather([scan, manual], { returnExceptions: true });
      const manualWon = !(manualRun instanceof Error);
      if (!manualWon) assert.equal(manualRun.code, 'ERR_DUPLICATE_KEY');
      assert.equal(report.queued + report.pending, 1);
      assert.equal(report.queued, manualWon ? 0 : 1, `round ${round}`);
      const { runs } = await ops.listRuns({ limit: 10, offset: 0 });
      const live = runs.filter((r) => r.key === key && r.endedAt === undefined);
      assert.equal(live.length, 1, `round ${round}: one live run for the key`);
      await ops.cancelRun(live[0].id);
    }
    await ops.stop();
  }));

test('a scanner every few ms and manual starts racing it: never two runs of one key at a time', () =>
  run(async () => {
    const loop = getRunningLoop();
    const keys = ['a', 'b', 'c'];
    const running = new Map(keys.map((k) => [k, 0]));
    let maxConcurrent = 0;
    let finishedRuns = 0;
    const ops = createTaskOps({
      tasks: {
        t: {
          run: function* (_params, ctx) {
            running.set(ctx.key, running.get(ctx.key) + 1);
            maxConcurrent = Math.max(maxConcurrent, running.get(ctx.key));
            yield* sleep(3);
            running.set(ctx.key, running.get(ctx.key) - 1);
            finishedRuns++;
          },
        },
      },
      due: () => keys.map((key) => ({ task: 't', key })),
      interval: 2,
      workers: 4,
      logger: captureLogger('critical').logger,
    });
    ops.start();
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 60; i++) {
      const key = keys[i % keys.length];
      try {
        await ops.startRun('t', { key });
        accepted++;
      } catch (err) {
        assert.equal(err.code, 'ERR_DUPLICATE_KEY');
        refused++;
      }
      await loop.createTask(function* () {
        yield null;
      });
    }
    await until(ops, () => finishedRuns >= 30);
    await ops.stop();
    assert.equal(maxConcurrent, 1);
    assert.ok(refused > 0, 'some manual starts met a pending key');
    assert.ok(finishedRuns >= 30);
    assert.ok(accepted > 0, 'some manual starts got in');
  }));
