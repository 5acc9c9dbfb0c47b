'use strict';
// MemoryQueue runs the shared Queue contract, as every queue implementation does.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { MemoryQueue, run } = require('evloop');
const { runQueueContract } = require('./queue-contract');

runQueueContract('MemoryQueue', (options) => new MemoryQueue(options));

test('MemoryQueue: options are checked', () => {
  assert.throws(() => new MemoryQueue({ visibilityTimeout: 0 }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => new MemoryQueue({ visibilityTimeout: -1 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new MemoryQueue({ maxDeadLetters: 1.5 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new MemoryQueue(null), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('MemoryQueue: dead letters are bounded, oldest dropped first', () =>
  run(async () => {
    const q = new MemoryQueue({ maxDeadLetters: 2 });
    for (const id of ['a', 'b', 'c']) {
      await q.enqueue({ runId: id, task: 't' }, { key: id });
      const d = await q.consume();
      await d.deadLetter({ status: -999, statusMessage: 'unhandled error' });
    }
    assert.deepEqual((await q.deadLetters()).map((d) => d.message.runId), ['b', 'c']);
    await q.close();
  }));
