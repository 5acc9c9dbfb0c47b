'use strict';
// The loop's timer queue (lib/timer-queue.ts): deadline order, ties by scheduling order, also
// when timers arrive out of order inside one millisecond bucket, with cancellations and purges.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { newEventLoop } = require('evloop');

/** A deterministic pseudo-random sequence, so a failure reproduces. */
function lcg(seed) {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

test('callAt timers fire in (deadline, scheduling) order across and within millisecond buckets', async () => {
  const loop = newEventLoop();
  const random = lcg(7);
  const base = loop.time() + 5;
  const expected = [];
  const fired = [];
  for (let seq = 0; seq < 5000; seq++) {
    // Few distinct deadlines (many exact ties) spread over 30 ms, scheduled in random order.
    const when = base + Math.floor(random() * 120) / 4;
    expected.push({ when, seq });
    loop.callAt(when, () => fired.push(seq));
  }
  expected.sort((a, b) => a.when - b.when || a.seq - b.seq);
  await loop.runUntilComplete(
    (function* () {
      const done = loop.createFuture();
      loop.callAt(base + 40, () => done.setResult());
      yield* done;
    })(),
  );
  loop.close();
  assert.deepEqual(fired, expected.map((e) => e.seq));
});

test('cancelled timers never fire and the rest keep their order', async () => {
  const loop = newEventLoop();
  const random = lcg(11);
  const base = loop.time() + 5;
  const fired = [];
  const kept = [];
  const handles = [];
  for (let seq = 0; seq < 3000; seq++) {
    const when = base + random() * 20;
    handles.push({ seq, when, handle: loop.callAt(when, () => fired.push(seq)) });
  }
  for (const h of handles) {
    if (h.seq % 3 !== 0) h.handle.cancel();
    else kept.push(h);
  }
  assert.equal(loop._timers.length, 3000, 'cancelled timers stay queued until purged');
  kept.sort((a, b) => a.when - b.when || a.seq - b.seq);
  await loop.runUntilComplete(
    (function* () {
      const done = loop.createFuture();
      loop.callAt(base + 30, () => done.setResult());
      yield* done;
    })(),
  );
  loop.close();
  assert.deepEqual(fired, kept.map((h) => h.seq));
});

test('timers scheduled from a timer callback for an earlier bucket still fire in order', async () => {
  const loop = newEventLoop();
  const order = [];
  await loop.runUntilComplete(
    (function* () {
      const done = loop.createFuture();
      const t0 = loop.time();
      // 'late' sits in a much later bucket (far enough that a loaded machine's late 'first' still
      // schedules its timers before it) and ends the test when it fires.
      loop.callAt(t0 + 200.9, () => {
        order.push('late');
        done.setResult();
      });
      loop.callAt(t0 + 2, () => {
        order.push('first');
        const now = loop.time();
        loop.callAt(now + 3.7, () => order.push('second'));
        loop.callAt(now + 3.2, () => order.push('second-earlier'));
        loop.callAt(now + 3.7, () => order.push('second-tie'));
      });
      yield* done;
    })(),
  );
  loop.close();
  assert.deepEqual(order, ['first', 'second-earlier', 'second', 'second-tie', 'late']);
});
