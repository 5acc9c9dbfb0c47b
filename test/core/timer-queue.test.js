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

/** Schedules `n` timers at `whenOf(seq)`, runs `loop` up to `end`, and checks they fired by deadline, ties in scheduling order. */
async function assertFiringOrder(loop, n, whenOf, end) {
  const expected = [];
  const fired = [];
  for (let seq = 0; seq < n; seq++) {
    const when = whenOf(seq);
    expected.push({ when, seq });
    loop.callAt(when, () => fired.push(seq));
  }
  expected.sort((a, b) => a.when - b.when || a.seq - b.seq);
  await loop.runUntilComplete(
    (function* () {
      const done = loop.createFuture();
      loop.callAt(end, () => done.setResult());
      yield* done;
    })(),
  );
  assert.deepEqual(fired, expected.map((e) => e.seq));
}

test('callAt timers fire in (deadline, scheduling) order across and within millisecond buckets', async () => {
  const loop = newEventLoop();
  const random = lcg(7);
  const base = loop.time() + 5;
  // Few distinct deadlines (many exact ties) spread over 30 ms, scheduled in random order.
  await assertFiringOrder(loop, 5000, () => base + Math.floor(random() * 120) / 4, base + 40);
  loop.close();
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

// The queue itself, driven through loop._timers without running the loop: deterministic, no
// clock involved. `take(q, now)` moves what is due by `now` out, as a pass does.
function take(q, now) {
  const out = [];
  q.takeDue(now, out, 0);
  return out;
}
const label = (ts) => ts.map((t) => t._cb.label);
function at(loop, when, name) {
  const cb = () => {};
  cb.label = name;
  return loop.callAt(when, cb);
}

test('in-order appends, then an out-of-order insert into the same millisecond, keep (deadline, scheduling) order', () => {
  const loop = newEventLoop();
  const base = Math.floor(loop.time()) + 100000;
  at(loop, base + 0.1, 'a');
  at(loop, base + 0.2, 'b');
  at(loop, base + 0.2, 'b-tie');
  at(loop, base + 0.3, 'c');
  at(loop, base + 0.15, 'late-but-earlier'); // breaks the bucket's ascending order
  at(loop, base + 0.2, 'b-tie-2'); // a tie with two earlier-scheduled timers: after them
  at(loop, base + 0.05, 'first');
  at(loop, base + 0.3, 'c-tie');
  assert.deepEqual(label(take(loop._timers, base + 1)), ['first', 'a', 'late-but-earlier', 'b', 'b-tie', 'b-tie-2', 'c', 'c-tie']);
  assert.equal(loop._timers.length, 0);
  loop.close();
});

test('a bucket taken in part, then given out-of-order timers, hands out the rest in order', () => {
  const loop = newEventLoop();
  const base = Math.floor(loop.time()) + 100000;
  for (let i = 1; i <= 9; i++) at(loop, base + i / 10, `t${i}`);
  assert.deepEqual(label(take(loop._timers, base + 0.45)), ['t1', 't2', 't3', 't4']);
  at(loop, base + 0.5, 't5-tie');
  at(loop, base + 0.46, 'between');
  at(loop, base + 0.95, 'last');
  at(loop, base + 0.1, 'overdue'); // already due: first out, never lost
  assert.equal(loop._timers.peek()._cb.label, 'overdue');
  assert.deepEqual(label(take(loop._timers, base + 0.5)), ['overdue', 'between', 't5', 't5-tie']);
  assert.deepEqual(label(take(loop._timers, base + 2)), ['t6', 't7', 't8', 't9', 'last']);
  loop.close();
});

for (const seed of [23, 5, 99]) {
  test(`random pushes, partial takes, cancels and purges match a sorted model (seed ${seed})`, () => {
    const loop = newEventLoop();
    const q = loop._timers;
    const random = lcg(seed);
    const base = Math.floor(loop.time()) + 100000;
    let model = []; // { when, seq, handle } still queued and not cancelled
    let seq = 0;
    let now = base;
    for (let step = 0; step < 4000; step++) {
      const r = random();
      if (r < 0.6) {
        // Mostly ascending (the fast path), sometimes anywhere in the next few milliseconds,
        // sometimes an exact tie with a queued deadline.
        let when;
        if (r < 0.3) when = now + 0.5 + seq / 1000;
        else if (r < 0.5 || model.length === 0) when = now + random() * 4;
        else when = model[Math.floor(random() * model.length)].when;
        const s = seq++;
        model.push({ when, seq: s, handle: at(loop, when, s) });
      } else if (r < 0.75 && model.length !== 0) {
        const i = Math.floor(random() * model.length);
        model[i].handle.cancel();
        model.splice(i, 1);
      } else if (r < 0.78) {
        q.purge();
        loop._timerCancelledCount = 0;
        assert.equal(q.length, model.length, 'a purge leaves exactly the live timers');
      } else {
        now += random() * 0.7;
        const got = take(q, now).map((t) => t._cb.label);
        model.sort((a, b) => a.when - b.when || a.seq - b.seq);
        const due = model.filter((e) => e.when <= now);
        model = model.filter((e) => e.when > now);
        assert.deepEqual(got, due.map((e) => e.seq), `step ${step}`);
      }
    }
    model.sort((a, b) => a.when - b.when || a.seq - b.seq);
    assert.deepEqual(take(q, Infinity).map((t) => t._cb.label), model.map((e) => e.seq));
    assert.equal(q.length, 0);
    loop.close();
  });
}

test('cancel-heavy: cancelled timers are purged past half, counted once each, and the rest stay in order', async () => {
  const loop = newEventLoop();
  const base = loop.time() + 100000;
  const kept = [];
  const handles = [];
  for (let i = 0; i < 10000; i++) handles.push(at(loop, base + (i % 97) / 10, i));
  for (let i = 0; i < handles.length; i++) {
    if (i % 10 === 0) kept.push(i);
    else {
      handles[i].cancel();
      handles[i].cancel(); // a second cancel counts nothing
    }
  }
  assert.equal(loop._timerCancelledCount, 9000);
  assert.equal(loop._timers.length, 10000, 'cancellation is lazy');
  // One pass, long before any deadline: the purge runs because cancelled timers are over half.
  loop.callSoon(() => loop.stop());
  await loop.runForever();
  assert.equal(loop._timers.length, 1000);
  assert.equal(loop._timerCancelledCount, 0);
  kept.sort((a, b) => (a % 97) - (b % 97) || a - b);
  const out = take(loop._timers, Infinity);
  assert.deepEqual(label(out), kept);
  // Cancelling a timer that has left the queue changes no count.
  out[0].cancel();
  handles[1].cancel();
  assert.equal(loop._timerCancelledCount, 0);
  loop.close();
});

test('a fired or cancelled-and-dropped timer is not kept alive by the queue', async () => {
  const v8 = require('v8');
  const vm = require('vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const loop = newEventLoop();
  const refs = [];
  await loop.runUntilComplete(
    (function* () {
      const done = loop.createFuture();
      const t0 = loop.time();
      // Out of order within milliseconds, so buckets are merged and their arrays recycled.
      for (let i = 0; i < 2000; i++) {
        const h = loop.callAt(t0 + 1 + ((i * 7919) % 300) / 100, () => {});
        if (i % 3 === 0) h.cancel();
        refs.push(new WeakRef(h));
      }
      loop.callAt(t0 + 6, () => done.setResult());
      yield* done;
    })(),
  );
  // Still open: the queue, its spare arrays and the ready queue exist, and must hold none of them.
  // No deref() before the collections: a WeakRef read keeps its target alive until the job ends.
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  assert.deepEqual(refs.map((r, i) => (r.deref() === undefined ? -1 : i)).filter((i) => i >= 0), []);
  loop.close();
});

test('buckets whose keys share a slot of the direct-mapped table (1024 ms apart) keep their own timers and order', () => {
  const loop = newEventLoop();
  const q = loop._timers;
  const random = lcg(31);
  const base = Math.floor(loop.time()) + 100000;
  const model = [];
  // Interleaved pushes into buckets 0, 1024, 2048, 4096 and 1 ms past each, so every push may
  // find another live bucket in its slot.
  for (let seq = 0; seq < 6000; seq++) {
    const far = [0, 1024, 2048, 4096][seq % 4] + (seq % 3 === 0 ? 1 : 0);
    const when = base + far + Math.floor(random() * 8) / 8;
    model.push({ when, seq, handle: at(loop, when, seq) });
  }
  for (const e of model) if (e.seq % 5 === 0) e.handle.cancel();
  const live = model.filter((e) => e.seq % 5 !== 0).sort((a, b) => a.when - b.when || a.seq - b.seq);
  q.purge();
  assert.equal(q.length, live.length);
  const got = [];
  for (const now of [base + 0.5, base + 1024.5, base + 1030, base + 2049, base + 4095, base + 5000]) got.push(...take(q, now).map((t) => t._cb.label));
  assert.deepEqual(got, live.map((e) => e.seq));
  assert.equal(q.length, 0);
  loop.close();
});

test('a big bucket of many interleaved runs, with ties, is put in (deadline, scheduling) order', () => {
  const loop = newEventLoop();
  const base = Math.floor(loop.time()) + 100000;
  const model = [];
  // 60 runs of 100 ascending deadlines each over the same millisecond, as timers of 60 delays
  // scheduled during a burst land; one in seven repeats the previous deadline of its run.
  let seq = 0;
  for (let run = 0; run < 60; run++) {
    let w = base + run / 6000;
    for (let i = 0; i < 100; i++) {
      if (i % 7 !== 0) w += 0.0097;
      const when = Math.min(w, base + 0.999);
      model.push({ when, seq, handle: at(loop, when, seq) });
      seq++;
    }
  }
  model.sort((a, b) => a.when - b.when || a.seq - b.seq);
  assert.deepEqual(label(take(loop._timers, base + 1)), model.map((e) => e.seq));
  loop.close();
});

test('deadlines crowded far closer than the sort\'s slots, in reverse, still come out in order', () => {
  const loop = newEventLoop();
  const base = Math.floor(loop.time()) + 100000;
  const model = [];
  // 20,000 deadlines within a few nanoseconds of each other, scheduled latest first, with ties:
  // they share one slot of the counting sort, and the insertion pass alone would be quadratic.
  for (let seq = 0; seq < 20000; seq++) {
    const when = base + 0.5 + Math.floor((20000 - seq) / 2) * 1e-12;
    model.push({ when, seq });
    at(loop, when, seq);
  }
  model.sort((a, b) => a.when - b.when || a.seq - b.seq);
  assert.deepEqual(label(take(loop._timers, base + 1)), model.map((e) => e.seq));
  loop.close();
});

test('when() gives back exactly the deadline a timer was scheduled for', () => {
  const loop = newEventLoop();
  for (const when of [0, -0, 1.5, -123.456, 0.1 + 0.2, 2 ** 40 + 0.1, 2 ** 53, 1e300, Number.MIN_VALUE, -1e-300, Infinity, -Infinity]) {
    const h = loop.callAt(when, () => {});
    assert.ok(Object.is(h.when(), when), `when() for ${when}`);
    h.cancel();
    assert.ok(Object.is(h.when(), when), `when() of a cancelled timer for ${when}`);
  }
  const before = loop.time();
  const h = loop.callLater(12.25, () => {});
  const after = loop.time();
  assert.ok(h.when() >= before + 12.25 && h.when() <= after + 12.25);
  loop.close();
});

test('infinite deadlines sort after every finite one and fire last, in scheduling order', () => {
  const loop = newEventLoop();
  const base = Math.floor(loop.time()) + 100000;
  for (let i = 0; i < 40; i++) at(loop, i % 2 ? Infinity : base + (40 - i) / 100, i);
  at(loop, -Infinity, 'minus');
  const evens = Array.from({ length: 20 }, (_, k) => 38 - 2 * k);
  const odds = Array.from({ length: 20 }, (_, k) => 2 * k + 1);
  assert.deepEqual(label(take(loop._timers, base + 1)), ['minus', ...evens]);
  assert.deepEqual(label(take(loop._timers, Infinity)), odds);
  loop.close();
});

test('cancelled sleeps are counted once by the queue, purged past half, and uncounted once gone', async () => {
  const { sleep, run, getRunningLoop } = require('evloop');
  await run(async () => {
    const loop = getRunningLoop();
    const sleeps = [];
    for (let i = 0; i < 1000; i++) sleeps.push(sleep(100000 + i));
    const near = sleep(1, 'near');
    for (let i = 0; i < 1000; i++) if (i % 4 !== 0) sleeps[i].cancel();
    sleeps[1].cancel(); // a second cancel counts nothing
    assert.equal(loop._timerCancelledCount, 750);
    assert.equal(loop._timers.length, 1001, 'cancellation is lazy');
    assert.equal(await near, 'near');
    // The pass that woke `near` purged: cancelled timers were over half.
    assert.equal(loop._timers.length, 250);
    assert.equal(loop._timerCancelledCount, 0);
    sleeps[0].cancel(); // still queued: counted
    assert.equal(loop._timerCancelledCount, 1);
    for (const s of sleeps) s.cancel();
  });
});

test('callLater and callAt pass their callback every extra argument, for each count of them', async () => {
  const loop = newEventLoop();
  const later = [];
  const at_ = [];
  const argLists = [[], [undefined], ['a'], ['a', 2], [null, 'b', 3], [1, 2, 3, 4, 5, 6]];
  await loop.runUntilComplete(
    (function* () {
      const done = loop.createFuture();
      const t0 = loop.time();
      for (const args of argLists) loop.callLater(1, (...got) => later.push(got), ...args);
      for (const args of argLists) loop.callAt(t0 + 2, (...got) => at_.push(got), ...args);
      const last = loop.time() + 3; // after every callLater deadline, however slow the loop above
      loop.callAt(last, () => done.setResult());
      yield* done;
    })(),
  );
  loop.close();
  assert.deepEqual(later, argLists);
  assert.deepEqual(at_, argLists);
});

test('a loop made after another reuses the buckets it left (shared spares): order kept, no timer of the first kept alive', async () => {
  const v8 = require('v8');
  const vm = require('vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const refs = [];
  // The first loop: a burst over ~100 distinct milliseconds, every bucket emptied by firing.
  const first = newEventLoop();
  await first.runUntilComplete(
    (function* () {
      const done = first.createFuture();
      const t0 = first.time();
      for (let i = 0; i < 3000; i++) refs.push(new WeakRef(first.callAt(t0 + 1 + (i % 100) + ((i * 7919) % 1000) / 1000, () => {})));
      first.callAt(t0 + 102, () => done.setResult());
      yield* done;
    })(),
  );
  first.close();
  // The second: out of order within and across milliseconds, with ties, in buckets taken from the spares.
  const second = newEventLoop();
  const random = lcg(11);
  const base = second.time() + 2;
  await assertFiringOrder(second, 3000, (seq) => base + Math.floor(random() * 60) + (seq % 5 === 0 ? 0.5 : random()), base + 61);
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  assert.deepEqual(refs.map((r, i) => (r.deref() === undefined ? -1 : i)).filter((i) => i >= 0), []);
  second.close();
});
