'use strict';
// TLS echo, evloop's server against Node's `tls` server, each in its own process, driven by the
// same Node `tls` client in this process, in the same run:
//   1. ping-pong: 64 connections, each sending 64 B and waiting for the echo before the next;
//   2. bulk: 4 connections each keeping 64 KiB chunks in flight (256 KiB window), echoed back.
// Reported: messages (or MiB) per second, the server's CPU time per message (or per MiB) from
// /proc — the fair figure when the client, also Node, is the bottleneck — and evloop/node ratios.
// usage: node bench/tls.js [--seconds 3] [--only pingpong|bulk]
// EVLOOP_BENCH_PROF=dir writes a --cpu-prof profile of the evloop server there.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const tls = require('node:tls');
const { makeCerts } = require('../test/helpers/tls-certs.js');

const i = process.argv.indexOf('--seconds');
const SECONDS = i > 0 ? Number(process.argv[i + 1]) : 3;
const j = process.argv.indexOf('--only'); // pingpong | bulk (e.g. to profile one of them)
const ONLY = j > 0 ? process.argv[j + 1] : null;
const CLK_TCK = 100;
const certs = makeCerts();

const cpuSeconds = (pid) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
};

function startServer(impl) {
  return new Promise((resolve, reject) => {
    const prof = process.env.EVLOOP_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.EVLOOP_BENCH_PROF}`] : [];
    const child = spawn(process.execPath, [...prof, path.join(__dirname, 'tls-echo-server.js'), '--impl', impl, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, EVLOOP_BENCH_KEY: String(certs.server.key), EVLOOP_BENCH_CERT: String(certs.server.cert) },
    });
    child.once('error', reject);
    child.stdout.once('data', (line) => {
      const m = /127\.0\.0\.1:(\d+)/.exec(String(line));
      if (!m) return reject(new Error(`unexpected server output ${line}`));
      resolve({ child, port: Number(m[1]) });
    });
  });
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: certs.ca }, () => resolve(s));
    s.setNoDelay(true);
    s.once('error', reject);
  });
}

async function runPingPong(port, pid) {
  const sockets = await Promise.all(Array.from({ length: 64 }, () => connect(port)));
  const msg = Buffer.alloc(64, 'x');
  let count = 0;
  let stop = false;
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const timer = setTimeout(() => (stop = true), SECONDS * 1000);
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise((resolve) => {
          let got = 0;
          s.on('data', (d) => {
            got += d.length;
            while (got >= msg.length) {
              got -= msg.length;
              count++;
              if (stop) return resolve();
              s.write(msg);
            }
          });
          s.write(msg);
        }),
    ),
  );
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  for (const s of sockets) s.destroy();
  return { rate: count / seconds, cpuPer: (cpu * 1e6) / count, unit: 'msg/s', cpuUnit: 'us/msg' };
}

async function runBulk(port, pid) {
  const sockets = await Promise.all(Array.from({ length: 4 }, () => connect(port)));
  const chunk = Buffer.alloc(64 * 1024, 'y');
  const WINDOW = 4 * chunk.length;
  let bytes = 0;
  let stop = false;
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const timer = setTimeout(() => (stop = true), SECONDS * 1000);
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise((resolve) => {
          let sent = 0;
          let received = 0;
          const pump = () => {
            while (!stop && sent - received < WINDOW) {
              s.write(chunk);
              sent += chunk.length;
            }
          };
          s.on('data', (d) => {
            received += d.length;
            bytes += d.length;
            if (stop && received >= sent) return resolve();
            pump();
          });
          pump();
        }),
    ),
  );
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  for (const s of sockets) s.destroy();
  const mib = bytes / 1048576;
  return { rate: mib / seconds, cpuPer: (cpu * 1e3) / mib, unit: 'MiB/s', cpuUnit: 'ms/MiB' };
}

async function main() {
  const results = {};
  for (const impl of ['evloop', 'node']) {
    const { child, port } = await startServer(impl);
    results[impl] = {
      pingpong: ONLY === 'bulk' ? null : await runPingPong(port, child.pid),
      bulk: ONLY === 'pingpong' ? null : await runBulk(port, child.pid),
    };
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  console.log('TLS echo (same Node tls client; server CPU from /proc)');
  for (const scenario of ['pingpong', 'bulk']) {
    const e = results.evloop[scenario];
    const n = results.node[scenario];
    if (e === null) continue;
    const label = scenario === 'pingpong' ? '64 B ping-pong, 64 conns' : '64 KiB bulk, 4 conns';
    console.log(`  ${label}`);
    console.log(`    evloop ${e.rate.toFixed(0).padStart(9)} ${e.unit}  ${e.cpuPer.toFixed(2).padStart(7)} ${e.cpuUnit}`);
    console.log(`    node   ${n.rate.toFixed(0).padStart(9)} ${n.unit}  ${n.cpuPer.toFixed(2).padStart(7)} ${n.cpuUnit}`);
    console.log(`    ratio  throughput ${(e.rate / n.rate).toFixed(2)}x   server CPU per unit ${(n.cpuPer / e.cpuPer).toFixed(2)}x (node/evloop)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
