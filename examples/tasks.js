'use strict';
// A tasks file for `evloop-tasks --tasks examples/tasks.js` and `npm run demo`: a template to
// copy. Each task shows one way a run can end; the status code of its failure decides what the
// workers do next (docs/tasks-ops.md):
//   resize       succeeds (a generator handler, cancellable at every yield*)         →  0
//   fetchFeed    the first attempt meets ECONNRESET (transient), the retry succeeds   → -104, then 0
//   sendReport   "retry later" twice (retryDelay, doubling), then succeeds             → -970, -970, 0
//   slowExport   runs past its timeout every time: cancelled, retried once, dead letter → -110
//   chargeCard   refuses for good: not repeatable, dead letter at once               → -900
//   buggy        a plain bug: unhandled, dead letter at once                         → -999
const { sleep, RetryLaterError, NotRepeatableError } = require('..');

const tasks = {
  resize: {
    timeout: 5000,
    *run(params, ctx) {
      ctx.log.info('resizing', `to ${params.width}px`);
      yield* sleep(200 + Math.random() * 300);
      return { id: params.id, width: params.width };
    },
  },

  fetchFeed: {
    retries: 3,
    async run(params, ctx) {
      await sleep(100);
      if (ctx.attempt === 1) {
        // What a socket error looks like: Node's errno code; the worker maps it to -104.
        throw Object.assign(new Error(`connection to ${params.url} reset`), { code: 'ECONNRESET' });
      }
      return { items: 3 };
    },
  },

  sendReport: {
    retryDelay: 500,
    async run(_params, ctx) {
      // fetch(url, { signal: ctx.signal }) would stop when the run is cancelled.
      if (ctx.attempt < 3) throw new RetryLaterError('the mail server asks us to come back later');
      return { sent: true };
    },
  },

  slowExport: {
    timeout: 300,
    retries: 1,
    *run() {
      yield* sleep(2000); // always past its timeout: cancelled here, status -110
      return 'never';
    },
  },

  chargeCard: {
    async run(params) {
      throw new NotRepeatableError(`card declined for order ${params.order}`);
    },
  },

  buggy: {
    async run(params) {
      return params.missing.field; // TypeError: unhandled (-999)
    },
  },
};

// What is due, and how often. A key names one piece of work: while a run with that key is queued
// or running, the queue refuses the same key again, so a slow run is never doubled by the next
// scan. Deciding what is due is the tasks file's part: here one run per task per period, and
// the period is remembered so that a finished run is not started again within it.
const schedule = [
  { every: 2000, item: (n) => ({ task: 'resize', key: `image:${n}`, params: { id: n, width: 640 } }) },
  { every: 5000, item: (n) => ({ task: 'fetchFeed', key: `feed:${n}`, params: { url: 'https://example.org/feed' } }) },
  { every: 10_000, item: (n) => ({ task: 'sendReport', key: `report:${n}` }) },
  { every: 15_000, item: (n) => ({ task: 'slowExport', key: `export:${n}` }) },
  { every: 12_000, item: (n) => ({ task: 'chargeCard', key: `order:${n}`, params: { order: n } }) },
  { every: 20_000, item: (n) => ({ task: 'buggy', key: `bug:${n}`, params: {} }) },
];
const lastPeriod = new Map();

// Called every --interval ms with Date.now(); returns [{ task, key, params? }].
function due(now) {
  const items = [];
  for (const entry of schedule) {
    const period = Math.floor(now / entry.every);
    if (lastPeriod.get(entry) === period) continue;
    lastPeriod.set(entry, period);
    items.push(entry.item(period));
  }
  return items;
}

module.exports = { tasks, due };
