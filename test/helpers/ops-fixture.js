'use strict';
// An operations layer with real tasks behind the REST API, for the API, cache and dashboard
// suites, and a small HTTP client for them.
//   echo     returns its params (status 0)
//   hold     runs until release(key) (or until cancelled)
//   reject   throws NotRepeatableError: dead letter at once (-900)
const http = require('http');
const { startApiServer, NotRepeatableError } = require('evloop');

// A stand-in for the memory TaskOps, until the real one is on this branch.
function createFakeOps({ workers = 1, tasks }) {
  const runs = new Map();
  const order = [];
  const queued = [];
  const deadLetters = new Map();
  const listeners = new Set();
  let running = 0;
  let nextId = 1;
  const emit = (change) => { for (const l of listeners) l(change); };
  const codedErr = (code, message) => Object.assign(new Error(message), { code });
  const categoryOf = (s) => require('evloop').statusCategory(s);
  const set = (run, status, extra = {}) => {
    Object.assign(run, extra, { status, statusMessage: require('evloop').statusMessage(status), category: categoryOf(status) });
    emit({ kind: 'run', runId: run.id, task: run.task });
  };
  const pump = () => {
    while (running < workers && queued.length) {
      const run = queued.shift();
      running++;
      run.attempts++;
      const ac = new AbortController();
      run._abort = ac;
      set(run, 100, { startedAt: new Date().toISOString() });
      emit({ kind: 'queue' });
      Promise.resolve()
        .then(() => tasks[run.task].run(run.params, { id: run.id, key: run.key, signal: ac.signal }))
        .then((result) => {
          if (run.status !== 100) return;
          set(run, 0, { result, endedAt: new Date().toISOString() });
        }, (err) => {
          if (run.status !== 100) return;
          const status = require('evloop').statusOfError(err);
          set(run, status, { error: { message: err.message, code: err.code }, endedAt: new Date().toISOString() });
          if (status !== -125) {
            const dl = { id: `dl-${run.id}`, runId: run.id, task: run.task, key: run.key, status, statusMessage: run.statusMessage, failedAt: run.endedAt };
            deadLetters.set(dl.id, dl);
            emit({ kind: 'deadLetter', runId: run.id, task: run.task });
          }
        })
        .finally(() => { running--; emit({ kind: 'queue' }); pump(); });
    }
  };
  const active = (key) => [...runs.values()].some((r) => r.key === key && r.status > 0);
  const ops = {
    health: () => ({ status: 'ok', queue: 'memory', scanner: 'off', workers }),
    listTasks: () => Object.keys(tasks).map((name) => ({ name, retries: 0, timeout: 30000, retryDelay: 1000 })),
    async startRun(task, input) {
      if (!tasks[task]) throw codedErr('ERR_UNKNOWN_TASK', `unknown task ${task}`);
      const id = `run-${nextId++}`;
      const key = input.key ?? id;
      if (active(key)) throw codedErr('ERR_DUPLICATE_KEY', `a run with key ${key} is queued or running`);
      const run = { id, task, key, params: input.params ?? null, status: 1, statusMessage: 'init', category: 'init', attempts: 0, createdAt: new Date().toISOString() };
      runs.set(id, run);
      order.unshift(id);
      queued.push(run);
      emit({ kind: 'run', runId: id, task });
      queueMicrotask(pump);
      return view(run);
    },
    async getRun(id) { const r = runs.get(id); return r && view(r); },
    async listRuns(q) {
      let all = order.map((id) => runs.get(id));
      if (q.task) all = all.filter((r) => r.task === q.task);
      if (q.category) all = all.filter((r) => r.category === q.category);
      return { runs: all.slice(q.offset, q.offset + q.limit).map(view), total: all.length };
    },
    async cancelRun(id) {
      const run = runs.get(id);
      if (!run) throw codedErr('ERR_RUN_NOT_FOUND', `no run ${id}`);
      if (run.status <= 0) throw codedErr('ERR_RUN_FINISHED', `run ${id} has finished`);
      const i = queued.indexOf(run);
      if (i >= 0) queued.splice(i, 1);
      else run._abort.abort();
      set(run, -125, { endedAt: new Date().toISOString() });
      return view(run);
    },
    async queueStats() { return { depth: queued.length, inFlight: running, delayed: 0, deadLetters: deadLetters.size }; },
    async listDeadLetters() { return [...deadLetters.values()]; },
    async retryDeadLetter(id) {
      const dl = deadLetters.get(id);
      if (!dl) throw codedErr('ERR_DEAD_LETTER_NOT_FOUND', `no dead letter ${id}`);
      const run = await ops.startRun(dl.task, { key: dl.key, params: runs.get(dl.runId).params });
      deadLetters.delete(id);
      emit({ kind: 'deadLetter' });
      return run;
    },
    onChange(l) { listeners.add(l); return () => listeners.delete(l); },
    async close() {},
  };
  const view = (r) => { const { _abort, ...rest } = r; return JSON.parse(JSON.stringify(rest)); };
  return ops;
}

/** Starts an operations layer with the fixture tasks and the API on a free loopback port. */
async function startFixture({ workers = 1, cacheTtl = 1000, bodyLimit } = {}) {
  const holds = new Map();
  const tasks = {
    echo: { run: async (params) => params ?? null },
    hold: {
      run: (params, ctx) => new Promise((resolve, reject) => {
        holds.set(ctx.key, resolve);
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
      }),
    },
    reject: { run: async () => { throw new NotRepeatableError('refused on purpose'); } },
  };
  const ops = createFakeOps({ workers, tasks });
  const options = { cacheTtl, logger: quietLogger() };
  if (bodyLimit !== undefined) options.bodyLimit = bodyLimit;
  const api = await startApiServer(ops, options);
  const client = new Client(api.url);
  return {
    ops,
    api,
    client,
    /** Lets the `hold` run with this key finish with its params. */
    release(key, value = 'released') {
      const resolve = holds.get(key);
      if (!resolve) throw new Error(`no hold run with key ${key} is running`);
      holds.delete(key);
      resolve(value);
    },
    isHeld: (key) => holds.has(key),
    async close() {
      await api.close();
      await ops.close();
    },
  };
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
