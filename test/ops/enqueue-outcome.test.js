'use strict';
// An enqueue whose answer is lost (the connection to Redis dropped after the command was sent):
// the message may be queued, so the run's record must stay — a shared store that dropped it
// would have the worker that takes the message find no record and drop the run unrun (seen in
// test/integration/redis-multiprocess.test.js across a Redis restart). A definite refusal
// (a duplicate key) still forgets the record.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { run, createTaskOps, getRunningLoop, MemoryQueue, RedisConnectionError } = require('evloop');
const { captureLogger } = require('../helpers/ops-util');

/** A queue whose enqueue happens, but whose answer is "connection lost" while `lose` is set. */
class LostReplyQueue extends MemoryQueue {
  lose = false;
  enqueue(message, options) {
    const done = super.enqueue(message, options);
    if (!this.lose) return done;
    const out = getRunningLoop().createFuture();
    done.addDoneCallback(() => out.setException(new RedisConnectionError('Redis connection lost: the server closed it with 1 reply owed', 'ERR_REDIS_CONNECTION_LOST')));
    return out;
  }
}

test('an enqueue with its answer lost keeps the run record its message names; a definite refusal still forgets the record', () =>
  run(async () => {
    const queue = new LostReplyQueue();
    const { logger, text } = captureLogger('warn');
    const ops = createTaskOps({ tasks: { t: { run: () => 1 } }, queue, workers: 0, logger });
    ops.start();
    queue.lose = true;
    await assert.rejects(Promise.resolve(ops.startRun('t', { key: 'k' })), { code: 'ERR_REDIS_CONNECTION_LOST' });
    const { runs, total } = await ops.listRuns({ limit: 10, offset: 0 });
    assert.equal(total, 1, 'the record is kept');
    assert.match(text(), /WARN {2}enqueue outcome unknown, the run record is kept .*ERR_REDIS_CONNECTION_LOST/);
    queue.lose = false;
    // A definite refusal: the key is held by the run above; the refused run's record goes.
    await assert.rejects(Promise.resolve(ops.startRun('t', { key: 'k' })), { code: 'ERR_DUPLICATE_KEY' });
    assert.equal((await ops.listRuns({ limit: 10, offset: 0 })).total, 1);
    await ops.stop();
    // The message that was queued is that run's: a worker taking it finds the record.
    const delivery = await queue.consume();
    assert.equal(delivery.message.runId, runs[0].id);
    assert.equal(await delivery.ack(), true);
    await queue.close();
  }));
