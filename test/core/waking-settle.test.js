'use strict';
// A stream's waiting read settles its `await` at once, without a ready-queue entry and a pass
// (Future._setResultWaking, EventLoop._wakeNow), only when that keeps asyncio's order: the pass
// was started by a macrotask, holds no runnable queued by _pushReady and no due timer, nothing is
// queued for the next pass, debug mode is off (docs/futures.md), and the loop is not stopping.
// Each test pins one of those conditions (or what the shortcut must keep: other done callbacks,
// cancels around the data, generator tasks' hand-off) with real sockets on 127.0.0.1 and an event
// trace (which task or callback ran when), and runs the same scenario twice: with debug mode off
// (the shortcut possible) and on (never taken, so every wake-up goes through the ready queue).
// Where a condition holds the shortcut back, both traces must be the order the loop's rules give.
// Each test says which broken rule it catches (each was checked by breaking it).
//
// Orders are written the way evloop states asyncio's rules for async-function tasks: a future's
// (or a woken task's) entry runs in pass N+1 after the pass N that set it, and the code awaiting
// it resumes after that entry's pass, before the next one (docs/tasks.md); a generator task's
// step is the entry itself, as in asyncio.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, newEventLoop, getRunningLoop, currentTask, sleep, wait, startServer, openConnection, StreamReader, CancelledError } = require('evloop');

// A mutation that loses a wake-up leaves a task waiting for ever: fail instead of hanging.
const LIMIT = { timeout: 30000 };
const PING = Buffer.from('ping');

/** A connected pair on 127.0.0.1: `reader` (the client's) and `peer`, the server's writer that feeds it. */
async function connect() {
  const loop = getRunningLoop();
  const accepted = loop.createFuture();
  const server = await startServer((reader, writer) => {
    accepted.setResult(writer);
  }, '127.0.0.1', 0);
  const [reader, writer] = await openConnection('127.0.0.1', server.address().port);
  const peer = await accepted;
  return {
    reader,
    peer,
    close() {
      writer.close();
      peer.close();
      server.close();
    },
  };
}

/**
 * An async task waiting on one read of `reader`; resolves once its `await` is registered, to
 * { task, read } (the read's future). It records `<name>:<data>`, or `<name>:cancelled`.
 */
async function asyncReader(loop, reader, trace, name = 'R') {
  const waiting = loop.createFuture();
  const task = loop.createTask(async () => {
    const read = reader.read(100);
    // Wrapped: a future is a thenable, which awaiting code would adopt (and wait for).
    waiting.setResult({ read });
    let data;
    try {
      data = await read;
    } catch (e) {
      if (!(e instanceof CancelledError)) throw e;
      trace.push(`${name}:cancelled`);
      throw e;
    }
    // Resumed in its own context, however it was woken.
    trace.push(currentTask() === task ? `${name}:${data}` : `${name}:${data} outside its task`);
  });
  return { task, read: (await waiting).read };
}

/**
 * Runs `setup` in a Node macrotask just before a loop pass that a macrotask starts with what
 * setup queued: a chain of callSoon passes runs the loop's microtask passes out, so its next pass
 * is its own setImmediate, queued behind the one made here (no I/O poll of Node's comes between
 * the two). Setup's callSoon() and setResult() land in that pass, and so does the data setup
 * writes (sent by a microtask; the pass polls it as it begins, after what is queued).
 */
function beforeMacrotaskPass(loop, setup) {
  let stop = false;
  const spin = () => {
    if (!stop) loop.callSoon(spin);
  };
  loop.callSoon(spin);
  setImmediate(() => {
    stop = true;
    setup();
  });
}

/** In a pass a macrotask starts: callback `E` runs `inE`, then the peer's data arrives on `c`. */
function dataAfterE(loop, trace, c, inE) {
  beforeMacrotaskPass(loop, () => {
    loop.callSoon(() => {
      trace.push('E');
      inE();
    });
    c.peer.write(PING);
  });
}

/**
 * The data arrives in a macrotask-started pass whose callback `E` queues `C`, which cancels
 * `task`: the cancel lands after the read got its data, before the task resumed.
 */
function cancelAfterData(loop, trace, c, task) {
  dataAfterE(loop, trace, c, () =>
    loop.callSoon(() => {
      trace.push('C');
      task.cancel();
    }),
  );
}

/** `scenario({ loop, trace })` on a fresh loop, debug mode off and on; returns { plain, debug } traces. */
async function traces(scenario) {
  const out = {};
  for (const debug of [false, true]) {
    out[debug ? 'debug' : 'plain'] = await run(
      async () => {
        const loop = getRunningLoop();
        // A busy machine must not turn a slow callback into log noise.
        loop.slowCallbackDuration = Infinity;
        const errors = [];
        loop.setExceptionHandler((_loop, ctx) => errors.push(`${ctx.message}: ${ctx.exception}`));
        const trace = [];
        await scenario({ loop, trace });
        assert.deepEqual(errors, [], 'nothing reported to the exception handler');
        return trace;
      },
      { debug },
    );
  }
  return out;
}

/**
 * traces() of `scenario({ loop, trace, c, r })`: `c` a fresh connection (closed after the
 * scenario), `r` an async task R waiting on one read of its reader (asyncReader).
 */
function readerTraces(scenario) {
  return traces(async ({ loop, trace }) => {
    const c = await connect();
    const r = await asyncReader(loop, c.reader, trace);
    await scenario({ loop, trace, c, r });
    c.close();
  });
}

function assertBoth(got, expected) {
  assert.deepEqual(got.plain, expected, 'debug mode off (the shortcut possible)');
  assert.deepEqual(got.debug, expected, 'debug mode on (every wake-up through the ready queue)');
}

test('the shortcut is taken where allowed: a read answered in a pass a macrotask started, nothing queued, resumes its task ahead of what is queued after; debug mode keeps the entry', LIMIT, async () => {
  // E resolves a plain promise T2 awaits, then R's data comes, both in one pass a macrotask
  // started. T2's code runs after the pass and queues cb. asyncio (`call_soon(fut.set_result)`
  // for the promise): that pass queues T2's wake-up, then R's; the next pass steps T2 (which
  // queues cb for the pass after) and then R. So R before cb. Through the ready queue (debug
  // mode), R's code waits for the end of the pass its entry is in, which cb has joined by then.
  // Catches: the shortcut never taken (the debug trace twice), or taken in debug mode.
  const got = await readerTraces(async ({ loop, trace, c, r }) => {
    let release;
    const t2 = loop.createTask(async () => {
      await new Promise((resolve) => (release = resolve));
      trace.push('T2');
      loop.callSoon(() => trace.push('cb'));
    });
    await sleep(0);
    dataAfterE(loop, trace, c, () => release());
    await wait([r.task, t2]);
  });
  assert.deepEqual(got.plain, ['E', 'T2', 'R:ping', 'cb'], 'debug mode off: R resumes at once, ahead of cb');
  assert.deepEqual(got.debug, ['E', 'T2', 'cb', 'R:ping'], 'debug mode on: R resumes after the pass of its entry');
});

test('a pass holding a runnable queued by _pushReady (a woken task) settles a read through the ready queue: that task queues first', LIMIT, async () => {
  // F's entry (T2's wake-up) and R's data share a pass a macrotask started. asyncio steps T2 in
  // that pass, before R's wake-up is queued, so cb (queued by T2's step) runs before R's step.
  // T2's code runs only after the pass, by a microtask: a read settled at once would resume R
  // ahead of it and ahead of cb. Catches: _pushReady not noted (_pushedRunnable).
  const got = await readerTraces(async ({ loop, trace, c, r }) => {
    const f = loop.createFuture();
    const t2 = loop.createTask(async () => {
      await f;
      trace.push('T2');
      loop.callSoon(() => trace.push('cb'));
    });
    await sleep(0);
    beforeMacrotaskPass(loop, () => {
      f.setResult(1);
      c.peer.write(PING);
    });
    await wait([r.task, t2]);
  });
  assertBoth(got, ['T2', 'cb', 'R:ping']);
});

test('a pass with a due timer (a sleep ending) settles a read through the ready queue: the sleeper resumes first', LIMIT, async () => {
  // R's data and S's sleep ending share a pass. A sleep's timer is its task's wake-up in evloop
  // (combinators.ts, SleepFuture: one hop, no further entry), so S steps in that pass and R in the
  // next: S first. (asyncio proper wakes a sleeper one pass after its timer, and handles I/O before
  // timers, which would put R first; evloop's sleep is a pass quicker by design, and the rule keeps
  // the read's shortcut from reordering against it.) Catches: due timers not noted (_expireTimers).
  let got;
  let early;
  // The sleep must still be pending when the data's pass begins; on a machine so busy that the
  // pass chain outlasts it, the scenario is run again with a longer sleep.
  for (let ms = 20, attempts = 1; ; ms *= 4, attempts++) {
    early = false;
    got = await readerTraces(async ({ loop, trace, c, r }) => {
      const slept = loop.createFuture();
      let deadline = 0;
      const s = loop.createTask(async () => {
        const sf = sleep(ms);
        deadline = loop.time() + ms;
        slept.setResult({ sf });
        await sf;
        trace.push('S');
      });
      const { sf } = await slept;
      beforeMacrotaskPass(loop, () => {
        if (sf.done()) {
          early = true;
          r.task.cancel();
          return;
        }
        // Due when the pass begins (its clock is read then).
        while (loop.time() <= deadline);
        c.peer.write(PING);
      });
      await wait([r.task, s]);
    });
    if (!early || attempts === 4) break;
  }
  assert.equal(early, false, 'the sleep was still pending when the pass with the data began');
  assertBoth(got, ['S', 'R:ping']);
});

for (const [what, queue, expected] of [
  ['a callSoon callback', (loop, trace) => () => loop.callSoon(() => trace.push('cb')), ['E', 'cb', 'R:ping']],
  [
    'a done callback',
    (loop, trace) => {
      const g = loop.createFuture();
      g.addDoneCallback(() => trace.push('done-cb'));
      return () => g.setResult(1);
    },
    ['E', 'done-cb', 'R:ping'],
  ],
  [
    "another async task's wake-up",
    (loop, trace) => {
      const f = loop.createFuture();
      loop.createTask(async () => {
        await f;
        trace.push('T2');
      });
      return () => f.setResult(1);
    },
    ['E', 'T2', 'R:ping'],
  ],
  [
    "a generator task's wake-up",
    (loop, trace) => {
      const f = loop.createFuture();
      loop.createTask(function* () {
        yield* f;
        trace.push('T3');
      });
      return () => f.setResult(1);
    },
    ['E', 'T3', 'R:ping'],
  ],
]) {
  test(`something queued for the next pass before the data (${what}) runs before the read's task`, LIMIT, async () => {
    // E, in the data's pass, queues X for the next pass; R's data comes after it. asyncio: the next
    // pass runs X, then steps R. Catches: the next pass's queue not checked (_readyLen === 0).
    const got = await readerTraces(async ({ loop, trace, c, r }) => {
      const queueX = queue(loop, trace);
      await sleep(0);
      dataAfterE(loop, trace, c, queueX);
      await r.task;
      // The other task, if any, has run by the time R has (or the trace says it did not).
      await sleep(0);
    });
    assertBoth(got, expected);
  });
}

test('a read answered in a chained microtask pass goes through the ready queue: a sleep(0) of the pass before resumes first', LIMIT, async () => {
  // A protocol on a real socket feeds a StreamReader two callbacks after its data (a framing
  // layer would), so the feed runs in the second microtask pass after the I/O pass. In the pass
  // before it, X's sleep(0) ran: X steps there, R in the pass after the feed, so X first. X's
  // code resumes through promise hops (docs/tasks.md, point 2) that are still under way while
  // the feed's pass runs: a read settled at once in that pass would resume R ahead of X.
  // Catches: a pass run as a promise job allowed (inPromiseJob).
  const got = await traces(async ({ loop, trace }) => {
    const reader = new StreamReader();
    let release;
    const x = loop.createTask(async () => {
      await new Promise((resolve) => (release = resolve));
      trace.push('X:woken');
      await sleep(0);
      trace.push('X:yielded');
    });
    const protocol = {
      dataReceived(data) {
        trace.push('data');
        release();
        loop.callSoon(() =>
          loop.callSoon(() => {
            trace.push('feed');
            reader.feedData(data);
          }),
        );
      },
    };
    const accepted = loop.createFuture();
    const server = await startServer((_reader, writer) => accepted.setResult(writer), '127.0.0.1', 0);
    const [transport] = await loop.createConnection(() => protocol, '127.0.0.1', server.address().port);
    const peer = await accepted;
    const r = await asyncReader(loop, reader, trace);
    peer.write(PING);
    await wait([r.task, x]);
    transport.close();
    peer.close();
    server.close();
  });
  assertBoth(got, ['data', 'X:woken', 'feed', 'X:yielded', 'R:ping']);
});

for (const first of [true, false]) {
  test(`a read future with a done callback added ${first ? 'before' : 'after'} the await settles through the ready queue, the callback kept`, LIMIT, async () => {
    // The shortcut is for a future whose one done callback is the await's. Otherwise its entry
    // runs them all, in the order they were added, and the awaiting code resumes after that
    // entry's pass (so after the callback either way: an async-function task's step is not
    // interleaved with the callbacks of the future it awaits). Catches: the shortcut taken with
    // other callbacks (they are dropped).
    const got = await traces(async ({ loop, trace }) => {
      const c = await connect();
      const waiting = loop.createFuture();
      const cb = (f) => trace.push(`cb:${f.result()}`);
      const task = loop.createTask(async () => {
        const read = c.reader.read(100);
        if (first) read.addDoneCallback(cb);
        waiting.setResult({ read });
        trace.push(`R:${await read}`);
      });
      const { read } = await waiting;
      if (!first) read.addDoneCallback(cb);
      c.peer.write(PING);
      await task;
      c.close();
    });
    assertBoth(got, ['cb:ping', 'R:ping']);
  });
}

for (const how of ['the read future', 'the task']) {
  test(`a read cancelled (${how}) in the pass its data arrives in: the task gets CancelledError, the data stays for the next read`, LIMIT, async () => {
    // E cancels the waiting read, then the data comes in the same pass. asyncio: the cancelled
    // waiter takes nothing (feed_data buffers), the task's next step raises CancelledError at the
    // read, and a read after that returns the buffered bytes. The cancel has queued the read's
    // callbacks for the next pass, so the data's pass also has something queued. Catches: a
    // cancelled waiter given the data (feedData's done() check).
    const got = await traces(async ({ loop, trace }) => {
      const c = await connect();
      const waiting = loop.createFuture();
      const task = loop.createTask(async () => {
        const read = c.reader.read(100);
        waiting.setResult({ read });
        try {
          trace.push(`R:${await read}`);
        } catch (e) {
          if (!(e instanceof CancelledError)) throw e;
          trace.push('R:cancelled');
        }
        trace.push(`R:${await c.reader.read(100)}`);
      });
      const { read } = await waiting;
      dataAfterE(loop, trace, c, () => {
        if (how === 'the task') task.cancel();
        else read.cancel();
      });
      await wait([task]);
      assert.equal(read.cancelled(), true);
      c.close();
    });
    assertBoth(got, ['E', 'R:cancelled', 'R:ping']);
  });
}

test('an async task cancelled after its read got the data and before it resumed: the data is returned, the cancel lands at its next await', LIMIT, async () => {
  // E queues C, then the data comes: the read is settled through the ready queue, and C runs in
  // the next pass before the read's entry, finding the read done. docs/tasks.md (points 2, 3):
  // the cancel cannot reach a done future; the task is cancelled at the next one it awaits.
  // (asyncio would throw at the read's own await, the bytes left in the reader's buffer.)
  // Catches: the shortcut taken with C queued (R would resume before C and be cancelled later).
  const got = await traces(async ({ loop, trace }) => {
    const c = await connect();
    const waiting = loop.createFuture();
    const task = loop.createTask(async () => {
      const read = c.reader.read(100);
      waiting.setResult(null);
      trace.push(`R:${await read}`);
      try {
        await sleep(0);
        trace.push('R:not cancelled');
      } catch (e) {
        if (!(e instanceof CancelledError)) throw e;
        trace.push('R:cancelled at the next await');
      }
    });
    await waiting;
    cancelAfterData(loop, trace, c, task);
    await wait([task]);
    c.close();
  });
  assertBoth(got, ['E', 'C', 'R:ping', 'R:cancelled at the next await']);
});

for (const style of ['yield*', 'a bare yield']) {
  test(`a generator task reading by ${style} is stepped by the ready queue in the pass after its data, in order`, LIMIT, async () => {
    // A generator task's step is a loop entry, as in asyncio: queued by the data, it runs after
    // what was queued before it (cb1, from E in the data's pass) and before what is queued after
    // (cb2, from a plain promise's continuation after the data's pass). Catches: the step run at
    // once by setResultStepping; a bare yield resumed as yield* is (with undefined).
    const got = await traces(async ({ loop, trace }) => {
      const c = await connect();
      const waiting = loop.createFuture();
      const task = loop.createTask(function* () {
        const read = c.reader.read(100);
        waiting.setResult(null);
        const data = style === 'yield*' ? yield* read : yield read;
        trace.push(`RG:${data}`);
      });
      await waiting;
      let release;
      const later = new Promise((resolve) => (release = resolve)).then(() => loop.callSoon(() => trace.push('cb2')));
      dataAfterE(loop, trace, c, () => {
        loop.callSoon(() => trace.push('cb1'));
        release();
      });
      await later;
      await wait([task]);
      await sleep(0);
      c.close();
    });
    assertBoth(got, ['E', 'cb1', 'RG:ping', 'cb2']);
  });

  test(`a generator task reading by ${style}, cancelled between its data and its step: CancelledError at the read, the data stays for the next read`, LIMIT, async () => {
    // asyncio: the wake-up is queued, the cancel finds the waiter done and is thrown in at the
    // step, and the bytes stay buffered. evloop's read took the chunk itself: the cancelled step
    // marks it unclaimed and the reader takes it back at the next read.
    // Catches: the step run at once by setResultStepping; the chunk dropped with the step.
    const got = await traces(async ({ loop, trace }) => {
      const c = await connect();
      const waiting = loop.createFuture();
      const task = loop.createTask(function* () {
        const read = c.reader.read(100);
        waiting.setResult({ read });
        try {
          const data = style === 'yield*' ? yield* read : yield read;
          trace.push(`RG:${data}`);
        } catch (e) {
          if (!(e instanceof CancelledError)) throw e;
          trace.push('RG:cancelled');
        }
      });
      const { read } = await waiting;
      cancelAfterData(loop, trace, c, task);
      await wait([task]);
      trace.push(`read:${read.result()}`);
      // Buffered first: a lost chunk fails here instead of leaving the next read waiting.
      trace.push(`buffered:${c.reader.bufferedSize}`);
      if (c.reader.bufferedSize > 0) trace.push(`next:${await c.reader.read(100)}`);
      c.close();
    });
    assertBoth(got, ['E', 'C', 'RG:cancelled', 'read:ping', `buffered:${PING.length}`, 'next:ping']);
  });
}

for (const when of ['by a callback earlier in the pass', 'before the pass began']) {
  test(`stop() (${when}) keeps a read answered in that pass from resuming its task until the loop runs again`, LIMIT, async () => {
    // asyncio: the loop stops after the pass; the read's wake-up stays queued and the task steps
    // when the loop runs again. The pass that gets the data is one a macrotask starts with
    // nothing else queued, where the read would otherwise be settled at once. Catches: stop()
    // not noted, before the pass (_runPass) or during it (stop()).
    for (const debug of [false, true]) {
      const loop = newEventLoop({ debug });
      loop.slowCallbackDuration = Infinity;
      const trace = [];
      try {
        const { c, task } = await loop.runUntilComplete(async () => {
          const c = await connect();
          const r = await asyncReader(loop, c.reader, trace);
          return { c, task: r.task };
        });
        loop.callSoon(() =>
          beforeMacrotaskPass(loop, () => {
            if (when === 'before the pass began') {
              trace.push('stop');
              loop.stop();
            } else {
              loop.callSoon(() => {
                trace.push('stop');
                loop.stop();
              });
            }
            c.peer.write(PING);
          }),
        );
        await loop.runForever();
        trace.push('stopped');
        // Node's turns go on (timers, I/O, immediates) with the loop stopped.
        await new Promise((resolve) => setImmediate(resolve));
        trace.push('idle');
        await loop.runUntilComplete(task);
        await loop.runUntilComplete(async () => c.close());
      } finally {
        loop.close();
      }
      assert.deepEqual(trace, ['stop', 'stopped', 'idle', 'R:ping'], debug ? 'debug mode on' : 'debug mode off');
    }
  });
}

test('two connections in one poll batch: a read that needs the ready queue (another done callback) keeps the next one out of the shortcut', LIMIT, async () => {
  // The echo server's case: one I/O pass answers several waiting reads. A's read has another
  // done callback, so its wake-up is an entry of the next pass; B's data comes later in the same
  // batch and must not resume B ahead of it. asyncio: the next pass runs A's callbacks (cbA, A's
  // step), then B's step. The sends go out A first in one batch, which answers A's read first
  // (epoll reports in readiness order, poll and select by fd); the feeds are watched, and a run
  // where one batch did not answer A then B is made again.
  // Catches: the next pass's queue not checked (_readyLen === 0).
  let got;
  let feeds;
  for (let attempt = 1; ; attempt++) {
    const orders = [];
    got = await traces(async ({ loop, trace }) => {
      const a = await connect();
      const b = await connect();
      const order = [];
      for (const [name, c] of [['A', a], ['B', b]]) {
        const feed = c.reader.feedData;
        c.reader.feedData = function (data) {
          // Past a task's resumption, the batch was split across passes.
          order.push(trace.length === 0 ? name : `${name} after a resumption`);
          return feed.call(this, data);
        };
      }
      const waiting = loop.createFuture();
      const readerA = loop.createTask(async () => {
        const read = a.reader.read(100);
        read.addDoneCallback(() => trace.push('cbA'));
        waiting.setResult(null);
        trace.push(`A:${await read}`);
      });
      await waiting;
      const rb = await asyncReader(loop, b.reader, trace, 'B');
      a.peer.write(PING);
      b.peer.write(PING);
      await wait([readerA, rb.task]);
      orders.push(order.join(','));
      a.close();
      b.close();
    });
    feeds = orders;
    if ((feeds[0] === 'A,B' && feeds[1] === 'A,B') || attempt === 5) break;
  }
  assert.deepEqual(feeds, ['A,B', 'A,B'], 'both reads answered by one batch, A first');
  assertBoth(got, ['cbA', 'A:ping', 'B:ping']);
});
