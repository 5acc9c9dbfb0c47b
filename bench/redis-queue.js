'use strict';
// The task queue on Redis against BullMQ, on one redis-server in one run (issue #12 item 6).
//
// Rows:
// - drain, C worker processes (C = 1 and 4): N no-op jobs are enqueued first, then C worker
//   processes are told to go at once, and the row is N / (last handler call - go). evloop's
//   workers are createTaskOps({ tasks: { noop }, queue: new RedisQueue({ url, name }), workers: K })
//   (run records in each process's memory); `evloop-records` adds store: new RedisRunStore(...)
//   on the queue's client, which is what `evloop-tasks --redis URL --queue NAME --workers K` runs
//   (every run's record created, started and finished in Redis, plus its change feed).
//   BullMQ's are `new Worker(name, async () => {}, { connection, concurrency: K })`. Both take K
//   jobs at a time per process (--concurrency, default 16).
// - enqueue: N jobs from one process, 1000 in flight at a time. evloop: ops.startRun(task,
//   { key, params }) on a TaskOps with no workers (the REST API's path: the guard + enqueue
//   script, which with evloop-records also writes the run record). BullMQ: queue.addBulk of 1000 (one MULTI), and queue.add with 1000
//   concurrent callers. Every job carries a key for both: evloop's dedup key, BullMQ's jobId
//   (BullMQ's own dedup: an add of an id that exists is ignored).
//
// Both sides keep memory bounded the same way: BullMQ jobs are added with removeOnComplete and
// removeOnFail; evloop deletes acked entries from its stream. evloop-records also keeps the last
// 10,000 run records (the CLI's default --max-runs), so its like-for-like is bullmq-keep: BullMQ
// keeping its last 10,000 completed jobs (removeOnComplete: { count: 10000 }). Logging is at warn for evloop (an
// info line per run would measure the logger; BullMQ logs nothing).
//
// End of a drain: the parent polls Redis every 2 ms on its own connection for what is left —
// evloop: the guard hash's length (a key is released by its ack); BullMQ: LLEN of wait then
// active (a job leaves active, removed, in its completion script) — and then asks each worker
// for its count and the time of its last handler call; the row's time ends at the latest of
// those, so the poll interval does not add to it. Counts must add up to N (checked).
//
// Each side runs in child processes of its own; the parent flushes the database before each
// enqueue, alternates the order of the two systems each round, and prints medians with ratios,
// plus CPU per task of the producer or the workers (process.cpuUsage, summed over the worker
// processes) and of redis-server (from /proc/PID/stat, 10 ms ticks).
//
// usage: node bench/redis-queue.js [--jobs 20000] [--rounds 3] [--concurrency 16] [--workers 1,4]
//                                  [--systems evloop,evloop-records,bullmq,bullmq-keep]
//                                  [--keep 10000] [--commandstats] [--prof DIR]
const { fork, execFileSync } = require('node:child_process');
const { record } = require('./summary');

const fs = require('node:fs');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const QUEUE = 'bench';
const CHUNK = 1000;
const now = () => performance.timeOrigin + performance.now();

// ---- children ---------------------------------------------------------------------------------

function send(msg) {
  return new Promise((resolve) => process.send(msg, resolve));
}

function onMessage(kind) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m && m.kind === kind) {
        process.off('message', on);
        resolve(m);
      }
    };
    process.on('message', on);
  });
}

/** createTaskOps on a RedisQueue; with `records`, run records in Redis too, as evloop-tasks --redis has them. */
function evloopOps(url, records, keep, options) {
  const { createTaskOps, createLogger, RedisQueue, RedisRunStore } = require('..');
  const queue = new RedisQueue({ url, name: QUEUE });
  const store = records ? new RedisRunStore({ client: queue.client, name: QUEUE, maxFinishedRuns: keep }) : undefined;
  return { queue, ops: createTaskOps({ ...options, queue, store, logger: createLogger({ level: 'warn' }) }) };
}

async function evloopProducer({ url, jobs, records, keep }) {
  const { run } = require('..');
  return run(async () => {
    const { queue, ops } = evloopOps(url, records, keep, { tasks: { noop: { run: () => 0 } }, workers: 0 });
    ops.start();
    await queue.stats(); // connected, scripts loaded
    const cpu0 = process.cpuUsage();
    const t0 = now();
    for (let i = 0; i < jobs; i += CHUNK) {
      const batch = [];
      for (let j = i; j < Math.min(jobs, i + CHUNK); j++) batch.push(ops.startRun('noop', { key: `k${j}`, params: { i: j } }));
      await Promise.all(batch);
    }
    const ms = now() - t0;
    const { user, system } = process.cpuUsage(cpu0);
    return finish({ ms, cpuUs: user + system });
  });
}

async function bullmqProducer({ port, jobs, mode, keep }) {
  const { Queue } = require('bullmq');
  const queue = new Queue(QUEUE, { connection: { host: '127.0.0.1', port } });
  await queue.waitUntilReady();
  const opts = (j) => ({ jobId: `k${j}`, removeOnComplete: keep > 0 ? { count: keep } : true, removeOnFail: keep > 0 ? { count: keep } : true });
  const cpu0 = process.cpuUsage();
  const t0 = now();
  for (let i = 0; i < jobs; i += CHUNK) {
    const end = Math.min(jobs, i + CHUNK);
    if (mode === 'add') {
      const batch = [];
      for (let j = i; j < end; j++) batch.push(queue.add('noop', { i: j }, opts(j)));
      await Promise.all(batch);
    } else {
      const batch = [];
      for (let j = i; j < end; j++) batch.push({ name: 'noop', data: { i: j }, opts: opts(j) });
      await queue.addBulk(batch);
    }
  }
  const ms = now() - t0;
  const { user, system } = process.cpuUsage(cpu0);
  return finish({ ms, cpuUs: user + system });
}

async function evloopWorker({ url, concurrency, records, keep }) {
  const { run } = require('..');
  return run(async () => {
    let count = 0;
    let lastAt = 0;
    const noop = () => {
      count++;
      lastAt = now();
      return 0;
    };
    const { queue, ops } = evloopOps(url, records, keep, { tasks: { noop: { run: noop } }, workers: concurrency });
    await queue.stats(); // connected
    const go = onMessage('go');
    await send({ kind: 'ready' });
    await go;
    const cpu0 = process.cpuUsage();
    const report = onMessage('report');
    ops.start();
    await report;
    const { user, system } = process.cpuUsage(cpu0);
    // Exits from inside the loop: nothing is in flight, and stopping the workers is not measured.
    return finish({ count, lastAt, cpuUs: user + system });
  });
}

async function bullmqWorker({ port, concurrency, keep }) {
  const { Worker } = require('bullmq');
  let count = 0;
  let lastAt = 0;
  // BullMQ delivers at least once: a job whose lock lapsed is moved back and run again ("Missing
  // lock for job" when the first run finishes), so the parent checks the distinct jobs run.
  const ids = [];
  const worker = new Worker(
    QUEUE,
    async (job) => {
      count++;
      ids.push(job.id);
      lastAt = now();
      return 0;
    },
    { connection: { host: '127.0.0.1', port }, concurrency, autorun: false, removeOnComplete: { count: keep }, removeOnFail: { count: keep } },
  );
  await worker.waitUntilReady();
  const go = onMessage('go');
  await send({ kind: 'ready' });
  await go;
  const cpu0 = process.cpuUsage();
  const report = onMessage('report');
  worker.run();
  await report;
  const { user, system } = process.cpuUsage(cpu0);
  return finish({ count, ids, lastAt, cpuUs: user + system });
}

async function finish(out) {
  await send({ kind: 'result', ...out });
  process.exit(0);
}

function child() {
  const args = JSON.parse(process.argv[3]);
  const fns = { evloopProducer, bullmqProducer, evloopWorker, bullmqWorker };
  return fns[args.role](args);
}

// ---- the parent -------------------------------------------------------------------------------

function spawnChild(args) {
  // --prof DIR: worker processes write a V8 CPU profile there (node --cpu-prof).
  const profDir = option('--prof', null);
  const execArgv = profDir !== null && args.role.endsWith('Worker') ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  const proc = fork(__filename, ['--child', JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  const exited = new Promise((resolve, reject) => {
    proc.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${args.role} exited with ${code ?? signal}`))));
    proc.once('error', reject);
  });
  const next = (kind) =>
    new Promise((resolve, reject) => {
      const on = (m) => {
        if (m && m.kind === kind) {
          proc.off('message', on);
          resolve(m);
        }
      };
      proc.on('message', on);
      exited.then(() => reject(new Error(`${args.role} exited before ${kind}`)), reject);
    });
  return { proc, exited, next };
}

/** user+system CPU of a process in µs, from /proc (clock ticks of 10 ms). */
function procCpuUs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return NaN;
  }
}

/**
 * --commandstats: what a row asked of Redis, per task, from INFO commandstats: calls and µs
 * inside Redis by command. A command a script runs counts under its own name too, and its µs are
 * part of the script's (EVALSHA's) µs as well.
 */
async function printCommandStats(ctx, what) {
  const rows = [];
  for (const line of (await ctx.redis.info('commandstats')).split('\r\n')) {
    const m = /^cmdstat_(\S+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m !== null && m[1] !== 'info' && m[1] !== 'config|resetstat') rows.push({ name: m[1], calls: Number(m[2]), usec: Number(m[3]) });
  }
  const per = (n) => n / ctx.jobs;
  const scripts = rows.filter((r) => r.name === 'evalsha' || r.name === 'eval');
  const sum = (rs, k) => per(rs.reduce((n, r) => n + r[k], 0));
  process.stderr.write(`    ${what}: ${sum(rows, 'calls').toFixed(2)} commands/task counted, of which ${sum(scripts, 'calls').toFixed(2)} scripts taking ${sum(scripts, 'usec').toFixed(1)} us/task\n`);
  rows.sort((x, y) => y.usec - x.usec);
  for (const r of rows) process.stderr.write(`    ${r.name.padEnd(24)} ${per(r.calls).toFixed(3).padStart(8)} calls/task ${per(r.usec).toFixed(1).padStart(7)} us/task\n`);
}

async function enqueue(system, ctx, mode) {
  await ctx.redis.flushall();
  if (ctx.commandStats) await ctx.redis.config('RESETSTAT');
  const c = spawnChild({ role: `${side(system)}Producer`, records: system === 'evloop-records', keep: keepOf(system, ctx), url: ctx.url, port: ctx.port, jobs: ctx.jobs, mode });
  // redis-server's CPU over the producer's whole life: its connecting costs Redis next to nothing.
  const redisCpu0 = procCpuUs(ctx.redisPid);
  const r = await c.next('result');
  const redisCpu = procCpuUs(ctx.redisPid) - redisCpu0;
  await c.exited;
  if (ctx.commandStats) await printCommandStats(ctx, `enqueue ${system}`);
  return { perSecond: (ctx.jobs / r.ms) * 1000, cpuUsPerTask: r.cpuUs / ctx.jobs, redisUsPerTask: redisCpu / ctx.jobs };
}

/** Finished runs (jobs) a system keeps: --keep for evloop-records and bullmq-keep, none for the others. */
function keepOf(system, ctx) {
  return system === 'evloop-records' || system === 'bullmq-keep' ? ctx.keep : 0;
}

/** 'evloop' or 'bullmq': which children a system runs. */
function side(system) {
  return system.startsWith('evloop') ? 'evloop' : 'bullmq';
}

async function remaining(system, redis) {
  if (side(system) === 'evloop') return redis.hlen(`evloop:queue:{${QUEUE}}:keys`);
  const [[, wait], [, active]] = await redis.pipeline().llen(`bull:${QUEUE}:wait`).llen(`bull:${QUEUE}:active`).exec();
  return wait + active;
}

async function drain(system, ctx, workers) {
  const children = [];
  for (let i = 0; i < workers; i++) children.push(spawnChild({ role: `${side(system)}Worker`, records: system === 'evloop-records', keep: keepOf(system, ctx), url: ctx.url, port: ctx.port, concurrency: ctx.concurrency }));
  await Promise.all(children.map((c) => c.next('ready')));
  const results = children.map((c) => c.next('result'));
  if (ctx.commandStats) await ctx.redis.config('RESETSTAT');
  const redisCpu0 = procCpuUs(ctx.redisPid);
  const t0 = now();
  for (const c of children) c.proc.send({ kind: 'go' });
  while ((await remaining(system, ctx.redis)) > 0) await new Promise((resolve) => setTimeout(resolve, 2));
  const redisCpu = procCpuUs(ctx.redisPid) - redisCpu0;
  if (ctx.commandStats) await printCommandStats(ctx, 'drain');
  for (const c of children) c.proc.send({ kind: 'report' });
  const rs = await Promise.all(results);
  await Promise.all(children.map((c) => c.exited));
  const count = rs.reduce((n, r) => n + r.count, 0);
  // evloop's queue runs each job once here (nothing stalls or dies), so any other count is a bug;
  // BullMQ may run a job again after its lock lapsed, which is its documented behaviour: those
  // runs are counted and reported, and every job must still have run.
  if (side(system) === 'bullmq' && count !== ctx.jobs) {
    const distinct = new Set(rs.flatMap((r) => r.ids)).size;
    if (distinct !== ctx.jobs) throw new Error(`${system} with ${workers} workers ran ${distinct} distinct jobs, not ${ctx.jobs}`);
    process.stderr.write(`note: ${system} with ${workers} workers ran ${count - distinct} job(s) twice (their locks lapsed: BullMQ's at-least-once redelivery)\n`);
  } else if (count !== ctx.jobs) throw new Error(`${system} with ${workers} workers handled ${count} jobs, not ${ctx.jobs}`);
  const ms = Math.max(...rs.map((r) => r.lastAt)) - t0;
  const workerCpu = rs.reduce((n, r) => n + r.cpuUs, 0);
  return { perSecond: (ctx.jobs / ms) * 1000, cpuUsPerTask: workerCpu / ctx.jobs, redisUsPerTask: redisCpu / ctx.jobs };
}

async function main() {
  const jobs = Number(option('--jobs', process.env.N || '20000'));
  const rounds = Number(option('--rounds', '3'));
  const concurrency = Number(option('--concurrency', '16'));
  // evloop-tasks' default --max-runs.
  const keep = Number(option('--keep', '10000'));
  const workerCounts = option('--workers', '1,4').split(',').map(Number);
  const systems = option('--systems', 'evloop,evloop-records,bullmq,bullmq-keep').split(',');
  const Redis = require('ioredis');
  const { startRedisServer } = require('../test/helpers/redis-server');
  const server = await startRedisServer();
  const redis = new Redis({ port: server.port, host: '127.0.0.1' });
  const ctx = { url: server.url, port: server.port, redis, redisPid: server.proc.pid, jobs, concurrency, keep, commandStats: process.argv.includes('--commandstats') };
  const results = {}; // row → system → samples
  const add = (row, system, r) => ((results[row] ??= {})[system] ??= []).push(r);
  const log = (row, system, r) => process.stderr.write(`  ${row.padEnd(34)} ${system.padEnd(14)} ${Math.round(r.perSecond)}/s\n`);
  try {
    for (let round = 0; round < rounds; round++) {
      process.stderr.write(`round ${round + 1}/${rounds}\n`);
      const order = round % 2 === 0 ? systems : [...systems].reverse();
      for (const system of order) {
        for (const w of workerCounts) {
          const e = await enqueue(system, ctx, 'bulk');
          const label = system === 'bullmq' ? 'bullmq-addBulk' : system;
          add('enqueue', label, e);
          log('enqueue', label, e);
          const d = await drain(system, ctx, w);
          const row = `drain, ${w} worker process${w === 1 ? '' : 'es'}`;
          add(row, system, d);
          log(row, system, d);
        }
        if (system === 'bullmq') {
          const e = await enqueue(system, ctx, 'add');
          add('enqueue', 'bullmq-add', e);
          log('enqueue', 'bullmq-add', e);
        }
      }
    }
  } finally {
    redis.disconnect();
    await server.stop();
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const pad = (s, n) => String(s).padStart(n);
  const version = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)[1];
  const bullVersion = require('bullmq/package.json').version;
  console.log(`redis-server ${version}, BullMQ ${bullVersion}, ${jobs} no-op jobs, ${concurrency} jobs at a time per worker process, ${rounds} rounds, medians`);
  console.log(`${'row'.padEnd(30)}${'system'.padEnd(16)}${pad('tasks/s', 10)}${pad('cpu us/task', 13)}${pad('redis us/task', 15)}${pad('vs BullMQ', 11)}`);
  const rows = ['enqueue', ...workerCounts.map((w) => `drain, ${w} worker process${w === 1 ? '' : 'es'}`)];
  for (const row of rows) {
    const bySystem = results[row];
    const baseKey = bySystem['bullmq'] ? 'bullmq' : 'bullmq-addBulk';
    const base = bySystem[baseKey] ? median(bySystem[baseKey].map((r) => r.perSecond)) : null;
    for (const [system, rs] of Object.entries(bySystem)) {
      const ps = median(rs.map((r) => r.perSecond));
      const cpu = median(rs.map((r) => r.cpuUsPerTask));
      const rcpu = median(rs.map((r) => r.redisUsPerTask)).toFixed(1);
      const vs = (other, goal) => {
        const o = bySystem[other] ? median(bySystem[other].map((r) => r.perSecond)) : null;
        if (o) record(`Redis queue ${row}: ${system} / ${other}`, ps / o, goal, `redis CPU ${rcpu} us/task`);
      };
      if (system === 'evloop') vs(baseKey, 1);
      if (system === 'evloop-records') vs('bullmq-keep', 1);
      console.log(`${row.padEnd(30)}${system.padEnd(16)}${pad(Math.round(ps).toLocaleString('en-US'), 10)}${pad(cpu.toFixed(1), 13)}${pad(rcpu, 15)}${pad(base ? (ps / base).toFixed(2) + 'x' : '-', 11)}`);
    }
  }
}

if (process.argv[2] === '--child') {
  child().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
