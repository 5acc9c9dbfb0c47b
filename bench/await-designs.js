'use strict';
// The experiments behind two design choices (issue #13), in one process, medians of 5 rounds:
//  1. What any V8 promise hook costs plain-promise code: why evloop installs its hooks only while
//     an async-function task is pending, and why no per-promise-hook design can stay within 5%.
//  2. What `await` of a done future costs: a native promise outside any task (the floor, as
//     bench/loop.js's Node side); evloop's Future, which is a native promise whose `constructor`
//     accessor V8 reads synchronously in the awaiting code (the moment a task learns what it
//     awaits); a bare prototype of that design; a minimal thenable (the design before, which V8
//     awaits through a PromiseResolveThenableJob calling then()); and a native promise awaited
//     inside a task, the floor for any design of `await fut` there. With the promise-hook
//     carrier (EVLOOP_ASYNC_CONTEXT=hooks) the rows inside a task pay the hooks; docs/futures.md
//     has the designs compared with each carrier.
//  3. What making one costs, the bound the await row hits: a native promise (V8 builds it on a
//     fast path for %Promise% only), a bare subclass of Promise (what any Future that is a
//     native promise must be), a native promise given another prototype afterwards (the other
//     way to one with a Future's methods: slower still), evloop's Future, and a plain object
//     with a Future's fields.
//     Then what V8's `constructor` lookup at `await` pays for: the object's own fields and the
//     size of the prototype holding the accessor.
//  4. Where an async task switch (`await sleep(0)`) goes, against `await setImmediate`: the least
//     a loop can do per yield (a native promise, an array of resolvers, a microtask pass), the
//     same with a Promise subclass that V8 awaits as a promise, then with one read of the embedder data per yield (what
//     a task needs to know who yields: a cancel requested meanwhile is thrown in there), and
//     evloop's sleep(0), which adds asyncio's Future (state, done callbacks, cancellation) and
//     loop (ready queue, timers, I/O polling, pass frame).
const { promiseHooks } = require('v8');
const { run, getRunningLoop, newEventLoop } = require('evloop');

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const N = 200000;

async function plainWork() {
  let x = 0;
  for (let i = 0; i < N; i++) x += await Promise.resolve(i);
  await Promise.all(Array.from({ length: N / 4 }, (_, i) => Promise.resolve(i).then((v) => v + 1)));
  return x;
}

const TAG = Symbol('frame');
let cur = {};
let outer = null;
const outsideFrame = { task: null };
const hookSets = {
  'no hook': [],
  'an empty init hook': [() => promiseHooks.onInit(() => {})],
  'empty before + after hooks': [() => promiseHooks.onBefore(() => {}), () => promiseHooks.onAfter(() => {})],
  'init storing a property': [() => promiseHooks.onInit((p) => { p[TAG] = cur; })],
  // What code outside any task pays since issue #13: init tags only promises made in a task's
  // frame, so these stay on V8's initial promise map.
  "evloop's hooks, code outside tasks": [
    () => promiseHooks.onInit(() => { const f = outsideFrame; if (f !== null && f.task !== null) throw new Error('unreached'); }),
    () => promiseHooks.onBefore((p) => { outer = cur; const f = p[TAG]; cur = f === undefined ? null : f; }),
    () => promiseHooks.onAfter(() => { cur = outer; outer = null; }),
  ],
  "evloop's three hooks (tag every promise)": [
    () => promiseHooks.onInit((p) => { p[TAG] = cur; }),
    () => promiseHooks.onBefore((p) => { outer = cur; const f = p[TAG]; cur = f === undefined ? null : f; }),
    () => promiseHooks.onAfter(() => { cur = outer; outer = null; }),
  ],
};

// The prototype: a native promise with a Future's fields; `await` reads its constructor.
let capturedResolve;
function capture(resolve) { capturedResolve = resolve; }
let constructorReads = 0;
class NativeFuture extends Promise {
  constructor() {
    super(capture);
    this._resolve = capturedResolve;
    this._state = 0;
    this._result = undefined;
  }
  setResult(v) { this._state = 2; this._result = v; this._resolve(v); }
}
Object.defineProperty(NativeFuture.prototype, 'constructor', {
  get() { constructorReads++; return Promise; },
  configurable: true,
});

async function timeIt(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

(async () => {
  // 2. await designs, each inside an async-function task (as user code runs)
  const designs = {
    'native promise': async () => {
      for (let i = 0; i < N; i++) { let res; const p = new Promise((r) => { res = r; }); res(i); await p; }
    },
    'evloop Future (a native promise)': async () => {
      const loop = getRunningLoop();
      for (let i = 0; i < N; i++) { const f = loop.createFuture(); f.setResult(i); await f; }
    },
    'prototype: Future as native promise': async () => {
      for (let i = 0; i < N; i++) { const f = new NativeFuture(); f.setResult(i); await f; }
    },
    'a minimal thenable (the old design)': async () => {
      for (let i = 0; i < N; i++) { const v = i; await { then(ok) { ok(v); } }; }
    },
    'native promise, inside the task': async () => {
      for (let i = 0; i < N; i++) { let res; const p = new Promise((r) => { res = r; }); res(i); await p; }
    },
  };
  const awaitTimes = {};
  for (let r = 0; r < 6; r++) {
    for (const [name, body] of Object.entries(designs)) {
      // The floor runs outside any task (no hooks), as bench/loop.js's Node side does.
      const ms = name === 'native promise' ? await timeIt(body) : await run(() => timeIt(body));
      await new Promise((resolve) => setImmediate(resolve));
      if (r > 0) (awaitTimes[name] ??= []).push(ms);
    }
  }
  const nat = median(awaitTimes['native promise']);
  console.log('\nfuture create → resolve → await (in an async-function task, but the floor)   M/s (median of 5)  / native');
  for (const [name, t] of Object.entries(awaitTimes)) {
    const rate = N / median(t) / 1000;
    console.log(`  ${name.padEnd(38)} ${rate.toFixed(2).padStart(6)}   ${(nat / median(t)).toFixed(2)}x`);
  }
  console.log(`  (the prototype's constructor getter ran ${constructorReads} times: once per await)`);

  // 3. construction alone
  class BareSubclass extends Promise {}
  class PlainFields {
    constructor() {
      this._state = 0; this._result = undefined; this._exception = undefined; this._failed = false;
      this._loop = null; this._callbacks = null; this._scheduled = null; this._cancelMessage = undefined;
    }
  }
  // The other way to a native promise with a Future's methods: make it on V8's fast path for
  // %Promise%, then give it another prototype (a map transition V8 takes in the runtime).
  const reprototyped = Object.create(Promise.prototype);
  const loop = newEventLoop();
  const makers = {
    'new Promise(executor)': () => new Promise(capture),
    'a bare subclass of Promise': () => new BareSubclass(capture),
    'new Promise, then setPrototypeOf': () => Object.setPrototypeOf(new Promise(capture), reprototyped),
    'evloop Future': () => loop.createFuture(),
    "a plain object with a Future's fields": () => new PlainFields(),
  };
  const M = 1_000_000;
  const makeTimes = {};
  let sink;
  for (let r = 0; r < 6; r++) {
    for (const [name, make] of Object.entries(makers)) {
      const t = performance.now();
      for (let i = 0; i < M; i++) sink = make();
      if (r > 0) (makeTimes[name] ??= []).push(((performance.now() - t) / M) * 1e6);
    }
  }
  loop.close();
  console.log('\nmaking one (no await)                                   ns (median of 5)');
  for (const [name, t] of Object.entries(makeTimes)) console.log(`  ${name.padEnd(38)} ${median(t).toFixed(1).padStart(6)}`);
  void sink;

  // 3b. what V8's `constructor` lookup at `await` pays for: it searches the object's own fields,
  // then each prototype up to the accessor (a generic lookup, no inline cache), so a Future keeps
  // few fields and its methods on a base class below the accessor's prototype (lib/core/future.ts)
  const shaped = (fields, methods, onBase) => {
    const Base = onBase ? class extends Promise {} : Promise;
    const body = Array.from({ length: fields }, (_, i) => `this.f${i} = null;`).join(' ');
    const Shaped = new Function('Base', 'capture', 'taken', `return class extends Base { constructor() { super(capture); this._resolve = taken(); ${body} } }`)(Base, capture, () => capturedResolve);
    const holder = onBase ? Base.prototype : Shaped.prototype;
    for (let i = 0; i < methods; i++) holder[`m${i}`] = function () { return i; };
    Object.defineProperty(Shaped.prototype, 'constructor', { get: () => Promise, configurable: true });
    return async () => {
      const t = performance.now();
      for (let i = 0; i < N; i++) { const f = new Shaped(); f._resolve(i); await f; }
      return ((performance.now() - t) / N) * 1e6;
    };
  };
  const shapes = {
    '2 fields': shaped(1, 0, false),
    '9 fields (a Future)': shaped(8, 0, false),
    '15 fields (a Future before)': shaped(14, 0, false),
    '2 fields, 30 methods beside the accessor': shaped(1, 30, false),
    '2 fields, 30 methods on a base class': shaped(1, 30, true),
  };
  const shapeTimes = {};
  for (let r = 0; r < 6; r++) {
    for (const [name, fn] of Object.entries(shapes)) {
      const ns = await fn();
      if (r > 0) (shapeTimes[name] ??= []).push(ns);
    }
  }
  console.log('\ncreate → resolve → await of a Promise subclass with the accessor   ns (median of 5)');
  for (const [name, t] of Object.entries(shapeTimes)) console.log(`  ${name.padEnd(44)} ${median(t).toFixed(1).padStart(6)}`);

  // 4. a task switch, taken apart
  const { binding } = require('evloop/internal');
  const { sleep } = require('evloop');
  const cped = binding.contextData();
  const SW = 200_000;
  const minimalYield = (Make, readFrame) => {
    let queue = [];
    let scheduled = false;
    const pass = () => {
      scheduled = false;
      const q = queue;
      queue = [];
      for (let i = 0; i < q.length; i++) q[i]();
    };
    return async () => {
      const t = process.cpuUsage();
      for (let i = 0; i < SW; i++) {
        const p = new Make(capture);
        queue.push(capturedResolve);
        if (readFrame && cped !== null) cped.get();
        if (!scheduled) {
          scheduled = true;
          Promise.resolve().then(pass);
        }
        await p;
      }
      const u = process.cpuUsage(t);
      return ((u.user + u.system) * 1000) / SW;
    };
  };
  // V8 awaits a subclass instance in one hop only when its `constructor` reads as %Promise%
  // (Future's accessor): without it, `await` wraps it in a thenable job.
  class AwaitableSubclass extends Promise {}
  Object.defineProperty(AwaitableSubclass.prototype, 'constructor', { get: () => Promise });
  const switches = {
    'await setImmediate (Node)': async () => {
      const t = process.cpuUsage();
      for (let i = 0; i < SW; i++) await new Promise((r) => setImmediate(r));
      const u = process.cpuUsage(t);
      return ((u.user + u.system) * 1000) / SW;
    },
    'least a loop can do: native promise': minimalYield(Promise, false),
    '... a Promise subclass (awaited as a promise)': minimalYield(AwaitableSubclass, false),
    '... and one frame read per yield': minimalYield(AwaitableSubclass, true),
    'evloop sleep(0) in an async task': () =>
      run(async () => {
        const t = process.cpuUsage();
        for (let i = 0; i < SW; i++) await sleep(0);
        const u = process.cpuUsage(t);
        return ((u.user + u.system) * 1000) / SW;
      }),
  };
  const switchTimes = {};
  for (let r = 0; r < 6; r++) {
    for (const [name, fn] of Object.entries(switches)) {
      const ns = await fn();
      if (r > 0) (switchTimes[name] ??= []).push(ns);
    }
  }
  const node = median(switchTimes['await setImmediate (Node)']);
  console.log('\ntask switch, taken apart                      CPU ns per switch (median of 5)  setImmediate / it');
  for (const [name, t] of Object.entries(switchTimes)) console.log(`  ${name.padEnd(42)} ${median(t).toFixed(0).padStart(6)}   ${(node / median(t)).toFixed(2)}x`);
  // 1. hooks, measured last: once any promise hook has been installed (even removed again), V8
  // takes its slower promise paths for the rest of the process, which slowed the native floors of
  // the sections above by about a third and made every design look closer to them.
  const hookTimes = {};
  for (let r = 0; r < 6; r++) {
    for (const [name, installs] of Object.entries(hookSets)) {
      const stops = installs.map((install) => install());
      const ms = await timeIt(plainWork);
      for (const stop of stops) stop();
      if (r > 0) (hookTimes[name] ??= []).push(ms);
    }
  }
  const base = median(hookTimes['no hook']);
  console.log('\nplain-promise work with V8 promise hooks installed      ms (median of 5)  slowdown');
  for (const [name, t] of Object.entries(hookTimes)) {
    console.log(`  ${name.padEnd(34)} ${median(t).toFixed(1).padStart(8)}   ${((median(t) / base - 1) * 100).toFixed(1)}%`);
  }

})();
