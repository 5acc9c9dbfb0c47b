'use strict';
// A pooled request/response client: 64 workers share 8 connections to one server; a request is
// a line, its response the line echoed back. evloop's connectionPool (generator workers, with
// pool.use and with acquire/release) against the same client on Node `net` with a plain
// hand-rolled pool (free list + FIFO waiters).
// The server is in its own process, the same for all clients: evloop's protocol echo server by
// default, the cheapest server here, so that the clients, not the server, set the rate (with the
// `net` echo server, `--server net`, a busy VM makes the server the bottleneck and every client
// reads the server's rate; its CPU share is printed to show which side was saturated). Every client runs
// once per round, the order reversed every other round; each timing starts from a collected heap
// and a short untimed run of the same client (the collection frees the last run's loop and pool,
// and V8 drops the optimized code that referred to them: the warm-up compiles it again).
// Reported: medians over the rounds of requests per second and of the client's CPU time per
// request (all clients are in this process, one at a time), and against the net client the
// median of each round's own ratio (the VM's speed drifts over seconds; a round's ratio cancels
// most of that drift, a ratio of separate medians keeps it). The last line, a Task per request
// that runs the same exchange without a pool, shows what the Task that use() returns costs by
// itself.
// usage: node bench/pool-client.js [--seconds 3] [--rounds 5] [--workers 64] [--conns 8] [--server evloop|net]
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const fs = require('node:fs');
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
const serverArg = process.argv.indexOf('--server');
const SERVER = serverArg > 0 ? process.argv[serverArg + 1] : 'evloop';
const SERVER_SCRIPTS = { evloop: 'echo-server.js', net: 'net-echo-server.js' };
if (!(SERVER in SERVER_SCRIPTS)) {
  console.error(`--server must be one of ${Object.keys(SERVER_SCRIPTS).join(', ')}`);
  process.exit(2);
}

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, SERVER_SCRIPTS[SERVER]), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.once('error', reject);
    child.stdout.once('data', (line) => resolve({ child, port: Number(/:(\d+)/.exec(String(line))[1]) }));
  });
}

require('v8').setFlagsFromString('--expose-gc');
const collectGarbage = require('vm').runInNewContext('gc');
const WARM_SECONDS = 0.3;

// The server's CPU time in seconds, from /proc (user + system clock ticks).
const TICKS_PER_SECOND = 100;
function processCpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return NaN; // no /proc (macOS): the server's share is not shown
  }
}

function measure(body) {
  return async (server, seconds) => {
    collectGarbage();
    await body(server.port, performance.now() + WARM_SECONDS * 1000);
    const cpu0 = process.cpuUsage();
    const serverCpu0 = processCpuSeconds(server.child.pid);
    const t0 = performance.now();
    const requests = await body(server.port, t0 + seconds * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const { user, system } = process.cpuUsage(cpu0);
    const serverShare = (processCpuSeconds(server.child.pid) - serverCpu0) / elapsed;
    return { perSecond: requests / elapsed, cpuUsPerRequest: (user + system) / requests, serverShare };
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
  const server = await startServer();
  const { child } = server;
  const clients = {
    'node net + plain pool': netClient,
    'evloop pool.use(fn)': evloopClient('use'),
    'evloop acquire/release': evloopClient('acquire'),
    'evloop acquire + Task': evloopClient('task'),
  };
  try {
    const results = {};
    for (const [name, client] of Object.entries(clients)) {
      await client(server, 0.5); // warm-up
      results[name] = [];
    }
    const names = Object.keys(clients);
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of round % 2 === 0 ? names : names.slice().reverse()) results[name].push(await clients[name](server, SECONDS));
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const net = names[0];
    const rate = (name) => median(results[name].map((r) => r.perSecond));
    const cpu = (name) => median(results[name].map((r) => r.cpuUsPerRequest));
    const serverShare = (name) => median(results[name].map((r) => r.serverShare));
    // Each round's own ratios to the net client's timing in that round, their median.
    const rateRatio = (name) => median(results[name].map((r, k) => r.perSecond / results[net][k].perSecond));
    const cpuRatio = (name) => median(results[name].map((r, k) => results[net][k].cpuUsPerRequest / r.cpuUsPerRequest));
    console.log(`pooled request/response (${WORKERS} workers, ${CONNS} connections, ${SECONDS} s, ${ROUNDS} rounds in alternating order; ratios: median of each round's own; server: ${SERVER}'s echo server, its CPU in cores):`);
    const use = names.find((n) => n.includes('use'));
    if (use) record('pooled request/response, pool.use(fn) / net client', rateRatio(use), 1.2, `CPU efficiency ${cpuRatio(use).toFixed(2)}x`);
    for (const name of names) {
      console.log(
        `  ${name.padEnd(24)} ${rate(name).toFixed(0).padStart(7)} req/s  ${rateRatio(name).toFixed(2)}x net's rate  ` +
          `${cpu(name).toFixed(1).padStart(5)} us client CPU/request  ${cpuRatio(name).toFixed(2)}x net's CPU efficiency  ` +
          `server ${serverShare(name).toFixed(2)} cores`,
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
