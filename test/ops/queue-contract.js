'use strict';
// The Queue contract (lib/ops/queue.ts), as one suite every implementation runs:
//   runQueueContract('MemoryQueue', (options) => new MemoryQueue(options))
// makeQueue(options) is called inside a running evloop loop and may return a queue or a promise
// of one; options carry { visibilityTimeout }. Each test closes its queue.
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { run, gather, sleep, getRunningLoop, CancelledError } = require('evloop');

function msg(runId, task = 't', params = { n: runId }) {
  return { runId, task, params };
}

async function rejectsWith(promiseLike, code) {
  await assert.rejects(Promise.resolve(promiseLike), (err) => {
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

function runQueueContract(name, makeQueue) {
  // Each body gets a fresh queue and always closes it.
  function withQueue(options, body) {
    return run(async () => {
      const q = await makeQueue({ visibilityTimeout: 30_000, ...options });
      try {
        await body(q);
      } finally {
        await q.close();
      }
    });
  }

  describe(`Queue contract: ${name}`, () => {
    test('FIFO hand-out, ack removes the message, stats follow', () =>
      withQueue({}, async (q) => {
        assert.ok(q.kind === 'memory' || q.kind === 'redis');
        for (const id of ['a', 'b', 'c']) await q.enqueue(msg(id), { key: `k-${id}` });
        assert.deepEqual(await q.stats(), { depth: 3, inFlight: 0, delayed: 0, deadLetters: 0 });
        const d1 = await q.consume();
        const d2 = await q.consume();
        assert.equal(d1.message.runId, 'a');
        assert.equal(d2.message.runId, 'b');
        assert.equal(d1.key, 'k-a');
        assert.equal(d1.deliveries, 1);
        assert.deepEqual(d1.message.params, { n: 'a' });
        assert.notEqual(d1.id, d2.id);
        assert.deepEqual(await q.stats(), { depth: 1, inFlight: 2, delayed: 0, deadLetters: 0 });
        assert.equal(await d1.ack(), true);
        assert.equal(await d1.ack(), false, 'a second ack is refused');
        assert.deepEqual(await q.stats(), { depth: 1, inFlight: 1, delayed: 0, deadLetters: 0 });
        assert.equal(await d2.ack(), true);
        const d3 = await q.consume();
        assert.equal(d3.message.runId, 'c');
        assert.equal(await d3.ack(), true);
        assert.deepEqual(await q.stats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: 0 });
      }));

    test('acks asked for together: each delivery is acknowledged once, a repeat in the same batch is refused', () =>
      withQueue({}, async (q) => {
        for (const id of ['a', 'b', 'c']) await q.enqueue(msg(id), { key: id });
        const [d1, d2, d3] = [await q.consume(), await q.consume(), await q.consume()];
        assert.deepEqual(await Promise.all([d1.ack(), d2.ack(), d1.ack(), d3.ack()]), [true, true, false, true]);
        assert.deepEqual(await q.stats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: 0 });
        for (const id of ['a', 'b', 'c']) assert.equal(await q.hasKey(id), false);
      }));

    test('a key is held while queued, in flight, and across a nack; released by ack and dead letter', () =>
      withQueue({}, async (q) => {
        await q.enqueue(msg('r1'), { key: 'img:42' });
        assert.equal(await q.hasKey('img:42'), true);
        await rejectsWith(q.enqueue(msg('r2'), { key: 'img:42' }), 'ERR_DUPLICATE_KEY');
        const d = await q.consume();
        await rejectsWith(q.enqueue(msg('r2'), { key: 'img:42' }), 'ERR_DUPLICATE_KEY');
        assert.equal(await d.nack(), true);
        await rejectsWith(q.enqueue(msg('r2'), { key: 'img:42' }), 'ERR_DUPLICATE_KEY');
        const again = await q.consume();
        assert.equal(again.message.runId, 'r1');
        assert.equal(again.deliveries, 2);
        assert.equal(await again.ack(), true);
        assert.equal(await q.hasKey('img:42'), false);
        await q.enqueue(msg('r2'), { key: 'img:42' });
        const d2 = await q.consume();
        assert.equal(await d2.deadLetter({ status: -900, statusMessage: 'not repeatable' }), true);
        assert.equal(await q.hasKey('img:42'), false);
        await q.enqueue(msg('r3'), { key: 'img:42' });
        assert.deepEqual(await q.stats(), { depth: 1, inFlight: 0, delayed: 0, deadLetters: 1 });
      }));

    test('racing enqueues with one key: exactly one is accepted', () =>
      withQueue({}, async (q) => {
        const results = await gather(
          Array.from({ length: 20 }, (_, i) => q.enqueue(msg(`r${i}`), { key: 'same' })),
          { returnExceptions: true },
        );
        const accepted = results.filter((r) => !(r instanceof Error));
        const refused = results.filter((r) => r instanceof Error);
        assert.equal(accepted.length, 1);
        assert.equal(refused.length, 19);
        for (const e of refused) assert.equal(e.code, 'ERR_DUPLICATE_KEY');
        assert.equal((await q.stats()).depth, 1);
      }));

    test('consume waits for a message; a cancelled wait takes nothing', () =>
      withQueue({}, async (q) => {
        const cancelled = q.consume();
        const waiting = q.consume();
        assert.equal(cancelled.cancel(), true);
        await assert.rejects(Promise.resolve(cancelled), CancelledError);
        await q.enqueue(msg('x'), { key: 'x' });
        const d = await waiting;
        assert.equal(d.message.runId, 'x');
        assert.equal(await d.ack(), true);
        assert.deepEqual(await q.stats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: 0 });
      }));

    test('waiting consumers are served in arrival order', () =>
      withQueue({}, async (q) => {
        const waits = [q.consume(), q.consume(), q.consume()];
        for (const id of ['a', 'b', 'c']) await q.enqueue(msg(id), { key: id });
        const got = await gather(waits);
        assert.deepEqual(got.map((d) => d.message.runId), ['a', 'b', 'c']);
        for (const d of got) await d.ack();
      }));

    test('a delayed message is not handed out before its delay', () =>
      withQueue({}, async (q) => {
        const loop = getRunningLoop();
        const t0 = loop.time();
        await q.enqueue(msg('later'), { key: 'later', delay: 60 });
        await q.enqueue(msg('now'), { key: 'now' });
        assert.deepEqual(await q.stats(), { depth: 1, inFlight: 0, delayed: 1, deadLetters: 0 });
        const first = await q.consume();
        assert.equal(first.message.runId, 'now');
        const second = await q.consume();
        assert.equal(second.message.runId, 'later');
        assert.ok(loop.time() - t0 >= 59, `handed out after ${loop.time() - t0} ms`);
        await first.ack();
        await second.ack();
      }));

    test('nack with a delay: the message comes back after it, key held meanwhile', () =>
      withQueue({}, async (q) => {
        const loop = getRunningLoop();
        await q.enqueue(msg('r'), { key: 'k' });
        const d = await q.consume();
        const t0 = loop.time();
        assert.equal(await d.nack({ delay: 50 }), true);
        assert.deepEqual(await q.stats(), { depth: 0, inFlight: 0, delayed: 1, deadLetters: 0 });
        await rejectsWith(q.enqueue(msg('r2'), { key: 'k' }), 'ERR_DUPLICATE_KEY');
        const d2 = await q.consume();
        assert.ok(loop.time() - t0 >= 49);
        assert.equal(d2.deliveries, 2);
        assert.equal(await d.ack(), false, 'the first delivery is stale');
        assert.equal(await d2.ack(), true);
      }));

    test('a delivery not acked within the visibility time-out goes to another consumer; the late ack is refused', () =>
      withQueue({ visibilityTimeout: 80 }, async (q) => {
        const loop = getRunningLoop();
        await q.enqueue(msg('job'), { key: 'job' });
        // The clock starts before the take: the visibility time-out counts from it, and on a
        // loaded machine the await of consume() itself can take tens of milliseconds.
        const t0 = loop.time();
        const first = await q.consume();
        const second = await q.consume(); // waits for the redelivery
        assert.ok(loop.time() - t0 >= 79, `redelivered after ${loop.time() - t0} ms`);
        assert.equal(second.message.runId, 'job');
        assert.equal(second.deliveries, 2);
        assert.notEqual(second.id, first.id);
        assert.equal(await first.ack(), false);
        assert.equal(await first.nack(), false);
        assert.equal(await first.extend(), false);
        assert.equal(await first.deadLetter({ status: -999, statusMessage: 'x' }), false);
        assert.deepEqual(await q.stats(), { depth: 0, inFlight: 1, delayed: 0, deadLetters: 0 });
        assert.equal(await second.ack(), true);
        assert.equal(await q.hasKey('job'), false);
      }));

    test('extend() keeps a delivery with its consumer past the visibility time-out', () =>
      // Extended every third of the time-out: 200 ms of slack per round, so a loaded machine
      // (a full suite beside other work) cannot make a round late enough to lose the delivery.
      withQueue({ visibilityTimeout: 300 }, async (q) => {
        await q.enqueue(msg('long'), { key: 'long' });
        const d = await q.consume();
        const other = q.consume();
        for (let i = 0; i < 6; i++) {
          await sleep(100);
          assert.equal(await d.extend(), true);
        }
        assert.equal(other.done(), false, 'nobody else got the message after 2x the time-out');
        assert.equal(await d.ack(), true);
        other.cancel();
      }));

    test('dead letters are listed, and retried under a new message; errors for unknown ids and held keys', () =>
      withQueue({}, async (q) => {
        await q.enqueue(msg('r1', 'resize', { id: 1 }), { key: 'image:1' });
        const d = await q.consume();
        assert.equal(await d.deadLetter({ status: -950, statusMessage: 'not repeatable (-950)' }), true);
        const [dl, ...rest] = await q.deadLetters();
        assert.equal(rest.length, 0);
        assert.equal(typeof dl.id, 'string');
        assert.equal(dl.key, 'image:1');
        assert.equal(dl.status, -950);
        assert.equal(dl.statusMessage, 'not repeatable (-950)');
        assert.deepEqual(dl.message, { runId: 'r1', task: 'resize', params: { id: 1 } });
        assert.ok(!Number.isNaN(Date.parse(dl.failedAt)));
        await rejectsWith(q.retryDeadLetter('no-such-id', msg('r9')), 'ERR_DEAD_LETTER_NOT_FOUND');
        await q.enqueue(msg('r2'), { key: 'image:1' });
        await rejectsWith(q.retryDeadLetter(dl.id, msg('r3', 'resize', { id: 1 })), 'ERR_DUPLICATE_KEY');
        assert.equal((await q.deadLetters()).length, 1, 'a refused retry keeps the dead letter');
        assert.equal(await q.remove('r2'), true);
        await q.retryDeadLetter(dl.id, msg('r3', 'resize', { id: 1 }));
        assert.equal((await q.deadLetters()).length, 0);
        const again = await q.consume();
        assert.equal(again.message.runId, 'r3');
        assert.equal(again.key, 'image:1');
        await again.ack();
      }));

    test('remove(): a queued or delayed message goes and its key is released; one in flight stays', () =>
      withQueue({}, async (q) => {
        await q.enqueue(msg('a'), { key: 'a' });
        await q.enqueue(msg('b'), { key: 'b', delay: 10_000 });
        await q.enqueue(msg('c'), { key: 'c' });
        assert.equal(await q.remove('a'), true);
        assert.equal(await q.remove('b'), true);
        assert.equal(await q.remove('a'), false);
        assert.equal(await q.remove('nope'), false);
        assert.equal(await q.hasKey('a'), false);
        assert.equal(await q.hasKey('b'), false);
        assert.deepEqual(await q.stats(), { depth: 1, inFlight: 0, delayed: 0, deadLetters: 0 });
        const d = await q.consume();
        assert.equal(d.message.runId, 'c');
        assert.equal(await q.remove('c'), false);
        assert.equal(await d.ack(), true);
      }));

    test('many consumers: every message is delivered once and acked once', () =>
      withQueue({}, async (q) => {
        const n = 300;
        const seen = new Map();
        let stop = false;
        async function consumer() {
          for (;;) {
            const d = await q.consume();
            seen.set(d.message.runId, (seen.get(d.message.runId) ?? 0) + 1);
            assert.equal(await d.ack(), true);
            if (stop && seen.size === n) return;
          }
        }
        const consumers = Array.from({ length: 4 }, () => getRunningLoop().createTask(consumer));
        for (let i = 0; i < n; i++) {
          await q.enqueue(msg(`m${i}`), { key: `k${i}` });
          if (i % 7 === 0) await sleep(0);
        }
        stop = true;
        while (seen.size < n) await sleep(1);
        for (const c of consumers) c.cancel();
        await gather(consumers, { returnExceptions: true });
        assert.equal(seen.size, n);
        for (const count of seen.values()) assert.equal(count, 1);
        assert.deepEqual(await q.stats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: 0 });
      }));

    test('close(): waiting consumers fail with ERR_QUEUE_CLOSED, later enqueues too', () =>
      withQueue({}, async (q) => {
        const waiting = q.consume();
        await q.close();
        await rejectsWith(waiting, 'ERR_QUEUE_CLOSED');
        await rejectsWith(q.enqueue(msg('x'), { key: 'x' }), 'ERR_QUEUE_CLOSED');
        await rejectsWith(q.consume(), 'ERR_QUEUE_CLOSED');
      }));

    test('bad arguments are TypeError / RangeError with a code, and change nothing', () =>
      withQueue({}, async (q) => {
        const bad = [
          [() => q.enqueue(null, { key: 'k' }), TypeError, 'ERR_INVALID_ARG_TYPE'],
          [() => q.enqueue({ task: 't' }, { key: 'k' }), TypeError, 'ERR_INVALID_ARG_TYPE'],
          [() => q.enqueue(msg('r'), undefined), TypeError, 'ERR_INVALID_ARG_TYPE'],
          [() => q.enqueue(msg('r'), {}), TypeError, 'ERR_INVALID_ARG_TYPE'],
          [() => q.enqueue(msg('r'), { key: 42 }), TypeError, 'ERR_INVALID_ARG_TYPE'],
          [() => q.enqueue(msg('r'), { key: '' }), TypeError, 'ERR_INVALID_ARG_VALUE'],
          [() => q.enqueue(msg('r'), { key: 'k', delay: -1 }), RangeError, 'ERR_OUT_OF_RANGE'],
          [() => q.enqueue(msg('r'), { key: 'k', delay: 'soon' }), TypeError, 'ERR_INVALID_ARG_TYPE'],
          [() => q.remove(7), TypeError, 'ERR_INVALID_ARG_TYPE'],
          [() => q.hasKey(undefined), TypeError, 'ERR_INVALID_ARG_TYPE'],
        ];
        for (const [fn, Type, code] of bad) {
          assert.throws(fn, (err) => err instanceof Type && err.code === code, String(fn));
        }
        await q.enqueue(msg('r'), { key: 'k' });
        const d = await q.consume();
        assert.throws(() => d.nack({ delay: -5 }), (err) => err instanceof RangeError && err.code === 'ERR_OUT_OF_RANGE');
        assert.throws(() => d.deadLetter({ status: 'x', statusMessage: 'y' }), (err) => err instanceof TypeError);
        assert.deepEqual(await q.stats(), { depth: 0, inFlight: 1, delayed: 0, deadLetters: 0 });
        assert.equal(await d.ack(), true);
      }));
  });
}

module.exports = { runQueueContract };
