'use strict';
const { record } = require('./summary');
// What evloop's async-function tasks cost code that is not evloop's: the same plain-promise work
// (a chain of awaits, a Promise.all of resolved thens) timed with no evloop loop open, with a loop
// open and no async-function task pending, and with one async-function task pending,
// taking turns at going first, in one process, as process CPU time (the machines are shared).
// The slowdown is the median over 21 rounds of each round's own ratio: the VM's speed drifts over
// seconds by more than the 5% being judged, and the three phases of one round run within a
// fraction of a second of each other, so a round's ratio cancels most of the drift that a ratio
// of separate medians keeps. With the 'hooks' carrier (EVLOOP_ASYNC_CONTEXT=hooks; the default
// where V8's embedder data is not evloop's to use), a pending task means V8 promise hooks, which
// slow every promise in the process; with 'embedder-data' (Node 20's default) nothing is hooked.
const { newEventLoop, sleep } = require('evloop');
const { asyncContextCarrier } = require('evloop/internal');

async function work() {
  let x = 0;
  for (let i = 0; i < 300000; i++) x += await Promise.resolve(i);
  await Promise.all(Array.from({ length: 100000 }, (_, i) => Promise.resolve(i).then((v) => v + 1)));
  return x;
}

// Every timing starts from a fully collected heap: otherwise a phase pays for collecting what the
// phase before it left, and a major GC landing in one 70 ms timing and not the next is ±10% alone.
require('v8').setFlagsFromString('--expose-gc');
const collectGarbage = require('vm').runInNewContext('gc');

async function time() {
  collectGarbage();
  const t = process.cpuUsage();
  await work();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const ROUNDS = 21;
const settle = () => new Promise((r) => setImmediate(r));

(async () => {
  for (let i = 0; i < 3; i++) await time();
  const off = [];
  const open = [];
  const pending = [];
  // Each phase is set up and torn down around its own timing, and the phases take turns at going
  // first: in a fixed order, whatever one phase leaves behind (its setup's garbage, to be
  // collected later) would always land in the same next phase's timing.
  const phases = [
    async () => off.push(await time()),
    async () => {
      const loop = newEventLoop();
      await loop.runUntilComplete(loop.createTask(function* () { yield* sleep(0); }));
      await settle();
      open.push(await time());
      loop.close();
    },
    async () => {
      const loop = newEventLoop();
      const task = loop.createTask(async () => { await sleep(3600e3); });
      await loop.runUntilComplete(loop.createTask(function* () { yield; }));
      pending.push(await time());
      task.cancel();
      loop.close();
    },
  ];
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < phases.length; k++) {
      await phases[(r + k) % phases.length]();
      await settle();
    }
  }
  const slowdown = (phase) => median(phase.map((ms, r) => ms / off[r]));
  const openSlowdown = slowdown(open);
  const pendingSlowdown = slowdown(pending);
  const pct = (x) => `${((x - 1) * 100).toFixed(1)}%`;
  console.log(`plain-promise work, same process (carrier: ${asyncContextCarrier})  CPU ms (median of ${ROUNDS})  slowdown (median of the rounds' own ratios)`);
  console.log(`  no evloop loop open                                    ${median(off).toFixed(1)}`);
  console.log(`  a loop open, no async-function task pending            ${median(open).toFixed(1)}   ${pct(openSlowdown)}  (goal ≤ 5%)`);
  console.log(`  a loop open, one async-function task pending          ${median(pending).toFixed(1)}   ${pct(pendingSlowdown)}  (goal ≤ 5%)`);
  record(`plain-promise code, loop open / no loop (speed; goal: slowdown <= 5%), ${asyncContextCarrier} carrier`, 1 / openSlowdown, 0.95);
  record(`plain-promise code, async-function task pending / no loop (speed), ${asyncContextCarrier} carrier`, 1 / pendingSlowdown, 0.95);
})();
