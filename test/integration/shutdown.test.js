'use strict';
// examples/graceful-shutdown.js as an operator meets it: started as a process, clients
// connected (one that reads, one that floods and never reads), then SIGINT: the process must
// exit 0 within its deadline, the reading client must see a clean end after its echo.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const { connect } = require('../helpers/tcp-util');

const root = path.join(__dirname, '..', '..');
const example = path.join(root, 'examples', 'graceful-shutdown.js');

function startExample() {
  const child = spawn(process.execPath, [example], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = once(child, 'exit');
  const listening = new Promise((resolve, reject) => {
    child.stdout.on('data', () => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stdout);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`exited early (${code}): ${stdout}${stderr}`)));
  });
  return { child, listening, exited, output: () => stdout + stderr };
}

test('SIGINT with clients connected: stop accepting, close clients under a deadline, exit 0', { timeout: 30_000 }, async () => {
  const { child, listening, exited, output } = startExample();
  const port = await listening;

  // A client that reads: it gets its echo, then a clean end.
  const reader = await connect(port);
  const readerEnded = once(reader, 'end');
  reader.write('ping\n');
  const [echo] = await once(reader, 'data');
  assert.equal(String(echo), 'ping\n');

  // A client that floods and stops reading after its first echo: far more than the kernel's
  // buffers hold is on its way, so its connection cannot be closed gracefully, only aborted.
  const flooder = await connect(port);
  // events.once would reject on the reset this client is due to get.
  const flooderClosed = new Promise((resolve) => flooder.once('close', resolve));
  flooder.write(Buffer.alloc(32 * 1024 * 1024));
  await once(flooder, 'data');
  flooder.pause();

  child.kill('SIGINT');
  const [code, signal] = await exited;
  assert.equal(signal, null, output());
  assert.equal(code, 0, output());
  assert.match(output(), /SIGINT: stopped/);
  await readerEnded;
  reader.destroy();
  // Aborted, not closed gracefully: its queue could never be flushed.
  assert.equal(await flooderClosed, true, 'the flooding client was reset');

  // Nothing listens any more.
  await assert.rejects(connect(port), { code: 'ECONNREFUSED' });
});

test('SIGTERM with no client: exits 0 at once', { timeout: 30_000 }, async () => {
  const { child, listening, exited, output } = startExample();
  await listening;
  child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, output());
  assert.match(output(), /SIGTERM: stopped/);
});

test('docs/shutdown.md shows examples/graceful-shutdown.js as it is', () => {
  const doc = fs.readFileSync(path.join(root, 'docs', 'shutdown.md'), 'utf8');
  assert.ok(doc.includes(fs.readFileSync(example, 'utf8')), 'the doc carries the example verbatim');
});
