'use strict';
// The scanner: an evloop task calling due(now) every interval; items enqueued unless their key
// is pending; a due that throws, hangs or returns garbage is logged and called again next time.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { run, createTaskOps, sleep, getRunningLoop, allTasks } = require('evloop');
const { Scanner } = require('evloop/internal');
const { captureLogger, until } = require('../helpers/ops-util');

/** A due() wrapper that counts calls and resolves a future at the n-th one. */
function counted(loop, body) {
  const calls = [];
  const reached = new Map();
  const due = (now, ctx) => {
    calls.push({ now, ctx });
    const f = reached.get(calls.length);
    if (f) f.setResult();
    return body(calls.length, now, ctx);
  };
  due.calls = calls;
  due.call = (n) => {
    const f = loop.createFuture();
    if (calls.length >= n) f.setResult();
    else reached.set(n, f);
    return f;
  };
  return due;
}

test('every interval, due(now) is called and its items enqueued unless their key is pending', () =>
  run(async () => {
    const loop = getRunningLoop();
    const due = counted(loop, () => [
      { task: 'resize', key: 'image:1', params: { id: 1 } },
      { task: 'resize', key: 'image:2', params: { id: 2 } },
    ]);
    const ops = createTaskOps({ tasks: { resize: { run: () => 1 } }, due, interval: 20, workers: 0, logger: captureLogger('critical').logger });
    assert.equal(ops.health().scanner, 'off');
    ops.start();
    const t0 = loop.time();
    await due.call(3);
    assert.ok(loop.time() - t0 >= 39, 'three scans take two intervals');
    assert.equal(ops.health().scanner, 'active');
    assert.ok([...allTasks()].some((t) => t.getName() === 'scanner'), 'the scanner is an evloop task');
    const { calls } = due;
    assert.equal(typeof calls[0].now, 'number');
    assert.ok(Math.abs(calls[0].now - Date.now()) < 5000);
    assert.ok(calls[0].ctx.signal instanceof AbortSignal);
    const { runs, total } = await ops.listRuns({ limit: 10, offset: 0 });
    assert.equal(total, 2, 'the later scans found both keys pending');
    assert.deepEqual(runs.map((r) => [r.key, r.params.id]).sort(), [['image:1', 1], ['image:2', 2]]);
    assert.equal(ops.queue.statsNow().depth, 2);
    await ops.stop();
    assert.equal(ops.health().scanner, 'off');
  }));

test('a due that throws, returns garbage, hangs, or yields bad items: logged, and the next scan happens', () =>
  run(async () => {
    const loop = getRunningLoop();
    const { logger, text } = captureLogger('warn');
    // Plain promises a hung due() waits on; released at the end so run() can finish.
    const hangs = [];
    const due = counted(loop, (n) => {
      switch (n) {
        case 1:
          throw new Error('tasks file bug');
        case 2:
          return 42;
        case 3:
          return new Promise((resolve) => hangs.push(resolve)); // ignores its signal
        case 4:
          return (function* () {
            yield* sleep(60_000); // hangs too, but is cancellable
          })();
        case 5:
          return Promise.reject(Object.assign(new Error('async failure'), { code: 'ECONNREFUSED' }));
        case 6:
          return [null, { task: 'nope', key: 'a' }, { task: 't', key: '' }, { task: 't' }, { task: 't', key: 'good' }];
        default:
          return [];
      }
    });
    const ops = createTaskOps({ tasks: { t: { run: () => 1 } }, due, interval: 10, dueTimeout: 30, workers: 0, logger });
    ops.start();
    await due.call(7);
    const log = text();
    assert.match(log, /ERROR scan failed, due threw, Error: tasks file bug/);
    assert.match(log, /ERROR scan failed, due must return an array of \{ task, key, params\? \}, number/);
    assert.match(log, /ERROR scan failed, due timed out, TimeoutError \[ERR_TIMEOUT\]: due\(\) did not answer within 30 ms/);
    assert.match(log, /ERROR scan failed, due threw, Error \[ECONNREFUSED\]: async failure/);
    assert.match(log, /WARN {2}scan item refused, .*ERR_UNKNOWN_TASK.*: nope a/);
    assert.match(log, /WARN {2}scan item refused, .*ERR_INVALID_ARG_VALUE.*: t $/m);
    assert.match(log, /WARN {2}scan item refused, .*ERR_INVALID_ARG_TYPE.*: t undefined/);
    assert.match(log, /WARN {2}scan item refused, .*ERR_INVALID_ARG_TYPE.*: null/);
    assert.equal(due.calls[2].ctx.signal.aborted, true, 'the hung call was told to stop');
    assert.equal(due.calls[3].ctx.signal.aborted, true);
    const { runs } = await ops.listRuns({ limit: 10, offset: 0 });
    assert.deepEqual(runs.map((r) => r.key), ['good']);
    assert.equal(ops.health().scanner, 'active');
    await ops.stop();
    for (const release of hangs) release([]);
  }));

test('a lease that is held elsewhere: standby, due is not called; the token reaches ctx.fence', () =>
  run(async () => {
    const loop = getRunningLoop();
    let holder = 'other';
    let token = 7;
    const asked = [];
    const thirdAsk = loop.createFuture();
    const lease = {
      acquire() {
        asked.push(holder);
        if (asked.length === 3) thirdAsk.setResult();
        const f = loop.createFuture();
        f.setResult(holder === 'us' ? token : null);
        return f;
      },
      release() {
        const f = loop.createFuture();
        f.setResult();
        return f;
      },
    };
    const fences = [];
    const due = counted(loop, () => [{ task: 't', key: 'only' }]);
    const ops = createTaskOps({
      tasks: { t: { run: (_p, ctx) => fences.push(ctx.fence) } },
      due,
      lease,
      interval: 10,
      workers: 1,
      logger: captureLogger('critical').logger,
    });
    ops.start();
    await thirdAsk;
    assert.equal(ops.health().scanner, 'standby');
    assert.equal(due.calls.length, 0);
    holder = 'us';
    await due.call(1);
    assert.equal(ops.health().scanner, 'active');
    await until(ops, () => fences.length === 1);
    assert.deepEqual(fences, [7]);
    await ops.stop();
  }));

test('an enqueue failing for a reason not the item\'s own (queue unreachable, fenced) ends the scan, told once; the next scan tries again', () =>
  run(async () => {
    const loop = getRunningLoop();
    const { logger, lines } = captureLogger('warn');
    const items = ['a', 'b', 'c', 'd'].map((key) => ({ task: 't', key }));
    const tried = [];
    const failures = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('enqueue under fencing token 3, older than 4'), { code: 'ERR_FENCED' }),
    ];
    const third = loop.createFuture();
    const scanner = new Scanner({
      due: () => items,
      interval: 5,
      logger,
      submit: (item) => {
        tried.push(item.key);
        if (failures.length > 0) return Promise.reject(failures.shift());
        if (tried.length === 2 + items.length) third.setResult();
        return Promise.resolve('queued');
      },
    });
    scanner.start();
    await third;
    await scanner.stop();
    // Scan 1 stops at its first item, scan 2 too; scan 3 enqueues them all.
    assert.deepEqual(tried, ['a', 'a', 'a', 'b', 'c', 'd']);
    assert.equal(lines.length, 2);
    assert.match(lines[0].line, /ERROR scan stopped, the queue failed, Error \[ECONNREFUSED\].*: 3 items not tried/);
    assert.match(lines[1].line, /WARN {2}scan stopped, fenced \(another scanner took the lease\), Error \[ERR_FENCED\].*: 3 items not tried/);
  }));

test('a lease that cannot be asked (Redis away): standby, told once, and told again once it answers', () =>
  run(async () => {
    const loop = getRunningLoop();
    const { logger, lines } = captureLogger('info');
    let asks = 0;
    const scanned = loop.createFuture();
    const lease = {
      acquire() {
        asks++;
        const f = loop.createFuture();
        if (asks <= 5) f.setException(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }));
        else f.setResult(9);
        return f;
      },
      release: () => Promise.resolve(),
    };
    const scanner = new Scanner({
      due: () => {
        if (!scanned.done()) scanned.setResult();
        return [];
      },
      interval: 5,
      lease,
      logger,
      submit: () => Promise.resolve('queued'),
    });
    scanner.start();
    await scanned;
    assert.equal(scanner.state, 'active');
    await scanner.stop();
    assert.equal(asks, 6);
    assert.deepEqual(
      lines.map((l) => l.line.split('\n')[0].replace(/^\S+ /, '').replace(/, Error.*/, '')),
      ['ERROR scanner lease failed, standing by until it answers', 'INFO  scanner lease answers again, fence 9', 'INFO  scanner active, every 5 ms: fence 9'],
    );
  }));

test('standing by, the scanner asks again when the holder\'s lease would run out, not a whole interval later', { timeout: 20_000 }, () =>
  run(async () => {
    const loop = getRunningLoop();
    const asks = [];
    const took = loop.createFuture();
    const lease = {
      acquire() {
        asks.push(loop.time());
        const f = loop.createFuture();
        // Held elsewhere with 30 ms left; then ours.
        f.setResult(asks.length === 1 ? null : 5);
        if (asks.length === 2) took.setResult();
        return f;
      },
      nextAsk: () => (asks.length === 1 ? 30 : null),
      release: () => Promise.resolve(),
    };
    const scanner = new Scanner({ due: () => [], interval: 60_000, lease, logger: captureLogger('critical').logger, submit: () => Promise.resolve('queued') });
    scanner.start();
    await took;
    assert.equal(scanner.state, 'active');
    await scanner.stop();
    // The second ask came at the lease's end (30 ms), not after the 60 s interval.
    assert.ok(asks[1] - asks[0] >= 30, `asked again after ${asks[1] - asks[0]} ms`);
  }));

test('scanner options are checked', () =>
  run(async () => {
    const logger = captureLogger('critical').logger;
    const submit = () => Promise.resolve('queued');
    assert.throws(() => new Scanner({ due: 5, submit, logger }), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => new Scanner({ due: () => [], interval: 0, submit, logger }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => new Scanner({ due: () => [], interval: -5, submit, logger }), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => new Scanner({ due: () => [], interval: Infinity, submit, logger }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => new Scanner({ due: () => [], timeout: 0, submit, logger }), { code: 'ERR_INVALID_ARG_VALUE' });
    const ops = createTaskOps({ tasks: { t: { run: () => 1 } }, due: () => [], scanner: false, logger });
    ops.start();
    assert.equal(ops.health().scanner, 'off');
    assert.equal(ops.scanner, null);
    await ops.stop();
  }));
