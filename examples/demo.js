'use strict';
// `npm run demo`: starts the raw evloop echo server (bench/echo-raw.js) and talks to it.
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

const server = spawn(process.execPath, [path.join(__dirname, '..', 'bench', 'echo-raw.js'), '--port', '0'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});

server.stdout.once('data', (line) => {
  const match = /127\.0\.0\.1:(\d+) \((\w+)\)/.exec(String(line));
  if (!match) throw new Error(`unexpected server output: ${line}`);
  const [, port, backend] = match;
  console.log(`evloop echo server (${backend} backend) on 127.0.0.1:${port}`);

  const messages = ['hello, evloop', 'asyncio, for Node.js', 'x'.repeat(100_000)];
  const client = net.connect({ host: '127.0.0.1', port: Number(port) });
  let received = Buffer.alloc(0);
  let index = 0;
  const sendNext = () => client.write(messages[index]);
  client.on('connect', sendNext);
  client.on('data', (chunk) => {
    received = Buffer.concat([received, chunk]);
    const expected = Buffer.from(messages[index]);
    if (received.length < expected.length) return;
    const ok = received.equals(expected);
    const shown = expected.length > 40 ? `${expected.length} bytes` : JSON.stringify(expected.toString());
    console.log(`sent ${shown} -> echoed back ${ok ? 'intact' : 'CORRUPTED'}`);
    if (!ok) process.exitCode = 1;
    received = Buffer.alloc(0);
    if (++index < messages.length) return sendNext();
    client.end();
    server.kill('SIGTERM');
  });
});
server.on('exit', (code, signal) => {
  if (code !== 0 && signal !== 'SIGTERM') {
    console.error(`echo server exited with ${code ?? signal}`);
    process.exitCode = 1;
  }
});
