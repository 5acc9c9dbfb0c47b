'use strict';
// `npm run bench`: runs each bench file in turn (each prints its own table), then a short echo-rig
// run for the echo rows, then the speed table: every headline ratio of this one run, with its goal.
// `npm run bench -- --no-echo` leaves the echo rig out (`npm run bench:echo` is its full run).
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { printTable } = require('./summary');

const files = ['loop.js', 'promise-hooks.js', 'await-designs.js', 'sync.js', 'pool.js', 'pool-client.js', 'connections.js', 'subprocess.js', 'tls.js', 'ops.js', 'api.js', 'redis.js', 'redis-queue.js'];
const summary = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-bench-')), 'summary.jsonl');
const env = { ...process.env, EVLOOP_BENCH_SUMMARY: summary };

for (const f of files) {
  console.log(`\n=== bench/${f}`);
  if ((f === 'redis.js' || f === 'redis-queue.js') && !hasRedisServer()) {
    console.log('skipped: no redis-server on PATH (apt-get install redis-server)');
    continue;
  }
  execFileSync(process.execPath, [path.join(__dirname, f)], { stdio: 'inherit', env });
  // The hook-cost row with both frame carriers (lib/core/context.ts), side by side in one run.
  if (f === 'promise-hooks.js') {
    console.log('\n=== bench/promise-hooks.js with EVLOOP_ASYNC_CONTEXT=hooks');
    execFileSync(process.execPath, [path.join(__dirname, f)], { stdio: 'inherit', env: { ...env, EVLOOP_ASYNC_CONTEXT: 'hooks' } });
  }
}
if (!process.argv.includes('--no-echo')) {
  console.log('\n=== bench/echo/run.js (scenarios b and c; `npm run bench:echo` runs them all)');
  // 9 rounds, and a window that other load skewed measured up to twice more: a 2 s window's
  // kernel time moves by ±8% on this VM and single rounds read 0.6–1.2× C (2026-12-02 03:09 run,
  // other load up to 47% of a core), while the (b)/(c) ratio rows sit within a few percent of
  // their goals; medians of 5, then 7, flipped rows from run to run.
  const args = ['--servers', 'evloop,evloop-streams,evloop-async,net,c-epoll', '--scenarios', 'b,c', '--rounds', '9', '--seconds', '2', '--retries', '2'];
  execFileSync(process.execPath, [path.join(__dirname, 'echo', 'run.js'), ...args], { stdio: 'inherit', env });
}
printTable(summary);
fs.rmSync(path.dirname(summary), { recursive: true, force: true });

function hasRedisServer() {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
