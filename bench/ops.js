'use strict';
// Task operations end to end on the embedded queue: startRun → MemoryQueue → a worker runs the
// (no-op) handler under its time-out → ack → the run recorded as finished. Tasks/s and the cost
// per task in µs, for 1 and 4 workers, next to a bare createTask + await of the same handler.
// `node bench/ops.js` (logging at warn: an info line per run would measure the logger).
const { run, createTaskOps, createLogger, getRunningLoop } = require('..');

const N = Number(process.env.N || 20_000);
const ROUNDS = 3;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** ms for N runs through createTaskOps with `workers` consumers, enqueued as fast as startRun answers. */
function throughOps(workers) {
  return run(async () => {
    const loop = getRunningLoop();
    const ops = createTaskOps({
      tasks: { noop: { run: () => 0 } },
      workers,
      logger: createLogger({ level: 'warn' }),
      maxFinishedRuns: N,
    });
    let finished = 0;
    const allDone = loop.createFuture();
    ops.onChange((c) => {
      if (c.kind === 'run' && ops.registry.get(c.runId)?.endedAt !== undefined && ++finished === N) allDone.setResult();
    });
    ops.start();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await ops.startRun('noop');
    await allDone;
    const ms = performance.now() - t0;
    await ops.stop();
    return ms;
  });
}

/** ms for N bare tasks running the same handler one after another (what the loop itself costs). */
function bareTasks() {
  return run(async () => {
    const loop = getRunningLoop();
    const handler = () => 0;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await loop.createTask(() => handler());
    return performance.now() - t0;
  });
}

(async () => {
  const rows = [];
  const cases = [
    ['bare createTask + await', bareTasks],
    ['createTaskOps, 1 worker', () => throughOps(1)],
    ['createTaskOps, 4 workers', () => throughOps(4)],
  ];
  const times = new Map(cases.map(([name]) => [name, []]));
  // Interleaved rounds, so that machine noise hits every case alike.
  for (let r = 0; r < ROUNDS; r++) for (const [name, fn] of cases) times.get(name).push(await fn());
  const bare = median(times.get('bare createTask + await')) / N;
  for (const [name] of cases) {
    const ms = median(times.get(name));
    const perTask = (ms / N) * 1000;
    rows.push({ case: name, 'tasks/s': Math.round(N / (ms / 1000)), 'µs/task': perTask.toFixed(1), 'over bare, µs': (perTask - bare * 1000).toFixed(1) });
  }
  console.log(`task operations, ${N} no-op runs end to end (median of ${ROUNDS})`);
  console.table(rows);
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
