'use strict';
// The echo rig (`npm run bench:echo`, bench/echo/run.js) run for a moment, so it cannot rot:
// it builds its C tools, measures, prints the table, writes the JSON and the chart, and leaves
// no process behind — also when interrupted.
const { test } = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const RIG = path.join(__dirname, '..', '..', 'bench', 'echo', 'run.js');

function gone(pid) {
  try {
    // A zombie counts as gone: it has exited, only its parent has not reaped it yet.
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] === 'Z';
  } catch {
    return true;
  }
}

function rig(args, onStderr) {
  const child = spawn(process.execPath, [RIG, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c) => {
    stderr += c;
    onStderr?.(stderr, child);
  });
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

test('one short round of scenario (b) against evloop and net: table, JSON and chart with positive rates', async (t) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-rig-'));
  t.after(() => fs.rmSync(out, { recursive: true, force: true }));
  const run = await rig(['--rounds', '1', '--seconds', '0.3', '--warmup', '0.1', '--scenarios', 'b', '--servers', 'evloop,net', '--out', out]);
  assert.strictEqual(run.code, 0, run.stderr);

  // progress on stderr while it runs, the table on stdout
  assert.match(run.stderr, /round 1\/1 evloop \(pid \d+/);
  assert.match(run.stderr, /b_64c_64B .* msgs\/s .*\[2\/2\]/);
  const rows = run.stdout.split('\n').filter((l) => l.startsWith('b_64c_64B'));
  assert.deepStrictEqual(rows.map((l) => l.split(/\s+/)[1]), ['evloop', 'net']);
  for (const row of rows) assert.ok(Number(row.split(/\s+/)[2].replace(/,/g, '')) > 0, row);
  assert.match(run.stdout, /\| evloop \/ Node net \| \d+\.\d\d \|/);

  const doc = JSON.parse(fs.readFileSync(path.join(out, 'echo.json'), 'utf8'));
  assert.deepStrictEqual(doc.results.map((r) => r.server), ['evloop', 'net']);
  for (const r of doc.results) {
    assert.strictEqual(r.scenario, 'b_64c_64B');
    assert.ok(r.msgs_per_s > 0 && r.mb_per_s > 0 && r.p50_us > 0 && r.p99_us >= r.p50_us, JSON.stringify(r));
    assert.ok(r.us_per_msg > 0, `server CPU per message measured: ${JSON.stringify(r)}`);
    assert.deepStrictEqual(r.errors, []);
  }
  assert.ok(doc.results[0].vs_net > 0);
  assert.strictEqual(doc.results[1].vs_net, 1);

  const svg = fs.readFileSync(path.join(out, 'echo.svg'), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.strictEqual(svg.match(/<rect x=/g).length, 2, 'one bar per server');
  assert.match(svg, />evloop</);

  for (const r of doc.runs) assert.ok(gone(r.server_pid), `server ${r.server} (pid ${r.server_pid}) was stopped`);
});

// The rig's child processes, from /proc (Linux lists each thread's children).
function childrenOf(pid) {
  const pids = [];
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      pids.push(...fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      // the thread ended while we looked
    }
  }
  return pids;
}

test('interrupted (SIGINT) while measuring, it stops the server and the load generator', async (t) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-rig-'));
  t.after(() => fs.rmSync(out, { recursive: true, force: true }));
  let started = null;
  const run = await rig(['--rounds', '1', '--seconds', '60', '--warmup', '0', '--scenarios', 'b', '--servers', 'evloop', '--out', out], (stderr, child) => {
    if (started || !/round 1\/1 evloop \(pid \d+/.test(stderr)) return;
    started = [];
    // The server is up; interrupt once the load generator has started beside it.
    const poll = setInterval(() => {
      const pids = childrenOf(child.pid);
      if (pids.length < 2) return;
      clearInterval(poll);
      started = pids;
      child.kill('SIGINT');
    }, 20);
    child.once('exit', () => clearInterval(poll));
  });
  assert.strictEqual(started?.length, 2, run.stderr);
  assert.strictEqual(run.code, 130, run.stderr);
  assert.match(run.stderr, /SIGINT: stopping every process it started/);
  for (const pid of started) assert.ok(gone(pid), `pid ${pid} is gone`);
  assert.ok(!fs.existsSync(path.join(out, 'echo.json')), 'no results from an interrupted run');
});
