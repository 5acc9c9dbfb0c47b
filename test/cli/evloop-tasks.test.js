'use strict';
// The `evloop-tasks` command as a child process: its start-up line, its exit codes (0 after a
// graceful stop, 2 for bad usage), the tasks files it accepts and refuses.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const http = require('node:http');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'evloop-tasks.js');
const fixtures = path.join(root, 'test', 'helpers', 'tasks');
const hasApi = fs.existsSync(path.join(root, 'dist', 'ops', 'api', 'server.js'));

// A tasks file that throws when loaded lives outside test/ (the runner would load it as a test).
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-tasks-cli-'));
const throwsOnLoad = path.join(scratch, 'throws-on-load.js');
fs.writeFileSync(throwsOnLoad, "'use strict';\nthrow new Error('this tasks file is broken');\n");
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** Spawns the command; `waitFor(re)` resolves with the match once stdout shows it; `exit` resolves to { code, signal, stdout, stderr }. */
function cli(args, env = {}) {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const watchers = [];
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    for (const w of watchers.slice()) {
      const m = w.re.exec(stdout);
      if (m) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exit = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  const waitFor = (re) =>
    new Promise((resolve, reject) => {
      const m = re.exec(stdout);
      if (m) return resolve(m);
      // Never wait forever on a child that hangs: kill it, and the test fails with what it printed.
      const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
      watchers.push({ re, resolve: (m) => (clearTimeout(guard), resolve(m)) });
      exit.then((r) => {
        clearTimeout(guard);
        reject(new Error(`exited (${r.code ?? r.signal}) before ${re}: stdout ${r.stdout} stderr ${r.stderr}`));
      });
    });
  return { child, exit, waitFor };
}

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

test('--help prints the usage and exits 0', async () => {
  const { code, stdout } = await cli(['--help']).exit;
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: evloop-tasks --tasks FILE/);
  for (const flag of ['--host', '--port', '--workers', '--interval', '--visibility-timeout', '--cache-ttl', '--redis', '--queue', '--max-runs', '--max-run-age', '--no-api', '--no-scanner']) {
    assert.ok(stdout.includes(flag), flag);
  }
});

test('bad usage exits 2 with a clear message and the usage', async () => {
  const tasks = path.join(fixtures, 'cli-tasks.js');
  const cases = [
    [[], /--tasks FILE is required/],
    [['--tasks'], /Option '--tasks <value>' argument missing/],
    [['--tasks', tasks, '--bogus'], /Unknown option '--bogus'/],
    [['--tasks', tasks, 'extra'], /Unexpected argument 'extra'/],
    [['--tasks', tasks, '--port', 'abc'], /--port must be a whole number, got "abc"/],
    [['--tasks', tasks, '--port', '70000'], /--port must be between 0 and 65535, got 70000/],
    [['--tasks', tasks, '--workers', '2.5'], /--workers must be a whole number/],
    [['--tasks', tasks, '--interval', '0'], /--interval must be between 1 and/],
    [['--tasks', tasks, '--visibility-timeout', '-5'], /Option '--visibility-timeout' argument is ambiguous/],
    [['--tasks', tasks, '--visibility-timeout=-5'], /--visibility-timeout must be a whole number, got "-5"/],
    [['--tasks', tasks, '--cache-ttl', 'soon'], /--cache-ttl must be a whole number/],
    [['--tasks', tasks, '--host', ''], /--host must not be empty/],
    [['--tasks', tasks, '--queue', 'has space'], /--queue must be/],
    [['--tasks', tasks, '--max-runs', 'all'], /--max-runs must be a whole number, got "all"/],
    [['--tasks', tasks, '--max-run-age', '1.5'], /--max-run-age must be a whole number, got "1.5"/],
    [['--tasks', tasks, '--redis', 'localhost:6379'], /--redis must be a redis:\/\/HOST:PORT URL/],
    [['--tasks', tasks, '--redis', 'rediss://127.0.0.1:6379'], /--redis: TLS \(rediss:\/\/\) is not supported yet/],
    [['--tasks', path.join(fixtures, 'missing.js'), '--no-api'], /tasks file not found: .*missing\.js/],
    [['--tasks', path.join(fixtures, 'no-tasks.js'), '--no-api'], /tasks file .*no-tasks\.js must export \{ tasks: \{ name: \{ run, … \} \}, due\? \}/],
    [['--tasks', path.join(fixtures, 'bad-definition.js'), '--no-api'], /tasks file .*bad-definition\.js: The value of "tasks\.t\.retries" is out of range/],
    [['--tasks', throwsOnLoad, '--no-api'], /cannot load tasks file .*: this tasks file is broken/],
  ];
  const results = await Promise.all(cases.map(([args]) => cli(args).exit));
  results.forEach((r, i) => {
    const [args, re] = cases[i];
    assert.equal(r.code, 2, `${args.join(' ')}: exit code (stderr: ${r.stderr})`);
    assert.match(r.stderr, new RegExp(`^evloop-tasks: ${re.source}`, 'm'), args.join(' '));
    assert.match(r.stderr, /Usage: evloop-tasks/);
    assert.equal(r.stdout, '');
  });
});

test('--no-api: runs the scan and the workers; SIGINT lets the run in flight finish, exit 0', async () => {
  const p = cli(['--tasks', path.join(fixtures, 'cli-tasks.js'), '--no-api', '--workers', '2', '--interval', '50'], { HOLD_MS: '400' });
  await p.waitFor(/running without the API: 2 workers, scanner active\n/);
  await p.waitFor(/hold started\n/);
  p.child.kill('SIGINT');
  const { code, signal, stderr } = await p.exit;
  assert.equal(signal, null);
  assert.equal(code, 0, stderr);
  assert.match(stderr, / INFO {2}stopping, on SIGINT: running tasks get 10000 ms, then are requeued/);
  assert.match(stderr, / INFO {2}run finished, hold held: 0/);
  assert.match(stderr, / INFO {2}task operations stopped/);
  assert.ok(stderr.indexOf('run finished, hold held') < stderr.indexOf('task operations stopped'));
});

test('SIGTERM stops gracefully too; an ESM tasks file with named exports loads', async () => {
  const p = cli(['--tasks', path.join(fixtures, 'esm-tasks.mjs'), '--no-api', '--interval', '20']);
  await p.waitFor(/hello from esm\n/);
  p.child.kill('SIGTERM');
  const { code, stderr } = await p.exit;
  assert.equal(code, 0, stderr);
  assert.match(stderr, /run finished, hello once: 0/);
  assert.match(stderr, /stopping, on SIGTERM/);
});

test('--no-scanner: health says off, nothing runs by itself', async () => {
  const p = cli(['--tasks', path.join(fixtures, 'cli-tasks.js'), '--no-api', '--no-scanner', '--workers', '0']);
  await p.waitFor(/running without the API: 0 workers, scanner off\n/);
  p.child.kill('SIGINT');
  const { code, stdout } = await p.exit;
  assert.equal(code, 0);
  assert.doesNotMatch(stdout, /hold started/);
});

test(`the start-up line with the API (${hasApi ? 'this build serves it' : 'this build has no lib/ops/api: refused'})`, async () => {
  const p = cli(['--tasks', path.join(fixtures, 'cli-tasks.js'), '--port', '0', '--host', '127.0.0.1', '--interval', '50']);
  if (!hasApi) {
    const { code, stderr } = await p.exit;
    assert.equal(code, 2);
    assert.match(stderr, /the REST API is not part of this build \(lib\/ops\/api\); run with --no-api/);
    return;
  }
  const [, url] = await p.waitFor(/^listening on (http:\/\/127\.0\.0\.1:\d+)\n/m);
  const health = await getJson(`${url}/health`);
  assert.equal(health.status, 200);
  assert.equal(health.body.status, 'ok');
  assert.equal(health.body.queue, 'memory');
  assert.equal(health.body.scanner, 'active');
  assert.equal(health.body.workers, 4);
  // A second process on the same port fails at run time: exit 1, with the error.
  const taken = await cli(['--tasks', path.join(fixtures, 'cli-tasks.js'), '--port', url.split(':').pop()]).exit;
  assert.equal(taken.code, 1);
  assert.match(taken.stderr, /CRITICAL evloop-tasks failed, .*EADDRINUSE/);
  p.child.kill('SIGINT');
  const { code, stderr } = await p.exit;
  assert.equal(code, 0, stderr);
});

test('--redis: two processes share one queue and one scanner lease; both stop with exit 0 and release the lease', async () => {
  const { startRedisServer } = require('../helpers/redis-server');
  const server = await startRedisServer();
  try {
    const args = ['--tasks', path.join(fixtures, 'cli-tasks.js'), '--no-api', '--workers', '2', '--interval', '50', '--redis', server.url, '--queue', 'cli'];
    const a = cli(args);
    // The scanner reports standby until its first lease request is answered.
    await a.waitFor(/running without the API: 2 workers, scanner (active|standby)\n/);
    const b = cli(args);
    await b.waitFor(/running without the API: 2 workers, scanner (active|standby)\n/);
    // The shared queue: runs enqueued by the active scanner are taken by both processes' workers.
    await a.waitFor(/hold started\n/);
    for (const p of [a, b]) p.child.kill('SIGTERM');
    const [ra, rb] = await Promise.all([a.exit, b.exit]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    assert.equal(await server.command('EXISTS', 'evloop:queue:{cli}:lease'), '0', 'the lease was released');
    assert.equal(await server.command('XLEN', 'evloop:queue:{cli}:dead'), '0');
  } finally {
    await server.stop();
  }
});
