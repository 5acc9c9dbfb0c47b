'use strict';
// `npm run demo`: the main job in one process — the REST API and dashboard, a scanner and four
// workers on the embedded queue — running examples/tasks.js, whose tasks succeed, retry, time out
// and end as dead letters. Open the printed URL; Ctrl-C stops it gracefully.
// `npm run demo -- --redis redis://127.0.0.1:6379 [--queue NAME]`: the same on Redis — the queue,
// the scanner lease and the run records — so several demos on one Redis share one queue (start
// two: each dashboard shows every run, whichever process ran it).
// The same as `evloop-tasks --tasks examples/tasks.js [--redis URL]`, written out as a template
// for embedding.
const { parseArgs } = require('node:util');
const evloop = require('..');
const { run, Event, createTaskOps, createLogger, RedisQueue, RedisLease, RedisRunStore } = evloop;
const { tasks, due } = require('./tasks');

const { values: args } = parseArgs({ options: { redis: { type: 'string' }, queue: { type: 'string', default: 'demo' } } });

run(async () => {
  const logger = createLogger({ level: process.env.LOG_LEVEL || 'info' });
  let shared = {};
  if (args.redis !== undefined) {
    // One client for the three: the queue's. The lease lasts three scan intervals.
    const queue = new RedisQueue({ url: args.redis, name: args.queue });
    shared = { queue, lease: new RedisLease(queue, { ttl: 3000 }), store: new RedisRunStore({ client: queue.client, name: args.queue }) };
  }
  const ops = createTaskOps({ tasks, due, workers: 4, interval: 1000, logger, ...shared });
  ops.start();

  if (typeof evloop.startApiServer !== 'function') {
    console.error('This build has no REST API (lib/ops/api); try `evloop-tasks --tasks examples/tasks.js --no-api`.');
    await ops.stop();
    await shared.store?.close();
    await shared.queue?.close();
    process.exitCode = 1;
    return;
  }
  const api = await evloop.startApiServer(ops, { host: '127.0.0.1', port: Number(process.env.PORT || 0), logger });
  console.log(`listening on ${api.url}`);
  if (args.redis !== undefined) console.log(`on Redis ${args.redis}, queue ${args.queue}: every demo on it shares the queue and the runs`);
  console.log(`dashboard: ${api.url}/`);
  console.log('try:');
  console.log(`  curl ${api.url}/health`);
  console.log(`  curl '${api.url}/runs?category=retryLater&limit=5'`);
  console.log(`  curl -X POST -H 'Content-Type: application/json' -d '{"params":{"id":7,"width":320},"key":"image:7"}' ${api.url}/tasks/resize/runs`);
  console.log(`  curl ${api.url}/queue`);
  console.log('Ctrl-C stops it (running tasks finish or go back to the queue).');

  // SIGINT / SIGTERM end the wait; the stop below is graceful.
  const stop = new Event();
  let signal;
  const onSignal = (name) => {
    signal = name;
    stop.set();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await stop.wait();
  logger.info('stopping', `on ${signal}`);
  await api.close();
  await ops.stop({ timeout: 5000 });
  // A queue and a store passed in are the caller's to close (the store first: it uses the queue's client).
  await shared.store?.close();
  await shared.queue?.close();
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  console.log('stopped');
}).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
