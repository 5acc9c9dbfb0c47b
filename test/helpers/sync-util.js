'use strict';
// Shared by the sync and queue suites: one loop pass (asyncio's `await asyncio.sleep(0)`), a task
// made from a body in either coroutine style, and the running loop.
const { sleep, getRunningLoop } = require('evloop');

/** Lets every callback that is ready now run (one loop pass), in either style: `yield* tick()` / `await tick()`. */
function tick() {
  return sleep(0);
}

/** `n` loop passes. */
function* ticksGen(n) {
  for (let i = 0; i < n; i++) yield* sleep(0);
}
async function ticks(n) {
  for (let i = 0; i < n; i++) await sleep(0);
}

/**
 * Loop passes until `predicate()` holds (at most `max`): async-function tasks take a few more
 * microtask hops than generator tasks to get to the same point, so a test that needs "every task
 * is waiting now" counts passes instead of assuming asyncio's exact interleaving.
 */
async function until(predicate, max = 100) {
  for (let i = 0; i < max; i++) {
    if (predicate()) return;
    await sleep(0);
  }
  throw new Error(`condition not reached after ${max} loop passes: ${predicate}`);
}

function loop() {
  return getRunningLoop();
}

/** createTask from a generator function or an async function (called with no arguments). */
function spawn(fn) {
  return getRunningLoop().createTask(fn);
}

module.exports = { tick, ticks, ticksGen, until, loop, spawn };
