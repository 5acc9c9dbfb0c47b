'use strict';
// The echo servers' CPU per message with the machine's noise taken out, for before/after
// comparisons: 64 raw client sockets in the same process drive an evloop echo server on
// 127.0.0.1, one Node turn per round of 64 messages (so every batch is 64 connections), and the
// process's CPU time per message is the figure (the driver's raw send/recv included: the same on
// both sides). With EVLOOP_BASE=/path/to/another/built/checkout, both builds run in this one
// process, alternating, and the paired median difference is printed; the rig (`npm run
// bench:echo`) has the end-to-end figures, but on a shared 2-core machine its noise is larger
// than a few percent.
// usage: [EVLOOP_BASE=DIR] node bench/echo-inprocess.js [--api protocol|streams|async] [--conns 64] [--rounds 12] [--seconds 1.5]
const path = require('node:path');
const { echoAsync, echoGenerator } = require('./echo-clients');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const api = option('--api', 'protocol');
const CONNS = Number(option('--conns', 64));
const ROUNDS = Number(option('--rounds', 12));
const SECONDS = Number(option('--seconds', 1.5));
const SIZE = 64;
if (!['protocol', 'streams', 'async'].includes(api) || !(CONNS >= 1 && CONNS <= 1000) || !(ROUNDS >= 1) || !(SECONDS > 0)) {
  console.error('usage: [EVLOOP_BASE=DIR] node bench/echo-inprocess.js [--api protocol|streams|async] [--conns 64] [--rounds 12] [--seconds 1.5]');
  process.exit(2);
}

function once(root) {
  const { run, getRunningLoop, startServer, sleep } = require(path.join(root, 'dist', 'index.js'));
  const { binding } = require(path.join(root, 'dist', 'internal.js'));
  class Echo {
    connectionMade(transport) {
      this.transport = transport;
    }
    dataReceived(data) {
      this.transport.write(data);
    }
  }
  return run(function* () {
    const loop = getRunningLoop();
    const server = api === 'protocol'
      ? yield* loop.createServer(() => new Echo(), '127.0.0.1', 0)
      : yield* startServer(api === 'async' ? echoAsync : echoGenerator, '127.0.0.1', 0);
    const port = server.address().port;
    const fds = [];
    for (let i = 0; i < CONNS; i++) {
      const fd = binding.socket('inet', 'stream');
      binding.connect(fd, '127.0.0.1', port);
      fds.push(fd);
    }
    yield* sleep(0.05); // the connects complete and are accepted
    for (const fd of fds) binding.setsockopt(fd, 'TCP_NODELAY', 1);
    const msg = Buffer.alloc(SIZE, 1);
    const rbuf = Buffer.alloc(65536);
    const got = new Array(CONNS).fill(SIZE);
    const done = loop.createFuture();
    const warmEnd = performance.now() + 300;
    const end = warmEnd + SECONDS * 1000;
    let msgs = 0;
    let cpu0 = null;
    // One Node turn: read what came back; once every connection has its echo, send the next
    // round. The server's poller delivers between turns (Node's poll phase, before setImmediate).
    function turn() {
      let all = true;
      for (let i = 0; i < CONNS; i++) {
        if (got[i] >= SIZE) continue;
        const n = binding.recv(fds[i], rbuf, 0, rbuf.length);
        if (n > 0) got[i] += n;
        if (got[i] < SIZE) all = false;
      }
      if (all) {
        if (cpu0 !== null) msgs += CONNS;
        for (let i = 0; i < CONNS; i++) {
          got[i] = 0;
          binding.send(fds[i], msg, 0, SIZE);
        }
      }
      const now = performance.now();
      if (cpu0 === null && now >= warmEnd) {
        cpu0 = process.cpuUsage();
        msgs = 0;
      }
      if (cpu0 !== null && now >= end) {
        const used = process.cpuUsage(cpu0);
        done.setResult((used.user + used.system) / msgs);
        return;
      }
      setImmediate(turn);
    }
    turn();
    const usPerMsg = yield* done;
    for (const fd of fds) binding.close(fd);
    server.close();
    return usPerMsg;
  });
}

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

(async () => {
  const builds = { this: path.resolve(__dirname, '..') };
  if (process.env.EVLOOP_BASE) builds.base = path.resolve(process.env.EVLOOP_BASE);
  const names = Object.keys(builds);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of r % 2 ? [...names].reverse() : names) results[name].push(await once(builds[name]));
  }
  const line = `${api}, ${CONNS} connection(s), ${ROUNDS} rounds × ${SECONDS} s: CPU µs per message (driver included)`;
  if (!builds.base) {
    console.log(`${line}: ${median(results.this).toFixed(2)}`);
    return;
  }
  const saved = results.base.map((b, i) => b - results.this[i]);
  console.log(`${line}: this ${median(results.this).toFixed(2)}, base ${median(results.base).toFixed(2)}; ` +
    `this saves ${median(saved).toFixed(2)} (paired median), less in ${saved.filter((s) => s > 0).length} of ${ROUNDS} rounds`);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
