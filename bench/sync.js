'use strict';
// Lock and Queue benchmarks: evloop (generator tasks and async-function tasks) against asyncio and
// uvloop running the same programs (bench/sync_asyncio.py), and the queue against fastq, the
// fastest promise-based in-memory queue on npm. Prints ops/s and ratios. `node bench/sync.js`
const { execFileSync } = require('child_process');
const path = require('path');
const fastq = require('fastq');
const { run, Lock, Queue, sleep, gather, getRunningLoop } = require('..');

// Keep these equal to bench/sync_asyncio.py.
const N_LOCK = 200_000; // uncontended acquire/release pairs
const N_CONTENDED = 100_000; // acquire/release pairs in total, over TASKS tasks
const N_QUEUE = 200_000; // items through the queue
const TASKS = 16;
const MAXSIZE = 64;

const rate = (n, ms) => (n / ms) * 1000;

// ---- Lock, uncontended: one task acquires and releases in a loop ----
function lockUncontendedGen() {
  return run(function* () {
    const lock = new Lock();
    const t0 = performance.now();
    for (let i = 0; i < N_LOCK; i++) {
      yield* lock.acquire();
      lock.release();
    }
    return rate(N_LOCK, performance.now() - t0);
  });
}

function lockUncontendedAsync() {
  return run(async () => {
    const lock = new Lock();
    const t0 = performance.now();
    for (let i = 0; i < N_LOCK; i++) {
      await lock.acquire();
      lock.release();
    }
    return rate(N_LOCK, performance.now() - t0);
  });
}

// ---- Lock, contended: TASKS tasks each hold it across a task switch, so the others queue ----
function lockContendedGen() {
  return run(function* () {
    const loop = getRunningLoop();
    const lock = new Lock();
    const perTask = N_CONTENDED / TASKS;
    const worker = function* () {
      for (let i = 0; i < perTask; i++) {
        yield* lock.acquire();
        try {
          yield* sleep(0);
        } finally {
          lock.release();
        }
      }
    };
    const t0 = performance.now();
    const tasks = [];
    for (let i = 0; i < TASKS; i++) tasks.push(loop.createTask(worker()));
    yield* gather(tasks);
    return rate(perTask * TASKS, performance.now() - t0);
  });
}

function lockContendedAsync() {
  return run(async () => {
    const loop = getRunningLoop();
    const lock = new Lock();
    const perTask = N_CONTENDED / TASKS;
    const worker = async () => {
      for (let i = 0; i < perTask; i++) {
        await lock.acquire();
        try {
          await sleep(0);
        } finally {
          lock.release();
        }
      }
    };
    const t0 = performance.now();
    const tasks = [];
    for (let i = 0; i < TASKS; i++) tasks.push(loop.createTask(worker));
    await gather(tasks);
    return rate(perTask * TASKS, performance.now() - t0);
  });
}

// ---- Queue(maxsize 64): one producer, `consumers` consumers, `null` ends each consumer ----
function queueGen(consumers) {
  return run(function* () {
    const loop = getRunningLoop();
    const q = new Queue({ maxsize: MAXSIZE });
    const consumer = function* () {
      let n = 0;
      for (;;) {
        const item = yield* q.get();
        if (item === null) return n;
        n++;
      }
    };
    const producer = function* () {
      for (let i = 0; i < N_QUEUE; i++) yield* q.put(i);
      for (let i = 0; i < consumers; i++) yield* q.put(null);
      return 0;
    };
    const t0 = performance.now();
    const tasks = [loop.createTask(producer())];
    for (let i = 0; i < consumers; i++) tasks.push(loop.createTask(consumer()));
    const res = yield* gather(tasks);
    const ms = performance.now() - t0;
    if (res.reduce((a, b) => a + b, 0) !== N_QUEUE) throw new Error('items lost');
    return rate(N_QUEUE, ms);
  });
}

function queueAsync(consumers) {
  return run(async () => {
    const loop = getRunningLoop();
    const q = new Queue({ maxsize: MAXSIZE });
    const consumer = async () => {
      let n = 0;
      for (;;) {
        const item = await q.get();
        if (item === null) return n;
        n++;
      }
    };
    const producer = async () => {
      for (let i = 0; i < N_QUEUE; i++) await q.put(i);
      for (let i = 0; i < consumers; i++) await q.put(null);
      return 0;
    };
    const t0 = performance.now();
    const tasks = [loop.createTask(producer)];
    for (let i = 0; i < consumers; i++) tasks.push(loop.createTask(consumer));
    const res = await gather(tasks);
    const ms = performance.now() - t0;
    if (res.reduce((a, b) => a + b, 0) !== N_QUEUE) throw new Error('items lost');
    return rate(N_QUEUE, ms);
  });
}

// fastq has no bounded put: the producer pushes everything and `consumers` workers take items.
// The same program on an unbounded evloop Queue (putNowait, consumers awaiting get) is the
// like-for-like row.
async function fastqRun(consumers) {
  let n = 0;
  const q = fastq.promise(async (item) => { n++; return item; }, consumers);
  const t0 = performance.now();
  for (let i = 0; i < N_QUEUE; i++) q.push(i);
  await q.drained();
  const ms = performance.now() - t0;
  if (n !== N_QUEUE) throw new Error('items lost');
  return rate(N_QUEUE, ms);
}

function queueUnboundedAsync(consumers) {
  return run(async () => {
    const loop = getRunningLoop();
    const q = new Queue();
    let n = 0;
    const consumer = async () => {
      for (;;) {
        const item = await q.get();
        if (item === null) return;
        n++;
      }
    };
    const t0 = performance.now();
    const tasks = [];
    for (let i = 0; i < consumers; i++) tasks.push(loop.createTask(consumer));
    for (let i = 0; i < N_QUEUE; i++) q.putNowait(i);
    for (let i = 0; i < consumers; i++) q.putNowait(null);
    await gather(tasks);
    const ms = performance.now() - t0;
    if (n !== N_QUEUE) throw new Error('items lost');
    return rate(N_QUEUE, ms);
  });
}

function python(kind) {
  try {
    const out = execFileSync('/usr/bin/python3', [path.join(__dirname, 'sync_asyncio.py'), kind], { encoding: 'utf8', timeout: 300000 });
    return JSON.parse(out);
  } catch (e) {
    return { error: String(e.message).split('\n')[0] };
  }
}

const fmt = (x) => (typeof x === 'number' ? (x >= 1e6 ? (x / 1e6).toFixed(2) + 'M' : (x / 1e3).toFixed(1) + 'k') : 'n/a');
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' ? (a / b).toFixed(2) + 'x' : 'n/a');
// The machine is shared and noisy: every side reports its best run (one warm-up, then the best
// of 5 for evloop and fastq; the best of 2 whole runs of the Python script).
async function measure(fn) {
  await fn();
  let best = 0;
  for (let i = 0; i < 5; i++) best = Math.max(best, await fn());
  return best;
}

function bestOf(a, b) {
  if (a.error) return b;
  if (b.error) return a;
  const out = {};
  for (const k of Object.keys(a)) out[k] = Math.max(a[k], b[k] ?? 0);
  return out;
}

async function main() {
  const py = { asyncio: bestOf(python('asyncio'), python('asyncio')), uvloop: bestOf(python('uvloop'), python('uvloop')) };
  const rows = [
    ['Lock uncontended acquire+release/s', 'lock_uncontended', lockUncontendedGen, lockUncontendedAsync],
    [`Lock contended (${TASKS} tasks) acquire+release/s`, 'lock_contended', lockContendedGen, lockContendedAsync],
    [`Queue(${MAXSIZE}) put+get/s, 1 consumer`, 'queue_1', () => queueGen(1), () => queueAsync(1)],
    [`Queue(${MAXSIZE}) put+get/s, ${TASKS} consumers`, 'queue_16', () => queueGen(TASKS), () => queueAsync(TASKS)],
  ];
  console.log('sync bench (ops/s, higher is better; best run of each side; gen = generator tasks, async = async-function tasks)');
  console.log(['case', 'evloop gen', 'evloop async', 'asyncio', 'gen/asyncio', 'async/asyncio', 'uvloop', 'gen/uvloop', 'async/uvloop'].join(' | '));
  for (const [label, key, gen, asyncFn] of rows) {
    const g = await measure(gen);
    const a = await measure(asyncFn);
    const pa = py.asyncio[key];
    const pu = py.uvloop[key];
    console.log([label, fmt(g), fmt(a), fmt(pa), ratio(g, pa), ratio(a, pa), fmt(pu), ratio(g, pu), ratio(a, pu)].join(' | '));
  }
  console.log('\nunbounded queue, producer puts everything, consumers take (evloop async tasks vs fastq.promise workers)');
  console.log(['consumers', 'evloop Queue', 'fastq', 'evloop/fastq'].join(' | '));
  for (const c of [1, TASKS]) {
    const e = await measure(() => queueUnboundedAsync(c));
    const f = await measure(() => fastqRun(c));
    console.log([c, fmt(e), fmt(f), ratio(e, f)].join(' | '));
  }
  if (py.asyncio.error) console.log('asyncio:', py.asyncio.error);
  if (py.uvloop.error) console.log('uvloop:', py.uvloop.error);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
