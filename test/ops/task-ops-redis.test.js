'use strict';
// createTaskOps on Redis (RedisQueue + RedisRunStore on a real redis-server), for what the
// multi-process CLI tests cannot force: a cancellation that loses the race to another process's
// verdict, and a change-feed watcher that loses its connection.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { run, createTaskOps, getRunningLoop, RedisQueue, RedisRunStore } = require('evloop');
const { startRedisServer } = require('../helpers/redis-server');

let server;
before(async () => {
  server = await startRedisServer();
});
after(() => server?.stop());

const never = { t: { run: () => new Promise(() => {}) } };

test('cancel racing another process\'s verdict: the first final state written wins, the cancel answers ERR_RUN_FINISHED', () => run(async () => {
  const name = 'race';
  const queue = new RedisQueue({ url: server.url, name });
  const store = new RedisRunStore({ client: queue.client, name });
  const other = new RedisRunStore({ url: server.url, name }); // another process's worker, recording its verdict
  let raced = false;
  // This process's store, except that another process's success reaches Redis just before this
  // process's cancellation does.
  const racing = {
    kind: 'redis',
    get size() { return undefined; },
    insert: (r) => store.insert(r),
    discard: (id) => store.discard(id),
    get: (id) => store.get(id),
    list: (q) => store.list(q),
    update(id, patch) {
      if (patch.status !== -125 || raced) return store.update(id, patch);
      raced = true;
      return getRunningLoop().createTask(async () => {
        await other.update(id, { status: 0, step: 'finish', result: 'won', error: null });
        return store.update(id, patch);
      });
    },
  };
  const ops = createTaskOps({ tasks: never, queue, store: racing, workers: 0, logger: { debug() {}, info() {}, warn() {}, error() {}, critical() {} } });
  ops.start();
  try {
    const r = await ops.startRun('t', {});
    await assert.rejects(ops.cancelRun(r.id), { code: 'ERR_RUN_FINISHED' });
    assert.ok(raced);
    const now = await ops.getRun(r.id);
    assert.equal(now.status, 0);
    assert.equal(now.result, 'won');
    // And the other way round: once cancelled, a late success changes nothing.
    const r2 = await ops.startRun('t', {});
    const cancelled = await ops.cancelRun(r2.id);
    assert.equal(cancelled.status, -125);
    assert.equal(await other.update(r2.id, { status: 0, step: 'finish', result: 'late', error: null }), undefined);
    assert.equal((await ops.getRun(r2.id)).status, -125);
  } finally {
    await ops.stop();
    await other.close();
    await store.close();
    await queue.close();
  }
}));

test('a change-feed watcher that loses its connection comes back and reports a reset (every cached answer drops)', () => run(async () => {
  const name = 'reset';
  const queue = new RedisQueue({ url: server.url, name });
  const store = new RedisRunStore({ client: queue.client, name, maxFeed: 100 });
  const other = new RedisRunStore({ url: server.url, name });
  const ops = createTaskOps({ tasks: never, queue, store, workers: 0, logger: { debug() {}, info() {}, warn() {}, error() {}, critical() {} } });
  const changes = [];
  let wake = null;
  ops.onChange((c) => {
    changes.push(c);
    wake?.();
  });
  const seen = (pred) => new Promise((resolve) => {
    wake = () => { if (changes.some(pred)) resolve(); };
    wake();
  });
  ops.start();
  try {
    await store.watching();
    // Another process's new run reaches this one through the feed.
    const foreign = { id: 'foreign-1', task: 't', key: 'k1', params: null, status: 1, statusMessage: 'init', category: 'init', attempts: 0, createdAt: new Date().toISOString() };
    await other.insert(foreign);
    await seen((c) => c.runId === 'foreign-1');
    // Cut every normal client's connection (the watcher's among them).
    await server.command('CLIENT', 'KILL', 'TYPE', 'normal');
    await seen((c) => c.kind === 'run' && c.runId === undefined);
    assert.ok(changes.some((c) => c.kind === 'deadLetter'));
    // It is watching again: the next foreign change arrives.
    await store.watching();
    await other.insert({ ...foreign, id: 'foreign-2', key: 'k2' });
    await seen((c) => c.runId === 'foreign-2');
    assert.equal((await ops.listRuns({ limit: 10, offset: 0 })).total, 2);
  } finally {
    await ops.stop();
    await other.close();
    await store.close();
    await queue.close();
  }
}));
