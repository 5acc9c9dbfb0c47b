'use strict';
// Acquire + release per second: evloop's Pool against generic-pool, on the same trivial
// resource (the pools' own overhead is what is measured; connections are made once).
//   node bench/pool.js [--ops 200000] [--rounds 3]
// Two shapes: one worker reusing one idle resource (the fast path), and 16 workers sharing
// 4 resources (every acquire past the fourth waits in the FIFO queue).
const genericPool = require('generic-pool');
const { run, Pool } = require('..');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const OPS = arg('ops', 200000);
const ROUNDS = arg('rounds', 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let nextId = 0;
const makeResource = () => ({ id: nextId++ });

async function evloopAsync(workers, max) {
  return run(async () => {
    const pool = new Pool({ create: makeResource, max });
    const per = Math.floor(OPS / workers);
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: workers }, async () => {
        for (let i = 0; i < per; i++) {
          const r = await pool.acquire();
          pool.release(r);
        }
      }),
    );
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    pool.close();
    return (per * workers) / secs;
  });
}

async function evloopGenerator(workers, max) {
  return run(function* () {
    const { getRunningLoop, gather } = require('..');
    const pool = new Pool({ create: makeResource, max });
    const per = Math.floor(OPS / workers);
    const loop = getRunningLoop();
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
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    pool.close();
    return (per * workers) / secs;
  });
}

async function generic(workers, max) {
  const pool = genericPool.createPool(
    { create: async () => makeResource(), destroy: async () => {} },
    { max, min: 0 },
  );
  const per = Math.floor(OPS / workers);
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = 0; i < per; i++) {
        const r = await pool.acquire();
        await pool.release(r);
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await pool.drain();
  await pool.clear();
  return (per * workers) / secs;
}

async function measure(fn, workers, max) {
  await fn(workers, max); // warm-up
  const rates = [];
  for (let i = 0; i < ROUNDS; i++) rates.push(await fn(workers, max));
  return median(rates);
}

async function main() {
  console.log(`pool acquire+release, ${OPS} ops per round, median of ${ROUNDS} rounds`);
  for (const [label, workers, max] of [
    ['1 worker, max 1 (idle fast path)', 1, 1],
    ['16 workers, max 4 (waiting queue)', 16, 4],
  ]) {
    const g = await measure(generic, workers, max);
    const a = await measure(evloopAsync, workers, max);
    const y = await measure(evloopGenerator, workers, max);
    const fmt = (n) => `${(n / 1e6).toFixed(2)} M/s`;
    console.log(`\n${label}`);
    console.log(`  generic-pool (await)      ${fmt(g)}`);
    console.log(`  evloop Pool (await)       ${fmt(a)}   ratio ${(a / g).toFixed(2)}x`);
    console.log(`  evloop Pool (yield*)      ${fmt(y)}   ratio ${(y / g).toFixed(2)}x`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
