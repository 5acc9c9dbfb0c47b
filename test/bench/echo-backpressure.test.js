'use strict';
// bench/echo-server.js is the first server a reader copies, so it must not teach unbounded
// buffering: clients that send fast and read slowly must not grow the server by what they send.
// The server (each --api) runs as its own process; 16 such clients push 256 MiB through it, and
// its peak RSS (VmHWM) must grow by well under that, while every byte still comes back in order.
// (Measured: the protocol server without pauseReading grows ~214 MiB here; with it ~36 MiB, the
// streams servers ~64 MiB — garbage that V8 collects on its own schedule, not held data.)
const { test } = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const BENCH = path.join(__dirname, '..', '..', 'bench');
const SERVERS = {
  'echo-server.js --api protocol': [path.join(BENCH, 'echo-server.js'), '--api', 'protocol'],
  'echo-server.js --api buffered': [path.join(BENCH, 'echo-server.js'), '--api', 'buffered'],
  'echo-server.js --api streams': [path.join(BENCH, 'echo-server.js'), '--api', 'streams'],
  'echo-server.js --api async': [path.join(BENCH, 'echo-server.js'), '--api', 'async'],
  'net-echo-server.js': [path.join(BENCH, 'net-echo-server.js')],
};
const CLIENTS = 16;
const TOTAL = 16 * 1024 * 1024; // sent by each client
const BOUND = 112 * 1024 * 1024; // allowed growth of the server's peak RSS (of 256 MiB sent)

function memory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)[1]) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

async function startServer(argv) {
  const child = spawn(process.execPath, [...argv, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (c) => {
      out += c;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${out}`)));
  });
  return { child, port };
}

function pattern(offset, length) {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (offset + i) % 251;
  return b;
}

// Sends TOTAL bytes as fast as the socket takes them; reads at most 64 KiB per timer tick (a
// slow reader), checking echoed bytes against what was sent at that position.
function slowReader(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = 0;
    let sent = 0;
    const CHUNK = 1024 * 1024;
    const pump = () => {
      while (sent < TOTAL) {
        const piece = pattern(sent, CHUNK);
        sent += CHUNK;
        if (!socket.write(piece)) return socket.once('drain', pump);
      }
    };
    socket.on('connect', pump);
    socket.on('error', reject);
    socket.pause();
    const tick = setInterval(() => {
      const data = socket.read(Math.min(65536, socket.readableLength || 65536));
      if (data === null) return;
      for (let i = 0; i < data.length; i += 4093) {
        if (data[i] !== (received + i) % 251) {
          clearInterval(tick);
          socket.destroy();
          return reject(new Error(`byte ${received + i} came back wrong`));
        }
      }
      received += data.length;
      if (received === TOTAL) {
        clearInterval(tick);
        socket.end();
        resolve(received);
      }
    }, 2);
  });
}

for (const [name, argv] of Object.entries(SERVERS)) {
  test(`${name}: clients that read slowly do not grow the server by what they send`, async (t) => {
    const { child, port } = await startServer(argv);
    t.after(() => child.kill('SIGKILL'));
    const before = memory(child.pid);
    const echoed = await Promise.all(Array.from({ length: CLIENTS }, () => slowReader(port)));
    assert.deepStrictEqual(echoed, Array(CLIENTS).fill(TOTAL));
    const after = memory(child.pid);
    const growth = after.peak - before.rss;
    t.diagnostic(`peak RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(growth < BOUND, `server peak RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB for ${(CLIENTS * TOTAL) / 2 ** 20} MiB sent (bound ${BOUND / 2 ** 20} MiB)`);
  });
}
