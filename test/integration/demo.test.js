'use strict';
// README's first command runs examples/demo.js (the main job); examples/streams-demo.js shows
// the streams layer. Keep both working.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const { startRedisServer } = require('../helpers/redis-server');

const root = path.join(__dirname, '..', '..');
const hasApi = fs.existsSync(path.join(root, 'dist', 'ops', 'api', 'server.js'));

test('the streams demo exchanges messages with an evloop server and exits cleanly', () => {
  const out = execFileSync(process.execPath, [path.join(root, 'examples', 'streams-demo.js')], { encoding: 'utf8', timeout: 60_000 });
  assert.match(out, /got "echo: hello, evloop"/);
  assert.match(out, /got "echo: asyncio, for Node\.js"/);
  assert.match(out, /sent a 1048576-byte line, got 1048582 bytes back/);
  assert.match(out, /task status -125 \(cancelled\)/);
  assert.match(out, /\ndone\n$/);
});

function getJson(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
      })
      .on('error', reject);
  });
}

test(`the main demo: API, dashboard, scanner and workers; SIGINT stops it with exit 0 (${hasApi ? 'with' : 'without'} lib/ops/api)`, async () => {
  const child = spawn(process.execPath, [path.join(root, 'examples', 'demo.js')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    if (!hasApi) {
      child.stdout.on('data', (c) => (stdout += c));
      const { code } = await exited;
      assert.equal(code, 1);
      assert.match(stderr, /This build has no REST API \(lib\/ops\/api\)/);
      return;
    }
    const url = await new Promise((resolve, reject) => {
      child.stdout.on('data', (c) => {
        stdout += c;
        const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout);
        if (m) resolve(m[1]);
      });
      exited.then(({ code }) => reject(new Error(`demo exited (${code}) before listening: ${stdout} ${stderr}`)));
    });
    const health = await getJson(`${url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(
      { status: health.body.status, queue: health.body.queue, scanner: health.body.scanner, workers: health.body.workers },
      { status: 'ok', queue: 'memory', scanner: 'active', workers: 4 },
    );
    assert.match(stdout, /^dashboard: http:\/\/127\.0\.0\.1:\d+\/$/m);
    assert.match(stdout, /^ {2}curl .*\/tasks\/resize\/runs$/m);
    child.kill('SIGINT');
    const { code, signal } = await exited;
    assert.equal(signal, null);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /\nstopped\n$/);
    assert.match(stderr, /INFO {2}stopping, on SIGINT/);
  } finally {
    clearTimeout(guard);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
});

/** Starts the demo with `args`; resolves to { child, url, exited, out() } once it listens. */
function startDemo(args) {
  const child = spawn(process.execPath, [path.join(root, 'examples', 'demo.js'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const url = new Promise((resolve, reject) => {
    child.stdout.on('data', (c) => {
      stdout += c;
      const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout);
      if (m) resolve(m[1]);
    });
    exited.then(({ code }) => reject(new Error(`demo exited (${code}) before listening: ${stdout} ${stderr}`)));
  });
  return { child, url, exited, out: () => ({ stdout, stderr }) };
}

test('npm run demo -- --redis URL: two demos on one Redis share the queue and the runs; SIGINT stops each with exit 0', async () => {
  const redis = await startRedisServer();
  const demos = [startDemo(['--redis', redis.url]), startDemo(['--redis', redis.url])];
  const guard = setTimeout(() => demos.forEach((d) => d.child.kill('SIGKILL')), 60_000);
  try {
    const [a, b] = await Promise.all(demos.map((d) => d.url));
    const health = await getJson(`${a}/health`);
    assert.equal(health.body.queue, 'redis');
    assert.match(demos[0].out().stdout, /^on Redis redis:\/\/127\.0\.0\.1:\d+, queue demo/m);
    // One scanner holds the lease; the other stands by. Both report standby until their first
    // lease request is answered, which may come after the API listens.
    const deadline = Date.now() + 30_000;
    let states;
    for (;;) {
      states = [(await getJson(`${a}/health`)).body.scanner, (await getJson(`${b}/health`)).body.scanner].sort();
      if (states.includes('active') || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50)); // a poll interval, not a synchronisation point
    }
    assert.deepEqual(states, ['active', 'standby']);
    // The scanned runs finish (resize succeeds every time) and both demos list the same runs.
    let listA;
    for (;;) {
      listA = (await getJson(`${a}/runs?task=resize&category=success&limit=5`)).body;
      if (listA.total >= 1) break;
      if (Date.now() > deadline) throw new Error(`no resize run succeeded: ${JSON.stringify(listA)}`);
      await new Promise((r) => setTimeout(r, 50)); // a poll interval, not a synchronisation point
    }
    const onB = (await getJson(`${b}/runs/${listA.runs[0].id}`)).body;
    assert.equal(onB.run.status, 0);
    for (const d of demos) d.child.kill('SIGINT');
    for (const d of demos) {
      const { code, signal } = await d.exited;
      assert.equal(signal, null);
      assert.equal(code, 0, d.out().stderr);
      assert.match(d.out().stdout, /\nstopped\n$/);
    }
  } finally {
    clearTimeout(guard);
    // A failed assertion leaves the demos running: they must not outlive the test.
    for (const d of demos) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    await Promise.all(demos.map((d) => d.exited));
    await redis.stop();
  }
});
