'use strict';
// Behaviours pinned by CPython's test_futures.py, in evloop's terms.
const test = require('node:test');
const assert = require('node:assert/strict');
const { newEventLoop, run, Future, CancelledError, InvalidStateError, sleep, getRunningLoop } = require('evloop');

function withLoop(fn) {
  return async () => {
    const loop = newEventLoop();
    try {
      await fn(loop);
    } finally {
      loop.close();
    }
  };
}

test('initial state is pending; result() and exception() throw InvalidStateError', withLoop((loop) => {
  const f = loop.createFuture();
  assert.equal(f.done(), false);
  assert.equal(f.cancelled(), false);
  assert.equal(f.state, 'PENDING');
  assert.throws(() => f.result(), InvalidStateError);
  assert.throws(() => f.exception(), InvalidStateError);
  assert.equal(f.getLoop(), loop);
}));

test('new Future() without a running loop throws', () => {
  assert.throws(() => new Future(), (e) => e.code === 'ERR_NO_RUNNING_LOOP');
});

test('cancel: state, result() throws CancelledError with the message, second cancel false', withLoop((loop) => {
  const f = loop.createFuture();
  assert.equal(f.cancel('why'), true);
  assert.equal(f.cancelled(), true);
  assert.equal(f.done(), true);
  assert.throws(() => f.result(), (e) => e instanceof CancelledError && e.message === 'why' && e.code === 'ERR_CANCELLED');
  assert.throws(() => f.exception(), CancelledError);
  assert.throws(() => f.setResult(1), InvalidStateError);
  assert.throws(() => f.setException(new Error()), InvalidStateError);
  assert.equal(f.cancel(), false);
}));

test('result: setResult then result(), exception() is null, cannot set twice', withLoop((loop) => {
  const f = loop.createFuture();
  f.setResult(42);
  assert.equal(f.state, 'FINISHED');
  assert.equal(f.result(), 42);
  assert.equal(f.exception(), null);
  assert.throws(() => f.setResult(1), InvalidStateError);
  assert.throws(() => f.setException(new Error()), InvalidStateError);
  assert.equal(f.cancel(), false);
}));

// asyncio: Future.set_exception(42) raises TypeError — only exceptions may be set
// (test_futures.py: test_exception_class / the "exception must be" checks).
test('setException accepts only errors (an instance or an Error class); anything else is a TypeError', withLoop((loop) => {
  for (const bad of [42, 'boom', null, undefined, { message: 'x' }, () => {}, class NotAnError {}, Symbol('s')]) {
    const f = loop.createFuture();
    assert.throws(() => f.setException(bad), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
    assert.equal(f.done(), false, 'a rejected setException leaves the future pending');
  }
  const f = loop.createFuture();
  f.setException(TypeError);
  assert.ok(f.exception() instanceof TypeError);
  class MyError extends Error {}
  const g = loop.createFuture();
  g.setException(new MyError('m'));
  assert.ok(g.exception() instanceof MyError);
  // An error from another realm is still an error.
  const h = loop.createFuture();
  const foreign = require('vm').runInNewContext('new Error("elsewhere")');
  h.setException(foreign);
  assert.equal(h.exception(), foreign);
}));

test('a coroutine that throws a non-error still fails its task with that value', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const t = loop.createTask(async () => { throw 42; });
    await assert.rejects(async () => { await t; }, (e) => e === 42);
    assert.equal(t.exception(), 42);
    const g = loop.createTask(function* () { yield; throw 'str'; });
    await assert.rejects(async () => { await g; }, (e) => e === 'str');
  });
});

test('exception: setException then result() throws it, exception() returns it', withLoop((loop) => {
  const f = loop.createFuture();
  const err = new RangeError('x');
  f.setException(err);
  assert.throws(() => f.result(), (e) => e === err);
  assert.equal(f.exception(), err);
  assert.equal(f.cancel(), false);
}));

test('setException with an error class instantiates it', withLoop((loop) => {
  const f = loop.createFuture();
  f.setException(RangeError);
  assert.ok(f.exception() instanceof RangeError);
}));

test('done callbacks are scheduled with callSoon, never run inline, in registration order', withLoop(async (loop) => {
  const f = loop.createFuture();
  const seen = [];
  f.addDoneCallback((fut) => seen.push(['a', fut]));
  f.addDoneCallback(() => seen.push(['b']));
  f.setResult(1);
  assert.deepEqual(seen, []);
  await loop.runUntilComplete(loop.createTask(function* () { yield; }));
  assert.equal(seen.length, 2);
  assert.equal(seen[0][0], 'a');
  assert.equal(seen[0][1], f);
  assert.equal(seen[1][0], 'b');
}));

test('addDoneCallback on a done future schedules it soon', withLoop(async (loop) => {
  const f = loop.createFuture();
  f.setResult(1);
  let called = 0;
  f.addDoneCallback(() => called++);
  assert.equal(called, 0);
  await loop.runUntilComplete(loop.createTask(function* () { yield; }));
  assert.equal(called, 1);
}));

test('removeDoneCallback removes every registration and returns the count', withLoop(async (loop) => {
  const f = loop.createFuture();
  const called = [];
  const cb = () => called.push('cb');
  f.addDoneCallback(cb);
  f.addDoneCallback(() => called.push('other'));
  f.addDoneCallback(cb);
  assert.equal(f.removeDoneCallback(cb), 2);
  assert.equal(f.removeDoneCallback(cb), 0);
  f.setResult(0);
  await loop.runUntilComplete(f);
  await loop.runUntilComplete(loop.createTask(function* () { yield; }));
  assert.deepEqual(called, ['other']);
}));

test('addDoneCallback rejects a non-function with TypeError', withLoop((loop) => {
  assert.throws(() => loop.createFuture().addDoneCallback(42), TypeError);
}));

test('an exception in a done callback goes to the exception handler; the others still run', withLoop(async (loop) => {
  const contexts = [];
  loop.setExceptionHandler((l, ctx) => contexts.push(ctx));
  const f = loop.createFuture();
  let ran = false;
  f.addDoneCallback(() => { throw new Error('cb failed'); });
  f.addDoneCallback(() => { ran = true; });
  f.setResult(1);
  await loop.runUntilComplete(loop.createTask(function* () { yield; }));
  assert.equal(ran, true);
  assert.equal(contexts.length, 1);
  assert.equal(contexts[0].exception.message, 'cb failed');
  assert.equal(contexts[0].future, f);
}));

test('await fut (async style) gets the result, the exception, or CancelledError', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const a = loop.createFuture();
    loop.callSoon(() => a.setResult('ok'));
    assert.equal(await a, 'ok');
    const b = loop.createFuture();
    loop.callSoon(() => b.setException(new Error('bad')));
    await assert.rejects(async () => { await b; }, /bad/);
    const c = loop.createFuture();
    loop.callSoon(() => c.cancel('stop'));
    await assert.rejects(async () => { await c; }, (e) => e instanceof CancelledError && e.message === 'stop');
  });
});

test('yield* fut (generator style) returns the result or throws', async () => {
  await run(function* () {
    const loop = getRunningLoop();
    const a = loop.createFuture();
    loop.callSoon(() => a.setResult('ok'));
    assert.equal(yield* a, 'ok');
    const b = loop.createFuture();
    loop.callSoon(() => b.setException(new Error('bad')));
    let caught;
    try { yield* b; } catch (e) { caught = e; }
    assert.equal(caught.message, 'bad');
    const done = loop.createFuture();
    done.setResult(5);
    assert.equal(yield* done, 5); // a done future does not suspend
  });
});

test('then() chains like a promise and marks the exception retrieved', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const f = loop.createFuture();
    const p = f.then((v) => v * 2);
    assert.ok(p instanceof Promise);
    f.setResult(21);
    assert.equal(await p, 42);
    const g = loop.createFuture();
    const q = g.catch((e) => 'handled ' + e.message);
    g.setException(new Error('x'));
    assert.equal(await q, 'handled x');
    assert.equal(await sleep(1, 'v').finally(() => {}), 'v');
  });
});

test('toString shows the state', withLoop((loop) => {
  const f = loop.createFuture();
  assert.match(String(f), /pending/);
  f.setResult(1);
  assert.match(String(f), /finished result=1/);
}));

test('debug mode: an exception never retrieved is reported when the future is collected', async () => {
  const v8 = require('v8');
  const vm = require('vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const loop = newEventLoop({ debug: true });
  const reported = new Promise((resolve) => loop.setExceptionHandler((l, ctx) => resolve(ctx)));
  (() => { loop.createFuture().setException(new Error('lost')); })();
  // Wait for the real event: collect until the registry's callback has fired.
  const pump = () => new Promise((r) => setImmediate(r));
  let ctx;
  reported.then((c) => { ctx = c; });
  while (ctx === undefined) { gc(); await pump(); }
  assert.match(ctx.message, /never retrieved/);
  assert.equal(ctx.exception.message, 'lost');
  loop.close();
});

test('futures work where compiling code from strings is forbidden (the shared field initializer)', () => {
  const { spawnSync } = require('child_process');
  const program = `
    const { run, sleep, getRunningLoop } = require('evloop');
    run(async () => {
      const f = getRunningLoop().createFuture();
      setTimeout(() => f.setResult(41), 1);
      const t = getRunningLoop().createTask(async () => { await sleep(1); return 1; });
      console.log((await f) + (await t));
    });`;
  const r = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '-e', program], { encoding: 'utf8', cwd: __dirname });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.trim(), '42');
});

test('a subclass of Future or Task is awaited as a native promise too (its prototype made awaitable)', async () => {
  const { Future, Task } = require('evloop');
  await run(async () => {
    const loop = getRunningLoop();
    class MyFuture extends Future {}
    class MyTask extends Task {}
    class MyTaskAgain extends MyTask {}
    const f = new MyFuture(loop);
    const t = new MyTask(async () => 'mine', undefined, loop);
    const t2 = new MyTaskAgain(async () => 'again', undefined, loop);
    // PromiseResolve hands back the object itself only when its constructor reads as %Promise%:
    // otherwise `await` would go through then() (a thenable job).
    for (const x of [f, t, t2]) assert.equal(Promise.resolve(x), x, x.constructor.name);
    f.setResult('f');
    assert.deepEqual([await f, await t, await t2], ['f', 'mine', 'again']);
    assert.match(String(t), /^<MyTask /);
  });
});

test('a cancelled future raises its own CancelledError, whatever its result slot held before', async () => {
  await run(async () => {
    // sleep() keeps its value until it wakes: a CancelledError given as the value is not the
    // cancellation's error.
    const value = new CancelledError('the value');
    const s = sleep(1000, value);
    assert.equal(s.cancel('why'), true);
    await assert.rejects(async () => { await s; }, (e) => e instanceof CancelledError && e !== value && e.message === 'why');
    // A task asked to cancel while it awaits nothing of evloop's keeps the message to the end.
    const loop = getRunningLoop();
    let release;
    const t = loop.createTask(async () => { await new Promise((r) => { release = r; }); return 'done'; });
    await sleep(0);
    t.cancel('stop');
    release();
    await assert.rejects(async () => { await t; }, (e) => e instanceof CancelledError && e.message === 'stop');
    assert.equal(t.cancelled(), true);
    // A failed future keeps the exception, not the result, and reports no result.
    const f = loop.createFuture();
    const boom = new Error('boom');
    f.setException(boom);
    assert.equal(f.exception(), boom);
    assert.throws(() => f.result(), (e) => e === boom);
  });
});
