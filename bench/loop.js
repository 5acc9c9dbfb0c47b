'use strict';
// Loop micro-benchmarks: evloop vs Node's own primitives vs Python asyncio and uvloop
// (bench/loop_asyncio.py, same programs). Prints ops/s and ratios. `node bench/loop.js`
const { execFileSync } = require('child_process');
const path = require('path');
const { newEventLoop, sleep, run } = require('..');
const { record } = require('./summary');

const N_CALLSOON = 1_000_000;
const N_FUT = 200_000;
const N_SWITCH = 200_000;
const N_TIMERS = 100_000;

function rate(n, ms) { return (n / ms) * 1000; }

async function evCallSoon() {
  const loop = newEventLoop();
  let left = N_CALLSOON;
  const t0 = performance.now();
  await new Promise((resolve) => {
    const cb = () => { if (--left === 0) loop.stop(); };
    for (let i = 0; i < N_CALLSOON; i++) loop.callSoon(cb);
    loop.runForever().then(resolve);
  });
  const ms = performance.now() - t0;
  loop.close();
  return rate(N_CALLSOON, ms);
}

async function nodeSetImmediate() {
  let left = N_CALLSOON;
  const t0 = performance.now();
  await new Promise((resolve) => { const cb = () => { if (--left === 0) resolve(); }; for (let i = 0; i < N_CALLSOON; i++) setImmediate(cb); });
  return rate(N_CALLSOON, performance.now() - t0);
}

async function evFuture() {
  return run(async () => {
    const loop = require('..').getRunningLoop();
    const t0 = performance.now();
    for (let i = 0; i < N_FUT; i++) { const f = loop.createFuture(); f.setResult(i); await f; }
    return rate(N_FUT, performance.now() - t0);
  });
}

async function nodePromise() {
  const t0 = performance.now();
  for (let i = 0; i < N_FUT; i++) { let res; const p = new Promise((r) => { res = r; }); res(i); await p; }
  return rate(N_FUT, performance.now() - t0);
}

async function evSwitchGen() {
  return run(function* () {
    const t0 = performance.now();
    for (let i = 0; i < N_SWITCH; i++) yield* sleep(0);
    return rate(N_SWITCH, performance.now() - t0);
  });
}

async function evSwitchAsync() {
  return run(async () => {
    const t0 = performance.now();
    for (let i = 0; i < N_SWITCH; i++) await sleep(0);
    return rate(N_SWITCH, performance.now() - t0);
  });
}

async function nodeSwitch() {
  const t0 = performance.now();
  for (let i = 0; i < N_SWITCH; i++) await new Promise((r) => setImmediate(r));
  return rate(N_SWITCH, performance.now() - t0);
}

// 100 000 concurrent timers with delays spread over 0..99 ms, as timers handled per CPU second
// (process user + system time from scheduling the first to the last one firing). Wall time minus
// the longest delay would favour Node: setTimeout stamps every timer with libuv's cached loop
// time, so the time spent scheduling 100 000 of them never shows up in its deadlines, whereas
// callLater reads the clock each time (asyncio's meaning of loop.time()).
function cpuMs(since) {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1000;
}

async function evTimers() {
  const loop = newEventLoop();
  let left = N_TIMERS;
  const cpu0 = process.cpuUsage();
  await new Promise((resolve) => {
    const cb = () => { if (--left === 0) loop.stop(); };
    for (let i = 0; i < N_TIMERS; i++) loop.callLater(i % 100, cb);
    loop.runForever().then(resolve);
  });
  const ms = cpuMs(cpu0);
  loop.close();
  return rate(N_TIMERS, ms);
}

async function nodeTimers() {
  let left = N_TIMERS;
  const cpu0 = process.cpuUsage();
  await new Promise((resolve) => { const cb = () => { if (--left === 0) resolve(); }; for (let i = 0; i < N_TIMERS; i++) setTimeout(cb, i % 100); });
  return rate(N_TIMERS, cpuMs(cpu0));
}

// 10 000 tasks, each sleeping 0..99 ms, as tasks per CPU second (creating each task, its timer,
// waking it and gathering it), as loop_asyncio.py measures it with time.process_time(). Wall
// time minus the longest sleep mostly measured how late the last timer fired.
function sleepTasks(makeTask) {
  return run(async () => {
    const { gather } = require('..');
    const loop = require('..').getRunningLoop();
    const cpu0 = process.cpuUsage();
    const tasks = [];
    for (let i = 0; i < N_TIMERS / 10; i++) tasks.push(loop.createTask(makeTask(i)));
    await gather(tasks);
    return rate(N_TIMERS / 10, Math.max(cpuMs(cpu0), 1e-3));
  });
}
const evSleepTasks = () => sleepTasks((i) => function* () { yield* sleep(i % 100); });
const evSleepTasksAsync = () => sleepTasks((i) => async () => { await sleep(i % 100); });

// Timeouts that never fire: 200 000 timers of ~5 s scheduled in steps of 1,000, each cancelling
// the one scheduled 100 before it, as timers scheduled and cancelled per CPU second (evloop keeps
// a cancelled timer queued until its deadline or a purge; Node unlinks it at clearTimeout).
const N_CANCEL = 200_000;
async function evCancelled() {
  const loop = newEventLoop();
  const ring = new Array(100).fill(null);
  const noop = () => {};
  let i = 0;
  const cpu0 = process.cpuUsage();
  await new Promise((resolve) => {
    const step = () => {
      for (let k = 0; k < 1000; k++, i++) {
        const slot = i % 100;
        if (ring[slot] !== null) ring[slot].cancel();
        ring[slot] = loop.callLater(5000 + (i % 7), noop);
      }
      if (i < N_CANCEL) loop.callSoon(step);
      else {
        for (const h of ring) h.cancel();
        loop.stop();
      }
    };
    loop.callSoon(step);
    loop.runForever().then(resolve);
  });
  const ms = cpuMs(cpu0);
  loop.close();
  return rate(N_CANCEL, ms);
}
async function nodeCancelled() {
  const ring = new Array(100).fill(null);
  const noop = () => {};
  let i = 0;
  const cpu0 = process.cpuUsage();
  await new Promise((resolve) => {
    const step = () => {
      for (let k = 0; k < 1000; k++, i++) {
        const slot = i % 100;
        if (ring[slot] !== null) clearTimeout(ring[slot]);
        ring[slot] = setTimeout(noop, 5000 + (i % 7));
      }
      if (i < N_CANCEL) setImmediate(step);
      else {
        for (const h of ring) clearTimeout(h);
        resolve();
      }
    };
    setImmediate(step);
  });
  return rate(N_CANCEL, cpuMs(cpu0));
}

// Bytes allocated per timer, scheduled to fired (and per sleeping task, created to gathered), in a
// child process with a young generation big enough that no GC runs while it counts: heap growth
// is then allocation. Garbage counts as much as what stays queued — the scavenges it brings on
// copy every queued timer — so this is the figure the timer queue is tuned by. Next to it, the
// bytes a queued timer keeps alive (heap after a full GC with all of them queued): what each
// of those GCs copies per timer.
const ALLOC_FLAG = '--timer-alloc';
function allocChild() {
  const cb0 = () => {};
  function* sleeper(i) { yield* sleep(i % 100); }
  const v8 = require('v8');
  const used = () => v8.getHeapSpaceStatistics().reduce((s, sp) => (/^(new_space|new_large_object_space|old_space|large_object_space)$/.test(sp.space_name) ? s + sp.space_used_size : s), 0);
  const perUnit = async (n, fn) => {
    const xs = [];
    for (let round = 0; round < 5; round++) {
      global.gc();
      const h0 = used();
      await fn();
      xs.push((used() - h0) / n);
    }
    return median(xs.slice(2)); // the first rounds also count compiled code and grown arrays
  };
  // Live bytes per queued timer: all of them scheduled, garbage collected, none fired yet.
  const retained = (schedule, cancelAll) => {
    const xs = [];
    // Held in an object and cleared: a stale register of the previous round must not keep its
    // timers alive into the next round's baseline.
    const held = { keep: null };
    for (let round = 0; round < 5; round++) {
      global.gc();
      const h0 = used();
      held.keep = schedule();
      global.gc();
      xs.push((used() - h0) / N_TIMERS);
      cancelAll(held.keep);
      held.keep = null;
    }
    return median(xs.slice(2));
  };
  const evQueued = () => {
    const loop = newEventLoop();
    const hs = [];
    for (let i = 0; i < N_TIMERS; i++) hs.push(loop.callLater(i % 100, cb0));
    return { loop, hs };
  };
  const ndQueued = () => {
    const hs = [];
    for (let i = 0; i < N_TIMERS; i++) hs.push(setTimeout(cb0, i % 100));
    return { hs };
  };
  const ev = () => {
    const loop = newEventLoop();
    let left = N_TIMERS;
    return new Promise((resolve) => {
      const cb = () => { if (--left === 0) loop.stop(); };
      for (let i = 0; i < N_TIMERS; i++) loop.callLater(i % 100, cb);
      loop.runForever().then(() => { loop.close(); resolve(); });
    });
  };
  const nd = () => new Promise((resolve) => { let left = N_TIMERS; const cb = () => { if (--left === 0) resolve(); }; for (let i = 0; i < N_TIMERS; i++) setTimeout(cb, i % 100); });
  const tasks = (make) => () => run(async () => {
    const { gather, getRunningLoop } = require('..');
    const loop = getRunningLoop();
    const ts = [];
    for (let i = 0; i < N_TIMERS / 10; i++) ts.push(loop.createTask(make(i)));
    await gather(ts);
  });
  (async () => {
    const out = {
      // The array of handles (8 B a timer) is counted on both sides alike.
      timersRetained: retained(evQueued, ({ loop, hs }) => { for (const h of hs) h.cancel(); loop.close(); }),
      setTimeoutRetained: retained(ndQueued, ({ hs }) => { for (const h of hs) clearTimeout(h); }),
      timers: await perUnit(N_TIMERS, ev),
      setTimeout: await perUnit(N_TIMERS, nd),
      sleepTasks: await perUnit(N_TIMERS / 10, tasks((i) => function* () { yield* sleep(i % 100); })),
      sleepTasksAsync: await perUnit(N_TIMERS / 10, tasks((i) => async () => { await sleep(i % 100); })),
      // Generator tasks as loop_asyncio.py makes its coroutines: one generator function, called
      // per task. The row above makes a function* per task, and each such function gives its
      // generator a prototype object and a map of its own (about 0.5 KB a task).
      sleepTasksOneFunction: await perUnit(N_TIMERS / 10, tasks((i) => sleeper(i))),
    };
    process.stdout.write(JSON.stringify(out));
  })();
}

function allocation() {
  try {
    const out = execFileSync(process.execPath, ['--expose-gc', '--min-semi-space-size=256', '--max-semi-space-size=256', __filename, ALLOC_FLAG], { encoding: 'utf8', timeout: 300000 });
    return JSON.parse(out);
  } catch (e) {
    return { error: String(e.message).split('\n')[0] };
  }
}

function python(kind, only) {
  try {
    const out = execFileSync('/usr/bin/python3', [path.join(__dirname, 'loop_asyncio.py'), kind, ...(only ? [only] : [])], { encoding: 'utf8', timeout: 300000 });
    return JSON.parse(out);
  } catch (e) {
    return { error: String(e.message).split('\n')[0] };
  }
}

function fmt(x) { return typeof x === 'number' ? (x >= 1e6 ? (x / 1e6).toFixed(2) + 'M' : (x / 1e3).toFixed(1) + 'k') : 'n/a'; }
function ratio(a, b) { return typeof a === 'number' && typeof b === 'number' ? (a / b).toFixed(2) + 'x' : 'n/a'; }

const median = (xs) => xs.slice().sort((x, y) => x - y)[xs.length >> 1];

// Both sides warm twice, then 5 rounds in alternating order; each side's median is reported.
// One warm-up was not enough: the first run of a case pays for growing V8's young generation,
// and the first switch from one side to the other deoptimizes parts of evloop's pass (wrong map,
// code dependencies: --trace-deopt); the two rounds after a single warm-up, run before V8 had
// optimized them again, read up to 45% slower than the rest.
// A macrotask between the sides: evloop's promise hooks, on while an async-function task was
// pending, are removed by then and never slow the Node side.
const ROUNDS = 5;
const settle = () => new Promise((r) => setImmediate(r));
async function pair(evloop, node) {
  const ev0 = evloop;
  evloop = async () => { const r = await ev0(); await settle(); return r; };
  for (let warm = 0; warm < 2; warm++) {
    await evloop();
    if (node) await node();
  }
  const ev = [];
  const nd = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0 || !node) {
      ev.push(await evloop());
      if (node) nd.push(await node());
    } else {
      nd.push(await node());
      ev.push(await evloop());
    }
  }
  return [median(ev), node ? median(nd) : undefined];
}

// The timer row runs each side in a fresh process: 100,000 timers' worth of garbage makes the
// row depend on how big the young generation has grown in the rows before it (setTimeout measured
// 1.9–3.5M/s after them and 1.5M/s alone), which would grade heap history, not timers.
const CASE_FLAG = '--case';
const cases = { evTimers, nodeTimers };
function freshPair(evName, nodeName) {
  const once = (name) => JSON.parse(execFileSync(process.execPath, [__filename, CASE_FLAG, name], { encoding: 'utf8', timeout: 300000 }));
  const ev = [];
  const nd = [];
  for (let round = 0; round < 5; round++) {
    if (round % 2 === 0) { ev.push(once(evName)); nd.push(once(nodeName)); } else { nd.push(once(nodeName)); ev.push(once(evName)); }
  }
  return [median(ev), median(nd)];
}
// The async task switch row runs in a process of its own (both sides; the pair's rounds as in
// the other rows). After the rows before it, evloop's pass is compiled for their runnables too
// (callSoon's handles, the future row's futures, generator steps): callgrind of the switch after
// those rows (at a quarter of their size) against a process that ran only switches, JavaScript
// per switch 1,281–1,316 instructions against 1,074 — _runReady and the task's yield check no
// longer inlined into the pass, ~+220 in the pass, +56 in sleep() — which grades the rows
// before, not the switch (the Node side's code is its own). By time the difference drowns in
// this machine's noise: the same 200,000-switch round read 1.3–2.5M/s within one process.
// Its ratio is the median of the rounds' own ratios, over more rounds: this machine's speed
// drifts for seconds at a time (a run read evloop 1.24, 1.21, 1.28, then 2.50, 2.49M/s, and
// Node's side 377k then 698k, in the same order), and a side's median then depends on how its
// rounds fell in that drift. Over twelve runs of this pair as the other rows run it (5 rounds) the
// ratio of the two medians read 3.03–5.19x, the median of the rounds' ratios 3.37–4.15x.
// `node bench/loop.js --switch-async` prints this row's pair alone: [evloop, node, ratio].
const SWITCH_ASYNC_FLAG = '--switch-async';
const SWITCH_ROUNDS = 9;
function freshSwitchAsync() {
  try {
    return JSON.parse(execFileSync(process.execPath, [__filename, SWITCH_ASYNC_FLAG], { encoding: 'utf8', timeout: 300000 }));
  } catch (e) {
    console.error('switch row:', String(e.message).split('\n')[0]);
    return [undefined, undefined, undefined];
  }
}
async function switchAsyncChild() {
  const ev0 = async () => { const r = await evSwitchAsync(); await settle(); return r; };
  for (let warm = 0; warm < 2; warm++) {
    await ev0();
    await nodeSwitch();
  }
  const ev = [];
  const nd = [];
  const ratios = [];
  for (let round = 0; round < SWITCH_ROUNDS; round++) {
    let e;
    let n;
    if (round % 2 === 0) {
      e = await ev0();
      n = await nodeSwitch();
    } else {
      n = await nodeSwitch();
      e = await ev0();
    }
    ev.push(e);
    nd.push(n);
    ratios.push(e / n);
  }
  process.stdout.write(JSON.stringify([median(ev), median(nd), median(ratios)]));
}

// The await rows again with the other frame carrier (lib/core/context.ts), in a child process:
// the carrier is chosen at load.
const CARRIER_FLAG = '--carrier-rows';
function otherCarrierRows() {
  const { asyncContextCarrier } = require('evloop/internal');
  const other = asyncContextCarrier === 'hooks' ? null : 'hooks';
  if (other === null) return null;
  try {
    const out = execFileSync(process.execPath, [__filename, CARRIER_FLAG], { encoding: 'utf8', timeout: 300000, env: { ...process.env, EVLOOP_ASYNC_CONTEXT: other } });
    return { carrier: other, ...JSON.parse(out) };
  } catch (e) {
    return { carrier: other, error: String(e.message).split('\n')[0] };
  }
}
async function carrierChild() {
  const future = await pair(evFuture, nodePromise);
  const switchAsync = await pair(evSwitchAsync, nodeSwitch);
  process.stdout.write(JSON.stringify({ future: future[0] / future[1], switchAsync: switchAsync[0] / switchAsync[1] }));
}

async function caseChild(name) {
  await cases[name](); // warm-up: compiles the code and grows the heap as the measured run will
  process.stdout.write(JSON.stringify(await cases[name]()));
}

async function main() {
  const results = {
    callSoon: await pair(evCallSoon, nodeSetImmediate),
    future: await pair(evFuture, nodePromise),
    switchGen: await pair(evSwitchGen, nodeSwitch),
    switchAsync: freshSwitchAsync(),
    timers: freshPair('evTimers', 'nodeTimers'),
    sleepTasks: await pair(evSleepTasks, null),
    // Against uvloop in a child process between evloop's own rounds: uvloop's figure moved by a
    // quarter between runs (110k/s, then 86k/s) when it was measured once, after every evloop row.
    sleepTasksAsync: await pair(evSleepTasksAsync, async () => python('uvloop', 'sleep_tasks').sleep_tasks),
    cancelled: await pair(evCancelled, nodeCancelled),
  };
  const other = otherCarrierRows();
  const py = { asyncio: python('asyncio'), uvloop: python('uvloop') };
  if (typeof results.sleepTasksAsync[1] === 'number') py.uvloop.sleep_tasks = results.sleepTasksAsync[1];
  const bytes = allocation();
  const rows = [
    ['callSoon callbacks/s', 'callSoon', 'setImmediate', 'call_soon'],
    ['future create→resolve→await/s', 'future', 'Promise', 'future'],
    ['task switch sleep(0)/s, generator task', 'switchGen', 'await setImmediate', 'switch'],
    ['task switch sleep(0)/s, async task (its own process; ratio: median of 9 rounds\' own)', 'switchAsync', 'await setImmediate', 'switch'],
    ['100k concurrent timers, per CPU second (each side in fresh processes, median of 5)', 'timers', 'setTimeout', 'timers'],
    ['10k tasks sleeping, per CPU second, generator tasks', 'sleepTasks', '-', 'sleep_tasks'],
    ['10k tasks sleeping, per CPU second, async tasks', 'sleepTasksAsync', '-', 'sleep_tasks'],
    ['timeouts scheduled and cancelled before firing, per CPU second', 'cancelled', 'setTimeout + clearTimeout', 'cancelled'],
  ];
  console.log(`loop bench (higher is better; evloop and node: medians of ${ROUNDS} alternating rounds after two warm-ups; uvloop's sleeping tasks: the median of ${ROUNDS} child processes run between evloop's rounds)`);
  console.log(['case', 'evloop', 'node', 'evloop/node', 'asyncio', 'evloop/asyncio', 'uvloop', 'evloop/uvloop'].join(' | '));
  for (const [label, key, nodeName, pyKey] of rows) {
    const [ev, node] = results[key];
    const a = py.asyncio[pyKey];
    const u = py.uvloop[pyKey];
    const nodeSide = nodeName === '-' ? undefined : node; // the sleeping-tasks pair's other side is uvloop's
    // A row measured as rounds' own ratios (the async task switch) carries its ratio third.
    const own = results[key][2];
    const r = typeof own === 'number' ? own.toFixed(2) + 'x' : ratio(ev, nodeSide);
    console.log([label, fmt(ev), nodeSide === undefined ? '-' : `${fmt(node)} (${nodeName})`, r, fmt(a), ratio(ev, a), fmt(u), ratio(ev, u)].join(' | '));
  }
  const b = (x) => (typeof x === 'number' ? `${x.toFixed(0)} B` : 'n/a');
  console.log(`bytes allocated per timer, scheduled to fired: evloop callLater ${b(bytes.timers)}, setTimeout ${b(bytes.setTimeout)}; kept alive per queued timer: ${b(bytes.timersRetained)} vs ${b(bytes.setTimeoutRetained)}; per sleeping task, created to gathered: generator ${b(bytes.sleepTasks)} (tasks of one generator function ${b(bytes.sleepTasksOneFunction)}), async ${b(bytes.sleepTasksAsync)}`);
  const num = (x, y) => (typeof x === 'number' && typeof y === 'number' ? x / y : undefined);
  const { asyncContextCarrier } = require('evloop/internal');
  const otherDetail = (key) => (other === null ? '' : other.error ? `; ${other.carrier} carrier: ${other.error}` : `; ${other.carrier} carrier ${other[key].toFixed(2)}x`);
  if (other !== null) console.log(`with the ${other.carrier} carrier (EVLOOP_ASYNC_CONTEXT=${other.carrier}):`, other.error ?? `future/Promise ${other.future.toFixed(2)}x, async task switch/await setImmediate ${other.switchAsync.toFixed(2)}x`);
  record('future create, resolve, await / native Promise', num(results.future[0], results.future[1]), 0.8, `carrier ${asyncContextCarrier}${otherDetail('future')}`);
  record('task switch, async-function task / await setImmediate', results.switchAsync[2], 4, `ratio of the medians ${ratio(results.switchAsync[0], results.switchAsync[1])}; generator task ${ratio(results.switchGen[0], results.switchGen[1])}; carrier ${asyncContextCarrier}${otherDetail('switchAsync')}`);
  record('100,000 timers per CPU second / setTimeout', num(results.timers[0], results.timers[1]), 1.2, `${b(bytes.timers)} vs ${b(bytes.setTimeout)} allocated per timer, ${b(bytes.timersRetained)} vs ${b(bytes.setTimeoutRetained)} kept alive while queued`);
  record('10,000 tasks each sleeping, done per second / uvloop (async tasks)', num(results.sleepTasksAsync[0], py.uvloop.sleep_tasks), 1.5, `evloop ${fmt(results.sleepTasksAsync[0])}/s, uvloop ${fmt(py.uvloop.sleep_tasks)}/s (interleaved); generator tasks ${ratio(results.sleepTasks[0], py.uvloop.sleep_tasks)}; ${b(bytes.sleepTasksAsync)} per task`);
  if (bytes.error) console.log('allocation:', bytes.error);
  if (py.asyncio.error) console.log('asyncio:', py.asyncio.error);
  if (py.uvloop.error) console.log('uvloop:', py.uvloop.error);
}

if (process.argv.includes(ALLOC_FLAG)) allocChild();
else if (process.argv.includes(CARRIER_FLAG)) carrierChild().catch((e) => { console.error(e); process.exitCode = 1; });
else if (process.argv.includes(SWITCH_ASYNC_FLAG)) switchAsyncChild().catch((e) => { console.error(e); process.exitCode = 1; });
else if (process.argv.includes(CASE_FLAG)) caseChild(process.argv[process.argv.indexOf(CASE_FLAG) + 1]).catch((e) => { console.error(e); process.exitCode = 1; });
else main().catch((e) => { console.error(e); process.exitCode = 1; });
