'use strict';
// Acquire + release per second: evloop's Pool against generic-pool, on the same trivial
// resource (the pools' own overhead is what is measured; connections are made once).
//   node bench/pool.js [--ops 200000] [--rounds 7]
// Two shapes: one worker reusing one idle resource (the fast path), and 16 workers sharing
// 4 resources (every acquire past the fourth waits in the FIFO queue).
// Each round runs every contender once, in turn, the order reversed every other round, each
// timing from a collected heap. Reported per contender: the medians over the rounds of the rate
// (wall clock) and of the CPU time per operation, and against the first contender the median of
// each round's own ratio (a shared VM's speed drifts over seconds by more than the pools differ;
// a round's timings run within a second of each other, so its ratio cancels most of the drift
// that a ratio of separate medians keeps).
// Two reference lines bound what a pool can reach on each await path: the least a pool can do
// (a free list and an array of waiters, no bookkeeping) on evloop Futures, and on native promises.
const genericPool = require('generic-pool');
const { record } = require('./summary');
const { barePool, futureAwaitables, idleUseRounds } = require('./pool-shapes');
const { run, Pool, getRunningLoop, gather } = require('..');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const OPS = arg('ops', 200000);
const ROUNDS = arg('rounds', 7);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Every timing starts from a fully collected heap: otherwise a contender pays for collecting what
// the one before it left (generic-pool's promises, a closed loop's tasks), and a major GC landing
// in one ~100 ms timing and not the next is a swing of its own. That collection also frees the
// last run's loop and pool, and V8 throws away the optimized code that referred to them (a
// hundred deoptimizations, 'weak objects'): a warm-up of a fifth of the operations after it, untimed,
// compiles that code again before the timing starts (without it, the first 10,000 use() calls
// after the collection cost 5-10x the later ones).
require('v8').setFlagsFromString('--expose-gc');
const collectGarbage = require('vm').runInNewContext('gc');

/** Collects the heap, runs a fifth of `n` operations untimed, then times `ops(n)`: { rate, cpuNs } (CPU ns per op). */
async function timed(n, ops) {
  collectGarbage();
  await ops(Math.floor(n / 5));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await ops(n);
  return result(n, t0, cpu0);
}

/** timed() for a generator coroutine, `ops(n)` a future to yield* on. */
function* timedGen(n, ops) {
  collectGarbage();
  yield* ops(Math.floor(n / 5));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  yield* ops(n);
  return result(n, t0, cpu0);
}

/** Runs every side once per round (reversed every other round, after a warm-up round); per side, the rounds' results. */
async function rounds(sides, before = async () => {}) {
  const results = sides.map(() => []);
  for (let round = 0; round <= ROUNDS; round++) {
    const order = sides.map((_, i) => i);
    if (round % 2 === 0) order.reverse();
    for (const i of order) {
      await before();
      const r = await sides[i]();
      if (round > 0) results[i].push(r);
    }
  }
  return results;
}
/** Median over the rounds of side i's own ratio to side 0 in the same round (`better(a, b)`: how much b beats a). */
const roundRatio = (results, i, better) => median(results[i].map((r, k) => better(results[0][k], r)));
const rateRatio = (a, b) => b.rate / a.rate;
const cpuRatio = (a, b) => a.cpuNs / b.cpuNs;

let nextId = 0;
const makeResource = () => ({ id: nextId++ });

/** Runs `workers` async loops of acquire/release; returns { rate, cpuNs } (CPU ns per op). */
function timeAwait(pool, workers, awaitRelease) {
  const per = Math.floor(OPS / workers);
  const ops = (n) =>
    Promise.all(
      Array.from({ length: workers }, async () => {
        for (let i = Math.ceil(n / workers); i > 0; i--) {
          const r = await pool.acquire();
          if (awaitRelease) await pool.release(r);
          else pool.release(r);
        }
      }),
    );
  return timed(per * workers, ops);
}

function result(ops, t0, cpu0) {
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const { user, system } = process.cpuUsage(cpu0);
  return { rate: ops / secs, cpuNs: ((user + system) * 1000) / ops };
}

const evloopAsync = (workers, max) =>
  run(async () => {
    const pool = new Pool({ create: makeResource, max });
    const r = await timeAwait(pool, workers, false);
    pool.close();
    return r;
  });

const evloopGenerator = (workers, max) =>
  run(function* () {
    const pool = new Pool({ create: makeResource, max });
    const loop = getRunningLoop();
    const ops = (n) =>
      gather(
        ...Array.from({ length: workers }, () =>
          loop.createTask(
            (function* () {
              for (let i = Math.ceil(n / workers); i > 0; i--) {
                const r = yield* pool.acquire();
                pool.release(r);
              }
            })(),
          ),
        ),
      );
    const r = yield* timedGen(Math.floor(OPS / workers) * workers, ops);
    pool.close();
    return r;
  });

async function generic(workers, max) {
  const pool = genericPool.createPool(
    { create: async () => makeResource(), destroy: async () => {} },
    { max, min: 0 },
  );
  const r = await timeAwait(pool, workers, true);
  await pool.drain();
  await pool.clear();
  return r;
}

const bareFutures = (workers, max) =>
  run(async () => {
    const { settled, waiting } = futureAwaitables(getRunningLoop());
    return timeAwait(barePool(max, makeResource, settled, waiting), workers, false);
  });

const barePromises = (workers, max) =>
  run(async () => {
    const settled = (v) => Promise.resolve(v);
    const waiting = (waiters) => new Promise((resolve) => waiters.push(resolve));
    return timeAwait(barePool(max, makeResource, settled, waiting), workers, false);
  });

const contenders = [
  ['generic-pool (await)', generic],
  ['evloop Pool (await)', evloopAsync],
  ['evloop Pool (yield*)', evloopGenerator],
  ['bare pool on evloop Futures (await)', bareFutures],
  ['bare pool on native promises (await)', barePromises],
];

// use(fn) with an async fn from an async function, one worker, the connection idle: what use()
// costs beyond acquire / await fn / release written out (the issue asks for no loop pass per call).
const useAsync = (style) => () =>
  run(async () => {
    const pool = new Pool({ create: makeResource, max: 1 });
    const ops = (n) => idleUseRounds(pool, style, n);
    const r = await timed(Math.floor(OPS / 4), ops);
    pool.close();
    return r;
  });

async function main() {
  console.log(`pool acquire+release, ${OPS} ops per round, ${ROUNDS} rounds (after a warm-up round); ratios: median of each round's own`);
  {
    const sides = [
      ['await acquire / await fn / release', useAsync('acquire')],
      ['await pool.use(async fn)', useAsync('use')],
    ];
    const results = await rounds(sides.map((s) => s[1]));
    console.log('\nuse(async fn), 1 worker, max 1 (idle connection)');
    for (let i = 0; i < sides.length; i++) {
      const cpu = median(results[i].map((r) => r.cpuNs));
      console.log(`  ${sides[i][0].padEnd(38)} ${cpu.toFixed(0).padStart(5)} ns CPU/op  ratio ${roundRatio(results, i, cpuRatio).toFixed(2)}x`);
    }
  }
  for (const [label, workers, max] of [
    ['1 worker, max 1 (idle fast path)', 1, 1],
    ['16 workers, max 4 (waiting queue)', 16, 4],
  ]) {
    // A loop's promise hooks go a macrotask after its run() ends: generic-pool must not pay for them.
    const settle = async () => {
      await new Promise(setImmediate);
      await new Promise(setImmediate);
    };
    const results = await rounds(
      contenders.map(([, f]) => () => f(workers, max)),
      settle,
    );
    console.log(`\n${label}`);
    if (workers === 16) {
      record('Pool acquire+release with await, 16 workers / generic-pool', roundRatio(results, 1, rateRatio), 2, `CPU/op ratio ${roundRatio(results, 1, cpuRatio).toFixed(2)}x`);
    }
    for (let i = 0; i < contenders.length; i++) {
      const rate = median(results[i].map((r) => r.rate));
      const cpu = median(results[i].map((r) => r.cpuNs));
      console.log(
        `  ${contenders[i][0].padEnd(38)} ${(rate / 1e6).toFixed(2)} M/s  ratio ${roundRatio(results, i, rateRatio).toFixed(2)}x   ` +
          `${cpu.toFixed(0).padStart(5)} ns CPU/op  ratio ${roundRatio(results, i, cpuRatio).toFixed(2)}x`,
      );
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
