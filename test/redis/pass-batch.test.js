'use strict';
// PassBatch (the Redis layer's calls of one loop pass) against a real redis-server: what is added
// in one pass goes out at its end in calls of at most `max` items, each caller gets its own item's
// answer or failure, a failed call fails (or hands to retry) every item of it, and flush() sends
// at once.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, createRedisClient, getRunningLoop, RedisError } = require('evloop');
const { PassBatch } = require('evloop/internal');
const { startRedisServer } = require('../helpers/redis-server');

let server;
test.before(async () => {
  server = await startRedisServer();
});
test.after(() => server.stop());

// One call: the items come back as the script's answers; an item 'bad' answers an error reply in
// the array, and a call holding 'boom' fails as a whole.
const ECHO = `
local out = {}
for i, v in ipairs(ARGV) do
  if v == 'boom' then return redis.error_reply('BOOM the whole call') end
  if v == 'bad' then out[i] = redis.error_reply('BAD ' .. i) else out[i] = v end
end
return out`;

/** Each Future's value, or its failure's code. */
async function outcomes(futures) {
  return (await Promise.allSettled(futures)).map((s) => (s.status === 'fulfilled' ? s.value : s.reason.code));
}

function batchOn(client, calls, extra = {}) {
  const script = client.defineScript(ECHO);
  return new PassBatch({
    max: 3,
    send: (items) => {
      calls.push(items.slice());
      return script.run([], items);
    },
    failure: (err) => (err === null ? new Error('closed') : err),
    answer: (item, reply) => {
      if (reply instanceof RedisError) throw reply;
      return `${item}:${reply}`;
    },
    ...extra,
  });
}

/** fn({ client, calls, loop, batch }) in a loop, with a client of its own (closed after). */
function withBatch(fn) {
  return run(async () => {
    const client = createRedisClient(server.url);
    const calls = [];
    try {
      await fn({ client, calls, loop: getRunningLoop(), batch: batchOn(client, calls) });
    } finally {
      await client.close();
    }
  });
}

test('the items of one pass go out together at its end, at most max a call, each answered on its own', async () => {
  await withBatch(async ({ calls, loop, batch }) => {
    const outs = ['a', 'b', 'bad', 'c', 'd', 'e', 'f'].map((x) => batch.add(loop, x));
    assert.equal(calls.length, 0, 'nothing is sent before the pass ends');
    const got = await outcomes(outs);
    assert.deepEqual(calls, [['a', 'b', 'bad'], ['c', 'd', 'e'], ['f']]);
    assert.deepEqual(got, ['a:a', 'b:b', 'BAD', 'c:c', 'd:d', 'e:e', 'f:f']);
    // A later pass is a new call.
    assert.equal(await batch.add(loop, 'g'), 'g:g');
    assert.equal(calls.length, 4);
  });
});

test('a call that fails fails each of its items (or retry takes them over); other calls are not touched', async () => {
  await withBatch(async ({ client, calls, loop, batch }) => {
    const outs = ['a', 'boom', 'b', 'c'].map((x) => batch.add(loop, x));
    assert.deepEqual(await outcomes(outs), ['BOOM', 'BOOM', 'BOOM', 'c:c']);

    // retry: the failed call's items are added again (without 'boom'), their Futures kept.
    const retried = [];
    const again = batchOn(client, calls, {
      retry: (failed, err) => {
        retried.push(err.code);
        again.readd(loop, failed.filter((b) => b.item !== 'boom'));
        for (const b of failed) if (b.item === 'boom') b.out.setException(err);
        return true;
      },
    });
    const got = await outcomes(['x', 'boom', 'y'].map((v) => again.add(loop, v)));
    assert.deepEqual(retried, ['BOOM']);
    assert.deepEqual(got, ['x:x', 'BOOM', 'y:y']);

    // send throwing: each item of that call fails with it.
    const thrown = new PassBatch({ max: 10, send: () => { throw new Error('no client'); }, failure: (e) => e, answer: () => 1 });
    await assert.rejects(thrown.add(loop, 'z'), /no client/);
  });
});

test('flush() sends what waits at once; a call cancelled fails its items with failure(null)', async () => {
  await withBatch(async ({ client, calls, loop, batch }) => {
    const out = batch.add(loop, 'now');
    batch.flush();
    assert.deepEqual(calls, [['now']]);
    assert.equal(await out, 'now:now');
    const script = client.defineScript(ECHO);
    const cancelling = new PassBatch({
      max: 10,
      send: (items) => {
        const f = script.run([], items);
        f.cancel();
        return f;
      },
      failure: (err) => (err === null ? new Error('call cancelled') : err),
      answer: () => 1,
    });
    await assert.rejects(cancelling.add(loop, 'c'), /call cancelled/);
  });
});
