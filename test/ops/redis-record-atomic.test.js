'use strict';
// The run record rides on the queue's scripts (RedisRunStore + RedisQueue on one client): the
// enqueue writes the record, and the ack writes the final state in the same atomic step as XACK
// and the guard's release. So a worker process killed with SIGKILL at any moment leaves every
// run either final, or with its message still in the queue (and so completed by another worker):
// never a run shown as running with no message left to finish it.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { run, createTaskOps, getRunningLoop, sleep, RedisQueue, RedisRunStore } = require('evloop');
const { startRedisServer } = require('../helpers/redis-server');

const ROOT = path.resolve(__dirname, '..', '..');
const quiet = { debug() {}, info() {}, warn() {}, error() {}, critical() {} };

let server;
before(async () => {
  server = await startRedisServer();
});
after(() => server?.stop());

function workerProcess(url, name) {
  const src = `
const { run, createTaskOps, RedisQueue, RedisRunStore } = require(${JSON.stringify(ROOT)});
run(async () => {
  const queue = new RedisQueue({ url: ${JSON.stringify(url)}, name: ${JSON.stringify(name)}, visibilityTimeout: 1000 });
  const store = new RedisRunStore({ client: queue.client, name: ${JSON.stringify(name)} });
  const ops = createTaskOps({ tasks: { t: { run: (p) => p.n } }, queue, store, workers: 16, logger: { debug() {}, info() {}, warn() {}, error() {}, critical() {} } });
  ops.start();
  process.stdout.write('UP\\n');
  await new Promise(() => {});
});
`;
  return spawn(process.execPath, ['-e', src], { stdio: ['ignore', 'pipe', 'inherit'] });
}

async function everyRun(store) {
  const { runs, total } = await store.list({ limit: 100_000, offset: 0 });
  assert.equal(runs.length, total);
  return runs;
}

test('SIGKILL of a worker process mid-stream: every acked run is final, the others are still queued and complete later', () => run(async () => {
  const name = 'atomic';
  const N = 3000;
  const queue = new RedisQueue({ url: server.url, name, visibilityTimeout: 1000 });
  const store = new RedisRunStore({ client: queue.client, name });
  const producer = createTaskOps({ tasks: { t: { run: () => {} } }, queue, store, workers: 0, logger: quiet });
  producer.start();
  const child = workerProcess(server.url, name);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    for (let i = 0; i < N; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, N - i) }, (_, j) => producer.startRun('t', { key: `k${i + j}`, params: { n: i + j } })));
    }
    // Killed while runs are being acknowledged: some done, many in flight or queued.
    for (;;) {
      const done = (await store.list({ category: 'success', limit: 0, offset: 0 })).total;
      if (done >= N / 10) break;
      if (done === N) assert.fail('the worker finished everything before it could be killed: raise N');
      await sleep(1);
    }
    child.kill('SIGKILL');
    await exited;
    const msgs = `evloop:queue:{${name}}:msgs`;
    const runs = await everyRun(store);
    assert.equal(runs.length, N, 'every enqueued run has its record (written by the enqueue script)');
    let final = 0;
    for (const r of runs) {
      const queued = (await queue.client.call('HEXISTS', msgs, r.id)) === 1;
      if (r.endedAt !== undefined) {
        final++;
        assert.equal(r.status, 0, `${r.id} succeeded`);
        assert.equal(r.result, Number(r.key.slice(1)));
        assert.equal(queued, false, `finished run ${r.id} has no message left`);
      } else {
        assert.equal(queued, true, `run ${r.id} is ${r.statusMessage} and its message is still in the queue`);
      }
    }
    assert.ok(final >= N / 10 && final < N, `killed mid-stream (${final} of ${N} final)`);
    // Another worker takes over what was left: every run ends, once, and nothing stays behind.
    const rescue = createTaskOps({ tasks: { t: { run: (p) => p.n } }, queue, store, workers: 16, logger: quiet });
    rescue.start();
    try {
      for (;;) {
        const done = (await store.list({ category: 'success', limit: 0, offset: 0 })).total;
        if (done === N) break;
        await sleep(20);
      }
    } finally {
      await rescue.stop();
    }
    const after = await everyRun(store);
    assert.ok(after.every((r) => r.endedAt !== undefined && r.status === 0));
    assert.deepEqual(await queue.stats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: 0 });
    assert.equal(await queue.client.call('HLEN', `evloop:queue:{${name}}:keys`), 0, 'no guard left behind');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await producer.stop();
    await store.close();
    await queue.close();
  }
}));

test('a refused enqueue leaves no record; a dead letter and its final record are one step', () => run(async () => {
  const name = 'atomic2';
  const queue = new RedisQueue({ url: server.url, name, visibilityTimeout: 1000 });
  const store = new RedisRunStore({ client: queue.client, name });
  const ops = createTaskOps({
    tasks: { t: { run: () => { throw Object.assign(new Error('bad input'), { code: 'ERR_INVALID_ARG_VALUE' }); }, retries: 0 } },
    queue, store, workers: 0, logger: quiet,
  });
  ops.start();
  try {
    const first = await ops.startRun('t', { key: 'same' });
    await assert.rejects(ops.startRun('t', { key: 'same' }), { code: 'ERR_DUPLICATE_KEY' });
    const runs = await everyRun(store);
    assert.deepEqual(runs.map((r) => r.id), [first.id], 'the refused run was never written');
    // A delivery taken by hand, then settled as a dead letter with its record.
    const d = await queue.consume();
    const begun = await store.begin(first.id, 10);
    assert.equal(begun.state, 'started');
    assert.equal(begun.run.attempts, 1);
    const settled = await store.settleFinal(d, first.id, { status: -22, step: 'finish', error: { message: 'bad input' } }, { status: -22, statusMessage: 'bad' });
    assert.equal(settled.settled, true);
    assert.equal(settled.run.status, -22);
    assert.ok(settled.run.endedAt);
    // The record answered is the record written (the script answers only what the call did not send).
    assert.deepEqual(settled.run, await store.get(first.id));
    assert.equal((await queue.deadLetters()).length, 1);
    // The same delivery again: refused, nothing written.
    assert.deepEqual(await store.settleFinal(d, first.id, { status: 0, step: 'finish', result: 1, error: null }), { settled: false, run: undefined });
    assert.equal((await store.get(first.id)).status, -22);
    // A finished run is not started again.
    assert.equal((await store.begin(first.id, 10)).state, 'refused');
    // An acknowledgement with its success: the same.
    const second = await ops.startRun('t', { key: 'other', params: { p: [1, 'two'] } });
    const d2 = await queue.consume();
    assert.equal((await store.begin(second.id, 10)).state, 'started');
    const ok = await store.settleFinal(d2, second.id, { status: 0, step: 'finish', result: { x: [1, 2] }, error: null });
    assert.equal(ok.settled, true);
    assert.deepEqual(ok.run.result, { x: [1, 2] });
    assert.deepEqual(ok.run, await store.get(second.id));
  } finally {
    await ops.stop();
    await store.close();
    await queue.close();
  }
}));

test('a worker that dies the moment its ack is answered leaves the run final: the record was written by the ack itself', () => run(async () => {
  const name = 'atomic3';
  const queue = new RedisQueue({ url: server.url, name });
  const store = new RedisRunStore({ client: queue.client, name });
  const observer = new RedisRunStore({ url: server.url, name });
  // The process "dies" (sends nothing more) as soon as the answer to an ack comes back: before
  // any code of its own sees that answer. An ack is the queue script whose first arguments are
  // this consumer and a stream entry id.
  const client = queue.client;
  const send = client.send.bind(client);
  let dead = false;
  client.send = (args, options) => {
    if (dead) {
      const f = getRunningLoop().createFuture();
      f.setException(new Error('this process is dead'));
      return f;
    }
    const reply = send(args, options);
    if (args[0] === 'EVALSHA' && args[2] === 7 && args[10] === queue.consumer && /^\d+-\d+$/.test(String(args[11]))) {
      reply.addDoneCallback(() => {
        dead = true;
      });
    }
    return reply;
  };
  const ops = createTaskOps({ tasks: { t: { run: () => 'ok' } }, queue, store, workers: 1, logger: quiet });
  ops.start();
  try {
    const r = await ops.startRun('t', { key: 'k' });
    while (!dead) await sleep(5);
    const rec = await observer.get(r.id);
    assert.equal(rec.status, 0, `the run is ${rec.statusMessage}, not final, though its message is acked`);
    assert.equal(rec.result, 'ok');
    assert.ok(rec.endedAt);
    assert.equal(await observer.client.call('HEXISTS', `evloop:queue:{${name}}:keys`, 'k'), 0, 'the guard went with the ack');
  } finally {
    client.send = send;
    dead = false;
    await ops.stop({ timeout: 100 });
    await observer.close();
    await store.close();
    await queue.close();
  }
}));
