'use strict';
// A stream's waiting read settles its `await` at once, without a ready-queue entry and a pass
// (Future._setResultWaking, EventLoop._wakeNow), only when that keeps asyncio's order: the pass
// was started by a macrotask, holds no runnable queued by _pushReady and no due timer, nothing is
// queued for the next pass, and debug mode is off (docs/futures.md). Each test pins one of those
// conditions with real sockets on 127.0.0.1 and an event trace (which task or callback ran when),
// and runs the same scenario twice: with debug mode off (the shortcut possible) and on (never
// taken, so every wake-up goes through the ready queue). Where a condition holds the shortcut
// back, both traces must be the order the loop's rules give.
//
// Orders are written the way evloop states asyncio's rules for async-function tasks: a future's
// (or a woken task's) entry runs in pass N+1 after the pass N that set it, and the code awaiting
// it resumes after that entry's pass, before the next one (docs/tasks.md); a generator task's
// step is the entry itself, as in asyncio.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, getRunningLoop, sleep, wait, startServer, openConnection, CancelledError } = require('evloop');

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
    port: server.address().port,
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
async function asyncReader(loop, reader, trace, name = 'R', body = null) {
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
    trace.push(`${name}:${data}`);
    if (body !== null) await body();
  });
  return { task, read: (await waiting).read };
}

/**
 * Runs `setup` in a Node macrotask just before a loop pass that a macrotask starts with what
 * setup queued: a chain of callSoon passes runs the loop's microtask passes out, so its next pass
 * is its own setImmediate, queued behind the one made here. Setup's callSoon() and setResult()
 * land in that pass, and so does the data setup writes (sent by a microtask, polled by the pass
 * before it runs: I/O comes after what is queued).
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

function assertBoth(got, expected) {
  assert.deepEqual(got.plain, expected, 'debug mode off (the shortcut possible)');
  assert.deepEqual(got.debug, expected, 'debug mode on (every wake-up through the ready queue)');
}

test('the shortcut is taken: a read answered alone in an I/O pass resumes its task before what code run after that pass queues; debug mode keeps the entry', LIMIT, async () => {
  // E resolves a plain promise T2 awaits, then R's data comes, both in one pass a macrotask
  // started. T2's code runs after the pass and queues cb. asyncio (`call_soon(fut.set_result)`
  // for the promise): that pass queues T2's wake-up, then R's; the next pass steps T2 (which
  // queues cb for the pass after) and then R. So R before cb. Through the ready queue (debug
  // mode), R's code waits for the end of the pass its entry is in, which cb has joined by then.
  const got = await traces(async ({ loop, trace }) => {
    const c = await connect();
    const r = await asyncReader(loop, c.reader, trace);
    let release;
    const t2 = loop.createTask(async () => {
      await new Promise((resolve) => (release = resolve));
      trace.push('T2');
      loop.callSoon(() => trace.push('cb'));
    });
    await sleep(0);
    beforeMacrotaskPass(loop, () => {
      loop.callSoon(() => {
        trace.push('E');
        release();
      });
      c.peer.write(PING);
    });
    await wait([r.task, t2]);
    c.close();
  });
  assert.deepEqual(got.plain, ['E', 'T2', 'R:ping', 'cb'], 'debug mode off: R resumes at once, ahead of cb');
  assert.deepEqual(got.debug, ['E', 'T2', 'cb', 'R:ping'], 'debug mode on: R resumes after the pass of its entry');
});

test('a pass holding a runnable queued by _pushReady (a woken task) settles a read through the ready queue: that task queues first', LIMIT, async () => {
  // F's entry (T2's wake-up) and R's data share a pass a macrotask started. asyncio steps T2 in
  // that pass, before R's wake-up is queued, so cb (queued by T2's step) runs before R's step.
  // T2's code runs only after the pass, by a microtask: a read settled at once would resume R
  // ahead of it and ahead of cb.
  const got = await traces(async ({ loop, trace }) => {
    const c = await connect();
    const r = await asyncReader(loop, c.reader, trace);
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
    c.close();
  });
  assertBoth(got, ['T2', 'cb', 'R:ping']);
});

test('a pass with a due timer (a sleep ending) settles a read through the ready queue: the sleeper resumes first', LIMIT, async () => {
  // R's data and S's sleep ending share a pass. A sleep's timer is its task's wake-up in evloop
  // (combinators.ts, SleepFuture: one hop, no further entry), so S steps in that pass and R in the
  // next: S first. (asyncio proper wakes a sleeper one pass after its timer, and handles I/O before
  // timers, which would put R first; evloop's sleep is a pass quicker by design, and the rule keeps
  // the read's shortcut from reordering against it.)
  let got;
  let early;
  // The sleep must still be pending when the data's pass begins; on a machine so busy that the
  // pass chain outlasts it, the scenario is run again with a longer sleep.
  for (let ms = 20, attempts = 1; ; ms *= 4, attempts++) {
    early = false;
    got = await traces(async ({ loop, trace }) => {
      const c = await connect();
      const r = await asyncReader(loop, c.reader, trace);
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
      c.close();
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
    // pass runs X, then steps R.
    const got = await traces(async ({ loop, trace }) => {
      const c = await connect();
      const r = await asyncReader(loop, c.reader, trace);
      const queueX = queue(loop, trace);
      await sleep(0);
      beforeMacrotaskPass(loop, () => {
        loop.callSoon(() => {
          trace.push('E');
          queueX();
        });
        c.peer.write(PING);
      });
      await r.task;
      // The other task, if any, has run by the time R has (or the trace says it did not).
      await sleep(0);
      c.close();
    });
    assertBoth(got, expected);
  });
}
