'use strict';
const { record } = require('./summary');
// What evloop's promise hooks cost code that is not evloop's: the same plain-promise work (a
// chain of awaits, a Promise.all of resolved thens) timed with no evloop loop open, with a loop
// open and no async-function task pending, and with one async-function task pending (the hooks
// are installed only then), alternating, in one process. Medians of 7 rounds after a warm-up.
const { newEventLoop, sleep } = require('evloop');

async function work() {
  let x = 0;
  for (let i = 0; i < 300000; i++) x += await Promise.resolve(i);
  await Promise.all(Array.from({ length: 100000 }, (_, i) => Promise.resolve(i).then((v) => v + 1)));
  return x;
}

async function time() {
  const t = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const settle = () => new Promise((r) => setImmediate(r));

(async () => {
  for (let i = 0; i < 3; i++) await time();
  const off = [];
  const open = [];
  const pending = [];
  for (let r = 0; r < 7; r++) {
    off.push(await time());
    const loop = newEventLoop();
    await loop.runUntilComplete(loop.createTask(function* () { yield* sleep(0); }));
    await settle();
    open.push(await time());
    const task = loop.createTask(async () => { await sleep(3600e3); });
    await loop.runUntilComplete(loop.createTask(function* () { yield; }));
    pending.push(await time());
    task.cancel();
    loop.close();
    await settle();
  }
  const a = median(off);
  const b = median(open);
  const c = median(pending);
  const pct = (x) => `${((x / a - 1) * 100).toFixed(1)}%`;
  console.log('plain-promise work, same process                        ms (median of 7)  slowdown');
  console.log(`  no evloop loop open                                    ${a.toFixed(1)}`);
  console.log(`  a loop open, no async-function task pending            ${b.toFixed(1)}   ${pct(b)}  (goal ≤ 5%)`);
  console.log(`  a loop open, one async-function task pending (hooks)   ${c.toFixed(1)}   ${pct(c)}`);
  record('plain-promise code, loop open / no loop (speed; goal: slowdown <= 5%)', a / b, 0.95, `with an async-function task pending: ${pct(c)}`);
})();
