'use strict';
// Connection costs, evloop against Node's `net`, each server in its own process:
//   1. memory per idle connection: server RSS growth with N connections open (default 10 000),
//      each having echoed one byte (so each connection's per-connection state is real);
//   2. connections accepted per second: connect, one message, close, 16 clients at a time, and
//      the server's CPU time per connection (from /proc: the fair figure when the client,
//      also Node, is the bottleneck).
// usage: node bench/connections.js [--conns 10000] [--seconds 3]
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const CONNS = option('--conns', 10000);
const SECONDS = option('--seconds', 3);
const CLK_TCK = 100; // Linux's USER_HZ for /proc/<pid>/stat

const servers = [
  { name: 'evloop', args: [path.join(__dirname, 'echo-server.js'), '--port', '0'] },
  { name: 'node_net', args: [path.join(__dirname, 'net-echo-server.js'), '--port', '0'] },
];

function startServer(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    child.once('error', reject);
    child.stdout.once('data', (line) => {
      const m = /127\.0\.0\.1:(\d+)/.exec(String(line));
      if (!m) return reject(new Error(`unexpected server output ${line}`));
      resolve({ child, port: Number(m[1]) });
    });
  });
}

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const cpuSeconds = (pid) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
};
const settle = (ms) => new Promise((r) => setTimeout(r, ms));

function connectAndEcho(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write('x'));
    s.once('data', () => resolve(s));
    s.once('error', reject);
  });
}

async function idleMemory(port, pid) {
  await settle(300);
  const before = rssKiB(pid);
  const sockets = [];
  for (let opened = 0; opened < CONNS; ) {
    const batch = Math.min(500, CONNS - opened);
    sockets.push(...(await Promise.all(Array.from({ length: batch }, () => connectAndEcho(port)))));
    opened += batch;
  }
  await settle(500);
  const after = rssKiB(pid);
  for (const s of sockets) s.destroy();
  return ((after - before) * 1024) / CONNS;
}

async function acceptRate(port, pid) {
  let done = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const worker = async () => {
    while (performance.now() < deadline) {
      const s = await connectAndEcho(port);
      s.destroy();
      done++;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  return { perSecond: done / elapsed, serverUsPerConn: ((cpuSeconds(pid) - cpu0) * 1e6) / done };
}

async function main() {
  const results = {};
  for (const { name, args } of servers) {
    // A fresh server for each measurement: the rate must not pay for tearing down the idle ones.
    const measure = async (fn) => {
      const { child, port } = await startServer(args);
      try {
        return await fn(port, child.pid);
      } finally {
        child.kill('SIGTERM');
      }
    };
    const bytesPerConn = await measure(idleMemory);
    const rate = await measure(acceptRate);
    results[name] = { bytesPerConn, ...rate };
  }
  const e = results.evloop;
  const n = results.node_net;
  console.log(`memory per idle connection (${CONNS} open, server RSS growth):`);
  console.log(`  evloop   ${(e.bytesPerConn / 1024).toFixed(2)} KiB   node net ${(n.bytesPerConn / 1024).toFixed(2)} KiB   evloop/net ${(e.bytesPerConn / n.bytesPerConn).toFixed(2)}x (lower is better)`);
  console.log(`connections accepted per second (connect, 1 message, close; 16 concurrent Node clients):`);
  console.log(`  evloop   ${e.perSecond.toFixed(0)}/s (${e.serverUsPerConn.toFixed(1)} us server CPU each)   node net ${n.perSecond.toFixed(0)}/s (${n.serverUsPerConn.toFixed(1)} us)   rate ${(e.perSecond / n.perSecond).toFixed(2)}x, server CPU per connection ${(n.serverUsPerConn / e.serverUsPerConn).toFixed(2)}x less`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
