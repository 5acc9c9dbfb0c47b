'use strict';
// The addon in worker threads: four instances at once, each with its own state, and workers
// terminated while they hold started pollers and open sockets leak no fd and crash nothing.
const { it, before } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { Worker } = require('worker_threads');
const { openFdCount } = require('../helpers/native-util');

const ADDON_DIR = path.join(__dirname, '..', '..');

// Each worker: a poller of the given backend, a socketpair, a round trip through start().
// With `hold`, it then opens more sockets, starts a poller on them and reports 'holding'
// without ever cleaning up, so only the addon's cleanup hook can release them.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const binding = require(workerData.gypBuild)(workerData.dir);
const { READ } = binding.constants;
const p = new binding.Poller(workerData.backend);
const [a, b] = binding.socketpair('stream');
const message = Buffer.from('hello from ' + workerData.id);
p.start((n) => {
  const buf = Buffer.alloc(64);
  const got = binding.recv(a, buf, 0, 64);
  p.remove(a);
  if (!workerData.hold) {
    p.close();
    binding.close(a);
    binding.close(b);
    parentPort.postMessage({ id: workerData.id, n, text: buf.subarray(0, got).toString() });
    return;
  }
  const more = [];
  for (let i = 0; i < 8; i++) more.push(...binding.socketpair('stream'));
  const listener = binding.socket('inet', 'stream');
  binding.bind(listener, '127.0.0.1', 0);
  binding.listen(listener, 4);
  for (const fd of more) p.add(fd, READ);
  p.add(listener, READ);
  const idle = new binding.Poller(workerData.backend); // never started
  idle.add(more[0], READ);
  parentPort.postMessage({ id: workerData.id, n, text: buf.subarray(0, got).toString(), holding: true });
});
p.add(a, READ);
binding.send(b, message, 0, message.length);
`;

function runWorker(id, backend, hold) {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { id, backend, hold, dir: ADDON_DIR, gypBuild: require.resolve('node-gyp-build') },
  });
  const firstMessage = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  return { worker, firstMessage, exited };
}

const backends = require('node-gyp-build')(ADDON_DIR).backends;

before(async () => {
  // Warm-up: the first worker creates process-wide resources (the platform's threads) that stay.
  const w = runWorker(-1, backends[0], false);
  await w.firstMessage;
  await w.exited;
});

it('four workers load the addon at once and exchange data', async () => {
  const baseline = openFdCount();
  const runs = [0, 1, 2, 3].map((id) => runWorker(id, backends[id % backends.length], false));
  const messages = await Promise.all(runs.map((r) => r.firstMessage));
  for (const [id, msg] of messages.entries()) {
    assert.deepEqual(msg, { id, n: 1, text: `hello from ${id}` });
  }
  const codes = await Promise.all(runs.map((r) => r.exited));
  assert.deepEqual(codes, [0, 0, 0, 0], 'each worker exits by itself once it closed everything');
  assert.equal(openFdCount(), baseline);
});

it('terminating workers that hold started pollers and sockets leaks no fd', async () => {
  const baseline = openFdCount();
  const runs = [0, 1, 2, 3, 4, 5].map((id) => runWorker(id, backends[id % backends.length], true));
  const messages = await Promise.all(runs.map((r) => r.firstMessage));
  for (const msg of messages) assert.equal(msg.holding, true);
  assert.ok(openFdCount() >= baseline + 6 * 17, 'the workers really hold their fds');
  await Promise.all(runs.map((r) => r.worker.terminate()));
  assert.equal(openFdCount(), baseline, 'the cleanup hook closed every fd the workers held');
});

it('a worker holding a started poller is kept alive by it, then terminated', async () => {
  const baseline = openFdCount();
  const run = runWorker(9, backends[backends.length - 1], true);
  await run.firstMessage;
  // Still running: its started poller has fds registered (terminate() resolves with exit code 1).
  const code = await run.worker.terminate();
  assert.equal(code, 1);
  assert.equal(openFdCount(), baseline);
});
