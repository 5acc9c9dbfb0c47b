'use strict';
// Subprocesses from worker threads: each worker's addon instance spawns and reaps its own
// children, and a worker terminated while its child runs leaks no fd (the addon's cleanup hook
// closes the pipes and the pidfd) and kills nothing.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { Worker } = require('node:worker_threads');

const openFds = () => fs.readdirSync('/proc/self/fd').length;

const SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const { run, createSubprocessExec } = require('evloop');
run(async () => {
  if (workerData.hold) {
    const proc = await createSubprocessExec('sleep', ['3600']);
    parentPort.postMessage({ pid: proc.pid });
    await new Promise(() => {}); // hold it until terminated
  }
  // process.env in a worker is its own copy: the child must get it.
  process.env.EVLOOP_WORKER_VAR = 'from worker ' + workerData.id;
  const proc = await createSubprocessExec('sh', ['-c', 'cat; echo "$EVLOOP_WORKER_VAR"']);
  const [out] = await proc.communicate(Buffer.from('hello '));
  parentPort.postMessage({ out: String(out), code: proc.returncode });
});
`;

function startWorker(workerData) {
  const worker = new Worker(SOURCE, { eval: true, workerData });
  const message = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, message };
}

test('two workers spawn and reap children at once, each with its own env', async () => {
  const a = startWorker({ id: 1 });
  const b = startWorker({ id: 2 });
  assert.deepEqual(await a.message, { out: 'hello from worker 1\n', code: 0 });
  assert.deepEqual(await b.message, { out: 'hello from worker 2\n', code: 0 });
  await Promise.all([a.worker.terminate(), b.worker.terminate()]);
});

test('a worker terminated while its child runs leaks no fd and leaves the child running', async () => {
  const before = openFds();
  const { worker, message } = startWorker({ id: 3, hold: true });
  const { pid } = await message;
  await worker.terminate();
  assert.equal(openFds(), before);
  assert.doesNotThrow(() => process.kill(pid, 0), 'the child still runs');
  process.kill(pid, 'SIGKILL');
});
