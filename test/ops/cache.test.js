'use strict';
// Cached query answers (API.md "Cached queries") over real HTTP: hit, TTL expiry, invalidation by
// a change (from a request or from a worker), no-cache bypass, the max-age header; then the
// ResponseCache itself for what HTTP cannot time (a change during a computation).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { ResponseCache, tagsOfChange, Tags } = require('evloop/internal');
const { startFixture } = require('../helpers/ops-fixture');

const ms = (iso) => Date.parse(iso);

async function withFixture(options, body) {
  const fx = await startFixture(options);
  try {
    await body(fx, fx.client);
  } finally {
    fx.client.close();
    await fx.close();
  }
}

test('an identical GET within the TTL is served from the cache: cache true, same cache_time, same body', () =>
  withFixture({ cacheTtl: 60_000 }, async (fx, c) => {
    for (const path of ['/health', '/tasks', '/runs', '/runs?limit=5&offset=0', '/queue', '/status-codes', '/dead-letters']) {
      const a = await c.get(path);
      const b = await c.get(path);
      assert.equal(a.json.cache, false, path);
      assert.equal(b.json.cache, true, path);
      assert.equal(b.json.cache_time, a.json.cache_time, path);
      const { cache: _a, ...restA } = a.json;
      const { cache: _b, ...restB } = b.json;
      assert.deepEqual(restB, restA, path);
    }
    // The key is the path with its query string: another query is another answer.
    const x = await c.get('/runs?limit=5');
    assert.equal(x.json.cache, false);
    assert.equal((await c.get('/runs?limit=5')).json.cache, true);
    assert.equal((await c.get('/runs?limit=6')).json.cache, false);
    // Errors are never cached.
    assert.equal((await c.get('/runs/none')).status, 404);
    assert.equal((await c.get('/runs/none')).json.cache, undefined);
  }));

test('the answer carries Cache-Control: max-age, counting down on a hit', () =>
  withFixture({ cacheTtl: 30_000 }, async (fx, c) => {
    const a = await c.get('/queue');
    assert.equal(a.headers['cache-control'], 'max-age=30');
    const b = await c.get('/queue');
    const age = Number(/^max-age=(\d+)$/.exec(b.headers['cache-control'])[1]);
    assert.ok(age <= 30 && age >= 25, b.headers['cache-control']);
    // POST answers and errors are not to be kept by anyone.
    assert.equal((await c.post('/tasks/echo/runs', {})).headers['cache-control'], 'no-store');
    assert.equal((await c.get('/nope')).headers['cache-control'], 'no-store');
  }));

test('with cacheTtl 0 nothing is cached and max-age is 0', () =>
  withFixture({ cacheTtl: 0 }, async (fx, c) => {
    const a = await c.get('/health');
    const b = await c.get('/health');
    assert.equal(b.json.cache, false);
    assert.equal(a.headers['cache-control'], 'max-age=0');
  }));

test('past the TTL the answer is computed again', () =>
  withFixture({ cacheTtl: 200 }, async (fx, c) => {
    const first = await c.get('/tasks');
    assert.equal(first.json.cache, false);
    const second = await c.get('/tasks');
    if (Date.now() - ms(first.json.cache_time) < 200) assert.equal(second.json.cache, true);
    // Poll until a fresh one: it must come, and not before the TTL has passed.
    const fresh = await c.until('/tasks', (j) => j.cache === false);
    assert.ok(ms(fresh.cache_time) - ms(first.json.cache_time) >= 200, `${first.json.cache_time} → ${fresh.cache_time}`);
  }));

test('Cache-Control: no-cache (and Pragma: no-cache) bypasses the cache; the fresh answer refreshes it', () =>
  withFixture({ cacheTtl: 60_000 }, async (fx, c) => {
    const a = await c.get('/queue');
    const b = await c.get('/queue', { 'Cache-Control': 'no-cache' });
    assert.equal(b.json.cache, false);
    assert.ok(ms(b.json.cache_time) >= ms(a.json.cache_time));
    const p = await c.get('/queue', { Pragma: 'no-cache' });
    assert.equal(p.json.cache, false);
    const m = await c.get('/queue', { 'Cache-Control': 'max-age=0' });
    assert.equal(m.json.cache, false);
    const hit = await c.get('/queue');
    assert.equal(hit.json.cache, true);
    assert.equal(hit.json.cache_time, m.json.cache_time);
    // no-store: computed fresh and not kept.
    const s = await c.get('/queue', { 'Cache-Control': 'no-store' });
    assert.equal(s.json.cache, false);
    assert.equal((await c.get('/queue')).json.cache_time, m.json.cache_time);
  }));

test('a POST is never served from the cache, and the change it makes shows in the next GET', () =>
  withFixture({ cacheTtl: 60_000, workers: 1 }, async (fx, c) => {
    const before = await c.get('/runs');
    assert.equal((await c.get('/runs')).json.cache, true);
    const a = await c.post('/tasks/hold/runs', { key: 'cache:1' });
    const b = await c.post('/tasks/hold/runs', { key: 'cache:1' });
    assert.equal(a.status, 202);
    assert.equal(b.status, 409, 'the second POST reached the store, not a cached answer');
    const after = await c.get('/runs');
    assert.equal(after.json.cache, false);
    assert.equal(after.json.total, before.json.total + 1);
    assert.equal(after.json.runs[0].id, a.json.run.id);

    // Cancel: the run's own answer and the lists show it at once.
    await c.until(`/runs/${a.json.run.id}`, (j) => j.run.category === 'inProcess');
    assert.equal((await c.get(`/runs/${a.json.run.id}`)).json.cache, true);
    await c.post(`/runs/${a.json.run.id}/cancel`);
    const cancelled = await c.until(`/runs/${a.json.run.id}`, (j) => j.run.status <= 0, { ms: 5000 });
    assert.equal(cancelled.run.status, -125);
  }));

test('a change made by a worker drops the answers it affects: a finished run shows at once, whatever the TTL', () =>
  withFixture({ cacheTtl: 600_000, workers: 1 }, async (fx, c) => {
    const { run } = (await c.post('/tasks/hold/runs', { key: 'cache:worker' })).json;
    const running = await c.until(`/runs/${run.id}`, (j) => j.run.category === 'inProcess');
    // Warm every answer the finish affects, and one it does not.
    await c.get(`/runs/${run.id}`);
    assert.equal((await c.get(`/runs/${run.id}`)).json.cache, true);
    await c.get('/runs?category=success');
    assert.equal((await c.get('/runs?category=success')).json.cache, true);
    await c.get('/queue');
    assert.equal((await c.get('/queue')).json.cache, true);
    await c.get('/runs?task=echo');
    assert.equal((await c.get('/runs?task=echo')).json.cache, true);
    const tasks1 = await c.get('/tasks');
    const echoCached = (await c.get('/runs?task=echo')).json.cache_time;

    fx.release('cache:worker', 'done');
    // With a 10-minute TTL only invalidation can show this.
    const done = await c.until(`/runs/${run.id}`, (j) => j.run.status === 0, { ms: 5000 });
    assert.equal(done.cache, false);
    assert.ok(ms(done.cache_time) >= ms(running.cache_time));
    const list = await c.get('/runs?category=success');
    assert.ok(list.json.runs.some((r) => r.id === run.id));
    const q = await c.get('/queue');
    assert.equal(q.json.inFlight, 0);
    // A list filtered on another task, and the task list, are untouched.
    assert.equal((await c.get('/runs?task=echo')).json.cache_time, echoCached);
    assert.equal((await c.get('/tasks')).json.cache_time, tasks1.json.cache_time);
  }));

test('ResponseCache: a change during a computation keeps its answer out of the cache', async () => {
  const cache = new ResponseCache({ ttl: 60_000 });
  let release;
  const gate = new Promise((r) => { release = r; });
  const pending = cache.compute('/runs', [Tags.runLists, Tags.runListAll], async () => { await gate; return { runs: [], total: 0 }; });
  // Identical requests meanwhile join the same computation …
  const joined = cache.compute('/runs', [Tags.runLists, Tags.runListAll], () => { throw new Error('not called'); });
  cache.onChange({ kind: 'run', runId: 'r1', task: 'echo' });
  // … but not after a change: this one computes anew.
  let calls = 0;
  const after = cache.compute('/runs', [Tags.runLists, Tags.runListAll], () => { calls++; return { runs: [1], total: 1 }; });
  release();
  const [a, b, c2] = await Promise.all([pending, joined, after]);
  assert.equal(a, b);
  assert.equal(calls, 1);
  assert.match(String(a.body), /"cache":false/);
  assert.match(String(c2.body), /"total":1/);
  // The answer computed after the change is the one kept.
  assert.match(String(cache.get('/runs').hitBody), /^\{"runs":\[1\],"total":1,"cache":true,"cache_time":"[^"]+"\}$/);
});

test('ResponseCache: expiry by its clock, a bound on entries, tags of changes', async () => {
  let now = 1_000_000;
  const cache = new ResponseCache({ ttl: 1000, maxEntries: 2, now: () => now });
  await cache.compute('/a', [], () => ({}));
  assert.equal(String(cache.get('/a').hitBody), `{"cache":true,"cache_time":"${new Date(now).toISOString()}"}`);
  assert.equal(cache.maxAge(cache.get('/a')), 1);
  now += 999;
  assert.ok(cache.get('/a'));
  assert.equal(cache.maxAge(cache.get('/a')), 0);
  now += 1;
  assert.equal(cache.get('/a'), undefined);
  await cache.compute('/a', [], () => ({}));
  await cache.compute('/b', [], () => ({}));
  await cache.compute('/c', [], () => ({}));
  assert.equal(cache.size, 2);
  assert.equal(cache.get('/a'), undefined, 'the oldest answer goes first');
  // A failed computation is not kept and does not block the next one.
  await assert.rejects(cache.compute('/d', [], () => { throw new Error('boom'); }), /boom/);
  assert.deepEqual(await cache.compute('/d', [], () => ({ ok: 1 })).then((f) => JSON.parse(f.body).ok), 1);

  assert.deepEqual(tagsOfChange({ kind: 'run', runId: 'x', task: 't' }).sort(), [Tags.queue, Tags.runListAll, Tags.runList('t'), Tags.run('x')].sort());
  assert.ok(tagsOfChange({ kind: 'run' }).includes(Tags.runLists));
  assert.ok(tagsOfChange({ kind: 'run' }).includes(Tags.anyRun));
  assert.deepEqual(tagsOfChange({ kind: 'deadLetter' }).sort(), [Tags.deadLetters, Tags.queue].sort());
  assert.deepEqual(tagsOfChange({ kind: 'queue' }), [Tags.queue]);
});

test('ResponseCache: a change drops exactly the answers carrying its tags', async () => {
  const cache = new ResponseCache({ ttl: 60_000 });
  const put = (key, tags) => cache.compute(key, tags, () => ({ key }));
  await put('/runs/x', [Tags.anyRun, Tags.run('x')]);
  await put('/runs/y', [Tags.anyRun, Tags.run('y')]);
  await put('/runs?task=a', [Tags.runLists, Tags.runList('a')]);
  await put('/runs?task=b', [Tags.runLists, Tags.runList('b')]);
  await put('/runs', [Tags.runLists, Tags.runListAll]);
  await put('/queue', [Tags.queue]);
  await put('/tasks', []);
  cache.onChange({ kind: 'run', runId: 'x', task: 'a' });
  const kept = ['/runs/x', '/runs/y', '/runs?task=a', '/runs?task=b', '/runs', '/queue', '/tasks'].filter((k) => cache.get(k));
  assert.deepEqual(kept, ['/runs/y', '/runs?task=b', '/tasks']);
  cache.onChange({ kind: 'run' });
  assert.deepEqual(['/runs/y', '/runs?task=b', '/tasks'].filter((k) => cache.get(k)), ['/tasks']);
  // Thousands of changes to runs nobody asked about leave nothing behind.
  for (let i = 0; i < 5000; i++) cache.onChange({ kind: 'run', runId: `r${i}`, task: 'a' });
  assert.equal(cache.size, 1);
});
