'use strict';
// `npm run bench:echo`: the project's TCP echo benchmark rig.
//
// Echo servers run side by side on 127.0.0.1 against the rig's own C load generator
// (bench/echo/loadgen.c, compiled here with `cc -O2`), the server pinned to one core and the load
// generator to the other, so each server gets a whole core and the same client. Every server is
// started, measured in every scenario, and stopped; the order of servers rotates per round, and
// the figures are medians over the rounds. Server CPU comes from /proc/PID/stat over the measured
// window, so `us/msg` (server CPU per message) compares servers even where the load generator's
// core is the ceiling.
//
// Why this rig's `vs_C` is lower than ../shared/bench/run.sh's for the same evloop server (0.80
// against 1.09 of C's msgs/s in (b), the same week, both on a quiet machine): the C reference.
// This one is deliberately the stronger: bench/echo/echo_epoll.c reads every connection into
// one hot buffer with recv() and keeps state only for a connection with unsent bytes; the shared
// rig's echo_epoll.c keeps a 64 KiB buffer per connection (4 MiB for 64 connections, cold in
// cache), read() into it through a per-connection pointer. Side by side on the same load
// generator the shared server spent about 15–20% more CPU per message in (b), so ratios against it read
// that much kinder to evloop. The two load generators agree within noise on the same server, and
// the warm-up (1 s here, 0.5 s there) favours, if anything, the JS servers.
//
// Other load is the rig's other error on a shared machine: this is a closed loop, so a process
// that takes part of either core during a window cuts that window's msgs/s by up to half. So by
// default each window waits (up to --quiet seconds) for the rest of the machine to fall under
// QUIET_PCT % of a core, and a window that still saw more is measured again (--retries), as the
// shared rig does; `other` in the table is what remained. The rule is the same for every server.
//
// usage: node bench/echo/run.js [--rounds 3] [--seconds 3] [--warmup 1]
//          [--servers evloop,net,...] [--scenarios a,b,c,d] [--out bench/results] [--chart FILE]
//          [--quiet 10] [--retries 1]
// Progress goes to stderr, the table to stdout; DIR/echo.json (every figure, every round) and
// DIR/echo.svg (a bar chart) are written to --out; --chart writes one more copy of the chart.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { renderChart } = require('./chart');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'build', 'bench'); // git-ignored, like the rest of build/

const SCENARIOS = [
  // (a) busy-polls: a sleeping load generator's own wake-up would be most of the round trip.
  { id: 'a', name: 'a_1c_64B', title: '1 connection, 64 B ping-pong', conns: 1, depth: 1, size: 64, busyPoll: true },
  { id: 'b', name: 'b_64c_64B', title: '64 connections, 64 B', conns: 64, depth: 1, size: 64 },
  { id: 'c', name: 'c_64c_x16_64B', title: '64 connections, pipelined ×16, 64 B', conns: 64, depth: 16, size: 64 },
  { id: 'd', name: 'd_8c_64KiB', title: '8 connections, 64 KiB bulk (×4 in flight)', conns: 8, depth: 4, size: 65536 },
];

const node = (file, ...args) => () => ({ file: process.execPath, args: [path.join(ROOT, 'bench', file), ...args, '--port', '0'] });
const SERVERS = [
  { name: 'evloop', about: 'evloop Protocol (bench/echo-server.js)', start: node('echo-server.js') },
  { name: 'evloop-buffered', about: 'evloop BufferedProtocol, one reused buffer per connection (--api buffered)', start: node('echo-server.js', '--api', 'buffered') },
  { name: 'evloop-streams', about: 'evloop streams, generator per client (--api streams)', start: node('echo-server.js', '--api', 'streams') },
  { name: 'evloop-async', about: 'evloop streams, async function per client (--api async)', start: node('echo-server.js', '--api', 'async') },
  // Before/after in one run: EVLOOP_BASE=/path/to/another/evloop/checkout (built) serves the
  // same Protocol server from there.
  { name: 'evloop-base', about: 'evloop Protocol from $EVLOOP_BASE (a baseline checkout)', start: () => process.env.EVLOOP_BASE && { file: process.execPath, args: [path.join(process.env.EVLOOP_BASE, 'bench', 'echo-server.js'), '--port', '0'] } },
  { name: 'evloop-raw', about: 'straight on the native poller (bench/echo-raw.js)', start: node('echo-raw.js') },
  { name: 'net', about: "Node's net module (bench/net-echo-server.js)", start: node('net-echo-server.js') },
  { name: 'c-epoll', about: 'C, one thread on epoll (bench/echo/echo_epoll.c)', start: (env) => env.epoll && { file: env.epoll, args: ['--port', '0'] } },
  { name: 'asyncio', about: 'asyncio Protocol (bench/echo/echo_asyncio.py)', start: (env) => env.python && { file: env.python.path, args: [path.join(__dirname, 'echo_asyncio.py'), '--loop', 'asyncio', '--port', '0'] } },
  { name: 'uvloop', about: 'the same Protocol on uvloop', start: (env) => env.python?.uvloop && { file: env.python.path, args: [path.join(__dirname, 'echo_asyncio.py'), '--loop', 'uvloop', '--port', '0'] } },
];
const QUIET_PCT = 10;
const NET = 'net';
const C = 'c-epoll';

const USAGE = `usage: npm run bench:echo -- [options]     (or node bench/echo/run.js [options])
  --rounds N        rounds over every server and scenario; medians are reported (default 3)
  --seconds S       measured seconds per scenario (default 3)
  --warmup S        unmeasured seconds before each window (default 1)
  --servers a,b     subset of: ${SERVERS.map((s) => s.name).join(', ')}
  --scenarios a,b   subset of:
${SCENARIOS.map((s) => `                      ${s.id}  ${s.title}`).join('\n')}
  --out DIR         where echo.json and echo.svg go (default bench/results)
  --chart FILE      also write the chart to FILE (e.g. docs/img/echo.svg)
  --quiet S         before each measurement, wait up to S seconds (default 10; 0: do not wait) for
                    the rest of the machine to use less than ${QUIET_PCT}% of a core: other load skews
                    the figures
  --retries N       measure a window again, up to N times (default 1), when the rest of the
                    machine used more than ${QUIET_PCT}% of a core during it`;

function fail(message, code = 2) {
  process.stderr.write(`bench:echo: ${message}\n`);
  process.exit(code);
}

function options(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        rounds: { type: 'string', default: '3' },
        seconds: { type: 'string', default: '3' },
        warmup: { type: 'string', default: '1' },
        servers: { type: 'string' },
        scenarios: { type: 'string' },
        out: { type: 'string', default: path.join(ROOT, 'bench', 'results') },
        chart: { type: 'string' },
        quiet: { type: 'string', default: '10' },
        retries: { type: 'string', default: '1' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    fail(`${err.message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  const quiet = Number(values.quiet);
  const retries = Number(values.retries);
  if (!Number.isInteger(rounds) || rounds < 1) fail(`--rounds must be a positive integer, got ${values.rounds}`);
  if (!(seconds > 0 && seconds <= 600)) fail(`--seconds must be in (0, 600], got ${values.seconds}`);
  if (!(warmup >= 0 && warmup <= 600)) fail(`--warmup must be in [0, 600], got ${values.warmup}`);
  if (!(quiet >= 0 && quiet <= 600)) fail(`--quiet must be in [0, 600], got ${values.quiet}`);
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) fail(`--retries must be an integer in [0, 10], got ${values.retries}`);
  const pick = (list, wanted, key, what) => {
    if (wanted === undefined) return list;
    const names = wanted.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = names.filter((n) => !list.some((x) => x[key] === n || x.name === n));
    if (unknown.length || names.length === 0) fail(`unknown ${what}: ${unknown.join(', ') || '(none given)'}\n${USAGE}`);
    return list.filter((x) => names.includes(x[key]) || names.includes(x.name));
  };
  return {
    rounds,
    seconds,
    warmup,
    quiet,
    retries,
    servers: pick(SERVERS, values.servers, 'name', 'server'),
    scenarios: pick(SCENARIOS, values.scenarios, 'id', 'scenario'),
    out: path.resolve(values.out),
    chart: values.chart && path.resolve(values.chart),
  };
}

// ---- building and finding the tools --------------------------------------------------------

function note(line) {
  process.stderr.write(`${line}\n`);
}

// Compiles to a private name, then renames: two rigs building at once never run half a binary.
function compile(source, name) {
  fs.mkdirSync(BIN, { recursive: true });
  const target = path.join(BIN, name);
  const temp = `${target}.${process.pid}.tmp`;
  const cc = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-o', temp, path.join(__dirname, source)], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) {
    fs.rmSync(temp, { force: true });
    return { error: cc.error ? `cc: ${cc.error.code === 'ENOENT' ? 'not found' : cc.error.message}` : `cc failed on ${source}:\n${cc.stderr}` };
  }
  fs.renameSync(temp, target);
  return { path: target };
}

// The interpreter for the asyncio servers: one that has uvloop if any has, so that asyncio and
// uvloop run on the same Python. $PYTHON first; Debian's python3-uvloop lives in /usr/bin.
function findPython() {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean);
  let plain = null;
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', 'import sys\ntry:\n import uvloop; u = uvloop.__version__\nexcept ImportError:\n u = ""\nprint(sys.executable); print(sys.version.split()[0]); print(u)'], { encoding: 'utf8' });
    if (probe.status !== 0) continue;
    const [exe, version, uvloop] = probe.stdout.split('\n');
    const found = { path: exe, version, uvloop: uvloop || null };
    if (found.uvloop) return found;
    plain ??= found;
  }
  return plain;
}

function canPin() {
  const probe = spawnSync('taskset', ['-c', '0', 'true']);
  return !probe.error && probe.status === 0 && os.cpus().length >= 2;
}

// ---- processes ---------------------------------------------------------------------------------

const children = new Set(); // everything started and not yet seen to exit
let stopping = false; // a signal came: measure and write nothing more

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => child.pid || children.delete(child)); // never started
  return child;
}

function killAll(signal = 'SIGKILL') {
  for (const child of children) {
    try {
      // Servers lead their own process group (detached): take any children of theirs too.
      if (child.detachedGroup) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // already gone
    }
  }
}

process.on('exit', () => killAll());
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    stopping = true;
    note(`\nbench:echo: ${signal}: stopping every process it started`);
    const exit = () => process.exit(128 + os.constants.signals[signal]);
    // Exit once each child has been reaped (its 'exit' event), so none outlives the rig.
    const gone = [...children].map((child) => new Promise((resolve) => child.once('exit', resolve)));
    killAll();
    Promise.all(gone).then(exit);
    setTimeout(exit, 3000).unref();
  });
}

function startServer(command, pin) {
  const [file, args] = pin ? ['taskset', ['-c', '0', command.file, ...command.args]] : [command.file, command.args];
  // taskset execs the server, so the pid is the server's own (its /proc/PID/stat is what counts).
  const child = track(spawn(file, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
  child.detachedGroup = true;
  let log = '';
  const keep = (chunk) => {
    log = (log + chunk).slice(-4000);
  };
  child.stderr.setEncoding('utf8').on('data', keep);
  child.stdout.setEncoding('utf8');
  return new Promise((resolve) => {
    const timer = setTimeout(() => done({ error: `did not print "listening on" within 15 s: ${log.trim()}` }), 15000);
    const onData = (chunk) => {
      keep(chunk);
      const m = /listening on [\d.]+:(\d+)/.exec(log);
      if (m) done({ port: Number(m[1]) });
    };
    const onExit = (code, signal) => done({ error: `exited (${signal ?? code}) before listening: ${log.trim()}` });
    const onError = (err) => done({ error: err.message });
    function done(result) {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      child.stdout.on('data', keep); // keep draining its output
      resolve({ ...result, child, log: () => log });
    }
    child.stdout.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

function stopServer(child) {
  if (!child.pid || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone between the check and the kill
      }
    }, 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
  });
}

function runLoadgen(loadgen, port, serverPid, scenario, opts, pin) {
  const args = [
    '--port', String(port), '--conns', String(scenario.conns), '--depth', String(scenario.depth),
    '--size', String(scenario.size), '--seconds', String(opts.seconds), '--warmup', String(opts.warmup),
    '--server-pid', String(serverPid), ...(scenario.busyPoll ? ['--busy-poll'] : []),
  ];
  const [file, argv] = pin ? ['taskset', ['-c', '1', loadgen, ...args]] : [loadgen, args];
  const child = track(spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
  const limit = setTimeout(() => child.kill('SIGKILL'), (opts.seconds + opts.warmup + 30) * 1000);
  return new Promise((resolve) => {
    child.once('error', (e) => resolve({ error: e.message }));
    child.once('close', (code, signal) => {
      clearTimeout(limit);
      if (code !== 0) return resolve({ error: (err.trim() || `load generator exited (${signal ?? code})`).split('\n').pop() });
      try {
        resolve({ result: JSON.parse(out.trim().split('\n').pop()) });
      } catch {
        resolve({ error: `unreadable load generator output: ${out.slice(-200)}` });
      }
    });
  });
}

// Busy and total jiffies over all CPUs, from /proc/stat ([0, 0] where there is none).
function cpuTicks() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] || 0);
    const total = f.slice(0, 8).reduce((a, b) => a + (b || 0), 0);
    return [total - idle, total];
  } catch {
    return [0, 0];
  }
}

// Waits (at most `limit` seconds) until the machine, idle server included, uses less than
// QUIET_PCT % of a core over half a second.
async function waitQuiet(limit) {
  const until = Date.now() + limit * 1000;
  let said = false;
  for (;;) {
    const [b0, t0] = cpuTicks();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const [b1, t1] = cpuTicks();
    const load = t1 > t0 ? (100 * os.cpus().length * (b1 - b0)) / (t1 - t0) : 0;
    if (load < QUIET_PCT) return;
    if (Date.now() >= until) return note(`   (still ${load.toFixed(0)}% of a core in use by others; measuring anyway)`);
    if (!said) note(`   (other load ${load.toFixed(0)}% of a core; waiting up to ${limit} s for it to drop)`);
    said = true;
  }
}

// ---- figures -------------------------------------------------------------------------------

function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function summarise(runs, servers, scenarios) {
  const cells = [];
  for (const scenario of scenarios) {
    for (const server of servers) {
      const mine = runs.filter((r) => r.scenario === scenario.name && r.server === server.name);
      const ok = mine.filter((r) => r.result).map((r) => r.result);
      const rates = ok.map((r) => r.msgs_per_s);
      const rate = median(rates);
      cells.push({
        scenario: scenario.name,
        server: server.name,
        msgs_per_s: rate,
        msgs_per_s_rounds: rates,
        spread_pct: rates.length > 1 && rate ? (100 * (Math.max(...rates) - Math.min(...rates))) / rate : null,
        mb_per_s: median(ok.map((r) => r.mb_per_s)),
        p50_us: median(ok.map((r) => r.p50_us)),
        p99_us: median(ok.map((r) => r.p99_us)),
        server_cpu_pct: median(ok.map((r) => (r.server_cpu_pct >= 0 ? r.server_cpu_pct : NaN))),
        loadgen_cpu_pct: median(ok.map((r) => r.loadgen_cpu_pct)),
        // server CPU microseconds per message, per round, then the median
        us_per_msg: median(ok.map((r) => (r.server_cpu_pct > 0 && r.msgs_per_s > 0 ? (r.server_cpu_pct * 1e4) / r.msgs_per_s : NaN))),
        // the user-mode part of it (the rest is the kernel's, about the same for every server)
        user_us_per_msg: median(ok.map((r) => (r.server_user_cpu_pct >= 0 && r.msgs_per_s > 0 ? (r.server_user_cpu_pct * 1e4) / r.msgs_per_s : NaN))),
        // messages per time the server's main thread slept waiting for them, per round, then the median
        msgs_per_wakeup: median(ok.map((r) => (r.server_wakeups > 0 ? r.msgs / r.server_wakeups : NaN))),
        other_cpu_pct_max: ok.length ? Math.max(...ok.map((r) => r.other_cpu_pct)) : null,
        errors: mine.filter((r) => r.error).map((r) => `round ${r.round}: ${r.error}`),
      });
    }
  }
  for (const cell of cells) {
    const of = (name) => cells.find((c) => c.scenario === cell.scenario && c.server === name);
    const ratio = (other, key) => (cell[key] && other?.[key] ? cell[key] / other[key] : null);
    cell.vs_net = ratio(of(NET), 'msgs_per_s');
    cell.vs_c = ratio(of(C), 'msgs_per_s');
    cell.us_per_msg_vs_c = ratio(of(C), 'us_per_msg');
  }
  return cells;
}

const fmt = (v, digits = 0, suffix = '') =>
  v === null || v === undefined || !Number.isFinite(v) ? '-' : `${v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}${suffix}`;

function table(cells, scenarios, opts) {
  const cols = [
    ['scenario', 15, (c) => c.scenario, 'l'],
    ['server', 15, (c) => c.server, 'l'],
    ['msgs/s', 11, (c) => fmt(c.msgs_per_s)],
    ['spread', 6, (c) => fmt(c.spread_pct, 0, '%')],
    ['MB/s', 8, (c) => fmt(c.mb_per_s, 1)],
    ['p50us', 7, (c) => fmt(c.p50_us, 1)],
    ['p99us', 8, (c) => fmt(c.p99_us, 1)],
    ['srv_cpu', 7, (c) => fmt(c.server_cpu_pct, 0, '%')],
    ['lg_cpu', 6, (c) => fmt(c.loadgen_cpu_pct, 0, '%')],
    ['us/msg', 7, (c) => fmt(c.us_per_msg, 2)],
    ['user', 5, (c) => fmt(c.user_us_per_msg, 2)],
    ['msg/wk', 7, (c) => fmt(c.msgs_per_wakeup, 1)],
    ['vs_net', 6, (c) => fmt(c.vs_net, 2)],
    ['vs_C', 6, (c) => fmt(c.vs_c, 2)],
    ['other', 5, (c) => fmt(c.other_cpu_pct_max, 0, '%')],
  ];
  const line = (get) => cols.map(([h, w, f, align]) => {
    const s = get(h, f);
    return align === 'l' ? s.padEnd(w) : s.padStart(w);
  }).join(' ').trimEnd();
  const out = [line((h) => h), '-'.repeat(cols.reduce((n, [, w]) => n + w + 1, -1))];
  for (const scenario of scenarios) {
    for (const cell of cells.filter((c) => c.scenario === scenario.name)) {
      if (cell.msgs_per_s === null) out.push(`${cell.scenario.padEnd(15)} ${cell.server.padEnd(15)} FAILED: ${cell.errors[0] ?? 'no result'}`);
      else out.push(line((h, f) => f(cell)));
    }
    out.push('');
  }
  out.push(
    `${opts.rounds} round(s) × ${opts.seconds} s (after ${opts.warmup} s warm-up); medians over rounds, spread = (max − min) / median of msgs/s.`,
    'p50/p99: queue-to-echo time per message (with pipelining it includes the wait in the pipeline).',
    'srv_cpu / lg_cpu: CPU of the server / load generator over the window (100% = one core).',
    'us/msg: server CPU microseconds per message — the fair comparison when lg_cpu is near 100%.',
    'user: the part of us/msg the server spent in user mode (its own code; the rest is the kernel\'s).',
    "msg/wk: messages per time the server's main thread slept waiting: few means it woke for every few",
    '  messages and paid the scheduler each time (a closed loop can settle either way, run to run).',
    `vs_net / vs_C: msgs/s relative to Node \`net\` / the C epoll server in the same scenario and run.`,
    'other: CPU used by the rest of the machine during the window (worst round); it competes for the cores.',
  );
  const errors = cells.filter((c) => c.errors.length && c.msgs_per_s !== null);
  for (const c of errors) out.push(`note: ${c.server} in ${c.scenario} failed in ${c.errors.length} round(s): ${c.errors[0]}`);
  return out.join('\n');
}

function ratioTable(cells, servers, scenarios) {
  const evloops = servers.filter((s) => s.name.startsWith('evloop'));
  const rows = [];
  const head = `| ${['', ...scenarios.map((s) => s.id)].join(' | ')} |`;
  for (const [label, key] of [['/ Node net', 'vs_net'], ['/ C epoll', 'vs_c'], ['us/msg / C', 'us_per_msg_vs_c']]) {
    for (const s of evloops) {
      const vals = scenarios.map((sc) => cells.find((c) => c.scenario === sc.name && c.server === s.name)?.[key]);
      if (vals.every((v) => v === null || v === undefined)) continue;
      rows.push(`| ${s.name} ${label} | ${vals.map((v) => fmt(v, 2)).join(' | ')} |`);
    }
  }
  if (rows.length === 0) return '';
  return [head, `|${'---|'.repeat(scenarios.length + 1)}`, ...rows].join('\n');
}

// ---- main ------------------------------------------------------------------------------------

async function main() {
  const opts = options(process.argv.slice(2));
  const started = Date.now();

  const loadgen = compile('loadgen.c', 'loadgen');
  if (loadgen.error) fail(`the load generator needs a C compiler (cc): ${loadgen.error}`, 1);
  const env = {};
  const wanted = new Set(opts.servers.map((s) => s.name));
  if (wanted.has(C)) {
    const epoll = compile('echo_epoll.c', 'echo_epoll');
    if (epoll.error) note(`note: skipping c-epoll: ${epoll.error}`);
    else env.epoll = epoll.path;
  }
  if (wanted.has('asyncio') || wanted.has('uvloop')) {
    env.python = findPython();
    if (!env.python) note('note: skipping asyncio and uvloop: no python3 found (set $PYTHON)');
    else if (!env.python.uvloop && wanted.has('uvloop'))
      note(`note: skipping uvloop: not importable by ${env.python.path} (Debian/Ubuntu: apt-get install python3-uvloop)`);
  }
  const servers = opts.servers.filter((s) => s.start(env));
  if (servers.length === 0) fail('none of the chosen servers can run here');
  const pin = canPin();
  if (!pin) note('note: not pinning (needs taskset and 2 CPUs): server and load generator share the CPUs');

  const runs = [];
  const total = opts.rounds * servers.length * opts.scenarios.length;
  const perRun = opts.seconds + opts.warmup + 0.2;
  let done = 0;
  note(`bench:echo: ${servers.length} server(s) × ${opts.scenarios.length} scenario(s) × ${opts.rounds} round(s), ` +
    `${opts.warmup} + ${opts.seconds} s each: about ${Math.ceil((total * perRun) / 60)} min` +
    (opts.quiet > 0 ? ` (up to ${Math.ceil((total * opts.quiet) / 60)} more waiting for quiet)` : '') +
    (pin ? '; server on CPU 0, load generator on CPU 1' : ''));
  for (let round = 1; round <= opts.rounds; round++) {
    for (let k = 0; k < servers.length; k++) {
      // Rotate the order each round, so slow drift of the machine does not favour one server.
      const server = servers[(k + round - 1) % servers.length];
      const up = await startServer(server.start(env), pin);
      if (stopping) return;
      note(`round ${round}/${opts.rounds} ${server.name}${up.error ? `: FAILED to start: ${up.error}` : ` (pid ${up.child.pid}, port ${up.port})`}`);
      for (const scenario of opts.scenarios) {
        let outcome;
        if (up.error) outcome = { error: `did not start: ${up.error}` };
        else if (up.child.exitCode !== null || up.child.signalCode !== null) outcome = { error: `server died: ${up.log().trim().split('\n').pop()}` };
        else {
          for (let attempt = 0; ; attempt++) {
            if (opts.quiet > 0) await waitQuiet(opts.quiet);
            if (stopping) return;
            outcome = await runLoadgen(loadgen.path, up.port, up.child.pid, scenario, opts, pin);
            const other = outcome.result?.other_cpu_pct;
            if (stopping || !(other > QUIET_PCT) || attempt >= opts.retries) break;
            note(`  ${scenario.name.padEnd(14)} other load ${fmt(other)}% of a core during the window: measuring again`);
          }
        }
        if (stopping) return;
        runs.push({ round, server: server.name, scenario: scenario.name, server_pid: up.child?.pid ?? null, ...outcome });
        done++;
        const left = Math.ceil(((total - done) * perRun) / 60);
        const r = outcome.result;
        note(`  ${scenario.name.padEnd(14)} ${r
          ? `${fmt(r.msgs_per_s).padStart(10)} msgs/s  p99 ${fmt(r.p99_us, 0)} us  server ${fmt(r.server_cpu_pct)}%  ${fmt((r.server_cpu_pct * 1e4) / r.msgs_per_s, 2)} us/msg  other ${fmt(r.other_cpu_pct)}%`
          : `FAILED: ${outcome.error}`}   [${done}/${total}${done < total ? `, ~${left} min left` : ''}]`);
      }
      await stopServer(up.child); // also one that never said it was listening
      if (stopping) return;
    }
  }

  const cells = summarise(runs, servers, opts.scenarios);
  const text = table(cells, opts.scenarios, opts);
  const ratios = ratioTable(cells, servers, opts.scenarios);
  const other = median(runs.filter((r) => r.result).map((r) => r.result.other_cpu_pct));
  if (other > QUIET_PCT) {
    note(`WARNING: the rest of the machine used ${Math.round(other)}% of a core (median over the windows) while this ran, ` +
      'so the servers did not have their core to themselves: trust ratios within this run, not absolute figures.');
  }
  process.stdout.write(`${text}\n${ratios ? `\nevloop's ratios (msgs/s, and server CPU per message against C):\n${ratios}\n` : ''}`);

  const doc = {
    generated: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      kernel: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      python: env.python ? `${env.python.version}${env.python.uvloop ? `, uvloop ${env.python.uvloop}` : ''}` : null,
      loadavg: os.loadavg(),
    },
    rounds: opts.rounds,
    seconds: opts.seconds,
    warmup: opts.warmup,
    pinned: pin ? 'server on CPU 0, load generator on CPU 1' : null,
    servers: servers.map((s) => ({ name: s.name, about: s.about })),
    scenarios: opts.scenarios,
    results: cells,
    runs,
    other_cpu_pct_median: other,
    elapsed_s: (Date.now() - started) / 1000,
  };
  fs.mkdirSync(opts.out, { recursive: true });
  fs.writeFileSync(path.join(opts.out, 'echo.json'), `${JSON.stringify(doc, null, 1)}\n`);
  const svg = renderChart(doc);
  fs.writeFileSync(path.join(opts.out, 'echo.svg'), svg);
  if (opts.chart) {
    fs.mkdirSync(path.dirname(opts.chart), { recursive: true });
    fs.writeFileSync(opts.chart, svg);
  }
  const shown = (file) => (path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file));
  note(`wrote ${shown(path.join(opts.out, 'echo.json'))} and echo.svg${opts.chart ? ` (and ${shown(opts.chart)})` : ''} in ${Math.round(doc.elapsed_s)} s`);
  recordSpeedRows(cells);
  if (cells.every((c) => c.msgs_per_s === null)) process.exitCode = 1;
}

main().catch((err) => {
  killAll();
  process.stderr.write(`bench:echo: ${err.stack ?? err}\n`);
  process.exit(1);
});

/** The echo rows of issue #13's table, for `npm run bench`'s closing summary (bench/summary.js). */
function recordSpeedRows(cells) {
  const { record } = require('../summary');
  const cell = (scenario, server) => cells.find((c) => c.scenario.split('_')[0] === scenario && c.server === server);
  const perMsg = (scenario, a, b) => {
    const x = cell(scenario, a)?.us_per_msg;
    const y = cell(scenario, b)?.us_per_msg;
    return x && y ? y / x : null;
  };
  const usPair = (scenario, a, b) => `${fmt(cell(scenario, a)?.us_per_msg, 2)} vs ${fmt(cell(scenario, b)?.us_per_msg, 2)} us/msg`;
  if (cell('b', 'evloop-async')) record('echo (b), async-function streams / protocol, by server CPU per msg', perMsg('b', 'evloop-async', 'evloop'), 0.92, usPair('b', 'evloop-async', 'evloop'));
  if (cell('b', 'evloop-streams')) record('echo (b), generator streams / protocol, by server CPU per msg', perMsg('b', 'evloop-streams', 'evloop'), 0.95, usPair('b', 'evloop-streams', 'evloop'));
  for (const scenario of ['b', 'c']) {
    const mine = cell(scenario, 'evloop');
    if (!mine || !cell(scenario, C)) continue;
    record(`echo (${scenario}), protocol / C epoll, msgs/s`, mine.vs_c, 0.95);
    record(`echo (${scenario}), protocol / C epoll, by server CPU per msg (goal: <= 1.07x C's)`, mine.us_per_msg_vs_c ? 1 / mine.us_per_msg_vs_c : null, 1 / 1.07, usPair(scenario, 'evloop', C));
  }
}
