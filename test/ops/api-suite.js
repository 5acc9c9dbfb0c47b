'use strict';
// The REST API suite over real HTTP on 127.0.0.1: every route with good and bad input, and nothing
// changed by a bad request. Run against every store, as uvloop runs one suite against every loop:
// api.test.js (memory queue and run records) and api-redis.test.js (both on a real redis-server).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('http');
const net = require('net');
const { startApiServer, STATUS_BANDS, Status } = require('evloop');
const { startFixture } = require('../helpers/ops-fixture');

/**
 * Registers the suite. `kind`: what /health reports as the queue; `setup()` resolves to extra
 * fixture options (e.g. `{ redis: url }`), `teardown()` runs after the fixture has closed.
 */
module.exports = function apiSuite({ kind = 'memory', setup = async () => ({}), teardown = async () => {} } = {}) {
  let fx;
  let c;
  before(async () => {
    fx = await startFixture({ workers: 1, cacheTtl: 0, ...(await setup()) });
    c = fx.client;
  });
  after(async () => {
    c?.close();
    await fx?.close();
    await teardown();
  });

  const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

  function assertError(res, status, code) {
    assert.equal(res.status, status, res.text);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.equal(res.json.error.code, code, res.text);
    assert.equal(typeof res.json.error.message, 'string');
    assert.ok(res.json.error.message.length > 0);
    assert.deepEqual(Object.keys(res.json), ['error']);
  }

  /** What a bad request must leave unchanged. */
  async function snapshot() {
    const h = { 'Cache-Control': 'no-cache' };
    const runs = (await c.get('/runs?limit=1000', h)).json;
    const queue = (await c.get('/queue', h)).json;
    const dead = (await c.get('/dead-letters', h)).json;
    return { runs: runs.runs.map((r) => [r.id, r.status]), total: runs.total, depth: queue.depth, inFlight: queue.inFlight, dead: dead.deadLetters.length };
  }

  async function finished(id) {
    return c.until(`/runs/${id}`, (j) => j.run.status <= 0);
  }

  test('GET /health', async () => {
    const res = await c.get('/health');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^application\/json/);
    const { status, queue, scanner, workers, cache, cache_time } = res.json;
    assert.equal(status, 'ok');
    assert.equal(queue, kind);
    assert.ok(['active', 'standby', 'off'].includes(scanner));
    assert.equal(workers, 1);
    assert.equal(cache, false);
    assert.match(cache_time, ISO);
  });

  test('GET /tasks lists the tasks with their settings', async () => {
    const res = await c.get('/tasks');
    assert.equal(res.status, 200);
    const names = res.json.tasks.map((t) => t.name).sort();
    assert.deepEqual(names, ['echo', 'hold', 'reject']);
    for (const t of res.json.tasks) {
      assert.deepEqual(Object.keys(t).sort(), ['name', 'retries', 'retryDelay', 'timeout']);
    }
  });

  test('POST /tasks/:name/runs starts a run: 202 { run }, Location, and it finishes', async () => {
    const res = await c.post('/tasks/echo/runs', { params: { n: 42 }, key: 'api:echo:1' });
    assert.equal(res.status, 202, res.text);
    const { run } = res.json;
    assert.equal(run.task, 'echo');
    assert.equal(run.key, 'api:echo:1');
    assert.deepEqual(run.params, { n: 42 });
    assert.equal(typeof run.id, 'string');
    assert.match(run.createdAt, ISO);
    assert.equal(res.headers.location, `/runs/${encodeURIComponent(run.id)}`);
    assert.equal(res.json.cache, undefined, 'a POST answer carries no cache fields');
    const done = await finished(run.id);
    assert.equal(done.run.status, 0);
    assert.equal(done.run.statusMessage, 'success');
    assert.equal(done.run.category, 'success');
    assert.deepEqual(done.run.result, { n: 42 });
    assert.equal(done.run.attempts, 1);
    assert.match(done.run.endedAt, ISO);
  });

  test('POST /tasks/:name/runs with an empty body, or without a key', async () => {
    const a = await c.request('POST', '/tasks/echo/runs');
    assert.equal(a.status, 202, a.text);
    const b = await c.post('/tasks/echo/runs', { params: [1, 2] });
    assert.equal(b.status, 202, b.text);
    assert.notEqual(a.json.run.key, b.json.run.key);
    await finished(a.json.run.id);
    await finished(b.json.run.id);
  });

  test('POST /tasks/:name/runs: 409 for a key already queued or running, then accepted once it has finished', async () => {
    const first = await c.post('/tasks/hold/runs', { key: 'api:dup' });
    assert.equal(first.status, 202);
    // Running first (the worker takes it a round trip later on Redis), so only the 409s could change anything.
    await c.until(`/runs/${first.json.run.id}`, (j) => j.run.category === 'inProcess');
    const before = await snapshot();
    assertError(await c.post('/tasks/hold/runs', { key: 'api:dup' }), 409, 'ERR_DUPLICATE_KEY');
    assertError(await c.post('/tasks/echo/runs', { key: 'api:dup' }), 409, 'ERR_DUPLICATE_KEY');
    assert.deepEqual(await snapshot(), before);
    fx.release('api:dup');
    await finished(first.json.run.id);
    const again = await c.post('/tasks/echo/runs', { key: 'api:dup' });
    assert.equal(again.status, 202);
    await finished(again.json.run.id);
  });

  test('POST /tasks/:name/runs: bad input is a 4xx and changes nothing', async () => {
    const before = await snapshot();
    assertError(await c.post('/tasks/nope/runs', {}), 404, 'ERR_UNKNOWN_TASK');
    assertError(await c.post('/tasks/echo/runs', '{"params": '), 400, 'ERR_INVALID_JSON');
    assertError(await c.post('/tasks/echo/runs', 'not json'), 400, 'ERR_INVALID_JSON');
    assertError(await c.post('/tasks/echo/runs', '[1]'), 400, 'ERR_INVALID_ARG_TYPE');
    assertError(await c.post('/tasks/echo/runs', 'null'), 400, 'ERR_INVALID_ARG_TYPE');
    assertError(await c.post('/tasks/echo/runs', '42'), 400, 'ERR_INVALID_ARG_TYPE');
    assertError(await c.post('/tasks/echo/runs', { key: 42 }), 400, 'ERR_INVALID_ARG_TYPE');
    assertError(await c.post('/tasks/echo/runs', { key: null }), 400, 'ERR_INVALID_ARG_TYPE');
    assertError(await c.post('/tasks/echo/runs', { key: '' }), 400, 'ERR_INVALID_ARG_VALUE');
    assertError(await c.post('/tasks/echo/runs', { parms: {} }), 400, 'ERR_INVALID_ARG_VALUE');
    assertError(await c.post('/tasks/%E0%A4%A/runs', {}), 400, 'ERR_INVALID_ARG_VALUE');
    assert.deepEqual(await snapshot(), before);
  });

  test('POST /tasks/:name/runs: 413 over 1 MiB, declared or chunked, and the connection still answers', async () => {
    const before = await snapshot();
    const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
    assertError(await c.post('/tasks/echo/runs', big), 413, 'ERR_BODY_TOO_LARGE');
    // Exactly the limit is accepted (whitespace around a JSON object).
    const exact = Buffer.alloc(1024 * 1024, 0x20);
    exact.write('{}', 0);
    const ok = await c.post('/tasks/echo/runs', exact);
    assert.equal(ok.status, 202, ok.text);
    await finished(ok.json.run.id);
    const mid = await snapshot();

    // Chunked, no Content-Length: refused as it crosses the limit; the client can finish sending
    // and read the answer, and the same connection serves the next request.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const res = await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: fx.api.port, method: 'POST', path: '/tasks/echo/runs', agent }, (r) => {
        const chunks = [];
        r.on('data', (d) => chunks.push(d));
        r.on('end', () => resolve({ status: r.statusCode, json: JSON.parse(Buffer.concat(chunks)) }));
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      for (let i = 0; i < 20; i++) req.write(chunk);
      req.end();
    });
    assert.equal(res.status, 413);
    assert.equal(res.json.error.code, 'ERR_BODY_TOO_LARGE');
    const next = await c.request('GET', '/health', { agent });
    assert.equal(next.status, 200);
    agent.destroy();
    assert.deepEqual(await snapshot(), mid);
    assert.equal(mid.total, before.total + 1);
  });

  test('POST with Expect: 100-continue over the limit is refused before the body is sent', async () => {
    const res = await new Promise((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port: fx.api.port, method: 'POST', path: '/tasks/echo/runs',
        headers: { Expect: '100-continue', 'Content-Length': 5 * 1024 * 1024, 'Content-Type': 'application/json' },
      });
      req.on('continue', () => reject(new Error('the server asked for the body')));
      req.on('response', (r) => {
        const chunks = [];
        r.on('data', (d) => chunks.push(d));
        r.on('end', () => { req.destroy(); resolve({ status: r.statusCode, json: JSON.parse(Buffer.concat(chunks)) }); });
      });
      req.on('error', () => {});
      req.flushHeaders();
    });
    assert.equal(res.status, 413);
    assert.equal(res.json.error.code, 'ERR_BODY_TOO_LARGE');
  });

  test('GET /runs: list, filters, paging, totals', async () => {
    const started = [];
    for (let i = 0; i < 3; i++) started.push((await c.post('/tasks/echo/runs', { key: `api:list:${i}` })).json.run);
    const dead = (await c.post('/tasks/reject/runs', { key: 'api:list:r' })).json.run;
    for (const r of [...started, dead]) await finished(r.id);

    const all = (await c.get('/runs?limit=1000')).json;
    assert.ok(all.total >= 4);
    assert.equal(all.runs.length, all.total);
    const ids = all.runs.map((r) => r.id);
    for (const r of started) assert.ok(ids.includes(r.id));

    const echo = (await c.get('/runs?task=echo&limit=1000')).json;
    assert.ok(echo.runs.every((r) => r.task === 'echo'));
    assert.equal(echo.total, echo.runs.length);

    const failed = (await c.get('/runs?category=notRepeatable')).json;
    assert.ok(failed.runs.some((r) => r.id === dead.id));
    assert.ok(failed.runs.every((r) => r.category === 'notRepeatable' && r.status === -900));
    const run = failed.runs.find((r) => r.id === dead.id);
    assert.equal(run.error.message, 'refused on purpose');

    const page = (await c.get('/runs?limit=2&offset=1')).json;
    assert.equal(page.runs.length, 2);
    assert.equal(page.total, all.total);
    assert.deepEqual(page.runs.map((r) => r.id), ids.slice(1, 3));
    const none = (await c.get('/runs?limit=0')).json;
    assert.deepEqual(none.runs, []);
    assert.equal(none.total, all.total);
    const past = (await c.get(`/runs?offset=${all.total + 10}`)).json;
    assert.deepEqual(past.runs, []);
    assert.equal((await c.get('/runs?task=nosuchtask')).json.total, 0);
    const dflt = (await c.get('/runs')).json;
    assert.ok(dflt.runs.length <= 50);
    for (const cat of new Set(STATUS_BANDS.map((b) => b.category))) {
      assert.equal((await c.get(`/runs?category=${cat}`)).status, 200, cat);
    }
  });

  test('GET /runs: bad limit, offset, category or parameter → 400', async () => {
    for (const q of ['limit=-1', 'limit=1.5', 'limit=abc', 'limit=', 'limit=1e3', 'limit=0x10', 'limit=%201', 'limit=1001',
      'offset=-1', 'offset=2.0', 'offset=x', 'limit=1&limit=2']) {
      assertError(await c.get(`/runs?${q}`), 400, 'ERR_INVALID_ARG_VALUE');
    }
    assertError(await c.get('/runs?category=bogus'), 400, 'ERR_INVALID_ARG_VALUE');
    assertError(await c.get('/runs?category='), 400, 'ERR_INVALID_ARG_VALUE');
    assertError(await c.get('/runs?task='), 400, 'ERR_INVALID_ARG_VALUE');
    assertError(await c.get('/runs?limt=5'), 400, 'ERR_INVALID_ARG_VALUE');
    assertError(await c.get('/queue?x=1'), 400, 'ERR_INVALID_ARG_VALUE');
  });

  test('GET /runs/:id: the run, 404 when unknown', async () => {
    const { run } = (await c.post('/tasks/echo/runs', { params: 'p' })).json;
    const res = await c.get(`/runs/${run.id}`);
    assert.equal(res.status, 200);
    assert.equal(res.json.run.id, run.id);
    assert.equal(res.json.cache, false);
    assert.match(res.json.cache_time, ISO);
    await finished(run.id);
    assertError(await c.get('/runs/no-such-run'), 404, 'ERR_RUN_NOT_FOUND');
    assertError(await c.get('/runs/%E0%A4%A'), 400, 'ERR_INVALID_ARG_VALUE');
  });

  test('POST /runs/:id/cancel: a running run → -125, a queued one removed, 409 when finished, 404 when unknown', async () => {
    const running = (await c.post('/tasks/hold/runs', { key: 'api:cancel:running' })).json.run;
    await c.until(`/runs/${running.id}`, (j) => j.run.category === 'inProcess');
    // One worker, busy: this one stays queued.
    const queued = (await c.post('/tasks/echo/runs', { key: 'api:cancel:queued' })).json.run;
    assert.equal((await c.get(`/runs/${queued.id}`)).json.run.category, 'init');
    const depth = (await c.get('/queue')).json.depth;
    assert.ok(depth >= 1);

    const q = await c.post(`/runs/${queued.id}/cancel`);
    assert.equal(q.status, 202, q.text);
    assert.equal(q.json.run.status, -125);
    assert.equal((await c.get('/queue')).json.depth, depth - 1);

    const r = await c.post(`/runs/${running.id}/cancel`);
    assert.equal(r.status, 202, r.text);
    const after = await finished(running.id);
    assert.equal(after.run.status, -125);
    assert.equal(after.run.category, 'errno');
    assert.equal(after.run.statusMessage, 'ECANCELED: Operation Canceled');

    const before = await snapshot();
    assertError(await c.post(`/runs/${running.id}/cancel`), 409, 'ERR_RUN_FINISHED');
    assertError(await c.post(`/runs/${queued.id}/cancel`), 409, 'ERR_RUN_FINISHED');
    assertError(await c.post('/runs/no-such-run/cancel'), 404, 'ERR_RUN_NOT_FOUND');
    assertError(await c.post(`/runs/${running.id}/cancel`, 'nope'), 400, 'ERR_INVALID_JSON');
    assertError(await c.post(`/runs/${running.id}/cancel`, { force: true }), 400, 'ERR_INVALID_ARG_VALUE');
    assert.deepEqual(await snapshot(), before);
  });

  test('GET /queue: depth, inFlight, delayed, deadLetters', async () => {
    const res = await c.get('/queue');
    assert.equal(res.status, 200);
    for (const k of ['depth', 'inFlight', 'delayed', 'deadLetters']) assert.ok(Number.isInteger(res.json[k]) && res.json[k] >= 0, k);
    assert.equal(res.json.cache, false);
  });

  test('GET /status-codes: the band table and named codes', async () => {
    const res = await c.get('/status-codes');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.bands, JSON.parse(JSON.stringify(STATUS_BANDS)));
    assert.deepEqual(res.json.codes, { ...Status });
  });

  test('GET /dead-letters and POST /dead-letters/:id/retry', async () => {
    const { run } = (await c.post('/tasks/reject/runs', { key: 'api:dead', params: { x: 1 } })).json;
    await finished(run.id);
    const list = await c.until('/dead-letters', (j) => j.deadLetters.some((d) => d.runId === run.id));
    const dl = list.deadLetters.find((d) => d.runId === run.id);
    assert.equal(dl.task, 'reject');
    assert.equal(dl.key, 'api:dead');
    assert.equal(dl.status, -900);
    assert.equal(typeof dl.statusMessage, 'string');
    assert.match(dl.failedAt, ISO);
    const queueBefore = (await c.get('/queue')).json.deadLetters;
    assert.ok(queueBefore >= 1);

    const res = await c.post(`/dead-letters/${encodeURIComponent(dl.id)}/retry`);
    assert.equal(res.status, 202, res.text);
    assert.notEqual(res.json.run.id, run.id, 'a retry is a new run');
    assert.equal(res.json.run.task, 'reject');
    assert.equal(res.json.run.key, 'api:dead');
    assert.deepEqual(res.json.run.params, { x: 1 });
    await finished(res.json.run.id);

    const before = await snapshot();
    assertError(await c.post('/dead-letters/no-such-letter/retry'), 404, 'ERR_DEAD_LETTER_NOT_FOUND');
    assertError(await c.post(`/dead-letters/${encodeURIComponent(dl.id)}/retry`), 404, 'ERR_DEAD_LETTER_NOT_FOUND');
    assertError(await c.post('/dead-letters/x/retry', '{'), 400, 'ERR_INVALID_JSON');
    assert.deepEqual(await snapshot(), before);
  });

  test('unknown path → 404; known path, wrong method → 405 with Allow', async () => {
    for (const p of ['/nope', '/runs/', '/runs/x/y', '/tasks/echo', '/tasks/echo/runs/x', '/health/', '//health']) {
      assertError(await c.get(p), 404, 'ERR_NOT_FOUND');
    }
    const cases = [
      ['POST', '/runs', 'GET, HEAD'],
      ['DELETE', '/runs/x', 'GET, HEAD'],
      ['PUT', '/health', 'GET, HEAD'],
      ['GET', '/tasks/echo/runs', 'POST'],
      ['GET', '/runs/x/cancel', 'POST'],
      ['GET', '/dead-letters/x/retry', 'POST'],
      ['POST', '/', 'GET, HEAD'],
      ['PATCH', '/queue', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await c.request(method, path);
      assertError(res, 405, 'ERR_METHOD_NOT_ALLOWED');
      assert.equal(res.headers.allow, allow, `${method} ${path}`);
    }
  });

  test('HEAD answers like GET without a body', async () => {
    const res = await c.request('HEAD', '/health');
    assert.equal(res.status, 200);
    assert.equal(res.text, '');
    assert.match(res.headers['content-type'], /^application\/json/);
  });

  test('GET / serves the dashboard page', async () => {
    const res = await c.get('/');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.match(res.text, /<title>evloop tasks<\/title>/);
    assert.doesNotMatch(res.text, /<script[^>]+src=|<link[^>]+href="(?!data:)|https?:\/\//, 'self-contained: nothing loaded from elsewhere');
  });

  test('a malformed HTTP request gets a 400 and the server keeps serving', async () => {
    const text = await new Promise((resolve, reject) => {
      const s = net.connect(fx.api.port, '127.0.0.1', () => s.write('GARBAGE\r\n\r\n'));
      let out = '';
      s.on('data', (d) => { out += d; });
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
    assert.match(text, /^HTTP\/1\.1 400/);
    assert.equal((await c.get('/health')).status, 200);
  });

  test('an operations error with no known code is a 500 that does not leak, and is logged', async () => {
    const ops = {
      health: () => { throw new Error('secret detail'); },
      onChange: () => () => {},
    };
    const lines = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (...a) => lines.push(a), critical() {} };
    const api = await startApiServer(ops, { logger });
    try {
      const r = await new Promise((resolve, reject) => {
        http.get(`${api.url}/health`, (m) => {
          let t = '';
          m.on('data', (d) => { t += d; });
          m.on('end', () => resolve({ status: m.statusCode, json: JSON.parse(t) }));
        }).on('error', reject);
      });
      assert.equal(r.status, 500);
      assert.deepEqual(r.json, { error: { code: 'ERR_INTERNAL', message: 'internal error' } });
      assert.equal(lines.length, 1);
      assert.match(String(lines[0][1].message), /secret detail/);
    } finally {
      await api.close();
    }
  });

  test('startApiServer checks its arguments', async () => {
    const ops = { onChange: () => () => {} };
    await assert.rejects(startApiServer(null), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(startApiServer(ops, 5), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(startApiServer(ops, { port: -1 }), { code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(startApiServer(ops, { port: 'x' }), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(startApiServer(ops, { host: 1 }), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(startApiServer(ops, { cacheTtl: -5 }), { code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(startApiServer(ops, { bodyLimit: 1.5 }), { code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(startApiServer(ops, { logger: 42 }), { code: 'ERR_INVALID_ARG_TYPE' });
    // A port in use is the listen error, and nothing stays subscribed or open.
    let subscribed = 0;
    const counting = { onChange: () => { subscribed++; return () => { subscribed--; }; } };
    await assert.rejects(startApiServer(counting, { port: fx.api.port }), { code: 'EADDRINUSE' });
    assert.equal(subscribed, 0);
  });

  test('close() ends keep-alive connections and resolves; the port is free again', async () => {
    const ops = { health: () => ({ status: 'ok', queue: 'memory', scanner: 'off', workers: 0 }), onChange: () => () => {} };
    const api = await startApiServer(ops, { logger: { debug() {}, info() {}, warn() {}, error() {}, critical() {} } });
    const agent = new http.Agent({ keepAlive: true });
    await new Promise((resolve, reject) => http.get(`${api.url}/health`, { agent }, (r) => { r.resume(); r.on('end', resolve); }).on('error', reject));
    await api.close();
    await api.close();
    agent.destroy();
    const again = await startApiServer(ops, { port: api.port, logger: { debug() {}, info() {}, warn() {}, error() {}, critical() {} } });
    assert.equal(again.port, api.port);
    await again.close();
  });

  test('a client that leaves in the middle of a body changes nothing, and the server keeps serving', async () => {
    const before = await snapshot();
    await new Promise((resolve, reject) => {
      const s = net.connect(fx.api.port, '127.0.0.1', () => {
        s.write('POST /tasks/echo/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"key": "api:gone"');
        // Destroy once the server has surely read the headers: after a full round trip on a second connection.
        c.get('/health').then(() => { s.destroy(); resolve(); }, reject);
      });
      s.on('error', reject);
    });
    assert.equal((await c.get('/health')).status, 200);
    assert.deepEqual(await snapshot(), before);
    assert.deepEqual(fx.logger.lines.filter((l) => l.desc === 'api request failed'), []);
  });

  test('a client that keeps sending past a refused body is cut off (nothing kept, no hang)', async () => {
    const ops = { onChange: () => () => {} };
    const api = await startApiServer(ops, { bodyLimit: 1024, logger: { debug() {}, info() {}, warn() {}, error() {}, critical() {} } });
    try {
      const { status, closed } = await new Promise((resolve) => {
        const s = net.connect(api.port, '127.0.0.1');
        let text = '';
        let sent = 0;
        const chunk = Buffer.alloc(4096, 0x20);
        const pump = () => {
          // Far past the 8× drain allowance: 1 MiB against a 1 KiB limit.
          while (sent < 1024 * 1024) {
            sent += chunk.length;
            const hex = chunk.length.toString(16);
            if (!s.write(`${hex}\r\n${chunk}\r\n`)) return s.once('drain', pump);
          }
        };
        s.on('connect', () => {
          s.write('POST /tasks/echo/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
          pump();
        });
        s.on('data', (d) => { text += d; });
        s.on('error', () => {});
        s.on('close', () => resolve({ status: /^HTTP\/1\.1 (\d+)/.exec(text)?.[1], closed: true }));
      });
      assert.equal(status, '413');
      assert.ok(closed);
    } finally {
      await api.close();
    }
  });

  test('close() while a request is in flight: it is answered (Connection: close), then close() resolves', async () => {
    let answer;
    let asked;
    const askedP = new Promise((r) => { asked = r; });
    const ops = {
      onChange: () => () => {},
      getRun: () => new Promise((resolve) => { answer = resolve; asked(); }),
    };
    const quiet = { debug() {}, info() {}, warn() {}, error() {}, critical() {} };
    const api = await startApiServer(ops, { logger: quiet });
    const agent = new http.Agent({ keepAlive: true });
    const response = new Promise((resolve, reject) => {
      http.get(`${api.url}/runs/r1`, { agent }, (r) => {
        let t = '';
        r.on('data', (d) => { t += d; });
        r.on('end', () => resolve({ status: r.statusCode, connection: r.headers.connection, json: JSON.parse(t) }));
      }).on('error', reject);
    });
    await askedP;
    let closed = false;
    const closing = api.close().then(() => { closed = true; });
    await new Promise((r) => setImmediate(r));
    assert.equal(closed, false, 'close() waits for the request in flight');
    answer({ id: 'r1' });
    const res = await response;
    assert.equal(res.status, 200);
    assert.equal(res.connection, 'close');
    assert.equal(res.json.run.id, 'r1');
    await closing;
    agent.destroy();
  });
};
