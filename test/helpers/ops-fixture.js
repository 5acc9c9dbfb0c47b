'use strict';
// An operations layer with real tasks behind the REST API, for the API, cache and dashboard
// suites, and a small HTTP client for them.
//   echo     returns its params (status 0)
//   hold     runs until release(key) (or until cancelled)
//   reject   throws NotRepeatableError: dead letter at once (-900)
const http = require('http');
const { run, createTaskOps, startApiServer, NotRepeatableError, RedisQueue, RedisRunStore } = require('evloop');

let fixtures = 0;

/**
 * Starts the embedded TaskOps (createTaskOps, on its own evloop run()) with the fixture tasks and
 * the API on a free loopback port; close() stops both and ends the run. `redis`: a server URL —
 * the queue and the run records are then on Redis (under `queue`, a fresh name by default, or a
 * name shared with another fixture: two processes' views of one queue).
 */
function startFixture({ workers = 1, cacheTtl = 1000, bodyLimit, redis, queue, scanner = true } = {}) {
  const holds = new Map();
  const tasks = {
    echo: { run: async (params) => params ?? null },
    hold: {
      run: (params, ctx) => new Promise((resolve, reject) => {
        holds.set(ctx.key, resolve);
        ctx.signal.addEventListener('abort', () => {
          holds.delete(ctx.key);
          reject(ctx.signal.reason);
        }, { once: true });
      }),
    },
    reject: { run: async () => { throw new NotRepeatableError('refused on purpose'); } },
  };
  const logger = quietLogger();
  return new Promise((resolveFixture, rejectFixture) => {
    let stop;
    const stopped = new Promise((r) => { stop = r; });
    const loopDone = run(async () => {
      // A scan that finds nothing due: the scanner runs (and shows as active) without adding runs.
      const name = queue ?? `fixture-${process.pid}-${++fixtures}`;
      const redisQueue = redis === undefined ? undefined : new RedisQueue({ url: redis, name, visibilityTimeout: 5000 });
      const store = redisQueue === undefined ? undefined : new RedisRunStore({ client: redisQueue.client, name });
      const ops = createTaskOps({ tasks, workers, logger, due: async () => [], interval: 1000, scanner, queue: redisQueue, store });
      ops.start();
      const options = { cacheTtl, logger };
      if (bodyLimit !== undefined) options.bodyLimit = bodyLimit;
      let api;
      try {
        api = await startApiServer(ops, options);
      } catch (err) {
        await ops.stop({ timeout: 0 });
        await store?.close();
        await redisQueue?.close();
        throw err;
      }
      const client = new Client(api.url);
      resolveFixture({
        ops,
        api,
        client,
        logger,
        /** Lets the `hold` run with this key finish with `value`. */
        release(key, value = 'released') {
          const resolve = holds.get(key);
          if (!resolve) throw new Error(`no hold run with key ${key} is running`);
          holds.delete(key);
          resolve(value);
        },
        isHeld: (key) => holds.has(key),
        close() {
          stop();
          return loopDone;
        },
      });
      await stopped;
      await api.close();
      // Whatever still holds is cancelled and requeued: the fixture does not keep runs.
      await ops.stop({ timeout: 0 });
      await store?.close();
      await redisQueue?.close();
    });
    loopDone.catch(rejectFixture);
  });
}

function quietLogger() {
  const lines = [];
  const add = (level) => (desc, detail, key) => lines.push({ level, desc, detail, key });
  return { lines, debug: add('debug'), info: add('info'), warn: add('warn'), error: add('error'), critical: add('critical') };
}

class Client {
  constructor(url) {
    this.url = new URL(url);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  }

  /** One request; resolves with { status, headers, text, json }. */
  request(method, path, { body, headers = {}, agent } = {}) {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.isBuffer(body) || typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
      const h = { ...headers };
      if (payload) { h['Content-Type'] ??= 'application/json'; h['Content-Length'] = payload.length; }
      const req = http.request({ host: this.url.hostname, port: this.url.port, method, path, headers: h, agent: agent ?? this.agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
          resolve({ status: res.statusCode, headers: res.headers, text, json });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  get(path, headers) { return this.request('GET', path, { headers }); }
  post(path, body, headers) { return this.request('POST', path, { body, headers }); }

  /** Polls GET `path` (bypassing no cache) until `predicate(json)`; fails after `ms`. */
  async until(path, predicate, { ms = 10_000, headers } = {}) {
    const deadline = Date.now() + ms;
    for (;;) {
      const res = await this.get(path, headers);
      if (res.status === 200 && predicate(res.json)) return res.json;
      if (Date.now() > deadline) throw new Error(`timed out waiting on ${path}: last answer ${res.text}`);
      await new Promise((r) => setTimeout(r, 10)); // a poll interval, not a synchronisation point
    }
  }

  close() { this.agent.destroy(); }
}

module.exports = { startFixture, Client };
