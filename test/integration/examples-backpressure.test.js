'use strict';
// The example protocol server (examples/graceful-shutdown.js, the echo server docs/shutdown.md
// shows) applies back-pressure: clients that send fast and read slowly must not make it hold
// what they send. It runs as its own process; 8 clients push 128 MiB through it while reading
// 64 KiB per timer tick, every byte must come back in order, and the server's peak RSS (VmHWM)
// must grow by far less than what was sent. (The same server without pauseWriting /
// resumeWriting grows by about what the clients send.)
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'graceful-shutdown.js');
const CLIENTS = 8;
const PER_CLIENT = 16 * 1024 * 1024;
const BOUND = 64 * 1024 * 1024;

function memoryOf(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const bytes = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)[1]) * 1024;
  return { rss: bytes('VmRSS'), peak: bytes('VmHWM') };
}

const byteAt = (position) => position % 253;

function slowClient(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let sent = 0;
    let received = 0;
    const send = () => {
      while (sent < PER_CLIENT) {
        const chunk = Buffer.allocUnsafe(256 * 1024);
        for (let i = 0; i < chunk.length; i++) chunk[i] = byteAt(sent + i);
        sent += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', send);
      }
    };
    socket.once('connect', send).on('error', reject);
    socket.pause();
    const reader = setInterval(() => {
      const data = socket.read(Math.min(64 * 1024, socket.readableLength || 64 * 1024));
      if (data === null) return;
      for (let i = 0; i < data.length; i += 1021) {
        if (data[i] !== byteAt(received + i)) {
          clearInterval(reader);
          socket.destroy();
          return reject(new Error(`byte ${received + i} came back wrong`));
        }
      }
      received += data.length;
      if (received === PER_CLIENT) {
        clearInterval(reader);
        socket.end();
        resolve(received);
      }
    }, 1);
  });
}

test('the example echo server does not hold what slow readers send', { timeout: 120_000 }, async (t) => {
  const child = spawn(process.execPath, [EXAMPLE], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  const port = await new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`exited (${code}): ${out}`)));
  });
  const before = memoryOf(child.pid);
  const echoed = await Promise.all(Array.from({ length: CLIENTS }, () => slowClient(port)));
  assert.deepEqual(echoed, Array(CLIENTS).fill(PER_CLIENT));
  const growth = memoryOf(child.pid).peak - before.rss;
  t.diagnostic(`peak RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB for ${(CLIENTS * PER_CLIENT) / 2 ** 20} MiB sent`);
  assert.ok(growth < BOUND, `the server grew ${(growth / 2 ** 20).toFixed(1)} MiB (bound ${BOUND / 2 ** 20} MiB)`);
});
