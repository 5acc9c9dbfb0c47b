'use strict';
// A StreamReader that waits for more data keeps what it holds; when that is a few bytes of the
// transport's shared 512 KiB read slab, it must not pin the slab (issue: 2,000 idle partial lines
// between bulk echoes pinned ~1 GiB). The server runs in a child with --expose-gc and reports its
// ArrayBuffer memory after a full GC, so the figure is the server's alone.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { spawn } = require('node:child_process');
const readline = require('node:readline');

const SERVER = `
const { run, startServer } = require('evloop');
run(async () => {
  const server = await startServer(async (reader, writer) => {
    for (;;) {
      const line = await reader.readLine();
      if (line.length === 0) break;
      if (line.toString() === 'stats\\n') {
        global.gc();
        writer.write(Buffer.from(JSON.stringify(process.memoryUsage()) + '\\n'));
      } else writer.write(line);
      await writer.drain();
    }
    writer.close();
  }, '127.0.0.1', 0, { limit: 1 << 20 });
  console.log(server.address().port);
  await server.waitClosed();
});
`;

function lineReader(sock) {
  let buf = Buffer.alloc(0);
  const waiting = [];
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (let i; waiting.length && (i = buf.indexOf(10)) >= 0; ) {
      const line = buf.subarray(0, i + 1);
      buf = buf.subarray(i + 1);
      waiting.shift()(line);
    }
  });
  return () => new Promise((resolve) => {
    const i = buf.indexOf(10);
    if (i >= 0) {
      const line = buf.subarray(0, i + 1);
      buf = buf.subarray(i + 1);
      resolve(line);
    } else waiting.push(resolve);
  });
}

const connect = (port) => new Promise((resolve, reject) => {
  const s = net.connect(port, '127.0.0.1', () => resolve(s));
  s.once('error', reject);
});

test('partial lines held between bulk echoes do not pin read slabs', async () => {
  const child = spawn(process.execPath, ['--expose-gc', '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = Number(await new Promise((resolve) => readline.createInterface({ input: child.stdout }).once('line', resolve)));
    const control = await connect(port);
    const readControl = lineReader(control);
    const stats = async () => {
      control.write('stats\n');
      return JSON.parse(String(await readControl())).arrayBuffers;
    };
    const bulk = await connect(port);
    const readBulk = lineReader(bulk);
    const payload = Buffer.alloc(256 * 1024, 'x');
    payload[payload.length - 1] = 10;

    const before = await stats();
    const idle = [];
    const HOLDERS = 600;
    for (let i = 0; i < HOLDERS; i++) {
      const s = await connect(port);
      idle.push(s);
      s.write('0123456789'); // a partial line the server's reader keeps while it waits
      // A bulk echo between two partial lines moves the server on to fresh slab space.
      bulk.write(payload);
      assert.equal((await readBulk()).length, payload.length);
    }
    const after = await stats();
    const held = after - before;
    // Unfixed, each partial line pins its own 512 KiB slab: 600 × 512 KiB = 300 MiB.
    assert.ok(held < 40 * 1024 * 1024, `server ArrayBuffer memory grew by ${(held / 1048576).toFixed(1)} MiB for ${HOLDERS * 10} bytes held`);

    // The held bytes are intact: finishing each line echoes it whole.
    const s = idle[0];
    const read = lineReader(s);
    s.write('!\n');
    assert.equal(String(await read()), '0123456789!\n');
    for (const sock of idle) sock.destroy();
    bulk.destroy();
    control.destroy();
  } finally {
    child.kill();
  }
});
