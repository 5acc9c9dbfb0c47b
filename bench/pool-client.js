'use strict';
// A pooled request/response client: 64 workers share 8 connections to one server; a request is
// a line, its response the line echoed back. evloop's connectionPool (generator workers, with
// pool.use and with acquire/release) against the same client on Node `net` with a plain
// hand-rolled pool (free list + FIFO waiters).
// The server is the `net` echo server in its own process, the same for all. Every client runs
// once per round, the order reversed every other round; each timing starts from a collected heap
// and a short untimed run of the same client (the collection frees the last run's loop and pool,
// and V8 drops the optimized code that referred to them: the warm-up compiles it again).
// Reported: medians over the rounds of requests per second and of the client's CPU time per
// request (all clients are in this process, one at a time), and against the net client the
// median of each round's own ratio (the VM's speed drifts over seconds; a round's ratio cancels
// most of that drift, a ratio of separate medians keeps it). The last line, a Task per request
// that runs the same exchange without a pool, shows what the Task that use() returns costs by
// itself.
// usage: node bench/pool-client.js [--seconds 3] [--rounds 5] [--workers 64] [--conns 8]
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { record } = require('./summary');
const { run, connectionPool, gather, Task } = require('..');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const SECONDS = option('--seconds', 3);
const ROUNDS = option('--rounds', 5);
const WORKERS = option('--workers', 64);
const CONNS = option('--conns', 8);
const REQUEST = Buffer.from('GET /status 0123456789abcdef\n');

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'net-echo-server.js'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.once('error', reject);
    child.stdout.once('data', (line) => resolve({ child, port: Number(/:(\d+)/.exec(String(line))[1]) }));
  });
}

require('v8').setFlagsFromString('--expose-gc');
const collectGarbage = require('vm').runInNewContext('gc');
const WARM_SECONDS = 0.3;

function measure(body) {
  return async (port, seconds) => {
    collectGarbage();
    await body(port, performance.now() + WARM_SECONDS * 1000);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const requests = await body(port, t0 + seconds * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const { user, system } = process.cpuUsage(cpu0);
    return { perSecond: requests / elapsed, cpuUsPerRequest: (user + system) / requests };
  };
}

function* exchange({ reader, writer }) {
  writer.write(REQUEST);
  const line = yield* reader.readLine();
  if (line.length !== REQUEST.length) throw new Error('short response');
}

// `style` 'use': pool.use(fn), a Task per request; 'acquire': acquire / release in try/finally
// inside the worker's own coroutine (no Task per request); 'task': acquire / release in the
// worker, the exchange in an eager Task of its own (the Task's cost without use()).
const evloopClient = (style) =>
  measure((port, deadline) =>
    run(function* () {
      const pool = connectionPool('127.0.0.1', port, { max: CONNS });
      let requests = 0;
      function* worker() {
        while (performance.now() < deadline) {
          if (style === 'use') {
            yield* pool.use(exchange);
          } else if (style === 'task') {
            const conn = yield* pool.acquire();
            try {
              yield* new Task(exchange(conn), { eagerStart: true });
            } finally {
              pool.release(conn);
            }
          } else {
            const conn = yield* pool.acquire();
            try {
              yield* exchange(conn);
            } finally {
              pool.release(conn);
            }
          }
          requests++;
        }
      }
      yield* gather(...Array.from({ length: WORKERS }, worker));
      pool.close();
      return requests;
    }),
  );

const netClient = measure(async (port, deadline) => {
  const idle = [];
  const waiters = [];
  const sockets = await Promise.all(
    Array.from({ length: CONNS }, () => new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(socket));
      socket.once('error', reject);
      let pending = '';
      socket.on('data', (chunk) => {
        pending += chunk;
        if (!pending.endsWith('\n')) return;
        const done = socket.onResponse;
        socket.onResponse = null;
        const line = pending;
        pending = '';
        done(line);
      });
    })),
  );
  idle.push(...sockets);
  const acquire = () => (idle.length > 0 ? Promise.resolve(idle.pop()) : new Promise((resolve) => waiters.push(resolve)));
  const release = (socket) => {
    const next = waiters.shift();
    if (next) next(socket);
    else idle.push(socket);
  };
  let requests = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const socket = await acquire();
      try {
        const line = await new Promise((resolve) => {
          socket.onResponse = resolve;
          socket.write(REQUEST);
        });
        if (line.length !== REQUEST.length) throw new Error('short response');
      } finally {
        release(socket);
      }
      requests++;
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  for (const socket of sockets) socket.destroy();
  return requests;
});

async function main() {
  const { child, port } = await startServer();
  const clients = {
    'node net + plain pool': netClient,
    'evloop pool.use(fn)': evloopClient('use'),
    'evloop acquire/release': evloopClient('acquire'),
    'evloop acquire + Task': evloopClient('task'),
  };
  try {
    const results = {};
    for (const [name, client] of Object.entries(clients)) {
      await client(port, 0.5); // warm-up
      results[name] = [];
    }
    const names = Object.keys(clients);
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of round % 2 === 0 ? names : names.slice().reverse()) results[name].push(await clients[name](port, SECONDS));
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const net = names[0];
    const rate = (name) => median(results[name].map((r) => r.perSecond));
    const cpu = (name) => median(results[name].map((r) => r.cpuUsPerRequest));
    // Each round's own ratios to the net client's timing in that round, their median.
    const rateRatio = (name) => median(results[name].map((r, k) => r.perSecond / results[net][k].perSecond));
    const cpuRatio = (name) => median(results[name].map((r, k) => results[net][k].cpuUsPerRequest / r.cpuUsPerRequest));
    console.log(`pooled request/response (${WORKERS} workers, ${CONNS} connections, ${SECONDS} s, ${ROUNDS} rounds in alternating order; ratios: median of each round's own):`);
    const use = names.find((n) => n.includes('use'));
    if (use) record('pooled request/response, pool.use(fn) / net client', rateRatio(use), 1.2, `CPU efficiency ${cpuRatio(use).toFixed(2)}x`);
    for (const name of names) {
      console.log(
        `  ${name.padEnd(24)} ${rate(name).toFixed(0).padStart(7)} req/s  ${rateRatio(name).toFixed(2)}x net's rate  ` +
          `${cpu(name).toFixed(1).padStart(5)} us client CPU/request  ${cpuRatio(name).toFixed(2)}x net's CPU efficiency`,
      );
    }
  } finally {
    child.kill('SIGTERM');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
