'use strict';
// `npm run demo`: the main job in one process — the REST API and dashboard, a scanner and four
// workers on the embedded queue — running examples/tasks.js, whose tasks succeed, retry, time out
// and end as dead letters. Open the printed URL; Ctrl-C stops it gracefully.
// The same as `evloop-tasks --tasks examples/tasks.js`, written out as a template for embedding.
const evloop = require('..');
const { run, Event, createTaskOps, createLogger } = evloop;
const { tasks, due } = require('./tasks');

run(async () => {
  const logger = createLogger({ level: process.env.LOG_LEVEL || 'info' });
  const ops = createTaskOps({ tasks, due, workers: 4, interval: 1000, logger });
  ops.start();

  if (typeof evloop.startApiServer !== 'function') {
    console.error('This build has no REST API (lib/ops/api); try `evloop-tasks --tasks examples/tasks.js --no-api`.');
    await ops.stop();
    process.exitCode = 1;
    return;
  }
  const api = await evloop.startApiServer(ops, { host: '127.0.0.1', port: Number(process.env.PORT || 0), logger });
  console.log(`listening on ${api.url}`);
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
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  console.log('stopped');
}).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
