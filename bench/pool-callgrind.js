'use strict';
// A fixed number of pool round trips, for instruction counts (time on a shared machine is too
// noisy to decide by). Run it with N and 2N under callgrind; per round trip = (I(2N) − I(N)) / N:
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/a.out node --single-threaded \
//     bench/pool-callgrind.js <shape> N
// Shapes:
//   use-gen     pool.use(fn) from 64 generator workers on 8 connections, fn a generator whose
//               "response" is a future a loop callback settles (no sockets)
//   use-async   the same with async workers: await pool.use(async fn)
//   await16     bench/pool.js's 16 await-ing workers on 4 resources: acquire + release
//   await16-gc  await16 after what bench/pool.js does before its timings: pools made and dropped
//               one at a time, each with a waiter, a full GC between them (how V8 lays out the
//               Waiter class depends on it: see lib/sync/waiter.ts)
//   bare16      the same 16 workers on bench/pool.js's bare pool on evloop Futures (a free list and
//               an array of waiters, no bookkeeping): what a pool on those futures cannot go below
//   use-await1  bench/pool.js's use(async fn) line: one async worker, an idle connection,
//               await pool.use(async fn)
//   acquire-await1  the same line's other side: await acquire / await fn / release written out
//   net-use     bench/pool-client.js's evloop client (64 generator workers, 8 connections, one
//   net-acquire request line each way to the echo server in a child process), with pool.use or
//               with acquire / release written out
// A warm-up of WARM round trips (default 20000; 60000 for the net shapes) runs before the N.
const { spawn } = require('node:child_process');
const path = require('node:path');
const { run, Pool, connectionPool, getRunningLoop, gather } = require(process.env.EVLOOP || '..');
const { barePool, futureAwaitables, idleUseRounds } = require('./pool-shapes');

const shape = process.argv[2];
const N = Number(process.argv[3]);
const warm = (fallback) => Number(process.env.WARM || fallback);

function useShape(style) {
  const W = 64;
  const per = Math.ceil((N + warm(20000)) / W);
  return run(function* () {
    const loop = getRunningLoop();
    const pool = new Pool({ create: () => ({}), max: 8 });
    const respond = (f) => f.setResult(1);
    function* exchange() {
      const f = loop.createFuture();
      loop.callSoon(respond, f);
      return yield* f;
    }
    async function exchangeAsync() {
      const f = loop.createFuture();
      loop.callSoon(respond, f);
      return await f;
    }
    const tasks = [];
    for (let w = 0; w < W; w++) {
      tasks.push(
        style === 'gen'
          ? loop.createTask(
              (function* () {
                for (let i = 0; i < per; i++) yield* pool.use(exchange);
              })(),
            )
          : loop.createTask(async () => {
              for (let i = 0; i < per; i++) await pool.use(exchangeAsync);
            }),
      );
    }
    yield* gather(...tasks);
    pool.close();
  });
}

function await16() {
  const W = 16;
  const per = Math.ceil((N + warm(20000)) / W);
  let id = 0;
  return run(async () => {
    const pool = new Pool({ create: () => ({ id: id++ }), max: 4 });
    await Promise.all(
      Array.from({ length: W }, async () => {
        for (let i = 0; i < per; i++) {
          const r = await pool.acquire();
          pool.release(r);
        }
      }),
    );
    pool.close();
  });
}

async function await16gc() {
  require('v8').setFlagsFromString('--expose-gc');
  const collectGarbage = require('vm').runInNewContext('gc');
  for (let i = 0; i < 8; i++) {
    await run(async () => {
      const pool = new Pool({ create: () => ({}), max: 1 });
      pool.release(await pool.acquire());
      pool.close();
    });
    collectGarbage();
  }
  return await16();
}

function bare16() {
  const W = 16;
  const per = Math.ceil((N + warm(20000)) / W);
  let id = 0;
  return run(async () => {
    const { settled, waiting } = futureAwaitables(getRunningLoop());
    const pool = barePool(4, () => ({ id: id++ }), settled, waiting);
    await Promise.all(
      Array.from({ length: W }, async () => {
        for (let i = 0; i < per; i++) {
          const r = await pool.acquire();
          pool.release(r);
        }
      }),
    );
  });
}

function useAwait1(style) {
  const n = N + warm(20000);
  return run(async () => {
    const pool = new Pool({ create: () => ({ id: 1 }), max: 1 });
    await idleUseRounds(pool, style, n);
    pool.close();
  });
}

function netShape(style) {
  const W = 64;
  const per = Math.ceil((N + warm(60000)) / W);
  const REQUEST = Buffer.from('GET /status 0123456789abcdef\n');
  const child = spawn(process.execPath, [path.join(__dirname, 'net-echo-server.js'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (line) => {
      const port = Number(/:(\d+)/.exec(String(line))[1]);
      function* exchange({ reader, writer }) {
        writer.write(REQUEST);
        const response = yield* reader.readLine();
        if (response.length !== REQUEST.length) throw new Error('short response');
      }
      run(function* () {
        const pool = connectionPool('127.0.0.1', port, { max: 8 });
        function* worker() {
          for (let i = 0; i < per; i++) {
            if (style === 'use') {
              yield* pool.use(exchange);
            } else {
              const conn = yield* pool.acquire();
              try {
                yield* exchange(conn);
              } finally {
                pool.release(conn);
              }
            }
          }
        }
        yield* gather(...Array.from({ length: W }, worker));
        pool.close();
      })
        .then(resolve, reject)
        .finally(() => child.kill('SIGTERM'));
    });
  });
}

const shapes = {
  'use-gen': () => useShape('gen'),
  'use-async': () => useShape('async'),
  await16,
  'await16-gc': await16gc,
  bare16,
  'use-await1': () => useAwait1('use'),
  'acquire-await1': () => useAwait1('acquire'),
  'net-use': () => netShape('use'),
  'net-acquire': () => netShape('acquire'),
};
if (!(shape in shapes) || !(N > 0)) {
  console.error(`usage: node bench/pool-callgrind.js <${Object.keys(shapes).join('|')}> N`);
  process.exit(2);
}
shapes[shape]().catch((err) => {
  console.error(err);
  process.exit(1);
});
