'use strict';
// The RunStore contract, run against every store (as uvloop runs one suite against every loop):
// the memory store and the Redis store on a real redis-server. Listing newest first with
// filters, paging and totals; transitions that refuse a finished run (the first finish wins);
// attempts counted by the store; bounded retention; and, for Redis, two stores on one server
// (two processes' views) seeing each other's runs, and the change feed.
const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { run, MemoryRunStore, RedisRunStore, createRedisClient, Status } = require('evloop');
const { startRedisServer } = require('../helpers/redis-server');

let server;
before(async () => {
  server = await startRedisServer();
});
after(() => server?.stop());

let seq = 0;
function newRun(task, overrides = {}) {
  seq++;
  const id = `run-${seq}-${Math.random().toString(16).slice(2, 8)}`;
  return { id, task, key: overrides.key ?? id, params: overrides.params ?? { n: seq }, status: 1, statusMessage: 'init', category: 'init', attempts: 0, createdAt: new Date().toISOString() };
}

const wait = async (v) => v; // a memory store answers plain values, Redis answers Futures: both await

const stores = {
  memory: {
    make: (limits = {}) => new MemoryRunStore(limits),
    close: () => {},
  },
  redis: {
    make: (limits = {}, name = `t${++seq}`) => new RedisRunStore({ url: server.url, name, ...limits }),
    close: (s) => s.close(),
  },
};

for (const [kind, impl] of Object.entries(stores)) {
  describe(`${kind} run store`, () => {
    test('insert, get, list newest first with task and category filters, paging and totals', () => run(async () => {
      const s = impl.make();
      try {
        assert.equal(s.kind, kind);
        const runs = [];
        for (let i = 0; i < 7; i++) {
          const r = newRun(i % 2 === 0 ? 'even' : 'odd');
          runs.push(r);
          await wait(s.insert(r));
        }
        const got = await wait(s.get(runs[0].id));
        assert.equal(got.id, runs[0].id);
        assert.deepEqual(got.params, runs[0].params);
        assert.equal(await wait(s.get('nope')), undefined);
        // Make two runs succeed and one fail.
        await wait(s.update(runs[1].id, { status: 100, step: 'start' }));
        await wait(s.update(runs[1].id, { status: 0, step: 'finish', result: { ok: [1, 2] }, error: null }));
        await wait(s.update(runs[2].id, { status: 0, step: 'finish', result: null, error: null }));
        await wait(s.update(runs[4].id, { status: -900, step: 'finish', error: { message: 'no', code: 'X' } }));

        const all = await wait(s.list({ limit: 50, offset: 0 }));
        assert.equal(all.total, 7);
        assert.deepEqual(all.runs.map((r) => r.id), runs.map((r) => r.id).reverse());
        const page = await wait(s.list({ limit: 2, offset: 2 }));
        assert.equal(page.total, 7);
        assert.deepEqual(page.runs.map((r) => r.id), [runs[4].id, runs[3].id]);
        assert.deepEqual((await wait(s.list({ limit: 0, offset: 0 }))).runs, []);
        assert.equal((await wait(s.list({ limit: 0, offset: 0 }))).total, 7);
        assert.deepEqual((await wait(s.list({ limit: 5, offset: 100 }))).runs, []);

        const even = await wait(s.list({ task: 'even', limit: 50, offset: 0 }));
        assert.deepEqual(even.runs.map((r) => r.id), [runs[6].id, runs[4].id, runs[2].id, runs[0].id]);
        assert.equal(even.total, 4);
        const ok = await wait(s.list({ category: 'success', limit: 50, offset: 0 }));
        assert.deepEqual(ok.runs.map((r) => r.id), [runs[2].id, runs[1].id]);
        const evenOk = await wait(s.list({ task: 'even', category: 'success', limit: 50, offset: 0 }));
        assert.deepEqual(evenOk.runs.map((r) => r.id), [runs[2].id]);
        assert.equal(evenOk.total, 1);
        const init = await wait(s.list({ category: 'init', limit: 50, offset: 0 }));
        assert.equal(init.total, 4);
        assert.equal((await wait(s.list({ task: 'none', limit: 5, offset: 0 }))).total, 0);

        const done = all.runs.find((r) => r.id === runs[1].id);
        assert.equal(done.status, 0);
        assert.equal(done.category, 'success');
        assert.equal(done.statusMessage, 'success');
        assert.deepEqual(done.result, { ok: [1, 2] });
        assert.equal(done.attempts, 1);
        assert.match(done.startedAt, /Z$/);
        assert.match(done.endedAt, /Z$/);
        const failed = all.runs.find((r) => r.id === runs[4].id);
        assert.deepEqual(failed.error, { message: 'no', code: 'X' });
        assert.equal(failed.category, 'notRepeatable');
        assert.equal(failed.startedAt, undefined);

        await wait(s.discard(runs[0].id));
        assert.equal(await wait(s.get(runs[0].id)), undefined);
        assert.equal((await wait(s.list({ limit: 50, offset: 0 }))).total, 6);
        assert.equal((await wait(s.list({ task: 'even', limit: 50, offset: 0 }))).total, 3);
      } finally {
        await impl.close(s);
      }
    }));

    test('a finished run is final: the first finishing transition wins, later ones change nothing', () => run(async () => {
      const s = impl.make();
      try {
        const r = newRun('t');
        await wait(s.insert(r));
        const started = await wait(s.update(r.id, { status: 100, step: 'start' }));
        assert.equal(started.attempts, 1);
        // Cancelled while a worker finishes it: the cancellation was written first, so it stands.
        const cancelled = await wait(s.update(r.id, { status: Status.CANCELLED, step: 'finish', error: { message: 'cancelled by request', code: 'ERR_CANCELLED' } }));
        assert.equal(cancelled.status, -125);
        assert.equal(await wait(s.update(r.id, { status: 0, step: 'finish', result: 'late', error: null })), undefined);
        assert.equal(await wait(s.update(r.id, { status: 1 })), undefined);
        assert.equal(await wait(s.update(r.id, { status: 100, step: 'start' })), undefined);
        const now = await wait(s.get(r.id));
        assert.equal(now.status, -125);
        assert.equal(now.result, undefined);
        assert.equal(now.attempts, 1);
        assert.equal((await wait(s.list({ category: 'errno', limit: 5, offset: 0 }))).total, 1);
        assert.equal(await wait(s.update('unknown', { status: 0, step: 'finish' })), undefined);
        // A retry shows the failure, a requeue goes back to init, the error goes with success.
        const r2 = newRun('t');
        await wait(s.insert(r2));
        await wait(s.update(r2.id, { status: 100, step: 'start' }));
        const retrying = await wait(s.update(r2.id, { status: -970, error: { message: 'later' } }));
        assert.equal(retrying.category, 'retryLater');
        const second = await wait(s.update(r2.id, { status: 100, step: 'start' }));
        assert.equal(second.attempts, 2);
        assert.equal(second.startedAt, started.startedAt === undefined ? undefined : second.startedAt);
        const okRun = await wait(s.update(r2.id, { status: 0, step: 'finish', result: null, error: null }));
        assert.equal(okRun.error, undefined);
        assert.equal(okRun.result, null);
        // insert never overwrites a record that exists (adopt by two processes at once).
        await wait(s.insert({ ...r2, status: 1, attempts: 0, params: 'other' }));
        assert.equal((await wait(s.get(r2.id))).status, 0);
      } finally {
        await impl.close(s);
      }
    }));

    test('retention: past maxFinishedRuns the oldest finished runs go; running ones stay', () => run(async () => {
      const s = impl.make({ maxFinishedRuns: 3 });
      try {
        const keep = newRun('t');
        await wait(s.insert(keep));
        const ids = [];
        for (let i = 0; i < 6; i++) {
          const r = newRun('t');
          ids.push(r.id);
          await wait(s.insert(r));
          await wait(s.update(r.id, { status: 0, step: 'finish', result: i, error: null }));
        }
        const all = await wait(s.list({ limit: 50, offset: 0 }));
        assert.deepEqual(all.runs.map((r) => r.id), [...ids.slice(3).reverse(), keep.id]);
        assert.equal(all.total, 4);
        for (const id of ids.slice(0, 3)) assert.equal(await wait(s.get(id)), undefined);
        assert.equal((await wait(s.list({ task: 't', category: 'success', limit: 50, offset: 0 }))).total, 3);
      } finally {
        await impl.close(s);
      }
    }));

    test('retention by age: finished runs older than maxRunAge go as later runs finish', () => run(async () => {
      const s = impl.make({ maxRunAge: 1 });
      try {
        const old = newRun('t');
        await wait(s.insert(old));
        await wait(s.update(old.id, { status: 0, step: 'finish', error: null }));
        // Wait until the clock has moved past the age (a bounded poll, not a sleep).
        const t0 = Date.now();
        while (Date.now() - t0 < 3) await new Promise((r) => setImmediate(r));
        const next = newRun('t');
        await wait(s.insert(next));
        await wait(s.update(next.id, { status: 0, step: 'finish', error: null }));
        assert.equal(await wait(s.get(old.id)), undefined);
        assert.equal((await wait(s.get(next.id))).status, 0);
      } finally {
        await impl.close(s);
      }
    }));
  });
}

describe('redis run store across processes', () => {
  test('two stores on one Redis share records; the feed reports the other one\'s changes (cancel included), not its own', () => run(async () => {
    const a = new RedisRunStore({ url: server.url, name: 'shared' });
    const b = new RedisRunStore({ url: server.url, name: 'shared' });
    try {
      const seen = [];
      let notify = null;
      const off = b.watch((c) => {
        seen.push(c);
        notify?.();
      });
      const next = (n) => new Promise((resolve) => {
        notify = () => { if (seen.length >= n) resolve(); };
        notify();
      });
      // The watcher has its starting point: every change A writes from now on is reported.
      await b.watching();
      const r = newRun('job');
      await a.insert(r);
      await next(1);
      assert.deepEqual(seen[0], { runId: r.id, task: 'job', cancelled: false, deadLettered: false });
      const onB = await b.get(r.id);
      assert.equal(onB.key, r.key);
      await b.update(r.id, { status: 100, step: 'start' });
      await a.update(r.id, { status: -125, step: 'finish', error: { message: 'cancelled by request', code: 'ERR_CANCELLED' } });
      await next(2);
      assert.equal(seen.length, 2, 'B does not hear its own change');
      assert.equal(seen[1].cancelled, true);
      // B's worker finishing late changes nothing: A's cancellation stands.
      assert.equal(await b.update(r.id, { status: 0, step: 'finish', result: 1, error: null }), undefined);
      const listed = await b.list({ task: 'job', limit: 5, offset: 0 });
      assert.deepEqual(listed.runs.map((x) => [x.id, x.status, x.attempts]), [[r.id, -125, 1]]);
      off();
    } finally {
      await a.close();
      await b.close();
    }
  }));

  test('a shared client is not closed by the store; options are checked', () => run(async () => {
    const client = createRedisClient(server.url);
    const s = new RedisRunStore({ client, name: 'shared-client' });
    await s.close();
    assert.equal(await client.call('PING'), 'PONG');
    await client.close();
    assert.throws(() => new RedisRunStore({ client: {} }), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => new RedisRunStore({ name: '' }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => new RedisRunStore({ maxFinishedRuns: -1 }), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => new MemoryRunStore({ maxRunAge: 'x' }), { code: 'ERR_INVALID_ARG_TYPE' });
  }));
});
