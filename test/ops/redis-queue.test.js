'use strict';
// RedisQueue runs the shared Queue contract against a real redis-server, and then what only a
// shared store can show: two queue objects (two processes' worth) on one queue name.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { RedisQueue, createRedisClient, createTaskOps, createLogger, getRunningLoop, run } = require('evloop');
const { runQueueContract } = require('./queue-contract');
const { startRedisServer } = require('../helpers/redis-server');

let server;
let n = 0;
before(async () => {
  server = await startRedisServer();
});
after(() => server.stop());

runQueueContract('RedisQueue', (options) => new RedisQueue({ url: server.url, name: `contract-${process.pid}-${n++}`, ...options }));

function pair(visibilityTimeout = 30_000) {
  const name = `shared-${process.pid}-${n++}`;
  return [
    new RedisQueue({ url: server.url, name, visibilityTimeout, consumer: 'a' }),
    new RedisQueue({ url: server.url, name, visibilityTimeout, consumer: 'b' }),
  ];
}

test('RedisQueue: two queue objects on one name share messages, guards and dead letters', () =>
  run(async () => {
    const [a, b] = pair();
    await a.enqueue({ runId: 'r1', task: 't', params: { x: 1 } }, { key: 'k1' });
    await assert.rejects(Promise.resolve(b.enqueue({ runId: 'r2', task: 't' }, { key: 'k1' })), { code: 'ERR_DUPLICATE_KEY' });
    assert.equal(await b.hasKey('k1'), true);
    const d = await b.consume();
    assert.deepEqual(d.message, { runId: 'r1', task: 't', params: { x: 1 } });
    assert.deepEqual(await a.stats(), { depth: 0, inFlight: 1, delayed: 0, deadLetters: 0 });
    assert.equal(await d.deadLetter({ status: -950, statusMessage: 'no' }), true);
    assert.equal((await a.deadLetters())[0].key, 'k1');
    await Promise.all([a.close(), b.close()]);
  }));

test('RedisQueue: a delivery idle past the visibility time-out goes to the other process; the old owner is refused', () =>
  run(async () => {
    const [a, b] = pair(60);
    await a.enqueue({ runId: 'job', task: 't' }, { key: 'job' });
    const first = await a.consume();
    const second = await b.consume(); // XAUTOCLAIM in b's fetch loop
    assert.equal(second.message.runId, 'job');
    assert.equal(second.deliveries, 2);
    assert.equal(await first.ack(), false);
    assert.equal(await first.extend(), false);
    assert.equal(await second.ack(), true);
    assert.equal(await a.hasKey('job'), false);
    await Promise.all([a.close(), b.close()]);
  }));

test('RedisQueue: acked messages leave nothing behind in Redis (bounded memory)', () =>
  run(async () => {
    const name = `bounded-${process.pid}-${n++}`;
    const q = new RedisQueue({ url: server.url, name });
    for (let i = 0; i < 50; i++) await q.enqueue({ runId: `r${i}`, task: 't' }, { key: `k${i}` });
    for (let i = 0; i < 50; i++) {
      const d = await q.consume();
      if (i % 2) assert.equal(await d.ack(), true);
      else {
        assert.equal(await d.nack(), true);
        assert.equal(await (await q.consume()).ack(), true);
      }
    }
    const c = createRedisClient(server.url);
    const base = `evloop:queue:{${name}}:`;
    assert.equal(await c.xlen(`${base}stream`), 0);
    for (const h of ['keys', 'msgs', 'eids']) assert.equal(await c.hlen(base + h), 0, h);
    assert.equal(await c.zcard(`${base}delayed`), 0);
    await c.close();
    await q.close();
  }));

test('RedisQueue: acked entries wait for a trim behind an old pending delivery, at most 1000 more than the messages; the depth counts none of them', () =>
  run(async () => {
    const name = `trim-${process.pid}-${n++}`;
    const q = new RedisQueue({ url: server.url, name });
    const c = createRedisClient(server.url);
    const stream = `evloop:queue:{${name}}:stream`;
    await q.enqueue({ runId: 'old', task: 't' }, { key: 'old' });
    const held = await q.consume();
    const total = 1300;
    for (let i = 0; i < total; i += 100) {
      const batch = [];
      for (let j = i; j < i + 100; j++) batch.push(q.enqueue({ runId: `r${j}`, task: 't' }, { key: `k${j}` }));
      await Promise.all(batch);
    }
    await q.enqueue({ runId: 'last', task: 't' }, { key: 'last' });
    let maxWaiting = 0;
    for (let i = 0; i < total; i += 16) {
      // 16 consumers at a time, acknowledged together in one call.
      const ds = await Promise.all(Array.from({ length: Math.min(16, total - i) }, () => q.consume()));
      assert.deepEqual(await Promise.all(ds.map((d) => d.ack())), ds.map(() => true));
      // Entries in the stream beyond its messages: acknowledged ones waiting for the trim.
      maxWaiting = Math.max(maxWaiting, (await c.xlen(stream)) - (await c.hlen(`evloop:queue:{${name}}:msgs`)));
      // The acknowledged entries left in the stream are not depth: what is still queued is.
      if (i % 320 === 0) assert.deepEqual(await q.stats(), { depth: total - i - ds.length + 1, inFlight: 1, delayed: 0, deadLetters: 0 });
    }
    // The held delivery kept the acknowledged entries from the trim: they are deleted once more
    // than 1000 wait, a call's worth over at most.
    assert.ok(maxWaiting > 900, `the stream kept the acked entries (${maxWaiting})`);
    assert.ok(maxWaiting <= 1000 + 16, `bounded (${maxWaiting})`);
    assert.equal(await held.ack(), true);
    assert.equal(await (await q.consume()).ack(), true);
    assert.equal(await c.xlen(stream), 0, 'nothing pending, nothing left');
    assert.deepEqual(await q.stats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: 0 });
    await c.close();
    await q.close();
  }));

test('RedisQueue: an ack asked for just before close() still lands', () =>
  run(async () => {
    const name = `closing-${process.pid}-${n++}`;
    const q = new RedisQueue({ url: server.url, name });
    await q.enqueue({ runId: 'r', task: 't' }, { key: 'k' });
    const d = await q.consume();
    const acked = d.ack();
    await q.close();
    assert.equal(await acked, true);
    const c = createRedisClient(server.url);
    assert.equal(await c.hlen(`evloop:queue:{${name}}:keys`), 0);
    await c.close();
  }));

test('createTaskOps on a RedisQueue: every run succeeds once, recorded before stop() resolves', () =>
  run(async () => {
    const name = `ops-${process.pid}-${n++}`;
    const queue = new RedisQueue({ url: server.url, name });
    const N = 60;
    const calls = new Map();
    const allCalled = getRunningLoop().createFuture();
    const ops = createTaskOps({
      tasks: {
        echo: {
          run: (p) => {
            calls.set(p.i, (calls.get(p.i) ?? 0) + 1);
            if (calls.size === N) allCalled.setResult();
            return p.i;
          },
        },
      },
      queue,
      workers: 8,
      logger: createLogger({ level: 'warn' }),
    });
    ops.start();
    const runs = await Promise.all(Array.from({ length: N }, (_, i) => ops.startRun('echo', { key: `k${i}`, params: { i } })));
    await allCalled;
    // The last acks are still on their way here: stop() waits for them.
    await ops.stop();
    for (const r of runs) {
      const rec = await ops.getRun(r.id);
      assert.equal(rec.status, 0, `${r.id}: ${rec.statusMessage}`);
      assert.equal(rec.result, r.params.i);
    }
    assert.ok([...calls.values()].every((c) => c === 1));
    assert.deepEqual(await queue.stats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: 0 });
    assert.equal(await queue.client.hlen(`evloop:queue:{${name}}:keys`), 0);
    await queue.close();
  }));

test('RedisQueue: an enqueue under an older fencing token is refused', () =>
  run(async () => {
    const q = new RedisQueue({ url: server.url, name: `fence-${process.pid}-${n++}` });
    await q.client.set(q.fenceKey, 7);
    await assert.rejects(Promise.resolve(q.enqueue({ runId: 'old', task: 't' }, { key: 'k', fence: 6 })), { code: 'ERR_FENCED' });
    assert.equal(await q.hasKey('k'), false);
    await q.enqueue({ runId: 'cur', task: 't' }, { key: 'k', fence: 7 });
    await q.enqueue({ runId: 'new', task: 't' }, { key: 'k2', fence: 8 });
    assert.equal((await q.stats()).depth, 2);
    await q.close();
  }));

test('RedisQueue: a pending entry deleted from the stream (XAUTOCLAIM reports it) releases its guard', () =>
  run(async () => {
    const [a, b] = pair(40);
    await a.enqueue({ runId: 'gone', task: 't' }, { key: 'gone' });
    const d = await a.consume();
    const c = createRedisClient(server.url);
    await c.xdel(`evloop:queue:{${b.name}}:stream`, d.id.split(':')[0]);
    const waiting = b.consume();
    // b's fetch loop claims after 40 ms, finds the entry deleted, and drops its guard.
    while (await a.hasKey('gone')) await c.call('PING');
    waiting.cancel();
    assert.equal(await d.ack(), false);
    await c.close();
    await Promise.all([a.close(), b.close()]);
  }));

test('RedisQueue: redis-server restarted (appendonly): queued messages survive, consumers carry on', async () => {
  const s = await startRedisServer({ appendonly: true });
  try {
    await run(async () => {
      const q = new RedisQueue({ url: s.url, name: 'restart' });
      for (let i = 0; i < 5; i++) await q.enqueue({ runId: `r${i}`, task: 't' }, { key: `k${i}` });
      await s.restart();
      const got = [];
      for (let i = 0; i < 5; i++) {
        for (;;) {
          try {
            const d = await q.consume();
            got.push(d.message.runId);
            assert.equal(await d.ack(), true);
            break;
          } catch (err) {
            if (!['ERR_REDIS_CONNECTION_LOST', 'LOADING'].includes(err.code)) throw err;
          }
        }
      }
      assert.deepEqual(got, ['r0', 'r1', 'r2', 'r3', 'r4']);
      assert.deepEqual(await q.stats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: 0 });
      await q.close();
    });
  } finally {
    await s.stop();
  }
});

test('RedisQueue: an ack sent while Redis is down goes through once it is back (the run is not repeated)', async () => {
  const s = await startRedisServer({ appendonly: true });
  try {
    await run(async () => {
      const q = new RedisQueue({ url: s.url, name: 'ackretry' });
      await q.enqueue({ runId: 'r1', task: 't' }, { key: 'k1' });
      const d = await q.consume();
      await s.kill('SIGTERM'); // the append-only file is flushed: the delivery is still pending after the restart
      const acked = d.ack();
      await s.start();
      assert.equal(await acked, true);
      assert.deepEqual(await q.stats(), { depth: 0, inFlight: 0, delayed: 0, deadLetters: 0 });
      assert.equal(await q.hasKey('k1'), false);
      await q.close();
    });
  } finally {
    await s.stop();
  }
});

test('RedisQueue: options are checked', () => {
  assert.throws(() => new RedisQueue({ visibilityTimeout: 0 }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => new RedisQueue({ visibilityTimeout: -1 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new RedisQueue({ maxDeadLetters: 1.5 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new RedisQueue({ client: {} }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new RedisQueue({ url: 'http://x' }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => new RedisQueue({ name: '' }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => new RedisQueue(null), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('RedisLease: one holder at a time; a takeover raises the fencing token and fences the old holder', () =>
  run(async () => {
    const { RedisLease } = require('evloop');
    const [a, b] = pair();
    const la = new RedisLease(a, { ttl: 80, holder: 'scanner-a' });
    const lb = new RedisLease(b, { ttl: 80, holder: 'scanner-b' });
    const t1 = await la.acquire();
    assert.equal(typeof t1, 'number');
    assert.equal(await lb.acquire(), null, 'standby while a holds the lease');
    assert.equal(await la.acquire(), t1, 'renewal keeps the token');
    // a stalls past its lease: b takes over with a newer token.
    let t2 = null;
    while (t2 === null) t2 = await lb.acquire();
    assert.equal(t2, t1 + 1);
    assert.equal(await la.acquire(), null, 'a is standby now');
    await assert.rejects(Promise.resolve(a.enqueue({ runId: 'late', task: 't' }, { key: 'x', fence: t1 })), { code: 'ERR_FENCED' });
    await b.enqueue({ runId: 'ok', task: 't' }, { key: 'x', fence: t2 });
    await la.release(); // not the holder: nothing happens
    assert.equal(await la.acquire(), null);
    await lb.release();
    assert.equal(await la.acquire(), t2 + 1);
    await Promise.all([a.close(), b.close()]);
  }));
