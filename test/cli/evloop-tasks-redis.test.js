'use strict';
// Run records on Redis, seen from several `evloop-tasks --redis` child processes on one real
// redis-server: a run started through process A's API and run by process B's worker is listed by
// both (A's cached answers are dropped by B's change, through the change feed, with a cache TTL of
// a minute); a run B executes is cancelled from A; a worker killed with kill -9 mid-run leaves the
// run to another process, which continues the shared attempts count; and A's dashboard (real
// Chromium) shows runs that B executes. Every step waits on an event or a bounded poll.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startRedisServer } = require('../helpers/redis-server');
const { Client } = require('../helpers/ops-fixture');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'evloop-tasks.js');
const CHROMIUM = '/usr/bin/chromium';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-runs-redis-'));
const TASKS = path.join(dir, 'tasks.js');
// echo: returns its params. hold: runs until cancelled, then prints ABORTED. crash: the first
// attempt ever (a file flag) prints BLOCKED and never ends (the test kills the process).
fs.writeFileSync(TASKS, `'use strict';
const fs = require('node:fs');
const { sleep } = require(${JSON.stringify(ROOT)});
module.exports = {
  tasks: {
    echo: { run: async (params) => params ?? null },
    hold: {
      run: (params, ctx) => new Promise((resolve, reject) => {
        process.stdout.write('HOLDING ' + ctx.id + '\\n');
        ctx.signal.addEventListener('abort', () => {
          process.stdout.write('ABORTED ' + ctx.id + '\\n');
          reject(ctx.signal.reason);
        }, { once: true });
      }),
    },
    crash: {
      async run(params, ctx) {
        let first = true;
        try { fs.writeFileSync(${JSON.stringify(path.join(dir, 'crashed-once'))}, String(process.pid), { flag: 'wx' }); } catch { first = false; }
        if (first) {
          process.stdout.write('BLOCKED ' + ctx.id + ' attempt ' + ctx.attempt + '\\n');
          for (;;) await sleep(1000);
        }
        return { attempt: ctx.attempt, pid: process.pid };
      },
    },
  },
};
`);

class Child {
  constructor(args) {
    this.proc = spawn(process.execPath, [BIN, '--tasks', TASKS, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.out = '';
    this.err = '';
    this.watchers = [];
    this.exited = new Promise((resolve) => this.proc.once('close', (code, signal) => resolve({ code, signal })));
    this.proc.stdout.on('data', (d) => {
      this.out += d;
      this.watchers = this.watchers.filter((w) => !w());
    });
    this.proc.stderr.on('data', (d) => (this.err += d));
  }

  /** The first match of `re` in stdout; rejects after `ms` or when the child exits first. */
  waitFor(re, ms = 20_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms:\n${this.out}\n${this.err}`)), ms);
      const check = () => {
        const m = re.exec(this.out);
        if (!m) return false;
        clearTimeout(timer);
        resolve(m);
        return true;
      };
      if (check()) return;
      this.watchers.push(check);
      this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`exited (${code ?? signal}) before ${re}:\n${this.out}\n${this.err}`));
      });
    });
  }

  async api() {
    const [, url] = await this.waitFor(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/m);
    this.url = url;
    this.client = new Client(url);
    return this.client;
  }

  async stop() {
    this.client?.close();
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    this.proc.kill('SIGTERM');
    return this.exited;
  }
}

let redis;
const children = [];
function start(args) {
  const c = new Child(['--redis', redis.url, ...args]);
  children.push(c);
  return c;
}

before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  for (const c of children) c.client?.close();
  await redis?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('two processes on one Redis: each lists every run, with the final status; cancel reaches the other process', { timeout: 120_000 }, async () => {
  // A only answers (no workers); B runs. Both cache answers for a minute: only change
  // notifications can make A show what B did.
  const a = start(['--queue', 'two', '--workers', '0', '--no-scanner', '--cache-ttl', '60000']);
  const b = start(['--queue', 'two', '--workers', '2', '--no-scanner', '--cache-ttl', '60000']);
  const [ca, cb] = await Promise.all([a.api(), b.api()]);
  assert.equal((await ca.get('/health')).json.queue, 'redis');

  // Started through A, executed by B.
  const posted = await ca.post('/tasks/echo/runs', { params: { n: 1 }, key: 'two:echo' });
  assert.equal(posted.status, 202, posted.text);
  const id = posted.json.run.id;
  const first = await ca.get(`/runs/${id}`);
  assert.equal(first.status, 200);
  const seenOnA = await ca.until(`/runs/${id}`, (j) => j.run.status === 0);
  assert.deepEqual(seenOnA.run.result, { n: 1 });
  assert.equal(seenOnA.run.attempts, 1);
  const seenOnB = (await cb.get(`/runs/${id}`)).json.run;
  assert.deepEqual(seenOnB, seenOnA.run);
  for (const c of [ca, cb]) {
    const list = (await c.get('/runs?task=echo&limit=10')).json;
    assert.ok(list.runs.some((r) => r.id === id && r.status === 0), JSON.stringify(list));
  }
  // A's run list was cached before B's run finished, and is dropped by it.
  const before = (await ca.get('/runs?category=success&limit=100')).json;
  const more = await cb.post('/tasks/echo/runs', { params: { n: 2 } });
  await cb.until(`/runs/${more.json.run.id}`, (j) => j.run.status === 0);
  const afterList = await ca.until('/runs?category=success&limit=100', (j) => j.total === before.total + 1, { ms: 5000 });
  assert.equal(afterList.runs[0].id, more.json.run.id, 'newest first');

  // Pagination and filters from either process: the same answer.
  for (let i = 0; i < 5; i++) await ca.post('/tasks/echo/runs', { params: { i }, key: `two:page:${i}` });
  await ca.until('/runs?task=echo&category=success&limit=100', (j) => j.total === 7);
  const pageA = (await ca.get('/runs?task=echo&limit=3&offset=2', { 'Cache-Control': 'no-cache' })).json;
  const pageB = (await cb.get('/runs?task=echo&limit=3&offset=2', { 'Cache-Control': 'no-cache' })).json;
  assert.equal(pageA.total, 7);
  assert.deepEqual(pageA.runs.map((r) => r.id), pageB.runs.map((r) => r.id));
  assert.deepEqual(pageA.runs.map((r) => r.params.i), [2, 1, 0]);

  // Cancel, from A, a run that B executes: the record says -125 at once, and B's handler is
  // interrupted (it prints ABORTED); B's late verdict does not overwrite it.
  const hold = (await ca.post('/tasks/hold/runs', { key: 'two:hold' })).json.run;
  await b.waitFor(new RegExp(`^HOLDING ${hold.id}$`, 'm'));
  await ca.until(`/runs/${hold.id}`, (j) => j.run.category === 'inProcess');
  const cancelled = await ca.post(`/runs/${hold.id}/cancel`);
  assert.equal(cancelled.status, 202, cancelled.text);
  assert.equal(cancelled.json.run.status, -125);
  await b.waitFor(new RegExp(`^ABORTED ${hold.id}$`, 'm'));
  const onB = await cb.until(`/runs/${hold.id}`, (j) => j.run.status === -125);
  assert.equal(onB.run.error.code, 'ERR_CANCELLED');
  await ca.until('/queue', (j) => j.inFlight === 0 && j.depth === 0, { headers: { 'Cache-Control': 'no-cache' } });
  const again = await cb.post(`/runs/${hold.id}/cancel`);
  assert.equal(again.status, 409);
  assert.equal(again.json.error.code, 'ERR_RUN_FINISHED');
  // The key is free again once the cancelled run's message is acknowledged.
  const next = await ca.post('/tasks/echo/runs', { key: 'two:hold' });
  assert.equal(next.status, 202, next.text);

  for (const c of [a, b]) assert.deepEqual(await c.stop(), { code: 0, signal: null });
});

test('kill -9 a worker mid-run: another process runs it, and the attempts count is shared', { timeout: 120_000 }, async () => {
  const api = start(['--queue', 'crash', '--workers', '0', '--no-scanner']);
  const w1 = start(['--queue', 'crash', '--workers', '1', '--no-scanner', '--no-api', '--visibility-timeout', '1000']);
  const c = await api.api();
  await w1.waitFor(/^running without the API/m);
  const { run } = (await c.post('/tasks/crash/runs', { key: 'crash:1' })).json;
  await w1.waitFor(new RegExp(`^BLOCKED ${run.id} attempt 1$`, 'm'));
  const running = await c.until(`/runs/${run.id}`, (j) => j.run.category === 'inProcess');
  assert.equal(running.run.attempts, 1);
  w1.proc.kill('SIGKILL');
  assert.equal((await w1.exited).signal, 'SIGKILL');
  // Another process picks the message up after the visibility time-out.
  start(['--queue', 'crash', '--workers', '1', '--no-scanner', '--no-api', '--visibility-timeout', '1000']);
  const done = await c.until(`/runs/${run.id}`, (j) => j.run.status === 0, { ms: 30_000 });
  assert.equal(done.run.attempts, 2);
  assert.equal(done.run.result.attempt, 2, 'the handler saw ctx.attempt 2');
  const list = (await c.get('/runs?task=crash', { 'Cache-Control': 'no-cache' })).json;
  assert.deepEqual(list.runs.map((r) => [r.id, r.status, r.attempts]), [[run.id, 0, 2]]);
  assert.equal(list.total, 1);
});

test('the dashboard served by one process shows runs another process executes (Chromium)', { timeout: 120_000 }, async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  const a = start(['--queue', 'dash', '--workers', '0', '--no-scanner']);
  const b = start(['--queue', 'dash', '--workers', '1', '--no-scanner']);
  const [ca] = await Promise.all([a.api(), b.api()]);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-dashboard-redis-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = [];
    page.on('pageerror', (err) => errors.push(err));
    await page.goto(`${a.url}/`);
    await page.locator('#queue-kind', { hasText: 'redis' }).waitFor();
    assert.equal(await page.textContent('#workers'), '0');
    // Started from A's page; only B has workers.
    await page.selectOption('#start-task', 'echo');
    await page.fill('#start-params', JSON.stringify({ from: 'page' }));
    await page.fill('#start-key', 'dash:page');
    await page.click('#start-button');
    const row = (key) => page.locator('#runs-body tr', { has: page.locator('td', { hasText: new RegExp(`^${key}$`) }) });
    await row('dash:page').locator('xpath=self::*[@data-status="0"]').waitFor({ timeout: 15_000 });
    // Started through B's API: it shows on A's page too, by polling alone.
    await b.client.post('/tasks/echo/runs', { key: 'dash:from-b' });
    await row('dash:from-b').locator('xpath=self::*[@data-status="0"]').waitFor({ timeout: 15_000 });
    assert.equal(await row('dash:from-b').getAttribute('data-category'), 'success');
    const runs = (await ca.get('/runs?task=echo', { 'Cache-Control': 'no-cache' })).json.runs;
    assert.deepEqual(runs.map((r) => r.key).sort(), ['dash:from-b', 'dash:page']);
    assert.deepEqual(errors.map(String), []);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
});

test('--max-runs bounds the finished run records kept in Redis', { timeout: 60_000 }, async () => {
  const p = start(['--queue', 'bounded', '--workers', '1', '--no-scanner', '--max-runs', '2', '--cache-ttl', '0']);
  const c = await p.api();
  const ids = [];
  for (let i = 0; i < 5; i++) {
    const { run } = (await c.post('/tasks/echo/runs', { params: { i } })).json;
    ids.push(run.id);
    await c.until(`/runs/${run.id}`, (j) => j.run.status === 0);
  }
  const list = (await c.get('/runs?limit=50')).json;
  assert.equal(list.total, 2);
  assert.deepEqual(list.runs.map((r) => r.id), [ids[4], ids[3]]);
  assert.equal((await c.get(`/runs/${ids[0]}`)).status, 404);
  assert.equal(await redis.command('EXISTS', `evloop:runs:{bounded}:r:${ids[0]}`), '0');
  assert.equal(await redis.command('ZCARD', 'evloop:runs:{bounded}:done'), '2');
  assert.deepEqual(await p.stop(), { code: 0, signal: null });
});
