'use strict';
// Acquire + release per second: evloop's Pool against generic-pool, on the same trivial
// resource (the pools' own overhead is what is measured; connections are made once).
//   node bench/pool.js [--ops 200000] [--rounds 5]
// Two shapes: one worker reusing one idle resource (the fast path), and 16 workers sharing
// 4 resources (every acquire past the fourth waits in the FIFO queue).
// Each round runs every contender once, in turn; reported are medians over the rounds of the
// rate (wall clock) and of the CPU time per operation, which a busy machine disturbs less.
// Two reference lines bound what a pool can reach on each await path: the least a pool can do
// (a free list and an array of waiters, no bookkeeping) on evloop Futures, and on native promises.
const genericPool = require('generic-pool');
const { record } = require('./summary');
const { run, Pool, getRunningLoop, gather } = require('..');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const OPS = arg('ops', 200000);
const ROUNDS = arg('rounds', 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let nextId = 0;
const makeResource = () => ({ id: nextId++ });

/** Runs `workers` async loops of acquire/release; returns { rate, cpuNs } (CPU ns per op). */
async function timeAwait(pool, workers, awaitRelease) {
  const per = Math.floor(OPS / workers);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = 0; i < per; i++) {
        const r = await pool.acquire();
        if (awaitRelease) await pool.release(r);
        else pool.release(r);
      }
    }),
  );
  return result(per * workers, t0, cpu0);
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
    const per = Math.floor(OPS / workers);
    const loop = getRunningLoop();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const tasks = Array.from({ length: workers }, () =>
      loop.createTask(
        (function* () {
          for (let i = 0; i < per; i++) {
            const r = yield* pool.acquire();
            pool.release(r);
          }
        })(),
      ),
    );
    yield* gather(...tasks);
    const r = result(per * workers, t0, cpu0);
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

/** The least a pool does: a free list and a FIFO of waiters. `settled(value)` / `waiting()` make the awaitables. */
function barePool(max, settled, waiting) {
  const idle = Array.from({ length: max }, makeResource);
  const waiters = [];
  return {
    acquire: () => (waiters.length === 0 && idle.length !== 0 ? settled(idle.pop()) : waiting(waiters)),
    release(r) {
      const next = waiters.shift();
      if (next !== undefined) next(r);
      else idle.push(r);
    },
  };
}

const bareFutures = (workers, max) =>
  run(async () => {
    const loop = getRunningLoop();
    const settled = (v) => {
      const f = loop.createFuture();
      f.setResult(v);
      return f;
    };
    const waiting = (waiters) => {
      const f = loop.createFuture();
      waiters.push((v) => f.setResult(v));
      return f;
    };
    return timeAwait(barePool(max, settled, waiting), workers, false);
  });

const barePromises = (workers, max) =>
  run(async () => {
    const settled = (v) => Promise.resolve(v);
    const waiting = (waiters) => new Promise((resolve) => waiters.push(resolve));
    return timeAwait(barePool(max, settled, waiting), workers, false);
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
const work = async (r) => {
  await null;
  return r.id;
};
const useAsync = (style) => () =>
  run(async () => {
    const pool = new Pool({ create: makeResource, max: 1 });
    const n = Math.floor(OPS / 4);
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      if (style === 'use') {
        await pool.use(work);
      } else {
        const r = await pool.acquire();
        try {
          await work(r);
        } finally {
          pool.release(r);
        }
      }
    }
    const r = result(n, t0, cpu0);
    pool.close();
    return r;
  });

async function main() {
  console.log(`pool acquire+release, ${OPS} ops per round, median of ${ROUNDS} rounds (after a warm-up round)`);
  {
    const sides = [
      ['await acquire / await fn / release', useAsync('acquire')],
      ['await pool.use(async fn)', useAsync('use')],
    ];
    const rounds = sides.map(() => []);
    for (let round = 0; round <= ROUNDS; round++) {
      for (let i = 0; i < sides.length; i++) {
        const r = await sides[i][1]();
        if (round > 0) rounds[i].push(r);
      }
    }
    console.log('\nuse(async fn), 1 worker, max 1 (idle connection)');
    const cpu = rounds.map((rs) => median(rs.map((r) => r.cpuNs)));
    for (let i = 0; i < sides.length; i++) console.log(`  ${sides[i][0].padEnd(38)} ${cpu[i].toFixed(0).padStart(5)} ns CPU/op  ratio ${(cpu[0] / cpu[i]).toFixed(2)}x`);
  }
  for (const [label, workers, max] of [
    ['1 worker, max 1 (idle fast path)', 1, 1],
    ['16 workers, max 4 (waiting queue)', 16, 4],
  ]) {
    const rounds = contenders.map(() => []);
    for (let round = 0; round <= ROUNDS; round++) {
      for (let i = 0; i < contenders.length; i++) {
        // A loop's promise hooks go a macrotask after its run() ends: generic-pool must not pay for them.
        await new Promise(setImmediate);
        await new Promise(setImmediate);
        const r = await contenders[i][1](workers, max);
        if (round > 0) rounds[i].push(r);
      }
    }
    const rate = rounds.map((rs) => median(rs.map((r) => r.rate)));
    const cpu = rounds.map((rs) => median(rs.map((r) => r.cpuNs)));
    console.log(`\n${label}`);
    if (workers === 16) record('Pool acquire+release with await, 16 workers / generic-pool', rate[1] / rate[0], 2, `CPU/op ratio ${(cpu[0] / cpu[1]).toFixed(2)}x`);
    for (let i = 0; i < contenders.length; i++) {
      console.log(
        `  ${contenders[i][0].padEnd(38)} ${(rate[i] / 1e6).toFixed(2)} M/s  ratio ${(rate[i] / rate[0]).toFixed(2)}x   ` +
          `${cpu[i].toFixed(0).padStart(5)} ns CPU/op  ratio ${(cpu[0] / cpu[i]).toFixed(2)}x`,
      );
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
