'use strict';
// The pool shapes bench/pool.js times and bench/pool-callgrind.js counts (one copy, so both
// measure the same thing): the least a pool does — a free list and a FIFO of waiters, no
// bookkeeping — and one worker's use(async fn) on an idle connection against the same written out.

/** A bare pool of `max` resources from `makeResource`; `settled(value)` / `waiting(waiters)` make the awaitables. */
function barePool(max, makeResource, settled, waiting) {
  const idle = Array.from({ length: max }, makeResource);
  const waiters = [];
  return {
    acquire: () => (waiters.length === 0 && idle.length !== 0 ? settled(idle.pop()) : waiting(waiters)),
    release(r) {
      const next = waiters.shift();
      if (next !== undefined) next(r);
      else idle.push(r);
    },
  };
}

/** The awaitables of a bare pool on evloop Futures of `loop`. */
function futureAwaitables(loop) {
  return {
    settled(v) {
      const f = loop.createFuture();
      f.setResult(v);
      return f;
    },
    waiting(waiters) {
      const f = loop.createFuture();
      waiters.push((v) => f.setResult(v));
      return f;
    },
  };
}

// The "request" use(fn) runs: one microtask hop, then the connection's id.
const work = async (r) => {
  await null;
  return r.id;
};

/** `n` rounds on one idle connection: `await pool.use(work)` ('use'), or acquire / await work / release written out. */
async function idleUseRounds(pool, style, n) {
  for (let i = 0; i < n; i++) {
    if (style === 'use') {
      await pool.use(work);
    } else {
      const r = await pool.acquire();
      try {
        await work(r);
      } finally {
        pool.release(r);
      }
    }
  }
}

module.exports = { barePool, futureAwaitables, idleUseRounds };
