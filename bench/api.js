'use strict';
// A hot `GET /runs` over 10,000 runs, cached against uncached: the embedded TaskOps with 10,000
// finished runs behind the REST API on 127.0.0.1, loaded by autocannon from a child process (so
// the load generator does not share the server's thread). Rounds alternate cached / uncached
// (`Cache-Control: no-cache`), and the table shows medians and the ratios. On a shared machine the
// load generator is often the limit, so the server's own CPU time per request is shown as well.
//   node bench/api.js [--runs 10000] [--seconds 4] [--rounds 2] [--connections 10] [--path /runs?limit=50]
const { execFile } = require('child_process');
const { run, createTaskOps, startApiServer } = require('..');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const RUNS = Number(arg('runs', 10_000));
const SECONDS = Number(arg('seconds', 4));
const ROUNDS = Number(arg('rounds', 2));
const CONNECTIONS = Number(arg('connections', 10));
const PATH = arg('path', '/runs?limit=50');
const AUTOCANNON = require.resolve('autocannon/autocannon.js');

const quiet = { debug() {}, info() {}, warn() {}, error: (...a) => console.error(...a), critical: (...a) => console.error(...a) };

function autocannon(url, headers) {
  const args = [AUTOCANNON, '--json', '-c', String(CONNECTIONS), '-d', String(SECONDS)];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  args.push(url);
  const cpu0 = process.cpuUsage();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 1 << 24 }, (err, stdout) => {
      if (err) return reject(err);
      const cpu = process.cpuUsage(cpu0);
      const r = JSON.parse(stdout);
      resolve({
        rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors,
        usPerReq: (cpu.user + cpu.system) / r.requests.total,
      });
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

run(async () => {
  const ops = createTaskOps({ tasks: { noop: { run: async () => null } }, workers: 4, logger: quiet, maxFinishedRuns: RUNS });
  ops.start();
  for (let i = 0; i < RUNS; i++) await ops.startRun('noop', { params: { i } });
  while ((await ops.listRuns({ category: 'success', limit: 0, offset: 0 })).total < RUNS) await new Promise((r) => setTimeout(r, 20));
  const api = await startApiServer(ops, { logger: quiet, cacheTtl: 1000 });
  const url = api.url + PATH;
  const results = { cached: [], uncached: [] };
  for (let round = 0; round < ROUNDS; round++) {
    results.cached.push(await autocannon(url, {}));
    results.uncached.push(await autocannon(url, { 'Cache-Control': 'no-cache' }));
  }
  await api.close();
  await ops.stop();

  console.log(`GET ${PATH} over ${RUNS} runs: ${ROUNDS} rounds x ${SECONDS} s, ${CONNECTIONS} connections, medians`);
  console.log('mode        req/s    p50 ms   p99 ms   server us/req   non-2xx');
  for (const mode of ['cached', 'uncached']) {
    const rs = results[mode];
    const row = [mode.padEnd(9), String(Math.round(median(rs.map((r) => r.rps)))).padStart(8),
      String(median(rs.map((r) => r.p50))).padStart(8), String(median(rs.map((r) => r.p99))).padStart(8),
      median(rs.map((r) => r.usPerReq)).toFixed(1).padStart(14),
      String(rs.reduce((n, r) => n + r.non2xx + r.errors, 0)).padStart(9)];
    console.log(row.join('  '));
  }
  const m = (mode, f) => median(results[mode].map(f));
  console.log(`cached / uncached: ${(m('cached', (r) => r.rps) / m('uncached', (r) => r.rps)).toFixed(2)}x req/s, ` +
    `${(m('uncached', (r) => r.usPerReq) / m('cached', (r) => r.usPerReq)).toFixed(2)}x less server CPU per request`);
}).catch((err) => {
  console.error(err);
  process.exit(1);
});
