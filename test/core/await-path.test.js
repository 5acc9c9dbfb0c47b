'use strict';
// The async-function (await) path: frames carried by promise hooks instead of AsyncLocalStorage,
// and the already-done fast path of Future.then. Each test pins a documented guarantee.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, newEventLoop, getRunningLoop, currentTask, sleep, wait, gather, CancelledError } = require('evloop');

const loopOf = () => getRunningLoop();

// How many evloop futures the task's frame awaits now (the task keeps one as is, more in an array).
function awaitedCount(task) {
  const ws = task._waiters;
  return ws === null ? 0 : Array.isArray(ws) ? ws.length : 1;
}

// Resolves once the task has reached its `await` of an evloop future: the future is registered
// on the task (what cancel() reaches), observed without timing.
function untilAwaiting(task) {
  return (function* () {
    while (awaitedCount(task) === 0) yield;
  })();
}

test('cancel reaches the evloop future awaited after a plain-promise await and after a helper returned', async () => {
  await run(async () => {
    const seen = [];
    async function helper() { await sleep(0); await Promise.resolve(); return 1; }
    const t = loopOf().createTask(async () => {
      await new Promise((r) => setImmediate(r)); // a continuation resumed by Node, not the loop
      await helper();
      await Promise.all([helper(), Promise.resolve(2)]);
      try { await sleep(60000); } catch (e) { seen.push(e.message); throw e; }
    });
    await loopOf().createTask(untilAwaiting(t));
    assert.equal(t.cancel('stop'), true);
    await wait([t]);
    assert.deepEqual(seen, ['stop']);
    assert.equal(t.cancelled(), true);
  });
});

test('concurrent async tasks keep their own frames: cancelling one never reaches the other', async () => {
  await run(async () => {
    const body = async () => {
      for (let i = 0; i < 5; i++) { await sleep(0); await Promise.resolve(); }
      await sleep(60000);
    };
    const a = loopOf().createTask(body);
    const b = loopOf().createTask(body);
    await loopOf().createTask(untilAwaiting(a));
    await loopOf().createTask(untilAwaiting(b));
    a.cancel();
    await wait([a]);
    assert.equal(a.cancelled(), true);
    assert.equal(b.done(), false, 'b must still be sleeping');
    assert.equal(awaitedCount(b), 1);
    b.cancel();
    await wait([b]);
    assert.equal(b.cancelled(), true);
  });
});

test('currentTask() follows an async task through native-promise continuations, and is undefined in Node callbacks', async () => {
  await run(async () => {
    const me = currentTask();
    await new Promise((r) => setImmediate(r));
    assert.equal(currentTask(), me);
    const inTimer = await new Promise((r) => setTimeout(() => r(currentTask()), 0));
    assert.equal(inTimer, undefined);
    assert.equal(currentTask(), me);
  });
});

test('awaiting a done future: value, exception (retrieved), cancellation', async () => {
  await run(async () => {
    const loop = loopOf();
    const ok = loop.createFuture();
    ok.setResult(42);
    assert.equal(await ok, 42);
    const failed = loop.createFuture();
    failed.setException(new Error('boom'));
    await assert.rejects(async () => { await failed; }, /boom/);
    assert.equal(failed._tracked, false, 'awaiting marks the exception retrieved');
    const cancelled = loop.createFuture();
    cancelled.cancel('why');
    await assert.rejects(async () => { await cancelled; }, (e) => e instanceof CancelledError && e.message === 'why');
  }, { debug: true });
});

test('then() on a done future calls back asynchronously, chains, and passes a thenable result as is', async () => {
  await run(async () => {
    const loop = loopOf();
    const fut = loop.createFuture();
    fut.setResult(1);
    let called = false;
    const chained = fut.then((v) => { called = true; return v + 1; });
    assert.equal(called, false, 'never before then() returns');
    assert.ok(chained instanceof Promise);
    assert.equal(await chained, 2);
    const inner = Promise.resolve('inner');
    const holder = loop.createFuture();
    holder.setResult(inner);
    const got = await new Promise((r) => holder.then((v) => r([v])));
    assert.equal(got[0], inner);
    const failed = loop.createFuture();
    failed.setException(new Error('x'));
    assert.equal(await failed.then(null, (e) => e.message), 'x');
  });
});

test('a task that awaits done futures only stays cancellable (ends cancelled) and runs no extra loop hops', async () => {
  await run(async () => {
    const loop = loopOf();
    const done = loop.createFuture();
    done.setResult(0);
    let passes = 0;
    const counter = () => { passes++; };
    const t = loop.createTask(async () => {
      currentTask().cancel();
      loop.callSoon(counter);
      for (let i = 0; i < 100; i++) await done;
      return 'finished';
    });
    await wait([t]);
    assert.equal(t.cancelled(), true);
    assert.ok(passes <= 1, 'a hundred awaits of a done future ran the loop at most once');
  });
});

test('frames are carried again by a loop created after the last one closed', async () => {
  for (let round = 0; round < 2; round++) {
    await run(async () => {
      const t = loopOf().createTask(async () => { await Promise.resolve(); await sleep(60000); });
      await loopOf().createTask(untilAwaiting(t));
      t.cancel();
      await wait([t]);
      assert.equal(t.cancelled(), true);
    });
  }
  const loop = newEventLoop();
  loop.close();
});

test('gather of async helpers inside a task: cancel reaches every evloop future they await', async () => {
  await run(async () => {
    let cancelled = 0;
    const helper = async () => { try { await sleep(60000); } catch (e) { cancelled++; throw e; } };
    const t = loopOf().createTask(async () => { await Promise.all([helper(), helper()]); });
    await loopOf().createTask((function* () { while (awaitedCount(t) < 2) yield; })());
    t.cancel();
    await wait([t]);
    assert.equal(cancelled, 2);
    assert.equal(t.cancelled(), true);
  });
});

test('I/O is not starved by a busy ready queue: an echo round trip completes while a task yields without pause', async () => {
  await run(async () => {
    const loop = loopOf();
    const server = await loop.createServer(() => ({
      connectionMade(t) { this.t = t; },
      dataReceived(d) { this.t.write(d); },
      eofReceived() { return false; },
      connectionLost() {},
    }), '127.0.0.1', 0);
    const port = server.address().port;
    let spins = 0;
    const busy = loop.createTask(function* () { for (;;) { spins++; yield; } });
    const got = loop.createFuture();
    const [transport] = await loop.createConnection(() => ({
      chunks: [],
      connectionMade() {},
      dataReceived(d) { this.chunks.push(d); if (Buffer.concat(this.chunks).length === 5 && !got.done()) got.setResult(Buffer.concat(this.chunks).toString()); },
      eofReceived() { return false; },
      connectionLost() {},
    }), '127.0.0.1', port);
    const spinsBefore = spins;
    transport.write(Buffer.from('hello'));
    assert.equal(await got, 'hello');
    assert.ok(spins > spinsBefore, 'the busy task kept running meanwhile');
    busy.cancel();
    transport.close();
    server.close();
  });
});

test('promise hooks: never with the embedder-data carrier; with the hooks carrier only while an async-function task is pending', async () => {
  const { asyncContextCarrier, framesCarried, promiseHooksInstalled } = require('evloop/internal');
  const hooks = asyncContextCarrier === 'hooks';
  if (!hooks) assert.equal(asyncContextCarrier, 'embedder-data');
  // With embedder data, frames are always carried and no hook is ever installed.
  const check = (expectedWithHooks, what) => {
    assert.equal(promiseHooksInstalled(), hooks && expectedWithHooks, what);
    assert.equal(framesCarried(), hooks ? expectedWithHooks : true, what);
  };
  const settle = () => new Promise((r) => setImmediate(r));
  await settle();
  check(false, 'no loop');
  const loop = newEventLoop();
  await loop.runUntilComplete(loop.createTask(function* () { yield* sleep(0); }));
  await settle();
  check(false, 'a loop open running a generator task');
  let during;
  await loop.runUntilComplete(loop.createTask(async () => { during = [promiseHooksInstalled(), framesCarried()]; await sleep(0); }));
  assert.deepEqual(during, [hooks, true], 'an async-function task pending');
  await settle();
  check(false, 'removed once it finished');
  const stuck = loop.createTask(async () => { await sleep(60000); });
  await loop.runUntilComplete(loop.createTask(function* () { yield; }));
  check(true, 'a pending async-function task');
  loop.close();
  assert.equal(stuck.done(), false);
  await settle();
  check(false, 'closing the loop releases its pending tasks');
});

test('createTask(child()) from a generator task: with embedder data the child is tracked (cancel reaches its await)', async () => {
  const { asyncContextCarrier, framesCarried } = require('evloop/internal');
  await run(function* () {
    const loop = getRunningLoop();
    // No async-function task is pending here: the hooks carrier has its hooks off, so the
    // promise child() makes carries no frame (the limit docs/tasks.md states) and nothing below
    // could reach its await. Embedder data is always carried.
    assert.equal(framesCarried(), asyncContextCarrier === 'embedder-data');
    if (asyncContextCarrier !== 'embedder-data') return;
    let caught = null;
    async function child() {
      try { await sleep(60000); } catch (e) { caught = e; throw e; }
    }
    const t = loop.createTask(child());
    yield* untilAwaiting(t);
    assert.equal(t.cancel('stop'), true);
    yield* wait([t]);
    assert.equal(t.cancelled(), true);
    assert.ok(caught instanceof CancelledError);
    assert.equal(caught.message, 'stop');
  });
});

test('an async function that returns a future (adopted through then(), not awaited): cancel reaches it', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const fut1 = loop.createFuture();
    const fut2 = loop.createFuture();
    const t1 = loop.createTask(async () => fut1);
    const t2 = loop.createTask((async () => fut2)());
    await loopOf().createTask(untilAwaiting(t1));
    await loopOf().createTask(untilAwaiting(t2));
    assert.equal(t1.cancel('one'), true);
    assert.equal(t2.cancel('two'), true);
    await wait([t1, t2]);
    assert.deepEqual([t1.cancelled(), t2.cancelled()], [true, true]);
    assert.deepEqual([fut1.cancelled(), fut2.cancelled()], [true, true], 'the returned futures were cancelled through their tasks');
  });
});

test('embedder data: a Node callback and a plain promise job outside any task carry no frame', async () => {
  const { asyncContextCarrier } = require('evloop/internal');
  await run(async () => {
    const t = currentTask();
    assert.ok(t);
    const seen = await new Promise((resolve) => setImmediate(() => resolve(currentTask())));
    assert.equal(seen, undefined);
    assert.equal(currentTask(), t, 'the await continuation is back in the task');
    // A job queued from outside any task (a Node callback) runs with no task either.
    const outside = await new Promise((resolve) => setImmediate(() => Promise.resolve().then(() => resolve(currentTask()))));
    assert.equal(outside, undefined);
    assert.ok(asyncContextCarrier === 'embedder-data' || asyncContextCarrier === 'hooks');
  });
});

test('await of a done future inside a task resumes after two microtask hops (a native promise: one)', async () => {
  await run(async () => {
    const loop = loopOf();
    const hopsAcross = async (awaitable) => {
      let hops = 0;
      let stop = false;
      const counter = (async () => { while (!stop) { hops++; await null; } })();
      await awaitable;
      stop = true;
      await counter;
      return hops;
    };
    await hopsAcross(Promise.resolve(0)); // warm-up
    const native = await hopsAcross(Promise.resolve(1));
    const fut = loop.createFuture();
    fut.setResult(2);
    const viaFuture = await hopsAcross(fut);
    assert.ok(viaFuture <= native + 1, `done future: ${viaFuture} hops, native promise: ${native}`);
    const failed = loop.createFuture();
    failed.setException(new Error('late'));
    await assert.rejects(async () => { await failed; }, /late/);
  });
});

test('a task whose function hands its frame to a child (createTask(child())) before returning still ends as itself', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const children = [];
    const child = async (v) => { await sleep(0); return v; };
    const returnsAtOnce = loop.createTask(async () => { children.push(loop.createTask(child('c1'))); return 'p1'; });
    const returnsLater = loop.createTask(async () => { children.push(loop.createTask(child('c2'))); await sleep(0); return 'p2'; });
    const fails = loop.createTask(async () => { children.push(loop.createTask(child('c3'))); throw new Error('p3'); });
    const nested = loop.createTask(async () => {
      children.push(loop.createTask(child('c4')));
      await sleep(0);
      children.push(loop.createTask(child('c5')));
      return 'p4';
    });
    await wait([returnsAtOnce, returnsLater, fails, nested]);
    assert.equal(returnsAtOnce.result(), 'p1');
    assert.equal(returnsLater.result(), 'p2');
    assert.equal(fails.exception().message, 'p3');
    assert.equal(nested.result(), 'p4');
    assert.deepEqual(await gather(children), ['c1', 'c2', 'c3', 'c4', 'c5']);
  });
});

test('a pass that begins by resuming awaiting code still runs the callbacks after it in its own frame', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const f = loop.createFuture();
    let resumedIn = null;
    const waiter = loop.createTask(async () => { await f; resumedIn = currentTask(); });
    await loop.createTask(untilAwaiting(waiter));
    let seen = 'not run';
    const scheduler = loop.createTask(async () => {
      await sleep(0);
      // Runs as a promise job in this task's frame: the pass these two schedule is queued from
      // here, and begins with f, whose only callback resumes `waiter`.
      f.setResult(1);
      loop.callSoon(() => { seen = currentTask(); });
    });
    await scheduler;
    await waiter;
    assert.equal(resumedIn, waiter, 'the resumed code runs in its own task');
    assert.equal(seen, undefined, 'the callback runs in the pass frame, not in the scheduling task');
  });
});

test('a pass queued at the end of another runs its callbacks in a frame of their own, also after a handover', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const seen = [];
    const tasks = [];
    const child = async () => { await sleep(60000); };
    await new Promise((resolve) => {
      loop.callSoon(() => {
        seen.push(currentTask());
        tasks.push(loop.createTask(child())); // takes this pass's frame
        loop.callSoon(() => {
          seen.push(currentTask());
          tasks.push(loop.createTask(child()));
          loop.callSoon(() => {
            seen.push(currentTask());
            resolve();
          });
        });
      });
    });
    assert.deepEqual(seen, [undefined, undefined, undefined]);
    await loop.createTask(untilAwaiting(tasks[0]));
    await loop.createTask(untilAwaiting(tasks[1]));
    assert.equal(tasks[0].cancel(), true);
    await wait([tasks[0]]);
    assert.equal(tasks[1].done(), false, 'cancelling one child never reaches the other');
    tasks[1].cancel();
    await wait([tasks[1]]);
    assert.deepEqual(tasks.map((t) => t.cancelled()), [true, true]);
  });
});

test('awaits noted in an earlier pass, after a handover there, are never handed to a task made in the next', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const fa = loop.createFuture();
    const fb = loop.createFuture();
    let taskB = null;
    await new Promise((resolve) => {
      loop.callSoon(() => {
        loop.createTask((async () => { await sleep(60000); })()).cancel(); // takes this pass's frame
        (async () => { await fa; })(); // awaited in the fresh frame this callback continues in
        loop.callSoon(() => {
          taskB = loop.createTask((async () => { await fb; })());
          resolve();
        });
      });
    });
    await loop.createTask(untilAwaiting(taskB));
    assert.equal(taskB.cancel(), true);
    await wait([taskB]);
    assert.equal(fb.cancelled(), true);
    assert.equal(fa.done(), false, "the earlier pass's await is not the new task's");
    fa.setResult(1);
  });
});

test('an async-function task whose loop closed may still return: nothing throws, the task stays as it was', async () => {
  const loop = newEventLoop();
  let release;
  const gate = new Promise((r) => { release = r; });
  let returned = false;
  const t = loop.createTask(async () => { await gate; returned = true; return 'late'; });
  const failing = loop.createTask(async () => { await gate; throw new Error('late'); });
  const watched = loop.createTask(async () => { await gate; return 'late'; });
  watched.addDoneCallback(() => {});
  await loop.runUntilComplete(loop.createTask(function* () { yield; yield; }));
  loop.close();
  const errors = [];
  const onError = (e) => errors.push(e);
  process.on('unhandledRejection', onError);
  process.on('uncaughtException', onError);
  try {
    release();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('unhandledRejection', onError);
    process.off('uncaughtException', onError);
  }
  assert.equal(returned, true);
  assert.deepEqual(errors, []);
  assert.deepEqual([t.done(), failing.done(), watched.done()], [false, false, false]);
});

test('tasks started in one pass each register their own awaits, and a callback after them runs in no task', async () => {
  await run(async () => {
    const loop = loopOf();
    const futs = [loop.createFuture(), loop.createFuture(), loop.createFuture()];
    const seen = [];
    const tasks = futs.map((f, i) =>
      loop.createTask(async () => {
        seen.push(currentTask() === tasks[i]);
        try {
          await f;
        } catch (e) {
          return `${i} ${e.name}`;
        }
        seen.push(currentTask() === tasks[i]);
        return `${i} done`;
      }),
    );
    // Runs in the pass that runs the three first steps, after them.
    loop.callSoon(() => seen.push(currentTask() === undefined));
    await sleep(0);
    assert.deepEqual(tasks.map(awaitedCount), [1, 1, 1]);
    tasks[1].cancel();
    futs[0].setResult(0);
    futs[2].setResult(2);
    assert.deepEqual(await gather(tasks), ['0 done', '1 CancelledError', '2 done']);
    assert.equal(futs[1].cancelled(), true);
    assert.equal(futs[0].cancelled() || futs[2].cancelled(), false);
    assert.deepEqual(seen, [true, true, true, true, true, true]);
  });
});

test('a first step that returns a generator or a thenable goes on in the pass frame, and later callbacks run in no task', async () => {
  await run(async () => {
    const loop = loopOf();
    const seen = {};
    const genTask = loop.createTask(() =>
      (function* () {
        seen.genStep = currentTask() === genTask;
        yield* sleep(0);
        return 'gen';
      })(),
    );
    const thenableTask = loop.createTask(() => ({
      then(resolve) {
        seen.inThen = currentTask();
        resolve('thenable');
      },
    }));
    const asyncTask = loop.createTask(async () => 'async');
    // All three first steps and this callback run in one pass, in this order.
    loop.callSoon(() => { seen.after = currentTask(); });
    assert.deepEqual(await gather(genTask, thenableTask, asyncTask), ['gen', 'thenable', 'async']);
    assert.deepEqual(seen, { genStep: true, inThen: undefined, after: undefined });
  });
});

test('a task started in a pass run from a Node callback (not a promise job) leaves no frame to the Node callbacks after it', async () => {
  await run(async () => {
    const loop = loopOf();
    // Beyond MICROTASK_PASSES chained passes (64), the loop runs a pass from setImmediate: some
    // of these first steps run there, between other Node immediates.
    const seen = [];
    let ticking = true;
    const tick = () => {
      seen.push(currentTask());
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const never = loop.createFuture();
    const tasks = [];
    for (let i = 0; i < 300; i++) {
      tasks.push(loop.createTask(async () => { await never; }));
      await sleep(0);
    }
    ticking = false;
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(seen.length > 1, 'the ticker ran between the passes');
    assert.deepEqual(seen.filter((t) => t !== undefined), []);
    for (const t of tasks) t.cancel();
    await wait(tasks);
    assert.ok(tasks.every((t) => t.cancelled()));
  });
});

test("a future a task's frame observed through then() leaves the task's awaited futures once done (the task is its callback)", async () => {
  await run(async () => {
    const loop = loopOf();
    const f = loop.createFuture();
    const g = loop.createFuture();
    const task = loop.createTask(async () => {
      f.then(() => {});
      try {
        await g;
      } catch (e) {
        return e.name;
      }
      return 'no';
    });
    await loop.createTask(untilAwaiting(task));
    assert.equal(awaitedCount(task), 2);
    f.setResult(1);
    await sleep(0);
    assert.equal(awaitedCount(task), 1, 'f is no longer awaited');
    assert.equal(task.cancel(), true);
    assert.equal(await task, 'CancelledError');
    assert.equal(f.cancelled(), false);
    assert.equal(g.cancelled(), true);
  });
});

test("a stream's settled drain(), awaited after every write, leaves V8's promise species protector intact", () => {
  // Defining `constructor` on any promise object makes V8 look `constructor` up at every `await`
  // of a native promise in the process, and the species at every then(). Checked in a child
  // process: the protector is V8-internal, read with its natives syntax.
  const { spawnSync } = require('node:child_process');
  const script = `
    const { run, startServer, openConnection } = require('evloop');
    run(async () => {
      const server = await startServer(async (reader, writer) => {
        for (;;) {
          const data = await reader.read(100);
          if (data.length === 0) break;
          writer.write(data);
          await writer.drain();
        }
        writer.close();
      }, '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', server.address().port);
      const got = [];
      for (const word of ['a', 'b', 'c']) {
        writer.write(Buffer.from(word));
        await writer.drain();
        got.push(String(await reader.read(100)));
      }
      writer.close();
      server.close();
      process.stdout.write(JSON.stringify({ got, intact: %PromiseSpeciesProtector() }));
    });`;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { got: ['a', 'b', 'c'], intact: true });
});
