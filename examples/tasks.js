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

// Called every --interval ms. Keys name the work: while a run with a key is queued or running,
// the same key is not queued again, so a slow run is never doubled by the next scan. Here each
// key changes every few seconds, so each kind of task comes back regularly.
function due(now) {
  const every = (ms) => Math.floor(now / ms);
  return [
    { task: 'resize', key: `image:${every(2000)}`, params: { id: every(2000), width: 640 } },
    { task: 'fetchFeed', key: `feed:${every(5000)}`, params: { url: 'https://example.org/feed' } },
    { task: 'sendReport', key: `report:${every(10_000)}` },
    { task: 'slowExport', key: `export:${every(15_000)}` },
    { task: 'chargeCard', key: `order:${every(12_000)}`, params: { order: every(12_000) } },
    { task: 'buggy', key: `bug:${every(20_000)}`, params: {} },
  ];
}

module.exports = { tasks, due };
