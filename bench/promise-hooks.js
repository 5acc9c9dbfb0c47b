'use strict';
// What evloop's promise hooks cost code that is not evloop's: the same plain-promise work (a
// chain of awaits, a Promise.all of resolved thens) timed with no evloop loop open and with one
// open, alternating, in one process. Medians of 7 rounds after a warm-up.
const { newEventLoop } = require('evloop');

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

(async () => {
  for (let i = 0; i < 3; i++) await time();
  const off = [];
  const on = [];
  for (let r = 0; r < 7; r++) {
    off.push(await time());
    const loop = newEventLoop();
    on.push(await time());
    loop.close();
  }
  const a = median(off);
  const b = median(on);
  console.log('plain-promise work, same process          ms (median of 7)');
  console.log(`  no evloop loop open                     ${a.toFixed(1)}`);
  console.log(`  an evloop loop open (promise hooks on)   ${b.toFixed(1)}   slowdown ${((b / a - 1) * 100).toFixed(1)}%  (goal ≤ 5%)`);
})();
